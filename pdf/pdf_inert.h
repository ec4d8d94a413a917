/*
 * pdf_inert.h — what a resident's notice must not carry, and the notice
 * made inert before it is signed.  Runs in the gateway and the `tayori
 * pdf` commands, on attacker-influenced input (a staff PDF may come from
 * anywhere).  Standards: ISO 32000-1 §12.6 (actions, trigger events),
 * §12.5.6 (annotation types), §7.7.4 (name dictionary), §12.7.8 (XFA),
 * §7.11.4 (embedded files).
 *
 * A notice is text and pictures under a signature; a viewer that runs
 * what the file asks would run it in the ward office's name.  So every
 * resident's file keeps, of all actions (§12.6.4), only:
 *   - GoTo (a destination in the same file: links inside the notice),
 *   - URI whose URI begins with http:// or https:// (links to the web;
 *     javascript:, file:, data:, mailto: and the rest are removed),
 *   - Named with NextPage, PrevPage, FirstPage or LastPage;
 * and a kept action loses its /Next chain.  Removed are the actions
 * JavaScript, Launch, SubmitForm, ResetForm, ImportData, GoToR, GoToE,
 * GoToDp, Thread, Sound, Movie, Hide, SetOCGState, Rendition, Trans,
 * GoTo3DView, RichMediaExecute and any type this list does not name;
 * every /AA (additional actions: page open/close, annotation and form
 * field triggers, document triggers; also those of form fields that no
 * page shows, which calculation scripts run), the document's /OpenAction unless it
 * is a kept action or a plain destination, the /JavaScript name tree, XFA
 * forms (they carry scripts), the annotations that play media or carry
 * files (FileAttachment, Sound, Movie, Screen, RichMedia, 3D), and the
 * document's embedded files (/Names /EmbeddedFiles, /AF, /Collection,
 * any file specification with /EF): a viewer opens an attachment in one click,
 * and one signed by the ward office (an .exe, a macro document) would be
 * trusted as if the office had sent it.  Outlines, named destinations
 * and form field trees go too, since a rewritten notice is its pages
 * (pdf_copy.h).
 *
 * How: the splitter's writer (pdf_copy_obj.c) leaves all of this out of every
 * file it writes, and says what it left out (struct pdf_removed).  A PDF
 * given whole (one per resident, or the common one) is signed as it is
 * when it holds none of it; otherwise pdf_inert_rewrite() writes it anew,
 * all its pages through the same writer, and the new file is signed.
 */
#ifndef TAYORI_PDF_INERT_H
#define TAYORI_PDF_INERT_H

#include <stddef.h>
#include <stdint.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"

/* Where something was removed from. */
enum pdf_inert_where {
	PDF_W_DOC_OPENACTION = 0,  /* document: /OpenAction */
	PDF_W_DOC_AA,              /* document: the catalog's /AA */
	PDF_W_DOC_JAVASCRIPT,      /* document: /Names /JavaScript */
	PDF_W_DOC_EMBEDDED,        /* document: /Names /EmbeddedFiles */
	PDF_W_DOC_XFA,             /* document: /AcroForm /XFA */
	PDF_W_DOC_OUTLINE,         /* document: an outline item's /A */
	PDF_W_DOC_FIELD_AA,        /* document: a form field's /AA */
	PDF_W_DOC_FIELD_A,         /* document: a form field's /A */
	PDF_W_DOC_FILES,           /* document: /AF or /Collection (files) */
	PDF_W_PAGE_AA,             /* a page's /AA (the first of the pages) */
	PDF_W_ANNOT_AA,            /* an annotation's or form field's /AA */
	PDF_W_ANNOT_ACTION,        /* an annotation's /A or /PA */
	PDF_W_NEXT,                /* an action's /Next chain */
	PDF_W_ACTION,              /* an action object reached otherwise */
	PDF_W_ANNOT,               /* an annotation of a removed type */
	PDF_W_FILE,                /* an embedded file (a file specification with /EF) */
	PDF_W_COUNT
};

/* What was removed: an action type or an annotation type (an index into a
 * table of names, pdf_inert_what_name()). */
int pdf_inert_what_count(void);
const char *pdf_inert_what_name(int what);

struct pdf_removal {
	uint8_t where, what;
	int page;                 /* 1-based in the new file; 0: the document */
};

/* What one file lost, each (where, what) once with the first page it was
 * found on.  Past PDF_REMOVED_MAX kinds, the rest are counted in more. */
#define PDF_REMOVED_MAX 48
struct pdf_removed {
	struct pdf_removal v[PDF_REMOVED_MAX];
	size_t n;
	size_t more;
};

void pdf_removed_add(struct pdf_removed *r, int where, int what, int page);

/* "page 2: annotation JavaScript action", "document: JavaScript name
 * tree" (no page with page_too 0: the same words for every page). */
void pdf_removal_label(const struct pdf_removal *x, int page_too, char *out, size_t outsize);

/*
 * The verdict on one object of q (resolved if indirect): -1 to keep it,
 * else the "what" of the removal.  strict: oh stands where an action must
 * be (/A, /PA, /Next, /OpenAction, an /AA entry), so anything but a kept
 * action goes; otherwise a dictionary goes only when it is an action of a
 * removed type, holds /JS, is an annotation of a removed type, or is a
 * file specification with an embedded file (/EF).
 */
int pdf_inert_verdict(qpdf_data q, qpdf_oh oh, int strict);

/* The "what" of an action's /S, for a report of removed /AA entries. */
int pdf_inert_action_what(qpdf_data q, qpdf_oh action);

/* Where a removed object of this "what" is reported when nothing more is
 * known: PDF_W_ANNOT, PDF_W_FILE or PDF_W_ACTION. */
int pdf_inert_where_of(int what);

/* Is this dictionary an action (a name /S that is an action type)? */
int pdf_inert_is_action(qpdf_data q, qpdf_oh d);

/*
 * A whole PDF (data, len; password as for pdf_qpdf_open()) made inert:
 * when it holds anything removed above, out gets a new file (its pages,
 * written by the splitter's writer with nothing active) and r says what went; when it
 * holds nothing, out is left empty (length 0) and r->n is 0, and the
 * caller signs the input as it is.  out's cap bounds the new file.
 * Errors: the input's (a PDF qpdf cannot read), a new file over out's cap.
 */
int pdf_inert_rewrite(const uint8_t *data, size_t len, const char *password, int max_pages,
		      struct buf *out, struct pdf_removed *r, struct error *e);

#endif
