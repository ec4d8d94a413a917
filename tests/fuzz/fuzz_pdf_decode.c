/*
 * fuzz_pdf_decode.c — libFuzzer target for the capped stream decoder
 * (pdf_decode).  The first two bytes choose a chain of one or two filters
 * and their parameters:
 *   byte 0: bits 0-2 the first filter (0 Flate, 1 LZW, 2 ASCIIHex,
 *           3 ASCII85, 4 RunLength; 5-7: no filter), bits 3-5 the second
 *           (the same; 5-7: none), bit 6 LZW's early change, bit 7 a
 *           predictor on the first filter;
 *   byte 1: bits 0-1 the predictor (2 TIFF, 10, 12, 15 PNG), bits 2-3 the
 *           colors (1-4), bits 4-5 the bits per component (8, 16, 1, 4),
 *           bits 6-7 the columns (1, 3, 17, 300);
 * the rest is the stream data.  Decoded into a buffer and counted only,
 * with a cap of 64 KB: both must agree, and no output may pass the cap.
 * The whole input is also scanned as a file for object and
 * cross-reference streams (pdf_prescan), with the same cap, and read as
 * PDF tokens (pdf_syntax.h), which must move forward and stay within it.
 * Runs as a fuzzing program only (clang -fsanitize=fuzzer).
 * Seeds: tests/fuzz/corpus/pdf_decode/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_syntax.h"

#define FUZZ_CAP ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void filter_of(unsigned sel, int early, struct pdf_filter *f)
{
	static const enum pdf_filter_kind kinds[] = {
		PDF_F_FLATE, PDF_F_LZW, PDF_F_AHX, PDF_F_A85, PDF_F_RL,
	};
	memset(f, 0, sizeof *f);
	f->kind = kinds[sel];
	f->predictor = 1;
	f->colors = 1;
	f->bpc = 8;
	f->columns = 1;
	f->early_change = early;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int preds[] = { 2, 10, 12, 15 }, bpcs[] = { 8, 16, 1, 4 },
			 cols[] = { 1, 3, 17, 300 };
	static struct pdf_decoder *d;
	struct pdf_filter f[2];
	struct buf out;
	size_t nf = 0, n1 = 0, n2 = 0;
	int rc1, rc2;

	if (size < 2)
		return 0;
	if (!d)
		d = pdf_decoder_new();
	if ((data[0] & 7) < 5)
		filter_of(data[0] & 7, (data[0] >> 6) & 1, &f[nf++]);
	if (((data[0] >> 3) & 7) < 5)
		filter_of((data[0] >> 3) & 7, (data[0] >> 6) & 1, &f[nf++]);
	if (nf > 0 && (data[0] & 0x80)) {
		f[0].predictor = preds[data[1] & 3];
		f[0].colors = 1 + ((data[1] >> 2) & 3);
		f[0].bpc = bpcs[(data[1] >> 4) & 3];
		f[0].columns = cols[(data[1] >> 6) & 3];
	}
	buf_init(&out, SIZE_MAX / 2);
	rc1 = pdf_decode(d, data + 2, size - 2, f, nf, FUZZ_CAP, &out, &n1);
	rc2 = pdf_decode(d, data + 2, size - 2, f, nf, FUZZ_CAP, NULL, &n2);
	if (rc1 != rc2 || n1 > FUZZ_CAP || n2 > FUZZ_CAP || out.len > FUZZ_CAP)
		abort();
	if (rc1 == PDF_DECODE_OK && (n1 != n2 || out.len != n1))
		abort();
	buf_free(&out);
	{
		long long num;
		const char *what;
		int rc = pdf_prescan(d, data, size, FUZZ_CAP, &num, &what);
		if (rc != PDF_DECODE_OK && rc != PDF_DECODE_LIMIT && rc != PDF_DECODE_UNSUPPORTED)
			abort();
	}
	{
		struct pdf_lex l = { data, data + size };
		struct pdf_token t;
		do {
			const uint8_t *before = l.p;
			pdf_syntax_next(&l, &t);
			if (l.p > l.end || (t.t != PDF_TOK_EOF && l.p <= before))
				abort();
			if (t.t == PDF_TOK_AOPEN || t.t == PDF_TOK_DOPEN)
				(void)pdf_syntax_skip(&l, t.t == PDF_TOK_AOPEN ? PDF_TOK_ACLOSE
									: PDF_TOK_DCLOSE, 1);
			if (l.p > l.end)
				abort();
		} while (t.t != PDF_TOK_EOF);
	}
	return 0;
}
