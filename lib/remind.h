/*
 * remind.h — reminders (督促) to residents who have not opened their notice:
 * the batch's schedule (its 督促 setting, e.g. "3,7": 3 and 7 days after
 * sending began), which reminder is due at a given time (pure), and
 * queuing a reminder for a batch.  Runs in the mailer (the schedule) and the
 * command line (`tayori batch remind ID`).
 *
 * A reminder puts every delivery of the batch that is "sent" and whose
 * resident has not opened the notice (access opened_at == 0) back to
 * "queued" (attempts 0), records an EV_REMINDED event for it (an audit
 * record), and moves the batch from "sent" back to "sending" so that the
 * mailer reads its deliveries again and sends the queued ones, each with a
 * fresh link; contacts rises by one when the relay accepts it.  A queued
 * delivery whose contacts is above 0 is therefore a reminder (lib/notice.h).
 * A batch still "sending" is not reminded: its messages have not all gone
 * out yet.
 */
#ifndef TAYORI_REMIND_H
#define TAYORI_REMIND_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

struct store;

#define REMIND_MAX 8       /* reminders in one schedule */
#define REMIND_DAYS_MAX 365

/* Batch state field (DB_BATCH_STATE, lib/batches.h): how many points of
 * the schedule have been reminded (u64; absent = 0). */
#define BS_REMINDED 30

struct remind_schedule {
	uint32_t days[REMIND_MAX]; /* days after sending began, ascending, distinct */
	size_t n;
};

/* Read a 督促 setting as written: numbers of days (ASCII or full-width
 * digits, each 1..REMIND_DAYS_MAX) separated by commas (, ， 、), slashes
 * or spaces, each optionally followed by 日 or 日後; empty, なし or none
 * mean no reminders.  -1 with e naming what is wrong. */
int remind_schedule_parse(const char *text, struct remind_schedule *out, struct error *e);

/* How many points of the schedule have passed at now for a batch whose
 * sending began at send_at: k > done means a reminder is due now (and the
 * batch's BS_REMINDED becomes k: points missed while the mailer was down
 * make one reminder, not several); 0 when none is due.  *next_at (may be
 * NULL) gets the time of the next point after now, 0 when none is left.
 * Pure. */
size_t remind_due(const struct remind_schedule *s, int64_t send_at, uint32_t done, int64_t now,
		  int64_t *next_at);

/* Queue a reminder for batch id (see above), at now.  scheduled > 0: this
 * is the schedule's reminder and BS_REMINDED becomes scheduled; 0: asked by
 * staff (`tayori batch remind`).  *count gets the residents reminded; with
 * none, nothing changes.  One write transaction with its audit records
 * (EV_REMINDED per resident, batch.remind for the batch). */
int remind_batch(struct store *st, uint64_t id, int64_t now, uint32_t scheduled,
		 const char *actor, const char *where, size_t *count, struct error *e);

/* The schedule's reminders for every sent batch, at now: for each batch
 * whose 督促 schedule has a point due (remind_due against its BS_SEND_AT
 * and BS_REMINDED), remind_batch(..., scheduled = the points passed,
 * "mailer", "mailer").  The mailer calls it now and then (once a minute is
 * plenty).  A batch with an unreadable schedule is logged and skipped;
 * *reminded (may be NULL) gets the residents reminded in all.  -1 only
 * when the store cannot be read. */
int remind_scheduled(struct store *st, int64_t now, size_t *reminded, struct error *e);

#endif
