/*
 * page_resident.c — the HTML of the resident pages (see page_resident.h):
 * WCAG 2.1 AA minded (lang="ja", one h1 per page, a label on every input,
 * the layer's high-contrast stylesheet), no script, no external resource.
 * Runs in the portal process.
 */
#include <string.h>

#include "portal/page_resident.h"
#include "portal/resident_auth.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static int hidden_csrf(struct buf *b, const char *csrf)
{
	return A("<input type=\"hidden\" name=\"csrf\" value=\"") || H(csrf) || A("\">\n") ? -1 : 0;
}

/* How to tell the real site from a copy. */
static int real_site(struct buf *b, const struct page_site *s)
{
	if (A("<h2>本物のサイトの見分け方</h2>\n<p>このサイトのアドレスは <strong>") || H(s->host) ||
	    A("</strong> です。") || H(s->ward) ||
	    A("がメールでお知らせするのは、このアドレスだけです。"
	      "ほかのアドレスで保護番号や生年月日を入力しないでください。</p>\n"))
		return -1;
	if (s->announcement_url[0] != '\0' &&
	    (A("<p>") || H(s->ward) || A("のお知らせページ：<a href=\"") || H(s->announcement_url) ||
	     A("\">") || H(s->announcement_url) || A("</a></p>\n")))
		return -1;
	return 0;
}

int page_front(struct buf *b, const struct page_site *s, const char *csrf, const char *error)
{
	if (http_page_begin(b, "オンライン通知", 0) < 0 || A("<h1>") || H(s->ward) ||
	    A(" オンライン通知</h1>\n"
	      "<p>メールのリンクを開くか、メールに記載された保護番号を入力してください。</p>\n"))
		return -1;
	if (error[0] != '\0' && (A("<p class=\"error\" role=\"alert\">") || H(error) || A("</p>\n")))
		return -1;
	if (A("<form method=\"post\" action=\"/code\">\n") || hidden_csrf(b, csrf) < 0 ||
	    A("<div class=\"field\"><label for=\"code\">保護番号（12文字）</label>\n"
	      "<p class=\"hint\" id=\"code-hint\">例：ABCD-EFGH-JKMN（ハイフン・大文字小文字は区別しません）</p>\n"
	      "<input id=\"code\" name=\"code\" type=\"text\" autocomplete=\"off\" "
	      "autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"40\" required "
	      "aria-describedby=\"code-hint\"></div>\n"
	      "<button type=\"submit\">通知を開く</button>\n</form>\n") ||
	    real_site(b, s) < 0 ||
	    A("<p lang=\"en\">Online notices from the ward office: open the link in your e-mail, "
	      "or enter the notice code it gives.</p>\n"))
		return -1;
	return http_page_end(b);
}

int page_contact(struct buf *b, const struct page_site *s)
{
	if (http_page_begin(b, "区役所にお問い合わせください", 0) < 0 ||
	    A("<h1>区役所にお問い合わせください</h1>\n"
	      "<p>この通知は開けませんでした。リンクの有効期限が切れたか、保護番号が違う可能性があります。</p>\n<p>") ||
	    H(s->ward) ||
	    A("の担当窓口にお問い合わせください。紙の通知をお送りすることもできます。</p>\n"
	      "<p><a href=\"/\">保護番号を入力し直す</a></p>\n") ||
	    real_site(b, s) < 0 ||
	    A("<p lang=\"en\">This notice cannot be opened. Please contact the ward office.</p>\n"))
		return -1;
	return http_page_end(b);
}

int page_locked(struct buf *b, const struct page_site *s, int test)
{
	if (http_page_begin(b, "しばらく開けません", test) < 0 ||
	    A("<h1>この通知は一時的にロックされています</h1>\n"
	      "<p>確認の入力が続けて間違っていたため、安全のため通知を開けないようにしました。</p>\n<p>") ||
	    H(s->ward) ||
	    A("の担当窓口にお問い合わせください。職員がロックを解除するか、紙の通知をお送りします。</p>\n"
	      "<p lang=\"en\">Too many wrong answers: this notice is locked. "
	      "Please contact the ward office.</p>\n"))
		return -1;
	return http_page_end(b);
}

static int notice_head(struct buf *b, const struct page_site *s, const struct resident_notice *n)
{
	return A("<h1>") || H(n->title[0] != '\0' ? n->title : "通知") ||
			       A("</h1>\n<p>差出人：") || H(s->ward) || A("</p>\n")
		       ? -1
		       : 0;
}

int page_link(struct buf *b, const struct page_site *s, const struct resident_notice *n,
	      const char *token, const char *csrf)
{
	if (http_page_begin(b, n->title[0] != '\0' ? n->title : "通知", n->test) < 0 ||
	    notice_head(b, s, n) < 0 ||
	    A("<p>下のボタンを押すと通知を開きます。</p>\n<form method=\"post\" action=\"/n/") ||
	    H(token) || A("\">\n") || hidden_csrf(b, csrf) < 0 ||
	    A("<button type=\"submit\">通知を開く</button>\n</form>\n") || real_site(b, s) < 0)
		return -1;
	return http_page_end(b);
}

int page_auth(struct buf *b, const struct page_site *s, const struct resident_notice *n,
	      const char *token, const char *csrf, const char *note, const char *error)
{
	int otp = strcmp(n->auth, "otp") == 0;

	if (http_page_begin(b, "ご本人の確認", n->test) < 0 || notice_head(b, s, n) < 0 ||
	    A("<h2>ご本人の確認</h2>\n"))
		return -1;
	if (note[0] != '\0' && (A("<p role=\"status\">") || H(note) || A("</p>\n")))
		return -1;
	if (error[0] != '\0' && (A("<p class=\"error\" role=\"alert\">") || H(error) || A("</p>\n")))
		return -1;
	if (otp && (A("<p>登録されたメールアドレスに6桁の確認コードをお送りします（10分間有効）。</p>\n"
		      "<form method=\"post\" action=\"/n/") || H(token) || A("/otp\">\n") ||
		    hidden_csrf(b, csrf) < 0 ||
		    A("<button type=\"submit\" class=\"secondary\">確認コードをメールで受け取る</button>\n"
		      "</form>\n")))
		return -1;
	if (A("<form method=\"post\" action=\"/n/") || H(token) || A("/auth\">\n") ||
	    hidden_csrf(b, csrf) < 0 || A("<div class=\"field\"><label for=\"answer\">"))
		return -1;
	if (otp ? A("確認コード（6桁の数字）</label>\n<input id=\"answer\" name=\"answer\" "
		    "type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\" "
		    "maxlength=\"20\" required>")
		: H(n->auth_label[0] != '\0' ? n->auth_label : "ご本人確認の項目（生年月日など）") ||
			  A("</label>\n<p class=\"hint\" id=\"answer-hint\">"
			    "区に届け出た内容を入力してください。日付は 1980-04-01、昭和55年4月1日、"
			    "S55.4.1 のどの書き方でも構いません。</p>\n<input id=\"answer\" name=\"answer\" "
			    "type=\"text\" autocomplete=\"off\" maxlength=\"100\" required "
			    "aria-describedby=\"answer-hint\">"))
		return -1;
	if (A("</div>\n<button type=\"submit\">確認する</button>\n</form>\n"))
		return -1;
	return http_page_end(b);
}

/* Is c a character that may end a URL in running text? */
static size_t url_len(const char *p, size_t left)
{
	size_t n = 0;
	while (n < left) {
		unsigned char c = (unsigned char)p[n];
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\'' ||
		    c == '`' || c == '{' || c == '}' || c == '|' || c == '\\' || c == '^')
			break;
		n++;
	}
	/* Trailing punctuation belongs to the sentence. */
	while (n > 0 && strchr(".,;:!?)]", p[n - 1]) != NULL)
		n--;
	return n;
}

int page_message(struct buf *b, const char *msg, size_t len)
{
	size_t i = 0, start = 0;

	if (A("<div class=\"message notice-box\">"))
		return -1;
	while (i < len) {
		size_t u = 0;
		int https = len - i > 8 && memcmp(msg + i, "https://", 8) == 0;
		int http = len - i > 7 && memcmp(msg + i, "http://", 7) == 0;
		if (https || http)
			u = url_len(msg + i, len - i);
		if (u <= (size_t)(https ? 8 : 7)) {
			i++;
			continue;
		}
		if (http_html_n(b, msg + start, i - start) < 0 || A("<a href=\"") ||
		    http_html_n(b, msg + i, u) < 0 || A("\">") || http_html_n(b, msg + i, u) < 0 ||
		    A("</a>"))
			return -1;
		i += u;
		start = i;
	}
	if (http_html_n(b, msg + start, len - start) < 0 || A("</div>\n"))
		return -1;
	return 0;
}

static int notice_arrival(struct buf *b, const struct resident_notice *n,
			  const struct notice_access *a)
{
	char when[64], deadline[32];

	if (a->downloaded_at == 0)
		return A("<p>通知書（PDF）をダウンロードした時点で、通知が到達したものとして記録されます。</p>\n")
			       ? -1
			       : 0;
	time_format_jst(a->downloaded_at, when, sizeof(when));
	if (A("<p>到達日時：") || H(when) || A("（初めてダウンロードした日時）</p>\n"))
		return -1;
	if (n->kyouji.len > 0 && resident_appeal_deadline(a->downloaded_at, deadline) == 0 &&
	    (A("<p><strong>審査請求の期限：") || H(deadline) ||
	     A("</strong>（到達の翌日から起算して3か月）。詳しくは下記の教示をご覧ください。</p>\n")))
		return -1;
	return 0;
}

/* The batch's 教示, as staff wrote it (escaped, its URLs clickable). */
static int notice_kyouji(struct buf *b, const struct resident_notice *n)
{
	if (n->kyouji.len == 0)
		return 0;
	if (A("<h2>不服申立て（教示）</h2>\n") ||
	    page_message(b, (const char *)n->kyouji.data, n->kyouji.len) < 0)
		return -1;
	return 0;
}

/* Consent to electronic delivery: asked only when the batch asks. */
static int notice_consent(struct buf *b, const struct resident_notice *n,
			  const struct notice_access *a, const char *csrf)
{
	if (!n->consent_asked)
		return 0;
	if (a->consent == CONSENT_GIVEN)
		return A("<p>電子での受け取りに同意いただいています。</p>\n") ? -1 : 0;
	if (a->consent == CONSENT_DECLINED)
		return A("<p>紙での受け取りを承りました。次回から紙の通知をお送りします。</p>\n") ? -1 : 0;
	if (A("<h2>今後の受け取り方法</h2>\n<p>今後も通知をメールとこのサイトで受け取りますか。</p>\n"
	      "<form method=\"post\" action=\"/notice/consent\">\n") || hidden_csrf(b, csrf) < 0 ||
	    A("<button type=\"submit\">電子で受け取る（同意する）</button>\n</form>\n"
	      "<form method=\"post\" action=\"/notice/decline\">\n") || hidden_csrf(b, csrf) < 0 ||
	    A("<button type=\"submit\" class=\"secondary\">紙で受け取る</button>\n</form>\n"))
		return -1;
	return 0;
}

int page_notice(struct buf *b, const struct page_site *s, const struct resident_notice *n,
		const struct notice_access *a, const char *csrf)
{
	if (http_page_begin(b, n->title[0] != '\0' ? n->title : "通知", n->test) < 0 ||
	    notice_head(b, s, n) < 0)
		return -1;
	if (n->message.len > 0 &&
	    (A("<h2>お知らせ</h2>\n") || page_message(b, (const char *)n->message.data, n->message.len) < 0))
		return -1;
	if (A("<h2>通知書</h2>\n"))
		return -1;
	if (n->pdf_seq != 0 &&
	    A("<p><a class=\"button\" href=\"/notice/pdf\">通知書（PDF）をダウンロード</a></p>\n"))
		return -1;
	if (notice_arrival(b, n, a) < 0 || notice_kyouji(b, n) < 0 ||
	    A("<h2>電子署名の確認</h2>\n<p>通知書には区の電子署名があります。"
	      "<a href=\"/notice/cert\">署名者の証明書（職責証明書）をダウンロード</a>・"
	      "<a href=\"/notice/guide\">Acrobat Reader での確認方法</a></p>\n") ||
	    notice_consent(b, n, a, csrf) < 0)
		return -1;
	return http_page_end(b);
}

int page_guide(struct buf *b, int test)
{
	if (http_page_begin(b, "電子署名の確認方法", test) < 0 ||
	    A("<h1>電子署名の確認方法（Adobe Acrobat Reader）</h1>\n<ol>\n"
	      "<li>ダウンロードした通知書（PDF）を Acrobat Reader で開きます。</li>\n"
	      "<li>画面上部に「署名済みであり、すべての署名が有効です」と出れば、"
	      "署名の後に書き換えられていません。</li>\n"
	      "<li>「署名パネル」を開き、署名者の名前が区の職責証明書と一致することを確かめます。</li>\n"
	      "<li>「少なくとも1つの署名に問題があります」と出た場合は、"
	      "この通知を使わずに区役所へお問い合わせください。</li>\n</ol>\n"
	      "<p><a href=\"/notice/cert\">署名者の証明書をダウンロード</a>・"
	      "<a href=\"/notice\">通知に戻る</a></p>\n"))
		return -1;
	return http_page_end(b);
}
