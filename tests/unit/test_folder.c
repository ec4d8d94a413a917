/*
 * test_folder.c — unit tests of reading a batch's files (gateway/folder.c)
 * the way intake and `tayori submit` read them: real folders and files in a
 * scratch directory (hidden files, sub-folders, symbolic links, a message
 * that is not UTF-8, a batch above the size limit), real .eml messages
 * parsed by the mail reader, the exactly-once identity of a folder, and the
 * batch input made from the files with the tenant's settings.  Asserted is
 * what staff get: which files become the CSV, the PDFs, the extras and the
 * message, under which title, and what is refused with which reason; and
 * that reading never changes or removes the files.
 * Runs as a stand-alone cmocka program; uses a scratch directory under /tmp,
 * removed afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>

#include "conf/conf.h"
#include "gateway/folder.h"
#include "gateway/mime.h"
#include "gateway/settings.h"
#include "lib/util.h"

#define LIMIT ((size_t)1 << 20)

static const char pdf1[] = "%PDF-1.7\n% one\n";
static const char pdf2[] = "%PDF-1.4\n% two\n";
static const char csv[] = "宛名番号,氏名,メールアドレス\r\n0001,佐藤,a@example.jp\r\n";

static char *scratch; /* this test's own directory */

static int setup(void **state)
{
	(void)state;
	scratch = g_dir_make_tmp("tayori-test-folder-XXXXXX", NULL);
	return scratch != NULL ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	if (scratch != NULL)
		nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	g_free(scratch);
	scratch = NULL;
	return 0;
}

static char *path_of(const char *dir, const char *name)
{
	return g_build_filename(dir, name, NULL);
}

static void put_file(const char *dir, const char *name, const void *data, size_t len)
{
	gchar *p = path_of(dir, name);
	if (!g_file_set_contents(p, data, (gssize)len, NULL))
		fail_msg("cannot write %s", p);
	g_free(p);
}

static char *new_dir(const char *parent, const char *name)
{
	char *p = path_of(parent, name);
	if (mkdir(p, 0700) < 0)
		fail_msg("mkdir %s", p);
	return p;
}

static void assert_file(const struct batch_file *f, const char *name, const void *data, size_t len)
{
	assert_string_equal(f->name, name);
	assert_int_equal(f->len, len);
	assert_memory_equal(f->data, data, len);
}

/* ------------------------------------------------------------ folders */

/* A folder as staff drop it: the CSV, the PDFs (by name, and a scan
 * without an extension by its content), an extra file and the message;
 * hidden files, a sub-folder and a symbolic link are left out. */
static void test_folder_sorted(void **state)
{
	char *d = new_dir(scratch, "令和8年度 住民税"), *sub, *lnk, *target;
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	static const char msg[] = "件名: 住民税決定通知\n\n区民の皆さまへ\n";
	struct stat sb;
	(void)state;

	memset(&f, 0, sizeof(f));
	put_file(d, "list.csv", csv, sizeof(csv) - 1);
	put_file(d, "b.PDF", pdf2, sizeof(pdf2) - 1);
	put_file(d, "a.pdf", pdf1, sizeof(pdf1) - 1);
	put_file(d, "scan0001", pdf1, sizeof(pdf1) - 1);
	put_file(d, "地図.png", "\x89PNG\r\n", 6);
	put_file(d, "message.txt", msg, sizeof(msg) - 1);
	put_file(d, ".DS_Store", "junk", 4);
	put_file(d, "~$list.csv.tmp", "lock", 4);
	sub = new_dir(d, "old");
	put_file(sub, "other.csv", csv, sizeof(csv) - 1);
	target = path_of(scratch, "outside.pdf");
	put_file(scratch, "outside.pdf", pdf2, sizeof(pdf2) - 1);
	lnk = path_of(d, "linked.pdf");
	assert_int_equal(symlink(target, lnk), 0);

	assert_int_equal(batch_files_add_folder(&f, d, LIMIT, &total, &e), 0);
	assert_int_equal(f.ncsv, 1);
	assert_file(&f.csv[0], "list.csv", csv, sizeof(csv) - 1);
	assert_int_equal(f.npdfs, 3);
	assert_file(&f.pdfs[0], "a.pdf", pdf1, sizeof(pdf1) - 1);
	assert_file(&f.pdfs[1], "b.PDF", pdf2, sizeof(pdf2) - 1);
	assert_file(&f.pdfs[2], "scan0001", pdf1, sizeof(pdf1) - 1);
	assert_int_equal(f.nextras, 2);
	assert_string_equal(f.extras[0].name, "~$list.csv.tmp");
	assert_string_equal(f.extras[1].name, "地図.png");
	assert_string_equal(f.message, msg);
	assert_string_equal(f.title, "令和8年度 住民税");
	assert_int_equal(total, sizeof(csv) - 1 + sizeof(pdf1) - 1 + sizeof(pdf2) - 1 + sizeof(pdf1) - 1 +
				       6 + sizeof(msg) - 1 + 4);
	/* Reading takes nothing away: every file is still there. */
	assert_int_equal(lstat(lnk, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	{
		gchar *p = path_of(d, "list.csv");
		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal((size_t)sb.st_size, sizeof(csv) - 1);
		g_free(p);
	}
	batch_files_free(&f);
	assert_int_equal(f.ncsv, 0);
	assert_null(f.message);
	g_free(lnk);
	g_free(target);
	g_free(sub);
	g_free(d);
}

/* 本文.txt is the message too; a folder given with a trailing slash keeps
 * its name as the title. */
static void test_folder_honbun(void **state)
{
	char *d = new_dir(scratch, "お知らせ"), *slash;
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	(void)state;

	memset(&f, 0, sizeof(f));
	put_file(d, "本文.txt", "こんにちは\n", strlen("こんにちは\n"));
	put_file(d, "l.csv", csv, sizeof(csv) - 1);
	slash = g_strconcat(d, "//", NULL);
	assert_int_equal(batch_files_add_folder(&f, slash, LIMIT, &total, &e), 0);
	assert_string_equal(f.message, "こんにちは\n");
	assert_string_equal(f.title, "お知らせ");
	assert_int_equal(f.nextras, 0);
	batch_files_free(&f);
	g_free(slash);
	g_free(d);
}

/* The message must be UTF-8: refused naming the file, not guessed. */
static void test_message_not_utf8(void **state)
{
	char *d = new_dir(scratch, "sjis");
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	(void)state;

	memset(&f, 0, sizeof(f));
	put_file(d, "message.txt", "\x8b\xe6\x96\xf0\x8f\x8a", 6); /* 区役所 in Shift_JIS */
	assert_int_equal(batch_files_add_folder(&f, d, LIMIT, &total, &e), -1);
	assert_string_equal(e.msg, "message.txt: the message must be UTF-8 text");
	batch_files_free(&f);
	g_free(d);
}

/* Above [limits] message_size in total: refused naming the limit. */
static void test_folder_too_large(void **state)
{
	char *d = new_dir(scratch, "big");
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	char *blob = xcalloc(1, 600);
	(void)state;

	memset(&f, 0, sizeof(f));
	memcpy(blob, "%PDF-", 5);
	put_file(d, "a.pdf", blob, 600);
	put_file(d, "b.pdf", blob, 600);
	assert_int_equal(batch_files_add_folder(&f, d, 1000, &total, &e), -1);
	assert_string_equal(e.msg, "the batch is larger than the limit of 1000 bytes ([limits] message_size)");
	batch_files_free(&f);
	free(blob);
	g_free(d);
}

static void test_folder_missing(void **state)
{
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	char *p = path_of(scratch, "nowhere");
	(void)state;

	memset(&f, 0, sizeof(f));
	assert_int_equal(batch_files_add_folder(&f, p, LIMIT, &total, &e), -1);
	assert_non_null(strstr(e.msg, "cannot open the folder"));
	batch_files_free(&f);
	g_free(p);
}

/* ------------------------------------------------------------ identity */

static void identity_of_folder(const char *d, uint8_t id[32])
{
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	memset(&f, 0, sizeof(f));
	assert_int_equal(batch_files_add_folder(&f, d, LIMIT, &total, &e), 0);
	batch_files_identity(&f, id);
	batch_files_free(&f);
}

/* The same files are the same input wherever they come from (a dropped
 * folder, `tayori submit` of loose files in any order, another folder
 * name); another name or another byte is another input. */
static void test_identity(void **state)
{
	char *a = new_dir(scratch, "one"), *b = new_dir(scratch, "two"), *c = new_dir(scratch, "three");
	uint8_t ia[32], ib[32], ic[32], il[32];
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	(void)state;

	for (int i = 0; i < 2; i++) {
		const char *d = i == 0 ? a : b;
		put_file(d, "list.csv", csv, sizeof(csv) - 1);
		put_file(d, "a.pdf", pdf1, sizeof(pdf1) - 1);
		put_file(d, "message.txt", "本文\n", strlen("本文\n"));
	}
	put_file(c, "list.csv", csv, sizeof(csv) - 1);
	put_file(c, "A.pdf", pdf1, sizeof(pdf1) - 1);
	put_file(c, "message.txt", "本文\n", strlen("本文\n"));
	identity_of_folder(a, ia);
	identity_of_folder(b, ib);
	identity_of_folder(c, ic);
	assert_memory_equal(ia, ib, 32);
	assert_memory_not_equal(ia, ic, 32);

	/* loose files, given in another order */
	memset(&f, 0, sizeof(f));
	{
		gchar *m = path_of(a, "message.txt"), *p = path_of(a, "a.pdf"), *l = path_of(a, "list.csv");
		assert_int_equal(batch_files_add_file(&f, m, LIMIT, &total, &e), 0);
		assert_int_equal(batch_files_add_file(&f, p, LIMIT, &total, &e), 0);
		assert_int_equal(batch_files_add_file(&f, l, LIMIT, &total, &e), 0);
		g_free(m);
		g_free(p);
		g_free(l);
	}
	batch_files_identity(&f, il);
	assert_memory_equal(ia, il, 32);
	batch_files_free(&f);

	/* one byte more in the message */
	put_file(b, "message.txt", "本文\n\n", strlen("本文\n\n"));
	identity_of_folder(b, ib);
	assert_memory_not_equal(ia, ib, 32);
	g_free(a);
	g_free(b);
	g_free(c);
}

/* ------------------------------------------------------------ mail */

static struct mime_message *parse(const char *text)
{
	struct mime_message *m = NULL;
	struct error e = { { 0 }, 0 };
	if (mime_parse((const uint8_t *)text, strlen(text), NULL, &m, &e) < 0)
		fail_msg("mime_parse: %s", e.msg);
	return m;
}

/* A message's attachments become the batch's files (taken over, not
 * copied); a nameless CSV part still gets a name; a message.txt attached
 * stays a file; the body is the message and the Subject the title. */
static void test_mime(void **state)
{
	static const char text[] =
		"From: sato@city.example.jp\r\nSubject: =?UTF-8?B?5L2P5rCR56iO?=\r\n"
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n区民の皆さまへ\r\n"
		"--b\r\nContent-Type: text/csv\r\n\r\n宛名番号\r\n0001\r\n"
		"--b\r\nContent-Type: application/octet-stream; name=\"notice.pdf\"\r\n\r\n%PDF-1.7\r\n"
		"--b\r\nContent-Type: text/plain; name=\"message.txt\"\r\n"
		"Content-Disposition: attachment; filename=\"message.txt\"\r\n\r\nnot the body\r\n"
		"--b--\r\n";
	struct mime_message *m = parse(text);
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	(void)state;

	memset(&f, 0, sizeof(f));
	assert_int_equal(batch_files_add_mime(&f, m, &e), 0);
	assert_int_equal(f.ncsv, 1);
	assert_string_equal(f.csv[0].name, "attachment-1.csv");
	assert_int_equal(f.npdfs, 1);
	assert_string_equal(f.pdfs[0].name, "notice.pdf");
	assert_int_equal(f.nextras, 1);
	assert_string_equal(f.extras[0].name, "message.txt");
	for (size_t i = 0; i < m->natt; i++)
		assert_null(m->att[i].data); /* the batch's files own the bytes now */
	assert_string_equal(f.message, "区民の皆さまへ");
	assert_string_equal(f.title, "住民税");
	mime_message_free(&m);
	batch_files_free(&f);
}

/* A folder's own message and title win over the mail's. */
static void test_mime_after_folder(void **state)
{
	char *d = new_dir(scratch, "フォルダ名");
	struct mime_message *m = parse("From: a@example.jp\r\nSubject: mail subject\r\n\r\nmail body\r\n");
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	size_t total = 0;
	(void)state;

	memset(&f, 0, sizeof(f));
	put_file(d, "message.txt", "folder message\n", 15);
	assert_int_equal(batch_files_add_folder(&f, d, LIMIT, &total, &e), 0);
	assert_int_equal(batch_files_add_mime(&f, m, &e), 0);
	assert_string_equal(f.message, "folder message\n");
	assert_string_equal(f.title, "フォルダ名");
	mime_message_free(&m);
	batch_files_free(&f);
	g_free(d);
}

/* Documents inside Outlook's winmail.dat: refused with how to resend. */
static void test_mime_tnef(void **state)
{
	struct mime_message *m = parse(
		"From: a@example.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
		"--b\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\n\r\nxx\r\n--b--\r\n");
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	(void)state;

	memset(&f, 0, sizeof(f));
	assert_int_equal(batch_files_add_mime(&f, m, &e), -1);
	assert_non_null(strstr(e.msg, "winmail.dat"));
	assert_non_null(strstr(e.msg, "send the mail again in HTML or plain text format"));
	mime_message_free(&m);
	batch_files_free(&f);
}

/* A Subject that is not clean text is refused as a title, never cleaned. */
static void test_mime_bad_subject(void **state)
{
	struct mime_message *m = parse("From: a@example.jp\r\nSubject: =?UTF-8?B?YeKArmI=?=\r\n\r\nbody\r\n");
	struct batch_files f;
	struct error e = { { 0 }, 0 };
	(void)state;

	memset(&f, 0, sizeof(f));
	assert_int_equal(batch_files_add_mime(&f, m, &e), -1);
	assert_non_null(strstr(e.msg, "the Subject (the notice title): "));
	assert_non_null(strstr(e.msg, "U+202E"));
	mime_message_free(&m);
	batch_files_free(&f);
}

/* ------------------------------------------------------------ the input */

static struct conf *load_conf(const char *extra)
{
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };
	gchar *t = g_strdup_printf("[tenant]\nname = t\nid = t\n%s", extra);
	if (conf_parse(t, strlen(t), "t.conf", scratch, &c, &e) < 0)
		fail_msg("conf: %s", e.msg);
	g_free(t);
	return c;
}

/* The title: the settings' 件名, else the one given (--title), else the
 * folder's name or Subject, else お知らせ; the signing level and limits from
 * the tenant's settings. */
static void test_input(void **state)
{
	struct conf *c = load_conf("[signing]\nlevel = B-T\ntsa_url = http://127.0.0.1:9/tsa\n"
				   "tsa_ca_file = /etc/ssl/certs/ca-certificates.crt\n"
				   "[limits]\ncsv_rows = 77\npdf_pages = 9\n");
	struct batch_files f;
	struct batch_settings set;
	struct batch_input bi;
	uint8_t *cd = (uint8_t *)xstrdup(csv);
	struct error e = { { 0 }, 0 };
	(void)state;

	memset(&f, 0, sizeof(f));
	memset(&set, 0, sizeof(set));
	batch_files_add_bytes(&f, "list.csv", cd, strlen(csv));
	batch_files_input(&bi, &f, &set, c, NULL, "staff:1", "imap");
	assert_string_equal(bi.title, "お知らせ");
	assert_string_equal(bi.csv.name, "list.csv");
	assert_int_equal(bi.npdfs, 0);
	assert_int_equal(bi.level, PADES_B_T);
	assert_int_equal(bi.csv_max_rows, 77);
	assert_int_equal(bi.max_pages, 9);
	assert_string_equal(bi.actor, "staff:1");
	assert_string_equal(bi.from, "imap");
	assert_string_equal(bi.tsa_url, "http://127.0.0.1:9/tsa");
	assert_string_equal(bi.tsa_ca_file, "/etc/ssl/certs/ca-certificates.crt");
	str_copy(f.title, "フォルダ", sizeof(f.title));
	batch_files_input(&bi, &f, &set, c, NULL, "drop", "drop");
	assert_string_equal(bi.title, "フォルダ");
	batch_files_input(&bi, &f, &set, c, "--title の題", "cli", "cli");
	assert_string_equal(bi.title, "--title の題");
	assert_int_equal(settings_parse("件名: 設定の題\n\n本文\n", &set, &e), 0);
	batch_files_input(&bi, &f, &set, c, "--title の題", "cli", "cli");
	assert_string_equal(bi.title, "設定の題");
	settings_free(&set);
	batch_files_free(&f);
	conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_folder_sorted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_honbun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mime_after_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mime_tnef, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mime_bad_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
