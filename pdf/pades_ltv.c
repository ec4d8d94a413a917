/*
 * pades_ltv.c — what makes a signature verifiable later (PAdES B-LT): the
 * certificates of the signature and of its time stamps, CRLs fetched from
 * their distribution points or OCSP responses from their responders, and
 * the /DSS update that stores them in the file.
 * Runs in the gateway and in `tayori pdf sign`; fetches over http:// from
 * the addresses the certificates name.  Standards: ISO 32000-2 §12.8.4.3
 * (DSS, VRI), ETSI EN 319 142-1 §5.4 (B-LT, the ESIC extension),
 * RFC 5280 (CRLs, distribution points), RFC 6960 (OCSP).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "lib/crypt.h"
#include "pdf/pades_int.h"
#include "pdf/tsa.h"

/* ---------------------------------------------------------------- blobs */

void pades_blobs_add(struct pades_blobs *b, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].len == len && memcmp(b->v[i].data, data, len) == 0)
			return;
	b->v = xrealloc(b->v, (b->n + 1) * sizeof(*b->v));
	b->v[b->n].data = xmalloc(len ? len : 1);
	memcpy(b->v[b->n].data, data, len);
	b->v[b->n].len = len;
	b->n++;
}

void pades_blobs_free(struct pades_blobs *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].data);
	free(b->v);
	b->v = NULL;
	b->n = 0;
}
static X509 *find_issuer(STACK_OF(X509) *all, X509 *x)
{
	for (int i = 0; i < sk_X509_num(all); i++) {
		X509 *c = sk_X509_value(all, i);
		if (X509_check_issued(c, x) == X509_V_OK)
			return c;
	}
	return NULL;
}

static int self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK;
}

/* What goes into one /DSS: the data and, once written, its objects. */
struct dss {
	STACK_OF(X509) *certs;
	const struct pades_blobs *crls, *ocsps;
	int *cid, *crlid, *ocspid;  /* object numbers of each item */
	size_t ncerts;
};

/* Each certificate, CRL and OCSP response as a stream of its own. */
static int dss_streams(struct pdf_writer *w, struct dss *x, struct error *e)
{
	x->cid = xcalloc(x->ncerts + 1, sizeof(int));
	x->crlid = xcalloc(x->crls->n + 1, sizeof(int));
	x->ocspid = xcalloc(x->ocsps->n + 1, sizeof(int));
	for (size_t i = 0; i < x->ncerts; i++) {
		uint8_t *der = NULL;
		int l = i2d_X509(sk_X509_value(x->certs, (int)i), &der);
		if (l <= 0)
			return crypt_ossl_error(e, 1, "cannot encode a certificate");
		x->cid[i] = pdf_writer_stream(w, der, (size_t)l);
		OPENSSL_free(der);
	}
	for (size_t i = 0; i < x->crls->n; i++)
		x->crlid[i] = pdf_writer_stream(w, x->crls->v[i].data, x->crls->v[i].len);
	for (size_t i = 0; i < x->ocsps->n; i++)
		x->ocspid[i] = pdf_writer_stream(w, x->ocsps->v[i].data, x->ocsps->v[i].len);
	return 0;
}

/* " key [ 1 0 R 2 0 R ]" for n objects; nothing when n is 0. */
static void put_refs(struct pdf_writer *w, const char *key, const int *ids, size_t n)
{
	if (n == 0)
		return;
	pdf_writer_printf(w, " %s [ ", key);
	for (size_t i = 0; i < n; i++)
		pdf_writer_printf(w, "%d 0 R ", ids[i]);
	pdf_writer_str(w, "]");
}

/* The /DSS dictionary: the old one's lists and VRI entries, the new
 * objects, and the VRI entry of this signature. */
static void put_dss(struct pdf_writer *w, qpdf_data q, qpdf_oh old, const struct dss *x,
    const uint8_t vri_key[20])
{
	static const char *const lists[3] = { "/Certs", "/CRLs", "/OCSPs" };
	char hex[41];

	pdf_writer_str(w, "<< /Type /DSS");
	for (int k = 0; k < 3; k++) {
		const int *ids = k == 0 ? x->cid : k == 1 ? x->crlid : x->ocspid;
		size_t n = k == 0 ? x->ncerts : k == 1 ? x->crls->n : x->ocsps->n;
		qpdf_oh prev = old ? qpdf_oh_get_key(q, old, lists[k]) : 0;
		int has_prev = prev != 0 && qpdf_oh_is_array(q, prev);
		if (n == 0 && !has_prev)
			continue;
		pdf_writer_printf(w, " %s [ ", lists[k]);
		if (has_prev)
			pades_doc_put_items(w, q, prev);
		for (size_t i = 0; i < n; i++)
			pdf_writer_printf(w, "%d 0 R ", ids[i]);
		pdf_writer_str(w, "]");
	}
	/* VRI: the validation data of this signature, keyed by the upper-case
	 * hex SHA-1 of its /Contents (ETSI EN 319 142-1 §5.4.2.2). */
	pdf_writer_str(w, " /VRI <<");
	if (old != 0 && qpdf_oh_has_key(q, old, "/VRI")) {
		qpdf_oh vri = qpdf_oh_get_key(q, old, "/VRI");
		if (qpdf_oh_is_dictionary(q, vri))
			pades_doc_put_entries(w, q, vri, NULL);
	}
	hex_encode(vri_key, 20, hex);
	for (int i = 0; i < 40; i++)
		hex[i] = (char)toupper((unsigned char)hex[i]);
	pdf_writer_printf(w, " /%s << /Type /VRI", hex);
	put_refs(w, "/Cert", x->cid, x->ncerts);
	put_refs(w, "/CRL", x->crlid, x->crls->n);
	put_refs(w, "/OCSP", x->ocspid, x->ocsps->n);
	pdf_writer_str(w, " >> >> >>");
}

/* The catalog points at the new DSS and declares the ETSI extension
 * (ESIC level 5) that defines DSS for PDF 1.7 readers. */
static void put_catalog(struct pdf_writer *w, struct pades_doc *d, int dss_id)
{
	static const char *const skip[] = { "/DSS", "/Extensions", NULL };
	static const char *const skip_ext[] = { "/ESIC", NULL };
	qpdf_oh root = qpdf_get_root(d->q);
	qpdf_oh ext = qpdf_oh_has_key(d->q, root, "/Extensions") ?
	    qpdf_oh_get_key(d->q, root, "/Extensions") : 0;

	pdf_writer_begin(w, d->root_id, d->root_gen);
	pdf_writer_str(w, "<<");
	pades_doc_put_entries(w, d->q, root, skip);
	pdf_writer_printf(w, " /DSS %d 0 R /Extensions <<", dss_id);
	if (ext != 0 && qpdf_oh_is_dictionary(d->q, ext))
		pades_doc_put_entries(w, d->q, ext, skip_ext);
	pdf_writer_str(w, " /ESIC << /BaseVersion /1.7 /ExtensionLevel 5 >> >> >>");
	pdf_writer_end(w);
}

/* Append a /DSS (and the ESIC extension) in an incremental update. */
static int add_dss(const uint8_t *pdf, size_t len, struct dss *x, const uint8_t vri_key[20],
    struct buf *out, struct error *e)
{
	struct pades_doc d;
	struct pdf_writer w;
	qpdf_oh root, old = 0;
	int dss_id, rc = -1;

	if (pades_doc_open(&d, pdf, len, e) < 0)
		goto out;
	root = qpdf_get_root(d.q);
	if (qpdf_oh_has_key(d.q, root, "/DSS")) {
		old = qpdf_oh_get_key(d.q, root, "/DSS");
		if (!qpdf_oh_is_dictionary(d.q, old))
			old = 0;
	}
	pades_doc_update(&d, &w, out, pdf, len);
	if (dss_streams(&w, x, e) < 0) {
		pdf_writer_free(&w);
		goto out;
	}
	dss_id = pdf_writer_new_id(&w);
	pdf_writer_begin(&w, dss_id, 0);
	put_dss(&w, d.q, old, x, vri_key);
	pdf_writer_end(&w);
	put_catalog(&w, &d, dss_id);
	rc = pades_doc_finish(&d, &w, e);
out:
	free(x->cid);
	free(x->crlid);
	free(x->ocspid);
	x->cid = x->crlid = x->ocspid = NULL;
	pades_doc_close(&d);
	return rc;
}

/* Gather certificates and revocation data for the signature in sigder. */
int pades_ltv_add(const uint8_t *pdf, size_t len, const struct signer *s,
    const uint8_t *contents, size_t contents_len, const uint8_t *sigder, size_t siglen,
    const struct pades_options *o, struct buf *out, struct error *e)
{
	STACK_OF(X509) *all = sk_X509_new_null();
	struct pades_blobs crls = { NULL, 0 }, ocsps = { NULL, 0 }, tokens = { NULL, 0 };
	struct dss data = { 0 };
	uint8_t vri[20];
	int rc = -1;

	X509_up_ref(s->cert);
	sk_X509_push(all, s->cert);
	pades_cms_certs(sigder, siglen, all, &tokens);
	for (size_t i = 0; i < tokens.n; i++)
		pades_cms_certs(tokens.v[i].data, tokens.v[i].len, all, NULL);
	for (int i = 0; o->extra_certs != NULL && i < sk_X509_num(o->extra_certs); i++) {
		X509 *x = sk_X509_value(o->extra_certs, i);
		int dup = 0;
		for (int j = 0; j < sk_X509_num(all); j++)
			if (X509_cmp(sk_X509_value(all, j), x) == 0)
				dup = 1;
		if (!dup) {
			X509_up_ref(x);
			sk_X509_push(all, x);
		}
	}
	for (size_t i = 0; o->crls != NULL && i < o->crls->n; i++)
		pades_blobs_add(&crls, o->crls->v[i].data, o->crls->v[i].len);
	for (size_t i = 0; o->ocsps != NULL && i < o->ocsps->n; i++)
		pades_blobs_add(&ocsps, o->ocsps->v[i].data, o->ocsps->v[i].len);
	if (o->revocation != NULL) {
		for (int i = 0; i < sk_X509_num(all); i++) {
			X509 *x = sk_X509_value(all, i);
			if (self_signed(x))
				continue; /* trust anchors carry no revocation data */
			if (o->revocation(o->revocation_ctx, x, find_issuer(all, x), &crls, &ocsps, e) < 0)
				goto out;
		}
	}
	if (crls.n == 0 && ocsps.n == 0) {
		err_set(e, "B-LT needs revocation data (CRL or OCSP) and none was found");
		goto out;
	}
	SHA1(contents, contents_len, vri);
	data.certs = all;
	data.crls = &crls;
	data.ocsps = &ocsps;
	data.ncerts = (size_t)sk_X509_num(all);
	rc = add_dss(pdf, len, &data, vri, out, e);
out:
	sk_X509_pop_free(all, X509_free);
	pades_blobs_free(&crls);
	pades_blobs_free(&ocsps);
	pades_blobs_free(&tokens);
	return rc;
}

/* ------------------------------------------- CRLs from distribution points */

int pades_fetch_crls_http(void *ctx, X509 *cert, X509 *issuer,
    struct pades_blobs *crls, struct pades_blobs *ocsps, struct error *e)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	int got = 0, tried = 0;
	char last[ERR_MAX] = "";

	for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			struct buf body;
			struct error e2;
			char url[1024];
			const uint8_t *p;
			X509_CRL *crl;
			int len;
			if (gn->type != GEN_URI)
				continue;
			len = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			if (len <= 0 || (size_t)len >= sizeof(url))
				continue;
			memcpy(url, ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), (size_t)len);
			url[len] = '\0';
			if (strncmp(url, "http://", 7) != 0)
				continue;
			tried++;
			buf_init(&body, TSA_HTTP_MAX);
			if (http_request(url, "GET", NULL, NULL, 0, 15000, &body, &e2) < 0) {
				str_copy(last, e2.msg, sizeof(last));
				buf_free(&body);
				continue;
			}
			p = body.data;
			crl = d2i_X509_CRL(NULL, &p, (long)body.len);
			if (crl != NULL && (issuer == NULL ||
			    X509_CRL_verify(crl, X509_get0_pubkey(issuer)) == 1)) {
				pades_blobs_add(crls, body.data, body.len);
				got++;
			} else {
				str_fmt(last, sizeof(last), "%s is not a CRL signed by the issuer", url);
			}
			ERR_clear_error();
			X509_CRL_free(crl);
			buf_free(&body);
		}
	}
	CRL_DIST_POINTS_free(dps);
	if (got > 0)
		return 0;
	{
		char cn[256] = "?";
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
		if (tried == 0)
			return err_set(e, "certificate \"%s\" names no http:// CRL distribution point", cn);
		return err_tmp(e, "no CRL for certificate \"%s\": %s", cn, last);
	}
}

/* ------------------------------------------------- OCSP (RFC 6960) */

static int fetch_ocsp(X509 *cert, X509 *issuer, struct pades_blobs *ocsps, struct error *e)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	uint8_t *der = NULL;
	int derlen, rc = -1;
	char last[ERR_MAX] = "no http:// OCSP responder";

	if (issuer == NULL || sk_OPENSSL_STRING_num(urls) <= 0)
		goto out;
	req = OCSP_REQUEST_new();
	id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
	if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) == NULL)
		goto out;
	id = NULL; /* owned by req now */
	derlen = i2d_OCSP_REQUEST(req, &der);
	if (derlen <= 0)
		goto out;
	for (int i = 0; i < sk_OPENSSL_STRING_num(urls) && rc < 0; i++) {
		const char *url = sk_OPENSSL_STRING_value(urls, i);
		struct buf body;
		const uint8_t *p;
		OCSP_RESPONSE *resp;
		OCSP_BASICRESP *bs = NULL;
		OCSP_CERTID *cid = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
		X509_STORE *st = X509_STORE_new();
		STACK_OF(X509) *untrusted = sk_X509_new_null();
		int status = -1;
		if (strncmp(url, "http://", 7) != 0) {
			OCSP_CERTID_free(cid);
			X509_STORE_free(st);
			sk_X509_free(untrusted);
			continue;
		}
		buf_init(&body, TSA_HTTP_MAX);
		if (http_request(url, "POST", "application/ocsp-request", der, (size_t)derlen,
		    15000, &body, e) == 0) {
			p = body.data;
			resp = d2i_OCSP_RESPONSE(NULL, &p, (long)body.len);
			if (resp != NULL && OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL)
				bs = OCSP_response_get1_basic(resp);
			/* signed by the issuer or by a responder it delegated to */
			X509_STORE_add_cert(st, issuer);
			sk_X509_push(untrusted, issuer);
			if (bs != NULL && OCSP_basic_verify(bs, untrusted, st, OCSP_PARTIAL_CHAIN) == 1 &&
			    OCSP_resp_find_status(bs, cid, &status, NULL, NULL, NULL, NULL) == 1 &&
			    status == V_OCSP_CERTSTATUS_GOOD) {
				pades_blobs_add(ocsps, body.data, body.len);
				rc = 0;
			} else {
				str_fmt(last, sizeof(last), "%s gave no valid \"good\" OCSP response", url);
			}
			OCSP_BASICRESP_free(bs);
			OCSP_RESPONSE_free(resp);
		} else {
			str_copy(last, e->msg, sizeof(last));
		}
		ERR_clear_error();
		OCSP_CERTID_free(cid);
		X509_STORE_free(st);
		sk_X509_free(untrusted);
		buf_free(&body);
	}
out:
	if (rc < 0)
		err_tmp(e, "%s", last);
	ERR_clear_error();
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	OPENSSL_free(der);
	X509_email_free(urls);
	return rc;
}

int pades_fetch_ocsp_or_crls_http(void *ctx, X509 *cert, X509 *issuer,
    struct pades_blobs *crls, struct pades_blobs *ocsps, struct error *e)
{
	struct error e2;
	if (fetch_ocsp(cert, issuer, ocsps, &e2) == 0)
		return 0;
	return pades_fetch_crls_http(ctx, cert, issuer, crls, ocsps, e);
}
