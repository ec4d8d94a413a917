/*
 * imap_url.c — an IMAP URL taken apart and mailbox names in modified UTF-7
 * (see imap_url.h).  Runs in the gateway and the mailer.
 */
#include "lib/imap_url.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* Decode UTF-8 at s (n bytes left); -1 when malformed. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	int len, i;

	if (n == 0)
		return -1;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		c = s[0] & 0x1f;
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		c = s[0] & 0x0f;
		len = 3;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		c = s[0] & 0x07;
		len = 4;
	} else {
		return -1;
	}
	if ((size_t)len > n)
		return -1;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return len;
}

/*
 * Modified UTF-7 (RFC 3501 5.1.3): printable ASCII stays, "&" becomes "&-",
 * anything else is UTF-16 in base64 with "," for "/" between "&" and "-".
 * Japanese folder names (処理済み) need this.
 */
int imap_url_mailbox(const char *utf8, char *out, size_t outsize)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	const unsigned char *s = (const unsigned char *)utf8;
	size_t n = strlen(utf8), o = 0;
	uint32_t bits = 0;
	int nbits = 0, in_b64 = 0;

	if (outsize == 0)
		return -1;
#define PUT(ch) do { if (o + 1 >= outsize) return -1; out[o++] = (char)(ch); } while (0)
	while (n > 0) {
		uint32_t cp;
		int k = utf8_next(s, n, &cp);
		if (k < 0)
			return -1;
		s += k;
		n -= (size_t)k;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (in_b64) {
				if (nbits > 0)
					PUT(b64[(bits << (6 - nbits)) & 0x3f]);
				PUT('-');
				in_b64 = 0;
				nbits = 0;
				bits = 0;
			}
			PUT(cp);
			if (cp == '&')
				PUT('-');
			continue;
		}
		if (!in_b64) {
			PUT('&');
			in_b64 = 1;
		}
		uint16_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = (uint16_t)(0xd800 | (cp >> 10));
			units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			nu = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int u = 0; u < nu; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				PUT(b64[(bits >> (nbits - 6)) & 0x3f]);
				nbits -= 6;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (in_b64) {
		if (nbits > 0)
			PUT(b64[(bits << (6 - nbits)) & 0x3f]);
		PUT('-');
	}
#undef PUT
	out[o] = '\0';
	return 0;
}

/* imap[s]://HOST[:PORT][/MAILBOX] (conf has checked the shape already). */
int imap_url_parse(const char *url, const char *setting, struct imap_url *u, struct error *e)
{
	const char *p, *end;
	char *path;
	size_t hl;

	memset(u, 0, sizeof(*u));

	if (strncasecmp(url, "imaps://", 8) == 0) {
		u->implicit_tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "imap://", 7) == 0) {
		p = url + 7;
	} else {
		return err_set(e, "%s must start with imap:// or imaps://", setting);
	}
	u->port = u->implicit_tls ? 993 : 143;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return err_set(e, "%s has an unclosed [", setting);
		hl = (size_t)(end - p - 1);
		if (hl == 0 || hl >= sizeof(u->host))
			return err_set(e, "%s has a bad host", setting);
		memcpy(u->host, p + 1, hl);
		u->host[hl] = '\0';
		p = end + 1;
	} else {
		hl = strcspn(p, ":/");
		if (hl == 0 || hl >= sizeof(u->host))
			return err_set(e, "%s has a bad host", setting);
		memcpy(u->host, p, hl);
		u->host[hl] = '\0';
		p += hl;
	}
	if (*p == ':') {
		char portbuf[8];
		int64_t port;
		size_t pl = strcspn(p + 1, "/");
		if (pl == 0 || pl >= sizeof(portbuf))
			return err_set(e, "%s has a bad port", setting);
		memcpy(portbuf, p + 1, pl);
		portbuf[pl] = '\0';
		if (parse_int64(portbuf, 1, 65535, &port) < 0)
			return err_set(e, "%s has a bad port", setting);
		u->port = (uint16_t)port;
		p += 1 + pl;
	}
	path = u->path;
	path[0] = '\0';
	if (*p == '/') {
		size_t o = 0;
		for (p++; *p != '\0'; p++) {
			int ch = (unsigned char)*p;
			if (ch == '%') {
				int h = hex_value(p[1]), l = h < 0 ? -1 : hex_value(p[2]);
				if (l < 0)
					return err_set(e, "%s has a bad %%-escape", setting);
				ch = h * 16 + l;
				p += 2;
			}
			if (ch < 0x20 || ch == 0x7f || o + 1 >= sizeof(u->path))
				return err_set(e, "%s has a bad mailbox", setting);
			path[o++] = (char)ch;
		}
		path[o] = '\0';
	} else if (*p != '\0') {
		return err_set(e, "%s has trailing characters", setting);
	}

	unsigned char a[16];
	if (inet_pton(AF_INET, u->host, a) == 1) {
		u->host_is_ip = 1;
		u->loopback = a[0] == 127;
	} else if (inet_pton(AF_INET6, u->host, a) == 1) {
		static const unsigned char one[16] = { [15] = 1 };
		u->host_is_ip = 1;
		u->loopback = memcmp(a, one, 16) == 0;
	} else {
		u->loopback = strcasecmp(u->host, "localhost") == 0;
	}
	return 0;
}
