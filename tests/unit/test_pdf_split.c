/*
 * test_pdf_split.c — unit tests of pdf_check, pdf_text, pdf_split and the
 * `tayori pdf split` command, on real PDFs: the corpus generator's
 * (Japanese text in an embedded CID font, tests/bench/gen-corpus), small
 * PDFs written here with qpdf's C API, and files broken on purpose
 * (truncated, damaged, encrypted with the qpdf tool, PNG and HTML renamed).
 * Output PDFs are checked with `qpdf --check` and by comparing their page
 * text with the input's.
 * Runs in the test process.  Standards: ISO 32000-1 (through qpdf and
 * poppler).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"
#include "spawn_helpers.h"
#include "gateway/csv.h"
#include "gateway/recipients.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_split.h"
#include "cmd/cli.h"

#define NRES 20 /* residents in the generated corpus: 40 pages */

static char *tmpdir;     /* scratch, removed at the end */
static char *corpus;     /* NRES x 2 pages, key on every page */
static char *corpus_csv;
static uint8_t *cdata;   /* corpus.pdf bytes */
static size_t clen;

/* The generator's keys: 00010000 + 37 i. */
static void gen_key(int i, char *out, size_t n)
{
	snprintf(out, n, "%08d", 10000 + 37 * i);
}

static void slurp(const char *path, uint8_t **data, size_t *len)
{
	struct error e;
	assert_int_equal(file_read_all(path, PDF_INPUT_MAX, data, len, &e), 0);
}

static char *write_tmp(const char *name, const void *data, size_t len)
{
	char *p = g_build_filename(tmpdir, name, NULL);
	assert_true(g_file_set_contents(p, data, (gssize)len, NULL));
	return p;
}

/*
 * A PDF with one page per string, each shown in Helvetica (ASCII only),
 * written with qpdf's C API.  Lines are separated by '\n'.  Caller frees.
 */
static uint8_t *make_pdf(const char *const *pages, int n, size_t *len)
{
	qpdf_data q = qpdf_init();
	uint8_t *out;

	qpdf_silence_errors(q);
	assert_int_equal(qpdf_empty_pdf(q) & QPDF_ERRORS, 0);
	for (int i = 0; i < n; i++) {
		GString *c = g_string_new("BT /F1 12 Tf 14 TL 72 760 Td\n");
		char **lines = g_strsplit(pages[i], "\n", -1);
		qpdf_oh font, res, page, stream;
		for (char **l = lines; *l; l++)
			g_string_append_printf(c, "(%s) Tj T*\n", *l);
		g_string_append(c, "ET\n");
		g_strfreev(lines);
		font = qpdf_make_indirect_object(q, qpdf_oh_parse(q,
			"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"));
		res = qpdf_oh_parse(q, "<< /Font << >> >>");
		qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/Font"), "/F1", font);
		stream = qpdf_oh_new_stream(q);
		qpdf_oh_replace_stream_data(q, stream, (unsigned char const *)c->str, c->len,
					    qpdf_oh_new_null(q), qpdf_oh_new_null(q));
		page = qpdf_oh_parse(q, "<< /Type /Page /MediaBox [0 0 595 842] >>");
		qpdf_oh_replace_key(q, page, "/Resources", res);
		qpdf_oh_replace_key(q, page, "/Contents", qpdf_make_indirect_object(q, stream));
		page = qpdf_make_indirect_object(q, page);
		assert_int_equal(qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS, 0);
		g_string_free(c, TRUE);
	}
	assert_int_equal(qpdf_init_write_memory(q) & QPDF_ERRORS, 0);
	qpdf_set_static_ID(q, QPDF_TRUE);
	assert_int_equal(qpdf_write(q) & QPDF_ERRORS, 0);
	*len = qpdf_get_buffer_length(q);
	out = xmalloc(*len);
	memcpy(out, qpdf_get_buffer(q), *len);
	qpdf_cleanup(&q);
	return out;
}

static int setup(void **state)
{
	char *argv[5];
	tmpdir = g_dir_make_tmp("tayori-pdfsplit-XXXXXX", NULL);
	if (!tmpdir)
		return -1;
	argv[0] = g_build_filename(top(), "tests", "bench", "gen-corpus", NULL);
	argv[1] = tmpdir;
	argv[2] = g_strdup_printf("%d", NRES);
	argv[3] = NULL;
	if (run(argv) != 0) {
		fprintf(stderr, "tests/bench/gen-corpus failed (run from the top directory, "
				"or set TOP)\n");
		return -1;
	}
	g_free(argv[0]);
	g_free(argv[2]);
	corpus = g_build_filename(tmpdir, "corpus.pdf", NULL);
	corpus_csv = g_build_filename(tmpdir, "corpus.csv", NULL);
	slurp(corpus, &cdata, &clen);
	return 0;
}

static void rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;
	if (d) {
		while ((n = g_dir_read_name(d))) {
			char *p = g_build_filename(path, n, NULL);
			rm_rf(p);
			g_free(p);
		}
		g_dir_close(d);
	}
	g_remove(path);
}

static int teardown(void **state)
{
	if (!getenv("KEEP"))
		rm_rf(tmpdir);
	g_free(tmpdir);
	g_free(corpus);
	g_free(corpus_csv);
	free(cdata);
	return 0;
}

/* ---- refusals --------------------------------------------------- */

static void expect_refused(const uint8_t *data, size_t len, const char *password,
			   const char *needle)
{
	struct error e = { "", 0 };
	struct pdf_info info;
	assert_int_equal(pdf_check(data, len, password, 0, &info, &e), -1);
	assert_int_equal(e.temporary, 0);
	if (!strstr(e.msg, needle))
		fail_msg("refusal \"%s\" does not contain \"%s\"", e.msg, needle);
}

static void test_refuse_not_pdf(void **state)
{
	static const uint8_t png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\10\6\0\0\0";
	static const char html[] = "\xef\xbb\xbf\n  <!DOCTYPE html><html><body>Not found</body></html>";
	char big[2048];

	expect_refused((const uint8_t *)"", 0, NULL, "empty");
	expect_refused(png, sizeof png - 1, NULL, "PNG image");
	expect_refused((const uint8_t *)html, strlen(html), NULL, "HTML page");
	expect_refused((const uint8_t *)"PK\3\4xxxxxxxx", 12, NULL, "ZIP archive");
	expect_refused((const uint8_t *)"\xff\xd8\xff\xe0", 4, NULL, "JPEG");
	expect_refused((const uint8_t *)"hello, world\n", 13, NULL, "text file");
	expect_refused((const uint8_t *)"\x01\x02\x03\xfe\xff", 5, NULL, "no %PDF- header");
	/* %PDF- beyond the first 1024 bytes does not count ... */
	memset(big, ' ', sizeof big);
	memcpy(big + 1500, "%PDF-1.4", 8);
	expect_refused((const uint8_t *)big, sizeof big, NULL, "not a PDF");
	/* ... within them it does, and then qpdf decides. */
	memcpy(big + 100, "%PDF-1.4", 8);
	expect_refused((const uint8_t *)big, sizeof big, NULL, "damaged");
	assert_null(pdf_sniff(cdata, clen));
}

static void test_refuse_truncated(void **state)
{
	/* Cut in the middle: no trailer and, cairo writing the page tree
	 * last, nothing qpdf could rebuild. */
	expect_refused(cdata, clen / 2, NULL, "damaged");
	expect_refused(cdata, 200, NULL, "damaged");
	expect_refused(cdata, 9, NULL, "damaged");
}

/* Replace the first occurrence of from with to (same length). */
static void patch(uint8_t *data, size_t len, const char *from, const char *to)
{
	size_t n = strlen(from);
	assert_int_equal(n, strlen(to));
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(data + i, from, n) == 0) {
			memcpy(data + i, to, n);
			return;
		}
	fail_msg("\"%s\" not found", from);
}

/* The last occurrence of s in data (binary-safe), or NULL. */
static const char *last_of(const uint8_t *data, size_t len, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = len >= n ? len - n + 1 : 0; i-- > 0;)
		if (memcmp(data + i, s, n) == 0)
			return (const char *)data + i;
	return NULL;
}

static void test_repaired(void **state)
{
	const char *pages[] = { "Key 00000001", "Key 00000002" };
	struct error e = { "", 0 };
	struct pdf_info info;
	size_t len;
	uint8_t *pdf = make_pdf(pages, 2, &len);
	uint8_t *bad = xmalloc(len);
	char from[32], to[32];
	const char *p;
	int contents_id;

	/* A wrong startxref: qpdf rebuilds the xref and loses nothing. */
	memcpy(bad, pdf, len);
	p = last_of(bad, len, "startxref");
	assert_non_null(p);
	bad[p - (const char *)bad + 10] = '9';
	if (pdf_check(bad, len, NULL, 0, &info, &e) != 0)
		fail_msg("repairable file refused: %s", e.msg);
	assert_int_equal(info.repaired, 1);
	assert_int_equal(info.pages, 2);

	/* The same, and the first page's content stream unreadable: the
	 * repair loses it, and the file is refused. */
	memcpy(bad, pdf, len);
	p = last_of(bad, len, "startxref");
	bad[p - (const char *)bad + 10] = '9';
	p = memmem(bad, len, "/Contents ", 10);
	assert_non_null(p);
	contents_id = (int)strtol(p + 10, NULL, 10);
	snprintf(from, sizeof from, "\n%d 0 obj", contents_id);
	snprintf(to, sizeof to, "\n%d 0 xxx", contents_id);
	patch(bad, len, from, to);
	expect_refused(bad, len, NULL, "no content left");

	/* Or its font lost: the page uses /F1, which is no longer there. */
	memcpy(bad, pdf, len);
	p = last_of(bad, len, "startxref");
	bad[p - (const char *)bad + 10] = '9';
	p = memmem(bad, len, "/F1 ", 4);
	assert_non_null(p);
	contents_id = (int)strtol(p + 4, NULL, 10);
	snprintf(from, sizeof from, "\n%d 0 obj", contents_id);
	snprintf(to, sizeof to, "\n%d 0 xxx", contents_id);
	patch(bad, len, from, to);
	expect_refused(bad, len, NULL, "font /F1, which is missing");

	/* A file cut short that qpdf can still repair is refused too. */
	memcpy(bad, pdf, len);
	p = last_of(bad, len, "startxref");
	bad[p - (const char *)bad + 10] = '9';
	expect_refused(bad, (size_t)(p - (const char *)bad) + 12, NULL, "truncated");
	free(bad);
	free(pdf);
}

static char *encrypt_corpus(const char *name, const char *user, const char *owner)
{
	char *out = g_build_filename(tmpdir, name, NULL);
	char *argv[] = { "qpdf", "--encrypt", (char *)user, (char *)owner, "256", "--",
			 corpus, out, NULL };
	assert_int_equal(run(argv), 0);
	return out;
}

static void test_refuse_encrypted(void **state)
{
	char *path = encrypt_corpus("enc.pdf", "user-pw", "owner-pw");
	char *path2 = encrypt_corpus("enc-owner.pdf", "", "owner-pw");
	struct error e = { "", 0 };
	struct pdf_info info;
	struct pdf_split_opts o;
	struct pdf_split_result r;
	uint8_t *data;
	size_t len;

	slurp(path, &data, &len);
	expect_refused(data, len, NULL, "encrypted");
	expect_refused(data, len, "wrong", "password does not open");
	assert_int_equal(pdf_check(data, len, "user-pw", 0, &info, &e), 0);
	assert_int_equal(info.encrypted, 1);
	assert_int_equal(info.pages, 2 * NRES);
	assert_int_equal(pdf_check(data, len, "owner-pw", 0, &info, &e), 0);

	/* With the password, text is readable and the split works. */
	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "宛名番号\\s*(\\d+)";
	o.password = "user-pw";
	assert_int_equal(pdf_split_plan(data, len, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, NRES);
	pdf_split_result_free(&r);
	free(data);

	/* A permissions-only (owner password) file is refused too. */
	slurp(path2, &data, &len);
	expect_refused(data, len, NULL, "permissions password");
	assert_int_equal(pdf_check(data, len, "owner-pw", 0, &info, &e), 0);
	free(data);
	g_free(path);
	g_free(path2);
}

static void test_page_limit(void **state)
{
	struct error e = { "", 0 };
	assert_int_equal(pdf_check(cdata, clen, NULL, 10, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "more than the limit"));
}

/* ---- text -------------------------------------------------------- */

static void test_text(void **state)
{
	struct pdf_text *t = NULL;
	struct error e = { "", 0 };
	char key[16];
	char *s;

	assert_int_equal(pdf_text_open(cdata, clen, NULL, &t, &e), 0);
	assert_int_equal(pdf_text_npages(t), 2 * NRES);
	/* Page 1: CID font with ToUnicode, read back as Japanese. */
	s = pdf_text_page(t, 1, NULL, &e);
	assert_non_null(s);
	assert_non_null(strstr(s, "宛名番号 00010000"));
	assert_non_null(strstr(s, "特別区民税"));
	assert_non_null(strstr(s, "佐藤 太郎 様"));
	g_free(s);
	/* Resident 4 has its key in full-width digits: NFKC makes them ASCII. */
	gen_key(4, key, sizeof key);
	s = pdf_text_page(t, 9, NULL, &e);
	assert_non_null(strstr(s, key));
	assert_null(strstr(s, "０"));
	g_free(s);
	assert_null(pdf_text_page(t, 2 * NRES + 1, NULL, &e));
	pdf_text_close(&t);
	assert_null(t);
}

/* ---- plans ------------------------------------------------------- */

static void test_plan_pages(void **state)
{
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_PAGES;
	o.pages_per_resident = 2;
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, NRES);
	assert_string_equal(r.groups[0].key, "0001");
	assert_int_equal(r.groups[NRES - 1].first_page, 2 * NRES - 1);
	assert_int_equal(r.groups[NRES - 1].page_count, 2);
	pdf_split_result_free(&r);

	o.pages_per_resident = 3;
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "not a multiple of 3"));
	assert_int_equal(e.temporary, 0);
}

static void test_plan_key(void **state)
{
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	char key[16];

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "宛名番号\\s*(\\d{8})";
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, NRES);
	for (int i = 0; i < NRES; i++) {
		gen_key(i, key, sizeof key);
		assert_string_equal(r.groups[i].key, key);
		assert_int_equal(r.groups[i].first_page, 2 * i + 1);
		assert_int_equal(r.groups[i].page_count, 2);
	}
	assert_int_equal(r.nkeyless, 0);
	pdf_split_result_free(&r);

	/* Whole match when there is no group. */
	o.key_regex = "(?<=宛名番号 )\\d+";
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, NRES);
	assert_string_equal(r.groups[1].key, "00010037");
	pdf_split_result_free(&r);

	o.key_regex = "(unclosed";
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "regular expression"));
	o.key_regex = "no such text (\\d+)";
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "none of the 40 pages"));
}

static void test_plan_key_first_page_only(void **state)
{
	/* Key on the first page of each resident only: the second page goes
	 * with the first. */
	char *dir = g_build_filename(tmpdir, "firstonly", NULL);
	char *argv[] = { NULL, "-k", "first", dir, "5", NULL };
	char *path = g_build_filename(dir, "corpus.pdf", NULL);
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	uint8_t *data;
	size_t len;

	argv[0] = g_build_filename(top(), "tests", "bench", "gen-corpus", NULL);
	assert_int_equal(run(argv), 0);
	slurp(path, &data, &len);
	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "宛名番号\\s*(\\d+)";
	assert_int_equal(pdf_split_plan(data, len, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, 5);
	assert_int_equal(r.groups[4].page_count, 2);
	assert_int_equal(r.nkeyless, 5);
	assert_int_equal(r.keyless_pages[0], 2);
	assert_int_equal(r.keyless_pages[4], 10);
	pdf_split_result_free(&r);
	free(data);
	g_free(argv[0]);
	g_free(path);
	g_free(dir);
}

static void test_plan_key_refusals(void **state)
{
	const char *pages[] = { "Cover letter", "Key A-1", "Key A-1", "Key B-2" };
	const char *pages2[] = { "Key A-1", "Key B-2 (1/2)", "more (2/2)", "Key A-1", "Key C-3" };
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	size_t len;
	uint8_t *pdf = make_pdf(pages, 4, &len);

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "Key (\\S+)";
	assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "page 1 shows no key"));
	free(pdf);

	/* A key in two separate ranges is held back, never merged. */
	pdf = make_pdf(pages2, 5, &len);
	assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, 2);
	assert_string_equal(r.groups[0].key, "B-2");
	assert_int_equal(r.groups[0].first_page, 2);
	assert_int_equal(r.groups[0].page_count, 2);
	assert_string_equal(r.groups[1].key, "C-3");
	assert_int_equal(r.nrepeated, 1);
	assert_string_equal(r.repeated_keys[0], "A-1");
	assert_int_equal(r.nheld, 2);
	assert_int_equal(r.held[1].first_page, 4);
	assert_int_equal(r.nkeyless, 1);
	assert_int_equal(r.keyless_pages[0], 3);
	pdf_split_result_free(&r);
	free(pdf);

	/* Without the page numbers, nothing says page 3 is B-2's: refused. */
	{
		const char *p3[] = { "Key A-1", "Key B-2", "more", "Key C-3", "Key C-3" };
		pdf = make_pdf(p3, 5, &len);
		assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), -1);
		assert_non_null(strstr(e.msg, "page 3 shows no resident's key"));
		assert_int_equal(e.temporary, 0);
		free(pdf);
	}
	/* Two different keys on one page: neither gets it, both are held. */
	{
		const char *p4[] = { "Key A-1", "Key B-2 Key C-3", "Key D-4", "Key C-3" };
		pdf = make_pdf(p4, 4, &len);
		assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), 0);
		assert_int_equal(r.ngroups, 2);
		assert_string_equal(r.groups[0].key, "A-1");
		assert_string_equal(r.groups[1].key, "D-4");
		assert_int_equal(r.nholds, 2);
		assert_string_equal(r.holds[0].key, "B-2");
		assert_int_equal(r.holds[0].page, 2);
		assert_string_equal(r.holds[1].key, "C-3");
		assert_int_equal(r.nheld, 1); /* C-3's own page 4 */
		assert_int_equal(r.held[0].first_page, 4);
		pdf_split_result_free(&r);
		free(pdf);
	}
}

static void test_plan_auto_boundaries(void **state)
{
	const char *pages[] = {
		"Notice 1001234 of 2024\nResident 00123 page 1/2", /* 00123 as a whole run */
		"Ref 1001234 only, page 2/2",                 /* 00123 inside: no key */
		"Resident no. 0000456 (456 padded)",         /* CSV 456 lost its zeros */
		"Amount 12,345 yen, K99",                    /* token key K99 */
		"Household: 00123 and 0000456",              /* two keys: undecided */
		"K99x and xK99 are other tokens; 7-00123 is", /* 00123 again, after a hyphen */
	};
	const char *keys[] = { "00123", "456", "K99", "00000789", "00123" };
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	size_t len;
	uint8_t *pdf = make_pdf(pages, 6, &len);

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_AUTO;
	o.keys = keys;
	o.nkeys = 5;
	assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), 0);
	/* pages: 1 00123 | 2 none, its page number follows on | 3 456 |
	 * 4 K99 | 5 {00123, 456}: undecided, both held | 6 00123.  00123 is
	 * also in two ranges (1-2 and 6). */
	assert_int_equal(r.ngroups, 1);
	assert_string_equal(r.groups[0].key, "K99");
	assert_int_equal(r.groups[0].first_page, 4);
	assert_int_equal(r.groups[0].page_count, 1);
	assert_int_equal(r.nrepeated, 1);
	assert_string_equal(r.repeated_keys[0], "00123");
	assert_int_equal(r.nheld, 3);
	assert_int_equal(r.held[0].page_count, 2);
	assert_string_equal(r.held[1].key, "456");
	assert_string_equal(r.held[1].found, "0000456");
	assert_int_equal(r.held[1].first_page, 3);
	assert_int_equal(r.held[2].first_page, 6);
	assert_int_equal(r.nholds, 2);
	assert_int_equal(r.holds[0].page, 5);
	assert_int_equal(r.nkeyless, 1);
	assert_int_equal(r.keyless_pages[0], 2);
	assert_int_equal(r.nambiguous, 1);
	assert_int_equal(r.ambiguous_pages[0], 5);
	assert_int_equal(r.nmissing, 1);
	assert_string_equal(r.missing_keys[0], "00000789");
	assert_null(r.key_label); /* K99 is not all digits: no shape learned */
	pdf_split_result_free(&r);

	/* A page that also shows another resident's key goes with the key
	 * beside the label the other pages show. */
	{
		const char *p2[] = { "Key 0000456", "Family: 00123 / Key 0000456", "Key 00123" };
		const char *k2[] = { "00123", "456" };
		free(pdf);
		pdf = make_pdf(p2, 3, &len);
		o.keys = k2;
		o.nkeys = 2;
		assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), 0);
		assert_int_equal(r.ngroups, 2);
		assert_string_equal(r.groups[0].key, "456");
		assert_int_equal(r.groups[0].page_count, 2);
		assert_string_equal(r.groups[1].key, "00123");
		assert_int_equal(r.nambiguous, 1);
		assert_int_equal(r.nholds, 0);
		assert_string_equal(r.key_label, "Key");
		pdf_split_result_free(&r);
		o.keys = keys;
		o.nkeys = 5;
	}

	/* A padded CSV key is not found in an unpadded run (an amount). */
	{
		const char *p3[] = { "Total 12345 yen" };
		const char *k3[] = { "00012345" };
		free(pdf);
		pdf = make_pdf(p3, 1, &len);
		o.keys = k3;
		o.nkeys = 1;
		assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), -1);
		assert_non_null(strstr(e.msg, "none of the 1 keys"));
	}
	{
		const char *k4[] = { "", "  " };
		o.keys = k4;
		o.nkeys = 2;
		assert_int_equal(pdf_split_plan(pdf, len, &o, &r, &e), -1);
		assert_non_null(strstr(e.msg, "no usable key"));
	}
	free(pdf);
}

/* The keys of the generated CSV, through the same reader as the gateway. */
static const char **csv_keys(struct recipients **rp, size_t *n)
{
	struct csv_table *t = NULL;
	struct error e = { "", 0 };
	uint8_t *data;
	size_t len;
	const char **keys;

	slurp(corpus_csv, &data, &len);
	assert_int_equal(csv_parse(data, len, NULL, &t, &e), 0);
	assert_string_equal(t->encoding, "CP932");
	assert_int_equal(recipients_from_csv(t, NULL, rp, &e), 0);
	keys = xcalloc((*rp)->n, sizeof *keys);
	for (size_t i = 0; i < (*rp)->n; i++)
		keys[i] = (*rp)->v[i].key;
	*n = (*rp)->n;
	csv_free(&t);
	free(data);
	return keys;
}

static void test_plan_auto_corpus(void **state)
{
	struct recipients *rc = NULL;
	size_t nkeys;
	const char **keys = csv_keys(&rc, &nkeys);
	const char *raw[NRES];
	char rawbuf[NRES][16];
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	char key[16];

	assert_int_equal(nkeys, NRES);
	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_AUTO;
	o.keys = keys;
	o.nkeys = nkeys;
	for (int threads = 1; threads <= 2; threads++) {
		o.threads = threads;
		assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), 0);
		assert_int_equal(r.ngroups, NRES);
		for (int i = 0; i < NRES; i++) {
			gen_key(i, key, sizeof key);
			assert_string_equal(r.groups[i].key, key);
			assert_string_equal(r.groups[i].found, key);
			assert_int_equal(r.groups[i].first_page, 2 * i + 1);
			assert_int_equal(r.groups[i].page_count, 2);
		}
		assert_int_equal(r.nkeyless + r.nambiguous + r.nrepeated + r.nmissing, 0);
		pdf_split_result_free(&r);
	}

	/* The keys as Excel left them, leading zeros dropped on every third
	 * row, without the CSV reader's padding: still found. */
	for (int i = 0; i < NRES; i++) {
		if (i % 3 == 1)
			snprintf(rawbuf[i], sizeof rawbuf[i], "%d", 10000 + 37 * i);
		else
			gen_key(i, rawbuf[i], sizeof rawbuf[i]);
		raw[i] = rawbuf[i];
	}
	o.keys = raw;
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), 0);
	assert_int_equal(r.ngroups, NRES);
	assert_string_equal(r.groups[1].key, "10037");
	assert_string_equal(r.groups[1].found, "00010037");
	assert_int_equal(r.nmissing, 0);
	pdf_split_result_free(&r);
	free(keys);
	recipients_free(&rc);
}

/* ---- writing ----------------------------------------------------- */

struct collect {
	GMutex lock;
	GHashTable *files;   /* key -> path of the written PDF */
};

static int collect_emit(void *arg, const struct pdf_group *g, struct pdf_made *m,
			struct error *e)
{
	const uint8_t *pdf = m->pdf.data;
	size_t len = m->pdf.len;
	struct collect *c = arg;
	char *name = g_strdup_printf("out-%s.pdf", g->key);
	char *path = write_tmp(name, pdf, len);
	g_free(name);
	g_mutex_lock(&c->lock);
	g_hash_table_insert(c->files, g_strdup(g->key), path);
	g_mutex_unlock(&c->lock);
	return 0;
}

static int failing_emit(void *arg, const struct pdf_group *g, struct pdf_made *m,
			struct error *e)
{
	return g->first_page >= 11 ? err_tmp(e, "store is full") : 0;
}

static void test_write(void **state)
{
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	struct collect c;
	struct pdf_text *in = NULL;

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "宛名番号\\s*(\\d+)";
	o.threads = 2;
	assert_int_equal(pdf_split_plan(cdata, clen, &o, &r, &e), 0);
	g_mutex_init(&c.lock);
	c.files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	assert_int_equal(pdf_split_write(cdata, clen, &o, r.groups, r.ngroups, collect_emit, &c,
					 &e), 0);
	assert_int_equal(g_hash_table_size(c.files), NRES);
	assert_int_equal(pdf_text_open(cdata, clen, NULL, &in, &e), 0);
	for (size_t g = 0; g < r.ngroups; g++) {
		const char *path = g_hash_table_lookup(c.files, r.groups[g].key);
		char *argv[] = { "qpdf", "--check", (char *)path, NULL };
		struct pdf_text *out = NULL;
		struct pdf_info info;
		uint8_t *data;
		size_t len;

		assert_non_null(path);
		/* qpdf --check exits 0 only with no errors and no warnings. */
		assert_int_equal(run(argv), 0);
		slurp(path, &data, &len);
		assert_int_equal(pdf_check(data, len, NULL, 0, &info, &e), 0);
		assert_int_equal(info.repaired, 0);
		assert_int_equal(info.pages, 2);
		assert_int_equal(pdf_text_open(data, len, NULL, &out, &e), 0);
		for (int p = 1; p <= 2; p++) {
			char *a = pdf_text_page(in, r.groups[g].first_page + p - 1, NULL, &e);
			char *b = pdf_text_page(out, p, NULL, &e);
			assert_string_equal(a, b);
			g_free(a);
			g_free(b);
		}
		pdf_text_close(&out);
		free(data);
	}
	pdf_text_close(&in);
	g_hash_table_destroy(c.files);
	g_mutex_clear(&c.lock);

	/* The callback stops the run, and its error comes back. */
	assert_int_equal(pdf_split_write(cdata, clen, &o, r.groups, r.ngroups, failing_emit, NULL,
					 &e), -1);
	assert_string_equal(e.msg, "store is full");
	assert_int_equal(e.temporary, 1);
	pdf_split_result_free(&r);
}

/* Past 1,000 pages the text readers and the writer each open a fresh qpdf
 * handle (memory stays flat): what comes after is as right as before. */
struct long_check {
	int emitted, checked;
};

static int long_emit(void *arg, const struct pdf_group *g, struct pdf_made *m, struct error *e)
{
	struct long_check *lc = arg;
	struct pdf_info info;
	struct pdf_text *t = NULL;
	char *text;

	lc->emitted++;
	/* every 25th resident, and all of those after page 1,000 */
	if (lc->emitted % 25 != 1 && g->first_page < 1000)
		return 0;
	if (pdf_check(m->pdf.data, m->pdf.len, NULL, 0, &info, e) < 0 || info.repaired ||
	    info.pages != g->page_count)
		return err_set(e, "bad output for %s", g->key);
	if (pdf_text_open(m->pdf.data, m->pdf.len, NULL, &t, e) < 0)
		return -1;
	text = pdf_text_page(t, 1, NULL, e);
	pdf_text_close(&t);
	if (!text || !strstr(text, g->found)) {
		g_free(text);
		return err_set(e, "%s: its key is not on its first page", g->key);
	}
	g_free(text);
	lc->checked++;
	return 0;
}

static void test_long_input(void **state)
{
	enum { N = 560 }; /* 1,120 pages */
	char *dir = g_build_filename(tmpdir, "long", NULL);
	char *argv[] = { g_build_filename(top(), "tests", "bench", "gen-corpus", NULL), dir,
			 g_strdup_printf("%d", N), NULL };
	char *pdfpath = g_build_filename(dir, "corpus.pdf", NULL);
	const char **keys = xcalloc(N, sizeof *keys);
	char (*kbuf)[16] = xcalloc(N, sizeof *kbuf);
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct long_check lc = { 0, 0 };
	struct error e = { "", 0 };
	uint8_t *data;
	size_t len;

	assert_int_equal(run(argv), 0);
	slurp(pdfpath, &data, &len);
	for (int i = 0; i < N; i++) {
		gen_key(i, kbuf[i], sizeof kbuf[i]);
		keys[i] = kbuf[i];
	}
	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_AUTO;
	o.keys = keys;
	o.nkeys = N;
	o.threads = 1; /* one text reader goes past 1,000 pages too */
	if (pdf_split_run(data, len, &o, long_emit, &lc, &r, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.ngroups, N);
	assert_int_equal(r.nmissing, 0);
	assert_int_equal(lc.emitted, N);
	assert_true(lc.checked >= 80);
	assert_int_equal(r.groups[N - 1].first_page, 2 * N - 1);
	assert_string_equal(r.groups[N - 1].key, kbuf[N - 1]);
	pdf_split_result_free(&r);
	free(data);
	free(keys);
	free(kbuf);
	g_free(pdfpath);
	g_free(argv[0]);
	g_free(argv[2]);
	g_free(dir);
}

static void test_splitter(void **state)
{
	struct pdf_splitter *s = NULL;
	struct error e = { "", 0 };
	const uint8_t *pdf;
	size_t len;
	struct pdf_info info;

	assert_int_equal(pdf_splitter_open(cdata, clen, NULL, 0, &s, &e), 0);
	assert_int_equal(pdf_splitter_npages(s), 2 * NRES);
	assert_int_equal(pdf_splitter_make(s, 3, 5, &pdf, &len, &e), 0);
	assert_int_equal(pdf_check(pdf, len, NULL, 0, &info, &e), 0);
	assert_int_equal(info.pages, 5);
	/* The output keeps the input's PDF version. */
	assert_string_equal(info.version, "1.5");
	assert_int_equal(pdf_splitter_make(s, 2 * NRES, 1, &pdf, &len, &e), 0);
	assert_int_equal(pdf_splitter_make(s, 2 * NRES, 2, &pdf, &len, &e), -1);
	assert_int_equal(pdf_splitter_make(s, 0, 1, &pdf, &len, &e), -1);
	pdf_splitter_close(&s);
	assert_null(s);
	pdf_splitter_close(&s);
}

/* pdf_split_run: what it emits, in order, as "key:first:count". */
static int record_emit(void *arg, const struct pdf_group *g, struct pdf_made *m,
		       struct error *e)
{
	const uint8_t *pdf = m->pdf.data;
	size_t len = m->pdf.len;
	GString *log = arg;
	struct pdf_info info;
	if (pdf_check(pdf, len, NULL, 0, &info, e) < 0 || info.pages != g->page_count)
		return err_set(e, "bad output for %s", g->key);
	g_string_append_printf(log, "%s:%d:%d ", g->key, g->first_page, g->page_count);
	return 0;
}

static void expect_run(const uint8_t *pdf, size_t len, const struct pdf_split_opts *o,
		       const char *emitted)
{
	struct pdf_split_result r, plan;
	struct error e = { "", 0 };
	GString *log = g_string_new(""), *want = g_string_new("");

	assert_int_equal(pdf_split_run(pdf, len, o, record_emit, log, &r, &e), 0);
	assert_string_equal(log->str, emitted);
	/* The result is the plan's, and what was emitted is exactly its
	 * groups: never a held key's range. */
	assert_int_equal(pdf_split_plan(pdf, len, o, &plan, &e), 0);
	assert_int_equal(r.ngroups, plan.ngroups);
	assert_int_equal(r.nheld, plan.nheld);
	for (size_t i = 0; i < r.ngroups; i++) {
		assert_string_equal(r.groups[i].key, plan.groups[i].key);
		assert_string_equal(r.groups[i].found, plan.groups[i].found);
		g_string_append_printf(want, "%s:%d:%d ", r.groups[i].key, r.groups[i].first_page,
				       r.groups[i].page_count);
	}
	assert_string_equal(log->str, want->str);
	pdf_split_result_free(&r);
	pdf_split_result_free(&plan);
	g_string_free(log, TRUE);
	g_string_free(want, TRUE);
}

static void test_run(void **state)
{
	const char *pages[] = { "Key A-1", "Key B-2 page 1/2", "page 2/2", "Key A-1", "Key C-3" };
	const char *amb[] = { "No 0000456", "Family: 00123 / No 0000456", "No 00123", "No 00123",
			      "No 0000789" };
	const char *keys[] = { "00123", "456" };
	struct pdf_split_opts o;
	struct pdf_split_result r;
	struct error e = { "", 0 };
	GString *log = g_string_new(""), *want = g_string_new("");
	size_t len;
	uint8_t *pdf = make_pdf(pages, 5, &len);
	char key[16];

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "Key (\\S+)";
	expect_run(pdf, len, &o, "B-2:2:2 C-3:5:1 ");
	free(pdf);

	o.mode = PDF_SPLIT_AUTO;
	o.keys = keys;
	o.nkeys = 2;
	pdf = make_pdf(amb, 5, &len);
	expect_run(pdf, len, &o, "456:1:2 00123:3:2 "); /* 0000789: nobody's */
	free(pdf);

	/* The corpus, both ways, against the plan. */
	o.mode = PDF_SPLIT_KEY;
	o.key_regex = "宛名番号\\s*(\\d+)";
	for (int i = 0; i < NRES; i++) {
		gen_key(i, key, sizeof key);
		g_string_append_printf(want, "%s:%d:2 ", key, 2 * i + 1);
	}
	expect_run(cdata, clen, &o, want->str);
	o.mode = PDF_SPLIT_PAGES;
	o.pages_per_resident = 20;
	expect_run(cdata, clen, &o, "0001:1:20 0002:21:20 ");

	/* Refusals and failures: nothing usable, the error comes back. */
	{
		const char *p1[] = { "Cover", "Key A-1" };
		pdf = make_pdf(p1, 2, &len);
		o.mode = PDF_SPLIT_KEY;
		o.key_regex = "Key (\\S+)";
		assert_int_equal(pdf_split_run(pdf, len, &o, record_emit, log, &r, &e), -1);
		assert_non_null(strstr(e.msg, "page 1 shows no key"));
		assert_string_equal(log->str, "");
		free(pdf);
	}
	o.key_regex = "宛名番号\\s*(\\d+)";
	assert_int_equal(pdf_split_run(cdata, clen, &o, failing_emit, NULL, &r, &e), -1);
	assert_string_equal(e.msg, "store is full");
	g_string_free(log, TRUE);
	g_string_free(want, TRUE);
}

/* ---- the command ------------------------------------------------- */

static int cli(const char *first, ...)
{
	char *argv[16];
	int argc = 0, rc;
	va_list ap;
	const char *a;

	argv[argc++] = "split";
	va_start(ap, first);
	for (a = first; a && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	rc = cmd_pdf_split(argc, argv);
	fflush(stdout);
	return rc;
}

static void test_cli(void **state)
{
	char *out = g_build_filename(tmpdir, "cli-out", NULL);
	char *f0 = g_build_filename(out, "00010000.pdf", NULL);
	char *f1 = g_build_filename(out, "00010037.pdf", NULL);
	char *png, *bad;
	static const uint8_t pngbytes[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	struct stat st;

	assert_int_equal(cli("--auto", corpus_csv, "--json", corpus, out, NULL), 0);
	assert_int_equal(stat(f0, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f1, &st), 0);
	assert_int_equal(cli("--key", "宛名番号\\s*(\\d+)", "--threads", "1", corpus, out, NULL), 0);
	assert_int_equal(cli("--pages", "2", corpus, out, NULL), 0);
	g_free(f0);
	f0 = g_build_filename(out, "0020.pdf", NULL);
	assert_int_equal(stat(f0, &st), 0);

	/* usage */
	assert_int_equal(cli(corpus, out, NULL), 2);
	assert_int_equal(cli("--pages", "2", "--key", "x", corpus, out, NULL), 2);
	assert_int_equal(cli("--pages", "0", corpus, out, NULL), 2);
	assert_int_equal(cli("--pages", "2x", corpus, out, NULL), 2);
	assert_int_equal(cli("--key", "(", corpus, out, NULL), 2);
	assert_int_equal(cli("--pages", "2", corpus, NULL), 2);
	assert_int_equal(cli("--bogus", corpus, out, NULL), 2);
	assert_int_equal(cli("--password-env", "TAYORI_NO_SUCH_VAR", "--pages", "2", corpus, out,
			     NULL), 2);

	/* refused input */
	png = write_tmp("photo.pdf", pngbytes, sizeof pngbytes - 1);
	assert_int_equal(cli("--pages", "1", "--json", png, out, NULL), 1);
	assert_int_equal(cli("--pages", "3", corpus, out, NULL), 1);
	assert_int_equal(cli("--pages", "1", "/nonexistent/x.pdf", out, NULL), 1);
	assert_int_equal(cli("--auto", "/nonexistent/k.csv", corpus, out, NULL), 1);
	/* a key that would escape OUTDIR */
	{
		const char *pages[] = { "Key ../../etc/x" };
		size_t len;
		uint8_t *pdf = make_pdf(pages, 1, &len);
		char *esc = g_build_filename(tmpdir, "escape-out", NULL);
		bad = write_tmp("escape.pdf", pdf, len);
		assert_int_equal(cli("--key", "Key (\\S+)", bad, esc, NULL), 1);
		/* nothing written, not even the folder */
		assert_int_equal(stat(esc, &st), -1);
		free(pdf);
		g_free(bad);
		g_free(esc);
	}
	/* a key in two page ranges: held back, its file not left behind */
	{
		const char *pages[] = { "Key A-1", "Key B-2", "Key A-1", "Key C-3" };
		size_t len;
		uint8_t *pdf = make_pdf(pages, 4, &len);
		char *rep = write_tmp("repeated.pdf", pdf, len);
		char *dir = g_build_filename(tmpdir, "rep-out", NULL);
		char *fa = g_build_filename(dir, "A-1.pdf", NULL);
		char *fb = g_build_filename(dir, "B-2.pdf", NULL);
		char *fc = g_build_filename(dir, "C-3.pdf", NULL);
		assert_int_equal(cli("--key", "Key (\\S+)", "--json", rep, dir, NULL), 0);
		assert_int_equal(stat(fa, &st), -1);
		assert_int_equal(stat(fb, &st), 0);
		assert_int_equal(stat(fc, &st), 0);
		free(pdf);
		g_free(rep);
		g_free(dir);
		g_free(fa);
		g_free(fb);
		g_free(fc);
	}
	/* a key that is not a file name, after good ones: nothing stays */
	{
		const char *pages[] = { "Key A-1", "Key B-2", "Key x/y" };
		size_t len;
		uint8_t *pdf = make_pdf(pages, 3, &len);
		char *bad2 = write_tmp("late-bad.pdf", pdf, len);
		char *dir = g_build_filename(tmpdir, "late-out", NULL);
		assert_int_equal(cli("--key", "Key (\\S+)", bad2, dir, NULL), 1);
		assert_int_equal(stat(dir, &st), -1);
		free(pdf);
		g_free(bad2);
		g_free(dir);
	}
	/* encrypted, then with its password from the environment */
	{
		char *enc = g_build_filename(tmpdir, "enc.pdf", NULL);
		if (stat(enc, &st) != 0) {
			g_free(enc);
			enc = encrypt_corpus("enc.pdf", "user-pw", "owner-pw");
		}
		assert_int_equal(cli("--pages", "2", enc, out, NULL), 1);
		setenv("TAYORI_TEST_PDF_PW", "user-pw", 1);
		assert_int_equal(cli("--pages", "2", "--password-env", "TAYORI_TEST_PDF_PW", enc, out,
				     NULL), 0);
		g_free(enc);
	}
	g_free(png);
	g_free(f0);
	g_free(f1);
	g_free(out);
}

/* ---- attribution by evidence ------------------------------------ */

/* Plan pages[0..n) against keys in AUTO mode; 0 or -1 as the plan. */
static int plan_auto(const char *const *pages, int n, const char *const *keys, size_t nkeys,
		     struct pdf_split_result *r, struct error *e)
{
	struct pdf_split_opts o;
	size_t len;
	uint8_t *pdf = make_pdf(pages, n, &len);
	int rc;

	memset(&o, 0, sizeof o);
	o.mode = PDF_SPLIT_AUTO;
	o.keys = keys;
	o.nkeys = nkeys;
	rc = pdf_split_plan(pdf, len, &o, r, e);
	free(pdf);
	return rc;
}

/* The group of key, or NULL. */
static const struct pdf_group *group_of(const struct pdf_split_result *r, const char *key)
{
	for (size_t i = 0; i < r->ngroups; i++)
		if (strcmp(r->groups[i].key, key) == 0)
			return &r->groups[i];
	return NULL;
}

/*
 * Finding 1: 30 residents of 1-3 pages, the key on every page; resident
 * 12 (3 pages, after resident 11's 2 pages) is not in the CSV.  Its pages
 * must go to nobody and its key be reported, never appended to resident
 * 11 (5 pages, 3 of them a stranger's).
 */
static void test_unknown_key_not_merged(void **state)
{
	const char *pages[90], *keys[30];
	char keybuf[30][16];
	GPtrArray *owned = g_ptr_array_new_with_free_func(g_free);
	struct pdf_split_result r;
	struct error e = { "", 0 };
	int np = 0, nk = 0, first12 = 0, pages_of[30];

	for (int i = 0; i < 30; i++) {
		int n = i == 11 ? 2 : i == 12 ? 3 : 1 + i % 3;
		snprintf(keybuf[i], sizeof keybuf[i], "%08d", 10000 + 37 * i);
		pages_of[i] = n;
		if (i == 12)
			first12 = np + 1;
		for (int k = 0; k < n; k++) {
			char *t = g_strdup_printf("Tax notice 2024\nAtena %s\nName Resident %d\n"
						  "Amount 12,345 yen, Tel 03-1234-5678\nPage %d/%d",
						  keybuf[i], i, k + 1, n);
			g_ptr_array_add(owned, t);
			pages[np++] = t;
		}
		if (i != 12)
			keys[nk++] = keybuf[i];
	}
	assert_int_equal(plan_auto(pages, np, keys, (size_t)nk, &r, &e), 0);
	assert_int_equal(r.ngroups, 29);
	assert_non_null(group_of(&r, keybuf[11]));
	assert_int_equal(group_of(&r, keybuf[11])->page_count, 2);
	for (size_t g = 0; g < r.ngroups; g++) {
		int end = r.groups[g].first_page + r.groups[g].page_count;
		/* nobody's range reaches into the stranger's pages */
		assert_true(end <= first12 || r.groups[g].first_page >= first12 + 3);
	}
	for (int i = 0; i < 30; i++)
		if (i != 12)
			assert_int_equal(group_of(&r, keybuf[i])->page_count, pages_of[i]);
	assert_int_equal(r.nunmatched, 1);
	assert_string_equal(r.unmatched_keys[0], keybuf[12]);
	assert_string_equal(r.key_label, "Atena");
	assert_int_equal(r.nmissing + r.nholds + r.nrepeated, 0);
	pdf_split_result_free(&r);
	g_ptr_array_free(owned, TRUE);
}

/*
 * Finding 2: a page shows the head of household's number before the
 * addressee's.  It goes to the addressee (the number beside the label
 * the single-key pages show), never to the first key found; a page that
 * cannot be decided holds both residents back.
 */
static void test_two_keys_by_role(void **state)
{
	const char *keys[] = { "00010037", "00010000", "00010074" };
	const char *pages[] = {
		"Atena 00010037 (Suzuki Ichiro)",
		"Head of household 00010037 / Atena 00010000 (Sato Hanako)",
		"Atena 00010074 (Tanaka Ken)",
	};
	const char *cont[] = {
		"Atena 00010037 Suzuki Ichiro",
		"Head 00010037 Atena 00010000 Sato Hanako 1/2",
		"Head 00010037 2/2",          /* the head's number only: another role */
		"Atena 00010074 Tanaka Ken",
	};
	const char *undecidable[] = {
		"Atena 00010037", "Atena 00010037 / Atena 00010000", "Atena 00010074",
	};
	const char *unlabelled[] = {
		"Atena 00010037", "00010037 / 00010000", "Atena 00010074",
	};
	struct pdf_split_result r;
	struct error e = { "", 0 };

	assert_int_equal(plan_auto(pages, 3, keys, 3, &r, &e), 0);
	assert_int_equal(r.ngroups, 3);
	assert_string_equal(r.groups[0].key, "00010037");
	assert_int_equal(r.groups[0].page_count, 1);
	assert_string_equal(r.groups[1].key, "00010000");
	assert_int_equal(r.groups[1].first_page, 2);
	assert_int_equal(r.nambiguous, 1);
	assert_int_equal(r.nholds + r.nmissing + r.nunmatched, 0);
	pdf_split_result_free(&r);

	/* A continuation page that shows only the head's number stays with
	 * the addressee (page 2/2): that label is another role. */
	assert_int_equal(plan_auto(cont, 4, keys, 3, &r, &e), 0);
	assert_int_equal(r.ngroups, 3);
	assert_string_equal(r.groups[1].key, "00010000");
	assert_int_equal(r.groups[1].first_page, 2);
	assert_int_equal(r.groups[1].page_count, 2);
	assert_string_equal(r.groups[2].key, "00010074");
	assert_string_equal(r.key_label, "Atena");
	pdf_split_result_free(&r);

	/* Two numbers beside the label: held, both residents named with the
	 * page; nobody gets page 2, and Suzuki's own page 1 is held too. */
	assert_int_equal(plan_auto(undecidable, 3, keys, 3, &r, &e), 0);
	assert_int_equal(r.ngroups, 1);
	assert_string_equal(r.groups[0].key, "00010074");
	assert_int_equal(r.nholds, 2);
	assert_string_equal(r.holds[0].key, "00010037");
	assert_int_equal(r.holds[0].page, 2);
	assert_string_equal(r.holds[1].key, "00010000");
	assert_int_equal(r.holds[1].page, 2);
	assert_int_equal(r.nheld, 1);
	assert_int_equal(r.held[0].first_page, 1);
	assert_int_equal(r.nmissing, 0);
	pdf_split_result_free(&r);

	/* Another resident's key without the label: held as well. */
	assert_int_equal(plan_auto(unlabelled, 3, keys, 3, &r, &e), 0);
	assert_int_equal(r.ngroups, 1);
	assert_int_equal(r.nholds, 2);
	pdf_split_result_free(&r);
}

/* A page without a key continues only when the batch says so. */
static void test_keyless_pages(void **state)
{
	const char *keys[] = { "00010000", "00010037", "00010074" };
	/* keys on every page, then a page without one: refused */
	const char *every[] = { "Atena 00010000", "Atena 00010000", "Atena 00010037",
				"(no key here)", "Atena 00010074" };
	/* keys on the first page only, for every resident: continues */
	const char *first[] = { "Atena 00010000", "terms", "Atena 00010037", "terms",
				"Atena 00010074", "terms", "more terms" };
	/* page numbers that follow on: continues */
	const char *marks[] = { "Atena 00010000 1/1", "Atena 00010037 1/2", "2/2",
				"Atena 00010074 1/1" };
	/* a page numbered 1/2 without a key: a new notice nobody owns */
	const char *newdoc[] = { "Atena 00010000 1/1", "Atena 00010037 1/1", "1/2", "2/2" };
	/* markers that do not follow on, in a batch with keys on later pages */
	const char *broken[] = { "Atena 00010000 1/2", "Atena 00010000 2/2",
				 "Atena 00010037 1/3", "3/3", "Atena 00010074" };
	struct pdf_split_result r;
	struct error e = { "", 0 };

	assert_int_equal(plan_auto(every, 5, keys, 3, &r, &e), -1);
	assert_non_null(strstr(e.msg, "page 4 shows no resident's key"));
	assert_int_equal(e.temporary, 0);

	assert_int_equal(plan_auto(first, 7, keys, 3, &r, &e), 0);
	assert_int_equal(r.ngroups, 3);
	assert_int_equal(r.groups[0].page_count, 2);
	assert_int_equal(r.groups[2].page_count, 3);
	assert_int_equal(r.nkeyless, 4);
	pdf_split_result_free(&r);

	assert_int_equal(plan_auto(marks, 4, keys, 3, &r, &e), 0);
	assert_int_equal(r.ngroups, 3);
	assert_int_equal(r.groups[1].page_count, 2);
	pdf_split_result_free(&r);

	assert_int_equal(plan_auto(newdoc, 4, keys, 3, &r, &e), -1);
	assert_non_null(strstr(e.msg, "page 3"));
	assert_non_null(strstr(e.msg, "1/2"));

	assert_int_equal(plan_auto(broken, 5, keys, 3, &r, &e), -1);
	assert_non_null(strstr(e.msg, "page 4 shows no resident's key"));
}

/*
 * What is and is not a key: with the label learned, amounts, dates,
 * telephone numbers and postal codes never count; without a label, a
 * whole number of the key's width does, unless it turns up in separate
 * places (a date on every notice).
 */
static void test_key_shape(void **state)
{
	const char *keys[] = { "00010000", "10037", "00010074" }; /* Excel dropped zeros */
	const char *noisy[] = {
		"Atena 00010000 Date 20240401 Tel 0312345678 Postal 100-0013 Sum 12,345,678",
		"Atena 00010037 Date 20240401 Ref R6-000100371 Sum 99999999 yen",
		"Atena 00010074 Date 20240402 Account 12345678",
	};
	const char *bare[] = {
		"Notice 20240401\n00010000 Sato", "Notice 20240401\n00010999 Ghost",
		"Notice 20240401\n00010037 Suzuki", "Notice 20240401\n00010074 Tanaka",
	};
	const char *ghost_label[] = {
		"Atena 00010000", "Atena 00010999", "Atena 0001000", "Atena 00010037",
		"Atena 00010074",
	};
	struct pdf_split_result r;
	struct error e = { "", 0 };

	if (plan_auto(noisy, 3, keys, 3, &r, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.ngroups, 3);
	assert_string_equal(r.groups[1].key, "10037");
	assert_string_equal(r.groups[1].found, "00010037");
	assert_int_equal(r.nunmatched + r.nholds, 0);
	pdf_split_result_free(&r);

	assert_int_equal(plan_auto(bare, 4, keys, 3, &r, &e), 0);
	assert_null(r.key_label);
	assert_int_equal(r.ngroups, 3);
	assert_int_equal(r.groups[0].page_count, 1);
	assert_int_equal(r.nunmatched, 1);
	assert_string_equal(r.unmatched_keys[0], "00010999");
	pdf_split_result_free(&r);

	/* Beside the label, a number not in the list names a resident
	 * missing from the CSV, whatever its digit count: never a page for
	 * the resident before it. */
	assert_int_equal(plan_auto(ghost_label, 5, keys, 3, &r, &e), 0);
	assert_int_equal(r.nunmatched, 2);
	assert_string_equal(r.unmatched_keys[0], "00010999");
	assert_string_equal(r.unmatched_keys[1], "0001000");
	assert_int_equal(r.ngroups, 3);
	assert_int_equal(r.groups[0].page_count, 1);
	pdf_split_result_free(&r);
	ghost_label[2] = "Atena 00010000 again";
	assert_int_equal(plan_auto(ghost_label, 5, keys, 3, &r, &e), 0);
	assert_int_equal(r.nunmatched, 1);
	assert_string_equal(r.unmatched_keys[0], "00010999");
	assert_int_equal(r.nrepeated, 1); /* 00010000 on pages 1 and 3 */
	assert_int_equal(r.ngroups, 2);
	pdf_split_result_free(&r);
}

/* The command: unmatched keys and held residents in its JSON, and no
 * file for either. */
static void test_cli_evidence(void **state)
{
	const char *pages[] = {
		"Atena 00010037 (Suzuki)", "Head 00010037 / Atena 00010000 (Sato)",
		"Atena 00010999 (not in the CSV) 1/2", "2/2", "Atena 00010074 Atena 00010111",
	};
	const char csv[] = "宛名番号,氏名\r\n00010037,鈴木\r\n00010000,佐藤\r\n00010074,田中\r\n"
			   "00010111,高橋\r\n";
	size_t len;
	uint8_t *pdf = make_pdf(pages, 5, &len);
	char *in = write_tmp("evidence.pdf", pdf, len);
	char *keys = write_tmp("evidence.csv", csv, sizeof csv - 1);
	char *dir = g_build_filename(tmpdir, "evidence-out", NULL);
	char *json = g_build_filename(tmpdir, "evidence.json", NULL);
	char *f;
	gchar *out = NULL;
	struct stat st;
	int saved, fd, rc;

	/* The JSON goes to stdout: catch it in a file. */
	fflush(stdout);
	saved = dup(1);
	fd = open(json, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	rc = cli("--auto", keys, "--json", in, dir, NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_int_equal(rc, 0);
	assert_true(g_file_get_contents(json, &out, NULL, NULL));
	assert_non_null(strstr(out, "\"unmatched_pdf_keys\":[\"00010999\"]"));
	assert_non_null(strstr(out, "\"held\":[{\"key\":\"00010074\",\"page\":5},"
				    "{\"key\":\"00010111\",\"page\":5}]"));
	assert_non_null(strstr(out, "\"csv_rows_without_pdf\":[\"00010074\",\"00010111\"]"));
	f = g_build_filename(dir, "00010000.pdf", NULL);
	assert_int_equal(stat(f, &st), 0);
	g_free(f);
	f = g_build_filename(dir, "00010999.pdf", NULL);
	assert_int_equal(stat(f, &st), -1);
	g_free(f);
	f = g_build_filename(dir, "00010074.pdf", NULL);
	assert_int_equal(stat(f, &st), -1);
	g_free(f);
	g_free(out);
	free(pdf);
	g_free(in);
	g_free(keys);
	g_free(dir);
	g_free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuse_not_pdf),
		cmocka_unit_test(test_refuse_truncated),
		cmocka_unit_test(test_repaired),
		cmocka_unit_test(test_refuse_encrypted),
		cmocka_unit_test(test_page_limit),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_plan_pages),
		cmocka_unit_test(test_plan_key),
		cmocka_unit_test(test_plan_key_first_page_only),
		cmocka_unit_test(test_plan_key_refusals),
		cmocka_unit_test(test_plan_auto_boundaries),
		cmocka_unit_test(test_plan_auto_corpus),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_splitter),
		cmocka_unit_test(test_long_input),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_unknown_key_not_merged),
		cmocka_unit_test(test_two_keys_by_role),
		cmocka_unit_test(test_keyless_pages),
		cmocka_unit_test(test_key_shape),
		cmocka_unit_test(test_cli_evidence),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
