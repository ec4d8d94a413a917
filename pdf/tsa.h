/*
 * tsa.h — RFC 3161 time-stamp client, and the check of a time-stamp token
 * against the TSA trust anchors (`tsa_ca_file`, `--tsa-ca`).
 * Runs in the gateway, in `tayori pdf sign` and in `tayori pdf verify`.
 *
 * Standards: RFC 3161 (Time-Stamp Protocol, HTTP transport §3.4; the TSA
 * certificate's critical extendedKeyUsage id-kp-timeStamping, §2.3),
 * RFC 5816 (ESSCertIDv2 in TSA tokens), RFC 5652 (CMS signatures).
 * The HTTP(S) transport is pdf/http_client.h.
 */
#ifndef TAYORI_TSA_H
#define TAYORI_TSA_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "lib/util.h"
#include "lib/buf.h"
#include "pdf/http_client.h"

/* Largest HTTP response body accepted (a CRL or a time-stamp reply). */
#define TSA_HTTP_MAX ((size_t)8 << 20)

/* How far a fresh token's genTime may be from the local clock (seconds). */
#define TSA_CLOCK_SKEW 300

/*
 * The TSA trust anchors: a PEM bundle of CA certificates.  Refused (e not
 * temporary) when ca_file is NULL or empty or holds no certificate.
 */
X509_STORE *tsa_store_load(const char *ca_file, struct error *e);

/*
 * Check a DER TimeStampToken (a CMS ContentInfo holding a TSTInfo): its
 * CMS signature; its signer's certificate, which must carry the critical
 * extendedKeyUsage timeStamping and chain to store (at the token's genTime
 * when at_gen_time, else now); the ESS signing-certificate attribute; and
 * that its message imprint is the SHA-256 digest.  *gen_time (may be NULL)
 * gets the genTime.  Failures are refusals (e not temporary).
 */
int tsa_token_verify(const uint8_t *tok, size_t toklen, X509_STORE *store,
    const uint8_t digest[32], int at_gen_time, int64_t *gen_time, struct error *e);

/*
 * Ask the TSA at url (http:// or https://) for a time stamp over a SHA-256
 * digest: a nonce and certReq are sent; the reply's status and nonce are
 * checked, its token with tsa_token_verify() against the anchors in
 * ca_file (required), and its genTime must be within TSA_CLOCK_SKEW of
 * the local clock.  On success *tst is the DER TimeStampToken, malloc'd,
 * freed by the caller; *gen_time (may be NULL) its genTime.  Network
 * failures are temporary; a token that does not verify is refused.
 */
int tsa_timestamp(const char *url, const char *ca_file, const uint8_t digest[32],
    uint8_t **tst, size_t *tstlen, int64_t *gen_time, struct error *e);

#endif
