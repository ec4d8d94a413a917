/*
 * pdf_check.c — the acceptance policy for input PDFs (see pdf_check.h):
 * sniffing, opening with qpdf, and the deep check of repaired files.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.5 (file structure),
 * §7.6 (encryption), §7.7.3 (page tree, inherited attributes).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_decode.h"

/* Objects the deep check visits before giving up: far above any real
 * notice batch, low enough to bound a hostile file's cost. */
#define DEEP_MAX_OBJECTS 4000000
/* Decoded bytes of one image in the deep check (counted, not kept);
 * other streams are held to [limits] pdf_stream_max. */
#define DEEP_MAX_IMAGE ((size_t)256 << 20)

static int starts_ci(const uint8_t *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n && strncasecmp((const char *)p, lit, n) == 0;
}

const char *pdf_sniff(const uint8_t *data, size_t len)
{
	size_t lim = len < PDF_SNIFF_LEN ? len : PDF_SNIFF_LEN;
	const uint8_t *p = data;
	size_t n = len;

	if (len == 0)
		return "the file is empty";
	/* %PDF- anywhere in the first 1024 bytes: ISO 32000-1 readers accept
	 * junk before the header, and so do qpdf and poppler. */
	for (size_t i = 0; i + 5 <= lim; i++)
		if (data[i] == '%' && memcmp(data + i, "%PDF-", 5) == 0)
			return NULL;

	if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "this is a PNG image, not a PDF";
	if (len >= 3 && memcmp(data, "\xff\xd8\xff", 3) == 0)
		return "this is a JPEG image, not a PDF";
	if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
		return "this is a GIF image, not a PDF";
	if (len >= 4 && (memcmp(data, "II*\0", 4) == 0 || memcmp(data, "MM\0*", 4) == 0))
		return "this is a TIFF image, not a PDF";
	if (len >= 4 && memcmp(data, "PK\3\4", 4) == 0)
		return "this is a ZIP archive (perhaps a Word or Excel file), not a PDF";
	if (len >= 8 && memcmp(data, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)
		return "this is an old-style Office document (Word or Excel), not a PDF";
	if (len >= 5 && memcmp(data, "{\\rtf", 5) == 0)
		return "this is an RTF document, not a PDF";

	/* Markup: skip a UTF-8 BOM and leading white space first. */
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	if (starts_ci(p, n, "<!doctype html") || starts_ci(p, n, "<html") ||
	    starts_ci(p, n, "<head") || starts_ci(p, n, "<body") || starts_ci(p, n, "<!--"))
		return "this is an HTML page, not a PDF";
	if (starts_ci(p, n, "<?xml"))
		return "this is an XML file, not a PDF";
	if (g_utf8_validate((const char *)data, (gssize)lim, NULL)) {
		int all_space = 1;
		for (size_t i = 0; i < lim && all_space; i++)
			if (!g_ascii_isspace(data[i]))
				all_space = 0;
		if (all_space && lim == len)
			return "the file holds only white space, not a PDF";
		return "this is a text file, not a PDF";
	}
	return "this is not a PDF (there is no %PDF- header in its first 1024 bytes)";
}

/* First pending warning of q as text into out (for a refusal message). */
static void first_warning(qpdf_data q, char *out, size_t outsize)
{
	out[0] = '\0';
	while (qpdf_more_warnings(q)) {
		qpdf_error w = qpdf_next_warning(q);
		if (w && out[0] == '\0')
			str_copy(out, qpdf_get_error_full_text(q, w), outsize);
	}
}

/* qpdf decodes object and cross-reference streams whole while it
 * opens a file: they are measured first, within [limits] pdf_stream_max. */
static int measure_streams(const uint8_t *data, size_t len, struct error *e)
{
	struct pdf_decoder *d = pdf_decoder_new();
	struct pdf_limits lim;
	long long num = -1;
	const char *kind = "";
	char sz[32];
	int rc;

	pdf_limits_get(&lim);
	rc = pdf_prescan(d, data, len, lim.stream_max, &num, &kind);
	pdf_decoder_free(&d);
	if (rc == PDF_DECODE_LIMIT)
		return err_set(e, "the PDF's %s (object %lld) decodes to more than %s "
			       "([limits] pdf_stream_max)", kind, num,
			       pdf_size_text(lim.stream_max, sz, sizeof sz));
	if (rc == PDF_DECODE_UNSUPPORTED)
		return err_set(e, "the PDF's %s (object %lld) uses filters tayori does not "
			       "decode", kind, num);
	return 0;
}

int pdf_qpdf_read(const uint8_t *data, size_t len, const char *password, int flags,
		  qpdf_data *out, int *code, struct error *e)
{
	qpdf_data q;
	qpdf_error err;
	enum qpdf_error_code_e c;
	const char *detail;

	*out = NULL;
	if (code)
		*code = qpdf_e_success;
	if (!(flags & PDF_READ_AGAIN) && measure_streams(data, len, e) < 0)
		return -1;
	q = qpdf_init();
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, QPDF_TRUE);
	if (!(qpdf_read_memory(q, "input", (const char *)data, (unsigned long long)len,
			       password && *password ? password : NULL) & QPDF_ERRORS)) {
		*out = q;
		return 0;
	}
	err = qpdf_get_error(q);
	c = err ? qpdf_get_error_code(q, err) : qpdf_e_internal;
	detail = err ? qpdf_get_error_message_detail(q, err) : "";
	if (code)
		*code = (int)c;
	if (c == qpdf_e_password) {
		if (password && *password)
			err_set(e, "the configured password does not open this encrypted PDF");
		else
			err_set(e, "the PDF is encrypted (password-protected)");
	} else if (c == qpdf_e_system) {
		err_tmp(e, "qpdf could not read the PDF: %s", detail);
	} else {
		/* detail lives only until the next qpdf_next_warning(). */
		char d[200], w[200];
		str_copy(d, detail, sizeof d);
		first_warning(q, w, sizeof w);
		err_set(e, "the PDF is damaged and qpdf cannot repair it (%s)",
			*d ? d : *w ? w : "no trailer or page tree could be found");
	}
	qpdf_cleanup(&q);
	return -1;
}

int pdf_qpdf_reopen(const uint8_t *data, size_t len, const char *password, qpdf_data *out,
		    struct error *e)
{
	if (pdf_qpdf_read(data, len, password, PDF_READ_AGAIN, out, NULL, e) < 0)
		return err_tmp(e, "qpdf cannot open the PDF again");
	return 0;
}

int pdf_qpdf_open(const uint8_t *data, size_t len, const char *password, int max_pages,
		  qpdf_data *out, int *npages, int *warned, struct error *e)
{
	const char *what = pdf_sniff(data, len);
	qpdf_data q = NULL;
	int n, code, ret = -1;

	*out = NULL;
	if (max_pages <= 0)
		max_pages = PDF_PAGES_MAX;
	if (what)
		return err_set(e, "%s", what);
	if (len > PDF_INPUT_MAX)
		return err_set(e, "the PDF is larger than the limit of %zu bytes", PDF_INPUT_MAX);
	if (pdf_qpdf_read(data, len, password, 0, &q, &code, e) < 0) {
		if (code == qpdf_e_password && !(password && *password))
			err_set(e, "the PDF is encrypted (password-protected); it is accepted only "
				   "when its password is configured");
		return -1;
	}
	if (qpdf_is_encrypted(q) && !(password && *password)) {
		/* An owner-password-only file opens without a password, but it
		 * is still an encrypted file the ward chose to restrict. */
		err_set(e, "the PDF is encrypted (with a permissions password); it is accepted only "
			   "when its password is configured");
		goto out;
	}
	n = qpdf_get_num_pages(q);
	if (n < 0 || qpdf_has_error(q)) {
		qpdf_error err = qpdf_get_error(q);
		err_set(e, "the PDF is damaged and qpdf cannot repair it (%s)",
			err ? qpdf_get_error_message_detail(q, err) : "the page tree is unreadable");
		goto out;
	}
	if (n == 0) {
		err_set(e, "the PDF has no pages");
		goto out;
	}
	if (n > max_pages) {
		err_set(e, "the PDF has %d pages, more than the limit of %d ([limits] pdf_pages)", n, max_pages);
		goto out;
	}
	*npages = n;
	*warned = qpdf_more_warnings(q) ? 1 : 0;
	*out = q;
	q = NULL;
	ret = 0;
out:
	if (q)
		qpdf_cleanup(&q);
	return ret;
}

/* PDF white space and delimiters (ISO 32000-1 §7.2.2). */
static int pdf_space(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

static int pdf_delim(unsigned char c)
{
	return strchr("()<>[]{}/%", c) != NULL && c != '\0';
}

/*
 * Is the resource /name present in the page's resource category (e.g.
 * "/Font")?  qpdf drops a dictionary entry whose object is missing, so a
 * font or image lost in a repair shows up here as an absent name.
 */
static int has_resource(qpdf_data q, qpdf_oh res, const char *category, const char *name)
{
	qpdf_oh dict = qpdf_oh_get_key_if_dict(q, res, category);
	int found = qpdf_oh_is_dictionary(q, dict) && qpdf_oh_has_key(q, dict, name);
	qpdf_oh_release(q, dict);
	return found;
}

/*
 * Scan a page's decoded content stream (ISO 32000-1 §7.8.2) for the fonts
 * (/Name size Tf) and XObjects (/Name Do) it uses, and check each is in
 * the page's resources.  A lexer just good enough to find names and
 * operators: strings, hex strings, comments and inline image data are
 * skipped.
 */
static int check_content_names(qpdf_data q, qpdf_oh page, int pg, const unsigned char *c,
			       size_t len, struct error *e)
{
	char prev[2][128] = { "", "" }; /* the last two operands, names as "/X" */
	qpdf_oh res = qpdf_oh_get_key_if_dict(q, page, "/Resources");
	size_t i = 0;
	int ret = -1;

	while (i < len) {
		unsigned char ch = c[i];
		char tok[128];
		size_t n = 0;

		if (pdf_space(ch)) {
			i++;
			continue;
		}
		if (ch == '%') {
			while (i < len && c[i] != '\n' && c[i] != '\r')
				i++;
			continue;
		}
		if (ch == '(') {
			int depth = 0;
			for (; i < len; i++) {
				if (c[i] == '\\') {
					i++;
				} else if (c[i] == '(') {
					depth++;
				} else if (c[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			str_copy(prev[0], prev[1], sizeof prev[0]);
			str_copy(prev[1], "()", sizeof prev[1]);
			continue;
		}
		if (ch == '<' && i + 1 < len && c[i + 1] != '<') {
			while (i < len && c[i] != '>')
				i++;
			i++;
			str_copy(prev[0], prev[1], sizeof prev[0]);
			str_copy(prev[1], "<>", sizeof prev[1]);
			continue;
		}
		if (pdf_delim(ch) && ch != '/') {
			i++;
			continue;
		}
		/* A name (with its #xx escapes decoded) or a regular token. */
		tok[n++] = (char)ch;
		i++;
		while (i < len && !pdf_space(c[i]) && !pdf_delim(c[i])) {
			char x = (char)c[i++];
			if (tok[0] == '/' && x == '#' && i + 1 < len && g_ascii_isxdigit(c[i]) &&
			    g_ascii_isxdigit(c[i + 1])) {
				x = (char)(g_ascii_xdigit_value(c[i]) * 16 + g_ascii_xdigit_value(c[i + 1]));
				i += 2;
			}
			if (n + 1 < sizeof tok)
				tok[n++] = x;
		}
		tok[n] = '\0';
		if (tok[0] != '/' && !g_ascii_isdigit(tok[0]) && tok[0] != '-' && tok[0] != '+' &&
		    tok[0] != '.') {
			/* An operator. */
			if (strcmp(tok, "Tf") == 0 && prev[0][0] == '/' &&
			    !has_resource(q, res, "/Font", prev[0])) {
				err_set(e, "the PDF is damaged and its repair lost content: page %d uses "
					   "the font %s, which is missing", pg, prev[0]);
				goto out;
			}
			if (strcmp(tok, "Do") == 0 && prev[1][0] == '/' &&
			    !has_resource(q, res, "/XObject", prev[1])) {
				err_set(e, "the PDF is damaged and its repair lost content: page %d uses "
					   "the image or form %s, which is missing", pg, prev[1]);
				goto out;
			}
			if (strcmp(tok, "ID") == 0) {
				/* Inline image data: binary up to white space + EI. */
				while (i + 2 < len && !(pdf_space(c[i]) && c[i + 1] == 'E' && c[i + 2] == 'I'))
					i++;
				i += 3;
			}
			prev[0][0] = prev[1][0] = '\0';
			continue;
		}
		str_copy(prev[0], prev[1], sizeof prev[0]);
		str_copy(prev[1], tok, sizeof prev[1]);
	}
	ret = 0;
out:
	qpdf_oh_release(q, res);
	return ret;
}

/*
 * A page's content streams decoded within the limits, joined by newlines,
 * into out.  -1 with e filled when one cannot be decoded or is too large.
 */
static int page_content(qpdf_data q, qpdf_oh page, int pg, struct pdf_decoder *d,
			struct buf *part, struct buf *out, struct error *e)
{
	struct pdf_limits lim;
	qpdf_oh c = qpdf_oh_get_key_if_dict(q, page, "/Contents");
	int n = qpdf_oh_is_array(q, c) ? qpdf_oh_get_array_n_items(q, c) : 1;
	char sz[32];

	pdf_limits_get(&lim);
	buf_reset(out);
	for (int i = 0; i < n; i++) {
		qpdf_oh s = qpdf_oh_is_array(q, c) ? qpdf_oh_get_array_item(q, c, i) : c;
		int rc = pdf_stream_decode(d, q, s, lim.stream_max, part, NULL);
		if (rc == PDF_DECODE_LIMIT)
			return err_set(e, "page %d: a content stream decodes to more than %s "
				       "([limits] pdf_stream_max)", pg,
				       pdf_size_text(lim.stream_max, sz, sizeof sz));
		if (rc != PDF_DECODE_OK)
			return err_set(e, "the PDF is damaged: the content of page %d cannot be read", pg);
		if ((out->len > 0 && buf_append_u8(out, '\n') < 0) ||
		    buf_append(out, part->data, part->len) < 0 || out->len > lim.page_max)
			return err_set(e, "page %d: its streams decode to more than %s together "
				       "([limits] pdf_page_decoded)", pg,
				       pdf_size_text(lim.page_max, sz, sizeof sz));
	}
	return 0;
}

/* Pages must still have their content, and use only resources that are
 * still there. */
static int check_pages(qpdf_data q, int npages, struct error *e)
{
	struct pdf_decoder *d = pdf_decoder_new();
	struct buf part, content;
	int ret = -1;

	buf_init(&part, SIZE_MAX / 2);
	buf_init(&content, SIZE_MAX / 2);
	for (int pg = 0; pg < npages; pg++) {
		qpdf_oh page = qpdf_get_page_n(q, (size_t)pg);
		int rc;

		if (!qpdf_oh_has_key(q, page, "/Contents")) {
			qpdf_oh_release(q, page);
			err_set(e, "the PDF is damaged and its repair lost content: page %d has "
				   "no content left", pg + 1);
			goto out;
		}
		rc = page_content(q, page, pg + 1, d, &part, &content, e);
		if (rc == 0)
			rc = check_content_names(q, page, pg + 1, content.data, content.len, e);
		qpdf_oh_release(q, page);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	buf_free(&part);
	buf_free(&content);
	pdf_decoder_free(&d);
	return ret;
}

/*
 * The deep check of a repaired file: walk every object reachable from the
 * pages (not up the page tree through /Parent), resolve it, decode every
 * stream.  A reference that resolves to nothing, or a stream qpdf cannot
 * decode, means the repair lost content.
 */
static int deep_check(qpdf_data q, int npages, struct error *e)
{
	GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	GArray *stack = g_array_new(FALSE, FALSE, sizeof(qpdf_oh));
	GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
	struct pdf_decoder *d = pdf_decoder_new();
	struct pdf_limits lim;
	size_t visited = 0, decoded = 0;
	int ret = -1;
	char w[200], sz[32];

	pdf_limits_get(&lim);

	/* Resources inherited from the page tree become the page's own, so
	 * skipping /Parent loses nothing. */
	if (qpdf_push_inherited_attributes_to_page(q) & QPDF_ERRORS) {
		qpdf_error err = qpdf_get_error(q);
		err_set(e, "the PDF is damaged and qpdf cannot repair it (%s)",
			err ? qpdf_get_error_message_detail(q, err) : "page tree");
		goto out;
	}
	for (int pg = 0; pg < npages; pg++) {
		qpdf_oh page = qpdf_get_page_n(q, (size_t)pg);
		g_array_append_val(stack, page);
		while (stack->len > 0) {
			qpdf_oh oh = g_array_index(stack, qpdf_oh, stack->len - 1);
			int id = qpdf_oh_get_object_id(q, oh);
			enum qpdf_object_type_e t;

			g_array_set_size(stack, stack->len - 1);
			if (id > 0) {
				if (g_hash_table_contains(seen, GINT_TO_POINTER(id))) {
					qpdf_oh_release(q, oh);
					continue;
				}
				g_hash_table_add(seen, GINT_TO_POINTER(id));
			}
			if (++visited > DEEP_MAX_OBJECTS) {
				err_set(e, "the PDF is damaged, and too large to check after repair");
				goto out;
			}
			t = qpdf_oh_get_type_code(q, oh);
			if (id > 0 && (t == ot_null || t == ot_uninitialized)) {
				err_set(e, "the PDF is truncated or damaged: page %d needs object %d, "
					   "which is missing", pg + 1, id);
				goto out;
			}
			if (t == ot_array) {
				int nitems = qpdf_oh_get_array_n_items(q, oh);
				for (int i = 0; i < nitems; i++) {
					qpdf_oh item = qpdf_oh_get_array_item(q, oh, i);
					g_array_append_val(stack, item);
				}
			} else if (t == ot_dictionary || t == ot_stream) {
				qpdf_oh dict = t == ot_stream ? qpdf_oh_get_dict(q, oh) : oh;
				pdf_dict_push_values(q, dict, keys, stack);
				if (t == ot_stream) {
					/* Counted, not kept, and never past the limits. */
					int image = qpdf_oh_is_name_and_equals(q,
						qpdf_oh_get_key(q, dict, "/Subtype"), "/Image");
					size_t cap = image && DEEP_MAX_IMAGE > lim.stream_max ? DEEP_MAX_IMAGE :
						     lim.stream_max;
					size_t n = 0;
					int rc;
					if (lim.doc_max - decoded < cap)
						cap = lim.doc_max - decoded;
					rc = pdf_stream_decode(d, q, oh, cap, NULL, &n);
					if (rc == PDF_DECODE_LIMIT) {
						if (cap < lim.stream_max || (image && cap < DEEP_MAX_IMAGE))
							err_set(e, "page %d: the PDF's streams decode to more than "
								"%s in all ([limits] pdf_decoded)", pg + 1,
								pdf_size_text(lim.doc_max, sz, sizeof sz));
						else if (image)
							err_set(e, "page %d: an image decodes to more than %s",
								pg + 1, pdf_size_text(cap, sz, sizeof sz));
						else
							err_set(e, "page %d: a stream decodes to more than %s "
								"([limits] pdf_stream_max)", pg + 1,
								pdf_size_text(cap, sz, sizeof sz));
						goto out;
					}
					if (rc == PDF_DECODE_BAD) {
						qpdf_error err = qpdf_get_error(q);
						err_set(e, "the PDF is truncated or damaged: a stream of page %d "
							   "cannot be read (%s)", pg + 1,
							err ? qpdf_get_error_message_detail(q, err) : "bad data");
						goto out;
					}
					/* Unsupported filters (image codecs) are not
					 * decoded by anything in tayori. */
					decoded += n;
					qpdf_oh_release(q, dict);
				}
			}
			if (qpdf_has_error(q)) {
				qpdf_error err = qpdf_get_error(q);
				err_set(e, "the PDF is damaged and qpdf cannot repair it (%s)",
					err ? qpdf_get_error_message_detail(q, err) : "object");
				goto out;
			}
			qpdf_oh_release(q, oh);
		}
	}
	if (check_pages(q, npages, e) < 0)
		goto out;
	first_warning(q, w, sizeof w);
	if (w[0]) {
		err_set(e, "the PDF is damaged and its repair lost content (%s)", w);
		goto out;
	}
	ret = 0;
out:
	g_ptr_array_free(keys, TRUE);
	g_array_free(stack, TRUE);
	g_hash_table_destroy(seen);
	pdf_decoder_free(&d);
	return ret;
}

/*
 * Every page's content streams decoded within [limits], counting only:
 * whatever mode the batch is split in, a page whose content is a
 * decompression bomb is refused here, before anything else reads it.
 */
static int scan_contents(qpdf_data q, int npages, struct error *e)
{
	struct pdf_decoder *d = pdf_decoder_new();
	struct pdf_limits lim;
	size_t total = 0;
	char sz[32];
	int ret = -1;

	pdf_limits_get(&lim);
	for (int pg = 0; pg < npages; pg++) {
		qpdf_oh page = qpdf_get_page_n(q, (size_t)pg);
		qpdf_oh c = qpdf_oh_get_key_if_dict(q, page, "/Contents");
		int n = qpdf_oh_is_array(q, c) ? qpdf_oh_get_array_n_items(q, c) : 1;
		size_t sum = 0;

		for (int i = 0; i < n; i++) {
			qpdf_oh s = qpdf_oh_is_array(q, c) ? qpdf_oh_get_array_item(q, c, i) : c;
			size_t cap = lim.stream_max, got = 0;
			int rc;
			if (!qpdf_oh_is_stream(q, s))
				continue;
			if (lim.page_max - sum < cap)
				cap = lim.page_max - sum;
			if (lim.doc_max - total < cap)
				cap = lim.doc_max - total;
			rc = pdf_stream_decode(d, q, s, cap, NULL, &got);
			if (rc == PDF_DECODE_LIMIT) {
				if (cap == lim.stream_max)
					err_set(e, "page %d: a content stream decodes to more than %s "
						"([limits] pdf_stream_max)", pg + 1,
						pdf_size_text(lim.stream_max, sz, sizeof sz));
				else if (cap == lim.page_max - sum)
					err_set(e, "page %d: its streams decode to more than %s together "
						"([limits] pdf_page_decoded)", pg + 1,
						pdf_size_text(lim.page_max, sz, sizeof sz));
				else
					err_set(e, "page %d: the PDF's streams decode to more than %s in all "
						"([limits] pdf_decoded)", pg + 1,
						pdf_size_text(lim.doc_max, sz, sizeof sz));
				goto out;
			}
			/* Broken or image-coded content is left to the readers,
			 * which show no text for it. */
			sum += got;
			total += got;
		}
		qpdf_oh_release_all(q);
	}
	ret = 0;
out:
	while (qpdf_more_warnings(q))
		qpdf_next_warning(q);
	if (qpdf_has_error(q))
		qpdf_get_error(q);
	pdf_decoder_free(&d);
	return ret;
}

int pdf_check(const uint8_t *data, size_t len, const char *password, int max_pages,
	      struct pdf_info *info, struct error *e)
{
	qpdf_data q = NULL;
	int npages = 0, warned = 0, ret = -1;

	if (info)
		memset(info, 0, sizeof *info);
	if (pdf_qpdf_open(data, len, password, max_pages, &q, &npages, &warned, e) < 0)
		return -1;
	if (warned) {
		/* Drop the warnings of the repair itself; any new one during
		 * the deep check means something could not be read. */
		char w[8];
		size_t tail = len < PDF_SNIFF_LEN ? len : PDF_SNIFF_LEN;
		first_warning(q, w, sizeof w);
		/* A file cut short loses whatever was written last (often the
		 * fonts): a repaired file must at least end like a PDF. */
		if (!memmem(data + len - tail, tail, "%%EOF", 5)) {
			err_set(e, "the PDF is truncated (it does not end with %%%%EOF) and qpdf had "
				   "to repair it; content may be lost");
			goto out;
		}
		if (deep_check(q, npages, e) < 0)
			goto out;
	} else if (scan_contents(q, npages, e) < 0) {
		goto out;
	}
	if (info) {
		info->pages = npages;
		info->encrypted = qpdf_is_encrypted(q) ? 1 : 0;
		info->repaired = warned;
		str_copy(info->version, qpdf_get_pdf_version(q), sizeof info->version);
	}
	ret = 0;
out:
	qpdf_cleanup(&q);
	return ret;
}
