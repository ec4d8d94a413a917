/*
 * resident_cert.c — what the notice page derives from a signed notice: the
 * signer's certificate (the 職責証明書), taken from the CMS of the PDF's
 * first signature (ISO 32000 §12.8: the gap /ByteRange leaves is the
 * hex string /Contents; RFC 5652 SignedData), so the portal needs no key
 * and no file from another process; and the appeal deadline
 * (行政不服審査法 第18条, 民法 第143条).  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "portal/resident.h"

#define CMS_MAX (256 * 1024)

/* The first /ByteRange [a b c d]: the gap [a+b, c) is "<hex>". */
static int signature_gap(const uint8_t *pdf, size_t len, size_t *from, size_t *to)
{
	static const char tag[] = "/ByteRange";
	long long v[4];
	size_t i, p = 0;

	for (i = 0; i + sizeof(tag) - 1 <= len; i++)
		if (memcmp(pdf + i, tag, sizeof(tag) - 1) == 0)
			break;
	if (i + sizeof(tag) - 1 > len)
		return -1;
	p = i + sizeof(tag) - 1;
	while (p < len && (pdf[p] == ' ' || pdf[p] == '\n' || pdf[p] == '\r'))
		p++;
	if (p >= len || pdf[p] != '[')
		return -1;
	p++;
	for (int k = 0; k < 4; k++) {
		long long x = 0;
		int digits = 0;
		while (p < len && (pdf[p] == ' ' || pdf[p] == '\n' || pdf[p] == '\r'))
			p++;
		while (p < len && pdf[p] >= '0' && pdf[p] <= '9' && digits < 12) {
			x = x * 10 + (pdf[p] - '0');
			p++;
			digits++;
		}
		if (digits == 0)
			return -1;
		v[k] = x;
	}
	if (v[0] != 0 || v[1] < 2 || v[2] <= v[1] || (unsigned long long)v[2] > len)
		return -1;
	*from = (size_t)v[1];
	*to = (size_t)v[2];
	if (pdf[*from] != '<' || pdf[*to - 1] != '>')
		return -1;
	(*from)++;
	(*to)--;
	return 0;
}

int resident_cert_pem(const uint8_t *pdf, size_t len, struct buf *pem, struct error *e)
{
	size_t from, to, n = 0;
	uint8_t *der = NULL;
	const uint8_t *dp;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *certs = NULL;
	STACK_OF(CMS_SignerInfo) *infos;
	X509 *signer = NULL;
	BIO *bio = NULL;
	BUF_MEM *bm;
	int ret = -1;

	if (signature_gap(pdf, len, &from, &to) < 0 || (to - from) / 2 > CMS_MAX)
		return err_set(e, "no signature in the PDF");
	der = xmalloc((to - from) / 2 + 1);
	for (size_t i = from; i + 1 < to; i += 2) {
		int hi = hex_value(pdf[i]), lo = hex_value(pdf[i + 1]);
		if (hi < 0 || lo < 0)
			break;
		der[n++] = (uint8_t)(hi << 4 | lo);
	}
	dp = der;
	cms = d2i_CMS_ContentInfo(NULL, &dp, (long)n);
	if (cms == NULL) {
		err_set(e, "the signature is not CMS");
		goto out;
	}
	/* The signer: the carried certificate the first SignerInfo names. */
	certs = CMS_get1_certs(cms);
	infos = CMS_get0_SignerInfos(cms);
	if (certs != NULL && infos != NULL && sk_CMS_SignerInfo_num(infos) > 0)
		for (int i = 0; i < sk_X509_num(certs) && signer == NULL; i++)
			if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(infos, 0),
						    sk_X509_value(certs, i)) == 0)
				signer = sk_X509_value(certs, i);
	if (signer == NULL) {
		err_set(e, "the signature carries no signer certificate");
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509(bio, signer) != 1) {
		err_set(e, "cannot write the certificate");
		goto out;
	}
	BIO_get_mem_ptr(bio, &bm);
	if (buf_append(pem, bm->data, bm->length) < 0) {
		err_set(e, "certificate too large");
		goto out;
	}
	ret = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(bio);
	CMS_ContentInfo_free(cms);
	free(der);
	return ret;
}

static int dim(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

int resident_appeal_deadline(int64_t arrival, char out[32])
{
	time_t t = (time_t)(arrival + 9 * 3600); /* the day in Japan */
	struct tm tm;
	int y, m, d;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	d = tm.tm_mday;
	/* The period starts the day after arrival (初日不算入) and ends the day
	 * before the same-numbered day three months on; when that month has no
	 * such day, on its last day. */
	if (++d > dim(y, m)) {
		d = 1;
		if (++m > 12) {
			m = 1;
			y++;
		}
	}
	m += 3;
	if (m > 12) {
		m -= 12;
		y++;
	}
	if (d > dim(y, m)) {
		d = dim(y, m);
	} else if (--d < 1) {
		if (--m < 1) {
			m = 12;
			y--;
		}
		d = dim(y, m);
	}
	return str_fmt(out, 32, "%d年%d月%d日", y, m, d) < 0 ? -1 : 0;
}
