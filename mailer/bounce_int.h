/*
 * bounce_int.h — private to the bounce classifier (bounce.c, bounce_text.c,
 * bounce_scan.c): the text helpers the readers share.  Not for other
 * modules: use bounce.h.  Runs where bounce.c runs (the mailer and the
 * command line).
 */
#ifndef TAYORI_BOUNCE_INT_H
#define TAYORI_BOUNCE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mailer/bounce.h"

/* What the walk of one message level collected.  text is the readable
 * text (UTF-8, LF line ends) of the parts outside any embedded message;
 * dsn the message/delivery-status parts; arf the message/feedback-report
 * part; inner the header block of the first embedded message. */
struct bounce_doc {
	struct buf text, dsn, arf, inner;
	int report_dsn, report_arf; /* multipart/report report-type */
	size_t parts;
	char subject[512];  /* decoded, one line */
	char from[EMAIL_MAX + 1];
	char from_name[128];
	char failed[1024];  /* X-Failed-Recipients */
	char auto_submitted[64], precedence[64];
	int x_autoreply;    /* X-Autoreply or X-Autorespond present */
};

/* Append as much of n bytes as out's cap leaves room for. */
void bounce_append_max(struct buf *out, const void *d, size_t n);
/* Text of len bytes in charset (may be NULL: guessed) as valid UTF-8; a
 * byte that does not convert becomes U+FFFD.  Appended to out. */
void bounce_to_utf8(const char *charset, const uint8_t *d, size_t len, struct buf *out);
/* The readable text of HTML: tags dropped (style and script with their
 * content), block tags as line breaks, the common entities decoded. */
void bounce_html_text(const char *html, size_t len, struct buf *out);
/* One line for the result: valid UTF-8, controls as spaces, runs of space
 * as one, trimmed, cut on a character boundary to fit outsize. */
void bounce_clean(const char *in, size_t len, char *out, size_t outsize);
/* The first failure status code (RFC 3463, class 4 or 5) standing alone
 * in s, as "5.1.1" into out; 1 found, 0 not. */
int bounce_status_find(const char *s, size_t len, char out[BOUNCE_STATUS_MAX + 1]);
/* The first SMTP reply code (2xx-5xx) standing alone in s, or 0. */
int bounce_reply_find(const char *s, size_t len);
/* The status a known phrase in lower-cased text implies ("5.1.1"), or NULL. */
const char *bounce_phrase_status(const char *lower, size_t len);
/* Is the lower-cased text one that speaks of throttling? */
int bounce_rate_words(const char *lower, size_t len);
/* The kind of one failed recipient (see bounce.h). */
enum bounce_kind bounce_kind_for(const char *status, int reply, int delayed, const char *diag);
/* The next address at or after *pos in s (len bytes): 1 with the address
 * (domain lower-cased, email_valid) in out and its first byte's offset in
 * *start, *pos moved past it; 0 when there is none. */
int bounce_addr_next(const char *s, size_t len, size_t *pos, char out[EMAIL_MAX + 1], size_t *start);
/* The value of the first field called name (any case) in a header-like
 * block (RFC 5322 syntax, folded lines joined), cleaned into out; 1 found. */
int bounce_field(const char *block, size_t len, const char *name, char *out, size_t outsize);
/* The same, raw: the bytes of the value (folded lines joined) appended to
 * out (capped by out's own cap); 1 found. */
int bounce_field_raw(const char *block, size_t len, const char *name, struct buf *out);
/* The next block of fields separated by blank lines, from *pos: 1 with
 * *start and *blen set, 0 at the end. */
int bounce_block_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *blen);
/* Case-insensitive (ASCII) search; the position or NULL. */
const char *bounce_find(const char *hay, size_t n, const char *needle);
/* A lower-cased (ASCII) copy of n bytes, NUL-terminated; caller frees. */
char *bounce_lower(const char *s, size_t n);

/* Add a failed recipient, merging one seen before; 0 added or merged, -1
 * full (truncated set). */
int bounce_add(struct bounce_result *r, const char *addr, const char *original,
	       const char *status, const char *diag, enum bounce_kind kind);
/* The non-standard readers: the failure texts of bounce.h.  Fills r
 * (format, recipients) and returns 1 when doc is such a bounce, else 0. */
int bounce_scan_text(const struct bounce_doc *doc, struct bounce_result *r);
/* The vendor whose words or domains doc carries ("gmail", "docomo" ...),
 * or NULL. */
const char *bounce_vendor(const struct bounce_doc *doc);

#endif
