/*
 * pdf_font.c — font dictionaries for the text reader (see pdf_font.h):
 * simple fonts (standard encodings, /Differences with Adobe Glyph List
 * names of the characters keys are made of, /Widths), composite fonts
 * (Identity or embedded encoding CMaps, /W and /DW), ToUnicode CMaps
 * parsed by pdf_cmap.c; Type3 fonts and what else is not certain are
 * marked undecodable.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §9.6, §9.7, §9.10, Annex D.
 */
#include <stdlib.h>
#include <string.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_cmap.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_font.h"

void pdf_font_free(struct pdf_font *f)
{
	if (!f)
		return;
	pdf_cmap_free(f->tu);
	if (f->enc != f->tu)
		pdf_cmap_free(f->enc);
	free(f->w);
	free(f);
}

static int wr_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct pdf_font_wrange *)a)->lo;
	uint32_t y = ((const struct pdf_font_wrange *)b)->lo;
	return x < y ? -1 : x > y;
}
/* Glyph names that stand for ASCII characters keys are made of, and the
 * punctuation around them (Adobe Glyph List names). */
static const struct {
	const char *name;
	char c;
} glyph_ascii[] = {
	{ "space", ' ' }, { "exclam", '!' }, { "quotedbl", '"' }, { "numbersign", '#' },
	{ "dollar", '$' }, { "percent", '%' }, { "ampersand", '&' }, { "quotesingle", '\'' },
	{ "quoteright", '\'' }, { "parenleft", '(' }, { "parenright", ')' }, { "asterisk", '*' },
	{ "plus", '+' }, { "comma", ',' }, { "hyphen", '-' }, { "period", '.' }, { "slash", '/' },
	{ "zero", '0' }, { "one", '1' }, { "two", '2' }, { "three", '3' }, { "four", '4' },
	{ "five", '5' }, { "six", '6' }, { "seven", '7' }, { "eight", '8' }, { "nine", '9' },
	{ "colon", ':' }, { "semicolon", ';' }, { "less", '<' }, { "equal", '=' },
	{ "greater", '>' }, { "question", '?' }, { "at", '@' }, { "bracketleft", '[' },
	{ "backslash", '\\' }, { "bracketright", ']' }, { "asciicircum", '^' },
	{ "underscore", '_' }, { "grave", '`' }, { "quoteleft", '`' }, { "braceleft", '{' },
	{ "bar", '|' }, { "braceright", '}' }, { "asciitilde", '~' },
};

/* A glyph name's code point, or PDF_FONT_BAD. */
static uint32_t glyph_cp(const char *n)
{
	size_t len = strlen(n);

	if (len == 1 && ((n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z')))
		return (uint8_t)n[0];
	for (size_t i = 0; i < ARRAY_SIZE(glyph_ascii); i++)
		if (strcmp(n, glyph_ascii[i].name) == 0)
			return (uint8_t)glyph_ascii[i].c;
	if ((len == 7 && strncmp(n, "uni", 3) == 0) ||
	    (len >= 5 && len <= 7 && n[0] == 'u' && n[1] != 'n')) {
		uint32_t v = 0;
		for (size_t i = len == 7 && n[1] == 'n' ? 3 : 1; i < len; i++) {
			int h = hex_value((uint8_t)n[i]);
			if (h < 0)
				return PDF_FONT_BAD;
			v = v << 4 | (uint32_t)h;
		}
		if (v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
			return PDF_FONT_BAD;
		return v;
	}
	return PDF_FONT_BAD;
}

/* The base of a standard encoding: ASCII as itself; Latin-1 above 0xA0 for
 * WinAnsi; other high codes stand for some non-key character. */
static void encoding_base(struct pdf_font *f, int winansi)
{
	for (int c = 0; c < 256; c++) {
		if (c < 0x20)
			f->simple[c] = PDF_FONT_NONE;
		else if (c < 0x7F)
			f->simple[c] = (uint32_t)c;
		else if (winansi && c >= 0xA0)
			f->simple[c] = (uint32_t)c;
		else
			f->simple[c] = 0xFFFD;
	}
}

static int std_encoding_name(const char *n, int *winansi)
{
	*winansi = strcmp(n, "/WinAnsiEncoding") == 0;
	return *winansi || strcmp(n, "/StandardEncoding") == 0 || strcmp(n, "/MacRomanEncoding") == 0;
}

static void font_simple(qpdf_data q, qpdf_oh fo, struct pdf_font *f, int type1)
{
	qpdf_oh enc = qpdf_oh_get_key(q, fo, "/Encoding");
	qpdf_oh fd = qpdf_oh_get_key(q, fo, "/FontDescriptor");
	qpdf_oh wa = qpdf_oh_get_key(q, fo, "/Widths");
	int winansi = 0, first, n;
	double missing = 0;

	if (qpdf_oh_is_dictionary(q, fd)) {
		qpdf_oh mw = qpdf_oh_get_key(q, fd, "/MissingWidth");
		if (qpdf_oh_is_number(q, mw))
			missing = qpdf_oh_get_numeric_value(q, mw);
	}
	if (qpdf_oh_is_array(q, wa)) {
		first = qpdf_oh_get_int_value_as_int(q, qpdf_oh_get_key(q, fo, "/FirstChar"));
		n = qpdf_oh_get_array_n_items(q, wa);
		for (int c = 0; c < 256; c++)
			f->widths[c] = (float)missing;
		for (int i = 0; i < n && i < 256; i++) {
			qpdf_oh w = qpdf_oh_get_array_item(q, wa, i);
			long long c = (long long)first + i;
			if (c >= 0 && c < 256 && qpdf_oh_is_number(q, w))
				f->widths[c] = (float)qpdf_oh_get_numeric_value(q, w);
		}
	} else {
		/* A standard font without widths: half an em is near enough
		 * for gaps between strings. */
		for (int c = 0; c < 256; c++)
			f->widths[c] = 500;
	}

	if (qpdf_oh_is_name(q, enc)) {
		if (!std_encoding_name(qpdf_oh_get_name(q, enc), &winansi)) {
			for (int c = 0; c < 256; c++)
				f->simple[c] = PDF_FONT_BAD;
			return;
		}
		encoding_base(f, winansi);
		return;
	}
	if (qpdf_oh_is_dictionary(q, enc)) {
		qpdf_oh base = qpdf_oh_get_key(q, enc, "/BaseEncoding");
		qpdf_oh diff = qpdf_oh_get_key(q, enc, "/Differences");
		int code = -1;
		if (qpdf_oh_is_name(q, base) && !std_encoding_name(qpdf_oh_get_name(q, base), &winansi)) {
			for (int c = 0; c < 256; c++)
				f->simple[c] = PDF_FONT_BAD;
			return;
		}
		encoding_base(f, winansi);
		n = qpdf_oh_is_array(q, diff) ? qpdf_oh_get_array_n_items(q, diff) : 0;
		for (int i = 0; i < n && i < 4096; i++) {
			qpdf_oh d = qpdf_oh_get_array_item(q, diff, i);
			if (qpdf_oh_is_integer(q, d)) {
				long long v = qpdf_oh_get_int_value(q, d);
				code = v >= 0 && v < 256 ? (int)v : -1;
			} else if (qpdf_oh_is_name(q, d) && code >= 0 && code < 256) {
				f->simple[code++] = glyph_cp(qpdf_oh_get_name(q, d) + 1);
			}
		}
		return;
	}
	/* No encoding: the font's own.  Right for a non-symbolic font (the
	 * standard encoding); a symbolic font's codes mean anything. */
	{
		int symbolic = 0;
		const char *bn = qpdf_oh_is_name(q, qpdf_oh_get_key(q, fo, "/BaseFont"))
			? qpdf_oh_get_name(q, qpdf_oh_get_key(q, fo, "/BaseFont")) : "";
		if (qpdf_oh_is_dictionary(q, fd)) {
			long long flags = qpdf_oh_get_int_value(q, qpdf_oh_get_key(q, fd, "/Flags"));
			symbolic = (flags & 4) && !(flags & 32);
		}
		if (type1 && (strcmp(bn, "/Symbol") == 0 || strcmp(bn, "/ZapfDingbats") == 0))
			symbolic = 1;
		if (symbolic) {
			for (int c = 0; c < 256; c++)
				f->simple[c] = PDF_FONT_BAD;
			return;
		}
		encoding_base(f, 0);
	}
}

static void font_cid_widths(qpdf_data q, qpdf_oh desc, struct pdf_font *f)
{
	qpdf_oh dw = qpdf_oh_get_key(q, desc, "/DW");
	qpdf_oh wa = qpdf_oh_get_key(q, desc, "/W");
	size_t cap = 0;
	int n, i = 0;

	f->dw = qpdf_oh_is_number(q, dw) ? qpdf_oh_get_numeric_value(q, dw) : 1000;
	if (!qpdf_oh_is_array(q, wa))
		return;
	n = qpdf_oh_get_array_n_items(q, wa);
	while (i < n && f->nw < PDF_FONT_W_MAX) {
		qpdf_oh a = qpdf_oh_get_array_item(q, wa, i);
		qpdf_oh b = i + 1 < n ? qpdf_oh_get_array_item(q, wa, i + 1) : 0;
		long long c0;
		if (!qpdf_oh_is_integer(q, a) || !b)
			break;
		c0 = qpdf_oh_get_int_value(q, a);
		if (c0 < 0 || c0 > 0xFFFFFFFFLL)
			break;
		if (qpdf_oh_is_array(q, b)) {
			/* c [w0 w1 ...] */
			int m = qpdf_oh_get_array_n_items(q, b);
			for (int j = 0; j < m && f->nw < PDF_FONT_W_MAX && c0 + j <= 0xFFFFFFFFLL; j++) {
				if (f->nw == cap) {
					cap = cap ? cap * 2 : 64;
					f->w = xrealloc(f->w, cap * sizeof *f->w);
				}
				f->w[f->nw].lo = f->w[f->nw].hi = (uint32_t)(c0 + j);
				f->w[f->nw].w = (float)qpdf_oh_get_numeric_value(q,
					qpdf_oh_get_array_item(q, b, j));
				f->nw++;
			}
			qpdf_oh_release(q, b);
			i += 2;
		} else {
			/* c_first c_last w */
			qpdf_oh c = i + 2 < n ? qpdf_oh_get_array_item(q, wa, i + 2) : 0;
			long long c1 = qpdf_oh_get_int_value(q, b);
			if (!c || c1 < c0 || c1 > 0xFFFFFFFFLL)
				break;
			if (f->nw == cap) {
				cap = cap ? cap * 2 : 64;
				f->w = xrealloc(f->w, cap * sizeof *f->w);
			}
			f->w[f->nw].lo = (uint32_t)c0;
			f->w[f->nw].hi = (uint32_t)c1;
			f->w[f->nw].w = (float)qpdf_oh_get_numeric_value(q, c);
			f->nw++;
			qpdf_oh_release(q, c);
			i += 3;
		}
		qpdf_oh_release(q, a);
	}
	if (f->nw > 1)
		qsort(f->w, f->nw, sizeof *f->w, wr_cmp);
}

/* Read a font dictionary.  Never fails: what cannot be decoded is noted
 * in f->bad (or as PDF_FONT_BAD codes) and surfaces when text is shown. */
struct pdf_font *pdf_font_load(qpdf_data q, qpdf_oh fo, pdf_font_decode_fn decode, void *ctx,
			       struct buf *tmp, struct pdf_cmap_budget *bud)
{
	struct pdf_font *f = xcalloc(1, sizeof *f);
	qpdf_oh st = qpdf_oh_get_key(q, fo, "/Subtype");
	qpdf_oh tu = qpdf_oh_get_key(q, fo, "/ToUnicode");
	char sub[128];
	int rc;

	/* A copy: qpdf's name buffer is reused by the next call (decoding
	 * the CMap reads the names of its filters). */
	str_copy(sub, qpdf_oh_is_name(q, st) ? qpdf_oh_get_name(q, st) : "", sizeof sub);

	if (!qpdf_oh_is_dictionary(q, fo)) {
		f->bad = "a font that is not a dictionary";
		return f;
	}
	if (strcmp(sub, "/Type3") == 0) {
		f->bad = "a Type3 font";
		return f;
	}
	if (qpdf_oh_is_stream(q, tu)) {
		rc = decode(ctx, tu, "a ToUnicode CMap", tmp);
		if (rc != PDF_DECODE_OK) {
			f->bad = rc == PDF_DECODE_LIMIT ? "a ToUnicode CMap beyond the limits" :
							   "a ToUnicode CMap that cannot be decoded";
			return f;
		}
		if (tmp->len > PDF_CMAP_BYTES || pdf_cmap_parse(tmp->data, tmp->len, bud, &f->tu) < 0)
			f->bad = "a ToUnicode CMap beyond the limits";
		if (f->bad)
			return f;
	}
	if (strcmp(sub, "/Type0") == 0) {
		qpdf_oh enc = qpdf_oh_get_key(q, fo, "/Encoding");
		qpdf_oh desc = qpdf_oh_get_array_item(q, qpdf_oh_get_key(q, fo, "/DescendantFonts"), 0);
		f->cid = 1;
		if (!f->tu) {
			f->bad = "a Type0 font without ToUnicode";
			return f;
		}
		if (qpdf_oh_is_name(q, enc)) {
			const char *en = qpdf_oh_get_name(q, enc);
			size_t el = strlen(en);
			f->identity = strcmp(en, "/Identity-H") == 0 || strcmp(en, "/Identity-V") == 0;
			f->vertical = el >= 2 && strcmp(en + el - 2, "-V") == 0;
			if (!f->identity)
				f->enc = f->tu; /* its codespace is the best guide there is */
		} else if (qpdf_oh_is_stream(q, enc)) {
			qpdf_oh wm = qpdf_oh_get_key(q, qpdf_oh_get_dict(q, enc), "/WMode");
			f->vertical = qpdf_oh_get_int_value(q, wm) == 1;
			rc = decode(ctx, enc, "an encoding CMap", tmp);
			if (rc != PDF_DECODE_OK || tmp->len > PDF_CMAP_BYTES ||
			    pdf_cmap_parse(tmp->data, tmp->len, bud, &f->enc) < 0 || !f->enc->ncs)
				f->bad = "an encoding CMap that cannot be read";
			if (f->bad)
				return f;
		} else {
			f->bad = "a Type0 font without an encoding";
			return f;
		}
		if (f->enc && !f->enc->ncs) {
			f->bad = "a CMap without codespace ranges";
			return f;
		}
		if (qpdf_oh_is_dictionary(q, desc))
			font_cid_widths(q, desc, f);
		else
			f->dw = 1000;
		return f;
	}
	font_simple(q, fo, f, strcmp(sub, "/Type1") == 0 || strcmp(sub, "/MMType1") == 0);
	return f;
}

