/*
 * notice_event_list.c — reading a batch's events for the dashboard (see
 * notice_events_list() in lib/notice.h): the raw records are picked on
 * their unchecked fields first, so that only the events a reader wants
 * (the opens of one page's residents, the ones a live view has not sent
 * yet) cost a MAC check, and those are checked together in as few round
 * trips to the keys process as its limits allow, not one each as
 * notice_events_each() does.  Runs in the portal and command-line
 * processes.
 */
#include "lib/notice.h"

#include <stdlib.h>
#include <string.h>

#include "lib/notice_int.h"
#include "lib/store.h"

#define EVENT_KEY 20

static int parse(const uint8_t *k, const uint8_t *v, size_t vl, struct notice_event_item *it)
{
	memset(it, 0, sizeof(*it));
	it->n = be32_get(k + 16);
	return notice_event_parse(k, v, vl, &it->ev);
}

/* What was picked: the item, and where its raw record lies (valid while
 * the transaction is open). */
struct picked {
	const void *k, *v;
	size_t vl;
};

static int check_all(struct store_txn *t, struct picked *p, struct notice_event_item *items,
		     size_t n, size_t *kept, struct error *e)
{
	const void **keys = xcalloc(n ? n : 1, sizeof(*keys)), **vals;
	size_t *kls = xcalloc(n ? n : 1, sizeof(*kls)), *vls;
	int *bad = xcalloc(n ? n : 1, sizeof(*bad)), ret = -1;

	vals = xcalloc(n ? n : 1, sizeof(*vals));
	vls = xcalloc(n ? n : 1, sizeof(*vls));
	for (size_t i = 0; i < n; i++) {
		keys[i] = p[i].k;
		kls[i] = EVENT_KEY;
		vals[i] = p[i].v;
		vls[i] = p[i].vl;
	}
	if (n > 0 && notice_check_many(store_txn_store(t), DB_EVENTS, n, keys, kls, vals, vls, bad,
				       e) < 0)
		goto out;
	*kept = 0;
	for (size_t i = 0; i < n; i++)
		if (!bad[i])
			items[(*kept)++] = items[i];
	ret = 0;
out:
	free(keys);
	free(kls);
	free(vals);
	free(vls);
	free(bad);
	return ret;
}

int notice_events_list(struct store_txn *t, uint64_t batch, int64_t since_us,
		       int (*want)(const struct notice_event_rec *ev, uint32_t n, void *arg),
		       void *arg, struct notice_event_item **out, size_t *nout, struct error *e)
{
	struct store_iter *it = NULL;
	uint8_t start[EVENT_KEY] = { 0 };
	struct notice_event_item *items = NULL;
	struct picked *p = NULL;
	size_t n = 0, cap = 0;
	const void *k, *v;
	size_t kl, vl;
	int r, ret = -1;

	*out = NULL;
	*nout = 0;
	be64_put(start, batch);
	be64_put(start + 8, (uint64_t)(since_us > 0 ? since_us : 0));
	if (store_iter_open(t, DB_EVENTS, start, sizeof(start), &it, e) < 0)
		return -1;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		if (kl < 8 || be64_get(k) != batch)
			break;
		if (kl != EVENT_KEY)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			items = xrealloc(items, cap * sizeof(*items));
			p = xrealloc(p, cap * sizeof(*p));
		}
		/* A record that does not parse would fail its MAC too. */
		if (parse(k, v, vl, &items[n]) < 0 ||
		    (want != NULL && !want(&items[n].ev, items[n].n, arg)))
			continue;
		p[n] = (struct picked){ k, v, vl };
		n++;
	}
	if (r < 0) {
		err_tmp(e, "notice: reading the events of batch %llu failed",
			(unsigned long long)batch);
		goto out;
	}
	if (check_all(t, p, items, n, nout, e) < 0)
		goto out;
	*out = items;
	items = NULL;
	ret = 0;
out:
	free(items);
	free(p);
	store_iter_close(&it);
	return ret;
}
