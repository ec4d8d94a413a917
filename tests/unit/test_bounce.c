/*
 * test_bounce.c — unit tests of the bounce classifier (mailer/bounce.c).
 * Each message is built here byte for byte in the shape the system named
 * sends (written for these tests, addresses and hosts under example
 * domains and the carriers' own domains): RFC 3464 reports from Postfix,
 * Gmail and an unnamed MTA, Exchange/Office 365 NDRs in text and HTML,
 * Exim, Sendmail, qmail and Yahoo texts, docomo (ISO-2022-JP), au/KDDI and
 * SoftBank (Shift_JIS); then auto-replies, ARF complaints, ordinary mail,
 * delays and throttling, forged VERP return paths, nested messages, CRLF
 * and LF line ends, and hostile input.  Runs as a cmocka test binary.
 *
 * Standards: RFC 3464, 3463, 5965, 3834, 5322, 2045-2049, 2047, 1468.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <glib.h>

#include "lib/email.h"
#include "lib/text.h"
#include "mailer/bounce.h"

#define MAC "k7q2m4x9p3r8t6v1w5y0z2a4bc"
#define VERP "bounce+42-7-" MAC "@ward.example.jp"

/* ----------------------------------------------------------- builders */

static void put(GString *g, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void put(GString *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_string_append_vprintf(g, fmt, ap);
	va_end(ap);
}

/* text in another charset; the caller g_free()s. */
static char *conv(const char *utf8, const char *charset, gsize *len)
{
	GError *err = NULL;
	gsize r = 0, w = 0;
	char *s = g_convert(utf8, -1, charset, "UTF-8", &r, &w, &err);
	if (s == NULL)
		fail_msg("g_convert to %s: %s", charset, err ? err->message : "?");
	if (len != NULL)
		*len = w;
	return s;
}

static void put_conv(GString *g, const char *charset, const char *utf8)
{
	gsize n;
	char *s = conv(utf8, charset, &n);
	g_string_append_len(g, s, (gssize)n);
	g_free(s);
}

static void put_word(GString *g, const char *charset, const char *utf8)
{
	gsize n;
	char *s = conv(utf8, charset, &n);
	gchar *b = g_base64_encode((const guchar *)s, n);
	put(g, "=?%s?B?%s?=", charset, b);
	g_free(b);
	g_free(s);
}

/* The copy of our notice that reports carry back. */
static void put_original(GString *g, const char *to)
{
	put(g, "Return-Path: <" VERP ">\n"
	       "From: =?UTF-8?B?5ZOB5bed5Yy65b255omA?= <notice@ward.example.jp>\n"
	       "To: %s\n"
	       "Subject: =?UTF-8?B?5Luk5ZKMOOW5tOW6puS9j+awkeeojuaxuuWumumAmuefpQ==?=\n"
	       "Message-ID: <b42.s7.x1@ward.example.jp>\n"
	       "Date: Mon, 07 Dec 2026 09:00:00 +0900\n"
	       "MIME-Version: 1.0\n"
	       "Content-Type: text/plain; charset=UTF-8\n"
	       "Content-Transfer-Encoding: 8bit\n\n"
	       "区民の皆さまへ\nお知らせがあります。\n",
	    to);
}

/* g with every LF made CRLF, when crlf. */
static GString *eol(GString *g, int crlf)
{
	GString *o;
	if (!crlf)
		return g;
	o = g_string_sized_new(g->len + g->len / 20);
	for (size_t i = 0; i < g->len; i++) {
		if (g->str[i] == '\n')
			g_string_append_c(o, '\r');
		g_string_append_c(o, g->str[i]);
	}
	g_string_free(g, TRUE);
	return o;
}

/* Every string in the result keeps bounce.h's promise. */
static void check_clean(const char *s)
{
	for (const char *p = s; *p != '\0';) {
		uint32_t cp;
		size_t n = text_utf8_decode((const unsigned char *)p, strlen(p), &cp);
		if (n == 0)
			fail_msg("not UTF-8: \"%s\"", s);
		if (cp < 0x20 || cp == 0x7F)
			fail_msg("a control character in \"%s\"", s);
		p += n;
	}
}

/* With TAYORI_BOUNCE_DUMP=DIR, each message parsed is also written there
 * (as NN.eml, up to 256 KB): how the fuzz seeds were made. */
static void dump(const GString *g)
{
	static int n;
	const char *dir = getenv("TAYORI_BOUNCE_DUMP");
	char path[4096];
	struct error e;
	if (dir == NULL || g->len > (256u << 10))
		return;
	snprintf(path, sizeof(path), "%s/%02d.eml", dir, ++n);
	assert_int_equal(file_write_atomic(path, g->str, g->len, 0644, &e), 0);
}

static struct bounce_result *parse(const GString *g)
{
	struct bounce_result *r = calloc(1, sizeof(*r));
	struct error e = { { 0 }, 0 };
	assert_non_null(r);
	dump(g);
	assert_int_equal(bounce_parse((const uint8_t *)g->str, g->len, r, &e), 0);
	assert_true(r->nrcpt <= BOUNCE_RCPT_MAX);
	assert_int_equal(r->is_bounce, r->kind == BOUNCE_HARD || r->kind == BOUNCE_SOFT ||
					       r->kind == BOUNCE_RATE);
	check_clean(r->format);
	for (size_t i = 0; i < r->nrcpt; i++) {
		assert_true(email_valid(r->rcpt[i].addr));
		check_clean(r->rcpt[i].diag);
		check_clean(r->rcpt[i].status);
		assert_true(strlen(r->rcpt[i].diag) <= BOUNCE_DIAG_MAX);
	}
	if (r->verp.valid)
		assert_int_equal(r->verp.present, 1);
	return r;
}

static void assert_verp_ours(const struct bounce_result *r)
{
	assert_int_equal(r->verp.present, 1);
	assert_int_equal(r->verp.valid, 1);
	assert_true(r->verp.batch == 42);
	assert_int_equal(r->verp.seq, 7);
	assert_string_equal(r->verp.mac, MAC);
}

static void assert_rcpt(const struct bounce_result *r, size_t i, const char *addr, const char *status,
			enum bounce_kind kind)
{
	if (i >= r->nrcpt)
		fail_msg("recipient %zu of %zu wanted (%s)", i, r->nrcpt, addr);
	assert_string_equal(r->rcpt[i].addr, addr);
	assert_string_equal(r->rcpt[i].status, status);
	assert_string_equal(bounce_kind_name(r->rcpt[i].kind), bounce_kind_name(kind));
}

static void assert_diag(const struct bounce_result *r, size_t i, const char *part)
{
	if (strstr(r->rcpt[i].diag, part) == NULL)
		fail_msg("diagnostic \"%s\" lacks \"%s\"", r->rcpt[i].diag, part);
}

/* ------------------------------------------------------------ Postfix */

static GString *postfix_dsn(void)
{
	GString *g = g_string_new(NULL);
	put(g, "Return-Path: <>\n"
	       "X-Original-To: " VERP "\n"
	       "Delivered-To: " VERP "\n"
	       "Received: by mail.ward.example.jp (Postfix)\n"
	       "\tid 4QzX1b2c3dz9sT; Mon,  7 Dec 2026 09:00:05 +0900 (JST)\n"
	       "Date: Mon,  7 Dec 2026 09:00:05 +0900 (JST)\n"
	       "From: MAILER-DAEMON@mail.ward.example.jp (Mail Delivery System)\n"
	       "Subject: Undelivered Mail Returned to Sender\n"
	       "To: " VERP "\n"
	       "Auto-Submitted: auto-replied\n"
	       "MIME-Version: 1.0\n"
	       "Content-Type: multipart/report; report-type=delivery-status;\n"
	       "\tboundary=\"4QzX1b2c3dz9sT.1765065605/mail.ward.example.jp\"\n"
	       "Message-Id: <20261207000005.4QzX1b2c3dz9sT@mail.ward.example.jp>\n\n"
	       "This is a MIME-encapsulated message.\n\n"
	       "--4QzX1b2c3dz9sT.1765065605/mail.ward.example.jp\n"
	       "Content-Description: Notification\n"
	       "Content-Type: text/plain; charset=us-ascii\n\n"
	       "This is the mail system at host mail.ward.example.jp.\n\n"
	       "I'm sorry to have to inform you that your message could not\n"
	       "be delivered to one or more recipients. It's attached below.\n\n"
	       "                   The mail system\n\n"
	       "<Taro.Yamada@Example.CO.JP>: host mx1.example.co.jp[192.0.2.10] said: 550 5.1.1\n"
	       "    <Taro.Yamada@example.co.jp>: Recipient address rejected: User unknown in\n"
	       "    local recipient table (in reply to RCPT TO command)\n\n"
	       "--4QzX1b2c3dz9sT.1765065605/mail.ward.example.jp\n"
	       "Content-Description: Delivery report\n"
	       "Content-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mail.ward.example.jp\n"
	       "X-Postfix-Queue-ID: 4QzX1b2c3dz9sT\n"
	       "X-Postfix-Sender: rfc822; " VERP "\n"
	       "Arrival-Date: Mon,  7 Dec 2026 09:00:01 +0900 (JST)\n\n"
	       "Final-Recipient: rfc822; Taro.Yamada@Example.CO.JP\n"
	       "Original-Recipient: rfc822;Taro.Yamada@Example.CO.JP\n"
	       "Action: failed\n"
	       "Status: 5.1.1\n"
	       "Remote-MTA: dns; mx1.example.co.jp\n"
	       "Diagnostic-Code: smtp; 550 5.1.1 <Taro.Yamada@example.co.jp>: Recipient address\n"
	       "    rejected: User unknown in local recipient table\n\n"
	       "--4QzX1b2c3dz9sT.1765065605/mail.ward.example.jp\n"
	       "Content-Description: Undelivered Message Headers\n"
	       "Content-Type: text/rfc822-headers\n\n");
	put_original(g, "Taro.Yamada@Example.CO.JP");
	put(g, "\n--4QzX1b2c3dz9sT.1765065605/mail.ward.example.jp--\n");
	return g;
}

static void check_postfix(const struct bounce_result *r)
{
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_int_equal(r->is_bounce, 1);
	assert_string_equal(r->format, "postfix");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "Taro.Yamada@example.co.jp", "5.1.1", BOUNCE_HARD);
	assert_string_equal(r->rcpt[0].original, "Taro.Yamada@example.co.jp");
	assert_diag(r, 0, "550 5.1.1");
	assert_diag(r, 0, "User unknown in local recipient table");
	assert_verp_ours(r);
}

static void test_postfix_dsn_lf_and_crlf(void **state)
{
	(void)state;
	for (int crlf = 0; crlf <= 1; crlf++) {
		GString *g = eol(postfix_dsn(), crlf);
		struct bounce_result *r = parse(g);
		check_postfix(r);
		assert_int_equal(r->flattened, 0);
		free(r);
		g_string_free(g, TRUE);
	}
}

/* Postfix's report, but only its text (as relays that drop the report do). */
static void test_postfix_text_only(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@relay.example.net (Mail Delivery System)\n"
	       "To: " VERP "\n"
	       "Subject: Undelivered Mail Returned to Sender\n"
	       "Content-Type: text/plain; charset=us-ascii\n\n"
	       "This is the mail system at host relay.example.net.\n\n"
	       "                   The mail system\n\n"
	       "<kenji@example.net>: host mx.example.net[198.51.100.7] said: 552 5.2.2\n"
	       "    Mailbox full (in reply to RCPT TO command)\n\n"
	       "<aiko@example.net>: host mx.example.net[198.51.100.7] said: 550 5.1.1\n"
	       "    No such user (in reply to RCPT TO command)\n");
	r = parse(g);
	assert_string_equal(r->format, "postfix");
	assert_int_equal(r->nrcpt, 2);
	assert_rcpt(r, 0, "kenji@example.net", "5.2.2", BOUNCE_SOFT);
	assert_rcpt(r, 1, "aiko@example.net", "5.1.1", BOUNCE_HARD);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ---------------------------------------------- RFC 3464, soft and rate */

static void test_rfc3464_delayed_soft(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: Mail Delivery Subsystem <mailer-daemon@mta.example.org>\n"
	       "To: <" VERP ">\n"
	       "Subject: Warning: could not send message for past 4 hours\n"
	       "Auto-Submitted: auto-generated (warning-timeout)\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\n\n"
	       "--b1\n"
	       "Content-Type: text/plain\n\n"
	       "Delivery is delayed.  The message will be retried.\n\n"
	       "--b1\n"
	       "Content-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mta.example.org\n"
	       "Original-Envelope-Id: b42s7\n\n"
	       "Original-Recipient: rfc822;hiro@example.org\n"
	       "Final-Recipient: RFC822; <hiro@mail.EXAMPLE.org>\n"
	       "Action: delayed\n"
	       "Status: 4.4.1\n"
	       "Diagnostic-Code: X-Unix; connection timed out\n"
	       "Will-Retry-Until: Thu, 10 Dec 2026 09:00:00 +0900\n\n"
	       "--b1\n"
	       "Content-Type: message/rfc822\n\n");
	put_original(g, "hiro@example.org");
	put(g, "\n--b1--\n");
	r = parse(g);
	assert_string_equal(r->format, "rfc3464");
	assert_string_equal(bounce_kind_name(r->kind), "soft");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "hiro@mail.example.org", "4.4.1", BOUNCE_SOFT);
	assert_string_equal(r->rcpt[0].original, "hiro@example.org");
	assert_diag(r, 0, "connection timed out");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* Throttling replies from Gmail, Outlook.com and Yahoo in one report of
 * our relay, and a 5xx that speaks of "too many" (still hard). */
static void test_rate(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mail.ward.example.jp (Mail Delivery System)\n"
	       "To: " VERP "\n"
	       "Subject: Delayed Mail (still being retried)\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\n\n"
	       "--r\nContent-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mail.ward.example.jp\n\n"
	       "Final-Recipient: rfc822; a@gmail.com\nAction: delayed\nStatus: 4.7.28\n"
	       "Diagnostic-Code: smtp; 421-4.7.28 [192.0.2.1] Our system has detected an\n"
	       "    unusual rate of unsolicited mail originating from your IP address.\n\n"
	       "Final-Recipient: rfc822; b@gmail.com\nAction: delayed\nStatus: 4.2.1\n"
	       "Diagnostic-Code: smtp; 450-4.2.1 The user you are trying to contact is\n"
	       "    receiving mail too quickly. Please resend your message at a later time.\n\n"
	       "Final-Recipient: rfc822; c@outlook.com\nAction: delayed\nStatus: 4.7.651\n"
	       "Diagnostic-Code: smtp; 451 4.7.651 The mail server [192.0.2.1] has exceeded\n"
	       "    the maximum number of connections.\n\n"
	       "Final-Recipient: rfc822; d@yahoo.co.jp\nAction: delayed\nStatus: 4.7.0\n"
	       "Diagnostic-Code: smtp; 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily\n"
	       "    deferred due to unexpected volume or user complaints\n\n"
	       "--r--\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "rate");
	assert_int_equal(r->nrcpt, 4);
	assert_rcpt(r, 0, "a@gmail.com", "4.7.28", BOUNCE_RATE);
	assert_rcpt(r, 1, "b@gmail.com", "4.2.1", BOUNCE_RATE);
	assert_rcpt(r, 2, "c@outlook.com", "4.7.651", BOUNCE_RATE);
	assert_rcpt(r, 3, "d@yahoo.co.jp", "4.7.0", BOUNCE_RATE);
	assert_diag(r, 3, "TSS04");
	free(r);
	g_string_free(g, TRUE);

	/* a plain 4xx stays soft; a 5xx about "too many" is hard */
	g = g_string_new(NULL);
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\nSubject: Returned mail\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\n\n"
	       "--r\nContent-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mta.example.org\n\n"
	       "Final-Recipient: rfc822; e@example.org\nAction: failed\nStatus: 4.3.0\n"
	       "Diagnostic-Code: smtp; 451 4.3.0 Temporary local problem\n\n"
	       "Final-Recipient: rfc822; f@example.org\nAction: failed\nStatus: 5.7.1\n"
	       "Diagnostic-Code: smtp; 550 5.7.1 too many invalid recipients\n\n--r--\n");
	r = parse(g);
	assert_rcpt(r, 0, "e@example.org", "4.3.0", BOUNCE_SOFT);
	assert_rcpt(r, 1, "f@example.org", "5.7.1", BOUNCE_HARD);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	free(r);
	g_string_free(g, TRUE);
}

/* A report whose every recipient was delivered is no bounce. */
static void test_success_dsn(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\n"
	       "Subject: Successful Mail Delivery Report\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"s\"\n\n"
	       "--s\nContent-Type: text/plain\n\nYour message was delivered.\n\n"
	       "--s\nContent-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mta.example.org\n\n"
	       "Final-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0\n\n--s--\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "not-bounce");
	assert_int_equal(r->is_bounce, 0);
	assert_int_equal(r->nrcpt, 0);
	free(r);
	g_string_free(g, TRUE);
}

/* --------------------------------------------------- Exchange / Office 365 */

static void test_exchange_o365(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: Microsoft Outlook\n <postmaster@contoso.example.com>\n"
	       "To: <" VERP ">\n"
	       "Subject: Undeliverable: ");
	put_word(g, "UTF-8", "令和8年度 住民税決定通知");
	put(g, "\nX-MS-Exchange-Message-Is-Ndr:\n"
	       "Content-Language: en-US\n"
	       "Content-Type: multipart/alternative; boundary=\"_000_TY2PR01MB1234_\"\n"
	       "MIME-Version: 1.0\n\n"
	       "--_000_TY2PR01MB1234_\n"
	       "Content-Type: text/plain; charset=\"us-ascii\"\n"
	       "Content-Transfer-Encoding: quoted-printable\n\n"
	       "Your message to suzuki@contoso.example.com couldn't be delivered.\n\n"
	       "suzuki wasn't found at contoso.example.com.\n\n"
	       "ward.example.jp    Office 365    suzuki\n"
	       "Action Required                 Recipient\n\n"
	       "Unknown To address\n\n"
	       "Diagnostic information for administrators:\n\n"
	       "Generating server: TY2PR01MB1234.jpnprd01.prod.outlook.com\n\n"
	       "Suzuki@Contoso.Example.com\n"
	       "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient =\n"
	       "Suzuki@Contoso.Example.com not found by SMTP address lookup'\n\n"
	       "Original message headers:\n\n"
	       "Return-Path: " VERP "\n"
	       "To: someone.else@example.net\n\n"
	       "--_000_TY2PR01MB1234_\n"
	       "Content-Type: text/html; charset=\"us-ascii\"\n\n"
	       "<html><head><style>p {color:red}</style></head><body>\n"
	       "<p><b><font color=\"#000000\">Your message to <a href=\"mailto:suzuki@contoso.example.com\">"
	       "suzuki@contoso.example.com</a> couldn&#39;t be delivered.</font></b></p>\n"
	       "<p>Diagnostic information for administrators:</p><p>Generating server: TY2PR01MB1234</p>"
	       "<p>suzuki@contoso.example.com<br>Remote Server returned &#39;550 5.1.10 "
	       "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup&#39;</p>\n"
	       "</body></html>\n"
	       "--_000_TY2PR01MB1234_--\n");
	r = parse(g);
	assert_string_equal(r->format, "exchange");
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "Suzuki@contoso.example.com", "5.1.10", BOUNCE_HARD);
	assert_diag(r, 0, "RESOLVER.ADR.RecipientNotFound");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* Exchange 2010 style: HTML only, the address as a mailto link. */
static void test_exchange_html_only(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: postmaster@ex01.contoso.example.com\n"
	       "To: " VERP "\n"
	       "Subject: Undeliverable: notice\n"
	       "Content-Type: text/html; charset=\"utf-8\"\n"
	       "Content-Transfer-Encoding: base64\n\n");
	{
		const char *html =
			"<HTML><BODY><P><B><FONT COLOR=\"#000066\">Delivery has failed to these "
			"recipients or groups:</FONT></B></P>\n<P><A HREF=\"mailto:ito@contoso.example.com\">"
			"ito@contoso.example.com</A><BR>The e-mail address you entered couldn&#39;t be found."
			"</P>\n<P>Diagnostic information for administrators:</P><P>Generating server: "
			"ex01.contoso.example.com</P><P>ito@contoso.example.com<BR>#550 5.1.1 "
			"RESOLVER.ADR.RecipientNotFound; not found ##</P></BODY></HTML>\n";
		gchar *b = g_base64_encode((const guchar *)html, strlen(html));
		for (size_t i = 0; i < strlen(b); i += 76)
			put(g, "%.76s\n", b + i);
		g_free(b);
	}
	r = parse(g);
	assert_string_equal(r->format, "exchange");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "ito@contoso.example.com", "5.1.1", BOUNCE_HARD);
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ---------------------------------------------------------------- Gmail */

static void test_gmail(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "Delivered-To: " VERP "\n"
	       "Return-Path: <>\n"
	       "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
	       "To: " VERP "\n"
	       "Auto-Submitted: auto-replied\n"
	       "Subject: Delivery Status Notification (Failure)\n"
	       "X-Failed-Recipients: sato.hanako@gmail.com\n"
	       "Content-Type: multipart/report; boundary=\"000000000000a1\"; report-type=delivery-status\n\n"
	       "--000000000000a1\n"
	       "Content-Type: multipart/related; boundary=\"000000000000b2\"\n\n"
	       "--000000000000b2\n"
	       "Content-Type: multipart/alternative; boundary=\"000000000000c3\"\n\n"
	       "--000000000000c3\n"
	       "Content-Type: text/plain; charset=\"UTF-8\"\n\n"
	       "\n** Address not found **\n\n"
	       "Your message wasn't delivered to sato.hanako@gmail.com because the address couldn't be found, or is unable to receive mail.\n\n"
	       "Learn more here: https://support.google.com/mail/?p=NoSuchUser\n\n"
	       "The response was:\n\n"
	       "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.\n\n"
	       "--000000000000c3\n"
	       "Content-Type: text/html; charset=\"UTF-8\"\n\n"
	       "<html><body><h1>Address not found</h1><p>Your message wasn't delivered to <a style=\"color:#212121\">sato.hanako@gmail.com</a> because the address couldn't be found.</p></body></html>\n\n"
	       "--000000000000c3--\n"
	       "--000000000000b2--\n"
	       "--000000000000a1\n"
	       "Content-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; googlemail.com\n"
	       "Received-From-MTA: dns; mail.ward.example.jp\n"
	       "Arrival-Date: Sun, 06 Dec 2026 16:00:01 -0800 (PST)\n"
	       "X-Original-Message-ID: <b42.s7.x1@ward.example.jp>\n\n"
	       "Final-Recipient: rfc822; sato.hanako@gmail.com\n"
	       "Action: failed\n"
	       "Status: 5.1.1\n"
	       "Remote-MTA: dns; gmail-smtp-in.l.google.com. (2001:db8::1b, the server for the domain gmail.com.)\n"
	       "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\n"
	       " not exist. Please try 550-5.1.1 double-checking the recipient's email\n"
	       " address for typos or unnecessary spaces. a1b2c3 - gsmtp\n"
	       "Last-Attempt-Date: Sun, 06 Dec 2026 16:00:02 -0800 (PST)\n\n"
	       "--000000000000a1\n"
	       "Content-Type: message/rfc822\n\n");
	put_original(g, "sato.hanako@gmail.com");
	put(g, "\n--000000000000a1--\n");
	r = parse(g);
	assert_string_equal(r->format, "gmail");
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "sato.hanako@gmail.com", "5.1.1", BOUNCE_HARD);
	assert_diag(r, 0, "does not exist");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ----------------------------------------------------------------- Exim */

static void test_exim(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "Return-path: <>\n"
	       "Envelope-to: " VERP "\n"
	       "Delivery-date: Mon, 07 Dec 2026 09:00:09 +0900\n"
	       "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"
	       "To: " VERP "\n"
	       "Subject: Mail delivery failed: returning message to sender\n"
	       "X-Failed-Recipients: hanako@example.com\n"
	       "Auto-Submitted: auto-replied\n"
	       "Message-Id: <E1kXyZa-0001Ab-Cd@mx.example.com>\n"
	       "Date: Mon, 07 Dec 2026 09:00:09 +0900\n\n"
	       "This message was created automatically by mail delivery software.\n\n"
	       "A message that you sent could not be delivered to one or more of its\n"
	       "recipients. This is a permanent error. The following address(es) failed:\n\n"
	       "  hanako@example.com\n"
	       "    host mx2.example.com [203.0.113.5]\n"
	       "    SMTP error from remote mail server after RCPT TO:<hanako@example.com>:\n"
	       "    550 5.1.1 <hanako@example.com>: Recipient address rejected: User unknown\n\n"
	       "------ This is a copy of the message, including all the headers. ------\n\n");
	put_original(g, "hanako@example.com, other@example.com");
	r = parse(g);
	assert_string_equal(r->format, "exim");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "hanako@example.com", "5.1.1", BOUNCE_HARD);
	assert_diag(r, 0, "User unknown");
	assert_diag(r, 0, "203.0.113.5");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* Exim's warning that a message is still queued: soft, not hard. */
static void test_exim_delay(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: Mail Delivery System <Mailer-Daemon@mx.example.com>\n"
	       "To: " VERP "\n"
	       "Subject: Warning: message 1kXyZa-0001Ab-Cd delayed 24 hours\n"
	       "Auto-Submitted: auto-replied\n\n"
	       "This message was created automatically by mail delivery software.\n"
	       "A message that you sent has not yet been delivered to one or more of its\n"
	       "recipients after more than 24 hours on the queue on mx.example.com.\n\n"
	       "The message identifier is:     1kXyZa-0001Ab-Cd\n\n"
	       "The address to which the message has not yet been delivered is:\n\n"
	       "  kumi@example.com\n"
	       "    host mx9.example.com [203.0.113.9]: Connection timed out\n\n"
	       "No action is required on your part. Delivery attempts will continue for\n"
	       "some time, and this warning may be repeated at intervals if the message\n"
	       "remains undelivered. Eventually the mail delivery software will give up,\n"
	       "and when that happens, the message will be returned to you.\n");
	r = parse(g);
	assert_string_equal(r->format, "exim");
	assert_string_equal(bounce_kind_name(r->kind), "soft");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "kumi@example.com", "4.0.0", BOUNCE_SOFT);
	assert_diag(r, 0, "Connection timed out");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------- Sendmail */

static void test_sendmail(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: Mail Delivery Subsystem <MAILER-DAEMON@mail.example.org>\n"
	       "To: <" VERP ">\n"
	       "Subject: Returned mail: see transcript for details\n"
	       "Auto-Submitted: auto-generated (failure)\n"
	       "Content-Type: text/plain\n\n"
	       "The original message was received at Mon, 7 Dec 2026 09:00:02 +0900\n"
	       "from ward.example.jp [192.0.2.1]\n\n"
	       "   ----- The following addresses had permanent fatal errors -----\n"
	       "<jiro@example.org>\n"
	       "    (reason: 550 5.1.1 <jiro@example.org>... User unknown)\n\n"
	       "   ----- Transcript of session follows -----\n"
	       "... while talking to mx.example.org.:\n"
	       ">>> DATA\n"
	       "<<< 550 5.1.1 <jiro@example.org>... User unknown\n"
	       "550 5.1.1 <jiro@example.org>... User unknown\n"
	       "<<< 503 5.0.0 Need RCPT (recipient)\n\n"
	       "   ----- Original message follows -----\n\n");
	put_original(g, "jiro@example.org");
	r = parse(g);
	assert_string_equal(r->format, "sendmail");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "jiro@example.org", "5.1.1", BOUNCE_HARD);
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ---------------------------------------------------------------- qmail */

static void test_qmail(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mail.example.net\n"
	       "To: " VERP "\n"
	       "Subject: failure notice\n\n"
	       "Hi. This is the qmail-send program at mail.example.net.\n"
	       "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
	       "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
	       "<saburo@example.net>:\n"
	       "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
	       "<shiori@example.net>:\n"
	       "198.51.100.9 failed after I sent the message.\n"
	       "Remote host said: 552 sorry, mailbox is full\n\n"
	       "--- Below this line is a copy of the message.\n\n");
	put_original(g, "saburo@example.net");
	r = parse(g);
	assert_string_equal(r->format, "qmail");
	assert_int_equal(r->nrcpt, 2);
	assert_rcpt(r, 0, "saburo@example.net", "5.1.1", BOUNCE_HARD);
	assert_rcpt(r, 1, "shiori@example.net", "5.2.2", BOUNCE_SOFT);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ---------------------------------------------------------------- Yahoo */

static void test_yahoo(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@yahoo.com\n"
	       "To: " VERP "\n"
	       "Subject: Failure Notice\n"
	       "Content-Type: text/plain; charset=us-ascii\n\n"
	       "Sorry, we were unable to deliver your message to the following address.\n\n"
	       "<shiro@yahoo.com>:\n"
	       "554: delivery error: dd This user doesn't have a yahoo.com account (shiro@yahoo.com) [0] - mta1004.mail.gq1.yahoo.com\n\n"
	       "--- Below this line is a copy of the message.\n\n");
	put_original(g, "shiro@yahoo.com");
	r = parse(g);
	assert_string_equal(r->format, "yahoo");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "shiro@yahoo.com", "5.1.1", BOUNCE_HARD);
	assert_diag(r, 0, "554: delivery error");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------- the Japanese carriers */

/* docomo: ISO-2022-JP text, the address after a 宛先 label. */
static void test_docomo_iso2022jp(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: Mail Delivery Subsystem <MAILER-DAEMON@docomo.ne.jp>\n"
	       "To: " VERP "\n"
	       "Subject: ");
	put_word(g, "ISO-2022-JP", "メール送信エラー");
	put(g, "\nMIME-Version: 1.0\n"
	       "Content-Type: text/plain; charset=ISO-2022-JP\n"
	       "Content-Transfer-Encoding: 7bit\n\n");
	put_conv(g, "ISO-2022-JP",
		 "お客様が送信されたメールは、以下の宛先に配信できませんでした。\n\n"
		 "宛先: ichiro.tanaka@docomo.ne.jp\n"
		 "理由: 宛先のメールアドレスが見つかりません。\n\n"
		 "------ 元のメッセージ ------\n");
	put_original(g, "ichiro.tanaka@docomo.ne.jp");
	r = parse(g);
	assert_string_equal(r->format, "docomo");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "ichiro.tanaka@docomo.ne.jp", "5.1.1", BOUNCE_HARD);
	assert_diag(r, 0, "見つかりません");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* au (KDDI): the ezweb.ne.jp form, English with a code, and an au.com
 * address with Japanese words in UTF-8 base64. */
static void test_au(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@ezweb.ne.jp\n"
	       "To: " VERP "\n"
	       "Subject: Mail System Error - Returned Mail\n"
	       "Content-Type: text/plain; charset=us-ascii\n\n"
	       "The user(s) account is disabled.\n\n"
	       "<goro@ezweb.ne.jp>: 550 #5.1.0 Address rejected.\n\n"
	       "--- the header of the original message is following. ---\n");
	put_original(g, "goro@ezweb.ne.jp");
	r = parse(g);
	assert_string_equal(r->format, "au");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "goro@ezweb.ne.jp", "5.1.0", BOUNCE_HARD);
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);

	g = g_string_new(NULL);
	put(g, "From: =?UTF-8?B?44Oh44O844Or6YWN5L+h44K344K544OG44Og?= <postmaster@au.com>\n"
	       "To: " VERP "\n"
	       "Subject: =?UTF-8?B?6YWN5L+h44Ko44Op44O8?=\n"
	       "Content-Type: text/plain; charset=UTF-8\n"
	       "Content-Transfer-Encoding: base64\n\n");
	{
		const char *t = "メールを配信できませんでした。\n\n"
				"宛先アドレス：rokuro@au.com\n"
				"受信者のメールボックスの容量がいっぱいです。\n";
		gchar *b = g_base64_encode((const guchar *)t, strlen(t));
		put(g, "%s\n", b);
		g_free(b);
	}
	r = parse(g);
	assert_string_equal(r->format, "au");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "rokuro@au.com", "5.2.2", BOUNCE_SOFT);
	assert_string_equal(bounce_kind_name(r->kind), "soft");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* SoftBank: Shift_JIS 8bit text, a full-width colon after the label. */
static void test_softbank_shift_jis(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: Postmaster@softbank.ne.jp\n"
	       "To: " VERP "\n"
	       "Subject: ");
	put_word(g, "ISO-2022-JP", "配信不能通知");
	put(g, "\nMIME-Version: 1.0\n"
	       "Content-Type: text/plain; charset=Shift_JIS\n"
	       "Content-Transfer-Encoding: 8bit\n\n");
	put_conv(g, "CP932",
		 "このメールは送信できませんでした。\n\n"
		 "宛先アドレス：nanami@i.softbank.jp\n"
		 "理由：受信拒否設定により、お客様のメールは受信されませんでした。\n");
	r = parse(g);
	assert_string_equal(r->format, "softbank");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "nanami@i.softbank.jp", "5.7.1", BOUNCE_HARD);
	assert_diag(r, 0, "受信拒否");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* -------------------------------------------------------- auto-replies */

static void test_auto_replies(void **state)
{
	const char *heads[] = {
		"Auto-Submitted: auto-replied\nSubject: Re: notice\n",
		"X-Autoreply: yes\nSubject: Re: notice\n",
		"Precedence: auto_reply\nSubject: Re: notice\n",
		"Subject: Automatic reply: notice\nX-Auto-Response-Suppress: All\n",
		"Subject: Out of Office: notice\n",
		NULL, /* 自動応答, ISO-2022-JP word */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
		GString *g = g_string_new(NULL);
		struct bounce_result *r;
		put(g, "From: Yamada Taro <taro@example.co.jp>\nTo: " VERP "\n");
		if (heads[i] != NULL) {
			put(g, "%s", heads[i]);
		} else {
			put(g, "Subject: ");
			put_word(g, "ISO-2022-JP", "自動応答: 令和8年度 住民税決定通知");
			put(g, "\n");
		}
		put(g, "Content-Type: text/plain; charset=UTF-8\n\n"
		       "12月10日まで不在にしております。戻り次第ご連絡いたします。\n");
		r = parse(g);
		assert_string_equal(bounce_kind_name(r->kind), "auto-reply");
		assert_int_equal(r->is_bounce, 0);
		assert_int_equal(r->nrcpt, 0);
		assert_verp_ours(r);
		free(r);
		g_string_free(g, TRUE);
	}
}

/* ------------------------------------------------------ ARF complaints */

static void test_arf_complaint(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: <staff@fbl.example.net>\n"
	       "To: <fbl@ward.example.jp>\n"
	       "Subject: FW: notice\n"
	       "MIME-Version: 1.0\n"
	       "Content-Type: multipart/report; report-type=feedback-report;\n"
	       "     boundary=\"part1_13d.2e68ed54_boundary\"\n\n"
	       "--part1_13d.2e68ed54_boundary\n"
	       "Content-Type: text/plain; charset=\"US-ASCII\"\n\n"
	       "This is an email abuse report for an email message received from IP\n"
	       "192.0.2.1 on Mon, 07 Dec 2026 09:00:00 +0900.\n"
	       "For more information about this format please see\n"
	       "https://www.rfc-editor.org/rfc/rfc5965\n\n"
	       "--part1_13d.2e68ed54_boundary\n"
	       "Content-Type: message/feedback-report\n\n"
	       "Feedback-Type: abuse\n"
	       "User-Agent: SomeGenerator/1.0\n"
	       "Version: 1\n"
	       "Original-Mail-From: <" VERP ">\n"
	       "Original-Rcpt-To: <Kaori@Example.NET>\n"
	       "Arrival-Date: Mon, 07 Dec 2026 09:00:00 +0900\n"
	       "Reporting-MTA: dns; mail.fbl.example.net\n"
	       "Source-IP: 192.0.2.1\n\n"
	       "--part1_13d.2e68ed54_boundary\n"
	       "Content-Type: message/rfc822\n"
	       "Content-Disposition: inline\n\n");
	put_original(g, "Kaori@Example.NET");
	put(g, "\n--part1_13d.2e68ed54_boundary--\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "complaint");
	assert_int_equal(r->is_bounce, 0);
	assert_string_equal(r->format, "arf");
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "Kaori@example.net");
	assert_string_equal(r->rcpt[0].diag, "abuse");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------ ordinary mail */

static void test_not_bounce(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	/* a resident answers the notice; quotes words a bounce would use */
	put(g, "From: Yamada Taro <taro@example.co.jp>\n"
	       "To: " VERP "\n"
	       "Subject: Re: notice\n"
	       "Content-Type: text/plain; charset=UTF-8\n\n"
	       "お世話になります。\n"
	       "先月の通知は undeliverable と表示されましたが、今回は届きました。\n"
	       "hanako@example.co.jp: こちらにも送ってください。\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "not-bounce");
	assert_int_equal(r->nrcpt, 0);
	assert_string_equal(r->format, "");
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);

	/* no VERP at all, a plain newsletter */
	g = g_string_new(NULL);
	put(g, "From: news@example.org\nTo: info@ward.example.jp\nSubject: Hello\n"
	       "Precedence: bulk\n\nHello.\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "not-bounce");
	assert_int_equal(r->verp.present, 0);
	free(r);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------------ VERP */

static void test_verp_forms(void **state)
{
	static const char *const bad[] = {
		"bounce+42-7@ward.example.jp",                        /* no MAC */
		"bounce+42-7-short@ward.example.jp",                  /* MAC too short */
		"bounce+42-7-" MAC MAC MAC "@ward.example.jp",        /* MAC too long */
		"bounce+0-7-" MAC "@ward.example.jp",                 /* batch 0 */
		"bounce+042-7-" MAC "@ward.example.jp",               /* leading zero */
		"bounce+42-0-" MAC "@ward.example.jp",                /* sequence 0 */
		"bounce+18446744073709551616-7-" MAC "@ward.example.jp", /* 2^64 */
		"bounce+42-2147483648-" MAC "@ward.example.jp",       /* 2^31 */
		"bounce+42-7-" MAC "-x@ward.example.jp",              /* a fourth field */
		"bounce+42-7-k7q2m4x9p3r8t6v1w5y0z2a4b!@ward.example.jp", /* not alphanumeric */
		"bounce+-42-7-" MAC "@ward.example.jp",               /* a sign */
		"bounce+4a-7-" MAC "@ward.example.jp",                /* not decimal */
		"bounce+42--" MAC "@ward.example.jp",                 /* empty sequence */
		("bounce+42-7-" MAC),                                 /* no domain */
	};
	struct bounce_verp v;
	(void)state;
	assert_int_equal(bounce_verp_parse(VERP, &v), 1);
	assert_true(v.valid && v.present && v.batch == 42 && v.seq == 7);
	/* the largest numbers leave room for a 25-letter MAC in 64 octets */
	assert_int_equal(bounce_verp_parse("BOUNCE+18446744073709551615-2147483647-"
					   "K7Q2M4X9P3R8T6V1W5Y0Z2A4B@Ward.Example.JP", &v), 1);
	assert_true(v.batch == UINT64_MAX);
	assert_int_equal(v.seq, 2147483647);
	assert_string_equal(v.mac, "k7q2m4x9p3r8t6v1w5y0z2a4b");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&v, 0x55, sizeof(v));
		if (bounce_verp_parse(bad[i], &v) != 0)
			fail_msg("accepted %s", bad[i]);
		assert_int_equal(v.present, 1);
		assert_int_equal(v.valid, 0);
		assert_true(v.batch == 0);
		assert_int_equal(v.seq, 0);
		assert_string_equal(v.mac, "");
	}
	assert_int_equal(bounce_verp_parse("taro@example.jp", &v), 0);
	assert_int_equal(v.present, 0);
}

/* A bounce whose return path was forged: the fields are refused, the
 * report itself is still read. */
static void test_forged_verp_bounce(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mail.example.org (Mail Delivery System)\n"
	       "X-Original-To: bounce+42-7-<script>@ward.example.jp\n"
	       "Delivered-To: bounce+42-07-" MAC "@ward.example.jp\n"
	       "To: bounce+42-8-" MAC "@ward.example.jp\n"
	       "Subject: Undelivered Mail Returned to Sender\n\n"
	       "This is the mail system at host mail.example.org.\n\n"
	       "<victim@example.org>: host mx.example.org[192.0.2.9] said: 550 5.1.1 unknown\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_rcpt(r, 0, "victim@example.org", "5.1.1", BOUNCE_HARD);
	assert_int_equal(r->verp.present, 1);
	assert_int_equal(r->verp.valid, 0);
	assert_true(r->verp.batch == 0);
	assert_int_equal(r->verp.seq, 0);
	assert_string_equal(r->verp.addr, "bounce+42-07-" MAC "@ward.example.jp");
	free(r);
	g_string_free(g, TRUE);
}

/* --------------------------------------------------------------- nesting */

/* A member of staff forwards a bounce to the bounce address as an
 * attachment: the inner report is read. */
static void test_forwarded_bounce(void **state)
{
	GString *g = g_string_new(NULL), *inner = postfix_dsn();
	struct bounce_result *r;
	(void)state;
	put(g, "From: Sato <sato@ward.example.jp>\n"
	       "To: bounces@ward.example.jp\n"
	       "Subject: Fwd: Undelivered Mail Returned to Sender\n"
	       "Content-Type: multipart/mixed; boundary=\"fw\"\n\n"
	       "--fw\nContent-Type: text/plain; charset=UTF-8\n\n転送します。\n\n"
	       "--fw\nContent-Type: message/rfc822\n\n%s\n--fw--\n", inner->str);
	r = parse(g);
	check_postfix(r);
	free(r);
	g_string_free(g, TRUE);
	g_string_free(inner, TRUE);
}

/* A report carrying our whole notice (multipart, with addresses at line
 * starts and failure words): only the report's recipient counts. */
static void test_nested_original(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\n"
	       "Subject: Returned mail: User unknown\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"o1\"\n\n"
	       "--o1\nContent-Type: text/plain\n\nThe message could not be delivered.\n\n"
	       "--o1\nContent-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mta.example.org\n\n"
	       "Final-Recipient: rfc822; miki@example.org\nAction: failed\nStatus: 5.1.1\n\n"
	       "--o1\nContent-Type: message/rfc822\n\n"
	       "Return-Path: <" VERP ">\nFrom: notice@ward.example.jp\nTo: miki@example.org\n"
	       "Subject: notice\nContent-Type: multipart/alternative; boundary=\"o2\"\n\n"
	       "--o2\nContent-Type: text/plain\n\n"
	       "other@example.org: this address does not exist (5.1.1 in a quote)\n"
	       "Undelivered mail is kept.\n\n"
	       "--o2\nContent-Type: message/rfc822\n\n"
	       "From: MAILER-DAEMON@deeper.example.org\nSubject: Undelivered Mail\n\n"
	       "<deep@example.org>: 550 5.1.1 no\n\n"
	       "--o2--\n\n--o1--\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "miki@example.org", "5.1.1", BOUNCE_HARD);
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------- hostile */

static void test_many_recipients(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\nSubject: Returned mail\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"m\"\n\n"
	       "--m\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mta.example.org\n\n");
	for (int i = 0; i < 5000; i++)
		put(g, "Final-Recipient: rfc822; user%d@example.org\nAction: failed\nStatus: 5.1.1\n\n", i);
	put(g, "--m--\n");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_int_equal(r->nrcpt, BOUNCE_RCPT_MAX);
	assert_int_equal(r->truncated, 1);
	assert_rcpt(r, 0, "user0@example.org", "5.1.1", BOUNCE_HARD);
	assert_rcpt(r, BOUNCE_RCPT_MAX - 1, "user63@example.org", "5.1.1", BOUNCE_HARD);
	free(r);
	g_string_free(g, TRUE);

	/* thousands of recipient lines in a text notice */
	g = g_string_new(NULL);
	put(g, "From: MAILER-DAEMON@mx.example.com\nTo: " VERP "\n"
	       "Subject: Mail delivery failed: returning message to sender\n\n"
	       "This message was created automatically by mail delivery software.\n\n");
	for (int i = 0; i < 20000; i++)
		put(g, "  u%d@example.com\n    550 5.1.1 unknown\n", i);
	r = parse(g);
	assert_int_equal(r->nrcpt, BOUNCE_RCPT_MAX);
	assert_int_equal(r->truncated, 1);
	assert_string_equal(r->format, "exim");
	free(r);
	g_string_free(g, TRUE);
}

static void test_huge_headers(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@mail.example.org\nTo: " VERP "\nX-Long: ");
	for (int i = 0; i < 300000; i++)
		g_string_append(g, "aaaa");
	g_string_append(g, "\n");
	for (int i = 0; i < 50000; i++)
		put(g, "X-H%d: v\n", i);
	put(g, "Subject: Undelivered Mail Returned to Sender\n\n"
	       "This is the mail system at host mail.example.org.\n\n"
	       "<big@example.org>: host mx said: 550 5.1.1 unknown user\n");
	r = parse(g);
	/* the header block is read up to its cap: the late Subject may be lost,
	 * but the daemon sender and the words still make it a bounce */
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_rcpt(r, 0, "big@example.org", "5.1.1", BOUNCE_HARD);
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);

	/* a subject of a megabyte, and one line of 3 MB of body */
	g = g_string_new(NULL);
	put(g, "From: a@example.org\nSubject: ");
	for (int i = 0; i < 100000; i++)
		g_string_append(g, "=?UTF-8?B?6Ieq?= ");
	g_string_append(g, "\n\n");
	for (int i = 0; i < 3 << 18; i++)
		g_string_append(g, "xxx@");
	r = parse(g);
	assert_string_equal(bounce_kind_name(r->kind), "not-bounce");
	assert_int_equal(r->truncated, 1);
	free(r);
	g_string_free(g, TRUE);
}

static void test_deep_nesting(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	/* 5000 nested message/rfc822: read as one text, no stack spent */
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\nSubject: Undelivered Mail\n");
	for (int i = 0; i < 5000; i++)
		g_string_append(g, "Content-Type: message/rfc822\n\n");
	g_string_append(g, "Subject: x\n\n<z@example.org>: 550 5.1.1 unknown\n");
	r = parse(g);
	assert_int_equal(r->flattened, 1);
	assert_string_equal(bounce_kind_name(r->kind), "hard");
	assert_rcpt(r, 0, "z@example.org", "5.1.1", BOUNCE_HARD);
	assert_verp_ours(r);
	free(r);
	g_string_free(g, TRUE);

	/* 200 nested multiparts (under the scan limit): the walk stops at its
	 * depth, and the report deep inside is not reached */
	g = g_string_new(NULL);
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\nSubject: x\n");
	for (int i = 0; i < 120; i++)
		put(g, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
	put(g, "Content-Type: message/delivery-status\n\n"
	       "Final-Recipient: rfc822; deep@example.org\nAction: failed\nStatus: 5.1.1\n\n");
	r = parse(g);
	assert_int_equal(r->flattened, 0);
	assert_int_equal(r->nrcpt, 0);
	assert_string_equal(bounce_kind_name(r->kind), "not-bounce");
	free(r);
	g_string_free(g, TRUE);
}

static void test_garbage(void **state)
{
	struct bounce_result *r = calloc(1, sizeof(*r));
	struct error e = { { 0 }, 0 };
	uint8_t junk[4096];
	(void)state;
	assert_int_equal(bounce_parse(NULL, 0, r, &e), 0);
	assert_string_equal(bounce_kind_name(r->kind), "not-bounce");
	assert_int_equal(bounce_parse(NULL, 5, r, &e), -1);
	assert_int_equal(bounce_parse((const uint8_t *)"x", 1, NULL, &e), -1);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + (i >> 3));
	assert_int_equal(bounce_parse(junk, sizeof(junk), r, &e), 0);
	/* NULs, lone CRs and controls in a report: cleaned away */
	{
		static const char m[] = "From: MAILER-DAEMON@x.example.org\r\nTo: " VERP "\r\n"
					"Subject: Returned mail\r\n\r\n"
					"<n@example.org>: 550 5.1.1 bad\x01\x1b[31m\rzz\0tail\x7f\n";
		assert_int_equal(bounce_parse((const uint8_t *)m, sizeof(m) - 1, r, &e), 0);
		assert_int_equal(r->nrcpt, 1);
		assert_string_equal(r->rcpt[0].addr, "n@example.org");
		check_clean(r->rcpt[0].diag);
	}
	free(r);
}

/* Found by fuzzing: a 2.x.x code in a notice's text is no failure status,
 * and an unusable Final-Recipient gives way to Original-Recipient. */
static void test_fuzz_findings(void **state)
{
	GString *g = g_string_new(NULL);
	struct bounce_result *r;
	(void)state;
	put(g, "From: MAILER-DAEMON@relay.example.net\nTo: " VERP "\n"
	       "Subject: Undelivered Mail Returned to Sender\n\n"
	       "This is the mail system at host relay.example.net.\n"
	       "Earlier: 250 2.0.0 Ok: queued as 4QzX1\n\n"
	       "<ken@example.net>: host mx.example.net said: Recipient address rejected\n");
	r = parse(g);
	assert_rcpt(r, 0, "ken@example.net", "5.1.1", BOUNCE_HARD);
	free(r);
	g_string_free(g, TRUE);

	g = g_string_new(NULL);
	put(g, "From: MAILER-DAEMON@mta.example.org\nTo: " VERP "\nSubject: Returned mail\n"
	       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\n\n"
	       "--r\nContent-Type: message/delivery-status\n\n"
	       "Reporting-MTA: dns; mta.example.org\n\n"
	       "Final-Recipient: rfc822; f@es\nOriginal-Recipient: rfc822; fumi@example.org\n"
	       "Action: failed\nStatus: 5.7.1\n\n--r--\n");
	r = parse(g);
	assert_int_equal(r->nrcpt, 1);
	assert_rcpt(r, 0, "fumi@example.org", "5.7.1", BOUNCE_HARD);
	free(r);
	g_string_free(g, TRUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postfix_dsn_lf_and_crlf),
		cmocka_unit_test(test_postfix_text_only),
		cmocka_unit_test(test_rfc3464_delayed_soft),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_success_dsn),
		cmocka_unit_test(test_exchange_o365),
		cmocka_unit_test(test_exchange_html_only),
		cmocka_unit_test(test_gmail),
		cmocka_unit_test(test_exim),
		cmocka_unit_test(test_exim_delay),
		cmocka_unit_test(test_sendmail),
		cmocka_unit_test(test_qmail),
		cmocka_unit_test(test_yahoo),
		cmocka_unit_test(test_docomo_iso2022jp),
		cmocka_unit_test(test_au),
		cmocka_unit_test(test_softbank_shift_jis),
		cmocka_unit_test(test_auto_replies),
		cmocka_unit_test(test_arf_complaint),
		cmocka_unit_test(test_not_bounce),
		cmocka_unit_test(test_verp_forms),
		cmocka_unit_test(test_forged_verp_bounce),
		cmocka_unit_test(test_forwarded_bounce),
		cmocka_unit_test(test_nested_original),
		cmocka_unit_test(test_many_recipients),
		cmocka_unit_test(test_huge_headers),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fuzz_findings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
