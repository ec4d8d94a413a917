/*
 * portal.c — the portal role: two HTTP listeners (libmicrohttpd), one for
 * residents and one for staff, on separate ports so the staff side can be
 * kept off the Internet.  Runs in the portal process; never holds a key.
 *
 * For now both sides answer an honest "not built yet" page and /healthz;
 * the opening flow and the dashboard build on this.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "conf.h"
#include "http.h"
#include "keys.h"
#include "log.h"
#include "role.h"
#include "store.h"

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

static struct MHD_Daemon *listen_on(const char *spec, enum side side, unsigned max_conn,
				    struct error *e)
{
	char host[256];
	int port;
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (conf_listen_split(spec, host, sizeof(host), &port) < 0) {
		err_set(e, "bad listen address %s", spec);
		return NULL;
	}
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		err_set(e, "listen address %s must be a numeric IP address", spec);
		return NULL;
	}
	d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, (void *)(intptr_t)side,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_CONNECTION_LIMIT, max_conn,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
			     MHD_OPTION_END);
	if (d == NULL)
		err_tmp(e, "cannot listen on %s (in use?)", spec);
	return d;
}

int portal_main(struct role_ctx *ctx)
{
	char db[4096], tmp[4096], host[256];
	const char *rw[3];
	const char *rl = conf_str(ctx->conf, "portal", "resident_listen");
	const char *sl = conf_str(ctx->conf, "portal", "staff_listen");
	int ports[2] = { 0, 0 };
	struct keys_client *kc = keys_client_new(ctx->keys_fd);
	struct store *st = NULL;
	struct MHD_Daemon *resident = NULL, *staff = NULL;
	struct error e = { { 0 }, 0 };
	unsigned max_conn = (unsigned)conf_int(ctx->conf, "portal", "max_connections");
	int ret = 3;

	str_fmt(db, sizeof(db), "%s/db", ctx->data_dir);
	str_fmt(tmp, sizeof(tmp), "%s/tmp", ctx->data_dir);
	rw[0] = db;
	rw[1] = tmp;
	rw[2] = NULL;
	conf_listen_split(rl, host, sizeof(host), &ports[0]);
	conf_listen_split(sl, host, sizeof(host), &ports[1]);
	/* Confine before the listener threads exist, so they inherit it. */
	if (role_confine(ctx, rw, NULL, ports, &e) < 0 ||
	    store_open(ctx->data_dir, kc, 0, &st, &e) < 0)
		goto out;
	resident = listen_on(rl, SIDE_RESIDENT, max_conn, &e);
	if (resident == NULL)
		goto out;
	staff = listen_on(sl, SIDE_STAFF, max_conn, &e);
	if (staff == NULL)
		goto out;
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
	store_close(&st);
	keys_client_free(&kc);
	return ret;
}
