/*
 * fuzz_multipart.c — libFuzzer target for the staff dashboard's upload
 * reader (portal/http_multipart.c), as a browser on the ward's network
 * controls it: the first line of the input is the Content-Type (whose
 * boundary the body is read with), the rest the body.  Checks the
 * promises of http_multipart.h and aborts when one is broken, so the
 * fuzzer reports it: at most max_parts parts, each part's bytes inside
 * the body and in order, each name non-empty and within its limit, each
 * file name cleaned (no slash, backslash or control character, not "." or
 * "..", at most HTTP_FILENAME_MAX bytes, valid UTF-8), and cleaning a
 * cleaned name again changes nothing.  Built by `make fuzz` (clang).
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portal/http_multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *f)
{
	char again[HTTP_FILENAME_MAX + 1];
	size_t n = strlen(f);
	if (n > HTTP_FILENAME_MAX || strpbrk(f, "/\\") != NULL || !g_utf8_validate(f, -1, NULL))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
			abort();
	if (n == 0)
		return; /* a file input left empty */
	if (f[0] == '.' || f[n - 1] == '.' || http_filename_clean(f, n, again) < 0 ||
	    strcmp(again, f) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_mp_limits lim = { 16, 1024, 32, 512 };
	const uint8_t *nl = memchr(data, '\n', size);
	struct http_multipart m;
	struct error e = { { 0 }, 0 };
	char *ct;
	const uint8_t *body, *last = NULL;
	size_t blen;
	int r;

	if (nl == NULL)
		return 0;
	ct = g_strndup((const char *)data, (gsize)(nl - data));
	body = nl + 1;
	blen = size - (size_t)(body - data);
	memset(&m, 0, sizeof(m));
	r = http_multipart_parse(ct, body, blen, &lim, &m, &e);
	if (r == 0 && m.n > lim.max_parts)
		abort();
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		const struct http_part *p = &m.parts[i];
		if (p->name == NULL || p->name[0] == '\0' || strlen(p->name) > lim.max_name ||
		    p->data < body || p->data + p->len > body + blen || (last != NULL && p->data < last))
			abort();
		last = p->data + p->len;
		if (p->filename != NULL)
			check_name(p->filename);
	}
	{
		/* The cleaner alone, over the same bytes. */
		char out[HTTP_FILENAME_MAX + 1];
		if (http_filename_clean((const char *)body, blen < 2048 ? blen : 2048, out) == 0)
			check_name(out);
	}
	http_multipart_free(&m);
	g_free(ct);
	return 0;
}
