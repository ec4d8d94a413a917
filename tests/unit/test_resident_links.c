/*
 * test_resident_links.c — two jobs in one test program.  Run without
 * arguments (as `make check` does) it tests the appeal deadline of the
 * notice page (行政不服審査法 第18条 with 民法 第143条: month ends, leap
 * years, the JST day of arrival).  Run with arguments it is the tool the
 * portal's integration test drives a real tenant with, standing in for
 * the mailer where the test needs a sent notice:
 *
 *   test_resident_links links DIR BATCH   every resident of an approved
 *       batch gets a "sent" delivery, a link token and a notice code;
 *       prints "SEQ TOKEN CODE" per resident
 *   test_resident_links access DIR BATCH SEQ  the resident's access
 *       record and the batch's events, as JSON
 *   test_resident_links consent DIR BATCH SEQ  the resident's consent
 *       record (lib/consent.h) for the batch's notice type, as JSON
 *       ({"found":false} when there is none)
 *
 * DIR is the tenant's data directory; a keys process is spawned for it.
 * Runs as a test program (cmocka) and as a test tool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keys.h"
#include "lib/batches.h"
#include "lib/consent.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/svcuser.h"
#include "lib/util.h"
#include "portal/resident.h"

static void test_deadline(void **state)
{
	static const struct {
		const char *arrival_utc; /* "YYYY-MM-DD HH" */
		const char *want;
	} cases[] = {
		{ "2026-04-01 03", "2026年7月1日" },   /* day after 4/2 -> ends 7/1 */
		{ "2026-03-31 15", "2026年7月1日" },   /* 00:00 JST on 4/1 */
		{ "2026-11-30 03", "2027年2月28日" },  /* starts 12/1 -> 3/1 - 1 */
		{ "2027-11-29 03", "2028年2月29日" },  /* starts 11/30 -> no 2/30: last day */
		{ "2026-11-28 03", "2027年2月28日" },  /* starts 11/29 -> no 2/29 in 2027 */
		{ "2026-12-31 03", "2027年3月31日" },  /* starts 1/1 -> 4/1 - 1 */
		{ "2026-05-31 03", "2026年8月31日" },  /* starts 6/1 -> 9/1 - 1 */
		{ "2026-10-30 03", "2027年1月30日" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tm tm;
		char out[32];
		memset(&tm, 0, sizeof(tm));
		assert_non_null(strptime(cases[i].arrival_utc, "%Y-%m-%d %H", &tm));
		assert_int_equal(resident_appeal_deadline((int64_t)timegm(&tm), out), 0);
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("arrival %s UTC: %s, want %s", cases[i].arrival_utc, out, cases[i].want);
	}
}

/* ---- the tool ---- */

struct tool {
	struct keys_client *kc;
	pid_t pid;
	struct store *st;
	const char *dir;
};

static int tool_open(struct tool *t, const char *dir, struct error *e)
{
	struct keys_cred_conf cc;

	memset(t, 0, sizeof(*t));
	memset(&cc, 0, sizeof(cc));
	t->dir = dir;
	if (keys_spawn_cred(dir, &cc, &t->kc, &t->pid, e) < 0)
		return -1;
	return store_open(dir, t->kc, 0, &t->st, e);
}

/* Give back to the service user what this tool created (as cmd/cli.c). */
static void tool_close(struct tool *t)
{
	struct stat sb;
	struct error e = { { 0 }, 0 };

	store_close(&t->st);
	if (t->kc != NULL)
		keys_spawn_wait(&t->kc, t->pid);
	if (geteuid() == 0 && stat(t->dir, &sb) == 0 && sb.st_uid != 0)
		svcuser_own_tree(t->dir, sb.st_uid, sb.st_gid, NULL, &e);
}

static int tool_links(struct tool *t, uint64_t batch, struct error *e)
{
	struct store_txn *tx = NULL;
	int64_t now = now_utc();

	if (store_begin(t->st, 1, &tx, e) < 0)
		return -1;
	for (uint32_t seq = 1;; seq++) {
		uint8_t k[12];
		const void *v;
		size_t vl;
		struct delivery d;
		char token[NOTICE_TOKEN_LEN + 1], code[NOTICE_CODE_TEXT + 1];
		int r;

		be64_put(k, batch);
		be32_put(k + 8, seq);
		r = store_get(tx, DB_RESIDENTS, k, sizeof(k), &v, &vl, e);
		if (r < 0)
			goto fail;
		if (r > 0)
			break;
		memset(&d, 0, sizeof(d));
		d.batch = batch;
		d.seq = seq;
		d.state = DELIVERY_SENT;
		d.contacts = 1;
		d.created = now;
		d.sent_at = now;
		d.last_at = now;
		if (delivery_put(tx, &d, e) < 0 ||
		    notice_link_new(tx, batch, seq, now + 30 * 86400, token, e) < 0 ||
		    notice_code_get_or_new(tx, batch, seq, code, e) < 0)
			goto fail;
		printf("%u %s %s\n", seq, token, code);
	}
	return store_commit(&tx, e);
fail:
	store_abort(&tx);
	return -1;
}

static int print_event(const struct notice_event_rec *ev, void *arg)
{
	int *first = arg;
	printf("%s{\"seq\":%u,\"type\":\"%s\",\"delay\":%lld,\"ua\":", *first ? "" : ",", ev->seq,
	       notice_event_name(ev->type), (long long)ev->delay);
	json_fputs(stdout, ev->ua);
	printf("}");
	*first = 0;
	return 0;
}

static int tool_access(struct tool *t, uint64_t batch, uint32_t seq, struct error *e)
{
	struct store_txn *tx = NULL;
	struct notice_access a;
	int first = 1, ret = -1;

	if (store_begin(t->st, 0, &tx, e) < 0 || access_get(tx, batch, seq, &a, e) < 0)
		goto out;
	printf("{\"opened_at\":%lld,\"auth_at\":%lld,\"downloaded_at\":%lld,\"failures\":%u,"
	       "\"locked\":%d,\"cert_downloads\":%u,\"consent\":%d,\"terms\":",
	       (long long)a.opened_at, (long long)a.auth_at, (long long)a.downloaded_at, a.failures,
	       a.locked, a.cert_downloads, (int)a.consent);
	json_fputs(stdout, a.terms);
	printf(",\"events\":[");
	if (notice_events_each(tx, batch, 0, print_event, &first, e) < 0)
		goto out;
	printf("]}\n");
	ret = 0;
out:
	store_abort(&tx);
	return ret;
}

/* The consent record of the resident of (batch, seq), looked up by their
 * key and the batch's title as the portal stores it. */
static int tool_consent(struct tool *t, uint64_t batch, uint32_t seq, struct error *e)
{
	struct store_txn *tx = NULL;
	struct consent_rec c;
	struct buf b;
	uint8_t k[12];
	char key[128] = "", title[512] = "";
	int r, ret = -1;

	buf_init(&b, 1 << 20);
	be64_put(k, batch);
	be32_put(k + 8, seq);
	if (store_begin(t->st, 0, &tx, e) < 0)
		goto out;
	r = store_get_sealed(tx, DB_RESIDENTS, k, sizeof(k), &b, e);
	if (r != 0 || rec_get_str(b.data, b.len, RR_KEY, key, sizeof(key)) < 0) {
		err_set(e, "no resident %u in batch %llu", seq, (unsigned long long)batch);
		goto out;
	}
	buf_reset(&b);
	if (store_get_sealed(tx, DB_BATCHES, k, 8, &b, e) != 0)
		goto out;
	rec_get_str(b.data, b.len, BR_TITLE, title, sizeof(title));
	r = consent_get(tx, key, consent_type_of(title), &c, e);
	if (r < 0)
		goto out;
	if (r == 1) {
		printf("{\"found\":false}\n");
	} else {
		printf("{\"found\":true,\"channel\":\"%s\",\"at\":%lld,\"terms\":", c.channel,
		       (long long)c.at);
		json_fputs(stdout, c.terms);
		printf(",\"batch\":%llu,\"seq\":%u}\n", (unsigned long long)c.batch, c.seq);
	}
	ret = 0;
out:
	store_abort(&tx);
	buf_wipe(&b);
	return ret;
}

static int tool(int argc, char **argv)
{
	struct tool t;
	struct error e = { { 0 }, 0 };
	int64_t batch = 0, seq = 0;
	int r = -1;

	if (argc < 4 || parse_int64(argv[3], 1, INT64_MAX, &batch) < 0 ||
	    (argc > 4 && parse_int64(argv[4], 1, UINT32_MAX, &seq) < 0)) {
		fprintf(stderr, "usage: %s links|access|consent DIR BATCH [SEQ]\n", argv[0]);
		return 2;
	}
	if (tool_open(&t, argv[2], &e) == 0) {
		if (strcmp(argv[1], "links") == 0)
			r = tool_links(&t, (uint64_t)batch, &e);
		else if (strcmp(argv[1], "access") == 0 && seq > 0)
			r = tool_access(&t, (uint64_t)batch, (uint32_t)seq, &e);
		else if (strcmp(argv[1], "consent") == 0 && seq > 0)
			r = tool_consent(&t, (uint64_t)batch, (uint32_t)seq, &e);
		else
			err_set(&e, "unknown command %s", argv[1]);
	}
	tool_close(&t);
	if (r < 0)
		fprintf(stderr, "%s: %s\n", argv[0], e.msg);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
	};
	if (argc > 1)
		return tool(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
