/*
 * test_http_client.c — unit tests of the HTTP/1.1 response reader and the
 * client of pdf/http_client.c: Content-Length and chunked bodies, and
 * malformed input from a hostile server (chunk sizes that overflow, a
 * missing CRLF, a head beyond its cap, truncated bodies, conflicting
 * framing), then whole exchanges with a real local TCP server that sends
 * its answer a few bytes at a time or hangs up early.
 * Runs as a cmocka test binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pdf/http_client.h"

/* Parse s (len bytes) as a whole response into a body capped at cap. */
static int parse(const char *s, size_t len, size_t cap, int *status, struct buf *body,
    struct error *e)
{
	buf_init(body, cap);
	memset(e, 0, sizeof(*e));
	return http_parse_response((const uint8_t *)s, len, status, body, e);
}

#define PARSE(s, st, b, e) parse((s), sizeof(s) - 1, 1 << 20, (st), (b), (e))

static void expect_body(const char *s, size_t len, int want_status, const char *want)
{
	struct buf b;
	struct error e;
	int st = 0;
	if (parse(s, len, 1 << 20, &st, &b, &e) != 0)
		fail_msg("refused: %s", e.msg);
	assert_int_equal(st, want_status);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

#define BODY(s, st, want) expect_body((s), sizeof(s) - 1, (st), (want))

/* Refused, with a message containing part. */
static void expect_refused(const char *s, size_t len, size_t cap, const char *part)
{
	struct buf b;
	struct error e;
	int st = 0;
	assert_int_equal(parse(s, len, cap, &st, &b, &e), -1);
	if (strstr(e.msg, part) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, part);
	buf_free(&b);
}

#define REFUSED(s, part) expect_refused((s), sizeof(s) - 1, 1 << 20, (part))

static void test_content_length(void **state)
{
	(void)state;
	BODY("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: x/y\r\n\r\nhello", 200, "hello");
	/* bytes after the declared length are not the body */
	BODY("HTTP/1.1 200 OK\r\ncontent-length:  3 \r\n\r\nabcdef", 200, "abc");
	/* the same value twice is allowed (RFC 9112 §6.3) */
	BODY("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 200, "ok");
	/* no framing: up to the end of the stream; no reason phrase */
	BODY("HTTP/1.0 404\r\nServer: x\r\n\r\nnot here", 404, "not here");
	BODY("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 204, "");
}

static void test_chunked(void **state)
{
	(void)state;
	BODY("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n", 200, "hello 0123456789");
	/* trailer fields after the last chunk; upper-case hex; chunked wins over Content-Length */
	BODY("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "00B\r\nhello world\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", 200, "hello world");
	BODY("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, "");
}

static void test_chunk_sizes_refused(void **state)
{
	(void)state;
	/* would overflow size_t, and 16 digits is beyond any body we take */
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n",
	    "too long");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\nx\r\n0\r\n\r\n",
	    "too long");
	/* 15 digits: a size larger than what follows */
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nxy\r\n0\r\n\r\n",
	    "truncated chunk");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n", "missing");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
	    "bad chunk size");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "missing");
}

static void test_chunk_framing_refused(void **state)
{
	(void)state;
	/* chunk data not followed by CRLF */
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
	    "does not end with CRLF");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n",
	    "does not end with CRLF");
	/* a bare LF ends the size line */
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", "chunk size");
	/* the stream ends: inside the data, before the last chunk, in the trailer */
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "truncated chunk");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "missing");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", "truncated");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n", "truncated");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5", "chunk size");
	/* a control character hidden in an extension */
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\001\r\nx\r\n0\r\n\r\n",
	    "control character");
}

static void test_head_refused(void **state)
{
	(void)state;
	REFUSED("HTTP/2 200 OK\r\n\r\n", "status line");
	REFUSED("HTTP/1.1 20 OK\r\n\r\n", "status line");
	REFUSED("HTTP/1.1 999 OK\r\n\r\n", "status line");
	REFUSED("ICY 200 OK\r\n\r\n", "status line");
	REFUSED("HTTP/1.1 200 OK\nContent-Length: 0\n\n", "incomplete");
	REFUSED("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed HTTP header");
	REFUSED("HTTP/1.1 200 OK\r\n folded: header\r\n\r\n", "malformed HTTP header");
	REFUSED("HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n", "malformed HTTP header");
	REFUSED("HTTP/1.1 200 OK\r\nX: a\001b\r\n\r\n", "control character");
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "conflicting");
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length");
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\nab", "bad Content-Length");
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "bad Content-Length");
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "bad Content-Length");
	REFUSED("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding");
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", "incomplete");
	REFUSED("", "incomplete");
}

static void test_truncated_and_large(void **state)
{
	struct buf b;
	struct error e;
	int st;
	(void)state;
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "truncated response body");
	/* over the body cap: by Content-Length, chunked, or to the end */
	expect_refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 49, 4, "too large");
	expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	    66, 4, "too large");
	expect_refused("HTTP/1.1 200 OK\r\n\r\nhello", 24, 4, "too large");
	/* a huge head: refused once HTTP_HEAD_MAX bytes hold no end of head */
	{
		size_t n = HTTP_HEAD_MAX + 100;
		char *big = malloc(n);
		size_t hl;
		int64_t cl;
		int ch;
		memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
		memset(big + 20, 'a', n - 20);
		memset(&e, 0, sizeof(e));
		assert_int_equal(http_parse_head((uint8_t *)big, n, &hl, &st, &cl, &ch, &e), -1);
		assert_non_null(strstr(e.msg, "exceeds"));
		/* below the cap it only wants more */
		assert_int_equal(http_parse_head((uint8_t *)big, 4000, &hl, &st, &cl, &ch, &e), 0);
		/* a head that ends just past the cap is refused too */
		memcpy(big + HTTP_HEAD_MAX - 2, "\r\n\r\n", 4);
		assert_int_equal(http_parse_head((uint8_t *)big, n, &hl, &st, &cl, &ch, &e), -1);
		free(big);
	}
	/* something that is not HTTP is refused without waiting for more */
	{
		size_t hl;
		int64_t cl;
		int ch;
		memset(&e, 0, sizeof(e));
		assert_int_equal(http_parse_head((const uint8_t *)"SSH-2.0-x", 9, &hl, &st, &cl, &ch, &e), -1);
		assert_int_equal(http_parse_head((const uint8_t *)"HTTP/1.1 2", 10, &hl, &st, &cl, &ch, &e), 0);
	}
	(void)b;
}

/* ------------------------------------------------ a real local server */

struct server {
	int lfd;
	int port;
	const char *reply;   /* sent a few bytes at a time */
	size_t reply_len;
	size_t step;
	pthread_t th;
	char request[4096];
};

static void *serve_once(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	size_t got = 0;
	if (fd < 0)
		return NULL;
	/* read the request head (and a small body) */
	while (got < sizeof(s->request) - 1) {
		ssize_t r = recv(fd, s->request + got, sizeof(s->request) - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		s->request[got] = '\0';
		if (strstr(s->request, "\r\n\r\n") != NULL &&
		    (strstr(s->request, "Content-Length") == NULL || strstr(s->request, "\r\n\r\nBODY")))
			break;
	}
	for (size_t off = 0; off < s->reply_len; off += s->step) {
		size_t n = s->reply_len - off < s->step ? s->reply_len - off : s->step;
		if (send(fd, s->reply + off, n, MSG_NOSIGNAL) < 0)
			break;
		usleep(1000);
	}
	close(fd);
	return NULL;
}

static void server_start(struct server *s, const char *reply, size_t step)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 1), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	s->reply = reply;
	s->reply_len = strlen(reply);
	s->step = step;
	s->request[0] = '\0';
	assert_int_equal(pthread_create(&s->th, NULL, serve_once, s), 0);
}

static int server_request(struct server *s, const char *method, const char *body,
    struct buf *out, struct error *e)
{
	char url[64];
	int rc;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/tsa", s->port);
	memset(e, 0, sizeof(*e));
	rc = http_request(url, method, body ? "application/timestamp-query" : NULL,
	    (const uint8_t *)body, body ? strlen(body) : 0, 5000, out, e);
	pthread_join(s->th, NULL);
	close(s->lfd);
	return rc;
}

static void test_exchange_chunked_slowly(void **state)
{
	struct server s;
	struct buf out;
	struct error e;
	(void)state;
	server_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4\r\ntime\r\n6;x=y\r\n-stamp\r\n0\r\n\r\n", 3);
	buf_init(&out, 1024);
	if (server_request(&s, "POST", "BODY", &out, &e) != 0)
		fail_msg("request failed: %s", e.msg);
	assert_int_equal(out.len, 10);
	assert_memory_equal(out.data, "time-stamp", 10);
	assert_non_null(strstr(s.request, "POST /tsa HTTP/1.1\r\n"));
	assert_non_null(strstr(s.request, "Host: 127.0.0.1:"));
	assert_non_null(strstr(s.request, "Content-Length: 4\r\n"));
	assert_non_null(strstr(s.request, "Connection: close\r\n"));
	buf_free(&out);
}

static void test_exchange_hangs_up(void **state)
{
	struct server s;
	struct buf out;
	struct error e;
	(void)state;
	/* the server closes before the body it announced */
	server_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", 7);
	buf_init(&out, 1024);
	assert_int_equal(server_request(&s, "GET", NULL, &out, &e), -1);
	assert_int_equal(e.temporary, 1);
	assert_non_null(strstr(e.msg, "truncated"));
	assert_int_equal(out.len, 0);
	buf_free(&out);
	/* and in the middle of a chunk */
	server_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", 5);
	buf_init(&out, 1024);
	assert_int_equal(server_request(&s, "GET", NULL, &out, &e), -1);
	assert_int_equal(e.temporary, 1);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void test_exchange_error_status(void **state)
{
	struct server s;
	struct buf out;
	struct error e;
	(void)state;
	server_start(&s, "HTTP/1.1 500 Oops\r\nContent-Length: 6\r\n\r\nfailed", 64);
	buf_init(&out, 1024);
	buf_append_str(&out, "kept");
	assert_int_equal(server_request(&s, "GET", NULL, &out, &e), -1);
	assert_non_null(strstr(e.msg, "HTTP 500"));
	/* what the caller had is kept, nothing of the error page added */
	assert_int_equal(out.len, 4);
	buf_free(&out);
}

static void test_urls(void **state)
{
	struct buf out;
	struct error e;
	(void)state;
	buf_init(&out, 16);
	memset(&e, 0, sizeof(e));
	assert_int_equal(http_request("ftp://x/", "GET", NULL, NULL, 0, 1000, &out, &e), -1);
	assert_non_null(strstr(e.msg, "only http:// and https://"));
	assert_int_equal(http_request("http://user@host/", "GET", NULL, NULL, 0, 1000, &out, &e), -1);
	assert_int_equal(http_request("http://host:0/", "GET", NULL, NULL, 0, 1000, &out, &e), -1);
	assert_int_equal(http_request("http://host/a b", "GET", NULL, NULL, 0, 1000, &out, &e), -1);
	assert_int_equal(http_request("https:///x", "GET", NULL, NULL, 0, 1000, &out, &e), -1);
	assert_int_equal(e.temporary, 0);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunk_sizes_refused),
		cmocka_unit_test(test_chunk_framing_refused),
		cmocka_unit_test(test_head_refused),
		cmocka_unit_test(test_truncated_and_large),
		cmocka_unit_test(test_exchange_chunked_slowly),
		cmocka_unit_test(test_exchange_hangs_up),
		cmocka_unit_test(test_exchange_error_status),
		cmocka_unit_test(test_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
