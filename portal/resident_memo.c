/*
 * resident_memo.c — what the keys process already said about a stored
 * record, kept so the next request that finds the very same bytes needs
 * no round trip: a sealed record's plaintext (the batch, the resident) or
 * a MACed record found good (a session).  An entry holds a copy of the
 * stored bytes and counts only while the store still holds exactly those
 * bytes, so a changed, replaced or forged record is judged afresh by the
 * keys process, as without the memo.  Fixed slots (hashed by database and
 * key), values up to RESIDENT_MEMO_VALUE_MAX; plaintexts are wiped when
 * replaced.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/store.h"
#include "portal/resident.h"

#define MEMO_SLOTS 1024
#define MEMO_KEY_MAX 64

struct memo_slot {
	int db;
	size_t kl;
	uint8_t key[MEMO_KEY_MAX];
	uint8_t *raw;
	size_t rawlen;
	uint8_t *plain; /* NULL: a MAC found good, no plaintext */
	size_t plainlen;
};

struct resident_memo {
	pthread_mutex_t lock;
	struct memo_slot slot[MEMO_SLOTS];
};

struct resident_memo *resident_memo_new(void)
{
	struct resident_memo *m = xcalloc(1, sizeof(*m));

	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

static void slot_clear(struct memo_slot *s)
{
	free(s->raw);
	if (s->plain != NULL)
		secure_wipe(s->plain, s->plainlen);
	free(s->plain);
	memset(s, 0, sizeof(*s));
}

void resident_memo_free(struct resident_memo **mp)
{
	struct resident_memo *m = *mp;

	if (m == NULL)
		return;
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		slot_clear(&m->slot[i]);
	pthread_mutex_destroy(&m->lock);
	free(m);
	*mp = NULL;
}

static struct memo_slot *slot_of(struct resident_memo *m, int db, const void *k, size_t kl)
{
	const uint8_t *p = k;
	uint32_t h = 2166136261u ^ (uint32_t)db;

	for (size_t i = 0; i < kl; i++)
		h = (h ^ p[i]) * 16777619u;
	return &m->slot[h % MEMO_SLOTS];
}

int resident_memo_find(struct resident_memo *m, int db, const void *k, size_t kl, const void *raw,
		       size_t rawlen, struct buf *plain)
{
	struct memo_slot *s;
	int hit = 0;

	if (m == NULL || kl > MEMO_KEY_MAX)
		return 0;
	pthread_mutex_lock(&m->lock);
	s = slot_of(m, db, k, kl);
	if (s->raw != NULL && s->db == db && s->kl == kl && memcmp(s->key, k, kl) == 0 &&
	    s->rawlen == rawlen && memcmp(s->raw, raw, rawlen) == 0 &&
	    (plain == NULL) == (s->plain == NULL))
		hit = plain == NULL || buf_append(plain, s->plain, s->plainlen) == 0;
	pthread_mutex_unlock(&m->lock);
	return hit;
}

void resident_memo_put(struct resident_memo *m, int db, const void *k, size_t kl, const void *raw,
		       size_t rawlen, const void *plain, size_t plainlen)
{
	struct memo_slot *s;
	uint8_t *r, *p = NULL;

	if (m == NULL || kl > MEMO_KEY_MAX || rawlen > RESIDENT_MEMO_VALUE_MAX ||
	    plainlen > RESIDENT_MEMO_VALUE_MAX)
		return;
	r = xmalloc(rawlen ? rawlen : 1);
	memcpy(r, raw, rawlen);
	if (plain != NULL) {
		p = xmalloc(plainlen ? plainlen : 1);
		memcpy(p, plain, plainlen);
	}
	pthread_mutex_lock(&m->lock);
	s = slot_of(m, db, k, kl);
	slot_clear(s);
	s->db = db;
	s->kl = kl;
	memcpy(s->key, k, kl);
	s->raw = r;
	s->rawlen = rawlen;
	s->plain = p;
	s->plainlen = plainlen;
	pthread_mutex_unlock(&m->lock);
}

int resident_get_sealed(struct resident_ctx *rc, struct store_txn *t, int db, const void *k,
			size_t kl, int may_block, struct buf *out, struct error *e)
{
	const void *v = NULL;
	size_t vl = 0, before = out->len;
	int r = store_get(t, (enum store_db)db, k, kl, &v, &vl, e);

	if (r != 0)
		return r;
	if (resident_memo_find(rc->memo, db, k, kl, v, vl, out))
		return 0;
	if (!may_block)
		return RESIDENT_WOULD_BLOCK;
	r = store_unseal(rc->st, (enum store_db)db, k, kl, v, vl, out, e);
	if (r == 0)
		resident_memo_put(rc->memo, db, k, kl, v, vl, out->data + before, out->len - before);
	return r;
}
