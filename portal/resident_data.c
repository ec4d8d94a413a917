/*
 * resident_data.c — the store side of the resident pages: a notice's batch
 * and resident records, the resident's sessions, the events with the
 * access record they change (written by resident_group.c), the stored
 * PDF.  Runs in the portal process, on any worker thread.
 */
#include <string.h>

#include "lib/batches.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "portal/resident.h"

static void key12(uint8_t k[12], uint64_t batch, uint32_t seq)
{
	be64_put(k, batch);
	be32_put(k + 8, seq);
}

static int load_batch(struct resident_ctx *rc, struct store_txn *t, struct resident_notice *n,
		      int may_block, struct error *e)
{
	uint8_t k[8];
	struct buf p;
	const uint8_t *v;
	size_t vl;
	int r;

	be64_put(k, n->batch);
	buf_init(&p, 1 << 20);
	r = resident_get_sealed(rc, t, DB_BATCHES, k, sizeof(k), may_block, &p, e);
	if (r != 0)
		goto out;
	if (rec_check(p.data, p.len) != 0) {
		r = err_set(e, "batch %llu: damaged record", (unsigned long long)n->batch);
		goto out;
	}
	if (rec_get_str(p.data, p.len, BR_TITLE, n->title, sizeof(n->title)) < 0)
		n->title[0] = '\0';
	rec_get_str(p.data, p.len, BR_AUTH, n->auth, sizeof(n->auth));
	if (rec_get_str(p.data, p.len, BR_AUTH_COLUMN, n->auth_label, sizeof(n->auth_label)) < 0)
		n->auth_label[0] = '\0';
	if (rec_get(p.data, p.len, BR_MESSAGE, &v, &vl) == 0 && buf_append(&n->message, v, vl) < 0)
		r = err_set(e, "message too long");
	/* The batch's 教示: the page shows it, and the appeal deadline once
	 * the notice has arrived. */
	if (rec_get(p.data, p.len, BR_KYOUJI, &v, &vl) == 0 && buf_append(&n->kyouji, v, vl) < 0)
		r = err_set(e, "教示 too long");
	n->consent_asked = rec_get_u64(p.data, p.len, BR_CONSENT, 0) == 1;
out:
	buf_wipe(&p);
	return r;
}

static int load_resident(struct resident_ctx *rc, struct store_txn *t, struct resident_notice *n,
			 int may_block, struct error *e)
{
	uint8_t k[12];
	struct buf p;
	const uint8_t *v;
	size_t vl;
	int r;

	key12(k, n->batch, n->seq);
	buf_init(&p, 1 << 20);
	r = resident_get_sealed(rc, t, DB_RESIDENTS, k, sizeof(k), may_block, &p, e);
	if (r != 0)
		goto out;
	if (rec_check(p.data, p.len) != 0) {
		r = err_set(e, "resident record damaged");
		goto out;
	}
	rec_get_str(p.data, p.len, RR_KEY, n->key, sizeof(n->key));
	rec_get_str(p.data, p.len, RR_EMAIL, n->email, sizeof(n->email));
	rec_get_str(p.data, p.len, RR_AUTH, n->auth_value, sizeof(n->auth_value));
	n->pdf_seq = (uint32_t)rec_get_u64(p.data, p.len, RR_PDF, 0);
	if (rec_get(p.data, p.len, RR_MESSAGE, &v, &vl) == 0 && vl > 0 &&
	    (buf_append_str(&n->message, n->message.len > 0 ? "\n\n" : "") < 0 ||
	     buf_append(&n->message, v, vl) < 0))
		r = err_set(e, "message too long");
out:
	buf_wipe(&p);
	return r;
}

/* The batch's status and test flag (DB_BATCH_STATE, not sealed): 0, or 1
 * when there is no such batch or it does not open (only an approved batch
 * opens; being sent or sent counts as approved; one waiting for approval,
 * or withdrawn, does not). */
static int load_state(struct store_txn *t, struct resident_notice *n, struct error *e)
{
	uint8_t k[8];
	const void *v;
	size_t vl;
	char status[32];
	int r;

	be64_put(k, n->batch);
	r = store_get(t, DB_BATCH_STATE, k, sizeof(k), &v, &vl, e);
	if (r != 0)
		return r;
	if (rec_check(v, vl) != 0 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0)
		return 1;
	n->test = (int)rec_get_u64(v, vl, BS_TEST, 0);
	return strcmp(status, BATCH_STATUS_APPROVED) == 0 || strcmp(status, BATCH_STATUS_SENDING) == 0 ||
			       strcmp(status, BATCH_STATUS_SENT) == 0
		       ? 0
		       : 1;
}

static int notice_load(struct resident_ctx *rc, uint64_t batch, uint32_t seq, int may_block,
		       struct resident_notice *n, struct error *e)
{
	struct store_txn *t = NULL;
	int r;

	memset(n, 0, sizeof(*n));
	n->batch = batch;
	n->seq = seq;
	buf_init(&n->message, 256 * 1024);
	buf_init(&n->kyouji, 64 * 1024);
	r = store_begin(rc->st, 0, &t, e);
	if (r == 0)
		r = load_state(t, n, e);
	if (r == 0)
		r = load_batch(rc, t, n, may_block, e);
	if (r == 0)
		r = load_resident(rc, t, n, may_block, e);
	store_abort(&t);
	if (r != 0)
		resident_notice_free(n);
	return r;
}

int resident_notice_load(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
			 struct resident_notice *n, struct error *e)
{
	return notice_load(rc, batch, seq, 1, n, e);
}

int resident_notice_known(struct resident_ctx *rc, uint64_t batch, uint32_t seq,
			  struct resident_notice *n, struct error *e)
{
	return notice_load(rc, batch, seq, 0, n, e);
}

void resident_notice_free(struct resident_notice *n)
{
	buf_wipe(&n->message);
	buf_wipe(&n->kyouji);
	secure_wipe(n->auth_value, sizeof(n->auth_value));
}

int resident_session_new(struct resident_ctx *rc, uint64_t batch, uint32_t seq, int64_t now,
			 char token[NOTICE_TOKEN_LEN + 1], struct error *e)
{
	uint8_t h[32];
	struct buf rec;
	struct store_txn *t = NULL;
	int ret = -1;

	buf_init(&rec, 4096);
	if (notice_token_new(token, e) < 0)
		goto out;
	notice_token_hash(token, h);
	/* rec.h: tags ascending */
	if (rec_put_u64(&rec, NR_BATCH, batch) | rec_put_u64(&rec, NR_SEQ, seq) |
	    rec_put_u64(&rec, NR_CREATED, (uint64_t)now) |
	    rec_put_u64(&rec, NR_EXPIRES, (uint64_t)(now + RESIDENT_SESSION_TTL)) |
	    rec_put_str(&rec, NR_KIND, "resident")) {
		err_set(e, "session record");
		goto out;
	}
	if (notice_seal_rec(rc->st, DB_SESSIONS, h, sizeof(h), 1, &rec, e) < 0 ||
	    store_begin(rc->st, 1, &t, e) < 0 ||
	    store_put(t, DB_SESSIONS, h, sizeof(h), rec.data, rec.len, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	buf_free(&rec);
	return ret;
}

static int session_find(struct resident_ctx *rc, const char *token, int64_t now, int may_block,
			uint64_t *batch, uint32_t *seq, struct error *e)
{
	uint8_t h[32];
	struct store_txn *t = NULL;
	const void *v;
	size_t vl;
	char kind[16];
	uint8_t copy[1024];
	int r;

	if (token == NULL || notice_token_shape(token) != 0)
		return 1;
	notice_token_hash(token, h);
	if (store_begin(rc->st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_SESSIONS, h, sizeof(h), &v, &vl, e);
	if (r == 0 && vl > sizeof(copy))
		r = 1;
	if (r == 0)
		memcpy(copy, v, vl);
	store_abort(&t);
	if (r != 0)
		return r;
	/* The same bytes keys found good before need no new round trip. */
	if (!resident_memo_find(rc->memo, DB_SESSIONS, h, sizeof(h), copy, vl, NULL)) {
		if (!may_block)
			return RESIDENT_WOULD_BLOCK;
		r = notice_check_rec(rc->st, DB_SESSIONS, h, sizeof(h), copy, vl, e);
		if (r != 0)
			return r;
		resident_memo_put(rc->memo, DB_SESSIONS, h, sizeof(h), copy, vl, NULL, 0);
	}
	if (rec_get_str(copy, vl, NR_KIND, kind, sizeof(kind)) < 0 || strcmp(kind, "resident") != 0 ||
	    (int64_t)rec_get_u64(copy, vl, NR_EXPIRES, 0) <= now)
		return 1;
	*batch = rec_get_u64(copy, vl, NR_BATCH, 0);
	*seq = (uint32_t)rec_get_u64(copy, vl, NR_SEQ, 0);
	return 0;
}

int resident_session_find(struct resident_ctx *rc, const char *token, int64_t now,
			  uint64_t *batch, uint32_t *seq, struct error *e)
{
	return session_find(rc, token, now, 1, batch, seq, e);
}

int resident_session_known(struct resident_ctx *rc, const char *token, int64_t now,
			   uint64_t *batch, uint32_t *seq, struct error *e)
{
	return session_find(rc, token, now, 0, batch, seq, e);
}

int resident_pdf(struct resident_ctx *rc, const struct resident_notice *n, struct buf *pdf,
		 struct error *e)
{
	uint8_t k[12];
	struct store_txn *t = NULL;
	int r;

	if (n->pdf_seq == 0)
		return 1;
	key12(k, n->batch, n->pdf_seq);
	if (store_begin(rc->st, 0, &t, e) < 0)
		return -1;
	r = store_get_sealed(t, DB_PDFS, k, sizeof(k), pdf, e);
	store_abort(&t);
	return r;
}
