/*
 * recipients_columns.c — which column of a recipients CSV is which
 * (recipients.h, "Header inference"): header normalisation, the synonyms
 * of each role, the settings that name a column, and the refusal of
 * Individual Number (マイナンバー) columns by header or by values.
 * Runs in the gateway process and the command line, on attacker-influenced
 * input.  Standards: Unicode NFKC (UAX #15) through glib; the check digit
 * of the Individual Number (行政手続における特定の個人を識別するための番号の
 * 利用等に関する法律施行令 Art. 8).
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/recipients_int.h"
#include "lib/buf.h"

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
		if (recipients_hidden_control(c) || c == '"') {
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
		if (recipients_blank(c) || recipients_hidden_control(c) || is_header_punct(c))
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

/* ---- Individual Numbers ---------------------------------------------------- */

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
		enum key_status st = recipients_key_clean(v, &k);
		if (st == KEY_EMPTY) {
			free(k);
			continue;
		}
		size_t len = strlen(k);
		int ok = st == KEY_OK && recipients_all_digits(k) && (len == 11 || len == 12);
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

/* ---- column resolution ------------------------------------------------- */

/* Resolve an explicit column setting to a 0-based index in [0, hc). */
static int resolve_setting(const struct csv_table *t, const char *spec, int role,
			   char **full, struct error *e)
{
	size_t hc = t->nfields[0];
	char shown[64], list[320];
	int64_t idx;
	int found = -1;

	if (recipients_all_digits(spec)) {
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


/* ---- the header row --------------------------------------------------------- */

/* Refuse a header row that names an Individual Number column or is not a
 * header at all (an address in it), and a column of Individual Numbers.
 * Sets full, base, base_ok for every header column. */
static int check_headers(const struct csv_table *t, char **full, char **base, int *base_ok,
			 struct error *e)
{
	size_t hc = t->nfields[0];
	char shown[64];

	for (size_t j = 0; j < hc; j++) {
		int reading = 0;
		full[j] = header_norm(t->rows[0][j], 0, NULL);
		base[j] = header_norm(t->rows[0][j], 1, &reading);
		base_ok[j] = !reading && strcmp(base[j], full[j]) != 0;
		for (size_t m = 0; mynumber_marks[m] != NULL; m++)
			if (strstr(full[j], mynumber_marks[m]) != NULL) {
				show(t->rows[0][j], shown, sizeof(shown), 40);
				return err_set(e, "line %zu: column %zu (\"%s\"): the CSV holds an "
					       "Individual Number (マイナンバー) column; remove it",
					       t->lines[0], j + 1, shown);
			}
	}
	for (size_t j = 0; j < hc; j++) {
		char *a = recipients_email_norm(t->rows[0][j]);
		int is_addr = recipients_email_valid(a);
		free(a);
		if (is_addr)
			return err_set(e, "line %zu: no header row: the first row holds an e-mail "
				       "address in column %zu; add a header row such as "
				       "宛名番号,氏名,メールアドレス", t->lines[0], j + 1);
	}
	for (size_t j = 0; j < t->ncols; j++)
		if (column_looks_like_mynumber(t, j)) {
			show(csv_field(t, 0, j), shown, sizeof(shown), 40);
			return err_set(e, "column %zu (\"%s\") holds Individual Numbers (マイナンバー: "
				       "12 digits with valid check digits); remove it", j + 1, shown);
		}
	return 0;
}

int recipients_columns(const struct csv_table *t, const struct recipients_options *o,
		       int cols[R_COUNT], struct error *e)
{
	size_t hc = t->nfields[0];
	char **full = xcalloc(hc ? hc : 1, sizeof(char *));
	char **base = xcalloc(hc ? hc : 1, sizeof(char *));
	int *base_ok = xcalloc(hc ? hc : 1, sizeof(int));
	char list[320];
	int rc = -1;

	if (check_headers(t, full, base, base_ok, e) < 0 ||
	    resolve_columns(t, o, full, base, base_ok, cols, e) < 0)
		goto out;
	if (cols[R_KEY] < 0) {
		int data_like = 0;
		for (size_t j = 0; j < hc; j++)
			if (recipients_all_digits(full[j]))
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
	rc = 0;
out:
	for (size_t j = 0; j < hc; j++) {
		free(full[j]);
		free(base[j]);
	}
	free(full);
	free(base);
	free(base_ok);
	return rc;
}
