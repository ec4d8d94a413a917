/*
 * intake_ja.c — intake's English refusals as plain Japanese (see
 * lib/intake_ja.h).  A table of the kinds of refusal, each found by a
 * phrase of intake's English line (the phrases are intake's own wording:
 * gateway/, pdf/pdf_check.c), first match wins, so the more particular
 * phrases come first.  Runs in the gateway and the portal.
 */
#include "lib/intake_ja.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

/* Which place the English line may name, and how it is said in Japanese. */
enum where { W_NONE, W_CSV, W_PDF, W_SETTING, W_MESSAGE };

static const struct {
	const char *phrase; /* in the English line */
	enum where where;
	const char *ja;
} kinds[] = {
	/* Not a PDF at all (pdf/pdf_check.c names what it is). */
	{ "image, not a PDF", W_PDF,
	  "PDF として付いているファイルが、PDF ではなく画像です。PDF に保存し直してから付けてください。" },
	{ "not a PDF", W_PDF,
	  "PDF として付いているファイルが PDF ではありません（Word や Excel のファイルなど）。"
	  "PDF に保存し直してから付けてください。" },
	{ "winmail.dat", W_NONE,
	  "添付ファイルが Outlook の winmail.dat の形式になっています。Outlook のメールの形式を"
	  "「HTML」か「テキスト」にして、送り直してください。" },
	/* The CSV's columns. */
	{ "Individual Number", W_CSV,
	  "CSV にマイナンバー（個人番号）の列があります。マイナンバーの列を削除してから送ってください。" },
	{ "no e-mail column found", W_CSV,
	  "CSV にメールアドレスの列が見つかりません。見出しの行に「メールアドレス」という列を入れてください。" },
	{ "no key column found", W_CSV,
	  "CSV に宛名番号の列が見つかりません。見出しの行に「宛名番号」という列を入れてください。" },
	{ "no header row", W_CSV,
	  "CSV の 1 行目に見出し（列の名前）がありません。1 行目に「宛名番号」「氏名」"
	  "「メールアドレス」などの見出しを入れてください。" },
	{ "both look like the", W_CSV,
	  "CSV に、同じ内容に見える列が 2 つあります。本文の先頭の設定で、どちらの列を使うかを指定してください。" },
	{ "names column", W_CSV,
	  "本文の先頭の設定で指定した列が、CSV の見出しにありません。列の名前を確かめてください。" },
	{ "both name column", W_NONE,
	  "本文の先頭の設定で、2 つの設定が同じ列を指しています。列の指定を確かめてください。" },
	{ "but the header row", W_CSV,
	  "本文の先頭の設定で指定した列が、CSV の見出しにありません。列の名前を確かめてください。" },
	{ "header row but no data rows", W_CSV,
	  "CSV に見出しの行しかありません。宛先の行を入れてください。" },
	{ "the CSV is empty", W_NONE, "CSV が空です。見出しの行と宛先の行を入れてください。" },
	/* The CSV's text. */
	{ "UTF-16", W_NONE,
	  "CSV の形式（UTF-16）が読めません。Excel で「CSV UTF-8（コンマ区切り）」を選んで保存し直してください。" },
	{ "NUL byte", W_CSV,
	  "CSV がテキストのファイルではありません（Excel の .xlsx ファイルなど）。Excel で"
	  "「CSV UTF-8（コンマ区切り）」を選んで保存し直してください。" },
	{ "nor CP932", W_CSV,
	  "CSV の文字コードが読めません。Excel で「CSV UTF-8（コンマ区切り）」を選んで保存し直してください。" },
	{ "decoded from CP932", W_CSV,
	  "CSV の文字コードが読めません。Excel で「CSV UTF-8（コンマ区切り）」を選んで保存し直してください。" },
	{ "invalid UTF-8", W_CSV,
	  "CSV の文字コードが読めません。Excel で「CSV UTF-8（コンマ区切り）」を選んで保存し直してください。" },
	{ "unterminated quoted", W_CSV,
	  "CSV の引用符（\"）が閉じていません。Excel で開いて保存し直してください。" },
	{ "after the closing quote", W_CSV,
	  "CSV の引用符（\"）の後ろに余分な文字があります。Excel で開いて保存し直してください。" },
	{ "rows ([limits] csv_rows)", W_CSV,
	  "CSV の行が多すぎます（上限を超えています）。いくつかのバッチに分けて送ってください。" },
	{ "fields in one row", W_CSV, "CSV の 1 行の列が多すぎます。不要な列を削除してください。" },
	{ "is longer than", W_CSV, "CSV の欄に長すぎる値があります。内容を確かめてください。" },
	{ "the row is too large", W_CSV, "CSV の行が長すぎます。内容を確かめてください。" },
	{ "the message column", W_CSV, "CSV の個別メッセージの欄に使えない文字があります。" },
	{ "a second PDF for the resident", W_CSV,
	  "同じ宛名番号の人の PDF が 2 つあります。1 人に PDF は 1 つにしてください。" },
	/* CSV and PDF together. */
	{ "no resident key matches", W_NONE,
	  "CSV の宛名番号と、PDF に書かれた宛名番号が 1 件も一致しません。CSV と PDF の組み合わせ、"
	  "または本文の先頭の「分割」の設定を確かめてください。" },
	{ "but the CSV has", W_NONE,
	  "PDF のページ数と CSV の行数が合いません。1 人あたりのページ数の設定と CSV の行数を確かめてください。" },
	{ "is not a multiple of", W_NONE,
	  "PDF のページ数が、1 人あたりのページ数で割り切れません。1 人あたりのページ数の設定を"
	  "確かめてください。" },
	{ "shows no resident's key", W_PDF,
	  "PDF に宛名番号の見つからないページがあります。PDF と CSV の組み合わせ、または"
	  "本文の先頭の「分割」の設定を確かめてください。" },
	{ "belongs to no resident", W_PDF,
	  "PDF の最初のページに宛名番号が見つかりません。PDF と CSV の組み合わせを確かめてください。" },
	{ "appears on any of the", W_NONE,
	  "CSV の宛名番号が、PDF のどのページにも見つかりません。PDF と CSV の組み合わせを確かめてください。" },
	{ "key pattern", W_NONE,
	  "本文の先頭の「キーパターン」の設定が正しくないか、どのページにも当てはまりません。設定を確かめてください。" },
	{ "splitting takes exactly one PDF", W_NONE,
	  "1 つの PDF を 1 人ずつに分けるときは、PDF を 1 つだけ付けてください"
	  "（1 人 1 ファイルの場合は、ファイル名を宛名番号にしてください）。" },
	{ "a common PDF batch takes exactly one PDF", W_NONE,
	  "全員に同じ PDF を送るときは、PDF を 1 つだけ付けてください。" },
	{ "the batch has no PDF", W_NONE, "PDF が付いていません。通知の PDF を付けてください。" },
	{ "no recipients CSV", W_NONE, "宛先の CSV が付いていません。宛先の CSV を付けてください。" },
	{ "no CSV data", W_NONE, "宛先の CSV が付いていません。宛先の CSV を付けてください。" },
	/* The PDF. */
	{ "encrypted", W_NONE,
	  "PDF にパスワード（暗号化）がかかっています。パスワードを外して保存し直してください。" },
	{ "does not open this encrypted PDF", W_NONE,
	  "PDF にパスワード（暗号化）がかかっています。パスワードを外して保存し直してください。" },
	{ "the PDF has no pages", W_NONE, "PDF にページがありません。PDF を作り直してください。" },
	{ "decodes to more than", W_PDF,
	  "PDF の中身（画像など）が大きすぎます。画質を下げるなどして PDF を作り直してください。" },
	{ "truncated", W_PDF,
	  "PDF が途中で切れているか、壊れています。PDF を作り直してください。" },
	{ "damaged", W_PDF, "PDF が壊れています。PDF を作り直してください。" },
	{ "pages, more than the limit", W_NONE,
	  "PDF のページが多すぎます（上限を超えています）。いくつかのバッチに分けて送ってください。" },
	/* Sizes and counts. */
	{ "[limits] attachments", W_NONE,
	  "ファイルの数が多すぎます（上限を超えています）。いくつかのバッチに分けて送ってください。" },
	{ "[limits] mime", W_NONE,
	  "メールの作りが複雑すぎて読めません。ファイルを直接添付して送り直してください。" },
	{ "limit of", W_NONE,
	  "ファイルが大きすぎます（上限を超えています）。いくつかのバッチに分けて送ってください。" },
	{ "the limit is", W_NONE,
	  "ファイルが大きすぎます（上限を超えています）。いくつかのバッチに分けて送ってください。" },
	/* The settings at the top of the message, the title, the message. */
	{ "split by key needs a pattern", W_NONE,
	  "「分割: キー」には宛名番号の形（キーパターン）の設定が必要です。" },
	{ "split by pages needs a page count", W_NONE,
	  "「分割: ページ」には 1 人あたりのページ数の設定が必要です。" },
	{ "split must be", W_SETTING,
	  "「分割」の設定は「ページ 2」「キー」「自動」「ファイル別」「共通」のどれかにしてください。" },
	{ "a page count must be", W_SETTING, "ページ数は 1～10000 の数字にしてください。" },
	{ "test must be yes or no", W_SETTING, "「テスト」の設定は「はい」か「いいえ」にしてください。" },
	{ "consent must be yes or no", W_SETTING, "「同意」の設定は「はい」か「いいえ」にしてください。" },
	{ "key width", W_SETTING, "「桁数」の設定は 1～64 の数字にしてください。" },
	{ "notice type", W_SETTING,
	  "「通知の種類」が区の設定にありません。区の設定に登録されている種類から選んでください。" },
	{ "settings line", W_SETTING,
	  "本文の先頭の設定に、使えない文字があるか、長すぎる値があります。" },
	{ "Subject", W_NONE, "件名（通知名）に使えない文字があるか、長すぎます。件名を直してください。" },
	{ "the title", W_NONE, "通知名に使えない文字があるか、長すぎます。通知名を直してください。" },
	{ "message line", W_MESSAGE, "本文に使えない文字があるか、行が長すぎます。本文を直してください。" },
	{ "must be UTF-8", W_NONE, "本文（message.txt）の文字コードが読めません。UTF-8 で保存し直してください。" },
	{ "cannot be read as an e-mail", W_NONE, "メールとして読めませんでした。送り直してください。" },
	{ "would leave the batch folder", W_NONE, "ファイル名が正しくありません。ファイル名を短く、単純にしてください。" },
	{ "is too long", W_NONE, "ファイル名が長すぎます。ファイル名を短くしてください。" },
	/* Who sent it, and the server. */
	{ "not a staff member", W_NONE, "送った人が職員として登録されていません。管理者に連絡してください。" },
	{ "account is disabled", W_NONE, "送った人のアカウントが停止されています。管理者に連絡してください。" },
	{ "submit permission", W_NONE, "送った人に一括送信の権限がありません。管理者に連絡してください。" },
	{ "signing credential", W_NONE,
	  "署名の設定がされていないため、受け付けできませんでした。管理者に連絡してください。" },
};

/* The number after the first occurrence of word in s: 0 and *n, or -1. */
static int number_after(const char *s, const char *word, long *n)
{
	const char *p = strstr(s, word);
	char *end;

	if (p == NULL)
		return -1;
	p += strlen(word);
	if (*p < '0' || *p > '9')
		return -1;
	*n = strtol(p, &end, 10);
	return *n > 0 ? 0 : -1;
}

/* "report.csv: ..." or "scan.pdf: ...": the file the line starts with. */
static void file_named(const char *why, char *out, size_t size)
{
	size_t n = strcspn(why, ":");
	const char *sp = strchr(why, ' ');

	out[0] = '\0';
	if (why[n] != ':' || why[n + 1] != ' ' || n < 5 || n >= size || (sp != NULL && sp < why + n))
		return;
	if (strncasecmp(why + n - 4, ".pdf", 4) != 0 && strncasecmp(why + n - 4, ".csv", 4) != 0)
		return;
	memcpy(out, why, n);
	out[n] = '\0';
}

/* Where the line says the problem is, in Japanese ("" nowhere). */
static void place(const char *why, enum where w, char *out, size_t size)
{
	char file[256];
	long n;

	out[0] = '\0';
	file_named(why, file, sizeof(file));
	if (w == W_SETTING && number_after(why, "settings line ", &n) == 0)
		str_fmt(out, size, "（本文の先頭の設定の %ld 行目）", n);
	else if (w == W_MESSAGE && number_after(why, "message line ", &n) == 0)
		str_fmt(out, size, "（本文の %ld 行目）", n);
	else if (w == W_CSV && number_after(why, "line ", &n) == 0)
		str_fmt(out, size, "（%s%s%s %ld 行目）", file[0] ? "「" : "CSV の", file,
			file[0] ? "」の" : "", n);
	else if (w == W_PDF && number_after(why, "page ", &n) == 0)
		str_fmt(out, size, "（%s%s%s %ld ページ目）", file[0] ? "「" : "PDF の", file,
			file[0] ? "」の" : "", n);
	else if (file[0] != '\0')
		str_fmt(out, size, "（ファイル「%s」）", file);
}

int intake_why_ja(const char *why, char *out, size_t size)
{
	char where[320];

	for (size_t i = 0; why != NULL && i < ARRAY_SIZE(kinds); i++) {
		if (strstr(why, kinds[i].phrase) == NULL)
			continue;
		place(why, kinds[i].where, where, sizeof(where));
		str_fmt(out, size, "%s%s", kinds[i].ja, where);
		return 1;
	}
	str_copy(out, "受付の処理で問題が見つかりました。下の英語の説明を管理者に伝えて、確認してもらってください。",
		 size);
	return 0;
}
