/*
 * pades_doc.c — the last revision of a PDF as a signature's incremental
 * update needs it: its catalog, trailer and last cross-reference section
 * read with qpdf, its objects echoed verbatim into the update (so a
 * changed object keeps every key it had), and the update's end written by
 * the PDF writer with /Prev.  Runs in the gateway and in `tayori pdf
 * sign`, on the PDFs being signed.  Standards: ISO 32000-1 §7.5.5
 * (trailer), §7.5.6 (incremental updates), §7.5.8.4 (an update's xref
 * section is of the kind the file's last one is).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pdf/pades_int.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_syntax.h"

void pades_doc_close(struct pades_doc *d)
{
	if (d->q != NULL)
		qpdf_cleanup(&d->q);
	free(d->info);
	free(d->id);
	memset(d, 0, sizeof(*d));
}

int pades_doc_error(struct pades_doc *d, struct error *e, const char *what)
{
	if (qpdf_has_error(d->q)) {
		qpdf_error qe = qpdf_get_error(d->q);
		return err_set(e, "%s: %s", what, qpdf_get_error_full_text(d->q, qe));
	}
	return err_set(e, "%s", what);
}

/* Offset named by the last "startxref" and the kind of section there. */
static int find_startxref(const uint8_t *pdf, size_t len, long long *off, int *is_stream)
{
	size_t from = len > 2048 ? len - 2048 : 0, at = SIZE_MAX;
	const char kw[] = "startxref";
	long long v = 0;
	size_t i;
	for (i = from; i + sizeof(kw) - 1 <= len; i++)
		if (memcmp(pdf + i, kw, sizeof(kw) - 1) == 0)
			at = i;
	if (at == SIZE_MAX)
		return -1;
	i = at + sizeof(kw) - 1;
	while (i < len && isspace(pdf[i]))
		i++;
	if (i >= len || !isdigit(pdf[i]))
		return -1;
	for (; i < len && isdigit(pdf[i]); i++) {
		v = v * 10 + (pdf[i] - '0');
		if (v > (long long)len)
			return -1;
	}
	if (v >= (long long)len)
		return -1;
	*off = v;
	i = (size_t)v;
	while (i < len && isspace(pdf[i]))
		i++;
	if (len - i >= 4 && memcmp(pdf + i, "xref", 4) == 0)
		*is_stream = 0;
	else if (i < len && isdigit(pdf[i]))
		*is_stream = 1;
	else
		return -1;
	return 0;
}

/* The highest object number defined at the top level of the file. */
static long long max_object_number(const uint8_t *pdf, size_t len)
{
	long long best = 0;
	for (const uint8_t *p = pdf; (p = memmem(p, len - (size_t)(p - pdf), " obj", 4)) != NULL; p += 4) {
		/* walk back over "N G": digits, space, digits */
		const uint8_t *q = p;
		long long num = 0, mul = 1;
		while (q > pdf && isdigit(q[-1]))
			q--;
		if (q == p || q == pdf || q[-1] != ' ')
			continue;
		q--;
		while (q > pdf && isdigit(q[-1]) && mul < 100000000) {
			q--;
			num += (*q - '0') * mul;
			mul *= 10;
		}
		if (mul > 1 && (q == pdf || isspace(q[-1])) && num > best && num < 8388607)
			best = num;
	}
	return best;
}

int pades_doc_open(struct pades_doc *d, const uint8_t *pdf, size_t len, struct error *e)
{
	qpdf_oh trailer, root, v;
	const size_t head = len < 1024 ? len : 1024;

	memset(d, 0, sizeof(*d));
	if (len < 16 || memmem(pdf, head, "%PDF-", 5) == NULL)
		return err_set(e, "not a PDF file");
	if (pdf_qpdf_read(pdf, len, NULL, 0, &d->q, NULL, e) < 0)
		return -1;
	if (qpdf_is_encrypted(d->q))
		return err_set(e, "the PDF is encrypted");
	trailer = qpdf_get_trailer(d->q);
	root = qpdf_get_root(d->q);
	if (qpdf_has_error(d->q) || !qpdf_oh_is_dictionary(d->q, root) ||
	    !qpdf_oh_is_indirect(d->q, root))
		return pades_doc_error(d, e, "the PDF has no catalog");
	d->root_id = qpdf_oh_get_object_id(d->q, root);
	d->root_gen = qpdf_oh_get_generation(d->q, root);
	v = qpdf_oh_get_key(d->q, trailer, "/Size");
	if (qpdf_oh_is_integer(d->q, v))
		d->size = qpdf_oh_get_int_value(d->q, v);
	if (d->size < 1 || d->size > 8388607) {
		/* qpdf keeps a repaired trailer without /Size as it is; the next
		 * free number is then one past the highest "N G obj". */
		d->size = max_object_number(pdf, len) + 1;
		d->damaged = 1;
	}
	if (qpdf_oh_has_key(d->q, trailer, "/Info")) {
		v = qpdf_oh_get_key(d->q, trailer, "/Info");
		if (qpdf_oh_is_indirect(d->q, v))
			d->info = xstrdup(qpdf_oh_unparse(d->q, v));
	}
	if (qpdf_oh_has_key(d->q, trailer, "/ID")) {
		v = qpdf_oh_get_key(d->q, trailer, "/ID");
		if (qpdf_oh_is_array(d->q, v) && qpdf_oh_get_array_n_items(d->q, v) == 2)
			d->id = xstrdup(qpdf_oh_unparse(d->q, v));
	}
	if (find_startxref(pdf, len, &d->startxref, &d->xref_stream) < 0)
		d->damaged = 1;
	if (qpdf_has_error(d->q))
		return pades_doc_error(d, e, "damaged PDF");
	if (qpdf_more_warnings(d->q))
		d->damaged = 1;
	return 0;
}

/* Write the entries of dict, except the keys listed in skip (NULL-ended). */
void pades_doc_put_entries(struct pdf_writer *w, qpdf_data q, qpdf_oh dict,
    const char *const *skip)
{
	size_t n;
	char **keys = pdf_dict_keys(q, dict, &n);
	for (size_t i = 0; i < n; i++) {
		int skipped = 0;
		qpdf_oh v;
		for (const char *const *s = skip; s && *s; s++)
			if (strcmp(keys[i], *s) == 0)
				skipped = 1;
		if (skipped)
			continue;
		v = qpdf_oh_get_key(q, dict, keys[i]);
		if (qpdf_oh_is_null(q, v))
			continue;
		pdf_writer_put(w, " ", 1);
		pdf_writer_name(w, keys[i]);
		pdf_writer_put(w, " ", 1);
		pdf_writer_str(w, qpdf_oh_unparse(q, v));
		qpdf_oh_release(q, v);
	}
	pdf_keys_free(keys, n);
}

/* The items of an array, each followed by a space. */
void pades_doc_put_items(struct pdf_writer *w, qpdf_data q, qpdf_oh arr)
{
	int n = qpdf_oh_get_array_n_items(q, arr);
	for (int i = 0; i < n; i++) {
		qpdf_oh v = qpdf_oh_get_array_item(q, arr, i);
		pdf_writer_str(w, qpdf_oh_unparse(q, v));
		pdf_writer_put(w, " ", 1);
		qpdf_oh_release(q, v);
	}
}

/* Has qpdf found signature fields in this document already? */
int pades_doc_signed(struct pades_doc *d)
{
	qpdf_data q = d->q;
	qpdf_oh acro = qpdf_oh_get_key_if_dict(q, qpdf_get_root(q), "/AcroForm");
	qpdf_oh fields = qpdf_oh_get_key_if_dict(q, acro, "/Fields");
	int n = qpdf_oh_is_array(q, fields) ? qpdf_oh_get_array_n_items(q, fields) : 0;
	for (int i = 0; i < n; i++) {
		qpdf_oh fl = qpdf_oh_get_array_item(q, fields, i);
		if (qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key_if_dict(q, fl, "/FT"), "/Sig"))
			return 1;
	}
	return 0;
}

/* A full rewrite by qpdf, for unsigned inputs that needed repair. */
int pades_doc_rewrite(struct pades_doc *d, uint8_t **out, size_t *outlen, struct error *e)
{
	const unsigned char *p;
	/* QPDFWriter fills in /Size only when the trailer has the key. */
	qpdf_oh_replace_key(d->q, qpdf_get_trailer(d->q), "/Size", qpdf_oh_new_integer(d->q, 1));
	if (qpdf_init_write_memory(d->q) & QPDF_ERRORS)
		return pades_doc_error(d, e, "cannot rewrite the damaged PDF");
	/* Plain objects only, so that the highest number is visible even if
	 * the repaired trailer lacks /Size. */
	qpdf_set_object_stream_mode(d->q, qpdf_o_disable);
	/* Streams are copied as stored: qpdf's writer would otherwise decode
	 * and re-compress some of them whole, with no cap (a bomb's way in). */
	qpdf_set_decode_level(d->q, qpdf_dl_none);
	qpdf_set_compress_streams(d->q, QPDF_FALSE);
	if (qpdf_write(d->q) & QPDF_ERRORS)
		return pades_doc_error(d, e, "cannot rewrite the damaged PDF");
	*outlen = qpdf_get_buffer_length(d->q);
	p = qpdf_get_buffer(d->q);
	*out = xmalloc(*outlen);
	memcpy(*out, p, *outlen);
	return 0;
}


void pades_doc_update(struct pades_doc *d, struct pdf_writer *w, struct buf *out,
    const uint8_t *pdf, size_t len)
{
	pdf_writer_update(w, out, pdf, len, (int)d->size);
}

int pades_doc_finish(struct pades_doc *d, struct pdf_writer *w, struct error *e)
{
	struct pdf_trailer t = {
		.size = (int)d->size, .root_id = d->root_id, .root_gen = d->root_gen,
		.info = d->info, .id = d->id, .prev = d->startxref,
	};
	int rc;

	if (qpdf_has_error(d->q))
		rc = pades_doc_error(d, e, "cannot read the PDF objects");
	else if (pdf_writer_finish(w, d->xref_stream ? PDF_XREF_STREAM : PDF_XREF_TABLE, &t) < 0)
		rc = err_set(e, "the signed PDF would be too large");
	else
		rc = 0;
	pdf_writer_free(w);
	return rc;
}
