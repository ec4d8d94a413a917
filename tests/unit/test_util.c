/*
 * test_util.c — unit tests for lib/util.c and lib/buf.c: the error
 * convention, capped buffers, bounded string helpers, strict integer
 * parsing, hex, big-endian helpers, constant-time comparison, time
 * formatting (UTC and JST), atomic file writes and mkdir_p.
 * Runs as a stand-alone cmocka program; uses a scratch directory under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/util.h"

/* ---- scratch directory ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_dir(void **state)
{
	char *dir = xstrdup("/tmp/tayori-test-util-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	char *dir = *state;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return 0;
}

/* ---- error convention ---- */

static void test_err_set_and_tmp(void **state)
{
	struct error e = { { 0 }, 7 };
	(void)state;
	assert_int_equal(err_set(&e, "bad %s at %d", "row", 3), -1);
	assert_string_equal(e.msg, "bad row at 3");
	assert_int_equal(e.temporary, 0);
	assert_int_equal(err_tmp(&e, "later %u", 5u), -1);
	assert_string_equal(e.msg, "later 5");
	assert_int_equal(e.temporary, 1);
	/* NULL is allowed and still returns -1. */
	assert_int_equal(err_set(NULL, "x"), -1);
	assert_int_equal(err_tmp(NULL, "x"), -1);
}

static void test_err_message_truncated(void **state)
{
	struct error e;
	char big[2 * ERR_MAX];
	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MAX - 1);
}

/* ---- buf ---- */

static void test_buf_cap_respected(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "0123456789", 10);
	assert_int_equal(b.data[10], '\0');

	/* Every kind of append beyond the cap fails and leaves the buffer unchanged. */
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_append_str(&b, "y"), -1);
	assert_int_equal(buf_append_u8(&b, 'z'), -1);
	assert_int_equal(buf_append_be32(&b, 1), -1);
	assert_int_equal(buf_append_be64(&b, 1), -1);
	assert_int_equal(buf_printf(&b, "%d", 7), -1);
	assert_int_equal(buf_reserve(&b, 1), -1);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "0123456789", 10);
	assert_int_equal(b.data[10], '\0');

	/* An empty append at the cap is fine. */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 10);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_buf_partial_overflow_unchanged(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "abcde"), 0);
	/* 5 + 4 > 8: refused as a whole, nothing of it lands. */
	assert_int_equal(buf_append(&b, "wxyz", 4), -1);
	assert_int_equal(buf_printf(&b, "%s", "wxyz"), -1);
	assert_int_equal(buf_append_be32(&b, 0xdeadbeef), -1);
	assert_int_equal(b.len, 5);
	assert_string_equal((char *)b.data, "abcde");
	/* 5 + 3 = 8 fits exactly. */
	assert_int_equal(buf_append(&b, "fgh", 3), 0);
	assert_string_equal((char *)b.data, "abcdefgh");
	/* A huge request must not wrap around the size arithmetic. */
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -1);
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 3), -1);
	assert_int_equal(b.len, 8);
	buf_free(&b);
}

static void test_buf_grow_printf_steal(void **state)
{
	struct buf b;
	uint8_t *p;
	size_t n;
	(void)state;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_printf(&b, "%04d,", i), 0);
	assert_int_equal(b.len, 5000);
	assert_memory_equal(b.data, "0000,0001,", 10);
	assert_memory_equal(b.data + 4995, "0999,", 5);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(buf_append_be32(&b, 0x01020304), 0);
	assert_int_equal(buf_append_be64(&b, 0x0102030405060708ull), 0);
	assert_memory_equal(b.data + 5000, "\x01\x02\x03\x04\x01\x02\x03\x04\x05\x06\x07\x08", 12);

	p = buf_steal(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 5012);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);

	/* Stealing an empty buffer still gives a freeable, empty string. */
	p = buf_steal(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(p[0], 0);
	free(p);

	/* Reset keeps the memory but empties the text; wipe frees. */
	assert_int_equal(buf_append_str(&b, "secret"), 0);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	assert_int_equal(buf_append_str(&b, "again"), 0);
	assert_string_equal((char *)b.data, "again");
	buf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/* ---- strings ---- */

static void test_str_copy(void **state)
{
	char d[8];
	(void)state;
	assert_int_equal(str_copy(d, "abc", sizeof(d)), 3);
	assert_string_equal(d, "abc");
	assert_int_equal(str_copy(d, "abcdefg", sizeof(d)), 7);
	assert_string_equal(d, "abcdefg");
	/* Truncated: the return value is still strlen(src), so callers can detect it. */
	assert_int_equal(str_copy(d, "abcdefghijkl", sizeof(d)), 12);
	assert_string_equal(d, "abcdefg");
	assert_int_equal(str_copy(d, "", sizeof(d)), 0);
	assert_string_equal(d, "");
	/* dstsize 1: only the NUL. */
	memset(d, 'q', sizeof(d));
	assert_int_equal(str_copy(d, "xyz", 1), 3);
	assert_int_equal(d[0], '\0');
	assert_int_equal(d[1], 'q');
	/* dstsize 0: nothing written. */
	memset(d, 'q', sizeof(d));
	assert_int_equal(str_copy(d, "xyz", 0), 3);
	assert_int_equal(d[0], 'q');
}

static void test_str_fmt(void **state)
{
	char d[8];
	(void)state;
	assert_int_equal(str_fmt(d, sizeof(d), "%d-%s", 42, "ab"), 5);
	assert_string_equal(d, "42-ab");
	/* 7 characters fit in 8 bytes. */
	assert_int_equal(str_fmt(d, sizeof(d), "%s", "1234567"), 7);
	assert_string_equal(d, "1234567");
	/* 8 do not: -1, and the output is still terminated. */
	assert_int_equal(str_fmt(d, sizeof(d), "%s", "12345678"), -1);
	assert_int_equal(strlen(d), 7);
	assert_int_equal(str_fmt(d, sizeof(d), "%s", "a very long string indeed"), -1);
	assert_int_equal(d[7], '\0');
	assert_int_equal(str_fmt(d, sizeof(d), "%s", ""), 0);
	assert_string_equal(d, "");
}

static void test_xstrndup(void **state)
{
	char *p;
	(void)state;
	p = xstrndup("abcdef", 3);
	assert_string_equal(p, "abc");
	free(p);
	p = xstrndup("ab", 10);
	assert_string_equal(p, "ab");
	free(p);
	p = xstrdup("日本語");
	assert_string_equal(p, "日本語");
	free(p);
}

/* ---- parse_int64 ---- */

static void test_parse_int64_good(void **state)
{
	int64_t v;
	(void)state;
	assert_int_equal(parse_int64("0", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_int64("-0", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_int64("42", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_int64("-17", INT64_MIN, INT64_MAX, &v), 0);
	assert_int_equal(v, -17);
	assert_int_equal(parse_int64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	/* The bounds are inclusive. */
	assert_int_equal(parse_int64("1", 1, 65535, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_int64("65535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
}

static void test_parse_int64_bad(void **state)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "1x", "x1", "0x10", "1.5", "1e3", "-", "+", "--1", "-+1",
		"- 1", "\t1", "1\n", "１", "9223372036854775808", "-9223372036854775809",
		"99999999999999999999999",
	};
	int64_t v = 12345;
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (parse_int64(bad[i], INT64_MIN, INT64_MAX, &v) != -1)
			fail_msg("parse_int64 accepted \"%s\"", bad[i]);
		/* A failed parse leaves the output alone. */
		assert_int_equal(v, 12345);
	}
	assert_int_equal(parse_int64(NULL, 0, 10, &v), -1);
	/* Out of the caller's range. */
	assert_int_equal(parse_int64("0", 1, 65535, &v), -1);
	assert_int_equal(parse_int64("65536", 1, 65535, &v), -1);
	assert_int_equal(parse_int64("-1", 0, 10, &v), -1);
	assert_int_equal(v, 12345);
}

/* ---- hex ---- */

static void test_hex_round_trip(void **state)
{
	uint8_t all[256], back[256];
	char text[2 * 256 + 1];
	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	hex_encode(all, sizeof(all), text);
	assert_int_equal(strlen(text), 512);
	assert_memory_equal(text, "000102030405060708090a0b0c0d0e0f10", 34);
	assert_string_equal(text + 500, "fafbfcfdfeff");
	assert_int_equal(hex_decode(text, back, sizeof(back)), 0);
	assert_memory_equal(all, back, sizeof(all));

	/* Upper case decodes too. */
	assert_int_equal(hex_decode("DEADbeef", back, 4), 0);
	assert_memory_equal(back, "\xde\xad\xbe\xef", 4);

	/* Empty in, empty out. */
	hex_encode(all, 0, text);
	assert_string_equal(text, "");
	assert_int_equal(hex_decode("", back, 0), 0);
}

static void test_hex_bad(void **state)
{
	static const char *const bad[] = { "0g", "g0", "zz", " 0", "0 ", "-1", "0x", "\xc3\xa9" };
	uint8_t out[4];
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (hex_decode(bad[i], out, 1) != -1)
			fail_msg("hex_decode accepted \"%s\"", bad[i]);
	/* The length must be exactly 2n. */
	assert_int_equal(hex_decode("abc", out, 2), -1);
	assert_int_equal(hex_decode("abcdef", out, 2), -1);
	assert_int_equal(hex_decode("ab", out, 2), -1);
	assert_int_equal(hex_decode("abcd", out, 2), 0);
}

/* ---- big-endian ---- */

static void test_be(void **state)
{
	uint8_t b[8], c[8];
	(void)state;
	be32_put(b, 0x01020304u);
	assert_memory_equal(b, "\x01\x02\x03\x04", 4);
	assert_int_equal(be32_get(b), 0x01020304u);
	be32_put(b, 0xffffffffu);
	assert_int_equal(be32_get(b), 0xffffffffu);
	be64_put(b, 0x0102030405060708ull);
	assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_true(be64_get(b) == 0x0102030405060708ull);
	be64_put(b, UINT64_MAX);
	assert_true(be64_get(b) == UINT64_MAX);
	be64_put(b, 0);
	assert_memory_equal(b, "\0\0\0\0\0\0\0\0", 8);

	/* Byte order is numeric order: what LMDB keys rely on. */
	be64_put(b, 255);
	be64_put(c, 256);
	assert_true(memcmp(b, c, 8) < 0);
	be64_put(b, 0x00ffffffffffffffull);
	be64_put(c, 0x0100000000000000ull);
	assert_true(memcmp(b, c, 8) < 0);
	be32_put(b, 65535);
	be32_put(c, 65536);
	assert_true(memcmp(b, c, 4) < 0);
}

/* ---- ct_memcmp, wipe, random ---- */

static void test_ct_memcmp(void **state)
{
	uint8_t a[32], b[32];
	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(ct_memcmp(a, b, sizeof(a)), 0);
	assert_int_equal(ct_memcmp(a, b, 0), 0);
	for (size_t i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x01;
		assert_int_not_equal(ct_memcmp(a, b, sizeof(a)), 0);
		b[i] ^= 0x01;
	}
	b[31] ^= 0x80;
	assert_int_not_equal(ct_memcmp(a, b, sizeof(a)), 0);
	/* Only n bytes are compared. */
	assert_int_equal(ct_memcmp(a, b, 31), 0);
}

static void test_secure_wipe_random(void **state)
{
	uint8_t a[32], b[32], zero[32] = { 0 };
	(void)state;
	assert_int_equal(random_bytes(a, sizeof(a)), 0);
	assert_int_equal(random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	secure_wipe(a, sizeof(a));
	assert_memory_equal(a, zero, sizeof(a));
	secure_wipe(NULL, 10); /* allowed */
	assert_int_equal(random_bytes(a, 0), 0);
}

/* ---- time ---- */

static void test_time_format(void **state)
{
	char out[64];
	(void)state;
	time_format_utc(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	time_format_utc(1795683600, out, sizeof(out));
	assert_string_equal(out, "2026-11-26T09:00:00Z");
	time_format_jst(1795683600, out, sizeof(out));
	assert_string_equal(out, "2026-11-26 18:00 JST");
	/* 2026-12-31T20:30Z is already New Year's Day in Japan. */
	time_format_jst(1798749000, out, sizeof(out));
	assert_string_equal(out, "2027-01-01 05:30 JST");
	assert_true(now_utc() > 1700000000);
}

/* ---- files ---- */

static void test_file_write_read(void **state)
{
	const char *dir = *state;
	char path[512];
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	struct error e = { { 0 }, 0 };
	const char text[] = "一行目\nline two\n";

	assert_int_equal(str_fmt(path, sizeof(path), "%s/f.txt", dir) > 0, 1);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(file_read_all(path, 1024, &data, &len, &e), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(data, text, len);
	assert_int_equal(data[len], '\0'); /* always terminated */
	free(data);

	/* Replacing keeps the new mode and content and leaves no temp file behind. */
	assert_int_equal(file_write_atomic(path, "new", 3, 0640, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(file_read_all(path, 3, &data, &len, &e), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "new", 3);
	free(data);
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int n = 0;
		assert_non_null(d);
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
				assert_string_equal(de->d_name, "f.txt");
				n++;
			}
		closedir(d);
		assert_int_equal(n, 1);
	}

	/* The cap: exactly max is fine, one byte over is refused (not truncated). */
	data = NULL;
	assert_int_equal(file_read_all(path, 2, &data, &len, &e), -1);
	assert_null(data);
	assert_non_null(strstr(e.msg, "limit"));
	assert_int_equal(e.temporary, 0);

	/* Empty file. */
	assert_int_equal(file_write_atomic(path, "", 0, 0600, &e), 0);
	assert_int_equal(file_read_all(path, 0, &data, &len, &e), 0);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], '\0');
	free(data);
}

static void test_file_read_errors(void **state)
{
	const char *dir = *state;
	char path[512];
	uint8_t *data = NULL;
	size_t len = 0;
	struct error e = { { 0 }, 0 };

	str_fmt(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(file_read_all(path, 100, &data, &len, &e), -1);
	assert_non_null(strstr(e.msg, "missing"));
	/* A directory is not a regular file. */
	assert_int_equal(file_read_all(dir, 1 << 20, &data, &len, &e), -1);
	assert_non_null(strstr(e.msg, "regular"));
	assert_null(data);
	/* A write into a missing directory fails with a message. */
	str_fmt(path, sizeof(path), "%s/no/such/dir/f", dir);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600, &e), -1);
	assert_true(e.msg[0] != '\0');
}

static void test_mkdir_p(void **state)
{
	const char *dir = *state;
	char path[512], f[512];
	struct stat st;
	struct error e = { { 0 }, 0 };

	str_fmt(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(mkdir_p(path, 0700, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* Again: already there is success. */
	assert_int_equal(mkdir_p(path, 0700, &e), 0);
	/* A trailing slash is fine. */
	str_fmt(path, sizeof(path), "%s/a/b/d/", dir);
	assert_int_equal(mkdir_p(path, 0750, &e), 0);
	str_fmt(path, sizeof(path), "%s/a/b/d", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* Below a regular file: refused. */
	str_fmt(f, sizeof(f), "%s/plain", dir);
	assert_int_equal(file_write_atomic(f, "x", 1, 0600, &e), 0);
	str_fmt(path, sizeof(path), "%s/plain/sub", dir);
	assert_int_equal(mkdir_p(path, 0700, &e), -1);
	assert_true(e.msg[0] != '\0');
}

static void test_mkdir_p_over_file(void **state)
{
	const char *dir = *state;
	char f[512];
	struct error e = { { 0 }, 0 };

	/* `mkdir -p FILE` fails: a regular file where the directory should be
	 * is not a directory, and callers would go on to use it as one. */
	str_fmt(f, sizeof(f), "%s/plainfile", dir);
	assert_int_equal(file_write_atomic(f, "x", 1, 0600, &e), 0);
	assert_int_equal(mkdir_p(f, 0700, &e), -1);
}

/*
 * cpu_threads: within [1, max], and it follows the CPUs this process may
 * run on (taskset, cgroup cpusets), not the CPUs the machine has.  The
 * narrowed affinity is put back before any assertion can stop the test.
 */
static void test_cpu_threads(void **state)
{
	cpu_set_t all, one;
	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	int n = CPU_COUNT(&all);
	assert_int_equal(cpu_threads(1000), n);
	assert_int_equal(cpu_threads(1), 1);
	assert_int_equal(cpu_threads(0), 1);
	assert_int_equal(cpu_threads(-5), 1);
	assert_true(cpu_threads(8) >= 1 && cpu_threads(8) <= 8);

	int first = -1;
	for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
		if (CPU_ISSET(i, &all))
			first = i;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	int narrowed = cpu_threads(8);
	assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
	assert_int_equal(narrowed, 1);
	assert_int_equal(cpu_threads(1000), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set_and_tmp),
		cmocka_unit_test(test_cpu_threads),
		cmocka_unit_test(test_err_message_truncated),
		cmocka_unit_test(test_buf_cap_respected),
		cmocka_unit_test(test_buf_partial_overflow_unchanged),
		cmocka_unit_test(test_buf_grow_printf_steal),
		cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_str_fmt),
		cmocka_unit_test(test_xstrndup),
		cmocka_unit_test(test_parse_int64_good),
		cmocka_unit_test(test_parse_int64_bad),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_hex_bad),
		cmocka_unit_test(test_be),
		cmocka_unit_test(test_ct_memcmp),
		cmocka_unit_test(test_secure_wipe_random),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test_setup_teardown(test_file_write_read, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_read_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_mkdir_p_over_file, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
