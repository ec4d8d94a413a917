/*
 * intake.h — turning what staff send into batches, exactly once: a mail
 * message (from IMAP, a Maildir, or an .eml dropped in the inbox folder) or
 * a folder dropped in the inbox.  Runs in the gateway process.
 *
 * For a message: only a registered, enabled staff address holding the
 * submit permission may submit; anything else is logged and dropped without
 * a reply (no backscatter).  When the receiving MTA's Authentication-Results
 * header comes from a trusted authserv-id ([intake] trusted_authserv), a
 * DKIM, SPF or DMARC failure is refused the same way.  A staff submission
 * gets a reply with the matching report (or the reason it was refused),
 * queued in the outbox Maildir.
 *
 * Exactly once: every input is identified by the SHA-256 of its bytes; the
 * identity is written in the same commit as the batch (DB_INTAKE), so a
 * message seen again after a crash is recognised (INTAKE_DUPLICATE) and
 * only deleted.  The caller deletes the clear input (or moves it away on
 * IMAP) after intake_message() returns, never before: only the SHA-256
 * stays.
 *
 * Refused inputs (and dropped ones) are kept, sealed in the store like
 * every PDF (DB_REJECTED), for [intake] keep_rejected days, written in the
 * same commit as their identity; intake_sweep() deletes them when due.
 *
 * Poison inputs: a start on an input is counted in the store before it is
 * parsed, and the count removed when it ends.  An input two starts never
 * finished (the gateway died during each) is refused without being parsed:
 * sealed as above, audited (intake.poison) and, for a message from staff,
 * answered.
 */
#ifndef TAYORI_INTAKE_H
#define TAYORI_INTAKE_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

enum intake_outcome {
	INTAKE_STORED,     /* a new batch; move to Processed */
	INTAKE_DUPLICATE,  /* this input already made its batch (or its refusal); move on */
	INTAKE_REFUSED,    /* staff were told why by mail; move to Rejected */
	INTAKE_DROPPED,    /* not from staff (or failed authentication): logged, no reply; move aside */
	INTAKE_TEMPFAIL,   /* try again later; leave it where it is */
};

struct intake;
struct store;
struct signer;
struct conf;

/* st and signer are borrowed.  outbox: the Maildir replies go to. */
int intake_new(struct store *st, const struct signer *signer, const struct conf *c,
	       struct intake **out, struct error *e);
void intake_free(struct intake **in);

/* One RFC 5322 message.  source names where it came from, for the log and
 * the audit record ("imap", "maildir", "drop").  *batch is set when stored. */
enum intake_outcome intake_message(struct intake *in, const uint8_t *raw, size_t len,
				   const char *source, uint64_t *batch, struct error *e);

/* A folder dropped into the inbox (files as in folder.h).  Whoever can
 * write the inbox folder is trusted as staff; a refusal has nobody to mail,
 * so the reason is returned in e for the caller to leave beside it. */
enum intake_outcome intake_folder(struct intake *in, const char *path, const char *source,
				  uint64_t *batch, struct error *e);

/* A batch's files already read (f, the caller's; total bytes of them),
 * taken as a dropped folder is: the same identity, attempt count,
 * matching and signing, a refusal kept sealed and audited, with actor as
 * the submitter ("drop", or "staff:N" for an upload from the dashboard,
 * lib/upload.h) and source where it came in ("drop", "web").  rep (may be
 * NULL) gets the matching report when stored: free it with
 * batch_report_free(). */
struct batch_files;
struct batch_report;
enum intake_outcome intake_files(struct intake *in, struct batch_files *f, size_t total,
				 const char *actor, const char *source, uint64_t *batch,
				 struct batch_report *rep, struct error *e);

/* intake_upload.c: take the batches uploaded from the staff dashboard
 * and waiting in the store (lib/upload.h), each as intake_files() takes
 * a folder, and write what became of each.  nudged: the portal just
 * added one (its nudge files in data_dir are cleared); otherwise a
 * temporary failure is tried again only after a minute.  Also deletes
 * the results past UPLOAD_RESULT_KEEP now and then. */
struct conf;
void intake_uploads(struct intake *in, struct store *st, const struct conf *c,
		    const char *data_dir, int nudged);

const char *intake_outcome_name(enum intake_outcome o);

/* An input refused before it could be read (above [limits] message_size):
 * audited, nothing kept.  why names the limit, no personal data. */
void intake_discard(struct intake *in, const char *source, const char *why);

/* Delete the kept refused inputs whose keep_rejected time has passed by
 * now; *count gets how many. */
int intake_sweep(struct intake *in, int64_t now, size_t *count, struct error *e);

/* A kept refused input, as an administrator sees it (`tayori intake`). */
struct intake_kept {
	char id[17];          /* the first 8 bytes of its SHA-256 in hex, as in the audit log */
	int64_t time;         /* when it was refused */
	int64_t expires;      /* when the gateway deletes it */
	char source[16];      /* drop, maildir, imap */
	char kind[16];        /* message or folder */
	char name[256];       /* the folder's name, when known */
	char reason[ERR_MAX]; /* why it was refused */
	const uint8_t *data;  /* the input (a folder packed): valid during the callback */
	size_t len;
};

/* Call fn for every kept input, oldest expiry first, unsealed; fn returns
 * non-zero to stop.  st is borrowed. */
int intake_kept_each(struct store *st, int (*fn)(const struct intake_kept *, void *), void *arg,
		     struct error *e);
/* The files of a kept input: one "message.eml", or a folder's files by
 * their names (to be shown, never used as paths).  -1 when damaged. */
int intake_kept_files(const struct intake_kept *kp,
		      int (*fn)(const char *name, const uint8_t *data, size_t len, void *), void *arg);

#endif
