/*
 * pdf_split_int.h — private to the split module (pdf_split*.c), not for
 * other callers: what the page reading (pdf_split_match.c) finds on each
 * page, and what the attribution (pdf_split_evidence.c, pdf_split.c)
 * makes of it.  The rules are in pdf_split.h.
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.
 */
#ifndef TAYORI_PDF_SPLIT_INT_H
#define TAYORI_PDF_SPLIT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>
#include "lib/util.h"
#include "pdf/pdf_split.h"

/* Distinct keys remembered per page in AUTO mode (a notice page shows one,
 * a household page a few). */
#define PAGE_KEYS_MAX 8

/* ---------------------------------------------------------------- */
/* AUTO: the key matcher                                             */

struct matcher {
	char **keys;          /* unique normalised keys; the index is the key id */
	size_t n;
	GHashTable *digits;   /* all-digit keys: digits without leading zeros -> id+1 */
	int *next_same;       /* next id with the same stripped digits, or -1 */
	GHashTable *tokens;   /* keys of A-Z a-z 0-9 - _ (not all digits) -> id+1 */
	int *others;          /* ids of keys with any other character */
	size_t nothers;
	size_t digit_minlen;  /* shortest all-digit key as given; 0: none */
};

/* Bytes of the word printed before a number, kept as its label. */
#define LABEL_MAX 32

/*
 * A run of digits on a page at least as long as the shortest all-digit
 * key (AUTO): a key of the list, or a number that may be someone's key.
 */
struct digit_run {
	int id;                    /* key id, or -1: not a key of the list */
	int len;                   /* digits */
	int whole;                 /* a token by itself (not inside R6-000123) */
	char *value;               /* the digits as printed */
	char label[LABEL_MAX + 1]; /* the word printed before it (run_label()) */
};

struct page_res {
	int nfound;                /* distinct keys seen, capped at PAGE_KEYS_MAX */
	int ids[PAGE_KEYS_MAX];    /* key ids in order of appearance (KEY: interned) */
	char *found;               /* as printed (AUTO: for ids[0]; KEY: first match) */
	char **kv;                 /* KEY: the nfound distinct matches */
	struct digit_run *runs;    /* AUTO with all-digit keys */
	int nruns, runs_cap;
	int too_many;              /* more keys or numbers than remembered */
	int mark_n, mark_m;        /* the page marker "n/m", or 0 */
};

/* What the text threads fill, one page each (pdf_split_match_page()). */
struct scan_ctx {
	enum pdf_split_mode mode;
	const struct matcher *m;  /* AUTO */
	GRegex *re;               /* KEY */
	struct page_res *pages;   /* [npages], one slot per page: no locking */
};

/*
 * What the batch teaches about its keys (AUTO, every key all digits): the
 * label printed before the key on pages that show one key of the list,
 * the digit counts it is printed with, the labels of the other numbers
 * printed beside it (another role, such as 世帯主番号), and without a
 * label, the numbers that turn up in separate places (a date, a phone
 * number: not keys).
 */
struct learned {
	int have_label;
	const char *label;        /* borrowed from a page's run */
	uint64_t widths;          /* bit n: keys printed with n digits */
	GHashTable *secondary;    /* labels of numbers in another role */
	GHashTable *constant;     /* without a label: numbers that are not keys */
};

/* Who a page's evidence points to. */
enum page_kind { PAGE_KEYLESS, PAGE_KEYED, PAGE_CONT, PAGE_UNDECIDED };

#define CANDS_MAX (2 * PAGE_KEYS_MAX)

struct owners {
	int v[CANDS_MAX];
	int n;
	int overflow;
};

/* AUTO: the matcher of the keys given (unique, normalised); -1 when none
 * is usable.  Free with pdf_split_match_free(). */
int pdf_split_match_init(struct matcher *m, const char *const *keys, size_t nkeys,
			 struct error *e);
void pdf_split_match_free(struct matcher *m);

/* The pdf_fasttext_each() callback: arg is a struct scan_ctx; fills
 * c->pages[page - 1] from the page's text (KEY: every match of the
 * pattern; AUTO: the keys and numbers found; both: the page marker). */
int pdf_split_match_page(void *arg, int page, const char *text, size_t len, struct error *e);

/* Free what pdf_split_match_page() kept for pages[0..npages), and pages. */
void pdf_split_match_pages_free(struct page_res *pages, int npages);

/* AUTO, every key all digits: what the whole batch teaches (struct
 * learned); free with pdf_split_evidence_free(). */
void pdf_split_evidence_learn(const struct page_res *pages, int npages, const struct matcher *m,
			      struct learned *l);
void pdf_split_evidence_free(struct learned *l);

/* Add id to o once (o->overflow past CANDS_MAX). */
void pdf_split_evidence_add(struct owners *o, int id);

/*
 * AUTO: the evidence of one page, given the current resident cur (an id,
 * or -1).  c receives the candidates of a decided or undecided page;
 * *numbered says a keyless page shows a number that may be a key.  A
 * number not in the list gets an id after the keys: unknown maps it to
 * its id, names[id - m->n] is the number.
 */
enum page_kind pdf_split_evidence_page(const struct page_res *pr, const struct matcher *m,
				       const struct learned *l, GHashTable *unknown,
				       GPtrArray *names, int cur, struct owners *c, int *numbered);

/* The key as printed on page pr for id, or NULL. */
const char *pdf_split_evidence_printed(const struct page_res *pr, const struct learned *l,
				       int id);

#endif
