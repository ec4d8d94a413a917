/*
 * cmd_batch_send.c — `tayori batch send ID [--at 'YYYY-MM-DD HH:MM']`:
 * an approved batch moves to "sending" with the time sending starts; the
 * mailer picks it up then and makes the deliveries.  `tayori batch remind
 * ID`: residents sent mail who have not opened it are queued again for a
 * reminder with a fresh link (lib/remind.h).
 * Runs in the command-line process of the staff member who calls it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/cli.h"
#include "cmd/cmd_batch_int.h"
#include "lib/batches.h"
#include "lib/remind.h"
#include "lib/staff.h"

/* Exactly n ASCII digits at s, in [lo, hi]. */
static int digits(const char *s, int n, int lo, int hi, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int batch_parse_jst(const char *s, int64_t *out)
{
	struct tm tm, back;
	int y, mo, d, h, mi;
	time_t t;

	/* YYYY-MM-DD HH:MM, also with a T between date and time */
	if (strlen(s) != 16 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
	    s[13] != ':' || digits(s, 4, 2000, 9999, &y) < 0 || digits(s + 5, 2, 1, 12, &mo) < 0 ||
	    digits(s + 8, 2, 1, 31, &d) < 0 || digits(s + 11, 2, 0, 23, &h) < 0 ||
	    digits(s + 14, 2, 0, 59, &mi) < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	t = timegm(&tm);
	/* 2026-02-30 is not a day: timegm moves it, and the check sees it. */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
	    back.tm_mon != mo - 1)
		return -1;
	*out = (int64_t)t - 9 * 3600; /* JST is UTC+9, no daylight saving */
	return 0;
}

int batch_send(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e)
{
	struct staff s;
	char actor[32], when[32];
	const char *who = cli_actor();
	int64_t now = now_utc(), at = now;

	if (o->at != NULL) {
		if (batch_parse_jst(o->at, &at) < 0)
			return err_set(e, "--at %s: not a time written YYYY-MM-DD HH:MM (Japan time)",
				       o->at);
		/* A time already past starts now: say so rather than refuse. */
		if (at < now)
			at = now;
	}
	if (o->as != NULL) {
		if (batch_as_staff(t, o->as, PERM_SEND, "send", &s, actor, sizeof(actor), e) < 0)
			return -1;
		who = actor;
	}
	if (batches_send(t->st, id, at, who, "cli", e) < 0)
		return -1;
	time_format_jst(at, when, sizeof(when));
	printf("batch %llu sending from %s\n", (unsigned long long)id, when);
	return 0;
}

int batch_remind(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e)
{
	struct staff s;
	char actor[32];
	const char *who = cli_actor();
	size_t n = 0;

	if (o->as != NULL) {
		if (batch_as_staff(t, o->as, PERM_REMIND, "remind", &s, actor, sizeof(actor), e) < 0)
			return -1;
		who = actor;
	}
	if (remind_batch(t->st, id, now_utc(), 0, who, "cli", &n, e) < 0)
		return -1;
	if (n == 0)
		printf("batch %llu: every resident sent mail has opened it; nobody to remind\n",
		       (unsigned long long)id);
	else
		printf("batch %llu: %zu residents to remind\n", (unsigned long long)id, n);
	return 0;
}
