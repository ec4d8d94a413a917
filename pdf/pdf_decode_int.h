/*
 * pdf_decode_int.h — private to the stream decoder (pdf_decode*.c and
 * pdf_prescan.c), not for other callers: the decoder's buffers, the
 * counting sink every output byte goes through, and the filters
 * (pdf_decode_filter.c) the driver (pdf_decode.c) chains.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.
 */
#ifndef TAYORI_PDF_DECODE_INT_H
#define TAYORI_PDF_DECODE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include "lib/buf.h"
#include "pdf/pdf_decode.h"

/* Inflate output is taken in windows of this size. */
#define WIN 65536
/* Bounds on /DecodeParms: rows stay far below any cap we accept. */
#define COLORS_MAX  32
#define COLUMNS_MAX (1 << 20)

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

/* Where a filter's output goes: a buffer, or nowhere (counting). */
struct sink {
	struct buf *b;
	size_t n, max;
};

static inline int sink_put(struct sink *s, const uint8_t *p, size_t n)
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

/* The kind of the filter named name ("/FlateDecode", "/Fl" ...); -1 when
 * it is not one decoded here. */
int pdf_decode_filter_kind(const char *name, enum pdf_filter_kind *k);

/* One filter f with its predictor, if any, on len bytes into s.
 * Returns a pdf_decode_rc. */
int pdf_decode_filter_run(struct pdf_decoder *d, const struct pdf_filter *f, const uint8_t *in,
			  size_t len, struct sink *s);

#endif
