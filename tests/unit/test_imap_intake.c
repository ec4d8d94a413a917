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

#include "conf.h"
#include "gateway/imap_intake.h"

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
		assert_int_equal(imap_intake_mailbox_name(v[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, v[i].out);
	}
	/* malformed UTF-8: a lone continuation byte, an overlong form, a surrogate */
	assert_int_equal(imap_intake_mailbox_name("a\x80", out, sizeof(out)), -1);
	assert_int_equal(imap_intake_mailbox_name("\xc0\xaf", out, sizeof(out)), -1);
	assert_int_equal(imap_intake_mailbox_name("\xed\xa0\x80", out, sizeof(out)), -1);
	/* too small: exactly fitting works, one byte less fails */
	assert_int_equal(imap_intake_mailbox_name("処理済み", out, 14), 0);
	assert_int_equal(imap_intake_mailbox_name("処理済み", out, 13), -1);
	assert_int_equal(imap_intake_mailbox_name("", out, 0), -1);
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

static void test_backoff(void **state)
{
	char mail[512];
	struct imap_intake *ii = NULL;
	struct error e = { { 0 }, 0 };
	int64_t t0;
	(void)state;
	setenv("TAYORI_UT_IMAP_PW", "pw", 1);
	snprintf(mail, sizeof(mail), "imap_url = imap://127.0.0.1:%d\nimap_user = u\n"
		 "imap_password_env = TAYORI_UT_IMAP_PW\n", closed_port());
	struct conf *c = load(mail);
	assert_int_equal(imap_intake_new(c, NULL, &ii, &e), 0);

	/* First attempt fails at once; the back-off starts at 1 s. */
	assert_int_equal(imap_intake_step(ii, 0, &e), -1);
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_false(imap_intake_connected(ii));
	int wait = imap_intake_next_ms(ii);
	assert_true(wait > 500 && wait <= 1000);
	/* Within the back-off a step with timeout 0 neither connects nor sleeps. */
	t0 = ms_now();
	assert_int_equal(imap_intake_step(ii, 0, &e), 0);
	assert_true(ms_now() - t0 < 100);
	/* A step with a longer timeout sleeps out the back-off, tries, fails:
	 * the next delay is 2 s. */
	t0 = ms_now();
	assert_int_equal(imap_intake_step(ii, 5000, &e), -1);
	assert_true(ms_now() - t0 >= 500 && ms_now() - t0 < 2000);
	wait = imap_intake_next_ms(ii);
	assert_true(wait > 1500 && wait <= 2000);
	/* A short timeout returns when it is up, still in the back-off. */
	t0 = ms_now();
	assert_int_equal(imap_intake_step(ii, 200, &e), 0);
	assert_true(ms_now() - t0 >= 150 && ms_now() - t0 < 1000);
	imap_intake_free(&ii);
	conf_free(&c);
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
