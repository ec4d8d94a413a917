/*
 * test_page_resident.c — unit tests of portal/page_resident.c on the HTML
 * it writes: the message's http(s) URLs become links and nothing else does
 * (javascript:, markup, quotes and trailing punctuation stay text); every
 * page is Japanese, script-free, has one h1 and a label for every visible
 * input; a test batch's pages carry the テスト banner; the appeal deadline
 * shows only after arrival and only with a 教示.  Runs as a test program
 * (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "portal/page_resident.h"

static const struct page_site site = { "デモ区", "tayori.example.jp",
				       "https://www.city.example.jp/tayori", "" };

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void message(const char *in, const char *want)
{
	struct buf b;
	buf_init(&b, 1 << 16);
	assert_int_equal(page_message(&b, in, strlen(in)), 0);
	if (strstr((const char *)b.data, want) == NULL)
		fail_msg("%s -> %s, wanted %s", in, (const char *)b.data, want);
	buf_free(&b);
}

static void test_message_links(void **state)
{
	(void)state;
	message("見てください https://a.example.jp/x?a=1&b=2。",
		"見てください <a href=\"https://a.example.jp/x?a=1&amp;b=2\">"
		"https://a.example.jp/x?a=1&amp;b=2</a>。");
	message("(see http://b.example.jp/p).", "(see <a href=\"http://b.example.jp/p\">"
					      "http://b.example.jp/p</a>).");
	message("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
	message("javascript:alert(1)", ">javascript:alert(1)</div>");
	message("https://c.example.jp/\"onmouseover=\"x", "<a href=\"https://c.example.jp/\">"
							  "https://c.example.jp/</a>&quot;onmouseover");
	message("https:// alone", ">https:// alone</div>");
	message("一行目\n二行目", "一行目\n二行目");
}

/* Japanese, no script, one h1, a label for each visible input. */
static void well_formed(const char *html, int test)
{
	size_t inputs = count(html, "<input") - count(html, "type=\"hidden\"");
	assert_non_null(strstr(html, "<html lang=\"ja\">"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, " style="));
	assert_int_equal(count(html, "<h1>"), 1);
	assert_int_equal(count(html, "<label for="), inputs);
	assert_int_equal(strstr(html, "テスト") != NULL, test);
}

static void notice_fixture(struct resident_notice *n, int test, const char *auth)
{
	memset(n, 0, sizeof(*n));
	n->batch = 1;
	n->seq = 2;
	str_copy(n->title, "住民税<決定>通知", sizeof(n->title));
	str_copy(n->auth, auth, sizeof(n->auth));
	n->test = test;
	n->pdf_seq = 2;
	buf_init(&n->message, 1 << 16);
	buf_append_str(&n->message, "審査請求ができます。");
	buf_init(&n->kyouji, 1 << 16);
	buf_append_str(&n->kyouji, "この処分に<不服>がある場合は、審査請求をすることができます。");
}

static void test_pages(void **state)
{
	struct resident_notice n;
	struct notice_access a;
	struct buf b;
	(void)state;
	for (int test = 0; test <= 1; test++) {
		notice_fixture(&n, test, "otp");
		memset(&a, 0, sizeof(a));
		buf_init(&b, 1 << 20);
		assert_int_equal(page_link(&b, &site, &n, "tok", "csrf1"), 0);
		well_formed((const char *)b.data, test);
		assert_non_null(strstr((const char *)b.data, "住民税&lt;決定&gt;通知"));
		assert_int_equal(count((const char *)b.data, "<button"), 1);
		buf_reset(&b);
		assert_int_equal(page_auth(&b, &site, &n, "tok", "csrf1", "", "入力が違います"), 0);
		well_formed((const char *)b.data, test);
		assert_non_null(strstr((const char *)b.data, "action=\"/n/tok/otp\""));
		buf_reset(&b);
		str_copy(n.auth, "csv", sizeof(n.auth));
		assert_int_equal(page_auth(&b, &site, &n, "tok", "csrf1", "", ""), 0);
		well_formed((const char *)b.data, test);
		assert_null(strstr((const char *)b.data, "/otp\""));
		assert_non_null(strstr((const char *)b.data, "ご本人確認の項目"));
		buf_reset(&b);
		str_copy(n.auth_label, "生年月日<1>", sizeof(n.auth_label));
		assert_int_equal(page_auth(&b, &site, &n, "tok", "csrf1", "", ""), 0);
		assert_non_null(strstr((const char *)b.data, "<label for=\"answer\">生年月日&lt;1&gt;</label>"));
		n.auth_label[0] = '\0';
		buf_reset(&b);
		assert_int_equal(page_notice(&b, &site, &n, &a, "csrf1"), 0);
		well_formed((const char *)b.data, test);
		assert_null(strstr((const char *)b.data, "審査請求の期限"));
		buf_reset(&b);
		a.downloaded_at = 1775000000; /* 2026-04-01 08:33 JST */
		assert_int_equal(page_notice(&b, &site, &n, &a, "csrf1"), 0);
		assert_non_null(strstr((const char *)b.data, "審査請求の期限：2026年7月1日"));
		/* the batch's 教示 is shown, escaped */
		assert_non_null(strstr((const char *)b.data, "不服申立て（教示）"));
		assert_non_null(strstr((const char *)b.data, "この処分に&lt;不服&gt;がある場合は"));
		/* the consent form only when the batch asks for consent */
		assert_null(strstr((const char *)b.data, "/notice/consent"));
		n.consent_asked = 1;
		buf_reset(&b);
		assert_int_equal(page_notice(&b, &site, &n, &a, "csrf1"), 0);
		assert_non_null(strstr((const char *)b.data, "action=\"/notice/consent\""));
		assert_non_null(strstr((const char *)b.data, "action=\"/notice/decline\""));
		well_formed((const char *)b.data, test);
		n.consent_asked = 0;
		buf_reset(&b);
		/* no 教示: no appeal deadline, even when the message names 審査請求 */
		buf_reset(&n.kyouji);
		assert_int_equal(page_notice(&b, &site, &n, &a, "csrf1"), 0);
		assert_null(strstr((const char *)b.data, "審査請求の期限"));
		assert_null(strstr((const char *)b.data, "教示"));
		buf_reset(&b);
		assert_int_equal(page_locked(&b, &site, test), 0);
		well_formed((const char *)b.data, test);
		buf_free(&b);
		buf_free(&n.message);
		buf_free(&n.kyouji);
	}
	buf_init(&b, 1 << 20);
	assert_int_equal(page_front(&b, &site, "csrf1", ""), 0);
	well_formed((const char *)b.data, 0);
	assert_non_null(strstr((const char *)b.data, "tayori.example.jp"));
	assert_non_null(strstr((const char *)b.data, "href=\"https://www.city.example.jp/tayori\""));
	buf_reset(&b);
	assert_int_equal(page_contact(&b, &site), 0);
	well_formed((const char *)b.data, 0);
	assert_non_null(strstr((const char *)b.data, "区役所にお問い合わせください"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_links),
		cmocka_unit_test(test_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
