/*
 * http_limit.c — per-key request rate limits for the portal's HTTP layer
 * (see http.h): token buckets in a fixed hash table under one mutex, keyed
 * by a seeded hash so a client cannot aim at another's slot.  A slot whose
 * bucket has refilled is free for any key; a busy slot shared by two keys
 * limits both (strict, never lenient).  Runs in the portal process, on any
 * thread.
 */
#include "portal/http.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bucket {
	uint64_t key;
	double tokens;
	double at; /* monotonic seconds of the last update */
};

struct http_limiter {
	pthread_mutex_t mu;
	size_t slots;
	double rate, burst;
	uint64_t seed;
	struct bucket b[];
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FNV-1a over the seed and the key, then a final mix. */
static uint64_t key_hash(uint64_t seed, const char *key)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h | 1; /* 0 marks an empty slot */
}

struct http_limiter *http_limiter_new(size_t slots, double rate_per_s, double burst)
{
	struct http_limiter *l;
	if (slots == 0 || slots > ((size_t)1 << 24) || rate_per_s <= 0 || burst < 1)
		return NULL;
	l = xcalloc(1, sizeof(*l) + slots * sizeof(struct bucket));
	if (random_bytes(&l->seed, sizeof(l->seed)) < 0) {
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->slots = slots;
	l->rate = rate_per_s;
	l->burst = burst;
	return l;
}

int http_limiter_take(struct http_limiter *l, const char *key)
{
	uint64_t h = key_hash(l->seed, key);
	struct bucket *b = &l->b[h % l->slots];
	double t = mono_now();
	int rc = -1;

	pthread_mutex_lock(&l->mu);
	if (b->key != 0) {
		b->tokens += (t - b->at) * l->rate;
		if (b->tokens > l->burst)
			b->tokens = l->burst;
	}
	if (b->key == 0 || (b->key != h && b->tokens >= l->burst)) {
		b->key = h;
		b->tokens = l->burst;
	}
	b->at = t;
	if (b->tokens >= 1) {
		b->tokens -= 1;
		rc = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void http_limiter_free(struct http_limiter **l)
{
	if (*l == NULL)
		return;
	pthread_mutex_destroy(&(*l)->mu);
	free(*l);
	*l = NULL;
}
