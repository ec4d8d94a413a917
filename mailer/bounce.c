/*
 * bounce.c — the bounce classifier (see bounce.h for the kinds, the VERP
 * form and the bounds): the bytes of one message through GMime 3 into a
 * bounded walk of its parts, the RFC 3464 delivery-status and RFC 5965
 * feedback reports read field by field, the text readers of bounce_scan.c
 * for the rest, then the RFC 3834 auto-reply markers.  Runs in the mailer
 * (the bounce reader) and in the command line (`tayori bounce parse`).
 */
#include <glib.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "mailer/bounce_int.h"

#define HEADER_MAX ((size_t)256 << 10) /* bytes of one header block read */

const char *bounce_kind_name(enum bounce_kind k)
{
	switch (k) {
	case BOUNCE_HARD: return "hard";
	case BOUNCE_SOFT: return "soft";
	case BOUNCE_RATE: return "rate";
	case BOUNCE_AUTO_REPLY: return "auto-reply";
	case BOUNCE_COMPLAINT: return "complaint";
	case BOUNCE_NOT: break;
	}
	return "not-bounce";
}

static enum bounce_kind worse(enum bounce_kind a, enum bounce_kind b)
{
	static const int rank[] = { [BOUNCE_NOT] = 0, [BOUNCE_SOFT] = 1, [BOUNCE_RATE] = 2,
				    [BOUNCE_HARD] = 3, [BOUNCE_AUTO_REPLY] = 0, [BOUNCE_COMPLAINT] = 0 };
	return rank[b] > rank[a] ? b : a;
}

int bounce_add(struct bounce_result *r, const char *addr, const char *original,
	       const char *status, const char *diag, enum bounce_kind kind)
{
	struct bounce_rcpt *rc;
	char st[BOUNCE_STATUS_MAX + 1];

	for (size_t i = 0; i < r->nrcpt; i++) {
		rc = &r->rcpt[i];
		if (g_ascii_strcasecmp(rc->addr, addr) != 0)
			continue;
		/* seen before: keep the words that carry a code */
		if (!bounce_status_find(rc->diag, strlen(rc->diag), st) &&
		    (bounce_status_find(diag, strlen(diag), st) || rc->diag[0] == '\0'))
			str_copy(rc->diag, diag, sizeof(rc->diag));
		if (rc->status[0] == '\0' && status[0] != '\0')
			str_copy(rc->status, status, sizeof(rc->status));
		return 0;
	}
	if (r->nrcpt >= BOUNCE_RCPT_MAX) {
		r->truncated = 1;
		return -1;
	}
	rc = &r->rcpt[r->nrcpt++];
	str_copy(rc->addr, addr, sizeof(rc->addr));
	str_copy(rc->original, original, sizeof(rc->original));
	str_copy(rc->status, status, sizeof(rc->status));
	bounce_clean(diag, strlen(diag), rc->diag, sizeof(rc->diag));
	rc->kind = kind;
	return 0;
}

/* ------------------------------------------------------------ headers */

/* A header value as one line of UTF-8: raw 8-bit or ISO-2022-JP bytes
 * converted, RFC 2047 words decoded, controls removed. */
static void header_text(const char *hdr, size_t hlen, const char *name, char *out, size_t outsize)
{
	struct buf raw, u;
	char *dec;

	buf_init(&raw, HEADER_MAX);
	buf_init(&u, HEADER_MAX * 4);
	out[0] = '\0';
	if (bounce_field_raw(hdr, hlen, name, &raw) && raw.len > 0) {
		bounce_to_utf8(NULL, raw.data, raw.len, &u);
		if (u.data != NULL) {
			dec = g_mime_utils_header_decode_text(NULL, (const char *)u.data);
			if (dec != NULL && g_utf8_validate(dec, -1, NULL))
				bounce_clean(dec, strlen(dec), out, outsize);
			else
				bounce_clean((const char *)u.data, u.len, out, outsize);
			g_free(dec);
		}
	}
	buf_free(&raw);
	buf_free(&u);
}

static void doc_headers(struct bounce_doc *doc, const char *hdr, size_t hlen)
{
	char from[1024], tmp[16];
	size_t pos = 0, start = 0;

	header_text(hdr, hlen, "Subject", doc->subject, sizeof(doc->subject));
	header_text(hdr, hlen, "From", from, sizeof(from));
	if (bounce_addr_next(from, strlen(from), &pos, doc->from, &start)) {
		const char *lt = memchr(from, '<', start);
		bounce_clean(from, lt ? (size_t)(lt - from) : 0, doc->from_name, sizeof(doc->from_name));
	}
	bounce_field(hdr, hlen, "X-Failed-Recipients", doc->failed, sizeof(doc->failed));
	bounce_field(hdr, hlen, "Auto-Submitted", doc->auto_submitted, sizeof(doc->auto_submitted));
	if (!bounce_field(hdr, hlen, "Precedence", doc->precedence, sizeof(doc->precedence)))
		bounce_field(hdr, hlen, "X-Precedence", doc->precedence, sizeof(doc->precedence));
	doc->x_autoreply = bounce_field(hdr, hlen, "X-Autoreply", tmp, sizeof(tmp)) ||
			   bounce_field(hdr, hlen, "X-Autorespond", tmp, sizeof(tmp)) ||
			   bounce_field(hdr, hlen, "X-Autoresponse", tmp, sizeof(tmp));
}

/* The first bounce+ address in the named fields of a block. */
static int verp_from(const char *block, size_t len, const char *const *names, size_t n,
		     struct bounce_verp *v)
{
	for (size_t i = 0; i < n; i++) {
		char val[2048], addr[EMAIL_MAX + 1];
		size_t pos = 0, start;
		if (!bounce_field(block, len, names[i], val, sizeof(val)))
			continue;
		while (bounce_addr_next(val, strlen(val), &pos, addr, &start))
			if (g_ascii_strncasecmp(addr, BOUNCE_VERP_PREFIX, strlen(BOUNCE_VERP_PREFIX)) == 0) {
				bounce_verp_parse(addr, v);
				return 1;
			}
	}
	return 0;
}

/* ---------------------------------------------------------- MIME walk */

static int is_type(GMimeObject *o, const char *type, const char *sub)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	return ct != NULL && g_mime_content_type_is_type(ct, type, sub);
}

/* The decoded content of a leaf part, at most cap bytes of it. */
static void part_bytes(GMimePart *p, struct buf *out)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(p);
	GMimeStream *s;
	GByteArray *ba;

	if (dw == NULL)
		return;
	s = g_mime_stream_mem_new();
	(void)g_mime_data_wrapper_write_to_stream(dw, s);
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	bounce_append_max(out, ba->data, ba->len);
	g_object_unref(s);
}

static void leaf(struct bounce_doc *doc, GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	const char *cs = ct ? g_mime_content_type_get_parameter(ct, "charset") : NULL;
	struct buf raw;

	buf_init(&raw, BOUNCE_TEXT_MAX + 1);
	if (is_type(o, "message", "delivery-status") || is_type(o, "message", "global-delivery-status") ||
	    is_type(o, "text", "delivery-status")) {
		part_bytes(GMIME_PART(o), &raw);
		bounce_to_utf8(cs, raw.data, raw.len, &doc->dsn);
		(void)buf_append_str(&doc->dsn, "\n\n");
	} else if (is_type(o, "message", "feedback-report")) {
		part_bytes(GMIME_PART(o), &raw);
		bounce_to_utf8(cs, raw.data, raw.len, &doc->arf);
		(void)buf_append_str(&doc->arf, "\n\n");
	} else if (is_type(o, "text", "rfc822-headers") || is_type(o, "message", "rfc822-headers")) {
		if (doc->inner.len == 0) {
			part_bytes(GMIME_PART(o), &raw);
			bounce_append_max(&doc->inner, raw.data, raw.len);
		}
	} else if (is_type(o, "text", "html")) {
		struct buf u;
		buf_init(&u, BOUNCE_TEXT_MAX * 4);
		part_bytes(GMIME_PART(o), &raw);
		bounce_to_utf8(cs, raw.data, raw.len, &u);
		if (u.data != NULL)
			bounce_html_text((const char *)u.data, u.len, &doc->text);
		(void)buf_append_str(&doc->text, "\n\n");
		buf_free(&u);
	} else if (is_type(o, "text", "*") || ct == NULL) {
		part_bytes(GMIME_PART(o), &raw);
		bounce_to_utf8(cs, raw.data, raw.len, &doc->text);
		(void)buf_append_str(&doc->text, "\n\n");
	}
	buf_free(&raw);
}

struct walk {
	struct bounce_doc *doc;
	GMimeMessage *inner; /* the first embedded message (borrowed) */
	int limited;
};

static void walk(struct walk *w, GMimeObject *o, int depth)
{
	if (o == NULL)
		return;
	if (depth > BOUNCE_DEPTH_MAX || w->doc->parts >= BOUNCE_PARTS_MAX) {
		w->limited = 1;
		return;
	}
	w->doc->parts++;
	if (GMIME_IS_MULTIPART(o)) {
		int n = g_mime_multipart_get_count(GMIME_MULTIPART(o));
		if (depth == 1 && is_type(o, "multipart", "report")) {
			const char *rt = g_mime_content_type_get_parameter(
				g_mime_object_get_content_type(o), "report-type");
			w->doc->report_dsn = rt != NULL && g_ascii_strcasecmp(rt, "delivery-status") == 0;
			w->doc->report_arf = rt != NULL && g_ascii_strcasecmp(rt, "feedback-report") == 0;
		}
		for (int i = 0; i < n && !w->limited; i++)
			walk(w, g_mime_multipart_get_part(GMIME_MULTIPART(o), i), depth + 1);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		if (m != NULL && w->inner == NULL) {
			char *h = g_mime_object_get_headers(GMIME_OBJECT(m), NULL);
			w->inner = m;
			if (h != NULL && w->doc->inner.len == 0)
				bounce_append_max(&w->doc->inner, h, strlen(h));
			g_free(h);
		}
		return;
	}
	if (GMIME_IS_PART(o))
		leaf(w->doc, o);
}

/* --------------------------------------------------------- the reports */

/* The recipients of the delivery-status text; the number that failed or
 * were delayed (some may have had no usable address), 0 when none did,
 * -1 when the report names no recipient at all. */
static int read_dsn(const struct bounce_doc *doc, struct bounce_result *r)
{
	const char *s = (const char *)doc->dsn.data;
	size_t pos = 0, start, blen;
	int failed = 0, seen = 0;

	while (s != NULL && bounce_block_next(s, doc->dsn.len, &pos, &start, &blen)) {
		char fin[512], orig[512], action[64], status[64], diag[BOUNCE_DIAG_MAX + 1];
		char addr[EMAIL_MAX + 1] = "", oaddr[EMAIL_MAX + 1] = "", st[BOUNCE_STATUS_MAX + 1] = "";
		size_t p = 0, a;
		int delayed, reply;
		const char *b = s + start;

		int has_fin = bounce_field(b, blen, "Final-Recipient", fin, sizeof(fin));
		int has_orig = bounce_field(b, blen, "Original-Recipient", orig, sizeof(orig));
		if (!has_fin && !has_orig)
			continue;
		seen++;
		bounce_field(b, blen, "Action", action, sizeof(action));
		bounce_field(b, blen, "Status", status, sizeof(status));
		bounce_field(b, blen, "Diagnostic-Code", diag, sizeof(diag));
		delayed = g_ascii_strncasecmp(action, "delayed", 7) == 0;
		(void)bounce_status_find(status, strlen(status), st);
		if (!delayed && g_ascii_strncasecmp(action, "failed", 6) != 0 &&
		    (action[0] != '\0' || (st[0] != '4' && st[0] != '5')))
			continue; /* delivered, relayed, expanded */
		failed++;
		if (st[0] == '\0' || strcmp(st + 1, ".0.0") == 0)
			(void)bounce_status_find(diag, strlen(diag), st);
		reply = bounce_reply_find(diag, strlen(diag));
		if (st[0] == '\0') {
			char *lower = bounce_lower(diag, strlen(diag));
			const char *ph = bounce_phrase_status(lower, strlen(lower));
			st[0] = reply >= 400 && reply < 600 ? (char)('0' + reply / 100) : delayed ? '4' : '5';
			str_copy(st + 1, ph ? ph + 1 : ".0.0", sizeof(st) - 1);
			free(lower);
		}
		(void)bounce_addr_next(fin, strlen(fin), &p, addr, &a);
		p = 0;
		(void)bounce_addr_next(orig, strlen(orig), &p, oaddr, &a);
		if (addr[0] == '\0')
			memcpy(addr, oaddr, sizeof(addr));
		if (addr[0] != '\0') {
			const char *d = g_ascii_strncasecmp(diag, "smtp;", 5) == 0 ? diag + 5 : diag;
			(void)bounce_add(r, addr, oaddr, st, d, bounce_kind_for(st, reply, delayed, d));
		}
	}
	return seen == 0 ? -1 : failed;
}

static void read_arf(const struct bounce_doc *doc, struct bounce_result *r)
{
	const char *s = doc->arf.data ? (const char *)doc->arf.data : "";
	char val[1024], type[128], addr[EMAIL_MAX + 1];
	size_t pos = 0, start;

	bounce_field(s, doc->arf.len, "Feedback-Type", type, sizeof(type));
	if ((bounce_field(s, doc->arf.len, "Original-Rcpt-To", val, sizeof(val)) ||
	     bounce_field((const char *)doc->inner.data, doc->inner.len, "To", val, sizeof(val))) &&
	    bounce_addr_next(val, strlen(val), &pos, addr, &start))
		(void)bounce_add(r, addr, "", "", type, BOUNCE_COMPLAINT);
	str_copy(r->format, "arf", sizeof(r->format));
}

static int auto_reply(const struct bounce_doc *doc)
{
	static const char *const prefixes[] = { "automatic reply", "auto reply", "autoreply", "auto-reply",
						"auto:", "out of office", "out of the office",
						"abwesenheitsnotiz", "réponse automatique" };
	static const char *const words[] = { "自動応答", "自動返信", "自動送信", "不在" };
	const char *as = doc->auto_submitted, *pr = doc->precedence;

	if ((as[0] != '\0' && g_ascii_strncasecmp(as, "no", 2) != 0) || doc->x_autoreply ||
	    g_ascii_strncasecmp(pr, "auto_reply", 10) == 0 || g_ascii_strncasecmp(pr, "auto-reply", 10) == 0)
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (g_ascii_strncasecmp(doc->subject, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		const char *p = strstr(doc->subject, words[i]);
		if (p != NULL && p - doc->subject < 48)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ the whole */

static void doc_init(struct bounce_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	buf_init(&doc->text, BOUNCE_TEXT_MAX);
	buf_init(&doc->dsn, BOUNCE_TEXT_MAX);
	buf_init(&doc->arf, BOUNCE_TEXT_MAX);
	buf_init(&doc->inner, HEADER_MAX);
}

static void doc_free(struct bounce_doc *doc)
{
	buf_free(&doc->text);
	buf_free(&doc->dsn);
	buf_free(&doc->arf);
	buf_free(&doc->inner);
}

static void find_verp(const struct bounce_doc *doc, const char *hdr, size_t hlen, struct bounce_verp *v)
{
	static const char *const top[] = { "X-Original-To", "Delivered-To", "Envelope-To",
					   "X-Envelope-To", "To" };
	static const char *const arf[] = { "Original-Mail-From" };
	static const char *const inner[] = { "Return-Path" };

	if (!verp_from(hdr, hlen, top, ARRAY_SIZE(top), v) &&
	    !verp_from((const char *)doc->arf.data, doc->arf.len, arf, ARRAY_SIZE(arf), v))
		(void)verp_from((const char *)doc->inner.data, doc->inner.len, inner, ARRAY_SIZE(inner), v);
}

/* Decide the kind of one message level from what the walk collected. */
static void classify(const struct bounce_doc *doc, const char *hdr, size_t hlen, struct bounce_result *r)
{
	const char *vendor;
	int n = -1, bounce = 0;

	find_verp(doc, hdr, hlen, &r->verp);
	if (doc->report_arf || doc->arf.len > 0) {
		read_arf(doc, r);
		r->kind = BOUNCE_COMPLAINT;
		return;
	}
	vendor = bounce_vendor(doc);
	if (doc->report_dsn || doc->dsn.len > 0)
		n = read_dsn(doc, r);
	if (n == 0) { /* every recipient delivered */
		str_copy(r->format, "rfc3464", sizeof(r->format));
		return;
	}
	if (n > 0) {
		bounce = 1;
		str_copy(r->format, vendor ? vendor : "rfc3464", sizeof(r->format));
	} else {
		bounce = bounce_scan_text(doc, r);
	}
	if (bounce) {
		r->is_bounce = 1;
		r->kind = r->nrcpt == 0 ? BOUNCE_HARD : BOUNCE_NOT;
		for (size_t i = 0; i < r->nrcpt; i++)
			r->kind = worse(r->kind, r->rcpt[i].kind);
		return;
	}
	if (auto_reply(doc)) {
		r->kind = BOUNCE_AUTO_REPLY;
		str_copy(r->format, "auto-reply", sizeof(r->format));
	}
}

/* Boundary and Content-Type lines, counted up to stop. */
static size_t structure_lines(const uint8_t *d, size_t len, size_t stop)
{
	size_t n = 0;
	const uint8_t *p = d, *end = d + len;

	while (p < end && n <= stop) {
		const uint8_t *nl;
		if ((end - p >= 3 && p[0] == '-' && p[1] == '-') ||
		    (end - p >= 12 && g_ascii_strncasecmp((const char *)p, "content-type", 12) == 0))
			n++;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* The length of the header block (the body starts after the blank line). */
static size_t header_len(const uint8_t *d, size_t len, size_t *body)
{
	for (size_t i = 0; i < len; i++) {
		if (d[i] != '\n')
			continue;
		if (i + 1 < len && d[i + 1] == '\n') {
			*body = i + 2;
			return i + 1;
		}
		if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n') {
			*body = i + 3;
			return i + 1;
		}
	}
	*body = len;
	return len;
}

static gpointer gmime_once(gpointer unused)
{
	(void)unused;
	g_mime_init();
	return NULL;
}

static GMimeMessage *gmime_parse(const uint8_t *data, size_t len)
{
	GMimeParserOptions *opt = g_mime_parser_options_new();
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *msg;

	g_mime_parser_options_set_address_compliance_mode(opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_rfc2047_compliance_mode(opt, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, opt);
	g_object_unref(parser);
	g_object_unref(stream);
	g_mime_parser_options_free(opt);
	return msg;
}

/* A message that is no bounce may carry one: a bounce forwarded here. */
static void unwrap(GMimeMessage *inner, struct bounce_result *r)
{
	struct bounce_doc doc;
	struct bounce_result *t = xcalloc(1, sizeof(*t));
	struct walk w = { &doc, NULL, 0 };
	char *h = g_mime_object_get_headers(GMIME_OBJECT(inner), NULL);
	size_t hlen = h ? strlen(h) : 0;

	doc_init(&doc);
	doc_headers(&doc, h ? h : "", hlen);
	walk(&w, g_mime_message_get_mime_part(inner), 2);
	classify(&doc, h ? h : "", hlen, t);
	if (t->is_bounce || t->kind == BOUNCE_COMPLAINT) {
		t->truncated |= r->truncated;
		if (!t->verp.present)
			t->verp = r->verp;
		*r = *t;
	}
	g_free(h);
	doc_free(&doc);
	free(t);
}

int bounce_parse(const uint8_t *data, size_t len, struct bounce_result *out, struct error *e)
{
	static GOnce once = G_ONCE_INIT;
	struct bounce_doc doc;
	size_t body, hlen;
	GMimeMessage *msg = NULL;

	if (out == NULL || (data == NULL && len > 0))
		return err_set(e, "bounce_parse: no message or no result given");
	if (data == NULL)
		data = (const uint8_t *)"";
	memset(out, 0, sizeof(*out));
	if (len > BOUNCE_INPUT_MAX) {
		len = BOUNCE_INPUT_MAX;
		out->truncated = 1;
	}
	if (len >= 5 && memcmp(data, "From ", 5) == 0) { /* an mbox separator line */
		const uint8_t *nl = memchr(data, '\n', len);
		size_t skip = nl ? (size_t)(nl - data) + 1 : len;
		data += skip;
		len -= skip;
	}
	g_once(&once, gmime_once, NULL);
	hlen = header_len(data, len, &body);
	doc_init(&doc);
	doc_headers(&doc, (const char *)data, hlen > HEADER_MAX ? HEADER_MAX : hlen);
	if (structure_lines(data, len, BOUNCE_SCAN_PARTS) <= BOUNCE_SCAN_PARTS)
		msg = gmime_parse(data, len);
	if (msg != NULL) {
		struct walk w = { &doc, NULL, 0 };
		walk(&w, g_mime_message_get_mime_part(msg), 1);
		classify(&doc, (const char *)data, hlen > HEADER_MAX ? HEADER_MAX : hlen, out);
		if (out->kind == BOUNCE_NOT && w.inner != NULL)
			unwrap(w.inner, out);
		g_object_unref(msg);
	} else {
		out->flattened = 1;
		bounce_to_utf8(NULL, data + body, len - body > BOUNCE_TEXT_MAX ? BOUNCE_TEXT_MAX : len - body,
			       &doc.text);
		classify(&doc, (const char *)data, hlen > HEADER_MAX ? HEADER_MAX : hlen, out);
	}
	doc_free(&doc);
	return 0;
}
