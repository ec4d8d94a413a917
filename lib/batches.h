/*
 * batches.h — the records of a batch in the store and the calls that read
 * or update them (listing, showing, approving, fetching a resident's signed
 * PDF).  Building a batch is gateway/batch.c's job.  Runs in every process
 * that reads batches: gateway, mailer, portal and the command line.
 *
 *   DB_BATCH_STATE  u64 batch -> rec BS_* (no personal data, unsealed)
 *   DB_BATCHES      u64 batch -> sealed rec BR_*
 *   DB_RESIDENTS    u64 batch | u32 seq -> sealed rec RR_*
 *   DB_RESIDENT_IDX HMAC("resident", u64 batch | key) -> u64 batch | u32 seq
 *   DB_PDFS         u64 batch | u32 seq -> sealed signed PDF, where seq is the
 *                   resident's row (1...), BATCH_PDF_COMMON for one PDF for
 *                   everybody, BATCH_PDF_EXTRA + i for extra attachments
 */
#ifndef TAYORI_BATCHES_H
#define TAYORI_BATCHES_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"

enum { RR_KEY = 1, RR_NAME, RR_EMAIL, RR_MESSAGE, RR_AUTH, RR_LINE, RR_FLAGS, RR_PDF, RR_EXTRA };
enum { BR_TITLE = 1, BR_MESSAGE, BR_SPLIT, BR_REPORT, BR_ACTOR, BR_FROM, BR_CREATED, BR_EXTRAS,
       BR_AUTH, BR_REMINDERS, BR_DEADLINE, BR_EXPIRY, BR_LEVEL,
       BR_AUTH_COLUMN /* the CSV column whose value proves who one is: the portal's label */,
       BR_KYOUJI /* the 教示 (how to appeal), "" or absent: none */,
       BR_CONSENT /* u64 1: the batch asks residents to consent to electronic delivery */,
       BR_SUBMITTER /* the submitter's own address (their staff account's), "" or absent:
		       unknown; a test batch goes there (mailer/send.h) */,
       BR_TYPE /* the notice type (種類), one of the ward's (lib/wardset.h); "" or
		  absent: none given */ };
enum { BS_STATUS = 1, BS_CREATED, BS_TEST, BS_RECIPIENTS, BS_MATCHED, BS_SIGNED, BS_PID,
       BS_SEND_AT /* UTC seconds: send no sooner (absent or 0: at once) */,
       BS_DEADLINE /* "YYYY-MM-DD" (Japan): the 期限 fixed when a batch without its own
		      (BR_DEADLINE) is sent, from the ward's default (lib/wardset.h) */ };

#define BATCH_PDF_COMMON 0xffffffffu
#define BATCH_PDF_EXTRA  0x80000000u

#define BATCH_STATUS_STORING  "storing"
#define BATCH_STATUS_WAITING  "awaiting_approval"
#define BATCH_STATUS_APPROVED "approved"
#define BATCH_STATUS_SENDING  "sending"  /* `tayori batch send`: the mailer sends it */
#define BATCH_STATUS_SENT     "sent"     /* every delivery final: sent, bounced or failed */
#define BATCH_STATUS_WITHDRAWN "withdrawn" /* `tayori batch withdraw`: nothing opens, nothing is sent */

struct store;
struct store_txn;
struct staff;

struct batch_summary {
	uint64_t id;
	char status[32];
	int64_t created;
	int test;
	uint64_t recipients, matched, signed_pdfs;
	int64_t send_at; /* when sending starts (0: not sent yet) */
	char title[512];
	char deadline[128];   /* the 期限 as batches_deadline gives it, "" none */
	int deadline_default; /* 1: the ward's default, fixed when it was sent */
	char notice_type[256]; /* BR_TYPE, "" none */
};

/* Batches in id order (those still being stored are left out); caller frees. */
int batches_list(struct store *st, struct batch_summary **out, size_t *n, struct error *e);
/* 0 found, 1 no such batch, -1 error.  report gets the stored matching
 * report (JSON) when not NULL. */
int batches_get(struct store *st, uint64_t id, struct batch_summary *out, struct buf *report,
		struct error *e);
/* Move a batch from one status to another, with an audit record. */
int batches_set_status(struct store *st, uint64_t id, const char *from, const char *to,
		       const char *actor, const char *where, const char *action, struct error *e);
/* Approve a batch awaiting approval.  by is the approving staff member
 * (NULL: nobody named, allowed only without four_eyes); run_by is who runs
 * the command ("cli:root") and where where it runs.  by must be enabled and
 * hold PERM_APPROVE; with four_eyes, by must not be the submitter
 * (BR_ACTOR "staff:N" is staff N; "cli:USER" is the staff member whose
 * login is USER).  Refusals say why (not temporary); the approval is
 * audited with the approver as actor, in the same transaction. */
int batches_approve(struct store *st, uint64_t id, const struct staff *by, const char *run_by,
		    const char *where, int four_eyes, struct error *e);
/* Start sending an approved batch: status approved -> sending, BS_SEND_AT =
 * send_at (UTC seconds; the mailer starts then), audited (batch.send).  A
 * batch without its own 期限 gets the ward's default one (the settings
 * page's days, else WARDSET_DEADLINE_DAYS_DEFAULT, after send_at) fixed
 * as BS_DEADLINE in the same transaction: the mail, the paper list, the
 * export and the dashboard all read that one date (batches_deadline). */
int batches_send(struct store *st, uint64_t id, int64_t send_at, const char *actor,
		 const char *where, struct error *e);
/* In the write transaction t: move batch id from status from to status to,
 * every other field of its state kept, and when tag is not 0 set that
 * field to val (e.g. BS_SEND_AT).  No audit record: the caller writes it. */
int batches_change_status(struct store_txn *t, uint64_t id, const char *from, const char *to,
			  uint16_t tag, uint64_t val, struct error *e);
/* Withdraw batch id (awaiting approval, approved, sending or sent):
 * status -> withdrawn, audited (batch.withdraw, actor "staff:N" of by).
 * by must be enabled and hold PERM_APPROVE (who may let a notice out may
 * call it back).  Afterwards every link and code of the batch answers the
 * portal's contact page and the mailer sends nothing more of it. */
int batches_withdraw(struct store *st, uint64_t id, const struct staff *by, const char *run_by,
		     const char *where, struct error *e);
/* The 期限 of batch id as text in transaction t: its own (BR_DEADLINE, as
 * staff wrote it) or else the default fixed when it was sent
 * (BS_DEADLINE, "YYYY-MM-DD"); "" none (not sent yet, or sent before the
 * default was fixed).  0, or -1 error. */
int batches_deadline(struct store_txn *t, uint64_t id, char *out, size_t size, struct error *e);
/* Who submitted batch id (BR_ACTOR: "staff:N", "cli:USER", ...):
 * 0 found, 1 no such batch, -1 error. */
int batches_submitter(struct store *st, uint64_t id, char *out, size_t outsize, struct error *e);

/* The row (seq) of the resident with key in batch id: 0 found, 1 no such
 * resident, -1 error. */
int batches_resident_seq(struct store *st, uint64_t id, const char *key, uint32_t *seq,
			 struct error *e);

/* The exact signed bytes stored for the resident with key in batch id:
 * 0 found (appended to pdf), 1 no such resident or no PDF, -1 error. */
int batches_resident_pdf(struct store *st, uint64_t id, const char *key, struct buf *pdf,
			 struct error *e);

#endif
