/*
 * intake_kept.c — refused inputs kept for staff (see intake.h): sealed in
 * the store like every PDF, under u64 expiry | SHA-256 so that the sweep
 * reads the expired ones first; listed and unpacked for `tayori intake`,
 * and deleted when [intake] keep_rejected has passed.  Runs in the gateway
 * process (and in `tayori intake`, which only reads).
 */
#include "gateway/intake.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/intake_int.h"
#include "lib/audit.h"
#include "lib/rec.h"
#include "lib/store.h"

/*
 * A refused input kept for staff: sealed in DB_REJECTED under
 * u64 expiry | SHA-256, so the sweep reads the expired ones first.
 * Fields of the sealed record:
 */
enum {
	REJ_TIME = 1,   /* u64: when it was refused */
	REJ_SOURCE = 2, /* "drop", "maildir", "imap" */
	REJ_KIND = 3,   /* "message" (an RFC 5322 message) or "folder" */
	REJ_NAME = 4,   /* the file or folder name in the drop folder, when known */
	REJ_REASON = 5, /* why it was refused (may quote the input: sealed too) */
	REJ_DATA = 6,   /* the message, or the folder's files (folder_pack) */
};
int intake_kept_seal(struct store *st, int64_t keep, const uint8_t id[32], const char *source,
		     const char *kind, const char *name, const char *why, const uint8_t *data,
		     size_t len, struct intake_sealed *k, struct error *e)
{
	struct buf r;
	int64_t now = now_utc();
	int ret = -1;

	buf_init(&k->sealed, len + 64 * 1024);
	if (keep <= 0)
		return 0;
	be64_put(k->key, (uint64_t)(now + keep));
	memcpy(k->key + 8, id, 32);
	buf_init(&r, len + 32 * 1024);
	if (rec_put_u64(&r, REJ_TIME, (uint64_t)now) < 0 || rec_put_str(&r, REJ_SOURCE, source) < 0 ||
	    rec_put_str(&r, REJ_KIND, kind) < 0 || rec_put_str(&r, REJ_NAME, name ? name : "") < 0 ||
	    rec_put_str(&r, REJ_REASON, why) < 0 || rec_put(&r, REJ_DATA, data, len) < 0) {
		err_set(e, "the refused input is too large to keep");
		goto out;
	}
	ret = store_seal(st, DB_REJECTED, k->key, sizeof(k->key), r.data, r.len, &k->sealed, e);
out:
	secure_wipe(r.data, r.len);
	buf_free(&r);
	return ret;
}

void intake_kept_release(struct intake_sealed *k)
{
	buf_free(&k->sealed);
}

static void folder_pack_one(struct buf *b, const char *name, const uint8_t *data, size_t len, int *bad)
{
	uint8_t n4[4], n8[8];
	be32_put(n4, (uint32_t)strlen(name));
	be64_put(n8, (uint64_t)len);
	if (buf_append(b, n4, 4) < 0 || buf_append(b, name, strlen(name)) < 0 ||
	    buf_append(b, n8, 8) < 0 || buf_append(b, data, len) < 0)
		*bad = 1;
}

int intake_kept_pack(const struct batch_files *f, struct buf *b)
{
	int bad = 0;
	for (int pass = 0; pass < 3; pass++) {
		const struct batch_file *v = pass == 0 ? f->csv : pass == 1 ? f->pdfs : f->extras;
		size_t n = pass == 0 ? f->ncsv : pass == 1 ? f->npdfs : f->nextras;
		for (size_t i = 0; i < n; i++)
			folder_pack_one(b, v[i].name, v[i].data, v[i].len, &bad);
	}
	if (f->message != NULL)
		folder_pack_one(b, "message.txt", (const uint8_t *)f->message, strlen(f->message), &bad);
	return bad ? -1 : 0;
}

int intake_kept_each(struct store *st, int (*fn)(const struct intake_kept *, void *), void *arg,
		     struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, n = 0;
	uint8_t (*keys)[INTAKE_KEPT_KEY_LEN] = NULL;
	int r, ret = -1;

	/* The keys first: unsealing talks to the keys process, outside a
	 * read transaction held open for long. */
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_REJECTED, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		if (kl != INTAKE_KEPT_KEY_LEN)
			continue;
		keys = xrealloc(keys, (n + 1) * sizeof(*keys));
		memcpy(keys[n++], k, INTAKE_KEPT_KEY_LEN);
	}
	store_iter_close(&it);
	store_abort(&t);
	if (r < 0) {
		err_tmp(e, "store: cannot read the kept inputs");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct buf pt;
		struct intake_kept kp;
		const uint8_t *d = NULL;
		size_t dl = 0;

		memset(&kp, 0, sizeof(kp));
		buf_init(&pt, (size_t)4 << 30);
		if (store_begin(st, 0, &t, e) < 0) {
			buf_free(&pt);
			goto out;
		}
		r = store_get_sealed(t, DB_REJECTED, keys[i], INTAKE_KEPT_KEY_LEN, &pt, e);
		store_abort(&t);
		if (r == 1) { /* swept meanwhile */
			buf_free(&pt);
			continue;
		}
		if (r < 0 || rec_check(pt.data, pt.len) != 0 ||
		    rec_get(pt.data, pt.len, REJ_DATA, &d, &dl) != 0) {
			if (r == 0)
				err_set(e, "a kept input is damaged");
			secure_wipe(pt.data, pt.len);
			buf_free(&pt);
			goto out;
		}
		hex_encode(keys[i] + 8, 8, kp.id);
		kp.expires = (int64_t)be64_get(keys[i]);
		kp.time = (int64_t)rec_get_u64(pt.data, pt.len, REJ_TIME, 0);
		rec_get_str(pt.data, pt.len, REJ_SOURCE, kp.source, sizeof(kp.source));
		rec_get_str(pt.data, pt.len, REJ_KIND, kp.kind, sizeof(kp.kind));
		rec_get_str(pt.data, pt.len, REJ_NAME, kp.name, sizeof(kp.name));
		rec_get_str(pt.data, pt.len, REJ_REASON, kp.reason, sizeof(kp.reason));
		kp.data = d;
		kp.len = dl;
		r = fn(&kp, arg);
		secure_wipe(pt.data, pt.len);
		buf_free(&pt);
		if (r != 0)
			break;
	}
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(keys);
	return ret;
}

int intake_kept_files(const struct intake_kept *kp,
		      int (*fn)(const char *name, const uint8_t *data, size_t len, void *), void *arg)
{
	const uint8_t *p = kp->data, *end = kp->data + kp->len;
	char name[256];

	if (strcmp(kp->kind, "folder") != 0)
		return fn("message.eml", kp->data, kp->len, arg);
	while (p < end) {
		uint32_t nl;
		uint64_t dl;
		int r;
		if (end - p < 4 || (nl = be32_get(p)) >= sizeof(name) || (size_t)(end - p - 4) < nl + 8u)
			return -1;
		memcpy(name, p + 4, nl);
		name[nl] = '\0';
		p += 4 + nl;
		dl = be64_get(p);
		p += 8;
		if (dl > (uint64_t)(end - p))
			return -1;
		if ((r = fn(name, p, (size_t)dl, arg)) != 0)
			return r;
		p += dl;
	}
	return 0;
}

int intake_kept_sweep(struct store *st, int64_t now, size_t *count, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, n = 0;
	uint8_t (*dead)[INTAKE_KEPT_KEY_LEN] = NULL;
	int r, ret = -1;

	*count = 0;
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_REJECTED, NULL, 0, &it, e) < 0)
		goto out;
	/* Keys start with the expiry: stop at the first one still due.  Only
	 * this file writes here, always INTAKE_KEPT_KEY_LEN long. */
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		if (kl != INTAKE_KEPT_KEY_LEN)
			continue;
		if ((int64_t)be64_get(k) > now)
			break;
		dead = xrealloc(dead, (n + 1) * sizeof(*dead));
		memcpy(dead[n++], k, INTAKE_KEPT_KEY_LEN);
	}
	if (r < 0) {
		err_tmp(e, "store: cannot read the kept inputs");
		goto out;
	}
	store_iter_close(&it);
	for (size_t i = 0; i < n; i++)
		if (store_del(t, DB_REJECTED, dead[i], INTAKE_KEPT_KEY_LEN, e) < 0)
			goto out;
	if (n > 0) {
		char detail[64];
		struct audit_entry a = { "system", "intake.expire", "", "gateway", detail };
		str_fmt(detail, sizeof(detail), "%zu refused inputs deleted", n);
		if (audit_append(t, &a, NULL, e) < 0)
			goto out;
	}
	if (store_commit(&t, e) < 0)
		goto out;
	*count = n;
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(dead);
	return ret;
}
