/*
 * message.c — the notification message a resident receives: checks every
 * input, writes the header fields, and has GMime 3 write the
 * multipart/alternative body from the two bodies of message_body.c.  Runs
 * in the mailer.  See message.h for what the message says and why.
 */
#include "mailer/message.h"

#include <glib.h>
#include <gmime/gmime.h>
#include <string.h>
#include <time.h>

#include "lib/email.h"
#include "lib/text.h"
#include "mailer/message_int.h"

#define JST_OFFSET (9 * 3600)

/* ------------------------------------------------------------- checks */

/* Valid UTF-8 of at most max bytes; required: not NULL nor empty. */
static int check_utf8(const char *s, size_t len, size_t max, int required,
		      const char *field, struct error *e)
{
	if (s == NULL || len == 0)
		return required ? err_set(e, "message: %s is missing", field) : 0;
	if (len > max)
		return err_set(e, "message: %s is too long (%zu bytes, at most %zu)", field, len, max);
	if (!g_utf8_validate_len(s, len, NULL))
		return err_set(e, "message: %s is not valid UTF-8", field);
	return 0;
}

/* No C1 control, bidi override, embedding or isolate, nor U+2028/9 (lib/
 * text.h): a From name or a title that reads in another order than it is
 * stored is how a look-alike sender is made.  A body may keep the plain
 * direction marks (beside Arabic or Hebrew text); a line may not. */
static int check_invisible(const char *s, size_t len, int line, const char *field,
			   struct error *e)
{
	uint32_t cp;
	size_t n;

	for (size_t i = 0; s != NULL && i < len; i += n) {
		n = text_utf8_decode((const unsigned char *)s + i, len - i, &cp);
		if (n == 0)
			return err_set(e, "message: %s is not valid UTF-8", field);
		if (cp >= 0x80 && text_is_unsafe(cp) &&
		    (line || (cp != 0x200E && cp != 0x200F && cp != 0x061C)))
			return err_set(e, "message: %s holds an invisible control character "
				       "(U+%04X) at offset %zu", field, (unsigned)cp, i);
	}
	return 0;
}

/* A body text: no control byte but tab and line ends (NUL included). */
static int check_body(const char *s, size_t len, size_t max, int required,
		      const char *field, struct error *e)
{
	if (check_utf8(s, len, max, required, field, e) < 0)
		return -1;
	for (size_t i = 0; s != NULL && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
			return err_set(e, "message: %s holds a control byte (0x%02x) at offset %zu",
				       field, c, i);
	}
	return check_invisible(s, len, 0, field, e);
}

static int check_addr(const char *a, const char *field, struct error *e)
{
	if (a == NULL || !email_valid(a))
		return err_set(e, "message: %s is not a valid e-mail address", field);
	return 0;
}

/* A plain http(s) URL of URL characters only (no quote, space, < or >). */
static int check_url(const char *u, const char *field, struct error *e)
{
	size_t n = u == NULL ? 0 : strlen(u), start;
	if (n == 0 || n > MESSAGE_URL_MAX)
		return err_set(e, "message: %s is missing or too long", field);
	if (g_ascii_strncasecmp(u, "https://", 8) == 0)
		start = 8;
	else if (g_ascii_strncasecmp(u, "http://", 7) == 0)
		start = 7;
	else
		return err_set(e, "message: %s is not an http or https URL", field);
	if (u[start] == '\0' || u[start] == '/')
		return err_set(e, "message: %s has no host", field);
	for (size_t i = start; i < n; i++)
		if (!g_ascii_isalnum(u[i]) && strchr("-._~:/?#[]@!$&*+,;=%", u[i]) == NULL)
			return err_set(e, "message: %s holds a character a URL may not hold", field);
	return 0;
}

/* Letters, digits and the given extra characters only, 1..max bytes. */
static int check_token(const char *s, size_t max, const char *extra, const char *field,
		       struct error *e)
{
	size_t n = s == NULL ? 0 : strlen(s);
	if (n == 0 || n > max)
		return err_set(e, "message: %s is missing or too long", field);
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(s[i]) && strchr(extra, s[i]) == NULL)
			return err_set(e, "message: %s holds a character it may not hold", field);
	return 0;
}

static int check_line(const char *s, size_t max, int required, const char *field,
		      struct error *e)
{
	size_t len = s == NULL ? 0 : strlen(s);

	if (check_utf8(s, len, max, required, field, e) < 0)
		return -1;
	return check_invisible(s, len, 1, field, e);
}

static int check_ids(const struct message_input *in, struct error *e)
{
	char probe[300];
	if (in->msgid_domain == NULL ||
	    str_fmt(probe, sizeof probe, "id@%s", in->msgid_domain) < 0 || !email_valid(probe))
		return err_set(e, "message: msgid_domain is not a domain name");
	if (in->message_id_local != NULL &&
	    (check_token(in->message_id_local, MESSAGE_ID_LOCAL_MAX, "-_.+", "message_id_local", e) < 0 ||
	     in->message_id_local[0] == '.' || strstr(in->message_id_local, "..") != NULL ||
	     in->message_id_local[strlen(in->message_id_local) - 1] == '.'))
		return err_set(e, "message: message_id_local is not a dot-atom");
	return 0;
}

static int check_input(const struct message_input *in, size_t mlen, struct error *e)
{
	if (check_addr(in->from_addr, "from_addr", e) < 0 || check_addr(in->reply_to, "reply_to", e) < 0 ||
	    check_addr(in->to, "to", e) < 0 || check_ids(in, e) < 0)
		return -1;
	if (check_line(in->from_name, MESSAGE_NAME_MAX, 0, "from_name", e) < 0 ||
	    check_line(in->title, MESSAGE_TITLE_MAX, 1, "title", e) < 0)
		return -1;
	if (check_body(in->message, mlen, MESSAGE_TEXT_MAX, 1, "message", e) < 0 ||
	    check_body(in->contact, in->contact ? strlen(in->contact) : 0, MESSAGE_CONTACT_MAX, 1,
		       "contact", e) < 0 ||
	    check_body(in->kyouji, in->kyouji ? strlen(in->kyouji) : 0, MESSAGE_KYOUJI_MAX, 0,
		       "kyouji", e) < 0)
		return -1;
	if (check_url(in->link, "link", e) < 0 || check_url(in->portal_url, "portal_url", e) < 0 ||
	    check_token(in->notice_code, MESSAGE_CODE_MAX, "-", "notice_code", e) < 0)
		return -1;
	if (in->auth != MESSAGE_AUTH_LINK && in->auth != MESSAGE_AUTH_OTP && in->auth != MESSAGE_AUTH_VALUE)
		return err_set(e, "message: auth is not a known method");
	if (in->auth == MESSAGE_AUTH_VALUE &&
	    check_body(in->auth_label, in->auth_label ? strlen(in->auth_label) : 0,
		       MESSAGE_LABEL_MAX, 1, "auth_label", e) < 0)
		return -1;
	if (in->auth == MESSAGE_AUTH_VALUE && strpbrk(in->auth_label, "\r\n\t") != NULL)
		return err_set(e, "message: auth_label holds a line break");
	if (in->charset != MESSAGE_UTF8 && in->charset != MESSAGE_ISO2022JP)
		return err_set(e, "message: charset is not a known one");
	if (in->encoding != MESSAGE_BASE64 && in->encoding != MESSAGE_QP)
		return err_set(e, "message: encoding is not a known one");
	return 0;
}

/* "2026-12-25" into "2026年12月25日（金）". */
static int deadline_ja(const char *s, char *out, size_t outsz, struct error *e)
{
	static const char *const wd[] = { "", "月", "火", "水", "木", "金", "土", "日" };
	int64_t y, m, d;
	char part[8];

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return err_set(e, "message: deadline is not a date (YYYY-MM-DD)");
	if (str_fmt(part, sizeof part, "%.4s", s) < 0 || parse_int64(part, 2000, 9999, &y) < 0 ||
	    str_fmt(part, sizeof part, "%.2s", s + 5) < 0 || parse_int64(part, 1, 12, &m) < 0 ||
	    str_fmt(part, sizeof part, "%.2s", s + 8) < 0 || parse_int64(part, 1, 31, &d) < 0 ||
	    !g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
		return err_set(e, "message: deadline is not a date (YYYY-MM-DD)");
	GDate *g = g_date_new_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y);
	GDateWeekday w = g_date_get_weekday(g);
	g_date_free(g);
	return str_fmt(out, outsz, "%d年%d月%d日（%s）", (int)y, (int)m, (int)d, wd[w]);
}

/* Text with CRLF and lone CR as LF; the caller frees. */
static char *lf_text(const char *s, size_t len)
{
	char *o = g_malloc(len + 1);
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			o[j++] = '\n';
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else {
			o[j++] = s[i];
		}
	}
	while (j > 0 && o[j - 1] == '\n')
		j--; /* the bodies put their own blank lines */
	o[j] = '\0';
	return o;
}

/* ------------------------------------------------------------ headers */

static int put_date(struct buf *out, time_t t)
{
	static const char *const day[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t jst = t + JST_OFFSET;
	struct tm tm;
	if (gmtime_r(&jst, &tm) == NULL)
		return -1;
	return buf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0900\r\n", day[tm.tm_wday],
			  tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			  tm.tm_sec);
}

static int put_headers(const struct message_input *in, struct buf *out, struct error *e)
{
	int jis = in->charset == MESSAGE_ISO2022JP;
	char local[2 * 16 + 1];
	uint8_t r[16];

	if (in->message_id_local == NULL) {
		if (random_bytes(r, sizeof r) < 0)
			return err_tmp(e, "message: no random bytes for the Message-ID");
		hex_encode(r, sizeof r, local);
	}
	int rc = put_date(out, in->date);
	rc |= buf_append_str(out, "From: ");
	if (rc == 0 && in->from_name != NULL && in->from_name[0] != '\0') {
		int pos = message_header_phrase(out, in->from_name, 6, jis);
		rc |= pos < 0 ? -1 : 0;
		rc |= buf_append_str(out, pos + strlen(in->from_addr) + 3 > 78 ? "\r\n " : " ");
	}
	rc |= buf_printf(out, "<%s>\r\n", in->from_addr);
	rc |= buf_printf(out, "Reply-To: <%s>\r\n", in->reply_to);
	rc |= buf_printf(out, "To: <%s>\r\n", in->to);
	if (rc == 0 && in->test) {
		char *s = g_strconcat("【テスト】", in->title, NULL);
		rc |= message_header_text(out, "Subject", s, jis);
		g_free(s);
	} else if (rc == 0) {
		rc |= message_header_text(out, "Subject", in->title, jis);
	}
	rc |= buf_printf(out, "Message-ID: <%s@%s>\r\n",
			 in->message_id_local ? in->message_id_local : local, in->msgid_domain);
	rc |= buf_append_str(out, "MIME-Version: 1.0\r\n");
	return rc < 0 ? err_set(e, "message: the message is over the output buffer's limit") : 0;
}

/* --------------------------------------------------------------- body */

static gpointer gmime_once(gpointer unused)
{
	(void)unused;
	g_mime_init();
	return GINT_TO_POINTER(1);
}

/* One text part over body's bytes (already in charset). */
static GMimeObject *text_part(const char *subtype, const struct buf *body, const char *charset,
			      GMimeContentEncoding enc)
{
	GMimeTextPart *tp = g_mime_text_part_new_with_subtype(subtype);
	GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)body->data, body->len);
	GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);

	g_mime_object_set_content_type_parameter(GMIME_OBJECT(tp), "charset", charset);
	g_mime_part_set_content(GMIME_PART(tp), w);
	g_mime_part_set_content_encoding(GMIME_PART(tp), enc);
	g_object_unref(w);
	g_object_unref(s);
	return GMIME_OBJECT(tp);
}

/* The longest line of b, in octets. */
static size_t longest_line(const struct buf *b)
{
	size_t best = 0, run = 0;
	for (size_t i = 0; i < b->len; i++) {
		run = b->data[i] == '\n' ? 0 : run + 1;
		if (run > best)
			best = run;
	}
	return best;
}

/*
 * body (UTF-8, LF) into the bytes a part carries, with its charset and
 * transfer encoding.  ISO-2022-JP is 7bit unless a line passes 998 octets
 * (then base64, which RFC 2045 allows for any charset).
 */
static int part_bytes(const struct message_input *in, const struct buf *body, struct buf *raw,
		      const char **charset, GMimeContentEncoding *enc)
{
	buf_reset(raw);
	if (in->charset == MESSAGE_ISO2022JP) {
		*charset = "ISO-2022-JP";
		if (message_jis_encode((const char *)body->data, body->len, raw) < 0)
			return -1;
		*enc = longest_line(raw) > 990 ? GMIME_CONTENT_ENCODING_BASE64
					       : GMIME_CONTENT_ENCODING_7BIT;
		return 0;
	}
	*charset = "UTF-8";
	*enc = in->encoding == MESSAGE_QP ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
					  : GMIME_CONTENT_ENCODING_BASE64;
	return buf_append(raw, body->data, body->len);
}

/* raw with every LF as CRLF (text in base64 is in canonical form); the
 * bytes between line ends are copied a line at a time. */
static int crlf(struct buf *raw)
{
	struct buf c;
	size_t run = 0;
	int rc = 0;
	buf_init(&c, raw->max);
	for (size_t i = 0; i < raw->len && rc == 0; i++)
		if (raw->data[i] == '\n') {
			rc = buf_append(&c, raw->data + run, i - run) < 0 || buf_append(&c, "\r\n", 2) < 0
				     ? -1 : 0;
			run = i + 1;
		}
	if (rc == 0 && raw->len > run)
		rc = buf_append(&c, raw->data + run, raw->len - run);
	if (rc == 0) {
		buf_free(raw);
		*raw = c;
	} else {
		buf_free(&c);
	}
	return rc;
}

static int add_part(GMimeMultipart *mp, const struct message_input *in, const char *subtype,
		    const struct buf *body)
{
	struct buf raw;
	const char *charset;
	GMimeContentEncoding enc;
	int rc = -1;

	buf_init(&raw, 8 * (size_t)MESSAGE_TEXT_MAX);
	if (part_bytes(in, body, &raw, &charset, &enc) == 0 &&
	    (enc != GMIME_CONTENT_ENCODING_BASE64 || crlf(&raw) == 0)) {
		GMimeObject *p = text_part(subtype, &raw, charset, enc);
		g_mime_multipart_add(mp, p);
		g_object_unref(p);
		rc = 0;
	}
	buf_free(&raw);
	return rc;
}

/* The multipart/alternative entity (its Content-Type field and body). */
static int put_body(const struct message_texts *t, struct buf *out, struct error *e)
{
	struct buf text, html;
	char boundary[48], hex[33];
	uint8_t r[16];
	int rc = -1;

	buf_init(&text, 2 * (size_t)MESSAGE_TEXT_MAX);
	buf_init(&html, 4 * (size_t)MESSAGE_TEXT_MAX);
	if (random_bytes(r, sizeof r) < 0) {
		err_tmp(e, "message: no random bytes for the boundary");
		goto out;
	}
	hex_encode(r, sizeof r, hex);
	str_fmt(boundary, sizeof boundary, "=_tayori_%s", hex);
	if (message_body_text(t, &text) < 0 || message_body_html(t, &html) < 0) {
		err_set(e, "message: the message text is too long");
		goto out;
	}
	GMimeMultipart *mp = g_mime_multipart_new_with_subtype("alternative");
	g_mime_multipart_set_boundary(mp, boundary);
	if (add_part(mp, t->in, "plain", &text) == 0 && add_part(mp, t->in, "html", &html) == 0) {
		GMimeFormatOptions *fo = g_mime_format_options_new();
		GMimeStream *s = g_mime_stream_mem_new();
		g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
		if (g_mime_object_write_to_stream(GMIME_OBJECT(mp), fo, s) >= 0) {
			GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
			rc = buf_append(out, ba->data, ba->len);
		}
		g_object_unref(s);
		g_mime_format_options_free(fo);
	}
	g_object_unref(mp);
	if (rc < 0)
		err_set(e, "message: the message is over the output buffer's limit");
out:
	buf_free(&text);
	buf_free(&html);
	return rc;
}

int message_build(const struct message_input *in, struct buf *out, struct error *e)
{
	static GOnce once = G_ONCE_INIT;
	struct message_texts t;
	size_t mlen, before = out->len;
	int rc = -1;

	if (in == NULL)
		return err_set(e, "message: no input");
	mlen = in->message_len != 0 ? in->message_len : in->message ? strlen(in->message) : 0;
	if (check_input(in, mlen, e) < 0)
		return -1;
	memset(&t, 0, sizeof t);
	t.in = in;
	if (deadline_ja(in->deadline, t.deadline, sizeof t.deadline, e) < 0)
		return -1;
	g_once(&once, gmime_once, NULL);
	t.message = lf_text(in->message, mlen);
	t.contact = lf_text(in->contact, strlen(in->contact));
	if (in->kyouji != NULL && in->kyouji[0] != '\0')
		t.kyouji = lf_text(in->kyouji, strlen(in->kyouji));
	if (put_headers(in, out, e) == 0 && put_body(&t, out, e) == 0)
		rc = 0;
	else if (out->data != NULL) {
		out->len = before;
		out->data[before] = '\0';
	}
	g_free(t.message);
	g_free(t.contact);
	g_free(t.kyouji);
	return rc;
}
