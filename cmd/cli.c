/*
 * cli.c — shared pieces of the subcommands (see cli.h).
 * Runs in the command-line process.
 */
#include "cmd/cli.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "keys/keys.h"
#include "lib/log.h"
#include "lib/store.h"
#include "lib/svcuser.h"

int cli_conf_path(const char *dir, const char *conf, char *out, size_t outsize)
{
	if (conf != NULL)
		return str_copy(out, conf, outsize) < outsize ? 0 : -1;
	return str_fmt(out, outsize, "%s/tayori.conf", dir ? dir : CLI_DEFAULT_DIR) < 0 ? -1 : 0;
}

int cli_tenant_open(const char *dir, const char *conf, int open_store, struct cli_tenant *t,
		    struct error *e)
{
	char p12[PATH_MAX], module[PATH_MAX];
	struct keys_cred_conf cc;

	memset(t, 0, sizeof(*t));
	t->keys_pid = -1;
	if (cli_conf_path(dir, conf, t->conf_path, sizeof(t->conf_path)) < 0)
		return err_set(e, "path too long");
	if (access(t->conf_path, F_OK) < 0)
		return err_set(e, "%s does not exist (create a tenant with `tayori init -d DIR`)",
			       t->conf_path);
	if (conf_load(t->conf_path, &t->conf, e) < 0)
		return -1;
	if (conf_path(t->conf, "paths", "data_dir", t->data_dir, sizeof(t->data_dir)) < 0)
		return err_set(e, "data_dir path too long");
	log_init("cli", (int)conf_int(t->conf, "log", "syslog"),
		 (enum log_level)conf_int(t->conf, "log", "level"));
	log_set_stderr_min(LOG_LVL_WARN);
	if (!open_store)
		return 0;
	keys_cred_conf_read(t->conf, p12, module, &cc);
	if (open_store != CLI_TENANT_SIGN)
		memset(&cc, 0, sizeof(cc)); /* no credential: nothing here signs */
	if (keys_spawn_cred(t->data_dir, &cc, &t->kc, &t->keys_pid, e) < 0)
		goto fail;
	if (store_open(t->data_dir, t->kc, 0, &t->st, e) < 0)
		goto fail;
	return 0;
fail:
	cli_tenant_close(t);
	return -1;
}

void cli_tenant_close(struct cli_tenant *t)
{
	struct stat st;
	store_close(&t->st);
	if (t->kc != NULL)
		keys_spawn_wait(&t->kc, t->keys_pid);
	/* Run as root on a tenant that `tayori run` gave to its service user:
	 * give back what this command created (an LMDB lock file, ...), or
	 * the roles could no longer open it. */
	if (geteuid() == 0 && t->data_dir[0] != '\0' && stat(t->data_dir, &st) == 0 && st.st_uid != 0) {
		struct error e = { { 0 }, 0 };
		if (svcuser_own_tree(t->data_dir, st.st_uid, st.st_gid, NULL, &e) < 0)
			log_warn("event=ownership data_dir=%s reason=\"%s\"", t->data_dir, e.msg);
	}
	conf_free(&t->conf);
}

int cli_fail(const struct error *e)
{
	fprintf(stderr, "tayori: %s\n", e->msg);
	return e->temporary ? EXIT_TEMP : EXIT_REFUSED;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;
	fputs("tayori: usage: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

const char *cli_actor(void)
{
	static char actor[96];
	struct passwd *pw = getpwuid(getuid());
	str_fmt(actor, sizeof(actor), "cli:%s", pw != NULL ? pw->pw_name : "unknown");
	return actor;
}

void cli_json_str(const char *s)
{
	json_fputs(stdout, s);
}
