/*
 * builder.c — the queue's background builder thread (see builder.h).
 * Runs in the mailer process.
 */
#include "mailer/builder.h"

#include <pthread.h>
#include <stdlib.h>

struct builder {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* a task posted, a task done, or stop */
	void (*fn)(void *);
	void *arg;
	bool held, done, stop;
};

static void *builder_main(void *p)
{
	struct builder *b = p;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->stop && !(b->held && !b->done))
			pthread_cond_wait(&b->cv, &b->mu);
		if (b->held && !b->done) {
			void (*fn)(void *) = b->fn;
			void *arg = b->arg;
			pthread_mutex_unlock(&b->mu);
			fn(arg);
			pthread_mutex_lock(&b->mu);
			b->done = true;
			pthread_cond_broadcast(&b->cv);
			continue;
		}
		break; /* stopping with nothing left to run */
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int builder_open(struct builder **out, struct error *e)
{
	struct builder *b = xcalloc(1, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (pthread_create(&b->th, NULL, builder_main, b) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		return err_tmp(e, "mailer: cannot start the message builder thread");
	}
	*out = b;
	return 0;
}

int builder_post(struct builder *b, void (*fn)(void *), void *arg)
{
	int r = -1;
	pthread_mutex_lock(&b->mu);
	if (!b->held) {
		b->fn = fn;
		b->arg = arg;
		b->held = true;
		b->done = false;
		pthread_cond_broadcast(&b->cv);
		r = 0;
	}
	pthread_mutex_unlock(&b->mu);
	return r;
}

void *builder_take(struct builder *b, bool wait)
{
	void *arg = NULL;
	pthread_mutex_lock(&b->mu);
	while (wait && b->held && !b->done)
		pthread_cond_wait(&b->cv, &b->mu);
	if (b->held && b->done) {
		arg = b->arg;
		b->held = false;
		b->done = false;
		b->arg = NULL;
	}
	pthread_mutex_unlock(&b->mu);
	return arg;
}

bool builder_held(const struct builder *b)
{
	/* Read by the one thread that posts and takes: no other writer of held. */
	return b->held;
}

void builder_close(struct builder **bp)
{
	struct builder *b = *bp;
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
	*bp = NULL;
}
