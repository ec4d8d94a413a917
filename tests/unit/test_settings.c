/*
 * test_settings.c — unit tests of gateway/settings.c: the `key: value`
 * lines at the top of a batch's message (aliases, full-width colons, CRLF
 * files, a byte order mark, split and page settings), and clean text
 * (issue 8, finding 5): a title, a free-text setting or the message with a
 * control character, a bidi override, invalid UTF-8 or past its length
 * limit is refused with one line naming the setting and the line, never
 * stored verbatim, cut or emptied.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/settings.h"
#include "lib/text.h"

/* Parse text that must be refused with exactly the message want. */
static void refused(const char *text, const char *want)
{
	struct batch_settings s;
	struct error e = { { 0 }, 0 };
	assert_int_equal(settings_parse(text, &s, &e), -1);
	assert_string_equal(e.msg, want);
	assert_int_equal(e.temporary, 0);
}

static void test_finding5_title(void **state)
{
	(void)state;
	/* The finding's exact input: a CR and an escape sequence in the title. */
	refused("件名: A\rBcc: evil@example.com\x1b[31m\n\n区民の皆さまへ\n",
		"settings line 1 (件名): a control character (U+000D) is not allowed");
	refused("件名: A Bcc: evil@example.com\x1b[31m\n",
		"settings line 1 (件名): a control character (U+001B) is not allowed");
	refused("分割: auto\nテスト: はい\n件名: 住民税\xe2\x80\xae通知\n",
		"settings line 3 (件名): a bidirectional control character (U+202E) is not allowed");
	refused("Title: a\xe2\x81\xa6" "b\n", "settings line 1 (title): a bidirectional control "
					    "character (U+2066) is not allowed");
	refused("件名: a\xe2\x80\x8f" "b\n", "settings line 1 (件名): a bidirectional control "
					     "character (U+200F) is not allowed");
	refused("件名: a\tb\n", "settings line 1 (件名): a control character (U+0009) is not allowed");
	refused("件名: a\xc2\x9b" "31m\n",
		"settings line 1 (件名): a control character (U+009B) is not allowed");
	refused("件名: a\x7f\n", "settings line 1 (件名): a control character (U+007F) is not allowed");
}

static void test_title_length(void **state)
{
	struct batch_settings s;
	struct error e = { { 0 }, 0 };
	char *text = malloc(130000);
	size_t n;
	(void)state;
	assert_non_null(text);
	/* 200 characters of kanji (600 bytes) is a title; 201 is refused */
	n = (size_t)snprintf(text, 130000, "件名: ");
	for (int i = 0; i < TEXT_TITLE_MAX; i++)
		n += (size_t)snprintf(text + n, 130000 - n, "通");
	snprintf(text + n, 130000 - n, "\n\n本文\n");
	assert_int_equal(settings_parse(text, &s, &e), 0);
	assert_int_equal(strlen(s.title), 3 * TEXT_TITLE_MAX);
	assert_string_equal(s.message, "本文\n");
	settings_free(&s);
	snprintf(text + n, 130000 - n, "知\n\n本文\n");
	refused(text, "settings line 1 (件名): it is 201 characters long; the limit is 200");
	/* the finding's 120 KB title: refused, not stored as "" */
	n = (size_t)snprintf(text, 130000, "件名: ");
	memset(text + n, 'x', 120000);
	text[n + 120000] = '\0';
	refused(text, "settings line 1 (件名): it is 120000 characters long; the limit is 200");
	free(text);
}

static void test_other_free_text(void **state)
{
	char big[300];
	(void)state;
	refused("件名: ok\n宛名番号列: 宛名\tbad\n",
		"settings line 2 (宛名番号列): a control character (U+0009) is not allowed");
	refused("キーパターン: \\d{8}\x1b\n",
		"settings line 1 (キーパターン): a control character (U+001B) is not allowed");
	refused("分割: key \\d{8}\x07\n",
		"settings line 1 (分割): a control character (U+0007) is not allowed");
	refused("期限: 2026-12-01\xe2\x80\xad\n",
		"settings line 1 (期限): a bidirectional control character (U+202D) is not allowed");
	snprintf(big, sizeof(big), "督促: %0201d\n", 0);
	refused(big, "settings line 1 (督促): it is 201 characters long; the limit is 200");
}

static void test_message(void **state)
{
	struct batch_settings s;
	struct error e = { { 0 }, 0 };
	char *text;
	(void)state;
	/* CRLF lines (Windows Notepad), with its byte order mark */
	assert_int_equal(settings_parse("\xef\xbb\xbf件名: 令和8年度 住民税決定通知\r\n分割: 2ページ\r\n\r\n"
					"区民の皆さまへ\r\n\t二行目\r\n", &s, &e), 0);
	assert_string_equal(s.title, "令和8年度 住民税決定通知");
	assert_int_equal(s.split, SPLIT_PAGES);
	assert_int_equal(s.pages, 2);
	assert_string_equal(s.message, "区民の皆さまへ\n\t二行目\n");
	settings_free(&s);
	/* the message's line is counted as in the file */
	refused("件名: t\n\n一行目\n二行目\n\x1b[31m赤\n",
		"message line 5: a control character (U+001B) is not allowed");
	refused("一行目\r二行目\n", "message line 1: a carriage return (U+000D) without a line "
				  "feed is not allowed; end lines with LF or CRLF");
	refused("件名: t\n\n\xe2\x80\xae" "evil\n",
		"message line 3: a bidirectional control character (U+202E) is not allowed");
	/* a settings line that is not UTF-8 is message text, and refused */
	refused("件名: \xff\n", "message line 1: the text is not valid UTF-8 (byte 0xFF)");
	/* a direction mark beside right-to-left text is fine in a message */
	assert_int_equal(settings_parse("مرحبا\xe2\x80\x8f 2026\n", &s, &e), 0);
	settings_free(&s);
	/* 20,000 characters pass, 20,001 are refused */
	text = malloc(TEXT_MESSAGE_MAX + 2);
	assert_non_null(text);
	memset(text, 'm', TEXT_MESSAGE_MAX);
	text[TEXT_MESSAGE_MAX] = '\0';
	assert_int_equal(settings_parse(text, &s, &e), 0);
	assert_int_equal(strlen(s.message), TEXT_MESSAGE_MAX);
	settings_free(&s);
	text[TEXT_MESSAGE_MAX] = 'm';
	text[TEXT_MESSAGE_MAX + 1] = '\0';
	refused(text, "the message: it is 20001 characters long; the limit is 20000");
	free(text);
}

static void test_settings_read(void **state)
{
	struct batch_settings s;
	struct error e = { { 0 }, 0 };
	(void)state;
	/* full-width colon and spaces; the message after a blank line */
	assert_int_equal(settings_parse("件名：　お知らせ　\nテスト: はい\nキー列: 宛名番号\n\n本文\n", &s, &e),
			 0);
	assert_string_equal(s.title, "お知らせ");
	assert_int_equal(s.test, 1);
	assert_string_equal(s.key_column, "宛名番号");
	assert_string_equal(s.message, "本文\n");
	settings_free(&s);
	/* the first line that is not a setting starts the message */
	assert_int_equal(settings_parse("区民の皆さまへ: ご案内\n件名: x\n", &s, &e), 0);
	assert_null(s.title);
	assert_string_equal(s.message, "区民の皆さまへ: ご案内\n件名: x\n");
	settings_free(&s);
	refused("分割: pages\n", "settings: split by pages needs a page count (pages: N)");
	refused("テスト: maybe\n", "settings line 1: test must be yes or no (はい/いいえ)");
}

/* "教示: " and n times 審, then the message */
static char *kyouji_of(size_t n)
{
	char *t = xmalloc(3 * n + 64);
	size_t o = strlen("教示: ");
	memcpy(t, "教示: ", o);
	for (size_t i = 0; i < n; i++, o += 3)
		memcpy(t + o, "審", 3);
	memcpy(t + o, "\n\nx\n", 5);
	return t;
}

/* 教示 (how to appeal) and 同意 (ask for consent to electronic delivery):
 * the 教示 keeps what staff wrote, longer than other settings may be. */
static void test_kyouji_consent(void **state)
{
	struct batch_settings s;
	struct error e = { { 0 }, 0 };
	char *text, *long_text;
	(void)state;
	assert_int_equal(settings_parse("教示：この処分に不服がある場合は、審査請求をすることができます。\n"
					"同意: はい\n\n本文\n",
					&s, &e),
			 0);
	assert_string_equal(s.kyouji, "この処分に不服がある場合は、審査請求をすることができます。");
	assert_int_equal(s.consent, 1);
	assert_string_equal(s.message, "本文\n");
	settings_free(&s);
	assert_int_equal(settings_parse("kyouji: appeal within 3 months\nconsent: no\n\nx\n", &s, &e), 0);
	assert_string_equal(s.kyouji, "appeal within 3 months");
	assert_int_equal(s.consent, 0);
	settings_free(&s);
	assert_int_equal(settings_parse("件名: x\n\n本文\n", &s, &e), 0);
	assert_null(s.kyouji);
	assert_int_equal(s.consent, 0);
	settings_free(&s);
	/* 1000 characters: more than another setting, within a 教示's limit */
	text = kyouji_of(1000);
	assert_int_equal(settings_parse(text, &s, &e), 0);
	assert_int_equal(strlen(s.kyouji), 3000);
	settings_free(&s);
	long_text = kyouji_of(SETTINGS_KYOUJI_MAX + 1);
	assert_int_equal(settings_parse(long_text, &s, &e), -1);
	refused("同意: maybe\n", "settings line 1: consent must be yes or no (はい/いいえ)");
	free(text);
	free(long_text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finding5_title),
		cmocka_unit_test(test_title_length),
		cmocka_unit_test(test_other_free_text),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_settings_read),
		cmocka_unit_test(test_kyouji_consent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
