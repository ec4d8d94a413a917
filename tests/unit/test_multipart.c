/*
 * test_multipart.c — unit tests for the portal's multipart/form-data reader
 * (portal/http_multipart.h): the boundary from a Content-Type, a body as
 * Chromium and curl send it (binary bytes, CRLF and dashes inside a file),
 * filename* over filename, every limit, malformed bodies refused, file
 * names cleaned (../, Windows paths, controls, direction overrides,
 * invalid UTF-8, NFD), and generated variations (a fixed seed): random
 * bodies read back exactly, every cut-short body refused, every one-byte
 * change read or refused without harm.  Runs as a stand-alone cmocka
 * program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "portal/http_multipart.h"

static const struct http_mp_limits LIM = { 64, 8192, 64, 1024 };

static uint64_t rng = 0x7461796f72693132ull; /* fixed: the same bodies on every run */
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static int parse(const char *ct, const void *body, size_t len, struct http_multipart *m)
{
	struct error e = { { 0 }, 0 };
	memset(m, 0, sizeof(*m));
	return http_multipart_parse(ct, body, len, &LIM, m, &e);
}

static void test_boundary(void **state)
{
	char b[HTTP_MP_BOUNDARY_MAX + 1];
	(void)state;
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7", b), 0);
	assert_string_equal(b, "----WebKitFormBoundaryx7");
	assert_int_equal(http_multipart_boundary("Multipart/Form-Data;BOUNDARY=\"a b'c\"", b), 0);
	assert_string_equal(b, "a b'c");
	assert_int_equal(http_multipart_boundary("multipart/form-data; charset=utf-8; boundary=z", b), 0);
	assert_string_equal(b, "z");
	/* refused: another type, none, empty, too long, a bad character, a
	 * trailing space, two of them, a broken parameter */
	assert_int_equal(http_multipart_boundary("multipart/mixed; boundary=z", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary=\"\"", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary="
						 "12345678901234567890123456789012345678901234567890123456789012345678901", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary=\"a<b\"", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary=\"ab \"", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary=a; boundary=b", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary", b), -1);
	assert_int_equal(http_multipart_boundary("multipart/form-data; boundary=\"abc", b), -1);
}

#define CT "multipart/form-data; boundary=----B0"
static const char browser_body[] =
	"------B0\r\n"
	"Content-Disposition: form-data; name=\"title\"\r\n\r\n"
	"\xe4\xbd\x8f\xe6\xb0\x91\xe7\xa8\x8e\r\n"
	"------B0\r\n"
	"Content-Disposition: form-data; name=\"csv\"; filename=\"C:\\\\fakepath\\\\list.csv\"\r\n"
	"Content-Type: text/csv\r\n\r\n"
	"key,name\r\n1,a\r\n"
	"------B0\r\n"
	"content-disposition: form-data; name=pdfs; filename=\"../../x.pdf\"; "
	"filename*=UTF-8''%E9%80%9A%E7%9F%A5.pdf\r\n"
	"Content-Type: Application/PDF; x=y\r\n\r\n"
	"%PDF-1.7\r\n--not-it\r\n------B\r\n\0\xff\r\n"
	"------B0\r\n"
	"Content-Disposition: form-data; name=\"pdfs\"; filename=\"\"\r\n"
	"Content-Type: application/octet-stream\r\n\r\n"
	"\r\n"
	"------B0--\r\nepilogue";

static void test_browser_body(void **state)
{
	struct http_multipart m;
	const struct http_part *p;
	(void)state;
	assert_int_equal(parse(CT, browser_body, sizeof(browser_body) - 1, &m), 0);
	assert_int_equal(m.n, 4);
	p = http_multipart_get(&m, "title", 0);
	assert_non_null(p);
	assert_null(p->filename);
	assert_int_equal(p->len, 9);
	assert_memory_equal(p->data, "\xe4\xbd\x8f\xe6\xb0\x91\xe7\xa8\x8e", 9);
	p = http_multipart_get(&m, "csv", 0);
	assert_string_equal(p->filename, "list.csv");
	assert_string_equal(p->type, "text/csv");
	assert_int_equal(p->len, 13); /* the CRLF before a delimiter is the delimiter's */
	p = http_multipart_get(&m, "pdfs", 0);
	assert_string_equal(p->filename, "\xe9\x80\x9a\xe7\x9f\xa5.pdf"); /* filename* wins */
	assert_string_equal(p->type, "application/pdf");
	assert_int_equal(p->len, 31);
	assert_memory_equal(p->data, "%PDF-1.7\r\n--not-it\r\n------B\r\n\0\xff", 31);
	p = http_multipart_get(&m, "pdfs", 1);
	assert_string_equal(p->filename, ""); /* a file input left empty */
	assert_int_equal(p->len, 0);
	assert_null(http_multipart_get(&m, "pdfs", 2));
	http_multipart_free(&m);
	/* A preamble is skipped. */
	{
		char b[2048];
		memcpy(b, "preamble\r\n", 10);
		memcpy(b + 10, browser_body, sizeof(browser_body) - 1);
		assert_int_equal(parse(CT, b, 10 + sizeof(browser_body) - 1, &m), 0);
		assert_int_equal(m.n, 4);
		http_multipart_free(&m);
	}
}

static void refused(const char *body, int want)
{
	struct http_multipart m;
	assert_int_equal(parse(CT, body, strlen(body), &m), want);
	http_multipart_free(&m);
}

#define D "------B0\r\n"
#define DISP(n) "Content-Disposition: form-data; name=\"" n "\"\r\n"
#define END "------B0--\r\n"

static void test_malformed(void **state)
{
	(void)state;
	refused("", HTTP_MP_MALFORMED);
	refused("no delimiter at all", HTTP_MP_MALFORMED);
	refused(D DISP("a") "\r\nno close", HTTP_MP_MALFORMED);
	refused("------B0x\r\n" DISP("a") "\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "\r\nv\r\n" END, HTTP_MP_MALFORMED); /* no header */
	refused(D "Content-Type: text/plain\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data; name=\"\"\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D DISP("a") DISP("b") "\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data; name=\"a\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D DISP("a") "Content-Transfer-Encoding: base64\r\n\r\ndg==\r\n" END, HTTP_MP_MALFORMED);
	refused(D DISP("a") " folded: x\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D DISP("a") "Bad Name: x\r\n\r\nv\r\n" END, HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data; name=\"a\"; filename*=latin1''x\r\n\r\nv\r\n" END,
		HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data; name=\"a\"; filename*=UTF-8''%E9%8\r\n\r\nv\r\n" END,
		HTTP_MP_MALFORMED);
	refused(D "Content-Disposition: form-data; name=\"a\"; filename=\"x\"; filename=\"y\"\r\n\r\nv\r\n" END,
		HTTP_MP_MALFORMED);
	/* the file name has nothing left */
	{
		struct http_multipart m;
		const char *b = D "Content-Disposition: form-data; name=\"pdfs\"; filename=\"../..\"\r\n\r\nv\r\n" END;
		assert_int_equal(parse(CT, b, strlen(b), &m), HTTP_MP_FILENAME);
		assert_string_equal(m.bad_field, "pdfs");
		http_multipart_free(&m);
	}
	/* The right type is needed. */
	{
		struct http_multipart m;
		const char *b = D DISP("a") "\r\nv\r\n" END;
		assert_int_equal(parse("application/x-www-form-urlencoded", b, strlen(b), &m), HTTP_MP_MALFORMED);
		http_multipart_free(&m);
	}
}

static void test_limits(void **state)
{
	struct buf b;
	struct http_multipart m;
	char name[80];
	(void)state;
	/* 64 parts pass, 65 do not */
	for (int total = 64; total <= 65; total++) {
		buf_init(&b, 1 << 20);
		for (int i = 0; i < total; i++)
			buf_append_str(&b, D DISP("f") "\r\nx\r\n");
		buf_append_str(&b, END);
		assert_int_equal(parse(CT, b.data, b.len, &m), total == 64 ? 0 : HTTP_MP_TOO_MANY);
		http_multipart_free(&m);
		buf_free(&b);
	}
	/* a header block of 8192 bytes passes, 8193 does not */
	for (int extra = 0; extra <= 1; extra++) {
		size_t disp = strlen(DISP("a")) - 2, pad = 8192 - disp - 2 - 7 + (size_t)extra;
		buf_init(&b, 1 << 20);
		buf_append_str(&b, D DISP("a") "X-Pad: ");
		for (size_t i = 0; i < pad; i++)
			buf_append_str(&b, "p");
		buf_append_str(&b, "\r\n\r\nv\r\n" END);
		assert_int_equal(parse(CT, b.data, b.len, &m), extra ? HTTP_MP_TOO_LONG : 0);
		http_multipart_free(&m);
		buf_free(&b);
	}
	/* a field name of 64 bytes passes, 65 does not */
	for (int len = 64; len <= 65; len++) {
		memset(name, 'n', (size_t)len);
		name[len] = '\0';
		buf_init(&b, 1 << 20);
		buf_append_str(&b, D "Content-Disposition: form-data; name=\"");
		buf_append_str(&b, name);
		buf_append_str(&b, "\"\r\n\r\nv\r\n" END);
		assert_int_equal(parse(CT, b.data, b.len, &m), len == 64 ? 0 : HTTP_MP_TOO_LONG);
		http_multipart_free(&m);
		buf_free(&b);
	}
	/* a file name as sent of 1025 bytes is refused */
	buf_init(&b, 1 << 20);
	buf_append_str(&b, D "Content-Disposition: form-data; name=\"f\"; filename=\"");
	for (int i = 0; i < 1025; i++)
		buf_append_str(&b, "a");
	buf_append_str(&b, "\"\r\n\r\nv\r\n" END);
	assert_int_equal(parse(CT, b.data, b.len, &m), HTTP_MP_TOO_LONG);
	http_multipart_free(&m);
	buf_free(&b);
}

static void clean_is(const char *in, size_t n, const char *want)
{
	char out[HTTP_FILENAME_MAX + 1];
	int r = http_filename_clean(in, n, out);
	if (want == NULL) {
		assert_int_equal(r, -1);
		return;
	}
	assert_int_equal(r, 0);
	assert_string_equal(out, want);
}
#define CLEAN(in, want) clean_is((in), sizeof(in) - 1, (want))

static void test_filename_clean(void **state)
{
	char long_name[300];
	(void)state;
	CLEAN("notice.pdf", "notice.pdf");
	CLEAN("../../etc/passwd", "passwd");
	CLEAN("..\\..\\windows\\win.ini", "win.ini");
	CLEAN("C:\\Users\\tanaka\\Desktop\\000123.pdf", "000123.pdf");
	CLEAN("a/b\\c/d.csv", "d.csv");
	CLEAN("a\x01\x1f\x7f" "b.pdf", "ab.pdf");
	CLEAN("a\r\nb.pdf", "ab.pdf");
	CLEAN("a\0b.pdf", "ab.pdf");
	CLEAN("\xc2\x85" "x.pdf", "x.pdf"); /* C1 NEL */
	CLEAN("notice\xe2\x80\xae" "fdp.exe", "noticefdp.exe"); /* RIGHT-TO-LEFT OVERRIDE */
	CLEAN("\xe2\x81\xa6" "a\xe2\x81\xa9" ".pdf", "a.pdf");      /* isolates */
	CLEAN("\xef\xbb\xbf" "bom.csv", "bom.csv");
	CLEAN("bad\xff\xfe" ".pdf", "bad__.pdf");
	CLEAN("\xc0\xaf" "x", "__x"); /* an overlong '/' is no separator */
	CLEAN("\xed\xa0\x80" "s", "___s"); /* a surrogate */
	CLEAN("\xe3\x81\x8b\xe3\x82\x99.pdf", "\xe3\x81\x8c.pdf"); /* NFD か+゛ -> が */
	CLEAN("\xe5\xae\x9b\xe5\x90\x8d.csv", "\xe5\xae\x9b\xe5\x90\x8d.csv");
	CLEAN(" .hidden. ", "hidden");
	CLEAN("..", NULL);
	CLEAN(".", NULL);
	CLEAN("../", NULL);
	CLEAN("/", NULL);
	CLEAN("\x01\x02", NULL);
	CLEAN("", NULL);
	memset(long_name, 'a', 255);
	long_name[255] = '\0';
	clean_is(long_name, 255, long_name);
	memset(long_name, 'a', 256);
	clean_is(long_name, 256, NULL);
}

/* ---- generated variations ---- */

struct gen_part {
	char name[16];
	char file[40]; /* "" none */
	uint8_t data[300];
	size_t len;
};

/* Random bytes that may hold CR, LF, dashes and most of the boundary, but
 * never CRLF followed by the whole delimiter. */
static void gen_data(struct gen_part *p)
{
	static const char pieces[][12] = { "\r\n", "--", "------B", "\r\n------B", "\0", "x", "\xff" };
	p->len = 0;
	for (size_t k = next_rand() % 20; k > 0; k--) {
		const char *s = pieces[next_rand() % 7];
		size_t n = s[0] == '\0' ? 1 : strlen(s);
		if (p->len + n + 1 >= sizeof(p->data))
			break;
		memcpy(p->data + p->len, s, n);
		p->len += n;
		if (next_rand() % 2)
			p->data[p->len++] = (uint8_t)(next_rand() % 256) | 0x80;
	}
}

static void gen_body(struct buf *b, struct gen_part *parts, size_t *np, size_t *close_end)
{
	static const char *const disp[] = { "Content-Disposition", "content-disposition", "CONTENT-DISPOSITION" };
	*np = next_rand() % 12;
	buf_init(b, 1 << 20);
	for (size_t i = 0; i < *np; i++) {
		struct gen_part *p = &parts[i];
		char line[200];
		str_fmt(p->name, sizeof(p->name), "f%u", next_rand() % 1000);
		p->file[0] = '\0';
		if (next_rand() % 2)
			str_fmt(p->file, sizeof(p->file), "%u_\xe9\x80\x9a.pdf", next_rand() % 100000);
		gen_data(p);
		buf_append_str(b, "------B0");
		if (next_rand() % 4 == 0)
			buf_append_str(b, " \t"); /* transport padding */
		str_fmt(line, sizeof(line), "\r\n%s: form-data;%sname=\"%s\"", disp[next_rand() % 3],
			next_rand() % 2 ? " " : "", p->name);
		buf_append_str(b, line);
		if (p->file[0] != '\0') {
			str_fmt(line, sizeof(line), "; filename=\"dir/../%s\"", p->file);
			buf_append_str(b, line);
		}
		buf_append_str(b, next_rand() % 2 ? "\r\nContent-Type: application/pdf\r\n\r\n" : "\r\n\r\n");
		buf_append(b, p->data, p->len);
		buf_append_str(b, "\r\n");
	}
	buf_append_str(b, "------B0--");
	*close_end = b->len;
	buf_append_str(b, "\r\n");
}

static void test_generated(void **state)
{
	(void)state;
	for (int round = 0; round < 300; round++) {
		struct gen_part parts[12];
		struct http_multipart m;
		struct buf b;
		size_t np, close_end;

		gen_body(&b, parts, &np, &close_end);
		assert_int_equal(parse(CT, b.data, b.len, &m), 0);
		assert_int_equal(m.n, np);
		for (size_t i = 0; i < np; i++) {
			assert_string_equal(m.parts[i].name, parts[i].name);
			assert_int_equal(m.parts[i].len, parts[i].len);
			assert_memory_equal(m.parts[i].data, parts[i].data, parts[i].len);
			if (parts[i].file[0] != '\0')
				assert_string_equal(m.parts[i].filename, parts[i].file);
			else
				assert_null(m.parts[i].filename);
		}
		http_multipart_free(&m);
		/* Cut short anywhere before the close delimiter: refused. */
		for (size_t cut = 0; cut < close_end; cut += 1 + next_rand() % 7) {
			int r = parse(CT, b.data, cut, &m);
			assert_true(r < 0);
			http_multipart_free(&m);
		}
		/* One byte changed: read or refused, never out of bounds (ASan). */
		for (int k = 0; k < 20 && b.len > 0; k++) {
			size_t at = next_rand() % b.len;
			uint8_t old = b.data[at];
			b.data[at] = (uint8_t)next_rand();
			(void)parse(CT, b.data, b.len, &m);
			http_multipart_free(&m);
			b.data[at] = old;
		}
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_browser_body),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_filename_clean),
		cmocka_unit_test(test_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
