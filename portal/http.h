/*
 * http.h — responses with the portal's security headers (strict CSP, no
 * framing, no sniffing, no referrer, no caching of personal pages).
 * Runs in the portal process.
 */
#ifndef TAYORI_HTTP_H
#define TAYORI_HTTP_H

#include <stddef.h>
#include <microhttpd.h>

/* Queue a response whose body is copied; content_type e.g. "text/html;
 * charset=utf-8".  MHD_NO (the connection is closed, nothing is sent) when
 * a header cannot be added, e.g. a content type holding a line break. */
enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, const char *content_type,
			     const char *body, size_t len);
/* A small Japanese-first error page for status. */
enum MHD_Result http_error(struct MHD_Connection *c, unsigned status);

#endif
