/*
 * pdf_merge.c — several PDFs as one with qpdf's page copier (see
 * pdf_merge.h).  Runs in the command-line process.
 */
#include "pdf/pdf_merge.h"

#include <qpdf/qpdf-c.h>
#include <stdlib.h>
#include <string.h>

static int qerr(qpdf_data q, struct error *e, const char *what, size_t i)
{
	if (qpdf_has_error(q)) {
		qpdf_error qe = qpdf_get_error(q);
		if (i > 0)
			return err_set(e, "%s %zu: %s", what, i, qpdf_get_error_full_text(q, qe));
		return err_set(e, "%s: %s", what, qpdf_get_error_full_text(q, qe));
	}
	if (i > 0)
		return err_set(e, "%s %zu", what, i);
	return err_set(e, "%s", what);
}

static qpdf_data fresh(void)
{
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, QPDF_TRUE);
	return q;
}

/* Append every page of src (input number i, 1-based) to dst. */
static int add_pages(qpdf_data dst, qpdf_data src, size_t i, size_t *pages, struct error *e)
{
	int np = qpdf_get_num_pages(src);
	if (np <= 0)
		return qerr(src, e, "no pages in PDF", i);
	for (int p = 0; p < np; p++) {
		qpdf_oh page = qpdf_get_page_n(src, (size_t)p);
		if ((qpdf_add_page(dst, src, page, QPDF_FALSE) & QPDF_ERRORS) != 0)
			return qerr(dst, e, "cannot copy the pages of PDF", i);
	}
	if (pages != NULL)
		*pages = (size_t)np;
	return 0;
}

int pdf_merge(const uint8_t *const *pdf, const size_t *len, size_t n, struct buf *out,
	      size_t *pages, struct error *e)
{
	qpdf_data dst = NULL, *src = NULL;
	const unsigned char *data;
	size_t i, dlen;
	int ret = -1;

	buf_reset(out);
	if (n == 0 || n > PDF_MERGE_MAX_INPUTS)
		return err_set(e, "%zu PDFs to merge: between 1 and %d", n, PDF_MERGE_MAX_INPUTS);
	/* The sources stay open until the write: qpdf copies stream data then. */
	src = xcalloc(n, sizeof(*src));
	dst = fresh();
	if ((qpdf_empty_pdf(dst) & QPDF_ERRORS) != 0) {
		qerr(dst, e, "cannot start the merged PDF", 0);
		goto out;
	}
	for (i = 0; i < n; i++) {
		src[i] = fresh();
		if ((qpdf_read_memory(src[i], "notice", (const char *)pdf[i], (unsigned long long)len[i],
				      NULL) & QPDF_ERRORS) != 0) {
			qerr(src[i], e, "cannot read PDF", i + 1);
			goto out;
		}
		if (add_pages(dst, src[i], i + 1, pages != NULL ? &pages[i] : NULL, e) < 0)
			goto out;
	}
	if ((qpdf_init_write_memory(dst) & QPDF_ERRORS) != 0) {
		qerr(dst, e, "cannot write the merged PDF", 0);
		goto out;
	}
	qpdf_set_deterministic_ID(dst, QPDF_TRUE);
	if ((qpdf_write(dst) & QPDF_ERRORS) != 0) {
		qerr(dst, e, "cannot write the merged PDF", 0);
		goto out;
	}
	data = qpdf_get_buffer(dst);
	dlen = qpdf_get_buffer_length(dst);
	if (data == NULL || buf_append(out, data, dlen) < 0) {
		err_set(e, "the merged PDF (%zu bytes) is larger than the limit of %zu bytes", dlen,
			out->max);
		goto out;
	}
	ret = 0;
out:
	if (dst != NULL)
		qpdf_cleanup(&dst);
	if (src != NULL)
		for (i = 0; i < n; i++)
			if (src[i] != NULL)
				qpdf_cleanup(&src[i]);
	free(src);
	return ret;
}
