/*
 * page_staff_upload.c — the HTML of the dashboard's upload (see
 * page_staff_upload.h): the form, the page while the gateway takes the
 * upload, and the matching report or the refusal.  WCAG 2.1 AA minded:
 * one h1, a label on every input, errors in role="alert", no script (the
 * waiting page asks the clerk to reload it, and the browser reloads it by
 * itself through the Refresh header the handler sends).  Runs in the
 * portal process.
 */
#include <stdio.h>
#include <string.h>

#include "lib/intake_ja.h"
#include "portal/http.h"
#include "portal/page_staff.h"
#include "portal/page_staff_upload.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

/* Shown items of one list at most; the rest are counted. */
#define LIST_SHOWN 200

static const char *const list_ja[UPLOAD_LISTS] = {
	"CSV にない宛名番号の PDF（どの区民にも送られません）",
	"PDF がない CSV の行（紙で送付）",
	"メールアドレスが正しくない行（紙で送付）",
	"メールアドレスがない行（紙で送付）",
	"重複した宛名番号（保留）",
	"PDF の離れたページに出てくる宛名番号（保留）",
	"保留した行",
	"1 人に決められないページの宛名番号（保留）",
	"署名の前に取り除いた動的要素",
	"先頭の通知の確認",
};

static const struct {
	const char *value, *label;
} splits[] = {
	{ "", "自動（ファイルから判断）" },
	{ "auto", "1 つの PDF を宛名番号で分ける" },
	{ "pages", "1 つの PDF をページ数で分ける" },
	{ "per-file", "1 人 1 ファイル（ファイル名が宛名番号）" },
	{ "common", "全員に同じ PDF" },
};

static int checkbox(struct buf *b, const char *name, int on, const char *label)
{
	return A("<div class=\"field\"><label><input type=\"checkbox\" name=\"") || H(name) ||
	       A("\" value=\"1\"") || (on && A(" checked")) || A(">") || H(label) ||
	       A("</label></div>\n") ? -1 : 0;
}

/* The ward's notice types as a choice (none when the ward has set none). */
static int type_select(struct buf *b, const struct page_upload_form *f)
{
	if (f->types == NULL || f->types[0] == '\0')
		return 0;
	return A("<div class=\"field\"><label for=\"type\">通知の種類</label>\n"
		 "<p class=\"hint\" id=\"type-hint\">区の設定に登録された種類から選びます。</p>\n"
		 "<select id=\"type\" name=\"type\" aria-describedby=\"type-hint\">\n"
		 "<option value=\"\">（選ばない）</option>\n") ||
		       page_staff_type_options(b, f->types, f->notice_type) < 0 || A("</select></div>\n") ? -1 : 0;
}

static int text_inputs(struct buf *b, const struct page_upload_form *f)
{
	if (A("<div class=\"field\"><label for=\"title\">通知名（件名）</label>\n"
	      "<input id=\"title\" name=\"title\" type=\"text\" maxlength=\"200\" required value=\"") ||
	    H(f->title) || A("\"></div>\n") || type_select(b, f) < 0 ||
	    A("<div class=\"field\"><label for=\"split\">PDF の分け方</label>\n"
	      "<select id=\"split\" name=\"split\">\n"))
		return -1;
	for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++)
		if (A("<option value=\"") || H(splits[i].value) || A("\"") ||
		    (strcmp(f->split, splits[i].value) == 0 && A(" selected")) || A(">") ||
		    H(splits[i].label) || A("</option>\n"))
			return -1;
	if (A("</select></div>\n<div class=\"field\"><label for=\"pages\">1 人あたりのページ数"
	      "（ページ数で分けるときだけ）</label>\n<input id=\"pages\" name=\"pages\" type=\"number\" "
	      "min=\"1\" max=\"10000\" inputmode=\"numeric\" value=\"") ||
	    H(f->pages) ||
	    A("\"></div>\n<div class=\"field\"><label for=\"kyouji\">教示（不服申立ての方法。改行せずに入力）"
	      "</label>\n<textarea id=\"kyouji\" name=\"kyouji\" rows=\"3\" maxlength=\"2000\">") ||
	    H(f->kyouji) || A("</textarea></div>\n") ||
	    checkbox(b, "consent", f->consent, "区民に電子での受け取りへの同意を求める") < 0 ||
	    A("<div class=\"field\"><label for=\"message\">区民へのメッセージ</label>\n"
	      "<textarea id=\"message\" name=\"message\" rows=\"8\" maxlength=\"20000\">") ||
	    H(f->message) || A("</textarea></div>\n") ||
	    checkbox(b, "test", f->test, "テスト利用（職員のテスト用アドレスにだけ送ります）") < 0)
		return -1;
	return 0;
}

int page_staff_upload_form(struct buf *b, const struct page_staff_user *u,
			   const struct page_upload_form *f)
{
	char lim[160];

	if (page_staff_begin(b, "一括送信の登録", u) < 0 || A("<h1>一括送信の登録（アップロード）</h1>\n"
							   "<p>メールで送る代わりに、宛先 CSV と通知の PDF をここから登録できます。"
							   "登録しただけでは区民に送信されません。照合の結果を確かめ、承認を受けてから送信します。</p>\n"))
		return -1;
	if (f->error[0] != '\0' &&
	    (A("<p class=\"error\" role=\"alert\">受け付けできませんでした。何も保存されていません。") ||
	     H(f->error) || A("</p>\n")))
		return -1;
	if (A("<form method=\"post\" enctype=\"multipart/form-data\" action=\"/upload?csrf=") ||
	    H(u->csrf) || A("\">\n") || text_inputs(b, f) < 0 ||
	    A("<div class=\"field\"><label for=\"csv\">宛先 CSV（1 ファイル）</label>\n"
	      "<input id=\"csv\" name=\"csv\" type=\"file\" accept=\".csv,text/csv\" required></div>\n"
	      "<div class=\"field\"><label for=\"pdfs\">通知の PDF（複数選べます）</label>\n"
	      "<input id=\"pdfs\" name=\"pdfs\" type=\"file\" accept=\".pdf,application/pdf\" multiple "
	      "required></div>\n"))
		return -1;
	str_fmt(lim, sizeof(lim), "ファイルは合わせて %zu %s まで、%zu 件までです。",
		f->max_bytes >= (1u << 20) ? f->max_bytes >> 20 : f->max_bytes >> 10,
		f->max_bytes >= (1u << 20) ? "MB" : "KB", f->max_files);
	if (A("<p class=\"hint\">") || H(lim) ||
	    A(" ファイルを選び直すときは、CSV と PDF の両方を選んでください。</p>\n"
	      "<button type=\"submit\">アップロードする</button>\n</form>\n"
	      "<p lang=\"en\">Upload a batch: the recipients CSV, the PDFs, the settings and the "
	      "message. Nothing is sent before it is approved.</p>\n"))
		return -1;
	return page_staff_end(b);
}

int page_staff_upload_pending(struct buf *b, const struct page_staff_user *u, uint64_t id)
{
	char href[64];

	str_fmt(href, sizeof(href), "/upload/%llu", (unsigned long long)id);
	if (page_staff_begin(b, "照合しています", u) < 0 ||
	    A("<h1>照合しています</h1>\n<p role=\"status\">アップロードを受け取りました。"
	      "いま CSV と PDF を照合し、署名しています。数百人分なら数十秒ほどかかります。</p>\n"
	      "<p>このページは数秒ごとに自動で新しくなります。変わらないときは、下のリンクで開き直してください。</p>\n"
	      "<p><a href=\"") ||
	    H(href) || A("\">最新の状態を表示する</a></p>\n"))
		return -1;
	return page_staff_end(b);
}

/* The split the gateway chose (gateway/batch_match.c says it in
 * English), in Japanese when known. */
static const char *split_ja(const char *rule, char *out, size_t outsize)
{
	static const char *const known[][2] = {
		{ "common PDF for everybody", "全員に同じ PDF" },
		{ "one PDF per resident, matched by file name", "1 人 1 ファイル（ファイル名で照合）" },
		{ "each resident's key found on the pages", "ページにある宛名番号で分けました" },
		{ "a new resident where the key on the page changes",
		  "ページの宛名番号が変わるところで分けました" },
	};
	int pages;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(rule, known[i][0]) == 0)
			return known[i][1];
	if (sscanf(rule, "%d pages per resident", &pages) == 1 && pages > 0) {
		str_fmt(out, outsize, "1 人 %d ページずつ（CSV の順）", pages);
		return out;
	}
	return rule;
}

static int row(struct buf *b, const char *th, const char *td)
{
	return A("<tr><th scope=\"row\">") || H(th) || A("</th><td>") || H(td[0] ? td : "—") ||
	       A("</td></tr>\n") ? -1 : 0;
}

static int row_n(struct buf *b, const char *th, uint64_t n)
{
	char s[32];
	str_fmt(s, sizeof(s), "%llu", (unsigned long long)n);
	return row(b, th, s);
}

static int lists(struct buf *b, const struct upload_result *r)
{
	for (size_t i = 0; i < UPLOAD_LISTS; i++) {
		const struct upload_list *l = &r->lists[i];
		char n[64];
		if (l->n == 0)
			continue;
		str_fmt(n, sizeof(n), "（%zu 件）", l->n);
		if (A("<h2>") || H(list_ja[i]) || H(n) || A("</h2>\n<ul>\n"))
			return -1;
		for (size_t j = 0; j < l->n && j < LIST_SHOWN; j++)
			if (A("<li>") || H(l->v[j]) || A("</li>\n"))
				return -1;
		if (l->n > LIST_SHOWN) {
			str_fmt(n, sizeof(n), "ほか %zu 件", l->n - LIST_SHOWN);
			if (A("<li>") || H(n) || A("</li>\n"))
				return -1;
		}
		if (A("</ul>\n"))
			return -1;
	}
	return 0;
}

static int report(struct buf *b, const struct upload_result *r)
{
	char href[64], id[32], split[96];

	str_fmt(href, sizeof(href), "/batches/%llu", (unsigned long long)r->batch);
	str_fmt(id, sizeof(id), "%llu", (unsigned long long)r->batch);
	if (A("<p role=\"status\">受け付けました。承認されるまで区民には送信されません。</p>\n"
	      "<table>\n<caption>照合の結果</caption>\n") ||
	    row(b, "通知名", r->title) < 0 || row(b, "バッチ番号", id) < 0 ||
	    row(b, "テスト利用", r->test ? "はい（職員のテスト用アドレスにだけ送ります）" : "いいえ") < 0 ||
	    row_n(b, "宛先（CSV の行数）", r->recipients) < 0 ||
	    row_n(b, "照合できた人数", r->matched) < 0 || row_n(b, "署名した PDF", r->signed_pdfs) < 0 ||
	    row(b, "PDF の分け方", split_ja(r->split, split, sizeof(split))) < 0 || row(b, "宛名番号の列", r->key_column) < 0 ||
	    row(b, "氏名の列", r->name_column) < 0 || row(b, "メールアドレスの列", r->email_column) < 0 ||
	    row(b, "CSV の文字コード", r->encoding) < 0 || A("</table>\n") || lists(b, r) < 0 ||
	    A("<p><a href=\"") || H(href) || A("\">バッチの画面へ（承認はこちら）</a></p>\n"))
		return -1;
	return 0;
}

/* Why the gateway refused it: in plain Japanese (lib/intake_ja.h), with
 * intake's English line folded away for whoever supports the clerk. */
static int refusal(struct buf *b, const struct upload_result *r)
{
	char ja[INTAKE_JA_MAX];

	intake_why_ja(r->error, ja, sizeof(ja));
	return A("<p class=\"error\" role=\"alert\">「") || H(r->title) ||
			       A("」は受け付けできませんでした。何も保存されていません。</p>\n"
				 "<h2>理由</h2>\n<p class=\"why\">") ||
			       H(ja) ||
			       A("</p>\n<details><summary>詳しい説明（英語・問い合わせ用）</summary>\n"
				 "<p lang=\"en\"><code>") ||
			       H(r->error) || A("</code></p>\n</details>\n")
		       ? -1
		       : 0;
}

int page_staff_upload_result(struct buf *b, const struct page_staff_user *u,
			     const struct upload_result *r)
{
	int stored = strcmp(r->outcome, "stored") == 0, dup = strcmp(r->outcome, "duplicate") == 0;
	const char *title = stored ? "照合の結果" : dup ? "すでに受け付けています" : "受け付けできませんでした";
	char href[64], text[160];

	if (page_staff_begin(b, title, u) < 0)
		return -1;
	if (r->test && A("<p class=\"test-banner\" role=\"note\">テスト利用のバッチです"
			 "（職員のテスト用アドレスにだけ送ります。区民には届きません）</p>\n"))
		return -1;
	if (A("<h1>") || H(title) || A("</h1>\n"))
		return -1;
	if (stored) {
		if (report(b, r) < 0)
			return -1;
	} else if (dup && r->batch != 0) {
		str_fmt(href, sizeof(href), "/batches/%llu", (unsigned long long)r->batch);
		str_fmt(text, sizeof(text), "同じ内容のファイルは、すでにバッチ %llu として受け付けています。"
			"新しいバッチは作っていません。", (unsigned long long)r->batch);
		if (A("<p role=\"status\">") || H(text) || A("</p>\n<p><a href=\"") || H(href) ||
		    A("\">そのバッチの画面へ</a></p>\n"))
			return -1;
	} else if (dup) {
		if (A("<p class=\"error\" role=\"alert\">同じ内容のファイルは、以前に受け付けできませんでした。"
		      "何も保存されていません。内容を直してからアップロードしてください。</p>\n"))
			return -1;
	} else if (refusal(b, r) < 0) {
		return -1;
	}
	if (A("<p><a href=\"/upload\">別のバッチをアップロードする</a></p>\n"))
		return -1;
	return page_staff_end(b);
}
