/*
 * staff_actions.c — a batch's further actions on the dashboard: send at a
 * set time (entered in JST, stored in UTC, as `tayori batch send --at`),
 * remind the unopened (督促, remind_batch as `tayori batch remind`),
 * withdraw the batch (batches_withdraw: its links and codes stop working
 * at once), and unlock a resident's notice (notice_unlock).  Each is
 * behind its permission (send, remind, approve, send), a confirmation page
 * (GET shows it; only a POST acts), the CSRF check (a refusal audited) and
 * an audit record written by the library call in the same transaction as
 * the change; a refusal for the batch's state is audited too
 * (batch.ACTION_refused) and answered with the confirmation page and why.
 * Every handler runs with the store lock held.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/batches.h"
#include "lib/log.h"
#include "lib/remind.h"
#include "portal/page_staff_actions.h"
#include "portal/staff_int.h"

/* What the path names: "/remind/4", "/unlock/4/17". */
struct act {
	const char *action, *what;
	uint32_t perm;
	int bad;       /* the path's numbers do not read */
	uint64_t id;
	uint32_t seq;
	char target[40];
};

static void act_of(const struct http_request *req, struct act *a)
{
	static const struct {
		const char *prefix, *action, *what;
		uint32_t perm;
	} acts[] = {
		{ "/sendat/", "sendat", "送信", PERM_SEND },
		{ "/remind/", "remind", "督促", PERM_REMIND },
		{ "/withdraw/", "withdraw", "取り下げ（承認）", PERM_APPROVE },
		{ "/unlock/", "unlock", "ロック解除（送信）", PERM_SEND },
	};
	char idpart[24];
	const char *slash = strchr(req->subpath, '/');
	size_t len = slash != NULL ? (size_t)(slash - req->subpath) : strlen(req->subpath);

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strncmp(req->path, acts[i].prefix, strlen(acts[i].prefix)) == 0) {
			a->action = acts[i].action, a->what = acts[i].what;
			a->perm = acts[i].perm;
		}
	if (a->action == NULL)
		a->action = "unlock", a->what = "ロック解除（送信）", a->perm = PERM_SEND;
	a->bad = len >= sizeof(idpart);
	if (!a->bad) {
		memcpy(idpart, req->subpath, len);
		idpart[len] = '\0';
		a->bad = staff_batch_id(idpart, &a->id) < 0;
	}
	if (!a->bad && strcmp(a->action, "unlock") == 0) {
		uint64_t seq = 0;
		a->bad = slash == NULL || staff_batch_id(slash + 1, &seq) < 0 || seq > UINT32_MAX;
		a->seq = (uint32_t)seq;
	} else if (slash != NULL) {
		a->bad = 1;
	}
	if (a->bad)
		str_copy(a->target, "batch:?", sizeof(a->target));
	else
		str_fmt(a->target, sizeof(a->target), "batch:%llu", (unsigned long long)a->id);
}

static int not_found(struct http_response *resp, const struct staff_who *w, const char *title,
		     const char *text)
{
	resp->status = 404;
	return page_staff_note(&resp->body, &w->u, title, text, "/batches", "バッチ一覧に戻る") < 0
		       ? -1 : 1;
}

/* The batch, its residents' statuses (*rows, caller frees) and, for an
 * unlock, the row: 0 found, 1 answered (404), -1 error. */
static int act_load(struct staff_ctx *sc, struct http_response *resp, const struct staff_who *w,
		    const struct act *a, struct batch_summary *bs, struct notice_status **rows,
		    size_t *n, const struct notice_status **row)
{
	struct error e = { { 0 }, 0 };
	int r = a->bad ? 1 : batches_get(sc->st, a->id, bs, NULL, &e);

	*rows = NULL, *n = 0, *row = NULL;
	if (r == 0 && strcmp(bs->status, BATCH_STATUS_STORING) == 0)
		r = 1;
	if (r == 0 && notice_statuses(sc->st, a->id, now_utc(), rows, n, &e) < 0)
		r = -1;
	if (r < 0) {
		log_err("event=staff_action_failed action=%s reason=\"%s\"", a->action, e.msg);
		return -1;
	}
	if (r == 1)
		return not_found(resp, w, "バッチが見つかりません", "指定されたバッチはありません。");
	for (size_t i = 0; i < *n; i++)
		if ((*rows)[i].seq == a->seq)
			*row = &(*rows)[i];
	if (strcmp(a->action, "unlock") == 0 && *row == NULL)
		return not_found(resp, w, "区民が見つかりません",
				 "このバッチに、指定された行の区民はいません。");
	return 0;
}

static size_t unopened(const struct notice_status *rows, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += strcmp(rows[i].state, "sent") == 0;
	return c;
}

int staff_h_act_confirm(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct batch_summary bs;
	struct notice_status *rows;
	const struct notice_status *row;
	struct act a;
	struct page_staff_act pa;
	size_t n;
	int r;

	act_of(req, &a);
	r = staff_guard(sc, req, resp, a.perm, a.what, a.target, &w);
	if (r != 0 || (r = act_load(sc, resp, &w, &a, &bs, &rows, &n, &row)) != 0)
		return r < 0 ? -1 : 0;
	pa = (struct page_staff_act){ a.action, "", 0, a.seq, row ? row->key : "",
				      unopened(rows, n), "" };
	r = page_staff_act_confirm(&resp->body, &w.u, &bs, &pa);
	free(rows);
	return r;
}

/* Refused for the batch's state (or the resident's): audited, the
 * confirmation page again with why (409). */
static int refused(struct staff_ctx *sc, const struct http_request *req,
		   struct http_response *resp, const struct staff_who *w,
		   const struct batch_summary *bs, struct page_staff_act *pa, const char *reason,
		   const char *why)
{
	char detail[64];

	str_fmt(detail, sizeof(detail), "reason=%s", reason);
	if (strcmp(pa->action, "unlock") == 0)
		str_fmt(detail, sizeof(detail), "reason=%s seq=%u", reason, pa->seq);
	staff_batch_refused_audit(sc, req, w, bs->id, pa->action, detail);
	resp->status = 409;
	pa->error = why;
	return page_staff_act_confirm(&resp->body, &w->u, bs, pa) < 0 ? -1 : 1;
}

static int done(struct http_response *resp, const struct staff_who *w,
		const struct batch_summary *bs, const char *title, const char *text)
{
	char back[64];

	str_fmt(back, sizeof(back), "/batches/%llu", (unsigned long long)bs->id);
	return page_staff_note(&resp->body, &w->u, title, text, back, "バッチの画面に戻る");
}

static int do_sendat(struct staff_ctx *sc, const struct http_request *req,
		     struct http_response *resp, const struct staff_who *w,
		     const struct batch_summary *bs, struct page_staff_act *pa)
{
	struct error e = { { 0 }, 0 };
	const char *at = http_form(req, "at"), *confirm = http_form(req, "confirm");
	char back[64];
	int64_t t = 0;

	if (strcmp(bs->status, BATCH_STATUS_APPROVED) != 0)
		return refused(sc, req, resp, w, bs, pa, "status",
			       "このバッチは承認済みではないため、送信を予約できません。");
	pa->at = at != NULL && strlen(at) <= 32 ? at : "";
	if (time_parse_jst(pa->at, &t) < 0) {
		resp->status = 400;
		pa->error = "送信開始日時は「2026-12-08 09:00」のように、年-月-日 時:分 で"
			    "入力してください（日本時間）。";
		return page_staff_act_confirm(&resp->body, &w->u, bs, pa) < 0 ? -1 : 1;
	}
	if (t < now_utc()) {
		resp->status = 400;
		pa->error = "送信開始日時が過ぎています。これから先の日時を入力してください。";
		return page_staff_act_confirm(&resp->body, &w->u, bs, pa) < 0 ? -1 : 1;
	}
	pa->at_utc = t;
	if (confirm == NULL || strcmp(confirm, "1") != 0)
		return page_staff_act_confirm(&resp->body, &w->u, bs, pa) < 0 ? -1 : 1;
	if (batches_send(sc->st, bs->id, t, w->actor, req->client_ip, &e) < 0) {
		log_err("event=staff_send_failed reason=\"%s\"", e.msg);
		return -1;
	}
	str_fmt(back, sizeof(back), "/batches/%llu", (unsigned long long)bs->id);
	return http_resp_redirect(resp, back) < 0 ? -1 : 1;
}

static int do_remind(struct staff_ctx *sc, const struct http_request *req,
		     struct http_response *resp, const struct staff_who *w,
		     const struct batch_summary *bs, struct page_staff_act *pa)
{
	struct error e = { { 0 }, 0 };
	char text[160];
	size_t n = 0;

	if (strcmp(bs->status, BATCH_STATUS_SENT) != 0)
		return refused(sc, req, resp, w, bs, pa, "status",
			       "まだ全員への送信が終わっていないため、督促できません。"
			       "送信が終わってからもう一度操作してください。");
	if (remind_batch(sc->st, bs->id, now_utc(), 0, w->actor, req->client_ip, &n, &e) < 0) {
		log_err("event=staff_remind_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (n == 0)
		return done(resp, w, bs, "督促する区民はいません",
			    "メールを送った区民は全員が開封済みです。督促のメールは送っていません。") < 0
			       ? -1 : 1;
	str_fmt(text, sizeof(text), "まだ開封していない区民 %zu 人に督促のメールを送ります。"
		"送信の状況はバッチの画面で確かめられます。", n);
	return done(resp, w, bs, "督促を受け付けました", text) < 0 ? -1 : 1;
}

static int do_withdraw(struct staff_ctx *sc, const struct http_request *req,
		       struct http_response *resp, const struct staff_who *w,
		       const struct batch_summary *bs, struct page_staff_act *pa)
{
	struct error e = { { 0 }, 0 };

	if (batches_withdraw(sc->st, bs->id, &w->s, w->actor, req->client_ip, &e) < 0) {
		if (e.temporary || strstr(e.msg, "cannot be withdrawn") == NULL) {
			log_err("event=staff_withdraw_failed reason=\"%s\"", e.msg);
			return -1;
		}
		return refused(sc, req, resp, w, bs, pa, "status",
			       "このバッチはすでに取り下げられているため、取り下げできません。");
	}
	return done(resp, w, bs, "バッチを取り下げました",
		    "このバッチのリンクと保護番号では、もう通知を開けません。"
		    "まだ送っていないメールも送りません。") < 0 ? -1 : 1;
}

static int do_unlock(struct staff_ctx *sc, const struct http_request *req,
		     struct http_response *resp, const struct staff_who *w,
		     const struct batch_summary *bs, struct page_staff_act *pa)
{
	struct error e = { { 0 }, 0 };
	char text[256];
	int r;

	if (strcmp(bs->status, BATCH_STATUS_WITHDRAWN) == 0)
		return refused(sc, req, resp, w, bs, pa, "status",
			       "取り下げたバッチの通知は、ロックを解除しても開けません。");
	r = notice_unlock(sc->st, bs->id, pa->seq, w->actor, req->client_ip, &e);
	if (r < 0) {
		log_err("event=staff_unlock_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 1)
		return refused(sc, req, resp, w, bs, pa, "not_locked",
			       "この区民の通知はロックされていません。");
	str_fmt(text, sizeof(text), "宛名番号 %s の区民は、もう一度通知を開けるようになりました。",
		pa->key);
	return done(resp, w, bs, "ロックを解除しました", text) < 0 ? -1 : 1;
}

int staff_h_act(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct batch_summary bs;
	struct notice_status *rows = NULL;
	const struct notice_status *row;
	struct page_staff_act pa;
	struct act a;
	size_t n;
	int r;

	act_of(req, &a);
	r = staff_guard(sc, req, resp, a.perm, a.what, a.target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* The route is HTTP_CSRF_OWN so that a refusal is audited too. */
	if ((r = staff_csrf_check(sc, req, resp, &w, a.target, a.action, "バッチの")) != 0)
		return r < 0 ? -1 : 0;
	if ((r = act_load(sc, resp, &w, &a, &bs, &rows, &n, &row)) != 0)
		return r < 0 ? -1 : 0;
	pa = (struct page_staff_act){ a.action, "", 0, a.seq, row ? row->key : "",
				      unopened(rows, n), "" };
	if (strcmp(a.action, "sendat") == 0)
		r = do_sendat(sc, req, resp, &w, &bs, &pa);
	else if (strcmp(a.action, "remind") == 0)
		r = do_remind(sc, req, resp, &w, &bs, &pa);
	else if (strcmp(a.action, "withdraw") == 0)
		r = do_withdraw(sc, req, resp, &w, &bs, &pa);
	else
		r = do_unlock(sc, req, resp, &w, &bs, &pa);
	free(rows);
	return r < 0 ? -1 : 0;
}
