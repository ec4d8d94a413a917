/*
 * pdf_split.c — the split plan (which pages belong to which resident, from
 * a page count, a key pattern or the CSV's keys found in the page text) and
 * the per-resident PDFs written with qpdf's C API (see pdf_split.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.5 (full write of a new
 * file), §7.7.3 (page tree); Unicode UAX #15 (NFKC) for matching.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_fasttext.h"
#include "pdf/pdf_split.h"

struct pdf_splitter {
	qpdf_data in;
	struct pdf_copier *copier;
	struct pdf_made made;   /* the last PDF made, until the next call */
	int npages;
	const uint8_t *data;    /* the input, to open it again */
	size_t len;
	char *password;
	int pages_read;         /* pages written since in was opened */
};

/* Pages written from one qpdf handle before a fresh one takes over: qpdf
 * keeps every object it parsed (about 8 kB per page here), so a long
 * input's memory would grow with its length.  Opening again costs only
 * reading the cross-reference table again. */
#define SPLITTER_REOPEN_PAGES 1000

static int splitter_make(struct pdf_splitter *s, int first_page, int count,
			 const struct pdf_copy_sig *sig, struct error *e);

/* Distinct keys remembered per page in AUTO mode (a notice page shows one,
 * a household page a few). */
#define PAGE_KEYS_MAX 8

/* ---------------------------------------------------------------- */
/* AUTO: the key matcher                                             */

struct matcher {
	char **keys;          /* unique normalised keys; the index is the key id */
	size_t n;
	GHashTable *digits;   /* all-digit keys: digits without leading zeros -> id+1 */
	int *next_same;       /* next id with the same stripped digits, or -1 */
	GHashTable *tokens;   /* keys of A-Z a-z 0-9 - _ (not all digits) -> id+1 */
	int *others;          /* ids of keys with any other character */
	size_t nothers;
	size_t digit_minlen;  /* shortest all-digit key as given; 0: none */
};

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

static void matcher_free(struct matcher *m)
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

static int matcher_init(struct matcher *m, const char *const *keys, size_t nkeys,
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
		matcher_free(m);
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

/* Bytes of the word printed before a number, kept as its label. */
#define LABEL_MAX 32
/* Numbers remembered per page; a page with more cannot be decided. */
#define PAGE_RUNS_MAX 4096

/*
 * A run of digits on a page at least as long as the shortest all-digit
 * key (AUTO): a key of the list, or a number that may be someone's key.
 */
struct digit_run {
	int id;                    /* key id, or -1: not a key of the list */
	int len;                   /* digits */
	int whole;                 /* a token by itself (not inside R6-000123) */
	char *value;               /* the digits as printed */
	char label[LABEL_MAX + 1]; /* the word printed before it (run_label()) */
};

struct page_res {
	int nfound;                /* distinct keys seen, capped at PAGE_KEYS_MAX */
	int ids[PAGE_KEYS_MAX];    /* key ids in order of appearance (KEY: interned) */
	char *found;               /* as printed (AUTO: for ids[0]; KEY: first match) */
	char **kv;                 /* KEY: the nfound distinct matches */
	struct digit_run *runs;    /* AUTO with all-digit keys */
	int nruns, runs_cap;
	int too_many;              /* more keys or numbers than remembered */
	int mark_n, mark_m;        /* the page marker "n/m", or 0 */
};

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

/* ---------------------------------------------------------------- */
/* The plan                                                          */

struct scan_ctx {
	enum pdf_split_mode mode;
	const struct matcher *m;  /* AUTO */
	GRegex *re;               /* KEY */
	struct page_res *pages;   /* [npages], one slot per page: no locking */
};

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

static int scan_page(void *arg, int page, const char *text, size_t len, struct error *e)
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

/* Arrays grow by doubling: capacity is 4, 8, 16 ... so it is full exactly
 * when n is 0 or a power of two of at least 4. */
static int full(size_t n)
{
	return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static void push_int(int **v, size_t *n, int x)
{
	if (full(*n))
		*v = xrealloc(*v, (*n ? *n * 2 : 4) * sizeof **v);
	(*v)[(*n)++] = x;
}

static void push_str(char ***v, size_t *n, const char *s)
{
	if (full(*n))
		*v = xrealloc(*v, (*n ? *n * 2 : 4) * sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

void pdf_split_result_free(struct pdf_split_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ngroups; i++) {
		free(r->groups[i].key);
		free(r->groups[i].found);
	}
	for (size_t i = 0; i < r->nheld; i++) {
		free(r->held[i].key);
		free(r->held[i].found);
	}
	for (size_t i = 0; i < r->nrepeated; i++)
		free(r->repeated_keys[i]);
	for (size_t i = 0; i < r->nmissing; i++)
		free(r->missing_keys[i]);
	for (size_t i = 0; i < r->nunmatched; i++)
		free(r->unmatched_keys[i]);
	for (size_t i = 0; i < r->nholds; i++)
		free(r->holds[i].key);
	free(r->groups);
	free(r->held);
	free(r->repeated_keys);
	free(r->keyless_pages);
	free(r->ambiguous_pages);
	free(r->missing_keys);
	free(r->unmatched_keys);
	free(r->holds);
	free(r->key_label);
	memset(r, 0, sizeof *r);
}

static int plan_pages(int npages, int per, struct pdf_split_result *r, struct error *e)
{
	int ngroups, width = 4;
	char num[16];

	if (per < 1)
		return err_set(e, "the number of pages per resident must be at least 1");
	if (npages % per != 0)
		return err_set(e, "the PDF has %d pages, which is not a multiple of %d pages "
				  "per resident", npages, per);
	ngroups = npages / per;
	for (int g = ngroups; g >= 10000; g /= 10)
		width++;
	r->groups = xcalloc((size_t)ngroups, sizeof *r->groups);
	for (int g = 0; g < ngroups; g++) {
		str_fmt(num, sizeof num, "%0*d", width, g + 1);
		r->groups[g].key = xstrdup(num);
		r->groups[g].found = xstrdup(num);
		r->groups[g].first_page = g * per + 1;
		r->groups[g].page_count = per;
	}
	r->ngroups = (size_t)ngroups;
	return 0;
}

/*
 * What the batch teaches about its keys (AUTO, every key all digits): the
 * label printed before the key on pages that show one key of the list,
 * the digit counts it is printed with, the labels of the other numbers
 * printed beside it (another role, such as 世帯主番号), and without a
 * label, the numbers that turn up in separate places (a date, a phone
 * number: not keys).
 */
struct learned {
	int have_label;
	const char *label;        /* borrowed from a page's run */
	uint64_t widths;          /* bit n: keys printed with n digits */
	GHashTable *secondary;    /* labels of numbers in another role */
	GHashTable *constant;     /* without a label: numbers that are not keys */
};

static int width_ok(const struct learned *l, int len)
{
	return len > 0 && len < 64 && (l->widths >> len & 1);
}

/* A number beside the learned label: whatever its digit count (every run
 * kept is at least as long as the shortest key), it names the page's
 * resident; a width the keys do not have is no reason to give the page
 * to the resident before it. */
static int is_label_run(const struct learned *l, const struct digit_run *r)
{
	return l->have_label && strcmp(r->label, l->label) == 0;
}

/* Same number: the same key of the list, or the same digits. */
static int same_value(const struct digit_run *a, const struct digit_run *b)
{
	if (a->id >= 0 || b->id >= 0)
		return a->id == b->id;
	return strcmp(a->value, b->value) == 0;
}

static void learn(const struct page_res *pages, int npages, const struct matcher *m,
		  struct learned *l)
{
	GHashTable *count = g_hash_table_new(g_str_hash, g_str_equal); /* label -> pages */
	GHashTableIter it;
	gpointer k, v;
	int single = 0, best = 0, tie = 0;

	memset(l, 0, sizeof *l);
	l->secondary = g_hash_table_new(g_str_hash, g_str_equal);
	l->constant = g_hash_table_new(g_str_hash, g_str_equal);
	if (m->digit_minlen == 0 || g_hash_table_size(m->tokens) > 0 || m->nothers > 0)
		goto out; /* keys of other shapes: only the keys of the list count */
	for (int p = 0; p < npages; p++) {
		const struct page_res *pr = &pages[p];
		if (pr->nfound != 1 || pr->too_many)
			continue;
		single++;
		for (int i = 0; i < pr->nruns; i++) {
			int again = 0;
			if (pr->runs[i].id != pr->ids[0])
				continue;
			for (int j = 0; j < i; j++)
				again |= pr->runs[j].id == pr->ids[0] &&
					 strcmp(pr->runs[j].label, pr->runs[i].label) == 0;
			if (!again)
				g_hash_table_insert(count, pr->runs[i].label,
						    GINT_TO_POINTER(GPOINTER_TO_INT(g_hash_table_lookup(
							    count, pr->runs[i].label)) + 1));
		}
	}
	g_hash_table_iter_init(&it, count);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		int c = GPOINTER_TO_INT(v);
		if (c > best) {
			best = c;
			tie = 0;
			l->label = k;
		} else if (c == best) {
			tie = 1;
		}
	}
	/* The label beside the key on most single-key pages, and no other
	 * label as often.  No word at all (the number begins the page) is no
	 * label: being first says little about whose page it is. */
	l->have_label = best > 0 && !tie && 2 * best > single && l->label[0] != '\0';
	for (int p = 0; p < npages; p++)
		for (int i = 0; i < pages[p].nruns; i++) {
			const struct digit_run *r = &pages[p].runs[i];
			if (r->id >= 0 && r->len < 64 &&
			    (!l->have_label || strcmp(r->label, l->label) == 0))
				l->widths |= (uint64_t)1 << r->len;
		}
	if (l->have_label) {
		/* Beside exactly one labelled number, the other numbers' labels
		 * name other roles. */
		for (int p = 0; p < npages; p++) {
			const struct page_res *pr = &pages[p];
			const struct digit_run *a = NULL;
			int several = 0;
			for (int i = 0; i < pr->nruns; i++) {
				if (!is_label_run(l, &pr->runs[i]))
					continue;
				if (a && !same_value(a, &pr->runs[i]))
					several = 1;
				a = &pr->runs[i];
			}
			if (!a || several)
				continue;
			for (int i = 0; i < pr->nruns; i++)
				if (!same_value(a, &pr->runs[i]) &&
				    strcmp(pr->runs[i].label, l->label) != 0)
					g_hash_table_add(l->secondary, pr->runs[i].label);
		}
	} else {
		/* Without a label, a whole number of a key's width that is not
		 * in the list counts as someone's key, unless pages showing two
		 * different keys of the list show it too: a date or a telephone
		 * number printed on many residents' notices. */
		GHashTable *with = g_hash_table_new(g_str_hash, g_str_equal); /* value -> key id+1 */
		for (int p = 0; p < npages; p++)
			for (int i = 0; i < pages[p].nruns; i++) {
				const struct digit_run *r = &pages[p].runs[i];
				if (r->id >= 0 || !r->whole || !width_ok(l, r->len))
					continue;
				for (int f = 0; f < pages[p].nfound; f++) {
					int id = GPOINTER_TO_INT(g_hash_table_lookup(with, r->value));
					if (id == 0)
						g_hash_table_insert(with, r->value,
								    GINT_TO_POINTER(pages[p].ids[f] + 1));
					else if (id != pages[p].ids[f] + 1)
						g_hash_table_add(l->constant, r->value);
				}
			}
		g_hash_table_destroy(with);
	}
out:
	g_hash_table_destroy(count);
}

static void learned_free(struct learned *l)
{
	if (l->secondary)
		g_hash_table_destroy(l->secondary);
	if (l->constant)
		g_hash_table_destroy(l->constant);
	memset(l, 0, sizeof *l);
}

/* Who a page's evidence points to. */
enum page_kind { PAGE_KEYLESS, PAGE_KEYED, PAGE_CONT, PAGE_UNDECIDED };

#define CANDS_MAX (2 * PAGE_KEYS_MAX)

struct owners {
	int v[CANDS_MAX];
	int n;
	int overflow;
};

static void owners_add(struct owners *o, int id)
{
	for (int i = 0; i < o->n; i++)
		if (o->v[i] == id)
			return;
	if (o->n >= CANDS_MAX)
		o->overflow = 1;
	else
		o->v[o->n++] = id;
}

/* The id of a number not in the list (AUTO), interned after the keys. */
static int unknown_id(GHashTable *unknown, GPtrArray *names, size_t nkeys, const char *value)
{
	gpointer v = g_hash_table_lookup(unknown, value);
	if (!v) {
		g_ptr_array_add(names, (gpointer)value);
		v = GINT_TO_POINTER((int)(nkeys + names->len));
		g_hash_table_insert(unknown, (gpointer)value, v);
	}
	return GPOINTER_TO_INT(v) - 1;
}

/*
 * AUTO: the evidence of one page, given the current resident cur (an id,
 * or -1).  c receives the candidates of a decided or undecided page;
 * *numbered says a keyless page shows a number that may be a key.
 */
static enum page_kind auto_evidence(const struct page_res *pr, const struct matcher *m,
				    const struct learned *l, GHashTable *unknown, GPtrArray *names,
				    int cur, struct owners *c, int *numbered)
{
	memset(c, 0, sizeof *c);
	*numbered = 0;
	if (pr->too_many) {
		for (int i = 0; i < pr->nfound; i++)
			owners_add(c, pr->ids[i]);
		return PAGE_UNDECIDED;
	}
	if (l->have_label) {
		/* The number beside the label is the page's resident. */
		for (int i = 0; i < pr->nruns; i++) {
			const struct digit_run *r = &pr->runs[i];
			if (is_label_run(l, r))
				owners_add(c, r->id >= 0 ? r->id : unknown_id(unknown, names, m->n, r->value));
		}
		if (c->n == 0) {
			/* No labelled number: keys of the list shown in a role of
			 * their own (世帯主番号 ...) say nothing; any other key
			 * must be the current resident's. */
			for (int k = 0; k < pr->nfound; k++) {
				int other_role = 0, shown = 0;
				for (int i = 0; i < pr->nruns; i++) {
					if (pr->runs[i].id != pr->ids[k])
						continue;
					if (!g_hash_table_contains(l->secondary, pr->runs[i].label))
						shown = 1;
					else
						other_role = 1;
				}
				if (shown || !other_role)
					owners_add(c, pr->ids[k]);
			}
			if (c->n == 0)
				return PAGE_KEYLESS;
			if (c->n == 1 && !c->overflow && c->v[0] == cur)
				return PAGE_CONT;
			return PAGE_UNDECIDED;
		}
	} else {
		for (int i = 0; i < pr->nfound; i++)
			owners_add(c, pr->ids[i]);
		for (int i = 0; i < pr->nruns; i++) {
			const struct digit_run *r = &pr->runs[i];
			if (r->id < 0 && r->whole && width_ok(l, r->len) &&
			    !g_hash_table_contains(l->constant, r->value))
				owners_add(c, unknown_id(unknown, names, m->n, r->value));
		}
		if (c->n == 0) {
			/* A number that could be a key but also shows on other
			 * residents' pages: only page numbers may say this page
			 * follows on. */
			for (int i = 0; i < pr->nruns; i++)
				if (pr->runs[i].whole && width_ok(l, pr->runs[i].len))
					*numbered = 1;
			return PAGE_KEYLESS;
		}
	}
	return c->n == 1 && !c->overflow ? PAGE_KEYED : PAGE_UNDECIDED;
}

/* The key as printed on page pr for id, or NULL. */
static const char *printed(const struct page_res *pr, const struct learned *l, int id)
{
	const char *any = NULL;
	for (int i = 0; i < pr->nruns; i++) {
		if (pr->runs[i].id != id)
			continue;
		if (is_label_run(l, &pr->runs[i]))
			return pr->runs[i].value;
		if (!any)
			any = pr->runs[i].value;
	}
	if (any)
		return any;
	return pr->nfound > 0 && pr->ids[0] == id ? pr->found : NULL;
}

/* List the number of unknown id (AUTO) in r->unmatched_keys, once. */
static void unmatched_add(struct pdf_split_result *r, GHashTable *unlisted, GPtrArray *names,
			  size_t nkeys, int id)
{
	const char *v = g_ptr_array_index(names, (guint)((size_t)id - nkeys));
	if (g_hash_table_contains(unlisted, v))
		return;
	g_hash_table_add(unlisted, (gpointer)v);
	push_str(&r->unmatched_keys, &r->nunmatched, v);
}

/*
 * Group the pages by the evidence on each (pdf_split.h describes the
 * rules), then move every key that occurs in more than one range, or on
 * a page that could not be decided, to held.
 */
static int plan_group(struct page_res *pages, int npages, enum pdf_split_mode mode,
		      const struct matcher *m, struct pdf_split_result *r, struct error *e)
{
	GHashTable *intern = NULL, *unknown = NULL, *unlisted = NULL;
	GPtrArray *names = NULL;   /* KEY: id -> key; AUTO: id - m->n -> number */
	struct learned l;
	int *ranges = NULL;        /* id -> number of ranges */
	unsigned char *held = NULL, *listed = NULL;
	struct pdf_group *all = NULL;
	int *owner = NULL, *has_keyless = NULL, *keyed_later = NULL;
	size_t nall = 0, nids, nkeys;
	int cur = -1, ret = -1, any = 0, need_pattern = 0, runs_keyless = 0, later = 0;

	memset(&l, 0, sizeof l);
	names = g_ptr_array_new();
	unknown = g_hash_table_new(g_str_hash, g_str_equal);
	unlisted = g_hash_table_new(g_str_hash, g_str_equal);
	if (mode == PDF_SPLIT_KEY) {
		intern = g_hash_table_new(g_str_hash, g_str_equal);
		for (int p = 0; p < npages; p++) {
			for (int i = 0; i < pages[p].nfound; i++) {
				gpointer v = g_hash_table_lookup(intern, pages[p].kv[i]);
				if (!v) {
					g_ptr_array_add(names, pages[p].kv[i]);
					v = GINT_TO_POINTER((int)names->len);
					g_hash_table_insert(intern, pages[p].kv[i], v);
				}
				pages[p].ids[i] = GPOINTER_TO_INT(v) - 1;
			}
		}
		nkeys = names->len;
	} else {
		nkeys = m->n;
		learn(pages, npages, m, &l);
		if (l.have_label)
			r->key_label = xstrdup(l.label);
	}
	for (int p = 0; p < npages; p++)
		if (pages[p].nfound > 0)
			any = 1;
	if (!any) {
		if (mode == PDF_SPLIT_AUTO)
			err_set(e, "none of the %zu keys given appears on any of the %d pages",
				m->n, npages);
		else
			err_set(e, "the key pattern matches on none of the %d pages", npages);
		goto out;
	}

	all = xcalloc((size_t)npages, sizeof *all);
	owner = xcalloc((size_t)npages, sizeof *owner);
	has_keyless = xcalloc((size_t)npages, sizeof *has_keyless);
	keyed_later = xcalloc((size_t)npages, sizeof *keyed_later);
	for (int p = 0; p < npages; p++) {
		struct page_res *pr = &pages[p];
		struct owners c;
		enum page_kind kind;
		int numbered = 0;

		if (mode == PDF_SPLIT_AUTO) {
			kind = auto_evidence(pr, m, &l, unknown, names, cur, &c, &numbered);
		} else {
			memset(&c, 0, sizeof c);
			for (int i = 0; i < pr->nfound; i++)
				owners_add(&c, pr->ids[i]);
			kind = pr->nfound == 0 ? PAGE_KEYLESS
			       : pr->nfound == 1 && !pr->too_many ? PAGE_KEYED : PAGE_UNDECIDED;
		}
		if (pr->nfound > 1)
			push_int(&r->ambiguous_pages, &r->nambiguous, p + 1);
		if (kind == PAGE_KEYLESS) {
			if (nall == 0) {
				err_set(e, "page 1 shows no %s, so it belongs to no resident",
					mode == PDF_SPLIT_AUTO ? "key from the list"
							       : "key matching the pattern");
				goto out;
			}
			push_int(&r->keyless_pages, &r->nkeyless, p + 1);
			all[nall - 1].page_count++;
			if (!has_keyless[nall - 1]) {
				has_keyless[nall - 1] = 1;
				runs_keyless++;
			}
			/* Its page number follows on from the page before's. */
			if (pr->mark_n >= 2 && pages[p - 1].mark_n == pr->mark_n - 1 &&
			    pages[p - 1].mark_m == pr->mark_m)
				continue;
			if (pr->mark_n == 1) {
				err_set(e, "page %d shows no resident's key, and its page number "
					   "1/%d says a new notice begins there", p + 1, pr->mark_m);
				goto out;
			}
			if (numbered) {
				err_set(e, "page %d shows no resident's key but a number like one "
					   "that other residents' pages show too, and no page number "
					   "says it follows on", p + 1);
				goto out;
			}
			if (!need_pattern)
				need_pattern = p + 1;
			continue;
		}
		if ((kind == PAGE_KEYED && c.v[0] == cur && owner[nall - 1] == cur) ||
		    kind == PAGE_CONT) {
			all[nall - 1].page_count++;
			if (!keyed_later[nall - 1]) {
				keyed_later[nall - 1] = 1;
				later++;
			}
			continue;
		}
		all[nall].first_page = p + 1;
		all[nall].page_count = 1;
		if (kind == PAGE_UNDECIDED) {
			/* Nobody gets this page, nor the pages that follow it. */
			cur = -2;
			owner[nall] = -2;
			if (!held)
				held = xcalloc(nkeys + 1, 1);
			for (int i = 0; i < c.n; i++) {
				if ((size_t)c.v[i] >= nkeys) {
					unmatched_add(r, unlisted, names, nkeys, c.v[i]);
				} else {
					r->holds = xrealloc(r->holds, (r->nholds + 1) * sizeof *r->holds);
					r->holds[r->nholds].key = xstrdup(mode == PDF_SPLIT_KEY
						? (const char *)g_ptr_array_index(names, (guint)c.v[i])
						: m->keys[c.v[i]]);
					r->holds[r->nholds++].page = p + 1;
					held[c.v[i]] = 1;
				}
			}
		} else {
			cur = c.v[0];
			owner[nall] = cur;
			if ((size_t)cur >= nkeys)
				unmatched_add(r, unlisted, names, nkeys, cur);
		}
		nall++;
	}
	/* A page without a key goes with the page before only when the
	 * batch shows that layout: no resident's later pages carry the key,
	 * and it is so for more than one resident (or every one). */
	if (need_pattern && (later > 0 || (runs_keyless < 2 && (size_t)runs_keyless < nall))) {
		err_set(e, "page %d shows no resident's key, and nothing says it continues the "
			   "page before (no page number such as 2/3 following on; %s)",
			need_pattern, later > 0 ? "other residents' later pages show their key"
						: "no other resident's later pages lack the key");
		goto out;
	}

	nids = nkeys + (mode == PDF_SPLIT_AUTO ? names->len : 0);
	ranges = xcalloc(nids + 1, sizeof *ranges);
	listed = xcalloc(nids + 1, 1);
	for (size_t g = 0; g < nall; g++)
		if (owner[g] >= 0)
			ranges[owner[g]]++;
	for (size_t g = 0; g < nall; g++) {
		int id = owner[g];
		const char *name, *form;
		struct pdf_group *dst;

		if (id < 0)
			continue; /* an undecided page: its keys are in holds */
		if ((size_t)id >= nkeys)
			continue; /* not in the list (r->unmatched_keys): nobody's */
		name = mode == PDF_SPLIT_KEY ? g_ptr_array_index(names, (guint)id) : m->keys[id];
		form = mode == PDF_SPLIT_AUTO ? printed(&pages[all[g].first_page - 1], &l, id) : NULL;
		if (ranges[id] > 1 || (held && held[id])) {
			if (ranges[id] > 1 && !listed[id]) {
				push_str(&r->repeated_keys, &r->nrepeated, name);
				listed[id] = 1;
			}
			r->held = xrealloc(r->held, (r->nheld + 1) * sizeof *r->held);
			dst = &r->held[r->nheld++];
		} else {
			if (!r->groups)
				r->groups = xcalloc(nall, sizeof *r->groups);
			dst = &r->groups[r->ngroups++];
		}
		*dst = all[g];
		dst->key = xstrdup(name);
		dst->found = xstrdup(mode == PDF_SPLIT_KEY ? name : form ? form : name);
	}
	if (mode == PDF_SPLIT_AUTO)
		for (size_t id = 0; id < m->n; id++)
			if (ranges[id] == 0 && !(held && held[id]))
				push_str(&r->missing_keys, &r->nmissing, m->keys[id]);
	ret = 0;
out:
	free(all);
	free(owner);
	free(has_keyless);
	free(keyed_later);
	free(ranges);
	free(held);
	free(listed);
	learned_free(&l);
	if (intern)
		g_hash_table_destroy(intern);
	g_hash_table_destroy(unknown);
	g_hash_table_destroy(unlisted);
	g_ptr_array_free(names, TRUE);
	return ret;
}

/*
 * pdf_split_plan() when emit is NULL; pdf_split_run() when it is not.
 */
static int split_core(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		      struct pdf_split_result *r, pdf_split_emit_fn emit, void *ctx,
		      struct error *e)
{
	struct matcher m;
	struct scan_ctx sc;
	struct page_res *pages = NULL;
	GRegex *re = NULL;
	GError *gerr = NULL;
	int npages = 0, ret = -1, have_matcher = 0;

	memset(r, 0, sizeof *r);
	memset(&sc, 0, sizeof sc);
	/* Cheap argument checks first, so a usage error costs no parsing. */
	if (o->mode == PDF_SPLIT_PAGES && o->pages_per_resident < 1)
		return err_set(e, "the number of pages per resident must be at least 1");
	if (o->mode == PDF_SPLIT_KEY) {
		if (!o->key_regex || !*o->key_regex)
			return err_set(e, "no key pattern was given");
		re = g_regex_new(o->key_regex, G_REGEX_OPTIMIZE | G_REGEX_MULTILINE, 0, &gerr);
		if (!re) {
			err_set(e, "the key pattern is not a valid regular expression: %s",
				gerr->message);
			g_error_free(gerr);
			return -1;
		}
	}
	if (o->mode == PDF_SPLIT_AUTO) {
		if (matcher_init(&m, o->keys, o->nkeys, e) < 0)
			goto out;
		have_matcher = 1;
	}

	if (o->checked)
		r->info = *o->checked;
	else if (pdf_check(data, len, o->password, o->max_pages, &r->info, e) < 0)
		goto out;
	npages = r->info.pages;

	if (o->mode == PDF_SPLIT_PAGES) {
		if (plan_pages(npages, o->pages_per_resident, r, e) < 0)
			goto out;
	} else {
		pages = xcalloc((size_t)npages, sizeof *pages);
		sc.mode = o->mode;
		sc.m = have_matcher ? &m : NULL;
		sc.re = re;
		sc.pages = pages;
		/* The check's qpdf handle is gone: give its memory back before
		 * the text threads grow their own heaps. */
		malloc_trim(0);
		/* Every page is read once, before anything is decided: which
		 * number is a resident's key is learned from the whole batch. */
		if (pdf_fasttext_each(data, len, o->password, 1, npages, o->threads, scan_page, &sc,
				      e) < 0)
			goto out;
		if (plan_group(pages, npages, o->mode, sc.m, r, e) < 0)
			goto out;
		/* Likewise for the poppler documents, before the writers start. */
		malloc_trim(0);
	}
	if (emit && pdf_split_write(data, len, o, r->groups, r->ngroups, emit, ctx, e) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		pdf_split_result_free(r);
	if (pages) {
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
	if (re)
		g_regex_unref(re);
	if (have_matcher)
		matcher_free(&m);
	return ret;
}

int pdf_split_plan(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		   struct pdf_split_result *r, struct error *e)
{
	return split_core(data, len, o, r, NULL, NULL, e);
}

int pdf_split_run(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		  pdf_split_emit_fn emit, void *ctx, struct pdf_split_result *r, struct error *e)
{
	return split_core(data, len, o, r, emit, ctx, e);
}

/* ---------------------------------------------------------------- */
/* Writing                                                           */

int pdf_splitter_open(const uint8_t *data, size_t len, const char *password, int max_pages,
		      struct pdf_splitter **out, struct error *e)
{
	struct pdf_splitter *s = xcalloc(1, sizeof *s);
	int warned = 0;

	*out = NULL;
	if (pdf_qpdf_open(data, len, password, max_pages, &s->in, &s->npages, &warned, e) < 0) {
		free(s);
		return -1;
	}
	if (pdf_copier_new(s->in, &s->copier, e) < 0) {
		pdf_splitter_close(&s);
		return -1;
	}
	s->data = data;
	s->len = len;
	s->password = password && *password ? xstrdup(password) : NULL;
	/* A resident's file is at most the input plus a signature. */
	buf_init(&s->made.pdf, PDF_INPUT_MAX + ((size_t)1 << 20));
	*out = s;
	return 0;
}

int pdf_splitter_npages(const struct pdf_splitter *s)
{
	return s->npages;
}

static int splitter_make(struct pdf_splitter *s, int first_page, int count,
			 const struct pdf_copy_sig *sig, struct error *e)
{
	if (s->pages_read >= SPLITTER_REOPEN_PAGES) {
		qpdf_data q;
		if (pdf_qpdf_reopen(s->data, s->len, s->password, &q, e) < 0)
			return -1;
		pdf_copier_set_source(s->copier, q);
		qpdf_cleanup(&s->in);
		s->in = q;
		s->pages_read = 0;
	}
	s->pages_read += count;
	memset(&s->made.slot, 0, sizeof s->made.slot);
	/* The callback may have taken the last file's bytes. */
	if (s->made.pdf.max == 0)
		buf_init(&s->made.pdf, PDF_INPUT_MAX + ((size_t)1 << 20));
	if (pdf_copier_write(s->copier, first_page, count, sig, &s->made.pdf, &s->made.slot, e) < 0)
		return -1;
	s->made.removed = *pdf_copier_removed(s->copier);
	return 0;
}

int pdf_splitter_make(struct pdf_splitter *s, int first_page, int count,
		      const uint8_t **pdf, size_t *len, struct error *e)
{
	*pdf = NULL;
	*len = 0;
	if (splitter_make(s, first_page, count, NULL, e) < 0)
		return -1;
	*pdf = s->made.pdf.data;
	*len = s->made.pdf.len;
	return 0;
}

void pdf_splitter_close(struct pdf_splitter **s)
{
	if (!s || !*s)
		return;
	pdf_copier_free(&(*s)->copier);
	buf_free(&(*s)->made.pdf);
	if ((*s)->password)
		secure_wipe((*s)->password, strlen((*s)->password));
	free((*s)->password);
	if ((*s)->in)
		qpdf_cleanup(&(*s)->in);
	free(*s);
	*s = NULL;
}

struct write_job {
	const uint8_t *data;
	size_t len;
	const struct pdf_split_opts *o;
	const struct pdf_group *groups;
	size_t ngroups;
	pdf_split_emit_fn emit;
	void *ctx;
	atomic_size_t next;
	atomic_int stop;
	pthread_mutex_t lock;   /* guards err and failed */
	struct error err;
	int failed;
};

static void write_fail(struct write_job *j, const struct error *e)
{
	pthread_mutex_lock(&j->lock);
	if (!j->failed) {
		j->failed = 1;
		j->err = *e;
	}
	pthread_mutex_unlock(&j->lock);
	atomic_store(&j->stop, 1);
}

static void *write_worker(void *arg)
{
	struct write_job *j = arg;
	struct pdf_splitter *s = NULL;
	struct error e = { "", 0 };

	if (pdf_splitter_open(j->data, j->len, j->o->password, j->o->max_pages, &s, &e) < 0) {
		write_fail(j, &e);
		return NULL;
	}
	while (!atomic_load(&j->stop)) {
		size_t g = atomic_fetch_add(&j->next, 1);
		const struct pdf_group *grp;

		if (g >= j->ngroups)
			break;
		grp = &j->groups[g];
		if (splitter_make(s, grp->first_page, grp->page_count, j->o->sig, &e) < 0 ||
		    j->emit(j->ctx, grp, &s->made, &e) < 0) {
			write_fail(j, &e);
			break;
		}
	}
	pdf_splitter_close(&s);
	return NULL;
}

int pdf_split_write(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		    const struct pdf_group *groups, size_t ngroups,
		    pdf_split_emit_fn emit, void *ctx, struct error *e)
{
	struct write_job j;
	pthread_t tids[PDF_TEXT_THREADS_MAX];
	int threads = o->write_threads > 0 ? o->write_threads : 1;
	int started = 0, ret = -1;

	if (ngroups == 0)
		return 0;
	if (threads > PDF_TEXT_THREADS_MAX)
		threads = PDF_TEXT_THREADS_MAX;
	/* Each thread parses the page tree once: not worth it for a few
	 * residents. */
	if ((size_t)threads > ngroups / 8 + 1)
		threads = (int)(ngroups / 8 + 1);

	memset(&j, 0, sizeof j);
	j.data = data;
	j.len = len;
	j.o = o;
	j.groups = groups;
	j.ngroups = ngroups;
	j.emit = emit;
	j.ctx = ctx;
	atomic_init(&j.next, 0);
	atomic_init(&j.stop, 0);
	pthread_mutex_init(&j.lock, NULL);

	if (threads == 1) {
		write_worker(&j);
	} else {
		for (; started < threads; started++) {
			if (pthread_create(&tids[started], NULL, write_worker, &j) != 0) {
				struct error te = { "", 1 };
				err_tmp(&te, "cannot start a PDF writer thread");
				write_fail(&j, &te);
				break;
			}
		}
		for (int i = 0; i < started; i++)
			pthread_join(tids[i], NULL);
	}
	if (j.failed) {
		if (e)
			*e = j.err;
		goto out;
	}
	ret = 0;
out:
	pthread_mutex_destroy(&j.lock);
	return ret;
}
