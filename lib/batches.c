/*
 * batches.c — reading and updating stored batches (see batches.h).
 */
#include "lib/batches.h"

#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/rec.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "lib/wardset.h"

static void summary_from_state(uint64_t id, const uint8_t *v, size_t vl, struct batch_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	rec_get_str(v, vl, BS_STATUS, s->status, sizeof(s->status));
	s->created = (int64_t)rec_get_u64(v, vl, BS_CREATED, 0);
	s->test = (int)rec_get_u64(v, vl, BS_TEST, 0);
	s->recipients = rec_get_u64(v, vl, BS_RECIPIENTS, 0);
	s->matched = rec_get_u64(v, vl, BS_MATCHED, 0);
	s->signed_pdfs = rec_get_u64(v, vl, BS_SIGNED, 0);
	s->send_at = (int64_t)rec_get_u64(v, vl, BS_SEND_AT, 0);
	if (rec_get_str(v, vl, BS_DEADLINE, s->deadline, sizeof(s->deadline)) == 0 &&
	    s->deadline[0] != '\0')
		s->deadline_default = 1;
	else
		s->deadline[0] = '\0';
}

/* The batch's sealed record (BR_*) into plain, which the caller wipes:
 * store_get_sealed's 0, 1 (none) or -1. */
static int read_sealed(struct store_txn *t, uint64_t id, struct buf *plain, struct error *e)
{
	uint8_t key[8];

	buf_init(plain, 64 << 20);
	be64_put(key, id);
	return store_get_sealed(t, DB_BATCHES, key, 8, plain, e);
}

static int read_title(struct store_txn *t, uint64_t id, struct batch_summary *s, struct buf *report,
		      struct error *e)
{
	struct buf plain;
	int r = read_sealed(t, id, &plain, e);

	if (r == 0) {
		const uint8_t *rv;
		size_t rl;
		char own[sizeof(s->deadline)];
		rec_get_str(plain.data, plain.len, BR_TITLE, s->title, sizeof(s->title));
		if (rec_get_str(plain.data, plain.len, BR_TYPE, s->notice_type,
				sizeof(s->notice_type)) < 0)
			s->notice_type[0] = '\0';
		/* Its own 期限 comes before the default (batches_deadline). */
		if (rec_get_str(plain.data, plain.len, BR_DEADLINE, own, sizeof(own)) == 0 &&
		    own[0] != '\0') {
			str_copy(s->deadline, own, sizeof(s->deadline));
			s->deadline_default = 0;
		}
		if (report != NULL && rec_get(plain.data, plain.len, BR_REPORT, &rv, &rl) == 0)
			buf_append(report, rv, rl);
	}
	buf_wipe(&plain);
	return r < 0 ? -1 : 0;
}

int batches_list(struct store *st, struct batch_summary **out, size_t *n, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct batch_summary *v = NULL;
	size_t count = 0, cap = 0;
	const void *k, *val;
	size_t kl, vl;
	int r, ret = -1;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_BATCH_STATE, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &val, &vl)) == 0) {
		struct batch_summary s;
		if (kl != 8)
			continue;
		summary_from_state(be64_get(k), val, vl, &s);
		if (strcmp(s.status, BATCH_STATUS_STORING) == 0)
			continue;
		if (read_title(t, s.id, &s, NULL, e) < 0)
			goto out;
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[count++] = s;
	}
	if (r < 0) {
		err_tmp(e, "cannot read the batch list");
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
	ret = 0;
out:
	free(v);
	store_iter_close(&it);
	store_abort(&t);
	return ret;
}

int batches_get(struct store *st, uint64_t id, struct batch_summary *out, struct buf *report,
		struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t key[8];
	const void *v;
	size_t vl;
	int r;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	be64_put(key, id);
	r = store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, e);
	if (r == 0) {
		summary_from_state(id, v, vl, out);
		if (strcmp(out->status, BATCH_STATUS_STORING) == 0)
			r = 1;
		else if (read_title(t, id, out, report, e) < 0)
			r = -1;
	}
	store_abort(&t);
	return r;
}

int batches_change_status(struct store_txn *t, uint64_t id, const char *from, const char *to,
			  uint16_t settag, uint64_t val, struct error *e)
{
	uint8_t key[8];
	const void *v;
	size_t vl, off = 0;
	char status[32];
	struct buf b;
	int r, ret = -1;

	buf_init(&b, 4096);
	be64_put(key, id);
	r = store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, e);
	if (r < 0)
		goto out;
	if (r == 1 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0 ||
	    strcmp(status, BATCH_STATUS_STORING) == 0) {
		err_set(e, "no batch %llu", (unsigned long long)id);
		goto out;
	}
	if (strcmp(status, from) != 0) {
		err_set(e, "batch %llu is %s, not %s", (unsigned long long)id, status, from);
		goto out;
	}
	while (off + 6 <= vl) {
		const uint8_t *p = (const uint8_t *)v + off;
		uint16_t tag = (uint16_t)(p[0] << 8 | p[1]);
		uint32_t len = be32_get(p + 2);
		if (len > vl - off - 6)
			break;
		if (tag == BS_STATUS)
			rec_put_str(&b, BS_STATUS, to);
		else if (settag == 0 || tag != settag)
			rec_put(&b, tag, p + 6, len);
		off += 6 + len;
	}
	if (settag != 0)
		rec_put_u64(&b, settag, val);
	ret = store_put(t, DB_BATCH_STATE, key, 8, b.data, b.len, e);
out:
	buf_free(&b);
	return ret;
}

static int audit_batch(struct store_txn *t, uint64_t id, const char *actor, const char *action,
		       const char *where, const char *detail, struct error *e)
{
	char target[32];
	struct audit_entry a;
	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	a = (struct audit_entry){ actor, action, target, where, detail };
	return audit_append(t, &a, NULL, e);
}

int batches_set_status(struct store *st, uint64_t id, const char *from, const char *to,
		       const char *actor, const char *where, const char *action, struct error *e)
{
	struct store_txn *t = NULL;
	char detail[96];
	int ret = -1;

	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	str_fmt(detail, sizeof(detail), "from=%s to=%s", from, to);
	if (batches_change_status(t, id, from, to, 0, 0, e) < 0 ||
	    audit_batch(t, id, actor, action, where, detail, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	return ret;
}

static int read_actor(struct store_txn *t, uint64_t id, char *out, size_t outsize,
		      struct error *e)
{
	struct buf plain;
	int r = read_sealed(t, id, &plain, e);

	if (r == 0 && rec_get_str(plain.data, plain.len, BR_ACTOR, out, outsize) < 0)
		out[0] = '\0';
	buf_wipe(&plain);
	return r;
}

int batches_submitter(struct store *st, uint64_t id, char *out, size_t outsize, struct error *e)
{
	struct store_txn *t = NULL;
	int r;
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	r = read_actor(t, id, out, outsize, e);
	store_abort(&t);
	return r;
}

/* Is the submitter recorded as actor the staff member s? */
static int same_person(const char *actor, const struct staff *s)
{
	char mine[32];
	str_fmt(mine, sizeof(mine), "staff:%llu", (unsigned long long)s->id);
	if (strcmp(actor, mine) == 0)
		return 1;
	return strncmp(actor, "cli:", 4) == 0 && strcmp(actor + 4, s->login) == 0;
}

int batches_approve(struct store *st, uint64_t id, const struct staff *by, const char *run_by,
		    const char *where, int four_eyes, struct error *e)
{
	struct store_txn *t = NULL;
	char submitter[96] = "", actor[32], detail[256];
	int r, ret = -1;

	if (by == NULL && four_eyes)
		return err_set(e, "approving batch %llu needs the approver's login (--as LOGIN): "
			       "[policy] four_eyes is on", (unsigned long long)id);
	if (by != NULL && by->disabled)
		return err_set(e, "staff member %s is disabled and may not approve", by->login);
	if (by != NULL && !(by->perms & PERM_APPROVE))
		return err_set(e, "staff member %s may not approve (no approve permission)",
			       by->login);
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	r = read_actor(t, id, submitter, sizeof(submitter), e);
	if (r < 0)
		goto out;
	if (r == 1) {
		err_set(e, "no batch %llu", (unsigned long long)id);
		goto out;
	}
	if (by != NULL && four_eyes && same_person(submitter, by)) {
		err_set(e, "batch %llu was submitted by %s, who may not approve it too "
			"([policy] four_eyes: another staff member must)", (unsigned long long)id,
			by->login);
		goto out;
	}
	if (by != NULL)
		str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)by->id);
	else
		str_copy(actor, run_by, sizeof(actor));
	str_fmt(detail, sizeof(detail), "from=%s to=%s submitter=%s four_eyes=%s run_by=%s",
		BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED, submitter[0] ? submitter : "-",
		four_eyes ? "yes" : "no", run_by);
	if (batches_change_status(t, id, BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED, 0, 0, e) < 0 ||
	    audit_batch(t, id, actor, "batch.approve", where, detail, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	return ret;
}

/* The sealed batch record's BR_DEADLINE into out ("" none): 0, -1. */
static int own_deadline(struct store_txn *t, uint64_t id, char *out, size_t size,
			struct error *e)
{
	struct buf plain;
	uint8_t k[8];
	int r;

	out[0] = '\0';
	be64_put(k, id);
	buf_init(&plain, 64 << 20);
	r = store_get_sealed(t, DB_BATCHES, k, sizeof(k), &plain, e);
	if (r == 0 && rec_get_str(plain.data, plain.len, BR_DEADLINE, out, size) < 0)
		out[0] = '\0';
	buf_wipe(&plain);
	return r < 0 ? -1 : 0;
}

int batches_deadline(struct store_txn *t, uint64_t id, char *out, size_t size, struct error *e)
{
	uint8_t k[8];
	const void *v;
	size_t vl;
	int r;

	if (own_deadline(t, id, out, size, e) < 0)
		return -1;
	if (out[0] != '\0')
		return 0;
	be64_put(k, id);
	r = store_get(t, DB_BATCH_STATE, k, 8, &v, &vl, e);
	if (r < 0)
		return -1;
	if (r != 0 || rec_get_str(v, vl, BS_DEADLINE, out, size) < 0)
		out[0] = '\0';
	return 0;
}

/* A batch about to be sent at send_at without its own 期限: the ward's
 * default fixed as BS_DEADLINE, the Japan date that many days later. */
static int fix_deadline(struct store_txn *t, uint64_t id, int64_t send_at, struct error *e)
{
	struct wardset *ws;
	char own[128], day[16];
	uint8_t k[8];
	const void *v;
	size_t vl;
	struct buf b;
	int64_t days = WARDSET_DEADLINE_DAYS_DEFAULT;
	int r;

	if (own_deadline(t, id, own, sizeof(own), e) < 0)
		return -1;
	if (own[0] != '\0')
		return 0;
	ws = xcalloc(1, sizeof(*ws));
	r = wardset_get(t, ws, e);
	if (r == 0 && ws->deadline_days > 0)
		days = ws->deadline_days;
	free(ws);
	if (r < 0)
		return -1;
	time_format_jst(send_at + days * 86400, day, sizeof(day));
	day[10] = '\0'; /* "YYYY-MM-DD" of "YYYY-MM-DD HH:MM JST" */
	be64_put(k, id);
	if (store_get(t, DB_BATCH_STATE, k, 8, &v, &vl, e) != 0)
		return err_set(e, "no batch %llu", (unsigned long long)id);
	buf_init(&b, vl + 64);
	buf_append(&b, v, vl);
	r = rec_put_str(&b, BS_DEADLINE, day) != 0 ||
	    store_put(t, DB_BATCH_STATE, k, 8, b.data, b.len, e) < 0;
	buf_free(&b);
	return r ? -1 : 0;
}

int batches_send(struct store *st, uint64_t id, int64_t send_at, const char *actor,
		 const char *where, struct error *e)
{
	struct store_txn *t = NULL;
	char detail[128], when[32];
	int ret = -1;

	if (send_at <= 0)
		return err_set(e, "no time to send batch %llu at", (unsigned long long)id);
	time_format_utc(send_at, when, sizeof(when));
	str_fmt(detail, sizeof(detail), "from=%s to=%s send_at=%s", BATCH_STATUS_APPROVED,
		BATCH_STATUS_SENDING, when);
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	if (batches_change_status(t, id, BATCH_STATUS_APPROVED, BATCH_STATUS_SENDING, BS_SEND_AT,
				  (uint64_t)send_at, e) < 0 ||
	    fix_deadline(t, id, send_at, e) < 0 ||
	    audit_batch(t, id, actor, "batch.send", where, detail, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	return ret;
}

int batches_resident_pdf(struct store *st, uint64_t id, const char *key, struct buf *pdf,
			 struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t iv[8 + 128], idx[32], rkey[12], pkey[12];
	const void *v;
	size_t vl, kl = strlen(key);
	uint64_t seq;
	int r;

	if (kl > 128)
		return 1;
	be64_put(iv, id);
	memcpy(iv + 8, key, kl);
	if (store_index(st, "resident", iv, 8 + kl, idx, e) < 0)
		return -1;
	buf_init(&plain, 1 << 20);
	if (store_begin(st, 0, &t, e) < 0) {
		buf_free(&plain);
		return -1;
	}
	r = store_get(t, DB_RESIDENT_IDX, idx, sizeof(idx), &v, &vl, e);
	if (r != 0 || vl != sizeof(rkey))
		goto out;
	memcpy(rkey, v, sizeof(rkey));
	r = store_get_sealed(t, DB_RESIDENTS, rkey, sizeof(rkey), &plain, e);
	if (r != 0)
		goto out;
	seq = rec_get_u64(plain.data, plain.len, RR_PDF, 0);
	if (seq == 0) {
		r = 1;
		goto out;
	}
	be64_put(pkey, id);
	be32_put(pkey + 8, (uint32_t)seq);
	r = store_get_sealed(t, DB_PDFS, pkey, sizeof(pkey), pdf, e);
out:
	store_abort(&t);
	buf_wipe(&plain);
	return r;
}

int batches_resident_seq(struct store *st, uint64_t id, const char *key, uint32_t *seq,
			 struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t iv[8 + 128], idx[32];
	const void *v;
	size_t vl, kl = strlen(key);
	int r;

	if (kl > 128)
		return 1;
	be64_put(iv, id);
	memcpy(iv + 8, key, kl);
	if (store_index(st, "resident", iv, 8 + kl, idx, e) < 0 || store_begin(st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_RESIDENT_IDX, idx, sizeof(idx), &v, &vl, e);
	if (r == 0 && (vl != 12 || be64_get(v) != id))
		r = 1;
	if (r == 0)
		*seq = be32_get((const uint8_t *)v + 8);
	store_abort(&t);
	return r;
}

int batches_withdraw(struct store *st, uint64_t id, const struct staff *by, const char *run_by,
		     const char *where, struct error *e)
{
	static const char *const from_ok[] = { BATCH_STATUS_WAITING, BATCH_STATUS_APPROVED,
					       BATCH_STATUS_SENDING, BATCH_STATUS_SENT };
	struct store_txn *t = NULL;
	uint8_t key[8];
	const void *v;
	size_t vl, i;
	char status[32], actor[32], detail[160];
	int r, ret = -1;

	if (by->disabled)
		return err_set(e, "staff member %s is disabled and may not withdraw", by->login);
	if (!(by->perms & PERM_APPROVE))
		return err_set(e, "staff member %s may not withdraw (no approve permission)",
			       by->login);
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	be64_put(key, id);
	r = store_get(t, DB_BATCH_STATE, key, 8, &v, &vl, e);
	if (r < 0)
		goto out;
	if (r == 1 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0 ||
	    strcmp(status, BATCH_STATUS_STORING) == 0) {
		err_set(e, "no batch %llu", (unsigned long long)id);
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(from_ok); i++)
		if (strcmp(status, from_ok[i]) == 0)
			break;
	if (i == ARRAY_SIZE(from_ok)) {
		err_set(e, "batch %llu is %s and cannot be withdrawn", (unsigned long long)id, status);
		goto out;
	}
	str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)by->id);
	str_fmt(detail, sizeof(detail), "from=%s to=%s run_by=%s", status,
		BATCH_STATUS_WITHDRAWN, run_by);
	if (batches_change_status(t, id, status, BATCH_STATUS_WITHDRAWN, 0, 0, e) < 0 ||
	    audit_batch(t, id, actor, "batch.withdraw", where, detail, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	return ret;
}
