/*
 * help_md.c — the small Markdown subset of the administrator's guide
 * rendered to HTML (see help_md_html in page_staff_help.h).  Nothing of
 * the text is taken as markup but the Markdown itself: every character
 * goes through http_html, so the guide cannot inject a tag or a script.
 * Links are shown as text (the dashboard is for the LGWAN side).  Follows
 * CommonMark for the constructs it knows.  Runs in the portal process.
 */
#include <string.h>

#include "portal/http.h"
#include "portal/page_staff_help.h"

#define A(s) (buf_append_str(b, (s)) < 0)

/* Inline text: `code` spans, the rest escaped. */
static int inline_text(struct buf *b, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *tick = memchr(s + i, '`', n - i);
		const char *end = tick != NULL ? memchr(tick + 1, '`', n - (size_t)(tick + 1 - s)) : NULL;
		if (tick == NULL || end == NULL)
			return http_html_n(b, s + i, n - i);
		if (http_html_n(b, s + i, (size_t)(tick - (s + i))) < 0 || A("<code>") ||
		    http_html_n(b, tick + 1, (size_t)(end - tick - 1)) < 0 || A("</code>"))
			return -1;
		i = (size_t)(end + 1 - s);
	}
	return 0;
}

struct md {
	struct buf *b;
	int shift;
	int para;     /* inside <p> */
	int list;     /* 0 none, 'u' <ul>, 'o' <ol> */
	int item;     /* inside <li> */
	int code;     /* inside ``` */
	size_t code_indent;
};

static int close_para(struct md *m)
{
	struct buf *b = m->b;
	if (m->para && A("</p>\n"))
		return -1;
	m->para = 0;
	return 0;
}

static int close_list(struct md *m)
{
	struct buf *b = m->b;
	if (close_para(m) < 0 || (m->item && A("</li>\n")))
		return -1;
	m->item = 0;
	if (m->list && A(m->list == 'u' ? "</ul>\n" : "</ol>\n"))
		return -1;
	m->list = 0;
	return 0;
}

/* A list item's marker at s: its length ("- " 2, "12. " 4), or 0. */
static size_t marker(const char *s, size_t n, int *kind)
{
	size_t i = 0;

	if (n >= 2 && s[0] == '-' && s[1] == ' ') {
		*kind = 'u';
		return 2;
	}
	while (i < n && i < 3 && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i > 0 && i + 1 < n && s[i] == '.' && s[i + 1] == ' ') {
		*kind = 'o';
		return i + 2;
	}
	return 0;
}

static int line(struct md *m, const char *s, size_t n)
{
	struct buf *b = m->b;
	size_t ind = 0, mk;
	int kind = 0;

	while (ind < n && s[ind] == ' ')
		ind++;
	if (m->code) {
		if (n - ind >= 3 && strncmp(s + ind, "```", 3) == 0) {
			m->code = 0;
			return A("</code></pre>\n") ? -1 : 0;
		}
		/* The fence's own indent is the list's, not the code's. */
		ind = ind < m->code_indent ? ind : m->code_indent;
		return http_html_n(b, s + ind, n - ind) < 0 || A("\n") ? -1 : 0;
	}
	if (n - ind >= 3 && strncmp(s + ind, "```", 3) == 0) {
		if (close_para(m) < 0 || (ind == 0 && close_list(m) < 0))
			return -1;
		m->code = 1;
		m->code_indent = ind;
		return A("<pre><code>") ? -1 : 0;
	}
	if (ind == n)
		return close_para(m);
	if (ind == 0 && s[0] == '#') {
		size_t level = 0;
		char tag[8];
		while (level < n && s[level] == '#')
			level++;
		if (level < n && s[level] == ' ' && level <= 4) {
			str_fmt(tag, sizeof(tag), "h%d", (int)level + m->shift);
			return close_list(m) < 0 || A("<") || A(tag) || A(">") ||
			       inline_text(b, s + level + 1, n - level - 1) < 0 || A("</") || A(tag) ||
			       A(">\n") ? -1 : 0;
		}
	}
	if (ind == 0 && (mk = marker(s, n, &kind)) > 0) {
		if (m->list != kind && close_list(m) < 0)
			return -1;
		if (close_para(m) < 0 || (m->item && A("</li>\n")))
			return -1;
		if (m->list == 0 && A(kind == 'u' ? "<ul>\n" : "<ol>\n"))
			return -1;
		m->list = kind, m->item = 1;
		return A("<li>") || inline_text(b, s + mk, n - mk) < 0 ? -1 : 0;
	}
	if (ind == 0 && m->list && close_list(m) < 0)
		return -1;
	/* An indented line inside a list item continues the item. */
	if (m->item && ind > 0)
		return A("\n") || inline_text(b, s + ind, n - ind) < 0 ? -1 : 0;
	if (!m->para) {
		m->para = 1;
		return A("<p>") || inline_text(b, s + ind, n - ind) < 0 ? -1 : 0;
	}
	return A("\n") || inline_text(b, s + ind, n - ind) < 0 ? -1 : 0;
}

int help_md_html(struct buf *b, const char *md, int shift)
{
	struct md m = { b, shift, 0, 0, 0, 0, 0 };

	for (const char *p = md; *p != '\0';) {
		size_t n = strcspn(p, "\n");
		if (line(&m, p, n) < 0)
			return -1;
		p += n + (p[n] == '\n');
	}
	if (m.code && A("</code></pre>\n"))
		return -1;
	return close_list(&m);
}
