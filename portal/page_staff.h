/*
 * page_staff.h — the HTML of the staff dashboard: Japanese, plain, no
 * script, labelled inputs, the HTTP layer's one stylesheet, a header with
 * the staff member's name, the batches link and a logout button on every
 * page behind the login.  Each function appends a whole page to b and
 * returns 0, or -1 when b's cap is reached.  Times are shown in JST.
 * Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_H
#define TAYORI_PAGE_STAFF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/notice.h"

/* Who is looking: shown in the header; csrf goes into every form. */
struct page_staff_user {
	const char *login;
	const char *name;
	const char *csrf;
	uint32_t perms;
};

/* The start of a page behind the login (u set) or before it (u NULL),
 * and its end. */
int page_staff_begin(struct buf *b, const char *title, const struct page_staff_user *u);
int page_staff_end(struct buf *b);

/* The login form; login refills the user ID, error says what went wrong
 * ("" none). */
int page_staff_login(struct buf *b, const char *csrf, const char *login, const char *error);
/* The <option>s of the ward's notice types (types: the settings' list),
 * the one named selected marked so; names escaped. */
int page_staff_type_options(struct buf *b, const char *types, const char *selected);
/* 403: what (Japanese: "承認") may not be done by u. */
int page_staff_refused(struct buf *b, const struct page_staff_user *u, const char *what);
/* A short page: a heading, a sentence, and a link back (href, label). */
int page_staff_note(struct buf *b, const struct page_staff_user *u, const char *title,
		    const char *text, const char *href, const char *label);
/* The password page is page_staff_users.h's page_staff_password_form. */

/* Japanese names of a batch status and of a resident's state. */
const char *page_staff_status_ja(const char *status);
const char *page_staff_state_ja(const char *state);

struct page_staff_filter {
	const char *status; /* "" all */
	const char *q;      /* title search, "" none */
	const char *type;   /* notice type (BR_TYPE), "" all */
	const char *types;  /* the ward's notice types (lib/wardset.h) to choose from, "" none */
};
/* The batches, newest first (list is in that order already). */
int page_staff_batches(struct buf *b, const struct page_staff_user *u,
		       const struct batch_summary *list, size_t n,
		       const struct page_staff_filter *f);

/* Counts of the residents' states, for a batch page. */
struct page_staff_live; /* portal/page_staff_chart.h */
struct page_staff_counts {
	size_t total, queued, sending, sent, deferred, failed, bounced, opened, downloaded,
		paper, contacts;
	const struct page_staff_live *live; /* usage, chart, scanner flags; NULL: not shown */
};
/* The states' counts as the batch page writes them (the live view sends
 * the same text). */
void page_staff_counts_text(const struct page_staff_counts *c, char *out, size_t outsize);
/* A resident's row cells as the batch page writes them, for a batch being
 * sent or sent: the state (with （紙） when on the paper list too), the
 * contacts, and the times (JST, "—" for not yet; the open with the link
 * scanner's note when scanner is set). */
struct page_staff_row_text {
	char state[96], contacts[16], sent[40], opened[160], downloaded[40];
};
void page_staff_row_text(const struct notice_status *s, int scanner,
			 struct page_staff_row_text *out);
#define PAGE_STAFF_SCANNER_NOTE "（メールのリンク確認サービスによる自動の開封かもしれません）"
/* One batch: its summary, the counts, the actions u may take and one page
 * (page, from 1) of its residents when rows is not NULL. */
int page_staff_batch(struct buf *b, const struct page_staff_user *u,
		     const struct batch_summary *bs, const struct page_staff_counts *c,
		     const struct notice_status *rows, size_t nrows, size_t page, size_t pages);
/* The confirmation before an action: action is "approve" or "send";
 * error ("" none) says why the last try was refused. */
int page_staff_confirm(struct buf *b, const struct page_staff_user *u,
		       const struct batch_summary *bs, const char *action, const char *error);

#endif
