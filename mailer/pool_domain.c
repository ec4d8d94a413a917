/*
 * pool_domain.c — the pool's limits per destination domain (the part of
 * the recipient's address after the last '@', lower-cased): how many
 * workers may carry its mail at once, and how many messages a minute may
 * start, spaced evenly (no bursts), as Postfix's destination concurrency
 * and rate delay keep them.  A throttling reply halves the domain's rate
 * for POOL_THROTTLE_HOLD_S (again at each further one); a domain with no
 * configured rate is first given half the rate it was just sent at.
 * Called by pool.c with the pool's lock held.  Runs in the mailer process.
 */
#include "mailer/pool_int.h"

#include <ctype.h>
#include <string.h>

#define NS_PER_MIN 60000000000.0

static void domain_of(const char *rcpt, char *out, size_t outsize)
{
	const char *at = strrchr(rcpt, '@');
	size_t n = 0;

	for (const char *s = at ? at + 1 : ""; *s != '\0' && n + 1 < outsize; s++)
		out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

static void dom_reset(struct pool *p, struct pool_dom *d, const char *name)
{
	memset(d, 0, sizeof *d);
	str_copy(d->name, name, sizeof d->name);
	d->rate = p->cfg.per_domain_rate;
	d->used = true;
}

int pool_dom_find(struct pool *p, const char *rcpt)
{
	char name[POOL_DOMAIN_MAX + 1];
	int64_t now = pool_now_ns();
	int idle = -1;

	domain_of(rcpt, name, sizeof name);
	for (size_t i = 0; i < p->ndoms; i++) {
		struct pool_dom *d = &p->doms[i];
		if (strcmp(d->name, name) == 0)
			return (int)i;
		if (idle < 0 && d->active == 0 && d->queued == 0 && d->throttled_until <= now && d->next_ok <= now)
			idle = (int)i;
	}
	if (p->ndoms < POOL_DOMAINS_MAX) {
		dom_reset(p, &p->doms[p->ndoms], name);
		return (int)p->ndoms++;
	}
	if (idle < 0)
		return -1;
	dom_reset(p, &p->doms[idle], name); /* forget a domain with nothing pending */
	return idle;
}

bool pool_dom_ready(struct pool *p, int i, int64_t now, int64_t *wake, bool has_slot)
{
	struct pool_dom *d = &p->doms[i];

	if (d->throttled_until != 0 && d->throttled_until <= now) {
		d->throttled_until = 0; /* the hold is over: the configured rate again */
		d->rate = p->cfg.per_domain_rate;
	}
	if (!has_slot && d->active >= p->cfg.per_domain_connections)
		return false;
	if (d->rate > 0 && d->next_ok > now) {
		if (d->next_ok < *wake)
			*wake = d->next_ok;
		return false;
	}
	return true;
}

void pool_dom_start(struct pool *p, int i, int64_t now, bool new_slot)
{
	struct pool_dom *d = &p->doms[i];

	if (new_slot)
		d->active++;
	d->queued--;
	if (d->rate > 0)
		d->next_ok = (d->next_ok > now ? d->next_ok : now) + (int64_t)(NS_PER_MIN / d->rate);
	if (now - d->window_start >= (int64_t)NS_PER_MIN) {
		d->window_start = now;
		d->window_sent = 0;
	}
	d->window_sent++;
}

/* The rate the domain was just sent at, in messages per minute. */
static double recent_rate(const struct pool_dom *d, int64_t now)
{
	double el = (double)(now - d->window_start);
	if (el < 1e9)
		el = 1e9; /* at least one second, so a few quick messages do not count as thousands */
	return (double)d->window_sent * NS_PER_MIN / el;
}

int64_t pool_dom_end(struct pool *p, int i, bool throttle, int64_t now, bool release)
{
	struct pool_dom *d = &p->doms[i];
	int64_t pause;

	if (release)
		d->active--;
	if (!throttle)
		return 0;
	d->rate = (d->rate > 0 ? d->rate : recent_rate(d, now)) / 2;
	if (d->rate < 1)
		d->rate = 1;
	d->throttled_until = now + (int64_t)POOL_THROTTLE_HOLD_S * 1000000000;
	pause = (int64_t)(NS_PER_MIN / d->rate);
	if (d->next_ok < now + pause)
		d->next_ok = now + pause;
	return pool_dom_not_before(p, i, now);
}

int64_t pool_dom_not_before(const struct pool *p, int i, int64_t now)
{
	const struct pool_dom *d = &p->doms[i];
	int64_t wait_s = d->next_ok > now ? (d->next_ok - now + 999999999) / 1000000000 : 0;

	if (d->throttled_until > now && wait_s < POOL_THROTTLE_RETRY_S)
		wait_s = POOL_THROTTLE_RETRY_S;
	return now_utc() + wait_s;
}
