/*
 * recipients.c — the recipients table from a parsed CSV: the rows, NFKC
 * normalisation of keys and addresses, Excel's lost leading zeros,
 * address validation and per-row flags.  Which column is which is
 * recipients_columns.c's job.
 * Runs in the gateway process and the command line, on attacker-influenced
 * input.  Standards: Unicode NFKC (UAX #15) through glib; RFC 5321 §4.5.3
 * and RFC 5322 §3.2.3/§3.4.1 (dot-atom addr-spec) for addresses.  See
 * recipients.h for the rules.
 */
#include "gateway/recipients.h"
#include "gateway/recipients_int.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/email.h"
#include "lib/text.h"

/* ---- small Unicode helpers ------------------------------------------- */

/* White space and invisible characters that trimming and key cleaning drop. */
int recipients_blank(gunichar c)
{
	return g_unichar_isspace(c) || c == 0x3000 || c == 0x00A0 || c == 0x200B ||
	       c == 0x2060 || c == 0xFEFF || c == 0x180E;
}

/* Characters that must never reach a display: C0/C1 controls and the
 * bidirectional overrides that could disguise text in the dashboard. */
int recipients_hidden_control(gunichar c)
{
	return g_unichar_iscntrl(c) || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0x200E || c == 0x200F || c == 0x061C;
}

/* A new malloc'd copy of s (valid UTF-8) without leading/trailing blanks. */
static char *trim_dup(const char *s)
{
	const char *start = s, *end = s + strlen(s);

	while (*start != '\0' && recipients_blank(g_utf8_get_char(start)))
		start = g_utf8_next_char(start);
	while (end > start) {
		const char *prev = g_utf8_prev_char(end);
		if (!recipients_blank(g_utf8_get_char(prev)))
			break;
		end = prev;
	}
	return xstrndup(start, (size_t)(end - start));
}

char *recipients_normalize_text(const char *in)
{
	gchar *n;
	char *r;

	if (in == NULL || !g_utf8_validate(in, -1, NULL))
		return NULL;
	n = g_utf8_normalize(in, -1, G_NORMALIZE_NFKC);
	if (n == NULL)
		return NULL;
	r = trim_dup(n);
	g_free(n);
	return r;
}

/*
 * Copy s, trimmed, dropping hidden controls.  keep_lines: CRLF and CR
 * become "\n" and "\n" is kept (messages); else line breaks and tabs
 * become spaces.  repl: replace controls by '?' instead of dropping them
 * (showing a refused value to staff).
 */
static char *clean_text(const char *s, int keep_lines, int repl)
{
	struct buf b;
	char *t = trim_dup(s), *r;
	size_t len;

	buf_init(&b, strlen(t) + 1);
	for (const char *p = t; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c == '\r' || c == '\n') {
			if (c == '\r' && p[1] == '\n')
				continue; /* the LF that follows is the break */
			if (keep_lines)
				buf_append_u8(&b, '\n');
			else
				buf_append_u8(&b, repl ? '?' : ' ');
		} else if (c == '\t') {
			buf_append_u8(&b, ' ');
		} else if (recipients_hidden_control(c)) {
			if (repl)
				buf_append_u8(&b, '?');
		} else {
			buf_append(&b, p, (size_t)(g_utf8_next_char(p) - p));
		}
	}
	free(t);
	r = (char *)buf_steal(&b, &len);
	return r;
}

/* ---- keys ---------------------------------------------------------------- */

/* NFKC, trim, drop every blank; *out is malloc'd (controls shown as '?'
 * when the key is invalid). */
enum key_status recipients_key_clean(const char *in, char **out)
{
	gchar *n;
	struct buf b;
	size_t len;
	int ok = 1;

	*out = NULL;
	if (in == NULL || !g_utf8_validate(in, -1, NULL)) {
		*out = xstrdup("");
		return KEY_INVALID;
	}
	n = g_utf8_normalize(in, -1, G_NORMALIZE_NFKC);
	if (n == NULL) {
		*out = xstrdup("");
		return KEY_INVALID;
	}
	buf_init(&b, strlen(n) + 1);
	for (const char *p = n; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (recipients_blank(c))
			continue;
		if (recipients_hidden_control(c)) {
			buf_append_u8(&b, '?');
			ok = 0;
			continue;
		}
		/* NFKC leaves these dashes alone, but in a key they can only be
		 * a hyphen (PDF text extraction, IME in full-width mode). */
		if ((c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x30FC) {
			buf_append_u8(&b, '-');
			continue;
		}
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || c == '-' || c == '_'))
			ok = 0;
		buf_append(&b, p, (size_t)(g_utf8_next_char(p) - p));
	}
	g_free(n);
	if (b.data == NULL || b.len == 0) {
		buf_free(&b);
		*out = xstrdup("");
		return KEY_EMPTY;
	}
	if (b.len > RECIPIENTS_KEY_MAX)
		ok = 0;
	*out = (char *)buf_steal(&b, &len);
	return ok ? KEY_OK : KEY_INVALID;
}

int recipients_all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Left-pad an all-digit key with zeros to width; returns a new string. */
static char *key_pad(char *key, int width)
{
	size_t len = strlen(key);

	if (width <= 0 || (size_t)width <= len || !recipients_all_digits(key))
		return key;
	char *p = xmalloc((size_t)width + 1);
	memset(p, '0', (size_t)width - len);
	memcpy(p + (size_t)width - len, key, len + 1);
	free(key);
	return p;
}

int recipients_normalize_key(const char *in, int width, char *out, size_t outsize)
{
	char *k = NULL;
	int rc = -1;

	if (outsize > 0)
		out[0] = '\0';
	if (width < 0 || width > RECIPIENTS_KEY_MAX)
		return -1;
	if (recipients_key_clean(in, &k) != KEY_OK)
		goto out;
	k = key_pad(k, width);
	if (strlen(k) >= outsize)
		goto out;
	str_copy(out, k, outsize);
	rc = 0;
out:
	free(k);
	return rc;
}

/* ---- addresses ---------------------------------------------------------- */

int recipients_email_valid(const char *addr)
{
	return email_valid(addr);
}

/* NFKC, trim, lower-case the (ASCII) domain.  Returns a malloc'd string. */
char *recipients_email_norm(const char *in)
{
	char *s = recipients_normalize_text(in);
	char *at;

	if (s == NULL)
		return xstrdup("");
	at = strrchr(s, '@');
	if (at != NULL)
		for (char *p = at + 1; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return s;
}

/* ---- the table ------------------------------------------------------------ */

static void recipient_clear(struct recipient *r)
{
	free(r->key);
	free(r->name);
	free(r->email);
	free(r->message);
	free(r->attachment);
	free(r->auth_value);
	free(r->extra_values);
	free(r->extra_block_);
}

void recipients_free(struct recipients **rp)
{
	struct recipients *r;

	if (rp == NULL || *rp == NULL)
		return;
	r = *rp;
	for (size_t i = 0; i < r->n; i++)
		recipient_clear(&r->v[i]);
	free(r->v);
	free(r->key_header);
	free(r->name_header);
	free(r->email_header);
	free(r->message_header);
	free(r->attachment_header);
	free(r->auth_header);
	for (size_t k = 0; k < r->nextra_; k++)
		free(r->extra_headers_[k]);
	free(r->extra_headers_);
	free(r);
	*rp = NULL;
}

static int row_is_empty(const struct csv_table *t, size_t i)
{
	for (size_t j = 0; j < t->nfields[i]; j++) {
		if (t->rows[i][j][0] == '\0')
			continue;
		char *s = trim_dup(t->rows[i][j]);
		int empty = s[0] == '\0';
		free(s);
		if (!empty)
			return 0;
	}
	return 1;
}

/* Text of column c of row i for a role, or "" when the column is absent. */
static const char *cell(const struct csv_table *t, size_t i, int c)
{
	return c < 0 ? "" : csv_field(t, i, (size_t)c);
}

static char *nfkc_or_empty(const char *s)
{
	char *r = recipients_normalize_text(s);
	char *c;

	if (r == NULL)
		return xstrdup("");
	c = clean_text(r, 0, 0);
	free(r);
	return c;
}

/*
 * The row's other columns: one block holding every cleaned value, NUL
 * after each, so a wide CSV costs two allocations per row rather than one
 * per cell.  extra_names is the array shared by all rows.
 */
static void extras_fill(struct recipient *r, const struct recipients *rs,
			const struct csv_table *t, size_t i, const int *extra_cols)
{
	struct buf b;
	size_t *off = xcalloc(rs->nextra_ ? rs->nextra_ : 1, sizeof(size_t));
	size_t len;

	buf_init(&b, SIZE_MAX / 2);
	for (size_t k = 0; k < rs->nextra_; k++) {
		const char *v = cell(t, i, extra_cols[k]);
		off[k] = b.len;
		if (v[0] != '\0') {
			char *c = clean_text(v, 1, 0);
			buf_append_str(&b, c);
			free(c);
		}
		buf_append_u8(&b, '\0');
	}
	r->extra_block_ = (char *)buf_steal(&b, &len);
	r->nextra = rs->nextra_;
	r->extra_names = rs->extra_headers_;
	r->extra_values = xcalloc(rs->nextra_ ? rs->nextra_ : 1, sizeof(char *));
	for (size_t k = 0; k < rs->nextra_; k++)
		r->extra_values[k] = r->extra_block_ + off[k];
	free(off);
}

/* Infer the padding width: the most common length of the keys when all of
 * them are digits (ties: the longer), else 0. */
static int infer_width(const struct recipients *rs, const enum key_status *st)
{
	size_t counts[RECIPIENTS_KEY_MAX + 1] = { 0 };
	size_t seen = 0;
	int best = 0;

	for (size_t i = 0; i < rs->n; i++) {
		if (st[i] != KEY_OK)
			continue;
		if (!recipients_all_digits(rs->v[i].key))
			return 0;
		counts[strlen(rs->v[i].key)]++;
		seen++;
	}
	if (seen == 0)
		return 0;
	for (int w = 1; w <= RECIPIENTS_KEY_MAX; w++)
		if (counts[w] > 0 && counts[w] >= counts[best])
			best = w;
	return best;
}

/* The table's columns and headers as resolved; every other header column
 * is kept as an extra, in order (extra_cols: their indexes). */
static struct recipients *table_new(const struct csv_table *t, const int cols[R_COUNT],
				    int **extra_cols)
{
	struct recipients *rs = xcalloc(1, sizeof(*rs));
	size_t hc = t->nfields[0];

	rs->key_col = cols[R_KEY];
	rs->name_col = cols[R_NAME];
	rs->email_col = cols[R_EMAIL];
	rs->message_col = cols[R_MESSAGE];
	rs->attachment_col = cols[R_ATTACH];
	rs->auth_col = cols[R_AUTH];
	rs->key_header = clean_text(cell(t, 0, cols[R_KEY]), 0, 1);
	rs->name_header = clean_text(cell(t, 0, cols[R_NAME]), 0, 1);
	rs->email_header = clean_text(cell(t, 0, cols[R_EMAIL]), 0, 1);
	rs->message_header = clean_text(cell(t, 0, cols[R_MESSAGE]), 0, 1);
	rs->attachment_header = clean_text(cell(t, 0, cols[R_ATTACH]), 0, 1);
	rs->auth_header = clean_text(cell(t, 0, cols[R_AUTH]), 0, 1);
	rs->header_line = t->lines[0];
	rs->encoding = t->encoding;
	*extra_cols = xcalloc(hc ? hc : 1, sizeof(int));
	rs->extra_headers_ = xcalloc(hc ? hc : 1, sizeof(char *));
	for (size_t j = 0; j < hc; j++) {
		int used = 0;
		for (int r = 0; r < R_COUNT; r++)
			if (cols[r] == (int)j)
				used = 1;
		if (used)
			continue;
		(*extra_cols)[rs->nextra_] = (int)j;
		rs->extra_headers_[rs->nextra_++] = clean_text(t->rows[0][j], 0, 1);
	}
	return rs;
}

/* A message to one resident is clean text as a batch's message is
 * (text.h): a bad one refuses the batch.  In a cell, a lone CR is a line
 * break (Excel's Macintosh CSV). */
static int check_message(const struct recipients *rs, const struct recipient *r, const char *m,
			 struct error *e)
{
	char *lf = xmalloc(strlen(m) + 1), *w = lf;
	struct text_problem tp;
	int bad;

	for (const char *q = m; *q != '\0'; q++)
		if (*q != '\r' || q[1] != '\n')
			*w++ = *q == '\r' ? '\n' : *q;
	*w = '\0';
	bad = text_check(lf, TEXT_BODY, TEXT_MESSAGE_MAX, &tp) < 0;
	free(lf);
	if (bad)
		return err_set(e, "line %zu (the message column \"%s\"): %s", r->line,
			       rs->message_header ? rs->message_header : "", tp.what);
	return 0;
}

/* Read CSV row i into r; *ks says what its key is. */
static int read_row(const struct recipients *rs, const struct csv_table *t, size_t i,
		    const int cols[R_COUNT], const int *extra_cols, struct recipient *r,
		    enum key_status *ks, struct error *e)
{
	*ks = recipients_key_clean(cell(t, i, cols[R_KEY]), &r->key);
	r->line = t->lines[i];
	if (*ks == KEY_EMPTY)
		r->flags |= RCPT_EMPTY_KEY;
	else if (*ks == KEY_INVALID)
		r->flags |= RCPT_INVALID_KEY;
	r->name = clean_text(cell(t, i, cols[R_NAME]), 0, 0);
	r->email = recipients_email_norm(cell(t, i, cols[R_EMAIL]));
	if (r->email[0] == '\0') {
		r->flags |= RCPT_NO_EMAIL;
	} else if (!recipients_email_valid(r->email)) {
		char *shown_addr = clean_text(r->email, 0, 1);
		free(r->email);
		r->email = shown_addr;
		r->flags |= RCPT_INVALID_EMAIL;
	}
	if (check_message(rs, r, cell(t, i, cols[R_MESSAGE]), e) < 0)
		return -1;
	r->message = clean_text(cell(t, i, cols[R_MESSAGE]), 1, 0);
	r->attachment = nfkc_or_empty(cell(t, i, cols[R_ATTACH]));
	r->auth_value = nfkc_or_empty(cell(t, i, cols[R_AUTH]));
	extras_fill(r, rs, t, i, extra_cols);
	for (size_t j = t->nfields[0]; j < t->nfields[i]; j++) {
		char *s = trim_dup(t->rows[i][j]);
		if (s[0] != '\0')
			r->flags |= RCPT_EXTRA_FIELDS;
		free(s);
	}
	return 0;
}

/* Excel's lost leading zeros, then duplicates on the final keys. */
static void finish_keys(struct recipients *rs, const enum key_status *st, int width)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

	rs->key_width = width > 0 ? width : infer_width(rs, st);
	for (size_t i = 0; i < rs->n; i++) {
		gpointer prev;
		if (st[i] != KEY_OK)
			continue;
		rs->v[i].key = key_pad(rs->v[i].key, rs->key_width);
		prev = g_hash_table_lookup(seen, rs->v[i].key);
		g_hash_table_insert(seen, rs->v[i].key,
				    GSIZE_TO_POINTER(GPOINTER_TO_SIZE(prev) + 1));
	}
	for (size_t i = 0; i < rs->n; i++) {
		if (st[i] != KEY_OK)
			continue;
		if (GPOINTER_TO_SIZE(g_hash_table_lookup(seen, rs->v[i].key)) > 1)
			rs->v[i].flags |= RCPT_DUPLICATE_KEY;
	}
	g_hash_table_destroy(seen);
}

int recipients_from_csv(const struct csv_table *t, const struct recipients_options *o,
			struct recipients **out, struct error *e)
{
	struct recipients *rs = NULL;
	int *extra_cols = NULL;
	enum key_status *st = NULL;
	int cols[R_COUNT];
	int rc = -1;

	*out = NULL;
	if (t == NULL || t->nrows == 0)
		return err_set(e, "line 1: the CSV is empty; it needs a header row "
			       "(e.g. 宛名番号,氏名,メールアドレス) and one row per resident");
	if (o != NULL && (o->key_width < 0 || o->key_width > RECIPIENTS_KEY_MAX))
		return err_set(e, "the key width setting %d is outside 0..%d", o->key_width,
			       RECIPIENTS_KEY_MAX);
	if (recipients_columns(t, o, cols, e) < 0)
		return -1;
	rs = table_new(t, cols, &extra_cols);
	rs->v = xcalloc(t->nrows, sizeof(*rs->v));
	st = xcalloc(t->nrows, sizeof(*st));
	for (size_t i = 1; i < t->nrows; i++) {
		if (row_is_empty(t, i))
			continue;
		/* counted first: a refused row is freed with the table */
		rs->n++;
		if (read_row(rs, t, i, cols, extra_cols, &rs->v[rs->n - 1], &st[rs->n - 1], e) < 0)
			goto out;
	}
	if (rs->n == 0) {
		err_set(e, "line %zu: the CSV has a header row but no data rows",
			t->lines[0] + 1);
		goto out;
	}
	finish_keys(rs, st, o != NULL ? o->key_width : 0);
	*out = rs;
	rs = NULL;
	rc = 0;
out:
	free(extra_cols);
	free(st);
	recipients_free(&rs);
	return rc;
}
