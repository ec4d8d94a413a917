/*
 * pades.c — PAdES baseline signatures (B-B, B-T, B-LT, B-LTA) on a PDF
 * held in memory (pades.h): the signature revision appended as an
 * incremental update, or filled into the slot a new file's writer left for
 * it, then the B-LT and B-LTA updates the level asks for.
 * Runs in the gateway (its signer asks the keys process to sign digests)
 * and in the `tayori pdf sign` CLI.  The private key is never needed here:
 * the CMS is assembled around a digest-signing callback (pades_cms.c).
 *
 * The pieces: pades_doc.c reads the revision being signed and ends each
 * update (through pdf_writer.c), pades_field.c writes the signature field
 * and fills it in, pades_cms.c builds the CMS, pades_ltv.c the /DSS.
 * Standards: ETSI EN 319 142-1 (PAdES baseline), ISO 32000-1 §7.5.6
 * (incremental updates), §12.8 (signatures, /ByteRange); ISO 32000-2
 * §12.8.5 (DocTimeStamp); RFC 3161 (time stamps).
 */
#include "pdf/pades.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "pdf/pades_int.h"
#include "pdf/tsa.h"

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
/* The service is not refused for its TSA's answer: it may retry later. */
static void tsa_fail_kind(const struct pades_options *o, struct error *e)
{
	if (o->tsa_refusal_temporary)
		e->temporary = 1;
}

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

/*
 * One signature (CAdES or document time stamp) appended to pdf.  On
 * success out holds the new file and, for a CAdES signature, *cms the DER
 * embedded (OPENSSL_malloc'd).
 */
static int sign_once(const uint8_t *pdf, size_t len, const struct signer *s,
    const struct pades_options *o, int doc_ts, int64_t mtime,
    struct buf *out, uint8_t **cms, size_t *cmslen, size_t contents[2], struct error *e)
{
	struct pades_doc d;
	struct pades_field f;
	uint8_t md[32], *der = NULL, *fixed = NULL;
	size_t derlen = 0, fixedlen = 0;
	int rc = -1, attempt;
	const char *tsa = (doc_ts || o->level >= PADES_B_T) ? o->tsa_url : NULL;

	if (cms != NULL)
		*cms = NULL;
	if (pades_doc_open(&d, pdf, len, e) < 0)
		goto out;
	if (d.damaged) {
		if (pades_doc_signed(&d)) {
			err_set(e, "the signed PDF is damaged; an update would break its signatures");
			goto out;
		}
		if (pades_doc_rewrite(&d, &fixed, &fixedlen, e) < 0)
			goto out;
		pades_doc_close(&d);
		pdf = fixed;
		len = fixedlen;
		if (pades_doc_open(&d, pdf, len, e) < 0)
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
		buf_reset(out);
		if (pades_field_add(&d, pdf, len, &f, out, e) < 0)
			goto out;
		pades_field_digest(out, &f, md);
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
		} else if (pades_cms_build(md, s, tsa, o->tsa_ca_file, &der, &derlen, e) < 0) {
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
	pades_field_fill(out, &f, der, derlen);
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
	pades_doc_close(&d);
	return rc;
}

/*
 * After the first signature (in a, its CMS in cms and the /Contents span in
 * cpos): the B-LT and B-LTA updates the level asks for.  a ends up holding
 * the final file.
 */
static int add_ltv_levels(struct buf *a, const struct signer *s, const struct pades_options *o,
    int64_t mtime, const uint8_t *cms, size_t cmslen, size_t cpos[2], struct error *e)
{
	size_t cap = a->max;
	struct buf b;
	int rc = -1;

	buf_init(&b, cap);
	if (o->level >= PADES_B_LT) {
		/* The VRI key hashes the whole /Contents string, padding included. */
		size_t clen = (cpos[1] - cpos[0] - 2) / 2;
		uint8_t *contents = xmalloc(clen);
		if (hex_decode_span(a->data + cpos[0] + 1, contents, clen) < 0) {
			free(contents);
			err_tmp(e, "internal error: bad /Contents hex");
			goto out;
		}
		rc = pades_ltv_add(a->data, a->len, s, contents, clen, cms, cmslen, o, &b, e);
		free(contents);
		if (rc < 0)
			goto out;
		rc = -1;
		buf_free(a);
		*a = b;
		buf_init(&b, cap);
	}
	if (o->level >= PADES_B_LTA) {
		if (sign_once(a->data, a->len, s, o, 1, mtime, &b, NULL, NULL, cpos, e) < 0)
			goto out;
		buf_free(a);
		*a = b;
		buf_init(&b, cap);
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

int pades_sign(const uint8_t *pdf, size_t len, const struct signer *s,
    const struct pades_options *o, uint8_t **outp, size_t *outlen, struct error *e)
{
	struct buf a;
	uint8_t *cms = NULL;
	size_t cmslen = 0, cpos[2];
	int64_t mtime = o->signing_time ? o->signing_time : now_utc();
	int rc = -1;

	*outp = NULL;
	buf_init(&a, len + ((size_t)64 << 20));
	if (o->level >= PADES_B_T && (o->tsa_url == NULL || *o->tsa_url == '\0')) {
		err_set(e, "level %s needs a TSA URL", pades_level_name(o->level));
		goto out;
	}
	if (sign_once(pdf, len, s, o, 0, mtime, &a, &cms, &cmslen, cpos, e) < 0)
		goto out;
	if (add_ltv_levels(&a, s, o, mtime, cms, cmslen, cpos, e) < 0)
		goto out;
	*outp = buf_steal(&a, outlen);
	rc = 0;
out:
	OPENSSL_free(cms);
	buf_free(&a);
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

int pades_slot_write(struct pdf_writer *w, const struct pades_options *o, int64_t mtime,
    size_t reserve, int sig_id, int wid_id, int page_id, struct pades_slot *slot)
{
	struct pades_field f;
	const char *fname = o->field_name ? o->field_name : "Signature1";

	memset(&f, 0, sizeof(f));
	f.o = o;
	f.mtime = mtime;
	f.reserve = reserve;
	pades_field_objects(w, &f, fname, sig_id, wid_id, page_id, 0);
	if (w->oom)
		return -1;
	slot->br_at = f.br_at;
	slot->contents_at = f.contents_at;
	slot->contents_end = f.contents_end;
	slot->reserve = reserve;
	return 0;
}

int pades_sign_slot(struct buf *pdf, const struct pades_slot *slot, const struct signer *s,
    const struct pades_options *o, int64_t mtime, struct error *e)
{
	struct pades_field f;
	uint8_t md[32], *der = NULL;
	size_t derlen = 0, cpos[2];
	const char *tsa = o->level >= PADES_B_T ? o->tsa_url : NULL;
	int rc = -1;

	if (o->level >= PADES_B_T && (tsa == NULL || *tsa == '\0'))
		return err_set(e, "level %s needs a TSA URL", pades_level_name(o->level));
	if (slot->contents_end > pdf->len || slot->contents_at >= slot->contents_end ||
	    slot->br_at + PADES_BR_WIDTH > slot->contents_at ||
	    slot->contents_end - slot->contents_at != 2 * slot->reserve + 2)
		return err_tmp(e, "internal error: the signature slot does not fit the file");
	memset(&f, 0, sizeof(f));
	f.br_at = slot->br_at;
	f.contents_at = slot->contents_at;
	f.contents_end = slot->contents_end;
	pades_field_digest(pdf, &f, md);
	if (pades_cms_build(md, s, tsa, o->tsa_ca_file, &der, &derlen, e) < 0) {
		tsa_fail_kind(o, e);
		goto out;
	}
	if (derlen > slot->reserve) {
		err_tmp(e, "the signature (%zu bytes) does not fit the %zu bytes reserved for it",
		    derlen, slot->reserve);
		goto out;
	}
	pades_field_fill(pdf, &f, der, derlen);
	cpos[0] = f.contents_at;
	cpos[1] = f.contents_end;
	if (pdf->max < pdf->len + ((size_t)64 << 20))
		pdf->max = pdf->len + ((size_t)64 << 20);
	if (add_ltv_levels(pdf, s, o, mtime, der, derlen, cpos, e) < 0)
		goto out;
	rc = 0;
out:
	OPENSSL_free(der);
	return rc;
}
