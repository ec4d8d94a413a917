/*
 * pdf_syntax.h — small pieces of PDF syntax: names written from qpdf's
 * decoded form and a dictionary's keys copied out of qpdf (for the
 * writers of PDF bytes: the splitter's copier, the signature updates),
 * and a reader of PDF tokens over raw bytes (for looking at objects
 * before qpdf opens a file: pdf_prescan()).
 * Runs in the gateway and the `tayori pdf` commands, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.2 (lexical conventions),
 * §7.3 (objects; §7.3.5 names).
 */
#ifndef TAYORI_PDF_SYNTAX_H
#define TAYORI_PDF_SYNTAX_H

#include <stddef.h>
#include <stdint.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"

/* Append a name given as qpdf decodes it ("/A B") with # escapes where
 * PDF needs them ("/A#20B"); -1 when b's cap is reached. */
int pdf_put_name(struct buf *b, const char *name);

/* The keys of a dictionary, each copied (qpdf iterates one dictionary at a
 * time and its strings are short-lived); free with pdf_keys_free(). */
char **pdf_dict_keys(qpdf_data q, qpdf_oh dict, size_t *n);
void pdf_keys_free(char **keys, size_t n);

/* The white-space characters of §7.2.2 (NUL, HT, LF, FF, CR, SP). */
static inline int pdf_syntax_white(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}

/* The delimiters of §7.2.2: ( ) < > [ ] { } / % */
static inline int pdf_syntax_delim(uint8_t c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' ||
	       c == '}' || c == '/' || c == '%';
}

/*
 * The token reader: bytes [p, end) are read forward, as qpdf reads an
 * object at its offset; nothing at or past end is ever touched, and any
 * bytes give tokens (the last is PDF_TOK_EOF, again at every call).
 * White space and comments are skipped.
 */
struct pdf_lex {
	const uint8_t *p, *end;
};

enum pdf_tok {
	PDF_TOK_EOF,
	PDF_TOK_NUM,     /* an integer: [+-]digits */
	PDF_TOK_NAME,    /* /Name */
	PDF_TOK_STR,     /* (literal) or <hex>: skipped, its content not kept */
	PDF_TOK_DOPEN,   /* << */
	PDF_TOK_DCLOSE,  /* >> */
	PDF_TOK_AOPEN,   /* [ */
	PDF_TOK_ACLOSE,  /* ] */
	PDF_TOK_KW,      /* anything else: a keyword (obj, R, stream, true,
			    null), a real number (1.5), a stray delimiter */
};

struct pdf_token {
	enum pdf_tok t;
	long long num;   /* PDF_TOK_NUM: its value; digits after the 13th
			    are not counted (no overflow) */
	int integer;     /* PDF_TOK_NUM: 1 */
	char name[64];   /* PDF_TOK_NAME: "/" and the name, #xx decoded;
			    PDF_TOK_KW, PDF_TOK_NUM: the token as written
			    (a stray delimiter: ""); cut to 63 bytes */
};

/*
 * The next token at l->p into *t; l->p moves past it.  A literal string
 * ends at the parenthesis that balances its first (a backslash escapes
 * the byte after it), a hex string at the first '>'; either, left
 * unterminated, runs to end.
 */
void pdf_syntax_next(struct pdf_lex *l, struct pdf_token *t);

/* How deep pdf_syntax_skip() follows arrays and dictionaries. */
#define PDF_SYNTAX_DEPTH 32

/*
 * Skip the rest of an array or dictionary whose opening token was just
 * read (close: PDF_TOK_ACLOSE or PDF_TOK_DCLOSE), with what is nested in
 * it.  depth is how deep that one is (1 for a value of the dictionary
 * being read).  0 after its closing token; -1 when it is not closed
 * before end, closes with the other bracket, or nests deeper than
 * PDF_SYNTAX_DEPTH.
 */
int pdf_syntax_skip(struct pdf_lex *l, enum pdf_tok close, int depth);

/* What a value is, as far as a reader of dictionaries cares. */
enum pdf_val {
	PDF_VAL_OTHER,   /* a string, a keyword, a real number */
	PDF_VAL_INT,     /* t->num */
	PDF_VAL_NAME,    /* t->name */
	PDF_VAL_REF,     /* "N G R": t->num is N; l is past the R */
	PDF_VAL_ARRAY,   /* opened: its content follows (pdf_syntax_skip()) */
	PDF_VAL_DICT,    /* opened, likewise */
	PDF_VAL_BAD,     /* the end, or a closing bracket */
};

/* One value (after a dictionary's key, an array's item) into *t. */
enum pdf_val pdf_syntax_value(struct pdf_lex *l, struct pdf_token *t);

#endif
