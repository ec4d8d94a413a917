/*
 * mime_header.h — the header fields of a parsed e-mail (mime_tree.h) that
 * a reader of mail needs, decoded and made safe: the sender's address, the
 * Message-ID, the Subject and the Authentication-Results.  Nothing here is
 * about batches.  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 * Standards: RFC 5322 (fields, unfolding), RFC 2047 (encoded words; adjacent
 * words of one charset joined before conversion, so a character split
 * between words survives), RFC 8601 (Authentication-Results, passed raw).
 */
#ifndef TAYORI_MIME_HEADER_H
#define TAYORI_MIME_HEADER_H

#include <gmime/gmime.h>
#include <stddef.h>

/* The one From mailbox's addr-spec, lower case; NULL when From is missing,
 * unparsable, names several mailboxes, or the address is not printable
 * (at most 320 bytes, with an "@").  A new string. */
char *mime_header_from(GMimeMessage *m);

/* Message-ID without <>, or NULL when absent, too long for a header line
 * or not printable.  A new string. */
char *mime_header_message_id(GMimeMessage *m);

/* The Subject decoded to one line of UTF-8 ("" when absent), controls,
 * bidi controls and line breaks dropped, at most 2000 bytes.  problem
 * (psize bytes, "" on entry) gets why the decoded Subject is not clean
 * one-line text of at most TEXT_TITLE_MAX characters (text.h), else stays
 * "".  A new string. */
char *mime_header_subject(GMimeMessage *m, char *problem, size_t psize);

/* An unstructured header value decoded (RFC 2047 words, raw 8-bit or
 * ISO-2022-JP text guessed) to one cleaned line of at most 2000 bytes;
 * problem as above (NULL: not checked).  A new string. */
char *mime_header_decode(const char *value, char *problem, size_t psize);

/* The Authentication-Results values, unfolded, one per line in header
 * order (top first), at most 64 of them and 64 KiB; NULL if none.  A new
 * string. */
char *mime_header_auth_results(GMimeMessage *m);

#endif
