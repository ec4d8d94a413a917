/*
 * staff_audit.c — the audit log page (PERM_AUDIT): search by person (a
 * login, found as "staff:N", or an actor such as "cli:root"; the record's
 * actor or target), action (a prefix) and a date range given in JST
 * (records are stored in UTC), newest first, AUDIT_PAGE_ROWS a page, read
 * from the newest back only until the page is full (the next page starts
 * below its last record's number: ?before=SEQ), so a search costs one
 * page of memory however long the log grows; and
 * "verify the chain" (POST /audit/verify): audit_verify, the very check of
 * `tayori audit verify`, through the portal's keys channel (yes-or-no
 * answers, KEYS_PERM_AUDIT_CHECK), its result shown in Japanese and
 * audited.  Runs in the portal process, the store lock held.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "portal/page_staff_audit.h"
#include "portal/staff_users.h"

#define AUDIT_PAGE_ROWS 50

struct search {
	char who[64];        /* exact actor or target; "" any */
	const char *part;    /* else a part of actor or target; "" any */
	const char *action;  /* a prefix; "" any */
	int64_t from, to;    /* UTC, [from, to) */
	/* the page: up to AUDIT_PAGE_ROWS matches, newest first, and whether
	 * one more (an older page) exists */
	struct audit_view *rows;
	size_t nrows;
	int more;
};

/* "YYYY-MM-DD" in JST -> the UTC time of its midnight; -1 when malformed. */
static int jst_day(const char *s, int64_t *out)
{
	char t[24];

	if (strlen(s) != 10)
		return -1;
	str_fmt(t, sizeof(t), "%s 00:00", s);
	return time_parse_jst(t, out);
}

static int matches(const struct search *s, const struct audit_view *v)
{
	if (v->time < s->from || v->time >= s->to)
		return 0;
	if (s->action[0] != '\0' && strncmp(v->action, s->action, strlen(s->action)) != 0)
		return 0;
	if (s->who[0] != '\0')
		return strcmp(v->actor, s->who) == 0 || strcmp(v->target, s->who) == 0;
	if (s->part[0] != '\0')
		return strstr(v->actor, s->part) != NULL || strstr(v->target, s->part) != NULL;
	return 1;
}

/* Newest first: keep the page's matches, stop at the first beyond it. */
static int take(const struct audit_view *v, void *arg)
{
	struct search *s = arg;

	if (!matches(s, v))
		return 0;
	if (s->nrows == AUDIT_PAGE_ROWS) {
		s->more = 1;
		return 1;
	}
	s->rows[s->nrows++] = *v;
	return 0;
}

/* The search from the query; an error message in Japanese, or NULL. */
static const char *read_query(struct staff_ctx *sc, struct page_staff_audit_q *q,
			      struct search *s)
{
	struct error e = { { 0 }, 0 };
	struct staff st;

	s->from = INT64_MIN;
	s->to = INT64_MAX;
	s->part = q->person;
	s->action = q->action;
	if (strlen(q->person) > 60 || strlen(q->action) > 60)
		return "検索の語が長すぎます（60文字まで）。";
	if (q->from[0] != '\0' && jst_day(q->from, &s->from) < 0)
		return "期間の始めは 2026-12-01 のような日付で入力してください。";
	if (q->to[0] != '\0') {
		if (jst_day(q->to, &s->to) < 0)
			return "期間の終わりは 2026-12-31 のような日付で入力してください。";
		s->to += 86400; /* the whole day */
	}
	if (q->person[0] != '\0' && strchr(q->person, ':') == NULL &&
	    staff_find_login(sc->st, q->person, &st, &e) == 0) {
		str_fmt(s->who, sizeof(s->who), "staff:%llu", (unsigned long long)st.id);
		secure_wipe(&st, sizeof(st));
	} else if (strchr(q->person, ':') != NULL) {
		str_copy(s->who, q->person, sizeof(s->who));
	}
	return NULL;
}

/* The page of matches below seq q->before (0: the newest), read newest
 * first and only as far as the page needs: memory stays one page however
 * long the log is. */
static int search(struct staff_ctx *sc, struct page_staff_audit_q *q, struct search *s,
		  struct error *e)
{
	if (audit_each_back(sc->st, q->before, take, s, e) < 0)
		return -1;
	q->shown = s->nrows;
	q->older = s->more && s->nrows > 0 ? s->rows[s->nrows - 1].seq : 0;
	return 0;
}

static const char *arg(const struct http_request *req, const char *name)
{
	const char *v = http_query(req, name);
	return v != NULL ? v : "";
}

/* The chain checked as `tayori audit verify` does; the result in Japanese. */
static int verify(struct staff_ctx *sc, const struct http_request *req,
		  const struct staff_who *w, char *msg, size_t msgsize)
{
	struct error e = { { 0 }, 0 };
	uint64_t count = 0;
	char detail[160];
	int r = audit_verify(sc->st, &count, &e);

	if (r == 0) {
		str_fmt(msg, msgsize, "監査ログは改ざんされていません（%llu 件の記録を確認しました）。",
			(unsigned long long)count);
		str_fmt(detail, sizeof(detail), "intact=yes records=%llu", (unsigned long long)count);
	} else if (e.temporary) {
		str_fmt(msg, msgsize, "監査ログを確認できませんでした（一時的な障害）。"
				      "しばらくしてからもう一度お試しください。");
		str_fmt(detail, sizeof(detail), "intact=unknown");
		log_err("event=audit_verify_failed reason=\"%s\"", e.msg);
	} else {
		str_fmt(msg, msgsize, "監査ログに問題が見つかりました。すぐにシステム管理者に連絡してください。"
				      "（%s）", e.msg);
		str_fmt(detail, sizeof(detail), "intact=no");
	}
	staff_audit(sc, w->actor, "audit.verify", "", req->client_ip, detail);
	return r == 0 ? 1 : -1;
}

int staff_h_audit(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct page_staff_audit_q q = { .person = arg(req, "person"), .action = arg(req, "action"),
					.from = arg(req, "from"), .to = arg(req, "to"),
					.error = "", .verify_msg = "" };
	struct search s;
	char msg[512];
	int64_t before = 0;
	int r = staff_guard(sc, req, resp, PERM_AUDIT, "監査ログ閲覧", "", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (strcmp(req->method, "POST") == 0) {
		if ((r = staff_csrf_own(sc, req, resp, &w, "", "audit.verify")) != 0)
			return r < 0 ? -1 : 0;
		q.verified = verify(sc, req, &w, msg, sizeof(msg));
		q.verify_msg = msg;
	}
	if (parse_int64(arg(req, "before"), 1, INT64_MAX, &before) == 0)
		q.before = (uint64_t)before;
	memset(&s, 0, sizeof(s));
	s.rows = xcalloc(AUDIT_PAGE_ROWS, sizeof(*s.rows));
	q.error = read_query(sc, &q, &s);
	if (q.error == NULL) {
		q.error = "";
		if (search(sc, &q, &s, &e) < 0) {
			log_err("event=staff_audit_page_failed reason=\"%s\"", e.msg);
			r = -1;
		}
	}
	if (r == 0)
		r = page_staff_audit(&resp->body, &w.u, &q, s.rows, s.nrows);
	free(s.rows);
	return r;
}
