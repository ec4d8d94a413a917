/*
 * role.h — the table of tayori's processes, one per trust level.
 *
 *   parent   supervisor: starts, restarts and stops the others; holds no key,
 *            opens no database.
 *   keys     the only process that reads the tenant key and the signing
 *            credential; answers framed requests; no network.
 *   gateway  intake, PDF split/match, asks keys to sign, writes LMDB.
 *   mailer   outbound SMTP, bounces, reminders, reports.
 *   portal   HTTP for residents and, on a second listener, for staff.
 */
#ifndef TAYORI_ROLE_H
#define TAYORI_ROLE_H

#include <limits.h>
#include <sys/types.h>
#include "lib/sandbox.h"
#include "lib/util.h"

enum role { ROLE_KEYS, ROLE_GATEWAY, ROLE_MAILER, ROLE_PORTAL, ROLE_COUNT };

struct conf;

/* What a role's main function receives from the supervisor after fork.
 * Descriptors not listed here are closed before the role runs. */
struct role_ctx {
	enum role role;
	const char *conf_path;   /* absolute path of tayori.conf */
	struct conf *conf;       /* parsed configuration, owned by the role */
	const char *conf_file;   /* the file it was read from (the sandbox lets it be read) */
	int sandbox_mode;        /* [security] sandbox: enum sandbox_mode */
	char data_dir[PATH_MAX]; /* the tenant's data directory, absolute */
	int parent_fd;           /* control channel to the supervisor; EOF = stop */
	int keys_fd;             /* channel to the keys process (-1 in keys) */
	int keys_fd2;            /* a second one for parallel signing (gateway), or -1 */
	int drop_user;           /* started as root: become run_uid:run_gid in role_confine */
	uid_t run_uid;           /* the service user (svcuser.h) */
	gid_t run_gid;
};

const char *role_name(enum role r);

int keys_main(struct role_ctx *ctx);
int gateway_main(struct role_ctx *ctx);
int mailer_main(struct role_ctx *ctx);
int portal_main(struct role_ctx *ctx);

/* What a role may reach once confined: its row of the table in role.c
 * (folders of the data directory, sockets, TCP connections out, the key
 * files the role must not read) plus what its configuration adds: rw and
 * ro, NULL-terminated lists of paths (may be NULL), and ports, the TCP
 * ports the role binds (may be NULL; 0 = none).  paths holds the strings
 * the policy points to. */
struct role_policy {
	struct sandbox_policy sp;
	char paths[4][PATH_MAX];
};
/* 0, or -1 when a path is too long or there are more than the sandbox takes. */
int role_policy(const struct role_ctx *ctx, const char *const *rw, const char *const *ro,
		const int ports[2], struct role_policy *out, struct error *e);
/* Confine the calling role (sandbox.h), in this order: leave root for the
 * service user (when started as root), then sandbox_enter with the role's
 * policy (role_policy): Landlock, seccomp, and the check that the key files
 * are out of reach.  A role opens what needs root (the portal's listening
 * sockets) before calling this.  With TAYORI_TEST_SYSCALLS=1 in the
 * environment the role then tries the calls it must not make and logs what
 * happened (sandbox_try_forbidden). */
int role_confine(struct role_ctx *ctx, const char *const *rw, const char *const *ro,
		 const int ports[2], struct error *e);
/* Wait up to timeout_ms for the supervisor; -1 when it closed the channel. */
int role_wait_parent(struct role_ctx *ctx, int timeout_ms);

#endif
