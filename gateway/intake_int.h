/*
 * intake_int.h — private to the intake module (intake.c, intake_kept.c,
 * intake_reply.c): the sealed copies of refused inputs and the replies to
 * staff.  Not for use outside gateway/intake*.c.  Runs in the gateway
 * process.
 */
#ifndef TAYORI_INTAKE_INT_H
#define TAYORI_INTAKE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/folder.h"
#include "lib/buf.h"
#include "lib/util.h"

struct store;
struct batch_report;

/* ---- intake_kept.c: refused inputs, sealed in DB_REJECTED ---- */

#define INTAKE_KEPT_KEY_LEN (8 + 32) /* u64 expiry | SHA-256 of the input */

struct intake_sealed {
	uint8_t key[INTAKE_KEPT_KEY_LEN];
	struct buf sealed; /* empty: nothing to keep */
};

/* Seal an input for keep seconds (before the write transaction: the keys
 * round trip happens outside it).  Nothing is sealed when keep is 0.
 * Release k with intake_kept_release() whatever the result. */
int intake_kept_seal(struct store *st, int64_t keep, const uint8_t id[32], const char *source,
		     const char *kind, const char *name, const char *why, const uint8_t *data,
		     size_t len, struct intake_sealed *k, struct error *e);
void intake_kept_release(struct intake_sealed *k);

/* The files of a folder as one value to keep: per file u32 name length |
 * name | u64 length | bytes; the message as message.txt.  -1 when too large. */
int intake_kept_pack(const struct batch_files *f, struct buf *b);

/* Delete the sealed inputs expired by now, audited; *count gets how many. */
int intake_kept_sweep(struct store *st, int64_t now, size_t *count, struct error *e);

/* ---- intake_reply.c: replies to staff, queued in the outbox Maildir ---- */

struct intake_mailto {
	const char *outbox;      /* the Maildir the mailer delivers from */
	const char *from;        /* [mail] from */
	const char *to;          /* the staff member's address */
	const char *in_reply_to; /* their Message-ID, or NULL */
};

/* "received": the batch, its title and its matching report. */
void intake_reply_stored(const struct intake_mailto *to, const char *title,
			 const struct batch_report *rep);
/* "refused": why, under the sender's own subject. */
void intake_reply_refused(const struct intake_mailto *to, const char *subject, const char *why);
/* "set aside": the gateway stopped twice on the input. */
void intake_reply_poison(const struct intake_mailto *to);

#endif
