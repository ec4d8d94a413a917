/*
 * pdf_lex.h — private to the text reader (pdf_fasttext.c and its pieces):
 * a bounded tokenizer for content streams and CMaps, over bytes in
 * memory.  Names and strings are decoded into a caller's capped buffer
 * (escapes, hex, #xx in names); keywords and numbers are read in place.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.2 (lexical conventions),
 * §7.3 (objects), §8.9.7 (inline images).
 */
#ifndef TAYORI_PDF_LEX_H
#define TAYORI_PDF_LEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "lib/buf.h"

#define PDF_LEX_NAME_MAX 127    /* bytes of a name kept (the rest is read, not kept) */

enum pdf_tok {
	TOK_EOF, TOK_NUM, TOK_NAME, TOK_STR, TOK_AOPEN, TOK_ACLOSE, TOK_DOPEN, TOK_DCLOSE,
	TOK_KW
};

struct pdf_lex {
	const uint8_t *p, *end;
	struct buf *scratch;  /* decoded names and strings */
	int overflow;         /* scratch full: strings were cut */
};

struct pdf_token {
	enum pdf_tok t;
	double num;           /* TOK_NUM */
	size_t off, len;      /* TOK_NAME, TOK_STR: bytes in scratch */
	const uint8_t *kw;    /* TOK_KW: in the input */
	size_t kwlen;
};

/* Read data[0..len) (which must outlive l), decoding into scratch (its
 * cap bounds what is kept: beyond it strings are cut and l->overflow
 * set).  The caller resets scratch when it no longer needs the slices.
 * scratch->data is not NULL from here on, so that an empty string is a
 * slice like any other. */
static inline void pdf_lex_init(struct pdf_lex *l, const uint8_t *data, size_t len,
				struct buf *scratch)
{
	if (!scratch->data)
		(void)buf_reserve(scratch, 0);
	l->p = data;
	l->end = data + len;
	l->scratch = scratch;
	l->overflow = 0;
}

/* The next token into *t; TOK_EOF at the end of the data, for ever.
 * A stray ')', '{', '}' or '>' is a one-byte TOK_KW; a string or array
 * left open ends with the data. */
void pdf_lex_next(struct pdf_lex *l, struct pdf_token *t);

/* After the ID operator: skip an inline image's data, up to white space,
 * EI and white space (or the end of the data). */
void pdf_lex_skip_inline_image(struct pdf_lex *l);

/* Is t the keyword s? */
static inline int pdf_lex_kw_is(const struct pdf_token *t, const char *s)
{
	size_t n = strlen(s);
	return t->t == TOK_KW && t->kwlen == n && memcmp(t->kw, s, n) == 0;
}

#endif
