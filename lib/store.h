/*
 * store.h — the tenant's record store: one LMDB environment per tenant, in
 * DATA_DIR/db, with named sub-databases, a schema version and forward
 * migrations.  Runs in the gateway, mailer, portal and command-line
 * processes; each opens the environment itself, after fork (LMDB forbids
 * sharing an MDB_env across fork).
 *
 * Encryption at rest.  Records that hold personal data (residents, staff,
 * batches) and every PDF are *sealed*: encrypted with AES-256-GCM under a
 * data key made for that one object by the keys process, which returns the
 * key wrapped under the tenant key.  The sealed value is
 *
 *     u8 version (1) | wrapped data key (60) | nonce (12) | ciphertext | tag (16)
 *
 * and both layers take "tayori:<db>:<hex key>" as associated data, so a value
 * copied to another record or database does not open.  The keys process
 * reads <db> from that binding to enforce which databases each role's
 * channel may make or unwrap data keys for (keys.h).  Lookups by a personal
 * value (a login, an e-mail address, a resident key) go through HMAC-SHA-256
 * index keys computed by the keys process.
 *
 * Schema (keys are big-endian so LMDB's order is numeric order):
 *
 *   meta          text name -> value: "schema_version" (u32), "tenant_id",
 *                 "created" (u64), "audit_head" (u64 seq | 32 MAC | 32 head MAC)
 *                 (the keys process also counts the chain: keys.h)
 *   seq           counter name -> u64 last value handed out
 *   staff         u64 staff id -> sealed rec (STAFF_*)
 *   staff_idx     HMAC("login:"+login | "email:"+addr) -> u64 staff id
 *   sessions      SHA-256(session token) -> rec (staff id, csrf hash, times, ip)
 *   batches       u64 batch id -> sealed rec (title, message, settings, status, counts)
 *   batch_state   u64 batch id -> rec (status, counters) unsealed: no personal data,
 *                 read by the live dashboard without a keys round trip
 *   residents     u64 batch id | u32 seq -> sealed rec (key, name, e-mail, extra)
 *   resident_idx  HMAC(u64 batch id | normalised key) -> u64 batch | u32 seq
 *   pdfs          u64 batch id | u32 seq -> sealed signed PDF (the exact bytes served)
 *   deliveries    u64 batch | u32 seq -> rec (state, attempts, times, last reply)
 *   tokens        SHA-256(link token) -> rec (batch, seq, kind, expiry)
 *   events        u64 batch | u64 time | u32 n -> rec (type, seq)  (opens, downloads)
 *   audit         u64 seq -> audit record, MAC-chained (see audit.h)
 *   consent       HMAC(resident key | notice type) -> sealed rec (time, channel, terms)
 *                 (lib/consent.h)
 *   notice_types  u64 id -> rec (name, legal basis, non-arrival procedure)
 *   intake        SHA-256(message id or content) -> u64 batch id (exactly once; 0 when
 *                 the input made no batch), and "attempt:" | SHA-256 -> u32 count of
 *                 times taking that input began and did not end (poison inputs)
 *   rejected      u64 expiry time | SHA-256 -> sealed rec (a refused input, kept for
 *                 [intake] keep_rejected days; see gateway/intake.h)
 *   codes         HMAC("notice-code", code) -> rec (batch, seq)     (lib/notice.h)
 *   access        u64 batch | u32 seq -> rec (what the resident did) (lib/notice.h)
 *   mailq         u64 id -> sealed rec (mail asked of the mailer)   (lib/notice.h)
 *   uploads       'p' | u64 id -> sealed rec (a batch uploaded from the dashboard,
 *                 waiting for the gateway), 'r' | u64 id -> u64 time | sealed rec
 *                 (what became of it)                               (lib/upload.h)
 *
 * deliveries, tokens, codes, access, events and sessions are described in
 * lib/notice.h; their records carry a MAC from the keys process.
 */
#ifndef TAYORI_STORE_H
#define TAYORI_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/keys_client.h"

enum store_db {
	DB_META,
	DB_SEQ,
	DB_STAFF,
	DB_STAFF_IDX,
	DB_SESSIONS,
	DB_BATCHES,
	DB_BATCH_STATE,
	DB_RESIDENTS,
	DB_RESIDENT_IDX,
	DB_PDFS,
	DB_DELIVERIES,
	DB_TOKENS,
	DB_EVENTS,
	DB_AUDIT,
	DB_CONSENT,
	DB_NOTICE_TYPES,
	DB_INTAKE,
	DB_REJECTED,
	DB_CODES,
	DB_ACCESS,
	DB_MAILQ,
	DB_UPLOADS,
	DB_COUNT
};

#define STORE_SCHEMA_VERSION 2
#define STORE_DIR "db"

struct store;
struct store_txn;
struct keys_client;

const char *store_db_name(enum store_db db);

/* Open (creating with create=1) the environment in data_dir/db and bring its
 * schema up to date.  kc is borrowed; it must outlive the store. */
int store_open(const char *data_dir, struct keys_client *kc, int create, struct store **out,
	       struct error *e);
void store_close(struct store **st);
struct keys_client *store_keys(struct store *st);
uint32_t store_schema_version(struct store *st);

int store_begin(struct store *st, int write, struct store_txn **out, struct error *e);
int store_commit(struct store_txn **t, struct error *e);
void store_abort(struct store_txn **t);
struct store *store_txn_store(struct store_txn *t);
/* audit.c's bookkeeping: the last audit record a write transaction
 * appended (0: none).  store_commit confirms it to the keys process. */
void store_txn_audit_mark(struct store_txn *t, uint64_t seq, const uint8_t mac[32]);
uint64_t store_txn_audit_seq(const struct store_txn *t);
/* Notice record versions (lib/notice.h, "Record versions" in
 * lib/keys_client.h): the write transaction the calling thread has open on
 * st, or NULL; a record this transaction writes at version (the last one
 * marked for an id counts); whether it wrote id at version.  store_commit
 * sends the marked versions to the keys process as pending before the LMDB
 * commit (refusing to commit when it cannot) and confirms them after. */
struct store_txn *store_txn_current(struct store *st);
void store_txn_record_mark(struct store_txn *t, const uint8_t id[KEYS_RECORD_ID_LEN],
			   uint64_t version);
int store_txn_record_marked(const struct store_txn *t, const uint8_t id[KEYS_RECORD_ID_LEN],
			    uint64_t version);

/* Raw values.  store_get returns 0 found, 1 absent, -1 error; *val lives
 * until the transaction ends (copy it out before). */
int store_put(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void *v,
	      size_t vl, struct error *e);
/* Like store_put but fails with 1 when the key exists. */
int store_put_new(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void *v,
		  size_t vl, struct error *e);
int store_get(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void **val,
	      size_t *vl, struct error *e);
int store_del(struct store_txn *t, enum store_db db, const void *k, size_t kl, struct error *e);

/* Sealing.  store_seal/store_unseal do not need a transaction, so callers can
 * do the keys round trips before opening a write transaction. */
int store_seal(struct store *st, enum store_db db, const void *k, size_t kl, const void *pt,
	       size_t ptlen, struct buf *out, struct error *e);
int store_unseal(struct store *st, enum store_db db, const void *k, size_t kl, const void *sealed,
		 size_t len, struct buf *out, struct error *e);
int store_put_sealed(struct store_txn *t, enum store_db db, const void *k, size_t kl,
		     const void *pt, size_t ptlen, struct error *e);
/* 0 found (plaintext appended to out), 1 absent, -1 error. */
int store_get_sealed(struct store_txn *t, enum store_db db, const void *k, size_t kl,
		     struct buf *out, struct error *e);

/* store_get_sealed() for n keys of db with one keys request for all their
 * data keys: found[i] is 1 when keys[i] is present (its plaintext appended
 * to outs[i]), 0 when absent.  All or nothing: -1 on any error. */
int store_get_sealed_many(struct store_txn *t, enum store_db db, size_t n,
			  const void *const *keys, const size_t *klens, struct buf *outs, int *found,
			  struct error *e);

/* HMAC-SHA-256 index key for a personal value (via the keys process). */
int store_index(struct store *st, const char *kind, const void *v, size_t n, uint8_t out[32],
		struct error *e);

/*
 * The same in bulk, for batches: a round trip to the keys process per
 * value costs more than the cryptography, so these ask for many at once.
 * store_deks_new() makes the data keys for sealing n values under keys[i]
 * in db; store_seal_with() then seals one of them as store_seal() would.
 * store_index_many() is store_index() for n values.  The caller wipes the
 * data keys (secure_wipe) when done.
 */
struct store_dek {
	uint8_t v[KEYS_DEK_LEN];
};
int store_deks_new(struct store *st, enum store_db db, size_t n, const void *const *keys,
		   const size_t *klens, struct store_dek *out, struct error *e);
int store_seal_with(enum store_db db, const void *k, size_t kl, const struct store_dek *dek,
		    const void *pt, size_t ptlen, struct buf *out, struct error *e);
int store_index_many(struct store *st, const char *kind, size_t n, const void *const *v,
		     const size_t *lens, uint8_t (*out)[32], struct error *e);

/* Next value of a named counter (1, 2, ...) within a write transaction. */
int store_next_id(struct store_txn *t, const char *counter, uint64_t *out, struct error *e);

/* Delete every key of db that starts with prefix; *count gets how many. */
int store_del_prefix(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		     size_t *count, struct error *e);

/* Bulk loading: with nosync on, commits skip fsync (a crash may lose them,
 * never corrupt the store); store_sync() then makes everything durable.
 * Used while staging a batch whose parts stay invisible until its final,
 * synced commit. */
int store_set_nosync(struct store *st, int on, struct error *e);
int store_sync(struct store *st, struct error *e);

/* Iteration in key order from the first key >= start (NULL = first).
 * store_iter_next returns 0 with k/v set (valid until the next call or the
 * end of the transaction), 1 at the end, -1 on error. */
struct store_iter;
int store_iter_open(struct store_txn *t, enum store_db db, const void *start, size_t startlen,
		    struct store_iter **out, struct error *e);
int store_iter_next(struct store_iter *it, const void **k, size_t *kl, const void **v, size_t *vl);
/* Last record of a database: 0 found, 1 empty, -1 error. */
int store_last(struct store_txn *t, enum store_db db, const void **k, size_t *kl, const void **v,
	       size_t *vl, struct error *e);
/* Iteration backwards: the keys below `before` (NULL: from the last), in
 * descending order, with store_iter_next. */
int store_iter_open_back(struct store_txn *t, enum store_db db, const void *before,
			 size_t beforelen, struct store_iter **out, struct error *e);
void store_iter_close(struct store_iter **it);

#endif
