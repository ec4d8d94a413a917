/*
 * page_staff_resident.h — the HTML of one resident's details on the staff
 * dashboard: the key, name and e-mail address, the state and times, and
 * the resident's events (opens, downloads, sends...) in JST.  Same frame
 * and rules as page_staff.h.  Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_RESIDENT_H
#define TAYORI_PAGE_STAFF_RESIDENT_H

#include <stddef.h>

#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/notice.h"
#include "portal/page_staff.h"

struct page_staff_resident {
	const struct batch_summary *bs;
	const struct notice_status *st; /* NULL: no delivery yet */
	const char *key, *name, *email;
	uint32_t seq;
	const struct notice_event_rec *ev; /* in time order */
	size_t nev;
};

int page_staff_resident(struct buf *b, const struct page_staff_user *u,
			const struct page_staff_resident *r);

#endif
