/*
 * page_staff_batch.c — the HTML of the batches list (a filter form by
 * status and title, a table newest first) and of a batch page (summary,
 * counts, a progress bar while it is sending, the actions the staff member
 * may take, the residents' states one page at a time).  Times in JST.
 * Runs in the portal process.
 */
#include <string.h>

#include "portal/http.h"
#include "portal/page_staff.h"
#include "portal/page_staff_actions.h"
#include "portal/page_staff_chart.h"
#include "lib/staff.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static const char *const statuses[] = {
	BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED, BATCH_STATUS_SENDING, BATCH_STATUS_SENT,
};

static int jst(struct buf *b, int64_t t)
{
	char s[40];

	if (t <= 0)
		return A("—") ? -1 : 0;
	time_format_jst(t, s, sizeof(s));
	return H(s) ? -1 : 0;
}

/* A choice of the ward's notice types (none when it has set none). */
static int type_filter(struct buf *b, const struct page_staff_filter *f)
{
	if (f->types == NULL || f->types[0] == '\0')
		return 0;
	return A("<div class=\"field\"><label for=\"type\">通知の種類</label>\n"
		 "<select id=\"type\" name=\"type\">\n<option value=\"\">すべて</option>\n") ||
		       page_staff_type_options(b, f->types, f->type) < 0 || A("</select></div>\n") ? -1 : 0;
}

static int filter_form(struct buf *b, const struct page_staff_filter *f)
{
	if (A("<form method=\"get\" action=\"/batches\" role=\"search\">\n"
	      "<div class=\"field\"><label for=\"status\">状態</label>\n"
	      "<select id=\"status\" name=\"status\">\n<option value=\"\">すべて</option>\n"))
		return -1;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (A("<option value=\"") || H(statuses[i]) || A("\"") ||
		    (strcmp(f->status, statuses[i]) == 0 && A(" selected")) || A(">") ||
		    H(page_staff_status_ja(statuses[i])) || A("</option>\n"))
			return -1;
	if (A("</select></div>\n") || type_filter(b, f) < 0)
		return -1;
	if (A("<div class=\"field\"><label for=\"q\">件名で検索</label>\n"
	      "<input id=\"q\" name=\"q\" type=\"search\" maxlength=\"200\" value=\"") ||
	    H(f->q) || A("\"></div>\n<button type=\"submit\">絞り込む</button>\n</form>\n"))
		return -1;
	return 0;
}

static int batch_row(struct buf *b, const struct batch_summary *s)
{
	char n[160];

	str_fmt(n, sizeof(n), "%llu", (unsigned long long)s->id);
	if (A("<tr><td><a href=\"/batches/") || H(n) || A("\">") || H(n) || A("</a></td><td>") ||
	    H(s->title) || (s->test && A(" <strong>（テスト）</strong>")) ||
	    (s->notice_type[0] != '\0' &&
	     (A("<br><span class=\"hint\">種類：") || H(s->notice_type) || A("</span>"))) ||
	    A("</td><td>") ||
	    H(page_staff_status_ja(s->status)) || A("</td><td>"))
		return -1;
	str_fmt(n, sizeof(n), "%llu 人 / 照合 %llu / 署名 %llu",
		(unsigned long long)s->recipients, (unsigned long long)s->matched,
		(unsigned long long)s->signed_pdfs);
	if (H(n) || A("</td><td>") || jst(b, s->created) < 0 || A("</td></tr>\n"))
		return -1;
	return 0;
}

int page_staff_batches(struct buf *b, const struct page_staff_user *u,
		       const struct batch_summary *list, size_t n,
		       const struct page_staff_filter *f)
{
	char count[64];

	if (page_staff_begin(b, "バッチ一覧", u) < 0 || A("<h1>バッチ一覧</h1>\n") ||
	    filter_form(b, f) < 0)
		return -1;
	str_fmt(count, sizeof(count), "%zu 件（新しい順）", n);
	if (A("<p>") || H(count) || A("</p>\n"))
		return -1;
	if (n == 0)
		return A("<p>該当するバッチはありません。</p>\n") ? -1 : page_staff_end(b);
	if (A("<table>\n<caption>バッチ</caption>\n<thead><tr><th scope=\"col\">番号</th>"
	      "<th scope=\"col\">件名</th><th scope=\"col\">状態</th><th scope=\"col\">件数</th>"
	      "<th scope=\"col\">提出日時（日本時間）</th></tr></thead>\n<tbody>\n"))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (batch_row(b, &list[i]) < 0)
			return -1;
	if (A("</tbody>\n</table>\n"))
		return -1;
	return page_staff_end(b);
}

static int counts(struct buf *b, const struct batch_summary *bs, const struct page_staff_counts *c)
{
	char s[512];
	size_t done = c->sent + c->failed + c->bounced + c->opened + c->downloaded;

	page_staff_counts_text(c, s, sizeof(s));
	if (A("<h2>状況</h2>\n<p id=\"u-counts\">") || H(s) || A("</p>\n"))
		return -1;
	if (strcmp(bs->status, BATCH_STATUS_SENDING) == 0 && c->total > 0) {
		str_fmt(s, sizeof(s), "<label for=\"progress\">送信の進み具合（%zu / %zu 人）</label>\n"
			"<progress id=\"progress\" max=\"%zu\" value=\"%zu\">%zu / %zu</progress>\n",
			done, c->total, c->total, done, done, c->total);
		if (A(s))
			return -1;
	}
	return 0;
}

static int actions(struct buf *b, const struct page_staff_user *u, const struct batch_summary *bs)
{
	char id[32];

	str_fmt(id, sizeof(id), "%llu", (unsigned long long)bs->id);
	if (strcmp(bs->status, BATCH_STATUS_WAITING) == 0 && (u->perms & PERM_APPROVE))
		return A("<h2>操作</h2>\n<p><a class=\"button\" href=\"/approve/") || H(id) ||
		       A("\">承認する…</a></p>\n") ? -1 : 0;
	if (strcmp(bs->status, BATCH_STATUS_APPROVED) == 0 && (u->perms & PERM_SEND))
		return A("<h2>操作</h2>\n<p><a class=\"button\" href=\"/send/") || H(id) ||
		       A("\">今すぐ送信する…</a></p>\n") ? -1 : 0;
	return 0;
}

/* Before sending starts every delivery reads "queued": say "not sent". */
static const char *state_ja(const struct batch_summary *bs, const char *state)
{
	if (strcmp(bs->status, BATCH_STATUS_WAITING) == 0 ||
	    strcmp(bs->status, BATCH_STATUS_APPROVED) == 0)
		return strcmp(state, "paper") == 0 ? page_staff_state_ja(state) : "未送信";
	return page_staff_state_ja(state);
}

void page_staff_counts_text(const struct page_staff_counts *c, char *out, size_t outsize)
{
	str_fmt(out, outsize,
		"対象 %zu 人：送信待ち %zu、送信中 %zu、送信済み %zu、再送待ち %zu、送信失敗 %zu、"
		"不達 %zu、開封済み %zu、ダウンロード済み %zu、紙で送付 %zu（連絡回数 計 %zu）",
		c->total, c->queued, c->sending, c->sent, c->deferred, c->failed, c->bounced,
		c->opened, c->downloaded, c->paper, c->contacts);
}

static void jst_text(int64_t t, char *out, size_t outsize)
{
	if (t <= 0)
		str_copy(out, "—", outsize);
	else
		time_format_jst(t, out, outsize);
}

void page_staff_row_text(const struct notice_status *s, int scanner,
			 struct page_staff_row_text *out)
{
	str_fmt(out->state, sizeof(out->state), "%s%s", page_staff_state_ja(s->state),
		s->paper && strcmp(s->state, "paper") != 0 ? "（紙）" : "");
	str_fmt(out->contacts, sizeof(out->contacts), "%u", s->contacts);
	jst_text(s->sent_at, out->sent, sizeof(out->sent));
	jst_text(s->opened_at, out->opened, sizeof(out->opened));
	if (scanner && s->opened_at > 0)
		str_fmt(out->opened + strlen(out->opened), sizeof(out->opened) - strlen(out->opened),
			"%s", PAGE_STAFF_SCANNER_NOTE);
	jst_text(s->downloaded_at, out->downloaded, sizeof(out->downloaded));
}

static int resident_rows(struct buf *b, const struct page_staff_user *u,
			 const struct batch_summary *bs, const struct notice_status *rows, size_t n,
			 const uint8_t *scanner)
{
	char s[32];

	if (A("<table>\n<caption>区民ごとの状況</caption>\n<thead><tr><th scope=\"col\">行</th>"
	      "<th scope=\"col\">宛名番号</th><th scope=\"col\">状況</th>"
	      "<th scope=\"col\">連絡回数</th><th scope=\"col\">送信</th>"
	      "<th scope=\"col\">開封</th><th scope=\"col\">ダウンロード</th></tr></thead>\n"
	      "<tbody>\n"))
		return -1;
	for (size_t i = 0; i < n; i++) {
		str_fmt(s, sizeof(s), "%u", rows[i].seq);
		/* The id (on the key's cell) is where the live view finds the row. */
		if (A("<tr><td>") || H(s) || A("</td><td id=\"r-") || H(s) ||
		    A("\"><a href=\"/residents/") ||
		    buf_printf(b, "%llu/%u", (unsigned long long)bs->id, rows[i].seq) < 0 ||
		    A("\">") || H(rows[i].key) || A("</a></td><td><span class=\"state\">") ||
		    H(state_ja(bs, rows[i].state)) ||
		    (rows[i].paper && strcmp(rows[i].state, "paper") != 0 && A("（紙）")) ||
		    /* the live view rewrites the span, not the unlock link after it */
		    A("</span>") || page_staff_row_unlock(b, u, bs, &rows[i]) < 0)
			return -1;
		str_fmt(s, sizeof(s), "%u", rows[i].contacts);
		if (A("</td><td>") || H(s) || A("</td><td>") || jst(b, rows[i].sent_at) < 0 ||
		    A("</td><td>") || jst(b, rows[i].opened_at) < 0 ||
		    (scanner != NULL && scanner[i] && rows[i].opened_at > 0 &&
		     (A("<br><strong>") || H(PAGE_STAFF_SCANNER_NOTE) || A("</strong>"))) ||
		    A("</td><td>") ||
		    jst(b, rows[i].downloaded_at) < 0 || A("</td></tr>\n"))
			return -1;
	}
	return A("</tbody>\n</table>\n") ? -1 : 0;
}

/* The usage and the chart, and where the live view starts (the script
 * reads the batch and the moment from the attributes: no inline script). */
static int live_parts(struct buf *b, const struct batch_summary *bs,
		      const struct page_staff_live *lv)
{
	char s[160];

	/* #chart: what the script refreshes from /batches/ID/chart. */
	if (page_staff_usage(b, &lv->usage) < 0 || A("<div id=\"chart\">\n") ||
	    page_staff_chart(b, lv->all, lv->nall, lv->now) < 0 || A("</div>\n"))
		return -1;
	if (strcmp(bs->status, BATCH_STATUS_SENDING) != 0 && strcmp(bs->status, BATCH_STATUS_SENT) != 0)
		return 0;
	str_fmt(s, sizeof(s), "<p id=\"live\" class=\"hint\" data-batch=\"%llu\" data-since=\"%lld\">",
		(unsigned long long)bs->id, (long long)lv->since_us);
	return A(s) || A("開封やダウンロードは、画面を再読み込みすると最新の状況になります。</p>\n")
		       ? -1 : 0;
}

static int live_script(struct buf *b)
{
	return A("<script src=\"/static/dashboard.js\" defer></script>\n") ? -1 : 0;
}

static int pager(struct buf *b, uint64_t id, size_t page, size_t pages)
{
	char s[160];

	if (pages <= 1)
		return 0;
	if (A("<nav aria-label=\"ページ\"><p>"))
		return -1;
	if (page > 1) {
		str_fmt(s, sizeof(s), "<a href=\"/batches/%llu?page=%zu\">前のページ</a> ",
			(unsigned long long)id, page - 1);
		if (A(s))
			return -1;
	}
	str_fmt(s, sizeof(s), "%zu / %zu ページ", page, pages);
	if (H(s))
		return -1;
	if (page < pages) {
		str_fmt(s, sizeof(s), " <a href=\"/batches/%llu?page=%zu\">次のページ</a>",
			(unsigned long long)id, page + 1);
		if (A(s))
			return -1;
	}
	return A("</p></nav>\n") ? -1 : 0;
}

int page_staff_batch(struct buf *b, const struct page_staff_user *u,
		     const struct batch_summary *bs, const struct page_staff_counts *c,
		     const struct notice_status *rows, size_t nrows, size_t page, size_t pages)
{
	char s[64];

	str_fmt(s, sizeof(s), "バッチ %llu", (unsigned long long)bs->id);
	if (page_staff_begin(b, s, u) < 0 || A("<h1>") || H(s) || A("「") || H(bs->title) ||
	    A("」</h1>\n"))
		return -1;
	if (bs->test && A("<p class=\"test-banner\">テスト用のバッチです</p>\n"))
		return -1;
	if (A("<dl>\n<dt>状態</dt><dd>") || H(page_staff_status_ja(bs->status)) ||
	    (bs->notice_type[0] != '\0' &&
	     (A("</dd>\n<dt>通知の種類</dt><dd>") || H(bs->notice_type))) ||
	    A("</dd>\n<dt>提出日時（日本時間）</dt><dd>") || jst(b, bs->created) < 0 ||
	    A("</dd>\n<dt>送信開始（日本時間）</dt><dd>") || jst(b, bs->send_at) < 0)
		return -1;
	/* The date the mail gave residents and after which the paper list
	 * takes those who did not download (lib/batches.h). */
	if (bs->deadline[0] != '\0' &&
	    (A("</dd>\n<dt>受け取り期限</dt><dd>") || H(bs->deadline) ||
	     (bs->deadline_default && A("（区の既定の日数から）"))))
		return -1;
	str_fmt(s, sizeof(s), "%llu 人（照合 %llu、署名 %llu）", (unsigned long long)bs->recipients,
		(unsigned long long)bs->matched, (unsigned long long)bs->signed_pdfs);
	if (A("</dd>\n<dt>対象</dt><dd>") || H(s) || A("</dd>\n</dl>\n") || actions(b, u, bs) < 0 ||
	    page_staff_batch_tools(b, u, bs) < 0)
		return -1;
	if (c != NULL && counts(b, bs, c) < 0)
		return -1;
	if (c != NULL && c->live != NULL && live_parts(b, bs, c->live) < 0)
		return -1;
	if (rows == NULL)
		return A("<p>まだ送信されていないため、区民ごとの状況はありません。</p>\n") ? -1
											    : page_staff_end(b);
	if (A("<h2>区民ごとの状況</h2>\n") ||
	    resident_rows(b, u, bs, rows, nrows,
			  c != NULL && c->live != NULL ? c->live->scanner : NULL) < 0 ||
	    pager(b, bs->id, page, pages) < 0)
		return -1;
	if (c != NULL && c->live != NULL && live_script(b) < 0)
		return -1;
	return page_staff_end(b);
}
