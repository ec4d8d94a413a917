/*
 * test_intake_ja.c — unit tests of lib/intake_ja.c: intake's English
 * refusals (the exact lines gateway/ and pdf/ write) read as one Japanese
 * sentence for a clerk, with the place the line names (the CSV file and
 * its line, the PDF's page, the settings' line); an unknown line gets the
 * general sentence and says so; a long reason is cut, never overrun.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/intake_ja.h"

/* why must map to a sentence holding each of the (up to 3) needles. */
static void maps(const char *why, const char *a, const char *b)
{
	char out[INTAKE_JA_MAX];

	assert_int_equal(intake_why_ja(why, out, sizeof(out)), 1);
	if (strstr(out, a) == NULL || (b != NULL && strstr(out, b) == NULL))
		fail_msg("\"%s\" -> \"%s\": lacks \"%s\" / \"%s\"", why, out, a, b ? b : "");
	assert_null(strstr(out, "line"));
}

static void test_kinds(void **state)
{
	(void)state;
	maps("list.csv: line 1: no e-mail column found (headers seen: 宛名番号, 氏名); name it "
	     "メールアドレス or use the setting メール列",
	     "メールアドレスの列が見つかりません", "（「list.csv」の 1 行目）");
	maps("line 3: no key column found (headers seen: a, b); name it 宛名番号",
	     "宛名番号の列が見つかりません", "（CSV の 3 行目）");
	maps("notice.pdf: this is a PNG image, not a PDF", "PDF ではなく画像です",
	     "（ファイル「notice.pdf」）");
	maps("scan.pdf: this is a ZIP archive (perhaps a Word or Excel file), not a PDF",
	     "PDF ではありません", NULL);
	maps("corpus.pdf: the PDF has 6 pages, which is not a multiple of 4 pages per resident",
	     "割り切れません", NULL);
	maps("settings line 2: the notice type \"架空\" is not one of the ward's notice types",
	     "「通知の種類」が区の設定にありません", "（本文の先頭の設定の 2 行目）");
	maps("settings line 4: test must be yes or no (はい/いいえ)", "「はい」か「いいえ」",
	     "4 行目");
	maps("message line 7: a control character (U+001B) is not allowed", "本文に使えない文字",
	     "（本文の 7 行目）");
	maps("the PDF is truncated or damaged: page 3 needs object 12, which is missing",
	     "途中で切れているか", "（PDF の 3 ページ目）");
	maps("the attachments came inside an Outlook winmail.dat (Rich Text/TNEF)", "winmail.dat",
	     NULL);
	maps("the upload has 9 files; the limit is 6 ([limits] attachments)", "ファイルの数が多すぎます",
	     NULL);
	maps("the uploader's account is disabled", "アカウントが停止されています", NULL);
}

static void test_unknown_and_bounds(void **state)
{
	char out[INTAKE_JA_MAX], tiny[24];
	(void)state;
	assert_int_equal(intake_why_ja("something new went wrong", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "英語の説明"));
	assert_int_equal(intake_why_ja(NULL, out, sizeof(out)), 0);
	/* Cut to fit, terminated, not overrun. */
	memset(tiny, 'x', sizeof(tiny));
	intake_why_ja("line 1: no e-mail column found", tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_unknown_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
