/*
 * csv.c — the recipients CSV reader: encoding detection (UTF-8 / CP932),
 * then an RFC 4180 parse with Excel's leniencies, everything capped.
 * Runs in the gateway process and the command line, on attacker-influenced
 * input.  Implements RFC 4180 (text/csv) and RFC 3629 (UTF-8); CP932 is
 * Microsoft's Windows-31J, decoded by iconv through glib.  See csv.h for
 * the exact grammar accepted.
 */
#include "gateway/csv.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

static void limits_fill(const struct csv_limits *in, struct csv_limits *out)
{
	out->max_bytes = in && in->max_bytes ? in->max_bytes : CSV_DEFAULT_MAX_BYTES;
	out->max_rows = in && in->max_rows ? in->max_rows : CSV_DEFAULT_MAX_ROWS;
	out->max_fields = in && in->max_fields ? in->max_fields : CSV_DEFAULT_MAX_FIELDS;
	out->max_field_len = in && in->max_field_len ? in->max_field_len
						     : CSV_DEFAULT_MAX_FIELD_LEN;
}

/* 1-based line of byte offset off in raw input, counting CRLF, LF and lone
 * CR as one break each.  Safe on CP932 too: 0x0A and 0x0D never occur as
 * the second byte of a CP932 character. */
static size_t line_of_offset(const uint8_t *p, size_t len, size_t off)
{
	size_t line = 1;
	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (p[i] == '\n')
			line++;
		else if (p[i] == '\r' && !(i + 1 < len && p[i + 1] == '\n'))
			line++;
	}
	return line;
}

/*
 * Decode the raw bytes into a fresh NUL-terminated UTF-8 string (with one
 * spare byte, which the in-place parser needs).  Sets *enc and *bom.
 */
static int decode(const uint8_t *data, size_t len, char **text, size_t *tlen,
		  const char **enc, int *bom, struct error *e)
{
	const uint8_t *nul;
	const gchar *end = NULL;
	size_t skip = 0;

	*text = NULL;
	*bom = 0;
	if (len >= 2 && ((data[0] == 0xFF && data[1] == 0xFE) ||
			 (data[0] == 0xFE && data[1] == 0xFF)))
		return err_set(e, "line 1: the CSV is UTF-16 (Excel \"Unicode text\"); "
			       "save it as \"CSV UTF-8\" or plain \"CSV\"");
	nul = memchr(data, 0, len);
	if (nul != NULL) {
		size_t off = (size_t)(nul - data);
		return err_set(e, "line %zu: NUL byte at offset %zu; the file is not a text CSV",
			       line_of_offset(data, len, off), off);
	}
	if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) {
		skip = 3;
		*bom = 1;
	}
	if (g_utf8_validate_len((const gchar *)data + skip, len - skip, &end)) {
		*tlen = len - skip;
		*text = xmalloc(*tlen + 2);
		memcpy(*text, data + skip, *tlen);
		(*text)[*tlen] = '\0';
		*enc = "UTF-8";
		return 0;
	}
	if (*bom) {
		/* The BOM says UTF-8: a CP932 guess would only produce garbage. */
		size_t off = (size_t)((const uint8_t *)end - data);
		return err_set(e, "line %zu: invalid UTF-8 at offset %zu (the file starts "
			       "with a UTF-8 byte order mark)", line_of_offset(data, len, off), off);
	}

	GError *gerr = NULL;
	gsize nread = 0, nwritten = 0;
	gchar *conv = g_convert((const gchar *)data, (gssize)len, "UTF-8", "CP932",
				&nread, &nwritten, &gerr);
	if (conv == NULL || nread != len) {
		int internal = gerr != NULL && gerr->domain == G_CONVERT_ERROR &&
			       gerr->code == G_CONVERT_ERROR_NO_CONVERSION;
		/* A lead byte cut off at the end: g_convert either reports
		 * PARTIAL_INPUT or succeeds having read less than len. */
		int partial = (conv != NULL) ||
			      (gerr != NULL && gerr->domain == G_CONVERT_ERROR &&
			       gerr->code == G_CONVERT_ERROR_PARTIAL_INPUT);
		size_t off = nread < len ? nread : len;
		g_clear_error(&gerr);
		g_free(conv);
		if (internal)
			return err_tmp(e, "CP932 conversion is not available (iconv)");
		if (partial || off >= len)
			return err_set(e, "line %zu: the CSV is neither UTF-8 nor CP932 "
				       "(Shift_JIS): truncated character at the end",
				       line_of_offset(data, len, len));
		return err_set(e, "line %zu: the CSV is neither UTF-8 nor CP932 (Shift_JIS): "
			       "invalid byte 0x%02X at offset %zu",
			       line_of_offset(data, len, off), data[off], off);
	}
	g_clear_error(&gerr);
	if (!g_utf8_validate_len(conv, nwritten, NULL) || memchr(conv, 0, nwritten) != NULL) {
		g_free(conv);
		return err_set(e, "line 1: the CSV could not be decoded from CP932");
	}
	*tlen = nwritten;
	*text = xmalloc(nwritten + 2);
	memcpy(*text, conv, nwritten);
	(*text)[nwritten] = '\0';
	g_free(conv);
	*enc = "CP932";
	return 0;
}

/* Growing arrays for the parse; capped by the limits checked as they grow. */
struct parse_state {
	char **cells;
	size_t ncells, cellcap;
	size_t *rstart, *rcount, *rline;
	size_t nrec, reccap;
};

static void push_cell(struct parse_state *s, char *p)
{
	if (s->ncells == s->cellcap) {
		s->cellcap = s->cellcap ? s->cellcap * 2 : 64;
		s->cells = xrealloc(s->cells, s->cellcap * sizeof(*s->cells));
	}
	s->cells[s->ncells++] = p;
}

static void push_record(struct parse_state *s, size_t start, size_t count, size_t line)
{
	if (s->nrec == s->reccap) {
		s->reccap = s->reccap ? s->reccap * 2 : 16;
		s->rstart = xrealloc(s->rstart, s->reccap * sizeof(size_t));
		s->rcount = xrealloc(s->rcount, s->reccap * sizeof(size_t));
		s->rline = xrealloc(s->rline, s->reccap * sizeof(size_t));
	}
	s->rstart[s->nrec] = start;
	s->rcount[s->nrec] = count;
	s->rline[s->nrec] = line;
	s->nrec++;
}

/*
 * Parse text[0..n) in place: each field's unescaped bytes are written at a
 * write index that never passes the read index (quotes only shrink), and
 * the byte after each field becomes its NUL.  text has room for n+1 bytes.
 */
static int parse_text(char *text, size_t n, const struct csv_limits *lim,
		      struct parse_state *s, struct error *e)
{
	size_t r = 0, w = 0, line = 1;

	while (r < n) {
		/* An empty line is not a record (blank and trailing lines). */
		if (text[r] == '\n') {
			r++;
			line++;
			continue;
		}
		if (text[r] == '\r') {
			r++;
			if (r < n && text[r] == '\n')
				r++;
			line++;
			continue;
		}
		if (s->nrec >= lim->max_rows)
			return err_set(e, "line %zu: more than %zu rows ([limits] csv_rows)", line, lim->max_rows);

		size_t rec_line = line, rec_start = s->ncells, nf = 0;
		for (;;) {
			size_t fstart = w, fline = line;
			int sep;

			if (nf >= lim->max_fields)
				return err_set(e, "line %zu: more than %zu fields in one row",
					       line, lim->max_fields);
			if (r < n && text[r] == '"') {
				r++;
				for (;;) {
					if (r >= n)
						return err_set(e, "line %zu: unterminated quoted "
							       "field (the quote opened here is never closed)",
							       fline);
					char c = text[r];
					if (c == '"') {
						if (r + 1 < n && text[r + 1] == '"') {
							r += 2;
						} else {
							r++;
							break;
						}
					} else {
						if (c == '\n' ||
						    (c == '\r' && !(r + 1 < n && text[r + 1] == '\n')))
							line++;
						r++;
					}
					if (w - fstart >= lim->max_field_len)
						return err_set(e, "line %zu: field %zu is longer than "
							       "%zu bytes", fline, nf + 1,
							       lim->max_field_len);
					text[w++] = c;
				}
				/* Excel pads with spaces sometimes: drop them. */
				while (r < n && (text[r] == ' ' || text[r] == '\t'))
					r++;
				if (r < n && text[r] != ',' && text[r] != '\r' && text[r] != '\n')
					return err_set(e, "line %zu: text after the closing quote of "
						       "field %zu (a quote inside a quoted field must "
						       "be doubled)", line, nf + 1);
			} else {
				while (r < n && text[r] != ',' && text[r] != '\r' && text[r] != '\n') {
					if (w - fstart >= lim->max_field_len)
						return err_set(e, "line %zu: field %zu is longer than "
							       "%zu bytes", fline, nf + 1,
							       lim->max_field_len);
					text[w++] = text[r++];
				}
			}
			/* Read the separator before the NUL may overwrite it. */
			sep = r < n ? (unsigned char)text[r] : -1;
			text[w++] = '\0';
			push_cell(s, text + fstart);
			nf++;
			if (sep == ',') {
				r++;
				continue;
			}
			if (sep == '\r') {
				r++;
				if (r < n && text[r] == '\n')
					r++;
				line++;
			} else if (sep == '\n') {
				r++;
				line++;
			}
			break;
		}
		push_record(s, rec_start, nf, rec_line);
	}
	return 0;
}

int csv_parse(const uint8_t *data, size_t len, const struct csv_limits *limits,
	      struct csv_table **out, struct error *e)
{
	struct csv_limits lim;
	struct parse_state s = { 0 };
	struct csv_table *t = NULL;
	char *text = NULL;
	size_t tlen = 0;
	const char *enc = NULL;
	int bom = 0, rc = -1;

	*out = NULL;
	limits_fill(limits, &lim);
	if (data == NULL && len > 0)
		return err_set(e, "no CSV data");
	if (len > lim.max_bytes)
		return err_set(e, "the CSV is %zu bytes, more than the limit of %zu bytes",
			       len, lim.max_bytes);
	if (decode(data ? data : (const uint8_t *)"", len, &text, &tlen, &enc, &bom, e) < 0)
		goto out;
	if (parse_text(text, tlen, &lim, &s, e) < 0)
		goto out;

	t = xcalloc(1, sizeof(*t));
	t->nrows = s.nrec;
	t->rows = xcalloc(s.nrec ? s.nrec : 1, sizeof(*t->rows));
	for (size_t i = 0; i < s.nrec; i++) {
		t->rows[i] = s.cells + s.rstart[i];
		if (s.rcount[i] > t->ncols)
			t->ncols = s.rcount[i];
	}
	t->nfields = s.rcount;
	t->lines = s.rline;
	t->cells_ = s.cells;
	t->text_ = text;
	t->encoding = enc;
	t->had_bom = bom;
	free(s.rstart);
	text = NULL;
	s.cells = NULL;
	s.rcount = NULL;
	s.rline = NULL;
	s.rstart = NULL;
	*out = t;
	rc = 0;
out:
	free(text);
	free(s.cells);
	free(s.rstart);
	free(s.rcount);
	free(s.rline);
	return rc;
}

void csv_free(struct csv_table **tp)
{
	struct csv_table *t;

	if (tp == NULL || *tp == NULL)
		return;
	t = *tp;
	free(t->rows);
	free(t->nfields);
	free(t->lines);
	free(t->cells_);
	free(t->text_);
	free(t);
	*tp = NULL;
}

const char *csv_field(const struct csv_table *t, size_t i, size_t j)
{
	if (t == NULL || i >= t->nrows || j >= t->nfields[i])
		return "";
	return t->rows[i][j];
}
