/*
 * test_pdf_cmap.c — unit tests of the text reader's CMap parser
 * (pdf/pdf_cmap.h): ToUnicode CMaps as cairo, Ghostscript and pdfTeX
 * write them (bfchar, bfrange with string and array destinations,
 * ligatures, surrogate pairs), codespace ranges of mixed one- and
 * two-byte encodings and what code lengths they give, four-byte codes,
 * and hostile CMaps: reversed and oversized ranges, codes longer than
 * four bytes, name destinations, sections left open, more codespace
 * ranges than kept, destinations longer than kept, strings past the
 * CMap cap, and the per-document budgets of entries and tables.
 * Runs in the test process.  Standards: ISO 32000-1 §9.7.5, §9.7.6.2,
 * §9.10.3; Adobe Technical Note #5014 (CMap syntax); UTF-16.
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
#include "lib/util.h"
#include "pdf/pdf_cmap.h"

/* The text code maps to, as UTF-8 ("" when unmapped), in out. */
static const char *text_of(const struct pdf_cmap *m, uint32_t code, char *out, size_t size)
{
	uint32_t v = pdf_cmap_get(m, code);
	const uint32_t *cps = &v;
	uint32_t n = v ? 1 : 0;
	size_t k = 0;

	if (v & PDF_CMAP_SEQ) {
		const uint32_t *s = pdf_cmap_seq(m, v);
		n = s[0];
		cps = s + 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		char u[8];
		int len = g_unichar_to_utf8(cps[i], u);
		assert_true(k + (size_t)len < size);
		memcpy(out + k, u, (size_t)len);
		k += (size_t)len;
	}
	out[k] = '\0';
	return out;
}

static struct pdf_cmap *parse(const char *text, int want_rc)
{
	struct pdf_cmap_budget bud = { 0, 0 };
	struct pdf_cmap *m = NULL;

	assert_int_equal(pdf_cmap_parse((const uint8_t *)text, strlen(text), &bud, &m), want_rc);
	assert_non_null(m);
	return m;
}

/* cairo's ToUnicode for a one-byte subset, word for word. */
static const char cairo_simple[] =
	"/CIDInit /ProcSet findresource begin\n"
	"12 dict begin\n"
	"begincmap\n"
	"/CIDSystemInfo\n"
	"<< /Registry (Adobe)\n"
	"   /Ordering (UCS)\n"
	"   /Supplement 0\n"
	">> def\n"
	"/CMapName /Adobe-Identity-UCS def\n"
	"/CMapType 2 def\n"
	"1 begincodespacerange\n"
	"<00> <ff>\n"
	"endcodespacerange\n"
	"5 beginbfchar\n"
	"<20> <0020>\n"
	"<30> <0030>\n"
	"<31> <0031>\n"
	"<2d> <002d>\n"
	"<52> <0052>\n"
	"endbfchar\n"
	"endcmap\n"
	"CMapName currentdict /CMap defineresource pop\n"
	"end\n"
	"end\n";

/* cairo's ToUnicode for an Identity-H CID subset (Japanese). */
static const char cairo_cid[] =
	"/CIDInit /ProcSet findresource begin\n"
	"12 dict begin\n"
	"begincmap\n"
	"/CIDSystemInfo\n"
	"<< /Registry (Adobe)\n"
	"   /Ordering (UCS)\n"
	"   /Supplement 0\n"
	">> def\n"
	"/CMapName /Adobe-Identity-UCS def\n"
	"/CMapType 2 def\n"
	"1 begincodespacerange\n"
	"<0000> <ffff>\n"
	"endcodespacerange\n"
	"4 beginbfchar\n"
	"<0001> <5b9b>\n"
	"<0002> <540d>\n"
	"<0008> <30fc>\n"
	"<006c> <ff08>\n"
	"endbfchar\n"
	"2 beginbfchar\n"
	"<0065> <7f72>\n"
	"<0066> <4ea4>\n"
	"endbfchar\n"
	"endcmap\n"
	"CMapName currentdict /CMap defineresource pop\n"
	"end\n"
	"end\n";

/* Ghostscript / pdfTeX style: bfrange with string and array destinations,
 * a ligature, a character outside the BMP, comments and odd spacing. */
static const char ranges[] =
	"%!PS-Adobe-3.0 Resource-CMap\n"
	"%%DocumentNeededResources: ProcSet (CIDInit)\n"
	"/CIDInit /ProcSet findresource begin\n"
	"12 dict begin begincmap\n"
	"/CMapName /F1-UTF16 def /CMapType 2 def\n"
	"1 begincodespacerange <0000><FFFF> endcodespacerange\n"
	"3 beginbfrange\n"
	"<0013> <001C> <0030>   % the digits\n"
	"<0024><003D><0041>\n"
	"<0100> <0103> [<00660066> <00660069> <006600660069> <D835DC00>]\n"
	"endbfrange\n"
	"2 beginbfchar\n"
	"<0003> <0020>\n"
	"<00ff> <D83DDE00>\n"
	"endbfchar\n"
	"endcmap CMapName currentdict /CMap defineresource pop end end\n";

static void test_real_cmaps(void **state)
{
	struct pdf_cmap *m;
	char s[64];

	(void)state;
	m = parse(cairo_simple, 0);
	assert_string_equal(text_of(m, 0x20, s, sizeof s), " ");
	assert_string_equal(text_of(m, 0x30, s, sizeof s), "0");
	assert_string_equal(text_of(m, 0x2d, s, sizeof s), "-");
	assert_string_equal(text_of(m, 0x52, s, sizeof s), "R");
	assert_string_equal(text_of(m, 0x41, s, sizeof s), "");
	assert_int_equal(m->ncs, 1);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x52\x20", 2), 1);
	pdf_cmap_free(m);

	m = parse(cairo_cid, 0);
	assert_string_equal(text_of(m, 0x0001, s, sizeof s), "宛");
	assert_string_equal(text_of(m, 0x0002, s, sizeof s), "名");
	assert_string_equal(text_of(m, 0x0008, s, sizeof s), "ー");
	assert_string_equal(text_of(m, 0x006c, s, sizeof s), "（");
	assert_string_equal(text_of(m, 0x0065, s, sizeof s), "署");
	assert_string_equal(text_of(m, 0x0066, s, sizeof s), "交");
	assert_string_equal(text_of(m, 0x0003, s, sizeof s), "");
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x00\x01", 2), 2);
	/* One byte left of a two-byte code: the code is cut. */
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x00", 1), 2);
	pdf_cmap_free(m);

	m = parse(ranges, 0);
	for (uint32_t c = 0x13; c <= 0x1C; c++) {
		char want[2] = { (char)('0' + (c - 0x13)), 0 };
		assert_string_equal(text_of(m, c, s, sizeof s), want);
	}
	assert_string_equal(text_of(m, 0x12, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x1D, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x24, s, sizeof s), "A");
	assert_string_equal(text_of(m, 0x3D, s, sizeof s), "Z");
	assert_string_equal(text_of(m, 0x100, s, sizeof s), "ff");
	assert_string_equal(text_of(m, 0x101, s, sizeof s), "fi");
	assert_string_equal(text_of(m, 0x102, s, sizeof s), "ffi");
	assert_string_equal(text_of(m, 0x103, s, sizeof s), "\xF0\x9D\x90\x80"); /* U+1D400 */
	assert_string_equal(text_of(m, 0x104, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x03, s, sizeof s), " ");
	assert_string_equal(text_of(m, 0xff, s, sizeof s), "\xF0\x9F\x98\x80"); /* U+1F600 */
	pdf_cmap_free(m);
}

/* A string destination counts up in its last code point; one-byte
 * destinations, lone surrogates and empty destinations. */
static void test_destinations(void **state)
{
	struct pdf_cmap *m;
	char s[64];

	(void)state;
	m = parse("beginbfrange <10> <12> <00410042> endbfrange\n"
		  "beginbfchar <20> <41> <21> <D800> <22> <> <23> <DC000041> endbfchar", 0);
	assert_string_equal(text_of(m, 0x10, s, sizeof s), "AB");
	assert_string_equal(text_of(m, 0x11, s, sizeof s), "AC");
	assert_string_equal(text_of(m, 0x12, s, sizeof s), "AD");
	assert_string_equal(text_of(m, 0x20, s, sizeof s), "A");
	assert_string_equal(text_of(m, 0x21, s, sizeof s), "\xEF\xBF\xBD");
	assert_string_equal(text_of(m, 0x22, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x23, s, sizeof s), "\xEF\xBF\xBD" "A");
	pdf_cmap_free(m);

	/* A destination longer than PDF_CMAP_SEQ_MAX code points is cut. */
	{
		GString *t = g_string_new("beginbfchar <0001> <");
		char want[PDF_CMAP_SEQ_MAX + 1];
		for (int i = 0; i < PDF_CMAP_SEQ_MAX + 8; i++)
			g_string_append(t, "0078");
		g_string_append(t, "> endbfchar");
		m = parse(t->str, 0);
		memset(want, 'x', PDF_CMAP_SEQ_MAX);
		want[PDF_CMAP_SEQ_MAX] = '\0';
		assert_string_equal(text_of(m, 1, s, sizeof s), want);
		pdf_cmap_free(m);
		g_string_free(t, TRUE);
	}
}

/* Codes of three and four bytes live apart from the two-byte tables and
 * are found whatever order they came in. */
static void test_long_codes(void **state)
{
	struct pdf_cmap *m;
	char s[64];

	(void)state;
	m = parse("1 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange\n"
		  "5 beginbfchar <00030000> <0043> <00010000> <0041> <FFFFFFFF> <0045>\n"
		  "<00020000> <0042> <00000041> <0044> endbfchar\n"
		  "beginbfrange <00123456> <00123458> [<0061> <0062> <0063>] endbfrange", 0);
	assert_string_equal(text_of(m, 0x00010000, s, sizeof s), "A");
	assert_string_equal(text_of(m, 0x00020000, s, sizeof s), "B");
	assert_string_equal(text_of(m, 0x00030000, s, sizeof s), "C");
	assert_string_equal(text_of(m, 0x00000041, s, sizeof s), "D");
	assert_string_equal(text_of(m, 0xFFFFFFFF, s, sizeof s), "E");
	assert_string_equal(text_of(m, 0x00123457, s, sizeof s), "b");
	assert_string_equal(text_of(m, 0x00123458, s, sizeof s), "c");
	assert_string_equal(text_of(m, 0x00123459, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x00015000, s, sizeof s), "");
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x00\x01\x00\x00", 4), 4);
	pdf_cmap_free(m);
}

/* Mixed one- and two-byte codes, as in Shift-JIS-like encodings: the
 * shortest matching range wins; with no match, the shortest range. */
static void test_codespace(void **state)
{
	struct pdf_cmap *m;

	(void)state;
	m = parse("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
		  "/CMapName /Test-H def\n"
		  "3 begincodespacerange\n"
		  "<00> <80>\n"
		  "<8140> <9FFC>\n"
		  "<A0> <DF>\n"
		  "endcodespacerange\n"
		  "endcmap CMapName currentdict /CMap defineresource pop end end", 0);
	assert_int_equal(m->ncs, 3);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"A", 1), 1);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x81\x40", 2), 2);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x9F\xFC" "A", 3), 2);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\xB0\x41", 2), 1);
	/* Matches no range: the shortest range's length. */
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\xE0\x41", 2), 1);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x81\x20", 2), 1);
	pdf_cmap_free(m);

	/* Ranges of unequal or impossible lengths are not codespace. */
	m = parse("begincodespacerange <00> <FFFF> <> <> <0000000000> <FFFFFFFFFF>\n"
		  "<8140> <9FFC> endcodespacerange", 0);
	assert_int_equal(m->ncs, 1);
	assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"\x81\x41", 2), 2);
	pdf_cmap_free(m);

	/* More ranges than kept: the first PDF_CMAP_CSR_MAX count. */
	{
		GString *t = g_string_new("begincodespacerange\n");
		for (int i = 0; i < PDF_CMAP_CSR_MAX + 36; i++)
			g_string_append_printf(t, "<%02X00> <%02XFF>\n", i, i);
		g_string_append(t, "endcodespacerange");
		m = parse(t->str, 0);
		assert_int_equal(m->ncs, PDF_CMAP_CSR_MAX);
		pdf_cmap_free(m);
		g_string_free(t, TRUE);
	}

	/* An empty CMap (an empty stream decodes to no bytes at all). */
	{
		struct pdf_cmap_budget bud = { 0, 0 };
		assert_int_equal(pdf_cmap_parse(NULL, 0, &bud, &m), 0);
		assert_int_equal(m->ncs, 0);
		assert_int_equal(pdf_cmap_get(m, 0), 0);
		assert_int_equal(pdf_cmap_get(m, 0x12345678), 0);
		assert_int_equal(pdf_cmap_code_len(m, (const uint8_t *)"AB", 2), 1);
		pdf_cmap_free(m);
	}
}

/* Entries that do not parse are skipped, and the entries after them
 * still count. */
static void test_malformed(void **state)
{
	struct pdf_cmap *m;
	char s[64];

	(void)state;
	m = parse("beginbfrange\n"
		  "<0050> <0040> <0041>\n"              /* reversed */
		  "<00000000> <00FFFFFF> <0041>\n"      /* 16M codes from one string */
		  "<0102030405> <0102030406> <0041>\n"  /* five-byte codes */
		  "<0060> <0062> <0061>\n"
		  "<0070> <0071> /space\n"              /* a name destination */
		  "<0080> <0081> <0031>\n"
		  "endbfrange\n"
		  "beginbfchar\n"
		  "<0102030405> <0041>\n"
		  "<0001> /A\n"
		  "<0002> <0032>\n"
		  "(\\000\\003) <0033>\n"               /* a literal string code */
		  "endbfchar\n", 0);
	assert_string_equal(text_of(m, 0x40, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x50, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x0, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x1000, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x0060, s, sizeof s), "a");
	assert_string_equal(text_of(m, 0x0062, s, sizeof s), "c");
	assert_string_equal(text_of(m, 0x0070, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x0081, s, sizeof s), "2");
	assert_string_equal(text_of(m, 0x0001, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x0002, s, sizeof s), "2");
	assert_string_equal(text_of(m, 0x0003, s, sizeof s), "3");
	pdf_cmap_free(m);

	/* An array destination longer than its range, a keyword inside
	 * the array (the section ends there), sections left open. */
	m = parse("beginbfrange <0001> <0002> [<0041> <0042> <0043>]\n"
		  "<0010> <0012> [<0061> endbfrange\n"
		  "beginbfchar <0020> <0078> <0021>", 0);
	assert_string_equal(text_of(m, 0x0001, s, sizeof s), "A");
	assert_string_equal(text_of(m, 0x0002, s, sizeof s), "B");
	assert_string_equal(text_of(m, 0x0003, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x0010, s, sizeof s), "a");
	assert_string_equal(text_of(m, 0x0011, s, sizeof s), "");
	assert_string_equal(text_of(m, 0x0020, s, sizeof s), "x");
	assert_string_equal(text_of(m, 0x0021, s, sizeof s), "");
	pdf_cmap_free(m);

	/* Empty codes first of all: nothing to map. */
	m = parse("begincodespacerange <> <> endcodespacerange beginbfchar <> <> <> <0041> endbfchar", 0);
	assert_int_equal(m->ncs, 0);
	assert_string_equal(text_of(m, 0, s, sizeof s), "");
	pdf_cmap_free(m);

	/* Garbage: no entries, no crash. */
	m = parse(")))<<>>[[[]]]{}beginbfchar ] ] >> <0001 beginbfrange [ [ <", 0);
	assert_string_equal(text_of(m, 0x0001, s, sizeof s), "");
	pdf_cmap_free(m);
}

/* The budgets every CMap of one document shares: once spent, the CMap
 * that asked for more is cut (-1) and keeps what came before. */
static void test_budgets(void **state)
{
	struct pdf_cmap_budget bud = { PDF_CMAP_MAP_BUDGET - 2, 0 };
	const char *t = "beginbfchar <0001> <0041> <0002> <0042> <0003> <0043> endbfchar";
	struct pdf_cmap *m = NULL;
	char s[64];

	(void)state;
	assert_int_equal(pdf_cmap_parse((const uint8_t *)t, strlen(t), &bud, &m), -1);
	assert_string_equal(text_of(m, 1, s, sizeof s), "A");
	assert_string_equal(text_of(m, 2, s, sizeof s), "B");
	assert_string_equal(text_of(m, 3, s, sizeof s), "");
	assert_int_equal(bud.entries, PDF_CMAP_MAP_BUDGET);
	pdf_cmap_free(m);

	/* A range from one string spends one entry per code. */
	bud.entries = PDF_CMAP_MAP_BUDGET - 100;
	t = "beginbfrange <0000> <FFFF> <0041> endbfrange";
	assert_int_equal(pdf_cmap_parse((const uint8_t *)t, strlen(t), &bud, &m), -1);
	assert_string_equal(text_of(m, 99, s, sizeof s), "\xC2\xA4"); /* U+00A4 */
	assert_string_equal(text_of(m, 100, s, sizeof s), "");
	pdf_cmap_free(m);

	/* And so does an array. */
	bud.entries = PDF_CMAP_MAP_BUDGET - 1;
	t = "beginbfrange <0001> <0003> [<0041> <0042> <0043>] endbfrange";
	assert_int_equal(pdf_cmap_parse((const uint8_t *)t, strlen(t), &bud, &m), -1);
	assert_string_equal(text_of(m, 1, s, sizeof s), "A");
	assert_string_equal(text_of(m, 2, s, sizeof s), "");
	pdf_cmap_free(m);

	/* Tables of 256 two-byte codes are counted apart: codes in a
	 * table already made still go in. */
	bud.entries = 0;
	bud.tables = PDF_CMAP_TBL_BUDGET - 1;
	t = "beginbfchar <0101> <0041> <0102> <0042> <0201> <0043> endbfchar";
	assert_int_equal(pdf_cmap_parse((const uint8_t *)t, strlen(t), &bud, &m), -1);
	assert_string_equal(text_of(m, 0x0101, s, sizeof s), "A");
	assert_string_equal(text_of(m, 0x0102, s, sizeof s), "B");
	assert_string_equal(text_of(m, 0x0201, s, sizeof s), "");
	pdf_cmap_free(m);

	/* A fresh budget takes a whole two-byte codespace. */
	bud.entries = bud.tables = 0;
	t = "beginbfrange <0000> <FFFF> <0041> endbfrange";
	assert_int_equal(pdf_cmap_parse((const uint8_t *)t, strlen(t), &bud, &m), 0);
	assert_int_equal(bud.entries, 65536);
	assert_int_equal(bud.tables, 256);
	assert_string_equal(text_of(m, 0xFFFF, s, sizeof s), "\xF0\x90\x81\x80"); /* U+10040 */
	pdf_cmap_free(m);
}

/* A string longer than the CMap cap is cut, and the CMap with it. */
static void test_string_cap(void **state)
{
	static const char head[] = "beginbfchar <0001> <0041> <0002> <";
	size_t n = PDF_CMAP_BYTES * 2 + 64, k;
	char *t = xmalloc(n + 16);
	struct pdf_cmap_budget bud = { 0, 0 };
	struct pdf_cmap *m = NULL;
	char s[64];

	(void)state;
	memcpy(t, head, sizeof head - 1);
	memset(t + sizeof head - 1, '4', n - (sizeof head - 1));
	memcpy(t + n, "> endbfchar", 11);
	k = n + 11;
	assert_int_equal(pdf_cmap_parse((const uint8_t *)t, k, &bud, &m), -1);
	assert_string_equal(text_of(m, 1, s, sizeof s), "A");
	pdf_cmap_free(m);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_cmaps),
		cmocka_unit_test(test_destinations),
		cmocka_unit_test(test_long_codes),
		cmocka_unit_test(test_codespace),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_string_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
