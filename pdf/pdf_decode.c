/*
 * pdf_decode.c — the capped stream decoder's driver (see pdf_decode.h):
 * the process's limits, the decoder and its buffers, a chain of filters
 * run one after the other (the filters are pdf_decode_filter.c), and a
 * stream's filters read from qpdf's objects.  Runs in the gateway process
 * and in `tayori pdf split`, on attacker-influenced input: every output
 * byte goes through one counting sink, which refuses the byte past the
 * cap.  Standards: ISO 32000-1 §7.3.8 (streams), §7.4 (filters).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "lib/util.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_decode_int.h"

static struct pdf_limits limits = {
	PDF_STREAM_MAX_DEFAULT, PDF_PAGE_DECODED_DEFAULT, PDF_DECODED_DEFAULT,
};

void pdf_limits_set(const struct pdf_limits *l)
{
	limits.stream_max = l->stream_max ? l->stream_max : PDF_STREAM_MAX_DEFAULT;
	limits.page_max = l->page_max ? l->page_max : PDF_PAGE_DECODED_DEFAULT;
	limits.doc_max = l->doc_max ? l->doc_max : PDF_DECODED_DEFAULT;
}

void pdf_limits_get(struct pdf_limits *l)
{
	*l = limits;
}

const char *pdf_size_text(size_t n, char *out, size_t outsize)
{
	if (n >= ((size_t)1 << 30) && n % ((size_t)1 << 30) == 0)
		str_fmt(out, outsize, "%zu GB", n >> 30);
	else if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
		str_fmt(out, outsize, "%zu MB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		str_fmt(out, outsize, "%zu KB", n >> 10);
	else
		str_fmt(out, outsize, "%zu bytes", n);
	return out;
}

struct pdf_decoder *pdf_decoder_new(void)
{
	struct pdf_decoder *d = xcalloc(1, sizeof *d);
	d->win = xmalloc(WIN);
	buf_init(&d->stage[0], SIZE_MAX / 2);
	buf_init(&d->stage[1], SIZE_MAX / 2);
	buf_init(&d->pred, SIZE_MAX / 2);
	return d;
}

void pdf_decoder_free(struct pdf_decoder **dp)
{
	struct pdf_decoder *d;

	if (!dp || !*dp)
		return;
	d = *dp;
	if (d->z_ready)
		inflateEnd(&d->z);
	free(d->win);
	buf_free(&d->stage[0]);
	buf_free(&d->stage[1]);
	buf_free(&d->pred);
	free(d->rows);
	free(d);
	*dp = NULL;
}

/* Buffers between filters are kept for the next stream while small;
 * a large one is given back, so that a thread holds at most one
 * stream's worth when it is not decoding. */
#define KEEP_MAX ((size_t)4 << 20)

static void shrink(struct pdf_decoder *d)
{
	for (int i = 0; i < 2; i++)
		if (d->stage[i].cap > KEEP_MAX)
			buf_free(&d->stage[i]);
	if (d->pred.cap > KEEP_MAX)
		buf_free(&d->pred);
	if (d->rows_cap > KEEP_MAX) {
		free(d->rows);
		d->rows = NULL;
		d->rows_cap = 0;
	}
}

int pdf_decode(struct pdf_decoder *d, const uint8_t *data, size_t len,
	       const struct pdf_filter *f, size_t nf, size_t max, struct buf *out,
	       size_t *outlen)
{
	const uint8_t *in = data;
	size_t inlen = len;
	struct sink s;
	int rc = PDF_DECODE_OK;

	if (outlen)
		*outlen = 0;
	if (out)
		buf_reset(out);
	if (nf > PDF_FILTERS_MAX)
		return PDF_DECODE_UNSUPPORTED;
	if (nf == 0) {
		s.b = out;
		s.n = 0;
		s.max = max;
		if (sink_put(&s, data, len) < 0)
			rc = PDF_DECODE_LIMIT;
		if (outlen)
			*outlen = s.n;
		return rc;
	}
	for (size_t i = 0; i < nf; i++) {
		int last = i + 1 == nf;
		struct buf *st = &d->stage[i % 2];

		if (!last)
			buf_reset(st);
		s.b = last ? out : st;
		s.n = 0;
		s.max = max; /* between filters too */
		rc = pdf_decode_filter_run(d, &f[i], in, inlen, &s);
		if (last || rc != PDF_DECODE_OK)
			shrink(d);
		if (rc != PDF_DECODE_OK) {
			/* how far the output got: nowhere when an earlier
			 * filter stopped */
			if (rc == PDF_DECODE_LIMIT && last && outlen)
				*outlen = s.n;
			return rc;
		}
		in = st->data ? st->data : (const uint8_t *)"";
		inlen = st->len;
	}
	if (outlen)
		*outlen = s.n;
	return PDF_DECODE_OK;
}

/* ---- From qpdf's objects ---- */

static int int_param(qpdf_data q, qpdf_oh parms, const char *key, int def, int lo, int hi,
		     int *out)
{
	qpdf_oh v = qpdf_oh_get_key_if_dict(q, parms, key);
	long long x;

	if (qpdf_oh_is_null(q, v)) {
		*out = def;
		return 0;
	}
	if (!qpdf_oh_is_integer(q, v))
		return -1;
	x = qpdf_oh_get_int_value(q, v);
	if (x < lo || x > hi)
		return -1;
	*out = (int)x;
	return 0;
}

static int parse_parms(qpdf_data q, qpdf_oh parms, struct pdf_filter *f)
{
	f->predictor = 1;
	f->colors = 1;
	f->bpc = 8;
	f->columns = 1;
	f->early_change = 1;
	if (!qpdf_oh_is_dictionary(q, parms))
		return PDF_DECODE_OK;
	if (int_param(q, parms, "/Predictor", 1, 0, 15, &f->predictor) < 0 ||
	    int_param(q, parms, "/Colors", 1, 1, COLORS_MAX, &f->colors) < 0 ||
	    int_param(q, parms, "/BitsPerComponent", 8, 1, 16, &f->bpc) < 0 ||
	    int_param(q, parms, "/Columns", 1, 1, COLUMNS_MAX, &f->columns) < 0 ||
	    int_param(q, parms, "/EarlyChange", 1, 0, 1, &f->early_change) < 0)
		return PDF_DECODE_BAD;
	if (f->bpc != 1 && f->bpc != 2 && f->bpc != 4 && f->bpc != 8 && f->bpc != 16)
		return PDF_DECODE_BAD;
	return PDF_DECODE_OK;
}

int pdf_filters_of(qpdf_data q, qpdf_oh dict, struct pdf_filter *f, size_t *nf)
{
	qpdf_oh filter = qpdf_oh_get_key_if_dict(q, dict, "/Filter");
	qpdf_oh parms = qpdf_oh_get_key_if_dict(q, dict, "/DecodeParms");
	int n;

	*nf = 0;
	if (qpdf_oh_is_null(q, filter))
		return PDF_DECODE_OK;
	if (qpdf_oh_is_name(q, filter)) {
		if (pdf_decode_filter_kind(qpdf_oh_get_name(q, filter), &f[0].kind) < 0)
			return PDF_DECODE_UNSUPPORTED;
		if (qpdf_oh_is_array(q, parms))
			parms = qpdf_oh_get_array_item(q, parms, 0);
		*nf = 1;
		return parse_parms(q, parms, &f[0]);
	}
	if (!qpdf_oh_is_array(q, filter))
		return PDF_DECODE_BAD;
	n = qpdf_oh_get_array_n_items(q, filter);
	if (n > PDF_FILTERS_MAX)
		return PDF_DECODE_UNSUPPORTED;
	for (int i = 0; i < n; i++) {
		qpdf_oh fi = qpdf_oh_get_array_item(q, filter, i);
		qpdf_oh pi = qpdf_oh_is_array(q, parms) ? qpdf_oh_get_array_item(q, parms, i) :
			     i == 0 ? parms : qpdf_oh_new_null(q);
		int rc;
		if (!qpdf_oh_is_name(q, fi))
			return PDF_DECODE_BAD;
		if (pdf_decode_filter_kind(qpdf_oh_get_name(q, fi), &f[i].kind) < 0)
			return PDF_DECODE_UNSUPPORTED;
		if ((rc = parse_parms(q, pi, &f[i])) != PDF_DECODE_OK)
			return rc;
	}
	*nf = (size_t)n;
	return PDF_DECODE_OK;
}

int pdf_stream_decode(struct pdf_decoder *d, qpdf_data q, qpdf_oh s, size_t max,
		      struct buf *out, size_t *outlen)
{
	struct pdf_filter f[PDF_FILTERS_MAX];
	unsigned char *raw = NULL;
	size_t nf = 0, rawlen = 0;
	int rc;

	if (outlen)
		*outlen = 0;
	if (out)
		buf_reset(out);
	if (!qpdf_oh_is_stream(q, s))
		return PDF_DECODE_BAD;
	rc = pdf_filters_of(q, qpdf_oh_get_dict(q, s), f, &nf);
	if (rc != PDF_DECODE_OK)
		return rc;
	if (qpdf_oh_get_stream_data(q, s, qpdf_dl_none, NULL, &raw, &rawlen) & QPDF_ERRORS) {
		free(raw);
		return PDF_DECODE_BAD;
	}
	rc = pdf_decode(d, raw, rawlen, f, nf, max, out, outlen);
	free(raw);
	return rc;
}

/* ---- Object and cross-reference streams, before qpdf reads them ---- */


void pdf_dict_push_values(qpdf_data q, qpdf_oh dict, GPtrArray *keys, GArray *stack)
{
	g_ptr_array_set_size(keys, 0);
	qpdf_oh_begin_dict_key_iter(q, dict);
	while (qpdf_oh_dict_more_keys(q))
		g_ptr_array_add(keys, g_strdup(qpdf_oh_dict_next_key(q)));
	for (guint i = 0; i < keys->len; i++) {
		const char *k = g_ptr_array_index(keys, i);
		qpdf_oh v;
		if (strcmp(k, "/Parent") == 0)
			continue;
		v = qpdf_oh_get_key(q, dict, k);
		g_array_append_val(stack, v);
	}
}
