/*
 * batch_match.c — the first step of a batch (batch_int.h): read the
 * recipients CSV, check every PDF, and match them in one of three forms:
 * one PDF split into residents (by the CSV's keys on the pages, a key
 * pattern, or a page count), one PDF per resident named by its key (or by
 * the CSV's attachment column), or one common PDF for everybody.  Makes
 * the plan signing follows and the matching report's lists; stores
 * nothing.  Runs in the gateway and in `tayori submit`.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/batch_int.h"
#include "gateway/csv.h"
#include "lib/batches.h"
#include "lib/log.h"
#include "pdf/pdf_text.h"

/* Scratch of one matching. */
struct match {
	const struct batch_input *in;
	struct batch_plan *p;
	struct batch_report *rep;
	GHashTable *by_key;   /* usable key -> row + 1 */
	GHashTable *pdf_keys; /* every normalised key some PDF belongs to */
};

#define HELD_KEY (RCPT_EMPTY_KEY | RCPT_INVALID_KEY)

int batch_match_usable(const struct recipient *p)
{
	return !(p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY | RCPT_DUPLICATE_KEY |
			     RCPT_EXTRA_FIELDS));
}

/* e's message with a prefix, keeping whether it is temporary. */
static int err_prefix(struct error *e, const char *who)
{
	char msg[ERR_MAX];
	str_copy(msg, e->msg, sizeof(msg));
	if (e->temporary)
		return err_tmp(e, "%s: %s", who, msg);
	return err_set(e, "%s: %s", who, msg);
}

/* "Notice 00012345.PDF" -> the name without its extension; refuses names
 * that are paths.  Never used to open anything. */
static int file_stem(const char *name, char *out, size_t outsize, struct error *e)
{
	size_t n;
	if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL || strstr(name, "..") != NULL ||
	    name[0] == '\0')
		return err_set(e, "the file name \"%.80s\" would leave the batch folder", name);
	if (str_copy(out, name, outsize) >= outsize)
		return err_set(e, "the file name \"%.80s...\" is too long", name);
	n = strlen(out);
	if (n > 4 && g_ascii_strcasecmp(out + n - 4, ".pdf") == 0)
		out[n - 4] = '\0';
	return 0;
}

static int is_common_name(const char *name)
{
	return strstr(name, "共通") != NULL || g_strrstr(name, "common") != NULL ||
	       g_strrstr(name, "COMMON") != NULL;
}

static void report_fill_recipients(struct batch_report *rep, const struct recipients *r)
{
	rep->recipients = r->n;
	rep->key_width = r->key_width;
	str_copy(rep->encoding, r->encoding ? r->encoding : "", sizeof(rep->encoding));
	str_copy(rep->key_column, r->key_header ? r->key_header : "", sizeof(rep->key_column));
	str_copy(rep->name_column, r->name_header ? r->name_header : "", sizeof(rep->name_column));
	str_copy(rep->email_column, r->email_header ? r->email_header : "", sizeof(rep->email_column));
	for (size_t i = 0; i < r->n; i++) {
		const struct recipient *p = &r->v[i];
		if (p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY | RCPT_EXTRA_FIELDS)) {
			char line[64];
			str_fmt(line, sizeof(line), "line %zu: %s", p->line,
				(p->flags & RCPT_EMPTY_KEY) ? "no key"
				: (p->flags & RCPT_INVALID_KEY) ? "a key that is not usable"
								  : "more fields than the header");
			batch_report_add(&rep->rows_held, line);
			if (p->flags & HELD_KEY)
				continue;
		}
		if (p->flags & RCPT_DUPLICATE_KEY)
			batch_report_add(&rep->duplicate_keys, p->key);
		if (p->flags & RCPT_INVALID_EMAIL)
			batch_report_add(&rep->invalid_emails, p->key);
		if (p->flags & RCPT_NO_EMAIL)
			batch_report_add(&rep->no_email_rows, p->key);
	}
}

static int read_recipients(const struct batch_input *in, struct recipients **r,
			   struct batch_report *rep, struct error *e)
{
	struct csv_limits lim = { 0, in->csv_max_rows, 0, 0 };
	struct csv_table *t = NULL;
	struct recipients_options o;
	const struct batch_settings *s = in->set;
	const char *who = in->csv.name ? in->csv.name : "CSV";
	int ret;

	if (in->csv.data == NULL)
		return err_set(e, "the batch has no recipients CSV");
	memset(&o, 0, sizeof(o));
	if (s != NULL) {
		o.key_column = s->key_column;
		o.name_column = s->name_column;
		o.email_column = s->email_column;
		o.message_column = s->message_column;
		o.attachment_column = s->attachment_column;
		o.auth_column = s->auth_column;
		o.key_width = s->key_width;
	}
	if (csv_parse(in->csv.data, in->csv.len, &lim, &t, e) < 0) {
		char msg[ERR_MAX];
		str_copy(msg, e->msg, sizeof(msg));
		return err_set(e, "%s: %s", who, msg);
	}
	ret = recipients_from_csv(t, &o, r, e);
	csv_free(&t);
	if (ret < 0) {
		char msg[ERR_MAX];
		str_copy(msg, e->msg, sizeof(msg));
		return err_set(e, "%s: %s", who, msg);
	}
	report_fill_recipients(rep, *r);
	return 0;
}

static enum batch_split decide_split(const struct batch_input *in)
{
	enum batch_split s = in->set != NULL ? in->set->split : SPLIT_INFER;
	if (s != SPLIT_INFER)
		return s;
	if (in->npdfs > 1)
		return SPLIT_PER_FILE;
	if (in->npdfs == 1 && is_common_name(in->pdfs[0].name))
		return SPLIT_COMMON;
	return SPLIT_AUTO;
}

/* Row + 1 of each usable key; duplicates never map. */
static GHashTable *key_index(const struct recipients *r)
{
	GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; i < r->n; i++)
		if (batch_match_usable(&r->v[i]))
			g_hash_table_insert(h, r->v[i].key, GUINT_TO_POINTER((guint)(i + 1)));
	return h;
}

static int known_key(const struct recipients *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!(r->v[i].flags & HELD_KEY) && strcmp(r->v[i].key, key) == 0)
			return 1;
	return 0;
}

/* Every PDF is one pdf_check() accepts; the first one's facts are kept. */
static int check_pdfs(const struct batch_input *in, struct batch_plan *p, struct error *e)
{
	if (in->npdfs == 0)
		return err_set(e, "the batch has no PDF");
	for (size_t i = 0; i < in->npdfs; i++) {
		struct error ce = { { 0 }, 0 };
		if (pdf_check(in->pdfs[i].data, in->pdfs[i].len, in->pdf_password, in->max_pages,
			      i == 0 ? &p->first_info : NULL, &ce) < 0) {
			if (ce.temporary)
				return err_tmp(e, "%s: %s", in->pdfs[i].name, ce.msg);
			return err_set(e, "%s: %s", in->pdfs[i].name, ce.msg);
		}
	}
	return 0;
}

/* ---- one common PDF ---- */

static int match_common(struct match *m, struct error *e)
{
	const struct recipients *r = m->p->r;

	if (m->in->npdfs != 1)
		return err_set(e, "a common PDF batch takes exactly one PDF, not %zu", m->in->npdfs);
	str_copy(m->rep->split_rule, "common PDF for everybody", sizeof(m->rep->split_rule));
	for (size_t i = 0; i < r->n; i++)
		if (!(r->v[i].flags & HELD_KEY)) {
			g_hash_table_add(m->pdf_keys, g_strdup(r->v[i].key));
			if (batch_match_usable(&r->v[i]))
				m->p->pdf_seq[i] = BATCH_PDF_COMMON;
		}
	return 0;
}

/* ---- one PDF per resident ---- */

/* The row + 1 whose attachment column names this file, or 0. */
static int attachment_row(const struct recipients *r, const char *stem, guint *row,
			  struct error *e)
{
	*row = 0;
	for (size_t i = 0; i < r->n; i++) {
		char astem[256];
		if (r->v[i].attachment == NULL || r->v[i].attachment[0] == '\0' ||
		    !batch_match_usable(&r->v[i]))
			continue;
		if (file_stem(r->v[i].attachment, astem, sizeof(astem), e) < 0) {
			char msg[ERR_MAX];
			str_copy(msg, e->msg, sizeof(msg));
			return err_set(e, "CSV line %zu: %s", r->v[i].line, msg);
		}
		if (strcmp(astem, stem) == 0) {
			*row = (guint)(i + 1);
			return 0;
		}
	}
	return 0;
}

/* Match input PDF f: a file named in the CSV's attachment column wins,
 * then a file named by a key. */
static int match_one_file(struct match *m, size_t f, struct error *e)
{
	const struct batch_file *file = &m->in->pdfs[f];
	const struct recipients *r = m->p->r;
	char stem[256], norm[RECIPIENTS_KEY_MAX + 1];
	int have_norm;
	guint row;

	if (file_stem(file->name, stem, sizeof(stem), e) < 0 ||
	    attachment_row(r, stem, &row, e) < 0)
		return -1;
	have_norm = recipients_normalize_key(stem, r->key_width, norm, sizeof(norm)) == 0;
	if (row == 0 && have_norm) {
		row = GPOINTER_TO_UINT(g_hash_table_lookup(m->by_key, norm));
		g_hash_table_add(m->pdf_keys, g_strdup(norm));
	}
	if (row == 0) {
		if (have_norm && known_key(r, norm))
			return 0; /* a held key (duplicate): never signed */
		batch_report_add(&m->rep->unmatched_pdf_keys, have_norm ? norm : stem);
		return 0;
	}
	if (m->p->pdf_seq[row - 1] != 0)
		return err_set(e, "%s: a second PDF for the resident on CSV line %zu", file->name,
			       r->v[row - 1].line);
	m->p->file_seq[f] = row;
	m->p->pdf_seq[row - 1] = row;
	g_hash_table_add(m->pdf_keys, g_strdup(r->v[row - 1].key));
	return 0;
}

static int match_per_file(struct match *m, struct error *e)
{
	m->p->file_seq = xcalloc(m->in->npdfs, sizeof(*m->p->file_seq));
	str_copy(m->rep->split_rule, "one PDF per resident, matched by file name",
		 sizeof(m->rep->split_rule));
	for (size_t f = 0; f < m->in->npdfs; f++)
		if (match_one_file(m, f, e) < 0)
			return -1;
	return 0;
}

/* ---- one PDF to split ---- */

/* Find the page groups: auto (the CSV's keys on the pages), a key
 * pattern, or a page count. */
static int split_groups(struct match *m, struct error *e)
{
	const struct batch_input *in = m->in;
	struct batch_plan *p = m->p;
	const struct recipients *r = p->r;
	struct pdf_split_opts *so = &p->so;
	size_t nkeys = 0;

	if (in->npdfs != 1)
		return err_set(e, "splitting takes exactly one PDF, not %zu (or name one PDF per resident)",
			       in->npdfs);
	memset(so, 0, sizeof(*so));
	so->threads = p->threads;
	so->password = in->pdf_password;
	so->max_pages = in->max_pages;
	so->checked = &p->first_info; /* checked already: not parsed again */
	if (p->split == SPLIT_AUTO) {
		p->keys = xcalloc(r->n ? r->n : 1, sizeof(*p->keys));
		for (size_t i = 0; i < r->n; i++)
			if (!(r->v[i].flags & HELD_KEY))
				p->keys[nkeys++] = r->v[i].key;
		so->mode = PDF_SPLIT_AUTO;
		so->keys = p->keys;
		so->nkeys = nkeys;
	} else if (p->split == SPLIT_KEY) {
		so->mode = PDF_SPLIT_KEY;
		so->key_regex = in->set->key_regex;
	} else {
		so->mode = PDF_SPLIT_PAGES;
		so->pages_per_resident = in->set->pages;
	}
	if (pdf_split_plan(in->pdfs[0].data, in->pdfs[0].len, so, &p->groups, e) < 0)
		return err_prefix(e, in->pdfs[0].name);
	p->have_groups = 1;
	m->rep->pages = p->groups.info.pages;
	log_debug("event=batch_planned pages=%d groups=%zu", p->groups.info.pages,
		  p->groups.ngroups);
	return 0;
}

/* The rule for the report; with pages, one group per usable CSV row. */
static int split_rule(struct match *m, struct error *e)
{
	const struct batch_plan *p = m->p;
	size_t usable_rows = 0;

	if (p->split != SPLIT_PAGES) {
		str_fmt(m->rep->split_rule, sizeof(m->rep->split_rule), "%s",
			p->split == SPLIT_AUTO ? "each resident's key found on the pages"
					       : "a new resident where the key on the page changes");
		return 0;
	}
	str_fmt(m->rep->split_rule, sizeof(m->rep->split_rule),
		"%d pages per resident, in CSV order", p->so.pages_per_resident);
	for (size_t i = 0; i < p->r->n; i++)
		usable_rows += !(p->r->v[i].flags & HELD_KEY);
	if (p->groups.ngroups != usable_rows)
		return err_set(e, "%s: %zu residents of %d pages, but the CSV has %zu rows",
			       m->in->pdfs[0].name, p->groups.ngroups, p->so.pages_per_resident,
			       usable_rows);
	return 0;
}

/* Give each page group to its resident: by CSV order with pages, else by
 * the key found on the pages. */
static void split_assign(struct match *m)
{
	struct batch_plan *p = m->p;
	const struct recipients *r = p->r;

	for (size_t g = 0, row = 0; g < p->groups.ngroups; g++) {
		char norm[RECIPIENTS_KEY_MAX + 1];
		const char *k = p->groups.groups[g].key;
		gpointer v;
		if (p->split == SPLIT_PAGES) {
			while (row < r->n && (r->v[row].flags & HELD_KEY))
				row++;
			k = r->v[row++].key;
		} else if (p->split == SPLIT_KEY &&
			   recipients_normalize_key(k, r->key_width, norm, sizeof(norm)) == 0) {
			k = norm;
		}
		g_hash_table_add(m->pdf_keys, g_strdup(k));
		v = g_hash_table_lookup(m->by_key, k);
		if (v == NULL) {
			if (!known_key(r, k))
				batch_report_add(&m->rep->unmatched_pdf_keys, k);
			continue;
		}
		if (p->pdf_seq[GPOINTER_TO_UINT(v) - 1] != 0)
			continue;
		p->pdf_seq[GPOINTER_TO_UINT(v) - 1] = GPOINTER_TO_UINT(v);
		g_hash_table_insert(p->want, g_strdup(p->groups.groups[g].key), v);
	}
}

/* What the splitter kept from everybody: keys in two page ranges, numbers
 * in the key's place the CSV does not have (their pages go to nobody), and
 * residents on a page that cannot be given to one of them (paper: the
 * report says which page). */
static void split_report(struct match *m)
{
	const struct pdf_split_result *g = &m->p->groups;
	const struct recipients *r = m->p->r;

	for (size_t i = 0; i < g->nrepeated; i++)
		batch_report_add(&m->rep->repeated_pdf_keys, g->repeated_keys[i]);
	for (size_t i = 0; i < g->nunmatched; i++) {
		char norm[RECIPIENTS_KEY_MAX + 1];
		const char *k = g->unmatched_keys[i];
		if (recipients_normalize_key(k, r->key_width, norm, sizeof(norm)) == 0)
			k = norm;
		batch_report_add(&m->rep->unmatched_pdf_keys, k); /* each once */
	}
	for (size_t i = 0; i < g->nholds; i++) {
		char norm[RECIPIENTS_KEY_MAX + 1], line[160];
		const char *k = g->holds[i].key;
		if (m->p->split == SPLIT_KEY &&
		    recipients_normalize_key(k, r->key_width, norm, sizeof(norm)) == 0)
			k = norm;
		batch_report_add(&m->rep->held_pdf_keys, k);
		for (size_t row = 0; row < r->n; row++) {
			if ((r->v[row].flags & HELD_KEY) || strcmp(r->v[row].key, k) != 0)
				continue;
			str_fmt(line, sizeof(line), "line %zu: page %d shows several residents' "
				"keys and cannot be given to one of them", r->v[row].line,
				g->holds[i].page);
			batch_report_add(&m->rep->rows_held, line);
		}
	}
}

static int match_split(struct match *m, struct error *e)
{
	if (split_groups(m, e) < 0 || split_rule(m, e) < 0)
		return -1;
	split_assign(m);
	split_report(m);
	return 0;
}

/* ---- the report ---- */

/* Rows with a usable key and no PDF; duplicates count as matched when a
 * PDF exists for them (DESIGN.md: distinct keys with a row and a PDF). */
static void count_matched(struct match *m)
{
	const struct recipients *r = m->p->r;

	for (size_t i = 0; i < r->n; i++) {
		const struct recipient *p = &r->v[i];
		if (p->flags & HELD_KEY)
			continue;
		if (g_hash_table_contains(m->pdf_keys, p->key)) {
			/* count each distinct key once */
			g_hash_table_remove(m->pdf_keys, p->key);
			m->rep->matched++;
		} else if (batch_match_usable(p) && m->p->pdf_seq[i] == 0) {
			batch_report_add(&m->rep->csv_rows_without_pdf, p->key);
		}
	}
}

/* A preview of the first notices, so staff can see the match is right. */
static void preview(struct match *m)
{
	const struct batch_plan *pl = m->p;
	const struct recipients *r = pl->r;

	for (size_t i = 0; i < r->n && m->rep->preview.n < 3; i++) {
		const struct recipient *p = &r->v[i];
		char line[512];
		int pages = 0;
		if (pl->pdf_seq[i] == 0)
			continue;
		if (pl->have_groups)
			for (size_t g = 0; g < pl->groups.ngroups; g++)
				if (GPOINTER_TO_UINT(g_hash_table_lookup(pl->want,
									 pl->groups.groups[g].key)) == i + 1)
					pages = pl->groups.groups[g].page_count;
		str_fmt(line, sizeof(line), "%s %s <%s>%s%.0d%s", p->key, p->name ? p->name : "",
			p->email ? p->email : "", pages ? " (" : "", pages, pages ? " pages)" : "");
		batch_report_add(&m->rep->preview, line);
	}
}

int batch_match(const struct batch_input *in, struct batch_plan *p, struct batch_report *rep,
		struct error *e)
{
	struct match m = { in, p, rep, NULL, NULL };
	int ret = -1, r;

	memset(p, 0, sizeof(*p));
	p->threads = in->threads > 0 ? in->threads : cpu_threads(PDF_TEXT_THREADS_MAX);
	if (read_recipients(in, &p->r, rep, e) < 0 || check_pdfs(in, p, e) < 0)
		goto out;
	p->split = decide_split(in);
	p->pdf_seq = xcalloc(p->r->n ? p->r->n : 1, sizeof(*p->pdf_seq));
	/* Which page group is signed for which resident. */
	p->want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	m.by_key = key_index(p->r);
	m.pdf_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (p->split == SPLIT_COMMON)
		r = match_common(&m, e);
	else if (p->split == SPLIT_PER_FILE)
		r = match_per_file(&m, e);
	else
		r = match_split(&m, e);
	if (r < 0)
		goto out;
	count_matched(&m);
	preview(&m);
	if (rep->matched == 0) {
		err_set(e, "no resident key matches between the CSV and the PDF%s (keys like %s were looked for)",
			in->npdfs > 1 ? "s" : "",
			rep->recipients > 0 && p->r->n > 0 ? p->r->v[0].key : "-");
		goto out;
	}
	ret = 0;
out:
	if (m.pdf_keys != NULL)
		g_hash_table_destroy(m.pdf_keys);
	if (m.by_key != NULL)
		g_hash_table_destroy(m.by_key);
	return ret;
}

void batch_match_free(struct batch_plan *p)
{
	if (p->have_groups)
		pdf_split_result_free(&p->groups);
	if (p->want != NULL)
		g_hash_table_destroy(p->want);
	free(p->keys);
	free(p->pdf_seq);
	free(p->file_seq);
	recipients_free(&p->r);
	memset(p, 0, sizeof(*p));
}
