/*
 * pdf_decode.h — the data of a PDF stream decoded with a cap on what it
 * may become.  qpdf hands over the stream as stored (decode level none);
 * the filter chain is undone here, and decoding stops as soon as the
 * output would pass the cap, so a few kilobytes that inflate to gigabytes
 * (a decompression bomb) cost at most the cap in memory and time.
 *
 * Filters decoded: FlateDecode and LZWDecode (with the PNG and TIFF
 * predictors), ASCIIHexDecode, ASCII85Decode, RunLengthDecode, and their
 * abbreviations.  The image codecs (DCTDecode, JPXDecode, JBIG2Decode,
 * CCITTFaxDecode), Crypt and anything unknown are reported as
 * unsupported and never decoded: no text comes from such a stream.
 *
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.3.8 (streams), §7.4
 * (filters, §7.4.4.4 predictors); RFC 1950/1951 (zlib, deflate); the
 * PNG specification §6 (filter types); TIFF 6.0 §14 (predictor 2).
 *
 * Threads: a struct pdf_decoder belongs to one thread at a time.
 * pdf_filters_of() and pdf_stream_decode() read names through qpdf, whose
 * C API keeps one buffer for them: a name pointer got from qpdf before
 * the call is overwritten (copy it first).
 */
#ifndef TAYORI_PDF_DECODE_H
#define TAYORI_PDF_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/buf.h"

/* [limits] pdf_stream_max, pdf_page_decoded, pdf_decoded (conf.c). */
#define PDF_STREAM_MAX_DEFAULT   ((size_t)16 << 20)
#define PDF_PAGE_DECODED_DEFAULT ((size_t)32 << 20)
#define PDF_DECODED_DEFAULT      ((size_t)2 << 30)

struct pdf_limits {
	size_t stream_max;  /* decoded bytes of one stream */
	size_t page_max;    /* decoded bytes of all the streams one page needs */
	size_t doc_max;     /* decoded bytes of all the streams of one PDF */
};

/*
 * The process's limits, set once from the configuration (a 0 field keeps
 * its default) before PDFs are read; every reader of PDFs takes them
 * from here.
 */
void pdf_limits_set(const struct pdf_limits *l);
void pdf_limits_get(struct pdf_limits *l);

/* n as "16 MB", "512 KB" or "1000 bytes", for refusals. */
const char *pdf_size_text(size_t n, char *out, size_t outsize);

enum pdf_decode_rc {
	PDF_DECODE_OK = 0,
	PDF_DECODE_LIMIT,        /* the output would pass the cap: stopped */
	PDF_DECODE_UNSUPPORTED,  /* a filter not decoded here */
	PDF_DECODE_BAD,          /* the data or the parameters are broken */
};

enum pdf_filter_kind {
	PDF_F_FLATE, PDF_F_LZW, PDF_F_AHX, PDF_F_A85, PDF_F_RL,
};

/* One filter of a chain with its /DecodeParms. */
struct pdf_filter {
	enum pdf_filter_kind kind;
	int predictor;      /* 1 none, 2 TIFF, 10-15 PNG */
	int colors, bpc, columns;
	int early_change;   /* LZW */
};

#define PDF_FILTERS_MAX 8

struct pdf_decoder;

/* A decoder with its reusable buffers; free with pdf_decoder_free(). */
struct pdf_decoder *pdf_decoder_new(void);
void pdf_decoder_free(struct pdf_decoder **d);

/*
 * Undo nf filters (first to last) on len bytes, into out (reset first;
 * create it with buf_init(out, SIZE_MAX / 2): the cap is max, checked
 * here) or, when out is NULL, only counting.  What passes between two
 * filters is held to max too.  *outlen (may be NULL) gets the decoded
 * length, or how far the output got on PDF_DECODE_LIMIT (then more than
 * max would have followed).  Returns a pdf_decode_rc.
 */
int pdf_decode(struct pdf_decoder *d, const uint8_t *data, size_t len,
	       const struct pdf_filter *f, size_t nf, size_t max, struct buf *out,
	       size_t *outlen);

/*
 * The filters of a stream dictionary (/Filter, /DecodeParms) into f
 * (PDF_FILTERS_MAX entries).  Returns a pdf_decode_rc.
 */
int pdf_filters_of(qpdf_data q, qpdf_oh dict, struct pdf_filter *f, size_t *nf);

/*
 * The stream s of q decoded: its data as stored comes from qpdf
 * (decrypted, not decoded), its filters are undone by pdf_decode().
 * Anything but a stream is PDF_DECODE_BAD.
 */
/*
 * For walks over the objects a page reaches: append to stack (a GArray of
 * qpdf_oh) every value of dict except /Parent (which leads back up the page
 * tree).  keys is scratch (a GPtrArray freeing its strings): qpdf has one
 * key iterator per handle, so the keys are collected before any value is
 * looked up.
 */
void pdf_dict_push_values(qpdf_data q, qpdf_oh dict, GPtrArray *keys, GArray *stack);

int pdf_stream_decode(struct pdf_decoder *d, qpdf_data q, qpdf_oh s, size_t max,
		      struct buf *out, size_t *outlen);

/*
 * The object streams and cross-reference streams of a PDF's bytes,
 * decoded (counting only) before qpdf opens it: qpdf decodes those itself,
 * whole.  Found by their dictionaries (/N and /First, /W, /Type /ObjStm or
 * /XRef) after every "N G obj" in the bytes.  Returns PDF_DECODE_OK;
 * PDF_DECODE_LIMIT when one decodes to more than max, or
 * PDF_DECODE_UNSUPPORTED when one has filters not decoded here (given by
 * reference, or unknown), with *objnum its object number and *what
 * "object stream" or "cross-reference stream".  Streams that do not
 * decode (encrypted, broken) are left to qpdf.
 */
int pdf_prescan(struct pdf_decoder *d, const uint8_t *data, size_t len, size_t max,
		long long *objnum, const char **what);

#endif
