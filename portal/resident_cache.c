/*
 * resident_cache.c — the decrypted PDFs the portal has served lately, in a
 * bounded LRU ([portal] pdf_cache, bytes) keyed by batch and PDF number, so
 * a repeated download costs no keys round trip and no AES-GCM.  Entries
 * are shared by reference: one evicted while a response still sends it is
 * freed (and wiped) when that response lets it go.  The stored bytes never
 * change once signed, so no entry goes stale.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "portal/resident.h"

struct resident_pdf_ref {
	uint64_t batch;
	uint32_t pdf_seq;
	struct buf data;
	unsigned refs;   /* the cache's own (while listed) and each user's */
	int listed;
	struct resident_pdf_ref *prev, *next; /* most recent first */
	struct resident_cache *cache;
};

struct resident_cache {
	pthread_mutex_t lock;
	size_t max, bytes;
	struct resident_pdf_ref *head, *tail;
};

struct resident_cache *resident_cache_new(size_t max_bytes)
{
	struct resident_cache *c = xcalloc(1, sizeof(*c));

	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return NULL;
	}
	c->max = max_bytes;
	return c;
}

static void ref_drop(struct resident_pdf_ref *p)
{
	if (--p->refs > 0)
		return;
	buf_wipe(&p->data);
	free(p);
}

static void unlink_ref(struct resident_cache *c, struct resident_pdf_ref *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		c->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		c->tail = p->prev;
	p->prev = p->next = NULL;
	p->listed = 0;
	c->bytes -= p->data.len;
}

static void push_front(struct resident_cache *c, struct resident_pdf_ref *p)
{
	p->prev = NULL;
	p->next = c->head;
	if (c->head != NULL)
		c->head->prev = p;
	c->head = p;
	if (c->tail == NULL)
		c->tail = p;
	p->listed = 1;
	c->bytes += p->data.len;
}

void resident_cache_free(struct resident_cache **cp)
{
	struct resident_cache *c = *cp;

	if (c == NULL)
		return;
	while (c->head != NULL) {
		struct resident_pdf_ref *p = c->head;
		unlink_ref(c, p);
		p->cache = NULL;
		ref_drop(p);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

static struct resident_pdf_ref *find(struct resident_cache *c, uint64_t batch, uint32_t pdf_seq)
{
	for (struct resident_pdf_ref *p = c->head; p != NULL; p = p->next)
		if (p->batch == batch && p->pdf_seq == pdf_seq)
			return p;
	return NULL;
}

int resident_pdf_cached(struct resident_ctx *rc, const struct resident_notice *n,
			struct resident_pdf_ref **out)
{
	struct resident_cache *c = rc->pdfs;
	struct resident_pdf_ref *p;

	if (n->pdf_seq == 0)
		return 1;
	pthread_mutex_lock(&c->lock);
	p = find(c, n->batch, n->pdf_seq);
	if (p != NULL) {
		if (p != c->head) {
			unlink_ref(c, p);
			push_front(c, p);
		}
		p->refs++;
	}
	pthread_mutex_unlock(&c->lock);
	*out = p;
	return p != NULL ? 0 : 1;
}

int resident_pdf_get(struct resident_ctx *rc, const struct resident_notice *n,
		     struct resident_pdf_ref **out, struct error *e)
{
	struct resident_cache *c = rc->pdfs;
	struct resident_pdf_ref *p, *old;
	int r;

	if (n->pdf_seq == 0)
		return 1;
	if (resident_pdf_cached(rc, n, out) == 0)
		return 0;
	/* Unsealed outside the cache's lock: other downloads go on. */
	p = xcalloc(1, sizeof(*p));
	p->batch = n->batch;
	p->pdf_seq = n->pdf_seq;
	p->refs = 1;
	p->cache = c;
	buf_init(&p->data, (size_t)64 << 20);
	r = resident_pdf(rc, n, &p->data, e);
	if (r != 0) {
		ref_drop(p);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	old = find(c, n->batch, n->pdf_seq);
	if (old == NULL && p->data.len <= c->max) {
		push_front(c, p);
		p->refs++;
		while (c->bytes > c->max && c->tail != NULL) {
			struct resident_pdf_ref *last = c->tail;
			unlink_ref(c, last);
			ref_drop(last);
		}
	}
	pthread_mutex_unlock(&c->lock);
	*out = p;
	return 0;
}

const uint8_t *resident_pdf_data(const struct resident_pdf_ref *p, size_t *len)
{
	*len = p->data.len;
	return p->data.data;
}

void resident_pdf_release(void *arg)
{
	struct resident_pdf_ref *p = arg;
	struct resident_cache *c = p->cache;

	if (c == NULL) {
		ref_drop(p);
		return;
	}
	pthread_mutex_lock(&c->lock);
	ref_drop(p);
	pthread_mutex_unlock(&c->lock);
}
