/*
 * test_credential.c — unit tests for keys/credential.c and the credential
 * rules of the keys process: a PKCS#12 file opens with its password and
 * not without it, its signatures verify under its certificate (RSA and EC),
 * the chain is kept, the fingerprint, subject and end date are what OpenSSL
 * says, a DEMO subject is recognised, and keys_state_load refuses a DEMO
 * certificate unless the tenant carries the mark `tayori init --demo`
 * leaves.  PKCS#11 tokens are tested through the whole service in
 * tests/integration/pkcs11_service.sh.
 * Runs as a stand-alone cmocka program; uses scratch files under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "keys/credential.h"
#include "keys/keys.h"
#include "lib/util.h"

/* A self-signed certificate for key k with common name cn, valid 30 days. */
static X509 *make_cert(EVP_PKEY *k, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n;
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *)"JP", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

/* Write a PKCS#12 of key k, certificate x and optional extra certificate
 * ca to path under password pass. */
static void write_p12(const char *path, const char *pass, EVP_PKEY *k, X509 *x, X509 *ca)
{
	STACK_OF(X509) *cas = sk_X509_new_null();
	PKCS12 *p;
	unsigned char *der = NULL;
	int len;
	struct error e;
	if (ca != NULL)
		sk_X509_push(cas, ca);
	p = PKCS12_create(pass, "t", k, x, cas, 0, 0, 0, 0, 0);
	assert_non_null(p);
	len = i2d_PKCS12(p, &der);
	assert_true(len > 0);
	assert_int_equal(file_write_atomic(path, der, (size_t)len, 0600, &e), 0);
	OPENSSL_free(der);
	PKCS12_free(p);
	sk_X509_free(cas);
}

/* The signature credential_sign makes over a random digest verifies under
 * the certificate's public key. */
static void sign_verifies(struct credential *c)
{
	uint8_t digest[32], sig[CREDENTIAL_SIG_MAX];
	size_t siglen = sizeof(sig);
	struct error e;
	EVP_PKEY_CTX *pc;
	assert_int_equal(random_bytes(digest, sizeof(digest)), 0);
	assert_int_equal(credential_sign(c, digest, sig, &siglen, &e), 0);
	pc = EVP_PKEY_CTX_new(X509_get0_pubkey(credential_cert(c)), NULL);
	assert_non_null(pc);
	assert_int_equal(EVP_PKEY_verify_init(pc), 1);
	if (credential_key_type(c) == EVP_PKEY_RSA)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(pc, sig, siglen, digest, sizeof(digest)), 1);
	/* and a changed digest does not */
	digest[0] ^= 1;
	assert_int_not_equal(EVP_PKEY_verify(pc, sig, siglen, digest, sizeof(digest)), 1);
	EVP_PKEY_CTX_free(pc);
}

static void test_p12_rsa_and_ec(void **state)
{
	char path[] = "/tmp/tayori-cred-XXXXXX";
	int fd = mkstemp(path);
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
	X509 *xr = make_cert(rsa, "Ward Head"), *xe = make_cert(ec, "EC Signer");
	struct credential *c = NULL;
	struct error e;
	(void)state;

	assert_true(fd >= 0);
	close(fd);
	write_p12(path, "pw", rsa, xr, xe);
	assert_int_equal(credential_open_p12(path, "wrong", &c, &e), -1);
	assert_null(c);
	assert_non_null(strstr(e.msg, "wrong password"));
	assert_int_equal(credential_open_p12(path, "pw", &c, &e), 0);
	assert_string_equal(credential_source(c), "pkcs12");
	assert_int_equal(credential_key_type(c), EVP_PKEY_RSA);
	assert_int_equal(X509_cmp(credential_cert(c), xr), 0);
	assert_int_equal(sk_X509_num(credential_chain(c)), 1);
	assert_int_equal(X509_cmp(sk_X509_value(credential_chain(c), 0), xe), 0);
	sign_verifies(c);
	credential_free(&c);
	assert_null(c);

	write_p12(path, "", ec, xe, NULL);
	assert_int_equal(credential_open_p12(path, "", &c, &e), 0);
	assert_int_equal(credential_key_type(c), EVP_PKEY_EC);
	assert_int_equal(sk_X509_num(credential_chain(c)), 0);
	sign_verifies(c);
	credential_free(&c);

	/* Not a PKCS#12 file at all */
	assert_int_equal(file_write_atomic(path, "hello", 5, 0600, &e), 0);
	assert_int_equal(credential_open_p12(path, "", &c, &e), -1);
	assert_non_null(strstr(e.msg, "not a PKCS#12 file"));
	unlink(path);
	X509_free(xr);
	X509_free(xe);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static void test_info_and_demo(void **state)
{
	char path[] = "/tmp/tayori-cred-XXXXXX";
	int fd = mkstemp(path);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = make_cert(k, "中央区長"), *d = make_cert(k, "DEMO ward (not for real notices)");
	struct credential *c = NULL;
	struct credential_info ci;
	uint8_t md[32];
	unsigned mdlen = 0;
	char hex[65];
	struct error e;
	(void)state;

	assert_true(fd >= 0);
	close(fd);
	write_p12(path, "", k, x, NULL);
	assert_int_equal(credential_open_p12(path, "", &c, &e), 0);
	assert_int_equal(credential_info(c, &ci, &e), 0);
	X509_digest(x, EVP_sha256(), md, &mdlen);
	hex_encode(md, sizeof(md), hex);
	assert_string_equal(ci.sha256, hex);
	assert_string_equal(ci.subject, "CN=中央区長,C=JP");
	assert_int_equal(strlen(ci.not_after), 20);
	assert_int_equal(ci.not_after[10], 'T');
	assert_int_equal(ci.not_after[19], 'Z');
	assert_int_equal(credential_is_demo(c), 0);
	credential_free(&c);

	write_p12(path, "", k, d, NULL);
	assert_int_equal(credential_open_p12(path, "", &c, &e), 0);
	assert_int_equal(credential_is_demo(c), 1);
	credential_free(&c);
	unlink(path);
	X509_free(x);
	X509_free(d);
	EVP_PKEY_free(k);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* keys_state_load: a tenant made with --demo may sign with its DEMO
 * certificate; the same file on a tenant without the mark is refused. */
static void test_demo_needs_the_mark(void **state)
{
	char dir[] = "/tmp/tayori-cred-XXXXXX", mark[256], p12[256];
	struct keys_state *ks = NULL;
	struct error e;
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(keys_create_tenant(dir, 1, "テスト区", &e), 0);
	str_fmt(mark, sizeof(mark), "%s/%s", dir, KEYS_DEMO_MARK);
	str_fmt(p12, sizeof(p12), "%s/%s", dir, KEYS_SIGNING_P12);
	assert_int_equal(access(mark, F_OK), 0);
	assert_int_equal(keys_state_load(dir, KEYS_SIGNING_P12, NULL, &ks, &e), 0);
	assert_non_null(keys_state_credential(ks));
	assert_int_equal(credential_is_demo(keys_state_credential(ks)), 1);
	keys_state_free(&ks);

	assert_int_equal(unlink(mark), 0);
	assert_int_equal(keys_state_load(dir, KEYS_SIGNING_P12, NULL, &ks, &e), -1);
	assert_null(ks);
	assert_non_null(strstr(e.msg, "says DEMO"));
	assert_non_null(strstr(e.msg, "tayori init --demo"));

	/* A PKCS#11 module that is set is used, never the file beside it. */
	{
		struct keys_cred_conf cc = { KEYS_SIGNING_P12, NULL, "/nonexistent/module.so", "ward",
					     NULL, "TAYORI_TEST_NO_SUCH_PIN" };
		setenv("TAYORI_TEST_NO_SUCH_PIN", "1234", 1);
		assert_int_equal(keys_state_load_cred(dir, &cc, &ks, &e), -1);
		assert_non_null(strstr(e.msg, "cannot load the PKCS#11 module /nonexistent/module.so"));
		unsetenv("TAYORI_TEST_NO_SUCH_PIN");
		assert_int_equal(keys_state_load_cred(dir, &cc, &ks, &e), -1);
		assert_non_null(strstr(e.msg, "TAYORI_TEST_NO_SUCH_PIN"));
		cc.pkcs11_pin_env = "";
		assert_int_equal(keys_state_load_cred(dir, &cc, &ks, &e), -1);
		assert_non_null(strstr(e.msg, "pkcs11_pin_env is empty"));
	}
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p12_rsa_and_ec),
		cmocka_unit_test(test_info_and_demo),
		cmocka_unit_test(test_demo_needs_the_mark),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
