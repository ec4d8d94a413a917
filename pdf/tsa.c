/*
 * tsa.c — RFC 3161 time-stamp requests, and the check of every token
 * against the TSA trust anchors before it is used or called valid.
 * Runs in the gateway, in `tayori pdf sign` and `tayori pdf verify` (no
 * key material).
 *
 * Standards: RFC 3161 (TimeStampReq/TimeStampResp, HTTP transport with
 * application/timestamp-query and application/timestamp-reply, §2.3 the
 * TSA's critical extendedKeyUsage), RFC 5816 and RFC 5035 (ESS
 * signing-certificate), RFC 5280 (the chain to the anchors).
 *
 * A reply is used only when its token's signature verifies, its signer
 * chains to tsa_ca_file with timeStamping as its only, critical, extended
 * key usage (OpenSSL's X509_PURPOSE_TIMESTAMP_SIGN), the imprint and nonce
 * are ours and the genTime is within TSA_CLOCK_SKEW of our clock.
 */
#include "pdf/tsa.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int asn1_time_epoch(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

X509_STORE *tsa_store_load(const char *ca_file, struct error *e)
{
	X509_STORE *st;
	if (ca_file == NULL || *ca_file == '\0') {
		err_set(e, "no trust anchors for the time-stamp authority: set tsa_ca_file (--tsa-ca)");
		return NULL;
	}
	st = X509_STORE_new();
	if (st == NULL || X509_STORE_load_file(st, ca_file) != 1 ||
	    sk_X509_OBJECT_num(X509_STORE_get0_objects(st)) == 0) {
		X509_STORE_free(st);
		ERR_clear_error();
		err_set(e, "cannot read TSA trust anchors (PEM certificates) from %s", ca_file);
		return NULL;
	}
	return st;
}

/* The last error text OpenSSL left with data (a verify error), or its reason. */
static void ossl_reason(char *out, size_t n)
{
	unsigned long code, last = 0;
	const char *data = NULL, *d;
	int flags;
	str_copy(out, "", n);
	while ((code = ERR_get_error_all(NULL, NULL, NULL, &d, &flags)) != 0) {
		last = code;
		if ((flags & ERR_TXT_STRING) && d != NULL && *d != '\0')
			str_copy(out, d, n);
		else if (data == NULL && ERR_reason_error_string(code) != NULL)
			str_copy(out, ERR_reason_error_string(code), n);
		data = out;
	}
	if (last == 0)
		str_copy(out, "unknown reason", n);
}

static void cert_cn(X509 *x, char *out, size_t n)
{
	if (x == NULL || X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    out, (int)n) < 0)
		str_copy(out, "?", n);
}

int tsa_token_verify(const uint8_t *tok, size_t toklen, X509_STORE *store,
    const uint8_t digest[32], int at_gen_time, int64_t *gen_time, struct error *e)
{
	const uint8_t *p = tok;
	PKCS7 *p7 = NULL;
	TS_TST_INFO *ti = NULL;
	STACK_OF(X509) *signers = NULL;
	X509 *signer = NULL;
	int64_t gt = 0;
	int rc = -1;
	char cn[128], why[200];

	if (toklen > (size_t)LONG_MAX || (p7 = d2i_PKCS7(NULL, &p, (long)toklen)) == NULL ||
	    !PKCS7_type_is_signed(p7)) {
		err_set(e, "the time-stamp token is not a CMS SignedData");
		goto out;
	}
	ti = PKCS7_to_TS_TST_INFO(p7);
	if (ti == NULL || asn1_time_epoch(TS_TST_INFO_get_time(ti), &gt) < 0) {
		err_set(e, "the time-stamp token holds no valid TSTInfo");
		goto out;
	}
	{
		TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(ti);
		ASN1_OCTET_STRING *d = TS_MSG_IMPRINT_get_msg(mi);
		if (d == NULL || OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(mi)->algorithm) != NID_sha256 ||
		    ASN1_STRING_length(d) != 32 || memcmp(ASN1_STRING_get0_data(d), digest, 32) != 0) {
			err_set(e, "the time stamp is over other data");
			goto out;
		}
	}
	signers = PKCS7_get0_signers(p7, NULL, 0);
	if (signers == NULL || sk_X509_num(signers) != 1) {
		err_set(e, "the time-stamp token does not carry its signer's certificate");
		goto out;
	}
	signer = sk_X509_value(signers, 0);
	cert_cn(signer, cn, sizeof(cn));
	if (X509_check_purpose(signer, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1) {
		err_set(e, "the TSA certificate \"%s\" lacks the critical extended key usage "
		    "timeStamping (alone)", cn);
		goto out;
	}
	{
		X509_VERIFY_PARAM *vp = X509_STORE_get0_param(store);
		if (at_gen_time)
			X509_VERIFY_PARAM_set_time(vp, (time_t)gt);
		else
			X509_VERIFY_PARAM_clear_flags(vp, X509_V_FLAG_USE_CHECK_TIME);
	}
	ERR_clear_error();
	if (TS_RESP_verify_signature(p7, NULL, store, NULL) != 1) {
		ossl_reason(why, sizeof(why));
		err_set(e, "the time-stamp token of \"%s\" does not verify against the TSA trust "
		    "anchors: %s", cn, why);
		goto out;
	}
	if (gen_time != NULL)
		*gen_time = gt;
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_free(signers);
	TS_TST_INFO_free(ti);
	PKCS7_free(p7);
	return rc;
}

int tsa_timestamp(const char *url, const char *ca_file, const uint8_t digest[32],
    uint8_t **tst, size_t *tstlen, int64_t *gen_time, struct error *e)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = NULL;
	TS_RESP *resp = NULL;
	uint8_t *der = NULL, nbytes[8];
	int derlen, rc = -1;
	struct buf body;
	const uint8_t *p;
	BIGNUM *bn = NULL;
	X509_STORE *store = NULL;

	*tst = NULL;
	buf_init(&body, TSA_HTTP_MAX);
	store = tsa_store_load(ca_file, e);
	if (store == NULL)
		goto out;
	if (req == NULL || mi == NULL || alg == NULL)
		goto oom;
	X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
	if (!TS_MSG_IMPRINT_set_algo(mi, alg) || !TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, 32))
		goto oom;
	if (random_bytes(nbytes, sizeof(nbytes)) < 0) {
		err_tmp(e, "no randomness for the time-stamp nonce");
		goto out;
	}
	nbytes[0] &= 0x7f;
	bn = BN_bin2bn(nbytes, sizeof(nbytes), NULL);
	nonce = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (nonce == NULL || !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1))
		goto oom;
	derlen = i2d_TS_REQ(req, &der);
	if (derlen <= 0)
		goto oom;
	if (http_request(url, "POST", "application/timestamp-query", der, (size_t)derlen,
	    30000, &body, e) < 0)
		goto out;
	p = body.data;
	resp = d2i_TS_RESP(NULL, &p, (long)body.len);
	if (resp == NULL || p != body.data + body.len) {
		err_tmp(e, "the TSA at %s sent no valid TimeStampResp", url);
		goto out;
	}
	{
		TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
		long st = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
		TS_TST_INFO *ti = TS_RESP_get_tst_info(resp);
		PKCS7 *tok = TS_RESP_get_token(resp);
		const ASN1_INTEGER *rn;
		int64_t gt = 0;
		uint8_t *tp;
		int tl;
		/* 0 granted, 1 grantedWithMods (RFC 3161 §2.4.2) */
		if ((st != 0 && st != 1) || ti == NULL || tok == NULL) {
			err_tmp(e, "the TSA at %s refused the request (status %ld)", url, st);
			goto out;
		}
		rn = TS_TST_INFO_get_nonce(ti);
		if (rn == NULL || ASN1_INTEGER_cmp(rn, nonce) != 0) {
			err_set(e, "the TSA at %s answered with a wrong nonce", url);
			goto out;
		}
		tl = i2d_PKCS7(tok, NULL);
		if (tl <= 0)
			goto oom;
		*tst = xmalloc((size_t)tl);
		tp = *tst;
		i2d_PKCS7(tok, &tp);
		*tstlen = (size_t)tl;
		if (tsa_token_verify(*tst, *tstlen, store, digest, 0, &gt, e) < 0) {
			char why[sizeof(e->msg)];
			str_copy(why, e->msg, sizeof(why));
			err_set(e, "the TSA at %s: %s", url, why);
			goto out;
		}
		if (gt > now_utc() + TSA_CLOCK_SKEW || gt < now_utc() - TSA_CLOCK_SKEW) {
			err_set(e, "the TSA at %s sent a genTime %lld seconds away from this host's clock",
			    url, (long long)(gt - now_utc()));
			goto out;
		}
		if (gen_time != NULL)
			*gen_time = gt;
	}
	rc = 0;
	goto out;
oom:
	err_tmp(e, "cannot build the time-stamp request");
out:
	if (rc < 0) {
		free(*tst);
		*tst = NULL;
	}
	ERR_clear_error();
	X509_STORE_free(store);
	BN_free(bn);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	TS_RESP_free(resp);
	OPENSSL_free(der);
	buf_free(&body);
	return rc;
}
