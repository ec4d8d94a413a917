/*
 * test_keys_signer.c — unit tests of the gateway's signer
 * (gateway/keys_signer.h) against a real keys process holding the DEMO
 * credential of a real tenant: its certificate is the one the keys process
 * reports (KEYS_CERTS), its signatures of a digest verify against that
 * certificate's public key, also from several threads at once, a PDF it
 * signs verifies (pdf_verify) as signed by that certificate, and a keys
 * process with no signing credential gives no signer.
 * Runs as a stand-alone cmocka program; forks a keys process per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/keys_signer.h"
#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/ipc.h"
#include "lib/keys_client.h"
#include "pdf/pades.h"
#include "pdf/pdf_verify.h"
#include "signing_tenant.h"

static int setup(void **state)
{
	*state = tenant_new(1);
	return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	tenant_free(*state);
	return 0;
}

/* The first certificate the keys process reports, as DER. */
static void reported_cert(struct tenant *f, struct buf *der)
{
	struct error e = { { 0 }, 0 };
	struct buf certs;
	struct ipc_reader r;
	const uint8_t *p;
	size_t n;

	buf_init(&certs, KEYS_MAX_REQUEST);
	assert_int_equal(keys_certs(f->kc, &certs, &e), 0);
	ipc_reader_init(&r, certs.data, certs.len);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	buf_init(der, 1 << 20);
	buf_append(der, p, n);
	buf_free(&certs);
}

/* 1 when sig is cert's key's PKCS#1 v1.5 signature of the SHA-256 digest. */
static int verifies(X509 *cert, const uint8_t digest[32], const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(X509_get0_pubkey(cert), NULL);
	int ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		 EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		 EVP_PKEY_verify(c, sig, siglen, digest, 32) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static void test_certificate_is_the_reported_one(void **state)
{
	struct tenant *f = *state;
	struct buf der;
	uint8_t *mine = NULL;
	int n;
	char cn[256];

	reported_cert(f, &der);
	n = i2d_X509(f->signer->cert, &mine);
	assert_true(n > 0);
	assert_int_equal((size_t)n, der.len);
	assert_memory_equal(mine, der.data, der.len);
	assert_int_equal(f->signer->pkey_type, EVP_PKEY_RSA);
	/* the DEMO certificate says so */
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(f->signer->cert),
					      NID_commonName, cn, sizeof(cn)) > 0);
	assert_non_null(strstr(cn, "DEMO"));
	OPENSSL_free(mine);
	buf_free(&der);
}

static void test_signature_verifies(void **state)
{
	struct tenant *f = *state;
	struct error e = { { 0 }, 0 };
	uint8_t digest[32], sig[SIGNER_SIG_MAX];
	size_t siglen = sizeof(sig);

	crypt_sha256("notice.pdf", 10, digest);
	assert_int_equal(f->signer->sign_digest(f->signer->ctx, digest, sig, &siglen, &e), 0);
	assert_int_equal(verifies(f->signer->cert, digest, sig, siglen), 1);
	/* over another digest it does not */
	digest[0] ^= 1;
	assert_int_equal(verifies(f->signer->cert, digest, sig, siglen), 0);
}

/* Several threads share the signer (the splitter's writer threads do). */
struct worker {
	const struct signer *s;
	int n, good;
};

static void *sign_many(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 8; i++) {
		struct error e = { { 0 }, 0 };
		uint8_t digest[32], sig[SIGNER_SIG_MAX];
		size_t siglen = sizeof(sig);
		char msg[32];
		int len = snprintf(msg, sizeof(msg), "notice %d/%d", w->n, i);
		crypt_sha256(msg, (size_t)len, digest);
		if (w->s->sign_digest(w->s->ctx, digest, sig, &siglen, &e) == 0 &&
		    verifies(w->s->cert, digest, sig, siglen))
			w->good++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct tenant *f = *state;
	pthread_t tid[4];
	struct worker w[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ f->signer, i, 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, sign_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(w[i].good, 8);
	}
}

static void test_signed_pdf_verifies(void **state)
{
	struct tenant *f = *state;
	struct error e = { { 0 }, 0 };
	struct pades_options o;
	struct pdf_verify_report r;
	uint8_t *pdf, *out = NULL;
	size_t len = 0, outlen = 0;
	char cn[256];

	pdf = tenant_make_pdf((const char *const[]){ "Resident 00010001" }, 1, &len);
	assert_non_null(pdf);
	memset(&o, 0, sizeof(o));
	o.level = PADES_B_B;
	o.signing_time = now_utc();
	if (pades_sign(pdf, len, f->signer, &o, &out, &outlen, &e) < 0)
		fail_msg("pades_sign: %s", e.msg);
	assert_int_equal(pdf_verify_mem(out, outlen, NULL, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_true(r.valid);
	assert_int_equal(r.sigs[0].signature_ok, 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(f->signer->cert),
					      NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(r.sigs[0].signer_cn, cn);
	pdf_verify_report_free(&r);
	free(out);
	free(pdf);
}

/* A keys process without a signing credential: no signer, a clear reason. */
static void test_no_credential(void **state)
{
	struct tenant *f = tenant_new(0);
	struct signer *s = NULL;
	struct error e = { { 0 }, 0 };

	(void)state;
	assert_non_null(f);
	assert_int_equal(keys_signer_new(f->kc, &s, &e), -1);
	assert_null(s);
	assert_int_equal(e.temporary, 0);
	assert_non_null(strstr(e.msg, "no signing credential is configured"));
	tenant_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_certificate_is_the_reported_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signature_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signed_pdf_verifies, setup, teardown),
		cmocka_unit_test(test_no_credential),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
