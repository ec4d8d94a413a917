/*
 * cmd_batch_int.h — private to `tayori batch` (cmd_batch*.c): the parsed
 * options and the subcommands that live in their own files.
 * Runs in the command-line process.
 */
#ifndef TAYORI_CMD_BATCH_INT_H
#define TAYORI_CMD_BATCH_INT_H

#include <stdint.h>
#include "lib/util.h"

struct cli_tenant;
struct staff;

struct batch_opts {
	const char *dir, *conf;
	const char *as;   /* --as LOGIN: the staff member acting */
	const char *at;   /* --at 'YYYY-MM-DD HH:MM' (JST) */
	const char *out;  /* -o OUT */
	int json, paper;
};

/* The staff member named by --as: 0, or -1 (unknown, disabled, or without
 * perm, named perm_name in the message).  actor gets "staff:N". */
int batch_as_staff(struct cli_tenant *t, const char *login, uint32_t perm,
		   const char *perm_name, struct staff *s, char *actor, size_t actorsize,
		   struct error *e);

int batch_send(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e);
int batch_remind(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e);
int batch_export(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e);

#endif
