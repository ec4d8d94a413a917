/*
 * test_http.c — unit tests for portal/http.c: responses as a browser
 * receives them.  A real libmicrohttpd daemon on loopback answers with
 * http_respond and http_error, and the test reads the raw bytes off a TCP
 * socket: every security header exactly once with its exact value (RFC
 * 9110, W3C CSP Level 3) on pages and on errors, the body byte for byte,
 * the Japanese-first error pages, hostile request paths never reflected,
 * and a content type that would split the header block refused rather
 * than sent without one.  Runs as a stand-alone cmocka program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "portal/http.h"
#include "lib/util.h"

static const char binary_body[] = "a\0b<\xe3\x81\x82>\n"; /* NUL and UTF-8 inside */
#define BINARY_LEN (sizeof(binary_body) - 1)

/* The test's pages: what the portal's handler does, on paths of its own. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **state)
{
	(void)cls, (void)method, (void)version, (void)upload_data, (void)state;
	if (*upload_size != 0)
		return http_error(c, 413);
	if (strcmp(url, "/binary") == 0) {
		/* The body is copied: the caller's buffer may change at once. */
		char body[sizeof(binary_body)];
		enum MHD_Result r;
		memcpy(body, binary_body, sizeof(body));
		r = http_respond(c, 200, "application/octet-stream", body, BINARY_LEN);
		memset(body, 'X', sizeof(body));
		return r;
	}
	if (strcmp(url, "/split") == 0)
		return http_respond(c, 200, "text/html\r\nSet-Cookie: session=stolen", "hi", 2);
	if (strncmp(url, "/error/", 7) == 0)
		return http_error(c, (unsigned)strtoul(url + 7, NULL, 10));
	return http_error(c, 404);
}

struct server {
	struct MHD_Daemon *d;
	int port;
};

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	struct sockaddr_in a = { 0 };
	if (s == NULL)
		return -1;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_END);
	if (s->d == NULL)
		return -1;
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL)
		return -1;
	s->port = info->port;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct server *s = *state;
	MHD_stop_daemon(s->d);
	free(s);
	return 0;
}

/* A response as received: the raw bytes, and where the body starts. */
struct reply {
	char raw[65536];
	size_t len;
	size_t body; /* offset of the body, 0 when there is no header block */
	int status;
};

/* Send req as is over a new connection, read to the end. */
static void ask(const struct server *s, const char *req, size_t reqlen, struct reply *r)
{
	struct sockaddr_in a = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n;
	char *end;

	memset(r, 0, sizeof(*r));
	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)s->port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, reqlen), (ssize_t)reqlen);
	while (r->len < sizeof(r->raw) - 1 &&
	       (n = read(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len)) > 0)
		r->len += (size_t)n;
	close(fd);
	r->raw[r->len] = '\0';
	end = strstr(r->raw, "\r\n\r\n");
	if (end != NULL)
		r->body = (size_t)(end - r->raw) + 4;
	if (strncmp(r->raw, "HTTP/1.1 ", 9) == 0)
		r->status = (int)strtol(r->raw + 9, NULL, 10);
}

static void get(const struct server *s, const char *method, const char *path, struct reply *r)
{
	char req[8192];
	int n = str_fmt(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
			method, path);
	assert_true(n > 0);
	ask(s, req, (size_t)n, r);
}

/* How many header lines are named name (case-insensitive); *value gets
 * the last one's value. */
static int header(const struct reply *r, const char *name, char *value, size_t size)
{
	const char *p = strstr(r->raw, "\r\n");
	size_t nl = strlen(name);
	int count = 0;
	while (p != NULL && p + 2 < r->raw + r->body) {
		const char *line = p + 2, *eol = strstr(line, "\r\n");
		if (eol == NULL || eol == line)
			break;
		if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			count++;
			if (value != NULL)
				str_fmt(value, size, "%.*s", (int)(eol - v), v);
		}
		p = eol;
	}
	return count;
}

static const char *const security[][2] = {
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

static void assert_security_headers(const struct reply *r, const char *what)
{
	char v[512];
	for (size_t i = 0; i < ARRAY_SIZE(security); i++) {
		int n = header(r, security[i][0], v, sizeof(v));
		if (n != 1)
			fail_msg("%s: %s appears %d times", what, security[i][0], n);
		if (strcmp(v, security[i][1]) != 0)
			fail_msg("%s: %s is \"%s\"", what, security[i][0], v);
	}
}

static void test_security_headers_on_every_response(void **state)
{
	static const char *const paths[] = { "/binary", "/", "/error/404", "/error/405",
					     "/error/413", "/error/500", "/error/418" };
	struct reply *r = malloc(sizeof(*r));
	assert_non_null(r);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		get(*state, "GET", paths[i], r);
		assert_true(r->status >= 200);
		assert_int_equal(header(r, "Content-Type", NULL, 0), 1);
		assert_security_headers(r, paths[i]);
	}
	/* HEAD: the same headers, no body. */
	get(*state, "HEAD", "/binary", r);
	assert_int_equal(r->status, 200);
	assert_security_headers(r, "HEAD /binary");
	assert_int_equal(r->len, r->body);
	free(r);
}

static void test_body_copied_byte_for_byte(void **state)
{
	struct reply *r = malloc(sizeof(*r));
	char v[64];
	assert_non_null(r);
	get(*state, "GET", "/binary", r);
	assert_int_equal(r->status, 200);
	assert_int_equal(header(r, "Content-Type", v, sizeof(v)), 1);
	assert_string_equal(v, "application/octet-stream");
	assert_int_equal(header(r, "Content-Length", v, sizeof(v)), 1);
	assert_int_equal(strtol(v, NULL, 10), (long)BINARY_LEN);
	assert_int_equal(r->len - r->body, BINARY_LEN);
	assert_memory_equal(r->raw + r->body, binary_body, BINARY_LEN);
	free(r);
}

static void test_error_pages(void **state)
{
	static const struct {
		const char *path;
		int status;
		const char *ja, *en;
	} pages[] = {
		{ "/error/404", 404, "ページが見つかりません", "Not found" },
		{ "/error/405", 405, "この操作はできません", "Method not allowed" },
		{ "/error/413", 413, "送信された内容が大きすぎます", "Request too large" },
		{ "/error/500", 500, "エラーが発生しました", "Error" },
		/* A status it has no page for is a plain 500, never echoed. */
		{ "/error/418", 500, "エラーが発生しました", "Error" },
		{ "/error/200", 500, "エラーが発生しました", "Error" },
	};
	struct reply *r = malloc(sizeof(*r));
	char want[256], v[64];
	assert_non_null(r);
	for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
		get(*state, "GET", pages[i].path, r);
		if (r->status != pages[i].status)
			fail_msg("%s: status %d, want %d", pages[i].path, r->status, pages[i].status);
		assert_int_equal(header(r, "Content-Type", v, sizeof(v)), 1);
		assert_string_equal(v, "text/html; charset=utf-8");
		assert_non_null(strstr(r->raw + r->body, "<html lang=\"ja\">"));
		assert_non_null(strstr(r->raw + r->body, "<meta charset=\"utf-8\">"));
		str_fmt(want, sizeof(want), "<title>%s</title>", pages[i].ja);
		assert_non_null(strstr(r->raw + r->body, want));
		str_fmt(want, sizeof(want), "<h1>%s</h1>", pages[i].ja);
		assert_non_null(strstr(r->raw + r->body, want));
		str_fmt(want, sizeof(want), "<p lang=\"en\">%s</p>", pages[i].en);
		assert_non_null(strstr(r->raw + r->body, want));
		assert_non_null(strstr(r->raw + r->body, "</html>\n"));
	}
	free(r);
}

/* Paths an attacker sends: markup, encoded line breaks, a long path.  The
 * error page says nothing of them, and no header appears from them. */
static void test_hostile_paths_not_reflected(void **state)
{
	static const char *const paths[] = {
		"/<script>alert(1)</script>",
		"/%3Cscript%3Ealert(1)%3C/script%3E",
		"/x%0d%0aSet-Cookie:%20session=stolen",
		"/x%0aLocation:%20http://evil.example/",
		"/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
		"/../../etc/passwd",
	};
	struct reply *r = malloc(sizeof(*r));
	char longpath[4000];
	assert_non_null(r);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		get(*state, "GET", paths[i], r);
		if (r->status != 404)
			fail_msg("%s: status %d", paths[i], r->status);
		assert_null(strstr(r->raw + r->body, "script"));
		assert_null(strstr(r->raw + r->body, "img"));
		assert_null(strstr(r->raw + r->body, "passwd"));
		assert_int_equal(header(r, "Set-Cookie", NULL, 0), 0);
		assert_int_equal(header(r, "Location", NULL, 0), 0);
		assert_security_headers(r, paths[i]);
	}
	longpath[0] = '/';
	memset(longpath + 1, 'A', sizeof(longpath) - 2);
	longpath[sizeof(longpath) - 1] = '\0';
	get(*state, "GET", longpath, r);
	assert_int_equal(r->status, 404);
	assert_null(strstr(r->raw + r->body, "AAAA"));
	free(r);
}

/* A content type holding a line break would end the header block early
 * (response splitting).  It is refused: no response at all, rather than
 * the page without its content type or with the injected header. */
static void test_content_type_with_line_break_refused(void **state)
{
	struct reply *r = malloc(sizeof(*r));
	assert_non_null(r);
	get(*state, "GET", "/split", r);
	assert_null(strstr(r->raw, "Set-Cookie"));
	if (r->len != 0)
		fail_msg("a page went out without its content type:\n%s", r->raw);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_security_headers_on_every_response),
		cmocka_unit_test(test_body_copied_byte_for_byte),
		cmocka_unit_test(test_error_pages),
		cmocka_unit_test(test_hostile_paths_not_reflected),
		cmocka_unit_test(test_content_type_with_line_break_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
