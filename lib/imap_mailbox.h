/*
 * imap_mailbox.h — a generic reader of one IMAP mailbox: connect (implicit
 * TLS, or STARTTLS, with the server's certificate verified), log in, and
 * hand every message in the mailbox to a callback, which says what becomes
 * of it: left for the next scan, moved to a folder, or deleted.  IDLE when
 * the server offers it, else polling; reconnection with back-off.  Nothing
 * here is about batches: the intake (imap_intake.h) and a bounce reader
 * both sit on it.  Runs in the gateway (intake) and the mailer
 * (bounces).
 *
 * Standards: RFC 3501 (IMAP4rev1), RFC 2177 (IDLE), RFC 6851 (MOVE),
 * RFC 4315 (UIDPLUS: UID EXPUNGE), RFC 2595 (STARTTLS), RFC 8314 (implicit
 * TLS), RFC 6125 / RFC 5280 (server identity and chain).
 *
 * Transport security:
 *   imaps://  implicit TLS; the certificate chain is verified with OpenSSL
 *             against the system trust store (SSL_CERT_FILE / SSL_CERT_DIR
 *             honoured) and the host name or IP address of the URL.
 *   imap://   STARTTLS whenever the server offers it (verified the same way);
 *             without STARTTLS, plain text only to a loopback address
 *             (127.0.0.0/8, ::1, "localhost").  Anything else is refused.
 *
 * Messages: each scan lists the mailbox (UID, RFC822.SIZE, flags) and
 * hands every message not flagged \Deleted to the callback in UID order,
 * fetched with BODY.PEEK[] (a message left alone stays unseen), at most
 * max_size + 1 bytes of it; a message above max_size is not fetched at all
 * (the callback gets its size and no data).  A move is UID MOVE when
 * offered, else UID COPY + UID STORE \Deleted + UID EXPUNGE of that one
 * UID (UIDPLUS); without UIDPLUS the original is only flagged \Deleted
 * (never a plain EXPUNGE, which would remove other clients' deletions).
 * A delete is UID STORE \Deleted + UID EXPUNGE the same way.  The folders
 * are created when missing, at login and when a move to one is refused.
 *
 * Not thread-safe: one thread drives one imap_mailbox.
 */
#ifndef TAYORI_IMAP_MAILBOX_H
#define TAYORI_IMAP_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* Network timeout of every single IMAP operation (connect, read, write). */
#define IMAP_MAILBOX_NET_TIMEOUT 30
/* Reconnection back-off: 1 s after the first failure, doubling, capped. */
#define IMAP_MAILBOX_BACKOFF_MAX 300
/* Folders messages can be moved to. */
#define IMAP_MAILBOX_FOLDERS 4

struct imap_mailbox;

/* A folder messages are moved to.  Its setting names it in errors, its
 * label in the log (folder names are not logged). */
struct imap_mailbox_folder {
	const char *name;    /* UTF-8 */
	const char *setting; /* e.g. "[mail] imap_processed" */
	const char *label;   /* e.g. "processed" */
};

struct imap_mailbox_config {
	const char *url;             /* imap[s]://HOST[:PORT][/MAILBOX] */
	const char *url_setting;     /* how errors name it, e.g. "[mail] imap_url" */
	const char *mailbox;         /* UTF-8, watched when the URL names none */
	const char *mailbox_setting; /* how errors name it */
	const char *user;
	const char *password;        /* copied; the copy is wiped by imap_mailbox_free() */
	struct imap_mailbox_folder folders[IMAP_MAILBOX_FOLDERS];
	size_t nfolders;
	size_t max_size;             /* bytes: larger messages are never fetched */
	int64_t poll_ms;             /* between scans (capped at 25 minutes, so that
				      * IDLE is renewed before servers' autologout) */
};

/* One message as the callback sees it. */
struct imap_mailbox_msg {
	uint32_t uid;
	size_t size;         /* its size (RFC822.SIZE, or the bytes fetched) */
	const uint8_t *data; /* the whole message; NULL when above max_size (not fetched) */
	size_t len;
};

enum imap_mailbox_action {
	IMAP_MAILBOX_KEEP,   /* leave it: handed over again on the next scan */
	IMAP_MAILBOX_MOVE,   /* to folders[*folder] */
	IMAP_MAILBOX_DELETE, /* expunged (flagged \Deleted only, without UIDPLUS) */
};

/* Called once per message and scan; sets *folder for IMAP_MAILBOX_MOVE. */
typedef enum imap_mailbox_action (*imap_mailbox_fn)(void *arg, const struct imap_mailbox_msg *m,
						    size_t *folder);

/*
 * Check the settings (URL, folder names, that no folder is the watched
 * mailbox) and load the system's trusted certificates.  Does not connect
 * (the first imap_mailbox_step() does).  fn and arg are kept; cfg's strings
 * are copied.
 */
int imap_mailbox_new(const struct imap_mailbox_config *cfg, imap_mailbox_fn fn, void *arg,
		     struct imap_mailbox **out, struct error *e);

/* Log out if connected, wipe the password, free, set *mb = NULL.  NULL ok. */
void imap_mailbox_free(struct imap_mailbox **mb);

/*
 * Connect if needed (not before the back-off after the last failure has
 * passed: 1 s doubling to IMAP_MAILBOX_BACKOFF_MAX), scan the mailbox when a
 * scan is due, then wait for news for at most timeout_ms (IDLE when
 * offered, else sleep until the next poll) and scan when it arrives.  A scan
 * is due just after connecting, when IDLE reported news, and when poll_ms
 * has passed since the last one.  With timeout_ms == 0 it never sleeps: a
 * multiplexing caller polls imap_mailbox_fd() and imap_mailbox_next_ms().
 *
 * Returns 0 normally, -1 with e on a connection or protocol problem: the
 * connection is then dropped and the back-off starts; just call again
 * later.  Blocks at most timeout_ms plus IMAP_MAILBOX_NET_TIMEOUT per IMAP
 * operation plus the time the callbacks take.
 */
int imap_mailbox_step(struct imap_mailbox *mb, int timeout_ms, struct error *e);

/* While idling: the socket to poll() for readability (then call step); else -1. */
int imap_mailbox_fd(const struct imap_mailbox *mb);

/* Milliseconds until imap_mailbox_step() has work even without activity on
 * the fd (next poll or periodic rescan, or end of the back-off); 0 = now. */
int imap_mailbox_next_ms(const struct imap_mailbox *mb);

/* 1 while logged in and the mailbox is selected (for logs and tests). */
int imap_mailbox_connected(const struct imap_mailbox *mb);

#endif
