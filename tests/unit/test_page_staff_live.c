/*
 * test_page_staff_live.c — unit tests for the dashboard's live parts that
 * need no store: the link scanner's heuristic (portal/staff_live.c) over
 * user agents and delays, the usage figures and a row's cells as the page
 * and the live view write them, and the chart of opens and downloads
 * (portal/page_staff_chart.c) over generated batches (fixed seed): its
 * table adds up to the residents who opened and downloaded, its periods
 * are at most PAGE_CHART_BUCKETS, its lines stay inside the drawing, and
 * it is labelled for assistive technology.  Runs as a stand-alone cmocka
 * program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/notice.h"
#include "portal/page_staff.h"
#include "portal/page_staff_chart.h"
#include "portal/staff_live.h"

static const char *const headless[] = {
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
	"python-requests/2.31.0",
	"curl/7.88.1",
	"Go-http-client/1.1",
	"Mozilla/5.0 (compatible; Barracuda Sentinel)",
	"Microsoft Office SafeLinks",
	"Mozilla/5.0 (compatible; bingbot/2.0)",
	"",
};
static const char *const people[] = {
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SH-M26) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
};

/* A fixed-seed generator (xorshift64): the same variations every run. */
static uint64_t seed;
static void seed_set(uint64_t s) { seed = s * 2654435761u + 1; }
static int rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (int)(seed >> 33);
}

static void test_scanner(void **state)
{
	(void)state;
	seed_set(12);
	for (size_t i = 0; i < sizeof(headless) / sizeof(headless[0]); i++) {
		for (int k = 0; k < 20; k++) {
			int64_t d = rnd() % (STAFF_SCANNER_DELAY_S + 1);
			assert_int_equal(staff_live_scanner(headless[i], d), 1);
			assert_int_equal(staff_live_scanner(headless[i],
							   STAFF_SCANNER_DELAY_S + 1 + rnd() % 86400),
					 0);
		}
		/* Delivery time unknown: no flag. */
		assert_int_equal(staff_live_scanner(headless[i], -1), 0);
	}
	for (size_t i = 0; i < sizeof(people) / sizeof(people[0]); i++)
		for (int k = 0; k < 20; k++)
			assert_int_equal(staff_live_scanner(people[i], rnd() % 600), 0);
	/* Case does not matter. */
	assert_int_equal(staff_live_scanner("HEADLESSCHROME", 3), 1);
}

static struct notice_status st(uint32_t seq, const char *state, uint32_t contacts, int64_t sent,
			       int64_t opened, int64_t downloaded, int paper, uint32_t certs)
{
	struct notice_status s;

	memset(&s, 0, sizeof(s));
	s.seq = seq;
	s.state = state;
	s.contacts = contacts;
	s.sent_at = sent;
	s.opened_at = opened;
	s.downloaded_at = downloaded;
	s.paper = paper;
	s.cert_downloads = certs;
	return s;
}

static void test_usage(void **state)
{
	struct notice_status rows[5];
	struct page_staff_usage u;
	char s[64];
	int64_t t = 1796000000;

	(void)state;
	rows[0] = st(1, "downloaded", 2, t, t + 60, t + 120, 0, 3);
	rows[1] = st(2, "opened", 1, t, t + 5, 0, 0, 0);
	rows[2] = st(3, "bounced", 1, t, 0, 0, 1, 0);
	rows[3] = st(4, "paper", 0, 0, 0, 0, 1, 0);
	rows[4] = st(5, "sent", 3, t, 0, 0, 0, 0);
	page_staff_usage_of(rows, 5, &u);
	assert_int_equal(u.mails, 7);
	assert_int_equal(u.reminders, 3);
	assert_int_equal(u.opened, 2);
	assert_int_equal(u.downloaded, 1);
	assert_int_equal(u.certs, 3);
	assert_int_equal(u.bounced, 1);
	assert_int_equal(u.paper, 2);
	assert_int_equal(u.attachments, 0);
	page_staff_usage_text(&u, "downloaded", s, sizeof(s));
	assert_string_equal(s, "1 人");
	page_staff_usage_text(&u, "certs", s, sizeof(s));
	assert_string_equal(s, "3 回");
	page_staff_usage_text(&u, "attachments", s, sizeof(s));
	assert_string_equal(s, "0 通");
}

static void test_row_text(void **state)
{
	struct page_staff_row_text t;
	struct notice_status opened = st(7, "opened", 1, 1796000000, 1796000004, 0, 0, 0);
	struct notice_status bounced = st(8, "bounced", 1, 1796000000, 0, 0, 1, 0);

	(void)state;
	page_staff_row_text(&opened, 1, &t);
	assert_string_equal(t.state, "開封済み");
	assert_non_null(strstr(t.opened, "JST"));
	assert_non_null(strstr(t.opened, PAGE_STAFF_SCANNER_NOTE));
	assert_string_equal(t.downloaded, "—");
	page_staff_row_text(&opened, 0, &t);
	assert_null(strstr(t.opened, PAGE_STAFF_SCANNER_NOTE));
	/* Never flagged without an open. */
	page_staff_row_text(&bounced, 1, &t);
	assert_string_equal(t.state, "不達（紙）");
	assert_string_equal(t.opened, "—");
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
		n++;
	return n;
}

/* The numbers in the table's last row: the cumulated opens and downloads. */
static void last_row(const char *html, size_t *o, size_t *d)
{
	const char *end = strstr(html, "</tbody>\n</table>\n</details>");
	const char *p = end;
	size_t a, b, c, e;

	assert_non_null(end);
	while (p > html && strncmp(p, "<tr>", 4) != 0)
		p--;
	p = strstr(p, "</th>");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "</th><td>%zu</td><td>%zu</td><td>%zu</td><td>%zu</td>", &a, &b,
				&c, &e),
			 4);
	*o = c;
	*d = e;
}

static void check_points(const char *html)
{
	/* Every point of both lines inside the 640 x 260 drawing. */
	for (const char *p = strstr(html, "points=\""); p != NULL; p = strstr(p + 1, "points=\"")) {
		const char *q = p + 8;
		long x, y;
		int used;
		while (sscanf(q, " %ld,%ld%n", &x, &y, &used) == 2) {
			assert_true(x >= 0 && x <= 640 && y >= 0 && y <= 260);
			q += used;
		}
		assert_int_equal(*q, '"');
	}
}

static void test_chart(void **state)
{
	int64_t now = 1796000000;

	(void)state;
	seed_set(7);
	for (int round = 0; round < 40; round++) {
		size_t n = 1 + (size_t)(rnd() % 300), opened = 0, downloaded = 0, o, d;
		int64_t span = 60 + rnd() % (40 * 86400), start = now - span;
		struct notice_status *rows = calloc(n, sizeof(*rows));
		struct buf b;
		for (size_t i = 0; i < n; i++) {
			int64_t sent = start + rnd() % 30;
			int64_t op = rnd() % 3 ? sent + rnd() % (span + 1) : 0;
			int64_t dl = op && rnd() % 2 ? op + rnd() % 60 : 0;
			rows[i] = st((uint32_t)i + 1, dl ? "downloaded" : op ? "opened" : "sent", 1,
				     sent, op, dl, 0, 0);
			opened += op != 0;
			downloaded += dl != 0;
		}
		buf_init(&b, 1 << 20);
		assert_int_equal(page_staff_chart(&b, rows, n, now), 0);
		assert_int_equal(buf_append_u8(&b, 0), 0);
		assert_non_null(strstr((char *)b.data, "role=\"img\" aria-labelledby=\"chart-title chart-desc\""));
		assert_int_equal(count((char *)b.data, "<title id=\"chart-title\">"), 1);
		assert_int_equal(count((char *)b.data, "<desc id=\"chart-desc\">"), 1);
		assert_int_equal(count((char *)b.data, "<polyline"), 2);
		/* The legend names both lines. */
		assert_non_null(strstr((char *)b.data, ">開封（累計）</text>"));
		assert_non_null(strstr((char *)b.data, ">ダウンロード（累計）</text>"));
		assert_true(count((char *)b.data, "<tr><th scope=\"row\">") <= PAGE_CHART_BUCKETS);
		last_row((char *)b.data, &o, &d);
		assert_int_equal(o, opened);
		assert_int_equal(d, downloaded);
		check_points((char *)b.data);
		buf_free(&b);
		free(rows);
	}
}

static void test_chart_nothing_sent(void **state)
{
	struct notice_status rows[2];
	struct buf b;

	(void)state;
	rows[0] = st(1, "queued", 0, 0, 0, 0, 0, 0);
	rows[1] = st(2, "paper", 0, 0, 0, 0, 1, 0);
	buf_init(&b, 1 << 16);
	assert_int_equal(page_staff_chart(&b, rows, 2, 1796000000), 0);
	assert_int_equal(buf_append_u8(&b, 0), 0);
	assert_null(strstr((char *)b.data, "<svg"));
	assert_non_null(strstr((char *)b.data, "グラフはありません"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scanner),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_row_text),
		cmocka_unit_test(test_chart),
		cmocka_unit_test(test_chart_nothing_sent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
