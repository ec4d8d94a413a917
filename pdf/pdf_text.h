/*
 * pdf_text.h — the text on each page of a PDF, for finding resident keys.
 * Uses poppler-glib, which maps glyphs to Unicode through ToUnicode CMaps
 * (CID fonts included); the text is then NFKC-normalised so full-width
 * digits and letters (０１２, ＡＢＣ) read as ASCII.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input (call pdf_check() on it first).  poppler decodes every
 * stream a page uses whole, with no cap: give it only pages whose streams
 * were decoded within [limits] first, as pdf_fasttext_each() does (see
 * pdf_decode.h); never a page straight from an upload.  Standards: ISO
 * 32000-1 §9.10 (extraction of text content), Unicode UAX #15 (NFKC).
 *
 * Threads: a struct pdf_text is one PopplerDocument and belongs to one
 * thread at a time.  To use several threads, open one per thread on the
 * same bytes (pdf_fasttext_each() does that, with this reader as its
 * fallback for pages it cannot decode).  Page numbers are
 * 1-based everywhere.
 */
#ifndef TAYORI_PDF_TEXT_H
#define TAYORI_PDF_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

/* Bytes of normalised text kept per page; longer text is cut at a
 * character boundary (a notice page holds a few kilobytes). */
#define PDF_TEXT_PAGE_MAX ((size_t)1 << 20)
/* Threads a page-text reader starts at most. */
#define PDF_TEXT_THREADS_MAX 8

struct pdf_text;

/*
 * Open len bytes (a PDF accepted by pdf_check()) for text extraction.
 * data must stay valid and unchanged until pdf_text_close(): poppler reads
 * it in place.  password may be NULL.  On success *out is the caller's,
 * freed with pdf_text_close().
 */
int pdf_text_open(const uint8_t *data, size_t len, const char *password,
		  struct pdf_text **out, struct error *e);

/* Number of pages. */
int pdf_text_npages(const struct pdf_text *t);

/*
 * The NFKC-normalised UTF-8 text of page (1-based), NUL-terminated, its
 * length in *len (may be NULL).  The caller frees it with g_free().
 * NULL with e filled when the page cannot be read.
 */
char *pdf_text_page(struct pdf_text *t, int page, size_t *len, struct error *e);

/* Free t and set *t to NULL; NULL and *t == NULL are fine. */
void pdf_text_close(struct pdf_text **t);

/*
 * Called once per page with its normalised text, valid only during the
 * call.  With several threads, calls for different pages run at the same
 * time in different threads, in no particular order: the callback must
 * only touch state that is per page or guarded.  Return 0 to go on, -1
 * (with e filled) to stop everything.
 */
typedef int (*pdf_text_fn)(void *ctx, int page, const char *text, size_t len,
			   struct error *e);

#endif
