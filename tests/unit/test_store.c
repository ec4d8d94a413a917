/*
 * test_store.c — unit tests for lib/store.c against a real LMDB environment
 * and a real keys process: raw put/get/del, sealed records (AES-256-GCM
 * under per-object data keys bound to their place), schema version and
 * reopening, counters, iteration order, HMAC index keys, and the
 * encryption-at-rest check: after storing 50 fake residents and their PDFs,
 * no name, address, resident key or PDF text appears anywhere in the raw
 * files of the tenant's data directory.
 * Runs as a stand-alone cmocka program; forks a keys process per test;
 * uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/crypt.h"
#include "keys/keys.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/util.h"

#define SEALED_OVERHEAD (1 + KEYS_WRAPPED_LEN + CRYPT_SEAL_OVERHEAD)

#include "tenant_fixture.h"

static struct store_txn *begin(struct fixture *f, int write)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	assert_int_equal(store_begin(f->st, write, &t, &e), 0);
	assert_non_null(t);
	return t;
}

static void commit(struct store_txn **t)
{
	struct error e = { { 0 }, 0 };
	if (store_commit(t, &e) < 0)
		fail_msg("commit: %s", e.msg);
	assert_null(*t);
}

/* ---- open, schema, reopen ---- */

static void test_schema_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	const void *v;
	size_t vl;
	uint8_t created[8], vb[4];
	char path[4096];
	struct stat sb;

	assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
	assert_ptr_equal(store_keys(f->st), f->kc);
	t = begin(f, 0);
	assert_ptr_equal(store_txn_store(t), f->st);
	assert_int_equal(store_get(t, DB_META, "schema_version", 14, &v, &vl, &e), 0);
	assert_int_equal(vl, 4);
	assert_int_equal(be32_get(v), STORE_SCHEMA_VERSION);
	assert_int_equal(store_get(t, DB_META, "created", 7, &v, &vl, &e), 0);
	assert_int_equal(vl, 8);
	memcpy(created, v, 8);
	assert_true(be64_get(created) > 1700000000);
	store_abort(&t);
	assert_null(t);

	/* The environment lives in DATA/db, closed to others. */
	str_fmt(path, sizeof(path), "%s/%s", f->dir, STORE_DIR);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 077, 0);

	/* Reopen without create: same version, migrations not run again. */
	store_close(&f->st);
	assert_null(f->st);
	assert_int_equal(store_open(f->dir, f->kc, 0, &f->st, &e), 0);
	assert_int_equal(store_schema_version(f->st), STORE_SCHEMA_VERSION);
	t = begin(f, 0);
	assert_int_equal(store_get(t, DB_META, "created", 7, &v, &vl, &e), 0);
	assert_memory_equal(v, created, 8);
	store_abort(&t);

	/* A store from a newer tayori is refused, not downgraded. */
	t = begin(f, 1);
	be32_put(vb, STORE_SCHEMA_VERSION + 1);
	assert_int_equal(store_put(t, DB_META, "schema_version", 14, vb, 4, &e), 0);
	commit(&t);
	store_close(&f->st);
	assert_int_equal(store_open(f->dir, f->kc, 0, &f->st, &e), -1);
	assert_null(f->st);
	assert_non_null(strstr(e.msg, "newer"));
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store *st = NULL;
	char *empty = xstrdup("/tmp/tayori-test-store-XXXXXX");

	assert_non_null(mkdtemp(empty));
	/* Without create there is nothing to open. */
	assert_int_equal(store_open(empty, f->kc, 0, &st, &e), -1);
	assert_null(st);
	assert_non_null(strstr(e.msg, "tayori init"));
	nftw(empty, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(empty);
}

/* ---- raw values ---- */

static void test_raw_put_get_del(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	const void *v = NULL;
	size_t vl = 0;

	t = begin(f, 1);
	assert_int_equal(store_put(t, DB_BATCH_STATE, "k1", 2, "value-1", 7, &e), 0);
	/* Visible inside the same transaction. */
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k1", 2, &v, &vl, &e), 0);
	assert_int_equal(vl, 7);
	assert_memory_equal(v, "value-1", 7);
	commit(&t);

	t = begin(f, 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k1", 2, &v, &vl, &e), 0);
	assert_memory_equal(v, "value-1", 7);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k2", 2, &v, &vl, &e), 1);
	/* Databases are separate namespaces. */
	assert_int_equal(store_get(t, DB_DELIVERIES, "k1", 2, &v, &vl, &e), 1);
	store_abort(&t);

	t = begin(f, 1);
	/* put_new refuses an existing key with 1 and leaves it alone. */
	assert_int_equal(store_put_new(t, DB_BATCH_STATE, "k1", 2, "other", 5, &e), 1);
	assert_int_equal(store_put_new(t, DB_BATCH_STATE, "k2", 2, "value-2", 7, &e), 0);
	/* put overwrites. */
	assert_int_equal(store_put(t, DB_BATCH_STATE, "k2", 2, "value-2b", 8, &e), 0);
	commit(&t);

	t = begin(f, 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k1", 2, &v, &vl, &e), 0);
	assert_int_equal(vl, 7);
	assert_memory_equal(v, "value-1", 7);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k2", 2, &v, &vl, &e), 0);
	assert_int_equal(vl, 8);
	assert_memory_equal(v, "value-2b", 8);
	store_abort(&t);

	t = begin(f, 1);
	assert_int_equal(store_del(t, DB_BATCH_STATE, "k1", 2, &e), 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k1", 2, &v, &vl, &e), 1);
	/* Deleting what is not there: 1, like store_get's "absent". */
	assert_int_equal(store_del(t, DB_BATCH_STATE, "k1", 2, &e), 1);
	commit(&t);

	/* An aborted write leaves no trace. */
	t = begin(f, 1);
	assert_int_equal(store_put(t, DB_BATCH_STATE, "k3", 2, "gone", 4, &e), 0);
	assert_int_equal(store_del(t, DB_BATCH_STATE, "k2", 2, &e), 0);
	store_abort(&t);
	t = begin(f, 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k3", 2, &v, &vl, &e), 1);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k2", 2, &v, &vl, &e), 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, "k1", 2, &v, &vl, &e), 1);
	store_abort(&t);
	store_abort(&t); /* a second abort of a NULL transaction is harmless */
}

static void test_db_names(void **state)
{
	(void)state;
	assert_string_equal(store_db_name(DB_META), "meta");
	assert_string_equal(store_db_name(DB_RESIDENTS), "residents");
	assert_string_equal(store_db_name(DB_INTAKE), "intake");
	assert_string_equal(store_db_name(DB_COUNT), "?");
	for (int i = 0; i < DB_COUNT; i++)
		for (int j = i + 1; j < DB_COUNT; j++)
			assert_string_not_equal(store_db_name((enum store_db)i),
						store_db_name((enum store_db)j));
}

/* ---- sealed values ---- */

static void test_sealed_round_trip(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct buf plain;
	const void *v;
	size_t vl;
	uint8_t key[12];
	const char secret[] = "練馬太郎 <taro@example.jp> 12345678";

	be64_put(key, 1);
	be32_put(key + 8, 1);
	buf_init(&plain, 1 << 20);
	t = begin(f, 1);
	assert_int_equal(store_put_sealed(t, DB_RESIDENTS, key, sizeof(key), secret, strlen(secret), &e), 0);
	commit(&t);

	t = begin(f, 0);
	assert_int_equal(store_get_sealed(t, DB_RESIDENTS, key, sizeof(key), &plain, &e), 0);
	assert_int_equal(plain.len, strlen(secret));
	assert_memory_equal(plain.data, secret, plain.len);
	/* The stored form: version 1, wrapped key, nonce, ciphertext, tag. */
	assert_int_equal(store_get(t, DB_RESIDENTS, key, sizeof(key), &v, &vl, &e), 0);
	assert_int_equal(vl, strlen(secret) + SEALED_OVERHEAD);
	assert_int_equal(((const uint8_t *)v)[0], 1);
	assert_null(memmem(v, vl, "taro", 4));
	assert_null(memmem(v, vl, "練馬", strlen("練馬")));
	/* Absent: 1 and nothing appended. */
	buf_reset(&plain);
	key[11] = 2;
	assert_int_equal(store_get_sealed(t, DB_RESIDENTS, key, sizeof(key), &plain, &e), 1);
	assert_int_equal(plain.len, 0);
	store_abort(&t);

	/* An empty plaintext seals and opens too. */
	t = begin(f, 1);
	assert_int_equal(store_put_sealed(t, DB_RESIDENTS, key, sizeof(key), "", 0, &e), 0);
	assert_int_equal(store_get_sealed(t, DB_RESIDENTS, key, sizeof(key), &plain, &e), 0);
	assert_int_equal(plain.len, 0);
	commit(&t);
	buf_free(&plain);
}

static void test_seal_unseal_without_txn(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf sealed, plain;
	/* A key longer than 64 bytes is hashed into the context. */
	uint8_t longkey[100];

	memset(longkey, 'k', sizeof(longkey));
	buf_init(&sealed, 1 << 20);
	buf_init(&plain, 1 << 20);
	assert_int_equal(store_seal(f->st, DB_CONSENT, "abc", 3, "consent:yes", 11, &sealed, &e), 0);
	assert_int_equal(sealed.len, 11 + SEALED_OVERHEAD);
	assert_int_equal(store_unseal(f->st, DB_CONSENT, "abc", 3, sealed.data, sealed.len, &plain, &e), 0);
	assert_int_equal(plain.len, 11);
	assert_memory_equal(plain.data, "consent:yes", 11);

	buf_reset(&sealed);
	buf_reset(&plain);
	assert_int_equal(store_seal(f->st, DB_CONSENT, longkey, sizeof(longkey), "x", 1, &sealed, &e), 0);
	assert_int_equal(store_unseal(f->st, DB_CONSENT, longkey, sizeof(longkey), sealed.data,
				      sealed.len, &plain, &e), 0);
	assert_string_equal((char *)plain.data, "x");
	longkey[99] ^= 1;
	assert_int_equal(store_unseal(f->st, DB_CONSENT, longkey, sizeof(longkey), sealed.data,
				      sealed.len, &plain, &e), -1);
	buf_free(&sealed);
	buf_free(&plain);
}

static void test_sealed_copied_does_not_open(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct buf plain;
	const void *v;
	size_t vl;
	uint8_t *copy;
	uint8_t k1[8], k2[8];

	be64_put(k1, 1);
	be64_put(k2, 2);
	buf_init(&plain, 1 << 20);
	t = begin(f, 1);
	assert_int_equal(store_put_sealed(t, DB_STAFF, k1, 8, "alice record", 12, &e), 0);
	assert_int_equal(store_put_sealed(t, DB_STAFF, k2, 8, "bob record", 10, &e), 0);
	assert_int_equal(store_get(t, DB_STAFF, k1, 8, &v, &vl, &e), 0);
	copy = xmalloc(vl);
	memcpy(copy, v, vl);
	/* An attacker with write access copies alice's sealed value over bob's... */
	assert_int_equal(store_put(t, DB_STAFF, k2, 8, copy, vl, &e), 0);
	/* ...and into another database under the same key. */
	assert_int_equal(store_put(t, DB_BATCHES, k1, 8, copy, vl, &e), 0);
	commit(&t);

	t = begin(f, 0);
	e.msg[0] = '\0';
	assert_int_equal(store_get_sealed(t, DB_STAFF, k2, 8, &plain, &e), -1);
	assert_true(e.msg[0] != '\0');
	assert_int_equal(plain.len, 0);
	assert_int_equal(store_unseal(f->st, DB_STAFF, k2, 8, copy, vl, &plain, &e), -1);
	assert_int_equal(store_get_sealed(t, DB_BATCHES, k1, 8, &plain, &e), -1);
	assert_int_equal(plain.len, 0);
	/* In its own place it still opens. */
	assert_int_equal(store_get_sealed(t, DB_STAFF, k1, 8, &plain, &e), 0);
	assert_memory_equal(plain.data, "alice record", 12);
	store_abort(&t);

	/* Any damaged byte: version, wrapped key, nonce, ciphertext, tag. */
	for (size_t i = 0; i < vl; i++) {
		copy[i] ^= 0x01;
		buf_reset(&plain);
		if (store_unseal(f->st, DB_STAFF, k1, 8, copy, vl, &plain, &e) != -1)
			fail_msg("sealed value with byte %zu changed still opened", i);
		copy[i] ^= 0x01;
	}
	/* Truncated. */
	assert_int_equal(store_unseal(f->st, DB_STAFF, k1, 8, copy, vl - 1, &plain, &e), -1);
	assert_int_equal(store_unseal(f->st, DB_STAFF, k1, 8, copy, 10, &plain, &e), -1);
	assert_int_equal(store_unseal(f->st, DB_STAFF, k1, 8, copy, 0, &plain, &e), -1);
	buf_reset(&plain);
	assert_int_equal(store_unseal(f->st, DB_STAFF, k1, 8, copy, vl, &plain, &e), 0);
	assert_memory_equal(plain.data, "alice record", 12);
	free(copy);
	buf_free(&plain);
}

/* ---- counters, iteration, index ---- */

static void test_next_id(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	uint64_t id = 0;

	t = begin(f, 1);
	assert_int_equal(store_next_id(t, "batch", &id, &e), 0);
	assert_int_equal(id, 1);
	assert_int_equal(store_next_id(t, "batch", &id, &e), 0);
	assert_int_equal(id, 2);
	assert_int_equal(store_next_id(t, "other", &id, &e), 0);
	assert_int_equal(id, 1);
	commit(&t);

	t = begin(f, 1);
	assert_int_equal(store_next_id(t, "batch", &id, &e), 0);
	assert_int_equal(id, 3);
	store_abort(&t);
	/* The aborted id is handed out again: nothing was committed. */
	t = begin(f, 1);
	assert_int_equal(store_next_id(t, "batch", &id, &e), 0);
	assert_int_equal(id, 3);
	commit(&t);

	/* A damaged counter is an error, not a restart at 1. */
	t = begin(f, 1);
	assert_int_equal(store_put(t, DB_SEQ, "batch", 5, "xyz", 3, &e), 0);
	assert_int_equal(store_next_id(t, "batch", &id, &e), -1);
	store_abort(&t);
}

static void test_iteration(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct store_iter *it = NULL;
	static const uint64_t ids[] = { 5, 1, 300, 3, 10, 256, 7 };
	static const uint64_t sorted[] = { 1, 3, 5, 7, 10, 256, 300 };
	const void *k, *v;
	size_t kl, vl, n;
	uint8_t key[8];
	int r;

	t = begin(f, 0);
	/* Empty database. */
	assert_int_equal(store_last(t, DB_EVENTS, &k, &kl, &v, &vl, &e), 1);
	assert_int_equal(store_iter_open(t, DB_EVENTS, NULL, 0, &it, &e), 0);
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 1);
	store_iter_close(&it);
	assert_null(it);
	store_abort(&t);

	t = begin(f, 1);
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		uint8_t val[8];
		be64_put(key, ids[i]);
		be64_put(val, ids[i] * 100);
		assert_int_equal(store_put(t, DB_EVENTS, key, 8, val, 8, &e), 0);
	}
	commit(&t);

	t = begin(f, 0);
	/* All, in numeric order (big-endian keys). */
	assert_int_equal(store_iter_open(t, DB_EVENTS, NULL, 0, &it, &e), 0);
	n = 0;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		assert_true(n < ARRAY_SIZE(sorted));
		assert_int_equal(kl, 8);
		assert_int_equal(be64_get(k), sorted[n]);
		assert_int_equal(be64_get(v), sorted[n] * 100);
		n++;
	}
	assert_int_equal(r, 1);
	assert_int_equal(n, ARRAY_SIZE(sorted));
	/* After the end it stays at the end. */
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 1);
	store_iter_close(&it);

	/* From a start key that is not present: the next one up. */
	be64_put(key, 4);
	assert_int_equal(store_iter_open(t, DB_EVENTS, key, 8, &it, &e), 0);
	n = 2;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0)
		assert_int_equal(be64_get(k), sorted[n++]);
	assert_int_equal(n, ARRAY_SIZE(sorted));
	store_iter_close(&it);

	/* From a start key that is present: included. */
	be64_put(key, 256);
	assert_int_equal(store_iter_open(t, DB_EVENTS, key, 8, &it, &e), 0);
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 0);
	assert_int_equal(be64_get(k), 256);
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 0);
	assert_int_equal(be64_get(k), 300);
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 1);
	store_iter_close(&it);

	/* Past the last key: nothing. */
	be64_put(key, 301);
	assert_int_equal(store_iter_open(t, DB_EVENTS, key, 8, &it, &e), 0);
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 1);
	store_iter_close(&it);

	assert_int_equal(store_last(t, DB_EVENTS, &k, &kl, &v, &vl, &e), 0);
	assert_int_equal(kl, 8);
	assert_int_equal(be64_get(k), 300);
	assert_int_equal(be64_get(v), 30000);
	store_iter_close(&it); /* closing a NULL iterator is harmless */
	store_abort(&t);
}

/* Backwards: the keys below a bound, newest first (the audit page). */
static void test_iteration_back(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct store_iter *it = NULL;
	static const uint64_t ids[] = { 5, 1, 300, 3, 10, 256, 7 };
	static const uint64_t desc[] = { 300, 256, 10, 7, 5, 3, 1 };
	/* bound -> index in desc of the first key returned */
	static const struct { uint64_t before; size_t first; } cases[] = {
		{ 0, 0 }, { 301, 0 }, { 300, 1 }, { 11, 2 }, { 10, 3 }, { 2, 6 }, { 1, 7 },
	};
	const void *k, *v;
	size_t kl, vl, n;
	uint8_t key[8];
	int r;

	t = begin(f, 0);
	assert_int_equal(store_iter_open_back(t, DB_EVENTS, NULL, 0, &it, &e), 0);
	assert_int_equal(store_iter_next(it, &k, &kl, &v, &vl), 1); /* empty */
	store_iter_close(&it);
	store_abort(&t);
	t = begin(f, 1);
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		be64_put(key, ids[i]);
		assert_int_equal(store_put(t, DB_EVENTS, key, 8, key, 8, &e), 0);
	}
	commit(&t);
	t = begin(f, 0);
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		be64_put(key, cases[c].before);
		assert_int_equal(store_iter_open_back(t, DB_EVENTS, cases[c].before ? key : NULL, 8,
						      &it, &e), 0);
		n = cases[c].first;
		while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
			assert_true(n < ARRAY_SIZE(desc));
			assert_int_equal(be64_get(k), desc[n]);
			assert_int_equal(be64_get(v), desc[n]);
			n++;
		}
		assert_int_equal(r, 1);
		assert_int_equal(n, ARRAY_SIZE(desc));
		store_iter_close(&it);
	}
	store_abort(&t);
}

static void test_index(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	uint8_t a[32], b[32], c[32], d[32], plain[32];

	assert_int_equal(store_index(f->st, "staff-email", "a@example.jp", 12, a, &e), 0);
	assert_int_equal(store_index(f->st, "staff-email", "a@example.jp", 12, b, &e), 0);
	assert_memory_equal(a, b, 32);
	/* The kind separates index spaces. */
	assert_int_equal(store_index(f->st, "staff-login", "a@example.jp", 12, c, &e), 0);
	assert_memory_not_equal(a, c, 32);
	assert_int_equal(store_index(f->st, "staff-email", "b@example.jp", 12, d, &e), 0);
	assert_memory_not_equal(a, d, 32);
	/* "ab" + "c" is not "a" + "bc". */
	assert_int_equal(store_index(f->st, "ab", "c", 1, c, &e), 0);
	assert_int_equal(store_index(f->st, "a", "bc", 2, d, &e), 0);
	assert_memory_not_equal(c, d, 32);
	/* Keyed: not a hash anyone could compute. */
	crypt_sha256("a@example.jp", 12, plain);
	assert_memory_not_equal(a, plain, 32);
}

/* ---- encryption at rest ---- */

#define NRES 50

struct resident {
	char key[9];
	char name[64];
	char email[64];
};

static const char *const family_ja[] = { "練馬", "世田谷", "杉並", "中野", "豊島" };
static const char *const given_ja[] = { "太郎", "花子", "次郎", "美咲", "健一" };
static const char *const family_en[] = { "Nerima", "Setagaya", "Suginami", "Nakano", "Toshima" };
static const char *const given_en[] = { "Taro", "Hanako", "Jiro", "Misaki", "Kenichi" };

static void make_residents(struct resident *r)
{
	for (int i = 0; i < NRES; i++) {
		/* 8-digit keys that would not occur by chance in the files. */
		str_fmt(r[i].key, sizeof(r[i].key), "%08d", 73150000 + i * 37);
		if (i < 25)
			str_fmt(r[i].name, sizeof(r[i].name), "%s%s", family_ja[i / 5], given_ja[i % 5]);
		else
			str_fmt(r[i].name, sizeof(r[i].name), "%s %s", given_en[(i - 25) % 5],
				family_en[(i - 25) / 5]);
		str_fmt(r[i].email, sizeof(r[i].email), "%s.%s%02d@example.jp",
			given_en[i % 5], family_en[(i / 5) % 5], i);
		for (char *p = r[i].email; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
}

struct scan {
	const char *const *needles;
	const size_t *lens;
	size_t n;
	int *found;         /* per needle: in which file it was seen, or 0 */
	int files;
	int saw_data_mdb;
	size_t bytes;
	char keys_dir[4096];
};

static struct scan *g_scan;

static int scan_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	uint8_t *data = NULL;
	size_t len = 0;
	struct error e = { { 0 }, 0 };
	(void)ftw;

	if (flag == FTW_D && strcmp(path, g_scan->keys_dir) == 0)
		return FTW_SKIP_SUBTREE;
	if (flag != FTW_F || !S_ISREG(sb->st_mode))
		return 0;
	if (file_read_all(path, (size_t)1 << 30, &data, &len, &e) < 0) {
		fprintf(stderr, "scan: %s\n", e.msg);
		return -1;
	}
	g_scan->files++;
	g_scan->bytes += len;
	if (strlen(path) >= 9 && strcmp(path + strlen(path) - 9, "/data.mdb") == 0)
		g_scan->saw_data_mdb = 1;
	for (size_t i = 0; i < g_scan->n; i++)
		if (memmem(data, len, g_scan->needles[i], g_scan->lens[i]) != NULL)
			g_scan->found[i] = 1;
	free(data);
	return 0;
}

static void test_encryption_at_rest(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct resident res[NRES];
	struct store_txn *t;
	struct buf rec, pdf, plain;
	const uint64_t batch = 42;
	const char control[] = "CONTROL-PLAINTEXT-区役所-0xC0FFEE";
	const char *needles[4 * NRES + 8];
	size_t lens[4 * NRES + 8], nn = 0, control_i;
	int found[4 * NRES + 8];
	char local[NRES][64];
	struct scan sc;

	make_residents(res);
	buf_init(&rec, 4096);
	buf_init(&pdf, 1 << 20);
	buf_init(&plain, 1 << 20);

	t = begin(f, 1);
	for (int i = 0; i < NRES; i++) {
		uint8_t k[12], idx[32], ikey[8 + 8];
		be64_put(k, batch);
		be32_put(k + 8, (uint32_t)i + 1);

		buf_reset(&rec);
		assert_int_equal(rec_put_str(&rec, 1, res[i].key), 0);
		assert_int_equal(rec_put_str(&rec, 2, res[i].name), 0);
		assert_int_equal(rec_put_str(&rec, 3, res[i].email), 0);
		assert_int_equal(store_put_sealed(t, DB_RESIDENTS, k, sizeof(k), rec.data, rec.len, &e), 0);

		/* A fake PDF of some 8 KB holding the secret text, the name and the key. */
		buf_reset(&pdf);
		assert_int_equal(buf_printf(&pdf, "%%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
					    "BT (TAYORI-SECRET-PDF-TEXT 納税通知書) Tj "
					    "(%s) Tj (%s) Tj ET\n", res[i].name, res[i].key), 0);
		for (int j = 0; j < 200; j++)
			assert_int_equal(buf_printf(&pdf, "%06d stream filler line for page %d\n", j, i), 0);
		assert_int_equal(buf_append_str(&pdf, "%%EOF\n"), 0);
		assert_int_equal(store_put_sealed(t, DB_PDFS, k, sizeof(k), pdf.data, pdf.len, &e), 0);

		/* The lookup index: HMAC(batch | key) -> batch | seq. */
		be64_put(ikey, batch);
		memcpy(ikey + 8, res[i].key, 8);
		assert_int_equal(store_index(f->st, "resident", ikey, sizeof(ikey), idx, &e), 0);
		assert_int_equal(store_put_new(t, DB_RESIDENT_IDX, idx, sizeof(idx), k, sizeof(k), &e), 0);
	}
	/* The control: stored raw, so the scan below must find it. */
	assert_int_equal(store_put(t, DB_BATCH_STATE, "control", 7, control, strlen(control), &e), 0);
	commit(&t);

	/* Everything reads back through the keys. */
	t = begin(f, 0);
	for (int i = 0; i < NRES; i += 7) {
		uint8_t k[12], idx[32], ikey[16];
		const void *v;
		size_t vl;
		char s[128];
		be64_put(ikey, batch);
		memcpy(ikey + 8, res[i].key, 8);
		assert_int_equal(store_index(f->st, "resident", ikey, sizeof(ikey), idx, &e), 0);
		assert_int_equal(store_get(t, DB_RESIDENT_IDX, idx, sizeof(idx), &v, &vl, &e), 0);
		assert_int_equal(vl, 12);
		memcpy(k, v, 12);
		buf_reset(&plain);
		assert_int_equal(store_get_sealed(t, DB_RESIDENTS, k, sizeof(k), &plain, &e), 0);
		assert_int_equal(rec_check(plain.data, plain.len), 0);
		assert_int_equal(rec_get_str(plain.data, plain.len, 2, s, sizeof(s)), 0);
		assert_string_equal(s, res[i].name);
		buf_reset(&plain);
		assert_int_equal(store_get_sealed(t, DB_PDFS, k, sizeof(k), &plain, &e), 0);
		assert_non_null(memmem(plain.data, plain.len, "TAYORI-SECRET-PDF-TEXT 納税通知書", strlen("TAYORI-SECRET-PDF-TEXT 納税通知書")));
	}
	store_abort(&t);
	store_close(&f->st);

	/* What must not be in the files. */
	for (int i = 0; i < NRES; i++) {
		char *at;
		needles[nn++] = res[i].name;
		needles[nn++] = res[i].email;
		needles[nn++] = res[i].key;
		str_copy(local[i], res[i].email, sizeof(local[i]));
		at = strchr(local[i], '@');
		*at = '\0';
		needles[nn++] = local[i];
	}
	needles[nn++] = "TAYORI-SECRET-PDF-TEXT";
	needles[nn++] = "納税通知書";
	needles[nn++] = "練馬";
	needles[nn++] = "Nerima";
	control_i = nn;
	needles[nn++] = control;
	for (size_t i = 0; i < nn; i++) {
		lens[i] = strlen(needles[i]);
		found[i] = 0;
	}

	memset(&sc, 0, sizeof(sc));
	sc.needles = needles;
	sc.lens = lens;
	sc.n = nn;
	sc.found = found;
	str_fmt(sc.keys_dir, sizeof(sc.keys_dir), "%s/%s", f->dir, KEYS_DIR);
	g_scan = &sc;
	assert_int_equal(nftw(f->dir, scan_one, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0);
	g_scan = NULL;

	assert_true(sc.saw_data_mdb);
	/* 50 PDFs of ~8 KB went in: the files really hold them. */
	assert_true(sc.bytes > NRES * 8000);
	/* The search works: the raw control value is found. */
	assert_true(found[control_i]);
	for (size_t i = 0; i < control_i; i++)
		if (found[i])
			fail_msg("\"%s\" is readable in the raw files of the data directory", needles[i]);
	buf_free(&rec);
	buf_free(&pdf);
	buf_free(&plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_put_get_del, setup, teardown),
		cmocka_unit_test(test_db_names),
		cmocka_unit_test_setup_teardown(test_sealed_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_unseal_without_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_copied_does_not_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iteration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iteration_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encryption_at_rest, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
