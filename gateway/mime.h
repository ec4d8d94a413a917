/*
 * mime.h — one intake e-mail (RFC 5322 bytes: an .eml file, a Maildir file
 * or an IMAP FETCH BODY[]) turned into the parts of a batch: sender,
 * subject, the body as plain text, and the attachments as decoded bytes.
 * Parsed with GMime 3.  Runs in the gateway (intake) and in `tayori submit`.
 *
 * Standards: RFC 5322 (message), RFC 2045-2049 (MIME, transfer encodings),
 * RFC 2047 (encoded words, also inside quoted parameters as Outlook and
 * Gmail write them), RFC 2231 (parameter charsets and continuations, as
 * Thunderbird and Apple Mail write them), RFC 2183 (Content-Disposition),
 * RFC 2046 multipart/alternative|mixed|related, RFC 2387, RFC 3676
 * (format=flowed), RFC 8601 (Authentication-Results, passed through raw).
 * Japanese charsets: ISO-2022-JP (RFC 1468), Shift_JIS as CP932, EUC-JP.
 *
 * What is read:
 * - The body: text/plain preferred (in multipart/alternative the plain
 *   branch wins), else text/html turned into text (tags stripped, <br> and
 *   blocks become line breaks, entities decoded, script/style/head dropped,
 *   <a href="https://...">text</a> kept as "[text](https://...)").  Text
 *   parts of a multipart/mixed (Apple Mail splits the body around inline
 *   attachments) are joined.  Cut at the signature separator "-- ".
 * - Attachments: every leaf part that is not a body text part, in document
 *   order, inline or not (Apple Mail sends PDFs inline).  Left out: the
 *   signature part of multipart/signed, images with a Content-ID inside
 *   multipart/related (pictures the HTML shows, e.g. an Outlook signature
 *   logo), and Outlook TNEF (winmail.dat, application/ms-tnef), which only
 *   sets has_tnef and is never decoded.
 * - A forwarded message (message/rfc822): its attachments join the list;
 *   when the outer message itself carries no CSV or PDF, subject and body
 *   come from the first forwarded message that does.
 *
 * The pieces, each usable on its own by other readers of mail:
 * mime_tree.h (parsing and the tree walk), mime_header.h (From, Subject,
 * Message-ID, Authentication-Results), mime_charset.h (charsets to UTF-8),
 * mime_html.h (HTML to text), mime_clean.h (text and file names made safe).
 */
#ifndef TAYORI_MIME_H
#define TAYORI_MIME_H

#include <stddef.h>
#include <stdint.h>
#include "lib/mime_clean.h" /* MIME_FILENAME_MAX */
#include "lib/util.h"

/* The defaults of [limits] attachments, mime_depth and mime_parts (conf.c) */
#define MIME_DEFAULT_MAX_ATTACHMENTS 2000
#define MIME_DEFAULT_MAX_DEPTH 8
#define MIME_DEFAULT_MAX_PARTS 10000

/* From [limits] message_size, attachments, mime_depth, mime_parts.  0 in a
 * field: that default (message size: 50 MiB).  Parts are every MIME entity
 * of any kind: multipart containers, empty parts, body text, attachments,
 * attached messages and their parts.  A message with more delimiter lines
 * (a line starting "--" then a non-blank character) than max_parts is
 * refused before GMime builds anything, so that a message of many empty
 * parts costs no memory; the exact count is checked after parsing.  Depth counts the MIME entities on the
 * deepest path, the leaf included: a single-part message is 1, a PDF in
 * multipart/mixed is 2, mixed > alternative > text/plain is 3, and a
 * forwarded message/rfc822 adds one for itself (Outlook forwarding an
 * Outlook mail with HTML and pictures: mixed > message > mixed >
 * alternative > related > text/html = 6). */
struct mime_limits {
	size_t max_message;
	size_t max_attachments;
	size_t max_depth;
	size_t max_parts;
};

struct mime_attachment {
	char *filename;     /* decoded UTF-8, NFC, no path, no control characters,
			     * at most MIME_FILENAME_MAX bytes; for display and
			     * matching only, never a path.  NULL if the part has none. */
	char *content_type; /* "type/subtype", lower case, as labelled (may be wrong) */
	uint8_t *data;      /* the decoded bytes, followed by one NUL not counted in len */
	size_t len;
};

struct mime_message {
	char *from_addr;    /* the one From mailbox's addr-spec, lower case; NULL when
			     * From is missing, unparsable or names several mailboxes */
	char *message_id;   /* Message-ID without <>, or NULL */
	char *subject;      /* decoded UTF-8, one line, "" when absent; controls,
			     * bidi controls and line breaks dropped */
	char subject_problem[160]; /* why the decoded Subject is not clean one-line
				    * text of at most TEXT_TITLE_MAX characters
				    * (text.h), or "" */
	char *body;         /* UTF-8 text, "\n" line ends, "" when absent */
	struct mime_attachment *att;
	size_t natt;
	char *auth_results; /* the Authentication-Results header values, unfolded,
			     * one per line in header order (top first); NULL if none */
	int has_tnef;       /* an Outlook winmail.dat / application/ms-tnef part was found */
};

/*
 * Parse len bytes (CRLF or LF line ends; a leading mbox "From " line is
 * skipped).  lim may be NULL (defaults).  0 with *out the caller's to free
 * with mime_message_free(); -1 with e filled (err_set: the message is
 * refused, naming the limit when one is exceeded, e.g. "the message has
 * 2001 attachments; the limit is 2000 ([limits] attachments)") and *out
 * NULL.  Bytes that are not quite MIME are read as well as they can be,
 * never refused for form alone.  Thread-safe (GMime is initialised once).
 */
int mime_parse(const uint8_t *data, size_t len, const struct mime_limits *lim,
	       struct mime_message **out, struct error *e);

/* Free *m and set it to NULL; NULL and *m == NULL are fine.  Steal an
 * attachment's data first by setting att[i].data to NULL. */
void mime_message_free(struct mime_message **m);

#endif
