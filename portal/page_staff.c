/*
 * page_staff.c — the frame of the staff dashboard's pages and the pages
 * around the login (see page_staff.h): the header with who is logged in
 * and a logout button, the login form, the refused page (403), short
 * notes, the password page and the confirmation before an action.
 * WCAG 2.1 AA minded: lang="ja", one h1 per page, a label on every input,
 * a skip link, no script, no external resource.  Runs in the portal
 * process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/staff.h"
#include "lib/wardset.h"
#include "portal/http.h"
#include "portal/page_staff.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static int hidden_csrf(struct buf *b, const char *csrf)
{
	return A("<input type=\"hidden\" name=\"csrf\" value=\"") || H(csrf) || A("\">\n") ? -1 : 0;
}

int page_staff_type_options(struct buf *b, const char *types, const char *selected)
{
	char (*names)[WARDSET_TYPE_NAME_MAX] = xcalloc(WARDSET_TYPES_COUNT_MAX, sizeof(*names));
	size_t n = wardset_type_names(types, names, WARDSET_TYPES_COUNT_MAX);
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++)
		if (A("<option value=\"") || H(names[i]) || A("\"") ||
		    (strcmp(selected, names[i]) == 0 && A(" selected")) || A(">") || H(names[i]) ||
		    A("</option>\n"))
			r = -1;
	free(names);
	return r;
}

int page_staff_begin(struct buf *b, const char *title, const struct page_staff_user *u)
{
	char full[256];

	str_fmt(full, sizeof(full), "%s — 職員ダッシュボード", title);
	if (http_page_begin(b, full, 0) < 0)
		return -1;
	if (u == NULL)
		return 0;
	if (A("<nav aria-label=\"ダッシュボード\"><p>") || H(u->name[0] ? u->name : u->login) ||
	    A(" さん（") || H(u->login) ||
	    A("）｜ <a href=\"/batches\">バッチ一覧</a> ｜ <a href=\"/password\">パスワード</a>") ||
	    ((u->perms & PERM_SUBMIT) && A(" ｜ <a href=\"/upload\">アップロード</a>")) ||
	    ((u->perms & PERM_MANAGE_USERS) && A(" ｜ <a href=\"/users\">ユーザーと権限</a>")) ||
	    ((u->perms & PERM_AUDIT) && A(" ｜ <a href=\"/audit\">監査ログ</a>")) ||
	    ((u->perms & PERM_MANAGE_USERS) && A(" ｜ <a href=\"/settings\">区の設定</a>")) ||
	    A(" ｜ <a href=\"/help\">操作マニュアル</a>") ||
	    A("</p>\n<form method=\"post\" action=\"/logout\">\n") ||
	    hidden_csrf(b, u->csrf) < 0 ||
	    A("<button type=\"submit\" class=\"secondary\">ログアウト</button>\n</form></nav>\n"))
		return -1;
	return 0;
}

int page_staff_end(struct buf *b)
{
	return http_page_end(b);
}

int page_staff_login(struct buf *b, const char *csrf, const char *login, const char *error)
{
	if (page_staff_begin(b, "ログイン", NULL) < 0 ||
	    A("<h1>職員ダッシュボード ログイン</h1>\n"))
		return -1;
	if (error[0] != '\0' && (A("<p class=\"error\" role=\"alert\">") || H(error) || A("</p>\n")))
		return -1;
	if (A("<form method=\"post\" action=\"/login\">\n") || hidden_csrf(b, csrf) < 0 ||
	    A("<div class=\"field\"><label for=\"login\">ユーザーID</label>\n"
	      "<input id=\"login\" name=\"login\" type=\"text\" autocomplete=\"username\" "
	      "spellcheck=\"false\" maxlength=\"64\" required value=\"") ||
	    H(login) ||
	    A("\"></div>\n"
	      "<div class=\"field\"><label for=\"password\">パスワード</label>\n"
	      "<input id=\"password\" name=\"password\" type=\"password\" "
	      "autocomplete=\"current-password\" maxlength=\"256\" required></div>\n"
	      "<button type=\"submit\">ログイン</button>\n</form>\n"
	      "<p class=\"hint\">続けて何度も間違えると、しばらくログインできなくなります。"
	      "パスワードを忘れたときは管理者に連絡してください。</p>\n"
	      "<p lang=\"en\">Staff dashboard: log in with your user ID and password.</p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_refused(struct buf *b, const struct page_staff_user *u, const char *what)
{
	if (page_staff_begin(b, "権限がありません", u) < 0 ||
	    A("<h1>権限がありません</h1>\n<p>") || H(what) ||
	    A("の権限がないため、この操作はできません。この記録は監査ログに残ります。"
	      "必要な場合は管理者に権限を依頼してください。</p>\n"
	      "<p><a href=\"/batches\">バッチ一覧に戻る</a></p>\n"
	      "<p lang=\"en\">Forbidden: you do not have the permission for this.</p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_note(struct buf *b, const struct page_staff_user *u, const char *title,
		    const char *text, const char *href, const char *label)
{
	if (page_staff_begin(b, title, u) < 0 || A("<h1>") || H(title) || A("</h1>\n<p>") ||
	    H(text) || A("</p>\n<p><a href=\"") || H(href) || A("\">") || H(label) ||
	    A("</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

static int batch_line(struct buf *b, const struct batch_summary *bs)
{
	char id[32];

	str_fmt(id, sizeof(id), "%llu", (unsigned long long)bs->id);
	return A("<p>バッチ ") || H(id) || A("「") || H(bs->title) || A("」（") ||
	       H(page_staff_status_ja(bs->status)) || A("）") ||
	       (bs->test && A(" <strong>テスト</strong>")) || A("</p>\n") ? -1 : 0;
}

int page_staff_confirm(struct buf *b, const struct page_staff_user *u,
		       const struct batch_summary *bs, const char *action, const char *error)
{
	int approve = strcmp(action, "approve") == 0;
	const char *title = approve ? "承認の確認" : "送信の確認";
	char back[64];

	str_fmt(back, sizeof(back), "/batches/%llu", (unsigned long long)bs->id);
	if (page_staff_begin(b, title, u) < 0 || A("<h1>") || H(title) || A("</h1>\n") ||
	    batch_line(b, bs) < 0)
		return -1;
	if (error[0] != '\0' && (A("<p class=\"error\" role=\"alert\">") || H(error) || A("</p>\n")))
		return -1;
	if (A(approve ? "<p>このバッチを承認しますか。承認すると送信できる状態になります。"
			"提出した本人は承認できません。</p>\n"
		      : "<p>このバッチを今すぐ送信しますか。区民へのメール送信が始まります。</p>\n") ||
	    A("<form method=\"post\" action=\"/") || H(action) || A("/") || H(back + 9) ||
	    A("\">\n") || hidden_csrf(b, u->csrf) < 0 ||
	    A(approve ? "<button type=\"submit\">承認する</button>\n"
		      : "<button type=\"submit\">今すぐ送信する</button>\n") ||
	    A("</form>\n<p><a href=\"") || H(back) || A("\">やめて戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

const char *page_staff_status_ja(const char *status)
{
	static const char *const names[][2] = {
		{ BATCH_STATUS_STORING, "保存中" },   { BATCH_STATUS_WAITING, "承認待ち" },
		{ BATCH_STATUS_APPROVED, "承認済み" }, { BATCH_STATUS_SENDING, "送信中" },
		{ BATCH_STATUS_SENT, "送信済み" },
		{ BATCH_STATUS_WITHDRAWN, "取り下げ済み" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(status, names[i][0]) == 0)
			return names[i][1];
	return status;
}

const char *page_staff_state_ja(const char *state)
{
	static const char *const names[][2] = {
		{ "queued", "送信待ち" },   { "sending", "送信中" },   { "sent", "送信済み" },
		{ "deferred", "再送待ち" }, { "failed", "送信失敗" }, { "bounced", "不達" },
		{ "opened", "開封済み" },   { "downloaded", "ダウンロード済み" },
		{ "paper", "紙で送付" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(state, names[i][0]) == 0)
			return names[i][1];
	return state;
}
