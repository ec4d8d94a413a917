/*
 * pdf_fasttext.c — the text reader's handle and its pages (see
 * pdf_fasttext.h): one qpdf handle per thread, opened again every
 * FT_REOPEN_PAGES pages, a cache of fonts per object, every stream
 * decoded within [limits] by pdf_decode.c into buffers reused page after
 * page, a page's content streams joined and run by pdf_content.c, and
 * the text NFKC-normalised.  The pieces: pdf_lex.c (tokens), pdf_cmap.c
 * (CMaps), pdf_font.c (fonts), pdf_content.c (the interpreter),
 * pdf_fasttext_each.c (threads, with poppler for what is not decodable
 * here); pdf_fasttext_int.h is what they share.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.7.3.3-§7.7.3.4 (pages,
 * inherited resources), §7.8.2 (content streams); UAX #15.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_font.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_fasttext.h"
#include "pdf/pdf_fasttext_int.h"

static void font_free_v(gpointer p)
{
	pdf_font_free(p);
}

int pdf_fasttext_open(const uint8_t *data, size_t len, const char *password,
		      struct pdf_fasttext **out, struct error *e)
{
	struct pdf_fasttext *ft;
	int warned = 0;

	*out = NULL;
	ft = xcalloc(1, sizeof *ft);
	if (pdf_qpdf_open(data, len, password, 0, &ft->q, &ft->npages, &warned, e) < 0) {
		free(ft);
		return -1;
	}
	/* Warnings from the repair pdf_check() accepted: not needed. */
	while (qpdf_more_warnings(ft->q))
		qpdf_next_warning(ft->q);
	/* Pages are found by number, so that a fresh handle need not read
	 * the whole page tree again. */
	ft->page_ids = xcalloc((size_t)ft->npages, sizeof *ft->page_ids);
	for (int i = 0; i < ft->npages; i++) {
		qpdf_oh p = qpdf_get_page_n(ft->q, (size_t)i);
		ft->page_ids[i][0] = qpdf_oh_get_object_id(ft->q, p);
		ft->page_ids[i][1] = qpdf_oh_get_generation(ft->q, p);
		qpdf_oh_release(ft->q, p);
	}
	ft->data = data;
	ft->len = len;
	ft->password = password && *password ? xstrdup(password) : NULL;
	ft->fonts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, font_free_v);
	buf_init(&ft->scratch, FT_SCRATCH_MAX);
	/* Strings are slices of scratch: it must never be NULL, even empty
	 * (an empty string shown would be NULL + 0). */
	buf_reserve(&ft->scratch, 256);
	buf_init(&ft->out, PDF_TEXT_PAGE_MAX);
	ft->elems = xmalloc(FT_ELEMS * sizeof *ft->elems);
	pdf_limits_get(&ft->lim);
	ft->dec = pdf_decoder_new();
	buf_init(&ft->content, SIZE_MAX / 2);
	buf_init(&ft->part, SIZE_MAX / 2);
	buf_init(&ft->cmapbuf, SIZE_MAX / 2);
	for (int i = 0; i < FT_FORM_DEPTH; i++)
		buf_init(&ft->forms[i], SIZE_MAX / 2);
	atomic_init(&ft->own_decoded, 0);
	ft->decoded = &ft->own_decoded;
	ft->gated = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	*out = ft;
	return 0;
}

int pdf_fasttext_npages(const struct pdf_fasttext *ft)
{
	return ft->npages;
}

void pdf_fasttext_close(struct pdf_fasttext **ft)
{
	if (!ft || !*ft)
		return;
	if ((*ft)->q)
		qpdf_cleanup(&(*ft)->q);
	free((*ft)->page_ids);
	if ((*ft)->password)
		secure_wipe((*ft)->password, strlen((*ft)->password));
	free((*ft)->password);
	if ((*ft)->fonts)
		g_hash_table_destroy((*ft)->fonts);
	buf_free(&(*ft)->scratch);
	buf_free(&(*ft)->out);
	free((*ft)->elems);
	pdf_decoder_free(&(*ft)->dec);
	buf_free(&(*ft)->content);
	buf_free(&(*ft)->part);
	buf_free(&(*ft)->cmapbuf);
	for (int i = 0; i < FT_FORM_DEPTH; i++)
		buf_free(&(*ft)->forms[i]);
	if ((*ft)->gated)
		g_hash_table_destroy((*ft)->gated);
	free(*ft);
	*ft = NULL;
}

/*
 * Decode stream s for page r into out within the limits: one stream at
 * most stream_max, the page's streams together at most page_max, the
 * document's at most doc_max.  Passing one refuses the page (the whole
 * input): r->ft->refusal names the page, what was decoded and the setting.
 */
int pdf_fasttext_decode(struct page_run *r, qpdf_oh s, const char *what, struct buf *out)
{
	struct pdf_fasttext *ft = r->ft;
	const struct pdf_limits *lim = &ft->lim;
	size_t page_left = lim->page_max > r->decoded ? lim->page_max - r->decoded : 0;
	size_t done = atomic_load(ft->decoded);
	size_t doc_left = lim->doc_max > done ? lim->doc_max - done : 0;
	size_t cap = lim->stream_max, len = 0;
	char sz[32];
	int rc;

	if (page_left < cap)
		cap = page_left;
	if (doc_left < cap)
		cap = doc_left;
	rc = pdf_stream_decode(ft->dec, ft->q, s, cap, out, &len);
	if (rc == PDF_DECODE_LIMIT) {
		if (cap == lim->stream_max)
			err_set(&ft->refusal, "page %d: %s decodes to more than %s ([limits] pdf_stream_max)",
				r->page, what, pdf_size_text(lim->stream_max, sz, sizeof sz));
		else if (cap == page_left)
			err_set(&ft->refusal, "page %d: its streams decode to more than %s together "
				"([limits] pdf_page_decoded)", r->page,
				pdf_size_text(lim->page_max, sz, sizeof sz));
		else
			err_set(&ft->refusal, "page %d: the PDF's streams decode to more than %s in all "
				"([limits] pdf_decoded)", r->page, pdf_size_text(lim->doc_max, sz, sizeof sz));
		ft->refused = 1;
		ft_set_bad(r, "refused");
		return rc;
	}
	if (rc == PDF_DECODE_OK) {
		r->decoded += len;
		atomic_fetch_add(ft->decoded, len);
	}
	return rc;
}

/*
 * Code points NFKC leaves alone whatever surrounds them: no decomposition,
 * combining class 0, never the second of a composition.  Text is mostly
 * these (ASCII, kana, common ideographs), and normalising only the runs
 * of other characters, each with the character before it (which they
 * may compose with), gives the same result as normalising everything.
 */
static int nfkc_stable(gunichar c)
{
	return (c >= 0x20 && c < 0x7F) || c == '\n' || (c >= 0x3001 && c <= 0x3002) ||
	       (c >= 0x3041 && c <= 0x3096) || (c >= 0x30A1 && c <= 0x30FA) || c == 0x30FC ||
	       (c >= 0x4E00 && c <= 0x9FFF);
}

/* NFKC of the valid UTF-8 s[0..n), as g_utf8_normalize() would give it. */
static char *nfkc(const char *s, size_t n, size_t *outlen)
{
	GString *o = g_string_sized_new(n + 1);
	const char *p = s, *end = s + n, *done = s;

	while (p < end) {
		const char *q, *start;
		if (nfkc_stable(g_utf8_get_char(p))) {
			p = g_utf8_next_char(p);
			continue;
		}
		/* An unstable run from p, with the character before it. */
		start = p > done ? g_utf8_prev_char(p) : p;
		q = p;
		while (q < end && !nfkc_stable(g_utf8_get_char(q)))
			q = g_utf8_next_char(q);
		g_string_append_len(o, done, start - done);
		{
			char *nm = g_utf8_normalize(start, q - start, G_NORMALIZE_NFKC);
			if (nm) {
				g_string_append(o, nm);
				g_free(nm);
			}
		}
		done = p = q;
	}
	g_string_append_len(o, done, end - done);
	if (outlen)
		*outlen = o->len;
	return g_string_free(o, FALSE);
}

/* The page's /Resources, inherited through /Parent if need be (§7.7.3.4). */
static qpdf_oh page_resources(qpdf_data q, qpdf_oh page)
{
	qpdf_oh node = page;
	for (int i = 0; i < FT_RES_DEPTH && qpdf_oh_is_dictionary(q, node); i++) {
		qpdf_oh res = qpdf_oh_get_key(q, node, "/Resources");
		if (qpdf_oh_is_dictionary(q, res))
			return res;
		node = qpdf_oh_get_key(q, node, "/Parent");
	}
	return qpdf_oh_new_dictionary(q);
}

/* A fresh qpdf handle on the same bytes; fonts stay cached by number. */
static int reopen(struct pdf_fasttext *ft, struct error *e)
{
	qpdf_data q;
	if (pdf_qpdf_reopen(ft->data, ft->len, ft->password, &q, e) < 0)
		return -1;
	qpdf_cleanup(&ft->q);
	ft->q = q;
	ft->pages_read = 0;
	return 0;
}

/*
 * The page's content streams, decoded within the limits and joined with
 * a newline between them (as qpdf and poppler join them), into
 * ft->content.  Returns a pdf_decode_rc.
 */
static int page_content(struct page_run *r, qpdf_oh po)
{
	struct pdf_fasttext *ft = r->ft;
	qpdf_data q = ft->q;
	qpdf_oh c = qpdf_oh_get_key_if_dict(q, po, "/Contents");
	int n;

	buf_reset(&ft->content);
	if (qpdf_oh_is_stream(q, c))
		return pdf_fasttext_decode(r, c, "a content stream", &ft->content);
	if (!qpdf_oh_is_array(q, c))
		return PDF_DECODE_OK; /* no content: an empty page */
	n = qpdf_oh_get_array_n_items(q, c);
	for (int i = 0; i < n; i++) {
		qpdf_oh s = qpdf_oh_get_array_item(q, c, i);
		int rc;
		if (!qpdf_oh_is_stream(q, s))
			continue;
		rc = pdf_fasttext_decode(r, s, "a content stream", &ft->part);
		if (rc != PDF_DECODE_OK)
			return rc;
		if ((ft->content.len > 0 && buf_append_u8(&ft->content, '\n') < 0) ||
		    buf_append(&ft->content, ft->part.data, ft->part.len) < 0)
			return PDF_DECODE_LIMIT;
	}
	return PDF_DECODE_OK;
}

void pdf_fasttext_run_init(struct page_run *r, struct pdf_fasttext *ft, int page)
{
	memset(r, 0, sizeof *r);
	r->ft = ft;
	r->page = page;
	r->gs[0].th = 1;
	r->tm[0] = r->tm[3] = r->tlm[0] = r->tlm[3] = 1;
	ft->refused = 0;
}

int pdf_fasttext_page(struct pdf_fasttext *ft, int page, char **text, size_t *len,
		      const char **why, struct error *e)
{
	qpdf_data q;
	struct page_run *r = NULL;
	qpdf_oh po;
	char *norm;
	int ret = PDF_FASTTEXT_UNDECODABLE;

	*text = NULL;
	if (len)
		*len = 0;
	if (why)
		*why = NULL;
	if (page < 1 || page > ft->npages)
		return err_set(e, "page %d does not exist (the PDF has %d)", page, ft->npages);
	if (ft->pages_read++ >= FT_REOPEN_PAGES && reopen(ft, e) < 0)
		return -1;
	q = ft->q;
	r = xmalloc(sizeof *r);
	pdf_fasttext_run_init(r, ft, page);
	buf_reset(&ft->out);

	po = qpdf_get_object_by_id(q, ft->page_ids[page - 1][0], ft->page_ids[page - 1][1]);
	if (page_content(r, po) != PDF_DECODE_OK) {
		ft_set_bad(r, "page content that cannot be decoded");
		goto out;
	}
	pdf_content_run(r, ft->content.data, ft->content.len, page_resources(q, po));
	if (qpdf_has_error(q)) {
		qpdf_get_error(q); /* clears it */
		ft_set_bad(r, "an object qpdf cannot read");
	}
	if (r->bad)
		goto out;
	norm = nfkc(ft->out.data ? (const char *)ft->out.data : "", ft->out.len, len);
	*text = norm;
	ret = PDF_FASTTEXT_OK;
out:
	if (ft->refused) {
		if (e)
			*e = ft->refusal;
		ret = -1;
	} else if (r->bad && why) {
		*why = r->bad;
	}
	while (qpdf_more_warnings(q))
		qpdf_next_warning(q);
	/* Handles of this page are not needed again; fonts are cached as
	 * parsed structures, not handles. */
	qpdf_oh_release_all(q);
	for (int i = 0; i < r->nowned; i++)
		pdf_font_free(r->owned[i]);
	free(r);
	/* Large buffers go back after the page: a thread keeps only small
	 * ones between pages. */
	if (ft->content.cap > FT_KEEP_MAX)
		buf_free(&ft->content);
	if (ft->part.cap > FT_KEEP_MAX)
		buf_free(&ft->part);
	if (ft->cmapbuf.cap > FT_KEEP_MAX)
		buf_free(&ft->cmapbuf);
	for (int i = 0; i < FT_FORM_DEPTH; i++)
		if (ft->forms[i].cap > FT_KEEP_MAX)
			buf_free(&ft->forms[i]);
	return ret;
}
