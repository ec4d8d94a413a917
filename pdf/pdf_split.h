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
 *          none or the group did not take part; ^ and $ match at the start
 *          and end of each text line.  A page on which the pattern finds
 *          one key belongs to that key; a page on which it finds two or
 *          more different keys is undecided (below).
 *   AUTO   a list of keys (the CSV's, normalised): each page's text is
 *          searched for them.  All-digit keys match a run of digits as a
 *          whole (00123 is not found inside 1001234) and also its
 *          zero-padded form (CSV 12345, whose zeros Excel dropped, matches
 *          00012345 on the page; not the other way round, so that an
 *          amount such as 12345 never matches the key 00012345); other
 *          keys match a whole run of A-Z a-z 0-9 - _.
 *
 * Attribution by evidence (KEY and AUTO): a page goes to a resident only
 * when something on it, or the batch's own layout, says so; never by
 * position alone, and never to the first of several keys found.
 *   The key's shape (AUTO, every key all digits).  From the pages that
 *          show exactly one key of the list, the batch teaches the label
 *          printed before the key (the word before the number, e.g.
 *          宛名番号 or Atena, r->key_label): the label found beside the
 *          key on more than half of those pages, and on more than any
 *          other label (no word at all is no label).  With it, the
 *          key's digit counts as printed (after Excel's zeros are
 *          restored), and the labels of the other numbers printed beside
 *          a key (another role, such as 世帯主番号: labels learned from
 *          pages with one labelled number).
 *   Unknown keys.  A number printed beside the learned label (of any
 *          digit count, at least the shortest key's) that is not in the
 *          list is a resident missing from the CSV: it starts an unmatched range, listed once in
 *          r->unmatched_keys, whose pages go to nobody (keyless pages after
 *          it go with it).  Only a word on the same line is a label, and
 *          only a word with a letter in it.  Without a learned label, a
 *          whole number (not part of R6-00012345) with a key's digit count
 *          counts so, unless pages of two different keys of the list show
 *          it too (a date or a telephone number on many notices); a page
 *          without a key that shows such a number continues only when its
 *          page number follows on.  Amounts (12,345), postal codes
 *          (100-0013) and numbers of another width never count.
 *   Two or more keys on a page.  With a learned label, the one number
 *          beside it decides, whatever else the page shows (Head of
 *          household 00010037 / Atena 00010000 goes to 00010000); a page
 *          without a labelled number that shows a key in no learned other
 *          role goes with the current resident only if that key is the
 *          current resident's.  Otherwise (two labelled numbers, no
 *          label learned, or another resident's key without the label)
 *          the page is undecided: every key of the list it shows is held
 *          back (r->holds names each with the page; none of their ranges
 *          is written), every number on it not in the list is in
 *          r->unmatched_keys, and the page and the keyless pages after it
 *          go to nobody.  What the label cannot tell: a layout that prints
 *          the learned label before the addressee's number on some pages
 *          and before another number on others.
 *   A page with no key continues the resident before it only when the
 *          batch shows that layout: its page marker follows on from the
 *          page before's (「2／3」 after 「1／3」, "2/3", "2 / 3 ページ"),
 *          or no resident's later pages carry the key and more than one
 *          resident (or every one) has later pages without it.
 *          Otherwise the input is refused, naming the page; so is a first
 *          page without a key and a keyless page whose marker is 1/m.
 * A key found in two or more separate page ranges is never merged: all
 * its ranges are held back (pdf_split_result.held) and the key listed in
 * repeated_keys, so that nobody receives a PDF that is missing pages or
 * has someone else's pages between its own.  Keys held back for an
 * undecided page are in held too.
 *
 * Work and threads: pdf_split_plan() reads the text of every page once
 * (KEY and AUTO), in opts->threads threads, each with its own qpdf handle
 * (pdf_fasttext.h), and decides only once every page is read (the key's
 * shape is learned from the whole batch).  pdf_split_write() builds the
 * PDFs in opts->write_threads threads, each with its own qpdf handle and
 * copier on the same input bytes, and hands each PDF to a callback as
 * soon as it is written, so memory does not grow with the number of
 * residents.  A qpdf handle ends up holding every object it was asked for
 * (about 5 kB per input page: 50 MB for 10,000 pages), which is why one
 * writer is the default.  pdf_split_run() does both.  For work spread
 * over processes, the lower-level struct pdf_splitter builds one group at
 * a time on its own handle.
 *
 * Measured on the 10,000-page benchmark corpus (`make bench`, 2 cores):
 * `tayori pdf split --auto` about 3 s against 6.3 s for
 * `qpdf --split-pages=2` alone.
 */
#ifndef TAYORI_PDF_SPLIT_H
#define TAYORI_PDF_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"
#include "pdf/pades.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"

#define PDF_KEY_MAX 64 /* bytes of a key found on a page (KEY mode) */

enum pdf_split_mode { PDF_SPLIT_PAGES, PDF_SPLIT_KEY, PDF_SPLIT_AUTO };

struct pdf_split_opts {
	enum pdf_split_mode mode;
	int pages_per_resident;   /* PAGES: >= 1 */
	const char *key_regex;    /* KEY: PCRE, UTF-8 */
	const char *const *keys;  /* AUTO: normalised keys; duplicates are fine */
	size_t nkeys;
	const char *password;     /* NULL: encrypted PDFs are refused */
	int threads;              /* text threads (plan); 0: one per CPU,
				     see cpu_threads() */
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

/* A key held back because a page showing it could not be given to one
 * resident. */
struct pdf_hold {
	char *key;        /* AUTO: as given in opts->keys; KEY: the match */
	int page;         /* 1-based */
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
	int *ambiguous_pages;          /* pages showing two or more keys (decided
					  or not) */
	size_t nambiguous;
	char **missing_keys;           /* AUTO: given keys found on no page, in
					  the order given, each once */
	size_t nmissing;
	char **unmatched_keys;         /* AUTO: numbers in the key's place that
					  are not in the list (or on an undecided
					  page), in page order, each once; their
					  pages go to nobody */
	size_t nunmatched;
	struct pdf_hold *holds;        /* keys held back by an undecided page */
	size_t nholds;
	char *key_label;               /* AUTO: the label learned, or NULL */
};

/*
 * Check the input (pdf_check(), so every refusal of that policy applies),
 * read page text as the mode needs, and decide the groups.  data must stay
 * valid during the call only.  On success fills *r (the caller frees it
 * with pdf_split_result_free()).  Input refusals (e->temporary == 0): any
 * pdf_check() refusal; PAGES: a page count that is not a multiple; KEY: a
 * bad regex; AUTO: no usable key given; KEY and AUTO: no key on page 1, no
 * key on any page, a page without a key that nothing says continues the
 * page before.
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
 * pdf_split_plan() then pdf_split_write() of r->groups, on the same
 * input (what the command uses).  emit is called as by pdf_split_write().
 * On -1, drop everything emitted.  r is filled as by pdf_split_plan().
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

#endif
