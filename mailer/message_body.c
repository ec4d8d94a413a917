/*
 * message_body.c — the two bodies of the notification message, plain text
 * and HTML, saying the same things in the same order.  Runs in the mailer.
 *
 * The HTML is text and links only: every character of every input is
 * escaped, the URLs of the message text become <a> elements (the URL
 * itself as the link's text), the resident's link is one <a> whose text is
 * a label, and nothing is loaded from anywhere (no img, link, script,
 * style, frame or form element, no src attribute).
 */
#include "mailer/message_int.h"

#include <glib.h>
#include <string.h>

#define TEST_LINE "【テスト】これはテスト送信です。実際の通知ではありません。" \
	"(TEST: this is a test message, not a real notice.)"
#define H_LINK "■ 通知の確認"
#define LINK_LEAD "次のリンクから、あなた宛ての通知をご確認ください。"
#define LINK_LABEL "通知を開く"
#define H_METHOD "■ 開き方"
#define H_DEADLINE "■ 確認の期限"
#define DEADLINE_FMT "%sまでにご確認ください。"
#define H_TYPE "■ リンクを使わずに確認する方法"
#define TYPE_LEAD "メールのリンクを開くのが心配な方は、ブラウザに次のアドレスを" \
	"入力し、表示されたページで保護番号を入力してください。"
#define TYPE_ADDR "アドレス: "
#define TYPE_CODE "保護番号: "
#define H_KYOUJI "■ 不服申立て（教示）"
#define H_CONTACT "■ お問い合わせ"
#define H_WARN "■ ご注意"
#define WARN_JA "区役所がメールで、パスワードやカード番号の入力、お支払いを" \
	"求めることはありません。そのようなメールを受け取ったときは、" \
	"リンクを開かずに上記のお問い合わせ先へご連絡ください。"
#define WARN_EN "The ward never asks for a password, a card number or a " \
	"payment by e-mail."

/* What to do on the portal, for the method (label: what the CSV holds). */
static const char *method_text(enum message_auth a)
{
	switch (a) {
	case MESSAGE_AUTH_OTP:
		return "上のリンクを開き、表示されたページで確認コードの送信を選ぶと、"
		       "このメールアドレスに確認コードが届きます。"
		       "そのコードをページに入力してください。";
	case MESSAGE_AUTH_VALUE:
		return "上のリンクを開き、ご本人の確認のため、表示されたページに%sを"
		       "入力してください。";
	case MESSAGE_AUTH_LINK:
	default:
		return "上のリンクを開き、表示されたページの「" LINK_LABEL
		       "」ボタンを押してください。";
	}
}

/* ------------------------------------------------------------ plain */

static int text_method(const struct message_texts *t, struct buf *out)
{
	const char *m = method_text(t->in->auth);
	if (t->in->auth != MESSAGE_AUTH_VALUE)
		return buf_printf(out, "%s\n%s\n\n", H_METHOD, m);
	const char *pct = strstr(m, "%s");
	return buf_printf(out, "%s\n%.*s%s%s\n\n", H_METHOD, (int)(pct - m), m,
			  t->in->auth_label, pct + 2);
}

int message_body_text(const struct message_texts *t, struct buf *out)
{
	const struct message_input *in = t->in;
	int rc = 0;

	if (in->test)
		rc |= buf_printf(out, "%s\n\n", TEST_LINE);
	rc |= buf_printf(out, "%s\n\n", t->message);
	rc |= buf_printf(out, "%s\n%s\n%s\n\n", H_LINK, LINK_LEAD, in->link);
	rc |= text_method(t, out);
	rc |= buf_printf(out, "%s\n" DEADLINE_FMT "\n\n", H_DEADLINE, t->deadline);
	rc |= buf_printf(out, "%s\n%s\n  %s%s\n  %s%s\n\n", H_TYPE, TYPE_LEAD,
			 TYPE_ADDR, in->portal_url, TYPE_CODE, in->notice_code);
	if (t->kyouji != NULL)
		rc |= buf_printf(out, "%s\n%s\n\n", H_KYOUJI, t->kyouji);
	rc |= buf_printf(out, "%s\n%s\n\n", H_CONTACT, t->contact);
	rc |= buf_printf(out, "%s\n%s\n%s\n", H_WARN, WARN_JA, WARN_EN);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------- HTML */

/* Runs of plain bytes are copied at once: a message is built per resident,
 * thousands a second. */
static int esc(struct buf *out, const char *p, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep;
		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '=': rep = "&#61;"; break; /* no "src=" in text */
		case '\n': rep = "<br>\n"; break;
		default: continue;
		}
		if (buf_append(out, p + run, i - run) < 0 || buf_append_str(out, rep) < 0)
			return -1;
		run = i + 1;
	}
	return buf_append(out, p + run, n - run);
}

static int esc_str(struct buf *out, const char *s)
{
	return esc(out, s, strlen(s));
}

/* One line of text (the title): control characters as spaces. */
static int esc_line(struct buf *out, const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F ? buf_append_u8(out, ' ') < 0
							   : esc(out, p, 1) < 0)
			return -1;
	return 0;
}

/* A URL (of URL characters only): just '&' is escaped. */
static int esc_url(struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] == '&' ? buf_append_str(out, "&amp;") : buf_append_u8(out, (uint8_t)p[i])) < 0)
			return -1;
	return 0;
}

/* Characters a URL in the message text runs over (RFC 3986, less quotes). */
static int url_char(unsigned char c)
{
	return g_ascii_isalnum(c) || (c != '\0' && strchr("-._~:/?#[]@!$&*+,;=%()", c) != NULL);
}

/* Length of the URL starting at p (0 when none starts there). */
static size_t url_at(const char *p)
{
	size_t n;
	if (g_ascii_strncasecmp(p, "https://", 8) == 0)
		n = 8;
	else if (g_ascii_strncasecmp(p, "http://", 7) == 0)
		n = 7;
	else
		return 0;
	size_t start = n;
	while (url_char((unsigned char)p[n]))
		n++;
	while (n > start && strchr(".,;:!?)(", p[n - 1]) != NULL)
		n--; /* sentence punctuation after a URL */
	return n > start ? n : 0;
}

/* Text with its URLs as links, everything else escaped. */
static int esc_linked(struct buf *out, const char *s)
{
	const char *run = s;
	for (const char *p = s; *p != '\0';) {
		size_t n = (p == s || !g_ascii_isalnum(p[-1])) ? url_at(p) : 0;
		if (n == 0) {
			p++;
			continue;
		}
		if (esc(out, run, (size_t)(p - run)) < 0 || buf_append_str(out, "<a href=\"") < 0 ||
		    esc_url(out, p, n) < 0 || buf_append_str(out, "\">") < 0 || esc_url(out, p, n) < 0 ||
		    buf_append_str(out, "</a>") < 0)
			return -1;
		p += n;
		run = p;
	}
	return esc_str(out, run);
}

static int html_section(struct buf *out, const char *head, const char *body)
{
	if (buf_append_str(out, "<h2>") < 0 || esc_str(out, head + strlen("■ ")) < 0 ||
	    buf_append_str(out, "</h2>\n<p>") < 0 || esc_str(out, body) < 0)
		return -1;
	return buf_append_str(out, "</p>\n");
}

static int html_method(const struct message_texts *t, struct buf *out)
{
	const char *m = method_text(t->in->auth);
	if (t->in->auth != MESSAGE_AUTH_VALUE)
		return html_section(out, H_METHOD, m);
	const char *pct = strstr(m, "%s");
	char *head = g_strndup(m, (gsize)(pct - m));
	char *s = g_strconcat(head, t->in->auth_label, pct + 2, NULL);
	g_free(head);
	int rc = html_section(out, H_METHOD, s);
	g_free(s);
	return rc;
}

static int html_head(const struct message_texts *t, struct buf *out)
{
	int rc = buf_printf(out, "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n"
			    "<meta charset=\"%s\">\n<title>",
			    t->in->charset == MESSAGE_ISO2022JP ? "ISO-2022-JP" : "UTF-8");
	if (rc < 0 || esc_line(out, t->in->title) < 0 ||
	    buf_append_str(out, "</title>\n</head>\n<body>\n") < 0)
		return -1;
	if (t->in->test && (buf_append_str(out, "<p><strong>") < 0 || esc_str(out, TEST_LINE) < 0 ||
			    buf_append_str(out, "</strong></p>\n") < 0))
		return -1;
	if (buf_append_str(out, "<p>") < 0 || esc_linked(out, t->message) < 0)
		return -1;
	return buf_append_str(out, "</p>\n");
}

int message_body_html(const struct message_texts *t, struct buf *out)
{
	const struct message_input *in = t->in;
	int rc = html_head(t, out);

	rc |= buf_printf(out, "<h2>%s</h2>\n<p>%s<br>\n<a href=\"", &H_LINK[strlen("■ ")], LINK_LEAD);
	rc |= esc_url(out, in->link, strlen(in->link));
	rc |= buf_printf(out, "\">%s</a></p>\n", LINK_LABEL);
	rc |= html_method(t, out);
	char *d = g_strdup_printf(DEADLINE_FMT, t->deadline);
	rc |= html_section(out, H_DEADLINE, d);
	g_free(d);
	char *ty = g_strdup_printf("%s\n%s%s\n%s%s", TYPE_LEAD, TYPE_ADDR, in->portal_url,
				   TYPE_CODE, in->notice_code);
	rc |= html_section(out, H_TYPE, ty);
	g_free(ty);
	if (t->kyouji != NULL)
		rc |= html_section(out, H_KYOUJI, t->kyouji);
	rc |= html_section(out, H_CONTACT, t->contact);
	rc |= html_section(out, H_WARN, WARN_JA "\n" WARN_EN);
	rc |= buf_append_str(out, "</body>\n</html>\n");
	return rc < 0 ? -1 : 0;
}
