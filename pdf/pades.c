/*
 * pades.c — PAdES baseline signatures (B-B, B-T, B-LT, B-LTA) on a PDF
 * held in memory: appended as incremental updates, or filled into the slot
 * a new file's writer left for it (pades.h).
 * Runs in the gateway (its signer asks the keys process to sign digests)
 * and in the `tayori pdf sign` CLI.  The private key is never needed here:
 * the CMS is assembled around a digest-signing callback.
 *
 * Standards: ETSI EN 319 142-1 (PAdES baseline), ETSI EN 319 122-1
 * (CAdES signed attributes), RFC 5652 (CMS SignedData, DER SET OF order of
 * signed attributes), RFC 5035 (ESS signing-certificate-v2), RFC 3161
 * (id-aa-signatureTimeStampToken, document time stamps), ISO 32000-1
 * §7.5.6 (incremental updates), §7.5.8 (cross-reference streams), §12.7
 * (AcroForm), §12.8 (signature dictionaries, /ByteRange); ISO 32000-2
 * §12.8.4.3 (DSS) and §12.8.5 (DocTimeStamp).
 *
 * The input is read with qpdf's C API (catalog, page 1, /AcroForm, trailer)
 * and the update is written by hand: qpdf_oh_unparse() gives the existing
 * values verbatim, so changed objects keep every key they had.
 */
#include "pdf/pades.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <qpdf/qpdf-c.h>

#include "lib/buf.h"
#include "lib/crypt.h"
#include "pdf/pdf_syntax.h"
#include "pdf/tsa.h"

#define PDF_MAX_DEPTH 64
/* Hex digits reserved for the ByteRange numbers (four 10-digit numbers). */
#define BR_WIDTH 48

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

int pades_level_parse(const char *s, enum pades_level *out)
{
	static const char *const names[] = { "B-B", "B-T", "B-LT", "B-LTA" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum pades_level)i;
			return 0;
		}
	return -1;
}

const char *pades_level_name(enum pades_level l)
{
	switch (l) {
	case PADES_B_B: return "B-B";
	case PADES_B_T: return "B-T";
	case PADES_B_LT: return "B-LT";
	case PADES_B_LTA: return "B-LTA";
	}
	return "?";
}

/* ------------------------------------------------------------------ CMS */

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

static int cms_sign_impl(const uint8_t content_digest[32], const struct signer *s,
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

/* The service is not refused for its TSA's answer: it may retry later. */
static void tsa_fail_kind(const struct pades_options *o, struct error *e)
{
	if (o->tsa_refusal_temporary)
		e->temporary = 1;
}

int pades_cms_sign(const uint8_t content_digest[32], const struct signer *s,
    const char *tsa_url, uint8_t **der, size_t *derlen, struct error *e)
{
	return cms_sign_impl(content_digest, s, tsa_url, NULL, der, derlen, e);
}

/* ------------------------------------------------------ output helpers */

struct out {
	struct buf b;
	int oom;
};

static void o_put(struct out *o, const void *p, size_t n)
{
	if (buf_append(&o->b, p, n) < 0)
		o->oom = 1;
}

static void o_str(struct out *o, const char *s)
{
	o_put(o, s, strlen(s));
}

static void o_printf(struct out *o, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void o_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(&o->b, fmt, ap) < 0)
		o->oom = 1;
	va_end(ap);
}

/* A PDF name from qpdf's decoded form ("/Type"). */
static void o_name(struct out *o, const char *name)
{
	if (pdf_put_name(&o->b, name) < 0)
		o->oom = 1;
}

/* A PDF text string: literal when printable ASCII, else UTF-16BE hex. */
static void o_text(struct out *o, const char *utf8)
{
	const unsigned char *p = (const unsigned char *)utf8;
	int ascii = 1;
	for (const unsigned char *q = p; *q; q++)
		if (*q < 0x20 || *q > 0x7e)
			ascii = 0;
	if (ascii) {
		o_put(o, "(", 1);
		for (; *p; p++) {
			if (*p == '(' || *p == ')' || *p == '\\')
				o_put(o, "\\", 1);
			o_put(o, p, 1);
		}
		o_put(o, ")", 1);
		return;
	}
	o_str(o, "<FEFF");
	while (*p) {
		uint32_t cp;
		int n;
		if (*p < 0x80) { cp = *p; n = 1; }
		else if ((*p & 0xe0) == 0xc0) { cp = *p & 0x1f; n = 2; }
		else if ((*p & 0xf0) == 0xe0) { cp = *p & 0x0f; n = 3; }
		else if ((*p & 0xf8) == 0xf0) { cp = *p & 0x07; n = 4; }
		else { cp = 0xfffd; n = 1; }
		for (int i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80) { cp = 0xfffd; n = i; break; }
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		p += n;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			cp = 0xfffd;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			o_printf(o, "%04X%04X", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		} else {
			o_printf(o, "%04X", cp);
		}
	}
	o_put(o, ">", 1);
}

/* ------------------------------------------------------- reading a PDF */

struct pdfdoc {
	qpdf_data q;
	long long size;       /* trailer /Size */
	long long startxref;  /* offset of the last cross-reference section */
	int xref_stream;      /* that section is a cross-reference stream */
	int root_id, root_gen;
	char *info;           /* unparsed trailer /Info, or NULL */
	char *id;             /* unparsed trailer /ID, or NULL */
	int damaged;          /* qpdf warned (repaired something) */
};

static void doc_close(struct pdfdoc *d)
{
	if (d->q != NULL)
		qpdf_cleanup(&d->q);
	free(d->info);
	free(d->id);
	memset(d, 0, sizeof(*d));
}

static int qerr(struct pdfdoc *d, struct error *e, const char *what)
{
	if (qpdf_has_error(d->q)) {
		qpdf_error qe = qpdf_get_error(d->q);
		return err_set(e, "%s: %s", what, qpdf_get_error_full_text(d->q, qe));
	}
	return err_set(e, "%s", what);
}

/* Offset named by the last "startxref" and the kind of section there. */
static int find_startxref(const uint8_t *pdf, size_t len, long long *off, int *is_stream)
{
	size_t from = len > 2048 ? len - 2048 : 0, at = SIZE_MAX;
	const char kw[] = "startxref";
	long long v = 0;
	size_t i;
	for (i = from; i + sizeof(kw) - 1 <= len; i++)
		if (memcmp(pdf + i, kw, sizeof(kw) - 1) == 0)
			at = i;
	if (at == SIZE_MAX)
		return -1;
	i = at + sizeof(kw) - 1;
	while (i < len && isspace(pdf[i]))
		i++;
	if (i >= len || !isdigit(pdf[i]))
		return -1;
	for (; i < len && isdigit(pdf[i]); i++) {
		v = v * 10 + (pdf[i] - '0');
		if (v > (long long)len)
			return -1;
	}
	if (v >= (long long)len)
		return -1;
	*off = v;
	i = (size_t)v;
	while (i < len && isspace(pdf[i]))
		i++;
	if (len - i >= 4 && memcmp(pdf + i, "xref", 4) == 0)
		*is_stream = 0;
	else if (i < len && isdigit(pdf[i]))
		*is_stream = 1;
	else
		return -1;
	return 0;
}

/* The highest object number defined at the top level of the file. */
static long long max_object_number(const uint8_t *pdf, size_t len)
{
	long long best = 0;
	for (const uint8_t *p = pdf; (p = memmem(p, len - (size_t)(p - pdf), " obj", 4)) != NULL; p += 4) {
		/* walk back over "N G": digits, space, digits */
		const uint8_t *q = p;
		long long num = 0, mul = 1;
		while (q > pdf && isdigit(q[-1]))
			q--;
		if (q == p || q == pdf || q[-1] != ' ')
			continue;
		q--;
		while (q > pdf && isdigit(q[-1]) && mul < 100000000) {
			q--;
			num += (*q - '0') * mul;
			mul *= 10;
		}
		if (mul > 1 && (q == pdf || isspace(q[-1])) && num > best && num < 8388607)
			best = num;
	}
	return best;
}

static int doc_open(struct pdfdoc *d, const uint8_t *pdf, size_t len, struct error *e)
{
	qpdf_oh trailer, root, v;
	const size_t head = len < 1024 ? len : 1024;

	memset(d, 0, sizeof(*d));
	if (len < 16 || memmem(pdf, head, "%PDF-", 5) == NULL)
		return err_set(e, "not a PDF file");
	d->q = qpdf_init();
	qpdf_silence_errors(d->q);
	qpdf_set_suppress_warnings(d->q, QPDF_TRUE);
	if (qpdf_read_memory(d->q, "input.pdf", (const char *)pdf, (unsigned long long)len,
	    NULL) & QPDF_ERRORS) {
		if (qpdf_has_error(d->q) &&
		    qpdf_get_error_code(d->q, qpdf_get_error(d->q)) == qpdf_e_password)
			return err_set(e, "the PDF is encrypted");
		return qerr(d, e, "not a readable PDF");
	}
	if (qpdf_is_encrypted(d->q))
		return err_set(e, "the PDF is encrypted");
	trailer = qpdf_get_trailer(d->q);
	root = qpdf_get_root(d->q);
	if (qpdf_has_error(d->q) || !qpdf_oh_is_dictionary(d->q, root) ||
	    !qpdf_oh_is_indirect(d->q, root))
		return qerr(d, e, "the PDF has no catalog");
	d->root_id = qpdf_oh_get_object_id(d->q, root);
	d->root_gen = qpdf_oh_get_generation(d->q, root);
	v = qpdf_oh_get_key(d->q, trailer, "/Size");
	if (qpdf_oh_is_integer(d->q, v))
		d->size = qpdf_oh_get_int_value(d->q, v);
	if (d->size < 1 || d->size > 8388607) {
		/* qpdf keeps a repaired trailer without /Size as it is; the next
		 * free number is then one past the highest "N G obj". */
		d->size = max_object_number(pdf, len) + 1;
		d->damaged = 1;
	}
	if (qpdf_oh_has_key(d->q, trailer, "/Info")) {
		v = qpdf_oh_get_key(d->q, trailer, "/Info");
		if (qpdf_oh_is_indirect(d->q, v))
			d->info = xstrdup(qpdf_oh_unparse(d->q, v));
	}
	if (qpdf_oh_has_key(d->q, trailer, "/ID")) {
		v = qpdf_oh_get_key(d->q, trailer, "/ID");
		if (qpdf_oh_is_array(d->q, v) && qpdf_oh_get_array_n_items(d->q, v) == 2)
			d->id = xstrdup(qpdf_oh_unparse(d->q, v));
	}
	if (find_startxref(pdf, len, &d->startxref, &d->xref_stream) < 0)
		d->damaged = 1;
	if (qpdf_has_error(d->q))
		return qerr(d, e, "damaged PDF");
	if (qpdf_more_warnings(d->q))
		d->damaged = 1;
	return 0;
}

/* Write the entries of dict, except the keys listed in skip (NULL-ended). */
static void o_dict_entries(struct out *o, qpdf_data q, qpdf_oh dict, const char *const *skip)
{
	size_t n;
	char **keys = pdf_dict_keys(q, dict, &n);
	for (size_t i = 0; i < n; i++) {
		int skipped = 0;
		qpdf_oh v;
		for (const char *const *s = skip; s && *s; s++)
			if (strcmp(keys[i], *s) == 0)
				skipped = 1;
		if (skipped)
			continue;
		v = qpdf_oh_get_key(q, dict, keys[i]);
		if (qpdf_oh_is_null(q, v))
			continue;
		o_put(o, " ", 1);
		o_name(o, keys[i]);
		o_put(o, " ", 1);
		o_str(o, qpdf_oh_unparse(q, v));
		qpdf_oh_release(q, v);
	}
	pdf_keys_free(keys, n);
}

/* The items of an array, each followed by a space. */
static void o_array_items(struct out *o, qpdf_data q, qpdf_oh arr)
{
	int n = qpdf_oh_get_array_n_items(q, arr);
	for (int i = 0; i < n; i++) {
		qpdf_oh v = qpdf_oh_get_array_item(q, arr, i);
		o_str(o, qpdf_oh_unparse(q, v));
		o_put(o, " ", 1);
		qpdf_oh_release(q, v);
	}
}

/* ------------------------------------------------ incremental writer */

struct xent {
	int id, gen;
	size_t off;
};

struct incr {
	struct out *o;
	struct pdfdoc *d;
	struct xent *ents;
	size_t n, cap;
	int next_id;
};

static void incr_init(struct incr *w, struct out *o, struct pdfdoc *d,
    const uint8_t *pdf, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->d = d;
	w->next_id = (int)d->size;
	o_put(o, pdf, len);
	/* The update starts on a fresh line even if %%EOF had no newline. */
	if (len > 0 && pdf[len - 1] != '\n' && pdf[len - 1] != '\r')
		o_put(o, "\n", 1);
}

static int incr_new_id(struct incr *w)
{
	return w->next_id++;
}

static void obj_begin(struct incr *w, int id, int gen)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->ents = xrealloc(w->ents, w->cap * sizeof(*w->ents));
	}
	w->ents[w->n].id = id;
	w->ents[w->n].gen = gen;
	w->ents[w->n].off = w->o->b.len;
	w->n++;
	o_printf(w->o, "%d %d obj\n", id, gen);
}

static void obj_end(struct incr *w)
{
	o_str(w->o, "\nendobj\n");
}

/* A stream object holding data as is (DSS certificates, CRLs, OCSPs). */
static int incr_stream(struct incr *w, const uint8_t *data, size_t len)
{
	int id = incr_new_id(w);
	obj_begin(w, id, 0);
	o_printf(w->o, "<< /Length %zu >>\nstream\n", len);
	o_put(w->o, data, len);
	o_str(w->o, "\nendstream");
	obj_end(w);
	return id;
}

static int xent_cmp(const void *a, const void *b)
{
	const struct xent *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

static void o_trailer_keys(struct incr *w, int size)
{
	struct pdfdoc *d = w->d;
	o_printf(w->o, " /Size %d /Root %d %d R", size, d->root_id, d->root_gen);
	if (d->info != NULL)
		o_printf(w->o, " /Info %s", d->info);
	if (d->id != NULL)
		o_printf(w->o, " /ID %s", d->id);
	o_printf(w->o, " /Prev %lld", d->startxref);
}

/*
 * Finish the update: a cross-reference section of the same kind as the
 * input's last one (a classic table after a table, a stream after a
 * stream, as ISO 32000-1 §7.5.8.4 expects of updates), the trailer and
 * %%EOF.
 */
static void incr_finish(struct incr *w)
{
	struct out *o = w->o;
	size_t xref_off;
	int size;
	size_t i, j;

	if (w->d->xref_stream) {
		int xid = incr_new_id(w);
		obj_begin(w, xid, 0);
		xref_off = w->ents[w->n - 1].off;
		qsort(w->ents, w->n, sizeof(*w->ents), xent_cmp);
		size = w->next_id > (int)w->d->size ? w->next_id : (int)w->d->size;
		o_str(o, "<< /Type /XRef /W [1 4 2] /Index [");
		for (i = 0; i < w->n; i = j) {
			for (j = i + 1; j < w->n && w->ents[j].id == w->ents[j - 1].id + 1; j++)
				;
			o_printf(o, "%d %zu ", w->ents[i].id, j - i);
		}
		o_printf(o, "] /Length %zu", w->n * 7);
		o_trailer_keys(w, size);
		o_str(o, " >>\nstream\n");
		for (i = 0; i < w->n; i++) {
			uint8_t row[7];
			size_t off = w->ents[i].off;
			row[0] = 1;
			row[1] = (uint8_t)(off >> 24);
			row[2] = (uint8_t)(off >> 16);
			row[3] = (uint8_t)(off >> 8);
			row[4] = (uint8_t)off;
			row[5] = (uint8_t)(w->ents[i].gen >> 8);
			row[6] = (uint8_t)w->ents[i].gen;
			o_put(o, row, sizeof(row));
		}
		o_str(o, "\nendstream");
		obj_end(w);
	} else {
		qsort(w->ents, w->n, sizeof(*w->ents), xent_cmp);
		size = w->next_id > (int)w->d->size ? w->next_id : (int)w->d->size;
		xref_off = o->b.len;
		o_str(o, "xref\n");
		for (i = 0; i < w->n; i = j) {
			for (j = i + 1; j < w->n && w->ents[j].id == w->ents[j - 1].id + 1; j++)
				;
			o_printf(o, "%d %zu\n", w->ents[i].id, j - i);
			for (size_t k = i; k < j; k++)
				o_printf(o, "%010zu %05d n\r\n", w->ents[k].off, w->ents[k].gen);
		}
		o_str(o, "trailer\n<<");
		o_trailer_keys(w, size);
		o_str(o, " >>\n");
	}
	o_printf(o, "startxref\n%zu\n%%%%EOF\n", xref_off);
	free(w->ents);
	w->ents = NULL;
}

/* ---------------------------------------------- the signature field */

/* The first leaf of the page tree (page 1), walking /Kids. */
static qpdf_oh first_page(qpdf_data q, struct error *e)
{
	qpdf_oh node = qpdf_oh_get_key(q, qpdf_get_root(q), "/Pages");
	for (int depth = 0; depth < PDF_MAX_DEPTH; depth++) {
		qpdf_oh kids;
		if (!qpdf_oh_is_dictionary(q, node))
			break;
		if (qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, node, "/Type"), "/Page") ||
		    !qpdf_oh_has_key(q, node, "/Kids"))
			return qpdf_oh_is_indirect(q, node) ? node : 0;
		kids = qpdf_oh_get_key(q, node, "/Kids");
		if (!qpdf_oh_is_array(q, kids) || qpdf_oh_get_array_n_items(q, kids) < 1)
			break;
		node = qpdf_oh_get_array_item(q, kids, 0);
	}
	err_set(e, "the PDF has no pages");
	return 0;
}

/* Does any top-level field already use this /T? */
static int field_name_used(qpdf_data q, qpdf_oh fields, const char *name)
{
	int n = fields != 0 && qpdf_oh_is_array(q, fields) ? qpdf_oh_get_array_n_items(q, fields) : 0;
	for (int i = 0; i < n; i++) {
		qpdf_oh f = qpdf_oh_get_array_item(q, fields, i);
		qpdf_oh t = qpdf_oh_get_key_if_dict(q, f, "/T");
		if (qpdf_oh_is_string(q, t) && strcmp(qpdf_oh_get_utf8_value(q, t), name) == 0)
			return 1;
	}
	return 0;
}

struct sigfield {
	int doc_timestamp;     /* 1: /DocTimeStamp (RFC 3161), 0: CAdES signature */
	size_t reserve;        /* bytes of signature room in /Contents */
	int64_t mtime;
	const struct pades_options *o;
	/* results: offsets in the output */
	size_t contents_at;    /* the '<' of /Contents */
	size_t contents_end;   /* just after its '>' */
	size_t br_at;          /* first byte inside the /ByteRange brackets */
};

/* The signature dictionary, with room for the ByteRange and the value
 * (their offsets go to f), and its field merged with an invisible widget
 * on the page page_id. */
static void sig_objects(struct incr *w, struct sigfield *f, const char *fname,
    int sig_id, int wid_id, int page_id, int page_gen)
{
	struct out *o = w->o;
	char mdate[32];
	struct tm tm;
	time_t tt;

	obj_begin(w, sig_id, 0);
	if (f->doc_timestamp) {
		o_str(o, "<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161");
	} else {
		tt = (time_t)f->mtime;
		gmtime_r(&tt, &tm);
		strftime(mdate, sizeof(mdate), "D:%Y%m%d%H%M%SZ", &tm);
		o_printf(o, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M (%s)",
		    mdate);
		if (f->o->name) { o_str(o, " /Name "); o_text(o, f->o->name); }
		if (f->o->reason) { o_str(o, " /Reason "); o_text(o, f->o->reason); }
		if (f->o->location) { o_str(o, " /Location "); o_text(o, f->o->location); }
		if (f->o->contact_info) { o_str(o, " /ContactInfo "); o_text(o, f->o->contact_info); }
	}
	o_str(o, "\n/ByteRange [");
	f->br_at = o->b.len;
	for (int i = 0; i < BR_WIDTH; i++)
		o_put(o, " ", 1);
	o_str(o, "]\n/Contents ");
	f->contents_at = o->b.len;
	o_put(o, "<", 1);
	{
		static const char zeros[256] = { [0 ... 255] = '0' };
		for (size_t left = f->reserve * 2; left > 0 && !o->oom;) {
			size_t n = left < sizeof(zeros) ? left : sizeof(zeros);
			o_put(o, zeros, n);
			left -= n;
		}
	}
	o_put(o, ">", 1);
	f->contents_end = o->b.len;
	o_str(o, " >>");
	obj_end(w);

	obj_begin(w, wid_id, 0);
	o_str(o, "<< /Type /Annot /Subtype /Widget /FT /Sig /T ");
	o_text(o, fname);
	o_printf(o, " /V %d 0 R /F 132 /Rect [0 0 0 0] /P %d %d R >>", sig_id, page_id, page_gen);
	obj_end(w);
}

static int add_sig_field(struct pdfdoc *d, const uint8_t *pdf, size_t len,
    struct sigfield *f, struct out *o, struct error *e)
{
	qpdf_data q = d->q;
	qpdf_oh root = qpdf_get_root(q), page, acro = 0, fields = 0, annots = 0;
	struct incr w;
	int sig_id, wid_id, page_id, page_gen;
	char fname[128];

	page = first_page(q, e);
	if (page == 0)
		return -1;
	page_id = qpdf_oh_get_object_id(q, page);
	page_gen = qpdf_oh_get_generation(q, page);
	if (qpdf_oh_has_key(q, root, "/AcroForm")) {
		acro = qpdf_oh_get_key(q, root, "/AcroForm");
		if (!qpdf_oh_is_dictionary(q, acro))
			acro = 0;
	}
	if (acro != 0 && qpdf_oh_has_key(q, acro, "/Fields"))
		fields = qpdf_oh_get_key(q, acro, "/Fields");
	if (fields != 0 && !qpdf_oh_is_array(q, fields))
		fields = 0;

	if (f->o->field_name != NULL && !f->doc_timestamp) {
		if (field_name_used(q, fields, f->o->field_name))
			return err_set(e, "a field named \"%s\" already exists", f->o->field_name);
		str_copy(fname, f->o->field_name, sizeof(fname));
	} else {
		for (int i = 1; i < 10000; i++) {
			str_fmt(fname, sizeof(fname), "%s%d", f->doc_timestamp ? "DocTimeStamp" : "Signature", i);
			if (!field_name_used(q, fields, fname))
				break;
		}
	}

	incr_init(&w, o, d, pdf, len);
	sig_id = incr_new_id(&w);
	wid_id = incr_new_id(&w);

	sig_objects(&w, f, fname, sig_id, wid_id, page_id, page_gen);

	/* Page 1 lists the widget in /Annots (a new revision of the array
	 * when it is indirect, else of the page). */
	if (qpdf_oh_has_key(q, page, "/Annots"))
		annots = qpdf_oh_get_key(q, page, "/Annots");
	if (annots != 0 && qpdf_oh_is_array(q, annots) && qpdf_oh_is_indirect(q, annots)) {
		obj_begin(&w, qpdf_oh_get_object_id(q, annots), qpdf_oh_get_generation(q, annots));
		o_str(o, "[ ");
		o_array_items(o, q, annots);
		o_printf(o, "%d 0 R ]", wid_id);
		obj_end(&w);
	} else {
		static const char *const skip[] = { "/Annots", NULL };
		obj_begin(&w, page_id, page_gen);
		o_str(o, "<<");
		o_dict_entries(o, q, page, skip);
		o_str(o, " /Annots [ ");
		if (annots != 0 && qpdf_oh_is_array(q, annots))
			o_array_items(o, q, annots);
		o_printf(o, "%d 0 R ] >>", wid_id);
		obj_end(&w);
	}

	/* /AcroForm gets the field and /SigFlags 3 (SignaturesExist |
	 * AppendOnly): a new revision of the AcroForm object when it is
	 * indirect, else of the catalog. */
	{
		static const char *const skip[] = { "/Fields", "/SigFlags", NULL };
		static const char *const skip_root[] = { "/AcroForm", NULL };
		int acro_indirect = acro != 0 && qpdf_oh_is_indirect(q, acro);
		if (acro_indirect) {
			obj_begin(&w, qpdf_oh_get_object_id(q, acro), qpdf_oh_get_generation(q, acro));
		} else {
			obj_begin(&w, d->root_id, d->root_gen);
			o_str(o, "<<");
			o_dict_entries(o, q, root, skip_root);
			o_str(o, " /AcroForm");
		}
		o_str(o, " <<");
		if (acro != 0)
			o_dict_entries(o, q, acro, skip);
		o_str(o, " /Fields [ ");
		if (fields != 0)
			o_array_items(o, q, fields);
		o_printf(o, "%d 0 R ] /SigFlags 3 >>", wid_id);
		if (!acro_indirect)
			o_str(o, " >>");
		obj_end(&w);
	}
	if (qpdf_has_error(q)) {
		free(w.ents);
		return qerr(d, e, "cannot read the PDF objects");
	}
	incr_finish(&w);
	if (o->oom)
		return err_set(e, "the signed PDF would be too large");
	return 0;
}

/* Fill /ByteRange and hash what it covers. */
static void fill_byte_range(struct out *o, const struct sigfield *f, uint8_t md[32])
{
	char tmp[BR_WIDTH + 1];
	size_t total = o->b.len;
	int n = snprintf(tmp, sizeof(tmp), "0 %zu %zu %zu", f->contents_at, f->contents_end,
	    total - f->contents_end);
	memset(o->b.data + f->br_at, ' ', BR_WIDTH);
	memcpy(o->b.data + f->br_at, tmp, (size_t)n);
	{
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		EVP_DigestInit_ex(mc, EVP_sha256(), NULL);
		EVP_DigestUpdate(mc, o->b.data, f->contents_at);
		EVP_DigestUpdate(mc, o->b.data + f->contents_end, total - f->contents_end);
		EVP_DigestFinal_ex(mc, md, NULL);
		EVP_MD_CTX_free(mc);
	}
}

static void fill_contents(struct out *o, const struct sigfield *f, const uint8_t *der, size_t len)
{
	static const char hx[] = "0123456789ABCDEF";
	uint8_t *p = o->b.data + f->contents_at + 1;
	for (size_t i = 0; i < len; i++) {
		p[2 * i] = (uint8_t)hx[der[i] >> 4];
		p[2 * i + 1] = (uint8_t)hx[der[i] & 15];
	}
}

/* ------------------------------------------------------------- B-LT */

/* Decode 2n hex digits that are not NUL-terminated (inside the file). */
static int hex_decode_span(const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		int c = in[i], v;
		if (c >= '0' && c <= '9') v = c - '0';
		else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
		else return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

/* Certificates in a DER CMS (the signature or a time-stamp token). */
static void cms_collect_certs(const uint8_t *der, size_t len, STACK_OF(X509) *all,
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

/* Append a /DSS (and the ESIC extension) in an incremental update. */
static int add_dss(const uint8_t *pdf, size_t len, STACK_OF(X509) *certs,
    const struct pades_blobs *crls, const struct pades_blobs *ocsps,
    const uint8_t vri_key[20], struct out *o, struct error *e)
{
	struct pdfdoc d;
	struct incr w;
	qpdf_oh root, old = 0;
	int *cid = NULL, *crlid = NULL, *ocspid = NULL, dss_id, rc = -1;
	int ncerts = sk_X509_num(certs);
	static const char *const lists[3] = { "/Certs", "/CRLs", "/OCSPs" };

	if (doc_open(&d, pdf, len, e) < 0)
		goto out;
	root = qpdf_get_root(d.q);
	if (qpdf_oh_has_key(d.q, root, "/DSS")) {
		old = qpdf_oh_get_key(d.q, root, "/DSS");
		if (!qpdf_oh_is_dictionary(d.q, old))
			old = 0;
	}
	incr_init(&w, o, &d, pdf, len);
	cid = xcalloc((size_t)ncerts + 1, sizeof(int));
	crlid = xcalloc(crls->n + 1, sizeof(int));
	ocspid = xcalloc(ocsps->n + 1, sizeof(int));
	for (int i = 0; i < ncerts; i++) {
		uint8_t *der = NULL;
		int l = i2d_X509(sk_X509_value(certs, i), &der);
		if (l <= 0) {
			free(w.ents);
			crypt_ossl_error(e, 1, "cannot encode a certificate");
			goto out;
		}
		cid[i] = incr_stream(&w, der, (size_t)l);
		OPENSSL_free(der);
	}
	for (size_t i = 0; i < crls->n; i++)
		crlid[i] = incr_stream(&w, crls->v[i].data, crls->v[i].len);
	for (size_t i = 0; i < ocsps->n; i++)
		ocspid[i] = incr_stream(&w, ocsps->v[i].data, ocsps->v[i].len);

	dss_id = incr_new_id(&w);
	obj_begin(&w, dss_id, 0);
	o_str(o, "<< /Type /DSS");
	for (int k = 0; k < 3; k++) {
		int *ids = k == 0 ? cid : k == 1 ? crlid : ocspid;
		size_t n = k == 0 ? (size_t)ncerts : k == 1 ? crls->n : ocsps->n;
		qpdf_oh prev = old ? qpdf_oh_get_key(d.q, old, lists[k]) : 0;
		int has_prev = prev != 0 && qpdf_oh_is_array(d.q, prev);
		if (n == 0 && !has_prev)
			continue;
		o_printf(o, " %s [ ", lists[k]);
		if (has_prev)
			o_array_items(o, d.q, prev);
		for (size_t i = 0; i < n; i++)
			o_printf(o, "%d 0 R ", ids[i]);
		o_str(o, "]");
	}
	/* VRI: the validation data of this signature, keyed by the upper-case
	 * hex SHA-1 of its /Contents (ETSI EN 319 142-1 §5.4.2.2). */
	o_str(o, " /VRI <<");
	if (old != 0 && qpdf_oh_has_key(d.q, old, "/VRI")) {
		qpdf_oh vri = qpdf_oh_get_key(d.q, old, "/VRI");
		if (qpdf_oh_is_dictionary(d.q, vri))
			o_dict_entries(o, d.q, vri, NULL);
	}
	{
		char hex[41];
		hex_encode(vri_key, 20, hex);
		for (int i = 0; i < 40; i++)
			hex[i] = (char)toupper((unsigned char)hex[i]);
		o_printf(o, " /%s << /Type /VRI", hex);
		if (ncerts > 0) {
			o_str(o, " /Cert [ ");
			for (int i = 0; i < ncerts; i++)
				o_printf(o, "%d 0 R ", cid[i]);
			o_str(o, "]");
		}
		if (crls->n > 0) {
			o_str(o, " /CRL [ ");
			for (size_t i = 0; i < crls->n; i++)
				o_printf(o, "%d 0 R ", crlid[i]);
			o_str(o, "]");
		}
		if (ocsps->n > 0) {
			o_str(o, " /OCSP [ ");
			for (size_t i = 0; i < ocsps->n; i++)
				o_printf(o, "%d 0 R ", ocspid[i]);
			o_str(o, "]");
		}
		o_str(o, " >> >> >>");
	}
	obj_end(&w);

	/* The catalog points at the new DSS and declares the ETSI extension
	 * (ESIC level 5) that defines DSS for PDF 1.7 readers. */
	{
		static const char *const skip[] = { "/DSS", "/Extensions", NULL };
		static const char *const skip_ext[] = { "/ESIC", NULL };
		qpdf_oh ext = qpdf_oh_has_key(d.q, root, "/Extensions") ?
		    qpdf_oh_get_key(d.q, root, "/Extensions") : 0;
		obj_begin(&w, d.root_id, d.root_gen);
		o_str(o, "<<");
		o_dict_entries(o, d.q, root, skip);
		o_printf(o, " /DSS %d 0 R /Extensions <<", dss_id);
		if (ext != 0 && qpdf_oh_is_dictionary(d.q, ext))
			o_dict_entries(o, d.q, ext, skip_ext);
		o_str(o, " /ESIC << /BaseVersion /1.7 /ExtensionLevel 5 >> >> >>");
		obj_end(&w);
	}
	if (qpdf_has_error(d.q)) {
		free(w.ents);
		qerr(&d, e, "cannot read the PDF objects");
		goto out;
	}
	incr_finish(&w);
	if (o->oom) {
		err_set(e, "the signed PDF would be too large");
		goto out;
	}
	rc = 0;
out:
	free(cid);
	free(crlid);
	free(ocspid);
	doc_close(&d);
	return rc;
}

/* Gather certificates and revocation data for the signature in sigder. */
static int build_ltv(const uint8_t *pdf, size_t len, const struct signer *s,
    const uint8_t *contents, size_t contents_len, const uint8_t *sigder, size_t siglen,
    const struct pades_options *o, struct out *out, struct error *e)
{
	STACK_OF(X509) *all = sk_X509_new_null();
	struct pades_blobs crls = { NULL, 0 }, ocsps = { NULL, 0 }, tokens = { NULL, 0 };
	uint8_t vri[20];
	int rc = -1;

	X509_up_ref(s->cert);
	sk_X509_push(all, s->cert);
	cms_collect_certs(sigder, siglen, all, &tokens);
	for (size_t i = 0; i < tokens.n; i++)
		cms_collect_certs(tokens.v[i].data, tokens.v[i].len, all, NULL);
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
	rc = add_dss(pdf, len, all, &crls, &ocsps, vri, out, e);
out:
	sk_X509_pop_free(all, X509_free);
	pades_blobs_free(&crls);
	pades_blobs_free(&ocsps);
	pades_blobs_free(&tokens);
	return rc;
}

/* ------------------------------------------------------ the signatures */

/* Room for the CMS: certificates, attributes and signature, plus a time
 * stamp token (with its TSA's chain) when one is added. */
static size_t estimate_reserve(const struct signer *s, int with_tst)
{
	size_t n = 2048 + SIGNER_SIG_MAX;
	n += (size_t)i2d_X509(s->cert, NULL);
	for (int i = 0; s->chain != NULL && i < sk_X509_num(s->chain); i++)
		n += (size_t)i2d_X509(sk_X509_value(s->chain, i), NULL);
	if (with_tst)
		n += 12288;
	return (n + 1023) & ~(size_t)1023;
}

/* Has qpdf found signature fields in this document already? */
static int has_signatures(struct pdfdoc *d)
{
	qpdf_data q = d->q;
	qpdf_oh acro = qpdf_oh_get_key_if_dict(q, qpdf_get_root(q), "/AcroForm");
	qpdf_oh fields = qpdf_oh_get_key_if_dict(q, acro, "/Fields");
	int n = qpdf_oh_is_array(q, fields) ? qpdf_oh_get_array_n_items(q, fields) : 0;
	for (int i = 0; i < n; i++) {
		qpdf_oh fl = qpdf_oh_get_array_item(q, fields, i);
		if (qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key_if_dict(q, fl, "/FT"), "/Sig"))
			return 1;
	}
	return 0;
}

/* A full rewrite by qpdf, for unsigned inputs that needed repair. */
static int qpdf_rewrite(struct pdfdoc *d, uint8_t **out, size_t *outlen, struct error *e)
{
	const unsigned char *p;
	/* QPDFWriter fills in /Size only when the trailer has the key. */
	qpdf_oh_replace_key(d->q, qpdf_get_trailer(d->q), "/Size", qpdf_oh_new_integer(d->q, 1));
	if (qpdf_init_write_memory(d->q) & QPDF_ERRORS)
		return qerr(d, e, "cannot rewrite the damaged PDF");
	/* Plain objects only, so that the highest number is visible even if
	 * the repaired trailer lacks /Size. */
	qpdf_set_object_stream_mode(d->q, qpdf_o_disable);
	/* Streams are copied as stored: qpdf's writer would otherwise decode
	 * and re-compress some of them whole, with no cap (a bomb's way in). */
	qpdf_set_decode_level(d->q, qpdf_dl_none);
	qpdf_set_compress_streams(d->q, QPDF_FALSE);
	if (qpdf_write(d->q) & QPDF_ERRORS)
		return qerr(d, e, "cannot rewrite the damaged PDF");
	*outlen = qpdf_get_buffer_length(d->q);
	p = qpdf_get_buffer(d->q);
	*out = xmalloc(*outlen);
	memcpy(*out, p, *outlen);
	return 0;
}

/*
 * One signature (CAdES or document time stamp) appended to pdf.  On
 * success out holds the new file and, for a CAdES signature, *cms the DER
 * embedded (OPENSSL_malloc'd).
 */
static int sign_once(const uint8_t *pdf, size_t len, const struct signer *s,
    const struct pades_options *o, int doc_ts, int64_t mtime,
    struct out *out, uint8_t **cms, size_t *cmslen, size_t contents[2], struct error *e)
{
	struct pdfdoc d;
	struct sigfield f;
	uint8_t md[32], *der = NULL, *fixed = NULL;
	size_t derlen = 0, fixedlen = 0;
	int rc = -1, attempt;
	const char *tsa = (doc_ts || o->level >= PADES_B_T) ? o->tsa_url : NULL;

	if (cms != NULL)
		*cms = NULL;
	if (doc_open(&d, pdf, len, e) < 0)
		goto out;
	if (d.damaged) {
		if (has_signatures(&d)) {
			err_set(e, "the signed PDF is damaged; an update would break its signatures");
			goto out;
		}
		if (qpdf_rewrite(&d, &fixed, &fixedlen, e) < 0)
			goto out;
		doc_close(&d);
		pdf = fixed;
		len = fixedlen;
		if (doc_open(&d, pdf, len, e) < 0)
			goto out;
		if (d.damaged) {
			err_set(e, "the PDF is damaged beyond repair");
			goto out;
		}
	}
	memset(&f, 0, sizeof(f));
	f.doc_timestamp = doc_ts;
	f.o = o;
	f.mtime = mtime;
	f.reserve = doc_ts ? 16384 : estimate_reserve(s, tsa != NULL);
	for (attempt = 0; attempt < 2; attempt++) {
		buf_reset(&out->b);
		out->oom = 0;
		if (add_sig_field(&d, pdf, len, &f, out, e) < 0)
			goto out;
		fill_byte_range(out, &f, md);
		OPENSSL_free(der);
		der = NULL;
		if (doc_ts) {
			uint8_t *tok = NULL;
			if (tsa_timestamp(tsa, o->tsa_ca_file, md, &tok, &derlen, NULL, e) < 0) {
				tsa_fail_kind(o, e);
				goto out;
			}
			der = OPENSSL_malloc(derlen ? derlen : 1);
			memcpy(der, tok, derlen);
			free(tok);
		} else if (cms_sign_impl(md, s, tsa, o->tsa_ca_file, &der, &derlen, e) < 0) {
			tsa_fail_kind(o, e);
			goto out;
		}
		if (derlen <= f.reserve)
			break;
		/* Rare: the chain or the token was larger than estimated. */
		f.reserve = (derlen + 4096 + 1023) & ~(size_t)1023;
	}
	if (derlen > f.reserve) {
		err_tmp(e, "the signature does not fit the space reserved for it");
		goto out;
	}
	fill_contents(out, &f, der, derlen);
	contents[0] = f.contents_at;
	contents[1] = f.contents_end;
	if (cms != NULL) {
		*cms = der;
		*cmslen = derlen;
		der = NULL;
	}
	rc = 0;
out:
	OPENSSL_free(der);
	free(fixed);
	doc_close(&d);
	return rc;
}

/*
 * After the first signature (in a, its CMS in cms and the /Contents span in
 * cpos): the B-LT and B-LTA updates the level asks for.  a ends up holding
 * the final file.
 */
static int add_ltv_levels(struct out *a, const struct signer *s, const struct pades_options *o,
    int64_t mtime, const uint8_t *cms, size_t cmslen, size_t cpos[2], struct error *e)
{
	size_t cap = a->b.max;
	struct out b;
	int rc = -1;

	buf_init(&b.b, cap);
	b.oom = 0;
	if (o->level >= PADES_B_LT) {
		/* The VRI key hashes the whole /Contents string, padding included. */
		size_t clen = (cpos[1] - cpos[0] - 2) / 2;
		uint8_t *contents = xmalloc(clen);
		if (hex_decode_span(a->b.data + cpos[0] + 1, contents, clen) < 0) {
			free(contents);
			err_tmp(e, "internal error: bad /Contents hex");
			goto out;
		}
		rc = build_ltv(a->b.data, a->b.len, s, contents, clen, cms, cmslen, o, &b, e);
		free(contents);
		if (rc < 0)
			goto out;
		rc = -1;
		buf_free(&a->b);
		*a = b;
		buf_init(&b.b, cap);
	}
	if (o->level >= PADES_B_LTA) {
		if (sign_once(a->b.data, a->b.len, s, o, 1, mtime, &b, NULL, NULL, cpos, e) < 0)
			goto out;
		buf_free(&a->b);
		*a = b;
		buf_init(&b.b, cap);
	}
	rc = 0;
out:
	buf_free(&b.b);
	return rc;
}

int pades_sign(const uint8_t *pdf, size_t len, const struct signer *s,
    const struct pades_options *o, uint8_t **outp, size_t *outlen, struct error *e)
{
	struct out a;
	uint8_t *cms = NULL;
	size_t cmslen = 0, cpos[2];
	int64_t mtime = o->signing_time ? o->signing_time : now_utc();
	int rc = -1;

	*outp = NULL;
	buf_init(&a.b, len + ((size_t)64 << 20));
	a.oom = 0;
	if (o->level >= PADES_B_T && (o->tsa_url == NULL || *o->tsa_url == '\0')) {
		err_set(e, "level %s needs a TSA URL", pades_level_name(o->level));
		goto out;
	}
	if (sign_once(pdf, len, s, o, 0, mtime, &a, &cms, &cmslen, cpos, e) < 0)
		goto out;
	if (add_ltv_levels(&a, s, o, mtime, cms, cmslen, cpos, e) < 0)
		goto out;
	*outp = buf_steal(&a.b, outlen);
	rc = 0;
out:
	OPENSSL_free(cms);
	buf_free(&a.b);
	return rc;
}

/* ------------------------------------------- a slot in a new file */

int pades_slot_reserve(const struct signer *s, const struct pades_options *o, size_t *reserve,
    struct error *e)
{
	size_t n = estimate_reserve(s, 0);

	if (o->level >= PADES_B_T && o->tsa_url != NULL && *o->tsa_url != '\0') {
		/* A slot cannot grow once the file is written, and a TSA's
		 * token (its chain included) is its own size: ask for one
		 * over an imprint of nothing in particular and make room for
		 * it with a margin (serials and times vary a little). */
		uint8_t imprint[32], *tok = NULL;
		size_t toklen = 0;
		SHA256((const unsigned char *)"tayori: size of a time-stamp token", 34, imprint);
		if (tsa_timestamp(o->tsa_url, o->tsa_ca_file, imprint, &tok, &toklen, NULL, e) < 0) {
			tsa_fail_kind(o, e);
			return -1;
		}
		free(tok);
		n += toklen + 2048;
	}
	*reserve = (n + 1023) & ~(size_t)1023;
	return 0;
}

int pades_slot_write(struct buf *b, const struct pades_options *o, int64_t mtime,
    size_t reserve, int sig_id, int wid_id, int page_id, struct pades_slot *slot,
    size_t offsets[2])
{
	struct out out;
	struct incr w;
	struct sigfield f;
	const char *fname = o->field_name ? o->field_name : "Signature1";

	out.b = *b;
	out.oom = 0;
	memset(&w, 0, sizeof(w));
	w.o = &out;
	memset(&f, 0, sizeof(f));
	f.o = o;
	f.mtime = mtime;
	f.reserve = reserve;
	sig_objects(&w, &f, fname, sig_id, wid_id, page_id, 0);
	*b = out.b;
	if (out.oom || w.n != 2) {
		free(w.ents);
		return -1;
	}
	offsets[0] = w.ents[0].off;
	offsets[1] = w.ents[1].off;
	free(w.ents);
	slot->br_at = f.br_at;
	slot->contents_at = f.contents_at;
	slot->contents_end = f.contents_end;
	slot->reserve = reserve;
	return 0;
}

int pades_sign_slot(struct buf *pdf, const struct pades_slot *slot, const struct signer *s,
    const struct pades_options *o, int64_t mtime, struct error *e)
{
	struct out a;
	struct sigfield f;
	uint8_t md[32], *der = NULL;
	size_t derlen = 0, cpos[2];
	const char *tsa = o->level >= PADES_B_T ? o->tsa_url : NULL;
	int rc = -1;

	if (o->level >= PADES_B_T && (tsa == NULL || *tsa == '\0'))
		return err_set(e, "level %s needs a TSA URL", pades_level_name(o->level));
	if (slot->contents_end > pdf->len || slot->contents_at >= slot->contents_end ||
	    slot->br_at + BR_WIDTH > slot->contents_at ||
	    slot->contents_end - slot->contents_at != 2 * slot->reserve + 2)
		return err_tmp(e, "internal error: the signature slot does not fit the file");
	memset(&f, 0, sizeof(f));
	f.br_at = slot->br_at;
	f.contents_at = slot->contents_at;
	f.contents_end = slot->contents_end;
	a.b = *pdf;
	a.oom = 0;
	fill_byte_range(&a, &f, md);
	if (cms_sign_impl(md, s, tsa, o->tsa_ca_file, &der, &derlen, e) < 0) {
		tsa_fail_kind(o, e);
		goto out;
	}
	if (derlen > slot->reserve) {
		err_tmp(e, "the signature (%zu bytes) does not fit the %zu bytes reserved for it",
		    derlen, slot->reserve);
		goto out;
	}
	fill_contents(&a, &f, der, derlen);
	cpos[0] = f.contents_at;
	cpos[1] = f.contents_end;
	if (a.b.max < a.b.len + ((size_t)64 << 20))
		a.b.max = a.b.len + ((size_t)64 << 20);
	if (add_ltv_levels(&a, s, o, mtime, der, derlen, cpos, e) < 0)
		goto out;
	rc = 0;
out:
	*pdf = a.b;
	OPENSSL_free(der);
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
