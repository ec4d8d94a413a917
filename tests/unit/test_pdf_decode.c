/*
 * test_pdf_decode.c — unit tests of the capped stream decoder: every
 * filter and predictor decoded here must give the same bytes as qpdf's own
 * decoding of the same stream (and as the data before encoding); broken
 * data, unknown filters and bad parameters are reported, never guessed;
 * and decompression bombs (one FlateDecode to 1 GiB, FlateDecode twice to
 * 2 GiB, LZW, RunLength) stop at the cap at once, with the output buffer
 * never past it; object and cross-reference streams (which qpdf decodes
 * itself) are found in a file's bytes and measured before qpdf reads it.
 * Runs in the test process.  Standards: ISO 32000-1 §7.4; RFC 1950/1951.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <glib.h>
#include <zlib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_decode.h"

#define MIB ((size_t)1 << 20)

/* ---- encoders (the inverse of each filter) ---- */

static void ahx_encode(GByteArray *o, const uint8_t *d, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		uint8_t two[3] = { (uint8_t)hx[d[i] >> 4], (uint8_t)hx[d[i] & 15], '\n' };
		g_byte_array_append(o, two, i % 30 == 29 ? 3 : 2);
	}
	g_byte_array_append(o, (const uint8_t *)">", 1);
}

static void a85_encode(GByteArray *o, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i += 4) {
		size_t k = n - i < 4 ? n - i : 4;
		uint32_t v = 0;
		uint8_t c[5];
		for (size_t j = 0; j < 4; j++)
			v = v << 8 | (j < k ? d[i + j] : 0);
		if (v == 0 && k == 4) {
			g_byte_array_append(o, (const uint8_t *)"z", 1);
			continue;
		}
		for (int j = 4; j >= 0; j--) {
			c[j] = (uint8_t)('!' + v % 85);
			v /= 85;
		}
		g_byte_array_append(o, c, k + 1);
	}
	g_byte_array_append(o, (const uint8_t *)"~>", 2);
}

static void rl_encode(GByteArray *o, const uint8_t *d, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t r = 1;
		while (i + r < n && r < 128 && d[i + r] == d[i])
			r++;
		if (r >= 2) {
			uint8_t h[2] = { (uint8_t)(257 - r), d[i] };
			g_byte_array_append(o, h, 2);
			i += r;
		} else {
			size_t l = 1;
			uint8_t h;
			while (i + l < n && l < 128 && !(i + l + 1 < n && d[i + l] == d[i + l + 1]))
				l++;
			h = (uint8_t)(l - 1);
			g_byte_array_append(o, &h, 1);
			g_byte_array_append(o, d + i, (guint)l);
			i += l;
		}
	}
	g_byte_array_append(o, (const uint8_t *)"\x80", 1);
}

struct bits {
	GByteArray *o;
	uint32_t acc;
	int n;
};

static void put_bits(struct bits *b, unsigned code, int width)
{
	b->acc = b->acc << width | code;
	b->n += width;
	while (b->n >= 8) {
		uint8_t c = (uint8_t)(b->acc >> (b->n - 8));
		g_byte_array_append(b->o, &c, 1);
		b->n -= 8;
	}
	b->acc &= (1u << b->n) - 1;
}

/* LZW with early change 1, a clear code when the table fills. */
static void lzw_encode(GByteArray *o, const uint8_t *d, size_t n)
{
	GHashTable *dict = g_hash_table_new(g_direct_hash, g_direct_equal);
	struct bits b = { o, 0, 0 };
	int next = 258, width = 9, w = -1;

	put_bits(&b, 256, 9);
	for (size_t i = 0; i < n; i++) {
		unsigned key;
		gpointer v;
		if (w < 0) {
			w = d[i];
			continue;
		}
		key = ((unsigned)w << 8 | d[i]) + 1;
		if ((v = g_hash_table_lookup(dict, GUINT_TO_POINTER(key))) != NULL) {
			w = GPOINTER_TO_INT(v);
			continue;
		}
		if (next - 1 + 1 >= (1 << width) && width < 12)
			width++;
		put_bits(&b, (unsigned)w, width);
		g_hash_table_insert(dict, GUINT_TO_POINTER(key), GINT_TO_POINTER(next));
		next++;
		w = d[i];
		if (next >= 4093) {
			put_bits(&b, 256, width);
			g_hash_table_remove_all(dict);
			next = 258;
			width = 9;
		}
	}
	if (w >= 0) {
		if (next - 1 + 1 >= (1 << width) && width < 12)
			width++;
		put_bits(&b, (unsigned)w, width);
		next++;
	}
	if (next - 1 + 1 >= (1 << width) && width < 12)
		width++;
	put_bits(&b, 257, width);
	if (b.n > 0)
		put_bits(&b, 0, 8 - b.n);
	g_hash_table_destroy(dict);
}

static GByteArray *flate(const uint8_t *d, size_t n)
{
	uLongf cap = compressBound((uLong)n);
	GByteArray *o = g_byte_array_sized_new((guint)cap);
	g_byte_array_set_size(o, (guint)cap);
	assert_int_equal(compress2(o->data, &cap, d, (uLong)n, 9), Z_OK);
	g_byte_array_set_size(o, (guint)cap);
	return o;
}

/* PNG predictor rows, the filter type cycling through 0-4. */
static GByteArray *png_encode(const uint8_t *d, size_t n, size_t rowlen, size_t bpp)
{
	GByteArray *o = g_byte_array_new();
	for (size_t r = 0; r * rowlen < n; r++) {
		const uint8_t *cur = d + r * rowlen, *up = r ? cur - rowlen : NULL;
		uint8_t type = (uint8_t)(r % 5);
		g_byte_array_append(o, &type, 1);
		for (size_t j = 0; j < rowlen && r * rowlen + j < n; j++) {
			int a = j >= bpp ? cur[j - bpp] : 0, b = up ? up[j] : 0,
			    c = up && j >= bpp ? up[j - bpp] : 0, p, pa, pb, pc, pred = 0;
			uint8_t x;
			switch (type) {
			case 1: pred = a; break;
			case 2: pred = b; break;
			case 3: pred = (a + b) >> 1; break;
			case 4:
				p = a + b - c;
				pa = abs(p - a);
				pb = abs(p - b);
				pc = abs(p - c);
				pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
				break;
			}
			x = (uint8_t)(cur[j] - pred);
			g_byte_array_append(o, &x, 1);
		}
	}
	return o;
}

static GByteArray *tiff_encode(const uint8_t *d, size_t n, size_t rowlen, size_t colors)
{
	GByteArray *o = g_byte_array_new();
	g_byte_array_append(o, d, (guint)n);
	for (size_t r = 0; r * rowlen < n; r++)
		for (size_t j = rowlen; j-- > colors;)
			if (r * rowlen + j < n)
				o->data[r * rowlen + j] = (uint8_t)(d[r * rowlen + j] - d[r * rowlen + j - colors]);
	return o;
}

/* Deterministic sample data: runs, text and noise. */
static uint8_t *sample(size_t n)
{
	uint8_t *d = xmalloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		if ((i / 1000) % 3 == 0)
			d[i] = (uint8_t)(x >> 24);
		else if ((i / 1000) % 3 == 1)
			d[i] = (uint8_t)"BT /F1 12 Tf (Atena 00010001) Tj ET\n"[i % 37];
		else
			d[i] = (uint8_t)((i / 97) & 0xff);
	}
	return d;
}

/* ---- qpdf as the reference ---- */

/* A stream in a new document holding raw with the given filter names and
 * /DecodeParms (a dictionary string, or NULL), decoded by qpdf and by
 * pdf_stream_decode(); both must give want. */
static void same_as_qpdf(const GByteArray *raw, const char *filters, const char *parms,
			 const uint8_t *want, size_t wantlen)
{
	qpdf_data q = qpdf_init();
	struct pdf_decoder *d = pdf_decoder_new();
	struct buf out;
	unsigned char *qd = NULL;
	size_t qlen = 0, olen = 0;
	qpdf_oh s;

	buf_init(&out, SIZE_MAX / 2);
	qpdf_silence_errors(q);
	assert_false(qpdf_empty_pdf(q) & QPDF_ERRORS);
	s = qpdf_oh_new_stream(q);
	qpdf_oh_replace_stream_data(q, s, raw->data, raw->len, qpdf_oh_parse(q, filters),
				    parms ? qpdf_oh_parse(q, parms) : qpdf_oh_new_null(q));
	assert_false(qpdf_oh_get_stream_data(q, s, qpdf_dl_generalized, NULL, &qd, &qlen) & QPDF_ERRORS);
	/* qpdf 11.3 loses data decoding RunLength in memory (the same bytes
	 * read from a file decode right): there the data before encoding is
	 * the reference. */
	if (strcmp(filters, "/RunLengthDecode") != 0) {
		assert_int_equal(qlen, wantlen);
		assert_memory_equal(qd, want, wantlen);
	}
	assert_int_equal(pdf_stream_decode(d, q, s, wantlen, &out, &olen), PDF_DECODE_OK);
	assert_int_equal(olen, wantlen);
	assert_int_equal(out.len, wantlen);
	assert_memory_equal(out.data, want, wantlen);
	/* one byte less than the output is over the cap */
	if (wantlen > 0)
		assert_int_equal(pdf_stream_decode(d, q, s, wantlen - 1, &out, &olen), PDF_DECODE_LIMIT);
	/* counting only */
	assert_int_equal(pdf_stream_decode(d, q, s, wantlen, NULL, &olen), PDF_DECODE_OK);
	assert_int_equal(olen, wantlen);
	free(qd);
	buf_free(&out);
	pdf_decoder_free(&d);
	qpdf_cleanup(&q);
}

static void test_filters(void **state)
{
	size_t n = 300000;
	uint8_t *d = sample(n);
	GByteArray *o;
	(void)state;

	o = flate(d, n);
	same_as_qpdf(o, "/FlateDecode", NULL, d, n);
	same_as_qpdf(o, "[/Fl]", NULL, d, n);
	g_byte_array_free(o, TRUE);

	o = g_byte_array_new();
	ahx_encode(o, d, n);
	same_as_qpdf(o, "/ASCIIHexDecode", NULL, d, n);
	g_byte_array_free(o, TRUE);
	o = g_byte_array_new();
	ahx_encode(o, d, 7);
	g_byte_array_remove_index(o, o->len - 2); /* an odd number of digits */
	{
		uint8_t want[7];
		memcpy(want, d, 7);
		want[6] &= 0xF0;
		same_as_qpdf(o, "/AHx", NULL, want, 7);
	}
	g_byte_array_free(o, TRUE);

	for (size_t tail = 0; tail < 4; tail++) {
		o = g_byte_array_new();
		a85_encode(o, d, n - tail);
		same_as_qpdf(o, "/ASCII85Decode", NULL, d, n - tail);
		g_byte_array_free(o, TRUE);
	}

	o = g_byte_array_new();
	rl_encode(o, d, n);
	same_as_qpdf(o, "/RunLengthDecode", NULL, d, n);
	g_byte_array_free(o, TRUE);

	o = g_byte_array_new();
	lzw_encode(o, d, n);
	same_as_qpdf(o, "/LZWDecode", NULL, d, n);
	g_byte_array_free(o, TRUE);

	/* a chain: ASCII85 of Flate */
	{
		GByteArray *f = flate(d, n);
		o = g_byte_array_new();
		a85_encode(o, f->data, f->len);
		same_as_qpdf(o, "[/ASCII85Decode /FlateDecode]", NULL, d, n);
		g_byte_array_free(o, TRUE);
		g_byte_array_free(f, TRUE);
	}
	free(d);
}

static void test_predictors(void **state)
{
	size_t cols = 37, colors = 3, rowlen = cols * colors, n = rowlen * 101;
	uint8_t *d = sample(n);
	GByteArray *p, *o;
	char parms[128];
	(void)state;

	p = png_encode(d, n, rowlen, colors);
	o = flate(p->data, p->len);
	snprintf(parms, sizeof parms, "<< /Predictor 15 /Colors %zu /Columns %zu >>", colors, cols);
	same_as_qpdf(o, "/FlateDecode", parms, d, n);
	g_byte_array_free(o, TRUE);
	o = g_byte_array_new();
	lzw_encode(o, p->data, p->len);
	same_as_qpdf(o, "/LZWDecode", parms, d, n);
	g_byte_array_free(o, TRUE);
	g_byte_array_free(p, TRUE);

	p = tiff_encode(d, n, rowlen, colors);
	o = flate(p->data, p->len);
	snprintf(parms, sizeof parms, "<< /Predictor 2 /Colors %zu /Columns %zu >>", colors, cols);
	same_as_qpdf(o, "/FlateDecode", parms, d, n);
	g_byte_array_free(o, TRUE);
	g_byte_array_free(p, TRUE);
	free(d);
}

/* Broken data and what is not decoded here. */
static void test_refusals(void **state)
{
	struct pdf_decoder *d = pdf_decoder_new();
	struct pdf_filter f[2] = { { .kind = PDF_F_FLATE, .predictor = 1 },
				   { .kind = PDF_F_A85, .predictor = 1 } };
	uint8_t *s = sample(10000);
	GByteArray *o = flate(s, 10000);
	struct buf out;
	size_t len = 0;
	(void)state;

	buf_init(&out, SIZE_MAX / 2);
	/* cut short: what there is, like other readers */
	assert_int_equal(pdf_decode(d, o->data, o->len / 2, f, 1, MIB, &out, &len), PDF_DECODE_OK);
	assert_true(len > 0 && len < 10000);
	assert_memory_equal(out.data, s, len);
	/* corrupt */
	o->data[o->len / 2] ^= 0xFF;
	o->data[o->len / 2 + 1] ^= 0x55;
	o->data[0] = 0x12;
	assert_int_equal(pdf_decode(d, o->data, o->len, f, 1, MIB, &out, &len), PDF_DECODE_BAD);
	assert_int_equal(pdf_decode(d, (const uint8_t *)"abc\x7f~>", 6, f + 1, 1, MIB, &out, &len),
			 PDF_DECODE_BAD);
	assert_int_equal(pdf_decode(d, (const uint8_t *)"s8W-\"~>", 7, f + 1, 1, MIB, &out, &len),
			 PDF_DECODE_BAD); /* a group over 2^32 - 1 */
	assert_int_equal(pdf_decode(d, s, 10, f, PDF_FILTERS_MAX + 1, MIB, &out, &len),
			 PDF_DECODE_UNSUPPORTED);

	/* through qpdf's objects: image codecs and unknown filters are not
	 * decoded, nor is a bad predictor */
	{
		qpdf_data q = qpdf_init();
		qpdf_oh st;
		static const char *const unsupported[] = {
			"/DCTDecode", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode", "/Crypt",
			"/Bogus", "[/FlateDecode /DCTDecode]",
		};
		qpdf_silence_errors(q);
		assert_false(qpdf_empty_pdf(q) & QPDF_ERRORS);
		st = qpdf_oh_new_stream(q);
		for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
			qpdf_oh_replace_stream_data(q, st, o->data, o->len, qpdf_oh_parse(q, unsupported[i]),
						    qpdf_oh_new_null(q));
			assert_int_equal(pdf_stream_decode(d, q, st, MIB, &out, &len), PDF_DECODE_UNSUPPORTED);
		}
		qpdf_oh_replace_stream_data(q, st, o->data, o->len, qpdf_oh_parse(q, "/FlateDecode"),
					    qpdf_oh_parse(q, "<< /Predictor 12 /Columns -3 >>"));
		assert_int_equal(pdf_stream_decode(d, q, st, MIB, &out, &len), PDF_DECODE_BAD);
		qpdf_oh_replace_stream_data(q, st, o->data, o->len, qpdf_oh_parse(q, "/FlateDecode"),
					    qpdf_oh_parse(q, "<< /Predictor 7 >>"));
		assert_int_equal(pdf_stream_decode(d, q, st, MIB, &out, &len), PDF_DECODE_UNSUPPORTED);
		qpdf_cleanup(&q);
	}
	buf_free(&out);
	g_byte_array_free(o, TRUE);
	free(s);
	pdf_decoder_free(&d);
}

/*
 * A zlib stream of n zero bytes, made without deflating them all: one raw
 * block of 4 MiB of zeros, ended by a full flush (so it refers to nothing
 * before it), repeated.
 */
static GByteArray *flate_zeros(size_t n)
{
	size_t chunk = 4 * MIB;
	uint8_t *zeros = xcalloc(1, chunk);
	uint8_t *blk = xmalloc(chunk);
	GByteArray *o = g_byte_array_new();
	z_stream z;
	uLong adler = adler32(0, NULL, 0);
	size_t blen;
	uint8_t tail[6] = { 0x03, 0x00 };

	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = zeros;
	z.avail_in = (uInt)chunk;
	z.next_out = blk;
	z.avail_out = (uInt)chunk;
	assert_int_equal(deflate(&z, Z_FULL_FLUSH), Z_OK);
	blen = chunk - z.avail_out;
	deflateEnd(&z);
	g_byte_array_append(o, (const uint8_t *)"\x78\xda", 2);
	assert_int_equal(n % chunk, 0);
	for (size_t i = 0; i < n / chunk; i++) {
		g_byte_array_append(o, blk, (guint)blen);
		adler = adler32(adler, zeros, (uInt)chunk);
	}
	be32_put(tail + 2, (uint32_t)adler);
	g_byte_array_append(o, tail, 6);
	free(zeros);
	free(blk);
	return o;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_bombs(void **state)
{
	struct pdf_decoder *d = pdf_decoder_new();
	struct pdf_filter fl = { .kind = PDF_F_FLATE, .predictor = 1 };
	struct pdf_filter two[2] = { fl, fl };
	struct pdf_filter rl = { .kind = PDF_F_RL, .predictor = 1 };
	GByteArray *gib = flate_zeros((size_t)1 << 30);
	GByteArray *twogib = flate_zeros((size_t)2 << 30), *dbl = flate(twogib->data, twogib->len);
	uint8_t rlbomb[2 * 4096];
	struct buf out;
	size_t len = 0;
	double t0;
	(void)state;

	buf_init(&out, SIZE_MAX / 2);
	/* the 1 GiB stream is valid: counted in full with a cap above it */
	assert_true(gib->len < 2 * MIB);
	assert_int_equal(pdf_decode(d, gib->data, gib->len, &fl, 1, (size_t)1 << 30, NULL, &len),
			 PDF_DECODE_OK);
	assert_int_equal(len, (size_t)1 << 30);

	t0 = now();
	assert_int_equal(pdf_decode(d, gib->data, gib->len, &fl, 1, 16 * MIB, &out, &len),
			 PDF_DECODE_LIMIT);
	assert_true(out.len <= 16 * MIB);
	assert_true(len <= 16 * MIB);
	assert_true(out.cap <= 32 * MIB + 1);

	/* FlateDecode twice, 2 GiB: a few kilobytes */
	assert_true(dbl->len < 64 * 1024);
	assert_int_equal(pdf_decode(d, dbl->data, dbl->len, two, 2, 16 * MIB, &out, &len),
			 PDF_DECODE_LIMIT);
	assert_true(out.len <= 16 * MIB);
	assert_int_equal(pdf_decode(d, dbl->data, dbl->len, two, 2, 16 * MIB, NULL, &len),
			 PDF_DECODE_LIMIT);
	/* stopped at the cap: far less than the seconds a full decode takes */
	assert_true(now() - t0 < 20);

	/* RunLength: 2 bytes for 128 */
	for (size_t i = 0; i < sizeof rlbomb; i += 2) {
		rlbomb[i] = 129;
		rlbomb[i + 1] = 0;
	}
	assert_int_equal(pdf_decode(d, rlbomb, sizeof rlbomb, &rl, 1, 100000, &out, &len),
			 PDF_DECODE_LIMIT);
	assert_true(out.len <= 100000);
	assert_int_equal(pdf_decode(d, rlbomb, sizeof rlbomb, &rl, 1, 4096 * 128, &out, &len),
			 PDF_DECODE_OK);
	assert_int_equal(len, 4096 * 128);

	buf_free(&out);
	g_byte_array_free(gib, TRUE);
	g_byte_array_free(twogib, TRUE);
	g_byte_array_free(dbl, TRUE);
	pdf_decoder_free(&d);
}

/* An object or cross-reference stream of the given dictionary entries
 * and data, as bytes of a file. */
static GByteArray *objstm_len(const char *entries, const GByteArray *data, unsigned length)
{
	GByteArray *o = g_byte_array_new();
	char head[512];
	int n = snprintf(head, sizeof head, "%%PDF-1.7\n12 0 obj\n<< %s /Length %u >>\nstream\n",
			 entries, length);
	g_byte_array_append(o, (const uint8_t *)head, (guint)n);
	g_byte_array_append(o, data->data, data->len);
	g_byte_array_append(o, (const uint8_t *)"\nendstream\nendobj\n", 19);
	return o;
}

static GByteArray *objstm_bytes(const char *entries, const GByteArray *data)
{
	return objstm_len(entries, data, data->len);
}

/* qpdf decodes object and cross-reference streams itself: they are found
 * in the bytes and measured before it opens them. */
static void test_prescan(void **state)
{
	struct pdf_decoder *d = pdf_decoder_new();
	GByteArray *bomb = flate_zeros((size_t)64 << 20), *o;
	const char *what = NULL;
	long long num = 0;
	(void)state;

	o = objstm_bytes("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", bomb);
	assert_int_equal(pdf_prescan(d, o->data, o->len, 16 * MIB, &num, &what), PDF_DECODE_LIMIT);
	assert_int_equal(num, 12);
	assert_string_equal(what, "object stream");
	/* within the cap */
	assert_int_equal(pdf_prescan(d, o->data, o->len, 64 * MIB, &num, &what), PDF_DECODE_OK);
	g_byte_array_free(o, TRUE);
	/* no /Type, a string holding ">>", a comment, an escaped name */
	o = objstm_bytes("/X (>> stream) %>>\n /N 1 /First 4 /Fil#74er [/Fl]", bomb);
	assert_int_equal(pdf_prescan(d, o->data, o->len, 16 * MIB, &num, &what), PDF_DECODE_LIMIT);
	g_byte_array_free(o, TRUE);
	/* a wrong /Length: qpdf looks for endstream, so does the scan */
	o = objstm_len("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", bomb, 9);
	assert_int_equal(pdf_prescan(d, o->data, o->len, 16 * MIB, &num, &what), PDF_DECODE_LIMIT);
	g_byte_array_free(o, TRUE);
	o = objstm_bytes("/Type /XRef /W [1 2 1] /Size 3 /Filter /FlateDecode", bomb);
	assert_int_equal(pdf_prescan(d, o->data, o->len, 16 * MIB, &num, &what), PDF_DECODE_LIMIT);
	assert_string_equal(what, "cross-reference stream");
	g_byte_array_free(o, TRUE);
	/* a filter given by reference cannot be checked */
	o = objstm_bytes("/N 1 /First 4 /Filter 9 0 R", bomb);
	assert_int_equal(pdf_prescan(d, o->data, o->len, 16 * MIB, &num, &what), PDF_DECODE_UNSUPPORTED);
	g_byte_array_free(o, TRUE);
	/* other streams are not the scan's: the text reader decodes those */
	o = objstm_bytes("/Filter /FlateDecode", bomb);
	assert_int_equal(pdf_prescan(d, o->data, o->len, 16 * MIB, &num, &what), PDF_DECODE_OK);
	g_byte_array_free(o, TRUE);

	/* a file qpdf writes with object streams passes */
	{
		qpdf_data q = qpdf_init();
		uint8_t *s = sample(100000);
		qpdf_oh st;
		assert_false(qpdf_empty_pdf(q) & QPDF_ERRORS);
		for (int i = 0; i < 50; i++) {
			st = qpdf_oh_new_stream(q);
			qpdf_oh_replace_stream_data(q, st, s, 100000, qpdf_oh_new_null(q), qpdf_oh_new_null(q));
			qpdf_oh_replace_key(q, qpdf_get_root(q), "/X", qpdf_make_indirect_object(q,
				qpdf_oh_parse(q, "<< /A [1 2 (x>>) <414243>] /B << /C /D >> >>")));
			qpdf_oh_replace_key(q, qpdf_get_root(q), "/S", qpdf_make_indirect_object(q, st));
		}
		assert_false(qpdf_init_write_memory(q) & QPDF_ERRORS);
		qpdf_set_object_stream_mode(q, qpdf_o_generate);
		assert_false(qpdf_write(q) & QPDF_ERRORS);
		assert_non_null(memmem(qpdf_get_buffer(q), qpdf_get_buffer_length(q), "/ObjStm", 7));
		assert_int_equal(pdf_prescan(d, qpdf_get_buffer(q), qpdf_get_buffer_length(q), MIB,
					     &num, &what), PDF_DECODE_OK);
		free(s);
		qpdf_cleanup(&q);
	}
	g_byte_array_free(bomb, TRUE);
	pdf_decoder_free(&d);
}

static void test_sizes(void **state)
{
	char s[32];
	struct pdf_limits l = { 0, 0, 0 }, got;
	(void)state;

	assert_string_equal(pdf_size_text(16 * MIB, s, sizeof s), "16 MB");
	assert_string_equal(pdf_size_text((size_t)2 << 30, s, sizeof s), "2 GB");
	assert_string_equal(pdf_size_text(1536, s, sizeof s), "1536 bytes");
	assert_string_equal(pdf_size_text(4096, s, sizeof s), "4 KB");
	pdf_limits_set(&l);
	pdf_limits_get(&got);
	assert_int_equal(got.stream_max, PDF_STREAM_MAX_DEFAULT);
	assert_int_equal(got.page_max, PDF_PAGE_DECODED_DEFAULT);
	assert_int_equal(got.doc_max, PDF_DECODED_DEFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_predictors),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bombs),
		cmocka_unit_test(test_prescan),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
