/*
 * signer.c — local (PKCS#12) and PKCS#11 signers behind struct signer.
 * Runs in the keys process and in the `tayori pdf sign` CLI; never in a
 * process that talks to the network for residents.
 *
 * Standards: PKCS#12 (RFC 7292), PKCS#1 v1.5 signatures with a SHA-256
 * DigestInfo (RFC 8017 §9.2), ECDSA with DER Ecdsa-Sig-Value (RFC 5480),
 * PKCS#11 v2.40 (Cryptoki): C_GetFunctionList, C_Login, C_FindObjects,
 * C_Sign with CKM_RSA_PKCS / CKM_ECDSA.
 */
#include "gateway/signer.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>

/* Debian ships the OASIS header as p11-kit-1/p11-kit/pkcs11.h; reaching it
 * through /usr/include keeps the makefile free of an extra -I. */
#include <p11-kit-1/p11-kit/pkcs11.h>

/* Fill e with the first OpenSSL error, so messages say why. */
static int ossl_err(struct error *e, const char *what)
{
	unsigned long code = ERR_get_error();
	char reason[256] = "unknown error";
	if (code != 0)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	return err_set(e, "%s: %s", what, reason);
}

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

/* ---- PKCS#12 (local key) ---- */

struct p12_ctx {
	EVP_PKEY *pkey;
};

static int p12_sign_digest(void *vctx, const uint8_t digest[32], uint8_t *sig,
    size_t *siglen, struct error *e)
{
	struct p12_ctx *c = vctx;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, c->pkey, NULL);
	int rc = -1;
	if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0)
		goto fail;
	if (EVP_PKEY_get_base_id(c->pkey) == EVP_PKEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0)
		goto fail;
	/* The md makes the RSA operation wrap the digest in a DigestInfo. */
	if (EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) <= 0)
		goto fail;
	if (EVP_PKEY_sign(pc, sig, siglen, digest, 32) <= 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	ossl_err(e, "signing with the PKCS#12 key failed");
	if (e != NULL)
		e->temporary = 1;
out:
	EVP_PKEY_CTX_free(pc);
	return rc;
}

static void p12_free(void *vctx)
{
	struct p12_ctx *c = vctx;
	EVP_PKEY_free(c->pkey); /* OpenSSL clears private key material on free */
	free(c);
}

int signer_from_p12(const char *path, const char *password,
    struct signer **out, struct error *e)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const uint8_t *p;
	PKCS12 *p12 = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	struct signer *s = NULL;
	struct p12_ctx *c;
	int type, rc = -1;

	*out = NULL;
	if (file_read_all(path, 1 << 20, &der, &len, e) < 0)
		return -1;
	p = der;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 == NULL) {
		ossl_err(e, "not a PKCS#12 file");
		goto out;
	}
	if (!PKCS12_parse(p12, password, &pkey, &cert, &ca)) {
		ossl_err(e, "cannot open the PKCS#12 file (wrong password?)");
		goto out;
	}
	if (pkey == NULL || cert == NULL) {
		err_set(e, "the PKCS#12 file %s holds no key with its certificate", path);
		goto out;
	}
	if (X509_check_private_key(cert, pkey) != 1) {
		ossl_err(e, "the PKCS#12 key does not match its certificate");
		goto out;
	}
	type = EVP_PKEY_get_base_id(pkey);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
		err_set(e, "the PKCS#12 key is neither RSA nor EC");
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->pkey = pkey;
	pkey = NULL;
	s = xcalloc(1, sizeof(*s));
	s->sign_digest = p12_sign_digest;
	s->ctx = c;
	s->free_ctx = p12_free;
	s->cert = cert;
	cert = NULL;
	s->chain = sk_X509_new_null();
	for (int i = 0; i < sk_X509_num(ca); i++) {
		X509 *x = sk_X509_value(ca, i);
		if (X509_cmp(x, s->cert) != 0 && !chain_has(s->chain, x)) {
			X509_up_ref(x);
			sk_X509_push(s->chain, x);
		}
	}
	s->pkey_type = type;
	*out = s;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	free(der);
	return rc;
}

/* ---- PKCS#11 token ---- */

struct p11_ctx {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE sess;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE ktype;
	int initialized, session_open, logged_in;
	pthread_mutex_t mu;
};

static void p11_free(void *vctx)
{
	struct p11_ctx *c = vctx;
	if (c->logged_in)
		c->f->C_Logout(c->sess);
	if (c->session_open)
		c->f->C_CloseSession(c->sess);
	if (c->initialized)
		c->f->C_Finalize(NULL);
	if (c->dl != NULL)
		dlclose(c->dl);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1). */
static const uint8_t sha256_digestinfo[19] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
};

static int p11_sign_digest(void *vctx, const uint8_t digest[32], uint8_t *sig,
    size_t *siglen, struct error *e)
{
	struct p11_ctx *c = vctx;
	CK_MECHANISM mech = { 0, NULL, 0 };
	uint8_t in[sizeof(sha256_digestinfo) + 32];
	size_t inlen;
	uint8_t raw[SIGNER_SIG_MAX];
	CK_ULONG rawlen = sizeof(raw);
	CK_RV rv;
	int rc = -1;

	if (c->ktype == CKK_RSA) {
		mech.mechanism = CKM_RSA_PKCS;
		memcpy(in, sha256_digestinfo, sizeof(sha256_digestinfo));
		memcpy(in + sizeof(sha256_digestinfo), digest, 32);
		inlen = sizeof(in);
	} else {
		mech.mechanism = CKM_ECDSA;
		memcpy(in, digest, 32);
		inlen = 32;
	}
	pthread_mutex_lock(&c->mu);
	rv = c->f->C_SignInit(c->sess, &mech, c->key);
	if (rv == CKR_OK)
		rv = c->f->C_Sign(c->sess, in, (CK_ULONG)inlen, raw, &rawlen);
	pthread_mutex_unlock(&c->mu);
	if (rv != CKR_OK)
		return err_tmp(e, "PKCS#11 C_Sign failed (CKR 0x%lx)", (unsigned long)rv);

	if (c->ktype == CKK_RSA) {
		if (rawlen > *siglen)
			return err_tmp(e, "PKCS#11 signature too long");
		memcpy(sig, raw, rawlen);
		*siglen = rawlen;
		return 0;
	}
	/* CKM_ECDSA returns r||s; CMS wants the DER SEQUENCE { r, s }. */
	{
		ECDSA_SIG *es = NULL;
		BIGNUM *r = NULL, *s = NULL;
		uint8_t *p = sig;
		int dlen;
		if (rawlen % 2 != 0 || rawlen == 0) {
			err_tmp(e, "PKCS#11 ECDSA signature has an odd length");
			goto ec_out;
		}
		r = BN_bin2bn(raw, (int)(rawlen / 2), NULL);
		s = BN_bin2bn(raw + rawlen / 2, (int)(rawlen / 2), NULL);
		es = ECDSA_SIG_new();
		if (r == NULL || s == NULL || es == NULL || !ECDSA_SIG_set0(es, r, s)) {
			BN_free(r);
			BN_free(s);
			err_tmp(e, "out of memory encoding an ECDSA signature");
			goto ec_out;
		}
		dlen = i2d_ECDSA_SIG(es, NULL);
		if (dlen <= 0 || (size_t)dlen > *siglen) {
			err_tmp(e, "ECDSA signature too long");
			goto ec_out;
		}
		i2d_ECDSA_SIG(es, &p);
		*siglen = (size_t)dlen;
		rc = 0;
ec_out:
		ECDSA_SIG_free(es);
		return rc;
	}
}

/* Read one attribute value into a fresh buffer (caller frees). */
static int p11_get_attr(struct p11_ctx *c, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    uint8_t **val, size_t *len)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	if (c->f->C_GetAttributeValue(c->sess, o, &a, 1) != CKR_OK ||
	    a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > (1 << 20))
		return -1;
	a.pValue = xmalloc(a.ulValueLen + 1);
	if (c->f->C_GetAttributeValue(c->sess, o, &a, 1) != CKR_OK) {
		free(a.pValue);
		return -1;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return 0;
}

/* Find up to max objects matching the template. */
static int p11_find(struct p11_ctx *c, CK_ATTRIBUTE *tmpl, CK_ULONG n,
    CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *found)
{
	CK_RV rv = c->f->C_FindObjectsInit(c->sess, tmpl, n);
	if (rv != CKR_OK)
		return -1;
	rv = c->f->C_FindObjects(c->sess, objs, max, found);
	c->f->C_FindObjectsFinal(c->sess);
	return rv == CKR_OK ? 0 : -1;
}

static int label_equals(const CK_UTF8CHAR *padded, size_t n, const char *want)
{
	size_t len = n;
	while (len > 0 && (padded[len - 1] == ' ' || padded[len - 1] == '\0'))
		len--;
	return strlen(want) == len && memcmp(padded, want, len) == 0;
}

int signer_from_pkcs11(const char *module_path, const char *token_label,
    const char *key_label, const char *pin, struct signer **out,
    struct error *e)
{
	struct p11_ctx *c = xcalloc(1, sizeof(*c));
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS init;
	CK_SLOT_ID slots[64];
	CK_ULONG nslots = ARRAY_SIZE(slots), i;
	CK_SLOT_ID slot = 0;
	int have_slot = 0;
	CK_RV rv;
	CK_OBJECT_CLASS cls_key = CKO_PRIVATE_KEY, cls_cert = CKO_CERTIFICATE;
	CK_OBJECT_HANDLE keys[32], certs[64];
	CK_ULONG nkeys = 0, ncerts = 0;
	struct signer *s = NULL;
	X509 **certx = NULL;
	uint8_t **cert_ids = NULL;
	size_t *cert_idlen = NULL;
	int rc = -1;

	*out = NULL;
	pthread_mutex_init(&c->mu, NULL);
	c->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
	if (c->dl == NULL) {
		err_set(e, "cannot load PKCS#11 module %s: %s", module_path, dlerror());
		goto out;
	}
	*(void **)(&getfl) = dlsym(c->dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&c->f) != CKR_OK || c->f == NULL) {
		err_set(e, "%s is not a PKCS#11 module", module_path);
		goto out;
	}
	memset(&init, 0, sizeof(init));
	init.flags = CKF_OS_LOCKING_OK;
	rv = c->f->C_Initialize(&init);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		err_tmp(e, "PKCS#11 C_Initialize failed (CKR 0x%lx)", (unsigned long)rv);
		goto out;
	}
	c->initialized = rv == CKR_OK;
	if (c->f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK) {
		err_tmp(e, "PKCS#11 C_GetSlotList failed");
		goto out;
	}
	for (i = 0; i < nslots && !have_slot; i++) {
		CK_TOKEN_INFO ti;
		if (c->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (label_equals(ti.label, sizeof(ti.label), token_label)) {
			slot = slots[i];
			have_slot = 1;
		}
	}
	if (!have_slot) {
		err_set(e, "no PKCS#11 token labelled \"%s\"", token_label);
		goto out;
	}
	if (c->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &c->sess) != CKR_OK) {
		err_tmp(e, "PKCS#11 C_OpenSession failed");
		goto out;
	}
	c->session_open = 1;
	rv = c->f->C_Login(c->sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		err_set(e, "PKCS#11 login to \"%s\" failed (wrong PIN?)", token_label);
		goto out;
	}
	c->logged_in = rv == CKR_OK;

	{
		CK_ATTRIBUTE t[2] = {
			{ CKA_CLASS, &cls_key, sizeof(cls_key) },
			{ CKA_LABEL, (void *)key_label, key_label ? strlen(key_label) : 0 },
		};
		if (p11_find(c, t, key_label ? 2 : 1, keys, ARRAY_SIZE(keys), &nkeys) < 0 || nkeys == 0) {
			err_set(e, "no private key on PKCS#11 token \"%s\"", token_label);
			goto out;
		}
	}
	{
		CK_ATTRIBUTE t[1] = { { CKA_CLASS, &cls_cert, sizeof(cls_cert) } };
		if (p11_find(c, t, 1, certs, ARRAY_SIZE(certs), &ncerts) < 0 || ncerts == 0) {
			err_set(e, "no certificate on PKCS#11 token \"%s\"", token_label);
			goto out;
		}
	}
	certx = xcalloc(ncerts, sizeof(*certx));
	cert_ids = xcalloc(ncerts, sizeof(*cert_ids));
	cert_idlen = xcalloc(ncerts, sizeof(*cert_idlen));
	for (i = 0; i < ncerts; i++) {
		uint8_t *v;
		size_t vlen;
		const uint8_t *p;
		if (p11_get_attr(c, certs[i], CKA_VALUE, &v, &vlen) < 0)
			continue;
		p = v;
		certx[i] = d2i_X509(NULL, &p, (long)vlen);
		free(v);
		if (p11_get_attr(c, certs[i], CKA_ID, &cert_ids[i], &cert_idlen[i]) < 0)
			cert_ids[i] = NULL;
	}
	/* The first key with a certificate of the same CKA_ID is ours. */
	for (i = 0; i < nkeys && s == NULL; i++) {
		uint8_t *id = NULL, *kt = NULL;
		size_t idlen = 0, ktlen = 0;
		if (p11_get_attr(c, keys[i], CKA_ID, &id, &idlen) < 0)
			continue;
		for (CK_ULONG j = 0; j < ncerts; j++) {
			if (certx[j] == NULL || cert_ids[j] == NULL || cert_idlen[j] != idlen ||
			    memcmp(cert_ids[j], id, idlen) != 0)
				continue;
			if (p11_get_attr(c, keys[i], CKA_KEY_TYPE, &kt, &ktlen) < 0 ||
			    ktlen != sizeof(CK_KEY_TYPE))
				break;
			memcpy(&c->ktype, kt, sizeof(CK_KEY_TYPE));
			if (c->ktype != CKK_RSA && c->ktype != CKK_EC)
				break;
			c->key = keys[i];
			s = xcalloc(1, sizeof(*s));
			s->cert = certx[j];
			certx[j] = NULL;
			break;
		}
		free(kt);
		free(id);
	}
	if (s == NULL) {
		err_set(e, "no RSA or EC key with a matching certificate (same CKA_ID) on token \"%s\"",
		    token_label);
		goto out;
	}
	s->pkey_type = c->ktype == CKK_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC;
	s->chain = sk_X509_new_null();
	for (i = 0; i < ncerts; i++)
		if (certx[i] != NULL && X509_cmp(certx[i], s->cert) != 0 &&
		    !chain_has(s->chain, certx[i])) {
			sk_X509_push(s->chain, certx[i]);
			certx[i] = NULL;
		}
	s->sign_digest = p11_sign_digest;
	s->ctx = c;
	s->free_ctx = p11_free;
	*out = s;
	s = NULL;
	c = NULL;
	rc = 0;
out:
	for (i = 0; certx != NULL && i < ncerts; i++) {
		X509_free(certx[i]);
		free(cert_ids[i]);
	}
	free(certx);
	free(cert_ids);
	free(cert_idlen);
	if (s != NULL) {
		X509_free(s->cert);
		free(s);
	}
	if (c != NULL)
		p11_free(c);
	return rc;
}
