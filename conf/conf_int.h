/*
 * conf_int.h — private to conf/: what the pieces of tayori.conf share.
 * The schema table in conf_schema.c, the value checks in conf_value.c, the
 * parser in conf.c, the sample writer in conf_sample.c.  Nothing outside
 * conf/ includes it; other modules use conf.h.
 * Runs in every process, like conf.h.
 */
#ifndef TAYORI_CONF_INT_H
#define TAYORI_CONF_INT_H

#include <stddef.h>
#include <stdint.h>
#include "conf/conf.h"

#define MINUTE 60
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define KIB ((int64_t)1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

#define CONF_PATH_MAX 4096 /* PATH_MAX on Linux; longer resolved paths are refused */

/* The schema (conf_schema.c): rows in file order, sections in file order. */
extern const struct conf_setting conf_schema_table[];
extern const size_t conf_schema_count;
extern const struct conf_section conf_section_table[];
extern const size_t conf_section_count;
#define NSET conf_schema_count
#define NSEC conf_section_count

/* Index of a section or a setting in the tables, or -1. */
int conf_find_section(const char *name);
int conf_find_setting(const char *section, const char *key);
/* The index of a setting the caller (fn) needs; aborts when the schema lacks
 * it, since that is a bug, not bad input. */
int conf_setting_or_abort(const char *section, const char *key, const char *fn);

static inline int is_ws(int ch)
{
	return ch == ' ' || ch == '\t';
}

static inline int is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static inline int is_alnum(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The value checks (conf_value.c). */

/*
 * Check v against the setting's type.  On success fills *num (numeric
 * types); on failure writes "must ..." into why.
 */
int conf_check_value(const struct conf_setting *s, const char *v, int64_t *num, char *why,
		     size_t whysize);
/* Index of the first byte that is not valid UTF-8 (RFC 3629), or n. */
size_t conf_utf8_bad(const unsigned char *s, size_t n);
/* Copy s for an error message: at most ~60 bytes, cut on a UTF-8 boundary. */
const char *conf_clip(const char *s, char *out, size_t outsize);
/* "a, b or c" from "a,b,c", with each item wrapped in pre/post. */
void conf_choices_text(const char *choices, const char *pre, const char *post, char *out,
		       size_t outsize);
/* Seconds and bytes written the way the file writes them ("7d", "10M"). */
void conf_fmt_duration(int64_t s, char *out, size_t outsize);
void conf_fmt_size(int64_t b, char *out, size_t outsize);

#endif
