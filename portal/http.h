/*
 * http.h — the portal's HTTP layer, shared by the resident listener and the
 * staff listener: a libmicrohttpd daemon (epoll, a thread pool) that reads
 * each request into a struct http_request, runs the handler its route
 * names, and sends the struct http_response the handler filled, with the
 * portal's security headers on every response.  Runs in the portal process.
 *
 * What the layer does so handlers need not:
 *
 *   - routes: method and path (exact, or a prefix); GET routes also answer
 *     HEAD (no body is sent); a known path with another method gets 405,
 *     an unknown one 404; /static/style.css is served by the layer;
 *   - limits: connections in all and per IP, header size and count (431),
 *     body size (413, per route), a per-IP request rate (429), time-outs;
 *     IPv6 clients are counted by /64; a loopback peer is a local proxy
 *     (the WAF) or tool, limited by the address it forwards (see
 *     trust_forwarded, limit_loopback);
 *   - the query string, the Cookie header and an
 *     application/x-www-form-urlencoded POST body are parsed and copied into
 *     the request, so a handler may run on any thread;
 *   - POST routes are CSRF-checked before the handler runs (double-submit:
 *     a random cookie and the hidden form field "csrf", compared in constant
 *     time) unless the route says HTTP_CSRF_OWN; a failed check gets 403;
 *   - HTTP_SLOW routes (Argon2, anything that may block) run in a small
 *     worker pool while the connection is suspended, never on the listener's
 *     threads; an HTTP_SLOW | HTTP_TRY_FAST route is first tried on the
 *     listener's thread, and goes to the pool only when its handler says
 *     it would have to wait (HTTP_WOULD_BLOCK), so a request that needs
 *     nothing slow costs no hand-over;
 *   - every response carries Content-Security-Policy (default-src 'none';
 *     style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors
 *     'none'; base-uri 'none'), X-Frame-Options DENY, Referrer-Policy
 *     no-referrer, X-Content-Type-Options nosniff, Cache-Control no-store
 *     (unless the handler sets cache_seconds), and Strict-Transport-Security
 *     under TLS;
 *   - a response may be streamed as it is made (http_stream_start: Server-
 *     Sent Events), sleeping between events off the listener's threads;
 *   - a download (http_resp_bytes) answers a single-range Range header with
 *     206 and Content-Range, or 416 when it cannot be satisfied (RFC 9110
 *     section 14);
 *   - TLS through libmicrohttpd's GnuTLS: TLS 1.2 and 1.3 only, AEAD suites
 *     with ECDHE or DHE.  A listener on a non-loopback address without TLS
 *     refuses to start.
 *
 * Implements RFC 9110 (HTTP semantics), RFC 6265 (cookies), RFC 6266
 * (Content-Disposition), RFC 6797 (HSTS), the WHATWG URL form encoding and
 * the W3C CSP Level 3.
 */
#ifndef TAYORI_HTTP_H
#define TAYORI_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/util.h"

/* Caps on what a request may carry. */
#define HTTP_FIELDS_MAX   64          /* query args, form fields, cookies: each */
#define HTTP_BODY_MAX     (64 * 1024) /* default POST body cap (413 beyond) */
#define HTTP_PAGE_MAX     ((size_t)32 << 20) /* a response body built in resp->body */
#define HTTP_CSRF_LEN     43          /* base64url of 32 random bytes */
#define HTTP_IP_LEN       46          /* INET6_ADDRSTRLEN */
#define HTTP_HEADERS_MAX  8           /* extra response headers */

/* One name and value; value is NUL-terminated and value_len long (a form
 * field may hold a NUL byte: compare with value_len when it matters). */
struct http_field {
	char *name;
	char *value;
	size_t value_len;
};

struct http_fields {
	size_t n;
	struct http_field f[HTTP_FIELDS_MAX];
};

/*
 * A request, filled by the layer before the handler runs.  Every string is
 * NUL-terminated, owned by the layer and valid until the handler returns;
 * none is NULL.  The handler may read it from any thread.
 */
struct http_request {
	const char *method;     /* "GET", "HEAD" or "POST" */
	int is_head;            /* HEAD: the body the handler makes is not sent */
	const char *path;       /* percent-decoded path, without the query: "/n/abc" */
	const char *subpath;    /* for an HTTP_PREFIX route, path after the prefix */
	char client_ip[HTTP_IP_LEN]; /* "192.0.2.1", "2001:db8::1" */
	int is_tls;
	const char *user_agent; /* "" when absent */
	const char *range;      /* the Range header, "" when absent */
	const char *content_type; /* the request's, "" when absent */
	const uint8_t *body;    /* a POST's body as received (NUL-terminated), body_len bytes */
	size_t body_len;
	struct http_fields query;   /* ?a=b&c=d, percent-decoded */
	struct http_fields form;    /* an application/x-www-form-urlencoded body */
	struct http_fields cookies; /* the Cookie header */
	struct http_fields headers; /* every request header (names as sent) */
	int may_block;          /* 1 in the worker pool; 0 on a listener's thread,
				   where a handler must not wait (HTTP_WOULD_BLOCK) */
};

/* Lookups: the first field named name (exact; headers case-insensitive),
 * or NULL when there is none. */
const char *http_query(const struct http_request *req, const char *name);
const char *http_form(const struct http_request *req, const char *name);
const char *http_cookie(const struct http_request *req, const char *name);
const char *http_header(const struct http_request *req, const char *name);

/*
 * A response, made by the layer (status 200, text/html; charset=utf-8, an
 * empty body capped at HTTP_PAGE_MAX, no-store) and filled by the handler.
 * Either write the body into body, or hand over bytes with http_resp_bytes.
 */
struct http_response {
	unsigned status;
	const char *content_type; /* must outlive the handler (a literal) */
	struct buf body;
	int cache_seconds;        /* 0: Cache-Control: no-store; > 0: public, max-age */
	/* private to the layer: use the functions below */
	const uint8_t *bytes;
	size_t bytes_len;
	void (*bytes_free)(void *arg);
	void *bytes_arg;
	long (*stream_next)(void *arg, char *out, size_t max);
	void *stream_arg;
	void (*stream_release)(void *arg);
	size_t nheaders;
	char *headers[HTTP_HEADERS_MAX][2];
};

/* An extra header.  -1 (nothing added) when name is not an HTTP token, the
 * value holds CR, LF or NUL or another control character, or there are
 * already HTTP_HEADERS_MAX.  The security headers and Content-Type are the
 * layer's. */
int http_resp_header(struct http_response *resp, const char *name, const char *value);
/* Set-Cookie: name=value; Path=/; HttpOnly; SameSite=Strict, plus Secure
 * when req came over TLS; max_age > 0 adds Max-Age, 0 deletes the cookie
 * (Max-Age=0), < 0 makes a session cookie.  -1 when name is not a token or
 * value holds a character outside RFC 6265's cookie-octet. */
int http_resp_cookie(struct http_response *resp, const struct http_request *req,
		     const char *name, const char *value, int64_t max_age);
/* 303 See Other to a path on this site ("/n/abc?x=1"); -1 (nothing set)
 * unless location starts with one "/" (not "//" or "/\") and holds only
 * printable ASCII. */
int http_resp_redirect(struct http_response *resp, const char *location);
/* Content-Disposition: attachment with filename (UTF-8, e.g. Japanese):
 * an ASCII fallback filename="..." (other characters as "_") and
 * filename*=UTF-8''percent-encoded (RFC 6266, RFC 8187).  -1 when filename
 * is empty, over 255 bytes or holds a control character or a slash. */
int http_resp_attachment(struct http_response *resp, const char *filename);
/* Send data (len bytes) as the body instead of resp->body, e.g. a stored
 * PDF.  The layer calls release(release_arg) once it no longer needs the
 * bytes (also when the response is never sent); release may be NULL for
 * bytes that live for the whole process.  Range requests are answered from
 * these bytes (206, 416) and Accept-Ranges: bytes is sent. */
void http_resp_bytes(struct http_response *resp, const char *content_type, const void *data,
		     size_t len, void (*release)(void *arg), void *release_arg);
/* A response streamed as it is made, e.g. Server-Sent Events
 * (text/event-stream): once the handler has returned, the layer calls
 * next(arg, out, max) on a listener thread whenever the client can take
 * more.  next writes at most max bytes into out and returns how many
 * (> 0); 0 when it has nothing yet (the connection then sleeps, and next
 * is asked again within HTTP_STREAM_TICK_MS); -1 to end the response.
 * next must not block, and should send something now and then (an SSE
 * comment line, ": ping") so that a client that left is noticed.  HEAD
 * gets the headers only.  The layer calls release(arg) (may be NULL) once
 * the stream is over for any reason: ended, the client gone, the listener
 * stopping, or the response never sent. */
#define HTTP_STREAM_TICK_MS 100
void http_stream_start(struct http_response *resp, const char *content_type,
		       long (*next)(void *arg, char *out, size_t max), void *arg,
		       void (*release)(void *arg));
/* Wake l's sleeping streams now rather than at the next tick: a producer
 * that has just queued something for a stream calls it (a stream that was
 * about to sleep asks next again instead).  Any thread. */
struct http_listener;
void http_listener_wake(struct http_listener *l);
/* The layer's page for status (Japanese first, English under it): sets
 * status, the content type and the body.  Known: 400 403 404 405 410 413
 * 416 429 431 500 503; others read as 500. */
void http_resp_error(struct http_response *resp, unsigned status);

/* Route flags. */
#define HTTP_PREFIX    0x01u /* path is a prefix: "/n/" matches "/n/abc" (subpath "abc") */
#define HTTP_SLOW      0x02u /* run in the worker pool, off the listener's threads */
#define HTTP_CSRF_OWN  0x04u /* a POST the handler CSRF-checks itself (a session-bound token) */
#define HTTP_BODY_CONF 0x08u /* a POST whose body cap is the listener's body_conf_max (an
				upload, capped by the configuration's limits) */
#define HTTP_TRY_FAST  0x10u /* with HTTP_SLOW: tried first on the listener's thread */

/* A handler fills resp and returns 0; -1 sends the 500 page instead.
 * With req->may_block 0 (an HTTP_TRY_FAST route's first try), a handler
 * that would have to wait (a keys round trip, a commit) returns
 * HTTP_WOULD_BLOCK having changed nothing, resp included: it then runs
 * again in the worker pool with may_block 1.  Any other route answering
 * HTTP_WOULD_BLOCK gets the 500 page. */
#define HTTP_WOULD_BLOCK 1
typedef int (*http_handler)(const struct http_request *req, struct http_response *resp,
			    void *ctx);

struct http_route {
	const char *method;   /* "GET" (answers HEAD too) or "POST" */
	const char *path;     /* "/", "/n/" with HTTP_PREFIX ... */
	unsigned flags;
	http_handler handler;
	size_t body_max;      /* a POST's body cap; 0: HTTP_BODY_MAX */
};
/* A route table ends with an entry whose method is NULL.  The first match
 * wins. */

struct http_listener_config {
	const char *name;         /* "resident", "staff": in logs */
	const char *listen;       /* "HOST:PORT", for messages (and to bind when fd < 0) */
	int fd;                   /* a listening socket made before confinement; -1: bind listen */
	const char *tls_cert_pem; /* PEM text in memory; NULL: plain HTTP (loopback only) */
	const char *tls_key_pem;
	unsigned threads;         /* the daemon's thread pool; 0: 2 */
	unsigned slow_threads;    /* workers for HTTP_SLOW routes; 0: 2 */
	unsigned max_connections; /* 0: 512 */
	unsigned per_ip_connections; /* 0: 64 */
	unsigned timeout_s;       /* idle connection time-out; 0: 30 */
	size_t header_max;        /* a request's header block, bytes; 0: 8 KiB (431 beyond) */
	unsigned rate_per_s;      /* requests per second per client IP; 0: 50 */
	unsigned rate_burst;      /* bucket size; 0: 4 x rate_per_s */
	int trust_forwarded;      /* from a loopback peer (a local TLS proxy, e.g. the
				     WAF): the client IP is X-Forwarded-For's last
				     entry, and X-Forwarded-Proto: https counts as TLS */
	size_t body_conf_max;     /* the body cap of HTTP_BODY_CONF routes; 0: theirs */
	int limit_loopback;       /* apply the per-IP limits to loopback peers too
				     (tests); by default a loopback peer is a local
				     proxy or tool, limited by the address it forwards */
	const char *csp;          /* this listener's Content-Security-Policy; NULL: the
				     layer's (no script at all) */
	const struct http_route *early_routes; /* NULL, or checks of POSTs made once their
				     headers are in, before any of the body is read
				     (the login, a permission: a large upload refused
				     without being buffered).  Matched like the routes;
				     the handler runs in the worker pool with an empty
				     body: 0 read the body and run the route; 1 resp is
				     the answer (sent at once, the body never read, the
				     connection closed); -1 the 500 page */
};

struct http_listener;

/* Start serving routes with ctx passed to every handler.  Refuses (-1, e
 * says why) a non-loopback address without TLS, a certificate or key GnuTLS
 * will not load, and a daemon that will not start.  The caller keeps cfg's
 * strings until http_listener_stop. */
int http_listener_start(const struct http_listener_config *cfg, const struct http_route *routes,
			void *ctx, struct http_listener **out, struct error *e);
/* Stop accepting, wait for running handlers, free; *l becomes NULL. */
void http_listener_stop(struct http_listener **l);
/* The TCP port the listener is bound to (tests bind port 0). */
int http_listener_port(const struct http_listener *l);

/* The layer's stylesheet (served at /static/style.css). */
extern const char http_style_css[];

/* HTML escaping into b: & < > " ' become entities, so the text is safe both
 * between tags and inside a quoted attribute.  Bytes that are not valid
 * UTF-8 become U+FFFD, and C0 controls other than tab and LF are dropped.
 * -1 when b's cap is reached. */
int http_html(struct buf *b, const char *s);
int http_html_n(struct buf *b, const char *s, size_t len);
/* Percent-encode s for a URL path segment or query value (RFC 3986
 * unreserved characters stay as they are). */
int http_url_encode(struct buf *b, const char *s);

/* A page's start: doctype, <html lang="ja">, charset, viewport, the
 * escaped title, the stylesheet, <body>, a visible テスト banner when test
 * is set, and <main>.  http_page_end closes them. */
int http_page_begin(struct buf *b, const char *title, int test);
int http_page_end(struct buf *b);

/* CSRF, double-submit.  http_csrf_token gives the token to put in the
 * form's hidden field named "csrf" (<input type="hidden" name="csrf"
 * value="...">): the one in the request's CSRF cookie when it is well
 * formed, else a fresh random one set as a cookie on resp.  -1 when the
 * random source fails.  http_csrf_check: 0 when the form field "csrf"
 * equals the cookie (constant time), -1 otherwise; a multipart/form-data
 * POST (an upload, whose body the layer does not parse) carries the token
 * in its action URL instead: action="/upload?csrf=...".  The layer runs it on
 * every POST route without HTTP_CSRF_OWN.  http_csrf_equal: 0 when the
 * form field equals expected (a token bound to a session), in constant
 * time. */
int http_csrf_token(const struct http_request *req, struct http_response *resp,
		    char out[HTTP_CSRF_LEN + 1]);
int http_csrf_check(const struct http_request *req);
int http_csrf_equal(const struct http_request *req, const char *expected);

/* A single byte range of a body of size bytes (RFC 9110 14.2): 1 and
 * [*first, *last] for a satisfiable one; 0 when the whole body is to be sent
 * (no header, a malformed one, several ranges, another unit); -1 when it
 * cannot be satisfied (416). */
int http_range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

/* Parsers the layer uses, for the fuzz target and the tests.  Each parses
 * into fields (appending; the caller zeroes it first and frees it with
 * http_fields_free); -1 on a malformed input or more than HTTP_FIELDS_MAX
 * fields (the request then gets 400). */
int http_form_parse(const char *s, size_t len, struct http_fields *fields);
int http_cookie_parse(const char *header, struct http_fields *fields);
void http_fields_free(struct http_fields *fields);

/* A per-key rate limiter (token buckets in a fixed hash table; a key that
 * collides shares a bucket, which only errs on the strict side).  For what
 * handlers limit themselves, e.g. code lookups per IP.  take: 0 when key
 * may go on, -1 when it is over rate_per_s with burst. */
struct http_limiter;
struct http_limiter *http_limiter_new(size_t slots, double rate_per_s, double burst);
int http_limiter_take(struct http_limiter *l, const char *key);
void http_limiter_free(struct http_limiter **l);

#endif
