/*
 * pades.h — PAdES baseline signing of PDFs held in memory.
 * Runs in the gateway (the signer forwards digests to the keys process)
 * and in the `tayori pdf sign` CLI.
 *
 * Standards: ETSI EN 319 142-1 (PAdES baseline B-B, B-T, B-LT, B-LTA),
 * ETSI EN 319 122-1 (CAdES), ISO 32000-1/-2 §12.8 (signature fields,
 * /ByteRange, DSS, document time stamps), RFC 5652 (CMS SignedData),
 * RFC 5035 (signing-certificate-v2), RFC 3161 (time stamps).
 *
 * How the file is written: the signature always goes into an incremental
 * update appended to the input (new signature dictionary and widget, new
 * revisions of page 1 or its /Annots array and of the catalog or its
 * /AcroForm, then an xref section of the same kind as the input's last one
 * and a trailer with /Prev).  Earlier signatures stay valid, and a freshly
 * split file (itself a full write by the splitter) needs no second full
 * rewrite: appending is cheaper than re-serialising, and the revision it
 * adds is exactly what the ByteRange covers.  B-LT adds one more update
 * (/DSS), B-LTA another (a /DocTimeStamp signature).  An input that qpdf had
 * to repair is rewritten by qpdf first when it is not yet signed, and
 * refused when it is (an update on a broken base would not verify).
 */
#ifndef TAYORI_PADES_H
#define TAYORI_PADES_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "util.h"
#include "gateway/signer.h"

enum pades_level { PADES_B_B = 0, PADES_B_T, PADES_B_LT, PADES_B_LTA };

/* A list of DER blobs (CRLs, OCSP responses); owned by whoever made it. */
struct pades_blob {
	uint8_t *data;
	size_t len;
};
struct pades_blobs {
	struct pades_blob *v;
	size_t n;
};
/* Append a copy of data (skips exact duplicates). */
void pades_blobs_add(struct pades_blobs *b, const uint8_t *data, size_t len);
void pades_blobs_free(struct pades_blobs *b);

/*
 * Revocation data provider for B-LT: called once for each certificate that
 * needs validation data (the signer's chain and the TSA's), with its issuer.
 * It appends DER CRLs and/or DER OCSPResponses.  Returning -1 fails the
 * signing; returning 0 with nothing added is allowed (e.g. for a TSA whose
 * certificate has id-pkix-ocsp-nocheck).
 */
typedef int (*pades_revocation_fn)(void *ctx, X509 *cert, X509 *issuer,
    struct pades_blobs *crls, struct pades_blobs *ocsps, struct error *e);

/*
 * The default provider: fetches each CRL named by the certificate's CRL
 * distribution points (http:// only) and keeps those signed by the issuer.
 * ctx is unused.  Fails when a certificate names no reachable CRL.
 */
int pades_fetch_crls_http(void *ctx, X509 *cert, X509 *issuer,
    struct pades_blobs *crls, struct pades_blobs *ocsps, struct error *e);

/*
 * The same, preferring OCSP: asks each http:// OCSP responder named in the
 * certificate's authorityInfoAccess (RFC 6960) and keeps a "good" response
 * signed by the issuer or its delegated responder; falls back to CRLs.
 */
int pades_fetch_ocsp_or_crls_http(void *ctx, X509 *cert, X509 *issuer,
    struct pades_blobs *crls, struct pades_blobs *ocsps, struct error *e);

struct pades_options {
	enum pades_level level;
	const char *tsa_url;        /* http:// RFC 3161 TSA; needed for B-T and above */
	const char *reason;         /* UTF-8, optional (NULL): /Reason */
	const char *location;       /* optional: /Location */
	const char *contact_info;   /* optional: /ContactInfo */
	const char *name;           /* optional: /Name */
	const char *field_name;     /* optional: /T of the new field; default SignatureN */
	int64_t signing_time;       /* /M, seconds since the epoch; 0 = now */
	/* B-LT and B-LTA: revocation data given up front and/or fetched. */
	const struct pades_blobs *crls;
	const struct pades_blobs *ocsps;
	pades_revocation_fn revocation;  /* NULL: only the data above */
	void *revocation_ctx;
	STACK_OF(X509) *extra_certs;     /* more certificates for /DSS /Certs; may be NULL */
};

/*
 * Sign pdf (len bytes) at o->level.  On success *out (malloc'd, the caller
 * frees) holds the whole signed file, *outlen its length.  Thread-safe when
 * the signer is.  Errors: input refused (e->temporary 0: not a PDF,
 * encrypted, damaged and signed), or temporary (TSA down, signer failed).
 */
int pades_sign(const uint8_t *pdf, size_t len, const struct signer *s,
    const struct pades_options *o, uint8_t **out, size_t *outlen, struct error *e);

/*
 * The CMS SignedData (DER, detached) that pades_sign embeds: signed
 * attributes content-type, message-digest (= content_digest) and
 * signing-certificate-v2; no signing-time; the certificate chain; an
 * id-aa-signatureTimeStampToken unsigned attribute when tsa_url is set.
 * *der is OPENSSL_malloc'd: free with OPENSSL_free().
 */
int pades_cms_sign(const uint8_t content_digest[32], const struct signer *s,
    const char *tsa_url, uint8_t **der, size_t *derlen, struct error *e);

/* "B-B" etc. to a level; -1 for anything else. */
int pades_level_parse(const char *s, enum pades_level *out);
const char *pades_level_name(enum pades_level l);

#endif
