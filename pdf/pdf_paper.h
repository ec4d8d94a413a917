/*
 * pdf_paper.h — the paper list's signed notices (lib/export.h rows) merged
 * into one PDF to print, in resident order, each row told which pages are
 * its own.  Shared by `tayori batch export --paper` and the dashboard's
 * download.  Runs in the command-line and portal processes.
 */
#ifndef TAYORI_PDF_PAPER_H
#define TAYORI_PDF_PAPER_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/export.h"
#include "lib/util.h"

/* Merge the rows that carry a PDF into pdf (reset first; its cap bounds
 * the file) and set each such row's first_page and pages.  *npdfs gets
 * how many were merged; with none, pdf stays empty. */
int pdf_paper_merge(struct export_row *rows, size_t n, struct buf *pdf, size_t *npdfs,
		    struct error *e);

#endif
