/*
 * pdf_lex.c — the text reader's tokenizer (see pdf_lex.h): numbers,
 * names, literal and hex strings, array and dictionary brackets and
 * keywords, read from a content stream or CMap in memory, with names and
 * strings decoded into a capped buffer; and the skip over an inline
 * image's data.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.2, §7.3.3-§7.3.5, §8.9.7.
 */
#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_lex.h"

/* 1 white space, 2 delimiter, 0 regular (§7.2.2). */
static const uint8_t cclass[256] = {
	[0] = 1, ['\t'] = 1, ['\n'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
	['('] = 2, [')'] = 2, ['<'] = 2, ['>'] = 2, ['['] = 2, [']'] = 2,
	['{'] = 2, ['}'] = 2, ['/'] = 2, ['%'] = 2,
};

static inline void lex_put(struct pdf_lex *l, uint8_t c)
{
	struct buf *b = l->scratch;

	/* The common case without a call; buf keeps its NUL-terminated
	 * invariant either way.  The room allocated may pass the cap (buf
	 * doubles it): the cap is checked too. */
	if (b->len + 1 < b->cap && b->len < b->max) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return;
	}
	if (buf_append_u8(b, c) < 0)
		l->overflow = 1;
}

/* A number filling [s, e) exactly, or -1.  Digits beyond what a double
 * holds are read but not added, so a huge number costs its length only. */
static int parse_num(const uint8_t *s, const uint8_t *e, double *out)
{
	double v = 0, scale = 1;
	int neg = 0, digits = 0, frac = 0;

	if (s < e && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	for (; s < e; s++) {
		if (*s >= '0' && *s <= '9') {
			if (!frac) {
				if (v < 1e15)
					v = v * 10 + (*s - '0');
			} else if (scale > 1e-15) {
				scale /= 10;
				v += (*s - '0') * scale;
			}
			digits++;
		} else if (*s == '.' && !frac) {
			frac = 1;
		} else {
			return -1;
		}
	}
	if (!digits)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

static void lex_literal(struct pdf_lex *l)
{
	int depth = 1;

	while (l->p < l->end) {
		uint8_t c = *l->p++;
		if (c == '(') {
			depth++;
		} else if (c == ')') {
			if (--depth == 0)
				return;
		} else if (c == '\\') {
			if (l->p >= l->end)
				return;
			c = *l->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case '\r':
				if (l->p < l->end && *l->p == '\n')
					l->p++;
				continue; /* a line continuation */
			case '\n':
				continue;
			default:
				if (c >= '0' && c <= '7') {
					unsigned v = c - '0';
					for (int i = 0; i < 2 && l->p < l->end && *l->p >= '0' && *l->p <= '7'; i++)
						v = v * 8 + (unsigned)(*l->p++ - '0');
					c = (uint8_t)v; /* high-order overflow is ignored (§7.3.4.2) */
				}
				break;
			}
		} else if (c == '\r') {
			/* An end of line in a string reads as \n. */
			if (l->p < l->end && *l->p == '\n')
				l->p++;
			c = '\n';
		}
		lex_put(l, c);
	}
	/* Unbalanced: the string ends with the data. */
}

static void lex_hex(struct pdf_lex *l)
{
	int hi = -1;

	while (l->p < l->end) {
		uint8_t c = *l->p++;
		int v;
		if (c == '>')
			break;
		v = hex_value(c);
		if (v < 0)
			continue; /* white space (and junk) is skipped */
		if (hi < 0) {
			hi = v;
		} else {
			lex_put(l, (uint8_t)(hi << 4 | v));
			hi = -1;
		}
	}
	if (hi >= 0)
		lex_put(l, (uint8_t)(hi << 4)); /* odd count: a final 0 (§7.3.4.3) */
}

void pdf_lex_next(struct pdf_lex *l, struct pdf_token *t)
{
	t->num = 0;
	t->off = t->len = 0;
	for (;;) {
		while (l->p < l->end && cclass[*l->p] == 1)
			l->p++;
		if (l->p >= l->end) {
			t->t = TOK_EOF;
			return;
		}
		if (*l->p != '%')
			break;
		while (l->p < l->end && *l->p != '\n' && *l->p != '\r')
			l->p++;
	}
	uint8_t c = *l->p;
	switch (c) {
	case '(':
		l->p++;
		t->t = TOK_STR;
		t->off = l->scratch->len;
		lex_literal(l);
		t->len = l->scratch->len - t->off;
		return;
	case '<':
		l->p++;
		if (l->p < l->end && *l->p == '<') {
			l->p++;
			t->t = TOK_DOPEN;
			return;
		}
		t->t = TOK_STR;
		t->off = l->scratch->len;
		lex_hex(l);
		t->len = l->scratch->len - t->off;
		return;
	case '>':
		l->p++;
		if (l->p < l->end && *l->p == '>') {
			l->p++;
			t->t = TOK_DCLOSE;
			return;
		}
		t->t = TOK_KW; /* a stray '>': an operator nobody knows */
		t->kw = l->p - 1;
		t->kwlen = 1;
		return;
	case '[':
		l->p++;
		t->t = TOK_AOPEN;
		return;
	case ']':
		l->p++;
		t->t = TOK_ACLOSE;
		return;
	case '/': {
		size_t n = 0;
		l->p++;
		t->t = TOK_NAME;
		t->off = l->scratch->len;
		while (l->p < l->end && cclass[*l->p] == 0) {
			uint8_t b = *l->p++;
			if (b == '#' && l->end - l->p >= 2 && hex_value(l->p[0]) >= 0 &&
			    hex_value(l->p[1]) >= 0) {
				b = (uint8_t)(hex_value(l->p[0]) << 4 | hex_value(l->p[1]));
				l->p += 2;
			}
			if (n++ < PDF_LEX_NAME_MAX)
				lex_put(l, b);
		}
		t->len = l->scratch->len - t->off;
		return;
	}
	case ')': case '{': case '}':
		/* Stray or PostScript procedure brackets: one-byte operators. */
		t->t = TOK_KW;
		t->kw = l->p++;
		t->kwlen = 1;
		return;
	default: {
		const uint8_t *s = l->p;
		while (l->p < l->end && cclass[*l->p] == 0)
			l->p++;
		if ((c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9')) &&
		    parse_num(s, l->p, &t->num) == 0) {
			t->t = TOK_NUM;
			return;
		}
		t->t = TOK_KW;
		t->kw = s;
		t->kwlen = (size_t)(l->p - s);
		return;
	}
	}
}

/* Skip an inline image's data after ID (§8.9.7): up to white space, EI,
 * and white space or the end. */
void pdf_lex_skip_inline_image(struct pdf_lex *l)
{
	const uint8_t *p = l->p;

	if (p < l->end && cclass[*p] == 1)
		p++;
	for (; p + 1 < l->end; p++) {
		if (p[0] == 'E' && p[1] == 'I' && (p == l->p || cclass[p[-1]] == 1) &&
		    (p + 2 == l->end || cclass[p[2]] != 0)) {
			l->p = p + 2;
			return;
		}
	}
	l->p = l->end;
}
