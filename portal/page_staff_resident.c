/*
 * page_staff_resident.c — one resident's details (see
 * page_staff_resident.h).  A definition list for the details, a table with
 * a caption for the events, no script.  Runs in the portal process.
 */
#include <string.h>

#include "portal/http.h"
#include "portal/page_staff_resident.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static const char *event_ja(enum notice_event t)
{
	static const char *const names[] = {
		[EV_OPEN] = "開封（リンクを開いた）", [EV_AUTH_OK] = "本人確認できた",
		[EV_AUTH_FAIL] = "本人確認に失敗", [EV_LOCKED] = "ロックされた",
		[EV_UNLOCKED] = "ロック解除", [EV_DOWNLOAD] = "ダウンロード",
		[EV_CERT_DOWNLOAD] = "証明書のダウンロード", [EV_CONSENT] = "電子交付に同意",
		[EV_DECLINE] = "電子交付を辞退", [EV_OTP_SENT] = "確認コードを送信",
		[EV_SENT] = "メール送信", [EV_DEFERRED] = "送信を再試行待ち",
		[EV_BOUNCED] = "不達", [EV_FAILED] = "送信失敗", [EV_REMINDED] = "再通知",
	};
	if ((unsigned)t < sizeof(names) / sizeof(names[0]) && names[t] != NULL)
		return names[t];
	return notice_event_name(t);
}

static int dd_time(struct buf *b, int64_t t)
{
	char s[32];

	if (t == 0)
		return A("—");
	time_format_jst(t, s, sizeof(s));
	return H(s);
}

int page_staff_resident(struct buf *b, const struct page_staff_user *u,
			const struct page_staff_resident *r)
{
	char s[64];

	str_fmt(s, sizeof(s), "/batches/%llu", (unsigned long long)r->bs->id);
	if (page_staff_begin(b, "区民の詳細", u) < 0 || A("<h1>区民の詳細</h1>\n<p>バッチ「") ||
	    H(r->bs->title) || A("」 <a href=\"") || A(s) || A("\">バッチに戻る</a></p>\n") ||
	    A("<p class=\"hint\">この画面を開いたことは監査ログに残ります。</p>\n") ||
	    A("<dl><dt>宛名番号</dt><dd>") || H(r->key) || A("</dd><dt>氏名</dt><dd>") ||
	    H(r->name[0] ? r->name : "—") || A("</dd><dt>メールアドレス</dt><dd>") ||
	    H(r->email[0] ? r->email : "（なし: 紙で送付）") || A("</dd>"))
		return -1;
	if (r->st != NULL &&
	    (A("<dt>状況</dt><dd>") || H(page_staff_state_ja(r->st->state)) ||
	     A("</dd><dt>送信</dt><dd>") || dd_time(b, r->st->sent_at) < 0 ||
	     A("</dd><dt>開封</dt><dd>") || dd_time(b, r->st->opened_at) < 0 ||
	     A("</dd><dt>ダウンロード（到達）</dt><dd>") || dd_time(b, r->st->downloaded_at) < 0 ||
	     A("</dd>")))
		return -1;
	if (A("</dl>\n<h2>できごと</h2>\n"))
		return -1;
	if (r->nev == 0)
		return A("<p>まだ記録はありません。</p>\n") ? -1 : page_staff_end(b);
	if (A("<table>\n<caption>この区民のできごと（日本時間）</caption>\n<thead><tr>"
	      "<th scope=\"col\">日時</th><th scope=\"col\">できごと</th></tr></thead>\n<tbody>\n"))
		return -1;
	for (size_t i = 0; i < r->nev; i++) {
		time_format_jst(r->ev[i].time_us / 1000000, s, sizeof(s));
		if (A("<tr><td>") || H(s) || A("</td><td>") || H(event_ja(r->ev[i].type)) ||
		    A("</td></tr>\n"))
			return -1;
	}
	if (A("</tbody>\n</table>\n"))
		return -1;
	return page_staff_end(b);
}
