/*
 * test_ipc.c — unit tests for lib/ipc.c: framed messages over a real
 * socketpair(2) (round trip, short header, short body, body over the cap,
 * peer closed), the strict field reader (leftover bytes, truncated fields,
 * sticky failure) and descriptor passing with SCM_RIGHTS.
 * Runs as a stand-alone cmocka program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/ipc.h"
#include "lib/util.h"

struct pair {
	int a, b;
};

static int setup_pair(void **state)
{
	struct pair *p = xcalloc(1, sizeof(*p));
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(p);
		return -1;
	}
	p->a = sv[0];
	p->b = sv[1];
	*state = p;
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;
	if (p->a >= 0)
		close(p->a);
	if (p->b >= 0)
		close(p->b);
	free(p);
	return 0;
}

/* A fresh pair in place of a used one. */
static void reopen(struct pair *p)
{
	int sv[2];
	if (p->a >= 0)
		close(p->a);
	if (p->b >= 0)
		close(p->b);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->a = sv[0];
	p->b = sv[1];
}

static void close_a(struct pair *p)
{
	close(p->a);
	p->a = -1;
}

static void write_raw(int fd, const void *data, size_t n)
{
	assert_int_equal(write(fd, data, n), (ssize_t)n);
}

/* ---- frames ---- */

static void test_round_trip(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	struct buf body;
	uint32_t type = 0;

	buf_init(&body, IPC_MAX_BODY);
	assert_int_equal(ipc_send(p->a, 7, "hello", 5, &e), 0);
	assert_int_equal(ipc_send(p->a, 8, NULL, 0, &e), 0);
	assert_int_equal(ipc_send(p->a, 0xfffffffeu, "\0\1\2", 3, &e), 0);

	assert_int_equal(ipc_recv(p->b, &type, &body, 1024, &e), 0);
	assert_int_equal(type, 7);
	assert_int_equal(body.len, 5);
	assert_memory_equal(body.data, "hello", 5);
	assert_int_equal(body.data[5], '\0');

	assert_int_equal(ipc_recv(p->b, &type, &body, 1024, &e), 0);
	assert_int_equal(type, 8);
	assert_int_equal(body.len, 0);

	/* Exactly at the caller's cap is allowed. */
	assert_int_equal(ipc_recv(p->b, &type, &body, 3, &e), 0);
	assert_int_equal(type, 0xfffffffeu);
	assert_int_equal(body.len, 3);
	assert_memory_equal(body.data, "\0\1\2", 3);
	buf_free(&body);
}

static void test_wire_format(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	uint8_t raw[16];

	/* The header is type and length, both big-endian u32. */
	assert_int_equal(ipc_send(p->a, 0x01020304u, "xyz", 3, &e), 0);
	assert_int_equal(read(p->b, raw, sizeof(raw)), 11);
	assert_memory_equal(raw, "\x01\x02\x03\x04\x00\x00\x00\x03xyz", 11);
}

static void test_large_body(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	struct buf body;
	uint8_t *big = xmalloc(IPC_MAX_BODY);
	uint32_t type = 0;
	pid_t pid;
	int status = 0;

	for (size_t i = 0; i < IPC_MAX_BODY; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	/* A whole MiB does not fit in the socket buffer: write from a child. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct error ce;
		_exit(ipc_send(p->a, 3, big, IPC_MAX_BODY, &ce) == 0 ? 0 : 1);
	}
	buf_init(&body, IPC_MAX_BODY);
	assert_int_equal(ipc_recv(p->b, &type, &body, IPC_MAX_BODY, &e), 0);
	assert_int_equal(type, 3);
	assert_int_equal(body.len, IPC_MAX_BODY);
	assert_memory_equal(body.data, big, IPC_MAX_BODY);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* One byte more than the protocol allows is refused by the sender. */
	assert_int_equal(ipc_send(p->a, 3, big, IPC_MAX_BODY + 1, &e), -1);
	assert_true(e.msg[0] != '\0');
	buf_free(&body);
	free(big);
}

static void test_peer_closed(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	struct buf body;
	uint32_t type = 0;

	buf_init(&body, 1024);
	close_a(p);
	assert_int_equal(ipc_recv(p->b, &type, &body, 1024, &e), -1);
	assert_string_equal(e.msg, "peer closed");
	/* Writing to a closed peer fails instead of killing us with SIGPIPE. */
	assert_int_equal(ipc_send(p->b, 1, "x", 1, &e), -1);
	assert_true(e.msg[0] != '\0');
	buf_free(&body);
}

static void test_short_header(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	struct buf body;
	uint32_t type = 0;

	buf_init(&body, 1024);
	write_raw(p->a, "\0\0\0\1\0", 5);
	close_a(p);
	assert_int_equal(ipc_recv(p->b, &type, &body, 1024, &e), -1);
	assert_non_null(strstr(e.msg, "short header"));
	assert_string_not_equal(e.msg, "peer closed");
	buf_free(&body);
}

static void test_short_body(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	struct buf body;
	uint32_t type = 0;

	buf_init(&body, 1024);
	write_raw(p->a, "\0\0\0\1\0\0\0\x0a" "12345", 13);
	close_a(p);
	assert_int_equal(ipc_recv(p->b, &type, &body, 1024, &e), -1);
	assert_non_null(strstr(e.msg, "short body"));
	/* A failed receive does not pretend to hold a body. */
	assert_int_equal(body.len, 0);
	buf_free(&body);
}

static void test_body_over_cap(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	struct buf body, small;
	uint32_t type = 0;

	buf_init(&body, IPC_MAX_BODY);
	/* The caller's cap. */
	write_raw(p->a, "\0\0\0\1\0\0\0\x65", 8); /* 101 bytes announced */
	assert_int_equal(ipc_recv(p->b, &type, &body, 100, &e), -1);
	assert_non_null(strstr(e.msg, "cap"));
	assert_int_equal(body.len, 0);
	buf_free(&body);

	/* The protocol's cap, even when the caller allows more. */
	reopen(p);
	write_raw(p->a, "\0\0\0\1\xff\xff\xff\xff", 8);
	buf_init(&body, SIZE_MAX);
	assert_int_equal(ipc_recv(p->b, &type, &body, SIZE_MAX, &e), -1);
	assert_non_null(strstr(e.msg, "cap"));
	buf_free(&body);

	/* The receiving buffer's own cap. */
	buf_init(&small, 4);
	write_raw(p->a, "\0\0\0\1\0\0\0\x05" "abcde", 13);
	assert_int_equal(ipc_recv(p->b, &type, &small, 1024, &e), -1);
	assert_int_equal(small.len, 0);
	buf_free(&small);
}

/* ---- reader ---- */

static void build_body(struct buf *b)
{
	buf_init(b, 4096);
	assert_int_equal(ipc_put_u8(b, 0xab), 0);
	assert_int_equal(ipc_put_u32(b, 0xdeadbeefu), 0);
	assert_int_equal(ipc_put_u64(b, 0x0102030405060708ull), 0);
	assert_int_equal(ipc_put_bytes(b, "\0bin\0", 5), 0);
	assert_int_equal(ipc_put_str(b, "文字列"), 0);
	assert_int_equal(ipc_put_bytes(b, NULL, 0), 0);
}

static void test_reader_round_trip(void **state)
{
	struct buf b;
	struct ipc_reader r;
	uint8_t u8 = 0;
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	const uint8_t *p = NULL;
	size_t n = 0;
	(void)state;

	build_body(&b);
	assert_int_equal(b.len, 1 + 4 + 8 + 4 + 5 + 4 + strlen("文字列") + 4);
	ipc_reader_init(&r, b.data, b.len);
	assert_int_equal(ipc_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(ipc_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 0xdeadbeefu);
	assert_int_equal(ipc_get_u64(&r, &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "\0bin\0", 5);
	/* Fields point into the body. */
	assert_true(p >= b.data && p + n <= b.data + b.len);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	assert_int_equal(n, strlen("文字列"));
	assert_memory_equal(p, "文字列", n);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ipc_end(&r), 0);
	/* Reading past the end fails and ipc_end then fails too. */
	assert_int_equal(ipc_get_u8(&r, &u8), -1);
	assert_int_equal(ipc_end(&r), -1);
	buf_free(&b);

	/* An empty body: ipc_end succeeds at once. */
	ipc_reader_init(&r, "", 0);
	assert_int_equal(ipc_end(&r), 0);
}

static void test_reader_leftover(void **state)
{
	struct buf b;
	struct ipc_reader r;
	uint32_t u32;
	(void)state;

	buf_init(&b, 64);
	ipc_put_u32(&b, 5);
	ipc_put_u8(&b, 0); /* one byte the reader will not ask for */
	ipc_reader_init(&r, b.data, b.len);
	assert_int_equal(ipc_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 5);
	assert_int_equal(ipc_end(&r), -1);
	buf_free(&b);
}

static void test_reader_truncated(void **state)
{
	struct ipc_reader r;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;
	size_t n;
	(void)state;

	ipc_reader_init(&r, "\1\2\3", 3);
	assert_int_equal(ipc_get_u32(&r, &u32), -1);
	ipc_reader_init(&r, "\1\2\3\4\5\6\7", 7);
	assert_int_equal(ipc_get_u64(&r, &u64), -1);
	ipc_reader_init(&r, "", 0);
	assert_int_equal(ipc_get_u8(&r, &u8), -1);
	/* A length that points past the end. */
	ipc_reader_init(&r, "\0\0\0\x0a" "12345", 9);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), -1);
	/* A length that would overflow pointer arithmetic. */
	ipc_reader_init(&r, "\xff\xff\xff\xff" "12345", 9);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), -1);
	/* A length prefix cut short. */
	ipc_reader_init(&r, "\0\0", 2);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), -1);
	assert_int_equal(ipc_end(&r), -1);
}

static void test_reader_sticky_failure(void **state)
{
	struct ipc_reader r;
	uint8_t u8 = 0;
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	const uint8_t *p = NULL;
	size_t n = 0;
	/* 4 + 1 + 8 + 4 + 1 bytes: enough for everything read after the failure. */
	static const uint8_t body[] = "\0\0\0\x40" "\x11" "\1\2\3\4\5\6\7\x08" "\0\0\0\1" "z";
	(void)state;

	ipc_reader_init(&r, body, sizeof(body) - 1);
	/* 0x40 bytes announced: fails... */
	assert_int_equal(ipc_get_bytes(&r, &p, &n), -1);
	/* ...and every later read fails, although the bytes would be there. */
	assert_int_equal(ipc_get_u8(&r, &u8), -1);
	assert_int_equal(ipc_get_u32(&r, &u32), -1);
	assert_int_equal(ipc_get_u64(&r, &u64), -1);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), -1);
	assert_int_equal(ipc_end(&r), -1);

	/* Same after a short fixed-size read in the middle. */
	ipc_reader_init(&r, "\x05\x06\x07", 3);
	assert_int_equal(ipc_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 5);
	assert_int_equal(ipc_get_u32(&r, &u32), -1);
	assert_int_equal(ipc_get_u8(&r, &u8), -1);
	assert_int_equal(u8, 5); /* untouched */
	assert_int_equal(ipc_end(&r), -1);
}

static void test_put_caps(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 6);
	assert_int_equal(ipc_put_u32(&b, 1), 0);
	assert_int_equal(ipc_put_u64(&b, 1), -1);
	assert_int_equal(b.len, 4);
	assert_int_equal(ipc_put_u8(&b, 1), 0);
	assert_int_equal(ipc_put_u8(&b, 1), 0);
	assert_int_equal(ipc_put_u8(&b, 1), -1);
	assert_int_equal(b.len, 6);
	buf_free(&b);
}

/* ---- descriptor passing ---- */

static void test_fd_passing(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	int pfd[2], got = -1;
	uint32_t tag = 0;
	char rd[8] = { 0 };

	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(ipc_send_fd(p->a, 0xcafe0001u, pfd[1], &e), 0);
	assert_int_equal(ipc_recv_fd(p->b, &tag, &got, &e), 0);
	assert_int_equal(tag, 0xcafe0001u);
	assert_true(got >= 0);
	assert_int_not_equal(got, pfd[1]);
	/* The received descriptor is close-on-exec. */
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	/* It is the same pipe: bytes written through it come out of the other end. */
	close(pfd[1]);
	assert_int_equal(write(got, "ok", 2), 2);
	close(got);
	assert_int_equal(read(pfd[0], rd, sizeof(rd)), 2);
	assert_string_equal(rd, "ok");
	close(pfd[0]);
}

static void test_fd_passing_errors(void **state)
{
	struct pair *p = *state;
	struct error e = { { 0 }, 0 };
	int got = -1;
	uint32_t tag = 0;

	/* Plain bytes where a descriptor was expected. */
	write_raw(p->a, "\0\0\0\1", 4);
	assert_int_equal(ipc_recv_fd(p->b, &tag, &got, &e), -1);
	assert_non_null(strstr(e.msg, "descriptor"));
	assert_int_equal(got, -1);
	/* A descriptor that is not open cannot be sent. */
	assert_int_equal(ipc_send_fd(p->a, 1, 9999, &e), -1);
	/* Peer closed. */
	close_a(p);
	assert_int_equal(ipc_recv_fd(p->b, &tag, &got, &e), -1);
	assert_string_equal(e.msg, "peer closed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_wire_format, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_large_body, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_peer_closed, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_short_header, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_short_body, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_body_over_cap, setup_pair, teardown_pair),
		cmocka_unit_test(test_reader_round_trip),
		cmocka_unit_test(test_reader_leftover),
		cmocka_unit_test(test_reader_truncated),
		cmocka_unit_test(test_reader_sticky_failure),
		cmocka_unit_test(test_put_caps),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_fd_passing_errors, setup_pair, teardown_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
