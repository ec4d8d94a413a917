/*
 * bounce_scan.c — the readers of bounce text that is not an RFC 3464
 * report (or that comes beside one): which system wrote it (Exchange and
 * Office 365, Gmail, Exim, Postfix, Sendmail, qmail, Yahoo, docomo, au,
 * SoftBank), whether it is a failure notice at all, and the failed
 * recipients with their diagnostic lines and status (RFC 3463 codes, SMTP
 * reply codes, known phrases).  Runs where bounce.c runs (the mailer and
 * the command line).  Plain string scanning, line by line, each line at
 * most BOUNCE_LINE_MAX bytes.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "mailer/bounce_int.h"

#define DIAG_LINES 6 /* lines after a recipient read as its diagnostic */

static const struct { const char *marker; const char *vendor; } vendors[] = {
	{ "docomo.ne.jp", "docomo" },
	{ "ezweb.ne.jp", "au" }, { "@au.com", "au" }, { ".au.com", "au" },
	{ "i.softbank.jp", "softbank" }, { "softbank.ne.jp", "softbank" },
	{ "remote server returned '", "exchange" }, { "delivery has failed to these recipients", "exchange" },
	{ "your message couldn't be delivered", "exchange" }, { "resolver.adr.", "exchange" },
	{ "diagnostic information for administrators", "exchange" },
	{ "the email account that you tried to reach does not exist", "gmail" },
	{ "delivery to the following recipient failed", "gmail" }, { "googlemail.com", "gmail" },
	{ "sorry, we were unable to deliver your message", "yahoo" }, { "yahoo.com account", "yahoo" },
	{ "this is the qmail-send program", "qmail" },
	{ "this message was created automatically by mail delivery software", "exim" },
	{ "a message that you sent could not be delivered", "exim" },
	{ "this is the mail system at host", "postfix" }, { "undelivered mail returned to sender", "postfix" },
	{ "the following addresses had permanent fatal errors", "sendmail" },
	{ "returned mail: see transcript", "sendmail" }, { "transcript of session follows", "sendmail" },
};

/* Words of a failure notice, in its subject or its text. */
static const char *const fail_markers[] = {
	"mail delivery failed", "delivery status notification", "undeliverable", "undelivered",
	"could not be delivered", "couldn't be delivered", "delivery failure", "delivery has failed",
	"permanent error", "failure notice", "returned mail", "mail system error",
	"unable to deliver", "not delivered", "wasn't delivered", "delivery problem",
	"送信できませんでした", "配信できませんでした", "届きませんでした", "送信に失敗",
	"配送に失敗", "配信に失敗", "宛先不明", "エラーメール",
};

/* Where the copy of the original message starts in the text: nothing
 * after it is the reporting system's words. */
static const char *const copy_markers[] = {
	"------ this is a copy of the message", "----- original message -----",
	"--- below this line is a copy of the message", "original message follows",
	"----- unsent message below -----", "------ original message ------",
	"--- the header of the original message is following", "元のメッセージ",
	"original message headers:",
};

/* Words saying the system will try again: the failure is not final. */
static const char *const delay_markers[] = {
	"delivery status notification (delay)", "delivery delayed", "delayed mail",
	"will continue trying", "still trying", "will retry", "warning: message", "遅延",
};

/* Labels before an address on a line of its own ("宛先: a@b"). */
static const char *const labels[] = {
	"宛先アドレス", "宛先", "送信先", "受信者", "アドレス", "recipient", "failed recipient",
	"original recipient", "address", "to", "rcpt",
};

static int any(const char *lower, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bounce_find(lower, len, list[i]) != NULL)
			return 1;
	return 0;
}

const char *bounce_vendor(const struct bounce_doc *doc)
{
	const char *hay[4] = { doc->subject, doc->from, (const char *)doc->text.data,
			       (const char *)doc->dsn.data };
	size_t len[4] = { strlen(doc->subject), strlen(doc->from), doc->text.len, doc->dsn.len };

	for (size_t v = 0; v < ARRAY_SIZE(vendors); v++)
		for (size_t h = 0; h < 4; h++)
			if (hay[h] != NULL && bounce_find(hay[h], len[h], vendors[v].marker) != NULL)
				return vendors[v].vendor;
	return NULL;
}

static int daemon_sender(const struct bounce_doc *doc)
{
	static const char *const locals[] = { "mailer-daemon@", "postmaster@", "mail-daemon@",
					      "mailerdaemon@", "mdaemon@" };
	static const char *const names[] = { "mail delivery", "mailer-daemon", "postmaster",
					     "microsoft outlook", "mail administrator",
					     "メール配信", "システム管理者" };
	for (size_t i = 0; i < ARRAY_SIZE(locals); i++)
		if (g_ascii_strncasecmp(doc->from, locals[i], strlen(locals[i])) == 0)
			return 1;
	return any(doc->from_name, strlen(doc->from_name), names, ARRAY_SIZE(names));
}

/* Does the text before the address at start only hold space, brackets or
 * a label and its colon? */
static int recipient_prefix(const char *line, size_t start)
{
	size_t b = 0, e = start;
	while (b < e && strchr(" \t<\"*-", line[b]) != NULL)
		b++;
	while (e > b && strchr(" \t<\"", line[e - 1]) != NULL)
		e--;
	if (b == e)
		return 1;
	if (e - b >= 3 && memcmp(line + e - 3, "\xEF\xBC\x9A", 3) == 0) /* a full-width colon */
		e -= 3;
	else if (line[e - 1] == ':')
		e--;
	else
		return 0;
	while (e > b && (line[e - 1] == ' ' || line[e - 1] == '\t'))
		e--;
	for (size_t i = 0; i < ARRAY_SIZE(labels); i++)
		if (e - b == strlen(labels[i]) && g_ascii_strncasecmp(line + b, labels[i], e - b) == 0)
			return 1;
	return 0;
}

static int ours(const char *addr, const struct bounce_doc *doc)
{
	return g_ascii_strncasecmp(addr, BOUNCE_VERP_PREFIX, strlen(BOUNCE_VERP_PREFIX)) == 0 ||
	       g_ascii_strncasecmp(addr, "mailer-daemon@", 14) == 0 ||
	       (doc->from[0] != '\0' && g_ascii_strcasecmp(addr, doc->from) == 0);
}

/* The address that starts this line as a recipient, into addr; the offset
 * just past it, or 0 when the line is no recipient line. */
static size_t recipient_line(const char *line, size_t n, const struct bounce_doc *doc,
			     char addr[EMAIL_MAX + 1])
{
	size_t pos = 0, start;
	if (!bounce_addr_next(line, n, &pos, addr, &start) || !recipient_prefix(line, start) ||
	    ours(addr, doc))
		return 0;
	return pos;
}

static size_t next_line(const char *s, size_t len, size_t i, size_t *e)
{
	const char *nl = memchr(s + i, '\n', len - i);
	*e = nl ? (size_t)(nl - s) : len;
	return *e - i > BOUNCE_LINE_MAX ? BOUNCE_LINE_MAX : *e - i;
}

/* The words after a recipient: the rest of its line and the lines that
 * follow, up to a blank line or the next recipient. */
static void diag_after(const char *s, size_t cut, size_t i, size_t after, size_t e,
		       const struct bounce_doc *doc, char *out, size_t outsize)
{
	struct buf d;
	char addr[EMAIL_MAX + 1];

	buf_init(&d, BOUNCE_DIAG_MAX * 4);
	while (after < e && strchr(" \t>:.()[]", s[i + after]) != NULL)
		after++;
	(void)buf_append(&d, s + i + after, e - i - after > BOUNCE_LINE_MAX ? BOUNCE_LINE_MAX : e - i - after);
	i = e + 1;
	for (int k = 0; k < DIAG_LINES && i < cut; k++) {
		size_t le, n = next_line(s, cut, i, &le);
		size_t b = 0;
		while (b < n && (s[i + b] == ' ' || s[i + b] == '\t' || s[i + b] == '\r'))
			b++;
		if (b == n || recipient_line(s + i, n, doc, addr) > 0)
			break;
		(void)buf_append_u8(&d, ' ');
		(void)buf_append(&d, s + i, n);
		i = le + 1;
	}
	bounce_clean(d.data ? (const char *)d.data : "", d.len, out, outsize);
	buf_free(&d);
}

/* The status of one recipient of a text notice, from its own words, else
 * the notice's first code, else the phrases and the reply class. */
static void settle(struct bounce_rcpt *rc, const char *gstatus, int greply, const char *glower,
		   size_t glen, int delayed)
{
	int reply = bounce_reply_find(rc->diag, strlen(rc->diag));
	char st[BOUNCE_STATUS_MAX + 1] = "";

	if (!bounce_status_find(rc->diag, strlen(rc->diag), st)) {
		if (gstatus[0] != '\0' && reply == 0) {
			memcpy(st, gstatus, strlen(gstatus) + 1);
		} else {
			char *lower = bounce_lower(rc->diag, strlen(rc->diag));
			const char *ph = bounce_phrase_status(lower, strlen(lower));
			int cls = reply ? reply / 100 : greply ? greply / 100 : delayed ? 4 : 5;
			if (ph == NULL)
				ph = bounce_phrase_status(glower, glen);
			if (cls != 4 && cls != 5)
				cls = 5;
			st[0] = (char)('0' + cls);
			str_copy(st + 1, ph ? ph + 1 : ".0.0", sizeof(st) - 1);
			free(lower);
		}
	}
	str_copy(rc->status, st, sizeof(rc->status));
	rc->kind = bounce_kind_for(rc->status, reply ? reply : greply, delayed, rc->diag);
}

/* The line holding the first status or reply code, as the diagnostic of
 * recipients that have none of their own. */
static void global_diag(const char *s, size_t cut, char *gstatus, int *greply, char *out, size_t outsize)
{
	size_t i = 0;
	out[0] = '\0';
	while (i < cut) {
		size_t e, n = next_line(s, cut, i, &e);
		char st[BOUNCE_STATUS_MAX + 1];
		int reply = bounce_reply_find(s + i, n);
		if (bounce_status_find(s + i, n, st) || (reply >= 400 && reply < 600)) {
			if (gstatus[0] == '\0' && bounce_status_find(s + i, n, st))
				memcpy(gstatus, st, strlen(st) + 1);
			if (*greply == 0)
				*greply = reply;
			if (out[0] == '\0')
				bounce_clean(s + i, n, out, outsize);
			if (gstatus[0] != '\0')
				return;
		}
		i = e + 1;
	}
}

static void scan_lines(const struct bounce_doc *doc, size_t cut, struct bounce_result *r)
{
	const char *s = (const char *)doc->text.data;
	size_t i = 0;
	while (i < cut) {
		char addr[EMAIL_MAX + 1], diag[BOUNCE_DIAG_MAX + 1];
		size_t e, n = next_line(s, cut, i, &e);
		size_t after = recipient_line(s + i, n, doc, addr);
		if (after > 0) {
			diag_after(s, cut, i, after, i + n, doc, diag, sizeof(diag));
			(void)bounce_add(r, addr, "", "", diag, BOUNCE_HARD);
		}
		i = e + 1;
	}
}

static void failed_header(const struct bounce_doc *doc, struct bounce_result *r)
{
	size_t pos = 0, start, len = strlen(doc->failed);
	char addr[EMAIL_MAX + 1];
	while (bounce_addr_next(doc->failed, len, &pos, addr, &start))
		(void)bounce_add(r, addr, "", "", "", BOUNCE_HARD);
}

int bounce_scan_text(const struct bounce_doc *doc, struct bounce_result *r)
{
	const char *s = doc->text.data ? (const char *)doc->text.data : "";
	size_t cut = doc->text.len, first = r->nrcpt;
	char *lower = bounce_lower(s, cut), *subj = bounce_lower(doc->subject, strlen(doc->subject));
	char gstatus[BOUNCE_STATUS_MAX + 1] = "", gdiag[BOUNCE_DIAG_MAX + 1];
	const char *vendor = bounce_vendor(doc);
	int greply = 0, delayed, subject_marker, rc = 0;

	for (size_t i = 0; i < ARRAY_SIZE(copy_markers); i++) {
		const char *p = bounce_find(lower, cut, copy_markers[i]);
		if (p != NULL && (size_t)(p - lower) < cut)
			cut = (size_t)(p - lower);
	}
	subject_marker = any(subj, strlen(subj), fail_markers, ARRAY_SIZE(fail_markers));
	if (!(vendor != NULL || subject_marker || any(lower, cut, fail_markers, ARRAY_SIZE(fail_markers))) ||
	    !(daemon_sender(doc) || subject_marker || doc->failed[0] != '\0'))
		goto out;
	delayed = any(subj, strlen(subj), delay_markers, ARRAY_SIZE(delay_markers)) ||
		  any(lower, cut, delay_markers, ARRAY_SIZE(delay_markers));
	failed_header(doc, r);
	scan_lines(doc, cut, r);
	if (r->nrcpt == first && !daemon_sender(doc) && doc->failed[0] == '\0')
		goto out; /* only a subject: a person's mail about a bounce */
	global_diag(s, cut, gstatus, &greply, gdiag, sizeof(gdiag));
	for (size_t i = first; i < r->nrcpt; i++) {
		if (r->rcpt[i].diag[0] == '\0')
			str_copy(r->rcpt[i].diag, gdiag, sizeof(r->rcpt[i].diag));
		settle(&r->rcpt[i], gstatus, greply, lower, cut, delayed);
	}
	str_copy(r->format, vendor ? vendor : "text", sizeof(r->format));
	rc = 1;
out:
	free(lower);
	free(subj);
	return rc;
}
