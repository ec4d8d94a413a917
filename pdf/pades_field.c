/*
 * pades_field.c — the signature field of a PAdES signature or document
 * time stamp: the signature dictionary with room for /ByteRange and
 * /Contents, its field merged with an invisible widget on page 1, the new
 * revisions of page 1 (or its /Annots) and of the catalog (or its
 * /AcroForm) that list it, and, once the file is whole, the byte range
 * hashed and the signature filled in place.
 * Runs in the gateway and in `tayori pdf sign`.  Standards: ISO 32000-1
 * §12.7 (AcroForm, /SigFlags), §12.5.6.19 (widgets), §12.8 (signature
 * dictionaries, /ByteRange); ISO 32000-2 §12.8.5 (DocTimeStamp);
 * ETSI EN 319 142-1 (PAdES: /SubFilter ETSI.CAdES.detached, /M).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "pdf/pades_int.h"

/* The first leaf of the page tree (page 1), walking /Kids. */
static qpdf_oh first_page(qpdf_data q, struct error *e)
{
	qpdf_oh node = qpdf_oh_get_key(q, qpdf_get_root(q), "/Pages");
	for (int depth = 0; depth < PADES_MAX_DEPTH; depth++) {
		qpdf_oh kids;
		if (!qpdf_oh_is_dictionary(q, node))
			break;
		if (qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, node, "/Type"), "/Page") ||
		    !qpdf_oh_has_key(q, node, "/Kids"))
			return qpdf_oh_is_indirect(q, node) ? node : 0;
		kids = qpdf_oh_get_key(q, node, "/Kids");
		if (!qpdf_oh_is_array(q, kids) || qpdf_oh_get_array_n_items(q, kids) < 1)
			break;
		node = qpdf_oh_get_array_item(q, kids, 0);
	}
	err_set(e, "the PDF has no pages");
	return 0;
}

/* Does any top-level field already use this /T? */
static int field_name_used(qpdf_data q, qpdf_oh fields, const char *name)
{
	int n = fields != 0 && qpdf_oh_is_array(q, fields) ? qpdf_oh_get_array_n_items(q, fields) : 0;
	for (int i = 0; i < n; i++) {
		qpdf_oh f = qpdf_oh_get_array_item(q, fields, i);
		qpdf_oh t = qpdf_oh_get_key_if_dict(q, f, "/T");
		if (qpdf_oh_is_string(q, t) && strcmp(qpdf_oh_get_utf8_value(q, t), name) == 0)
			return 1;
	}
	return 0;
}

/* The name of the new field: o->field_name, or the first free
 * SignatureN (DocTimeStampN for a document time stamp). */
static int field_name(qpdf_data q, qpdf_oh fields, const struct pades_field *f, char *fname,
    size_t size, struct error *e)
{
	if (f->o->field_name != NULL && !f->doc_timestamp) {
		if (field_name_used(q, fields, f->o->field_name))
			return err_set(e, "a field named \"%s\" already exists", f->o->field_name);
		str_copy(fname, f->o->field_name, size);
		return 0;
	}
	for (int i = 1; i < 10000; i++) {
		str_fmt(fname, size, "%s%d", f->doc_timestamp ? "DocTimeStamp" : "Signature", i);
		if (!field_name_used(q, fields, fname))
			break;
	}
	return 0;
}

/* The reserved /Contents: '<', 2 * reserve zeros, '>'. */
static void put_contents_room(struct pdf_writer *w, size_t reserve)
{
	static const char zeros[256] = { [0 ... 255] = '0' };
	pdf_writer_put(w, "<", 1);
	for (size_t left = reserve * 2; left > 0 && !w->oom;) {
		size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
		pdf_writer_put(w, zeros, n);
		left -= n;
	}
	pdf_writer_put(w, ">", 1);
}

void pades_field_objects(struct pdf_writer *w, struct pades_field *f, const char *fname,
    int sig_id, int wid_id, int page_id, int page_gen)
{
	char mdate[32];
	struct tm tm;
	time_t tt;

	pdf_writer_begin(w, sig_id, 0);
	if (f->doc_timestamp) {
		pdf_writer_str(w, "<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161");
	} else {
		tt = (time_t)f->mtime;
		gmtime_r(&tt, &tm);
		strftime(mdate, sizeof(mdate), "D:%Y%m%d%H%M%SZ", &tm);
		pdf_writer_printf(w, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter "
		    "/ETSI.CAdES.detached /M (%s)", mdate);
		if (f->o->name) { pdf_writer_str(w, " /Name "); pdf_writer_text(w, f->o->name); }
		if (f->o->reason) { pdf_writer_str(w, " /Reason "); pdf_writer_text(w, f->o->reason); }
		if (f->o->location) {
			pdf_writer_str(w, " /Location ");
			pdf_writer_text(w, f->o->location);
		}
		if (f->o->contact_info) {
			pdf_writer_str(w, " /ContactInfo ");
			pdf_writer_text(w, f->o->contact_info);
		}
	}
	pdf_writer_str(w, "\n/ByteRange [");
	f->br_at = w->b->len;
	for (int i = 0; i < PADES_BR_WIDTH; i++)
		pdf_writer_put(w, " ", 1);
	pdf_writer_str(w, "]\n/Contents ");
	f->contents_at = w->b->len;
	put_contents_room(w, f->reserve);
	f->contents_end = w->b->len;
	pdf_writer_str(w, " >>");
	pdf_writer_end(w);

	pdf_writer_begin(w, wid_id, 0);
	pdf_writer_str(w, "<< /Type /Annot /Subtype /Widget /FT /Sig /T ");
	pdf_writer_text(w, fname);
	pdf_writer_printf(w, " /V %d 0 R /F 132 /Rect [0 0 0 0] /P %d %d R >>", sig_id, page_id,
	    page_gen);
	pdf_writer_end(w);
}

/* Page 1 lists the widget in /Annots: a new revision of the array when
 * it is indirect, else of the page. */
static void put_page_annots(struct pdf_writer *w, qpdf_data q, qpdf_oh page, int wid_id)
{
	static const char *const skip[] = { "/Annots", NULL };
	qpdf_oh annots = 0;

	if (qpdf_oh_has_key(q, page, "/Annots"))
		annots = qpdf_oh_get_key(q, page, "/Annots");
	if (annots != 0 && qpdf_oh_is_array(q, annots) && qpdf_oh_is_indirect(q, annots)) {
		pdf_writer_begin(w, qpdf_oh_get_object_id(q, annots),
		    qpdf_oh_get_generation(q, annots));
		pdf_writer_str(w, "[ ");
		pades_doc_put_items(w, q, annots);
		pdf_writer_printf(w, "%d 0 R ]", wid_id);
		pdf_writer_end(w);
		return;
	}
	pdf_writer_begin(w, qpdf_oh_get_object_id(q, page), qpdf_oh_get_generation(q, page));
	pdf_writer_str(w, "<<");
	pades_doc_put_entries(w, q, page, skip);
	pdf_writer_str(w, " /Annots [ ");
	if (annots != 0 && qpdf_oh_is_array(q, annots))
		pades_doc_put_items(w, q, annots);
	pdf_writer_printf(w, "%d 0 R ] >>", wid_id);
	pdf_writer_end(w);
}

/* /AcroForm gets the field and /SigFlags 3 (SignaturesExist |
 * AppendOnly): a new revision of the AcroForm object when it is
 * indirect, else of the catalog. */
static void put_acroform(struct pdf_writer *w, struct pades_doc *d, qpdf_oh acro,
    qpdf_oh fields, int wid_id)
{
	static const char *const skip[] = { "/Fields", "/SigFlags", NULL };
	static const char *const skip_root[] = { "/AcroForm", NULL };
	qpdf_data q = d->q;
	int acro_indirect = acro != 0 && qpdf_oh_is_indirect(q, acro);

	if (acro_indirect) {
		pdf_writer_begin(w, qpdf_oh_get_object_id(q, acro), qpdf_oh_get_generation(q, acro));
	} else {
		pdf_writer_begin(w, d->root_id, d->root_gen);
		pdf_writer_str(w, "<<");
		pades_doc_put_entries(w, q, qpdf_get_root(q), skip_root);
		pdf_writer_str(w, " /AcroForm");
	}
	pdf_writer_str(w, " <<");
	if (acro != 0)
		pades_doc_put_entries(w, q, acro, skip);
	pdf_writer_str(w, " /Fields [ ");
	if (fields != 0)
		pades_doc_put_items(w, q, fields);
	pdf_writer_printf(w, "%d 0 R ] /SigFlags 3 >>", wid_id);
	if (!acro_indirect)
		pdf_writer_str(w, " >>");
	pdf_writer_end(w);
}

int pades_field_add(struct pades_doc *d, const uint8_t *pdf, size_t len,
    struct pades_field *f, struct buf *out, struct error *e)
{
	qpdf_data q = d->q;
	qpdf_oh root = qpdf_get_root(q), page, acro = 0, fields = 0;
	struct pdf_writer w;
	int sig_id, wid_id;
	char fname[128];

	page = first_page(q, e);
	if (page == 0)
		return -1;
	if (qpdf_oh_has_key(q, root, "/AcroForm")) {
		acro = qpdf_oh_get_key(q, root, "/AcroForm");
		if (!qpdf_oh_is_dictionary(q, acro))
			acro = 0;
	}
	if (acro != 0 && qpdf_oh_has_key(q, acro, "/Fields"))
		fields = qpdf_oh_get_key(q, acro, "/Fields");
	if (fields != 0 && !qpdf_oh_is_array(q, fields))
		fields = 0;
	if (field_name(q, fields, f, fname, sizeof(fname), e) < 0)
		return -1;

	pades_doc_update(d, &w, out, pdf, len);
	sig_id = pdf_writer_new_id(&w);
	wid_id = pdf_writer_new_id(&w);
	pades_field_objects(&w, f, fname, sig_id, wid_id, qpdf_oh_get_object_id(q, page),
	    qpdf_oh_get_generation(q, page));
	put_page_annots(&w, q, page, wid_id);
	put_acroform(&w, d, acro, fields, wid_id);
	return pades_doc_finish(d, &w, e);
}

void pades_field_digest(struct buf *b, const struct pades_field *f, uint8_t md[32])
{
	char tmp[PADES_BR_WIDTH + 1];
	size_t total = b->len;
	int n = snprintf(tmp, sizeof(tmp), "0 %zu %zu %zu", f->contents_at, f->contents_end,
	    total - f->contents_end);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();

	memset(b->data + f->br_at, ' ', PADES_BR_WIDTH);
	memcpy(b->data + f->br_at, tmp, (size_t)n);
	EVP_DigestInit_ex(mc, EVP_sha256(), NULL);
	EVP_DigestUpdate(mc, b->data, f->contents_at);
	EVP_DigestUpdate(mc, b->data + f->contents_end, total - f->contents_end);
	EVP_DigestFinal_ex(mc, md, NULL);
	EVP_MD_CTX_free(mc);
}

void pades_field_fill(struct buf *b, const struct pades_field *f, const uint8_t *der,
    size_t len)
{
	static const char hx[] = "0123456789ABCDEF";
	uint8_t *p = b->data + f->contents_at + 1;
	for (size_t i = 0; i < len; i++) {
		p[2 * i] = (uint8_t)hx[der[i] >> 4];
		p[2 * i + 1] = (uint8_t)hx[der[i] & 15];
	}
}
