/*
 * test_pool.c — the mailer's outgoing transport (mailer/pool.h) against a
 * real SMTP server: tests/smtp/relay.py (aiosmtpd) on loopback, which
 * stores every message it accepts, refuses, drops or slows down on demand
 * by recipient, and logs how many sessions carried one domain's mail at
 * once.  Checks that every job gets exactly one outcome, that the relay
 * stored each sent message once and byte for byte, that the per-domain
 * concurrency and rate limits hold, that a throttling reply slows that
 * domain down, and that the Maildir kind writes whole, parseable files.
 * Runs as a cmocka test binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "mailer/message.h"
#include "mailer/pool.h"

#define PORT_WAIT_SECONDS 120 /* python3 may start slowly on a loaded machine */
#define FROM "bounce+7-1-abcdefghijklmnopqrstuvwxy@ward.example"
#define MAXJOBS 128

struct relay {
	pid_t pid;
	unsigned port;
	char dir[64];
	char portfile[96];
	char clog[96];
};

static struct relay *live; /* stopped by the teardown when a test failed early */

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

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start the relay; with tls_dir, offering STARTTLS with that folder's
 * relay.pem (tests/smtp/make-tls.sh). */
static bool implicit_next; /* the next relay started speaks TLS from the first byte */
/* The relays started offer PIPELINING (RFC 2920): the pool's workers then
 * chain each next message's envelope behind the previous content. */
static bool pipelining_next;

static void relay_start_tls(struct relay *rl, const char *tls_dir)
{
	char script[4096];

	memset(rl, 0, sizeof *rl);
	live = rl;
	snprintf(rl->dir, sizeof rl->dir, "/tmp/tayori-pool.XXXXXX");
	assert_non_null(mkdtemp(rl->dir));
	snprintf(rl->portfile, sizeof rl->portfile, "%s/port", rl->dir);
	snprintf(rl->clog, sizeof rl->clog, "%s/concurrency", rl->dir);
	snprintf(script, sizeof script, "%s/tests/smtp/relay.py", top());
	rl->pid = fork();
	assert_true(rl->pid >= 0);
	if (rl->pid == 0) {
		char cert[128], key[128];
		char *argv[16] = { "python3", script, "--dir", rl->dir, "--port-file", rl->portfile,
				   "--concurrency-log", rl->clog };
		int n = 8;
		snprintf(cert, sizeof cert, "%s/relay.pem", tls_dir ? tls_dir : "");
		snprintf(key, sizeof key, "%s/relay.key", tls_dir ? tls_dir : "");
		if (tls_dir != NULL) {
			argv[n++] = "--tls";
			argv[n++] = cert;
			argv[n++] = key;
		}
		if (implicit_next)
			argv[n++] = "--implicit-tls";
		if (pipelining_next)
			argv[n++] = "--pipelining";
		argv[n] = NULL;
		execv("/usr/bin/python3", argv);
		_exit(127);
	}
	for (int i = 0; i < PORT_WAIT_SECONDS * 20; i++) {
		FILE *f = fopen(rl->portfile, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%u", &rl->port) == 1;
			fclose(f);
			if (ok)
				return;
		}
		assert_int_not_equal(waitpid(rl->pid, NULL, WNOHANG), rl->pid);
		sleep_ms(50);
	}
	fail_msg("the relay did not start");
}

static void relay_start(struct relay *rl)
{
	relay_start_tls(rl, NULL);
}

/* Remove the files in dir (a folder this test made), then dir. */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			if (de->d_type == DT_DIR)
				remove_tree(p);
			else
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
	remove_tree(rl->dir);
}

static int teardown(void **state)
{
	(void)state;
	if (live != NULL)
		relay_stop(live);
	pipelining_next = false;
	return 0;
}

/* The next test's relay offers PIPELINING. */
static int pipelining(void **state)
{
	(void)state;
	pipelining_next = true;
	return 0;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char p[512];
	FILE *f;
	char *buf = malloc(1 << 20);
	size_t n;

	snprintf(p, sizeof p, "%s/%s", dir, name);
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

static int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);
		if (de->d_name[0] != '.' && l >= s && strcmp(de->d_name + l - s, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* A real notification message to rcpt, built by mailer/message.h. */
static uint8_t *notice(const char *rcpt, int i, size_t *len)
{
	struct message_input in;
	struct buf b;
	struct error e = {{0}, 0};
	char link[128], mid[64];

	memset(&in, 0, sizeof in);
	snprintf(link, sizeof link, "https://portal.city.example.lg.jp/n/tok%06dabcdefghijklmnop", i);
	snprintf(mid, sizeof mid, "pooltest%06d", i);
	in.from_addr = "tsuchi@city.example.lg.jp";
	in.from_name = "練馬区";
	in.reply_to = "zeimu@city.example.lg.jp";
	in.to = rcpt;
	in.title = "令和8年度 特別区民税・都民税 決定通知書";
	in.message = "決定通知書をお送りします。";
	in.link = link;
	in.portal_url = "https://portal.city.example.lg.jp/";
	in.notice_code = "K7Q2-M4X9";
	in.deadline = "2026-12-25";
	in.contact = "練馬区 区民部 税務課\n電話 03-3993-1111（代表）";
	in.msgid_domain = "city.example.lg.jp";
	in.message_id_local = mid;
	in.date = 1796000000;
	buf_init(&b, 1 << 20);
	if (message_build(&in, &b, &e) < 0)
		fail_msg("message_build: %s", e.msg);
	*len = b.len;
	return b.data;
}

struct sent {
	char rcpt[128];
	uint8_t *msg; /* a copy, to compare with what the relay stored */
	size_t len;
	int outcomes;
	struct pool_outcome o;
};

static void smtp_cfg(struct smtp_config *sc, unsigned port)
{
	memset(sc, 0, sizeof *sc);
	sc->host = "127.0.0.1";
	sc->port = port;
	sc->helo_name = "mailer.ward.example";
	sc->connect_timeout = 30;
	sc->reply_timeout = 60;
}

static void collect_into(struct pool *p, struct sent *s, size_t n, int wait_ms)
{
	struct pool_outcome o[16];
	size_t k = pool_collect(p, o, 16, wait_ms);
	for (size_t i = 0; i < k; i++) {
		assert_true(o[i].cookie < n);
		s[o[i].cookie].outcomes++;
		s[o[i].cookie].o = o[i];
	}
}

/* Submit every job (waiting for outcomes while the pool is full), then
 * collect until none is in flight. */
static void run_jobs(struct pool *p, struct sent *s, size_t n)
{
	struct error e = {{0}, 0};
	double t0 = now_s();

	for (size_t i = 0; i < n; i++) {
		struct pool_job j;
		memset(&j, 0, sizeof j);
		j.cookie = i;
		snprintf(j.mail_from, sizeof j.mail_from, "%s", FROM);
		snprintf(j.rcpt, sizeof j.rcpt, "%s", s[i].rcpt);
		j.msg = notice(s[i].rcpt, (int)i, &j.len);
		s[i].msg = malloc(j.len);
		memcpy(s[i].msg, j.msg, j.len);
		s[i].len = j.len;
		for (;;) {
			int rc = pool_submit(p, &j, &e);
			assert_int_not_equal(rc, -1);
			if (rc == 0)
				break;
			collect_into(p, s, n, 200);
		}
		assert_null(j.msg);
	}
	while (pool_in_flight(p) > 0) {
		collect_into(p, s, n, 500);
		assert_true(now_s() - t0 < 300);
	}
}

/* The relay's stored copy of a sent message equals what was handed over. */
static void check_stored(const struct relay *rl, const struct sent *s)
{
	char name[128], want[512];
	size_t n;
	char *got;

	assert_true(strncmp(s->o.r.queue_id, "Q", 1) == 0);
	snprintf(name, sizeof name, "%s.eml", s->o.r.queue_id);
	got = slurp(rl->dir, name, &n);
	assert_non_null(got);
	assert_int_equal(n, s->len);
	assert_memory_equal(got, s->msg, s->len);
	free(got);
	snprintf(name, sizeof name, "%s.env", s->o.r.queue_id);
	got = slurp(rl->dir, name, &n);
	assert_non_null(got);
	snprintf(want, sizeof want, "from %s\nrcpt %s\n", FROM, s->rcpt);
	assert_string_equal(got, want);
	free(got);
}

/* The most sessions the relay saw in DATA at once for domain, or 0. */
static int peak_of(const struct relay *rl, const char *domain)
{
	FILE *f = fopen(rl->clog, "r");
	char d[128];
	int peak, found = 0;

	assert_non_null(f);
	while (fscanf(f, "%127s %d", d, &peak) == 2)
		if (strcmp(d, domain) == 0)
			found = peak;
	fclose(f);
	return found;
}

static void free_sent(struct sent *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].msg);
}

/* Many jobs of several domains and every kind of outcome, through a pool
 * smaller than the batch: one outcome each, the right one, each sent
 * message stored once, and never more than 2 sessions on one domain. */
static void test_outcomes_and_concurrency(void **state)
{
	static const struct {
		const char *local, *domain;
		enum smtp_outcome want;
		int count;
	} kinds[] = {
		{"slow-data-a", "a.example", SMTP_SENT, 12},  {"slow-data-b", "b.example", SMTP_SENT, 12},
		{"resident", "c.example", SMTP_SENT, 30},     {"temp-rcpt-1", "c.example", SMTP_TEMPFAIL, 2},
		{"perm-rcpt-1", "c.example", SMTP_PERMFAIL, 2}, {"drop-rcpt-1", "c.example", SMTP_TEMPFAIL, 2},
		{"temp-data-1", "d.example", SMTP_TEMPFAIL, 2}, {"perm-data-1", "d.example", SMTP_PERMFAIL, 2},
		{"drop-data-1", "d.example", SMTP_TEMPFAIL, 2},
	};
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[MAXJOBS];
	enum smtp_outcome want[MAXJOBS];
	size_t n = 0;
	int sent = 0;

	memset(s, 0, sizeof s);
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		for (int i = 0; i < kinds[k].count; i++) {
			snprintf(s[n].rcpt, sizeof s[n].rcpt, "%s-%d@%s", kinds[k].local, i, kinds[k].domain);
			want[n++] = kinds[k].want;
		}
	relay_start(&rl);
	smtp_cfg(&sc, rl.port);
	pc.smtp = &sc;
	pc.connections = 8;
	pc.per_domain_connections = 2;
	pc.max_in_flight = 20; /* smaller than the batch: pool_submit says "full" */
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	run_jobs(p, s, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s[i].outcomes, 1);
		if (s[i].o.r.outcome != want[i])
			fail_msg("%s: outcome %d, want %d (%s)", s[i].rcpt, s[i].o.r.outcome, want[i], s[i].o.r.text);
		if (want[i] == SMTP_SENT) {
			check_stored(&rl, &s[i]);
			sent++;
		}
	}
	assert_int_equal(count_files(rl.dir, ".eml"), sent);
	/* the limit held, and was reached (so the test can see a breach) */
	assert_int_equal(peak_of(&rl, "a.example"), 2);
	assert_int_equal(peak_of(&rl, "b.example"), 2);
	pool_drain(p);
	assert_int_equal(pool_submit(p, &(struct pool_job){.rcpt = "x@c.example"}, &e), -1);
	pool_close(&p);
	assert_null(p);
	free_sent(s, n);
	relay_stop(&rl);
}

/* Submit jobs to rcpts, wait for all their outcomes; the seconds it took. */
static double timed_batch(struct pool *p, struct sent *s, size_t n)
{
	double t0 = now_s();
	run_jobs(p, s, n);
	return now_s() - t0;
}

/* A throttling reply (450 4.2.1) halves the domain's rate: with 600 a
 * minute (one each 100 ms), six more messages then take at least 1.2 s;
 * another domain keeps its pace. */
static void test_throttle_halves_rate(void **state)
{
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[8], t[6], u[6];
	int64_t before = now_utc();
	double dt, du;

	relay_start(&rl);
	smtp_cfg(&sc, rl.port);
	pc.smtp = &sc;
	pc.connections = 4;
	pc.per_domain_connections = 4;
	pc.per_domain_rate = 600;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	snprintf(s[0].rcpt, sizeof s[0].rcpt, "throttle-rcpt-1@t.example");
	run_jobs(p, s, 1);
	assert_int_equal(s[0].o.r.outcome, SMTP_TEMPFAIL);
	assert_true(s[0].o.r.throttle);
	assert_true(s[0].o.not_before >= before + 60);
	memset(t, 0, sizeof t);
	memset(u, 0, sizeof u);
	for (int i = 0; i < 6; i++) {
		snprintf(t[i].rcpt, sizeof t[i].rcpt, "resident%d@T.example", i);
		snprintf(u[i].rcpt, sizeof u[i].rcpt, "resident%d@u.example", i);
	}
	dt = timed_batch(p, t, 6);
	du = timed_batch(p, u, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(t[i].o.r.outcome, SMTP_SENT);
		assert_int_equal(u[i].o.r.outcome, SMTP_SENT);
	}
	if (dt < 1.15)
		fail_msg("throttled domain: 6 messages in %.2f s, want >= 1.2 s", dt);
	if (du < 0.45)
		fail_msg("rate limit: 6 messages in %.2f s, want >= 0.5 s", du);
	pool_close(&p);
	free_sent(s, 1);
	free_sent(t, 6);
	free_sent(u, 6);
	relay_stop(&rl);
}

/* With no configured rate, a throttle gives the domain half the rate it
 * was just sent at: after a quick burst, the next messages are spaced. */
static void test_throttle_unlimited_domain(void **state)
{
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[6], t[4];
	double fast, slow;

	relay_start(&rl);
	smtp_cfg(&sc, rl.port);
	pc.smtp = &sc;
	pc.connections = 2;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	memset(t, 0, sizeof t);
	for (int i = 0; i < 5; i++)
		snprintf(s[i].rcpt, sizeof s[i].rcpt, "resident%d@v.example", i);
	snprintf(s[5].rcpt, sizeof s[5].rcpt, "throttle-rcpt-9@v.example");
	fast = timed_batch(p, s, 6);
	assert_true(s[5].o.r.throttle);
	for (int i = 0; i < 4; i++)
		snprintf(t[i].rcpt, sizeof t[i].rcpt, "late%d@v.example", i);
	slow = timed_batch(p, t, 4);
	/* 6 in the window of at least 1 s: at most 360 a minute, halved: 180,
	 * one each 333 ms, so 4 more take at least 1.3 s */
	if (slow < 1.2)
		fail_msg("after the throttle: 4 messages in %.2f s (the burst took %.2f s)", slow, fast);
	pool_close(&p);
	free_sent(s, 6);
	free_sent(t, 4);
	relay_stop(&rl);
}

/* A relay that is not there: every job ends TEMPFAIL at CONNECT, none is
 * lost, and drain returns. */
static void test_relay_down(void **state)
{
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[10];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* a port that was just free: bound, then closed without listening */
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	smtp_cfg(&sc, ntohs(sa.sin_port));
	pc.smtp = &sc;
	pc.connections = 3;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	for (int i = 0; i < 10; i++)
		snprintf(s[i].rcpt, sizeof s[i].rcpt, "r%d@c.example", i);
	run_jobs(p, s, 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(s[i].outcomes, 1);
		assert_int_equal(s[i].o.r.outcome, SMTP_TEMPFAIL);
		assert_int_equal(s[i].o.r.stage, SMTP_STAGE_CONNECT);
		assert_non_null(strstr(s[i].o.r.text, "cannot connect"));
	}
	pool_close(&p);
	free_sent(s, 10);
	pc.max_in_flight = 1000000; /* refused rather than allocated */
	assert_int_equal(pool_open(&pc, &p, &e), -1);
	assert_null(p);
	assert_non_null(strstr(e.msg, "in flight"));
}

/* A relay that answers every connection with 421 at its greeting (busy,
 * too many connections) and closes: each job ends TEMPFAIL at CONNECT
 * with that reply, counted as a throttle, so its domain slows down and
 * the job is retried no sooner than a minute later. */
static void test_greeting_421(void **state)
{
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[2];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), st;
	int64_t t0 = now_utc();
	pid_t pid;

	(void)state;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(listen(fd, 8), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const char busy[] = "421 4.3.2 mx.c.example too many connections, closing\r\n";
		for (int i = 0; i < 8; i++) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				_exit(1);
			if (write(c, busy, sizeof busy - 1) < 0)
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	close(fd);
	smtp_cfg(&sc, ntohs(sa.sin_port));
	pc.smtp = &sc;
	pc.connections = 1;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	snprintf(s[0].rcpt, sizeof s[0].rcpt, "r1@c.example");
	snprintf(s[1].rcpt, sizeof s[1].rcpt, "r2@c.example");
	run_jobs(p, s, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s[i].o.r.outcome, SMTP_TEMPFAIL);
		assert_int_equal(s[i].o.r.stage, SMTP_STAGE_CONNECT);
		assert_int_equal(s[i].o.r.code, 421);
		assert_string_equal(s[i].o.r.status, "4.3.2");
		assert_true(s[i].o.r.throttle);
		assert_true(s[i].o.not_before >= t0 + 60);
	}
	pool_close(&p);
	free_sent(s, 2);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

/* smtps:// (TLS from the first byte): messages go out over it, with the
 * certificate checked against the CA and the name; a relay whose
 * certificate the CA did not sign is refused before anything is sent. */
static void test_implicit_tls(void **state)
{
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[4], bad[1];
	char tls[64], script[4096], ca[128];
	int st = -1;
	pid_t pid;

	(void)state;
	snprintf(tls, sizeof tls, "/tmp/tayori-pool-tls.XXXXXX");
	assert_non_null(mkdtemp(tls));
	snprintf(script, sizeof script, "%s/tests/smtp/make-tls.sh", top());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", script, tls, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	implicit_next = true;
	relay_start_tls(&rl, tls);
	implicit_next = false;
	smtp_cfg(&sc, rl.port);
	snprintf(ca, sizeof ca, "%s/ca.pem", tls);
	sc.host = "localhost";
	sc.implicit_tls = true;
	sc.ca_file = ca;
	pc.smtp = &sc;
	pc.connections = 2;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	for (int i = 0; i < 4; i++)
		snprintf(s[i].rcpt, sizeof s[i].rcpt, "resident%d@a.example", i);
	run_jobs(p, s, 4);
	for (int i = 0; i < 4; i++) {
		if (s[i].o.r.outcome != SMTP_SENT)
			fail_msg("%s: %s", s[i].rcpt, s[i].o.r.text);
		check_stored(&rl, &s[i]);
	}
	pool_close(&p);
	/* The system's CAs do not know the test CA. */
	sc.ca_file = NULL;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(bad, 0, sizeof bad);
	snprintf(bad[0].rcpt, sizeof bad[0].rcpt, "resident9@a.example");
	run_jobs(p, bad, 1);
	assert_int_equal(bad[0].o.r.outcome, SMTP_TEMPFAIL);
	assert_int_equal(bad[0].o.r.stage, SMTP_STAGE_CONNECT);
	pool_close(&p);
	free_sent(s, 4);
	free_sent(bad, 1);
	relay_stop(&rl);
	remove_tree(tls);
}

/* One connection: a dropped one is reopened for the next message. */
static void test_reopen_after_drop(void **state)
{
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[4];

	relay_start(&rl);
	smtp_cfg(&sc, rl.port);
	pc.smtp = &sc;
	pc.connections = 1;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	snprintf(s[0].rcpt, sizeof s[0].rcpt, "first@c.example");
	snprintf(s[1].rcpt, sizeof s[1].rcpt, "drop-data-1@c.example");
	snprintf(s[2].rcpt, sizeof s[2].rcpt, "second@c.example");
	snprintf(s[3].rcpt, sizeof s[3].rcpt, "third@c.example");
	run_jobs(p, s, 4);
	assert_int_equal(s[0].o.r.outcome, SMTP_SENT);
	assert_int_equal(s[1].o.r.outcome, SMTP_TEMPFAIL);
	assert_true(s[1].o.r.dead);
	assert_int_equal(s[2].o.r.outcome, SMTP_SENT);
	assert_int_equal(s[3].o.r.outcome, SMTP_SENT);
	check_stored(&rl, &s[2]);
	check_stored(&rl, &s[3]);
	assert_int_equal(count_files(rl.dir, ".eml"), 3);
	pool_close(&p);
	free_sent(s, 4);
	relay_stop(&rl);
}

/* Four connections over STARTTLS at once (certificate checked against
 * the test CA, by name): every message sent and stored. */
static void test_tls_connections(void **state)
{
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[24];
	char tls[64], script[4096], ca[128];
	int st = -1;
	pid_t pid;

	snprintf(tls, sizeof tls, "/tmp/tayori-pool-tls.XXXXXX");
	assert_non_null(mkdtemp(tls));
	snprintf(script, sizeof script, "%s/tests/smtp/make-tls.sh", top());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", script, tls, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	relay_start_tls(&rl, tls);
	smtp_cfg(&sc, rl.port);
	snprintf(ca, sizeof ca, "%s/ca.pem", tls);
	sc.host = "localhost";
	sc.tls_on_loopback = true;
	sc.ca_file = ca;
	pc.smtp = &sc;
	pc.connections = 4;
	pc.per_domain_connections = 2;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	for (int i = 0; i < 24; i++)
		snprintf(s[i].rcpt, sizeof s[i].rcpt, "slow-data-%d@%s", i, i % 2 ? "a.example" : "b.example");
	run_jobs(p, s, 24);
	for (int i = 0; i < 24; i++) {
		if (s[i].o.r.outcome != SMTP_SENT)
			fail_msg("%s: %s", s[i].rcpt, s[i].o.r.text);
		check_stored(&rl, &s[i]);
	}
	/* four TLS sessions at once: two on each domain */
	assert_int_equal(peak_of(&rl, "a.example"), 2);
	assert_int_equal(peak_of(&rl, "b.example"), 2);
	pool_close(&p);
	free_sent(s, 24);
	relay_stop(&rl);
	remove_tree(tls);
}

/* Every file of the folder argv[1] parses in strict mode as the
 * notification: multipart/alternative, plain text then HTML. */
#define STRICT_PARSE                                                                               \
	"import sys, os, email, email.policy as P\n"                                               \
	"d = sys.argv[1]\n"                                                                        \
	"for f in os.listdir(d):\n"                                                                \
	"    m = email.message_from_bytes(open(os.path.join(d, f), 'rb').read(), policy=P.strict)\n" \
	"    assert m.get_content_type() == 'multipart/alternative', f\n"                          \
	"    assert m['To'].startswith('resident'), f\n"                                           \
	"    assert [p.get_content_type() for p in m.iter_parts()] == ['text/plain', 'text/html'], f\n"

static int run_python(const char *code, const char *arg)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/usr/bin/python3", "python3", "-c", code, arg, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A relay that stops answering: the message ends TEMPFAIL after the reply
 * timeout, and the next one goes out over a new connection. */
static void test_reply_timeout(void **state)
{
	struct relay rl;
	struct smtp_config sc;
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[2];

	relay_start(&rl);
	smtp_cfg(&sc, rl.port);
	sc.reply_timeout = 2;
	pc.smtp = &sc;
	pc.connections = 1;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	snprintf(s[0].rcpt, sizeof s[0].rcpt, "hang-rcpt-1@c.example");
	snprintf(s[1].rcpt, sizeof s[1].rcpt, "after@c.example");
	run_jobs(p, s, 2);
	assert_int_equal(s[0].o.r.outcome, SMTP_TEMPFAIL);
	assert_true(s[0].o.r.dead);
	assert_int_equal(s[1].o.r.outcome, SMTP_SENT);
	check_stored(&rl, &s[1]);
	pool_close(&p);
	free_sent(s, 2);
	relay_stop(&rl);
}

/* The Maildir kind: each message whole in new/ under its queue id,
 * nothing left in tmp/, and each file parsed by Python's email package
 * in strict mode. */
static void test_maildir(void **state)
{
	char dir[64], sub[128];
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct sent s[20];
	size_t n;

	snprintf(dir, sizeof dir, "/tmp/tayori-pool.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof sub, "%s/outbox", dir);
	pc.maildir = sub;
	pc.connections = 3;
	if (pool_open(&pc, &p, &e) < 0)
		fail_msg("pool_open: %s", e.msg);
	memset(s, 0, sizeof s);
	for (int i = 0; i < 20; i++)
		snprintf(s[i].rcpt, sizeof s[i].rcpt, "resident%d@example.jp", i);
	run_jobs(p, s, 20);
	{
		struct pool_outcome o[2];
		double t0 = now_s();
		/* nothing in flight: even "wait for ever" returns at once */
		assert_int_equal(pool_collect(p, o, 2, -1), 0);
		assert_int_equal(pool_collect(p, o, 2, 5000), 0);
		assert_true(now_s() - t0 < 1.0);
	}
	pool_close(&p);
	snprintf(sub, sizeof sub, "%s/outbox/new", dir);
	assert_int_equal(count_files(sub, ""), 20);
	for (int i = 0; i < 20; i++) {
		char *got;
		assert_int_equal(s[i].outcomes, 1);
		assert_int_equal(s[i].o.r.outcome, SMTP_SENT);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(s[i].o.r.queue_id, s[j].o.r.queue_id);
		got = slurp(sub, s[i].o.r.queue_id, &n);
		assert_non_null(got);
		assert_int_equal(n, s[i].len);
		assert_memory_equal(got, s[i].msg, n);
		free(got);
	}
	snprintf(sub, sizeof sub, "%s/outbox/tmp", dir);
	assert_int_equal(count_files(sub, ""), 0);
	snprintf(sub, sizeof sub, "%s/outbox/new", dir);
	assert_int_equal(run_python(STRICT_PARSE, sub), 0);
	free_sent(s, 20);
	remove_tree(dir);
}

static struct conf *conf_of(const char *text)
{
	struct conf *c = NULL;
	struct error e = {{0}, 0};
	if (conf_parse(text, strlen(text), "t.conf", "/srv/ward", &c, &e) < 0)
		fail_msg("conf_parse: %s", e.msg);
	return c;
}

/* The pool's configuration from tayori.conf: the demo's Maildir with no
 * relay, the relay's host, port and AUTH when set; a user without a password variable refused with the setting named; smtps://
 * is TLS from the first byte, on port 465 unless given. */
static void test_config_from_conf(void **state)
{
	struct pool_config pc;
	struct smtp_config sc;
	struct pool_conf_buf b;
	struct error e = {{0}, 0};
	struct conf *c = conf_of("[paths]\ndata_dir = /srv/ward/data\n");

	assert_int_equal(pool_config_from_conf(c, &pc, &sc, &b, &e), 0);
	assert_null(pc.smtp);
	assert_string_equal(pc.maildir, "/srv/ward/data/mail/outbox");
	assert_int_equal(pc.connections, 8);
	assert_int_equal(pc.per_domain_connections, 4);
	assert_int_equal(pc.per_domain_rate, 0);
	conf_free(&c);

	c = conf_of("[mail]\nrelay = smtp://relay.example.jp:587\nrelay_user = ward\n"
		    "relay_password_env = RELAY_PW\nrelay_ca_file = keys/relay-ca.pem\n"
		    "connections = 16\nper_domain_connections = 2\nper_domain_rate = 30\n");
	assert_int_equal(pool_config_from_conf(c, &pc, &sc, &b, &e), 0);
	assert_ptr_equal(pc.smtp, &sc);
	assert_string_equal(sc.host, "relay.example.jp");
	assert_int_equal(sc.port, 587);
	assert_string_equal(sc.user, "ward");
	assert_string_equal(sc.password_env, "RELAY_PW");
	assert_string_equal(sc.ca_file, "/srv/ward/keys/relay-ca.pem");
	assert_non_null(strchr(sc.helo_name, '.'));
	assert_int_equal(pc.connections, 16);
	assert_int_equal(pc.per_domain_connections, 2);
	assert_int_equal(pc.per_domain_rate, 30);
	conf_free(&c);

	c = conf_of("[mail]\nrelay = smtp://[::1]\n");
	assert_int_equal(pool_config_from_conf(c, &pc, &sc, &b, &e), 0);
	assert_string_equal(sc.host, "::1");
	assert_int_equal(sc.port, 25);
	assert_null(sc.user);
	assert_null(sc.ca_file);
	conf_free(&c);

	c = conf_of("[mail]\nrelay = smtps://relay.example.jp\n");
	assert_int_equal(pool_config_from_conf(c, &pc, &sc, &b, &e), 0);
	assert_string_equal(sc.host, "relay.example.jp");
	assert_int_equal(sc.port, 465);
	assert_true(sc.implicit_tls);
	conf_free(&c);
	c = conf_of("[mail]\nrelay = smtp://relay.example.jp:587\n");
	assert_int_equal(pool_config_from_conf(c, &pc, &sc, &b, &e), 0);
	assert_false(sc.implicit_tls);
	conf_free(&c);

	c = conf_of("[mail]\nrelay = smtp://127.0.0.1:2525\nrelay_user = ward\n");
	assert_int_equal(pool_config_from_conf(c, &pc, &sc, &b, &e), -1);
	assert_non_null(strstr(e.msg, "relay_password_env"));
	conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_outcomes_and_concurrency, teardown),
		cmocka_unit_test_setup_teardown(test_outcomes_and_concurrency, pipelining, teardown),
		cmocka_unit_test_teardown(test_throttle_halves_rate, teardown),
		cmocka_unit_test_teardown(test_throttle_unlimited_domain, teardown),
		cmocka_unit_test(test_relay_down),
		cmocka_unit_test(test_greeting_421),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test_teardown(test_reopen_after_drop, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_after_drop, pipelining, teardown),
		cmocka_unit_test_teardown(test_reply_timeout, teardown),
		cmocka_unit_test_teardown(test_tls_connections, teardown),
		cmocka_unit_test_setup_teardown(test_tls_connections, pipelining, teardown),
		cmocka_unit_test(test_maildir),
		cmocka_unit_test(test_config_from_conf),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
