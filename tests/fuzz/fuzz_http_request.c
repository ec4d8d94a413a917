/*
 * fuzz_http_request.c — libFuzzer target for the request parsers of the
 * portal's HTTP layer (portal/http_parse.c, portal/http_html.c), as any
 * client on the Internet controls them: an application/x-www-form-urlencoded
 * body, a Cookie header, a Range header against a body size, and HTML
 * escaping of what a page shows back.  Bytes 0-3 are the body size for the
 * range (big-endian), the rest is the input.  Checks the promises of
 * http.h and aborts when one is broken, so the fuzzer reports it: at most
 * HTTP_FIELDS_MAX fields, each name non-empty text and each value
 * value_len long and NUL-terminated; cookie names are tokens; a range is
 * inside the body; escaped HTML holds no markup character.  Built by
 * `make fuzz` (clang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portal/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fields(const struct http_fields *f, size_t inlen)
{
	if (f->n > HTTP_FIELDS_MAX)
		abort();
	for (size_t i = 0; i < f->n; i++) {
		const struct http_field *x = &f->f[i];
		if (x->name == NULL || x->value == NULL || x->name[0] == '\0' ||
		    x->value[x->value_len] != '\0' || x->value_len > inlen || strlen(x->name) > inlen)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_fields f = { 0 };
	struct buf b;
	uint64_t body, first = 0, last = 0;
	char *s;
	int rc;

	if (size < 4 || size > (1 << 16))
		return 0;
	body = (uint64_t)data[0] << 24 | (uint64_t)data[1] << 16 | (uint64_t)data[2] << 8 | data[3];
	data += 4;
	size -= 4;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* The form: raw bytes, NULs and all. */
	rc = http_form_parse(s, size, &f);
	if (rc != 0 && rc != -1)
		abort();
	check_fields(&f, size);
	for (size_t i = 0; i < f.n; i++)
		if (strlen(f.f[i].name) == 0 || memchr(f.f[i].name, '\0', strlen(f.f[i].name)) != NULL)
			abort();
	http_fields_free(&f);

	/* The Cookie header: a C string, as the layer passes it. */
	rc = http_cookie_parse(s, &f);
	if (rc != 0 && rc != -1)
		abort();
	check_fields(&f, size);
	for (size_t i = 0; i < f.n; i++)
		if (strpbrk(f.f[i].name, " \t;=,\"") != NULL || strchr(f.f[i].value, ';') != NULL)
			abort();
	http_fields_free(&f);

	/* The Range header against a body of body bytes. */
	rc = http_range_parse(s, body, &first, &last);
	if (rc < -1 || rc > 1 || (rc == 1 && (first > last || last >= body)))
		abort();

	/* What a page shows back: no markup survives escaping. */
	buf_init(&b, 8 * size + 16);
	if (http_html_n(&b, s, size) < 0)
		abort();
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '<' || b.data[i] == '>' || b.data[i] == '"' || b.data[i] == '\'' ||
		    b.data[i] == '\r' || b.data[i] == '\0')
			abort();
	buf_free(&b);
	free(s);
	return 0;
}
