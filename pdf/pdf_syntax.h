/*
 * pdf_syntax.h — small pieces of PDF syntax shared by the writers of PDF
 * bytes (the splitter's copier, the signature updates): names written
 * from qpdf's decoded form, and a dictionary's keys copied out of qpdf.
 * Runs in the gateway and the `tayori pdf` commands.  Standards: ISO
 * 32000-1 §7.3.5 (names).
 */
#ifndef TAYORI_PDF_SYNTAX_H
#define TAYORI_PDF_SYNTAX_H

#include <stddef.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"

/* Append a name given as qpdf decodes it ("/A B") with # escapes where
 * PDF needs them ("/A#20B"); -1 when b's cap is reached. */
int pdf_put_name(struct buf *b, const char *name);

/* The keys of a dictionary, each copied (qpdf iterates one dictionary at a
 * time and its strings are short-lived); free with pdf_keys_free(). */
char **pdf_dict_keys(qpdf_data q, qpdf_oh dict, size_t *n);
void pdf_keys_free(char **keys, size_t n);

#endif
