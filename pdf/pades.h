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
 * How the file is written: pades_sign() puts the signature into an
 * incremental update appended to the input (new signature dictionary and
 * widget, new revisions of page 1 or its /Annots array and of the catalog
 * or its /AcroForm, then an xref section of the same kind as the input's
 * last one and a trailer with /Prev), so earlier signatures stay valid.
 * A freshly split file is different: its writer (pdf_copy.h) already
 * leaves an empty signature in its one full write (pades_slot_write()),
 * and pades_sign_slot() fills it in place, so a split file is written
 * once and never parsed again.  B-LT adds one update (/DSS), B-LTA
 * another (a /DocTimeStamp signature).  An input that qpdf had to repair
 * is rewritten by qpdf first when it is not yet signed, and refused when
 * it is (an update on a broken base would not verify).
 */
#ifndef TAYORI_PADES_H
#define TAYORI_PADES_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pdf_writer.h"
#include "pdf/signer.h"

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
	const char *tsa_url;        /* http(s):// RFC 3161 TSA; needed for B-T and above */
	const char *tsa_ca_file;    /* PEM trust anchors every TSA token must chain to */
	int tsa_refusal_temporary;  /* a TSA reply that does not verify is a temporary
	                               failure (the service), not a refusal (the CLI) */
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
 * A signature written into a new file by whoever writes the file (the
 * splitter's full write), so that signing needs no second pass: the
 * writer calls pades_slot_write() for the signature dictionary and its
 * widget, lists the widget in page 1's /Annots and in the catalog's
 * /AcroForm << /Fields [...] /SigFlags 3 >>, and hands the finished file
 * to pades_sign_slot(), which fills /ByteRange and /Contents in place.
 */
struct pades_slot {
	size_t br_at;          /* first byte inside the /ByteRange brackets */
	size_t contents_at;    /* the '<' of /Contents */
	size_t contents_end;   /* just after its '>' */
	size_t reserve;        /* bytes of room for the DER signature */
};

/*
 * Bytes to reserve for a signature by s at o->level.  From B-T on, one
 * time stamp is asked of o->tsa_url to learn the size of its tokens (a
 * slot cannot grow once its file is written); errors are the TSA's.
 */
int pades_slot_reserve(const struct signer *s, const struct pades_options *o, size_t *reserve,
    struct error *e);

/*
 * Write objects sig_id (the signature dictionary, /M from mtime) and
 * wid_id (its field and invisible widget, /P page_id 0 R) with w, which
 * notes their offsets; the slot goes to *slot.  -1 when w's buffer is
 * full.
 */
int pades_slot_write(struct pdf_writer *w, const struct pades_options *o, int64_t mtime,
    size_t reserve, int sig_id, int wid_id, int page_id, struct pades_slot *slot);

/*
 * Sign the complete file in *pdf through its slot, in place, then add the
 * B-LT and B-LTA updates o->level asks for (*pdf grows).  mtime must be
 * the one given to pades_slot_write().  Errors are temporary (signer, TSA)
 * except a slot that does not match the file.
 */
int pades_sign_slot(struct buf *pdf, const struct pades_slot *slot, const struct signer *s,
    const struct pades_options *o, int64_t mtime, struct error *e);

/*
 * The CMS SignedData (DER, detached) that pades_sign embeds: signed
 * attributes content-type, message-digest (= content_digest) and
 * signing-certificate-v2; no signing-time; the certificate chain; an
 * id-aa-signatureTimeStampToken unsigned attribute when tsa_url is set
 * (no TSA trust anchors here, so a token is refused: B-T is pades_sign's).
 * *der is OPENSSL_malloc'd: free with OPENSSL_free().
 */
int pades_cms_sign(const uint8_t content_digest[32], const struct signer *s,
    const char *tsa_url, uint8_t **der, size_t *derlen, struct error *e);

/* "B-B" etc. to a level; -1 for anything else. */
int pades_level_parse(const char *s, enum pades_level *out);
const char *pades_level_name(enum pades_level l);

#endif
