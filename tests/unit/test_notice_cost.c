/*
 * test_notice_cost.c — what the MACs and the anchored versions of notice
 * records cost where callers work in bulk: 1,000 delivery_put in 10
 * transactions (the mailer's way), new records then the same again, and the furthest states of 2,000
 * residents (notice_statuses, the dashboard's and `tayori batch show`'s
 * way).  Prints the times (no timed assertion: the machine decides) and
 * checks the results.  Runs as a stand-alone cmocka program against a real
 * LMDB store and a real keys process; uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/notice.h"
#include "lib/store.h"
#include "lib/util.h"

#include "tenant_fixture.h"
#include "notice_fixture.h"

#define RESIDENTS 2000
#define PUTS 1000
#define TXNS 10

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Deliveries of rows [from, from + n) in txns transactions. */
static void put_many(struct fixture *f, uint32_t from, uint32_t n, int txns)
{
	struct error e = { { 0 }, 0 };
	uint32_t per = n / (uint32_t)txns;

	for (int j = 0; j < txns; j++) {
		struct store_txn *t = begin(f, 1);
		for (uint32_t i = 0; i < per; i++) {
			struct delivery d;
			uint32_t seq = from + (uint32_t)j * per + i;
			int r = delivery_get(t, 50, seq, &d, &e);
			assert_true(r == 0 || r == 1);
			d.state = DELIVERY_SENT;
			d.created = 1790000000;
			d.sent_at = 1790000100;
			d.contacts = 1;
			if (delivery_put(t, &d, &e) < 0)
				fail_msg("delivery_put: %s", e.msg);
		}
		commit(&t);
	}
}

static void test_cost_of_bulk_reads_and_writes(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	const char **emails = xcalloc(RESIDENTS, sizeof(*emails));
	struct notice_status *v = NULL;
	size_t n = 0;
	double t0, put_ms, reput_ms, status_ms = 0;

	for (int i = 0; i < RESIDENTS; i++)
		emails[i] = "r@example.jp";
	put_batch(f, 50, "", RESIDENTS, emails);
	free(emails);

	t0 = now_ms();
	put_many(f, 1, PUTS, TXNS);
	put_ms = now_ms() - t0;
	/* The same records again (version 2: the ones anchored). */
	t0 = now_ms();
	put_many(f, 1, PUTS, TXNS);
	reput_ms = now_ms() - t0;
	put_many(f, PUTS + 1, RESIDENTS - PUTS, TXNS);
	{
		struct store_txn *t = begin(f, 1);
		for (uint32_t s = 1; s <= 100; s++) {
			struct notice_access a;
			assert_int_equal(access_get(t, 50, s, &a, &e), 1);
			a.downloaded_at = 1790000200;
			assert_int_equal(access_put(t, &a, &e), 0);
		}
		commit(&t);
	}
	for (int run = 0; run < 3; run++) {
		double ms;
		t0 = now_ms();
		if (notice_statuses(f->st, 50, now_utc(), &v, &n, &e) < 0)
			fail_msg("notice_statuses: %s", e.msg);
		ms = now_ms() - t0;
		if (run == 0 || ms < status_ms)
			status_ms = ms;
		assert_int_equal(n, RESIDENTS);
		assert_string_equal(v[0].state, "downloaded");
		assert_string_equal(v[RESIDENTS - 1].state, "sent");
		free(v);
		v = NULL;
	}
	printf("# %d delivery_put in %d transactions: %.1f ms new, %.1f ms rewritten\n", PUTS,
	       TXNS, put_ms, reput_ms);
	printf("# notice_statuses of %d residents: %.1f ms (best of 3)\n", RESIDENTS, status_ms);
}

int main(void)
{
	/* The shared fixture's helpers this file does not need. */
	(void)collect;
	(void)put_delivery;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cost_of_bulk_reads_and_writes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
