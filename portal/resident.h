/*
 * resident.h — the resident side of the portal: the front page and its
 * notice-code form, the link page (/n/TOKEN), the click that opens a
 * notice, the batch's proof of identity (the link alone, a mailed one-time
 * password, a value from the CSV), the resident's session, the notice page
 * with its PDF, certificate, consent and decline.  Handlers run on the HTTP
 * layer (portal/http.h); every one that touches the store is HTTP_SLOW.
 * They hold no lock of their own: LMDB read transactions run side by side,
 * the keys client takes one of its channels for each round trip, and every
 * write goes through one writer thread that commits many requests' events
 * at once (resident_group.c).  Runs in the portal process.
 */
#ifndef TAYORI_RESIDENT_H
#define TAYORI_RESIDENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/notice.h"
#include "lib/util.h"
#include "portal/http.h"

struct store;
struct conf;
struct resident_job;
struct resident_cache;
struct resident_pdf_ref;
struct resident_memo;
struct resident_arrival;

#define RESIDENT_SESSION_COOKIE "tayori_rs"
#define RESIDENT_SESSION_TTL    3600  /* seconds a resident's session lasts */
#define RESIDENT_CODE_LINK_TTL  3600  /* a link made for a typed notice code */
#define RESIDENT_GROUP_MAX      256   /* events committed together, at most */
#define RESIDENT_LATER_MAX      4096  /* events queued that nobody waits for, at most */
#define RESIDENT_LATER_DELAY_MS 100   /* how long such events gather for one commit */
#define RESIDENT_WOULD_BLOCK    2     /* a lookup that would need the keys process */

struct resident_ctx {
	struct store *st;
	/* The group commit (resident_group.c): requests queue their events
	 * and wait; the writer thread commits them together, then wakes each. */
	pthread_mutex_t group_lock;
	pthread_cond_t group_wake;
	pthread_t group_thread;
	struct resident_job *group_head, *group_tail;
	int group_stop, group_running;
	size_t group_queued;          /* jobs in the queue */
	size_t group_waiting;         /* of them, jobs a request waits on */
	size_t group_later;           /* jobs nobody waits for, queued or being written */
	struct resident_arrival *arrived; /* notices whose arrival is committed */
	struct resident_cache *pdfs;  /* decrypted PDFs, [portal] pdf_cache bytes */
	struct resident_memo *memo;   /* records keys already judged (resident_memo.c) */
	char ward[256];               /* [tenant] name: the issuer */
	char ward_host[256];          /* host of [portal] public_url */
	char announcement_url[512];   /* [portal] announcement_url, "" none */
	char description[4001];       /* [portal] description: the default, "" none */
	char terms[32];               /* [portal] consent_terms: the terms version */
	struct http_limiter *code_limit;  /* notice-code lookups per IP */
	struct http_limiter *otp_ip_limit; /* OTP mail requests per IP */
	struct http_limiter *otp_tok_limit; /* OTP mail requests per notice */
	struct http_limiter *auth_limit;  /* answers (OTP, CSV value) per IP */
};

/* Fill rc from the configuration; st stays the caller's. */
int resident_ctx_init(struct resident_ctx *rc, struct store *st, const struct conf *conf,
		      struct error *e);
void resident_ctx_free(struct resident_ctx *rc);

/* The resident listener's routes (ctx: a struct resident_ctx). */
extern const struct http_route resident_routes[];

/* ---- shared by the resident_*.c files ---- */

/* What a page about one notice needs, read from the batch and the
 * resident's records. */
struct resident_notice {
	uint64_t batch;
	uint32_t seq;
	char title[512];
	char auth[16];        /* "magic", "otp", "csv" ("" reads as magic) */
	int test;             /* a test batch: the テスト banner */
	int consent_asked;    /* the batch asks for consent to electronic delivery (同意) */
	int64_t expires;      /* the batch's public period end, 0 = none */
	char key[128];        /* the resident's key */
	char email[256];      /* the resident's address, "" none */
	char auth_value[256]; /* the CSV value to match, "" none */
	char auth_label[256]; /* the CSV column's name (生年月日), "" unknown */
	uint32_t pdf_seq;     /* the resident's PDF in DB_PDFS, 0 = none */
	struct buf message;   /* the message to residents (batch or per resident) */
	struct buf kyouji;    /* the batch's 教示 (how to appeal), empty when none: then
			       * no appeal deadline is shown */
};

/* Read a notice.  0 found, 1 no such batch or resident
 * (or the batch is not approved), -1 error.  resident_notice_free after a
 * 0 (nothing is left to free otherwise). */
int resident_notice_load(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
			 struct resident_notice *n, struct error *e);
/* The same, only from records keys already unsealed (resident_memo.c):
 * RESIDENT_WOULD_BLOCK when one is not known, so a listener's thread
 * never waits for keys. */
int resident_notice_known(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
			  struct resident_notice *n, struct error *e);
void resident_notice_free(struct resident_notice *n);

/* A resident's session (DB_SESSIONS: SHA-256(token) -> NR_KIND "resident",
 * NR_BATCH, NR_SEQ, NR_CREATED, NR_EXPIRES, MACed).  new: token gets a
 * fresh one.  find: 0 valid (batch, seq set), 1 unknown, expired or
 * forged, -1 error. */
int resident_session_new(struct resident_ctx *rc, uint64_t batch, uint32_t seq, int64_t now,
			 char token[NOTICE_TOKEN_LEN + 1], struct error *e);
int resident_session_find(struct resident_ctx *rc, const char *token, int64_t now,
			  uint64_t *batch, uint32_t *seq, struct error *e);
/* find, when keys already found these very bytes good (the session read
 * afresh from the store, its expiry checked now); RESIDENT_WOULD_BLOCK
 * when that would need keys. */
int resident_session_known(struct resident_ctx *rc, const char *token, int64_t now,
			   uint64_t *batch, uint32_t *seq, struct error *e);

/* Record ev for (batch, seq) with the request's user agent and the seconds
 * since delivery, and apply change to the access record, in one write
 * transaction (the writer thread's, shared with other requests' events);
 * returns once that is committed.  change may be NULL; it may write more in t (a mail request)
 * and returns 0 to store a, 1 to leave the record alone, -1 on error (e
 * set through arg, or a generic one). */
int resident_record(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
		    enum notice_event ev, const char *ua,
		    int (*change)(struct store_txn *t, struct notice_access *a, void *arg), void *arg,
		    struct notice_access *after, struct error *e);
/* Queue ev for (batch, seq) with the request's user agent and time for the
 * next group, without waiting for its commit: only for a notice whose
 * arrival (its first download) this process has seen committed, so the
 * arrival itself is always durable before its bytes go out.  0 queued;
 * 1 not (the arrival not known committed, RESIDENT_LATER_MAX already
 * queued, or stopping): the caller then records with resident_record.
 * The event is written, MACed and audited like any other; one that
 * fails is logged. */
int resident_record_later(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
			  enum notice_event ev, const char *ua);

/* The exact stored bytes of the resident's PDF (n->pdf_seq). */
int resident_pdf(struct resident_ctx *rc, const struct resident_notice *n, struct buf *pdf,
		 struct error *e);

/* resident_group.c: the writer thread (started by resident_ctx_init;
 * stopping drains what is queued). */
int resident_group_start(struct resident_ctx *rc, struct error *e);
void resident_group_stop(struct resident_ctx *rc);

/* resident_cache.c: the same bytes through the LRU of decrypted PDFs.
 * get: 0 (*out a reference), 1 no PDF, -1 error; release (a free
 * callback for http_resp_bytes) lets the reference go. */
struct resident_cache *resident_cache_new(size_t max_bytes);
void resident_cache_free(struct resident_cache **c);
int resident_pdf_get(struct resident_ctx *rc, const struct resident_notice *n,
		     struct resident_pdf_ref **out, struct error *e);
/* get, from the cache alone: 0 (*out a reference), 1 not cached. */
int resident_pdf_cached(struct resident_ctx *rc, const struct resident_notice *n,
			struct resident_pdf_ref **out);
/* resident_memo.c: a record keys already unsealed or found good, while
 * the store holds exactly the same bytes.  find: 1 known (a plaintext
 * appended to plain; plain NULL asks "was its MAC found good"), 0 not. */
#define RESIDENT_MEMO_VALUE_MAX ((size_t)64 << 10)
struct resident_memo *resident_memo_new(void);
void resident_memo_free(struct resident_memo **m);
int resident_memo_find(struct resident_memo *m, int db, const void *k, size_t kl, const void *raw,
		       size_t rawlen, struct buf *plain);
void resident_memo_put(struct resident_memo *m, int db, const void *k, size_t kl, const void *raw,
		       size_t rawlen, const void *plain, size_t plainlen);
/* store_get_sealed through the memo; with may_block 0, a record the memo
 * does not hold is not sent to keys: RESIDENT_WOULD_BLOCK. */
int resident_get_sealed(struct resident_ctx *rc, struct store_txn *t, int db, const void *k,
			size_t kl, int may_block, struct buf *out, struct error *e);

const uint8_t *resident_pdf_data(const struct resident_pdf_ref *p, size_t *len);
void resident_pdf_release(void *ref);
/* The signer's certificate (PEM) from the first signature of pdf. */
int resident_cert_pem(const uint8_t *pdf, size_t len, struct buf *pem, struct error *e);

/* The appeal deadline (審査請求期間): three months from the day after
 * arrival, per 行政不服審査法 18 条 — arrival day + 1, plus three months,
 * minus one day; a missing day (31st) becomes the month's last.  Given
 * and returned as a JST calendar date YYYYMMDD. */
int resident_appeal_deadline(int64_t arrival, char out[32]);

#endif
