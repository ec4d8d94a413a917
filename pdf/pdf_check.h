/*
 * pdf_check.h — is this upload a PDF tayori will accept?  Refuses empty
 * files, files that are not PDFs (a PNG or an HTML page renamed to .pdf),
 * encrypted PDFs unless a password is configured, and damaged files that
 * qpdf cannot repair.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.5 (file structure: the
 * %PDF- header, cross-reference table, trailer) and §7.6 (encryption).
 *
 * Policy (one clear English line per refusal, no file name in it: the
 * caller prefixes "tayori: IN.pdf: "):
 *   1. zero bytes: "the file is empty";
 *   2. no "%PDF-" within the first 1024 bytes (what ISO 32000-1 and every
 *      reader accept): refused, naming what the bytes look like (a PNG,
 *      JPEG, GIF or TIFF image, an HTML or XML page, a ZIP archive such as
 *      a Word or Excel file, an old Office file, plain text);
 *   3. encrypted (user or owner password, any algorithm): refused unless
 *      a password is configured; a configured password that opens neither
 *      way is refused too.  Opened with the password, the per-resident
 *      PDFs are written without encryption (they are signed and then
 *      encrypted at rest by tayori);
 *   4. an object stream or cross-reference stream (which qpdf decodes
 *      itself, whole) that decodes to more than [limits] pdf_stream_max,
 *      measured in the bytes before qpdf reads them (pdf_prescan()):
 *      refused, naming the object and the setting;
 *      qpdf cannot open it even with its recovery (no trailer, no page
 *      tree, a loop in the page tree): refused as damaged;
 *   5. no pages, or more than the page limit: refused;
 *   5b. (files qpdf did not repair; step 6 covers the others) every page's
 *      content streams are decoded within [limits] pdf_stream_max,
 *      pdf_page_decoded and pdf_decoded, counting only: a page whose
 *      content decodes to more is refused, naming the page and the
 *      setting, whatever reads the file next;
 *   6. qpdf opened it but had to repair it (any warning while reading the
 *      cross-reference table or the page tree): the file must still end
 *      with %%EOF (a file cut short loses what was written last, often its
 *      fonts); every object reachable from every page is resolved and
 *      every stream decoded by pdf_decode.c within [limits] (counted, not
 *      kept; images up to 256 MB), a stream past them refused naming the
 *      page and the setting; every page must still have content, and every
 *      font (Tf) and image or form (Do) its content uses must still be in
 *      its resources (qpdf drops a dictionary entry whose object is
 *      missing, so this is where a lost object shows).  Any failure means
 *      the repair lost content and the file is refused; a repair that lost
 *      nothing is accepted and reported (pdf_info.repaired) so the preview
 *      can say so.
 */
#ifndef TAYORI_PDF_CHECK_H
#define TAYORI_PDF_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"

#define PDF_INPUT_MAX  ((size_t)1 << 30) /* bytes of one input PDF */
#define PDF_PAGES_MAX  100000            /* pages of one input PDF */
#define PDF_SNIFF_LEN  1024              /* where %PDF- must start */

struct pdf_info {
	int pages;         /* page count */
	int encrypted;     /* it was encrypted and the password opened it */
	int repaired;      /* qpdf repaired it and nothing was lost */
	char version[16];  /* header version, e.g. "1.5" */
};

/*
 * NULL when data starts like a PDF (%PDF- in its first PDF_SNIFF_LEN
 * bytes), else a static English phrase saying what it looks like
 * ("the file is empty", "this is a PNG image, not a PDF", ...).
 */
const char *pdf_sniff(const uint8_t *data, size_t len);

/*
 * Apply the policy above to len bytes.  password may be NULL (none
 * configured).  max_pages 0 means PDF_PAGES_MAX.  info may be NULL.
 * Returns 0 when accepted; -1 with e filled (e->temporary = 0 for every
 * refusal of the input, 1 only for an internal failure).
 */
int pdf_check(const uint8_t *data, size_t len, const char *password, int max_pages,
	      struct pdf_info *info, struct error *e);

/*
 * The one way tayori opens bytes with qpdf (every reader comes through
 * here): object and cross-reference streams measured first, since qpdf
 * decodes them whole while it opens the file (policy step 4; skipped with
 * PDF_READ_AGAIN for bytes accepted before), then a handle with errors
 * silenced and warnings kept for the caller but not printed, data read in
 * place (it must stay valid and unchanged until qpdf_cleanup(*out)), with
 * password when one is given.  No other policy: pdf_qpdf_open() applies
 * it.  On failure *out is NULL, *code (code may be NULL) holds qpdf's
 * error code (qpdf_e_password, ...; qpdf_e_success when the bytes were
 * refused before qpdf read them) and e one line: a stream over [limits]
 * pdf_stream_max, "the PDF is encrypted (password-protected)", "the
 * configured password does not open this encrypted PDF", "the PDF is
 * damaged and qpdf cannot repair it (...)", or a temporary "qpdf could not
 * read the PDF: ..." for a system error.
 */
#define PDF_READ_AGAIN 1
int pdf_qpdf_read(const uint8_t *data, size_t len, const char *password, int flags,
		  qpdf_data *out, int *code, struct error *e);

/*
 * Open data with qpdf the way the policy needs (through pdf_qpdf_read();
 * steps 2-5 applied; step 6 is pdf_check's).
 * data must stay valid and unchanged until qpdf_cleanup(*out): qpdf reads
 * it in place.  On success *out is a handle for this thread only (qpdf
 * handles are not thread-safe; open one per thread on the same bytes),
 * *npages its page count and *warned 1 when qpdf warned while reading.
 */
int pdf_qpdf_open(const uint8_t *data, size_t len, const char *password, int max_pages,
		  qpdf_data *out, int *npages, int *warned, struct error *e);

/*
 * A fresh handle on bytes pdf_qpdf_open() accepted before, with no checks
 * repeated: qpdf keeps every object it has parsed, so readers of long
 * inputs swap their handle for a fresh one now and then, finding pages by
 * object number.  Errors are temporary (the same bytes opened before).
 */
int pdf_qpdf_reopen(const uint8_t *data, size_t len, const char *password, qpdf_data *out,
		    struct error *e);

#endif
