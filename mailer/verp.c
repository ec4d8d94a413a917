/*
 * verp.c — the VERP return path's MAC, asked of the keys process (see
 * verp.h for the form and the figures).  Runs in the mailer and in the
 * command line.
 */
#include <inttypes.h>
#include <string.h>
#include <openssl/crypto.h>

#include "lib/crypt.h"
#include "lib/email.h"
#include "lib/keys_client.h"
#include "mailer/verp.h"

/* The MAC text for batch and seq, VERP_MAC_LEN characters and a NUL. */
static int verp_mac(struct keys_client *kc, uint64_t batch, uint32_t seq,
		    char mac[VERP_MAC_LEN + 1], struct error *e)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	char in[sizeof(KEYS_IX_NAME_VERP) + 48];
	uint8_t h[CRYPT_HASH_LEN];
	size_t klen = sizeof(KEYS_IX_NAME_VERP); /* the name and its NUL */
	int n;

	memcpy(in, KEYS_IX_NAME_VERP, klen);
	n = str_fmt(in + klen, sizeof(in) - klen, "%" PRIu64 "-%" PRIu32, batch, seq);
	if (n < 0)
		return err_tmp(e, "VERP input too long");
	if (keys_hmac(kc, in, klen + (size_t)n, h, e) < 0)
		return -1;
	/* RFC 4648 base32: five bits a character, most significant first. */
	for (size_t i = 0; i < VERP_MAC_LEN; i++) {
		size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)h[byte] << 8;
		if (byte + 1 < sizeof(h))
			v |= h[byte + 1];
		mac[i] = alphabet[(v >> (11 - shift)) & 31u];
	}
	mac[VERP_MAC_LEN] = '\0';
	secure_wipe(h, sizeof(h));
	return 0;
}

int verp_address(struct keys_client *kc, uint64_t batch, uint32_t seq, const char *domain,
		 char *out, size_t outsize, struct error *e)
{
	char mac[VERP_MAC_LEN + 1], local[VERP_LOCAL_MAX + 1];

	if (batch == 0 || seq == 0 || seq > VERP_SEQ_MAX)
		return err_set(e, "VERP: batch %" PRIu64 " message %" PRIu32 " out of range", batch,
			       seq);
	if (verp_mac(kc, batch, seq, mac, e) < 0)
		return -1;
	if (str_fmt(local, sizeof(local), BOUNCE_VERP_PREFIX "%" PRIu64 "-%" PRIu32 "-%s", batch,
		    seq, mac) < 0)
		return err_set(e, "VERP: local part over %d octets", VERP_LOCAL_MAX);
	if (str_fmt(out, outsize, "%s@%s", local, domain) < 0 || strlen(out) > EMAIL_MAX)
		return err_set(e, "VERP: return path too long for domain \"%s\"", domain);
	if (!email_valid(out))
		return err_set(e, "VERP: \"%s\" is not a valid address", out);
	return 0;
}

int verp_check(struct keys_client *kc, const struct bounce_verp *v, int *valid, struct error *e)
{
	char mac[VERP_MAC_LEN + 1];

	*valid = 0;
	if (!v->present || !v->valid || v->batch == 0 || v->seq == 0 || v->seq > VERP_SEQ_MAX)
		return 0;
	if (verp_mac(kc, v->batch, v->seq, mac, e) < 0)
		return -1;
	/* The length is public (it is fixed); the characters are compared
	 * without an early exit.  bounce_verp_parse lower-cased v->mac. */
	if (strlen(v->mac) == VERP_MAC_LEN && CRYPTO_memcmp(mac, v->mac, VERP_MAC_LEN) == 0)
		*valid = 1;
	secure_wipe(mac, sizeof(mac));
	return 0;
}
