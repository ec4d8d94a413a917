/*
 * conf_value.c — the value types of tayori.conf: their checks and parsers.
 * The check behind each schema type (text, numbers, durations, sizes,
 * HOST:PORT, URLs, mail addresses, names) and the parsers other modules
 * reuse.
 * Runs in every process (linked wherever conf.c is).
 * Standards: UTF-8 (RFC 3629); URLs after RFC 3986 (scheme, authority);
 * mail addresses after the RFC 5321 Mailbox syntax (ASCII only, lib/email).
 */
#include "conf/conf_int.h"
#include "lib/email.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * Index of the first byte that is not part of valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or n.
 */
size_t conf_utf8_bad(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4;
		else
			return i;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += len;
	}
	return n;
}

/* Copy s for an error message: at most ~60 bytes, cut on a UTF-8 boundary. */
const char *conf_clip(const char *s, char *out, size_t outsize)
{
	size_t len = strlen(s), keep = outsize - 4;
	if (len < outsize) {
		memcpy(out, s, len + 1);
		return out;
	}
	while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
		keep--;
	memcpy(out, s, keep);
	memcpy(out + keep, "...", 4);
	return out;
}

/* Is v one of the comma-separated choices?  Its index, or -1. */
static int choice_index(const char *choices, const char *v, size_t vlen)
{
	const char *p = choices;
	int idx = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == vlen && memcmp(p, v, n) == 0)
			return idx;
		p += n;
		if (*p == ',')
			p++;
		idx++;
	}
	return -1;
}

/* "a, b or c" from "a,b,c", with each item wrapped in pre/post. */
void conf_choices_text(const char *choices, const char *pre, const char *post, char *out,
		       size_t outsize)
{
	size_t used = 0, count = 1;
	const char *p = choices;
	for (const char *q = choices; *q; q++)
		count += *q == ',';
	out[0] = '\0';
	for (size_t i = 0; *p; i++) {
		size_t n = strcspn(p, ",");
		const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
		int w = snprintf(out + used, outsize - used, "%s%s%.*s%s", sep, pre, (int)n, p, post);
		if (w < 0 || (size_t)w >= outsize - used)
			return;
		used += (size_t)w;
		p += n;
		if (*p == ',')
			p++;
	}
}

void conf_fmt_duration(int64_t s, char *out, size_t outsize)
{
	if (s != 0 && s % DAY == 0)
		snprintf(out, outsize, "%lldd", (long long)(s / DAY));
	else if (s != 0 && s % HOUR == 0)
		snprintf(out, outsize, "%lldh", (long long)(s / HOUR));
	else if (s != 0 && s % MINUTE == 0)
		snprintf(out, outsize, "%lldm", (long long)(s / MINUTE));
	else
		snprintf(out, outsize, "%llds", (long long)s);
}

void conf_fmt_size(int64_t b, char *out, size_t outsize)
{
	if (b != 0 && b % GIB == 0)
		snprintf(out, outsize, "%lldG", (long long)(b / GIB));
	else if (b != 0 && b % MIB == 0)
		snprintf(out, outsize, "%lldM", (long long)(b / MIB));
	else if (b != 0 && b % KIB == 0)
		snprintf(out, outsize, "%lldK", (long long)(b / KIB));
	else
		snprintf(out, outsize, "%lld", (long long)b);
}

/* Digits then at most one unit character. */
static int number_unit(const char *s, int64_t *n, char *unit)
{
	char digits[20];
	size_t i = 0;
	while (is_digit(s[i]))
		i++;
	if (i == 0 || i >= sizeof(digits))
		return -1;
	memcpy(digits, s, i);
	digits[i] = '\0';
	if (parse_int64(digits, 0, INT64_MAX, n) < 0)
		return -1;
	*unit = s[i];
	if (s[i] != '\0' && s[i + 1] != '\0')
		return -1;
	return 0;
}

int conf_duration_parse(const char *s, int64_t *seconds)
{
	int64_t n, mult;
	char unit;
	if (number_unit(s, &n, &unit) < 0)
		return -1;
	switch (unit) {
	case 's': mult = 1; break;
	case 'm': mult = MINUTE; break;
	case 'h': mult = HOUR; break;
	case 'd': mult = DAY; break;
	default: return -1; /* a bare number is ambiguous: seconds or minutes? */
	}
	if (n > INT64_MAX / mult)
		return -1;
	*seconds = n * mult;
	return 0;
}

int conf_size_parse(const char *s, int64_t *bytes)
{
	int64_t n, mult;
	char unit;
	if (number_unit(s, &n, &unit) < 0)
		return -1;
	switch (unit) {
	case '\0': mult = 1; break;
	case 'K': case 'k': mult = KIB; break;
	case 'M': case 'm': mult = MIB; break;
	case 'G': case 'g': mult = GIB; break;
	default: return -1;
	}
	if (n > INT64_MAX / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

int conf_bool_parse(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* A DNS name or IPv4 literal: letters, digits, '-' and '.', no empty label. */
static int hostname_ok(const char *h, size_t n)
{
	size_t label = 0;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum(ch) && ch != '-' && ch != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1; /* a trailing dot ("example.org.") is fine */
}

/*
 * HOST[:PORT] or [IPv6][:PORT] in s[0..n).  need_port: the port must be
 * there.  *port is 0 when absent.
 */
static int host_port(const char *s, size_t n, char *host, size_t hostsize, int *port, int need_port)
{
	char tmp[256];
	const char *rest;
	size_t hlen;
	int64_t pv = 0;

	if (n >= sizeof(tmp))
		return -1;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		unsigned char addr[16];
		if (close == NULL)
			return -1;
		hlen = (size_t)(close - s - 1);
		memcpy(tmp, s + 1, hlen);
		tmp[hlen] = '\0';
		if (hlen == 0 || inet_pton(AF_INET6, tmp, addr) != 1)
			return -1;
		rest = close + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		hlen = colon ? (size_t)(colon - s) : n;
		if (!hostname_ok(s, hlen))
			return -1;
		memcpy(tmp, s, hlen);
		tmp[hlen] = '\0';
		rest = s + hlen;
	}
	if (rest == s + n) {
		if (need_port)
			return -1;
	} else {
		char digits[8];
		size_t dl = (size_t)(s + n - rest) - 1;
		if (*rest != ':' || dl == 0 || dl > 5)
			return -1;
		memcpy(digits, rest + 1, dl);
		digits[dl] = '\0';
		for (size_t i = 0; i < dl; i++)
			if (!is_digit(digits[i]))
				return -1;
		if (parse_int64(digits, 1, 65535, &pv) < 0)
			return -1;
	}
	if (host != NULL && str_copy(host, tmp, hostsize) >= hostsize)
		return -1;
	if (port != NULL)
		*port = (int)pv;
	return 0;
}

int conf_listen_split(const char *v, char *host, size_t hostsize, int *port)
{
	return host_port(v, strlen(v), host, hostsize, port, 1);
}

/* int, bool, duration and size: the number into *num, in the setting's range. */
static int check_number(const struct conf_setting *s, const char *v, int64_t *num, char *why,
			size_t whysize)
{
	char a[64], b[64];
	int bv;

	switch (s->type) {
	case CONF_INT:
		if (parse_int64(v, s->min, s->max, num) < 0) {
			snprintf(why, whysize, "must be a whole number from %lld to %lld",
				 (long long)s->min, (long long)s->max);
			return -1;
		}
		return 0;
	case CONF_BOOL:
		if (conf_bool_parse(v, &bv) < 0) {
			snprintf(why, whysize, "must be yes or no (or true/false, on/off)");
			return -1;
		}
		*num = bv;
		return 0;
	case CONF_DURATION:
		conf_fmt_duration(s->min, a, sizeof(a));
		conf_fmt_duration(s->max, b, sizeof(b));
		if (conf_duration_parse(v, num) < 0) {
			snprintf(why, whysize,
				 "must be a duration: a number and s, m, h or d, such as 30s, 5m, 2h or 7d");
			return -1;
		}
		break;
	default: /* CONF_SIZE */
		conf_fmt_size(s->min, a, sizeof(a));
		conf_fmt_size(s->max, b, sizeof(b));
		if (conf_size_parse(v, num) < 0) {
			snprintf(why, whysize,
				 "must be a size: bytes, or a number and K, M or G, such as 512K or 10M");
			return -1;
		}
		break;
	}
	if (*num < s->min || *num > s->max) {
		snprintf(why, whysize, "must be from %s to %s", a, b);
		return -1;
	}
	return 0;
}

/* SCHEME://HOST[:PORT][/...] with a scheme from s->choices, no user@. */
static int check_url(const struct conf_setting *s, const char *v, char *why, size_t whysize)
{
	const char *p = s->choices, *auth = NULL;
	char list[160];
	size_t alen;

	while (*p) {
		size_t n = strcspn(p, ",");
		if (strncmp(v, p, n) == 0 && strncmp(v + n, "://", 3) == 0) {
			auth = v + n + 3;
			break;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (auth == NULL) {
		conf_choices_text(s->choices, "", "://", list, sizeof(list));
		snprintf(why, whysize, "must be a URL starting with %s", list);
		return -1;
	}
	for (const char *q = v; *q; q++) {
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
			snprintf(why, whysize,
				 "must not contain spaces or non-ASCII characters (percent-encode them)");
			return -1;
		}
	}
	alen = strcspn(auth, "/?#");
	if (memchr(auth, '@', alen) != NULL) {
		/* Credentials in a world-readable file are a leak waiting to happen. */
		snprintf(why, whysize,
			 "must not contain a user name or password (use the *_env settings)");
		return -1;
	}
	if (host_port(auth, alen, NULL, 0, NULL, 0) < 0) {
		snprintf(why, whysize, "must have a host name and optional :PORT after ://");
		return -1;
	}
	return 0;
}

/* An identifier ([a-z0-9][a-z0-9_-]*) or an environment variable's name. */
static int check_name(const struct conf_setting *s, const char *v, char *why, size_t whysize)
{
	size_t len = strlen(v);

	if (s->type == CONF_ENVNAME) {
		for (size_t i = 0; i < len; i++) {
			char ch = v[i];
			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
			      (i > 0 && is_digit(ch)))) {
				snprintf(why, whysize,
					 "must be the name of an environment variable (A-Z, 0-9, _), not a secret");
				return -1;
			}
		}
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = v[i];
		if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) ||
		      (i > 0 && (ch == '-' || ch == '_')))) {
			snprintf(why, whysize,
				 "must use only a-z, 0-9, '-' and '_', starting with a letter or digit");
			return -1;
		}
	}
	if (s->max > 0 && (int64_t)len > s->max) {
		snprintf(why, whysize, "must be at most %lld characters long", (long long)s->max);
		return -1;
	}
	return 0;
}

int conf_check_value(const struct conf_setting *s, const char *v, int64_t *num, char *why,
		     size_t whysize)
{
	char list[160];
	size_t len = strlen(v);

	*num = 0;
	if (len == 0) {
		if (s->flags & CONF_OPTIONAL)
			return 0;
		snprintf(why, whysize, "must not be empty");
		return -1;
	}
	switch (s->type) {
	case CONF_STRING:
		if (s->max > 0 && (int64_t)len > s->max) {
			snprintf(why, whysize, "must be at most %lld bytes long", (long long)s->max);
			return -1;
		}
		return 0;
	case CONF_INT:
	case CONF_BOOL:
	case CONF_DURATION:
	case CONF_SIZE:
		return check_number(s, v, num, why, whysize);
	case CONF_LISTEN:
		if (conf_listen_split(v, NULL, 0, NULL) < 0) {
			snprintf(why, whysize,
				 "must be HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080");
			return -1;
		}
		return 0;
	case CONF_URL:
		return check_url(s, v, why, whysize);
	case CONF_ENUM: {
		int idx = choice_index(s->choices, v, len);
		if (idx < 0) {
			conf_choices_text(s->choices, "", "", list, sizeof(list));
			snprintf(why, whysize, "must be one of %s", list);
			return -1;
		}
		*num = idx;
		return 0;
	}
	case CONF_PATH:
		return 0; /* control characters are refused for every value already */
	case CONF_EMAIL:
		if (!email_valid(v)) {
			snprintf(why, whysize, "must be a mail address such as tayori@example.jp");
			return -1;
		}
		return 0;
	case CONF_IDENT:
	case CONF_ENVNAME:
		return check_name(s, v, why, whysize);
	}
	snprintf(why, whysize, "has an unknown type");
	return -1;
}
