/*
 * recipients.c — the recipients table from a parsed CSV: header inference,
 * NFKC normalisation of keys, addresses and headers, Excel's lost leading
 * zeros, address validation, per-row flags, and the refusal of
 * Individual Number (マイナンバー) columns.
 * Runs in the gateway process and the command line, on attacker-influenced
 * input.  Standards: Unicode NFKC (UAX #15) through glib; RFC 5321 §4.5.3
 * and RFC 5322 §3.2.3/§3.4.1 (dot-atom addr-spec) for addresses; the check
 * digit of the Individual Number (行政手続における特定の個人を識別するための
 * 番号の利用等に関する法律施行令 Art. 8).  See recipients.h for the rules.
 */
#include "gateway/recipients.h"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/email.h"
#include "lib/text.h"

enum role { R_KEY, R_NAME, R_EMAIL, R_MESSAGE, R_ATTACH, R_AUTH, R_COUNT };

/* Header synonyms per role, in any spelling: they are normalised exactly
 * like the headers before comparing.  The sets must stay disjoint. */
static const char *const syn_key[] = {
	"宛名番号", "宛名コード", "宛名CD", "宛名No", "宛名ID", "宛名キー", "あて名番号",
	"個人宛名番号", "住民番号", "住民コード", "住民ID", "通知番号", "通知書番号",
	"管理番号", "整理番号", "納税義務者番号", "義務者番号", "納税者番号",
	"被保険者番号", "受給者番号", "受給者証番号", "識別番号", "キー",
	"key", "id", "recipient id", "recipient key", "resident id", "resident key",
	"addressee id", NULL
};
static const char *const syn_name[] = {
	"氏名", "名前", "お名前", "宛名", "宛名氏名", "宛先名", "氏名（漢字）", "漢字氏名",
	"氏名又は名称", "氏名または名称", "名称", "受取人", "受取人名", "納税義務者氏名",
	"被保険者氏名", "name", "full name", "recipient name", NULL
};
static const char *const syn_email[] = {
	"メールアドレス", "メール", "Eメール", "Eメールアドレス", "電子メール",
	"電子メールアドレス", "メアド", "送信先アドレス", "送信先メールアドレス",
	"e-mail", "e-mail address", "mail", "mail address", "mailto", NULL
};
static const char *const syn_message[] = {
	"メッセージ", "個別メッセージ", "本文", "個別本文", "通知文", "連絡事項",
	"message", "body", "personal message", NULL
};
static const char *const syn_attach[] = {
	"添付ファイル", "添付ファイル名", "添付", "ファイル名", "ファイル", "PDFファイル名",
	"PDFファイル", "PDF", "PDF名", "file", "file name", "attachment", "PDF file", NULL
};
static const char *const syn_auth[] = {
	"生年月日", "誕生日", "認証", "認証キー", "認証値", "認証コード", "認証番号",
	"暗証番号", "照合キー", "birth date", "date of birth", "birthday", "DOB", "auth",
	"auth value", "PIN", NULL
};
static const char *const *const role_syn[R_COUNT] = {
	syn_key, syn_name, syn_email, syn_message, syn_attach, syn_auth
};
static const char *const role_label[R_COUNT] = {
	"key", "name", "e-mail", "message", "attachment", "authentication"
};
static const char *const role_setting[R_COUNT] = {
	"key_column", "name_column", "email_column", "message_column",
	"attachment_column", "auth_column"
};

/* Substrings of a normalised header that mark an Individual Number column. */
static const char *const mynumber_marks[] = {
	"個人番号", "マイナンバー", "mynumber", "individualnumber", NULL
};
/* Substrings of a bracketed qualifier that mean "the reading, not the text". */
static const char *const reading_marks[] = {
	"カナ", "かな", "フリガナ", "ふりがな", "よみ", "ヨミ", "読み", "kana", "yomi",
	"reading", NULL
};

/* ---- small Unicode helpers ------------------------------------------- */

/* White space and invisible characters that trimming and key cleaning drop. */
static int is_blank(gunichar c)
{
	return g_unichar_isspace(c) || c == 0x3000 || c == 0x00A0 || c == 0x200B ||
	       c == 0x2060 || c == 0xFEFF || c == 0x180E;
}

/* Characters that must never reach a display: C0/C1 controls and the
 * bidirectional overrides that could disguise text in the dashboard. */
static int is_hidden_control(gunichar c)
{
	return g_unichar_iscntrl(c) || (c >= 0x202A && c <= 0x202E) ||
	       (c >= 0x2066 && c <= 0x2069) || c == 0x200E || c == 0x200F || c == 0x061C;
}

/* A new malloc'd copy of s (valid UTF-8) without leading/trailing blanks. */
static char *trim_dup(const char *s)
{
	const char *start = s, *end = s + strlen(s);

	while (*start != '\0' && is_blank(g_utf8_get_char(start)))
		start = g_utf8_next_char(start);
	while (end > start) {
		const char *prev = g_utf8_prev_char(end);
		if (!is_blank(g_utf8_get_char(prev)))
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
		} else if (is_hidden_control(c)) {
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

/* Bounded, display-safe copy of a cell for an error message: at most
 * max bytes of whole characters, controls and quotes shown as '?', "..."
 * when cut. */
static void show(const char *s, char *out, size_t outsize, size_t max)
{
	size_t o = 0;

	if (outsize == 0)
		return;
	if (max + 4 > outsize)
		max = outsize > 4 ? outsize - 4 : 0;
	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		size_t cl = (size_t)(g_utf8_next_char(p) - p);
		gunichar c = g_utf8_get_char(p);
		if (o + cl > max) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (is_hidden_control(c) || c == '"') {
			out[o++] = '?';
		} else {
			memcpy(out + o, p, cl);
			o += cl;
		}
	}
	out[o] = '\0';
}

/* ---- headers ----------------------------------------------------------- */

static int is_open_bracket(gunichar c)
{
	return c == '(' || c == '[' || c == '{' || c == '<' || c == 0x3010 /* 【 */ ||
	       c == 0x300C /* 「 */ || c == 0x300E /* 『 */ || c == 0x3014 /* 〔 */ ||
	       c == 0x3008 /* 〈 */ || c == 0x300A /* 《 */ || c == 0x3016 /* 〖 */;
}

static int is_close_bracket(gunichar c)
{
	return c == ')' || c == ']' || c == '}' || c == '>' || c == 0x3011 ||
	       c == 0x300D || c == 0x300F || c == 0x3015 || c == 0x3009 || c == 0x300B ||
	       c == 0x3017;
}

/* Punctuation that header spellings vary on (after NFKC). */
static int is_header_punct(gunichar c)
{
	return c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '*' ||
	       c == '#' || c == '\'' || c == '"' || c == 0x30FB /* ・ */ ||
	       c == 0x203B /* ※ */ || (c >= 0x2010 && c <= 0x2015) || c == 0x2212;
}

/*
 * Normalised form of a header: NFKC, case folding, blanks, brackets and
 * punctuation removed.  base: also drop what is inside brackets, and set
 * *reading when a bracketed part names a reading (カナ, よみ...).
 * Returns a malloc'd string ("" for invalid UTF-8).
 */
static char *header_norm(const char *h, int base, int *reading)
{
	gchar *n, *f;
	struct buf b, inner;
	int depth = 0;
	char *r;
	size_t len;

	if (reading != NULL)
		*reading = 0;
	if (!g_utf8_validate(h, -1, NULL))
		return xstrdup("");
	n = g_utf8_normalize(h, -1, G_NORMALIZE_NFKC);
	if (n == NULL)
		return xstrdup("");
	f = g_utf8_casefold(n, -1);
	g_free(n);
	buf_init(&b, strlen(f) + 1);
	buf_init(&inner, strlen(f) + 1);
	for (const char *p = f; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (is_open_bracket(c)) {
			depth++;
			continue;
		}
		if (is_close_bracket(c)) {
			if (depth > 0)
				depth--;
			continue;
		}
		if (is_blank(c) || is_hidden_control(c) || is_header_punct(c))
			continue;
		if (base && depth > 0) {
			buf_append(&inner, p, (size_t)(g_utf8_next_char(p) - p));
			continue;
		}
		buf_append(&b, p, (size_t)(g_utf8_next_char(p) - p));
	}
	if (reading != NULL && inner.data != NULL) {
		for (size_t i = 0; reading_marks[i] != NULL; i++)
			if (strstr((const char *)inner.data, reading_marks[i]) != NULL)
				*reading = 1;
	}
	g_free(f);
	buf_free(&inner);
	r = (char *)buf_steal(&b, &len);
	return r;
}

/* Normalised synonyms of every role, computed once per call. */
struct synonyms {
	char **v[R_COUNT];
	size_t n[R_COUNT];
};

static void synonyms_init(struct synonyms *s)
{
	for (int r = 0; r < R_COUNT; r++) {
		size_t k = 0;
		while (role_syn[r][k] != NULL)
			k++;
		s->n[r] = k;
		s->v[r] = xcalloc(k, sizeof(char *));
		for (size_t i = 0; i < k; i++)
			s->v[r][i] = header_norm(role_syn[r][i], 0, NULL);
	}
}

static void synonyms_free(struct synonyms *s)
{
	for (int r = 0; r < R_COUNT; r++) {
		for (size_t i = 0; i < s->n[r]; i++)
			free(s->v[r][i]);
		free(s->v[r]);
	}
}

/* The role whose synonyms contain norm, or -1. */
static int role_of(const struct synonyms *s, const char *norm)
{
	if (norm[0] == '\0')
		return -1;
	for (int r = 0; r < R_COUNT; r++)
		for (size_t i = 0; i < s->n[r]; i++)
			if (strcmp(norm, s->v[r][i]) == 0)
				return r;
	return -1;
}

/* "A", "B", ... for an error message, bounded to outsize. */
static void header_list(const struct csv_table *t, char *out, size_t outsize)
{
	size_t o = 0, hc = t->nfields[0];
	char one[64];

	out[0] = '\0';
	for (size_t j = 0; j < hc; j++) {
		char item[80];
		show(t->rows[0][j], one, sizeof(one), 40);
		if (str_fmt(item, sizeof(item), "%s\"%s\"", j ? ", " : "", one) < 0)
			continue;
		size_t il = strlen(item);
		if (o + il + 5 >= outsize) {
			str_copy(out + o, ", ...", outsize - o);
			return;
		}
		memcpy(out + o, item, il + 1);
		o += il;
	}
}

/* ---- keys ---------------------------------------------------------------- */

enum key_status { KEY_OK, KEY_EMPTY, KEY_INVALID };

/* NFKC, trim, drop every blank; *out is malloc'd (controls shown as '?'
 * when the key is invalid). */
static enum key_status key_clean(const char *in, char **out)
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
		if (is_blank(c))
			continue;
		if (is_hidden_control(c)) {
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

static int all_digits(const char *s)
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

	if (width <= 0 || (size_t)width <= len || !all_digits(key))
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
	if (key_clean(in, &k) != KEY_OK)
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

/* The Individual Number check digit test for 12 ASCII digits. */
static int mynumber_check(const char *d)
{
	unsigned sum = 0;

	for (int n = 1; n <= 11; n++) {
		unsigned p = (unsigned)(d[11 - n] - '0');
		unsigned q = n <= 6 ? (unsigned)n + 1 : (unsigned)n - 5;
		sum += p * q;
	}
	unsigned rem = sum % 11;
	unsigned check = rem <= 1 ? 0 : 11 - rem;
	return (unsigned)(d[11] - '0') == check;
}

/* 1 when column j holds at least 5 values, all 11 or 12 digits (Excel may
 * have dropped a leading zero), at least one of 12, every one with a valid
 * Individual Number check digit once padded to 12. */
static int column_looks_like_mynumber(const struct csv_table *t, size_t j)
{
	size_t count = 0;
	int saw12 = 0;

	for (size_t i = 1; i < t->nrows; i++) {
		const char *v = csv_field(t, i, j);
		char *k = NULL;
		if (v[0] == '\0')
			continue;
		enum key_status st = key_clean(v, &k);
		if (st == KEY_EMPTY) {
			free(k);
			continue;
		}
		size_t len = strlen(k);
		int ok = st == KEY_OK && all_digits(k) && (len == 11 || len == 12);
		if (ok) {
			char d[13];
			if (len == 11) {
				d[0] = '0';
				memcpy(d + 1, k, 12);
			} else {
				memcpy(d, k, 13);
				saw12 = 1;
			}
			ok = mynumber_check(d);
		}
		free(k);
		if (!ok)
			return 0;
		count++;
	}
	return count >= 5 && saw12;
}

/* ---- addresses ---------------------------------------------------------- */

int recipients_email_valid(const char *addr)
{
	return email_valid(addr);
}

/* NFKC, trim, lower-case the (ASCII) domain.  Returns a malloc'd string. */
static char *email_norm(const char *in)
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

/* ---- column resolution ------------------------------------------------- */

/* Resolve an explicit column setting to a 0-based index in [0, hc). */
static int resolve_setting(const struct csv_table *t, const char *spec, int role,
			   char **full, struct error *e)
{
	size_t hc = t->nfields[0];
	char shown[64], list[320];
	int64_t idx;
	int found = -1;

	if (all_digits(spec)) {
		if (parse_int64(spec, 1, (int64_t)hc, &idx) < 0)
			return err_set(e, "the setting %s is column %s, but the header row "
				       "(line %zu) has %zu columns", role_setting[role], spec,
				       t->lines[0], hc);
		return (int)(idx - 1);
	}
	char *want = header_norm(spec, 0, NULL);
	for (size_t j = 0; j < hc; j++) {
		if (want[0] == '\0' || strcmp(full[j], want) != 0)
			continue;
		if (found >= 0) {
			free(want);
			show(spec, shown, sizeof(shown), 40);
			return err_set(e, "line %zu: the setting %s \"%s\" matches columns %d "
				       "and %zu; give the column number instead", t->lines[0],
				       role_setting[role], shown, found + 1, j + 1);
		}
		found = (int)j;
	}
	free(want);
	if (found < 0) {
		show(spec, shown, sizeof(shown), 40);
		header_list(t, list, sizeof(list));
		return err_set(e, "line %zu: the setting %s names column \"%s\", but the "
			       "header has no such column (headers seen: %s)", t->lines[0],
			       role_setting[role], shown, list);
	}
	return found;
}

static const char *option_for(const struct recipients_options *o, int role)
{
	if (o == NULL)
		return NULL;
	switch (role) {
	case R_KEY: return o->key_column;
	case R_NAME: return o->name_column;
	case R_EMAIL: return o->email_column;
	case R_MESSAGE: return o->message_column;
	case R_ATTACH: return o->attachment_column;
	case R_AUTH: return o->auth_column;
	default: return NULL;
	}
}

/*
 * Decide cols[role] for every role: explicit settings first, then
 * inference on the remaining columns.  full[j] / base[j] are the
 * normalised headers, base_ok[j] whether the bracket-less form may be used.
 */
static int resolve_columns(const struct csv_table *t, const struct recipients_options *o,
			   char **full, char **base, const int *base_ok, int cols[R_COUNT],
			   struct error *e)
{
	size_t hc = t->nfields[0];
	struct synonyms syn;
	int *colrole = xcalloc(hc, sizeof(int));
	int *taken = xcalloc(hc, sizeof(int));
	int explicit_[R_COUNT];
	int rc = -1;

	synonyms_init(&syn);
	for (int r = 0; r < R_COUNT; r++) {
		const char *spec = option_for(o, r);
		cols[r] = -1;
		explicit_[r] = 0;
		if (spec == NULL || spec[0] == '\0')
			continue;
		int c = resolve_setting(t, spec, r, full, e);
		if (c < 0)
			goto out;
		for (int q = 0; q < r; q++)
			if (cols[q] == c) {
				err_set(e, "the settings %s and %s both name column %d",
					role_setting[q], role_setting[r], c + 1);
				goto out;
			}
		cols[r] = c;
		explicit_[r] = 1;
		taken[c] = 1;
	}
	for (size_t j = 0; j < hc; j++) {
		colrole[j] = role_of(&syn, full[j]);
		if (colrole[j] < 0 && base_ok[j])
			colrole[j] = role_of(&syn, base[j]);
	}
	for (int r = 0; r < R_COUNT; r++) {
		if (explicit_[r])
			continue;
		for (size_t j = 0; j < hc; j++) {
			if (taken[j] || colrole[j] != r)
				continue;
			if (cols[r] >= 0) {
				char a[64], b[64];
				show(t->rows[0][cols[r]], a, sizeof(a), 40);
				show(t->rows[0][j], b, sizeof(b), 40);
				err_set(e, "line %zu: columns %d (\"%s\") and %zu (\"%s\") both look "
					"like the %s column; choose one with the setting %s",
					t->lines[0], cols[r] + 1, a, j + 1, b, role_label[r],
					role_setting[r]);
				goto out;
			}
			cols[r] = (int)j;
		}
	}
	rc = 0;
out:
	synonyms_free(&syn);
	free(colrole);
	free(taken);
	return rc;
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
		if (!all_digits(rs->v[i].key))
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

int recipients_from_csv(const struct csv_table *t, const struct recipients_options *o,
			struct recipients **out, struct error *e)
{
	struct recipients *rs = NULL;
	char **full = NULL, **base = NULL;
	int *base_ok = NULL, *extra_cols = NULL;
	enum key_status *st = NULL;
	GHashTable *seen = NULL;
	int cols[R_COUNT];
	size_t hc = 0;
	char list[320], shown[64];
	int rc = -1;

	*out = NULL;
	if (t == NULL || t->nrows == 0)
		return err_set(e, "line 1: the CSV is empty; it needs a header row "
			       "(e.g. 宛名番号,氏名,メールアドレス) and one row per resident");
	if (o != NULL && (o->key_width < 0 || o->key_width > RECIPIENTS_KEY_MAX))
		return err_set(e, "the key width setting %d is outside 0..%d", o->key_width,
			       RECIPIENTS_KEY_MAX);
	hc = t->nfields[0];
	full = xcalloc(hc, sizeof(char *));
	base = xcalloc(hc, sizeof(char *));
	base_ok = xcalloc(hc, sizeof(int));

	/* Headers: normalise, refuse an Individual Number column, spot data. */
	for (size_t j = 0; j < hc; j++) {
		int reading = 0;
		full[j] = header_norm(t->rows[0][j], 0, NULL);
		base[j] = header_norm(t->rows[0][j], 1, &reading);
		base_ok[j] = !reading && strcmp(base[j], full[j]) != 0;
		for (size_t m = 0; mynumber_marks[m] != NULL; m++)
			if (strstr(full[j], mynumber_marks[m]) != NULL) {
				show(t->rows[0][j], shown, sizeof(shown), 40);
				err_set(e, "line %zu: column %zu (\"%s\"): the CSV holds an "
					"Individual Number (マイナンバー) column; remove it",
					t->lines[0], j + 1, shown);
				goto out;
			}
	}
	for (size_t j = 0; j < hc; j++) {
		char *a = email_norm(t->rows[0][j]);
		int is_addr = recipients_email_valid(a);
		free(a);
		if (is_addr) {
			err_set(e, "line %zu: no header row: the first row holds an e-mail "
				"address in column %zu; add a header row such as "
				"宛名番号,氏名,メールアドレス", t->lines[0], j + 1);
			goto out;
		}
	}
	for (size_t j = 0; j < t->ncols; j++)
		if (column_looks_like_mynumber(t, j)) {
			show(csv_field(t, 0, j), shown, sizeof(shown), 40);
			err_set(e, "column %zu (\"%s\") holds Individual Numbers (マイナンバー: "
				"12 digits with valid check digits); remove it", j + 1, shown);
			goto out;
		}

	if (resolve_columns(t, o, full, base, base_ok, cols, e) < 0)
		goto out;
	if (cols[R_KEY] < 0) {
		int data_like = 0;
		for (size_t j = 0; j < hc; j++)
			if (all_digits(full[j]))
				data_like = 1;
		if (data_like) {
			err_set(e, "line %zu: no header row: the first row looks like data; add "
				"a header row such as 宛名番号,氏名,メールアドレス", t->lines[0]);
			goto out;
		}
		header_list(t, list, sizeof(list));
		err_set(e, "line %zu: no key column found (headers seen: %s); name it "
			"宛名番号 or give the setting key_column", t->lines[0], list);
		goto out;
	}
	if (cols[R_EMAIL] < 0 && !(o != NULL && (o->flags & RECIPIENTS_EMAIL_OPTIONAL))) {
		header_list(t, list, sizeof(list));
		err_set(e, "line %zu: no e-mail column found (headers seen: %s); name it "
			"メールアドレス or give the setting email_column", t->lines[0], list);
		goto out;
	}

	rs = xcalloc(1, sizeof(*rs));
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

	/* Every other header column is kept as an extra, in order. */
	extra_cols = xcalloc(hc, sizeof(int));
	rs->extra_headers_ = xcalloc(hc, sizeof(char *));
	for (size_t j = 0; j < hc; j++) {
		int used = 0;
		for (int r = 0; r < R_COUNT; r++)
			if (cols[r] == (int)j)
				used = 1;
		if (used)
			continue;
		extra_cols[rs->nextra_] = (int)j;
		rs->extra_headers_[rs->nextra_++] = clean_text(t->rows[0][j], 0, 1);
	}

	rs->v = xcalloc(t->nrows, sizeof(*rs->v));
	st = xcalloc(t->nrows, sizeof(*st));
	for (size_t i = 1; i < t->nrows; i++) {
		if (row_is_empty(t, i))
			continue;
		struct recipient *r = &rs->v[rs->n];
		enum key_status ks = key_clean(cell(t, i, cols[R_KEY]), &r->key);
		st[rs->n] = ks;
		rs->n++;
		r->line = t->lines[i];
		if (ks == KEY_EMPTY)
			r->flags |= RCPT_EMPTY_KEY;
		else if (ks == KEY_INVALID)
			r->flags |= RCPT_INVALID_KEY;
		r->name = clean_text(cell(t, i, cols[R_NAME]), 0, 0);
		r->email = email_norm(cell(t, i, cols[R_EMAIL]));
		if (r->email[0] == '\0') {
			r->flags |= RCPT_NO_EMAIL;
		} else if (!recipients_email_valid(r->email)) {
			char *shown_addr = clean_text(r->email, 0, 1);
			free(r->email);
			r->email = shown_addr;
			r->flags |= RCPT_INVALID_EMAIL;
		}
		{
			/* A message to one resident is clean text as a batch's
			 * message is (text.h): a bad one refuses the batch.  In a
			 * cell, a lone CR is a line break (Excel's Macintosh CSV). */
			const char *m = cell(t, i, cols[R_MESSAGE]);
			char *lf = xmalloc(strlen(m) + 1), *w = lf;
			struct text_problem tp;
			int bad;
			for (const char *q = m; *q != '\0'; q++)
				if (*q != '\r' || q[1] != '\n')
					*w++ = *q == '\r' ? '\n' : *q;
			*w = '\0';
			bad = text_check(lf, TEXT_BODY, TEXT_MESSAGE_MAX, &tp) < 0;
			free(lf);
			if (bad) {
				err_set(e, "line %zu (the message column \"%s\"): %s", r->line,
					rs->message_header ? rs->message_header : "", tp.what);
				goto out;
			}
		}
		r->message = clean_text(cell(t, i, cols[R_MESSAGE]), 1, 0);
		r->attachment = nfkc_or_empty(cell(t, i, cols[R_ATTACH]));
		r->auth_value = nfkc_or_empty(cell(t, i, cols[R_AUTH]));
		extras_fill(r, rs, t, i, extra_cols);
		for (size_t j = hc; j < t->nfields[i]; j++) {
			char *s = trim_dup(t->rows[i][j]);
			if (s[0] != '\0')
				r->flags |= RCPT_EXTRA_FIELDS;
			free(s);
		}
	}
	if (rs->n == 0) {
		err_set(e, "line %zu: the CSV has a header row but no data rows",
			t->lines[0] + 1);
		goto out;
	}

	/* Excel's lost leading zeros, then duplicates on the final keys. */
	rs->key_width = o != NULL && o->key_width > 0 ? o->key_width : infer_width(rs, st);
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; i < rs->n; i++) {
		if (st[i] != KEY_OK)
			continue;
		rs->v[i].key = key_pad(rs->v[i].key, rs->key_width);
		gpointer prev = g_hash_table_lookup(seen, rs->v[i].key);
		g_hash_table_insert(seen, rs->v[i].key,
				    GSIZE_TO_POINTER(GPOINTER_TO_SIZE(prev) + 1));
	}
	for (size_t i = 0; i < rs->n; i++) {
		if (st[i] != KEY_OK)
			continue;
		if (GPOINTER_TO_SIZE(g_hash_table_lookup(seen, rs->v[i].key)) > 1)
			rs->v[i].flags |= RCPT_DUPLICATE_KEY;
	}
	*out = rs;
	rs = NULL;
	rc = 0;
out:
	if (seen != NULL)
		g_hash_table_destroy(seen);
	if (full != NULL)
		for (size_t j = 0; j < hc; j++)
			free(full[j]);
	if (base != NULL)
		for (size_t j = 0; j < hc; j++)
			free(base[j]);
	free(full);
	free(base);
	free(base_ok);
	free(extra_cols);
	free(st);
	recipients_free(&rs);
	return rc;
}
