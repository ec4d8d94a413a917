/*
 * pdf_copy_obj.c — the splitter's input objects (pdf_copy_int.h): found
 * by number in the copier's table, and each read once through qpdf and
 * turned into PDF bytes with bounded nesting, its references to other
 * objects noted so each new file can number them its own way, and its
 * active content left out (judged by pdf_inert.c).
 * Runs in the gateway and in `tayori pdf split`, on attacker-influenced
 * input.  Standards: ISO 32000-1 §7.3 (objects), §7.7.3.4 (inherited
 * page attributes), §12.6 (actions), §12.7.3 (form fields).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy_int.h"
#include "pdf/pdf_syntax.h"

static size_t slot_of(const struct pdf_copier *c, int id, int gen)
{
	uint64_t h = ((uint64_t)(uint32_t)id << 16) ^ (uint64_t)(uint16_t)gen;
	h *= 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 20) & (c->nslots - 1);
}

static void rehash(struct pdf_copier *c, size_t nslots)
{
	free(c->slots);
	c->nslots = nslots;
	c->slots = xcalloc(nslots, sizeof(*c->slots));
	for (size_t i = 0; i < c->nobjs; i++) {
		size_t s = slot_of(c, c->objs[i].id, c->objs[i].gen);
		while (c->slots[s])
			s = (s + 1) & (nslots - 1);
		c->slots[s] = (uint32_t)i + 1;
	}
}

uint32_t pdf_copy_obj_intern(struct pdf_copier *c, int id, int gen)
{
	size_t s = slot_of(c, id, gen);
	struct obj *o;

	for (; c->slots[s]; s = (s + 1) & (c->nslots - 1)) {
		o = &c->objs[c->slots[s] - 1];
		if (o->id == id && o->gen == gen)
			return c->slots[s] - 1;
	}
	if (c->nobjs == c->capobjs) {
		c->capobjs = c->capobjs ? 2 * c->capobjs : 1024;
		c->objs = xrealloc(c->objs, c->capobjs * sizeof(*c->objs));
	}
	o = &c->objs[c->nobjs];
	memset(o, 0, sizeof(*o));
	o->id = id;
	o->gen = gen;
	o->page = -1;
	o->on_page = -1;
	c->slots[s] = (uint32_t)c->nobjs + 1;
	c->nobjs++;
	if (2 * c->nobjs > c->nslots)
		rehash(c, 2 * c->nslots);
	return (uint32_t)c->nobjs - 1;
}

/* What is being serialised: bytes and the references among them. */
struct ser {
	struct pdf_copier *c;
	struct buf b;
	struct ref *refs;
	size_t nrefs, caprefs;
	int oom;
	int is_page;            /* the object is a page */
	int weak;               /* references made now are weak (a field's /Kids) */
	struct pdf_removed rm;  /* what was left out (pdf_inert.h) */
};

static void left_out(struct ser *s, int where, int what)
{
	pdf_removed_add(&s->rm, where, what, 0);
}

/* Every entry of an /AA dictionary, as left out. */
static void left_out_aa(struct ser *s, qpdf_oh aa, int where)
{
	qpdf_data q = s->c->q;
	size_t n = 0;
	char **keys = qpdf_oh_is_dictionary(q, aa) ? pdf_dict_keys(q, aa, &n) : NULL;
	for (size_t i = 0; i < n; i++)
		left_out(s, where, pdf_inert_action_what(q, qpdf_oh_get_key(q, aa, keys[i])));
	if (n == 0)
		left_out(s, where, pdf_inert_action_what(q, aa));
	pdf_keys_free(keys, n);
}

/* The actions of a /Next chain that would have been removed anyway. */
static void left_out_next(struct ser *s, qpdf_oh next)
{
	qpdf_data q = s->c->q;
	int v;
	if (qpdf_oh_is_array(q, next)) {
		int n = qpdf_oh_get_array_n_items(q, next);
		for (int i = 0; i < n && i < COPY_DEPTH_MAX; i++)
			if ((v = pdf_inert_verdict(q, qpdf_oh_get_array_item(q, next, i), 1)) >= 0)
				left_out(s, PDF_W_NEXT, v);
	} else if ((v = pdf_inert_verdict(q, next, 1)) >= 0) {
		left_out(s, PDF_W_NEXT, v);
	}
}

static void put(struct ser *s, const void *p, size_t n)
{
	if (buf_append(&s->b, p, n) < 0)
		s->oom = 1;
}

static void puts_(struct ser *s, const char *str)
{
	put(s, str, strlen(str));
}

static void put_ref(struct ser *s, uint32_t obj)
{
	if (s->nrefs == s->caprefs) {
		s->caprefs = s->caprefs ? 2 * s->caprefs : 8;
		s->refs = xrealloc(s->refs, s->caprefs * sizeof(*s->refs));
	}
	s->refs[s->nrefs].at = s->b.len;
	s->refs[s->nrefs].obj = obj;
	s->refs[s->nrefs].weak = s->weak;
	s->nrefs++;
}

static void put_name(struct ser *s, const char *name)
{
	if (pdf_put_name(&s->b, name) < 0)
		s->oom = 1;
}

/* A string: literal when printable ASCII, else hexadecimal. */
static void put_string(struct ser *s, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;
	for (i = 0; i < n && p[i] >= 0x20 && p[i] <= 0x7e; i++)
		;
	if (i == n) {
		put(s, "(", 1);
		for (i = 0; i < n; i++) {
			if (p[i] == '(' || p[i] == ')' || p[i] == '\\')
				put(s, "\\", 1);
			put(s, p + i, 1);
		}
		put(s, ")", 1);
		return;
	}
	put(s, "<", 1);
	for (i = 0; i < n; i++) {
		char h[2] = { hx[p[i] >> 4], hx[p[i] & 15] };
		put(s, h, 2);
	}
	put(s, ">", 1);
}

/* A real number as qpdf keeps it (the input's digits), checked. */
static void put_real(struct ser *s, const char *r)
{
	size_t n = r ? strlen(r) : 0;
	if (n == 0 || n > 64 || strspn(r, "0123456789.+-") != n)
		r = "0";
	puts_(s, r);
}

static int ser_value(struct ser *s, qpdf_oh oh, int depth, struct error *e);

/* The entries of a dictionary (no brackets), leaving out skip[] keys. */
static int ser_entries(struct ser *s, qpdf_oh d, const char *const *skip, int depth,
		       struct error *e)
{
	qpdf_data q = s->c->q;
	size_t n;
	char **keys = pdf_dict_keys(q, d, &n);
	int rc = 0, action = pdf_inert_is_action(q, d);

	for (size_t i = 0; i < n && rc == 0; i++) {
		qpdf_oh v;
		int skipped = 0, verdict;
		for (size_t k = 0; skip && skip[k]; k++)
			if (strcmp(keys[i], skip[k]) == 0)
				skipped = 1;
		if (skipped)
			continue;
		v = qpdf_oh_get_key(q, d, keys[i]);
		/* A key whose value is null is the same as no key (§7.3.7). */
		if (!qpdf_oh_is_indirect(q, v) && qpdf_oh_get_type_code(q, v) == ot_null)
			continue;
		/* Active content (pdf_inert.h): every /AA, an action that is
		 * not kept, a kept action's /Next, a direct dictionary that
		 * is a removed action or annotation. */
		if (strcmp(keys[i], "/AA") == 0) {
			left_out_aa(s, v, s->is_page && depth == 0 ? PDF_W_PAGE_AA : PDF_W_ANNOT_AA);
			continue;
		}
		if (action && strcmp(keys[i], "/Next") == 0) {
			left_out_next(s, v);
			continue;
		}
		if (strcmp(keys[i], "/A") == 0 || strcmp(keys[i], "/PA") == 0 ||
		    strcmp(keys[i], "/OpenAction") == 0) {
			if ((verdict = pdf_inert_verdict(q, v, 1)) >= 0) {
				left_out(s, PDF_W_ANNOT_ACTION, verdict);
				continue;
			}
		} else if (!qpdf_oh_is_indirect(q, v) &&
			   (verdict = pdf_inert_verdict(q, v, 0)) >= 0) {
			left_out(s, pdf_inert_where_of(verdict), verdict);
			continue;
		}
		put(s, " ", 1);
		put_name(s, keys[i]);
		put(s, " ", 1);
		/* A form field's /Kids lead down to the fields and widgets of
		 * every page: only those reached from the group's own pages
		 * (up through /Parent) are this file's; the others become
		 * null. */
		if (strcmp(keys[i], "/Kids") == 0 && !s->weak &&
		    (qpdf_oh_has_key(q, d, "/FT") || qpdf_oh_has_key(q, d, "/T") ||
		     qpdf_oh_has_key(q, d, "/Parent"))) {
			s->weak = 1;
			rc = ser_value(s, v, depth + 1, e);
			s->weak = 0;
		} else {
			rc = ser_value(s, v, depth + 1, e);
		}
	}
	pdf_keys_free(keys, n);
	return rc;
}

static int ser_items(struct ser *s, qpdf_oh a, int depth, struct error *e)
{
	qpdf_data q = s->c->q;
	int n = qpdf_oh_get_array_n_items(q, a);
	for (int i = 0; i < n; i++) {
		qpdf_oh v = qpdf_oh_get_array_item(q, a, i);
		int verdict;
		/* an item that is a removed action or annotation: left out
		 * (an indirect one becomes null when read, see pdf_copy_obj_read) */
		if (!qpdf_oh_is_indirect(q, v) && (verdict = pdf_inert_verdict(q, v, 0)) >= 0) {
			left_out(s, pdf_inert_where_of(verdict), verdict);
			continue;
		}
		put(s, " ", 1);
		if (ser_value(s, v, depth + 1, e) < 0)
			return -1;
	}
	return 0;
}

/* A page's /Annots: an annotation of a removed type is left out, even
 * when it is an object of its own. */
static int ser_annots(struct ser *s, qpdf_oh a, struct error *e)
{
	qpdf_data q = s->c->q;
	int n = qpdf_oh_get_array_n_items(q, a);
	for (int i = 0; i < n; i++) {
		qpdf_oh v = qpdf_oh_get_array_item(q, a, i);
		int verdict = pdf_inert_verdict(q, v, 0);
		if (verdict >= 0) {
			left_out(s, pdf_inert_where_of(verdict), verdict);
			continue;
		}
		put(s, " ", 1);
		if (ser_value(s, v, 2, e) < 0)
			return -1;
	}
	return 0;
}

/* One value; an indirect one (below the top) becomes a reference. */
static int ser_value(struct ser *s, qpdf_oh oh, int depth, struct error *e)
{
	qpdf_data q = s->c->q;

	if (depth > COPY_DEPTH_MAX)
		return err_set(e, "the PDF nests arrays or dictionaries more than %d deep",
			       COPY_DEPTH_MAX);
	if (depth > 0 && qpdf_oh_is_indirect(q, oh)) {
		put_ref(s, pdf_copy_obj_intern(s->c, qpdf_oh_get_object_id(q, oh),
					       qpdf_oh_get_generation(q, oh)));
		return 0;
	}
	switch (qpdf_oh_get_type_code(q, oh)) {
	case ot_boolean:
		puts_(s, qpdf_oh_get_bool_value(q, oh) ? "true" : "false");
		return 0;
	case ot_integer: {
		char num[32];
		int n = snprintf(num, sizeof(num), "%lld", qpdf_oh_get_int_value(q, oh));
		put(s, num, (size_t)n);
		return 0;
	}
	case ot_real:
		put_real(s, qpdf_oh_get_real_value(q, oh));
		return 0;
	case ot_string: {
		size_t n = 0;
		const char *p = qpdf_oh_get_binary_string_value(q, oh, &n);
		put_string(s, (const unsigned char *)p, p ? n : 0);
		return 0;
	}
	case ot_name:
		put_name(s, qpdf_oh_get_name(q, oh));
		return 0;
	case ot_array:
		put(s, "[", 1);
		if (ser_items(s, oh, depth, e) < 0)
			return -1;
		put(s, " ]", 2);
		return 0;
	case ot_dictionary:
		put(s, "<<", 2);
		if (ser_entries(s, oh, NULL, depth, e) < 0)
			return -1;
		put(s, " >>", 3);
		return 0;
	default:
		/* null, and what cannot stand here (a direct stream, an
		 * operator): null, as a reader would take it */
		puts_(s, "null");
		return 0;
	}
}

/* The attributes a page inherits from its ancestors (ISO 32000-1
 * §7.7.3.4), written on the page itself since its ancestors do not come
 * along; a value that is an indirect object stays a reference. */
static int ser_inherited(struct ser *s, qpdf_oh page, struct error *e)
{
	static const char *const inheritable[] = { "/Resources", "/MediaBox", "/CropBox", "/Rotate" };
	qpdf_data q = s->c->q;

	for (size_t k = 0; k < sizeof(inheritable) / sizeof(inheritable[0]); k++) {
		qpdf_oh node;
		if (qpdf_oh_has_key(q, page, inheritable[k]))
			continue;
		node = qpdf_oh_get_key(q, page, "/Parent");
		for (int depth = 0; depth < COPY_DEPTH_MAX && qpdf_oh_is_dictionary(q, node); depth++) {
			if (qpdf_oh_has_key(q, node, inheritable[k])) {
				put(s, " ", 1);
				put_name(s, inheritable[k]);
				put(s, " ", 1);
				if (ser_value(s, qpdf_oh_get_key(q, node, inheritable[k]), 1, e) < 0)
					return -1;
				break;
			}
			node = qpdf_oh_get_key(q, node, "/Parent");
		}
	}
	return 0;
}

void pdf_copy_obj_drop(struct pdf_copier *c, struct obj *o)
{
	c->cached -= o->len;
	free(o->text);
	free(o->refs);
	free(o->rm);
	o->text = NULL;
	o->refs = NULL;
	o->rm = NULL;
	o->len = o->nrefs = o->nrm = 0;
	o->annots_open = 0;
	o->state = OBJ_UNREAD;
}

static int damaged(qpdf_data q, int id, int gen, struct error *e)
{
	qpdf_error err = qpdf_get_error(q);
	return err_set(e, "the PDF is damaged: qpdf cannot read object %d %d (%s)", id, gen,
		       err ? qpdf_get_error_message_detail(q, err) : "unknown error");
}

static void keep_removed(struct obj *o, const struct pdf_removed *r)
{
	free(o->rm);
	o->rm = NULL;
	o->nrm = r->n;
	if (r->n) {
		o->rm = xcalloc(r->n, sizeof(*o->rm));
		memcpy(o->rm, r->v, r->n * sizeof(*o->rm));
	}
}

/* A stream: its dictionary, /Length its real length, the data as stored
 * (decode level none: filters and all). */
static int ser_stream(struct ser *s, qpdf_oh oh, int id, int gen, struct error *e)
{
	static const char *const stream_skip[] = { "/Length", NULL };
	qpdf_data q = s->c->q;
	unsigned char *data = NULL;
	size_t dlen = 0;
	char len[48];
	int rc = -1;

	if (qpdf_oh_get_stream_data(q, oh, qpdf_dl_none, NULL, &data, &dlen) & QPDF_ERRORS) {
		damaged(q, id, gen, e);
		goto out;
	}
	put(s, "<<", 2);
	if (ser_entries(s, qpdf_oh_get_dict(q, oh), stream_skip, 0, e) < 0)
		goto out;
	snprintf(len, sizeof(len), " /Length %zu >>\nstream\n", dlen);
	puts_(s, len);
	put(s, data, dlen);
	put(s, "\nendstream", 10);
	rc = 0;
out:
	free(data);
	return rc;
}

int pdf_copy_obj_read(struct pdf_copier *c, uint32_t idx, struct error *e)
{
	static const char *const page_skip[] = { "/Parent", "/Annots", NULL };
	qpdf_data q = c->q;
	struct ser s;
	int id = c->objs[idx].id, gen = c->objs[idx].gen, page = c->objs[idx].page;
	int annots_open = 0, field_root = 0, on_page = -1, rc = -1;
	qpdf_oh oh = qpdf_get_object_by_id(q, id, gen);
	enum qpdf_object_type_e type = qpdf_oh_get_type_code(q, oh);

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.is_page = page >= 0;
	buf_init(&s.b, PDF_INPUT_MAX);
	if (qpdf_has_error(q)) {
		damaged(q, id, gen, e);
		goto out;
	}
	if (page >= 0 && type != ot_dictionary) {
		err_set(e, "the PDF is damaged: page %d is not a dictionary", page + 1);
		goto out;
	}
	if (type == ot_stream) {
		if (ser_stream(&s, oh, id, gen, e) < 0)
			goto out;
	} else if (page >= 0) {
		qpdf_oh annots;
		put(&s, "<<", 2);
		if (ser_entries(&s, oh, page_skip, 0, e) < 0 || ser_inherited(&s, oh, e) < 0)
			goto out;
		/* /Annots goes last and stays open: page 1 of a signed file
		 * adds the signature's widget to it. */
		annots = qpdf_oh_get_key(q, oh, "/Annots");
		if (qpdf_oh_is_array(q, annots)) {
			puts_(&s, " /Annots [");
			if (ser_annots(&s, annots, e) < 0)
				goto out;
			annots_open = 1;
		}
	} else if (type == ot_null || type == ot_uninitialized || type == ot_reserved ||
		   type == ot_unresolved || type == ot_destroyed) {
		/* missing or free: references to it become null */
		c->objs[idx].state = OBJ_NULL;
		rc = 0;
		goto out;
	} else if (type == ot_dictionary && page != OBJ_STRUCTURE) {
		qpdf_oh p = qpdf_oh_get_key(q, oh, "/P");
		int verdict;
		/* an annotation: the page it is on */
		if (qpdf_oh_has_key(q, oh, "/Subtype") && qpdf_oh_is_indirect(q, p)) {
			uint32_t k = pdf_copy_obj_intern(c, qpdf_oh_get_object_id(q, p),
							 qpdf_oh_get_generation(q, p));
			on_page = c->objs[k].page >= 0 ? c->objs[k].page : -1;
		}
		field_root = !qpdf_oh_has_key(q, oh, "/Parent") &&
			     (qpdf_oh_has_key(q, oh, "/FT") ||
			      (qpdf_oh_has_key(q, oh, "/T") && qpdf_oh_has_key(q, oh, "/Kids")));
		/* an action or annotation that goes (pdf_inert.h), wherever it
		 * is referred to from: references to it become null */
		verdict = pdf_inert_verdict(q, oh, 0);
		if (verdict >= 0) {
			left_out(&s, pdf_inert_where_of(verdict), verdict);
			keep_removed(&c->objs[idx], &s.rm);
			c->objs[idx].state = OBJ_NULL;
			rc = 0;
			goto out;
		}
		if (ser_value(&s, oh, 0, e) < 0)
			goto out;
	} else if (ser_value(&s, oh, 0, e) < 0) {
		goto out;
	}
	if (qpdf_has_error(q)) {
		damaged(q, id, gen, e);
		goto out;
	}
	if (s.oom) {
		err_set(e, "object %d %d of the PDF is too large", id, gen);
		goto out;
	}
	{
		struct obj *o = &c->objs[idx]; /* intern() may have moved it */
		o->text = buf_steal(&s.b, &o->len);
		o->refs = s.refs;
		o->nrefs = s.nrefs;
		o->annots_open = annots_open;
		o->field_root = field_root;
		o->on_page = on_page;
		keep_removed(o, &s.rm);
		o->state = OBJ_READ;
		s.refs = NULL;
		c->cached += o->len;
	}
	rc = 0;
out:
	/* Handles are per qpdf_data and pile up otherwise; none is kept. */
	qpdf_oh_release_all(q);
	while (qpdf_more_warnings(q))
		qpdf_next_warning(q);
	buf_free(&s.b);
	free(s.refs);
	return rc;
}

