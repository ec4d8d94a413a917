/*
 * page_staff_users.c — the password page and the admins' users pages (see
 * page_staff_users.h).  WCAG 2.1 AA minded: one h1, a label on every
 * input, the permissions as a fieldset of labelled checkboxes, an error
 * as role="alert", no script.  Runs in the portal process.
 */
#include <string.h>

#include "portal/http.h"
#include "portal/page_staff_users.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static const struct {
	uint32_t bit;
	const char *name; /* as staff_perms_parse reads it: the form's values */
	const char *ja;
} perms[] = {
	{ PERM_VIEW, "view", "閲覧" },         { PERM_SUBMIT, "submit", "提出" },
	{ PERM_APPROVE, "approve", "承認" },   { PERM_SEND, "send", "送信" },
	{ PERM_REMIND, "remind", "再通知" },   { PERM_EXPORT, "export", "書き出し" },
	{ PERM_MANAGE_USERS, "manage-users", "ユーザー管理" }, { PERM_AUDIT, "audit", "監査ログ" },
};

static const char *const roles[][2] = {
	{ "clerk", "担当者" }, { "approver", "承認者" }, { "admin", "管理者" },
};

const char *page_staff_perm_ja(uint32_t perm)
{
	for (size_t i = 0; i < ARRAY_SIZE(perms); i++)
		if (perms[i].bit == perm)
			return perms[i].ja;
	return "?";
}

static const char *role_ja(const char *role)
{
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
		if (strcmp(role, roles[i][0]) == 0)
			return roles[i][1];
	return role;
}

static int csrf_field(struct buf *b, const struct page_staff_user *u)
{
	return A("<input type=\"hidden\" name=\"csrf\" value=\"") || H(u->csrf) || A("\">\n") ? -1
											       : 0;
}

static int error_line(struct buf *b, const char *error)
{
	if (error == NULL || error[0] == '\0')
		return 0;
	return A("<p class=\"error\" role=\"alert\">") || H(error) || A("</p>\n") ? -1 : 0;
}

static int perms_text(struct buf *b, uint32_t p)
{
	int first = 1;

	for (size_t i = 0; i < ARRAY_SIZE(perms); i++) {
		if (!(p & perms[i].bit))
			continue;
		if ((!first && A("、")) || H(perms[i].ja))
			return -1;
		first = 0;
	}
	return first && A("なし") ? -1 : 0;
}

static int password_field(struct buf *b, const char *id, const char *label, const char *ac,
			  const char *hint)
{
	if (A("<div class=\"field\"><label for=\"") || A(id) || A("\">") || A(label) ||
	    A("</label>\n"))
		return -1;
	if (hint != NULL && (A("<p class=\"hint\" id=\"") || A(id) || A("-hint\">") || A(hint) ||
			     A("</p>\n")))
		return -1;
	if (A("<input id=\"") || A(id) || A("\" name=\"") || A(id) ||
	    A("\" type=\"password\" maxlength=\"256\" required autocomplete=\"") || A(ac) || A("\"") ||
	    (hint != NULL && (A(" aria-describedby=\"") || A(id) || A("-hint\""))) || A("></div>\n"))
		return -1;
	return 0;
}

int page_staff_password_form(struct buf *b, const struct page_staff_user *u, int must,
			     const char *error)
{
	if (page_staff_begin(b, "パスワードの変更", u) < 0 || A("<h1>パスワードの変更</h1>\n"))
		return -1;
	if (must && A("<p class=\"error\" role=\"alert\">初回ログイン用の一時パスワードのままです。"
		      "パスワードを変更するまで、ダッシュボードは使えません。</p>\n"))
		return -1;
	if (error_line(b, error) < 0 ||
	    A("<form method=\"post\" action=\"/password\">\n") || csrf_field(b, u) < 0 ||
	    password_field(b, "current", must ? "一時パスワード（今のパスワード）" : "今のパスワード",
			   "current-password", NULL) < 0 ||
	    password_field(b, "password", "新しいパスワード", "new-password",
			   "12文字以上にしてください（4語以上をスペースで区切った合言葉でもかまいません）。"
			   "ユーザーIDを含むものや、今と同じものは使えません。") < 0 ||
	    password_field(b, "password2", "新しいパスワード（確認のためもう一度）", "new-password",
			   NULL) < 0 ||
	    A("<button type=\"submit\">パスワードを変更する</button>\n</form>\n"
	      "<p class=\"hint\">変更すると、ほかの端末やブラウザーでのログインは終了します。</p>\n"
	      "<p lang=\"en\">Change your password: at least 12 characters, or a passphrase "
	      "of four or more words.</p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_users(struct buf *b, const struct page_staff_user *u, const struct staff *list,
		     size_t n, const char *note)
{
	if (page_staff_begin(b, "ユーザーと権限", u) < 0 || A("<h1>ユーザーと権限</h1>\n"))
		return -1;
	if (note[0] != '\0' && (A("<p role=\"status\">") || H(note) || A("</p>\n")))
		return -1;
	if (A("<p><a href=\"/users/new\">ユーザーを追加する</a></p>\n"
	      "<div class=\"scroll\" role=\"region\" aria-label=\"職員のアカウント\" tabindex=\"0\">\n"
	      "<table class=\"wrap\">\n<caption>職員のアカウント</caption>\n<thead><tr>"
	      "<th scope=\"col\">ユーザーID</th><th scope=\"col\">氏名</th>"
	      "<th scope=\"col\">メールアドレス</th><th scope=\"col\">役割</th>"
	      "<th scope=\"col\">権限</th><th scope=\"col\">状態</th></tr></thead>\n<tbody>\n"))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char id[24];
		str_fmt(id, sizeof(id), "%llu", (unsigned long long)list[i].id);
		if (A("<tr><td><a href=\"/users/") || A(id) || A("\">") || H(list[i].login) ||
		    A("</a></td><td>") || H(list[i].name) || A("</td><td>") || H(list[i].email) ||
		    A("</td><td>") || H(role_ja(list[i].role)) || A("</td><td>") ||
		    perms_text(b, list[i].perms) < 0 || A("</td><td>") ||
		    A(list[i].disabled ? "停止中" : list[i].must_change ? "有効（一時パスワード）" : "有効") ||
		    A("</td></tr>\n"))
			return -1;
	}
	if (A("</tbody>\n</table>\n</div>\n"))
		return -1;
	return page_staff_end(b);
}

/* The role select and the permission checkboxes; checked: the bits ticked. */
static int role_perms_fields(struct buf *b, const char *role, uint32_t checked, int add)
{
	if (A("<div class=\"field\"><label for=\"role\">役割</label>\n<select id=\"role\" name=\"role\">\n"))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
		if (A("<option value=\"") || A(roles[i][0]) || A("\"") ||
		    (strcmp(role, roles[i][0]) == 0 && A(" selected")) || A(">") || A(roles[i][1]) ||
		    A("</option>\n"))
			return -1;
	if (A("</select></div>\n<fieldset><legend>権限</legend>\n") ||
	    A(add ? "<p class=\"hint\">ひとつもチェックしないときは、役割の標準の権限になります"
		    "（担当者: 閲覧・提出・再通知、承認者: さらに承認・送信・書き出し、管理者: すべて）。</p>\n"
		  : "<p class=\"hint\">「役割の標準にする」では、チェックにかかわらず役割の標準の権限になります。</p>\n"))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(perms); i++)
		if (A("<div><input type=\"checkbox\" id=\"perm-") || A(perms[i].name) ||
		    A("\" name=\"perm\" value=\"") || A(perms[i].name) || A("\"") ||
		    ((checked & perms[i].bit) && A(" checked")) || A("> <label for=\"perm-") ||
		    A(perms[i].name) || A("\">") || A(perms[i].ja) || A("</label></div>\n"))
			return -1;
	return A("</fieldset>\n") ? -1 : 0;
}

static int text_field(struct buf *b, const char *id, const char *label, const char *type,
		      const char *value, const char *extra)
{
	return A("<div class=\"field\"><label for=\"") || A(id) || A("\">") || A(label) ||
		       A("</label>\n<input id=\"") || A(id) || A("\" name=\"") || A(id) ||
		       A("\" type=\"") || A(type) || A("\" ") || A(extra) || A(" value=\"") ||
		       H(value) || A("\"></div>\n")
		       ? -1
		       : 0;
}

int page_staff_user_new(struct buf *b, const struct page_staff_user *u, const struct staff *f,
			const char *error)
{
	if (page_staff_begin(b, "ユーザーの追加", u) < 0 || A("<h1>ユーザーの追加</h1>\n") ||
	    error_line(b, error) < 0 || A("<form method=\"post\" action=\"/users/new\">\n") ||
	    csrf_field(b, u) < 0 ||
	    text_field(b, "login", "ユーザーID（半角英小文字・数字・. _ -）", "text", f->login,
		       "required maxlength=\"64\" spellcheck=\"false\" autocomplete=\"off\"") < 0 ||
	    text_field(b, "name", "氏名", "text", f->name, "maxlength=\"128\" autocomplete=\"off\"") < 0 ||
	    text_field(b, "email", "メールアドレス", "email", f->email,
		       "required maxlength=\"254\" autocomplete=\"off\"") < 0 ||
	    role_perms_fields(b, f->role[0] ? f->role : "clerk", f->perms, 1) < 0 ||
	    A("<button type=\"submit\">追加する</button>\n</form>\n"
	      "<p class=\"hint\">追加すると一時パスワードを一度だけ表示します。"
	      "本人は最初のログインでパスワードを変更します。</p>\n"
	      "<p><a href=\"/users\">ユーザー一覧に戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_user_otp(struct buf *b, const struct page_staff_user *u, const struct staff *s,
			const char *otp, int reset)
{
	const char *title = reset ? "パスワードを再設定しました" : "ユーザーを追加しました";

	if (page_staff_begin(b, title, u) < 0 || A("<h1>") || A(title) || A("</h1>\n<p>") ||
	    H(s->login) || A("（") || H(s->name) ||
	    A("）さんの一時パスワードです。この画面を閉じると二度と表示されません。"
	      "本人に安全な方法で伝えてください。最初のログインで変更が必要です。</p>\n"
	      "<p class=\"notice-box\"><span lang=\"en\">One-time password</span>: <code id=\"otp\">") ||
	    H(otp) || A("</code></p>\n"))
		return -1;
	if (reset && A("<p>この人のログインはすべて終了しました。</p>\n"))
		return -1;
	if (A("<p><a href=\"/users\">ユーザー一覧に戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_user(struct buf *b, const struct page_staff_user *u, const struct staff *s,
		    const char *error)
{
	char base[48];

	str_fmt(base, sizeof(base), "/users/%llu", (unsigned long long)s->id);
	if (page_staff_begin(b, "ユーザーの設定", u) < 0 || A("<h1>ユーザーの設定: ") ||
	    H(s->login) || A("</h1>\n") || error_line(b, error) < 0 ||
	    A("<dl><dt>氏名</dt><dd>") || H(s->name) || A("</dd><dt>メールアドレス</dt><dd>") ||
	    H(s->email) || A("</dd><dt>状態</dt><dd>") || A(s->disabled ? "停止中" : "有効") ||
	    A("</dd><dt>権限</dt><dd>") || perms_text(b, s->perms) < 0 || A("</dd></dl>\n") ||
	    A("<h2>役割と権限</h2>\n<form method=\"post\" action=\"") || H(base) ||
	    A("/perms\">\n") || csrf_field(b, u) < 0 ||
	    role_perms_fields(b, s->role, s->perms, 0) < 0 ||
	    A("<button type=\"submit\" name=\"apply\" value=\"perms\">チェックした権限にする</button>\n"
	      "<button type=\"submit\" name=\"apply\" value=\"role\" class=\"secondary\">役割の標準にする</button>\n"
	      "</form>\n<h2>アカウントの停止とパスワード</h2>\n<p><a href=\"") ||
	    H(base) || A(s->disabled ? "/enable\">このアカウントを再開する</a></p>\n"
				     : "/disable\">このアカウントを停止する</a></p>\n") ||
	    A("<p><a href=\"") || H(base) ||
	    A("/reset\">パスワードを再設定する（一時パスワードを発行）</a></p>\n"
	      "<p><a href=\"/users\">ユーザー一覧に戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_user_confirm(struct buf *b, const struct page_staff_user *u,
			    const struct staff *s, const char *action)
{
	const char *title, *text, *button;
	char base[48];

	if (strcmp(action, "disable") == 0) {
		title = "アカウント停止の確認";
		text = "のアカウントを停止しますか。停止すると、ログイン中の画面もすぐに使えなくなります。";
		button = "停止する";
	} else if (strcmp(action, "enable") == 0) {
		title = "アカウント再開の確認";
		text = "のアカウントを再開しますか。今のパスワードで再びログインできるようになります。";
		button = "再開する";
	} else {
		title = "パスワード再設定の確認";
		text = "のパスワードを再設定しますか。今のパスワードは使えなくなり、ログイン中の画面も終了します。"
		       "新しい一時パスワードを一度だけ表示します。";
		button = "再設定する";
	}
	str_fmt(base, sizeof(base), "/users/%llu", (unsigned long long)s->id);
	if (page_staff_begin(b, title, u) < 0 || A("<h1>") || A(title) || A("</h1>\n<p>") ||
	    H(s->login) || A("（") || H(s->name) || A("）さん") || A(text) || A("</p>\n") ||
	    A("<form method=\"post\" action=\"") || H(base) || A("/") || A(action) || A("\">\n") ||
	    csrf_field(b, u) < 0 || A("<button type=\"submit\">") || A(button) ||
	    A("</button>\n</form>\n<p><a href=\"") || H(base) || A("\">やめて戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}
