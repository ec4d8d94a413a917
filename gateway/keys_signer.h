/*
 * keys_signer.h — a struct signer (signer.h) whose private key stays in the
 * keys process: sign_digest is a KEYS_SIGN round trip, and the certificate
 * chain comes from KEYS_CERTS.  Runs in the gateway and in `tayori submit`.
 */
#ifndef TAYORI_KEYS_SIGNER_H
#define TAYORI_KEYS_SIGNER_H

#include "pdf/signer.h"

struct keys_client;

/* kc is borrowed and must outlive the signer; free with signer_free(). */
int keys_signer_new(struct keys_client *kc, struct signer **out, struct error *e);

#endif
