/*
 * test_pdf_writer.c — unit tests of the one PDF writer (pdf_writer.h):
 * whole files and incremental updates written with it, with a classic
 * cross-reference table and with a cross-reference stream, checked by
 * the real qpdf (`qpdf --check`, which exits 0 only with no error and no
 * warning, so a wrong offset or a broken /Prev chain fails) and read back
 * through qpdf's C API without any repair.
 * Runs in the test process.  Standards: ISO 32000-1 §7.5 (through qpdf).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_writer.h"

static char *tmpdir;

/* Run argv (NULL-terminated, found on PATH); its exit status, or -1. */
static int run(char **argv)
{
	int status = -1;
	GError *err = NULL;
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL, NULL, NULL, NULL, &status, &err)) {
		fprintf(stderr, "cannot run %s: %s\n", argv[0], err->message);
		g_error_free(err);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state)
{
	(void)state;
	tmpdir = g_dir_make_tmp("tayori-writer-XXXXXX", NULL);
	return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
	char *argv[] = { "rm", "-rf", tmpdir, NULL };
	(void)state;
	run(argv);
	g_free(tmpdir);
	return 0;
}

/* qpdf --check on the bytes of b: 0 when qpdf finds nothing to say. */
static int qpdf_check(const struct buf *b, const char *name)
{
	char *path = g_build_filename(tmpdir, name, NULL);
	char *argv[] = { "qpdf", "--check", path, NULL };
	int rc;
	assert_true(g_file_set_contents(path, (const char *)b->data, (gssize)b->len, NULL));
	rc = run(argv);
	g_free(path);
	return rc;
}

/* Open b with qpdf; it must need no repair (no warning). */
static qpdf_data open_clean(const struct buf *b)
{
	struct error e;
	qpdf_data q;
	assert_int_equal(pdf_qpdf_read(b->data, b->len, NULL, 0, &q, NULL, &e), 0);
	assert_int_equal(qpdf_get_num_pages(q), 1);
	assert_false(qpdf_more_warnings(q));
	return q;
}

/*
 * A one-page file: catalog 1, pages 2, page 3, content stream 4 and an
 * /Info 5 with a Japanese title, written in the given xref form.
 */
static void write_base(struct buf *b, enum pdf_xref_form form)
{
	static const char content[] = "BT /F1 12 Tf 72 720 Td (hello) Tj ET";
	struct pdf_writer w;
	struct pdf_trailer t = { .size = 6, .root_id = 1, .root_gen = 0, .info = "5 0 R",
				 .id = "[ <00112233445566778899AABBCCDDEEFF> "
				       "<00112233445566778899AABBCCDDEEFF> ]",
				 .prev = -1 };

	buf_init(b, (size_t)1 << 20);
	pdf_writer_init(&w, b);
	pdf_writer_str(&w, form == PDF_XREF_STREAM ? "%PDF-1.5\n%\xE2\xE3\xCF\xD3\n"
						    : "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
	pdf_writer_begin(&w, 1, 0);
	pdf_writer_str(&w, "<< /Type /Catalog /Pages 2 0 R >>");
	pdf_writer_end(&w);
	pdf_writer_begin(&w, 2, 0);
	pdf_writer_str(&w, "<< /Type /Pages /Kids [ 3 0 R ] /Count 1 >>");
	pdf_writer_end(&w);
	pdf_writer_begin(&w, 3, 0);
	pdf_writer_str(&w, "<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 612 792 ] "
			   "/Contents 4 0 R >>");
	pdf_writer_end(&w);
	pdf_writer_begin(&w, 4, 0);
	pdf_writer_printf(&w, "<< /Length %zu >>\nstream\n%s\nendstream", strlen(content),
			  content);
	pdf_writer_end(&w);
	pdf_writer_begin(&w, 5, 0);
	pdf_writer_str(&w, "<< /Title ");
	pdf_writer_text(&w, "お知らせ (notice)");
	pdf_writer_str(&w, " /Producer ");
	pdf_writer_text(&w, "a (b) \\ c");
	pdf_writer_str(&w, " >>");
	pdf_writer_end(&w);
	assert_int_equal(pdf_writer_finish(&w, form, &t), 0);
	pdf_writer_free(&w);
}

static void check_base(const struct buf *b)
{
	qpdf_data q = open_clean(b);
	qpdf_oh info = qpdf_oh_get_key(q, qpdf_get_trailer(q), "/Info");
	assert_string_equal(qpdf_oh_get_utf8_value(q, qpdf_oh_get_key(q, info, "/Title")),
			    "お知らせ (notice)");
	assert_string_equal(qpdf_oh_get_utf8_value(q, qpdf_oh_get_key(q, info, "/Producer")),
			    "a (b) \\ c");
	qpdf_cleanup(&q);
}

static void test_whole_file_table(void **state)
{
	struct buf b;
	(void)state;
	write_base(&b, PDF_XREF_TABLE);
	/* object 0 heads the free list, in the same subsection as 1-5 */
	assert_non_null(memmem(b.data, b.len, "xref\n0 6\n0000000000 65535 f\r\n", 29));
	assert_int_equal(qpdf_check(&b, "table.pdf"), 0);
	check_base(&b);
	buf_free(&b);
}

static void test_whole_file_stream(void **state)
{
	struct buf b;
	(void)state;
	write_base(&b, PDF_XREF_STREAM);
	assert_non_null(memmem(b.data, b.len, "/Type /XRef", 11));
	assert_null(memmem(b.data, b.len, "trailer", 7));
	assert_int_equal(qpdf_check(&b, "stream.pdf"), 0);
	check_base(&b);
	buf_free(&b);
}

/*
 * An update over base: a new annotation (number 6) written before the
 * new revision of page 3 that lists it, so the entries are out of order
 * and in two subsections; /Prev names base's xref section.
 */
static void write_update(const struct buf *base, struct buf *out, enum pdf_xref_form form)
{
	struct pdf_writer w;
	struct pdf_trailer t = { .size = 6, .root_id = 1, .root_gen = 0, .info = "5 0 R",
				 .prev = -1 };
	size_t at = base->len - 9;
	int annot;

	/* the last startxref (the rows of a stream hold NUL bytes) */
	while (at > 0 && memcmp(base->data + at, "startxref", 9) != 0)
		at--;
	assert_true(at > 0);
	t.prev = strtoll((const char *)base->data + at + 9, NULL, 10);
	buf_init(out, (size_t)1 << 20);
	pdf_writer_update(&w, out, base->data, base->len, 6);
	annot = pdf_writer_new_id(&w);
	assert_int_equal(annot, 6);
	pdf_writer_begin(&w, annot, 0);
	pdf_writer_str(&w, "<< /Type /Annot /Subtype /Text /Rect [ 10 10 20 20 ] /Contents ");
	pdf_writer_text(&w, "更新");
	pdf_writer_str(&w, " >>");
	pdf_writer_end(&w);
	pdf_writer_begin(&w, 3, 0);
	pdf_writer_str(&w, "<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 612 792 ] "
			   "/Contents 4 0 R /Annots [ 6 0 R ] >>");
	pdf_writer_end(&w);
	assert_int_equal(pdf_writer_finish(&w, form, &t), 0);
	pdf_writer_free(&w);
}

static void check_update(const struct buf *base, const struct buf *up)
{
	qpdf_data q;
	qpdf_oh page, annots;

	/* The earlier revision is kept byte for byte. */
	assert_true(up->len > base->len);
	assert_memory_equal(up->data, base->data, base->len);
	q = open_clean(up);
	page = qpdf_get_page_n(q, 0);
	annots = qpdf_oh_get_key(q, page, "/Annots");
	assert_true(qpdf_oh_is_array(q, annots));
	assert_int_equal(qpdf_oh_get_array_n_items(q, annots), 1);
	assert_string_equal(qpdf_oh_get_utf8_value(q, qpdf_oh_get_key(q,
			    qpdf_oh_get_array_item(q, annots, 0), "/Contents")), "更新");
	qpdf_cleanup(&q);
}

static void test_update_table(void **state)
{
	struct buf base, up;
	(void)state;
	write_base(&base, PDF_XREF_TABLE);
	write_update(&base, &up, PDF_XREF_TABLE);
	/* two subsections, no free-list head in an update */
	assert_non_null(memmem(up.data + base.len, up.len - base.len, "xref\n3 1\n", 9));
	assert_non_null(memmem(up.data + base.len, up.len - base.len, "\n6 1\n", 5));
	assert_non_null(memmem(up.data + base.len, up.len - base.len, "/Prev", 5));
	assert_int_equal(qpdf_check(&up, "update-table.pdf"), 0);
	check_update(&base, &up);
	buf_free(&base);
	buf_free(&up);
}

static void test_update_stream(void **state)
{
	struct buf base, up;
	(void)state;
	write_base(&base, PDF_XREF_STREAM);
	write_update(&base, &up, PDF_XREF_STREAM);
	/* the xref stream takes the next number, 7, and lists itself */
	assert_non_null(memmem(up.data + base.len, up.len - base.len, "/Index [3 1 6 2 ]", 17));
	assert_non_null(memmem(up.data + base.len, up.len - base.len, "/Size 8", 7));
	assert_int_equal(qpdf_check(&up, "update-stream.pdf"), 0);
	check_update(&base, &up);
	buf_free(&base);
	buf_free(&up);
}

/* An update whose base does not end in a newline still starts on a
 * line of its own. */
static void test_update_after_eof_without_newline(void **state)
{
	struct buf base, up;
	(void)state;
	write_base(&base, PDF_XREF_TABLE);
	assert_int_equal(base.data[base.len - 1], '\n');
	base.len--;
	write_update(&base, &up, PDF_XREF_TABLE);
	assert_memory_equal(up.data + base.len, "\n6 0 obj", 8);
	assert_int_equal(qpdf_check(&up, "update-no-newline.pdf"), 0);
	buf_free(&base);
	buf_free(&up);
}

/* A file past its buffer's cap fails at the end, not half-written. */
static void test_cap(void **state)
{
	struct buf b;
	struct pdf_writer w;
	struct pdf_trailer t = { .size = 2, .root_id = 1, .prev = -1 };
	(void)state;
	buf_init(&b, 64);
	pdf_writer_init(&w, &b);
	pdf_writer_str(&w, "%PDF-1.4\n");
	pdf_writer_begin(&w, 1, 0);
	for (int i = 0; i < 20; i++)
		pdf_writer_str(&w, "<< /Type /Catalog >> ");
	pdf_writer_end(&w);
	assert_int_equal(w.oom, 1);
	assert_int_equal(pdf_writer_finish(&w, PDF_XREF_TABLE, &t), -1);
	pdf_writer_free(&w);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_file_table),
		cmocka_unit_test(test_whole_file_stream),
		cmocka_unit_test(test_update_table),
		cmocka_unit_test(test_update_stream),
		cmocka_unit_test(test_update_after_eof_without_newline),
		cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
