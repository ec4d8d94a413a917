/*
 * pdf_syntax.c — PDF names and dictionary keys (see pdf_syntax.h).
 * Runs in the gateway and the `tayori pdf` commands.
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
