/*
 * fuzz_mime.c — libFuzzer target over the intake mail reader: mime_parse()
 * on arbitrary bytes with small limits, plus the HTML-to-text and file-name
 * helpers on the same bytes.  Checks the promises mime.h makes (valid UTF-8
 * everywhere, one-line subject, file names without a path or controls and
 * within MIME_FILENAME_MAX, limits kept, data NUL-terminated) and aborts
 * when one is broken, so the fuzzer reports it.  Built by `make fuzz`
 * (clang); seeds in tests/fuzz/corpus/mime/.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/mime.h"
#include "lib/mime_charset.h"
#include "lib/mime_clean.h"
#include "lib/mime_html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, int lines_ok)
{
	if (s == NULL || !g_utf8_validate(s, -1, NULL))
		abort();
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c < 0x20 && !(lines_ok && (c == '\n' || c == '\t'))) || c == 0x7F || c == '\r')
			abort();
	}
}

static void check_name(const char *n)
{
	if (n == NULL)
		return;
	check_text(n, 0);
	if (n[0] == '\0' || strlen(n) > MIME_FILENAME_MAX || strpbrk(n, "/\\") != NULL ||
	    n[strspn(n, ".")] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim = { .max_message = 1 << 20, .max_attachments = 16, .max_depth = 6 };
	struct mime_message *m = NULL;
	struct error e = { { 0 }, 0 };

	if (mime_parse(data, size, &lim, &m, &e) == 0) {
		if (m == NULL || m->natt > lim.max_attachments)
			abort();
		check_text(m->subject, 0);
		check_text(m->body, 1);
		if (m->from_addr != NULL && (strchr(m->from_addr, '@') == NULL || strpbrk(m->from_addr, " \r\n<>") != NULL))
			abort();
		if (m->message_id != NULL)
			check_text(m->message_id, 0);
		if (m->auth_results != NULL)
			check_text(m->auth_results, 1);
		for (size_t i = 0; i < m->natt; i++) {
			const struct mime_attachment *a = &m->att[i];
			check_name(a->filename);
			check_text(a->content_type, 0);
			if (strchr(a->content_type, '/') == NULL || a->data == NULL || a->data[a->len] != '\0')
				abort();
		}
		mime_message_free(&m);
		if (m != NULL)
			abort();
	} else if (m != NULL || e.msg[0] == '\0' || !g_utf8_validate(e.msg, -1, NULL)) {
		abort();
	}

	/* the helpers on the raw bytes, as text */
	if (size < 65536) {
		char *s = g_strndup((const char *)data, size);
		char *t = mime_charset_to_utf8(size > 0 && data[0] & 1 ? "ISO-2022-JP" : NULL, data, size);
		char *h = mime_html_to_text(t, strlen(t));
		char *n = mime_clean_filename(s);
		if (!g_utf8_validate(t, -1, NULL))
			abort();
		check_text(h, 1);
		check_name(n);
		free(t);
		free(h);
		free(n);
		g_free(s);
	}
	return 0;
}
