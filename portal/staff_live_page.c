/*
 * staff_live_page.c — the staff routes of the live view (see staff_live.h):
 * GET /batches/ID/events behind the login and the view permission, the
 * batch page's script at /static/dashboard.js, and what the batch page
 * shows beyond the states' counts (the usage, the chart, the link
 * scanner's flags).  The script only makes the page fresher: without it
 * (or without EventSource) a reload shows the same.  Runs in the portal
 * process.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/batches.h"
#include "lib/log.h"
#include "portal/page_staff_chart.h"
#include "portal/staff_int.h"
#include "portal/staff_live.h"

/* The batch page's script: it opens the event stream the page names in
 * #live's attributes and writes each row's cells and each figure's text
 * as the server made them (textContent only), and when the figures move
 * puts the chart the server draws (GET /batches/ID/chart, parsed inert by
 * DOMParser: no script runs from it) in #chart's place. */
const char staff_live_js[] =
	"/* dashboard.js \xE2\x80\x94 the batch page's live updates (tayori). */\n"
	"'use strict';\n"
	"(function () {\n"
	"\tvar live = document.getElementById('live');\n"
	"\tif (!live || !window.EventSource || !window.JSON)\n"
	"\t\treturn;\n"
	"\tvar url = '/batches/' + encodeURIComponent(live.getAttribute('data-batch')) +\n"
	"\t\t'/events?since=' + encodeURIComponent(live.getAttribute('data-since'));\n"
	"\tvar es = new EventSource(url);\n"
	"\tvar say = function (t) { live.textContent = t; };\n"
	"\tvar set = function (el, t) { if (el && el.textContent !== t) el.textContent = t; };\n"
	"\tes.addEventListener('open', function () {\n"
	"\t\tsay('\xE9\x96\x8B\xE5\xB0\x81\xE3\x82\x84\xE3\x83\x80\xE3\x82\xA6\xE3\x83\xB3"
	"\xE3\x83\xAD\xE3\x83\xBC\xE3\x83\x89\xE3\x81\xAF\xE8\x87\xAA\xE5\x8B\x95\xE3\x81\xA7"
	"\xE6\x9B\xB4\xE6\x96\xB0\xE3\x81\x95\xE3\x82\x8C\xE3\x81\xBE\xE3\x81\x99\xE3\x80\x82');\n"
	"\t});\n"
	"\tes.addEventListener('row', function (m) {\n"
	"\t\tvar d = JSON.parse(m.data);\n"
	"\t\tvar td = document.getElementById('r-' + d.seq);\n"
	"\t\tvar tr = td && td.parentNode;\n"
	"\t\tif (!tr || !tr.cells || tr.cells.length < 7)\n"
	"\t\t\treturn;\n"
	"\t\tset(tr.cells[2].querySelector('.state') || tr.cells[2], d.state);\n"
	"\t\tset(tr.cells[3], d.contacts);\n"
	"\t\tset(tr.cells[4], d.sent);\n"
	"\t\tset(tr.cells[5], d.opened);\n"
	"\t\tset(tr.cells[6], d.downloaded);\n"
	"\t});\n"
	/* The chart is drawn by the server: fetched again (at most once a
	 * second, the last change never missed) and put in #chart's place. */
	"\tvar chart = document.getElementById('chart'), busy = false, again = false;\n"
	"\tvar redraw = function () {\n"
	"\t\tif (!chart || !window.fetch || !window.DOMParser)\n"
	"\t\t\treturn;\n"
	"\t\tif (busy) { again = true; return; }\n"
	"\t\tbusy = true;\n"
	"\t\tsetTimeout(function () {\n"
	"\t\t\tfetch('/batches/' + encodeURIComponent(live.getAttribute('data-batch')) + '/chart',\n"
	"\t\t\t      { credentials: 'same-origin' })\n"
	"\t\t\t.then(function (r) { return r.ok ? r.text() : null; })\n"
	"\t\t\t.then(function (t) {\n"
	"\t\t\t\tif (t === null)\n"
	"\t\t\t\t\treturn;\n"
	"\t\t\t\tvar doc = new DOMParser().parseFromString(t, 'text/html');\n"
	"\t\t\t\tvar was = chart.querySelector('details'), open = was && was.open;\n"
	"\t\t\t\tchart.replaceChildren.apply(chart, Array.prototype.map.call(doc.body.childNodes,\n"
	"\t\t\t\t\tfunction (n) { return document.importNode(n, true); }));\n"
	/* the table a clerk opened stays open */
	"\t\t\t\tvar now = chart.querySelector('details');\n"
	"\t\t\t\tif (now && open)\n"
	"\t\t\t\t\tnow.open = true;\n"
	"\t\t\t})\n"
	"\t\t\t.catch(function () {})\n"
	"\t\t\t.then(function () {\n"
	"\t\t\t\tbusy = false;\n"
	"\t\t\t\tif (again) { again = false; redraw(); }\n"
	"\t\t\t});\n"
	"\t\t}, 1000);\n"
	"\t};\n"
	"\tes.addEventListener('usage', function (m) {\n"
	"\t\tvar d = JSON.parse(m.data);\n"
	"\t\tredraw();\n"
	"\t\tObject.keys(d).forEach(function (k) {\n"
	"\t\t\tif (k !== 'at')\n"
	"\t\t\t\tset(document.getElementById('u-' + k), d[k]);\n"
	"\t\t});\n"
	/* 自動で更新しています（最終更新 HH:MM）。 */
	"\t\tsay('\xE8\x87\xAA\xE5\x8B\x95\xE3\x81\xA7\xE6\x9B\xB4\xE6\x96\xB0\xE3\x81\x97\xE3"
	"\x81\xA6\xE3\x81\x84\xE3\x81\xBE\xE3\x81\x99\xEF\xBC\x88\xE6\x9C\x80\xE7\xB5\x82\xE6"
	"\x9B\xB4\xE6\x96\xB0 ' + d.at + '\xEF\xBC\x89\xE3\x80\x82');\n"
	"\t});\n"
	"\tes.addEventListener('error', function () {\n"
	"\t\tif (es.readyState === 2)\n"
	/* 自動更新が止まりました。画面を再読み込みしてください。 */
	"\t\t\tsay('\xE8\x87\xAA\xE5\x8B\x95\xE6\x9B\xB4\xE6\x96\xB0\xE3\x81\x8C\xE6\xAD\xA2"
	"\xE3\x81\xBE\xE3\x82\x8A\xE3\x81\xBE\xE3\x81\x97\xE3\x81\x9F\xE3\x80\x82\xE7\x94\xBB"
	"\xE9\x9D\xA2\xE3\x82\x92\xE5\x86\x8D\xE8\xAA\xAD\xE3\x81\xBF\xE8\xBE\xBC\xE3\x81\xBF"
	"\xE3\x81\x97\xE3\x81\xA6\xE3\x81\x8F\xE3\x81\xA0\xE3\x81\x95\xE3\x81\x84\xE3\x80\x82');\n"
	"\t});\n"
	"})();\n";

int staff_h_script(const struct http_request *req, struct http_response *resp, void *ctx)
{
	(void)req, (void)ctx;
	resp->cache_seconds = 300;
	http_resp_bytes(resp, "text/javascript; charset=utf-8", staff_live_js,
			strlen(staff_live_js), NULL, NULL);
	return 0;
}

int staff_live_path(const char *subpath)
{
	size_t n = strcspn(subpath, "/");

	return n > 0 && strcmp(subpath + n, "/events") == 0;
}

/* A decimal number of microseconds, or 0. */
static int64_t since_of(const char *s)
{
	int64_t v = 0;

	if (s == NULL || s[0] == '\0' || strlen(s) > 18)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int staff_h_events(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct batch_summary bs;
	char id[24], target[40];
	size_t n = strcspn(req->subpath, "/");
	uint64_t batch;
	int64_t since;
	int r;

	str_copy(id, n < sizeof(id) ? req->subpath : "", n < sizeof(id) ? n + 1 : sizeof(id));
	if (staff_batch_id(id, &batch) < 0)
		str_copy(target, "batch:?", sizeof(target));
	else
		str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)batch);
	r = staff_guard(sc, req, resp, PERM_VIEW, "閲覧", target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = staff_batch_id(id, &batch) < 0 ? 1 : batches_get(sc->st, batch, &bs, NULL, &e);
	if (r < 0) {
		log_err("event=staff_events_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 1 || strcmp(bs.status, BATCH_STATUS_STORING) == 0) {
		http_resp_error(resp, 404);
		return 0;
	}
	/* A reconnecting browser names the last event it got. */
	since = since_of(http_header(req, "Last-Event-ID"));
	if (since == 0)
		since = since_of(http_query(req, "since"));
	return staff_live_stream(sc->live, batch, http_cookie(req, STAFF_SESSION_COOKIE), since,
				 resp);
}

int staff_live_page(struct staff_ctx *sc, uint64_t batch, const struct notice_status *all, size_t n,
		    size_t from, size_t nrows, struct page_staff_live *out, uint8_t **flags)
{
	struct error e = { { 0 }, 0 };
	struct timespec ts;

	memset(out, 0, sizeof(*out));
	*flags = xcalloc(nrows ? nrows : 1, 1);
	if (n > 0 &&
	    staff_live_scanner_flags(sc->st, batch, all + from, nrows, *flags, &e) < 0) {
		log_err("event=staff_batch_failed reason=\"%s\"", e.msg);
		free(*flags);
		*flags = NULL;
		return -1;
	}
	page_staff_usage_of(all, n, &out->usage);
	out->all = all;
	out->nall = n;
	out->scanner = *flags;
	out->now = now_utc();
	/* The live view starts a little before the states were read: what it
	 * sends again is the rows as they stand, so twice does no harm. */
	clock_gettime(CLOCK_REALTIME, &ts);
	out->since_us = ((int64_t)ts.tv_sec - STAFF_LIVE_LAG_S) * 1000000 + ts.tv_nsec / 1000;
	return 0;
}
