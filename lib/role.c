/*
 * role.c — what every role does the same way after fork: its name, its
 * privilege drop and sandbox with the key-file self-check, and waiting on
 * the supervisor.  Runs in each role process.
 */
#include "lib/role.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sandbox.h"

static const char *const names[ROLE_COUNT] = { "keys", "gateway", "mailer", "portal" };

const char *role_name(enum role r)
{
	return (unsigned)r < ROLE_COUNT ? names[r] : "?";
}

int role_confine(struct role_ctx *ctx, const char *const *rw, const char *const *ro,
		 const int ports[2], struct error *e)
{
	struct sandbox_paths p;
	int mode = ctx->sandbox_mode;

	memset(&p, 0, sizeof(p));
	p.data_dir = ctx->data_dir;
	p.conf_file = ctx->conf_file;
	for (size_t i = 0; rw != NULL && rw[i] != NULL && i + 1 < ARRAY_SIZE(p.extra_rw); i++)
		p.extra_rw[i] = rw[i];
	for (size_t i = 0; ro != NULL && ro[i] != NULL && i + 1 < ARRAY_SIZE(p.extra_ro); i++)
		p.extra_ro[i] = ro[i];
	if (ports != NULL) {
		p.bind_ports[0] = ports[0];
		p.bind_ports[1] = ports[1];
	}
	/* Leaving root does not depend on the sandbox setting: off is for
	 * testing the sandbox, not for running as root. */
	if (ctx->drop_user) {
		if (sandbox_drop_user(ctx->run_uid, ctx->run_gid, e) < 0)
			return -1;
		log_info("event=privileges role=%s uid=%u gid=%u capabilities=none", role_name(ctx->role),
			 (unsigned)ctx->run_uid, (unsigned)ctx->run_gid);
	} else if (sandbox_drop_caps(e) < 0) {
		return -1;
	}
	if (sandbox_enter(ctx->role, (enum sandbox_mode)mode, &p, e) < 0)
		return -1;
	if (mode != SANDBOX_OFF && sandbox_seccomp(ctx->role, e) < 0) {
		if (mode == SANDBOX_REQUIRED)
			return -1;
		log_warn("event=seccomp role=%s state=failed reason=\"%s\"", role_name(ctx->role), e->msg);
	}
	if (ctx->role != ROLE_KEYS) {
		/* Fail closed: a role that could read the tenant key must not run. */
		if (sandbox_check_keys_hidden(ctx->data_dir, e) < 0) {
			if (mode == SANDBOX_REQUIRED)
				return -1;
			log_warn("event=sandbox role=%s key_files=readable", role_name(ctx->role));
		} else {
			log_info("event=sandbox_check role=%s key_files=unreadable", role_name(ctx->role));
		}
	}
	{
		const char *t = getenv("TAYORI_TEST_SYSCALLS");
		if (t != NULL && strcmp(t, "1") == 0)
			sandbox_try_forbidden(ctx->role);
	}
	return 0;
}

int role_wait_parent(struct role_ctx *ctx, int timeout_ms)
{
	struct pollfd p = { ctx->parent_fd, POLLIN, 0 };
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
		char c;
		ssize_t n = read(ctx->parent_fd, &c, 1);
		if (n <= 0)
			return -1; /* the supervisor is gone: stop */
	}
	return 0;
}
