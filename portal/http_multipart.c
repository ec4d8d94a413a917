/*
 * http_multipart.c — the bounded multipart/form-data reader (see
 * http_multipart.h).  Runs in the portal process.  Standards: RFC 7578
 * (multipart/form-data), RFC 2046 section 5.1 (the multipart syntax), RFC
 * 8187 (filename*), RFC 9110 section 5.6 (tokens, quoted strings).
 */
#include "portal/http_multipart.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A parameter value, unquoted, at most this long (a file name as sent is
 * also held to lim->max_filename). */
#define MP_VALUE_MAX 4096

static int is_tchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_bchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/*
 * One ";" name "=" value parameter from p (up to end): the name (lower
 * case) into name, the value (unquoted) into val (MP_VALUE_MAX + 1).
 * Returns the position after it, end when there is none left, or NULL
 * when malformed.  *vlen gets the value's length (it may hold a NUL).
 */
static const char *next_param(const char *p, const char *end, char *name, size_t namesize,
			      char *val, size_t *vlen)
{
	size_t n = 0, v = 0;

	p = skip_ws(p, end);
	if (p == end)
		return end;
	if (*p++ != ';')
		return NULL;
	p = skip_ws(p, end);
	while (p < end && is_tchar((unsigned char)*p)) {
		if (n + 1 >= namesize)
			return NULL;
		name[n++] = (char)g_ascii_tolower(*p++);
	}
	name[n] = '\0';
	p = skip_ws(p, end);
	if (n == 0 || p == end || *p++ != '=')
		return NULL;
	p = skip_ws(p, end);
	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (v >= MP_VALUE_MAX || (unsigned char)*p < 0x20 || *p == 0x7f)
				return NULL;
			val[v++] = *p;
		}
		if (p == end)
			return NULL;
		p++;
	} else {
		while (p < end && is_tchar((unsigned char)*p)) {
			if (v >= MP_VALUE_MAX)
				return NULL;
			val[v++] = *p++;
		}
		if (v == 0)
			return NULL;
	}
	val[v] = '\0';
	*vlen = v;
	return p;
}

int http_multipart_boundary(const char *content_type, char out[HTTP_MP_BOUNDARY_MAX + 1])
{
	static const char type[] = "multipart/form-data";
	const char *p = content_type, *end = content_type + strlen(content_type);
	char name[32], *val = xmalloc(MP_VALUE_MAX + 1);
	size_t vlen = 0;
	int found = 0;

	out[0] = name[0] = '\0';
	p = skip_ws(p, end);
	if ((size_t)(end - p) < sizeof(type) - 1 || strncasecmp(p, type, sizeof(type) - 1) != 0)
		goto bad;
	for (p += sizeof(type) - 1; p != NULL && p < end;) {
		p = next_param(p, end, name, sizeof(name), val, &vlen);
		if (p == NULL)
			goto bad;
		if (p == end && name[0] == '\0')
			break;
		if (strcmp(name, "boundary") == 0) {
			if (found || vlen == 0 || vlen > HTTP_MP_BOUNDARY_MAX || val[vlen - 1] == ' ')
				goto bad;
			for (size_t i = 0; i < vlen; i++)
				if (!is_bchar((unsigned char)val[i]))
					goto bad;
			memcpy(out, val, vlen + 1);
			found = 1;
		}
		name[0] = '\0';
	}
	free(val);
	return found ? 0 : -1;
bad:
	free(val);
	out[0] = '\0';
	return -1;
}

/* ---- file names ---- */

/* One UTF-8 character at p (n bytes left): its code point and length, or
 * -1 when the bytes are not one valid, shortest-form character. */
static int utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0], min;
	int len;

	if (c < 0x80)
		return *cp = c, 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, c &= 0x07, min = 0x10000;
	else
		return -1;
	if ((size_t)len > n)
		return -1;
	for (int i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return len;
}

/* Characters a shown file name must not carry: controls (C0, DEL, C1),
 * direction marks, embeddings, overrides and isolates (which can make
 * "notice<RLO>fdp.exe" read as another name), line and paragraph separators,
 * and the byte order mark. */
static int dropped(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 ||
	       c == 0x2029 || c == 0xfeff;
}

int http_filename_clean(const char *in, size_t n, char out[HTTP_FILENAME_MAX + 1])
{
	const unsigned char *p = (const unsigned char *)in, *end = p + n;
	char *tmp = xmalloc(n + 1), *nfc;
	size_t o = 0, start = 0, len;

	out[0] = '\0';
	/* The last path segment only: a browser on Windows may send a whole path. */
	for (size_t i = 0; i < n; i++)
		if (in[i] == '/' || in[i] == '\\')
			start = i + 1;
	for (p += start; p < end;) {
		uint32_t c;
		int k = utf8_next(p, (size_t)(end - p), &c);
		if (k < 0) {
			tmp[o++] = '_';
			p++;
			continue;
		}
		if (!dropped(c)) {
			memcpy(tmp + o, p, (size_t)k);
			o += (size_t)k;
		}
		p += k;
	}
	tmp[o] = '\0';
	nfc = g_utf8_normalize(tmp, (gssize)o, G_NORMALIZE_NFC);
	free(tmp);
	if (nfc == NULL)
		return -1;
	/* No dots or spaces at either end: ".." and "." leave nothing, and a
	 * name cannot pass for a hidden file. */
	len = strlen(nfc);
	start = 0;
	while (start < len && (nfc[start] == '.' || nfc[start] == ' '))
		start++;
	while (len > start && (nfc[len - 1] == '.' || nfc[len - 1] == ' '))
		len--;
	if (len == start || len - start > HTTP_FILENAME_MAX) {
		g_free(nfc);
		return -1;
	}
	memcpy(out, nfc + start, len - start);
	out[len - start] = '\0';
	g_free(nfc);
	return 0;
}

/* filename*=UTF-8'lang'percent-encoded (RFC 8187) into out (n bytes
 * decoded, at most MP_VALUE_MAX): 0, or -1 when malformed or another
 * charset. */
static int ext_value(const char *v, size_t vlen, char *out, size_t *n)
{
	const char *q1 = memchr(v, '\'', vlen), *q2, *end = v + vlen;
	size_t o = 0;

	if (q1 == NULL || q1 - v != 5 || strncasecmp(v, "utf-8", 5) != 0)
		return -1;
	q2 = memchr(q1 + 1, '\'', (size_t)(end - q1 - 1));
	if (q2 == NULL)
		return -1;
	for (const char *p = q2 + 1; p < end; p++) {
		if (*p == '%') {
			int hi = p + 2 < end ? hex_value(p[1]) : -1;
			int lo = hi >= 0 ? hex_value(p[2]) : -1;
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			p += 2;
		} else if (is_tchar((unsigned char)*p)) {
			out[o++] = *p;
		} else {
			return -1;
		}
	}
	out[o] = '\0';
	*n = o;
	return 0;
}

/* ---- one part's header block ---- */

struct part_head {
	int have_disp, have_type, have_name, have_file, have_ext;
	char name[256];
	size_t name_len;
	char *file;          /* as sent (MP_VALUE_MAX + 1) */
	size_t file_len;
	char type[HTTP_MP_TYPE_MAX + 1];
};

static int parse_disposition(const char *p, const char *end, const struct http_mp_limits *lim,
			     struct part_head *h, char *val, struct error *e, size_t idx)
{
	char pname[32];
	size_t vlen = 0;
	const char *t = skip_ws(p, end);

	pname[0] = '\0';

	if ((size_t)(end - t) < 9 || strncasecmp(t, "form-data", 9) != 0 ||
	    (t + 9 < end && t[9] != ';' && t[9] != ' ' && t[9] != '\t'))
		return err_set(e, "part %zu: Content-Disposition is not form-data", idx), HTTP_MP_MALFORMED;
	for (p = t + 9; p < end;) {
		p = next_param(p, end, pname, sizeof(pname), val, &vlen);
		if (p == NULL)
			return err_set(e, "part %zu: a malformed Content-Disposition parameter", idx),
			       HTTP_MP_MALFORMED;
		if (p == end && vlen == 0 && pname[0] == '\0')
			break;
		if (strcmp(pname, "name") == 0) {
			if (h->have_name)
				return err_set(e, "part %zu: two names", idx), HTTP_MP_MALFORMED;
			if (vlen == 0 || vlen > lim->max_name || vlen >= sizeof(h->name))
				return err_set(e, "part %zu: the field name is empty or too long", idx),
				       vlen == 0 ? HTTP_MP_MALFORMED : HTTP_MP_TOO_LONG;
			memcpy(h->name, val, vlen + 1);
			h->name_len = vlen;
			h->have_name = 1;
		} else if (strcmp(pname, "filename") == 0 || strcmp(pname, "filename*") == 0) {
			int ext = pname[8] == '*';
			size_t n = vlen;
			if ((ext ? h->have_ext : h->have_file && !h->have_ext))
				return err_set(e, "part %zu: two file names", idx), HTTP_MP_MALFORMED;
			if (vlen > lim->max_filename)
				return err_set(e, "part %zu: the file name is longer than %zu bytes", idx,
					       lim->max_filename), HTTP_MP_TOO_LONG;
			if (ext && ext_value(val, vlen, val, &n) < 0)
				return err_set(e, "part %zu: a malformed filename*", idx), HTTP_MP_MALFORMED;
			/* filename* wins over filename (RFC 8187 section 4.2 via RFC 6266). */
			if (ext || !h->have_ext) {
				memcpy(h->file, val, n + 1);
				h->file_len = n;
			}
			h->have_ext |= ext;
			h->have_file = 1;
		}
		pname[0] = '\0';
		vlen = 0;
	}
	if (!h->have_name)
		return err_set(e, "part %zu: Content-Disposition without a name", idx), HTTP_MP_MALFORMED;
	return 0;
}

static int parse_type(const char *p, const char *end, struct part_head *h)
{
	size_t n = 0;
	p = skip_ws(p, end);
	while (p < end && (is_tchar((unsigned char)*p) || *p == '/')) {
		if (n >= HTTP_MP_TYPE_MAX)
			return -1;
		h->type[n++] = (char)g_ascii_tolower(*p++);
	}
	h->type[n] = '\0';
	p = skip_ws(p, end);
	return n == 0 || (p < end && *p != ';') ? -1 : 0;
}

/* The header block [p, end), lines ending in CRLF (the last one's CRLF
 * not included). */
static int parse_head(const char *p, const char *end, const struct http_mp_limits *lim,
		      struct part_head *h, char *val, struct error *e, size_t idx)
{
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2), *colon;
		int r = 0;
		if (eol == NULL)
			eol = end;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return err_set(e, "part %zu: a header line without a name", idx), HTTP_MP_MALFORMED;
		for (const char *q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return err_set(e, "part %zu: a malformed header name", idx), HTTP_MP_MALFORMED;
		for (const char *q = colon; q < eol; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t')
				return err_set(e, "part %zu: a control character in a header", idx),
				       HTTP_MP_MALFORMED;
		if (colon - p == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
			if (h->have_disp++)
				return err_set(e, "part %zu: two Content-Disposition headers", idx), HTTP_MP_MALFORMED;
			r = parse_disposition(colon + 1, eol, lim, h, val, e, idx);
		} else if (colon - p == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
			if (h->have_type++ || parse_type(colon + 1, eol, h) < 0)
				return err_set(e, "part %zu: a malformed Content-Type", idx), HTTP_MP_MALFORMED;
		} else if (colon - p == 25 && strncasecmp(p, "Content-Transfer-Encoding", 25) == 0) {
			const char *v = skip_ws(colon + 1, eol);
			size_t vn = (size_t)(eol - v);
			if (!((vn == 4 && strncasecmp(v, "7bit", 4) == 0) ||
			      (vn == 4 && strncasecmp(v, "8bit", 4) == 0) ||
			      (vn == 6 && strncasecmp(v, "binary", 6) == 0)))
				return err_set(e, "part %zu: a Content-Transfer-Encoding", idx), HTTP_MP_MALFORMED;
		}
		if (r != 0)
			return r;
		p = eol == end ? end : eol + 2;
	}
	if (!h->have_disp)
		return err_set(e, "part %zu: no Content-Disposition", idx), HTTP_MP_MALFORMED;
	return 0;
}

/* ---- the body ---- */

static int add_part(struct http_multipart *m, const struct part_head *h, const uint8_t *data,
		    size_t len, struct error *e, size_t idx)
{
	struct http_part *pt;
	char clean[HTTP_FILENAME_MAX + 1];

	if (h->have_file && h->file_len > 0 && http_filename_clean(h->file, h->file_len, clean) < 0) {
		str_copy(m->bad_field, h->name, sizeof(m->bad_field));
		return err_set(e, "part %zu (%s): the file name has nothing usable left, or is too long",
			       idx, h->name), HTTP_MP_FILENAME;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 8;
		m->parts = xrealloc(m->parts, m->cap * sizeof(*m->parts));
	}
	pt = &m->parts[m->n++];
	memset(pt, 0, sizeof(*pt));
	pt->name = xstrndup(h->name, h->name_len);
	if (h->have_file)
		pt->filename = xstrdup(h->file_len > 0 ? clean : "");
	str_copy(pt->type, h->type, sizeof(pt->type));
	pt->data = data;
	pt->len = len;
	return 0;
}

/* The part whose delimiter line starts at *pos: its header block and
 * bytes; *pos moves to the next delimiter.  1 at the close delimiter. */
static int one_part(const uint8_t *body, size_t len, size_t *pos, const char *delim, size_t dl,
		    const struct http_mp_limits *lim, struct http_multipart *m, char *val,
		    struct error *e)
{
	size_t p = *pos + dl, hstart, hend, cstart, idx = m->n + 1;
	const uint8_t *next, *hdr;
	struct part_head h;
	int r;

	if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-')
		return 1; /* the close delimiter: the epilogue is ignored */
	while (p < len && (body[p] == ' ' || body[p] == '\t'))
		p++; /* transport padding */
	if (len - p < 2 || body[p] != '\r' || body[p + 1] != '\n')
		return err_set(e, "part %zu: the delimiter line does not end in CRLF", idx), HTTP_MP_MALFORMED;
	if (m->n >= lim->max_parts)
		return err_set(e, "more than %zu parts", lim->max_parts), HTTP_MP_TOO_MANY;
	hstart = p + 2;
	if (len - hstart >= 2 && body[hstart] == '\r' && body[hstart + 1] == '\n') {
		hend = hstart; /* no header at all: refused below (no Content-Disposition) */
	} else {
		size_t span = len - hstart < lim->max_header + 4 ? len - hstart : lim->max_header + 4;
		hdr = memmem(body + hstart, span, "\r\n\r\n", 4);
		if (hdr == NULL)
			return span == len - hstart
				       ? (err_set(e, "part %zu: the header block does not end", idx), HTTP_MP_MALFORMED)
				       : (err_set(e, "part %zu: the header block is over %zu bytes", idx,
						  lim->max_header), HTTP_MP_TOO_LONG);
		hend = (size_t)(hdr - body);
	}
	if (hend - hstart > lim->max_header)
		return err_set(e, "part %zu: the header block is over %zu bytes", idx, lim->max_header),
		       HTTP_MP_TOO_LONG;
	memset(&h, 0, sizeof(h));
	h.file = val + MP_VALUE_MAX + 1;
	r = parse_head((const char *)body + hstart, (const char *)body + hend, lim, &h, val, e, idx);
	if (r != 0)
		return r;
	cstart = hend == hstart ? hstart + 2 : hend + 4;
	/* The part ends at CRLF and the next delimiter. */
	next = memmem(body + cstart, len - cstart, delim - 2, dl + 2);
	if (next == NULL)
		return err_set(e, "part %zu: no delimiter after it (the body is cut short)", idx),
		       HTTP_MP_MALFORMED;
	r = add_part(m, &h, body + cstart, (size_t)(next - body) - cstart, e, idx);
	*pos = (size_t)(next - body) + 2;
	return r;
}

int http_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
			 const struct http_mp_limits *lim, struct http_multipart *out,
			 struct error *e)
{
	char boundary[HTTP_MP_BOUNDARY_MAX + 1], delim[HTTP_MP_BOUNDARY_MAX + 5];
	char *val = xmalloc(2 * (MP_VALUE_MAX + 1));
	size_t dl, pos;
	int r;

	if (http_multipart_boundary(content_type, boundary) < 0) {
		free(val);
		return err_set(e, "not multipart/form-data with a valid boundary"), HTTP_MP_MALFORMED;
	}
	/* delim + 2 is "--boundary"; delim itself "\r\n--boundary" */
	dl = (size_t)str_fmt(delim, sizeof(delim), "\r\n--%s", boundary) - 2;
	if (len >= dl && memcmp(body, delim + 2, dl) == 0) {
		pos = 0;
	} else {
		/* A preamble (RFC 2046), which browsers do not send, is skipped. */
		const uint8_t *first = memmem(body, len, delim, dl + 2);
		if (first == NULL) {
			free(val);
			return err_set(e, "no delimiter line"), HTTP_MP_MALFORMED;
		}
		pos = (size_t)(first - body) + 2;
	}
	do
		r = one_part(body, len, &pos, delim + 2, dl, lim, out, val, e);
	while (r == 0);
	free(val);
	return r == 1 ? 0 : r;
}

void http_multipart_free(struct http_multipart *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->parts[i].name);
		free(m->parts[i].filename);
	}
	free(m->parts);
	memset(m, 0, sizeof(*m));
}

const struct http_part *http_multipart_get(const struct http_multipart *m, const char *name,
					   size_t i)
{
	for (size_t k = 0; k < m->n; k++)
		if (strcmp(m->parts[k].name, name) == 0 && i-- == 0)
			return &m->parts[k];
	return NULL;
}
