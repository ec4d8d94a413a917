/*
 * test_sandbox.c — unit tests for lib/sandbox.c and lib/seccomp_policy.c:
 * a forked child confines itself to a policy (sandbox_enter), then tries
 * to read, write, open sockets, bind and connect, and sends the errno of
 * each try back to the test over a pipe.  Checked: reading and writing
 * outside the policy's paths fail with EACCES and inside work (Landlock),
 * socket kinds the policy does not name fail with EPERM (seccomp), TCP
 * bind only to the policy's ports and connect only when allowed (Landlock
 * ABI 4), and the unreadable-path check refuses a process that can read
 * such a path.  Landlock cases are skipped, saying so, on a kernel without
 * Landlock.  Runs as a stand-alone cmocka program; uses a scratch folder
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
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/sandbox.h"
#include "lib/util.h"

#define MAX_PROBES 32

/* What the child saw: sandbox_enter's result and message, then one errno
 * (0 = the call worked) per probe. */
struct outcome {
	int enter;
	char msg[ERR_MAX];
	int n;
	int err[MAX_PROBES];
};

struct scratch {
	char top[64];
	char ro[128], rw[128], out[128];
	char ro_file[160], rw_file[160], out_file[160];
};

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	str_fmt(s->top, sizeof(s->top), "/tmp/tayori-sbx.XXXXXX");
	if (mkdtemp(s->top) == NULL)
		return -1;
	str_fmt(s->ro, sizeof(s->ro), "%s/ro", s->top);
	str_fmt(s->rw, sizeof(s->rw), "%s/rw", s->top);
	str_fmt(s->out, sizeof(s->out), "%s/out", s->top);
	str_fmt(s->ro_file, sizeof(s->ro_file), "%s/f", s->ro);
	str_fmt(s->rw_file, sizeof(s->rw_file), "%s/f", s->rw);
	str_fmt(s->out_file, sizeof(s->out_file), "%s/f", s->out);
	if (mkdir(s->ro, 0700) < 0 || mkdir(s->rw, 0700) < 0 || mkdir(s->out, 0700) < 0)
		return -1;
	put_file(s->ro_file, "read only\n");
	put_file(s->rw_file, "read write\n");
	put_file(s->out_file, "secret\n");
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	char path[200];
	const char *dirs[] = { s->ro, s->rw, s->out };
	const char *names[] = { "f", "new", "f2" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(names); j++) {
			str_fmt(path, sizeof(path), "%s/%s", dirs[i], names[j]);
			unlink(path);
		}
		rmdir(dirs[i]);
	}
	rmdir(s->top);
	free(s);
	return 0;
}

/* The probes run in the confined child; each records errno or 0. */
typedef void probe_fn(struct outcome *o, const void *arg);

static void note(struct outcome *o, int ok)
{
	if (o->n < MAX_PROBES)
		o->err[o->n++] = ok ? 0 : errno;
}

/* Fork; the child enters p in mode and runs probe; the parent collects. */
static void confined(const struct sandbox_policy *p, enum sandbox_mode mode, probe_fn *probe,
		     const void *arg, struct outcome *o)
{
	int fds[2], status = 0;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct error e = { { 0 }, 0 };
		struct outcome c;
		memset(&c, 0, sizeof(c));
		close(fds[0]);
		c.enter = sandbox_enter(p, mode, &e);
		memcpy(c.msg, e.msg, sizeof(c.msg));
		if (c.enter == 0 && probe != NULL)
			probe(&c, arg);
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

static int need_landlock(int abi)
{
	if (sandbox_abi() >= abi)
		return 1;
	print_message("SKIP: this kernel offers Landlock ABI %d; the case needs ABI %d or later\n",
		      sandbox_abi(), abi);
	return 0;
}

static int open_close(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static void probe_paths(struct outcome *o, const void *arg)
{
	const struct scratch *s = arg;
	char path[200];
	int fd;

	note(o, open_close(s->ro_file, O_RDONLY));                     /* 0 */
	note(o, open_close(s->ro_file, O_WRONLY));                     /* 1 */
	str_fmt(path, sizeof(path), "%s/new", s->ro);
	note(o, open_close(path, O_WRONLY | O_CREAT | O_EXCL));        /* 2 */
	note(o, open_close(s->out_file, O_RDONLY));                    /* 3 */
	note(o, open_close(s->out, O_RDONLY | O_DIRECTORY));           /* 4 */
	note(o, open_close(s->rw_file, O_RDONLY));                     /* 5 */
	str_fmt(path, sizeof(path), "%s/new", s->rw);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	note(o, fd >= 0 && write(fd, "x", 1) == 1);                    /* 6 */
	if (fd >= 0)
		close(fd);
	note(o, unlink(path) == 0);                                    /* 7 */
	str_fmt(path, sizeof(path), "%s/f2", s->out);
	note(o, rename(s->rw_file, path) == 0);                        /* 8 */
	note(o, unlink(s->out_file) == 0);                             /* 9 */
	note(o, open_close("/etc/passwd", O_RDONLY));                  /* 10: the system's files */
}

static void policy_paths(const struct scratch *s, struct sandbox_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->name = "test";
	p->read[0] = s->ro;
	p->write[0] = s->rw;
}

static void test_paths_inside_work_outside_fail(void **state)
{
	struct scratch *s = *state;
	struct sandbox_policy p;
	struct outcome o;
	struct stat st;

	if (!need_landlock(1))
		return;
	policy_paths(s, &p);
	confined(&p, SANDBOX_REQUIRED, probe_paths, s, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.n, 11);
	assert_int_equal(o.err[0], 0);       /* a file under a read path reads */
	assert_int_equal(o.err[1], EACCES);  /* ... but does not open for writing */
	assert_int_equal(o.err[2], EACCES);  /* ... nor can a file be made there */
	assert_int_equal(o.err[3], EACCES);  /* a file outside every path does not read */
	assert_int_equal(o.err[4], EACCES);  /* ... nor does its folder list */
	assert_int_equal(o.err[5], 0);       /* a write path reads */
	assert_int_equal(o.err[6], 0);       /* ... a file is made and written there */
	assert_int_equal(o.err[7], 0);       /* ... and deleted */
	assert_true(o.err[8] == EACCES || o.err[8] == EXDEV); /* nothing moves out */
	assert_int_equal(o.err[9], EACCES);  /* nothing outside is deleted */
	assert_int_equal(o.err[10], 0);      /* the system's files stay readable */
	/* Seen from outside: the file outside is still there, the one under
	 * the write path did not move. */
	assert_int_equal(stat(s->out_file, &st), 0);
	assert_int_equal(stat(s->rw_file, &st), 0);
}

/* SANDBOX_OFF: no Landlock, so the same probes all work (the warning is
 * the caller's business). */
static void test_off_confines_nothing(void **state)
{
	struct scratch *s = *state;
	struct sandbox_policy p;
	struct outcome o;

	policy_paths(s, &p);
	confined(&p, SANDBOX_OFF, probe_paths, s, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.err[3], 0);
	assert_int_equal(o.err[2], 0);
}

static void probe_sockets(struct outcome *o, const void *arg)
{
	static const int tries[][3] = {
		{ AF_INET, SOCK_STREAM, 0 },           /* 0: named by the policy */
		{ AF_INET, SOCK_STREAM, IPPROTO_TCP }, /* 1: ... with TCP spelled out */
		{ AF_INET, SOCK_DGRAM, 0 },            /* 2: same family, other type */
		{ AF_INET6, SOCK_STREAM, 0 },          /* 3: other family */
		{ AF_UNIX, SOCK_STREAM, 0 },           /* 4 */
		{ AF_NETLINK, SOCK_RAW, 0 },           /* 5 */
		{ AF_PACKET, SOCK_RAW, 0 },            /* 6 */
		{ AF_INET, SOCK_STREAM, 132 },         /* 7: SCTP */
		{ AF_INET, SOCK_RAW, IPPROTO_RAW },    /* 8 */
		{ 200, SOCK_STREAM, 0 },               /* 9: beyond every family */
	};
	int sv[2];
	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
		int fd = socket(tries[i][0], tries[i][1] | SOCK_CLOEXEC, tries[i][2]);
		note(o, fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	note(o, socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);        /* 10 */
	note(o, unshare(CLONE_NEWUSER) == 0);                          /* 11 */
}

static void test_seccomp_sockets(void **state)
{
	struct sandbox_policy p;
	struct outcome o;
	(void)state;

	memset(&p, 0, sizeof(p));
	p.name = "test";
	p.sockets[0] = (struct sandbox_socket){ AF_INET, SOCK_STREAM };
	p.nsockets = 1;
	/* Best effort: the filter is checked even where Landlock is missing. */
	confined(&p, SANDBOX_BEST_EFFORT, probe_sockets, NULL, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.n, 12);
	assert_int_equal(o.err[0], 0);
	assert_int_equal(o.err[1], 0);
	for (int i = 2; i < 12; i++)
		if (o.err[i] != EPERM)
			fail_msg("probe %d: errno %d, want EPERM", i, o.err[i]);
	/* No pair at all: not even the kind allowed above. */
	p.nsockets = 0;
	confined(&p, SANDBOX_BEST_EFFORT, probe_sockets, NULL, &o);
	assert_int_equal(o.err[0], EPERM);
	assert_int_equal(o.err[1], EPERM);
}

/* A free loopback port: bound to 0, read back, closed. */
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

struct net_probe {
	int listen_port;         /* a listener of the test's: connect here */
	int allowed, other;      /* bind to these */
};

static int tcp_try(int port, int do_bind)
{
	struct sockaddr_in a = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
	if (fd < 0)
		return 0;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	r = do_bind ? bind(fd, (struct sockaddr *)&a, sizeof(a))
		    : connect(fd, (struct sockaddr *)&a, sizeof(a));
	{
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return r == 0;
}

static void probe_net(struct outcome *o, const void *arg)
{
	const struct net_probe *n = arg;
	note(o, tcp_try(n->listen_port, 0)); /* 0: connect */
	note(o, tcp_try(n->allowed, 1));     /* 1: bind to the policy's port */
	note(o, tcp_try(n->other, 1));       /* 2: bind to another */
}

static void test_tcp_bind_and_connect(void **state)
{
	struct sandbox_policy p;
	struct net_probe n;
	struct outcome o;
	struct sockaddr_in a = { 0 };
	socklen_t len = sizeof(a);
	int lfd;
	(void)state;

	if (!need_landlock(4))
		return;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
	n.listen_port = ntohs(a.sin_port);
	n.allowed = free_port();
	do
		n.other = free_port();
	while (n.other == n.allowed);

	memset(&p, 0, sizeof(p));
	p.name = "test";
	p.sockets[0] = (struct sandbox_socket){ AF_INET, SOCK_STREAM };
	p.nsockets = 1;
	p.bind_ports[0] = n.allowed;
	confined(&p, SANDBOX_REQUIRED, probe_net, &n, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.err[0], EACCES); /* no connect(2) unless the policy says so */
	assert_int_equal(o.err[1], 0);
	assert_int_equal(o.err[2], EACCES);

	p.tcp_connect = 1;
	p.bind_ports[0] = 0; /* and no bind at all */
	confined(&p, SANDBOX_REQUIRED, probe_net, &n, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.err[0], 0);
	assert_int_equal(o.err[1], EACCES);
	assert_int_equal(o.err[2], EACCES);
	close(lfd);
}

/* A path the policy must not reach but does: sandbox_enter refuses to go
 * on (required), or goes on with a warning (best effort). */
static void test_unreadable_check_detects_readable(void **state)
{
	struct scratch *s = *state;
	struct sandbox_policy p;
	struct outcome o;
	char want[256];

	policy_paths(s, &p);
	p.unreadable[0] = s->out_file;
	p.unreadable[1] = s->ro_file; /* readable: the policy grants its folder */
	p.unreadable_what = "secrets";
	confined(&p, SANDBOX_REQUIRED, NULL, NULL, &o);
	assert_int_equal(o.enter, -1);
	str_fmt(want, sizeof(want), "%s is readable from this process", s->ro_file);
	assert_string_equal(o.msg, want);
	confined(&p, SANDBOX_BEST_EFFORT, NULL, NULL, &o);
	assert_int_equal(o.enter, 0);
	/* Sandbox off: everything is readable; the process runs, with a
	 * warning in the log. */
	p.unreadable[1] = NULL;
	confined(&p, SANDBOX_OFF, NULL, NULL, &o);
	assert_int_equal(o.enter, 0);
	/* With the sandbox on, the file outside is unreadable: no complaint. */
	if (!need_landlock(1))
		return;
	confined(&p, SANDBOX_REQUIRED, probe_paths, s, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.err[3], EACCES);
}

/* Hostile or odd policies: a missing path is skipped, a socket type
 * beyond the kernel's mask is ignored, not widened. */
static void test_odd_policies(void **state)
{
	struct scratch *s = *state;
	struct sandbox_policy p;
	struct outcome o;
	char missing[200];

	if (!need_landlock(1))
		return;
	policy_paths(s, &p);
	str_fmt(missing, sizeof(missing), "%s/does-not-exist", s->top);
	p.read[1] = missing;
	p.sockets[0] = (struct sandbox_socket){ AF_INET, 99 };
	p.nsockets = 1;
	confined(&p, SANDBOX_REQUIRED, probe_sockets, NULL, &o);
	assert_int_equal(o.enter, 0);
	assert_int_equal(o.err[0], EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paths_inside_work_outside_fail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off_confines_nothing, setup, teardown),
		cmocka_unit_test(test_seccomp_sockets),
		cmocka_unit_test(test_tcp_bind_and_connect),
		cmocka_unit_test_setup_teardown(test_unreadable_check_detects_readable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_policies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
