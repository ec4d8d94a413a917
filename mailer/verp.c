/*
 * verp.c — the VERP return path's MAC, asked of the keys process (see
 * verp.h for the form and the figures).  Runs in the mailer and in the
 * command line.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "lib/crypt.h"
#include "lib/email.h"
#include "lib/keys_client.h"
#include "mailer/verp.h"

/* What the keys process MACs for batch and seq: "verp\0BATCH-SEQ". */
static int verp_input(uint64_t batch, uint32_t seq, char *in, size_t insize, size_t *len,
		      struct error *e)
{
	size_t klen = sizeof(KEYS_IX_NAME_VERP); /* the name and its NUL */
	int n;
	memcpy(in, KEYS_IX_NAME_VERP, klen);
	n = str_fmt(in + klen, insize - klen, "%" PRIu64 "-%" PRIu32, batch, seq);
	if (n < 0)
		return err_tmp(e, "VERP input too long");
	*len = klen + (size_t)n;
	return 0;
}

/* RFC 4648 base32 of the HMAC h: five bits a character, most significant
 * first, VERP_MAC_LEN characters and a NUL. */
static void verp_text(const uint8_t h[CRYPT_HASH_LEN], char mac[VERP_MAC_LEN + 1])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	for (size_t i = 0; i < VERP_MAC_LEN; i++) {
		size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)h[byte] << 8;
		if (byte + 1 < CRYPT_HASH_LEN)
			v |= h[byte + 1];
		mac[i] = alphabet[(v >> (11 - shift)) & 31u];
	}
	mac[VERP_MAC_LEN] = '\0';
}

/* The MAC text for batch and seq, VERP_MAC_LEN characters and a NUL. */
static int verp_mac(struct keys_client *kc, uint64_t batch, uint32_t seq,
		    char mac[VERP_MAC_LEN + 1], struct error *e)
{
	char in[sizeof(KEYS_IX_NAME_VERP) + 48];
	uint8_t h[CRYPT_HASH_LEN];
	size_t len = 0;

	if (verp_input(batch, seq, in, sizeof(in), &len, e) < 0 || keys_hmac(kc, in, len, h, e) < 0)
		return -1;
	verp_text(h, mac);
	secure_wipe(h, sizeof(h));
	return 0;
}

static int in_range(uint64_t batch, uint32_t seq, struct error *e)
{
	if (batch == 0 || seq == 0 || seq > VERP_SEQ_MAX)
		return err_set(e, "VERP: batch %" PRIu64 " message %" PRIu32 " out of range", batch,
			       seq);
	return 0;
}

/* The address of batch, seq with its MAC text at domain. */
static int verp_compose(uint64_t batch, uint32_t seq, const char *mac, const char *domain,
			char *out, size_t outsize, struct error *e)
{
	char local[VERP_LOCAL_MAX + 1];
	if (str_fmt(local, sizeof(local), BOUNCE_VERP_PREFIX "%" PRIu64 "-%" PRIu32 "-%s", batch,
		    seq, mac) < 0)
		return err_set(e, "VERP: local part over %d octets", VERP_LOCAL_MAX);
	if (str_fmt(out, outsize, "%s@%s", local, domain) < 0 || strlen(out) > EMAIL_MAX)
		return err_set(e, "VERP: return path too long for domain \"%s\"", domain);
	if (!email_valid(out))
		return err_set(e, "VERP: \"%s\" is not a valid address", out);
	return 0;
}

int verp_address(struct keys_client *kc, uint64_t batch, uint32_t seq, const char *domain,
		 char *out, size_t outsize, struct error *e)
{
	char mac[VERP_MAC_LEN + 1];

	if (in_range(batch, seq, e) < 0 || verp_mac(kc, batch, seq, mac, e) < 0)
		return -1;
	return verp_compose(batch, seq, mac, domain, out, outsize, e);
}

int verp_addresses(struct keys_client *kc, size_t n, const uint64_t *batch, const uint32_t *seq,
		   const char *domain, char (*out)[VERP_ADDR_MAX + 1], struct error *e)
{
	char (*in)[sizeof(KEYS_IX_NAME_VERP) + 48] = xcalloc(n ? n : 1, sizeof(*in));
	uint8_t (*h)[CRYPT_HASH_LEN] = xcalloc(n ? n : 1, sizeof(*h));
	struct keys_op *ops = xcalloc(n ? n : 1, sizeof(*ops));
	char mac[VERP_MAC_LEN + 1];
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		size_t len = 0;
		if (in_range(batch[i], seq[i], e) < 0 ||
		    verp_input(batch[i], seq[i], in[i], sizeof(in[i]), &len, e) < 0)
			goto out;
		ops[i] = (struct keys_op){ KEYS_HMAC, in[i], len, h[i] };
	}
	/* Every MAC of the chunk in one keys request, not one each. */
	if (keys_batch(kc, ops, n, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		verp_text(h[i], mac);
		if (verp_compose(batch[i], seq[i], mac, domain, out[i], sizeof(out[i]), e) < 0)
			goto out;
	}
	ret = 0;
out:
	secure_wipe(h, (n ? n : 1) * sizeof(*h));
	free(h);
	free(in);
	free(ops);
	return ret;
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
