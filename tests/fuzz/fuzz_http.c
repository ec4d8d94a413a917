/*
 * fuzz_http.c — libFuzzer target for the HTTP/1.1 response reader of
 * pdf/http_client.c, as a hostile TSA, CRL or OCSP server controls it.
 * Byte 0 picks the body cap (2^(b & 15) bytes), the rest is the response
 * as read until the peer closed.  Checks the promises of http_client.h
 * and aborts when one is broken, so the fuzzer reports it: the body never
 * exceeds its cap, a head found in a prefix is the same head in the whole,
 * a Content-Length body is exactly that long, and a chunked body is never
 * longer than the bytes after the head.  Built by `make fuzz` (clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pdf/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e = { { 0 }, 0 };
	struct buf body;
	size_t cap, hlen = 0, hlen2 = 0;
	int64_t clen = -1, clen2 = -1;
	int status = 0, status2 = 0, chunked = 0, chunked2 = 0, hr, hr2, rc;

	if (size < 1 || size > (1 << 18))
		return 0;
	cap = (size_t)1 << (data[0] & 15);
	data++;
	size--;

	hr = http_parse_head(data, size, &hlen, &status, &clen, &chunked, &e);
	if (hr == 1 && (hlen > size || hlen > HTTP_HEAD_MAX || status < 100 || status > 599))
		abort();
	/* The head as seen after only part of the bytes arrived. */
	hr2 = http_parse_head(data, size / 2, &hlen2, &status2, &clen2, &chunked2, &e);
	if (hr2 == 1 && (hr != 1 || hlen2 != hlen || status2 != status || clen2 != clen ||
	    chunked2 != chunked))
		abort();
	if (hr == -1 && hr2 == 1)
		abort();

	buf_init(&body, cap);
	memset(&e, 0, sizeof(e));
	rc = http_parse_response(data, size, &status2, &body, &e);
	if (rc == 0) {
		if (hr != 1 || body.len > cap || status2 != status || e.msg[0] != '\0')
			abort();
		if (!chunked && clen >= 0 && body.len != (size_t)clen)
			abort();
		if (body.len > size - hlen)
			abort();
		if (!chunked && clen < 0 && (body.len != size - hlen ||
		    (body.len > 0 && memcmp(body.data, data + hlen, body.len) != 0)))
			abort();
	} else if (rc != -1 || e.msg[0] == '\0') {
		abort();
	}
	buf_free(&body);
	return 0;
}
