/*
 * pdf_fasttext.c — page text from the content streams through qpdf's C
 * API: a bounded lexer, a text-state interpreter (q/Q, BT/ET, Tf, Td, TD,
 * Tm, T*, Tc, Tw, Tz, TL, Tj, TJ, ', ", Do, BI/ID/EI), ToUnicode CMaps
 * cached per font object, standard encodings for simple fonts, every
 * stream decoded within [limits] by pdf_decode.c into reused buffers, and
 * a poppler fallback per page, for pages whose streams all passed that
 * decoding first (see pdf_fasttext.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.2 (lexical conventions),
 * §7.8.2, §8.2, §8.9.7, §8.10, §9.3, §9.4, §9.6, §9.7, §9.10; UAX #15.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_fasttext.h"

/* Bounds.  Hitting one makes the page undecodable (poppler reads it),
 * never a failure: they only stop hostile input from costing much. */
#define FT_OPERANDS     32                  /* kept operands before an operator */
#define FT_ELEMS        65536               /* elements of one array operand */
#define FT_SCRATCH_MAX  ((size_t)64 << 20)  /* string bytes before one operator */
#define FT_GSTACK       32                  /* q nesting tracked (deeper: ignored) */
#define FT_FORM_DEPTH   8                   /* nested form XObjects */
#define FT_FORMS_PAGE   1024                /* forms run on one page */
#define FT_LEXED_PAGE   ((size_t)256 << 20) /* content bytes read for one page */
#define FT_FONTS_MAX    4096                /* fonts cached per handle */
#define FT_PAGE_FONTS   64                  /* uncached (direct) fonts per page */
#define FT_NAMECACHE    16                  /* resolved font names per content */
#define FT_CMAP_BYTES   ((size_t)4 << 20)   /* one CMap stream */
#define FT_CSR_MAX      64                  /* codespace ranges of one CMap */
#define FT_MAP_BUDGET   ((size_t)4 << 20)   /* CMap entries per handle */
#define FT_TBL_BUDGET   16384               /* 1 kB code tables per handle */
#define FT_SEQ_MAX      16                  /* code points one code maps to */
#define FT_W_MAX        65536               /* /W ranges of one CID font */
#define FT_RES_DEPTH    32                  /* /Parent levels for /Resources */
#define FT_NAME_MAX     127                 /* bytes of a name kept */
#define FT_KEEP_MAX     ((size_t)4 << 20)   /* decode buffers kept between pages */

/* Separation of two shown strings, in units of the font size. */
#define FT_WORD_GAP     0.1   /* forward gap that is a space */
#define FT_BACK_GAP     -0.5  /* backward move that is a space */
#define FT_LINE_GAP     0.5   /* baseline shift that is a new line */

/* ---------------------------------------------------------------- */
/* Lexer (ISO 32000-1 §7.2, §7.3)                                    */

enum tok { T_EOF, T_NUM, T_NAME, T_STR, T_AOPEN, T_ACLOSE, T_DOPEN, T_DCLOSE, T_KW };

struct lex {
	const uint8_t *p, *end;
	struct buf *scratch;  /* decoded names and strings */
	int overflow;         /* scratch full: strings were cut */
};

struct token {
	enum tok t;
	double num;
	size_t off, len;      /* T_NAME, T_STR: bytes in scratch */
	const uint8_t *kw;    /* T_KW: in the input */
	size_t kwlen;
};

/* 1 white space, 2 delimiter, 0 regular (§7.2.2). */
static const uint8_t cclass[256] = {
	[0] = 1, ['\t'] = 1, ['\n'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1,
	['('] = 2, [')'] = 2, ['<'] = 2, ['>'] = 2, ['['] = 2, [']'] = 2,
	['{'] = 2, ['}'] = 2, ['/'] = 2, ['%'] = 2,
};

static inline void lex_put(struct lex *l, uint8_t c)
{
	struct buf *b = l->scratch;

	/* The common case without a call; buf keeps its NUL-terminated
	 * invariant either way. */
	if (b->len + 1 < b->cap) {
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

static void lex_literal(struct lex *l)
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

static void lex_hex(struct lex *l)
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

static void lex_next(struct lex *l, struct token *t)
{
	t->num = 0;
	t->off = t->len = 0;
	for (;;) {
		while (l->p < l->end && cclass[*l->p] == 1)
			l->p++;
		if (l->p >= l->end) {
			t->t = T_EOF;
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
		t->t = T_STR;
		t->off = l->scratch->len;
		lex_literal(l);
		t->len = l->scratch->len - t->off;
		return;
	case '<':
		l->p++;
		if (l->p < l->end && *l->p == '<') {
			l->p++;
			t->t = T_DOPEN;
			return;
		}
		t->t = T_STR;
		t->off = l->scratch->len;
		lex_hex(l);
		t->len = l->scratch->len - t->off;
		return;
	case '>':
		l->p++;
		if (l->p < l->end && *l->p == '>') {
			l->p++;
			t->t = T_DCLOSE;
			return;
		}
		t->t = T_KW; /* a stray '>': an operator nobody knows */
		t->kw = l->p - 1;
		t->kwlen = 1;
		return;
	case '[':
		l->p++;
		t->t = T_AOPEN;
		return;
	case ']':
		l->p++;
		t->t = T_ACLOSE;
		return;
	case '/': {
		size_t n = 0;
		l->p++;
		t->t = T_NAME;
		t->off = l->scratch->len;
		while (l->p < l->end && cclass[*l->p] == 0) {
			uint8_t b = *l->p++;
			if (b == '#' && l->end - l->p >= 2 && hex_value(l->p[0]) >= 0 &&
			    hex_value(l->p[1]) >= 0) {
				b = (uint8_t)(hex_value(l->p[0]) << 4 | hex_value(l->p[1]));
				l->p += 2;
			}
			if (n++ < FT_NAME_MAX)
				lex_put(l, b);
		}
		t->len = l->scratch->len - t->off;
		return;
	}
	case ')': case '{': case '}':
		/* Stray or PostScript procedure brackets: one-byte operators. */
		t->t = T_KW;
		t->kw = l->p++;
		t->kwlen = 1;
		return;
	default: {
		const uint8_t *s = l->p;
		while (l->p < l->end && cclass[*l->p] == 0)
			l->p++;
		if ((c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9')) &&
		    parse_num(s, l->p, &t->num) == 0) {
			t->t = T_NUM;
			return;
		}
		t->t = T_KW;
		t->kw = s;
		t->kwlen = (size_t)(l->p - s);
		return;
	}
	}
}

static int kw_is(const struct token *t, const char *s)
{
	size_t n = strlen(s);
	return t->t == T_KW && t->kwlen == n && memcmp(t->kw, s, n) == 0;
}

/* ---------------------------------------------------------------- */
/* CMaps (§9.7.5, §9.10.3)                                           */

struct csrange {
	uint8_t n;
	uint8_t lo[4], hi[4];
};

/*
 * Code -> Unicode.  A value is 0 (unmapped), a code point, or
 * SEQ | offset of a sequence in pool (its length, then its code points).
 * Codes below 65536 sit in 256-entry tables made on demand; longer ones
 * in a sorted array.
 */
#define SEQ 0x80000000u

struct bigent {
	uint32_t code, val;
};

struct cmap {
	int ncs;
	struct csrange cs[FT_CSR_MAX];
	uint32_t *tbl[256];
	struct bigent *big;
	size_t nbig, capbig;
	uint32_t *pool;
	size_t npool, cappool;
};

/* Per-handle budgets shared by every CMap of the document. */
struct budget {
	size_t entries;
	size_t tables;
};

static void cmap_free(struct cmap *m)
{
	if (!m)
		return;
	for (int i = 0; i < 256; i++)
		free(m->tbl[i]);
	free(m->big);
	free(m->pool);
	free(m);
}

static int big_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct bigent *)a)->code, y = ((const struct bigent *)b)->code;
	return x < y ? -1 : x > y;
}

static uint32_t cmap_get(const struct cmap *m, uint32_t code)
{
	if (code < 65536) {
		const uint32_t *t = m->tbl[code >> 8];
		return t ? t[code & 255] : 0;
	}
	size_t lo = 0, hi = m->nbig;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->big[mid].code == code)
			return m->big[mid].val;
		if (m->big[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Set code to cps[0..n).  0 when done, -1 when a budget is spent. */
static int cmap_set(struct cmap *m, struct budget *b, uint32_t code, const uint32_t *cps,
		    size_t n)
{
	uint32_t val;

	if (n == 0)
		return 0;
	if (b->entries >= FT_MAP_BUDGET)
		return -1;
	b->entries++;
	if (n == 1) {
		val = cps[0];
	} else {
		if (m->npool + n + 1 > m->cappool) {
			size_t cap = m->cappool ? m->cappool * 2 : 256;
			while (cap < m->npool + n + 1)
				cap *= 2;
			m->pool = xrealloc(m->pool, cap * sizeof *m->pool);
			m->cappool = cap;
		}
		val = SEQ | (uint32_t)m->npool;
		m->pool[m->npool++] = (uint32_t)n;
		memcpy(m->pool + m->npool, cps, n * sizeof *cps);
		m->npool += n;
	}
	if (code < 65536) {
		uint32_t **t = &m->tbl[code >> 8];
		if (!*t) {
			if (b->tables >= FT_TBL_BUDGET)
				return -1;
			b->tables++;
			*t = xcalloc(256, sizeof **t);
		}
		(*t)[code & 255] = val;
		return 0;
	}
	if (m->nbig == m->capbig) {
		m->capbig = m->capbig ? m->capbig * 2 : 64;
		m->big = xrealloc(m->big, m->capbig * sizeof *m->big);
	}
	m->big[m->nbig].code = code;
	m->big[m->nbig].val = val;
	m->nbig++;
	return 0;
}

/* UTF-16BE (or one byte) to code points; returns how many (<= max). */
static size_t utf16_decode(const uint8_t *s, size_t n, uint32_t *out, size_t max)
{
	size_t k = 0;

	if (n == 1) {
		out[0] = s[0];
		return 1;
	}
	for (size_t i = 0; i + 1 < n && k < max; i += 2) {
		uint32_t u = (uint32_t)s[i] << 8 | s[i + 1];
		if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
			uint32_t v = (uint32_t)s[i + 2] << 8 | s[i + 3];
			if (v >= 0xDC00 && v <= 0xDFFF) {
				out[k++] = 0x10000 + ((u - 0xD800) << 10) + (v - 0xDC00);
				i += 2;
				continue;
			}
		}
		if (u >= 0xD800 && u <= 0xDFFF)
			u = 0xFFFD;
		out[k++] = u;
	}
	return k;
}

static int code_of(const uint8_t *s, size_t n, uint32_t *code)
{
	uint32_t v = 0;
	if (n < 1 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | s[i];
	*code = v;
	return 0;
}

enum cmap_mode { CM_NONE, CM_CS, CM_BFCHAR, CM_BFRANGE };

/*
 * Parse a CMap stream (ToUnicode, or an embedded encoding CMap for its
 * codespace ranges).  Entries beyond the budgets are dropped and the
 * CMap reported as truncated (-1), which makes its font undecodable.
 */
static int cmap_parse(const uint8_t *data, size_t len, struct budget *bud, struct cmap **out)
{
	struct cmap *m = xcalloc(1, sizeof *m);
	struct buf scratch;
	struct lex l;
	struct token t;
	enum cmap_mode mode = CM_NONE;
	size_t pend_off[2], pend_len[2];
	int npend = 0, ret = 0;
	uint32_t cps[FT_SEQ_MAX];

	if (data == NULL) /* an empty stream decodes to no buffer at all */
		data = (const uint8_t *)"", len = 0;
	buf_init(&scratch, FT_CMAP_BYTES);
	l.p = data;
	l.end = data + len;
	l.scratch = &scratch;
	l.overflow = 0;
	for (;;) {
		lex_next(&l, &t);
		if (t.t == T_EOF)
			break;
		if (t.t == T_KW) {
			if (kw_is(&t, "begincodespacerange"))
				mode = CM_CS;
			else if (kw_is(&t, "beginbfchar"))
				mode = CM_BFCHAR;
			else if (kw_is(&t, "beginbfrange"))
				mode = CM_BFRANGE;
			else
				mode = CM_NONE;
			npend = 0;
			buf_reset(&scratch);
			continue;
		}
		if (mode == CM_NONE) {
			if (t.t != T_STR && t.t != T_NAME && t.t != T_NUM)
				buf_reset(&scratch);
			/* Keep scratch small outside the sections too. */
			if (scratch.len > 4096)
				buf_reset(&scratch);
			continue;
		}
		if (mode == CM_BFRANGE && t.t == T_AOPEN && npend == 2) {
			/* <lo> <hi> [<dst0> <dst1> ...] */
			uint32_t lo = 0, hi = 0;
			uint64_t idx = 0;
			int ok = code_of(scratch.data + pend_off[0], pend_len[0], &lo) == 0 &&
				 code_of(scratch.data + pend_off[1], pend_len[1], &hi) == 0 &&
				 hi >= lo;
			for (;;) {
				lex_next(&l, &t);
				if (t.t == T_EOF || t.t == T_ACLOSE)
					break;
				if (t.t == T_KW) {
					mode = CM_NONE; /* endbfrange or junk: the section ends */
					break;
				}
				if (t.t == T_STR && ok && idx <= (uint64_t)(hi - lo)) {
					size_t k = utf16_decode(scratch.data + t.off, t.len, cps, FT_SEQ_MAX);
					if (cmap_set(m, bud, lo + (uint32_t)idx, cps, k) < 0)
						ret = -1;
				}
				idx++;
				if (scratch.len > 4096)
					buf_reset(&scratch); /* pend_* are no longer needed */
			}
			npend = 0;
			buf_reset(&scratch);
			if (ret < 0)
				break;
			continue;
		}
		if (t.t != T_STR) {
			/* A name destination (an old form) or junk: drop the entry. */
			npend = 0;
			buf_reset(&scratch);
			continue;
		}
		if (npend < 2) {
			pend_off[npend] = t.off;
			pend_len[npend] = t.len;
			npend++;
			if (mode != CM_BFRANGE && npend == 2)
				goto pair;
			continue;
		}
		/* BFRANGE with a string destination: <lo> <hi> <dst> */
		{
			uint32_t lo, hi;
			size_t k = utf16_decode(scratch.data + t.off, t.len, cps, FT_SEQ_MAX);
			if (k > 0 && code_of(scratch.data + pend_off[0], pend_len[0], &lo) == 0 &&
			    code_of(scratch.data + pend_off[1], pend_len[1], &hi) == 0 && hi >= lo &&
			    hi - lo < 65536) {
				uint32_t last = cps[k - 1];
				for (uint32_t c = lo;; c++) {
					cps[k - 1] = last + (c - lo);
					if (cmap_set(m, bud, c, cps, k) < 0) {
						ret = -1;
						break;
					}
					if (c == hi)
						break;
				}
			}
			npend = 0;
			buf_reset(&scratch);
			if (ret < 0)
				break;
			continue;
		}
pair:
		if (mode == CM_CS) {
			if (pend_len[0] == pend_len[1] && pend_len[0] >= 1 && pend_len[0] <= 4 &&
			    m->ncs < FT_CSR_MAX) {
				struct csrange *r = &m->cs[m->ncs++];
				r->n = (uint8_t)pend_len[0];
				memcpy(r->lo, scratch.data + pend_off[0], r->n);
				memcpy(r->hi, scratch.data + pend_off[1], r->n);
			}
		} else { /* BFCHAR */
			uint32_t code;
			size_t k = utf16_decode(scratch.data + pend_off[1], pend_len[1], cps, FT_SEQ_MAX);
			if (code_of(scratch.data + pend_off[0], pend_len[0], &code) == 0 &&
			    cmap_set(m, bud, code, cps, k) < 0) {
				ret = -1;
				break;
			}
		}
		npend = 0;
		buf_reset(&scratch);
	}
	if (l.overflow)
		ret = -1;
	if (m->nbig > 1) {
		/* Sorted for bsearch; on duplicates any one wins (as in a
		 * malformed CMap, where readers differ anyway). */
		qsort(m->big, m->nbig, sizeof *m->big, big_cmp);
	}
	buf_free(&scratch);
	*out = m;
	return ret;
}

/* Bytes of the code at s (§9.7.6.2): the shortest codespace range that
 * matches; with none, the length of the shortest range (at least 1). */
static size_t cmap_code_len(const struct cmap *m, const uint8_t *s, size_t n)
{
	size_t shortest = 4;

	for (size_t len = 1; len <= 4 && len <= n; len++) {
		for (int i = 0; i < m->ncs; i++) {
			const struct csrange *r = &m->cs[i];
			size_t j;
			if (r->n != len)
				continue;
			for (j = 0; j < len; j++)
				if (s[j] < r->lo[j] || s[j] > r->hi[j])
					break;
			if (j == len)
				return len;
		}
	}
	for (int i = 0; i < m->ncs; i++)
		if (m->cs[i].n < shortest)
			shortest = m->cs[i].n;
	return m->ncs ? shortest : 1;
}

/* ---------------------------------------------------------------- */
/* Fonts (§9.6, §9.7)                                                */

/* simple[] values besides code points: */
#define SIMPLE_NONE 0u            /* no glyph: nothing shown */
#define SIMPLE_BAD  0xFFFFFFFFu   /* unknown: the page is undecodable */

struct wrange {
	uint32_t lo, hi;
	float w;
};

struct font {
	const char *bad;        /* why the font cannot be decoded, or NULL */
	int cid;                /* Type0 */
	int identity;           /* Identity-H/V: two-byte codes, CID = code */
	int vertical;
	struct cmap *tu;        /* ToUnicode, or NULL */
	struct cmap *enc;       /* Type0, not Identity: the CMap giving code lengths */
	uint32_t simple[256];   /* simple fonts: code -> Unicode without ToUnicode */
	float widths[256];      /* simple fonts, in glyph space (1/1000) */
	double dw;              /* CID fonts: default width */
	struct wrange *w;       /* CID fonts: /W, sorted */
	size_t nw;
};

static void font_free(struct font *f)
{
	if (!f)
		return;
	cmap_free(f->tu);
	if (f->enc != f->tu)
		cmap_free(f->enc);
	free(f->w);
	free(f);
}

static int wr_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct wrange *)a)->lo, y = ((const struct wrange *)b)->lo;
	return x < y ? -1 : x > y;
}

static double font_width(const struct font *f, uint32_t code)
{
	if (!f->cid)
		return f->widths[code & 255];
	if (!f->identity)
		return f->dw; /* the CID is not known without the CMap */
	size_t lo = 0, hi = f->nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (code < f->w[mid].lo)
			hi = mid;
		else if (code > f->w[mid].hi)
			lo = mid + 1;
		else
			return f->w[mid].w;
	}
	return f->dw;
}

/* Glyph names that stand for ASCII characters keys are made of, and the
 * punctuation around them (Adobe Glyph List names). */
static const struct {
	const char *name;
	char c;
} glyph_ascii[] = {
	{ "space", ' ' }, { "exclam", '!' }, { "quotedbl", '"' }, { "numbersign", '#' },
	{ "dollar", '$' }, { "percent", '%' }, { "ampersand", '&' }, { "quotesingle", '\'' },
	{ "quoteright", '\'' }, { "parenleft", '(' }, { "parenright", ')' }, { "asterisk", '*' },
	{ "plus", '+' }, { "comma", ',' }, { "hyphen", '-' }, { "period", '.' }, { "slash", '/' },
	{ "zero", '0' }, { "one", '1' }, { "two", '2' }, { "three", '3' }, { "four", '4' },
	{ "five", '5' }, { "six", '6' }, { "seven", '7' }, { "eight", '8' }, { "nine", '9' },
	{ "colon", ':' }, { "semicolon", ';' }, { "less", '<' }, { "equal", '=' },
	{ "greater", '>' }, { "question", '?' }, { "at", '@' }, { "bracketleft", '[' },
	{ "backslash", '\\' }, { "bracketright", ']' }, { "asciicircum", '^' },
	{ "underscore", '_' }, { "grave", '`' }, { "quoteleft", '`' }, { "braceleft", '{' },
	{ "bar", '|' }, { "braceright", '}' }, { "asciitilde", '~' },
};

/* A glyph name's code point, or SIMPLE_BAD. */
static uint32_t glyph_cp(const char *n)
{
	size_t len = strlen(n);

	if (len == 1 && ((n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z')))
		return (uint8_t)n[0];
	for (size_t i = 0; i < ARRAY_SIZE(glyph_ascii); i++)
		if (strcmp(n, glyph_ascii[i].name) == 0)
			return (uint8_t)glyph_ascii[i].c;
	if ((len == 7 && strncmp(n, "uni", 3) == 0) ||
	    (len >= 5 && len <= 7 && n[0] == 'u' && n[1] != 'n')) {
		uint32_t v = 0;
		for (size_t i = len == 7 && n[1] == 'n' ? 3 : 1; i < len; i++) {
			int h = hex_value((uint8_t)n[i]);
			if (h < 0)
				return SIMPLE_BAD;
			v = v << 4 | (uint32_t)h;
		}
		if (v == 0 || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
			return SIMPLE_BAD;
		return v;
	}
	return SIMPLE_BAD;
}

/* The base of a standard encoding: ASCII as itself; Latin-1 above 0xA0 for
 * WinAnsi; other high codes stand for some non-key character. */
static void encoding_base(struct font *f, int winansi)
{
	for (int c = 0; c < 256; c++) {
		if (c < 0x20)
			f->simple[c] = SIMPLE_NONE;
		else if (c < 0x7F)
			f->simple[c] = (uint32_t)c;
		else if (winansi && c >= 0xA0)
			f->simple[c] = (uint32_t)c;
		else
			f->simple[c] = 0xFFFD;
	}
}

static int std_encoding_name(const char *n, int *winansi)
{
	*winansi = strcmp(n, "/WinAnsiEncoding") == 0;
	return *winansi || strcmp(n, "/StandardEncoding") == 0 || strcmp(n, "/MacRomanEncoding") == 0;
}

struct page_run;
/* A stream decoded within the page's limits (see ft_decode below). */
static int ft_decode(struct page_run *r, qpdf_oh s, const char *what, struct buf *out);

static void font_simple(qpdf_data q, qpdf_oh fo, struct font *f, int type1)
{
	qpdf_oh enc = qpdf_oh_get_key(q, fo, "/Encoding");
	qpdf_oh fd = qpdf_oh_get_key(q, fo, "/FontDescriptor");
	qpdf_oh wa = qpdf_oh_get_key(q, fo, "/Widths");
	int winansi = 0, first, n;
	double missing = 0;

	if (qpdf_oh_is_dictionary(q, fd)) {
		qpdf_oh mw = qpdf_oh_get_key(q, fd, "/MissingWidth");
		if (qpdf_oh_is_number(q, mw))
			missing = qpdf_oh_get_numeric_value(q, mw);
	}
	if (qpdf_oh_is_array(q, wa)) {
		first = qpdf_oh_get_int_value_as_int(q, qpdf_oh_get_key(q, fo, "/FirstChar"));
		n = qpdf_oh_get_array_n_items(q, wa);
		for (int c = 0; c < 256; c++)
			f->widths[c] = (float)missing;
		for (int i = 0; i < n && i < 256; i++) {
			qpdf_oh w = qpdf_oh_get_array_item(q, wa, i);
			long long c = (long long)first + i;
			if (c >= 0 && c < 256 && qpdf_oh_is_number(q, w))
				f->widths[c] = (float)qpdf_oh_get_numeric_value(q, w);
		}
	} else {
		/* A standard font without widths: half an em is near enough
		 * for gaps between strings. */
		for (int c = 0; c < 256; c++)
			f->widths[c] = 500;
	}

	if (qpdf_oh_is_name(q, enc)) {
		if (!std_encoding_name(qpdf_oh_get_name(q, enc), &winansi)) {
			for (int c = 0; c < 256; c++)
				f->simple[c] = SIMPLE_BAD;
			return;
		}
		encoding_base(f, winansi);
		return;
	}
	if (qpdf_oh_is_dictionary(q, enc)) {
		qpdf_oh base = qpdf_oh_get_key(q, enc, "/BaseEncoding");
		qpdf_oh diff = qpdf_oh_get_key(q, enc, "/Differences");
		int code = -1;
		if (qpdf_oh_is_name(q, base) && !std_encoding_name(qpdf_oh_get_name(q, base), &winansi)) {
			for (int c = 0; c < 256; c++)
				f->simple[c] = SIMPLE_BAD;
			return;
		}
		encoding_base(f, winansi);
		n = qpdf_oh_is_array(q, diff) ? qpdf_oh_get_array_n_items(q, diff) : 0;
		for (int i = 0; i < n && i < 4096; i++) {
			qpdf_oh d = qpdf_oh_get_array_item(q, diff, i);
			if (qpdf_oh_is_integer(q, d)) {
				long long v = qpdf_oh_get_int_value(q, d);
				code = v >= 0 && v < 256 ? (int)v : -1;
			} else if (qpdf_oh_is_name(q, d) && code >= 0 && code < 256) {
				f->simple[code++] = glyph_cp(qpdf_oh_get_name(q, d) + 1);
			}
		}
		return;
	}
	/* No encoding: the font's own.  Right for a non-symbolic font (the
	 * standard encoding); a symbolic font's codes mean anything. */
	{
		int symbolic = 0;
		const char *bn = qpdf_oh_is_name(q, qpdf_oh_get_key(q, fo, "/BaseFont"))
			? qpdf_oh_get_name(q, qpdf_oh_get_key(q, fo, "/BaseFont")) : "";
		if (qpdf_oh_is_dictionary(q, fd)) {
			long long flags = qpdf_oh_get_int_value(q, qpdf_oh_get_key(q, fd, "/Flags"));
			symbolic = (flags & 4) && !(flags & 32);
		}
		if (type1 && (strcmp(bn, "/Symbol") == 0 || strcmp(bn, "/ZapfDingbats") == 0))
			symbolic = 1;
		if (symbolic) {
			for (int c = 0; c < 256; c++)
				f->simple[c] = SIMPLE_BAD;
			return;
		}
		encoding_base(f, 0);
	}
}

static void font_cid_widths(qpdf_data q, qpdf_oh desc, struct font *f)
{
	qpdf_oh dw = qpdf_oh_get_key(q, desc, "/DW");
	qpdf_oh wa = qpdf_oh_get_key(q, desc, "/W");
	size_t cap = 0;
	int n, i = 0;

	f->dw = qpdf_oh_is_number(q, dw) ? qpdf_oh_get_numeric_value(q, dw) : 1000;
	if (!qpdf_oh_is_array(q, wa))
		return;
	n = qpdf_oh_get_array_n_items(q, wa);
	while (i < n && f->nw < FT_W_MAX) {
		qpdf_oh a = qpdf_oh_get_array_item(q, wa, i);
		qpdf_oh b = i + 1 < n ? qpdf_oh_get_array_item(q, wa, i + 1) : 0;
		long long c0;
		if (!qpdf_oh_is_integer(q, a) || !b)
			break;
		c0 = qpdf_oh_get_int_value(q, a);
		if (c0 < 0 || c0 > 0xFFFFFFFFLL)
			break;
		if (qpdf_oh_is_array(q, b)) {
			/* c [w0 w1 ...] */
			int m = qpdf_oh_get_array_n_items(q, b);
			for (int j = 0; j < m && f->nw < FT_W_MAX && c0 + j <= 0xFFFFFFFFLL; j++) {
				if (f->nw == cap) {
					cap = cap ? cap * 2 : 64;
					f->w = xrealloc(f->w, cap * sizeof *f->w);
				}
				f->w[f->nw].lo = f->w[f->nw].hi = (uint32_t)(c0 + j);
				f->w[f->nw].w = (float)qpdf_oh_get_numeric_value(q,
					qpdf_oh_get_array_item(q, b, j));
				f->nw++;
			}
			qpdf_oh_release(q, b);
			i += 2;
		} else {
			/* c_first c_last w */
			qpdf_oh c = i + 2 < n ? qpdf_oh_get_array_item(q, wa, i + 2) : 0;
			long long c1 = qpdf_oh_get_int_value(q, b);
			if (!c || c1 < c0 || c1 > 0xFFFFFFFFLL)
				break;
			if (f->nw == cap) {
				cap = cap ? cap * 2 : 64;
				f->w = xrealloc(f->w, cap * sizeof *f->w);
			}
			f->w[f->nw].lo = (uint32_t)c0;
			f->w[f->nw].hi = (uint32_t)c1;
			f->w[f->nw].w = (float)qpdf_oh_get_numeric_value(q, c);
			f->nw++;
			qpdf_oh_release(q, c);
			i += 3;
		}
		qpdf_oh_release(q, a);
	}
	if (f->nw > 1)
		qsort(f->w, f->nw, sizeof *f->w, wr_cmp);
}

/* Read a font dictionary.  Never fails: what cannot be decoded is noted
 * in f->bad (or as SIMPLE_BAD codes) and surfaces when text is shown. */
static struct font *font_load(struct page_run *r, qpdf_data q, qpdf_oh fo, struct buf *tmp,
			      struct budget *bud)
{
	struct font *f = xcalloc(1, sizeof *f);
	qpdf_oh st = qpdf_oh_get_key(q, fo, "/Subtype");
	qpdf_oh tu = qpdf_oh_get_key(q, fo, "/ToUnicode");
	char sub[FT_NAME_MAX + 1];
	int rc;

	/* A copy: qpdf's name buffer is reused by the next call (decoding
	 * the CMap reads the names of its filters). */
	str_copy(sub, qpdf_oh_is_name(q, st) ? qpdf_oh_get_name(q, st) : "", sizeof sub);

	if (!qpdf_oh_is_dictionary(q, fo)) {
		f->bad = "a font that is not a dictionary";
		return f;
	}
	if (strcmp(sub, "/Type3") == 0) {
		f->bad = "a Type3 font";
		return f;
	}
	if (qpdf_oh_is_stream(q, tu)) {
		rc = ft_decode(r, tu, "a ToUnicode CMap", tmp);
		if (rc != PDF_DECODE_OK) {
			f->bad = rc == PDF_DECODE_LIMIT ? "a ToUnicode CMap beyond the limits" :
							   "a ToUnicode CMap that cannot be decoded";
			return f;
		}
		if (tmp->len > FT_CMAP_BYTES || cmap_parse(tmp->data, tmp->len, bud, &f->tu) < 0)
			f->bad = "a ToUnicode CMap beyond the limits";
		if (f->bad)
			return f;
	}
	if (strcmp(sub, "/Type0") == 0) {
		qpdf_oh enc = qpdf_oh_get_key(q, fo, "/Encoding");
		qpdf_oh desc = qpdf_oh_get_array_item(q, qpdf_oh_get_key(q, fo, "/DescendantFonts"), 0);
		f->cid = 1;
		if (!f->tu) {
			f->bad = "a Type0 font without ToUnicode";
			return f;
		}
		if (qpdf_oh_is_name(q, enc)) {
			const char *en = qpdf_oh_get_name(q, enc);
			size_t el = strlen(en);
			f->identity = strcmp(en, "/Identity-H") == 0 || strcmp(en, "/Identity-V") == 0;
			f->vertical = el >= 2 && strcmp(en + el - 2, "-V") == 0;
			if (!f->identity)
				f->enc = f->tu; /* its codespace is the best guide there is */
		} else if (qpdf_oh_is_stream(q, enc)) {
			qpdf_oh wm = qpdf_oh_get_key(q, qpdf_oh_get_dict(q, enc), "/WMode");
			f->vertical = qpdf_oh_get_int_value(q, wm) == 1;
			rc = ft_decode(r, enc, "an encoding CMap", tmp);
			if (rc != PDF_DECODE_OK || tmp->len > FT_CMAP_BYTES ||
			    cmap_parse(tmp->data, tmp->len, bud, &f->enc) < 0 || !f->enc->ncs)
				f->bad = "an encoding CMap that cannot be read";
			if (f->bad)
				return f;
		} else {
			f->bad = "a Type0 font without an encoding";
			return f;
		}
		if (f->enc && !f->enc->ncs) {
			f->bad = "a CMap without codespace ranges";
			return f;
		}
		if (qpdf_oh_is_dictionary(q, desc))
			font_cid_widths(q, desc, f);
		else
			f->dw = 1000;
		return f;
	}
	font_simple(q, fo, f, strcmp(sub, "/Type1") == 0 || strcmp(sub, "/MMType1") == 0);
	return f;
}

/* ---------------------------------------------------------------- */
/* The handle                                                        */

/* Pages read through one qpdf handle before a fresh one takes over (see
 * pdf_split.c's SPLITTER_REOPEN_PAGES: qpdf keeps what it parsed). */
#define FT_REOPEN_PAGES 1000

struct pdf_fasttext {
	qpdf_data q;
	int npages;
	int (*page_ids)[2];      /* each page's object number and generation */
	int pages_read;          /* since q was opened */
	const uint8_t *data;     /* the input, to open it again */
	size_t len;
	char *password;
	GHashTable *fonts;       /* (id << 32 | gen) -> struct font * */
	struct budget bud;
	struct buf scratch;      /* lexer scratch, reused page after page */
	struct buf out;          /* raw text of the page */
	struct lexop {           /* operand stack */
		enum tok t;
		double num;
		size_t off, len;     /* strings, names: scratch; arrays: elems */
	} ops[FT_OPERANDS];
	struct lexop *elems;     /* [FT_ELEMS], elements of the array operand */
	/* Bounded decoding (pdf_decode.h), into buffers reused page after
	 * page: the page's content, each level of forms, one CMap. */
	struct pdf_limits lim;
	struct pdf_decoder *dec;
	struct buf content, part, cmapbuf;
	struct buf forms[FT_FORM_DEPTH];
	atomic_size_t own_decoded;
	atomic_size_t *decoded;  /* decoded bytes of the document, all handles */
	GHashTable *gated;       /* stream (id << 32 | gen) -> decoded size + 1, 0 unsafe */
	int refused;             /* the page was refused: refusal says why */
	struct error refusal;
};

static void font_free_v(gpointer p)
{
	font_free(p);
}

int pdf_fasttext_open(const uint8_t *data, size_t len, const char *password,
		      struct pdf_fasttext **out, struct error *e)
{
	struct pdf_fasttext *ft;
	int warned = 0;

	*out = NULL;
	ft = xcalloc(1, sizeof *ft);
	if (pdf_qpdf_open(data, len, password, 0, &ft->q, &ft->npages, &warned, e) < 0) {
		free(ft);
		return -1;
	}
	/* Warnings from the repair pdf_check() accepted: not needed. */
	while (qpdf_more_warnings(ft->q))
		qpdf_next_warning(ft->q);
	/* Pages are found by number, so that a fresh handle need not read
	 * the whole page tree again. */
	ft->page_ids = xcalloc((size_t)ft->npages, sizeof *ft->page_ids);
	for (int i = 0; i < ft->npages; i++) {
		qpdf_oh p = qpdf_get_page_n(ft->q, (size_t)i);
		ft->page_ids[i][0] = qpdf_oh_get_object_id(ft->q, p);
		ft->page_ids[i][1] = qpdf_oh_get_generation(ft->q, p);
		qpdf_oh_release(ft->q, p);
	}
	ft->data = data;
	ft->len = len;
	ft->password = password && *password ? xstrdup(password) : NULL;
	ft->fonts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, font_free_v);
	buf_init(&ft->scratch, FT_SCRATCH_MAX);
	/* Strings are slices of scratch: it must never be NULL, even empty
	 * (an empty string shown would be NULL + 0). */
	buf_reserve(&ft->scratch, 256);
	buf_init(&ft->out, PDF_TEXT_PAGE_MAX);
	ft->elems = xmalloc(FT_ELEMS * sizeof *ft->elems);
	pdf_limits_get(&ft->lim);
	ft->dec = pdf_decoder_new();
	buf_init(&ft->content, SIZE_MAX / 2);
	buf_init(&ft->part, SIZE_MAX / 2);
	buf_init(&ft->cmapbuf, SIZE_MAX / 2);
	for (int i = 0; i < FT_FORM_DEPTH; i++)
		buf_init(&ft->forms[i], SIZE_MAX / 2);
	atomic_init(&ft->own_decoded, 0);
	ft->decoded = &ft->own_decoded;
	ft->gated = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	*out = ft;
	return 0;
}

int pdf_fasttext_npages(const struct pdf_fasttext *ft)
{
	return ft->npages;
}

void pdf_fasttext_close(struct pdf_fasttext **ft)
{
	if (!ft || !*ft)
		return;
	if ((*ft)->q)
		qpdf_cleanup(&(*ft)->q);
	free((*ft)->page_ids);
	if ((*ft)->password)
		secure_wipe((*ft)->password, strlen((*ft)->password));
	free((*ft)->password);
	if ((*ft)->fonts)
		g_hash_table_destroy((*ft)->fonts);
	buf_free(&(*ft)->scratch);
	buf_free(&(*ft)->out);
	free((*ft)->elems);
	pdf_decoder_free(&(*ft)->dec);
	buf_free(&(*ft)->content);
	buf_free(&(*ft)->part);
	buf_free(&(*ft)->cmapbuf);
	for (int i = 0; i < FT_FORM_DEPTH; i++)
		buf_free(&(*ft)->forms[i]);
	if ((*ft)->gated)
		g_hash_table_destroy((*ft)->gated);
	free(*ft);
	*ft = NULL;
}

/* ---------------------------------------------------------------- */
/* The interpreter                                                   */

struct gstate {
	struct font *font;
	double fs, tc, tw, th, tl;
	unsigned ctm;            /* which CTM: changed by cm, forms */
};

struct page_run {
	struct pdf_fasttext *ft;
	const char *bad;         /* why the page is undecodable, or NULL */
	struct gstate gs[FT_GSTACK];
	int gsd, gsover;
	unsigned ctm_next;
	double tm[6], tlm[6];
	/* where the last shown string ended (text space origin, user space) */
	int have_prev;
	double px, py;
	unsigned pctm;
	int sep;                 /* 0, ' ' or '\n' owed before the next char */
	int full;                /* out reached PDF_TEXT_PAGE_MAX */
	size_t lexed;
	int page;                /* 1-based, for refusals */
	size_t decoded;          /* bytes decoded for this page */
	int forms, depth;
	int form_ids[FT_FORM_DEPTH];
	struct font *owned[FT_PAGE_FONTS];  /* direct fonts, freed after the page */
	int nowned;
};

/* One content stream (page or form) with its resources. */
struct content {
	qpdf_oh res;
	struct {
		char name[FT_NAME_MAX + 1];
		struct font *f;
	} names[FT_NAMECACHE];
	int nnames;
};

static void set_bad(struct page_run *r, const char *why)
{
	if (!r->bad)
		r->bad = why;
}

/*
 * Decode stream s for page r into out within the limits: one stream at
 * most stream_max, the page's streams together at most page_max, the
 * document's at most doc_max.  Passing one refuses the page (the whole
 * input): r->ft->refusal names the page, what was decoded and the setting.
 */
static int ft_decode(struct page_run *r, qpdf_oh s, const char *what, struct buf *out)
{
	struct pdf_fasttext *ft = r->ft;
	const struct pdf_limits *lim = &ft->lim;
	size_t page_left = lim->page_max > r->decoded ? lim->page_max - r->decoded : 0;
	size_t done = atomic_load(ft->decoded);
	size_t doc_left = lim->doc_max > done ? lim->doc_max - done : 0;
	size_t cap = lim->stream_max, len = 0;
	char sz[32];
	int rc;

	if (page_left < cap)
		cap = page_left;
	if (doc_left < cap)
		cap = doc_left;
	rc = pdf_stream_decode(ft->dec, ft->q, s, cap, out, &len);
	if (rc == PDF_DECODE_LIMIT) {
		if (cap == lim->stream_max)
			err_set(&ft->refusal, "page %d: %s decodes to more than %s ([limits] pdf_stream_max)",
				r->page, what, pdf_size_text(lim->stream_max, sz, sizeof sz));
		else if (cap == page_left)
			err_set(&ft->refusal, "page %d: its streams decode to more than %s together "
				"([limits] pdf_page_decoded)", r->page,
				pdf_size_text(lim->page_max, sz, sizeof sz));
		else
			err_set(&ft->refusal, "page %d: the PDF's streams decode to more than %s in all "
				"([limits] pdf_decoded)", r->page, pdf_size_text(lim->doc_max, sz, sizeof sz));
		ft->refused = 1;
		set_bad(r, "refused");
		return rc;
	}
	if (rc == PDF_DECODE_OK) {
		r->decoded += len;
		atomic_fetch_add(ft->decoded, len);
	}
	return rc;
}

static void want_sep(struct page_run *r, int c)
{
	if (c == '\n' || r->sep == 0)
		r->sep = c;
}

static void put_cp(struct page_run *r, uint32_t cp)
{
	char u[8];
	int n;

	if (r->full || cp == 0)
		return;
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (r->sep) {
		if (r->ft->out.len > 0) {
			uint8_t last = r->ft->out.data[r->ft->out.len - 1];
			if (last != ' ' && last != '\n' && buf_append_u8(&r->ft->out, (uint8_t)r->sep) < 0) {
				r->full = 1;
				return;
			}
		}
		r->sep = 0;
	}
	n = g_unichar_to_utf8(cp, u);
	if (buf_append(&r->ft->out, u, (size_t)n) < 0)
		r->full = 1;
}

static void put_val(struct page_run *r, const struct cmap *m, uint32_t v)
{
	if (v & SEQ) {
		const uint32_t *s = m->pool + (v & ~SEQ);
		for (uint32_t i = 0; i < s[0]; i++)
			put_cp(r, s[1 + i]);
	} else {
		put_cp(r, v);
	}
}

static void mat_mul_translate(double *m, double tx, double ty)
{
	/* [1 0 0 1 tx ty] x m */
	m[4] += tx * m[0] + ty * m[2];
	m[5] += tx * m[1] + ty * m[3];
}

/* Does the string about to be shown continue the last one? */
static void place(struct page_run *r, const struct gstate *g, const struct font *f)
{
	double dx, dy, det, ux, uy, em, along, across;

	if (!r->have_prev)
		return;
	if (g->ctm != r->pctm) {
		want_sep(r, '\n');
		return;
	}
	dx = r->tm[4] - r->px;
	dy = r->tm[5] - r->py;
	if (dx == 0 && dy == 0)
		return;
	det = r->tm[0] * r->tm[3] - r->tm[1] * r->tm[2];
	em = fabs(g->fs);
	if (!(fabs(det) > 1e-12) || !(em > 1e-9) || !isfinite(det) || !isfinite(dx) || !isfinite(dy)) {
		want_sep(r, '\n');
		return;
	}
	/* The move in text space, in units of the font size. */
	ux = (r->tm[3] * dx - r->tm[2] * dy) / det / em;
	uy = (r->tm[0] * dy - r->tm[1] * dx) / det / em;
	if (f->vertical) {
		along = -uy;
		across = ux;
	} else {
		along = ux / (g->th > 1e-6 ? g->th : 1);
		across = uy;
	}
	if (!(fabs(across) <= FT_LINE_GAP))
		want_sep(r, '\n');
	else if (!(along <= FT_WORD_GAP && along >= FT_BACK_GAP))
		want_sep(r, ' ');
}

static void advance(struct page_run *r, const struct gstate *g, const struct font *f, double w0,
		    int space)
{
	if (f->vertical) {
		double ty = -(w0 * g->fs + g->tc + (space ? g->tw : 0));
		mat_mul_translate(r->tm, 0, ty);
	} else {
		double tx = (w0 * g->fs + g->tc + (space ? g->tw : 0)) * g->th;
		mat_mul_translate(r->tm, tx, 0);
	}
}

static void show(struct page_run *r, const uint8_t *s, size_t n)
{
	struct gstate *g = &r->gs[r->gsd];
	struct font *f = g->font;

	if (!f)
		return; /* no font selected: nothing is shown (as poppler does) */
	if (f->bad) {
		set_bad(r, f->bad);
		return;
	}
	place(r, g, f);
	if (!f->cid) {
		for (size_t i = 0; i < n; i++) {
			uint32_t v = f->tu ? cmap_get(f->tu, s[i]) : 0;
			if (v)
				put_val(r, f->tu, v);
			else if (f->simple[s[i]] == SIMPLE_BAD)
				set_bad(r, "a simple font whose encoding is not known");
			else
				put_cp(r, f->simple[s[i]]);
			advance(r, g, f, f->widths[s[i]] / 1000.0, s[i] == ' ');
		}
	} else {
		size_t i = 0;
		while (i < n) {
			size_t cl = f->identity ? 2 : cmap_code_len(f->enc, s + i, n - i);
			uint32_t code = 0, v;
			if (cl > n - i)
				break; /* a partial code at the end */
			for (size_t j = 0; j < cl; j++)
				code = code << 8 | s[i + j];
			v = cmap_get(f->tu, code);
			if (v)
				put_val(r, f->tu, v);
			else if (code == 0)
				want_sep(r, ' '); /* .notdef */
			else
				set_bad(r, "a code its ToUnicode CMap does not map");
			advance(r, g, f, font_width(f, code) / 1000.0, cl == 1 && code == 32);
			i += cl;
		}
	}
	r->px = r->tm[4];
	r->py = r->tm[5];
	r->pctm = g->ctm;
	r->have_prev = 1;
}

static uint64_t obj_key(qpdf_data q, qpdf_oh o)
{
	return (uint64_t)(uint32_t)qpdf_oh_get_object_id(q, o) << 32 |
	       (uint32_t)qpdf_oh_get_generation(q, o);
}

/* The font named name in the content's resources, or NULL. */
static struct font *font_lookup(struct page_run *r, struct content *c, const char *name)
{
	struct pdf_fasttext *ft = r->ft;
	qpdf_data q = ft->q;
	char key[FT_NAME_MAX + 2];
	struct font *f = NULL;
	qpdf_oh fo;
	uint64_t k;

	for (int i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i].name, name) == 0)
			return c->names[i].f;
	if (str_fmt(key, sizeof key, "/%s", name) < 0)
		return NULL;
	fo = qpdf_oh_get_key(q, qpdf_oh_get_key(q, c->res, "/Font"), key);
	if (!qpdf_oh_is_dictionary(q, fo))
		goto out; /* missing: poppler shows nothing either */
	if (qpdf_oh_is_indirect(q, fo)) {
		k = obj_key(q, fo);
		f = g_hash_table_lookup(ft->fonts, &k);
		if (!f) {
			if (g_hash_table_size(ft->fonts) >= FT_FONTS_MAX) {
				set_bad(r, "more fonts than the limit");
				goto out;
			}
			f = font_load(r, q, fo, &ft->cmapbuf, &ft->bud);
			g_hash_table_insert(ft->fonts, g_memdup2(&k, sizeof k), f);
		}
	} else {
		if (r->nowned >= FT_PAGE_FONTS) {
			set_bad(r, "more fonts than the limit");
			goto out;
		}
		f = font_load(r, q, fo, &ft->cmapbuf, &ft->bud);
		r->owned[r->nowned++] = f;
	}
out:
	if (c->nnames < FT_NAMECACHE) {
		str_copy(c->names[c->nnames].name, name, sizeof c->names[0].name);
		c->names[c->nnames].f = f;
		c->nnames++;
	}
	return f;
}

static void run_content(struct page_run *r, const uint8_t *data, size_t len, qpdf_oh res);

/* Do: run a form XObject (§8.10); images and the rest show no text. */
static void do_xobject(struct page_run *r, struct content *c, const char *name)
{
	qpdf_data q = r->ft->q;
	char key[FT_NAME_MAX + 2];
	qpdf_oh xo, dict, fres;
	struct buf *d;
	int id;
	struct gstate saved;
	int saved_d, saved_over;
	double tm[6], tlm[6];

	if (str_fmt(key, sizeof key, "/%s", name) < 0)
		return;
	xo = qpdf_oh_get_key(q, qpdf_oh_get_key(q, c->res, "/XObject"), key);
	if (!qpdf_oh_is_stream(q, xo))
		return;
	dict = qpdf_oh_get_dict(q, xo);
	if (!qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, dict, "/Subtype"), "/Form"))
		return;
	id = qpdf_oh_get_object_id(q, xo);
	for (int i = 0; i < r->depth; i++)
		if (r->form_ids[i] == id)
			return; /* a cycle: poppler stops there too */
	if (r->depth >= FT_FORM_DEPTH || ++r->forms > FT_FORMS_PAGE) {
		set_bad(r, "form XObjects nested or repeated beyond the limits");
		return;
	}
	d = &r->ft->forms[r->depth];
	if (ft_decode(r, xo, "a form XObject", d) != PDF_DECODE_OK) {
		set_bad(r, "a form XObject that cannot be decoded");
		return;
	}
	fres = qpdf_oh_get_key(q, dict, "/Resources");
	if (!qpdf_oh_is_dictionary(q, fres))
		fres = c->res; /* inherited from the page (older files) */

	want_sep(r, '\n');
	saved = r->gs[r->gsd];
	saved_d = r->gsd;
	saved_over = r->gsover;
	memcpy(tm, r->tm, sizeof tm);
	memcpy(tlm, r->tlm, sizeof tlm);
	r->gs[r->gsd].ctm = ++r->ctm_next; /* the form's /Matrix */
	r->form_ids[r->depth++] = id;
	run_content(r, d->data, d->len, fres);
	r->depth--;
	r->gsd = saved_d;
	r->gsover = saved_over;
	r->gs[r->gsd] = saved;
	memcpy(r->tm, tm, sizeof tm);
	memcpy(r->tlm, tlm, sizeof tlm);
	want_sep(r, '\n');
}

/* Skip an inline image's data after ID (§8.9.7): up to white space, EI,
 * and white space or the end. */
static void skip_inline_image(struct lex *l)
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

static double num_op(const struct pdf_fasttext *ft, int nops, int i)
{
	/* i counts from the end: 1 is the last operand. */
	const struct lexop *o = &ft->ops[nops - i];
	return o->t == T_NUM ? o->num : 0;
}

static int ops_are(const struct pdf_fasttext *ft, int nops, const char *types)
{
	int n = (int)strlen(types);
	if (nops < n)
		return 0;
	for (int i = 0; i < n; i++) {
		enum tok want = types[i] == 'n' ? T_NUM : types[i] == 's' ? T_STR :
				types[i] == 'a' ? T_AOPEN : T_NAME;
		if (ft->ops[nops - n + i].t != want)
			return 0;
	}
	return 1;
}

static void next_line(struct page_run *r, double tx, double ty)
{
	mat_mul_translate(r->tlm, tx, ty);
	memcpy(r->tm, r->tlm, sizeof r->tm);
}

static void op(struct page_run *r, struct content *c, const struct token *t, int nops)
{
	struct pdf_fasttext *ft = r->ft;
	struct gstate *g = &r->gs[r->gsd];
	const uint8_t *k = t->kw;
	size_t n = t->kwlen;
	char name[FT_NAME_MAX + 1];

#define IS(s) (n == sizeof(s) - 1 && memcmp(k, s, n) == 0)
	if (n == 0 || n > 2)
		return;
	if (IS("Tj")) {
		if (ops_are(ft, nops, "s"))
			show(r, ft->scratch.data + ft->ops[nops - 1].off, ft->ops[nops - 1].len);
	} else if (IS("TJ")) {
		if (!ops_are(ft, nops, "a"))
			return;
		const struct lexop *a = &ft->ops[nops - 1];
		for (size_t i = 0; i < a->len; i++) {
			const struct lexop *el = &ft->elems[a->off + i];
			if (el->t == T_STR) {
				show(r, ft->scratch.data + el->off, el->len);
			} else if (el->t == T_NUM && g->font) {
				double d = -el->num / 1000.0 * g->fs;
				if (g->font->vertical)
					mat_mul_translate(r->tm, 0, d);
				else
					mat_mul_translate(r->tm, d * g->th, 0);
			}
		}
	} else if (IS("'")) {
		next_line(r, 0, -g->tl);
		if (ops_are(ft, nops, "s"))
			show(r, ft->scratch.data + ft->ops[nops - 1].off, ft->ops[nops - 1].len);
	} else if (IS("\"")) {
		if (ops_are(ft, nops, "nns")) {
			g->tw = num_op(ft, nops, 3);
			g->tc = num_op(ft, nops, 2);
		}
		next_line(r, 0, -g->tl);
		if (ops_are(ft, nops, "s"))
			show(r, ft->scratch.data + ft->ops[nops - 1].off, ft->ops[nops - 1].len);
	} else if (IS("Td")) {
		if (ops_are(ft, nops, "nn"))
			next_line(r, num_op(ft, nops, 2), num_op(ft, nops, 1));
	} else if (IS("TD")) {
		if (ops_are(ft, nops, "nn")) {
			g->tl = -num_op(ft, nops, 1);
			next_line(r, num_op(ft, nops, 2), num_op(ft, nops, 1));
		}
	} else if (IS("T*")) {
		next_line(r, 0, -g->tl);
	} else if (IS("Tm")) {
		if (ops_are(ft, nops, "nnnnnn")) {
			for (int i = 0; i < 6; i++)
				r->tlm[i] = r->tm[i] = num_op(ft, nops, 6 - i);
		}
	} else if (IS("BT")) {
		static const double id[6] = { 1, 0, 0, 1, 0, 0 };
		memcpy(r->tm, id, sizeof id);
		memcpy(r->tlm, id, sizeof id);
	} else if (IS("Tf")) {
		if (ops_are(ft, nops, "/n")) {
			const struct lexop *o = &ft->ops[nops - 2];
			size_t l = o->len < FT_NAME_MAX ? o->len : FT_NAME_MAX;
			memcpy(name, ft->scratch.data + o->off, l);
			name[l] = '\0';
			g->font = font_lookup(r, c, name);
			g->fs = num_op(ft, nops, 1);
		}
	} else if (IS("Tc")) {
		if (ops_are(ft, nops, "n"))
			g->tc = num_op(ft, nops, 1);
	} else if (IS("Tw")) {
		if (ops_are(ft, nops, "n"))
			g->tw = num_op(ft, nops, 1);
	} else if (IS("Tz")) {
		if (ops_are(ft, nops, "n"))
			g->th = num_op(ft, nops, 1) / 100.0;
	} else if (IS("TL")) {
		if (ops_are(ft, nops, "n"))
			g->tl = num_op(ft, nops, 1);
	} else if (IS("q")) {
		if (r->gsd + 1 < FT_GSTACK) {
			r->gs[r->gsd + 1] = *g;
			r->gsd++;
		} else {
			r->gsover++;
		}
	} else if (IS("Q")) {
		if (r->gsover > 0)
			r->gsover--;
		else if (r->gsd > 0)
			r->gsd--;
	} else if (IS("cm")) {
		g->ctm = ++r->ctm_next;
	} else if (IS("Do")) {
		if (ops_are(ft, nops, "/")) {
			const struct lexop *o = &ft->ops[nops - 1];
			size_t l = o->len < FT_NAME_MAX ? o->len : FT_NAME_MAX;
			memcpy(name, ft->scratch.data + o->off, l);
			name[l] = '\0';
			do_xobject(r, c, name);
		}
	}
#undef IS
}

static void run_content(struct page_run *r, const uint8_t *data, size_t len, qpdf_oh res)
{
	struct pdf_fasttext *ft = r->ft;
	struct content c;
	struct lex l;
	struct token t;
	int nops = 0, arr = 0, dict = 0;
	size_t nelems = 0;

	if (r->lexed > FT_LEXED_PAGE || len > FT_LEXED_PAGE - r->lexed) {
		set_bad(r, "more content than the limit");
		return;
	}
	r->lexed += len;
	if (data == NULL || len == 0)
		return; /* an empty content stream shows nothing */
	memset(&c, 0, sizeof c);
	c.res = res;
	buf_reset(&ft->scratch);
	l.p = data;
	l.end = data + len;
	l.scratch = &ft->scratch;
	l.overflow = 0;
	while (!r->bad && !r->full) {
		lex_next(&l, &t);
		if (t.t == T_EOF)
			break;
		if (dict > 0) {
			/* Dictionaries (marked content properties) show no text. */
			if (t.t == T_DOPEN)
				dict++;
			else if (t.t == T_DCLOSE)
				dict--;
			if (dict == 0 && arr == 0 && nops < FT_OPERANDS)
				ft->ops[nops++].t = T_DOPEN;
			continue;
		}
		if (t.t == T_DOPEN) {
			dict = 1;
			continue;
		}
		if (arr > 0) {
			if (t.t == T_AOPEN) {
				arr++;
			} else if (t.t == T_ACLOSE) {
				if (--arr == 0) {
					struct lexop *o;
					if (nops == FT_OPERANDS) {
						memmove(ft->ops, ft->ops + 1, (FT_OPERANDS - 1) * sizeof *ft->ops);
						nops--;
					}
					o = &ft->ops[nops++];
					o->t = T_AOPEN;
					o->off = 0;
					o->len = nelems;
				}
			} else if (arr == 1 && (t.t == T_NUM || t.t == T_STR)) {
				if (nelems == FT_ELEMS) {
					set_bad(r, "an array longer than the limit");
					break;
				}
				ft->elems[nelems].t = t.t;
				ft->elems[nelems].num = t.num;
				ft->elems[nelems].off = t.off;
				ft->elems[nelems].len = t.len;
				nelems++;
			}
			continue;
		}
		switch (t.t) {
		case T_AOPEN:
			arr = 1;
			nelems = 0; /* one array operand at a time is kept */
			for (int i = 0; i < nops; i++)
				if (ft->ops[i].t == T_AOPEN)
					ft->ops[i].t = T_EOF;
			break;
		case T_NUM:
		case T_NAME:
		case T_STR:
			if (nops == FT_OPERANDS) {
				memmove(ft->ops, ft->ops + 1, (FT_OPERANDS - 1) * sizeof *ft->ops);
				nops--;
			}
			ft->ops[nops].t = t.t;
			ft->ops[nops].num = t.num;
			ft->ops[nops].off = t.off;
			ft->ops[nops].len = t.len;
			nops++;
			break;
		case T_KW:
			if (l.overflow) {
				set_bad(r, "strings longer than the limit");
				break;
			}
			if (t.kwlen == 2 && t.kw[0] == 'B' && t.kw[1] == 'I') {
				/* The image dictionary, then the data after ID. */
				struct token u;
				do
					lex_next(&l, &u);
				while (u.t != T_EOF && !kw_is(&u, "ID"));
				skip_inline_image(&l);
			} else {
				op(r, &c, &t, nops);
			}
			nops = 0;
			nelems = 0;
			buf_reset(&ft->scratch);
			l.overflow = 0;
			break;
		default:
			break; /* stray ] or >> */
		}
	}
	/* Strings cut by the limit reach no operator: say so. */
	if (l.overflow)
		set_bad(r, "strings longer than the limit");
}

/*
 * Code points NFKC leaves alone whatever surrounds them: no decomposition,
 * combining class 0, never the second of a composition.  Text is mostly
 * these (ASCII, kana, common ideographs), and normalising only the runs
 * of other characters, each with the character before it (which they
 * may compose with), gives the same result as normalising everything.
 */
static int nfkc_stable(gunichar c)
{
	return (c >= 0x20 && c < 0x7F) || c == '\n' || (c >= 0x3001 && c <= 0x3002) ||
	       (c >= 0x3041 && c <= 0x3096) || (c >= 0x30A1 && c <= 0x30FA) || c == 0x30FC ||
	       (c >= 0x4E00 && c <= 0x9FFF);
}

/* NFKC of the valid UTF-8 s[0..n), as g_utf8_normalize() would give it. */
static char *nfkc(const char *s, size_t n, size_t *outlen)
{
	GString *o = g_string_sized_new(n + 1);
	const char *p = s, *end = s + n, *done = s;

	while (p < end) {
		const char *q, *start;
		if (nfkc_stable(g_utf8_get_char(p))) {
			p = g_utf8_next_char(p);
			continue;
		}
		/* An unstable run from p, with the character before it. */
		start = p > done ? g_utf8_prev_char(p) : p;
		q = p;
		while (q < end && !nfkc_stable(g_utf8_get_char(q)))
			q = g_utf8_next_char(q);
		g_string_append_len(o, done, start - done);
		{
			char *nm = g_utf8_normalize(start, q - start, G_NORMALIZE_NFKC);
			if (nm) {
				g_string_append(o, nm);
				g_free(nm);
			}
		}
		done = p = q;
	}
	g_string_append_len(o, done, end - done);
	if (outlen)
		*outlen = o->len;
	return g_string_free(o, FALSE);
}

/* The page's /Resources, inherited through /Parent if need be (§7.7.3.4). */
static qpdf_oh page_resources(qpdf_data q, qpdf_oh page)
{
	qpdf_oh node = page;
	for (int i = 0; i < FT_RES_DEPTH && qpdf_oh_is_dictionary(q, node); i++) {
		qpdf_oh res = qpdf_oh_get_key(q, node, "/Resources");
		if (qpdf_oh_is_dictionary(q, res))
			return res;
		node = qpdf_oh_get_key(q, node, "/Parent");
	}
	return qpdf_oh_new_dictionary(q);
}

/* A fresh qpdf handle on the same bytes; fonts stay cached by number. */
static int reopen(struct pdf_fasttext *ft, struct error *e)
{
	qpdf_data q;
	if (pdf_qpdf_reopen(ft->data, ft->len, ft->password, &q, e) < 0)
		return -1;
	qpdf_cleanup(&ft->q);
	ft->q = q;
	ft->pages_read = 0;
	return 0;
}

/*
 * The page's content streams, decoded within the limits and joined with
 * a newline between them (as qpdf and poppler join them), into
 * ft->content.  Returns a pdf_decode_rc.
 */
static int page_content(struct page_run *r, qpdf_oh po)
{
	struct pdf_fasttext *ft = r->ft;
	qpdf_data q = ft->q;
	qpdf_oh c = qpdf_oh_get_key_if_dict(q, po, "/Contents");
	int n;

	buf_reset(&ft->content);
	if (qpdf_oh_is_stream(q, c))
		return ft_decode(r, c, "a content stream", &ft->content);
	if (!qpdf_oh_is_array(q, c))
		return PDF_DECODE_OK; /* no content: an empty page */
	n = qpdf_oh_get_array_n_items(q, c);
	for (int i = 0; i < n; i++) {
		qpdf_oh s = qpdf_oh_get_array_item(q, c, i);
		int rc;
		if (!qpdf_oh_is_stream(q, s))
			continue;
		rc = ft_decode(r, s, "a content stream", &ft->part);
		if (rc != PDF_DECODE_OK)
			return rc;
		if ((ft->content.len > 0 && buf_append_u8(&ft->content, '\n') < 0) ||
		    buf_append(&ft->content, ft->part.data, ft->part.len) < 0)
			return PDF_DECODE_LIMIT;
	}
	return PDF_DECODE_OK;
}

static void page_run_init(struct page_run *r, struct pdf_fasttext *ft, int page)
{
	memset(r, 0, sizeof *r);
	r->ft = ft;
	r->page = page;
	r->gs[0].th = 1;
	r->tm[0] = r->tm[3] = r->tlm[0] = r->tlm[3] = 1;
	ft->refused = 0;
}

int pdf_fasttext_page(struct pdf_fasttext *ft, int page, char **text, size_t *len,
		      const char **why, struct error *e)
{
	qpdf_data q;
	struct page_run *r = NULL;
	qpdf_oh po;
	char *norm;
	int ret = PDF_FASTTEXT_UNDECODABLE;

	*text = NULL;
	if (len)
		*len = 0;
	if (why)
		*why = NULL;
	if (page < 1 || page > ft->npages)
		return err_set(e, "page %d does not exist (the PDF has %d)", page, ft->npages);
	if (ft->pages_read++ >= FT_REOPEN_PAGES && reopen(ft, e) < 0)
		return -1;
	q = ft->q;
	r = xmalloc(sizeof *r);
	page_run_init(r, ft, page);
	buf_reset(&ft->out);

	po = qpdf_get_object_by_id(q, ft->page_ids[page - 1][0], ft->page_ids[page - 1][1]);
	if (page_content(r, po) != PDF_DECODE_OK) {
		set_bad(r, "page content that cannot be decoded");
		goto out;
	}
	run_content(r, ft->content.data, ft->content.len, page_resources(q, po));
	if (qpdf_has_error(q)) {
		qpdf_get_error(q); /* clears it */
		set_bad(r, "an object qpdf cannot read");
	}
	if (r->bad)
		goto out;
	norm = nfkc(ft->out.data ? (const char *)ft->out.data : "", ft->out.len, len);
	*text = norm;
	ret = PDF_FASTTEXT_OK;
out:
	if (ft->refused) {
		if (e)
			*e = ft->refusal;
		ret = -1;
	} else if (r->bad && why) {
		*why = r->bad;
	}
	while (qpdf_more_warnings(q))
		qpdf_next_warning(q);
	/* Handles of this page are not needed again; fonts are cached as
	 * parsed structures, not handles. */
	qpdf_oh_release_all(q);
	for (int i = 0; i < r->nowned; i++)
		font_free(r->owned[i]);
	free(r);
	/* Large buffers go back after the page: a thread keeps only small
	 * ones between pages. */
	if (ft->content.cap > FT_KEEP_MAX)
		buf_free(&ft->content);
	if (ft->part.cap > FT_KEEP_MAX)
		buf_free(&ft->part);
	if (ft->cmapbuf.cap > FT_KEEP_MAX)
		buf_free(&ft->cmapbuf);
	for (int i = 0; i < FT_FORM_DEPTH; i++)
		if (ft->forms[i].cap > FT_KEEP_MAX)
			buf_free(&ft->forms[i]);
	return ret;
}

/* Objects the poppler gate visits on one page before giving up. */
#define FT_GATE_OBJECTS 100000

/*
 * May poppler read this page?  poppler decodes, whole, every stream it
 * meets: the content, forms, fonts and their CMaps, annotation
 * appearances.  So each stream reachable from the page (but images, which
 * its text output never decodes) is decoded here first, counting only,
 * within the same limits as the text reader; results are kept per
 * stream.  Returns 0 when every one decodes within them, 1 when one
 * cannot be decoded here (poppler is not given the page: no text from
 * it), -1 with e filled when one passes a limit (the input is refused).
 */
static int gate_page(struct pdf_fasttext *ft, int page, struct error *e)
{
	qpdf_data q = ft->q;
	GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	GArray *stack = g_array_new(FALSE, FALSE, sizeof(qpdf_oh));
	GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
	struct page_run *r = xmalloc(sizeof *r);
	size_t visited = 0;
	qpdf_oh po, node;
	int ret = 0;

	page_run_init(r, ft, page);
	po = qpdf_get_object_by_id(q, ft->page_ids[page - 1][0], ft->page_ids[page - 1][1]);
	g_array_append_val(stack, po);
	/* Resources inherited from the page tree are the page's too. */
	node = qpdf_oh_get_key_if_dict(q, po, "/Parent");
	for (int i = 0; i < FT_RES_DEPTH && qpdf_oh_is_dictionary(q, node); i++) {
		qpdf_oh res = qpdf_oh_get_key_if_dict(q, node, "/Resources");
		g_array_append_val(stack, res);
		node = qpdf_oh_get_key_if_dict(q, node, "/Parent");
	}
	while (stack->len > 0 && ret == 0) {
		qpdf_oh oh = g_array_index(stack, qpdf_oh, stack->len - 1);
		enum qpdf_object_type_e t;
		qpdf_oh dict;

		g_array_set_size(stack, stack->len - 1);
		if (qpdf_oh_is_indirect(q, oh)) {
			uint64_t k = obj_key(q, oh);
			if (visited >= FT_GATE_OBJECTS) {
				ret = 1;
				break;
			}
			if (g_hash_table_contains(seen, &k))
				continue;
			g_hash_table_add(seen, g_memdup2(&k, sizeof k));
			visited++;
		}
		t = qpdf_oh_get_type_code(q, oh);
		if (t == ot_array) {
			int n = qpdf_oh_get_array_n_items(q, oh);
			for (int i = 0; i < n; i++) {
				qpdf_oh item = qpdf_oh_get_array_item(q, oh, i);
				g_array_append_val(stack, item);
			}
			continue;
		}
		if (t != ot_dictionary && t != ot_stream)
			continue;
		dict = t == ot_stream ? qpdf_oh_get_dict(q, oh) : oh;
		if (oh != po) {
			/* Other pages, the page tree and the catalog are
			 * not this page's. */
			qpdf_oh type = qpdf_oh_get_key(q, dict, "/Type");
			if (qpdf_oh_is_name_and_equals(q, type, "/Page") ||
			    qpdf_oh_is_name_and_equals(q, type, "/Pages") ||
			    qpdf_oh_is_name_and_equals(q, type, "/Catalog"))
				continue;
		}
		pdf_dict_push_values(q, dict, keys, stack);
		if (t == ot_stream &&
		    !qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, dict, "/Subtype"), "/Image")) {
			uint64_t key = obj_key(q, oh);
			gpointer v;
			size_t size, before = r->decoded;
			if (g_hash_table_lookup_extended(ft->gated, &key, NULL, &v)) {
				size = (size_t)GPOINTER_TO_SIZE(v);
				if (size == 0) {
					ret = 1;
				} else if (size - 1 > ft->lim.page_max - r->decoded) {
					char sz[32];
					err_set(e, "page %d: its streams decode to more than %s together "
						"([limits] pdf_page_decoded)", page,
						pdf_size_text(ft->lim.page_max, sz, sizeof sz));
					ret = -1;
				} else {
					r->decoded += size - 1;
				}
				continue;
			}
			switch (ft_decode(r, oh, "a stream it uses", NULL)) {
			case PDF_DECODE_OK:
				size = r->decoded - before + 1;
				break;
			case PDF_DECODE_LIMIT:
				*e = ft->refusal;
				ret = -1;
				continue;
			default:
				size = 0;
				ret = 1;
				break;
			}
			g_hash_table_insert(ft->gated, g_memdup2(&key, sizeof key),
					    GSIZE_TO_POINTER(size));
		}
	}
	if (qpdf_has_error(q)) {
		qpdf_get_error(q);
		if (ret == 0)
			ret = 1;
	}
	while (qpdf_more_warnings(q))
		qpdf_next_warning(q);
	qpdf_oh_release_all(q);
	g_ptr_array_free(keys, TRUE);
	g_array_free(stack, TRUE);
	g_hash_table_destroy(seen);
	free(r);
	return ret;
}

/* ---------------------------------------------------------------- */
/* Threads, with poppler for what is not decodable here               */

static atomic_long fallbacks;
/* poppler sets up process-wide state on its first open: opens from the
 * worker threads take turns. */
static pthread_mutex_t poppler_open_lock = PTHREAD_MUTEX_INITIALIZER;

long pdf_fasttext_fallbacks(void)
{
	return atomic_load(&fallbacks);
}

#define CHUNK 16

struct fjob {
	const uint8_t *data;
	size_t len;
	const char *password;
	struct pdf_fasttext *ft;
	struct pdf_text *pop;
	int last;
	atomic_int *next, *stop;
	atomic_size_t *decoded;   /* the document's decoded bytes, all threads */
	pdf_text_fn fn;
	void *ctx;
	pthread_mutex_t *lock;    /* guards *err and *failed */
	struct error *err;
	int *failed;
	pthread_t tid;
};

static void fjob_fail(struct fjob *j, const struct error *e)
{
	pthread_mutex_lock(j->lock);
	if (!*j->failed) {
		*j->failed = 1;
		*j->err = *e;
	}
	pthread_mutex_unlock(j->lock);
	atomic_store(j->stop, 1);
}

/* Page p read by poppler, with the thread's PopplerDocument (opened on
 * first use); NULL with e filled on failure. */
static char *poppler_page(struct fjob *j, int p, size_t *len, struct error *e)
{
	if (!j->pop) {
		int rc;
		pthread_mutex_lock(&poppler_open_lock);
		rc = pdf_text_open(j->data, j->len, j->password, &j->pop, e);
		pthread_mutex_unlock(&poppler_open_lock);
		if (rc < 0)
			return NULL;
	}
	atomic_fetch_add(&fallbacks, 1);
	return pdf_text_page(j->pop, p, len, e);
}

static void *fworker(void *arg)
{
	struct fjob *j = arg;
	struct error e = { "", 0 };

	if (!j->ft && pdf_fasttext_open(j->data, j->len, j->password, &j->ft, &e) < 0) {
		fjob_fail(j, &e);
		return NULL;
	}
	j->ft->decoded = j->decoded;
	while (!atomic_load(j->stop)) {
		int start = atomic_fetch_add(j->next, CHUNK);
		if (start > j->last)
			break;
		for (int p = start; p < start + CHUNK && p <= j->last; p++) {
			char *text = NULL;
			size_t len = 0;
			int rc;

			if (atomic_load(j->stop))
				return NULL;
			rc = pdf_fasttext_page(j->ft, p, &text, &len, NULL, &e);
			if (rc < 0) {
				fjob_fail(j, &e);
				return NULL;
			}
			if (rc == PDF_FASTTEXT_UNDECODABLE) {
				int gate = gate_page(j->ft, p, &e);
				if (gate == 0)
					text = poppler_page(j, p, &len, &e);
				else if (gate == 1)
					text = g_strdup(""); /* not safe to give poppler: no text */
				if (!text) {
					fjob_fail(j, &e);
					return NULL;
				}
			}
			rc = j->fn(j->ctx, p, text, len, &e);
			g_free(text);
			if (rc < 0) {
				fjob_fail(j, &e);
				return NULL;
			}
		}
	}
	return NULL;
}

/*
 * Each text thread may hold one page's decoded streams ([limits]
 * pdf_page_decoded) plus the buffers between one stream's filters (up to
 * twice pdf_stream_max).  So that a hostile PDF within [limits] cannot
 * take more than DECODE_BUDGET in all, however many cores the server has,
 * fewer threads run when the limits are raised.
 */
#define DECODE_BUDGET ((size_t)160 << 20)
static int decode_budget_threads(int threads)
{
	struct pdf_limits l;
	size_t per, fit;

	pdf_limits_get(&l);
	per = l.page_max + 2 * l.stream_max;
	fit = per > 0 ? DECODE_BUDGET / per : (size_t)threads;
	if (fit < 1)
		fit = 1;
	return (size_t)threads > fit ? (int)fit : threads;
}

int pdf_fasttext_each(const uint8_t *data, size_t len, const char *password, int first,
		      int count, int threads, pdf_text_fn fn, void *ctx, struct error *e)
{
	struct fjob jobs[PDF_TEXT_THREADS_MAX];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	atomic_int next, stop;
	atomic_size_t decoded;
	struct error err = { "", 0 };
	int failed = 0, started = 0, npages, last, ret = -1;

	memset(jobs, 0, sizeof jobs);
	if (threads <= 0)
		threads = cpu_threads(PDF_TEXT_THREADS_MAX);
	if (threads > PDF_TEXT_THREADS_MAX)
		threads = PDF_TEXT_THREADS_MAX;
	threads = decode_budget_threads(threads);
	/* The first handle here, for the page count and an early error;
	 * the others in their threads, at the same time. */
	if (pdf_fasttext_open(data, len, password, &jobs[0].ft, e) < 0)
		return -1;
	npages = jobs[0].ft->npages;
	if (first < 1)
		first = 1;
	last = count > 0 ? first + count - 1 : npages;
	if (first > npages || last > npages) {
		err_set(e, "pages %d-%d do not exist (the PDF has %d)", first, last, npages);
		goto out;
	}
	if (threads > (last - first) / CHUNK + 1)
		threads = (last - first) / CHUNK + 1;
	atomic_init(&next, first);
	atomic_init(&stop, 0);
	atomic_init(&decoded, 0);
	for (int i = 0; i < threads; i++) {
		jobs[i].data = data;
		jobs[i].len = len;
		jobs[i].password = password;
		jobs[i].last = last;
		jobs[i].next = &next;
		jobs[i].stop = &stop;
		jobs[i].decoded = &decoded;
		jobs[i].fn = fn;
		jobs[i].ctx = ctx;
		jobs[i].lock = &lock;
		jobs[i].err = &err;
		jobs[i].failed = &failed;
	}
	if (threads == 1) {
		fworker(&jobs[0]);
	} else {
		for (; started < threads; started++) {
			if (pthread_create(&jobs[started].tid, NULL, fworker, &jobs[started]) != 0) {
				atomic_store(&stop, 1);
				pthread_mutex_lock(&lock);
				if (!failed) {
					failed = 1;
					err_tmp(&err, "cannot start a text extraction thread");
				}
				pthread_mutex_unlock(&lock);
				break;
			}
		}
		for (int i = 0; i < started; i++)
			pthread_join(jobs[i].tid, NULL);
	}
	if (failed) {
		if (e)
			*e = err;
		goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < PDF_TEXT_THREADS_MAX; i++) {
		pdf_fasttext_close(&jobs[i].ft);
		pdf_text_close(&jobs[i].pop);
	}
	pthread_mutex_destroy(&lock);
	return ret;
}
