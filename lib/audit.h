/*
 * audit.h — the append-only, MAC-chained audit log.  Runs in every process
 * that changes the store.
 *
 * Each record is stored under its sequence number (1, 2, ...) as
 *
 *     prev MAC (32) | fields (rec.h: time, actor, action, target, from, detail) | MAC (32)
 *
 * with MAC = HMAC-SHA-256(audit key, seq | prev MAC | fields).  The audit key
 * never leaves the keys process, and no role but the command line may even
 * ask it for a raw MAC: a writer sends the fields and the end of the log as
 * its transaction sees it, and the keys process numbers and chains the
 * record itself, from the end it issued last, keeping its own count in
 * DATA/keys/audit/counter (keys.h).  So a person who can write the LMDB
 * files cannot forge, change, insert or remove a record without
 * `audit_verify` noticing: a changed record breaks its own MAC, an inserted
 * or removed one breaks the sequence and the next record's prev MAC, a
 * cut-off tail no longer matches the MAC'd head kept in meta, and a cut-off
 * tail with an older head put back (or an older copy of the whole store) no
 * longer matches the keys process's count.  The log is never empty: `tayori
 * init` writes its first record.  Records after the last one keys counted
 * as confirmed (one in flight whose confirmation was lost in a crash, or
 * appended while verifying) are checked by the chain alone.
 *
 * Records hold no personal data: residents appear by internal id.
 * Appending takes the caller's write transaction, so the change and its
 * audit record commit together or not at all.
 */
#ifndef TAYORI_AUDIT_H
#define TAYORI_AUDIT_H

#include <stdint.h>
#include <stdio.h>
#include "lib/util.h"

struct store_txn;
struct store;

struct audit_entry {
	const char *actor;  /* "staff:12", "cli:root", "system" */
	const char *action; /* "staff.add", "batch.approve", "login.fail", ... */
	const char *target; /* "staff:13", "batch:4", "" */
	const char *from;   /* "cli", "127.0.0.1", "imap" */
	const char *detail; /* short, no personal data */
};

/* Append one record inside the caller's write transaction; store_commit
 * then confirms it to the keys process.  Refused (-1) when the log does not
 * end where the keys process counted. */
int audit_append(struct store_txn *t, const struct audit_entry *a, uint64_t *seq_out,
		 struct error *e);

/* Append n (1..AUDIT_MANY_MAX) records, one after the other, in one keys
 * request (one write of its counter): many events committed together.
 * *first_out (may be NULL) is the first one's number. */
#define AUDIT_MANY_MAX 64
int audit_append_many(struct store_txn *t, const struct audit_entry *a, size_t n,
		      uint64_t *first_out, struct error *e);

/* Walk the whole log and compare its end with the keys process's count.
 * Returns 0 and *count when intact; -1 with e saying which record is wrong
 * and how (an empty log or a missing head is wrong too).  Needs a keys
 * channel with KEYS_PERM_AUDIT_VERIFY (the command line's). */
int audit_verify(struct store *st, uint64_t *count, struct error *e);

/* One record as read back: the strings are cut at these sizes. */
struct audit_view {
	uint64_t seq;
	int64_t time; /* UTC */
	char actor[256], action[128], target[256], from[128], detail[1024];
};
/* Call fn on each record from seq `from` on, in order, in one read
 * transaction; fn returns 0 to go on, 1 to stop (audit_each then returns
 * 0) or -1 (returned).  For the dashboard's audit page. */
int audit_each(struct store *st, uint64_t from, int (*fn)(const struct audit_view *v, void *arg),
	       void *arg, struct error *e);

/* The same newest first: the records below seq `before` (0: from the
 * newest), one at a time, so a search stops once its page is full. */
int audit_each_back(struct store *st, uint64_t before,
		    int (*fn)(const struct audit_view *v, void *arg), void *arg, struct error *e);

/* Print records (UTC and JST) from seq `from`, at most `limit`, to f. */
int audit_print(struct store *st, uint64_t from, uint64_t limit, int json, FILE *f,
		struct error *e);

#endif
