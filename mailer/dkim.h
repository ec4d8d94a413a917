/*
 * dkim.h — a DKIM-Signature (RFC 6376: rsa-sha256, c=relaxed/relaxed) for
 * a message the mailer sends.  Runs in the mailer (and in tests); the
 * signature itself comes from the keys process (KEYS_DKIM_SIGN), so the
 * mailer never holds the DKIM key.
 *
 * Signed fields: From, To, Subject, Date, Message-ID, Reply-To,
 * MIME-Version, Content-Type.  Each may appear at most once in the message
 * (RFC 5322 3.6 allows no more), and From must be there: a message with a
 * second From or Subject is refused rather than signed, since a reader may
 * be shown the one the signature does not cover.  Each name of the list
 * is written into h= once more than it occurs ("over-signing", RFC 6376
 * 8.15): a present field twice, an absent one once, so that a field of
 * these names added on the way, above or below ours, breaks the signature
 * instead of riding along under it.
 */
#ifndef TAYORI_DKIM_H
#define TAYORI_DKIM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/util.h"

struct keys_client;

#define DKIM_MSG_MAX     ((size_t)32 << 20) /* a whole message, octets */
#define DKIM_HEADER_MAX  ((size_t)256 << 10) /* its header section */
#define DKIM_FIELDS_MAX  1000               /* header fields */
#define DKIM_SELECTOR_MAX 63
#define DKIM_DOMAIN_MAX  253

/* 1 when s is a DNS name DKIM may use as a selector or a domain: labels of
 * letters, digits and inner hyphens, 1 to 63 octets each, joined by dots,
 * at most max octets in all. */
int dkim_name_ok(const char *s, size_t max);

/*
 * Append to out_header the DKIM-Signature field for the message msg (len
 * octets, header section then an empty line then the body; lines end in
 * CRLF, a bare LF is read as CRLF), folded at 78 columns and ending in
 * CRLF, to be written before the message's first line.  t= is now.
 * -1 with e set on a malformed or too large message, a bad selector or
 * domain, or a keys process that refuses (no DKIM key, no permission).
 */
int dkim_sign(struct keys_client *kc, const char *selector, const char *domain,
	      const uint8_t *msg, size_t len, struct buf *out_header, struct error *e);

/*
 * As dkim_sign, with the selector and domain of [mail] dkim_selector and
 * dkim_domain in c: the call the sending path makes for every message.
 * Both empty: DKIM is off, nothing is appended, 0.  Only one of them set:
 * -1 (a message is never sent unsigned by mistake).
 */
struct conf;
int dkim_sign_conf(struct keys_client *kc, const struct conf *c, const uint8_t *msg, size_t len,
		   struct buf *out_header, struct error *e);

#endif
