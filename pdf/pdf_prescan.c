/*
 * pdf_prescan.c — the object streams and cross-reference streams of a
 * PDF's bytes decoded (counting only, within the cap) before qpdf opens
 * the file, since qpdf decodes those itself, whole (see pdf_prescan() in
 * pdf_decode.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.3.8 (streams), §7.5.7
 * (object streams), §7.5.8 (cross-reference streams).
 */
#include <string.h>
#include "lib/util.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_decode_int.h"
#include "pdf/pdf_syntax.h"

/*
 * qpdf decodes object streams (§7.5.7) and cross-reference streams
 * (§7.5.8) itself, whole, when it opens a file or resolves an object kept
 * in one.  So those are found in the bytes first: every "N G obj" whose
 * dictionary has /N and /First (what qpdf needs to read an object stream)
 * or /W or /Type /XRef or /ObjStm, followed by stream data, is decoded
 * here, counting only.  The dictionary is read forward from the object's
 * header with the token reader of pdf_syntax.h, as qpdf reads an object
 * at its offset.
 */

/* A /DecodeParms dictionary (opened) into f. */
static int r_parms(struct pdf_lex *l, struct pdf_filter *f)
{
	struct pdf_token k, v;
	f->predictor = 1;
	f->colors = 1;
	f->bpc = 8;
	f->columns = 1;
	f->early_change = 1;
	for (;;) {
		enum pdf_val rv;
		pdf_syntax_next(l, &k);
		if (k.t == PDF_TOK_DCLOSE)
			break;
		if (k.t != PDF_TOK_NAME)
			return PDF_DECODE_BAD;
		rv = pdf_syntax_value(l, &v);
		if (rv == PDF_VAL_DICT || rv == PDF_VAL_ARRAY) {
			if (pdf_syntax_skip(l, rv == PDF_VAL_DICT ? PDF_TOK_DCLOSE : PDF_TOK_ACLOSE,
					    1) < 0)
				return PDF_DECODE_BAD;
			continue;
		}
		if (rv == PDF_VAL_REF)
			return PDF_DECODE_UNSUPPORTED;
		if (rv != PDF_VAL_INT)
			continue;
		if (strcmp(k.name, "/Predictor") == 0 && v.num >= 0 && v.num <= 15)
			f->predictor = (int)v.num;
		else if (strcmp(k.name, "/Colors") == 0 && v.num >= 1 && v.num <= COLORS_MAX)
			f->colors = (int)v.num;
		else if (strcmp(k.name, "/BitsPerComponent") == 0 &&
			 (v.num == 1 || v.num == 2 || v.num == 4 || v.num == 8 || v.num == 16))
			f->bpc = (int)v.num;
		else if (strcmp(k.name, "/Columns") == 0 && v.num >= 1 && v.num <= COLUMNS_MAX)
			f->columns = (int)v.num;
		else if (strcmp(k.name, "/EarlyChange") == 0 && (v.num == 0 || v.num == 1))
			f->early_change = (int)v.num;
		else if (strcmp(k.name, "/Predictor") == 0 || strcmp(k.name, "/Colors") == 0 ||
			 strcmp(k.name, "/BitsPerComponent") == 0 || strcmp(k.name, "/Columns") == 0 ||
			 strcmp(k.name, "/EarlyChange") == 0)
			return PDF_DECODE_BAD;
	}
	return PDF_DECODE_OK;
}

struct rstream {
	int objstm, xref;        /* /N and /First; /Type /ObjStm or /XRef */
	int xrefw;               /* /W or /Type /XRef */
	int have_n, have_first;
	long long length;        /* direct /Length, or -1 */
	struct pdf_filter f[PDF_FILTERS_MAX];
	size_t nf;
	int filters_rc;          /* pdf_decode_rc of reading /Filter, /DecodeParms */
};

/* The value of /Filter (rv, v: a name, an array opened, a reference)
 * into s.  -1 when the input ends inside it. */
static int r_filters(struct pdf_lex *l, enum pdf_val rv, struct pdf_token *v, struct rstream *s)
{
	if (rv == PDF_VAL_NAME) {
		if (pdf_decode_filter_kind(v->name, &s->f[0].kind) < 0)
			s->filters_rc = PDF_DECODE_UNSUPPORTED;
		s->nf = 1;
	} else if (rv == PDF_VAL_ARRAY) {
		for (;;) {
			pdf_syntax_next(l, v);
			if (v->t == PDF_TOK_ACLOSE)
				break;
			if (v->t != PDF_TOK_NAME || s->nf >= PDF_FILTERS_MAX) {
				s->filters_rc = PDF_DECODE_UNSUPPORTED;
				if (v->t == PDF_TOK_EOF)
					return -1;
				continue;
			}
			if (pdf_decode_filter_kind(v->name, &s->f[s->nf].kind) < 0)
				s->filters_rc = PDF_DECODE_UNSUPPORTED;
			s->nf++;
		}
	} else if (rv == PDF_VAL_REF) {
		s->filters_rc = PDF_DECODE_UNSUPPORTED;
	}
	return 0;
}

/* The value of /DecodeParms (rv, v: a dictionary or an array opened, a
 * reference) into parms[0..*nparms); what is wrong in it into s.  -1
 * when the input ends inside a dictionary of it. */
static int r_parms_all(struct pdf_lex *l, enum pdf_val rv, struct pdf_token *v,
		       struct rstream *s, struct pdf_filter *parms, int *nparms)
{
	if (rv == PDF_VAL_DICT) {
		int rc = r_parms(l, &parms[0]);
		if (rc != PDF_DECODE_OK)
			s->filters_rc = rc;
		*nparms = 1;
	} else if (rv == PDF_VAL_ARRAY) {
		for (;;) {
			pdf_syntax_next(l, v);
			if (v->t == PDF_TOK_ACLOSE || v->t == PDF_TOK_EOF)
				break;
			if (v->t == PDF_TOK_DOPEN && *nparms < PDF_FILTERS_MAX) {
				int rc = r_parms(l, &parms[(*nparms)++]);
				if (rc != PDF_DECODE_OK)
					s->filters_rc = rc;
			} else if (v->t == PDF_TOK_KW && strcmp(v->name, "null") == 0 &&
				   *nparms < PDF_FILTERS_MAX) {
				struct pdf_filter *f = &parms[(*nparms)++];
				f->predictor = 1;
				f->early_change = 1;
				f->colors = f->columns = 1;
				f->bpc = 8;
			} else {
				s->filters_rc = PDF_DECODE_UNSUPPORTED;
				if (v->t == PDF_TOK_DOPEN &&
				    pdf_syntax_skip(l, PDF_TOK_DCLOSE, 1) < 0)
					return -1;
			}
		}
	} else if (rv == PDF_VAL_REF) {
		s->filters_rc = PDF_DECODE_UNSUPPORTED;
	}
	return 0;
}

/* The stream dictionary after "obj", up to and including "stream".
 * 0 when it is one, -1 otherwise. */
static int r_stream_dict(struct pdf_lex *l, struct rstream *s)
{
	struct pdf_token k, v;
	int nparms = 0;
	struct pdf_filter parms[PDF_FILTERS_MAX];

	memset(s, 0, sizeof *s);
	s->length = -1;
	pdf_syntax_next(l, &k);
	if (k.t != PDF_TOK_DOPEN)
		return -1;
	for (;;) {
		enum pdf_val rv;
		pdf_syntax_next(l, &k);
		if (k.t == PDF_TOK_DCLOSE)
			break;
		if (k.t != PDF_TOK_NAME)
			return -1;
		rv = pdf_syntax_value(l, &v);
		if (rv == PDF_VAL_BAD)
			return -1;
		if (strcmp(k.name, "/Filter") == 0) {
			if (r_filters(l, rv, &v, s) < 0)
				return -1;
			continue;
		}
		if (strcmp(k.name, "/DecodeParms") == 0 || strcmp(k.name, "/DP") == 0) {
			if (r_parms_all(l, rv, &v, s, parms, &nparms) < 0)
				return -1;
			continue;
		}
		if (rv == PDF_VAL_DICT || rv == PDF_VAL_ARRAY) {
			if (strcmp(k.name, "/W") == 0)
				s->xrefw = 1;
			if (pdf_syntax_skip(l, rv == PDF_VAL_DICT ? PDF_TOK_DCLOSE : PDF_TOK_ACLOSE,
					    1) < 0)
				return -1;
			continue;
		}
		if (strcmp(k.name, "/N") == 0)
			s->have_n = 1;
		else if (strcmp(k.name, "/First") == 0)
			s->have_first = 1;
		else if (strcmp(k.name, "/Length") == 0 && rv == PDF_VAL_INT && v.num >= 0)
			s->length = v.num;
		else if (strcmp(k.name, "/Type") == 0 && rv == PDF_VAL_NAME &&
			 strcmp(v.name, "/XRef") == 0)
			s->xrefw = 1;
		else if (strcmp(k.name, "/Type") == 0 && rv == PDF_VAL_NAME &&
			 strcmp(v.name, "/ObjStm") == 0)
			s->xref = 1;
	}
	s->objstm = s->have_n && s->have_first;
	for (size_t i = 0; i < s->nf; i++) {
		enum pdf_filter_kind kind = s->f[i].kind;
		if ((int)i < nparms)
			s->f[i] = parms[i];
		else {
			s->f[i].predictor = s->f[i].colors = s->f[i].columns = 1;
			s->f[i].bpc = 8;
			s->f[i].early_change = 1;
		}
		s->f[i].kind = kind;
	}
	pdf_syntax_next(l, &k);
	if (k.t != PDF_TOK_KW || strcmp(k.name, "stream") != 0)
		return -1;
	/* the data starts after CRLF or LF (§7.3.8.1); qpdf takes a lone CR */
	if (l->p < l->end && *l->p == '\r')
		l->p++;
	if (l->p < l->end && *l->p == '\n')
		l->p++;
	return 0;
}

/* Where "obj" preceded by "N G " starts an object: its number, or -1. */
static long long obj_number(const uint8_t *data, size_t at)
{
	size_t i = at;
	long long num = 0, mul = 1;
	int gen_digits = 0, num_digits = 0;

	if (at == 0 || !pdf_syntax_white(data[at - 1]))
		return -1;
	while (i > 0 && pdf_syntax_white(data[i - 1]))
		i--;
	while (i > 0 && data[i - 1] >= '0' && data[i - 1] <= '9' && gen_digits < 6) {
		i--;
		gen_digits++;
	}
	if (!gen_digits || i == 0 || !pdf_syntax_white(data[i - 1]))
		return -1;
	while (i > 0 && pdf_syntax_white(data[i - 1]))
		i--;
	while (i > 0 && data[i - 1] >= '0' && data[i - 1] <= '9' && num_digits < 10) {
		i--;
		num += (data[i] - '0') * mul;
		mul *= 10;
		num_digits++;
	}
	if (!num_digits)
		return -1;
	return num;
}

int pdf_prescan(struct pdf_decoder *d, const uint8_t *data, size_t len, size_t max,
		long long *objnum, const char **what)
{
	const uint8_t *p = data, *end = data + len;

	*objnum = -1;
	*what = "object stream";
	while (p < end) {
		const uint8_t *o = memmem(p, (size_t)(end - p), "obj", 3);
		struct pdf_lex l;
		struct rstream s;
		long long num;
		size_t dlen;
		int rc;

		if (o == NULL)
			break;
		p = o + 3;
		if (p < end && !pdf_syntax_white(*p) && !pdf_syntax_delim(*p))
			continue; /* "objx" */
		num = obj_number(data, (size_t)(o - data));
		if (num < 0)
			continue;
		l.p = p;
		l.end = end;
		if (r_stream_dict(&l, &s) < 0 || !(s.objstm || s.xref || s.xrefw))
			continue;
		*what = s.xrefw ? "cross-reference stream" : "object stream";
		if (s.filters_rc == PDF_DECODE_UNSUPPORTED) {
			/* an indirect or unknown filter: qpdf may still
			 * decode it, so it cannot be left unchecked */
			*objnum = num;
			return PDF_DECODE_UNSUPPORTED;
		}
		if (s.filters_rc != PDF_DECODE_OK)
			continue;
		if (s.length >= 0 && (size_t)s.length <= (size_t)(end - l.p)) {
			dlen = (size_t)s.length;
		} else {
			const uint8_t *es = memmem(l.p, (size_t)(end - l.p), "endstream", 9);
			dlen = es ? (size_t)(es - l.p) : (size_t)(end - l.p);
		}
		rc = pdf_decode(d, l.p, dlen, s.f, s.nf, max, NULL, NULL);
		if (rc == PDF_DECODE_LIMIT) {
			*objnum = num;
			return rc;
		}
		/* With a wrong /Length, qpdf looks for endstream: so do we. */
		if (s.length >= 0) {
			const uint8_t *es = memmem(l.p, (size_t)(end - l.p), "endstream", 9);
			if (es && (size_t)(es - l.p) != dlen &&
			    pdf_decode(d, l.p, (size_t)(es - l.p), s.f, s.nf, max, NULL, NULL) ==
				    PDF_DECODE_LIMIT) {
				*objnum = num;
				return PDF_DECODE_LIMIT;
			}
		}
	}
	return PDF_DECODE_OK;
}
