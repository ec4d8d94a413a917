/*
 * pdf_copy.c — pages of an open PDF written as a new PDF of their own (see
 * pdf_copy.h): which objects a group of pages needs, numbered for the new
 * file, and the file written (its objects' bytes come from
 * pdf_copy_obj.c, its xref table and trailer from pdf_writer.c).  Runs in
 * the gateway and in `tayori pdf split`, on attacker-influenced input:
 * every number written is one we assigned.  Standards: ISO 32000-1 §7.5
 * (file structure), §7.7.3 (page tree), §12.7.3 (form fields).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_copy_int.h"
#include "pdf/pdf_inert.h"
#include "pdf/pdf_syntax.h"
#include "pdf/pdf_writer.h"

/* ------------------------------------------------------------ the copier */

int pdf_copier_new(qpdf_data q, struct pdf_copier **out, struct error *e)
{
	struct pdf_copier *c;
	const char *v;
	int n;

	*out = NULL;
	n = qpdf_get_num_pages(q);
	if (n < 1 || qpdf_has_error(q))
		return err_set(e, "the PDF has no readable pages");
	c = xcalloc(1, sizeof(*c));
	c->q = q;
	c->npages = n;
	c->nslots = 4096;
	while (c->nslots < 4 * (size_t)n)
		c->nslots *= 2;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	c->page_obj = xcalloc((size_t)n, sizeof(*c->page_obj));
	for (int i = 0; i < n; i++) {
		qpdf_oh p = qpdf_get_page_n(q, (size_t)i), node;
		int id = qpdf_oh_get_object_id(q, p), gen = qpdf_oh_get_generation(q, p);
		uint32_t idx;
		/* The inner nodes above this page (the chain stops where an
		 * earlier page's walk did). */
		node = qpdf_oh_get_key(q, p, "/Parent");
		for (int depth = 0; depth < COPY_DEPTH_MAX && qpdf_oh_is_indirect(q, node); depth++) {
			uint32_t k = pdf_copy_obj_intern(c, qpdf_oh_get_object_id(q, node),
							 qpdf_oh_get_generation(q, node));
			if (c->objs[k].page != -1)
				break;
			c->objs[k].page = OBJ_STRUCTURE;
			node = qpdf_oh_get_key(q, node, "/Parent");
		}
		qpdf_oh_release_all(q);
		if (qpdf_has_error(q) || id <= 0) {
			pdf_copier_free(&c);
			return err_set(e, "the PDF is damaged: page %d cannot be read", i + 1);
		}
		idx = pdf_copy_obj_intern(c, id, gen);
		if (c->objs[idx].page >= 0) {
			pdf_copier_free(&c);
			return err_set(e, "the PDF is damaged: pages %d and %d are the same object",
				       c->objs[idx].page + 1, i + 1);
		}
		c->objs[idx].page = i;
		c->page_obj[i] = idx;
	}
	{
		qpdf_oh root = qpdf_get_root(q);
		if (qpdf_oh_is_indirect(q, root)) {
			uint32_t k = pdf_copy_obj_intern(c, qpdf_oh_get_object_id(q, root),
							 qpdf_oh_get_generation(q, root));
			if (c->objs[k].page == -1)
				c->objs[k].page = OBJ_STRUCTURE;
		}
		qpdf_oh_release_all(q);
	}
	v = qpdf_get_pdf_version(q);
	if (v && strlen(v) == 3 && v[0] >= '1' && v[0] <= '2' && v[1] == '.' && v[2] >= '0' &&
	    v[2] <= '9')
		str_copy(c->version, v, sizeof(c->version));
	else
		str_copy(c->version, "1.7", sizeof(c->version));
	if (RAND_bytes(c->id_base, sizeof(c->id_base)) != 1) {
		pdf_copier_free(&c);
		return err_tmp(e, "no random bytes for the file identifier");
	}
	*out = c;
	return 0;
}

void pdf_copier_set_source(struct pdf_copier *c, qpdf_data q)
{
	c->q = q;
}

void pdf_copier_free(struct pdf_copier **cp)
{
	struct pdf_copier *c = cp ? *cp : NULL;
	if (!c)
		return;
	for (size_t i = 0; i < c->nobjs; i++) {
		free(c->objs[i].text);
		free(c->objs[i].refs);
		free(c->objs[i].rm);
	}
	free(c->objs);
	free(c->slots);
	free(c->page_obj);
	free(c->order);
	pdf_writer_free(&c->w);
	free(c);
	*cp = NULL;
}

const struct pdf_removed *pdf_copier_removed(const struct pdf_copier *c)
{
	return &c->removed;
}

/* What object idx left out, found from page origin (0-based). */
static void note_removed(struct pdf_copier *c, uint32_t idx, int origin)
{
	const struct obj *o = &c->objs[idx];
	for (size_t i = 0; i < o->nrm; i++)
		pdf_removed_add(&c->removed, o->rm[i].where, o->rm[i].what, origin + 1);
}

static void order_push(struct pdf_copier *c, uint32_t idx, int origin)
{
	if (c->norder == c->caporder) {
		c->caporder = c->caporder ? 2 * c->caporder : 256;
		c->order = xrealloc(c->order, c->caporder * sizeof(*c->order));
	}
	c->order[c->norder++] = idx;
	c->objs[idx].stamp = c->stamp;
	c->objs[idx].num = (uint32_t)c->norder + 2;
	c->objs[idx].origin = origin;
	note_removed(c, idx, origin);
}

/* Number the pages and everything they reach (breadth first). */
static int collect(struct pdf_copier *c, int first, int count, struct error *e)
{
	if (++c->stamp == 0) {
		for (size_t i = 0; i < c->nobjs; i++)
			c->objs[i].stamp = 0;
		c->stamp = 1;
	}
	c->norder = 0;
	memset(&c->removed, 0, sizeof(c->removed));
	for (int p = first; p < first + count; p++) {
		uint32_t idx = c->page_obj[p];
		if (c->objs[idx].state == OBJ_UNREAD && pdf_copy_obj_read(c, idx, e) < 0)
			return -1;
		order_push(c, idx, p - first);
	}
	for (size_t i = 0; i < c->norder; i++) {
		uint32_t from = c->order[i];
		for (size_t r = 0; r < c->objs[from].nrefs; r++) {
			uint32_t to = c->objs[from].refs[r].obj;
			if (c->objs[from].refs[r].weak)
				continue;
			if (c->objs[to].stamp == c->stamp || c->objs[to].page != -1)
				continue; /* numbered already, someone else's page, or structure */
			if (c->objs[to].state == OBJ_UNREAD && pdf_copy_obj_read(c, to, e) < 0)
				return -1;
			if (c->objs[to].state == OBJ_NULL) {
				note_removed(c, to, c->objs[from].origin);
				continue;
			}
			/* an annotation of a page outside the group (a form
			 * field's widget on another resident's page, reached
			 * through the field's /Kids): not this file's */
			if (c->objs[to].on_page >= 0 &&
			    (c->objs[to].on_page < first || c->objs[to].on_page >= first + count))
				continue;
			order_push(c, to, c->objs[from].origin);
		}
	}
	return 0;
}

/* An object's bytes with its references numbered for this write. */
static void emit_obj(struct pdf_copier *c, const struct obj *o, struct buf *out, int *oom)
{
	size_t at = 0;
	for (size_t r = 0; r < o->nrefs; r++) {
		const struct obj *to = &c->objs[o->refs[r].obj];
		if (buf_append(out, o->text + at, o->refs[r].at - at) < 0)
			*oom = 1;
		if (to->stamp == c->stamp) {
			if (buf_printf(out, "%u 0 R", to->num) < 0)
				*oom = 1;
		} else if (buf_append_str(out, "null") < 0) {
			*oom = 1;
		}
		at = o->refs[r].at;
	}
	if (buf_append(out, o->text + at, o->len - at) < 0)
		*oom = 1;
}

/*
 * After a write: what no earlier write used (a page, its content, its own
 * resources) is not kept, since the next resident is unlikely to use it;
 * what a second write uses (fonts, images, a logo) is shared, and kept.
 * Past the cap, only what the last write used is kept.
 */
static void trim_cache(struct pdf_copier *c)
{
	for (size_t i = 0; i < c->norder; i++) {
		struct obj *o = &c->objs[c->order[i]];
		if (++o->uses < 2 && o->state == OBJ_READ)
			pdf_copy_obj_drop(c, o);
	}
	if (c->cached <= PDF_COPY_CACHE)
		return;
	for (size_t i = 0; i < c->nobjs; i++)
		if (c->objs[i].state == OBJ_READ && c->objs[i].stamp != c->stamp)
			pdf_copy_obj_drop(c, &c->objs[i]);
}

/* The cross-reference table and a trailer with a file identifier unique
 * to this file: a random base and a count. */
static int finish(struct pdf_copier *c, uint32_t nobj)
{
	static const char hx[] = "0123456789ABCDEF";
	char id[80];
	struct pdf_trailer t = { .size = (int)nobj, .root_id = 1, .root_gen = 0, .id = id,
				 .prev = -1 };

	c->writes++;
	memcpy(id, "[ <", 3);
	for (int i = 0; i < 16; i++) {
		uint8_t b = c->id_base[i] ^ (i < 8 ? (uint8_t)(c->writes >> (8 * i)) : 0);
		id[3 + 2 * i] = hx[b >> 4];
		id[3 + 2 * i + 1] = hx[b & 15];
	}
	memcpy(id + 35, "> <", 3);
	memcpy(id + 38, id + 3, 32);
	memcpy(id + 70, "> ]", 4);
	return pdf_writer_finish(&c->w, PDF_XREF_TABLE, &t);
}

int pdf_copier_write(struct pdf_copier *c, int first_page, int count,
		     const struct pdf_copy_sig *sig, struct buf *out, struct pades_slot *slot,
		     struct error *e)
{
	uint32_t nobj, sig_id = 0, wid_id = 0;
	int oom = 0, pdf2 = c->version[0] == '2';

	buf_reset(out);
	if (first_page < 1 || count < 1 || count > c->npages ||
	    first_page > c->npages - count + 1)
		return err_set(e, "pages %d-%d do not exist (the PDF has %d)", first_page,
			       first_page + count - 1, c->npages);
	if (collect(c, first_page - 1, count, e) < 0)
		return -1;
	nobj = (uint32_t)c->norder + 3;
	if (sig) {
		sig_id = nobj++;
		wid_id = nobj++;
	}
	/* Signature fields came with PDF 1.3 and ETSI.CAdES.detached with
	 * PDF 2.0; validators read it in any version, so the input's version
	 * stays, raised to 1.7 (ISO 32000-1) for a signed file. */
	if (buf_printf(out, "%%PDF-%s\n%%\xE2\xE3\xCF\xD3\n",
		       sig && !pdf2 && strcmp(c->version, "1.7") < 0 ? "1.7" : c->version) < 0)
		oom = 1;

	pdf_writer_reset(&c->w, out);
	pdf_writer_record(&c->w, 1, 0, out->len);
	if (buf_append_str(out, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R") < 0)
		oom = 1;
	/* The form fields the pages' widgets belong to (their values show
	 * through the widgets' appearances), and the signature's. */
	{
		int fields = 0;
		for (size_t i = 0; i < c->norder; i++) {
			const struct obj *o = &c->objs[c->order[i]];
			if (!o->field_root)
				continue;
			if (!fields++ && buf_append_str(out, " /AcroForm << /Fields [") < 0)
				oom = 1;
			if (buf_printf(out, " %u 0 R", o->num) < 0)
				oom = 1;
		}
		if (sig && buf_printf(out, "%s %u 0 R ] /SigFlags 3 >>",
				      fields ? "" : " /AcroForm << /Fields [", wid_id) < 0)
			oom = 1;
		else if (!sig && fields && buf_append_str(out, " ] >>") < 0)
			oom = 1;
	}
	if (buf_append_str(out, " >>\nendobj\n") < 0)
		oom = 1;

	pdf_writer_record(&c->w, 2, 0, out->len);
	if (buf_append_str(out, "2 0 obj\n<< /Type /Pages /Kids [") < 0)
		oom = 1;
	for (int i = 0; i < count; i++)
		if (buf_printf(out, " %d 0 R", 3 + i) < 0)
			oom = 1;
	if (buf_printf(out, " ] /Count %d >>\nendobj\n", count) < 0)
		oom = 1;

	for (size_t i = 0; i < c->norder && !oom; i++) {
		const struct obj *o = &c->objs[c->order[i]];
		pdf_writer_record(&c->w, (int)o->num, 0, out->len);
		if (buf_printf(out, "%u 0 obj\n", o->num) < 0)
			oom = 1;
		emit_obj(c, o, out, &oom);
		if (o->page >= 0) {
			/* the page's open /Annots, the widget, its new parent */
			const char *tail = o->annots_open ? " ]" : "";
			if (sig && i == 0)
				oom |= buf_printf(out, "%s %u 0 R ]", o->annots_open ? "" : " /Annots [",
						  wid_id) < 0;
			else
				oom |= buf_append_str(out, tail) < 0;
			oom |= buf_append_str(out, " /Parent 2 0 R >>") < 0;
		}
		if (buf_append_str(out, "\nendobj\n") < 0)
			oom = 1;
	}
	if (sig && !oom && pades_slot_write(&c->w, sig->popt, sig->mtime, sig->reserve, (int)sig_id,
					    (int)wid_id, 3, slot) < 0)
		oom = 1;
	if (!oom && finish(c, nobj) < 0)
		oom = 1;
	trim_cache(c);
	if (oom) {
		buf_reset(out);
		return err_set(e, "the PDF for pages %d-%d would be larger than %zu bytes", first_page,
			       first_page + count - 1, out->max);
	}
	return 0;
}
