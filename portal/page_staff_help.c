/*
 * page_staff_help.c — the operations manual (操作マニュアル) inside the
 * dashboard: an index and one page per task a clerk does (log in, read the
 * batch list, submit a batch by mail or from a folder, approve, send,
 * remind, unlock, export, the paper list), in plain Japanese, each with a
 * screenshot of the real dashboard; and the administrator's guide
 * (運用手順) from contrib/admin-guide.md, rendered and escaped by
 * help_md.c.  The manual's text is this file's own markup; nothing in it
 * comes from a request.  Runs in the portal process.
 */
#include <string.h>

#include "portal/http.h"
#include "portal/page_staff_help.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

struct topic {
	const char *slug, *title;
	const char *img, *alt; /* a screenshot under /static/help/, or NULL */
	const char *body;      /* HTML, this file's own */
};

static const struct topic topics[] = {
	{ "login", "ログインする", "login.png",
	  "ログイン画面。ユーザーIDとパスワードの入力欄と、ログインのボタンがあります。",
	  "<ol>\n<li>Edge または Chrome で、職員ダッシュボードのアドレスを開きます"
	  "（アドレスは情報システム担当課が案内します）。</li>\n"
	  "<li>「ユーザーID」と「パスワード」を入力し、「ログイン」を押します。</li>\n"
	  "<li>初めてのときは、一時パスワードを自分のパスワードに変更する画面が出ます。</li>\n</ol>\n"
	  "<p>続けて 5 回間違えると、15 分間ログインできなくなります。パスワードを忘れたときは"
	  "管理者に連絡してください。しばらく操作しないと自動でログアウトします"
	  "（既定は 30 分）。使い終わったら「ログアウト」を押してください。</p>\n" },
	{ "batches", "バッチ一覧を見る", "batches.png",
	  "バッチ一覧の画面。状態と件名で絞り込む欄と、番号・件名・状態・件数・提出日時の表があります。",
	  "<p>「バッチ」は、一度に送る通知のまとまりです。一覧は新しい順に並びます。</p>\n<ul>\n"
	  "<li><strong>状態</strong>：承認待ち → 承認済み → 送信中 → 送信済み。取り下げたものは"
	  "「取り下げ済み」です。</li>\n"
	  "<li><strong>件数</strong>：対象の人数、PDF と照合できた人数、署名した PDF の数です。</li>\n"
	  "<li>「状態」と「件名で検索」で絞り込めます。</li>\n"
	  "<li>番号を押すと、そのバッチの画面（区民ごとの状況）を開きます。開いた記録は監査ログに"
	  "残ります。</li>\n</ul>\n" },
	{ "submit", "バッチを提出する（メール・フォルダ）", NULL, NULL,
	  "<p>通知は、いつものメールソフト（Outlook）から提出できます。</p>\n<ol>\n"
	  "<li>宛先に受付用のアドレス（情報システム担当課が案内します）を入れます。</li>\n"
	  "<li>件名に通知の題名（例：令和8年度 住民税決定通知）を書きます。</li>\n"
	  "<li>本文に区民へのメッセージを書きます。最初の行に「テスト: はい」と書くと、"
	  "テスト用のアドレスにだけ届くテスト送信になります。</li>\n"
	  "<li>宛先の一覧（CSV：宛名番号・氏名・メールアドレス）と、通知の PDF を添付して送ります。</li>\n"
	  "</ol>\n<p>しばらくすると照合結果のメールが返ってきます。PDF と CSV が合わない行や、"
	  "アドレスのない人（紙で送付）がそこに書かれています。ダッシュボードのバッチ一覧にも"
	  "「承認待ち」で表示されます。フォルダ（受付フォルダ）にファイル一式を置いても提出できます。</p>\n" },
	{ "approve", "承認する", "approve.png",
	  "承認の確認画面。バッチの番号と件名、承認するボタンと、やめて戻るリンクがあります。",
	  "<ol>\n<li>バッチの画面で「承認する…」を押します（承認の権限が必要です）。</li>\n"
	  "<li>確認の画面で内容を確かめ、「承認する」を押します。</li>\n</ol>\n"
	  "<p>提出した本人は承認できません（ダブルチェック）。別の職員に承認を頼んでください。"
	  "承認は監査ログに残ります。</p>\n" },
	{ "send", "送信する（今すぐ・日時を指定）", "sendat.png",
	  "日時を指定して送信する画面。送信開始日時（日本時間）の入力欄と、次へのボタンがあります。",
	  "<p>承認済みのバッチの画面に「今すぐ送信する…」と「日時を指定して送信する…」が"
	  "出ます（送信の権限が必要です）。</p>\n<ul>\n"
	  "<li><strong>今すぐ</strong>：確認の画面で「今すぐ送信する」を押すと、区民へのメール送信が"
	  "始まります。</li>\n"
	  "<li><strong>日時を指定</strong>：送信開始日時を日本時間で入れ、「次へ（確認）」を押します。"
	  "確認の画面に出た日時でよければ「この日時で送信を予約する」を押します。</li>\n</ul>\n"
	  "<p>送信中は進み具合が棒グラフで表示されます。</p>\n" },
	{ "remind", "督促する（未開封の区民へ）", "remind.png",
	  "督促の確認画面。まだ開封していない区民の人数と、督促を送るボタンがあります。",
	  "<ol>\n<li>送信済みのバッチの画面で「未開封の区民に督促する…」を押します"
	  "（督促の権限が必要です）。</li>\n"
	  "<li>確認の画面に、まだ開封していない人数が出ます。「督促を送る」を押します。</li>\n</ol>\n"
	  "<p>対象の区民に新しいリンクのメールが届き、連絡回数が 1 増えます。区の設定に"
	  "督促の日程（例：3,7）があれば、その日に自動でも督促します。</p>\n" },
	{ "unlock", "区民のロックを解除する", "unlock.png",
	  "バッチの画面の区民ごとの状況の表。ロック中の区民の行に、ロックを解除するリンクがあります。",
	  "<p>区民が確認用の値（生年月日など）を続けて間違えると、その通知は開けなくなります"
	  "（ロック）。区民から電話などで連絡があったら、本人であることを確かめてから解除します。</p>\n"
	  "<ol>\n<li>バッチの画面の「区民ごとの状況」で、その区民の行の「（ロック中）」の横の"
	  "「ロックを解除する…」を押します（送信の権限が必要です）。</li>\n"
	  "<li>確認の画面で宛名番号を確かめ、「ロックを解除する」を押します。</li>\n</ol>\n" },
	{ "export", "状況を出力する（CSV）", "export.png",
	  "バッチの画面の出力の欄。区民ごとの状況の CSV、紙で送付する一覧の CSV、印刷用の PDF の"
	  "リンクがあります。",
	  "<p>バッチの画面の「出力（ダウンロード）」から、区民ごとの状況を CSV でダウンロード"
	  "できます（出力の権限が必要です）。Excel でそのまま開けます。</p>\n<ul>\n"
	  "<li>「=」「+」「-」「@」で始まる値は、先頭に「'」を付けて文字として出力します"
	  "（数式として動かないようにするためです）。</li>\n"
	  "<li>ファイルには区民の氏名とアドレスが入っています。作業が終わったら削除し、"
	  "メールで送らないでください。出力したことは監査ログに残ります。</li>\n</ul>\n" },
	{ "paper", "紙で送付する一覧と印刷", NULL, NULL,
	  "<p>次の区民には、紙で通知を送ります。</p>\n<ul>\n"
	  "<li>メールアドレスがない人、アドレスに誤りがある人</li>\n"
	  "<li>メールが届かなかった人（不達・送信失敗）</li>\n"
	  "<li>電子での受け取りに同意しなかった人</li>\n"
	  "<li>期限までにダウンロードしなかった人</li>\n</ul>\n"
	  "<p>バッチの画面の「紙で送付する区民の一覧（CSV）」で一覧を、「紙で送付する通知"
	  "（印刷用にまとめた PDF）」で全員分の通知を一つの PDF にまとめたものをダウンロードし、"
	  "印刷します。一覧の「ページ」の列が、PDF の何ページ目がその人の通知かを示します。</p>\n" },
};

static const struct topic *find(const char *slug)
{
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (strcmp(topics[i].slug, slug) == 0)
			return &topics[i];
	return NULL;
}

static int help_index(struct buf *b, const struct page_staff_user *u)
{
	if (page_staff_begin(b, "操作マニュアル", u) < 0 || A("<h1>操作マニュアル</h1>\n") ||
	    A("<p>職員ダッシュボードの使い方を、作業ごとに説明します。</p>\n<ol>\n"))
		return -1;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (A("<li><a href=\"/help/") || H(topics[i].slug) || A("\">") || H(topics[i].title) ||
		    A("</a></li>\n"))
			return -1;
	if (A("</ol>\n<h2>管理者向け</h2>\n<p><a href=\"/help/admin\">運用手順（インストール、TLS、"
	      "送信リレー、バックアップと復元、鍵の更新、障害・事故への対応）</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

static int figure(struct buf *b, const struct topic *t)
{
	const unsigned char *data;
	size_t len;
	char dims[64];

	if (t->img == NULL || page_help_img(t->img, &data, &len) < 0 || len < 24)
		return 0;
	/* The PNG's own size from its IHDR, so the page does not jump. */
	str_fmt(dims, sizeof(dims), "\" width=\"%u\" height=\"%u\" alt=\"", be32_get(data + 16),
		be32_get(data + 20));
	return A("<figure><img src=\"/static/help/") || H(t->img) || A(dims) || H(t->alt) ||
	       A("\"><figcaption>画面の例</figcaption></figure>\n") ? -1 : 0;
}

static int help_topic(struct buf *b, const struct page_staff_user *u, const struct topic *t)
{
	if (page_staff_begin(b, t->title, u) < 0 ||
	    A("<nav aria-label=\"パンくずリスト\"><p><a href=\"/help\">操作マニュアル</a> ＞ ") ||
	    H(t->title) || A("</p></nav>\n<h1>") || H(t->title) || A("</h1>\n") || A(t->body) ||
	    figure(b, t) < 0 || A("<p><a href=\"/help\">操作マニュアルの目次に戻る</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

static int help_admin(struct buf *b, const struct page_staff_user *u)
{
	if (page_staff_begin(b, "運用手順（管理者向け）", u) < 0 ||
	    A("<nav aria-label=\"パンくずリスト\"><p><a href=\"/help\">操作マニュアル</a> ＞ "
	      "運用手順</p></nav>\n<h1>運用手順（管理者向け）</h1>\n"
	      "<p class=\"hint\">リポジトリの contrib/admin-guide.md と同じ内容です。</p>\n") ||
	    help_md_html(b, help_admin_guide_md, 1) < 0)
		return -1;
	return page_staff_end(b);
}

int page_staff_help(struct buf *b, const struct page_staff_user *u, const char *topic)
{
	const struct topic *t;

	if (topic == NULL || topic[0] == '\0')
		return help_index(b, u);
	if (strcmp(topic, "admin") == 0)
		return help_admin(b, u);
	if ((t = find(topic)) == NULL)
		return 1;
	return help_topic(b, u, t);
}
