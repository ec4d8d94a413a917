/*
 * notice_unlock.c — staff unlock a resident's locked notice (see
 * notice_unlock() in lib/notice.h).  Runs in the command-line process and,
 * later, the dashboard's.
 */
#include "lib/notice.h"

#include <string.h>

#include "lib/audit.h"
#include "lib/store.h"

int notice_unlock(struct store *st, uint64_t batch, uint32_t seq, const char *actor,
		  const char *where, struct error *e)
{
	struct store_txn *t = NULL;
	struct notice_access a;
	struct notice_event_rec ev;
	struct audit_entry au;
	char target[64], detail[64];
	int r, ret = -1;

	memset(&ev, 0, sizeof(ev));
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	r = access_get(t, batch, seq, &a, e);
	if (r < 0)
		goto out;
	if (r == 1 || !a.locked) {
		ret = 1;
		goto out;
	}
	str_fmt(detail, sizeof(detail), "failures=%u", a.failures);
	a.locked = 0;
	a.failures = 0;
	memset(a.otp_hash, 0, sizeof(a.otp_hash));
	a.otp_tries = 0;
	ev.batch = batch;
	ev.seq = seq;
	ev.time_us = now_utc() * 1000000;
	ev.type = EV_UNLOCKED;
	ev.delay = -1;
	str_fmt(target, sizeof(target), "batch:%llu/seq:%u", (unsigned long long)batch, seq);
	au = (struct audit_entry){ actor, "notice.unlock", target, where, detail };
	if (access_put(t, &a, e) < 0 || notice_event_add(t, &ev, e) < 0 ||
	    audit_append(t, &au, NULL, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	secure_wipe(&a, sizeof(a));
	return ret;
}
