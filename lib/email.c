/*
 * email.c — the one e-mail address check (see email.h for the rule).
 * Runs in every process that reads an address: the command line, the
 * gateway (recipients CSV) and the portal (staff accounts).
 */
#include "lib/email.h"

#include <string.h>

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext: letters, digits and the specials below; never '.'. */
static int is_atext(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-atom of n octets at p. */
static int local_ok(const char *p, size_t n)
{
	if (n < 1 || n > EMAIL_LOCAL_MAX || p[0] == '.' || p[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.') {
			if (p[i + 1] == '.')
				return 0;
		} else if (!is_atext(c)) {
			return 0;
		}
	}
	return 1;
}

/* Two or more LDH labels, the last not all digits. */
static int domain_ok(const char *d, size_t n)
{
	size_t labels = 0, start = 0;
	int numeric = 1;

	if (n < 1 || n > EMAIL_DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)d[i] : '.';
		if (c == '.') {
			size_t len = i - start;
			if (len < 1 || len > EMAIL_LABEL_MAX || d[start] == '-' || d[i - 1] == '-')
				return 0;
			labels++;
			if (i < n) {
				start = i + 1;
				numeric = 1;
			}
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return 0;
		if (c < '0' || c > '9')
			numeric = 0;
	}
	return labels >= 2 && !numeric;
}

int email_valid(const char *addr)
{
	const char *at;
	size_t len;

	if (addr == NULL)
		return 0;
	len = strnlen(addr, EMAIL_MAX + 1);
	if (len > EMAIL_MAX)
		return 0;
	at = memchr(addr, '@', len);
	if (at == NULL)
		return 0;
	return local_ok(addr, (size_t)(at - addr)) &&
	       domain_ok(at + 1, len - (size_t)(at - addr) - 1);
}
