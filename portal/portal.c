/*
 * portal.c — the portal role: two HTTP listeners (libmicrohttpd), one for
 * residents and one for staff, on separate ports so the staff side can be
 * kept off the Internet.  Runs in the portal process; never holds a key.
 *
 * The listening sockets are made before the role leaves root and loads its
 * seccomp filter; after that the portal accepts on them and makes no socket
 * of its own.
 *
 * For now both sides answer an honest "not built yet" page and /healthz;
 * the opening flow and the dashboard build on this.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "conf/conf.h"
#include "portal/http.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/store.h"

enum side { SIDE_RESIDENT, SIDE_STAFF };

static const char resident_page[] =
	"<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	"<title>オンライン通知 — tayori</title></head><body>"
	"<h1>オンライン通知</h1>"
	"<p>通知を開くには、メールに記載されたリンクからアクセスしてください。</p>"
	"<p>このページは準備中です（まだ実装されていません）。</p>"
	"<p lang=\"en\">Online notices: open the link in your e-mail. This page is not built yet.</p>"
	"</body></html>\n";

static const char staff_page[] =
	"<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	"<title>職員ダッシュボード — tayori</title></head><body>"
	"<h1>職員ダッシュボード</h1>"
	"<p>ダッシュボードは準備中です（まだ実装されていません）。"
	"当面はコマンド <code>tayori batch</code>・<code>tayori user</code> をご利用ください。</p>"
	"<p lang=\"en\">Staff dashboard: not built yet.</p>"
	"</body></html>\n";

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **state)
{
	enum side side = (enum side)(intptr_t)cls;
	int head = strcmp(method, "HEAD") == 0;

	if (strcmp(method, "GET") != 0 && !head)
		return http_error(c, 405);
	if (*upload_size != 0)
		return http_error(c, 413);
	if (strcmp(url, "/healthz") == 0)
		return http_respond(c, 200, "text/plain; charset=utf-8", "ok\n", 3);
	if (strcmp(url, "/") == 0) {
		const char *page = side == SIDE_STAFF ? staff_page : resident_page;
		return http_respond(c, 200, "text/html; charset=utf-8", page, strlen(page));
	}
	return http_error(c, 404);
}

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

/* Serve on a socket made by open_listener; MHD owns it from then on. */
static struct MHD_Daemon *serve_on(int fd, int v6, const char *spec, enum side side,
				   unsigned max_conn, struct error *e)
{
	struct MHD_Daemon *d;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (v6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, handle, (void *)(intptr_t)side,
			     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_CONNECTION_LIMIT, max_conn,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
			     MHD_OPTION_END);
	if (d == NULL)
		err_tmp(e, "cannot serve on %s", spec);
	return d;
}

int portal_main(struct role_ctx *ctx)
{
	char host[256];
	const char *rl = conf_str(ctx->conf, "portal", "resident_listen");
	const char *sl = conf_str(ctx->conf, "portal", "staff_listen");
	int ports[2] = { 0, 0 };
	struct keys_client *kc = keys_client_new(ctx->keys_fd);
	struct store *st = NULL;
	struct MHD_Daemon *resident = NULL, *staff = NULL;
	struct error e = { { 0 }, 0 };
	unsigned max_conn = (unsigned)conf_int(ctx->conf, "portal", "max_connections");
	int ret = 3, rfd = -1, sfd = -1, r6 = 0, s6 = 0;

	conf_listen_split(rl, host, sizeof(host), &ports[0]);
	conf_listen_split(sl, host, sizeof(host), &ports[1]);
	/* The listening sockets first (as root when started so), then confine
	 * before the listener threads exist, so they inherit it. */
	if ((rfd = open_listener(rl, &r6, &e)) < 0 || (sfd = open_listener(sl, &s6, &e)) < 0)
		goto out;
	if (role_confine(ctx, NULL, NULL, ports, &e) < 0 ||
	    store_open(ctx->data_dir, kc, 0, &st, &e) < 0)
		goto out;
	resident = serve_on(rfd, r6, rl, SIDE_RESIDENT, max_conn, &e);
	if (resident == NULL)
		goto out;
	rfd = -1; /* MHD's now */
	staff = serve_on(sfd, s6, sl, SIDE_STAFF, max_conn, &e);
	if (staff == NULL)
		goto out;
	sfd = -1;
	log_info("event=ready resident=%s staff=%s", rl, sl);
	while (role_wait_parent(ctx, 1000) == 0)
		;
	ret = 0;
out:
	if (ret != 0)
		log_err("event=start_failed reason=\"%s\"", e.msg);
	if (staff != NULL)
		MHD_stop_daemon(staff);
	if (resident != NULL)
		MHD_stop_daemon(resident);
	if (rfd >= 0)
		close(rfd);
	if (sfd >= 0)
		close(sfd);
	store_close(&st);
	keys_client_free(&kc);
	return ret;
}
