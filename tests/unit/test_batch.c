/*
 * test_batch.c — unit tests of batch_submit() (gateway/batch.h) on a real
 * tenant: a real LMDB store, a real keys process holding the DEMO signing
 * credential, and real PDFs written with qpdf.  For each of the three
 * forms (one PDF split by the keys on its pages, one PDF per resident
 * named by key, one common PDF) it checks what staff and residents get:
 * the matching report's lists, and each resident's stored PDF read back
 * through lib/batches.h (after reopening the store), which holds only that
 * resident's pages and is exactly the signed bytes (pdf_verify: a valid
 * signature covering the whole file, by the tenant's certificate).  A
 * refused batch, and one whose signing or final commit fails, leave
 * nothing in the store.
 * Runs as a stand-alone cmocka program; forks a keys process per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/batch.h"
#include "gateway/settings.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/keys_client.h"
#include "lib/store.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_verify.h"
#include "signing_tenant.h"

static int setup(void **state)
{
	*state = tenant_new(1);
	return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	tenant_free(*state);
	return 0;
}

/* ---- building an input ---- */

struct input {
	struct batch_input in;
	struct batch_settings set;
	struct batch_file pdfs[4];
	char csv_name[16];
};

static void input_init(struct input *x, const char *csv)
{
	memset(x, 0, sizeof(*x));
	x->set.split = SPLIT_INFER;
	str_copy(x->csv_name, "residents.csv", sizeof(x->csv_name));
	x->in.set = &x->set;
	x->in.title = "令和8年度 住民税決定通知";
	x->in.csv.name = x->csv_name;
	x->in.csv.data = (uint8_t *)xstrdup(csv);
	x->in.csv.len = strlen(csv);
	x->in.pdfs = x->pdfs;
	x->in.actor = "cli:test";
	x->in.from = "cli";
	x->in.level = PADES_B_B;
	x->in.threads = 2;
}

static void input_add_pdf(struct input *x, const char *name, const char *const *pages, int n)
{
	struct batch_file *f = &x->pdfs[x->in.npdfs++];
	f->name = xstrdup(name);
	f->data = tenant_make_pdf(pages, n, &f->len);
	assert_non_null(f->data);
}

static void input_free(struct input *x)
{
	free(x->in.csv.data);
	for (size_t i = 0; i < x->in.npdfs; i++) {
		free(x->pdfs[i].name);
		free(x->pdfs[i].data);
	}
}

/* ---- what a user gets ---- */

/* l holds exactly the given strings (in any order). */
static void list_is(const struct strlist *l, const char *const *want, size_t n)
{
	if (l->n != n)
		fail_msg("a list of %zu where %zu were expected (first: %s)", l->n, n,
			 l->n ? l->v[0] : "-");
	for (size_t i = 0; i < n; i++) {
		size_t j;
		for (j = 0; j < l->n; j++)
			if (strcmp(l->v[j], want[i]) == 0)
				break;
		if (j == l->n)
			fail_msg("\"%s\" is missing from the list", want[i]);
	}
}

/* The resident's stored PDF (0), or 1 when there is none. */
static int resident_pdf(struct tenant *f, uint64_t batch, const char *key, struct buf *pdf)
{
	struct error e = { { 0 }, 0 };
	int r;
	buf_init(pdf, (size_t)1 << 30);
	r = batches_resident_pdf(f->st, batch, key, pdf, &e);
	if (r < 0)
		fail_msg("batches_resident_pdf: %s", e.msg);
	return r;
}

static char *cert_cn(const struct signer *s)
{
	char cn[256];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(s->cert), NID_commonName, cn,
					      sizeof(cn)) > 0);
	return xstrdup(cn);
}

/* One valid signature by the tenant's certificate, over the whole file:
 * the stored bytes are exactly what was signed. */
static void signed_by_tenant(struct tenant *f, const struct buf *pdf)
{
	struct pdf_verify_report r;
	struct error e = { { 0 }, 0 };
	char *cn = cert_cn(f->signer);

	if (pdf_verify_mem(pdf->data, pdf->len, NULL, &r, &e) < 0)
		fail_msg("pdf_verify: %s", e.msg);
	assert_int_equal(r.n, 1);
	if (!r.sigs[0].valid)
		fail_msg("the signature is not valid: %s", r.sigs[0].error);
	assert_int_equal(r.sigs[0].digest_ok, 1);
	assert_int_equal(r.sigs[0].signature_ok, 1);
	assert_int_equal(r.sigs[0].covers_whole_file, 1);
	assert_int_equal(r.sigs[0].later_updates, 0);
	assert_string_equal(r.sigs[0].signer_cn, cn);
	assert_string_equal(r.sigs[0].level, "B-B");
	pdf_verify_report_free(&r);
	free(cn);
}

/* The PDF has exactly these pages: page i's text holds marks[i], and no
 * page holds any of the others' keys. */
static void pages_are(const struct buf *pdf, const char *const *marks, int n,
		      const char *const *foreign, int nforeign)
{
	struct pdf_text *t = NULL;
	struct error e = { { 0 }, 0 };

	if (pdf_text_open(pdf->data, pdf->len, NULL, &t, &e) < 0)
		fail_msg("pdf_text_open: %s", e.msg);
	assert_int_equal(pdf_text_npages(t), n);
	for (int i = 0; i < n; i++) {
		char *text = pdf_text_page(t, i + 1, NULL, &e);
		assert_non_null(text);
		if (strstr(text, marks[i]) == NULL)
			fail_msg("page %d lacks \"%s\": %s", i + 1, marks[i], text);
		for (int k = 0; k < nforeign; k++)
			if (strstr(text, foreign[k]) != NULL)
				fail_msg("page %d holds another resident's key %s", i + 1, foreign[k]);
		g_free(text);
	}
	pdf_text_close(&t);
}

/* How many records the tenant holds in db. */
static size_t count_db(struct tenant *f, enum store_db db)
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

/* Nothing of any batch in the store: no state, record, resident or PDF,
 * and no batch listed. */
static void store_is_empty(struct tenant *f)
{
	struct batch_summary *list = NULL;
	struct error e = { { 0 }, 0 };
	size_t n = 99;

	assert_int_equal(count_db(f, DB_BATCH_STATE), 0);
	assert_int_equal(count_db(f, DB_BATCHES), 0);
	assert_int_equal(count_db(f, DB_RESIDENTS), 0);
	assert_int_equal(count_db(f, DB_RESIDENT_IDX), 0);
	assert_int_equal(count_db(f, DB_PDFS), 0);
	assert_int_equal(batches_list(f->st, &list, &n, &e), 0);
	assert_int_equal(n, 0);
	free(list);
}

static const char CSV[] =
	"宛名番号,氏名,メールアドレス\r\n"
	"00010001,山田 太郎,taro@example.jp\r\n"
	"00010002,佐藤 花子,hanako@example.jp\r\n"
	"00010003,鈴木 一郎,ichiro..x@example.jp\r\n" /* two dots: paper */
	"00010004,田中 次郎,\r\n"                /* no address: paper */
	"00010005,高橋 三郎,saburo@example.jp\r\n"
	"00010005,高橋 三郎,saburo2@example.jp\r\n"; /* a duplicate key: held */

/* ---- one PDF split by the keys on its pages ---- */

static void test_split_auto(void **state)
{
	struct tenant *f = *state;
	static const char *const pages[] = {
		"Resident 00010001 page 1/2\nA1", "Resident 00010001 page 2/2\nA2",
		"Resident 00010002 page 1/1\nB1",
		"Resident 00010003 page 1/2\nC1", "Resident 00010003 page 2/2\nC2",
		"Resident 00010005 page 1/1\nE1",
		"Resident 00019999 page 1/1\nZ1", /* not in the CSV: to nobody */
	};
	static const char *const others_a[] = { "00010002", "00010003", "00010005" };
	static const char *const others_b[] = { "00010001", "00010003", "00010005" };
	struct input x;
	struct batch_report rep;
	struct batch_summary s;
	struct error e = { { 0 }, 0 };
	struct buf pdf, report;

	input_init(&x, CSV);
	input_add_pdf(&x, "notices.pdf", pages, 7);
	if (batch_submit(f->st, f->signer, &x.in, &rep, &e) < 0)
		fail_msg("batch_submit: %s", e.msg);
	assert_true(rep.batch > 0);
	assert_string_equal(rep.status, BATCH_STATUS_WAITING);
	assert_int_equal(rep.recipients, 6);
	assert_int_equal(rep.pages, 7);
	/* 00010005's pages go to nobody: its key is held as a duplicate */
	assert_int_equal(rep.matched, 4);
	assert_int_equal(rep.signed_pdfs, 3);
	list_is(&rep.csv_rows_without_pdf, (const char *const[]){ "00010004" }, 1);
	list_is(&rep.invalid_emails, (const char *const[]){ "00010003" }, 1);
	list_is(&rep.no_email_rows, (const char *const[]){ "00010004" }, 1);
	list_is(&rep.duplicate_keys, (const char *const[]){ "00010005" }, 1);
	list_is(&rep.unmatched_pdf_keys, (const char *const[]){ "00019999" }, 1);
	assert_string_equal(rep.split_rule, "each resident's key found on the pages");
	assert_string_equal(rep.key_column, "宛名番号");

	/* What a new process reads. */
	assert_int_equal(tenant_reopen(f), 0);
	buf_init(&report, 1 << 20);
	assert_int_equal(batches_get(f->st, rep.batch, &s, &report, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_WAITING);
	assert_string_equal(s.title, "令和8年度 住民税決定通知");
	assert_int_equal(s.recipients, 6);
	assert_int_equal(s.matched, 4);
	assert_int_equal(s.signed_pdfs, 3);
	buf_append_u8(&report, 0);
	assert_non_null(strstr((const char *)report.data, "\"csv_rows_without_pdf\":[\"00010004\"]"));
	buf_free(&report);

	assert_int_equal(resident_pdf(f, rep.batch, "00010001", &pdf), 0);
	signed_by_tenant(f, &pdf);
	pages_are(&pdf, (const char *const[]){ "A1", "A2" }, 2, others_a, 3);
	buf_free(&pdf);
	assert_int_equal(resident_pdf(f, rep.batch, "00010002", &pdf), 0);
	signed_by_tenant(f, &pdf);
	pages_are(&pdf, (const char *const[]){ "B1" }, 1, others_b, 3);
	buf_free(&pdf);
	/* the resident with the bad address still has a notice (on paper) */
	assert_int_equal(resident_pdf(f, rep.batch, "00010003", &pdf), 0);
	pages_are(&pdf, (const char *const[]){ "C1", "C2" }, 2,
		  (const char *const[]){ "00010001", "Z1" }, 2);
	buf_free(&pdf);
	/* no pages, no PDF; a held duplicate gets none either */
	assert_int_equal(resident_pdf(f, rep.batch, "00010004", &pdf), 1);
	buf_free(&pdf);
	assert_int_equal(resident_pdf(f, rep.batch, "00010005", &pdf), 1);
	buf_free(&pdf);
	batch_report_free(&rep);
	input_free(&x);
}

/* A fixed number of pages per resident, in CSV order; a page count that
 * does not fit the CSV is refused. */
static void test_split_pages(void **state)
{
	struct tenant *f = *state;
	static const char *const pages[] = { "P1", "P2", "Q1", "Q2", "R1", "R2" };
	struct input x;
	struct batch_report rep;
	struct error e = { { 0 }, 0 };
	struct buf pdf;

	input_init(&x, "宛名番号,氏名,メールアドレス\n"
		       "7,A,a@example.jp\n8,B,b@example.jp\n9,C,\n");
	x.set.split = SPLIT_PAGES;
	x.set.pages = 2;
	input_add_pdf(&x, "notices.pdf", pages, 6);
	if (batch_submit(f->st, f->signer, &x.in, &rep, &e) < 0)
		fail_msg("batch_submit: %s", e.msg);
	assert_string_equal(rep.split_rule, "2 pages per resident, in CSV order");
	assert_int_equal(rep.matched, 3);
	assert_int_equal(rep.signed_pdfs, 3);
	list_is(&rep.no_email_rows, (const char *const[]){ "9" }, 1);
	list_is(&rep.csv_rows_without_pdf, NULL, 0);
	assert_int_equal(tenant_reopen(f), 0);
	assert_int_equal(resident_pdf(f, rep.batch, "8", &pdf), 0);
	signed_by_tenant(f, &pdf);
	pages_are(&pdf, (const char *const[]){ "Q1", "Q2" }, 2,
		  (const char *const[]){ "P1", "R1" }, 2);
	buf_free(&pdf);
	batch_report_free(&rep);

	/* 3 pages each make 2 residents, and the CSV has 3 */
	x.set.pages = 3;
	assert_int_equal(batch_submit(f->st, f->signer, &x.in, &rep, &e), -1);
	assert_int_equal(e.temporary, 0);
	assert_string_equal(e.msg, "notices.pdf: 2 residents of 3 pages, but the CSV has 3 rows");
	batch_report_free(&rep);
	input_free(&x);
}

/* ---- one PDF per resident, named by its key ---- */

static void test_per_file(void **state)
{
	struct tenant *f = *state;
	struct input x;
	struct batch_report rep;
	struct error e = { { 0 }, 0 };
	struct buf pdf;

	input_init(&x, CSV);
	input_add_pdf(&x, "00010001.pdf", (const char *const[]){ "Dear 00010001\nFILE-A" }, 1);
	input_add_pdf(&x, "00010002.PDF",
		      (const char *const[]){ "Dear 00010002\nFILE-B1", "FILE-B2" }, 2);
	input_add_pdf(&x, "00019999.pdf", (const char *const[]){ "Nobody\nFILE-X" }, 1);
	if (batch_submit(f->st, f->signer, &x.in, &rep, &e) < 0)
		fail_msg("batch_submit: %s", e.msg);
	assert_string_equal(rep.split_rule, "one PDF per resident, matched by file name");
	assert_int_equal(rep.matched, 2);
	assert_int_equal(rep.signed_pdfs, 2);
	list_is(&rep.unmatched_pdf_keys, (const char *const[]){ "00019999" }, 1);
	list_is(&rep.csv_rows_without_pdf, (const char *const[]){ "00010003", "00010004" }, 2);
	list_is(&rep.duplicate_keys, (const char *const[]){ "00010005" }, 1);

	assert_int_equal(tenant_reopen(f), 0);
	assert_int_equal(resident_pdf(f, rep.batch, "00010001", &pdf), 0);
	signed_by_tenant(f, &pdf);
	pages_are(&pdf, (const char *const[]){ "FILE-A" }, 1,
		  (const char *const[]){ "FILE-B", "FILE-X" }, 2);
	buf_free(&pdf);
	assert_int_equal(resident_pdf(f, rep.batch, "00010002", &pdf), 0);
	signed_by_tenant(f, &pdf);
	pages_are(&pdf, (const char *const[]){ "FILE-B1", "FILE-B2" }, 2,
		  (const char *const[]){ "FILE-A", "FILE-X" }, 2);
	buf_free(&pdf);
	batch_report_free(&rep);
	input_free(&x);

	/* A file the CSV's attachment column names goes to that row. */
	input_init(&x, "宛名番号,氏名,メールアドレス,添付ファイル\n"
		       "00010001,山田 太郎,taro@example.jp,通知_山田.pdf\n"
		       "00010002,佐藤 花子,hanako@example.jp,\n");
	input_add_pdf(&x, "通知_山田.pdf", (const char *const[]){ "NAMED-A" }, 1);
	input_add_pdf(&x, "00010002.pdf", (const char *const[]){ "KEYED-B" }, 1);
	if (batch_submit(f->st, f->signer, &x.in, &rep, &e) < 0)
		fail_msg("batch_submit: %s", e.msg);
	assert_int_equal(rep.matched, 2);
	list_is(&rep.unmatched_pdf_keys, NULL, 0);
	assert_int_equal(resident_pdf(f, rep.batch, "00010001", &pdf), 0);
	signed_by_tenant(f, &pdf);
	pages_are(&pdf, (const char *const[]){ "NAMED-A" }, 1,
		  (const char *const[]){ "KEYED-B" }, 1);
	buf_free(&pdf);
	batch_report_free(&rep);
	input_free(&x);
}

/* ---- one common PDF ---- */

static void test_common(void **state)
{
	struct tenant *f = *state;
	struct input x;
	struct batch_report rep;
	struct error e = { { 0 }, 0 };
	struct buf a, b;

	input_init(&x, CSV);
	input_add_pdf(&x, "お知らせ共通.pdf",
		      (const char *const[]){ "To every resident\nCOMMON-1", "COMMON-2" }, 2);
	if (batch_submit(f->st, f->signer, &x.in, &rep, &e) < 0)
		fail_msg("batch_submit: %s", e.msg);
	assert_string_equal(rep.split_rule, "common PDF for everybody");
	/* every distinct usable key, the duplicate one included */
	assert_int_equal(rep.matched, 5);
	assert_int_equal(rep.signed_pdfs, 1);
	list_is(&rep.csv_rows_without_pdf, NULL, 0);
	list_is(&rep.unmatched_pdf_keys, NULL, 0);
	list_is(&rep.no_email_rows, (const char *const[]){ "00010004" }, 1);

	assert_int_equal(tenant_reopen(f), 0);
	assert_int_equal(resident_pdf(f, rep.batch, "00010001", &a), 0);
	assert_int_equal(resident_pdf(f, rep.batch, "00010004", &b), 0);
	signed_by_tenant(f, &a);
	pages_are(&a, (const char *const[]){ "COMMON-1", "COMMON-2" }, 2, NULL, 0);
	/* one signed file, the same bytes for everybody */
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	buf_free(&a);
	buf_free(&b);
	assert_int_equal(resident_pdf(f, rep.batch, "00010005", &a), 1);
	buf_free(&a);
	batch_report_free(&rep);
	input_free(&x);
}

/* ---- nothing stored ---- */

/* Refused while matching: the report says why, the store holds nothing. */
static void test_refused_leaves_nothing(void **state)
{
	struct tenant *f = *state;
	struct input x;
	struct batch_report rep;
	struct error e = { { 0 }, 0 };

	input_init(&x, CSV);
	input_add_pdf(&x, "notices.pdf", (const char *const[]){ "Resident 00020001" }, 1);
	assert_int_equal(batch_submit(f->st, f->signer, &x.in, &rep, &e), -1);
	assert_int_equal(e.temporary, 0);
	/* the CSV's keys (each distinct one not held) were looked for */
	assert_string_equal(e.msg, "notices.pdf: none of the 5 keys given appears on any of the 1 pages");
	assert_string_equal(rep.status, "refused");
	assert_string_equal(rep.error, e.msg);
	assert_int_equal(rep.batch, 0);
	batch_report_free(&rep);
	input_free(&x);

	/* two PDFs for one resident */
	input_init(&x, CSV);
	input_add_pdf(&x, "00010001.pdf", (const char *const[]){ "one" }, 1);
	input_add_pdf(&x, "10001.pdf", (const char *const[]){ "two" }, 1);
	assert_int_equal(batch_submit(f->st, f->signer, &x.in, &rep, &e), -1);
	assert_non_null(strstr(e.msg, "a second PDF for the resident on CSV line 2"));
	batch_report_free(&rep);
	input_free(&x);

	/* a preview matches and stores nothing */
	input_init(&x, CSV);
	input_add_pdf(&x, "notices.pdf", (const char *const[]){ "Resident 00010001" }, 1);
	x.in.dry_run = 1;
	assert_int_equal(batch_submit(f->st, NULL, &x.in, &rep, &e), 0);
	assert_string_equal(rep.status, "preview");
	assert_int_equal(rep.matched, 1);
	batch_report_free(&rep);
	input_free(&x);
	store_is_empty(f);
}

/* A signer that signs through the keys process twice, then fails. */
static int flaky_calls;

static int flaky_sign(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		      struct error *e)
{
	if (__atomic_add_fetch(&flaky_calls, 1, __ATOMIC_SEQ_CST) > 2)
		return err_tmp(e, "the keys process went away");
	return keys_sign_digest(ctx, digest, sig, siglen, e);
}

/* Signing fails after some PDFs were staged: the batch is removed. */
static void test_failed_signing_leaves_nothing(void **state)
{
	struct tenant *f = *state;
	struct signer flaky = *f->signer;
	struct input x;
	struct batch_report rep;
	struct error e = { { 0 }, 0 };
	size_t swept = 9;

	flaky.sign_digest = flaky_sign;
	flaky_calls = 0;
	input_init(&x, CSV);
	input_add_pdf(&x, "00010001.pdf", (const char *const[]){ "A" }, 1);
	input_add_pdf(&x, "00010002.pdf", (const char *const[]){ "B" }, 1);
	input_add_pdf(&x, "00010003.pdf", (const char *const[]){ "C" }, 1);
	input_add_pdf(&x, "00010004.pdf", (const char *const[]){ "D" }, 1);
	x.in.threads = 1;
	assert_int_equal(batch_submit(f->st, &flaky, &x.in, &rep, &e), -1);
	assert_true(flaky_calls > 2);
	assert_int_equal(e.temporary, 1);
	assert_string_equal(rep.status, "error");
	assert_int_equal(rep.batch, 0);
	store_is_empty(f);
	/* and nothing is left for the sweep either */
	assert_int_equal(batch_sweep(f->st, &swept, &e), 0);
	assert_int_equal(swept, 0);
	batch_report_free(&rep);
	input_free(&x);
}

/* The same input given twice makes one batch: the second is refused at
 * its final commit, after every PDF was signed and written, and leaves
 * nothing of its own. */
static void test_second_intake_leaves_nothing(void **state)
{
	struct tenant *f = *state;
	uint8_t id[32];
	struct input x;
	struct batch_report rep, rep2;
	struct error e = { { 0 }, 0 };
	size_t pdfs, residents;

	memset(id, 0x5a, sizeof(id));
	input_init(&x, CSV);
	input_add_pdf(&x, "00010001.pdf", (const char *const[]){ "A" }, 1);
	input_add_pdf(&x, "00010002.pdf", (const char *const[]){ "B" }, 1);
	x.in.intake_id = id;
	if (batch_submit(f->st, f->signer, &x.in, &rep, &e) < 0)
		fail_msg("batch_submit: %s", e.msg);
	pdfs = count_db(f, DB_PDFS);
	residents = count_db(f, DB_RESIDENTS);
	assert_int_equal(pdfs, 2);
	assert_int_equal(residents, 6);
	assert_int_equal(batch_submit(f->st, f->signer, &x.in, &rep2, &e), -1);
	assert_int_equal(e.temporary, 1);
	assert_non_null(strstr(e.msg, "already made a batch"));
	assert_int_equal(rep2.batch, 0);
	assert_int_equal(count_db(f, DB_PDFS), pdfs);
	assert_int_equal(count_db(f, DB_RESIDENTS), residents);
	assert_int_equal(count_db(f, DB_BATCH_STATE), 1);
	batch_report_free(&rep);
	batch_report_free(&rep2);
	input_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_common, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_signing_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_intake_leaves_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
