/*
 * verp.h — our bounce return paths (VERP, bounce+BATCH-SEQ-MAC@domain) made
 * and checked with a MAC from the keys process, so that a forged bounce
 * cannot mark a resident.  Runs in the mailer (it makes the return path of
 * each message and checks each bounce) and in the command line (`tayori
 * bounce parse`).  mailer/bounce.h parses the address; this module says
 * whether its MAC holds.
 *
 * The MAC is the keys process's index HMAC (KEYS_HMAC, HMAC-SHA-256 under
 * the tenant's index sub-key) of "verp\0BATCH-SEQ", the index kind "verp"
 * (KEYS_IX_VERP), with BATCH and SEQ in plain decimal.  Only channels
 * granted that kind may ask for it: the mailer's and the command line's,
 * not the gateway's or the portal's.  Its text is the first VERP_MAC_LEN
 * characters of the lower-case RFC 4648 base32 (no padding) of the HMAC:
 * a case-free alphabet, since mail systems may change the case of a local
 * part.
 *
 * Size: RFC 5321 allows 64 octets in a local part.  The longest is
 * "bounce+" (7) + BATCH up to 2^64-1 (20 digits) + "-" + SEQ up to
 * 2^31-1 (10 digits) + "-" + MAC = 39 + MAC, so the MAC has 25
 * characters: 25 x 5 = 125 bits.  A forger who cannot ask the keys process
 * must guess them, 2^-125 per try (the margin asked is at least 120 bits;
 * a truncated HMAC-SHA-256 keeps its strength up to its length).
 */
#ifndef TAYORI_VERP_H
#define TAYORI_VERP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "mailer/bounce.h"

#define VERP_MAC_LEN 25     /* base32 characters: 125 bits */
#define VERP_LOCAL_MAX 64   /* RFC 5321 local part, octets */
#define VERP_SEQ_MAX 2147483647u

struct keys_client;

/* The return path for message seq of batch (batch >= 1, 1 <= seq <=
 * VERP_SEQ_MAX) at domain, into out.  -1 with e when the values are out of
 * range, the domain makes an invalid address, out is too small, or the keys
 * process refuses (e->temporary then). */
int verp_address(struct keys_client *kc, uint64_t batch, uint32_t seq, const char *domain,
		 char *out, size_t outsize, struct error *e);

/* verp_address() for n messages (batch[i], seq[i]) with one keys request
 * for all their MACs (KEYS_BATCH): out[i] gets each return path. */
#define VERP_ADDR_MAX 254
int verp_addresses(struct keys_client *kc, size_t n, const uint64_t *batch, const uint32_t *seq,
		   const char *domain, char (*out)[VERP_ADDR_MAX + 1], struct error *e);

/* Whether a parsed return path's MAC holds: *valid is 1 only when v is a
 * well-formed VERP (v->valid) whose MAC is the one the keys process makes
 * for its batch and sequence (compared in constant time).  -1 with e only
 * when the keys process cannot answer; a bad MAC is 0 with *valid = 0. */
int verp_check(struct keys_client *kc, const struct bounce_verp *v, int *valid, struct error *e);

#endif
