/*
 * test_role.c — unit tests for lib/role.c: each role's sandbox policy, as
 * the running service applies it.  A forked child confines itself with
 * role_confine exactly as the role does after fork (a scratch data folder
 * with keys/tenant.key, db/, tmp/ and a config file), then tries what the
 * role may and may not do and sends the errno of each try back over a
 * pipe.  Checked: only keys reads DATA/keys; the others may not, and
 * refuse to start when their configured paths would let them; only keys
 * writes the audit counter's folder and never DATA/db; the portal binds
 * only its own ports and connects nowhere; gateway and mailer connect out
 * over TCP and resolve over UDP; keys and the portal open no socket.
 * Needs Landlock (ABI 4 for the network cases): skipped, saying so,
 * without.  Runs as a stand-alone cmocka program; uses a scratch folder
 * under /tmp and loopback TCP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/keys_client.h"
#include "lib/role.h"
#include "lib/sandbox.h"
#include "lib/util.h"

#define MAX_PROBES 16

struct outcome {
	int confine;
	char msg[ERR_MAX];
	int n;
	int err[MAX_PROBES];
};

struct tenant {
	char top[64];
	char data[128], conf[160], key[200], keys_dir[200], audit_file[200], db_file[200], keys_file[200];
	char outside[160];
	int listen_fd, listen_port;
};

static void put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void sub(char *out, size_t size, const char *dir, const char *rel)
{
	assert_true(str_fmt(out, size, "%s/%s", dir, rel) >= 0);
}

static int setup(void **state)
{
	struct tenant *t = calloc(1, sizeof(*t));
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	char path[200];
	static const char *const dirs[] = { "", "/keys", "/keys/audit", "/db", "/tmp" };

	if (t == NULL)
		return -1;
	str_fmt(t->top, sizeof(t->top), "/tmp/tayori-role.XXXXXX");
	if (mkdtemp(t->top) == NULL)
		return -1;
	sub(t->data, sizeof(t->data), t->top, "data");
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		str_fmt(path, sizeof(path), "%s%s", t->data, dirs[i]);
		if (mkdir(path, 0700) < 0)
			return -1;
	}
	sub(t->conf, sizeof(t->conf), t->top, "tayori.conf");
	sub(t->key, sizeof(t->key), t->data, KEYS_TENANT_KEY);
	sub(t->keys_dir, sizeof(t->keys_dir), t->data, KEYS_DIR);
	sub(t->audit_file, sizeof(t->audit_file), t->data, KEYS_AUDIT_DIR "/probe");
	sub(t->db_file, sizeof(t->db_file), t->data, "db/probe");
	sub(t->keys_file, sizeof(t->keys_file), t->data, KEYS_DIR "/probe");
	sub(t->outside, sizeof(t->outside), t->top, "outside");
	put_file(t->conf, "[tenant]\nname = test\n", 0600);
	put_file(t->key, "not really a key\n", 0600);
	put_file(t->outside, "elsewhere\n", 0600);
	/* A server to connect to. */
	t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (t->listen_fd < 0 || bind(t->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(t->listen_fd, 8) < 0 || getsockname(t->listen_fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	t->listen_port = ntohs(a.sin_port);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tenant *t = *state;
	char path[200];
	static const char *const files[] = { "keys/audit/probe", "keys/probe", "db/probe",
					     "tmp/probe", KEYS_TENANT_KEY };
	static const char *const dirs[] = { "keys/audit", "keys", "db", "tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		sub(path, sizeof(path), t->data, files[i]);
		unlink(path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		sub(path, sizeof(path), t->data, dirs[i]);
		rmdir(path);
	}
	rmdir(t->data);
	unlink(t->conf);
	unlink(t->outside);
	rmdir(t->top);
	close(t->listen_fd);
	free(t);
	return 0;
}

static void ctx_for(const struct tenant *t, enum role r, struct role_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->role = r;
	ctx->conf_file = t->conf;
	ctx->conf_path = t->conf;
	ctx->sandbox_mode = SANDBOX_REQUIRED;
	str_fmt(ctx->data_dir, sizeof(ctx->data_dir), "%s", t->data);
	ctx->parent_fd = ctx->keys_fd = ctx->keys_fd2 = -1;
}

static void note(struct outcome *o, int ok)
{
	if (o->n < MAX_PROBES)
		o->err[o->n++] = ok ? 0 : errno;
}

static int open_close(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int tcp_to(int fd, int port, int do_bind)
{
	struct sockaddr_in a = { 0 };
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	return (do_bind ? bind(fd, (struct sockaddr *)&a, sizeof(a))
			: connect(fd, (struct sockaddr *)&a, sizeof(a))) == 0;
}

/* The probes, in the confined role:
 *   0 read the tenant key       1 list DATA/keys         2 write DATA/db
 *   3 write the audit folder    4 write DATA/keys        5 read the config
 *   6 read a file outside       7 TCP socket             8 UDP socket
 *   9 netlink socket           10 connect out (a socket made before)
 *  11 bind port A              12 bind port B (sockets made before) */
struct probe_arg {
	const struct tenant *t;
	int ports[2]; /* the portal's two ports */
	int other;    /* a port nobody's policy names */
};

static void probe(struct outcome *o, const struct probe_arg *a, const int pre[3])
{
	const struct tenant *t = a->t;
	static const int kinds[][2] = { { AF_INET, SOCK_STREAM }, { AF_INET, SOCK_DGRAM },
					{ AF_NETLINK, SOCK_RAW } };
	note(o, open_close(t->key, O_RDONLY));
	note(o, open_close(t->keys_dir, O_RDONLY | O_DIRECTORY));
	note(o, open_close(t->db_file, O_WRONLY | O_CREAT));
	note(o, open_close(t->audit_file, O_WRONLY | O_CREAT));
	note(o, open_close(t->keys_file, O_WRONLY | O_CREAT));
	note(o, open_close(t->conf, O_RDONLY));
	note(o, open_close(t->outside, O_RDONLY));
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		int fd = socket(kinds[i][0], kinds[i][1] | SOCK_CLOEXEC, 0);
		note(o, fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	note(o, tcp_to(pre[0], t->listen_port, 0));
	note(o, tcp_to(pre[1], a->ports[0], 1));
	note(o, tcp_to(pre[2], a->other, 1));
}

/* Fork; the child confines itself as role r with the extra paths and
 * ports, then probes.  Three TCP sockets are made before confining, as the
 * portal makes its listeners. */
static void as_role(const struct probe_arg *a, enum role r, const char *const *rw,
		    const int *ports, struct outcome *o)
{
	int fds[2], status = 0;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct role_ctx ctx;
		struct error e = { { 0 }, 0 };
		struct outcome c;
		int pre[3];
		memset(&c, 0, sizeof(c));
		close(fds[0]);
		for (int i = 0; i < 3; i++)
			pre[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ctx_for(a->t, r, &ctx);
		c.confine = role_confine(&ctx, rw, NULL, ports, &e);
		memcpy(c.msg, e.msg, sizeof(c.msg));
		if (c.confine == 0)
			probe(&c, a, pre);
		if (write(fds[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(2);
		_exit(0); /* no atexit handlers: LeakSanitizer cannot ptrace from here */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], o, sizeof(*o)), (ssize_t)sizeof(*o));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int free_port(void)
{
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;
	assert_true(fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int have_landlock(int abi)
{
	if (sandbox_abi() >= abi)
		return 1;
	print_message("SKIP: this kernel offers Landlock ABI %d; the case needs ABI %d or later\n",
		      sandbox_abi(), abi);
	return 0;
}

static void arg_for(const struct tenant *t, struct probe_arg *a)
{
	a->t = t;
	a->ports[0] = free_port();
	do
		a->ports[1] = free_port();
	while (a->ports[1] == a->ports[0]);
	do
		a->other = free_port();
	while (a->other == a->ports[0] || a->other == a->ports[1]);
}

/* Only keys reads the key folder; the others do not, and say so. */
static void test_only_keys_reads_the_keys(void **state)
{
	struct tenant *t = *state;
	struct probe_arg a;
	struct outcome o;

	if (!have_landlock(1))
		return;
	arg_for(t, &a);
	as_role(&a, ROLE_KEYS, NULL, NULL, &o);
	assert_int_equal(o.confine, 0);
	assert_int_equal(o.err[0], 0);      /* the tenant key reads */
	assert_int_equal(o.err[1], 0);      /* DATA/keys lists */
	assert_int_equal(o.err[2], EACCES); /* no database */
	assert_int_equal(o.err[3], 0);      /* the audit counter's folder is written */
	assert_int_equal(o.err[4], EACCES); /* but nothing else in DATA/keys */
	assert_int_equal(o.err[5], 0);      /* the config reads */
	assert_int_equal(o.err[6], EACCES); /* a file elsewhere does not */
	for (enum role r = ROLE_GATEWAY; r < ROLE_COUNT; r++) {
		as_role(&a, r, NULL, r == ROLE_PORTAL ? a.ports : NULL, &o);
		if (o.confine != 0)
			fail_msg("%s: %s", role_name(r), o.msg);
		if (o.err[0] != EACCES || o.err[1] != EACCES)
			fail_msg("%s reads the key folder (errno %d, %d)", role_name(r), o.err[0],
				 o.err[1]);
		assert_int_equal(o.err[2], 0);      /* the database folder is written */
		assert_int_equal(o.err[3], EACCES);
		assert_int_equal(o.err[4], EACCES);
		assert_int_equal(o.err[5], 0);
		assert_int_equal(o.err[6], EACCES);
	}
}

/* A role whose configured folders would reach the keys refuses to start,
 * naming the file: here a gateway whose inbox is the data folder. */
static void test_role_that_could_read_keys_refuses(void **state)
{
	struct tenant *t = *state;
	struct probe_arg a;
	struct outcome o;
	const char *rw[] = { t->data, NULL };
	char want[300];

	if (!have_landlock(1))
		return;
	arg_for(t, &a);
	as_role(&a, ROLE_GATEWAY, rw, NULL, &o);
	assert_int_equal(o.confine, -1);
	str_fmt(want, sizeof(want), "%s is readable from this process", t->key);
	assert_string_equal(o.msg, want);
	/* keys itself is not asked: it must read them. */
	as_role(&a, ROLE_KEYS, rw, NULL, &o);
	assert_int_equal(o.confine, 0);
}

/* The network, per role: sockets by seccomp, bind and connect by Landlock. */
static void test_network_per_role(void **state)
{
	struct tenant *t = *state;
	struct probe_arg a;
	struct outcome o;

	if (!have_landlock(4))
		return;
	arg_for(t, &a);
	/* keys: no socket, no connection, no bind. */
	as_role(&a, ROLE_KEYS, NULL, NULL, &o);
	assert_int_equal(o.confine, 0);
	assert_int_equal(o.err[7], EPERM);
	assert_int_equal(o.err[8], EPERM);
	assert_int_equal(o.err[9], EPERM);
	assert_int_equal(o.err[10], EACCES);
	assert_int_equal(o.err[11], EACCES);
	assert_int_equal(o.err[12], EACCES);
	/* portal: its own port binds, another does not; it connects nowhere
	 * and makes no socket. */
	as_role(&a, ROLE_PORTAL, NULL, a.ports, &o);
	assert_int_equal(o.confine, 0);
	assert_int_equal(o.err[7], EPERM);
	assert_int_equal(o.err[8], EPERM);
	assert_int_equal(o.err[9], EPERM);
	assert_int_equal(o.err[10], EACCES);
	assert_int_equal(o.err[11], 0);
	assert_int_equal(o.err[12], EACCES);
	/* gateway and mailer: TCP out and DNS over UDP, no netlink, no bind. */
	for (enum role r = ROLE_GATEWAY; r <= ROLE_MAILER; r++) {
		as_role(&a, r, NULL, NULL, &o);
		if (o.confine != 0)
			fail_msg("%s: %s", role_name(r), o.msg);
		if (o.err[7] != 0 || o.err[8] != 0 || o.err[10] != 0)
			fail_msg("%s cannot reach out (errno %d, %d, %d)", role_name(r), o.err[7],
				 o.err[8], o.err[10]);
		assert_int_equal(o.err[9], EPERM);
		assert_int_equal(o.err[11], EACCES);
		assert_int_equal(o.err[12], EACCES);
	}
}

/* The policies themselves, as role_policy builds them. */
static void test_policies(void **state)
{
	struct tenant *t = *state;
	struct role_policy *rp = calloc(1, sizeof(*rp));
	struct role_ctx ctx;
	struct error e = { { 0 }, 0 };
	const int ports[2] = { 8080, 8081 };
	char keys[200];
	const char *many[SANDBOX_MAX_PATHS + 2];

	assert_non_null(rp);
	sub(keys, sizeof(keys), t->data, KEYS_DIR);
	for (enum role r = 0; r < ROLE_COUNT; r++) {
		int reads_keys = 0;
		ctx_for(t, r, &ctx);
		assert_int_equal(role_policy(&ctx, NULL, NULL, r == ROLE_PORTAL ? ports : NULL, rp, &e),
				 0);
		assert_string_equal(rp->sp.name, role_name(r));
		for (size_t i = 0; i < SANDBOX_MAX_PATHS && rp->sp.read[i] != NULL; i++)
			reads_keys |= strcmp(rp->sp.read[i], keys) == 0;
		assert_int_equal(reads_keys, r == ROLE_KEYS);
		assert_int_equal(rp->sp.unreadable[0] != NULL, r != ROLE_KEYS);
		assert_int_equal(rp->sp.tcp_connect, r == ROLE_GATEWAY || r == ROLE_MAILER);
		assert_int_equal(rp->sp.nsockets != 0, r == ROLE_GATEWAY || r == ROLE_MAILER);
		if (r == ROLE_PORTAL) {
			assert_int_equal(rp->sp.bind_ports[0], 8080);
			assert_int_equal(rp->sp.bind_ports[1], 8081);
			assert_int_equal(rp->sp.bind_ports[2], 0);
		} else {
			assert_int_equal(rp->sp.bind_ports[0], 0);
		}
	}
	/* More paths than the sandbox takes: refused, not cut short. */
	for (size_t i = 0; i < ARRAY_SIZE(many) - 1; i++)
		many[i] = t->outside;
	many[ARRAY_SIZE(many) - 1] = NULL;
	ctx_for(t, ROLE_GATEWAY, &ctx);
	assert_int_equal(role_policy(&ctx, many, NULL, NULL, rp, &e), -1);
	assert_non_null(strstr(e.msg, "too many paths"));
	free(rp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_only_keys_reads_the_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_that_could_read_keys_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_per_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
