/*
 * test_rec.c — unit tests for lib/rec.c, the tagged field encoding of
 * stored records: round trips, absent tags, unknown tags skipped, and
 * rec_check / rec_get_str refusing malformed input (truncated, out of
 * order, overlong, embedded NUL, too long for the caller).
 * Runs as a stand-alone cmocka program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/buf.h"
#include "lib/rec.h"
#include "lib/util.h"

static void build(struct buf *b)
{
	buf_init(b, 4096);
	assert_int_equal(rec_put_str(b, 1, "login-name"), 0);
	assert_int_equal(rec_put_str(b, 2, "練馬区役所"), 0);
	assert_int_equal(rec_put(b, 3, "\0\1\2\3", 4), 0);
	assert_int_equal(rec_put_str(b, 4, ""), 0);
	assert_int_equal(rec_put_u64(b, 7, 0x0123456789abcdefull), 0);
	assert_int_equal(rec_put_u64(b, 300, 0), 0);
	assert_int_equal(rec_put_str(b, 65535, "last"), 0);
}

static void test_put_get(void **state)
{
	struct buf b;
	const uint8_t *v = NULL;
	size_t n = 0;
	char s[64];
	(void)state;

	build(&b);
	assert_int_equal(rec_check(b.data, b.len), 0);
	/* Wire form of the first field: u16 tag, u32 length, bytes. */
	assert_memory_equal(b.data, "\0\1\0\0\0\x0alogin-name", 16);

	assert_int_equal(rec_get(b.data, b.len, 3, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(v, "\0\1\2\3", 4);
	assert_true(v > b.data && v + n <= b.data + b.len); /* points into the record */
	assert_int_equal(rec_get_str(b.data, b.len, 1, s, sizeof(s)), 0);
	assert_string_equal(s, "login-name");
	assert_int_equal(rec_get_str(b.data, b.len, 2, s, sizeof(s)), 0);
	assert_string_equal(s, "練馬区役所");
	assert_int_equal(rec_get_str(b.data, b.len, 4, s, sizeof(s)), 0);
	assert_string_equal(s, "");
	assert_int_equal(rec_get(b.data, b.len, 4, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_true(rec_get_u64(b.data, b.len, 7, 99) == 0x0123456789abcdefull);
	assert_true(rec_get_u64(b.data, b.len, 300, 99) == 0);
	assert_int_equal(rec_get_str(b.data, b.len, 65535, s, sizeof(s)), 0);
	assert_string_equal(s, "last");
	buf_free(&b);

	/* The empty record is well-formed and has no fields. */
	assert_int_equal(rec_check((const uint8_t *)"", 0), 0);
	assert_int_equal(rec_get((const uint8_t *)"", 0, 1, &v, &n), 1);
}

static void test_absent(void **state)
{
	struct buf b;
	const uint8_t *v = NULL;
	size_t n = 0;
	char s[16];
	(void)state;

	build(&b);
	assert_int_equal(rec_get(b.data, b.len, 5, &v, &n), 1);
	assert_int_equal(rec_get(b.data, b.len, 0, &v, &n), 1);
	memcpy(s, "garbage", 8);
	assert_int_equal(rec_get_str(b.data, b.len, 5, s, sizeof(s)), 0);
	assert_string_equal(s, "");
	assert_true(rec_get_u64(b.data, b.len, 5, 4242) == 4242);
	/* A field of the wrong size is not a u64: the default. */
	assert_true(rec_get_u64(b.data, b.len, 1, 4242) == 4242);
	assert_true(rec_get_u64(b.data, b.len, 4, 4242) == 4242);
	buf_free(&b);
}

static void test_unknown_tags_skipped(void **state)
{
	struct buf b;
	char s[16];
	(void)state;
	/* A newer writer adds tag 5 between the ones an older reader knows. */
	buf_init(&b, 256);
	rec_put_str(&b, 1, "a");
	rec_put(&b, 5, "\xff\xfe new field", 12);
	rec_put_str(&b, 9, "b");
	assert_int_equal(rec_check(b.data, b.len), 0);
	assert_int_equal(rec_get_str(b.data, b.len, 1, s, sizeof(s)), 0);
	assert_string_equal(s, "a");
	assert_int_equal(rec_get_str(b.data, b.len, 9, s, sizeof(s)), 0);
	assert_string_equal(s, "b");
	buf_free(&b);
}

static void test_check_truncated(void **state)
{
	struct buf b;
	size_t boundaries[16], nb = 0, off = 0;
	(void)state;

	build(&b);
	/* Field boundaries: a record cut exactly there is a shorter, valid record. */
	while (off < b.len) {
		boundaries[nb++] = off;
		off += 6 + be32_get(b.data + off + 2);
	}
	for (size_t cut = 0; cut < b.len; cut++) {
		int at_boundary = 0;
		for (size_t i = 0; i < nb; i++)
			at_boundary |= boundaries[i] == cut;
		if (at_boundary)
			assert_int_equal(rec_check(b.data, cut), 0);
		else if (rec_check(b.data, cut) != -1)
			fail_msg("a record cut to %zu of %zu bytes passed rec_check", cut, b.len);
	}
	buf_free(&b);
}

static void test_check_out_of_order(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b, 256);
	rec_put_str(&b, 2, "x");
	rec_put_str(&b, 1, "y");
	assert_int_equal(rec_check(b.data, b.len), -1);
	buf_free(&b);
	/* A repeated tag is not ascending either. */
	buf_init(&b, 256);
	rec_put_str(&b, 3, "x");
	rec_put_str(&b, 3, "y");
	assert_int_equal(rec_check(b.data, b.len), -1);
	buf_free(&b);
	/* Order is numeric on the u16, not on the first byte alone. */
	buf_init(&b, 256);
	rec_put_str(&b, 0x00ff, "x");
	rec_put_str(&b, 0x0100, "y");
	assert_int_equal(rec_check(b.data, b.len), 0);
	buf_free(&b);
	buf_init(&b, 256);
	rec_put_str(&b, 0x0100, "x");
	rec_put_str(&b, 0x00ff, "y");
	assert_int_equal(rec_check(b.data, b.len), -1);
	buf_free(&b);
}

static void test_check_overlong(void **state)
{
	const uint8_t *v = NULL;
	size_t n = 0;
	char s[16];
	/* Tag 1 claims 10 bytes; 5 follow. */
	static const uint8_t over[] = "\0\1\0\0\0\x0a" "12345";
	/* Tag 1 claims 4 GiB - 1. */
	static const uint8_t huge[] = "\0\1\xff\xff\xff\xff" "12345";
	/* A good field, then one whose length runs past the end. */
	static const uint8_t second[] = "\0\1\0\0\0\1" "a" "\0\2\0\0\0\x02" "b";
	(void)state;

	assert_int_equal(rec_check(over, sizeof(over) - 1), -1);
	assert_int_equal(rec_check(huge, sizeof(huge) - 1), -1);
	assert_int_equal(rec_check(second, sizeof(second) - 1), -1);
	/* Readers refuse them too, rather than reading past the end. */
	assert_int_equal(rec_get(over, sizeof(over) - 1, 1, &v, &n), -1);
	assert_int_equal(rec_get(huge, sizeof(huge) - 1, 1, &v, &n), -1);
	assert_int_equal(rec_get(second, sizeof(second) - 1, 2, &v, &n), -1);
	assert_int_equal(rec_get_str(over, sizeof(over) - 1, 1, s, sizeof(s)), -1);
	assert_true(rec_get_u64(huge, sizeof(huge) - 1, 1, 77) == 77);
	/* A lone partial header is refused by rec_check. */
	assert_int_equal(rec_check((const uint8_t *)"\0\1\0", 3), -1);
}

static void test_get_str_refuses(void **state)
{
	struct buf b;
	char s[8];
	(void)state;

	buf_init(&b, 256);
	rec_put(&b, 1, "ab\0cd", 5);   /* embedded NUL */
	rec_put_str(&b, 2, "1234567"); /* 7 + NUL = 8: fits exactly */
	rec_put_str(&b, 3, "12345678"); /* 8 + NUL: too long */
	rec_put(&b, 4, "abc\0", 4);    /* trailing NUL is embedded too */
	assert_int_equal(rec_check(b.data, b.len), 0);

	memcpy(s, "garbage", 8);
	assert_int_equal(rec_get_str(b.data, b.len, 1, s, sizeof(s)), -1);
	/* Nothing half-copied is left behind. */
	assert_string_equal(s, "");
	assert_int_equal(rec_get_str(b.data, b.len, 2, s, sizeof(s)), 0);
	assert_string_equal(s, "1234567");
	assert_int_equal(rec_get_str(b.data, b.len, 3, s, sizeof(s)), -1);
	assert_string_equal(s, "");
	assert_int_equal(rec_get_str(b.data, b.len, 4, s, sizeof(s)), -1);
	assert_int_equal(rec_get_str(b.data, b.len, 2, s, 0), -1);
	buf_free(&b);
}

static void test_put_cap(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 16);
	assert_int_equal(rec_put_str(&b, 1, "0123456789"), 0); /* 16 bytes */
	assert_int_equal(b.len, 16);
	assert_int_equal(rec_put_u64(&b, 2, 1), -1);
	assert_int_equal(rec_put_str(&b, 2, ""), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_unknown_tags_skipped),
		cmocka_unit_test(test_check_truncated),
		cmocka_unit_test(test_check_out_of_order),
		cmocka_unit_test(test_check_overlong),
		cmocka_unit_test(test_get_str_refuses),
		cmocka_unit_test(test_put_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
