/*
 * outbox.h — the replies to staff the gateway queues in the outbox Maildir
 * (gateway/intake_reply.c writes them into new/).  With no relay set the
 * Maildir is where mail ends (the demo) and nothing is done.  With a relay,
 * each file of new/ is sent through it to the address of its To field,
 * from [mail] from, then deleted; a file the relay refuses for good is
 * moved to cur/ (kept, with the Maildir flag T) and logged; a temporary
 * failure is tried again after OUTBOX_RETRY s.  The folder is looked at
 * every OUTBOX_SCAN_MS.  Runs in the mailer process.
 */
#ifndef TAYORI_OUTBOX_H
#define TAYORI_OUTBOX_H

#include <stddef.h>

#include "lib/util.h"
#include "mailer/pool.h"
#include "mailer/send.h"

#define OUTBOX_SCAN_MS 2000
#define OUTBOX_RETRY 60
#define OUTBOX_MAX_FILE ((size_t)32 << 20)
#define OUTBOX_MAX_IN_FLIGHT 32

struct outbox;

int outbox_open(struct send_ctx *sc, struct pool *pool, const char *maildir, struct outbox **out,
		struct error *e);
void outbox_close(struct outbox **o);
int outbox_step(struct outbox *o, struct error *e);
/* An outcome whose cookie has QUEUE_COOKIE_OUTBOX. */
void outbox_outcome(struct outbox *o, const struct pool_outcome *oc);
size_t outbox_in_flight(const struct outbox *o);

#endif
