/*
 * pdf_copy.c — pages of an open PDF written as a new PDF of their own (see
 * pdf_copy.h).  Runs in the gateway and in `tayori pdf split`, on
 * attacker-influenced input: every object comes through qpdf's C API, is
 * serialised here with bounded nesting, and every number written is one
 * we assigned.  Standards: ISO 32000-1 §7.3 (objects), §7.5.4 (xref
 * table), §7.7.3 (page tree), §12.6 (actions, judged by pdf_inert.c),
 * §12.7.3 (form fields).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_inert.h"
#include "pdf/pdf_syntax.h"
#include "pdf/pdf_writer.h"

/* Nesting of direct arrays and dictionaries inside one object. */
#define COPY_DEPTH_MAX 64

enum obj_state { OBJ_UNREAD = 0, OBJ_READ, OBJ_NULL };

/* The input's catalog and the inner nodes of its page tree: never copied
 * (a reference to them, say from an annotation, becomes null), or one
 * resident's file could carry the whole document's structure. */
#define OBJ_STRUCTURE (-2)

/* A place in an object's bytes where a reference to another object goes. */
struct ref {
	size_t at;
	uint32_t obj;
	int weak;               /* not followed: written only if reached otherwise */
};

/* An input object: its bytes (without references) once read. */
struct obj {
	int id, gen;
	int page;               /* its 0-based page number, OBJ_STRUCTURE or -1 */
	enum obj_state state;
	uint8_t *text;
	size_t len;
	struct ref *refs;
	size_t nrefs;
	int annots_open;        /* pages: text ends inside "/Annots [ ..." */
	int field_root;         /* a form field with no parent field */
	int on_page;            /* an annotation: the 0-based page its /P names, or -1 */
	struct pdf_removal *rm; /* active content left out of text (page 0), */
	size_t nrm;             /* or, for an OBJ_NULL object, the object itself */
	uint32_t stamp, num;    /* numbered in the write with this stamp */
	int origin;             /* the first page of the write that reached it */
	uint32_t uses;          /* writes that have used it */
};

struct pdf_copier {
	qpdf_data q;
	int npages;
	char version[8];
	uint8_t id_base[16];
	uint64_t writes;
	struct obj *objs;
	size_t nobjs, capobjs;
	uint32_t *slots;        /* hash of (id, gen) -> index + 1 */
	size_t nslots;
	uint32_t *page_obj;     /* page number -> index */
	uint32_t *order;        /* the current write's objects, by number - 3 */
	size_t norder, caporder;
	struct pdf_writer w;     /* the current write's objects and offsets */
	uint32_t stamp;
	size_t cached;          /* bytes of text kept */
	struct pdf_removed removed; /* what the last write left out */
};

/* ------------------------------------------------------------ objects */

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

/* The index of object (id, gen), added unread when first seen. */
static uint32_t intern(struct pdf_copier *c, int id, int gen)
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
		 * (an indirect one becomes null when read, see obj_read) */
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
		put_ref(s, intern(s->c, qpdf_oh_get_object_id(q, oh),
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

static void drop_text(struct pdf_copier *c, struct obj *o)
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

/* Serialise object idx once. */
static int obj_read(struct pdf_copier *c, uint32_t idx, struct error *e)
{
	static const char *const page_skip[] = { "/Parent", "/Annots", NULL };
	static const char *const stream_skip[] = { "/Length", NULL };
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
		unsigned char *data = NULL;
		size_t dlen = 0;
		char len[48];
		/* decode level none: the data as stored, filters and all */
		if (qpdf_oh_get_stream_data(q, oh, qpdf_dl_none, NULL, &data, &dlen) & QPDF_ERRORS) {
			free(data);
			damaged(q, id, gen, e);
			goto out;
		}
		put(&s, "<<", 2);
		if (ser_entries(&s, qpdf_oh_get_dict(q, oh), stream_skip, 0, e) < 0) {
			free(data);
			goto out;
		}
		snprintf(len, sizeof(len), " /Length %zu >>\nstream\n", dlen);
		puts_(&s, len);
		put(&s, data, dlen);
		put(&s, "\nendstream", 10);
		free(data);
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
			uint32_t k = intern(c, qpdf_oh_get_object_id(q, p), qpdf_oh_get_generation(q, p));
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
			uint32_t k = intern(c, qpdf_oh_get_object_id(q, node),
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
		idx = intern(c, id, gen);
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
			uint32_t k = intern(c, qpdf_oh_get_object_id(q, root),
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
		if (c->objs[idx].state == OBJ_UNREAD && obj_read(c, idx, e) < 0)
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
			if (c->objs[to].state == OBJ_UNREAD && obj_read(c, to, e) < 0)
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
			drop_text(c, o);
	}
	if (c->cached <= PDF_COPY_CACHE)
		return;
	for (size_t i = 0; i < c->nobjs; i++)
		if (c->objs[i].state == OBJ_READ && c->objs[i].stamp != c->stamp)
			drop_text(c, &c->objs[i]);
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
