/*
 * test_pdf_fasttext.c — unit tests of the qpdf-based page text reader:
 * on the corpus generator's PDFs (CID font, Identity-H, ToUnicode) every
 * page's digit runs of five or more must be the same as poppler's; PDFs
 * written here with qpdf's C API cover a WinAnsi Helvetica key, spacing
 * from TJ kerning and Td moves (checked against poppler too), form
 * XObjects (nested, and a cycle), CMaps with ranges, arrays, surrogate
 * pairs, mixed one- and two-byte codes, full-width digits, Differences,
 * fonts that must fall back to poppler (Type3, Type0 without ToUnicode),
 * and hostile content streams that must stay bounded.
 * Runs in the test process.  Standards: ISO 32000-1 §7.8, §9 (through
 * qpdf and poppler), UAX #15.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <glib.h>
#include <zlib.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"
#include "spawn_helpers.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_fasttext.h"

#define NRES 50 /* residents per generated corpus: 100 pages */

static char *tmpdir;

/* g_ptr_array_sort passes pointers to the elements. */
static gint cmp_str_ptr(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted distinct runs of >= 5 ASCII digits, joined by commas. */
static char *digit_runs_sorted(const char *text)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
	GString *s = g_string_new("");

	for (const char *p = text; *p;) {
		if (*p >= '0' && *p <= '9') {
			const char *q = p;
			while (*q >= '0' && *q <= '9')
				q++;
			if (q - p >= 5)
				g_ptr_array_add(a, g_strndup(p, (gsize)(q - p)));
			p = q;
		} else {
			p++;
		}
	}
	g_ptr_array_sort(a, cmp_str_ptr);
	for (guint i = 0; i < a->len; i++) {
		if (i > 0 && strcmp(a->pdata[i], a->pdata[i - 1]) == 0)
			continue;
		g_string_append_printf(s, "%s%s", s->len ? "," : "", (char *)a->pdata[i]);
	}
	g_ptr_array_free(a, TRUE);
	return g_string_free(s, FALSE);
}

/* Fast text of one page: its return code, *text (g_free) when OK. */
static int fast(const uint8_t *pdf, size_t len, int page, char **text)
{
	struct pdf_fasttext *ft = NULL;
	struct error e;
	int rc;

	assert_int_equal(pdf_fasttext_open(pdf, len, NULL, &ft, &e), 0);
	rc = pdf_fasttext_page(ft, page, text, NULL, NULL, &e);
	pdf_fasttext_close(&ft);
	return rc;
}

static char *poppler(const uint8_t *pdf, size_t len, int page)
{
	struct pdf_text *t = NULL;
	struct error e;
	char *s;

	assert_int_equal(pdf_text_open(pdf, len, NULL, &t, &e), 0);
	s = pdf_text_page(t, page, NULL, &e);
	assert_non_null(s);
	pdf_text_close(&t);
	return s;
}

/* ------------------------------------------------------------------ */
/* PDFs built with qpdf's C API                                        */

static qpdf_data doc_new(void)
{
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	assert_int_equal(qpdf_empty_pdf(q) & QPDF_ERRORS, 0);
	return q;
}

static qpdf_oh mkstream(qpdf_data q, const void *data, size_t len)
{
	qpdf_oh s = qpdf_oh_new_stream(q);
	qpdf_oh_replace_stream_data(q, s, data, len, qpdf_oh_new_null(q), qpdf_oh_new_null(q));
	return qpdf_make_indirect_object(q, s);
}

static qpdf_oh helvetica(qpdf_data q)
{
	return qpdf_make_indirect_object(q, qpdf_oh_parse(q,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"));
}

/* Resources << /Font << /F1 f1 [/F2 f2] >> >>. */
static qpdf_oh res_fonts(qpdf_data q, qpdf_oh f1, qpdf_oh f2)
{
	qpdf_oh res = qpdf_oh_parse(q, "<< /Font << >> >>");
	qpdf_oh fonts = qpdf_oh_get_key(q, res, "/Font");
	if (f1)
		qpdf_oh_replace_key(q, fonts, "/F1", f1);
	if (f2)
		qpdf_oh_replace_key(q, fonts, "/F2", f2);
	return res;
}

static void doc_page(qpdf_data q, qpdf_oh res, const char *content)
{
	qpdf_oh page = qpdf_oh_parse(q, "<< /Type /Page /MediaBox [0 0 595 842] >>");
	qpdf_oh_replace_key(q, page, "/Resources", res);
	qpdf_oh_replace_key(q, page, "/Contents", mkstream(q, content, strlen(content)));
	page = qpdf_make_indirect_object(q, page);
	assert_int_equal(qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS, 0);
}

static uint8_t *doc_bytes(qpdf_data q, size_t *len)
{
	uint8_t *out;
	assert_int_equal(qpdf_init_write_memory(q) & QPDF_ERRORS, 0);
	qpdf_set_static_ID(q, QPDF_TRUE);
	assert_int_equal(qpdf_write(q) & QPDF_ERRORS, 0);
	*len = qpdf_get_buffer_length(q);
	out = xmalloc(*len);
	memcpy(out, qpdf_get_buffer(q), *len);
	qpdf_cleanup(&q);
	return out;
}

/* A PDF of Helvetica pages with the given contents. */
static uint8_t *helv_pdf(const char *const *contents, int n, size_t *len)
{
	qpdf_data q = doc_new();
	qpdf_oh f = helvetica(q);
	for (int i = 0; i < n; i++)
		doc_page(q, res_fonts(q, f, 0), contents[i]);
	return doc_bytes(q, len);
}

/* A Type0 Identity-H font with this ToUnicode CMap (NULL: none). */
static qpdf_oh type0(qpdf_data q, const char *tounicode, const char *encoding)
{
	qpdf_oh f = qpdf_oh_parse(q,
		"<< /Type /Font /Subtype /Type0 /BaseFont /Test /Encoding /Identity-H "
		"/DescendantFonts [ << /Type /Font /Subtype /CIDFontType2 /BaseFont /Test "
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
		"/DW 1000 /W [ 1 [500 500] 16 20 500 ] >> ] >>");
	if (tounicode)
		qpdf_oh_replace_key(q, f, "/ToUnicode", mkstream(q, tounicode, strlen(tounicode)));
	if (encoding)
		qpdf_oh_replace_key(q, f, "/Encoding", mkstream(q, encoding, strlen(encoding)));
	return qpdf_make_indirect_object(q, f);
}

#define CMAP_HEAD "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n" \
	"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" \
	"/CMapName /Test-UCS def /CMapType 2 def\n"
#define CMAP_TAIL "endcmap CMapName currentdict /CMap defineresource pop end end\n"

/* ------------------------------------------------------------------ */

static void compare_corpus(const char *opt)
{
	char *dir = g_build_filename(tmpdir, opt ? "first" : "every", NULL);
	char *argv[6], *path;
	int a = 0, np;
	uint8_t *pdf;
	size_t len;
	struct error e;
	struct pdf_fasttext *ft = NULL;
	struct pdf_text *pt = NULL;
	int keys = 0;

	argv[a++] = g_build_filename(top(), "tests", "bench", "gen-corpus", NULL);
	if (opt) {
		argv[a++] = (char *)"-k";
		argv[a++] = (char *)opt;
	}
	argv[a++] = dir;
	argv[a++] = g_strdup_printf("%d", NRES);
	argv[a] = NULL;
	assert_int_equal(run(argv), 0);
	g_free(argv[0]);
	g_free(argv[a - 1]);
	path = g_build_filename(dir, "corpus.pdf", NULL);
	assert_int_equal(file_read_all(path, PDF_INPUT_MAX, &pdf, &len, &e), 0);

	assert_int_equal(pdf_fasttext_open(pdf, len, NULL, &ft, &e), 0);
	assert_int_equal(pdf_text_open(pdf, len, NULL, &pt, &e), 0);
	np = pdf_fasttext_npages(ft);
	assert_int_equal(np, 2 * NRES);
	for (int p = 1; p <= np; p++) {
		char *t = NULL, *u, *ra, *rb, key[16];
		const char *why = NULL;
		int rc = pdf_fasttext_page(ft, p, &t, NULL, &why, &e);
		if (rc != PDF_FASTTEXT_OK)
			fail_msg("page %d not decodable: %s", p, why ? why : "?");
		assert_true(g_utf8_validate(t, -1, NULL));
		u = pdf_text_page(pt, p, NULL, &e);
		assert_non_null(u);
		ra = digit_runs_sorted(t);
		rb = digit_runs_sorted(u);
		if (strcmp(ra, rb) != 0)
			fail_msg("page %d: fast %s, poppler %s", p, ra, rb);
		/* The key itself (NFKC: full-width digits read as ASCII). */
		snprintf(key, sizeof key, "%08d", 10000 + 37 * ((p - 1) / 2));
		if (!opt || p % 2 == 1) {
			assert_non_null(strstr(t, key));
			keys++;
		}
		g_free(ra);
		g_free(rb);
		g_free(t);
		g_free(u);
	}
	assert_true(keys >= NRES);
	pdf_fasttext_close(&ft);
	pdf_text_close(&pt);
	free(pdf);
	g_free(path);
	g_free(dir);
}

static void test_corpus_every(void **state)
{
	(void)state;
	compare_corpus(NULL);
}

static void test_corpus_first(void **state)
{
	(void)state;
	compare_corpus("first");
}

/* The same pages through pdf_fasttext_each in two threads. */
struct collect {
	GMutex lock;
	char *texts[2 * NRES + 1];
};

static int collect_fn(void *ctx, int page, const char *text, size_t len, struct error *e)
{
	struct collect *c = ctx;
	(void)e;
	assert_int_equal(strlen(text), len);
	g_mutex_lock(&c->lock);
	assert_null(c->texts[page]);
	c->texts[page] = g_strdup(text);
	g_mutex_unlock(&c->lock);
	return 0;
}

static void test_each(void **state)
{
	char *path = g_build_filename(tmpdir, "every", "corpus.pdf", NULL);
	struct collect c;
	struct error e;
	uint8_t *pdf;
	size_t len;
	long before = pdf_fasttext_fallbacks();
	(void)state;

	memset(&c, 0, sizeof c);
	g_mutex_init(&c.lock);
	assert_int_equal(file_read_all(path, PDF_INPUT_MAX, &pdf, &len, &e), 0);
	assert_int_equal(pdf_fasttext_each(pdf, len, NULL, 1, 0, 2, collect_fn, &c, &e), 0);
	assert_int_equal(pdf_fasttext_fallbacks(), before);
	for (int p = 1; p <= 2 * NRES; p++) {
		char *t = NULL;
		assert_non_null(c.texts[p]);
		assert_int_equal(fast(pdf, len, p, &t), PDF_FASTTEXT_OK);
		assert_string_equal(t, c.texts[p]);
		g_free(t);
		g_free(c.texts[p]);
	}
	/* a range out of bounds is an error */
	assert_int_equal(pdf_fasttext_each(pdf, len, NULL, 2 * NRES, 5, 1, collect_fn, &c, &e), -1);
	g_mutex_clear(&c.lock);
	free(pdf);
	g_free(path);
}

static void test_helvetica(void **state)
{
	/* Each page is read by both readers; digit runs must agree. */
	const char *pages[] = {
		"BT /F1 12 Tf 72 760 Td (Resident 00012345 notice) Tj ET",
		/* kerning: a large gap separates, a small one does not */
		"BT /F1 12 Tf 72 760 Td [(0001)-20(2345)] TJ 0 -20 Td [(1111)-400(22222)] TJ ET",
		/* a new line between two digit strings */
		"BT /F1 12 Tf 14 TL 72 760 Td (00012345) Tj T* (67890) Tj ET",
		/* far apart on one line; then ' and \" */
		("BT /F1 12 Tf 14 TL 72 760 Td (11111) Tj 200 0 Td (22222) Tj (33333) ' "
		 "1 0 (44444) \" ET"),
		/* the pen moves back onto the same baseline: separate */
		"BT /F1 12 Tf 300 700 Td (55555) Tj -200 0 Td (66666) Tj ET",
		/* Tm per string, like many producers */
		"BT /F1 1 Tf 12 0 0 12 72 700 Tm (77777) Tj 12 0 0 12 72 600 Tm (88888) Tj ET",
		/* strings with escapes and a hex string */
		"BT /F1 12 Tf 72 700 Td (\\060\\0611\\(2\\)\\\n34) Tj 100 0 Td <3939393939> Tj ET",
	};
	size_t len;
	uint8_t *pdf = helv_pdf(pages, (int)ARRAY_SIZE(pages), &len);
	static const char *want[] = {
		"00012345", "00012345,22222", "00012345,67890", "11111,22222,33333,44444",
		"55555,66666", "77777,88888", "99999",
	};
	(void)state;

	for (int p = 1; p <= (int)ARRAY_SIZE(pages); p++) {
		char *t = NULL, *u = poppler(pdf, len, p), *ra, *rb;
		assert_int_equal(fast(pdf, len, p, &t), PDF_FASTTEXT_OK);
		ra = digit_runs_sorted(t);
		rb = digit_runs_sorted(u);
		if (strcmp(ra, want[p - 1]) != 0 || strcmp(rb, want[p - 1]) != 0)
			fail_msg("page %d: fast \"%s\" -> %s, poppler \"%s\" -> %s, want %s", p, t, ra,
				 u, rb, want[p - 1]);
		g_free(ra);
		g_free(rb);
		g_free(t);
		g_free(u);
	}
	{
		char *t = NULL;
		assert_int_equal(fast(pdf, len, 1, &t), PDF_FASTTEXT_OK);
		assert_string_equal(t, "Resident 00012345 notice");
		g_free(t);
		assert_int_equal(fast(pdf, len, 2, &t), PDF_FASTTEXT_OK);
		assert_non_null(strstr(t, "1111 22222"));
		g_free(t);
		assert_int_equal(fast(pdf, len, 7, &t), PDF_FASTTEXT_OK);
		assert_string_equal(t, "011(2)34 99999");
		g_free(t);
	}
	free(pdf);
}

static void test_form_xobject(void **state)
{
	qpdf_data q = doc_new();
	qpdf_oh f = helvetica(q);
	const char *inner = "BT /F1 10 Tf 10 10 Td (00054321) Tj ET /Self Do";
	const char *outer = "q 1 0 0 1 50 50 cm /Inner Do Q";
	qpdf_oh fi = mkstream(q, inner, strlen(inner));
	qpdf_oh fo = mkstream(q, outer, strlen(outer));
	qpdf_oh di = qpdf_oh_get_dict(q, fi), dout = qpdf_oh_get_dict(q, fo);
	qpdf_oh xo_outer, ri, ro, pres;
	size_t len;
	uint8_t *pdf;
	char *t = NULL, *u;
	(void)state;

	/* Inner: a form that also calls itself (a cycle). */
	qpdf_oh_replace_key(q, di, "/Type", qpdf_oh_new_name(q, "/XObject"));
	qpdf_oh_replace_key(q, di, "/Subtype", qpdf_oh_new_name(q, "/Form"));
	qpdf_oh_replace_key(q, di, "/BBox", qpdf_oh_parse(q, "[0 0 500 500]"));
	ri = res_fonts(q, f, 0);
	qpdf_oh_replace_key(q, ri, "/XObject", qpdf_oh_new_dictionary(q));
	qpdf_oh_replace_key(q, qpdf_oh_get_key(q, ri, "/XObject"), "/Self", fi);
	qpdf_oh_replace_key(q, di, "/Resources", ri);
	/* Outer: a form without fonts that calls the inner one. */
	qpdf_oh_replace_key(q, dout, "/Type", qpdf_oh_new_name(q, "/XObject"));
	qpdf_oh_replace_key(q, dout, "/Subtype", qpdf_oh_new_name(q, "/Form"));
	qpdf_oh_replace_key(q, dout, "/BBox", qpdf_oh_parse(q, "[0 0 500 500]"));
	ro = qpdf_oh_parse(q, "<< /XObject << >> >>");
	qpdf_oh_replace_key(q, qpdf_oh_get_key(q, ro, "/XObject"), "/Inner", fi);
	qpdf_oh_replace_key(q, dout, "/Resources", ro);
	xo_outer = fo;
	/* The page: text, the forms, an image (shows nothing), more text. */
	pres = res_fonts(q, f, 0);
	qpdf_oh_replace_key(q, pres, "/XObject", qpdf_oh_new_dictionary(q));
	qpdf_oh_replace_key(q, qpdf_oh_get_key(q, pres, "/XObject"), "/Outer", xo_outer);
	{
		static const uint8_t px[3] = { 0, 0, 0 };
		qpdf_oh img = mkstream(q, px, sizeof px);
		qpdf_oh dimg = qpdf_oh_get_dict(q, img);
		qpdf_oh_replace_key(q, dimg, "/Subtype", qpdf_oh_new_name(q, "/Image"));
		qpdf_oh_replace_key(q, dimg, "/Width", qpdf_oh_new_integer(q, 1));
		qpdf_oh_replace_key(q, dimg, "/Height", qpdf_oh_new_integer(q, 1));
		qpdf_oh_replace_key(q, dimg, "/ColorSpace", qpdf_oh_new_name(q, "/DeviceRGB"));
		qpdf_oh_replace_key(q, dimg, "/BitsPerComponent", qpdf_oh_new_integer(q, 8));
		qpdf_oh_replace_key(q, qpdf_oh_get_key(q, pres, "/XObject"), "/Im", img);
	}
	doc_page(q, pres, "BT /F1 12 Tf 72 760 Td (11111) Tj ET /Outer Do /Im Do /Nope Do "
			  "BT /F1 12 Tf 72 700 Td (22222) Tj ET");
	pdf = doc_bytes(q, &len);
	assert_int_equal(fast(pdf, len, 1, &t), PDF_FASTTEXT_OK);
	u = poppler(pdf, len, 1);
	assert_non_null(strstr(t, "00054321"));
	assert_non_null(strstr(t, "11111"));
	assert_non_null(strstr(t, "22222"));
	{
		char *ra = digit_runs_sorted(t), *rb = digit_runs_sorted(u);
		assert_string_equal(ra, "00054321,11111,22222");
		assert_string_equal(ra, rb);
		g_free(ra);
		g_free(rb);
	}
	g_free(t);
	g_free(u);
	free(pdf);
}

static void test_cmaps(void **state)
{
	/* bfchar with a surrogate pair and full-width digits; bfrange with
	 * an incremented destination and with an array; a two-unit
	 * destination (a ligature). */
	const char *tu = CMAP_HEAD
		"1 begincodespacerange <0000> <ffff> endcodespacerange\n"
		"3 beginbfchar <0001> <d840dc0b> <0002> <FF10> <0003> <0066 0069>\nendbfchar\n"
		"2 beginbfrange <0010> <0019> <ff10>\n<0020> <0022> [<0041> <0042> <0043>]\n"
		"endbfrange\n" CMAP_TAIL;
	/* One- and two-byte codes mixed (a Shift-JIS-like codespace). */
	const char *enc = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
		"/CMapName /Test-H def /WMode 0 def\n"
		"2 begincodespacerange <00> <80> <8140> <9ffc> endcodespacerange\n"
		"1 begincidrange <00> <80> 0 endcidrange\n" CMAP_TAIL;
	const char *tu2 = CMAP_HEAD
		"2 begincodespacerange <00> <80> <8140> <9ffc> endcodespacerange\n"
		"2 beginbfrange <30> <39> <0030> <824f> <8258> <ff10> endbfrange\n" CMAP_TAIL;
	qpdf_data q = doc_new();
	qpdf_oh f1 = type0(q, tu, NULL), f2 = type0(q, tu2, enc);
	size_t len;
	uint8_t *pdf;
	char *t = NULL;
	(void)state;

	doc_page(q, res_fonts(q, f1, f2),
		 "BT /F1 10 Tf 72 700 Td <0001 0002 0010 0011 0019 0003 0020 0021 0022> Tj ET");
	doc_page(q, res_fonts(q, f1, f2),
		 "BT /F2 10 Tf 72 700 Td <30 31 824f 8250 8258 39> Tj ET");
	doc_page(q, res_fonts(q, f1, f2), "BT /F1 10 Tf 72 700 Td <0001 0005> Tj ET");
	pdf = doc_bytes(q, &len);
	assert_int_equal(fast(pdf, len, 1, &t), PDF_FASTTEXT_OK);
	/* U+2000B, then NFKC: ０ -> 0, ０１９ -> 019, the ligature, ABC */
	assert_string_equal(t, "\xf0\xa0\x80\x8b" "0019fiABC");
	g_free(t);
	assert_int_equal(fast(pdf, len, 2, &t), PDF_FASTTEXT_OK);
	assert_string_equal(t, "010199");
	g_free(t);
	/* a code the CMap does not map */
	assert_int_equal(fast(pdf, len, 3, &t), PDF_FASTTEXT_UNDECODABLE);
	assert_null(t);
	free(pdf);
}

static void test_fallback(void **state)
{
	qpdf_data q = doc_new();
	qpdf_oh t3 = qpdf_make_indirect_object(q, qpdf_oh_parse(q,
		"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1 1] /FontMatrix [0.001 0 0 0.001 0 0]"
		" /CharProcs << >> /Encoding << /Differences [48 /zero] >> /FirstChar 48 /LastChar 48"
		" /Widths [500] >>"));
	qpdf_oh notu = type0(q, NULL, NULL);
	qpdf_oh diff = qpdf_make_indirect_object(q, qpdf_oh_parse(q,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /BaseEncoding "
		"/WinAnsiEncoding /Differences [48 /zero /one 65 /g123] >> >>"));
	qpdf_oh sym = qpdf_make_indirect_object(q, qpdf_oh_parse(q,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>"));
	qpdf_oh helv = helvetica(q);
	struct collect c;
	struct error e;
	size_t len;
	uint8_t *pdf;
	char *t = NULL;
	long before;
	const char *why = NULL;
	struct pdf_fasttext *ft = NULL;
	(void)state;

	doc_page(q, res_fonts(q, helv, t3), "BT /F1 12 Tf 72 700 Td (12345) Tj /F2 12 Tf (0) Tj ET");
	doc_page(q, res_fonts(q, helv, notu), "BT /F2 12 Tf 72 700 Td <0001> Tj ET");
	doc_page(q, res_fonts(q, diff, 0), "BT /F1 12 Tf 72 700 Td (01999) Tj ET");
	doc_page(q, res_fonts(q, diff, 0), "BT /F1 12 Tf 72 700 Td (01A99) Tj ET");
	doc_page(q, res_fonts(q, sym, 0), "BT /F1 12 Tf 72 700 Td (12345) Tj ET");
	/* a Type3 font selected but not used: fine */
	doc_page(q, res_fonts(q, helv, t3), "BT /F2 12 Tf /F1 12 Tf 72 700 Td (67890) Tj ET");
	pdf = doc_bytes(q, &len);

	assert_int_equal(pdf_fasttext_open(pdf, len, NULL, &ft, &e), 0);
	assert_int_equal(pdf_fasttext_page(ft, 1, &t, NULL, &why, &e), PDF_FASTTEXT_UNDECODABLE);
	assert_string_equal(why, "a Type3 font");
	assert_int_equal(pdf_fasttext_page(ft, 2, &t, NULL, &why, &e), PDF_FASTTEXT_UNDECODABLE);
	assert_string_equal(why, "a Type0 font without ToUnicode");
	assert_int_equal(pdf_fasttext_page(ft, 3, &t, NULL, &why, &e), PDF_FASTTEXT_OK);
	assert_string_equal(t, "01999");
	g_free(t);
	assert_int_equal(pdf_fasttext_page(ft, 4, &t, NULL, &why, &e), PDF_FASTTEXT_UNDECODABLE);
	assert_int_equal(pdf_fasttext_page(ft, 5, &t, NULL, &why, &e), PDF_FASTTEXT_UNDECODABLE);
	assert_int_equal(pdf_fasttext_page(ft, 6, &t, NULL, &why, &e), PDF_FASTTEXT_OK);
	assert_string_equal(t, "67890");
	g_free(t);
	assert_int_equal(pdf_fasttext_page(ft, 7, &t, NULL, &why, &e), -1);
	pdf_fasttext_close(&ft);

	/* pdf_fasttext_each: the undecodable pages come from poppler. */
	memset(&c, 0, sizeof c);
	g_mutex_init(&c.lock);
	before = pdf_fasttext_fallbacks();
	assert_int_equal(pdf_fasttext_each(pdf, len, NULL, 1, 6, 1, collect_fn, &c, &e), 0);
	assert_int_equal(pdf_fasttext_fallbacks() - before, 4);
	assert_non_null(strstr(c.texts[1], "12345")); /* poppler's reading */
	assert_string_equal(c.texts[3], "01999");
	assert_string_equal(c.texts[6], "67890");
	for (int p = 1; p <= 6; p++)
		g_free(c.texts[p]);
	g_mutex_clear(&c.lock);
	free(pdf);
}

/* Hostile content: every page must come back quickly, OK or not. */
static void test_hostile(void **state)
{
	GString *nest = g_string_new("BT /F1 12 Tf ");
	GString *tj = g_string_new("BT /F1 12 Tf [");
	GString *huge = g_string_new("BT /F1 12 Tf ");
	GString *ops = g_string_new("BT /F1 12 Tf (00077777) Tj ");
	const char *pages[8];
	size_t len;
	uint8_t *pdf;
	struct pdf_fasttext *ft = NULL;
	struct error e;
	clock_t c0 = clock();
	int rc;
	char *t = NULL;
	(void)state;

	for (int i = 0; i < 200000; i++)
		g_string_append_c(nest, '[');
	g_string_append(nest, "(12345)");
	for (int i = 0; i < 100000; i++)
		g_string_append_c(nest, ']');
	g_string_append(nest, " TJ ET");
	for (int i = 0; i < 1000000; i++)
		g_string_append(tj, "(1)-1");
	g_string_append(tj, "] TJ ET");
	g_string_append(huge, "99999999999999999999999999999999999999999999999999999999999999999999 "
			      "-1e400 1.5.5 --3 .......  0.000000000000000000000000000000000000000001 ");
	for (int i = 0; i < 10000; i++)
		g_string_append(huge, "9");
	g_string_append(huge, " 0 Td (00011111) Tj 1e308 1e308 1e308 1e308 1e308 1e308 Tm (2) Tj ET");
	for (int i = 0; i < 100000; i++)
		g_string_append(ops, "q 1 0 0 1 0 0 cm 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 "
				     "20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 ");
	g_string_append(ops, "ET");

	pages[0] = "BT /F1 12 Tf 72 700 Td (00012345 unbalanced ((( Tj ET";
	pages[1] = nest->str;
	pages[2] = tj->str;
	pages[3] = huge->str;
	pages[4] = ops->str;
	/* an inline image whose data looks like text operators */
	pages[5] = "BT /F1 12 Tf 72 700 Td (00033333) Tj ET BI /W 4 /H 1 /BPC 8 /CS /G ID "
		   "(99999) Tj EIx EI\nBT /F1 12 Tf 72 600 Td (00044444) Tj ET";
	pages[6] = "<< /A << /B [1 2 (3)] >> >> BDC ) ] >> } { ( BT /F1 12 Tf (00055555) Tj ET";
	pages[7] = "/F1 12 Tf (11111) Tj Q Q Q Q q q BT /NoSuchFont 12 Tf (00066666) Tj ET "
		   "BT /F1 12 Tf 5 0 0 0 0 0 Tm (00066666) Tj ET 0 0 0 0 0 0 cm BT /F1 0 Tf (1) Tj ET %";
	pdf = helv_pdf(pages, 8, &len);
	assert_int_equal(pdf_fasttext_open(pdf, len, NULL, &ft, &e), 0);
	for (int p = 1; p <= 8; p++) {
		size_t tl = 0;
		rc = pdf_fasttext_page(ft, p, &t, &tl, NULL, &e);
		assert_true(rc == PDF_FASTTEXT_OK || rc == PDF_FASTTEXT_UNDECODABLE);
		if (rc == PDF_FASTTEXT_OK) {
			assert_true(g_utf8_validate(t, (gssize)tl, NULL));
			assert_true(tl <= PDF_TEXT_PAGE_MAX * 3);
			switch (p) {
			case 1: assert_string_equal(t, ""); break; /* no operator follows */
			case 4: assert_non_null(strstr(t, "00011111")); break;
			case 5: assert_non_null(strstr(t, "00077777")); break;
			case 6:
				assert_non_null(strstr(t, "00033333"));
				assert_non_null(strstr(t, "00044444"));
				assert_null(strstr(t, "99999"));
				break;
			case 8: assert_non_null(strstr(t, "00066666")); break;
			default: break;
			}
			g_free(t);
		} else {
			assert_null(t);
			/* only the 1e6-element TJ is beyond the limits */
			assert_int_equal(p, 3);
		}
	}
	pdf_fasttext_close(&ft);
	/* A few seconds at most even under sanitizers. */
	assert_true((double)(clock() - c0) / CLOCKS_PER_SEC < 30);
	g_string_free(nest, TRUE);
	g_string_free(tj, TRUE);
	g_string_free(huge, TRUE);
	g_string_free(ops, TRUE);
	free(pdf);
}

static int setup(void **state)
{
	(void)state;
	tmpdir = g_dir_make_tmp("tayori-fasttext-XXXXXX", NULL);
	return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
	char *argv[4] = { (char *)"rm", (char *)"-rf", tmpdir, NULL };
	(void)state;
	run(argv);
	g_free(tmpdir);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Decompression bombs                                                  */

/* raw with filters (a PDF array or name) as the stream's data as stored. */
static qpdf_oh rawstream(qpdf_data q, const void *raw, size_t len, const char *filters,
			 const char *dict)
{
	qpdf_oh s = qpdf_oh_new_stream(q);
	qpdf_oh_replace_stream_data(q, s, raw, len, qpdf_oh_parse(q, filters), qpdf_oh_new_null(q));
	if (dict) {
		qpdf_oh d = qpdf_oh_parse(q, dict), sd = qpdf_oh_get_dict(q, s);
		qpdf_oh_begin_dict_key_iter(q, d);
		while (qpdf_oh_dict_more_keys(q)) {
			char k[64];
			str_copy(k, qpdf_oh_dict_next_key(q), sizeof k);
			qpdf_oh_replace_key(q, sd, k, qpdf_oh_get_key(q, d, k));
		}
	}
	return qpdf_make_indirect_object(q, s);
}

/* zlib data of text followed by n zero bytes (white space in a PDF);
 * twice: that, compressed again. */
static GByteArray *zeros_z(const char *text, size_t n, int twice)
{
	uint8_t *d = xcalloc(1, n + strlen(text));
	uLongf cap = compressBound((uLong)(n + strlen(text)));
	GByteArray *o = g_byte_array_sized_new((guint)cap);

	memcpy(d, text, strlen(text));
	g_byte_array_set_size(o, (guint)cap);
	assert_int_equal(compress2(o->data, &cap, d, (uLong)(n + strlen(text)), 9), Z_OK);
	g_byte_array_set_size(o, (guint)cap);
	free(d);
	if (twice) {
		GByteArray *o2 = g_byte_array_sized_new(o->len + 64);
		cap = compressBound(o->len);
		g_byte_array_set_size(o2, (guint)cap);
		assert_int_equal(compress2(o2->data, &cap, o->data, o->len, 9), Z_OK);
		g_byte_array_set_size(o2, (guint)cap);
		g_byte_array_free(o, TRUE);
		o = o2;
	}
	return o;
}

/* The document as written, its streams kept as they are (qpdf's writer
 * would otherwise decode a chain of filters to write it again). */
static uint8_t *doc_bytes_raw(qpdf_data q, size_t *len)
{
	uint8_t *out;
	assert_int_equal(qpdf_init_write_memory(q) & QPDF_ERRORS, 0);
	qpdf_set_decode_level(q, qpdf_dl_none);
	qpdf_set_compress_streams(q, QPDF_FALSE);
	qpdf_set_static_ID(q, QPDF_TRUE);
	assert_int_equal(qpdf_write(q) & QPDF_ERRORS, 0);
	*len = qpdf_get_buffer_length(q);
	out = xmalloc(*len);
	memcpy(out, qpdf_get_buffer(q), *len);
	qpdf_cleanup(&q);
	return out;
}

static void page_with_contents(qpdf_data q, qpdf_oh res, qpdf_oh contents)
{
	qpdf_oh page = qpdf_oh_parse(q, "<< /Type /Page /MediaBox [0 0 595 842] >>");
	qpdf_oh_replace_key(q, page, "/Resources", res);
	qpdf_oh_replace_key(q, page, "/Contents", contents);
	page = qpdf_make_indirect_object(q, page);
	assert_int_equal(qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS, 0);
}

/* Page `page` is refused with exactly want, through pdf_fasttext_page()
 * and pdf_fasttext_each(). */
static void refused(const uint8_t *pdf, size_t len, int page, const char *want)
{
	struct pdf_fasttext *ft = NULL;
	struct collect c;
	struct error e;
	char *t = NULL;

	assert_int_equal(pdf_fasttext_open(pdf, len, NULL, &ft, &e), 0);
	for (int p = 1; p < page; p++) {
		assert_int_equal(pdf_fasttext_page(ft, p, &t, NULL, NULL, &e), PDF_FASTTEXT_OK);
		g_free(t);
	}
	memset(&e, 0, sizeof e);
	assert_int_equal(pdf_fasttext_page(ft, page, &t, NULL, NULL, &e), -1);
	assert_null(t);
	assert_string_equal(e.msg, want);
	assert_int_equal(e.temporary, 0);
	pdf_fasttext_close(&ft);

	memset(&c, 0, sizeof c);
	g_mutex_init(&c.lock);
	memset(&e, 0, sizeof e);
	assert_int_equal(pdf_fasttext_each(pdf, len, NULL, 1, 0, 2, collect_fn, &c, &e), -1);
	assert_string_equal(e.msg, want);
	for (size_t i = 0; i < ARRAY_SIZE(c.texts); i++)
		g_free(c.texts[i]);
}

static void test_bombs(void **state)
{
	const size_t big = (size_t)64 << 20;
	GByteArray *one = zeros_z("BT /F1 12 Tf 72 700 Td (22222) Tj ET\n", big, 0);
	GByteArray *two = zeros_z("BT /F1 12 Tf 72 700 Td (22222) Tj ET\n", big, 1);
	GByteArray *cm = zeros_z(CMAP_HEAD, big, 1);
	qpdf_data q;
	uint8_t *pdf;
	size_t len;
	(void)state;

	/* a content stream: FlateDecode once, then twice */
	for (int twice = 0; twice < 2; twice++) {
		q = doc_new();
		doc_page(q, res_fonts(q, helvetica(q), 0), "BT /F1 12 Tf 72 700 Td (11111) Tj ET");
		page_with_contents(q, res_fonts(q, helvetica(q), 0),
				   twice ? rawstream(q, two->data, two->len, "[/FlateDecode /FlateDecode]", NULL)
					 : rawstream(q, one->data, one->len, "/FlateDecode", NULL));
		pdf = doc_bytes_raw(q, &len);
		assert_true(len < 200 * 1024);
		refused(pdf, len, 2, "page 2: a content stream decodes to more than 16 MB "
				     "([limits] pdf_stream_max)");
		free(pdf);
	}

	/* the second stream of a content array */
	q = doc_new();
	{
		qpdf_oh arr = qpdf_oh_new_array(q);
		qpdf_oh_append_item(q, arr, mkstream(q, "BT /F1 12 Tf 72 700 Td (11111) Tj ET", 36));
		qpdf_oh_append_item(q, arr, rawstream(q, two->data, two->len,
						      "[/FlateDecode /FlateDecode]", NULL));
		page_with_contents(q, res_fonts(q, helvetica(q), 0), arr);
	}
	pdf = doc_bytes_raw(q, &len);
	refused(pdf, len, 1, "page 1: a content stream decodes to more than 16 MB "
			     "([limits] pdf_stream_max)");
	free(pdf);

	/* a ToUnicode CMap */
	q = doc_new();
	{
		qpdf_oh f = type0(q, NULL, NULL);
		qpdf_oh_replace_key(q, f, "/ToUnicode", rawstream(q, cm->data, cm->len,
								  "[/FlateDecode /FlateDecode]", NULL));
		doc_page(q, res_fonts(q, f, 0), "BT /F1 12 Tf 72 700 Td <0001> Tj ET");
	}
	pdf = doc_bytes_raw(q, &len);
	refused(pdf, len, 1, "page 1: a ToUnicode CMap decodes to more than 16 MB "
			     "([limits] pdf_stream_max)");
	free(pdf);

	/* a form XObject */
	q = doc_new();
	{
		qpdf_oh res = res_fonts(q, helvetica(q), 0);
		qpdf_oh_replace_key(q, res, "/XObject", qpdf_oh_new_dictionary(q));
		qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/XObject"), "/Fm",
				    rawstream(q, one->data, one->len, "/FlateDecode",
					      "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] >>"));
		doc_page(q, res, "BT /F1 12 Tf 72 700 Td (11111) Tj ET /Fm Do");
	}
	pdf = doc_bytes_raw(q, &len);
	refused(pdf, len, 1, "page 1: a form XObject decodes to more than 16 MB "
			     "([limits] pdf_stream_max)");
	free(pdf);

	/* A page the reader hands to poppler (a Type3 font comes first): the
	 * form poppler would decode is decoded within the limits first. */
	q = doc_new();
	{
		qpdf_oh res = res_fonts(q, qpdf_make_indirect_object(q, qpdf_oh_parse(q,
			"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1 1] /FontMatrix [1 0 0 1 0 0] "
			"/CharProcs << >> /Encoding << /Differences [97 /a] >> /FirstChar 97 "
			"/LastChar 97 /Widths [1] >>")), helvetica(q));
		qpdf_oh_replace_key(q, res, "/XObject", qpdf_oh_new_dictionary(q));
		qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/XObject"), "/Fm",
				    rawstream(q, two->data, two->len, "[/FlateDecode /FlateDecode]",
					      "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] >>"));
		doc_page(q, res, "BT /F1 12 Tf (a) Tj /F2 12 Tf (11111) Tj ET /Fm Do");
	}
	pdf = doc_bytes_raw(q, &len);
	{
		struct collect c;
		struct error e;
		char *t = NULL;
		assert_int_equal(fast(pdf, len, 1, &t), PDF_FASTTEXT_UNDECODABLE);
		memset(&c, 0, sizeof c);
		g_mutex_init(&c.lock);
		assert_int_equal(pdf_fasttext_each(pdf, len, NULL, 1, 0, 1, collect_fn, &c, &e), -1);
		assert_string_equal(e.msg, "page 1: a stream it uses decodes to more than 16 MB "
					   "([limits] pdf_stream_max)");
		g_free(c.texts[1]);
	}
	free(pdf);

	/* The same page with a form whose filter is not decoded here: poppler
	 * is not given the page, which reads as having no text. */
	q = doc_new();
	{
		qpdf_oh res = res_fonts(q, qpdf_make_indirect_object(q, qpdf_oh_parse(q,
			"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1 1] /FontMatrix [1 0 0 1 0 0] "
			"/CharProcs << >> /Encoding << /Differences [97 /a] >> /FirstChar 97 "
			"/LastChar 97 /Widths [1] >>")), helvetica(q));
		qpdf_oh_replace_key(q, res, "/XObject", qpdf_oh_new_dictionary(q));
		qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/XObject"), "/Fm",
				    rawstream(q, "xx", 2, "/JBIG2Decode",
					      "<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] >>"));
		doc_page(q, res, "BT /F1 12 Tf (a) Tj /F2 12 Tf 72 700 Td (11111) Tj ET /Fm Do");
	}
	pdf = doc_bytes_raw(q, &len);
	{
		struct collect c;
		struct error e;
		long before = pdf_fasttext_fallbacks();
		memset(&c, 0, sizeof c);
		g_mutex_init(&c.lock);
		assert_int_equal(pdf_fasttext_each(pdf, len, NULL, 1, 0, 1, collect_fn, &c, &e), 0);
		assert_string_equal(c.texts[1], "");
		assert_int_equal(pdf_fasttext_fallbacks(), before);
		g_free(c.texts[1]);
	}
	free(pdf);

	/* Streams under the limit that add up on one page; a lower limit set
	 * for the process is the one applied and named. */
	{
		struct pdf_limits lim = { (size_t)1 << 20, (size_t)3 << 20, 0 }, def = { 0, 0, 0 };
		GByteArray *mb = zeros_z("", (size_t)1 << 19, 0);
		qpdf_oh arr;
		pdf_limits_set(&lim);
		q = doc_new();
		arr = qpdf_oh_new_array(q);
		for (int i = 0; i < 7; i++)
			qpdf_oh_append_item(q, arr, rawstream(q, mb->data, mb->len, "/FlateDecode", NULL));
		page_with_contents(q, res_fonts(q, helvetica(q), 0), arr);
		pdf = doc_bytes_raw(q, &len);
		refused(pdf, len, 1, "page 1: its streams decode to more than 3 MB together "
				     "([limits] pdf_page_decoded)");
		free(pdf);
		q = doc_new();
		page_with_contents(q, res_fonts(q, helvetica(q), 0),
				   rawstream(q, one->data, one->len, "/FlateDecode", NULL));
		pdf = doc_bytes_raw(q, &len);
		refused(pdf, len, 1, "page 1: a content stream decodes to more than 1 MB "
				     "([limits] pdf_stream_max)");
		free(pdf);
		pdf_limits_set(&def);
		g_byte_array_free(mb, TRUE);
	}
	g_byte_array_free(one, TRUE);
	g_byte_array_free(two, TRUE);
	g_byte_array_free(cm, TRUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_every),
		cmocka_unit_test(test_corpus_first),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_helvetica),
		cmocka_unit_test(test_form_xobject),
		cmocka_unit_test(test_cmaps),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_bombs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
