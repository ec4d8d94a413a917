/*
 * cmd_init.c — `tayori init [-d DIR] [--demo]`: a new tenant.
 *
 * Everything is built in a scratch directory beside DIR and renamed into
 * place at the end, so a failed init leaves nothing half-made: the tenant
 * key (0600, made in a child process), tayori.conf, the LMDB store, the
 * working folders, the first admin account with a one-time password printed
 * once, and the first audit record.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include "conf/conf.h"
#include "lib/audit.h"
#include "cmd/cli.h"
#include "keys/keys.h"
#include "lib/log.h"
#include "lib/staff.h"
#include "lib/store.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_dirs(const char *root, struct error *e)
{
	static const char *const subs[] = { "inbox", "mail/outbox/cur", "mail/outbox/new",
					     "mail/outbox/tmp", "log", "tmp" };
	char path[PATH_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (str_fmt(path, sizeof(path), "%s/%s", root, subs[i]) < 0 || mkdir_p(path, 0700, e) < 0)
			return -1;
	return 0;
}

static int build_tenant(const char *root, int demo, const char *name, const char *id,
			const char *admin, const char *admin_email, char *password, size_t pwsize,
			struct error *e)
{
	char conf_file[PATH_MAX], p12[PATH_MAX];
	struct conf *c = NULL;
	struct keys_client *kc = NULL;
	struct store *st = NULL;
	struct store_txn *t = NULL;
	struct staff s;
	struct staff_actor who = { cli_actor(), "cli" };
	struct passwd_params pp;
	pid_t kpid = -1;
	int ret = -1;

	memset(&s, 0, sizeof(s));
	if (str_fmt(conf_file, sizeof(conf_file), "%s/tayori.conf", root) < 0)
		return err_set(e, "path too long");
	if (conf_write_default(conf_file, name, id, e) < 0 || conf_load(conf_file, &c, e) < 0)
		goto out;
	if (keys_create_tenant(root, demo, name ? name : conf_str(c, "tenant", "name"), e) < 0 ||
	    make_dirs(root, e) < 0)
		goto out;
	if (conf_path(c, "signing", "p12", p12, sizeof(p12)) < 0)
		p12[0] = '\0';
	if (keys_spawn(root, p12, conf_str(c, "signing", "p12_pass_env"), &kc, &kpid, e) < 0 ||
	    store_open(root, kc, 1, &st, e) < 0)
		goto out;
	if (store_begin(st, 1, &t, e) < 0)
		goto out;
	{
		char detail[128];
		struct audit_entry a;
		str_fmt(detail, sizeof(detail), "schema=%u demo=%s", STORE_SCHEMA_VERSION,
			demo ? "yes" : "no");
		a = (struct audit_entry){ who.actor, "tenant.init", conf_str(c, "tenant", "id"), who.from,
					  detail };
		if (audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0)
			goto out;
	}
	str_copy(s.login, admin, sizeof(s.login));
	str_copy(s.email, admin_email, sizeof(s.email));
	str_copy(s.name, "管理者", sizeof(s.name));
	str_copy(s.role, "admin", sizeof(s.role));
	staff_role_preset("admin", &s.perms);
	s.must_change = 1;
	pp.memory_kib = (unsigned)conf_int(c, "security", "argon2_memory_kib");
	pp.iterations = (unsigned)conf_int(c, "security", "argon2_iterations");
	if (passwd_generate(password, pwsize) < 0) {
		err_tmp(e, "no random bytes for a password");
		goto out;
	}
	if (passwd_hash(password, &pp, s.pwhash, e) < 0 || staff_add(st, &s, &who, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	store_close(&st);
	if (kc != NULL)
		keys_spawn_wait(&kc, kpid);
	conf_free(&c);
	secure_wipe(&s, sizeof(s));
	return ret;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "demo", no_argument, NULL, 'D' },
		{ "name", required_argument, NULL, 'N' },
		{ "id", required_argument, NULL, 'I' },
		{ "admin", required_argument, NULL, 'a' },
		{ "admin-email", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"tayori init [-d DIR] [--demo] [--name NAME] [--id ID] [--admin LOGIN] [--admin-email ADDR] [--json]";
	const char *dir = CLI_DEFAULT_DIR, *name = NULL, *id = NULL;
	const char *admin = "admin", *admin_email = "admin@tayori.invalid";
	char tmp[PATH_MAX], conf_file[PATH_MAX], password[32];
	struct error e = { { 0 }, 0 };
	struct stat sb;
	int demo = 0, json = 0, ch;

	while ((ch = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'D': demo = 1; break;
		case 'N': name = optarg; break;
		case 'I': id = optarg; break;
		case 'a': admin = optarg; break;
		case 'm': admin_email = optarg; break;
		case 'j': json = 1; break;
		case 'h': printf("usage: %s\n", usage); return EXIT_DONE;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind != argc)
		return cli_usage("%s", usage);
	if (staff_login_valid(admin, &e) < 0 || staff_email_valid(admin_email, &e) < 0)
		return cli_fail(&e);
	if (strlen(dir) == 0 || str_fmt(conf_file, sizeof(conf_file), "%s/tayori.conf", dir) < 0 ||
	    str_fmt(tmp, sizeof(tmp), "%s.init-%ld", dir, (long)getpid()) < 0)
		return cli_usage("%s", usage);
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode) || access(conf_file, F_OK) == 0 || rmdir(dir) < 0) {
			err_set(&e, "%s already exists and is not empty; refusing to overwrite a tenant", dir);
			return cli_fail(&e);
		}
	}
	if (mkdir_p(tmp, 0700, &e) < 0)
		return cli_fail(&e);
	log_init("cli", 0, LOG_LVL_WARN);
	if (build_tenant(tmp, demo, name, id, admin, admin_email, password, sizeof(password), &e) < 0 ||
	    rename(tmp, dir) < 0) {
		if (e.msg[0] == '\0')
			err_tmp(&e, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		secure_wipe(password, sizeof(password));
		return cli_fail(&e);
	}
	if (json) {
		printf("{\"data_dir\":");
		cli_json_str(dir);
		printf(",\"admin\":");
		cli_json_str(admin);
		printf(",\"one_time_password\":\"%s\",\"demo\":%s}\n", password, demo ? "true" : "false");
	} else {
		printf("tayori: created a tenant in %s%s\n", dir, demo ? " (demo signing certificate)" : "");
		printf("  admin login:        %s\n", admin);
		printf("  one-time password:  %s\n", password);
		printf("  (shown only now; it must be changed at the first login / 初回ログイン時に変更してください)\n");
	}
	secure_wipe(password, sizeof(password));
	return EXIT_DONE;
}
