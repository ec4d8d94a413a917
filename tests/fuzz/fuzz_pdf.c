/*
 * fuzz_pdf.c — libFuzzer target for the input-PDF path of the gateway:
 * pdf_check() (sniffing, qpdf open and repair, the deep check of repaired
 * files) on arbitrary bytes, then, on what it accepts, the page text of
 * the first pages through poppler (pdf_text) and one per-resident PDF
 * written by the splitter (pdf_copy), which is checked again.
 * Runs as a fuzzing program only (clang -fsanitize=fuzzer).
 * Seeds: tests/fuzz/corpus/pdf/ (small PDFs: plain, two pages with fonts,
 * a repaired one, an encrypted one, truncated ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "pdf/pdf_check.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_split.h"

/* Bounds that keep one input fast: pages checked, pages read. */
#define FUZZ_MAX_PAGES 8
#define FUZZ_TEXT_PAGES 3
#define FUZZ_MAX_BYTES ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	struct pdf_info info;
	struct pdf_text *t = NULL;
	struct pdf_splitter *s = NULL;

	if (size > FUZZ_MAX_BYTES)
		return 0;
	memset(&e, 'X', sizeof e);
	if (pdf_check(data, size, NULL, FUZZ_MAX_PAGES, &info, &e) < 0) {
		/* Every refusal is one terminated line. */
		if (!memchr(e.msg, '\0', sizeof e.msg) || e.msg[0] == '\0' || strchr(e.msg, '\n'))
			abort();
		return 0;
	}
	if (info.pages < 1 || info.pages > FUZZ_MAX_PAGES)
		abort();
	if (pdf_text_open(data, size, NULL, &t, &e) == 0) {
		int n = pdf_text_npages(t);
		for (int p = 1; p <= n && p <= FUZZ_TEXT_PAGES; p++) {
			size_t len = 0;
			char *text = pdf_text_page(t, p, &len, &e);
			if (text && (strlen(text) != len || !g_utf8_validate(text, (gssize)len, NULL)))
				abort();
			g_free(text);
		}
		pdf_text_close(&t);
	}
	if (pdf_splitter_open(data, size, NULL, FUZZ_MAX_PAGES, &s, &e) == 0) {
		const uint8_t *out;
		size_t outlen;
		if (pdf_splitter_make(s, 1, 1, &out, &outlen, &e) == 0) {
			/* What tayori writes it must accept again, with nothing
			 * to repair, whatever the input was: every byte of
			 * syntax in it is ours. */
			struct pdf_info again;
			if (pdf_check(out, outlen, NULL, FUZZ_MAX_PAGES, &again, &e) < 0 ||
			    again.pages != 1 || again.repaired)
				abort();
		}
		pdf_splitter_close(&s);
	}
	return 0;
}
