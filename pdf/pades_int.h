/*
 * pades_int.h — private to the pades_*.c files (not for other callers):
 * the reader of the revision being signed, the signature field and its
 * widget, the CMS builder and the B-LT update, as pades.c combines them.
 * Runs wherever pades.h does: the gateway and `tayori pdf sign`.
 */
#ifndef TAYORI_PADES_INT_H
#define TAYORI_PADES_INT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pades.h"
#include "pdf/pdf_writer.h"

/* Nesting of the page tree walked to page 1. */
#define PADES_MAX_DEPTH 64
/* Bytes reserved for the ByteRange numbers (four 10-digit numbers). */
#define PADES_BR_WIDTH 48

/* ------------------------------------------- pades_doc.c: the reader */

/* The last revision of a PDF, as an update appended to it needs it. */
struct pades_doc {
	qpdf_data q;
	long long size;       /* trailer /Size */
	long long startxref;  /* offset of the last cross-reference section */
	int xref_stream;      /* that section is a cross-reference stream */
	int root_id, root_gen;
	char *info;           /* unparsed trailer /Info, or NULL */
	char *id;             /* unparsed trailer /ID, or NULL */
	int damaged;          /* qpdf warned (repaired something) */
};

/* Open pdf (which must outlive d); errors refuse the input. */
int pades_doc_open(struct pades_doc *d, const uint8_t *pdf, size_t len, struct error *e);
void pades_doc_close(struct pades_doc *d);
/* -1 with e saying what, and qpdf's reason when it has one. */
int pades_doc_error(struct pades_doc *d, struct error *e, const char *what);
/* Has the document signature fields already? */
int pades_doc_signed(struct pades_doc *d);
/* A full rewrite by qpdf (for unsigned inputs that needed repair). */
int pades_doc_rewrite(struct pades_doc *d, uint8_t **out, size_t *outlen, struct error *e);
/* Start an update of pdf (d's bytes) into out, new numbers from /Size. */
void pades_doc_update(struct pades_doc *d, struct pdf_writer *w, struct buf *out,
    const uint8_t *pdf, size_t len);
/* End it: an xref section of the kind the input's last one is, the
 * trailer with /Prev; -1 (e filled) on a qpdf error or a full buffer. */
int pades_doc_finish(struct pades_doc *d, struct pdf_writer *w, struct error *e);
/* Echo a dictionary's entries (except skip, NULL-ended) or an array's
 * items (each followed by a space) as qpdf unparses them. */
void pades_doc_put_entries(struct pdf_writer *w, qpdf_data q, qpdf_oh dict,
    const char *const *skip);
void pades_doc_put_items(struct pdf_writer *w, qpdf_data q, qpdf_oh arr);

/* --------------------------------------- pades_field.c: the field */

struct pades_field {
	int doc_timestamp;     /* 1: /DocTimeStamp (RFC 3161), 0: CAdES signature */
	size_t reserve;        /* bytes of signature room in /Contents */
	int64_t mtime;
	const struct pades_options *o;
	/* results: offsets in the output */
	size_t contents_at;    /* the '<' of /Contents */
	size_t contents_end;   /* just after its '>' */
	size_t br_at;          /* first byte inside the /ByteRange brackets */
};

/* The signature dictionary sig_id, with room for /ByteRange and
 * /Contents (their offsets go to f), and its field merged with an
 * invisible widget wid_id on the page page_id page_gen. */
void pades_field_objects(struct pdf_writer *w, struct pades_field *f, const char *fname,
    int sig_id, int wid_id, int page_id, int page_gen);
/* out = pdf + an update adding f's field on page 1 and to /AcroForm. */
int pades_field_add(struct pades_doc *d, const uint8_t *pdf, size_t len,
    struct pades_field *f, struct buf *out, struct error *e);
/* Fill /ByteRange in b and hash what it covers. */
void pades_field_digest(struct buf *b, const struct pades_field *f, uint8_t md[32]);
/* Write der as hex into /Contents (it must fit f->reserve). */
void pades_field_fill(struct buf *b, const struct pades_field *f, const uint8_t *der,
    size_t len);

/* ---------------------------------------------- pades_cms.c: CMS */

/* pades_cms_sign() with the TSA's trust anchors (tsa_ca, may be NULL). */
int pades_cms_build(const uint8_t content_digest[32], const struct signer *s,
    const char *tsa_url, const char *tsa_ca, uint8_t **der, size_t *derlen, struct error *e);
/* Add the certificates of a DER CMS to all (no duplicates) and, when
 * tokens is set, its signature time-stamp tokens to tokens. */
void pades_cms_certs(const uint8_t *der, size_t len, STACK_OF(X509) *all,
    struct pades_blobs *tokens);

/* ---------------------------------------------- pades_ltv.c: B-LT */

/*
 * out = pdf + a /DSS update for the signature whose CMS is sigder and
 * whose whole /Contents string (decoded) is contents: its certificates,
 * its time stamps' and o's, with the revocation data o gives or fetches.
 */
int pades_ltv_add(const uint8_t *pdf, size_t len, const struct signer *s,
    const uint8_t *contents, size_t contents_len, const uint8_t *sigder, size_t siglen,
    const struct pades_options *o, struct buf *out, struct error *e);

#endif
