/*
 * smtp.h — one SMTP client connection to the configured relay, carrying
 * many messages one after the other (libetpan's mailsmtp underneath).
 * Runs in the mailer process.  A connection is used by one thread at a
 * time; a pool of them (per destination domain, with limits) is built on
 * top by the caller: smtp_conn_alive() says whether a connection may be
 * handed out again, smtp_conn_messages() how many it carried.
 *
 * Security policy (smtp_tls_decide):
 * - a relay named by a loopback address (127.0.0.0/8, ::1) or "localhost"
 *   may be spoken to in clear text, and the address actually connected
 *   must then be a loopback one;
 * - any other relay must offer STARTTLS, and its certificate must chain to
 *   the system CAs (or cfg->ca_file) and name cfg->host; otherwise
 *   nothing is sent;
 * - AUTH (PLAIN, else LOGIN) is only used on TLS or loopback links; the
 *   password comes from the environment variable cfg->password_env.
 *
 * Outcome of one message (struct smtp_result): SMTP_SENT with the relay's
 * queue id when its 250 reply names one ("queued as X", "id=X");
 * SMTP_TEMPFAIL for a 4xx reply, a dropped connection or a timeout;
 * SMTP_PERMFAIL for a 5xx reply at MAIL, RCPT or DATA.  After a refusal the
 * transaction is reset (RSET) and the connection stays usable; after a
 * dropped connection or timeout it is dead and must be closed.
 *
 * Throttling replies (smtp_reply_is_throttle, one table in smtp_reply.c):
 * any reply with enhanced status 4.7.28 (Gmail, rate limited), 450 4.2.1
 * (Gmail, recipient receiving at too high a rate), 451 4.7.651 and
 * 4.7.650 (Outlook, IP reputation / rate), 421 4.7.0 (connection-rate
 * limits at many carriers), and any 4xx whose text says "too many",
 * "rate limit", "throttl", "try again later" (Japanese mobile carriers
 * send this with 421), or Yahoo's "TSS04" / "temporarily deferred".
 * The caller slows the destination down when r->throttle is set.
 */
#ifndef TAYORI_SMTP_H
#define TAYORI_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define SMTP_TEXT_MAX 256     /* reply text kept, control characters removed */
#define SMTP_STATUS_MAX 16    /* enhanced status, e.g. "4.7.28" */
#define SMTP_QUEUE_ID_MAX 64  /* the relay's queue id */
#define SMTP_ADDR_MAX 320     /* one envelope address, without <> */
#define SMTP_TIMEOUT_DEFAULT 60

struct smtp_config {
	const char *host;         /* relay name or address */
	unsigned port;            /* 25, 587... */
	const char *helo_name;    /* our EHLO name */
	const char *user;         /* AUTH user, or NULL for no AUTH */
	const char *password_env; /* name of the environment variable holding the password */
	const char *ca_file;      /* PEM CAs to trust instead of the system's, or NULL */
	bool tls_on_loopback;     /* also require STARTTLS on a loopback relay */
	bool implicit_tls;        /* smtps://: TLS from the first byte (port 465), same checks */
	unsigned connect_timeout; /* seconds; 0: SMTP_TIMEOUT_DEFAULT */
	unsigned reply_timeout;   /* seconds for every reply; 0: SMTP_TIMEOUT_DEFAULT */
};

enum smtp_outcome { SMTP_SENT, SMTP_TEMPFAIL, SMTP_PERMFAIL };
enum smtp_stage { SMTP_STAGE_CONNECT, SMTP_STAGE_MAIL, SMTP_STAGE_RCPT, SMTP_STAGE_DATA };

struct smtp_result {
	enum smtp_outcome outcome;
	enum smtp_stage stage;           /* where it ended (DATA when sent) */
	int code;                        /* reply code; 0 when the link failed */
	bool throttle;                   /* a rate-limit reply: slow this destination down */
	bool dead;                       /* the connection is no longer usable */
	char status[SMTP_STATUS_MAX];    /* enhanced status, or "" */
	char text[SMTP_TEXT_MAX];        /* reply text (or what failed), sanitised */
	char queue_id[SMTP_QUEUE_ID_MAX]; /* the relay's queue id, or "" */
};

struct smtp_conn;

/* Connect, EHLO, STARTTLS as the policy requires (certificate and name
 * checked), AUTH when cfg->user is set.  cfg is copied.  On failure *out
 * is NULL and e says why (temporary: the relay may come back). */
int smtp_open(const struct smtp_config *cfg, struct smtp_conn **out, struct error *e);
/* The same; when the relay refused with a reply (greeting, EHLO, STARTTLS,
 * AUTH), reply gets it (else its code is 0).  A 421 there ("service not
 * available, closing") counts as a throttle, like the replies of
 * smtp_reply_is_throttle. */
int smtp_open_reply(const struct smtp_config *cfg, struct smtp_conn **out,
		    struct smtp_result *reply, struct error *e);

/* Send one message (msg: the whole message, CRLF line ends, at most 998
 * octets a line) from mail_from (the return path, may be "") to rcpt.
 * Returns 0 with r filled for every SMTP outcome, -1 (e filled) when the
 * call itself is wrong: a dead connection or an address holding
 * characters that could inject a command. */
int smtp_send(struct smtp_conn *c, const char *mail_from, const char *rcpt, const uint8_t *msg,
	      size_t len, struct smtp_result *r, struct error *e);

/*
 * The same transaction in steps, for a relay that offers PIPELINING (RFC
 * 2920, smtp_conn_pipelining): a sender that chains messages writes the
 * next envelope behind the previous content, then reads that content's
 * reply and the envelope's: one round trip a message.  Writes are
 * buffered until smtp_pipe_flush; a failed write leaves the connection
 * dead, and the next read reports the lost link.
 *  - smtp_pipe_envelope: MAIL, RCPT, DATA; -1 (e filled, nothing written)
 *    when an address could inject a command or the connection is closed.
 *  - smtp_pipe_envelope_replies: their replies, after a flush: 0 when DATA
 *    was answered 354, else -1 with r filled (the first refusal; the
 *    transaction reset) or a lost link (r->dead).
 *  - smtp_pipe_content: the message (as for smtp_send), dot-stuffed, and
 *    its end; -1 when the write failed.
 *  - smtp_pipe_content_reply: the final reply into r (SMTP_SENT with the
 *    queue id, or the refusal; no RSET is needed after one).
 */
int smtp_pipe_envelope(struct smtp_conn *c, const char *mail_from, const char *rcpt, struct error *e);
int smtp_pipe_flush(struct smtp_conn *c);
int smtp_pipe_envelope_replies(struct smtp_conn *c, struct smtp_result *r);
int smtp_pipe_content(struct smtp_conn *c, const uint8_t *msg, size_t len);
void smtp_pipe_content_reply(struct smtp_conn *c, struct smtp_result *r);

bool smtp_conn_alive(const struct smtp_conn *c);
/* The relay offered PIPELINING (RFC 2920): MAIL, RCPT and DATA go in one write. */
bool smtp_conn_pipelining(const struct smtp_conn *c);
unsigned long smtp_conn_messages(const struct smtp_conn *c); /* messages accepted */
bool smtp_conn_tls(const struct smtp_conn *c);

/* QUIT (when alive) and free; *c becomes NULL. */
void smtp_close(struct smtp_conn **c);

/* --- policy and reply helpers, exposed for the pool and for tests --- */

/* Whether host names the loopback: a 127.0.0.0/8 or ::1 literal, or "localhost". */
bool smtp_host_is_loopback(const char *host);

/* The TLS decision after the first EHLO: 1 use STARTTLS, 0 stay in clear
 * text (loopback only), -1 refuse (e says why). */
int smtp_tls_decide(const char *host, bool tls_on_loopback, bool offers_starttls, struct error *e);

/* Whether a reply is a throttling one (table above). */
bool smtp_reply_is_throttle(int code, const char *status, const char *text);

/* Fill r's code, status, text and throttle from a raw reply text (the part
 * after the code, lines separated by '\n'). */
void smtp_result_set_reply(struct smtp_result *r, int code, const char *reply);

#endif
