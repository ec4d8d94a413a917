/*
 * pool_driver.c — drives the mailer's pool (mailer/pool.h) from the
 * command line for the mail benchmark (tests/bench/bench-mail) and the
 * Postfix end-to-end test (tests/integration/postfix_relay.sh).  A test
 * and benchmark tool, not part of tayori.
 *
 *   pool_driver bench HOST PORT N CONNECTIONS SAMPLE_FILE
 *       build N notification messages (mailer/message.h) and send them
 *       through a pool of CONNECTIONS to the relay; write one of them to
 *       SAMPLE_FILE (the peer's message); print one line of figures.
 *   pool_driver send HOST PORT N DOMAIN OUT_DIR
 *       send N messages to residentI@DOMAIN, each also written to
 *       OUT_DIR/I.eml; print "I OUTCOME QUEUE_ID" a line; exit 0 when
 *       every one was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "lib/buf.h"
#include "mailer/message.h"
#include "mailer/pool.h"

#define FROM "bounce+1-1-benchbenchbenchbenchbench@city.example.lg.jp"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int build(const char *rcpt, unsigned long i, struct buf *b)
{
	struct message_input in;
	struct error e = {{0}, 0};
	char link[128];

	memset(&in, 0, sizeof in);
	snprintf(link, sizeof link, "https://portal.city.example.lg.jp/n/%08lxQk3v9ZpX2mT7bR4sW1yHcN", i);
	in.from_addr = "tsuchi@city.example.lg.jp";
	in.from_name = "練馬区";
	in.reply_to = "zeimu@city.example.lg.jp";
	in.to = rcpt;
	in.title = "令和8年度 特別区民税・都民税 決定通知書";
	in.message = "令和8年度の特別区民税・都民税の税額を決定しましたので、通知書をお届けします。\n"
		     "内容をご確認のうえ、納期限までに納付してください。";
	in.link = link;
	in.portal_url = "https://portal.city.example.lg.jp/";
	in.notice_code = "K7Q2-M4X9";
	in.auth = MESSAGE_AUTH_VALUE;
	in.auth_label = "生年月日";
	in.deadline = "2026-12-25";
	in.contact = "練馬区 区民部 税務課\n〒176-8501 練馬区豊玉北6-12-1\n電話 03-3993-1111（代表）";
	in.kyouji = "この処分に不服がある場合は、この処分があったことを知った日の翌日から起算して"
		    "3か月以内に、練馬区長に対して審査請求をすることができます。";
	in.msgid_domain = "city.example.lg.jp";
	in.date = time(NULL);
	buf_init(b, 1 << 20);
	if (message_build(&in, b, &e) < 0) {
		fprintf(stderr, "pool_driver: message_build: %s\n", e.msg);
		return -1;
	}
	return 0;
}

struct tally {
	unsigned long sent, temp, perm;
};

static void take(struct pool *p, struct tally *t, int wait_ms, FILE *log)
{
	struct pool_outcome o[256];
	size_t n = pool_collect(p, o, 256, wait_ms);
	for (size_t i = 0; i < n; i++) {
		const char *what = o[i].r.outcome == SMTP_SENT ? "sent" : o[i].r.outcome == SMTP_TEMPFAIL ? "tempfail" : "permfail";
		if (o[i].r.outcome == SMTP_SENT)
			t->sent++;
		else if (o[i].r.outcome == SMTP_TEMPFAIL)
			t->temp++;
		else
			t->perm++;
		if (log != NULL)
			fprintf(log, "%llu %s %s\n", (unsigned long long)o[i].cookie, what,
				o[i].r.outcome == SMTP_SENT ? o[i].r.queue_id : o[i].r.text);
		else if (o[i].r.outcome != SMTP_SENT && t->temp + t->perm <= 3)
			fprintf(stderr, "pool_driver: %s: %d %s %s\n", what, o[i].r.code, o[i].r.status, o[i].r.text);
	}
}

/* Send n messages to rcpt_fmt (with %lu for the number); each message is
 * built just before it is handed over, as the mailer does. */
static int run(struct pool *p, unsigned long n, const char *domain, const char *sample, const char *outdir,
	       struct tally *t, size_t *size)
{
	struct error e = {{0}, 0};
	FILE *log = outdir != NULL ? stdout : NULL;

	for (unsigned long i = 0; i < n; i++) {
		struct pool_job j;
		struct buf b;
		memset(&j, 0, sizeof j);
		j.cookie = i;
		snprintf(j.mail_from, sizeof j.mail_from, "%s", FROM);
		snprintf(j.rcpt, sizeof j.rcpt, "resident%lu@%s", i, domain);
		if (build(j.rcpt, i, &b) < 0)
			return -1;
		*size = b.len;
		if ((i == 0 && sample != NULL) || outdir != NULL) {
			char path[4096];
			FILE *f;
			if (outdir != NULL)
				snprintf(path, sizeof path, "%s/%lu.eml", outdir, i);
			f = fopen(outdir != NULL ? path : sample, "wb");
			if (f == NULL || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
				fprintf(stderr, "pool_driver: cannot write the message's copy\n");
				return -1;
			}
		}
		j.msg = b.data;
		j.len = b.len;
		for (;;) {
			int rc = pool_submit(p, &j, &e);
			if (rc < 0) {
				fprintf(stderr, "pool_driver: %s\n", e.msg);
				return -1;
			}
			if (rc == 0)
				break;
			take(p, t, 100, log);
		}
		take(p, t, 0, log);
	}
	while (pool_in_flight(p) > 0)
		take(p, t, 1000, log);
	return 0;
}

int main(int argc, char **argv)
{
	struct smtp_config sc = {0};
	struct pool_config pc = {0};
	struct pool *p = NULL;
	struct error e = {{0}, 0};
	struct tally t = {0};
	struct rusage ru;
	bool bench = argc == 7 && strcmp(argv[1], "bench") == 0;
	size_t size = 0;
	unsigned long n;
	double t0, t1;

	if (!bench && !(argc == 7 && strcmp(argv[1], "send") == 0)) {
		fprintf(stderr, "usage: pool_driver bench HOST PORT N CONNECTIONS SAMPLE_FILE\n"
				"       pool_driver send HOST PORT N DOMAIN OUT_DIR\n");
		return 1;
	}
	n = strtoul(argv[4], NULL, 10);
	sc.host = argv[2];
	sc.port = (unsigned)strtoul(argv[3], NULL, 10);
	sc.helo_name = "mailer.city.example.lg.jp";
	pc.smtp = &sc;
	pc.connections = bench ? (unsigned)strtoul(argv[5], NULL, 10) : 2;
	pc.per_domain_connections = pc.connections; /* one sink, one domain */
	t0 = now_s();
	if (pool_open(&pc, &p, &e) < 0) {
		fprintf(stderr, "pool_driver: %s\n", e.msg);
		return 3;
	}
	if (run(p, n, bench ? "example.jp" : argv[5], bench ? argv[6] : NULL, bench ? NULL : argv[6], &t, &size) < 0)
		return 3;
	t1 = now_s();
	pool_close(&p);
	getrusage(RUSAGE_SELF, &ru);
	if (bench)
		printf("pool: %lu messages of %zu bytes over %u connections in %.3f s: %.0f msg/s; "
		       "sent %lu, tempfail %lu, permfail %lu; peak RSS %ld kB\n",
		       n, size, pc.connections, t1 - t0, (double)n / (t1 - t0), t.sent, t.temp, t.perm, ru.ru_maxrss);
	return t.sent == n ? 0 : 2;
}
