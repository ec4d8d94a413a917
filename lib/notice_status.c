/*
 * notice_status.c — the furthest state each resident of a batch reached
 * (see notice_statuses() in lib/notice.h), for `tayori batch show --json`,
 * the dashboard and the paper list.  Runs in the command-line and portal
 * processes (any process that may unseal the batch's residents).
 *
 * Order, first match wins: downloaded; bounced or failed (the mail did not
 * arrive: staff see why, and the resident is on the paper list too); paper
 * (no address or a row the batch holds back, consent declined, or not
 * downloaded by the batch's deadline); opened; the delivery's state; queued
 * (a resident with an address whose delivery is not written yet).  The
 * paper flag is set for bounced and failed residents as for paper ones.
 *
 * The deadline (BR_DEADLINE) is kept as staff wrote it: a date
 * (2026-12-31, 2026/12/31, 2026.12.31, 2026年12月31日, full width too),
 * optionally followed by a time (17:00); it ends at that time, or at the
 * end of that day, in Japan (UTC+9).  Anything else is no deadline.  A
 * batch without one has the ward's default fixed when it was sent
 * (BS_DEADLINE, lib/batches.h), read the same way.
 */
#include "lib/notice.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lib/batches.h"
#include "lib/log.h"
#include "lib/notice_int.h"
#include "lib/rec.h"
#include "lib/store.h"

#define JST_OFFSET (9 * 3600)

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
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

/* Read 1..max digits at *p into *v. */
static int digits(const char **p, int max, int *v)
{
	int n = 0;
	*v = 0;
	while (n < max && **p >= '0' && **p <= '9') {
		*v = *v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n > 0 ? 0 : -1;
}

/* Skip one date separator: - / . or 年 月 (UTF-8). */
static int date_sep(const char **p)
{
	if (**p == '-' || **p == '/' || **p == '.') {
		(*p)++;
		return 0;
	}
	if (strncmp(*p, "\xE5\xB9\xB4", 3) == 0 || strncmp(*p, "\xE6\x9C\x88", 3) == 0) {
		*p += 3;
		return 0;
	}
	return -1;
}

/* The moment (UTC seconds) a deadline ends: 0 and *end, or -1. */
static int deadline_parse(const char *text, int64_t *end)
{
	gchar *norm;
	const char *p;
	int y, m, d, hh = 24, mm = 0, ret = -1;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (text == NULL || text[0] == '\0' || !g_utf8_validate(text, -1, NULL))
		return -1;
	norm = g_utf8_normalize(text, -1, G_NORMALIZE_NFKC);
	if (norm == NULL)
		return -1;
	p = norm;
	while (*p == ' ')
		p++;
	if (digits(&p, 4, &y) < 0 || y < 2000 || date_sep(&p) < 0 || digits(&p, 2, &m) < 0 ||
	    m < 1 || m > 12 || date_sep(&p) < 0 || digits(&p, 2, &d) < 0 || d < 1 ||
	    d > mdays[m - 1] || (m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400))))
		goto out;
	if (strncmp(p, "\xE6\x97\xA5", 3) == 0) /* 日 */
		p += 3;
	while (*p == ' ' || *p == 'T')
		p++;
	if (*p != '\0') {
		if (digits(&p, 2, &hh) < 0 || *p++ != ':' || digits(&p, 2, &mm) < 0 || hh > 24 ||
		    mm > 59 || (hh == 24 && mm != 0))
			goto out;
		while (*p == ' ')
			p++;
		if (strcmp(p, "JST") != 0 && *p != '\0')
			goto out;
	}
	*end = days_from_civil(y, m, d) * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60 -
	       JST_OFFSET;
	ret = 0;
out:
	g_free(norm);
	return ret;
}

/* The batch's deadline (its own, or the ward's default fixed when it was
 * sent: batches_deadline): 0 none (or unreadable), else its end. */
static int batch_deadline(struct store_txn *t, uint64_t batch, int64_t *end, struct error *e)
{
	char text[128];

	*end = 0;
	if (batches_deadline(t, batch, text, sizeof(text), e) < 0)
		return -1;
	if (text[0] != '\0' && deadline_parse(text, end) < 0) {
		log_warn("event=deadline_unreadable batch=%llu", (unsigned long long)batch);
		*end = 0;
	}
	return 0;
}

/* The state of one resident from its delivery (has_d: 0 found) and access. */
static void one_status(int no_address, int has_d, const struct delivery *d,
		       const struct notice_access *a, int64_t deadline, int64_t now,
		       struct notice_status *s)
{
	s->contacts = has_d == 0 ? d->contacts : 0;
	s->sent_at = has_d == 0 ? d->sent_at : 0;
	s->opened_at = a->opened_at;
	s->downloaded_at = a->downloaded_at;
	s->locked = a->locked;
	s->cert_downloads = a->cert_downloads;
	s->paper = a->downloaded_at == 0 &&
		   (no_address || (has_d == 0 && (d->state == DELIVERY_BOUNCED ||
						  d->state == DELIVERY_FAILED)) ||
		    a->consent == CONSENT_DECLINED || (deadline > 0 && now >= deadline));
	if (a->downloaded_at != 0)
		s->state = "downloaded";
	else if (has_d == 0 && (d->state == DELIVERY_BOUNCED || d->state == DELIVERY_FAILED))
		s->state = delivery_state_name(d->state); /* and on the paper list */
	else if (s->paper)
		s->state = "paper";
	else if (a->opened_at != 0)
		s->state = "opened";
	else if (has_d == 0)
		s->state = delivery_state_name(d->state);
	else
		s->state = "queued";
}

/* What notice_statuses() gathers per resident before checking MACs. */
struct row {
	uint8_t k[12];
	int no_address;
	const void *val[2]; /* delivery, access: NULL when absent */
	size_t len[2];
};

/* The resident at k: its key and whether it has an address (any flag
 * means the row is held back, never mailed), and its raw records. */
static int gather(struct store_txn *t, const void *k, const void *rv, size_t rvl,
		  struct buf *plain, struct row *row, struct notice_status *s, struct error *e)
{
	static const enum store_db dbs[2] = { DB_DELIVERIES, DB_ACCESS };
	const uint8_t *email;
	size_t el;

	memcpy(row->k, k, 12);
	s->seq = be32_get(row->k + 8);
	buf_reset(plain);
	if (store_unseal(store_txn_store(t), DB_RESIDENTS, k, 12, rv, rvl, plain, e) < 0)
		return -1;
	if (rec_get_str(plain->data, plain->len, RR_KEY, s->key, sizeof(s->key)) < 0)
		return err_set(e, "batch %llu row %u: the resident's key is damaged",
			       (unsigned long long)be64_get(row->k), s->seq);
	row->no_address = rec_get(plain->data, plain->len, RR_EMAIL, &email, &el) != 0 ||
			  el == 0 || rec_get_u64(plain->data, plain->len, RR_FLAGS, 0) != 0;
	for (int j = 0; j < 2; j++) {
		int r = store_get(t, dbs[j], row->k, 12, &row->val[j], &row->len[j], e);
		if (r < 0)
			return -1;
		if (r == 1)
			row->val[j] = NULL;
	}
	return 0;
}

/* Check every gathered record's MAC in one round trip per database, then
 * fill each entry. */
static int settle(struct store *st, struct row *rows, struct notice_status *v, size_t n,
		  int64_t deadline, int64_t now, struct error *e)
{
	static const int dbs[2] = { DB_DELIVERIES, DB_ACCESS };
	const void **keys = xcalloc(n ? n : 1, sizeof(*keys)), **vals;
	size_t *kls = xcalloc(n ? n : 1, sizeof(*kls)), *vls;
	int *bad[2], ret = -1;

	vals = xcalloc(n ? n : 1, sizeof(*vals));
	vls = xcalloc(n ? n : 1, sizeof(*vls));
	bad[0] = xcalloc(n ? n : 1, sizeof(int));
	bad[1] = xcalloc(n ? n : 1, sizeof(int));
	for (int j = 0; j < 2; j++) {
		for (size_t i = 0; i < n; i++) {
			keys[i] = rows[i].k;
			kls[i] = 12;
			vals[i] = rows[i].val[j];
			vls[i] = rows[i].len[j];
		}
		if (notice_check_many(st, dbs[j], n, keys, kls, vals, vls, bad[j], e) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct delivery d = { .batch = be64_get(rows[i].k), .seq = v[i].seq };
		struct notice_access a = { .batch = d.batch, .seq = d.seq };
		if (bad[0][i] || bad[1][i]) {
			int why = bad[0][i] ? bad[0][i] : bad[1][i];
			err_set(e, "the %s record of batch %llu row %u %s", bad[0][i] ? "delivery" : "access",
				(unsigned long long)d.batch, d.seq,
				why == 2 ? "is an older copy than the keys process anchored (rolled back)"
					 : "fails its MAC (forged or damaged)");
			goto out;
		}
		if ((rows[i].val[0] != NULL &&
		     notice_delivery_parse(rows[i].val[0], rows[i].len[0], &d, e) < 0) ||
		    (rows[i].val[1] != NULL &&
		     notice_access_parse(rows[i].val[1], rows[i].len[1], &a, e) < 0))
			goto out;
		one_status(rows[i].no_address, rows[i].val[0] != NULL ? 0 : 1, &d, &a, deadline,
			   now, &v[i]);
	}
	ret = 0;
out:
	free(keys);
	free(kls);
	free(vals);
	free(vls);
	free(bad[0]);
	free(bad[1]);
	return ret;
}

int notice_statuses(struct store *st, uint64_t batch, int64_t now, struct notice_status **out,
		    size_t *n, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct notice_status *v = NULL;
	struct row *rows = NULL;
	struct buf plain;
	size_t cap = 0, cnt = 0;
	uint8_t start[12];
	const void *k, *rv;
	size_t kl, rvl;
	int64_t deadline;
	int r, ret = -1;

	*out = NULL;
	*n = 0;
	buf_init(&plain, 16 << 20);
	if (store_begin(st, 0, &t, e) < 0)
		goto out;
	if (batch_deadline(t, batch, &deadline, e) < 0)
		goto out;
	be64_put(start, batch);
	be32_put(start + 8, 0);
	if (store_iter_open(t, DB_RESIDENTS, start, sizeof(start), &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &rv, &rvl)) == 0) {
		if (kl != 12 || be64_get(k) != batch)
			break;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
			rows = xrealloc(rows, cap * sizeof(*rows));
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		if (gather(t, k, rv, rvl, &plain, &rows[cnt], &v[cnt], e) < 0)
			goto out;
		cnt++;
	}
	if (r < 0) {
		err_tmp(e, "notice: reading the residents of batch %llu failed",
			(unsigned long long)batch);
		goto out;
	}
	if (settle(st, rows, v, cnt, deadline, now, e) < 0)
		goto out;
	*out = v;
	*n = cnt;
	v = NULL;
	ret = 0;
out:
	free(v);
	free(rows);
	buf_wipe(&plain);
	store_iter_close(&it);
	store_abort(&t);
	return ret;
}

int notice_status_one(struct store *st, uint64_t batch, uint32_t seq, int64_t now,
		      struct notice_status *out, struct error *e)
{
	struct store_txn *t = NULL;
	struct row row;
	struct buf plain;
	uint8_t k[12];
	const void *rv;
	size_t rvl;
	int64_t deadline;
	int r = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&plain, 16 << 20);
	be64_put(k, batch);
	be32_put(k + 8, seq);
	if (store_begin(st, 0, &t, e) < 0 || batch_deadline(t, batch, &deadline, e) < 0)
		goto out;
	r = store_get(t, DB_RESIDENTS, k, sizeof(k), &rv, &rvl, e);
	if (r == 0 && (gather(t, k, rv, rvl, &plain, &row, out, e) < 0 ||
		       settle(st, &row, out, 1, deadline, now, e) < 0))
		r = -1;
out:
	buf_wipe(&plain);
	store_abort(&t);
	return r;
}

/* 0 when the batch has a delivery record, 1 when none, -1 error. */
static int any_delivery(struct store *st, uint64_t batch, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	uint8_t start[12];
	const void *k, *v;
	size_t kl, vl;
	int r;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	be64_put(start, batch);
	be32_put(start + 8, 0);
	r = store_iter_open(t, DB_DELIVERIES, start, sizeof(start), &it, e);
	if (r == 0) {
		r = store_iter_next(it, &k, &kl, &v, &vl);
		if (r == 0 && (kl != 12 || be64_get(k) != batch))
			r = 1;
		if (r < 0)
			err_tmp(e, "notice: reading the deliveries of batch %llu failed",
				(unsigned long long)batch);
	}
	store_iter_close(&it);
	store_abort(&t);
	return r;
}

static void json_time(FILE *f, const char *name, int64_t t)
{
	char s[32];
	json_member(f, name, 0);
	if (t == 0) {
		fputs("null", f);
		return;
	}
	time_format_utc(t, s, sizeof(s));
	json_fputs(f, s);
}

int notice_statuses_json(struct store *st, uint64_t batch, int64_t now, int first, FILE *f,
			 struct error *e)
{
	struct notice_status *v = NULL;
	size_t n = 0;
	int r = any_delivery(st, batch, e);

	if (r != 0)
		return r;
	if (notice_statuses(st, batch, now, &v, &n, e) < 0)
		return -1;
	json_member(f, "residents", first);
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{" : "{", f);
		json_member(f, "key", 1);
		json_fputs(f, v[i].key);
		json_member(f, "state", 0);
		json_fputs(f, v[i].state);
		json_member(f, "contacts", 0);
		fprintf(f, "%u", v[i].contacts);
		json_time(f, "sent_at", v[i].sent_at);
		json_time(f, "opened_at", v[i].opened_at);
		json_time(f, "downloaded_at", v[i].downloaded_at);
		fputc('}', f);
	}
	fputc(']', f);
	free(v);
	return 0;
}
