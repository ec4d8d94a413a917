/*
 * credential.h — the ward's signing credential: one loader for a PKCS#12
 * file and for a key on a PKCS#11 token (an IC card, an HSM), and the one
 * place that signs with it.  Runs in the keys process (the service, and the
 * keys child of a command-line tool) and in `tayori pdf sign`, which signs a
 * file with a credential it opens itself; never in a process that talks to
 * the network.
 *
 * Both loaders prove that the key belongs to the certificate before they
 * return: they sign a random digest with the key and verify that signature
 * with the certificate's public key, so a token whose key and certificate
 * were paired by mistake (same CKA_ID, another key) is refused at start,
 * not discovered by the first resident whose PDF does not validate.
 *
 * Standards: PKCS#12 (RFC 7292); PKCS#11 v2.40 (OASIS Cryptoki) through the
 * module's C_GetFunctionList; PKCS#1 v1.5 signatures with a SHA-256
 * DigestInfo (RFC 8017 §9.2); ECDSA with a DER Ecdsa-Sig-Value (RFC 5480).
 *
 * Ownership: credential_free() releases everything (logging out of the
 * token, wiping the key) and sets the caller's pointer to NULL.  The
 * certificate and chain credential_cert/credential_chain return are
 * borrowed and live as long as the credential.
 */
#ifndef TAYORI_CREDENTIAL_H
#define TAYORI_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>

#include "lib/util.h"

/* Largest signature credential_sign returns (RSA-8192 or a DER ECDSA P-521). */
#define CREDENTIAL_SIG_MAX 1024

struct credential;

/*
 * The key and certificate of a PKCS#12 file.  password may be "" (not
 * NULL); the caller wipes its copy, this function keeps none.  The other
 * certificates of the file become the chain.
 */
int credential_open_p12(const char *path, const char *password, struct credential **out,
			struct error *e);

/*
 * A key on a PKCS#11 token: dlopen()s module, finds the token labelled
 * token, logs in as the user with pin and takes the private key that has a
 * certificate with the same CKA_ID; key_label (NULL or "": any) selects the
 * key by its CKA_LABEL.  Without key_label a token holding several such
 * keys is refused (which one would sign is then a guess).  The token's
 * other certificates become the chain.  Every failure (module, token,
 * login, key) is an error with one line saying which; nothing falls back.
 */
int credential_open_pkcs11(const char *module, const char *token, const char *key_label,
			   const char *pin, struct credential **out, struct error *e);

/*
 * Sign a SHA-256 digest: RSA PKCS#1 v1.5 (the DigestInfo is added here) or
 * ECDSA (DER Ecdsa-Sig-Value).  On entry *siglen is the room in sig (at
 * least CREDENTIAL_SIG_MAX), on return the length.  Safe to call from
 * several threads at once (a token's session is taken under a mutex).
 */
int credential_sign(struct credential *c, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		    struct error *e);

X509 *credential_cert(const struct credential *c);
/* Never NULL (may be empty). */
STACK_OF(X509) *credential_chain(const struct credential *c);
/* EVP_PKEY_RSA or EVP_PKEY_EC. */
int credential_key_type(const struct credential *c);
/* "pkcs12" or "pkcs11". */
const char *credential_source(const struct credential *c);

/* What the logs and the operator see of the certificate. */
struct credential_info {
	char sha256[2 * 32 + 1]; /* lower-case hex of the DER certificate's SHA-256 */
	char subject[512];       /* RFC 2253, UTF-8, cut to fit */
	char not_after[32];      /* YYYY-MM-DDTHH:MM:SSZ */
};
int credential_info(const struct credential *c, struct credential_info *out, struct error *e);

/* 1 when any attribute of the certificate's subject says DEMO (the
 * certificate `tayori init --demo` makes), else 0. */
int credential_is_demo(const struct credential *c);

void credential_free(struct credential **c);

#endif
