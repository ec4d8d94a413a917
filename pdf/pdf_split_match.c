/*
 * pdf_split_match.c — the page reading of the split plan: what each page's
 * text shows (KEY: the matches of the pattern; AUTO: the keys of the list
 * and every number as long as one, with the word printed before it; both:
 * the page marker "n/m"), one page at a time from the text threads (see
 * pdf_split.h for the rules, pdf_split_int.h for what is kept).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input, in the text threads of pdf_fasttext_each().
 * Standards: Unicode UAX #15 (NFKC) for matching.
 */
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "lib/util.h"
#include "pdf/pdf_split.h"
#include "pdf/pdf_split_int.h"

static int is_tok(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '_';
}

static const char *strip_zeros(const char *s, size_t len, size_t *outlen)
{
	size_t i = 0;
	while (i + 1 < len && s[i] == '0')
		i++;
	*outlen = len - i;
	return s + i;
}

void pdf_split_match_free(struct matcher *m)
{
	for (size_t i = 0; i < m->n; i++)
		g_free(m->keys[i]);
	free(m->keys);
	free(m->next_same);
	free(m->others);
	if (m->digits)
		g_hash_table_destroy(m->digits);
	if (m->tokens)
		g_hash_table_destroy(m->tokens);
	memset(m, 0, sizeof *m);
}

int pdf_split_match_init(struct matcher *m, const char *const *keys, size_t nkeys,
			 struct error *e)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

	memset(m, 0, sizeof *m);
	m->keys = xcalloc(nkeys ? nkeys : 1, sizeof *m->keys);
	m->next_same = xcalloc(nkeys ? nkeys : 1, sizeof *m->next_same);
	m->others = xcalloc(nkeys ? nkeys : 1, sizeof *m->others);
	/* Keys point into m->keys, which outlives both tables. */
	m->digits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	m->tokens = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; i < nkeys; i++) {
		char *k;
		size_t klen, all_digits = 1, all_tok = 1;

		if (!keys[i])
			continue;
		k = g_utf8_normalize(keys[i], -1, G_NORMALIZE_NFKC);
		if (!k)
			continue; /* not UTF-8: cannot appear in page text */
		g_strstrip(k);
		klen = strlen(k);
		if (klen == 0 || klen > PDF_KEY_MAX || g_hash_table_contains(seen, k)) {
			g_free(k);
			continue;
		}
		for (size_t j = 0; j < klen; j++) {
			if (!g_ascii_isdigit(k[j]))
				all_digits = 0;
			if (!is_tok((unsigned char)k[j]))
				all_tok = 0;
		}
		g_hash_table_add(seen, k);
		m->keys[m->n] = k;
		m->next_same[m->n] = -1;
		if (all_digits) {
			size_t slen;
			if (m->digit_minlen == 0 || klen < m->digit_minlen)
				m->digit_minlen = klen;
			const char *s = strip_zeros(k, klen, &slen);
			char *canon = g_strndup(s, slen);
			gpointer prev = g_hash_table_lookup(m->digits, canon);
			if (prev) {
				/* Chain after the first key with these digits. */
				int id = GPOINTER_TO_INT(prev) - 1;
				while (m->next_same[id] >= 0)
					id = m->next_same[id];
				m->next_same[id] = (int)m->n;
				g_free(canon);
			} else {
				g_hash_table_insert(m->digits, canon, GINT_TO_POINTER((int)m->n + 1));
			}
		} else if (all_tok) {
			g_hash_table_insert(m->tokens, k, GINT_TO_POINTER((int)m->n + 1));
		} else {
			m->others[m->nothers++] = (int)m->n;
		}
		m->n++;
	}
	g_hash_table_destroy(seen);
	if (m->n == 0) {
		pdf_split_match_free(m);
		return err_set(e, "no usable key was given to look for in the PDF");
	}
	return 0;
}

/* The key id for a run of digits, or -1: the key written exactly so, else
 * the longest key of which the run is a zero-padded form. */
static int match_digits(const struct matcher *m, const char *run, size_t len)
{
	char canon[PDF_KEY_MAX + 1];
	size_t slen;
	const char *s = strip_zeros(run, len, &slen);
	gpointer hit;
	int best = -1;
	size_t bestlen = 0;

	memcpy(canon, s, slen);
	canon[slen] = '\0';
	hit = g_hash_table_lookup(m->digits, canon);
	if (!hit)
		return -1;
	for (int id = GPOINTER_TO_INT(hit) - 1; id >= 0; id = m->next_same[id]) {
		size_t kl = strlen(m->keys[id]);
		if (kl == len && memcmp(m->keys[id], run, len) == 0)
			return id;
		if (kl < len && kl > bestlen) {
			best = id;
			bestlen = kl;
		}
	}
	return best;
}

/* Numbers remembered per page; a page with more cannot be decided. */
#define PAGE_RUNS_MAX 4096

static void page_add(struct page_res *pr, int id, const char *form, size_t formlen)
{
	for (int i = 0; i < pr->nfound; i++)
		if (pr->ids[i] == id)
			return;
	if (pr->nfound >= PAGE_KEYS_MAX) {
		pr->too_many = 1;
		return;
	}
	if (pr->nfound == 0)
		pr->found = g_strndup(form, formlen);
	pr->ids[pr->nfound++] = id;
}

/*
 * The label of the number at text[at]: the word before it, after skipping
 * blanks, ':' and '#' (NFKC made "：" a ':'), at most LABEL_MAX bytes of
 * its end.  "宛名番号：00012345" and "宛名番号 00012345" both give
 * 宛名番号.  Only a word on the same line counts: a table whose header
 * row names the columns gives its numbers no label (the header's last
 * word would name another column's number).  A word with no letter in
 * it (a date, another number) is no label either: "".
 */
static void run_label(const char *text, size_t at, char *out)
{
	size_t i = at, end;

	while (i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == ':' ||
			 text[i - 1] == '#'))
		i--;
	end = i;
	if (i == 0 || text[i - 1] == '\n' || text[i - 1] == '\r') {
		out[0] = '\0';
		return;
	}
	while (i > 0 && end - i < LABEL_MAX && !g_ascii_isspace(text[i - 1]))
		i--;
	while (i < end && ((unsigned char)text[i] & 0xC0) == 0x80)
		i++; /* cut on a character boundary */
	memcpy(out, text + i, end - i);
	out[end - i] = '\0';
	/* A word without a letter (another number, a date) is no label. */
	for (const char *c = out; *c; c = g_utf8_next_char(c))
		if (g_unichar_isalpha(g_utf8_get_char(c)))
			return;
	out[0] = '\0';
}

static void page_run(struct page_res *pr, int id, const char *text, size_t at, size_t len,
		     int whole)
{
	struct digit_run *r;

	if (pr->nruns >= PAGE_RUNS_MAX) {
		pr->too_many = 1;
		return;
	}
	if (pr->nruns == pr->runs_cap) {
		pr->runs_cap = pr->runs_cap ? pr->runs_cap * 2 : 4;
		pr->runs = xrealloc(pr->runs, (size_t)pr->runs_cap * sizeof *pr->runs);
	}
	r = &pr->runs[pr->nruns++];
	r->id = id;
	r->len = (int)len;
	r->whole = whole;
	r->value = g_strndup(text + at, len);
	run_label(text, at, r->label);
}

/*
 * A page marker: "2/3", "2 / 3 ページ", 「2／3」 (NFKC gives "2/3"), with
 * 1 <= n <= m <= 999 and not part of a longer number, a decimal or a date
 * such as 2024/4/1.  Sets pr->mark_n and mark_m when the page shows
 * exactly one such marker (several different ones: none).
 */
static void scan_marker(const char *text, size_t len, struct page_res *pr)
{
	int seen = 0, bn = 0, bm = 0;

	for (size_t i = 0; i < len; i++) {
		size_t j = i, k, d;
		int n = 0, mm = 0;

		if (!g_ascii_isdigit(text[i]))
			continue;
		while (j < len && g_ascii_isdigit(text[j]))
			j++;
		d = i; /* [i, j) is a whole run of digits */
		i = j;
		if (j - d > 3 || (d > 0 && (text[d - 1] == '/' || text[d - 1] == '.' ||
					    text[d - 1] == ',' || text[d - 1] == '-')))
			continue;
		for (size_t x = d; x < j; x++)
			n = n * 10 + (text[x] - '0');
		k = j;
		while (k < len && text[k] == ' ')
			k++;
		if (k >= len || text[k] != '/')
			continue;
		k++;
		while (k < len && text[k] == ' ')
			k++;
		d = k;
		while (k < len && g_ascii_isdigit(text[k]))
			k++;
		if (k == d || k - d > 3 || (k < len && (text[k] == '/' || text[k] == '.' ||
						      text[k] == ',')))
			continue;
		for (size_t x = d; x < k; x++)
			mm = mm * 10 + (text[x] - '0');
		if (n < 1 || n > mm)
			continue;
		if (seen && (n != bn || mm != bm))
			return; /* two different markers: trust neither */
		seen = 1;
		bn = n;
		bm = mm;
	}
	if (seen) {
		pr->mark_n = bn;
		pr->mark_m = bm;
	}
}

static void match_page(const struct matcher *m, const char *text, size_t len,
		       struct page_res *pr)
{
	size_t i = 0;

	while (i < len) {
		size_t s, t;
		if (!is_tok((unsigned char)text[i])) {
			i++;
			continue;
		}
		s = i;
		while (i < len && is_tok((unsigned char)text[i]))
			i++;
		/* [s, i) is a token; first the token as a whole ... */
		if (g_hash_table_size(m->tokens) > 0 && i - s <= PDF_KEY_MAX) {
			char tok[PDF_KEY_MAX + 1];
			gpointer hit;
			memcpy(tok, text + s, i - s);
			tok[i - s] = '\0';
			hit = g_hash_table_lookup(m->tokens, tok);
			if (hit)
				page_add(pr, GPOINTER_TO_INT(hit) - 1, text + s, i - s);
		}
		/* ... then each whole run of digits inside it. */
		for (t = s; t < i;) {
			size_t d;
			if (!g_ascii_isdigit(text[t])) {
				t++;
				continue;
			}
			d = t;
			while (t < i && g_ascii_isdigit(text[t]))
				t++;
			if (t - d <= PDF_KEY_MAX) {
				int id = match_digits(m, text + d, t - d);
				if (id >= 0)
					page_add(pr, id, text + d, t - d);
				/* Every number as long as a key: a key of the
				 * list, or maybe one that is not in it. */
				if (m->digit_minlen > 0 && t - d >= m->digit_minlen)
					page_run(pr, id, text, d, t - d, d == s && t == i);
			}
		}
	}
	/* Keys with other characters: a plain search, not inside a token. */
	for (size_t k = 0; k < m->nothers; k++) {
		const char *key = m->keys[m->others[k]];
		size_t kl = strlen(key);
		const char *p = text, *end = text + len;
		while (p < end && (p = g_strstr_len(p, end - p, key)) != NULL) {
			int before = p > text && is_tok((unsigned char)p[-1]);
			int after = p + kl < end && is_tok((unsigned char)p[kl]);
			if (!before && !after) {
				page_add(pr, m->others[k], p, kl);
				break;
			}
			p++;
		}
	}
}

/* KEY: one match's key (its first group, else the whole match), trimmed;
 * NULL when empty.  -1 when longer than PDF_KEY_MAX. */
static int regex_key(const struct scan_ctx *c, GMatchInfo *mi, const char *text, int page,
		     char **out, struct error *e)
{
	int s = -1, t = -1;
	char *key;

	*out = NULL;
	if (g_regex_get_capture_count(c->re) >= 1)
		g_match_info_fetch_pos(mi, 1, &s, &t);
	if (s < 0 || t < s)
		g_match_info_fetch_pos(mi, 0, &s, &t);
	if (s < 0 || t < s)
		return 0;
	key = g_strndup(text + s, (gsize)(t - s));
	g_strstrip(key);
	if (strlen(key) > PDF_KEY_MAX) {
		g_free(key);
		return err_set(e, "the key found on page %d is longer than %d bytes", page,
			       PDF_KEY_MAX);
	}
	if (*key)
		*out = key;
	else
		g_free(key);
	return 0;
}

int pdf_split_match_page(void *arg, int page, const char *text, size_t len, struct error *e)
{
	struct scan_ctx *c = arg;
	struct page_res *pr = &c->pages[page - 1];
	GMatchInfo *mi = NULL;
	int ret = 0;

	scan_marker(text, len, pr);
	if (c->mode == PDF_SPLIT_AUTO) {
		match_page(c->m, text, len, pr);
		return 0;
	}
	/* KEY: every match, each distinct key once. */
	pr->kv = xcalloc(PAGE_KEYS_MAX, sizeof *pr->kv);
	g_regex_match_full(c->re, text, (gssize)len, 0, 0, &mi, NULL);
	while (g_match_info_matches(mi)) {
		char *key;
		int dup = 0;
		if (regex_key(c, mi, text, page, &key, e) < 0) {
			ret = -1;
			break;
		}
		for (int i = 0; key && i < pr->nfound; i++)
			dup |= strcmp(pr->kv[i], key) == 0;
		if (key && !dup && pr->nfound < PAGE_KEYS_MAX)
			pr->kv[pr->nfound++] = key;
		else if (key && !dup)
			pr->too_many = 1, g_free(key);
		else
			g_free(key);
		if (!g_match_info_next(mi, NULL))
			break;
	}
	g_match_info_free(mi);
	if (pr->nfound > 0)
		pr->found = g_strdup(pr->kv[0]);
	return ret;
}

void pdf_split_match_pages_free(struct page_res *pages, int npages)
{
	if (!pages)
		return;
	for (int p = 0; p < npages; p++) {
		g_free(pages[p].found);
		if (pages[p].kv)
			for (int i = 0; i < pages[p].nfound; i++)
				g_free(pages[p].kv[i]);
		free(pages[p].kv);
		for (int i = 0; i < pages[p].nruns; i++)
			g_free(pages[p].runs[i].value);
		free(pages[p].runs);
	}
	free(pages);
}
