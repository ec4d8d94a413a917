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

#include "cmd/cli.h"
#include "cmd/cmd_batch_int.h"
#include "lib/batches.h"
#include "lib/remind.h"
#include "lib/staff.h"

int batch_send(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e)
{
	struct staff s;
	char actor[32], when[32];
	const char *who = cli_actor();
	int64_t now = now_utc(), at = now;

	if (o->at != NULL) {
		if (time_parse_jst(o->at, &at) < 0)
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
