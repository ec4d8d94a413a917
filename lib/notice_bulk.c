/*
 * notice_bulk.c — the records of lib/notice.h written for many notices at
 * once: one MAC round trip to the keys process for a chunk of records,
 * not one per record.  Runs in the mailer process.
 */
#include "lib/notice.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypt.h"
#include "lib/keys_client.h"
#include "lib/notice_int.h"
#include "lib/rec.h"
#include "lib/store.h"

static void key12(uint8_t k[12], uint64_t batch, uint32_t seq)
{
	be64_put(k, batch);
	be32_put(k + 8, seq);
}

/* Like notice.c's put_rec() for n records of db (at most KEYS_BATCH_MAX) with one MAC
 * round trip to the keys process; versions[i] is the i-th's version. */
int notice_put_many(struct store_txn *t, int db, size_t n, const void *const *keys,
		    const size_t *kls, const uint64_t *versions, struct buf *recs, int fresh,
		    struct error *e)
{
	struct buf *in;
	const void **ptr;
	size_t *len;
	uint8_t(*mac)[CRYPT_HASH_LEN];
	int ret = -1;

	if (n == 0)
		return 0;
	if (n > KEYS_BATCH_MAX)
		return err_set(e, "notice: %zu records in one request (at most %d)", n,
			       KEYS_BATCH_MAX);
	in = xcalloc(n, sizeof(*in));
	ptr = xcalloc(n, sizeof(*ptr));
	len = xcalloc(n, sizeof(*len));
	mac = xcalloc(n, sizeof(*mac));
	for (size_t i = 0; i < n; i++)
		buf_init(&in[i], REC_MAX + 256);
	for (size_t i = 0; i < n; i++) {
		if (versions[i] == 0) {
			err_set(e, "notice: a record's version starts at 1");
			goto out;
		}
		if (rec_put_u64(&recs[i], NR_VERSION, versions[i]) < 0 ||
		    buf_append_str(&in[i], store_db_name((enum store_db)db)) < 0 ||
		    buf_append_u8(&in[i], 0) < 0 || buf_append(&in[i], keys[i], kls[i]) < 0 ||
		    buf_append(&in[i], recs[i].data, recs[i].len) < 0) {
			err_set(e, "notice: record too long for %s", store_db_name((enum store_db)db));
			goto out;
		}
		ptr[i] = in[i].data;
		len[i] = in[i].len;
	}
	if (store_index_many(store_txn_store(t), KEYS_IX_NAME_RECORD, n, ptr, len, mac, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t id[KEYS_RECORD_ID_LEN];
		int r;
		if (rec_put(&recs[i], NR_MAC, mac[i], CRYPT_HASH_LEN) < 0) {
			err_set(e, "notice: record too long");
			goto out;
		}
		/* Anchored in the keys process when t commits. */
		keys_record_id(store_db_name((enum store_db)db), keys[i], kls[i], id);
		store_txn_record_mark(t, id, versions[i]);
		r = fresh ? store_put_new(t, (enum store_db)db, keys[i], kls[i], recs[i].data,
					  recs[i].len, e)
			  : store_put(t, (enum store_db)db, keys[i], kls[i], recs[i].data,
				      recs[i].len, e);
		if (r == 1)
			err_tmp(e, "notice: a fresh record of %s is already stored (random source?)",
				store_db_name((enum store_db)db));
		if (r != 0)
			goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_wipe(&in[i]);
	free(in);
	free(ptr);
	free(len);
	secure_wipe(mac, n * sizeof(*mac));
	free(mac);
	return ret;
}

int delivery_put_many(struct store_txn *t, size_t n, struct delivery *const *ds,
		      struct error *e)
{
	struct buf *b = xcalloc(n ? n : 1, sizeof(*b));
	uint8_t(*k)[12] = xcalloc(n ? n : 1, sizeof(*k));
	const void **kp = xcalloc(n ? n : 1, sizeof(*kp));
	size_t *kl = xcalloc(n ? n : 1, sizeof(*kl));
	uint64_t *ver = xcalloc(n ? n : 1, sizeof(*ver));
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		buf_init(&b[i], REC_MAX);
	for (size_t i = 0; i < n; i++) {
		if (notice_delivery_rec(ds[i], &b[i], e) < 0)
			goto out;
		key12(k[i], ds[i]->batch, ds[i]->seq);
		kp[i] = k[i];
		kl[i] = sizeof(k[i]);
		ver[i] = ds[i]->version + 1;
	}
	if (notice_put_many(t, DB_DELIVERIES, n, kp, kl, ver, b, 0, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		ds[i]->version++;
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_free(&b[i]);
	free(b);
	free(k);
	free(kp);
	free(kl);
	free(ver);
	return ret;
}

int notice_link_new_many(struct store_txn *t, size_t n, const uint64_t *batch,
			 const uint32_t *seq, const int64_t *expires,
			 char (*tokens)[NOTICE_TOKEN_LEN + 1], struct error *e)
{
	struct buf *b = xcalloc(n ? n : 1, sizeof(*b));
	uint8_t(*h)[CRYPT_HASH_LEN] = xcalloc(n ? n : 1, sizeof(*h));
	const void **kp = xcalloc(n ? n : 1, sizeof(*kp));
	size_t *kl = xcalloc(n ? n : 1, sizeof(*kl));
	uint64_t *ver = xcalloc(n ? n : 1, sizeof(*ver));
	int64_t now = now_utc();
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		buf_init(&b[i], REC_MAX);
	for (size_t i = 0; i < n; i++) {
		if (notice_token_new(tokens[i], e) < 0)
			goto out;
		notice_token_hash(tokens[i], h[i]);
		if (rec_put_u64(&b[i], NR_BATCH, batch[i]) < 0 ||
		    rec_put_u64(&b[i], NR_SEQ, seq[i]) < 0 ||
		    rec_put_u64(&b[i], NR_ISSUED, (uint64_t)now) < 0 ||
		    rec_put_u64(&b[i], NR_EXPIRES, (uint64_t)expires[i]) < 0 ||
		    rec_put_str(&b[i], NR_KIND, "link") < 0) {
			err_set(e, "notice: link record too long");
			goto out;
		}
		kp[i] = h[i];
		kl[i] = sizeof(h[i]);
		ver[i] = 1;
	}
	if (notice_put_many(t, DB_TOKENS, n, kp, kl, ver, b, 1, e) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		secure_wipe(tokens, n * sizeof(*tokens));
	for (size_t i = 0; i < n; i++)
		buf_free(&b[i]);
	free(b);
	secure_wipe(h, (n ? n : 1) * sizeof(*h));
	free(h);
	free(kp);
	free(kl);
	free(ver);
	return ret;
}
