/*
 * staff_help.c — the dashboard's help pages (GET /help, /help/TOPIC,
 * /help/admin) for every logged-in staff member, and the manual's
 * screenshots (GET /static/help/NAME.png, from the binary, cached like
 * the stylesheet: they show only the demo tenant).  Runs in the portal
 * process; the pages hold the store lock only for the login check.
 */
#include <string.h>

#include "portal/page_staff_help.h"
#include "portal/staff_int.h"

int staff_h_help(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	const char *topic = strcmp(req->path, "/help") == 0 ? "" : req->subpath;
	int r = staff_guard(sc, req, resp, 0, "閲覧", "", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	r = page_staff_help(&resp->body, &w.u, topic);
	if (r == 1) {
		resp->status = 404;
		return page_staff_note(&resp->body, &w.u, "ページが見つかりません",
				       "操作マニュアルに、そのページはありません。", "/help",
				       "操作マニュアルの目次に戻る");
	}
	return r;
}

int staff_h_help_img(const struct http_request *req, struct http_response *resp, void *ctx)
{
	const unsigned char *data;
	size_t len;

	(void)ctx;
	if (page_help_img(req->subpath, &data, &len) < 0) {
		http_resp_error(resp, 404);
		return 0;
	}
	resp->cache_seconds = 86400;
	http_resp_bytes(resp, "image/png", data, len, NULL, NULL);
	return 0;
}
