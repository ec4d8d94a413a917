/*
 * mime_header.c — the sender, Message-ID, Subject and Authentication-Results
 * of a parsed e-mail, decoded and made safe (see mime_header.h).  Every
 * value read is capped before it is decoded.  Runs in the gateway, the mailer (bounces) and in
 * `tayori submit`.
 */
#include "lib/mime_header.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mime_charset.h"
#include "lib/mime_clean.h"
#include "lib/buf.h"
#include "lib/text.h"
#include "lib/util.h"

#define AUTH_RESULTS_MAX 65536   /* bytes of Authentication-Results kept */
#define AUTH_RESULTS_COUNT 64    /* headers of it kept */
#define SUBJECT_MAX 2000         /* bytes of decoded subject kept */
#define SUBJECT_RAW_MAX 16384    /* bytes of raw Subject header decoded */
#define WORD_MAX 4096            /* longest encoded word read (RFC 2047 says 75) */
#define ID_MAX 995               /* RFC 5322 line length minus "Message-ID: <>" */

/* A header's raw value unfolded (RFC 5322 2.2.3), or NULL. */
static char *raw_header(GMimeMessage *m, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, name) : NULL;
	const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
	char *r, *w;
	if (v == NULL)
		return NULL;
	r = w = xstrdup(v);
	for (const char *p = v; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			*w++ = *p == '\t' ? ' ' : *p;
	*w = '\0';
	g_strstrip(r);
	return r;
}

/* One RFC 2047 encoded word at p; fills charset, the decoded bytes and
 * the end.  0 when p does not start a well-formed one. */
static int encoded_word(const char *p, char *charset, size_t cssize, struct buf *bytes,
			const char **end)
{
	const char *q, *t, *e;
	char enc;
	if (p[0] != '=' || p[1] != '?')
		return 0;
	/* bounded searches: a header full of "=?" must not cost n^2 */
	q = memchr(p + 2, '?', strnlen(p + 2, cssize));
	if (q == NULL || q == p + 2)
		return 0;
	enc = q[1];
	if ((enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') || q[2] != '?')
		return 0;
	t = q + 3;
	e = g_strstr_len(t, (gssize)strnlen(t, WORD_MAX), "?=");
	if (e == NULL)
		return 0;
	for (const char *s = t; s < e; s++)
		if (*s == ' ')
			return 0;
	memcpy(charset, p + 2, (size_t)(q - (p + 2)));
	charset[q - (p + 2)] = '\0';
	charset[strcspn(charset, "*")] = '\0'; /* RFC 2231 language suffix */
	if (enc == 'B' || enc == 'b') {
		gint state = 0;
		guint save = 0;
		size_t n = (size_t)(e - t);
		guchar *o = g_malloc(n / 4 * 3 + 4);
		gsize got = g_base64_decode_step(t, n, o, &state, &save);
		(void)buf_append(bytes, o, got);
		g_free(o);
	} else {
		for (const char *s = t; s < e; s++) {
			if (*s == '_') {
				(void)buf_append_u8(bytes, ' ');
			} else if (*s == '=' && s + 2 < e && g_ascii_isxdigit(s[1]) &&
				   g_ascii_isxdigit(s[2])) {
				(void)buf_append_u8(bytes, (uint8_t)(g_ascii_xdigit_value(s[1]) * 16 +
								     g_ascii_xdigit_value(s[2])));
				s += 2;
			} else {
				(void)buf_append_u8(bytes, (uint8_t)*s);
			}
		}
	}
	*end = e + 2;
	return 1;
}

static void flush_bytes(const char *charset, struct buf *b, GString *out)
{
	if (b->len > 0) {
		char *t = mime_charset_to_utf8(charset, b->data, b->len);
		g_string_append(out, t);
		free(t);
	}
	buf_reset(b);
}

char *mime_header_decode(const char *v, char *problem, size_t psize)
{
	GString *out = g_string_new(NULL);
	struct buf word, raw;
	char cs[64] = "", wcs[64];
	const char *p = v, *ws = NULL;
	int prev_word = 0;
	char *r;

	buf_init(&word, strlen(v) + 16);
	buf_init(&raw, strlen(v) + 16);
	while (*p != '\0') {
		const char *e;
		struct buf tmp;
		buf_init(&tmp, strlen(p) + 16);
		if (p[0] == '=' && p[1] == '?' && encoded_word(p, wcs, sizeof(wcs), &tmp, &e)) {
			flush_bytes(NULL, &raw, out);
			if (!prev_word && ws != NULL)
				g_string_append_len(out, ws, p - ws);
			if (g_ascii_strcasecmp(wcs, cs) != 0)
				flush_bytes(cs, &word, out);
			str_copy(cs, wcs, sizeof(cs));
			(void)buf_append(&word, tmp.data ? tmp.data : (const uint8_t *)"", tmp.len);
			buf_free(&tmp);
			prev_word = 1;
			ws = NULL;
			p = e;
			continue;
		}
		buf_free(&tmp);
		if (*p == ' ') {
			if (ws == NULL)
				ws = p;
			p++;
			continue;
		}
		flush_bytes(cs, &word, out);
		if (ws != NULL)
			(void)buf_append(&raw, ws, (size_t)(p - ws));
		ws = NULL;
		prev_word = 0;
		(void)buf_append_u8(&raw, (uint8_t)*p++);
	}
	flush_bytes(cs, &word, out);
	flush_bytes(NULL, &raw, out);
	buf_free(&word);
	buf_free(&raw);
	{
		/* Said before cleaning: a title is refused, never cleaned quietly. */
		struct text_problem tp;
		if (problem != NULL && text_check(out->str, TEXT_LINE, TEXT_TITLE_MAX, &tp) < 0)
			str_copy(problem, tp.what, psize);
	}
	r = mime_clean_text(xstrdup(out->str), MIME_CLEAN_LINE);
	g_string_free(out, TRUE);
	g_strstrip(r);
	mime_clean_cut(r, SUBJECT_MAX);
	return r;
}

static int printable_ascii_or_utf8(const char *s)
{
	if (!g_utf8_validate(s, -1, NULL))
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7F)
			return 0;
	return 1;
}

char *mime_header_from(GMimeMessage *m)
{
	InternetAddressList *l = g_mime_message_get_from(m);
	InternetAddress *only = NULL;
	int count = 0;
	const char *addr;

	if (l == NULL)
		return NULL;
	for (int i = 0; i < internet_address_list_length(l); i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
			only = a;
			count++;
		} else if (INTERNET_ADDRESS_IS_GROUP(a)) {
			InternetAddressList *g = internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(a));
			for (int j = 0; g != NULL && j < internet_address_list_length(g); j++) {
				InternetAddress *b = internet_address_list_get_address(g, j);
				if (INTERNET_ADDRESS_IS_MAILBOX(b)) {
					only = b;
					count++;
				}
			}
		}
	}
	if (count != 1)
		return NULL; /* who sent it is ambiguous: no submitter */
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(only));
	if (addr == NULL || strlen(addr) > 320 || strchr(addr, '@') == NULL ||
	    !printable_ascii_or_utf8(addr))
		return NULL;
	{
		gchar *low = g_utf8_strdown(addr, -1);
		char *r = xstrdup(low);
		g_free(low);
		return r;
	}
}

char *mime_header_auth_results(GMimeMessage *m)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GString *g = g_string_new(NULL);
	int kept = 0;
	char *r = NULL;

	for (int i = 0; hl != NULL && i < g_mime_header_list_get_count(hl) && kept < AUTH_RESULTS_COUNT; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = g_mime_header_get_raw_value(h);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Authentication-Results") != 0 || v == NULL)
			continue;
		char *u = xstrdup(v), *w = u;
		for (const char *p = v; *p != '\0'; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '\r' || c == '\n')
				continue;
			*w++ = c == '\t' ? ' ' : (c < 0x20 || c == 0x7F) ? '?' : (char)c;
		}
		*w = '\0';
		g_strstrip(u);
		if (g_utf8_validate(u, -1, NULL) && g->len + strlen(u) + 1 <= AUTH_RESULTS_MAX) {
			if (g->len > 0)
				g_string_append_c(g, '\n');
			g_string_append(g, u);
			kept++;
		}
		free(u);
	}
	if (kept > 0)
		r = xstrdup(g->str);
	g_string_free(g, TRUE);
	return r;
}

char *mime_header_subject(GMimeMessage *m, char *problem, size_t psize)
{
	char *raw = raw_header(m, "Subject");
	char *s;
	if (raw == NULL)
		return xstrdup("");
	if (strlen(raw) > SUBJECT_RAW_MAX)
		str_fmt(problem, psize, "it is longer than %d bytes", SUBJECT_RAW_MAX);
	mime_clean_cut(raw, SUBJECT_RAW_MAX);
	s = mime_header_decode(raw, problem[0] ? NULL : problem, psize);
	free(raw);
	return s;
}

char *mime_header_message_id(GMimeMessage *m)
{
	const char *id = g_mime_message_get_message_id(m);
	if (id == NULL || id[0] == '\0' || strlen(id) > ID_MAX || !printable_ascii_or_utf8(id))
		return NULL;
	return xstrdup(id);
}
