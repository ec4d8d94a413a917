/*
 * audit.h — the append-only, MAC-chained audit log.  Runs in every process
 * that changes the store.
 *
 * Each record is stored under its sequence number (1, 2, ...) as
 *
 *     prev MAC (32) | fields (rec.h: time, actor, action, target, from, detail) | MAC (32)
 *
 * with MAC = HMAC-SHA-256(audit key, seq | prev MAC | fields).  The audit key
 * never leaves the keys process, so a person who can write the LMDB files
 * cannot forge, change, insert or remove a record without `audit_verify`
 * noticing: a changed record breaks its own MAC, an inserted or removed one
 * breaks the sequence and the next record's prev MAC, and a cut-off tail
 * no longer matches the MAC'd head kept in meta.  (Rolling back the whole
 * store to an older consistent copy is beyond what any local log can see;
 * the syslog copy of every record is the answer to that.)
 *
 * Records hold no personal data: residents appear by internal id.
 * Appending takes the caller's write transaction, so the change and its
 * audit record commit together or not at all.
 */
#ifndef TAYORI_AUDIT_H
#define TAYORI_AUDIT_H

#include <stdint.h>
#include <stdio.h>
#include "util.h"

struct store_txn;
struct store;

struct audit_entry {
	const char *actor;  /* "staff:12", "cli:root", "system" */
	const char *action; /* "staff.add", "batch.approve", "login.fail", ... */
	const char *target; /* "staff:13", "batch:4", "" */
	const char *from;   /* "cli", "127.0.0.1", "imap" */
	const char *detail; /* short, no personal data */
};

int audit_append(struct store_txn *t, const struct audit_entry *a, uint64_t *seq_out,
		 struct error *e);

/* Walk the whole log.  Returns 0 and *count when intact; -1 with e saying
 * which record is wrong and how. */
int audit_verify(struct store *st, uint64_t *count, struct error *e);

/* Print records (UTC and JST) from seq `from`, at most `limit`, to f. */
int audit_print(struct store *st, uint64_t from, uint64_t limit, int json, FILE *f,
		struct error *e);

#endif
