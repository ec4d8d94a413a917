/*
 * pdf_cmap.c — CMaps for the text reader (see pdf_cmap.h): the sections
 * begincodespacerange, beginbfchar and beginbfrange (string and array
 * destinations) of a CMap's text, tokenized by pdf_lex.c, into bounded
 * code -> Unicode tables.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §9.7.5, §9.7.6.2, §9.10.3.
 */
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_lex.h"
#include "pdf/pdf_cmap.h"

void pdf_cmap_free(struct pdf_cmap *m)
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
	uint32_t x = ((const struct pdf_cmap_big *)a)->code;
	uint32_t y = ((const struct pdf_cmap_big *)b)->code;
	return x < y ? -1 : x > y;
}

/* Set code to cps[0..n).  0 when done, -1 when a budget is spent. */
static int cmap_set(struct pdf_cmap *m, struct pdf_cmap_budget *b, uint32_t code,
		    const uint32_t *cps, size_t n)
{
	uint32_t val;

	if (n == 0)
		return 0;
	if (b->entries >= PDF_CMAP_MAP_BUDGET)
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
		val = PDF_CMAP_SEQ | (uint32_t)m->npool;
		m->pool[m->npool++] = (uint32_t)n;
		memcpy(m->pool + m->npool, cps, n * sizeof *cps);
		m->npool += n;
	}
	if (code < 65536) {
		uint32_t **t = &m->tbl[code >> 8];
		if (!*t) {
			if (b->tables >= PDF_CMAP_TBL_BUDGET)
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

/* The parse of one CMap: up to two strings wait for what follows them. */
struct cmap_parser {
	struct pdf_cmap *m;
	struct pdf_cmap_budget *bud;
	struct buf scratch;
	struct pdf_lex l;
	size_t pend_off[2], pend_len[2];
	int npend;
	uint32_t cps[PDF_CMAP_SEQ_MAX];
};

/* The codes of the two pending strings, lo <= hi; -1 when they are not. */
static int pending_range(const struct cmap_parser *p, uint32_t *lo, uint32_t *hi)
{
	if (code_of(p->scratch.data + p->pend_off[0], p->pend_len[0], lo) < 0 ||
	    code_of(p->scratch.data + p->pend_off[1], p->pend_len[1], hi) < 0 || *hi < *lo)
		return -1;
	return 0;
}

/* <lo> <hi> [<dst0> <dst1> ...], after the '['.  A keyword (endbfrange
 * or junk) ends the section: *mode becomes CM_NONE.  0, or -1 when a
 * budget is spent. */
static int bfrange_array(struct cmap_parser *p, enum cmap_mode *mode)
{
	struct pdf_token t;
	uint32_t lo = 0, hi = 0;
	uint64_t idx = 0;
	int ok = pending_range(p, &lo, &hi) == 0, ret = 0;

	for (;;) {
		pdf_lex_next(&p->l, &t);
		if (t.t == TOK_EOF || t.t == TOK_ACLOSE)
			break;
		if (t.t == TOK_KW) {
			*mode = CM_NONE;
			break;
		}
		if (t.t == TOK_STR && ok && idx <= (uint64_t)(hi - lo)) {
			size_t k = utf16_decode(p->scratch.data + t.off, t.len, p->cps,
						PDF_CMAP_SEQ_MAX);
			if (cmap_set(p->m, p->bud, lo + (uint32_t)idx, p->cps, k) < 0)
				ret = -1;
		}
		idx++;
		if (p->scratch.len > 4096)
			buf_reset(&p->scratch); /* pend_* are no longer needed */
	}
	return ret;
}

/* <lo> <hi> <dst>: the codes lo..hi (at most 65536 of them) map to dst,
 * its last code point counting up.  0, or -1 when a budget is spent. */
static int bfrange_string(struct cmap_parser *p, const struct pdf_token *t)
{
	uint32_t lo, hi, last;
	size_t k = utf16_decode(p->scratch.data + t->off, t->len, p->cps, PDF_CMAP_SEQ_MAX);

	if (k == 0 || pending_range(p, &lo, &hi) < 0 || hi - lo >= 65536)
		return 0;
	last = p->cps[k - 1];
	for (uint32_t c = lo;; c++) {
		p->cps[k - 1] = last + (c - lo);
		if (cmap_set(p->m, p->bud, c, p->cps, k) < 0)
			return -1;
		if (c == hi)
			return 0;
	}
}

/* <lo> <hi> in a codespacerange section. */
static void codespace(struct cmap_parser *p)
{
	struct pdf_cmap *m = p->m;

	if (p->pend_len[0] == p->pend_len[1] && p->pend_len[0] >= 1 && p->pend_len[0] <= 4 &&
	    m->ncs < PDF_CMAP_CSR_MAX) {
		struct pdf_cmap_csrange *r = &m->cs[m->ncs++];
		r->n = (uint8_t)p->pend_len[0];
		memcpy(r->lo, p->scratch.data + p->pend_off[0], r->n);
		memcpy(r->hi, p->scratch.data + p->pend_off[1], r->n);
	}
}

/* <code> <dst> in a bfchar section.  0, or -1 when a budget is spent. */
static int bfchar(struct cmap_parser *p)
{
	uint32_t code;
	size_t k = utf16_decode(p->scratch.data + p->pend_off[1], p->pend_len[1], p->cps,
				PDF_CMAP_SEQ_MAX);

	if (code_of(p->scratch.data + p->pend_off[0], p->pend_len[0], &code) == 0 &&
	    cmap_set(p->m, p->bud, code, p->cps, k) < 0)
		return -1;
	return 0;
}

static enum cmap_mode section_of(const struct pdf_token *t)
{
	if (pdf_lex_kw_is(t, "begincodespacerange"))
		return CM_CS;
	if (pdf_lex_kw_is(t, "beginbfchar"))
		return CM_BFCHAR;
	if (pdf_lex_kw_is(t, "beginbfrange"))
		return CM_BFRANGE;
	return CM_NONE;
}

int pdf_cmap_parse(const uint8_t *data, size_t len, struct pdf_cmap_budget *bud,
		   struct pdf_cmap **out)
{
	struct cmap_parser p;
	struct pdf_token t;
	enum cmap_mode mode = CM_NONE;
	int ret = 0;

	if (data == NULL) /* an empty stream decodes to no buffer at all */
		data = (const uint8_t *)"", len = 0;
	memset(&p, 0, sizeof p);
	p.m = xcalloc(1, sizeof *p.m);
	p.bud = bud;
	buf_init(&p.scratch, PDF_CMAP_BYTES);
	pdf_lex_init(&p.l, data, len, &p.scratch);
	while (ret == 0) {
		pdf_lex_next(&p.l, &t);
		if (t.t == TOK_EOF)
			break;
		if (t.t == TOK_KW) {
			/* Any keyword starts or ends a section. */
			mode = section_of(&t);
		} else if (mode == CM_NONE) {
			/* Keep scratch small outside the sections. */
			if ((t.t != TOK_STR && t.t != TOK_NAME && t.t != TOK_NUM) ||
			    p.scratch.len > 4096)
				buf_reset(&p.scratch);
			continue;
		} else if (mode == CM_BFRANGE && t.t == TOK_AOPEN && p.npend == 2) {
			ret = bfrange_array(&p, &mode);
		} else if (t.t != TOK_STR) {
			/* A name destination (an old form) or junk: the entry is dropped. */
		} else if (p.npend < 2) {
			p.pend_off[p.npend] = t.off;
			p.pend_len[p.npend] = t.len;
			p.npend++;
			if (mode == CM_BFRANGE || p.npend < 2)
				continue;
			if (mode == CM_CS)
				codespace(&p);
			else
				ret = bfchar(&p);
		} else {
			ret = bfrange_string(&p, &t);
		}
		p.npend = 0;
		buf_reset(&p.scratch);
	}
	if (p.l.overflow)
		ret = -1;
	if (p.m->nbig > 1) {
		/* Sorted for bsearch; on duplicates any one wins (as in a
		 * malformed CMap, where readers differ anyway). */
		qsort(p.m->big, p.m->nbig, sizeof *p.m->big, big_cmp);
	}
	buf_free(&p.scratch);
	*out = p.m;
	return ret;
}
