/*
 * pdf_syntax.c — PDF names and dictionary keys, and the token reader over
 * raw bytes (see pdf_syntax.h).
 * Runs in the gateway and the `tayori pdf` commands, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.2, §7.3.
 */
#include <stdlib.h>
#include <string.h>
#include "lib/util.h"
#include "pdf/pdf_syntax.h"

int pdf_put_name(struct buf *b, const char *name)
{
	static const char hx[] = "0123456789ABCDEF";
	int rc = buf_append(b, "/", 1);
	for (const unsigned char *p = (const unsigned char *)name + 1; *p && rc == 0; p++) {
		if (*p < 0x21 || *p > 0x7e || strchr("()<>[]{}/%#", *p) != NULL) {
			char esc[3] = { '#', hx[*p >> 4], hx[*p & 15] };
			rc = buf_append(b, esc, 3);
		} else {
			rc = buf_append(b, p, 1);
		}
	}
	return rc;
}

char **pdf_dict_keys(qpdf_data q, qpdf_oh dict, size_t *n)
{
	char **keys = NULL;
	size_t cap = 0;
	*n = 0;
	qpdf_oh_begin_dict_key_iter(q, dict);
	while (qpdf_oh_dict_more_keys(q)) {
		const char *k = qpdf_oh_dict_next_key(q);
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			keys = xrealloc(keys, cap * sizeof(*keys));
		}
		keys[(*n)++] = xstrdup(k);
	}
	return keys;
}

void pdf_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

void pdf_syntax_next(struct pdf_lex *l, struct pdf_token *t)
{
	const uint8_t *p = l->p, *e = l->end;
	size_t n = 0;

	t->t = PDF_TOK_EOF;
	t->name[0] = '\0';
	for (;;) {
		while (p < e && pdf_syntax_white(*p))
			p++;
		if (p < e && *p == '%') {
			while (p < e && *p != '\n' && *p != '\r')
				p++;
			continue;
		}
		break;
	}
	if (p >= e) {
		l->p = p;
		return;
	}
	if (*p == '(') {
		int depth = 0;
		for (; p < e; p++) {
			if (*p == '\\') {
				/* the escaped byte, if there is one before the end */
				p += p + 1 < e;
			} else if (*p == '(') {
				depth++;
			} else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
		t->t = PDF_TOK_STR;
	} else if (*p == '<' && p + 1 < e && p[1] == '<') {
		p += 2;
		t->t = PDF_TOK_DOPEN;
	} else if (*p == '>' && p + 1 < e && p[1] == '>') {
		p += 2;
		t->t = PDF_TOK_DCLOSE;
	} else if (*p == '<') {
		while (p < e && *p != '>')
			p++;
		p += p < e;
		t->t = PDF_TOK_STR;
	} else if (*p == '[' || *p == ']') {
		t->t = *p++ == '[' ? PDF_TOK_AOPEN : PDF_TOK_ACLOSE;
	} else if (*p == '/') {
		t->name[n++] = '/';
		for (p++; p < e && !pdf_syntax_white(*p) && !pdf_syntax_delim(*p); p++) {
			uint8_t c = *p;
			if (c == '#' && p + 2 < e && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
				c = (uint8_t)(hex_value(p[1]) << 4 | hex_value(p[2]));
				p += 2;
			}
			if (n + 1 < sizeof t->name)
				t->name[n++] = (char)c;
		}
		t->name[n] = '\0';
		t->t = PDF_TOK_NAME;
	} else if (pdf_syntax_delim(*p)) {
		p++;
		t->t = PDF_TOK_KW; /* a stray delimiter: nothing we look for */
	} else {
		const uint8_t *s = p;
		int digits = 1, neg = 0;
		long long v = 0;
		while (p < e && !pdf_syntax_white(*p) && !pdf_syntax_delim(*p)) {
			if (n + 1 < sizeof t->name)
				t->name[n++] = (char)*p;
			p++;
		}
		t->name[n] = '\0';
		if (s < p && (*s == '+' || *s == '-'))
			neg = *s++ == '-';
		if (s == p)
			digits = 0;
		for (const uint8_t *q = s; q < p && digits; q++) {
			if (*q < '0' || *q > '9')
				digits = 0;
			else if (v < 1000000000000LL)
				v = v * 10 + (*q - '0');
		}
		if (digits) {
			t->t = PDF_TOK_NUM;
			t->num = neg ? -v : v;
			t->integer = 1;
		} else {
			t->t = PDF_TOK_KW;
		}
	}
	l->p = p;
}

int pdf_syntax_skip(struct pdf_lex *l, enum pdf_tok close, int depth)
{
	struct pdf_token t;
	if (depth > PDF_SYNTAX_DEPTH)
		return -1;
	for (;;) {
		pdf_syntax_next(l, &t);
		if (t.t == PDF_TOK_EOF)
			return -1;
		if (t.t == close)
			return 0;
		if (t.t == PDF_TOK_DOPEN && pdf_syntax_skip(l, PDF_TOK_DCLOSE, depth + 1) < 0)
			return -1;
		if (t.t == PDF_TOK_AOPEN && pdf_syntax_skip(l, PDF_TOK_ACLOSE, depth + 1) < 0)
			return -1;
		if (t.t == PDF_TOK_DCLOSE || t.t == PDF_TOK_ACLOSE)
			return -1;
	}
}

/* An integer followed by "G R" is a reference. */
enum pdf_val pdf_syntax_value(struct pdf_lex *l, struct pdf_token *t)
{
	pdf_syntax_next(l, t);
	switch (t->t) {
	case PDF_TOK_NUM: {
		struct pdf_lex save = *l;
		struct pdf_token a, b;
		pdf_syntax_next(l, &a);
		pdf_syntax_next(l, &b);
		if (a.t == PDF_TOK_NUM && b.t == PDF_TOK_KW && strcmp(b.name, "R") == 0)
			return PDF_VAL_REF;
		*l = save;
		return PDF_VAL_INT;
	}
	case PDF_TOK_NAME: return PDF_VAL_NAME;
	case PDF_TOK_DOPEN: return PDF_VAL_DICT;
	case PDF_TOK_AOPEN: return PDF_VAL_ARRAY;
	case PDF_TOK_STR: case PDF_TOK_KW: return PDF_VAL_OTHER;
	default: return PDF_VAL_BAD;
	}
}
