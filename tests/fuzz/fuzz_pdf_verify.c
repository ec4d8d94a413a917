/*
 * fuzz_pdf_verify.c — libFuzzer target for `tayori pdf verify`: arbitrary
 * bytes as a PDF, through qpdf, the /ByteRange checks and CMS parsing.
 * Runs in the fuzzer only.  Standards: ISO 32000 §12.8, RFC 5652, RFC 3161.
 */
#include <stddef.h>
#include <stdint.h>
#include "pdf/pdf_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdf_verify_report r;
	struct error e;
	if (size > (1 << 20))
		return 0;
	if (pdf_verify_mem(data, size, NULL, &r, &e) == 0)
		pdf_verify_report_free(&r);
	return 0;
}
