/*
 * test_notice_forgery.c — records of lib/notice.h forged by a person who
 * can write the LMDB files but cannot ask the keys process for a MAC: a
 * made-up token, code, access record or event, a delivery's state or an
 * arrival time edited in place, and valid records copied to another key
 * must all be refused, and so must an older copy of a record put back
 * (rolled back) while a write that never committed leaves the current
 * record readable.  Runs as a stand-alone cmocka program against a real
 * LMDB store and a real keys process; uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/keys_client.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/util.h"

#include "tenant_fixture.h"
#include "notice_fixture.h"
/* ---- forgery with raw LMDB writes (no keys process) ---- */

/* The raw LMDB environment of the tenant, opened without tayori or keys:
 * what a person who can write the files can do.  The store is closed
 * meanwhile and opened again afterwards. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static MDB_dbi raw_open(struct fixture *f, struct raw *r, const char *db)
{
	char path[4096];
	MDB_dbi dbi;
	store_close(&f->st);
	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 64), 0);
	assert_int_equal(mdb_env_set_mapsize(r->env, (size_t)256 << 30), 0);
	assert_int_equal(mdb_env_open(r->env, path, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
	return dbi;
}

static void raw_close(struct fixture *f, struct raw *r)
{
	struct error e = { { 0 }, 0 };
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
	if (store_open(f->dir, f->kc, 0, &f->st, &e) < 0)
		fail_msg("store_open: %s", e.msg);
}

/* Copy out the raw value under k (the caller frees). */
static uint8_t *raw_get(struct raw *r, MDB_dbi dbi, const void *k, size_t kl, size_t *vl)
{
	MDB_val key = { kl, (void *)k }, v;
	uint8_t *out;
	assert_int_equal(mdb_get(r->txn, dbi, &key, &v), 0);
	out = xmalloc(v.mv_size);
	memcpy(out, v.mv_data, v.mv_size);
	*vl = v.mv_size;
	return out;
}

static void raw_put(struct raw *r, MDB_dbi dbi, const void *k, size_t kl, const void *v,
		    size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
	assert_int_equal(mdb_put(r->txn, dbi, &key, &val, 0), 0);
}

/* Change the u64 field tag of a raw record in place. */
static void raw_set_u64(uint8_t *v, size_t vl, uint16_t tag, uint64_t x)
{
	const uint8_t *p;
	size_t n;
	assert_int_equal(rec_get(v, vl, tag, &p, &n), 0);
	assert_int_equal(n, 8);
	be64_put(v + (p - v), x);
}

/* A record the way notice.c writes one, with a MAC made up by a forger. */
static void forged_rec(struct buf *b, uint64_t batch, uint32_t seq)
{
	uint8_t mac[32];
	memset(mac, 0x5A, sizeof(mac));
	buf_init(b, 4096);
	rec_put_u64(b, NR_BATCH, batch);
	rec_put_u64(b, NR_SEQ, seq);
	rec_put_u64(b, NR_ISSUED, 1790000000);
	rec_put_u64(b, NR_EXPIRES, 4000000000);
	rec_put_str(b, NR_KIND, "link");
	rec_put_u64(b, NR_VERSION, 1);
	rec_put(b, NR_MAC, mac, sizeof(mac));
}

static void test_forged_tokens_refused(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct buf b;
	char tok[NOTICE_TOKEN_LEN + 1], made_up[NOTICE_TOKEN_LEN + 1];
	char copied[NOTICE_TOKEN_LEN + 1];
	char code[NOTICE_CODE_TEXT + 1], other[NOTICE_CODE_TEXT + 1];
	uint8_t h[32], h2[32], *v;
	size_t vl;
	uint64_t batch;
	uint32_t seq;
	MDB_dbi dbi;

	t = begin(f, 1);
	assert_int_equal(notice_link_new(t, 4, 1, now_utc() + 86400, tok, &e), 0);
	assert_int_equal(notice_code_get_or_new(t, 4, 1, code, &e), 0);
	commit(&t);
	assert_int_equal(notice_token_new(made_up, &e), 0);
	assert_int_equal(notice_token_new(copied, &e), 0);

	/* (a) a made-up token record; (c) the valid record copied to the
	 * made-up token's key. */
	dbi = raw_open(f, &r, "tokens");
	notice_token_hash(made_up, h);
	forged_rec(&b, 4, 2);
	raw_put(&r, dbi, h, 32, b.data, b.len);
	buf_free(&b);
	notice_token_hash(tok, h2);
	v = raw_get(&r, dbi, h2, 32, &vl);
	notice_token_hash(copied, h2);
	raw_put(&r, dbi, h2, 32, v, vl);
	free(v);
	raw_close(f, &r);

	t = begin(f, 0);
	assert_int_equal(notice_link_find(t, tok, &batch, &seq, &e), 0); /* still good */
	assert_int_equal(notice_link_find(t, made_up, &batch, &seq, &e), 1);
	assert_int_equal(notice_link_find(t, copied, &batch, &seq, &e), 1);
	store_abort(&t);
	dbi = raw_open(f, &r, "tokens");
	notice_token_hash(tok, h2);
	v = raw_get(&r, dbi, h2, 32, &vl);
	raw_set_u64(v, vl, NR_EXPIRES, 4000000000); /* (b) a longer life */
	raw_put(&r, dbi, h2, 32, v, vl);
	free(v);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(notice_link_find(t, tok, &batch, &seq, &e), 1);
	store_abort(&t);

	/* A code record made up for a code nobody was given, and the code of
	 * (4, 1) copied under another code's place. */
	assert_int_equal(notice_code_new(other, &e), 0);
	{
		char canon[NOTICE_CODE_SYMBOLS + 1];
		uint8_t ix[32], ix1[32];
		assert_int_equal(notice_code_read(other, canon), 0);
		assert_int_equal(store_index(f->st, "notice-code", canon, 12, ix, &e), 0);
		assert_int_equal(notice_code_read(code, canon), 0);
		assert_int_equal(store_index(f->st, "notice-code", canon, 12, ix1, &e), 0);
		dbi = raw_open(f, &r, "codes");
		v = raw_get(&r, dbi, ix1, 32, &vl);
		raw_put(&r, dbi, ix, 32, v, vl);
		free(v);
		raw_close(f, &r);
	}
	t = begin(f, 0);
	assert_int_equal(notice_code_find(t, code, &batch, &seq, &e), 0);
	assert_true(batch == 4 && seq == 1);
	assert_int_equal(notice_code_find(t, other, &batch, &seq, &e), 1);
	store_abort(&t);
}

static void test_forged_delivery_access_refused(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct delivery d;
	struct notice_access a;
	uint8_t k1[12], k2[12], k3[12], *v;
	size_t vl;
	MDB_dbi dbi;

	put_delivery(f, 8, 1, DELIVERY_BOUNCED);
	put_delivery(f, 8, 2, DELIVERY_SENT);
	t = begin(f, 1);
	assert_int_equal(access_get(t, 8, 2, &a, &e), 1);
	a.opened_at = 1790000500;
	assert_int_equal(access_put(t, &a, &e), 0);
	commit(&t);
	key12(k1, 8, 1);
	key12(k2, 8, 2);
	key12(k3, 8, 3);

	/* (b) bounced turned into sent; (c) resident 2's sent record copied
	 * to resident 3, who has none. */
	dbi = raw_open(f, &r, "deliveries");
	v = raw_get(&r, dbi, k1, 12, &vl);
	raw_set_u64(v, vl, NR_STATE, DELIVERY_SENT);
	raw_put(&r, dbi, k1, 12, v, vl);
	free(v);
	v = raw_get(&r, dbi, k2, 12, &vl);
	raw_put(&r, dbi, k3, 12, v, vl);
	free(v);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 8, 1, &d, &e), -1);
	assert_non_null(strstr(e.msg, "MAC"));
	assert_int_equal(delivery_get(t, 8, 2, &d, &e), 0);
	assert_int_equal(delivery_get(t, 8, 3, &d, &e), -1);
	store_abort(&t);

	/* (b) an arrival time written into an access record; (c) copied to
	 * another resident; (a) one made up. */
	dbi = raw_open(f, &r, "access");
	v = raw_get(&r, dbi, k2, 12, &vl);
	raw_put(&r, dbi, k3, 12, v, vl);
	raw_set_u64(v, vl, NR_DOWNLOADED_AT, 1790000600);
	raw_put(&r, dbi, k2, 12, v, vl);
	free(v);
	{
		struct buf b;
		forged_rec(&b, 8, 1);
		raw_put(&r, dbi, k1, 12, b.data, b.len);
		buf_free(&b);
	}
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(access_get(t, 8, 2, &a, &e), -1);
	assert_int_equal(access_get(t, 8, 3, &a, &e), -1);
	assert_int_equal(access_get(t, 8, 1, &a, &e), -1);
	store_abort(&t);
}

static int count_events(const struct notice_event_rec *ev, void *arg)
{
	(void)ev;
	(*(int *)arg)++;
	return 0;
}

/* The raw value under k in db, copied out (the caller frees). */
static uint8_t *raw_copy(struct fixture *f, const char *db, const void *k, size_t kl, size_t *vl)
{
	struct raw r;
	MDB_dbi dbi = raw_open(f, &r, db);
	uint8_t *v = raw_get(&r, dbi, k, kl, vl);
	raw_close(f, &r);
	return v;
}

static void raw_restore(struct fixture *f, const char *db, const void *k, size_t kl,
			const uint8_t *v, size_t vl)
{
	struct raw r;
	MDB_dbi dbi = raw_open(f, &r, db);
	raw_put(&r, dbi, k, kl, v, vl);
	raw_close(f, &r);
}

/*
 * Rolling a record back: a copy of an older version of the same record,
 * under the same key, carries a MAC that holds, but the keys process
 * anchored a later version: the old copy is refused (a delivery's bounce
 * undone, an arrival undone, a lock lifted, a used one-time password made
 * fresh), in single reads and in the furthest states, also after the keys
 * process restarts.  The event and its audit record remain too.
 */
static void test_rollback_refused(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	static const char *const emails[] = { "a@example.jp" };
	struct store_txn *t;
	struct notice_access a;
	struct delivery d;
	struct notice_status *v = NULL;
	struct notice_event_rec ev = { 9, 1, 0, EV_DOWNLOAD, "Mozilla/5.0", 30 };
	uint8_t k[12], *old, *cur, *oldd, *curd;
	size_t oldl, curl, olddl, curdl, n = 0;
	uint64_t count = 0;
	int nev = 0;

	put_batch(f, 9, "", 1, emails);
	put_delivery(f, 9, 1, DELIVERY_SENT);
	key12(k, 9, 1);
	oldd = raw_copy(f, "deliveries", k, 12, &olddl);
	put_delivery(f, 9, 1, DELIVERY_BOUNCED);
	curd = raw_copy(f, "deliveries", k, 12, &curdl);

	t = begin(f, 1);
	assert_int_equal(access_get(t, 9, 1, &a, &e), 1);
	a.opened_at = 1790000000;
	a.failures = 4;
	assert_int_equal(access_put(t, &a, &e), 0);
	commit(&t);
	old = raw_copy(f, "access", k, 12, &oldl);
	t = begin(f, 1);
	assert_int_equal(access_get(t, 9, 1, &a, &e), 0);
	a.downloaded_at = 1790000100;
	a.failures = 5;
	a.locked = 1;
	assert_int_equal(access_put(t, &a, &e), 0);
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	commit(&t);
	cur = raw_copy(f, "access", k, 12, &curl);

	/* The older copies put back. */
	raw_restore(f, "deliveries", k, 12, oldd, olddl);
	raw_restore(f, "access", k, 12, old, oldl);
	for (int restart = 0; restart < 2; restart++) {
		t = begin(f, 0);
		assert_int_equal(delivery_get(t, 9, 1, &d, &e), -1);
		assert_non_null(strstr(e.msg, "delivery record of batch 9 row 1 is an older copy"));
		assert_int_equal(access_get(t, 9, 1, &a, &e), -1);
		assert_non_null(strstr(e.msg, "rolled back"));
		assert_int_equal(notice_events_each(t, 9, 0, count_events, &nev, &e), 0);
		store_abort(&t);
		assert_int_equal(notice_statuses(f->st, 9, now_utc(), &v, &n, &e), -1);
		assert_null(v);
		assert_non_null(strstr(e.msg, "rolled back"));
		/* A new keys process reads the versions back from its file. */
		store_close(&f->st);
		keys_spawn_wait(&f->kc, f->pid);
		if (keys_spawn(f->dir, NULL, NULL, &f->kc, &f->pid, &e) < 0 ||
		    store_open(f->dir, f->kc, 0, &f->st, &e) < 0)
			fail_msg("restart: %s", e.msg);
	}
	assert_int_equal(nev, 2); /* the download event is still there */
	if (audit_verify(f->st, &count, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	assert_true(count >= 1);

	/* The current copies put back read again. */
	raw_restore(f, "deliveries", k, 12, curd, curdl);
	raw_restore(f, "access", k, 12, cur, curl);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 9, 1, &d, &e), 0);
	assert_int_equal(d.state, DELIVERY_BOUNCED);
	assert_int_equal(access_get(t, 9, 1, &a, &e), 0);
	assert_int_equal(a.downloaded_at, 1790000100);
	assert_int_equal(a.locked, 1);
	store_abort(&t);
	free(old);
	free(cur);
	free(oldd);
	free(curd);
}

/* A record written through notice_seal_rec by another module (the
 * portal's sessions): the generic check refuses its older version too. */
static void test_rollback_refused_session(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	uint8_t k[32], *old = NULL, *cur;
	size_t oldl = 0, curl;
	struct store_txn *t;

	memset(k, 0x42, sizeof(k));
	for (uint64_t ver = 1; ver <= 2; ver++) {
		struct buf b;
		buf_init(&b, 4096);
		rec_put_u64(&b, NR_BATCH, 12);
		/* Version 2: the session ended early (logged out). */
		rec_put_u64(&b, NR_EXPIRES, ver == 1 ? 4000000000 : 1790000000);
		rec_put_str(&b, NR_KIND, "resident");
		/* Version 1 sealed before its transaction begins (anchored at
		 * once, as the portal does), version 2 inside it. */
		if (ver == 1)
			assert_int_equal(notice_seal_rec(f->st, DB_SESSIONS, k, 32, ver, &b, &e), 0);
		t = begin(f, 1);
		if (ver == 2)
			assert_int_equal(notice_seal_rec(f->st, DB_SESSIONS, k, 32, ver, &b, &e), 0);
		assert_int_equal(store_put(t, DB_SESSIONS, k, 32, b.data, b.len, &e), 0);
		commit(&t);
		buf_free(&b);
		if (ver == 1) {
			old = raw_copy(f, "sessions", k, 32, &oldl);
			assert_int_equal(notice_check_rec(f->st, DB_SESSIONS, k, 32, old, oldl, &e), 0);
		}
	}
	cur = raw_copy(f, "sessions", k, 32, &curl);
	assert_int_equal(notice_check_rec(f->st, DB_SESSIONS, k, 32, cur, curl, &e), 0);
	assert_int_equal(notice_check_rec(f->st, DB_SESSIONS, k, 32, old, oldl, &e), 1);
	free(old);
	free(cur);
}

/*
 * A write whose MAC was issued but whose transaction never committed (an
 * abort, or a crash between the keys process's answer and the LMDB
 * commit) leaves the current record readable; a write committed whose
 * confirmation was lost (a crash just after the LMDB commit) reads too,
 * and the next write makes the version before it old.
 */
static void test_uncommitted_write_keeps_current(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct delivery d;
	uint8_t k[12], id[KEYS_RECORD_ID_LEN], *v1, *v2;
	const void *val;
	size_t v1l, v2l;
	uint64_t two = 2;

	put_delivery(f, 10, 1, DELIVERY_QUEUED);
	key12(k, 10, 1);
	keys_record_id("deliveries", k, 12, id);
	v1 = raw_copy(f, "deliveries", k, 12, &v1l);

	/* Issued, read back inside its own transaction, announced to keys as
	 * store_commit does first, then the crash: the transaction is gone. */
	t = begin(f, 1);
	assert_int_equal(delivery_get(t, 10, 1, &d, &e), 0);
	d.state = DELIVERY_SENDING;
	assert_int_equal(delivery_put(t, &d, &e), 0);
	assert_int_equal(delivery_get(t, 10, 1, &d, &e), 0);
	assert_int_equal(d.state, DELIVERY_SENDING);
	assert_int_equal(d.version, 2);
	assert_int_equal(store_get(t, DB_DELIVERIES, k, 12, &val, &v2l, &e), 0);
	v2 = xmalloc(v2l);
	memcpy(v2, val, v2l);
	assert_int_equal(keys_record_pending(f->kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])&id, &two, 1,
					     &e), 0);
	store_abort(&t);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 10, 1, &d, &e), 0);
	assert_int_equal(d.state, DELIVERY_QUEUED);
	store_abort(&t);

	/* The same write committed, its confirmation lost: version 2 is in the
	 * store (put there raw, as the LMDB commit would have) and reads. */
	assert_int_equal(keys_record_pending(f->kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])&id, &two, 1,
					     &e), 0);
	raw_restore(f, "deliveries", k, 12, v2, v2l);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 10, 1, &d, &e), 0);
	assert_int_equal(d.state, DELIVERY_SENDING);
	store_abort(&t);
	/* The next write (3) builds on it; then neither 1 nor 2 reads. */
	put_delivery(f, 10, 1, DELIVERY_SENT);
	raw_restore(f, "deliveries", k, 12, v2, v2l);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 10, 1, &d, &e), -1);
	assert_non_null(strstr(e.msg, "rolled back"));
	store_abort(&t);
	raw_restore(f, "deliveries", k, 12, v1, v1l);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 10, 1, &d, &e), -1);
	store_abort(&t);
	free(v1);
	free(v2);
}

static void test_forged_events_dropped(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct notice_event_rec ev = { 11, 1, 1790000000000000, EV_OPEN, "UA", 5 };
	struct ev_list l = { 0 };
	uint8_t k[20], k2[20], *v;
	size_t vl;
	MDB_dbi dbi;

	t = begin(f, 1);
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	commit(&t);
	be64_put(k, 11);
	be64_put(k + 8, 1790000000000000);
	be32_put(k + 16, 0);
	memcpy(k2, k, 20);
	be64_put(k2 + 8, 1790000009000000);
	dbi = raw_open(f, &r, "events");
	v = raw_get(&r, dbi, k, 20, &vl);
	raw_put(&r, dbi, k2, 20, v, vl); /* copied to a later time */
	raw_set_u64(v, vl, NR_TYPE, EV_DOWNLOAD);
	be64_put(k2 + 8, 1790000008000000);
	raw_put(&r, dbi, k2, 20, v, vl); /* a download made up */
	free(v);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(notice_events_each(t, 11, 0, collect, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ev[0].type, EV_OPEN);
	store_abort(&t);
}

/* The furthest states read many records at once: a forged one among them
 * fails the whole listing, as a single read does. */
static void test_forged_records_fail_statuses(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	static const char *const emails[] = { "a@example.jp", "b@example.jp", "c@example.jp" };
	struct notice_status *v = NULL;
	struct raw r;
	uint8_t k1[12], k2[12], k3[12], *val;
	size_t vl, n = 0;
	MDB_dbi dbi;

	put_batch(f, 30, "", 3, emails);
	put_delivery(f, 30, 1, DELIVERY_BOUNCED);
	put_delivery(f, 30, 2, DELIVERY_SENT);
	assert_int_equal(notice_statuses(f->st, 30, now_utc(), &v, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].state, "bounced");
	assert_int_equal(v[0].paper, 1);
	assert_string_equal(v[1].state, "sent");
	assert_string_equal(v[2].state, "queued");
	free(v);
	key12(k1, 30, 1);
	key12(k2, 30, 2);
	key12(k3, 30, 3);

	/* The bounce hidden: resident 1 would be taken off the paper list. */
	dbi = raw_open(f, &r, "deliveries");
	val = raw_get(&r, dbi, k1, 12, &vl);
	raw_set_u64(val, vl, NR_STATE, DELIVERY_SENT);
	raw_put(&r, dbi, k1, 12, val, vl);
	free(val);
	raw_close(f, &r);
	v = NULL;
	assert_int_equal(notice_statuses(f->st, 30, now_utc(), &v, &n, &e), -1);
	assert_null(v);
	assert_non_null(strstr(e.msg, "delivery record of batch 30 row 1 fails its MAC"));

	/* Remove the forged delivery, record resident 2's download, then copy
	 * resident 2's good access record to resident 3. */
	dbi = raw_open(f, &r, "deliveries");
	{
		MDB_val key = { 12, k1 };
		assert_int_equal(mdb_del(r.txn, dbi, &key, NULL), 0);
	}
	raw_close(f, &r);
	{
		struct store_txn *t = begin(f, 1);
		struct notice_access a;
		assert_int_equal(access_get(t, 30, 2, &a, &e), 1);
		a.downloaded_at = 1790000300;
		assert_int_equal(access_put(t, &a, &e), 0);
		commit(&t);
	}
	assert_int_equal(notice_statuses(f->st, 30, now_utc(), &v, &n, &e), 0);
	assert_string_equal(v[1].state, "downloaded");
	free(v);
	dbi = raw_open(f, &r, "access");
	val = raw_get(&r, dbi, k2, 12, &vl);
	raw_put(&r, dbi, k3, 12, val, vl); /* an arrival for resident 3 */
	free(val);
	raw_close(f, &r);
	v = NULL;
	assert_int_equal(notice_statuses(f->st, 30, now_utc(), &v, &n, &e), -1);
	assert_non_null(strstr(e.msg, "access record of batch 30 row 3 fails its MAC"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forged_tokens_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_delivery_access_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rollback_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_refused_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted_write_keeps_current, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forged_events_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_records_fail_statuses, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
