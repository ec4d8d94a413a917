/*
 * digest.h — the mail the mailer writes to staff on its own schedule.
 * Runs in the mailer process.
 *
 *   The daily summary: when [mail] report_time (HH:MM, Japan time) is set,
 *   once per day at or after that time the summary of lib/report.h
 *   (counts and batch ids, never a name) is queued by mail to [mail]
 *   report_to.  The last day it went is kept in the store (DB_META), so a
 *   restart does not send it twice, and a mailer that was down at that
 *   time sends it when it comes back the same day.
 *
 *   The paper list is final: once the deadline (期限) of a sent live batch
 *   has passed, one mail to [mail] report_to and to the batch's submitter
 *   (BR_FROM, when it is an address) says that its paper list is final, with its count and the command
 *   that prints it.  Once per batch: BS_PAPER_TOLD in its state records
 *   when.  A batch without a deadline has no final paper list.
 *
 * Both are queued as mail requests (lib/mailreq.h) in the same
 * transaction that records them, and leave with the mailer's other mail.
 */
#ifndef TAYORI_DIGEST_H
#define TAYORI_DIGEST_H

#include <stdint.h>

#include "lib/util.h"

/* DB_BATCH_STATE: UTC seconds when staff were told the paper list is final. */
#define BS_PAPER_TOLD 40
/* DB_META key: the Japanese day (days since 1970-01-01) of the last summary. */
#define DIGEST_META_DAY "mailer.report_day"
#define DIGEST_EVERY 60 /* seconds between looks */

struct conf;
struct store;
struct digest;

/* Read [mail] report_time and report_to (-1 naming a bad one). */
int digest_open(const struct conf *c, struct store *st, struct digest **out, struct error *e);
void digest_close(struct digest **d);
/* Queue what is due at now; looks at most once per DIGEST_EVERY (the
 * first call looks at once).  *queued gets the number of mails queued. */
int digest_step(struct digest *d, int64_t now, size_t *queued, struct error *e);

#endif
