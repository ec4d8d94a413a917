/*
 * test_audit.c — unit tests for lib/audit.c, the MAC-chained audit log:
 * records appended inside store transactions verify intact; then an
 * attacker with write access to the LMDB files but no key (simulated with
 * raw store_put/store_del in a fresh write transaction) changes, removes,
 * inserts or cuts off records or rewrites the head, empties the log, or
 * cuts its tail and puts an older head back, and audit_verify must notice
 * each (the last through the keys process's own count).  A writer or the
 * keys process dying between a record's issue and its commit must not make
 * an honest log look tampered.  `tayori init` writes the first record.
 * Also audit_print's JSON and text output.
 * Runs as a stand-alone cmocka program; forks a keys process per test;
 * uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/audit.h"
#include "lib/buf.h"
#include "cmd/cli.h"
#include "keys/keys.h"
#include "lib/store.h"
#include "lib/util.h"

#define N 6
#define MAC 32

#include "tenant_fixture.h"

/* Append records first..last, each in its own committed transaction. */
static void append_range(struct fixture *f, uint64_t first, uint64_t last)
{
	for (uint64_t i = first; i <= last; i++) {
		struct store_txn *t = NULL;
		struct error e = { { 0 }, 0 };
		char target[32], detail[64];
		uint64_t seq = 0;
		struct audit_entry a;

		str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)i);
		str_fmt(detail, sizeof(detail), "count=%llu", (unsigned long long)(i * 10));
		a = (struct audit_entry){ "cli:root", "batch.approve", target, "cli", detail };
		assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
		if (audit_append(t, &a, &seq, &e) < 0)
			fail_msg("audit_append: %s", e.msg);
		assert_int_equal(seq, i);
		assert_int_equal(store_commit(&t, &e), 0);
	}
}

static void verify_ok(struct fixture *f, uint64_t want)
{
	struct error e = { { 0 }, 0 };
	uint64_t count = 999;
	if (audit_verify(f->st, &count, &e) < 0)
		fail_msg("audit_verify failed on an intact log: %s", e.msg);
	assert_int_equal(count, want);
}

/* audit_verify must fail; its message must contain every given word. */
static void verify_fails(struct fixture *f, const char *w1, const char *w2)
{
	struct error e = { { 0 }, 0 };
	uint64_t count = 999;
	if (audit_verify(f->st, &count, &e) == 0)
		fail_msg("audit_verify accepted a tampered log (count %llu)", (unsigned long long)count);
	if (w1 != NULL && strstr(e.msg, w1) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", e.msg, w1);
	if (w2 != NULL && strstr(e.msg, w2) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", e.msg, w2);
}

/* A copy of record seq's raw value (caller frees). */
static uint8_t *raw_record(struct fixture *f, uint64_t seq, size_t *len)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	const void *v;
	uint8_t key[8], *copy;
	be64_put(key, seq);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_get(t, DB_AUDIT, key, 8, &v, len, &e), 0);
	copy = xmalloc(*len);
	memcpy(copy, v, *len);
	store_abort(&t);
	return copy;
}

/* The attacker: raw writes in a fresh write transaction, no keys used. */
static void raw_put(struct fixture *f, enum store_db db, const void *k, size_t kl, const void *v,
		    size_t vl)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(store_put(t, db, k, kl, v, vl, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
}

static void raw_del(struct fixture *f, enum store_db db, const void *k, size_t kl)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(store_del(t, db, k, kl, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
}

static void put_record(struct fixture *f, uint64_t seq, const uint8_t *v, size_t vl)
{
	uint8_t key[8];
	be64_put(key, seq);
	raw_put(f, DB_AUDIT, key, 8, v, vl);
}

static void del_record(struct fixture *f, uint64_t seq)
{
	uint8_t key[8];
	be64_put(key, seq);
	raw_del(f, DB_AUDIT, key, 8);
}

/* ---- intact ---- */

/* A tenant's log is never empty (`tayori init` writes its first record):
 * an empty one, head and all, had every record removed. */
static void test_empty_log(void **state)
{
	struct fixture *f = *state;
	verify_fails(f, "empty", NULL);
}

static void test_intact(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;

	append_range(f, 1, N);
	verify_ok(f, N);
	/* Each record: prev MAC | fields | MAC, and the chain links them. */
	v = raw_record(f, 1, &vl);
	{
		uint8_t zero[MAC] = { 0 }, mac1[MAC];
		size_t vl2;
		uint8_t *v2 = raw_record(f, 2, &vl2);
		assert_true(vl > 2 * MAC);
		assert_memory_equal(v, zero, MAC); /* the first record follows nothing */
		memcpy(mac1, v + vl - MAC, MAC);
		assert_memory_equal(v2, mac1, MAC);
		assert_non_null(memmem(v2, vl2, "batch:2", 7));
		free(v2);
	}
	free(v);
	/* Appending goes on from the last record after a reopen. */
	{
		struct error e = { { 0 }, 0 };
		store_close(&f->st);
		assert_int_equal(store_open(f->dir, f->kc, 0, &f->st, &e), 0);
	}
	append_range(f, N + 1, N + 2);
	verify_ok(f, N + 2);
}

static void test_aborted_append_leaves_no_record(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a = { "cli:root", "staff.add", "staff:1", "cli", "" };
	uint64_t seq = 0;

	append_range(f, 1, 2);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, &seq, &e), 0);
	assert_int_equal(seq, 3);
	store_abort(&t);
	/* The change and its record go together: neither is there. */
	verify_ok(f, 2);
	append_range(f, 3, 3);
	verify_ok(f, 3);
	/* NULL fields are stored as empty strings. */
	a = (struct audit_entry){ NULL, NULL, NULL, NULL, NULL };
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, NULL, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
	verify_ok(f, 4);
}

/* ---- tampering ---- */

static void test_changed_field(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;
	uint8_t *p;

	append_range(f, 1, N);
	v = raw_record(f, 3, &vl);
	/* "batch:3" -> "batch:9": a one-byte change inside a text field. */
	p = memmem(v + MAC, vl - 2 * MAC, "batch:3", 7);
	assert_non_null(p);
	p[6] = '9';
	put_record(f, 3, v, vl);
	verify_fails(f, "record 3", "was changed");
	free(v);
}

static void test_changed_time(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;

	append_range(f, 1, N);
	v = raw_record(f, 2, &vl);
	/* The first field is the time: tag 1, length 8, then the u64.  Backdate it. */
	assert_memory_equal(v + MAC, "\0\1\0\0\0\x08", 6);
	v[MAC + 6 + 5] ^= 0x01;
	put_record(f, 2, v, vl);
	verify_fails(f, "record 2", "was changed");
	free(v);
}

static void test_changed_mac(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;

	append_range(f, 1, N);
	/* The record's own MAC. */
	v = raw_record(f, 4, &vl);
	v[vl - 1] ^= 0x80;
	put_record(f, 4, v, vl);
	verify_fails(f, "record 4", NULL);
	v[vl - 1] ^= 0x80;
	put_record(f, 4, v, vl);
	verify_ok(f, N);
	/* Its prev MAC. */
	v[0] ^= 0x80;
	put_record(f, 4, v, vl);
	verify_fails(f, "record 4", NULL);
	free(v);
}

static void test_removed_middle(void **state)
{
	struct fixture *f = *state;

	append_range(f, 1, N);
	del_record(f, 3);
	verify_fails(f, "removed", "record 4");
}

static void test_removed_first(void **state)
{
	struct fixture *f = *state;

	append_range(f, 1, N);
	del_record(f, 1);
	verify_fails(f, "removed", NULL);
}

static void test_inserted_between(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;
	uint8_t key[9];

	append_range(f, 1, N);
	/* A copy of record 2 under a new key that sorts between 2 and 3. */
	v = raw_record(f, 2, &vl);
	be64_put(key, 2);
	key[8] = 0x01;
	raw_put(f, DB_AUDIT, key, sizeof(key), v, vl);
	verify_fails(f, "insert", NULL);
	free(v);
}

static void test_replaced_by_copy(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;

	append_range(f, 1, N);
	/* Record 3's place taken by a copy of record 2 (a replayed event). */
	v = raw_record(f, 2, &vl);
	put_record(f, 3, v, vl);
	verify_fails(f, "record 3", NULL);
	free(v);
}

static void test_appended_copy(void **state)
{
	struct fixture *f = *state;
	size_t vl;
	uint8_t *v;

	append_range(f, 1, N);
	/* A forged record N+1 made by copying record N. */
	v = raw_record(f, N, &vl);
	put_record(f, N + 1, v, vl);
	verify_fails(f, NULL, NULL);
	free(v);
}

static void test_removed_last(void **state)
{
	struct fixture *f = *state;

	append_range(f, 1, N);
	del_record(f, N);
	/* The chain 1..N-1 is fine in itself; only the head can tell. */
	verify_fails(f, "head", NULL);
}

static void test_changed_head(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	const void *v;
	size_t vl;
	uint8_t head[8 + 2 * MAC];

	append_range(f, 1, N);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_get(t, DB_META, "audit_head", 10, &v, &vl, &e), 0);
	assert_int_equal(vl, sizeof(head));
	memcpy(head, v, sizeof(head));
	store_abort(&t);
	assert_int_equal(be64_get(head), N);

	/* The head claims fewer records, to hide a cut-off tail. */
	be64_put(head, N - 1);
	raw_put(f, DB_META, "audit_head", 10, head, sizeof(head));
	verify_fails(f, "head", NULL);
	be64_put(head, N);
	raw_put(f, DB_META, "audit_head", 10, head, sizeof(head));
	verify_ok(f, N);
	/* Its MAC of the last record. */
	head[8] ^= 1;
	raw_put(f, DB_META, "audit_head", 10, head, sizeof(head));
	verify_fails(f, "head", NULL);
	head[8] ^= 1;
	/* Its own MAC. */
	head[sizeof(head) - 1] ^= 1;
	raw_put(f, DB_META, "audit_head", 10, head, sizeof(head));
	verify_fails(f, "head", NULL);
	head[sizeof(head) - 1] ^= 1;
	/* Truncated. */
	raw_put(f, DB_META, "audit_head", 10, head, sizeof(head) - 1);
	verify_fails(f, "head", NULL);
	/* Gone. */
	raw_del(f, DB_META, "audit_head", 10);
	verify_fails(f, "head", NULL);
}

static void test_cut_tail_with_head_removed(void **state)
{
	struct fixture *f = *state;

	append_range(f, 1, N);
	del_record(f, N);
	del_record(f, N - 1);
	raw_del(f, DB_META, "audit_head", 10);
	verify_fails(f, "head", NULL);
}

/* The finding: deleting every record together with meta/audit_head
 * verified as "intact: 0 records". */
static void test_all_removed_with_head(void **state)
{
	struct fixture *f = *state;

	append_range(f, 1, N);
	for (uint64_t i = 1; i <= N; i++)
		del_record(f, i);
	raw_del(f, DB_META, "audit_head", 10);
	verify_fails(f, "empty", NULL);
	/* Nor does a writer go on from nothing. */
	{
		struct store_txn *t = NULL;
		struct error e = { { 0 }, 0 };
		struct audit_entry a = { "system", "x", "", "", "" };
		assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
		assert_int_equal(audit_append(t, &a, NULL, &e), -1);
		assert_non_null(strstr(e.msg, "removed"));
		store_abort(&t);
	}
}

/* Records present but no head: refused, whatever the count. */
static void test_headless(void **state)
{
	struct fixture *f = *state;

	append_range(f, 1, 1);
	verify_ok(f, 1);
	raw_del(f, DB_META, "audit_head", 10);
	verify_fails(f, "head", "missing");
}

static void copy_head(struct fixture *f, uint8_t head[8 + 2 * MAC])
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	const void *v;
	size_t vl;
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_get(t, DB_META, "audit_head", 10, &v, &vl, &e), 0);
	assert_int_equal(vl, 8 + 2 * MAC);
	memcpy(head, v, vl);
	store_abort(&t);
}

/*
 * The finding: delete the newest records and put back the head as it was
 * before them.  Chain and head agree with each other; only the keys
 * process's own count can tell.
 */
static void test_rollback_with_older_head(void **state)
{
	struct fixture *f = *state;
	uint8_t old_head[8 + 2 * MAC];

	append_range(f, 1, N - 2);
	copy_head(f, old_head);
	append_range(f, N - 1, N);
	verify_ok(f, N);
	del_record(f, N);
	del_record(f, N - 1);
	raw_put(f, DB_META, "audit_head", 10, old_head, sizeof(old_head));
	verify_fails(f, "keys process counted 6", "removed");
}

static void test_rollback_newest_only(void **state)
{
	struct fixture *f = *state;
	uint8_t old_head[8 + 2 * MAC];

	append_range(f, 1, N - 1);
	copy_head(f, old_head);
	append_range(f, N, N);
	del_record(f, N);
	raw_put(f, DB_META, "audit_head", 10, old_head, sizeof(old_head));
	verify_fails(f, "counted 6", NULL);
}

/* Two records in one transaction: one commit, both counted. */
static void test_two_records_in_one_txn(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a = { "cli:root", "staff.add", "staff:1", "cli", "" };
	uint64_t s1 = 0, s2 = 0;

	append_range(f, 1, 2);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, &s1, &e), 0);
	assert_int_equal(audit_append(t, &a, &s2, &e), 0);
	assert_int_equal(s1, 3);
	assert_int_equal(s2, 4);
	store_abort(&t);
	verify_ok(f, 2);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, &s1, &e), 0);
	assert_int_equal(audit_append(t, &a, &s2, &e), 0);
	assert_int_equal(s2, 4);
	assert_int_equal(store_commit(&t, &e), 0);
	verify_ok(f, 4);
	append_range(f, 5, 5);
	verify_ok(f, 5);
}

/* Many records in one keys request (the portal's group commit): numbered
 * and chained one after the other; an aborted group leaves nothing; a
 * single append after them in the same transaction follows on; a record
 * removed from the middle of the group is noticed. */
static void test_many_records_in_one_request(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a[AUDIT_MANY_MAX];
	char target[AUDIT_MANY_MAX][32];
	uint64_t first = 0, s = 0;

	for (size_t i = 0; i < AUDIT_MANY_MAX; i++) {
		str_fmt(target[i], sizeof(target[i]), "batch:1/seq:%zu", i + 1);
		a[i] = (struct audit_entry){ "resident", "notice.download", target[i], "portal",
					     "delay=5" };
	}
	append_range(f, 1, 2);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	if (audit_append_many(t, a, AUDIT_MANY_MAX, &first, &e) < 0)
		fail_msg("audit_append_many: %s", e.msg);
	assert_int_equal(first, 3);
	store_abort(&t);
	verify_ok(f, 2);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	if (audit_append_many(t, a, AUDIT_MANY_MAX, &first, &e) < 0)
		fail_msg("audit_append_many: %s", e.msg);
	assert_int_equal(first, 3);
	assert_int_equal(audit_append(t, &a[0], &s, &e), 0);
	assert_int_equal(s, 3 + AUDIT_MANY_MAX);
	assert_int_equal(store_commit(&t, &e), 0);
	verify_ok(f, 3 + AUDIT_MANY_MAX);
	append_range(f, 4 + AUDIT_MANY_MAX, 4 + AUDIT_MANY_MAX);
	verify_ok(f, 4 + AUDIT_MANY_MAX);
	/* Too many at once is refused before anything is asked. */
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append_many(t, a, 0, &first, &e), -1);
	store_abort(&t);
	del_record(f, 30);
	verify_fails(f, NULL, NULL);
}

/*
 * A writer dies after the keys process issued its record but before its
 * transaction committed: nothing reached the store.  The honest log must
 * still verify, and the next writer goes on from where the store ends.
 */
static void test_writer_dies_before_commit(void **state)
{
	struct fixture *f = *state;
	int status = 0;
	pid_t pid;

	append_range(f, 1, 3);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A writer process of its own: its own LMDB environment, the
		 * same keys process. */
		struct store *st = NULL;
		struct store_txn *t = NULL;
		struct error e = { { 0 }, 0 };
		struct audit_entry a = { "system", "batch.store", "batch:9", "", "" };
		uint64_t seq = 0;
		if (store_open(f->dir, f->kc, 0, &st, &e) < 0 || store_begin(st, 1, &t, &e) < 0 ||
		    audit_append(t, &a, &seq, &e) < 0 || seq != 4)
			_exit(2);
		/* Killed mid-transaction. */
		raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	verify_ok(f, 3);
	append_range(f, 4, 5);
	verify_ok(f, 5);
}

/*
 * The keys process dies after issuing a record, before the writer's
 * confirmation: the transaction commits, the confirmation is lost.  The
 * record stays pending in the counter file; the log still verifies, and
 * the next append confirms it.
 */
static void test_keys_dies_before_confirm(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a = { "system", "batch.store", "batch:9", "", "" };
	uint64_t seq = 0;
	int status = 0;

	append_range(f, 1, 3);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, &seq, &e), 0);
	assert_int_equal(seq, 4);
	assert_int_equal(kill(f->pid, SIGKILL), 0);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	/* The commit itself succeeds; only the confirmation fails. */
	assert_int_equal(store_commit(&t, &e), 0);
	/* A new keys process, as the supervisor would start. */
	store_close(&f->st);
	keys_client_free(&f->kc);
	f->pid = -1;
	assert_int_equal(keys_spawn(f->dir, NULL, NULL, &f->kc, &f->pid, &e), 0);
	assert_int_equal(store_open(f->dir, f->kc, 0, &f->st, &e), 0);
	verify_ok(f, 4);
	append_range(f, 5, 5);
	verify_ok(f, 5);
	/* Record 4 is confirmed now: removing the newest record is seen. */
	{
		uint8_t old_head[8 + 2 * MAC];
		copy_head(f, old_head);
		append_range(f, 6, 6);
		del_record(f, 6);
		raw_put(f, DB_META, "audit_head", 10, old_head, sizeof(old_head));
		verify_fails(f, "counted 6", NULL);
	}
}

/* ---- printing ---- */

/* Rough JSON check: strings closed, escapes valid, brackets balanced. */
static int json_rough_ok(const char *s)
{
	char stack[64];
	int depth = 0, in_str = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (in_str) {
			if (c == '\\') {
				s++;
				if (*s == 'u') {
					for (int i = 0; i < 4; i++)
						if (!strchr("0123456789abcdefABCDEF", *++s) || *s == '\0')
							return 0;
				} else if (*s == '\0' || !strchr("\"\\/bfnrt", *s)) {
					return 0;
				}
			} else if (c == '"') {
				in_str = 0;
			} else if (c < 0x20) {
				return 0;
			}
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (depth == (int)sizeof(stack))
				return 0;
			stack[depth++] = (char)c;
		} else if (c == '}' || c == ']') {
			if (depth == 0 || stack[--depth] != (c == '}' ? '{' : '['))
				return 0;
		}
	}
	return depth == 0 && !in_str;
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

static char *print_log(struct fixture *f, uint64_t from, uint64_t limit, int json)
{
	char *out = NULL;
	size_t outlen = 0;
	struct error e = { { 0 }, 0 };
	FILE *mf = open_memstream(&out, &outlen);
	assert_non_null(mf);
	assert_int_equal(audit_print(f->st, from, limit, json, mf, &e), 0);
	assert_int_equal(fclose(mf), 0);
	return out;
}

static void test_print(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a = { "staff:3", "login.fail", "", "127.0.0.1",
				 "reason=\"bad password\"\nline2\\" };
	char *out;

	append_range(f, 1, N);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, NULL, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);

	out = print_log(f, 1, 1000, 1);
	assert_non_null(strstr(out, "\"records\""));
	assert_true(json_rough_ok(out));
	assert_int_equal(count_str(out, "\"seq\":"), N + 1);
	assert_non_null(strstr(out, "\"seq\":1,"));
	assert_non_null(strstr(out, "\"action\":\"batch.approve\""));
	assert_non_null(strstr(out, "\"target\":\"batch:6\""));
	/* Quotes, backslashes and newlines are escaped. */
	assert_non_null(strstr(out, "reason=\\\"bad password\\\""));
	assert_non_null(strstr(out, "\\u000aline2\\\\\""));
	/* The only raw newline is the one ending the object. */
	assert_int_equal(count_str(out, "\n"), 1);
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);

	/* from and limit. */
	out = print_log(f, 3, 2, 1);
	assert_true(json_rough_ok(out));
	assert_int_equal(count_str(out, "\"seq\":"), 2);
	assert_non_null(strstr(out, "\"seq\":3,"));
	assert_non_null(strstr(out, "\"seq\":4,"));
	assert_null(strstr(out, "\"seq\":5,"));
	free(out);

	/* Nothing to print is still a JSON object. */
	out = print_log(f, 100, 10, 1);
	assert_true(json_rough_ok(out));
	assert_non_null(strstr(out, "\"records\":[]"));
	free(out);

	/* Text: one line per record, times in UTC and JST. */
	out = print_log(f, 1, N, 0);
	assert_int_equal(count_str(out, "\n"), N);
	assert_int_equal(count_str(out, "JST"), N);
	assert_int_equal(count_str(out, "batch.approve"), N);
	assert_non_null(strstr(out, "batch:6"));
	free(out);
}

/*
 * The text listing is read by people: a field holding a newline must not
 * start a second line that looks like another (forged) audit record.
 */
static void test_print_text_one_line_per_record(void **state)
{
	struct fixture *f = *state;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a = { "staff:3", "login.fail", "", "127.0.0.1",
				 "x\n     2  2026-01-01T00:00:00Z (2026-01-01 09:00 JST)  cli:root     staff.delete" };
	char *out;
	size_t lines;

	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(audit_append(t, &a, NULL, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
	out = print_log(f, 1, 10, 0);
	lines = count_str(out, "\n");
	free(out);
	assert_int_equal(lines, 1);
}

/* `tayori init` writes the log's first record: a new tenant's log is
 * intact and starts with tenant.init, counted by the keys process. */
static void test_init_writes_genesis(void **state)
{
	char base[] = "/tmp/tayori-test-init-XXXXXX", dir[256];
	char *argv[] = { "init", "-d", dir, NULL };
	struct fixture g;
	struct error e = { { 0 }, 0 };
	struct keys_audit_head h;
	uint64_t count = 0;
	char *out;
	(void)state;

	assert_non_null(mkdtemp(base));
	str_fmt(dir, sizeof(dir), "%s/tenant", base);
	assert_int_equal(cmd_init(3, argv), 0);
	memset(&g, 0, sizeof(g));
	g.dir = dir;
	assert_int_equal(keys_spawn(dir, NULL, NULL, &g.kc, &g.pid, &e), 0);
	assert_int_equal(store_open(dir, g.kc, 0, &g.st, &e), 0);
	if (audit_verify(g.st, &count, &e) < 0)
		fail_msg("a new tenant's log does not verify: %s", e.msg);
	/* tenant.init, then the first admin's staff.add */
	assert_int_equal(count, 2);
	out = print_log(&g, 1, 1, 1);
	assert_non_null(strstr(out, "\"seq\":1,"));
	assert_non_null(strstr(out, "\"action\":\"tenant.init\""));
	free(out);
	assert_int_equal(keys_audit_head(g.kc, &h, &e), 0);
	assert_int_equal(h.committed, 2);
	assert_int_equal(h.pending, 2);
	store_close(&g.st);
	keys_spawn_wait(&g.kc, g.pid);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_records_in_one_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aborted_append_leaves_no_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inserted_between, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_by_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appended_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_tail_with_head_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_removed_with_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_with_older_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_newest_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_records_in_one_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_dies_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_dies_before_confirm, setup, teardown),
		cmocka_unit_test(test_init_writes_genesis),
		cmocka_unit_test_setup_teardown(test_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_text_one_line_per_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
