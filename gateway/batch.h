/*
 * batch.h — a batch, from its files to the store: the one call every way
 * in uses (intake's mail and drop folder, `tayori submit`, and the staff
 * dashboard's upload, which the portal hands to the gateway as a sealed
 * record, lib/upload.h, taken by gateway/intake_upload.c: the portal may
 * neither include gateway/ nor ask keys to sign).  It reads the
 * recipients CSV, matches the PDFs to its rows (split one PDF, or one PDF per resident named by key,
 * or one common PDF), signs one PDF per resident (PAdES) through a
 * struct signer, encrypts and stores everything, and says what matched.
 * Runs in the gateway and in `tayori submit`.
 *
 * For a caller.  Give batch_submit():
 *   - the store, opened in this process (lib/store.h), whose keys client
 *     also seals every record;
 *   - a signer (pdf/signer.h): keys_signer_new() over the same keys client,
 *     so the signing key never enters the caller's process.  NULL
 *     is allowed only with dry_run.  It is used from several threads;
 *   - a struct batch_input: the CSV and the PDFs as bytes with the names
 *     the sender gave them (names are matched and shown, never opened),
 *     the parsed settings (gateway/settings.h), the title, the submitter
 *     (actor and from, for the audit log), the signing level and the
 *     limits from the configuration ([signing], [limits]; folder.h's
 *     batch_files_input() fills them from a conf), and, for exactly-once
 *     intake, the input's identity.  Everything is borrowed for the call.
 * It returns 0 with rep filled and rep->batch the stored batch, which
 * waits for approval (lib/batches.h), or -1 with e and rep->error: with
 * e->temporary == 0 the input was refused and the reason is for the
 * sender (exit 1 in the CLI); with e->temporary == 1 it failed for
 * another reason and may be tried again (exit 3).  Either way nothing is
 * stored.  With dry_run it matches and fills the report (status
 * "preview") and signs and stores nothing.  rep is always to be freed
 * with batch_report_free().  The call takes as long as signing every
 * PDF: a caller with an event loop runs it in a worker.
 *
 * All or nothing: a batch's parts are written under a batch whose state is
 * "storing", which no reader shows; the last, synced commit writes the
 * residents, the batch and its audit record and makes it "awaiting
 * approval".  A batch that fails is removed; one whose process died is
 * swept by batch_sweep() (the signed PDFs of 5,000 residents are ~350 MB:
 * one LMDB write transaction would hold them all in memory, staging keeps
 * the memory flat).
 *
 * The matching report uses the keys DESIGN.md fixes: batch, status,
 * recipients (CSV data rows), matched (distinct keys with a CSV row and a
 * PDF), unmatched_pdf_keys, csv_rows_without_pdf, invalid_emails,
 * no_email_rows, duplicate_keys (normalised keys, each once), error; and
 * repeated_pdf_keys, held_pdf_keys (held back, see pdf_split.h), rows_held,
 * removed_active_content (what pdf_inert.h took out of the notices);
 * status is "refused" for a refused input and "error" for an internal
 * failure (exit 1 and 3 in the CLI); duplicate_of names the batch an input
 * given again already made.
 * A split gives pages only on evidence (pdf_split.h): a key-shaped number
 * not in the CSV is in unmatched_pdf_keys and its pages go to nobody.
 *
 * Inside: batch_match.c, batch_sign.c and batch_store.c are the three
 * steps (batch_int.h, private), batch_report.c writes the report.
 */
#ifndef TAYORI_BATCH_H
#define TAYORI_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "pdf/pades.h"
#include "gateway/settings.h"
#include "lib/util.h"

struct store;
struct signer;

/* One input file.  name is what the sender called it: used to match and to
 * show, never as a path. */
struct batch_file {
	char *name;
	uint8_t *data;
	size_t len;
};

struct batch_input {
	const struct batch_settings *set;
	const char *title;            /* the notice title (mail subject / setting) */
	struct batch_file csv;
	struct batch_file *pdfs;
	size_t npdfs;
	struct batch_file *extras;    /* extra attachments, stored with the batch */
	size_t nextras;
	const char *actor;            /* for the audit log: "staff:3", "cli:root" */
	const char *from;             /* where it came in: "cli", "imap", "drop", ... */
	const char *submitter;        /* the submitter's own address (staff account's e-mail),
					 NULL or "" when unknown (a drop folder) */
	enum pades_level level;
	const char *tsa_url;
	char tsa_ca_file[4096];       /* the TSA trust anchors (PEM), absolute; "" none */
	const char *pdf_password;     /* NULL: encrypted PDFs are refused */
	size_t csv_max_rows;          /* 0: default */
	int max_pages;                /* 0: default */
	int threads;                  /* 0: one per CPU */
	int dry_run;                  /* match and report, sign and store nothing */
	const uint8_t *intake_id;     /* SHA-256 of the input (intake.h): written in the
					 batch's own commit, so an input makes one batch */
};

struct strlist {
	char **v;
	size_t n;
	size_t cap;
};

struct batch_report {
	uint64_t batch;
	char status[32];
	size_t recipients;
	size_t matched;
	size_t signed_pdfs;
	struct strlist unmatched_pdf_keys;
	struct strlist csv_rows_without_pdf;
	struct strlist invalid_emails;
	struct strlist no_email_rows;
	struct strlist duplicate_keys;
	struct strlist repeated_pdf_keys;  /* a key in two separate page ranges */
	struct strlist rows_held;          /* "line N: why" of rows held back */
	struct strlist held_pdf_keys;      /* keys shown on a page that could not be
					      given to one resident: no PDF (paper) */
	struct strlist preview;            /* the first notices: "KEY NAME <ADDRESS> (pages)" */
	struct strlist removed_active_content; /* what was left out of the notices before
						  signing (pdf_inert.h), each kind once:
						  "every notice: page 1: page /AA
						  JavaScript action (5000 files)" */
	/* what was inferred, for the preview */
	char split_rule[96];
	char key_column[128], name_column[128], email_column[128];
	int key_width;
	char encoding[16];
	int pages;
	int test;
	uint64_t duplicate_of;             /* the input was taken before as this batch */
	char error[ERR_MAX];
};

/* Build and store a batch (see above).  0 with rep filled; -1 with e (and
 * rep->error) when refused or failed, nothing stored.  signer may be NULL
 * with dry_run. */
int batch_submit(struct store *st, const struct signer *signer, const struct batch_input *in,
		 struct batch_report *rep, struct error *e);
void batch_report_free(struct batch_report *rep);
void batch_report_json(const struct batch_report *rep, FILE *f);
void batch_report_text(const struct batch_report *rep, FILE *f);

/* Remove the parts of batches left "storing" by a process that is gone:
 * call it once before submitting, as `tayori submit` and the gateway do. */
int batch_sweep(struct store *st, size_t *removed, struct error *e);

#endif
