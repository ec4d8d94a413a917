/*
 * staff_resident.c — one resident's details on the dashboard
 * (/residents/BATCH/SEQ, linked from a batch page's rows): the key, name
 * and e-mail address from the sealed resident record, the delivery's state
 * and times, and the resident's events.  Personal data: only with the view
 * permission (a refusal audited, a 403 page), and each view audited as
 * resident.view with the batch and the row number, never the name.  Runs
 * in the portal process, the store lock held.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "portal/page_staff_resident.h"
#include "portal/staff_users.h"

#define EVENTS_MAX 500 /* a resident's events shown */

struct one {
	uint32_t seq;
	struct notice_event_rec *ev;
	size_t n;
};

static int take_event(const struct notice_event_rec *ev, void *arg)
{
	struct one *o = arg;

	if (ev->seq != o->seq)
		return 0;
	if (o->n == EVENTS_MAX)
		return 1;
	o->ev[o->n++] = *ev;
	return 0;
}

/* "B/SEQ" -> batch and seq; -1 when malformed. */
static int parse(const char *sub, uint64_t *batch, uint32_t *seq)
{
	char num[24];
	size_t n = strcspn(sub, "/");
	uint64_t s;

	if (n == 0 || n >= sizeof(num) || sub[n] != '/')
		return -1;
	memcpy(num, sub, n);
	num[n] = '\0';
	if (staff_batch_id(num, batch) < 0 || staff_batch_id(sub + n + 1, &s) < 0 ||
	    s > UINT32_MAX)
		return -1;
	*seq = (uint32_t)s;
	return 0;
}

static int not_found(struct http_response *resp, const struct staff_who *w)
{
	resp->status = 404;
	return page_staff_note(&resp->body, &w->u, "区民が見つかりません",
			       "指定された区民の記録はありません。", "/batches", "バッチ一覧に戻る");
}

/* The sealed record's key, name and address. */
static int read_resident(struct staff_ctx *sc, uint64_t batch, uint32_t seq, char *key,
			 char *name, char *email, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t k[12];
	int r;

	be64_put(k, batch);
	be32_put(k + 8, seq);
	buf_init(&plain, 1 << 20);
	if (store_begin(sc->st, 0, &t, e) < 0) {
		buf_free(&plain);
		return -1;
	}
	r = store_get_sealed(t, DB_RESIDENTS, k, sizeof(k), &plain, e);
	if (r == 0 && (rec_get_str(plain.data, plain.len, RR_KEY, key, 128) < 0 ||
		       rec_get_str(plain.data, plain.len, RR_NAME, name, 512) < 0 ||
		       rec_get_str(plain.data, plain.len, RR_EMAIL, email, 320) < 0))
		r = err_set(e, "resident record %u of batch %llu is damaged", seq,
			    (unsigned long long)batch);
	store_abort(&t);
	buf_wipe(&plain);
	return r;
}

static int events(struct staff_ctx *sc, struct one *o, uint64_t batch, struct error *e)
{
	struct store_txn *t = NULL;
	int r;

	if (store_begin(sc->st, 0, &t, e) < 0)
		return -1;
	r = notice_events_each(t, batch, 0, take_event, o, e);
	store_abort(&t);
	return r < 0 ? -1 : 0;
}

int staff_h_resident(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct batch_summary bs;
	struct notice_status *rows = NULL;
	struct one o = { 0, NULL, 0 };
	char target[48] = "batch:?", detail[48], key[128] = "", name[512] = "", email[320] = "";
	uint64_t batch = 0;
	uint32_t seq = 0;
	size_t n = 0;
	int r, ok = parse(req->subpath, &batch, &seq) == 0;

	if (ok)
		str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)batch);
	r = staff_guard(sc, req, resp, PERM_VIEW, "閲覧", target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (!ok || (r = batches_get(sc->st, batch, &bs, NULL, &e)) == 1 ||
	    (r == 0 && (r = read_resident(sc, batch, seq, key, name, email, &e)) == 1))
		return not_found(resp, &w);
	o.seq = seq;
	o.ev = xcalloc(EVENTS_MAX, sizeof(*o.ev));
	if (r == 0)
		r = notice_statuses(sc->st, batch, now_utc(), &rows, &n, &e);
	if (r == 0)
		r = events(sc, &o, batch, &e);
	str_fmt(detail, sizeof(detail), "seq=%u", seq);
	/* The view is audited before anything is shown. */
	if (r == 0 && staff_audit(sc, w.actor, "resident.view", target, req->client_ip, detail) < 0)
		r = -1;
	if (r == 0) {
		struct page_staff_resident pr = { &bs, NULL, key, name, email, seq, o.ev, o.n };
		for (size_t i = 0; i < n; i++)
			if (rows[i].seq == seq)
				pr.st = &rows[i];
		r = page_staff_resident(&resp->body, &w.u, &pr);
	} else {
		log_err("event=staff_resident_failed reason=\"%s\"", e.msg);
	}
	secure_wipe(name, sizeof(name));
	secure_wipe(email, sizeof(email));
	free(rows);
	free(o.ev);
	return r < 0 ? -1 : 0;
}
