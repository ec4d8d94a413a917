/*
 * queue_int.h — what the delivery state machine's two files share: the
 * queue's records (queue.c: batches, outcomes, commits) and the chunks
 * taken, built and handed to the pool (queue_chunk.c).  Runs in the mailer
 * process.
 */
#ifndef TAYORI_MAILER_QUEUE_INT_H
#define TAYORI_MAILER_QUEUE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/notice.h"
#include "lib/store.h"
#include "mailer/builder.h"
#include "mailer/queue.h"

struct qitem {
	struct delivery d;
	uint8_t in_flight;    /* handed to the pool, outcome not collected */
	uint8_t dirty;        /* changed, not yet committed */
	uint8_t event;        /* the event to record with it (enum notice_event) */
	char code[NOTICE_CODE_TEXT + 1]; /* the notice code once known ("" = read it) */
};

struct qbatch {
	struct send_batch sb;
	struct qitem *items;  /* in seq order */
	size_t n;
	uint64_t residents;   /* rows of the batch (mailed or not) */
	int withdrawn;        /* withdrawn while loaded: nothing more is handed over */
	/* For the benchmark (tests/bench/mailer-send), logged with batch_sent:
	 * messages and bytes handed to the pool by this process, when the
	 * first was handed over and when the last "sent" outcome came back
	 * (Unix microseconds). */
	size_t handed;
	uint64_t bytes;
	int64_t first_us, last_us;
	struct qbatch *next;
};

/* A built message waiting for room in the pool. */
struct qjob {
	struct pool_job job;
	struct qitem *it;
	struct qbatch *b;
};

struct queue {
	struct send_ctx *sc;
	struct pool *pool;
	struct queue_config cfg;
	struct qbatch *batches;
	int64_t last_scan;
	int64_t now;          /* the time of the last step (UTC seconds) */
	struct qjob *ready;   /* built, not yet taken by the pool */
	size_t nready, ready_at;
	size_t in_flight;
	struct builder *bld;  /* builds a chunk's messages while the next is committed */
	struct qitem **dirty; /* outcomes to commit */
	size_t ndirty, dirty_cap;
	int64_t dirty_since_ms;
};

struct chunk;

/* queue.c */
int64_t queue_us_now(void);
int64_t queue_ms_now(void);
/* Up to max deliveries due at now, with their batches. */
size_t queue_pick(struct queue *q, int64_t now, struct qitem **out, struct qbatch **ob,
		  size_t max);
/* it changed: to be committed with the event ev. */
void queue_record(struct queue *q, struct qitem *it, enum notice_event ev);
void queue_fail_now(struct queue *q, struct qitem *it, int64_t now, const char *why);
int queue_put_deliveries(struct store_txn *t, size_t n, struct delivery *const *dp,
			 struct error *e);
long queue_dirty_write(struct queue *q, struct store_txn *t, struct error *e);
void queue_dirty_done(struct queue *q, size_t n);

/* queue_chunk.c */
void queue_chunk_free(struct chunk *c);
/* The chunk the builder finished, if any (waiting for it when asked). */
void queue_collect_built(struct queue *q, bool wait);
/* Take, commit "sending" and post a chunk: 1 taken (or one still held),
 * 0 nothing to take, -1 error. */
int queue_take_chunk(struct queue *q, int64_t now, struct error *e);
/* Hand the built messages over while the pool takes them: 1 all taken. */
int queue_submit_ready(struct queue *q, struct error *e);

#endif
