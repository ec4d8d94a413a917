/*
 * consent.c — consent to electronic delivery per resident and notice type
 * in DB_CONSENT (see consent.h).  Runs in the portal, the mailer and the
 * command line.
 */
#include "lib/consent.h"

#include <string.h>

#include "lib/buf.h"
#include "lib/rec.h"
#include "lib/store.h"

const char *consent_type_of(const char *title)
{
	return title != NULL && title[0] != '\0' ? title : CONSENT_TYPE_DEFAULT;
}

/* HMAC("consent", key | 0 | type) */
static int consent_key(struct store_txn *t, const char *key, const char *type, uint8_t out[32],
		       struct error *e)
{
	char in[128 + 1 + CONSENT_TYPE_MAX];
	size_t kl = strlen(key), tl = strlen(type);

	if (kl == 0 || kl > 128 || tl > CONSENT_TYPE_MAX)
		return err_set(e, "consent: a resident key of 1 to 128 bytes and a type of at most %d",
			       CONSENT_TYPE_MAX);
	memcpy(in, key, kl);
	in[kl] = '\0';
	memcpy(in + kl + 1, type, tl);
	return store_index(store_txn_store(t), "consent", in, kl + 1 + tl, out, e);
}

int consent_put(struct store_txn *t, const char *key, const char *type,
		const struct consent_rec *c, struct error *e)
{
	uint8_t k[32];
	struct buf b;
	int ret = -1;

	if (consent_key(t, key, type, k, e) < 0)
		return -1;
	buf_init(&b, 4096);
	/* rec.h: tags ascending */
	if (rec_put_str(&b, CR_CHANNEL, c->channel) | rec_put_u64(&b, CR_AT, (uint64_t)c->at) |
	    rec_put_str(&b, CR_TERMS, c->terms) | rec_put_u64(&b, CR_BATCH, c->batch) |
	    rec_put_u64(&b, CR_SEQ, c->seq) | rec_put_str(&b, CR_TYPE, type)) {
		err_set(e, "consent record too large");
		goto out;
	}
	ret = store_put_sealed(t, DB_CONSENT, k, sizeof(k), b.data, b.len, e);
out:
	buf_wipe(&b);
	return ret;
}

/* The fields of a consent record's plaintext. */
static int consent_from(const struct buf *b, struct consent_rec *out, struct error *e)
{
	if (rec_check(b->data, b->len) != 0)
		return err_set(e, "consent record damaged");
	rec_get_str(b->data, b->len, CR_CHANNEL, out->channel, sizeof(out->channel));
	out->at = (int64_t)rec_get_u64(b->data, b->len, CR_AT, 0);
	rec_get_str(b->data, b->len, CR_TERMS, out->terms, sizeof(out->terms));
	out->batch = rec_get_u64(b->data, b->len, CR_BATCH, 0);
	out->seq = (uint32_t)rec_get_u64(b->data, b->len, CR_SEQ, 0);
	return 0;
}

int consent_get_many(struct store_txn *t, size_t n, const char *const *keys, const char *type,
		     struct consent_rec *out, int *found, struct error *e)
{
	size_t tl = strlen(type), m = 0;
	char (*in)[128 + 1 + CONSENT_TYPE_MAX] = xcalloc(n ? n : 1, sizeof(*in));
	const void **iv = xcalloc(n ? n : 1, sizeof(*iv));
	size_t *il = xcalloc(n ? n : 1, sizeof(*il)), *at = xcalloc(n ? n : 1, sizeof(*at));
	uint8_t (*ix)[32] = xcalloc(n ? n : 1, sizeof(*ix));
	const void **kp = xcalloc(n ? n : 1, sizeof(*kp));
	size_t *kl = xcalloc(n ? n : 1, sizeof(*kl));
	struct buf *b = xcalloc(n ? n : 1, sizeof(*b));
	int *got = xcalloc(n ? n : 1, sizeof(*got));
	int ret = -1;

	if (tl > CONSENT_TYPE_MAX) {
		err_set(e, "consent: a type of at most %d bytes", CONSENT_TYPE_MAX);
		goto out;
	}
	/* A resident without a key (1 to 128 bytes) has recorded nothing. */
	for (size_t i = 0; i < n; i++) {
		size_t kln = strlen(keys[i]);
		memset(&out[i], 0, sizeof(out[i]));
		found[i] = 0;
		if (kln == 0 || kln > 128)
			continue;
		memcpy(in[m], keys[i], kln);
		in[m][kln] = '\0';
		memcpy(in[m] + kln + 1, type, tl);
		iv[m] = in[m];
		il[m] = kln + 1 + tl;
		at[m++] = i;
	}
	/* Every index in one keys request, every data key in another. */
	if (store_index_many(store_txn_store(t), "consent", m, iv, il, ix, e) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		kp[j] = ix[j];
		kl[j] = sizeof(ix[j]);
		buf_init(&b[j], 4096);
	}
	if (store_get_sealed_many(t, DB_CONSENT, m, kp, kl, b, got, e) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		if (!got[j])
			continue;
		if (consent_from(&b[j], &out[at[j]], e) < 0)
			goto out;
		found[at[j]] = 1;
	}
	ret = 0;
out:
	for (size_t j = 0; j < m; j++)
		buf_wipe(&b[j]);
	secure_wipe(in, (n ? n : 1) * sizeof(*in));
	free(in);
	free(iv);
	free(il);
	free(at);
	free(ix);
	free(kp);
	free(kl);
	free(b);
	free(got);
	return ret;
}

int consent_get(struct store_txn *t, const char *key, const char *type, struct consent_rec *out,
		struct error *e)
{
	uint8_t k[32];
	struct buf b;
	int r;

	memset(out, 0, sizeof(*out));
	if (consent_key(t, key, type, k, e) < 0)
		return -1;
	buf_init(&b, 4096);
	r = store_get_sealed(t, DB_CONSENT, k, sizeof(k), &b, e);
	if (r == 0 && rec_check(b.data, b.len) != 0)
		r = err_set(e, "consent record damaged");
	if (r == 0) {
		rec_get_str(b.data, b.len, CR_CHANNEL, out->channel, sizeof(out->channel));
		out->at = (int64_t)rec_get_u64(b.data, b.len, CR_AT, 0);
		rec_get_str(b.data, b.len, CR_TERMS, out->terms, sizeof(out->terms));
		out->batch = rec_get_u64(b.data, b.len, CR_BATCH, 0);
		out->seq = (uint32_t)rec_get_u64(b.data, b.len, CR_SEQ, 0);
	}
	buf_wipe(&b);
	return r;
}
