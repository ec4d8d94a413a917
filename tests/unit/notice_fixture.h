/*
 * notice_fixture.h — helpers the notice unit tests share (test_notice.c,
 * test_notice_forgery.c): transactions on the fixture's store, writing a
 * delivery, a batch with residents, collecting events.  Included by one test file each, so its
 * functions are static.
 */
#ifndef TAYORI_NOTICE_FIXTURE_H
#define TAYORI_NOTICE_FIXTURE_H

#include "lib/batches.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/util.h"
#include "tenant_fixture.h"

static struct store_txn *begin(struct fixture *f, int write)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	if (store_begin(f->st, write, &t, &e) < 0)
		fail_msg("begin: %s", e.msg);
	return t;
}

static void commit(struct store_txn **t)
{
	struct error e = { { 0 }, 0 };
	if (store_commit(t, &e) < 0)
		fail_msg("commit: %s", e.msg);
}

static void key12(uint8_t k[12], uint64_t batch, uint32_t seq)
{
	be64_put(k, batch);
	be32_put(k + 8, seq);
}

static void put_delivery(struct fixture *f, uint64_t batch, uint32_t seq,
			 enum delivery_state s)
{
	struct store_txn *t = begin(f, 1);
	struct error e = { { 0 }, 0 };
	struct delivery d;
	int r = delivery_get(t, batch, seq, &d, &e);
	assert_true(r == 0 || r == 1);
	d.state = s;
	d.attempts++;
	d.created = 1790000000;
	d.sent_at = s == DELIVERY_SENT ? 1790000100 : 0;
	d.contacts = s == DELIVERY_SENT ? 1 : 0;
	str_copy(d.queue_id, "4ABC123", sizeof(d.queue_id));
	str_copy(d.reply, "250 2.0.0 Ok: queued", sizeof(d.reply));
	if (delivery_put(t, &d, &e) < 0)
		fail_msg("delivery_put: %s", e.msg);
	commit(&t);
}

struct ev_list {
	int n;
	struct notice_event_rec ev[8];
};

static int collect(const struct notice_event_rec *ev, void *arg)
{
	struct ev_list *l = arg;
	if (l->n < 8)
		l->ev[l->n++] = *ev;
	return 0;
}

/* A batch record with deadline and residents: "" for no address; flags
 * for a row held back. */
static void put_batch(struct fixture *f, uint64_t batch, const char *deadline, int n,
		      const char *const *emails)
{
	struct store_txn *t = begin(f, 1);
	struct error e = { { 0 }, 0 };
	struct buf b;
	uint8_t k[12];
	char key[16];

	buf_init(&b, 4096);
	rec_put_str(&b, BR_TITLE, "通知");
	rec_put_str(&b, BR_DEADLINE, deadline);
	be64_put(k, batch);
	assert_int_equal(store_put_sealed(t, DB_BATCHES, k, 8, b.data, b.len, &e), 0);
	for (int i = 0; i < n; i++) {
		buf_reset(&b);
		snprintf(key, sizeof(key), "K%03d", i + 1);
		rec_put_str(&b, RR_KEY, key);
		rec_put_str(&b, RR_NAME, "区民 太郎");
		rec_put_str(&b, RR_EMAIL, strcmp(emails[i], "held") == 0 ? "x@example.jp"
									  : emails[i]);
		rec_put_u64(&b, RR_FLAGS, strcmp(emails[i], "held") == 0 ? 1 : 0);
		key12(k, batch, (uint32_t)i + 1);
		assert_int_equal(store_put_sealed(t, DB_RESIDENTS, k, 12, b.data, b.len, &e), 0);
	}
	buf_free(&b);
	commit(&t);
}

#endif
