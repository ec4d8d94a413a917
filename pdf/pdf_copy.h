/*
 * pdf_copy.h — the splitter's writer: some pages of an open PDF written as
 * a new, complete PDF of their own, optionally with an empty signature
 * already in place for pades_sign_slot().
 * Runs in the gateway and in `tayori pdf split`, on attacker-influenced
 * input.  Standards: ISO 32000-1 §7.3 (object syntax), §7.5 (a full write:
 * header, body, one cross-reference table, trailer), §7.7.3.4 (inherited
 * page attributes), §12.7-12.8 (the signature field, through pades.h).
 *
 * qpdf still reads the input (its parser, its repairs, its decryption);
 * what is ours is the writing.  Each object is turned into PDF bytes once
 * and kept, with the places where it refers to other objects noted, so a
 * font or logo shared by 5,000 residents is serialised once, not 5,000
 * times, and a resident's file is those bytes renumbered: the catalog is
 * 1, the page tree 2, the pages follow in order, then every object they
 * reach, in the order first reached.  qpdf's own page copier took about
 * four fifths of a 5,000-resident batch's writing time.
 *
 * What a new file holds: the pages, with the attributes they inherited
 * (/Resources, /MediaBox, /CropBox, /Rotate) set on each page, and all
 * they reach except their /Parent chain; a reference to a page outside
 * the group, to the input's catalog or to its page tree becomes null, as
 * with qpdf --split-pages, and so does one to an annotation whose /P is
 * such a page.  A form field's /Kids are not followed down: a field or
 * widget is written when the group's pages reach it (a widget, then up
 * through /Parent), so another resident's field value and widget never
 * come along through a field they share.  Stream data is
 * copied as stored (never decoded or re-encoded) with /Length set to its
 * real length.  Strings and streams of an encrypted input come out
 * decrypted, and the new file is not encrypted.  The input's outline,
 * named destinations, structure tree, metadata and /Info are not carried
 * over: a notice is its pages.  Of its form fields, those the pages'
 * widgets belong to are listed in the new file's /AcroForm (readers show
 * a field's value through its widget, and want it listed there).
 *
 * Nothing active is carried over either (pdf_inert.h says what and why):
 * every /AA is left out, an action that is not kept is left out where it
 * stands (/A, /PA, /Next, an array item, a dictionary value), and an
 * action or annotation of a removed type that is an object of its own
 * becomes null wherever it is referred to, so no reference dangles and an
 * object shared by several pages or residents is judged once.  Each
 * write says what it left out (pdf_copier_removed()).
 *
 * Memory: the kept bytes are capped (PDF_COPY_CACHE); past the cap, after
 * a file is written, the bytes of every object that file did not use are
 * dropped and read again if needed.
 */
#ifndef TAYORI_PDF_COPY_H
#define TAYORI_PDF_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pades.h"
#include "pdf/pdf_inert.h"

#define PDF_COPY_CACHE ((size_t)64 << 20)

struct pdf_copier;

/*
 * A writer for pages of q, which must stay open (and be used by nobody
 * else) until pdf_copier_free() or pdf_copier_set_source().  Errors are
 * the input's (a page tree qpdf cannot read).
 */
int pdf_copier_new(qpdf_data q, struct pdf_copier **out, struct error *e);

/*
 * Read from q from now on: a new handle on the same bytes (qpdf keeps
 * every object it has parsed, about 5 kB per input page; a fresh handle
 * parses only what is used next, so a long batch's memory stays flat).
 * Objects are found by number, so q must hold the very same file.
 */
void pdf_copier_set_source(struct pdf_copier *c, qpdf_data q);
void pdf_copier_free(struct pdf_copier **c);

/* An empty signature to put in a new file (see pades.h). */
struct pdf_copy_sig {
	const struct pades_options *popt;
	int64_t mtime;         /* /M */
	size_t reserve;        /* pades_slot_reserve() */
};

/*
 * Write pages first_page..first_page+count-1 (1-based) as a new PDF into
 * out (which is reset first; its cap bounds the file).  With sig, page 1
 * of the new file carries the signature's widget and *slot says where its
 * /ByteRange and /Contents are.  Errors: pages that do not exist, an
 * object qpdf cannot read (the PDF is damaged), a file over out's cap.
 */
int pdf_copier_write(struct pdf_copier *c, int first_page, int count,
		     const struct pdf_copy_sig *sig, struct buf *out, struct pades_slot *slot,
		     struct error *e);

/* What the last pdf_copier_write() left out, pages numbered as in the new
 * file; valid until the next write. */
const struct pdf_removed *pdf_copier_removed(const struct pdf_copier *c);

#endif
