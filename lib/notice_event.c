/*
 * notice_event.c — the events of a sent notice (opens, authentications,
 * downloads, consent, what the mailer did), each stored with a MAC from the
 * keys process and written to the audit log in the same transaction (see
 * lib/notice.h).  Runs in the mailer, the portal and the command-line
 * processes.
 *
 * Audit records: actor "resident" (open, auth_ok, auth_fail, locked,
 * download, cert_download, consent, decline), "mailer" (otp_sent, sent,
 * deferred, bounced, failed, reminded) or "staff" (unlocked); action
 * "notice.<event name>"; target "batch:B/seq:S" (the resident's row, never
 * a personal value); from "portal", "mailer" or "dashboard"; detail
 * "delay=N" when the seconds since delivery are known.  The user agent is
 * kept in the event only.
 */
#include "lib/notice.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/audit.h"
#include "lib/log.h"
#include "lib/notice_int.h"
#include "lib/rec.h"
#include "lib/store.h"

#define EVENT_KEY 20
#define EVENT_REC_MAX 2048

static const char *const event_names[] = {
	[EV_OPEN] = "open",
	[EV_AUTH_OK] = "auth_ok",
	[EV_AUTH_FAIL] = "auth_fail",
	[EV_LOCKED] = "locked",
	[EV_UNLOCKED] = "unlocked",
	[EV_DOWNLOAD] = "download",
	[EV_CERT_DOWNLOAD] = "cert_download",
	[EV_CONSENT] = "consent",
	[EV_DECLINE] = "decline",
	[EV_OTP_SENT] = "otp_sent",
	[EV_SENT] = "sent",
	[EV_DEFERRED] = "deferred",
	[EV_BOUNCED] = "bounced",
	[EV_FAILED] = "failed",
	[EV_REMINDED] = "reminded",
};

const char *notice_event_name(enum notice_event t)
{
	if ((unsigned)t >= ARRAY_SIZE(event_names) || event_names[t] == NULL)
		return "?";
	return event_names[t];
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* An event's audit record; its strings live in s. */
struct event_audit_text {
	char action[48], target[64], detail[48];
};

static void event_entry(const struct notice_event_rec *ev, struct event_audit_text *s,
			struct audit_entry *a)
{
	const char *actor = "resident", *from = "portal";

	switch (ev->type) {
	case EV_OTP_SENT: case EV_SENT: case EV_DEFERRED: case EV_BOUNCED: case EV_FAILED:
	case EV_REMINDED:
		actor = "mailer";
		from = "mailer";
		break;
	case EV_UNLOCKED:
		actor = "staff";
		from = "dashboard";
		break;
	default:
		break;
	}
	s->detail[0] = '\0';
	str_fmt(s->action, sizeof(s->action), "notice.%s", notice_event_name(ev->type));
	str_fmt(s->target, sizeof(s->target), "batch:%llu/seq:%u", (unsigned long long)ev->batch,
		ev->seq);
	if (ev->delay >= 0)
		str_fmt(s->detail, sizeof(s->detail), "delay=%lld", (long long)ev->delay);
	*a = (struct audit_entry){ actor, s->action, s->target, from, s->detail };
}

int notice_event_add(struct store_txn *t, const struct notice_event_rec *ev, struct error *e)
{
	return notice_event_add_many(t, ev, 1, e);
}

/* A key for ev: its batch, its microsecond, and the first n that neither
 * the store nor the earlier events of this call (taken[0..nt)) hold. */
static int event_key(struct store_txn *t, const struct notice_event_rec *ev,
		     uint8_t (*taken)[EVENT_KEY], size_t nt, uint8_t k[EVENT_KEY], struct error *e)
{
	int64_t when = ev->time_us > 0 ? ev->time_us : now_us();
	const void *v;
	size_t vl;

	be64_put(k, ev->batch);
	be64_put(k + 8, (uint64_t)when);
	/* n tells apart events of one batch in the same microsecond. */
	for (uint32_t n = 0; n < 1000; n++) {
		int r, dup = 0;

		be32_put(k + 16, n);
		for (size_t i = 0; i < nt && !dup; i++)
			dup = memcmp(taken[i], k, EVENT_KEY) == 0;
		if (dup)
			continue;
		r = store_get(t, DB_EVENTS, k, EVENT_KEY, &v, &vl, e);
		if (r < 0)
			return -1;
		if (r == 1)
			return 0;
	}
	return err_tmp(e, "notice: too many events in one microsecond");
}

int notice_event_add_many(struct store_txn *t, const struct notice_event_rec *ev, size_t n,
			  struct error *e)
{
	struct event_audit_text *s;
	struct audit_entry *a;
	uint8_t(*k)[EVENT_KEY];
	const void **kp;
	size_t *kl;
	struct buf *b;
	int r, ret = -1;

	if (n == 0 || n > NOTICE_EVENTS_MANY_MAX)
		return err_set(e, "notice: %zu events at once", n);
	s = xcalloc(n, sizeof(*s));
	a = xcalloc(n, sizeof(*a));
	k = xcalloc(n, sizeof(*k));
	kp = xcalloc(n, sizeof(*kp));
	kl = xcalloc(n, sizeof(*kl));
	b = xcalloc(n, sizeof(*b));
	for (size_t i = 0; i < n; i++)
		buf_init(&b[i], EVENT_REC_MAX);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(notice_event_name(ev[i].type), "?") == 0) {
			err_set(e, "notice: event type %d is not one", (int)ev[i].type);
			goto out;
		}
		if (event_key(t, &ev[i], k, i, k[i], e) < 0)
			goto out;
		kp[i] = k[i];
		kl[i] = EVENT_KEY;
		if (rec_put_u64(&b[i], NR_BATCH, ev[i].batch) < 0 ||
		    rec_put_u64(&b[i], NR_SEQ, ev[i].seq) < 0 ||
		    rec_put_u64(&b[i], NR_TYPE, (uint64_t)ev[i].type) < 0 ||
		    rec_put(&b[i], NR_UA, ev[i].ua, strnlen(ev[i].ua, sizeof(ev[i].ua) - 1)) < 0 ||
		    rec_put_u64(&b[i], NR_DELAY, (uint64_t)ev[i].delay) < 0) {
			err_set(e, "notice: event record too long");
			goto out;
		}
		event_entry(&ev[i], &s[i], &a[i]);
	}
	/* Their MACs in one round trip to the keys process, then the records. */
	if (notice_seal_many(store_txn_store(t), DB_EVENTS, n, kp, kl, 1, b, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		r = store_put_new(t, DB_EVENTS, k[i], EVENT_KEY, b[i].data, b[i].len, e);
		if (r != 0) {
			if (r == 1)
				err_tmp(e, "notice: an event's key was taken meanwhile");
			goto out;
		}
	}
	/* All their audit records in one request to the keys process. */
	ret = audit_append_many(t, a, n, NULL, e);
out:
	for (size_t i = 0; i < n; i++)
		buf_free(&b[i]);
	free(b);
	free(kl);
	free(kp);
	free(k);
	free(a);
	free(s);
	return ret;
}

int notice_event_parse(const uint8_t *k, const uint8_t *v, size_t vl,
		       struct notice_event_rec *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->batch = be64_get(k);
	ev->time_us = (int64_t)be64_get(k + 8);
	ev->seq = (uint32_t)rec_get_u64(v, vl, NR_SEQ, 0);
	ev->type = (enum notice_event)rec_get_u64(v, vl, NR_TYPE, 0);
	ev->delay = (int64_t)rec_get_u64(v, vl, NR_DELAY, (uint64_t)-1);
	if (rec_get_u64(v, vl, NR_BATCH, 0) != ev->batch ||
	    rec_get_str(v, vl, NR_UA, ev->ua, sizeof(ev->ua)) < 0)
		return -1;
	return 0;
}

int notice_events_each(struct store_txn *t, uint64_t batch, int64_t since_us,
		       int (*cb)(const struct notice_event_rec *, void *), void *arg,
		       struct error *e)
{
	struct store_iter *it = NULL;
	uint8_t start[EVENT_KEY] = { 0 };
	const void *k, *v;
	size_t kl, vl;
	struct notice_event_rec ev;
	int r, ret = -1;

	be64_put(start, batch);
	be64_put(start + 8, (uint64_t)(since_us > 0 ? since_us : 0));
	if (store_iter_open(t, DB_EVENTS, start, sizeof(start), &it, e) < 0)
		return -1;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		if (kl < 8 || be64_get(k) != batch)
			break;
		if (kl != EVENT_KEY)
			continue;
		r = notice_check_rec(store_txn_store(t), DB_EVENTS, k, kl, v, vl, e);
		if (r < 0)
			goto out;
		if (r == 1 || notice_event_parse(k, v, vl, &ev) < 0)
			continue; /* refused: logged by notice_check_rec */
		if (cb(&ev, arg) != 0)
			break;
	}
	if (r < 0) {
		err_tmp(e, "notice: reading the events of batch %llu failed",
			(unsigned long long)batch);
		goto out;
	}
	ret = 0;
out:
	store_iter_close(&it);
	return ret;
}
