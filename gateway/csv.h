/*
 * csv.h — a strict, size-capped reader for the recipients CSV
 * (RFC 4180, plus the forms Excel writes).
 * Runs in the gateway process and in the `tayori submit` / `tayori pdf
 * split --auto` command line, on attacker-influenced input.
 *
 * Encoding: UTF-8 with or without a BOM, else CP932 (Windows-31J, what
 * Excel's plain "CSV" writes in Japan).  Valid UTF-8 is taken as UTF-8;
 * anything else is converted from CP932 with glib's iconv; input that is
 * neither is refused with its byte offset and line.  UTF-16 (Excel's
 * "Unicode text") is recognised by its BOM and refused with a clear message.
 *
 * Grammar, and where it is more lenient or stricter than RFC 4180:
 *   - records end with CRLF, LF or a lone CR; the last one may lack it;
 *   - an empty line (no bytes at all) is not a record: blank lines in the
 *     middle and at the end are skipped (line numbers still count them);
 *   - fields are separated by ',' and may be quoted with '"'; inside
 *     quotes, "" is a quote and commas and line breaks are data (kept
 *     as written, CRLF included);
 *   - a quote in the middle of an unquoted field is a literal character,
 *     as Excel reads it (5"7 stays 5"7); a field only counts as quoted
 *     when its very first character is the quote;
 *   - after a closing quote only spaces (dropped), ',' or the end of the
 *     record may follow; anything else ("ab"c) is refused because readers
 *     disagree on what it means;
 *   - an unterminated quote is refused with the line where it opened;
 *   - NUL bytes are refused, anywhere.
 * Every refusal is one English line starting "line N: " (N is 1-based,
 * counting physical lines of the input, line breaks inside quoted fields
 * included).
 */
#ifndef TAYORI_CSV_H
#define TAYORI_CSV_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

/* Caps on what one CSV may hold; 0 in a field means "use the default". */
struct csv_limits {
	size_t max_bytes;     /* raw input size */
	size_t max_rows;      /* records, header included */
	size_t max_fields;    /* fields in one record */
	size_t max_field_len; /* bytes of one field after decoding to UTF-8 */
};

#define CSV_DEFAULT_MAX_BYTES     ((size_t)16 << 20)
#define CSV_DEFAULT_MAX_ROWS      ((size_t)200000)
#define CSV_DEFAULT_MAX_FIELDS    ((size_t)256)
#define CSV_DEFAULT_MAX_FIELD_LEN ((size_t)16384)

/*
 * A parsed CSV.  Everything it points to is owned by the table and lives
 * until csv_free(); callers only read it.  Text is valid UTF-8 without
 * NUL bytes, one NUL-terminated string per field.
 */
struct csv_table {
	size_t nrows;          /* records; row 0 is the header when there is one */
	size_t ncols;          /* the largest field count of any record */
	char ***rows;          /* rows[i][j] for j < nfields[i] */
	size_t *nfields;       /* fields in record i (rows may be ragged) */
	size_t *lines;         /* 1-based input line where record i starts */
	const char *encoding;  /* static: "UTF-8" or "CP932" */
	int had_bom;           /* 1 when a UTF-8 BOM was stripped */
	/* private */
	char *text_;           /* decoded text, fields unescaped in place */
	char **cells_;         /* all field pointers; rows[i] point into it */
};

/*
 * Parse len bytes of data.  lim may be NULL (defaults).  On success *out
 * is a new table the caller frees with csv_free(); on failure *out is
 * NULL and e says what and where (never temporary: the input is bad).
 * data need not be NUL-terminated.
 */
int csv_parse(const uint8_t *data, size_t len, const struct csv_limits *lim,
	      struct csv_table **out, struct error *e);

/* Free a table and set *t to NULL; NULL and *t == NULL are fine. */
void csv_free(struct csv_table **t);

/* Field j of record i, or "" when record i has fewer fields (or i is out
 * of range).  The pointer lives as long as the table. */
const char *csv_field(const struct csv_table *t, size_t i, size_t j);

#endif
