/*
 * test_staff.c — unit tests for lib/staff.c and lib/passwd.c: permission
 * lists and role presets, login and e-mail validation, accounts in a real
 * store (sealed records, HMAC indexes, duplicates refused, updates audited,
 * listing order), Argon2id password hashes (RFC 9106), password rules
 * (NIST SP 800-63B counts characters, not bytes) and generated passwords.
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
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/audit.h"
#include "cmd/cli.h"
#include "keys/keys.h"
#include "lib/role.h"
#include "lib/passwd.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "lib/util.h"

/* OWASP's cheapest floor row (m = 7 MiB, t = 5): as fast as the 8 MiB,
 * 1-pass setting these tests used before, and a setting tayori accepts. */
static const struct passwd_params fast = { 7168, 5 };
static const struct staff_actor root = { "cli:root", "cli" };

#include "tenant_fixture.h"
#include "email_probes.h"

static void make_staff(struct staff *s, const char *login, const char *email, const char *name,
		       const char *role)
{
	memset(s, 0, sizeof(*s));
	str_copy(s->login, login, sizeof(s->login));
	str_copy(s->email, email, sizeof(s->email));
	str_copy(s->name, name, sizeof(s->name));
	str_copy(s->role, role, sizeof(s->role));
	assert_int_equal(staff_role_preset(role, &s->perms), 0);
	str_copy(s->pwhash, "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", sizeof(s->pwhash));
	s->must_change = 1;
}

static void add_ok(struct fixture *f, struct staff *s)
{
	struct error e = { { 0 }, 0 };
	if (staff_add(f->st, s, &root, &e) < 0)
		fail_msg("staff_add %s: %s", s->login, e.msg);
}

static uint64_t audit_count(struct fixture *f)
{
	struct error e = { { 0 }, 0 };
	uint64_t n = 0;
	if (audit_verify(f->st, &n, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	return n;
}

/* ---- permissions and roles ---- */

static void test_perms_round_trip(void **state)
{
	char text[160];
	uint32_t bits;
	struct error e = { { 0 }, 0 };
	(void)state;

	for (uint32_t p = 0; p <= PERM_ALL; p++) {
		staff_perms_format(p, text, sizeof(text));
		bits = 0xdead;
		if (staff_perms_parse(text, &bits, &e) < 0)
			fail_msg("\"%s\" (from 0x%x) does not parse: %s", text, p, e.msg);
		assert_int_equal(bits, p);
	}
	staff_perms_format(PERM_ALL, text, sizeof(text));
	assert_string_equal(text, "view,submit,approve,send,remind,export,manage-users,audit");
	staff_perms_format(0, text, sizeof(text));
	assert_string_equal(text, "");
	assert_int_equal(staff_perms_parse("view,submit", &bits, &e), 0);
	assert_int_equal(bits, PERM_VIEW | PERM_SUBMIT);
	assert_int_equal(staff_perms_parse("audit,view", &bits, &e), 0);
	assert_int_equal(bits, PERM_AUDIT | PERM_VIEW);
	assert_int_equal(staff_perms_parse("view,view", &bits, &e), 0);
	assert_int_equal(bits, PERM_VIEW);
	assert_int_equal(staff_perms_parse("", &bits, &e), 0);
	assert_int_equal(bits, 0);
}

static void test_perms_unknown(void **state)
{
	uint32_t bits = 0x55;
	struct error e = { { 0 }, 0 };
	static const char *const bad[] = { "view,fly", "View", " view", "view ,submit", "view,,submit",
					   "manage_users", "all", "承認" };
	(void)state;

	assert_int_equal(staff_perms_parse("view,fly", &bits, &e), -1);
	assert_non_null(strstr(e.msg, "unknown permission"));
	assert_non_null(strstr(e.msg, "\"fly\""));
	/* The message lists what is known. */
	assert_non_null(strstr(e.msg, "manage-users"));
	/* A refused list leaves the output alone. */
	assert_int_equal(bits, 0x55);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (staff_perms_parse(bad[i], &bits, &e) != -1)
			fail_msg("permission list \"%s\" was accepted", bad[i]);
}

static void test_perms_format_small_buffer(void **state)
{
	char text[11];
	uint32_t bits;
	struct error e = { { 0 }, 0 };
	(void)state;
	/* "view,submit" needs 12 bytes.  A short buffer may drop names but
	 * must not hold half of one ("view,submi"), which would not parse. */
	staff_perms_format(PERM_VIEW | PERM_SUBMIT, text, sizeof(text));
	assert_int_equal(staff_perms_parse(text, &bits, &e), 0);
	assert_int_equal(bits & ~(uint32_t)(PERM_VIEW | PERM_SUBMIT), 0);
}

static void test_role_presets(void **state)
{
	uint32_t p = 0;
	(void)state;
	assert_int_equal(staff_role_preset("admin", &p), 0);
	assert_int_equal(p, PERM_ALL);
	assert_int_equal(staff_role_preset("clerk", &p), 0);
	assert_true(p & PERM_VIEW);
	assert_true(p & PERM_SUBMIT);
	assert_false(p & PERM_APPROVE); /* a clerk cannot approve their own batch */
	assert_false(p & PERM_SEND);
	assert_false(p & PERM_MANAGE_USERS);
	assert_false(p & PERM_AUDIT);
	assert_int_equal(staff_role_preset("approver", &p), 0);
	assert_true(p & PERM_APPROVE);
	assert_true(p & PERM_SEND);
	assert_false(p & PERM_MANAGE_USERS);
	assert_false(p & PERM_AUDIT);
	p = 0x77;
	assert_int_equal(staff_role_preset("root", &p), -1);
	assert_int_equal(staff_role_preset("Admin", &p), -1);
	assert_int_equal(staff_role_preset("", &p), -1);
	assert_int_equal(p, 0x77);
}

/* ---- validation ---- */

static void test_login_valid(void **state)
{
	struct error e = { { 0 }, 0 };
	char longest[STAFF_LOGIN_MAX + 2];
	static const char *const good[] = { "alice", "a.b_c-d", "x1", "1x", "sato_h" };
	static const char *const bad[] = { "", "Alice", "al ice", "alice\r\n", "alice\n", "<alice>",
					   "-alice", ".alice", "アリス", "al@ice", "al/ice", "al\tice",
					   "alice\"", "al;ice" };
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (staff_login_valid(good[i], &e) != 0)
			fail_msg("login \"%s\" refused: %s", good[i], e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e.msg[0] = '\0';
		if (staff_login_valid(bad[i], &e) != -1)
			fail_msg("login \"%s\" accepted", bad[i]);
		assert_true(e.msg[0] != '\0');
	}
	memset(longest, 'a', STAFF_LOGIN_MAX);
	longest[STAFF_LOGIN_MAX] = '\0';
	assert_int_equal(staff_login_valid(longest, &e), 0);
	longest[STAFF_LOGIN_MAX] = 'a';
	longest[STAFF_LOGIN_MAX + 1] = '\0';
	assert_int_equal(staff_login_valid(longest, &e), -1);
}

/* "x@" + labels of 50 letters + "bbb...jp", exactly len characters (len >= 60). */
static void make_long_address(char *out, size_t len)
{
	size_t o = 0;
	memcpy(out, "x@", 2);
	o = 2;
	while (len - o > 60) {
		memset(out + o, 'a', 50);
		out[o + 50] = '.';
		o += 51;
	}
	memset(out + o, 'b', len - o - 3);
	memcpy(out + len - 3, ".jp", 3);
	out[len] = '\0';
}

static void test_email_valid(void **state)
{
	struct error e = { { 0 }, 0 };
	char big[STAFF_EMAIL_MAX + 2];
	static const char *const good[] = { "alice@example.jp", "A.Sato+tayori@sub.example.co.jp",
					    "x@y.jp", "o'brien@example.jp" };
	static const char *const bad[] = {
		"", "alice", "@example.jp", "alice@", "alice@example", "a@b@example.jp",
		"alice@.example.jp", "alice@example.jp.", "alice @example.jp", "alice@exa mple.jp",
		"alice@example.jp\r\nBcc: victim@example.jp", "alice@example.jp\n", "<alice@example.jp>",
		"Alice <alice@example.jp>", "alice(x)@example.jp", "alice,bob@example.jp",
		"alice;@example.jp", "\"alice\"@example.jp", "ａlice@example.jp", "区民@example.jp",
		"alice@example.jp\t", "alice\x7f@example.jp",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (staff_email_valid(good[i], &e) != 0)
			fail_msg("address \"%s\" refused: %s", good[i], e.msg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		e.msg[0] = '\0';
		if (staff_email_valid(bad[i], &e) != -1)
			fail_msg("address \"%s\" accepted", bad[i]);
		assert_true(e.msg[0] != '\0');
	}
	/* 254 characters are allowed, 255 are not (RFC 5321 path limit). */
	make_long_address(big, STAFF_EMAIL_MAX);
	assert_int_equal(strlen(big), STAFF_EMAIL_MAX);
	assert_int_equal(staff_email_valid(big, &e), 0);
	make_long_address(big, STAFF_EMAIL_MAX + 1);
	assert_int_equal(strlen(big), STAFF_EMAIL_MAX + 1);
	assert_int_equal(staff_email_valid(big, &e), -1);
}

/* ---- accounts ---- */

static void test_add_and_find(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct staff s, bob, got;

	make_staff(&s, "sato", "Hanako.Sato@Example.JP", "佐藤 花子", "approver");
	add_ok(f, &s);
	assert_int_equal(s.id, 1);
	assert_true(s.created > 1700000000);
	make_staff(&bob, "bob", "bob@example.jp", "Bob", "clerk");
	add_ok(f, &bob);
	assert_int_equal(bob.id, 2);

	memset(&got, 0, sizeof(got));
	assert_int_equal(staff_find_login(f->st, "sato", &got, &e), 0);
	assert_int_equal(got.id, 1);
	assert_string_equal(got.login, "sato");
	assert_string_equal(got.email, "Hanako.Sato@Example.JP");
	assert_string_equal(got.name, "佐藤 花子");
	assert_string_equal(got.role, "approver");
	assert_string_equal(got.pwhash, s.pwhash);
	assert_int_equal(got.perms, s.perms);
	assert_int_equal(got.must_change, 1);
	assert_int_equal(got.disabled, 0);
	assert_int_equal(got.created, s.created);

	/* By address, in any case. */
	memset(&got, 0, sizeof(got));
	assert_int_equal(staff_find_email(f->st, "hanako.sato@example.jp", &got, &e), 0);
	assert_int_equal(got.id, 1);
	assert_int_equal(staff_find_email(f->st, "HANAKO.SATO@EXAMPLE.JP", &got, &e), 0);
	assert_int_equal(got.id, 1);
	assert_int_equal(staff_find_email(f->st, "bob@example.jp", &got, &e), 0);
	assert_string_equal(got.login, "bob");

	/* Not there. */
	assert_int_equal(staff_find_login(f->st, "nobody", &got, &e), 1);
	assert_int_equal(staff_find_login(f->st, "Sato", &got, &e), 1);
	assert_int_equal(staff_find_email(f->st, "nobody@example.jp", &got, &e), 1);
	/* A login is not found as an address, nor the other way round. */
	assert_int_equal(staff_find_email(f->st, "sato", &got, &e), 1);
	assert_int_equal(staff_find_login(f->st, "bob@example.jp", &got, &e), 1);

	/* By id (the dashboard's sessions name the account by it). */
	memset(&got, 0, sizeof(got));
	assert_int_equal(staff_get(f->st, 2, &got, &e), 0);
	assert_string_equal(got.login, "bob");
	assert_int_equal(got.id, 2);
	assert_int_equal(got.perms, bob.perms);
	assert_int_equal(staff_get(f->st, 3, &got, &e), 1);
	assert_int_equal(staff_get(f->st, 0, &got, &e), 1);

	/* Each add wrote one audit record. */
	assert_int_equal(audit_count(f), 2);
}

static void test_record_is_sealed(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl;
	int n = 0;
	struct staff s;

	make_staff(&s, "tanaka", "ichiro.tanaka@example.jp", "田中 一郎", "admin");
	add_ok(f, &s);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_iter_open(t, DB_STAFF, NULL, 0, &it, &e), 0);
	while (store_iter_next(it, &k, &kl, &v, &vl) == 0) {
		assert_null(memmem(v, vl, "tanaka", 6));
		assert_null(memmem(v, vl, "田中", strlen("田中")));
		assert_null(memmem(v, vl, "$argon2id$", 10));
		n++;
	}
	assert_int_equal(n, 1);
	store_iter_close(&it);
	/* The index keys are MACs, not the login or address. */
	assert_int_equal(store_iter_open(t, DB_STAFF_IDX, NULL, 0, &it, &e), 0);
	n = 0;
	while (store_iter_next(it, &k, &kl, &v, &vl) == 0) {
		assert_int_equal(kl, 32);
		assert_null(memmem(k, kl, "tanaka", 6));
		assert_int_equal(vl, 8);
		assert_int_equal(be64_get(v), s.id);
		n++;
	}
	assert_int_equal(n, 2);
	store_iter_close(&it);
	store_abort(&t);
}

static void test_duplicates_refused(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct staff a, b, got;
	struct staff *list = NULL;
	size_t n = 0;

	make_staff(&a, "sato", "hanako.sato@example.jp", "佐藤 花子", "clerk");
	add_ok(f, &a);

	/* The same login with another address. */
	make_staff(&b, "sato", "other@example.jp", "別の佐藤", "admin");
	assert_int_equal(staff_add(f->st, &b, &root, &e), -1);
	assert_non_null(strstr(e.msg, "taken"));
	/* The same address, in another case, with another login. */
	make_staff(&b, "sato2", "HANAKO.Sato@example.JP", "別の佐藤", "admin");
	assert_int_equal(staff_add(f->st, &b, &root, &e), -1);
	assert_non_null(strstr(e.msg, "already belongs"));

	/* Nothing of the refused accounts was stored or audited. */
	assert_int_equal(staff_list(f->st, &list, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].login, "sato");
	free(list);
	assert_int_equal(staff_find_login(f->st, "sato2", &got, &e), 1);
	assert_int_equal(staff_find_email(f->st, "other@example.jp", &got, &e), 1);
	assert_int_equal(staff_find_login(f->st, "sato", &got, &e), 0);
	assert_string_equal(got.role, "clerk");
	assert_int_equal(audit_count(f), 1);

	/* Invalid input is refused before anything is written. */
	make_staff(&b, "Bad Login", "x@example.jp", "x", "clerk");
	assert_int_equal(staff_add(f->st, &b, &root, &e), -1);
	make_staff(&b, "good", "x@example.jp\r\nBcc: y@example.jp", "x", "clerk");
	assert_int_equal(staff_add(f->st, &b, &root, &e), -1);
	assert_int_equal(audit_count(f), 1);
}

static void test_update(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct staff s, got;
	uint64_t before;

	make_staff(&s, "sato", "hanako.sato@example.jp", "佐藤 花子", "clerk");
	add_ok(f, &s);
	before = audit_count(f);

	assert_int_equal(staff_find_login(f->st, "sato", &got, &e), 0);
	got.perms |= PERM_APPROVE | PERM_AUDIT;
	got.must_change = 0;
	got.disabled = 1;
	if (staff_update(f->st, &got, &root, "staff.role", "perms=+approve,+audit", &e) < 0)
		fail_msg("staff_update: %s", e.msg);
	assert_int_equal(audit_count(f), before + 1);

	assert_int_equal(staff_find_login(f->st, "sato", &got, &e), 0);
	assert_int_equal(got.perms, s.perms | PERM_APPROVE | PERM_AUDIT);
	assert_int_equal(got.must_change, 0);
	assert_int_equal(got.disabled, 1);
	assert_true(got.updated >= got.created);
	assert_int_equal(staff_find_email(f->st, "hanako.sato@example.jp", &got, &e), 0);
	assert_int_equal(got.disabled, 1);

	/* The audit record says what happened, to whom, by whom. */
	{
		char *out = NULL;
		size_t outlen = 0;
		FILE *mf = open_memstream(&out, &outlen);
		assert_int_equal(audit_print(f->st, before + 1, 1, 1, mf, &e), 0);
		fclose(mf);
		assert_non_null(strstr(out, "\"action\":\"staff.role\""));
		assert_non_null(strstr(out, "\"target\":\"staff:1\""));
		assert_non_null(strstr(out, "\"actor\":\"cli:root\""));
		assert_non_null(strstr(out, "perms=+approve,+audit"));
		free(out);
	}

	/* An account that does not exist is not created by an update. */
	got.id = 99;
	assert_int_equal(staff_update(f->st, &got, &root, "staff.role", "", &e), -1);
	assert_int_equal(audit_count(f), before + 1);
	{
		struct staff *list = NULL;
		size_t n = 0;
		assert_int_equal(staff_list(f->st, &list, &n, &e), 0);
		assert_int_equal(n, 1);
		free(list);
	}
}

/*
 * staff_update rewrites the whole record, address included.  Either it
 * refuses a changed login/address, or it moves the index with it: what it
 * must not do is store the new address while lookups still go by the old.
 */
static void test_update_changed_email_consistent(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct staff s, got;
	int r;

	make_staff(&s, "sato", "old.address@example.jp", "佐藤 花子", "clerk");
	add_ok(f, &s);
	assert_int_equal(staff_find_login(f->st, "sato", &got, &e), 0);
	str_copy(got.email, "new.address@example.jp", sizeof(got.email));
	r = staff_update(f->st, &got, &root, "staff.email", "", &e);
	if (r == 0) {
		struct staff by;
		assert_int_equal(staff_find_email(f->st, "new.address@example.jp", &by, &e), 0);
		assert_int_equal(by.id, s.id);
		assert_int_equal(staff_find_email(f->st, "old.address@example.jp", &by, &e), 1);
	} else {
		assert_int_equal(staff_find_email(f->st, "old.address@example.jp", &got, &e), 0);
		assert_string_equal(got.email, "old.address@example.jp");
	}
}

static void test_list_order(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct staff a, b, c;
	struct staff *list = NULL;
	size_t n = 99;

	assert_int_equal(staff_list(f->st, &list, &n, &e), 0);
	assert_int_equal(n, 0);
	free(list);
	list = NULL;

	make_staff(&a, "zeta", "zeta@example.jp", "Z", "clerk");
	make_staff(&b, "alpha", "alpha@example.jp", "A", "admin");
	make_staff(&c, "mid", "mid@example.jp", "M", "approver");
	add_ok(f, &a);
	add_ok(f, &b);
	add_ok(f, &c);
	assert_int_equal(staff_list(f->st, &list, &n, &e), 0);
	assert_int_equal(n, 3);
	/* Id order, which is creation order, not name order. */
	assert_int_equal(list[0].id, 1);
	assert_string_equal(list[0].login, "zeta");
	assert_int_equal(list[1].id, 2);
	assert_string_equal(list[1].login, "alpha");
	assert_string_equal(list[1].role, "admin");
	assert_int_equal(list[1].perms, PERM_ALL);
	assert_int_equal(list[2].id, 3);
	assert_string_equal(list[2].login, "mid");
	assert_string_equal(list[2].email, "mid@example.jp");
	free(list);
}

/* ---- passwords ---- */

static void test_passwd_hash_verify(void **state)
{
	struct error e = { { 0 }, 0 };
	char h1[PASSWD_HASH_MAX], h2[PASSWD_HASH_MAX];
	const char *pw = "correct horse battery 練馬";
	(void)state;

	assert_int_equal(passwd_hash(pw, &fast, h1, &e), 0);
	assert_int_equal(strncmp(h1, "$argon2id$v=19$m=7168,t=5,p=1$", 30), 0);
	assert_int_equal(passwd_verify(h1, pw), 0);
	assert_int_equal(passwd_verify(h1, "correct horse battery 練"), -1);
	assert_int_equal(passwd_verify(h1, "Correct horse battery 練馬"), -1);
	assert_int_equal(passwd_verify(h1, ""), -1);
	/* A fresh salt each time. */
	assert_int_equal(passwd_hash(pw, &fast, h2, &e), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(passwd_verify(h2, pw), 0);
	/* The encoded hash does not hold the password. */
	assert_null(strstr(h1, "horse"));

	/* A damaged hash never verifies. */
	{
		char bad[PASSWD_HASH_MAX];
		size_t n = strlen(h1);
		str_copy(bad, h1, sizeof(bad));
		bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
		assert_int_equal(passwd_verify(bad, pw), -1);
		str_copy(bad, h1, sizeof(bad));
		bad[n - 30] = bad[n - 30] == 'A' ? 'B' : 'A';
		assert_int_equal(passwd_verify(bad, pw), -1);
	}
	/* Only Argon2id is accepted, and never an empty or foreign string. */
	assert_int_equal(passwd_verify(h1 + 1, pw), -1);
	assert_int_equal(passwd_verify("", pw), -1);
	assert_int_equal(passwd_verify("$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$aGFzaA", pw), -1);
	assert_int_equal(passwd_verify("plain-text-password", "plain-text-password"), -1);
}

/* Argon2 settings below OWASP's floor are refused, at hashing time too. */
static void test_passwd_owasp_floor(void **state)
{
	static const struct passwd_params rows[] = {
		{ 47104, 1 }, { 19456, 2 }, { 12288, 3 }, { 9216, 4 }, { 7168, 5 }, { 7168, 10 },
	};
	struct error e = { { 0 }, 0 };
	char h[PASSWD_HASH_MAX];
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct passwd_params below = { rows[i].memory_kib - 1, rows[i].iterations };
		if (passwd_params_check(&rows[i], &e) < 0)
			fail_msg("m=%u t=%u refused: %s", rows[i].memory_kib, rows[i].iterations, e.msg);
		e.msg[0] = '\0';
		assert_int_equal(passwd_params_check(&below, &e), -1);
		assert_non_null(strstr(e.msg, "argon2_memory_kib"));
		assert_non_null(strstr(e.msg, "OWASP"));
	}
	/* More memory with fewer passes, or the reverse, is fine when a row is met. */
	assert_int_equal(passwd_params_check(&(struct passwd_params){ 65536, 1 }, &e), 0);
	assert_int_equal(passwd_params_check(&(struct passwd_params){ 19456, 9 }, &e), 0);
	/* The finding: m = 8 MiB, t = 1 was accepted. */
	e.msg[0] = '\0';
	h[0] = '\0';
	assert_int_equal(passwd_hash("correct horse battery", &(struct passwd_params){ 8192, 1 }, h, &e),
			 -1);
	assert_non_null(strstr(e.msg, "argon2_memory_kib = 8192 with argon2_iterations = 1"));
	assert_int_equal(h[0], '\0');
	assert_int_equal(passwd_params_check(&(struct passwd_params){ 1048576, 0 }, &e), -1);
	assert_non_null(strstr(e.msg, "argon2_iterations"));
}

static void test_passwd_acceptable(void **state)
{
	struct error e = { { 0 }, 0 };
	char s[PASSWD_MAX_LEN + 2];
	(void)state;

	assert_int_equal(passwd_acceptable("123456789", &e), -1);
	assert_non_null(strstr(e.msg, "short"));
	assert_int_equal(passwd_acceptable("1234567890", &e), 0);
	assert_int_equal(passwd_acceptable("", &e), -1);
	memset(s, 'x', PASSWD_MAX_LEN);
	s[PASSWD_MAX_LEN] = '\0';
	assert_int_equal(passwd_acceptable(s, &e), 0);
	s[PASSWD_MAX_LEN] = 'x';
	s[PASSWD_MAX_LEN + 1] = '\0';
	assert_int_equal(passwd_acceptable(s, &e), -1);
	assert_non_null(strstr(e.msg, "long"));
	/* Control characters are refused; spaces and non-ASCII are fine. */
	assert_int_equal(passwd_acceptable("abcde\tfghij", &e), -1);
	assert_int_equal(passwd_acceptable("abcdefghij\n", &e), -1);
	assert_int_equal(passwd_acceptable("abcde\x7f" "fghij", &e), -1);
	assert_int_equal(passwd_acceptable("abcde\x1b[0mfghij", &e), -1);
	assert_int_equal(passwd_acceptable("a few words here", &e), 0);
	assert_int_equal(passwd_acceptable("にほんごのぱすわーどです", &e), 0);
}

static void test_passwd_acceptable_counts_characters(void **state)
{
	struct error e = { { 0 }, 0 };
	(void)state;
	/* "パスワード" is 5 characters in 15 bytes: too short for a
	 * 10-character minimum (NIST SP 800-63B 5.1.1.2 counts code points). */
	assert_int_equal(passwd_acceptable("パスワード", &e), -1);
	/* 10 characters in 30 bytes is long enough. */
	assert_int_equal(passwd_acceptable("パスワードパスワード", &e), 0);
}

static void test_passwd_generate(void **state)
{
	char pw[100][20];
	char small[19];
	struct error e = { { 0 }, 0 };
	(void)state;

	for (int i = 0; i < 100; i++) {
		assert_int_equal(passwd_generate(pw[i], sizeof(pw[i])), 0);
		assert_int_equal(strlen(pw[i]), 19);
		for (int j = 0; j < 19; j++) {
			char c = pw[i][j];
			if (j % 5 == 4) {
				assert_int_equal(c, '-');
				continue;
			}
			assert_true((c >= 'a' && c <= 'z') || (c >= '2' && c <= '9'));
			/* No look-alikes. */
			assert_null(strchr("0O1lI", c));
		}
		/* A generated password passes the rules it will be checked against. */
		assert_int_equal(passwd_acceptable(pw[i], &e), 0);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(pw[i], pw[k]);
	}
	assert_int_equal(passwd_generate(small, sizeof(small)), -1);
}

static void test_passwd_read_env(void **state)
{
	struct error e = { { 0 }, 0 };
	char out[64], tiny[4];
	(void)state;
	setenv("TAYORI_TEST_PW", "from-the-environment", 1);
	assert_int_equal(passwd_read("TAYORI_TEST_PW", "Password: ", 1, out, sizeof(out), &e), 0);
	assert_string_equal(out, "from-the-environment");
	assert_int_equal(passwd_read("TAYORI_TEST_PW", "Password: ", 0, tiny, sizeof(tiny), &e), -1);
	unsetenv("TAYORI_TEST_PW");
	assert_int_equal(passwd_read("TAYORI_TEST_PW", "Password: ", 0, out, sizeof(out), &e), -1);
	assert_non_null(strstr(e.msg, "TAYORI_TEST_PW"));
}

/* A keys process serving one channel with role r's permissions, as
 * `tayori run` grants them, and the store opened through it. */
static struct store *open_as(struct fixture *f, int r, struct keys_client **kc, pid_t *pid)
{
	struct error e = { { 0 }, 0 };
	struct store *st = NULL;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		struct keys_state *ks = NULL;
		close(sv[0]);
		if (keys_state_load(f->dir, NULL, NULL, &ks, &e) < 0)
			_exit(2);
		keys_serve(ks, sv[1], supervisor_keys_perms(r));
		keys_state_free(&ks);
		_exit(0);
	}
	close(sv[1]);
	*kc = keys_client_new(sv[0]);
	if (store_open(f->dir, *kc, 0, &st, &e) < 0)
		fail_msg("store_open as %s: %s", role_name(r), e.msg);
	return st;
}

static void close_as(struct store **st, struct keys_client **kc, pid_t pid)
{
	store_close(st);
	keys_client_free(kc);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/*
 * Staff records through each role's real permissions: the portal (staff
 * dashboard logins, a member's own password change and the admins' users
 * page) reads and writes them; the gateway (intake senders) only reads
 * them, so a compromised gateway or mailer cannot forge an admin's
 * account; the mailer cannot even read them.
 */
static void test_staff_records_per_role(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct keys_client *kc = NULL;
	struct store *st;
	struct staff s, got, forged, added;
	pid_t pid;

	make_staff(&s, "sato", "sato@example.jp", "佐藤", "admin");
	add_ok(f, &s);
	/* One LMDB environment per process at a time. */
	store_close(&f->st);

	st = open_as(f, ROLE_PORTAL, &kc, &pid);
	assert_int_equal(staff_find_login(st, "sato", &got, &e), 0);
	assert_string_equal(got.email, "sato@example.jp");
	make_staff(&added, "kato", "kato@example.jp", "加藤", "clerk");
	if (staff_add(st, &added, &root, &e) < 0)
		fail_msg("the portal adding an account: %s", e.msg);
	got.perms = PERM_VIEW; /* a changed account (say new permissions) */
	if (staff_update(st, &got, &root, "staff.role", "", &e) < 0)
		fail_msg("the portal changing an account: %s", e.msg);
	/* The dashboard's "verify" button: the same check as the command
	 * line's, with yes-or-no answers. */
	{
		uint64_t count = 0;
		if (audit_verify(st, &count, &e) < 0)
			fail_msg("the portal verifying the audit chain: %s", e.msg);
		assert_true(count >= 3);
	}
	close_as(&st, &kc, pid);

	make_staff(&forged, "mallory", "m@example.jp", "M", "admin");
	st = open_as(f, ROLE_GATEWAY, &kc, &pid);
	assert_int_equal(staff_find_email(st, "sato@example.jp", &got, &e), 0);
	assert_string_equal(got.login, "sato");
	assert_int_equal(staff_add(st, &forged, &root, &e), -1);
	close_as(&st, &kc, pid);
	st = open_as(f, ROLE_GATEWAY, &kc, &pid);
	{
		uint64_t count = 0;
		assert_int_equal(audit_verify(st, &count, &e), -1); /* no verify permission */
	}
	close_as(&st, &kc, pid);
	st = open_as(f, ROLE_GATEWAY, &kc, &pid);
	got.perms = PERM_ALL;
	assert_int_equal(staff_update(st, &got, &root, "staff.role", "", &e), -1);
	close_as(&st, &kc, pid);

	st = open_as(f, ROLE_MAILER, &kc, &pid);
	assert_int_equal(staff_find_login(st, "sato", &got, &e), -1);
	close_as(&st, &kc, pid);
	st = open_as(f, ROLE_MAILER, &kc, &pid);
	assert_int_equal(staff_add(st, &forged, &root, &e), -1);
	close_as(&st, &kc, pid);

	assert_int_equal(store_open(f->dir, f->kc, 0, &f->st, &e), 0);
	/* Nothing was added or changed by the refused attempts. */
	assert_int_equal(staff_find_login(f->st, "mallory", &got, &e), 1);
	assert_int_equal(staff_find_login(f->st, "kato", &got, &e), 0);
	assert_int_equal(staff_find_login(f->st, "sato", &got, &e), 0);
	assert_int_equal(got.perms, PERM_VIEW);
}

/* The shared probe table, through this caller: refusals say why. */
static void test_email_probes(void **state)
{
	int wrong = 0;
	(void)state;
	for (size_t i = 0; i < EMAIL_PROBES_N; i++) {
		const struct email_probe *p = &email_probes[i];
		struct error e = { { 0 }, 0 };
		int rc = staff_email_valid(p->addr, &e);
		if (rc != (p->ok ? 0 : -1) || (!p->ok && e.msg[0] == '\0')) {
			print_error("%s \"%s\" (%s)\n", p->ok ? "refused" : "accepted", p->addr, p->why);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perms_round_trip),
		cmocka_unit_test(test_perms_unknown),
		cmocka_unit_test(test_perms_format_small_buffer),
		cmocka_unit_test(test_role_presets),
		cmocka_unit_test(test_login_valid),
		cmocka_unit_test(test_email_valid),
		cmocka_unit_test(test_email_probes),
		cmocka_unit_test_setup_teardown(test_add_and_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_is_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_changed_email_consistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_order, setup, teardown),
		cmocka_unit_test(test_passwd_hash_verify),
		cmocka_unit_test(test_passwd_owasp_floor),
		cmocka_unit_test_setup_teardown(test_staff_records_per_role, setup, teardown),
		cmocka_unit_test(test_passwd_acceptable),
		cmocka_unit_test(test_passwd_acceptable_counts_characters),
		cmocka_unit_test(test_passwd_generate),
		cmocka_unit_test(test_passwd_read_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
