/*
 * gateway.c — the gateway role's main loop.  Runs in the gateway process.
 *
 * The gateway takes batches in (IMAP, Maildir, drop folder), splits and
 * matches the PDFs, asks the keys process to sign and writes the store.
 * It opens the store itself, after fork, and never the key files.
 */
#include <stdlib.h>

#include "conf.h"
#include "keys.h"
#include "log.h"
#include "role.h"
#include "store.h"

int gateway_main(struct role_ctx *ctx)
{
	char db[4096], inbox[4096], tmp[4096];
	const char *rw[4];
	struct keys_client *kc = keys_client_new(ctx->keys_fd);
	struct store *st = NULL;
	struct error e = { { 0 }, 0 };

	str_fmt(db, sizeof(db), "%s/db", ctx->data_dir);
	str_fmt(tmp, sizeof(tmp), "%s/tmp", ctx->data_dir);
	conf_path(ctx->conf, "paths", "inbox", inbox, sizeof(inbox));
	rw[0] = db;
	rw[1] = inbox;
	rw[2] = tmp;
	rw[3] = NULL;
	if (role_confine(ctx, rw, NULL, NULL, &e) < 0 ||
	    store_open(ctx->data_dir, kc, 0, &st, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		keys_client_free(&kc);
		return 3;
	}
	log_info("event=ready schema=%u intake=not_built", store_schema_version(st));
	while (role_wait_parent(ctx, 1000) == 0)
		;
	store_close(&st);
	keys_client_free(&kc);
	return 0;
}
