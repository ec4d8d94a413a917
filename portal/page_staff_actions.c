/*
 * page_staff_actions.c — the HTML of a batch's further actions and exports
 * on the dashboard (see page_staff_actions.h): the links on the batch page
 * and the confirmation pages of sending at a set time, reminding the
 * unopened, withdrawing and unlocking.  No script; every input labelled;
 * Japanese.  Runs in the portal process.
 */
#include "portal/page_staff_actions.h"

#include <string.h>

#include "lib/staff.h"
#include "portal/http.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static int is(const struct batch_summary *bs, const char *status)
{
	return strcmp(bs->status, status) == 0;
}

/* One link styled as a button: href /VERB/ID, a label. */
static int tool(struct buf *b, const char *verb, const char *id, const char *label, int second)
{
	return A("<a class=\"button") || (second && A(" secondary")) || A("\" href=\"/") ||
	       H(verb) || A("/") || H(id) || A("\">") || H(label) || A("</a>\n") ? -1 : 0;
}

static int export_links(struct buf *b, const char *id)
{
	return A("<h2>出力（ダウンロード）</h2>\n<ul>\n<li><a href=\"/export/") || H(id) ||
	       A("/residents.csv\" download>区民ごとの状況（CSV、Excel で開けます）</a></li>\n"
		 "<li><a href=\"/export/") || H(id) ||
	       A("/paper.csv\" download>紙で送付する区民の一覧（CSV）</a></li>\n"
		 "<li><a href=\"/export/") || H(id) ||
	       A("/paper.pdf\" download>紙で送付する通知（印刷用にまとめた PDF）</a></li>\n</ul>\n")
		       ? -1 : 0;
}

int page_staff_batch_tools(struct buf *b, const struct page_staff_user *u,
			   const struct batch_summary *bs)
{
	char id[32];
	int send = (u->perms & PERM_SEND) && is(bs, BATCH_STATUS_APPROVED);
	int remind = (u->perms & PERM_REMIND) && is(bs, BATCH_STATUS_SENT);
	int withdraw = (u->perms & PERM_APPROVE) &&
		       (is(bs, BATCH_STATUS_WAITING) || is(bs, BATCH_STATUS_APPROVED) ||
			is(bs, BATCH_STATUS_SENDING) || is(bs, BATCH_STATUS_SENT));

	str_fmt(id, sizeof(id), "%llu", (unsigned long long)bs->id);
	if (is(bs, BATCH_STATUS_WITHDRAWN) &&
	    A("<p class=\"error\">このバッチは取り下げられました。区民のリンクと保護番号では"
	      "もう開けません。</p>\n"))
		return -1;
	if (send || remind || withdraw) {
		if (A("<h2>そのほかの操作</h2>\n<p>"))
			return -1;
		if (send && tool(b, "sendat", id, "日時を指定して送信する…", 0) < 0)
			return -1;
		if (remind && tool(b, "remind", id, "未開封の区民に督促する…", 0) < 0)
			return -1;
		if (withdraw && tool(b, "withdraw", id, "バッチを取り下げる…", 1) < 0)
			return -1;
		if (A("</p>\n"))
			return -1;
	}
	if ((u->perms & PERM_EXPORT) && export_links(b, id) < 0)
		return -1;
	return 0;
}

int page_staff_row_unlock(struct buf *b, const struct page_staff_user *u,
			  const struct batch_summary *bs, const struct notice_status *row)
{
	char href[64];

	if (!row->locked)
		return 0;
	if (A("（ロック中）"))
		return -1;
	if (!(u->perms & PERM_SEND) || is(bs, BATCH_STATUS_WITHDRAWN))
		return 0;
	str_fmt(href, sizeof(href), "/unlock/%llu/%u", (unsigned long long)bs->id, row->seq);
	return A(" <a href=\"") || H(href) || A("\">ロックを解除する…<span class=\"hint\">（宛名番号 ") ||
	       H(row->key) || A("）</span></a>") ? -1 : 0;
}

static int batch_line(struct buf *b, const struct batch_summary *bs)
{
	char id[32];

	str_fmt(id, sizeof(id), "%llu", (unsigned long long)bs->id);
	return A("<p>バッチ ") || H(id) || A("「") || H(bs->title) || A("」（") ||
	       H(page_staff_status_ja(bs->status)) || A("）") ||
	       (bs->test && A(" <strong>テスト</strong>")) || A("</p>\n") ? -1 : 0;
}

/* The body of each confirmation: what will happen, and the form's fields. */
static int sendat_body(struct buf *b, const struct page_staff_act *a)
{
	char when[40];

	if (a->at_utc <= 0)
		return A("<p>送信を始める日時を日本時間で指定してください。その時刻になると、"
			 "区民へのメール送信が始まります。</p>\n"
			 "<div class=\"field\"><label for=\"at\">送信開始日時（日本時間）</label>\n"
			 "<input id=\"at\" name=\"at\" type=\"datetime-local\" required "
			 "aria-describedby=\"at-hint\" value=\"") || H(a->at) ||
		       A("\">\n<p id=\"at-hint\" class=\"hint\">例：2026-12-08 09:00</p></div>\n")
			       ? -1 : 0;
	time_format_jst(a->at_utc, when, sizeof(when));
	return A("<p><strong>") || H(when) ||
	       A("</strong> に送信を始めます。よろしいですか。</p>\n"
		 "<input type=\"hidden\" name=\"confirm\" value=\"1\">\n"
		 "<input type=\"hidden\" name=\"at\" value=\"") || H(a->at) || A("\">\n") ? -1 : 0;
}

static int act_body(struct buf *b, const struct page_staff_act *a)
{
	char s[128];

	if (strcmp(a->action, "sendat") == 0)
		return sendat_body(b, a);
	if (strcmp(a->action, "remind") == 0) {
		str_fmt(s, sizeof(s), "まだ開封していない区民 %zu 人に、督促のメールを送ります。", a->count);
		return A("<p>") || H(s) ||
		       A("新しいリンクが届き、連絡回数が 1 増えます。よろしいですか。</p>\n") ? -1 : 0;
	}
	if (strcmp(a->action, "withdraw") == 0)
		return A("<p>このバッチを取り下げます。取り下げると、区民に届いたリンクと保護番号では"
			 "すぐに開けなくなり、「区役所にお問い合わせください」という画面になります。"
			 "まだ送っていないメールも送りません。<strong>元に戻せません。</strong></p>\n")
			       ? -1 : 0;
	str_fmt(s, sizeof(s), "宛名番号 %s の区民のロックを解除します。", a->key);
	return A("<p>") || H(s) ||
	       A("答えを何度も間違えたため開けなくなっている通知を、もう一度開けるようにします。"
		 "本人からの連絡であることを確かめてから解除してください。</p>\n") ? -1 : 0;
}

static const char *act_title(const char *action)
{
	if (strcmp(action, "sendat") == 0)
		return "日時を指定して送信";
	if (strcmp(action, "remind") == 0)
		return "督促の確認";
	if (strcmp(action, "withdraw") == 0)
		return "取り下げの確認";
	return "ロック解除の確認";
}

static const char *act_button(const struct page_staff_act *a)
{
	if (strcmp(a->action, "sendat") == 0)
		return a->at_utc > 0 ? "この日時で送信を予約する" : "次へ（確認）";
	if (strcmp(a->action, "remind") == 0)
		return "督促を送る";
	if (strcmp(a->action, "withdraw") == 0)
		return "取り下げる";
	return "ロックを解除する";
}

int page_staff_act_confirm(struct buf *b, const struct page_staff_user *u,
			   const struct batch_summary *bs, const struct page_staff_act *a)
{
	const char *title = act_title(a->action);
	char back[64], post[64];

	str_fmt(back, sizeof(back), "/batches/%llu", (unsigned long long)bs->id);
	if (strcmp(a->action, "unlock") == 0)
		str_fmt(post, sizeof(post), "/unlock/%llu/%u", (unsigned long long)bs->id, a->seq);
	else
		str_fmt(post, sizeof(post), "/%s/%llu", a->action, (unsigned long long)bs->id);
	if (page_staff_begin(b, title, u) < 0 || A("<h1>") || H(title) || A("</h1>\n") ||
	    batch_line(b, bs) < 0)
		return -1;
	if (a->error[0] != '\0' &&
	    (A("<p class=\"error\" role=\"alert\">") || H(a->error) || A("</p>\n")))
		return -1;
	if (A("<form method=\"post\" action=\"") || H(post) || A("\">\n") ||
	    A("<input type=\"hidden\" name=\"csrf\" value=\"") || H(u->csrf) || A("\">\n") ||
	    act_body(b, a) < 0 || A("<button type=\"submit\">") || H(act_button(a)) ||
	    A("</button>\n</form>\n<p><a href=\"") || H(back) || A("\">やめて戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}
