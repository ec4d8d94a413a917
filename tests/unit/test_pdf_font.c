/*
 * test_pdf_font.c — unit tests of the text reader's font loader
 * (pdf/pdf_font.h) on font dictionaries made with qpdf's C API, their
 * CMaps decoded by the real bounded decoder: standard encodings (WinAnsi
 * Latin-1, the ASCII of the others), /Differences with Adobe Glyph List
 * and uniXXXX / uXXXXX names, /Widths with /FirstChar and /MissingWidth,
 * symbolic fonts, Type3, composite fonts (Identity-H and -V, an embedded
 * encoding CMap with /WMode, a named CMap, /W in both forms with /DW),
 * and the fonts the reader must refuse to guess: Type0 without
 * ToUnicode, CMaps without codespace, beyond the limits or not
 * decodable.
 * Runs in the test process.  Standards: ISO 32000-1 §9.6, §9.7, §9.10,
 * Annex D.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_cmap.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_font.h"

static const char tounicode[] =
	"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
	"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
	"1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
	"2 beginbfchar <0001> <5B9B> <0002> <0031> endbfchar\n"
	"endcmap CMapName currentdict /CMap defineresource pop end end\n";

/* A ToUnicode that maps but gives no code lengths. */
static const char no_codespace[] = "1 beginbfchar <0001> <0041> endbfchar";

/* The decoder the loader is given: the real one, capped at cap bytes. */
struct dec {
	struct pdf_decoder *d;
	qpdf_data q;
	size_t cap;
	int calls;
};

static int decode(void *ctx, qpdf_oh s, const char *what, struct buf *out)
{
	struct dec *d = ctx;
	size_t len = 0;

	assert_non_null(what);
	d->calls++;
	return pdf_stream_decode(d->d, d->q, s, d->cap, out, &len);
}

struct fx {
	qpdf_data q;
	struct dec dec;
	struct buf tmp;
	struct pdf_cmap_budget bud;
};

static void fx_init(struct fx *x)
{
	memset(x, 0, sizeof *x);
	x->q = qpdf_init();
	qpdf_silence_errors(x->q);
	assert_int_equal(qpdf_empty_pdf(x->q) & QPDF_ERRORS, 0);
	x->dec.d = pdf_decoder_new();
	x->dec.q = x->q;
	x->dec.cap = (size_t)1 << 20;
	buf_init(&x->tmp, SIZE_MAX / 2);
}

static void fx_free(struct fx *x)
{
	pdf_decoder_free(&x->dec.d);
	buf_free(&x->tmp);
	qpdf_cleanup(&x->q);
}

/* An indirect stream holding text, with the stream dictionary dict
 * (NULL: empty); filter (or NULL) is stored as /Filter undone by nobody. */
static qpdf_oh stream(struct fx *x, const char *text, const char *dict, const char *filter)
{
	qpdf_oh s = qpdf_oh_new_stream(x->q);
	qpdf_oh_replace_stream_data(x->q, s, (const unsigned char *)text, strlen(text),
				    filter ? qpdf_oh_parse(x->q, filter) : qpdf_oh_new_null(x->q),
				    qpdf_oh_new_null(x->q));
	if (dict) {
		qpdf_oh d = qpdf_oh_parse(x->q, dict);
		qpdf_oh sd = qpdf_oh_get_dict(x->q, s);
		qpdf_oh_replace_key(x->q, sd, "/WMode",
				    qpdf_oh_get_key(x->q, d, "/WMode"));
	}
	return qpdf_make_indirect_object(x->q, s);
}

static struct pdf_font *load(struct fx *x, qpdf_oh fo)
{
	struct pdf_font *f = pdf_font_load(x->q, fo, decode, &x->dec, &x->tmp, &x->bud);

	/* Keys looked up on a missing object leave qpdf an error to clear,
	 * as the reader clears it after each page. */
	if (qpdf_has_error(x->q))
		qpdf_get_error(x->q);
	assert_non_null(f);
	return f;
}

static struct pdf_font *load_text(struct fx *x, const char *dict)
{
	return load(x, qpdf_oh_parse(x->q, dict));
}

static void test_simple(void **state)
{
	struct fx x;
	struct pdf_font *f;

	(void)state;
	fx_init(&x);
	/* WinAnsi: ASCII as itself, Latin-1 above 0xA0, nothing below 0x20. */
	f = load_text(&x, "<< /Type /Font /Subtype /TrueType /BaseFont /Arial "
		      "/Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 34 /Widths [278 355 556] "
		      "/FontDescriptor << /Flags 32 /MissingWidth 250 >> >>");
	assert_null(f->bad);
	assert_int_equal(f->cid, 0);
	assert_int_equal(f->simple['A'], 'A');
	assert_int_equal(f->simple['7'], '7');
	assert_int_equal(f->simple[0xE9], 0xE9);
	assert_int_equal(f->simple[0x10], PDF_FONT_NONE);
	assert_true(pdf_font_width(f, ' ') == 278);
	assert_true(pdf_font_width(f, '"') == 556);
	assert_true(pdf_font_width(f, 'A') == 250);
	pdf_font_free(f);

	/* Standard and MacRoman: high codes are some non-key character. */
	f = load_text(&x, "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman "
		      "/Encoding /MacRomanEncoding >>");
	assert_null(f->bad);
	assert_int_equal(f->simple['z'], 'z');
	assert_int_equal(f->simple[0xE9], 0xFFFD);
	/* No /Widths: half an em for every code. */
	assert_true(pdf_font_width(f, 'z') == 500);
	pdf_font_free(f);

	/* Differences over WinAnsi: glyph names of the characters keys are
	 * made of, uniXXXX and uXXXX[XX]; any other name is not known. */
	f = load_text(&x, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding "
		      "<< /BaseEncoding /WinAnsiEncoding /Differences [48 /zero /one /uni0032 "
		      "/u1F600 /g3 /Adieresis /uniD800 /uni00410042 /hyphen 300 /A 65 /B] >> >>");
	assert_null(f->bad);
	assert_int_equal(f->simple[48], '0');
	assert_int_equal(f->simple[49], '1');
	assert_int_equal(f->simple[50], '2');
	assert_int_equal(f->simple[51], 0x1F600);
	assert_int_equal(f->simple[52], PDF_FONT_BAD);
	assert_int_equal(f->simple[53], PDF_FONT_BAD);
	assert_int_equal(f->simple[54], PDF_FONT_BAD);
	assert_int_equal(f->simple[55], PDF_FONT_BAD);
	assert_int_equal(f->simple[56], '-');
	assert_int_equal(f->simple[57], '9'); /* the base encoding again */
	assert_int_equal(f->simple[65], 'B');
	assert_int_equal(f->simple[0xE9], 0xE9);
	pdf_font_free(f);

	/* An encoding the reader does not know, as a name or as the base. */
	f = load_text(&x, "<< /Type /Font /Subtype /Type1 /BaseFont /X /Encoding /PDFDocEncoding >>");
	assert_int_equal(f->simple['A'], PDF_FONT_BAD);
	pdf_font_free(f);
	f = load_text(&x, "<< /Type /Font /Subtype /Type1 /BaseFont /X /Encoding "
		      "<< /BaseEncoding /Custom /Differences [65 /A] >> >>");
	assert_int_equal(f->simple['A'], PDF_FONT_BAD);
	pdf_font_free(f);
	fx_free(&x);
}

/* A font without /Encoding uses its own: right for a non-symbolic font,
 * anything for a symbolic one. */
static void test_builtin_encoding(void **state)
{
	struct fx x;
	struct pdf_font *f;

	(void)state;
	fx_init(&x);
	f = load_text(&x, "<< /Type /Font /Subtype /TrueType /BaseFont /ABC+Font "
		      "/FontDescriptor << /Flags 32 >> >>");
	assert_int_equal(f->simple['K'], 'K');
	pdf_font_free(f);
	f = load_text(&x, "<< /Type /Font /Subtype /TrueType /BaseFont /ABC+Font "
		      "/FontDescriptor << /Flags 4 >> >>");
	assert_int_equal(f->simple['K'], PDF_FONT_BAD);
	pdf_font_free(f);
	/* Symbolic and non-symbolic both set: not symbolic. */
	f = load_text(&x, "<< /Type /Font /Subtype /TrueType /BaseFont /ABC+Font "
		      "/FontDescriptor << /Flags 36 >> >>");
	assert_int_equal(f->simple['K'], 'K');
	pdf_font_free(f);
	f = load_text(&x, "<< /Type /Font /Subtype /Type1 /BaseFont /ZapfDingbats >>");
	assert_int_equal(f->simple['K'], PDF_FONT_BAD);
	pdf_font_free(f);
	f = load_text(&x, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
	assert_null(f->bad);
	assert_int_equal(f->simple['K'], 'K');
	pdf_font_free(f);
	fx_free(&x);
}

/* A ToUnicode CMap comes first, for simple fonts too. */
static void test_tounicode(void **state)
{
	struct fx x;
	struct pdf_font *f;
	qpdf_oh fo;

	(void)state;
	fx_init(&x);
	fo = qpdf_oh_parse(x.q, "<< /Type /Font /Subtype /TrueType /BaseFont /F "
			   "/Encoding /WinAnsiEncoding >>");
	qpdf_oh_replace_key(x.q, fo, "/ToUnicode",
			    stream(&x, "1 beginbfchar <41> <0058> endbfchar", NULL, NULL));
	f = load(&x, fo);
	assert_null(f->bad);
	assert_non_null(f->tu);
	assert_int_equal(pdf_cmap_get(f->tu, 0x41), 'X');
	assert_int_equal(x.dec.calls, 1);
	assert_true(x.bud.entries == 1);
	pdf_font_free(f);
	fx_free(&x);
}

static void test_type3(void **state)
{
	struct fx x;
	struct pdf_font *f;

	(void)state;
	fx_init(&x);
	f = load_text(&x, "<< /Type /Font /Subtype /Type3 /FontMatrix [0.001 0 0 0.001 0 0] "
		      "/CharProcs << >> /Encoding << /Differences [65 /A] >> >>");
	assert_string_equal(f->bad, "a Type3 font");
	pdf_font_free(f);
	f = load_text(&x, "[ /Not /A /Font ]");
	assert_string_equal(f->bad, "a font that is not a dictionary");
	pdf_font_free(f);
	fx_free(&x);
}

/* A Type0 font from its parts: encoding (an object in text, or a CMap
 * stream when cmap is not NULL), ToUnicode text (or none), descendant. */
static struct pdf_font *type0(struct fx *x, const char *encoding, const char *cmap,
			      const char *tu, const char *tu_filter, const char *desc)
{
	qpdf_oh fo = qpdf_oh_parse(x->q, "<< /Type /Font /Subtype /Type0 /BaseFont /F >>");

	if (cmap)
		qpdf_oh_replace_key(x->q, fo, "/Encoding", stream(x, cmap, encoding, NULL));
	else if (encoding)
		qpdf_oh_replace_key(x->q, fo, "/Encoding", qpdf_oh_parse(x->q, encoding));
	if (tu)
		qpdf_oh_replace_key(x->q, fo, "/ToUnicode", stream(x, tu, NULL, tu_filter));
	if (desc) {
		qpdf_oh a = qpdf_oh_new_array(x->q);
		qpdf_oh_append_item(x->q, a, qpdf_oh_parse(x->q, desc));
		qpdf_oh_replace_key(x->q, fo, "/DescendantFonts", a);
	}
	return load(x, fo);
}

static void test_type0(void **state)
{
	struct fx x;
	struct pdf_font *f;

	(void)state;
	fx_init(&x);
	f = type0(&x, "/Identity-H", NULL, tounicode, NULL,
		  "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /F /DW 900 "
		  "/W [1 [500 600] 10 20 700 30 [] 40] >>");
	assert_null(f->bad);
	assert_int_equal(f->cid, 1);
	assert_int_equal(f->identity, 1);
	assert_int_equal(f->vertical, 0);
	assert_int_equal(pdf_cmap_get(f->tu, 1), 0x5B9B);
	assert_true(pdf_font_width(f, 1) == 500);
	assert_true(pdf_font_width(f, 2) == 600);
	assert_true(pdf_font_width(f, 3) == 900);
	assert_true(pdf_font_width(f, 10) == 700);
	assert_true(pdf_font_width(f, 15) == 700);
	assert_true(pdf_font_width(f, 20) == 700);
	assert_true(pdf_font_width(f, 21) == 900);
	assert_true(pdf_font_width(f, 40) == 900);
	pdf_font_free(f);

	/* Vertical; no /DW: 1000. */
	f = type0(&x, "/Identity-V", NULL, tounicode, NULL,
		  "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /F >>");
	assert_null(f->bad);
	assert_int_equal(f->vertical, 1);
	assert_true(pdf_font_width(f, 1) == 1000);
	pdf_font_free(f);

	/* A named CMap that is not Identity: the ToUnicode's codespace gives
	 * the code lengths, and without one the font cannot be read. */
	f = type0(&x, "/UniJIS-UCS2-H", NULL, tounicode, NULL, NULL);
	assert_null(f->bad);
	assert_int_equal(f->identity, 0);
	assert_ptr_equal(f->enc, f->tu);
	assert_int_equal(pdf_cmap_code_len(f->enc, (const uint8_t *)"\x00\x01", 2), 2);
	pdf_font_free(f);
	f = type0(&x, "/UniJIS-UCS2-H", NULL, no_codespace, NULL, NULL);
	assert_string_equal(f->bad, "a CMap without codespace ranges");
	pdf_font_free(f);

	/* An embedded encoding CMap, vertical by its /WMode. */
	f = type0(&x, "<< /WMode 1 >>", "1 begincodespacerange <00> <7F> endcodespacerange "
		  "1 begincodespacerange <8140> <9FFC> endcodespacerange", tounicode, NULL, NULL);
	assert_null(f->bad);
	assert_int_equal(f->vertical, 1);
	assert_int_equal(f->enc->ncs, 2);
	assert_int_equal(pdf_cmap_code_len(f->enc, (const uint8_t *)"A", 1), 1);
	assert_int_equal(pdf_cmap_code_len(f->enc, (const uint8_t *)"\x81\x40", 2), 2);
	pdf_font_free(f);
	f = type0(&x, "<< /WMode 0 >>", "% no ranges", tounicode, NULL, NULL);
	assert_string_equal(f->bad, "an encoding CMap that cannot be read");
	pdf_font_free(f);
	fx_free(&x);
}

/* What the reader must not guess at. */
static void test_type0_refused(void **state)
{
	struct fx x;
	struct pdf_font *f;

	(void)state;
	fx_init(&x);
	f = type0(&x, "/Identity-H", NULL, NULL, NULL, NULL);
	assert_string_equal(f->bad, "a Type0 font without ToUnicode");
	pdf_font_free(f);
	f = type0(&x, NULL, NULL, tounicode, NULL, NULL);
	assert_string_equal(f->bad, "a Type0 font without an encoding");
	pdf_font_free(f);
	/* A ToUnicode stream with a filter not decoded here. */
	f = type0(&x, "/Identity-H", NULL, tounicode, "/JBIG2Decode", NULL);
	assert_string_equal(f->bad, "a ToUnicode CMap that cannot be decoded");
	pdf_font_free(f);
	/* Past the decoder's cap. */
	x.dec.cap = 16;
	f = type0(&x, "/Identity-H", NULL, tounicode, NULL, NULL);
	assert_string_equal(f->bad, "a ToUnicode CMap beyond the limits");
	pdf_font_free(f);
	x.dec.cap = (size_t)1 << 20;
	/* Past the document's CMap budget. */
	x.bud.entries = PDF_CMAP_MAP_BUDGET;
	f = type0(&x, "/Identity-H", NULL, tounicode, NULL, NULL);
	assert_string_equal(f->bad, "a ToUnicode CMap beyond the limits");
	pdf_font_free(f);
	fx_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_builtin_encoding),
		cmocka_unit_test(test_tounicode),
		cmocka_unit_test(test_type3),
		cmocka_unit_test(test_type0),
		cmocka_unit_test(test_type0_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
