/*
 * fuzz_pdf_fasttext.c — libFuzzer target for the qpdf-based page text
 * reader (pdf_fasttext).  The first byte chooses what the rest is:
 *   even: a whole PDF, read like the gateway reads an upload (pdf_check(),
 *         then the fast text of its first pages);
 *   1 modulo 4: "CONTENT\0CMAP": a content stream and a ToUnicode CMap put
 *         into a PDF built here with qpdf's C API (a Type0 Identity-H font
 *         with that CMap, Helvetica, and a form XObject running the same
 *         content, which calls itself), so the lexer, the interpreter and
 *         the CMap parser see arbitrary bytes directly;
 *   3 modulo 4: bytes given straight to the tokenizer and to the CMap
 *         parser (pdf_lex.h, pdf_cmap.h), many times faster than a PDF.
 * Text must be valid UTF-8 of the stated length; tokens must lie in their
 * buffers, CMap values be code points or sequences inside the CMap, and
 * code lengths 1 to 4; nothing may crash, leak or run away.
 * Runs as a fuzzing program only (clang -fsanitize=fuzzer).
 * Seeds: tests/fuzz/corpus/pdf_fasttext/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>

#include "lib/buf.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_cmap.h"
#include "pdf/pdf_lex.h"
#include "pdf/pdf_fasttext.h"

#define FUZZ_MAX_PAGES 8
#define FUZZ_TEXT_PAGES 3
#define FUZZ_MAX_BYTES ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_pages(const uint8_t *pdf, size_t len)
{
	struct pdf_fasttext *ft = NULL;
	struct error e;

	if (pdf_fasttext_open(pdf, len, NULL, &ft, &e) < 0)
		return;
	for (int p = 1; p <= pdf_fasttext_npages(ft) && p <= FUZZ_TEXT_PAGES; p++) {
		char *text = NULL;
		size_t tl = 0;
		const char *why = NULL;
		int rc = pdf_fasttext_page(ft, p, &text, &tl, &why, &e);
		if (rc == PDF_FASTTEXT_OK) {
			if (!text || strlen(text) != tl || !g_utf8_validate(text, (gssize)tl, NULL))
				abort();
		} else if (rc != PDF_FASTTEXT_UNDECODABLE || text || !why) {
			abort();
		}
		g_free(text);
	}
	pdf_fasttext_close(&ft);
}

static qpdf_oh stream(qpdf_data q, const void *d, size_t n)
{
	qpdf_oh s = qpdf_oh_new_stream(q);
	qpdf_oh_replace_stream_data(q, s, (const unsigned char *)d, n, qpdf_oh_new_null(q),
				    qpdf_oh_new_null(q));
	return qpdf_make_indirect_object(q, s);
}

static void built(const uint8_t *content, size_t clen, const uint8_t *cmap, size_t mlen)
{
	qpdf_data q = qpdf_init();
	qpdf_oh f0, f1, res, form, fd, page;

	qpdf_silence_errors(q);
	if (qpdf_empty_pdf(q) & QPDF_ERRORS)
		goto out;
	f0 = qpdf_oh_parse(q, "<< /Type /Font /Subtype /Type0 /BaseFont /T /Encoding /Identity-H "
			      "/DescendantFonts [ << /Type /Font /Subtype /CIDFontType2 /BaseFont /T "
			      "/W [ 1 [500 600] 10 20 700 ] >> ] >>");
	qpdf_oh_replace_key(q, f0, "/ToUnicode", stream(q, cmap, mlen));
	f0 = qpdf_make_indirect_object(q, f0);
	f1 = qpdf_make_indirect_object(q, qpdf_oh_parse(q,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Differences "
		"[48 /zero /one /uni0032 /g3] >> >>"));
	res = qpdf_oh_parse(q, "<< /Font << >> /XObject << >> >>");
	qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/Font"), "/F0", f0);
	qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/Font"), "/F1", f1);
	form = stream(q, content, clen);
	fd = qpdf_oh_get_dict(q, form);
	qpdf_oh_replace_key(q, fd, "/Subtype", qpdf_oh_new_name(q, "/Form"));
	qpdf_oh_replace_key(q, fd, "/BBox", qpdf_oh_parse(q, "[0 0 10 10]"));
	qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/XObject"), "/X", form);
	page = qpdf_oh_parse(q, "<< /Type /Page /MediaBox [0 0 595 842] >>");
	qpdf_oh_replace_key(q, page, "/Resources", res);
	qpdf_oh_replace_key(q, page, "/Contents", stream(q, content, clen));
	page = qpdf_make_indirect_object(q, page);
	if (qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS)
		goto out;
	if (qpdf_init_write_memory(q) & QPDF_ERRORS)
		goto out;
	qpdf_set_static_ID(q, QPDF_TRUE);
	if (qpdf_write(q) & QPDF_ERRORS)
		goto out;
	read_pages((const uint8_t *)qpdf_get_buffer(q), qpdf_get_buffer_length(q));
out:
	qpdf_cleanup(&q);
}

/* Every token lies in the input or in the scratch buffer, within its cap. */
static void lex_all(const uint8_t *data, size_t size)
{
	struct buf scratch;
	struct pdf_lex l;
	struct pdf_token t;

	buf_init(&scratch, 4096);
	pdf_lex_init(&l, data, size, &scratch);
	for (;;) {
		const uint8_t *before = l.p;
		pdf_lex_next(&l, &t);
		if (l.p < before || l.p > data + size || scratch.len > 4096)
			abort();
		if (t.t == TOK_EOF)
			break;
		if ((t.t == TOK_STR || t.t == TOK_NAME) && t.off + t.len > scratch.len)
			abort();
		if (t.t == TOK_NAME && t.len > PDF_LEX_NAME_MAX)
			abort();
		if (t.t == TOK_KW && (t.kw < data || t.kwlen == 0 || t.kw + t.kwlen > l.p))
			abort();
		if (t.t == TOK_KW && pdf_lex_kw_is(&t, "ID"))
			pdf_lex_skip_inline_image(&l);
		if (scratch.len > 2048)
			buf_reset(&scratch);
	}
	buf_free(&scratch);
}

static void check_value(const struct pdf_cmap *m, uint32_t v)
{
	if (v & PDF_CMAP_SEQ) {
		const uint32_t *s;
		if ((v & ~PDF_CMAP_SEQ) >= m->npool)
			abort();
		s = pdf_cmap_seq(m, v);
		if (s[0] < 2 || s[0] > PDF_CMAP_SEQ_MAX || (v & ~PDF_CMAP_SEQ) + 1 + s[0] > m->npool)
			abort();
		for (uint32_t i = 0; i < s[0]; i++)
			if (s[1 + i] > 0x10FFFF + 65535)
				abort();
	} else if (v > 0x10FFFF + 65535) {
		/* A range counts up from its destination: past U+10FFFF is
		 * possible, and the interpreter shows it as U+FFFD. */
		abort();
	}
}

static void cmap_all(const uint8_t *data, size_t size)
{
	struct pdf_cmap_budget bud = { 0, 0 };
	struct pdf_cmap *m = NULL;

	(void)pdf_cmap_parse(data, size, &bud, &m);
	if (!m || m->ncs < 0 || m->ncs > PDF_CMAP_CSR_MAX || bud.entries > PDF_CMAP_MAP_BUDGET ||
	    bud.tables > PDF_CMAP_TBL_BUDGET)
		abort();
	for (uint32_t c = 0; c < 65536; c++)
		check_value(m, pdf_cmap_get(m, c));
	for (size_t i = 0; i < m->nbig; i++) {
		if (i > 0 && m->big[i - 1].code > m->big[i].code)
			abort();
		check_value(m, pdf_cmap_get(m, m->big[i].code));
	}
	for (size_t i = 0; i + 4 <= size && i < 4096; i++) {
		size_t n = pdf_cmap_code_len(m, data + i, 4);
		if (n < 1 || n > 4)
			abort();
	}
	pdf_cmap_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	const uint8_t *sep;

	if (size < 1 || size > FUZZ_MAX_BYTES)
		return 0;
	if (!(data[0] & 1)) {
		if (pdf_check(data + 1, size - 1, NULL, FUZZ_MAX_PAGES, NULL, &e) == 0)
			read_pages(data + 1, size - 1);
		return 0;
	}
	data++;
	size--;
	if ((data[-1] & 3) == 3) {
		lex_all(data, size);
		cmap_all(data, size);
		return 0;
	}
	sep = memchr(data, '\0', size);
	if (sep)
		built(data, (size_t)(sep - data), sep + 1, size - (size_t)(sep - data) - 1);
	else
		built(data, size, (const uint8_t *)"", 0);
	return 0;
}
