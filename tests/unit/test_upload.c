/*
 * test_upload.c — unit tests for the hand-over of a dashboard upload from
 * the portal to the gateway (lib/upload.h) on a real tenant (keys process,
 * LMDB): an upload is stored sealed (its message and file bytes are not in
 * the store's files), nudges the gateway, reads back exactly (generated
 * files, a fixed seed: empty, binary, Japanese names), is pending until
 * its result replaces it in one commit, the result reads back with its
 * lists, a result is swept only once UPLOAD_RESULT_KEEP has passed, and an
 * unknown upload is unknown.  Runs as a stand-alone cmocka program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "lib/upload.h"
#include "tenant_fixture.h"

static uint64_t rng = 0x75706c6f61643132ull; /* fixed: the same files on every run */
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* Does the store's data file hold these bytes in clear? */
static int in_store_files(const char *dir, const void *needle, size_t n)
{
	char path[4200];
	uint8_t *data = NULL;
	size_t len = 0;
	struct error e = { { 0 }, 0 };
	int found;

	str_fmt(path, sizeof(path), "%s/db/data.mdb", dir);
	assert_int_equal(file_read_all(path, (size_t)1 << 30, &data, &len, &e), 0);
	found = memmem(data, len, needle, n) != NULL;
	free(data);
	return found;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	static const char secret[] = "\xe5\xae\x9b\xe5\x90\x8d-SECRET-MARKER-0123";
	uint8_t pdf[4000];
	struct upload_file files[2] = {
		{ "\xe5\xae\x9b\xe5\x85\x88.csv", (const uint8_t *)secret, sizeof(secret) - 1 },
		{ "notice.pdf", pdf, sizeof(pdf) },
	};
	struct upload u = { 0 }, got;
	struct upload_result r;
	uint64_t id = 0, *ids = NULL;
	size_t n = 0;
	char nudge[4300];

	memset(pdf, 0, sizeof(pdf));
	memcpy(pdf, "%PDF-1.7\n", 9);
	u.staff = 7;
	u.created = 1700000000;
	str_copy(u.from, "192.0.2.1", sizeof(u.from));
	u.message = (char *)"件名: MESSAGE-MARKER-4567\n\n本文";
	u.files = files;
	u.nfiles = 2;
	assert_int_equal(upload_add(f->st, f->dir, &u, &id, &e), 0);
	assert_true(id > 0);
	str_fmt(nudge, sizeof(nudge), "%s/%s/%llu", f->dir, UPLOAD_NUDGE_DIR, (unsigned long long)id);
	assert_int_equal(access(nudge, F_OK), 0);
	assert_false(in_store_files(f->dir, "SECRET-MARKER", 13));
	assert_false(in_store_files(f->dir, "MESSAGE-MARKER", 14));
	assert_int_equal(upload_pending(f->st, &ids, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], id);
	free(ids);
	assert_int_equal(upload_result_get(f->st, id, &r, &e), 1); /* pending */
	assert_int_equal(upload_read(f->st, id, &got, &e), 0);
	assert_int_equal(got.staff, 7);
	assert_int_equal(got.created, 1700000000);
	assert_string_equal(got.from, "192.0.2.1");
	assert_string_equal(got.message, u.message);
	assert_int_equal(got.nfiles, 2);
	assert_string_equal(got.files[0].name, files[0].name);
	assert_int_equal(got.files[1].len, sizeof(pdf));
	assert_memory_equal(got.files[1].data, pdf, sizeof(pdf));
	upload_clear(&got);

	/* The result replaces it. */
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.staff = 7;
	r.done = 1700000100;
	r.batch = 42;
	r.recipients = 3;
	r.matched = 2;
	r.test = 1;
	str_copy(r.outcome, "stored", sizeof(r.outcome));
	str_copy(r.title, "住民税", sizeof(r.title));
	str_copy(r.encoding, "CP932", sizeof(r.encoding));
	upload_result_add(&r, 1, "00010037");
	upload_result_add(&r, 9, "00010000 佐藤 <a@example.jp> (2 pages)");
	upload_result_add(&r, 9, "");
	assert_int_equal(upload_finish(f->st, &r, &e), 0);
	upload_result_free(&r);
	assert_int_equal(upload_pending(f->st, &ids, &n, &e), 0);
	assert_int_equal(n, 0);
	free(ids);
	assert_int_equal(upload_read(f->st, id, &got, &e), 1);
	assert_int_equal(upload_result_get(f->st, id, &r, &e), 0);
	assert_string_equal(r.outcome, "stored");
	assert_int_equal(r.batch, 42);
	assert_int_equal(r.staff, 7);
	assert_int_equal(r.test, 1);
	assert_int_equal(r.matched, 2);
	assert_string_equal(r.title, "住民税");
	assert_string_equal(r.encoding, "CP932");
	assert_int_equal(r.lists[1].n, 1);
	assert_string_equal(r.lists[1].v[0], "00010037");
	assert_int_equal(r.lists[9].n, 2);
	assert_string_equal(r.lists[9].v[1], "");
	assert_int_equal(r.lists[0].n, 0);
	upload_result_free(&r);

	/* Swept only once it has been kept long enough. */
	assert_int_equal(upload_sweep(f->st, 1700000100 + UPLOAD_RESULT_KEEP - 1, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(upload_sweep(f->st, 1700000100 + UPLOAD_RESULT_KEEP, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(upload_result_get(f->st, id, &r, &e), 2);
	assert_int_equal(upload_result_get(f->st, 999999, &r, &e), 2);
}

static void test_generated(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };

	for (int round = 0; round < 25; round++) {
		struct upload_file files[8];
		char names[8][32];
		uint8_t *data[8];
		struct upload u = { 0 }, got;
		uint64_t id;
		size_t nf = next_rand() % 8;

		for (size_t i = 0; i < nf; i++) {
			size_t len = next_rand() % 3 == 0 ? 0 : next_rand() % 70000;
			data[i] = xmalloc(len + 1);
			for (size_t j = 0; j < len; j++)
				data[i][j] = (uint8_t)next_rand();
			str_fmt(names[i], sizeof(names[i]), "%u_\xe9\x80\x9a.pdf", next_rand());
			files[i] = (struct upload_file){ names[i], data[i], len };
		}
		u.staff = next_rand();
		u.message = (char *)(round % 2 ? "" : "テスト: はい\n\n");
		u.files = files;
		u.nfiles = nf;
		assert_int_equal(upload_add(f->st, f->dir, &u, &id, &e), 0);
		assert_int_equal(upload_read(f->st, id, &got, &e), 0);
		assert_int_equal(got.staff, u.staff);
		assert_string_equal(got.message, u.message);
		assert_int_equal(got.nfiles, nf);
		for (size_t i = 0; i < nf; i++) {
			assert_string_equal(got.files[i].name, names[i]);
			assert_int_equal(got.files[i].len, files[i].len);
			assert_memory_equal(got.files[i].data, data[i], files[i].len);
			free(data[i]);
		}
		upload_clear(&got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generated, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
