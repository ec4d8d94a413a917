/*
 * page_staff_chart.c — a batch page's usage figures and its chart of
 * opens and downloads over time (see page_staff_chart.h).  The chart is
 * SVG 1.1 inline in the HTML (role="img" with a <title> and <desc>, W3C
 * SVG Accessibility API Mappings), drawn with presentation attributes
 * only, since the CSP allows no inline style; the downloads' line is
 * dashed as well as coloured, so colour is not the only difference
 * (WCAG 2.1 1.4.1).  Times in JST.  Runs in the portal process.
 */
#include "portal/page_staff_chart.h"

#include <stdlib.h>
#include <string.h>

#include "portal/http.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

#define JST (9 * 3600)
/* The drawing, in SVG user units (the viewBox scales it to the page). */
#define W 640
#define HGT 260
#define LEFT 56
#define RIGHT 16
#define TOP 16
#define BOTTOM 56

const char *const page_staff_usage_names[] = {
	"mails", "attachments", "opened", "downloaded", "certs", "bounced", "reminders", "paper",
	NULL,
};

void page_staff_usage_of(const struct notice_status *rows, size_t n, struct page_staff_usage *u)
{
	memset(u, 0, sizeof(*u));
	u->residents = n;
	for (size_t i = 0; i < n; i++) {
		const struct notice_status *s = &rows[i];
		u->mails += s->contacts;
		u->reminders += s->contacts > 1 ? s->contacts - 1 : 0;
		u->opened += s->opened_at != 0;
		u->downloaded += s->downloaded_at != 0;
		u->certs += s->cert_downloads;
		u->bounced += strcmp(s->state, "bounced") == 0 || strcmp(s->state, "failed") == 0;
		u->paper += s->paper != 0;
	}
}

void page_staff_usage_text(const struct page_staff_usage *u, const char *name, char *out,
			   size_t outsize)
{
	static const struct {
		const char *name, *unit;
		size_t off;
	} f[] = {
		{ "mails", "通", offsetof(struct page_staff_usage, mails) },
		{ "attachments", "通", offsetof(struct page_staff_usage, attachments) },
		{ "opened", "人", offsetof(struct page_staff_usage, opened) },
		{ "downloaded", "人", offsetof(struct page_staff_usage, downloaded) },
		{ "certs", "回", offsetof(struct page_staff_usage, certs) },
		{ "bounced", "人", offsetof(struct page_staff_usage, bounced) },
		{ "reminders", "通", offsetof(struct page_staff_usage, reminders) },
		{ "paper", "人", offsetof(struct page_staff_usage, paper) },
	};
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(f[i].name, name) == 0)
			str_fmt(out, outsize, "%zu %s",
				*(const size_t *)(const void *)((const char *)u + f[i].off), f[i].unit);
}

int page_staff_usage(struct buf *b, const struct page_staff_usage *u)
{
	static const char *const labels[] = {
		"送信したメール（最初の通知と督促）",
		"通知書を添付したメール",
		"開封した区民",
		"ダウンロードした区民（到達）",
		"職責証明書のダウンロード",
		"不達・送信失敗の区民",
		"督促のメール",
		"紙で送付する区民（紙の一覧）",
	};
	char s[64];

	if (A("<h2>利用状況</h2>\n<table>\n<caption>利用状況（この画面を開いた時点。"
	      "自動更新が使えるときは自動で更新されます）</caption>\n<tbody>\n"))
		return -1;
	for (size_t i = 0; page_staff_usage_names[i] != NULL; i++) {
		page_staff_usage_text(u, page_staff_usage_names[i], s, sizeof(s));
		if (A("<tr><th scope=\"row\">") || H(labels[i]) || A("</th><td id=\"u-") ||
		    H(page_staff_usage_names[i]) || A("\">") || H(s) || A("</td></tr>\n"))
			return -1;
	}
	return A("</tbody>\n</table>\n<p class=\"hint\">tayori は通知書をメールに添付しません"
		 "（メールにはリンクだけを載せ、通知書はポータルからダウンロードしてもらいます）。"
		 "そのため「通知書を添付したメール」は常に 0 通です。</p>\n")
		       ? -1 : 0;
}

/* A period's width: a round one that makes at most PAGE_CHART_BUCKETS. */
static int64_t bucket_width(int64_t span)
{
	static const int64_t nice[] = { 60,    300,   600,   900,    1800,   3600,  7200,
					10800, 21600, 43200, 86400, 172800, 604800 };
	for (size_t i = 0; i < sizeof(nice) / sizeof(nice[0]); i++)
		if (span <= nice[i] * PAGE_CHART_BUCKETS)
			return nice[i];
	return (span + PAGE_CHART_BUCKETS - 1) / PAGE_CHART_BUCKETS;
}

struct series {
	int64_t t0, width;
	size_t nb;
	size_t opened[PAGE_CHART_BUCKETS], downloaded[PAGE_CHART_BUCKETS];
	size_t cum_o[PAGE_CHART_BUCKETS], cum_d[PAGE_CHART_BUCKETS];
};

/* 0 and s filled, or 1 when nothing was sent yet (no chart). */
static int series_of(const struct notice_status *rows, size_t n, int64_t now, struct series *s)
{
	int64_t first = 0, last = 0, span;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		int64_t t[3] = { rows[i].sent_at, rows[i].opened_at, rows[i].downloaded_at };
		for (int j = 0; j < 3; j++) {
			if (t[j] > 0 && (first == 0 || t[j] < first))
				first = t[j];
			if (t[j] > last)
				last = t[j];
		}
	}
	if (first == 0)
		return 1;
	/* Up to now while it is recent; an old batch ends at its last event. */
	if (now > last && now - first <= 31 * 86400)
		last = now;
	span = last - first + 1;
	s->width = bucket_width(span);
	/* Periods start on round times of the day in Japan. */
	s->t0 = first - ((first + JST) % s->width + s->width) % s->width;
	s->nb = (size_t)((last - s->t0) / s->width + 1);
	if (s->nb > PAGE_CHART_BUCKETS)
		s->nb = PAGE_CHART_BUCKETS;
	for (size_t i = 0; i < n; i++) {
		int64_t t[2] = { rows[i].opened_at, rows[i].downloaded_at };
		for (int j = 0; j < 2; j++) {
			size_t k;
			if (t[j] <= 0)
				continue;
			k = t[j] < s->t0 ? 0 : (size_t)((t[j] - s->t0) / s->width);
			if (k >= s->nb)
				k = s->nb - 1;
			(j == 0 ? s->opened : s->downloaded)[k]++;
		}
	}
	for (size_t k = 0; k < s->nb; k++) {
		s->cum_o[k] = s->opened[k] + (k ? s->cum_o[k - 1] : 0);
		s->cum_d[k] = s->downloaded[k] + (k ? s->cum_d[k - 1] : 0);
	}
	return 0;
}

/* "12/07 21:00" in JST. */
static void label(int64_t t, char *out, size_t outsize)
{
	char full[40];

	time_format_jst(t, full, sizeof(full)); /* "2026-12-07 21:00 JST" */
	str_fmt(out, outsize, "%.2s/%.2s %.5s", full + 5, full + 8, full + 11);
}

static int line(struct buf *b, const struct series *s, const size_t *cum, size_t ymax,
		const char *colour, const char *dash)
{
	char p[64];

	if (A("<polyline fill=\"none\" stroke-width=\"3\" stroke=\"") || A(colour) || A("\"") ||
	    (dash[0] != '\0' && (A(" stroke-dasharray=\"") || A(dash) || A("\""))) ||
	    A(" points=\""))
		return -1;
	str_fmt(p, sizeof(p), "%d,%d", LEFT, HGT - BOTTOM);
	if (A(p))
		return -1;
	for (size_t k = 0; k < s->nb; k++) {
		long x = LEFT + (long)((k + 1) * (size_t)(W - LEFT - RIGHT) / s->nb);
		long y = (HGT - BOTTOM) - (long)(cum[k] * (size_t)(HGT - TOP - BOTTOM) / ymax);
		str_fmt(p, sizeof(p), " %ld,%ld", x, y);
		if (A(p))
			return -1;
	}
	return A("\"/>\n") ? -1 : 0;
}

static int axes(struct buf *b, const struct series *s, size_t ymax)
{
	char p[1024], l[32];
	size_t ticks[3] = { 0, ymax / 2, ymax };

	for (int i = 0; i < 3; i++) {
		long y = (HGT - BOTTOM) - (long)(ticks[i] * (size_t)(HGT - TOP - BOTTOM) / ymax);
		if (i == 1 && ticks[1] == 0)
			continue;
		str_fmt(p, sizeof(p),
			"<line x1=\"%d\" y1=\"%ld\" x2=\"%d\" y2=\"%ld\" stroke=\"#bbbbbb\"/>\n"
			"<text x=\"%d\" y=\"%ld\" font-size=\"13\" text-anchor=\"end\" fill=\"#1a1a1a\">"
			"%zu</text>\n",
			LEFT, y, W - RIGHT, y, LEFT - 6, y + 4, ticks[i]);
		if (A(p))
			return -1;
	}
	for (int i = 0; i < 2; i++) {
		int64_t t = i == 0 ? s->t0 : s->t0 + (int64_t)s->nb * s->width;
		label(t, l, sizeof(l));
		str_fmt(p, sizeof(p),
			"<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"%s\" fill=\"#1a1a1a\">",
			i == 0 ? LEFT : W - RIGHT, HGT - BOTTOM + 18, i == 0 ? "start" : "end");
		if (A(p) || H(l) || A("</text>\n"))
			return -1;
	}
	str_fmt(p, sizeof(p),
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1d4ed8\" stroke-width=\"3\"/>"
		"<text x=\"%d\" y=\"%d\" font-size=\"13\" fill=\"#1a1a1a\">開封（累計）</text>\n"
		"<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9a3412\" stroke-width=\"3\" "
		"stroke-dasharray=\"8 5\"/>"
		"<text x=\"%d\" y=\"%d\" font-size=\"13\" fill=\"#1a1a1a\">ダウンロード（累計）</text>\n",
		LEFT, HGT - 14, LEFT + 28, HGT - 14, LEFT + 34, HGT - 9, LEFT + 170, HGT - 14,
		LEFT + 198, HGT - 14, LEFT + 204, HGT - 9);
	return A(p) ? -1 : 0;
}

static int table(struct buf *b, const struct series *s)
{
	char p[160], l0[32], l1[32];

	if (A("<details>\n<summary>グラフの数値を表で見る</summary>\n<table>\n"
	      "<caption>期間ごとの開封とダウンロード（人、日本時間）</caption>\n<thead><tr>"
	      "<th scope=\"col\">期間</th><th scope=\"col\">開封</th>"
	      "<th scope=\"col\">ダウンロード</th><th scope=\"col\">開封の累計</th>"
	      "<th scope=\"col\">ダウンロードの累計</th></tr></thead>\n<tbody>\n"))
		return -1;
	for (size_t k = 0; k < s->nb; k++) {
		label(s->t0 + (int64_t)k * s->width, l0, sizeof(l0));
		label(s->t0 + (int64_t)(k + 1) * s->width, l1, sizeof(l1));
		str_fmt(p, sizeof(p), "%s〜%s</th><td>%zu</td><td>%zu</td><td>%zu</td><td>%zu</td></tr>\n",
			l0, l1, s->opened[k], s->downloaded[k], s->cum_o[k], s->cum_d[k]);
		if (A("<tr><th scope=\"row\">") || A(p))
			return -1;
	}
	return A("</tbody>\n</table>\n</details>\n") ? -1 : 0;
}

int page_staff_chart(struct buf *b, const struct notice_status *rows, size_t n, int64_t now)
{
	struct series *s = xcalloc(1, sizeof(*s));
	char d[512], p[160], l0[32], l1[32];
	size_t ymax;
	int r = -1;

	if (A("<h2>開封とダウンロードの推移</h2>\n"))
		goto out;
	if (series_of(rows, n, now, s) != 0) {
		r = A("<p>まだ送信されていないため、グラフはありません。</p>\n") ? -1 : 0;
		goto out;
	}
	ymax = s->cum_o[s->nb - 1] > s->cum_d[s->nb - 1] ? s->cum_o[s->nb - 1] : s->cum_d[s->nb - 1];
	if (ymax < 2)
		ymax = 2;
	ymax += ymax % 2; /* a whole number halfway up */
	label(s->t0, l0, sizeof(l0));
	label(s->t0 + (int64_t)s->nb * s->width, l1, sizeof(l1));
	str_fmt(d, sizeof(d),
		"%s から %s まで（日本時間）に開封した区民は累計 %zu 人、ダウンロードした区民は"
		"累計 %zu 人です（対象 %zu 人）。同じ数値を下の表でも見られます。",
		l0, l1, s->cum_o[s->nb - 1], s->cum_d[s->nb - 1], n);
	str_fmt(p, sizeof(p),
		"<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" "
		"focusable=\"false\">\n", W, HGT);
	if (A("<figure>\n") || A(p) ||
	    A("<title id=\"chart-title\">開封とダウンロードの推移（累計の人数）</title>\n"
	      "<desc id=\"chart-desc\">") || H(d) || A("</desc>\n") || axes(b, s, ymax) < 0 ||
	    line(b, s, s->cum_o, ymax, "#1d4ed8", "") < 0 ||
	    line(b, s, s->cum_d, ymax, "#9a3412", "8 5") < 0 ||
	    A("</svg>\n<figcaption>") || H(d) ||
	    A(" 自動で更新されないときは、画面を再読み込みすると最新になります。</figcaption>\n</figure>\n") || table(b, s) < 0)
		goto out;
	r = 0;
out:
	free(s);
	return r;
}
