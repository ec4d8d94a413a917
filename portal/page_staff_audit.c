/*
 * page_staff_audit.c — the audit log page (see page_staff_audit.h).
 * WCAG 2.1 AA minded: a labelled search form, a table with a caption and
 * column headers, the verification result as a status (or an alert when
 * the chain is broken), no script.  Runs in the portal process.
 */
#include <string.h>

#include "portal/http.h"
#include "portal/page_staff_audit.h"

#define A(s) (buf_append_str(b, (s)) < 0)
#define H(s) (http_html(b, (s)) < 0)

static int field(struct buf *b, const char *id, const char *label, const char *type,
		 const char *value, const char *hint)
{
	if (A("<div class=\"field\"><label for=\"") || A(id) || A("\">") || A(label) ||
	    A("</label>\n"))
		return -1;
	if (hint != NULL && (A("<p class=\"hint\" id=\"") || A(id) || A("-hint\">") || A(hint) ||
			     A("</p>\n")))
		return -1;
	return A("<input id=\"") || A(id) || A("\" name=\"") || A(id) || A("\" type=\"") ||
		       A(type) || A("\" maxlength=\"100\"") ||
		       (hint != NULL && (A(" aria-describedby=\"") || A(id) || A("-hint\""))) ||
		       A(" value=\"") || H(value) || A("\"></div>\n")
		       ? -1
		       : 0;
}

/* The link to the records below seq `before` (0: the newest) with the
 * same search. */
static int page_link(struct buf *b, const struct page_staff_audit_q *q, uint64_t before,
		     const char *label)
{
	char num[24];

	str_fmt(num, sizeof(num), "%llu", (unsigned long long)before);
	return A("<a href=\"/audit?person=") || http_url_encode(b, q->person) < 0 ||
		       A("&amp;action=") || http_url_encode(b, q->action) < 0 || A("&amp;from=") ||
		       http_url_encode(b, q->from) < 0 || A("&amp;to=") ||
		       http_url_encode(b, q->to) < 0 || (before != 0 && (A("&amp;before=") || A(num))) ||
		       A("\">") || A(label) || A("</a>")
		       ? -1
		       : 0;
}

static int verify_part(struct buf *b, const struct page_staff_user *u,
		       const struct page_staff_audit_q *q)
{
	if (A("<h2>改ざんの確認</h2>\n"))
		return -1;
	if (q->verified != 0 &&
	    (A(q->verified > 0 ? "<p role=\"status\" id=\"verify-result\">"
			       : "<p class=\"error\" role=\"alert\" id=\"verify-result\">") ||
	     H(q->verify_msg) || A("</p>\n")))
		return -1;
	return A("<form method=\"post\" action=\"/audit/verify\">\n"
		 "<input type=\"hidden\" name=\"csrf\" value=\"") ||
		       H(u->csrf) ||
		       A("\">\n<p class=\"hint\">監査ログの記録がすべてつながっていて、"
			 "書き換えや削除がないかを確かめます（<code>tayori audit verify</code> と同じ確認）。</p>\n"
			 "<button type=\"submit\">監査ログを検証する</button>\n</form>\n")
		       ? -1
		       : 0;
}

static int row(struct buf *b, const struct audit_view *v)
{
	char seq[24], jst[32];

	str_fmt(seq, sizeof(seq), "%llu", (unsigned long long)v->seq);
	time_format_jst(v->time, jst, sizeof(jst));
	return A("<tr><td>") || A(seq) || A("</td><td>") || H(jst) || A("</td><td>") ||
		       H(v->actor) || A("</td><td>") || H(v->action) || A("</td><td>") ||
		       H(v->target) || A("</td><td>") || H(v->from) || A("</td><td>") ||
		       H(v->detail) || A("</td></tr>\n")
		       ? -1
		       : 0;
}

int page_staff_audit(struct buf *b, const struct page_staff_user *u,
		     const struct page_staff_audit_q *q, const struct audit_view *rows, size_t n)
{
	char line[96];

	if (page_staff_begin(b, "監査ログ", u) < 0 || A("<h1>監査ログ</h1>\n") ||
	    verify_part(b, u, q) < 0 || A("<h2>検索</h2>\n"))
		return -1;
	if (q->error[0] != '\0' && (A("<p class=\"error\" role=\"alert\">") || H(q->error) ||
				    A("</p>\n")))
		return -1;
	if (A("<form method=\"get\" action=\"/audit\">\n") ||
	    field(b, "person", "だれが（ユーザーID、または staff:番号・cli:名前など）", "text",
		  q->person, NULL) < 0 ||
	    field(b, "action", "操作（例: staff.login、batch.approve。前方一致）", "text", q->action,
		  NULL) < 0 ||
	    field(b, "from", "期間の始め（日本時間の日付）", "date", q->from, "例: 2026-12-01") < 0 ||
	    field(b, "to", "期間の終わり（日本時間の日付、その日を含む）", "date", q->to, NULL) < 0 ||
	    A("<button type=\"submit\">検索する</button>\n</form>\n"))
		return -1;
	str_fmt(line, sizeof(line), "%zu 件%s（新しい順）", q->shown,
		q->before != 0 || q->older != 0 ? "を表示" : "");
	if (A("<p id=\"audit-count\">") || H(line) || A("</p>\n"))
		return -1;
	if (n > 0 &&
	    A("<div class=\"scroll\" role=\"region\" aria-label=\"監査ログの記録\" tabindex=\"0\">\n"
	      "<table class=\"wrap\">\n<caption>監査ログの記録（時刻は日本時間）</caption>\n<thead><tr>"
	      "<th scope=\"col\">番号</th><th scope=\"col\">日時</th><th scope=\"col\">だれが</th>"
	      "<th scope=\"col\">操作</th><th scope=\"col\">対象</th><th scope=\"col\">どこから</th>"
	      "<th scope=\"col\">詳細</th></tr></thead>\n<tbody>\n"))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (row(b, &rows[i]) < 0)
			return -1;
	if (n > 0 && A("</tbody>\n</table>\n</div>\n"))
		return -1;
	if (q->before != 0 || q->older != 0) {
		if (A("<nav aria-label=\"ページ\"><p>"))
			return -1;
		if (q->before != 0 && (page_link(b, q, 0, "最新の記録へ") < 0 || A(" ")))
			return -1;
		if (q->older != 0 && page_link(b, q, q->older, "古い記録へ") < 0)
			return -1;
		if (A("</p></nav>\n"))
			return -1;
	}
	return page_staff_end(b);
}
