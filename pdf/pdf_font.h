/*
 * pdf_font.h — private to the text reader (pdf_fasttext.c and its pieces):
 * what the reader needs of a font dictionary to turn shown codes into
 * text and to place strings: the code -> Unicode map (ToUnicode CMap, or
 * a standard encoding with /Differences for simple fonts), code lengths
 * of composite fonts, glyph widths and the writing mode.  A font that
 * cannot be decoded with certainty says why, so that its page is read
 * with poppler.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §9.6 (simple fonts, standard
 * encodings, Differences), §9.7 (composite fonts, /W, /DW, CMaps), §9.10
 * (ToUnicode); Adobe Glyph List names.
 */
#ifndef TAYORI_PDF_FONT_H
#define TAYORI_PDF_FONT_H

#include <stddef.h>
#include <stdint.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "pdf/pdf_cmap.h"

/* simple[] values besides code points: */
#define PDF_FONT_NONE 0u            /* no glyph: nothing shown */
#define PDF_FONT_BAD  0xFFFFFFFFu   /* unknown: the page is undecodable */

#define PDF_FONT_W_MAX 65536        /* /W ranges of one CID font */

struct pdf_font_wrange {
	uint32_t lo, hi;
	float w;
};

struct pdf_font {
	const char *bad;        /* why the font cannot be decoded (static), or NULL */
	int cid;                /* Type0 */
	int identity;           /* Identity-H/V: two-byte codes, CID = code */
	int vertical;
	struct pdf_cmap *tu;    /* ToUnicode, or NULL */
	struct pdf_cmap *enc;   /* Type0, not Identity: the CMap giving code lengths */
	uint32_t simple[256];   /* simple fonts: code -> Unicode without ToUnicode */
	float widths[256];      /* simple fonts, in glyph space (1/1000) */
	double dw;              /* CID fonts: default width */
	struct pdf_font_wrange *w;  /* CID fonts: /W, sorted */
	size_t nw;
};

/*
 * How the loader gets a stream's decoded bytes (a ToUnicode or encoding
 * CMap): into out, within the caller's limits; returns a pdf_decode_rc
 * (PDF_DECODE_OK, PDF_DECODE_LIMIT, ...).
 */
typedef int (*pdf_font_decode_fn)(void *ctx, qpdf_oh stream, const char *what,
				  struct buf *out);

/*
 * Read the font dictionary fo of q.  Never fails: what cannot be decoded
 * is noted in f->bad (or as PDF_FONT_BAD codes) and surfaces when text is
 * shown.  CMap streams are decoded with decode(ctx, ...) into tmp (a
 * buffer the caller reuses) and parsed within bud.  The result is the
 * caller's, freed with pdf_font_free().
 */
struct pdf_font *pdf_font_load(qpdf_data q, qpdf_oh fo, pdf_font_decode_fn decode, void *ctx,
			       struct buf *tmp, struct pdf_cmap_budget *bud);

/* Free f; NULL is fine. */
void pdf_font_free(struct pdf_font *f);

/* The width of code in glyph space (1/1000 of the font size). */
static inline double pdf_font_width(const struct pdf_font *f, uint32_t code)
{
	if (!f->cid)
		return f->widths[code & 255];
	if (!f->identity)
		return f->dw; /* the CID is not known without the CMap */
	size_t lo = 0, hi = f->nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (code < f->w[mid].lo)
			hi = mid;
		else if (code > f->w[mid].hi)
			lo = mid + 1;
		else
			return f->w[mid].w;
	}
	return f->dw;
}

#endif
