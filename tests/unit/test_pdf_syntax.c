/*
 * test_pdf_syntax.c — unit tests of pdf_syntax.h: the token reader that
 * looks at a PDF's objects before qpdf opens it (literal strings with
 * escapes and octal, hex strings, names with #xx, numbers, keywords,
 * comments, nested arrays and dictionaries, references), on hostile input
 * (unterminated, nested too deep, long names, huge numbers, many keys,
 * random bytes: never a byte read past the end); the names written for
 * PDF files, read back by qpdf and by the reader; and a dictionary's keys
 * copied out of qpdf.  Each input lies in a buffer of its exact size, so
 * that AddressSanitizer sees any read past its end.  The whole-file case
 * reads every dictionary of a PDF written by qpdf and must find the keys
 * qpdf finds.
 * Runs in the test process.  Standards: ISO 32000-1 §7.2, §7.3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_syntax.h"

/* A reader over a copy of s in a buffer of exactly its length (no NUL):
 * free l->p's buffer with lex_free(). */
static uint8_t *lex_buf;

static void lex_on(struct pdf_lex *l, const void *s, size_t n)
{
	free(lex_buf);
	lex_buf = xmalloc(n ? n : 1);
	memcpy(lex_buf, s, n);
	l->p = lex_buf;
	l->end = lex_buf + n;
}

static void lex_str(struct pdf_lex *l, const char *s)
{
	lex_on(l, s, strlen(s));
}

static int teardown_lex(void **state)
{
	(void)state;
	free(lex_buf);
	lex_buf = NULL;
	return 0;
}

static void expect_tok(struct pdf_lex *l, enum pdf_tok t)
{
	struct pdf_token k;
	pdf_syntax_next(l, &k);
	if (k.t != t)
		fail_msg("token %d (\"%s\"), expected %d, at offset %td", (int)k.t, k.name, (int)t,
			 l->p - lex_buf);
}

static void expect_name(struct pdf_lex *l, const char *name)
{
	struct pdf_token k;
	pdf_syntax_next(l, &k);
	assert_int_equal(k.t, PDF_TOK_NAME);
	assert_string_equal(k.name, name);
}

static void expect_num(struct pdf_lex *l, long long v)
{
	struct pdf_token k;
	pdf_syntax_next(l, &k);
	assert_int_equal(k.t, PDF_TOK_NUM);
	assert_true(k.num == v);
}

static void expect_kw(struct pdf_lex *l, const char *kw)
{
	struct pdf_token k;
	pdf_syntax_next(l, &k);
	assert_int_equal(k.t, PDF_TOK_KW);
	assert_string_equal(k.name, kw);
}

/* ---- literal and hex strings -------------------------------------- */

static void test_literal_strings(void **state)
{
	struct pdf_lex l;
	(void)state;

	/* §7.3.4.2: balanced parentheses need no escape, \) and \( do not
	 * count, \051 (an octal ')') is text, \\ is a backslash. */
	lex_str(&l, "(a\\)b(c)d\\051e\\\\) /Next");
	expect_tok(&l, PDF_TOK_STR);
	expect_name(&l, "/Next");
	expect_tok(&l, PDF_TOK_EOF);

	lex_str(&l, "(\\\\)/X");
	expect_tok(&l, PDF_TOK_STR);
	expect_name(&l, "/X");

	/* A line break escaped inside, an octal escape of three digits,
	 * delimiters and '%' in a string are text. */
	lex_str(&l, "(line one\\\nline two \\0533 [ ] << >> /NotAName %not a comment) 7");
	expect_tok(&l, PDF_TOK_STR);
	expect_num(&l, 7);
	expect_tok(&l, PDF_TOK_EOF);

	/* Empty strings, one after the other. */
	lex_str(&l, "()()(())");
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_EOF);
}

static void test_hex_strings(void **state)
{
	struct pdf_lex l;
	(void)state;

	lex_str(&l, "<48656C6C6F> <</A 1>>");
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_DOPEN);
	expect_name(&l, "/A");
	expect_num(&l, 1);
	expect_tok(&l, PDF_TOK_DCLOSE);
	expect_tok(&l, PDF_TOK_EOF);

	/* White space inside, an odd digit count, an empty one. */
	lex_str(&l, "<48 65\n6C 6>< >[<>]");
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_AOPEN);
	expect_tok(&l, PDF_TOK_STR);
	expect_tok(&l, PDF_TOK_ACLOSE);
	expect_tok(&l, PDF_TOK_EOF);
}

static void test_unterminated(void **state)
{
	struct pdf_lex l;
	(void)state;

	/* Each runs to the end, and no further. */
	static const char *const cut[] = {
		"(never closed (nested) still open", "(abc\\", "\\", "(", "<4142", "<",
		"/Name#4", "/Name#", "% a comment without a line end", "123", "<<", ">",
	};
	for (size_t i = 0; i < ARRAY_SIZE(cut); i++) {
		struct pdf_token k;
		lex_str(&l, cut[i]);
		do {
			const uint8_t *before = l.p;
			pdf_syntax_next(&l, &k);
			assert_true(l.p >= before);
			if (l.p > l.end)
				fail_msg("\"%s\": the reader moved %td bytes past the end", cut[i],
					 l.p - l.end);
		} while (k.t != PDF_TOK_EOF);
		assert_ptr_equal(l.p, l.end);
		/* At the end, the end again. */
		pdf_syntax_next(&l, &k);
		assert_int_equal(k.t, PDF_TOK_EOF);
		assert_ptr_equal(l.p, l.end);
	}
}

/* ---- names ---------------------------------------------------------- */

static void test_names(void **state)
{
	struct pdf_lex l;
	char longname[200];
	(void)state;

	/* The examples of §7.3.5, Table 4. */
	lex_str(&l, "/Name1 /ASomewhatLongerName /A;Name_With-Various***Characters? /1.2 "
		    "/$$ /@pattern /.notdef /Lime#20Green /paired#28#29parentheses "
		    "/The_Key_of_F#23_Minor /A#42");
	expect_name(&l, "/Name1");
	expect_name(&l, "/ASomewhatLongerName");
	expect_name(&l, "/A;Name_With-Various***Characters?");
	expect_name(&l, "/1.2");
	expect_name(&l, "/$$");
	expect_name(&l, "/@pattern");
	expect_name(&l, "/.notdef");
	expect_name(&l, "/Lime Green");
	expect_name(&l, "/paired()parentheses");
	expect_name(&l, "/The_Key_of_F#_Minor");
	expect_name(&l, "/AB");
	expect_tok(&l, PDF_TOK_EOF);

	/* A name ends at a delimiter or white space; "/" alone is the
	 * empty name; a # not followed by two hex digits is kept. */
	lex_str(&l, "/Type/Page/[/ ]/A#4G/Z#/e#c3#a9");
	expect_name(&l, "/Type");
	expect_name(&l, "/Page");
	expect_name(&l, "/");
	expect_tok(&l, PDF_TOK_AOPEN);
	expect_name(&l, "/");
	expect_tok(&l, PDF_TOK_ACLOSE);
	expect_name(&l, "/A#4G");
	expect_name(&l, "/Z#");
	expect_name(&l, "/e\xc3\xa9");

	/* A long name is cut to what the token holds, and read to its end. */
	longname[0] = '/';
	memset(longname + 1, 'N', 150);
	memcpy(longname + 151, " /After", 8);
	lex_str(&l, longname);
	{
		struct pdf_token k;
		pdf_syntax_next(&l, &k);
		assert_int_equal(k.t, PDF_TOK_NAME);
		assert_int_equal(strlen(k.name), sizeof k.name - 1);
		assert_int_equal(k.name[0], '/');
		assert_int_equal(k.name[sizeof k.name - 2], 'N');
	}
	expect_name(&l, "/After");
}

/* ---- numbers, keywords, comments ------------------------------------ */

static void test_numbers(void **state)
{
	struct pdf_lex l;
	struct pdf_token k;
	(void)state;

	/* §7.3.3's integers. */
	lex_str(&l, "123 43445 +17 -98 0 007");
	expect_num(&l, 123);
	expect_num(&l, 43445);
	expect_num(&l, 17);
	expect_num(&l, -98);
	expect_num(&l, 0);
	expect_num(&l, 7);
	expect_tok(&l, PDF_TOK_EOF);

	/* Its real numbers are not integers: the caller sees a keyword with
	 * the text as written. */
	lex_str(&l, "34.5 -3.62 +123.6 4. -.002 0.0");
	expect_kw(&l, "34.5");
	expect_kw(&l, "-3.62");
	expect_kw(&l, "+123.6");
	expect_kw(&l, "4.");
	expect_kw(&l, "-.002");
	expect_kw(&l, "0.0");

	/* A sign alone, two signs, digits with letters: not numbers. */
	lex_str(&l, "- +-5 12ab");
	expect_kw(&l, "-");
	expect_kw(&l, "+-5");
	expect_kw(&l, "12ab");

	/* A huge number does not overflow: digits after the 13th are not
	 * counted, the sign is kept. */
	lex_str(&l, "99999999999999999999999999999999999999 -123456789012345678901234567890");
	pdf_syntax_next(&l, &k);
	assert_int_equal(k.t, PDF_TOK_NUM);
	assert_true(k.num == 9999999999999LL);
	pdf_syntax_next(&l, &k);
	assert_int_equal(k.t, PDF_TOK_NUM);
	assert_true(k.num == -1234567890123LL);

	/* A number ends at a delimiter. */
	lex_str(&l, "[1 2]<</N 3>>");
	expect_tok(&l, PDF_TOK_AOPEN);
	expect_num(&l, 1);
	expect_num(&l, 2);
	expect_tok(&l, PDF_TOK_ACLOSE);
	expect_tok(&l, PDF_TOK_DOPEN);
	expect_name(&l, "/N");
	expect_num(&l, 3);
	expect_tok(&l, PDF_TOK_DCLOSE);
}

static void test_keywords_and_comments(void **state)
{
	struct pdf_lex l;
	(void)state;

	lex_str(&l, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\r\n12 0 obj % the object\r<< /Type /ObjStm "
		    "/N 3 /First 14 /Length 42 /Filter /FlateDecode >>\nstream\r\n");
	expect_num(&l, 12);
	expect_num(&l, 0);
	expect_kw(&l, "obj");
	expect_tok(&l, PDF_TOK_DOPEN);
	expect_name(&l, "/Type");
	expect_name(&l, "/ObjStm");
	expect_name(&l, "/N");
	expect_num(&l, 3);
	expect_name(&l, "/First");
	expect_num(&l, 14);
	expect_name(&l, "/Length");
	expect_num(&l, 42);
	expect_name(&l, "/Filter");
	expect_name(&l, "/FlateDecode");
	expect_tok(&l, PDF_TOK_DCLOSE);
	expect_kw(&l, "stream");
	/* The reader stops right after the keyword: the caller takes the
	 * line end before the data. */
	assert_int_equal(l.end - l.p, 2);

	/* true, false, null; every white-space character of §7.2.2 (NUL
	 * too) separates; a stray brace or ')' is a keyword of its own. */
	lex_on(&l, "true\tfalse\fnull\0R ) { }", 23);
	expect_kw(&l, "true");
	expect_kw(&l, "false");
	expect_kw(&l, "null");
	expect_kw(&l, "R");
	expect_kw(&l, "");
	expect_kw(&l, "");
	expect_kw(&l, "");
	expect_tok(&l, PDF_TOK_EOF);
}

/* ---- values, arrays and dictionaries -------------------------------- */

static void test_values(void **state)
{
	struct pdf_lex l;
	struct pdf_token t;
	(void)state;

	/* An integer then "G R" is a reference; the reader is past the R. */
	lex_str(&l, "/Length 5 0 R /N 3 /W [1 2 1] /Type /XRef /ID (x) /F 1.5 /Z 7 0 Rx");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_NAME);
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_REF);
	assert_true(t.num == 5);
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_NAME);
	/* An integer not followed by "G R": the reader is right after it. */
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_INT);
	assert_true(t.num == 3);
	expect_name(&l, "/W");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_ARRAY);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), 0);
	expect_name(&l, "/Type");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_NAME);
	assert_string_equal(t.name, "/XRef");
	expect_name(&l, "/ID");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_OTHER);
	expect_name(&l, "/F");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_OTHER);
	expect_name(&l, "/Z");
	/* "Rx" is not R: 7 is an integer, and 0 comes next. */
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_INT);
	assert_true(t.num == 7);
	expect_num(&l, 0);
	expect_kw(&l, "Rx");
	/* The end, or a closing bracket, is no value. */
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_BAD);
	lex_str(&l, "]");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_BAD);
	lex_str(&l, ">>");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_BAD);
	lex_str(&l, "<< /A 1 >>");
	assert_int_equal(pdf_syntax_value(&l, &t), PDF_VAL_DICT);
	expect_name(&l, "/A");
}

static void test_nesting(void **state)
{
	struct pdf_lex l;
	GString *s;
	(void)state;

	/* Arrays and dictionaries in each other, with strings holding
	 * brackets: the skip stops after the matching bracket. */
	lex_str(&l, "[1 [2 [3 (])] <</A [4 <</B (>>)>>] /C <5d>>>] (x)] /After");
	expect_tok(&l, PDF_TOK_AOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), 0);
	expect_name(&l, "/After");

	lex_str(&l, "<< /Kids [1 0 R 2 0 R] /Res << /Font << /F1 3 0 R >> >> >> endobj");
	expect_tok(&l, PDF_TOK_DOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_DCLOSE, 1), 0);
	expect_kw(&l, "endobj");

	/* Closed with the other bracket, or not at all: refused. */
	lex_str(&l, "[1 2 >> ]");
	expect_tok(&l, PDF_TOK_AOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), -1);
	lex_str(&l, "<< /A [1 2 >>");
	expect_tok(&l, PDF_TOK_DOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_DCLOSE, 1), -1);
	lex_str(&l, "[1 [2 [3");
	expect_tok(&l, PDF_TOK_AOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), -1);
	assert_ptr_equal(l.p, l.end);

	/* PDF_SYNTAX_DEPTH levels are followed, one more is refused. */
	for (int extra = 0; extra <= 1; extra++) {
		int n = PDF_SYNTAX_DEPTH + extra;
		s = g_string_new("");
		for (int i = 0; i < n; i++)
			g_string_append(s, i % 2 ? "<< /K " : "[ ");
		for (int i = n - 1; i >= 0; i--)
			g_string_append(s, i % 2 ? ">> " : "] ");
		g_string_append(s, "/After");
		lex_on(&l, s->str, s->len);
		expect_tok(&l, PDF_TOK_AOPEN);
		assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), extra ? -1 : 0);
		if (!extra)
			expect_name(&l, "/After");
		g_string_free(s, TRUE);
	}
}

static void test_hostile_sizes(void **state)
{
	struct pdf_lex l;
	GString *s = g_string_new("[");
	(void)state;

	/* 200,000 opening brackets: refused at the depth limit, without
	 * going down 200,000 calls. */
	for (int i = 0; i < 200000; i++)
		g_string_append_c(s, '[');
	lex_on(&l, s->str, s->len);
	expect_tok(&l, PDF_TOK_AOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), -1);
	assert_true(l.p - lex_buf <= PDF_SYNTAX_DEPTH + 2);

	/* A dictionary of 100,000 keys is one value. */
	g_string_assign(s, "<<");
	for (int i = 0; i < 100000; i++)
		g_string_append_printf(s, "/K%d %d ", i, i);
	g_string_append(s, ">> /After");
	lex_on(&l, s->str, s->len);
	expect_tok(&l, PDF_TOK_DOPEN);
	assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_DCLOSE, 1), 0);
	expect_name(&l, "/After");

	/* A megabyte of comments and white space, then a token. */
	g_string_truncate(s, 0);
	for (int i = 0; i < 40000; i++)
		g_string_append(s, "% comment line\r\n \t");
	g_string_append(s, "/Found");
	lex_on(&l, s->str, s->len);
	expect_name(&l, "/Found");
	g_string_free(s, TRUE);
}

/* Random bytes, PDF's own characters made frequent: every call moves
 * forward, never past the end, and the end comes. */
static void test_random_bytes(void **state)
{
	static const char alpha[] = "()<>[]{}/%#\\ \n\r0123456789+-.RGobj";
	GRand *rnd = g_rand_new_with_seed(20260901);
	(void)state;

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)g_rand_int_range(rnd, 0, 300);
		uint8_t *b = xmalloc(n ? n : 1);
		struct pdf_lex l;
		struct pdf_token t;
		size_t calls = 0;

		for (size_t i = 0; i < n; i++)
			b[i] = g_rand_boolean(rnd) ? (uint8_t)alpha[g_rand_int_range(rnd, 0,
							(gint32)sizeof alpha - 1)]
						   : (uint8_t)g_rand_int_range(rnd, 0, 256);
		lex_on(&l, b, n);
		free(b);
		do {
			const uint8_t *before = l.p;
			pdf_syntax_next(&l, &t);
			assert_true(l.p <= l.end);
			assert_true(t.t == PDF_TOK_EOF || l.p > before);
			assert_true(strlen(t.name) < sizeof t.name);
			assert_true(++calls <= n + 1);
		} while (t.t != PDF_TOK_EOF);
		/* The same bytes as values, with skips: also bounded. */
		l.p = lex_buf;
		for (calls = 0; l.p < l.end && calls <= n; calls++) {
			enum pdf_val v = pdf_syntax_value(&l, &t);
			if (v == PDF_VAL_ARRAY || v == PDF_VAL_DICT)
				(void)pdf_syntax_skip(&l, v == PDF_VAL_DICT ? PDF_TOK_DCLOSE
									    : PDF_TOK_ACLOSE, 1);
			assert_true(l.p <= l.end);
			if (v == PDF_VAL_BAD && t.t == PDF_TOK_EOF)
				break;
		}
		assert_true(calls <= n);
	}
	g_rand_free(rnd);
}

/* ---- names written, dictionary keys --------------------------------- */

/* Parse text with qpdf (an empty PDF's handle). */
static qpdf_oh qparse(qpdf_data q, const char *text)
{
	qpdf_oh o = qpdf_oh_parse(q, text);
	assert_false(qpdf_more_warnings(q));
	assert_false(qpdf_has_error(q));
	return o;
}

static void test_put_name(void **state)
{
	/* Names as qpdf gives them (decoded), each with what must be
	 * written: PDF's delimiters, '#', white space and bytes outside
	 * 0x21-0x7e as #xx. */
	static const struct { const char *name, *written; } cases[] = {
		{ "/Type", "/Type" },
		{ "/Lime Green", "/Lime#20Green" },
		{ "/paired()parentheses", "/paired#28#29parentheses" },
		{ "/The_Key_of_F#_Minor", "/The_Key_of_F#23_Minor" },
		{ "/a/b%c<d>e[f]g{h}", "/a#2Fb#25c#3Cd#3Ee#5Bf#5Dg#7Bh#7D" },
		{ "/tab\there\nnl", "/tab#09here#0Anl" },
		{ "/\xe5\xae\x9b\xe5\x90\x8d", "/#E5#AE#9B#E5#90#8D" },
		{ "/\x7f~!", "/#7F~!" },
		{ "/", "/" },
	};
	qpdf_data q = qpdf_init();
	(void)state;

	qpdf_silence_errors(q);
	assert_int_equal(qpdf_empty_pdf(q) & QPDF_ERRORS, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf b;
		struct pdf_lex l;
		struct pdf_token t;
		qpdf_oh o;
		char *text;

		buf_init(&b, 1024);
		assert_int_equal(pdf_put_name(&b, cases[i].name), 0);
		assert_int_equal(b.len, strlen(cases[i].written));
		assert_memory_equal(b.data, cases[i].written, b.len);
		/* qpdf reads back the name given ... */
		if (cases[i].name[1] != '\0') {
			text = g_strndup((const char *)b.data, b.len);
			o = qparse(q, text);
			assert_true(qpdf_oh_is_name(q, o));
			assert_string_equal(qpdf_oh_get_name(q, o), cases[i].name);
			g_free(text);
		}
		/* ... and so does our reader. */
		lex_on(&l, b.data, b.len);
		pdf_syntax_next(&l, &t);
		assert_int_equal(t.t, PDF_TOK_NAME);
		assert_string_equal(t.name, cases[i].name);
		buf_free(&b);
	}
	/* Every byte but NUL, one name each: qpdf gets the byte back. */
	for (int c = 1; c < 256; c++) {
		char name[3] = { '/', (char)c, '\0' };
		struct buf b;
		char *text;

		buf_init(&b, 64);
		assert_int_equal(pdf_put_name(&b, name), 0);
		text = g_strndup((const char *)b.data, b.len);
		assert_string_equal(qpdf_oh_get_name(q, qparse(q, text)), name);
		g_free(text);
		buf_free(&b);
	}
	qpdf_cleanup(&q);
}

static void test_put_name_cap(void **state)
{
	struct buf b;
	(void)state;

	/* "/A#20B" is 6 bytes: a cap of 5 is reached, a cap of 6 is not. */
	buf_init(&b, 5);
	assert_int_equal(pdf_put_name(&b, "/A B"), -1);
	assert_true(b.len <= 5);
	buf_free(&b);
	buf_init(&b, 6);
	assert_int_equal(pdf_put_name(&b, "/A B"), 0);
	assert_memory_equal(b.data, "/A#20B", 6);
	buf_free(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_dict_keys(void **state)
{
	qpdf_data q = qpdf_init();
	GString *big = g_string_new("<<");
	char **keys;
	size_t n;
	(void)state;

	qpdf_silence_errors(q);
	assert_int_equal(qpdf_empty_pdf(q) & QPDF_ERRORS, 0);
	keys = pdf_dict_keys(q, qparse(q, "<< /Type /Page /B#20C 2 /Res << /Font << /F1 1 >> >> "
					  "/S (a\\)b) /Z null >>"), &n);
	/* qpdf drops a key whose value is null (§7.3.7); the nested
	 * dictionary's keys are not the outer one's. */
	assert_int_equal(n, 4);
	qsort(keys, n, sizeof *keys, cmp_str);
	assert_string_equal(keys[0], "/B C");
	assert_string_equal(keys[1], "/Res");
	assert_string_equal(keys[2], "/S");
	assert_string_equal(keys[3], "/Type");
	/* The copies outlive qpdf's strings. */
	{
		size_t n2;
		char **other = pdf_dict_keys(q, qparse(q, "<< /Other 1 >>"), &n2);
		assert_int_equal(n2, 1);
		assert_string_equal(other[0], "/Other");
		pdf_keys_free(other, n2);
	}
	assert_string_equal(keys[0], "/B C");
	pdf_keys_free(keys, 4);

	keys = pdf_dict_keys(q, qparse(q, "<< >>"), &n);
	assert_int_equal(n, 0);
	pdf_keys_free(keys, n);

	for (int i = 0; i < 10000; i++)
		g_string_append_printf(big, " /K%05d %d", i, i);
	g_string_append(big, " >>");
	keys = pdf_dict_keys(q, qparse(q, big->str), &n);
	assert_int_equal(n, 10000);
	qsort(keys, n, sizeof *keys, cmp_str);
	assert_string_equal(keys[0], "/K00000");
	assert_string_equal(keys[9999], "/K09999");
	pdf_keys_free(keys, n);
	g_string_free(big, TRUE);
	qpdf_cleanup(&q);
}

/* ---- a whole file written by qpdf ----------------------------------- */

/* A PDF written by qpdf without object streams, its dictionaries holding
 * names that need #xx, strings with brackets and escapes, binary
 * strings, nested arrays and dictionaries, references. */
static uint8_t *qpdf_file(size_t *len)
{
	qpdf_data q = qpdf_init();
	qpdf_oh page, extra, bin;
	static const unsigned char binary[] = { 0, 0xff, '(', ')', '>', 0x80, '\\' };
	uint8_t *out;

	qpdf_silence_errors(q);
	assert_int_equal(qpdf_empty_pdf(q) & QPDF_ERRORS, 0);
	extra = qpdf_make_indirect_object(q, qparse(q,
		"<< /Lime#20Green [1 [2 [3 << /Deep (]\\)>>) >>]]] /paired#28#29 (a\\)b(c)\\051) "
		"/Tab#09Key 3.25 /Neg -17 /Bool true /Empty () /E#C3#A9 /N#23 >>"));
	bin = qpdf_oh_new_binary_string(q, (const char *)binary, sizeof binary);
	qpdf_oh_replace_key(q, extra, "/Bin", bin);
	page = qparse(q, "<< /Type /Page /MediaBox [0 0 595 842] /Resources << >> >>");
	qpdf_oh_replace_key(q, page, "/Extra", extra);
	page = qpdf_make_indirect_object(q, page);
	assert_int_equal(qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS, 0);
	assert_int_equal(qpdf_init_write_memory(q) & QPDF_ERRORS, 0);
	qpdf_set_object_stream_mode(q, qpdf_o_disable);
	qpdf_set_static_ID(q, QPDF_TRUE);
	assert_int_equal(qpdf_write(q) & QPDF_ERRORS, 0);
	*len = qpdf_get_buffer_length(q);
	out = xmalloc(*len);
	memcpy(out, qpdf_get_buffer(q), *len);
	qpdf_cleanup(&q);
	return out;
}

static void test_whole_file(void **state)
{
	size_t len, checked = 0;
	uint8_t *pdf = qpdf_file(&len);
	qpdf_data q = qpdf_init();
	int found_extra = 0;
	(void)state;

	qpdf_silence_errors(q);
	assert_int_equal(qpdf_read_memory(q, "t", (const char *)pdf, len, NULL) & QPDF_ERRORS, 0);
	/* Every "N 0 obj" of the file: read its value with the token
	 * reader; a dictionary's keys must be those qpdf finds. */
	for (size_t at = 0; at + 5 < len; at++) {
		struct pdf_lex l;
		struct pdf_token t;
		GPtrArray *ours;
		char **theirs;
		size_t n;
		long long num;
		qpdf_oh o;

		if ((at > 0 && pdf[at - 1] != '\n') || pdf[at] < '1' || pdf[at] > '9')
			continue;
		lex_on(&l, pdf + at, len - at);
		pdf_syntax_next(&l, &t);
		if (t.t != PDF_TOK_NUM)
			continue;
		num = t.num;
		pdf_syntax_next(&l, &t);
		if (t.t != PDF_TOK_NUM || t.num != 0)
			continue;
		pdf_syntax_next(&l, &t);
		if (t.t != PDF_TOK_KW || strcmp(t.name, "obj") != 0)
			continue;
		o = qpdf_get_object_by_id(q, (int)num, 0);
		if (qpdf_oh_is_stream(q, o))
			o = qpdf_oh_get_dict(q, o);
		if (pdf_syntax_value(&l, &t) != PDF_VAL_DICT) {
			assert_false(qpdf_oh_is_dictionary(q, o));
			continue;
		}
		assert_true(qpdf_oh_is_dictionary(q, o));
		ours = g_ptr_array_new_with_free_func(g_free);
		for (;;) {
			enum pdf_val v;
			pdf_syntax_next(&l, &t);
			if (t.t == PDF_TOK_DCLOSE)
				break;
			assert_int_equal(t.t, PDF_TOK_NAME);
			g_ptr_array_add(ours, g_strdup(t.name));
			v = pdf_syntax_value(&l, &t);
			assert_int_not_equal(v, PDF_VAL_BAD);
			if (v == PDF_VAL_ARRAY)
				assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_ACLOSE, 1), 0);
			else if (v == PDF_VAL_DICT)
				assert_int_equal(pdf_syntax_skip(&l, PDF_TOK_DCLOSE, 1), 0);
		}
		theirs = pdf_dict_keys(q, o, &n);
		assert_int_equal(ours->len, n);
		g_ptr_array_sort(ours, cmp_str);
		qsort(theirs, n, sizeof *theirs, cmp_str);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(g_ptr_array_index(ours, i), theirs[i]);
		for (size_t i = 0; i < n; i++)
			found_extra |= strcmp(theirs[i], "/paired()") == 0;
		pdf_keys_free(theirs, n);
		g_ptr_array_free(ours, TRUE);
		checked++;
	}
	/* The catalog, the page tree, the page, the extra dictionary. */
	assert_true(checked >= 4);
	assert_true(found_extra);
	qpdf_cleanup(&q);
	free(pdf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_literal_strings, teardown_lex),
		cmocka_unit_test_teardown(test_hex_strings, teardown_lex),
		cmocka_unit_test_teardown(test_unterminated, teardown_lex),
		cmocka_unit_test_teardown(test_names, teardown_lex),
		cmocka_unit_test_teardown(test_numbers, teardown_lex),
		cmocka_unit_test_teardown(test_keywords_and_comments, teardown_lex),
		cmocka_unit_test_teardown(test_values, teardown_lex),
		cmocka_unit_test_teardown(test_nesting, teardown_lex),
		cmocka_unit_test_teardown(test_hostile_sizes, teardown_lex),
		cmocka_unit_test_teardown(test_random_bytes, teardown_lex),
		cmocka_unit_test_teardown(test_put_name, teardown_lex),
		cmocka_unit_test(test_put_name_cap),
		cmocka_unit_test(test_dict_keys),
		cmocka_unit_test_teardown(test_whole_file, teardown_lex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
