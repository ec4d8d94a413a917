/*
 * upload.h — a batch uploaded from the staff dashboard, handed from the
 * portal to the gateway through the store.  The portal may not read PDFs,
 * ask for signatures or write the inbox folder (DESIGN.md's process
 * split, lib/role.c), so it writes the upload as one sealed record; the
 * gateway takes it as intake takes a dropped folder (gateway/intake.h:
 * the same identity, matching, signing, refusals kept sealed), with the
 * staff member who uploaded as the submitter, and replaces it with what
 * became of it, in one commit.  The portal shows that to the clerk.
 * Runs in the portal (add, result), the gateway (pending, read, finish,
 * sweep) and the command line.
 *
 *   DB_UPLOADS  'p' | u64 id -> sealed rec UP_*: a pending upload: who, when,
 *               from where, message.txt (the settings lines and the message,
 *               as a dropped folder's), and the files
 *               'r' | u64 id -> u64 done time | sealed rec UR_*: its result,
 *               kept UPLOAD_RESULT_KEEP seconds (the time is outside the seal
 *               so that the sweep reads no personal data)
 *
 * All or nothing: an upload is written in one commit with its audit
 * record (upload.receive), or not at all; the gateway's result replaces
 * it in one commit.  The portal touches DATA/tmp/uploads/ID after the
 * commit (UPLOAD_NUDGE_DIR) so that the gateway, which watches that
 * folder, takes it at once; the gateway also looks every few seconds.
 */
#ifndef TAYORI_UPLOAD_H
#define TAYORI_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/util.h"

struct store;

enum { UP_STAFF = 1, UP_CREATED, UP_FROM, UP_MESSAGE, UP_FILES };
enum { UR_STAFF = 1, UR_CREATED, UR_DONE, UR_OUTCOME, UR_BATCH, UR_ERROR, UR_TITLE, UR_TEST,
       UR_RECIPIENTS, UR_MATCHED, UR_SIGNED, UR_SPLIT, UR_KEY_COLUMN, UR_NAME_COLUMN,
       UR_EMAIL_COLUMN, UR_ENCODING, UR_LIST0 = 32 /* UR_LIST0 + i: list i, NUL-separated */ };

#define UPLOAD_NUDGE_DIR "tmp/uploads"   /* under the data directory */
#define UPLOAD_RESULT_KEEP (7 * 86400)   /* seconds a result stays for the clerk */

/* The lists of a matching report, in this order, by their JSON names
 * (gateway/batch.h). */
#define UPLOAD_LISTS 10
extern const char *const upload_list_names[UPLOAD_LISTS];

struct upload_file {
	char *name;          /* cleaned by the portal; shown and matched, never a path */
	const uint8_t *data; /* upload_add: the caller's; upload_read: inside the record */
	size_t len;
};

struct upload {
	uint64_t id;
	uint64_t staff;      /* who uploaded: the submitter */
	int64_t created;
	char from[64];       /* the client's address */
	char *message;       /* message.txt: settings lines, a blank line, the message */
	struct upload_file *files;
	size_t nfiles;
	struct buf rec;      /* upload_read: the unsealed record the files point into */
};

struct upload_result {
	uint64_t id, staff, batch;
	int64_t created, done;
	char outcome[16];    /* "stored", "duplicate", "refused" */
	char error[ERR_MAX]; /* why it was refused (English, as intake says it) */
	char title[808];
	int test;
	uint64_t recipients, matched, signed_pdfs;
	char split[96], key_column[128], name_column[128], email_column[128], encoding[16];
	struct upload_list {
		size_t n;
		char **v;
	} lists[UPLOAD_LISTS];
};

/* The portal: store u (its files borrowed) as a new pending upload, with
 * an audit record (actor "staff:N", detail without personal data), and
 * nudge the gateway; *id gets its number.  data_dir: the tenant's. */
int upload_add(struct store *st, const char *data_dir, const struct upload *u, uint64_t *id,
	       struct error *e);

/* The gateway: the ids of pending uploads, oldest first (caller frees). */
int upload_pending(struct store *st, uint64_t **ids, size_t *n, struct error *e);
/* A pending upload, unsealed into u: 0, 1 when it is not pending, -1. */
int upload_read(struct store *st, uint64_t id, struct upload *u, struct error *e);
void upload_clear(struct upload *u);
/* Replace pending upload r->id with its result r, in one commit. */
int upload_finish(struct store *st, const struct upload_result *r, struct error *e);
/* Delete the results done before now - UPLOAD_RESULT_KEEP; *n how many. */
int upload_sweep(struct store *st, int64_t now, size_t *n, struct error *e);

/* The portal: what became of upload id: 0 done (r filled, free it with
 * upload_result_free), 1 still pending, 2 no such upload, -1 error. */
int upload_result_get(struct store *st, uint64_t id, struct upload_result *r, struct error *e);
void upload_result_free(struct upload_result *r);
/* Append s to list i of r (the gateway, filling a result). */
void upload_result_add(struct upload_result *r, size_t i, const char *s);

#endif
