/*
 * keys_dkim.h — private to keys/: the DKIM key of the keys process
 * (keys_dkim.c).  The protocol side is KEYS_DKIM_* in lib/keys_client.h.
 * Runs only in the keys process.
 */
#ifndef TAYORI_KEYS_DKIM_H
#define TAYORI_KEYS_DKIM_H

#include <openssl/evp.h>
#include "keys/keys.h"
#include "lib/buf.h"

/* Load DATA/keys/dkim.key; a missing file is not an error (*out NULL). */
int keys_dkim_load(const char *data_dir, EVP_PKEY **out, struct error *e);
/* sig has room for *siglen bytes; *siglen is set to the signature's length. */
int keys_dkim_sign_digest(EVP_PKEY *pk, const uint8_t *digest, size_t dlen, uint8_t *sig,
			  size_t *siglen, struct error *e);
/* Append the DER SubjectPublicKeyInfo to out. */
int keys_dkim_pubkey_der(EVP_PKEY *pk, struct buf *out, struct error *e);

#endif
