/*
 * send.h — one resident's notification, from the store to the bytes the
 * transport carries: the batch's settings (read once per batch), the
 * resident's address and own message (unsealed per message), a fresh link
 * token (lib/notice.h notice_link_new) and the resident's notice code, the
 * message itself (mailer/message.h), its VERP return path (mailer/verp.h)
 * and, when [mail] dkim_selector is set, its DKIM-Signature
 * (mailer/dkim.h).  Runs in the mailer process.
 *
 * Who receives it: the resident's own address for a live batch; for a test
 * batch (テスト) the submitter (BR_SUBMITTER: the address of the staff
 * account that submitted it, which the gateway and `tayori submit` store;
 * for older batches BR_FROM when it is an address) and
 * [mail] test_addresses instead, without
 * duplicates, in turn by seq, and the message is marked テスト.  A resident the batch holds back (any
 * row flag: no address, an invalid one, a duplicate key...) gets no mail:
 * that is the paper list.
 */
#ifndef TAYORI_SEND_H
#define TAYORI_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/notice.h"
#include "lib/util.h"
#include "lib/wardset.h"
#include "mailer/message.h"
#include "mailer/pool.h"

struct conf;
struct store;
struct store_txn;
struct keys_client;

#define SEND_ADDR_MAX 254
#define SEND_TEST_MAX 16        /* test addresses kept */
#define SEND_LINK_TTL_DEFAULT (180 * 86400) /* no 公開期限: links last 180 days */
#define SEND_DEADLINE_DEFAULT (WARDSET_DEADLINE_DAYS_DEFAULT * 86400) /* no 期限 */

/* What the sender reads from the configuration, once. */
struct send_ctx {
	struct store *st;
	struct keys_client *kc;
	const struct conf *conf;
	char from[SEND_ADDR_MAX + 1];
	char from_name[256];
	char reply_to[SEND_ADDR_MAX + 1];
	char domain[SEND_ADDR_MAX + 1];   /* of from: the Message-ID */
	char verp_domain[SEND_ADDR_MAX + 1]; /* of the return paths: [mail] bounce_domain */
	char portal_url[MESSAGE_URL_MAX];
	char contact[1200];
	char test[SEND_TEST_MAX][SEND_ADDR_MAX + 1];
	size_t ntest;
};

/* A batch's settings for its messages (sealed in DB_BATCHES). */
struct send_batch {
	uint64_t id;
	int test;
	char *title;
	char *raw_title;       /* BR_TITLE as stored ("" when none): the consent type */
	char *message;
	char *kyouji;          /* the batch's 教示 (BR_KYOUJI), NULL when none */
	enum message_auth auth;
	char deadline[11];     /* YYYY-MM-DD */
	int64_t expires;       /* the links' expiry, UTC seconds */
	char actor[64];        /* who submitted it ("staff:3"), for the report */
	char submitter[SEND_ADDR_MAX + 1]; /* a test batch: BR_SUBMITTER (or BR_FROM), or "" */
	/* The ward's settings from the dashboard (lib/wardset.h), read when the
	 * batch is loaded: they override the conf's contact and test addresses. */
	char contact[1200];    /* "" : the send_ctx's ([mail] contact) */
	int tests_set;         /* the test addresses below replace the send_ctx's */
	char (*tests)[SEND_ADDR_MAX + 1]; /* SEND_TEST_MAX entries, heap (send_batch_free) */
	size_t ntests;
};

/* One resident as the sender needs them. */
struct send_resident {
	uint32_t seq;
	int mailable;           /* no row flag and an address */
	char email[SEND_ADDR_MAX + 1];
	char key[129];          /* the resident's normalised key (宛名番号): consent */
	char *message;          /* the resident's own message, or NULL */
};

int send_ctx_init(struct send_ctx *c, struct store *st, struct keys_client *kc,
		  const struct conf *conf, struct error *e);
/* Split a comma-separated list of addresses into out (at most max); -1
 * naming the first invalid one. */
int send_addr_list(const char *list, char (*out)[SEND_ADDR_MAX + 1], size_t max, size_t *n,
		   struct error *e);

/* The submitter's address from a batch's BR_FROM (where it came from:
 * the sender's address, or "cli", "imap", "drop"...): out is from when
 * that is a valid address, else "". */
void send_submitter_address(const char *from, char *out, size_t outsize);
/* The end, in Japan, of the first date written in s (2026-12-25,
 * 2026/12/25, 2026年12月25日), as UTC seconds: 0, or -1 when none. */
int send_date_end(const char *s, int64_t *end_of_day);

/* Read batch id's settings (now: when sending starts, for the defaults). */
int send_batch_load(struct store *st, uint64_t id, int test, int64_t now, struct send_batch *b,
		    struct error *e);
void send_batch_free(struct send_batch *b);

/* Read resident seq of batch: 0, 1 absent, -1 error. */
int send_resident_read(struct store_txn *t, uint64_t batch, uint32_t seq, struct send_resident *r,
		       struct error *e);
/* send_resident_read() for n residents with one keys request for all:
 * found[i] 1 read, 0 absent; -1 error. */
int send_residents_read(struct store_txn *t, size_t n, const uint64_t *batch, const uint32_t *seq,
			struct send_resident *r, int *found, struct error *e);
void send_resident_free(struct send_resident *r);

/* Where resident r's message goes ("" when nowhere: a test batch without
 * test addresses). */
const char *send_rcpt(const struct send_ctx *c, const struct send_batch *b,
		      const struct send_resident *r);

/* Build the message for r with link token and notice code into job (rcpt,
 * return path, bytes owned by job->msg).  now is its Date.  return_path is
 * r's VERP (mailer/verp.h verp_addresses(), made for a whole chunk at
 * once), or NULL to ask the keys process for it here. */
int send_build(const struct send_ctx *c, const struct send_batch *b, const struct send_resident *r,
	       const char *token, const char *code, const char *return_path, int64_t now,
	       struct pool_job *job, struct error *e);

#endif
