/*
 * pdf_cmap.h — private to the text reader (pdf_fasttext.c and its pieces):
 * CMaps read from their PostScript-like text, for ToUnicode (code ->
 * Unicode, from bfchar and bfrange sections) and for the code lengths of
 * composite fonts (codespacerange sections).  Every table is bounded by a
 * budget shared by all the CMaps of one document.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §9.7.5 (CMaps), §9.7.6.2
 * (codespace ranges), §9.10.3 (ToUnicode CMaps); UTF-16BE destinations.
 */
#ifndef TAYORI_PDF_CMAP_H
#define TAYORI_PDF_CMAP_H

#include <stddef.h>
#include <stdint.h>

#define PDF_CMAP_BYTES      ((size_t)4 << 20)  /* one CMap's text */
#define PDF_CMAP_CSR_MAX    64                 /* codespace ranges of one CMap */
#define PDF_CMAP_MAP_BUDGET ((size_t)4 << 20)  /* CMap entries per budget */
#define PDF_CMAP_TBL_BUDGET 16384              /* 1 kB code tables per budget */
#define PDF_CMAP_SEQ_MAX    16                 /* code points one code maps to */

struct pdf_cmap_csrange {
	uint8_t n;              /* bytes of the codes */
	uint8_t lo[4], hi[4];
};

/*
 * Code -> Unicode.  A value is 0 (unmapped), a code point, or
 * PDF_CMAP_SEQ | offset of a sequence in pool (its length, then its code
 * points).  Codes below 65536 sit in 256-entry tables made on demand;
 * longer ones in a sorted array.
 */
#define PDF_CMAP_SEQ 0x80000000u

struct pdf_cmap_big {
	uint32_t code, val;
};

struct pdf_cmap {
	int ncs;
	struct pdf_cmap_csrange cs[PDF_CMAP_CSR_MAX];
	uint32_t *tbl[256];
	struct pdf_cmap_big *big;
	size_t nbig, capbig;
	uint32_t *pool;
	size_t npool, cappool;
};

/* What the CMaps of one document may take together; start it zeroed. */
struct pdf_cmap_budget {
	size_t entries;         /* up to PDF_CMAP_MAP_BUDGET */
	size_t tables;          /* up to PDF_CMAP_TBL_BUDGET */
};

/*
 * Parse the CMap text data[0..len) (data may be NULL when len is 0).
 * *out is always set, the caller's, freed with pdf_cmap_free().  Returns
 * 0, or -1 when the CMap was cut: entries beyond bud were dropped, or a
 * string passed PDF_CMAP_BYTES (*out then holds what was read before).
 * Entries that do not parse (a name destination, codes longer than four
 * bytes, a reversed range) are skipped; a bfrange with a string
 * destination spans at most 65536 codes.  Multi-code-point destinations
 * keep at most PDF_CMAP_SEQ_MAX code points.
 */
int pdf_cmap_parse(const uint8_t *data, size_t len, struct pdf_cmap_budget *bud,
		   struct pdf_cmap **out);

/* Free m; NULL is fine. */
void pdf_cmap_free(struct pdf_cmap *m);

/* The value of code (see above): 0 when unmapped. */
static inline uint32_t pdf_cmap_get(const struct pdf_cmap *m, uint32_t code)
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

/* For a value v with PDF_CMAP_SEQ set: its sequence, the number of code
 * points first, then the code points; valid while m lives. */
static inline const uint32_t *pdf_cmap_seq(const struct pdf_cmap *m, uint32_t v)
{
	return m->pool + (v & ~PDF_CMAP_SEQ);
}

/* Bytes of the code at s[0..n) (§9.7.6.2): the shortest codespace range
 * that matches; with none, the length of the shortest range (at least
 * 1).  May be more than n: the code is cut. */
static inline size_t pdf_cmap_code_len(const struct pdf_cmap *m, const uint8_t *s, size_t n)
{
	size_t shortest = 4;

	for (size_t len = 1; len <= 4 && len <= n; len++) {
		for (int i = 0; i < m->ncs; i++) {
			const struct pdf_cmap_csrange *r = &m->cs[i];
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

#endif
