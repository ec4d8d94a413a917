/*
 * mime_clean.c — decoded mail text made safe to show and store (see
 * mime_clean.h).  Nothing here trusts the sender: file names only ever
 * become display strings.  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 */
#include "lib/mime_clean.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mime_charset.h"
#include "lib/util.h"

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

/* s (valid UTF-8) with dropped characters removed and NFC applied, as
 * mode says.  Frees s. */
char *mime_clean_text(char *s, enum mime_clean_mode mode)
{
	GString *g = g_string_sized_new(strlen(s) + 1);
	char *r;
	for (const char *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar u = g_utf8_get_char(p);
		if (u == '\r' && mode != MIME_CLEAN_NAME) {
			if (p[1] != '\n')
				g_string_append_c(g, mode == MIME_CLEAN_LINES ? '\n' : ' ');
			continue;
		}
		if (mode == MIME_CLEAN_LINE && (u == '\n' || u == '\t')) {
			g_string_append_c(g, ' ');
			continue;
		}
		if (drop_char(u, mode == MIME_CLEAN_LINES))
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
char *mime_clean_unflow(char *s, int delsp)
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
void mime_clean_body(char *s)
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

/* Cut s to at most max bytes on a character boundary. */
void mime_clean_cut(char *s, size_t max)
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
	u = mime_charset_to_utf8(NULL, (const uint8_t *)name, strlen(name));
	slash = u;
	for (const char *p = u; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			slash = p + 1;
	base = mime_clean_text(xstrdup(slash), MIME_CLEAN_NAME);
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
			mime_clean_cut(head, MIME_FILENAME_MAX - ext);
			r = xmalloc(strlen(head) + ext + 1);
			memcpy(r, head, strlen(head));
			memcpy(r + strlen(head), dot, ext + 1);
			free(head);
			goto out;
		}
		mime_clean_cut(base, MIME_FILENAME_MAX);
	}
	r = base;
	base = NULL;
out:
	free(base);
	return r;
}
