/*
 * test_verp.c — unit tests of the VERP return path's MAC (mailer/verp.c)
 * on real tenants with real keys processes: an address made checks valid
 * (also after a mail system upper-cases it, and read back out of a
 * delivery status notification by the bounce classifier); a changed
 * batch, sequence or MAC, or a MAC made by another tenant, does not; the
 * largest batch and sequence fit RFC 5321's 64-octet local part; and only
 * the mailer's and the command line's keys channels may compute the "verp"
 * index kind (the gateway's and the portal's are refused, and their
 * channel closed).  Runs as a cmocka test binary.
 *
 * `test_verp --make DIR BATCH SEQ DOMAIN` instead prints the return path
 * tenant DIR's keys process makes, for the integration test of `tayori
 * bounce parse` (the tayori command itself makes none).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "lib/keys_client.h"
#include "lib/role.h"
#include "mailer/bounce.h"
#include "mailer/verp.h"
#include "tenant_fixture.h"

#define DOMAIN "ward.example.jp"

static void make(struct fixture *f, uint64_t batch, uint32_t seq, char *out, size_t n)
{
	struct error e = { { 0 }, 0 };
	if (verp_address(f->kc, batch, seq, DOMAIN, out, n, &e) < 0)
		fail_msg("verp_address(%" PRIu64 ", %" PRIu32 "): %s", batch, seq, e.msg);
}

/* Parse addr as bounce.h does and ask the keys process: 1 valid, 0 not. */
static int check(struct keys_client *kc, const char *addr)
{
	struct bounce_verp v;
	struct error e = { { 0 }, 0 };
	int valid = -1;
	memset(&v, 0, sizeof(v));
	bounce_verp_parse(addr, &v);
	if (verp_check(kc, &v, &valid, &e) < 0)
		fail_msg("verp_check(%s): %s", addr, e.msg);
	assert_true(valid == 0 || valid == 1);
	return valid;
}

/* A chunk's return paths made in one keys request are the ones made one by
 * one, each valid; a chunk with one out of range makes none. */
static void test_many(void **state)
{
	struct fixture *f = *state;
	enum { N = 70 }; /* more than one KEYS_BATCH */
	uint64_t b[N];
	uint32_t s[N];
	char (*out)[VERP_ADDR_MAX + 1] = calloc(N, sizeof(*out));
	char one[VERP_ADDR_MAX + 1];
	struct error e = { { 0 }, 0 };

	assert_non_null(out);
	for (size_t i = 0; i < N; i++) {
		b[i] = 3 + i % 2;
		s[i] = (uint32_t)(i * 7919 + 1);
	}
	assert_int_equal(verp_addresses(f->kc, N, b, s, DOMAIN, out, &e), 0);
	for (size_t i = 0; i < N; i++) {
		make(f, b[i], s[i], one, sizeof(one));
		assert_string_equal(out[i], one);
		assert_int_equal(check(f->kc, out[i]), 1);
	}
	s[5] = 0;
	assert_int_equal(verp_addresses(f->kc, N, b, s, DOMAIN, out, &e), -1);
	free(out);
}

static void test_made_is_valid(void **state)
{
	struct fixture *f = *state;
	char a[EMAIL_MAX + 1], b[EMAIL_MAX + 1], up[EMAIL_MAX + 1];
	struct bounce_verp v;

	make(f, 42, 7, a, sizeof(a));
	assert_true(strncmp(a, "bounce+42-7-", 12) == 0);
	assert_true(email_valid(a));
	memset(&v, 0, sizeof(v));
	assert_int_equal(bounce_verp_parse(a, &v), 1);
	assert_true(v.batch == 42 && v.seq == 7);
	assert_int_equal(strlen(v.mac), VERP_MAC_LEN);
	for (const char *p = v.mac; *p != '\0'; p++)
		assert_true((*p >= 'a' && *p <= 'z') || (*p >= '2' && *p <= '7'));
	assert_int_equal(check(f->kc, a), 1);
	/* The same values give the same address; others a different MAC. */
	make(f, 42, 7, b, sizeof(b));
	assert_string_equal(a, b);
	make(f, 42, 8, b, sizeof(b));
	assert_string_not_equal(strrchr(a, '-'), strrchr(b, '-'));
	/* A mail system that upper-cases the local part changes nothing. */
	for (size_t i = 0; a[i] != '\0'; i++)
		up[i] = (char)toupper((unsigned char)a[i]);
	up[strlen(a)] = '\0';
	assert_int_equal(check(f->kc, up), 1);
}

static void test_changed_is_invalid(void **state)
{
	struct fixture *f = *state;
	char a[EMAIL_MAX + 1], forged[EMAIL_MAX + 1 + 8];
	const char *mac;

	make(f, 42, 7, a, sizeof(a));
	mac = strrchr(a, '-') + 1;
	/* Another batch, another sequence, with this MAC. */
	str_fmt(forged, sizeof(forged), "bounce+43-7-%s", mac);
	assert_int_equal(check(f->kc, forged), 0);
	str_fmt(forged, sizeof(forged), "bounce+42-8-%s", mac);
	assert_int_equal(check(f->kc, forged), 0);
	str_fmt(forged, sizeof(forged), "bounce+7-42-%s", mac);
	assert_int_equal(check(f->kc, forged), 0);
	/* One character of the MAC changed, at the start and at the end. */
	str_copy(forged, a, sizeof(forged));
	forged[12] = forged[12] == 'a' ? 'b' : 'a';
	assert_int_equal(check(f->kc, forged), 0);
	str_copy(forged, a, sizeof(forged));
	{
		char *last = strchr(forged, '@') - 1;
		*last = *last == 'a' ? 'b' : 'a';
	}
	assert_int_equal(check(f->kc, forged), 0);
	/* A MAC one character longer or shorter (both still well formed). */
	str_fmt(forged, sizeof(forged), "bounce+42-7-%.*sa@" DOMAIN, VERP_MAC_LEN, mac);
	assert_int_equal(check(f->kc, forged), 0);
	str_fmt(forged, sizeof(forged), "bounce+42-7-%.*s@" DOMAIN, VERP_MAC_LEN - 1, mac);
	assert_int_equal(check(f->kc, forged), 0);
	/* Not a VERP at all, or malformed: invalid without an error. */
	assert_int_equal(check(f->kc, "someone@" DOMAIN), 0);
	assert_int_equal(check(f->kc, "bounce+0-7-aaaaaaaaaaaaaaaaaaaaaaaaa@" DOMAIN), 0);
}

static void test_other_tenant_is_invalid(void **state)
{
	struct fixture *f = *state;
	struct fixture *g;
	char a[EMAIL_MAX + 1], b[EMAIL_MAX + 1];

	assert_int_equal(setup((void **)&g), 0);
	make(f, 42, 7, a, sizeof(a));
	make(g, 42, 7, b, sizeof(b));
	assert_string_not_equal(a, b);
	assert_int_equal(check(g->kc, a), 0);
	assert_int_equal(check(f->kc, b), 0);
	assert_int_equal(check(g->kc, b), 1);
	teardown((void **)&g);
}

static void test_largest_fits(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	char a[EMAIL_MAX + 1];
	const char *at;

	make(f, UINT64_MAX, VERP_SEQ_MAX, a, sizeof(a));
	at = strchr(a, '@');
	assert_non_null(at);
	/* 7 + 20 + 1 + 10 + 1 + 25: exactly the 64 octets RFC 5321 allows. */
	assert_int_equal(at - a, 64);
	assert_true(strncmp(a, "bounce+18446744073709551615-2147483647-", 39) == 0);
	assert_int_equal(check(f->kc, a), 1);
	/* Out of range: refused, not truncated. */
	assert_int_equal(verp_address(f->kc, 0, 1, DOMAIN, a, sizeof(a), &e), -1);
	assert_int_equal(verp_address(f->kc, 1, 0, DOMAIN, a, sizeof(a), &e), -1);
	assert_int_equal(verp_address(f->kc, 1, VERP_SEQ_MAX + 1u, DOMAIN, a, sizeof(a), &e), -1);
	assert_int_equal(verp_address(f->kc, 1, 1, DOMAIN, a, 40, &e), -1);
	assert_int_equal(verp_address(f->kc, 1, 1, "not a domain", a, sizeof(a), &e), -1);
}

/* A bounce read by the classifier, its return path checked. */
static void test_in_a_bounce(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct bounce_result r;
	char a[EMAIL_MAX + 1], msg[4096];
	int valid = -1, n;

	make(f, 1234, 56, a, sizeof(a));
	n = str_fmt(msg, sizeof(msg),
		    "From: MAILER-DAEMON@mx.example.net\r\nTo: %s\r\n"
		    "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
		    "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nUser unknown.\r\n"
		    "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
		    "Reporting-MTA: dns; mx.example.net\r\n\r\n"
		    "Final-Recipient: rfc822; hanako@example.com\r\nAction: failed\r\n"
		    "Status: 5.1.1\r\n\r\n--b1--\r\n",
		    a);
	assert_true(n > 0);
	assert_int_equal(bounce_parse((const uint8_t *)msg, strlen(msg), &r, &e), 0);
	assert_true(r.is_bounce);
	assert_true(r.verp.present && r.verp.valid);
	assert_int_equal(verp_check(f->kc, &r.verp, &valid, &e), 0);
	assert_int_equal(valid, 1);
}

/* A keys server for one channel with permissions p, handed over as
 * `tayori run` does (keys_channel_grant / keys_channel_accept). */
static struct keys_client *serve_as(const char *dir, const struct keys_perms *p, pid_t *pid)
{
	int ctl[2], ch[2];
	struct error e = { { 0 }, 0 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		struct keys_perms got;
		struct keys_state *ks = NULL;
		int fd;
		close(ctl[0]);
		close(ch[0]);
		close(ch[1]);
		if (keys_state_load(dir, NULL, NULL, &ks, &e) < 0 ||
		    keys_channel_accept(ctl[1], &got, &fd, &e) < 0)
			_exit(2);
		keys_serve(ks, fd, &got);
		keys_state_free(&ks);
		_exit(0);
	}
	close(ctl[1]);
	assert_int_equal(keys_channel_grant(ctl[0], p, ch[1], &e), 0);
	close(ctl[0]);
	close(ch[1]);
	return keys_client_new(ch[0]);
}

static void test_role_permissions(void **state)
{
	struct fixture *f = *state;
	char a[EMAIL_MAX + 1], b[EMAIL_MAX + 1];
	struct error e = { { 0 }, 0 };

	make(f, 9, 3, a, sizeof(a));
	for (int r = ROLE_GATEWAY; r < ROLE_COUNT; r++) {
		pid_t pid;
		int status = 0, rc;
		struct keys_client *kc = serve_as(f->dir, supervisor_keys_perms(r), &pid);

		memset(&e, 0, sizeof(e));
		rc = verp_address(kc, 9, 3, DOMAIN, b, sizeof(b), &e);
		if (r == ROLE_MAILER) {
			if (rc < 0)
				fail_msg("the mailer making a return path: %s", e.msg);
			assert_string_equal(a, b);
			assert_int_equal(check(kc, a), 1);
		} else {
			if (rc == 0)
				fail_msg("%s made a return path's MAC", role_name(r));
			/* Forbidden: the keys side closed the channel. */
			assert_int_equal(e.temporary, 1);
			assert_int_equal(verp_address(kc, 9, 3, DOMAIN, b, sizeof(b), &e), -1);
		}
		keys_client_free(&kc);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

/* --make DIR BATCH SEQ DOMAIN: print one return path of tenant DIR. */
static int make_one(char **argv)
{
	struct keys_client *kc = NULL;
	struct error e = { { 0 }, 0 };
	char out[EMAIL_MAX + 1], *end;
	unsigned long long batch, seq;
	pid_t pid;
	int rc;

	errno = 0;
	batch = strtoull(argv[3], &end, 10);
	if (errno != 0 || *end != '\0' || argv[3][0] == '-')
		return 2;
	seq = strtoull(argv[4], &end, 10);
	if (errno != 0 || *end != '\0' || seq > VERP_SEQ_MAX)
		return 2;
	if (keys_spawn(argv[2], NULL, NULL, &kc, &pid, &e) < 0) {
		fprintf(stderr, "test_verp: %s\n", e.msg);
		return 3;
	}
	rc = verp_address(kc, (uint64_t)batch, (uint32_t)seq, argv[5], out, sizeof(out), &e);
	keys_spawn_wait(&kc, pid);
	if (rc < 0) {
		fprintf(stderr, "test_verp: %s\n", e.msg);
		return 1;
	}
	printf("%s\n", out);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_made_is_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_is_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_tenant_is_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_largest_fits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_a_bounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_permissions, setup, teardown),
	};
	if (argc == 6 && strcmp(argv[1], "--make") == 0)
		return make_one(argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
