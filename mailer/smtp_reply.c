/*
 * smtp_reply.c — what the SMTP client decides from words alone: whether a
 * relay name is the loopback, whether TLS is needed, and what a reply
 * means (enhanced status, sanitised text, queue id, throttling).  No I/O.
 * Runs in the mailer process.  The throttling table is documented in
 * smtp.h.  Standards: RFC 5321 4.2 (replies), RFC 3463 (enhanced status).
 */
#include "mailer/smtp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool smtp_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (host == NULL)
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

int smtp_tls_decide(const char *host, bool tls_on_loopback, bool offers_starttls, struct error *e)
{
	bool loop = smtp_host_is_loopback(host);

	if (loop && !tls_on_loopback)
		return 0;
	if (!offers_starttls)
		return err_tmp(e, "SMTP relay %s does not offer STARTTLS; refusing to send in clear text",
			       host ? host : "?");
	return 1;
}

/* One row: a reply code (0: any 4xx), an enhanced status (NULL: any) and
 * a text fragment, matched without case (NULL: any). */
struct throttle_rule {
	int code;
	const char *status;
	const char *text;
};

static const struct throttle_rule throttle_rules[] = {
	{0, "4.7.28", NULL},   /* Gmail: rate limited */
	{450, "4.2.1", NULL},  /* Gmail: recipient receiving at too high a rate */
	{451, "4.7.651", NULL}, /* Outlook: rate / reputation */
	{451, "4.7.650", NULL}, /* Outlook: IP reputation */
	{421, "4.7.0", NULL},  /* connection-rate limits */
	{0, NULL, "too many"},
	{0, NULL, "rate limit"},
	{0, NULL, "throttl"},
	{0, NULL, "try again later"},
	{0, NULL, "temporarily deferred"}, /* Yahoo */
	{0, NULL, "TSS04"},                 /* Yahoo */
};

static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

bool smtp_reply_is_throttle(int code, const char *status, const char *text)
{
	if (code < 400 || code > 499)
		return false;
	for (size_t i = 0; i < sizeof throttle_rules / sizeof throttle_rules[0]; i++) {
		const struct throttle_rule *t = &throttle_rules[i];
		if (t->code != 0 && t->code != code)
			continue;
		if (t->status != NULL && (status == NULL || strcmp(t->status, status) != 0))
			continue;
		if (t->text != NULL && (text == NULL || !contains_nocase(text, t->text)))
			continue;
		return true;
	}
	return false;
}

/* Length of an enhanced status "c.sss.ddd" at p (class matching code's
 * first digit), or 0. */
static size_t status_len(const char *p, int code)
{
	size_t i = 0, n;

	if (p[0] != '0' + code / 100 || p[1] != '.')
		return 0;
	i = 2;
	for (n = 0; isdigit((unsigned char)p[i]) && n < 3; n++)
		i++;
	if (n == 0 || p[i] != '.')
		return 0;
	i++;
	for (n = 0; isdigit((unsigned char)p[i]) && n < 3; n++)
		i++;
	if (n == 0 || isdigit((unsigned char)p[i]))
		return 0;
	return (p[i] == '\0' || p[i] == ' ' || p[i] == '\n') ? i : 0;
}

/* Copy src into dst (size n) with control characters and non-ASCII
 * bytes replaced, runs of spaces folded, and trailing spaces removed. */
static void copy_clean(char *dst, size_t n, const char *src)
{
	size_t o = 0;
	for (; *src && o + 1 < n; src++) {
		unsigned char ch = (unsigned char)*src;
		char out = (ch < 0x20 || ch == 0x7f) ? ' ' : ch >= 0x80 ? '?' : (char)ch;
		if (out == ' ' && (o == 0 || dst[o - 1] == ' '))
			continue;
		dst[o++] = out;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* The queue id in a 250 reply: "queued as X" (Postfix, aiosmtpd
 * handlers), "id=X" (Exim). */
static void find_queue_id(char *dst, size_t n, const char *text)
{
	static const char *const marks[] = {"queued as ", "id="};
	dst[0] = '\0';
	for (size_t m = 0; m < 2; m++) {
		size_t ml = strlen(marks[m]);
		for (const char *p = text; *p; p++) {
			if (strncasecmp(p, marks[m], ml) != 0)
				continue;
			p += ml;
			size_t o = 0;
			while ((isalnum((unsigned char)p[o]) || p[o] == '.' || p[o] == '-' || p[o] == '_') &&
			       o + 1 < n) {
				dst[o] = p[o];
				o++;
			}
			dst[o] = '\0';
			if (o > 0)
				return;
			break;
		}
	}
}

void smtp_result_set_reply(struct smtp_result *r, int code, const char *reply)
{
	const char *p = reply ? reply : "";
	size_t sl;

	r->code = code;
	r->status[0] = '\0';
	while (*p == ' ')
		p++;
	sl = code >= 200 ? status_len(p, code) : 0;
	if (sl > 0 && sl < SMTP_STATUS_MAX) {
		memcpy(r->status, p, sl);
		r->status[sl] = '\0';
		p += sl;
	}
	copy_clean(r->text, sizeof r->text, p);
	if (code >= 200 && code <= 299)
		find_queue_id(r->queue_id, sizeof r->queue_id, r->text);
	r->throttle = smtp_reply_is_throttle(code, r->status, r->text);
}
