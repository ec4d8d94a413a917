/*
 * mailer.c — the mailer role's main loop.  Runs in the mailer process.
 *
 * The mailer sends each resident a tokenised link (SMTP, RFC 5321), reads
 * bounces (RFC 3464), sends reminders and reports.  It never holds a
 * private key: it asks the keys process to unwrap the data keys of the
 * records it reads.
 */
#include <stdlib.h>

#include "conf/conf.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/store.h"

int mailer_main(struct role_ctx *ctx)
{
	char outbox[4096];
	const char *rw[2];
	struct keys_client *kc = keys_client_new(ctx->keys_fd);
	struct store *st = NULL;
	struct error e = { { 0 }, 0 };

	/* DATA/db and DATA/tmp come with the role (role.c); the outbox is set
	 * in the configuration. */
	conf_path(ctx->conf, "paths", "outbox_maildir", outbox, sizeof(outbox));
	rw[0] = outbox;
	rw[1] = NULL;
	if (role_confine(ctx, rw, NULL, NULL, &e) < 0 ||
	    store_open(ctx->data_dir, kc, 0, &st, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		keys_client_free(&kc);
		return 3;
	}
	log_info("event=ready schema=%u sending=not_built", store_schema_version(st));
	while (role_wait_parent(ctx, 1000) == 0)
		;
	store_close(&st);
	keys_client_free(&kc);
	return 0;
}
