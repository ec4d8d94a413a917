/*
 * http_stream.c — streamed responses of the portal's HTTP layer (see
 * http.h, http_stream_start), such as Server-Sent Events (HTML Living
 * Standard, section 9.2), sent with chunked transfer coding (RFC 9112
 * section 7.1).  A stream with nothing to send suspends its connection
 * and sleeps on the listener's list; one ticker thread wakes the list
 * every HTTP_STREAM_TICK_MS, so a quiet stream holds no thread, or at
 * once when a producer calls http_listener_wake.  Runs in the portal
 * process.
 */
#include "portal/http_int.h"

#include <stdlib.h>
#include <time.h>

struct http_stream {
	struct http_listener *l;
	struct MHD_Connection *c;
	long (*next)(void *arg, char *out, size_t max);
	void *arg;
	void (*release)(void *arg);
	struct http_stream *sleeping_next;
};

void http_stream_start(struct http_response *resp, const char *content_type,
		       long (*next)(void *arg, char *out, size_t max), void *arg,
		       void (*release)(void *arg))
{
	if (resp->bytes_free != NULL)
		resp->bytes_free(resp->bytes_arg);
	resp->bytes = NULL;
	resp->bytes_free = NULL;
	if (resp->stream_release != NULL)
		resp->stream_release(resp->stream_arg);
	resp->content_type = content_type;
	resp->stream_next = next;
	resp->stream_arg = arg;
	resp->stream_release = release;
	buf_reset(&resp->body);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_stream *s = cls;
	struct http_listener *l = s->l;
	uint64_t gen;
	long n;
	(void)pos;
again:
	pthread_mutex_lock(&l->mu);
	gen = l->wake_gen;
	pthread_mutex_unlock(&l->mu);
	n = s->next(s->arg, out, max);
	if (n > 0)
		return n <= (long)max ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing yet: sleep until the next tick or wake (a stopping listener
	 * ends the stream instead; libmicrohttpd must not stop with it
	 * asleep).  A wake since next was asked may be for this stream: ask
	 * again rather than sleep through it. */
	pthread_mutex_lock(&l->mu);
	if (l->wake_gen != gen && !l->stopping) {
		pthread_mutex_unlock(&l->mu);
		goto again;
	}
	if (l->stopping) {
		pthread_mutex_unlock(&l->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	MHD_suspend_connection(s->c);
	s->sleeping_next = l->sleeping;
	l->sleeping = s;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static void free_stream(void *cls)
{
	struct http_stream *s = cls;
	if (s->release != NULL)
		s->release(s->arg);
	free(s);
}

struct MHD_Response *http_stream_response(struct http_exchange *x, struct MHD_Connection *c)
{
	struct http_response *p = &x->resp;
	struct http_stream *s = xcalloc(1, sizeof(*s));
	struct MHD_Response *m;

	*s = (struct http_stream){ x->l, c, p->stream_next, p->stream_arg, p->stream_release,
				   NULL };
	m = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, s, free_stream);
	if (m == NULL) {
		free(s); /* the exchange still holds the stream: it releases it */
		return NULL;
	}
	p->stream_next = NULL;
	p->stream_release = NULL;
	return m;
}

void http_listener_wake(struct http_listener *l)
{
	pthread_mutex_lock(&l->mu);
	l->wake_gen++;
	pthread_cond_signal(&l->tick_cv);
	pthread_mutex_unlock(&l->mu);
}

void *http_stream_ticker(void *arg)
{
	struct http_listener *l = arg;
	int last = 0;
	uint64_t seen;
	pthread_mutex_lock(&l->mu);
	seen = l->wake_gen;
	while (!last) {
		struct http_stream *s;
		/* A wake that came while the last pass was resuming is not lost. */
		if (!l->stopping && seen == l->wake_gen) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)HTTP_STREAM_TICK_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&l->tick_cv, &l->mu, &ts);
		}
		/* Once stopping is seen, no stream goes to sleep again: this
		 * pass wakes the last ones. */
		last = l->stopping;
		seen = l->wake_gen;
		s = l->sleeping;
		l->sleeping = NULL;
		pthread_mutex_unlock(&l->mu);
		while (s != NULL) {
			struct http_stream *next = s->sleeping_next;
			MHD_resume_connection(s->c);
			s = next;
		}
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}
