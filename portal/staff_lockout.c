/*
 * staff_lockout.c — the staff login's lockout counters, per account
 * ("a:LOGIN") and per IP ("i:ADDR"), kept in the store so that a lockout
 * survives a portal restart (or a crash the supervisor answers with one):
 * an attacker must not get a fresh set of tries by making the portal die.
 *
 * Each counter is a record in DB_SESSIONS under SHA-256("staff-fail\0" KEY)
 * (the login or address itself is not stored), kind "staff-fail":
 * NR_CREATED the first failure counted, NR_FAILURES the count, NR_LOCKED
 * the end of the lockout (0: none); the window and the lockout last
 * [portal] staff_lockout.  Unlike a session it carries no MAC:
 * whoever could forge one could as well delete it, and a forged lock only
 * locks out.  A counter past its window and its lockout is removed when
 * next read, and each write sweeps a few more records (sweep()), so that
 * the counters of addresses that never return go too.  Each function takes the store lock itself (the login calls
 * them around Argon2, outside it).  Runs in the portal process.
 */
#include <string.h>

#include "lib/audit.h"
#include "lib/crypt.h"
#include "lib/log.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "portal/staff_int.h"

#define FAIL_KIND "staff-fail"

struct fail_rec {
	uint64_t count;
	int64_t first;
	int64_t locked_until;
};

static void fail_key(const char *key, uint8_t h[32])
{
	char in[128];
	size_t n = str_copy(in, FAIL_KIND, sizeof(in));

	in[n++] = '\0';
	n += str_copy(in + n, key, sizeof(in) - n);
	crypt_sha256(in, n, h);
}

/* In t: 0 found (f set), 1 none (or not a counter), -1 error. */
static int fail_get(struct store_txn *t, const uint8_t h[32], struct fail_rec *f, struct error *e)
{
	const void *v;
	size_t vl;
	char kind[16] = "";
	int r = store_get(t, DB_SESSIONS, h, 32, &v, &vl, e);

	if (r == 0 && (rec_check(v, vl) < 0 || rec_get_str(v, vl, NR_KIND, kind, sizeof(kind)) < 0 ||
		       strcmp(kind, FAIL_KIND) != 0))
		r = 1;
	if (r == 0) {
		f->first = (int64_t)rec_get_u64(v, vl, NR_CREATED, 0);
		f->count = rec_get_u64(v, vl, NR_FAILURES, 0);
		f->locked_until = (int64_t)rec_get_u64(v, vl, NR_LOCKED, 0);
	}
	return r;
}

/* In t: write f, or remove the counter when f is NULL. */
static int fail_put(struct store_txn *t, const uint8_t h[32], const struct fail_rec *f,
		    struct error *e)
{
	struct buf rec;
	int r;

	if (f == NULL)
		return store_del(t, DB_SESSIONS, h, 32, e) < 0 ? -1 : 0;
	buf_init(&rec, 256);
	/* rec.h: tags ascending */
	if ((rec_put_u64(&rec, NR_CREATED, (uint64_t)f->first) |
	     rec_put_str(&rec, NR_KIND, FAIL_KIND) | rec_put_u64(&rec, NR_FAILURES, f->count) |
	     rec_put_u64(&rec, NR_LOCKED, (uint64_t)f->locked_until)) != 0)
		r = err_set(e, "lockout record");
	else
		r = store_put(t, DB_SESSIONS, h, 32, rec.data, rec.len, e);
	buf_free(&rec);
	return r < 0 ? -1 : 0;
}

/* 0 found (f set), 1 none (or not a counter), -1 error; the lock held. */
static int fail_read(struct staff_ctx *sc, const uint8_t h[32], struct fail_rec *f,
		     struct error *e)
{
	struct store_txn *t = NULL;
	int r;

	if (store_begin(sc->st, 0, &t, e) < 0)
		return -1;
	r = fail_get(t, h, f, e);
	store_abort(&t);
	return r;
}

/* Write f (or remove the counter when f is NULL); the lock held. */
static int fail_write(struct staff_ctx *sc, const uint8_t h[32], const struct fail_rec *f,
		      struct error *e)
{
	struct store_txn *t = NULL;
	int r = -1;

	if (store_begin(sc->st, 1, &t, e) == 0 && fail_put(t, h, f, e) == 0)
		r = store_commit(&t, e);
	store_abort(&t);
	return r < 0 ? -1 : 0;
}

static int stale(const struct fail_rec *f, int64_t window, int64_t now)
{
	return f->locked_until <= now && f->first + window <= now;
}

/* In t: remove the stale counters among the next STAFF_FAIL_SWEEP records
 * of DB_SESSIONS from sc->sweep_at (then go on from there next time, and
 * from the start after the end), so that the counters of an address that
 * never comes back do not stay for ever, at a bounded cost per write.
 * Sessions are left alone (they expire on their own).  The lock held. */
static int sweep(struct staff_ctx *sc, struct store_txn *t, int64_t now, struct error *e)
{
	uint8_t old[STAFF_FAIL_SWEEP][32];
	struct store_iter *it = NULL;
	size_t nold = 0, seen = 0;
	int r = 0;

	if (store_iter_open(t, DB_SESSIONS, sc->sweep_at, 32, &it, e) < 0)
		return -1;
	while (seen < STAFF_FAIL_SWEEP) {
		const void *k, *v;
		size_t kl, vl;
		char kind[16] = "";
		struct fail_rec f;
		r = store_iter_next(it, &k, &kl, &v, &vl);
		if (r != 0)
			break;
		seen++;
		if (kl != 32)
			continue;
		memcpy(sc->sweep_at, k, 32);
		if (rec_check(v, vl) < 0 || rec_get_str(v, vl, NR_KIND, kind, sizeof(kind)) < 0 ||
		    strcmp(kind, FAIL_KIND) != 0)
			continue;
		f.first = (int64_t)rec_get_u64(v, vl, NR_CREATED, 0);
		f.locked_until = (int64_t)rec_get_u64(v, vl, NR_LOCKED, 0);
		if (stale(&f, sc->lockout, now))
			memcpy(old[nold++], k, 32);
	}
	store_iter_close(&it);
	if (r < 0)
		return err_set(e, "cannot read the lockout records");
	if (r == 1)
		memset(sc->sweep_at, 0, 32); /* the end: start again from the first */
	for (size_t i = 0; i < nold; i++)
		if (store_del(t, DB_SESSIONS, old[i], 32, e) < 0)
			return -1;
	return 0;
}

int staff_fail_locked(struct staff_ctx *sc, const char *key, int64_t now)
{
	struct error e = { { 0 }, 0 };
	struct fail_rec f;
	uint8_t h[32];
	int r;

	fail_key(key, h);
	pthread_mutex_lock(sc->lock);
	r = fail_read(sc, h, &f, &e);
	if (r == 0 && stale(&f, sc->lockout, now))
		fail_write(sc, h, NULL, &e);
	pthread_mutex_unlock(sc->lock);
	if (r < 0) {
		/* Erring on the strict side: a store that cannot be read
		 * refuses the login rather than skipping the lockout. */
		log_err("event=staff_lockout_read_failed reason=\"%s\"", e.msg);
		return 1;
	}
	return r == 0 && f.locked_until > now;
}

/* In t: count one failure of h; 1 when it locks, 0 not, -1 error. */
static int count_one(struct staff_ctx *sc, struct store_txn *t, const uint8_t h[32],
		     uint32_t limit, int64_t now, struct error *e)
{
	struct fail_rec f;
	int r = fail_get(t, h, &f, e), locks = 0;

	if (r < 0)
		return -1;
	if (r == 1 || stale(&f, sc->lockout, now))
		f = (struct fail_rec){ 0, now, 0 };
	f.count++;
	if (f.count >= limit && f.locked_until <= now) {
		f.locked_until = now + sc->lockout;
		locks = 1;
	}
	return fail_put(t, h, &f, e) < 0 ? -1 : locks;
}

int staff_fail_add(struct staff_ctx *sc, const char *key, uint32_t limit, int64_t now)
{
	struct error e = { { 0 }, 0 };
	struct store_txn *t = NULL;
	uint8_t h[32];
	int r = -1;

	fail_key(key, h);
	pthread_mutex_lock(sc->lock);
	if (store_begin(sc->st, 1, &t, &e) == 0 && (r = count_one(sc, t, h, limit, now, &e)) >= 0 &&
	    (sweep(sc, t, now, &e) < 0 || store_commit(&t, &e) < 0))
		r = -1;
	store_abort(&t);
	pthread_mutex_unlock(sc->lock);
	if (r < 0)
		log_err("event=staff_lockout_write_failed reason=\"%s\"", e.msg);
	return r > 0;
}

int staff_fail_login(struct staff_ctx *sc, const char *akey, const char *ikey, int64_t now,
		     const char *actor, const char *from, const char *detail)
{
	struct error e = { { 0 }, 0 };
	struct store_txn *t = NULL;
	struct audit_entry a[3];
	uint8_t ha[32], hi[32];
	int lock_a = 0, lock_i, r = -1;
	size_t n = 0;

	fail_key(ikey, hi);
	if (akey != NULL)
		fail_key(akey, ha);
	a[n++] = (struct audit_entry){ actor, "staff.login_fail", akey != NULL ? actor : "", from,
				       detail };
	pthread_mutex_lock(sc->lock);
	if (store_begin(sc->st, 1, &t, &e) < 0)
		goto out;
	if (akey != NULL && (lock_a = count_one(sc, t, ha, STAFF_FAIL_ACCOUNT, now, &e)) < 0)
		goto out;
	if ((lock_i = count_one(sc, t, hi, STAFF_FAIL_IP, now, &e)) < 0 || sweep(sc, t, now, &e) < 0)
		goto out;
	if (lock_a)
		a[n++] = (struct audit_entry){ actor, "staff.lockout", actor, from, "scope=account" };
	if (lock_i)
		a[n++] = (struct audit_entry){ "system", "staff.lockout", "", from, "scope=ip" };
	/* The counters and their audit records in one commit. */
	if (audit_append_many(t, a, n, NULL, &e) < 0 || store_commit(&t, &e) < 0)
		goto out;
	r = 0;
out:
	store_abort(&t);
	pthread_mutex_unlock(sc->lock);
	if (r < 0)
		log_err("event=staff_lockout_write_failed reason=\"%s\"", e.msg);
	return r;
}

void staff_fail_clear(struct staff_ctx *sc, const char *key)
{
	struct error e = { { 0 }, 0 };
	struct fail_rec f;
	uint8_t h[32];

	fail_key(key, h);
	pthread_mutex_lock(sc->lock);
	if (fail_read(sc, h, &f, &e) == 0 && fail_write(sc, h, NULL, &e) < 0)
		log_err("event=staff_lockout_write_failed reason=\"%s\"", e.msg);
	pthread_mutex_unlock(sc->lock);
}
