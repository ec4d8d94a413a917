/*
 * notice.h — what happens to one resident's notice after its batch is
 * approved: the delivery of the mail (the mailer writes it), the links and
 * the notice code that open it, and what the resident did on the portal
 * (the portal writes it).  The mailer, the portal, the dashboard and the
 * command line all read these records through this one interface.  Runs in
 * the mailer, the portal and the command-line processes.
 *
 * Records (keys big-endian; every value is a rec.h record whose last field,
 * NR_MAC, is a MAC the keys process makes, see "Records that cannot be
 * minted" below):
 *
 *   deliveries  u64 batch | u32 seq -> NR_* delivery fields (state machine below)
 *   tokens      SHA-256(link token) -> NR_* link fields (batch, seq, issued, expires)
 *   codes       HMAC("notice-code", normalised code) -> NR_* (batch, seq), and
 *               "r" | u64 batch | u32 seq -> NR_* the code itself, sealed under a key
 *               only the keys process can make again (notice.c), so that
 *               notice_code_get_or_new() returns the code already given
 *   access      u64 batch | u32 seq -> NR_* what the resident did (opened, arrival,
 *               failures, lock, OTP, consent)
 *   events      u64 batch | u64 time µs | u32 n -> NR_* one event (type, seq, user agent,
 *               seconds since delivery); append-only, and each is also an audit record
 *   sessions    SHA-256(session token) -> NR_* a resident's (or, later, a staff member's)
 *               session: kind, batch, seq, created, expires, CSRF token hash
 *   mailq       u64 id -> sealed rec: mail another process asks the mailer to send
 *               (a one-time password, a report); the mailer deletes it once sent
 *
 * Link tokens carry 128 bits from the CSPRNG, written as 22 base64url
 * characters; only their SHA-256 is stored.  Each message (the first and
 * every reminder) gets a fresh token; every token of a resident works until
 * the batch's public period ends (its expiry), unless the batch is
 * withdrawn.  Session tokens are made and stored the same way.
 *
 * The notice code (保護番号) is 11 symbols of Crockford's base 32
 * (0-9 A-Z without I L O U: 55 bits from the CSPRNG) and one check symbol
 * (Luhn mod 32 over the same alphabet), shown as XXXX-XXXX-XXXX.  Reading
 * one forgives case, spaces, hyphens, full-width forms (NFKC), O for 0 and
 * I or L for 1, and refuses a wrong check symbol before any lookup.  One
 * code per resident and batch, made when the batch is queued; the stored
 * index is an HMAC (a 55-bit code under a plain hash could be found by
 * trying them all from a copy of the files).
 *
 * Delivery states (deliveries.NR_STATE):
 *
 *   queued   --mailer picks it-->  sending  --relay accepts-->   sent
 *   sending  --4xx, drop, timeout--> deferred --next_at due--> sending
 *   deferred --retry deadline passed--> failed
 *   sending  --5xx at RCPT or DATA--> bounced (hard)
 *   sent     --bounce report, VERP MAC valid--> bounced (hard) | deferred (soft)
 *   sent     --remind--> sending --> sent      (contacts + 1, a fresh token)
 *
 * A reminder (lib/remind.h: `tayori batch remind`, or the batch's 督促
 * schedule) puts a sent, unopened delivery back to queued with attempts 0:
 * a queued delivery whose contacts is above 0 is a reminder.
 *
 * "sending" is written (and committed) before the message leaves; after a
 * crash the mailer takes every "sending" record back as due, so only
 * messages in flight at the kill can go twice.  The paper list is derived:
 * no address, marked for paper, bounced hard, failed, declined consent, or
 * not downloaded by the batch's deadline.
 *
 * Records that cannot be minted.  NR_MAC = HMAC under the keys process's
 * index key of "record\0" | db name | 0 | key | the record's other fields
 * (which include NR_VERSION, raised on every write).  A process that can
 * write the LMDB files but cannot ask the keys process for a MAC can
 * neither make a token, a code, a session, an event or an arrival time nor
 * edit one: readers drop a record whose MAC does not hold (and log it).
 * Nor can it put back an older copy of a record (undo an arrival, a lock,
 * a used one-time password): the keys process anchors each record's
 * latest version ("Record versions" in lib/keys_client.h) and readers
 * refuse an older one the same way.  Removing a record altogether is not
 * detected by this (events and audit records still show what happened).
 */
#ifndef TAYORI_NOTICE_H
#define TAYORI_NOTICE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/buf.h"
#include "lib/util.h"

struct store;
struct store_txn;

#define NOTICE_TOKEN_BYTES 16
#define NOTICE_TOKEN_LEN   22 /* base64url, no padding */
#define NOTICE_CODE_SYMBOLS 12 /* 11 random + 1 check */
#define NOTICE_CODE_TEXT    15 /* XXXX-XXXX-XXXX */

/* Record tags shared by the notice databases. */
enum {
	NR_BATCH = 1, NR_SEQ, NR_STATE, NR_ATTEMPTS, NR_CREATED, NR_NEXT_AT, NR_SENT_AT,
	NR_LAST_AT, NR_QUEUE_ID, NR_REPLY, NR_CONTACTS, NR_BOUNCE_KIND, NR_BOUNCE_STATUS,
	NR_ISSUED, NR_EXPIRES, NR_KIND, NR_OPENED_AT, NR_DOWNLOADED_AT, NR_FAILURES,
	NR_LOCKED, NR_OTP_HASH, NR_OTP_AT, NR_OTP_TRIES, NR_CONSENT, NR_CONSENT_AT,
	NR_TERMS, NR_TYPE, NR_UA, NR_DELAY, NR_CSRF, NR_CERT_DOWNLOADS, NR_AUTH_AT,
	NR_DEADLINE_AT,
	NR_VERSION = 60,
	NR_MAC = 61, /* always last */
};

enum delivery_state {
	DELIVERY_NONE = 0, /* no record: the batch is not queued, or no address */
	DELIVERY_QUEUED,
	DELIVERY_SENDING,
	DELIVERY_SENT,
	DELIVERY_DEFERRED,
	DELIVERY_FAILED,
	DELIVERY_BOUNCED,
};
const char *delivery_state_name(enum delivery_state s); /* "queued", ... */

struct delivery {
	uint64_t batch;
	uint32_t seq;
	enum delivery_state state;
	uint32_t attempts;  /* tries of the current message */
	uint32_t contacts;  /* messages the relay accepted (first + reminders) */
	int64_t created, next_at, sent_at, last_at; /* UTC seconds; 0 = never */
	char queue_id[64];  /* the relay's queue id of the last accepted message */
	char reply[256];    /* the last reply, e.g. "451 4.7.1 try later" */
	char bounce_kind[16]; /* "hard", "soft", ... (mailer/bounce.h) */
	char bounce_status[16]; /* DSN status, e.g. "5.1.1" */
	uint64_t version;
};

/* What the resident did on the portal. */
enum notice_consent { CONSENT_UNASKED = 0, CONSENT_GIVEN, CONSENT_DECLINED };
struct notice_access {
	uint64_t batch;
	uint32_t seq;
	int64_t opened_at;      /* first open (a POST click), 0 = never */
	int64_t auth_at;        /* first successful authentication */
	int64_t downloaded_at;  /* first download: arrival (到達) */
	uint32_t failures;      /* authentication failures since the last success */
	int locked;             /* too many failures: staff must unlock */
	uint8_t otp_hash[32];   /* SHA-256 of the latest OTP, zero = none */
	int64_t otp_at;         /* when the latest OTP was made */
	uint32_t otp_tries;     /* tries against the latest OTP */
	uint32_t cert_downloads;
	enum notice_consent consent;
	int64_t consent_at;
	char terms[32];         /* the terms version consented to */
	uint64_t version;
};

enum notice_event {
	EV_OPEN = 1, EV_AUTH_OK, EV_AUTH_FAIL, EV_LOCKED, EV_UNLOCKED, EV_DOWNLOAD,
	EV_CERT_DOWNLOAD, EV_CONSENT, EV_DECLINE, EV_OTP_SENT, EV_SENT, EV_DEFERRED,
	EV_BOUNCED, EV_FAILED, EV_REMINDED,
};
const char *notice_event_name(enum notice_event t); /* "open", "auth_ok", ... */

struct notice_event_rec {
	uint64_t batch;
	uint32_t seq;
	int64_t time_us;       /* UTC microseconds */
	enum notice_event type;
	char ua[256];          /* user agent (opens, downloads), cut to fit */
	int64_t delay;         /* seconds since the message was sent, -1 unknown */
};

/* ---- tokens and codes (pure: no store) ---- */

/* A fresh link or session token: NOTICE_TOKEN_LEN chars + NUL. */
int notice_token_new(char out[NOTICE_TOKEN_LEN + 1], struct error *e);
/* 0 when s has a token's shape (length, alphabet); -1 otherwise. */
int notice_token_shape(const char *s);
void notice_token_hash(const char *token, uint8_t out[32]);
/* A fresh notice code, written XXXX-XXXX-XXXX. */
int notice_code_new(char out[NOTICE_CODE_TEXT + 1], struct error *e);
/* Normalise what a resident typed (UTF-8) into the 12 canonical symbols:
 * 0, or -1 when it is not 12 symbols or the check symbol is wrong. */
int notice_code_read(const char *typed, char canon[NOTICE_CODE_SYMBOLS + 1]);

/* ---- MACs ---- */

/* Append NR_VERSION and NR_MAC to a record whose other fields are in rec,
 * for the key it will be stored under in db (version 1 and up).  Inside
 * the calling thread's write transaction, the version is anchored in the
 * keys process when that transaction commits (store_commit); outside one,
 * at once. */
int notice_seal_rec(struct store *st, int db, const void *key, size_t kl, uint64_t version,
		    struct buf *rec, struct error *e);
/* 0 when val ends in a MAC that holds for key in db and carries the
 * latest version the keys process anchored; 1 when it does not (forged,
 * damaged, or an older copy put back: logged); -1 on error (keys
 * unreachable). */
int notice_check_rec(struct store *st, int db, const void *key, size_t kl, const void *val,
		     size_t vl, struct error *e);

/* ---- deliveries (written by the mailer and `tayori batch send`) ---- */

/* 0 found, 1 absent, -1 error (a record whose MAC fails is an error). */
int delivery_get(struct store_txn *t, uint64_t batch, uint32_t seq, struct delivery *out,
		 struct error *e);
/* Write d (version raised by one). */
int delivery_put(struct store_txn *t, struct delivery *d, struct error *e);
/* delivery_put() for n deliveries (at most KEYS_BATCH_MAX) with one MAC
 * round trip to the keys process. */
int delivery_put_many(struct store_txn *t, size_t n, struct delivery *const *ds,
		      struct error *e);

/* ---- links and codes ---- */

/* Make a link token for (batch, seq), valid until expires; token gets it. */
int notice_link_new(struct store_txn *t, uint64_t batch, uint32_t seq, int64_t expires,
		    char token[NOTICE_TOKEN_LEN + 1], struct error *e);
/* notice_link_new() for n notices (at most KEYS_BATCH_MAX) with one MAC
 * round trip: tokens[i] gets the token of (batch[i], seq[i]). */
int notice_link_new_many(struct store_txn *t, size_t n, const uint64_t *batch,
			 const uint32_t *seq, const int64_t *expires,
			 char (*tokens)[NOTICE_TOKEN_LEN + 1], struct error *e);
/* Which notice a token opens: 0 found and valid now, 1 unknown, expired or
 * forged (the caller shows one page for all three), -1 error. */
int notice_link_find(struct store_txn *t, const char *token, uint64_t *batch, uint32_t *seq,
		     struct error *e);
/* Make (or return the existing) notice code of (batch, seq). */
int notice_code_get_or_new(struct store_txn *t, uint64_t batch, uint32_t seq,
			   char code[NOTICE_CODE_TEXT + 1], struct error *e);
/* notice_code_get_or_new() for n notices (at most NOTICE_CODES_MANY_MAX)
 * in a few keys round trips, not four each. */
#define NOTICE_CODES_MANY_MAX 32
int notice_codes_get_or_new(struct store_txn *t, size_t n, const uint64_t *batch,
			    const uint32_t *seq, char (*codes)[NOTICE_CODE_TEXT + 1],
			    struct error *e);
int notice_code_find(struct store_txn *t, const char *typed, uint64_t *batch, uint32_t *seq,
		     struct error *e);

/* ---- what the resident did (written by the portal) ---- */

/* 0 found, 1 absent (out zeroed with batch and seq set), -1 error. */
int access_get(struct store_txn *t, uint64_t batch, uint32_t seq, struct notice_access *out,
	       struct error *e);
int access_put(struct store_txn *t, struct notice_access *a, struct error *e);

/* Staff unlock a locked notice (too many failed answers) so the resident
 * may try again: failures, the lock and any OTP cleared, an EV_UNLOCKED
 * event, and an audit record (action notice.unlock, actor as given, e.g.
 * "staff:3", where "cli" or "dashboard"), in one transaction.  0 unlocked,
 * 1 not locked (nothing written), -1 error.  lib/notice_unlock.c; the
 * command line (`tayori batch unlock`) and the dashboard call it. */
int notice_unlock(struct store *st, uint64_t batch, uint32_t seq, const char *actor,
		  const char *where, struct error *e);

/* Append an event (and its audit record, actor "resident" or "mailer"). */
int notice_event_add(struct store_txn *t, const struct notice_event_rec *ev, struct error *e);
/* n (1..NOTICE_EVENTS_MANY_MAX) events in one transaction, their audit
 * records appended in one keys request (a group commit of many requests). */
#define NOTICE_EVENTS_MANY_MAX 64
int notice_event_add_many(struct store_txn *t, const struct notice_event_rec *ev, size_t n,
			  struct error *e);
/* Events of a batch in time order from since_us; cb returns non-zero to stop. */
int notice_events_each(struct store_txn *t, uint64_t batch, int64_t since_us,
		       int (*cb)(const struct notice_event_rec *, void *), void *arg,
		       struct error *e);

/* An event with its key's tie-breaker n (events of one batch and
 * microsecond), for readers that resume after the last one they saw. */
struct notice_event_item {
	struct notice_event_rec ev;
	uint32_t n;
};
/* The events of batch from since_us on, in key order, for the dashboard:
 * want (NULL: all) picks among them on their unchecked fields first, then
 * the MACs of those picked are checked in as few keys round trips as its
 * limits allow; *out (the caller frees it) gets those whose MAC holds (a
 * refused one is logged and left out).  lib/notice_event_list.c. */
int notice_events_list(struct store_txn *t, uint64_t batch, int64_t since_us,
		       int (*want)(const struct notice_event_rec *ev, uint32_t n, void *arg),
		       void *arg, struct notice_event_item **out, size_t *nout, struct error *e);

/* ---- the furthest state, for `tayori batch show --json` and the dashboard ---- */

struct notice_status {
	uint32_t seq;
	char key[128];          /* the resident's normalised key */
	const char *state;      /* queued sending sent deferred failed bounced opened downloaded paper */
	uint32_t contacts;
	int64_t sent_at, opened_at, downloaded_at; /* 0 = not yet */
	int paper;              /* on the paper list */
	int locked;             /* too many wrong answers: staff may unlock (notice_unlock) */
	uint32_t cert_downloads; /* the signer's certificate fetched, times */
};
/* One entry per resident of the batch, in seq order; caller frees *out. */
int notice_statuses(struct store *st, uint64_t batch, int64_t now, struct notice_status **out,
		    size_t *n, struct error *e);
/* The same for one resident (batch, seq): 0, 1 no such resident, -1 error. */
int notice_status_one(struct store *st, uint64_t batch, uint32_t seq, int64_t now,
		      struct notice_status *out, struct error *e);

/* Once any delivery of the batch exists, write the member
 * "residents":[{"key","state","contacts","sent_at","opened_at","downloaded_at"}...]
 * (times as UTC ISO 8601 strings or null; preceded by a comma unless
 * first) to f and return 0; return 1 and write nothing before that. */
int notice_statuses_json(struct store *st, uint64_t batch, int64_t now, int first, FILE *f,
			 struct error *e);

#endif
