/*
 * sandbox.h — confine the calling process to a policy: the paths it may
 * read, the paths it may write, the TCP ports it may bind, whether it may
 * make TCP connections, and the socket kinds it may open (Linux Landlock,
 * kernel ABI 1 and later, no-new-privs and a seccomp filter).  Runs once in
 * each confined process, right after fork, before it reads any input.
 *
 * The sandbox knows nothing of what the process is for: the caller (role.c
 * for tayori's processes) says it all in a struct sandbox_policy.
 *
 * Besides the policy's own paths, a confined process reads the system
 * directories (/usr, /lib, /etc, /proc, /sys, the journal's socket) and
 * executes from them, and reads and writes the devices of /dev.  Network
 * rules need Landlock ABI 4; with an older kernel TCP stays open and the
 * log says net=open.
 *
 * Around Landlock (role_confine in role.c puts them in order):
 *   - no core dumps and no ptrace by peers, from the first instruction after
 *     fork (sandbox_no_dumps);
 *   - started as root, the switch to the service user with every capability
 *     gone, bounding set included (sandbox_drop_user);
 *   - a seccomp filter (seccomp_policy.c): the socket families and types the
 *     policy names and nothing else, and no namespaces, ptrace, mounts, ...
 */
#ifndef TAYORI_SANDBOX_H
#define TAYORI_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/util.h"

enum sandbox_mode { SANDBOX_REQUIRED, SANDBOX_BEST_EFFORT, SANDBOX_OFF };

/* One kind of socket the process may open: socket(family, type, 0), type
 * without SOCK_CLOEXEC/SOCK_NONBLOCK, and only protocol 0, TCP or UDP. */
struct sandbox_socket {
	int family; /* AF_UNIX, AF_INET, ... */
	int type;   /* SOCK_STREAM, SOCK_DGRAM, ... */
};

#define SANDBOX_MAX_PATHS 12
#define SANDBOX_MAX_PORTS 4
#define SANDBOX_MAX_SOCKETS 8

/* Lists end at the first NULL (paths) or 0 (ports), or at their size. */
struct sandbox_policy {
	const char *name;                          /* for the logs: role=NAME */
	const char *read[SANDBOX_MAX_PATHS];       /* files or folders, read only */
	const char *write[SANDBOX_MAX_PATHS];      /* folders: read, write, create, delete */
	int bind_ports[SANDBOX_MAX_PORTS];         /* TCP ports bind(2) may name; none = no bind */
	int tcp_connect;                           /* 1: connect(2) to any TCP port */
	struct sandbox_socket sockets[SANDBOX_MAX_SOCKETS]; /* socket(2) may make these */
	size_t nsockets;                           /* 0: no socket(2) at all */
	const char *unreadable[SANDBOX_MAX_PATHS]; /* must not open for reading once confined */
	const char *unreadable_what;               /* what those are, for the logs ("key_files") */
};

/* Confine the calling process to p: no-new-privs, Landlock, the seccomp
 * filter, then the check that every path of p->unreadable fails to open.
 * 0 when confined as asked, or when mode allows running with less (what is
 * missing is logged); -1 otherwise, with the reason in e.  With
 * SANDBOX_OFF nothing is confined, but the unreadable check still runs and
 * logs. */
int sandbox_enter(const struct sandbox_policy *p, enum sandbox_mode mode, struct error *e);
/* The Landlock ABI version this kernel offers, 0 when none. */
int sandbox_abi(void);
/* Make the process non-dumpable with RLIMIT_CORE 0: a crash writes no core
 * file and processes of the same user cannot ptrace it or read its memory.
 * Never fails (both calls only lower what the process may do). */
void sandbox_no_dumps(void);
/* When running as root: drop every capability from the bounding set, then
 * become uid:gid with no supplementary groups and no capabilities left
 * (effective, permitted, inheritable, ambient), and check that root cannot
 * be regained.  uid must not be 0.  Not root: nothing to do, returns 0. */
int sandbox_drop_user(uid_t uid, gid_t gid, struct error *e);
/* Not root: give up any capability the process holds anyway (a binary
 * given file capabilities, an ambient set from the service manager). */
int sandbox_drop_caps(struct error *e);
/* Load p's seccomp filter (seccomp_policy.c); sandbox_enter calls it. */
int sandbox_seccomp(const struct sandbox_policy *p, struct error *e);
/* 0 when no path of p->unreadable can be opened for reading from here;
 * sandbox_enter calls it. */
int sandbox_check_unreadable(const struct sandbox_policy *p, struct error *e);
/* Test hook: try each forbidden kind of socket (and a user namespace) and
 * log one event=syscall_test line per call with its result, under role=NAME.
 * It only tries: a socket that is granted is closed at once. */
void sandbox_try_forbidden(const char *name);

#endif
