/*
 * page_staff_audit.h — the HTML of the audit log page: the search form
 * (person, action, a date range in JST), the matching records newest first
 * with their time in JST (stored in UTC), paging by a record number (older
 * records, back to the newest), and the "verify the
 * chain" button with its result in Japanese.  Same frame and rules as
 * page_staff.h.  Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_AUDIT_H
#define TAYORI_PAGE_STAFF_AUDIT_H

#include <stddef.h>

#include "lib/audit.h"
#include "lib/buf.h"
#include "portal/page_staff.h"

struct page_staff_audit_q {
	const char *person, *action, *from, *to; /* as typed ("" none); dates YYYY-MM-DD */
	uint64_t before;                         /* the page's records are below this
						    number (0: from the newest) */
	size_t shown;                            /* records on the page */
	uint64_t older;                          /* the next page's `before` (0: none) */
	const char *error;                       /* a search that could not be read ("" none) */
	int verified;                            /* 0 not asked, 1 intact, -1 broken */
	const char *verify_msg;                  /* the result in Japanese */
};

int page_staff_audit(struct buf *b, const struct page_staff_user *u,
		     const struct page_staff_audit_q *q, const struct audit_view *rows, size_t n);

#endif
