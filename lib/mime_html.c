/*
 * mime_html.c — an HTML mail body as plain text (see mime_html.h).  A
 * single pass over the bytes, no DOM: every loop moves forward, the one
 * search for a closing tag is not repeated for an unclosed <head> or
 * <title> (no n^2).  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 */
#include "lib/mime_html.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mime_clean.h"
#include "lib/util.h"

struct entity {
	const char *name;
	unsigned cp;
};

static const struct entity entities[] = {
	{ "amp", '&' },      { "lt", '<' },        { "gt", '>' },       { "quot", '"' },
	{ "apos", '\'' },    { "nbsp", 0xA0 },      { "ensp", ' ' },     { "emsp", ' ' },
	{ "thinsp", ' ' },   { "copy", 0xA9 },     { "reg", 0xAE },     { "yen", 0xA5 },
	{ "middot", 0xB7 },  { "times", 0xD7 },    { "divide", 0xF7 },  { "laquo", 0xAB },
	{ "raquo", 0xBB },   { "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 },
	{ "lsquo", 0x2018 }, { "rsquo", 0x2019 },  { "ldquo", 0x201C }, { "rdquo", 0x201D },
	{ "bull", 0x2022 },  { "trade", 0x2122 },  { "euro", 0x20AC },  { "deg", 0xB0 },
	{ "plusmn", 0xB1 },  { "sect", 0xA7 },     { "para", 0xB6 },    { "zwnj", 0x200C },
	{ "zwj", 0x200D },   { "shy", 0xAD },      { "larr", 0x2190 },  { "rarr", 0x2192 },
	{ "uarr", 0x2191 },  { "darr", 0x2193 },   { "minus", 0x2212 }, { "prime", 0x2032 },
};

/* Decode the entity at p ("&..."); *used gets its length (0: not one). */
static gunichar entity_at(const char *p, const char *end, size_t *used)
{
	const char *q = p + 1;
	*used = 0;
	if (q < end && *q == '#') {
		unsigned long v = 0;
		int hex = 0, digits = 0;
		q++;
		if (q < end && (*q == 'x' || *q == 'X')) {
			hex = 1;
			q++;
		}
		while (q < end && digits < 8 && (hex ? g_ascii_isxdigit(*q) : g_ascii_isdigit(*q))) {
			v = v * (hex ? 16 : 10) + (unsigned long)(hex ? g_ascii_xdigit_value(*q) : *q - '0');
			q++;
			digits++;
		}
		if (digits == 0)
			return 0;
		if (q < end && *q == ';')
			q++;
		*used = (size_t)(q - p);
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return 0xFFFD;
		return (gunichar)v;
	}
	for (size_t i = 0; i < ARRAY_SIZE(entities); i++) {
		size_t n = strlen(entities[i].name);
		if ((size_t)(end - q) >= n && memcmp(q, entities[i].name, n) == 0) {
			const char *r = q + n;
			if (r < end && *r == ';')
				r++;
			else if (r < end && g_ascii_isalnum(*r))
				continue;
			*used = (size_t)(r - p);
			return entities[i].cp;
		}
	}
	return 0;
}

struct h2t {
	GString *out;
	int pre;          /* inside <pre>: white space kept */
	int space;        /* a space is pending */
	gssize a_start;   /* where the text of an open <a href> began, or -1 */
	char *a_href;
	int unclosed_soft; /* an unclosed <head> or <title> was seen */
};

static int at_line_start(const struct h2t *h)
{
	return h->out->len == 0 || h->out->str[h->out->len - 1] == '\n';
}

static void h_newline(struct h2t *h, int force)
{
	h->space = 0;
	/* drop spaces before the break */
	while (h->out->len > 0 && h->out->str[h->out->len - 1] == ' ')
		g_string_truncate(h->out, h->out->len - 1);
	if (force || !at_line_start(h))
		g_string_append_c(h->out, '\n');
}

static void h_char(struct h2t *h, gunichar u)
{
	if (h->space && !at_line_start(h))
		g_string_append_c(h->out, ' ');
	h->space = 0;
	g_string_append_unichar(h->out, u);
}

/* Find the value of attribute name in a tag's attribute text; a new string
 * with entities decoded, or NULL. */
static char *tag_attr(const char *a, const char *end, const char *name)
{
	size_t nl = strlen(name);
	while (a < end) {
		while (a < end && (g_ascii_isspace(*a) || *a == '/'))
			a++;
		const char *n0 = a;
		while (a < end && !g_ascii_isspace(*a) && *a != '=' && *a != '>' && *a != '/')
			a++;
		size_t n = (size_t)(a - n0);
		if (n == 0) {
			if (a < end)
				a++;
			continue;
		}
		while (a < end && g_ascii_isspace(*a))
			a++;
		const char *v0 = NULL, *v1 = NULL;
		if (a < end && *a == '=') {
			a++;
			while (a < end && g_ascii_isspace(*a))
				a++;
			if (a < end && (*a == '"' || *a == '\'')) {
				char q = *a++;
				v0 = a;
				while (a < end && *a != q)
					a++;
				v1 = a;
				if (a < end)
					a++;
			} else {
				v0 = a;
				while (a < end && !g_ascii_isspace(*a) && *a != '>')
					a++;
				v1 = a;
			}
		}
		if (n == nl && g_ascii_strncasecmp(n0, name, n) == 0 && v0 != NULL) {
			GString *g = g_string_new(NULL);
			for (const char *p = v0; p < v1;) {
				size_t used = 0;
				gunichar u = *p == '&' ? entity_at(p, v1, &used) : 0;
				if (used > 0 && u != 0) {
					g_string_append_unichar(g, u);
					p += used;
				} else {
					g_string_append_c(g, *p++);
				}
			}
			g_strstrip(g->str);
			return g_string_free(g, FALSE);
		}
	}
	return NULL;
}

static int is_http_link(const char *u)
{
	if (u == NULL)
		return 0;
	if (g_ascii_strncasecmp(u, "https://", 8) != 0 && g_ascii_strncasecmp(u, "http://", 7) != 0)
		return 0;
	for (const char *p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7F)
			return 0;
	return 1;
}

static void h_close_link(struct h2t *h)
{
	if (h->a_start < 0)
		return;
	if (h->a_href != NULL) {
		char *text = g_strndup(h->out->str + h->a_start, h->out->len - (size_t)h->a_start);
		g_strstrip(text);
		g_string_truncate(h->out, (size_t)h->a_start);
		if (text[0] == '\0' || strcmp(text, h->a_href) == 0) {
			g_string_append(h->out, h->a_href);
		} else if (strstr(text, h->a_href) != NULL) {
			g_string_append(h->out, text);
		} else {
			/* the link-text brackets must not end the link early */
			g_string_append_c(h->out, '[');
			for (const char *p = text; *p != '\0'; p++)
				g_string_append_c(h->out, *p == '[' ? '(' : *p == ']' ? ')' : *p == '\n' ? ' ' : *p);
			g_string_append(h->out, "](");
			for (const char *p = h->a_href; *p != '\0'; p++) {
				if (*p == '(' || *p == ')' || *p == '<' || *p == '>')
					g_string_append_printf(h->out, "%%%02X", (unsigned char)*p);
				else
					g_string_append_c(h->out, *p);
			}
			g_string_append_c(h->out, ')');
		}
		g_free(text);
	}
	g_free(h->a_href);
	h->a_href = NULL;
	h->a_start = -1;
}

static int name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* Skip past the end of element name ("</name ... >"); NULL when it is never closed. */
static const char *skip_element(const char *p, const char *end, const char *name)
{
	size_t n = strlen(name);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (lt == NULL)
			return NULL;
		if (lt + 2 + n <= end && lt[1] == '/' && g_ascii_strncasecmp(lt + 2, name, n) == 0 &&
		    (lt + 2 + n == end || !g_ascii_isalnum(lt[2 + n]))) {
			const char *gt = memchr(lt, '>', (size_t)(end - lt));
			return gt ? gt + 1 : end;
		}
		p = lt + 1;
	}
	return NULL;
}

/* Elements that end a line, and elements whose content is never shown. */
static const char *const blocks[] = { "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5",
				      "h6", "ul", "ol", "blockquote", "pre", "hr", "dl", "dt",
				      "dd", "section", "article", "header", "footer", "center",
				      "address", "tbody", "thead", "form", "fieldset", "nav",
				      "main", "aside", "figure", "caption" };
static const char *const skipped[] = { "script", "style", "head", "title", "template",
				       "noscript", "object", "svg", "math", "iframe",
				       "textarea", "select", "xml" };

/* The start of a link: <a href="http(s)://..."> opens one, anything else is text. */
static void h_open_link(struct h2t *h, const char *attrs, const char *tag_end)
{
	char *href;
	if (h->a_start >= 0)
		return;
	href = tag_attr(attrs, tag_end, "href");
	if (!is_http_link(href)) {
		g_free(href);
		return;
	}
	if (h->space && !at_line_start(h))
		g_string_append_c(h->out, ' ');
	h->space = 0;
	h->a_href = href;
	h->a_start = (gssize)h->out->len;
}

/* What a tag that is shown does to the text. */
static void h_element(struct h2t *h, const char *name, int closing, const char *attrs,
		      const char *tag_end)
{
	if (strcmp(name, "br") == 0) {
		h_newline(h, 1);
	} else if (strcmp(name, "li") == 0) {
		h_newline(h, 0);
		if (!closing)
			g_string_append(h->out, "・");
	} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
		if (closing)
			h->space = 1;
	} else if (strcmp(name, "a") == 0) {
		if (closing)
			h_close_link(h);
		else
			h_open_link(h, attrs, tag_end);
	} else if (name_in(name, blocks, ARRAY_SIZE(blocks))) {
		if (strcmp(name, "pre") == 0)
			h->pre = !closing;
		h_newline(h, 0);
	}
}

/* The markup at p ('<'): a comment, a declaration, a tag, or a lone "<"
 * that is text.  Returns where reading goes on. */
static const char *h_markup(struct h2t *h, const char *p, const char *end)
{
	const char *q = p + 1, *attrs, *tag_end;
	char name[16], quote = 0;
	size_t n = 0;
	int closing = 0;

	if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
		const char *c = g_strstr_len(p + 4, end - p - 4, "-->");
		return c ? c + 3 : end;
	}
	if (end - p >= 2 && (p[1] == '!' || p[1] == '?')) {
		const char *gt = memchr(p, '>', (size_t)(end - p));
		return gt ? gt + 1 : end;
	}
	if (q < end && *q == '/') {
		closing = 1;
		q++;
	}
	if (q >= end || !g_ascii_isalpha(*q)) {
		h_char(h, '<'); /* a lone "<" is text */
		return p + 1;
	}
	while (q < end && (g_ascii_isalnum(*q) || *q == ':' || *q == '-')) {
		if (n + 1 < sizeof(name))
			name[n++] = g_ascii_tolower(*q);
		q++;
	}
	name[n] = '\0';
	/* the end of the tag, quotes respected */
	attrs = q;
	while (q < end && (quote || *q != '>')) {
		if (quote && *q == quote)
			quote = 0;
		else if (!quote && (*q == '"' || *q == '\''))
			quote = *q;
		q++;
	}
	tag_end = q;
	p = q < end ? q + 1 : end;
	if (!closing && name_in(name, skipped, ARRAY_SIZE(skipped))) {
		int soft;
		const char *after;
		if (tag_end > attrs && tag_end[-1] == '/')
			return p; /* <xml/> */
		soft = strcmp(name, "head") == 0 || strcmp(name, "title") == 0;
		after = soft && h->unclosed_soft ? NULL : skip_element(p, end, name);
		/* an unclosed <head> or <title> hides nothing (and is not
		 * searched for again: n^2); an unclosed <script> or <style>
		 * hides the rest */
		if (after != NULL)
			return after;
		if (soft) {
			h->unclosed_soft = 1;
			return p;
		}
		return end;
	}
	h_element(h, name, closing, attrs, tag_end);
	return p;
}

/* Text at p (not markup): an entity, white space or one UTF-8 character.
 * Returns where reading goes on. */
static const char *h_text(struct h2t *h, const char *p, const char *end)
{
	const char *nx;
	if (*p == '&') {
		size_t used;
		gunichar u = entity_at(p, end, &used);
		if (used > 0) {
			if (u == ' ' && !h->pre)
				h->space = 1;
			else if (u != 0)
				h_char(h, u);
			return p + used;
		}
	}
	if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
		if (h->pre) {
			if (*p != '\r')
				g_string_append_c(h->out, *p == '\f' ? '\n' : *p);
		} else {
			h->space = 1;
		}
		return p + 1;
	}
	/* one UTF-8 character (the input is valid UTF-8) */
	nx = g_utf8_find_next_char(p, end);
	if (nx == NULL)
		nx = end;
	if (h->space && !at_line_start(h))
		g_string_append_c(h->out, ' ');
	h->space = 0;
	g_string_append_len(h->out, p, nx - p);
	return nx;
}

/* The text made tidy: no-break spaces (Outlook's empty paragraphs hold
 * one) become spaces; lines of spaces are blank; at most one blank line
 * in a row; no spaces at line ends.  A new string. */
static char *h_finish(const GString *out)
{
	GString *t = g_string_sized_new(out->len + 1), *g = g_string_sized_new(out->len + 1);
	int blank = 0;
	char *r;

	for (const char *s = out->str; *s != '\0'; s++) {
		if ((unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0) {
			g_string_append_c(t, ' ');
			s++;
		} else {
			g_string_append_c(t, *s);
		}
	}
	for (const char *s = t->str; *s != '\0';) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		const char *a = s, *b = s + n;
		while (b > a && b[-1] == ' ')
			b--;
		if (a == b) {
			if (!blank && g->len > 0)
				g_string_append_c(g, '\n');
			blank = 1;
		} else {
			g_string_append_len(g, a, b - a);
			g_string_append_c(g, '\n');
			blank = 0;
		}
		s = nl ? nl + 1 : s + n;
	}
	g_string_free(t, TRUE);
	r = mime_clean_text(xstrdup(g->str), MIME_CLEAN_LINES);
	g_string_free(g, TRUE);
	mime_clean_body(r);
	return r;
}

char *mime_html_to_text(const char *html, size_t len)
{
	struct h2t h = { g_string_sized_new(len / 2 + 16), 0, 0, -1, NULL, 0 };
	gchar *valid = NULL;
	const char *p = html, *end = html + len;
	char *r;

	if (!g_utf8_validate(html, (gssize)len, NULL)) {
		valid = g_utf8_make_valid(html, (gssize)len);
		p = valid;
		end = valid + strlen(valid);
	}
	while (p < end)
		p = *p == '<' ? h_markup(&h, p, end) : h_text(&h, p, end);
	h_close_link(&h);
	g_free(h.a_href);
	g_free(valid);
	r = h_finish(h.out);
	g_string_free(h.out, TRUE);
	return r;
}
