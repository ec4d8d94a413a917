/*
 * staff_chart.c — GET /batches/ID/chart: a batch page's chart of opens and
 * downloads (page_staff_chart.h: the SVG and the table of the same figures)
 * as an HTML fragment, behind the login and the view permission, for the
 * page's script to put in place when the live view says the figures moved
 * (dashboard.js, throttled), so the chart follows as the rows do without a
 * reload and without any script or style inline.  Not audited: it shows
 * counts only, no resident.  Runs with the store lock held, in the portal
 * process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/batches.h"
#include "lib/log.h"
#include "portal/page_staff_chart.h"
#include "portal/staff_int.h"

int staff_chart_path(const char *subpath)
{
	size_t n = strcspn(subpath, "/");

	return n > 0 && strcmp(subpath + n, "/chart") == 0;
}

int staff_h_chart(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct batch_summary bs;
	struct notice_status *rows = NULL;
	char id[24], target[40];
	size_t n = strcspn(req->subpath, "/");
	uint64_t batch = 0;
	int r, bad;

	str_copy(id, n < sizeof(id) ? req->subpath : "", n < sizeof(id) ? n + 1 : sizeof(id));
	bad = staff_batch_id(id, &batch) < 0;
	str_fmt(target, sizeof(target), bad ? "batch:?" : "batch:%llu", (unsigned long long)batch);
	r = staff_guard(sc, req, resp, PERM_VIEW, "閲覧", target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = bad ? 1 : batches_get(sc->st, batch, &bs, NULL, &e);
	if (r == 0 && strcmp(bs.status, BATCH_STATUS_STORING) == 0)
		r = 1;
	if (r == 0)
		r = notice_statuses(sc->st, batch, now_utc(), &rows, &n, &e);
	if (r < 0) {
		log_err("event=staff_chart_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 1) {
		http_resp_error(resp, 404);
		return 0;
	}
	r = page_staff_chart(&resp->body, rows, n, now_utc());
	free(rows);
	return r;
}
