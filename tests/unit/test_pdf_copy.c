/*
 * test_pdf_copy.c — unit tests of the splitter's writer (pdf/pdf_copy):
 * a small PDF written by hand with the features a page copy must get right
 * (inherited attributes, a shared content stream, a link to another page,
 * an indirect /Length, odd names and strings, an outline that must not
 * follow), the same document with object streams and encryption (written
 * with qpdf's C API), and nesting past the limit; a hostile document
 * whose pages carry JavaScript, Launch, /AA and the rest, which must come
 * out inert with its web and internal links kept (pdf_inert.h), and the
 * whole-file rewrite of pdf_inert.c.  Every output is read back with
 * qpdf, which must find nothing to repair.
 * Runs in the test process.  Standards: ISO 32000-1 §7.3, §7.5, §7.7.3,
 * §12.6.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_inert.h"

/* Three pages; page 2 links to page 3 and shares its content stream. */
static const char *const objs[] = {
	/* 1 */ "<< /Type /Catalog /Pages 2 0 R /Outlines 9 0 R >>",
	/* 2 */ "<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 /MediaBox [0 0 300 400] "
		"/Rotate 90 /Resources << /Font << /F1 6 0 R >> >> >>",
	/* 3 */ "<< /Type /Page /Parent 2 0 R /Contents 7 0 R >>",
	/* 4 */ "<< /Type /Page /Parent 2 0 R /Contents 8 0 R /Annots [10 0 R] /X#20Y (a\\(b\\)c) "
		"/Bin <00FF10> /Real 1.50 /Missing 99 0 R /Up 2 0 R /Cat 1 0 R >>",
	/* 5 */ "<< /Type /Page /Parent 2 0 R /Contents 8 0 R /MediaBox [0 0 100 100] >>",
	/* 6 */ "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	/* 7 */ "<< /Length 33 >>\nstream\nBT /F1 12 Tf 10 10 Td (one) Tj ET\nendstream",
	/* 8 */ "<< /Length 11 0 R /Filter /ASCIIHexDecode >>\nstream\n4254204554>\nendstream",
	/* 9 */ "<< /Type /Outlines /Count 0 >>",
	/* 10 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /Dest [5 0 R /Fit] /P 4 0 R >>",
	/* 11 */ "11",
};
#define NOBJS (sizeof(objs) / sizeof(objs[0]))

static uint8_t *doc;
static size_t doclen;

/* A PDF of objects 1..n, given as their text. */
static uint8_t *pdf_of(const char *const *o, size_t n, size_t *len)
{
	struct buf b;
	size_t off[64], xref;
	assert_true(n <= 64);
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
	for (size_t i = 0; i < n; i++) {
		off[i] = b.len;
		buf_printf(&b, "%zu 0 obj\n%s\nendobj\n", i + 1, o[i]);
	}
	xref = b.len;
	buf_printf(&b, "xref\n0 %zu\n0000000000 65535 f\r\n", n + 1);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%010zu 00000 n\r\n", off[i]);
	buf_printf(&b, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", n + 1,
		   xref);
	return buf_steal(&b, len);
}

static uint8_t *make_doc(size_t *len)
{
	return pdf_of(objs, NOBJS, len);
}

static qpdf_data open_mem(const uint8_t *pdf, size_t len, const char *password)
{
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, QPDF_TRUE);
	assert_false(qpdf_read_memory(q, "in.pdf", (const char *)pdf, len, password) & QPDF_ERRORS);
	return q;
}

/* qpdf reads what we wrote without a warning (nothing to repair). */
static qpdf_data reopen(const struct buf *out)
{
	qpdf_data q = open_mem(out->data, out->len, NULL);
	struct pdf_info info;
	struct error e;
	assert_false(qpdf_check_pdf(q) & QPDF_ERRORS);
	assert_false(qpdf_more_warnings(q));
	assert_int_equal(pdf_check(out->data, out->len, NULL, 0, &info, &e), 0);
	assert_int_equal(info.repaired, 0);
	return q;
}

static void write_pages(const uint8_t *in, size_t inlen, const char *password, int first,
			int count, struct buf *out)
{
	qpdf_data q = open_mem(in, inlen, password);
	struct pdf_copier *c = NULL;
	struct error e;
	assert_int_equal(pdf_copier_new(q, &c, &e), 0);
	buf_init(out, 1 << 20);
	if (pdf_copier_write(c, first, count, NULL, out, NULL, &e) < 0)
		fail_msg("write pages %d+%d: %s", first, count, e.msg);
	pdf_copier_free(&c);
	qpdf_cleanup(&q);
}

/* The data of a page's /Contents stream, as stored or decoded. */
static char *contents(qpdf_data q, int page, enum qpdf_stream_decode_level_e level, size_t *len)
{
	qpdf_oh p = qpdf_get_page_n(q, (size_t)page);
	qpdf_oh s = qpdf_oh_get_key(q, p, "/Contents");
	unsigned char *data = NULL;
	assert_true(qpdf_oh_is_stream(q, s));
	assert_false(qpdf_oh_get_stream_data(q, s, level, NULL, &data, len) & QPDF_ERRORS);
	return (char *)data;
}

static void test_inherited_attributes(void **state)
{
	struct buf out;
	qpdf_data q;
	qpdf_oh page, box, font;
	size_t n;
	char *raw;

	write_pages(doc, doclen, NULL, 1, 1, &out);
	q = reopen(&out);
	assert_int_equal(qpdf_get_num_pages(q), 1);
	page = qpdf_get_page_n(q, 0);
	box = qpdf_oh_get_key(q, page, "/MediaBox");
	assert_string_equal(qpdf_oh_unparse_resolved(q, box), "[ 0 0 300 400 ]");
	assert_int_equal(qpdf_oh_get_int_value(q, qpdf_oh_get_key(q, page, "/Rotate")), 90);
	font = qpdf_oh_get_key(q, qpdf_oh_get_key(q, qpdf_oh_get_key(q, page, "/Resources"), "/Font"),
			       "/F1");
	assert_string_equal(qpdf_oh_get_name(q, qpdf_oh_get_key(q, font, "/BaseFont")), "/Helvetica");
	raw = contents(q, 0, qpdf_dl_none, &n);
	assert_int_equal(n, 33);
	assert_memory_equal(raw, "BT /F1 12 Tf 10 10 Td (one) Tj ET", 33);
	free(raw);
	/* a notice is its pages: no outline, no /Info */
	assert_false(qpdf_oh_has_key(q, qpdf_get_root(q), "/Outlines"));
	assert_false(qpdf_oh_has_key(q, qpdf_get_trailer(q), "/Info"));
	assert_true(qpdf_oh_has_key(q, qpdf_get_trailer(q), "/ID"));
	assert_null(memmem(out.data, out.len, "/Outlines", 9));
	qpdf_cleanup(&q);
	buf_free(&out);
}

static void test_one_page_of_three(void **state)
{
	struct buf out;
	qpdf_data q;
	qpdf_oh page, annot, dest, s;
	size_t n = 0;
	char *raw;
	const char *bin;

	write_pages(doc, doclen, NULL, 2, 1, &out);
	q = reopen(&out);
	page = qpdf_get_page_n(q, 0);
	annot = qpdf_oh_get_array_item(q, qpdf_oh_get_key(q, page, "/Annots"), 0);
	/* the link's target is not in this file: null, as qpdf does */
	dest = qpdf_oh_get_key(q, annot, "/Dest");
	assert_true(qpdf_oh_is_null(q, qpdf_oh_get_array_item(q, dest, 0)));
	/* its /P is this page */
	assert_int_equal(qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, annot, "/P")),
			 qpdf_oh_get_object_id(q, page));
	/* names, strings and reals as they were */
	assert_string_equal(qpdf_oh_get_utf8_value(q, qpdf_oh_get_key(q, page, "/X Y")), "a(b)c");
	bin = qpdf_oh_get_binary_string_value(q, qpdf_oh_get_key(q, page, "/Bin"), &n);
	assert_int_equal(n, 3);
	assert_memory_equal(bin, "\x00\xff\x10", 3);
	assert_string_equal(qpdf_oh_get_real_value(q, qpdf_oh_get_key(q, page, "/Real")), "1.50");
	assert_true(qpdf_oh_is_null(q, qpdf_oh_get_key(q, page, "/Missing")));
	/* the input's catalog and page tree never come along */
	assert_true(qpdf_oh_is_null(q, qpdf_oh_get_key(q, page, "/Up")));
	assert_true(qpdf_oh_is_null(q, qpdf_oh_get_key(q, page, "/Cat")));
	assert_null(memmem(out.data, out.len, "/Outlines", 9));
	/* stream data as stored: still hex-encoded, /Length made direct */
	s = qpdf_oh_get_key(q, page, "/Contents");
	assert_string_equal(qpdf_oh_get_name(q, qpdf_oh_get_key(q, qpdf_oh_get_dict(q, s), "/Filter")),
			    "/ASCIIHexDecode");
	assert_false(qpdf_oh_is_indirect(q, qpdf_oh_get_key(q, qpdf_oh_get_dict(q, s), "/Length")));
	raw = contents(q, 0, qpdf_dl_none, &n);
	assert_int_equal(n, 11);
	assert_memory_equal(raw, "4254204554>", 11);
	free(raw);
	qpdf_cleanup(&q);
	buf_free(&out);
}

static void test_two_pages_share(void **state)
{
	struct buf out;
	qpdf_data q;
	qpdf_oh p1, p2, dest;
	const uint8_t *at;
	int streams = 0;

	write_pages(doc, doclen, NULL, 2, 2, &out);
	q = reopen(&out);
	assert_int_equal(qpdf_get_num_pages(q), 2);
	p1 = qpdf_get_page_n(q, 0);
	p2 = qpdf_get_page_n(q, 1);
	/* the link now points at page 2 of the new file */
	dest = qpdf_oh_get_key(q, qpdf_oh_get_array_item(q, qpdf_oh_get_key(q, p1, "/Annots"), 0),
			       "/Dest");
	assert_int_equal(qpdf_oh_get_object_id(q, qpdf_oh_get_array_item(q, dest, 0)),
			 qpdf_oh_get_object_id(q, p2));
	/* one content stream for both pages, and page 3's own box wins */
	assert_int_equal(qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, p1, "/Contents")),
			 qpdf_oh_get_object_id(q, qpdf_oh_get_key(q, p2, "/Contents")));
	for (at = out.data; (at = memmem(at, out.len - (size_t)(at - out.data), "endstream", 9)); at += 9)
		streams++;
	assert_int_equal(streams, 1);
	assert_string_equal(qpdf_oh_unparse_resolved(q, qpdf_oh_get_key(q, p2, "/MediaBox")),
			    "[ 0 0 100 100 ]");
	qpdf_cleanup(&q);
	buf_free(&out);
}

static void test_many_writes_one_copier(void **state)
{
	qpdf_data q = open_mem(doc, doclen, NULL);
	struct pdf_copier *c = NULL;
	struct buf out;
	struct error e;

	assert_int_equal(pdf_copier_new(q, &c, &e), 0);
	buf_init(&out, 1 << 20);
	/* objects dropped after one use are read again when needed */
	for (int i = 0; i < 30; i++) {
		int first = 1 + i % 3;
		qpdf_data r;
		size_t n;
		char *raw;
		assert_int_equal(pdf_copier_write(c, first, 1, NULL, &out, NULL, &e), 0);
		r = reopen(&out);
		raw = contents(r, 0, qpdf_dl_none, &n);
		assert_int_equal(n, first == 1 ? 33 : 11);
		free(raw);
		qpdf_cleanup(&r);
	}
	/* no such pages: one clear error, nothing written */
	assert_int_equal(pdf_copier_write(c, 0, 1, NULL, &out, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "do not exist"));
	assert_int_equal(pdf_copier_write(c, 3, 2, NULL, &out, NULL, &e), -1);
	assert_int_equal(pdf_copier_write(c, 4, 1, NULL, &out, NULL, &e), -1);
	assert_int_equal(out.len, 0);
	/* a file over the buffer's cap is an error, not a short file */
	buf_free(&out);
	buf_init(&out, 200);
	assert_int_equal(pdf_copier_write(c, 1, 1, NULL, &out, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "larger than"));
	buf_free(&out);
	pdf_copier_free(&c);
	qpdf_cleanup(&q);
}

static void test_object_streams_and_encryption(void **state)
{
	qpdf_data q = open_mem(doc, doclen, NULL);
	uint8_t *enc;
	size_t enclen, n;
	struct buf out;
	qpdf_data r;
	char *raw;

	/* the same document with object streams, AES-256 encrypted */
	assert_false(qpdf_init_write_memory(q) & QPDF_ERRORS);
	qpdf_set_object_stream_mode(q, qpdf_o_generate);
	qpdf_set_r6_encryption_parameters2(q, "user-pw", "owner-pw", QPDF_TRUE, QPDF_TRUE,
					   QPDF_TRUE, QPDF_TRUE, QPDF_TRUE, QPDF_TRUE,
					   qpdf_r3p_full, QPDF_TRUE);
	assert_false(qpdf_write(q) & QPDF_ERRORS);
	enclen = qpdf_get_buffer_length(q);
	enc = xmalloc(enclen);
	memcpy(enc, qpdf_get_buffer(q), enclen);
	qpdf_cleanup(&q);
	assert_null(memmem(enc, enclen, "(one)", 5));

	write_pages(enc, enclen, "user-pw", 1, 1, &out);
	/* the new file is not encrypted and holds the clear content */
	assert_null(memmem(out.data, out.len, "/Encrypt", 8));
	r = reopen(&out);
	assert_false(qpdf_is_encrypted(r));
	/* (qpdf compressed the stream when it encrypted the file) */
	raw = contents(r, 0, qpdf_dl_generalized, &n);
	assert_int_equal(n, 33);
	assert_memory_equal(raw, "BT /F1 12 Tf 10 10 Td (one) Tj ET", 33);
	free(raw);
	qpdf_cleanup(&r);
	buf_free(&out);
	free(enc);
}

static void test_nesting_limit(void **state)
{
	struct buf b, out;
	size_t off[4], xref;
	uint8_t *pdf;
	size_t len;
	qpdf_data q;
	struct pdf_copier *c = NULL;
	struct error e;
	const char *base[] = { "<< /Type /Catalog /Pages 2 0 R >>",
			       "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", NULL,
			       "<< /Length 0 >>\nstream\n\nendstream" };

	buf_init(&b, 1 << 20);
	buf_append_str(&b, "%PDF-1.7\n");
	for (int i = 0; i < 4; i++) {
		off[i] = b.len;
		buf_printf(&b, "%d 0 obj\n", i + 1);
		if (base[i]) {
			buf_append_str(&b, base[i]);
		} else {
			buf_append_str(&b, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] "
					   "/Contents 4 0 R /Deep ");
			for (int d = 0; d < 80; d++)
				buf_append_str(&b, "[");
			for (int d = 0; d < 80; d++)
				buf_append_str(&b, "]");
			buf_append_str(&b, " >>");
		}
		buf_append_str(&b, "\nendobj\n");
	}
	xref = b.len;
	buf_append_str(&b, "xref\n0 5\n0000000000 65535 f\r\n");
	for (int i = 0; i < 4; i++)
		buf_printf(&b, "%010zu 00000 n\r\n", off[i]);
	buf_printf(&b, "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	pdf = buf_steal(&b, &len);

	q = open_mem(pdf, len, NULL);
	assert_int_equal(pdf_copier_new(q, &c, &e), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(pdf_copier_write(c, 1, 1, NULL, &out, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "nests"));
	buf_free(&out);
	pdf_copier_free(&c);
	qpdf_cleanup(&q);
	free(pdf);
}


/* Two pages full of active content (pdf_inert.h), and what must stay:
 * an https link, an internal GoTo link, a NextPage action, the text. */
static const char *const hostile[] = {
	/* 1 */ "<< /Type /Catalog /Pages 2 0 R /OpenAction 20 0 R /AA << /WC 20 0 R >> "
		"/Names << /JavaScript << /Names [(a) 20 0 R] >> /EmbeddedFiles << /Names [(x.exe) 19 0 R] >> >> "
		"/AcroForm << /Fields [9 0 R] /XFA 18 0 R >> >>",
	/* 2 */ "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 300 400] >>",
	/* 3 */ "<< /Type /Page /Parent 2 0 R /Contents 17 0 R "
		"/AA << /O << /S /JavaScript /JS (app.alert\\(1\\)) >> /C << /S /Launch /F (a.bat) >> >> "
		"/Annots [5 0 R 6 0 R 7 0 R 8 0 R 9 0 R 10 0 R 11 0 R 12 0 R] >>",
	/* 4 */ "<< /Type /Page /Parent 2 0 R /Contents 17 0 R /Annots [13 0 R] /Foo 20 0 R "
		"/Arr [ << /S /JavaScript /JS (x) >> 7 ] >>",
	/* 5 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (https://example.org/a) >> >>",
	/* 6 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (javascript:alert\\(1\\)) >> >>",
	/* 7 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /GoTo /D [4 0 R /Fit] "
		"/Next [ << /S /JavaScript /JS (1) >> << /S /SubmitForm /F (http://e/) >> ] >> >>",
	/* 8 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A 20 0 R >>",
	/* 9 */ "<< /Type /Annot /Subtype /Widget /FT /Tx /T (f) /Rect [0 0 9 9] /P 3 0 R "
		"/AA << /K << /S /JavaScript /JS (event.rc=1) >> >> >>",
	/* 10 */ "<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS 19 0 R >>",
	/* 11 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /Named /N /Print >> >>",
	/* 12 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /Named /N /NextPage >> >>",
	/* 13 */ "<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A 20 0 R >>",
	/* 14 */ "<< >>",
	/* 15 */ "<< >>",
	/* 16 */ "<< >>",
	/* 17 */ "<< /Length 33 >>\nstream\nBT /F1 12 Tf 10 10 Td (one) Tj ET\nendstream",
	/* 18 */ "<< /Length 9 >>\nstream\n<xdp:xdp>\nendstream",
	/* 19 */ "<< /Type /Filespec /F (x.exe) >>",
	/* 20 */ "<< /Type /Action /S /JavaScript /JS (app.alert\\(2\\)) >>",
};

static int label_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* What was removed, as sorted lines. */
static void labels_of(const struct pdf_removed *r, char *out, size_t outsize)
{
	char l[PDF_REMOVED_MAX][160];
	out[0] = '\0';
	for (size_t i = 0; i < r->n; i++)
		pdf_removal_label(&r->v[i], 1, l[i], sizeof(l[i]));
	qsort(l, r->n, sizeof(l[0]), label_cmp);
	for (size_t i = 0; i < r->n; i++) {
		str_copy(out + strlen(out), l[i], outsize - strlen(out));
		str_copy(out + strlen(out), "\n", outsize - strlen(out));
	}
}

static void assert_inert(const struct buf *out)
{
	static const char *const banned[] = { "/JavaScript", "/JS", "/Launch", "/AA", "javascript:",
					      "/FileAttachment", "/Next ", "/Print", "/SubmitForm",
					      "/OpenAction", "/EmbeddedFiles", "/XFA", "x.exe" };
	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
		if (memmem(out->data, out->len, banned[i], strlen(banned[i])) != NULL)
			fail_msg("%s is still in the file", banned[i]);
}

static void test_active_content_left_out(void **state)
{
	size_t len;
	uint8_t *pdf = pdf_of(hostile, sizeof(hostile) / sizeof(hostile[0]), &len);
	qpdf_data q = open_mem(pdf, len, NULL), r;
	struct pdf_copier *c = NULL;
	struct buf out;
	struct error e;
	char got[4096];
	qpdf_oh p1, p2, annots, a;

	assert_int_equal(pdf_copier_new(q, &c, &e), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(pdf_copier_write(c, 1, 2, NULL, &out, NULL, &e), 0);
	assert_inert(&out);
	labels_of(pdf_copier_removed(c), got, sizeof(got));
	assert_string_equal(got, "page 1: FileAttachment annotation\n"
				 "page 1: annotation /AA JavaScript action\n"
				 "page 1: annotation JavaScript action\n"
				 "page 1: annotation Named action\n"
				 "page 1: annotation non-http(s) URI action\n"
				 "page 1: chained (/Next) JavaScript action\n"
				 "page 1: chained (/Next) SubmitForm action\n"
				 "page 1: page /AA JavaScript action\n"
				 "page 1: page /AA Launch action\n"
				 "page 2: JavaScript action\n");
	r = reopen(&out);
	p1 = qpdf_get_page_n(r, 0);
	p2 = qpdf_get_page_n(r, 1);
	annots = qpdf_oh_get_key(r, p1, "/Annots");
	/* the file attachment is gone from /Annots, the links stay */
	assert_int_equal(qpdf_oh_get_array_n_items(r, annots), 7);
	a = qpdf_oh_get_key(r, qpdf_oh_get_array_item(r, annots, 0), "/A");
	assert_string_equal(qpdf_oh_get_utf8_value(r, qpdf_oh_get_key(r, a, "/URI")),
			    "https://example.org/a");
	assert_false(qpdf_oh_has_key(r, qpdf_oh_get_array_item(r, annots, 1), "/A"));
	/* the internal link goes to page 2 of the new file, without /Next */
	a = qpdf_oh_get_key(r, qpdf_oh_get_array_item(r, annots, 2), "/A");
	assert_string_equal(qpdf_oh_get_name(r, qpdf_oh_get_key(r, a, "/S")), "/GoTo");
	assert_int_equal(qpdf_oh_get_object_id(r, qpdf_oh_get_array_item(r, qpdf_oh_get_key(r, a, "/D"), 0)),
			 qpdf_oh_get_object_id(r, p2));
	assert_false(qpdf_oh_has_key(r, a, "/Next"));
	/* the shared JavaScript action: gone where it was an /A, null elsewhere */
	assert_false(qpdf_oh_has_key(r, qpdf_oh_get_array_item(r, annots, 3), "/A"));
	assert_true(qpdf_oh_is_null(r, qpdf_oh_get_key(r, p2, "/Foo")));
	assert_int_equal(qpdf_oh_get_array_n_items(r, qpdf_oh_get_key(r, p2, "/Arr")), 1);
	/* the form field keeps its widget, listed in /AcroForm, without /AA */
	a = qpdf_oh_get_array_item(r, annots, 4);
	assert_string_equal(qpdf_oh_get_name(r, qpdf_oh_get_key(r, a, "/Subtype")), "/Widget");
	assert_int_equal(qpdf_oh_get_object_id(r, qpdf_oh_get_array_item(r,
			 qpdf_oh_get_key(r, qpdf_oh_get_key(r, qpdf_get_root(r), "/AcroForm"), "/Fields"), 0)),
			 qpdf_oh_get_object_id(r, a));
	/* NextPage is kept, Print is not */
	assert_false(qpdf_oh_has_key(r, qpdf_oh_get_array_item(r, annots, 5), "/A"));
	a = qpdf_oh_get_key(r, qpdf_oh_get_array_item(r, annots, 6), "/A");
	assert_string_equal(qpdf_oh_get_name(r, qpdf_oh_get_key(r, a, "/N")), "/NextPage");
	qpdf_cleanup(&r);

	/* page 2 alone, twice (the second time from the copier's cache):
	 * the shared action is reported each time, on page 1 of the file */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pdf_copier_write(c, 2, 1, NULL, &out, NULL, &e), 0);
		assert_inert(&out);
		labels_of(pdf_copier_removed(c), got, sizeof(got));
		assert_string_equal(got, "page 1: JavaScript action\n"
					 "page 1: annotation JavaScript action\n");
		r = reopen(&out);
		qpdf_cleanup(&r);
	}
	buf_free(&out);
	pdf_copier_free(&c);
	qpdf_cleanup(&q);
	free(pdf);
}

static void test_inert_rewrite(void **state)
{
	size_t len;
	uint8_t *pdf = pdf_of(hostile, sizeof(hostile) / sizeof(hostile[0]), &len);
	struct pdf_removed rm;
	struct buf out;
	struct error e;
	char got[4096];
	qpdf_data r;

	buf_init(&out, 1 << 20);
	assert_int_equal(pdf_inert_rewrite(pdf, len, NULL, 0, &out, &rm, &e), 0);
	assert_true(out.len > 0);
	assert_inert(&out);
	labels_of(&rm, got, sizeof(got));
	/* the document's part and the pages' */
	assert_string_equal(got, "document: JavaScript name tree\n"
				 "document: OpenAction JavaScript action\n"
				 "document: XFA form\n"
				 "document: catalog /AA JavaScript action\n"
				 "document: embedded files\n"
				 "document: form field /AA JavaScript action\n"
				 "page 1: FileAttachment annotation\n"
				 "page 1: annotation /AA JavaScript action\n"
				 "page 1: annotation JavaScript action\n"
				 "page 1: annotation Named action\n"
				 "page 1: annotation non-http(s) URI action\n"
				 "page 1: chained (/Next) JavaScript action\n"
				 "page 1: chained (/Next) SubmitForm action\n"
				 "page 1: page /AA JavaScript action\n"
				 "page 1: page /AA Launch action\n"
				 "page 2: JavaScript action\n");
	r = reopen(&out);
	assert_int_equal(qpdf_get_num_pages(r), 2);
	qpdf_cleanup(&r);
	free(pdf);

	/* a clean document is left as it is: nothing to rewrite */
	assert_int_equal(pdf_inert_rewrite(doc, doclen, NULL, 0, &out, &rm, &e), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(rm.n, 0);
	/* a script in a form field no page shows, an embedded file on a
	 * page (/AF): rewritten */
	for (int i = 0; i < 2; i++) {
		const char *o[NOBJS + 1];
		memcpy(o, objs, sizeof(objs));
		o[NOBJS] = "<< /Type /Filespec /F (x.exe) /EF << /F 7 0 R >> >>";
		if (i == 0)
			o[0] = "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [ << /FT /Tx /T (sum) "
			       "/AA << /C << /S /JavaScript /JS (1) >> >> >> ] /CO [] >> >>";
		else
			o[2] = "<< /Type /Page /Parent 2 0 R /Contents 7 0 R /AF [12 0 R] >>";
		pdf = pdf_of(o, NOBJS + 1, &len);
		assert_int_equal(pdf_inert_rewrite(pdf, len, NULL, 0, &out, &rm, &e), 0);
		assert_true(out.len > 0);
		assert_inert(&out);
		labels_of(&rm, got, sizeof(got));
		assert_string_equal(got, i == 0 ? "document: form field /AA JavaScript action\n"
						: "page 1: embedded file\n");
		free(pdf);
	}
	/* and so is one that opens on a page: a destination, or a GoTo */
	for (int i = 0; i < 2; i++) {
		const char *o[NOBJS];
		memcpy(o, objs, sizeof(o));
		o[0] = i ? "<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /GoTo /D [4 0 R /Fit] >> >>"
			 : "<< /Type /Catalog /Pages 2 0 R /OpenAction [4 0 R /Fit] >>";
		pdf = pdf_of(o, NOBJS, &len);
		assert_int_equal(pdf_inert_rewrite(pdf, len, NULL, 0, &out, &rm, &e), 0);
		assert_int_equal(out.len, 0);
		assert_int_equal(rm.n, 0);
		free(pdf);
	}
	buf_free(&out);
}

/* The verdict on single actions: what is kept and what goes. */
static void test_verdicts(void **state)
{
	static const struct {
		const char *obj;
		int strict;
		int kept;
	} cases[] = {
		{ "<< /S /URI /URI (https://example.org/x) >>", 1, 1 },
		{ "<< /S /URI /URI (HTTP://example.org) >>", 1, 1 },
		{ "<< /S /URI /URI (https://a b) >>", 1, 0 },
		{ "<< /S /URI /URI (javascript:x) >>", 1, 0 },
		{ "<< /S /URI /URI (file:///etc/passwd) >>", 1, 0 },
		{ "<< /S /URI /URI (data:text/html,x) >>", 1, 0 },
		{ "<< /S /URI /URI (mailto:a@b) >>", 1, 0 },
		{ "<< /S /URI >>", 1, 0 },
		{ "<< /S /GoTo /D [1 /Fit] >>", 1, 1 },
		{ "<< /S /GoTo /D (name) /JS (x) >>", 1, 0 },
		{ "<< /S /GoToR /F (x.pdf) /D [0 /Fit] >>", 1, 0 },
		{ "<< /S /GoToE /D [0 /Fit] >>", 1, 0 },
		{ "<< /S /Launch /F (x) >>", 0, 0 },
		{ "<< /S /ImportData /F (x.fdf) >>", 0, 0 },
		{ "<< /S /ResetForm >>", 0, 0 },
		{ "<< /S /Hide /T (x) >>", 0, 0 },
		{ "<< /S /Rendition /JS (x) >>", 0, 0 },
		{ "<< /S /RichMediaExecute >>", 0, 0 },
		{ "<< /S /SetOCGState /State [] >>", 0, 0 },
		{ "<< /S /Named /N /LastPage >>", 1, 1 },
		{ "<< /S /Named /N /SaveAs >>", 1, 0 },
		{ "<< /S /Frobnicate >>", 1, 0 },
		{ "<< /Type /Action /S /Frobnicate >>", 0, 0 },
		{ "<< /JS (x) >>", 0, 0 },
		{ "<< /Type /Annot /Subtype /Screen /Rect [0 0 1 1] >>", 0, 0 },
		{ "<< /Type /Annot /Subtype /RichMedia /Rect [0 0 1 1] >>", 0, 0 },
		{ "<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] >>", 0, 1 },
		/* not actions: a border style, a transparency group, a font */
		{ "<< /S /S /W 1 >>", 0, 1 },
		{ "<< /S /Transparency /CS /DeviceRGB >>", 0, 1 },
		{ "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", 0, 1 },
		{ "[1 /Fit]", 1, 1 },
	};
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	assert_false(qpdf_empty_pdf(q) & QPDF_ERRORS);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		qpdf_oh oh = qpdf_oh_parse(q, cases[i].obj);
		int v = pdf_inert_verdict(q, oh, cases[i].strict);
		if ((v < 0) != cases[i].kept)
			fail_msg("%s: %s", cases[i].obj, v < 0 ? "kept" : "removed");
	}
	qpdf_cleanup(&q);
}


/* A form field with a field and a widget on each of two residents' pages:
 * page 1's file must not carry page 2's (the value and the appearance
 * show page 2's resident), and lists the field in /AcroForm. */
static void test_field_widgets_stay_with_their_page(void **state)
{
	static const char *const o[] = {
		/* 1 */ "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>",
		/* 2 */ "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 300 400] >>",
		/* 3 */ "<< /Type /Page /Parent 2 0 R /Annots [6 0 R] >>",
		/* 4 */ "<< /Type /Page /Parent 2 0 R /Annots [7 0 R] >>",
		/* 5 */ "<< /FT /Tx /T (name) /Kids [10 0 R 11 0 R 7 0 R] >>",
		/* 6 */ "<< /Type /Annot /Subtype /Widget /Parent 10 0 R /P 3 0 R /Rect [0 0 9 9] "
			"/AP << /N 8 0 R >> >>",
		/* 7 */ "<< /Type /Annot /Subtype /Widget /Parent 11 0 R /P 4 0 R /Rect [0 0 9 9] "
			"/AP << /N 9 0 R >> >>",
		/* 8 */ "<< /Type /XObject /Subtype /Form /BBox [0 0 9 9] /Length 14 >>\nstream\n(Sato Ichiro) \nendstream",
		/* 9 */ "<< /Type /XObject /Subtype /Form /BBox [0 0 9 9] /Length 14 >>\nstream\n(Suzuki Jiro) \nendstream",
		/* 10 */ "<< /T (0) /V (Sato) /Parent 5 0 R /Kids [6 0 R] >>",
		/* 11 */ "<< /T (1) /V (Suzuki) /Parent 5 0 R /Kids [7 0 R] >>",
	};
	size_t len;
	uint8_t *pdf = pdf_of(o, sizeof(o) / sizeof(o[0]), &len);
	struct buf out;
	qpdf_data r;
	qpdf_oh fields;

	write_pages(pdf, len, NULL, 1, 1, &out);
	assert_non_null(memmem(out.data, out.len, "Sato", 4));
	assert_null(memmem(out.data, out.len, "Suzuki", 6));
	r = reopen(&out);
	fields = qpdf_oh_get_key(r, qpdf_oh_get_key(r, qpdf_get_root(r), "/AcroForm"), "/Fields");
	assert_int_equal(qpdf_oh_get_array_n_items(r, fields), 1);
	assert_string_equal(qpdf_oh_get_utf8_value(r, qpdf_oh_get_key(r,
			    qpdf_oh_get_array_item(r, fields, 0), "/T")), "name");
	qpdf_cleanup(&r);
	buf_free(&out);
	write_pages(pdf, len, NULL, 2, 1, &out);
	assert_non_null(memmem(out.data, out.len, "Suzuki", 6));
	assert_null(memmem(out.data, out.len, "Sato", 4));
	buf_free(&out);
	free(pdf);
}

static int setup(void **state)
{
	doc = make_doc(&doclen);
	return 0;
}

static int teardown(void **state)
{
	free(doc);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inherited_attributes),
		cmocka_unit_test(test_one_page_of_three),
		cmocka_unit_test(test_two_pages_share),
		cmocka_unit_test(test_many_writes_one_copier),
		cmocka_unit_test(test_object_streams_and_encryption),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_active_content_left_out),
		cmocka_unit_test(test_inert_rewrite),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_field_widgets_stay_with_their_page),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
