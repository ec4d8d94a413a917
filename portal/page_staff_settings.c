/*
 * page_staff_settings.c — the HTML of the settings page (see
 * page_staff_settings.h).  No script; every field labelled and described.
 * Runs in the portal process.
 */
#include "portal/page_staff_settings.h"

#include "portal/http.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

const char *const page_staff_settings_names[SET_NFIELDS] = {
	"description", "contact", "reminders", "deadline_days", "test_addresses", "notice_types",
};

static const struct {
	const char *label, *hint;
	int lines; /* rows of a textarea; 0: one-line input */
} fields[SET_NFIELDS] = {
	{ "サービスの説明",
	  "この通知サービスについての区の案内文です。区民向けのトップページと、メールのリンクを"
	  "開いた最初の画面に表示します。1000 文字まで。空なら tayori.conf の設定を使います。", 4 },
	{ "問い合わせ先",
	  "区民あてのすべてのメールに記載します。500 文字まで。空なら tayori.conf の設定を使います。", 4 },
	{ "督促の日程（既定）",
	  "督促の設定がないバッチに使う日程です。送信から何日後かを「3,7」のように入力します"
	  "（1～365 日、8 回まで）。空なら督促しません。", 0 },
	{ "受け取り期限（既定、送信から何日後）",
	  "期限の設定がないバッチの受け取り期限です。1～365 の数字。空なら 30 日です。", 0 },
	{ "テスト用アドレス",
	  "テスト用のバッチの送り先（職員のアドレス）。カンマか改行で区切り、16 件まで。"
	  "空なら tayori.conf の設定を使います。", 3 },
	{ "通知の種類",
	  "1 行に 1 種類、「名称｜根拠となる法令・条例｜届かなかったときの扱い」の形で入力します"
	  "（50 種類まで）。", 5 },
};

static int field(struct buf *b, int i, const struct page_staff_settings *s)
{
	const char *name = page_staff_settings_names[i];
	int bad = s->error[i][0] != '\0';

	if (A("<div class=\"field\"><label for=\"") || H(name) || A("\">") || H(fields[i].label) ||
	    A("</label>\n<p class=\"hint\" id=\"") || H(name) || A("-hint\">") ||
	    H(fields[i].hint) || A("</p>\n"))
		return -1;
	if (bad && (A("<p class=\"error\" id=\"") || H(name) || A("-error\">") || H(s->error[i]) ||
		    A("</p>\n")))
		return -1;
	if (A(fields[i].lines ? "<textarea rows=\"" : "<input type=\"text\"") ||
	    (fields[i].lines && (buf_printf(b, "%d\"", fields[i].lines) < 0)) || A(" id=\"") ||
	    H(name) || A("\" name=\"") || H(name) || A("\" aria-describedby=\"") || H(name) ||
	    A("-hint") || (bad && (A(" ") || H(name) || A("-error"))) || A("\"") ||
	    (bad && A(" aria-invalid=\"true\"")))
		return -1;
	if (fields[i].lines)
		return A(">") || H(s->value[i]) || A("</textarea></div>\n") ? -1 : 0;
	return A(" value=\"") || H(s->value[i]) || A("\"></div>\n") ? -1 : 0;
}

static int summary(struct buf *b, const struct page_staff_settings *s)
{
	int n = 0;

	for (int i = 0; i < SET_NFIELDS; i++)
		n += s->error[i][0] != '\0';
	if (n == 0)
		return 0;
	if (A("<div class=\"error\" role=\"alert\"><p>入力に誤りがあるため、保存していません。"
	      "次の項目を直してください。</p>\n<ul>\n"))
		return -1;
	for (int i = 0; i < SET_NFIELDS; i++)
		if (s->error[i][0] != '\0' &&
		    (A("<li><a href=\"#") || H(page_staff_settings_names[i]) || A("\">") ||
		     H(fields[i].label) || A("</a></li>\n")))
			return -1;
	return A("</ul></div>\n") ? -1 : 0;
}

int page_staff_settings(struct buf *b, const struct page_staff_user *u,
			const struct page_staff_settings *s)
{
	if (page_staff_begin(b, "区の設定", u) < 0 || A("<h1>区の設定</h1>\n"))
		return -1;
	if (s->saved && A("<p role=\"status\"><strong>保存しました。</strong>"
			  "これから送るメールと督促から使われます。</p>\n"))
		return -1;
	if (summary(b, s) < 0 ||
	    A("<p>職員が変更できる区の設定です。サーバーの設定ファイル（tayori.conf）は"
	      "管理者が扱い、ここで保存した値がその既定値に優先します。変更は監査ログに残ります。</p>\n"))
		return -1;
	if (s->updated[0] != '\0' && (A("<p class=\"hint\">最終更新：") || H(s->updated) || A("</p>\n")))
		return -1;
	if (A("<form method=\"post\" action=\"/settings\">\n"
	      "<input type=\"hidden\" name=\"csrf\" value=\"") || H(u->csrf) || A("\">\n"))
		return -1;
	for (int i = 0; i < SET_NFIELDS; i++)
		if (field(b, i, s) < 0)
			return -1;
	if (A("<button type=\"submit\">保存する</button>\n</form>\n<h2>tayori.conf の既定値</h2>\n"
	      "<dl>\n<dt>問い合わせ先（[mail] contact）</dt><dd class=\"message\">") ||
	    H(s->conf_contact) || A("</dd>\n<dt>テスト用アドレス（[mail] test_addresses）</dt><dd>") ||
	    H(s->conf_tests[0] ? s->conf_tests : "（なし）") || A("</dd>\n</dl>\n"))
		return -1;
	return page_staff_end(b);
}
