/*
 * mime_tree.h — an e-mail parsed with GMime 3 and its MIME tree walked:
 * the leaf parts that are attachments (document order), the forwarded
 * messages (message/rfc822) they belong to, the body text, and the
 * sizes a caller's limits need (depth, number of parts).  Nothing here is
 * about batches: any reader of mail (the intake, a bounce reader) can use
 * it.  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 *
 * Standards: RFC 5322, RFC 2045-2049, RFC 2046 multipart/alternative,
 * mixed, related and signed, RFC 2183, RFC 2387, RFC 3676.
 *
 * What the walk keeps as leaves: every leaf part that is not a body text
 * part (text/plain or text/html without a name, not marked attachment),
 * inline or not.  Left out: the signature part of multipart/signed, images
 * with a Content-ID inside multipart/related (pictures the HTML shows),
 * and Outlook TNEF (winmail.dat, application/ms-tnef), which only sets
 * has_tnef.  Parts below MIME_TREE_WALK_MAX levels are not visited (a
 * caller refuses such a message by depth).
 */
#ifndef TAYORI_MIME_TREE_H
#define TAYORI_MIME_TREE_H

#include <gmime/gmime.h>
#include <stddef.h>
#include <stdint.h>

#define MIME_TREE_WALK_MAX 256 /* deeper than any limit [limits] mime_depth allows (64) */

struct mime_tree_leaf {
	GMimePart *part; /* borrowed from the tree */
	size_t level;    /* index into levels: the message it belongs to */
};

struct mime_tree {
	GMimeMessage *msg;  /* the top message */
	GArray *leaves;     /* struct mime_tree_leaf, document order */
	GPtrArray *levels;  /* GMimeMessage *: msg first, then each forwarded one */
	size_t depth;       /* MIME entities on the deepest path, the leaf included */
	size_t nparts;      /* MIME entities of every kind seen */
	int has_tnef;       /* an Outlook winmail.dat / application/ms-tnef part was seen */
	/* private */
	GMimeParserOptions *opt;
	GMimeStream *stream;
	GMimeParser *parser;
};

/*
 * Parse len bytes (CRLF or LF; a leading mbox "From " line skipped) leniently
 * (addresses, parameters and encoded words in GMime's loose mode) and walk
 * the tree into t.  0, or -1 when GMime finds no message at all; either way
 * release t with mime_tree_close().  Thread-safe (GMime initialised once).
 * The caller bounds len and the number of parts before (see mime.h).
 */
int mime_tree_open(struct mime_tree *t, const uint8_t *data, size_t len);
void mime_tree_close(struct mime_tree *t);

/* The body text of message m (forwarded messages excluded): text/plain
 * preferred in multipart/alternative, else the richest branch, HTML turned
 * into text; text parts of a multipart/mixed joined; cleaned (mime_clean.h)
 * and cut at the signature.  A new string, "" when there is none. */
char *mime_tree_body(GMimeMessage *m);

/* The decoded content of a leaf part (transfer encoding undone), followed
 * by one NUL not counted in *len.  A new buffer, the caller's to free(). */
uint8_t *mime_tree_part_bytes(GMimePart *p, size_t *len);

/* "type/subtype" of o in lower case, "application/octet-stream" when
 * missing or not printable ASCII.  A new string. */
char *mime_tree_content_type(GMimeObject *o);

#endif
