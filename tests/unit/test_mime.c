/*
 * test_mime.c — unit tests of the intake mail reader (gateway/mime*.c).
 * Each message is built here byte for byte as the client named writes it
 * (headers, folding, charsets, transfer encodings, boundaries): Outlook
 * (ISO-2022-JP, RFC 2047 words inside quoted parameters, CP932 CSV as
 * application/vnd.ms-excel), Thunderbird (RFC 2231 filename*, format=flowed),
 * Apple Mail (inline PDFs in multipart/mixed and multipart/related, NFD
 * names), Gmail (mixed around alternative, UTF-8 base64), a forward as
 * message/rfc822, Outlook TNEF, HTML-only bodies; then the limits, hostile
 * file names and broken structure; and the tree walk and header fields on
 * their own, as a bounce reader uses them.  Runs as a cmocka test binary.
 *
 * Standards: RFC 5322, 2045-2049, 2047, 2231, 2183, 3676, 1468.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>
#include <glib.h>

#include "gateway/mime.h"
#include "lib/mime_charset.h"
#include "lib/mime_clean.h"
#include "lib/mime_header.h"
#include "lib/mime_html.h"
#include "lib/mime_tree.h"

/* ----------------------------------------------------------- builders */

/* Append with printf formatting. */
static void put(GString *g, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void put(GString *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	g_string_append_vprintf(g, fmt, ap);
	va_end(ap);
}

/* Base64 of n bytes in lines of width characters, each ending in eol. */
static void put_b64(GString *g, const void *d, size_t n, int width, const char *eol)
{
	gchar *b = g_base64_encode(d, n);
	size_t len = strlen(b);
	for (size_t i = 0; i < len; i += (size_t)width) {
		g_string_append_len(g, b + i, (gssize)(len - i < (size_t)width ? len - i : (size_t)width));
		g_string_append(g, eol);
	}
	g_free(b);
}

/* Quoted-printable (RFC 2045 6.7) of n bytes, soft breaks before 76. */
static void put_qp(GString *g, const void *d, size_t n, const char *eol)
{
	const uint8_t *p = d;
	int col = 0;
	for (size_t i = 0; i < n; i++) {
		char tmp[4];
		uint8_t c = p[i];
		if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
			g_string_append(g, eol);
			col = 0;
			i++;
			continue;
		}
		if (c == '\n') {
			g_string_append(g, eol);
			col = 0;
			continue;
		}
		if ((c >= 33 && c <= 126 && c != '=') || (c == ' ' && i + 1 < n && p[i + 1] != '\r' && p[i + 1] != '\n'))
			snprintf(tmp, sizeof(tmp), "%c", c);
		else
			snprintf(tmp, sizeof(tmp), "=%02X", c);
		if (col + (int)strlen(tmp) > 75) {
			g_string_append(g, "=");
			g_string_append(g, eol);
			col = 0;
		}
		g_string_append(g, tmp);
		col += (int)strlen(tmp);
	}
	g_string_append(g, eol);
}

/* text in another charset (g_convert); the caller g_free()s. */
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

/* An RFC 2047 B word of text converted to charset. */
static void put_word(GString *g, const char *charset, const char *utf8)
{
	gsize n;
	char *s = conv(utf8, charset, &n);
	gchar *b = g_base64_encode((const guchar *)s, n);
	put(g, "=?%s?B?%s?=", charset, b);
	g_free(b);
	g_free(s);
}

/* ISO-2022-JP text as a string (JIS bytes are ASCII). */
static char *jis(const char *utf8)
{
	return conv(utf8, "ISO-2022-JP", NULL);
}

static struct mime_message *parse_ok(const GString *g, const struct mime_limits *lim)
{
	struct mime_message *m = NULL;
	struct error e = { { 0 }, 0 };
	if (mime_parse((const uint8_t *)g->str, g->len, lim, &m, &e) != 0)
		fail_msg("mime_parse failed: %s", e.msg);
	assert_non_null(m);
	return m;
}

static const char *parse_err(const GString *g, const struct mime_limits *lim)
{
	static struct error e;
	struct mime_message *m = (struct mime_message *)1;
	memset(&e, 0, sizeof(e));
	assert_int_equal(mime_parse((const uint8_t *)g->str, g->len, lim, &m, &e), -1);
	assert_null(m);
	assert_int_equal(e.temporary, 0);
	assert_true(e.msg[0] != '\0');
	return e.msg;
}

static void assert_contains(const char *s, const char *part)
{
	if (s == NULL || strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s ? s : "(null)", part);
}

static void assert_att(const struct mime_attachment *a, const char *name, const char *type,
		       const void *data, size_t len)
{
	if (name == NULL)
		assert_null(a->filename);
	else
		assert_string_equal(a->filename, name);
	assert_string_equal(a->content_type, type);
	assert_int_equal(a->len, len);
	assert_memory_equal(a->data, data, len);
	assert_int_equal(a->data[len], 0);
}

/* Test data: a CP932 CSV as Excel saves it, and bytes standing for a PDF
 * (every byte value, so a transfer-encoding slip shows). */
static const char csv_utf8[] = "宛名番号,氏名,メールアドレス\r\n"
			       "00012345,髙橋　一郎,ichiro@example.jp\r\n"
			       "00012346,渡邊　花子,hanako@example.jp\r\n";
static uint8_t pdf_bytes[600];

static int setup(void **state)
{
	memcpy(pdf_bytes, "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n", 15);
	for (size_t i = 15; i < sizeof(pdf_bytes); i++)
		pdf_bytes[i] = (uint8_t)(i * 7);
	memcpy(pdf_bytes + sizeof(pdf_bytes) - 6, "%%EOF\n", 6);
	return 0;
}

/* ------------------------------------------------------------- clients */

/* Outlook (Microsoft 365 / Exchange) on a Japanese Windows: ISO-2022-JP
 * everywhere, subject in two B words folded with a tab, a 7bit plain part
 * with an NEC special character (①, row 13: 0x2D21), QP HTML, attachments
 * named with RFC 2047 inside quotes, the CSV as application/vnd.ms-excel. */
static void test_outlook(void **state)
{
	GString *g = g_string_new(NULL);
	gsize csvlen;
	char *csv = conv(csv_utf8, "CP932", &csvlen);
	char *body1 = jis("区民の皆さまへ\r\n住民税の決定通知をお送りします。");
	char *body2 = jis("\r\n問い合わせ：税務課\r\n");
	char *html = jis("<p class=MsoNormal>区民の皆さまへ<o:p></o:p></p>");

	put(g, "Received: from TYCPR01MB1234.jpnprd01.prod.outlook.com ([fe80::1]) by\r\n"
	       " TYCPR01MB1234.jpnprd01.prod.outlook.com ([fe80::1%%4]) with mapi id 15.20.7452.049;\r\n"
	       " Tue, 1 Apr 2025 09:12:33 +0000\r\n");
	put(g, "Authentication-Results: mx.tayori.example;\r\n\tdkim=pass header.d=city.example.lg.jp;\r\n"
	       "\tspf=pass smtp.mailfrom=city.example.lg.jp\r\n");
	put(g, "Authentication-Results: relay.example; dmarc=pass\r\n");
	put(g, "From: ");
	put_word(g, "iso-2022-jp", "山田 太郎");
	put(g, " <Yamada.Taro@City.Example.lg.jp>\r\n");
	put(g, "To: \"intake@tayori.example\" <intake@tayori.example>\r\nSubject: ");
	put_word(g, "iso-2022-jp", "令和7年度　住民税");
	put(g, "\r\n\t");
	put_word(g, "iso-2022-jp", "決定通知（第1期）");
	put(g, "\r\nThread-Topic: x\r\nThread-Index: AQHahE4Vb3PjQxS0Z0W8Yh4kG9Tg7A==\r\n"
	       "Date: Tue, 1 Apr 2025 09:12:33 +0000\r\n"
	       "Message-ID: <TYCPR01MB1234567ABCDEF0123@TYCPR01MB1234.jpnprd01.prod.outlook.com>\r\n"
	       "Accept-Language: ja-JP, en-US\r\nContent-Language: ja-JP\r\nX-MS-Has-Attach: yes\r\n"
	       "X-MS-TNEF-Correlator:\r\n"
	       "Content-Type: multipart/mixed;\r\n\tboundary=\"_004_TYCPR01MB1234567ABCDEF0123_\"\r\n"
	       "MIME-Version: 1.0\r\n\r\n"
	       "--_004_TYCPR01MB1234567ABCDEF0123_\r\n"
	       "Content-Type: multipart/alternative;\r\n\tboundary=\"_000_TYCPR01MB1234567ABCDEF0123_\"\r\n\r\n"
	       "--_000_TYCPR01MB1234567ABCDEF0123_\r\n"
	       "Content-Type: text/plain; charset=\"iso-2022-jp\"\r\n"
	       "Content-Transfer-Encoding: 7bit\r\n\r\n");
	put(g, "%s\x1B$B-!\x1B(B%s", body1, body2); /* ① as JIS 0x2D21 */
	{
		char *sig = jis("山田");
		put(g, "-- \r\n%s\r\n", sig);
		g_free(sig);
	}
	put(g, "\r\n--_000_TYCPR01MB1234567ABCDEF0123_\r\n"
	       "Content-Type: text/html; charset=\"iso-2022-jp\"\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	put_qp(g, html, strlen(html), "\r\n");
	put(g, "\r\n--_000_TYCPR01MB1234567ABCDEF0123_--\r\n\r\n"
	       "--_004_TYCPR01MB1234567ABCDEF0123_\r\n"
	       "Content-Type: application/vnd.ms-excel;\r\n\tname=\"");
	put_word(g, "iso-2022-jp", "宛名一覧.csv");
	put(g, "\"\r\nContent-Description: ");
	put_word(g, "iso-2022-jp", "宛名一覧.csv");
	put(g, "\r\nContent-Disposition: attachment;\r\n\tfilename=\"");
	put_word(g, "iso-2022-jp", "宛名一覧.csv");
	put(g, "\"; size=%zu;\r\n\tcreation-date=\"Tue, 01 Apr 2025 09:10:00 GMT\";\r\n"
	       "\tmodification-date=\"Tue, 01 Apr 2025 09:12:33 GMT\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n", csvlen);
	put_b64(g, csv, csvlen, 76, "\r\n");
	put(g, "\r\n--_004_TYCPR01MB1234567ABCDEF0123_\r\n"
	       "Content-Type: application/pdf;\r\n\tname=\"");
	put_word(g, "iso-2022-jp", "通知書.pdf");
	put(g, "\"\r\nContent-Disposition: attachment;\r\n\tfilename=\"");
	put_word(g, "iso-2022-jp", "通知書.pdf");
	put(g, "\"; size=%zu\r\nContent-Transfer-Encoding: base64\r\n\r\n", sizeof(pdf_bytes));
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 76, "\r\n");
	put(g, "\r\n--_004_TYCPR01MB1234567ABCDEF0123_--\r\n");

	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->from_addr, "yamada.taro@city.example.lg.jp");
	assert_string_equal(m->message_id,
			    "TYCPR01MB1234567ABCDEF0123@TYCPR01MB1234.jpnprd01.prod.outlook.com");
	assert_string_equal(m->subject, "令和7年度　住民税決定通知（第1期）");
	assert_string_equal(m->body, "区民の皆さまへ\n住民税の決定通知をお送りします。①\n問い合わせ：税務課");
	assert_string_equal(m->auth_results,
			    "mx.tayori.example; dkim=pass header.d=city.example.lg.jp; spf=pass "
			    "smtp.mailfrom=city.example.lg.jp\nrelay.example; dmarc=pass");
	assert_int_equal(m->has_tnef, 0);
	assert_int_equal(m->natt, 2);
	assert_att(&m->att[0], "宛名一覧.csv", "application/vnd.ms-excel", csv, csvlen);
	assert_att(&m->att[1], "通知書.pdf", "application/pdf", pdf_bytes, sizeof(pdf_bytes));
	mime_message_free(&m);
	assert_null(m);
	mime_message_free(&m);
	g_free(csv);
	g_free(body1);
	g_free(body2);
	g_free(html);
	g_string_free(g, TRUE);
}

/* Thunderbird 115: UTF-8 8bit format=flowed body with settings lines, a
 * CSV named with RFC 2231 filename*= (and an RFC 2047 name= for old
 * readers), a long PDF name in RFC 2231 continuations filename*0*=, *1*=. */
static void test_thunderbird(void **state)
{
	GString *g = g_string_new(NULL);
	gsize csvlen = strlen(csv_utf8);

	put(g, "Message-ID: <8f1c2a6e-4b7d-4c1e-9a55-0d3f2b6c7e81@city.example.lg.jp>\r\n"
	       "Date: Tue, 1 Apr 2025 18:20:05 +0900\r\n"
	       "MIME-Version: 1.0\r\n"
	       "User-Agent: Mozilla Thunderbird\r\n"
	       "Content-Language: ja\r\n"
	       "To: intake@tayori.example\r\n"
	       "From: ");
	put_word(g, "UTF-8", "佐藤");
	put(g, " <sato@city.example.lg.jp>\r\nSubject: ");
	put_word(g, "UTF-8", "固定資産税の納税通知");
	put(g, "\r\n"
	       "Content-Type: multipart/mixed; boundary=\"------------0R1AbCdEfGhIjKlMnOpQrS\"\r\n\r\n"
	       "This is a multi-part message in MIME format.\r\n"
	       "--------------0R1AbCdEfGhIjKlMnOpQrS\r\n"
	       "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
	       "Content-Transfer-Encoding: 8bit\r\n\r\n"
	       "分割: 2ページ\r\n"
	       "テスト: はい\r\n\r\n"
	       "固定資産税の納税通知です。詳しくは \r\n"
	       "https://www.city.example.lg.jp/zei/ をご覧ください。\r\n"
	       " >stuffed\r\n\r\n"
	       "-- \r\n佐藤\r\n\r\n"
	       "--------------0R1AbCdEfGhIjKlMnOpQrS\r\n"
	       "Content-Type: text/csv; charset=UTF-8;\r\n"
	       " name=\"");
	put_word(g, "UTF-8", "宛名.csv");
	put(g, "\"\r\n"
	       "Content-Disposition: attachment;\r\n"
	       " filename*=UTF-8''%%E5%%AE%%9B%%E5%%90%%8D.csv\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, csv_utf8, csvlen, 72, "\r\n");
	put(g, "--------------0R1AbCdEfGhIjKlMnOpQrS\r\n"
	       "Content-Type: application/pdf;\r\n"
	       " name*0*=UTF-8''%%E4%%BB%%A4%%E5%%92%%8C%%37%%E5%%B9%%B4%%E5%%BA%%A6%%E5%%9B;\r\n"
	       " name*1*=%%BA%%E5%%AE%%9A%%E8%%B3%%87%%E7%%94%%A3%%E7%%A8%%8E.pdf\r\n"
	       "Content-Disposition: attachment;\r\n"
	       " filename*0*=UTF-8''%%E4%%BB%%A4%%E5%%92%%8C%%37%%E5%%B9%%B4%%E5%%BA%%A6%%E5%%9B;\r\n"
	       " filename*1*=%%BA%%E5%%AE%%9A%%E8%%B3%%87%%E7%%94%%A3%%E7%%A8%%8E.pdf\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 72, "\r\n");
	put(g, "\r\n--------------0R1AbCdEfGhIjKlMnOpQrS--\r\n");

	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->from_addr, "sato@city.example.lg.jp");
	assert_string_equal(m->subject, "固定資産税の納税通知");
	/* the soft break after "詳しくは " is joined; the stuffed space goes */
	assert_string_equal(m->body, "分割: 2ページ\nテスト: はい\n\n"
				     "固定資産税の納税通知です。詳しくは "
				     "https://www.city.example.lg.jp/zei/ をご覧ください。\n>stuffed");
	assert_null(m->auth_results);
	assert_int_equal(m->natt, 2);
	assert_att(&m->att[0], "宛名.csv", "text/csv", csv_utf8, csvlen);
	assert_att(&m->att[1], "令和7年度固定資産税.pdf", "application/pdf", pdf_bytes, sizeof(pdf_bytes));
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* Apple Mail 16: the body split around an inline PDF (alternative whose
 * HTML branch is multipart/mixed), names in NFD as macOS stores them, LF
 * line ends as an .eml saved on the Mac. */
static void test_apple_mail(void **state)
{
	GString *g = g_string_new(NULL);
	/* "通知データ.pdf" with the dakuten decomposed (NFD) */
	const char *nfd = "%E9%80%9A%E7%9F%A5%E3%83%86%E3%82%99%E3%83%BC%E3%82%BF.pdf";

	put(g, "From: ");
	put_word(g, "utf-8", "鈴木");
	put(g, " <Suzuki@City.Example.lg.jp>\n"
	       "Content-Type: multipart/alternative;\n"
	       "\tboundary=\"Apple-Mail=_5B0C2E1A-7F3D-4E2B-9C1A-1F2E3D4C5B6A\"\n"
	       "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))\n"
	       "Subject: ");
	put_word(g, "utf-8", "受講決定通知");
	put(g, "\n"
	       "Message-Id: <A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF@city.example.lg.jp>\n"
	       "Date: Tue, 1 Apr 2025 10:01:02 +0900\n"
	       "To: intake@tayori.example\n"
	       "X-Mailer: Apple Mail (2.3774.600.62)\n\n\n"
	       "--Apple-Mail=_5B0C2E1A-7F3D-4E2B-9C1A-1F2E3D4C5B6A\n"
	       "Content-Transfer-Encoding: quoted-printable\n"
	       "Content-Type: text/plain;\n\tcharset=utf-8\n\n");
	put_qp(g, "受講決定のお知らせです。\n\n", strlen("受講決定のお知らせです。\n\n"), "\n");
	put(g, "\n--Apple-Mail=_5B0C2E1A-7F3D-4E2B-9C1A-1F2E3D4C5B6A\n"
	       "Content-Type: multipart/mixed;\n"
	       "\tboundary=\"Apple-Mail=_9D8C7B6A-5F4E-4D3C-2B1A-0F9E8D7C6B5A\"\n\n\n"
	       "--Apple-Mail=_9D8C7B6A-5F4E-4D3C-2B1A-0F9E8D7C6B5A\n"
	       "Content-Transfer-Encoding: quoted-printable\n"
	       "Content-Type: text/html;\n\tcharset=utf-8\n\n");
	put_qp(g, "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head>"
		  "<body style=\"overflow-wrap: break-word;\">受講決定のお知らせです。<br><br></body></html>",
	       strlen("<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head>"
		      "<body style=\"overflow-wrap: break-word;\">受講決定のお知らせです。<br><br></body></html>"),
	       "\n");
	put(g, "--Apple-Mail=_9D8C7B6A-5F4E-4D3C-2B1A-0F9E8D7C6B5A\n"
	       "Content-Disposition: inline;\n\tfilename*=utf-8''%s\n"
	       "Content-Type: application/pdf;\n\tx-unix-mode=0644;\n\tname*=utf-8''%s\n"
	       "Content-Transfer-Encoding: base64\n\n", nfd, nfd);
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 76, "\n");
	put(g, "--Apple-Mail=_9D8C7B6A-5F4E-4D3C-2B1A-0F9E8D7C6B5A\n"
	       "Content-Disposition: inline;\n\tfilename=list.csv\n"
	       "Content-Type: text/csv;\n\tx-unix-mode=0644;\n\tname=\"list.csv\"\n"
	       "Content-Transfer-Encoding: quoted-printable\n\n");
	put_qp(g, csv_utf8, strlen(csv_utf8), "\n");
	put(g, "--Apple-Mail=_9D8C7B6A-5F4E-4D3C-2B1A-0F9E8D7C6B5A\n"
	       "Content-Transfer-Encoding: 7bit\n"
	       "Content-Type: text/html;\n\tcharset=us-ascii\n\n"
	       "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=us-ascii\"></head>"
	       "<body><div></div></body></html>\n"
	       "--Apple-Mail=_9D8C7B6A-5F4E-4D3C-2B1A-0F9E8D7C6B5A--\n\n"
	       "--Apple-Mail=_5B0C2E1A-7F3D-4E2B-9C1A-1F2E3D4C5B6A--\n");

	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->from_addr, "suzuki@city.example.lg.jp");
	assert_string_equal(m->subject, "受講決定通知");
	assert_string_equal(m->body, "受講決定のお知らせです。");
	assert_int_equal(m->natt, 2);
	/* NFC: テ + U+3099 composed into デ */
	assert_att(&m->att[0], "通知データ.pdf", "application/pdf", pdf_bytes, sizeof(pdf_bytes));
	/* QP turns the CSV's CRLF into the line ends of the mail (LF here) */
	{
		gchar **lines = g_strsplit(csv_utf8, "\r\n", -1);
		gchar *lf = g_strjoinv("\n", lines);
		assert_att(&m->att[1], "list.csv", "text/csv", lf, strlen(lf));
		g_free(lf);
		g_strfreev(lines);
	}
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* Apple Mail with a signature picture: multipart/related whose HTML shows
 * an image by cid (left out) and carries an inline PDF (kept). */
static void test_apple_related(void **state)
{
	GString *g = g_string_new(NULL);
	put(g, "From: suzuki@city.example.lg.jp\n"
	       "Subject: ");
	put_word(g, "utf-8", "通知");
	put(g, "\n"
	       "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))\n"
	       "Content-Type: multipart/related;\n\ttype=\"text/html\";\n"
	       "\tboundary=\"Apple-Mail=_REL\"\n\n"
	       "--Apple-Mail=_REL\n"
	       "Content-Transfer-Encoding: 7bit\n"
	       "Content-Type: text/html;\n\tcharset=us-ascii\n\n"
	       "<html><body>See the notices.<br><img src=\"cid:logo@x\"></body></html>\n"
	       "--Apple-Mail=_REL\n"
	       "Content-Transfer-Encoding: base64\n"
	       "Content-Disposition: inline;\n\tfilename=logo.png\n"
	       "Content-Type: image/png;\n\tname=\"logo.png\"\n"
	       "Content-Id: <logo@x>\n\n"
	       "iVBORw0KGgo=\n"
	       "--Apple-Mail=_REL\n"
	       "Content-Transfer-Encoding: base64\n"
	       "Content-Disposition: inline;\n\tfilename=notices.pdf\n"
	       "Content-Type: application/pdf;\n\tname=\"notices.pdf\"\n"
	       "Content-Id: <pdf@x>\n\n");
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 76, "\n");
	put(g, "--Apple-Mail=_REL--\n");
	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->subject, "通知");
	assert_string_equal(m->body, "See the notices.");
	assert_int_equal(m->natt, 1);
	assert_att(&m->att[0], "notices.pdf", "application/pdf", pdf_bytes, sizeof(pdf_bytes));
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* Gmail: multipart/mixed around multipart/alternative, UTF-8 base64
 * subject and parts, names as RFC 2047 inside quotes, X-Attachment-Id. */
static void test_gmail(void **state)
{
	GString *g = g_string_new(NULL);
	const char *plain = "期日: 2025-05-31\r\n\r\n申請受付のお知らせです。\r\n"
			    "[申請ページ](https://www.city.example.lg.jp/shinsei)\r\n\r\n"
			    "-- \r\n高橋\r\n";
	const char *html = "<div dir=\"ltr\">期日: 2025-05-31<br><br>申請受付のお知らせです。</div>";
	gsize csvlen;
	char *csv = conv(csv_utf8, "CP932", &csvlen);

	put(g, "MIME-Version: 1.0\r\n"
	       "From: ");
	put_word(g, "UTF-8", "高橋");
	put(g, " <takahashi.city@gmail.com>\r\n"
	       "Date: Tue, 1 Apr 2025 18:05:11 +0900\r\n"
	       "Message-ID: <CAF3xK5p+abc_DEF-1234567890@mail.gmail.com>\r\n"
	       "Subject: ");
	put_word(g, "UTF-8", "申請受付のお知らせ");
	put(g, "\r\n"
	       "To: intake@tayori.example\r\n"
	       "Content-Type: multipart/mixed; boundary=\"000000000000a1b2c3d4e5f60718\"\r\n\r\n"
	       "--000000000000a1b2c3d4e5f60718\r\n"
	       "Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3d4e5f60716\"\r\n\r\n"
	       "--000000000000a1b2c3d4e5f60716\r\n"
	       "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, plain, strlen(plain), 76, "\r\n");
	put(g, "\r\n--000000000000a1b2c3d4e5f60716\r\n"
	       "Content-Type: text/html; charset=\"UTF-8\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, html, strlen(html), 76, "\r\n");
	put(g, "\r\n--000000000000a1b2c3d4e5f60716--\r\n"
	       "--000000000000a1b2c3d4e5f60718\r\n"
	       "Content-Type: text/csv; charset=\"Shift_JIS\"; name=\"");
	put_word(g, "UTF-8", "申請者一覧.csv");
	put(g, "\"\r\nContent-Disposition: attachment; filename=\"");
	put_word(g, "UTF-8", "申請者一覧.csv");
	put(g, "\"\r\nContent-Transfer-Encoding: base64\r\n"
	       "X-Attachment-Id: f_m1abcd0\r\nContent-ID: <f_m1abcd0>\r\n\r\n");
	put_b64(g, csv, csvlen, 76, "\r\n");
	put(g, "--000000000000a1b2c3d4e5f60718\r\n"
	       "Content-Type: application/pdf; name=\"notice.pdf\"\r\n"
	       "Content-Disposition: attachment; filename=\"notice.pdf\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n"
	       "X-Attachment-Id: f_m1abcd1\r\nContent-ID: <f_m1abcd1>\r\n\r\n");
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 76, "\r\n");
	put(g, "--000000000000a1b2c3d4e5f60718--\r\n");

	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->from_addr, "takahashi.city@gmail.com");
	assert_string_equal(m->message_id, "CAF3xK5p+abc_DEF-1234567890@mail.gmail.com");
	assert_string_equal(m->subject, "申請受付のお知らせ");
	assert_string_equal(m->body, "期日: 2025-05-31\n\n申請受付のお知らせです。\n"
				     "[申請ページ](https://www.city.example.lg.jp/shinsei)");
	assert_int_equal(m->natt, 2);
	assert_att(&m->att[0], "申請者一覧.csv", "text/csv", csv, csvlen);
	assert_att(&m->att[1], "notice.pdf", "application/pdf", pdf_bytes, sizeof(pdf_bytes));
	mime_message_free(&m);
	g_free(csv);
	g_string_free(g, TRUE);
}

/* The batch as an Outlook mail, forwarded as an attachment from Gmail. */
static void forwarded(GString *g, int outer_csv)
{
	put(g, "MIME-Version: 1.0\r\n"
	       "From: Chief <chief@city.example.lg.jp>\r\n"
	       "Subject: ");
	put_word(g, "UTF-8", "Fwd: 納税通知");
	put(g, "\r\n"
	       "Message-ID: <outer@mail.gmail.com>\r\n"
	       "Content-Type: multipart/mixed; boundary=\"0000OUTER\"\r\n\r\n"
	       "--0000OUTER\r\n"
	       "Content-Type: text/plain; charset=\"UTF-8\"\r\n\r\n"
	       "Forwarding the batch.\r\n\r\n");
	if (outer_csv)
		put(g, "--0000OUTER\r\n"
		       "Content-Type: text/csv; name=\"outer.csv\"\r\n"
		       "Content-Disposition: attachment; filename=\"outer.csv\"\r\n\r\n"
		       "a,b\r\n1,2\r\n\r\n");
	put(g, "--0000OUTER\r\n"
	       "Content-Type: message/rfc822; name=\"batch.eml\"\r\n"
	       "Content-Disposition: attachment; filename=\"batch.eml\"\r\n\r\n"
	       "From: ");
	put_word(g, "iso-2022-jp", "山田");
	put(g, " <yamada@city.example.lg.jp>\r\nSubject: ");
	put_word(g, "iso-2022-jp", "納税通知");
	put(g, "\r\n"
	       "Message-ID: <inner@outlook.com>\r\n"
	       "Content-Type: multipart/mixed; boundary=\"_004_INNER_\"\r\n"
	       "MIME-Version: 1.0\r\n\r\n"
	       "--_004_INNER_\r\n"
	       "Content-Type: text/plain; charset=\"iso-2022-jp\"\r\n"
	       "Content-Transfer-Encoding: 7bit\r\n\r\n");
	{
		char *b = jis("本文");
		put(g, "%s\r\n\r\n", b);
		g_free(b);
	}
	put(g, "--_004_INNER_\r\n"
	       "Content-Type: application/octet-stream; name=\"list.csv\"\r\n"
	       "Content-Disposition: attachment; filename=\"list.csv\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n"
	       "a2V5LG5hbWUNCjEsQQ0K\r\n\r\n"
	       "--_004_INNER_\r\n"
	       "Content-Type: application/x-pdf; name=\"n.pdf\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 76, "\r\n");
	put(g, "\r\n--_004_INNER_--\r\n\r\n--0000OUTER--\r\n");
}

static void test_forwarded_rfc822(void **state)
{
	GString *g = g_string_new(NULL);
	forwarded(g, 0);
	struct mime_message *m = parse_ok(g, NULL);
	/* sender and id of the mail that arrived; the batch from the inner one */
	assert_string_equal(m->from_addr, "chief@city.example.lg.jp");
	assert_string_equal(m->message_id, "outer@mail.gmail.com");
	assert_string_equal(m->subject, "納税通知");
	assert_string_equal(m->body, "本文");
	assert_int_equal(m->natt, 2);
	assert_att(&m->att[0], "list.csv", "application/octet-stream", "key,name\r\n1,A\r\n", 15);
	assert_att(&m->att[1], "n.pdf", "application/x-pdf", pdf_bytes, sizeof(pdf_bytes));
	mime_message_free(&m);
	g_string_free(g, TRUE);

	/* the outer mail carries a CSV itself: its own subject and body stay,
	 * the forwarded attachments are added */
	g = g_string_new(NULL);
	forwarded(g, 1);
	m = parse_ok(g, NULL);
	assert_string_equal(m->subject, "Fwd: 納税通知");
	assert_string_equal(m->body, "Forwarding the batch.");
	assert_int_equal(m->natt, 3);
	assert_string_equal(m->att[0].filename, "outer.csv");
	assert_string_equal(m->att[1].filename, "list.csv");
	assert_string_equal(m->att[2].filename, "n.pdf");
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* Labels the caller must not trust, and the three CSV transfer encodings. */
static void test_labels_and_encodings(void **state)
{
	GString *g = g_string_new(NULL);
	const char *csv = "key,name,email\r\n001,山田,a@example.jp\r\n";
	put(g, "From: a@example.jp\r\nSubject: labels\r\nMIME-Version: 1.0\r\n"
	       "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
	       "--B\r\nContent-Type: application/octet-stream; name=\"a.pdf\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, pdf_bytes, sizeof(pdf_bytes), 76, "\r\n");
	put(g, "--B\r\nContent-Type: application/x-pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	put_b64(g, pdf_bytes, 100, 76, "\r\n");
	put(g, "--B\r\nContent-Type: text/csv; charset=utf-8\r\n"
	       "Content-Disposition: attachment; filename=qp.csv\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	put_qp(g, csv, strlen(csv), "\r\n");
	put(g, "--B\r\nContent-Type: application/vnd.ms-excel; name=8bit.csv\r\n"
	       "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", csv);
	put(g, "--B\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n\r\nattached text\r\n--B--\r\n");
	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->body, "");
	assert_int_equal(m->natt, 5);
	assert_att(&m->att[0], "a.pdf", "application/octet-stream", pdf_bytes, sizeof(pdf_bytes));
	assert_att(&m->att[1], NULL, "application/x-pdf", pdf_bytes, 100);
	/* QP of CRLF text gives CRLF back; the last line end is the part's own */
	assert_att(&m->att[2], "qp.csv", "text/csv", csv, strlen(csv));
	assert_att(&m->att[3], "8bit.csv", "application/vnd.ms-excel", csv, strlen(csv));
	assert_att(&m->att[4], "notes.txt", "text/plain", "attached text", 13);
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* Outlook "Rich Text": the attachments inside winmail.dat. */
static void test_tnef(void **state)
{
	GString *g = g_string_new(NULL);
	put(g, "From: yamada@city.example.lg.jp\r\nSubject: tnef\r\nMIME-Version: 1.0\r\n"
	       "Content-Type: multipart/mixed;\r\n\tboundary=\"_002_TNEF_\"\r\n\r\n"
	       "--_002_TNEF_\r\nContent-Type: text/plain; charset=\"iso-2022-jp\"\r\n"
	       "Content-Transfer-Encoding: 7bit\r\n\r\nbody\r\n\r\n"
	       "--_002_TNEF_\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n"
	       "Content-Disposition: attachment; filename=\"winmail.dat\"\r\n"
	       "Content-Transfer-Encoding: base64\r\n\r\n"
	       "eJ8+IhMAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADoAAEIgAcAGAAAAElQTS5NaWNy\r\n"
	       "b3NvZnQgTWFpbC5Ob3RlADEIAQ2ABAACAAAAAgACAAEEgAEA\r\n\r\n"
	       "--_002_TNEF_--\r\n");
	struct mime_message *m = parse_ok(g, NULL);
	assert_int_equal(m->has_tnef, 1);
	assert_int_equal(m->natt, 0);
	assert_string_equal(m->body, "body");
	mime_message_free(&m);
	g_string_free(g, TRUE);

	/* named winmail.dat but labelled octet-stream: still TNEF */
	g = g_string_new("From: a@b.example\r\nContent-Type: application/octet-stream; name=WINMAIL.DAT\r\n"
			 "Content-Transfer-Encoding: base64\r\n\r\neJ8+Ig==\r\n");
	m = parse_ok(g, NULL);
	assert_int_equal(m->has_tnef, 1);
	assert_int_equal(m->natt, 0);
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------- HTML */

static void test_html_to_text(void **state)
{
	const char *html =
		"<html><head><title>T</title><style>p { color: red }</style>"
		"<script>alert('x')</script></head>\n"
		"<body><!--[if gte mso 9]><xml><o:shapedefaults/></xml><![endif]-->"
		"<p class=MsoNormal>区民の   皆さまへ<o:p></o:p></p>"
		"<p class=MsoNormal><o:p>&nbsp;</o:p></p>"
		"<div>料金&amp;手数料 &lt;税込&gt; &#x5186;&#20870; &yen;100</div>"
		"<div><br></div>"
		"<div>詳しくは<a href=\"https://example.lg.jp/a?x=1&amp;y=2\">こちら</a>へ。"
		"<a href=\"https://example.lg.jp/b\">https://example.lg.jp/b</a> "
		"<a href=\"javascript:alert(1)\">bad</a> "
		"<a href=\"https://example.lg.jp/c\"><img src=\"cid:x\"></a></div>"
		"<ul><li>一</li><li>二</li></ul>"
		"<script type=\"text/javascript\">document.write('never')</script>"
		"<table><tr><td>A</td><td>B</td></tr></table>"
		"<pre>  keep\n  this</pre>"
		"</body></html>";
	char *t = mime_html_to_text(html, strlen(html));
	assert_string_equal(t, "区民の 皆さまへ\n\n"
			       "料金&手数料 <税込> 円円 ¥100\n\n"
			       "詳しくは[こちら](https://example.lg.jp/a?x=1&y=2)へ。"
			       "https://example.lg.jp/b bad https://example.lg.jp/c\n"
			       "・一\n・二\n"
			       "A B\n"
			       "  keep\n  this");
	free(t);

	/* an unclosed <script> hides the rest; an unclosed <head> hides nothing */
	t = mime_html_to_text("a<script>b", 10);
	assert_string_equal(t, "a");
	free(t);
	t = mime_html_to_text("<head>a<br>b", 12);
	assert_string_equal(t, "a\nb");
	free(t);
	t = mime_html_to_text("1 < 2 &bogus; &#0; <", 20);
	assert_string_equal(t, "1 < 2 &bogus; \xEF\xBF\xBD <");
	free(t);
}

/* An HTML-only mail (no text/plain), e.g. Outlook set to HTML with Word's
 * markup, in ISO-2022-JP quoted-printable. */
static void test_html_only_mail(void **state)
{
	GString *g = g_string_new(NULL);
	char *html = jis("<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head>"
			 "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-2022-jp\">"
			 "<style><!-- p.MsoNormal {margin:0mm;} --></style></head>"
			 "<body lang=\"JA\"><div class=\"WordSection1\">"
			 "<p class=\"MsoNormal\">認証: otp<o:p></o:p></p>"
			 "<p class=\"MsoNormal\"><o:p>&nbsp;</o:p></p>"
			 "<p class=\"MsoNormal\">通知をご確認ください。<br>"
			 "<a href=\"https://www.city.example.lg.jp/\">区のホームページ</a><o:p></o:p></p>"
			 "</div></body></html>");
	put(g, "From: yamada@city.example.lg.jp\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
	       "Content-Type: text/html; charset=\"iso-2022-jp\"\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	put_qp(g, html, strlen(html), "\r\n");
	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->body, "認証: otp\n\n通知をご確認ください。\n"
				     "[区のホームページ](https://www.city.example.lg.jp/)");
	assert_int_equal(m->natt, 0);
	mime_message_free(&m);
	g_free(html);
	g_string_free(g, TRUE);
}

/* ---------------------------------------------------------- file names */

static void check_name(const char *in, const char *want)
{
	char *r = mime_clean_filename(in);
	if (want == NULL) {
		if (r != NULL)
			fail_msg("\"%s\" gave \"%s\", wanted none", in ? in : "(null)", r);
	} else {
		if (r == NULL)
			fail_msg("\"%s\" gave none, wanted \"%s\"", in ? in : "(null)", want);
		assert_string_equal(r, want);
	}
	free(r);
}

static void test_filenames(void **state)
{
	char longname[600];
	check_name("../../etc/passwd", "passwd");
	check_name("C:\\x\\y.pdf", "y.pdf");
	check_name("/abs/path/", NULL);
	check_name("..", NULL);
	check_name("...", NULL);
	check_name("", NULL);
	check_name(NULL, NULL);
	check_name("  list.csv  ", "list.csv");
	check_name("a\r\nb\x01\x7F.pdf", "ab.pdf");
	check_name("invoice\xE2\x80\xAE" "fdp.exe", "invoicefdp.exe"); /* U+202E */
	check_name("\xC2\x85x.csv", "x.csv");                          /* U+0085 */
	check_name("テ\xE3\x82\x99スト.pdf", "デスト.pdf");            /* NFD -> NFC */
	check_name("\x83\x65\x83\x58\x83\x67.pdf", "テスト.pdf");      /* raw CP932 */
	/* long names keep their extension, cut on a character boundary */
	memset(longname, 0, sizeof(longname));
	for (int i = 0; i < 150; i++)
		memcpy(longname + 3 * i, "あ", 3);
	memcpy(longname + 450, ".pdf", 5);
	{
		char *r = mime_clean_filename(longname);
		assert_non_null(r);
		assert_true(strlen(r) <= MIME_FILENAME_MAX);
		assert_true(g_utf8_validate(r, -1, NULL));
		assert_string_equal(r + strlen(r) - 4, ".pdf");
		assert_int_equal(strlen(r), 83 * 3 + 4); /* 251 bytes cut back to a whole あ */
		free(r);
	}

	/* through a message, in both parameters */
	GString *g = g_string_new(NULL);
	put(g, "From: a@b.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
	       "--B\r\nContent-Type: application/pdf; name=\"../../etc/passwd\"\r\n\r\nx\r\n"
	       "--B\r\nContent-Type: application/pdf\r\n"
	       "Content-Disposition: attachment; filename=\"C:\\\\Users\\\\x\\\\y.pdf\"\r\n\r\ny\r\n"
	       "--B\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; "
	       "filename*=UTF-8''..%%2F..%%2Fsecret.csv\r\n\r\nz\r\n--B--\r\n");
	struct mime_message *m = parse_ok(g, NULL);
	assert_int_equal(m->natt, 3);
	assert_string_equal(m->att[0].filename, "passwd");
	assert_string_equal(m->att[1].filename, "y.pdf");
	assert_string_equal(m->att[2].filename, "secret.csv");
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------- charsets */

static void test_charsets(void **state)
{
	char *s;
	/* ISO-2022-JP with NEC row 13 (①) and half-width kana by ESC ( I */
	s = mime_charset_to_utf8("ISO-2022-JP", (const uint8_t *)"\x1B$B-!F|\x1B(I6\x1B(Bx", 15);
	assert_string_equal(s, "①日ｶx");
	free(s);
	/* Shift_JIS labelled, CP932 sent (髙 is an IBM extension) */
	gsize n;
	char *sj = conv("髙橋～①", "CP932", &n);
	s = mime_charset_to_utf8("Shift_JIS", (const uint8_t *)sj, n);
	assert_string_equal(s, "髙橋～①");
	free(s);
	/* no label: guessed */
	s = mime_charset_to_utf8(NULL, (const uint8_t *)sj, n);
	assert_string_equal(s, "髙橋～①");
	free(s);
	g_free(sj);
	sj = conv("東京都", "EUC-JP", &n);
	s = mime_charset_to_utf8(NULL, (const uint8_t *)sj, n);
	assert_string_equal(s, "東京都");
	free(s);
	g_free(sj);
	/* a wrong label and an unknown one */
	s = mime_charset_to_utf8("utf-8", (const uint8_t *)"\x93\x8C\x8B\x9E", 4);
	assert_string_equal(s, "東京");
	free(s);
	s = mime_charset_to_utf8("x-no-such-charset", (const uint8_t *)"abc", 3);
	assert_string_equal(s, "abc");
	free(s);
	/* a UTF-8 BOM goes; undecodable bytes become U+FFFD */
	s = mime_charset_to_utf8("utf-8", (const uint8_t *)"\xEF\xBB\xBFok", 5);
	assert_string_equal(s, "ok");
	free(s);
	s = mime_charset_to_utf8("ISO-8859-1", (const uint8_t *)"caf\xE9", 4);
	assert_string_equal(s, "café");
	free(s);

	/* Raw (unencoded) ISO-2022-JP and raw Shift_JIS subjects, as old
	 * Japanese mailers send them; a Shift_JIS body without a charset. */
	GString *g = g_string_new(NULL);
	char *subj = jis("お知らせ");
	char *body = conv("本文です", "CP932", &n);
	put(g, "From: a@b.example\r\nSubject: %s\r\nContent-Type: text/plain\r\n\r\n", subj);
	g_string_append_len(g, body, (gssize)n);
	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->subject, "お知らせ");
	assert_string_equal(m->body, "本文です");
	mime_message_free(&m);
	g_string_free(g, TRUE);
	g_free(subj);

	g = g_string_new("From: a@b.example\r\nSubject: ");
	g_string_append_len(g, body, (gssize)n);
	g_string_append(g, " =?UTF-8?Q?=E3=81=82?= =?UTF-8?Q?=E3=81?=\r\n =?UTF-8?Q?=84?= end\r\n\r\nx\r\n");
	m = parse_ok(g, NULL);
	/* adjacent words joined (a character split between them survives),
	 * the space between words dropped, the one before text kept */
	assert_string_equal(m->subject, "本文です あい end");
	mime_message_free(&m);
	g_string_free(g, TRUE);
	g_free(body);
}

/* ----------------------------------------------------------- addresses */

static void test_from_and_ids(void **state)
{
	struct {
		const char *from;
		const char *want;
	} cases[] = {
		{ "From: \"Yamada, Taro\" <Taro@Example.JP>\r\n", "taro@example.jp" },
		{ "From: taro@example.jp (Taro)\r\n", "taro@example.jp" },
		{ "From: a@example.jp, b@example.jp\r\n", NULL }, /* two: nobody */
		{ "From: undisclosed-recipients:;\r\n", NULL },
		{ "From: not an address\r\n", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		GString *g = g_string_new(cases[i].from);
		put(g, "Message-ID: <  id@x  >\r\nSubject: s\r\n\r\nbody\r\n");
		struct mime_message *m = parse_ok(g, NULL);
		if (cases[i].want == NULL) {
			if (m->from_addr != NULL)
				fail_msg("%s gave %s", cases[i].from, m->from_addr);
		} else {
			assert_string_equal(m->from_addr, cases[i].want);
		}
		assert_non_null(m->message_id);
		assert_null(strchr(m->message_id, '<'));
		mime_message_free(&m);
		g_string_free(g, TRUE);
	}
	/* an mbox "From " line before the headers, as some clients save */
	GString *g = g_string_new("From - Tue Apr 01 09:00:00 2025\nFrom: x@y.example\nSubject: s\n\nb\n");
	struct mime_message *m = parse_ok(g, NULL);
	assert_string_equal(m->from_addr, "x@y.example");
	assert_string_equal(m->subject, "s");
	assert_null(m->message_id);
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* -------------------------------------------------------------- limits */

static void nest(GString *g, int levels)
{
	put(g, "From: a@b.example\r\nMIME-Version: 1.0\r\n");
	for (int i = 0; i < levels - 1; i++)
		put(g, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
	put(g, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int i = levels - 2; i >= 0; i--)
		put(g, "--b%d--\r\n", i);
}

static void test_limits(void **state)
{
	struct mime_limits lim = { .max_message = 64 * 1024, .max_attachments = 3, .max_depth = 4 };
	GString *g = g_string_new(NULL);
	struct mime_message *m;

	/* size */
	put(g, "From: a@b.example\r\n\r\n");
	while (g->len <= 64 * 1024)
		g_string_append(g, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n");
	{
		char want[128];
		snprintf(want, sizeof(want),
			 "the message is %zu bytes; the limit is 65536 bytes ([limits] message_size)", g->len);
		assert_string_equal(parse_err(g, &lim), want);
	}
	g_string_truncate(g, 64 * 1024);
	m = parse_ok(g, &lim);
	mime_message_free(&m);

	/* attachments */
	g_string_assign(g, "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n");
	for (int i = 0; i < 4; i++)
		put(g, "--B\r\nContent-Type: application/pdf; name=%d.pdf\r\n\r\n%%PDF-\r\n", i);
	put(g, "--B--\r\n");
	assert_string_equal(parse_err(g, &lim),
			    "the message has 4 attachments; the limit is 3 ([limits] attachments)");
	lim.max_attachments = 4;
	m = parse_ok(g, &lim);
	assert_int_equal(m->natt, 4);
	mime_message_free(&m);

	/* depth: a single part is 1, each container adds one */
	g_string_truncate(g, 0);
	nest(g, 4);
	m = parse_ok(g, &lim);
	assert_string_equal(m->body, "deep");
	mime_message_free(&m);
	g_string_truncate(g, 0);
	nest(g, 5);
	assert_string_equal(parse_err(g, &lim),
			    "the message nests MIME parts 5 deep; the limit is 4 ([limits] mime_depth)");
	/* far deeper than GMime builds or we walk */
	g_string_truncate(g, 0);
	nest(g, 3000);
	assert_contains(parse_err(g, NULL), "([limits] mime_depth)");
	/* forwarded messages nest too */
	g_string_assign(g, "From: a@b.example\r\n");
	for (int i = 0; i < 10; i++)
		put(g, "Content-Type: message/rfc822\r\n\r\n");
	put(g, "\r\nx\r\n");
	assert_string_equal(parse_err(g, NULL),
			    "the message nests MIME parts 11 deep; the limit is 8 ([limits] mime_depth)");
	g_string_free(g, TRUE);
}

/* Every MIME part counts, not only attachments: containers, empty parts,
 * body text, attached messages and what they hold. */
static void test_parts(void **state)
{
	struct mime_limits lim = { .max_parts = 4 };
	GString *g = g_string_new(NULL);
	struct mime_message *m;
	struct rusage ru;
	(void)state;

	/* mixed > (text, message/rfc822 > text): 4 parts, 3 delimiter lines */
	put(g, "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
	       "--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	       "--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\n\r\ninner\r\n"
	       "--B--\r\n");
	m = parse_ok(g, &lim);
	assert_int_equal(m->natt, 0);
	mime_message_free(&m);
	lim.max_parts = 3;
	assert_string_equal(parse_err(g, &lim),
			    "the message has 4 MIME parts; the limit is 3 ([limits] mime_parts)");

	/* empty parts are parts: 5 of them, refused before GMime reads them */
	g_string_assign(g, "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n");
	for (int i = 0; i < 5; i++)
		put(g, "--B\r\n\r\n");
	put(g, "--B--\r\n");
	assert_string_equal(parse_err(g, &lim),
			    "the message has more than 3 MIME parts ([limits] mime_parts)");

	/* 700,000 empty parts (3.5 MB): refused at the default limit, early,
	 * with little memory (GMime would build every part: 1.45 GB) */
	g_string_assign(g, "From: a@b.example\nContent-Type: multipart/mixed; boundary=b\n\n");
	for (int i = 0; i < 700000; i++)
		g_string_append(g, "--b\n\n");
	g_string_append(g, "--b--\n");
	assert_string_equal(parse_err(g, NULL),
			    "the message has more than 10000 MIME parts ([limits] mime_parts)");
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	assert_true(ru.ru_maxrss < 256 * 1024); /* KB */

	/* a text that merely has lines of dashes is fine */
	g_string_assign(g, "From: a@b.example\r\n\r\n-- \r\n--\r\nsignature\r\n");
	m = parse_ok(g, &lim);
	mime_message_free(&m);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------ broken */

/*
 * The tree walk and the header fields on their own, as a bounce reader uses
 * them: a delivery status notification (RFC 3464) holding the returned
 * message.  The leaves are the status part and the returned message's
 * attachment, the returned message is a level of its own with its own
 * sender and Subject (ISO-2022-JP), and the body is the notice's text.
 */
static void test_tree_alone(void **state)
{
	static const char dsn[] =
		"From: MAILER-DAEMON@mx.example.jp\r\nTo: tayori@city.example.jp\r\n"
		"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"r\"\r\n\r\n"
		"--r\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		"This is the mail system at host mx.example.jp.\r\n"
		"--r\r\nContent-Type: message/delivery-status\r\n\r\n"
		"Reporting-MTA: dns; mx.example.jp\r\n\r\nFinal-Recipient: rfc822; taro@example.jp\r\n"
		"Action: failed\r\nStatus: 5.1.1\r\n"
		"--r\r\nContent-Type: message/rfc822\r\n\r\n"
		"From: tayori@city.example.jp\r\nTo: taro@example.jp\r\n"
		"Subject: =?ISO-2022-JP?B?GyRCJCpDTiRpJDsbKEI=?=\r\nMessage-ID: <n1@tayori>\r\n"
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
		"--m\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n通知です\r\n"
		"--m\r\nContent-Type: application/pdf; name=\"notice.pdf\"\r\n\r\n%PDF-1.7\r\n--m--\r\n"
		"--r--\r\n";
	struct mime_tree t;
	GMimeMessage *returned;
	char problem[160] = "", *s;
	(void)state;

	assert_int_equal(mime_tree_open(&t, (const uint8_t *)dsn, sizeof(dsn) - 1), 0);
	assert_int_equal(t.levels->len, 2);
	assert_int_equal(t.leaves->len, 2);
	{
		const struct mime_tree_leaf *a = &g_array_index(t.leaves, struct mime_tree_leaf, 0);
		const struct mime_tree_leaf *b = &g_array_index(t.leaves, struct mime_tree_leaf, 1);
		size_t len;
		uint8_t *d = mime_tree_part_bytes(a->part, &len);
		assert_int_equal(a->level, 0);
		s = mime_tree_content_type(GMIME_OBJECT(a->part));
		assert_string_equal(s, "message/delivery-status");
		free(s);
		assert_non_null(strstr((const char *)d, "Status: 5.1.1"));
		free(d);
		assert_int_equal(b->level, 1);
		s = mime_tree_content_type(GMIME_OBJECT(b->part));
		assert_string_equal(s, "application/pdf");
		free(s);
	}
	assert_int_equal(t.depth, 4); /* report > message > mixed > pdf */
	s = mime_header_from(t.msg);
	assert_string_equal(s, "mailer-daemon@mx.example.jp");
	free(s);
	s = mime_tree_body(t.msg);
	assert_string_equal(s, "This is the mail system at host mx.example.jp.");
	free(s);
	returned = g_ptr_array_index(t.levels, 1);
	s = mime_header_message_id(returned);
	assert_string_equal(s, "n1@tayori");
	free(s);
	s = mime_header_subject(returned, problem, sizeof(problem));
	assert_string_equal(s, "お知らせ");
	assert_string_equal(problem, "");
	free(s);
	s = mime_tree_body(returned);
	assert_string_equal(s, "通知です");
	free(s);
	assert_null(mime_header_auth_results(t.msg));
	mime_tree_close(&t);

	/* Whatever GMime makes of nothing, closing leaves nothing behind. */
	if (mime_tree_open(&t, (const uint8_t *)"", 0) == 0)
		assert_non_null(t.msg);
	else
		assert_null(t.msg);
	mime_tree_close(&t);
	assert_null(t.msg);
}

static void test_broken(void **state)
{
	static const char *const msgs[] = {
		"",
		"\r\n",
		"garbage without any header",
		"From: a@b.example\r\nSubject: =?UTF-8?B?broken base64?= =?X?Q?a?=\r\n\r\n",
		/* unterminated multipart: no closing boundary, a part cut short */
		("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
		"--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
		"--B\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x"),
		/* multipart without a boundary parameter */
		"From: a@b.example\r\nContent-Type: multipart/mixed\r\n\r\n--B\r\n\r\nx\r\n--B--\r\n",
		/* a boundary never used */
		"From: a@b.example\r\nContent-Type: multipart/alternative; boundary=\"nope\"\r\n\r\ntext\r\n",
		/* message/rfc822 with nothing inside */
		"From: a@b.example\r\nContent-Type: message/rfc822\r\n\r\n",
		/* bad encodings and charsets */
		("From: a@b.example\r\nContent-Type: text/plain; charset=\"\\\"\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n!!!!====\r\n"),
		"From: a@b.example\r\nContent-Type: text/html; charset=iso-2022-jp\r\n\r\n\x1B$B\x1B$B<a href=\"\r\n",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(msgs); i++) {
		struct mime_message *m = NULL;
		struct error e = { { 0 }, 0 };
		int rc = mime_parse((const uint8_t *)msgs[i], strlen(msgs[i]), NULL, &m, &e);
		if (rc == 0) {
			assert_non_null(m);
			assert_non_null(m->subject);
			assert_non_null(m->body);
			assert_true(g_utf8_validate(m->subject, -1, NULL));
			assert_true(g_utf8_validate(m->body, -1, NULL));
			for (size_t j = 0; j < m->natt; j++) {
				assert_non_null(m->att[j].content_type);
				assert_non_null(m->att[j].data);
			}
			mime_message_free(&m);
		} else {
			assert_null(m);
			assert_true(e.msg[0] != '\0');
		}
	}
	/* the unterminated multipart keeps what arrived */
	{
		GString *g = g_string_new(msgs[4]);
		struct mime_message *m = parse_ok(g, NULL);
		assert_string_equal(m->body, "hello");
		assert_int_equal(m->natt, 1);
		assert_string_equal(m->att[0].filename, "a.pdf");
		assert_int_equal(m->att[0].len, 6);
		assert_memory_equal(m->att[0].data, "%PDF-1", 6);
		mime_message_free(&m);
		g_string_free(g, TRUE);
	}
	/* format=flowed: a space-stuffed last line without a line end (found
	 * by the fuzzer: the line was read again from its last byte) */
	{
		GString *g = g_string_new("Content-Type: text/plain; format=flowed\n\n -\xB3\x01");
		g_string_append_c(g, '\0');
		struct mime_message *m = parse_ok(g, NULL);
		assert_string_equal(m->body, "-ｳ");
		mime_message_free(&m);
		g_string_free(g, TRUE);
	}
	/* NUL bytes in the middle */
	{
		static const char nul[] = "From: a@b.example\r\nSubject: a\0b\r\n\r\nbo\0dy\r\n";
		struct mime_message *m = NULL;
		struct error e = { { 0 }, 0 };
		if (mime_parse((const uint8_t *)nul, sizeof(nul) - 1, NULL, &m, &e) == 0) {
			assert_true(g_utf8_validate(m->body, -1, NULL));
			mime_message_free(&m);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outlook),
		cmocka_unit_test(test_thunderbird),
		cmocka_unit_test(test_apple_mail),
		cmocka_unit_test(test_apple_related),
		cmocka_unit_test(test_gmail),
		cmocka_unit_test(test_forwarded_rfc822),
		cmocka_unit_test(test_labels_and_encodings),
		cmocka_unit_test(test_tnef),
		cmocka_unit_test(test_html_to_text),
		cmocka_unit_test(test_html_only_mail),
		cmocka_unit_test(test_filenames),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_from_and_ids),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_tree_alone),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
