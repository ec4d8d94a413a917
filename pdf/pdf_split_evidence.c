/*
 * pdf_split_evidence.c — the attribution's evidence in AUTO mode: what the
 * whole batch teaches about its keys (the label printed before them, the
 * digit counts, the numbers in other roles or on everyone's pages), and
 * whom one page's numbers point to given that (pdf_split.h states the
 * rules; pdf_split.c walks the pages with it).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input, once every page has been read.
 */
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include "lib/util.h"
#include "pdf/pdf_split.h"
#include "pdf/pdf_split_int.h"

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

void pdf_split_evidence_learn(const struct page_res *pages, int npages, const struct matcher *m,
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

void pdf_split_evidence_free(struct learned *l)
{
	if (l->secondary)
		g_hash_table_destroy(l->secondary);
	if (l->constant)
		g_hash_table_destroy(l->constant);
	memset(l, 0, sizeof *l);
}

void pdf_split_evidence_add(struct owners *o, int id)
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

/* AUTO: whom one page's evidence points to (see pdf_split_int.h). */
enum page_kind pdf_split_evidence_page(const struct page_res *pr, const struct matcher *m,
				       const struct learned *l, GHashTable *unknown,
				       GPtrArray *names, int cur, struct owners *c, int *numbered)
{
	memset(c, 0, sizeof *c);
	*numbered = 0;
	if (pr->too_many) {
		for (int i = 0; i < pr->nfound; i++)
			pdf_split_evidence_add(c, pr->ids[i]);
		return PAGE_UNDECIDED;
	}
	if (l->have_label) {
		/* The number beside the label is the page's resident. */
		for (int i = 0; i < pr->nruns; i++) {
			const struct digit_run *r = &pr->runs[i];
			if (is_label_run(l, r))
				pdf_split_evidence_add(c, r->id >= 0 ? r->id : unknown_id(unknown, names, m->n, r->value));
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
					pdf_split_evidence_add(c, pr->ids[k]);
			}
			if (c->n == 0)
				return PAGE_KEYLESS;
			if (c->n == 1 && !c->overflow && c->v[0] == cur)
				return PAGE_CONT;
			return PAGE_UNDECIDED;
		}
	} else {
		for (int i = 0; i < pr->nfound; i++)
			pdf_split_evidence_add(c, pr->ids[i]);
		for (int i = 0; i < pr->nruns; i++) {
			const struct digit_run *r = &pr->runs[i];
			if (r->id < 0 && r->whole && width_ok(l, r->len) &&
			    !g_hash_table_contains(l->constant, r->value))
				pdf_split_evidence_add(c, unknown_id(unknown, names, m->n, r->value));
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
const char *pdf_split_evidence_printed(const struct page_res *pr, const struct learned *l,
				       int id)
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
