/*
 * test_queue.c — the mailer's delivery state machine (mailer/queue.h) and
 * its mail requests (mailer/mailq.h) end to end below the process: a real
 * tenant (keys process, LMDB store), a batch stored as the gateway stores
 * it, the real transport (mailer/pool.h) and a real SMTP relay,
 * tests/smtp/relay.py (aiosmtpd), which accepts, refuses (5xx) or defers
 * (4xx) by recipient.  Checks the delivery records, the events, what the
 * relay received, the batch's final status and its report, and that a mail
 * request leaves and is deleted.  Runs as a cmocka test binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/batches.h"
#include "lib/consent.h"
#include "lib/mailreq.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "mailer/mailq.h"
#include "mailer/outbox.h"
#include "mailer/pool.h"
#include "mailer/queue.h"
#include "mailer/send.h"
#include "tenant_fixture.h"

#define PORT_WAIT_SECONDS 120
#define BATCH 7

struct relay {
	pid_t pid;
	unsigned port;
	char dir[64];
};

static struct relay rl;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int relay_start(void)
{
	char script[4096], portfile[128];
	const char *top = getenv("TOP");
	memset(&rl, 0, sizeof(rl));
	snprintf(rl.dir, sizeof(rl.dir), "/tmp/tayori-queue.XXXXXX");
	if (mkdtemp(rl.dir) == NULL)
		return -1;
	snprintf(portfile, sizeof(portfile), "%s/port", rl.dir);
	snprintf(script, sizeof(script), "%s/tests/smtp/relay.py", top && *top ? top : ".");
	rl.pid = fork();
	if (rl.pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--dir", rl.dir, "--port-file", portfile,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < PORT_WAIT_SECONDS * 20; i++) {
		FILE *f = fopen(portfile, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%u", &rl.port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		sleep_ms(50);
	}
	return -1;
}

static void relay_stop(void)
{
	DIR *d;
	struct dirent *de;
	char p[512];
	if (rl.pid > 0) {
		kill(rl.pid, SIGTERM);
		waitpid(rl.pid, NULL, 0);
	}
	if ((d = opendir(rl.dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", rl.dir, de->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(rl.dir);
}

/* The decoded text of every base64 part of msg, one after the other. */
static char *decoded(const char *msg)
{
	GString *out = g_string_new(NULL);
	const char *p = msg;
	while ((p = strstr(p, "Content-Transfer-Encoding: base64\r\n")) != NULL) {
		const char *start = strstr(p, "\r\n\r\n"), *end;
		gchar *b64;
		guchar *bin;
		gsize n;
		if (start == NULL)
			break;
		start += 4;
		end = strstr(start, "\r\n\r\n");
		if (end == NULL)
			end = start + strlen(start);
		b64 = g_strndup(start, (gsize)(end - start));
		bin = g_base64_decode(b64, &n);
		g_string_append_len(out, (const char *)bin, (gssize)n);
		g_free(bin);
		g_free(b64);
		p = end;
	}
	return g_string_free(out, FALSE);
}

static char *relay_file(const char *name)
{
	char p[512];
	uint8_t *data = NULL;
	size_t len;
	struct error e = { { 0 }, 0 };
	snprintf(p, sizeof(p), "%s/%s", rl.dir, name);
	if (file_read_all(p, 1 << 20, &data, &len, &e) < 0)
		return NULL;
	return (char *)data;
}

static int relay_has(const char *name)
{
	char *p = relay_file(name);
	free(p);
	return p != NULL;
}

/* Where the next batch put came from (BR_FROM). */
static const char *batch_from = "cli";

/* A batch as the gateway stores it: status, sealed settings, residents. */
static void put_batch(struct store *st, uint64_t id, int test, const char *const *emails, size_t n)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct buf b;
	uint8_t key[12];

	buf_init(&b, 1 << 20);
	assert_int_equal(store_begin(st, 1, &t, &e), 0);
	be64_put(key, id);
	assert_int_equal(rec_put_str(&b, BS_STATUS, BATCH_STATUS_SENDING) |
			 rec_put_u64(&b, BS_TEST, (uint64_t)test) |
			 rec_put_u64(&b, BS_RECIPIENTS, n), 0);
	assert_int_equal(store_put(t, DB_BATCH_STATE, key, 8, b.data, b.len, &e), 0);
	buf_reset(&b);
	assert_int_equal(rec_put_str(&b, BR_TITLE, "住民税決定通知") |
			 rec_put_str(&b, BR_MESSAGE, "通知書をお届けします。") |
			 rec_put_str(&b, BR_ACTOR, "staff:3") | rec_put_str(&b, BR_FROM, batch_from) |
			 rec_put_str(&b, BR_AUTH, "magic") |
			 rec_put_str(&b, BR_DEADLINE, "2026-12-25"), 0);
	assert_int_equal(store_put_sealed(t, DB_BATCHES, key, 8, b.data, b.len, &e), 0);
	for (size_t i = 0; i < n; i++) {
		char rkey[16];
		snprintf(rkey, sizeof(rkey), "k%zu", i + 1);
		buf_reset(&b);
		be32_put(key + 8, (uint32_t)(i + 1));
		assert_int_equal(rec_put_str(&b, RR_KEY, rkey) | rec_put_str(&b, RR_NAME, "区民") |
				 rec_put_str(&b, RR_EMAIL, emails[i]) |
				 rec_put_u64(&b, RR_FLAGS, emails[i][0] ? 0 : 0x02), 0);
		assert_int_equal(store_put_sealed(t, DB_RESIDENTS, key, 12, b.data, b.len, &e), 0);
	}
	assert_int_equal(store_commit(&t, &e), 0);
	buf_free(&b);
}

struct rig {
	struct conf *conf;
	struct send_ctx sc;
	struct smtp_config smtp;
	struct pool *pool;
	struct queue *q;
	struct mailq *mq;
};

static void rig_open(struct fixture *f, struct rig *r)
{
	static const char text[] = "[mail]\nfrom = tsuchi@ward.example.jp\nretry_for = 1h\n"
				   "report_to = kacho@ward.example.jp\n"
				   "test_addresses = shiken@ward.example.jp\n"
				   "[portal]\npublic_url = https://portal.ward.example.jp/\n";
	struct pool_config pc;
	struct queue_config qc;
	struct error e = { { 0 }, 0 };

	memset(r, 0, sizeof(*r));
	assert_int_equal(conf_parse(text, sizeof(text) - 1, "test.conf", f->dir, &r->conf, &e), 0);
	assert_int_equal(send_ctx_init(&r->sc, f->st, f->kc, r->conf, &e), 0);
	r->smtp.host = "127.0.0.1";
	r->smtp.port = rl.port;
	r->smtp.helo_name = "ward.example.jp";
	memset(&pc, 0, sizeof(pc));
	pc.smtp = &r->smtp;
	pc.connections = 2;
	pc.per_domain_connections = 2;
	pc.max_in_flight = 64;
	assert_int_equal(pool_open(&pc, &r->pool, &e), 0);
	memset(&qc, 0, sizeof(qc));
	qc.retry_for = 3600;
	qc.retry_max = 10;
	qc.window = 32;
	assert_int_equal(send_addr_list("kacho@ward.example.jp", qc.report_to, SEND_TEST_MAX,
					&qc.nreport, &e), 0);
	assert_int_equal(queue_open(&r->sc, r->pool, &qc, &r->q, &e), 0);
	assert_int_equal(mailq_open(&r->sc, r->pool, 3600, &r->mq, &e), 0);
}

static void rig_close(struct rig *r)
{
	mailq_close(&r->mq);
	queue_close(&r->q);
	pool_close(&r->pool);
	conf_free(&r->conf);
}

/* Run the mailer's loop at time now until nothing is due or in flight. */
static void run(struct rig *r, int64_t now)
{
	struct pool_outcome outs[64];
	struct error e = { { 0 }, 0 };
	for (int i = 0; i < 600; i++) {
		int busy;
		size_t n;
		sleep_ms(i == 0 ? 1100 : 0); /* the batch scan runs once a second */
		assert_int_not_equal(mailq_step(r->mq, &e), -1);
		busy = queue_step(r->q, now, &e);
		assert_int_not_equal(busy, -1);
		n = pool_collect(r->pool, outs, 64, 50);
		for (size_t k = 0; k < n; k++)
			if (outs[k].cookie & QUEUE_COOKIE_MAILQ)
				mailq_outcome(r->mq, &outs[k]);
			else
				queue_outcome(r->q, &outs[k]);
		assert_int_equal(queue_flush(r->q, 0, &e), 0);
		if (busy == 0 && pool_in_flight(r->pool) == 0 && queue_in_flight(r->q) == 0 &&
		    mailq_in_flight(r->mq) == 0 && i > 10)
			break;
	}
	assert_int_equal(queue_flush(r->q, 1, &e), 0);
}

static void get(struct fixture *f, uint64_t batch, uint32_t seq, int want, struct delivery *d)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(delivery_get(t, batch, seq, d, &e), want);
	store_abort(&t);
}

static void status_is(struct fixture *f, uint64_t id, const char *want)
{
	struct batch_summary s;
	struct error e = { { 0 }, 0 };
	assert_int_equal(batches_get(f->st, id, &s, NULL, &e), 0);
	assert_string_equal(s.status, want);
}

static int count_type(const struct notice_event_rec *ev, void *arg)
{
	int *c = arg;
	c[ev->type]++;
	return 0;
}

static size_t mailq_count(struct fixture *f, struct mailreq *first)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct error e = { { 0 }, 0 };
	const void *k, *v;
	size_t kl, vl, n = 0;
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_iter_open(t, DB_MAILQ, NULL, 0, &it, &e), 0);
	while (store_iter_next(it, &k, &kl, &v, &vl) == 0) {
		if (n++ == 0 && first != NULL) {
			struct buf p;
			buf_init(&p, 1 << 20);
			assert_int_equal(store_unseal(f->st, DB_MAILQ, k, kl, v, vl, &p, &e), 0);
			assert_int_equal(mailreq_decode(be64_get(k), p.data, p.len, first, &e), 0);
			buf_free(&p);
		}
	}
	store_iter_close(&it);
	store_abort(&t);
	return n;
}

/* sent, bounced (5xx), deferred (4xx) then failed after retry_for, no
 * record for no address; events; the batch becomes "sent" with a report. */
static void test_states(void **state)
{
	static const char *const to[] = { "taro@example.jp", "perm-rcpt-2@example.jp",
					  "temp-rcpt-3@example.jp", "" };
	struct fixture *f = *state;
	struct rig r;
	struct delivery d;
	int64_t now = now_utc();
	int ev[32] = { 0 };
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	char *msg, *env, *text;

	put_batch(f->st, BATCH, 0, to, 4);
	rig_open(f, &r);
	run(&r, now);
	get(f, BATCH, 1, 0, &d);
	assert_int_equal(d.state, DELIVERY_SENT);
	assert_int_equal(d.contacts, 1);
	assert_string_equal(d.queue_id, "Q1");
	assert_true(d.sent_at >= now);
	get(f, BATCH, 2, 0, &d);
	assert_int_equal(d.state, DELIVERY_BOUNCED);
	assert_string_equal(d.bounce_status, "5.1.1");
	assert_non_null(strstr(d.reply, "550"));
	get(f, BATCH, 3, 0, &d);
	assert_int_equal(d.state, DELIVERY_DEFERRED);
	assert_int_equal(d.attempts, 1);
	assert_true(d.next_at >= now + QUEUE_BACKOFF_MIN && d.next_at <= now + QUEUE_BACKOFF_MIN + 5);
	get(f, BATCH, 4, 1, &d); /* no address: the paper list, no record */
	status_is(f, BATCH, BATCH_STATUS_SENDING);
	/* What the relay got: to the resident, from a VERP return path, with a link. */
	msg = relay_file("Q1.eml");
	env = relay_file("Q1.env");
	assert_non_null(msg);
	assert_non_null(env);
	assert_non_null(strstr(env, "rcpt taro@example.jp"));
	assert_non_null(strstr(env, "from bounce+7-1-"));
	text = decoded(msg);
	assert_non_null(strstr(text, "https://portal.ward.example.jp/n/"));
	assert_null(strstr(msg, "application/pdf"));
	g_free(text);
	free(msg);
	free(env);
	/* The retry is due after its back-off; at 1 h past queueing it fails. */
	run(&r, now + 3601);
	get(f, BATCH, 3, 0, &d);
	assert_int_equal(d.state, DELIVERY_FAILED);
	status_is(f, BATCH, BATCH_STATUS_SENT);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(notice_events_each(t, BATCH, 0, count_type, ev, &e), 0);
	store_abort(&t);
	assert_int_equal(ev[EV_SENT], 1);
	assert_int_equal(ev[EV_BOUNCED], 1);
	assert_int_equal(ev[EV_DEFERRED], 1);
	assert_int_equal(ev[EV_FAILED], 1);
	/* The report (counts only, no address) went to report_to, and its
	 * request was deleted. */
	for (int i = 0; i < 10 && mailq_count(f, NULL) > 0; i++)
		run(&r, now + 3602);
	assert_int_equal(mailq_count(f, NULL), 0);
	env = relay_file("Q2.env");
	msg = relay_file("Q2.eml");
	assert_non_null(env);
	assert_non_null(msg);
	assert_non_null(strstr(env, "rcpt kacho@ward.example.jp"));
	text = decoded(msg);
	assert_non_null(strstr(text, "送信済み: 1 件"));
	assert_non_null(strstr(text, "不達（宛先エラー）: 1 件"));
	assert_non_null(strstr(text, "送信失敗: 1 件"));
	assert_non_null(strstr(text, "紙で通知する区民（アドレスなし等）: 1 件"));
	assert_null(strstr(text, "taro"));
	assert_null(strstr(msg, "taro"));
	g_free(text);
	free(env);
	free(msg);
	rig_close(&r);
}

/* A test batch goes to the test address only, marked テスト. */
/* A batch withdrawn while the mailer has it loaded: nothing more of it is
 * handed over (its deferred delivery is not retried, nor failed), and it
 * stays withdrawn. */
static void test_withdrawn(void **state)
{
	static const char *const to[] = { "temp-rcpt-1@example.jp" };
	struct fixture *f = *state;
	struct rig r;
	struct delivery d;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	int64_t now = now_utc();

	put_batch(f->st, BATCH, 0, to, 1);
	rig_open(f, &r);
	run(&r, now);
	get(f, BATCH, 1, 0, &d);
	assert_int_equal(d.state, DELIVERY_DEFERRED);
	assert_int_equal(d.attempts, 1);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(batches_change_status(t, BATCH, BATCH_STATUS_SENDING,
					       BATCH_STATUS_WITHDRAWN, 0, 0, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
	run(&r, now + 3601); /* the retry was due, and its deadline past */
	get(f, BATCH, 1, 0, &d);
	assert_int_equal(d.state, DELIVERY_DEFERRED);
	assert_int_equal(d.attempts, 1);
	status_is(f, BATCH, BATCH_STATUS_WITHDRAWN);
	rig_close(&r);
}

static void test_test_batch(void **state)
{
	static const char *const to[] = { "hanako@example.jp" };
	struct fixture *f = *state;
	struct rig r;
	struct delivery d;
	char *env, *msg;

	put_batch(f->st, BATCH + 1, 1, to, 1);
	rig_open(f, &r);
	run(&r, now_utc());
	get(f, BATCH + 1, 1, 0, &d);
	assert_int_equal(d.state, DELIVERY_SENT);
	status_is(f, BATCH + 1, BATCH_STATUS_SENT);
	env = relay_file("Q1.env");
	msg = relay_file("Q1.eml");
	assert_non_null(env);
	assert_non_null(msg);
	assert_non_null(strstr(env, "rcpt shiken@ward.example.jp"));
	assert_null(strstr(env, "hanako"));
	assert_null(strstr(msg, "hanako"));
	/* 【テスト】 in the Subject, as an RFC 2047 word: its UTF-8 base64 begins "44CQ44OG44K544OI" */
	assert_non_null(strstr(msg, "44CQ44OG44K544OI"));
	free(env);
	free(msg);
	rig_close(&r);
}

static int relay_rcpt_is(const char *name, const char *want)
{
	char line[300];
	char *env = relay_file(name);
	int ok;
	snprintf(line, sizeof(line), "rcpt %s\n", want);
	ok = env != NULL && strstr(env, line) != NULL;
	free(env);
	return ok;
}

/* A test batch also goes to its submitter (BR_FROM, the address of the
 * staff member who mailed it in), in turn with the test address: never to
 * the residents. */
static void test_test_batch_submitter(void **state)
{
	static const char *const to[] = { "a@example.jp", "b@example.jp", "c@example.jp" };
	struct fixture *f = *state;
	struct rig r;

	batch_from = "teishutsu@ward.example.jp";
	put_batch(f->st, BATCH + 2, 1, to, 3);
	batch_from = "cli";
	rig_open(f, &r);
	run(&r, now_utc());
	status_is(f, BATCH + 2, BATCH_STATUS_SENT);
	/* Q1..Q3 are the three messages, Q4 the report. */
	assert_true(relay_rcpt_is("Q1.env", "teishutsu@ward.example.jp") +
			    relay_rcpt_is("Q2.env", "teishutsu@ward.example.jp") +
			    relay_rcpt_is("Q3.env", "teishutsu@ward.example.jp") ==
		    2);
	assert_true(relay_rcpt_is("Q1.env", "shiken@ward.example.jp") +
			    relay_rcpt_is("Q2.env", "shiken@ward.example.jp") +
			    relay_rcpt_is("Q3.env", "shiken@ward.example.jp") ==
		    1);
	for (int i = 1; i <= 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "Q%d.env", i);
		assert_false(relay_rcpt_is(name, to[i - 1]));
	}
	rig_close(&r);
}

static void consent_record(struct fixture *f, const char *key, const char *type,
			   const char *channel)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct consent_rec c;
	memset(&c, 0, sizeof(c));
	str_copy(c.channel, channel, sizeof(c.channel));
	c.at = now_utc() - 86400;
	str_copy(c.terms, "2026-04", sizeof(c.terms));
	c.batch = 3;
	c.seq = 1;
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(consent_put(t, key, type, &c, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
}

/* A resident who declined electronic delivery of this notice type (an
 * earlier batch, DB_CONSENT) gets no mail: no delivery, the paper list,
 * "declined" in the batch's access record.  A consent, or a decline of
 * another type, changes nothing. */
static void test_consent_declined(void **state)
{
	static const char *const to[] = { "ichiro@example.jp", "jiro@example.jp",
					  "saburo@example.jp" };
	struct fixture *f = *state;
	struct rig r;
	struct delivery d;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct notice_access a;
	struct notice_status *sv = NULL;
	size_t n = 0;

	put_batch(f->st, BATCH + 3, 0, to, 3);
	consent_record(f, "k1", "別の通知", "paper");
	consent_record(f, "k2", "住民税決定通知", "paper");
	consent_record(f, "k3", "住民税決定通知", "electronic");
	rig_open(f, &r);
	run(&r, now_utc());
	status_is(f, BATCH + 3, BATCH_STATUS_SENT);
	get(f, BATCH + 3, 1, 0, &d);
	assert_int_equal(d.state, DELIVERY_SENT);
	get(f, BATCH + 3, 2, 1, &d);
	get(f, BATCH + 3, 3, 0, &d);
	assert_int_equal(d.state, DELIVERY_SENT);
	/* Q1, Q2: the two messages; Q3: the report. */
	for (int i = 1; i <= 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "Q%d.env", i);
		assert_false(relay_rcpt_is(name, "jiro@example.jp"));
	}
	assert_true(relay_rcpt_is("Q1.env", "ichiro@example.jp") +
			    relay_rcpt_is("Q2.env", "ichiro@example.jp") == 1);
	assert_true(relay_rcpt_is("Q1.env", "saburo@example.jp") +
			    relay_rcpt_is("Q2.env", "saburo@example.jp") == 1);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(access_get(t, BATCH + 3, 2, &a, &e), 0);
	assert_int_equal(a.consent, CONSENT_DECLINED);
	assert_string_equal(a.terms, "2026-04");
	assert_int_equal(access_get(t, BATCH + 3, 1, &a, &e), 1);
	store_abort(&t);
	assert_int_equal(notice_statuses(f->st, BATCH + 3, now_utc(), &sv, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(sv[1].paper, 1);
	assert_string_equal(sv[1].state, "paper");
	assert_int_equal(sv[0].paper, 0);
	assert_string_equal(sv[2].state, "sent");
	free(sv);
	rig_close(&r);
}

/* An OTP request leaves within the poll and its record is deleted. */
static void test_mailq(void **state)
{
	struct fixture *f = *state;
	struct rig r;
	struct mailreq m;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct timespec t0, t1;
	char *env;

	memset(&m, 0, sizeof(m));
	str_copy(m.kind, "otp", sizeof(m.kind));
	str_copy(m.to, "jiro@example.jp", sizeof(m.to));
	str_copy(m.subject, "確認コード", sizeof(m.subject));
	m.text = "確認コードは 123456 です。\n";
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(mailreq_add(t, &m, &e), 0);
	assert_int_equal(store_commit(&t, &e), 0);
	str_copy(m.to, "not an address", sizeof(m.to));
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(mailreq_add(t, &m, &e), -1);
	store_abort(&t);
	assert_int_equal(mailq_count(f, NULL), 1);
	rig_open(f, &r);
	/* It leaves within 2 s (the portal's promise to a waiting resident),
	 * then its record is deleted. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct pool_outcome o;
		assert_int_equal(mailq_step(r.mq, &e), 0);
		if (pool_collect(r.pool, &o, 1, 20) == 1)
			mailq_outcome(r.mq, &o);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((env = relay_file("Q1.env")) == NULL && t1.tv_sec - t0.tv_sec < 5);
	assert_non_null(env);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000);
	free(env);
	run(&r, now_utc());
	assert_int_equal(mailq_count(f, NULL), 0);
	env = relay_file("Q1.env");
	assert_non_null(env);
	assert_non_null(strstr(env, "rcpt jiro@example.jp"));
	assert_non_null(strstr(env, "from tsuchi@ward.example.jp"));
	free(env);
	rig_close(&r);
}

/* With a relay, the replies to staff in the outbox Maildir are sent to
 * their To address and deleted; one without a usable To is set aside in
 * cur/, never deleted. */
static void test_outbox(void **state)
{
	static const char good[] = "From: tayori <tsuchi@ward.example.jp>\r\n"
				   "To: kakari@ward.example.jp\r\nSubject: received\r\n"
				   "Message-ID: <1@ward.example.jp>\r\n\r\nbatch 3 stored\r\n";
	static const char bad[] = "From: tayori <tsuchi@ward.example.jp>\r\nSubject: no one\r\n"
				  "\r\nto nobody\r\n";
	struct fixture *f = *state;
	struct rig r;
	struct outbox *ob = NULL;
	struct error e = { { 0 }, 0 };
	char dir[600], p[700], *env, *msg;
	struct stat sb;

	snprintf(dir, sizeof(dir), "%s/outbox", f->dir);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, (const char *[]){ "", "/new", "/cur" }[i]);
		assert_int_equal(mkdir_p(p, 0700, &e), 0);
	}
	snprintf(p, sizeof(p), "%s/new/1.reply", dir);
	assert_int_equal(file_write_atomic(p, good, sizeof(good) - 1, 0600, &e), 0);
	snprintf(p, sizeof(p), "%s/new/2.reply", dir);
	assert_int_equal(file_write_atomic(p, bad, sizeof(bad) - 1, 0600, &e), 0);
	rig_open(f, &r);
	assert_int_equal(outbox_open(&r.sc, r.pool, dir, &ob, &e), 0);
	for (int i = 0; i < 200 && (!relay_has("Q1.env") || outbox_in_flight(ob) > 0); i++) {
		struct pool_outcome o;
		assert_int_equal(outbox_step(ob, &e), 0);
		if (pool_collect(r.pool, &o, 1, 20) == 1)
			outbox_outcome(ob, &o);
	}
	env = relay_file("Q1.env");
	msg = relay_file("Q1.eml");
	assert_non_null(env);
	assert_non_null(msg);
	assert_non_null(strstr(env, "rcpt kakari@ward.example.jp"));
	assert_non_null(strstr(env, "from tsuchi@ward.example.jp"));
	assert_non_null(strstr(msg, "batch 3 stored"));
	snprintf(p, sizeof(p), "%s/new/1.reply", dir);
	assert_int_equal(stat(p, &sb), -1);
	snprintf(p, sizeof(p), "%s/cur/2.reply:2,T", dir);
	assert_int_equal(stat(p, &sb), 0);
	assert_false(relay_has("Q2.env"));
	free(env);
	free(msg);
	outbox_close(&ob);
	rig_close(&r);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(queue_backoff(1), 60);
	assert_int_equal(queue_backoff(2), 120);
	assert_int_equal(queue_backoff(6), 1920);
	assert_int_equal(queue_backoff(7), 3600);
	assert_int_equal(queue_backoff(100), 3600);
}

static int rsetup(void **state)
{
	if (relay_start() < 0)
		return -1;
	return setup(state);
}

static int rteardown(void **state)
{
	relay_stop();
	return teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test_setup_teardown(test_states, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_test_batch, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_withdrawn, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_test_batch_submitter, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_mailq, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_consent_declined, rsetup, rteardown),
		cmocka_unit_test_setup_teardown(test_outbox, rsetup, rteardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
