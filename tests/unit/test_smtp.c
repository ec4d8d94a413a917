/*
 * test_smtp.c — the mailer's SMTP client (mailer/smtp.h) against a real
 * SMTP server: tests/smtp/relay.py (aiosmtpd) on loopback, which stores
 * every message it accepts and refuses or drops on demand by recipient.
 * Checks what the relay received, byte for byte, and the outcomes the
 * client reports.  Runs as a cmocka test binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "mailer/smtp.h"

#define PORT_WAIT_SECONDS 120 /* python3 may start slowly on a loaded machine */
#define FROM "bounce+7-1-abcdefghijklmnopqrstuvwxy@ward.example"

struct relay {
	pid_t pid;
	unsigned port;
	char dir[64];
	char portfile[96];
};

/* The relay a test is using, stopped by the teardown when an assertion
 * ended the test early. */
static struct relay *live;

static const char *top(void)
{
	const char *t = getenv("TOP");
	return t && *t ? t : ".";
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Start the relay with extra arguments (NULL-terminated, at most 4);
 * returns 0, or -1 when it did not come up (e.g. cannot bind). */
static int relay_start(struct relay *rl, const char *host, const char *a1, const char *a2, const char *a3)
{
	char script[4096];
	FILE *f;

	memset(rl, 0, sizeof *rl);
	live = rl;
	snprintf(rl->dir, sizeof rl->dir, "/tmp/tayori-smtp.XXXXXX");
	assert_non_null(mkdtemp(rl->dir));
	snprintf(rl->portfile, sizeof rl->portfile, "%s/port", rl->dir);
	snprintf(script, sizeof script, "%s/tests/smtp/relay.py", top());
	rl->pid = fork();
	assert_true(rl->pid >= 0);
	if (rl->pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--dir", rl->dir, "--port-file", rl->portfile,
		      "--host", host, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < PORT_WAIT_SECONDS * 20; i++) {
		int st;
		if (waitpid(rl->pid, &st, WNOHANG) == rl->pid) {
			rl->pid = 0;
			return -1;
		}
		f = fopen(rl->portfile, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%u", &rl->port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		sleep_ms(50);
	}
	return -1;
}

/* Remove the files in dir (our own temporary folder), then dir. */
static void remove_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char p[512];

	d = opendir(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void relay_stop(struct relay *rl)
{
	live = NULL;
	if (rl->pid > 0) {
		kill(rl->pid, SIGTERM);
		waitpid(rl->pid, NULL, 0);
	}
	remove_dir(rl->dir);
}

/* Read DIR/NAME whole into a malloc'd buffer. */
static char *slurp(const struct relay *rl, const char *name, size_t *len)
{
	char p[512];
	FILE *f;
	char *buf = malloc(1 << 20);
	size_t n;

	snprintf(p, sizeof p, "%s/%s", rl->dir, name);
	f = fopen(p, "rb");
	if (f == NULL) {
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* How many descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void config(struct smtp_config *cfg, const char *host, unsigned port)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->host = host;
	cfg->port = port;
	cfg->helo_name = "mailer.ward.example";
	cfg->connect_timeout = 60;
	cfg->reply_timeout = 120;
}

/* What the relay stored under queue id qid equals msg, and its envelope
 * is FROM and exactly rcpt. */
static void check_stored(const struct relay *rl, const char *qid, const char *msg, size_t len, const char *rcpt)
{
	char name[128], want[1024];
	size_t n;
	char *got;

	snprintf(name, sizeof name, "%s.eml", qid);
	got = slurp(rl, name, &n);
	assert_non_null(got);
	assert_int_equal(n, len);
	assert_memory_equal(got, msg, len);
	free(got);
	snprintf(name, sizeof name, "%s.env", qid);
	got = slurp(rl, name, &n);
	assert_non_null(got);
	snprintf(want, sizeof want, "from %s\nrcpt %s\n", FROM, rcpt);
	assert_string_equal(got, want);
	free(got);
}

static struct smtp_conn *open_ok(const struct relay *rl)
{
	struct smtp_config cfg;
	struct smtp_conn *c = NULL;
	struct error e = {0};

	config(&cfg, "127.0.0.1", rl->port);
	if (smtp_open(&cfg, &c, &e) != 0)
		fail_msg("smtp_open: %s", e.msg);
	assert_false(smtp_conn_tls(c));
	return c;
}

static void send_ok(struct smtp_conn *c, const struct relay *rl, const char *rcpt, const char *msg)
{
	struct smtp_result r;
	struct error e = {0};

	assert_int_equal(smtp_send(c, FROM, rcpt, (const uint8_t *)msg, strlen(msg), &r, &e), 0);
	if (r.outcome != SMTP_SENT)
		fail_msg("not sent: %d %s %s", r.code, r.status, r.text);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.status, "2.0.0");
	assert_true(r.queue_id[0] == 'Q');
	check_stored(rl, r.queue_id, msg, strlen(msg), rcpt);
}

static void many_messages_one_connection(void **state)
{
	struct relay rl;
	struct smtp_conn *c;
	char msg[512], rcpt[64];
	const char *opt = *state; /* as for refusals_keep_connection */

	assert_int_equal(relay_start(&rl, "127.0.0.1", opt, NULL, NULL), 0);
	c = open_ok(&rl);
	assert_int_equal(smtp_conn_pipelining(c), opt != NULL);
	for (int i = 0; i < 200; i++) {
		snprintf(rcpt, sizeof rcpt, "resident%d@example.jp", i);
		snprintf(msg, sizeof msg,
			 "From: ward@ward.example\r\nTo: %s\r\nSubject: notice %d\r\n\r\n"
			 "line one of %d\r\n.starts with a dot\r\n\r\nend\r\n",
			 rcpt, i, i);
		send_ok(c, &rl, rcpt, msg);
	}
	assert_int_equal(smtp_conn_messages(c), 200);
	smtp_close(&c);
	assert_null(c);
	relay_stop(&rl);
}

/* state: as for refusals_keep_connection (the pipelined path writes the
 * content itself, dot-stuffed). */
static void dots_and_long_line_arrive_intact(void **state)
{
	struct relay rl;
	struct smtp_conn *c;
	char *msg = malloc(4096);
	size_t o;
	const char *opt = *state;

	o = (size_t)snprintf(msg, 4096, "Subject: dots\r\n\r\nbefore\r\n.\r\n..\r\n.\r\nafter a lone dot\r\n");
	memset(msg + o, 'x', 998); /* the longest line RFC 5321 allows */
	o += 998;
	memcpy(msg + o, "\r\n.\r\nlast\r\n", 12);
	assert_int_equal(relay_start(&rl, "127.0.0.1", opt, NULL, NULL), 0);
	c = open_ok(&rl);
	assert_int_equal(smtp_conn_pipelining(c), opt != NULL);
	send_ok(c, &rl, "dots@example.jp", msg);
	send_ok(c, &rl, "after@example.jp", "Subject: next\r\n\r\nstill in step\r\n");
	smtp_close(&c);
	relay_stop(&rl);
	free(msg);
}

/* Bare LF line ends go out as CRLF, a dot after one is stuffed, and a
 * message whose last line has no end gets one before the final dot: the
 * relay stores the CRLF form, whichever path sent it. */
static void line_ends_normalised(void **state)
{
	struct relay rl;
	struct smtp_conn *c;
	struct smtp_result r;
	struct error e = {0};
	const char *opt = *state;
	const char *in = "Subject: lf\n\nbare lf\n.dot after lf\r\nno end";
	const char *want = "Subject: lf\r\n\r\nbare lf\r\n.dot after lf\r\nno end\r\n";

	assert_int_equal(relay_start(&rl, "127.0.0.1", opt, NULL, NULL), 0);
	c = open_ok(&rl);
	assert_int_equal(smtp_conn_pipelining(c), opt != NULL);
	assert_int_equal(smtp_send(c, FROM, "lf@example.jp", (const uint8_t *)in, strlen(in), &r, &e), 0);
	if (r.outcome != SMTP_SENT)
		fail_msg("not sent: %d %s %s", r.code, r.status, r.text);
	check_stored(&rl, r.queue_id, want, strlen(want), "lf@example.jp");
	send_ok(c, &rl, "after-lf@example.jp", "Subject: next\r\n\r\nstill in step\r\n");
	smtp_close(&c);
	relay_stop(&rl);
}

/* Over 150 generated messages (fixed seed): lines of random length and
 * bytes, some starting with one or more dots, some ended by a bare LF, the
 * last sometimes without its end, each sent over one connection (chained
 * when state is "--pipelining"): the relay stores each as the CRLF form of
 * what was built, byte for byte, dots unstuffed. */
static void generated_messages_arrive_intact(void **state)
{
	static const char alphabet[] = "ab .\t-=0xZ\xe3\x81\x82";
	struct relay rl;
	struct smtp_conn *c;
	const char *opt = *state;
	uint32_t seed = 20261207;
	char *in = malloc(8192), *want = malloc(16384), rcpt[64];

	assert_int_equal(relay_start(&rl, "127.0.0.1", opt, NULL, NULL), 0);
	c = open_ok(&rl);
	for (int m = 0; m < 150; m++) {
		size_t i = 0, w = 0;
		int lines;
		struct smtp_result r;
		struct error e = {0};
		seed = seed * 1103515245u + 12345u;
		lines = 1 + (int)(seed >> 16) % 40;
		i = (size_t)snprintf(in, 64, "Subject: generated %d\r\n\r\n", m);
		memcpy(want, in, i);
		w = i;
		for (int l = 0; l < lines; l++) {
			size_t start = i;
			int n, dots;
			seed = seed * 1103515245u + 12345u;
			n = (int)(seed >> 16) % 90;
			dots = (seed >> 8) % 5 == 0 ? 1 + (int)(seed >> 4) % 3 : 0;
			for (int d = 0; d < dots && n > 0; d++, n--)
				in[i++] = '.', want[w++] = '.';
			for (int k = 0; k < n; k++) {
				seed = seed * 1103515245u + 12345u;
				in[i] = want[w] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
				i++, w++;
			}
			if (l == lines - 1 && (seed >> 12) % 3 == 0) {
				/* no line end: the client adds CRLF (an empty last
				 * line leaves the message ending with the one before) */
				if (i == start)
					continue;
			} else if ((seed >> 10) % 4 == 0) {
				in[i++] = '\n';
			} else {
				in[i++] = '\r', in[i++] = '\n';
			}
			want[w++] = '\r', want[w++] = '\n';
		}
		snprintf(rcpt, sizeof rcpt, "gen%d@example.jp", m);
		assert_int_equal(smtp_send(c, FROM, rcpt, (const uint8_t *)in, i, &r, &e), 0);
		if (r.outcome != SMTP_SENT)
			fail_msg("message %d not sent: %d %s", m, r.code, r.text);
		check_stored(&rl, r.queue_id, want, w, rcpt);
	}
	smtp_close(&c);
	relay_stop(&rl);
	free(in);
	free(want);
}

static void send_expect(struct smtp_conn *c, const char *rcpt, enum smtp_outcome out, enum smtp_stage st, int code,
			const char *status, struct smtp_result *r)
{
	struct error e = {0};
	const char *m = "Subject: x\r\n\r\nbody\r\n";
	assert_int_equal(smtp_send(c, FROM, rcpt, (const uint8_t *)m, strlen(m), r, &e), 0);
	assert_int_equal(r->outcome, out);
	assert_int_equal(r->stage, st);
	assert_int_equal(r->code, code);
	assert_string_equal(r->status, status);
	assert_string_equal(r->queue_id, "");
}

/* state: NULL, or "--pipelining" for a relay that offers RFC 2920
 * PIPELINING (the client then sends MAIL, RCPT and DATA at once). */
static void refusals_keep_connection(void **state)
{
	struct relay rl;
	struct smtp_conn *c;
	struct smtp_result r;
	const char *opt = *state;

	assert_int_equal(relay_start(&rl, "127.0.0.1", opt, NULL, NULL), 0);
	c = open_ok(&rl);
	assert_int_equal(smtp_conn_pipelining(c), opt != NULL);
	send_expect(c, "temp-rcpt-1@example.jp", SMTP_TEMPFAIL, SMTP_STAGE_RCPT, 451, "4.3.0", &r);
	assert_string_equal(r.text, "mailbox temporarily unavailable");
	assert_false(r.throttle);
	assert_false(r.dead);
	assert_true(smtp_conn_alive(c));
	send_ok(c, &rl, "ok1@example.jp", "Subject: a\r\n\r\nafter a 4xx\r\n");
	send_expect(c, "perm-rcpt-1@example.jp", SMTP_PERMFAIL, SMTP_STAGE_RCPT, 550, "5.1.1", &r);
	assert_string_equal(r.text, "no such user here");
	send_expect(c, "perm-data-1@example.jp", SMTP_PERMFAIL, SMTP_STAGE_DATA, 554, "5.6.0", &r);
	send_expect(c, "temp-data-1@example.jp", SMTP_TEMPFAIL, SMTP_STAGE_DATA, 451, "4.3.0", &r);
	send_expect(c, "throttle-rcpt-1@example.jp", SMTP_TEMPFAIL, SMTP_STAGE_RCPT, 450, "4.2.1", &r);
	assert_true(r.throttle);
	assert_null(strchr(r.text, '\t')); /* the relay's tab is removed */
	assert_non_null(strstr(r.text, "receiving mail at a rate that prevents"));
	send_ok(c, &rl, "ok2@example.jp", "Subject: b\r\n\r\nafter all of them\r\n");
	assert_int_equal(smtp_conn_messages(c), 2);
	smtp_close(&c);
	relay_stop(&rl);
}

static void dropped_connection_is_dead(void **state)
{
	struct relay rl;
	struct smtp_conn *c;
	struct smtp_result r;
	struct error e = {0};
	const char *m = "Subject: x\r\n\r\nbody\r\n";
	const char *opt = *state; /* as for refusals_keep_connection */

	assert_int_equal(relay_start(&rl, "127.0.0.1", opt, NULL, NULL), 0);
	for (int k = 0; k < 2; k++) {
		c = open_ok(&rl);
		assert_int_equal(smtp_conn_pipelining(c), opt != NULL);
		assert_int_equal(smtp_send(c, FROM, k ? "drop-data@example.jp" : "drop-rcpt@example.jp",
					   (const uint8_t *)m, strlen(m), &r, &e),
				 0);
		assert_int_equal(r.outcome, SMTP_TEMPFAIL);
		assert_int_equal(r.stage, k ? SMTP_STAGE_DATA : SMTP_STAGE_RCPT);
		assert_true(r.dead);
		assert_false(smtp_conn_alive(c));
		assert_int_equal(smtp_send(c, FROM, "ok@example.jp", (const uint8_t *)m, strlen(m), &r, &e), -1);
		smtp_close(&c);
	}
	relay_stop(&rl);
}

/* A relay that never answers: the reply timeout ends the wait, the
 * message is a temporary failure and the connection is dead. */
static void silent_relay_times_out(void **state)
{
	struct relay rl;
	struct smtp_config cfg;
	struct smtp_conn *c = NULL;
	struct smtp_result r;
	struct error e = {0};
	const char *m = "Subject: x\r\n\r\nbody\r\n";

	(void)state;
	assert_int_equal(relay_start(&rl, "127.0.0.1", NULL, NULL, NULL), 0);
	config(&cfg, "127.0.0.1", rl.port);
	cfg.reply_timeout = 3; /* the relay waits an hour */
	if (smtp_open(&cfg, &c, &e) != 0)
		fail_msg("smtp_open: %s", e.msg);
	assert_int_equal(smtp_send(c, FROM, "hang-rcpt@example.jp", (const uint8_t *)m, strlen(m), &r, &e), 0);
	assert_int_equal(r.outcome, SMTP_TEMPFAIL);
	assert_int_equal(r.stage, SMTP_STAGE_RCPT);
	assert_int_equal(r.code, 0);
	assert_true(r.dead);
	assert_false(smtp_conn_alive(c));
	smtp_close(&c);
	relay_stop(&rl);
}

static void envelope_injection_refused(void **state)
{
	struct relay rl;
	struct smtp_conn *c;
	struct smtp_result r;
	struct error e = {0};
	const char *m = "Subject: x\r\n\r\nbody\r\n";

	(void)state;
	assert_int_equal(relay_start(&rl, "127.0.0.1", NULL, NULL, NULL), 0);
	c = open_ok(&rl);
	assert_int_equal(smtp_send(c, FROM, "a@example.jp>\r\nRCPT TO:<b@example.jp", (const uint8_t *)m,
				   strlen(m), &r, &e),
			 -1);
	assert_int_equal(smtp_send(c, "x@y SIZE=1", "a@example.jp", (const uint8_t *)m, strlen(m), &r, &e), -1);
	send_ok(c, &rl, "a@example.jp", m);
	smtp_close(&c);
	relay_stop(&rl);
}

static void auth_plain_on_loopback(void **state)
{
	struct relay rl;
	struct smtp_config cfg;
	struct smtp_conn *c = NULL;
	struct smtp_result r;
	struct error e = {0};
	const char *m = "Subject: x\r\n\r\nauthenticated\r\n";
	char *env;
	size_t n;

	(void)state;
	assert_int_equal(relay_start(&rl, "127.0.0.1", "--auth", "mailer:s3cret pass", NULL), 0);
	config(&cfg, "127.0.0.1", rl.port);
	cfg.user = "mailer";
	cfg.password_env = "TAYORI_TEST_SMTP_PASSWORD";
	unsetenv("TAYORI_TEST_SMTP_PASSWORD");
	assert_int_equal(smtp_open(&cfg, &c, &e), -1); /* variable not set */
	assert_non_null(strstr(e.msg, "TAYORI_TEST_SMTP_PASSWORD"));
	setenv("TAYORI_TEST_SMTP_PASSWORD", "wrong", 1);
	int fds = open_fds();
	assert_int_equal(smtp_open(&cfg, &c, &e), -1);
	assert_null(c);
	assert_int_equal(open_fds(), fds); /* the refused connection is closed */
	setenv("TAYORI_TEST_SMTP_PASSWORD", "s3cret pass", 1);
	if (smtp_open(&cfg, &c, &e) != 0)
		fail_msg("smtp_open: %s", e.msg);
	assert_int_equal(smtp_send(c, FROM, "a@example.jp", (const uint8_t *)m, strlen(m), &r, &e), 0);
	assert_int_equal(r.outcome, SMTP_SENT);
	smtp_close(&c);
	env = slurp(&rl, "Q1.env", &n);
	assert_non_null(env);
	assert_non_null(strstr(env, "auth mailer\n"));
	free(env);
	relay_stop(&rl);
}

/* The machine's own non-loopback address: aiosmtpd offers no STARTTLS
 * there, so nothing may be sent. */
static void non_loopback_without_starttls_refused(void **state)
{
	static const char *const addrs[] = {"192.0.2.2", "fd00::2"};
	struct relay rl;
	struct smtp_config cfg;
	struct smtp_conn *c = NULL;
	struct error e = {0};
	int tried = 0;

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		if (relay_start(&rl, addrs[i], NULL, NULL, NULL) != 0) {
			relay_stop(&rl);
			continue;
		}
		tried++;
		config(&cfg, addrs[i], rl.port);
		assert_int_equal(smtp_open(&cfg, &c, &e), -1);
		assert_null(c);
		assert_non_null(strstr(e.msg, "STARTTLS"));
		relay_stop(&rl);
	}
	if (tried == 0)
		skip();
}

static char tls_dir[64];

/* Open with STARTTLS forced on loopback; returns smtp_open's result. */
static int open_tls(const struct relay *rl, const char *host, const char *ca, struct smtp_conn **c,
		    struct error *e)
{
	struct smtp_config cfg;
	char ca_path[128];

	snprintf(ca_path, sizeof ca_path, "%s/%s", tls_dir, ca);
	config(&cfg, host, rl->port);
	cfg.tls_on_loopback = true;
	cfg.ca_file = ca_path;
	return smtp_open(&cfg, c, e);
}

/* A relay offering STARTTLS with a certificate for "localhost" from the
 * test CA: accepted under that CA by that name; refused under another CA,
 * or when the name dialled (127.0.0.1) is not in the certificate. */
static void starttls_certificate_checked(void **state)
{
	struct relay rl;
	struct smtp_conn *c = NULL;
	struct error e = {0};
	char cert[128], key[128], script[4096];
	pid_t pid;
	int st = -1;

	(void)state;
	snprintf(tls_dir, sizeof tls_dir, "/tmp/tayori-smtp-tls.XXXXXX");
	assert_non_null(mkdtemp(tls_dir));
	snprintf(script, sizeof script, "%s/tests/smtp/make-tls.sh", top());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", script, tls_dir, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(cert, sizeof cert, "%s/relay.pem", tls_dir);
	snprintf(key, sizeof key, "%s/relay.key", tls_dir);
	assert_int_equal(relay_start(&rl, "127.0.0.1", "--tls", cert, key), 0);

	if (open_tls(&rl, "localhost", "ca.pem", &c, &e) != 0)
		fail_msg("smtp_open over TLS: %s", e.msg);
	assert_true(smtp_conn_tls(c));
	send_ok(c, &rl, "tls@example.jp", "Subject: tls\r\n\r\nover TLS\r\n");
	smtp_close(&c);

	assert_int_equal(open_tls(&rl, "localhost", "other-ca.pem", &c, &e), -1);
	assert_null(c);
	assert_non_null(strstr(e.msg, "certificate not accepted"));
	assert_int_equal(open_tls(&rl, "127.0.0.1", "ca.pem", &c, &e), -1);
	assert_null(c);
	assert_non_null(strstr(e.msg, "certificate not accepted"));
	relay_stop(&rl);
	remove_dir(tls_dir);
	tls_dir[0] = '\0';
}

static void policy_words(void **state)
{
	struct error e = {0};
	struct smtp_result r = {0};

	(void)state;
	assert_true(smtp_host_is_loopback("127.0.0.1"));
	assert_true(smtp_host_is_loopback("127.255.0.9"));
	assert_true(smtp_host_is_loopback("::1"));
	assert_true(smtp_host_is_loopback("LocalHost"));
	assert_false(smtp_host_is_loopback("128.0.0.1"));
	assert_false(smtp_host_is_loopback("localhost.evil.example"));
	assert_false(smtp_host_is_loopback("::ffff:10.0.0.1"));
	assert_false(smtp_host_is_loopback("relay.example.jp"));
	assert_int_equal(smtp_tls_decide("127.0.0.1", false, false, &e), 0);
	assert_int_equal(smtp_tls_decide("127.0.0.1", true, false, &e), -1);
	assert_int_equal(smtp_tls_decide("relay.example.jp", false, false, &e), -1);
	assert_int_equal(smtp_tls_decide("relay.example.jp", false, true, &e), 1);
	assert_int_equal(smtp_tls_decide("10.1.2.3", false, true, &e), 1);

	assert_true(smtp_reply_is_throttle(421, "4.7.28", "rate limited"));
	assert_true(smtp_reply_is_throttle(451, "4.7.28", ""));
	assert_true(smtp_reply_is_throttle(451, "4.7.651", "The mail server IP connecting"));
	assert_true(smtp_reply_is_throttle(421, "", "Too many connections from your IP"));
	assert_false(smtp_reply_is_throttle(451, "4.3.0", "temporary failure"));
	assert_false(smtp_reply_is_throttle(550, "5.7.28", "too many"));

	smtp_result_set_reply(&r, 250, "2.0.0 Ok: queued as 4XyZ.9-a_b\n");
	assert_string_equal(r.status, "2.0.0");
	assert_string_equal(r.queue_id, "4XyZ.9-a_b");
	smtp_result_set_reply(&r, 421, "4.7.28 Our system has detected\nan unusual rate\x1b[31m\n");
	assert_string_equal(r.status, "4.7.28");
	assert_string_equal(r.text, "Our system has detected an unusual rate [31m");
	assert_true(r.throttle);
	smtp_result_set_reply(&r, 550, "5.1.1x not a status");
	assert_string_equal(r.status, "");
	assert_string_equal(r.text, "5.1.1x not a status");
}

static int stop_leftover(void **state)
{
	(void)state;
	if (live != NULL)
		relay_stop(live);
	if (tls_dir[0] != '\0')
		remove_dir(tls_dir);
	tls_dir[0] = '\0';
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(policy_words, stop_leftover),
		cmocka_unit_test_prestate_setup_teardown(many_messages_one_connection, NULL, stop_leftover, NULL),
		cmocka_unit_test_prestate_setup_teardown(many_messages_one_connection, NULL, stop_leftover,
							 "--pipelining"),
		cmocka_unit_test_prestate_setup_teardown(dots_and_long_line_arrive_intact, NULL, stop_leftover, NULL),
		cmocka_unit_test_prestate_setup_teardown(dots_and_long_line_arrive_intact, NULL, stop_leftover,
							 "--pipelining"),
		cmocka_unit_test_prestate_setup_teardown(line_ends_normalised, NULL, stop_leftover, NULL),
		cmocka_unit_test_prestate_setup_teardown(generated_messages_arrive_intact, NULL, stop_leftover, NULL),
		cmocka_unit_test_prestate_setup_teardown(generated_messages_arrive_intact, NULL, stop_leftover,
							 "--pipelining"),
		cmocka_unit_test_prestate_setup_teardown(line_ends_normalised, NULL, stop_leftover,
							 "--pipelining"),
		cmocka_unit_test_prestate_setup_teardown(refusals_keep_connection, NULL, stop_leftover, NULL),
		cmocka_unit_test_prestate_setup_teardown(refusals_keep_connection, NULL, stop_leftover,
							 "--pipelining"),
		cmocka_unit_test_prestate_setup_teardown(dropped_connection_is_dead, NULL, stop_leftover, NULL),
		cmocka_unit_test_prestate_setup_teardown(dropped_connection_is_dead, NULL, stop_leftover,
							 "--pipelining"),
		cmocka_unit_test_teardown(silent_relay_times_out, stop_leftover),
		cmocka_unit_test_teardown(envelope_injection_refused, stop_leftover),
		cmocka_unit_test_teardown(auth_plain_on_loopback, stop_leftover),
		cmocka_unit_test_teardown(non_loopback_without_starttls_refused, stop_leftover),
		cmocka_unit_test_teardown(starttls_certificate_checked, stop_leftover),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
