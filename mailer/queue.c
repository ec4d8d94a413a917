/*
 * queue.c — the delivery state machine of the batches being sent (see
 * queue.h).  Runs in the mailer process.
 */
#include "mailer/queue_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lib/batches.h"
#include "lib/consent.h"
#include "lib/log.h"
#include "lib/mailreq.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "mailer/builder.h"
#include "mailer/verp.h"

int64_t queue_us_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

int64_t queue_ms_now(void)
{
	return queue_us_now() / 1000;
}

int64_t queue_backoff(uint32_t attempts)
{
	int64_t d = QUEUE_BACKOFF_MIN;
	for (uint32_t i = 1; i < attempts && d < QUEUE_BACKOFF_MAX; i++)
		d *= 2;
	return d < QUEUE_BACKOFF_MAX ? d : QUEUE_BACKOFF_MAX;
}

int queue_open(struct send_ctx *sc, struct pool *pool, const struct queue_config *cfg,
	       struct queue **out, struct error *e)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	q->sc = sc;
	q->pool = pool;
	q->cfg = *cfg;
	if (q->cfg.window == 0)
		q->cfg.window = 4 * QUEUE_CHUNK;
	q->ready = xcalloc(QUEUE_TAKE, sizeof(*q->ready));
	if (builder_open(&q->bld, e) < 0) {
		free(q->ready);
		free(q);
		return -1;
	}
	*out = q;
	return 0;
}

static void batch_free(struct qbatch *b)
{
	send_batch_free(&b->sb);
	free(b->items);
	free(b);
}

void queue_close(struct queue **qp)
{
	struct queue *q = *qp;
	if (q == NULL)
		return;
	while (q->batches != NULL) {
		struct qbatch *b = q->batches;
		q->batches = b->next;
		batch_free(b);
	}
	{
		struct chunk *c = builder_take(q->bld, true);
		if (c != NULL)
			queue_chunk_free(c);
	}
	builder_close(&q->bld);
	for (size_t i = q->ready_at; i < q->nready; i++)
		free(q->ready[i].job.msg);
	free(q->ready);
	free(q->dirty);
	free(q);
	*qp = NULL;
}

size_t queue_in_flight(const struct queue *q)
{
	return q->in_flight;
}

static int is_final(enum delivery_state s)
{
	return s == DELIVERY_SENT || s == DELIVERY_BOUNCED || s == DELIVERY_FAILED;
}

/* ---- finding the batches to send ---- */

static struct qbatch *batch_find(struct queue *q, uint64_t id)
{
	for (struct qbatch *b = q->batches; b != NULL; b = b->next)
		if (b->sb.id == id)
			return b;
	return NULL;
}

static struct qitem *items_add(struct qbatch *b, size_t *cap, const struct delivery *d)
{
	if (b->n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		b->items = xrealloc(b->items, *cap * sizeof(*b->items));
	}
	memset(&b->items[b->n], 0, sizeof(b->items[b->n]));
	b->items[b->n].d = *d;
	return &b->items[b->n++];
}

/* The delivery records a batch already has (after a restart); counts the
 * residents too.  Each record's MAC is checked by delivery_get. */
static int batch_read(struct queue *q, struct qbatch *b, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	uint8_t prefix[8];
	const void *k, *v;
	size_t kl, vl, cap = 0;
	uint32_t *seqs = NULL;
	size_t nseq = 0, seqcap = 0;
	int r, ret = -1;

	be64_put(prefix, b->sb.id);
	if (store_begin(q->sc->st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_DELIVERIES, prefix, 8, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0 && kl == 12 &&
	       memcmp(k, prefix, 8) == 0) {
		if (nseq == seqcap) {
			seqcap = seqcap ? 2 * seqcap : 256;
			seqs = xrealloc(seqs, seqcap * sizeof(*seqs));
		}
		seqs[nseq++] = be32_get((const uint8_t *)k + 8);
	}
	store_iter_close(&it);
	for (size_t i = 0; i < nseq; i++) {
		struct delivery d;
		int g = delivery_get(t, b->sb.id, seqs[i], &d, e);
		if (g < 0)
			goto out;
		if (g == 0)
			items_add(b, &cap, &d);
	}
	if (store_iter_open(t, DB_RESIDENTS, prefix, 8, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0 && kl == 12 &&
	       memcmp(k, prefix, 8) == 0)
		b->residents++;
	ret = 0;
out:
	free(seqs);
	store_iter_close(&it);
	store_abort(&t);
	return ret;
}

/* First sending: a queued record and a notice code for every resident who
 * gets mail, in one write transaction. */
#define QUEUE_PENDING 32 /* queued records and codes made in a few keys round trips */
_Static_assert(QUEUE_PENDING <= KEYS_BATCH_MAX && QUEUE_PENDING <= NOTICE_CODES_MANY_MAX,
	       "pending records fit one keys request");
struct queue_pending {
	struct delivery d[QUEUE_PENDING];
	char code[QUEUE_PENDING][NOTICE_CODE_TEXT + 1];
	size_t n;
};

/* Make the pending notice codes, put the queued records (a few keys
 * round trips for all) and list them. */
static int queue_pending(struct queue_pending *p, struct store_txn *t, struct qbatch *b,
			 size_t *cap, struct error *e)
{
	struct delivery *dp[QUEUE_PENDING];
	uint64_t pb[QUEUE_PENDING];
	uint32_t ps[QUEUE_PENDING];
	for (size_t i = 0; i < p->n; i++) {
		dp[i] = &p->d[i];
		pb[i] = p->d[i].batch;
		ps[i] = p->d[i].seq;
	}
	if (notice_codes_get_or_new(t, p->n, pb, ps, p->code, e) < 0 ||
	    delivery_put_many(t, p->n, dp, e) < 0)
		return -1;
	for (size_t i = 0; i < p->n; i++)
		str_copy(items_add(b, cap, &p->d[i])->code, p->code[i], sizeof(p->code[i]));
	p->n = 0;
	return 0;
}

/* Residents of a live batch whose recorded choice (DB_CONSENT, for the
 * batch's notice type) is paper: declined[i] set, and their access record
 * says so, which puts them on the paper list (lib/notice_status.c) and
 * keeps reminders away (lib/remind.c). */
static int consent_declined(struct store_txn *t, const struct qbatch *b,
			    const struct send_resident *r, size_t n, int *declined,
			    struct error *e)
{
	const char *keys[QUEUE_PENDING];
	struct consent_rec c[QUEUE_PENDING];
	int found[QUEUE_PENDING];

	for (size_t i = 0; i < n; i++)
		keys[i] = r[i].mailable ? r[i].key : "";
	if (consent_get_many(t, n, keys, consent_type_of(b->sb.raw_title), c, found, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct notice_access a;
		declined[i] = found[i] && strcmp(c[i].channel, "paper") == 0;
		if (!declined[i])
			continue;
		if (access_get(t, b->sb.id, r[i].seq, &a, e) < 0)
			return -1;
		a.consent = CONSENT_DECLINED;
		a.consent_at = c[i].at;
		str_copy(a.terms, c[i].terms, sizeof(a.terms));
		if (access_put(t, &a, e) < 0)
			return -1;
	}
	secure_wipe(c, sizeof(c));
	return 0;
}

/* The residents seq .. seq + n - 1 of b: the queued records of those who
 * get mail added to p (and made once p is full); *paper counts those who
 * declined mail. */
static int queue_group(struct store_txn *t, struct queue *q, struct qbatch *b,
		       struct queue_pending *p, size_t *cap, uint32_t seq, size_t n, int64_t now,
		       size_t *paper, struct error *e)
{
	struct send_resident r[QUEUE_PENDING];
	uint64_t ids[QUEUE_PENDING];
	uint32_t seqs[QUEUE_PENDING];
	int found[QUEUE_PENDING], declined[QUEUE_PENDING] = { 0 };
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		ids[i] = b->sb.id;
		seqs[i] = seq + (uint32_t)i;
	}
	if (send_residents_read(t, n, ids, seqs, r, found, e) < 0)
		return -1;
	/* A test batch goes to staff: residents' choices do not apply. */
	if (!b->sb.test && consent_declined(t, b, r, n, declined, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct delivery *d = &p->d[p->n];
		if (!found[i] || send_rcpt(q->sc, &b->sb, &r[i])[0] == '\0')
			continue;
		if (declined[i]) {
			(*paper)++;
			continue;
		}
		memset(d, 0, sizeof(*d));
		d->batch = b->sb.id;
		d->seq = seqs[i];
		d->state = DELIVERY_QUEUED;
		d->created = now;
		if (++p->n == QUEUE_PENDING && queue_pending(p, t, b, cap, e) < 0)
			goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		send_resident_free(&r[i]);
	return ret;
}

/* First sending: a queued record and a notice code for every resident who
 * gets mail, in one write transaction. */
static int batch_queue(struct queue *q, struct qbatch *b, int64_t now, struct error *e)
{
	struct store_txn *t = NULL;
	struct queue_pending *p = xcalloc(1, sizeof(*p));
	size_t cap = 0, paper = 0;
	int64_t t0 = queue_ms_now();
	int ret = -1;

	if (store_begin(q->sc->st, 1, &t, e) < 0)
		goto out;
	for (uint64_t seq = 1; seq <= b->residents; seq += QUEUE_PENDING) {
		size_t n = b->residents - seq + 1 < QUEUE_PENDING ? (size_t)(b->residents - seq + 1)
								  : QUEUE_PENDING;
		if (queue_group(t, q, b, p, &cap, (uint32_t)seq, n, now, &paper, e) < 0)
			goto out;
	}
	if (queue_pending(p, t, b, &cap, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	log_info("event=batch_queued batch=%llu deliveries=%zu residents=%llu declined=%zu ms=%lld",
		 (unsigned long long)b->sb.id, b->n, (unsigned long long)b->residents, paper,
		 (long long)(queue_ms_now() - t0));
	ret = 0;
out:
	store_abort(&t);
	secure_wipe(p, sizeof(*p));
	free(p);
	if (ret < 0)
		b->n = 0;
	return ret;
}

static int batch_start(struct queue *q, uint64_t id, int test, int64_t now, struct error *e)
{
	struct qbatch *b = xcalloc(1, sizeof(*b));
	if (send_batch_load(q->sc->st, id, test, now, &b->sb, e) < 0 || batch_read(q, b, e) < 0 ||
	    (b->n == 0 && batch_queue(q, b, now, e) < 0)) {
		batch_free(b);
		return -1;
	}
	b->next = q->batches;
	q->batches = b;
	log_info("event=batch_sending batch=%llu deliveries=%zu test=%d", (unsigned long long)id,
		 b->n, test);
	return 0;
}

/* Batches in "sending" whose send_at is due, not yet known; a known
 * batch that staff withdrew stops (`tayori batch withdraw`). */
static int scan_batches(struct queue *q, int64_t now, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl;
	uint64_t ids[64];
	int tests[64];
	size_t n = 0;
	int r;

	if (store_begin(q->sc->st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_BATCH_STATE, NULL, 0, &it, e) < 0) {
		store_abort(&t);
		return -1;
	}
	while (n < 64 && (r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		char status[32];
		struct qbatch *known;
		if (kl != 8 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0)
			continue;
		known = batch_find(q, be64_get(k));
		if (known != NULL && strcmp(status, BATCH_STATUS_WITHDRAWN) == 0)
			known->withdrawn = 1;
		if (strcmp(status, BATCH_STATUS_SENDING) != 0 || known != NULL)
			continue;
		if ((int64_t)rec_get_u64(v, vl, BS_SEND_AT, 0) > now)
			continue;
		ids[n] = be64_get(k);
		tests[n++] = (int)rec_get_u64(v, vl, BS_TEST, 0);
	}
	store_iter_close(&it);
	store_abort(&t);
	for (size_t i = 0; i < n; i++)
		if (batch_start(q, ids[i], tests[i], now, e) < 0)
			log_err("event=batch_not_started batch=%llu reason=\"%s\"",
				(unsigned long long)ids[i], e->msg);
	return 0;
}

/* ---- handing deliveries over ---- */

static int due(const struct qitem *it, int64_t now)
{
	if (it->in_flight || it->dirty)
		return 0;
	switch (it->d.state) {
	case DELIVERY_QUEUED:
	case DELIVERY_SENDING: /* taken back after a crash */
		return 1;
	case DELIVERY_DEFERRED:
		return it->d.next_at <= now;
	default:
		return 0;
	}
}

size_t queue_pick(struct queue *q, int64_t now, struct qitem **out, struct qbatch **ob,
		   size_t max)
{
	size_t n = 0;
	for (struct qbatch *b = q->batches; b != NULL && n < max; b = b->next)
		for (size_t i = 0; i < b->n && n < max && !b->withdrawn; i++)
			if (due(&b->items[i], now)) {
				ob[n] = b;
				out[n++] = &b->items[i];
			}
	return n;
}

void queue_record(struct queue *q, struct qitem *it, enum notice_event ev)
{
	if (!it->dirty) {
		if (q->ndirty == q->dirty_cap) {
			q->dirty_cap = q->dirty_cap ? 2 * q->dirty_cap : 256;
			q->dirty = xrealloc(q->dirty, q->dirty_cap * sizeof(*q->dirty));
		}
		if (q->ndirty == 0)
			q->dirty_since_ms = queue_ms_now();
		q->dirty[q->ndirty++] = it;
	}
	it->dirty = 1;
	it->event = (uint8_t)ev;
}

void queue_fail_now(struct queue *q, struct qitem *it, int64_t now, const char *why)
{
	it->d.state = DELIVERY_FAILED;
	it->d.last_at = now;
	str_copy(it->d.reply, why, sizeof(it->d.reply));
	queue_record(q, it, EV_FAILED);
}

/* ---- writing in groups: the bulk calls take at most KEYS_BATCH_MAX ---- */

int queue_put_deliveries(struct store_txn *t, size_t n, struct delivery *const *dp,
			  struct error *e)
{
	for (size_t i = 0; i < n; i += KEYS_BATCH_MAX)
		if (delivery_put_many(t, n - i < KEYS_BATCH_MAX ? n - i : KEYS_BATCH_MAX, dp + i, e) < 0)
			return -1;
	return 0;
}

/* The outcomes waiting (at most QUEUE_CHUNK) written into t with their
 * events: how many, for queue_dirty_done() once t is committed; -1 error. */
long queue_dirty_write(struct queue *q, struct store_txn *t, struct error *e)
{
	size_t n = q->ndirty < QUEUE_CHUNK ? q->ndirty : QUEUE_CHUNK;
	struct notice_event_rec *evs;
	struct delivery **dp;
	struct timeval tv;
	long ret = -1;

	if (n == 0)
		return 0;
	evs = xcalloc(n, sizeof(*evs));
	dp = xcalloc(n, sizeof(*dp));
	gettimeofday(&tv, NULL);
	for (size_t i = 0; i < n; i++) {
		struct qitem *it = q->dirty[i];
		evs[i].batch = it->d.batch;
		evs[i].seq = it->d.seq;
		/* One microsecond apart: events of one instant would each try
		 * the keys of those before (a MAC round trip each). */
		evs[i].time_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec + (int64_t)i;
		evs[i].type = (enum notice_event)it->event;
		evs[i].delay = -1;
		dp[i] = &it->d;
	}
	/* MACs a group per keys request; the events' audit records a group per
	 * request, each fsynced once by the keys process. */
	if (queue_put_deliveries(t, n, dp, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i += NOTICE_EVENTS_MANY_MAX)
		if (notice_event_add_many(t, evs + i,
					  n - i < NOTICE_EVENTS_MANY_MAX ? n - i : NOTICE_EVENTS_MANY_MAX,
					  e) < 0)
			goto out;
	ret = (long)n;
out:
	free(evs);
	free(dp);
	return ret;
}

/* The first n outcomes are committed. */
void queue_dirty_done(struct queue *q, size_t n)
{
	if (n == 0)
		return; /* q->dirty may be NULL */
	for (size_t i = 0; i < n; i++)
		q->dirty[i]->dirty = 0;
	memmove(q->dirty, q->dirty + n, (q->ndirty - n) * sizeof(*q->dirty));
	q->ndirty -= n;
	q->dirty_since_ms = queue_ms_now();
}

int queue_step(struct queue *q, int64_t now, struct error *e)
{
	int64_t t = queue_ms_now();
	int r;

	q->now = now;
	if (t - q->last_scan >= QUEUE_SCAN_MS) {
		q->last_scan = t;
		if (scan_batches(q, now, e) < 0)
			return -1;
	}
	if (!queue_submit_ready(q, e))
		return 0;
	queue_collect_built(q, false);
	if (!queue_submit_ready(q, e))
		return 0;
	if (q->in_flight >= q->cfg.window)
		return 0;
	r = queue_take_chunk(q, now, e);
	if (r < 0)
		return -1;
	queue_submit_ready(q, e);
	return r;
}

/* ---- outcomes ---- */

static struct qitem *item_find(struct queue *q, uint64_t cookie)
{
	struct qbatch *b = batch_find(q, cookie >> 32);
	uint32_t seq = (uint32_t)cookie;
	size_t lo = 0, hi;
	if (b == NULL)
		return NULL;
	hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->items[mid].d.seq == seq)
			return &b->items[mid];
		if (b->items[mid].d.seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void reply_text(const struct smtp_result *r, char *out, size_t outsize)
{
	if (r->code == 0)
		str_fmt(out, outsize, "%s", r->text);
	else
		str_fmt(out, outsize, "%d%s%s %s", r->code, r->status[0] ? " " : "", r->status,
			r->text);
}

void queue_outcome(struct queue *q, const struct pool_outcome *o)
{
	struct qitem *it = item_find(q, o->cookie);
	struct delivery *d;
	int64_t now = q->now > 0 ? q->now : now_utc();

	if (it == NULL || !it->in_flight)
		return;
	it->in_flight = 0;
	q->in_flight--;
	d = &it->d;
	d->last_at = now;
	reply_text(&o->r, d->reply, sizeof(d->reply));
	if (o->r.outcome == SMTP_SENT) {
		d->state = DELIVERY_SENT;
		d->sent_at = now;
		d->contacts++;
		str_copy(d->queue_id, o->r.queue_id, sizeof(d->queue_id));
		queue_record(q, it, EV_SENT);
		batch_find(q, o->cookie >> 32)->last_us = queue_us_now();
	} else if (o->r.outcome == SMTP_PERMFAIL) {
		d->state = DELIVERY_BOUNCED;
		str_copy(d->bounce_kind, "hard", sizeof(d->bounce_kind));
		str_copy(d->bounce_status, o->r.status[0] ? o->r.status : "5.0.0",
			 sizeof(d->bounce_status));
		queue_record(q, it, EV_BOUNCED);
	} else {
		d->attempts++;
		d->next_at = now + queue_backoff(d->attempts);
		if (o->not_before > d->next_at)
			d->next_at = o->not_before;
		if (now - d->created >= q->cfg.retry_for || d->attempts > q->cfg.retry_max ||
		    d->next_at - d->created > q->cfg.retry_for) {
			d->state = DELIVERY_FAILED;
			queue_record(q, it, EV_FAILED);
		} else {
			d->state = DELIVERY_DEFERRED;
			queue_record(q, it, EV_DEFERRED);
		}
	}
}

/* ---- committing and finishing ---- */

static int commit_dirty(struct queue *q, struct error *e)
{
	struct store_txn *t = NULL;
	int64_t t0 = queue_ms_now();
	long n;

	if (q->ndirty == 0)
		return 0;
	if (store_begin(q->sc->st, 1, &t, e) < 0)
		return -1;
	if ((n = queue_dirty_write(q, t, e)) < 0 || store_commit(&t, e) < 0) {
		store_abort(&t);
		return -1;
	}
	queue_dirty_done(q, (size_t)n);
	log_info("event=outcomes_recorded n=%ld ms=%lld", n, (long long)(queue_ms_now() - t0));
	return 0;
}

static void report_text(const struct qbatch *b, struct buf *out)
{
	size_t c[8] = { 0 };
	for (size_t i = 0; i < b->n; i++)
		if ((unsigned)b->items[i].d.state < 8)
			c[b->items[i].d.state]++;
	buf_printf(out,
		   "バッチ %llu%s の送信が終わりました。\n\n"
		   "対象の区民: %llu 件\n送信済み: %zu 件\n不達（宛先エラー）: %zu 件\n"
		   "送信失敗: %zu 件\n紙で通知する区民（アドレスなし等）: %llu 件\n\n"
		   "The batch %llu%s has been sent: %zu sent, %zu bounced, %zu failed, %llu on the "
		   "paper list.\n",
		   (unsigned long long)b->sb.id, b->sb.test ? "（テスト）" : "",
		   (unsigned long long)b->residents, c[DELIVERY_SENT], c[DELIVERY_BOUNCED],
		   c[DELIVERY_FAILED],
		   (unsigned long long)(b->residents - (b->sb.test ? b->residents : b->n)),
		   (unsigned long long)b->sb.id, b->sb.test ? " (test)" : "", c[DELIVERY_SENT],
		   c[DELIVERY_BOUNCED], c[DELIVERY_FAILED],
		   (unsigned long long)(b->residents - (b->sb.test ? b->residents : b->n)));
}

static int batch_finish(struct queue *q, struct qbatch *b, struct error *e)
{
	struct buf text;
	struct store_txn *t = NULL;
	int ret = -1;

	buf_init(&text, 16 << 10);
	report_text(b, &text);
	if (store_begin(q->sc->st, 1, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < q->cfg.nreport; i++) {
		struct mailreq m;
		memset(&m, 0, sizeof(m));
		str_copy(m.kind, "report", sizeof(m.kind));
		str_copy(m.to, q->cfg.report_to[i], sizeof(m.to));
		str_fmt(m.subject, sizeof(m.subject), "【便り】バッチ %llu の送信完了報告",
			(unsigned long long)b->sb.id);
		m.text = (char *)text.data;
		m.batch = b->sb.id;
		if (mailreq_add(t, &m, e) < 0)
			goto out;
	}
	if (store_commit(&t, e) < 0 ||
	    batches_set_status(q->sc->st, b->sb.id, BATCH_STATUS_SENDING, BATCH_STATUS_SENT, "mailer",
			       "mailer", "batch.sent", e) < 0)
		goto out;
	log_info("event=batch_sent batch=%llu report=\"%s\" handed=%zu bytes=%llu first_handed_us=%lld "
		 "last_sent_us=%lld",
		 (unsigned long long)b->sb.id, q->cfg.nreport ? "queued" : "none", b->handed,
		 (unsigned long long)b->bytes, (long long)b->first_us, (long long)b->last_us);
	ret = 0;
out:
	store_abort(&t);
	buf_free(&text);
	return ret;
}

static void finish_batches(struct queue *q, struct error *e)
{
	struct qbatch **pp = &q->batches;
	while (*pp != NULL) {
		struct qbatch *b = *pp;
		size_t i;
		for (i = 0; i < b->n; i++)
			if (!is_final(b->items[i].d.state) || b->items[i].dirty || b->items[i].in_flight)
				break;
		if (i < b->n || batch_finish(q, b, e) < 0) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		batch_free(b);
	}
}

int queue_flush(struct queue *q, int force, struct error *e)
{
	if (q->ndirty == 0 && q->in_flight == 0 && q->batches == NULL)
		return 0;
	while (q->ndirty > 0 &&
	       (force || q->ndirty >= QUEUE_CHUNK || q->in_flight == 0 ||
		queue_ms_now() - q->dirty_since_ms >= QUEUE_OUTCOME_WAIT_MS))
		if (commit_dirty(q, e) < 0)
			return -1;
	if (q->in_flight == 0 && q->ndirty == 0)
		finish_batches(q, e);
	return 0;
}
