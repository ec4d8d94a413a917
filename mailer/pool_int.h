/*
 * pool_int.h — private to the pool (pool.c, pool_domain.c,
 * pool_maildir.c): the pool's state and the helpers its pieces share.
 * Runs in the mailer process.
 */
#ifndef TAYORI_POOL_INT_H
#define TAYORI_POOL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mailer/pool.h"

#define POOL_DOMAIN_MAX 253        /* one domain name */
#define POOL_DOMAINS_MAX 4096      /* domains remembered at once */
#define POOL_CONNECTIONS_MAX 256
#define POOL_IN_FLIGHT_PER_CONN 32 /* max_in_flight when 0: this many per connection */
#define POOL_IN_FLIGHT_MAX 16384   /* jobs held at once (about 700 bytes each, plus messages) */
#define POOL_THROTTLE_HOLD_S 300   /* a throttled domain keeps its lowered rate this long */
#define POOL_THROTTLE_RETRY_S 60   /* a throttled message is retried no sooner than this */
#define POOL_IDLE_CLOSE_S 30       /* an idle connection is closed after this */
#define POOL_HOST_NAME_MAX 20      /* bytes of the host part of a Maildir file name */

/* One destination domain and its limits. */
struct pool_dom {
	char name[POOL_DOMAIN_MAX + 1];
	unsigned active;           /* workers now carrying its mail */
	unsigned queued;           /* its jobs waiting in the queue */
	double rate;               /* messages per minute now allowed; 0: no limit */
	int64_t next_ok;           /* monotonic ns: no message starts before */
	int64_t throttled_until;   /* monotonic ns: the lowered rate holds until */
	int64_t window_start;      /* monotonic ns: start of the counting window */
	unsigned long window_sent; /* messages started in the window */
	bool used;
};

struct pool_item {
	struct pool_job job;
	int dom; /* index in doms; -1 for the Maildir */
	/* A worker chaining jobs (pool.c) counts once for a domain: the next
	 * job of the same domain takes over the current one's slot. */
	bool slot_passed; /* this job's slot went on to the next: not released */
};

struct pool {
	struct pool_config cfg;
	struct smtp_config smtp; /* a copy; its strings borrowed from the caller */
	char *maildir;           /* the Maildir kind: its path */
	int newdir_fd;           /* its new/ folder, for fsync after rename */
	char host[POOL_HOST_NAME_MAX + 1]; /* this host, as a Maildir name part */
	unsigned long counter;   /* Maildir names */

	pthread_mutex_t mu;
	pthread_cond_t work_cv; /* workers: a job or a free domain slot */
	pthread_cond_t out_cv;  /* the collector: an outcome */

	struct pool_item *items; /* queued jobs, oldest first */
	size_t nitems, cap;
	struct pool_outcome *outs; /* ring of finished outcomes */
	size_t out_head, nouts;
	size_t in_flight;          /* submitted and not yet collected */
	bool stopping;

	struct pool_dom *doms;
	size_t ndoms;

	pthread_t *threads;
	unsigned nthreads;
};

/* Monotonic clock in nanoseconds. */
int64_t pool_now_ns(void);

/* --- pool_domain.c (called with mu held) --- */

/* The index of rcpt's domain, created when new; -1 when the table is full
 * of busy domains (cannot happen while queued jobs <= POOL_DOMAINS_MAX). */
int pool_dom_find(struct pool *p, const char *rcpt);
/* Whether a job of domain d may start now (has_slot: on a worker already
 * counted for d, so only the rate applies); when only its rate holds it
 * back, *wake is lowered to the time it may. */
bool pool_dom_ready(struct pool *p, int d, int64_t now, int64_t *wake, bool has_slot);
/* A job of domain d starts now (new_slot: one more worker carries d). */
void pool_dom_start(struct pool *p, int d, int64_t now, bool new_slot);
/* A job of domain d ended (release: its worker no longer carries d); with
 * throttle set its rate is halved for a while.  Returns not_before for
 * the outcome (Unix seconds), or 0. */
int64_t pool_dom_end(struct pool *p, int d, bool throttle, int64_t now, bool release);
/* When the pool is closing: the earliest time (Unix seconds) domain d
 * will take a message again. */
int64_t pool_dom_not_before(const struct pool *p, int d, int64_t now);

/* --- pool_maildir.c --- */

/* Prepare the Maildir (tmp/ new/ cur/) and the host name part. */
int pool_maildir_open(struct pool *p, struct error *e);
/* Write one job's message into new/ (outcome SENT, queue id = the file
 * name) or fail temporarily; never blocks on the pool's lock. */
void pool_maildir_write(struct pool *p, const struct pool_job *job, struct smtp_result *r);
void pool_maildir_close(struct pool *p);

#endif
