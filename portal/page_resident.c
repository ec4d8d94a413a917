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

/* The ward's description of the service: escaped, its line breaks kept. */
static int about(struct buf *b, const struct page_site *s)
{
	if (s->description == NULL || s->description[0] == '\0')
		return 0;
	return A("<section class=\"about\" aria-labelledby=\"about-h\">"
		 "<h2 id=\"about-h\">このサービスについて</h2>\n") ||
			       page_message(b, s->description, strlen(s->description)) < 0 ||
			       A("</section>\n")
		       ? -1
		       : 0;
}

int page_front(struct buf *b, const struct page_site *s, const char *csrf, const char *error)
{
	if (http_page_begin(b, "オンライン通知", 0) < 0 || A("<h1>") || H(s->ward) ||
	    A(" オンライン通知</h1>\n"
	      "<p>メールのリンクを開くか、メールに記載された保護番号を入力してください。</p>\n") ||
	    about(b, s) < 0)
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
	    A("<button type=\"submit\">通知を開く</button>\n</form>\n") || about(b, s) < 0 ||
	    real_site(b, s) < 0)
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

/* The guide's pictures are served by the portal itself (/static/, from
 * page_guide_img.c); their width and height are given so that the page
 * does not jump while they load. */
static int guide_download(struct buf *b)
{
	return A("<h2>1. 通知書と証明書をダウンロードする</h2>\n"
		 "<p>通知のページで「通知書（PDF）をダウンロード」を押して、通知書を保存します。"
		 "同じページの「署名者の証明書（職責証明書）をダウンロード」から、"
		 "署名に使われた証明書（職責証明書.cer）も保存できます。</p>\n"
		 "<figure><img src=\"/static/guide-notice.png\" width=\"360\" height=\"465\" "
		 "alt=\"通知のページ。「通知書（PDF）をダウンロード」のボタン、到達日時と審査請求の期限、"
		 "その下の「電子署名の確認」の欄に「署名者の証明書（職責証明書）をダウンロード」と"
		 "「Acrobat Reader での確認方法」のリンクがあります。\">\n"
		 "<figcaption>図1　このサイトの通知のページ（スマートフォンの画面幅で、"
		 "Chromium で表示したもの）</figcaption></figure>\n")
		       ? -1
		       : 0;
}

static int guide_panel(struct buf *b)
{
	return A("<h2>2. Acrobat Reader で開き、署名パネルを見る</h2>\n<ol>\n"
		 "<li>保存した通知書を Acrobat Reader で開きます（ファイルを右クリックし、"
		 "「プログラムから開く」で「Adobe Acrobat Reader」を選びます）。"
		 "ブラウザやスマートフォンに最初から入っている PDF の表示では、署名は確認できません。</li>\n"
		 "<li>文書の上に、署名の状態を示す帯が出ます。緑のチェックマークと"
		 "「署名済みであり、すべての署名が有効です。」と出れば、通知書は区が署名したもので、"
		 "署名の後に書き換えられていません。</li>\n"
		 "<li>帯の右端の「署名パネル」を押すと、左側に署名の一覧が開きます。"
		 "署名の左の矢印を開くと、署名者、署名の日時、"
		 "署名の後に文書が変更されていないことが表示されます。</li>\n</ol>\n"
		 "<figure><img src=\"/static/guide-pdfsig.png\" width=\"360\" height=\"256\" "
		 "alt=\"pdfsig の出力。署名者の名前、署名の日時、署名が文書全体を覆っていること、"
		 "Signature is Valid（署名は有効）、発行者の証明書はまだ信頼されていない（Certificate issuer is unknown）と表示されています。\">\n"
		 "<figcaption>図2　同じ通知書の署名を、Debian の pdfsig（Poppler の署名検証ツール）で"
		 "確かめた結果です。Acrobat Reader の画面ではありませんが、"
		 "Acrobat Reader の署名パネルにも同じ項目（署名者、署名の日時、"
		 "文書全体が署名されていること、署名が有効であること）が表示されます。</figcaption>"
		 "</figure>\n")
		       ? -1
		       : 0;
}

static int guide_trust(struct buf *b)
{
	return A("<h2>3. 「署名の妥当性は不明です」と出たとき</h2>\n"
		 "<p>お使いの Acrobat Reader が、職責証明書の発行元である地方公共団体組織認証基盤"
		 "（LGPKI）をまだ信頼していないと、帯に黄色の注意マークが出て、署名パネルに"
		 "「署名の妥当性は不明です」のように表示されます（言葉は版によって少し異なります）。"
		 "書き換えがあったという意味ではありません。次の手順で証明書を確かめ、信頼してください。</p>\n"
		 "<ol>\n"
		 "<li>署名パネルで署名を右クリックし、「署名のプロパティを表示」を選びます。</li>\n"
		 "<li>「署名者の証明書を表示」を押すと、「証明書ビューアー」が開きます。"
		 "「概要」タブで、発行先が区の職名であること、発行者が LGPKI の認証局であることを確かめます。</li>\n"
		 "<li>「詳細」タブの「SHA1 ダイジェスト」を、ダウンロードした職責証明書の値と比べます"
		 "（Windows で職責証明書.cer を開き、「詳細」タブの「拇印」を見ます）。"
		 "区のホームページに値が載っている場合は、それとも比べます。</li>\n"
		 "<li>一致したら、「信頼」タブの「信頼済み証明書に追加」を押し、"
		 "「この証明書を信頼済みのルートとして使用」と「署名済みの文書またはデータ」に"
		 "チェックを入れて「OK」を押します。</li>\n"
		 "<li>署名パネルで署名を右クリックし、「署名の検証」を選びます。"
		 "緑のチェックマークと「署名は有効です」に変われば確認は終わりです。</li>\n</ol>\n"
		 "<p>区からの通知をまとめて確かめられるようにするには、職責証明書の代わりに LGPKI の"
		 "ルート証明書（組織認証局の自己署名証明書）を"
		 "<a href=\"https://www.lgpki.jp/\">LGPKI のウェブサイト</a>から入手し、"
		 "公表されているフィンガープリントと照合してから信頼します。"
		 "Acrobat Reader の「環境設定」→「署名」→「ID と信頼済み証明書」の「その他」→"
		 "「信頼済み証明書」→「読み込み」から追加し、同じ2つの項目にチェックを入れます。</p>\n")
		       ? -1
		       : 0;
}

int page_guide(struct buf *b, int test)
{
	if (http_page_begin(b, "電子署名の確認方法", test) < 0 ||
	    A("<h1>電子署名の確認方法（Adobe Acrobat Reader）</h1>\n"
	      "<p>通知書（PDF）には、区の職責証明書による電子署名が付いています。"
	      "署名を確かめると、通知書が区から出されたもので、署名の後に書き換えられていないことが"
	      "分かります。確認には無料の Adobe Acrobat Reader（パソコン版）を使います。</p>\n") ||
	    guide_download(b) < 0 || guide_panel(b) < 0 || guide_trust(b) < 0 ||
	    A("<h2>4. 「問題があります」と出たとき</h2>\n"
	      "<p>赤い×印と「少なくとも1つの署名に問題があります」と出た場合や、"
	      "証明書の発行先が区の職名でない場合は、通知書が書き換えられたか、"
	      "区が出したものではないおそれがあります。"
	      "この通知書は使わずに、区役所へお問い合わせください。</p>\n"
	      "<p><a href=\"/notice/cert\">署名者の証明書（職責証明書）をダウンロード</a>・"
	      "<a href=\"/notice\">通知に戻る</a></p>\n"))
		return -1;
	return http_page_end(b);
}
