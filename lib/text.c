/*
 * text.c — clean text checks and safe printing (see text.h).  Runs in
 * every process.  Standards: RFC 3629 (UTF-8), Unicode UAX #9 (the
 * bidirectional controls refused).
 */
#include "lib/text.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, c &= 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, c &= 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, c &= 0x07, min = 0x10000;
	else
		return 0; /* a continuation byte, C0/C1 (overlong) or F5-FF */
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0; /* overlong, too large, or a surrogate */
	*cp = c;
	return len;
}

static int is_bidi_control(uint32_t c)
{
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

static int is_direction_mark(uint32_t c)
{
	return c == 0x200E || c == 0x200F || c == 0x061C;
}

static int is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

int text_is_unsafe(uint32_t c)
{
	return is_control(c) || is_bidi_control(c) || is_direction_mark(c) || c == 0x2028 ||
	       c == 0x2029;
}

/* The one pass behind text_clean and text_check: out (may be NULL)
 * receives the cleaned bytes. */
static int scan(const char *s, size_t len, enum text_kind kind, size_t max_chars,
		struct text_problem *p, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, chars = 0, line = 1;

	while (i < len) {
		uint32_t c;
		size_t n = text_utf8_decode(u + i, len - i, &c);
		if (n == 0) {
			p->line = line;
			str_fmt(p->what, sizeof(p->what), "the text is not valid UTF-8 (byte 0x%02X)", u[i]);
			return -1;
		}
		if (kind == TEXT_BODY && c == '\r' && i + 1 < len && u[i + 1] == '\n') {
			i++; /* CRLF: the LF that follows is the line end */
			continue;
		}
		if (c == '\n' && kind == TEXT_LINE) {
			p->line = line;
			str_fmt(p->what, sizeof(p->what), "a line break (U+000A) is not allowed: it must be one line");
			return -1;
		}
		if (c == '\r' && kind == TEXT_BODY) {
			p->line = line;
			str_fmt(p->what, sizeof(p->what),
				"a carriage return (U+000D) without a line feed is not allowed; end lines with LF or CRLF");
			return -1;
		}
		if (is_control(c) && !(kind == TEXT_BODY && (c == '\t' || c == '\n'))) {
			p->line = line;
			str_fmt(p->what, sizeof(p->what), "a control character (U+%04X) is not allowed",
				(unsigned)c);
			return -1;
		}
		if (is_bidi_control(c) || (kind == TEXT_LINE && is_direction_mark(c))) {
			p->line = line;
			str_fmt(p->what, sizeof(p->what),
				"a bidirectional control character (U+%04X) is not allowed", (unsigned)c);
			return -1;
		}
		if (c == 0x2028 || c == 0x2029) {
			p->line = line;
			str_fmt(p->what, sizeof(p->what), "a %s separator (U+%04X) is not allowed%s",
				c == 0x2028 ? "line" : "paragraph", (unsigned)c,
				kind == TEXT_BODY ? "; use an ordinary line break" : "");
			return -1;
		}
		if (c == '\n')
			line++;
		chars++;
		if (out != NULL) {
			memcpy(out + o, s + i, n);
			o += n;
		}
		i += n;
	}
	if (chars > max_chars) {
		p->line = 0;
		str_fmt(p->what, sizeof(p->what), "it is %zu characters long; the limit is %zu", chars,
			max_chars);
		return -1;
	}
	if (out != NULL)
		out[o] = '\0';
	return 0;
}

char *text_clean(const char *s, size_t len, enum text_kind kind, size_t max_chars,
		 struct text_problem *p)
{
	char *out = xmalloc(len + 1);
	if (scan(s, len, kind, max_chars, p, out) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

int text_check(const char *s, enum text_kind kind, size_t max_chars, struct text_problem *p)
{
	return scan(s, strlen(s), kind, max_chars, p, NULL);
}

void text_fputs_safe(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;

	while (i < len) {
		uint32_t c;
		size_t n = text_utf8_decode(u + i, len - i, &c);
		if (n == 0) {
			fprintf(f, "\\x%02X", u[i]);
			i++;
			continue;
		}
		if (text_is_unsafe(c))
			fprintf(f, "\\u{%X}", (unsigned)c);
		else
			fwrite(u + i, 1, n, f);
		i += n;
	}
}
