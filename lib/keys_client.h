/*
 * keys_client.h — the keys protocol, and its client in every process.
 *
 * The keys process is the only one that reads the tenant key (keys/tenant.key)
 * and the signing credential.  Other processes send it small framed requests
 * (lib/ipc.h) over a socketpair and get small answers back:
 *
 *   KEYS_HMAC        HMAC-SHA-256 of data under the index sub-key (lookups)
 *   KEYS_DEK_NEW     a fresh 256-bit data key and the same key wrapped
 *   KEYS_DEK_UNWRAP  the data key inside a wrapped key
 *   KEYS_SIGN        an RSA/ECDSA signature over a SHA-256 digest
 *   KEYS_CERTS       the signing certificate and its chain (DER)
 *   KEYS_AUDIT_MAC   HMAC-SHA-256 under the audit sub-key (verifying the chain)
 *   KEYS_AUDIT_APPEND  the next audit record's number and MAC (see below)
 *   KEYS_AUDIT_COMMIT  "the record you issued is committed"
 *   KEYS_AUDIT_APPEND_MANY  up to KEYS_AUDIT_MANY_MAX records at once, chained
 *                    one after the other, the count written once (the
 *                    portal's group commit of many requests' events)
 *   KEYS_AUDIT_HEAD  the chain's end as the keys process counted it
 *   KEYS_AUDIT_CHECK "is this the audit MAC of these bytes?" (yes or no):
 *                    what verifying the chain needs, without a raw MAC that
 *                    could forge a record (the staff dashboard's "verify"
 *                    button)
 *   KEYS_DKIM_SIGN   an RSASSA-PKCS1-v1_5 signature (SHA-256 DigestInfo) over a
 *                    SHA-256 digest with the tenant's DKIM key (keys/dkim.key);
 *                    the mailer hashes the DKIM header input (RFC 6376 3.7)
 *   KEYS_DKIM_PUBKEY the DKIM public key (DER SubjectPublicKeyInfo), for the
 *                    DNS record `tayori dkim record` prints
 *   KEYS_BATCH       up to KEYS_BATCH_MAX HMAC, DEK_NEW or DEK_UNWRAP requests
 *                    in one round trip (a batch of 5,000 residents needs
 *                    10,000 data keys and index values: one message each
 *                    cost more in context switches than the work itself)
 *   KEYS_RECORD_PENDING  "these notice records are about to be committed at
 *                    these versions" (see "Record versions" below)
 *   KEYS_RECORD_COMMIT   "... and they are committed"
 *   KEYS_RECORD_CHECK    the MACs of many notice records checked, and whether
 *                    each is the latest version the keys process anchored
 *
 * Each channel carries permissions fixed by the supervisor (struct
 * keys_perms): which operations it may ask for, and for the data keys and
 * index values, which databases and index kinds.  The keys process reads
 * the database out of each request's binding ("tayori:<db>:<key>", see
 * store.h) and the index kind out of each HMAC input ("<kind>\0<value>"):
 * the mailer, for example, may unwrap residents' and batches' data keys but
 * no PDF's and no staff record's, and only the command line may make data
 * keys for staff records.  A request of an unknown type, a malformed body,
 * a body with leftover bytes or a forbidden request closes the channel (the
 * supervisor then restarts the client); each part of a KEYS_BATCH is judged
 * as if sent alone.
 *
 * The audit chain (audit.h) belongs to the keys process: a writer sends the
 * record's fields and the end of the log as its store transaction sees it;
 * keys chains the record from there only if that end is the one it issued
 * last, gives it the next number and its MAC, and keeps the count in
 * DATA/keys/audit/counter (written durably before it answers).  So records
 * removed from the end of the log, even with an older head put back, no
 * longer match what keys counted.  The writer confirms each record once its
 * transaction commits; until then keys remembers it as pending, and a
 * pending record that never reached the store (an aborted transaction, a
 * crash) is dropped by the next append, which sees the log's end still at
 * the last confirmed record.  Verification asks for the count first, then
 * requires the log to reach the last confirmed record, with its MAC; what
 * follows it (a record whose confirmation was lost with a crash, or records
 * appended meanwhile) is checked by the chain alone, so only a record in
 * flight can go unnoticed if removed, and only until it is confirmed.
 *
 * Record versions.  The notice records (lib/notice.h) carry a MAC bound to
 * their key and version, so they cannot be minted or edited; the keys
 * process also anchors each record's latest version, so that an older copy
 * put back into the files (an arrival time undone, a lock lifted, a used
 * one-time password made fresh) is refused too.  For each record id
 * (keys_record_id: SHA-256 of "<db>\0<key>", first 16 bytes) it keeps the
 * confirmed version and a pending one, in DATA/keys/audit/records (an
 * append-only file, a pending version written durably before it answers,
 * shared by every keys process of the tenant under a lock).  A writer's store_commit sends
 * the versions its transaction wrote as pending before the LMDB commit and
 * confirms them after it, like the audit chain; a pending version never
 * confirmed (an aborted transaction, a crash) is replaced by the next one
 * sent for that record, and when that next one builds on it (pending + 1),
 * the pending version was committed and becomes the confirmed one.  A read
 * is good when its version is the confirmed or the pending one (a write
 * whose confirmation was lost), or the record was never anchored (written
 * once only, or before the keys process kept versions); anything else is
 * rolled back.  Records written once (events, tokens, codes) take no room:
 * a record is anchored from its second version on.
 * All three requests need the index kind "record" (KEYS_IX_RECORD).
 *
 * Sub-keys are derived from the tenant key with HKDF (RFC 5869); data keys are
 * wrapped with AES-256-GCM under the wrap sub-key, with the object's place as
 * associated data, so a wrapped key moved to another record does not open.
 */
#ifndef TAYORI_KEYS_CLIENT_H
#define TAYORI_KEYS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/buf.h"
#include "lib/crypt.h"

enum keys_msg {
	KEYS_HMAC = 1,
	KEYS_DEK_NEW = 2,
	KEYS_DEK_UNWRAP = 3,
	KEYS_SIGN = 4,
	KEYS_CERTS = 5,
	KEYS_AUDIT_MAC = 6,
	KEYS_BATCH = 7,
	KEYS_AUDIT_APPEND = 8,
	KEYS_AUDIT_COMMIT = 9,
	KEYS_AUDIT_HEAD = 10,
	KEYS_DKIM_SIGN = 11,
	KEYS_DKIM_PUBKEY = 12,
	KEYS_RECORD_PENDING = 13,
	KEYS_RECORD_COMMIT = 14,
	KEYS_RECORD_CHECK = 15,
	KEYS_AUDIT_APPEND_MANY = 16,
	KEYS_AUDIT_CHECK = 17,
	KEYS_OK = 100,
	KEYS_ERR = 101,
	KEYS_GRANT = 102, /* supervisor -> keys, on the control channel: a channel's permissions */
};

/* Operations a channel may ask for (struct keys_perms.ops). */
#define KEYS_PERM_SIGN         0x1u /* KEYS_SIGN, KEYS_CERTS */
#define KEYS_PERM_AUDIT_APPEND 0x2u /* KEYS_AUDIT_APPEND(_MANY), KEYS_AUDIT_COMMIT */
#define KEYS_PERM_AUDIT_VERIFY 0x4u /* KEYS_AUDIT_MAC (a raw MAC), KEYS_AUDIT_HEAD */
#define KEYS_PERM_DKIM         0x8u /* KEYS_DKIM_SIGN, KEYS_DKIM_PUBKEY (the mailer only) */
#define KEYS_PERM_AUDIT_CHECK  0x10u /* KEYS_AUDIT_CHECK, KEYS_AUDIT_HEAD: verify, never forge */
#define KEYS_PERM_ALL          0x1fu

/* A database (enum store_db) in keys_perms.unwrap / .mint. */
#define KEYS_DB(db) (1u << (db))
/* Index kinds ("<kind>\0<value>" HMAC inputs) in keys_perms.index. */
#define KEYS_IX_STAFF_LOGIN 0x1u /* "staff-login" */
#define KEYS_IX_STAFF_EMAIL 0x2u /* "staff-email" */
#define KEYS_IX_RESIDENT    0x4u /* "resident" */
#define KEYS_IX_CONSENT     0x8u /* "consent" */
#define KEYS_IX_VERP        0x10u /* "verp": bounce return paths' MACs (mailer/verp.h) */
#define KEYS_IX_RECORD      0x20u /* "record": MACs of notice records (lib/notice.h) */
#define KEYS_IX_CODE        0x40u /* "notice-code": the index of notice codes */
/* No restriction at all, any binding or input (the command line's own keys
 * process, which runs as the tenant's owner). */
#define KEYS_ANY 0xffffffffu

struct keys_perms {
	uint32_t ops;    /* KEYS_PERM_* */
	uint32_t unwrap; /* KEYS_DB() of the databases whose data keys may be unwrapped */
	uint32_t mint;   /* KEYS_DB() of the databases new data keys may be made for */
	uint32_t index;  /* KEYS_IX_* of the index kinds that may be computed */
};
#define KEYS_PERMS_ALL ((const struct keys_perms){ KEYS_PERM_ALL, KEYS_ANY, KEYS_ANY, KEYS_ANY })

/* The index kinds' names, for the store and the keys process alike. */
#define KEYS_IX_NAME_STAFF_LOGIN "staff-login"
#define KEYS_IX_NAME_STAFF_EMAIL "staff-email"
#define KEYS_IX_NAME_RESIDENT    "resident"
#define KEYS_IX_NAME_CONSENT     "consent"
#define KEYS_IX_NAME_VERP        "verp"
#define KEYS_IX_NAME_RECORD      "record"
#define KEYS_IX_NAME_CODE        "notice-code"

#define KEYS_WRAPPED_LEN (CRYPT_NONCE_LEN + CRYPT_KEY_LEN + CRYPT_TAG_LEN)
#define KEYS_MAX_SIG     1024
#define KEYS_MAX_REQUEST ((size_t)64 << 10)
#define KEYS_BATCH_MAX   64   /* requests in one KEYS_BATCH */
#define KEYS_AUDIT_MANY_MAX 64 /* records in one KEYS_AUDIT_APPEND_MANY */

/* Paths inside a tenant's data directory. */
#define KEYS_DIR        "keys"
#define KEYS_TENANT_KEY "keys/tenant.key"
#define KEYS_SIGNING_P12 "keys/signing.p12"
#define KEYS_SIGNING_PASS "keys/signing.pass"
/* Written by `tayori init --demo` only: this tenant may sign with a
 * certificate whose subject says DEMO (any other tenant refuses to start
 * with one). */
#define KEYS_DEMO_MARK  "keys/demo"
#define KEYS_AUDIT_DIR  "keys/audit"
/* The DKIM signing key (RSA-2048, PKCS#8 PEM, 0600): made by `tayori init`,
 * by `tayori dkim record`, or by the keys process at start when [mail]
 * dkim_selector is set and the file is missing. */
#define KEYS_DKIM_KEY   "keys/dkim.key"
#define KEYS_AUDIT_COUNTER "keys/audit/counter"
#define KEYS_AUDIT_LOCK "keys/audit/lock"
/* Record versions (see above): their append-only file. */
#define KEYS_RECORDS_LOG  "keys/audit/records"

/* ---- client side (any process holding a channel) ---- */

struct keys_client;

/* Takes ownership of fd. */
/* From now on a lost channel (the keys process hung up, after a request
 * it refused or because it died, or answered out of protocol) ends this
 * process at once, exit status 3, with one log line: for a role, which the
 * supervisor then restarts with fresh channels, rather than serving on
 * without keys.  The command line does not: it reports the error. */
void keys_client_exit_when_lost(struct keys_client *kc);
struct keys_client *keys_client_new(int fd);
/* Several channels to the same keys process, for threads that sign in
 * parallel; takes ownership of the n descriptors. */
struct keys_client *keys_client_new_multi(const int *fds, size_t n);
void keys_client_free(struct keys_client **kc);

/* One request each (the store asks through keys_batch() below, even for
 * one value; these remain the protocol's plain form). */
int keys_hmac(struct keys_client *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
	      struct error *e);
int keys_dek_new(struct keys_client *kc, const void *aad, size_t aadlen, uint8_t dek[CRYPT_KEY_LEN],
		 uint8_t wrapped[KEYS_WRAPPED_LEN], struct error *e);
int keys_dek_unwrap(struct keys_client *kc, const void *aad, size_t aadlen,
		    const uint8_t wrapped[KEYS_WRAPPED_LEN], uint8_t dek[CRYPT_KEY_LEN], struct error *e);
int keys_sign_digest(struct keys_client *kc, const uint8_t digest[CRYPT_HASH_LEN], uint8_t *sig,
		     size_t *siglen, struct error *e);
/* DKIM (KEYS_PERM_DKIM): sign the SHA-256 digest of the DKIM header hash
 * input (sig holds *siglen bytes, set to the signature's length); the
 * public key as DER SubjectPublicKeyInfo appended to out.  A tenant with
 * no DKIM key gets -1 with e saying so, the channel stays usable. */
int keys_dkim_sign(struct keys_client *kc, const uint8_t digest[CRYPT_HASH_LEN], uint8_t *sig,
		   size_t *siglen, struct error *e);
int keys_dkim_pubkey(struct keys_client *kc, struct buf *out, struct error *e);
/* Appends each certificate as ipc bytes fields (signer first) to out. */
int keys_certs(struct keys_client *kc, struct buf *out, struct error *e);
int keys_audit_mac(struct keys_client *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
		   struct error *e);
/* 0 when mac is the audit MAC of data, 1 when it is not, -1 error
 * (KEYS_PERM_AUDIT_VERIFY or KEYS_PERM_AUDIT_CHECK). */
int keys_audit_check(struct keys_client *kc, const void *data, size_t n,
		     const uint8_t mac[CRYPT_HASH_LEN], struct error *e);

/*
 * The audit chain.  keys_audit_append: the log in the caller's write
 * transaction ends at record last_seq whose MAC is last_mac (0 and NULL for
 * an empty log); same_txn says this transaction already appended one.  On
 * success *seq is last_seq + 1 and mac, head_mac are the record's MAC and
 * the MAC of meta/audit_head.  keys_audit_commit: that record is committed.
 * A refusal (the log does not end where keys counted) is a KEYS_ERR: -1 with
 * e saying so, the channel stays usable.
 */
int keys_audit_append(struct keys_client *kc, int same_txn, uint64_t last_seq,
		      const uint8_t *last_mac, const void *fields, size_t n, uint64_t *seq,
		      uint8_t mac[CRYPT_HASH_LEN], uint8_t head_mac[CRYPT_HASH_LEN], struct error *e);
/* count (1..KEYS_AUDIT_MANY_MAX) records in one request: numbered
 * *first_seq = last_seq + 1 on, macs[i] the MAC of record first_seq + i,
 * head_mac that of meta/audit_head for the last.  keys_audit_commit of the
 * last confirms them all. */
int keys_audit_append_many(struct keys_client *kc, int same_txn, uint64_t last_seq,
			   const uint8_t *last_mac, size_t count, const uint8_t *const *fields,
			   const size_t *lens, uint64_t *first_seq, uint8_t (*macs)[CRYPT_HASH_LEN],
			   uint8_t head_mac[CRYPT_HASH_LEN], struct error *e);
int keys_audit_commit(struct keys_client *kc, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN],
		      struct error *e);
/* The chain's end as keys counted it: the last confirmed record and, when
 * pending > committed, the one issued since but not confirmed. */
struct keys_audit_head {
	uint64_t committed;
	uint8_t committed_mac[CRYPT_HASH_LEN];
	uint64_t pending;
	uint8_t pending_mac[CRYPT_HASH_LEN];
};
int keys_audit_head(struct keys_client *kc, struct keys_audit_head *out, struct error *e);

/*
 * Record versions (see "Record versions" above).  keys_record_id: the id of
 * the record under key in database db (its name).  keys_record_pending and
 * keys_record_commit: ids[i] is written (then committed) at versions[i];
 * as many round trips as the limits need, each pending one fsynced once.
 */
#define KEYS_RECORD_ID_LEN 16
#define KEYS_RECORD_MAX    1024 /* records in one request */
void keys_record_id(const char *db, const void *key, size_t kl, uint8_t id[KEYS_RECORD_ID_LEN]);
int keys_record_pending(struct keys_client *kc, const uint8_t (*ids)[KEYS_RECORD_ID_LEN],
			const uint64_t *versions, size_t n, struct error *e);
int keys_record_commit(struct keys_client *kc, const uint8_t (*ids)[KEYS_RECORD_ID_LEN],
		       const uint64_t *versions, size_t n, struct error *e);
/*
 * keys_record_check: in is the record's MAC input ("record\0<db>\0<key>
 * <fields>", the fields ending in NR_VERSION), kl the key's length, mac the
 * MAC the record carries.  verdict[i] gets one of KEYS_REC_*.
 */
enum { KEYS_REC_GOOD = 0, KEYS_REC_FORGED = 1, KEYS_REC_ROLLED_BACK = 2 };
struct keys_rec_check {
	const void *in;
	size_t inlen;
	size_t kl;
	const uint8_t *mac;
};
int keys_record_check(struct keys_client *kc, const struct keys_rec_check *recs, size_t n,
		      uint8_t *verdict, struct error *e);

/* The supervisor hands the keys process one end of a client's channel over
 * its control channel ctl, with that channel's permissions; the keys process
 * takes it with keys_channel_accept. */
int keys_channel_grant(int ctl, const struct keys_perms *p, int fd, struct error *e);
int keys_channel_accept(int ctl, struct keys_perms *p, int *fd, struct error *e);

/*
 * Many requests in as few round trips as the limits allow (KEYS_BATCH).
 * type is KEYS_HMAC (out: CRYPT_HASH_LEN bytes), KEYS_DEK_NEW (out: the data
 * key then the wrapped key, KEYS_DEK_LEN bytes) or KEYS_DEK_UNWRAP (in: the
 * context then the wrapped key; out: the data key).  All or nothing: on
 * -1 the outputs are wiped.
 */
#define KEYS_DEK_LEN (CRYPT_KEY_LEN + KEYS_WRAPPED_LEN)
struct keys_op {
	uint32_t type;
	const void *in;
	size_t inlen;
	uint8_t *out;
};
int keys_batch(struct keys_client *kc, struct keys_op *ops, size_t n, struct error *e);

/* The keys role tells the supervisor, over its control channel, whether it
 * could load its keys: keys_ready_send with NULL (ready) or the reason it
 * cannot run; keys_ready_wait returns 0 when ready, -1 with e holding the
 * reason (or saying the keys process ended or took longer than
 * timeout_ms). */
int keys_ready_send(int ctl, const char *failure);
int keys_ready_wait(int ctl, int timeout_ms, struct error *e);

#endif
