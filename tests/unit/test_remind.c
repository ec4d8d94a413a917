/*
 * test_remind.c — reminders (lib/remind.h): the 督促 schedule as staff
 * write it (ASCII and full-width digits, 日 and 日後, Japanese commas,
 * none) and what is refused; which point of the schedule is due at a time
 * (before, on and after each point, points missed together, done ones);
 * and a reminder on a real tenant (real LMDB, real keys process with its
 * record MACs): only residents sent and not opened go back to queued, the
 * batch goes from sent back to sending, each reminded resident gets an
 * event and the audit chain holds; a batch still sending is refused; the
 * schedule run over every sent batch reminds on each point once, skips an
 * unreadable schedule, and stops when the schedule is over.
 * Runs as a stand-alone cmocka program; forks a keys process per tenant test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/remind.h"
#include "lib/store.h"
#include "lib/util.h"
#include "lib/wardset.h"

#include "tenant_fixture.h"

#define DAY 86400

static void parses(const char *text, size_t n, const uint32_t *days)
{
	struct remind_schedule s;
	struct error e = { { 0 }, 0 };
	if (remind_schedule_parse(text, &s, &e) < 0)
		fail_msg("\"%s\": %s", text, e.msg);
	assert_int_equal(s.n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s.days[i], days[i]);
}

static void refuses(const char *text)
{
	struct remind_schedule s;
	struct error e = { { 0 }, 0 };
	if (remind_schedule_parse(text, &s, &e) == 0)
		fail_msg("\"%s\" was accepted", text);
	assert_non_null(strstr(e.msg, "督促"));
}

static void test_schedule_parse(void **state)
{
	(void)state;
	parses("3,7", 2, (const uint32_t[]){ 3, 7 });
	parses("7, 3", 2, (const uint32_t[]){ 3, 7 });
	parses("３日後、７日後", 2, (const uint32_t[]){ 3, 7 });
	parses("3日，10日 14", 3, (const uint32_t[]){ 3, 10, 14 });
	parses("5/5/5", 1, (const uint32_t[]){ 5 });
	parses("", 0, NULL);
	parses("なし", 0, NULL);
	parses("none", 0, NULL);
	parses(NULL, 0, NULL);
	refuses("0");
	refuses("366");
	refuses("3;7");
	refuses("three");
	refuses("3後");
	refuses("3日7");
	refuses("-3");
	refuses("1,2,3,4,5,6,7,8,9");
}

static void test_due(void **state)
{
	struct remind_schedule s = { { 3, 7 }, 2 };
	struct remind_schedule none = { { 0 }, 0 };
	const int64_t t0 = 1900000000;
	int64_t next = -1;
	(void)state;

	assert_int_equal(remind_due(&s, t0, 0, t0, &next), 0);
	assert_int_equal(next, t0 + 3 * DAY);
	assert_int_equal(remind_due(&s, t0, 0, t0 + 3 * DAY - 1, &next), 0);
	assert_int_equal(remind_due(&s, t0, 0, t0 + 3 * DAY, &next), 1);
	assert_int_equal(next, t0 + 7 * DAY);
	/* the first one done: nothing more until day 7 */
	assert_int_equal(remind_due(&s, t0, 1, t0 + 5 * DAY, &next), 0);
	assert_int_equal(remind_due(&s, t0, 1, t0 + 7 * DAY, &next), 2);
	assert_int_equal(next, 0);
	/* both points missed (the mailer was down): one reminder, both done */
	assert_int_equal(remind_due(&s, t0, 0, t0 + 30 * DAY, NULL), 2);
	assert_int_equal(remind_due(&s, t0, 2, t0 + 30 * DAY, &next), 0);
	assert_int_equal(next, 0);
	/* not sent yet, or no schedule */
	assert_int_equal(remind_due(&s, 0, 0, t0 + 30 * DAY, &next), 0);
	assert_int_equal(remind_due(&none, t0, 0, t0 + 30 * DAY, &next), 0);
	assert_int_equal(next, 0);
}

static void commit(struct store_txn **t)
{
	struct error e = { { 0 }, 0 };
	if (store_commit(t, &e) < 0)
		fail_msg("commit: %s", e.msg);
}

static void put_state(struct fixture *f, uint64_t id, const char *status)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct buf b;
	uint8_t key[8];

	buf_init(&b, 4096);
	be64_put(key, id);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(rec_put_str(&b, BS_STATUS, status) | rec_put_u64(&b, BS_CREATED, 1767225600) |
			 rec_put_u64(&b, BS_SEND_AT, 1800000000), 0);
	assert_int_equal(store_put(t, DB_BATCH_STATE, key, 8, b.data, b.len, &e), 0);
	commit(&t);
	buf_free(&b);
}

/* Resident seq of batch id: its delivery in state st, opened (1), not (0),
 * or not opened with its consent to mail declined (2). */
static void put_resident(struct fixture *f, uint64_t id, uint32_t seq, enum delivery_state st,
			 int opened)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct delivery d;
	struct notice_access a;

	memset(&d, 0, sizeof(d));
	d.batch = id;
	d.seq = seq;
	d.state = st;
	d.attempts = 1;
	d.contacts = st == DELIVERY_SENT ? 1 : 0;
	d.sent_at = 1800000000;
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	if (delivery_put(t, &d, &e) < 0)
		fail_msg("delivery_put: %s", e.msg);
	if (opened) {
		assert_int_equal(access_get(t, id, seq, &a, &e), 1);
		if (opened == 2)
			a.consent = CONSENT_DECLINED;
		else
			a.opened_at = 1800000100;
		if (access_put(t, &a, &e) < 0)
			fail_msg("access_put: %s", e.msg);
	}
	commit(&t);
}

static enum delivery_state state_of(struct fixture *f, uint64_t id, uint32_t seq,
				    uint32_t *contacts)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct delivery d;
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(delivery_get(t, id, seq, &d, &e), 0);
	store_abort(&t);
	if (contacts != NULL)
		*contacts = d.contacts;
	return d.state;
}

static int count_events(const struct notice_event_rec *ev, void *arg)
{
	if (ev->type == EV_REMINDED)
		(*(size_t *)arg)++;
	return 0;
}

static void test_remind_batch(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t = NULL;
	struct batch_summary s;
	size_t n = 99, events = 0;
	uint64_t records = 0;
	uint32_t contacts = 0;

	put_state(f, 1, BATCH_STATUS_SENT);
	put_resident(f, 1, 1, DELIVERY_SENT, 0);    /* sent, not opened: reminded */
	put_resident(f, 1, 2, DELIVERY_SENT, 1);    /* opened: not */
	put_resident(f, 1, 3, DELIVERY_BOUNCED, 0); /* bounced: paper, not mail */
	put_resident(f, 1, 4, DELIVERY_SENT, 0);    /* reminded */
	put_resident(f, 1, 5, DELIVERY_FAILED, 0);
	put_resident(f, 1, 6, DELIVERY_SENT, 2);    /* declined mail: paper, never again */
	put_state(f, 2, BATCH_STATUS_SENDING);
	put_resident(f, 2, 1, DELIVERY_SENT, 0);

	assert_int_equal(remind_batch(f->st, 2, 1800100000, 0, "cli:x", "cli", &n, &e), -1);
	assert_string_equal(e.msg, "batch 2 is sending, not sent");
	assert_int_equal(state_of(f, 2, 1, NULL), DELIVERY_SENT);

	assert_int_equal(remind_batch(f->st, 1, 1800100000, 0, "cli:x", "cli", &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(state_of(f, 1, 1, &contacts), DELIVERY_QUEUED);
	assert_int_equal(contacts, 1); /* a queued delivery with contacts: a reminder */
	assert_int_equal(state_of(f, 1, 2, NULL), DELIVERY_SENT);
	assert_int_equal(state_of(f, 1, 3, NULL), DELIVERY_BOUNCED);
	assert_int_equal(state_of(f, 1, 4, NULL), DELIVERY_QUEUED);
	assert_int_equal(state_of(f, 1, 5, NULL), DELIVERY_FAILED);
	assert_int_equal(state_of(f, 1, 6, NULL), DELIVERY_SENT);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_SENDING);
	assert_int_equal(s.send_at, 1800000000); /* kept: due at once */
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(notice_events_each(t, 1, 0, count_events, &events, &e), 0);
	store_abort(&t);
	assert_int_equal(events, 2);
	/* two notice.reminded and one batch.remind, chained */
	if (audit_verify(f->st, &records, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	assert_int_equal(records, 3);

	/* sending again: a second reminder waits until the batch is sent */
	assert_int_equal(remind_batch(f->st, 1, 1800100000, 0, "cli:x", "cli", &n, &e), -1);
	assert_string_equal(e.msg, "batch 1 is sending, not sent");
}

static void test_remind_nobody(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct batch_summary s;
	struct store_txn *t = NULL;
	const void *v;
	size_t vl, n = 99;
	uint8_t key[8];

	put_state(f, 1, BATCH_STATUS_SENT);
	put_resident(f, 1, 1, DELIVERY_SENT, 1);
	/* asked by staff: nothing to do, nothing changes */
	assert_int_equal(remind_batch(f->st, 1, 1800100000, 0, "cli:x", "cli", &n, &e), 0);
	assert_int_equal(n, 0);
	/* the schedule's: the point is marked done, the batch stays sent */
	assert_int_equal(remind_batch(f->st, 1, 1800100000, 1, "mailer", "mailer", &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_SENT);
	be64_put(key, 1);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, &e), 0);
	assert_int_equal(rec_get_u64(v, vl, BS_REMINDED, 0), 1);
	store_abort(&t);
}

static void put_schedule(struct fixture *f, uint64_t id, const char *text)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct buf b;
	uint8_t key[8];

	buf_init(&b, 4096);
	be64_put(key, id);
	assert_int_equal(store_begin(f->st, 1, &t, &e), 0);
	assert_int_equal(rec_put_str(&b, BR_TITLE, "通知") | rec_put_str(&b, BR_REMINDERS, text), 0);
	assert_int_equal(store_put_sealed(t, DB_BATCHES, key, 8, b.data, b.len, &e), 0);
	commit(&t);
	buf_free(&b);
}

static uint64_t reminded_points(struct fixture *f, uint64_t id)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	const void *v;
	size_t vl;
	uint8_t key[8];
	uint64_t r;
	be64_put(key, id);
	assert_int_equal(store_begin(f->st, 0, &t, &e), 0);
	assert_int_equal(store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, &e), 0);
	r = rec_get_u64(v, vl, BS_REMINDED, 0);
	store_abort(&t);
	return r;
}

/* What the mailer does once the reminders went out. */
static void mailer_sends(struct fixture *f, uint64_t id, uint32_t seq)
{
	struct error e = { { 0 }, 0 };
	assert_int_equal(batches_set_status(f->st, id, BATCH_STATUS_SENDING, BATCH_STATUS_SENT,
					    "mailer", "mailer", "batch.sent", &e), 0);
	put_resident(f, id, seq, DELIVERY_SENT, 0);
}

static void test_remind_scheduled(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct batch_summary s;
	const int64_t t0 = 1800000000; /* put_state's BS_SEND_AT */
	size_t n = 99;

	put_state(f, 1, BATCH_STATUS_SENT);
	put_schedule(f, 1, "3日後、7日後");
	put_resident(f, 1, 1, DELIVERY_SENT, 0);
	put_state(f, 2, BATCH_STATUS_SENT);
	put_schedule(f, 2, "毎日"); /* unreadable: logged, skipped */
	put_resident(f, 2, 1, DELIVERY_SENT, 0);
	put_state(f, 3, BATCH_STATUS_SENT); /* no schedule */
	put_schedule(f, 3, "");
	put_resident(f, 3, 1, DELIVERY_SENT, 0);

	assert_int_equal(remind_scheduled(f->st, t0 + 3 * DAY - 1, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(state_of(f, 1, 1, NULL), DELIVERY_SENT);

	assert_int_equal(remind_scheduled(f->st, t0 + 3 * DAY, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(state_of(f, 1, 1, NULL), DELIVERY_QUEUED);
	assert_int_equal(reminded_points(f, 1), 1);
	assert_int_equal(batches_get(f->st, 1, &s, NULL, &e), 0);
	assert_string_equal(s.status, BATCH_STATUS_SENDING);
	assert_int_equal(state_of(f, 2, 1, NULL), DELIVERY_SENT);
	assert_int_equal(state_of(f, 3, 1, NULL), DELIVERY_SENT);

	mailer_sends(f, 1, 1);
	assert_int_equal(remind_scheduled(f->st, t0 + 5 * DAY, &n, &e), 0);
	assert_int_equal(n, 0); /* the first point is done */
	assert_int_equal(state_of(f, 1, 1, NULL), DELIVERY_SENT);
	assert_int_equal(remind_scheduled(f->st, t0 + 7 * DAY, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(reminded_points(f, 1), 2);
	mailer_sends(f, 1, 1);
	assert_int_equal(remind_scheduled(f->st, t0 + 60 * DAY, &n, &e), 0);
	assert_int_equal(n, 0); /* the schedule is over */
}

/* A batch that gives no 督促 follows the ward's default set on the
 * dashboard (lib/wardset.h); one that says なし does not. */
static void test_remind_ward_default(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct wardset *ws = xcalloc(1, sizeof(*ws)), *back = xcalloc(1, sizeof(*back));
	const int64_t t0 = 1800000000;
	uint64_t records = 0;
	size_t n = 99;

	put_state(f, 1, BATCH_STATUS_SENT);
	put_schedule(f, 1, "");
	put_resident(f, 1, 1, DELIVERY_SENT, 0);
	put_state(f, 2, BATCH_STATUS_SENT);
	put_schedule(f, 2, "なし");
	put_resident(f, 2, 1, DELIVERY_SENT, 0);
	assert_int_equal(wardset_load(f->st, back, &e), 1); /* nothing saved yet */
	assert_int_equal(remind_scheduled(f->st, t0 + 2 * DAY, &n, &e), 0);
	assert_int_equal(n, 0);

	str_copy(ws->reminders, "2", sizeof(ws->reminders));
	str_copy(ws->contact, "税務課 03-1111-2222", sizeof(ws->contact));
	ws->deadline_days = 10;
	if (wardset_save(f->st, ws, "staff:1", "127.0.0.1", &e) < 0)
		fail_msg("wardset_save: %s", e.msg);
	assert_int_equal(wardset_load(f->st, back, &e), 0);
	assert_string_equal(back->reminders, "2");
	assert_string_equal(back->contact, "税務課 03-1111-2222");
	assert_int_equal(back->deadline_days, 10);
	assert_string_equal(back->updated_by, "staff:1");
	assert_true(back->updated > 0);

	assert_int_equal(remind_scheduled(f->st, t0 + 2 * DAY - 1, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(remind_scheduled(f->st, t0 + 2 * DAY, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(state_of(f, 1, 1, NULL), DELIVERY_QUEUED);
	assert_int_equal(state_of(f, 2, 1, NULL), DELIVERY_SENT); /* なし: none */
	/* settings.change, then notice.reminded and batch.remind, chained */
	if (audit_verify(f->st, &records, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	assert_int_equal(records, 3);
	free(ws);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_parse),
		cmocka_unit_test(test_due),
		cmocka_unit_test_setup_teardown(test_remind_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remind_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remind_scheduled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remind_ward_default, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
