/*
 * http.c — the portal's HTTP listener (see http.h): a libmicrohttpd daemon
 * with epoll and a thread pool, that reads each request into a struct
 * http_request, finds its route, runs the handler (or hands it to the
 * worker pool while the connection is suspended), and has the response
 * sent (http_send.c); the per-IP limits; starting and stopping.
 * Implements RFC 9110 (methods, status codes, limits); TLS 1.2/1.3
 * through libmicrohttpd's GnuTLS.  Runs in the portal process.
 */
#include "portal/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "lib/log.h"
#include "portal/http_int.h"

/* TLS 1.2 and 1.3 only; AEAD suites only (AES-GCM, AES-CCM, ChaCha20-
 * Poly1305); key exchange with forward secrecy only (ECDHE, DHE). */
static const char tls_priorities[] =
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-CCM:+AES-128-CCM:"
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:%SERVER_PRECEDENCE";

static void mhd_log(void *cls, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_listener *l = cls;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	str_copy(l->last_error, msg, sizeof(l->last_error));
	log_debug("event=http_library listener=%s msg=\"%s\"", l->cfg.name, msg);
}

/* ---- the request ---------------------------------------------------- */

struct copy_ctx {
	struct http_fields *f;
	int overflow;
};

static enum MHD_Result copy_value(void *cls, enum MHD_ValueKind kind, const char *key,
				  size_t key_size, const char *value, size_t value_size)
{
	struct copy_ctx *cc = cls;
	struct http_field *f;
	(void)kind;
	if (cc->f->n >= HTTP_FIELDS_MAX) {
		cc->overflow = 1;
		return MHD_NO;
	}
	f = &cc->f->f[cc->f->n++];
	f->name = xstrndup(key, key_size);
	f->value = value != NULL ? xmalloc(value_size + 1) : xstrdup("");
	if (value != NULL) {
		memcpy(f->value, value, value_size);
		f->value[value_size] = '\0';
	}
	f->value_len = value != NULL ? value_size : 0;
	return MHD_YES;
}

static int copy_values(struct MHD_Connection *c, enum MHD_ValueKind kind, struct http_fields *f)
{
	struct copy_ctx cc = { f, 0 };
	MHD_get_connection_values_n(c, kind, copy_value, &cc);
	return cc.overflow ? -1 : 0;
}

/* The client's address: the peer's, or behind a local proxy the last entry
 * of X-Forwarded-For (the one that proxy wrote), and the key the rate limit
 * counts it by ("" for a loopback peer that forwards nothing). */
static void client_ip(struct http_exchange *x, struct MHD_Connection *c)
{
	struct http_listener *l = x->l;
	struct http_request *r = &x->req;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
	const char *xff = http_header(r, "X-Forwarded-For");
	const char *proto = http_header(r, "X-Forwarded-Proto");
	int local, forwarded = 0;

	str_copy(r->client_ip, "unknown", sizeof(r->client_ip));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->client_ip,
			  sizeof(r->client_ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->client_ip,
			  sizeof(r->client_ip));
	local = http_peer_is_loopback(sa);
	if (l->cfg.trust_forwarded && local && xff != NULL) {
		const char *last = strrchr(xff, ',');
		char ip[HTTP_IP_LEN + 1];
		unsigned char tmp[sizeof(struct in6_addr)];
		size_t n;
		last = last != NULL ? last + 1 : xff;
		last += strspn(last, " \t");
		n = strcspn(last, " \t");
		if (n < sizeof(ip)) {
			memcpy(ip, last, n);
			ip[n] = '\0';
			if (inet_pton(AF_INET, ip, tmp) == 1 || inet_pton(AF_INET6, ip, tmp) == 1) {
				str_copy(r->client_ip, ip, sizeof(r->client_ip));
				forwarded = 1;
			}
		}
	}
	if (l->cfg.trust_forwarded && local && proto != NULL && strcasecmp(proto, "https") == 0)
		r->is_tls = 1;
	if (forwarded || !local || l->cfg.limit_loopback)
		http_peer_key(r->client_ip, x->limit_key, sizeof(x->limit_key));
}

/* Fill x->req from the connection; the HTTP status to answer with at once
 * when the request cannot go on, else 0. */
static unsigned read_request(struct http_exchange *x, struct MHD_Connection *c, const char *url,
			     const char *method)
{
	struct http_request *r = &x->req;
	const char *v;

	x->path = xstrdup(url);
	r->method = strcmp(method, "HEAD") == 0 ? "HEAD" : strcmp(method, "POST") == 0 ? "POST" : "GET";
	r->is_head = strcmp(method, "HEAD") == 0;
	r->path = x->path;
	r->subpath = "";
	r->is_tls = x->l->tls;
	r->body = (const uint8_t *)"";
	if (copy_values(c, MHD_HEADER_KIND, &r->headers) < 0)
		return 431;
	/* The header block's size, checked here so the 431 carries the
	 * security headers (libmicrohttpd's own, past its larger memory
	 * limit, does not). */
	{
		size_t total = strlen(url) + strlen(method) + 12;
		for (size_t i = 0; i < r->headers.n; i++)
			total += strlen(r->headers.f[i].name) + r->headers.f[i].value_len + 4;
		if (total > x->l->cfg.header_max)
			return 431;
	}
	client_ip(x, c);
	if (copy_values(c, MHD_GET_ARGUMENT_KIND, &r->query) < 0)
		return 400;
	for (size_t i = 0; i < r->headers.n; i++)
		if (strcasecmp(r->headers.f[i].name, "Cookie") == 0 &&
		    http_cookie_parse(r->headers.f[i].value, &r->cookies) < 0)
			return 400;
	v = http_header(r, "User-Agent");
	r->user_agent = v != NULL ? v : "";
	v = http_header(r, "Range");
	r->range = v != NULL ? v : "";
	v = http_header(r, "Content-Type");
	r->content_type = v != NULL ? v : "";
	return 0;
}

/* The route for the request, or NULL with *status 404 or 405 (and the
 * methods that path allows in allow). */
static const struct http_route *find_route(const struct http_route *routes, const char *method,
					   const char *path, const char **subpath,
					   unsigned *status, char *allow, size_t allowsize)
{
	int known_path = 0, get = 0, post = 0;
	for (const struct http_route *rt = routes; rt->method != NULL; rt++) {
		size_t n = strlen(rt->path);
		int match = rt->flags & HTTP_PREFIX ? strncmp(path, rt->path, n) == 0
						    : strcmp(path, rt->path) == 0;
		if (!match)
			continue;
		known_path = 1;
		get |= strcmp(rt->method, "GET") == 0;
		post |= strcmp(rt->method, "POST") == 0;
		if (strcmp(rt->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0)) {
			*subpath = rt->flags & HTTP_PREFIX ? path + n : "";
			return rt;
		}
	}
	*status = known_path ? 405 : 404;
	str_fmt(allow, allowsize, "%s%s%s", get ? "GET, HEAD" : "", get && post ? ", " : "",
		post ? "POST" : "");
	return NULL;
}

static const struct http_route style_route = { "GET", "/static/style.css", 0, NULL, 0 };

/* ---- handlers and the worker pool ------------------------------------ */

/* Give back what a handler put in x->resp, so it starts afresh. */
static void resp_reset(struct http_exchange *x)
{
	struct http_response *p = &x->resp;
	if (p->bytes_free != NULL)
		p->bytes_free(p->bytes_arg);
	if (p->stream_release != NULL)
		p->stream_release(p->stream_arg);
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->headers[i][0]);
		free(p->headers[i][1]);
	}
	buf_reset(&p->body);
	p->bytes = NULL;
	p->bytes_len = 0;
	p->bytes_free = NULL;
	p->bytes_arg = NULL;
	p->stream_next = NULL;
	p->stream_arg = NULL;
	p->stream_release = NULL;
	p->nheaders = 0;
	p->cache_seconds = 0;
	p->status = 200;
	p->content_type = "text/html; charset=utf-8";
}

/* Run x's handler; 1 when it would block on a listener's thread (an
 * HTTP_TRY_FAST route: x->resp is as it was, the pool runs it next). */
static int run_handler(struct http_exchange *x)
{
	struct http_listener *l = x->l;
	int rc;
	if (x->route == &style_route) {
		x->resp.content_type = "text/css; charset=utf-8";
		x->resp.cache_seconds = 3600;
		http_resp_bytes(&x->resp, "text/css; charset=utf-8", http_style_css,
				strlen(http_style_css), NULL, NULL);
		return 0;
	}
	rc = x->route->handler(&x->req, &x->resp, l->ctx);
	if (rc == HTTP_WOULD_BLOCK && !x->req.may_block && (x->route->flags & HTTP_TRY_FAST)) {
		resp_reset(x);
		return 1;
	}
	if (rc != 0) {
		log_warn("event=http_handler_failed listener=%s path=\"%s\"%s", l->cfg.name,
			 x->route->path, rc > 0 ? " reason=\"would block\"" : "");
		http_resp_error(&x->resp, 500);
	}
	return 0;
}

/* x's early check (headers only): 0 go on reading the body (x->resp
 * afresh), 1 answered in x->resp. */
static int run_early(struct http_exchange *x)
{
	int rc;

	x->req.body = (const uint8_t *)"";
	x->req.body_len = 0;
	rc = x->early->handler(&x->req, &x->resp, x->l->ctx);
	if (rc == 0) {
		resp_reset(x);
		return 0;
	}
	if (rc < 0) {
		log_warn("event=http_handler_failed listener=%s path=\"%s\" reason=\"early check\"",
			 x->l->cfg.name, x->route->path);
		resp_reset(x);
		http_resp_error(&x->resp, 500);
	}
	return 1;
}

static void *worker(void *arg)
{
	struct http_listener *l = arg;
	for (;;) {
		struct http_exchange *x;
		pthread_mutex_lock(&l->mu);
		while (l->head == NULL && !l->stopping)
			pthread_cond_wait(&l->cv, &l->mu);
		x = l->head;
		if (x == NULL) { /* stopping, and nothing left */
			pthread_mutex_unlock(&l->mu);
			return NULL;
		}
		l->head = x->next;
		if (l->head == NULL)
			l->tail = NULL;
		pthread_mutex_unlock(&l->mu);
		x->req.may_block = 1;
		if (x->phase == PHASE_EARLY) {
			x->phase = run_early(x) == 0 ? PHASE_RESUMED : PHASE_DONE;
		} else {
			run_handler(x);
			x->phase = PHASE_DONE;
		}
		MHD_resume_connection(x->conn);
	}
}

/* Hand x to the pool and suspend its connection; -1 when stopping. */
static int enqueue(struct http_exchange *x, struct MHD_Connection *c, enum http_phase phase)
{
	struct http_listener *l = x->l;
	pthread_mutex_lock(&l->mu);
	if (l->stopping) {
		pthread_mutex_unlock(&l->mu);
		return -1;
	}
	x->conn = c;
	x->phase = phase;
	/* Suspended before a worker can resume it: under the pool's lock. */
	MHD_suspend_connection(c);
	x->next = NULL;
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

/* ---- libmicrohttpd's callbacks --------------------------------------- */

static int is_form(const char *content_type)
{
	size_t n = strlen("application/x-www-form-urlencoded");
	return strncasecmp(content_type, "application/x-www-form-urlencoded", n) == 0 &&
	       (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* Does a Content-Length announce more than max bytes? */
static int too_long(const char *cl, size_t max)
{
	int64_t n;
	return cl != NULL && parse_int64(cl, 0, INT64_MAX, &n) == 0 && (uint64_t)n > max;
}

/* The first call: a new request with its headers read. */
static enum MHD_Result begin(struct http_listener *l, struct MHD_Connection *c, const char *url,
			     const char *method, void **state)
{
	struct http_exchange *x = xcalloc(1, sizeof(*x));
	char allow[32] = "";
	unsigned status;
	const char *cl, *subpath;

	x->l = l;
	buf_init(&x->resp.body, HTTP_PAGE_MAX);
	x->resp.status = 200;
	x->resp.content_type = "text/html; charset=utf-8";
	*state = x;
	status = read_request(x, c, url, method);
	if (status != 0)
		return http_send_error(x, c, status, NULL);
	if (x->limit_key[0] != '\0' && http_limiter_take(l->rate, x->limit_key) < 0) {
		log_debug("event=http_rate_limited listener=%s", l->cfg.name);
		return http_send_error(x, c, 429, NULL);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && strcmp(method, "POST") != 0) {
		find_route(l->routes, "", x->req.path, &x->req.subpath, &status, allow, sizeof(allow));
		return http_send_error(x, c, status, allow);
	}
	if (strcmp(x->req.path, style_route.path) == 0 && strcmp(method, "POST") != 0)
		x->route = &style_route;
	else
		x->route = find_route(l->routes, method, x->req.path, &x->req.subpath, &status, allow,
				      sizeof(allow));
	cl = http_header(&x->req, "Content-Length");
	if (x->route == NULL)
		return http_send_error(x, c, too_long(cl, HTTP_BODY_MAX) ? 413 : status, allow);
	x->body_max = strcmp(method, "POST") != 0 ? 0
		      : (x->route->flags & HTTP_BODY_CONF) && l->cfg.body_conf_max != 0
			      ? l->cfg.body_conf_max
		      : x->route->body_max != 0  ? x->route->body_max
						  : HTTP_BODY_MAX;
	buf_init(&x->body, x->body_max + 1);
	if (cl != NULL) {
		int64_t n;
		if (parse_int64(cl, 0, INT64_MAX, &n) < 0)
			return http_send_error(x, c, 400, NULL);
		if ((uint64_t)n > x->body_max)
			return http_send_error(x, c, 413, NULL);
	}
	/* The early check before any of the body is read: a refused sender
	 * costs no more than its headers. */
	if (x->body_max != 0 && l->cfg.early_routes != NULL)
		x->early = find_route(l->cfg.early_routes, method, x->req.path, &subpath, &status,
				      allow, sizeof(allow));
	if (x->early != NULL)
		return enqueue(x, c, PHASE_EARLY) < 0 ? http_send_error(x, c, 503, NULL) : MHD_YES;
	x->phase = PHASE_BODY;
	return MHD_YES;
}

/* The whole request is in: check it, run its handler or hand it over. */
static enum MHD_Result complete(struct http_exchange *x, struct MHD_Connection *c)
{
	struct http_request *r = &x->req;
	if (x->too_big)
		return http_send_error(x, c, 413, NULL);
	buf_append_u8(&x->body, 0); /* keeps it NUL-terminated; not counted */
	x->body.len--;
	r->body = x->body.data != NULL ? x->body.data : (const uint8_t *)"";
	r->body_len = x->body.len;
	if (strcmp(r->method, "POST") == 0) {
		if (is_form(r->content_type) &&
		    http_form_parse((const char *)r->body, r->body_len, &r->form) < 0)
			return http_send_error(x, c, 400, NULL);
		if (!(x->route->flags & HTTP_CSRF_OWN) && http_csrf_check(r) < 0) {
			log_info("event=http_csrf_refused listener=%s path=\"%s\"", x->l->cfg.name,
				 x->route->path);
			return http_send_error(x, c, 403, NULL);
		}
	}
	/* An HTTP_SLOW route goes to the pool, unless it is HTTP_TRY_FAST
	 * and its handler needs no wait this time. */
	if ((x->route->flags & HTTP_SLOW) &&
	    (!(x->route->flags & HTTP_TRY_FAST) || run_handler(x) == 1)) {
		if (enqueue(x, c, PHASE_SLOW) < 0)
			return http_send_error(x, c, 503, NULL);
		return MHD_YES;
	}
	if (!(x->route->flags & HTTP_SLOW))
		run_handler(x);
	x->phase = PHASE_DONE;
	return http_send_response(x, c);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **state)
{
	struct http_listener *l = cls;
	struct http_exchange *x = *state;
	(void)version;

	if (x == NULL)
		return begin(l, c, url, method, state);
	switch (x->phase) {
	case PHASE_RESUMED:
		/* The early check passed: libmicrohttpd repeats its first call
		 * (no data yet), then hands over the body. */
		x->phase = PHASE_BODY;
		if (*upload_size == 0)
			return MHD_YES;
		/* fall through */
	case PHASE_BODY:
		if (*upload_size != 0) {
			if (x->too_big || x->body.len + *upload_size > x->body_max)
				x->too_big = 1; /* read and dropped; 413 at the end */
			else
				buf_append(&x->body, upload_data, *upload_size);
			*upload_size = 0;
			return MHD_YES;
		}
		return complete(x, c);
	case PHASE_DONE:
		return http_send_response(x, c);
	default:
		return MHD_YES; /* suspended in the pool: nothing to do yet */
	}
}

static void exchange_free(struct http_exchange *x)
{
	struct http_response *p = &x->resp;
	if (!x->bytes_given && p->bytes_free != NULL)
		p->bytes_free(p->bytes_arg);
	if (p->stream_release != NULL) /* a stream never handed to a response */
		p->stream_release(p->stream_arg);
	http_fields_free(&x->req.query);
	http_fields_free(&x->req.form);
	http_fields_free(&x->req.cookies);
	http_fields_free(&x->req.headers);
	for (size_t i = 0; i < p->nheaders; i++) {
		free(p->headers[i][0]);
		free(p->headers[i][1]);
	}
	buf_free(&p->body);
	buf_free(&x->body);
	free(x->path);
	free(x);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	if (*state != NULL)
		exchange_free(*state);
	*state = NULL;
}

/* The per-IP connection limit.  A loopback peer is a local proxy or tool:
 * not counted (the proxy limits its own clients) unless limit_loopback.
 *
 * The accept policy checks and counts in one step (so two threads
 * accepting at once cannot both take the last place), and leaves the
 * place with the thread; the connection's start, on the same thread,
 * takes it over.  A place still held at the thread's next accept belongs
 * to a connection that failed before it started: it is given back. */
static _Thread_local struct {
	struct http_listener *l;
	size_t slot;
	int held;
} reserved;

static void give_back_reserved(void)
{
	if (reserved.held)
		http_peers_release(reserved.l->peers, reserved.slot);
	reserved.held = 0;
}

static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_listener *l = cls;
	size_t slot;
	(void)addrlen;
	give_back_reserved();
	if (!l->cfg.limit_loopback && http_peer_is_loopback(addr))
		return MHD_YES;
	if (http_peers_take(l->peers, addr, &slot) < 0) {
		log_debug("event=http_connections_per_ip_full listener=%s", l->cfg.name);
		return MHD_NO;
	}
	reserved.l = l;
	reserved.slot = slot;
	reserved.held = 1;
	return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_state,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_listener *l = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		*socket_state = NULL;
		if (ci == NULL || ci->client_addr == NULL ||
		    (!l->cfg.limit_loopback && http_peer_is_loopback(ci->client_addr)))
			return;
		if (reserved.held && reserved.l == l) {
			*socket_state = (void *)(uintptr_t)(reserved.slot + 1);
			reserved.held = 0;
		} else { /* started on another thread than its accept */
			*socket_state = (void *)(uintptr_t)(http_peers_add(l->peers, ci->client_addr) + 1);
		}
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_state != NULL) {
		http_peers_release(l->peers, (size_t)((uintptr_t)*socket_state - 1));
		*socket_state = NULL;
	}
}

/* ---- starting and stopping ------------------------------------------- */

/* The address the listener is on: the socket's, or cfg->listen parsed. */
static int listen_addr(const struct http_listener_config *cfg, struct sockaddr_storage *ss,
		       struct error *e)
{
	char host[256];
	const char *colon = strrchr(cfg->listen, ':');
	int64_t port = -1;
	size_t hl;
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (cfg->fd >= 0) {
		if (getsockname(cfg->fd, (struct sockaddr *)ss, &len) < 0)
			return err_tmp(e, "%s listener on %s: not a socket", cfg->name, cfg->listen);
		return 0;
	}
	/* HOST:PORT or [V6]:PORT; port 0 picks a free one (tests). */
	hl = colon != NULL ? (size_t)(colon - cfg->listen) : 0;
	if (hl >= 2 && cfg->listen[0] == '[' && cfg->listen[hl - 1] == ']')
		str_fmt(host, sizeof(host), "%.*s", (int)(hl - 2), cfg->listen + 1);
	else
		str_fmt(host, sizeof(host), "%.*s", (int)hl, cfg->listen);
	if (colon == NULL || parse_int64(colon + 1, 0, 65535, &port) < 0)
		return err_set(e, "%s listener: bad listen address %s", cfg->name, cfg->listen);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	} else {
		return err_set(e, "%s listener: listen address %s must be a numeric IP address",
			       cfg->name, cfg->listen);
	}
	return 0;
}

static void apply_defaults(struct http_listener_config *c)
{
	if (c->name == NULL)
		c->name = "http";
	if (c->listen == NULL)
		c->listen = "";
	if (c->threads == 0)
		c->threads = 2;
	if (c->slow_threads == 0)
		c->slow_threads = 2;
	if (c->slow_threads > HTTP_SLOW_MAX)
		c->slow_threads = HTTP_SLOW_MAX;
	if (c->max_connections == 0)
		c->max_connections = 512;
	if (c->per_ip_connections == 0)
		c->per_ip_connections = 64;
	if (c->timeout_s == 0)
		c->timeout_s = 30;
	if (c->header_max == 0)
		c->header_max = 8 * 1024;
	if (c->rate_per_s == 0)
		c->rate_per_s = 50;
	if (c->rate_burst == 0)
		c->rate_burst = 4 * c->rate_per_s;
}

static int start_daemon(struct http_listener *l, struct sockaddr_storage *ss, struct error *e)
{
	const struct http_listener_config *c = &l->cfg;
	struct MHD_OptionItem opt[8];
	size_t n = 0;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (ss->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (c->fd >= 0)
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, c->fd, NULL };
	else
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, ss };
	if (l->tls) {
		flags |= MHD_USE_TLS;
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
						    (void *)c->tls_key_pem };
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						    (void *)c->tls_cert_pem };
		opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
						    (void *)tls_priorities };
	}
	opt[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	l->d = MHD_start_daemon(flags, 0, on_accept, l, on_request, l,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
				MHD_OPTION_THREAD_POOL_SIZE, c->threads,
				MHD_OPTION_CONNECTION_LIMIT, c->max_connections,
				MHD_OPTION_CONNECTION_TIMEOUT, c->timeout_s,
				/* Each connection's memory (the library zeroes it all between
				 * requests, so it is resident): the header block with room
				 * to see it is too long, so the layer answers that 431. */
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->header_max + 8 * 1024,
				MHD_OPTION_ARRAY, opt,
				MHD_OPTION_END);
	if (l->d == NULL)
		return err_tmp(e, "cannot start the %s listener on %s%s%s%s", c->name, c->listen,
			       l->tls ? " (is the TLS certificate and key valid?)" : "",
			       l->last_error[0] != '\0' ? ": " : "", l->last_error);
	return 0;
}

int http_listener_start(const struct http_listener_config *cfg, const struct http_route *routes,
			void *ctx, struct http_listener **out, struct error *e)
{
	struct http_listener *l;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;

	*out = NULL;
	l = xcalloc(1, sizeof(*l));
	l->cfg = *cfg;
	apply_defaults(&l->cfg);
	l->routes = routes;
	l->ctx = ctx;
	l->tls = cfg->tls_cert_pem != NULL && cfg->tls_cert_pem[0] != '\0';
	if (listen_addr(&l->cfg, &ss, e) < 0)
		goto fail;
	if (l->tls && (cfg->tls_key_pem == NULL || cfg->tls_key_pem[0] == '\0')) {
		err_set(e, "%s listener on %s: a TLS certificate without its key", l->cfg.name,
			l->cfg.listen);
		goto fail;
	}
	if (!l->tls && !http_peer_is_loopback((struct sockaddr *)&ss)) {
		err_set(e, "%s listener on %s: TLS is required on an address other than loopback "
			   "(set [portal] tls_cert and tls_key, or listen on 127.0.0.1 behind a "
			   "TLS proxy)", l->cfg.name, l->cfg.listen);
		goto fail;
	}
	l->rate = http_limiter_new((size_t)1 << 16, l->cfg.rate_per_s, l->cfg.rate_burst);
	l->peers = http_peers_new(l->cfg.per_ip_connections);
	if (l->rate == NULL || l->peers == NULL) {
		err_tmp(e, "%s listener: cannot make its rate limiter", l->cfg.name);
		goto fail;
	}
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_cond_init(&l->tick_cv, NULL);
	l->has_ticker = pthread_create(&l->ticker, NULL, http_stream_ticker, l) == 0;
	for (; l->nworkers < l->cfg.slow_threads; l->nworkers++)
		if (pthread_create(&l->workers[l->nworkers], NULL, worker, l) != 0)
			break;
	if (l->nworkers == 0 || !l->has_ticker) {
		err_tmp(e, "%s listener: cannot start its workers", l->cfg.name);
		goto fail_pool;
	}
	if (start_daemon(l, &ss, e) < 0)
		goto fail_pool;
	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
	l->port = info != NULL ? info->port : 0;
	*out = l;
	return 0;
fail_pool:
	http_listener_stop(&l);
	return -1;
fail:
	http_limiter_free(&l->rate);
	http_peers_free(&l->peers);
	free(l);
	return -1;
}

void http_listener_stop(struct http_listener **lp)
{
	struct http_listener *l = *lp;
	if (l == NULL)
		return;
	/* The pool first: it finishes what it holds and resumes each
	 * connection, since libmicrohttpd must not stop with one suspended. */
	pthread_mutex_lock(&l->mu);
	l->stopping = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_cond_broadcast(&l->tick_cv);
	pthread_mutex_unlock(&l->mu);
	for (unsigned i = 0; i < l->nworkers; i++)
		pthread_join(l->workers[i], NULL);
	if (l->has_ticker)
		pthread_join(l->ticker, NULL);
	if (l->d != NULL)
		MHD_stop_daemon(l->d);
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->tick_cv);
	pthread_mutex_destroy(&l->mu);
	http_limiter_free(&l->rate);
	http_peers_free(&l->peers);
	free(l);
	*lp = NULL;
}

int http_listener_port(const struct http_listener *l)
{
	return l->port;
}
