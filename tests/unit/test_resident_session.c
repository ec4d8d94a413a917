/*
 * test_resident_session.c — unit tests of the resident's session records
 * (portal/resident_data.c) in a real store with a real keys process: a
 * session made is found by its token and not by another; it expires; a
 * session written into LMDB without the keys process's MAC (made up, or an
 * existing one edited to another notice or a later expiry) is refused.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/rec.h"
#include "portal/resident.h"
#include "tenant_fixture.h"

static void raw_put(struct store *st, const uint8_t h[32], const void *v, size_t vl)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	assert_int_equal(store_begin(st, 1, &t, &e), 0);
	assert_int_equal(store_put(t, DB_SESSIONS, h, 32, v, vl, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
}

static void test_session(void **state)
{
	struct fixture *f = *state;
	struct resident_ctx rc;
	struct error e = { { 0 }, 0 };
	char tok[NOTICE_TOKEN_LEN + 1], other[NOTICE_TOKEN_LEN + 1];
	uint64_t batch = 0;
	uint32_t seq = 0;
	int64_t now = 1800000000;
	uint8_t h[32];

	memset(&rc, 0, sizeof(rc));
	rc.st = f->st;
	assert_int_equal(resident_session_new(&rc, 7, 3, now, tok, &e), 0);
	assert_int_equal(resident_session_find(&rc, tok, now + 1, &batch, &seq, &e), 0);
	assert_int_equal(batch, 7);
	assert_int_equal(seq, 3);
	assert_int_equal(notice_token_new(other, &e), 0);
	assert_int_equal(resident_session_find(&rc, other, now + 1, &batch, &seq, &e), 1);
	assert_int_equal(resident_session_find(&rc, "short", now + 1, &batch, &seq, &e), 1);
	assert_int_equal(resident_session_find(&rc, NULL, now + 1, &batch, &seq, &e), 1);
	/* expired */
	assert_int_equal(resident_session_find(&rc, tok, now + RESIDENT_SESSION_TTL, &batch, &seq, &e), 1);

	/* Edited in LMDB (another notice, a later expiry): refused. */
	{
		struct store_txn *t = NULL;
		const void *v;
		size_t vl;
		uint8_t copy[1024];
		notice_token_hash(tok, h);
		assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
		assert_int_equal(store_get(t, DB_SESSIONS, h, 32, &v, &vl, &e), 0);
		assert_true(vl < sizeof(copy));
		memcpy(copy, v, vl);
		store_abort(&t);
		/* the NR_SEQ value is the u64 after its 6-byte header */
		for (size_t i = 0; i + 14 <= vl; i++)
			if (copy[i] == 0 && copy[i + 1] == NR_SEQ && be32_get(copy + i + 2) == 8 &&
			    be64_get(copy + i + 6) == 3) {
				be64_put(copy + i + 6, 4);
				break;
			}
		raw_put(f->st, h, copy, vl);
		assert_int_equal(resident_session_find(&rc, tok, now + 1, &batch, &seq, &e), 1);
	}
	/* Made up without the keys process: refused. */
	{
		struct buf b;
		uint8_t zero[32] = { 0 };
		buf_init(&b, 4096);
		rec_put_u64(&b, NR_BATCH, 7);
		rec_put_u64(&b, NR_SEQ, 3);
		rec_put_u64(&b, NR_CREATED, (uint64_t)now);
		rec_put_u64(&b, NR_EXPIRES, (uint64_t)now + 3600);
		rec_put_str(&b, NR_KIND, "resident");
		rec_put_u64(&b, NR_VERSION, 1);
		rec_put(&b, NR_MAC, zero, sizeof(zero));
		notice_token_hash(other, h);
		raw_put(f->st, h, b.data, b.len);
		assert_int_equal(resident_session_find(&rc, other, now + 1, &batch, &seq, &e), 1);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
