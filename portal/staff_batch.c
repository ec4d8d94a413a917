/*
 * staff_batch.c — the dashboard's batch pages and actions: the batches
 * list (newest first, filtered by status, searched by title), a page per
 * batch with its residents' states (paged; each view audited, since it
 * shows residents' keys), and approval (four-eyes, the same
 * batches_approve as `tayori batch approve --as`) and sending now (as
 * `tayori batch send`), each behind a confirmation page, a CSRF check (the
 * layer's double-submit token, its refusal audited) and its permission.  Every handler runs with the store
 * lock held.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/batches.h"
#include "lib/log.h"
#include "lib/wardset.h"
#include "portal/page_staff_chart.h"
#include "portal/staff_int.h"

#define STAFF_PAGE_ROWS 50 /* residents per page */

/* "batch:N" for the audit record of a refusal. */
static void target_of(const struct http_request *req, char *out, size_t outsize)
{
	uint64_t id;

	if (staff_batch_id(req->subpath, &id) < 0)
		str_copy(out, "batch:?", outsize);
	else
		str_fmt(out, outsize, "batch:%llu", (unsigned long long)id);
}

static int matches(const struct batch_summary *s, const struct page_staff_filter *f)
{
	if (f->status[0] != '\0' && strcmp(s->status, f->status) != 0)
		return 0;
	if (f->type[0] != '\0' && strcmp(s->notice_type, f->type) != 0)
		return 0;
	return f->q[0] == '\0' || strstr(s->title, f->q) != NULL;
}

/* The ward's notice types, for the filter ("" when none or unreadable). */
static char *ward_types(const struct staff_ctx *sc)
{
	struct wardset *ws = xcalloc(1, sizeof(*ws));
	struct error e = { { 0 }, 0 };
	char *out;

	if (wardset_load(sc->st, ws, &e) < 0)
		log_warn("event=ward_settings_unreadable reason=\"%s\"", e.msg);
	out = xstrdup(ws->notice_types);
	free(ws);
	return out;
}

int staff_h_batches(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct batch_summary *list = NULL;
	struct page_staff_filter f = { http_query(req, "status"), http_query(req, "q"),
				       http_query(req, "type"), "" };
	char *types;
	size_t n = 0, kept = 0;
	int r = staff_guard(sc, req, resp, PERM_VIEW, "閲覧", "", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (f.status == NULL || strlen(f.status) > 31)
		f.status = "";
	if (f.q == NULL || strlen(f.q) > 200)
		f.q = "";
	if (f.type == NULL || strlen(f.type) >= WARDSET_TYPE_NAME_MAX)
		f.type = "";
	if (batches_list(sc->st, &list, &n, &e) < 0) {
		log_err("event=staff_batches_failed reason=\"%s\"", e.msg);
		return -1;
	}
	/* Newest first: the list is in id order. */
	for (size_t i = 0; i < n / 2; i++) {
		struct batch_summary tmp = list[i];
		list[i] = list[n - 1 - i];
		list[n - 1 - i] = tmp;
	}
	for (size_t i = 0; i < n; i++)
		if (matches(&list[i], &f))
			list[kept++] = list[i];
	types = ward_types(sc);
	f.types = types;
	r = page_staff_batches(&resp->body, &w.u, list, kept, &f);
	free(types);
	free(list);
	return r;
}

void staff_batch_count(struct page_staff_counts *c, const struct notice_status *rows, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->total = n;
	for (size_t i = 0; i < n; i++) {
		const char *s = rows[i].state;
		c->contacts += rows[i].contacts;
		c->paper += rows[i].paper != 0;
		c->queued += strcmp(s, "queued") == 0;
		c->sending += strcmp(s, "sending") == 0;
		c->sent += strcmp(s, "sent") == 0;
		c->deferred += strcmp(s, "deferred") == 0;
		c->failed += strcmp(s, "failed") == 0;
		c->bounced += strcmp(s, "bounced") == 0;
		c->opened += strcmp(s, "opened") == 0;
		c->downloaded += strcmp(s, "downloaded") == 0;
	}
}

/* The batch named by the path after the route's prefix: 0 found, 1
 * answered (404), -1 error. */
static int load(struct staff_ctx *sc, const struct http_request *req, struct http_response *resp,
		const struct staff_who *w, struct batch_summary *bs)
{
	struct error e = { { 0 }, 0 };
	uint64_t id;
	int r;

	if (staff_batch_id(req->subpath, &id) < 0)
		r = 1;
	else
		r = batches_get(sc->st, id, bs, NULL, &e);
	if (r < 0) {
		log_err("event=staff_batch_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 1 || strcmp(bs->status, BATCH_STATUS_STORING) == 0) {
		resp->status = 404;
		return page_staff_note(&resp->body, &w->u, "バッチが見つかりません",
				       "指定されたバッチはありません。", "/batches",
				       "バッチ一覧に戻る") < 0 ? -1 : 1;
	}
	return 0;
}

int staff_h_batch(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct batch_summary bs;
	struct notice_status *rows = NULL;
	struct page_staff_counts c;
	struct page_staff_live live;
	uint8_t *flags = NULL;
	const char *pq = http_query(req, "page");
	char target[32], detail[64];
	size_t n = 0, page = 1, pages, from;
	int r;

	if (staff_live_path(req->subpath))
		return staff_h_events(req, resp, ctx);
	if (staff_chart_path(req->subpath))
		return staff_h_chart(req, resp, ctx);
	target_of(req, target, sizeof(target));
	r = staff_guard(sc, req, resp, PERM_VIEW, "閲覧", target, &w);

	if (r != 0 || (r = load(sc, req, resp, &w, &bs)) != 0)
		return r < 0 ? -1 : 0;
	if (notice_statuses(sc->st, bs.id, now_utc(), &rows, &n, &e) < 0) {
		log_err("event=staff_batch_failed reason=\"%s\"", e.msg);
		return -1;
	}
	staff_batch_count(&c, rows, n);
	pages = n == 0 ? 1 : (n + STAFF_PAGE_ROWS - 1) / STAFF_PAGE_ROWS;
	if (pq != NULL && strlen(pq) < 8 && pq[0] >= '1' && pq[0] <= '9')
		page = strtoul(pq, NULL, 10);
	if (page > pages)
		page = pages;
	from = (page - 1) * STAFF_PAGE_ROWS;
	if (n > 0) {
		/* Residents' keys are personal data: each view is audited. */
		str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)bs.id);
		str_fmt(detail, sizeof(detail), "page=%zu rows=%zu", page,
			n - from < STAFF_PAGE_ROWS ? n - from : (size_t)STAFF_PAGE_ROWS);
		if (staff_audit(sc, w.actor, "batch.view_residents", target, req->client_ip,
				detail) < 0) {
			free(rows);
			return -1;
		}
	}
	if (staff_live_page(sc, bs.id, rows, n, from,
			    n - from < STAFF_PAGE_ROWS ? n - from : STAFF_PAGE_ROWS, &live, &flags) < 0) {
		free(rows);
		return -1;
	}
	c.live = &live;
	r = page_staff_batch(&resp->body, &w.u, &bs, &c, n > 0 ? rows + from : NULL,
			     n - from < STAFF_PAGE_ROWS ? n - from : STAFF_PAGE_ROWS, page, pages);
	free(flags);
	free(rows);
	return r;
}

/* Which action a path names: "/approve/4" or "/send/4". */
static int action_of(const struct http_request *req, const char **action, uint32_t *perm,
		     const char **what)
{
	if (strncmp(req->path, "/approve/", 9) == 0) {
		*action = "approve", *perm = PERM_APPROVE, *what = "承認";
		return 0;
	}
	*action = "send", *perm = PERM_SEND, *what = "送信";
	return 0;
}

int staff_h_confirm(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct batch_summary bs;
	const char *action, *what;
	char target[40];
	uint32_t perm;
	int r;

	action_of(req, &action, &perm, &what);
	target_of(req, target, sizeof(target));
	r = staff_guard(sc, req, resp, perm, what, target, &w);
	if (r != 0 || (r = load(sc, req, resp, &w, &bs)) != 0)
		return r < 0 ? -1 : 0;
	return page_staff_confirm(&resp->body, &w.u, &bs, action, "");
}

void staff_batch_refused_audit(struct staff_ctx *sc, const struct http_request *req,
			       const struct staff_who *w, uint64_t id, const char *action,
			       const char *detail)
{
	char target[32], act[40];

	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	str_fmt(act, sizeof(act), "batch.%s_refused", action);
	staff_audit(sc, w->actor, act, target, req->client_ip, detail);
}

/* Refused: the confirmation page again with why, and an audit record. */
static int refused(struct staff_ctx *sc, const struct http_request *req,
		   struct http_response *resp, const struct staff_who *w,
		   const struct batch_summary *bs, const char *action, const char *reason,
		   const char *why)
{
	char detail[64];

	str_fmt(detail, sizeof(detail), "reason=%s", reason);
	staff_batch_refused_audit(sc, req, w, bs->id, action, detail);
	resp->status = strcmp(reason, "four_eyes") == 0 ? 403 : 409;
	return page_staff_confirm(&resp->body, &w->u, bs, action, why);
}

static int do_approve(struct staff_ctx *sc, const struct http_request *req,
		      struct http_response *resp, const struct staff_who *w,
		      const struct batch_summary *bs)
{
	struct error e = { { 0 }, 0 };

	if (strcmp(bs->status, BATCH_STATUS_WAITING) != 0)
		return refused(sc, req, resp, w, bs, "approve", "status",
			       "このバッチは承認待ちではありません。") < 0 ? -1 : 1;
	if (batches_approve(sc->st, bs->id, &w->s, w->actor, req->client_ip, sc->four_eyes,
			    &e) == 0)
		return 0;
	if (e.temporary || strstr(e.msg, "may not approve it too") == NULL) {
		log_err("event=staff_approve_failed reason=\"%s\"", e.msg);
		return -1;
	}
	return refused(sc, req, resp, w, bs, "approve", "four_eyes",
		       "このバッチを提出した本人は承認できません。別の承認者が承認してください。") < 0
		       ? -1 : 1;
}

static int do_send(struct staff_ctx *sc, const struct http_request *req,
		   struct http_response *resp, const struct staff_who *w,
		   const struct batch_summary *bs)
{
	struct error e = { { 0 }, 0 };

	if (strcmp(bs->status, BATCH_STATUS_APPROVED) != 0)
		return refused(sc, req, resp, w, bs, "send", "status",
			       "このバッチは承認済みではないため、送信できません。") < 0 ? -1 : 1;
	if (batches_send(sc->st, bs->id, now_utc(), w->actor, req->client_ip, &e) < 0) {
		log_err("event=staff_send_failed reason=\"%s\"", e.msg);
		return -1;
	}
	return 0;
}

int staff_h_action(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct batch_summary bs;
	const char *action, *what;
	char target[40], back[64];
	uint32_t perm;
	int r;

	action_of(req, &action, &perm, &what);
	target_of(req, target, sizeof(target));
	r = staff_guard(sc, req, resp, perm, what, target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* The route is HTTP_CSRF_OWN so that a refusal is audited too. */
	if ((r = staff_csrf_check(sc, req, resp, &w, target, action, "バッチの")) != 0)
		return r < 0 ? -1 : 0;
	if ((r = load(sc, req, resp, &w, &bs)) != 0)
		return r < 0 ? -1 : 0;
	r = strcmp(action, "approve") == 0 ? do_approve(sc, req, resp, &w, &bs)
					   : do_send(sc, req, resp, &w, &bs);
	if (r != 0)
		return r < 0 ? -1 : 0;
	str_fmt(back, sizeof(back), "/batches/%llu", (unsigned long long)bs.id);
	return http_resp_redirect(resp, back);
}
