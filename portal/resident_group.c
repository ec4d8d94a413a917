/*
 * resident_group.c — the group commit of the resident pages' events: one
 * writer thread takes the events many requests are waiting on, writes them
 * (with the access records they change) in one LMDB transaction with one
 * audit request to the keys process for all of them, commits, and only
 * then wakes those requests.  Nothing is answered before its event is
 * durable; a group that fails as a whole is retried one request at a time,
 * so one bad request does not fail the others.  Stopping drains what is
 * queued.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/store.h"
#include "portal/live_notify.h"
#include "portal/resident.h"

/* One request's event, waiting in the queue on its own stack. */
struct resident_job {
	uint64_t batch;
	uint32_t seq;
	enum notice_event ev;
	const char *ua;
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
	int dr; /* delivery_get's answer, 2 not read yet */
	struct notice_access a;
	struct delivery d;
};

static struct seen *seen_of(struct store_txn *t, struct seen *s, size_t *ns, uint64_t batch,
			    uint32_t seq, struct error *e)
{
	for (size_t i = 0; i < *ns; i++)
		if (s[i].batch == batch && s[i].seq == seq)
			return &s[i];
	memset(&s[*ns], 0, sizeof(s[*ns]));
	if (access_get(t, batch, seq, &s[*ns].a, e) < 0)
		return NULL;
	s[*ns].batch = batch;
	s[*ns].seq = seq;
	s[*ns].dr = 2;
	return &s[(*ns)++];
}

/* Apply j in t: the access record, then the event (added to evs). */
static int job_apply(struct store_txn *t, struct resident_job *j, struct seen *seen, size_t *ns,
		     struct notice_event_rec *evs, size_t *nev, struct error *e)
{
	struct seen *s = seen_of(t, seen, ns, j->batch, j->seq, e);
	int64_t now = now_utc();
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
	evs[*nev].time_us = 0; /* the microsecond it is written */
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
	struct notice_event_rec evs[RESIDENT_GROUP_MAX];
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
	if ((nev > 0 && notice_event_add_many(t, evs, nev, e) < 0) || confirm_take(t, &got, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	if (got.seq != 0)
		*c = got;
	ret = 0;
out:
	store_abort(&t);
	secure_wipe(evs, sizeof(evs));
	secure_wipe(seen, RESIDENT_GROUP_MAX * sizeof(*seen));
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

static void *group_writer(void *arg)
{
	struct resident_ctx *rc = arg;
	struct confirm c = { 0, { 0 } };

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
		/* Take what is queued, up to one group. */
		first = j = rc->group_head;
		for (n = 1; j->next != NULL && n < RESIDENT_GROUP_MAX; n++)
			j = j->next;
		rc->group_head = j->next;
		if (rc->group_head == NULL)
			rc->group_tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&rc->group_lock);
		group_run(rc, first, n, &c);
		live_notify(first->batch); /* the dashboard's live view, at once */
		pthread_mutex_lock(&rc->group_lock);
		/* A woken request's job leaves with its stack: next first. */
		for (j = first; j != NULL;) {
			struct resident_job *next = j->next;
			j->done = 1;
			pthread_cond_signal(&j->wake);
			j = next;
		}
	}
	pthread_mutex_unlock(&rc->group_lock);
	return NULL;
}

int resident_group_start(struct resident_ctx *rc, struct error *e)
{
	if (pthread_mutex_init(&rc->group_lock, NULL) != 0)
		return err_tmp(e, "cannot make a lock");
	if (pthread_cond_init(&rc->group_wake, NULL) != 0) {
		pthread_mutex_destroy(&rc->group_lock);
		return err_tmp(e, "cannot make a condition variable");
	}
	if (pthread_create(&rc->group_thread, NULL, group_writer, rc) != 0) {
		pthread_cond_destroy(&rc->group_wake);
		pthread_mutex_destroy(&rc->group_lock);
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
