/*
 * sandbox.h — confine a role to what its trust level needs (Linux Landlock,
 * kernel ABI 1 and later, plus no-new-privs).  Runs once in each role right
 * after fork, before the role reads any input.
 *
 *   keys      reads DATA/keys and the credential; no TCP at all (ABI >= 4)
 *   gateway   DATA/db, DATA/inbox, DATA/tmp, DATA/log; never DATA/keys
 *   mailer    DATA/db, DATA/mail, DATA/tmp, DATA/log; never DATA/keys
 *   portal    DATA/db, DATA/tmp, DATA/log; binds only its two ports
 *
 * All roles read the system directories (/usr, /etc, ...) and the config file.
 * After confining itself, a role other than keys checks that it really
 * cannot open the tenant key and refuses to run if it can.
 *
 * Around Landlock (role_confine in role.c puts them in order):
 *   - no core dumps and no ptrace by peers, from the first instruction after
 *     fork (sandbox_no_dumps);
 *   - started as root, the switch to the service user with every capability
 *     gone, bounding set included (sandbox_drop_user);
 *   - a seccomp filter per role (seccomp_policy.c): the socket families and
 *     types the role needs and nothing else; the portal and keys open none.
 */
#ifndef TAYORI_SANDBOX_H
#define TAYORI_SANDBOX_H

#include <sys/types.h>

#include "lib/role.h"
#include "lib/util.h"

enum sandbox_mode { SANDBOX_REQUIRED, SANDBOX_BEST_EFFORT, SANDBOX_OFF };

struct sandbox_paths {
	const char *data_dir;
	const char *conf_file;
	const char *extra_rw[6];  /* role-specific directories (NULL-terminated) */
	const char *extra_ro[4];  /* files or directories to read (credential, ...) */
	int bind_ports[2];        /* portal: the listening ports (0 = none) */
};

/* 0 when confined as asked (or mode allows running without). */
int sandbox_enter(enum role r, enum sandbox_mode mode, const struct sandbox_paths *p,
		  struct error *e);
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
/* Load the role's seccomp filter (seccomp_policy.c). */
int sandbox_seccomp(enum role r, struct error *e);
/* Test hook, called by role_confine only when TAYORI_TEST_SYSCALLS=1 is in
 * the environment: try each forbidden kind of socket (and a user namespace)
 * and log one event=syscall_test line per call with its result.  It only
 * tries: a socket that is granted is closed at once. */
void sandbox_try_forbidden(enum role r);
/* 0 when the tenant key cannot be opened from here. */
int sandbox_check_keys_hidden(const char *data_dir, struct error *e);

#endif
