/*
 * live_notify.c — the portal's in-process notifier of new events (see
 * live_notify.h).  Runs in the portal process.
 */
#include "portal/live_notify.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv; /* on CLOCK_MONOTONIC: a clock step does not stretch a wait */
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static uint64_t seq;

static void cv_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
}

void live_notify(uint64_t batch)
{
	(void)batch; /* the waiter reads every batch it watches: few, and cheaply */
	pthread_once(&cv_once, cv_init);
	pthread_mutex_lock(&mu);
	seq++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

uint64_t live_seq(void)
{
	uint64_t s;

	pthread_mutex_lock(&mu);
	s = seq;
	pthread_mutex_unlock(&mu);
	return s;
}

int live_wait(uint64_t *seen, int timeout_ms)
{
	struct timespec ts;
	int moved;

	pthread_once(&cv_once, cv_init);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (seq == *seen && pthread_cond_timedwait(&cv, &mu, &ts) == 0)
		;
	moved = seq != *seen;
	*seen = seq;
	pthread_mutex_unlock(&mu);
	return moved;
}
