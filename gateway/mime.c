/*
 * mime.c — one intake e-mail into sender, subject, body text and
 * attachments (see mime.h for what is kept and why).  Runs in the gateway
 * (intake) and in `tayori submit`.
 *
 * GMime 3 parses the structure, the parameters (RFC 2231, and RFC 2047
 * inside quotes in its loose mode) and the transfer encodings (RFC 2045).
 * Charsets of text are converted here, not by GMime, so that Outlook's
 * ISO-2022-JP with the NEC and IBM extensions (①, ㈱, 髙: CP50220/50221)
 * decodes: ISO-2022-JP is turned into Shift_JIS arithmetically (JIS X 0208
 * rows map one to one) and read as CP932, Microsoft's Shift_JIS.  Subjects
 * are decoded here too (RFC 2047, adjacent words of one charset joined
 * before conversion so a character split between words survives).
 *
 * Nothing here trusts the sender: every buffer is capped by the message
 * size, recursion by GMime's own nesting caps and WALK_MAX, and file names
 * only ever become display strings.
 */
#include <errno.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "gateway/mime.h"
#include "lib/text.h"

#define DEFAULT_MAX_MESSAGE ((size_t)50 << 20)
#define WALK_MAX 256             /* deeper than any limit mime_depth allows (64) */
#define AUTH_RESULTS_MAX 65536   /* bytes of Authentication-Results kept */
#define AUTH_RESULTS_COUNT 64    /* headers of it kept */
#define SUBJECT_MAX 2000         /* bytes of decoded subject kept */
#define SUBJECT_RAW_MAX 16384    /* bytes of raw Subject header decoded */
#define WORD_MAX 4096            /* longest encoded word read (RFC 2047 says 75) */
#define ID_MAX 995               /* RFC 5322 line length minus "Message-ID: <>" */

/* ---------------------------------------------------------------- charsets */

static int ascii_ieq(const char *a, const char *b)
{
	return a != NULL && g_ascii_strcasecmp(a, b) == 0;
}

/* The converter to use for a declared charset.  Windows writes CP932 and
 * labels it Shift_JIS; EUC-JP-MS is the superset with the NEC/IBM rows.
 * "us-ascii" parts with 8-bit bytes are nearly always UTF-8 in practice. */
static const char *charset_alias(const char *cs)
{
	static const char *const sjis[] = { "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji",
					    "windows-31j", "cp932", "ms932", "csshiftjis",
					    "x-ms-cp932", "csWindows31J" };
	static const char *const eucjp[] = { "euc-jp", "x-euc-jp", "eucjp", "cseucpkdfmtjapanese" };
	static const char *const jis[] = { "iso-2022-jp", "csiso2022jp", "iso-2022-jp-ms",
					   "cp50220", "cp50221", "cp50222", "iso-2022-jp-1",
					   "iso-2022-jp-2", "iso-2022-jp-3" };
	static const char *const utf8[] = { "utf-8", "utf8", "us-ascii", "ascii", "unicode-1-1-utf-8" };
	if (cs == NULL || cs[0] == '\0')
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(sjis); i++)
		if (ascii_ieq(cs, sjis[i]))
			return "CP932";
	for (size_t i = 0; i < ARRAY_SIZE(eucjp); i++)
		if (ascii_ieq(cs, eucjp[i]))
			return "EUC-JP-MS";
	for (size_t i = 0; i < ARRAY_SIZE(jis); i++)
		if (ascii_ieq(cs, jis[i]))
			return "ISO-2022-JP";
	for (size_t i = 0; i < ARRAY_SIZE(utf8); i++)
		if (ascii_ieq(cs, utf8[i]))
			return "UTF-8";
	return cs;
}

/* Convert with iconv; an undecodable byte becomes U+FFFD and is skipped.
 * Returns the number of replacements, or -1 when iconv does not know the
 * charset.  out is the caller's. */
static long iconv_lossy(const char *from, const uint8_t *in, size_t len, struct buf *out)
{
	GIConv cd = g_iconv_open("UTF-8", from);
	long bad = 0;
	char chunk[4096];

	if (cd == (GIConv)-1)
		return -1;
	char *ip = (char *)in;
	gsize il = len;
	while (il > 0) {
		char *op = chunk;
		gsize ol = sizeof(chunk);
		gsize r = g_iconv(cd, &ip, &il, &op, &ol);
		int err = errno;
		if (buf_append(out, chunk, (size_t)(op - chunk)) < 0)
			break;
		if (r != (gsize)-1)
			continue;
		if (err == E2BIG)
			continue;
		/* EILSEQ, or EINVAL (a sequence cut at the end): replace a byte */
		bad++;
		ip++;
		il--;
		if (buf_append_str(out, "\xEF\xBF\xBD") < 0)
			break;
	}
	/* flush the shift state of stateful encodings */
	{
		char *op = chunk;
		gsize ol = sizeof(chunk);
		g_iconv(cd, NULL, NULL, &op, &ol);
		(void)buf_append(out, chunk, (size_t)(op - chunk));
	}
	g_iconv_close(cd);
	return bad;
}

/*
 * ISO-2022-JP (RFC 1468, plus the CP5022x habits: JIS X 0201 kana by
 * ESC ( I or SO/SI, and the NEC/IBM rows) into Shift_JIS bytes, to be read
 * as CP932.  A byte outside the escapes' repertoire passes through.
 */
static void jis_to_sjis(const uint8_t *in, size_t len, struct buf *out)
{
	enum { ASCII, KANJI, KANA } mode = ASCII, saved = ASCII;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (c == 0x1B && i + 2 < len) {
			uint8_t a = in[i + 1], b = in[i + 2];
			if (a == '$' && (b == 'B' || b == '@')) {
				mode = KANJI;
				i += 2;
				continue;
			}
			if (a == '(' && (b == 'B' || b == 'J' || b == 'H')) {
				mode = ASCII;
				i += 2;
				continue;
			}
			if (a == '(' && b == 'I') {
				mode = KANA;
				i += 2;
				continue;
			}
			if (a == '$' && b == '(' && i + 3 < len) { /* ESC $ ( D/Q: JIS X 0212/0213 */
				mode = KANJI;
				i += 3;
				continue;
			}
		}
		if (c == 0x0E) { /* SO: kana until SI */
			saved = mode;
			mode = KANA;
			continue;
		}
		if (c == 0x0F) {
			mode = saved == KANA ? ASCII : saved;
			continue;
		}
		if (c == '\n' || c == '\r') { /* RFC 1468: each line ends in ASCII */
			mode = ASCII;
			(void)buf_append_u8(out, c);
			continue;
		}
		if (mode == KANJI && c >= 0x21 && c <= 0x7E && i + 1 < len && in[i + 1] >= 0x21 &&
		    in[i + 1] <= 0x7E) {
			unsigned j1 = c, j2 = in[i + 1];
			uint8_t s1 = (uint8_t)(((j1 + 1) >> 1) + (j1 <= 0x5E ? 0x70 : 0xB0));
			uint8_t s2 = (uint8_t)((j1 & 1) ? j2 + (j2 >= 0x60 ? 0x20 : 0x1F) : j2 + 0x7E);
			uint8_t pair[2] = { s1, s2 };
			(void)buf_append(out, pair, 2);
			i++;
			continue;
		}
		if (mode == KANA && c >= 0x21 && c <= 0x5F) {
			(void)buf_append_u8(out, (uint8_t)(c + 0x80));
			continue;
		}
		(void)buf_append_u8(out, c);
	}
}

static int has_jis_escape(const uint8_t *d, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		if (d[i] == 0x1B && (d[i + 1] == '$' || (d[i + 1] == '(' && d[i + 2] == 'I')))
			return 1;
	return 0;
}

/* EUC-JP never uses 0x80-0x8D or 0x90-0xA0 (iconv would read them as C1
 * controls), while Shift_JIS lead bytes live there: tells the two apart. */
static int could_be_eucjp(const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((d[i] >= 0x80 && d[i] <= 0x8D) || (d[i] >= 0x90 && d[i] <= 0xA0))
			return 0;
	return 1;
}

static void convert_into(const char *charset, const uint8_t *d, size_t len, struct buf *out)
{
	const char *cs = charset_alias(charset);

	if (cs != NULL && strcmp(cs, "UTF-8") == 0 && g_utf8_validate((const char *)d, (gssize)len, NULL)) {
		(void)buf_append(out, d, len);
		return;
	}
	if ((cs != NULL && strcmp(cs, "ISO-2022-JP") == 0) || has_jis_escape(d, len)) {
		struct buf sj;
		buf_init(&sj, len + 16);
		jis_to_sjis(d, len, &sj);
		(void)iconv_lossy("CP932", sj.data ? sj.data : (const uint8_t *)"", sj.len, out);
		buf_free(&sj);
		return;
	}
	if (cs != NULL && strcmp(cs, "UTF-8") != 0) {
		size_t mark = out->len;
		if (iconv_lossy(cs, d, len, out) >= 0)
			return;
		out->len = mark;
	}
	/* no usable label (or "UTF-8" that is not): guess */
	if (g_utf8_validate((const char *)d, (gssize)len, NULL)) {
		(void)buf_append(out, d, len);
		return;
	}
	if (could_be_eucjp(d, len)) {
		size_t mark = out->len;
		if (iconv_lossy("EUC-JP-MS", d, len, out) == 0)
			return;
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	(void)iconv_lossy("CP932", d, len, out);
}

char *mime_to_utf8(const char *charset, const uint8_t *data, size_t len)
{
	struct buf b;
	char *s;
	size_t n;

	buf_init(&b, 4 * len + 64);
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 BOM */
		data += 3;
		len -= 3;
	}
	convert_into(charset, data, len, &b);
	if (b.data == NULL)
		return xstrdup("");
	s = (char *)buf_steal(&b, &n);
	if (!g_utf8_validate(s, (gssize)n, NULL) || strlen(s) != n) {
		/* a NUL inside, or a converter that misbehaved: keep what is valid */
		gchar *v = g_utf8_make_valid(s, (gssize)strlen(s));
		free(s);
		s = xstrdup(v);
		g_free(v);
	}
	return s;
}

/* ------------------------------------------------------------------ text */

/* Is u a character to drop from text we show: controls (but tab and line
 * feed), C1, BOM, and the bidi controls that can disguise a name. */
static int drop_char(gunichar u, int keep_lines)
{
	if (keep_lines && (u == '\n' || u == '\t'))
		return 0;
	if (u < 0x20 || u == 0x7F || (u >= 0x80 && u <= 0x9F) || u == 0xFEFF)
		return 1;
	if (u == 0x200E || u == 0x200F || (u >= 0x202A && u <= 0x202E) || (u >= 0x2066 && u <= 0x2069))
		return 1;
	return 0;
}

enum clean_mode {
	CLEAN_LINES, /* text: line breaks kept (CRLF and CR become LF), tabs kept */
	CLEAN_LINE,  /* one line: line breaks and tabs become spaces */
	CLEAN_NAME,  /* a file name: line breaks and tabs dropped with the other controls */
};

/* s (valid UTF-8) with dropped characters removed and NFC applied, as
 * mode says.  Frees s. */
static char *clean_text(char *s, enum clean_mode mode)
{
	GString *g = g_string_sized_new(strlen(s) + 1);
	char *r;
	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);
		if (u == '\r' && mode != CLEAN_NAME) {
			if (p[1] != '\n')
				g_string_append_c(g, mode == CLEAN_LINES ? '\n' : ' ');
			continue;
		}
		if (mode == CLEAN_LINE && (u == '\n' || u == '\t')) {
			g_string_append_c(g, ' ');
			continue;
		}
		if (drop_char(u, mode == CLEAN_LINES))
			continue;
		g_string_append_unichar(g, u);
	}
	free(s);
	{
		gchar *n = g_utf8_normalize(g->str, (gssize)g->len, G_NORMALIZE_NFC);
		r = xstrdup(n != NULL ? n : g->str);
		g_free(n);
	}
	g_string_free(g, TRUE);
	return r;
}

/* RFC 3676: join soft-broken lines (ending in a space), undo space-stuffing.
 * The signature separator "-- " is never a soft break. */
static char *unflow(char *s, int delsp)
{
	GString *g = g_string_sized_new(strlen(s) + 1);
	const char *p = s;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		const char *line = p, *next = nl ? nl + 1 : p + n;
		if (n == 3 && memcmp(line, "-- ", 3) == 0) {
			g_string_append_len(g, line, 3);
			g_string_append_c(g, '\n');
		} else {
			if (n > 0 && line[0] == ' ') {
				line++;
				n--;
			}
			if (n > 0 && line[n - 1] == ' ' && nl != NULL) {
				g_string_append_len(g, line, (gssize)(delsp ? n - 1 : n));
			} else {
				g_string_append_len(g, line, (gssize)n);
				if (nl != NULL)
					g_string_append_c(g, '\n');
			}
		}
		p = next;
	}
	free(s);
	{
		char *r = xstrdup(g->str);
		g_string_free(g, TRUE);
		return r;
	}
}

/* Cut at the signature separator, drop trailing spaces on each line and
 * blank lines at both ends.  In place. */
static void tidy_body(char *s)
{
	char *cut = NULL;
	if (strncmp(s, "-- \n", 4) == 0 || strcmp(s, "-- ") == 0)
		cut = s;
	else if ((cut = strstr(s, "\n-- \n")) != NULL)
		cut++;
	else {
		size_t n = strlen(s);
		if (n >= 4 && strcmp(s + n - 4, "\n-- ") == 0)
			cut = s + n - 3;
	}
	if (cut != NULL)
		*cut = '\0';

	/* trailing blanks of each line; U+3000 counts (Japanese indentation is
	 * kept at the start, only the end is tidied) */
	char *w = s;
	const char *r = s;
	while (*r != '\0') {
		const char *nl = strchr(r, '\n');
		size_t n = nl ? (size_t)(nl - r) : strlen(r);
		while (n > 0 && (r[n - 1] == ' ' || r[n - 1] == '\t'))
			n--;
		memmove(w, r, n);
		w += n;
		if (nl != NULL)
			*w++ = '\n';
		r = nl ? nl + 1 : r + strlen(r);
	}
	*w = '\0';
	/* blank lines at the end and at the start */
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
	size_t lead = 0;
	while (s[lead] == '\n')
		lead++;
	if (lead > 0)
		memmove(s, s + lead, n - lead + 1);
}

/* ------------------------------------------------------------------ HTML */

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

char *mime_html_to_text(const char *html, size_t len)
{
	static const char *const blocks[] = { "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5",
					      "h6", "ul", "ol", "blockquote", "pre", "hr", "dl", "dt",
					      "dd", "section", "article", "header", "footer", "center",
					      "address", "tbody", "thead", "form", "fieldset", "nav",
					      "main", "aside", "figure", "caption" };
	static const char *const skipped[] = { "script", "style", "head", "title", "template",
					       "noscript", "object", "svg", "math", "iframe",
					       "textarea", "select", "xml" };
	struct h2t h = { g_string_sized_new(len / 2 + 16), 0, 0, -1, NULL };
	gchar *valid = NULL;
	int unclosed_soft = 0;
	const char *p = html, *end = html + len;
	char *r;

	if (!g_utf8_validate(html, (gssize)len, NULL)) {
		valid = g_utf8_make_valid(html, (gssize)len);
		p = valid;
		end = valid + strlen(valid);
	}

	while (p < end) {
		if (*p == '<') {
			if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
				const char *c = g_strstr_len(p + 4, end - p - 4, "-->");
				p = c ? c + 3 : end;
				continue;
			}
			if (end - p >= 2 && (p[1] == '!' || p[1] == '?')) {
				const char *gt = memchr(p, '>', (size_t)(end - p));
				p = gt ? gt + 1 : end;
				continue;
			}
			const char *q = p + 1;
			int closing = 0;
			if (q < end && *q == '/') {
				closing = 1;
				q++;
			}
			if (q >= end || !g_ascii_isalpha(*q)) {
				h_char(&h, '<'); /* a lone "<" is text */
				p++;
				continue;
			}
			char name[16];
			size_t n = 0;
			while (q < end && (g_ascii_isalnum(*q) || *q == ':' || *q == '-')) {
				if (n + 1 < sizeof(name))
					name[n++] = g_ascii_tolower(*q);
				q++;
			}
			name[n] = '\0';
			/* the end of the tag, quotes respected */
			const char *attrs = q;
			char quote = 0;
			while (q < end && (quote || *q != '>')) {
				if (quote && *q == quote)
					quote = 0;
				else if (!quote && (*q == '"' || *q == '\''))
					quote = *q;
				q++;
			}
			const char *tag_end = q;
			p = q < end ? q + 1 : end;
			if (!closing && name_in(name, skipped, ARRAY_SIZE(skipped))) {
				if (tag_end > attrs && tag_end[-1] == '/')
					continue; /* <xml/> */
				int soft = strcmp(name, "head") == 0 || strcmp(name, "title") == 0;
				const char *after = soft && unclosed_soft ? NULL : skip_element(p, end, name);
				/* an unclosed <head> or <title> hides nothing (and
				 * is not searched for again: n^2); an unclosed
				 * <script> or <style> hides the rest */
				if (after != NULL)
					p = after;
				else if (soft)
					unclosed_soft = 1;
				else
					p = end;
				continue;
			}
			if (strcmp(name, "br") == 0) {
				h_newline(&h, 1);
			} else if (strcmp(name, "li") == 0) {
				if (!closing) {
					h_newline(&h, 0);
					g_string_append(h.out, "・");
				} else {
					h_newline(&h, 0);
				}
			} else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
				if (closing)
					h.space = 1;
			} else if (strcmp(name, "a") == 0) {
				if (closing) {
					h_close_link(&h);
				} else if (h.a_start < 0) {
					char *href = tag_attr(attrs, tag_end, "href");
					if (is_http_link(href)) {
						if (h.space && !at_line_start(&h))
							g_string_append_c(h.out, ' ');
						h.space = 0;
						h.a_href = href;
						h.a_start = (gssize)h.out->len;
					} else {
						g_free(href);
					}
				}
			} else if (name_in(name, blocks, ARRAY_SIZE(blocks))) {
				if (strcmp(name, "pre") == 0)
					h.pre = !closing;
				h_newline(&h, 0);
			}
			continue;
		}
		if (*p == '&') {
			size_t used;
			gunichar u = entity_at(p, end, &used);
			if (used > 0) {
				if (u == ' ' && !h.pre)
					h.space = 1;
				else if (u != 0)
					h_char(&h, u);
				p += used;
				continue;
			}
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
			if (h.pre) {
				if (*p != '\r')
					g_string_append_c(h.out, *p == '\f' ? '\n' : *p);
			} else {
				h.space = 1;
			}
			p++;
			continue;
		}
		/* one UTF-8 character (the input is valid UTF-8) */
		{
			const char *nx = g_utf8_find_next_char(p, end);
			if (nx == NULL)
				nx = end;
			if (h.space && !at_line_start(&h))
				g_string_append_c(h.out, ' ');
			h.space = 0;
			g_string_append_len(h.out, p, nx - p);
			p = nx;
		}
	}
	h_close_link(&h);
	g_free(h.a_href);
	g_free(valid);

	/* no-break spaces (Outlook's empty paragraphs hold one) become
	 * spaces; lines of spaces are blank; at most one blank line in a row;
	 * no spaces at line ends */
	GString *g = g_string_sized_new(h.out->len + 1);
	int blank = 0;
	{
		GString *t = g_string_sized_new(h.out->len + 1);
		for (const char *s = h.out->str; *s != '\0'; s++) {
			if ((unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0) {
				g_string_append_c(t, ' ');
				s++;
			} else {
				g_string_append_c(t, *s);
			}
		}
		g_string_free(h.out, TRUE);
		h.out = t;
	}
	for (const char *s = h.out->str; *s != '\0';) {
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
	g_string_free(h.out, TRUE);
	r = clean_text(xstrdup(g->str), CLEAN_LINES);
	g_string_free(g, TRUE);
	tidy_body(r);
	return r;
}

/* ------------------------------------------------------------- file names */

/* Cut s to at most max bytes on a character boundary. */
static void utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
}

char *mime_clean_filename(const char *name)
{
	char *u, *base, *r = NULL;
	const char *slash;

	if (name == NULL)
		return NULL;
	u = mime_to_utf8(NULL, (const uint8_t *)name, strlen(name));
	slash = u;
	for (const char *p = u; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			slash = p + 1;
	base = clean_text(xstrdup(slash), CLEAN_NAME);
	free(u);
	g_strstrip(base);
	/* names that mean a folder, or nothing */
	if (base[strspn(base, ".")] == '\0')
		goto out;
	if (strlen(base) > MIME_FILENAME_MAX) {
		const char *dot = strrchr(base, '.');
		size_t ext = dot ? strlen(dot) : 0;
		if (dot != NULL && dot != base && ext <= 16 && strchr(dot, ' ') == NULL) {
			char *head = xstrndup(base, (size_t)(dot - base));
			utf8_cut(head, MIME_FILENAME_MAX - ext);
			r = xmalloc(strlen(head) + ext + 1);
			memcpy(r, head, strlen(head));
			memcpy(r + strlen(head), dot, ext + 1);
			free(head);
			goto out;
		}
		utf8_cut(base, MIME_FILENAME_MAX);
	}
	r = base;
	base = NULL;
out:
	free(base);
	return r;
}

/* ------------------------------------------------------------ the tree */

struct part_ref {
	GMimePart *part;
	size_t level; /* index into walk.levels: the message it belongs to */
};

struct walk {
	GArray *parts;    /* struct part_ref, document order */
	GPtrArray *levels; /* GMimeMessage *, the top one first, then forwarded ones */
	size_t depth;     /* deepest nesting seen */
	size_t nparts;    /* MIME entities of every kind seen */
	int has_tnef;
};

static int is_type(GMimeObject *o, const char *type, const char *sub)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	return ct != NULL && g_mime_content_type_is_type(ct, type, sub);
}

static const char *part_filename(GMimeObject *o)
{
	return GMIME_IS_PART(o) ? g_mime_part_get_filename(GMIME_PART(o)) : NULL;
}

/* A text part written as the message (not attached): no name, not marked
 * as an attachment. */
static int is_body_text(GMimeObject *o)
{
	const char *fn;
	GMimeContentDisposition *d;
	if (!GMIME_IS_PART(o) || !(is_type(o, "text", "plain") || is_type(o, "text", "html")))
		return 0;
	fn = part_filename(o);
	if (fn != NULL && fn[0] != '\0')
		return 0;
	d = g_mime_object_get_content_disposition(o);
	return d == NULL || !g_mime_content_disposition_is_attachment(d);
}

static int is_tnef(GMimeObject *o)
{
	const char *fn = part_filename(o);
	return is_type(o, "application", "ms-tnef") || is_type(o, "application", "vnd.ms-tnef") ||
	       (fn != NULL && g_ascii_strcasecmp(fn, "winmail.dat") == 0);
}

static void walk_tree(struct walk *w, GMimeObject *o, size_t level, size_t depth)
{
	if (o == NULL)
		return;
	w->nparts++;
	if (depth > w->depth)
		w->depth = depth;
	if (depth > WALK_MAX)
		return; /* refused by the depth limit anyway */
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (m != NULL) {
			g_ptr_array_add(w->levels, m);
			walk_tree(w, g_mime_message_get_mime_part(m), w->levels->len - 1, depth + 1);
		}
		return;
	}
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		int related = is_type(o, "multipart", "related");
		for (int i = 0; i < n; i++) {
			GMimeObject *c = g_mime_multipart_get_part(mp, i);
			if (GMIME_IS_MULTIPART_SIGNED(o) && i == GMIME_MULTIPART_SIGNED_SIGNATURE) {
				w->nparts++;
				continue;
			}
			if (related && i > 0 && is_type(c, "image", "*") &&
			    g_mime_object_get_content_id(c) != NULL) {
				w->nparts++;
				continue; /* a picture the HTML shows */
			}
			walk_tree(w, c, level, depth + 1);
		}
		return;
	}
	if (!GMIME_IS_PART(o))
		return;
	if (is_tnef(o)) {
		w->has_tnef = 1;
		return;
	}
	if (is_body_text(o))
		return;
	{
		struct part_ref r = { GMIME_PART(o), level };
		g_array_append_val(w->parts, r);
	}
}

/* The decoded content of a leaf part, NUL-terminated. */
static uint8_t *part_bytes(GMimePart *p, size_t *len)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(p);
	GMimeStream *s;
	GByteArray *ba;
	uint8_t *d;

	*len = 0;
	if (dw == NULL)
		return xcalloc(1, 1);
	s = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(dw, s); /* a broken encoding: what decoded */
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	d = xmalloc(ba->len + 1);
	if (ba->len > 0)
		memcpy(d, ba->data, ba->len);
	d[ba->len] = '\0';
	*len = ba->len;
	g_object_unref(s);
	return d;
}

/* The text of a body part as UTF-8, cleaned. */
static char *part_text(GMimeObject *o)
{
	size_t len;
	uint8_t *d = part_bytes(GMIME_PART(o), &len);
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	char *t = mime_to_utf8(cs, d, len);
	free(d);
	if (is_type(o, "text", "html")) {
		char *x = mime_html_to_text(t, strlen(t));
		free(t);
		return clean_text(x, CLEAN_LINES);
	}
	t = clean_text(t, CLEAN_LINES);
	{
		const char *fmt = ct ? g_mime_content_type_get_parameter(ct, "format") : NULL;
		const char *delsp = ct ? g_mime_content_type_get_parameter(ct, "delsp") : NULL;
		if (ascii_ieq(fmt, "flowed"))
			t = unflow(t, ascii_ieq(delsp, "yes"));
	}
	return t;
}

static int is_blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t')
			return 0;
	return 1;
}

static int contains_type(GMimeObject *o, const char *sub, size_t depth)
{
	if (depth > WALK_MAX || o == NULL)
		return 0;
	if (GMIME_IS_MULTIPART(o)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		for (int i = 0; i < n; i++)
			if (contains_type(g_mime_multipart_get_part(GMIME_MULTIPART(o), i), sub,
					  depth + 1))
				return 1;
		return 0;
	}
	return is_body_text(o) && is_type(o, "text", sub);
}

static void body_of(GMimeObject *o, GString *out, size_t depth);

static int try_body(GMimeObject *o, GString *out, size_t depth)
{
	GString *g = g_string_new(NULL);
	int ok;
	body_of(o, g, depth);
	ok = !is_blank(g->str);
	if (ok)
		g_string_append_len(out, g->str, (gssize)g->len);
	g_string_free(g, TRUE);
	return ok;
}

/* Append the body text held by o (forwarded messages excluded). */
static void body_of(GMimeObject *o, GString *out, size_t depth)
{
	if (o == NULL || depth > WALK_MAX || GMIME_IS_MESSAGE_PART(o))
		return;
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);
		if (is_type(o, "multipart", "alternative")) {
			/* plain text wins when it says something; else the
			 * richest (last) branch that does */
			for (int i = 0; i < n; i++)
				if (contains_type(g_mime_multipart_get_part(mp, i), "plain", depth + 1) &&
				    try_body(g_mime_multipart_get_part(mp, i), out, depth + 1))
					return;
			for (int i = n - 1; i >= 0; i--)
				if (try_body(g_mime_multipart_get_part(mp, i), out, depth + 1))
					return;
			return;
		}
		if (is_type(o, "multipart", "related") || GMIME_IS_MULTIPART_SIGNED(o)) {
			if (n > 0)
				body_of(g_mime_multipart_get_part(mp, 0), out, depth + 1);
			return;
		}
		if (GMIME_IS_MULTIPART_ENCRYPTED(o))
			return;
		for (int i = 0; i < n; i++) {
			GString *g = g_string_new(NULL);
			body_of(g_mime_multipart_get_part(mp, i), g, depth + 1);
			if (!is_blank(g->str)) {
				if (out->len > 0 && out->str[out->len - 1] != '\n')
					g_string_append_c(out, '\n');
				g_string_append_len(out, g->str, (gssize)g->len);
			}
			g_string_free(g, TRUE);
		}
		return;
	}
	if (is_body_text(o)) {
		char *t = part_text(o);
		g_string_append(out, t);
		free(t);
	}
}

/* ------------------------------------------------------------- headers */

/* A header's raw value unfolded (RFC 5322 2.2.3), or NULL. */
static char *raw_header(GMimeMessage *m, const char *name)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GMimeHeader *h = hl ? g_mime_header_list_get_header(hl, name) : NULL;
	const char *v = h ? g_mime_header_get_raw_value(h) : NULL;
	char *r, *w;
	if (v == NULL)
		return NULL;
	r = w = xstrdup(v);
	for (const char *p = v; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			*w++ = *p == '\t' ? ' ' : *p;
	*w = '\0';
	g_strstrip(r);
	return r;
}

/* One RFC 2047 encoded word at p; fills charset, the decoded bytes and
 * the end.  0 when p does not start a well-formed one. */
static int encoded_word(const char *p, char *charset, size_t cssize, struct buf *bytes,
			const char **end)
{
	const char *q, *t, *e;
	char enc;
	if (p[0] != '=' || p[1] != '?')
		return 0;
	/* bounded searches: a header full of "=?" must not cost n^2 */
	q = memchr(p + 2, '?', strnlen(p + 2, cssize));
	if (q == NULL || q == p + 2)
		return 0;
	enc = q[1];
	if ((enc != 'B' && enc != 'b' && enc != 'Q' && enc != 'q') || q[2] != '?')
		return 0;
	t = q + 3;
	e = g_strstr_len(t, (gssize)strnlen(t, WORD_MAX), "?=");
	if (e == NULL)
		return 0;
	for (const char *s = t; s < e; s++)
		if (*s == ' ')
			return 0;
	memcpy(charset, p + 2, (size_t)(q - (p + 2)));
	charset[q - (p + 2)] = '\0';
	charset[strcspn(charset, "*")] = '\0'; /* RFC 2231 language suffix */
	if (enc == 'B' || enc == 'b') {
		gint state = 0;
		guint save = 0;
		size_t n = (size_t)(e - t);
		guchar *o = g_malloc(n / 4 * 3 + 4);
		gsize got = g_base64_decode_step(t, n, o, &state, &save);
		(void)buf_append(bytes, o, got);
		g_free(o);
	} else {
		for (const char *s = t; s < e; s++) {
			if (*s == '_') {
				(void)buf_append_u8(bytes, ' ');
			} else if (*s == '=' && s + 2 < e && g_ascii_isxdigit(s[1]) &&
				   g_ascii_isxdigit(s[2])) {
				(void)buf_append_u8(bytes, (uint8_t)(g_ascii_xdigit_value(s[1]) * 16 +
								     g_ascii_xdigit_value(s[2])));
				s += 2;
			} else {
				(void)buf_append_u8(bytes, (uint8_t)*s);
			}
		}
	}
	*end = e + 2;
	return 1;
}

static void flush_bytes(const char *charset, struct buf *b, GString *out)
{
	if (b->len > 0) {
		char *t = mime_to_utf8(charset, b->data, b->len);
		g_string_append(out, t);
		free(t);
	}
	buf_reset(b);
}

/* An unstructured header value (Subject) decoded: encoded words (adjacent
 * ones of one charset joined first), raw 8-bit or ISO-2022-JP text guessed. */
static char *decode_unstructured(const char *v, char *problem, size_t psize)
{
	GString *out = g_string_new(NULL);
	struct buf word, raw;
	char cs[64] = "", wcs[64];
	const char *p = v, *ws = NULL;
	int prev_word = 0;
	char *r;

	buf_init(&word, strlen(v) + 16);
	buf_init(&raw, strlen(v) + 16);
	while (*p != '\0') {
		const char *e;
		struct buf tmp;
		buf_init(&tmp, strlen(p) + 16);
		if (p[0] == '=' && p[1] == '?' && encoded_word(p, wcs, sizeof(wcs), &tmp, &e)) {
			flush_bytes(NULL, &raw, out);
			if (!prev_word && ws != NULL)
				g_string_append_len(out, ws, p - ws);
			if (g_ascii_strcasecmp(wcs, cs) != 0)
				flush_bytes(cs, &word, out);
			str_copy(cs, wcs, sizeof(cs));
			(void)buf_append(&word, tmp.data ? tmp.data : (const uint8_t *)"", tmp.len);
			buf_free(&tmp);
			prev_word = 1;
			ws = NULL;
			p = e;
			continue;
		}
		buf_free(&tmp);
		if (*p == ' ') {
			if (ws == NULL)
				ws = p;
			p++;
			continue;
		}
		flush_bytes(cs, &word, out);
		if (ws != NULL)
			(void)buf_append(&raw, ws, (size_t)(p - ws));
		ws = NULL;
		prev_word = 0;
		(void)buf_append_u8(&raw, (uint8_t)*p++);
	}
	flush_bytes(cs, &word, out);
	flush_bytes(NULL, &raw, out);
	buf_free(&word);
	buf_free(&raw);
	{
		/* Said before cleaning: a title is refused, never cleaned quietly. */
		struct text_problem tp;
		if (problem != NULL && text_check(out->str, TEXT_LINE, TEXT_TITLE_MAX, &tp) < 0)
			str_copy(problem, tp.what, psize);
	}
	r = clean_text(xstrdup(out->str), CLEAN_LINE);
	g_string_free(out, TRUE);
	g_strstrip(r);
	utf8_cut(r, SUBJECT_MAX);
	return r;
}

static int printable_ascii_or_utf8(const char *s)
{
	if (!g_utf8_validate(s, -1, NULL))
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7F)
			return 0;
	return 1;
}

static char *from_address(GMimeMessage *m)
{
	InternetAddressList *l = g_mime_message_get_from(m);
	InternetAddress *only = NULL;
	int count = 0;
	const char *addr;

	if (l == NULL)
		return NULL;
	for (int i = 0; i < internet_address_list_length(l); i++) {
		InternetAddress *a = internet_address_list_get_address(l, i);
		if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
			only = a;
			count++;
		} else if (INTERNET_ADDRESS_IS_GROUP(a)) {
			InternetAddressList *g = internet_address_group_get_members(
				INTERNET_ADDRESS_GROUP(a));
			for (int j = 0; g != NULL && j < internet_address_list_length(g); j++) {
				InternetAddress *b = internet_address_list_get_address(g, j);
				if (INTERNET_ADDRESS_IS_MAILBOX(b)) {
					only = b;
					count++;
				}
			}
		}
	}
	if (count != 1)
		return NULL; /* who sent it is ambiguous: no submitter */
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(only));
	if (addr == NULL || strlen(addr) > 320 || strchr(addr, '@') == NULL ||
	    !printable_ascii_or_utf8(addr))
		return NULL;
	{
		gchar *low = g_utf8_strdown(addr, -1);
		char *r = xstrdup(low);
		g_free(low);
		return r;
	}
}

static char *auth_results(GMimeMessage *m)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GString *g = g_string_new(NULL);
	int kept = 0;
	char *r = NULL;

	for (int i = 0; hl != NULL && i < g_mime_header_list_get_count(hl) && kept < AUTH_RESULTS_COUNT; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		const char *v = g_mime_header_get_raw_value(h);
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Authentication-Results") != 0 || v == NULL)
			continue;
		char *u = xstrdup(v), *w = u;
		for (const char *p = v; *p != '\0'; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '\r' || c == '\n')
				continue;
			*w++ = c == '\t' ? ' ' : (c < 0x20 || c == 0x7F) ? '?' : (char)c;
		}
		*w = '\0';
		g_strstrip(u);
		if (g_utf8_validate(u, -1, NULL) && g->len + strlen(u) + 1 <= AUTH_RESULTS_MAX) {
			if (g->len > 0)
				g_string_append_c(g, '\n');
			g_string_append(g, u);
			kept++;
		}
		free(u);
	}
	if (kept > 0)
		r = xstrdup(g->str);
	g_string_free(g, TRUE);
	return r;
}

static char *subject_of(GMimeMessage *m, char *problem, size_t psize)
{
	char *raw = raw_header(m, "Subject");
	char *s;
	if (raw == NULL)
		return xstrdup("");
	if (strlen(raw) > SUBJECT_RAW_MAX)
		str_fmt(problem, psize, "it is longer than %d bytes", SUBJECT_RAW_MAX);
	utf8_cut(raw, SUBJECT_RAW_MAX);
	s = decode_unstructured(raw, problem[0] ? NULL : problem, psize);
	free(raw);
	return s;
}

static char *body_text(GMimeMessage *m)
{
	GString *g = g_string_new(NULL);
	char *r;
	body_of(g_mime_message_get_mime_part(m), g, 1);
	r = xstrdup(g->str);
	g_string_free(g, TRUE);
	tidy_body(r);
	return r;
}

/* A CSV or a PDF by its label, name or content: decides which message of a
 * forward is the batch. */
static int looks_like_document(const struct mime_attachment *a)
{
	const char *fn = a->filename;
	size_t n = fn ? strlen(fn) : 0;
	if (n >= 4 && (g_ascii_strcasecmp(fn + n - 4, ".csv") == 0 ||
		       g_ascii_strcasecmp(fn + n - 4, ".pdf") == 0))
		return 1;
	if (strcmp(a->content_type, "text/csv") == 0 || strcmp(a->content_type, "application/pdf") == 0 ||
	    strcmp(a->content_type, "application/x-pdf") == 0)
		return 1;
	return a->len >= 5 && memcmp(a->data, "%PDF-", 5) == 0;
}

static char *content_type_of(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *t = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	char *r;
	if (t == NULL || strlen(t) > 255 || strchr(t, '/') == NULL)
		goto generic;
	for (const char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7F)
			goto generic;
	r = g_ascii_strdown(t, -1);
	g_free(t);
	{
		char *x = xstrdup(r);
		g_free(r);
		return x;
	}
generic:
	g_free(t);
	return xstrdup("application/octet-stream");
}

/*
 * Lines that may be MIME boundary delimiters (RFC 2046 §5.1.1: "--", then
 * a boundary of at least one character, which cannot start with a blank),
 * counting stopped past stop.  Every part of a multipart follows one, so
 * this bounds the parts GMime would build, read before it builds any.
 */
static size_t delimiter_lines(const uint8_t *d, size_t len, size_t stop)
{
	size_t n = 0;
	const uint8_t *p = d, *end = d + len;

	while (p < end && n <= stop) {
		const uint8_t *nl;
		if (end - p >= 3 && p[0] == '-' && p[1] == '-' && p[2] != ' ' && p[2] != '\t' &&
		    p[2] != '\r' && p[2] != '\n')
			n++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

static gpointer gmime_init_once(gpointer unused)
{
	(void)unused;
	g_mime_init();
	return NULL;
}

int mime_parse(const uint8_t *data, size_t len, const struct mime_limits *lim,
	       struct mime_message **out, struct error *e)
{
	static GOnce once = G_ONCE_INIT;
	static const char *fallback[] = { "UTF-8", "EUC-JP", "CP932", NULL };
	size_t max_message = lim && lim->max_message ? lim->max_message : DEFAULT_MAX_MESSAGE;
	size_t max_att = lim && lim->max_attachments ? lim->max_attachments : MIME_DEFAULT_MAX_ATTACHMENTS;
	size_t max_depth = lim && lim->max_depth ? lim->max_depth : MIME_DEFAULT_MAX_DEPTH;
	size_t max_parts = lim && lim->max_parts ? lim->max_parts : MIME_DEFAULT_MAX_PARTS;
	GMimeParserOptions *opt = NULL;
	GMimeStream *stream = NULL;
	GMimeParser *parser = NULL;
	GMimeMessage *msg = NULL;
	struct walk w = { NULL, NULL, 0, 0, 0 };
	struct mime_message *m = NULL;
	size_t pick = 0;
	int rc = -1;

	*out = NULL;
	if (len > max_message)
		return err_set(e, "the message is %zu bytes; the limit is %zu bytes ([limits] message_size)",
			       len, max_message);
	if (delimiter_lines(data, len, max_parts) > max_parts)
		return err_set(e, "the message has more than %zu MIME parts ([limits] mime_parts)",
			       max_parts);
	g_once(&once, gmime_init_once, NULL);

	/* an mbox "From " separator line, as some clients save .eml files */
	if (len >= 5 && memcmp(data, "From ", 5) == 0) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t skip = nl ? (size_t)(nl - data) + 1 : len;
		data += skip;
		len -= skip;
	}

	opt = g_mime_parser_options_new();
	g_mime_parser_options_set_address_compliance_mode(opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_rfc2047_compliance_mode(opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_fallback_charsets(opt, fallback);
	stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, opt);
	if (msg == NULL) {
		err_set(e, "the message cannot be read as an e-mail (RFC 5322)");
		goto out;
	}

	w.parts = g_array_new(FALSE, FALSE, sizeof(struct part_ref));
	w.levels = g_ptr_array_new();
	g_ptr_array_add(w.levels, msg);
	walk_tree(&w, g_mime_message_get_mime_part(msg), 0, 1);
	if (w.depth > max_depth) {
		if (w.depth > WALK_MAX)
			err_set(e, "the message nests MIME parts more than %d deep; the limit is %zu ([limits] mime_depth)",
				WALK_MAX, max_depth);
		else
			err_set(e, "the message nests MIME parts %zu deep; the limit is %zu ([limits] mime_depth)",
				w.depth, max_depth);
		goto out;
	}
	if (w.nparts > max_parts) {
		err_set(e, "the message has %zu MIME parts; the limit is %zu ([limits] mime_parts)",
			w.nparts, max_parts);
		goto out;
	}
	if (w.parts->len > max_att) {
		err_set(e, "the message has %u attachments; the limit is %zu ([limits] attachments)",
			w.parts->len, max_att);
		goto out;
	}

	m = xcalloc(1, sizeof(*m));
	m->has_tnef = w.has_tnef;
	m->from_addr = from_address(msg);
	{
		const char *id = g_mime_message_get_message_id(msg);
		if (id != NULL && id[0] != '\0' && strlen(id) <= ID_MAX && printable_ascii_or_utf8(id))
			m->message_id = xstrdup(id);
	}
	m->auth_results = auth_results(msg);
	m->natt = w.parts->len;
	m->att = xcalloc(m->natt ? m->natt : 1, sizeof(*m->att));
	{
		int *level_doc = xcalloc(w.levels->len, sizeof(int));
		for (size_t i = 0; i < m->natt; i++) {
			struct part_ref *r = &g_array_index(w.parts, struct part_ref, i);
			struct mime_attachment *a = &m->att[i];
			a->filename = mime_clean_filename(g_mime_part_get_filename(r->part));
			a->content_type = content_type_of(GMIME_OBJECT(r->part));
			a->data = part_bytes(r->part, &a->len);
			if (looks_like_document(a))
				level_doc[r->level] = 1;
		}
		/* a forward: the batch is the first message that carries it */
		if (!level_doc[0])
			for (size_t i = 1; i < w.levels->len; i++)
				if (level_doc[i]) {
					pick = i;
					break;
				}
		free(level_doc);
	}
	m->subject = subject_of(g_ptr_array_index(w.levels, pick), m->subject_problem,
				sizeof(m->subject_problem));
	m->body = body_text(g_ptr_array_index(w.levels, pick));
	*out = m;
	m = NULL;
	rc = 0;
out:
	mime_message_free(&m);
	if (w.parts != NULL)
		g_array_free(w.parts, TRUE);
	if (w.levels != NULL)
		g_ptr_array_free(w.levels, TRUE);
	if (msg != NULL)
		g_object_unref(msg);
	if (parser != NULL)
		g_object_unref(parser);
	if (stream != NULL)
		g_object_unref(stream);
	if (opt != NULL)
		g_mime_parser_options_free(opt);
	return rc;
}

void mime_message_free(struct mime_message **mp)
{
	struct mime_message *m;
	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	for (size_t i = 0; i < m->natt; i++) {
		free(m->att[i].filename);
		free(m->att[i].content_type);
		free(m->att[i].data);
	}
	free(m->att);
	free(m->from_addr);
	free(m->message_id);
	free(m->subject);
	free(m->body);
	free(m->auth_results);
	free(m);
	*mp = NULL;
}
