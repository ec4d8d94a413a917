/*
 * pdf_merge.h — several PDFs as one, their pages in the order given: the
 * paper list's notices in one file to print.  The merged file is for
 * printing: the signatures of the inputs do not carry over (each signed
 * notice stays available on its own).  Runs in the command-line process
 * (`tayori batch export --paper`), on the signed PDFs tayori stored.
 * Uses qpdf's page copier (foreign objects are copied with everything they
 * reach; shared fonts are copied once per input).
 */
#ifndef TAYORI_PDF_MERGE_H
#define TAYORI_PDF_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"

#define PDF_MERGE_MAX_INPUTS 100000

/* Pages of pdf[0..n-1] (lens len[]) into out (reset first; its cap bounds
 * the file); pages[i] (may be NULL) gets the page count of input i.  An
 * input qpdf cannot read, or with no page, is an error naming its index
 * (1-based). */
int pdf_merge(const uint8_t *const *pdf, const size_t *len, size_t n, struct buf *out,
	      size_t *pages, struct error *e);

#endif
