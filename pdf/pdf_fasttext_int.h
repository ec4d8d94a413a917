/*
 * pdf_fasttext_int.h — private to the text reader: what its pieces share.
 * pdf_fasttext.c (the handle, one page, bounded decoding), pdf_content.c
 * (the content-stream interpreter) and pdf_fasttext_each.c (threads, and
 * poppler for the pages not decodable here) work on these structures;
 * nothing else may include this header: pdf_fasttext.h is the API.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.8.2, §8.2, §9.3, §9.4.
 */
#ifndef TAYORI_PDF_FASTTEXT_INT_H
#define TAYORI_PDF_FASTTEXT_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_cmap.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_font.h"
#include "pdf/pdf_lex.h"
#include "pdf/pdf_fasttext.h"

/* Bounds.  Hitting one makes the page undecodable (poppler reads it),
 * never a failure: they only stop hostile input from costing much. */
#define FT_OPERANDS     32                  /* kept operands before an operator */
#define FT_ELEMS        65536               /* elements of one array operand */
#define FT_SCRATCH_MAX  ((size_t)64 << 20)  /* string bytes before one operator */
#define FT_GSTACK       32                  /* q nesting tracked (deeper: ignored) */
#define FT_FORM_DEPTH   8                   /* nested form XObjects */
#define FT_FORMS_PAGE   1024                /* forms run on one page */
#define FT_LEXED_PAGE   ((size_t)256 << 20) /* content bytes read for one page */
#define FT_FONTS_MAX    4096                /* fonts cached per handle */
#define FT_PAGE_FONTS   64                  /* uncached (direct) fonts per page */
#define FT_NAMECACHE    16                  /* resolved font names per content */
#define FT_RES_DEPTH    32                  /* /Parent levels for /Resources */
#define FT_NAME_MAX     PDF_LEX_NAME_MAX    /* bytes of a name kept */
#define FT_KEEP_MAX     ((size_t)4 << 20)   /* decode buffers kept between pages */

/* Pages read through one qpdf handle before a fresh one takes over (see
 * pdf_split_write.c's SPLITTER_REOPEN_PAGES: qpdf keeps what it parsed). */
#define FT_REOPEN_PAGES 1000

/* One qpdf handle with its font cache and buffers (one thread at a time). */
struct pdf_fasttext {
	qpdf_data q;
	int npages;
	int (*page_ids)[2];      /* each page's object number and generation */
	int pages_read;          /* since q was opened */
	const uint8_t *data;     /* the input, to open it again */
	size_t len;
	char *password;
	GHashTable *fonts;       /* (id << 32 | gen) -> struct pdf_font * */
	struct pdf_cmap_budget bud;
	struct buf scratch;      /* lexer scratch, reused page after page */
	struct buf out;          /* raw text of the page */
	struct lexop {           /* operand stack */
		enum pdf_tok t;
		double num;
		size_t off, len;     /* strings, names: scratch; arrays: elems */
	} ops[FT_OPERANDS];
	struct lexop *elems;     /* [FT_ELEMS], elements of the array operand */
	/* Bounded decoding (pdf_decode.h), into buffers reused page after
	 * page: the page's content, each level of forms, one CMap. */
	struct pdf_limits lim;
	struct pdf_decoder *dec;
	struct buf content, part, cmapbuf;
	struct buf forms[FT_FORM_DEPTH];
	atomic_size_t own_decoded;
	atomic_size_t *decoded;  /* decoded bytes of the document, all handles */
	GHashTable *gated;       /* stream (id << 32 | gen) -> decoded size + 1, 0 unsafe */
	int refused;             /* the page was refused: refusal says why */
	struct error refusal;
};

/* The text state that q and Q save (§8.4.1, §9.3). */
struct gstate {
	struct pdf_font *font;
	double fs, tc, tw, th, tl;
	unsigned ctm;            /* which CTM: changed by cm, forms */
};

/* The reading of one page. */
struct page_run {
	struct pdf_fasttext *ft;
	const char *bad;         /* why the page is undecodable, or NULL */
	struct gstate gs[FT_GSTACK];
	int gsd, gsover;
	unsigned ctm_next;
	double tm[6], tlm[6];
	/* where the last shown string ended (text space origin, user space) */
	int have_prev;
	double px, py;
	unsigned pctm;
	int sep;                 /* 0, ' ' or '\n' owed before the next char */
	int full;                /* out reached PDF_TEXT_PAGE_MAX */
	size_t lexed;
	int page;                /* 1-based, for refusals */
	size_t decoded;          /* bytes decoded for this page */
	int forms, depth;
	int form_ids[FT_FORM_DEPTH];
	struct pdf_font *owned[FT_PAGE_FONTS];  /* direct fonts, freed after the page */
	int nowned;
};

/* The first reason the page cannot be read here is the one kept. */
static inline void ft_set_bad(struct page_run *r, const char *why)
{
	if (!r->bad)
		r->bad = why;
}

/* An indirect object's number and generation as one key. */
static inline uint64_t ft_obj_key(qpdf_data q, qpdf_oh o)
{
	return (uint64_t)(uint32_t)qpdf_oh_get_object_id(q, o) << 32 |
	       (uint32_t)qpdf_oh_get_generation(q, o);
}

/* Start reading page (1-based) of ft into r. */
void pdf_fasttext_run_init(struct page_run *r, struct pdf_fasttext *ft, int page);

/*
 * Decode stream s for page r into out (NULL: count only) within the
 * limits: one stream at most stream_max, the page's streams together at
 * most page_max, the document's at most doc_max.  Returns a
 * pdf_decode_rc; PDF_DECODE_LIMIT refuses the page (the whole input):
 * r->ft->refused is set and r->ft->refusal names the page, what was
 * decoded and the setting.
 */
int pdf_fasttext_decode(struct page_run *r, qpdf_oh s, const char *what, struct buf *out);

/*
 * Run the content stream data[0..len) with resources res for r (in
 * pdf_content.c): the text it shows is appended to r->ft->out; what makes
 * the page undecodable is noted in r->bad.
 */
void pdf_content_run(struct page_run *r, const uint8_t *data, size_t len, qpdf_oh res);

#endif
