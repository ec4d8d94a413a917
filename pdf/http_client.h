/*
 * http_client.h — a small HTTP/1.1 client for time stamps, CRLs and OCSP:
 * one request per connection, http:// or https:// (TLS 1.2 or later, the
 * server's certificate checked against the system store, or the file named
 * by SSL_CERT_FILE, and its host name).  Runs in the gateway and in the
 * `tayori pdf sign` CLI.
 *
 * Standards: RFC 9112 (HTTP/1.1 messages, chunked transfer coding),
 * RFC 9110 (semantics), RFC 8446/5246 (TLS), RFC 6125 (host names).
 *
 * Every byte read from the network is capped: the head at HTTP_HEAD_MAX,
 * the body at the output buffer's cap, and a deadline bounds the whole
 * exchange.
 */
#ifndef TAYORI_HTTP_CLIENT_H
#define TAYORI_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"
#include "lib/buf.h"

#define HTTP_HEAD_MAX 16384

/*
 * One request over a fresh connection ("Connection: close").  method is
 * "GET" or "POST" (body and content_type may be NULL for GET).  The body
 * of a 200 response is appended to out, whose cap bounds it; timeout_ms
 * bounds the whole exchange.  Network failures are temporary errors.
 */
int http_request(const char *url, const char *method, const char *content_type,
    const uint8_t *body, size_t bodylen, int timeout_ms, struct buf *out,
    struct error *e);

/*
 * The head of a response received so far (n bytes at p): returns 1 with
 * *head_len, *status, *content_length (-1 when absent) and *chunked set
 * when the whole head is there, 0 when more bytes are needed, -1 (e set)
 * when it is not a well-formed HTTP/1.x head or exceeds HTTP_HEAD_MAX.
 */
int http_parse_head(const uint8_t *p, size_t n, size_t *head_len, int *status,
    int64_t *content_length, int *chunked, struct error *e);

/*
 * A whole response (n bytes at p, read until the peer closed): its status
 * into *status and, for any status, its body (Content-Length, chunked or
 * up to the end) appended to body, whose cap bounds it.  -1 (e set) when
 * it is malformed, truncated or too large.
 */
int http_parse_response(const uint8_t *p, size_t n, int *status, struct buf *body,
    struct error *e);

#endif
