/*
 * mailq.h — the mail other processes ask the mailer to send (DB_MAILQ,
 * lib/mailreq.h): one-time passwords the portal makes for residents and
 * reports.  The store is polled every MAILQ_POLL_MS so that an OTP leaves
 * within a second; each request becomes a plain-text message from [mail]
 * from (signed with DKIM when set), goes to the transport, and its record
 * is deleted once the relay (or the Maildir) took it or refused it for
 * good.  A temporary failure is retried every MAILQ_RETRY s; a one-time
 * password older than MAILQ_OTP_TTL s is dropped (it no longer works), any
 * other request after [mail] retry_for.  Runs in the mailer process.
 */
#ifndef TAYORI_MAILQ_H
#define TAYORI_MAILQ_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mailer/pool.h"
#include "mailer/send.h"

#define MAILQ_POLL_MS 250
#define MAILQ_RETRY 30
#define MAILQ_OTP_TTL 600
#define MAILQ_MAX_IN_FLIGHT 64

struct mailq;

int mailq_open(struct send_ctx *sc, struct pool *pool, int64_t retry_for, struct mailq **out,
	       struct error *e);
void mailq_close(struct mailq **m);
/* Poll the store (at most every MAILQ_POLL_MS) and hand new requests over. */
int mailq_step(struct mailq *m, struct error *e);
/* An outcome whose cookie has QUEUE_COOKIE_MAILQ. */
void mailq_outcome(struct mailq *m, const struct pool_outcome *o);
size_t mailq_in_flight(const struct mailq *m);

/* The message of a request (from, to, subject, text) into out: RFC 5322,
 * CRLF, UTF-8 base64 body, Auto-Submitted: auto-generated.  Exposed for
 * the outbox and for tests. */
int mailq_build(const char *from_name, const char *from, const char *to, const char *subject,
		const char *text, const char *msgid_domain, int64_t date, struct buf *out,
		struct error *e);

#endif
