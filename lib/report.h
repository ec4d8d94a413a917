/*
 * report.h — the summary of the batches out with residents, for staff:
 * per batch, how many residents were sent mail, opened it, downloaded the
 * notice, bounced, failed, have not opened yet, whether a reminder of its
 * 督促 schedule is due, and the paper list's size.  Counts and internal ids
 * only: never a name, an address, a key or a title.  `tayori report`
 * prints it or queues it by mail to the admins; the mailer's daily summary
 * is the same text.  Runs in the command line and the mailer.
 */
#ifndef TAYORI_REPORT_H
#define TAYORI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"

struct store;

struct report_batch {
	uint64_t id;
	char status[32];        /* approved, sending, sent */
	int test;
	int64_t send_at;        /* 0: not yet */
	size_t residents, sent, opened, downloaded, bounced, failed, unopened, paper;
	int reminder_due;       /* a point of the schedule has passed and is not done */
	int64_t next_reminder;  /* the next point of the schedule, 0 none */
};

/* The batches approved, sending or sent, in id order, at now; caller
 * frees *out. */
int report_build(struct store *st, int64_t now, struct report_batch **out, size_t *n,
		 struct error *e);
/* The summary as text (a table, Japanese and English headings) or JSON
 * ({"generated":..., "batches":[...]}) appended to out. */
void report_text(const struct report_batch *v, size_t n, int64_t now, struct buf *out);
void report_json(const struct report_batch *v, size_t n, int64_t now, struct buf *out);
/* Queue text by mail (lib/mailreq.h, kind "report") to every enabled
 * admin (role admin or the manage-users permission) with an address, in
 * one transaction; *queued gets how many.  No admin with an address is an
 * error. */
int report_mail_admins(struct store *st, const char *subject, const char *text, size_t *queued,
		       struct error *e);

#endif
