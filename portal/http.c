/*
 * http.c — responses with security headers (see http.h).  Implements the
 * headers of RFC 9110 and the W3C CSP Level 3; runs in the portal process.
 */
#include "portal/http.h"

#include <stdio.h>
#include <string.h>

#include "lib/util.h"

static const char *const security_headers[][2] = {
	{ "Content-Security-Policy",
	  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
	  "frame-ancestors 'none'; base-uri 'none'" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cache-Control", "no-store" },
	{ "Cross-Origin-Opener-Policy", "same-origin" },
	{ "Cross-Origin-Resource-Policy", "same-origin" },
	{ "Permissions-Policy", "camera=(), microphone=(), geolocation=()" },
};

enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, const char *content_type,
			     const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (r == NULL)
		return MHD_NO;
	/* libmicrohttpd refuses a header value holding a line break; a response
	 * missing its content type or a security header is not sent at all
	 * (MHD_NO closes the connection). */
	ret = MHD_add_response_header(r, "Content-Type", content_type);
	for (size_t i = 0; i < ARRAY_SIZE(security_headers) && ret == MHD_YES; i++)
		ret = MHD_add_response_header(r, security_headers[i][0], security_headers[i][1]);
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result http_error(struct MHD_Connection *c, unsigned status)
{
	char body[1024];
	const char *ja, *en;
	switch (status) {
	case 404: ja = "ページが見つかりません"; en = "Not found"; break;
	case 405: ja = "この操作はできません"; en = "Method not allowed"; break;
	case 413: ja = "送信された内容が大きすぎます"; en = "Request too large"; break;
	default: ja = "エラーが発生しました"; en = "Error"; status = 500; break;
	}
	str_fmt(body, sizeof(body),
		"<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		"<title>%s</title></head><body><h1>%s</h1><p lang=\"en\">%s</p></body></html>\n",
		ja, ja, en);
	return http_respond(c, status, "text/html; charset=utf-8", body, strlen(body));
}
