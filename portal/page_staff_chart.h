/*
 * page_staff_chart.h — the usage figures of a batch page (sent, messages
 * with attachments, opens, downloads, certificate downloads, bounces,
 * reminders, the paper list) and its chart of opens and downloads over
 * time, drawn on the server as inline SVG (a title, a description and the
 * same figures as a table beside it; no script, no chart library).  The
 * live view (staff_live.c) sends the same figures as the page shows.
 * Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_CHART_H
#define TAYORI_PAGE_STAFF_CHART_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/notice.h"

/* What a batch's residents did, summed over all of them. */
struct page_staff_usage {
	size_t residents;   /* on the batch */
	size_t mails;       /* messages the relay accepted (first ones and reminders) */
	size_t attachments; /* messages with the notice attached: always 0 */
	size_t opened;      /* residents who opened their notice */
	size_t downloaded;  /* residents who downloaded it (arrival) */
	size_t certs;       /* downloads of the signer's certificate */
	size_t bounced;     /* residents whose mail bounced or failed */
	size_t reminders;   /* reminder messages sent */
	size_t paper;       /* residents on the paper list */
};

/* What the batch page shows beyond the states' counts (page_staff.h's
 * struct page_staff_counts points at it). */
struct page_staff_live {
	struct page_staff_usage usage;
	const struct notice_status *all; /* every resident, for the chart */
	size_t nall;
	const uint8_t *scanner; /* per row of the page shown: 1 when its first open
				   looks like a link scanner's; NULL none */
	int64_t now;            /* UTC seconds */
	int64_t since_us;       /* when the page was made: the live view starts there */
};

void page_staff_usage_of(const struct notice_status *rows, size_t n, struct page_staff_usage *u);
/* One figure as the page writes it ("3 人"): name is the u- id's suffix. */
void page_staff_usage_text(const struct page_staff_usage *u, const char *name, char *out,
			   size_t outsize);
/* The names of the figures, in page order, ending with NULL. */
extern const char *const page_staff_usage_names[];

/* The usage table (each figure in an element with id "u-NAME"). */
int page_staff_usage(struct buf *b, const struct page_staff_usage *u);
/* The chart of residents who opened and downloaded, cumulated over time
 * (at most PAGE_CHART_BUCKETS periods, from the first mail to now), and
 * the table of the same figures. */
#define PAGE_CHART_BUCKETS 24
int page_staff_chart(struct buf *b, const struct notice_status *rows, size_t n, int64_t now);

#endif
