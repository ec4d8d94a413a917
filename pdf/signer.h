/*
 * signer.h — what PAdES signing asks of a signing credential: a certificate,
 * its chain and a function that signs a SHA-256 digest.  The gateway's
 * signer (keys_signer.h) forwards the digest to the keys process, so the
 * private key never enters it; `tayori pdf sign` wraps a credential it
 * opened itself (keys/credential.h, the one loader of PKCS#12 files and
 * PKCS#11 tokens).  Runs wherever PDFs are signed.
 *
 * Standards: PKCS#1 v1.5 (RFC 8017) and ECDSA (SEC 1, DER Ecdsa-Sig-Value)
 * signatures over a SHA-256 digest.
 *
 * Ownership: a signer owns its cert and chain and, when free_ctx is set,
 * its ctx; release it with signer_free(), which sets the caller's pointer
 * to NULL.
 */
#ifndef TAYORI_SIGNER_H
#define TAYORI_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "lib/util.h"

/* Largest signature any signer returns (RSA-8192 or a DER ECDSA P-521). */
#define SIGNER_SIG_MAX 1024

struct signer {
	/*
	 * Sign a SHA-256 digest: RSA PKCS#1 v1.5 (the DigestInfo is added by
	 * the signer) or ECDSA (DER Ecdsa-Sig-Value).  On entry *siglen is
	 * the room in sig (at least SIGNER_SIG_MAX), on return the length.
	 * Must be safe to call from several threads at once.
	 */
	int (*sign_digest)(void *ctx, const uint8_t digest[32], uint8_t *sig,
	    size_t *siglen, struct error *e);
	void *ctx;
	X509 *cert;                /* signer certificate */
	STACK_OF(X509) *chain;     /* intermediates (and root) to embed; may be NULL */
	int pkey_type;             /* EVP_PKEY_RSA or EVP_PKEY_EC */
	/* Releases ctx (wiping key material); NULL when nothing to release. */
	void (*free_ctx)(void *ctx);
};

/* Add the certificates of a PEM file to s->chain (skipping duplicates). */
int signer_add_chain_file(struct signer *s, const char *pem_path, struct error *e);

/* Frees everything a signer owns (calls free_ctx) and sets *s to NULL. */
void signer_free(struct signer **s);

#endif
