/*
 * conf.h — tayori.conf, the configuration of one tenant.
 * Its parser, typed accessors and the sample writer used by `tayori init`.
 * Runs in every process (the supervisor loads the file; each role reads it).
 * Format: UTF-8 text (RFC 3629), "key = value" lines under optional
 * "[section]" headers, described in tayori.conf(5).
 *
 * Every known setting is one row of the schema table in conf_schema.c
 * (section, key, type, default, range, help).  Adding a setting is adding a
 * row there, a paragraph to conf/tayori.conf.5 and regenerating the sample
 * (build/default/tests/test_conf --write-sample conf/tayori.conf); the unit
 * test fails until all three agree.
 *
 * Ownership: struct conf owns every string it hands out.  A pointer returned
 * by conf_str() or conf_file() lives until conf_free() on that conf.  The
 * struct is read-only after loading, so several threads may read it at once.
 *
 * Errors: conf_load() and conf_parse() fill e with one English line
 * "FILE:LINE: what is wrong" (whole-file problems: "FILE: what is wrong").
 * Asking for a section/key that is not in the schema, or using an accessor
 * that does not fit the key's type, is a programming error: the accessors
 * print the key and abort().
 */
#ifndef TAYORI_CONF_H
#define TAYORI_CONF_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"
#include "lib/buf.h"

#define CONF_MAX_FILE ((size_t)1 << 20) /* 1 MiB */
#define CONF_MAX_LINE 4096              /* bytes, without the line end */
#define CONF_FILE_NAME "tayori.conf"    /* the name inside a data directory */

enum conf_type {
	CONF_STRING,   /* UTF-8 text without control characters; max = byte limit (0: none) */
	CONF_INT,      /* decimal integer in [min, max] */
	CONF_BOOL,     /* yes/no, true/false, on/off; conf_int() gives 1/0 */
	CONF_DURATION, /* 30s, 5m, 2h, 7d; conf_int() gives seconds in [min, max] */
	CONF_SIZE,     /* 123, 512K, 10M, 1G (binary units); conf_int() gives bytes */
	CONF_LISTEN,   /* HOST:PORT, IPv6 as [::1]:8080; split with conf_listen_split() */
	CONF_URL,      /* SCHEME://HOST[:PORT][/...], scheme from choices, no user@ */
	CONF_ENUM,     /* one of choices; conf_int() gives its index in choices */
	CONF_PATH,     /* a file or directory; resolve with conf_path() */
	CONF_EMAIL,    /* local@domain (RFC 5321 Mailbox, ASCII) */
	CONF_IDENT,    /* [a-z0-9][a-z0-9_-]*, max = byte limit */
	CONF_ENVNAME,  /* the name of an environment variable holding a secret */
};

/* flags */
#define CONF_OPTIONAL 0x1u /* an empty value is allowed and means "not set" */
#define CONF_DATA_REL 0x2u /* CONF_PATH: a relative value is relative to [paths] data_dir */
#define CONF_CONF_REL 0x4u /* CONF_PATH: a relative value is relative to the conf file's directory */

struct conf_setting {
	const char *section;
	const char *key;
	enum conf_type type;
	const char *def;     /* default, written as in the file */
	int64_t min, max;    /* int, duration (s), size (bytes); string/ident: max bytes */
	const char *choices; /* enum: allowed values; url: allowed schemes; comma-separated */
	unsigned flags;
	const char *help;    /* one line, English */
	const char *help_ja; /* a short Japanese gloss */
};

struct conf_section {
	const char *name;
	const char *help;
	const char *help_ja;
};

struct conf; /* opaque */

/* The schema, for tools and tests (static storage, never freed). */
const struct conf_setting *conf_schema(size_t *n);
const struct conf_section *conf_sections(size_t *n);

/*
 * Read and check the file at path (at most CONF_MAX_FILE bytes).  Error
 * messages name the file as path was given; relative paths inside are
 * resolved against the file's directory (made absolute with the current
 * directory, symbolic links kept).  On success *out is the caller's to
 * conf_free(); on failure *out is NULL.
 */
int conf_load(const char *path, struct conf **out, struct error *e);

/*
 * Parse len bytes of text (need not be NUL-terminated; a NUL byte is an
 * error).  name is used in error messages and returned by conf_file();
 * base_dir is the directory that a relative data_dir is relative to
 * (NULL or relative: taken from the current directory).
 */
int conf_parse(const char *text, size_t len, const char *name, const char *base_dir,
	       struct conf **out, struct error *e);

/* Free and set *c = NULL; NULL and *c == NULL are fine. */
void conf_free(struct conf **c);

/* The value as written (or the default).  Any type; never NULL. */
const char *conf_str(const struct conf *c, const char *section, const char *key);

/* int, duration (seconds), size (bytes), bool (0/1), enum (index in choices:
 * e.g. [log] level 0..3 = enum log_level, [signing] level 0..3 = B-B..B-LTA). */
int64_t conf_int(const struct conf *c, const char *section, const char *key);

/* 1 when the setting appears in the file, 0 when the default is in force. */
int conf_is_set(const struct conf *c, const char *section, const char *key);

/*
 * A CONF_PATH setting as an absolute path: data_dir-relative settings
 * resolved against data_dir, data_dir itself against the conf file's
 * directory; "." components and repeated slashes removed (".." kept).
 * An optional path left empty gives "".  Returns 0, or -1 when out is too
 * small (out then holds "").
 */
int conf_path(const struct conf *c, const char *section, const char *key, char *out,
	      size_t outsize);

/* The file the conf was loaded from, absolute (conf_parse: its name argument). */
const char *conf_file(const struct conf *c);

/*
 * Render the documented sample configuration: every setting with its help,
 * commented out at its default, except [tenant] name and id which are set
 * (NULL: the defaults).  b is the caller's.
 */
int conf_format_default(struct buf *b, const char *tenant_name, const char *tenant_id,
			struct error *e);

/*
 * Write that sample to path (mode 0644).  Refuses to replace an existing
 * file (an administrator's tuned settings are never overwritten).
 */
int conf_write_default(const char *path, const char *tenant_name, const char *tenant_id,
		       struct error *e);

/*
 * Split "HOST:PORT" or "[IPv6]:PORT" into host (without brackets) and port
 * (1..65535).  Returns 0, or -1 when v is malformed or host does not fit.
 */
int conf_listen_split(const char *v, char *host, size_t hostsize, int *port);

/* The value parsers behind the schema types, for other modules' settings
 * (e.g. batch options in an intake mail).  0, or -1 when malformed or out of
 * int64 range. */
int conf_duration_parse(const char *s, int64_t *seconds); /* "30s" "5m" "2h" "7d" */
int conf_size_parse(const char *s, int64_t *bytes);       /* "123" "512K" "10M" "1G" */
int conf_bool_parse(const char *s, int *out);             /* yes/no true/false on/off */

#endif
