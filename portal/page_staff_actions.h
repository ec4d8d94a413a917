/*
 * page_staff_actions.h — the HTML of a batch's further actions on the
 * dashboard: sending at a set time, reminding the unopened (督促),
 * withdrawing the batch, unlocking a resident's notice, and the exports;
 * the links on the batch page and each action's confirmation page (a
 * form with the CSRF token: nothing happens on a GET).  Times are entered
 * and shown in JST.  Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_ACTIONS_H
#define TAYORI_PAGE_STAFF_ACTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/notice.h"
#include "portal/page_staff.h"

/* The links to the actions and exports u may take on batch bs (nothing
 * for those u lacks the permission of, or that bs's status does not
 * allow). */
int page_staff_batch_tools(struct buf *b, const struct page_staff_user *u,
			   const struct batch_summary *bs);
/* In a resident's row: "（ロック中）" and, for u with the send permission,
 * a link to unlock it; nothing when the resident's notice is not locked. */
int page_staff_row_unlock(struct buf *b, const struct page_staff_user *u,
			  const struct batch_summary *bs, const struct notice_status *row);

/* What a confirmation page is about. */
struct page_staff_act {
	const char *action;  /* "sendat", "remind", "withdraw", "unlock" */
	const char *at;      /* sendat: the time as typed ("" none yet) */
	int64_t at_utc;      /* sendat: the time read, > 0 when asking to confirm it */
	uint32_t seq;        /* unlock: the resident's row */
	const char *key;     /* unlock: the resident's key */
	size_t count;        /* remind: residents not opened yet */
	const char *error;   /* why the last try was refused, "" none */
};
int page_staff_act_confirm(struct buf *b, const struct page_staff_user *u,
			   const struct batch_summary *bs, const struct page_staff_act *a);

#endif
