/*
 * queue_chunk.c — taking the due deliveries a chunk at a time: each chunk
 * committed "sending" (with the outcomes waiting) before any of its
 * messages leaves, built by GMime on the builder thread while the next is
 * committed, then handed to the SMTP pool.  Runs in the mailer process.
 */
#include "mailer/queue_int.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mailer/verp.h"

/* A chunk being taken: its deliveries, residents, tokens, return paths. */
struct chunk {
	struct qitem *items[QUEUE_TAKE];
	struct qbatch *bs[QUEUE_TAKE];
	struct send_resident rs[QUEUE_TAKE];
	int found[QUEUE_TAKE];
	struct delivery ds[QUEUE_TAKE], *dp[QUEUE_TAKE];
	uint64_t lb[QUEUE_TAKE];
	uint32_t ls[QUEUE_TAKE];
	int64_t le[QUEUE_TAKE];
	size_t at[QUEUE_TAKE];
	char tok[QUEUE_TAKE][NOTICE_TOKEN_LEN + 1];
	char mt[QUEUE_TAKE][NOTICE_TOKEN_LEN + 1];
	char vr[QUEUE_TAKE][VERP_ADDR_MAX + 1];
	char rp[QUEUE_TAKE][VERP_ADDR_MAX + 1];
	size_t n, m;
	/* Built by the builder thread (chunk_build_task). */
	const struct send_ctx *sc;
	int64_t now;
	struct pool_job jobs[QUEUE_TAKE];
	int built[QUEUE_TAKE];  /* 1 built, 0 not to send, -1 refused (err) */
	char err[QUEUE_TAKE][256];
};

void queue_chunk_free(struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++) {
		send_resident_free(&c->rs[i]);
		if (c->built[i] == 1)
			free(c->jobs[i].msg);
	}
	secure_wipe(c, sizeof(*c));
	free(c);
}

/* In t: read the chunk's residents and write its m deliveries "sending"
 * with fresh link tokens. */
static int chunk_mark(struct queue *q, struct chunk *c, struct store_txn *t, int64_t now,
		      struct error *e)
{
	for (size_t k = 0; k < c->n; k++) {
		c->lb[k] = c->bs[k]->sb.id;
		c->ls[k] = c->items[k]->d.seq;
	}
	/* The chunk's residents with one keys request for their data keys. */
	if (send_residents_read(t, c->n, c->lb, c->ls, c->rs, c->found, e) < 0)
		return -1;
	for (size_t k = 0; k < c->n; k++) {
		struct qitem *it = c->items[k];
		size_t m = c->m;
		if (!c->found[k] || send_rcpt(q->sc, &c->bs[k]->sb, &c->rs[k])[0] == '\0')
			continue; /* gone or no address: failed below */
		if (it->code[0] == '\0' &&
		    notice_code_get_or_new(t, it->d.batch, it->d.seq, it->code, e) < 0)
			return -1;
		c->ds[m] = it->d;
		c->ds[m].state = DELIVERY_SENDING;
		c->ds[m].last_at = now;
		c->dp[m] = &c->ds[m];
		c->lb[m] = c->ds[m].batch;
		c->ls[m] = c->ds[m].seq;
		c->le[m] = c->bs[k]->sb.expires;
		c->at[m] = k;
		c->m++;
	}
	/* The chunk's link tokens and records, a group of MACs per keys
	 * request, not two round trips per message. */
	for (size_t i = 0; i < c->m; i += KEYS_BATCH_MAX)
		if (notice_link_new_many(t, c->m - i < KEYS_BATCH_MAX ? c->m - i : KEYS_BATCH_MAX,
					 c->lb + i, c->ls + i, c->le + i, c->mt + i, e) < 0)
			return -1;
	return queue_put_deliveries(t, c->m, c->dp, e);
}

/* In the builder thread: build the chunk's messages.  Reads only the
 * chunk and the items it holds (in flight: the main thread leaves them be)
 * and the send context, which the main thread does not change. */
static void chunk_build_task(void *arg)
{
	struct chunk *c = arg;
	for (size_t k = 0; k < c->n; k++) {
		const struct qitem *it = c->items[k];
		struct error be = { { 0 }, 0 };
		if (it->d.state != DELIVERY_SENDING)
			continue;
		c->built[k] = send_build(c->sc, &c->bs[k]->sb, &c->rs[k], c->tok[k], it->code,
					 c->rp[k][0] != '\0' ? c->rp[k] : NULL, c->now, &c->jobs[k], &be) < 0
				      ? -1 : 1;
		if (c->built[k] < 0)
			str_copy(c->err[k], be.msg, sizeof(c->err[k]));
	}
}

/* Back in the main thread: the built messages into q->ready (empty: taken
 * only once the pool took all), those that could not be built failed. */
static void chunk_collect(struct queue *q, struct chunk *c)
{
	q->nready = q->ready_at = 0;
	for (size_t k = 0; k < c->n; k++) {
		struct qitem *it = c->items[k];
		struct qjob *j = &q->ready[q->nready];
		it->in_flight = 0;
		q->in_flight--;
		if (c->built[k] == 0) {
			queue_fail_now(q, it, c->now, "no address to send to");
			continue;
		}
		if (c->built[k] < 0) {
			log_warn("event=message_refused batch=%llu seq=%u reason=\"%s\"",
				 (unsigned long long)c->bs[k]->sb.id, it->d.seq, c->err[k]);
			queue_fail_now(q, it, c->now, c->err[k]);
			continue;
		}
		j->job = c->jobs[k];
		c->built[k] = 0; /* the message is the job's now */
		j->job.cookie = c->bs[k]->sb.id << 32 | it->d.seq;
		j->it = it;
		j->b = c->bs[k];
		it->in_flight = 1;
		q->in_flight++;
		q->nready++;
	}
	queue_chunk_free(c);
}

/* The chunk the builder finished, if any (waiting for it when asked). */
void queue_collect_built(struct queue *q, bool wait)
{
	struct chunk *c = builder_take(q->bld, wait);
	if (c != NULL)
		chunk_collect(q, c);
}

/* Hand the committed chunk to the builder once it is free: its items are
 * in flight from now on (no other chunk takes them). */
static void chunk_post(struct queue *q, struct chunk *c, int64_t now)
{
	c->sc = q->sc;
	c->now = now;
	for (size_t k = 0; k < c->n; k++) {
		c->items[k]->in_flight = 1;
		q->in_flight++;
	}
	queue_collect_built(q, true);
	if (builder_post(q->bld, chunk_build_task, c) < 0) /* cannot be: just taken */
		chunk_build_task(c), chunk_collect(q, c);
}

/* Mark a chunk "sending" and build its messages.  The outcomes waiting
 * are written in the same transaction: one commit (and one round of
 * fsyncs) per chunk, not one for the chunk and one for its outcomes. */
int queue_take_chunk(struct queue *q, int64_t now, struct error *e)
{
	struct chunk *c = xcalloc(1, sizeof(*c));
	struct store_txn *t = NULL;
	int64_t t0 = queue_ms_now(), t1 = 0;
	long nout = 0;
	int ret = -1;

	c->n = queue_pick(q, now, c->items, c->bs, QUEUE_TAKE);
	if (c->n == 0) {
		/* Nothing more to take: the chunk being built goes out now. */
		ret = builder_held(q->bld) ? 1 : 0;
		queue_collect_built(q, true);
		goto out;
	}
	if (store_begin(q->sc->st, 1, &t, e) < 0 || (nout = queue_dirty_write(q, t, e)) < 0 ||
	    chunk_mark(q, c, t, now, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	queue_dirty_done(q, (size_t)nout);
	t1 = queue_ms_now();
	/* The same line as commit_dirty()'s (tests/integration/mailer_crash.py
	 * counts the outcomes a mailer has committed). */
	if (nout > 0)
		log_info("event=outcomes_recorded n=%ld ms=%lld with=chunk", nout,
			 (long long)(t1 - t0));
	/* The chunk's return paths in one keys request (else one each below). */
	if (verp_addresses(q->sc->kc, c->m, c->lb, c->ls, q->sc->verp_domain, c->vr, e) == 0)
		for (size_t i = 0; i < c->m; i++)
			memcpy(c->rp[c->at[i]], c->vr[i], sizeof(c->vr[i]));
	for (size_t i = 0; i < c->m; i++) {
		c->items[c->at[i]]->d = c->ds[i];
		memcpy(c->tok[c->at[i]], c->mt[i], sizeof(c->mt[i]));
	}
	ret = 1;
	/* The wait is for the previous chunk's building, done meanwhile. */
	log_info("event=chunk_taken n=%zu outcomes=%ld ms=%lld", c->n, nout, (long long)(t1 - t0));
	chunk_post(q, c, now);
	c = NULL;
	log_info("event=chunk_posted wait_ms=%lld", (long long)(queue_ms_now() - t1));
out:
	store_abort(&t);
	if (c != NULL)
		queue_chunk_free(c);
	return ret;
}

/* Hand the built messages over while the pool takes them: 1 all taken. */
int queue_submit_ready(struct queue *q, struct error *e)
{
	while (q->ready_at < q->nready) {
		struct qjob *j = &q->ready[q->ready_at];
		size_t len = j->job.len;
		int r = pool_submit(q->pool, &j->job, e);
		if (r == 1)
			return 0;
		if (r < 0) {
			log_err("event=pool_refused reason=\"%s\"", e->msg);
			return 0;
		}
		j->job.msg = NULL;
		q->ready_at++;
		if (j->b->handed++ == 0)
			j->b->first_us = queue_us_now();
		j->b->bytes += len;
	}
	return 1;
}
