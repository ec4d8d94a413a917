/*
 * staff_audit.c — the audit log page (PERM_AUDIT): search by person (a
 * login, found as "staff:N", or an actor such as "cli:root"; the record's
 * actor or target), action (a prefix) and a date range given in JST
 * (records are stored in UTC), newest first, AUDIT_PAGE_ROWS a page; and
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
#define MATCH_MAX ((size_t)4 << 20) /* matches remembered (seq numbers) */

struct search {
	char who[64];        /* exact actor or target; "" any */
	const char *part;    /* else a part of actor or target; "" any */
	const char *action;  /* a prefix; "" any */
	int64_t from, to;    /* UTC, [from, to) */
	uint64_t *seqs;      /* matches, in order */
	size_t n, cap;
	/* the second pass: the page's records */
	uint64_t lo, hi;
	struct audit_view *rows;
	size_t nrows;
};

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" in JST -> the UTC time of its midnight; -1 when malformed. */
static int jst_day(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = 0, m = 0, d = 0;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 2000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return -1;
	*out = days_from_civil(y, m, d) * 86400 - 9 * 3600; /* JST is UTC+9 */
	return 0;
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

static int collect(const struct audit_view *v, void *arg)
{
	struct search *s = arg;

	if (!matches(s, v))
		return 0;
	if (s->n == MATCH_MAX)
		return 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->seqs = xrealloc(s->seqs, s->cap * sizeof(*s->seqs));
	}
	s->seqs[s->n++] = v->seq;
	return 0;
}

/* The page's records, newest first. */
static int take(const struct audit_view *v, void *arg)
{
	struct search *s = arg;

	if (v->seq > s->hi)
		return 1;
	if (matches(s, v) && s->nrows < AUDIT_PAGE_ROWS)
		s->rows[AUDIT_PAGE_ROWS - 1 - s->nrows++] = *v;
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

/* Search, and the page's records into s->rows (s->nrows of them, at the
 * end of the array). */
static int search(struct staff_ctx *sc, struct page_staff_audit_q *q, struct search *s,
		  size_t page, struct error *e)
{
	size_t end, start;

	if (audit_each(sc->st, 1, collect, s, e) < 0)
		return -1;
	q->total = s->n;
	q->pages = s->n == 0 ? 1 : (s->n + AUDIT_PAGE_ROWS - 1) / AUDIT_PAGE_ROWS;
	q->page = page < 1 ? 1 : page > q->pages ? q->pages : page;
	if (s->n == 0)
		return 0;
	/* Newest first: page 1 holds the last AUDIT_PAGE_ROWS matches. */
	end = s->n - (q->page - 1) * AUDIT_PAGE_ROWS;
	start = end > AUDIT_PAGE_ROWS ? end - AUDIT_PAGE_ROWS : 0;
	s->lo = s->seqs[start];
	s->hi = s->seqs[end - 1];
	return audit_each(sc->st, s->lo, take, s, e);
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
	struct page_staff_audit_q q = { arg(req, "person"), arg(req, "action"), arg(req, "from"),
					arg(req, "to"), 1, 1, 0, "", 0, "" };
	struct search s;
	char msg[512];
	int64_t page = 1;
	int r = staff_guard(sc, req, resp, PERM_AUDIT, "監査ログ閲覧", "", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (strcmp(req->method, "POST") == 0) {
		if ((r = staff_csrf_own(sc, req, resp, &w, "", "audit.verify")) != 0)
			return r < 0 ? -1 : 0;
		q.verified = verify(sc, req, &w, msg, sizeof(msg));
		q.verify_msg = msg;
	}
	if (parse_int64(arg(req, "page"), 1, 1000000, &page) < 0)
		page = 1;
	memset(&s, 0, sizeof(s));
	s.rows = xcalloc(AUDIT_PAGE_ROWS, sizeof(*s.rows));
	q.error = read_query(sc, &q, &s);
	if (q.error == NULL) {
		q.error = "";
		if (search(sc, &q, &s, (size_t)page, &e) < 0) {
			log_err("event=staff_audit_page_failed reason=\"%s\"", e.msg);
			r = -1;
		}
	}
	if (r == 0)
		r = page_staff_audit(&resp->body, &w.u, &q, s.rows + AUDIT_PAGE_ROWS - s.nrows,
				     s.nrows);
	free(s.seqs);
	free(s.rows);
	return r;
}
