/*
 * audit.c — the MAC-chained audit log (see audit.h).
 */
#include "lib/audit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/rec.h"
#include "lib/store.h"

enum { A_TIME = 1, A_ACTOR, A_ACTION, A_TARGET, A_FROM, A_DETAIL };

#define HEAD_KEY "audit_head"
#define MAC_LEN CRYPT_HASH_LEN
#define AUDIT_MAX ((size_t)64 << 10)

/* 0 when mac is record seq's MAC (after prev, over fields), 1 when not.
 * The keys process answers yes or no: verifying needs no raw MAC, so a
 * role allowed to verify (the staff dashboard) cannot forge a record. */
static int record_check(struct keys_client *kc, uint64_t seq, const uint8_t prev[MAC_LEN],
			const uint8_t *fields, size_t n, const uint8_t mac[MAC_LEN], struct error *e)
{
	struct buf b;
	int ret;
	buf_init(&b, AUDIT_MAX + 64);
	if (buf_append_be64(&b, seq) < 0 || buf_append(&b, prev, MAC_LEN) < 0 ||
	    buf_append(&b, fields, n) < 0) {
		buf_free(&b);
		return err_set(e, "audit record too large");
	}
	ret = keys_audit_check(kc, b.data, b.len, mac, e);
	buf_free(&b);
	return ret;
}

static int head_check(struct keys_client *kc, uint64_t seq, const uint8_t mac[MAC_LEN],
		      const uint8_t head_mac[MAC_LEN], struct error *e)
{
	uint8_t b[4 + 8 + MAC_LEN];
	memcpy(b, "head", 4);
	be64_put(b + 4, seq);
	memcpy(b + 12, mac, MAC_LEN);
	return keys_audit_check(kc, b, sizeof(b), head_mac, e);
}

static int entry_fields(const struct audit_entry *a, struct buf *fields, struct error *e)
{
	if (rec_put_u64(fields, A_TIME, (uint64_t)now_utc()) < 0 ||
	    rec_put_str(fields, A_ACTOR, a->actor ? a->actor : "") < 0 ||
	    rec_put_str(fields, A_ACTION, a->action ? a->action : "") < 0 ||
	    rec_put_str(fields, A_TARGET, a->target ? a->target : "") < 0 ||
	    rec_put_str(fields, A_FROM, a->from ? a->from : "") < 0 ||
	    rec_put_str(fields, A_DETAIL, a->detail ? a->detail : "") < 0)
		return err_set(e, "audit record too large");
	return 0;
}

/* Store record seq (prev | fields | mac) and log it. */
static int put_record(struct store_txn *t, const struct audit_entry *a, uint64_t seq,
		      const uint8_t prev[MAC_LEN], const struct buf *fields,
		      const uint8_t mac[MAC_LEN], struct error *e)
{
	uint8_t key[8];
	struct buf rec;
	char q1[128], q2[128];
	int r;

	buf_init(&rec, AUDIT_MAX + 2 * MAC_LEN);
	buf_append(&rec, prev, MAC_LEN);
	buf_append(&rec, fields->data, fields->len);
	buf_append(&rec, mac, MAC_LEN);
	be64_put(key, seq);
	r = store_put_new(t, DB_AUDIT, key, sizeof(key), rec.data, rec.len, e);
	buf_free(&rec);
	if (r != 0) {
		if (r > 0)
			err_tmp(e, "audit record %llu already exists", (unsigned long long)seq);
		return -1;
	}
	/* The log line is the copy that lives outside the store. */
	log_info("event=audit seq=%llu actor=%s action=%s target=%s from=%s detail=%s",
		 (unsigned long long)seq, log_quote(a->actor ? a->actor : "", q1, sizeof(q1)),
		 a->action ? a->action : "", a->target && *a->target ? a->target : "-",
		 log_quote(a->from ? a->from : "", q2, sizeof(q2)),
		 log_quote(a->detail ? a->detail : "", (char[256]){ 0 }, 256));
	return 0;
}

int audit_append_many(struct store_txn *t, const struct audit_entry *a, size_t n,
		      uint64_t *first_out, struct error *e)
{
	struct keys_client *kc = store_keys(store_txn_store(t));
	const void *k, *v;
	size_t kl, vl;
	uint8_t prev[MAC_LEN] = { 0 }, hmac[MAC_LEN];
	uint8_t head[8 + 2 * MAC_LEN];
	uint8_t (*macs)[MAC_LEN] = NULL;
	const uint8_t **fp = NULL;
	size_t *lens = NULL;
	struct buf *fields = NULL;
	uint64_t last = 0, first = 0;
	int r, ret = -1;

	if (n == 0 || n > AUDIT_MANY_MAX)
		return err_set(e, "audit: %zu records at once", n);
	macs = xcalloc(n, sizeof(*macs));
	fp = xcalloc(n, sizeof(*fp));
	lens = xcalloc(n, sizeof(*lens));
	fields = xcalloc(n, sizeof(*fields));
	for (size_t i = 0; i < n; i++)
		buf_init(&fields[i], AUDIT_MAX);
	r = store_last(t, DB_AUDIT, &k, &kl, &v, &vl, e);
	if (r < 0)
		goto out;
	if (r == 0) {
		if (kl != 8 || vl < 2 * MAC_LEN) {
			err_set(e, "audit log is damaged at its last record");
			goto out;
		}
		last = be64_get(k);
		memcpy(prev, (const uint8_t *)v + vl - MAC_LEN, MAC_LEN);
	}
	for (size_t i = 0; i < n; i++) {
		if (entry_fields(&a[i], &fields[i], e) < 0)
			goto out;
		fp[i] = fields[i].data;
		lens[i] = fields[i].len;
	}
	/* The keys process numbers and chains the records from the end it
	 * issued last; it refuses when the log ends elsewhere. */
	if (n == 1)
		r = keys_audit_append(kc, store_txn_audit_seq(t) != 0, last, last != 0 ? prev : NULL,
				      fp[0], lens[0], &first, macs[0], hmac, e);
	else
		r = keys_audit_append_many(kc, store_txn_audit_seq(t) != 0, last,
					   last != 0 ? prev : NULL, n, fp, lens, &first, macs, hmac,
					   e);
	if (r < 0)
		goto out;
	store_txn_audit_mark(t, first + n - 1, macs[n - 1]);
	/* Many records' log lines go out in one write. */
	if (n > 1)
		log_hold(1);
	for (size_t i = 0; i < n && r == 0; i++)
		r = put_record(t, &a[i], first + i, i == 0 ? prev : macs[i - 1], &fields[i], macs[i],
			       e);
	if (n > 1)
		log_hold(0);
	if (r < 0)
		goto out;
	be64_put(head, first + n - 1);
	memcpy(head + 8, macs[n - 1], MAC_LEN);
	memcpy(head + 8 + MAC_LEN, hmac, MAC_LEN);
	if (store_put(t, DB_META, HEAD_KEY, strlen(HEAD_KEY), head, sizeof(head), e) < 0)
		goto out;
	if (first_out != NULL)
		*first_out = first;
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_free(&fields[i]);
	free(fields);
	free(lens);
	free(fp);
	free(macs);
	return ret;
}

int audit_append(struct store_txn *t, const struct audit_entry *a, uint64_t *seq_out,
		 struct error *e)
{
	return audit_append_many(t, a, 1, seq_out, e);
}

int audit_verify(struct store *st, uint64_t *count, struct error *e)
{
	struct keys_client *kc = store_keys(st);
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl;
	uint8_t prev[MAC_LEN] = { 0 };
	const uint8_t *mac;
	uint64_t expect = 1;
	struct keys_audit_head kh;
	int r, ret = -1, counted_seen = 0;

	/* The keys process's count first: it only grows, and a record counted
	 * as committed was committed before, so the snapshot read next holds
	 * it even while writers go on appending. */
	if (keys_audit_head(kc, &kh, e) < 0)
		return -1;
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_AUDIT, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		const uint8_t *rv = v;
		uint64_t seq;
		if (kl != 8) {
			err_set(e, "audit log: a record with a malformed key was inserted after record %llu",
				(unsigned long long)(expect - 1));
			goto out;
		}
		seq = be64_get(k);
		if (seq != expect) {
			err_set(e, "audit log: record %llu follows record %llu: %s", (unsigned long long)seq,
				(unsigned long long)(expect - 1),
				seq > expect ? "records were removed" : "a record was inserted");
			goto out;
		}
		if (vl < 2 * MAC_LEN || rec_check(rv + MAC_LEN, vl - 2 * MAC_LEN) < 0) {
			err_set(e, "audit log: record %llu is malformed", (unsigned long long)seq);
			goto out;
		}
		if (ct_memcmp(rv, prev, MAC_LEN) != 0) {
			err_set(e, "audit log: record %llu does not follow record %llu (chain broken)",
				(unsigned long long)seq, (unsigned long long)(seq - 1));
			goto out;
		}
		mac = rv + vl - MAC_LEN;
		r = record_check(kc, seq, prev, rv + MAC_LEN, vl - 2 * MAC_LEN, mac, e);
		if (r < 0)
			goto out;
		if (r != 0) {
			err_set(e, "audit log: record %llu was changed (MAC mismatch)",
				(unsigned long long)seq);
			goto out;
		}
		if (seq == kh.committed) {
			if (ct_memcmp(mac, kh.committed_mac, MAC_LEN) != 0) {
				err_set(e, "audit log: record %llu is not the record the keys process counted there (the log was replaced)",
					(unsigned long long)seq);
				goto out;
			}
			counted_seen = 1;
		}
		memcpy(prev, mac, MAC_LEN);
		expect++;
	}
	if (r < 0) {
		err_tmp(e, "audit log: cannot read the log");
		goto out;
	}
	/* Every tenant's log starts with `tayori init`'s record: an empty log
	 * is one whose records were all removed. */
	if (expect == 1) {
		err_set(e, "audit log: the log is empty, but every tenant's log starts with the record `tayori init` writes (records were removed)");
		goto out;
	}
	/* The head guards the tail: without it, cutting the last records off
	 * would leave a shorter chain that still verifies. */
	r = store_get(t, DB_META, HEAD_KEY, strlen(HEAD_KEY), &v, &vl, e);
	if (r < 0)
		goto out;
	if (r == 1) {
		err_set(e, "audit log: the head record is missing");
		goto out;
	} else {
		const uint8_t *h = v;
		if (vl != 8 + 2 * MAC_LEN) {
			err_set(e, "audit log: the head record is malformed");
			goto out;
		}
		r = head_check(kc, be64_get(h), h + 8, h + 8 + MAC_LEN, e);
		if (r < 0)
			goto out;
		if (r != 0) {
			err_set(e, "audit log: the head record was changed");
			goto out;
		}
		if (be64_get(h) != expect - 1 || ct_memcmp(h + 8, prev, MAC_LEN) != 0) {
			err_set(e, "audit log: the log ends at record %llu but the head says %llu (records removed from the end)",
				(unsigned long long)(expect - 1), (unsigned long long)be64_get(h));
			goto out;
		}
	}
	/* The head lives in the store, so an older copy of it can be put back
	 * together with a shortened log.  The keys process's own count cannot.
	 * (A record issued but whose confirmation was lost is not counted yet:
	 * the log may end there or just before it.) */
	if (expect - 1 < kh.committed || (kh.committed > 0 && !counted_seen)) {
		err_set(e, "audit log: the log ends at record %llu but the keys process counted %llu records (records removed from the end, with an older head put back, or an older copy of the store restored)",
			(unsigned long long)(expect - 1), (unsigned long long)kh.committed);
		goto out;
	}
	*count = expect - 1;
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	return ret;
}


int audit_print(struct store *st, uint64_t from, uint64_t limit, int json, FILE *f,
		struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl;
	uint8_t start[8];
	uint64_t n = 0;
	int r;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	be64_put(start, from);
	if (store_iter_open(t, DB_AUDIT, start, sizeof(start), &it, e) < 0) {
		store_abort(&t);
		return -1;
	}
	if (json)
		fputs("{\"records\":[", f);
	while (n < limit && (r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		const uint8_t *fp = (const uint8_t *)v + MAC_LEN;
		size_t fl;
		char actor[256], action[128], target[256], fromv[128], detail[1024], utc[32], jst[32];
		if (kl != 8 || vl < 2 * MAC_LEN)
			continue;
		fl = vl - 2 * MAC_LEN;
		rec_get_str(fp, fl, A_ACTOR, actor, sizeof(actor));
		rec_get_str(fp, fl, A_ACTION, action, sizeof(action));
		rec_get_str(fp, fl, A_TARGET, target, sizeof(target));
		rec_get_str(fp, fl, A_FROM, fromv, sizeof(fromv));
		rec_get_str(fp, fl, A_DETAIL, detail, sizeof(detail));
		time_format_utc((int64_t)rec_get_u64(fp, fl, A_TIME, 0), utc, sizeof(utc));
		time_format_jst((int64_t)rec_get_u64(fp, fl, A_TIME, 0), jst, sizeof(jst));
		if (json) {
			fprintf(f, "%s{\"seq\":%llu,\"time\":\"%s\",\"actor\":", n ? "," : "",
				(unsigned long long)be64_get(k), utc);
			json_fputs(f, actor);
			fputs(",\"action\":", f);
			json_fputs(f, action);
			fputs(",\"target\":", f);
			json_fputs(f, target);
			fputs(",\"from\":", f);
			json_fputs(f, fromv);
			fputs(",\"detail\":", f);
			json_fputs(f, detail);
			fputc('}', f);
		} else {
			/* One record, one line: a field must not forge the next line. */
			char *fields[] = { actor, action, target, fromv, detail };
			for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
				for (char *p = fields[i]; *p; p++)
					if ((unsigned char)*p < 0x20 || *p == 0x7f)
						*p = '?';
			fprintf(f, "%6llu  %s (%s)  %-12s %-18s %-12s %-10s %s\n",
				(unsigned long long)be64_get(k), utc, jst, actor, action,
				*target ? target : "-", fromv, detail);
		}
		n++;
	}
	if (json)
		fputs("]}\n", f);
	store_iter_close(&it);
	store_abort(&t);
	return 0;
}

static int each(struct store *st, uint64_t at, int back,
		int (*fn)(const struct audit_view *v, void *arg), void *arg, struct error *e);

int audit_each(struct store *st, uint64_t from, int (*fn)(const struct audit_view *v, void *arg),
	       void *arg, struct error *e)
{
	return each(st, from, 0, fn, arg, e);
}

int audit_each_back(struct store *st, uint64_t before,
		    int (*fn)(const struct audit_view *v, void *arg), void *arg, struct error *e)
{
	return each(st, before, 1, fn, arg, e);
}

/* Forwards from seq `at`, or backwards below it (0: from the newest). */
static int each(struct store *st, uint64_t at, int back,
		int (*fn)(const struct audit_view *v, void *arg), void *arg, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct audit_view *av = xcalloc(1, sizeof(*av));
	const void *k, *v;
	size_t kl, vl;
	uint8_t start[8];
	int r = 0, ret = -1;

	be64_put(start, at);
	if (store_begin(st, 0, &t, e) < 0 ||
	    (back ? store_iter_open_back(t, DB_AUDIT, at != 0 ? start : NULL, 8, &it, e)
		  : store_iter_open(t, DB_AUDIT, start, 8, &it, e)) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		const uint8_t *fp = (const uint8_t *)v + MAC_LEN;
		size_t fl;
		if (kl != 8 || vl < 2 * MAC_LEN)
			continue;
		fl = vl - 2 * MAC_LEN;
		memset(av, 0, sizeof(*av));
		av->seq = be64_get(k);
		av->time = (int64_t)rec_get_u64(fp, fl, A_TIME, 0);
		rec_get_str(fp, fl, A_ACTOR, av->actor, sizeof(av->actor));
		rec_get_str(fp, fl, A_ACTION, av->action, sizeof(av->action));
		rec_get_str(fp, fl, A_TARGET, av->target, sizeof(av->target));
		rec_get_str(fp, fl, A_FROM, av->from, sizeof(av->from));
		rec_get_str(fp, fl, A_DETAIL, av->detail, sizeof(av->detail));
		r = fn(av, arg);
		if (r != 0)
			break;
	}
	if (r < 0 && e->msg[0] == '\0')
		err_tmp(e, "audit log: cannot read the log");
	ret = r < 0 ? -1 : 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(av);
	return ret;
}
