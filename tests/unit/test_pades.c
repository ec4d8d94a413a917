/*
 * test_pades.c — unit tests of PAdES signing and verification: the CMS
 * signed attributes (content-type, message-digest, signing-certificate-v2,
 * no signing-time), the /ByteRange, classic and xref-stream inputs,
 * re-signing, tampering, refusals and the PKCS#12 signer.
 * Runs in the test process; keys are made in memory for each run.
 *
 * Standards checked: ETSI EN 319 142-1 (B-B), RFC 5652, RFC 5035.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <qpdf/qpdf-c.h>

#include "lib/buf.h"
#include "pdf/pades.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_verify.h"
#include "pdf/signer.h"
#include "keys/credential.h"

static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca_cert, *leaf_cert;
static struct signer test_signer;
static int sign_calls;

/* The signer the gateway would build: only a digest crosses the callback
 * (here the "keys process" is this function). */
static int local_sign(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
    struct error *e)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, ctx, NULL);
	int ok = pc && EVP_PKEY_sign_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_sign(pc, sig, siglen, digest, 32) > 0;
	EVP_PKEY_CTX_free(pc);
	sign_calls++;
	return ok ? 0 : err_tmp(e, "sign failed");
}

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn, int ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
	    ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, issuer_key, EVP_sha256());
	X509_NAME_free(n);
	return x;
}

static int setup(void **state)
{
	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_RSA_gen(2048);
	ca_cert = make_cert(ca_key, ca_key, NULL, "Unit Test CA", 1);
	leaf_cert = make_cert(leaf_key, ca_key, ca_cert, "区長 Unit Signer", 0);
	test_signer.sign_digest = local_sign;
	test_signer.ctx = leaf_key;
	test_signer.cert = leaf_cert;
	test_signer.chain = sk_X509_new_null();
	X509_up_ref(ca_cert);
	sk_X509_push(test_signer.chain, ca_cert);
	test_signer.pkey_type = EVP_PKEY_RSA;
	return ca_key && leaf_key && ca_cert && leaf_cert ? 0 : -1;
}

static int teardown(void **state)
{
	sk_X509_pop_free(test_signer.chain, X509_free);
	X509_free(ca_cert);
	X509_free(leaf_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	return 0;
}

/* A one-page PDF with a correct classic xref table. */
static uint8_t *make_pdf(size_t *len)
{
	static const char *const objs[] = {
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
		"<< /Length 21 >>\nstream\nBT 72 720 Td () Tj ET\nendstream",
	};
	struct buf b;
	size_t off[4], xref;
	buf_init(&b, 1 << 20);
	buf_append_str(&b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
	for (int i = 0; i < 4; i++) {
		off[i] = b.len;
		buf_printf(&b, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
	}
	xref = b.len;
	buf_append_str(&b, "xref\n0 5\n0000000000 65535 f\r\n");
	for (int i = 0; i < 4; i++)
		buf_printf(&b, "%010zu 00000 n\r\n", off[i]);
	buf_printf(&b, "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", xref);
	return buf_steal(&b, len);
}

/* The same document rewritten by qpdf with object and xref streams. */
static uint8_t *make_pdf_xref_stream(size_t *len)
{
	size_t inlen;
	uint8_t *in = make_pdf(&inlen), *out;
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	assert_false(qpdf_read_memory(q, "t.pdf", (const char *)in, inlen, NULL) & QPDF_ERRORS);
	assert_false(qpdf_init_write_memory(q) & QPDF_ERRORS);
	qpdf_set_object_stream_mode(q, qpdf_o_generate);
	assert_false(qpdf_write(q) & QPDF_ERRORS);
	*len = qpdf_get_buffer_length(q);
	out = malloc(*len);
	memcpy(out, qpdf_get_buffer(q), *len);
	qpdf_cleanup(&q);
	free(in);
	return out;
}

/* Parse "/ByteRange [a b c d]" of the last signature in the file. */
static void last_byte_range(const uint8_t *pdf, size_t len, long long br[4])
{
	const uint8_t *p = NULL, *q = pdf;
	while ((q = memmem(q, len - (size_t)(q - pdf), "/ByteRange [", 12)) != NULL)
		p = q++;
	assert_non_null(p);
	assert_int_equal(sscanf((const char *)p + 12, "%lld %lld %lld %lld", &br[0], &br[1], &br[2], &br[3]), 4);
}

static CMS_ContentInfo *cms_at(const uint8_t *pdf, long long br[4])
{
	size_t n = (size_t)(br[2] - br[1] - 2) / 2;
	uint8_t *der = malloc(n);
	const uint8_t *p = der;
	CMS_ContentInfo *cms;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf((const char *)pdf + br[1] + 1 + 2 * i, "%2x", &v), 1);
		der[i] = (uint8_t)v;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)n);
	free(der);
	assert_non_null(cms);
	return cms;
}

static void check_signed_attrs(CMS_ContentInfo *cms, const uint8_t want_md[32])
{
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	ASN1_OCTET_STRING *md;
	ASN1_OBJECT *ct;
	int idx;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	uint8_t certhash[32], *certder = NULL;
	int certlen;

	assert_non_null(si);
	assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
	/* content-type = id-data */
	ct = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT);
	assert_non_null(ct);
	assert_int_equal(OBJ_obj2nid(ct), NID_pkcs7_data);
	/* message-digest = SHA-256 of what the ByteRange covers */
	md = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	assert_non_null(md);
	assert_int_equal(ASN1_STRING_length(md), 32);
	assert_memory_equal(ASN1_STRING_get0_data(md), want_md, 32);
	/* signing-certificate-v2 naming our certificate by its SHA-256 */
	idx = CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1);
	assert_true(idx >= 0);
	a = CMS_signed_get_attr(si, idx);
	t = X509_ATTRIBUTE_get0_type(a, 0);
	assert_int_equal(t->type, V_ASN1_SEQUENCE);
	certlen = i2d_X509(leaf_cert, &certder);
	SHA256(certder, (size_t)certlen, certhash);
	OPENSSL_free(certder);
	assert_non_null(memmem(ASN1_STRING_get0_data(t->value.sequence),
	    (size_t)ASN1_STRING_length(t->value.sequence), certhash, 32));
	/* no signing-time (PAdES puts the time in /M), no SMIMECapabilities */
	assert_int_equal(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), -1);
	assert_int_equal(CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1), -1);
	assert_int_equal(CMS_signed_get_attr_count(si), 3);
	/* digest algorithm SHA-256 */
	{
		X509_ALGOR *dig = NULL, *sig = NULL;
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
		assert_int_equal(OBJ_obj2nid(dig->algorithm), NID_sha256);
	}
	/* the signature verifies over the DER of the signed attributes */
	assert_int_equal(CMS_SignerInfo_verify(si), 1);
	/* the chain is embedded */
	{
		STACK_OF(X509) *certs = CMS_get1_certs(cms);
		assert_int_equal(sk_X509_num(certs), 2);
		sk_X509_pop_free(certs, X509_free);
	}
}

static void test_cms_attributes(void **state)
{
	uint8_t digest[32], *der = NULL;
	size_t len = 0;
	const uint8_t *p;
	CMS_ContentInfo *cms;
	struct error e;
	SHA256((const uint8_t *)"tayori", 6, digest);
	assert_int_equal(pades_cms_sign(digest, &test_signer, NULL, &der, &len, &e), 0);
	p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	assert_non_null(cms);
	assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
	assert_true(CMS_is_detached(cms));
	{
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
		STACK_OF(X509) *certs = CMS_get1_certs(cms);
		for (int i = 0; i < sk_X509_num(certs); i++)
			if (CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, i)) == 0)
				CMS_SignerInfo_set1_signer_cert(si, sk_X509_value(certs, i));
		sk_X509_pop_free(certs, X509_free);
	}
	check_signed_attrs(cms, digest);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
}

/* Sign, then check the ByteRange, the CMS and the verifier's report. */
static void sign_and_check(const uint8_t *in, size_t inlen, uint8_t **outp, size_t *outlenp)
{
	struct pades_options o;
	struct error e = { "", 0 };
	uint8_t *out = NULL, md[32];
	size_t outlen = 0;
	long long br[4];
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	CMS_ContentInfo *cms;

	memset(&o, 0, sizeof(o));
	o.level = PADES_B_B;
	o.reason = "テスト";
	o.signing_time = 1795000000;
	if (pades_sign(in, inlen, &test_signer, &o, &out, &outlen, &e) < 0)
		fail_msg("pades_sign: %s", e.msg);
	/* the input is kept byte for byte: an incremental update */
	assert_true(outlen > inlen);
	assert_memory_equal(out, in, inlen);
	last_byte_range(out, outlen, br);
	assert_int_equal(br[0], 0);
	assert_true(br[1] > (long long)inlen);
	assert_int_equal(br[2] + br[3], (long long)outlen);
	assert_int_equal(out[br[1]], '<');
	assert_int_equal(out[br[2] - 1], '>');
	for (long long i = br[1] + 1; i < br[2] - 1; i++)
		assert_true(strchr("0123456789ABCDEF", out[i]) != NULL);
	assert_non_null(memmem(out + inlen, outlen - inlen, "/SubFilter /ETSI.CAdES.detached", 31));
	assert_non_null(memmem(out + inlen, outlen - inlen, "/M (D:20261118", 14));
	assert_non_null(memmem(out + inlen, outlen - inlen, "/SigFlags 3", 11));
	EVP_DigestInit_ex(mc, EVP_sha256(), NULL);
	EVP_DigestUpdate(mc, out, (size_t)br[1]);
	EVP_DigestUpdate(mc, out + br[2], (size_t)br[3]);
	EVP_DigestFinal_ex(mc, md, NULL);
	EVP_MD_CTX_free(mc);
	cms = cms_at(out, br);
	{
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
		CMS_SignerInfo_set1_signer_cert(si, leaf_cert);
	}
	check_signed_attrs(cms, md);
	CMS_ContentInfo_free(cms);
	*outp = out;
	*outlenp = outlen;
}

static void verify_ok(const uint8_t *pdf, size_t len, size_t nsigs)
{
	struct pdf_verify_report r;
	struct error e;
	assert_int_equal(pdf_verify_mem(pdf, len, NULL, &r, &e), 0);
	assert_int_equal(r.n, nsigs);
	for (size_t i = 0; i < r.n; i++) {
		if (!r.sigs[i].valid)
			fail_msg("signature %zu: %s", i, r.sigs[i].error);
		assert_int_equal(r.sigs[i].digest_ok, 1);
		assert_int_equal(r.sigs[i].signature_ok, 1);
		assert_int_equal(r.sigs[i].has_signing_cert_v2, 1);
		assert_int_equal(r.sigs[i].has_signing_time, 0);
		assert_string_equal(r.sigs[i].level, "B-B");
		assert_string_equal(r.sigs[i].subfilter, "ETSI.CAdES.detached");
		assert_string_equal(r.sigs[i].signer_cn, "区長 Unit Signer");
	}
	assert_int_equal(r.sigs[nsigs - 1].covers_whole_file, 1);
	assert_int_equal(r.sigs[nsigs - 1].later_updates, 0);
	assert_true(r.valid);
	pdf_verify_report_free(&r);
}

/* qpdf reads the result without repairing anything. */
static void qpdf_clean(const uint8_t *pdf, size_t len)
{
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, QPDF_TRUE);
	assert_false(qpdf_read_memory(q, "s.pdf", (const char *)pdf, len, NULL) & QPDF_ERRORS);
	assert_false(qpdf_check_pdf(q) & QPDF_ERRORS);
	assert_false(qpdf_more_warnings(q));
	qpdf_cleanup(&q);
}

static void test_byte_range_classic(void **state)
{
	size_t inlen, outlen;
	uint8_t *in = make_pdf(&inlen), *out;
	sign_and_check(in, inlen, &out, &outlen);
	/* a classic input gets a classic xref table */
	assert_non_null(memmem(out + inlen, outlen - inlen, "\nxref\n", 6));
	assert_non_null(memmem(out + inlen, outlen - inlen, "/Prev ", 6));
	qpdf_clean(out, outlen);
	verify_ok(out, outlen, 1);
	free(in);
	free(out);
}

static void test_xref_stream_input(void **state)
{
	size_t inlen, outlen;
	uint8_t *in = make_pdf_xref_stream(&inlen), *out;
	sign_and_check(in, inlen, &out, &outlen);
	/* an input ending in an xref stream gets an xref stream */
	assert_non_null(memmem(out + inlen, outlen - inlen, "/Type /XRef", 11));
	assert_null(memmem(out + inlen, outlen - inlen, "\nxref\n", 6));
	qpdf_clean(out, outlen);
	verify_ok(out, outlen, 1);
	free(in);
	free(out);
}

static void test_resign_keeps_first(void **state)
{
	size_t inlen, onelen, twolen;
	uint8_t *in = make_pdf(&inlen), *one, *two;
	struct pdf_verify_report r;
	struct error e;
	sign_and_check(in, inlen, &one, &onelen);
	sign_and_check(one, onelen, &two, &twolen);
	qpdf_clean(two, twolen);
	verify_ok(two, twolen, 2);
	assert_int_equal(pdf_verify_mem(two, twolen, NULL, &r, &e), 0);
	assert_int_equal(r.revisions, 3);
	assert_int_equal(r.sigs[0].covers_whole_file, 0);
	assert_int_equal(r.sigs[0].later_updates, 1);
	assert_int_equal(r.sigs[0].revision, 2);
	assert_string_equal(r.sigs[0].field, "Signature1");
	assert_string_equal(r.sigs[1].field, "Signature2");
	pdf_verify_report_free(&r);
	free(in);
	free(one);
	free(two);
}

static void test_tamper_detected(void **state)
{
	size_t inlen, outlen;
	uint8_t *in = make_pdf(&inlen), *out;
	struct pdf_verify_report r;
	struct error e;
	long long br[4];
	sign_and_check(in, inlen, &out, &outlen);
	last_byte_range(out, outlen, br);

	/* a byte of the signed content */
	out[40] ^= 0x01;
	assert_int_equal(pdf_verify_mem(out, outlen, NULL, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_false(r.valid);
	assert_int_equal(r.sigs[0].digest_ok, 0);
	pdf_verify_report_free(&r);
	out[40] ^= 0x01;

	/* a byte of the signature value (last bytes of the DER: RSA value) */
	{
		CMS_ContentInfo *cms = cms_at(out, br);
		int derlen = i2d_CMS_ContentInfo(cms, NULL);
		size_t at = (size_t)br[1] + 1 + 2 * (size_t)(derlen - 5);
		CMS_ContentInfo_free(cms);
		out[at] = out[at] == '0' ? '1' : '0';
		assert_int_equal(pdf_verify_mem(out, outlen, NULL, &r, &e), 0);
		assert_false(r.valid);
		assert_int_equal(r.sigs[0].signature_ok, 0);
		pdf_verify_report_free(&r);
	}
	free(in);
	free(out);
}

static void test_refusals(void **state)
{
	struct pades_options o;
	struct error e;
	uint8_t *out = NULL;
	size_t outlen;
	static const uint8_t png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1";
	static const uint8_t html[] = "<html><body>not a pdf</body></html>\n";
	memset(&o, 0, sizeof(o));
	assert_int_equal(pades_sign((const uint8_t *)"", 0, &test_signer, &o, &out, &outlen, &e), -1);
	assert_int_equal(e.temporary, 0);
	assert_int_equal(pades_sign(png, sizeof(png) - 1, &test_signer, &o, &out, &outlen, &e), -1);
	assert_int_equal(e.temporary, 0);
	assert_int_equal(pades_sign(html, sizeof(html) - 1, &test_signer, &o, &out, &outlen, &e), -1);
	assert_null(out);
	/* B-T without a TSA */
	{
		size_t inlen;
		uint8_t *in = make_pdf(&inlen);
		o.level = PADES_B_T;
		assert_int_equal(pades_sign(in, inlen, &test_signer, &o, &out, &outlen, &e), -1);
		assert_non_null(strstr(e.msg, "TSA"));
		free(in);
	}
	/* an encrypted PDF */
	{
		size_t inlen;
		uint8_t *in = make_pdf(&inlen), *enc;
		size_t enclen;
		qpdf_data q = qpdf_init();
		qpdf_silence_errors(q);
		assert_false(qpdf_read_memory(q, "t.pdf", (const char *)in, inlen, NULL) & QPDF_ERRORS);
		assert_false(qpdf_init_write_memory(q) & QPDF_ERRORS);
		qpdf_set_r6_encryption_parameters2(q, "user", "owner", QPDF_TRUE, QPDF_TRUE, QPDF_TRUE,
		    QPDF_TRUE, QPDF_TRUE, QPDF_TRUE, qpdf_r3p_full, QPDF_TRUE);
		assert_false(qpdf_write(q) & QPDF_ERRORS);
		enclen = qpdf_get_buffer_length(q);
		enc = malloc(enclen);
		memcpy(enc, qpdf_get_buffer(q), enclen);
		qpdf_cleanup(&q);
		o.level = PADES_B_B;
		assert_int_equal(pades_sign(enc, enclen, &test_signer, &o, &out, &outlen, &e), -1);
		assert_non_null(strstr(e.msg, "encrypted"));
		free(enc);
		free(in);
	}
	/* a PDF header and nothing qpdf can read: the signer and the
	 * verifier open it the one way, and refuse it the same way */
	{
		static const uint8_t broken[] = "%PDF-1.4\n% nothing but a comment here\n%%EOF\n";
		struct pdf_verify_report r;
		o.level = PADES_B_B;
		assert_int_equal(pades_sign(broken, sizeof(broken) - 1, &test_signer, &o, &out,
		    &outlen, &e), -1);
		assert_int_equal(e.temporary, 0);
		assert_non_null(strstr(e.msg, "the PDF is damaged and qpdf cannot repair it"));
		assert_int_equal(pdf_verify_mem(broken, sizeof(broken) - 1, NULL, &r, &e), -1);
		assert_non_null(strstr(e.msg, "the PDF is damaged and qpdf cannot repair it"));
		pdf_verify_report_free(&r);
	}
	/* no signatures: verify says not valid */
	{
		size_t inlen;
		uint8_t *in = make_pdf(&inlen);
		struct pdf_verify_report r;
		assert_int_equal(pdf_verify_mem(in, inlen, NULL, &r, &e), 0);
		assert_int_equal(r.n, 0);
		assert_false(r.valid);
		pdf_verify_report_free(&r);
		free(in);
	}
}

/* An unsigned input with a wrong xref offset is rewritten, then signed. */
/*
 * qpdf decodes object streams whole while it opens a file, so the signer
 * and the verifier measure them first, as the splitter does: past
 * [limits] pdf_stream_max the file is refused before qpdf reads it.
 */
static void test_object_stream_limit(void **state)
{
	size_t inlen, biglen, outlen;
	uint8_t *in = make_pdf(&inlen), *big, *out = NULL;
	char *title = malloc(20001);
	qpdf_data q = qpdf_init();
	qpdf_oh info;
	struct pdf_limits lim = { 4096, 0, 0 }, def = { 0, 0, 0 };
	struct pades_options o;
	struct pdf_verify_report r;
	struct error e;
	(void)state;

	/* an /Info with a 20,000-byte title, in an object stream */
	memset(title, 'x', 20000);
	title[20000] = '\0';
	qpdf_silence_errors(q);
	assert_false(qpdf_read_memory(q, "t.pdf", (const char *)in, inlen, NULL) & QPDF_ERRORS);
	info = qpdf_oh_new_dictionary(q);
	qpdf_oh_replace_key(q, info, "/Title", qpdf_oh_new_unicode_string(q, title));
	qpdf_oh_replace_key(q, qpdf_get_trailer(q), "/Info", qpdf_make_indirect_object(q, info));
	assert_false(qpdf_init_write_memory(q) & QPDF_ERRORS);
	qpdf_set_object_stream_mode(q, qpdf_o_generate);
	assert_false(qpdf_write(q) & QPDF_ERRORS);
	biglen = qpdf_get_buffer_length(q);
	big = malloc(biglen);
	memcpy(big, qpdf_get_buffer(q), biglen);
	qpdf_cleanup(&q);
	assert_true(biglen < 4096);

	memset(&o, 0, sizeof(o));
	pdf_limits_set(&lim);
	assert_int_equal(pades_sign(big, biglen, &test_signer, &o, &out, &outlen, &e), -1);
	assert_null(out);
	assert_int_equal(e.temporary, 0);
	assert_non_null(strstr(e.msg, "decodes to more than 4 KB ([limits] pdf_stream_max)"));
	assert_int_equal(pdf_verify_mem(big, biglen, NULL, &r, &e), -1);
	assert_non_null(strstr(e.msg, "([limits] pdf_stream_max)"));
	pdf_verify_report_free(&r);
	/* within the limit, it signs */
	pdf_limits_set(&def);
	assert_int_equal(pades_sign(big, biglen, &test_signer, &o, &out, &outlen, &e), 0);
	verify_ok(out, outlen, 1);
	free(out);
	free(big);
	free(title);
	free(in);
}

static void test_damaged_unsigned_is_repaired(void **state)
{
	size_t inlen, outlen;
	uint8_t *in = make_pdf(&inlen), *out = NULL;
	struct pades_options o;
	struct error e;
	uint8_t *p = memmem(in, inlen, "65535 f\r\n", 9);
	assert_non_null(p);
	memcpy(p + 9, "0000000003", 10); /* object 1 now points into the header */
	memset(&o, 0, sizeof(o));
	if (pades_sign(in, inlen, &test_signer, &o, &out, &outlen, &e) < 0)
		fail_msg("pades_sign: %s", e.msg);
	qpdf_clean(out, outlen);
	verify_ok(out, outlen, 1);
	free(in);
	free(out);
}

static int cred_sign(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
		     struct error *e)
{
	return credential_sign(ctx, digest, sig, siglen, e);
}

/* A PKCS#12 file opened by the credential loader (keys/credential.h) signs
 * through a struct signer as `tayori pdf sign` does. */
static void test_p12_signer(void **state)
{
	char path[] = "/tmp/tayori-test-p12-XXXXXX";
	int fd = mkstemp(path);
	STACK_OF(X509) *ca = sk_X509_new_null();
	PKCS12 *p12;
	uint8_t *der = NULL, *in, *out = NULL;
	int len;
	size_t inlen, outlen;
	struct credential *c = NULL;
	struct signer sg;
	struct pades_options o;
	struct error e;

	assert_true(fd >= 0);
	sk_X509_push(ca, ca_cert);
	p12 = PKCS12_create("secret", "signer", leaf_key, leaf_cert, ca, 0, 0, 0, 0, 0);
	assert_non_null(p12);
	len = i2d_PKCS12(p12, &der);
	assert_int_equal(write(fd, der, (size_t)len), len);
	close(fd);
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_X509_free(ca);

	assert_int_equal(credential_open_p12(path, "wrong", &c, &e), -1);
	assert_null(c);
	assert_int_equal(credential_open_p12(path, "secret", &c, &e), 0);
	assert_int_equal(credential_key_type(c), EVP_PKEY_RSA);
	assert_int_equal(sk_X509_num(credential_chain(c)), 1);
	memset(&sg, 0, sizeof(sg));
	sg.sign_digest = cred_sign;
	sg.ctx = c;
	sg.cert = credential_cert(c);
	sg.chain = credential_chain(c);
	sg.pkey_type = credential_key_type(c);
	in = make_pdf(&inlen);
	memset(&o, 0, sizeof(o));
	o.reason = "テスト";
	assert_int_equal(pades_sign(in, inlen, &sg, &o, &out, &outlen, &e), 0);
	verify_ok(out, outlen, 1);
	credential_free(&c);
	assert_null(c);
	unlink(path);
	free(in);
	free(out);
}

/* A split file: the copier leaves the signature's room in its one full
 * write, pades_sign_slot() fills it; one revision, valid, clean. */
static void test_slot_in_a_new_file(void **state)
{
	size_t inlen;
	uint8_t *in = make_pdf(&inlen);
	qpdf_data q = qpdf_init();
	struct pdf_copier *c = NULL;
	struct pades_options o;
	struct pdf_copy_sig sig;
	struct pades_slot slot;
	struct buf out;
	struct error e;
	const char *p;
	int eofs = 0;

	qpdf_silence_errors(q);
	assert_false(qpdf_read_memory(q, "in.pdf", (const char *)in, inlen, NULL) & QPDF_ERRORS);
	assert_int_equal(pdf_copier_new(q, &c, &e), 0);
	memset(&o, 0, sizeof(o));
	o.reason = "税額決定通知";
	sig.popt = &o;
	sig.mtime = 1790000000;
	assert_int_equal(pades_slot_reserve(&test_signer, &o, &sig.reserve, &e), 0);
	buf_init(&out, 16 << 20);
	assert_int_equal(pdf_copier_write(c, 1, 1, &sig, &out, &slot, &e), 0);
	assert_int_equal(slot.reserve, sig.reserve);
	assert_int_equal(out.data[slot.contents_at], '<');
	assert_int_equal(out.data[slot.contents_end - 1], '>');
	assert_memory_equal(out.data + slot.br_at - 12, "/ByteRange [", 12);
	assert_int_equal(pades_sign_slot(&out, &slot, &test_signer, &o, sig.mtime, &e), 0);
	verify_ok(out.data, out.len, 1);
	qpdf_clean(out.data, out.len);
	assert_memory_equal(out.data, "%PDF-1.7\n", 9);
	for (p = (const char *)out.data; (p = memmem(p, out.len - (size_t)(p - (const char *)out.data),
						     "%%EOF", 5)) != NULL; p += 5)
		eofs++;
	assert_int_equal(eofs, 1);
	assert_non_null(memmem(out.data, out.len, "/M (D:20260921", 14));

	/* A slot that does not match the file is refused, not signed. */
	slot.contents_end = out.len + 10;
	assert_int_equal(pades_sign_slot(&out, &slot, &test_signer, &o, sig.mtime, &e), -1);
	buf_free(&out);
	pdf_copier_free(&c);
	qpdf_cleanup(&q);
	free(in);
}

/*
 * Sign the same document n times in a row with one signer; each result is
 * checked with verify_ok() (B-B, digest and signature) when check is set,
 * and all have the same length.  Returns the milliseconds per document,
 * checks excluded.
 */
static double sign_in_a_row(int n, int check)
{
	size_t inlen, outlen, first_len = 0;
	uint8_t *in = make_pdf(&inlen), *out;
	struct pades_options o;
	struct error e;
	struct timespec a, b;
	double ms = 0;

	memset(&o, 0, sizeof(o));
	for (int i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (pades_sign(in, inlen, &test_signer, &o, &out, &outlen, &e) != 0)
			fail_msg("signature %d of %d: %s", i + 1, n, e.msg);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms += (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		if (i == 0)
			first_len = outlen;
		assert_int_equal(outlen, first_len);
		if (check || i == n - 1)
			verify_ok(out, outlen, 1);
		free(out);
	}
	free(in);
	return ms / n;
}

/* One signer signs many documents in a row, and every one is valid. */
static void test_sign_in_a_row(void **state)
{
	(void)state;
	assert_true(sign_in_a_row(12, 1) > 0);
}

/*
 * For make bench (TAYORI_BENCH=1 test_pades), not a unit test: the cost of
 * one in-memory B-B signature and of its RSA-2048 operation alone.  The
 * last document is still verified and every RSA signature checked.
 */
static void bench_sign_speed(void **state)
{
	struct timespec a, b;
	struct error e;
	const int n = 200;
	double total, rsa;
	(void)state;

	total = sign_in_a_row(n, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		uint8_t d[32] = { 0 }, sig[SIGNER_SIG_MAX];
		size_t sl = sizeof(sig);
		assert_int_equal(local_sign(leaf_key, d, sig, &sl, &e), 0);
		assert_int_equal(sl, 256);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	rsa = ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / n;
	printf("pades_sign B-B: %.3f ms per document, of which RSA-2048: %.3f ms\n", total, rsa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cms_attributes),
		cmocka_unit_test(test_byte_range_classic),
		cmocka_unit_test(test_xref_stream_input),
		cmocka_unit_test(test_resign_keeps_first),
		cmocka_unit_test(test_tamper_detected),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_object_stream_limit),
		cmocka_unit_test(test_damaged_unsigned_is_repaired),
		cmocka_unit_test(test_p12_signer),
		cmocka_unit_test(test_slot_in_a_new_file),
		cmocka_unit_test(test_sign_in_a_row),
	};
	const struct CMUnitTest bench[] = {
		cmocka_unit_test(bench_sign_speed),
	};
	if (getenv("TAYORI_BENCH") != NULL)
		return cmocka_run_group_tests(bench, setup, teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
