/*
 * bounce_text.c — the text helpers of the bounce classifier: charsets into
 * UTF-8 (lib/mime_charset.h, as the intake reads them),
 * HTML into text, cleaned one-line values, RFC 3463 status codes and SMTP
 * reply codes found in free text, the phrases that imply a status, the
 * kind of a failure, addresses in free text, header-like field blocks
 * (RFC 3464 and RFC 5965 reports), and the VERP return path.  Runs where
 * bounce.c runs (the mailer and the command line).  Plain string scanning
 * only: every loop moves forward and is bounded by its input.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mime_charset.h"
#include "lib/mime_html.h"
#include "lib/text.h"
#include "mailer/bounce_int.h"

/* ------------------------------------------------------------ charsets */

void bounce_append_max(struct buf *out, const void *d, size_t n)
{
	size_t room = out->max > out->len ? out->max - out->len : 0;
	(void)buf_append(out, d, n < room ? n : room);
}

/* The charset reading the intake uses (lib/mime_charset.h: CP932 for
 * Shift_JIS, the NEC and IBM extensions in ISO-2022-JP, a guess when the
 * charset is missing or wrong), capped to what out may still hold. */
void bounce_to_utf8(const char *charset, const uint8_t *d, size_t len, struct buf *out)
{
	char *u;

	if (len == 0)
		return;
	u = mime_charset_to_utf8(charset, d, len);
	bounce_append_max(out, u, strlen(u));
	free(u);
}

/* ---------------------------------------------------------------- HTML */

/* The intake's HTML reader (lib/mime_html.h: tags out, blocks as line
 * breaks, entities decoded, script and style dropped), capped to what out
 * may still hold. */
void bounce_html_text(const char *html, size_t len, struct buf *out)
{
	char *t = mime_html_to_text(html, len);

	if (t == NULL)
		return;
	bounce_append_max(out, t, strlen(t));
	free(t);
}

/* -------------------------------------------------------- clean values */

void bounce_clean(const char *in, size_t len, char *out, size_t outsize)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0;
	int space = 1; /* drops leading space */

	if (outsize == 0)
		return;
	while (i < len && s[i] != '\0') {
		uint32_t cp;
		size_t n = text_utf8_decode(s + i, len - i, &cp);
		if (n == 0 || text_is_unsafe(cp) || cp == ' ' || cp == 0xFFFD || cp == 0x3000) {
			if (n == 0 || cp != 0xFFFD) {
				if (!space && o + 1 < outsize)
					out[o++] = ' ';
				space = 1;
			}
			i += n ? n : 1;
			continue;
		}
		if (o + n >= outsize)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
		space = 0;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* ----------------------------------------------------- codes and words */

static int digits(const char *s, size_t len, size_t i, size_t max)
{
	size_t k = 0;
	while (i + k < len && g_ascii_isdigit(s[i + k]))
		k++;
	return k >= 1 && k <= max ? (int)k : 0;
}

int bounce_status_find(const char *s, size_t len, char out[BOUNCE_STATUS_MAX + 1])
{
	for (size_t i = 0; i + 4 < len; i++) {
		int a, b;
		if ((s[i] != '4' && s[i] != '5') || s[i + 1] != '.')
			continue;
		if (i > 0 && (g_ascii_isalnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-'))
			continue;
		a = digits(s, len, i + 2, 3);
		if (a == 0 || i + 2 + (size_t)a >= len || s[i + 2 + a] != '.')
			continue;
		b = digits(s, len, i + 3 + (size_t)a, 3);
		if (b == 0)
			continue;
		{
			size_t end = i + 3 + (size_t)a + (size_t)b;
			if (end < len && (g_ascii_isalnum(s[end]) || (s[end] == '.' && end + 1 < len &&
								     g_ascii_isdigit(s[end + 1]))))
				continue;
			memcpy(out, s + i, end - i);
			out[end - i] = '\0';
			return 1;
		}
	}
	return 0;
}

int bounce_reply_find(const char *s, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++) {
		if (s[i] < '2' || s[i] > '5' || !g_ascii_isdigit(s[i + 1]) || !g_ascii_isdigit(s[i + 2]))
			continue;
		if (i > 0 && (g_ascii_isalnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '#' ||
			      s[i - 1] == '[' || s[i - 1] == ':'))
			continue;
		if (i + 3 < len && s[i + 3] != ' ' && s[i + 3] != '-' && s[i + 3] != '\'' &&
		    s[i + 3] != '\n' && s[i + 3] != ':')
			continue;
		return (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
	}
	return 0;
}

static const struct { const char *phrase; const char *status; } phrases[] = {
	{ "mailbox full", "5.2.2" }, { "mailbox is full", "5.2.2" }, { "over quota", "5.2.2" },
	{ "quota exceeded", "5.2.2" }, { "exceeded storage", "5.2.2" }, { "insufficient storage", "5.2.2" },
	{ "temporarily over quota", "4.2.2" },
	{ "容量", "5.2.2" }, { "満杯", "5.2.2" }, { "いっぱい", "5.2.2" },
	{ "user unknown", "5.1.1" }, { "unknown user", "5.1.1" }, { "no such user", "5.1.1" },
	{ "does not exist", "5.1.1" }, { "doesn't exist", "5.1.1" }, { "recipientnotfound", "5.1.1" },
	{ "recipient not found", "5.1.1" }, { "address rejected", "5.1.1" }, { "no mailbox", "5.1.1" },
	{ "mailbox unavailable", "5.1.1" }, { "invalid recipient", "5.1.1" },
	{ "unknown recipient", "5.1.1" }, { "not a valid mailbox", "5.1.1" },
	{ "doesn't have a", "5.1.1" }, { "address couldn't be found", "5.1.1" },
	{ "unrouteable address", "5.1.1" }, { "no such recipient", "5.1.1" },
	{ "account is disabled", "5.2.1" }, { "account has been disabled", "5.2.1" },
	{ "host not found", "5.1.2" }, { "domain not found", "5.1.2" }, { "no mx", "5.1.2" },
	{ "name or service not known", "5.1.2" },
	{ "存在しません", "5.1.1" }, { "見つかりません", "5.1.1" }, { "宛先不明", "5.1.1" },
	{ "宛先が無効", "5.1.1" }, { "アドレスが無効", "5.1.1" },
	{ "受信拒否", "5.7.1" }, { "受信を拒否", "5.7.1" }, { "迷惑メール", "5.7.1" },
	{ "spam", "5.7.1" }, { "blocked", "5.7.1" },
};

const char *bounce_phrase_status(const char *lower, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(phrases); i++)
		if (bounce_find(lower, len, phrases[i].phrase) != NULL)
			return phrases[i].status;
	return NULL;
}

int bounce_rate_words(const char *lower, size_t len)
{
	static const char *const words[] = {
		"rate limit", "ratelimit", "rate-limit", "rate limited", "too many", "too quickly",
		"too fast", "unusual rate", "throttl", "temporarily deferred", "tss04",
		"exceeded the rate", "receiving mail at a rate", "try again later", "server busy",
		"送信数", "流量", "一時的に制限",
	};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (bounce_find(lower, len, words[i]) != NULL)
			return 1;
	return 0;
}

enum bounce_kind bounce_kind_for(const char *status, int reply, int delayed, const char *diag)
{
	static const char *const rate_codes[] = { "4.7.28", "4.2.1", "4.7.650", "4.7.651", "4.7.500" };
	int cls = status[0] ? status[0] - '0' : reply / 100;
	char *lower;
	int words;

	if (cls == 5 && !delayed)
		return strcmp(status, "5.2.2") == 0 ? BOUNCE_SOFT : BOUNCE_HARD;
	for (size_t i = 0; i < ARRAY_SIZE(rate_codes); i++)
		if (strcmp(status, rate_codes[i]) == 0)
			return BOUNCE_RATE;
	lower = bounce_lower(diag, strlen(diag));
	words = bounce_rate_words(lower, strlen(lower));
	free(lower);
	if (words && (cls == 4 || reply == 421 || delayed))
		return BOUNCE_RATE;
	return BOUNCE_SOFT;
}

/* ----------------------------------------------------------- addresses */

static int local_char(unsigned char c)
{
	return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

static int domain_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.';
}

int bounce_addr_next(const char *s, size_t len, size_t *pos, char out[EMAIL_MAX + 1], size_t *start)
{
	size_t i = *pos;
	while (i < len) {
		const char *at = memchr(s + i, '@', len - i);
		size_t a, b, l, r;
		if (at == NULL)
			break;
		a = (size_t)(at - s);
		l = a;
		while (l > 0 && a - l < EMAIL_LOCAL_MAX + 1 && local_char((unsigned char)s[l - 1]))
			l--;
		while (l < a && (s[l] == '.' || s[l] == '\'' || s[l] == '/' || s[l] == '='))
			l++; /* "mailto:", quotes and =3D leftovers are not part of it */
		r = a + 1;
		while (r < len && r - a <= EMAIL_DOMAIN_MAX && domain_char((unsigned char)s[r]))
			r++;
		while (r > a + 1 && (s[r - 1] == '.' || s[r - 1] == '-'))
			r--;
		b = r - l;
		i = a + 1;
		if (l < a && r > a + 1 && b <= EMAIL_MAX) {
			memcpy(out, s + l, b);
			out[b] = '\0';
			for (size_t k = a - l + 1; k < b; k++)
				out[k] = g_ascii_tolower(out[k]);
			if (email_valid(out)) {
				*start = l;
				*pos = r;
				return 1;
			}
		}
	}
	*pos = len;
	out[0] = '\0';
	return 0;
}

/* ------------------------------------------------------- field blocks */

static size_t line_end(const char *s, size_t len, size_t i)
{
	const char *nl = memchr(s + i, '\n', len - i);
	return nl ? (size_t)(nl - s) : len;
}

int bounce_field_raw(const char *block, size_t len, const char *name, struct buf *out)
{
	size_t nlen = strlen(name), i = 0;
	while (i < len) {
		size_t e = line_end(block, len, i);
		if (e - i > nlen && g_ascii_strncasecmp(block + i, name, nlen) == 0) {
			size_t k = i + nlen;
			while (k < e && (block[k] == ' ' || block[k] == '\t'))
				k++;
			if (k < e && block[k] == ':') {
				size_t vs = k + 1;
				for (;;) { /* folded lines join the value */
					size_t ve = e > vs && block[e - 1] == '\r' ? e - 1 : e;
					(void)buf_append(out, block + vs, ve - vs);
					if (e + 1 >= len || (block[e + 1] != ' ' && block[e + 1] != '\t'))
						break;
					vs = e + 1;
					e = line_end(block, len, vs);
				}
				return 1;
			}
		}
		i = e + 1;
	}
	return 0;
}

int bounce_field(const char *block, size_t len, const char *name, char *out, size_t outsize)
{
	struct buf b;
	int found;

	buf_init(&b, BOUNCE_TEXT_MAX);
	found = bounce_field_raw(block, len, name, &b);
	bounce_clean(b.data ? (const char *)b.data : "", b.len, out, outsize);
	buf_free(&b);
	return found;
}

static int blank_line(const char *s, size_t b, size_t e)
{
	for (size_t k = b; k < e; k++)
		if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r')
			return 0;
	return 1;
}

int bounce_block_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *blen)
{
	size_t i = *pos;
	while (i < len) {
		size_t e = line_end(s, len, i);
		if (!blank_line(s, i, e))
			break;
		i = e + 1;
	}
	if (i >= len) {
		*pos = len;
		return 0;
	}
	*start = i;
	while (i < len) {
		size_t e = line_end(s, len, i);
		if (blank_line(s, i, e))
			break;
		i = e + 1;
	}
	*blen = (i > len ? len : i) - *start;
	*pos = i;
	return 1;
}

/* ---------------------------------------------------------- searching */

char *bounce_lower(const char *s, size_t n)
{
	char *l = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		l[i] = g_ascii_tolower(s[i]);
	l[n] = '\0';
	return l;
}

const char *bounce_find(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	if (m == 0 || m > n)
		return NULL;
	char c0 = g_ascii_tolower(needle[0]);
	for (size_t i = 0; i + m <= n; i++)
		if (g_ascii_tolower(hay[i]) == c0 && g_ascii_strncasecmp(hay + i, needle, m) == 0)
			return hay + i;
	return NULL;
}

/* --------------------------------------------------------------- VERP */

static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d;
		if (!g_ascii_isdigit(s[i]))
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int bounce_verp_parse(const char *addr, struct bounce_verp *v)
{
	size_t plen = strlen(BOUNCE_VERP_PREFIX);
	const char *at, *p, *d1, *d2;
	uint64_t batch, seq;
	size_t maclen;

	memset(v, 0, sizeof(*v));
	if (addr == NULL || g_ascii_strncasecmp(addr, BOUNCE_VERP_PREFIX, plen) != 0)
		return 0;
	v->present = 1;
	bounce_clean(addr, strlen(addr), v->addr, sizeof(v->addr));
	at = strchr(addr, '@');
	if (at == NULL || !email_valid(addr))
		return 0;
	p = addr + plen;
	d1 = memchr(p, '-', (size_t)(at - p));
	d2 = d1 ? memchr(d1 + 1, '-', (size_t)(at - d1 - 1)) : NULL;
	if (d1 == NULL || d2 == NULL)
		return 0;
	maclen = (size_t)(at - d2 - 1);
	if (parse_dec(p, (size_t)(d1 - p), UINT64_MAX, &batch) < 0 ||
	    parse_dec(d1 + 1, (size_t)(d2 - d1 - 1), 0x7fffffffu, &seq) < 0 ||
	    maclen < BOUNCE_MAC_MIN || maclen > BOUNCE_MAC_MAX)
		return 0;
	for (size_t i = 0; i < maclen; i++)
		if (!g_ascii_isalnum(d2[1 + i]))
			return 0;
	for (size_t i = 0; i < maclen; i++)
		v->mac[i] = g_ascii_tolower(d2[1 + i]);
	v->mac[maclen] = '\0';
	v->batch = batch;
	v->seq = (uint32_t)seq;
	v->valid = 1;
	return 1;
}
