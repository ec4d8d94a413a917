/*
 * test_text.c — unit tests of lib/text.c, table-driven: every C0 and C1
 * control, DEL, the bidirectional controls and marks, U+2028/U+2029,
 * invalid UTF-8 (stray continuation bytes, truncated sequences, overlong
 * forms, surrogates, code points past U+10FFFF, F5-FF), CRLF and lone CR,
 * lengths at and past the limits (in characters, not bytes), the line
 * a problem is on, and the escaping of text_fputs_safe and json_fputs.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"
#include "lib/util.h"

/* UTF-8 of one code point (no checks: tests build what they need). */
static size_t enc(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* "a" + c + "b", checked as kind: 0 clean, -1 refused (p filled). */
static int check_cp(uint32_t c, enum text_kind kind, struct text_problem *p)
{
	char s[16];
	size_t n = 0;
	s[n++] = 'a';
	n += enc(c, s + n);
	s[n++] = 'b';
	s[n] = '\0';
	return text_check(s, kind, 100, p);
}

static void test_every_control_refused(void **state)
{
	(void)state;
	/* C0, DEL and C1: refused in one-line text, all but tab and LF in a body. */
	for (uint32_t c = 0; c <= 0x9F; c++) {
		struct text_problem p;
		char want[64];
		if (c >= 0x20 && c < 0x7F)
			continue;
		if (c == 0) /* a C string ends at NUL; text_clean sees it by length */
			continue;
		str_fmt(want, sizeof(want), "U+%04X", (unsigned)c);
		assert_int_equal(check_cp(c, TEXT_LINE, &p), -1);
		assert_non_null(strstr(p.what, want));
		if (c == '\t' || c == '\n') {
			assert_int_equal(check_cp(c, TEXT_BODY, &p), 0);
		} else {
			assert_int_equal(check_cp(c, TEXT_BODY, &p), -1);
			assert_non_null(strstr(p.what, want));
		}
	}
}

static void test_nul_refused_by_length(void **state)
{
	struct text_problem p;
	(void)state;
	assert_null(text_clean("a\0b", 3, TEXT_BODY, 100, &p));
	assert_non_null(strstr(p.what, "U+0000"));
}

static void test_bidi(void **state)
{
	static const struct {
		uint32_t c;
		int line_ok, body_ok;
	} cases[] = {
		{ 0x202A, 0, 0 }, { 0x202B, 0, 0 }, { 0x202C, 0, 0 }, { 0x202D, 0, 0 },
		{ 0x202E, 0, 0 }, { 0x2066, 0, 0 }, { 0x2067, 0, 0 }, { 0x2068, 0, 0 },
		{ 0x2069, 0, 0 },
		/* direction marks: only beside right-to-left text in a message */
		{ 0x200E, 0, 1 }, { 0x200F, 0, 1 }, { 0x061C, 0, 1 },
		{ 0x2028, 0, 0 }, { 0x2029, 0, 0 },
		/* neighbours that are fine */
		{ 0x2027, 1, 1 }, { 0x2065, 1, 1 }, { 0x206A, 1, 1 }, { 0x200D, 1, 1 },
		{ 0x3000, 1, 1 }, { 0xFEFF, 1, 1 }, { 0x1F600, 1, 1 }, { 0x10FFFF, 1, 1 },
		{ 0xA0, 1, 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct text_problem p;
		char want[16];
		str_fmt(want, sizeof(want), "U+%04X", (unsigned)cases[i].c);
		assert_int_equal(check_cp(cases[i].c, TEXT_LINE, &p), cases[i].line_ok ? 0 : -1);
		if (!cases[i].line_ok)
			assert_non_null(strstr(p.what, want));
		assert_int_equal(check_cp(cases[i].c, TEXT_BODY, &p), cases[i].body_ok ? 0 : -1);
	}
}

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\x80", "\xBF", "a\x80z",                 /* stray continuation bytes */
		"\xC2", "\xE3\x81", "\xF0\x9F\x98",       /* truncated */
		"\xE3\x81z",                              /* a sequence cut by an ASCII byte */
		"\xC0\xAF", "\xC1\xBF",                   /* overlong 2-byte */
		"\xE0\x80\xAF", "\xE0\x9F\xBF",           /* overlong 3-byte */
		"\xF0\x80\x80\xAF", "\xF0\x8F\xBF\xBF",   /* overlong 4-byte */
		"\xED\xA0\x80", "\xED\xBF\xBF",           /* surrogates U+D800, U+DFFF */
		"\xF4\x90\x80\x80",                       /* U+110000 */
		"\xF5\x80\x80\x80", "\xF8\x88\x80\x80\x80", "\xFE", "\xFF",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct text_problem p;
		assert_int_equal(text_check(bad[i], TEXT_LINE, 100, &p), -1);
		assert_non_null(strstr(p.what, "not valid UTF-8"));
		assert_int_equal(text_check(bad[i], TEXT_BODY, 100, &p), -1);
	}
	/* the edges that are valid */
	static const char *const good[] = {
		"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
		"\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "令和8年度 住民税",
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct text_problem p;
		uint32_t c;
		/* U+0080 is a C1 control: valid UTF-8, refused as a control */
		if (i == 0) {
			assert_int_equal(text_check(good[i], TEXT_LINE, 100, &p), -1);
			assert_non_null(strstr(p.what, "U+0080"));
			assert_int_equal(text_utf8_decode((const unsigned char *)good[i], 2, &c), 2);
			assert_int_equal(c, 0x80);
			continue;
		}
		assert_int_equal(text_check(good[i], TEXT_LINE, 100, &p), 0);
	}
}

static void test_line_endings(void **state)
{
	struct text_problem p;
	char *r;
	(void)state;
	r = text_clean("one\r\ntwo\r\n\tthree\n", 17, TEXT_BODY, 100, &p);
	assert_non_null(r);
	assert_string_equal(r, "one\ntwo\n\tthree\n");
	free(r);
	/* a lone CR is refused, on its line */
	assert_null(text_clean("one\ntwo\rthree", 13, TEXT_BODY, 100, &p));
	assert_int_equal(p.line, 2);
	assert_non_null(strstr(p.what, "U+000D"));
	/* a CR at the very end has no LF after it */
	assert_null(text_clean("one\r", 4, TEXT_BODY, 100, &p));
	/* one-line text: no CRLF, no LF, no tab */
	assert_int_equal(text_check("A\r\nBcc: x@example.com", TEXT_LINE, 100, &p), -1);
	assert_non_null(strstr(p.what, "U+000D"));
	assert_int_equal(text_check("A\nB", TEXT_LINE, 100, &p), -1);
	assert_non_null(strstr(p.what, "one line"));
	assert_int_equal(text_check("A\tB", TEXT_LINE, 100, &p), -1);
	assert_non_null(strstr(p.what, "U+0009"));
	/* the line of a problem in a body */
	assert_int_equal(text_check("a\nb\nc\x1b[31m\n", TEXT_BODY, 100, &p), -1);
	assert_int_equal(p.line, 3);
	assert_non_null(strstr(p.what, "U+001B"));
}

static void test_lengths(void **state)
{
	struct text_problem p;
	char *s = xmalloc(3 * (TEXT_MESSAGE_MAX + 2) + 1);
	size_t n = 0;
	(void)state;
	/* a title of exactly 200 characters (600 bytes of kana) passes, 201 not */
	for (int i = 0; i < TEXT_TITLE_MAX; i++)
		n += enc(0x3042, s + n);
	s[n] = '\0';
	assert_int_equal(text_check(s, TEXT_LINE, TEXT_TITLE_MAX, &p), 0);
	n += enc(0x3042, s + n);
	s[n] = '\0';
	assert_int_equal(text_check(s, TEXT_LINE, TEXT_TITLE_MAX, &p), -1);
	assert_string_equal(p.what, "it is 201 characters long; the limit is 200");
	assert_int_equal(p.line, 0);
	/* a message of 20,000 characters with line breaks passes, one more not */
	n = 0;
	for (int i = 0; i < TEXT_MESSAGE_MAX; i++)
		s[n++] = i % 80 == 79 ? '\n' : 'x';
	s[n] = '\0';
	assert_int_equal(text_check(s, TEXT_BODY, TEXT_MESSAGE_MAX, &p), 0);
	s[n++] = 'y';
	s[n] = '\0';
	assert_int_equal(text_check(s, TEXT_BODY, TEXT_MESSAGE_MAX, &p), -1);
	assert_non_null(strstr(p.what, "20001 characters"));
	/* CRLF counts as one character */
	{
		char *r = text_clean("ab\r\ncd", 6, TEXT_BODY, 5, &p);
		assert_non_null(r);
		free(r);
	}
	/* a 120 KB title is refused, not stored as "" */
	{
		char *big = xmalloc(120001);
		memset(big, 'x', 120000);
		big[120000] = '\0';
		assert_int_equal(text_check(big, TEXT_LINE, TEXT_TITLE_MAX, &p), -1);
		assert_non_null(strstr(p.what, "120000 characters"));
		free(big);
	}
	free(s);
}

static char *captured(void (*fn)(FILE *, const char *), const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	fn(f, s);
	fclose(f);
	return out;
}

static void test_escaping(void **state)
{
	char *o;
	(void)state;
	o = captured(text_fputs_safe, "A\rBcc: evil@example.com\x1b[31m");
	assert_string_equal(o, "A\\u{D}Bcc: evil@example.com\\u{1B}[31m");
	assert_null(strchr(o, 0x1b));
	free(o);
	o = captured(text_fputs_safe, "x\xc2\x85y\xe2\x80\xaez\xff\x7f 令和");
	assert_string_equal(o, "x\\u{85}y\\u{202E}z\\xFF\\u{7F} 令和");
	free(o);
	o = captured(json_fputs, "A\rB\x1b\x7f\xc2\x9b\xe2\x80\xae\xe2\x80\xa8\"\\\xff 令");
	assert_string_equal(o, "\"A\\u000dB\\u001b\\u007f\\u009b\\u202e\\u2028\\\"\\\\\\ufffd 令\"");
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_control_refused),
		cmocka_unit_test(test_nul_refused_by_length),
		cmocka_unit_test(test_bidi),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
