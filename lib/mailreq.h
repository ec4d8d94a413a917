/*
 * mailreq.h — mail another process asks the mailer to send: a one-time
 * password the portal made for a resident, a report.  Each request is one
 * sealed record of DB_MAILQ (u64 id -> sealed rec MQ_*); the mailer builds
 * a plain-text message from it, hands it to its transport and deletes the
 * record once the relay (or the Maildir) took it.  Runs in the portal and
 * the command line (they add requests) and in the mailer (it reads and
 * deletes them).
 *
 * The text is the message body as the reader sees it (UTF-8, lines ending
 * in LF); the mailer adds From ([mail] from), Date and Message-ID, encodes
 * the subject (RFC 2047) and the body (base64), and marks the message
 * Auto-Submitted: auto-generated (RFC 3834).
 */
#ifndef TAYORI_MAILREQ_H
#define TAYORI_MAILREQ_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"

struct store_txn;

enum { MQ_KIND = 1, MQ_TO, MQ_SUBJECT, MQ_TEXT, MQ_CREATED, MQ_BATCH, MQ_SEQ };

#define MAILREQ_KIND_MAX 16       /* "otp", "report" */
#define MAILREQ_TO_MAX 254        /* one address */
#define MAILREQ_SUBJECT_MAX 600
#define MAILREQ_TEXT_MAX (64u << 10)

struct mailreq {
	uint64_t id;                    /* set by mailreq_add / mailreq_read */
	char kind[MAILREQ_KIND_MAX];    /* "otp", "report", ... (for the log) */
	char to[MAILREQ_TO_MAX + 1];
	char subject[MAILREQ_SUBJECT_MAX + 1];
	char *text;                     /* owned; mailreq_clear frees (and wipes) it */
	int64_t created;                /* UTC seconds */
	uint64_t batch;                 /* the batch it is about, 0 = none */
	uint32_t seq;                   /* the resident it is about, 0 = none */
};

/* Queue a request in a write transaction (sealed; id set).  -1 with e when
 * the address is not valid, a field is too long or holds a control
 * character other than LF in the text. */
int mailreq_add(struct store_txn *t, struct mailreq *m, struct error *e);
/* Decode a request from its unsealed record. */
int mailreq_decode(uint64_t id, const uint8_t *rec, size_t len, struct mailreq *m,
		   struct error *e);
void mailreq_clear(struct mailreq *m);

#endif
