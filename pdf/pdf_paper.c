/*
 * pdf_paper.c — the paper list's notices as one PDF to print (see
 * pdf/pdf_paper.h), through pdf_merge (qpdf's page copier).  Runs in the
 * command-line and portal processes.
 */
#include "pdf/pdf_paper.h"

#include <stdlib.h>

#include "pdf/pdf_merge.h"

int pdf_paper_merge(struct export_row *rows, size_t n, struct buf *pdf, size_t *npdfs,
		    struct error *e)
{
	const uint8_t **data = xcalloc(n ? n : 1, sizeof(*data));
	size_t *lens = xcalloc(n ? n : 1, sizeof(*lens)), *pages = xcalloc(n ? n : 1, sizeof(*pages));
	size_t m = 0, next = 1;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (rows[i].bytes.len > 0) {
			data[m] = rows[i].bytes.data;
			lens[m++] = rows[i].bytes.len;
		}
	if (m > 0)
		r = pdf_merge(data, lens, m, pdf, pages, e);
	for (size_t i = 0, j = 0; r == 0 && i < n; i++)
		if (rows[i].bytes.len > 0) {
			rows[i].first_page = next;
			rows[i].pages = pages[j++];
			next += rows[i].pages;
		}
	*npdfs = m;
	free(data);
	free(lens);
	free(pages);
	return r;
}
