/*
 * batches.c — reading and updating stored batches (see batches.h).
 */
#include "lib/batches.h"

#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/rec.h"
#include "lib/store.h"

static void summary_from_state(uint64_t id, const uint8_t *v, size_t vl, struct batch_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	rec_get_str(v, vl, BS_STATUS, s->status, sizeof(s->status));
	s->created = (int64_t)rec_get_u64(v, vl, BS_CREATED, 0);
	s->test = (int)rec_get_u64(v, vl, BS_TEST, 0);
	s->recipients = rec_get_u64(v, vl, BS_RECIPIENTS, 0);
	s->matched = rec_get_u64(v, vl, BS_MATCHED, 0);
	s->signed_pdfs = rec_get_u64(v, vl, BS_SIGNED, 0);
}

static int read_title(struct store_txn *t, uint64_t id, struct batch_summary *s, struct buf *report,
		      struct error *e)
{
	struct buf plain;
	uint8_t key[8];
	int r;
	buf_init(&plain, 64 << 20);
	be64_put(key, id);
	r = store_get_sealed(t, DB_BATCHES, key, 8, &plain, e);
	if (r == 0) {
		const uint8_t *rv;
		size_t rl;
		rec_get_str(plain.data, plain.len, BR_TITLE, s->title, sizeof(s->title));
		if (report != NULL && rec_get(plain.data, plain.len, BR_REPORT, &rv, &rl) == 0)
			buf_append(report, rv, rl);
	}
	buf_wipe(&plain);
	return r < 0 ? -1 : 0;
}

int batches_list(struct store *st, struct batch_summary **out, size_t *n, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct batch_summary *v = NULL;
	size_t count = 0, cap = 0;
	const void *k, *val;
	size_t kl, vl;
	int r, ret = -1;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_BATCH_STATE, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &val, &vl)) == 0) {
		struct batch_summary s;
		if (kl != 8)
			continue;
		summary_from_state(be64_get(k), val, vl, &s);
		if (strcmp(s.status, BATCH_STATUS_STORING) == 0)
			continue;
		if (read_title(t, s.id, &s, NULL, e) < 0)
			goto out;
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[count++] = s;
	}
	if (r < 0) {
		err_tmp(e, "cannot read the batch list");
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
	ret = 0;
out:
	free(v);
	store_iter_close(&it);
	store_abort(&t);
	return ret;
}

int batches_get(struct store *st, uint64_t id, struct batch_summary *out, struct buf *report,
		struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t key[8];
	const void *v;
	size_t vl;
	int r;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	be64_put(key, id);
	r = store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, e);
	if (r == 0) {
		summary_from_state(id, v, vl, out);
		if (strcmp(out->status, BATCH_STATUS_STORING) == 0)
			r = 1;
		else if (read_title(t, id, out, report, e) < 0)
			r = -1;
	}
	store_abort(&t);
	return r;
}

int batches_set_status(struct store *st, uint64_t id, const char *from, const char *to,
		       const char *actor, const char *where, const char *action, struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t key[8];
	const void *v;
	size_t vl;
	char status[32], target[32], detail[96];
	struct buf b;
	struct audit_entry a;
	int r, ret = -1;

	buf_init(&b, 4096);
	be64_put(key, id);
	if (store_begin(st, 1, &t, e) < 0)
		goto out;
	r = store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, e);
	if (r < 0)
		goto out;
	if (r == 1 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0 ||
	    strcmp(status, BATCH_STATUS_STORING) == 0) {
		err_set(e, "no batch %llu", (unsigned long long)id);
		goto out;
	}
	if (strcmp(status, from) != 0) {
		err_set(e, "batch %llu is %s, not %s", (unsigned long long)id, status, from);
		goto out;
	}
	/* Rewrite the state with the new status, every other field kept. */
	{
		size_t off = 0;
		const uint8_t *p = v;
		while (off + 6 <= vl) {
			uint16_t tag = (uint16_t)(p[off] << 8 | p[off + 1]);
			uint32_t len = be32_get(p + off + 2);
			if (tag == BS_STATUS)
				rec_put_str(&b, BS_STATUS, to);
			else
				rec_put(&b, tag, p + off + 6, len);
			off += 6 + len;
		}
	}
	if (store_put(t, DB_BATCH_STATE, key, 8, b.data, b.len, e) < 0)
		goto out;
	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	str_fmt(detail, sizeof(detail), "from=%s to=%s", from, to);
	a = (struct audit_entry){ actor, action, target, where, detail };
	if (audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	buf_free(&b);
	return ret;
}

int batches_resident_pdf(struct store *st, uint64_t id, const char *key, struct buf *pdf,
			 struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t iv[8 + 128], idx[32], rkey[12], pkey[12];
	const void *v;
	size_t vl, kl = strlen(key);
	uint64_t seq;
	int r;

	if (kl > 128)
		return 1;
	be64_put(iv, id);
	memcpy(iv + 8, key, kl);
	if (store_index(st, "resident", iv, 8 + kl, idx, e) < 0)
		return -1;
	buf_init(&plain, 1 << 20);
	if (store_begin(st, 0, &t, e) < 0) {
		buf_free(&plain);
		return -1;
	}
	r = store_get(t, DB_RESIDENT_IDX, idx, sizeof(idx), &v, &vl, e);
	if (r != 0 || vl != sizeof(rkey))
		goto out;
	memcpy(rkey, v, sizeof(rkey));
	r = store_get_sealed(t, DB_RESIDENTS, rkey, sizeof(rkey), &plain, e);
	if (r != 0)
		goto out;
	seq = rec_get_u64(plain.data, plain.len, RR_PDF, 0);
	if (seq == 0) {
		r = 1;
		goto out;
	}
	be64_put(pkey, id);
	be32_put(pkey + 8, (uint32_t)seq);
	r = store_get_sealed(t, DB_PDFS, pkey, sizeof(pkey), pdf, e);
out:
	store_abort(&t);
	buf_wipe(&plain);
	return r;
}
