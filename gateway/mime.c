/*
 * mime.c — one intake e-mail into sender, subject, body text and
 * attachments (see mime.h for what is kept and why): the limits checked,
 * the tree walked (mime_tree.c), the header fields decoded
 * (mime_header.c), and the message of a forward that carries the batch
 * picked.  Runs in the gateway (intake) and in `tayori submit`.
 *
 * Nothing here trusts the sender: every buffer is capped by the message
 * size, the number of parts is bounded before GMime builds any, and file
 * names only ever become display strings.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/mime.h"
#include "lib/mime_clean.h"
#include "lib/mime_header.h"
#include "lib/mime_tree.h"

#define DEFAULT_MAX_MESSAGE ((size_t)50 << 20)

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

/* The limits of lim, 0 fields and a NULL lim meaning the defaults. */
static void limits_of(const struct mime_limits *lim, struct mime_limits *l)
{
	l->max_message = lim && lim->max_message ? lim->max_message : DEFAULT_MAX_MESSAGE;
	l->max_attachments = lim && lim->max_attachments ? lim->max_attachments
							 : MIME_DEFAULT_MAX_ATTACHMENTS;
	l->max_depth = lim && lim->max_depth ? lim->max_depth : MIME_DEFAULT_MAX_DEPTH;
	l->max_parts = lim && lim->max_parts ? lim->max_parts : MIME_DEFAULT_MAX_PARTS;
}

/* The walked tree within the limits, else -1 with e naming the one exceeded. */
static int check_tree(const struct mime_tree *t, const struct mime_limits *l, struct error *e)
{
	if (t->depth > l->max_depth) {
		if (t->depth > MIME_TREE_WALK_MAX)
			return err_set(e, "the message nests MIME parts more than %d deep; the limit is %zu ([limits] mime_depth)",
				       MIME_TREE_WALK_MAX, l->max_depth);
		return err_set(e, "the message nests MIME parts %zu deep; the limit is %zu ([limits] mime_depth)",
			       t->depth, l->max_depth);
	}
	if (t->nparts > l->max_parts)
		return err_set(e, "the message has %zu MIME parts; the limit is %zu ([limits] mime_parts)",
			       t->nparts, l->max_parts);
	if (t->leaves->len > l->max_attachments)
		return err_set(e, "the message has %u attachments; the limit is %zu ([limits] attachments)",
			       t->leaves->len, l->max_attachments);
	return 0;
}

/* The attachments of t into m; returns the level (the top message, or a
 * forwarded one) whose subject and body are the batch's: the top one,
 * unless only a forwarded message carries a CSV or a PDF. */
static size_t read_attachments(const struct mime_tree *t, struct mime_message *m)
{
	int *level_doc = xcalloc(t->levels->len, sizeof(int));
	size_t pick = 0;

	m->natt = t->leaves->len;
	m->att = xcalloc(m->natt ? m->natt : 1, sizeof(*m->att));
	for (size_t i = 0; i < m->natt; i++) {
		const struct mime_tree_leaf *r = &g_array_index(t->leaves, struct mime_tree_leaf, i);
		struct mime_attachment *a = &m->att[i];
		a->filename = mime_clean_filename(g_mime_part_get_filename(r->part));
		a->content_type = mime_tree_content_type(GMIME_OBJECT(r->part));
		a->data = mime_tree_part_bytes(r->part, &a->len);
		if (looks_like_document(a))
			level_doc[r->level] = 1;
	}
	if (!level_doc[0])
		for (size_t i = 1; i < t->levels->len; i++)
			if (level_doc[i]) {
				pick = i;
				break;
			}
	free(level_doc);
	return pick;
}

int mime_parse(const uint8_t *data, size_t len, const struct mime_limits *lim,
	       struct mime_message **out, struct error *e)
{
	struct mime_limits l;
	struct mime_tree t;
	struct mime_message *m;
	GMimeMessage *picked;
	int rc = -1;

	*out = NULL;
	limits_of(lim, &l);
	if (len > l.max_message)
		return err_set(e, "the message is %zu bytes; the limit is %zu bytes ([limits] message_size)",
			       len, l.max_message);
	if (delimiter_lines(data, len, l.max_parts) > l.max_parts)
		return err_set(e, "the message has more than %zu MIME parts ([limits] mime_parts)",
			       l.max_parts);
	if (mime_tree_open(&t, data, len) < 0) {
		err_set(e, "the message cannot be read as an e-mail (RFC 5322)");
		goto out;
	}
	if (check_tree(&t, &l, e) < 0)
		goto out;
	m = xcalloc(1, sizeof(*m));
	m->has_tnef = t.has_tnef;
	m->from_addr = mime_header_from(t.msg);
	m->message_id = mime_header_message_id(t.msg);
	m->auth_results = mime_header_auth_results(t.msg);
	picked = g_ptr_array_index(t.levels, read_attachments(&t, m));
	m->subject = mime_header_subject(picked, m->subject_problem, sizeof(m->subject_problem));
	m->body = mime_tree_body(picked);
	*out = m;
	rc = 0;
out:
	mime_tree_close(&t);
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
