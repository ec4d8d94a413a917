/*
 * recipients.h — the recipients table of a batch, read from a parsed CSV:
 * which column is the resident key, the name, the e-mail address (and the
 * optional message, attachment and authentication columns), normalised
 * keys and addresses, and per-row flags for the matching report.
 * Runs in the gateway process and the command line, on attacker-influenced
 * input.  Standards: Unicode NFKC (UAX #15) for keys, addresses and
 * headers; a pragmatic subset of the RFC 5321 / RFC 5322 addr-spec for
 * addresses; the Individual Number check digit (番号法施行令 Art. 8) to
 * refuse マイナンバー columns.
 *
 * Header inference.  A header is compared after NFKC, case folding and
 * removing spaces (incl. U+3000), brackets of every kind and the
 * punctuation - _ . ・ : / * ※ # (so "E-Mail", "ｅｍａｉｌ", "氏名（漢字）",
 * "【メールアドレス】" all match).  If the whole header matches no role,
 * its form with bracketed parts removed is tried ("宛名番号(8桁)",
 * "メールアドレス（PC）"), except when the bracket names a reading (カナ,
 * ふりがな, よみ), so "氏名（カナ）" is never taken for the name.  Two
 * columns that both fit one role are refused (set the column explicitly).
 * Any header containing 個人番号, マイナンバー, "my number" or "individual
 * number" refuses the whole CSV, and so does any column whose values (at
 * least 5 of them) are all 12 digits with a valid Individual Number check
 * digit (odds of that by chance: about 1 in 100 000).
 *
 * Keys.  NFKC, trimmed, every internal space removed, dashes (U+2010..2015,
 * U+2212 minus, U+30FC ー) turned into '-'; then they must be
 * 1..64 characters of A-Z a-z 0-9 - _ (so a key is always safe in a file
 * name, a URL or a log); others are flagged RCPT_INVALID_KEY.  Leading
 * zeros dropped by Excel are restored: when every key of the column is
 * all digits, each shorter key is left-padded with zeros to the width
 * given in options, or else to the most common length among the keys
 * (ties go to the longer length).  Keys found elsewhere (PDF text, file
 * names) must go through recipients_normalize_key() with the same width so
 * both sides compare equal.
 *
 * Addresses.  NFKC (full-width letters and ＠) and trimmed, domain
 * lower-cased; see recipients_email_valid() for what is accepted.
 *
 * Rows.  A row whose fields are all empty is skipped.  Missing trailing
 * fields read as empty; a row with non-empty fields beyond the header is
 * held (RCPT_EXTRA_FIELDS): usually an unquoted comma that shifted the
 * columns, which could put a value in the address column.
 */
#ifndef TAYORI_RECIPIENTS_H
#define TAYORI_RECIPIENTS_H

#include <stddef.h>
#include "lib/util.h"
#include "gateway/csv.h"

/* Row flags.  Any flag means the row is not mailed. */
#define RCPT_INVALID_EMAIL 0x01u /* address present but refused */
#define RCPT_NO_EMAIL      0x02u /* no address: the paper list */
#define RCPT_DUPLICATE_KEY 0x04u /* every row of a key seen twice or more */
#define RCPT_EMPTY_KEY     0x08u /* no key: the row is refused and reported */
#define RCPT_INVALID_KEY   0x10u /* key with characters outside A-Z a-z 0-9 - _ or too long */
#define RCPT_EXTRA_FIELDS  0x20u /* non-empty fields beyond the header */
#define RCPT_HELD (RCPT_INVALID_EMAIL | RCPT_NO_EMAIL | RCPT_DUPLICATE_KEY | \
		   RCPT_EMPTY_KEY | RCPT_INVALID_KEY | RCPT_EXTRA_FIELDS)

#define RECIPIENTS_KEY_MAX   64  /* bytes of a normalised key */
#define RECIPIENTS_EMAIL_MAX 254 /* RFC 5321 path limit less the brackets */

/*
 * One data row.  All strings are owned by the struct recipients and never
 * NULL ("" when absent or when the column does not exist).
 *   key        normalised (see above); "" with RCPT_EMPTY_KEY; the
 *              normalised but unusable text with RCPT_INVALID_KEY
 *   name       trimmed, control characters removed, not NFKC (異体字 in
 *              names must survive)
 *   email      normalised; with RCPT_INVALID_EMAIL it is only for showing
 *              to staff (control characters replaced by '?'), never for
 *              sending
 *   message    trimmed, line breaks as "\n", other controls removed
 *   attachment NFKC and trimmed (compare file names through
 *              recipients_normalize_text())
 *   auth_value NFKC and trimmed
 *   extra_names[k] / extra_values[k]  every other column, in CSV order:
 *              header text as written (trimmed, controls shown as '?') and
 *              the value (trimmed, controls removed, line breaks "\n");
 *              extra_names is one array shared by all rows
 */
struct recipient {
	char *key;
	char *name;
	char *email;
	char *message;
	char *attachment;
	char *auth_value;
	size_t line;     /* 1-based CSV line where the row starts */
	unsigned flags;  /* RCPT_* */
	char **extra_names;
	char **extra_values;
	size_t nextra;
	/* private */
	char *extra_block_;  /* the bytes extra_values point into */
};

/* What was read, and what was inferred (shown in the preview). */
struct recipients {
	struct recipient *v;
	size_t n;                 /* data rows kept (all-empty rows skipped) */
	int key_col, name_col, email_col, message_col, attachment_col, auth_col;
				  /* 0-based column index, -1 when none */
	char *key_header, *name_header, *email_header, *message_header,
	     *attachment_header, *auth_header; /* header text as written; "" when none */
	int key_width;            /* zero-padding width applied, 0 when none */
	size_t header_line;       /* CSV line of the header row */
	const char *encoding;     /* "UTF-8" or "CP932" (static) */
	/* private */
	char **extra_headers_;
	size_t nextra_;
};

/* Do not demand an e-mail column (`tayori pdf split --auto` needs keys only). */
#define RECIPIENTS_EMAIL_OPTIONAL 0x01u

/*
 * Settings that override inference.  A column is named by its header text
 * (compared after the same normalisation as inference) or by its 1-based
 * index written in decimal digits ("3").  NULL or "" means infer.
 */
struct recipients_options {
	const char *key_column, *name_column, *email_column;
	const char *message_column, *attachment_column, *auth_column;
	int key_width;   /* pad all-digit keys to this width; 0 = infer */
	unsigned flags;  /* RECIPIENTS_* */
};

/*
 * Build the table from t (row 0 is the header).  o may be NULL.  On
 * success *out is new and the caller frees it with recipients_free(); it
 * does not point into t, so t may be freed first.  Fails (input error,
 * one line naming the line or column) when there is no usable header, no
 * key column, an ambiguous column, an explicit column that does not exist,
 * an Individual Number column, or no data rows.  Problems of single rows
 * are not failures: they are flags.
 */
int recipients_from_csv(const struct csv_table *t, const struct recipients_options *o,
			struct recipients **out, struct error *e);

/* Free and set *r to NULL; NULL and *r == NULL are fine. */
void recipients_free(struct recipients **r);

/*
 * Normalise a key found anywhere else (PDF text, a file name) exactly as
 * the CSV keys are: NFKC, trim, remove internal spaces, check the
 * charset, and left-pad an all-digit key to width (0: no padding).
 * Writes a NUL-terminated key into out.  Returns 0, or -1 when the result
 * is empty, not a valid key, or does not fit outsize (out is then "").
 */
int recipients_normalize_key(const char *in, int width, char *out, size_t outsize);

/*
 * NFKC and trim (ASCII white space, U+3000, NBSP, zero-width characters)
 * of any UTF-8 text.  Returns a new string the caller frees with free(),
 * or NULL when in is not valid UTF-8.
 */
char *recipients_normalize_text(const char *in);

/*
 * 1 when addr (already normalised) is an address tayori will send to, else
 * 0: email_valid() (lib/email.h), the rule the whole code base shares.
 * Hence CR, LF, commas, spaces, quotes, angle brackets and non-ASCII never
 * pass.  The old docomo / au addresses with ".." or a dot before the @ are
 * refused too (RFC 5322 forbids them and relays reject them): those
 * residents get paper.
 */
int recipients_email_valid(const char *addr);

#endif
