/*
 * test_pdf_lex.c — unit tests of the text reader's tokenizer
 * (pdf/pdf_lex.h): a content stream as cairo writes it, literal strings
 * (escapes, octal, nesting, line continuations, end-of-line forms), hex
 * strings (white space, odd digit counts, junk), names (#xx escapes, the
 * kept length), numbers and what is not one, comments, dictionaries and
 * stray delimiters, inline images skipped to their real EI, data that
 * ends inside a token, and the cap on decoded bytes.
 * Runs in the test process.  Standards: ISO 32000-1 §7.2, §7.3.3-§7.3.5,
 * §8.9.7.
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
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_lex.h"

static void put_bytes(GString *o, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x21 && p[i] < 0x7F && p[i] != '\\')
			g_string_append_c(o, (char)p[i]);
		else
			g_string_append_printf(o, "\\x%02X", p[i]);
	}
}

/*
 * The tokens of text, one word each: numbers as %g, names as /name,
 * strings as (bytes), keywords as themselves, brackets as [ ] << >>;
 * bytes outside printable ASCII as \xHH.  After the keyword ID, the
 * inline image's data is skipped, as the interpreter does.
 */
static char *tokens(const char *text, size_t len)
{
	struct buf scratch;
	struct pdf_lex l;
	struct pdf_token t;
	GString *o = g_string_new("");

	buf_init(&scratch, (size_t)1 << 20);
	pdf_lex_init(&l, (const uint8_t *)text, len, &scratch);
	for (;;) {
		pdf_lex_next(&l, &t);
		if (t.t == TOK_EOF)
			break;
		if (o->len > 0)
			g_string_append_c(o, ' ');
		switch (t.t) {
		case TOK_NUM: g_string_append_printf(o, "%g", t.num); break;
		case TOK_NAME:
			g_string_append_c(o, '/');
			put_bytes(o, scratch.data + t.off, t.len);
			break;
		case TOK_STR:
			g_string_append_c(o, '(');
			put_bytes(o, scratch.data + t.off, t.len);
			g_string_append_c(o, ')');
			break;
		case TOK_AOPEN: g_string_append(o, "["); break;
		case TOK_ACLOSE: g_string_append(o, "]"); break;
		case TOK_DOPEN: g_string_append(o, "<<"); break;
		case TOK_DCLOSE: g_string_append(o, ">>"); break;
		case TOK_KW:
			g_string_append(o, "KW:");
			put_bytes(o, t.kw, t.kwlen);
			if (pdf_lex_kw_is(&t, "ID"))
				pdf_lex_skip_inline_image(&l);
			break;
		default: fail(); break;
		}
	}
	assert_int_equal(l.overflow, 0);
	/* EOF stays EOF. */
	pdf_lex_next(&l, &t);
	assert_int_equal(t.t, TOK_EOF);
	buf_free(&scratch);
	return g_string_free(o, FALSE);
}

static const struct {
	const char *in;
	const char *want;
} cases[] = {
	/* cairo's content stream for a line of text */
	{ "q\n1 0 0 1 0 842 cm\nBT\n/f-0-0 1 Tf\n10.5 0 0 -10.5 56.69 70.87 Tm\n"
	  "[<0001><0002>-300.5<0003>]TJ\nET\nQ\n",
	  "KW:q 1 0 0 1 0 842 KW:cm KW:BT /f-0-0 1 KW:Tf 10.5 0 0 -10.5 56.69 70.87 KW:Tm "
	  "[ (\\x00\\x01) (\\x00\\x02) -300.5 (\\x00\\x03) ] KW:TJ KW:ET KW:Q" },
	{ "(Hello)Tj(a)' 0 0(b)\"", "(Hello) KW:Tj (a) KW:' 0 0 (b) KW:\"" },
	/* literal strings (§7.3.4.2) */
	{ "(a\\nb\\r\\t\\b\\f) (a(b)c) (\\(\\)\\\\)", "(a\\x0Ab\\x0D\\x09\\x08\\x0C) (a(b)c) (()\\x5C)" },
	{ "(\\101\\1012) (\\0053) (\\777) (\\q) (\\8)", "(AA2) (\\x053) (\\xFF) (q) (8)" },
	{ "(line\\\ncont) (cr\\\r\nlf) (a\r\nb) (a\rb) (a\nb)",
	  "(linecont) (crlf) (a\\x0Ab) (a\\x0Ab) (a\\x0Ab)" },
	{ "()", "()" },
	/* hex strings (§7.3.4.3) */
	{ "<41 42\n43> <414> <4g1> <> <6a6A>", "(ABC) (A@) (A) () (jj)" },
	/* names (§7.3.5) */
	{ "/Name /A#42 /#zz /a#4 /a/b / /F1.0 /\xE5\x90\x8D",
	  "/Name /AB /#zz /a#4 /a /b / /F1.0 /\\xE5\\x90\\x8D" },
	/* numbers (§7.3.3), and what only looks like one */
	{ "1 -2 +3 .5 -.5 4. 0.25 -0", "1 -2 3 0.5 -0.5 4 0.25 -0" },
	{ "1e5 --1 1.2.3 . - + 12a", "KW:1e5 KW:--1 KW:1.2.3 KW:. KW:- KW:+ KW:12a" },
	/* white space (NUL too) and comments (§7.2.2, §7.2.4) */
	{ "\x00\t\n\f\r 1%c ) ( [ <\n2%x\r3 %end", "1 2 3" },
	/* dictionaries, arrays, stray delimiters */
	{ "<< /K [1 [2] (x)] >> ] ) { } >", "<< /K [ 1 [ 2 ] (x) ] >> ] KW:) KW:{ KW:} KW:>" },
	/* inline images (§8.9.7): the data up to white space, EI, white space */
	{ "BI /W 4 /H 1 /BPC 8 /CS /G ID \x01\x02" "EI\x03 EI Q",
	  "KW:BI /W 4 /H 1 /BPC 8 /CS /G KW:ID KW:Q" },
	{ "BI ID EI", "KW:BI KW:ID" },
	{ "BI ID \x02\x03 EI/X Do", "KW:BI KW:ID /X KW:Do" },
	{ "BI ID xyzEI", "KW:BI KW:ID" },
	/* data ending inside a token */
	{ "(abc", "(abc)" },
	{ "(abc\\", "(abc)" },
	{ "<41", "(A)" },
	{ "[ 1", "[ 1" },
	{ "/", "/" },
	{ "<", "()" },
};

static void test_tokens(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* The first byte may be NUL: lengths come from the literal. */
		size_t len = cases[i].in[0] == '\0' ? strlen(cases[i].in + 1) + 1 : strlen(cases[i].in);
		char *got = tokens(cases[i].in, len);
		if (strcmp(got, cases[i].want) != 0)
			print_error("case %zu: got   %s\n         want  %s\n", i, got, cases[i].want);
		assert_string_equal(got, cases[i].want);
		g_free(got);
	}
}

/* Names keep PDF_LEX_NAME_MAX bytes; the rest of the name is read, not
 * kept, and the next token is right. */
static void test_long_name(void **state)
{
	GString *in = g_string_new("/");
	char *got;
	GString *want = g_string_new("/");

	(void)state;
	for (int i = 0; i < 1000; i++)
		g_string_append_c(in, 'a');
	g_string_append(in, " 7 Tf");
	for (int i = 0; i < PDF_LEX_NAME_MAX; i++)
		g_string_append_c(want, 'a');
	g_string_append(want, " 7 KW:Tf");
	got = tokens(in->str, in->len);
	assert_string_equal(got, want->str);
	g_free(got);
	g_string_free(in, TRUE);
	g_string_free(want, TRUE);
}

/* Decoded bytes stop at the scratch buffer's cap, which the lexer reports,
 * whatever room the buffer happens to have allocated. */
static void test_cap(void **state)
{
	static const char in[] = "(0123456789) <41424344454647484950> /abcdefghij 5 Tj";
	struct buf scratch;
	struct pdf_lex l;
	struct pdf_token t;

	(void)state;
	buf_init(&scratch, 8);
	pdf_lex_init(&l, (const uint8_t *)in, sizeof in - 1, &scratch);
	pdf_lex_next(&l, &t);
	assert_int_equal(t.t, TOK_STR);
	assert_int_equal(t.len, 8);
	assert_memory_equal(scratch.data + t.off, "01234567", 8);
	assert_int_equal(l.overflow, 1);
	assert_true(scratch.len <= 8);
	pdf_lex_next(&l, &t);
	assert_int_equal(t.t, TOK_STR);
	assert_int_equal(t.len, 0);
	pdf_lex_next(&l, &t);
	assert_int_equal(t.t, TOK_NAME);
	assert_true(scratch.len <= 8);
	/* The tokens after still come out whole. */
	pdf_lex_next(&l, &t);
	assert_int_equal(t.t, TOK_NUM);
	assert_true(t.num == 5);
	pdf_lex_next(&l, &t);
	assert_true(pdf_lex_kw_is(&t, "Tj"));
	pdf_lex_next(&l, &t);
	assert_int_equal(t.t, TOK_EOF);

	/* After a reset the full cap is there again. */
	buf_reset(&scratch);
	l.overflow = 0;
	pdf_lex_init(&l, (const uint8_t *)"<4142434445464748>", 18, &scratch);
	pdf_lex_next(&l, &t);
	assert_int_equal(t.len, 8);
	assert_int_equal(l.overflow, 0);
	buf_free(&scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
