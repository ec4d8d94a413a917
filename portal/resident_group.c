/*
 * resident_group.c — the group commit of the resident pages' events: one
 * writer thread takes the events many requests are waiting on, writes them
 * (with the access records they change) in one LMDB transaction with one
 * audit request to the keys process for all of them, commits, and only
 * then wakes those requests.  Nothing is answered before its event is
 * durable; a group that fails as a whole is retried one request at a time,
 * so one bad request does not fail the others.  A download of a notice
 * whose arrival is already committed need not wait: its event is queued
 * for the next group and the bytes go out at once (resident_record_later),
 * so a resident's repeated downloads cost no fsync each.  Stopping drains
 * what is queued.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/store.h"
#include "portal/live_notify.h"
#include "portal/resident.h"

/* One request's event, waiting in the queue on its own stack; or, queued
 * by resident_record_later, on the heap, freed by the writer. */
struct resident_job {
	uint64_t batch;
	uint32_t seq;
	enum notice_event ev;
	const char *ua;
	int later;       /* nobody waits: the writer frees it */
	int64_t time_us; /* when it happened; 0: when it is written */
	char ua_own[256]; /* a later job's copy of the user agent */
	int (*change)(struct store_txn *t, struct notice_access *a, void *arg);
	void *arg;
	struct notice_access after;
	struct error err;
	int done;
	int result;
	pthread_cond_t wake; /* signalled when done: only its own request wakes */
	struct resident_job *next;
};

/* What this transaction already read of a notice, as it stands now: many
 * requests of a group are often about one notice (a resident's viewer
 * fetching again), and each record read is a MAC check by keys. */
struct seen {
	uint64_t batch;
	uint32_t seq;
	int ar; /* the access record read (a later job's download needs none) */
	int dr; /* delivery_get's answer, 2 not read yet */
	struct notice_access a;
	struct delivery d;
};

static struct seen *seen_of(struct store_txn *t, struct seen *s, size_t *ns, uint64_t batch,
			    uint32_t seq, int access, struct error *e)
{
	struct seen *p = NULL;

	for (size_t i = 0; i < *ns && p == NULL; i++)
		if (s[i].batch == batch && s[i].seq == seq)
			p = &s[i];
	if (p == NULL) {
		p = &s[(*ns)++];
		memset(p, 0, sizeof(*p));
		p->batch = batch;
		p->seq = seq;
		p->dr = 2;
	}
	if (access && !p->ar) {
		if (access_get(t, batch, seq, &p->a, e) < 0)
			return NULL;
		p->ar = 1;
	}
	return p;
}

/* Notices whose arrival this process saw committed (a fixed table: a
 * notice pushed out only waits for its next download's commit again).
 * Under group_lock. */
#define ARRIVED_SLOTS 4096
struct resident_arrival {
	uint64_t batch;
	uint32_t seq;
	int set;
};

static struct resident_arrival *arrival_slot(struct resident_ctx *rc, uint64_t batch,
					     uint32_t seq)
{
	uint64_t h = (batch * 0x9E3779B97F4A7C15u) ^ ((uint64_t)seq * 0xC2B2AE3D27D4EB4Fu);

	return &rc->arrived[(h >> 32) % ARRIVED_SLOTS];
}

static void arrival_mark(struct resident_ctx *rc, uint64_t batch, uint32_t seq)
{
	struct resident_arrival *a = arrival_slot(rc, batch, seq);

	a->batch = batch;
	a->seq = seq;
	a->set = 1;
}

static int arrival_known(struct resident_ctx *rc, uint64_t batch, uint32_t seq)
{
	struct resident_arrival *a = arrival_slot(rc, batch, seq);

	return a->set && a->batch == batch && a->seq == seq;
}

/* Apply j in t: the access record, then the event (added to evs). */
static int job_apply(struct store_txn *t, struct resident_job *j, struct seen *seen, size_t *ns,
		     struct notice_event_rec *evs, size_t *nev, struct error *e)
{
	/* A later job (a download after the arrival) changes nothing and
	 * tells nobody the access record. */
	struct seen *s = seen_of(t, seen, ns, j->batch, j->seq, !j->later || j->change != NULL, e);
	int64_t now = j->time_us > 0 ? j->time_us / 1000000 : now_utc();
	int r;

	if (s == NULL)
		return -1;
	j->after = s->a;
	if (j->change != NULL) {
		r = j->change(t, &j->after, j->arg);
		if (r < 0) {
			if (e->msg[0] == '\0')
				err_set(e, "cannot update the access record");
			return -1;
		}
		if (r == 0 && access_put(t, &j->after, e) < 0)
			return -1;
		if (r == 0)
			s->a = j->after;
	}
	if (j->ev == 0)
		return 0;
	if (s->dr == 2)
		s->dr = delivery_get(t, j->batch, j->seq, &s->d, e);
	if (s->dr < 0)
		return -1;
	memset(&evs[*nev], 0, sizeof(evs[*nev]));
	evs[*nev].batch = j->batch;
	evs[*nev].seq = j->seq;
	evs[*nev].time_us = j->time_us; /* 0: the microsecond it is written */
	evs[*nev].type = j->ev;
	str_copy(evs[*nev].ua, j->ua != NULL ? j->ua : "", sizeof(evs[*nev].ua));
	evs[*nev].delay =
		s->dr == 0 && s->d.sent_at > 0 && now >= s->d.sent_at ? now - s->d.sent_at : -1;
	(*nev)++;
	return 0;
}

/* The last audit record a committed group appended, which keys still
 * counts as pending until it is confirmed. */
struct confirm {
	uint64_t seq;
	uint8_t mac[CRYPT_HASH_LEN];
};

/* Take over the confirmation store_commit would send: read the last audit
 * record of t and clear t's mark. */
static int confirm_take(struct store_txn *t, struct confirm *c, struct error *e)
{
	static const uint8_t zero[CRYPT_HASH_LEN];
	const void *k, *v;
	size_t kl, vl;

	if (store_txn_audit_seq(t) == 0)
		return 0;
	if (store_last(t, DB_AUDIT, &k, &kl, &v, &vl, e) != 0 || kl != 8 || vl < CRYPT_HASH_LEN)
		return err_set(e, "the audit record just appended is not there");
	c->seq = be64_get(k);
	memcpy(c->mac, (const uint8_t *)v + vl - CRYPT_HASH_LEN, CRYPT_HASH_LEN);
	store_txn_audit_mark(t, 0, zero);
	return 0;
}

/* Jobs first..(n of them) in one transaction: 0 committed, -1 not (e). */
static int group_write(struct resident_ctx *rc, struct resident_job *first, size_t n,
		       struct confirm *c, struct error *e)
{
	struct confirm got = { 0, { 0 } };
	struct notice_event_rec *evs = xcalloc(RESIDENT_GROUP_MAX, sizeof(*evs));
	struct seen *seen = xcalloc(RESIDENT_GROUP_MAX, sizeof(*seen));
	struct store_txn *t = NULL;
	struct resident_job *j = first;
	size_t nev = 0, ns = 0;
	int ret = -1;

	if (store_begin(rc->st, 1, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++, j = j->next) {
		/* A change callback may report through its own error. */
		j->err.msg[0] = '\0';
		if (job_apply(t, j, seen, &ns, evs, &nev, n == 1 ? &j->err : e) < 0) {
			if (n == 1)
				err_set(e, "%s", j->err.msg);
			goto out;
		}
	}
	/* The requests are answered once LMDB committed (durably: the
	 * portal's store is never in no-sync mode); keys is told after,
	 * off their path, or by the next group's append (keys_client.h). */
	for (size_t i = 0; i < nev; i += NOTICE_EVENTS_MANY_MAX)
		if (notice_event_add_many(t, evs + i,
					  nev - i < NOTICE_EVENTS_MANY_MAX ? nev - i
									   : NOTICE_EVENTS_MANY_MAX,
					  e) < 0)
			goto out;
	if (confirm_take(t, &got, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	if (got.seq != 0)
		*c = got;
	ret = 0;
out:
	store_abort(&t);
	secure_wipe(evs, RESIDENT_GROUP_MAX * sizeof(*evs));
	secure_wipe(seen, RESIDENT_GROUP_MAX * sizeof(*seen));
	free(evs);
	free(seen);
	return ret;
}

static void group_run(struct resident_ctx *rc, struct resident_job *first, size_t n,
		      struct confirm *c)
{
	struct error e = { { 0 }, 0 };
	struct resident_job *j;
	size_t i;

	if (group_write(rc, first, n, c, &e) == 0) {
		for (i = 0, j = first; i < n; i++, j = j->next)
			j->result = 0;
		return;
	}
	if (n > 1)
		log_warn("event=group_commit_failed n=%zu reason=\"%s\"", n, e.msg);
	/* One at a time: each gets its own answer. */
	for (i = 0, j = first; i < n; i++, j = j->next) {
		if (n > 1) {
			e.msg[0] = '\0';
			j->result = group_write(rc, j, 1, c, &e);
		} else {
			j->result = -1;
		}
		if (j->result < 0 && j->err.msg[0] == '\0')
			err_set(&j->err, "%s", e.msg[0] != '\0' ? e.msg : "cannot record the event");
	}
}

/* Tell keys the last group's records are in the store. */
static void confirm_send(struct resident_ctx *rc, struct confirm *c)
{
	struct error e = { { 0 }, 0 };

	if (c->seq == 0)
		return;
	/* A lost confirmation is not an error: the next append confirms. */
	if (keys_audit_commit(store_keys(rc->st), c->seq, c->mac, &e) < 0)
		log_warn("event=audit_confirm_failed seq=%llu reason=\"%s\"",
			 (unsigned long long)c->seq, e.msg);
	c->seq = 0;
}

/* A later job written or not: nobody waits, so a failure is logged here.
 * Under group_lock. */
static void later_done(struct resident_ctx *rc, struct resident_job *j)
{
	if (j->result < 0)
		log_err("event=event_write_failed type=%s batch=%llu seq=%u reason=\"%s\"",
			notice_event_name(j->ev), (unsigned long long)j->batch, j->seq, j->err.msg);
	rc->group_later--;
	secure_wipe(j, sizeof(*j));
	free(j);
}

static void *group_writer(void *arg)
{
	struct resident_ctx *rc = arg;
	struct confirm c = { 0, { 0 } };
	struct timespec until = { 0, 0 };
	int gathering = 0;

	pthread_mutex_lock(&rc->group_lock);
	for (;;) {
		struct resident_job *first, *j;
		size_t n = 0;

		/* Nothing more to write: confirm the last group now (with more,
		 * the next group's append confirms it). */
		if (rc->group_head == NULL && c.seq != 0) {
			pthread_mutex_unlock(&rc->group_lock);
			confirm_send(rc, &c);
			pthread_mutex_lock(&rc->group_lock);
			continue;
		}
		while (rc->group_head == NULL && !rc->group_stop)
			pthread_cond_wait(&rc->group_wake, &rc->group_lock);
		if (rc->group_head == NULL)
			break;
		/* Only events nobody waits for: let more come, up to a group
		 * or RESIDENT_LATER_DELAY_MS, so they share one commit. */
		if (rc->group_waiting == 0 && rc->group_queued < RESIDENT_GROUP_MAX &&
		    !rc->group_stop) {
			if (!gathering) {
				gathering = 1;
				clock_gettime(CLOCK_MONOTONIC, &until);
				until.tv_nsec += RESIDENT_LATER_DELAY_MS * 1000000L;
				until.tv_sec += until.tv_nsec / 1000000000L;
				until.tv_nsec %= 1000000000L;
			}
			if (pthread_cond_timedwait(&rc->group_wake, &rc->group_lock, &until) == 0)
				continue;
		}
		gathering = 0;
		/* Take what is queued, up to one group. */
		first = j = rc->group_head;
		for (n = 1; j->next != NULL && n < RESIDENT_GROUP_MAX; n++)
			j = j->next;
		rc->group_head = j->next;
		if (rc->group_head == NULL)
			rc->group_tail = NULL;
		j->next = NULL;
		rc->group_queued -= n;
		for (j = first; j != NULL; j = j->next)
			rc->group_waiting -= !j->later;
		pthread_mutex_unlock(&rc->group_lock);
		group_run(rc, first, n, &c);
		live_notify(first->batch); /* the dashboard's live view, at once */
		pthread_mutex_lock(&rc->group_lock);
		/* A woken request's job leaves with its stack: next first. */
		for (j = first; j != NULL;) {
			struct resident_job *next = j->next;
			if (j->result == 0 && j->after.downloaded_at != 0)
				arrival_mark(rc, j->batch, j->seq);
			if (j->later) {
				later_done(rc, j);
			} else {
				j->done = 1;
				pthread_cond_signal(&j->wake);
			}
			j = next;
		}
	}
	pthread_mutex_unlock(&rc->group_lock);
	return NULL;
}

/* The writer's condition, its timed waits on the monotonic clock (a
 * change of the wall clock neither holds nor hurries a group). */
static int cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int r;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 && pthread_cond_init(cv, &a) == 0
		    ? 0
		    : -1;
	pthread_condattr_destroy(&a);
	return r;
}

int resident_group_start(struct resident_ctx *rc, struct error *e)
{
	if (pthread_mutex_init(&rc->group_lock, NULL) != 0)
		return err_tmp(e, "cannot make a lock");
	rc->arrived = xcalloc(ARRIVED_SLOTS, sizeof(*rc->arrived));
	if (cond_init_monotonic(&rc->group_wake) != 0) {
		pthread_mutex_destroy(&rc->group_lock);
		free(rc->arrived);
		rc->arrived = NULL;
		return err_tmp(e, "cannot make a condition variable");
	}
	if (pthread_create(&rc->group_thread, NULL, group_writer, rc) != 0) {
		pthread_cond_destroy(&rc->group_wake);
		pthread_mutex_destroy(&rc->group_lock);
		free(rc->arrived);
		rc->arrived = NULL;
		return err_tmp(e, "cannot start the event writer");
	}
	rc->group_running = 1;
	return 0;
}

void resident_group_stop(struct resident_ctx *rc)
{
	if (!rc->group_running)
		return;
	pthread_mutex_lock(&rc->group_lock);
	rc->group_stop = 1;
	pthread_cond_signal(&rc->group_wake);
	pthread_mutex_unlock(&rc->group_lock);
	pthread_join(rc->group_thread, NULL);
	pthread_cond_destroy(&rc->group_wake);
	pthread_mutex_destroy(&rc->group_lock);
	free(rc->arrived);
	rc->arrived = NULL;
	rc->group_running = 0;
}

int resident_record(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
		    enum notice_event ev, const char *ua,
		    int (*change)(struct store_txn *t, struct notice_access *a, void *arg), void *arg,
		    struct notice_access *after, struct error *e)
{
	struct resident_job j;

	memset(&j, 0, sizeof(j));
	j.batch = batch;
	j.seq = seq;
	j.ev = ev;
	j.ua = ua;
	j.change = change;
	j.arg = arg;
	j.result = -1;
	if (pthread_cond_init(&j.wake, NULL) != 0)
		return err_tmp(e, "cannot make a condition variable");
	pthread_mutex_lock(&rc->group_lock);
	if (rc->group_stop) {
		pthread_mutex_unlock(&rc->group_lock);
		pthread_cond_destroy(&j.wake);
		return err_tmp(e, "the portal is stopping");
	}
	if (rc->group_tail != NULL)
		rc->group_tail->next = &j;
	else
		rc->group_head = &j;
	rc->group_tail = &j;
	rc->group_queued++;
	rc->group_waiting++;
	pthread_cond_signal(&rc->group_wake);
	while (!j.done)
		pthread_cond_wait(&j.wake, &rc->group_lock);
	pthread_mutex_unlock(&rc->group_lock);
	pthread_cond_destroy(&j.wake);
	if (j.result < 0) {
		if (e->msg[0] == '\0')
			err_set(e, "%s", j.err.msg);
	} else if (after != NULL) {
		*after = j.after;
	}
	secure_wipe(&j.after, sizeof(j.after));
	return j.result;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int resident_record_later(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
			  enum notice_event ev, const char *ua)
{
	struct resident_job *j = xcalloc(1, sizeof(*j));
	int wake;

	j->batch = batch;
	j->seq = seq;
	j->ev = ev;
	j->later = 1;
	j->time_us = now_us();
	str_copy(j->ua_own, ua != NULL ? ua : "", sizeof(j->ua_own));
	j->ua = j->ua_own;
	j->result = -1;
	pthread_mutex_lock(&rc->group_lock);
	if (rc->group_stop || rc->group_later >= RESIDENT_LATER_MAX ||
	    !arrival_known(rc, batch, seq)) {
		pthread_mutex_unlock(&rc->group_lock);
		secure_wipe(j, sizeof(*j));
		free(j);
		return 1;
	}
	rc->group_later++;
	rc->group_queued++;
	/* The writer is woken to start gathering, and when a group is full;
	 * not for every event. */
	wake = rc->group_head == NULL || rc->group_queued >= RESIDENT_GROUP_MAX;
	if (rc->group_tail != NULL)
		rc->group_tail->next = j;
	else
		rc->group_head = j;
	rc->group_tail = j;
	if (wake)
		pthread_cond_signal(&rc->group_wake);
	pthread_mutex_unlock(&rc->group_lock);
	return 0;
}
