/*
 * pdf_decode_filter.c — the stream filters, each undoing one encoding into
 * the counting sink of pdf_decode_int.h, which stops it at the cap:
 * FlateDecode, LZWDecode, ASCIIHexDecode, ASCII85Decode, RunLengthDecode,
 * and the PNG and TIFF predictors after Flate and LZW.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.4.2-7.4.5 (ASCIIHex,
 * ASCII85, LZW, Flate, RunLength), §7.4.4.4 (predictors); RFC 1950,
 * RFC 1951; PNG §6; TIFF 6.0 §14.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "lib/util.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_decode_int.h"
#include "pdf/pdf_syntax.h"

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

static int do_ahx(const uint8_t *in, size_t len, struct sink *s)
{
	uint8_t out[256];
	size_t n = 0;
	int hi = -1;

	for (size_t i = 0; i < len && in[i] != '>'; i++) {
		int v = hex_value(in[i]);
		if (v < 0) {
			if (pdf_syntax_white(in[i]))
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
		if (pdf_syntax_white(c))
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

/* ---- One filter of a chain ---- */

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
int pdf_decode_filter_run(struct pdf_decoder *d, const struct pdf_filter *f, const uint8_t *in,
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

int pdf_decode_filter_kind(const char *name, enum pdf_filter_kind *k)
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
