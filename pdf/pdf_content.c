/*
 * pdf_content.c — the text reader's content-stream interpreter: the
 * operators that select fonts, move the text position and show strings
 * (q/Q, cm, BT, Tf, Td, TD, Tm, T*, Tc, Tw, Tz, TL, Tj, TJ, ', "), form
 * XObjects run through Do, inline images skipped (BI/ID/EI); shown codes
 * decoded through the fonts of pdf_font.c, and words separated by where
 * each string starts against where the previous one ended (see
 * pdf_fasttext.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.8.2, §8.2, §8.4.4 (q, Q,
 * cm), §8.9.7, §8.10, §9.3, §9.4.
 */
#include <math.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_cmap.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_font.h"
#include "pdf/pdf_lex.h"
#include "pdf/pdf_fasttext_int.h"

/* Separation of two shown strings, in units of the font size. */
#define FT_WORD_GAP     0.1   /* forward gap that is a space */
#define FT_BACK_GAP     -0.5  /* backward move that is a space */
#define FT_LINE_GAP     0.5   /* baseline shift that is a new line */

/* One content stream (page or form) with its resources. */
struct content {
	qpdf_oh res;
	struct {
		char name[FT_NAME_MAX + 1];
		struct pdf_font *f;
	} names[FT_NAMECACHE];
	int nnames;
};

static void want_sep(struct page_run *r, int c)
{
	if (c == '\n' || r->sep == 0)
		r->sep = c;
}

static void put_cp(struct page_run *r, uint32_t cp)
{
	char u[8];
	int n;

	if (r->full || cp == 0)
		return;
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (r->sep) {
		if (r->ft->out.len > 0) {
			uint8_t last = r->ft->out.data[r->ft->out.len - 1];
			if (last != ' ' && last != '\n' && buf_append_u8(&r->ft->out, (uint8_t)r->sep) < 0) {
				r->full = 1;
				return;
			}
		}
		r->sep = 0;
	}
	n = g_unichar_to_utf8(cp, u);
	if (buf_append(&r->ft->out, u, (size_t)n) < 0)
		r->full = 1;
}

static void put_val(struct page_run *r, const struct pdf_cmap *m, uint32_t v)
{
	if (v & PDF_CMAP_SEQ) {
		const uint32_t *s = pdf_cmap_seq(m, v);
		for (uint32_t i = 0; i < s[0]; i++)
			put_cp(r, s[1 + i]);
	} else {
		put_cp(r, v);
	}
}

static void mat_mul_translate(double *m, double tx, double ty)
{
	/* [1 0 0 1 tx ty] x m */
	m[4] += tx * m[0] + ty * m[2];
	m[5] += tx * m[1] + ty * m[3];
}

/* Does the string about to be shown continue the last one? */
static void place(struct page_run *r, const struct gstate *g, const struct pdf_font *f)
{
	double dx, dy, det, ux, uy, em, along, across;

	if (!r->have_prev)
		return;
	if (g->ctm != r->pctm) {
		want_sep(r, '\n');
		return;
	}
	dx = r->tm[4] - r->px;
	dy = r->tm[5] - r->py;
	if (dx == 0 && dy == 0)
		return;
	det = r->tm[0] * r->tm[3] - r->tm[1] * r->tm[2];
	em = fabs(g->fs);
	if (!(fabs(det) > 1e-12) || !(em > 1e-9) || !isfinite(det) || !isfinite(dx) || !isfinite(dy)) {
		want_sep(r, '\n');
		return;
	}
	/* The move in text space, in units of the font size. */
	ux = (r->tm[3] * dx - r->tm[2] * dy) / det / em;
	uy = (r->tm[0] * dy - r->tm[1] * dx) / det / em;
	if (f->vertical) {
		along = -uy;
		across = ux;
	} else {
		along = ux / (g->th > 1e-6 ? g->th : 1);
		across = uy;
	}
	if (!(fabs(across) <= FT_LINE_GAP))
		want_sep(r, '\n');
	else if (!(along <= FT_WORD_GAP && along >= FT_BACK_GAP))
		want_sep(r, ' ');
}

static void advance(struct page_run *r, const struct gstate *g, const struct pdf_font *f,
		    double w0, int space)
{
	if (f->vertical) {
		double ty = -(w0 * g->fs + g->tc + (space ? g->tw : 0));
		mat_mul_translate(r->tm, 0, ty);
	} else {
		double tx = (w0 * g->fs + g->tc + (space ? g->tw : 0)) * g->th;
		mat_mul_translate(r->tm, tx, 0);
	}
}

static void show(struct page_run *r, const uint8_t *s, size_t n)
{
	struct gstate *g = &r->gs[r->gsd];
	struct pdf_font *f = g->font;

	if (!f)
		return; /* no font selected: nothing is shown (as poppler does) */
	if (f->bad) {
		ft_set_bad(r, f->bad);
		return;
	}
	place(r, g, f);
	if (!f->cid) {
		for (size_t i = 0; i < n; i++) {
			uint32_t v = f->tu ? pdf_cmap_get(f->tu, s[i]) : 0;
			if (v)
				put_val(r, f->tu, v);
			else if (f->simple[s[i]] == PDF_FONT_BAD)
				ft_set_bad(r, "a simple font whose encoding is not known");
			else
				put_cp(r, f->simple[s[i]]);
			advance(r, g, f, f->widths[s[i]] / 1000.0, s[i] == ' ');
		}
	} else {
		size_t i = 0;
		while (i < n) {
			size_t cl = f->identity ? 2 : pdf_cmap_code_len(f->enc, s + i, n - i);
			uint32_t code = 0, v;
			if (cl > n - i)
				break; /* a partial code at the end */
			for (size_t j = 0; j < cl; j++)
				code = code << 8 | s[i + j];
			v = pdf_cmap_get(f->tu, code);
			if (v)
				put_val(r, f->tu, v);
			else if (code == 0)
				want_sep(r, ' '); /* .notdef */
			else
				ft_set_bad(r, "a code its ToUnicode CMap does not map");
			advance(r, g, f, pdf_font_width(f, code) / 1000.0, cl == 1 && code == 32);
			i += cl;
		}
	}
	r->px = r->tm[4];
	r->py = r->tm[5];
	r->pctm = g->ctm;
	r->have_prev = 1;
}

/* pdf_font_load()'s way to decode a CMap stream: within the page's limits. */
static int font_decode(void *ctx, qpdf_oh s, const char *what, struct buf *out)
{
	return pdf_fasttext_decode(ctx, s, what, out);
}

/* The font named name in the content's resources, or NULL. */
static struct pdf_font *font_lookup(struct page_run *r, struct content *c, const char *name)
{
	struct pdf_fasttext *ft = r->ft;
	qpdf_data q = ft->q;
	char key[FT_NAME_MAX + 2];
	struct pdf_font *f = NULL;
	qpdf_oh fo;
	uint64_t k;

	for (int i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i].name, name) == 0)
			return c->names[i].f;
	if (str_fmt(key, sizeof key, "/%s", name) < 0)
		return NULL;
	fo = qpdf_oh_get_key(q, qpdf_oh_get_key(q, c->res, "/Font"), key);
	if (!qpdf_oh_is_dictionary(q, fo))
		goto out; /* missing: poppler shows nothing either */
	if (qpdf_oh_is_indirect(q, fo)) {
		k = ft_obj_key(q, fo);
		f = g_hash_table_lookup(ft->fonts, &k);
		if (!f) {
			if (g_hash_table_size(ft->fonts) >= FT_FONTS_MAX) {
				ft_set_bad(r, "more fonts than the limit");
				goto out;
			}
			f = pdf_font_load(q, fo, font_decode, r, &ft->cmapbuf, &ft->bud);
			g_hash_table_insert(ft->fonts, g_memdup2(&k, sizeof k), f);
		}
	} else {
		if (r->nowned >= FT_PAGE_FONTS) {
			ft_set_bad(r, "more fonts than the limit");
			goto out;
		}
		f = pdf_font_load(q, fo, font_decode, r, &ft->cmapbuf, &ft->bud);
		r->owned[r->nowned++] = f;
	}
out:
	if (c->nnames < FT_NAMECACHE) {
		str_copy(c->names[c->nnames].name, name, sizeof c->names[0].name);
		c->names[c->nnames].f = f;
		c->nnames++;
	}
	return f;
}

/* Do: run a form XObject (§8.10); images and the rest show no text. */
static void do_xobject(struct page_run *r, struct content *c, const char *name)
{
	qpdf_data q = r->ft->q;
	char key[FT_NAME_MAX + 2];
	qpdf_oh xo, dict, fres;
	struct buf *d;
	int id;
	struct gstate saved;
	int saved_d, saved_over;
	double tm[6], tlm[6];

	if (str_fmt(key, sizeof key, "/%s", name) < 0)
		return;
	xo = qpdf_oh_get_key(q, qpdf_oh_get_key(q, c->res, "/XObject"), key);
	if (!qpdf_oh_is_stream(q, xo))
		return;
	dict = qpdf_oh_get_dict(q, xo);
	if (!qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, dict, "/Subtype"), "/Form"))
		return;
	id = qpdf_oh_get_object_id(q, xo);
	for (int i = 0; i < r->depth; i++)
		if (r->form_ids[i] == id)
			return; /* a cycle: poppler stops there too */
	if (r->depth >= FT_FORM_DEPTH || ++r->forms > FT_FORMS_PAGE) {
		ft_set_bad(r, "form XObjects nested or repeated beyond the limits");
		return;
	}
	d = &r->ft->forms[r->depth];
	if (pdf_fasttext_decode(r, xo, "a form XObject", d) != PDF_DECODE_OK) {
		ft_set_bad(r, "a form XObject that cannot be decoded");
		return;
	}
	fres = qpdf_oh_get_key(q, dict, "/Resources");
	if (!qpdf_oh_is_dictionary(q, fres))
		fres = c->res; /* inherited from the page (older files) */

	want_sep(r, '\n');
	saved = r->gs[r->gsd];
	saved_d = r->gsd;
	saved_over = r->gsover;
	memcpy(tm, r->tm, sizeof tm);
	memcpy(tlm, r->tlm, sizeof tlm);
	r->gs[r->gsd].ctm = ++r->ctm_next; /* the form's /Matrix */
	r->form_ids[r->depth++] = id;
	pdf_content_run(r, d->data, d->len, fres);
	r->depth--;
	r->gsd = saved_d;
	r->gsover = saved_over;
	r->gs[r->gsd] = saved;
	memcpy(r->tm, tm, sizeof tm);
	memcpy(r->tlm, tlm, sizeof tlm);
	want_sep(r, '\n');
}

static double num_op(const struct pdf_fasttext *ft, int nops, int i)
{
	/* i counts from the end: 1 is the last operand. */
	const struct lexop *o = &ft->ops[nops - i];
	return o->t == TOK_NUM ? o->num : 0;
}

static int ops_are(const struct pdf_fasttext *ft, int nops, const char *types)
{
	int n = (int)strlen(types);
	if (nops < n)
		return 0;
	for (int i = 0; i < n; i++) {
		enum pdf_tok want = types[i] == 'n' ? TOK_NUM : types[i] == 's' ? TOK_STR :
				types[i] == 'a' ? TOK_AOPEN : TOK_NAME;
		if (ft->ops[nops - n + i].t != want)
			return 0;
	}
	return 1;
}

static void next_line(struct page_run *r, double tx, double ty)
{
	mat_mul_translate(r->tlm, tx, ty);
	memcpy(r->tm, r->tlm, sizeof r->tm);
}

static void op(struct page_run *r, struct content *c, const struct pdf_token *t, int nops)
{
	struct pdf_fasttext *ft = r->ft;
	struct gstate *g = &r->gs[r->gsd];
	const uint8_t *k = t->kw;
	size_t n = t->kwlen;
	char name[FT_NAME_MAX + 1];

#define IS(s) (n == sizeof(s) - 1 && memcmp(k, s, n) == 0)
	if (n == 0 || n > 2)
		return;
	if (IS("Tj")) {
		if (ops_are(ft, nops, "s"))
			show(r, ft->scratch.data + ft->ops[nops - 1].off, ft->ops[nops - 1].len);
	} else if (IS("TJ")) {
		if (!ops_are(ft, nops, "a"))
			return;
		const struct lexop *a = &ft->ops[nops - 1];
		for (size_t i = 0; i < a->len; i++) {
			const struct lexop *el = &ft->elems[a->off + i];
			if (el->t == TOK_STR) {
				show(r, ft->scratch.data + el->off, el->len);
			} else if (el->t == TOK_NUM && g->font) {
				double d = -el->num / 1000.0 * g->fs;
				if (g->font->vertical)
					mat_mul_translate(r->tm, 0, d);
				else
					mat_mul_translate(r->tm, d * g->th, 0);
			}
		}
	} else if (IS("'")) {
		next_line(r, 0, -g->tl);
		if (ops_are(ft, nops, "s"))
			show(r, ft->scratch.data + ft->ops[nops - 1].off, ft->ops[nops - 1].len);
	} else if (IS("\"")) {
		if (ops_are(ft, nops, "nns")) {
			g->tw = num_op(ft, nops, 3);
			g->tc = num_op(ft, nops, 2);
		}
		next_line(r, 0, -g->tl);
		if (ops_are(ft, nops, "s"))
			show(r, ft->scratch.data + ft->ops[nops - 1].off, ft->ops[nops - 1].len);
	} else if (IS("Td")) {
		if (ops_are(ft, nops, "nn"))
			next_line(r, num_op(ft, nops, 2), num_op(ft, nops, 1));
	} else if (IS("TD")) {
		if (ops_are(ft, nops, "nn")) {
			g->tl = -num_op(ft, nops, 1);
			next_line(r, num_op(ft, nops, 2), num_op(ft, nops, 1));
		}
	} else if (IS("T*")) {
		next_line(r, 0, -g->tl);
	} else if (IS("Tm")) {
		if (ops_are(ft, nops, "nnnnnn")) {
			for (int i = 0; i < 6; i++)
				r->tlm[i] = r->tm[i] = num_op(ft, nops, 6 - i);
		}
	} else if (IS("BT")) {
		static const double id[6] = { 1, 0, 0, 1, 0, 0 };
		memcpy(r->tm, id, sizeof id);
		memcpy(r->tlm, id, sizeof id);
	} else if (IS("Tf")) {
		if (ops_are(ft, nops, "/n")) {
			const struct lexop *o = &ft->ops[nops - 2];
			size_t l = o->len < FT_NAME_MAX ? o->len : FT_NAME_MAX;
			memcpy(name, ft->scratch.data + o->off, l);
			name[l] = '\0';
			g->font = font_lookup(r, c, name);
			g->fs = num_op(ft, nops, 1);
		}
	} else if (IS("Tc")) {
		if (ops_are(ft, nops, "n"))
			g->tc = num_op(ft, nops, 1);
	} else if (IS("Tw")) {
		if (ops_are(ft, nops, "n"))
			g->tw = num_op(ft, nops, 1);
	} else if (IS("Tz")) {
		if (ops_are(ft, nops, "n"))
			g->th = num_op(ft, nops, 1) / 100.0;
	} else if (IS("TL")) {
		if (ops_are(ft, nops, "n"))
			g->tl = num_op(ft, nops, 1);
	} else if (IS("q")) {
		if (r->gsd + 1 < FT_GSTACK) {
			r->gs[r->gsd + 1] = *g;
			r->gsd++;
		} else {
			r->gsover++;
		}
	} else if (IS("Q")) {
		if (r->gsover > 0)
			r->gsover--;
		else if (r->gsd > 0)
			r->gsd--;
	} else if (IS("cm")) {
		g->ctm = ++r->ctm_next;
	} else if (IS("Do")) {
		if (ops_are(ft, nops, "/")) {
			const struct lexop *o = &ft->ops[nops - 1];
			size_t l = o->len < FT_NAME_MAX ? o->len : FT_NAME_MAX;
			memcpy(name, ft->scratch.data + o->off, l);
			name[l] = '\0';
			do_xobject(r, c, name);
		}
	}
#undef IS
}

void pdf_content_run(struct page_run *r, const uint8_t *data, size_t len, qpdf_oh res)
{
	struct pdf_fasttext *ft = r->ft;
	struct content c;
	struct pdf_lex l;
	struct pdf_token t;
	int nops = 0, arr = 0, dict = 0;
	size_t nelems = 0;

	if (r->lexed > FT_LEXED_PAGE || len > FT_LEXED_PAGE - r->lexed) {
		ft_set_bad(r, "more content than the limit");
		return;
	}
	r->lexed += len;
	if (data == NULL || len == 0)
		return; /* an empty content stream shows nothing */
	memset(&c, 0, sizeof c);
	c.res = res;
	buf_reset(&ft->scratch);
	pdf_lex_init(&l, data, len, &ft->scratch);
	while (!r->bad && !r->full) {
		pdf_lex_next(&l, &t);
		if (t.t == TOK_EOF)
			break;
		if (dict > 0) {
			/* Dictionaries (marked content properties) show no text. */
			if (t.t == TOK_DOPEN)
				dict++;
			else if (t.t == TOK_DCLOSE)
				dict--;
			if (dict == 0 && arr == 0 && nops < FT_OPERANDS)
				ft->ops[nops++].t = TOK_DOPEN;
			continue;
		}
		if (t.t == TOK_DOPEN) {
			dict = 1;
			continue;
		}
		if (arr > 0) {
			if (t.t == TOK_AOPEN) {
				arr++;
			} else if (t.t == TOK_ACLOSE) {
				if (--arr == 0) {
					struct lexop *o;
					if (nops == FT_OPERANDS) {
						memmove(ft->ops, ft->ops + 1, (FT_OPERANDS - 1) * sizeof *ft->ops);
						nops--;
					}
					o = &ft->ops[nops++];
					o->t = TOK_AOPEN;
					o->off = 0;
					o->len = nelems;
				}
			} else if (arr == 1 && (t.t == TOK_NUM || t.t == TOK_STR)) {
				if (nelems == FT_ELEMS) {
					ft_set_bad(r, "an array longer than the limit");
					break;
				}
				ft->elems[nelems].t = t.t;
				ft->elems[nelems].num = t.num;
				ft->elems[nelems].off = t.off;
				ft->elems[nelems].len = t.len;
				nelems++;
			}
			continue;
		}
		switch (t.t) {
		case TOK_AOPEN:
			arr = 1;
			nelems = 0; /* one array operand at a time is kept */
			for (int i = 0; i < nops; i++)
				if (ft->ops[i].t == TOK_AOPEN)
					ft->ops[i].t = TOK_EOF;
			break;
		case TOK_NUM:
		case TOK_NAME:
		case TOK_STR:
			if (nops == FT_OPERANDS) {
				memmove(ft->ops, ft->ops + 1, (FT_OPERANDS - 1) * sizeof *ft->ops);
				nops--;
			}
			ft->ops[nops].t = t.t;
			ft->ops[nops].num = t.num;
			ft->ops[nops].off = t.off;
			ft->ops[nops].len = t.len;
			nops++;
			break;
		case TOK_KW:
			if (l.overflow) {
				ft_set_bad(r, "strings longer than the limit");
				break;
			}
			if (t.kwlen == 2 && t.kw[0] == 'B' && t.kw[1] == 'I') {
				/* The image dictionary, then the data after ID. */
				struct pdf_token u;
				do
					pdf_lex_next(&l, &u);
				while (u.t != TOK_EOF && !pdf_lex_kw_is(&u, "ID"));
				pdf_lex_skip_inline_image(&l);
			} else {
				op(r, &c, &t, nops);
			}
			nops = 0;
			nelems = 0;
			buf_reset(&ft->scratch);
			l.overflow = 0;
			break;
		default:
			break; /* stray ] or >> */
		}
	}
	/* Strings cut by the limit reach no operator: say so. */
	if (l.overflow)
		ft_set_bad(r, "strings longer than the limit");
}
