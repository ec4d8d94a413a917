/*
 * portal.c — the portal role: two HTTP listeners (libmicrohttpd), one for
 * residents and one for staff, on separate ports so the staff side can be
 * kept off the Internet.  Runs in the portal process; never holds a key.
 *
 * The listening sockets are made before the role leaves root and loads its
 * seccomp filter; after that the portal accepts on them and makes no socket
 * of its own.
 *
 * Both listeners run on the portal's HTTP layer (http.h).  The resident
 * side serves the notices (resident.h); the staff side the dashboard
 * (staff.h), which shares the resident side's store lock.
 *
 * SIGTERM and SIGINT stop it cleanly, like the supervisor's word: the
 * listeners stop, then the events still queued for the group commit (the
 * downloads answered without waiting for it, resident_group.c) are
 * written before the process exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "portal/http.h"
#include "portal/resident.h"
#include "portal/staff.h"
#include "lib/buf.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/store.h"

#define TLS_FILE_MAX (1 << 20)

/* Make the listening socket for spec ("HOST:PORT", numeric host) before
 * the role leaves root and loads its seccomp filter, which forbids making
 * sockets: ports below 1024 stay possible, and the filter stays strict.
 * Returns the descriptor, or -1. */
static int open_listener(const char *spec, int *v6, struct error *e)
{
	char host[256];
	int port, fd = -1, one = 1;
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (conf_listen_split(spec, host, sizeof(host), &port) < 0)
		return err_set(e, "bad listen address %s", spec);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
		*v6 = 0;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
		*v6 = 1;
	} else {
		return err_set(e, "listen address %s must be a numeric IP address", spec);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_tmp(e, "cannot listen on %s: %s", spec, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (*v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		err_tmp(e, "cannot listen on %s (in use?): %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The TLS certificate and key, read before confinement (the key file is
 * then out of reach).  Both stay NULL when [portal] tls_cert is empty. */
static int read_tls(const struct conf *conf, char **cert, char **key, struct error *e)
{
	const char *cp = conf_str(conf, "portal", "tls_cert");
	const char *kp = conf_str(conf, "portal", "tls_key");
	uint8_t *data = NULL;
	size_t len = 0;

	*cert = *key = NULL;
	if (cp[0] == '\0')
		return 0;
	if (file_read_all(cp, TLS_FILE_MAX, &data, &len, e) < 0)
		return -1;
	*cert = (char *)data;
	if (file_read_all(kp, TLS_FILE_MAX, &data, &len, e) < 0)
		return -1;
	*key = (char *)data;
	return 0;
}

static void listener_config(const struct conf *conf, const char *name, const char *spec, int fd,
			    const char *cert, const char *key, struct http_listener_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->listen = spec;
	c->fd = fd;
	c->tls_cert_pem = cert;
	c->tls_key_pem = key;
	c->max_connections = (unsigned)conf_int(conf, "portal", "max_connections");
	/* A TLS proxy (the WAF sample in contrib/) on loopback names the
	 * client and says the request came over TLS. */
	c->trust_forwarded = (int)conf_int(conf, "portal", "trust_proxy");
	c->rate_per_s = (unsigned)conf_int(conf, "portal", "rate_per_ip");
	c->slow_threads = (unsigned)conf_int(conf, "portal", "workers");
}

/* The staff handlers take turns (staff traffic is light); the resident side
 * needs no such lock: the store and the keys client are safe across threads. */
static pthread_mutex_t staff_lock = PTHREAD_MUTEX_INITIALIZER;

/* SIGTERM and SIGINT, blocked in every thread (before any starts) and
 * taken by the main loop. */
static void stop_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Run until the supervisor says stop (or is gone), or a stop signal. */
static void serve_until_stopped(struct role_ctx *ctx, const sigset_t *stop)
{
	static const struct timespec now = { 0, 0 };

	while (role_wait_parent(ctx, 200) == 0)
		if (sigtimedwait(stop, NULL, &now) > 0) {
			log_info("event=stopping reason=signal");
			return;
		}
}

int portal_main(struct role_ctx *ctx)
{
	char host[256];
	const char *rl = conf_str(ctx->conf, "portal", "resident_listen");
	const char *sl = conf_str(ctx->conf, "portal", "staff_listen");
	int ports[2] = { 0, 0 };
	/* Two channels when the supervisor gave two: worker threads' round
	 * trips to keys go on side by side. */
	int kfds[2] = { ctx->keys_fd, ctx->keys_fd2 };
	struct keys_client *kc = keys_client_new_multi(kfds, ctx->keys_fd2 >= 0 ? 2 : 1);
	struct store *st = NULL;
	struct http_listener *resident = NULL, *staff = NULL;
	struct http_listener_config rc, sc;
	struct resident_ctx rctx;
	struct staff_ctx *sctx = NULL;
	int rctx_ok = 0;
	struct error e = { { 0 }, 0 };
	char *cert = NULL, *key = NULL;
	int ret = 3, rfd = -1, sfd = -1, r6 = 0, s6 = 0;
	sigset_t stop;
	/* A channel the keys process closed: the supervisor restarts this role. */
	keys_client_exit_when_lost(kc);

	stop_signals_block(&stop);
	conf_listen_split(rl, host, sizeof(host), &ports[0]);
	conf_listen_split(sl, host, sizeof(host), &ports[1]);
	/* The listening sockets first (as root when started so), then confine
	 * before the listener threads exist, so they inherit it. */
	if ((rfd = open_listener(rl, &r6, &e)) < 0 || (sfd = open_listener(sl, &s6, &e)) < 0 ||
	    read_tls(ctx->conf, &cert, &key, &e) < 0)
		goto out;
	if (role_confine(ctx, NULL, NULL, ports, &e) < 0 ||
	    store_open(ctx->data_dir, kc, 0, &st, &e) < 0)
		goto out;
	if (resident_ctx_init(&rctx, st, ctx->conf, &e) < 0)
		goto out;
	rctx_ok = 1;
	sctx = xcalloc(1, sizeof(*sctx));
	if (staff_ctx_init(sctx, st, &staff_lock, ctx->conf, &e) < 0)
		goto out;
	listener_config(ctx->conf, "resident", rl, rfd, cert, key, &rc);
	if (http_listener_start(&rc, resident_routes, &rctx, &resident, &e) < 0)
		goto out;
	rfd = -1; /* the listener's now */
	listener_config(ctx->conf, "staff", sl, sfd, cert, key, &sc);
	/* An upload from the dashboard: the intake limit, and room for the form. */
	sc.body_conf_max = (size_t)conf_int(ctx->conf, "limits", "message_size") + STAFF_UPLOAD_SLACK;
	sc.csp = STAFF_CSP;
	sc.early_routes = staff_early_routes; /* a refused upload is not read */
	if (http_listener_start(&sc, staff_routes, sctx, &staff, &e) < 0)
		goto out;
	staff_ctx_listener(sctx, staff);
	sfd = -1;
	log_info("event=ready resident=%s staff=%s", rl, sl);
	serve_until_stopped(ctx, &stop);
	ret = 0;
out:
	if (ret != 0)
		log_err("event=start_failed reason=\"%s\"", e.msg);
	http_listener_stop(&staff);
	http_listener_stop(&resident);
	if (sctx != NULL && sctx->st != NULL)
		staff_ctx_free(sctx);
	free(sctx);
	if (rctx_ok)
		resident_ctx_free(&rctx);
	if (key != NULL)
		secure_wipe(key, strlen(key));
	free(key);
	free(cert);
	if (rfd >= 0)
		close(rfd);
	if (sfd >= 0)
		close(sfd);
	store_close(&st);
	keys_client_free(&kc);
	return ret;
}
