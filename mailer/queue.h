/*
 * queue.h — the delivery state machine of the batches being sent (the
 * states are lib/notice.h's).  Runs in the mailer process.
 *
 * A batch is sent once `tayori batch send` has moved it to "sending" and
 * its send_at (BS_SEND_AT) is due.  The queue then, in one write
 * transaction, makes one "queued" delivery record and the notice code for
 * every resident who gets mail (none for a row the batch holds back: no
 * address, an invalid one...: the paper list).  After a crash the records
 * are read back instead, and every "sending" one is due again.
 *
 * Each delivery then goes:
 *
 *   queued | deferred (next_at due) | sending (after a crash)
 *     -> "sending", with a fresh link token, committed before the message
 *        leaves (up to QUEUE_TAKE records per commit); the chunk's messages
 *        are then built by a thread of their own while the next chunk
 *        is committed
 *     -> the transport (mailer/pool.h) -> its outcome, recorded in bulk
 *        with an event each, in the same write transaction as the next
 *        chunk's "sending" records (one commit and one round of fsyncs per
 *        chunk), or on its own after QUEUE_OUTCOME_WAIT_MS, when nothing is
 *        in flight, or once QUEUE_CHUNK wait:
 *          accepted      -> sent (queue id, contacts + 1, sent_at)
 *          4xx, drop...  -> deferred (attempts + 1, next_at after a back-off of
 *                           1 min doubling to 1 h, never before the pool's
 *                           not_before), or failed once [mail] retry_for
 *                           since it was queued has passed or the attempts
 *                           exceed [mail] retry_max
 *          5xx           -> bounced (hard, with the status and the reply)
 *
 * When every delivery of a batch is final (sent, bounced or failed) the
 * batch becomes "sent" and a report (counts only, no names) is queued for
 * [mail] report_to (lib/mailreq.h).
 */
#ifndef TAYORI_QUEUE_H
#define TAYORI_QUEUE_H

#include <stdint.h>

#include "lib/util.h"
#include "mailer/pool.h"
#include "mailer/send.h"

#define QUEUE_CHUNK 512          /* most outcomes per write transaction */
#define QUEUE_TAKE 128           /* deliveries marked "sending" per write transaction */
/* Messages being built, handed over and not yet answered before another
 * chunk is taken: a few chunks, so that the SMTP connections still have
 * work while the next chunk is committed (the keys process's round trips
 * and fsyncs) and the one before is built (mailer/builder.h); they are
 * also what a crash may send twice.  With a chunk more, within the pool's
 * MAILER_IN_FLIGHT (512).  A chunk of 128: each commit's fixed cost (two
 * fsyncs, the keys requests) is what limits the rate (64 gave about 5,000
 * messages/s, 128 about 6,000 in tests/bench/mailer-send), while the
 * crash test's kills still find a mailer at work. */
#define QUEUE_WINDOW (3 * QUEUE_TAKE)
#define QUEUE_OUTCOME_WAIT_MS 250 /* an outcome waits no longer for the next chunk's commit */
#define QUEUE_SCAN_MS 100        /* a batch just sent is seen this soon (one read txn) */
#define QUEUE_BACKOFF_MIN 60     /* seconds: first retry */
#define QUEUE_BACKOFF_MAX 3600   /* seconds: longest wait between retries */
#define QUEUE_COOKIE_MAILQ  (UINT64_C(1) << 63) /* outcomes that are not a delivery's */
#define QUEUE_COOKIE_OUTBOX (UINT64_C(1) << 62)

struct queue_config {
	int64_t retry_for;        /* seconds from queued to failed */
	unsigned retry_max;       /* attempts after which a message fails */
	unsigned window;          /* most deliveries handed over and not answered */
	char report_to[SEND_TEST_MAX][SEND_ADDR_MAX + 1];
	size_t nreport;
};

struct queue;

int queue_open(struct send_ctx *sc, struct pool *pool, const struct queue_config *cfg,
	       struct queue **out, struct error *e);
void queue_close(struct queue **q);

/* Notice batches to send (at most every QUEUE_SCAN_MS), hand due deliveries to
 * the pool.  Returns 1 when more is due at once, 0 when idle, -1 on a store
 * error (logged; the caller goes on). */
int queue_step(struct queue *q, int64_t now, struct error *e);
/* Record one of the pool's outcomes (a cookie of a delivery), at the time
 * of the last step. */
void queue_outcome(struct queue *q, const struct pool_outcome *o);
/* Commit the recorded outcomes: at once with force, else when a chunk is
 * full or the oldest waits for more than a moment.  Then finish the
 * batches whose deliveries are all final. */
int queue_flush(struct queue *q, int force, struct error *e);
/* Deliveries handed over and not answered. */
size_t queue_in_flight(const struct queue *q);

/* The back-off before retry number attempts (1, 2, ...): pure. */
int64_t queue_backoff(uint32_t attempts);

#endif
