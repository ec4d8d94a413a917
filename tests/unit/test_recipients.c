/*
 * test_recipients.c — unit tests of the recipients table
 * (gateway/recipients.c) on real CSV text parsed by gateway/csv.c:
 * header inference and settings, NFKC keys and addresses, Excel's lost
 * leading zeros, address validation (attacker cases), row flags and every
 * refusal with its message.  Runs as a cmocka test binary.
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

#include "gateway/csv.h"
#include "gateway/recipients.h"

#include "email_probes.h"

/* Parse bytes and build the table; fails the test on any error. */
static struct recipients *load_bytes(const char *s, size_t len,
				     const struct recipients_options *o)
{
	struct csv_table *t = NULL;
	struct recipients *r = NULL;
	struct error e = { 0 };

	if (csv_parse((const uint8_t *)s, len, NULL, &t, &e) != 0)
		fail_msg("csv_parse: %s", e.msg);
	if (recipients_from_csv(t, o, &r, &e) != 0)
		fail_msg("recipients_from_csv: %s", e.msg);
	csv_free(&t); /* the table must not be needed any more */
	assert_non_null(r);
	return r;
}

static struct recipients *load(const char *s, const struct recipients_options *o)
{
	return load_bytes(s, strlen(s), o);
}

/* recipients_from_csv must refuse; returns the message (static). */
static const char *load_err(const char *s, const struct recipients_options *o)
{
	static struct error e;
	struct csv_table *t = NULL;
	struct recipients *r = (struct recipients *)1;

	memset(&e, 0, sizeof(e));
	if (csv_parse((const uint8_t *)s, strlen(s), NULL, &t, &e) != 0)
		fail_msg("csv_parse: %s", e.msg);
	assert_int_equal(recipients_from_csv(t, o, &r, &e), -1);
	assert_null(r);
	assert_int_equal(e.temporary, 0);
	csv_free(&t);
	return e.msg;
}

static void assert_contains(const char *msg, const char *part)
{
	if (strstr(msg, part) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", msg, part);
}

static void assert_prefix(const char *msg, const char *prefix)
{
	if (strncmp(msg, prefix, strlen(prefix)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"", msg, prefix);
}

static void test_basic(void **state)
{
	struct recipients *r = load("宛名番号,氏名,メールアドレス,備考\r\n"
				    "10000001,山田 太郎,taro@example.jp,至急\r\n"
				    "10000002,佐藤花子,hanako@example.lg.jp,\r\n", NULL);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->key_col, 0);
	assert_int_equal(r->name_col, 1);
	assert_int_equal(r->email_col, 2);
	assert_int_equal(r->message_col, -1);
	assert_int_equal(r->attachment_col, -1);
	assert_int_equal(r->auth_col, -1);
	assert_string_equal(r->key_header, "宛名番号");
	assert_string_equal(r->name_header, "氏名");
	assert_string_equal(r->email_header, "メールアドレス");
	assert_string_equal(r->message_header, "");
	assert_string_equal(r->encoding, "UTF-8");
	assert_int_equal(r->header_line, 1);
	assert_int_equal(r->key_width, 8);
	assert_string_equal(r->v[0].key, "10000001");
	assert_string_equal(r->v[0].name, "山田 太郎");
	assert_string_equal(r->v[0].email, "taro@example.jp");
	assert_string_equal(r->v[0].message, "");
	assert_int_equal(r->v[0].flags, 0);
	assert_int_equal(r->v[0].line, 2);
	assert_int_equal(r->v[1].line, 3);
	assert_int_equal(r->v[0].nextra, 1);
	assert_string_equal(r->v[0].extra_names[0], "備考");
	assert_string_equal(r->v[0].extra_values[0], "至急");
	assert_string_equal(r->v[1].extra_values[0], "");
	recipients_free(&r);
	assert_null(r);
	recipients_free(&r);
}

static void test_header_variants(void **state)
{
	/* different order, English and full-width spellings */
	struct recipients *r = load("E-Mail,お名前,宛名コード\n"
				    "a@example.jp,A,1\n", NULL);
	assert_int_equal(r->email_col, 0);
	assert_int_equal(r->name_col, 1);
	assert_int_equal(r->key_col, 2);
	recipients_free(&r);

	r = load("ＩＤ , ＮＡＭＥ ,ｅｍａｉｌ\n1,A,a@example.jp\n", NULL);
	assert_int_equal(r->key_col, 0);
	assert_int_equal(r->name_col, 1);
	assert_int_equal(r->email_col, 2);
	assert_string_equal(r->key_header, "ＩＤ");
	recipients_free(&r);

	/* brackets, spaces, the kana reading column left alone */
	r = load("氏名（カナ）,【メールアドレス】,氏名（漢字）,宛名番号(8桁),"
		 "個別 メッセージ,PDFファイル名,生年月日\n"
		 "ヤマダ,a@example.jp,山田,00000001,こんにちは,a.pdf,1980-01-02\n", NULL);
	assert_int_equal(r->name_col, 2);
	assert_int_equal(r->email_col, 1);
	assert_int_equal(r->key_col, 3);
	assert_int_equal(r->message_col, 4);
	assert_int_equal(r->attachment_col, 5);
	assert_int_equal(r->auth_col, 6);
	assert_string_equal(r->v[0].name, "山田");
	assert_string_equal(r->v[0].message, "こんにちは");
	assert_string_equal(r->v[0].attachment, "a.pdf");
	assert_string_equal(r->v[0].auth_value, "1980-01-02");
	assert_int_equal(r->v[0].nextra, 1);
	assert_string_equal(r->v[0].extra_names[0], "氏名（カナ）");
	assert_string_equal(r->v[0].extra_values[0], "ヤマダ");
	recipients_free(&r);

	r = load("Mail Address,被保険者番号,Full Name\nb@example.jp,42,B\n", NULL);
	assert_int_equal(r->email_col, 0);
	assert_int_equal(r->key_col, 1);
	assert_int_equal(r->name_col, 2);
	recipients_free(&r);
}

static void test_nfkc_and_spaces(void **state)
{
	struct recipients *r = load("宛名番号,氏名,メールアドレス,生年月日,添付ファイル\n"
				    "　１２　３４５　,　山田　太郎　,　ｔａｒｏ＠ＥＸＡＭＰＬＥ．ｊｐ　,"
				    "１９８０－０１－０２,ｆｉｌｅ１．ｐｄｆ\n"
				    "\t67890 ,\" 佐藤 \",Hanako.Sato@Example.JP\t,,\n", NULL);
	assert_string_equal(r->v[0].key, "12345");
	assert_string_equal(r->v[0].name, "山田　太郎"); /* inner U+3000 kept in names */
	assert_string_equal(r->v[0].email, "taro@example.jp");
	assert_string_equal(r->v[0].auth_value, "1980-01-02");
	assert_string_equal(r->v[0].attachment, "file1.pdf");
	assert_int_equal(r->v[0].flags, 0);
	assert_string_equal(r->v[1].key, "67890");
	assert_string_equal(r->v[1].name, "佐藤");
	/* the local part keeps its case, the domain is lower-cased */
	assert_string_equal(r->v[1].email, "Hanako.Sato@example.jp");
	assert_int_equal(r->v[1].flags, 0);
	recipients_free(&r);
}

static void test_excel_leading_zeros(void **state)
{
	/* 8-digit keys; Excel turned 00012345 into 12345 and 01000000 into 1000000 */
	struct recipients *r = load("宛名番号,メールアドレス\n"
				    "12345,a@example.jp\n"
				    "23456789,b@example.jp\n"
				    "1000000,c@example.jp\n"
				    "34567890,d@example.jp\n"
				    "００４５６７８９,e@example.jp\n", NULL);
	assert_int_equal(r->key_width, 8);
	assert_string_equal(r->v[0].key, "00012345");
	assert_string_equal(r->v[1].key, "23456789");
	assert_string_equal(r->v[2].key, "01000000");
	assert_string_equal(r->v[4].key, "00456789");
	recipients_free(&r);

	/* the width seen on the PDF pages wins */
	struct recipients_options o = { .key_width = 10 };
	r = load("宛名番号,メールアドレス\n12345,a@example.jp\n23456789,b@example.jp\n", &o);
	assert_int_equal(r->key_width, 10);
	assert_string_equal(r->v[0].key, "0000012345");
	assert_string_equal(r->v[1].key, "0023456789");
	recipients_free(&r);

	/* a non-numeric key column is never padded */
	r = load("宛名番号,メールアドレス\nA0001,a@example.jp\n12,b@example.jp\n", NULL);
	assert_int_equal(r->key_width, 0);
	assert_string_equal(r->v[1].key, "12");
	recipients_free(&r);

	/* ties go to the longer width */
	r = load("id,email\n123,a@example.jp\n4567,b@example.jp\n", NULL);
	assert_int_equal(r->key_width, 4);
	assert_string_equal(r->v[0].key, "0123");
	recipients_free(&r);
}

static void test_normalize_key(void **state)
{
	char out[RECIPIENTS_KEY_MAX + 1];

	assert_int_equal(recipients_normalize_key("　１２３４　", 6, out, sizeof(out)), 0);
	assert_string_equal(out, "001234");
	assert_int_equal(recipients_normalize_key("12 34", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "1234");
	assert_int_equal(recipients_normalize_key("A-12_b", 8, out, sizeof(out)), 0);
	assert_string_equal(out, "A-12_b"); /* only all-digit keys are padded */
	assert_int_equal(recipients_normalize_key("1234567", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "1234567"); /* never cut */
	assert_int_equal(recipients_normalize_key("　 ", 0, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(recipients_normalize_key("../etc", 0, out, sizeof(out)), -1);
	assert_int_equal(recipients_normalize_key("12\r\n34", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "1234"); /* line breaks are white space */
	assert_int_equal(recipients_normalize_key("１２－３４‐５−６ー７", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "12-34-5-6-7");
	assert_int_equal(recipients_normalize_key("12\x01" "34", 0, out, sizeof(out)), -1);
	assert_int_equal(recipients_normalize_key("山田", 0, out, sizeof(out)), -1);
	assert_int_equal(recipients_normalize_key("\xff", 0, out, sizeof(out)), -1);
	assert_int_equal(recipients_normalize_key("12345", 0, out, 5), -1);
	assert_int_equal(recipients_normalize_key("12345", 0, out, 6), 0);
	assert_int_equal(recipients_normalize_key("1", 65, out, sizeof(out)), -1);
	char longkey[80];
	memset(longkey, '7', 65);
	longkey[65] = '\0';
	assert_int_equal(recipients_normalize_key(longkey, 0, out, sizeof(out)), -1);
}

static void test_normalize_text(void **state)
{
	char *s = recipients_normalize_text("\xEF\xBB\xBF　ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ\u00A0");
	assert_non_null(s);
	assert_string_equal(s, "taro@example.jp");
	free(s);
	assert_null(recipients_normalize_text("\xC3"));
}

/* An address of exactly total characters: 64-character local part, labels
 * of at most 61 characters, ending in ".jp". */
static void make_addr(size_t total, char *out)
{
	size_t o = 0, remaining = total - 65 - 3;

	memset(out, 'c', 64);
	out[64] = '@';
	o = 65;
	while (remaining > 0) {
		size_t n = remaining > 61 ? 60 : remaining;
		memset(out + o, 'd', n);
		o += n;
		remaining -= n;
		if (remaining > 0) {
			out[o++] = '.';
			remaining--;
		}
	}
	memcpy(out + o, ".jp", 4);
}

static void test_email_valid(void **state)
{
	static const char *const good[] = {
		"a@b.jp", "taro.yamada+notice@city.example.lg.jp", "A_B-c@sub.example.co.jp",
		"user@xn--eckwd4c7c.xn--zckzah", "o'brien@example.com", "x@123.example.jp",
		"1234567890123456789012345678901234567890123456789012345678901234@example.jp",
	};
	char local65[80], label64[100], a300[310], a255[300], a254[300];

	memset(local65, 'a', 65);
	memcpy(local65 + 65, "@example.jp", 12);
	memcpy(label64, "a@", 2);
	memset(label64 + 2, 'b', 64);
	memcpy(label64 + 66, ".jp", 4);
	make_addr(300, a300);
	make_addr(255, a255);
	make_addr(254, a254);
	assert_int_equal(strlen(a300), 300);
	assert_int_equal(strlen(a254), 254);

	const char *const bad[] = {
		"", "a", "a@b", "@example.jp", "a@", "<x@y.jp>", "x@y.jp>", "Taro <x@y.jp>",
		"taro@example.jp\r\nBcc: victim@example.jp", "taro@example.jp\n",
		"a@@b.jp", "a@b@c.jp", "a b@c.jp", "a,b@c.jp", "a@c.jp,b@d.jp", "a@c.jp;b@d.jp",
		"a..b@c.jp", ".a@c.jp", "a.@c.jp", "a@-c.jp", "a@c-.jp", "a@c..jp", "a@.c.jp",
		"a@c.jp.", "a@1.2.3.4", "a@[1.2.3.4]", "\"a\"@c.jp", "\"a b\"@c.jp",
		"太郎@example.jp", "a@例え.jp", "a@example.jp\x01", "a(comment)@c.jp",
		"a\\b@c.jp", "a@c_d.jp", "a@c.jp\t", local65, label64, a300, a255,
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!recipients_email_valid(good[i]))
			fail_msg("refused a good address: %s", good[i]);
	assert_true(recipients_email_valid(a254));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (recipients_email_valid(bad[i]))
			fail_msg("accepted a bad address: %s", bad[i]);
	assert_false(recipients_email_valid(NULL));
}

static void test_invalid_and_missing_addresses(void **state)
{
	char csv[2048];
	char long_addr[301];

	memset(long_addr, 'a', 300);
	long_addr[300] = '\0';
	memcpy(long_addr + 280, "@example.jp", 11);
	assert_true(str_fmt(csv, sizeof(csv),
			    "宛名番号,氏名,メールアドレス\r\n"
			    "1,CRLF,\"taro@example.jp\r\nBcc: victim@example.jp\"\r\n"
			    "2,nodot,a@b\r\n"
			    "3,angle,<x@y.jp>\r\n"
			    "4,long,%s\r\n"
			    "5,paper,\r\n"
			    "6,blank,　\r\n"
			    "7,good,ｇｏｏｄ＠ｅｘａｍｐｌｅ．ｊｐ\r\n"
			    "8,comma,\"a@b.jp,c@d.jp\"\r\n", long_addr) > 0);
	struct recipients *r = load(csv, NULL);
	assert_int_equal(r->n, 8);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(r->v[i].flags, RCPT_INVALID_EMAIL);
		/* shown to staff, but never with a line break */
		assert_null(strchr(r->v[i].email, '\r'));
		assert_null(strchr(r->v[i].email, '\n'));
	}
	assert_string_equal(r->v[0].email, "taro@example.jp?Bcc: victim@example.jp");
	assert_int_equal(r->v[0].line, 2);
	assert_int_equal(r->v[1].line, 4); /* the quoted CRLF counts as a line */
	assert_int_equal(r->v[4].flags, RCPT_NO_EMAIL);
	assert_string_equal(r->v[4].email, "");
	assert_int_equal(r->v[5].flags, RCPT_NO_EMAIL);
	assert_int_equal(r->v[6].flags, 0);
	assert_string_equal(r->v[6].email, "good@example.jp");
	assert_int_equal(r->v[7].flags, RCPT_INVALID_EMAIL);
	recipients_free(&r);
}

static void test_duplicates_and_bad_keys(void **state)
{
	struct recipients *r = load("宛名番号,メールアドレス\n"
				    "1001,a@example.jp\n"
				    "1002,b@example.jp\n"
				    "１００１,c@example.jp\n"
				    ",d@example.jp\n"
				    "　,e@example.jp\n"
				    "10/03,f@example.jp\n"
				    "12\x01" "3,g@example.jp\n"
				    "1002,\n", NULL);
	assert_int_equal(r->n, 8);
	assert_int_equal(r->v[0].flags, RCPT_DUPLICATE_KEY);
	assert_int_equal(r->v[1].flags, RCPT_DUPLICATE_KEY);
	assert_int_equal(r->v[2].flags, RCPT_DUPLICATE_KEY);
	assert_string_equal(r->v[2].key, "1001");
	assert_int_equal(r->v[3].flags, RCPT_EMPTY_KEY);
	assert_int_equal(r->v[3].line, 5);
	assert_string_equal(r->v[3].key, "");
	assert_int_equal(r->v[4].flags, RCPT_EMPTY_KEY);
	assert_int_equal(r->v[5].flags, RCPT_INVALID_KEY);
	assert_int_equal(r->v[6].flags, RCPT_INVALID_KEY);
	assert_string_equal(r->v[6].key, "12?3");
	assert_int_equal(r->v[7].flags, RCPT_DUPLICATE_KEY | RCPT_NO_EMAIL);
	for (size_t i = 0; i < r->n; i++)
		assert_true(r->v[i].flags & RCPT_HELD);
	recipients_free(&r);

	/* keys that only differ by Excel's lost zero are the same key */
	r = load("id,email\n0123,a@example.jp\n123,b@example.jp\n4567,c@example.jp\n", NULL);
	assert_int_equal(r->v[0].flags, RCPT_DUPLICATE_KEY);
	assert_int_equal(r->v[1].flags, RCPT_DUPLICATE_KEY);
	assert_int_equal(r->v[2].flags, 0);
	recipients_free(&r);
}

static void test_rows(void **state)
{
	/* empty rows skipped; missing trailing fields are empty; extra
	 * non-empty fields hold the row */
	struct recipients *r = load("宛名番号,氏名,メールアドレス,本文\n"
				    ",,,\n"
				    "　, ,\t,\n"
				    "1,山田,a@example.jp\n"
				    "2,山田, 太郎,b@example.jp,hi\n"
				    "3,佐藤,c@example.jp,,,\n"
				    "4,\"鈴木\x1b[31m\u202e\",d@example.jp,\"一行目\r\n二行目\rthree\"\n",
				    NULL);
	assert_int_equal(r->n, 4);
	assert_int_equal(r->v[0].line, 4);
	assert_int_equal(r->v[0].flags, 0);
	assert_string_equal(r->v[0].message, "");
	assert_true(r->v[1].flags & RCPT_EXTRA_FIELDS);
	assert_int_equal(r->v[2].flags, 0); /* empty extra fields are fine */
	assert_string_equal(r->v[3].name, "鈴木[31m");
	assert_string_equal(r->v[3].message, "一行目\n二行目\nthree");
	recipients_free(&r);
}

static void test_options(void **state)
{
	/* by header text (normalised) and by 1-based index */
	struct recipients_options o = { .key_column = "整理 番号", .email_column = "3",
					.name_column = "ｶﾅ" };
	struct recipients *r = load("宛名番号,整理番号,連絡先,カナ\n"
				    "1,A-1,a@example.jp,ア\n", &o);
	assert_int_equal(r->key_col, 1);
	assert_int_equal(r->email_col, 2);
	assert_int_equal(r->name_col, 3);
	assert_string_equal(r->v[0].key, "A-1");
	assert_string_equal(r->v[0].name, "ア");
	/* the other key-like column is just an extra now */
	assert_int_equal(r->v[0].nextra, 1);
	assert_string_equal(r->v[0].extra_names[0], "宛名番号");
	recipients_free(&r);

	/* a setting resolves the ambiguity of two e-mail columns */
	o = (struct recipients_options){ .email_column = "メール（PC）" };
	r = load("宛名番号,メール（携帯）,メール（PC）\n1,a@example.jp,b@example.jp\n", &o);
	assert_int_equal(r->email_col, 2);
	assert_string_equal(r->v[0].email, "b@example.jp");
	recipients_free(&r);

	const char *m;
	o = (struct recipients_options){ .key_column = "お客様番号" };
	m = load_err("宛名番号,メール\n1,a@example.jp\n", &o);
	assert_prefix(m, "line 1: the setting key_column names column \"お客様番号\"");
	assert_contains(m, "\"宛名番号\", \"メール\"");
	o = (struct recipients_options){ .email_column = "4" };
	m = load_err("宛名番号,メール\n1,a@example.jp\n", &o);
	assert_contains(m, "the setting email_column is column 4, but the header row "
			   "(line 1) has 2 columns");
	o = (struct recipients_options){ .email_column = "0" };
	m = load_err("宛名番号,メール\n1,a@example.jp\n", &o);
	assert_contains(m, "email_column is column 0");
	o = (struct recipients_options){ .key_column = "1", .name_column = "宛名番号" };
	m = load_err("宛名番号,メール\n1,a@example.jp\n", &o);
	assert_contains(m, "the settings key_column and name_column both name column 1");
	o = (struct recipients_options){ .key_width = 100 };
	m = load_err("宛名番号,メール\n1,a@example.jp\n", &o);
	assert_contains(m, "key width");
	o = (struct recipients_options){ .key_column = "id" };
	m = load_err("ID,id,mail\n1,2,a@example.jp\n", &o);
	assert_contains(m, "matches columns 1 and 2");
}

static void test_email_optional(void **state)
{
	struct recipients_options o = { .flags = RECIPIENTS_EMAIL_OPTIONAL };
	struct recipients *r = load("宛名番号,氏名\n00123,山田\n", &o);
	assert_int_equal(r->email_col, -1);
	assert_int_equal(r->v[0].flags, RCPT_NO_EMAIL);
	recipients_free(&r);
	const char *m = load_err("宛名番号,氏名\n00123,山田\n", NULL);
	assert_prefix(m, "line 1: no e-mail column found (headers seen: \"宛名番号\", \"氏名\")");
}

static void test_cp932_end_to_end(void **state)
{
	const char *utf8 = "宛名番号,氏名,メールアドレス\r\n"
			   "１２３,髙橋　一郎,ｔａｋａｈａｓｈｉ＠ｅｘａｍｐｌｅ．ｊｐ\r\n"
			   "4567,ﾃｽﾄ,\r\n";
	gsize rd = 0, w = 0;
	gchar *sjis = g_convert(utf8, -1, "CP932", "UTF-8", &rd, &w, NULL);
	assert_non_null(sjis);
	struct recipients *r = load_bytes(sjis, w, NULL);
	g_free(sjis);
	assert_string_equal(r->encoding, "CP932");
	assert_int_equal(r->n, 2);
	assert_string_equal(r->v[0].key, "0123");
	assert_string_equal(r->v[0].name, "髙橋　一郎");
	assert_string_equal(r->v[0].email, "takahashi@example.jp");
	assert_string_equal(r->v[1].name, "ﾃｽﾄ"); /* names are not NFKC'd */
	assert_int_equal(r->v[1].flags, RCPT_NO_EMAIL);
	recipients_free(&r);
}

/* A valid Individual Number from 11 digits (the check digit appended). */
static void make_mynumber(const char *d11, char out[13])
{
	unsigned sum = 0;
	memcpy(out, d11, 11);
	for (int n = 1; n <= 11; n++)
		sum += (unsigned)(d11[11 - n] - '0') * (unsigned)(n <= 6 ? n + 1 : n - 5);
	unsigned rem = sum % 11;
	out[11] = (char)('0' + (rem <= 1 ? 0 : 11 - rem));
	out[12] = '\0';
}

static void test_refusals(void **state)
{
	const char *m;

	m = load_err("", NULL);
	assert_prefix(m, "line 1: the CSV is empty");
	m = load_err("宛名番号,メールアドレス\r\n", NULL);
	assert_prefix(m, "line 2: the CSV has a header row but no data rows");
	m = load_err("宛名番号,メールアドレス\n,,\n", NULL);
	assert_contains(m, "no data rows");
	m = load_err("12345,山田,taro@example.jp\n12346,佐藤,b@example.jp\n", NULL);
	assert_prefix(m, "line 1: no header row: the first row holds an e-mail address");
	m = load_err("12345,山田,メモ\n", NULL);
	assert_prefix(m, "line 1: no header row");
	m = load_err("\n\n番号,氏名,メールアドレス\n1,a,a@example.jp\n", NULL);
	assert_prefix(m, "line 3: no key column found (headers seen: \"番号\", \"氏名\", "
			 "\"メールアドレス\")");
	m = load_err("宛名番号,氏名,管理番号,メール\n1,a,2,a@example.jp\n", NULL);
	assert_prefix(m, "line 1: columns 1 (\"宛名番号\") and 3 (\"管理番号\") both look "
			 "like the key column; choose one with the setting key_column");
	m = load_err("宛名番号,メール（携帯）,メール（PC）\n1,a@example.jp,b@example.jp\n", NULL);
	assert_contains(m, "both look like the e-mail column");
	m = load_err("宛名番号,氏名,個人番号,メール\n1,a,,a@example.jp\n", NULL);
	assert_prefix(m, "line 1: column 3 (\"個人番号\"): the CSV holds an Individual Number "
			 "(マイナンバー) column; remove it");
	m = load_err("宛名番号,ﾏｲﾅﾝﾊﾞｰ,メール\n1,,a@example.jp\n", NULL);
	assert_contains(m, "Individual Number");
	m = load_err("宛名番号,My Number,メール\n1,,a@example.jp\n", NULL);
	assert_contains(m, "Individual Number");
	/* an explicit setting does not make it acceptable */
	struct recipients_options o = { .key_column = "個人番号（マイナンバー）" };
	m = load_err("個人番号（マイナンバー）,メール\n1,a@example.jp\n", &o);
	assert_contains(m, "Individual Number");
	/* header-less headers with an unusual name */
	m = load_err("\xE2\x80\xAE\x01key?,x\n1,2\n", NULL);
	assert_contains(m, "no key column found (headers seen: \"??key?\", \"x\")");
}

static void test_mynumber_values(void **state)
{
	/* a renamed column of genuine-looking Individual Numbers */
	static const char *const d11[] = { "12345678901", "23456789012", "34567890123",
					   "45678901234", "56789012345", "01234567890" };
	char csv[1024], num[13];
	size_t o = 0;
	int n = snprintf(csv, sizeof(csv), "宛名番号,番号,メール\n");
	o = (size_t)n;
	for (size_t i = 0; i < 6; i++) {
		make_mynumber(d11[i], num);
		/* Excel dropped the leading zero of the last one */
		n = snprintf(csv + o, sizeof(csv) - o, "%zu,%s,a%zu@example.jp\n", i + 1,
			     num[0] == '0' ? num + 1 : num, i);
		o += (size_t)n;
	}
	assert_string_equal(num, "012345678903");
	const char *m = load_err(csv, NULL);
	assert_prefix(m, "column 2 (\"番号\") holds Individual Numbers");

	/* one wrong check digit: not Individual Numbers */
	char *p = strstr(csv, "123456789018");
	assert_non_null(p);
	p[11] = '9';
	struct recipients *r = load(csv, NULL);
	assert_int_equal(r->n, 6);
	recipients_free(&r);
}

/* The shared probe table, through this caller (after its normalisation). */
static void test_email_probes(void **state)
{
	int wrong = 0;
	(void)state;
	for (size_t i = 0; i < EMAIL_PROBES_N; i++) {
		const struct email_probe *p = &email_probes[i];
		if (recipients_email_valid(p->addr) != p->ok) {
			print_error("%s \"%s\" (%s)\n", p->ok ? "refused" : "accepted", p->addr, p->why);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_header_variants),
		cmocka_unit_test(test_nfkc_and_spaces),
		cmocka_unit_test(test_excel_leading_zeros),
		cmocka_unit_test(test_normalize_key),
		cmocka_unit_test(test_normalize_text),
		cmocka_unit_test(test_email_valid),
		cmocka_unit_test(test_email_probes),
		cmocka_unit_test(test_invalid_and_missing_addresses),
		cmocka_unit_test(test_duplicates_and_bad_keys),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_email_optional),
		cmocka_unit_test(test_cp932_end_to_end),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_mynumber_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
