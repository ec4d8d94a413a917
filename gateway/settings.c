/*
 * settings.c — `key: value` batch settings at the top of a body (see
 * settings.h).
 */
#include "gateway/settings.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lib/text.h"

enum key {
	K_TITLE, K_SPLIT, K_PAGES, K_KEY_PATTERN, K_KEY_COLUMN, K_NAME_COLUMN, K_EMAIL_COLUMN,
	K_MESSAGE_COLUMN, K_ATTACHMENT_COLUMN, K_AUTH_COLUMN, K_KEY_WIDTH, K_TEST, K_AUTH,
	K_REMINDERS, K_DEADLINE, K_EXPIRY, K_KYOUJI, K_CONSENT, K_TYPE,
};

/* Every alias, compared after NFKC and lower-casing. */
static const struct {
	const char *name;
	enum key key;
} aliases[] = {
	{ "title", K_TITLE },           { "件名", K_TITLE },         { "通知名", K_TITLE },
	{ "split", K_SPLIT },           { "分割", K_SPLIT },         { "分割方法", K_SPLIT },
	{ "pages", K_PAGES },           { "ページ数", K_PAGES },     { "1人あたりページ数", K_PAGES },
	{ "key pattern", K_KEY_PATTERN }, { "キーパターン", K_KEY_PATTERN },
	{ "key column", K_KEY_COLUMN }, { "宛名番号列", K_KEY_COLUMN }, { "キー列", K_KEY_COLUMN },
	{ "name column", K_NAME_COLUMN }, { "氏名列", K_NAME_COLUMN },
	{ "email column", K_EMAIL_COLUMN }, { "メール列", K_EMAIL_COLUMN },
	{ "メールアドレス列", K_EMAIL_COLUMN },
	{ "message column", K_MESSAGE_COLUMN }, { "メッセージ列", K_MESSAGE_COLUMN },
	{ "attachment column", K_ATTACHMENT_COLUMN }, { "添付列", K_ATTACHMENT_COLUMN },
	{ "ファイル名列", K_ATTACHMENT_COLUMN },
	{ "auth column", K_AUTH_COLUMN }, { "認証列", K_AUTH_COLUMN },
	{ "key width", K_KEY_WIDTH },   { "宛名番号桁数", K_KEY_WIDTH }, { "桁数", K_KEY_WIDTH },
	{ "test", K_TEST },             { "テスト", K_TEST },        { "テスト利用", K_TEST },
	{ "auth", K_AUTH },             { "認証", K_AUTH },          { "認証方法", K_AUTH },
	{ "reminders", K_REMINDERS },   { "督促", K_REMINDERS },     { "リマインド", K_REMINDERS },
	{ "deadline", K_DEADLINE },     { "期限", K_DEADLINE },      { "回答期限", K_DEADLINE },
	{ "expiry", K_EXPIRY },         { "公開期限", K_EXPIRY },    { "有効期限", K_EXPIRY },
	{ "kyouji", K_KYOUJI },         { "教示", K_KYOUJI },        { "不服申立て", K_KYOUJI },
	{ "consent", K_CONSENT },       { "同意", K_CONSENT },       { "電子交付同意", K_CONSENT },
	{ "type", K_TYPE },             { "種類", K_TYPE },          { "通知の種類", K_TYPE },
};

static char **field(struct batch_settings *s, enum key k)
{
	switch (k) {
	case K_TITLE: return &s->title;
	case K_KEY_PATTERN: return &s->key_regex;
	case K_KEY_COLUMN: return &s->key_column;
	case K_NAME_COLUMN: return &s->name_column;
	case K_EMAIL_COLUMN: return &s->email_column;
	case K_MESSAGE_COLUMN: return &s->message_column;
	case K_ATTACHMENT_COLUMN: return &s->attachment_column;
	case K_AUTH_COLUMN: return &s->auth_column;
	case K_AUTH: return &s->auth;
	case K_REMINDERS: return &s->reminders;
	case K_DEADLINE: return &s->deadline;
	case K_EXPIRY: return &s->expiry;
	case K_KYOUJI: return &s->kyouji;
	case K_TYPE: return &s->notice_type;
	default: return NULL;
	}
}

/* A free-text value must be clean one-line text (text.h): refused with the
 * line and the setting's name, never cut or cleaned quietly. */
static int check_value(const char *v, const char *name, size_t max, size_t line, struct error *e)
{
	struct text_problem tp;
	if (text_check(v, TEXT_LINE, max, &tp) < 0)
		return err_set(e, "settings line %zu (%s): %s", line, name, tp.what);
	return 0;
}

static int yes_no(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "y", "true", "on", "はい", "1", "する" };
	static const char *const no[] = { "no", "n", "false", "off", "いいえ", "0", "しない" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcmp(v, yes[i]) == 0)
			return *out = 1, 0;
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (strcmp(v, no[i]) == 0)
			return *out = 0, 0;
	return -1;
}

/* "2", "2ページ", "2 pages" -> 2 */
static int leading_int(const char *v, int64_t min, int64_t max, int *out)
{
	char digits[16];
	size_t n = strspn(v, "0123456789");
	int64_t x;
	if (n == 0 || n >= sizeof(digits))
		return -1;
	memcpy(digits, v, n);
	digits[n] = '\0';
	if (parse_int64(digits, min, max, &x) < 0)
		return -1;
	*out = (int)x;
	return 0;
}

static int set_split(struct batch_settings *s, const char *v, const char *name, size_t line,
		     struct error *e)
{
	if (strncmp(v, "pages", 5) == 0 || strstr(v, "ページ") != NULL) {
		const char *p = v + strcspn(v, "0123456789");
		s->split = SPLIT_PAGES;
		if (*p != '\0' && leading_int(p, 1, 10000, &s->pages) < 0)
			return err_set(e, "settings line %zu: a page count must be 1 to 10000", line);
		return 0;
	}
	if (strncmp(v, "key", 3) == 0 || strncmp(v, "キー", strlen("キー")) == 0) {
		const char *p = v + (v[0] == 'k' ? 3 : strlen("キー"));
		while (*p == ' ')
			p++;
		s->split = SPLIT_KEY;
		if (*p != '\0') {
			if (check_value(p, name, TEXT_SETTING_MAX, line, e) < 0)
				return -1;
			free(s->key_regex);
			s->key_regex = xstrdup(p);
		}
		return 0;
	}
	if (strcmp(v, "auto") == 0 || strcmp(v, "自動") == 0)
		return s->split = SPLIT_AUTO, 0;
	if (strcmp(v, "per-file") == 0 || strcmp(v, "ファイル別") == 0 || strcmp(v, "個別") == 0)
		return s->split = SPLIT_PER_FILE, 0;
	if (strcmp(v, "common") == 0 || strcmp(v, "共通") == 0)
		return s->split = SPLIT_COMMON, 0;
	return err_set(e, "settings line %zu: split must be pages N, key REGEX, auto, per-file or common",
		       line);
}

/* A free-text value (a title, a pattern) keeps what staff wrote: only the
 * key and the colon are read through NFKC.  raw is the line as written,
 * v its NFKC value. */
static int set_text(struct batch_settings *s, enum key k, const char *name, const char *raw,
		    const char *v, size_t line, struct error *e)
{
	char **f = field(s, k);
	const char *c1 = strchr(raw, ':'), *c2 = strstr(raw, "\xef\xbc\x9a"); /* U+FF1A */
	const char *val = c1 != NULL && (c2 == NULL || c1 < c2) ? c1 + 1 : c2 != NULL ? c2 + 3 : NULL;

	free(*f);
	/* A key pattern is matched against NFKC page text: keep it NFKC too. */
	if (val == NULL || k == K_KEY_PATTERN) {
		*f = xstrdup(v);
	} else {
		size_t n;
		while (*val == ' ' || *val == '\t' || strncmp(val, "\xe3\x80\x80", 3) == 0)
			val += *val == ' ' || *val == '\t' ? 1 : 3;
		n = strlen(val);
		while (n > 0 && (val[n - 1] == ' ' || val[n - 1] == '\t' || val[n - 1] == '\r'))
			n--;
		while (n >= 3 && memcmp(val + n - 3, "\xe3\x80\x80", 3) == 0)
			n -= 3;
		*f = xstrndup(val, n);
	}
	if (check_value(*f, name,
			k == K_TITLE	? TEXT_TITLE_MAX
			: k == K_KYOUJI ? SETTINGS_KYOUJI_MAX
					: TEXT_SETTING_MAX,
			line, e) < 0)
		return -1;
	if (k == K_TYPE)
		s->notice_type_line = line;
	if (k == K_KEY_PATTERN && s->split == SPLIT_INFER)
		s->split = SPLIT_KEY;
	return 0;
}

/* Apply setting number i (of aliases) with value v. */
static int set_value(struct batch_settings *s, size_t i, const char *raw, const char *v,
		     size_t line, struct error *e)
{
	switch (aliases[i].key) {
	case K_SPLIT:
		return set_split(s, v, aliases[i].name, line, e);
	case K_PAGES:
		if (leading_int(v, 1, 10000, &s->pages) < 0)
			return err_set(e, "settings line %zu: a page count must be 1 to 10000", line);
		if (s->split == SPLIT_INFER)
			s->split = SPLIT_PAGES;
		return 0;
	case K_KEY_WIDTH:
		if (leading_int(v, 1, 64, &s->key_width) < 0)
			return err_set(e, "settings line %zu: a key width must be 1 to 64", line);
		return 0;
	case K_TEST:
		if (yes_no(v, &s->test) < 0)
			return err_set(e, "settings line %zu: test must be yes or no (はい/いいえ)", line);
		return 0;
	case K_CONSENT:
		if (yes_no(v, &s->consent) < 0)
			return err_set(e, "settings line %zu: consent must be yes or no (はい/いいえ)",
				       line);
		return 0;
	default:
		return set_text(s, aliases[i].key, aliases[i].name, raw, v, line, e);
	}
}

/* One line (raw, as written): 1 a setting, applied; 0 not a setting (the
 * message starts here); -1 a setting refused. */
static int parse_line(struct batch_settings *s, const char *raw, size_t line, struct error *e)
{
	char *norm, *colon, *k, *v;
	size_t i;
	int r;

	/* NFKC turns the full-width colon and spaces into ASCII ones. */
	norm = g_utf8_validate(raw, -1, NULL) ? g_utf8_normalize(raw, -1, G_NORMALIZE_NFKC) : NULL;
	if (norm == NULL)
		return 0;
	g_strstrip(norm);
	colon = strchr(norm, ':');
	if (norm[0] == '\0' || colon == NULL) {
		g_free(norm);
		return 0;
	}
	*colon = '\0';
	k = g_utf8_strdown(g_strstrip(norm), -1);
	v = g_strstrip(colon + 1);
	for (i = 0; i < ARRAY_SIZE(aliases); i++)
		if (strcmp(k, aliases[i].name) == 0)
			break;
	g_free(k);
	if (i == ARRAY_SIZE(aliases))
		r = 0; /* message text that happens to hold a colon */
	else
		r = set_value(s, i, raw, v, line, e) < 0 ? -1 : 1;
	g_free(norm);
	return r;
}

/* The message after the settings at p: clean text, CRLF read as LF; its
 * lines are counted as in the file, settings included. */
static int parse_message(struct batch_settings *s, const char *text, const char *p,
			 struct error *e)
{
	struct text_problem tp;
	size_t before = 1;

	s->message = text_clean(p, strlen(p), TEXT_BODY, TEXT_MESSAGE_MAX, &tp);
	if (s->message != NULL)
		return 0;
	for (const char *q = text; q < p; q++)
		before += *q == '\n';
	if (tp.line == 0)
		return err_set(e, "the message: %s", tp.what);
	return err_set(e, "message line %zu: %s", before + tp.line - 1, tp.what);
}

int settings_parse(const char *text, struct batch_settings *s, struct error *e)
{
	const char *p = text;
	size_t line = 0;

	memset(s, 0, sizeof(*s));
	s->split = SPLIT_INFER;
	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* the byte order mark Windows Notepad writes */
	while (*p != '\0') {
		const char *eol = p + strcspn(p, "\n");
		char *raw = xstrndup(p, (size_t)(eol - p));
		int r = parse_line(s, raw, ++line, e);
		free(raw);
		if (r < 0)
			goto fail;
		if (r == 0) {
			if (*eol == '\n' && eol == p + strspn(p, " \t\r"))
				p = eol + 1; /* a blank line ends the settings and is dropped */
			break;
		}
		p = *eol == '\n' ? eol + 1 : eol;
	}
	if (parse_message(s, text, p, e) < 0)
		goto fail;
	if (s->split == SPLIT_PAGES && s->pages == 0) {
		err_set(e, "settings: split by pages needs a page count (pages: N)");
		goto fail;
	}
	if (s->split == SPLIT_KEY && (s->key_regex == NULL || *s->key_regex == '\0')) {
		err_set(e, "settings: split by key needs a pattern (key pattern: REGEX)");
		goto fail;
	}
	return 0;
fail:
	settings_free(s);
	return -1;
}

void settings_free(struct batch_settings *s)
{
	free(s->title);
	free(s->key_regex);
	free(s->key_column);
	free(s->name_column);
	free(s->email_column);
	free(s->message_column);
	free(s->attachment_column);
	free(s->auth_column);
	free(s->auth);
	free(s->reminders);
	free(s->deadline);
	free(s->expiry);
	free(s->kyouji);
	free(s->notice_type);
	free(s->message);
	memset(s, 0, sizeof(*s));
}

const char *settings_split_name(enum batch_split s)
{
	static const char *const names[] = { "infer", "pages", "key", "auto", "per-file", "common" };
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "?";
}
