/*
 * test_intake.c — unit tests of the gateway's intake (gateway/intake*.c) on
 * a real tenant: a demo signing key in a real keys process, a real LMDB
 * store, staff registered with staff_add(), and real mail: .eml messages
 * built here byte for byte with the corpus of tests/bench/gen-corpus (a
 * CP932 CSV and a PDF of Japanese notices) attached, and folders on disk.
 * What is asserted is what staff and administrators get: which inputs make
 * a batch, which are refused (with the reply saying why) or dropped (no
 * reply), what lands in the store and what does not, the sealed copy kept
 * of every refused input, duplicates, poison inputs and the sweep.
 * Runs as a stand-alone cmocka program; forks a keys process per test; uses
 * scratch directories under /tmp, removed afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <glib.h>

#include "conf/conf.h"
#include "gateway/intake.h"
#include "gateway/keys_signer.h"
#include "gateway/mime.h"
#include "keys/keys.h"
#include "lib/crypt.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "lib/util.h"

#include "spawn_helpers.h"

#define NRES 3

/* The corpus, made once: tests/bench/gen-corpus with NRES residents. */
static char *corpus_dir;
static uint8_t *csv_data, *pdf_data;
static size_t csv_len, pdf_len;

struct fx {
	char *dir;
	char outbox[4096];
	struct keys_client *kc;
	pid_t pid;
	struct store *st;
	struct signer *signer;
	struct conf *c;
	struct intake *in;
};

/* ------------------------------------------------------------ the tenant */

static void rm_rf(const char *path)
{
	char *argv[] = { "rm", "-rf", (char *)path, NULL };
	if (path != NULL && strncmp(path, "/tmp/", 5) == 0)
		(void)run(argv);
}

static void mkdir_ok(const char *path)
{
	if (mkdir(path, 0700) < 0)
		fail_msg("mkdir %s", path);
}

static void make_staff(struct fx *f, const char *login, const char *email, uint32_t perms, int disabled)
{
	struct staff s;
	struct staff_actor who = { "cli:root", "cli" };
	struct error e = { { 0 }, 0 };
	memset(&s, 0, sizeof(s));
	str_copy(s.login, login, sizeof(s.login));
	str_copy(s.email, email, sizeof(s.email));
	str_copy(s.name, login, sizeof(s.name));
	str_copy(s.role, "clerk", sizeof(s.role));
	str_copy(s.pwhash, "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", sizeof(s.pwhash));
	s.perms = perms;
	s.disabled = disabled;
	if (staff_add(f->st, &s, &who, &e) < 0)
		fail_msg("staff_add %s: %s", login, e.msg);
}

static int open_tenant(struct fx *f, int keep_days)
{
	struct error e = { { 0 }, 0 };
	char path[4200], *text;

	f->dir = xstrdup("/tmp/tayori-test-intake-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	str_fmt(f->outbox, sizeof(f->outbox), "%s/outbox", f->dir);
	mkdir_ok(f->outbox);
	str_fmt(path, sizeof(path), "%s/tmp", f->outbox);
	mkdir_ok(path);
	str_fmt(path, sizeof(path), "%s/new", f->outbox);
	mkdir_ok(path);
	text = g_strdup_printf("[tenant]\nname = テスト区\nid = test\n[paths]\noutbox_maildir = %s\n"
			       "[mail]\nfrom = tayori@city.example.jp\ntrusted_authserv = mx.city.example.jp\n"
			       "[intake]\nkeep_rejected = %d\n", f->outbox, keep_days);
	if (conf_parse(text, strlen(text), "t.conf", f->dir, &f->c, &e) < 0 ||
	    keys_create_tenant(f->dir, 1, "テスト区", &e) < 0 ||
	    keys_spawn(f->dir, "keys/signing.p12", NULL, &f->kc, &f->pid, &e) < 0 ||
	    store_open(f->dir, f->kc, 1, &f->st, &e) < 0 || keys_signer_new(f->kc, &f->signer, &e) < 0 ||
	    intake_new(f->st, f->signer, f->c, &f->in, &e) < 0) {
		fprintf(stderr, "setup: %s\n", e.msg);
		g_free(text);
		return -1;
	}
	g_free(text);
	make_staff(f, "sato", "Sato@City.Example.jp", PERM_VIEW | PERM_SUBMIT, 0);
	make_staff(f, "yamada", "yamada@city.example.jp", PERM_VIEW, 0);
	make_staff(f, "suzuki", "suzuki@city.example.jp", PERM_VIEW | PERM_SUBMIT, 1);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	*state = f;
	return open_tenant(f, 7);
}

static int setup_keep0(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	*state = f;
	return open_tenant(f, 0);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	intake_free(&f->in);
	signer_free(&f->signer);
	store_close(&f->st);
	if (f->kc != NULL)
		keys_spawn_wait(&f->kc, f->pid);
	conf_free(&f->c);
	rm_rf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int group_setup(void **state)
{
	char *argv[4];
	gchar *p;
	struct error e = { { 0 }, 0 };
	(void)state;
	corpus_dir = g_dir_make_tmp("tayori-test-intake-corpus-XXXXXX", NULL);
	if (corpus_dir == NULL)
		return -1;
	argv[0] = g_build_filename(top(), "tests", "bench", "gen-corpus", NULL);
	argv[1] = corpus_dir;
	argv[2] = g_strdup_printf("%d", NRES);
	argv[3] = NULL;
	if (run(argv) != 0) {
		fprintf(stderr, "tests/bench/gen-corpus failed (run from the top directory, or set TOP)\n");
		return -1;
	}
	g_free(argv[0]);
	g_free(argv[2]);
	p = g_build_filename(corpus_dir, "corpus.csv", NULL);
	if (file_read_all(p, 1 << 20, &csv_data, &csv_len, &e) < 0)
		return -1;
	g_free(p);
	p = g_build_filename(corpus_dir, "corpus.pdf", NULL);
	if (file_read_all(p, 64 << 20, &pdf_data, &pdf_len, &e) < 0)
		return -1;
	g_free(p);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	free(csv_data);
	free(pdf_data);
	rm_rf(corpus_dir);
	g_free(corpus_dir);
	return 0;
}

/* ------------------------------------------------------------ messages */

struct att {
	const char *name, *type;
	const uint8_t *data;
	size_t len;
};

/* An Outlook-like message: From, Subject (UTF-8 encoded word), Message-ID,
 * extra header lines (CRLF-terminated) and a multipart/mixed with a text
 * body and the attachments in base64. */
static GString *eml(const char *from, const char *subject, const char *mid, const char *extra,
		    const struct att *a, size_t n)
{
	GString *g = g_string_new(NULL);
	gchar *s = g_base64_encode((const guchar *)subject, strlen(subject));
	g_string_append_printf(g, "%sFrom: =?ISO-2022-JP?B?GyRCOjRGIxsoQg==?= <%s>\r\n"
				  "To: intake@city.example.jp\r\nSubject: =?UTF-8?B?%s?=\r\n"
				  "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n"
				  "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n",
			       extra ? extra : "", from, s, mid);
	g_free(s);
	g_string_append(g, "--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			   "Content-Transfer-Encoding: 8bit\r\n\r\n区民の皆さまへ\r\n\r\n");
	for (size_t i = 0; i < n; i++) {
		gchar *b = g_base64_encode(a[i].data, a[i].len);
		g_string_append_printf(g, "--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
					  "Content-Disposition: attachment; filename=\"%s\"\r\n"
					  "Content-Transfer-Encoding: base64\r\n\r\n",
				       a[i].type, a[i].name, a[i].name);
		size_t bl = strlen(b);
		for (size_t k = 0; k < bl; k += 76) {
			g_string_append_len(g, b + k, (gssize)(bl - k < 76 ? bl - k : 76));
			g_string_append(g, "\r\n");
		}
		g_free(b);
	}
	g_string_append(g, "--b1--\r\n");
	return g;
}

/* The usual batch: the corpus CSV and PDF. */
static GString *batch_eml(const char *from, const char *subject, const char *mid, const char *extra)
{
	struct att a[2] = { { "list.csv", "application/vnd.ms-excel", csv_data, csv_len },
			    { "notices.pdf", "application/pdf", pdf_data, pdf_len } };
	return eml(from, subject, mid, extra, a, 2);
}

static enum intake_outcome take(struct fx *f, const GString *g, uint64_t *batch, struct error *e)
{
	enum intake_outcome o;
	memset(e, 0, sizeof(*e));
	o = intake_message(f->in, (const uint8_t *)g->str, g->len, "imap", batch, e);
	if (o != INTAKE_STORED && o != INTAKE_DUPLICATE)
		fprintf(stderr, "# intake: %s: %s\n", intake_outcome_name(o), e->msg);
	return o;
}

/* ------------------------------------------------------------ what users get */

/* Entries in one database of the store. */
static size_t count(struct fx *f, enum store_db db)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct error e = { { 0 }, 0 };
	const void *k, *v;
	size_t kl, vl, n = 0;
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_iter_open(t, db, NULL, 0, &it, &e), 0);
	while (store_iter_next(it, &k, &kl, &v, &vl) == 0)
		n++;
	store_iter_close(&it);
	store_abort(&t);
	return n;
}

/* Nothing of a batch is in the store: no batch, no resident, no PDF. */
static void assert_no_batch_data(struct fx *f)
{
	assert_int_equal(count(f, DB_BATCHES), 0);
	assert_int_equal(count(f, DB_BATCH_STATE), 0);
	assert_int_equal(count(f, DB_RESIDENTS), 0);
	assert_int_equal(count(f, DB_RESIDENT_IDX), 0);
	assert_int_equal(count(f, DB_PDFS), 0);
}

/* The replies queued in the outbox, oldest name first; caller frees. */
static size_t replies(struct fx *f, GString ***out)
{
	char path[4200];
	DIR *d;
	struct dirent *de;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	size_t n;

	str_fmt(path, sizeof(path), "%s/new", f->outbox);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			g_ptr_array_add(names, g_strdup(de->d_name));
	closedir(d);
	n = names->len;
	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		gchar *p = g_build_filename(path, (const char *)g_ptr_array_index(names, i), NULL);
		gchar *data;
		gsize len;
		assert_true(g_file_get_contents(p, &data, &len, NULL));
		(*out)[i] = g_string_new_len(data, (gssize)len);
		g_free(data);
		g_free(p);
	}
	g_ptr_array_free(names, TRUE);
	return n;
}

static void free_replies(GString **r)
{
	for (size_t i = 0; r != NULL && r[i] != NULL; i++)
		g_string_free(r[i], TRUE);
	free(r);
}

/* The one reply in the outbox, read back as mail: To, Subject and body
 * hold the needles, and it answers in_reply_to. */
static void assert_one_reply(struct fx *f, const char *to, const char *in_reply_to,
			     const char *subject_has, const char *body_has)
{
	GString **r = NULL;
	struct mime_message *m = NULL;
	struct error e = { { 0 }, 0 };
	char irt[600];

	assert_int_equal(replies(f, &r), 1);
	assert_int_equal(mime_parse((const uint8_t *)r[0]->str, r[0]->len, NULL, &m, &e), 0);
	assert_string_equal(m->from_addr, "tayori@city.example.jp");
	assert_non_null(strcasestr(r[0]->str, to));
	str_fmt(irt, sizeof(irt), "In-Reply-To: <%s>", in_reply_to);
	assert_non_null(strstr(r[0]->str, irt));
	assert_non_null(strstr(r[0]->str, "Auto-Submitted: auto-replied"));
	if (strstr(m->subject, subject_has) == NULL)
		fail_msg("reply subject \"%s\" lacks \"%s\"", m->subject, subject_has);
	if (strstr(m->body, body_has) == NULL)
		fail_msg("reply body \"%s\" lacks \"%s\"", m->body, body_has);
	mime_message_free(&m);
	free_replies(r);
}

static void assert_no_reply(struct fx *f)
{
	GString **r = NULL;
	assert_int_equal(replies(f, &r), 0);
	free_replies(r);
}

/* The kept (sealed) refused inputs, as `tayori intake rejected` lists them. */
struct kept_copy {
	char source[16], kind[16], name[256], reason[ERR_MAX];
	GString *data;
	int64_t time, expires;
	GPtrArray *files; /* of a folder: "name" then its bytes, alternating */
};

static int kept_file(const char *name, const uint8_t *data, size_t len, void *arg)
{
	GPtrArray *files = arg;
	g_ptr_array_add(files, g_string_new(name));
	g_ptr_array_add(files, g_string_new_len((const char *)data, (gssize)len));
	return 0;
}

static void free_gstring(gpointer p)
{
	g_string_free(p, TRUE);
}

static int kept_one(const struct intake_kept *kp, void *arg)
{
	GArray *v = arg;
	struct kept_copy c;
	memset(&c, 0, sizeof(c));
	str_copy(c.source, kp->source, sizeof(c.source));
	str_copy(c.kind, kp->kind, sizeof(c.kind));
	str_copy(c.name, kp->name, sizeof(c.name));
	str_copy(c.reason, kp->reason, sizeof(c.reason));
	c.time = kp->time;
	c.expires = kp->expires;
	c.data = g_string_new_len((const char *)kp->data, (gssize)kp->len);
	c.files = g_ptr_array_new_with_free_func(free_gstring);
	assert_int_equal(intake_kept_files(kp, kept_file, c.files), 0);
	g_array_append_val(v, c);
	return 0;
}

static GArray *kept(struct fx *f)
{
	GArray *v = g_array_new(FALSE, TRUE, sizeof(struct kept_copy));
	struct error e = { { 0 }, 0 };
	if (intake_kept_each(f->st, kept_one, v, &e) < 0)
		fail_msg("intake_kept_each: %s", e.msg);
	return v;
}

static void free_kept(GArray *v)
{
	for (guint i = 0; i < v->len; i++) {
		struct kept_copy *c = &g_array_index(v, struct kept_copy, i);
		g_string_free(c->data, TRUE);
		g_ptr_array_free(c->files, TRUE);
	}
	g_array_free(v, TRUE);
}

/* Exactly one kept input: the message g, from source, refused for why. */
static void assert_kept_message(struct fx *f, const GString *g, const char *why)
{
	GArray *v = kept(f);
	struct kept_copy *c;
	assert_int_equal(v->len, 1);
	c = &g_array_index(v, struct kept_copy, 0);
	assert_string_equal(c->source, "imap");
	assert_string_equal(c->kind, "message");
	if (strstr(c->reason, why) == NULL)
		fail_msg("kept reason \"%s\" lacks \"%s\"", c->reason, why);
	assert_int_equal(c->data->len, g->len);
	assert_memory_equal(c->data->str, g->str, g->len);
	assert_int_equal(c->files->len, 2);
	assert_string_equal(((GString *)g_ptr_array_index(c->files, 0))->str, "message.eml");
	assert_true(c->expires - c->time == 7 * 86400);
	free_kept(v);
}

/* ------------------------------------------------------------ the tests */

/* A batch from staff: stored, answered with the report; the same message
 * again (a crash before it was deleted) is a duplicate, not a second batch. */
static void test_stored_then_duplicate(void **state)
{
	struct fx *f = *state;
	GString *g = batch_eml("sato@city.example.jp", "住民税のお知らせ", "m1@city.example.jp", NULL);
	struct error e;
	uint64_t batch = 0, again = 99;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_STORED);
	assert_true(batch > 0);
	assert_int_equal(count(f, DB_BATCHES), 1);
	assert_int_equal(count(f, DB_RESIDENTS), NRES);
	assert_true(count(f, DB_PDFS) >= NRES);
	{
		char subj[64];
		str_fmt(subj, sizeof(subj), "[tayori] 受付 %llu: 住民税のお知らせ", (unsigned long long)batch);
		assert_one_reply(f, "sato@city.example.jp", "m1@city.example.jp", subj,
				 "Your batch was received. Nothing is sent to residents until it is approved.");
	}
	assert_int_equal(count(f, DB_REJECTED), 0);

	assert_int_equal(take(f, g, &again, &e), INTAKE_DUPLICATE);
	assert_int_equal(again, 0);
	assert_int_equal(count(f, DB_BATCHES), 1);
	assert_int_equal(count(f, DB_RESIDENTS), NRES);
	assert_one_reply(f, "sato@city.example.jp", "m1@city.example.jp", "受付", "received");
	g_string_free(g, TRUE);
}

/* Who may not submit: dropped without a reply (no backscatter), nothing
 * stored, the message kept sealed with the reason. */
static void check_dropped(struct fx *f, const char *from, const char *extra, const char *why)
{
	GString *g = batch_eml(from, "件名", "d@example.jp", extra);
	struct error e;
	uint64_t batch = 7;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_DROPPED);
	assert_int_equal(batch, 0);
	assert_no_batch_data(f);
	assert_no_reply(f);
	assert_kept_message(f, g, why);
	/* Seen again: recognised, not dropped (nor kept) twice. */
	assert_int_equal(take(f, g, &batch, &e), INTAKE_DUPLICATE);
	assert_int_equal(count(f, DB_REJECTED), 1);
	g_string_free(g, TRUE);
}

static void test_drop_unknown_sender(void **state)
{
	check_dropped(*state, "someone@elsewhere.example", NULL, "unknown sender");
}

static void test_drop_no_permission(void **state)
{
	check_dropped(*state, "yamada@city.example.jp", NULL, "no submit permission");
}

static void test_drop_disabled(void **state)
{
	check_dropped(*state, "suzuki@city.example.jp", NULL, "disabled account");
}

static void test_drop_authentication_failed(void **state)
{
	check_dropped(*state, "sato@city.example.jp",
		      "Authentication-Results: mx.city.example.jp;\r\n dkim=fail header.d=city.example.jp\r\n",
		      "authentication failed");
}

static void test_drop_unreadable(void **state)
{
	struct fx *f = *state;
	GString *g = g_string_new("no header here, just words\r\n\r\nand more\r\n");
	struct error e;
	uint64_t batch;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_DROPPED);
	assert_no_batch_data(f);
	assert_no_reply(f);
	assert_kept_message(f, g, "");
	g_string_free(g, TRUE);
}

/* A staff message intake cannot make a batch of: refused, the sender told
 * why under their own subject, nothing of a batch stored, the message
 * kept sealed with the reason. */
static void check_refused(struct fx *f, const struct att *a, size_t n, const char *extra,
			  const char *why)
{
	GString *g = eml("sato@city.example.jp", "税のお知らせ", "r@city.example.jp", extra, a, n);
	struct error e;
	uint64_t batch = 5;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_REFUSED);
	assert_int_equal(batch, 0);
	if (strstr(e.msg, why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", e.msg, why);
	assert_no_batch_data(f);
	assert_one_reply(f, "sato@city.example.jp", "r@city.example.jp",
			 "[tayori] 受付できませんでした: 税のお知らせ", why);
	assert_kept_message(f, g, why);
	assert_int_equal(take(f, g, &batch, &e), INTAKE_DUPLICATE);
	assert_one_reply(f, "sato@city.example.jp", "r@city.example.jp", "受付できませんでした", why);
	g_string_free(g, TRUE);
}

static void test_refused_no_csv(void **state)
{
	struct att a[1] = { { "notices.pdf", "application/pdf", pdf_data, pdf_len } };
	check_refused(*state, a, 1, NULL, "the message has no recipients CSV");
}

static void test_refused_two_csv(void **state)
{
	struct att a[3] = { { "a.csv", "text/csv", csv_data, csv_len },
			    { "b.csv", "text/csv", csv_data, csv_len },
			    { "notices.pdf", "application/pdf", pdf_data, pdf_len } };
	check_refused(*state, a, 3, NULL, "the message has 2 CSV attachments; send exactly one");
}

static void test_refused_tnef(void **state)
{
	static const uint8_t tnef[] = { 0x78, 0x9f, 0x3e, 0x22, 0, 0, 1, 2, 3 };
	struct att a[1] = { { "winmail.dat", "application/ms-tnef", tnef, sizeof(tnef) } };
	check_refused(*state, a, 1, NULL, "winmail.dat");
}

static void test_refused_broken_pdf(void **state)
{
	static const uint8_t bad[] = "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\nendobj\n"
				     "trailer << /Root 1 0 R >>\n%%EOF\n";
	struct att a[2] = { { "list.csv", "text/csv", csv_data, csv_len },
			    { "notices.pdf", "application/pdf", bad, sizeof(bad) - 1 } };
	struct fx *f = *state;
	GString *g = eml("sato@city.example.jp", "税のお知らせ", "p@city.example.jp", NULL, a, 2);
	struct error e;
	uint64_t batch = 5;

	/* Refused by the batch itself, after matching began: still nothing half-stored. */
	assert_int_equal(take(f, g, &batch, &e), INTAKE_REFUSED);
	assert_int_equal(batch, 0);
	assert_no_batch_data(f);
	assert_one_reply(f, "sato@city.example.jp", "p@city.example.jp", "受付できませんでした",
			 "Your batch was refused; nothing was stored.");
	assert_kept_message(f, g, e.msg);
	g_string_free(g, TRUE);
}

/* An untrusted Authentication-Results line (not our MTA's) changes nothing:
 * the message is refused for its content, not dropped. */
static void test_untrusted_auth_results_ignored(void **state)
{
	struct att a[1] = { { "notices.pdf", "application/pdf", pdf_data, pdf_len } };
	check_refused(*state, a, 1,
		      "Authentication-Results: evil.example; dkim=fail spf=fail dmarc=fail\r\n",
		      "no recipients CSV");
}

/* A Subject that is not clean text is refused, never cleaned quietly. */
static void test_refused_bad_subject(void **state)
{
	struct fx *f = *state;
	struct att a[2] = { { "list.csv", "application/vnd.ms-excel", csv_data, csv_len },
			    { "notices.pdf", "application/pdf", pdf_data, pdf_len } };
	GString *g = eml("sato@city.example.jp", "お知らせ\xE2\x80\xAE" "fdp.exe", "s@city.example.jp", NULL,
			 a, 2);
	struct error e;
	uint64_t batch;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_REFUSED);
	assert_non_null(strstr(e.msg, "the Subject (the notice title)"));
	assert_no_batch_data(f);
	assert_kept_message(f, g, "Subject");
	g_string_free(g, TRUE);
}

/* An input the gateway died on twice (two starts counted, never ended) is
 * set aside without being parsed: no batch, kept sealed, the staff sender
 * told, and no attempt count left. */
static void test_poison(void **state)
{
	struct fx *f = *state;
	GString *g = batch_eml("sato@city.example.jp", "件名", "poison@city.example.jp", NULL);
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	uint8_t k[40], v[4];
	uint64_t batch;

	/* What two killed gateways leave behind: "attempt:" | SHA-256 -> 2. */
	memcpy(k, "attempt:", 8);
	crypt_sha256((const uint8_t *)g->str, g->len, k + 8);
	be32_put(v, 2);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(store_put(t, DB_INTAKE, k, sizeof(k), v, sizeof(v), &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);

	assert_int_equal(take(f, g, &batch, &e), INTAKE_REFUSED);
	assert_non_null(strstr(e.msg, "the gateway stopped twice"));
	assert_no_batch_data(f);
	assert_one_reply(f, "sato@city.example.jp", "poison@city.example.jp", "set aside",
			 "The gateway stopped twice while taking your batch");
	assert_kept_message(f, g, "stopped twice");
	assert_int_equal(count(f, DB_INTAKE), 1); /* its identity only, no attempt count */
	assert_int_equal(take(f, g, &batch, &e), INTAKE_DUPLICATE);
	g_string_free(g, TRUE);
}

/* A message the gateway started once and lost (one crash) is taken normally. */
static void test_one_crash_is_no_poison(void **state)
{
	struct fx *f = *state;
	GString *g = batch_eml("sato@city.example.jp", "件名", "once@city.example.jp", NULL);
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	uint8_t k[40], v[4];
	uint64_t batch = 0;

	memcpy(k, "attempt:", 8);
	crypt_sha256((const uint8_t *)g->str, g->len, k + 8);
	be32_put(v, 1);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(store_put(t, DB_INTAKE, k, sizeof(k), v, sizeof(v), &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
	assert_int_equal(take(f, g, &batch, &e), INTAKE_STORED);
	assert_true(batch > 0);
	assert_int_equal(count(f, DB_INTAKE), 1);
	g_string_free(g, TRUE);
}

/* ------------------------------------------------------------ folders */

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	gchar *p = g_build_filename(dir, name, NULL);
	struct error e = { { 0 }, 0 };
	if (file_write_atomic(p, data, len, 0600, &e) < 0)
		fail_msg("write %s: %s", p, e.msg);
	g_free(p);
}

static char *make_folder(struct fx *f, const char *name)
{
	char *p = g_build_filename(f->dir, name, NULL);
	mkdir_ok(p);
	return p;
}

/* A folder dropped in: stored (nobody to mail: no reply); the same files
 * again are a duplicate. */
static void test_folder_stored_then_duplicate(void **state)
{
	struct fx *f = *state;
	char *p = make_folder(f, "2026年度 通知");
	struct error e = { { 0 }, 0 };
	uint64_t batch = 0, again = 9;

	write_file(p, "list.csv", csv_data, csv_len);
	write_file(p, "notices.pdf", pdf_data, pdf_len);
	write_file(p, "message.txt", "件名: 住民税\n\n区民の皆さまへ\n", strlen("件名: 住民税\n\n区民の皆さまへ\n"));
	assert_int_equal(intake_folder(f->in, p, "drop", &batch, &e), INTAKE_STORED);
	assert_true(batch > 0);
	assert_int_equal(count(f, DB_BATCHES), 1);
	assert_int_equal(count(f, DB_RESIDENTS), NRES);
	assert_no_reply(f);
	assert_int_equal(intake_folder(f->in, p, "drop", &again, &e), INTAKE_DUPLICATE);
	assert_int_equal(count(f, DB_BATCHES), 1);
	g_free(p);
}

/* A folder that cannot be a batch: refused with the reason for the caller
 * to leave beside it, nothing of a batch stored, its files kept sealed
 * under the folder's name and readable again one by one. */
static void test_folder_refused_kept(void **state)
{
	struct fx *f = *state;
	char *p = make_folder(f, "二つのCSV");
	struct error e = { { 0 }, 0 };
	uint64_t batch = 3;
	GArray *v;
	struct kept_copy *c;

	write_file(p, "a.csv", csv_data, csv_len);
	write_file(p, "b.csv", "x\n", 2);
	write_file(p, "notices.pdf", pdf_data, pdf_len);
	assert_int_equal(intake_folder(f->in, p, "drop", &batch, &e), INTAKE_REFUSED);
	assert_string_equal(e.msg, "the folder has 2 CSV files; give exactly one");
	assert_int_equal(batch, 0);
	assert_no_batch_data(f);
	assert_no_reply(f);
	v = kept(f);
	assert_int_equal(v->len, 1);
	c = &g_array_index(v, struct kept_copy, 0);
	assert_string_equal(c->source, "drop");
	assert_string_equal(c->kind, "folder");
	assert_string_equal(c->name, "二つのCSV");
	assert_string_equal(c->reason, "the folder has 2 CSV files; give exactly one");
	/* the files, CSVs then PDFs, each in name order, with their bytes */
	assert_int_equal(c->files->len, 6);
	assert_string_equal(((GString *)g_ptr_array_index(c->files, 0))->str, "a.csv");
	assert_int_equal(((GString *)g_ptr_array_index(c->files, 1))->len, csv_len);
	assert_memory_equal(((GString *)g_ptr_array_index(c->files, 1))->str, csv_data, csv_len);
	assert_string_equal(((GString *)g_ptr_array_index(c->files, 2))->str, "b.csv");
	assert_string_equal(((GString *)g_ptr_array_index(c->files, 3))->str, "x\n");
	assert_string_equal(((GString *)g_ptr_array_index(c->files, 4))->str, "notices.pdf");
	assert_int_equal(((GString *)g_ptr_array_index(c->files, 5))->len, pdf_len);
	free_kept(v);
	/* The same folder again: a duplicate, not kept twice. */
	assert_int_equal(intake_folder(f->in, p, "drop", &batch, &e), INTAKE_DUPLICATE);
	assert_int_equal(count(f, DB_REJECTED), 1);
	g_free(p);
}

static void test_folder_bad_settings(void **state)
{
	struct fx *f = *state;
	char *p = make_folder(f, "settings");
	static const char msg[] = "分割: でたらめ\n\n本文\n";
	struct error e = { { 0 }, 0 };
	uint64_t batch;

	write_file(p, "list.csv", csv_data, csv_len);
	write_file(p, "notices.pdf", pdf_data, pdf_len);
	write_file(p, "message.txt", msg, sizeof(msg) - 1);
	assert_int_equal(intake_folder(f->in, p, "drop", &batch, &e), INTAKE_REFUSED);
	assert_non_null(strstr(e.msg, "settings line 1"));
	assert_no_batch_data(f);
	assert_int_equal(count(f, DB_REJECTED), 1);
	g_free(p);
}

/* ------------------------------------------------------------ keeping */

/* The sweep deletes the kept inputs whose keep_rejected has passed, and
 * only those. */
static void test_sweep(void **state)
{
	struct fx *f = *state;
	GString *g = batch_eml("someone@elsewhere.example", "件名", "x@example.jp", NULL);
	struct error e = { { 0 }, 0 };
	uint64_t batch;
	size_t n = 99;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_DROPPED);
	assert_int_equal(count(f, DB_REJECTED), 1);
	assert_int_equal(intake_sweep(f->in, now_utc() + 6 * 86400, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(count(f, DB_REJECTED), 1);
	assert_int_equal(intake_sweep(f->in, now_utc() + 8 * 86400, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(count(f, DB_REJECTED), 0);
	/* Its identity stays: seen again it is only a duplicate. */
	assert_int_equal(take(f, g, &batch, &e), INTAKE_DUPLICATE);
	g_string_free(g, TRUE);
}

/* keep_rejected = 0: a refused input is answered but not kept. */
static void test_keep_none(void **state)
{
	struct fx *f = *state;
	struct att a[1] = { { "notices.pdf", "application/pdf", pdf_data, pdf_len } };
	GString *g = eml("sato@city.example.jp", "税", "k@city.example.jp", NULL, a, 1);
	struct error e = { { 0 }, 0 };
	uint64_t batch;

	assert_int_equal(take(f, g, &batch, &e), INTAKE_REFUSED);
	assert_one_reply(f, "sato@city.example.jp", "k@city.example.jp", "受付できませんでした",
			 "no recipients CSV");
	assert_int_equal(count(f, DB_REJECTED), 0);
	assert_int_equal(take(f, g, &batch, &e), INTAKE_DUPLICATE);
	g_string_free(g, TRUE);
}

/* An input above [limits] message_size, never read: audited, nothing kept. */
static void test_discard(void **state)
{
	struct fx *f = *state;
	size_t audit = count(f, DB_AUDIT);
	intake_discard(f->in, "maildir", "above [limits] message_size");
	assert_true(count(f, DB_AUDIT) > audit);
	assert_int_equal(count(f, DB_REJECTED), 0);
	assert_int_equal(count(f, DB_INTAKE), 0);
	assert_string_equal(intake_outcome_name(INTAKE_TEMPFAIL), "tempfail");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored_then_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_unknown_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_no_permission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_authentication_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_no_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_two_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_tnef, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_broken_pdf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_auth_results_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_bad_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_crash_is_no_poison, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_stored_then_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_refused_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_folder_bad_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_none, setup_keep0, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
