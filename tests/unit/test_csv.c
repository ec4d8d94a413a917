/*
 * test_csv.c — unit tests of the recipients CSV reader (gateway/csv.c):
 * encodings (UTF-8 with and without BOM, CP932 as Excel writes it),
 * RFC 4180 quoting, line endings, limits and every refusal with its line.
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
#include <glib.h>

#include "gateway/csv.h"

static struct csv_table *parse_ok(const char *s, size_t len, const struct csv_limits *lim)
{
	struct csv_table *t = NULL;
	struct error e = { 0 };
	int rc = csv_parse((const uint8_t *)s, len, lim, &t, &e);
	if (rc != 0)
		fail_msg("csv_parse failed: %s", e.msg);
	assert_non_null(t);
	return t;
}

#define PARSE(s) parse_ok((s), sizeof(s) - 1, NULL)

/* Parse must fail; returns the message (static storage). */
static const char *parse_err(const char *s, size_t len, const struct csv_limits *lim)
{
	static struct error e;
	struct csv_table *t = (struct csv_table *)1;
	memset(&e, 0, sizeof(e));
	assert_int_equal(csv_parse((const uint8_t *)s, len, lim, &t, &e), -1);
	assert_null(t);
	assert_int_equal(e.temporary, 0);
	assert_true(e.msg[0] != '\0');
	return e.msg;
}

#define PARSE_ERR(s) parse_err((s), sizeof(s) - 1, NULL)

static void assert_prefix(const char *msg, const char *prefix)
{
	if (strncmp(msg, prefix, strlen(prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", msg, prefix);
}

static void assert_contains(const char *msg, const char *part)
{
	if (strstr(msg, part) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", msg, part);
}

static void test_utf8_basic(void **state)
{
	struct csv_table *t = PARSE("a,b,c\n1,2,3\n");
	assert_int_equal(t->nrows, 2);
	assert_int_equal(t->ncols, 3);
	assert_string_equal(t->encoding, "UTF-8");
	assert_int_equal(t->had_bom, 0);
	assert_string_equal(t->rows[0][0], "a");
	assert_string_equal(t->rows[1][2], "3");
	assert_int_equal(t->lines[0], 1);
	assert_int_equal(t->lines[1], 2);
	csv_free(&t);
	assert_null(t);
	csv_free(&t); /* twice is fine */
}

static void test_utf8_bom(void **state)
{
	struct csv_table *t = PARSE("\xEF\xBB\xBF宛名番号,氏名\r\n0001,山田　太郎\r\n");
	assert_int_equal(t->had_bom, 1);
	assert_string_equal(t->encoding, "UTF-8");
	assert_int_equal(t->nrows, 2);
	assert_string_equal(t->rows[0][0], "宛名番号");
	assert_string_equal(t->rows[1][1], "山田　太郎");
	csv_free(&t);
}

static void test_cp932_excel(void **state)
{
	/* What Excel's "CSV (comma delimited)" writes on a Japanese Windows:
	 * CP932, CRLF, quotes only where needed.  Includes characters where
	 * CP932 and Shift_JIS differ (～ ① 髙) and half-width katakana. */
	const char *utf8 = "宛名番号,氏名,メールアドレス,備考\r\n"
			   "00012345,髙橋　一郎,ｔａｒｏ＠example.jp,\"①～③, ﾃｽﾄ\"\r\n"
			   "00012346,渡邊花子,hanako@example.jp,表\r\n";
	gsize r = 0, w = 0;
	GError *gerr = NULL;
	gchar *sjis = g_convert(utf8, -1, "CP932", "UTF-8", &r, &w, &gerr);
	assert_non_null(sjis);
	assert_false(g_utf8_validate(sjis, (gssize)w, NULL));

	struct csv_table *t = parse_ok(sjis, w, NULL);
	assert_string_equal(t->encoding, "CP932");
	assert_int_equal(t->nrows, 3);
	assert_int_equal(t->ncols, 4);
	assert_string_equal(t->rows[0][2], "メールアドレス");
	assert_string_equal(t->rows[1][1], "髙橋　一郎");
	assert_string_equal(t->rows[1][2], "ｔａｒｏ＠example.jp");
	assert_string_equal(t->rows[1][3], "①～③, ﾃｽﾄ");
	/* 表 is 0x95 0x5C in CP932: the trail byte is '\' and must not confuse us. */
	assert_string_equal(t->rows[2][3], "表");
	csv_free(&t);
	g_free(sjis);
}

static void test_line_endings(void **state)
{
	struct csv_table *t = PARSE("h1,h2\r\na,b\nc,d\re,f");
	assert_int_equal(t->nrows, 4);
	assert_string_equal(t->rows[1][1], "b");
	assert_string_equal(t->rows[2][0], "c");
	assert_string_equal(t->rows[3][0], "e");
	assert_string_equal(t->rows[3][1], "f"); /* no final newline */
	assert_int_equal(t->lines[3], 4);
	csv_free(&t);
}

static void test_quoted(void **state)
{
	struct csv_table *t = PARSE("name,note\n"
				    "\"Yamada, Taro\",\"say \"\"hi\"\"\"\n"
				    "\"two\r\nlines\",\"\"\n"
				    "x,\"a\nb\nc\"\n"
				    "last,1\n");
	assert_int_equal(t->nrows, 5);
	assert_string_equal(t->rows[1][0], "Yamada, Taro");
	assert_string_equal(t->rows[1][1], "say \"hi\"");
	assert_string_equal(t->rows[2][0], "two\r\nlines");
	assert_string_equal(t->rows[2][1], "");
	assert_string_equal(t->rows[3][1], "a\nb\nc");
	/* physical lines: the quoted line breaks count */
	assert_int_equal(t->lines[2], 3);
	assert_int_equal(t->lines[3], 5);
	assert_int_equal(t->lines[4], 8);
	csv_free(&t);
}

static void test_blank_and_trailing_lines(void **state)
{
	struct csv_table *t = PARSE("a,b\n\n1,2\r\n\r\n\r\n3,4\n\n\n");
	assert_int_equal(t->nrows, 3);
	assert_string_equal(t->rows[1][0], "1");
	assert_string_equal(t->rows[2][1], "4");
	assert_int_equal(t->lines[1], 3);
	assert_int_equal(t->lines[2], 6);
	csv_free(&t);
}

static void test_empty_fields_and_ragged(void **state)
{
	struct csv_table *t = PARSE(",,\na,\nb\n\"\"\n");
	assert_int_equal(t->nrows, 4);
	assert_int_equal(t->nfields[0], 3);
	assert_string_equal(t->rows[0][2], "");
	assert_int_equal(t->nfields[1], 2);
	assert_string_equal(t->rows[1][0], "a");
	assert_string_equal(t->rows[1][1], "");
	assert_int_equal(t->nfields[2], 1);
	assert_int_equal(t->nfields[3], 1);
	assert_string_equal(t->rows[3][0], "");
	assert_int_equal(t->ncols, 3);
	assert_string_equal(csv_field(t, 2, 0), "b");
	assert_string_equal(csv_field(t, 2, 5), "");
	assert_string_equal(csv_field(t, 99, 0), "");
	csv_free(&t);

	t = PARSE("a,");
	assert_int_equal(t->nrows, 1);
	assert_int_equal(t->nfields[0], 2);
	assert_string_equal(t->rows[0][1], "");
	csv_free(&t);
}

static void test_empty_input(void **state)
{
	struct csv_table *t = parse_ok("", 0, NULL);
	assert_int_equal(t->nrows, 0);
	csv_free(&t);
	t = PARSE("\xEF\xBB\xBF\r\n\r\n");
	assert_int_equal(t->nrows, 0);
	csv_free(&t);
}

static void test_lenient_quotes(void **state)
{
	/* Excel: a quote inside an unquoted field is literal. */
	struct csv_table *t = PARSE("size,x\n5\"7,a\"b\" \n \"q\",z\n");
	assert_string_equal(t->rows[1][0], "5\"7");
	assert_string_equal(t->rows[1][1], "a\"b\" ");
	assert_string_equal(t->rows[2][0], " \"q\"");
	csv_free(&t);
	/* spaces after a closing quote are dropped */
	t = PARSE("\"a\"  ,\"b\"\t\n");
	assert_string_equal(t->rows[0][0], "a");
	assert_string_equal(t->rows[0][1], "b");
	csv_free(&t);
}

static void test_refuse_text_after_quote(void **state)
{
	const char *m = PARSE_ERR("a,b\n\"x\"y,z\n");
	assert_prefix(m, "line 2: text after the closing quote of field 1");
	m = PARSE_ERR("a,b\n1,\"x\"\"\"y\n");
	assert_prefix(m, "line 2: text after the closing quote of field 2");
}

static void test_refuse_unterminated(void **state)
{
	const char *m = PARSE_ERR("a,b\n1,2\n3,\"open\nmore\nlines\n");
	assert_prefix(m, "line 3: unterminated quoted field");
	m = PARSE_ERR("\"");
	assert_prefix(m, "line 1: unterminated quoted field");
}

static void test_refuse_nul(void **state)
{
	const char *m = PARSE_ERR("a,b\r\n1,2\r\n3\0,4\r\n");
	assert_prefix(m, "line 3: NUL byte at offset 11");
}

static void test_refuse_utf16(void **state)
{
	const char *m = PARSE_ERR("\xFF\xFE" "a\0,\0b\0");
	assert_contains(m, "UTF-16");
}

static void test_refuse_bad_encoding(void **state)
{
	/* 0x80 and 0xA0 are not CP932 lead bytes, and the text is not UTF-8 */
	const char *m = PARSE_ERR("a,b\n1,2\n\x82\xA0,\x80x\n");
	assert_prefix(m, "line 3: the CSV is neither UTF-8 nor CP932");
	assert_contains(m, "0x80 at offset 11");
	/* a CP932 lead byte cut off at the very end */
	m = PARSE_ERR("a,b\n\x82\xA0\x82");
	assert_prefix(m, "line 2: the CSV is neither UTF-8 nor CP932");
	assert_contains(m, "truncated");
	/* a UTF-8 BOM followed by non-UTF-8 is not retried as CP932 */
	m = PARSE_ERR("\xEF\xBB\xBF" "a\nb,\x82\xA0\n");
	assert_prefix(m, "line 2: invalid UTF-8 at offset 7");
}

static void test_limits(void **state)
{
	struct csv_limits lim = { .max_bytes = 64, .max_rows = 3, .max_fields = 3,
				  .max_field_len = 5 };
	const char *m;

	struct csv_table *t = parse_ok("a,b,c\n12345,\"67890\",x\n\n\n", 24, &lim);
	assert_int_equal(t->nrows, 2);
	csv_free(&t);

	m = parse_err("a\nb\nc\nd\n", 8, &lim);
	assert_prefix(m, "line 4: more than 3 rows");
	m = parse_err("a,b,c,d\n", 8, &lim);
	assert_prefix(m, "line 1: more than 3 fields");
	m = parse_err("a\n123456\n", 9, &lim);
	assert_prefix(m, "line 2: field 1 is longer than 5 bytes");
	m = parse_err("a\nx,\"12\n3456\"\n", 14, &lim);
	assert_prefix(m, "line 2: field 2 is longer than 5 bytes");
	char big[65];
	memset(big, 'a', sizeof(big));
	m = parse_err(big, sizeof(big), &lim);
	assert_contains(m, "65 bytes, more than the limit of 64");
	/* at the limit exactly */
	t = parse_ok(big, 64, &(struct csv_limits){ .max_bytes = 64 });
	csv_free(&t);
}

static void test_default_limits(void **state)
{
	/* a row of 257 fields exceeds the default of 256 */
	char row[600];
	size_t n = 0;
	for (int i = 0; i < 257; i++) {
		row[n++] = 'x';
		row[n++] = i < 256 ? ',' : '\n';
	}
	const char *m = parse_err(row, n, NULL);
	assert_prefix(m, "line 1: more than 256 fields");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_basic),
		cmocka_unit_test(test_utf8_bom),
		cmocka_unit_test(test_cp932_excel),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_blank_and_trailing_lines),
		cmocka_unit_test(test_empty_fields_and_ragged),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_lenient_quotes),
		cmocka_unit_test(test_refuse_text_after_quote),
		cmocka_unit_test(test_refuse_unterminated),
		cmocka_unit_test(test_refuse_nul),
		cmocka_unit_test(test_refuse_utf16),
		cmocka_unit_test(test_refuse_bad_encoding),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_default_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
