/*
 * tests/imap/imap_driver.c — drives gateway/imap_intake.c against a real
 * IMAP server (Dovecot, started by tests/integration/imap_intake.sh) until
 * the real gateway loop calls it.  Runs as a test program, never in tayori.
 *
 * The IMAP side is the real code: it connects, fetches, and moves messages
 * in the server.  Only the batch step is replaced: this file defines
 * intake_message() (instead of linking gateway/intake.c, which needs a
 * store, the keys process and registered staff), and its outcome is chosen
 * by the message itself, in a header "X-Tayori-Test: stored|duplicate|
 * refused|dropped|tempfail".  Every message it receives is written to
 * OUTDIR/N-OUTCOME.eml so the test can compare the bytes with what it
 * appended.  A "tempfail" message is stored once OUTDIR/tempfail-ok exists.
 *
 *   imap_driver CONF OUTDIR STEP_MS          steps until SIGTERM/SIGINT
 *   imap_driver CONF OUTDIR 0 --once         one step; exit 0 when connected
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "gateway/imap_intake.h"
#include "gateway/intake.h"
#include "lib/log.h"

struct intake {
	const char *outdir;
	int n;
};

const char *intake_outcome_name(enum intake_outcome o)
{
	static const char *const names[] = { "stored", "duplicate", "refused", "dropped", "tempfail" };
	return (unsigned)o < ARRAY_SIZE(names) ? names[o] : "?";
}

enum intake_outcome intake_message(struct intake *in, const uint8_t *raw, size_t len,
				   const char *source, uint64_t *batch, struct error *e)
{
	static const char hdr[] = "\nX-Tayori-Test: ";
	enum intake_outcome o = INTAKE_DROPPED;
	char path[4096], ok[4096];
	const uint8_t *p = memmem(raw, len, hdr, sizeof(hdr) - 1);
	struct error we;

	*batch = 0;
	if (p != NULL) {
		const char *v = (const char *)p + sizeof(hdr) - 1;
		size_t left = len - (size_t)((const uint8_t *)v - raw);
		for (int i = 0; i < 5; i++) {
			const char *name = intake_outcome_name((enum intake_outcome)i);
			size_t nl = strlen(name);
			if (left > nl && memcmp(v, name, nl) == 0 && (v[nl] == '\r' || v[nl] == '\n'))
				o = (enum intake_outcome)i;
		}
	}
	str_fmt(ok, sizeof(ok), "%s/tempfail-ok", in->outdir);
	if (o == INTAKE_TEMPFAIL && access(ok, F_OK) == 0)
		o = INTAKE_STORED;
	in->n++;
	str_fmt(path, sizeof(path), "%s/%03d-%s.eml", in->outdir, in->n, intake_outcome_name(o));
	if (file_write_atomic(path, raw, len, 0644, &we) < 0) {
		fprintf(stderr, "imap_driver: %s\n", we.msg);
		return err_tmp(e, "test driver cannot write"), INTAKE_TEMPFAIL;
	}
	if (o == INTAKE_STORED)
		*batch = (uint64_t)in->n;
	if (o == INTAKE_TEMPFAIL)
		err_tmp(e, "test driver: tempfail requested");
	printf("intake n=%d source=%s len=%zu outcome=%s\n", in->n, source, len, intake_outcome_name(o));
	fflush(stdout);
	return o;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct conf *c = NULL;
	struct imap_intake *ii = NULL;
	struct intake in = { 0 };
	struct error e = { { 0 }, 0 };
	struct sigaction sa;
	int64_t step_ms;
	int once, rc = 1;

	if (argc < 4 || parse_int64(argv[3], 0, 600000, &step_ms) < 0) {
		fprintf(stderr, "usage: imap_driver CONF OUTDIR STEP_MS [--once]\n");
		return 2;
	}
	once = argc > 4 && strcmp(argv[4], "--once") == 0;
	log_init("gateway", 0, LOG_LVL_DEBUG);
	signal(SIGPIPE, SIG_IGN); /* as the supervisor does for every role */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	in.outdir = argv[2];
	if (conf_load(argv[1], &c, &e) < 0 || imap_intake_new(c, &in, &ii, &e) < 0) {
		fprintf(stderr, "imap_driver: %s\n", e.msg);
		goto out;
	}
	if (once) {
		rc = imap_intake_step(ii, 0, &e) == 0 && imap_intake_connected(ii) ? 0 : 1;
		printf("once connected=%d\n", imap_intake_connected(ii));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		if (imap_intake_step(ii, (int)step_ms, &e) < 0)
			printf("step error\n"); /* logged by imap_intake; just go on */
		fflush(stdout);
	}
	rc = 0;
out:
	imap_intake_free(&ii);
	conf_free(&c);
	return rc;
}
