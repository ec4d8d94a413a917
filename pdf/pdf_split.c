/*
 * pdf_split.c — the split plan (which pages belong to which resident, from
 * a page count, a key pattern or the CSV's keys found in the page text):
 * the driver that reads every page (pdf_split_match.c) and then walks the
 * pages, giving each to a resident by its evidence (pdf_split_evidence.c),
 * and the result's lists (see pdf_split.h; the write is pdf_split_write.c).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.7.3 (page tree); Unicode
 * UAX #15 (NFKC) for matching.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_fasttext.h"
#include "pdf/pdf_split.h"
#include "pdf/pdf_split_int.h"

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


/* plan_group() while it walks the pages. */
struct plan {
	struct page_res *pages;
	int npages;
	enum pdf_split_mode mode;
	const struct matcher *m;   /* AUTO */
	struct pdf_split_result *r;
	GHashTable *intern;        /* KEY: match -> id+1 */
	GHashTable *unknown;       /* AUTO: number not in the list -> id+1 */
	GHashTable *unlisted;      /* numbers already in r->unmatched_keys */
	GPtrArray *names;          /* KEY: id -> key; AUTO: id - m->n -> number */
	struct learned l;          /* AUTO */
	size_t nkeys;              /* ids below are keys (of the list, or matched) */
	unsigned char *held;       /* id -> held back by an undecided page */
	struct pdf_group *all;     /* every range, in page order */
	size_t nall;
	int *owner;                /* range -> its id; -2: an undecided page's */
	int *has_keyless;          /* range -> has pages without a key */
	int *keyed_later;          /* range -> has later pages with its key */
	int cur;                   /* the current resident's id, -1, or -2 */
	int need_pattern;          /* first keyless page nothing else explains */
	int runs_keyless;          /* ranges with keyless pages */
	int later;                 /* ranges with keyed later pages */
};

/* The ids: KEY interns the matches in page order; AUTO's are the list's,
 * and the batch teaches its label.  -1 when no page shows a key. */
static int plan_ids(struct plan *pl, struct error *e)
{
	struct page_res *pages = pl->pages;

	if (pl->mode == PDF_SPLIT_KEY) {
		pl->intern = g_hash_table_new(g_str_hash, g_str_equal);
		for (int p = 0; p < pl->npages; p++) {
			for (int i = 0; i < pages[p].nfound; i++) {
				gpointer v = g_hash_table_lookup(pl->intern, pages[p].kv[i]);
				if (!v) {
					g_ptr_array_add(pl->names, pages[p].kv[i]);
					v = GINT_TO_POINTER((int)pl->names->len);
					g_hash_table_insert(pl->intern, pages[p].kv[i], v);
				}
				pages[p].ids[i] = GPOINTER_TO_INT(v) - 1;
			}
		}
		pl->nkeys = pl->names->len;
	} else {
		pl->nkeys = pl->m->n;
		pdf_split_evidence_learn(pages, pl->npages, pl->m, &pl->l);
		if (pl->l.have_label)
			pl->r->key_label = xstrdup(pl->l.label);
	}
	for (int p = 0; p < pl->npages; p++)
		if (pages[p].nfound > 0)
			return 0;
	if (pl->mode == PDF_SPLIT_AUTO)
		return err_set(e, "none of the %zu keys given appears on any of the %d pages",
			       pl->m->n, pl->npages);
	return err_set(e, "the key pattern matches on none of the %d pages", pl->npages);
}

/* Page p (0-based) shows no key: it goes with the range before, or the
 * input is refused when something says it cannot. */
static int plan_keyless(struct plan *pl, int p, int numbered, struct error *e)
{
	const struct page_res *pr = &pl->pages[p];
	struct pdf_split_result *r = pl->r;

	if (pl->nall == 0)
		return err_set(e, "page 1 shows no %s, so it belongs to no resident",
			       pl->mode == PDF_SPLIT_AUTO ? "key from the list"
							  : "key matching the pattern");
	push_int(&r->keyless_pages, &r->nkeyless, p + 1);
	pl->all[pl->nall - 1].page_count++;
	if (!pl->has_keyless[pl->nall - 1]) {
		pl->has_keyless[pl->nall - 1] = 1;
		pl->runs_keyless++;
	}
	/* Its page number follows on from the page before's. */
	if (pr->mark_n >= 2 && pl->pages[p - 1].mark_n == pr->mark_n - 1 &&
	    pl->pages[p - 1].mark_m == pr->mark_m)
		return 0;
	if (pr->mark_n == 1)
		return err_set(e, "page %d shows no resident's key, and its page number "
				  "1/%d says a new notice begins there", p + 1, pr->mark_m);
	if (numbered)
		return err_set(e, "page %d shows no resident's key but a number like one "
				  "that other residents' pages show too, and no page number "
				  "says it follows on", p + 1);
	if (!pl->need_pattern)
		pl->need_pattern = p + 1;
	return 0;
}

/* Page p (0-based) could not be decided: every key of the list it shows
 * is held back, every other number listed as unmatched. */
static void plan_undecided(struct plan *pl, const struct owners *c, int p)
{
	struct pdf_split_result *r = pl->r;

	if (!pl->held)
		pl->held = xcalloc(pl->nkeys + 1, 1);
	for (int i = 0; i < c->n; i++) {
		if ((size_t)c->v[i] >= pl->nkeys) {
			unmatched_add(r, pl->unlisted, pl->names, pl->nkeys, c->v[i]);
		} else {
			r->holds = xrealloc(r->holds, (r->nholds + 1) * sizeof *r->holds);
			r->holds[r->nholds].key = xstrdup(pl->mode == PDF_SPLIT_KEY
				? (const char *)g_ptr_array_index(pl->names, (guint)c->v[i])
				: pl->m->keys[c->v[i]]);
			r->holds[r->nholds++].page = p + 1;
			pl->held[c->v[i]] = 1;
		}
	}
}

/* Page p (0-based): with the range before it, or the start of a new one. */
static int plan_page(struct plan *pl, int p, struct error *e)
{
	struct page_res *pr = &pl->pages[p];
	struct owners c;
	enum page_kind kind;
	int numbered = 0;

	if (pl->mode == PDF_SPLIT_AUTO) {
		kind = pdf_split_evidence_page(pr, pl->m, &pl->l, pl->unknown, pl->names, pl->cur,
					       &c, &numbered);
	} else {
		memset(&c, 0, sizeof c);
		for (int i = 0; i < pr->nfound; i++)
			pdf_split_evidence_add(&c, pr->ids[i]);
		kind = pr->nfound == 0 ? PAGE_KEYLESS
		       : pr->nfound == 1 && !pr->too_many ? PAGE_KEYED : PAGE_UNDECIDED;
	}
	if (pr->nfound > 1)
		push_int(&pl->r->ambiguous_pages, &pl->r->nambiguous, p + 1);
	if (kind == PAGE_KEYLESS)
		return plan_keyless(pl, p, numbered, e);
	if ((kind == PAGE_KEYED && c.v[0] == pl->cur && pl->owner[pl->nall - 1] == pl->cur) ||
	    kind == PAGE_CONT) {
		pl->all[pl->nall - 1].page_count++;
		if (!pl->keyed_later[pl->nall - 1]) {
			pl->keyed_later[pl->nall - 1] = 1;
			pl->later++;
		}
		return 0;
	}
	pl->all[pl->nall].first_page = p + 1;
	pl->all[pl->nall].page_count = 1;
	if (kind == PAGE_UNDECIDED) {
		/* Nobody gets this page, nor the pages that follow it. */
		pl->cur = -2;
		pl->owner[pl->nall] = -2;
		plan_undecided(pl, &c, p);
	} else {
		pl->cur = c.v[0];
		pl->owner[pl->nall] = pl->cur;
		if ((size_t)pl->cur >= pl->nkeys)
			unmatched_add(pl->r, pl->unlisted, pl->names, pl->nkeys, pl->cur);
	}
	pl->nall++;
	return 0;
}

/* The ranges into r: a key of the list in one range and on no undecided
 * page is a group; every range of a repeated or held key is held. */
static void plan_ranges(struct plan *pl)
{
	struct pdf_split_result *r = pl->r;
	size_t nids = pl->nkeys + (pl->mode == PDF_SPLIT_AUTO ? pl->names->len : 0);
	int *ranges = xcalloc(nids + 1, sizeof *ranges); /* id -> number of ranges */
	unsigned char *listed = xcalloc(nids + 1, 1);

	for (size_t g = 0; g < pl->nall; g++)
		if (pl->owner[g] >= 0)
			ranges[pl->owner[g]]++;
	for (size_t g = 0; g < pl->nall; g++) {
		int id = pl->owner[g];
		const char *name, *form;
		struct pdf_group *dst;

		if (id < 0)
			continue; /* an undecided page: its keys are in holds */
		if ((size_t)id >= pl->nkeys)
			continue; /* not in the list (r->unmatched_keys): nobody's */
		name = pl->mode == PDF_SPLIT_KEY ? g_ptr_array_index(pl->names, (guint)id)
						 : pl->m->keys[id];
		form = pl->mode != PDF_SPLIT_AUTO ? NULL
		       : pdf_split_evidence_printed(&pl->pages[pl->all[g].first_page - 1],
						    &pl->l, id);
		if (ranges[id] > 1 || (pl->held && pl->held[id])) {
			if (ranges[id] > 1 && !listed[id]) {
				push_str(&r->repeated_keys, &r->nrepeated, name);
				listed[id] = 1;
			}
			r->held = xrealloc(r->held, (r->nheld + 1) * sizeof *r->held);
			dst = &r->held[r->nheld++];
		} else {
			if (!r->groups)
				r->groups = xcalloc(pl->nall, sizeof *r->groups);
			dst = &r->groups[r->ngroups++];
		}
		*dst = pl->all[g];
		dst->key = xstrdup(name);
		dst->found = xstrdup(pl->mode == PDF_SPLIT_KEY ? name : form ? form : name);
	}
	if (pl->mode == PDF_SPLIT_AUTO)
		for (size_t id = 0; id < pl->m->n; id++)
			if (ranges[id] == 0 && !(pl->held && pl->held[id]))
				push_str(&r->missing_keys, &r->nmissing, pl->m->keys[id]);
	free(ranges);
	free(listed);
}

/*
 * Group the pages by the evidence on each (pdf_split.h describes the
 * rules), then move every key that occurs in more than one range, or on
 * a page that could not be decided, to held.
 */
static int plan_group(struct page_res *pages, int npages, enum pdf_split_mode mode,
		      const struct matcher *m, struct pdf_split_result *r, struct error *e)
{
	struct plan pl;
	int ret = -1;

	memset(&pl, 0, sizeof pl);
	pl.pages = pages;
	pl.npages = npages;
	pl.mode = mode;
	pl.m = m;
	pl.r = r;
	pl.cur = -1;
	pl.names = g_ptr_array_new();
	pl.unknown = g_hash_table_new(g_str_hash, g_str_equal);
	pl.unlisted = g_hash_table_new(g_str_hash, g_str_equal);
	if (plan_ids(&pl, e) < 0)
		goto out;
	pl.all = xcalloc((size_t)npages, sizeof *pl.all);
	pl.owner = xcalloc((size_t)npages, sizeof *pl.owner);
	pl.has_keyless = xcalloc((size_t)npages, sizeof *pl.has_keyless);
	pl.keyed_later = xcalloc((size_t)npages, sizeof *pl.keyed_later);
	for (int p = 0; p < npages; p++)
		if (plan_page(&pl, p, e) < 0)
			goto out;
	/* A page without a key goes with the page before only when the
	 * batch shows that layout: no resident's later pages carry the key,
	 * and it is so for more than one resident (or every one). */
	if (pl.need_pattern &&
	    (pl.later > 0 || (pl.runs_keyless < 2 && (size_t)pl.runs_keyless < pl.nall))) {
		err_set(e, "page %d shows no resident's key, and nothing says it continues the "
			   "page before (no page number such as 2/3 following on; %s)",
			pl.need_pattern,
			pl.later > 0 ? "other residents' later pages show their key"
				     : "no other resident's later pages lack the key");
		goto out;
	}
	plan_ranges(&pl);
	ret = 0;
out:
	free(pl.all);
	free(pl.owner);
	free(pl.has_keyless);
	free(pl.keyed_later);
	free(pl.held);
	pdf_split_evidence_free(&pl.l);
	if (pl.intern)
		g_hash_table_destroy(pl.intern);
	g_hash_table_destroy(pl.unknown);
	g_hash_table_destroy(pl.unlisted);
	g_ptr_array_free(pl.names, TRUE);
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
		if (pdf_split_match_init(&m, o->keys, o->nkeys, e) < 0)
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
		if (pdf_fasttext_each(data, len, o->password, 1, npages, o->threads,
				      pdf_split_match_page, &sc, e) < 0)
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
	pdf_split_match_pages_free(pages, npages);
	if (re)
		g_regex_unref(re);
	if (have_matcher)
		pdf_split_match_free(&m);
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
