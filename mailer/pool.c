/*
 * pool.c — the mailer's outgoing transport (see pool.h): a bounded queue of
 * jobs, worker threads that each own one SMTP connection to the relay
 * (opened when first needed, carrying many messages, reopened when it
 * dies, closed when idle) or write into the Maildir, and a queue of
 * outcomes, one per job.  A worker takes the oldest job whose destination
 * domain is under its limits (pool_domain.c).  Runs in the mailer process.
 */
#include "mailer/pool_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t pool_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define POOL_WAKE_OUTCOMES 32

static void deadline_in(struct timespec *ts, int64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ns += ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
}

/* One worker's connection and when it last carried a message. */
struct worker {
	struct pool *p;
	struct smtp_conn *c;
	int64_t last_used;
};

static void fail_result(struct smtp_result *r, enum smtp_outcome o, enum smtp_stage st, const char *why)
{
	memset(r, 0, sizeof *r);
	r->outcome = o;
	r->stage = st;
	r->dead = o == SMTP_TEMPFAIL;
	str_copy(r->text, why, sizeof r->text);
}

/* Send one job over the worker's connection, opening it first when
 * needed; a connection found closed by the relay since its last message
 * (nothing of this message was accepted) is reopened and tried once more. */
static void smtp_job(struct worker *w, const struct pool_job *job, struct smtp_result *r)
{
	struct error e = {{0}, 0};

	for (int attempt = 0; attempt < 2; attempt++) {
		bool reused = true;
		if (w->c != NULL && !smtp_conn_alive(w->c))
			smtp_close(&w->c);
		if (w->c == NULL) {
			reused = false;
			struct smtp_result refused;
			if (smtp_open_reply(&w->p->smtp, &w->c, &refused, &e) < 0) {
				fail_result(r, SMTP_TEMPFAIL, SMTP_STAGE_CONNECT, e.msg);
				/* The relay's own refusal: its code, and a 421 slows
				 * the domain down like any throttle. */
				r->code = refused.code;
				str_copy(r->status, refused.status, sizeof r->status);
				r->throttle = refused.throttle;
				return;
			}
		}
		if (smtp_send(w->c, job->mail_from, job->rcpt, job->msg, job->len, r, &e) < 0) {
			/* the call was refused: an address that could inject a command */
			fail_result(r, SMTP_PERMFAIL, SMTP_STAGE_MAIL, e.msg);
			r->dead = false;
			return;
		}
		if (!r->dead)
			return;
		smtp_close(&w->c);
		if (!(reused && attempt == 0 && r->code == 0 && r->stage == SMTP_STAGE_MAIL))
			return;
	}
}

/* The oldest job that may start now, taken out of the queue; false when
 * none may (then *wake says when a rate limit lifts, or stays INT64_MAX).
 * carry: the domain whose slot the worker holds and passes on to a next
 * job of the same domain (-1: none). */
static bool take(struct pool *p, struct pool_item *out, int64_t now, int64_t *wake, int carry)
{
	for (size_t i = 0; i < p->nitems; i++) {
		int d = p->items[i].dom;
		bool inherit = d >= 0 && d == carry;
		if (d >= 0 && !pool_dom_ready(p, d, now, wake, inherit))
			continue;
		*out = p->items[i];
		out->slot_passed = false;
		memmove(&p->items[i], &p->items[i + 1], (p->nitems - i - 1) * sizeof *p->items);
		p->nitems--;
		if (d >= 0)
			pool_dom_start(p, d, now, !inherit);
		return true;
	}
	return false;
}

static void push_outcome(struct pool *p, uint64_t cookie, const struct smtp_result *r, int64_t not_before)
{
	struct pool_outcome *o = &p->outs[(p->out_head + p->nouts) % p->cap];
	o->cookie = cookie;
	o->r = *r;
	o->not_before = not_before;
	p->nouts++;
	/* The collector is woken for a group of outcomes, or the last one in
	 * flight, not for each: one thread switch per message costs more than
	 * the message's bytes.  It waits no longer than its own time-out. */
	if (p->nouts >= POOL_WAKE_OUTCOMES || p->nouts >= p->in_flight)
		pthread_cond_signal(&p->out_cv);
}

/* When closing: answer every job that only a rate limit holds back, so
 * that drain does not wait minutes for a throttled domain. */
static void answer_held(struct pool *p, int64_t now)
{
	size_t k = 0;
	for (size_t i = 0; i < p->nitems; i++) {
		struct pool_item *it = &p->items[i];
		int64_t wake = INT64_MAX;
		if (it->dom >= 0 && !pool_dom_ready(p, it->dom, now, &wake, false) && wake != INT64_MAX) {
			struct smtp_result r;
			fail_result(&r, SMTP_TEMPFAIL, SMTP_STAGE_CONNECT, "not sent: the pool closed while the domain's rate held it back");
			r.dead = false;
			p->doms[it->dom].queued--;
			push_outcome(p, it->job.cookie, &r, pool_dom_not_before(p, it->dom, now));
			free(it->job.msg);
			continue;
		}
		p->items[k++] = *it;
	}
	p->nitems = k;
}

/* Record a job's outcome (its message freed); returns with mu held. */
static void job_done(struct worker *w, struct pool_item *it, const struct smtp_result *r)
{
	struct pool *p = w->p;
	int64_t nb = 0, now;

	free(it->job.msg);
	it->job.msg = NULL;
	now = pool_now_ns();
	w->last_used = now;
	pthread_mutex_lock(&p->mu);
	if (it->dom >= 0)
		nb = pool_dom_end(p, it->dom, r->outcome == SMTP_TEMPFAIL && r->throttle, now, !it->slot_passed);
	push_outcome(p, it->job.cookie, r, nb);
	if (p->nitems > 0)
		pthread_cond_broadcast(&p->work_cv); /* a domain slot is free again */
}

/* The job to chain after cur, when one may start now (no waiting: cur's
 * message is under way); one of cur's domain takes over its slot. */
static bool take_next(struct pool *p, struct pool_item *cur, struct pool_item *out)
{
	int64_t wake = INT64_MAX;
	bool got;

	pthread_mutex_lock(&p->mu);
	got = take(p, out, pool_now_ns(), &wake, cur->dom);
	if (got && cur->dom >= 0 && out->dom == cur->dom)
		cur->slot_passed = true;
	pthread_mutex_unlock(&p->mu);
	return got;
}

/* Write a job's envelope (chained after cur, or NULL); one whose address
 * the SMTP client refuses gets its outcome at once (false), and a slot it
 * took over from cur stays cur's. */
static bool chain_envelope(struct worker *w, struct pool_item *cur, struct pool_item *it)
{
	struct error e = {{0}, 0};
	struct smtp_result r;

	if (smtp_pipe_envelope(w->c, it->job.mail_from, it->job.rcpt, &e) == 0)
		return true;
	if (cur != NULL && cur->slot_passed) {
		it->slot_passed = true; /* not its own to release */
		cur->slot_passed = false;
	}
	fail_result(&r, SMTP_PERMFAIL, SMTP_STAGE_MAIL, e.msg);
	r.dead = false;
	job_done(w, it, &r);
	pthread_mutex_unlock(&w->p->mu);
	return false;
}

/* Jobs over an open connection that pipelines (RFC 2920): while a job's
 * content is written, the next job is taken and its envelope goes in the
 * same write, so each message costs one round trip.  Returns with mu held
 * after the last job's outcome. */
static void chain_jobs(struct worker *w, struct pool_item *it)
{
	struct pool_item next;
	struct smtp_result r;

	if (!chain_envelope(w, NULL, it)) {
		pthread_mutex_lock(&w->p->mu);
		return;
	}
	smtp_pipe_flush(w->c);
	for (;;) {
		bool have;
		if (smtp_pipe_envelope_replies(w->c, &r) < 0) {
			if (r.dead)
				smtp_close(&w->c);
			/* The link was lost before MAIL was answered (a relay
			 * closing an idle connection, or one that ends them after
			 * so many messages): nothing was accepted, so once more on
			 * a fresh connection, as smtp_job does. */
			if (r.dead && r.code == 0 && r.stage == SMTP_STAGE_MAIL)
				smtp_job(w, &it->job, &r);
			job_done(w, it, &r);
			return;
		}
		smtp_pipe_content(w->c, it->job.msg, it->job.len);
		have = smtp_conn_alive(w->c) && take_next(w->p, it, &next) && chain_envelope(w, it, &next);
		smtp_pipe_flush(w->c);
		smtp_pipe_content_reply(w->c, &r);
		if (r.dead)
			smtp_close(&w->c);
		job_done(w, it, &r);
		if (!have)
			return;
		pthread_mutex_unlock(&w->p->mu);
		*it = next;
		if (w->c == NULL) { /* its envelope went out on a link now lost: not accepted */
			smtp_job(w, &it->job, &r);
			job_done(w, it, &r);
			return;
		}
	}
}

static void run_job(struct worker *w, struct pool_item *it)
{
	struct smtp_result r;

	if (w->p->maildir != NULL) {
		pool_maildir_write(w->p, &it->job, &r);
	} else if (smtp_conn_alive(w->c) && smtp_conn_pipelining(w->c)) {
		chain_jobs(w, it);
		return;
	} else {
		smtp_job(w, &it->job, &r);
	}
	job_done(w, it, &r);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	struct pool_item it;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		int64_t now = pool_now_ns(), wake = INT64_MAX;
		struct timespec ts;
		if (take(p, &it, now, &wake, -1)) {
			pthread_mutex_unlock(&p->mu);
			run_job(w, &it); /* returns with mu held */
			continue;
		}
		if (p->stopping) {
			answer_held(p, now);
			if (p->nitems == 0)
				break;
		}
		if (w->c != NULL && now - w->last_used >= (int64_t)POOL_IDLE_CLOSE_S * 1000000000) {
			pthread_mutex_unlock(&p->mu);
			smtp_close(&w->c);
			pthread_mutex_lock(&p->mu);
			continue;
		}
		if (wake == INT64_MAX)
			wake = now + (int64_t)POOL_IDLE_CLOSE_S * 1000000000;
		deadline_in(&ts, wake > now ? wake - now : 0);
		pthread_cond_timedwait(&p->work_cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	smtp_close(&w->c);
	free(w);
	return NULL;
}

static int init_sync(struct pool *p, struct error *e)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0)
		return err_tmp(e, "cannot set up the mail pool's condition variables");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, &ca);
	pthread_cond_init(&p->out_cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static int start_workers(struct pool *p, unsigned n, struct error *e)
{
	p->threads = xcalloc(n, sizeof *p->threads);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = xcalloc(1, sizeof *w);
		int rc;
		w->p = p;
		rc = pthread_create(&p->threads[i], NULL, worker_main, w);
		if (rc != 0) {
			free(w);
			return err_tmp(e, "cannot start a mail worker thread: %s", strerror(rc));
		}
		p->nthreads++;
	}
	return 0;
}

static int check_config(const struct pool_config *cfg, struct error *e)
{
	if (cfg->smtp == NULL && (cfg->maildir == NULL || cfg->maildir[0] == '\0'))
		return err_set(e, "mail pool: neither a relay nor a Maildir is configured");
	if (cfg->connections > POOL_CONNECTIONS_MAX)
		return err_set(e, "mail pool: at most %d connections", POOL_CONNECTIONS_MAX);
	if (cfg->max_in_flight > POOL_IN_FLIGHT_MAX)
		return err_set(e, "mail pool: at most %d messages in flight", POOL_IN_FLIGHT_MAX);
	return 0;
}

int pool_open(const struct pool_config *cfg, struct pool **out, struct error *e)
{
	struct pool *p;
	unsigned n;

	*out = NULL;
	if (check_config(cfg, e) < 0)
		return -1;
	p = xcalloc(1, sizeof *p);
	p->cfg = *cfg;
	p->newdir_fd = -1;
	n = cfg->connections ? cfg->connections : 8;
	p->cfg.connections = n;
	if (p->cfg.per_domain_connections == 0 || p->cfg.per_domain_connections > n)
		p->cfg.per_domain_connections = n;
	p->cap = cfg->max_in_flight ? cfg->max_in_flight : (size_t)n * POOL_IN_FLIGHT_PER_CONN;
	p->items = xcalloc(p->cap, sizeof *p->items);
	p->outs = xcalloc(p->cap, sizeof *p->outs);
	p->doms = xcalloc(POOL_DOMAINS_MAX, sizeof *p->doms);
	if (cfg->smtp != NULL) {
		p->smtp = *cfg->smtp;
		p->cfg.smtp = &p->smtp;
	} else {
		p->cfg.maildir = NULL;
		p->maildir = xstrdup(cfg->maildir);
		if (pool_maildir_open(p, e) < 0)
			goto fail;
	}
	if (init_sync(p, e) < 0)
		goto fail;
	if (start_workers(p, n, e) < 0) {
		pool_close(&p);
		return -1;
	}
	*out = p;
	return 0;
fail:
	pool_maildir_close(p);
	free(p->maildir);
	free(p->items);
	free(p->outs);
	free(p->doms);
	free(p);
	return -1;
}

int pool_submit(struct pool *p, struct pool_job *job, struct error *e)
{
	int d = -1;

	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return err_set(e, "mail pool: closing, no new messages taken");
	}
	if (p->in_flight >= p->cap) {
		pthread_mutex_unlock(&p->mu);
		return 1;
	}
	if (p->maildir == NULL) {
		d = pool_dom_find(p, job->rcpt);
		if (d < 0) {
			pthread_mutex_unlock(&p->mu);
			return 1;
		}
		p->doms[d].queued++;
	}
	p->items[p->nitems].job = *job;
	p->items[p->nitems].dom = d;
	p->nitems++;
	p->in_flight++;
	job->msg = NULL;
	job->len = 0;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

size_t pool_collect(struct pool *p, struct pool_outcome *out, size_t max, int wait_ms)
{
	size_t n = 0;
	struct timespec ts;

	pthread_mutex_lock(&p->mu);
	/* nothing in flight: nothing to wait for (wait_ms < 0 would never return) */
	if (p->nouts == 0 && p->in_flight > 0 && wait_ms != 0 && max > 0) {
		deadline_in(&ts, (int64_t)(wait_ms < 0 ? 0 : wait_ms) * 1000000);
		while (p->nouts == 0) {
			int rc = wait_ms < 0 ? pthread_cond_wait(&p->out_cv, &p->mu)
					     : pthread_cond_timedwait(&p->out_cv, &p->mu, &ts);
			if (rc == ETIMEDOUT)
				break;
			if (wait_ms < 0 && p->nthreads == 0 && p->nouts == 0)
				break;
		}
	}
	while (n < max && p->nouts > 0) {
		out[n++] = p->outs[p->out_head];
		p->out_head = (p->out_head + 1) % p->cap;
		p->nouts--;
		p->in_flight--;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

size_t pool_in_flight(const struct pool *p)
{
	struct pool *q = (struct pool *)(uintptr_t)p; /* the lock only */
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->in_flight;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void pool_drain(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_lock(&p->mu);
	p->nthreads = 0;
	pthread_cond_broadcast(&p->out_cv);
	pthread_mutex_unlock(&p->mu);
}

void pool_close(struct pool **pp)
{
	struct pool *p = pp ? *pp : NULL;

	if (p == NULL)
		return;
	pool_drain(p);
	for (size_t i = 0; i < p->nitems; i++)
		free(p->items[i].job.msg);
	pool_maildir_close(p);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->out_cv);
	free(p->threads);
	free(p->maildir);
	free(p->items);
	free(p->outs);
	free(p->doms);
	free(p);
	*pp = NULL;
}
