/*
 * http_send.c — sending a response of the portal's HTTP layer (see
 * http_int.h): the security headers on every response (W3C CSP Level 3,
 * X-Frame-Options, Referrer-Policy, nosniff, Cache-Control, RFC 6797 HSTS
 * under TLS), the handler's own headers, a body built in a buf, and a
 * download's bytes, whole or as one range (RFC 9110 section 14: 206 with
 * Content-Range, 416).  Runs in the portal process, on the listener's
 * threads.
 */
#include "portal/http_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const security_headers[][2] = {
	{ "Content-Security-Policy",
	  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
	  "frame-ancestors 'none'; base-uri 'none'" },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cross-Origin-Opener-Policy", "same-origin" },
	{ "Cross-Origin-Resource-Policy", "same-origin" },
	{ "Permissions-Policy", "camera=(), microphone=(), geolocation=()" },
};

/* How to give a download's bytes back, kept apart from the exchange:
 * libmicrohttpd may drop its response after the exchange is freed. */
struct release {
	void (*fn)(void *arg);
	void *arg;
};

static void release_bytes(void *cls)
{
	struct release *r = cls;
	if (r->fn != NULL)
		r->fn(r->arg);
	free(r);
}

/* Make the MHD response of a download: the whole, a range (206), or 416. */
static struct MHD_Response *bytes_response(struct http_exchange *x, unsigned *status)
{
	struct http_response *p = &x->resp;
	uint64_t first = 0, last = 0;
	int rr = 0;
	struct MHD_Response *m;
	struct release *rel;
	char cr[96];

	if (p->status == 200 && strcmp(x->req.method, "POST") != 0 && x->req.range[0] != '\0' &&
	    http_header(&x->req, "If-Range") == NULL)
		rr = http_range_parse(x->req.range, p->bytes_len, &first, &last);
	if (rr < 0) {
		str_fmt(cr, sizeof(cr), "bytes */%zu", p->bytes_len);
		http_resp_error(p, 416); /* gives the bytes back */
		m = MHD_create_response_from_buffer(p->body.len, p->body.data, MHD_RESPMEM_MUST_COPY);
		if (m != NULL && MHD_add_response_header(m, "Content-Range", cr) != MHD_YES) {
			MHD_destroy_response(m);
			m = NULL;
		}
		*status = 416;
		return m;
	}
	if (rr == 0) {
		first = 0;
		last = p->bytes_len - 1;
	}
	/* The callback gives the bytes back once MHD is done with them. */
	rel = xmalloc(sizeof(*rel));
	*rel = (struct release){ p->bytes_free, p->bytes_arg };
	m = MHD_create_response_from_buffer_with_free_callback_cls(
		p->bytes_len == 0 ? 0 : (size_t)(last - first + 1), (void *)(p->bytes + first),
		release_bytes, rel);
	if (m == NULL) {
		free(rel);
		return NULL;
	}
	x->bytes_given = 1;
	*status = p->status;
	if (MHD_add_response_header(m, "Accept-Ranges", "bytes") != MHD_YES)
		goto fail;
	if (rr == 1) {
		str_fmt(cr, sizeof(cr), "bytes %llu-%llu/%zu", (unsigned long long)first,
			(unsigned long long)last, p->bytes_len);
		if (MHD_add_response_header(m, "Content-Range", cr) != MHD_YES)
			goto fail;
		*status = 206;
	}
	return m;
fail:
	MHD_destroy_response(m);
	return NULL;
}

static int add_headers(struct http_exchange *x, struct MHD_Response *m)
{
	struct http_response *p = &x->resp;
	char cc[64];
	for (size_t i = 0; i < ARRAY_SIZE(security_headers); i++)
		if (MHD_add_response_header(m, security_headers[i][0],
					    i == 0 && x->l->cfg.csp != NULL ? x->l->cfg.csp
									  : security_headers[i][1]) != MHD_YES)
			return -1;
	if (p->cache_seconds > 0)
		str_fmt(cc, sizeof(cc), "public, max-age=%d", p->cache_seconds);
	else
		str_copy(cc, "no-store", sizeof(cc));
	if (MHD_add_response_header(m, "Cache-Control", cc) != MHD_YES ||
	    MHD_add_response_header(m, "Content-Type",
				    p->content_type != NULL ? p->content_type
							    : "text/html; charset=utf-8") != MHD_YES)
		return -1;
	if (x->l->tls && MHD_add_response_header(m, "Strict-Transport-Security",
						 "max-age=31536000") != MHD_YES)
		return -1;
	for (size_t i = 0; i < p->nheaders; i++)
		if (MHD_add_response_header(m, p->headers[i][0], p->headers[i][1]) != MHD_YES)
			return -1;
	return 0;
}

/* Queue x->resp on c. */
enum MHD_Result http_send_response(struct http_exchange *x, struct MHD_Connection *c)
{
	struct http_response *p = &x->resp;
	struct MHD_Response *m;
	unsigned status = p->status;
	enum MHD_Result ret;

	if (status < 100 || status > 599)
		http_resp_error(p, 500), status = 500;
	if (p->stream_next != NULL && x->req.is_head) {
		/* HEAD: the headers alone (libmicrohttpd would send the last
		 * chunk of a streamed body). */
		if (p->stream_release != NULL)
			p->stream_release(p->stream_arg);
		p->stream_next = NULL;
		p->stream_release = NULL;
		m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else if (p->stream_next != NULL) {
		m = http_stream_response(x, c);
	} else if (p->bytes != NULL) {
		m = bytes_response(x, &status);
	} else {
		size_t len = p->body.len;
		uint8_t *body = buf_steal(&p->body, &len);
		m = body != NULL ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
				 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (m == NULL)
			free(body);
	}
	if (m == NULL)
		return MHD_NO;
	if (add_headers(x, m) < 0) {
		/* A header MHD refused: send nothing rather than a response
		 * missing one (MHD_NO closes the connection). */
		MHD_destroy_response(m);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, m);
	MHD_destroy_response(m);
	return ret;
}

enum MHD_Result http_send_error(struct http_exchange *x, struct MHD_Connection *c,
				  unsigned status, const char *allow)
{
	http_resp_error(&x->resp, status);
	if (status == 429 || status == 503)
		http_resp_header(&x->resp, "Retry-After", "1");
	if (allow != NULL && allow[0] != '\0')
		http_resp_header(&x->resp, "Allow", allow);
	return http_send_response(x, c);
}
