/*
 * keys_signer.c — the gateway's signer: digests go to the keys process
 * (see keys_signer.h).  The keys client serialises concurrent calls, so the
 * signer may be shared by the splitter's writer threads.
 */
#include "gateway/keys_signer.h"

#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/ipc.h"
#include "lib/keys_client.h"

static int ipc_sign(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		    struct error *e)
{
	return keys_sign_digest(ctx, digest, sig, siglen, e);
}

int keys_signer_new(struct keys_client *kc, struct signer **out, struct error *e)
{
	struct signer *s = xcalloc(1, sizeof(*s));
	struct buf certs;
	struct ipc_reader r;
	const uint8_t *der;
	size_t n;
	int ret = -1;

	buf_init(&certs, KEYS_MAX_REQUEST);
	if (keys_certs(kc, &certs, e) < 0)
		goto out;
	ipc_reader_init(&r, certs.data, certs.len);
	while (r.off < r.len) {
		const unsigned char *p;
		X509 *x;
		if (ipc_get_bytes(&r, &der, &n) < 0) {
			err_tmp(e, "the keys process sent a malformed certificate list");
			goto out;
		}
		p = der;
		x = d2i_X509(NULL, &p, (long)n);
		if (x == NULL || p != der + n) {
			X509_free(x);
			err_tmp(e, "the keys process sent a malformed certificate");
			goto out;
		}
		if (s->cert == NULL) {
			s->cert = x;
		} else {
			if (s->chain == NULL)
				s->chain = sk_X509_new_null();
			sk_X509_push(s->chain, x);
		}
	}
	if (s->cert == NULL) {
		err_set(e, "no signing credential is configured (see [signing] in tayori.conf)");
		goto out;
	}
	s->pkey_type = EVP_PKEY_base_id(X509_get0_pubkey(s->cert));
	s->sign_digest = ipc_sign;
	s->ctx = kc;
	s->free_ctx = NULL;
	*out = s;
	s = NULL;
	ret = 0;
out:
	buf_free(&certs);
	if (s != NULL)
		signer_free(&s);
	return ret;
}
