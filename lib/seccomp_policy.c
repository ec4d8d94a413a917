/*
 * seccomp_policy.c — the system-call filter of a sandbox policy (libseccomp,
 * see sandbox.h).  Runs once in each confined process, after Landlock and
 * before it reads any input; the filter covers every thread of the process and is
 * inherited by anything it starts.
 *
 * Other system calls stay allowed: the sanitizer runtimes, glib, GMime,
 * qpdf and OpenSSL use many, and an allow-list of all of them would break
 * with each library update.  What the filter refuses, with EPERM so callers
 * report a plain error:
 *
 *   - socket(2) outside the policy's (family, type) pairs, and with a
 *     protocol other than 0, TCP or UDP;
 *     socketpair(2) always (the channels are made by the supervisor);
 *   - io_uring, which could open sockets past this filter;
 *   - new namespaces (unshare, setns, clone with CLONE_NEW*; clone3 answers
 *     ENOSYS so the C library falls back to clone, whose flags are visible);
 *   - reading or changing other processes and the kernel: ptrace,
 *     process_vm_*, bpf, perf_event_open, kexec, modules, mounts, keyrings.
 */
#include "lib/sandbox.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"

#define FAMILY_LIMIT 64   /* every AF_* value the kernel knows is below this */
#define TYPE_MASK 0xfu    /* SOCK_TYPE_MASK: the type without CLOEXEC/NONBLOCK */

/* The policy's pairs gathered by family: the types allowed for each. */
struct sock_allow {
	int family;
	unsigned types; /* bit (1 << SOCK_x) for each allowed type */
};

#define T(x) (1u << (x))

static size_t gather(const struct sandbox_policy *p, struct sock_allow *t)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nsockets && i < ARRAY_SIZE(p->sockets); i++) {
		const struct sandbox_socket *s = &p->sockets[i];
		size_t j = 0;
		if (s->type < 0 || (unsigned)s->type > TYPE_MASK)
			continue;
		while (j < n && t[j].family != s->family)
			j++;
		if (j == n)
			t[n++] = (struct sock_allow){ s->family, 0 };
		t[j].types |= T(s->type);
	}
	return n;
}

/* For the log line: "none", or e.g. "unix:dgram,inet:stream+dgram". */
static void describe(const struct sock_allow *t, size_t n, struct buf *out)
{
	static const struct {
		int v;
		const char *name;
	} fams[] = { { AF_UNIX, "unix" }, { AF_INET, "inet" }, { AF_INET6, "inet6" },
		     { AF_NETLINK, "netlink" }, { AF_PACKET, "packet" } },
	  types[] = { { SOCK_STREAM, "stream" }, { SOCK_DGRAM, "dgram" }, { SOCK_RAW, "raw" },
		      { SOCK_SEQPACKET, "seqpacket" } };

	if (n == 0)
		buf_append_str(out, "none");
	for (size_t i = 0; i < n; i++) {
		const char *fam = "other", *sep = ":";
		for (size_t k = 0; k < ARRAY_SIZE(fams); k++)
			if (fams[k].v == t[i].family)
				fam = fams[k].name;
		buf_printf(out, "%s%s", i > 0 ? "," : "", fam);
		for (size_t k = 0; k < ARRAY_SIZE(types); k++)
			if (t[i].types & T(types[k].v)) {
				buf_printf(out, "%s%s", sep, types[k].name);
				sep = "+";
			}
	}
}

/* One comparison of argument `arg`; for SCMP_CMP_MASKED_EQ, a is the mask
 * and b the value.  (libseccomp's SCMP_An macros leave a field to the
 * compiler's zeroing, which -Wmissing-field-initializers refuses.) */
static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = { arg, op, a, b };
	return c;
}

static int allowed(const struct sock_allow *t, size_t n, int family, unsigned type)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].family == family)
			return type == ~0u || (t[i].types & T(type)) != 0;
	return 0;
}

/* The socket(2) rules: EPERM for every (family, type, protocol) the table
 * does not name.  libseccomp takes one comparison per argument in a rule,
 * so the complement of the table is spelled out value by value. */
static int add_socket_rules(scmp_filter_ctx f, const struct sock_allow *t, size_t n)
{
	const uint32_t act = SCMP_ACT_ERRNO(EPERM);
	int sys = SCMP_SYS(socket), rc;

	if (n == 0)
		return seccomp_rule_add(f, act, sys, 0);
	for (int fam = 0; fam < FAMILY_LIMIT; fam++)
		if (!allowed(t, n, fam, ~0u) &&
		    (rc = seccomp_rule_add(f, act, sys, 1, cmp(0, SCMP_CMP_EQ, (scmp_datum_t)fam, 0))) < 0)
			return rc;
	rc = seccomp_rule_add(f, act, sys, 1, cmp(0, SCMP_CMP_GE, FAMILY_LIMIT, 0));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		for (unsigned ty = 0; ty <= TYPE_MASK; ty++) {
			if (t[i].types & T(ty))
				continue;
			rc = seccomp_rule_add(f, act, sys, 2,
					      cmp(0, SCMP_CMP_EQ, (scmp_datum_t)t[i].family, 0),
					      cmp(1, SCMP_CMP_MASKED_EQ, TYPE_MASK, ty));
			if (rc < 0)
				return rc;
		}
	/* Protocol: 0 (the family's default), TCP or UDP; no ICMP "ping"
	 * datagrams, SCTP, UDP-Lite or MPTCP. */
	for (int proto = 1; proto < IPPROTO_UDP; proto++)
		if (proto != IPPROTO_TCP &&
		    (rc = seccomp_rule_add(f, act, sys, 1, cmp(2, SCMP_CMP_EQ, (scmp_datum_t)proto, 0))) < 0)
			return rc;
	return seccomp_rule_add(f, act, sys, 1, cmp(2, SCMP_CMP_GT, IPPROTO_UDP, 0));
}

static int add_deny_by_name(scmp_filter_ctx f, const char *name)
{
	int sys = seccomp_syscall_resolve_name(name);
	if (sys == __NR_SCMP_ERROR)
		return 0; /* not a system call on this architecture */
	return seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), sys, 0);
}

static int add_namespace_rules(scmp_filter_ctx f)
{
	static const scmp_datum_t ns_flags[] = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET,
						 CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS,
						 CLONE_NEWCGROUP };
	uint32_t arch = seccomp_arch_native();
	int rc, sys = seccomp_syscall_resolve_name("clone3");

	if (sys != __NR_SCMP_ERROR &&
	    (rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), sys, 0)) < 0)
		return rc;
	/* clone's flags are its first argument except on s390. */
	if (arch == SCMP_ARCH_S390 || arch == SCMP_ARCH_S390X)
		return 0;
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
		if ((rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					   cmp(0, SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]))) < 0)
			return rc;
	return 0;
}

int sandbox_seccomp(const struct sandbox_policy *p, struct error *e)
{
	static const char *const denied[] = {
		"socketpair", "io_uring_setup", "io_uring_enter", "io_uring_register",
		"unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev",
		"pidfd_getfd", "kcmp", "bpf", "perf_event_open", "userfaultfd",
		"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount",
		"open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "swapon", "swapoff",
		"reboot", "acct", "quotactl", "syslog", "iopl", "ioperm", "keyctl", "add_key",
		"request_key", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
		"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	};
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
	struct sock_allow socks[SANDBOX_MAX_SOCKETS];
	size_t nsocks = gather(p, socks);
	struct buf desc;
	int rc = 0;

	if (f == NULL)
		return err_tmp(e, "seccomp: cannot make a filter");
	/* One filter for every thread, and refused calls in the kernel's audit
	 * log where the kernel can (4.14 and later). */
	if ((rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1)) < 0)
		goto out;
	if (seccomp_api_get() >= 3)
		seccomp_attr_set(f, SCMP_FLTATR_CTL_LOG, 1);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if ((rc = add_deny_by_name(f, denied[i])) < 0)
			goto out;
	if ((rc = add_namespace_rules(f)) < 0)
		goto out;
	if ((rc = add_socket_rules(f, socks, nsocks)) < 0)
		goto out;
	rc = seccomp_load(f);
out:
	seccomp_release(f);
	if (rc < 0)
		return err_tmp(e, "seccomp: %s", strerror(-rc));
	buf_init(&desc, 256);
	describe(socks, nsocks, &desc);
	log_info("event=seccomp role=%s state=on sockets=%s", p->name, (const char *)desc.data);
	buf_free(&desc);
	return 0;
}

/* The test hook (sandbox.h): each call is one a confined process should not
 * be able to make unless its policy allows it; the descriptor of a call that succeeds is closed at once. */
void sandbox_try_forbidden(const char *name)
{
	static const struct {
		const char *name;
		int family, type, proto;
	} tries[] = {
		{ "tcp", AF_INET, SOCK_STREAM, 0 },
		{ "udp", AF_INET, SOCK_DGRAM, 0 },
		{ "udp6", AF_INET6, SOCK_DGRAM, 0 },
		{ "icmp", AF_INET, SOCK_DGRAM, IPPROTO_ICMP },
		{ "raw", AF_INET, SOCK_RAW, IPPROTO_RAW },
		{ "packet", AF_PACKET, SOCK_RAW, 0 },
		{ "netlink", AF_NETLINK, SOCK_RAW, 0 },
		{ "unix_stream", AF_UNIX, SOCK_STREAM, 0 },
	};
	int sv[2];

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		int fd = socket(tries[i].family, tries[i].type | SOCK_CLOEXEC, tries[i].proto);
		int err = errno;
		if (fd >= 0)
			close(fd);
		log_info("event=syscall_test role=%s call=%s result=%s errno=%d", name,
			 tries[i].name, fd >= 0 ? "allowed" : "refused", fd >= 0 ? 0 : err);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		close(sv[0]);
		close(sv[1]);
		log_info("event=syscall_test role=%s call=socketpair result=allowed errno=0", name);
	} else {
		log_info("event=syscall_test role=%s call=socketpair result=refused errno=%d",
			 name, errno);
	}
	if (unshare(CLONE_NEWUSER) == 0) {
		/* Cannot be undone: a process that got here must not go on. */
		log_err("event=syscall_test role=%s call=unshare_user result=allowed errno=0", name);
		_exit(3);
	}
	log_info("event=syscall_test role=%s call=unshare_user result=refused errno=%d", name,
		 errno);
}
