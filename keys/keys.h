/*
 * keys.h — the keys process and its protocol.
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
 *   KEYS_AUDIT_MAC   HMAC-SHA-256 under the audit sub-key (the audit chain)
 *   KEYS_BATCH       up to KEYS_BATCH_MAX HMAC, DEK_NEW or DEK_UNWRAP requests
 *                    in one round trip (a batch of 5,000 residents needs
 *                    10,000 data keys and index values: one message each
 *                    cost more in context switches than the work itself)
 *
 * Each channel carries a permission mask fixed by the supervisor: the portal
 * may unwrap data keys but never sign, for example.  A request of an unknown
 * type, a malformed body or a body with leftover bytes closes the channel.
 *
 * Sub-keys are derived from the tenant key with HKDF (RFC 5869); data keys are
 * wrapped with AES-256-GCM under the wrap sub-key, with the object's place as
 * associated data, so a wrapped key moved to another record does not open.
 */
#ifndef TAYORI_KEYS_H
#define TAYORI_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "buf.h"
#include "crypt.h"

enum keys_msg {
	KEYS_HMAC = 1,
	KEYS_DEK_NEW = 2,
	KEYS_DEK_UNWRAP = 3,
	KEYS_SIGN = 4,
	KEYS_CERTS = 5,
	KEYS_AUDIT_MAC = 6,
	KEYS_BATCH = 7,
	KEYS_OK = 100,
	KEYS_ERR = 101,
};

/* Permission bits of a channel. */
#define KEYS_PERM_INDEX 0x1u
#define KEYS_PERM_DATA  0x2u
#define KEYS_PERM_SIGN  0x4u
#define KEYS_PERM_AUDIT 0x8u
#define KEYS_PERM_ALL   0xfu

#define KEYS_WRAPPED_LEN (CRYPT_NONCE_LEN + CRYPT_KEY_LEN + CRYPT_TAG_LEN)
#define KEYS_MAX_SIG     1024
#define KEYS_MAX_REQUEST ((size_t)64 << 10)
#define KEYS_BATCH_MAX   64   /* requests in one KEYS_BATCH */

/* Paths inside a tenant's data directory. */
#define KEYS_DIR        "keys"
#define KEYS_TENANT_KEY "keys/tenant.key"
#define KEYS_SIGNING_P12 "keys/signing.p12"
#define KEYS_SIGNING_PASS "keys/signing.pass"

/* ---- client side (any process holding a channel) ---- */

struct keys_client;

/* Takes ownership of fd. */
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
/* Appends each certificate as ipc bytes fields (signer first) to out. */
int keys_certs(struct keys_client *kc, struct buf *out, struct error *e);
int keys_audit_mac(struct keys_client *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
		   struct error *e);

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

/* ---- the keys process ---- */

struct keys_state;

/* Read the tenant key and, when present, the signing credential. */
int keys_state_load(const char *data_dir, const char *p12_path, const char *p12_pass_env,
		    struct keys_state **out, struct error *e);
void keys_state_free(struct keys_state **ks);

/* Answer one request.  Returns 0 with *rtype/reply set, or -1 when the
 * request is malformed or not allowed (the caller closes the channel). */
int keys_handle(struct keys_state *ks, unsigned perms, uint32_t type, const uint8_t *body,
		size_t len, uint32_t *rtype, struct buf *reply, struct error *e);

/* Serve one channel until it closes (used by keys_spawn's child). */
void keys_serve(struct keys_state *ks, int fd, unsigned perms);

/* Channels keys_spawn opens: one per core is enough for RSA signing. */
#define KEYS_SPAWN_CHANNELS 2

/* For command-line tools: fork a keys process for data_dir and return a
 * client for it (KEYS_SPAWN_CHANNELS channels, each served by a thread).  keys_spawn_wait() closes the client and reaps the child. */
int keys_spawn(const char *data_dir, const char *p12_path, const char *p12_pass_env,
	       struct keys_client **kc, pid_t *pid, struct error *e);
void keys_spawn_wait(struct keys_client **kc, pid_t pid);

/* `tayori init`: create keys/ with a new tenant key (0600) and, with demo,
 * a self-signed signing certificate whose subject says DEMO.  Runs in a
 * child process so the key never lives in the caller. */
int keys_create_tenant(const char *data_dir, int demo, const char *tenant_name, struct error *e);

#endif
