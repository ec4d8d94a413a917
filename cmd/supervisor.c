/*
 * supervisor.c — `tayori run`: the parent process.  It starts one process per
 * role (role.h), gives each only the descriptors it needs, restarts a role
 * that dies (with back-off), reloads on SIGHUP and stops everything on
 * SIGTERM or SIGINT within 5 seconds.  It holds no key and opens no database.
 *
 * Channels: the supervisor has a control socketpair with every role; the
 * keys role additionally receives, over its control channel, one end of a
 * fresh socketpair for each client role it (re)starts, tagged with that
 * role's permissions (keys.h).  When keys dies, its clients lose their
 * channels, so they are restarted with it.
 *
 * Started as root, the supervisor stays root (to restart roles and let the
 * portal bind its ports) but no role does: it gives the data folder to the
 * service user (svcuser.h), checks that this user can reach every folder
 * the roles use, and each role switches to it while confining itself.
 * Every role is non-dumpable with RLIMIT_CORE 0 from the fork on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <getopt.h>

#include "conf/conf.h"
#include "cmd/cli.h"
#include "lib/ipc.h"
#include "keys/keys.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/sandbox.h"
#include "lib/store.h"
#include "lib/svcuser.h"

#define STOP_GRACE_MS 4500
#define BACKOFF_MAX_S 60
#define STABLE_AFTER_S 30
#define KEYS_READY_MS (120 * 1000) /* an HSM's login may be slow, not this slow */

struct child {
	pid_t pid;
	int ctl;            /* supervisor's end of the control channel */
	int64_t started_ms;
	int64_t next_start_ms;
	unsigned fails;
	int restart_now;    /* stopped on purpose (reload): no back-off */
};

/*
 * What each role may ask the keys process for (keys.h).  Data keys are
 * granted per database, as DESIGN.md's roles need them:
 *
 *   gateway  intake checks the sender is registered staff (reads staff
 *            records and their e-mail index); makes and reads batches,
 *            residents, PDFs, intake records and refused inputs (kept
 *            sealed in `rejected`) and uploads from the dashboard (takes
 *            them and writes what became of them); signs; appends audit
 *            records.
 *   mailer   reads residents and batches (addresses, titles, messages) and
 *            consent (electronic or paper); no PDF (a notice is never
 *            mailed), no staff record (reports go to the addresses in
 *            tayori.conf); makes no data key at all.  It alone has its
 *            messages' DKIM hashes signed (KEYS_PERM_DKIM).
 *   portal   residents' side: reads residents, batches, PDFs, records and
 *            reads consent; staff side: reads staff records by login to
 *            check a password, and writes them: a member's own password
 *            change and the admins' users page (add, disable, reset, set
 *            permissions) re-seal a staff record (mint DB_STAFF) and keep
 *            the e-mail index unique (STAFF_EMAIL).  This adds little to
 *            what it could already do: with unwrap on DB_STAFF and write
 *            access to the store, a record could be re-sealed under its
 *            own data key; every change is audited by the keys process's
 *            chain.  It verifies the audit chain for the dashboard's
 *            "verify" button with yes-or-no answers (AUDIT_CHECK), never a
 *            raw audit MAC that could forge a record.  It writes a batch
 *            uploaded from the dashboard (`uploads`, taken by the gateway)
 *            and reads its result.
 *
 * The one sealed value in DB_META is the ward's settings (lib/wardset.h):
 * the portal's settings page seals it, the mailer reads it.
 *
 * The command line (`tayori user ...`), whose keys process runs as the
 * tenant's owner, and the portal make data keys for staff records.  No
 * role gets the raw audit MAC: the keys process chains each record itself.
 */
static const struct keys_perms client_perms[ROLE_COUNT] = {
	[ROLE_KEYS] = { 0, 0, 0, 0 },
	[ROLE_GATEWAY] = {
		.ops = KEYS_PERM_SIGN | KEYS_PERM_AUDIT_APPEND,
		.unwrap = KEYS_DB(DB_STAFF) | KEYS_DB(DB_BATCHES) | KEYS_DB(DB_RESIDENTS) |
			  KEYS_DB(DB_PDFS) | KEYS_DB(DB_INTAKE) | KEYS_DB(DB_REJECTED) |
			  KEYS_DB(DB_UPLOADS) |
			  KEYS_DB(DB_META), /* the ward's settings: the notice types a batch may name */
		.mint = KEYS_DB(DB_BATCHES) | KEYS_DB(DB_RESIDENTS) | KEYS_DB(DB_PDFS) |
			KEYS_DB(DB_INTAKE) | KEYS_DB(DB_REJECTED) |
			KEYS_DB(DB_UPLOADS), /* an upload's result for the portal */
		.index = KEYS_IX_STAFF_EMAIL | KEYS_IX_RESIDENT,
	},
	[ROLE_MAILER] = {
		.ops = KEYS_PERM_AUDIT_APPEND | KEYS_PERM_DKIM, /* DKIM: signs its own mail */
		.unwrap = KEYS_DB(DB_BATCHES) | KEYS_DB(DB_RESIDENTS) | KEYS_DB(DB_CONSENT) |
			  KEYS_DB(DB_MAILQ) |
			  KEYS_DB(DB_META), /* the ward's settings (lib/wardset.h): reads them */
		.mint = KEYS_DB(DB_MAILQ), /* reports it queues for itself */
		/* VERP: makes and checks return paths; RECORD and CODE: deliveries,
		 * links and notice codes (lib/notice.h) */
		.index = KEYS_IX_CONSENT | KEYS_IX_VERP | KEYS_IX_RECORD | KEYS_IX_CODE,
	},
	[ROLE_PORTAL] = {
		.ops = KEYS_PERM_AUDIT_APPEND | KEYS_PERM_AUDIT_CHECK,
		.unwrap = KEYS_DB(DB_STAFF) | KEYS_DB(DB_BATCHES) | KEYS_DB(DB_RESIDENTS) |
			  KEYS_DB(DB_PDFS) | KEYS_DB(DB_CONSENT) | KEYS_DB(DB_META) |
			  KEYS_DB(DB_UPLOADS), /* what became of an upload */
		.mint = KEYS_DB(DB_CONSENT) | KEYS_DB(DB_MAILQ) | /* MAILQ: one-time passwords to mail */
			KEYS_DB(DB_META) |    /* META: the ward's settings, saved from the dashboard */
			KEYS_DB(DB_UPLOADS) | /* a batch uploaded from the dashboard */
			KEYS_DB(DB_STAFF),    /* password changes, the users page */
		.index = KEYS_IX_STAFF_LOGIN | KEYS_IX_CONSENT | KEYS_IX_RECORD | KEYS_IX_CODE |
			 KEYS_IX_STAFF_EMAIL, /* a new or changed address stays unique */
	},
};

const struct keys_perms *supervisor_keys_perms(int r)
{
	return (unsigned)r < ROLE_COUNT ? &client_perms[r] : NULL;
}

static int (*const role_mains[ROLE_COUNT])(struct role_ctx *) = {
	keys_main, gateway_main, mailer_main, portal_main,
};

struct supervisor {
	struct child kids[ROLE_COUNT];
	struct conf *conf;
	char conf_path[PATH_MAX];
	char data_dir[PATH_MAX];
	int stopping;
	int drop_user;      /* started as root: roles run as `user` */
	struct svcuser user;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Move fd to exactly `want` in the child, whatever other descriptors are. */
static void child_place_fd(int fd, int want)
{
	if (fd == want) {
		fcntl(fd, F_SETFD, 0);
		return;
	}
	dup2(fd, want);
}

/* Remove a variable and wipe its value where it lives (the process's
 * original environment block, which /proc/PID/environ shows). */
static void env_drop(const char *var)
{
	char *v = getenv(var);
	if (v != NULL)
		secure_wipe(v, strlen(v));
	unsetenv(var);
}

static void child_run(struct supervisor *sv, enum role r, int ctl, const int kfd[2])
{
	struct role_ctx ctx;
	sigset_t all;
	char name[16];
	int hi_ctl, hi_k[2] = { -1, -1 }, next = 4;

	/* Before anything can hold a secret: no core file, no ptrace by peers. */
	sandbox_no_dumps();
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	str_fmt(name, sizeof(name), "tayori-%s", role_name(r));
	prctl(PR_SET_NAME, name);
	/* Only 0-2, the control channel (3) and the keys channels (4, 5) survive. */
	hi_ctl = fcntl(ctl, F_DUPFD, 10);
	for (int i = 0; i < 2; i++)
		if (kfd[i] >= 0)
			hi_k[i] = fcntl(kfd[i], F_DUPFD, 10);
	child_place_fd(hi_ctl, 3);
	for (int i = 0; i < 2; i++)
		if (hi_k[i] >= 0) {
			child_place_fd(hi_k[i], next);
			hi_k[i] = next++;
		}
	close_range((unsigned)next, ~0u, 0);
	log_init(role_name(r), (int)conf_int(sv->conf, "log", "syslog"),
		 (enum log_level)conf_int(sv->conf, "log", "level"));
	/* Secrets passed in the environment go only to the role that uses
	 * them: the credential's password and PIN to keys, IMAP's to gateway. */
	if (r != ROLE_KEYS) {
		static const char *const keys_only[] = { "p12_pass_env", "pkcs11_pin_env" };
		for (size_t i = 0; i < ARRAY_SIZE(keys_only); i++) {
			const char *var = conf_str(sv->conf, "signing", keys_only[i]);
			if (var[0] != '\0')
				env_drop(var);
		}
	}
	if (r != ROLE_GATEWAY && conf_str(sv->conf, "mail", "imap_password_env")[0] != '\0')
		env_drop(conf_str(sv->conf, "mail", "imap_password_env"));
	memset(&ctx, 0, sizeof(ctx));
	ctx.role = r;
	ctx.conf_path = sv->conf_path;
	ctx.conf = sv->conf;
	ctx.conf_file = conf_file(sv->conf);
	ctx.sandbox_mode = (int)conf_int(sv->conf, "security", "sandbox");
	str_copy(ctx.data_dir, sv->data_dir, sizeof(ctx.data_dir));
	ctx.parent_fd = 3;
	ctx.keys_fd = hi_k[0];
	ctx.keys_fd2 = hi_k[1];
	ctx.drop_user = sv->drop_user;
	ctx.run_uid = sv->user.uid;
	ctx.run_gid = sv->user.gid;
	_exit(role_mains[r](&ctx));
}

static int start_role(struct supervisor *sv, enum role r)
{
	struct child *k = &sv->kids[r];
	struct error e = { { 0 }, 0 };
	int ctl[2], kp[2][2] = { { -1, -1 }, { -1, -1 } }, kfd[2] = { -1, -1 };
	/* The gateway signs in parallel, and the portal's worker threads
	 * talk to keys at the same time: they get two channels. */
	int nch = r == ROLE_KEYS ? 0 : r == ROLE_GATEWAY || r == ROLE_PORTAL ? 2 : 1;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
		return -1;
	for (int i = 0; i < nch; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kp[i]) < 0 ||
		    keys_channel_grant(sv->kids[ROLE_KEYS].ctl, &client_perms[r], kp[i][0], &e) < 0) {
			log_err("event=start_failed role=%s reason=\"no keys channel\"", role_name(r));
			close(ctl[0]);
			close(ctl[1]);
			for (int j = 0; j <= i; j++)
				if (kp[j][0] >= 0) {
					close(kp[j][0]);
					close(kp[j][1]);
				}
			return -1;
		}
		close(kp[i][0]);
		kfd[i] = kp[i][1];
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(ctl[0]);
		close(ctl[1]);
		for (int i = 0; i < nch; i++)
			close(kfd[i]);
		return -1;
	}
	if (pid == 0)
		child_run(sv, r, ctl[1], kfd);
	close(ctl[1]);
	for (int i = 0; i < nch; i++)
		close(kfd[i]);
	k->pid = pid;
	k->ctl = ctl[0];
	k->started_ms = now_ms();
	log_info("event=role_started role=%s pid=%ld", role_name(r), (long)pid);
	return 0;
}

static void reap(struct supervisor *sv)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int r = 0; r < ROLE_COUNT; r++) {
			struct child *k = &sv->kids[r];
			int64_t up;
			unsigned delay;
			if (k->pid != pid)
				continue;
			k->pid = 0;
			close(k->ctl);
			k->ctl = -1;
			{
				int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
				int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
				if (sv->stopping || k->restart_now)
					log_info("event=role_exited role=%s pid=%ld status=%d signal=%d",
						 role_name(r), (long)pid, code, sig);
				else
					log_warn("event=role_exited role=%s pid=%ld status=%d signal=%d unexpected=yes",
						 role_name(r), (long)pid, code, sig);
			}
			if (sv->stopping)
				break;
			if (k->restart_now) {
				k->restart_now = 0;
				k->next_start_ms = 0;
				break;
			}
			up = now_ms() - k->started_ms;
			if (up > STABLE_AFTER_S * 1000)
				k->fails = 0;
			delay = k->fails >= 6 ? BACKOFF_MAX_S : (1u << k->fails);
			if (delay > BACKOFF_MAX_S)
				delay = BACKOFF_MAX_S;
			k->fails++;
			k->next_start_ms = now_ms() + (int64_t)delay * 1000;
			log_info("event=role_restart_scheduled role=%s in_s=%u", role_name(r), delay);
			if (r == ROLE_KEYS) {
				/* Clients' channels died with keys: restart them with it. */
				for (int c = 0; c < ROLE_COUNT; c++)
					if (c != ROLE_KEYS && sv->kids[c].pid > 0) {
						sv->kids[c].restart_now = 1;
						kill(sv->kids[c].pid, SIGTERM);
					}
			}
			break;
		}
	}
}

static void start_due(struct supervisor *sv)
{
	int64_t t = now_ms();
	for (int r = 0; r < ROLE_COUNT; r++) {
		struct child *k = &sv->kids[r];
		if (k->pid > 0 || k->next_start_ms > t)
			continue;
		if (r != ROLE_KEYS && sv->kids[ROLE_KEYS].pid <= 0)
			continue;
		if (start_role(sv, (enum role)r) < 0)
			k->next_start_ms = t + 1000;
	}
}

static int64_t next_due(struct supervisor *sv)
{
	int64_t soonest = -1;
	for (int r = 0; r < ROLE_COUNT; r++)
		if (sv->kids[r].pid <= 0 && (soonest < 0 || sv->kids[r].next_start_ms < soonest))
			soonest = sv->kids[r].next_start_ms;
	return soonest;
}

/* Reap until no role but skip (-1: none) is alive, or the deadline. */
static void reap_until(struct supervisor *sv, int skip, int64_t deadline)
{
	int alive;

	for (;;) {
		reap(sv);
		alive = 0;
		for (int r = 0; r < ROLE_COUNT; r++)
			alive += r != skip && sv->kids[r].pid > 0;
		if (alive == 0 || now_ms() >= deadline)
			break;
		usleep(20000);
	}
}

/* The other roles first, keys once they are gone: a role that stops still
 * writes what it holds (the portal's queued events), and that needs keys. */
static void stop_all(struct supervisor *sv)
{
	int64_t deadline = now_ms() + STOP_GRACE_MS;

	sv->stopping = 1;
	for (int r = ROLE_COUNT - 1; r >= 0; r--)
		if (r != ROLE_KEYS && sv->kids[r].pid > 0)
			kill(sv->kids[r].pid, SIGTERM);
	reap_until(sv, ROLE_KEYS, deadline);
	if (sv->kids[ROLE_KEYS].pid > 0)
		kill(sv->kids[ROLE_KEYS].pid, SIGTERM);
	reap_until(sv, -1, deadline);
	for (int r = 0; r < ROLE_COUNT; r++)
		if (sv->kids[r].pid > 0) {
			log_warn("event=role_killed role=%s pid=%ld", role_name(r), (long)sv->kids[r].pid);
			kill(sv->kids[r].pid, SIGKILL);
			waitpid(sv->kids[r].pid, NULL, 0);
			sv->kids[r].pid = 0;
		}
}

static int prepare_dirs(struct supervisor *sv, const struct conf *c, struct error *e);
static int prepare_user(struct supervisor *sv, const struct conf *c, struct svcuser *u,
			struct error *e);

static void reload(struct supervisor *sv)
{
	struct conf *fresh = NULL;
	struct error e = { { 0 }, 0 };
	if (conf_load(sv->conf_path, &fresh, &e) < 0) {
		log_err("event=reload_refused reason=\"%s\"", e.msg);
		return;
	}
	if (sv->drop_user) {
		struct svcuser u;
		if (prepare_dirs(sv, fresh, &e) < 0 || prepare_user(sv, fresh, &u, &e) < 0) {
			log_err("event=reload_refused reason=\"%s\"", e.msg);
			conf_free(&fresh);
			return;
		}
		sv->user = u;
	}
	conf_free(&sv->conf);
	sv->conf = fresh;
	log_init("parent", (int)conf_int(sv->conf, "log", "syslog"),
		 (enum log_level)conf_int(sv->conf, "log", "level"));
	log_info("event=reload roles=restarting");
	/* Each role rereads nothing itself: it gets the new configuration by
	 * being restarted, keys first, so no role ever runs half-reconfigured. */
	for (int r = 0; r < ROLE_COUNT; r++) {
		sv->kids[r].fails = 0;
		sv->kids[r].next_start_ms = 0;
		if (sv->kids[r].pid > 0) {
			sv->kids[r].restart_now = 1;
			kill(sv->kids[r].pid, SIGTERM);
		}
	}
}

static int prepare_dirs(struct supervisor *sv, const struct conf *c, struct error *e)
{
	char path[PATH_MAX], sub[PATH_MAX + 8];
	static const char *const maildir_subs[] = { "cur", "new", "tmp" };

	if (str_fmt(path, sizeof(path), "%s/db/data.mdb", sv->data_dir) < 0)
		return err_set(e, "path too long");
	if (access(path, F_OK) < 0)
		return err_set(e, "%s has no tenant store (create one with `tayori init -d DIR`)",
			       sv->data_dir);
	str_fmt(path, sizeof(path), "%s/tmp", sv->data_dir);
	if (mkdir_p(path, 0700, e) < 0)
		return -1;
	if (conf_path(c, "paths", "inbox", path, sizeof(path)) < 0 || mkdir_p(path, 0700, e) < 0)
		return -1;
	if (conf_path(c, "paths", "log_dir", path, sizeof(path)) < 0 || mkdir_p(path, 0700, e) < 0)
		return -1;
	if (conf_path(c, "paths", "outbox_maildir", path, sizeof(path)) < 0)
		return err_set(e, "path too long");
	for (size_t i = 0; i < ARRAY_SIZE(maildir_subs); i++) {
		if (str_fmt(sub, sizeof(sub), "%s/%s", path, maildir_subs[i]) < 0 ||
		    mkdir_p(sub, 0700, e) < 0)
			return -1;
	}
	/* The intake Maildir too, so that no role has to make a folder
	 * before leaving root. */
	if (conf_path(c, "mail", "maildir", path, sizeof(path)) < 0)
		return err_set(e, "path too long");
	for (size_t i = 0; path[0] != '\0' && i < ARRAY_SIZE(maildir_subs); i++) {
		if (str_fmt(sub, sizeof(sub), "%s/%s", path, maildir_subs[i]) < 0 ||
		    mkdir_p(sub, 0700, e) < 0)
			return -1;
	}
	return 0;
}

/* In a child that has become the service user: can it use each folder and
 * file the roles need?  Exits with 0, or with 1 + the index of the first
 * path it cannot use. */
static void probe_child(const struct svcuser *u, char paths[][PATH_MAX], const int *modes,
			size_t n)
{
	struct error e = { { 0 }, 0 };
	if (sandbox_drop_user(u->uid, u->gid, &e) < 0)
		_exit(100);
	for (size_t i = 0; i < n; i++)
		if (paths[i][0] != '\0' && access(paths[i], modes[i]) < 0)
			_exit((int)(1 + i));
	_exit(0);
}

/*
 * Started as root: choose the service user, give it the data folder and
 * check that it can reach everything the roles use.  Folders configured
 * outside the data folder keep their owner: the admin gives them.
 */
static int prepare_user(struct supervisor *sv, const struct conf *c, struct svcuser *u,
			struct error *e)
{
	enum { NPATHS = 8 };
	char paths[NPATHS][PATH_MAX];
	int modes[NPATHS];
	size_t n = 0, skipped = 0;
	int status;
	pid_t pid;
	struct stat st;

	if (svcuser_resolve(conf_str(c, "security", "user"), sv->data_dir, u, e) < 0)
		return -1;
	if (svcuser_own_tree(sv->data_dir, u->uid, u->gid, &skipped, e) < 0)
		return -1;
	if (skipped > 0)
		log_warn("event=ownership data_dir=%s hard_linked_files_left=%zu", sv->data_dir, skipped);
	memset(paths, 0, sizeof(paths));
	str_fmt(paths[n], PATH_MAX, "%s/db/data.mdb", sv->data_dir);
	modes[n++] = R_OK | W_OK;
	str_fmt(paths[n], PATH_MAX, "%s/%s", sv->data_dir, KEYS_DIR);
	modes[n++] = R_OK | X_OK;
	str_fmt(paths[n], PATH_MAX, "%s/tmp", sv->data_dir);
	modes[n++] = W_OK | X_OK;
	conf_path(c, "paths", "inbox", paths[n], PATH_MAX);
	modes[n++] = W_OK | X_OK;
	conf_path(c, "paths", "log_dir", paths[n], PATH_MAX);
	modes[n++] = W_OK | X_OK;
	conf_path(c, "paths", "outbox_maildir", paths[n], PATH_MAX);
	modes[n++] = W_OK | X_OK;
	conf_path(c, "mail", "maildir", paths[n], PATH_MAX);
	modes[n++] = W_OK | X_OK;
	if (conf_path(c, "signing", "p12", paths[n], PATH_MAX) < 0 || stat(paths[n], &st) < 0)
		paths[n][0] = '\0'; /* no credential yet: keys says so itself */
	modes[n++] = R_OK;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return err_tmp(e, "fork: %s", strerror(errno));
	if (pid == 0)
		probe_child(u, paths, modes, n);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return err_tmp(e, "cannot check what user %s may reach", u->name);
	status = WEXITSTATUS(status);
	if (status == 100)
		return err_tmp(e, "cannot switch to user %s", u->name);
	if (status > 0 && (size_t)status <= n)
		return err_set(e, "user %s cannot use %s: make it and every folder above it reachable by that user, or set [security] user",
			       u->name, paths[status - 1]);
	if (status != 0)
		return err_tmp(e, "cannot check what user %s may reach", u->name);
	if (u->fallback)
		log_warn("event=privileges user=nobody hint=\"create a tayori system user or set [security] user\"");
	log_info("event=privileges user=%s uid=%u gid=%u data_dir=owned", u->name, (unsigned)u->uid,
		 (unsigned)u->gid);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct supervisor sv;
	struct error e = { { 0 }, 0 };
	const char *dir = NULL, *conf = NULL;
	sigset_t mask;
	int sfd, ch;

	memset(&sv, 0, sizeof(sv));
	/* Its environment may hold the credential's password or PIN until the
	 * roles are forked: no core file of it either. */
	sandbox_no_dumps();
	while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'h':
			printf("usage: tayori run [-d DIR | -c CONF]\n"
			       "Runs every role (keys, gateway, mailer, portal) in the foreground.\n"
			       "SIGHUP reloads the configuration; SIGTERM or SIGINT stops within 5 s.\n");
			return EXIT_DONE;
		default: return cli_usage("tayori run [-d DIR | -c CONF]");
		}
	}
	if (optind != argc)
		return cli_usage("tayori run [-d DIR | -c CONF]");
	if (cli_conf_path(dir, conf, sv.conf_path, sizeof(sv.conf_path)) < 0 ||
	    conf_load(sv.conf_path, &sv.conf, &e) < 0)
		return cli_fail(&e);
	if (conf_path(sv.conf, "paths", "data_dir", sv.data_dir, sizeof(sv.data_dir)) < 0) {
		err_set(&e, "data_dir path too long");
		goto fail;
	}
	/* Roles get an absolute config path whatever the current directory. */
	str_copy(sv.conf_path, conf_file(sv.conf), sizeof(sv.conf_path));
	log_init("parent", (int)conf_int(sv.conf, "log", "syslog"),
		 (enum log_level)conf_int(sv.conf, "log", "level"));
	if (prepare_dirs(&sv, sv.conf, &e) < 0)
		goto fail;
	if (geteuid() == 0) {
		if (prepare_user(&sv, sv.conf, &sv.user, &e) < 0)
			goto fail;
		sv.drop_user = 1;
	}
	for (int r = 0; r < ROLE_COUNT; r++)
		sv.kids[r].ctl = -1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		err_tmp(&e, "signalfd: %s", strerror(errno));
		goto fail;
	}
	log_info("event=starting data_dir=%s", sv.data_dir);
	/* Keys first, and alone: a signing credential that does not open (a
	 * wrong PIN, a missing token) stops the start here, with its reason. */
	if (start_role(&sv, ROLE_KEYS) < 0) {
		err_tmp(&e, "cannot start the keys process");
		goto fail;
	}
	if (keys_ready_wait(sv.kids[ROLE_KEYS].ctl, KEYS_READY_MS, &e) < 0) {
		kill(sv.kids[ROLE_KEYS].pid, SIGTERM);
		while (waitpid(sv.kids[ROLE_KEYS].pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(sfd);
		goto fail;
	}
	start_due(&sv);
	while (!sv.stopping) {
		struct pollfd p = { sfd, POLLIN, 0 };
		int64_t due = next_due(&sv), wait_ms = 1000;
		if (due >= 0) {
			wait_ms = due - now_ms();
			if (wait_ms < 0)
				wait_ms = 0;
			if (wait_ms > 1000)
				wait_ms = 1000;
		}
		if (poll(&p, 1, (int)wait_ms) > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					log_info("event=stopping signal=%u", si.ssi_signo);
					stop_all(&sv);
				} else if (si.ssi_signo == SIGHUP) {
					reload(&sv);
				}
			}
		}
		if (!sv.stopping) {
			reap(&sv);
			start_due(&sv);
		}
	}
	close(sfd);
	conf_free(&sv.conf);
	log_info("event=stopped");
	return EXIT_DONE;
fail:
	conf_free(&sv.conf);
	return cli_fail(&e);
}
