/*
 * http_multipart.h — a bounded multipart/form-data reader (RFC 7578, on
 * the multipart syntax of RFC 2046 section 5.1) for the staff dashboard's
 * upload: the boundary from the Content-Type, then each part's
 * Content-Disposition (form-data; name, filename, filename* as RFC 8187
 * UTF-8) and Content-Type, its bytes pointing into the body (nothing is
 * copied).  One pass from the front: every search starts where the last
 * one ended, so the time is linear in the body and nothing backtracks.
 * Runs in the portal process.
 *
 * Limits (struct http_mp_limits): parts in all, one part's header block,
 * a field name and a file name as sent; anything over is refused.  A file
 * name is cleaned (http_filename_clean) before anybody sees it: the last
 * path segment only (after '/' or '\'), no control characters, no
 * direction marks or overrides, invalid UTF-8 bytes as '_', NFC, no dots
 * or spaces at either end, at most HTTP_FILENAME_MAX bytes.  A name with
 * nothing left ("..", "/") refuses the body (HTTP_MP_FILENAME).  Names
 * are for showing and matching, never paths.
 *
 * Quoted parameter values: a backslash escapes only '"' and '\' (browsers
 * do not escape a Windows path's backslashes, and a path is cut to its
 * last segment anyway).  A Content-Transfer-Encoding other than 7bit,
 * 8bit or binary is refused (RFC 7578 section 4.7 deprecates it).
 */
#ifndef TAYORI_HTTP_MULTIPART_H
#define TAYORI_HTTP_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define HTTP_MP_BOUNDARY_MAX 70   /* RFC 2046 */
#define HTTP_FILENAME_MAX    255  /* bytes of a cleaned file name */
#define HTTP_MP_TYPE_MAX     127  /* bytes of a part's media type */

struct http_mp_limits {
	size_t max_parts;    /* parts in all */
	size_t max_header;   /* bytes of one part's header block */
	size_t max_name;     /* bytes of a field name */
	size_t max_filename; /* bytes of a file name as sent, before cleaning */
};

/* One part.  name and filename are owned by the struct http_multipart;
 * data points into the body given to http_multipart_parse and lives as
 * long as it. */
struct http_part {
	char *name;          /* the form field's name */
	char *filename;      /* cleaned; NULL when the part is not a file; "" when
				the browser sent a file input with nothing chosen */
	char type[HTTP_MP_TYPE_MAX + 1]; /* media type, lower case, no parameters;
					    "" when none was sent */
	const uint8_t *data;
	size_t len;
};

struct http_multipart {
	size_t n, cap;
	struct http_part *parts;
	char bad_field[64];  /* HTTP_MP_FILENAME: the field whose file name was refused */
};

/* Results of http_multipart_parse besides 0. */
enum {
	HTTP_MP_MALFORMED = -1, /* not multipart/form-data as RFC 7578 has it */
	HTTP_MP_TOO_MANY = -2,  /* more parts than max_parts */
	HTTP_MP_TOO_LONG = -3,  /* a header block, field name or file name over its limit */
	HTTP_MP_FILENAME = -4,  /* a file name with nothing left once cleaned */
};

/* Parse body (len bytes) sent with content_type into out (zeroed by the
 * caller; free it with http_multipart_free whatever the result).  0, or
 * one of the HTTP_MP_* results with e saying what and where in English
 * ("part 3: ..."). */
int http_multipart_parse(const char *content_type, const uint8_t *body, size_t len,
			 const struct http_mp_limits *lim, struct http_multipart *out,
			 struct error *e);
void http_multipart_free(struct http_multipart *m);

/* The boundary parameter of a multipart/form-data Content-Type into out
 * (HTTP_MP_BOUNDARY_MAX + 1 bytes): 0, or -1 when the type is another or
 * the boundary is missing or not RFC 2046's bchars. */
int http_multipart_boundary(const char *content_type, char out[HTTP_MP_BOUNDARY_MAX + 1]);

/* Every part named name, in order: i-th (from 0) or NULL. */
const struct http_part *http_multipart_get(const struct http_multipart *m, const char *name,
					   size_t i);

/* Clean a file name as sent (n bytes) into out (HTTP_FILENAME_MAX + 1
 * bytes), as described above: 0, or -1 when nothing is left or it is too
 * long. */
int http_filename_clean(const char *in, size_t n, char out[HTTP_FILENAME_MAX + 1]);

#endif
