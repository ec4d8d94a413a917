/*
 * crypt.h — the symmetric primitives tayori uses, on OpenSSL 3:
 * AES-256-GCM (NIST SP 800-38D; CRYPTREC listed), HMAC-SHA-256 (RFC 2104)
 * and SHA-256 (FIPS 180-4).  Runs in every process; only the keys process
 * ever holds the tenant key, the others hold short-lived data keys.
 */
#ifndef TAYORI_CRYPT_H
#define TAYORI_CRYPT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

#define CRYPT_KEY_LEN   32
#define CRYPT_NONCE_LEN 12
#define CRYPT_TAG_LEN   16
#define CRYPT_HASH_LEN  32
/* Overhead of crypt_seal: nonce in front, tag behind. */
#define CRYPT_SEAL_OVERHEAD (CRYPT_NONCE_LEN + CRYPT_TAG_LEN)

/* Encrypt pt under key with a fresh random nonce; appends
 * nonce || ciphertext || tag to out.  aad binds the ciphertext to its place. */
int crypt_seal(const uint8_t key[CRYPT_KEY_LEN], const void *aad, size_t aadlen,
	       const void *pt, size_t ptlen, struct buf *out, struct error *e);
/* Reverse of crypt_seal; appends the plaintext to out.  Fails on any change. */
int crypt_open(const uint8_t key[CRYPT_KEY_LEN], const void *aad, size_t aadlen,
	       const void *sealed, size_t sealedlen, struct buf *out, struct error *e);

void crypt_sha256(const void *p, size_t n, uint8_t out[CRYPT_HASH_LEN]);
void crypt_hmac(const uint8_t key[CRYPT_KEY_LEN], const void *p, size_t n,
		uint8_t out[CRYPT_HASH_LEN]);
/* HKDF-SHA-256 (RFC 5869) expand of a key into a sub-key for one purpose. */
int crypt_derive(const uint8_t key[CRYPT_KEY_LEN], const char *label, uint8_t out[CRYPT_KEY_LEN]);

/* The one OpenSSL error helper: fill e with "what: reason", the reason being
 * the oldest error on this thread's OpenSSL queue ("unknown error" when it
 * is empty), and empty the queue so no stale reason follows.  temporary
 * selects err_tmp() (worth retrying) over err_set().  Returns -1. */
int crypt_ossl_error(struct error *e, int temporary, const char *what);

#endif
