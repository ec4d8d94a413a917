/*
 * pdf_verify.h — check the signatures of a PDF: `tayori pdf verify`.
 * Runs in the CLI (and may run in the gateway or portal: it needs no key).
 *
 * Standards: ISO 32000-1/-2 §12.8 (signature fields, /ByteRange, DSS,
 * DocTimeStamp), ETSI EN 319 142-1 (PAdES baseline levels), RFC 5652
 * (CMS), RFC 5035 (signing-certificate-v2), RFC 3161 (time-stamp tokens).
 *
 * Ownership: pdf_verify_mem() fills a report the caller releases with
 * pdf_verify_report_free(); nothing in it points into the PDF buffer.
 */
#ifndef TAYORI_PDF_VERIFY_H
#define TAYORI_PDF_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "lib/util.h"

struct pdf_verify_options {
	const char *ca_file;   /* PEM trust anchors; NULL: chains are not checked */
	const char *tsa_ca_file; /* the TSAs' PEM trust anchors; NULL: time stamps are
	                            not checked against a trust anchor */
};

/* Tri-state results: 1 yes/ok, 0 no/failed, -1 not applicable/not checked. */
struct pdf_sig_report {
	char field[128];          /* /T of the field (UTF-8) */
	char type[16];            /* "Sig" or "DocTimeStamp" */
	char subfilter[64];       /* without the slash */
	long long byte_range[4];
	int byte_range_ok;        /* starts at 0, the gap is exactly /Contents */
	long long covered_end;    /* byte_range[2] + byte_range[3] */
	int revision;             /* which revision (1-based) it covers; 0 unknown */
	int covers_whole_file;    /* nothing was appended after it */
	int later_updates;        /* revisions appended after it */
	char signer_cn[256], signer_issuer[512], signer_serial[80];
	char signing_time[40];    /* /M as written */
	char timestamp_time[40];  /* genTime of the time stamp (B-T or DocTimeStamp) */
	int digest_ok;            /* the message digest matches the ByteRange */
	int signature_ok;         /* the CMS signature verifies */
	int chain_ok;             /* the signer chains to --ca (-1 without --ca) */
	int timestamp_ok;         /* the time-stamp token verifies (-1 none) */
	int timestamp_trusted;    /* its TSA chains to --tsa-ca with the timeStamping
	                             key usage (-1 none, or no --tsa-ca given) */
	int has_signing_cert_v2;  /* ESS signing-certificate-v2 present */
	int has_signing_time;     /* CMS signing-time present (not allowed in PAdES) */
	const char *level;        /* "B-B", "B-T", "B-LT", "B-LTA", or "-" */
	int valid;
	char error[256];          /* why it is not valid, when it is not */
};

struct pdf_verify_report {
	struct pdf_sig_report *sigs;
	size_t n;
	int revisions;            /* number of %%EOF-terminated revisions */
	int has_dss;
	int dss_certs, dss_crls, dss_ocsps;
	long long file_len;
	int valid;                /* at least one signature, and all valid */
};

int pdf_verify_mem(const uint8_t *pdf, size_t len, const struct pdf_verify_options *o,
    struct pdf_verify_report *r, struct error *e);
void pdf_verify_report_free(struct pdf_verify_report *r);

void pdf_verify_print_text(FILE *f, const char *filename, const struct pdf_verify_report *r);
void pdf_verify_print_json(FILE *f, const char *filename, const struct pdf_verify_report *r);

#endif
