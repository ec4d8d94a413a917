/*
 * http_resp.c — what a handler puts in a response (see http.h): extra
 * headers with CR/LF refused, cookies (RFC 6265), redirects, attachments
 * with a Japanese file name (RFC 6266, RFC 8187), downloads by bytes, the
 * layer's error pages, and the double-submit CSRF token.  Runs in the
 * portal process, on the listener's or a worker's threads.
 */
#include "portal/http.h"

#include <stdlib.h>
#include <string.h>

/* RFC 9110 tchar. */
static int is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
			return 0;
	}
	return 1;
}

/* A field value: no control character (tab aside), no DEL. */
static int is_field_value(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

int http_resp_header(struct http_response *resp, const char *name, const char *value)
{
	if (!is_token(name) || !is_field_value(value) || resp->nheaders >= HTTP_HEADERS_MAX)
		return -1;
	resp->headers[resp->nheaders][0] = xstrdup(name);
	resp->headers[resp->nheaders][1] = xstrdup(value);
	resp->nheaders++;
	return 0;
}

/* RFC 6265 cookie-octet. */
static int is_cookie_value(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\')
			return 0;
	}
	return 1;
}

int http_resp_cookie(struct http_response *resp, const struct http_request *req,
		     const char *name, const char *value, int64_t max_age)
{
	struct buf b;
	int rc = -1;

	if (!is_token(name) || !is_cookie_value(value))
		return -1;
	buf_init(&b, 8192);
	if (buf_printf(&b, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s", name, value,
		       req->is_tls ? "; Secure" : "") < 0)
		goto out;
	if (max_age >= 0 && buf_printf(&b, "; Max-Age=%lld", (long long)max_age) < 0)
		goto out;
	rc = http_resp_header(resp, "Set-Cookie", (const char *)b.data);
out:
	buf_free(&b);
	return rc;
}

int http_resp_redirect(struct http_response *resp, const char *location)
{
	if (location[0] != '/' || location[1] == '/' || location[1] == '\\')
		return -1;
	for (const char *p = location; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -1;
	if (http_resp_header(resp, "Location", location) < 0)
		return -1;
	resp->status = 303;
	resp->content_type = "text/plain; charset=utf-8";
	buf_reset(&resp->body);
	return 0;
}

int http_resp_attachment(struct http_response *resp, const char *filename)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t n = strlen(filename);
	struct buf b;
	int rc = -1;

	if (n == 0 || n > 255)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filename[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return -1;
	}
	buf_init(&b, 4096);
	if (buf_append_str(&b, "attachment; filename=\"") < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filename[i];
		/* The fallback for old clients: ASCII only, no quote or escape. */
		if (buf_append_u8(&b, c >= 0x80 || c == '"' || c == '%' ? '_' : c) < 0)
			goto out;
	}
	if (buf_append_str(&b, "\"; filename*=UTF-8''") < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filename[i];
		/* RFC 8187 attr-char stays; everything else is %XX. */
		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    strchr("!#$&+-.^_`|~", c) != NULL) {
			if (buf_append_u8(&b, c) < 0)
				goto out;
		} else {
			char pct[3] = { '%', hexd[c >> 4], hexd[c & 15] };
			if (buf_append(&b, pct, 3) < 0)
				goto out;
		}
	}
	rc = http_resp_header(resp, "Content-Disposition", (const char *)b.data);
out:
	buf_free(&b);
	return rc;
}

void http_resp_bytes(struct http_response *resp, const char *content_type, const void *data,
		     size_t len, void (*release)(void *arg), void *release_arg)
{
	/* Bytes handed over earlier are given back now. */
	if (resp->bytes_free != NULL)
		resp->bytes_free(resp->bytes_arg);
	resp->content_type = content_type;
	resp->bytes = data;
	resp->bytes_len = len;
	resp->bytes_free = release;
	resp->bytes_arg = release_arg;
	if (resp->bytes == NULL)
		resp->bytes = (const uint8_t *)"";
	buf_reset(&resp->body);
}

void http_resp_error(struct http_response *resp, unsigned status)
{
	const char *ja, *en;
	switch (status) {
	case 400: ja = "リクエストの形式が正しくありません"; en = "Bad request"; break;
	case 403: ja = "この操作は受け付けられませんでした。ページを開き直してから、もう一度お試しください";
		en = "Forbidden: reload the page and try again"; break;
	case 404: ja = "ページが見つかりません"; en = "Not found"; break;
	case 405: ja = "この操作はできません"; en = "Method not allowed"; break;
	case 410: ja = "このページは利用できなくなりました"; en = "Gone"; break;
	case 413: ja = "送信された内容が大きすぎます"; en = "Request too large"; break;
	case 416: ja = "指定された範囲はありません"; en = "Range not satisfiable"; break;
	case 429: ja = "アクセスが集中しています。しばらく待ってから、もう一度お試しください";
		en = "Too many requests: wait a moment and try again"; break;
	case 431: ja = "リクエストのヘッダーが大きすぎます"; en = "Request header fields too large"; break;
	case 503: ja = "ただいま混み合っています。しばらく待ってから、もう一度お試しください";
		en = "Service unavailable: try again later"; break;
	default: ja = "エラーが発生しました"; en = "Internal error"; status = 500; break;
	}
	if (resp->bytes_free != NULL)
		resp->bytes_free(resp->bytes_arg);
	resp->bytes = NULL;
	resp->bytes_len = 0;
	resp->bytes_free = NULL;
	resp->status = status;
	resp->content_type = "text/html; charset=utf-8";
	resp->cache_seconds = 0;
	buf_reset(&resp->body);
	/* Static text only: an error page never reflects the request. */
	if (http_page_begin(&resp->body, ja, 0) < 0 ||
	    buf_printf(&resp->body, "<h1>%s</h1>\n<p lang=\"en\">%s</p>\n", ja, en) < 0 ||
	    http_page_end(&resp->body) < 0)
		buf_reset(&resp->body);
}

/* The CSRF cookie's name: with the __Host- prefix under TLS, so a sibling
 * host cannot plant one (RFC 6265bis 4.1.3.2). */
static const char *csrf_cookie_name(const struct http_request *req)
{
	return req->is_tls ? "__Host-csrf" : "csrf";
}

static int csrf_well_formed(const char *t)
{
	if (t == NULL || strlen(t) != HTTP_CSRF_LEN)
		return 0;
	for (; *t != '\0'; t++)
		if (!((*t >= '0' && *t <= '9') || (*t >= 'A' && *t <= 'Z') ||
		      (*t >= 'a' && *t <= 'z') || *t == '-' || *t == '_'))
			return 0;
	return 1;
}

int http_csrf_token(const struct http_request *req, struct http_response *resp,
		    char out[HTTP_CSRF_LEN + 1])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *have = http_cookie(req, csrf_cookie_name(req));
	uint8_t raw[33] = { 0 };
	size_t o = 0;

	if (csrf_well_formed(have)) {
		memcpy(out, have, HTTP_CSRF_LEN + 1);
		return 0;
	}
	if (random_bytes(raw, 32) < 0)
		return -1;
	/* 32 bytes in groups of 3 (the last group padded with a zero byte,
	 * whose last symbol is dropped): 43 symbols. */
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
		for (int k = 3; k >= 0 && o < HTTP_CSRF_LEN; k--)
			out[o++] = b64[(v >> (6 * k)) & 63];
	}
	out[HTTP_CSRF_LEN] = '\0';
	secure_wipe(raw, sizeof(raw));
	return http_resp_cookie(resp, req, csrf_cookie_name(req), out, -1);
}

int http_csrf_equal(const struct http_request *req, const char *expected)
{
	const struct http_field *f = NULL;
	for (size_t i = 0; i < req->form.n; i++)
		if (strcmp(req->form.f[i].name, "csrf") == 0) {
			f = &req->form.f[i];
			break;
		}
	if (f == NULL || expected == NULL || !csrf_well_formed(expected) ||
	    f->value_len != HTTP_CSRF_LEN)
		return -1;
	return ct_memcmp(f->value, expected, HTTP_CSRF_LEN) == 0 ? 0 : -1;
}

int http_csrf_check(const struct http_request *req)
{
	return http_csrf_equal(req, http_cookie(req, csrf_cookie_name(req)));
}
