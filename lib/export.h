/*
 * export.h — a batch's exports for staff: the residents' statuses as CSV,
 * and the paper list (residents with no address or a row held back,
 * bounced, failed, who declined electronic delivery, or who did not
 * download by the batch's deadline) as CSV with their signed notices to
 * print (pdf/pdf_paper.h merges them).  The one implementation behind
 * `tayori batch export [--paper]` and the dashboard's downloads.  Runs in
 * the command-line and portal processes.
 *
 * Both CSVs are for spreadsheets: UTF-8 with a byte order mark, CRLF line
 * ends, quoted as RFC 4180 says, and safe against formula injection: a
 * cell that starts with = + - @, a tab or a carriage return gets a
 * leading apostrophe (OWASP "CSV injection").  Each export is audited
 * (batch.export: counts, no names).
 */
#ifndef TAYORI_EXPORT_H
#define TAYORI_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/notice.h"
#include "lib/util.h"

struct store;

#define EXPORT_CSV_MAX ((size_t)256 << 20)
#define EXPORT_PDF_MAX ((size_t)2 << 30)
#define EXPORT_NAME_MAX 1024

/* One resident as the export shows it. */
struct export_row {
	const struct notice_status *s; /* points into the caller's statuses */
	char name[EXPORT_NAME_MAX];
	char email[256];
	uint32_t pdf;          /* seq in DB_PDFS, 0: none */
	const char *reason;    /* paper list: why (code: no_address, held_back, bounced,
				  failed, declined, not_downloaded) */
	const char *reason_ja;
	struct buf bytes;      /* paper list: the signed PDF (empty: none) */
	size_t first_page, pages; /* in the merged PDF, set by pdf_paper_merge */
};

/* The rows to export from statuses v[0..n-1] of batch id (only those on
 * the paper list, with their signed PDFs, when paper is set), read in one
 * transaction.  *out (n entries at most) is always set: free it with
 * export_rows_free(*out, *nout) also after an error. */
int export_rows(struct store *st, uint64_t id, const struct notice_status *v, size_t n,
		int paper, struct export_row **out, size_t *nout, struct error *e);
void export_rows_free(struct export_row *rows, size_t n);

/* One CSV cell (the formula guard and RFC 4180 quoting), then a comma, or
 * CRLF when last. */
void export_csv_cell(struct buf *b, const char *s, int last);
/* The CSVs (appended to b, starting with the byte order mark). */
void export_status_csv(const struct export_row *rows, size_t n, struct buf *b);
void export_paper_csv(const struct export_row *rows, size_t n, struct buf *b);

/* The audit record of an export by actor from where ("cli", an IP):
 * batch.export with target batch:ID, detail "paper=yes|no rows=N pdfs=N"
 * plus " what=WHAT" when what is not NULL ("csv", "pdf"). */
int export_audit(struct store *st, uint64_t id, const char *actor, const char *where,
		 int paper, const char *what, size_t rows, size_t pdfs, struct error *e);

#endif
