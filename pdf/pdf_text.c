/*
 * pdf_text.c — page text through poppler-glib, NFKC-normalised, in one or
 * more threads (see pdf_text.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §9.10 (text extraction,
 * ToUnicode CMaps), Unicode UAX #15 (NFKC).
 */
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <poppler.h>
#include "lib/util.h"
#include "pdf/pdf_text.h"

struct pdf_text {
	PopplerDocument *doc;
	GBytes *bytes;
	int npages;
};

int pdf_text_open(const uint8_t *data, size_t len, const char *password,
		  struct pdf_text **out, struct error *e)
{
	struct pdf_text *t;
	GError *gerr = NULL;

	*out = NULL;
	t = xcalloc(1, sizeof *t);
	/* No copy: the caller keeps data alive for the handle's lifetime. */
	t->bytes = g_bytes_new_static(data, len);
	t->doc = poppler_document_new_from_bytes(t->bytes, password && *password ? password : NULL,
						 &gerr);
	if (!t->doc) {
		if (gerr && g_error_matches(gerr, POPPLER_ERROR, POPPLER_ERROR_ENCRYPTED))
			err_set(e, "poppler cannot open the encrypted PDF with the configured password");
		else
			err_set(e, "poppler cannot read the PDF (%s)", gerr ? gerr->message : "unknown error");
		g_clear_error(&gerr);
		g_bytes_unref(t->bytes);
		free(t);
		return -1;
	}
	t->npages = poppler_document_get_n_pages(t->doc);
	*out = t;
	return 0;
}

int pdf_text_npages(const struct pdf_text *t)
{
	return t->npages;
}

char *pdf_text_page(struct pdf_text *t, int page, size_t *len, struct error *e)
{
	PopplerPage *pp;
	char *raw, *norm;
	size_t rawlen;

	if (page < 1 || page > t->npages) {
		err_set(e, "page %d does not exist (the PDF has %d)", page, t->npages);
		return NULL;
	}
	pp = poppler_document_get_page(t->doc, page - 1);
	if (!pp) {
		err_set(e, "poppler cannot read page %d", page);
		return NULL;
	}
	raw = poppler_page_get_text(pp);
	g_object_unref(pp);
	if (!raw)
		raw = g_strdup("");
	rawlen = strlen(raw);
	if (rawlen > PDF_TEXT_PAGE_MAX) {
		/* Cut at a character boundary before normalising. */
		const char *cut = g_utf8_find_prev_char(raw, raw + PDF_TEXT_PAGE_MAX);
		rawlen = cut ? (size_t)(cut - raw) : 0;
	}
	/* poppler emits UTF-8; should a broken font give anything else, the
	 * page is treated as having no readable text rather than failing. */
	norm = g_utf8_normalize(raw, (gssize)rawlen, G_NORMALIZE_NFKC);
	g_free(raw);
	if (!norm)
		norm = g_strdup("");
	if (len)
		*len = strlen(norm);
	return norm;
}

void pdf_text_close(struct pdf_text **t)
{
	if (!t || !*t)
		return;
	if ((*t)->doc)
		g_object_unref((*t)->doc);
	g_bytes_unref((*t)->bytes);
	free(*t);
	*t = NULL;
}

