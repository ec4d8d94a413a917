/*
 * message_header.c — header fields holding text (the Subject, the From
 * display name) as RFC 2047 encoded words, for the notification message.
 * Runs in the mailer.
 *
 * The value is cut at character boundaries into words of at most 75
 * octets ("=?UTF-8?B?...?=" or "=?ISO-2022-JP?B?...?=", each JIS word
 * ending in ASCII), folded with CRLF SP so that no line passes 76
 * octets.  A decoder drops the folding white space between two encoded
 * words, so the text comes back exactly.  B encoding is used throughout:
 * it carries any byte, and an encoded word in a phrase may use it freely.
 * Control characters (CR, LF, TAB and the rest) are written as spaces
 * before encoding, so nothing in a value can end the field.
 */
#include "mailer/message_int.h"

#include <glib.h>
#include <string.h>

#define LINE_MAX_ENC 76

/* The value with every control character as a space; the caller frees. */
static char *despace(const char *v)
{
	char *s = g_strdup(v);
	for (char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F)
			*p = ' ';
	return s;
}

/* Raw bytes of one word's text, in the chosen charset, into raw. */
static int word_bytes(const char *p, size_t n, int jis, struct buf *raw)
{
	buf_reset(raw);
	if (jis)
		return message_jis_encode(p, n, raw);
	return buf_append(raw, p, n);
}

static int put_word(struct buf *out, const struct buf *raw, int jis)
{
	gchar *b64 = g_base64_encode(raw->data, raw->len);
	int rc = buf_printf(out, "=?%s?B?%s?=", jis ? "ISO-2022-JP" : "UTF-8", b64);
	g_free(b64);
	return rc;
}

/*
 * The longest run of whole characters from p (at most end) whose word fits
 * in room octets; its end, or p when not even one character fits.
 */
static const char *fit(const char *p, const char *end, int room, int jis,
		       struct buf *raw)
{
	size_t over = jis ? 18 : 12; /* =?charset?B? and ?= */
	const char *best = p, *q = p;
	while (q < end) {
		q = g_utf8_next_char(q);
		if (word_bytes(p, (size_t)(q - p), jis, raw) < 0)
			break;
		if (over + 4 * ((raw->len + 2) / 3) > (size_t)room)
			break;
		best = q;
	}
	return best;
}

static int put_words(struct buf *out, const char *v, int pos, int jis)
{
	struct buf raw;
	const char *p = v, *end = v + strlen(v);
	int rc = -1;

	buf_init(&raw, 4096);
	while (p < end) {
		const char *q = fit(p, end, LINE_MAX_ENC - pos, jis, &raw);
		if (q == p) {
			if (pos <= 1)
				goto out; /* cannot happen: one character always fits */
			if (buf_append(out, "\r\n ", 3) < 0)
				goto out;
			pos = 1;
			continue;
		}
		if (word_bytes(p, (size_t)(q - p), jis, &raw) < 0)
			goto out;
		size_t before = out->len;
		if (put_word(out, &raw, jis) < 0)
			goto out;
		pos += (int)(out->len - before);
		p = q;
		if (p < end) {
			if (buf_append(out, "\r\n ", 3) < 0)
				goto out;
			pos = 1;
		}
	}
	rc = pos;
out:
	buf_free(&raw);
	return rc;
}

static int plain_ascii(const char *v, int phrase)
{
	if (*v == '\0' || strstr(v, "=?") != NULL)
		return 0;
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (phrase ? !(g_ascii_isalnum(c) || c == ' ') : (c < 0x20 || c > 0x7E))
			return 0;
	}
	return v[0] != ' ' && v[strlen(v) - 1] != ' ' && strstr(v, "  ") == NULL;
}

int message_header_text(struct buf *out, const char *name, const char *value,
			int jis)
{
	char *v = despace(value);
	int rc = -1;
	size_t start = strlen(name) + 2;

	if (buf_printf(out, "%s: ", name) < 0)
		goto out;
	if (plain_ascii(v, 0) && start + strlen(v) <= 78)
		rc = buf_append_str(out, v);
	else if (*v != '\0')
		rc = put_words(out, v, (int)start, jis) < 0 ? -1 : 0;
	else
		rc = 0;
	if (rc == 0)
		rc = buf_append(out, "\r\n", 2);
out:
	g_free(v);
	return rc;
}

int message_header_phrase(struct buf *out, const char *value, int pos, int jis)
{
	char *v = despace(value);
	int rc;

	if (plain_ascii(v, 1) && pos + strlen(v) <= 78)
		rc = buf_append_str(out, v) < 0 ? -1 : pos + (int)strlen(v);
	else
		rc = put_words(out, v, pos, jis);
	g_free(v);
	return rc;
}
