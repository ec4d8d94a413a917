/*
 * sandbox.c — Landlock confinement to a policy (see sandbox.h).  Runs in
 * each confined process, once, right after fork.
 *
 * The structures and constants below are the kernel's stable Landlock ABI
 * (Documentation/userspace-api/landlock.rst); they are spelled out here
 * because Debian 12's headers stop at ABI 2 while its later kernels offer
 * network rules (ABI 4).
 */
#include "lib/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define FS_EXECUTE (1ull << 0)
#define FS_WRITE_FILE (1ull << 1)
#define FS_READ_FILE (1ull << 2)
#define FS_READ_DIR (1ull << 3)
#define FS_REMOVE_DIR (1ull << 4)
#define FS_REMOVE_FILE (1ull << 5)
#define FS_MAKE_CHAR (1ull << 6)
#define FS_MAKE_DIR (1ull << 7)
#define FS_MAKE_REG (1ull << 8)
#define FS_MAKE_SOCK (1ull << 9)
#define FS_MAKE_FIFO (1ull << 10)
#define FS_MAKE_BLOCK (1ull << 11)
#define FS_MAKE_SYM (1ull << 12)
#define FS_REFER (1ull << 13)
#define FS_TRUNCATE (1ull << 14)
#define FS_IOCTL_DEV (1ull << 15)
#define NET_BIND_TCP (1ull << 0)
#define NET_CONNECT_TCP (1ull << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

#define FS_READ (FS_READ_FILE | FS_READ_DIR)
#define FS_READ_EXEC (FS_READ | FS_EXECUTE)
#define FS_RW (FS_READ | FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | \
	       FS_MAKE_REG | FS_MAKE_SOCK | FS_REFER | FS_TRUNCATE)

int sandbox_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : (int)v;
}

static uint64_t fs_handled(int abi)
{
	uint64_t all = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_READ_DIR | FS_REMOVE_DIR |
		       FS_REMOVE_FILE | FS_MAKE_CHAR | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SOCK |
		       FS_MAKE_FIFO | FS_MAKE_BLOCK | FS_MAKE_SYM;
	if (abi >= 2)
		all |= FS_REFER;
	if (abi >= 3)
		all |= FS_TRUNCATE;
	if (abi >= 5)
		all |= FS_IOCTL_DEV;
	return all;
}

/* Allow `access` beneath path.  A path that does not exist is skipped:
 * nothing can be read there anyway. */
static int allow_path(int ruleset, const char *path, uint64_t access, uint64_t handled,
		      struct error *e)
{
	struct ll_path_beneath_attr pb;
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : err_tmp(e, "sandbox: %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= FS_READ_FILE | FS_WRITE_FILE | FS_EXECUTE | FS_TRUNCATE | FS_IOCTL_DEV;
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
		int saved = errno;
		close(fd);
		return err_tmp(e, "sandbox: rule for %s: %s", path, strerror(saved));
	}
	close(fd);
	return 0;
}

static int allow_port(int ruleset, int port, struct error *e)
{
	struct ll_net_port_attr np = { NET_BIND_TCP, (uint64_t)port };
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &np, 0) < 0)
		return err_tmp(e, "sandbox: port rule %d: %s", port, strerror(errno));
	return 0;
}

/* Landlock's network rules (ABI 4): bind(2) only to the policy's ports,
 * and connect(2) nowhere unless the policy allows TCP connections. */
static uint64_t net_handled(const struct sandbox_policy *p, int abi)
{
	if (abi < 4)
		return 0;
	return NET_BIND_TCP | (p->tcp_connect ? 0 : NET_CONNECT_TCP);
}

static int add_rules(int ruleset, const struct sandbox_policy *p, uint64_t fs, uint64_t net,
		     struct error *e)
{
	static const char *const system_ro[] = { "/usr", "/lib", "/lib64", "/bin", "/sbin",
						 "/etc", "/proc", "/sys", "/run/systemd/journal" };

	for (size_t i = 0; i < ARRAY_SIZE(system_ro); i++)
		if (allow_path(ruleset, system_ro[i], FS_READ_EXEC, fs, e) < 0)
			return -1;
	if (allow_path(ruleset, "/dev", FS_READ | FS_WRITE_FILE, fs, e) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(p->read) && p->read[i] != NULL; i++)
		if (allow_path(ruleset, p->read[i], FS_READ, fs, e) < 0)
			return -1;
	for (size_t i = 0; i < ARRAY_SIZE(p->write) && p->write[i] != NULL; i++)
		if (allow_path(ruleset, p->write[i], FS_RW, fs, e) < 0)
			return -1;
	if (net & NET_BIND_TCP)
		for (size_t i = 0; i < ARRAY_SIZE(p->bind_ports) && p->bind_ports[i] > 0; i++)
			if (allow_port(ruleset, p->bind_ports[i], e) < 0)
				return -1;
	return 0;
}

/* Landlock alone: 0 when on, or when mode lets the process run without
 * (logged); -1 otherwise. */
static int landlock(const struct sandbox_policy *p, enum sandbox_mode mode, struct error *e)
{
	struct ll_ruleset_attr attr = { 0, 0 };
	int abi = sandbox_abi(), ruleset;
	size_t attrsize = sizeof(uint64_t);

	if (abi < 1) {
		if (mode == SANDBOX_REQUIRED)
			return err_tmp(e, "sandbox: this kernel has no Landlock; set [security] sandbox = best-effort to run unconfined");
		log_warn("event=sandbox role=%s state=unavailable", p->name);
		return 0;
	}
	attr.handled_access_fs = fs_handled(abi);
	attr.handled_access_net = net_handled(p, abi);
	if (attr.handled_access_net != 0)
		attrsize = sizeof(attr);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attrsize, 0);
	if (ruleset < 0) {
		err_tmp(e, "sandbox: create ruleset: %s", strerror(errno));
		goto fail;
	}
	if (add_rules(ruleset, p, attr.handled_access_fs, attr.handled_access_net, e) < 0)
		goto fail;
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		err_tmp(e, "sandbox: restrict: %s", strerror(errno));
		goto fail;
	}
	close(ruleset);
	log_info("event=sandbox role=%s state=on landlock_abi=%d net=%s tcp_connect=%s", p->name,
		 abi, attr.handled_access_net ? "restricted" : "open",
		 attr.handled_access_net & NET_CONNECT_TCP ? "no" : "yes");
	return 0;
fail:
	if (ruleset >= 0)
		close(ruleset);
	if (mode == SANDBOX_BEST_EFFORT) {
		log_warn("event=sandbox role=%s state=failed reason=\"%s\"", p->name, e->msg);
		return 0;
	}
	return -1;
}

int sandbox_enter(const struct sandbox_policy *p, enum sandbox_mode mode, struct error *e)
{
	const char *what = p->unreadable_what != NULL ? p->unreadable_what : "paths";

	if (mode == SANDBOX_OFF) {
		log_warn("event=sandbox role=%s state=off", p->name);
	} else {
		/* Required for an unprivileged landlock_restrict_self, and right anyway. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return err_tmp(e, "sandbox: no_new_privs: %s", strerror(errno));
		if (landlock(p, mode, e) < 0)
			return -1;
		if (sandbox_seccomp(p, e) < 0) {
			if (mode == SANDBOX_REQUIRED)
				return -1;
			log_warn("event=seccomp role=%s state=failed reason=\"%s\"", p->name, e->msg);
		}
	}
	if (p->unreadable[0] == NULL)
		return 0;
	/* Fail closed: a process that can read what it must not does not run. */
	if (sandbox_check_unreadable(p, e) < 0) {
		if (mode == SANDBOX_REQUIRED)
			return -1;
		log_warn("event=sandbox role=%s %s=readable", p->name, what);
	} else {
		log_info("event=sandbox_check role=%s %s=unreadable", p->name, what);
	}
	return 0;
}

void sandbox_no_dumps(void)
{
	struct rlimit none = { 0, 0 };
	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Clear the inheritable set (setresuid clears effective and permitted
 * only); there is no libc wrapper without libcap. */
static int caps_clear(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	return (int)syscall(SYS_capset, &h, d);
}

int sandbox_drop_caps(struct error *e)
{
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (caps_clear() < 0)
		return err_tmp(e, "privileges: clearing capabilities: %s", strerror(errno));
	return 0;
}

int sandbox_drop_user(uid_t uid, gid_t gid, struct error *e)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (geteuid() != 0)
		return 0;
	if (uid == 0)
		return err_set(e, "privileges: refusing to run a role as root");
	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return err_tmp(e, "privileges: bounding set: %s", strerror(errno));
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return err_tmp(e, "privileges: cannot become uid %u gid %u: %s", (unsigned)uid,
			       (unsigned)gid, strerror(errno));
	if (sandbox_drop_caps(e) < 0)
		return -1;
	/* A change of user resets the dumpable flag: set it again. */
	sandbox_no_dumps();
	/* Fail closed: root must be out of reach now. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid || setuid(0) == 0 ||
	    setgid(0) == 0)
		return err_set(e, "privileges: root could be regained after the switch");
	return 0;
}

int sandbox_check_unreadable(const struct sandbox_policy *p, struct error *e)
{
	for (size_t i = 0; i < ARRAY_SIZE(p->unreadable) && p->unreadable[i] != NULL; i++) {
		int fd = open(p->unreadable[i], O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return err_set(e, "%s is readable from this process", p->unreadable[i]);
		}
	}
	return 0;
}
