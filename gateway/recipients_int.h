/*
 * recipients_int.h — private to recipients.c and recipients_columns.c:
 * the roles a column can have, finding the columns of a CSV, and the
 * normalising helpers both use.  Other callers use recipients.h.
 * Runs in the gateway process and the command line.
 */
#ifndef TAYORI_RECIPIENTS_INT_H
#define TAYORI_RECIPIENTS_INT_H

#include <glib.h>
#include "gateway/recipients.h"

enum role { R_KEY, R_NAME, R_EMAIL, R_MESSAGE, R_ATTACH, R_AUTH, R_COUNT };
enum key_status { KEY_OK, KEY_EMPTY, KEY_INVALID };

/* recipients_columns.c: cols[role] for every role (0-based, -1 none) from
 * the header row and o, after refusing an Individual Number column, a
 * header row that is data, no key column and (unless optional) no e-mail
 * column, each with one line naming the line or the column. */
int recipients_columns(const struct csv_table *t, const struct recipients_options *o,
		       int cols[R_COUNT], struct error *e);

/* recipients.c */
/* White space and invisible characters that trimming and key cleaning drop. */
int recipients_blank(gunichar c);
/* C0/C1 controls and bidirectional formatting, never shown. */
int recipients_hidden_control(gunichar c);
/* NFKC, trim, drop every blank; *out is malloc'd (controls shown as '?'
 * when the key is invalid). */
enum key_status recipients_key_clean(const char *in, char **out);
/* 1 when s is one or more ASCII digits. */
int recipients_all_digits(const char *s);
/* NFKC, trim, lower-case the (ASCII) domain.  Returns a malloc'd string. */
char *recipients_email_norm(const char *in);

#endif
