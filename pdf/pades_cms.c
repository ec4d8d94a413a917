/*
 * pades_cms.c — the CMS SignedData a PAdES signature embeds (pades.h:
 * pades_cms_sign), assembled around a digest-signing callback so the
 * private key is never here, and the certificates read back out of a
 * signature or a time-stamp token for B-LT.
 * Runs in the gateway (its signer asks the keys process to sign digests)
 * and in the `tayori pdf sign` CLI.
 * Standards: RFC 5652 (CMS SignedData, DER SET OF order of signed
 * attributes), ETSI EN 319 122-1 (CAdES signed attributes), RFC 5035
 * (ESS signing-certificate-v2), RFC 3161 (id-aa-signatureTimeStampToken).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/crypt.h"
#include "pdf/pades_int.h"
#include "pdf/tsa.h"

struct der_item {
	uint8_t *p;
	int len;
};

static int der_item_cmp(const void *a, const void *b)
{
	const struct der_item *x = a, *y = b;
	int m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, (size_t)m);
	if (c != 0)
		return c;
	return x->len - y->len;
}

static size_t der_len_bytes(size_t n, uint8_t *out)
{
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		return 1;
	}
	size_t k = 0;
	for (size_t t = n; t > 0; t >>= 8)
		k++;
	out[0] = (uint8_t)(0x80 | k);
	for (size_t i = 0; i < k; i++)
		out[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
	return 1 + k;
}

/*
 * The DER encoding of the signed attributes as a SET OF (tag 0x31): what
 * the signature covers (RFC 5652 §5.4).  DER sorts the elements by their
 * encodings, exactly as OpenSSL does when it writes the [0] IMPLICIT field.
 */
static int signed_attrs_digest(CMS_SignerInfo *si, uint8_t md[32], struct error *e)
{
	int n = CMS_signed_get_attr_count(si), rc = -1;
	struct der_item *items = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*items));
	size_t total = 0;
	uint8_t hdr[16];
	size_t hlen;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();

	for (int i = 0; i < n; i++) {
		items[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &items[i].p);
		if (items[i].len <= 0) {
			err_tmp(e, "cannot encode a signed attribute");
			goto out;
		}
		total += (size_t)items[i].len;
	}
	qsort(items, (size_t)n, sizeof(*items), der_item_cmp);
	hdr[0] = 0x31;
	hlen = 1 + der_len_bytes(total, hdr + 1);
	if (mc == NULL || !EVP_DigestInit_ex(mc, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(mc, hdr, hlen))
		goto ossl;
	for (int i = 0; i < n; i++)
		if (!EVP_DigestUpdate(mc, items[i].p, (size_t)items[i].len))
			goto ossl;
	if (!EVP_DigestFinal_ex(mc, md, NULL))
		goto ossl;
	rc = 0;
	goto out;
ossl:
	crypt_ossl_error(e, 1, "SHA-256 failed");
out:
	for (int i = 0; i < n; i++)
		OPENSSL_free(items[i].p);
	free(items);
	EVP_MD_CTX_free(mc);
	return rc;
}

/* The CMS around s->sign_digest(); a time stamp from tsa_url (checked
 * against tsa_ca) on the signature value when tsa_url is set. */
int pades_cms_build(const uint8_t content_digest[32], const struct signer *s,
    const char *tsa_url, const char *tsa_ca, uint8_t **der, size_t *derlen, struct error *e)
{
	const unsigned int flags = CMS_PARTIAL | CMS_DETACHED | CMS_BINARY |
	    CMS_NOSMIMECAP | CMS_CADES;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	/* CMS_add1_signer only checks that the key matches the certificate and
	 * takes the algorithm from it; with CMS_PARTIAL it signs nothing, so
	 * the public key stands in for the private one. */
	EVP_PKEY *pub = X509_get0_pubkey(s->cert);
	uint8_t md[32], sig[SIGNER_SIG_MAX], *out = NULL, *tst = NULL;
	size_t siglen = sizeof(sig), tstlen = 0;
	ASN1_OCTET_STRING *sigstr;
	int len, rc = -1;

	*der = NULL;
	if (pub == NULL)
		return err_set(e, "the signer certificate has no usable public key");
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	if (cms == NULL)
		goto ossl;
	si = CMS_add1_signer(cms, s->cert, pub, EVP_sha256(), flags);
	if (si == NULL)
		goto ossl;
	for (int i = 0; s->chain != NULL && i < sk_X509_num(s->chain); i++) {
		X509 *x = sk_X509_value(s->chain, i);
		if (X509_cmp(x, s->cert) != 0 && !CMS_add1_cert(cms, x))
			goto ossl;
	}
	/* content-type and message-digest; CMS_SignerInfo_sign() would add a
	 * signing-time too, which PAdES forbids (the time is /M). */
	if (!CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	    OBJ_nid2obj(NID_pkcs7_data), -1) ||
	    !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
	    content_digest, 32))
		goto ossl;
	if (CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) < 0) {
		err_tmp(e, "OpenSSL did not add the signing-certificate-v2 attribute");
		goto out;
	}
	if (signed_attrs_digest(si, md, e) < 0)
		goto out;
	if (s->sign_digest(s->ctx, md, sig, &siglen, e) < 0)
		goto out;
	sigstr = CMS_SignerInfo_get0_signature(si);
	if (sigstr == NULL || !ASN1_STRING_set(sigstr, sig, (int)siglen))
		goto ossl;
	if (tsa_url != NULL) {
		uint8_t imprint[32];
		SHA256(sig, siglen, imprint);
		if (tsa_timestamp(tsa_url, tsa_ca, imprint, &tst, &tstlen, NULL, e) < 0)
			goto out;
		if (!CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken,
		    V_ASN1_SEQUENCE, tst, (int)tstlen))
			goto ossl;
	}
	len = i2d_CMS_ContentInfo(cms, &out);
	if (len <= 0)
		goto ossl;
	*der = out;
	*derlen = (size_t)len;
	rc = 0;
	goto out;
ossl:
	crypt_ossl_error(e, 1, "cannot build the CMS signature");
out:
	free(tst);
	CMS_ContentInfo_free(cms);
	OPENSSL_cleanse(sig, sizeof(sig));
	return rc;
}

int pades_cms_sign(const uint8_t content_digest[32], const struct signer *s,
    const char *tsa_url, uint8_t **der, size_t *derlen, struct error *e)
{
	return pades_cms_build(content_digest, s, tsa_url, NULL, der, derlen, e);
}

/* Certificates in a DER CMS (the signature or a time-stamp token). */
void pades_cms_certs(const uint8_t *der, size_t len, STACK_OF(X509) *all,
    struct pades_blobs *tokens)
{
	const uint8_t *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	STACK_OF(X509) *certs;
	STACK_OF(CMS_SignerInfo) *sis;
	if (cms == NULL) {
		ERR_clear_error();
		return;
	}
	certs = CMS_get1_certs(cms);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int dup = 0;
		for (int j = 0; j < sk_X509_num(all); j++)
			if (X509_cmp(sk_X509_value(all, j), x) == 0)
				dup = 1;
		if (!dup) {
			X509_up_ref(x);
			sk_X509_push(all, x);
		}
	}
	sk_X509_pop_free(certs, X509_free);
	sis = CMS_get0_SignerInfos(cms);
	for (int i = 0; tokens != NULL && i < sk_CMS_SignerInfo_num(sis); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
		int idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
		X509_ATTRIBUTE *a = idx >= 0 ? CMS_unsigned_get_attr(si, idx) : NULL;
		ASN1_TYPE *t = a ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
		if (t != NULL && t->type == V_ASN1_SEQUENCE)
			pades_blobs_add(tokens, ASN1_STRING_get0_data(t->value.sequence),
			    (size_t)ASN1_STRING_length(t->value.sequence));
	}
	CMS_ContentInfo_free(cms);
}
