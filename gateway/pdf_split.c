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
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "util.h"
#include "gateway/pdf_check.h"
#include "gateway/pdf_copy.h"
#include "gateway/pdf_text.h"
#include "gateway/pdf_fasttext.h"
#include "gateway/pdf_split.h"

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

struct page_res {
	int nfound;                /* distinct keys seen, capped at PAGE_KEYS_MAX */
	int ids[PAGE_KEYS_MAX];    /* AUTO: key ids in order of appearance */
	char *found;               /* as printed (AUTO: for ids[0]; KEY: the key) */
};

static void page_add(struct page_res *pr, int id, const char *form, size_t formlen)
{
	for (int i = 0; i < pr->nfound; i++)
		if (pr->ids[i] == id)
			return;
	if (pr->nfound >= PAGE_KEYS_MAX)
		return;
	if (pr->nfound == 0)
		pr->found = g_strndup(form, formlen);
	pr->ids[pr->nfound++] = id;
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
	/* pdf_split_run only: pages done, and a way to wait for them */
	atomic_int *done;         /* [npages], 1 once pages[i] is final */
	atomic_int stop;          /* set by the writer to end the text threads */
	int finished;             /* the text threads are done (under lock) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static int scan_page_body(struct scan_ctx *c, int page, const char *text, size_t len,
			  struct error *e);

static int scan_page(void *arg, int page, const char *text, size_t len, struct error *e)
{
	struct scan_ctx *c = arg;
	int rc;

	if (!c->done)
		return scan_page_body(c, page, text, len, e);
	if (atomic_load(&c->stop))
		return err_tmp(e, "stopped");
	rc = scan_page_body(c, page, text, len, e);
	atomic_store(&c->done[page - 1], 1);
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int scan_page_body(struct scan_ctx *c, int page, const char *text, size_t len,
			  struct error *e)
{
	struct page_res *pr = &c->pages[page - 1];

	if (c->mode == PDF_SPLIT_AUTO) {
		match_page(c->m, text, len, pr);
		return 0;
	}
	/* KEY */
	GMatchInfo *mi = NULL;
	if (g_regex_match_full(c->re, text, (gssize)len, 0, 0, &mi, NULL)) {
		int s = -1, t = -1;
		if (g_regex_get_capture_count(c->re) >= 1)
			g_match_info_fetch_pos(mi, 1, &s, &t);
		if (s < 0 || t < s)
			g_match_info_fetch_pos(mi, 0, &s, &t);
		if (s >= 0 && t >= s) {
			char *key = g_strndup(text + s, (gsize)(t - s));
			g_strstrip(key);
			if (strlen(key) > PDF_KEY_MAX) {
				g_free(key);
				g_match_info_free(mi);
				return err_set(e, "the key found on page %d is longer than %d bytes",
					       page, PDF_KEY_MAX);
			}
			if (*key) {
				pr->found = key;
				pr->nfound = 1;
			} else {
				g_free(key);
			}
		}
	}
	g_match_info_free(mi);
	return 0;
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
	free(r->groups);
	free(r->held);
	free(r->repeated_keys);
	free(r->keyless_pages);
	free(r->ambiguous_pages);
	free(r->missing_keys);
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
 * The page-by-page rule shared by plan_group() and the streaming writer:
 * the key a page with keys belongs to, given the current one (AUTO: ids;
 * an ambiguous page stays with the current key when it shows it).
 */
static int page_key_id(const struct page_res *pr, int cur)
{
	for (int i = 1; i < pr->nfound; i++)
		if (pr->ids[i] == cur)
			return cur;
	return pr->ids[0];
}

/*
 * Group pages by key id (KEY: ids interned from the found strings), then
 * move every key that occurs in more than one range to held.
 */
static int plan_group(struct page_res *pages, int npages, enum pdf_split_mode mode,
		      const struct matcher *m, struct pdf_split_result *r, struct error *e)
{
	GHashTable *intern = NULL;
	GPtrArray *names = NULL;   /* KEY: id -> key string (borrowed from pages) */
	int *ranges = NULL;        /* id -> number of ranges */
	struct pdf_group *all = NULL;
	size_t nall = 0, nids;
	int cur = -1, ret = -1, any = 0;

	if (mode == PDF_SPLIT_KEY) {
		intern = g_hash_table_new(g_str_hash, g_str_equal);
		names = g_ptr_array_new();
		for (int p = 0; p < npages; p++) {
			gpointer v;
			if (pages[p].nfound == 0)
				continue;
			v = g_hash_table_lookup(intern, pages[p].found);
			if (!v) {
				g_ptr_array_add(names, pages[p].found);
				v = GINT_TO_POINTER((int)names->len);
				g_hash_table_insert(intern, pages[p].found, v);
			}
			pages[p].ids[0] = GPOINTER_TO_INT(v) - 1;
		}
		nids = names->len;
	} else {
		nids = m->n;
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
	if (pages[0].nfound == 0) {
		err_set(e, "page 1 shows no %s, so it belongs to no resident",
			mode == PDF_SPLIT_AUTO ? "key from the list" : "key matching the pattern");
		goto out;
	}

	ranges = xcalloc(nids ? nids : 1, sizeof *ranges);
	all = xcalloc((size_t)npages, sizeof *all);
	for (int p = 0; p < npages; p++) {
		struct page_res *pr = &pages[p];
		int id;

		if (pr->nfound == 0) {
			push_int(&r->keyless_pages, &r->nkeyless, p + 1);
			all[nall - 1].page_count++;
			continue;
		}
		id = page_key_id(pr, cur);
		if (pr->nfound > 1)
			push_int(&r->ambiguous_pages, &r->nambiguous, p + 1);
		if (id == cur) {
			all[nall - 1].page_count++;
			continue;
		}
		cur = id;
		ranges[id]++;
		/* key holds the id until the strings are filled in below. */
		all[nall].key = (char *)(intptr_t)id;
		all[nall].found = xstrdup(id == pr->ids[0] ? pr->found : "");
		all[nall].first_page = p + 1;
		all[nall].page_count = 1;
		nall++;
	}
	for (size_t g = 0; g < nall; g++) {
		int id = (int)(intptr_t)all[g].key;
		const char *name = mode == PDF_SPLIT_KEY ? g_ptr_array_index(names, (guint)id)
							: m->keys[id];
		struct pdf_group *dst;

		if (!*all[g].found) {
			free(all[g].found);
			all[g].found = xstrdup(name);
		}
		if (ranges[id] > 1 || ranges[id] < 0) {
			if (ranges[id] > 1) {
				push_str(&r->repeated_keys, &r->nrepeated, name);
				ranges[id] = -ranges[id]; /* negative: listed already */
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
	}
	if (mode == PDF_SPLIT_AUTO)
		for (size_t id = 0; id < m->n; id++)
			if (ranges[id] == 0)
				push_str(&r->missing_keys, &r->nmissing, m->keys[id]);
	ret = 0;
out:
	free(all);
	free(ranges);
	if (intern)
		g_hash_table_destroy(intern);
	if (names)
		g_ptr_array_free(names, TRUE);
	return ret;
}

struct text_thread {
	const uint8_t *data;
	size_t len;
	const struct pdf_split_opts *o;
	int npages;
	struct scan_ctx *sc;
	int rc;
	struct error err;
	pthread_t tid;
};

static void *text_main(void *arg)
{
	struct text_thread *t = arg;

	/* qpdf-based text first, poppler for the pages it cannot decode. */
	t->rc = pdf_fasttext_each(t->data, t->len, t->o->password, 1, t->npages, t->o->threads,
				  scan_page, t->sc, &t->err);
	pthread_mutex_lock(&t->sc->lock);
	t->sc->finished = 1;
	pthread_cond_broadcast(&t->sc->cond);
	pthread_mutex_unlock(&t->sc->lock);
	return NULL;
}

/* Wait until page p (1-based) is scanned; 0 if the text threads ended first. */
static int wait_page(struct scan_ctx *sc, int p)
{
	if (atomic_load(&sc->done[p - 1]))
		return 1;
	pthread_mutex_lock(&sc->lock);
	while (!atomic_load(&sc->done[p - 1]) && !sc->finished)
		pthread_cond_wait(&sc->cond, &sc->lock);
	pthread_mutex_unlock(&sc->lock);
	return atomic_load(&sc->done[p - 1]);
}

/*
 * The streaming writer: follows the scanned prefix of the document and
 * writes each resident's PDF as soon as the next page shows another key.
 * A group whose key already had a range is not emitted.  Returns 0 when
 * every closed group was emitted (or writing stopped early because page
 * 1 has no key: the full plan then says why), -1 on an emit or qpdf
 * error.
 */
static int stream_write(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
			struct scan_ctx *sc, int npages, pdf_split_emit_fn emit, void *ctx,
			struct error *e)
{
	struct pdf_splitter *sp = NULL;
	GHashTable *ranges = g_hash_table_new(g_str_hash, g_str_equal); /* key -> ranges */
	struct pdf_group g = { NULL, NULL, 0, 0 };
	int cur = -1, ret = -1;

	if (pdf_splitter_open(data, len, o->password, o->max_pages, &sp, e) < 0)
		goto out;
	for (int p = 1; p <= npages + 1; p++) {
		const struct page_res *pr = NULL;
		const char *key = NULL;
		int id = -1;

		if (p <= npages) {
			if (!wait_page(sc, p))
				break; /* the text failed; its error wins */
			pr = &sc->pages[p - 1];
			if (pr->nfound == 0) {
				if (!g.key)
					break; /* page 1: refused by the plan */
				g.page_count++;
				continue;
			}
			if (sc->mode == PDF_SPLIT_AUTO) {
				id = page_key_id(pr, cur);
				key = sc->m->keys[id];
			} else {
				key = pr->found;
			}
			if (g.key && strcmp(key, g.key) == 0) {
				g.page_count++;
				continue;
			}
		}
		/* A new key (or the end): the current group is complete. */
		if (g.key && GPOINTER_TO_INT(g_hash_table_lookup(ranges, g.key)) == 1) {
			if (splitter_make(sp, g.first_page, g.page_count, o->sig, e) < 0 ||
			    emit(ctx, &g, &sp->made, e) < 0)
				goto out;
		}
		if (p > npages)
			break;
		cur = id;
		g.key = (char *)key;
		g.found = pr->found ? pr->found : (char *)key;
		if (sc->mode == PDF_SPLIT_AUTO && id != pr->ids[0])
			g.found = (char *)key; /* ambiguous page: found holds another key */
		g.first_page = p;
		g.page_count = 1;
		g_hash_table_insert(ranges, (char *)key,
				    GINT_TO_POINTER(GPOINTER_TO_INT(g_hash_table_lookup(ranges, key)) + 1));
	}
	ret = 0;
out:
	pdf_splitter_close(&sp);
	g_hash_table_destroy(ranges);
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
	struct text_thread tt;
	struct page_res *pages = NULL;
	GRegex *re = NULL;
	GError *gerr = NULL;
	int npages = 0, ret = -1, have_matcher = 0, sync_init = 0;

	memset(r, 0, sizeof *r);
	memset(&sc, 0, sizeof sc);
	memset(&tt, 0, sizeof tt);
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
		if (emit && pdf_split_write(data, len, o, r->groups, r->ngroups, emit, ctx, e) < 0)
			goto out;
		ret = 0;
		goto out;
	}
	pages = xcalloc((size_t)npages, sizeof *pages);
	sc.mode = o->mode;
	sc.m = have_matcher ? &m : NULL;
	sc.re = re;
	sc.pages = pages;
	/* The check's qpdf handle is gone: give its memory back before the
	 * text threads grow their own heaps. */
	malloc_trim(0);
	if (!emit) {
		if (pdf_fasttext_each(data, len, o->password, 1, npages, o->threads, scan_page, &sc,
				      e) < 0)
			goto out;
	} else {
		int wrc;
		sc.done = xcalloc((size_t)npages, sizeof *sc.done);
		atomic_init(&sc.stop, 0);
		pthread_mutex_init(&sc.lock, NULL);
		pthread_cond_init(&sc.cond, NULL);
		sync_init = 1;
		tt.data = data;
		tt.len = len;
		tt.o = o;
		tt.npages = npages;
		tt.sc = &sc;
		if (pthread_create(&tt.tid, NULL, text_main, &tt) != 0) {
			err_tmp(e, "cannot start the text extraction thread");
			goto out;
		}
		wrc = stream_write(data, len, o, &sc, npages, emit, ctx, e);
		if (wrc < 0)
			atomic_store(&sc.stop, 1);
		pthread_join(tt.tid, NULL);
		if (wrc < 0)
			goto out;
		if (tt.rc < 0) {
			if (e)
				*e = tt.err;
			goto out;
		}
	}
	ret = plan_group(pages, npages, o->mode, sc.m, r, e);
	/* Likewise for the poppler documents, before the writers start. */
	malloc_trim(0);
out:
	if (ret < 0)
		pdf_split_result_free(r);
	if (sync_init) {
		pthread_cond_destroy(&sc.cond);
		pthread_mutex_destroy(&sc.lock);
	}
	free(sc.done);
	if (pages) {
		for (int p = 0; p < npages; p++)
			g_free(pages[p].found);
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
