/*
 * batch_int.h — private to the batch module (batch.c, batch_match.c,
 * batch_sign.c, batch_store.c, batch_report.c); every other caller uses
 * batch.h.  The three steps of batch_submit() and what they hand on:
 *
 *   batch_match()   the CSV and the PDFs -> a struct batch_plan (which PDF
 *                   each CSV row gets, how each input PDF becomes residents'
 *                   PDFs) and the report's matching lists.  Stores nothing.
 *   batch_sign()    the plan -> one signed PDF per resident (or one common
 *                   PDF), in threads, each handed to a struct batch_sink.
 *   batch_store_*() the sink that seals and stages those PDFs under a batch
 *                   nobody sees yet, then the one commit that makes the
 *                   batch visible; or nothing at all.
 *
 * Runs in the gateway and in `tayori submit`.
 */
#ifndef TAYORI_BATCH_INT_H
#define TAYORI_BATCH_INT_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/batch.h"
#include "gateway/recipients.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_split.h"

/* ---- batch_match.c ---- */

/*
 * What matching decided.  Everything is owned by the plan; the pointers
 * into the batch_input (file names, bytes) are borrowed from it, so the
 * input must outlive the plan.
 */
struct batch_plan {
	enum batch_split split;      /* never SPLIT_INFER once matched */
	struct recipients *r;        /* the CSV's rows, in CSV order */
	uint32_t *pdf_seq;           /* per row (r->n): where its PDF is stored: its
					own row + 1, BATCH_PDF_COMMON, or 0 for none */
	uint32_t *file_seq;          /* SPLIT_PER_FILE: per input PDF, the row + 1
					it is signed for, 0 when it is not */
	GHashTable *want;            /* split modes: a page group's key -> row + 1
					(GUINT_TO_POINTER); groups not in it are
					never signed */
	struct pdf_split_result groups; /* split modes: the page groups */
	int have_groups;
	struct pdf_split_opts so;    /* split modes: how they were found (and are
					written): points into this plan */
	const char **keys;           /* SPLIT_AUTO: the CSV keys looked for (so.keys) */
	struct pdf_info first_info;  /* the first PDF as pdf_check() saw it */
	int threads;                 /* for reading pages and signing */
};

/* Read the CSV, check every PDF and match them: 0 with p filled and the
 * report's lists, counts and inferred settings; -1 with e when the input
 * is refused (or could not be read), p then still freed by
 * batch_match_free().  p need not be initialised. */
int batch_match(const struct batch_input *in, struct batch_plan *p, struct batch_report *rep,
		struct error *e);
void batch_match_free(struct batch_plan *p);
/* A row that may get a PDF: a usable key, not a duplicate, not shifted. */
int batch_match_usable(const struct recipient *p);

/* ---- batch_sign.c ---- */

/*
 * Where signed PDFs go.  put is called once per signed PDF, from several
 * signing threads at once; seq is the PDF's place (a row + 1, or
 * BATCH_PDF_COMMON); the bytes are only lent for the call.  0 to go on,
 * -1 with e to stop the batch.
 */
struct batch_sink {
	int (*put)(void *ctx, uint32_t seq, const uint8_t *pdf, size_t len, struct error *e);
	void *ctx;
};

/* Sign every PDF the plan gives a resident, through signer (threads: see
 * the plan), and hand each to sink.  Sets rep->signed_pdfs and
 * rep->removed_active_content.  0, or -1 with e (what was already handed
 * over is the sink's to drop). */
int batch_sign(const struct signer *signer, const struct batch_input *in,
	       const struct batch_plan *p, const struct batch_sink *sink,
	       struct batch_report *rep, struct error *e);

/* ---- batch_store.c ---- */

struct batch_stage;

/* A new batch id in rep->batch, marked "storing" (no reader shows it), and
 * a stage for its PDFs (the data keys of every resident's PDF are made
 * ahead, in a few round trips to the keys process).  On -1 nothing is
 * left in the store. */
int batch_store_begin(struct store *st, const struct batch_plan *p, struct batch_report *rep,
		      struct batch_stage **out, struct error *e);
/* The sink's put: seal one signed PDF and stage it (struct batch_stage *). */
int batch_store_pdf(void *stage, uint32_t seq, const uint8_t *pdf, size_t len,
		    struct error *e);
/* Stage the extra attachments, write what is staged, and publish in one
 * synced commit: the residents, their index, the batch record with the
 * report, the intake identity and the audit record.  Sets rep->status. */
int batch_store_commit(struct batch_stage *s, const struct batch_input *in,
		       const struct batch_plan *p, struct batch_report *rep, struct error *e);
/* Free the stage; a batch not committed is removed from the store. */
void batch_store_end(struct batch_stage **s);

/* ---- batch_report.c ---- */

/* Add s to l unless it is there already. */
void batch_report_add(struct strlist *l, const char *s);

#endif
