/*
 * mailer.c — the mailer role's main loop.  Runs in the mailer process.
 *
 * The mailer sends each resident a tokenised link (SMTP, RFC 5321) when a
 * batch is being sent (mailer/queue.h), the mail other processes ask for
 * (one-time passwords, reports: mailer/mailq.h) and, through a relay, the
 * replies to staff the gateway queued (mailer/outbox.h).  All of them go
 * through one transport (mailer/pool.h): the relay of [mail] relay, or the
 * outbox Maildir when none is set (the demo).  It never holds a private
 * key: it asks the keys process to unwrap the data keys of the records it
 * reads, to MAC the records it writes and to sign DKIM digests.
 *
 * One loop: poll the mail requests (every 250 ms) and the outbox, read the
 * bounce mailbox (mailer/bounce_reader.h: a Maildir and/or IMAP), queue the
 * reminders the batches' 督促 schedules make due and the mail to staff of
 * mailer/digest.h (the daily summary, "the paper list is final"), both
 * once a minute, notice
 * batches to send, hand due deliveries over, collect the pool's outcomes
 * and commit them in bulk.  On stop (the supervisor closes the channel) the
 * pool finishes what it holds and the outcomes are committed.
 */
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/remind.h"
#include "lib/role.h"
#include "lib/store.h"
#include "mailer/bounce_reader.h"
#include "mailer/digest.h"
#include "mailer/mailq.h"
#include "mailer/outbox.h"
#include "mailer/pool.h"
#include "mailer/queue.h"
#include "mailer/send.h"

#define MAILER_IN_FLIGHT 512     /* messages handed to the pool at once (2 chunks) */
#define MAILER_COLLECT 512
#define MAILER_REMIND_EVERY 60   /* seconds between looks at the 督促 schedules */

/* The transport's configuration (pool.h), kept while the pool runs. */
struct transport {
	struct smtp_config smtp;
	struct pool_conf_buf buf;
};

struct mailer {
	struct send_ctx sc;
	struct pool *pool;
	struct queue *q;
	struct mailq *mq;
	struct outbox *ob;     /* NULL without a relay */
	struct bounce_reader *br;
	struct digest *dg;
	struct pool_outcome outs[MAILER_COLLECT];
};

static void dispatch(struct mailer *m, int wait_ms)
{
	size_t n = pool_collect(m->pool, m->outs, MAILER_COLLECT, wait_ms);
	for (size_t i = 0; i < n; i++) {
		const struct pool_outcome *o = &m->outs[i];
		if (o->cookie & QUEUE_COOKIE_MAILQ)
			mailq_outcome(m->mq, o);
		else if (o->cookie & QUEUE_COOKIE_OUTBOX) {
			if (m->ob != NULL)
				outbox_outcome(m->ob, o);
		} else
			queue_outcome(m->q, o);
	}
}

static int mailer_open(struct role_ctx *ctx, struct store *st, struct keys_client *kc,
		       const char *outbox, struct transport *tr, struct mailer *m, struct error *e)
{
	struct pool_config pc;
	struct queue_config qc;

	memset(&qc, 0, sizeof(qc));
	if (send_ctx_init(&m->sc, st, kc, ctx->conf, e) < 0 ||
	    pool_config_from_conf(ctx->conf, &pc, &tr->smtp, &tr->buf, e) < 0)
		return -1;
	pc.max_in_flight = MAILER_IN_FLIGHT;
	qc.retry_for = conf_int(ctx->conf, "mail", "retry_for");
	qc.retry_max = (unsigned)conf_int(ctx->conf, "mail", "retry_max");
	/* Few in flight: they are what a crash may send twice; the keys
	 * process's round trips, not the relay, set the pace. */
	qc.window = QUEUE_WINDOW;
	if (send_addr_list(conf_str(ctx->conf, "mail", "report_to"), qc.report_to, SEND_TEST_MAX,
			   &qc.nreport, e) < 0)
		return err_set(e, "[mail] report_to: %s", e->msg);
	if (pool_open(&pc, &m->pool, e) < 0 || queue_open(&m->sc, m->pool, &qc, &m->q, e) < 0 ||
	    mailq_open(&m->sc, m->pool, qc.retry_for, &m->mq, e) < 0)
		return -1;
	if (pc.smtp != NULL && outbox_open(&m->sc, m->pool, outbox, &m->ob, e) < 0)
		return -1;
	if (digest_open(ctx->conf, st, &m->dg, e) < 0)
		return -1;
	return bounce_reader_new(ctx->conf, st, &m->br, e);
}

/* The batches whose 督促 schedule has a reminder due (lib/remind.h): their
 * unopened deliveries are queued again and the batch is sending again. */
static void remind_now(struct mailer *m, int64_t *last)
{
	struct error e = { { 0 }, 0 };
	size_t n = 0;
	int64_t now = now_utc();
	if (now - *last < MAILER_REMIND_EVERY)
		return;
	*last = now;
	if (remind_scheduled(m->sc.st, now, &n, &e) < 0)
		log_err("event=remind_failed reason=\"%s\"", e.msg);
	else if (n > 0)
		log_info("event=reminders_queued residents=%zu", n);
}

static void mailer_run(struct role_ctx *ctx, struct mailer *m)
{
	struct error e = { { 0 }, 0 };
	int64_t last_remind = 0;
	for (;;) {
		int busy, wait;
		size_t flying, queued;
		if (role_wait_parent(ctx, 0) != 0)
			break;
		remind_now(m, &last_remind);
		if (digest_step(m->dg, now_utc(), &queued, &e) < 0)
			log_err("event=digest_failed reason=\"%s\"", e.msg);
		if (mailq_step(m->mq, &e) < 0)
			log_err("event=mailq_failed reason=\"%s\"", e.msg);
		if (m->ob != NULL)
			outbox_step(m->ob, &e);
		if (bounce_reader_enabled(m->br) && bounce_reader_step(m->br, 0, &e) < 0)
			log_err("event=bounce_read_failed reason=\"%s\"", e.msg);
		busy = queue_step(m->q, now_utc(), &e);
		if (busy < 0)
			log_err("event=queue_failed reason=\"%s\"", e.msg);
		flying = pool_in_flight(m->pool);
		wait = busy > 0 ? 0 : flying > 0 ? 20 : 0;
		dispatch(m, wait);
		if (queue_flush(m->q, 0, &e) < 0)
			log_err("event=queue_commit_failed reason=\"%s\"", e.msg);
		if (busy <= 0 && pool_in_flight(m->pool) == 0 && role_wait_parent(ctx, 100) != 0)
			break;
	}
	/* Stopping: let the pool answer for what it holds, record it. */
	pool_drain(m->pool);
	while (pool_in_flight(m->pool) > 0)
		dispatch(m, 100);
	if (queue_flush(m->q, 1, &e) < 0)
		log_err("event=queue_commit_failed reason=\"%s\"", e.msg);
}

int mailer_main(struct role_ctx *ctx)
{
	char outbox[4096], bounces[4096];
	const char *rw[3];
	struct keys_client *kc = keys_client_new(ctx->keys_fd);
	struct store *st = NULL;
	struct error e = { { 0 }, 0 };
	struct mailer *m = xcalloc(1, sizeof(*m));
	struct transport *tr = xcalloc(1, sizeof(*tr));
	const char *ro[2] = { NULL, NULL };
	char cafile[4096];
	int rc = 3;
	/* A channel the keys process closed: the supervisor restarts this role. */
	keys_client_exit_when_lost(kc);

	/* DATA/db and DATA/tmp come with the role (role.c); the outbox and
	 * the bounce Maildir are set in the configuration. */
	conf_path(ctx->conf, "paths", "outbox_maildir", outbox, sizeof(outbox));
	rw[0] = outbox;
	rw[1] = NULL;
	rw[2] = NULL;
	if (bounce_reader_prepare(ctx->conf, bounces, sizeof(bounces), &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		goto out;
	}
	if (bounces[0] != '\0')
		rw[1] = bounces;
	/* The relay's CAs, when set, are read after confinement. */
	if (conf_path(ctx->conf, "mail", "relay_ca_file", cafile, sizeof(cafile)) == 0 && cafile[0])
		ro[0] = cafile;
	if (role_confine(ctx, rw, ro, NULL, &e) < 0 ||
	    store_open(ctx->data_dir, kc, 0, &st, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		goto out;
	}
	g_mime_init();
	if (mailer_open(ctx, st, kc, outbox, tr, m, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		goto out;
	}
	log_info("event=ready schema=%u transport=%s", store_schema_version(st),
		 tr->smtp.host != NULL ? "relay" : "maildir");
	mailer_run(ctx, m);
	rc = 0;
out:
	bounce_reader_free(&m->br);
	digest_close(&m->dg);
	outbox_close(&m->ob);
	mailq_close(&m->mq);
	queue_close(&m->q);
	pool_close(&m->pool);
	free(m);
	free(tr);
	store_close(&st);
	keys_client_free(&kc);
	return rc;
}
