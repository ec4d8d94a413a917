/*
 * pdf_inert.c — what a resident's notice must not carry (see pdf_inert.h):
 * the verdict on one object, the report of what went, and a PDF given
 * whole written anew without it.  Runs in the gateway and the `tayori pdf`
 * commands, on attacker-influenced input: objects are read through qpdf's
 * C API only, walks are bounded.  Standards: ISO 32000-1 §12.6, §12.5.6,
 * §7.7.4, §12.7.8.
 */
#include <string.h>
#include <strings.h>
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_inert.h"
#include "pdf/pdf_syntax.h"

/* Outline items looked at, and how deep. */
#define OUTLINE_ITEMS_MAX 20000
#define OUTLINE_DEPTH_MAX 64

/* Action types (ISO 32000-1 Table 198, ISO 32000-2 Table 201), then the
 * annotation types that go, then what is neither. */
enum {
	WHAT_GOTO = 0, WHAT_GOTOR, WHAT_GOTOE, WHAT_GOTODP, WHAT_LAUNCH, WHAT_THREAD, WHAT_URI,
	WHAT_SOUND, WHAT_MOVIE, WHAT_HIDE, WHAT_NAMED, WHAT_SUBMITFORM, WHAT_RESETFORM,
	WHAT_IMPORTDATA, WHAT_SETOCGSTATE, WHAT_RENDITION, WHAT_TRANS, WHAT_GOTO3DVIEW,
	WHAT_JAVASCRIPT, WHAT_RICHMEDIAEXECUTE, WHAT_ACTIONS_END,
	WHAT_A_FILEATTACHMENT = WHAT_ACTIONS_END, WHAT_A_SOUND, WHAT_A_MOVIE, WHAT_A_SCREEN,
	WHAT_A_RICHMEDIA, WHAT_A_3D, WHAT_ANNOTS_END,
	WHAT_UNKNOWN = WHAT_ANNOTS_END, WHAT_NOT_HTTP, WHAT_TREE, WHAT_FILE, WHAT_COUNT
};

static const char *const what_names[WHAT_COUNT] = {
	"GoTo", "GoToR", "GoToE", "GoToDp", "Launch", "Thread", "URI", "Sound", "Movie", "Hide",
	"Named", "SubmitForm", "ResetForm", "ImportData", "SetOCGState", "Rendition", "Trans",
	"GoTo3DView", "JavaScript", "RichMediaExecute",
	"FileAttachment", "Sound", "Movie", "Screen", "RichMedia", "3D",
	"unknown", "non-http(s) URI", "", "embedded file",
};

int pdf_inert_what_count(void)
{
	return WHAT_COUNT;
}

const char *pdf_inert_what_name(int what)
{
	return what >= 0 && what < WHAT_COUNT ? what_names[what] : "unknown";
}

int pdf_inert_where_of(int what)
{
	if (what >= WHAT_ACTIONS_END && what < WHAT_ANNOTS_END)
		return PDF_W_ANNOT;
	return what == WHAT_FILE ? PDF_W_FILE : PDF_W_ACTION;
}

void pdf_removed_add(struct pdf_removed *r, int where, int what, int page)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].where == where && r->v[i].what == what) {
			if (page > 0 && (r->v[i].page == 0 || page < r->v[i].page))
				r->v[i].page = page;
			return;
		}
	if (r->n == PDF_REMOVED_MAX) {
		r->more++;
		return;
	}
	r->v[r->n].where = (uint8_t)where;
	r->v[r->n].what = (uint8_t)what;
	r->v[r->n].page = page;
	r->n++;
}

void pdf_removal_label(const struct pdf_removal *x, int page_too, char *out, size_t outsize)
{
	const char *w = pdf_inert_what_name(x->what);
	char at[32];

	if (x->where < PDF_W_PAGE_AA || x->page <= 0)
		str_copy(at, "document", sizeof(at));
	else if (page_too)
		str_fmt(at, sizeof(at), "page %d", x->page);
	else
		str_copy(at, "a page", sizeof(at));
	switch (x->where) {
	case PDF_W_DOC_OPENACTION:
		str_fmt(out, outsize, "%s: OpenAction %s action", at, w);
		break;
	case PDF_W_DOC_AA:
		str_fmt(out, outsize, "%s: catalog /AA %s action", at, w);
		break;
	case PDF_W_DOC_JAVASCRIPT:
		str_fmt(out, outsize, "%s: JavaScript name tree", at);
		break;
	case PDF_W_DOC_EMBEDDED:
		str_fmt(out, outsize, "%s: embedded files", at);
		break;
	case PDF_W_DOC_XFA:
		str_fmt(out, outsize, "%s: XFA form", at);
		break;
	case PDF_W_DOC_OUTLINE:
		str_fmt(out, outsize, "%s: outline %s action", at, w);
		break;
	case PDF_W_DOC_FIELD_AA:
		str_fmt(out, outsize, "%s: form field /AA %s action", at, w);
		break;
	case PDF_W_DOC_FIELD_A:
		str_fmt(out, outsize, "%s: form field %s action", at, w);
		break;
	case PDF_W_DOC_FILES:
		str_fmt(out, outsize, "%s: associated files or portfolio", at);
		break;
	case PDF_W_FILE:
		str_fmt(out, outsize, "%s: embedded file", at);
		break;
	case PDF_W_PAGE_AA:
		str_fmt(out, outsize, "%s: page /AA %s action", at, w);
		break;
	case PDF_W_ANNOT_AA:
		str_fmt(out, outsize, "%s: annotation /AA %s action", at, w);
		break;
	case PDF_W_ANNOT_ACTION:
		str_fmt(out, outsize, "%s: annotation %s action", at, w);
		break;
	case PDF_W_NEXT:
		str_fmt(out, outsize, "%s: chained (/Next) %s action", at, w);
		break;
	case PDF_W_ANNOT:
		str_fmt(out, outsize, "%s: %s annotation", at, w);
		break;
	default:
		str_fmt(out, outsize, "%s: %s action", at, w);
		break;
	}
}

/* ------------------------------------------------------------ verdicts */

static int name_index(const char *name, int from, int to)
{
	if (name == NULL || name[0] != '/')
		return -1;
	for (int i = from; i < to; i++)
		if (strcmp(name + 1, what_names[i]) == 0)
			return i;
	return -1;
}

static int is_name(qpdf_data q, qpdf_oh oh)
{
	return qpdf_oh_is_name(q, oh);
}

int pdf_inert_is_action(qpdf_data q, qpdf_oh d)
{
	qpdf_oh s;
	if (!qpdf_oh_is_dictionary(q, d))
		return 0;
	s = qpdf_oh_get_key(q, d, "/S");
	return is_name(q, s) && name_index(qpdf_oh_get_name(q, s), 0, WHAT_ACTIONS_END) >= 0;
}

int pdf_inert_action_what(qpdf_data q, qpdf_oh action)
{
	qpdf_oh s;
	int i;
	if (!qpdf_oh_is_dictionary(q, action))
		return WHAT_UNKNOWN;
	s = qpdf_oh_get_key(q, action, "/S");
	i = is_name(q, s) ? name_index(qpdf_oh_get_name(q, s), 0, WHAT_ACTIONS_END) : -1;
	return i < 0 ? WHAT_UNKNOWN : i;
}

/* A URI a resident may follow: http:// or https://, no control bytes. */
static int web_uri(qpdf_data q, qpdf_oh uri)
{
	size_t n = 0;
	const char *p;
	if (!qpdf_oh_is_string(q, uri))
		return 0;
	p = qpdf_oh_get_binary_string_value(q, uri, &n);
	if (p == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || p[i] == 0x7f)
			return 0;
	return (n > 7 && strncasecmp(p, "http://", 7) == 0) ||
	       (n > 8 && strncasecmp(p, "https://", 8) == 0);
}

/* -1: a kept action; else the "what" of a removed one. */
static int action_verdict(qpdf_data q, qpdf_oh d, int what)
{
	switch (what) {
	case WHAT_GOTO:
		return qpdf_oh_has_key(q, d, "/JS") ? WHAT_JAVASCRIPT : -1;
	case WHAT_URI:
		if (qpdf_oh_has_key(q, d, "/JS"))
			return WHAT_JAVASCRIPT;
		return web_uri(q, qpdf_oh_get_key(q, d, "/URI")) ? -1 : WHAT_NOT_HTTP;
	case WHAT_NAMED: {
		static const char *const pages[] = { "/NextPage", "/PrevPage", "/FirstPage",
						     "/LastPage" };
		qpdf_oh n = qpdf_oh_get_key(q, d, "/N");
		if (qpdf_oh_has_key(q, d, "/JS"))
			return WHAT_JAVASCRIPT;
		if (is_name(q, n))
			for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
				if (strcmp(qpdf_oh_get_name(q, n), pages[i]) == 0)
					return -1;
		return WHAT_NAMED;
	}
	default:
		return what;
	}
}

int pdf_inert_verdict(qpdf_data q, qpdf_oh oh, int strict)
{
	qpdf_oh s, sub;
	int what;

	if (!qpdf_oh_is_dictionary(q, oh))
		/* a destination array or name stands where /OpenAction may
		 * hold one; anything else in an action's place is nothing */
		return -1;
	s = qpdf_oh_get_key(q, oh, "/S");
	what = is_name(q, s) ? name_index(qpdf_oh_get_name(q, s), 0, WHAT_ACTIONS_END) : -1;
	if (what >= 0)
		return action_verdict(q, oh, what);
	if (qpdf_oh_has_key(q, oh, "/JS"))
		return WHAT_JAVASCRIPT;
	sub = qpdf_oh_get_key(q, oh, "/Subtype");
	if (is_name(q, sub) && (qpdf_oh_has_key(q, oh, "/Rect") ||
				qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, oh, "/Type"), "/Annot"))) {
		int a = name_index(qpdf_oh_get_name(q, sub), WHAT_ACTIONS_END, WHAT_ANNOTS_END);
		if (a >= 0)
			return a;
	}
	if (qpdf_oh_has_key(q, oh, "/EF"))
		return WHAT_FILE;
	if (strict || qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, oh, "/Type"), "/Action"))
		return WHAT_UNKNOWN;
	return -1;
}

/* ------------------------------------------------------------ whole files */

static void scan_aa(qpdf_data q, qpdf_oh aa, int where, struct pdf_removed *r)
{
	size_t n;
	char **keys;
	if (!qpdf_oh_is_dictionary(q, aa))
		return;
	keys = pdf_dict_keys(q, aa, &n);
	for (size_t i = 0; i < n; i++)
		pdf_removed_add(r, where, pdf_inert_action_what(q, qpdf_oh_get_key(q, aa, keys[i])), 0);
	pdf_keys_free(keys, n);
	if (n == 0)
		pdf_removed_add(r, where, WHAT_UNKNOWN, 0);
}

static void scan_outline(qpdf_data q, qpdf_oh first, int depth, size_t *seen,
			 struct pdf_removed *r)
{
	qpdf_oh item = first;
	while (qpdf_oh_is_dictionary(q, item) && *seen < OUTLINE_ITEMS_MAX) {
		int v;
		(*seen)++;
		if (qpdf_oh_has_key(q, item, "/A") &&
		    (v = pdf_inert_verdict(q, qpdf_oh_get_key(q, item, "/A"), 1)) >= 0)
			pdf_removed_add(r, PDF_W_DOC_OUTLINE, v, 0);
		if (depth < OUTLINE_DEPTH_MAX)
			scan_outline(q, qpdf_oh_get_key(q, item, "/First"), depth + 1, seen, r);
		item = qpdf_oh_get_key(q, item, "/Next");
	}
}

/* The form field tree: scripts of fields run on their triggers and in
 * calculations (/CO) even when no page shows the field. */
static void scan_fields(qpdf_data q, qpdf_oh fields, int depth, size_t *seen,
			struct pdf_removed *r)
{
	int n;
	if (!qpdf_oh_is_array(q, fields) || depth > OUTLINE_DEPTH_MAX)
		return;
	n = qpdf_oh_get_array_n_items(q, fields);
	for (int i = 0; i < n && *seen < OUTLINE_ITEMS_MAX; i++) {
		qpdf_oh f = qpdf_oh_get_array_item(q, fields, i);
		int v;
		if (!qpdf_oh_is_dictionary(q, f))
			continue;
		(*seen)++;
		if (qpdf_oh_has_key(q, f, "/AA"))
			scan_aa(q, qpdf_oh_get_key(q, f, "/AA"), PDF_W_DOC_FIELD_AA, r);
		if (qpdf_oh_has_key(q, f, "/A") &&
		    (v = pdf_inert_verdict(q, qpdf_oh_get_key(q, f, "/A"), 1)) >= 0)
			pdf_removed_add(r, PDF_W_DOC_FIELD_A, v, 0);
		scan_fields(q, qpdf_oh_get_key(q, f, "/Kids"), depth + 1, seen, r);
	}
}

/* The document-wide part (pages are the copier's). */
static void scan_catalog(qpdf_data q, struct pdf_removed *r)
{
	qpdf_oh root = qpdf_get_root(q), names, form, oa;
	size_t seen = 0;
	int v;

	oa = qpdf_oh_get_key(q, root, "/OpenAction");
	if (qpdf_oh_has_key(q, root, "/OpenAction") && (v = pdf_inert_verdict(q, oa, 1)) >= 0)
		pdf_removed_add(r, PDF_W_DOC_OPENACTION, v, 0);
	if (qpdf_oh_has_key(q, root, "/AA"))
		scan_aa(q, qpdf_oh_get_key(q, root, "/AA"), PDF_W_DOC_AA, r);
	names = qpdf_oh_get_key(q, root, "/Names");
	if (qpdf_oh_is_dictionary(q, names)) {
		if (qpdf_oh_has_key(q, names, "/JavaScript"))
			pdf_removed_add(r, PDF_W_DOC_JAVASCRIPT, WHAT_TREE, 0);
		if (qpdf_oh_has_key(q, names, "/EmbeddedFiles"))
			pdf_removed_add(r, PDF_W_DOC_EMBEDDED, WHAT_TREE, 0);
	}
	if (qpdf_oh_has_key(q, root, "/AF") || qpdf_oh_has_key(q, root, "/Collection"))
		pdf_removed_add(r, PDF_W_DOC_FILES, WHAT_TREE, 0);
	form = qpdf_oh_get_key(q, root, "/AcroForm");
	if (qpdf_oh_is_dictionary(q, form) && qpdf_oh_has_key(q, form, "/XFA"))
		pdf_removed_add(r, PDF_W_DOC_XFA, WHAT_TREE, 0);
	if (qpdf_oh_is_dictionary(q, form))
		scan_fields(q, qpdf_oh_get_key(q, form, "/Fields"), 0, &seen, r);
	seen = 0;
	oa = qpdf_oh_get_key(q, root, "/Outlines");
	if (qpdf_oh_is_dictionary(q, oa))
		scan_outline(q, qpdf_oh_get_key(q, oa, "/First"), 0, &seen, r);
	qpdf_oh_release_all(q);
}

int pdf_inert_rewrite(const uint8_t *data, size_t len, const char *password, int max_pages,
		      struct buf *out, struct pdf_removed *r, struct error *e)
{
	qpdf_data q = NULL;
	struct pdf_copier *c = NULL;
	struct pades_slot slot;
	int npages = 0, warned = 0, ret = -1;

	memset(r, 0, sizeof(*r));
	buf_reset(out);
	if (pdf_qpdf_open(data, len, password, max_pages, &q, &npages, &warned, e) < 0)
		return -1;
	scan_catalog(q, r);
	if (pdf_copier_new(q, &c, e) < 0)
		goto out;
	/* The copy says what the pages hold; it is kept only if needed. */
	if (pdf_copier_write(c, 1, npages, NULL, out, &slot, e) < 0)
		goto out;
	{
		const struct pdf_removed *pr = pdf_copier_removed(c);
		for (size_t i = 0; i < pr->n; i++)
			pdf_removed_add(r, pr->v[i].where, pr->v[i].what, pr->v[i].page);
		r->more += pr->more;
	}
	if (r->n == 0 && r->more == 0)
		buf_reset(out);
	ret = 0;
out:
	if (ret < 0)
		buf_reset(out);
	pdf_copier_free(&c);
	if (q)
		qpdf_cleanup(&q);
	return ret;
}
