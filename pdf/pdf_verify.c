/*
 * pdf_verify.c — verify every signature of a PDF and say what it covers.
 * Runs in the `tayori pdf verify` CLI; no key material involved.
 *
 * Standards: ISO 32000-1 §12.8 and ISO 32000-2 §12.8.4.3/§12.8.5
 * (signature dictionaries, /ByteRange, DSS, DocTimeStamp), ETSI EN 319
 * 142-1 (levels B-B, B-T, B-LT, B-LTA), RFC 5652 (CMS_verify over the
 * ByteRange), RFC 5035 (signing-certificate-v2), RFC 3161 (TSTInfo
 * message imprint).
 *
 * The ByteRange is checked against the file itself: the excluded gap must
 * be exactly the hex string that qpdf reads as /Contents, so bytes outside
 * the signature cannot hide a second, unsigned value.
 */
#include "pdf/pdf_check.h"
#include "pdf/pdf_verify.h"
#include "pdf/tsa.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include <qpdf/qpdf-c.h>

#define FIELD_DEPTH_MAX 32
#define SIGS_MAX 256

struct vctx {
	qpdf_data q;
	const uint8_t *pdf;
	size_t len;
	size_t *eofs;          /* revision ends */
	int neofs;
	X509_STORE *store;     /* NULL without --ca */
	X509_STORE *tsa_store; /* NULL without --tsa-ca */
	struct pdf_verify_report *r;
};

static void set_err(struct pdf_sig_report *s, const char *msg)
{
	if (s->error[0] == '\0')
		str_copy(s->error, msg, sizeof(s->error));
	s->valid = 0;
}

/* Ends of revisions: after each "%%EOF" and its end-of-line. */
static void find_revisions(struct vctx *v)
{
	size_t cap = 8;
	v->eofs = xmalloc(cap * sizeof(size_t));
	for (const uint8_t *p = v->pdf; (p = memmem(p, v->len - (size_t)(p - v->pdf), "%%EOF", 5)) != NULL;) {
		size_t end = (size_t)(p - v->pdf) + 5;
		if (end < v->len && v->pdf[end] == '\r')
			end++;
		if (end < v->len && v->pdf[end] == '\n')
			end++;
		if ((size_t)v->neofs == cap) {
			cap *= 2;
			v->eofs = xrealloc(v->eofs, cap * sizeof(size_t));
		}
		v->eofs[v->neofs++] = end;
		p = v->pdf + end;
		if (end >= v->len)
			break;
	}
}

static void asn1_time_str(const ASN1_TIME *t, char *out, size_t n)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm) || strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		str_copy(out, "?", n);
}

/*
 * Verify a time-stamp token and compare its imprint with want (SHA-256).
 * With --tsa-ca the whole check of tsa_token_verify() (chain at genTime,
 * timeStamping key usage) decides, and *trusted says so; without it only
 * the signature (or the chain to --ca) is checked and *trusted is -1.
 */
static int check_token(struct vctx *v, const uint8_t *tok, size_t toklen, const uint8_t want[32],
    char *time_out, size_t time_n, int *trusted, char *why, size_t why_n)
{
	const uint8_t *p = tok;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)toklen);
	BIO *out = BIO_new(BIO_s_mem());
	TS_TST_INFO *ti = NULL;
	int ok = 0;
	char *data;
	long dlen;

	if (cms == NULL || out == NULL) {
		str_copy(why, "the time-stamp token is not CMS", why_n);
		goto done;
	}
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_id_smime_ct_TSTInfo) {
		str_copy(why, "the time-stamp token holds no TSTInfo", why_n);
		goto done;
	}
	*trusted = -1;
	/* With --tsa-ca the chain is tsa_token_verify()'s, below. */
	if (!CMS_verify(cms, NULL, v->tsa_store ? NULL : v->store, NULL, out,
	    CMS_BINARY | (v->store && !v->tsa_store ? 0 : CMS_NO_SIGNER_CERT_VERIFY))) {
		str_copy(why, v->store ? "the time-stamp token does not verify against --ca"
		    : "the time-stamp token signature does not verify", why_n);
		goto done;
	}
	dlen = BIO_get_mem_data(out, &data);
	p = (const uint8_t *)data;
	ti = d2i_TS_TST_INFO(NULL, &p, dlen);
	if (ti == NULL) {
		str_copy(why, "bad TSTInfo", why_n);
		goto done;
	}
	asn1_time_str(TS_TST_INFO_get_time(ti), time_out, time_n);
	{
		TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(ti);
		ASN1_OCTET_STRING *d = TS_MSG_IMPRINT_get_msg(mi);
		if (OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(mi)->algorithm) != NID_sha256 ||
		    ASN1_STRING_length(d) != 32 || memcmp(ASN1_STRING_get0_data(d), want, 32) != 0) {
			str_copy(why, "the time stamp is over other data", why_n);
			goto done;
		}
	}
	if (v->tsa_store != NULL) {
		struct error te;
		*trusted = tsa_token_verify(tok, toklen, v->tsa_store, want, 1, NULL, &te) == 0;
		if (!*trusted) {
			str_copy(why, te.msg, why_n);
			goto done;
		}
	}
	ok = 1;
done:
	ERR_clear_error();
	TS_TST_INFO_free(ti);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return ok;
}

static void name_str(X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *d;
	long l;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	l = BIO_get_mem_data(b, &d);
	if ((size_t)l >= size)
		l = (long)size - 1;
	memcpy(out, d, (size_t)l);
	out[l] = '\0';
	BIO_free(b);
}

static void check_cades(struct vctx *v, struct pdf_sig_report *s, const uint8_t *der,
    size_t derlen, const uint8_t *content, size_t clen)
{
	const uint8_t *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)derlen);
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	STACK_OF(X509) *certs = NULL;
	BIO *dc = NULL;
	uint8_t md[32];

	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		set_err(s, "/Contents is not a CMS SignedData");
		goto done;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1) {
		set_err(s, "the CMS must have exactly one SignerInfo");
		goto done;
	}
	si = sk_CMS_SignerInfo_value(sis, 0);
	certs = CMS_get1_certs(cms);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		if (CMS_SignerInfo_cert_cmp(si, x) == 0) {
			ASN1_INTEGER *sn = X509_get_serialNumber(x);
			BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;
			X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
			    s->signer_cn, sizeof(s->signer_cn));
			name_str(X509_get_issuer_name(x), s->signer_issuer, sizeof(s->signer_issuer));
			str_copy(s->signer_serial, hex ? hex : "?", sizeof(s->signer_serial));
			OPENSSL_free(hex);
			BN_free(bn);
		}
	}
	s->has_signing_cert_v2 = CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) >= 0;
	s->has_signing_time = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0;
	{
		ASN1_OCTET_STRING *mdattr = CMS_signed_get0_data_by_OBJ(si,
		    OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
		SHA256(content, clen, md);
		s->digest_ok = mdattr != NULL && ASN1_STRING_length(mdattr) == 32 &&
		    memcmp(ASN1_STRING_get0_data(mdattr), md, 32) == 0;
		if (!s->digest_ok)
			set_err(s, "the document digest does not match: the signed bytes were changed");
	}
	dc = BIO_new_mem_buf(content, (int)clen);
	s->signature_ok = CMS_verify(cms, NULL, NULL, dc, NULL,
	    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1;
	ERR_clear_error();
	if (!s->signature_ok)
		set_err(s, "the CMS signature does not verify");
	if (v->store != NULL) {
		BIO_free(dc);
		dc = BIO_new_mem_buf(content, (int)clen);
		s->chain_ok = CMS_verify(cms, NULL, v->store, dc, NULL, CMS_BINARY) == 1;
		ERR_clear_error();
		if (!s->chain_ok)
			set_err(s, "the signer certificate does not chain to the trusted CA");
	}
	/* id-aa-signatureTimeStampToken over the signature value (B-T). */
	{
		int idx = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
		X509_ATTRIBUTE *a = idx >= 0 ? CMS_unsigned_get_attr(si, idx) : NULL;
		ASN1_TYPE *t = a ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
		if (t != NULL && t->type == V_ASN1_SEQUENCE) {
			ASN1_OCTET_STRING *sv = CMS_SignerInfo_get0_signature(si);
			uint8_t imprint[32];
			char why[ERR_MAX] = "";
			SHA256(ASN1_STRING_get0_data(sv), (size_t)ASN1_STRING_length(sv), imprint);
			s->timestamp_ok = check_token(v, ASN1_STRING_get0_data(t->value.sequence),
			    (size_t)ASN1_STRING_length(t->value.sequence), imprint,
			    s->timestamp_time, sizeof(s->timestamp_time), &s->timestamp_trusted,
			    why, sizeof(why));
			if (!s->timestamp_ok)
				set_err(s, why);
		} else if (t != NULL) {
			s->timestamp_ok = 0;
			set_err(s, "malformed signature time-stamp attribute");
		}
	}
done:
	ERR_clear_error();
	BIO_free(dc);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
}

static void check_sig(struct vctx *v, struct pdf_sig_report *s, qpdf_oh sig)
{
	qpdf_data q = v->q;
	qpdf_oh br = qpdf_oh_get_key(q, sig, "/ByteRange");
	qpdf_oh ct = qpdf_oh_get_key(q, sig, "/Contents");
	qpdf_oh sf = qpdf_oh_get_key(q, sig, "/SubFilter");
	qpdf_oh ty = qpdf_oh_get_key(q, sig, "/Type");
	qpdf_oh m = qpdf_oh_get_key(q, sig, "/M");
	const char *cv;
	size_t cvlen, gap;
	uint8_t *content = NULL, *gapbytes = NULL;
	long long *b = s->byte_range;

	s->valid = 1;
	s->digest_ok = s->signature_ok = 0;
	s->chain_ok = s->timestamp_ok = s->timestamp_trusted = -1;
	str_copy(s->type, qpdf_oh_is_name(q, ty) ? qpdf_oh_get_name(q, ty) + 1 : "Sig", sizeof(s->type));
	str_copy(s->subfilter, qpdf_oh_is_name(q, sf) ? qpdf_oh_get_name(q, sf) + 1 : "?", sizeof(s->subfilter));
	if (qpdf_oh_is_string(q, m))
		str_copy(s->signing_time, qpdf_oh_get_utf8_value(q, m), sizeof(s->signing_time));
	if (!qpdf_oh_is_array(q, br) || qpdf_oh_get_array_n_items(q, br) != 4) {
		set_err(s, "no /ByteRange of four numbers");
		return;
	}
	for (int i = 0; i < 4; i++) {
		qpdf_oh it = qpdf_oh_get_array_item(q, br, i);
		b[i] = qpdf_oh_is_integer(q, it) ? qpdf_oh_get_int_value(q, it) : -1;
	}
	s->covered_end = b[2] + b[3];
	s->byte_range_ok = b[0] == 0 && b[1] > 0 && b[2] > b[1] + 1 && b[3] >= 0 &&
	    b[2] <= (long long)v->len && b[3] <= (long long)v->len - b[2];
	if (!s->byte_range_ok) {
		set_err(s, "the /ByteRange does not fit the file");
		return;
	}
	/* The gap must be exactly the /Contents hex string. */
	cv = qpdf_oh_is_string(q, ct) ? qpdf_oh_get_binary_string_value(q, ct, &cvlen) : NULL;
	gap = (size_t)(b[2] - b[1]);
	if (cv == NULL || v->pdf[b[1]] != '<' || v->pdf[b[2] - 1] != '>' || gap - 2 != 2 * cvlen) {
		s->byte_range_ok = 0;
		set_err(s, "the /ByteRange gap is not the /Contents string");
		return;
	}
	gapbytes = xmalloc(cvlen + 1);
	for (size_t i = 0; i < cvlen; i++) {
		char h[3] = { (char)v->pdf[b[1] + 1 + 2 * (long long)i], (char)v->pdf[b[1] + 2 + 2 * (long long)i], 0 };
		uint8_t byte;
		if (!isxdigit((unsigned char)h[0]) || !isxdigit((unsigned char)h[1]) ||
		    hex_decode(h, &byte, 1) < 0 || byte != (uint8_t)cv[i]) {
			s->byte_range_ok = 0;
			break;
		}
		gapbytes[i] = byte;
	}
	if (!s->byte_range_ok) {
		set_err(s, "the /ByteRange gap is not the /Contents string");
		goto out;
	}
	/* Which revision it covers, and what came after. */
	for (int i = 0; i < v->neofs; i++) {
		if ((long long)v->eofs[i] == s->covered_end)
			s->revision = i + 1;
		if ((long long)v->eofs[i] > s->covered_end)
			s->later_updates++;
	}
	s->covers_whole_file = s->covered_end == (long long)v->len;
	if (s->revision == 0)
		set_err(s, "the signature does not cover a whole revision");

	content = xmalloc((size_t)(b[1] + b[3]) + 1);
	memcpy(content, v->pdf, (size_t)b[1]);
	memcpy(content + b[1], v->pdf + b[2], (size_t)b[3]);
	if (strcmp(s->type, "DocTimeStamp") == 0 || strcmp(s->subfilter, "ETSI.RFC3161") == 0) {
		uint8_t md[32];
		char why[ERR_MAX] = "";
		SHA256(content, (size_t)(b[1] + b[3]), md);
		s->timestamp_ok = check_token(v, gapbytes, cvlen, md, s->timestamp_time,
		    sizeof(s->timestamp_time), &s->timestamp_trusted, why, sizeof(why));
		s->digest_ok = s->signature_ok = s->timestamp_ok;
		if (!s->timestamp_ok)
			set_err(s, why);
		if (v->store != NULL)
			s->chain_ok = s->timestamp_ok;
	} else if (strcmp(s->subfilter, "ETSI.CAdES.detached") == 0 ||
	    strcmp(s->subfilter, "adbe.pkcs7.detached") == 0) {
		/* DER may be followed by the zero padding of the reservation. */
		check_cades(v, s, gapbytes, cvlen, content, (size_t)(b[1] + b[3]));
	} else {
		set_err(s, "unsupported /SubFilter");
	}
out:
	free(gapbytes);
	free(content);
}

static void walk_fields(struct vctx *v, qpdf_oh arr, int inherited_sig, const char *prefix, int depth)
{
	qpdf_data q = v->q;
	int n = qpdf_oh_is_array(q, arr) ? qpdf_oh_get_array_n_items(q, arr) : 0;
	if (depth > FIELD_DEPTH_MAX)
		return;
	for (int i = 0; i < n && v->r->n < SIGS_MAX; i++) {
		qpdf_oh f = qpdf_oh_get_array_item(q, arr, i);
		qpdf_oh ft, t, val;
		char name[128];
		int is_sig;
		if (!qpdf_oh_is_dictionary(q, f))
			continue;
		ft = qpdf_oh_get_key(q, f, "/FT");
		is_sig = qpdf_oh_is_name(q, ft) ? qpdf_oh_is_name_and_equals(q, ft, "/Sig") : inherited_sig;
		t = qpdf_oh_get_key(q, f, "/T");
		if (qpdf_oh_is_string(q, t))
			str_fmt(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
			    qpdf_oh_get_utf8_value(q, t));
		else
			str_copy(name, prefix, sizeof(name));
		if (qpdf_oh_has_key(q, f, "/Kids")) {
			walk_fields(v, qpdf_oh_get_key(q, f, "/Kids"), is_sig, name, depth + 1);
			continue;
		}
		val = qpdf_oh_get_key(q, f, "/V");
		if (!is_sig || !qpdf_oh_is_dictionary(q, val))
			continue;
		v->r->sigs = xrealloc(v->r->sigs, (v->r->n + 1) * sizeof(*v->r->sigs));
		memset(&v->r->sigs[v->r->n], 0, sizeof(v->r->sigs[0]));
		str_copy(v->r->sigs[v->r->n].field, name, sizeof(v->r->sigs[0].field));
		check_sig(v, &v->r->sigs[v->r->n], val);
		v->r->n++;
	}
}

static int sig_cmp(const void *a, const void *b)
{
	const struct pdf_sig_report *x = a, *y = b;
	return (x->covered_end > y->covered_end) - (x->covered_end < y->covered_end);
}

/* Levels (ETSI EN 319 142-1 §6): B-T with a signature time stamp; B-LT
 * when a DSS with revocation data was added after the signature; B-LTA
 * when a valid document time stamp was added after that. */
static void assign_levels(struct pdf_verify_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct pdf_sig_report *s = &r->sigs[i];
		int lta = 0;
		if (strcmp(s->type, "DocTimeStamp") == 0) {
			s->level = "-";
			continue;
		}
		for (size_t j = 0; j < r->n; j++)
			if (strcmp(r->sigs[j].type, "DocTimeStamp") == 0 && r->sigs[j].valid &&
			    r->sigs[j].covered_end > s->covered_end)
				lta = 1;
		if (s->timestamp_ok != 1)
			s->level = "B-B";
		else if (!r->has_dss || s->covers_whole_file || (r->dss_crls + r->dss_ocsps) == 0)
			s->level = "B-T";
		else if (!lta)
			s->level = "B-LT";
		else
			s->level = "B-LTA";
	}
}

int pdf_verify_mem(const uint8_t *pdf, size_t len, const struct pdf_verify_options *o,
    struct pdf_verify_report *r, struct error *e)
{
	struct vctx v;
	qpdf_oh root, acro, dss;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	v.pdf = pdf;
	v.len = len;
	v.r = r;
	r->file_len = (long long)len;
	if (len < 16 || memmem(pdf, len < 1024 ? len : 1024, "%PDF-", 5) == NULL)
		return err_set(e, "not a PDF file");
	if (o != NULL && o->ca_file != NULL) {
		v.store = X509_STORE_new();
		if (X509_STORE_load_file(v.store, o->ca_file) != 1) {
			X509_STORE_free(v.store);
			ERR_clear_error();
			return err_set(e, "cannot read CA certificates from %s", o->ca_file);
		}
		X509_STORE_set_purpose(v.store, X509_PURPOSE_ANY);
	}
	if (o != NULL && o->tsa_ca_file != NULL) {
		v.tsa_store = tsa_store_load(o->tsa_ca_file, e);
		if (v.tsa_store == NULL) {
			X509_STORE_free(v.store);
			return -1;
		}
	}
	if (pdf_qpdf_read(pdf, len, NULL, 0, &v.q, NULL, e) < 0)
		goto out;
	find_revisions(&v);
	r->revisions = v.neofs;
	root = qpdf_get_root(v.q);
	dss = qpdf_oh_get_key_if_dict(v.q, root, "/DSS");
	if (qpdf_oh_is_dictionary(v.q, dss)) {
		qpdf_oh a;
		r->has_dss = 1;
		a = qpdf_oh_get_key(v.q, dss, "/Certs");
		r->dss_certs = qpdf_oh_is_array(v.q, a) ? qpdf_oh_get_array_n_items(v.q, a) : 0;
		a = qpdf_oh_get_key(v.q, dss, "/CRLs");
		r->dss_crls = qpdf_oh_is_array(v.q, a) ? qpdf_oh_get_array_n_items(v.q, a) : 0;
		a = qpdf_oh_get_key(v.q, dss, "/OCSPs");
		r->dss_ocsps = qpdf_oh_is_array(v.q, a) ? qpdf_oh_get_array_n_items(v.q, a) : 0;
	}
	acro = qpdf_oh_get_key_if_dict(v.q, root, "/AcroForm");
	walk_fields(&v, qpdf_oh_get_key_if_dict(v.q, acro, "/Fields"), 0, "", 0);
	if (r->n > 1)
		qsort(r->sigs, r->n, sizeof(*r->sigs), sig_cmp);
	assign_levels(r);
	r->valid = r->n > 0;
	for (size_t i = 0; i < r->n; i++)
		if (!r->sigs[i].valid)
			r->valid = 0;
	rc = 0;
out:
	ERR_clear_error();
	free(v.eofs);
	X509_STORE_free(v.store);
	X509_STORE_free(v.tsa_store);
	if (v.q != NULL)
		qpdf_cleanup(&v.q);
	return rc;
}

void pdf_verify_report_free(struct pdf_verify_report *r)
{
	free(r->sigs);
	memset(r, 0, sizeof(*r));
}

static const char *tri(int v, const char *yes, const char *no)
{
	return v == 1 ? yes : v == 0 ? no : "not checked";
}

void pdf_verify_print_text(FILE *f, const char *filename, const struct pdf_verify_report *r)
{
	fprintf(f, "%s: %zu signature(s), %d revision(s)%s\n", filename, r->n, r->revisions,
	    r->has_dss ? ", DSS present" : "");
	if (r->has_dss)
		fprintf(f, "  DSS: %d certificate(s), %d CRL(s), %d OCSP response(s)\n",
		    r->dss_certs, r->dss_crls, r->dss_ocsps);
	for (size_t i = 0; i < r->n; i++) {
		const struct pdf_sig_report *s = &r->sigs[i];
		fprintf(f, "Signature %zu: field \"%s\"\n", i + 1, s->field);
		fprintf(f, "  type: %s, SubFilter: %s\n", s->type, s->subfilter);
		if (s->signer_cn[0] || s->signer_serial[0])
			fprintf(f, "  signer: CN=%s; issuer: %s; serial: %s\n", s->signer_cn,
			    s->signer_issuer, s->signer_serial);
		if (s->signing_time[0])
			fprintf(f, "  signing time (/M): %s\n", s->signing_time);
		if (s->timestamp_ok != -1)
			fprintf(f, "  time stamp: %s (%s)\n", s->timestamp_time[0] ? s->timestamp_time : "?",
			    s->timestamp_ok == 1 && s->timestamp_trusted == -1 ?
			    "time stamp not checked against a trust anchor" :
			    tri(s->timestamp_ok, "valid", "INVALID"));
		fprintf(f, "  ByteRange: [%lld %lld %lld %lld] (%s)\n", s->byte_range[0],
		    s->byte_range[1], s->byte_range[2], s->byte_range[3],
		    s->byte_range_ok ? "well-formed" : "BAD");
		if (s->revision > 0)
			fprintf(f, "  covers: revision %d of %d (bytes 0-%lld)%s\n", s->revision,
			    r->revisions, s->covered_end,
			    s->covers_whole_file ? ", the whole file" : "");
		if (!s->covers_whole_file)
			fprintf(f, "  changed since: yes, %d later incremental update(s), %lld byte(s) appended\n",
			    s->later_updates, r->file_len - s->covered_end);
		else
			fprintf(f, "  changed since: no\n");
		fprintf(f, "  digest: %s; signature: %s; certificate chain: %s\n",
		    tri(s->digest_ok, "ok", "MISMATCH"), tri(s->signature_ok, "ok", "BAD"),
		    tri(s->chain_ok, "trusted", "NOT TRUSTED"));
		if (strcmp(s->type, "DocTimeStamp") != 0)
			fprintf(f, "  signing-certificate-v2: %s; CMS signing-time: %s\n",
			    s->has_signing_cert_v2 ? "present" : "absent",
			    s->has_signing_time ? "present (not PAdES)" : "absent");
		fprintf(f, "  level: %s\n", s->level ? s->level : "-");
		fprintf(f, "  result: %s%s%s\n", s->valid ? "VALID" : "INVALID",
		    s->valid ? "" : " — ", s->valid ? "" : s->error);
	}
	if (r->n == 0)
		fprintf(f, "no signatures\n");
	fprintf(f, "%s\n", r->valid ? "all signatures valid" : "NOT all signatures valid");
}


static void json_tri(FILE *f, const char *key, int v)
{
	json_member(f, key, 0);
	fputs(v == 1 ? "true" : v == 0 ? "false" : "null", f);
}

static void json_bool(FILE *f, const char *key, int v)
{
	json_member(f, key, 0);
	fputs(v ? "true" : "false", f);
}

static void json_int(FILE *f, const char *key, long long v)
{
	json_member(f, key, 0);
	fprintf(f, "%lld", v);
}

static void json_string(FILE *f, const char *key, const char *v, int first)
{
	json_member(f, key, first);
	json_fputs(f, v);
}

void pdf_verify_print_json(FILE *f, const char *filename, const struct pdf_verify_report *r)
{
	fputc('{', f);
	json_string(f, "file", filename, 1);
	json_bool(f, "valid", r->valid);
	json_int(f, "revisions", r->revisions);
	json_int(f, "file_length", r->file_len);
	json_member(f, "dss", 0);
	if (r->has_dss) {
		fputc('{', f);
		json_member(f, "certs", 1);
		fprintf(f, "%d", r->dss_certs);
		json_int(f, "crls", r->dss_crls);
		json_int(f, "ocsps", r->dss_ocsps);
		fputc('}', f);
	} else {
		fputs("null", f);
	}
	json_member(f, "signatures", 0);
	fputc('[', f);
	for (size_t i = 0; i < r->n; i++) {
		const struct pdf_sig_report *s = &r->sigs[i];
		fputs(i ? ",{" : "{", f);
		json_string(f, "field", s->field, 1);
		json_string(f, "type", s->type, 0);
		json_string(f, "subfilter", s->subfilter, 0);
		json_member(f, "byte_range", 0);
		fprintf(f, "[%lld,%lld,%lld,%lld]", s->byte_range[0], s->byte_range[1],
		    s->byte_range[2], s->byte_range[3]);
		json_tri(f, "byte_range_ok", s->byte_range_ok);
		json_int(f, "revision", s->revision);
		json_bool(f, "covers_whole_file", s->covers_whole_file);
		json_int(f, "later_updates", s->later_updates);
		json_member(f, "signer", 0);
		fputc('{', f);
		json_string(f, "cn", s->signer_cn, 1);
		json_string(f, "issuer", s->signer_issuer, 0);
		json_string(f, "serial", s->signer_serial, 0);
		fputc('}', f);
		json_string(f, "signing_time", s->signing_time, 0);
		json_string(f, "timestamp_time", s->timestamp_time, 0);
		json_tri(f, "digest_ok", s->digest_ok);
		json_tri(f, "signature_ok", s->signature_ok);
		json_tri(f, "chain_ok", s->chain_ok);
		json_tri(f, "timestamp_ok", s->timestamp_ok);
		json_tri(f, "timestamp_trusted", s->timestamp_trusted);
		if (strcmp(s->type, "DocTimeStamp") != 0) {
			json_tri(f, "signing_certificate_v2", s->has_signing_cert_v2);
			json_tri(f, "cms_signing_time", s->has_signing_time);
		}
		json_string(f, "level", s->level ? s->level : "-", 0);
		json_bool(f, "valid", s->valid);
		json_string(f, "error", s->error, 0);
		fputc('}', f);
	}
	fputs("]}\n", f);
}
