/*
 * pool.h — the mailer's outgoing transport: hand it finished messages, get
 * back one outcome per message.  Two kinds behind one interface:
 *
 *   - a pool of SMTP connections to the configured relay (mailer/smtp.h),
 *     each carrying many messages, run by worker threads, with limits per
 *     destination domain (the recipient's domain) on concurrent connections
 *     and on messages per minute, as Postfix keeps them; a throttling reply
 *     (smtp_reply_is_throttle) halves that domain's rate for a while and
 *     defers the message;
 *   - with no relay configured, a Maildir (the demo's ./var/mail/outbox):
 *     each message is written to tmp/, fsynced and renamed into new/.
 *
 * The queue (mailer/queue.c) owns the delivery states; the pool knows
 * nothing of the store.  Runs in the mailer process.
 */
#ifndef TAYORI_POOL_H
#define TAYORI_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"
#include "mailer/smtp.h"

struct pool_config {
	const struct smtp_config *smtp; /* NULL: write into maildir instead */
	const char *maildir;            /* the Maildir when smtp is NULL */
	unsigned connections;           /* most connections to the relay in all */
	unsigned per_domain_connections; /* most at once carrying one domain's mail */
	unsigned per_domain_rate;       /* messages per minute to one domain; 0 = no limit */
	unsigned max_in_flight;         /* messages handed over and not yet answered */
};

struct pool_job {
	uint64_t cookie;       /* the caller's, returned with the outcome (e.g. batch|seq) */
	char mail_from[SMTP_ADDR_MAX + 1]; /* envelope sender: the VERP return path */
	char rcpt[SMTP_ADDR_MAX + 1];      /* exactly one recipient */
	uint8_t *msg;          /* the message's bytes (CRLF); the pool frees it */
	size_t len;
};

struct pool_outcome {
	uint64_t cookie;
	struct smtp_result r;  /* SMTP_SENT with the queue id; TEMPFAIL; PERMFAIL */
	int64_t not_before;    /* TEMPFAIL on a throttled domain: retry no sooner
				* (Unix seconds, as now_utc()); 0 otherwise */
};

struct pool;

int pool_open(const struct pool_config *cfg, struct pool **out, struct error *e);
/* Hand a job over (its msg now belongs to the pool).  0 taken; 1 full (the
 * job is untouched: collect outcomes and try again); -1 error (after
 * pool_drain; the job is untouched). */
int pool_submit(struct pool *p, struct pool_job *job, struct error *e);
/* Collect up to max finished outcomes, waiting up to wait_ms for the first
 * one; returns how many were written to out. */
size_t pool_collect(struct pool *p, struct pool_outcome *out, size_t max, int wait_ms);
/* Jobs handed over and not yet collected. */
size_t pool_in_flight(const struct pool *p);
/* Stop taking jobs, finish those in flight (their outcomes stay
 * collectable), close every connection. */
void pool_drain(struct pool *p);
void pool_close(struct pool **p);

/* --- from the configuration (pool_conf.c) --- */

struct conf;

/* What the configurations built by pool_config_from_conf point into. */
struct pool_conf_buf {
	char host[256];
	char helo[256];
	char user[256];
	char password_env[128];
	char ca_file[4096];
	char maildir[4096];
};

/* Fill pc from [mail] connections, per_domain_connections and
 * per_domain_rate; with [mail] relay set (smtp://HOST[:PORT], port 25 by
 * default), fill sc from it and relay_user, relay_password_env and
 * relay_ca_file and point pc->smtp at sc; with no relay, pc->smtp is NULL
 * and pc->maildir is [paths] outbox_maildir.  The strings live in buf.
 * smtps:// (TLS from the first byte) is refused: use smtp:// with
 * STARTTLS, which a relay that is not on loopback must offer. */
int pool_config_from_conf(const struct conf *c, struct pool_config *pc, struct smtp_config *sc,
			  struct pool_conf_buf *buf, struct error *e);

#endif
