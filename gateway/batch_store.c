/*
 * batch_store.c — the last step of a batch (batch_int.h): seal every
 * signed PDF and stage it under a batch whose state is "storing", which no
 * reader shows, then publish the residents, their index, the batch record
 * and its audit record in one synced commit; a batch that fails is
 * removed, and one left by a process that died is swept (batch_sweep()).
 * The records are lib/batches.h's.  Runs in the gateway and in
 * `tayori submit`.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/batch_int.h"
#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/rec.h"
#include "lib/store.h"

/* Staged PDFs are written once they hold this much. */
#define STAGE_BYTES ((size_t)8 << 20)
/* Residents sealed per round of data keys in the final commit. */
#define PUBLISH_CHUNK 64
#define SEALED_MAX ((size_t)1 << 30)

static void batch_key(uint8_t out[12], uint64_t batch, uint32_t seq)
{
	be64_put(out, batch);
	be32_put(out + 8, seq);
}

/* ---- staging: sealed PDFs written in chunks, invisible until the end ---- */

struct staged {
	uint8_t key[12];
	uint8_t *data;
	size_t len;
};

struct batch_stage {
	struct store *st;
	uint64_t batch;          /* 0 until begun */
	int committed;
	pthread_mutex_t lock;    /* over v, n, cap, bytes */
	struct staged *v;
	size_t n, cap, bytes;
	struct store_dek *deks;  /* data keys made ahead, by seq, or NULL */
	uint8_t *dek_ready;      /* which of them exist */
	size_t ndeks;
};

static int stage_flush_locked(struct batch_stage *s, struct error *e)
{
	struct store_txn *t = NULL;
	int ret = -1;
	if (s->n == 0)
		return 0;
	if (store_begin(s->st, 1, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++)
		if (store_put(t, DB_PDFS, s->v[i].key, 12, s->v[i].data, s->v[i].len, e) < 0)
			goto out;
	if (store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].data);
	s->n = 0;
	s->bytes = 0;
	return ret;
}

/* Takes ownership of data. */
static int stage_push(struct batch_stage *s, const uint8_t key[12], uint8_t *data, size_t len,
		      struct error *e)
{
	int ret = 0;
	pthread_mutex_lock(&s->lock);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memcpy(s->v[s->n].key, key, 12);
	s->v[s->n].data = data;
	s->v[s->n].len = len;
	s->n++;
	s->bytes += len;
	if (s->bytes >= STAGE_BYTES)
		ret = stage_flush_locked(s, e);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* Seal bytes for place seq and stage them: the stored bytes are exactly
 * the given bytes (sealing is lossless). */
static int seal_and_stage(struct batch_stage *s, uint32_t seq, const uint8_t *data, size_t len,
			  struct error *e)
{
	uint8_t key[12];
	struct buf sealed;
	uint8_t *p;
	size_t n;
	int ret = -1;

	batch_key(key, s->batch, seq);
	buf_init(&sealed, SEALED_MAX);
	if (seq < s->ndeks && s->dek_ready[seq]) {
		if (store_seal_with(DB_PDFS, key, sizeof(key), &s->deks[seq], data, len, &sealed,
				    e) < 0)
			goto out;
	} else if (store_seal(s->st, DB_PDFS, key, sizeof(key), data, len, &sealed, e) < 0) {
		goto out;
	}
	p = buf_steal(&sealed, &n);
	ret = stage_push(s, key, p, n, e);
out:
	buf_free(&sealed);
	return ret;
}

int batch_store_pdf(void *stage, uint32_t seq, const uint8_t *pdf, size_t len, struct error *e)
{
	return seal_and_stage(stage, seq, pdf, len, e);
}

/* The data keys of every resident's PDF, in a few round trips instead of
 * one per PDF. */
static int make_pdf_deks(struct batch_stage *s, const uint32_t *pdf_seq, size_t n,
			 struct error *e)
{
	uint8_t (*keys)[12] = xcalloc(n ? n : 1, sizeof(*keys));
	const void **kp = xcalloc(n ? n : 1, sizeof(*kp));
	size_t *kl = xcalloc(n ? n : 1, sizeof(*kl));
	uint32_t *seqs = xcalloc(n ? n : 1, sizeof(*seqs));
	struct store_dek *got = xcalloc(n ? n : 1, sizeof(*got));
	size_t m = 0;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (pdf_seq[i] != i + 1)
			continue;
		seqs[m] = pdf_seq[i];
		batch_key(keys[m], s->batch, pdf_seq[i]);
		kp[m] = keys[m];
		kl[m] = sizeof(keys[m]);
		m++;
	}
	ret = store_deks_new(s->st, DB_PDFS, m, kp, kl, got, e);
	if (ret == 0) {
		s->ndeks = n + 1;
		s->deks = xcalloc(s->ndeks, sizeof(*s->deks));
		s->dek_ready = xcalloc(s->ndeks, 1);
		for (size_t i = 0; i < m; i++) {
			s->deks[seqs[i]] = got[i];
			s->dek_ready[seqs[i]] = 1;
		}
	}
	secure_wipe(got, (n ? n : 1) * sizeof(*got));
	free(got);
	free(seqs);
	free(kl);
	free(kp);
	free(keys);
	return ret;
}

/* ---- records ---- */

static int encode_resident(const struct recipient *p, uint32_t pdf_seq, struct buf *b)
{
	struct buf extra;
	int r;
	buf_init(&extra, 1 << 20);
	for (size_t i = 0; i < p->nextra; i++)
		if (ipc_put_str(&extra, p->extra_names[i]) < 0 ||
		    ipc_put_str(&extra, p->extra_values[i]) < 0) {
			buf_free(&extra);
			return -1;
		}
	r = rec_put_str(b, RR_KEY, p->key) | rec_put_str(b, RR_NAME, p->name ? p->name : "") |
	    rec_put_str(b, RR_EMAIL, p->email ? p->email : "") |
	    rec_put_str(b, RR_MESSAGE, p->message ? p->message : "") |
	    rec_put_str(b, RR_AUTH, p->auth_value ? p->auth_value : "") |
	    rec_put_u64(b, RR_LINE, p->line) | rec_put_u64(b, RR_FLAGS, p->flags) |
	    rec_put_u64(b, RR_PDF, pdf_seq) | rec_put(b, RR_EXTRA, extra.data, extra.len);
	buf_free(&extra);
	return r;
}

static int put_state(struct store_txn *t, uint64_t batch, const char *status,
		     const struct batch_report *rep, struct error *e)
{
	struct buf b;
	uint8_t key[8];
	int r;
	buf_init(&b, 4096);
	be64_put(key, batch);
	r = rec_put_str(&b, BS_STATUS, status) | rec_put_u64(&b, BS_CREATED, (uint64_t)now_utc()) |
	    rec_put_u64(&b, BS_TEST, (uint64_t)rep->test) |
	    rec_put_u64(&b, BS_RECIPIENTS, rep->recipients) |
	    rec_put_u64(&b, BS_MATCHED, rep->matched) | rec_put_u64(&b, BS_SIGNED, rep->signed_pdfs) |
	    rec_put_u64(&b, BS_PID, (uint64_t)getpid());
	if (r == 0)
		r = store_put(t, DB_BATCH_STATE, key, sizeof(key), b.data, b.len, e);
	else
		r = err_set(e, "batch state too large");
	buf_free(&b);
	return r;
}

/* ---- removing a batch ---- */

static int remove_batch(struct store_txn *t, uint64_t batch, struct error *e)
{
	uint8_t key[8];
	be64_put(key, batch);
	if (store_del_prefix(t, DB_PDFS, key, 8, NULL, e) < 0 ||
	    store_del_prefix(t, DB_RESIDENTS, key, 8, NULL, e) < 0 ||
	    store_del(t, DB_BATCH_STATE, key, 8, e) < 0 || store_del(t, DB_BATCHES, key, 8, e) < 0)
		return -1;
	return 0;
}

static void batch_discard(struct store *st, uint64_t batch)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	if (batch == 0)
		return;
	if (store_begin(st, 1, &t, &e) < 0 || remove_batch(t, batch, &e) < 0 ||
	    store_commit(&t, &e) < 0)
		log_err("event=batch_discard_failed batch=%llu reason=\"%s\"",
			(unsigned long long)batch, e.msg);
	store_abort(&t);
}

int batch_sweep(struct store *st, size_t *removed, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	uint64_t dead[64];
	size_t ndead = 0;
	const void *k, *v;
	size_t kl, vl;
	int r;

	*removed = 0;
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_BATCH_STATE, NULL, 0, &it, e) < 0) {
		store_abort(&t);
		return -1;
	}
	while (ndead < ARRAY_SIZE(dead) && (r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		char status[32];
		pid_t pid;
		if (kl != 8 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0 ||
		    strcmp(status, BATCH_STATUS_STORING) != 0)
			continue;
		pid = (pid_t)rec_get_u64(v, vl, BS_PID, 0);
		/* A batch still being stored by a live process is not ours to sweep. */
		if (pid > 0 && pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM))
			continue;
		dead[ndead++] = be64_get(k);
	}
	store_iter_close(&it);
	store_abort(&t);
	for (size_t i = 0; i < ndead; i++) {
		batch_discard(st, dead[i]);
		log_warn("event=batch_swept batch=%llu reason=\"left incomplete by a process that stopped\"",
			 (unsigned long long)dead[i]);
	}
	*removed = ndead;
	return 0;
}

/* ---- beginning ---- */

/* Allocate a batch id and mark it BATCH_STATUS_STORING (invisible to readers). */
static int mark_storing(struct store *st, struct batch_report *rep, struct error *e)
{
	struct store_txn *t = NULL;
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	if (store_next_id(t, "batch", &rep->batch, e) < 0 ||
	    put_state(t, rep->batch, BATCH_STATUS_STORING, rep, e) < 0 || store_commit(&t, e) < 0) {
		store_abort(&t);
		rep->batch = 0;
		return -1;
	}
	return 0;
}

int batch_store_begin(struct store *st, const struct batch_plan *p, struct batch_report *rep,
		      struct batch_stage **out, struct error *e)
{
	struct batch_stage *s = xcalloc(1, sizeof(*s));

	*out = NULL;
	s->st = st;
	pthread_mutex_init(&s->lock, NULL);
	if (mark_storing(st, rep, e) < 0) {
		batch_store_end(&s);
		return -1;
	}
	s->batch = rep->batch;
	/* The staged writes need no sync: the last commit syncs them all. */
	if (store_set_nosync(st, 1, e) < 0 ||
	    (p->split != SPLIT_COMMON && make_pdf_deks(s, p->pdf_seq, p->r->n, e) < 0)) {
		batch_store_end(&s);
		rep->batch = 0;
		return -1;
	}
	*out = s;
	return 0;
}

/* ---- publishing ---- */

/* Record which batch this input made, so it makes one: an input refused
 * or dropped before made no batch (its value is 0), and given again and
 * taken now, it names this one. */
static int claim_intake(struct store_txn *t, const uint8_t *intake_id, const uint8_t bkey[8],
			struct error *e)
{
	static const uint8_t none[8];
	const void *v;
	size_t vl;
	int dup = store_put_new(t, DB_INTAKE, intake_id, 32, bkey, 8, e);

	if (dup > 0 && store_get(t, DB_INTAKE, intake_id, 32, &v, &vl, e) == 0 && vl == 8 &&
	    memcmp(v, none, 8) == 0)
		dup = store_put(t, DB_INTAKE, intake_id, 32, bkey, 8, e);
	if (dup > 0)
		return err_tmp(e, "this input already made a batch");
	return dup;
}

/* Residents base .. base + m - 1: their data keys and index values come
 * from the keys process in one round trip each. */
static int put_residents(struct store_txn *t, struct store *st, uint64_t batch,
			 const struct batch_plan *p, size_t base, size_t m, struct buf *rec,
			 struct buf *sealed, struct error *e)
{
	uint8_t keys[PUBLISH_CHUNK][12], idx[PUBLISH_CHUNK][32];
	uint8_t iv[PUBLISH_CHUNK][8 + RECIPIENTS_KEY_MAX];
	const void *kp[PUBLISH_CHUNK], *ivp[PUBLISH_CHUNK];
	size_t kl[PUBLISH_CHUNK], ivl[PUBLISH_CHUNK], nidx = 0;
	struct store_dek deks[PUBLISH_CHUNK];
	int rc = 0;

	for (size_t j = 0; j < m; j++) {
		const struct recipient *r = &p->r->v[base + j];
		batch_key(keys[j], batch, (uint32_t)(base + j + 1));
		kp[j] = keys[j];
		kl[j] = sizeof(keys[j]);
		if (batch_match_usable(r)) {
			size_t n = strlen(r->key);
			be64_put(iv[nidx], batch);
			memcpy(iv[nidx] + 8, r->key, n);
			ivp[nidx] = iv[nidx];
			ivl[nidx++] = 8 + n;
		}
	}
	if (store_deks_new(st, DB_RESIDENTS, m, kp, kl, deks, e) < 0)
		return -1;
	if (store_index_many(st, "resident", nidx, ivp, ivl, idx, e) < 0) {
		secure_wipe(deks, sizeof(deks));
		return -1;
	}
	nidx = 0;
	for (size_t j = 0; j < m && rc == 0; j++) {
		const struct recipient *r = &p->r->v[base + j];
		buf_reset(rec);
		buf_reset(sealed);
		if (encode_resident(r, p->pdf_seq[base + j], rec) != 0) {
			rc = err_set(e, "CSV line %zu: the row is too large", r->line);
			break;
		}
		rc = store_seal_with(DB_RESIDENTS, keys[j], sizeof(keys[j]), &deks[j], rec->data,
				     rec->len, sealed, e);
		if (rc == 0)
			rc = store_put(t, DB_RESIDENTS, keys[j], sizeof(keys[j]), sealed->data,
				       sealed->len, e);
		if (rc == 0 && batch_match_usable(r))
			rc = store_put(t, DB_RESIDENT_IDX, idx[nidx++], 32, keys[j], sizeof(keys[j]),
				       e);
	}
	secure_wipe(deks, sizeof(deks));
	return rc;
}

static const char *or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The sealed batch record (with the report as JSON) and its state. */
static int put_batch(struct store_txn *t, const struct batch_input *in,
		     const struct batch_report *rep, struct buf *rec, struct error *e)
{
	const struct batch_settings *set = in->set;
	static const struct batch_settings none;
	uint8_t bkey[8], created[8];
	char *report = NULL;
	size_t rlen = 0;
	FILE *f = open_memstream(&report, &rlen);
	int r;

	if (f == NULL)
		return err_tmp(e, "out of memory");
	batch_report_json(rep, f);
	fclose(f);
	if (set == NULL)
		set = &none;
	be64_put(bkey, rep->batch);
	be64_put(created, (uint64_t)now_utc());
	buf_reset(rec);
	r = rec_put_str(rec, BR_TITLE, or_empty(in->title)) |
	    rec_put_str(rec, BR_MESSAGE, or_empty(set->message)) |
	    rec_put_str(rec, BR_SPLIT, rep->split_rule) | rec_put(rec, BR_REPORT, report, rlen) |
	    rec_put_str(rec, BR_ACTOR, or_empty(in->actor)) |
	    rec_put_str(rec, BR_FROM, or_empty(in->from)) | rec_put(rec, BR_CREATED, created, 8) |
	    rec_put_str(rec, BR_AUTH, or_empty(set->auth)) |
	    rec_put_str(rec, BR_REMINDERS, or_empty(set->reminders)) |
	    rec_put_str(rec, BR_DEADLINE, or_empty(set->deadline)) |
	    rec_put_str(rec, BR_EXPIRY, or_empty(set->expiry)) |
	    rec_put_str(rec, BR_LEVEL, pades_level_name(in->level)) |
	    rec_put_str(rec, BR_AUTH_COLUMN, or_empty(set->auth_column)) |
	    rec_put_str(rec, BR_KYOUJI, or_empty(set->kyouji)) |
	    rec_put_u64(rec, BR_CONSENT, set->consent ? 1 : 0) |
	    rec_put_str(rec, BR_SUBMITTER, or_empty(in->submitter)) |
	    rec_put_str(rec, BR_TYPE, or_empty(set->notice_type));
	free(report);
	if (r != 0)
		return err_set(e, "the batch record is too large");
	if (store_put_sealed(t, DB_BATCHES, bkey, 8, rec->data, rec->len, e) < 0 ||
	    put_state(t, rep->batch, rep->status, rep, e) < 0)
		return -1;
	return 0;
}

static int put_audit(struct store_txn *t, const struct batch_input *in,
		     const struct batch_report *rep, struct error *e)
{
	char target[32], detail[160];
	struct audit_entry a;

	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)rep->batch);
	str_fmt(detail, sizeof(detail), "recipients=%zu matched=%zu signed=%zu split=%s test=%s",
		rep->recipients, rep->matched, rep->signed_pdfs, rep->split_rule,
		rep->test ? "yes" : "no");
	a = (struct audit_entry){ in->actor, "batch.submit", target, in->from, detail };
	return audit_append(t, &a, NULL, e);
}

/* The final commit: residents, their index, the batch, its audit record. */
static int publish(struct batch_stage *s, const struct batch_input *in,
		   const struct batch_plan *p, struct batch_report *rep, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf rec, sealed;
	uint8_t bkey[8];
	int ret = -1;

	buf_init(&rec, 4 << 20);
	buf_init(&sealed, 8 << 20);
	be64_put(bkey, rep->batch);
	if (store_begin(s->st, 1, &t, e) < 0)
		goto out;
	if (in->intake_id != NULL && claim_intake(t, in->intake_id, bkey, e) != 0)
		goto out;
	for (size_t base = 0; base < p->r->n; base += PUBLISH_CHUNK) {
		size_t m = p->r->n - base < PUBLISH_CHUNK ? p->r->n - base : PUBLISH_CHUNK;
		if (put_residents(t, s->st, rep->batch, p, base, m, &rec, &sealed, e) < 0)
			goto out;
	}
	str_copy(rep->status, BATCH_STATUS_WAITING, sizeof(rep->status));
	if (put_batch(t, in, rep, &rec, e) < 0 || put_audit(t, in, rep, e) < 0)
		goto out;
	/* Everything staged so far becomes durable with this commit. */
	if (store_set_nosync(s->st, 0, e) < 0 || store_commit(&t, e) < 0 ||
	    store_sync(s->st, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	buf_wipe(&rec);
	buf_wipe(&sealed);
	return ret;
}

int batch_store_commit(struct batch_stage *s, const struct batch_input *in,
		       const struct batch_plan *p, struct batch_report *rep, struct error *e)
{
	int r;

	for (size_t i = 0; i < in->nextras; i++)
		if (seal_and_stage(s, BATCH_PDF_EXTRA + (uint32_t)i, in->extras[i].data,
				   in->extras[i].len, e) < 0)
			return -1;
	pthread_mutex_lock(&s->lock);
	r = stage_flush_locked(s, e);
	pthread_mutex_unlock(&s->lock);
	if (r < 0 || publish(s, in, p, rep, e) < 0)
		return -1;
	s->committed = 1;
	return 0;
}

void batch_store_end(struct batch_stage **sp)
{
	struct batch_stage *s = *sp;

	if (s == NULL)
		return;
	if (!s->committed) {
		store_set_nosync(s->st, 0, NULL);
		batch_discard(s->st, s->batch);
	}
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].data);
	free(s->v);
	pthread_mutex_destroy(&s->lock);
	if (s->deks != NULL)
		secure_wipe(s->deks, s->ndeks * sizeof(*s->deks));
	free(s->deks);
	free(s->dek_ready);
	free(s);
	*sp = NULL;
}
