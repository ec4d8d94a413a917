/*
 * imap_intake.h — the IMAP source of the gateway's intake: watch one IMAP
 * mailbox, hand every message in it to intake_message(), then move it to the
 * Processed or Rejected folder.  The IMAP session itself (TLS, login, IDLE,
 * fetch, move) is the generic reader of imap_mailbox.h; mailbox names are
 * encoded by imap_url.h.  Runs in the gateway process.
 * Standards: RFC 3501 (IMAP4rev1), RFC 2177 (IDLE), RFC 6851 (MOVE),
 * RFC 4315 (UIDPLUS: UID EXPUNGE), RFC 2595 (STARTTLS), RFC 8314 (implicit
 * TLS), RFC 6125 (server identity), RFC 3501 5.1.3 (modified UTF-7 names).
 *
 * Settings ([mail] in tayori.conf): imap_url (imap:// or imaps://HOST[:PORT],
 * an optional /MAILBOX path overrides imap_mailbox), imap_user, the password
 * from the environment variable named by imap_password_env (read once by
 * imap_intake_new, never logged), imap_mailbox, imap_processed,
 * imap_rejected, imap_processed_delete, imap_poll; [limits] message_size.
 *
 * Transport security:
 *   imaps://  implicit TLS; the certificate chain is verified with OpenSSL
 *             against the system trust store (SSL_CERT_FILE / SSL_CERT_DIR
 *             honoured) and the host name or IP address of the URL.
 *   imap://   STARTTLS whenever the server offers it (verified the same way);
 *             without STARTTLS, plain text only to a loopback address
 *             (127.0.0.0/8, ::1, "localhost").  Anything else is refused.
 *
 * Exactly once: a message is moved only after intake_message() returned, so
 * the batch is committed by then; a crash in between brings the message back
 * as INTAKE_DUPLICATE and it is moved then.  STORED/DUPLICATE go to
 * imap_processed, REFUSED/DROPPED and messages above message_size to
 * imap_rejected, TEMPFAIL stays and is tried again on the next scan.  With
 * [mail] imap_processed_delete = yes, a message intake has taken (stored,
 * duplicate, refused, dropped) is expunged instead of moved: UID STORE
 * \Deleted + UID EXPUNGE of that UID (UIDPLUS; without it only flagged);
 * messages above message_size, never read, still go to imap_rejected.  A move
 * is UID MOVE when offered, else UID COPY + UID STORE \Deleted + UID EXPUNGE
 * of that one UID (UIDPLUS); without UIDPLUS the original is only flagged
 * \Deleted (never a plain EXPUNGE, which would remove other clients'
 * deletions).  Messages flagged \Deleted are skipped.  Target folders are
 * created when missing.
 *
 * Ownership: imap_intake_new() borrows c and in (both must outlive the
 * imap_intake); the caller frees the result with imap_intake_free().  Not
 * thread-safe: one thread drives one imap_intake.
 */
#ifndef TAYORI_IMAP_INTAKE_H
#define TAYORI_IMAP_INTAKE_H

#include <stddef.h>

#include "lib/imap_mailbox.h"
#include "lib/util.h"

struct conf;
struct intake;
struct imap_intake;

/* Network timeout of every IMAP operation; the reconnection back-off cap. */
#define IMAP_INTAKE_NET_TIMEOUT IMAP_MAILBOX_NET_TIMEOUT
#define IMAP_INTAKE_BACKOFF_MAX IMAP_MAILBOX_BACKOFF_MAX

/*
 * Check the settings and read the password from the environment.  Does not
 * connect (the first imap_intake_step() does).  Fails with e when imap_url
 * is empty or malformed or the password variable is unset.
 */
int imap_intake_new(const struct conf *c, struct intake *in, struct imap_intake **out,
		    struct error *e);

/* Log out if connected, wipe the password, free, set *ii = NULL.  NULL ok. */
void imap_intake_free(struct imap_intake **ii);

/*
 * Connect if needed (not before the back-off after the last failure has
 * passed: 1 s doubling to IMAP_INTAKE_BACKOFF_MAX), process every message in
 * the mailbox when a scan is due, then wait for news for at most timeout_ms
 * (IDLE when offered, else sleep until the next poll) and process it when
 * it arrives.  A scan is due just after connecting, when IDLE reported
 * news, and when imap_poll (at most 25 minutes) has passed since the last
 * one -- with IDLE too, so that TEMPFAIL messages are retried and the IDLE
 * is renewed before the server's 30-minute autologout.  With timeout_ms == 0 it never sleeps: a
 * multiplexing caller polls imap_intake_fd() and imap_intake_next_ms().
 *
 * Returns 0 normally, -1 with e on a connection or protocol problem: the
 * connection is then dropped and the back-off starts; just call again
 * later.  Blocks at most timeout_ms plus IMAP_INTAKE_NET_TIMEOUT per IMAP
 * operation plus the time intake_message() takes.
 */
int imap_intake_step(struct imap_intake *ii, int timeout_ms, struct error *e);

/* While idling: the socket to poll() for readability (then call step); else -1. */
int imap_intake_fd(const struct imap_intake *ii);

/* Milliseconds until imap_intake_step() has work even without activity on
 * the fd (next poll or periodic rescan, or end of the back-off); 0 = now. */
int imap_intake_next_ms(const struct imap_intake *ii);

/* 1 while logged in and the mailbox is selected (for logs and tests). */
int imap_intake_connected(const struct imap_intake *ii);

#endif
