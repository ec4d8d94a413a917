/*
 * pdf_fasttext.h — the text *content* of PDF pages, fast, for finding
 * resident keys: a small content-stream interpreter on qpdf's object
 * model that decodes shown strings through the fonts' ToUnicode CMaps
 * (parsed once per font and document) or, for simple fonts, their
 * standard encodings.  No layout: words are separated by comparing where
 * each string starts with where the previous one ended (a gap of more
 * than a tenth of the font size is a space, another baseline a newline),
 * so digits printed apart are never glued together.  The result is
 * NFKC-normalised UTF-8, like pdf_text_page() (full-width digits read as
 * ASCII).
 *
 * A page it cannot decode with certainty (a Type3 font, a Type0 font
 * without ToUnicode, a code its CMap does not map, an unknown or symbolic
 * encoding, limits reached, a stream that cannot be decoded) is reported
 * as such, and pdf_fasttext_each() reads that page with poppler instead,
 * but only once every stream the page uses (content, forms, fonts, CMaps,
 * annotation appearances; not images) has been decoded here within the
 * limits; a page with a stream that cannot be decoded here is read as
 * having no text, never given to poppler.
 *
 * Bounded decoding: every stream is decoded by pdf_decode.c, never whole
 * by qpdf, within the process's [limits] (pdf_limits_get()): one stream
 * at most pdf_stream_max, one page's streams together pdf_page_decoded,
 * the document's (all threads) pdf_decoded.  Passing one refuses the
 * input: -1 with e saying "page N: ... ([limits] SETTING)".
 *
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input (call pdf_check() on it first); every buffer, stack,
 * recursion and table is bounded.  Standards: ISO 32000-1 §7.8.2 and
 * §8.2 (content streams, operators), §9.3-9.4 (text state and objects),
 * §9.6-9.7 (simple and composite fonts, CMaps, codespace ranges), §9.10
 * (ToUnicode), §8.10 (form XObjects), §8.9.7 (inline images); Unicode
 * UAX #15 (NFKC).
 *
 * Threads: a struct pdf_fasttext is one qpdf handle plus its font cache
 * and belongs to one thread at a time; open one per thread on the same
 * bytes (pdf_fasttext_each() does).  Page numbers are 1-based.
 */
#ifndef TAYORI_PDF_FASTTEXT_H
#define TAYORI_PDF_FASTTEXT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"
#include "pdf/pdf_text.h"

struct pdf_fasttext;

/*
 * Open len bytes (a PDF accepted by pdf_check()) with qpdf.  data must
 * stay valid and unchanged until pdf_fasttext_close(): qpdf reads it in
 * place.  password may be NULL.  On success *out is the caller's, freed
 * with pdf_fasttext_close().
 */
int pdf_fasttext_open(const uint8_t *data, size_t len, const char *password,
		      struct pdf_fasttext **out, struct error *e);

/* Number of pages. */
int pdf_fasttext_npages(const struct pdf_fasttext *ft);

/* What pdf_fasttext_page() returns besides -1. */
#define PDF_FASTTEXT_OK 0
#define PDF_FASTTEXT_UNDECODABLE 1

/*
 * The text of page (1-based).  Returns PDF_FASTTEXT_OK with *text set to
 * the NFKC-normalised UTF-8 text, NUL-terminated, at most
 * PDF_TEXT_PAGE_MAX bytes before normalisation, its length in *len (len
 * may be NULL); the caller frees *text with g_free().  Returns
 * PDF_FASTTEXT_UNDECODABLE with *text NULL when the page uses something
 * this reader does not decode with certainty (read it with poppler; if
 * why is not NULL, *why is a static English phrase saying what).
 * Returns -1 with e filled for a page number out of range, or when the
 * page's streams pass a limit (a refusal of the input, e->temporary 0).
 */
int pdf_fasttext_page(struct pdf_fasttext *ft, int page, char **text, size_t *len,
		      const char **why, struct error *e);

/* Free ft and set *ft to NULL; NULL and *ft == NULL are fine. */
void pdf_fasttext_close(struct pdf_fasttext **ft);

/* Pages pdf_fasttext_each() has read with poppler in this process so
 * far, all calls together (for tests and benchmarks). */
long pdf_fasttext_fallbacks(void);

/*
 * Extract pages first..first+count-1 (1-based; count 0 means to the last
 * page) in `threads` threads (0: one per online CPU, at most
 * PDF_TEXT_THREADS_MAX; fewer for short documents), each with its own qpdf
 * handle over the same bytes, handing out pages in small chunks; fn as
 * pdf_text_fn (pdf_text.h) describes.  Each page is read here first and only pages reported undecodable are
 * read with poppler (a PopplerDocument opened by the thread that first
 * needs one), once they passed the check described above.  Returns 0, or
 * -1 with the first error (a limit passed, qpdf, poppler or fn).
 */
int pdf_fasttext_each(const uint8_t *data, size_t len, const char *password, int first,
		      int count, int threads, pdf_text_fn fn, void *ctx, struct error *e);

#endif
