/*
 * role.c — what every role does the same way after fork: its name, its
 * sandbox policy (the one place that says what each role may reach), its
 * privilege drop and confinement, and waiting on the supervisor.  Runs in
 * each role process.
 */
#include "lib/role.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/keys_client.h"
#include "lib/log.h"

/*
 * The gateway reaches the IMAP server, the TSA and CRL/OCSP responders over
 * TCP; the mailer reaches its SMTP relay over TCP.  Both resolve host names
 * with getaddrinfo(3), which asks the resolvers of /etc/resolv.conf over
 * UDP: hence SOCK_DGRAM on AF_INET/AF_INET6.  AF_UNIX SOCK_DGRAM lets
 * syslog(3) reconnect to /dev/log after the log daemon restarts.  Nothing
 * else: no raw or packet sockets, no netlink (getaddrinfo's
 * address-configuration probe then assumes both families).  The keys
 * process and the portal make no socket of their own (the portal's
 * listeners are made before it is confined).
 */
#define NET_CLIENT                                                                          \
	{ { AF_UNIX, SOCK_DGRAM }, { AF_INET, SOCK_STREAM }, { AF_INET, SOCK_DGRAM },        \
	  { AF_INET6, SOCK_STREAM }, { AF_INET6, SOCK_DGRAM } },                             \
		5

/*
 * Each role's sandbox policy, besides the system directories every confined
 * process reads (sandbox.h) and the config file:
 *
 *   keys      reads DATA/keys, writes DATA/keys/audit, plus the credential
 *             (keys_main adds it); no socket, no TCP bind or connect
 *   gateway   writes DATA/db, DATA/tmp, plus its inbox, Maildir and outbox;
 *             TCP and DNS out; must not read the key files
 *   mailer    writes DATA/db, DATA/tmp, plus the outbox; TCP and DNS out;
 *             must not read the key files
 *   portal    writes DATA/db, DATA/tmp; binds only its two ports, opens no
 *             socket, connects nowhere; must not read the key files
 *
 * TCP bind and connect rules need Landlock ABI 4 (sandbox.h).
 */
static const struct role_row {
	const char *name;
	const char *data_read[2];  /* folders of the data directory, read only */
	const char *data_write[3]; /* ... read-write */
	int tcp_connect;
	struct sandbox_socket sockets[SANDBOX_MAX_SOCKETS];
	size_t nsockets;
	int keys_hidden; /* must find the key files unreadable once confined */
} roles[ROLE_COUNT] = {
	/* keys: the key folder and its audit counter; no network at all. */
	[ROLE_KEYS] = { "keys", { KEYS_DIR, NULL }, { KEYS_AUDIT_DIR, NULL }, 0, { { 0, 0 } }, 0, 0 },
	[ROLE_GATEWAY] = { "gateway", { NULL }, { "db", "tmp", NULL }, 1, NET_CLIENT, 1 },
	[ROLE_MAILER] = { "mailer", { NULL }, { "db", "tmp", NULL }, 1, NET_CLIENT, 1 },
	/* portal: binds its two ports, connects nowhere. */
	[ROLE_PORTAL] = { "portal", { NULL }, { "db", "tmp", NULL }, 0, { { 0, 0 } }, 0, 1 },
};

const char *role_name(enum role r)
{
	return (unsigned)r < ROLE_COUNT ? roles[r].name : "?";
}

/* Append path to list (size max); -1 when full. */
static int add(const char **list, size_t max, const char *path)
{
	size_t i = 0;
	while (i < max && list[i] != NULL)
		i++;
	if (i == max)
		return -1;
	list[i] = path;
	return 0;
}

/* out->paths[*used] = data_dir/rel, appended to list. */
static int add_data(const struct role_ctx *ctx, const char *rel, const char **list, size_t max,
		    struct role_policy *out, size_t *used, struct error *e)
{
	char *p;
	if (*used == ARRAY_SIZE(out->paths))
		return err_set(e, "sandbox: too many paths for role %s", role_name(ctx->role));
	p = out->paths[(*used)++];
	if (str_fmt(p, PATH_MAX, "%s/%s", ctx->data_dir, rel) < 0)
		return err_set(e, "sandbox: path too long: %s/%s", ctx->data_dir, rel);
	if (add(list, max, p) < 0)
		return err_set(e, "sandbox: too many paths for role %s", role_name(ctx->role));
	return 0;
}

int role_policy(const struct role_ctx *ctx, const char *const *rw, const char *const *ro,
		const int ports[2], struct role_policy *out, struct error *e)
{
	const struct role_row *row;
	struct sandbox_policy *sp = &out->sp;
	size_t used = 0;

	if ((unsigned)ctx->role >= ROLE_COUNT)
		return err_set(e, "sandbox: no such role");
	row = &roles[ctx->role];
	memset(out, 0, sizeof(*out));
	sp->name = row->name;
	sp->tcp_connect = row->tcp_connect;
	memcpy(sp->sockets, row->sockets, sizeof(sp->sockets));
	sp->nsockets = row->nsockets;
	if (ctx->conf_file != NULL && add(sp->read, ARRAY_SIZE(sp->read), ctx->conf_file) < 0)
		return err_set(e, "sandbox: too many paths");
	for (size_t i = 0; i < ARRAY_SIZE(row->data_read) && row->data_read[i] != NULL; i++)
		if (add_data(ctx, row->data_read[i], sp->read, ARRAY_SIZE(sp->read), out, &used, e) < 0)
			return -1;
	for (size_t i = 0; i < ARRAY_SIZE(row->data_write) && row->data_write[i] != NULL; i++)
		if (add_data(ctx, row->data_write[i], sp->write, ARRAY_SIZE(sp->write), out, &used,
			     e) < 0)
			return -1;
	for (size_t i = 0; ro != NULL && ro[i] != NULL; i++)
		if (add(sp->read, ARRAY_SIZE(sp->read), ro[i]) < 0)
			return err_set(e, "sandbox: too many paths to read for role %s", row->name);
	for (size_t i = 0; rw != NULL && rw[i] != NULL; i++)
		if (add(sp->write, ARRAY_SIZE(sp->write), rw[i]) < 0)
			return err_set(e, "sandbox: too many paths to write for role %s", row->name);
	for (size_t i = 0, n = 0; ports != NULL && i < 2; i++)
		if (ports[i] > 0)
			sp->bind_ports[n++] = ports[i];
	if (row->keys_hidden) {
		/* The key folder and the tenant key: neither may open from here. */
		sp->unreadable_what = "key_files";
		if (add_data(ctx, KEYS_TENANT_KEY, sp->unreadable, ARRAY_SIZE(sp->unreadable), out,
			     &used, e) < 0 ||
		    add_data(ctx, KEYS_DIR, sp->unreadable, ARRAY_SIZE(sp->unreadable), out, &used,
			     e) < 0)
			return -1;
	}
	return 0;
}

int role_confine(struct role_ctx *ctx, const char *const *rw, const char *const *ro,
		 const int ports[2], struct error *e)
{
	struct role_policy *rp = xcalloc(1, sizeof(*rp));
	const char *t = getenv("TAYORI_TEST_SYSCALLS");
	int ret = -1;

	if (role_policy(ctx, rw, ro, ports, rp, e) < 0)
		goto out;
	/* Leaving root does not depend on the sandbox setting: off is for
	 * testing the sandbox, not for running as root. */
	if (ctx->drop_user) {
		if (sandbox_drop_user(ctx->run_uid, ctx->run_gid, e) < 0)
			goto out;
		log_info("event=privileges role=%s uid=%u gid=%u capabilities=none", rp->sp.name,
			 (unsigned)ctx->run_uid, (unsigned)ctx->run_gid);
	} else if (sandbox_drop_caps(e) < 0) {
		goto out;
	}
	if (sandbox_enter(&rp->sp, (enum sandbox_mode)ctx->sandbox_mode, e) < 0)
		goto out;
	if (t != NULL && strcmp(t, "1") == 0)
		sandbox_try_forbidden(rp->sp.name);
	ret = 0;
out:
	free(rp);
	return ret;
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
