/*
 * pdf_decode.c — PDF stream filters undone with a cap on the output (see
 * pdf_decode.h).  Runs in the gateway process and in `tayori pdf split`,
 * on attacker-influenced input: every output byte goes through one
 * counting sink, which refuses the byte past the cap.
 * Standards: ISO 32000-1 §7.3.8, §7.4.2-7.4.5 (ASCIIHex, ASCII85, LZW,
 * Flate, RunLength), §7.4.4.4 (predictors); RFC 1950, RFC 1951; PNG §6;
 * TIFF 6.0 §14.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "lib/util.h"
#include "pdf/pdf_decode.h"

/* Inflate output is taken in windows of this size. */
#define WIN 65536
/* Bounds on /DecodeParms: rows stay far below any cap we accept. */
#define COLORS_MAX  32
#define COLUMNS_MAX (1 << 20)

static struct pdf_limits limits = {
	PDF_STREAM_MAX_DEFAULT, PDF_PAGE_DECODED_DEFAULT, PDF_DECODED_DEFAULT,
};

void pdf_limits_set(const struct pdf_limits *l)
{
	limits.stream_max = l->stream_max ? l->stream_max : PDF_STREAM_MAX_DEFAULT;
	limits.page_max = l->page_max ? l->page_max : PDF_PAGE_DECODED_DEFAULT;
	limits.doc_max = l->doc_max ? l->doc_max : PDF_DECODED_DEFAULT;
}

void pdf_limits_get(struct pdf_limits *l)
{
	*l = limits;
}

const char *pdf_size_text(size_t n, char *out, size_t outsize)
{
	if (n >= ((size_t)1 << 30) && n % ((size_t)1 << 30) == 0)
		str_fmt(out, outsize, "%zu GB", n >> 30);
	else if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
		str_fmt(out, outsize, "%zu MB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		str_fmt(out, outsize, "%zu KB", n >> 10);
	else
		str_fmt(out, outsize, "%zu bytes", n);
	return out;
}

struct pdf_decoder {
	z_stream z;
	int z_ready;
	uint8_t *win;            /* [WIN] inflate output */
	struct buf stage[2];     /* outputs between the filters of a chain */
	struct buf pred;         /* a filter's output before its predictor */
	uint8_t *rows;           /* two rows for the predictors */
	size_t rows_cap;
	/* LZW table */
	uint16_t prefix[4096];
	uint16_t lens[4096];
	uint8_t suffix[4096], first[4096];
	uint8_t stack[4096];
};

struct pdf_decoder *pdf_decoder_new(void)
{
	struct pdf_decoder *d = xcalloc(1, sizeof *d);
	d->win = xmalloc(WIN);
	buf_init(&d->stage[0], SIZE_MAX / 2);
	buf_init(&d->stage[1], SIZE_MAX / 2);
	buf_init(&d->pred, SIZE_MAX / 2);
	return d;
}

void pdf_decoder_free(struct pdf_decoder **dp)
{
	struct pdf_decoder *d;

	if (!dp || !*dp)
		return;
	d = *dp;
	if (d->z_ready)
		inflateEnd(&d->z);
	free(d->win);
	buf_free(&d->stage[0]);
	buf_free(&d->stage[1]);
	buf_free(&d->pred);
	free(d->rows);
	free(d);
	*dp = NULL;
}

/* Where a filter's output goes: a buffer, or nowhere (counting). */
struct sink {
	struct buf *b;
	size_t n, max;
};

static int sink_put(struct sink *s, const uint8_t *p, size_t n)
{
	if (n > s->max - s->n) {
		s->n = s->max;
		return -1;
	}
	if (s->b && buf_append(s->b, p, n) < 0)
		return -1;
	s->n += n;
	return 0;
}

/* ---- FlateDecode (RFC 1950 zlib stream) ---- */

static int do_flate(struct pdf_decoder *d, const uint8_t *in, size_t len, struct sink *s)
{
	z_stream *z = &d->z;
	size_t off = 0;

	if (!d->z_ready) {
		memset(z, 0, sizeof *z);
		if (inflateInit(z) != Z_OK)
			return PDF_DECODE_BAD;
		d->z_ready = 1;
	} else if (inflateReset(z) != Z_OK) {
		return PDF_DECODE_BAD;
	}
	z->avail_in = 0;
	for (;;) {
		size_t got;
		int zr;

		if (z->avail_in == 0 && off < len) {
			size_t n = len - off > UINT_MAX ? UINT_MAX : len - off;
			z->next_in = (Bytef *)(uintptr_t)(in + off);
			z->avail_in = (uInt)n;
			off += n;
		}
		z->next_out = d->win;
		z->avail_out = WIN;
		zr = inflate(z, Z_NO_FLUSH);
		got = WIN - z->avail_out;
		if (got > 0 && sink_put(s, d->win, got) < 0)
			return PDF_DECODE_LIMIT;
		if (zr == Z_STREAM_END)
			return PDF_DECODE_OK;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && z->avail_in == 0 && off >= len)
			return PDF_DECODE_OK; /* cut short: what there is, as readers do */
		return PDF_DECODE_BAD;
	}
}

/* ---- LZWDecode (§7.4.4) ---- */

static int do_lzw(struct pdf_decoder *d, const uint8_t *in, size_t len, int early,
		  struct sink *s)
{
	uint32_t bitbuf = 0;
	int bits = 0, width = 9, next = 258, prev = -1;
	size_t i = 0;

	for (int c = 0; c < 256; c++) {
		d->suffix[c] = d->first[c] = (uint8_t)c;
		d->lens[c] = 1;
		d->prefix[c] = 0;
	}
	for (;;) {
		int code, c;
		size_t n;

		while (bits < width) {
			if (i >= len)
				return PDF_DECODE_OK;
			bitbuf = bitbuf << 8 | in[i++];
			bits += 8;
		}
		code = (int)(bitbuf >> (bits - width)) & ((1 << width) - 1);
		bits -= width;
		if (code == 256) {
			next = 258;
			width = 9;
			prev = -1;
			continue;
		}
		if (code == 257)
			return PDF_DECODE_OK;
		if (prev < 0) {
			uint8_t b = (uint8_t)code;
			if (code > 255)
				return PDF_DECODE_BAD;
			if (sink_put(s, &b, 1) < 0)
				return PDF_DECODE_LIMIT;
			prev = code;
			continue;
		}
		if (code > next || (code == next && next >= 4096))
			return PDF_DECODE_BAD;
		if (next < 4096) {
			/* The new entry: prev's string and the first byte of
			 * code's (prev's own when code is the entry itself). */
			d->prefix[next] = (uint16_t)prev;
			d->suffix[next] = code == next ? d->first[prev] : d->first[code];
			d->first[next] = d->first[prev];
			d->lens[next] = (uint16_t)(d->lens[prev] + 1);
			next++;
		}
		n = d->lens[code];
		c = code;
		for (size_t k = n; k > 0; k--) {
			d->stack[k - 1] = d->suffix[c];
			c = d->prefix[c];
		}
		if (sink_put(s, d->stack, n) < 0)
			return PDF_DECODE_LIMIT;
		prev = code;
		if (next + early >= (1 << width) && width < 12)
			width++;
	}
}

/* ---- ASCIIHexDecode, ASCII85Decode, RunLengthDecode ---- */

static int pdf_white(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

static int do_ahx(const uint8_t *in, size_t len, struct sink *s)
{
	uint8_t out[256];
	size_t n = 0;
	int hi = -1;

	for (size_t i = 0; i < len && in[i] != '>'; i++) {
		int v = hex_value(in[i]);
		if (v < 0) {
			if (pdf_white(in[i]))
				continue;
			return PDF_DECODE_BAD;
		}
		if (hi < 0) {
			hi = v;
			continue;
		}
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
		if (n == sizeof out) {
			if (sink_put(s, out, n) < 0)
				return PDF_DECODE_LIMIT;
			n = 0;
		}
	}
	if (hi >= 0)
		out[n++] = (uint8_t)(hi << 4);
	if (n > 0 && sink_put(s, out, n) < 0)
		return PDF_DECODE_LIMIT;
	return PDF_DECODE_OK;
}

static int a85_group(const uint8_t *g, int k, struct sink *s)
{
	uint64_t v = 0;
	uint8_t out[4];

	for (int j = 0; j < 5; j++)
		v = v * 85 + (uint64_t)(j < k ? g[j] - '!' : 'u' - '!');
	if (v > 0xFFFFFFFFu)
		return PDF_DECODE_BAD;
	be32_put(out, (uint32_t)v);
	if (sink_put(s, out, (size_t)k - 1) < 0)
		return PDF_DECODE_LIMIT;
	return PDF_DECODE_OK;
}

static int do_a85(const uint8_t *in, size_t len, struct sink *s)
{
	static const uint8_t zeros[4];
	uint8_t g[5];
	int k = 0, rc;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (pdf_white(c))
			continue;
		if (c == '~')
			break;
		if (c == 'z' && k == 0) {
			if (sink_put(s, zeros, 4) < 0)
				return PDF_DECODE_LIMIT;
			continue;
		}
		if (c < '!' || c > 'u')
			return PDF_DECODE_BAD;
		g[k++] = c;
		if (k == 5) {
			if ((rc = a85_group(g, 5, s)) != PDF_DECODE_OK)
				return rc;
			k = 0;
		}
	}
	if (k == 1)
		return PDF_DECODE_BAD;
	if (k > 1)
		return a85_group(g, k, s);
	return PDF_DECODE_OK;
}

static int do_rl(const uint8_t *in, size_t len, struct sink *s)
{
	uint8_t run[128];
	size_t i = 0;

	while (i < len) {
		unsigned l = in[i++];
		if (l == 128)
			break;
		if (l < 128) {
			size_t n = (size_t)l + 1;
			if (n > len - i)
				n = len - i;
			if (sink_put(s, in + i, n) < 0)
				return PDF_DECODE_LIMIT;
			i += n;
		} else {
			if (i >= len)
				break;
			memset(run, in[i++], 257 - l);
			if (sink_put(s, run, 257 - l) < 0)
				return PDF_DECODE_LIMIT;
		}
	}
	return PDF_DECODE_OK;
}

/* ---- Predictors (§7.4.4.4) ---- */

static int paeth(int a, int b, int c)
{
	int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
	if (pa <= pb && pa <= pc)
		return a;
	return pb <= pc ? b : c;
}

static int unpredict(struct pdf_decoder *d, const struct pdf_filter *f, const uint8_t *in,
		     size_t len, struct sink *s)
{
	size_t bits = (size_t)f->colors * (size_t)f->bpc;
	size_t rowlen = (bits * (size_t)f->columns + 7) / 8;
	size_t bpp = (bits + 7) / 8;
	size_t room = rowlen < len ? rowlen : len;
	uint8_t *prev, *cur;
	size_t i = 0;

	if (len == 0)
		return PDF_DECODE_OK;
	if (d->rows_cap < 2 * room) {
		free(d->rows);
		d->rows = xmalloc(2 * room);
		d->rows_cap = 2 * room;
	}
	prev = d->rows;
	cur = d->rows + room;
	memset(prev, 0, room);

	if (f->predictor == 2) {
		/* TIFF: each sample less the one before it in the row. */
		if (f->bpc != 8 && f->bpc != 16)
			return PDF_DECODE_UNSUPPORTED;
		while (i < len) {
			size_t n = len - i < rowlen ? len - i : rowlen;
			memcpy(cur, in + i, n);
			if (f->bpc == 8) {
				for (size_t j = (size_t)f->colors; j < n; j++)
					cur[j] = (uint8_t)(cur[j] + cur[j - (size_t)f->colors]);
			} else {
				size_t step = 2 * (size_t)f->colors;
				for (size_t j = step; j + 1 < n; j += 2) {
					unsigned v = ((unsigned)cur[j] << 8 | cur[j + 1]) +
						     ((unsigned)cur[j - step] << 8 | cur[j - step + 1]);
					cur[j] = (uint8_t)(v >> 8);
					cur[j + 1] = (uint8_t)v;
				}
			}
			if (sink_put(s, cur, n) < 0)
				return PDF_DECODE_LIMIT;
			i += n;
		}
		return PDF_DECODE_OK;
	}

	/* PNG: a filter-type byte before each row. */
	while (i < len) {
		unsigned type = in[i++];
		size_t n = len - i < rowlen ? len - i : rowlen;
		const uint8_t *r = in + i;

		if (n > room)
			n = room;
		for (size_t j = 0; j < n; j++) {
			int a = j >= bpp ? cur[j - bpp] : 0, b = prev[j], c = j >= bpp ? prev[j - bpp] : 0;
			switch (type) {
			case 0: cur[j] = r[j]; break;
			case 1: cur[j] = (uint8_t)(r[j] + a); break;
			case 2: cur[j] = (uint8_t)(r[j] + b); break;
			case 3: cur[j] = (uint8_t)(r[j] + ((a + b) >> 1)); break;
			case 4: cur[j] = (uint8_t)(r[j] + paeth(a, b, c)); break;
			default: return PDF_DECODE_BAD;
			}
		}
		if (sink_put(s, cur, n) < 0)
			return PDF_DECODE_LIMIT;
		i += n;
		{
			uint8_t *t = prev;
			prev = cur;
			cur = t;
		}
	}
	return PDF_DECODE_OK;
}

/* ---- Chains ---- */

static int one_filter(struct pdf_decoder *d, const struct pdf_filter *f, const uint8_t *in,
		      size_t len, struct sink *s)
{
	switch (f->kind) {
	case PDF_F_FLATE: return do_flate(d, in, len, s);
	case PDF_F_LZW:   return do_lzw(d, in, len, f->early_change, s);
	case PDF_F_AHX:   return do_ahx(in, len, s);
	case PDF_F_A85:   return do_a85(in, len, s);
	case PDF_F_RL:    return do_rl(in, len, s);
	}
	return PDF_DECODE_UNSUPPORTED;
}

/* One filter with its predictor, if any. */
static int filter_step(struct pdf_decoder *d, const struct pdf_filter *f, const uint8_t *in,
		       size_t len, struct sink *s)
{
	struct sink raw;
	int rc;

	if ((f->kind != PDF_F_FLATE && f->kind != PDF_F_LZW) || f->predictor <= 1)
		return one_filter(d, f, in, len, s);
	if (f->predictor != 2 && (f->predictor < 10 || f->predictor > 15))
		return PDF_DECODE_UNSUPPORTED;
	/* The rows before the predictor: at most one tag byte per row
	 * more than what the cap lets through. */
	buf_reset(&d->pred);
	raw.b = &d->pred;
	raw.n = 0;
	raw.max = s->max - s->n > SIZE_MAX / 4 ? SIZE_MAX / 2 : 2 * (s->max - s->n) + 64;
	rc = one_filter(d, f, in, len, &raw);
	if (rc != PDF_DECODE_OK)
		return rc;
	return unpredict(d, f, d->pred.data, d->pred.len, s);
}

/* Buffers between filters are kept for the next stream while small;
 * a large one is given back, so that a thread holds at most one
 * stream's worth when it is not decoding. */
#define KEEP_MAX ((size_t)4 << 20)

static void shrink(struct pdf_decoder *d)
{
	for (int i = 0; i < 2; i++)
		if (d->stage[i].cap > KEEP_MAX)
			buf_free(&d->stage[i]);
	if (d->pred.cap > KEEP_MAX)
		buf_free(&d->pred);
	if (d->rows_cap > KEEP_MAX) {
		free(d->rows);
		d->rows = NULL;
		d->rows_cap = 0;
	}
}

int pdf_decode(struct pdf_decoder *d, const uint8_t *data, size_t len,
	       const struct pdf_filter *f, size_t nf, size_t max, struct buf *out,
	       size_t *outlen)
{
	const uint8_t *in = data;
	size_t inlen = len;
	struct sink s;
	int rc = PDF_DECODE_OK;

	if (outlen)
		*outlen = 0;
	if (out)
		buf_reset(out);
	if (nf > PDF_FILTERS_MAX)
		return PDF_DECODE_UNSUPPORTED;
	if (nf == 0) {
		s.b = out;
		s.n = 0;
		s.max = max;
		if (sink_put(&s, data, len) < 0)
			rc = PDF_DECODE_LIMIT;
		if (outlen)
			*outlen = s.n;
		return rc;
	}
	for (size_t i = 0; i < nf; i++) {
		int last = i + 1 == nf;
		struct buf *st = &d->stage[i % 2];

		if (!last)
			buf_reset(st);
		s.b = last ? out : st;
		s.n = 0;
		s.max = max; /* between filters too */
		rc = filter_step(d, &f[i], in, inlen, &s);
		if (last || rc != PDF_DECODE_OK)
			shrink(d);
		if (rc != PDF_DECODE_OK) {
			/* how far the output got: nowhere when an earlier
			 * filter stopped */
			if (rc == PDF_DECODE_LIMIT && last && outlen)
				*outlen = s.n;
			return rc;
		}
		in = st->data ? st->data : (const uint8_t *)"";
		inlen = st->len;
	}
	if (outlen)
		*outlen = s.n;
	return PDF_DECODE_OK;
}

/* ---- From qpdf's objects ---- */

static int filter_kind(const char *name, enum pdf_filter_kind *k)
{
	static const struct { const char *name; enum pdf_filter_kind k; } names[] = {
		{ "/FlateDecode", PDF_F_FLATE }, { "/Fl", PDF_F_FLATE },
		{ "/LZWDecode", PDF_F_LZW }, { "/LZW", PDF_F_LZW },
		{ "/ASCIIHexDecode", PDF_F_AHX }, { "/AHx", PDF_F_AHX },
		{ "/ASCII85Decode", PDF_F_A85 }, { "/A85", PDF_F_A85 },
		{ "/RunLengthDecode", PDF_F_RL }, { "/RL", PDF_F_RL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i].name) == 0) {
			*k = names[i].k;
			return 0;
		}
	return -1;
}

static int int_param(qpdf_data q, qpdf_oh parms, const char *key, int def, int lo, int hi,
		     int *out)
{
	qpdf_oh v = qpdf_oh_get_key_if_dict(q, parms, key);
	long long x;

	if (qpdf_oh_is_null(q, v)) {
		*out = def;
		return 0;
	}
	if (!qpdf_oh_is_integer(q, v))
		return -1;
	x = qpdf_oh_get_int_value(q, v);
	if (x < lo || x > hi)
		return -1;
	*out = (int)x;
	return 0;
}

static int parse_parms(qpdf_data q, qpdf_oh parms, struct pdf_filter *f)
{
	f->predictor = 1;
	f->colors = 1;
	f->bpc = 8;
	f->columns = 1;
	f->early_change = 1;
	if (!qpdf_oh_is_dictionary(q, parms))
		return PDF_DECODE_OK;
	if (int_param(q, parms, "/Predictor", 1, 0, 15, &f->predictor) < 0 ||
	    int_param(q, parms, "/Colors", 1, 1, COLORS_MAX, &f->colors) < 0 ||
	    int_param(q, parms, "/BitsPerComponent", 8, 1, 16, &f->bpc) < 0 ||
	    int_param(q, parms, "/Columns", 1, 1, COLUMNS_MAX, &f->columns) < 0 ||
	    int_param(q, parms, "/EarlyChange", 1, 0, 1, &f->early_change) < 0)
		return PDF_DECODE_BAD;
	if (f->bpc != 1 && f->bpc != 2 && f->bpc != 4 && f->bpc != 8 && f->bpc != 16)
		return PDF_DECODE_BAD;
	return PDF_DECODE_OK;
}

int pdf_filters_of(qpdf_data q, qpdf_oh dict, struct pdf_filter *f, size_t *nf)
{
	qpdf_oh filter = qpdf_oh_get_key_if_dict(q, dict, "/Filter");
	qpdf_oh parms = qpdf_oh_get_key_if_dict(q, dict, "/DecodeParms");
	int n;

	*nf = 0;
	if (qpdf_oh_is_null(q, filter))
		return PDF_DECODE_OK;
	if (qpdf_oh_is_name(q, filter)) {
		if (filter_kind(qpdf_oh_get_name(q, filter), &f[0].kind) < 0)
			return PDF_DECODE_UNSUPPORTED;
		if (qpdf_oh_is_array(q, parms))
			parms = qpdf_oh_get_array_item(q, parms, 0);
		*nf = 1;
		return parse_parms(q, parms, &f[0]);
	}
	if (!qpdf_oh_is_array(q, filter))
		return PDF_DECODE_BAD;
	n = qpdf_oh_get_array_n_items(q, filter);
	if (n > PDF_FILTERS_MAX)
		return PDF_DECODE_UNSUPPORTED;
	for (int i = 0; i < n; i++) {
		qpdf_oh fi = qpdf_oh_get_array_item(q, filter, i);
		qpdf_oh pi = qpdf_oh_is_array(q, parms) ? qpdf_oh_get_array_item(q, parms, i) :
			     i == 0 ? parms : qpdf_oh_new_null(q);
		int rc;
		if (!qpdf_oh_is_name(q, fi))
			return PDF_DECODE_BAD;
		if (filter_kind(qpdf_oh_get_name(q, fi), &f[i].kind) < 0)
			return PDF_DECODE_UNSUPPORTED;
		if ((rc = parse_parms(q, pi, &f[i])) != PDF_DECODE_OK)
			return rc;
	}
	*nf = (size_t)n;
	return PDF_DECODE_OK;
}

int pdf_stream_decode(struct pdf_decoder *d, qpdf_data q, qpdf_oh s, size_t max,
		      struct buf *out, size_t *outlen)
{
	struct pdf_filter f[PDF_FILTERS_MAX];
	unsigned char *raw = NULL;
	size_t nf = 0, rawlen = 0;
	int rc;

	if (outlen)
		*outlen = 0;
	if (out)
		buf_reset(out);
	if (!qpdf_oh_is_stream(q, s))
		return PDF_DECODE_BAD;
	rc = pdf_filters_of(q, qpdf_oh_get_dict(q, s), f, &nf);
	if (rc != PDF_DECODE_OK)
		return rc;
	if (qpdf_oh_get_stream_data(q, s, qpdf_dl_none, NULL, &raw, &rawlen) & QPDF_ERRORS) {
		free(raw);
		return PDF_DECODE_BAD;
	}
	rc = pdf_decode(d, raw, rawlen, f, nf, max, out, outlen);
	free(raw);
	return rc;
}

/* ---- Object and cross-reference streams, before qpdf reads them ---- */

/*
 * qpdf decodes object streams (§7.5.7) and cross-reference streams
 * (§7.5.8) itself, whole, when it opens a file or resolves an object kept
 * in one.  So those are found in the bytes first: every "N G obj" whose
 * dictionary has /N and /First (what qpdf needs to read an object stream)
 * or /W or /Type /XRef or /ObjStm, followed by stream data, is decoded
 * here, counting only.  The dictionary is read forward from the object's
 * header with a small lexer, as qpdf reads an object at its offset.
 */

#define SCAN_DEPTH 32

struct rlex {
	const uint8_t *p, *end;
};

enum rtok { R_EOF, R_NUM, R_NAME, R_STR, R_DOPEN, R_DCLOSE, R_AOPEN, R_ACLOSE, R_KW };

struct rtoken {
	enum rtok t;
	long long num;
	int integer;
	char name[64];  /* names (#xx decoded, cut), keywords */
};

static int r_delim(uint8_t c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' ||
	       c == '}' || c == '/' || c == '%';
}

static void r_next(struct rlex *l, struct rtoken *t)
{
	const uint8_t *p = l->p, *e = l->end;
	size_t n = 0;

	t->t = R_EOF;
	t->name[0] = '\0';
	for (;;) {
		while (p < e && pdf_white(*p))
			p++;
		if (p < e && *p == '%') {
			while (p < e && *p != '\n' && *p != '\r')
				p++;
			continue;
		}
		break;
	}
	if (p >= e) {
		l->p = p;
		return;
	}
	if (*p == '(') {
		int depth = 0;
		for (; p < e; p++) {
			if (*p == '\\') {
				p++;
			} else if (*p == '(') {
				depth++;
			} else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
		t->t = R_STR;
	} else if (*p == '<' && p + 1 < e && p[1] == '<') {
		p += 2;
		t->t = R_DOPEN;
	} else if (*p == '>' && p + 1 < e && p[1] == '>') {
		p += 2;
		t->t = R_DCLOSE;
	} else if (*p == '<') {
		while (p < e && *p != '>')
			p++;
		p += p < e;
		t->t = R_STR;
	} else if (*p == '[' || *p == ']') {
		t->t = *p++ == '[' ? R_AOPEN : R_ACLOSE;
	} else if (*p == '/') {
		t->name[n++] = '/';
		for (p++; p < e && !pdf_white(*p) && !r_delim(*p); p++) {
			uint8_t c = *p;
			if (c == '#' && p + 2 < e && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
				c = (uint8_t)(hex_value(p[1]) << 4 | hex_value(p[2]));
				p += 2;
			}
			if (n + 1 < sizeof t->name)
				t->name[n++] = (char)c;
		}
		t->name[n] = '\0';
		t->t = R_NAME;
	} else if (r_delim(*p)) {
		p++;
		t->t = R_KW; /* a stray delimiter: nothing we look for */
	} else {
		const uint8_t *s = p;
		int digits = 1, neg = 0;
		long long v = 0;
		while (p < e && !pdf_white(*p) && !r_delim(*p)) {
			if (n + 1 < sizeof t->name)
				t->name[n++] = (char)*p;
			p++;
		}
		t->name[n] = '\0';
		if (s < p && (*s == '+' || *s == '-'))
			neg = *s++ == '-';
		if (s == p)
			digits = 0;
		for (const uint8_t *q = s; q < p && digits; q++) {
			if (*q < '0' || *q > '9')
				digits = 0;
			else if (v < 1000000000000LL)
				v = v * 10 + (*q - '0');
		}
		if (digits) {
			t->t = R_NUM;
			t->num = neg ? -v : v;
			t->integer = 1;
		} else {
			t->t = R_KW;
		}
	}
	l->p = p;
}

/* What a value is, as far as the scan cares. */
enum rval { V_OTHER, V_INT, V_NAME, V_REF, V_ARRAY, V_DICT, V_BAD };

/* Skip the rest of an array or dictionary opened before l. */
static int r_skip_open(struct rlex *l, enum rtok close, int depth)
{
	struct rtoken t;
	if (depth > SCAN_DEPTH)
		return -1;
	for (;;) {
		r_next(l, &t);
		if (t.t == R_EOF)
			return -1;
		if (t.t == close)
			return 0;
		if (t.t == R_DOPEN && r_skip_open(l, R_DCLOSE, depth + 1) < 0)
			return -1;
		if (t.t == R_AOPEN && r_skip_open(l, R_ACLOSE, depth + 1) < 0)
			return -1;
		if (t.t == R_DCLOSE || t.t == R_ACLOSE)
			return -1;
	}
}

/* One value after a key; an integer followed by "G R" is a reference. */
static enum rval r_value(struct rlex *l, struct rtoken *t)
{
	r_next(l, t);
	switch (t->t) {
	case R_NUM: {
		struct rlex save = *l;
		struct rtoken a, b;
		r_next(l, &a);
		r_next(l, &b);
		if (a.t == R_NUM && b.t == R_KW && strcmp(b.name, "R") == 0)
			return V_REF;
		*l = save;
		return V_INT;
	}
	case R_NAME: return V_NAME;
	case R_DOPEN: return V_DICT;
	case R_AOPEN: return V_ARRAY;
	case R_STR: case R_KW: return V_OTHER;
	default: return V_BAD;
	}
}

/* A /DecodeParms dictionary (opened) into f. */
static int r_parms(struct rlex *l, struct pdf_filter *f)
{
	struct rtoken k, v;
	f->predictor = 1;
	f->colors = 1;
	f->bpc = 8;
	f->columns = 1;
	f->early_change = 1;
	for (;;) {
		enum rval rv;
		r_next(l, &k);
		if (k.t == R_DCLOSE)
			break;
		if (k.t != R_NAME)
			return PDF_DECODE_BAD;
		rv = r_value(l, &v);
		if (rv == V_DICT || rv == V_ARRAY) {
			if (r_skip_open(l, rv == V_DICT ? R_DCLOSE : R_ACLOSE, 1) < 0)
				return PDF_DECODE_BAD;
			continue;
		}
		if (rv == V_REF)
			return PDF_DECODE_UNSUPPORTED;
		if (rv != V_INT)
			continue;
		if (strcmp(k.name, "/Predictor") == 0 && v.num >= 0 && v.num <= 15)
			f->predictor = (int)v.num;
		else if (strcmp(k.name, "/Colors") == 0 && v.num >= 1 && v.num <= COLORS_MAX)
			f->colors = (int)v.num;
		else if (strcmp(k.name, "/BitsPerComponent") == 0 &&
			 (v.num == 1 || v.num == 2 || v.num == 4 || v.num == 8 || v.num == 16))
			f->bpc = (int)v.num;
		else if (strcmp(k.name, "/Columns") == 0 && v.num >= 1 && v.num <= COLUMNS_MAX)
			f->columns = (int)v.num;
		else if (strcmp(k.name, "/EarlyChange") == 0 && (v.num == 0 || v.num == 1))
			f->early_change = (int)v.num;
		else if (strcmp(k.name, "/Predictor") == 0 || strcmp(k.name, "/Colors") == 0 ||
			 strcmp(k.name, "/BitsPerComponent") == 0 || strcmp(k.name, "/Columns") == 0 ||
			 strcmp(k.name, "/EarlyChange") == 0)
			return PDF_DECODE_BAD;
	}
	return PDF_DECODE_OK;
}

struct rstream {
	int objstm, xref;        /* /N and /First; /Type /ObjStm or /XRef */
	int xrefw;               /* /W or /Type /XRef */
	int have_n, have_first;
	long long length;        /* direct /Length, or -1 */
	struct pdf_filter f[PDF_FILTERS_MAX];
	size_t nf;
	int filters_rc;          /* pdf_decode_rc of reading /Filter, /DecodeParms */
};

/* The stream dictionary after "obj", up to and including "stream".
 * 0 when it is one, -1 otherwise. */
static int r_stream_dict(struct rlex *l, struct rstream *s)
{
	struct rtoken k, v;
	int nparms = 0;
	struct pdf_filter parms[PDF_FILTERS_MAX];

	memset(s, 0, sizeof *s);
	s->length = -1;
	r_next(l, &k);
	if (k.t != R_DOPEN)
		return -1;
	for (;;) {
		enum rval rv;
		r_next(l, &k);
		if (k.t == R_DCLOSE)
			break;
		if (k.t != R_NAME)
			return -1;
		rv = r_value(l, &v);
		if (rv == V_BAD)
			return -1;
		if (strcmp(k.name, "/Filter") == 0) {
			if (rv == V_NAME) {
				if (filter_kind(v.name, &s->f[0].kind) < 0)
					s->filters_rc = PDF_DECODE_UNSUPPORTED;
				s->nf = 1;
			} else if (rv == V_ARRAY) {
				for (;;) {
					r_next(l, &v);
					if (v.t == R_ACLOSE)
						break;
					if (v.t != R_NAME || s->nf >= PDF_FILTERS_MAX) {
						s->filters_rc = PDF_DECODE_UNSUPPORTED;
						if (v.t == R_EOF)
							return -1;
						continue;
					}
					if (filter_kind(v.name, &s->f[s->nf].kind) < 0)
						s->filters_rc = PDF_DECODE_UNSUPPORTED;
					s->nf++;
				}
			} else if (rv == V_REF) {
				s->filters_rc = PDF_DECODE_UNSUPPORTED;
			}
			continue;
		}
		if (strcmp(k.name, "/DecodeParms") == 0 || strcmp(k.name, "/DP") == 0) {
			if (rv == V_DICT) {
				int rc = r_parms(l, &parms[0]);
				if (rc != PDF_DECODE_OK)
					s->filters_rc = rc;
				nparms = 1;
			} else if (rv == V_ARRAY) {
				for (;;) {
					r_next(l, &v);
					if (v.t == R_ACLOSE || v.t == R_EOF)
						break;
					if (v.t == R_DOPEN && nparms < PDF_FILTERS_MAX) {
						int rc = r_parms(l, &parms[nparms++]);
						if (rc != PDF_DECODE_OK)
							s->filters_rc = rc;
					} else if (v.t == R_KW && strcmp(v.name, "null") == 0 &&
						   nparms < PDF_FILTERS_MAX) {
						parms[nparms].predictor = 1;
						parms[nparms].early_change = 1;
						parms[nparms].colors = parms[nparms].columns = 1;
						parms[nparms++].bpc = 8;
					} else {
						s->filters_rc = PDF_DECODE_UNSUPPORTED;
						if (v.t == R_DOPEN && r_skip_open(l, R_DCLOSE, 1) < 0)
							return -1;
					}
				}
			} else if (rv == V_REF) {
				s->filters_rc = PDF_DECODE_UNSUPPORTED;
			}
			continue;
		}
		if (rv == V_DICT || rv == V_ARRAY) {
			if (strcmp(k.name, "/W") == 0)
				s->xrefw = 1;
			if (r_skip_open(l, rv == V_DICT ? R_DCLOSE : R_ACLOSE, 1) < 0)
				return -1;
			continue;
		}
		if (strcmp(k.name, "/N") == 0)
			s->have_n = 1;
		else if (strcmp(k.name, "/First") == 0)
			s->have_first = 1;
		else if (strcmp(k.name, "/Length") == 0 && rv == V_INT && v.num >= 0)
			s->length = v.num;
		else if (strcmp(k.name, "/Type") == 0 && rv == V_NAME && strcmp(v.name, "/XRef") == 0)
			s->xrefw = 1;
		else if (strcmp(k.name, "/Type") == 0 && rv == V_NAME && strcmp(v.name, "/ObjStm") == 0)
			s->xref = 1;
	}
	s->objstm = s->have_n && s->have_first;
	for (size_t i = 0; i < s->nf; i++) {
		enum pdf_filter_kind kind = s->f[i].kind;
		if ((int)i < nparms)
			s->f[i] = parms[i];
		else {
			s->f[i].predictor = s->f[i].colors = s->f[i].columns = 1;
			s->f[i].bpc = 8;
			s->f[i].early_change = 1;
		}
		s->f[i].kind = kind;
	}
	r_next(l, &k);
	if (k.t != R_KW || strcmp(k.name, "stream") != 0)
		return -1;
	/* the data starts after CRLF or LF (§7.3.8.1); qpdf takes a lone CR */
	if (l->p < l->end && *l->p == '\r')
		l->p++;
	if (l->p < l->end && *l->p == '\n')
		l->p++;
	return 0;
}

/* Where "obj" preceded by "N G " starts an object: its number, or -1. */
static long long obj_number(const uint8_t *data, size_t at)
{
	size_t i = at;
	long long num = 0, mul = 1;
	int gen_digits = 0, num_digits = 0;

	if (at == 0 || !pdf_white(data[at - 1]))
		return -1;
	while (i > 0 && pdf_white(data[i - 1]))
		i--;
	while (i > 0 && data[i - 1] >= '0' && data[i - 1] <= '9' && gen_digits < 6) {
		i--;
		gen_digits++;
	}
	if (!gen_digits || i == 0 || !pdf_white(data[i - 1]))
		return -1;
	while (i > 0 && pdf_white(data[i - 1]))
		i--;
	while (i > 0 && data[i - 1] >= '0' && data[i - 1] <= '9' && num_digits < 10) {
		i--;
		num += (data[i] - '0') * mul;
		mul *= 10;
		num_digits++;
	}
	if (!num_digits)
		return -1;
	return num;
}

int pdf_prescan(struct pdf_decoder *d, const uint8_t *data, size_t len, size_t max,
		long long *objnum, const char **what)
{
	const uint8_t *p = data, *end = data + len;

	*objnum = -1;
	*what = "object stream";
	while (p < end) {
		const uint8_t *o = memmem(p, (size_t)(end - p), "obj", 3);
		struct rlex l;
		struct rstream s;
		long long num;
		size_t dlen;
		int rc;

		if (o == NULL)
			break;
		p = o + 3;
		if (p < end && !pdf_white(*p) && !r_delim(*p))
			continue; /* "objx" */
		num = obj_number(data, (size_t)(o - data));
		if (num < 0)
			continue;
		l.p = p;
		l.end = end;
		if (r_stream_dict(&l, &s) < 0 || !(s.objstm || s.xref || s.xrefw))
			continue;
		*what = s.xrefw ? "cross-reference stream" : "object stream";
		if (s.filters_rc == PDF_DECODE_UNSUPPORTED) {
			/* an indirect or unknown filter: qpdf may still
			 * decode it, so it cannot be left unchecked */
			*objnum = num;
			return PDF_DECODE_UNSUPPORTED;
		}
		if (s.filters_rc != PDF_DECODE_OK)
			continue;
		if (s.length >= 0 && (size_t)s.length <= (size_t)(end - l.p)) {
			dlen = (size_t)s.length;
		} else {
			const uint8_t *es = memmem(l.p, (size_t)(end - l.p), "endstream", 9);
			dlen = es ? (size_t)(es - l.p) : (size_t)(end - l.p);
		}
		rc = pdf_decode(d, l.p, dlen, s.f, s.nf, max, NULL, NULL);
		if (rc == PDF_DECODE_LIMIT) {
			*objnum = num;
			return rc;
		}
		/* With a wrong /Length, qpdf looks for endstream: so do we. */
		if (s.length >= 0) {
			const uint8_t *es = memmem(l.p, (size_t)(end - l.p), "endstream", 9);
			if (es && (size_t)(es - l.p) != dlen &&
			    pdf_decode(d, l.p, (size_t)(es - l.p), s.f, s.nf, max, NULL, NULL) ==
				    PDF_DECODE_LIMIT) {
				*objnum = num;
				return PDF_DECODE_LIMIT;
			}
		}
	}
	return PDF_DECODE_OK;
}

void pdf_dict_push_values(qpdf_data q, qpdf_oh dict, GPtrArray *keys, GArray *stack)
{
	g_ptr_array_set_size(keys, 0);
	qpdf_oh_begin_dict_key_iter(q, dict);
	while (qpdf_oh_dict_more_keys(q))
		g_ptr_array_add(keys, g_strdup(qpdf_oh_dict_next_key(q)));
	for (guint i = 0; i < keys->len; i++) {
		const char *k = g_ptr_array_index(keys, i);
		qpdf_oh v;
		if (strcmp(k, "/Parent") == 0)
			continue;
		v = qpdf_oh_get_key(q, dict, k);
		g_array_append_val(stack, v);
	}
}
