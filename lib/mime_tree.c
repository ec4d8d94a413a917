/*
 * mime_tree.c — an e-mail parsed with GMime 3 and its MIME tree walked into
 * attachments, forwarded messages and body text (see mime_tree.h).  Runs in
 * the gateway and in `tayori submit`.
 *
 * GMime parses the structure, the parameters (RFC 2231, and RFC 2047
 * inside quotes in its loose mode) and the transfer encodings (RFC 2045).
 * Charsets of text are converted by mime_charset.c, not by GMime, so that
 * Outlook's ISO-2022-JP with the NEC and IBM extensions decodes.
 * Recursion is bounded by GMime's own nesting caps and MIME_TREE_WALK_MAX.
 */
#include "lib/mime_tree.h"

#include <stdlib.h>
#include <string.h>

#include "lib/mime_charset.h"
#include "lib/mime_clean.h"
#include "lib/mime_html.h"
#include "lib/util.h"

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

static void walk_tree(struct mime_tree *w, GMimeObject *o, size_t level, size_t depth)
{
	if (o == NULL)
		return;
	w->nparts++;
	if (depth > w->depth)
		w->depth = depth;
	if (depth > MIME_TREE_WALK_MAX)
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
		struct mime_tree_leaf r = { GMIME_PART(o), level };
		g_array_append_val(w->leaves, r);
	}
}

/* The decoded content of a leaf part, NUL-terminated. */
uint8_t *mime_tree_part_bytes(GMimePart *p, size_t *len)
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
	uint8_t *d = mime_tree_part_bytes(GMIME_PART(o), &len);
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	char *t = mime_charset_to_utf8(cs, d, len);
	free(d);
	if (is_type(o, "text", "html")) {
		char *x = mime_html_to_text(t, strlen(t));
		free(t);
		return mime_clean_text(x, MIME_CLEAN_LINES);
	}
	t = mime_clean_text(t, MIME_CLEAN_LINES);
	{
		const char *fmt = ct ? g_mime_content_type_get_parameter(ct, "format") : NULL;
		const char *delsp = ct ? g_mime_content_type_get_parameter(ct, "delsp") : NULL;
		if (mime_charset_ieq(fmt, "flowed"))
			t = mime_clean_unflow(t, mime_charset_ieq(delsp, "yes"));
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
	if (depth > MIME_TREE_WALK_MAX || o == NULL)
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
	if (o == NULL || depth > MIME_TREE_WALK_MAX || GMIME_IS_MESSAGE_PART(o))
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

char *mime_tree_body(GMimeMessage *m)
{
	GString *g = g_string_new(NULL);
	char *r;
	body_of(g_mime_message_get_mime_part(m), g, 1);
	r = xstrdup(g->str);
	g_string_free(g, TRUE);
	mime_clean_body(r);
	return r;
}

char *mime_tree_content_type(GMimeObject *o)
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

static gpointer gmime_init_once(gpointer unused)
{
	(void)unused;
	g_mime_init();
	return NULL;
}

int mime_tree_open(struct mime_tree *t, const uint8_t *data, size_t len)
{
	static GOnce once = G_ONCE_INIT;
	static const char *fallback[] = { "UTF-8", "EUC-JP", "CP932", NULL };

	memset(t, 0, sizeof(*t));
	g_once(&once, gmime_init_once, NULL);
	/* an mbox "From " separator line, as some clients save .eml files */
	if (len >= 5 && memcmp(data, "From ", 5) == 0) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t skip = nl ? (size_t)(nl - data) + 1 : len;
		data += skip;
		len -= skip;
	}
	t->opt = g_mime_parser_options_new();
	g_mime_parser_options_set_address_compliance_mode(t->opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(t->opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_rfc2047_compliance_mode(t->opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_fallback_charsets(t->opt, fallback);
	t->stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
	t->parser = g_mime_parser_new_with_stream(t->stream);
	g_mime_parser_set_format(t->parser, GMIME_FORMAT_MESSAGE);
	t->msg = g_mime_parser_construct_message(t->parser, t->opt);
	if (t->msg == NULL)
		return -1;
	t->leaves = g_array_new(FALSE, FALSE, sizeof(struct mime_tree_leaf));
	t->levels = g_ptr_array_new();
	g_ptr_array_add(t->levels, t->msg);
	walk_tree(t, g_mime_message_get_mime_part(t->msg), 0, 1);
	return 0;
}

void mime_tree_close(struct mime_tree *t)
{
	if (t->leaves != NULL)
		g_array_free(t->leaves, TRUE);
	if (t->levels != NULL)
		g_ptr_array_free(t->levels, TRUE);
	if (t->msg != NULL)
		g_object_unref(t->msg);
	if (t->parser != NULL)
		g_object_unref(t->parser);
	if (t->stream != NULL)
		g_object_unref(t->stream);
	if (t->opt != NULL)
		g_mime_parser_options_free(t->opt);
	memset(t, 0, sizeof(*t));
}
