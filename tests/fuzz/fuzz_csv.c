/*
 * fuzz_csv.c — libFuzzer target over the recipients CSV path as intake
 * runs it: csv_parse() then recipients_from_csv(), plus the key and
 * address helpers on every field.  Checks the promises the headers make
 * (valid UTF-8 fields, safe keys and addresses) and aborts when one is
 * broken, so the fuzzer reports it.  Built by `make fuzz` (clang).
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/csv.h"
#include "gateway/recipients.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > RECIPIENTS_KEY_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || c == '-' || c == '_'))
			abort();
	}
}

static void check_text(const char *s, int lines_ok)
{
	if (!g_utf8_validate(s, -1, NULL))
		abort();
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && !(lines_ok && *p == '\n'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small caps keep each run fast while still hitting every limit. */
	struct csv_limits lim = { .max_bytes = 1 << 16, .max_rows = 512,
				  .max_fields = 32, .max_field_len = 1024 };
	struct csv_table *t = NULL;
	struct recipients *r = NULL;
	struct error e;
	char key[RECIPIENTS_KEY_MAX + 1];
	unsigned sel = size > 0 ? data[0] : 0;

	if (csv_parse(data, size, &lim, &t, &e) < 0)
		return 0;
	for (size_t i = 0; i < t->nrows; i++) {
		if (t->nfields[i] == 0 || t->nfields[i] > lim.max_fields)
			abort();
		for (size_t j = 0; j < t->nfields[i]; j++) {
			const char *f = t->rows[i][j];
			if (!g_utf8_validate(f, -1, NULL) || strlen(f) > lim.max_field_len)
				abort();
			if (recipients_normalize_key(f, (int)(sel % 13), key, sizeof(key)) == 0)
				check_key(key);
			(void)recipients_email_valid(f);
		}
	}

	struct recipients_options o = { 0 };
	if (sel & 0x10)
		o.flags |= RECIPIENTS_EMAIL_OPTIONAL;
	if (sel & 0x20)
		o.key_width = (int)(sel % 13);
	if (sel & 0x40)
		o.email_column = "2";
	if (sel & 0x80)
		o.key_column = "宛名番号";
	if (recipients_from_csv(t, &o, &r, &e) == 0) {
		for (size_t i = 0; i < r->n; i++) {
			const struct recipient *p = &r->v[i];
			if (!(p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY)))
				check_key(p->key);
			if (!(p->flags & (RCPT_NO_EMAIL | RCPT_INVALID_EMAIL)) &&
			    !recipients_email_valid(p->email))
				abort();
			if (!(p->flags & RCPT_HELD) &&
			    strpbrk(p->email, "\r\n,<> \"") != NULL)
				abort();
			check_text(p->email, 0);
			check_text(p->name, 0);
			check_text(p->message, 1);
			check_text(p->attachment, 0);
			check_text(p->auth_value, 0);
			for (size_t k = 0; k < p->nextra; k++)
				check_text(p->extra_values[k], 1);
		}
		recipients_free(&r);
	} else if (e.msg[0] == '\0' || !g_utf8_validate(e.msg, -1, NULL)) {
		abort();
	}
	csv_free(&t);
	return 0;
}
