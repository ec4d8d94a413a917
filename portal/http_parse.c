/*
 * http_parse.c — the request parsers of the portal's HTTP layer (see
 * http.h): an application/x-www-form-urlencoded body (WHATWG URL,
 * "application/x-www-form-urlencoded parsing"), the Cookie header (RFC
 * 6265 section 5.4), a single byte range (RFC 9110 section 14.1.2), and
 * the lookups handlers use.  Pure functions over bytes: no I/O.  Runs in
 * the portal process (and in the fuzz target).
 */
#include "portal/http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct http_field *find(const struct http_fields *fs, const char *name, int nocase)
{
	for (size_t i = 0; i < fs->n; i++)
		if (nocase ? strcasecmp(fs->f[i].name, name) == 0 : strcmp(fs->f[i].name, name) == 0)
			return &fs->f[i];
	return NULL;
}

static const char *find_value(const struct http_fields *fs, const char *name, int nocase)
{
	const struct http_field *f = find(fs, name, nocase);
	return f != NULL ? f->value : NULL;
}

const char *http_query(const struct http_request *req, const char *name)
{
	return find_value(&req->query, name, 0);
}

const char *http_form(const struct http_request *req, const char *name)
{
	return find_value(&req->form, name, 0);
}

const char *http_cookie(const struct http_request *req, const char *name)
{
	return find_value(&req->cookies, name, 0);
}

const char *http_header(const struct http_request *req, const char *name)
{
	return find_value(&req->headers, name, 1);
}

void http_fields_free(struct http_fields *fields)
{
	for (size_t i = 0; i < fields->n; i++) {
		free(fields->f[i].name);
		free(fields->f[i].value);
	}
	fields->n = 0;
}

/* Decode len bytes of s ('+' as a space when plus is set, %XX) into a new
 * NUL-terminated string; -1 on a broken %-escape. */
static int decode(const char *s, size_t len, int plus, char **out, size_t *outlen)
{
	char *d = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int h = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
			int l = i + 2 < len ? hex_value((unsigned char)s[i + 2]) : -1;
			if (h < 0 || l < 0) {
				free(d);
				return -1;
			}
			d[n++] = (char)(h * 16 + l);
			i += 2;
		} else {
			d[n++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	d[n] = '\0';
	*out = d;
	*outlen = n;
	return 0;
}

/* Append name and value (already decoded, taken over) to fields. */
static int add(struct http_fields *fields, char *name, char *value, size_t value_len)
{
	if (fields->n >= HTTP_FIELDS_MAX) {
		free(name);
		free(value);
		return -1;
	}
	fields->f[fields->n++] = (struct http_field){ name, value, value_len };
	return 0;
}

int http_form_parse(const char *s, size_t len, struct http_fields *fields)
{
	size_t i = 0;
	while (i < len) {
		size_t end = i, eq;
		char *name = NULL, *value = NULL;
		size_t nlen = 0, vlen = 0;
		while (end < len && s[end] != '&')
			end++;
		eq = i;
		while (eq < end && s[eq] != '=')
			eq++;
		if (end > i) {
			if (decode(s + i, eq - i, 1, &name, &nlen) < 0)
				return -1;
			if (decode(s + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, 1, &value,
				   &vlen) < 0) {
				free(name);
				return -1;
			}
			/* A name is text: one holding a NUL byte is refused. */
			if (nlen != strlen(name)) {
				free(name);
				free(value);
				return -1;
			}
			if (nlen == 0) {
				free(name);
				free(value);
			} else if (add(fields, name, value, vlen) < 0) {
				return -1;
			}
		}
		i = end + 1;
	}
	return 0;
}

/* RFC 6265's token characters for a cookie name (RFC 9110 tchar). */
static int is_tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

int http_cookie_parse(const char *header, struct http_fields *fields)
{
	const char *p = header;
	while (*p != '\0') {
		const char *start, *eq, *end, *vs, *ve;
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (*p == '\0')
			break;
		start = p;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		p = end;
		eq = memchr(start, '=', (size_t)(end - start));
		if (eq == NULL || eq == start)
			continue; /* not name=value: ignored, as browsers do */
		{
			const char *ne = eq;
			int ok = 1;
			while (ne > start && (ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			for (const char *q = start; q < ne; q++)
				ok &= is_tchar((unsigned char)*q);
			if (!ok || ne == start)
				continue;
			vs = eq + 1;
			ve = end;
			while (vs < ve && (*vs == ' ' || *vs == '\t'))
				vs++;
			while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (ve - vs >= 2 && *vs == '"' && ve[-1] == '"')
				vs++, ve--;
			if (add(fields, xstrndup(start, (size_t)(ne - start)),
				xstrndup(vs, (size_t)(ve - vs)), (size_t)(ve - vs)) < 0)
				return -1;
		}
	}
	return 0;
}

/* Digits at *p into *v; 0 when there was at least one and no overflow. */
static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*v = n;
	return 0;
}

int http_range_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last)
{
	const char *p = header;
	uint64_t a = 0, b = 0;
	int has_first, has_last;

	if (header == NULL || strncasecmp(p, "bytes=", 6) != 0)
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	has_first = digits(&p, &a) == 0;
	if (*p != '-')
		return 0;
	p++;
	has_last = digits(&p, &b) == 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' || (!has_first && !has_last))
		return 0; /* several ranges, or not a range: the whole body */
	if (has_first) {
		if (has_last && b < a)
			return 0; /* invalid: ignored (RFC 9110 14.1.1) */
		if (a >= size)
			return -1;
		*first = a;
		*last = has_last && b < size ? b : size - 1;
		return 1;
	}
	/* A suffix: the last b bytes. */
	if (b == 0 || size == 0)
		return -1;
	*first = b >= size ? 0 : size - b;
	*last = size - 1;
	return 1;
}
