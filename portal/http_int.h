/*
 * http_int.h — private to the portal's HTTP layer (portal/http*.c): the
 * listener and one request's exchange (http.c), sending a response
 * (http_send.c), and who a client is for the per-address limits
 * (http_peer.c).  Not for handlers; they use http.h.  Runs in the portal
 * process.
 */
#ifndef TAYORI_HTTP_INT_H
#define TAYORI_HTTP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "portal/http.h"

#define HTTP_SLOW_MAX 256 /* workers for HTTP_SLOW routes, at most */

/* PHASE_EARLY: in the pool for the route's early check (headers only);
 * PHASE_RESUMED: it passed, libmicrohttpd calls once more before the body. */
enum http_phase { PHASE_BODY = 1, PHASE_SLOW, PHASE_DONE, PHASE_EARLY, PHASE_RESUMED };

/* One request and its response, from its first call to its end. */
struct http_exchange {
	struct http_listener *l;
	const struct http_route *route;
	const struct http_route *early; /* the request's early check, or NULL */
	struct http_request req;
	struct http_response resp;
	char *path;
	struct buf body;
	size_t body_max;
	int too_big;
	char limit_key[HTTP_IP_LEN]; /* what the rate limit counts; "" exempt */
	int bytes_given; /* the download's bytes belong to an MHD response now */
	enum http_phase phase;
	struct MHD_Connection *conn;
	struct http_exchange *next; /* in the worker pool's queue */
};

struct http_listener {
	struct MHD_Daemon *d;
	const struct http_route *routes;
	void *ctx;
	struct http_listener_config cfg;
	int tls;
	int port;
	struct http_limiter *rate;
	struct http_peers *peers;
	char last_error[256]; /* libmicrohttpd's last message, for a failed start */
	/* the worker pool of HTTP_SLOW routes */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct http_exchange *head, *tail;
	int stopping;
	/* streams with nothing to send, woken every HTTP_STREAM_TICK_MS */
	struct http_stream *sleeping;
	pthread_cond_t tick_cv;
	uint64_t wake_gen; /* raised by http_listener_wake, under mu */
	pthread_t ticker;
	int has_ticker;
	unsigned nworkers;
	pthread_t workers[HTTP_SLOW_MAX];
};


/* The libmicrohttpd response of a streamed x->resp (http_stream.c); the
 * stream is the response's from then on. */
struct MHD_Response *http_stream_response(struct http_exchange *x, struct MHD_Connection *c);
/* The thread that wakes sleeping streams; at stopping it wakes them all a
 * last time and returns. */
void *http_stream_ticker(void *listener);

/* Queue x->resp on c with the security headers: the whole body, a range
 * of a download (206) or 416.  MHD_NO (the connection is closed, nothing
 * sent) when libmicrohttpd refuses a header, e.g. one holding a line
 * break. */
enum MHD_Result http_send_response(struct http_exchange *x, struct MHD_Connection *c);
/* The layer's page for status, with Retry-After for 429 and 503 and Allow
 * (when allow is not NULL or empty) for 405. */
enum MHD_Result http_send_error(struct http_exchange *x, struct MHD_Connection *c,
				unsigned status, const char *allow);

/* Is sa a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
int http_peer_is_loopback(const struct sockaddr *sa);

/* The key a client is limited by, from its textual address: an IPv4
 * address as it is, an IPv6 address cut to its /64 (one subscriber's
 * prefix), anything else as it is.  out holds HTTP_IP_LEN bytes. */
void http_peer_key(const char *ip, char *out, size_t outsize);

/* Open connections per address (IPv6 by /64), in a fixed table under a
 * mutex; addresses that share a slot share its count (strict side). */
struct http_peers;
struct http_peers *http_peers_new(unsigned per_addr);
/* Count one more connection of sa and set *slot (for the release): 0, or
 * -1 (nothing counted) when sa already has per_addr. */
int http_peers_take(struct http_peers *p, const struct sockaddr *sa, size_t *slot);
/* Count one more connection of sa whatever the limit; returns its slot. */
size_t http_peers_add(struct http_peers *p, const struct sockaddr *sa);
void http_peers_release(struct http_peers *p, size_t slot);
void http_peers_free(struct http_peers **p);

#endif
