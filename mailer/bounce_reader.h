/*
 * bounce_reader.h — the mailer's bounce mailbox reader: every message that
 * comes back to our return paths (bounce+BATCH-SEQ-MAC@domain, verp.h) is
 * classified (bounce.h), its return path's MAC checked with the keys
 * process, and only then does the delivery it answers change (notice.h).
 * Runs in the mailer process.
 *
 * Sources (both optional, both may be set):
 *   [mail] bounce_imap_url   an IMAP mailbox read with lib/imap_mailbox.h
 *                            (IDLE when offered, the intake's code), with
 *                            bounce_imap_user and the password in the
 *                            variable named by bounce_imap_password_env;
 *   [mail] bounce_maildir    a Maildir (new/ and cur/) read on each poll.
 *
 * What a message does, by kind and return path:
 *   hard        the delivery becomes bounced, with the DSN status and the
 *               server's words as its reply, and an EV_BOUNCED event;
 *   soft, rate  a delivery that was sent becomes deferred, retried at
 *               now + BOUNCE_READER_SOFT_RETRY (BOUNCE_READER_RATE_RETRY
 *               for throttling), attempts + 1, and an EV_DEFERRED event;
 *   auto-reply, complaint
 *               a log line naming the batch and the sequence; the
 *               delivery is not touched (never counted as a bounce);
 *   not-bounce, a return path that is absent, malformed, of another domain
 *   than [mail] bounce_domain, whose MAC does not hold, or that names no
 *   delivery: nothing changes.
 * A hard bounce for a delivery being sent right now (queued or sending) is
 * left in the mailbox and read again on the next scan, after the mailer
 * has written that attempt's outcome; a soft one changes nothing then
 * (the message is being sent again anyway).  A bounce for a delivery that
 * is already bounced changes nothing.
 *
 * Where the message goes: what changed a delivery or was recorded
 * (bounced, deferred, recorded, unchanged) moves to the "processed"
 * folder, [mail] bounce_imap_processed; everything else (not a bounce, no
 * or a forged return path, no such delivery, above [limits] message_size)
 * is moved aside to [mail] bounce_imap_aside.  Nothing is ever deleted.
 * When the keys process or the store cannot answer, the message stays
 * where it is and is read again on the next scan.  In the Maildir the two
 * folders are Maildir++ sub-folders of the same names (MAILDIR/.NotBounces,
 * MAILDIR/.Processed, each with cur/ new/ tmp/); a message moves into
 * their cur/ marked seen (":2,S"), under a fresh name when one is taken.
 *
 * Logs name the batch, the sequence, the kind, the status and the
 * outcome; never an address, a subject or the return path's MAC.
 */
#ifndef TAYORI_BOUNCE_READER_H
#define TAYORI_BOUNCE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define BOUNCE_READER_SOFT_RETRY 900  /* seconds before a soft-bounced message is sent again */
#define BOUNCE_READER_RATE_RETRY 3600 /* ... and one that was throttled */

struct conf;
struct store;
struct bounce_reader;

/* What became of one message. */
enum bounce_outcome {
	BOUNCE_OUT_BOUNCED = 0, /* hard: the delivery is bounced */
	BOUNCE_OUT_DEFERRED,    /* soft or rate: deferred, sent again later */
	BOUNCE_OUT_RECORDED,    /* auto-reply or complaint: logged only */
	BOUNCE_OUT_UNCHANGED,   /* ours and valid, but the delivery is past it */
	BOUNCE_OUT_NOT_BOUNCE,  /* ordinary mail */
	BOUNCE_OUT_NO_VERP,     /* no return path of ours (absent, malformed, other domain) */
	BOUNCE_OUT_FORGED,      /* a return path whose MAC does not hold */
	BOUNCE_OUT_UNKNOWN,     /* a valid return path naming no delivery */
	BOUNCE_OUT_TOO_BIG,     /* above [limits] message_size: not read */
	BOUNCE_OUT_LATER,       /* keys or store unreachable, or being sent: read again */
	BOUNCE_OUT_COUNT
};
/* "bounced", "deferred", "recorded", "unchanged", "not_bounce", "no_verp",
 * "forged", "unknown", "too_big", "later". */
const char *bounce_outcome_name(enum bounce_outcome o);
/* 1 when a message with this outcome moves to the processed folder, 0 when
 * it is moved aside, -1 when it stays (BOUNCE_OUT_LATER). */
int bounce_outcome_processed(enum bounce_outcome o);

/* The VERP domain: [mail] bounce_domain, else the domain of [mail] from
 * (lower-cased).  The mailer makes its return paths with it. */
int bounce_reader_domain(const struct conf *c, char *out, size_t outsize, struct error *e);

/*
 * Before the mailer confines itself: make the bounce Maildir's folders
 * (new, cur, tmp and the two sub-folders) when [mail] bounce_maildir is
 * set, and put its path into maildir (empty when not set), for the list
 * of folders the mailer may write.  Run as root (before the role becomes
 * the service user), each folder it makes gets the owner of the folder it
 * is made in.
 */
int bounce_reader_prepare(const struct conf *c, char *maildir, size_t size, struct error *e);

/* Read the settings; st (and its keys client) is used for every message.
 * Does not connect.  *out is NULL-safe to free. */
int bounce_reader_new(const struct conf *c, struct store *st, struct bounce_reader **out,
		      struct error *e);
void bounce_reader_free(struct bounce_reader **br);

/* 1 when an IMAP mailbox or a Maildir is configured. */
int bounce_reader_enabled(const struct bounce_reader *br);

/* One message: classify, check, apply at time now.  Returns 0 with *out,
 * or -1 with e only for a bad argument (an unreachable keys process or
 * store is BOUNCE_OUT_LATER, with e saying why). */
int bounce_reader_message(struct bounce_reader *br, const uint8_t *data, size_t len, int64_t now,
			  enum bounce_outcome *out, struct error *e);

/* One pass over the Maildir (new/ then cur/, each in name order): every
 * message handled and moved.  *handled counts the messages that left the
 * Maildir.  -1 with e when the Maildir cannot be read. */
int bounce_reader_poll(struct bounce_reader *br, size_t *handled, struct error *e);

/*
 * The mailer's main loop calls this, repeatedly: the Maildir is read when
 * [mail] imap_poll has passed since the last pass (and on the first call),
 * and the IMAP mailbox is served (imap_mailbox_step: connects, scans,
 * waits at most timeout_ms for news; 0 never sleeps).  Only the IMAP side
 * waits: with a Maildir alone it returns at once, and the caller sleeps
 * bounce_reader_next_ms().  Returns 0, or -1 with e on an IMAP or Maildir
 * problem (logged by the caller; just call again: the IMAP reader
 * reconnects with back-off).  Not thread-safe: call it from the thread
 * that owns the store handle and the keys client.
 */
int bounce_reader_step(struct bounce_reader *br, int timeout_ms, struct error *e);
/* The IMAP socket to poll() for readability while idling, else -1. */
int bounce_reader_fd(const struct bounce_reader *br);
/* Milliseconds until bounce_reader_step() has work without activity on the
 * fd; 0 = now. */
int bounce_reader_next_ms(const struct bounce_reader *br);
/* Counts of outcomes since bounce_reader_new (for logs and tests). */
size_t bounce_reader_count(const struct bounce_reader *br, enum bounce_outcome o);

#endif
