/*
 * test_imap_intake.c — unit tests for gateway/imap_intake.c that need no
 * server: modified UTF-7 folder names (RFC 3501 5.1.3, vectors from the RFC
 * and computed independently with Python's base64), settings checked by
 * imap_intake_new(), and the reconnection back-off against a closed port.
 * The IMAP conversation itself is tested against a real Dovecot by
 * tests/integration/imap_intake.sh.
 * Runs as a stand-alone cmocka program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "gateway/imap_intake.h"
#include "lib/imap_url.h"

static void test_mailbox_names(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "INBOX", "INBOX" },
		{ "Processed", "Processed" },
		{ "a&b", "a&-b" },
		{ "処理済み", "&UeZ0Bm4IMH8-" },
		{ "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-" }, /* RFC 3501 5.1.3 */
		{ "受付/却下", "&U9dO2A-/&U3ROCw-" },
		{ "😀x", "&2D3eAA-x" }, /* a surrogate pair */
		{ "", "" },
	};
	char out[128];
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		assert_int_equal(imap_url_mailbox(v[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, v[i].out);
	}
	/* malformed UTF-8: a lone continuation byte, an overlong form, a surrogate */
	assert_int_equal(imap_url_mailbox("a\x80", out, sizeof(out)), -1);
	assert_int_equal(imap_url_mailbox("\xc0\xaf", out, sizeof(out)), -1);
	assert_int_equal(imap_url_mailbox("\xed\xa0\x80", out, sizeof(out)), -1);
	/* too small: exactly fitting works, one byte less fails */
	assert_int_equal(imap_url_mailbox("処理済み", out, 14), 0);
	assert_int_equal(imap_url_mailbox("処理済み", out, 13), -1);
	assert_int_equal(imap_url_mailbox("", out, 0), -1);
}

static struct conf *load(const char *mail)
{
	char text[2048];
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };
	snprintf(text, sizeof(text), "[tenant]\nname = t\nid = t\n[mail]\n%s", mail);
	if (conf_parse(text, strlen(text), "t.conf", "/tmp", &c, &e) < 0)
		fail_msg("conf: %s", e.msg);
	return c;
}

static void expect_new_fails(const char *mail, const char *needle)
{
	struct conf *c = load(mail);
	struct imap_intake *ii = (struct imap_intake *)1;
	struct error e = { { 0 }, 0 };
	assert_int_equal(imap_intake_new(c, NULL, &ii, &e), -1);
	assert_null(ii);
	if (strstr(e.msg, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", e.msg, needle);
	conf_free(&c);
}

static void test_settings(void **state)
{
	(void)state;
	unsetenv("TAYORI_UT_IMAP_PW");
	expect_new_fails("", "imap_url is not set");
	expect_new_fails("imap_url = imaps://mail.example.jp\nimap_user = u\nimap_password_env = TAYORI_UT_IMAP_PW\n",
			 "imap_password_env");
	setenv("TAYORI_UT_IMAP_PW", "pw", 1);
	expect_new_fails("imap_url = imaps://mail.example.jp\nimap_user = u\nimap_password_env = TAYORI_UT_IMAP_PW\n"
			 "imap_processed = INBOX\n", "must differ");
	expect_new_fails("imap_url = imaps://mail.example.jp/Batches\nimap_user = u\n"
			 "imap_password_env = TAYORI_UT_IMAP_PW\nimap_rejected = Batches\n", "must differ");

	struct conf *c = load("imap_url = imaps://[::1]:9993/%E5%8F%97%E4%BB%98\nimap_user = u\n"
			      "imap_password_env = TAYORI_UT_IMAP_PW\nimap_processed = 処理済み\n");
	struct imap_intake *ii = NULL;
	struct error e = { { 0 }, 0 };
	assert_int_equal(imap_intake_new(c, NULL, &ii, &e), 0);
	assert_non_null(ii);
	assert_int_equal(imap_intake_fd(ii), -1);
	assert_int_equal(imap_intake_connected(ii), 0);
	imap_intake_free(&ii);
	assert_null(ii);
	imap_intake_free(&ii); /* NULL is fine */
	conf_free(&c);
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A port nobody listens on: bind one, note it, close it. */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/*
 * The back-off deadline is set by a failed attempt that ended at some time
 * between lo and hi (the test's clock around the step, which is the same
 * CLOCK_MONOTONIC in ms): imap_intake_next_ms() read at t must then be
 * within that window shifted by the back-off d (clamped at 0, 2 ms for
 * rounding).  No bound depends on how fast the machine is.
 */
static void expect_wait(int wait, int64_t t, int64_t lo, int64_t hi, int64_t d)
{
	int64_t min = lo + d - t - 2, max = hi + d - t + 2;
	if (min < 0)
		min = 0;
	if (max < 0)
		max = 0;
	if (wait < min || wait > max)
		fail_msg("next_ms %d not within [%lld, %lld] (back-off %lld ms)", wait, (long long)min,
			 (long long)max, (long long)d);
}

/*
 * One run of the back-off checks against a closed port, with event waits:
 * each check follows from when the test's own clock says the attempts
 * happened, and the step that must wait is given a long timeout and judged
 * by what it did (tried and failed), not by how long it took.  Returns 1
 * when every check held, 0 when the machine was so slow that a back-off
 * ran out before a step meant to fall inside it (a step then rightly tries
 * again, and the run proves nothing); fails the test otherwise.
 */
static int backoff_run(const char *mail)
{
	struct imap_intake *ii = NULL;
	struct error e = { { 0 }, 0 };
	int64_t lo1, hi1, lo2, hi2, t0, t1;
	int rc, conclusive = 1;
	struct conf *c = load(mail);
	assert_int_equal(imap_intake_new(c, NULL, &ii, &e), 0);

	/* The first attempt is made at once and fails; the back-off is 1 s. */
	lo1 = ms_now();
	assert_int_equal(imap_intake_step(ii, 0, &e), -1);
	hi1 = ms_now();
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_false(imap_intake_connected(ii));
	expect_wait(imap_intake_next_ms(ii), ms_now(), lo1, hi1, 1000);

	/* Within the back-off a step with timeout 0 returns at once without
	 * trying: the deadline stays that of the first failure. */
	rc = imap_intake_step(ii, 0, &e);
	t1 = ms_now();
	if (rc != 0) {
		/* Only right when the back-off was over when it returned. */
		assert_true(t1 >= lo1 + 1000 - 2);
		conclusive = 0;
		goto out;
	}
	expect_wait(imap_intake_next_ms(ii), ms_now(), lo1, hi1, 1000);

	/* A step with a long timeout sleeps out the back-off, tries and fails:
	 * it never returns before the back-off's end; the next one is 2 s. */
	t0 = ms_now();
	assert_int_equal(imap_intake_step(ii, 120000, &e), -1);
	t1 = ms_now();
	assert_true(t1 >= lo1 + 1000 - 2);
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_false(imap_intake_connected(ii));
	lo2 = t0 > lo1 + 1000 ? t0 : lo1 + 1000;
	hi2 = t1;
	expect_wait(imap_intake_next_ms(ii), ms_now(), lo2 - 2, hi2, 2000);

	/* A short timeout returns when it is up, still in the back-off,
	 * without trying. */
	t0 = ms_now();
	rc = imap_intake_step(ii, 200, &e);
	t1 = ms_now();
	if (rc != 0) {
		assert_true(t1 >= lo2 + 2000 - 2);
		conclusive = 0;
		goto out;
	}
	assert_true(t1 - t0 >= 200 - 2);
	assert_false(imap_intake_connected(ii));
	expect_wait(imap_intake_next_ms(ii), ms_now(), lo2 - 2, hi2, 2000);
out:
	imap_intake_free(&ii);
	conf_free(&c);
	return conclusive;
}

/* The reconnection back-off; a run the machine was too slow to judge is
 * run again, up to three times, so a step that sleeps or tries inside its
 * back-off cannot pass as "slow". */
static void test_backoff(void **state)
{
	char mail[512];
	int runs = 0;
	(void)state;
	setenv("TAYORI_UT_IMAP_PW", "pw", 1);
	snprintf(mail, sizeof(mail), "imap_url = imap://127.0.0.1:%d\nimap_user = u\n"
		 "imap_password_env = TAYORI_UT_IMAP_PW\n", closed_port());
	while (!backoff_run(mail))
		if (++runs == 3)
			fail_msg("three runs in a row tried to connect inside the back-off");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailbox_names),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
