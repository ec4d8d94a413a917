/*
 * pdf_split.h — split one multi-page PDF of printed notices into one PDF
 * per resident: decide which pages belong to whom (the plan), then write
 * each resident's pages as a new PDF in memory (the write), without
 * re-rendering anything: pages, content streams, fonts and images are
 * read by qpdf and copied as they are by our writer (pdf_copy.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.5 (file structure, a full
 * write with a new cross-reference table), §7.7.3 (page tree).
 *
 * Three ways to split (enum pdf_split_mode):
 *   PAGES  a fixed number of pages per resident; a page count that is not
 *          a multiple of it is refused.  Keys are the group numbers,
 *          zero-padded ("0001", "0002", ...).
 *   KEY    a regular expression (PCRE through GRegex, on NFKC text): the
 *          key is its first capture group, or the whole match when it has
 *          none or the group did not take part; the first match on a page
 *          counts; ^ and $ match at the start and end of each text
 *          line.  A new resident begins where the key changes; a page
 *          without a match continues the current resident; a first page
 *          without a match is refused.
 *   AUTO   a list of keys (the CSV's, normalised): each page's text is
 *          searched for them.  All-digit keys match a run of digits as a
 *          whole (00123 is not found inside 1001234) and also its
 *          zero-padded form (CSV 12345, whose zeros Excel dropped, matches
 *          00012345 on the page; not the other way round, so that an
 *          amount such as 12345 never matches the key 00012345); other
 *          keys match a whole run of A-Z a-z 0-9 - _.  Consecutive pages
 *          with the same key are one resident; a page with no key
 *          continues the current one; a first page without a key, or no
 *          key on any page, is refused.  A page showing two or more
 *          different keys is listed as ambiguous; it stays with the
 *          current resident when that resident's key is among them, else
 *          it starts a resident with the key that comes first in its
 *          text.
 * In KEY and AUTO modes, a key found in two or more separate page ranges
 * is never merged: all its ranges are held back (pdf_split_result.held)
 * and the key listed in repeated_keys, so that nobody receives a PDF that
 * is missing pages or has someone else's pages between its own.
 *
 * Work and threads: pdf_split_plan() reads the text of every page once
 * (KEY and AUTO), in opts->threads threads, each with its own qpdf handle
 * (pdf_fasttext.h).  pdf_split_write() builds the PDFs in
 * opts->write_threads threads, each with its own qpdf handle and copier on
 * the same input bytes, and hands each PDF to a callback as soon as it is
 * written, so memory does not grow with the number of residents.  A qpdf
 * handle ends up holding every object it was asked for (about 5 kB per
 * input page: 50 MB for 10,000 pages), which is why one writer is the
 * default.  pdf_split_run() does both at once: text threads and one
 * writer overlap, so the cores never wait for a phase to end.  For work
 * spread over processes, the lower-level struct pdf_splitter builds one
 * group at a time on its own handle.
 *
 * Measured on the 10,000-page benchmark corpus (`make bench`, 2 cores):
 * `tayori pdf split --auto` about 3 s against 6.3 s for
 * `qpdf --split-pages=2` alone.
 */
#ifndef TAYORI_PDF_SPLIT_H
#define TAYORI_PDF_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "util.h"
#include "gateway/pades.h"
#include "gateway/pdf_check.h"
#include "gateway/pdf_copy.h"

#define PDF_KEY_MAX 64 /* bytes of a key found on a page (KEY mode) */

enum pdf_split_mode { PDF_SPLIT_PAGES, PDF_SPLIT_KEY, PDF_SPLIT_AUTO };

struct pdf_split_opts {
	enum pdf_split_mode mode;
	int pages_per_resident;   /* PAGES: >= 1 */
	const char *key_regex;    /* KEY: PCRE, UTF-8 */
	const char *const *keys;  /* AUTO: normalised keys; duplicates are fine */
	size_t nkeys;
	const char *password;     /* NULL: encrypted PDFs are refused */
	int threads;              /* text threads (plan); 0: one per online CPU,
				     see pdf_default_threads() */
	int write_threads;        /* writer threads (write); 0: 1 (see below) */
	int max_pages;            /* 0: PDF_PAGES_MAX */
	/* NULL, or an empty signature to leave in every PDF written
	   (pdf_copy.h), for the emit callback to sign with pades_sign_slot() */
	const struct pdf_copy_sig *sig;
	/* NULL, or what pdf_check() said of this very input, when the caller
	   has checked it already (it is not parsed a second time for that) */
	const struct pdf_info *checked;
};

/* One resident's pages.  first_page is 1-based. */
struct pdf_group {
	char *key;        /* PAGES: "0001"...; KEY: the match (NFKC, trimmed);
			     AUTO: the key as given in opts->keys */
	char *found;      /* KEY, AUTO: the key as printed on its first page
			     (NFKC), e.g. "00012345" for the CSV key "12345";
			     PAGES: same as key */
	int first_page;
	int page_count;
};

/*
 * The plan.  Everything is owned by the struct and freed by
 * pdf_split_result_free(); page numbers are 1-based and sorted.
 */
struct pdf_split_result {
	struct pdf_info info;          /* from pdf_check() */
	struct pdf_group *groups;      /* to write, in page order */
	size_t ngroups;
	struct pdf_group *held;        /* ranges of repeated keys, not to write */
	size_t nheld;
	char **repeated_keys;          /* each such key once */
	size_t nrepeated;
	int *keyless_pages;            /* KEY, AUTO: pages with no key (they
					  went with the resident before them) */
	size_t nkeyless;
	int *ambiguous_pages;          /* AUTO: pages with two or more keys */
	size_t nambiguous;
	char **missing_keys;           /* AUTO: given keys found on no page, in
					  the order given, each once */
	size_t nmissing;
};

/*
 * Check the input (pdf_check(), so every refusal of that policy applies),
 * read page text as the mode needs, and decide the groups.  data must stay
 * valid during the call only.  On success fills *r (the caller frees it
 * with pdf_split_result_free()).  Input refusals (e->temporary == 0): any
 * pdf_check() refusal; PAGES: a page count that is not a multiple; KEY: a
 * bad regex, no key on page 1; AUTO: no usable key given, no key on page
 * 1, no key on any page.
 */
int pdf_split_plan(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		   struct pdf_split_result *r, struct error *e);

void pdf_split_result_free(struct pdf_split_result *r);

/* One resident's new PDF, as the emit callback receives it. */
struct pdf_made {
	struct buf pdf;           /* the file; the callback may keep the bytes
				     (buf_steal()) instead of copying them */
	struct pades_slot slot;   /* with opts->sig: the empty signature */
	struct pdf_removed removed; /* active content left out (pdf_inert.h) */
};

/*
 * Receives one resident's PDF.  m is valid only during the call (the
 * callback signs, stores or takes m->pdf's bytes before returning).  Called
 * from the writer threads: up to opts->write_threads calls run at the same
 * time, in no particular order, so the callback guards whatever it
 * shares; with one writer, calls come in group order.  Return
 * 0 to go on, -1 with e filled to stop (pdf_split_write returns -1 with
 * that error).
 */
typedef int (*pdf_split_emit_fn)(void *ctx, const struct pdf_group *g, struct pdf_made *m,
				 struct error *e);

/*
 * Write one PDF per group of groups[0..ngroups) (usually r->groups) and
 * hand each to emit.  data is the same input given to pdf_split_plan()
 * and must stay valid during the call.  Uses opts->password, write_threads
 * and max_pages only.  Each output is a complete new PDF (full write, no
 * object streams, stream data copied as it is, never re-rendered) holding
 * the group's pages in order, with the input's PDF version or later.
 */
int pdf_split_write(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		    const struct pdf_group *groups, size_t ngroups,
		    pdf_split_emit_fn emit, void *ctx, struct error *e);

/*
 * Plan and write in one pass, for speed (what the gateway and the command
 * use): the text threads read the pages while the calling thread writes
 * each resident's PDF as soon as a page shows the next key, so text
 * extraction and writing share the cores instead of taking turns.  emit
 * is called from the calling thread only, in page order.  A key can turn
 * up again further on: its first range has then been emitted already, its
 * later ones are not, and every range of it ends up in r->held with the
 * key in r->repeated_keys.  So when this returns 0, drop every emitted PDF
 * whose key is in r->repeated_keys; what remains is exactly r->groups.
 * On -1, drop everything emitted.  r is filled as by pdf_split_plan().
 * PAGES mode is pdf_split_plan() followed by pdf_split_write().
 */
int pdf_split_run(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		  pdf_split_emit_fn emit, void *ctx, struct pdf_split_result *r,
		  struct error *e);

/*
 * The building block for one thread or one process: a qpdf handle on the
 * input and a copier (pdf_copy.h) writing from it.  data must stay valid
 * until pdf_splitter_close().  A splitter is used by one thread at a time.
 */
struct pdf_splitter;

int pdf_splitter_open(const uint8_t *data, size_t len, const char *password, int max_pages,
		      struct pdf_splitter **out, struct error *e);
int pdf_splitter_npages(const struct pdf_splitter *s);
/*
 * A new PDF holding pages first_page..first_page+count-1 (1-based).  *pdf
 * points into the splitter and stays valid until the next call on s or
 * pdf_splitter_close().
 */
int pdf_splitter_make(struct pdf_splitter *s, int first_page, int count,
		      const uint8_t **pdf, size_t *len, struct error *e);
/* Free s and set *s to NULL; NULL and *s == NULL are fine. */
void pdf_splitter_close(struct pdf_splitter **s);

/*
 * The command `tayori pdf split (--pages N | --key REGEX | --auto KEYS.csv)
 * [--json] [--password-env VAR] [--threads N] [--writers N] IN.pdf OUTDIR` (in
 * pdf_split_cli.c).  argv[0] is the subcommand's name ("split"); options
 * are parsed here with getopt_long.  Writes OUTDIR/<key>.pdf (mode 0600),
 * refusing keys that are not safe file names, prints a one-line summary
 * or, with --json, one JSON object.  Returns the exit status: 0 done,
 * 1 input refused ("tayori: IN.pdf: ..." on stderr), 2 usage, 3 internal.
 */
int pdf_split_cli(int argc, char **argv);

#endif
