/*
 * tsa.h — RFC 3161 time-stamp client and the small HTTP/1.1 client it uses
 * (also used to fetch CRLs named by certificates for PAdES B-LT).
 * Runs in the gateway and in the `tayori pdf sign` CLI.
 *
 * Standards: RFC 3161 (Time-Stamp Protocol, HTTP transport §3.4),
 * RFC 5816 (ESSCertIDv2 in TSA tokens), RFC 9112 (HTTP/1.1 messages,
 * chunked transfer coding).
 *
 * Only http:// URLs are supported for now: TSAs and CRL distribution
 * points are commonly plain HTTP because their payloads are signed; TLS
 * can be added when a ward's TSA requires it.
 */
#ifndef TAYORI_TSA_H
#define TAYORI_TSA_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"
#include "buf.h"

/* Largest HTTP response body accepted (a CRL or a time-stamp reply). */
#define TSA_HTTP_MAX ((size_t)8 << 20)

/*
 * One HTTP request over a fresh TCP connection ("Connection: close").
 * method is "GET" or "POST" (body and content_type may be NULL for GET).
 * The response body (status 200 only) is appended to out, whose cap
 * bounds it.  timeout_ms bounds the whole exchange.
 */
int tsa_http_request(const char *url, const char *method, const char *content_type,
    const uint8_t *body, size_t bodylen, int timeout_ms, struct buf *out,
    struct error *e);

/*
 * Ask the TSA at url for a time stamp over a SHA-256 digest (a nonce and
 * certReq are sent; the reply's status, nonce and message imprint are
 * checked).  On success *tst is the DER TimeStampToken (a CMS ContentInfo),
 * malloc'd, freed by the caller; *gen_time (may be NULL) its genTime.
 */
int tsa_timestamp(const char *url, const uint8_t digest[32], uint8_t **tst,
    size_t *tstlen, int64_t *gen_time, struct error *e);

#endif
