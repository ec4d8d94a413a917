/*
 * test_batches.c — unit tests of lib/batches.c on a real tenant (real LMDB
 * environment, real keys process): batches written in the layout
 * batches.h documents are listed, shown, approved and their residents'
 * PDFs fetched, every time after closing and reopening the environment as
 * another process would; a batch still being stored is never shown; a
 * status change keeps every other field, refuses the wrong starting status
 * and leaves one audit record; a resident with no PDF, an unknown key and
 * an overlong key find nothing.
 * Runs as a stand-alone cmocka program; forks a keys process per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/rec.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "lib/util.h"

#include "tenant_fixture.h"

static void reopen(struct fixture *f)
{
	struct error e = { { 0 }, 0 };
	store_close(&f->st);
	if (store_open(f->dir, f->kc, 0, &f->st, &e) < 0)
		fail_msg("reopen: %s", e.msg);
}

static void commit(struct store_txn **t)
{
	struct error e = { { 0 }, 0 };
	if (store_commit(t, &e) < 0)
		fail_msg("commit: %s", e.msg);
}

/* A batch as gateway/batch_store.c writes it: its state, its sealed
 * record (title and report), and residents (key, PDF seq) with their
 * index and sealed PDFs. */
struct resident {
	const char *key;
	uint32_t pdf;      /* 0: none */
	const char *bytes; /* the PDF stored at pdf */
};

static void put_batch(struct fixture *f, uint64_t id, const char *status, int test,
		      const char *title, const struct resident *r, size_t n)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct buf b;
	uint8_t key[12];

	buf_init(&b, 1 << 20);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	be64_put(key, id);
	assert_int_equal(rec_put_str(&b, BS_STATUS, status) | rec_put_u64(&b, BS_CREATED, 1767225600) |
			 rec_put_u64(&b, BS_TEST, (uint64_t)test) |
			 rec_put_u64(&b, BS_RECIPIENTS, n) | rec_put_u64(&b, BS_MATCHED, n) |
			 rec_put_u64(&b, BS_SIGNED, n) | rec_put_u64(&b, BS_PID, 1), 0);
	assert_int_equal(store_put(t, DB_BATCH_STATE, key, 8, b.data, b.len, &e), 0);
	buf_reset(&b);
	assert_int_equal(rec_put_str(&b, BR_TITLE, title) |
			 rec_put_str(&b, BR_REPORT, "{\"batch\":1,\"status\":\"awaiting_approval\"}"), 0);
	assert_int_equal(store_put_sealed(t, DB_BATCHES, key, 8, b.data, b.len, &e), 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t iv[8 + 64], idx[32], pkey[12];
		size_t kl = strlen(r[i].key);
		be32_put(key + 8, (uint32_t)(i + 1));
		buf_reset(&b);
		assert_int_equal(rec_put_str(&b, RR_KEY, r[i].key) | rec_put_u64(&b, RR_PDF, r[i].pdf), 0);
		assert_int_equal(store_put_sealed(t, DB_RESIDENTS, key, 12, b.data, b.len, &e), 0);
		be64_put(iv, id);
		memcpy(iv + 8, r[i].key, kl);
		assert_int_equal(store_index(f->st, "resident", iv, 8 + kl, idx, &e), 0);
		assert_int_equal(store_put(t, DB_RESIDENT_IDX, idx, 32, key, 12, &e), 0);
		if (r[i].pdf != 0 && r[i].bytes != NULL) {
			be64_put(pkey, id);
			be32_put(pkey + 8, r[i].pdf);
			assert_int_equal(store_put_sealed(t, DB_PDFS, pkey, 12, r[i].bytes,
							  strlen(r[i].bytes), &e), 0);
		}
	}
	commit(&t);
	buf_free(&b);
}

static void test_list_and_get(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct batch_summary *list = NULL, s;
	struct buf report;
	size_t n = 0;

	put_batch(f, 3, BATCH_STATUS_APPROVED, 1, "テスト通知", NULL, 0);
	put_batch(f, 1, BATCH_STATUS_WAITING, 0, "令和8年度 住民税決定通知",
		  (const struct resident[]){ { "00010001", 1, "%PDF-a" } }, 1);
	put_batch(f, 2, BATCH_STATUS_STORING, 0, "half stored", NULL, 0);
	reopen(f);

	assert_int_equal(batches_list(f->st, &list, &n, &e), 0);
	assert_int_equal(n, 2); /* the one being stored is not shown */
	assert_int_equal(list[0].id, 1);
	assert_string_equal(list[0].status, BATCH_STATUS_WAITING);
	assert_string_equal(list[0].title, "令和8年度 住民税決定通知");
	assert_int_equal(list[0].recipients, 1);
	assert_int_equal(list[0].created, 1767225600);
	assert_int_equal(list[0].test, 0);
	assert_int_equal(list[1].id, 3);
	assert_string_equal(list[1].status, BATCH_STATUS_APPROVED);
	assert_int_equal(list[1].test, 1);
	assert_string_equal(list[1].title, "テスト通知");
	free(list);

	buf_init(&report, 1 << 20);
	assert_int_equal(batches_get(f->st, 1, &s, &report, &e), 0);
	assert_string_equal(s.title, "令和8年度 住民税決定通知");
	assert_int_equal(report.len, strlen("{\"batch\":1,\"status\":\"awaiting_approval\"}"));
	assert_memory_equal(report.data, "{\"batch\":1,", 11);
	buf_free(&report);
	assert_int_equal(batches_get(f->st, 2, &s, NULL, &e), 1);
	assert_int_equal(batches_get(f->st, 99, &s, NULL, &e), 1);
}

static void test_set_status(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct batch_summary s;
	uint64_t records = 0, after = 0;

	put_batch(f, 1, BATCH_STATUS_WAITING, 1, "通知", NULL, 0);
	put_batch(f, 2, BATCH_STATUS_STORING, 0, "half stored", NULL, 0);
	reopen(f);
	assert_int_equal(batches_set_status(f->st, 1, BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED,
					    "staff:1", "dashboard", "batch.approve", &e), 0);
	reopen(f);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_APPROVED);
	/* every other field kept */
	assert_int_equal(s.test, 1);
	assert_int_equal(s.created, 1767225600);
	assert_string_equal(s.title, "通知");
	/* the approval is the log's one record, and the chain holds */
	if (audit_verify(f->st, &after, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	assert_int_equal(after, 1);

	/* from the wrong status, of a batch being stored, of no batch */
	assert_int_equal(batches_set_status(f->st, 1, BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED,
					    "staff:1", "dashboard", "batch.approve", &e), -1);
	assert_string_equal(e.msg, "batch 1 is approved, not awaiting_approval");
	assert_int_equal(batches_set_status(f->st, 2, BATCH_STATUS_STORING, BATCH_STATUS_WAITING,
					    "staff:1", "dashboard", "batch.approve", &e), -1);
	assert_string_equal(e.msg, "no batch 2");
	assert_int_equal(batches_set_status(f->st, 9, BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED,
					    "staff:1", "dashboard", "batch.approve", &e), -1);
	assert_string_equal(e.msg, "no batch 9");
	assert_int_equal(audit_verify(f->st, &records, &e), 0);
	assert_int_equal(records, after);
}

/* The batch's sealed record again, now naming its submitter. */
static void put_actor(struct fixture *f, uint64_t id, const char *title, const char *actor)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct buf b;
	uint8_t key[8];

	buf_init(&b, 4096);
	be64_put(key, id);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(rec_put_str(&b, BR_TITLE, title) | rec_put_str(&b, BR_ACTOR, actor), 0);
	assert_int_equal(store_put_sealed(t, DB_BATCHES, key, 8, b.data, b.len, &e), 0);
	commit(&t);
	buf_free(&b);
}

static void test_approve_four_eyes(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct batch_summary s;
	struct staff clerk = { .id = 5, .login = "kakari", .perms = PERM_SUBMIT | PERM_APPROVE };
	struct staff viewer = { .id = 6, .login = "miru", .perms = PERM_VIEW };
	struct staff gone = { .id = 7, .login = "yasumi", .perms = PERM_ALL, .disabled = 1 };
	struct staff boss = { .id = 8, .login = "shonin", .perms = PERM_APPROVE };
	struct staff root = { .id = 9, .login = "root", .perms = PERM_ALL };
	uint64_t records = 0;

	put_batch(f, 1, BATCH_STATUS_WAITING, 0, "通知", NULL, 0);
	put_actor(f, 1, "通知", "staff:5");
	put_batch(f, 2, BATCH_STATUS_WAITING, 0, "通知2", NULL, 0);
	put_actor(f, 2, "通知2", "cli:root");
	reopen(f);
	assert_int_equal(batches_approve(f->st, 1, &clerk, "cli:x", "cli", 1, &e), -1);
	assert_non_null(strstr(e.msg, "submitted by kakari, who may not approve it too"));
	assert_int_equal(e.temporary, 0);
	assert_int_equal(batches_approve(f->st, 2, &root, "cli:x", "cli", 1, &e), -1);
	assert_non_null(strstr(e.msg, "submitted by root"));
	assert_int_equal(batches_approve(f->st, 1, &viewer, "cli:x", "cli", 1, &e), -1);
	assert_non_null(strstr(e.msg, "no approve permission"));
	assert_int_equal(batches_approve(f->st, 1, &gone, "cli:x", "cli", 0, &e), -1);
	assert_non_null(strstr(e.msg, "disabled"));
	assert_int_equal(batches_approve(f->st, 1, NULL, "cli:x", "cli", 1, &e), -1);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_WAITING);

	assert_int_equal(batches_approve(f->st, 1, &boss, "cli:x", "cli", 1, &e), 0);
	assert_int_equal(batches_approve(f->st, 2, &clerk, "cli:x", "cli", 1, &e), 0);
	assert_int_equal(batches_approve(f->st, 2, &boss, "cli:x", "cli", 1, &e), -1);
	assert_string_equal(e.msg, "batch 2 is approved, not awaiting_approval");
	reopen(f);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_APPROVED);
	assert_int_equal(audit_verify(f->st, &records, &e), 0);
	assert_int_equal(records, 2); /* the two approvals: no refusal left a record */

	/* sending: approved -> sending with its time, other fields kept */
	assert_int_equal(batches_send(f->st, 1, 1900000000, "staff:8", "cli", &e), 0);
	reopen(f);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_SENDING);
	assert_int_equal(s.send_at, 1900000000);
	assert_int_equal(s.created, 1767225600);
	assert_string_equal(s.title, "通知");
	assert_int_equal(batches_send(f->st, 1, 1900000000, "staff:8", "cli", &e), -1);
	assert_string_equal(e.msg, "batch 1 is sending, not approved");
	assert_int_equal(audit_verify(f->st, &records, &e), 0);
	assert_int_equal(records, 3);
}

static void test_resident_pdf(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf pdf;
	char longkey[200];

	put_batch(f, 1, BATCH_STATUS_WAITING, 0, "通知",
		  (const struct resident[]){ { "00010001", 1, "%PDF-one" },
					     { "00010002", 0, NULL },
					     { "00010003", BATCH_PDF_COMMON, "%PDF-common" },
					     { "00010004", 4, "%PDF-four" } }, 4);
	put_batch(f, 2, BATCH_STATUS_WAITING, 0, "other",
		  (const struct resident[]){ { "00010001", 1, "%PDF-other" } }, 1);
	reopen(f);

	buf_init(&pdf, 1 << 20);
	assert_int_equal(batches_resident_pdf(f->st, 1, "00010001", &pdf, &e), 0);
	assert_int_equal(pdf.len, 8);
	assert_memory_equal(pdf.data, "%PDF-one", 8);
	buf_reset(&pdf);
	assert_int_equal(batches_resident_pdf(f->st, 1, "00010003", &pdf, &e), 0);
	assert_memory_equal(pdf.data, "%PDF-common", 11);
	buf_reset(&pdf);
	assert_int_equal(batches_resident_pdf(f->st, 2, "00010001", &pdf, &e), 0);
	assert_memory_equal(pdf.data, "%PDF-other", 10);
	buf_reset(&pdf);
	/* no PDF, no such resident, no such batch, a key too long to be one */
	assert_int_equal(batches_resident_pdf(f->st, 1, "00010002", &pdf, &e), 1);
	assert_int_equal(batches_resident_pdf(f->st, 2, "00010004", &pdf, &e), 1);
	assert_int_equal(batches_resident_pdf(f->st, 7, "00010001", &pdf, &e), 1);
	memset(longkey, '1', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(batches_resident_pdf(f->st, 1, longkey, &pdf, &e), 1);
	assert_int_equal(pdf.len, 0);
	buf_free(&pdf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approve_four_eyes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resident_pdf, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
