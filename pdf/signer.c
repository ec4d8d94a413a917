/*
 * signer.c — what PAdES signing needs of a struct signer beyond its
 * sign_digest: freeing it and adding a chain file.  The credential itself
 * (PKCS#12 or PKCS#11) is opened by keys/credential.c.  Runs in the
 * gateway, `tayori submit` and `tayori pdf sign`.
 */
#include "pdf/signer.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/pem.h>

static int chain_has(STACK_OF(X509) *chain, X509 *x)
{
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (X509_cmp(sk_X509_value(chain, i), x) == 0)
			return 1;
	return 0;
}

void signer_free(struct signer **sp)
{
	struct signer *s;
	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	if (s->free_ctx != NULL && s->ctx != NULL)
		s->free_ctx(s->ctx);
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	free(s);
	*sp = NULL;
}

int signer_add_chain_file(struct signer *s, const char *pem_path, struct error *e)
{
	FILE *f = fopen(pem_path, "r");
	X509 *x;
	int n = 0;
	if (f == NULL)
		return err_set(e, "cannot open certificate file %s", pem_path);
	if (s->chain == NULL)
		s->chain = sk_X509_new_null();
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		n++;
		if (X509_cmp(x, s->cert) == 0 || chain_has(s->chain, x))
			X509_free(x);
		else
			sk_X509_push(s->chain, x);
	}
	ERR_clear_error();
	fclose(f);
	if (n == 0)
		return err_set(e, "no PEM certificate in %s", pem_path);
	return 0;
}
