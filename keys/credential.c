/*
 * credential.c — the signing credential from a PKCS#12 file or a PKCS#11
 * token, with the key-matches-certificate check (see credential.h).
 * Runs in the keys process and in `tayori pdf sign`.
 *
 * Standards: PKCS#12 (RFC 7292), PKCS#1 v1.5 signatures with a SHA-256
 * DigestInfo (RFC 8017 §9.2), ECDSA with DER Ecdsa-Sig-Value (RFC 5480),
 * PKCS#11 v2.40 (Cryptoki): C_GetFunctionList, C_Login, C_FindObjects,
 * C_Sign with CKM_RSA_PKCS / CKM_ECDSA.
 */
#include "keys/credential.h"
#include "lib/crypt.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>

/* Debian ships the OASIS header as p11-kit-1/p11-kit/pkcs11.h; reaching it
 * through /usr/include keeps the makefile free of an extra -I. */
#include <p11-kit-1/p11-kit/pkcs11.h>

#define P12_FILE_MAX (1 << 20)
#define P11_ATTR_MAX (1 << 20)

struct p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE sess;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE ktype;
	int initialized, session_open, logged_in;
	pthread_mutex_t mu;
};

struct credential {
	EVP_PKEY *pkey;         /* PKCS#12: the key; NULL for a token */
	struct p11 *p11;        /* PKCS#11: the token session; NULL for a file */
	X509 *cert;
	STACK_OF(X509) *chain;
	int key_type;           /* EVP_PKEY_RSA or EVP_PKEY_EC */
};

static int chain_has(STACK_OF(X509) *chain, X509 *x)
{
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (X509_cmp(sk_X509_value(chain, i), x) == 0)
			return 1;
	return 0;
}

static void p11_close(struct p11 *c)
{
	if (c == NULL)
		return;
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

void credential_free(struct credential **cp)
{
	struct credential *c;
	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	EVP_PKEY_free(c->pkey); /* OpenSSL clears private key material on free */
	p11_close(c->p11);
	X509_free(c->cert);
	sk_X509_pop_free(c->chain, X509_free);
	free(c);
	*cp = NULL;
}

X509 *credential_cert(const struct credential *c)
{
	return c->cert;
}

STACK_OF(X509) *credential_chain(const struct credential *c)
{
	return c->chain;
}

int credential_key_type(const struct credential *c)
{
	return c->key_type;
}

const char *credential_source(const struct credential *c)
{
	return c->p11 != NULL ? "pkcs11" : "pkcs12";
}

/* ---- signing ---- */

static int p12_sign(struct credential *c, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		    struct error *e)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, c->pkey, NULL);
	int rc = -1;
	if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0)
		goto fail;
	if (c->key_type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) <= 0)
		goto fail;
	/* The md makes the RSA operation wrap the digest in a DigestInfo. */
	if (EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) <= 0 ||
	    EVP_PKEY_sign(pc, sig, siglen, digest, 32) <= 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	crypt_ossl_error(e, 0, "signing with the PKCS#12 key failed");
	if (e != NULL)
		e->temporary = 1;
out:
	EVP_PKEY_CTX_free(pc);
	return rc;
}

/* DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1). */
static const uint8_t sha256_digestinfo[19] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
};

/* CKM_ECDSA returns r||s; CMS wants the DER SEQUENCE { r, s }. */
static int ecdsa_to_der(const uint8_t *raw, size_t rawlen, uint8_t *sig, size_t *siglen,
			struct error *e)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *p = sig;
	int dlen, rc = -1;

	if (rawlen % 2 != 0 || rawlen == 0)
		return err_tmp(e, "PKCS#11 ECDSA signature has an odd length");
	r = BN_bin2bn(raw, (int)(rawlen / 2), NULL);
	s = BN_bin2bn(raw + rawlen / 2, (int)(rawlen / 2), NULL);
	es = ECDSA_SIG_new();
	if (r == NULL || s == NULL || es == NULL || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		err_tmp(e, "out of memory encoding an ECDSA signature");
		goto out;
	}
	dlen = i2d_ECDSA_SIG(es, NULL);
	if (dlen <= 0 || (size_t)dlen > *siglen) {
		err_tmp(e, "ECDSA signature too long");
		goto out;
	}
	i2d_ECDSA_SIG(es, &p);
	*siglen = (size_t)dlen;
	rc = 0;
out:
	ECDSA_SIG_free(es);
	return rc;
}

static int p11_sign(struct p11 *c, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		    struct error *e)
{
	CK_MECHANISM mech = { 0, NULL, 0 };
	uint8_t in[sizeof(sha256_digestinfo) + 32];
	size_t inlen;
	uint8_t raw[CREDENTIAL_SIG_MAX];
	CK_ULONG rawlen = sizeof(raw);
	CK_RV rv;

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
	if (c->ktype != CKK_RSA)
		return ecdsa_to_der(raw, rawlen, sig, siglen, e);
	if (rawlen > *siglen)
		return err_tmp(e, "PKCS#11 signature too long");
	memcpy(sig, raw, rawlen);
	*siglen = rawlen;
	return 0;
}

int credential_sign(struct credential *c, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		    struct error *e)
{
	if (c->p11 != NULL)
		return p11_sign(c->p11, digest, sig, siglen, e);
	return p12_sign(c, digest, sig, siglen, e);
}

/*
 * The key belongs to the certificate: a signature the key makes over a
 * random digest verifies under the certificate's public key.  (For a token
 * this is the only check that needs no readable key attribute.)
 */
static int check_pair(struct credential *c, const char *where, struct error *e)
{
	uint8_t digest[32], sig[CREDENTIAL_SIG_MAX];
	size_t siglen = sizeof(sig);
	EVP_PKEY *pub = X509_get0_pubkey(c->cert);
	EVP_PKEY_CTX *pc = NULL;
	int ok = 0;

	if (pub == NULL || EVP_PKEY_get_base_id(pub) != c->key_type)
		return err_set(e, "%s: the key does not match its certificate (another key type)", where);
	if (random_bytes(digest, sizeof(digest)) < 0)
		return err_tmp(e, "no random bytes");
	if (credential_sign(c, digest, sig, &siglen, e) < 0)
		return -1;
	pc = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	if (pc != NULL && EVP_PKEY_verify_init(pc) > 0 &&
	    (c->key_type != EVP_PKEY_RSA || EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0) &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_verify(pc, sig, siglen, digest, sizeof(digest)) == 1)
		ok = 1;
	EVP_PKEY_CTX_free(pc);
	ERR_clear_error();
	if (!ok)
		return err_set(e, "%s: the key does not match its certificate", where);
	return 0;
}

/* ---- PKCS#12 ---- */

int credential_open_p12(const char *path, const char *password, struct credential **out,
			struct error *e)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const uint8_t *p;
	PKCS12 *p12 = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	struct credential *c = NULL;
	int type, rc = -1;

	*out = NULL;
	if (file_read_all(path, P12_FILE_MAX, &der, &len, e) < 0)
		return -1;
	p = der;
	p12 = d2i_PKCS12(NULL, &p, (long)len);
	if (p12 == NULL) {
		err_set(e, "%s: not a PKCS#12 file", path);
		goto out;
	}
	if (!PKCS12_parse(p12, password, &pkey, &cert, &ca)) {
		ERR_clear_error();
		err_set(e, "%s: cannot open the PKCS#12 file (wrong password or damaged file)", path);
		goto out;
	}
	if (pkey == NULL || cert == NULL) {
		err_set(e, "%s: the PKCS#12 file holds no key with its certificate", path);
		goto out;
	}
	type = EVP_PKEY_get_base_id(pkey);
	if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
		err_set(e, "%s: the PKCS#12 key is neither RSA nor EC", path);
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->pkey = pkey;
	pkey = NULL;
	c->cert = cert;
	cert = NULL;
	c->key_type = type;
	c->chain = sk_X509_new_null();
	for (int i = 0; i < sk_X509_num(ca); i++) {
		X509 *x = sk_X509_value(ca, i);
		if (X509_cmp(x, c->cert) != 0 && !chain_has(c->chain, x)) {
			X509_up_ref(x);
			sk_X509_push(c->chain, x);
		}
	}
	if (check_pair(c, path, e) < 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	credential_free(&c);
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	if (der != NULL)
		secure_wipe(der, len);
	free(der);
	return rc;
}

/* ---- PKCS#11 ---- */

/* Read one attribute value into a fresh buffer (caller frees). */
static int p11_get_attr(struct p11 *c, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, uint8_t **val,
			size_t *len)
{
	CK_ATTRIBUTE a = { t, NULL, 0 };
	if (c->f->C_GetAttributeValue(c->sess, o, &a, 1) != CKR_OK ||
	    a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > P11_ATTR_MAX)
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
static int p11_find(struct p11 *c, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *objs,
		    CK_ULONG max, CK_ULONG *found)
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

/* Load the module, find the token, open a session and log in. */
static int p11_login(struct p11 *c, const char *module, const char *token, const char *pin,
		     struct error *e)
{
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS init;
	CK_SLOT_ID slots[64], slot = 0;
	CK_ULONG nslots = ARRAY_SIZE(slots);
	int have_slot = 0;
	CK_RV rv;

	c->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (c->dl == NULL)
		return err_set(e, "cannot load the PKCS#11 module %s: %s", module, dlerror());
	*(void **)(&getfl) = dlsym(c->dl, "C_GetFunctionList");
	if (getfl == NULL || getfl(&c->f) != CKR_OK || c->f == NULL)
		return err_set(e, "%s is not a PKCS#11 module", module);
	memset(&init, 0, sizeof(init));
	init.flags = CKF_OS_LOCKING_OK;
	rv = c->f->C_Initialize(&init);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return err_set(e, "the PKCS#11 module %s does not start (C_Initialize: CKR 0x%lx)",
			       module, (unsigned long)rv);
	c->initialized = rv == CKR_OK;
	if (c->f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
		return err_set(e, "the PKCS#11 module %s lists no slots", module);
	for (CK_ULONG i = 0; i < nslots && !have_slot; i++) {
		CK_TOKEN_INFO ti;
		if (c->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (label_equals(ti.label, sizeof(ti.label), token)) {
			slot = slots[i];
			have_slot = 1;
		}
	}
	if (!have_slot)
		return err_set(e, "no PKCS#11 token labelled \"%s\" in %s", token, module);
	if (c->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &c->sess) != CKR_OK)
		return err_set(e, "cannot open a session on PKCS#11 token \"%s\"", token);
	c->session_open = 1;
	rv = c->f->C_Login(c->sess, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
	if (rv == CKR_PIN_INCORRECT)
		return err_set(e, "login to PKCS#11 token \"%s\" failed: wrong PIN", token);
	if (rv == CKR_PIN_LOCKED)
		return err_set(e, "login to PKCS#11 token \"%s\" failed: the PIN is locked", token);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return err_set(e, "login to PKCS#11 token \"%s\" failed (CKR 0x%lx)", token,
			       (unsigned long)rv);
	c->logged_in = rv == CKR_OK;
	return 0;
}

/* The token's certificates, with their CKA_IDs (NULL where unreadable). */
struct p11_certs {
	CK_ULONG n;
	X509 *x[64];
	uint8_t *id[64];
	size_t idlen[64];
};

static void p11_certs_free(struct p11_certs *pc)
{
	for (CK_ULONG i = 0; i < pc->n; i++) {
		X509_free(pc->x[i]);
		free(pc->id[i]);
	}
	pc->n = 0;
}

static int p11_read_certs(struct p11 *c, struct p11_certs *pc)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[1] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE objs[ARRAY_SIZE(pc->x)];

	memset(pc, 0, sizeof(*pc));
	if (p11_find(c, t, 1, objs, ARRAY_SIZE(objs), &pc->n) < 0)
		return -1;
	for (CK_ULONG i = 0; i < pc->n; i++) {
		uint8_t *v;
		size_t vlen;
		const uint8_t *p;
		if (p11_get_attr(c, objs[i], CKA_VALUE, &v, &vlen) < 0)
			continue;
		p = v;
		pc->x[i] = d2i_X509(NULL, &p, (long)vlen);
		free(v);
		if (p11_get_attr(c, objs[i], CKA_ID, &pc->id[i], &pc->idlen[i]) < 0)
			pc->id[i] = NULL;
	}
	return 0;
}

/* The certificate with the key's CKA_ID, or -1. */
static long p11_cert_for(struct p11 *c, const struct p11_certs *pc, CK_OBJECT_HANDLE key)
{
	uint8_t *id = NULL;
	size_t idlen = 0;
	long found = -1;
	if (p11_get_attr(c, key, CKA_ID, &id, &idlen) < 0)
		return -1;
	for (CK_ULONG j = 0; j < pc->n && found < 0; j++)
		if (pc->x[j] != NULL && pc->id[j] != NULL && pc->idlen[j] == idlen &&
		    memcmp(pc->id[j], id, idlen) == 0)
			found = (long)j;
	free(id);
	return found;
}

int credential_open_pkcs11(const char *module, const char *token, const char *key_label,
			   const char *pin, struct credential **out, struct error *e)
{
	struct p11 *p = xcalloc(1, sizeof(*p));
	struct credential *c = NULL;
	struct p11_certs pc;
	CK_OBJECT_CLASS cls_key = CKO_PRIVATE_KEY;
	CK_OBJECT_HANDLE keys[32];
	CK_ULONG nkeys = 0;
	long cert = -1;
	int paired = 0, rc = -1;
	char where[160];

	*out = NULL;
	memset(&pc, 0, sizeof(pc));
	pthread_mutex_init(&p->mu, NULL);
	if (key_label != NULL && key_label[0] == '\0')
		key_label = NULL;
	if (p11_login(p, module, token, pin, e) < 0)
		goto out;
	{
		CK_ATTRIBUTE t[2] = {
			{ CKA_CLASS, &cls_key, sizeof(cls_key) },
			{ CKA_LABEL, (void *)key_label, key_label ? strlen(key_label) : 0 },
		};
		if (p11_find(p, t, key_label ? 2 : 1, keys, ARRAY_SIZE(keys), &nkeys) < 0 ||
		    nkeys == 0) {
			if (key_label != NULL)
				err_set(e, "no private key labelled \"%s\" on PKCS#11 token \"%s\"", key_label,
					token);
			else
				err_set(e, "no private key on PKCS#11 token \"%s\"", token);
			goto out;
		}
	}
	if (p11_read_certs(p, &pc) < 0 || pc.n == 0) {
		err_set(e, "no certificate on PKCS#11 token \"%s\"", token);
		goto out;
	}
	for (CK_ULONG i = 0; i < nkeys; i++) {
		long j = p11_cert_for(p, &pc, keys[i]);
		if (j < 0)
			continue;
		if (paired++ == 0) {
			p->key = keys[i];
			cert = j;
		}
	}
	if (paired == 0) {
		err_set(e, "no private key with a certificate of the same CKA_ID on PKCS#11 token \"%s\"",
			token);
		goto out;
	}
	if (paired > 1) {
		err_set(e, "PKCS#11 token \"%s\" holds %d keys with certificates: say which signs (its label)",
			token, paired);
		goto out;
	}
	{
		uint8_t *kt = NULL;
		size_t ktlen = 0;
		int good = p11_get_attr(p, p->key, CKA_KEY_TYPE, &kt, &ktlen) == 0 &&
			   ktlen == sizeof(CK_KEY_TYPE);
		if (good)
			memcpy(&p->ktype, kt, sizeof(CK_KEY_TYPE));
		free(kt);
		if (!good || (p->ktype != CKK_RSA && p->ktype != CKK_EC)) {
			err_set(e, "the key on PKCS#11 token \"%s\" is neither RSA nor EC", token);
			goto out;
		}
	}
	c = xcalloc(1, sizeof(*c));
	c->p11 = p;
	p = NULL;
	c->key_type = c->p11->ktype == CKK_RSA ? EVP_PKEY_RSA : EVP_PKEY_EC;
	c->cert = pc.x[cert];
	pc.x[cert] = NULL;
	c->chain = sk_X509_new_null();
	for (CK_ULONG i = 0; i < pc.n; i++)
		if (pc.x[i] != NULL && X509_cmp(pc.x[i], c->cert) != 0 &&
		    !chain_has(c->chain, pc.x[i])) {
			sk_X509_push(c->chain, pc.x[i]);
			pc.x[i] = NULL;
		}
	str_fmt(where, sizeof(where), "PKCS#11 token \"%s\"", token);
	if (check_pair(c, where, e) < 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	p11_certs_free(&pc);
	credential_free(&c);
	p11_close(p);
	return rc;
}

/* ---- what the certificate says ---- */

int credential_info(const struct credential *c, struct credential_info *out, struct error *e)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	BIO *b = NULL;
	struct tm tm;
	int n;

	memset(out, 0, sizeof(*out));
	if (X509_digest(c->cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != sizeof(md))
		return err_tmp(e, "cannot hash the signing certificate");
	hex_encode(md, sizeof(md), out->sha256);
	b = BIO_new(BIO_s_mem());
	if (b == NULL ||
	    X509_NAME_print_ex(b, X509_get_subject_name(c->cert), 0,
			       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		BIO_free(b);
		return err_tmp(e, "cannot print the signing certificate's subject");
	}
	n = BIO_read(b, out->subject, (int)sizeof(out->subject) - 1);
	out->subject[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(c->cert), &tm) != 1)
		return err_set(e, "the signing certificate has no valid end date");
	strftime(out->not_after, sizeof(out->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return 0;
}

int credential_is_demo(const struct credential *c)
{
	X509_NAME *name = X509_get_subject_name(c->cert);
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
		unsigned char *utf8 = NULL;
		int n = ASN1_STRING_to_UTF8(&utf8, v), demo = 0;
		if (n > 0 && memmem(utf8, (size_t)n, "DEMO", 4) != NULL)
			demo = 1;
		OPENSSL_free(utf8);
		if (demo)
			return 1;
	}
	return 0;
}
