/*
 * test_message.c — unit tests of the notification message
 * (mailer/message.c): messages built over generated variations (fixed
 * seed) of names, titles and texts in Japanese, with emoji, long lines and
 * hostile bytes, in UTF-8 (base64 and quoted-printable) and ISO-2022-JP,
 * each parsed back with GMime and, all together at the end, with Python's
 * email package in strict mode (python3 reads the .eml files this test
 * writes into its own temporary directory); then the refusals, each
 * naming its field, and the CP50220 characters.  Runs as a cmocka test
 * binary.
 *
 * Standards: RFC 5322, 2045-2047, 1468 (with the CP50220 repertoire).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <gmime/gmime.h>

#include "mailer/message.h"

#define LINK "https://tsuchi.city.example.lg.jp/o/Q2hlY2tUaGlzTGluay0wMDAx"
#define PORTAL "https://tsuchi.city.example.lg.jp/"
#define WARD_URL "https://www.city.example.lg.jp/zei/juminzei.html"
#define WARD_URL2 "http://www.city.example.lg.jp/faq?q=1&lang=ja"
#define WARD_URL3 "https://www.city.example.lg.jp/zei/"

static char tmpdir[] = "/tmp/test_message.XXXXXX";
static int eml_count;

/* ------------------------------------------------------------ inputs */

static void base_input(struct message_input *in)
{
	memset(in, 0, sizeof *in);
	in->from_addr = "tsuchi@city.example.lg.jp";
	in->from_name = "練馬区";
	in->reply_to = "zeimu@city.example.lg.jp";
	in->to = "taro.nerima@example.jp";
	in->title = "令和8年度 特別区民税・都民税 決定通知書";
	in->message = "決定通知書をお送りします。詳しくは " WARD_URL " をご覧ください。";
	in->link = LINK;
	in->portal_url = PORTAL;
	in->notice_code = "K7Q2-M4X9";
	in->auth = MESSAGE_AUTH_LINK;
	in->deadline = "2026-12-25";
	in->contact = "練馬区 区民部 税務課\n電話 03-3993-1111（代表）";
	in->msgid_domain = "city.example.lg.jp";
	in->date = 1796000000; /* 2026-11-30 00:53:20 UTC */
}

static const char *const names[] = {
	"練馬区", "Nerima City", "練馬区 区民部 税務課", "😀ねりま区😀",
	"Ward \"Office\" <admin@evil.example>", "=?UTF-8?B?5pS75pKD?=",
	"練馬区\r\nBcc: victim@evil.example", "name\twith\ttabs", "a,b;c:d@e",
	"ﾈﾘﾏｸ ｶﾞｲﾄﾞ", "練馬区\nContent-Type: text/html",
};

static const char *const titles[] = {
	"令和8年度 特別区民税・都民税 決定通知書",
	"Notice of tax decision",
	"【重要】国民健康保険料のお知らせ①②③ ㈱髙橋",
	"件名\r\nBcc: victim@evil.example",
	"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=",
	"絵文字 🎍🗾 テスト",
	"ｶﾞｲﾄﾞ 半角カナ",
	("長い件名長い件名長い件名長い件名長い件名長い件名長い件名長い件名長い件名長い件名"
	 "長い件名長い件名長い件名長い件名長い件名長い件名長い件名長い件名長い件名長い件名"),
	"\n--=_tayori_0123\nContent-Type: text/html\n\n<script>x</script>",
};

static const char *const pieces[] = {
	"決定通知書をお送りします。",
	"詳しくは " WARD_URL " をご覧ください。",
	"FAQ: " WARD_URL2 ".",
	"<script>alert(1)</script>",
	"<img src=\"https://tracker.evil.example/p.gif\">",
	"\"><a href=\"https://evil.example/\">click</a>",
	"--=_tayori_0123456789abcdef0123456789abcdef",
	"--boundary",
	"Content-Type: application/pdf",
	"=?UTF-8?B?5pS75pKD?=",
	"絵文字😀🙇‍♀️もあります。",
	"①②③ ㈱ 髙橋 﨑",
	"ｶﾞｲﾄﾞ",
	".",
	"From nobody",
	"\t字下げ",
	"javascript:alert(1)",
};

struct rng {
	uint64_t s;
};

static uint32_t rnd(struct rng *r, uint32_t n)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s % n);
}

/* A message text of random pieces and line ends; sometimes a long line. */
static GString *gen_message(struct rng *r)
{
	static const char *const eol[] = { "\n", "\r\n", "\r", " ", "" };
	GString *g = g_string_new(NULL);
	uint32_t n = 1 + rnd(r, 12);
	for (uint32_t i = 0; i < n; i++) {
		g_string_append(g, pieces[rnd(r, G_N_ELEMENTS(pieces))]);
		g_string_append(g, eol[rnd(r, G_N_ELEMENTS(eol))]);
	}
	if (rnd(r, 6) == 0)
		for (uint32_t i = 0; i < 400; i++)
			g_string_append(g, "長い行");
	return g;
}

/* -------------------------------------------------------- JIS decode */

/* ISO-2022-JP bytes (CP50220 repertoire) to UTF-8, by Shift_JIS and CP932. */
static char *jis_decode(const uint8_t *p, size_t n)
{
	GString *sj = g_string_new(NULL);
	int kanji = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0x1B && i + 2 < n) {
			kanji = p[i + 1] == '$';
			i += 2;
		} else if (kanji && p[i] > 0x20 && i + 1 < n) {
			unsigned j1 = p[i], j2 = p[i + 1];
			unsigned s1 = ((j1 + 1) >> 1) + (j1 <= 0x5E ? 0x70 : 0xB0);
			unsigned s2 = j2 + ((j1 & 1) ? (j2 >= 0x60 ? 0x20 : 0x1F) : 0x7E);
			g_string_append_c(sj, (char)s1);
			g_string_append_c(sj, (char)s2);
			i++;
		} else {
			g_string_append_c(sj, (char)p[i]);
		}
	}
	char *u = g_convert(sj->str, (gssize)sj->len, "UTF-8", "CP932", NULL, NULL, NULL);
	g_string_free(sj, TRUE);
	assert_non_null(u);
	return u;
}

/* The decoded value of a raw header value of B encoded words. */
static char *decode_words(const char *raw)
{
	GString *g = g_string_new(NULL);
	const char *p = raw;
	while ((p = strstr(p, "=?")) != NULL) {
		const char *q = strchr(p + 2, '?');
		assert_non_null(q);
		int jis = g_ascii_strncasecmp(p + 2, "ISO-2022-JP", 11) == 0;
		const char *end = strstr(q + 3, "?=");
		assert_non_null(end);
		char *b64 = g_strndup(q + 3, (gsize)(end - q - 3));
		gsize n;
		guchar *bytes = g_base64_decode(b64, &n);
		if (jis) {
			char *u = jis_decode(bytes, n);
			g_string_append(g, u);
			g_free(u);
		} else {
			g_string_append_len(g, (const char *)bytes, (gssize)n);
		}
		g_free(bytes);
		g_free(b64);
		p = end + 2;
	}
	return g_string_free(g, FALSE);
}

/* ------------------------------------------------------------ checks */

static gpointer gmime_start(gpointer unused)
{
	(void)unused;
	g_mime_init();
	return NULL;
}

static GMimeMessage *parse(const struct buf *b)
{
	static GOnce once = G_ONCE_INIT;
	g_once(&once, gmime_start, NULL);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)b->data, b->len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	assert_non_null(m);
	return m;
}

/* The part's text as UTF-8 (transfer encoding and charset undone). */
static char *part_text(GMimeObject *o)
{
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
	GMimeStream *s = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, s);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
	char *t;
	assert_non_null(cs);
	if (g_ascii_strcasecmp(cs, "ISO-2022-JP") == 0) {
		for (guint i = 0; i < ba->len; i++)
			assert_true(ba->data[i] < 0x80); /* 7bit */
		t = jis_decode(ba->data, ba->len);
	} else {
		assert_string_equal(cs, "UTF-8");
		t = g_strndup((const char *)ba->data, ba->len);
		assert_true(g_utf8_validate(t, -1, NULL));
	}
	g_object_unref(s);
	return t;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* The element names the HTML may use (text and links only). */
static int tag_allowed(const char *p)
{
	static const char *const tags[] = { "!DOCTYPE html>", "html lang=\"ja\">", "/html>",
		"head>", "/head>", "meta charset=\"", "title>", "/title>", "body>", "/body>",
		"p>", "/p>", "br>", "h2>", "/h2>", "a href=\"http", "/a>", "strong>", "/strong>" };
	for (size_t i = 0; i < G_N_ELEMENTS(tags); i++)
		if (strncmp(p + 1, tags[i], strlen(tags[i])) == 0)
			return 1;
	return 0;
}

/*
 * No element but text and links, and every URL in the HTML is the
 * resident's link, the portal's address or a URL of the message text.
 */
static void check_html(const char *html, const char *message)
{
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "src="));
	for (const char *p = html; (p = strchr(p, '<')) != NULL; p++)
		if (!tag_allowed(p))
			fail_msg("an element not allowed in the HTML: %.40s", p);
	for (const char *p = html; (p = strstr(p, "http")) != NULL; p += 4) {
		if (strncmp(p, "https://", 8) != 0 && strncmp(p, "http://", 7) != 0)
			continue;
		size_t n = strcspn(p, "\"<> \r\n");
		char *url = g_strndup(p, n);
		GString *plain = g_string_new(NULL);
		for (const char *q = url; *q; q++) {
			g_string_append_c(plain, *q);
			if (strncmp(q, "&amp;", 5) == 0)
				q += 4;
		}
		if (strcmp(plain->str, LINK) != 0 && strcmp(plain->str, PORTAL) != 0 &&
		    strstr(message, plain->str) == NULL)
			fail_msg("a URL not allowed in the HTML: %s", url);
		g_string_free(plain, TRUE);
		g_free(url);
	}
}

/* The field names of the top header block, in order, and line ends. */
static void check_headers(const struct buf *raw)
{
	static const char *const want[] = { "Date", "From", "Reply-To", "To", "Subject",
					    "Message-ID", "MIME-Version", "Content-Type" };
	const char *s = (const char *)raw->data;
	const char *end = strstr(s, "\r\n\r\n");
	size_t n = 0;
	assert_non_null(end);
	for (const char *p = s; p < end + 2; p = strstr(p, "\r\n") + 2) {
		/* folded lines fit in 78 octets (addresses in 998) */
		assert_true((size_t)(strstr(p, "\r\n") - p) <= (n == 2 || n == 3 ? 998 : 78));
		if (*p == ' ' || *p == '\t')
			continue; /* a folded line */
		const char *colon = strchr(p, ':');
		assert_true(n < G_N_ELEMENTS(want));
		assert_int_equal((size_t)(colon - p), strlen(want[n]));
		assert_memory_equal(p, want[n], strlen(want[n]));
		n++;
	}
	assert_int_equal(n, G_N_ELEMENTS(want));
	for (size_t i = 0; i < raw->len; i++)
		if (raw->data[i] == '\n')
			assert_true(i > 0 && raw->data[i - 1] == '\r');
	assert_null(g_strstr_len(s, (gssize)raw->len, "List-Unsubscribe"));
}

static void check_addrs(GMimeMessage *m, const struct message_input *in)
{
	InternetAddressList *to = g_mime_message_get_to(m);
	assert_int_equal(internet_address_list_length(to), 1);
	assert_string_equal(internet_address_mailbox_get_addr(
				    INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(to, 0))),
			    in->to);
	assert_int_equal(internet_address_list_length(g_mime_message_get_cc(m)), 0);
	assert_int_equal(internet_address_list_length(g_mime_message_get_bcc(m)), 0);
	InternetAddressList *from = g_mime_message_get_from(m);
	assert_int_equal(internet_address_list_length(from), 1);
	InternetAddress *f = internet_address_list_get_address(from, 0);
	assert_string_equal(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(f)), in->from_addr);
	InternetAddressList *rt = g_mime_message_get_reply_to(m);
	assert_int_equal(internet_address_list_length(rt), 1);
	assert_string_equal(internet_address_mailbox_get_addr(
				    INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(rt, 0))),
			    in->reply_to);
	if (in->charset == MESSAGE_UTF8 && in->from_name != NULL) {
		char *want = g_strdup(in->from_name);
		for (char *p = want; *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		assert_string_equal(internet_address_get_name(f), g_strstrip(want));
		g_free(want);
	}
}

/* The Subject as the resident reads it: the title, controls as spaces. */
static void check_subject(GMimeMessage *m, const struct message_input *in)
{
	char *want = g_strconcat(in->test ? "【テスト】" : "", in->title, NULL);
	for (char *p = want; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	const char *raw = g_mime_header_get_raw_value(g_mime_header_list_get_header(hl, "Subject"));
	char *got = strstr(raw, "=?") ? decode_words(raw) : g_strdup(g_mime_message_get_subject(m));
	if (in->charset == MESSAGE_UTF8)
		assert_string_equal(g_strstrip(got), g_strstrip(want));
	else
		assert_true(g_utf8_validate(got, -1, NULL));
	g_free(got);
	g_free(want);
}

/* The plain part holds the message text exactly (line ends aside). */
static void check_text_holds(const char *text, const struct message_input *in)
{
	size_t n = in->message_len ? in->message_len : strlen(in->message);
	GString *want = g_string_new(NULL), *got = g_string_new(NULL);
	for (size_t i = 0; i < n; i++) {
		if (in->message[i] == '\r' && i + 1 < n && in->message[i + 1] == '\n')
			continue;
		g_string_append_c(want, in->message[i] == '\r' ? '\n' : in->message[i]);
	}
	while (want->len > 0 && want->str[want->len - 1] == '\n')
		g_string_truncate(want, want->len - 1);
	for (const char *p = text; *p; p++)
		if (*p != '\r')
			g_string_append_c(got, *p);
	assert_non_null(strstr(got->str, want->str));
	g_string_free(want, TRUE);
	g_string_free(got, TRUE);
}

/* Parse b back and check everything a resident and a filter see. */
static void check_message(const struct buf *b, const struct message_input *in)
{
	GMimeMessage *m = parse(b);
	check_headers(b);
	check_addrs(m, in);
	check_subject(m, in);
	GMimeObject *body = g_mime_message_get_mime_part(m);
	assert_true(GMIME_IS_MULTIPART(body));
	assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(body), "multipart",
					       "alternative"));
	GMimeMultipart *mp = GMIME_MULTIPART(body);
	assert_int_equal(g_mime_multipart_get_count(mp), 2);
	GMimeObject *tp = g_mime_multipart_get_part(mp, 0), *hp = g_mime_multipart_get_part(mp, 1);
	assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(tp), "text", "plain"));
	assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(hp), "text", "html"));
	assert_null(g_mime_object_get_content_disposition(tp));
	assert_null(g_mime_object_get_content_disposition(hp));
	char *text = part_text(tp), *html = part_text(hp);
	assert_int_equal(count(text, LINK), 1);
	assert_int_equal(count(html, LINK), 1);
	assert_non_null(strstr(text, in->notice_code));
	assert_non_null(strstr(html, in->notice_code));
	assert_non_null(strstr(text, PORTAL));
	assert_non_null(strstr(html, PORTAL));
	assert_non_null(strstr(text, "2026年12月25日（金）"));
	assert_non_null(strstr(html, "2026年12月25日（金）"));
	assert_non_null(strstr(text, "パスワード"));
	assert_non_null(strstr(html, "never asks for a password"));
	assert_int_equal(count(text, "テスト送信"), in->test ? 1 : 0);
	assert_int_equal(count(html, "テスト送信"), in->test ? 1 : 0);
	check_html(html, in->message);
	if (in->charset == MESSAGE_UTF8)
		check_text_holds(text, in);
	g_free(text);
	g_free(html);
	g_object_unref(m);
}

static void save_eml(const struct buf *b)
{
	char path[128];
	assert_true(str_fmt(path, sizeof path, "%s/%04d.eml", tmpdir, eml_count++) > 0);
	assert_true(g_file_set_contents(path, (const char *)b->data, (gssize)b->len, NULL));
}

static void build_ok(const struct message_input *in, struct buf *b)
{
	struct error e = { "", 0 };
	buf_init(b, 8u << 20);
	if (message_build(in, b, &e) < 0)
		fail_msg("message_build: %s", e.msg);
	check_message(b, in);
	save_eml(b);
}

/* -------------------------------------------------------------- tests */

/* 240 messages over generated names, titles, texts and settings. */
static void test_variations(void **state)
{
	(void)state;
	struct rng r = { 0x7461796f72690aULL };
	for (int i = 0; i < 240; i++) {
		struct message_input in;
		struct buf b;
		base_input(&in);
		GString *msg = gen_message(&r);
		in.from_name = rnd(&r, 8) == 0 ? NULL : names[rnd(&r, G_N_ELEMENTS(names))];
		in.title = titles[rnd(&r, G_N_ELEMENTS(titles))];
		in.message = msg->str;
		in.charset = rnd(&r, 3) == 0 ? MESSAGE_ISO2022JP : MESSAGE_UTF8;
		in.encoding = rnd(&r, 2) ? MESSAGE_QP : MESSAGE_BASE64;
		in.auth = (enum message_auth)rnd(&r, 3);
		in.auth_label = "生年月日（8桁の数字）";
		in.test = (int)rnd(&r, 2);
		in.kyouji = rnd(&r, 2) ? "この処分に不服がある場合は、この処分があったことを知った日の"
					 "翌日から起算して3か月以内に、練馬区長に対して審査請求を"
					 "することができます。" : NULL;
		build_ok(&in, &b);
		char *s = (char *)b.data;
		if (in.kyouji != NULL && in.charset == MESSAGE_UTF8 && in.encoding == MESSAGE_QP)
			assert_non_null(strstr(s, "Content-Transfer-Encoding: quoted-printable"));
		buf_free(&b);
		g_string_free(msg, TRUE);
	}
}

/* The bodies say what the inputs say, in both parts. */
static void test_content(void **state)
{
	(void)state;
	struct message_input in;
	struct buf b;
	base_input(&in);
	in.auth = MESSAGE_AUTH_VALUE;
	in.auth_label = "生年月日";
	in.kyouji = "審査請求ができます。";
	build_ok(&in, &b);
	GMimeMessage *m = parse(&b);
	GMimeMultipart *mp = GMIME_MULTIPART(g_mime_message_get_mime_part(m));
	char *text = part_text(g_mime_multipart_get_part(mp, 0));
	char *html = part_text(g_mime_multipart_get_part(mp, 1));
	const char *want[] = { "決定通知書をお送りします。", WARD_URL, "生年月日", "審査請求ができます。",
			       "税務課", "03-3993-1111", "K7Q2-M4X9" };
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
		assert_non_null(strstr(text, want[i]));
		assert_non_null(strstr(html, want[i]));
	}
	assert_non_null(strstr(html, "<a href=\"" WARD_URL "\">" WARD_URL "</a>"));
	assert_non_null(strstr(html, "<a href=\"" LINK "\">"));
	assert_non_null(strstr((char *)b.data, "Date: Mon, 30 Nov 2026 09:53:20 +0900\r\n"));
	assert_non_null(strstr((char *)b.data, "@city.example.lg.jp>\r\n"));
	assert_non_null(strstr((char *)b.data, "Content-Transfer-Encoding: base64"));
	g_free(text);
	g_free(html);
	g_object_unref(m);
	buf_free(&b);
}

/* ①, ㈱, 髙, 﨑 and half-width kana through ISO-2022-JP (CP50220). */
static void test_cp50220(void **state)
{
	(void)state;
	struct message_input in;
	struct buf b;
	base_input(&in);
	in.charset = MESSAGE_ISO2022JP;
	in.from_name = "練馬区 髙橋";
	in.title = "①のお知らせ ㈱髙島屋 﨑";
	in.message = "①②⑳ ㈱ № ℡ Ⅰ ⅰ 髙 﨑 ｶﾞｲﾄﾞ 〜 絵文字😀 end";
	build_ok(&in, &b);
	GMimeMessage *m = parse(&b);
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	const char *raw = g_mime_header_get_raw_value(g_mime_header_list_get_header(hl, "Subject"));
	assert_non_null(strstr(raw, "=?ISO-2022-JP?B?"));
	char *subj = decode_words(raw);
	assert_string_equal(subj, in.title);
	g_free(subj);
	raw = g_mime_header_get_raw_value(g_mime_header_list_get_header(hl, "From"));
	char *from = decode_words(raw);
	assert_string_equal(from, "練馬区 髙橋");
	g_free(from);
	GMimeMultipart *mp = GMIME_MULTIPART(g_mime_message_get_mime_part(m));
	char *text = part_text(g_mime_multipart_get_part(mp, 0));
	assert_non_null(strstr(text, "①②⑳ ㈱ № ℡ Ⅰ ⅰ 髙 﨑 ガイド ～ 絵文字〓 end"));
	g_free(text);
	assert_non_null(strstr((char *)b.data, "charset=ISO-2022-JP"));
	assert_non_null(strstr((char *)b.data, "Content-Transfer-Encoding: 7bit"));
	g_object_unref(m);
	buf_free(&b);
}

static void refused(struct message_input *in, const char *field)
{
	struct buf b;
	struct error e = { "", 0 };
	buf_init(&b, 8u << 20);
	assert_int_equal(message_build(in, &b, &e), -1);
	assert_int_equal(b.len, 0);
	if (strstr(e.msg, field) == NULL)
		fail_msg("error \"%s\" does not name %s", e.msg, field);
	buf_free(&b);
}

/* Addresses and ids that would break a header are refused, by name. */
static void test_refuse_headers(void **state)
{
	(void)state;
	struct message_input in;
	base_input(&in);
	in.to = "taro@example.jp\r\nBcc: victim@evil.example";
	refused(&in, "to");
	base_input(&in);
	in.to = "taro@example.jp, jiro@example.jp";
	refused(&in, "to");
	base_input(&in);
	in.from_addr = "tsuchi@city.example.lg.jp>\r\nX: y";
	refused(&in, "from_addr");
	base_input(&in);
	in.reply_to = "a\nb@example.jp";
	refused(&in, "reply_to");
	base_input(&in);
	in.msgid_domain = "example.jp>\r\nBcc: x@y.jp";
	refused(&in, "msgid_domain");
	base_input(&in);
	in.message_id_local = "a>b";
	refused(&in, "message_id_local");
	base_input(&in);
	in.link = LINK "\"><script>";
	refused(&in, "link");
	base_input(&in);
	in.link = "javascript:alert(1)";
	refused(&in, "link");
	base_input(&in);
	in.portal_url = "https://tsuchi.example.jp/ x";
	refused(&in, "portal_url");
	base_input(&in);
	in.notice_code = "K7Q2\r\nX";
	refused(&in, "notice_code");
	base_input(&in);
	in.deadline = "2026-02-30";
	refused(&in, "deadline");
	base_input(&in);
	in.auth = MESSAGE_AUTH_VALUE;
	in.auth_label = NULL;
	refused(&in, "auth_label");
}

/* Invalid UTF-8, NUL and control bytes, and lengths over the limits. */
static void test_refuse_texts(void **state)
{
	(void)state;
	struct message_input in;
	base_input(&in);
	in.title = "bad \xff\xfe title";
	refused(&in, "title");
	base_input(&in);
	in.from_name = "\xe7\xb7";
	refused(&in, "from_name");
	base_input(&in);
	in.message = "text \xc0\xaf";
	refused(&in, "message");
	base_input(&in);
	in.contact = "tel \xed\xa0\x80";
	refused(&in, "contact");
	base_input(&in);
	in.kyouji = "\x1b$B";
	refused(&in, "kyouji");
	base_input(&in);
	static const char nul[] = "before\0after";
	in.message = nul;
	in.message_len = sizeof nul - 1;
	refused(&in, "message");
	base_input(&in);
	char *big = g_malloc(MESSAGE_TEXT_MAX + 2);
	memset(big, 'a', MESSAGE_TEXT_MAX + 1);
	big[MESSAGE_TEXT_MAX + 1] = '\0';
	in.message = big;
	refused(&in, "message");
	g_free(big);
	base_input(&in);
	/* A right-to-left override turns "通知fdp.exe" around on screen. */
	in.title = "\xe9\x80\x9a\xe7\x9f\xa5\xe2\x80\xae" "fdp.exe";
	refused(&in, "title");
	base_input(&in);
	in.from_name = "\xe2\x81\xa6" "city" "\xe2\x81\xa9"; /* an isolate */
	refused(&in, "from_name");
	base_input(&in);
	in.from_name = "ward\xe2\x80\x8f"; /* a direction mark: not in one line */
	refused(&in, "from_name");
	base_input(&in);
	in.message = "pay here \xe2\x80\xae" "lin.kcatta"; /* an override in a body */
	refused(&in, "message");
	base_input(&in);
	in.contact = "line\xe2\x80\xa8separator"; /* U+2028 */
	refused(&in, "contact");
	base_input(&in);
	in.title = "C1 \xc2\x9b control";
	refused(&in, "title");
	base_input(&in);
	{ /* a direction mark beside Hebrew text is fine in a body */
		struct buf b;
		struct error e = { "", 0 };
		buf_init(&b, 8u << 20);
		in.message = "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\xe2\x80\x8f (shalom)";
		assert_int_equal(message_build(&in, &b, &e), 0);
		assert_true(b.len > 0);
		buf_free(&b);
	}
	base_input(&in);
	char *long_title = g_strnfill(MESSAGE_TITLE_MAX + 1, 'x');
	in.title = long_title;
	refused(&in, "title");
	g_free(long_title);
}

/* Header-breaking names and titles are encoded, never a new field. */
static void test_hostile_headers(void **state)
{
	(void)state;
	for (int cs = 0; cs < 2; cs++) {
		struct message_input in;
		struct buf b;
		base_input(&in);
		in.charset = cs ? MESSAGE_ISO2022JP : MESSAGE_UTF8;
		in.from_name = "練馬区\r\nBcc: victim@evil.example\r\n\r\n--x";
		in.title = "件名\r\nBcc: victim@evil.example\nX-Evil: 1";
		build_ok(&in, &b); /* checks: the same eight fields, one To */
		assert_null(strstr((char *)b.data, "\r\nBcc:"));
		assert_null(strstr((char *)b.data, "\r\nX-Evil:"));
		buf_free(&b);
	}
}

/* A 100 KB message and boundary-like lines stay inside their part. */
static void test_big_and_boundary(void **state)
{
	(void)state;
	for (int cs = 0; cs < 3; cs++) {
		struct message_input in;
		struct buf b;
		GString *g = g_string_new("--=_tayori_\n--boundary\n--\n\n");
		while (g->len < 100 * 1024)
			g_string_append(g, "区民税の決定通知書です。" WARD_URL3 " ");
		g_string_append(g, "\n--=_tayori_00000000000000000000000000000000--\n");
		base_input(&in);
		in.message = g->str;
		in.charset = cs == 2 ? MESSAGE_ISO2022JP : MESSAGE_UTF8;
		in.encoding = cs == 1 ? MESSAGE_QP : MESSAGE_BASE64;
		build_ok(&in, &b);
		for (size_t i = 0, run = 0; i < b.len; i++) {
			run = b.data[i] == '\n' ? 0 : run + 1;
			assert_true(run <= 998);
		}
		buf_free(&b);
		g_string_free(g, TRUE);
	}
}

/* Every message written above, read by Python's email in strict mode. */
static void test_python_strict(void **state)
{
	(void)state;
	static const char script[] =
		"import sys, os, email, email.policy, email.errors\n"
		"d = sys.argv[1]; bad = 0; names = sorted(os.listdir(d))\n"
		"for n in names:\n"
		"    try:\n"
		"        m = email.message_from_bytes(open(os.path.join(d, n), 'rb').read(),\n"
		"                                     policy=email.policy.strict)\n"
		"        jis = 'ISO-2022-JP' in str(m.get_all('Content-Type'))\n"
		"        for p in m.walk():\n"
		"            for k, v in p.items():\n"
		"                for x in v.defects:\n"
		"                    if not (jis and isinstance(x, email.errors.UndecodableBytesDefect)):\n"
		"                        raise Exception('%s: %r' % (k, x))\n"
		"        assert len(m.get_all('To')) == 1 and len(m['To'].addresses) == 1\n"
		"        assert m.get_all('List-Unsubscribe') is None\n"
		"        parts = list(m.iter_parts())\n"
		"        assert [p.get_content_type() for p in parts] == ['text/plain', 'text/html']\n"
		"        assert not any(p.is_attachment() for p in m.walk())\n"
		"        for p in parts:\n"
		"            p.get_payload(decode=True)\n"
		"            if p.get_content_charset() == 'utf-8': p.get_content()\n"
		"    except Exception as x:\n"
		"        bad += 1; print(n, type(x).__name__, x)\n"
		"print('python strict: %d messages, %d bad' % (len(names), bad))\n"
		"sys.exit(1 if bad or not names else 0)\n";
	char *argv[] = { "python3", "-c", (char *)script, tmpdir, NULL };
	char *out = NULL, *err = NULL;
	int status = -1;
	GError *ge = NULL;
	assert_true(eml_count > 200);
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &ge))
		fail_msg("python3: %s", ge->message);
	printf("%s%s", out, err);
	assert_true(g_spawn_check_wait_status(status, NULL));
	g_free(out);
	g_free(err);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < eml_count; i++) {
		char path[128];
		str_fmt(path, sizeof path, "%s/%04d.eml", tmpdir, i);
		unlink(path);
	}
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_variations),
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_cp50220),
		cmocka_unit_test(test_refuse_headers),
		cmocka_unit_test(test_refuse_texts),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_big_and_boundary),
		cmocka_unit_test(test_python_strict),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
