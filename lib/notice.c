/*
 * notice.c — the store's records of a sent notice (see lib/notice.h): the
 * MACs that keep them from being minted or edited without the keys
 * process, deliveries, link tokens, notice codes and what the resident did.
 * Events are in notice_event.c, the furthest state in notice_status.c.
 * Runs in the mailer, the portal and the command-line processes.
 *
 * The notice code of (batch, seq) is kept twice in DB_CODES:
 *   HMAC("notice-code", canonical code)  -> NR_BATCH, NR_SEQ   (the lookup)
 *   "r" | u64 batch | u32 seq            -> NR_BATCH, NR_SEQ, NR_CODE_SEALED
 * where NR_CODE_SEALED is the canonical code under AES-256-GCM with a key
 * only the keys process can make again, HMAC("notice-code", "seal" 0 | "r" |
 * batch | seq); so every role that may index notice codes (the mailer, the
 * portal, the command line) can read the code back to write it in a
 * message, and a copy of the files does not show it.
 */
#include "lib/notice.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypt.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/notice_int.h"
#include "lib/rec.h"
#include "lib/store.h"

#define NR_CODE_SEALED 50 /* private to this file: see the top */
#define MAC_FIELD (6 + CRYPT_HASH_LEN)
#define CODE_RKEY 13

const char *delivery_state_name(enum delivery_state s)
{
	static const char *const names[] = { "none", "queued", "sending", "sent",
					     "deferred", "failed", "bounced" };
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "?";
}

static void key12(uint8_t k[12], uint64_t batch, uint32_t seq)
{
	be64_put(k, batch);
	be32_put(k + 8, seq);
}

/* ---- MACs ---- */

static int record_mac(struct store *st, int db, const void *key, size_t kl, const void *fields,
		      size_t fl, uint8_t mac[CRYPT_HASH_LEN], struct error *e)
{
	struct buf in;
	int ret = -1;

	buf_init(&in, REC_MAX + 256);
	if (buf_append_str(&in, store_db_name((enum store_db)db)) < 0 ||
	    buf_append_u8(&in, 0) < 0 || buf_append(&in, key, kl) < 0 ||
	    buf_append(&in, fields, fl) < 0) {
		err_set(e, "notice: record too long for %s", store_db_name((enum store_db)db));
		goto out;
	}
	ret = store_index(st, KEYS_IX_NAME_RECORD, in.data, in.len, mac, e);
out:
	buf_wipe(&in);
	return ret;
}

int notice_seal_rec(struct store *st, int db, const void *key, size_t kl, uint64_t version,
		    struct buf *rec, struct error *e)
{
	uint8_t mac[CRYPT_HASH_LEN], id[KEYS_RECORD_ID_LEN];
	struct store_txn *t;

	if (version == 0)
		return err_set(e, "notice: a record's version starts at 1");
	if (rec_put_u64(rec, NR_VERSION, version) < 0)
		return err_set(e, "notice: record too long");
	if (record_mac(st, db, key, kl, rec->data, rec->len, mac, e) < 0)
		return -1;
	if (rec_put(rec, NR_MAC, mac, sizeof(mac)) < 0)
		return err_set(e, "notice: record too long");
	/* The version is anchored in the keys process when the transaction
	 * commits (store_commit); sealed outside one, right away. */
	keys_record_id(store_db_name((enum store_db)db), key, kl, id);
	t = store_txn_current(st);
	if (t != NULL) {
		store_txn_record_mark(t, id, version);
		return 0;
	}
	return keys_record_pending(store_keys(st), (const uint8_t(*)[KEYS_RECORD_ID_LEN])&id,
				   &version, 1, e);
}

int notice_seal_many(struct store *st, int db, size_t n, const void *const *keys,
		     const size_t *kls, uint64_t version, struct buf *recs, struct error *e)
{
	struct buf *in = xcalloc(n ? n : 1, sizeof(*in));
	const void **ptr = xcalloc(n ? n : 1, sizeof(*ptr));
	size_t *len = xcalloc(n ? n : 1, sizeof(*len));
	uint8_t(*mac)[CRYPT_HASH_LEN] = xcalloc(n ? n : 1, sizeof(*mac));
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		buf_init(&in[i], REC_MAX + 256);
		if (rec_put_u64(&recs[i], NR_VERSION, version) < 0 ||
		    buf_append_str(&in[i], store_db_name((enum store_db)db)) < 0 ||
		    buf_append_u8(&in[i], 0) < 0 || buf_append(&in[i], keys[i], kls[i]) < 0 ||
		    buf_append(&in[i], recs[i].data, recs[i].len) < 0) {
			err_set(e, "notice: record too long for %s", store_db_name((enum store_db)db));
			goto out;
		}
		ptr[i] = in[i].data;
		len[i] = in[i].len;
	}
	if (store_index_many(st, KEYS_IX_NAME_RECORD, n, ptr, len, mac, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (rec_put(&recs[i], NR_MAC, mac[i], CRYPT_HASH_LEN) < 0) {
			err_set(e, "notice: record too long");
			goto out;
		}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_wipe(&in[i]);
	free(in);
	free(ptr);
	free(len);
	free(mac);
	return ret;
}

/* The record's shape: well formed, ending in NR_VERSION then NR_MAC.
 * Returns the length of the part the MAC covers, or 0. */
static size_t rec_shape(const uint8_t *p, size_t vl)
{
	const uint8_t *ver;
	size_t verl, fl;

	if (vl < MAC_FIELD || vl > REC_MAX || rec_check(p, vl) != 0)
		return 0;
	fl = vl - MAC_FIELD;
	if (p[fl] != 0 || p[fl + 1] != NR_MAC || be32_get(p + fl + 2) != CRYPT_HASH_LEN ||
	    rec_get(p, fl, NR_VERSION, &ver, &verl) != 0 || verl != 8 || be64_get(ver) == 0)
		return 0;
	return fl;
}

static void log_refused(int db, const void *key, size_t kl, int rolled_back)
{
	/* The key says which record (a batch and row, or a hash: never a
	 * personal value); 16 bytes at most. */
	char hex[33];
	hex_encode(key, kl < 16 ? kl : 16, hex);
	log_warn("event=notice_record_refused db=%s key=%s reason=\"%s\"",
		 store_db_name((enum store_db)db), hex,
		 rolled_back ? "an older version than the keys process anchored (rolled back)"
			     : "its MAC does not hold");
}

int notice_check_rec(struct store *st, int db, const void *key, size_t kl, const void *val,
		     size_t vl, struct error *e)
{
	int bad = 0;
	if (notice_check_many(st, db, 1, &key, &kl, &val, &vl, &bad, e) < 0)
		return -1;
	return bad != 0;
}

/* Whether the calling thread's write transaction itself wrote this
 * version of the record (not yet anchored: it is anchored at commit). */
static int own_write(struct store *st, int db, const void *key, size_t kl, const uint8_t *v,
		     size_t fl)
{
	struct store_txn *t = store_txn_current(st);
	uint8_t id[KEYS_RECORD_ID_LEN];
	if (t == NULL)
		return 0;
	keys_record_id(store_db_name((enum store_db)db), key, kl, id);
	return store_txn_record_marked(t, id, rec_get_u64(v, fl, NR_VERSION, 0));
}

int notice_check_many(struct store *st, int db, size_t n, const void *const *keys,
		      const size_t *kls, const void *const *vals, const size_t *vls, int *bad,
		      struct error *e)
{
	struct buf *in = xcalloc(n ? n : 1, sizeof(*in));
	struct keys_rec_check *rc = xcalloc(n ? n : 1, sizeof(*rc));
	size_t *fl = xcalloc(n ? n : 1, sizeof(*fl));
	uint8_t *verdict = xcalloc(n ? n : 1, 1);
	size_t m = 0;
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		buf_init(&in[i], REC_MAX + 256);
		bad[i] = 0;
		if (vals[i] == NULL)
			continue;
		fl[i] = rec_shape(vals[i], vls[i]);
		if (fl[i] == 0)
			continue;
		if (buf_append_str(&in[i], KEYS_IX_NAME_RECORD) < 0 || buf_append_u8(&in[i], 0) < 0 ||
		    buf_append_str(&in[i], store_db_name((enum store_db)db)) < 0 ||
		    buf_append_u8(&in[i], 0) < 0 || buf_append(&in[i], keys[i], kls[i]) < 0 ||
		    buf_append(&in[i], vals[i], fl[i]) < 0) {
			err_set(e, "notice: record too long for %s", store_db_name((enum store_db)db));
			goto out;
		}
		rc[m++] = (struct keys_rec_check){ in[i].data, in[i].len, kls[i],
						   (const uint8_t *)vals[i] + fl[i] + 6 };
	}
	if (m > 0 && keys_record_check(store_keys(st), rc, m, verdict, e) < 0)
		goto out;
	m = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t v;
		if (vals[i] == NULL)
			continue;
		v = fl[i] == 0 ? KEYS_REC_FORGED : verdict[m++];
		if (v == KEYS_REC_ROLLED_BACK && own_write(st, db, keys[i], kls[i], vals[i], fl[i]))
			v = KEYS_REC_GOOD;
		if (v != KEYS_REC_GOOD) {
			bad[i] = v == KEYS_REC_ROLLED_BACK ? 2 : 1;
			log_refused(db, keys[i], kls[i], bad[i] == 2);
		}
	}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_wipe(&in[i]);
	free(in);
	free(rc);
	free(fl);
	free(verdict);
	return ret;
}

/* Read a record and check its MAC and version: 0 good (*v valid until the
 * transaction ends), 1 absent, 2 refused (forged or damaged), 3 refused
 * (an older copy: rolled back), -1 error. */
static int get_checked(struct store_txn *t, int db, const void *key, size_t kl,
		       const uint8_t **v, size_t *vl, struct error *e)
{
	const void *val;
	int bad = 0, r = store_get(t, (enum store_db)db, key, kl, &val, vl, e);
	if (r != 0)
		return r;
	*v = val;
	if (notice_check_many(store_txn_store(t), db, 1, &key, &kl, &val, vl, &bad, e) < 0)
		return -1;
	return bad == 0 ? 0 : bad == 2 ? 3 : 2;
}

static const char *refused_why(int r)
{
	return r == 3 ? "is an older copy than the keys process anchored (rolled back)"
		      : "fails its MAC (forged or damaged)";
}

static int put_rec(struct store_txn *t, int db, const void *key, size_t kl, uint64_t version,
		   struct buf *rec, int fresh, struct error *e)
{
	int r;
	if (notice_seal_rec(store_txn_store(t), db, key, kl, version, rec, e) < 0)
		return -1;
	if (!fresh)
		return store_put(t, (enum store_db)db, key, kl, rec->data, rec->len, e);
	r = store_put_new(t, (enum store_db)db, key, kl, rec->data, rec->len, e);
	return r;
}

static int64_t get_i64(const uint8_t *v, size_t vl, uint16_t tag)
{
	return (int64_t)rec_get_u64(v, vl, tag, 0);
}

/* ---- deliveries ---- */

int notice_delivery_parse(const uint8_t *v, size_t vl, struct delivery *out, struct error *e)
{
	out->state = (enum delivery_state)rec_get_u64(v, vl, NR_STATE, 0);
	if (out->state < DELIVERY_QUEUED || out->state > DELIVERY_BOUNCED)
		return err_set(e, "the delivery record of batch %llu row %u has no valid state",
			       (unsigned long long)out->batch, out->seq);
	out->attempts = (uint32_t)rec_get_u64(v, vl, NR_ATTEMPTS, 0);
	out->contacts = (uint32_t)rec_get_u64(v, vl, NR_CONTACTS, 0);
	out->created = get_i64(v, vl, NR_CREATED);
	out->next_at = get_i64(v, vl, NR_NEXT_AT);
	out->sent_at = get_i64(v, vl, NR_SENT_AT);
	out->last_at = get_i64(v, vl, NR_LAST_AT);
	out->version = rec_get_u64(v, vl, NR_VERSION, 0);
	if (rec_get_str(v, vl, NR_QUEUE_ID, out->queue_id, sizeof(out->queue_id)) < 0 ||
	    rec_get_str(v, vl, NR_REPLY, out->reply, sizeof(out->reply)) < 0 ||
	    rec_get_str(v, vl, NR_BOUNCE_KIND, out->bounce_kind, sizeof(out->bounce_kind)) < 0 ||
	    rec_get_str(v, vl, NR_BOUNCE_STATUS, out->bounce_status,
			sizeof(out->bounce_status)) < 0)
		return err_set(e, "the delivery record of batch %llu row %u is damaged",
			       (unsigned long long)out->batch, out->seq);
	return 0;
}

int delivery_get(struct store_txn *t, uint64_t batch, uint32_t seq, struct delivery *out,
		 struct error *e)
{
	uint8_t k[12];
	const uint8_t *v;
	size_t vl;
	int r;

	memset(out, 0, sizeof(*out));
	out->batch = batch;
	out->seq = seq;
	key12(k, batch, seq);
	r = get_checked(t, DB_DELIVERIES, k, sizeof(k), &v, &vl, e);
	if (r >= 2)
		return err_set(e, "the delivery record of batch %llu row %u %s",
			       (unsigned long long)batch, seq, refused_why(r));
	if (r != 0)
		return r;
	return notice_delivery_parse(v, vl, out, e);
}

/* A text field cut to at most n - 1 bytes (the size the reader takes). */
static int put_str_cut(struct buf *b, uint16_t tag, const char *s, size_t n)
{
	return rec_put(b, tag, s, strnlen(s, n - 1));
}

int notice_delivery_rec(const struct delivery *d, struct buf *b, struct error *e)
{
	if (d->state < DELIVERY_QUEUED || d->state > DELIVERY_BOUNCED)
		return err_set(e, "notice: delivery state %d is not one", (int)d->state);
	if (rec_put_u64(b, NR_BATCH, d->batch) < 0 || rec_put_u64(b, NR_SEQ, d->seq) < 0 ||
	    rec_put_u64(b, NR_STATE, (uint64_t)d->state) < 0 ||
	    rec_put_u64(b, NR_ATTEMPTS, d->attempts) < 0 ||
	    rec_put_u64(b, NR_CREATED, (uint64_t)d->created) < 0 ||
	    rec_put_u64(b, NR_NEXT_AT, (uint64_t)d->next_at) < 0 ||
	    rec_put_u64(b, NR_SENT_AT, (uint64_t)d->sent_at) < 0 ||
	    rec_put_u64(b, NR_LAST_AT, (uint64_t)d->last_at) < 0 ||
	    put_str_cut(b, NR_QUEUE_ID, d->queue_id, sizeof(d->queue_id)) < 0 ||
	    put_str_cut(b, NR_REPLY, d->reply, sizeof(d->reply)) < 0 ||
	    rec_put_u64(b, NR_CONTACTS, d->contacts) < 0 ||
	    put_str_cut(b, NR_BOUNCE_KIND, d->bounce_kind, sizeof(d->bounce_kind)) < 0 ||
	    put_str_cut(b, NR_BOUNCE_STATUS, d->bounce_status, sizeof(d->bounce_status)) < 0)
		return err_set(e, "notice: delivery record too long");
	return 0;
}

int delivery_put(struct store_txn *t, struct delivery *d, struct error *e)
{
	struct buf b;
	uint8_t k[12];
	int ret = -1;

	buf_init(&b, REC_MAX);
	if (notice_delivery_rec(d, &b, e) < 0)
		goto out;
	key12(k, d->batch, d->seq);
	if (put_rec(t, DB_DELIVERIES, k, sizeof(k), d->version + 1, &b, 0, e) < 0)
		goto out;
	d->version++;
	ret = 0;
out:
	buf_free(&b);
	return ret;
}

/* ---- link tokens ---- */

int notice_link_new(struct store_txn *t, uint64_t batch, uint32_t seq, int64_t expires,
		    char token[NOTICE_TOKEN_LEN + 1], struct error *e)
{
	struct buf b;
	uint8_t h[CRYPT_HASH_LEN];
	int ret = -1, r;

	buf_init(&b, REC_MAX);
	if (notice_token_new(token, e) < 0)
		goto out;
	notice_token_hash(token, h);
	if (rec_put_u64(&b, NR_BATCH, batch) < 0 || rec_put_u64(&b, NR_SEQ, seq) < 0 ||
	    rec_put_u64(&b, NR_ISSUED, (uint64_t)now_utc()) < 0 ||
	    rec_put_u64(&b, NR_EXPIRES, (uint64_t)expires) < 0 ||
	    rec_put_str(&b, NR_KIND, "link") < 0) {
		err_set(e, "notice: link record too long");
		goto out;
	}
	r = put_rec(t, DB_TOKENS, h, sizeof(h), 1, &b, 1, e);
	if (r == 1)
		err_tmp(e, "notice: a fresh link token is already stored (random source?)");
	if (r != 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		secure_wipe(token, NOTICE_TOKEN_LEN + 1);
	buf_free(&b);
	return ret;
}

int notice_link_find(struct store_txn *t, const char *token, uint64_t *batch, uint32_t *seq,
		     struct error *e)
{
	uint8_t h[CRYPT_HASH_LEN];
	const uint8_t *v;
	size_t vl;
	char kind[16];
	int64_t expires;
	int r;

	if (notice_token_shape(token) != 0)
		return 1;
	notice_token_hash(token, h);
	r = get_checked(t, DB_TOKENS, h, sizeof(h), &v, &vl, e);
	if (r >= 2)
		return 1; /* forged: logged, and shown like an unknown token */
	if (r != 0)
		return r;
	expires = get_i64(v, vl, NR_EXPIRES);
	if (rec_get_str(v, vl, NR_KIND, kind, sizeof(kind)) < 0 || strcmp(kind, "link") != 0 ||
	    expires <= now_utc())
		return 1;
	*batch = rec_get_u64(v, vl, NR_BATCH, 0);
	*seq = (uint32_t)rec_get_u64(v, vl, NR_SEQ, 0);
	return 0;
}

/* ---- notice codes ---- */

static void code_rkey(uint8_t k[CODE_RKEY], uint64_t batch, uint32_t seq)
{
	k[0] = 'r';
	key12(k + 1, batch, seq);
}

/* The key that seals the code of one (batch, seq): only the keys process
 * can make it again. */
static int code_seal_key(struct store *st, const uint8_t rk[CODE_RKEY],
			 uint8_t key[CRYPT_KEY_LEN], struct error *e)
{
	uint8_t in[5 + CODE_RKEY];
	memcpy(in, "seal", 5); /* with its NUL: never a canonical code */
	memcpy(in + 5, rk, CODE_RKEY);
	return store_index(st, KEYS_IX_NAME_CODE, in, sizeof(in), key, e);
}

static void code_format(const char canon[NOTICE_CODE_SYMBOLS + 1], char out[NOTICE_CODE_TEXT + 1])
{
	size_t o = 0;
	for (int i = 0; i < NOTICE_CODE_SYMBOLS; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = canon[i];
	}
	out[o] = '\0';
}

/* The stored code of (batch, seq): 0 found, 1 none, -1 error. */
static int code_stored(struct store_txn *t, const uint8_t rk[CODE_RKEY],
		       char code[NOTICE_CODE_TEXT + 1], struct error *e)
{
	struct store *st = store_txn_store(t);
	const uint8_t *v, *sealed;
	size_t vl, sl;
	uint8_t key[CRYPT_KEY_LEN];
	struct buf plain;
	char canon[NOTICE_CODE_SYMBOLS + 1];
	int r, ret = -1;

	r = get_checked(t, DB_CODES, rk, CODE_RKEY, &v, &vl, e);
	if (r >= 2)
		return err_set(e, "the notice code record of batch %llu row %u %s",
			       (unsigned long long)be64_get(rk + 1), be32_get(rk + 9), refused_why(r));
	if (r != 0)
		return r;
	if (rec_get(v, vl, NR_CODE_SEALED, &sealed, &sl) != 0)
		return err_set(e, "the notice code record of batch %llu row %u is damaged",
			       (unsigned long long)be64_get(rk + 1), be32_get(rk + 9));
	buf_init(&plain, 64);
	if (code_seal_key(st, rk, key, e) < 0)
		goto out;
	if (crypt_open(key, rk, CODE_RKEY, sealed, sl, &plain, e) < 0 ||
	    plain.len != NOTICE_CODE_SYMBOLS) {
		err_set(e, "the notice code of batch %llu row %u does not open",
			(unsigned long long)be64_get(rk + 1), be32_get(rk + 9));
		goto out;
	}
	memcpy(canon, plain.data, NOTICE_CODE_SYMBOLS);
	canon[NOTICE_CODE_SYMBOLS] = '\0';
	code_format(canon, code);
	ret = 0;
out:
	secure_wipe(key, sizeof(key));
	secure_wipe(canon, sizeof(canon));
	buf_wipe(&plain);
	return ret;
}

/* Store a fresh code's lookup and sealed copy: 0 done, 1 the code is taken. */
static int code_store(struct store_txn *t, const uint8_t rk[CODE_RKEY], uint64_t batch,
		      uint32_t seq, const char canon[NOTICE_CODE_SYMBOLS + 1], struct error *e)
{
	struct store *st = store_txn_store(t);
	uint8_t ix[CRYPT_HASH_LEN], key[CRYPT_KEY_LEN];
	struct buf b, sealed;
	int ret = -1, r;

	buf_init(&b, REC_MAX);
	buf_init(&sealed, 256);
	if (store_index(st, KEYS_IX_NAME_CODE, canon, NOTICE_CODE_SYMBOLS, ix, e) < 0)
		goto out;
	if (rec_put_u64(&b, NR_BATCH, batch) < 0 || rec_put_u64(&b, NR_SEQ, seq) < 0) {
		err_set(e, "notice: code record too long");
		goto out;
	}
	r = put_rec(t, DB_CODES, ix, sizeof(ix), 1, &b, 1, e);
	if (r != 0) {
		ret = r;
		goto out;
	}
	buf_reset(&b);
	if (code_seal_key(st, rk, key, e) < 0 ||
	    crypt_seal(key, rk, CODE_RKEY, canon, NOTICE_CODE_SYMBOLS, &sealed, e) < 0)
		goto out;
	if (rec_put_u64(&b, NR_BATCH, batch) < 0 || rec_put_u64(&b, NR_SEQ, seq) < 0 ||
	    rec_put(&b, NR_CODE_SEALED, sealed.data, sealed.len) < 0) {
		err_set(e, "notice: code record too long");
		goto out;
	}
	if (put_rec(t, DB_CODES, rk, CODE_RKEY, 1, &b, 0, e) < 0)
		goto out;
	ret = 0;
out:
	secure_wipe(key, sizeof(key));
	buf_free(&sealed);
	buf_free(&b);
	return ret;
}

int notice_code_get_or_new(struct store_txn *t, uint64_t batch, uint32_t seq,
			   char code[NOTICE_CODE_TEXT + 1], struct error *e)
{
	uint8_t rk[CODE_RKEY];
	char canon[NOTICE_CODE_SYMBOLS + 1];
	int r;

	code_rkey(rk, batch, seq);
	r = code_stored(t, rk, code, e);
	if (r <= 0)
		return r;
	for (int tries = 0; tries < 8; tries++) {
		if (notice_code_new(code, e) < 0)
			return -1;
		if (notice_code_read(code, canon) != 0)
			return err_tmp(e, "notice: a fresh notice code does not read back");
		r = code_store(t, rk, batch, seq, canon, e);
		secure_wipe(canon, sizeof(canon));
		if (r <= 0)
			return r;
	}
	return err_tmp(e, "notice: no free notice code after 8 tries");
}

/* The fresh codes of notice_codes_get_or_new(), in three keys round trips
 * (their lookups and sealing keys, then the MACs of each kind of record);
 * taken[j] is set for a code already someone's (made again by the caller). */
static int codes_new(struct store_txn *t, size_t m, const uint64_t *batch, const uint32_t *seq,
		     uint8_t (*rk)[CODE_RKEY], char (*codes)[NOTICE_CODE_TEXT + 1], int *taken,
		     struct error *e)
{
	char (*canon)[NOTICE_CODE_SYMBOLS + 1] = xcalloc(m, sizeof(*canon));
	uint8_t(*sin)[5 + CODE_RKEY] = xcalloc(m, sizeof(*sin));
	uint8_t(*out)[CRYPT_HASH_LEN] = xcalloc(2 * m, sizeof(*out));
	const void **in = xcalloc(2 * m, sizeof(*in)), **kp = xcalloc(2 * m, sizeof(*kp));
	size_t *len = xcalloc(2 * m, sizeof(*len)), *kl = xcalloc(2 * m, sizeof(*kl)), np = 0;
	uint64_t *ver = xcalloc(2 * m, sizeof(*ver));
	struct buf *b = xcalloc(2 * m, sizeof(*b)), sealed;
	int ret = -1;

	buf_init(&sealed, 256);
	for (size_t j = 0; j < 2 * m; j++)
		buf_init(&b[j], REC_MAX);
	for (size_t j = 0; j < m; j++) {
		if (notice_code_new(codes[j], e) < 0)
			goto out;
		if (notice_code_read(codes[j], canon[j]) != 0) {
			err_tmp(e, "notice: a fresh notice code does not read back");
			goto out;
		}
		memcpy(sin[j], "seal", 5); /* as code_seal_key() */
		memcpy(sin[j] + 5, rk[j], CODE_RKEY);
		in[2 * j] = canon[j];
		len[2 * j] = NOTICE_CODE_SYMBOLS;
		in[2 * j + 1] = sin[j];
		len[2 * j + 1] = sizeof(sin[j]);
	}
	if (store_index_many(store_txn_store(t), KEYS_IX_NAME_CODE, 2 * m, in, len, out, e) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		const void *v;
		size_t vl;
		int r = store_get(t, DB_CODES, out[2 * j], CRYPT_HASH_LEN, &v, &vl, e);
		if (r < 0)
			goto out;
		taken[j] = r == 0;
		for (size_t i = 0; i < j && !taken[j]; i++)
			taken[j] = !taken[i] && memcmp(out[2 * i], out[2 * j], CRYPT_HASH_LEN) == 0;
		if (taken[j])
			continue;
		/* b[np]: the lookup; b[m + np]: the sealed copy. */
		buf_reset(&sealed);
		if (rec_put_u64(&b[np], NR_BATCH, batch[j]) < 0 ||
		    rec_put_u64(&b[np], NR_SEQ, seq[j]) < 0 ||
		    crypt_seal(out[2 * j + 1], rk[j], CODE_RKEY, canon[j], NOTICE_CODE_SYMBOLS,
			       &sealed, e) < 0 ||
		    rec_put_u64(&b[m + np], NR_BATCH, batch[j]) < 0 ||
		    rec_put_u64(&b[m + np], NR_SEQ, seq[j]) < 0 ||
		    rec_put(&b[m + np], NR_CODE_SEALED, sealed.data, sealed.len) < 0) {
			err_set(e, "notice: code record too long");
			goto out;
		}
		kp[np] = out[2 * j];
		kl[np] = CRYPT_HASH_LEN;
		kp[m + np] = rk[j];
		kl[m + np] = CODE_RKEY;
		ver[np] = ver[m + np] = 1;
		np++;
	}
	if (notice_put_many(t, DB_CODES, np, kp, kl, ver, b, 1, e) < 0 ||
	    notice_put_many(t, DB_CODES, np, kp + m, kl + m, ver + m, b + m, 0, e) < 0)
		goto out;
	ret = 0;
out:
	for (size_t j = 0; j < 2 * m; j++)
		buf_free(&b[j]);
	buf_free(&sealed);
	secure_wipe(canon, m * sizeof(*canon));
	secure_wipe(out, 2 * m * sizeof(*out));
	free(canon);
	free(sin);
	free(out);
	free(in);
	free(kp);
	free(len);
	free(kl);
	free(ver);
	free(b);
	return ret;
}

int notice_codes_get_or_new(struct store_txn *t, size_t n, const uint64_t *batch,
			    const uint32_t *seq, char (*codes)[NOTICE_CODE_TEXT + 1],
			    struct error *e)
{
	uint8_t(*rk)[CODE_RKEY] = xcalloc(n ? n : 1, sizeof(*rk));
	uint64_t *fb = xcalloc(n ? n : 1, sizeof(*fb));
	uint32_t *fs = xcalloc(n ? n : 1, sizeof(*fs));
	size_t *at = xcalloc(n ? n : 1, sizeof(*at)), m = 0;
	char (*fc)[NOTICE_CODE_TEXT + 1] = xcalloc(n ? n : 1, sizeof(*fc));
	int *taken = xcalloc(n ? n : 1, sizeof(*taken)), ret = -1;

	if (n > NOTICE_CODES_MANY_MAX) {
		err_set(e, "notice: %zu codes in one request (at most %d)", n,
			NOTICE_CODES_MANY_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int r;
		code_rkey(rk[m], batch[i], seq[i]);
		r = code_stored(t, rk[m], codes[i], e);
		if (r < 0)
			goto out;
		if (r == 0)
			continue;
		fb[m] = batch[i];
		fs[m] = seq[i];
		at[m++] = i;
	}
	if (m > 0 && codes_new(t, m, fb, fs, rk, fc, taken, e) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		if (taken[j] && notice_code_get_or_new(t, fb[j], fs[j], fc[j], e) < 0)
			goto out;
		memcpy(codes[at[j]], fc[j], sizeof(fc[j]));
	}
	ret = 0;
out:
	secure_wipe(fc, (n ? n : 1) * sizeof(*fc));
	free(rk);
	free(fb);
	free(fs);
	free(at);
	free(fc);
	free(taken);
	return ret;
}

int notice_code_find(struct store_txn *t, const char *typed, uint64_t *batch, uint32_t *seq,
		     struct error *e)
{
	char canon[NOTICE_CODE_SYMBOLS + 1];
	uint8_t ix[CRYPT_HASH_LEN];
	const uint8_t *v;
	size_t vl;
	int r;

	if (notice_code_read(typed, canon) != 0)
		return 1;
	r = store_index(store_txn_store(t), KEYS_IX_NAME_CODE, canon, NOTICE_CODE_SYMBOLS, ix, e);
	secure_wipe(canon, sizeof(canon));
	if (r < 0)
		return -1;
	r = get_checked(t, DB_CODES, ix, sizeof(ix), &v, &vl, e);
	if (r >= 2)
		return 1;
	if (r != 0)
		return r;
	*batch = rec_get_u64(v, vl, NR_BATCH, 0);
	*seq = (uint32_t)rec_get_u64(v, vl, NR_SEQ, 0);
	return 0;
}

/* ---- what the resident did ---- */

int notice_access_parse(const uint8_t *v, size_t vl, struct notice_access *out,
			struct error *e)
{
	const uint8_t *h;
	size_t hl;

	out->opened_at = get_i64(v, vl, NR_OPENED_AT);
	out->auth_at = get_i64(v, vl, NR_AUTH_AT);
	out->downloaded_at = get_i64(v, vl, NR_DOWNLOADED_AT);
	out->failures = (uint32_t)rec_get_u64(v, vl, NR_FAILURES, 0);
	out->locked = rec_get_u64(v, vl, NR_LOCKED, 0) != 0;
	if (rec_get(v, vl, NR_OTP_HASH, &h, &hl) == 0 && hl == sizeof(out->otp_hash))
		memcpy(out->otp_hash, h, hl);
	out->otp_at = get_i64(v, vl, NR_OTP_AT);
	out->otp_tries = (uint32_t)rec_get_u64(v, vl, NR_OTP_TRIES, 0);
	out->cert_downloads = (uint32_t)rec_get_u64(v, vl, NR_CERT_DOWNLOADS, 0);
	out->consent = (enum notice_consent)rec_get_u64(v, vl, NR_CONSENT, 0);
	out->consent_at = get_i64(v, vl, NR_CONSENT_AT);
	out->version = rec_get_u64(v, vl, NR_VERSION, 0);
	if (out->consent > CONSENT_DECLINED ||
	    rec_get_str(v, vl, NR_TERMS, out->terms, sizeof(out->terms)) < 0)
		return err_set(e, "the access record of batch %llu row %u is damaged",
			       (unsigned long long)out->batch, out->seq);
	return 0;
}

int access_get(struct store_txn *t, uint64_t batch, uint32_t seq, struct notice_access *out,
	       struct error *e)
{
	uint8_t k[12];
	const uint8_t *v;
	size_t vl;
	int r;

	memset(out, 0, sizeof(*out));
	out->batch = batch;
	out->seq = seq;
	key12(k, batch, seq);
	r = get_checked(t, DB_ACCESS, k, sizeof(k), &v, &vl, e);
	if (r >= 2)
		return err_set(e, "the access record of batch %llu row %u %s",
			       (unsigned long long)batch, seq, refused_why(r));
	if (r != 0)
		return r;
	return notice_access_parse(v, vl, out, e);
}

int access_put(struct store_txn *t, struct notice_access *a, struct error *e)
{
	struct buf b;
	uint8_t k[12];
	int ret = -1;

	buf_init(&b, REC_MAX);
	if (rec_put_u64(&b, NR_BATCH, a->batch) < 0 || rec_put_u64(&b, NR_SEQ, a->seq) < 0 ||
	    rec_put_u64(&b, NR_OPENED_AT, (uint64_t)a->opened_at) < 0 ||
	    rec_put_u64(&b, NR_DOWNLOADED_AT, (uint64_t)a->downloaded_at) < 0 ||
	    rec_put_u64(&b, NR_FAILURES, a->failures) < 0 ||
	    rec_put_u64(&b, NR_LOCKED, a->locked ? 1 : 0) < 0 ||
	    rec_put(&b, NR_OTP_HASH, a->otp_hash, sizeof(a->otp_hash)) < 0 ||
	    rec_put_u64(&b, NR_OTP_AT, (uint64_t)a->otp_at) < 0 ||
	    rec_put_u64(&b, NR_OTP_TRIES, a->otp_tries) < 0 ||
	    rec_put_u64(&b, NR_CONSENT, (uint64_t)a->consent) < 0 ||
	    rec_put_u64(&b, NR_CONSENT_AT, (uint64_t)a->consent_at) < 0 ||
	    put_str_cut(&b, NR_TERMS, a->terms, sizeof(a->terms)) < 0 ||
	    rec_put_u64(&b, NR_CERT_DOWNLOADS, a->cert_downloads) < 0 ||
	    rec_put_u64(&b, NR_AUTH_AT, (uint64_t)a->auth_at) < 0) {
		err_set(e, "notice: access record too long");
		goto out;
	}
	key12(k, a->batch, a->seq);
	if (put_rec(t, DB_ACCESS, k, sizeof(k), a->version + 1, &b, 0, e) < 0)
		goto out;
	a->version++;
	ret = 0;
out:
	buf_free(&b);
	return ret;
}
