/*
 * remind.c — reminders to residents who have not opened their notice
 * (see remind.h).  Runs in the mailer and the command line.
 */
#include "lib/remind.h"

#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/log.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/wardset.h"
#include "lib/text.h"

#define DAY 86400

static int is_sep(uint32_t c)
{
	return c == ',' || c == ' ' || c == '/' || c == '\t' || c == 0x3001 /* 、 */ ||
	       c == 0xff0c /* ， */ || c == 0x3000 /* ideographic space */ || c == 0xff0f;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Add one number to the schedule (kept distinct). */
static int add_day(struct remind_schedule *s, uint32_t v, struct error *e)
{
	if (v < 1 || v > REMIND_DAYS_MAX)
		return err_set(e, "督促: %u days is not between 1 and %d", v, REMIND_DAYS_MAX);
	for (size_t i = 0; i < s->n; i++)
		if (s->days[i] == v)
			return 0;
	if (s->n == REMIND_MAX)
		return err_set(e, "督促: more than %d reminders", REMIND_MAX);
	s->days[s->n++] = v;
	return 0;
}

int remind_schedule_parse(const char *text, struct remind_schedule *out, struct error *e)
{
	const unsigned char *p = (const unsigned char *)(text != NULL ? text : "");
	size_t len = strlen((const char *)p), i = 0;
	uint32_t v = 0;
	int in_num = 0, suffix = 0;

	memset(out, 0, sizeof(*out));
	if (strcmp((const char *)p, "なし") == 0 || strcmp((const char *)p, "none") == 0 ||
	    strcmp((const char *)p, "no") == 0)
		return 0;
	while (i <= len) {
		uint32_t c = 0;
		size_t n = 1;
		if (i < len && (n = text_utf8_decode(p + i, len - i, &c)) == 0)
			return err_set(e, "督促: not UTF-8");
		if (i < len && ((c >= '0' && c <= '9') || (c >= 0xff10 && c <= 0xff19))) {
			if (suffix)
				return err_set(e, "督促: write the days as numbers separated by commas, e.g. 3,7");
			v = v * 10 + (c >= 0xff10 ? c - 0xff10 : c - '0');
			if (v > REMIND_DAYS_MAX)
				return err_set(e, "督促: a number of days above %d", REMIND_DAYS_MAX);
			in_num = 1;
		} else if (i < len && in_num && (c == 0x65e5 /* 日 */ || (c == 0x5f8c /* 後 */ && suffix))) {
			suffix = 1;
		} else if (i == len || is_sep(c)) {
			if (in_num && add_day(out, v, e) < 0)
				return -1;
			v = 0;
			in_num = suffix = 0;
		} else {
			return err_set(e, "督促: U+%04X is not part of a schedule like 3,7 (days after sending)",
				       (unsigned)c);
		}
		i += n;
	}
	qsort(out->days, out->n, sizeof(out->days[0]), cmp_u32);
	return 0;
}

size_t remind_due(const struct remind_schedule *s, int64_t send_at, uint32_t done, int64_t now,
		  int64_t *next_at)
{
	size_t k = 0;
	if (next_at != NULL)
		*next_at = 0;
	if (send_at <= 0)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		int64_t at = send_at + (int64_t)s->days[i] * DAY;
		if (at <= now) {
			k = i + 1;
		} else {
			if (next_at != NULL)
				*next_at = at;
			break;
		}
	}
	return k > done ? k : 0;
}

/* The seqs of the batch's deliveries, from their keys. */
static int delivery_seqs(struct store_txn *t, uint64_t id, uint32_t **out, size_t *n,
			 struct error *e)
{
	struct store_iter *it = NULL;
	uint8_t prefix[8];
	const void *k, *v;
	size_t kl, vl, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	be64_put(prefix, id);
	if (store_iter_open(t, DB_DELIVERIES, prefix, 8, &it, e) < 0)
		return -1;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0 && kl == 12 &&
	       memcmp(k, prefix, 8) == 0) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = be32_get((const uint8_t *)k + 8);
	}
	store_iter_close(&it);
	if (r < 0) {
		free(*out);
		*out = NULL;
		return err_tmp(e, "cannot read the deliveries of batch %llu", (unsigned long long)id);
	}
	return 0;
}

/* Put one delivery back to queued when it was sent and never opened, and
 * the resident did not decline mail (then they are on the paper list). */
static int remind_one(struct store_txn *t, uint64_t id, uint32_t seq, int64_t now, size_t *count,
		      struct error *e)
{
	struct delivery d;
	struct notice_access a;
	struct notice_event_rec ev;
	int r = delivery_get(t, id, seq, &d, e);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (d.state != DELIVERY_SENT)
		return 0;
	r = access_get(t, id, seq, &a, e);
	if (r < 0)
		return -1;
	if (a.opened_at != 0 || a.consent == CONSENT_DECLINED)
		return 0;
	d.state = DELIVERY_QUEUED;
	d.attempts = 0;
	d.next_at = 0;
	memset(&ev, 0, sizeof(ev));
	ev.batch = id;
	ev.seq = seq;
	ev.type = EV_REMINDED;
	ev.delay = d.sent_at > 0 && now >= d.sent_at ? now - d.sent_at : -1;
	if (delivery_put(t, &d, e) < 0 || notice_event_add(t, &ev, e) < 0)
		return -1;
	(*count)++;
	return 0;
}

int remind_batch(struct store *st, uint64_t id, int64_t now, uint32_t scheduled,
		 const char *actor, const char *where, size_t *count, struct error *e)
{
	struct store_txn *t = NULL;
	uint32_t *seqs = NULL;
	size_t n = 0;
	char target[32], detail[96];
	struct audit_entry a;
	int ret = -1;

	*count = 0;
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	/* The status first: refused for a batch not (or not yet all) sent. */
	if (batches_change_status(t, id, BATCH_STATUS_SENT, BATCH_STATUS_SENT, 0, 0, e) < 0 ||
	    delivery_seqs(t, id, &seqs, &n, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (remind_one(t, id, seqs[i], now, count, e) < 0)
			goto out;
	if (*count == 0 && scheduled == 0) {
		ret = 0; /* nobody to remind: nothing changes */
		goto out;
	}
	if (*count > 0 &&
	    batches_change_status(t, id, BATCH_STATUS_SENT, BATCH_STATUS_SENDING,
				  scheduled ? BS_REMINDED : 0, scheduled, e) < 0)
		goto out;
	if (*count == 0 &&
	    batches_change_status(t, id, BATCH_STATUS_SENT, BATCH_STATUS_SENT, BS_REMINDED,
				  scheduled, e) < 0)
		goto out;
	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	str_fmt(detail, sizeof(detail), "residents=%zu schedule=%u", *count, scheduled);
	a = (struct audit_entry){ actor, "batch.remind", target, where, detail };
	if (audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	free(seqs);
	store_abort(&t);
	return ret;
}

/* Sent batches with their send time and the schedule points done. */
struct sent_batch {
	uint64_t id;
	int64_t send_at;
	uint32_t done;
};

static int sent_batches(struct store_txn *t, struct sent_batch **out, size_t *n, struct error *e)
{
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (store_iter_open(t, DB_BATCH_STATE, NULL, 0, &it, e) < 0)
		return -1;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		char status[32];
		if (kl != 8 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0 ||
		    strcmp(status, BATCH_STATUS_SENT) != 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[*n].id = be64_get(k);
		(*out)[*n].send_at = (int64_t)rec_get_u64(v, vl, BS_SEND_AT, 0);
		(*out)[(*n)++].done = (uint32_t)rec_get_u64(v, vl, BS_REMINDED, 0);
	}
	store_iter_close(&it);
	if (r < 0) {
		free(*out);
		*out = NULL;
		return err_tmp(e, "cannot read the batch list");
	}
	return 0;
}

static int ward_reminders(struct store_txn *t, char *out, size_t size, struct error *e)
{
	struct wardset *ws = xcalloc(1, sizeof(*ws));
	int r = wardset_get(t, ws, e);

	if (r == 0)
		str_copy(out, ws->reminders, size);
	free(ws);
	return r < 0 ? -1 : 0;
}

/* The batch's 督促 setting, parsed: 0, or -1 (logged) when unreadable. */
static int batch_schedule(struct store_txn *t, uint64_t id, struct remind_schedule *s,
			  struct error *e)
{
	struct buf plain;
	struct error pe = { { 0 }, 0 };
	uint8_t k[8];
	char text[256] = "";
	int r;

	buf_init(&plain, 64 << 20);
	be64_put(k, id);
	r = store_get_sealed(t, DB_BATCHES, k, 8, &plain, e);
	if (r == 0)
		rec_get_str(plain.data, plain.len, BR_REMINDERS, text, sizeof(text));
	buf_wipe(&plain);
	if (r < 0)
		return -1;
	/* A batch that gives no 督促 follows the ward's default, set by staff
	 * on the dashboard (lib/wardset.h). */
	if (text[0] == '\0' && ward_reminders(t, text, sizeof(text), e) < 0)
		return -1;
	if (remind_schedule_parse(text, s, &pe) < 0) {
		log_warn("event=reminders_unreadable batch=%llu reason=\"%s\"",
			 (unsigned long long)id, pe.msg);
		s->n = 0;
	}
	return 0;
}

int remind_scheduled(struct store *st, int64_t now, size_t *reminded, struct error *e)
{
	struct store_txn *t = NULL;
	struct sent_batch *v = NULL;
	size_t n = 0, total = 0;
	int ret = -1;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (sent_batches(t, &v, &n, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct remind_schedule s;
		if (batch_schedule(t, v[i].id, &s, e) < 0)
			goto out;
		/* k: the points passed, when one is due; 0 marks "nothing due" */
		v[i].done = (uint32_t)remind_due(&s, v[i].send_at, v[i].done, now, NULL);
	}
	store_abort(&t);
	for (size_t i = 0; i < n; i++) {
		struct error be = { { 0 }, 0 };
		size_t count = 0;
		if (v[i].done == 0)
			continue;
		if (remind_batch(st, v[i].id, now, v[i].done, "mailer", "mailer", &count, &be) < 0) {
			log_warn("event=reminder_not_queued batch=%llu reason=\"%s\"",
				 (unsigned long long)v[i].id, be.msg);
			continue;
		}
		log_info("event=reminder_queued batch=%llu point=%u residents=%zu",
			 (unsigned long long)v[i].id, v[i].done, count);
		total += count;
	}
	ret = 0;
out:
	store_abort(&t);
	free(v);
	if (reminded != NULL)
		*reminded = total;
	return ret;
}
