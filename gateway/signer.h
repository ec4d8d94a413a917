/*
 * signer.h — the signing-credential abstraction used by PAdES signing.
 * Runs in the keys process (local PKCS#12 or PKCS#11 signers), in the
 * `tayori pdf sign` CLI, and in the gateway (whose signer forwards the
 * digest to the keys process over IPC; the private key never enters it).
 *
 * Standards: PKCS#1 v1.5 (RFC 8017) and ECDSA (SEC 1, DER Ecdsa-Sig-Value)
 * signatures over a SHA-256 digest; PKCS#12 (RFC 7292); PKCS#11 v2.40
 * (OASIS Cryptoki) through the module's C_GetFunctionList.
 *
 * Ownership: a signer made by signer_from_p12/signer_from_pkcs11 owns its
 * ctx, cert and chain; release it with signer_free(), which sets the
 * caller's pointer to NULL.  A signer built by hand (the gateway's IPC
 * signer) may leave free_ctx NULL and free its fields itself.
 */
#ifndef TAYORI_SIGNER_H
#define TAYORI_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "util.h"

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

/*
 * A local signer from a PKCS#12 file.  password may be "" (not NULL).
 * The caller wipes its copy of the password; this function keeps none.
 */
int signer_from_p12(const char *path, const char *password,
    struct signer **out, struct error *e);

/*
 * A signer on a PKCS#11 token: dlopen()s module_path, finds the token whose
 * label is token_label, logs in with pin and uses the first private key that
 * has a certificate with the same CKA_ID.  The other certificates on the
 * token become the chain.  key_label (may be NULL) selects a key by
 * CKA_LABEL.  Sessions are serialised by a mutex, so one signer can be
 * shared by threads.
 */
int signer_from_pkcs11(const char *module_path, const char *token_label,
    const char *key_label, const char *pin, struct signer **out,
    struct error *e);

/* Add the certificates of a PEM file to s->chain (skipping duplicates). */
int signer_add_chain_file(struct signer *s, const char *pem_path, struct error *e);

/* Frees everything a signer owns (calls free_ctx) and sets *s to NULL. */
void signer_free(struct signer **s);

#endif
