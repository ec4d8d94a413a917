/*
 * keys.h — the keys process: the tenant key, the signing credential, and
 * the server side of the protocol in lib/keys_client.h (which says what
 * each request does and who may ask for it).  Runs in the keys process and
 * in the keys child a command-line tool forks (keys_spawn).
 */
#ifndef TAYORI_KEYS_H
#define TAYORI_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "lib/keys_client.h"

/* ---- the keys process ---- */

struct keys_state;
struct conf;
struct credential;

/*
 * Where the signing credential comes from ([signing] in tayori.conf).  With
 * pkcs11_module set, the key on that token signs and p12 is never read:
 * a token that cannot be opened (module, token label, PIN, key) is an
 * error, never a reason to fall back to the file.  Without it, the PKCS#12
 * file p12 (relative to the data directory, or absolute) signs when it
 * exists; with neither, signing requests are refused.  The *_env settings
 * name environment variables holding the secrets.
 */
struct keys_cred_conf {
	const char *p12;
	const char *p12_pass_env;
	const char *pkcs11_module;
	const char *pkcs11_token;
	const char *pkcs11_key;
	const char *pkcs11_pin_env;
};
/* The settings of conf c; the paths are resolved into the caller's buffers
 * (PATH_MAX each), which must outlive *out. */
void keys_cred_conf_read(const struct conf *c, char *p12_buf, char *module_buf,
			 struct keys_cred_conf *out);

/* Read the tenant key and, when present, the signing credential from a
 * PKCS#12 file (keys_state_load) or as cc says (keys_state_load_cred). */
int keys_state_load(const char *data_dir, const char *p12_path, const char *p12_pass_env,
		    struct keys_state **out, struct error *e);
int keys_state_load_cred(const char *data_dir, const struct keys_cred_conf *cc,
			 struct keys_state **out, struct error *e);
/* The signing credential, or NULL when none is configured. */
const struct credential *keys_state_credential(const struct keys_state *ks);
void keys_state_free(struct keys_state **ks);

/* Answer one request.  Returns 0 with *rtype/reply set, or -1 when the
 * request is malformed or not allowed (the caller closes the channel). */
int keys_handle(struct keys_state *ks, const struct keys_perms *perms, uint32_t type,
		const uint8_t *body, size_t len, uint32_t *rtype, struct buf *reply, struct error *e);

/* Serve one channel until it closes (used by keys_spawn's child). */
void keys_serve(struct keys_state *ks, int fd, const struct keys_perms *perms);

/* keys_audit.c: the chain's counter file (the keys process only).  The
 * append and commit of the protocol; 0 done, 1 refused (e says why, the
 * answer is a KEYS_ERR), -1 an I/O failure. */
int keys_chain_create(const char *data_dir, struct error *e);
int keys_chain_append(struct keys_state *ks, int same_txn, uint64_t last_seq,
		      const uint8_t *last_mac, const uint8_t *fields, size_t n, uint64_t *seq,
		      uint8_t mac[CRYPT_HASH_LEN], uint8_t head_mac[CRYPT_HASH_LEN], struct error *e);
/* count (1..KEYS_AUDIT_MANY_MAX) records at once, numbered from *first_seq
 * on, chained one after the other, the counter written once; head_mac is
 * that of the last. */
int keys_chain_append_many(struct keys_state *ks, int same_txn, uint64_t last_seq,
			   const uint8_t *last_mac, size_t count, const uint8_t *const *fields,
			   const size_t *lens, uint64_t *first_seq, uint8_t (*macs)[CRYPT_HASH_LEN],
			   uint8_t head_mac[CRYPT_HASH_LEN], struct error *e);
int keys_chain_commit(struct keys_state *ks, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN],
		      struct error *e);
int keys_chain_head(struct keys_state *ks, struct keys_audit_head *out, struct error *e);
/* The record and head MACs (the keys process only). */
void keys_audit_record_mac(struct keys_state *ks, uint64_t seq, const uint8_t prev[CRYPT_HASH_LEN],
			   const uint8_t *fields, size_t n, uint8_t out[CRYPT_HASH_LEN]);
void keys_audit_head_mac(struct keys_state *ks, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN],
			 uint8_t out[CRYPT_HASH_LEN]);
/* keys_records.c: the anchor of notice record versions (see "Record
 * versions" in lib/keys_client.h).  keys_records_update: versions[i] of
 * ids[i] is pending (commit 0) or committed (commit 1); keys_records_check:
 * verdict[i] KEYS_REC_GOOD or KEYS_REC_ROLLED_BACK.  Both 0, or -1 on an
 * I/O failure.  keys_records_request answers KEYS_RECORD_PENDING, _COMMIT
 * and _CHECK (permission already checked): 0 answered (reply written), 1
 * malformed, -1 failed (e says why; the answer is a KEYS_ERR). */
struct keys_records;
struct keys_records *keys_records_new(const char *data_dir, const uint8_t key[CRYPT_KEY_LEN]);
void keys_records_free(struct keys_records **r);
int keys_records_update(struct keys_records *r, int commit,
			const uint8_t (*ids)[KEYS_RECORD_ID_LEN], const uint64_t *versions,
			size_t n, struct error *e);
int keys_records_check(struct keys_records *r, const uint8_t (*ids)[KEYS_RECORD_ID_LEN],
		       const uint64_t *versions, size_t n, uint8_t *verdict, struct error *e);
int keys_records_request(struct keys_state *ks, uint32_t type, const uint8_t *body, size_t len,
			 struct buf *reply, struct error *e);
struct keys_records *keys_state_records(struct keys_state *ks);
/* HMAC-SHA-256 under the index sub-key (the keys process only). */
void keys_index_mac(struct keys_state *ks, const void *p, size_t n, uint8_t out[CRYPT_HASH_LEN]);
/* The data directory the state was loaded from. */
const char *keys_state_dir(struct keys_state *ks);

/* Channels keys_spawn opens: one per core is enough for RSA signing. */
#define KEYS_SPAWN_CHANNELS 2

/* For command-line tools: fork a keys process for data_dir and return a
 * client for it (KEYS_SPAWN_CHANNELS channels, each served by a thread).  keys_spawn_wait() closes the client and reaps the child. */
int keys_spawn(const char *data_dir, const char *p12_path, const char *p12_pass_env,
	       struct keys_client **kc, pid_t *pid, struct error *e);
int keys_spawn_cred(const char *data_dir, const struct keys_cred_conf *cc,
		    struct keys_client **kc, pid_t *pid, struct error *e);

void keys_spawn_wait(struct keys_client **kc, pid_t pid);

/* `tayori init`: create keys/ with a new tenant key (0600) and, with demo,
 * a self-signed signing certificate whose subject says DEMO.  Runs in a
 * child process so the key never lives in the caller. */
int keys_create_tenant(const char *data_dir, int demo, const char *tenant_name, struct error *e);

/* The DKIM key, keys/dkim.key (RSA-2048, 0600), unless the tenant has one;
 * in a child process as above.  Not made by `tayori init`: a tenant that
 * signs no mail needs none.  The keys process makes it at start when
 * [mail] dkim_selector is set, and `tayori dkim record` when it prints the
 * DNS record (the running keys process then needs a restart to load it). */
int keys_create_dkim(const char *data_dir, struct error *e);

#endif
