/*
 * cli.h — what the subcommands share: the tenant, exit statuses, messages.
 * Finding the tenant (-d DIR / -c CONF), opening it through a private keys
 * process, exit statuses and messages.
 * Runs in the command-line process.
 *
 * Exit statuses (DESIGN.md): 0 done; 1 input refused (one line on stderr,
 * nothing stored); 2 usage; 3 temporary or internal failure.
 */
#ifndef TAYORI_CLI_H
#define TAYORI_CLI_H

#include <limits.h>
#include <sys/types.h>
#include "lib/util.h"

enum { EXIT_DONE = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_TEMP = 3 };

#define CLI_DEFAULT_DIR "./var"

struct conf;
struct store;
struct keys_client;

struct cli_tenant {
	struct conf *conf;
	char conf_path[PATH_MAX];
	char data_dir[PATH_MAX];
	struct keys_client *kc;
	pid_t keys_pid;
	struct store *st;
};

/* The config path from -c, or DIR/tayori.conf from -d (default ./var). */
int cli_conf_path(const char *dir, const char *conf, char *out, size_t outsize);
/* Load the config; with open_store, also spawn keys and open the store.
 * With CLI_TENANT_SIGN, the keys process also opens the signing credential
 * ([signing]: a PKCS#12 file or a PKCS#11 token, whose PIN must then be in
 * the environment); other commands need no credential and open none. */
#define CLI_TENANT_STORE 1
#define CLI_TENANT_SIGN  2
int cli_tenant_open(const char *dir, const char *conf, int open_store, struct cli_tenant *t,
		    struct error *e);
void cli_tenant_close(struct cli_tenant *t);

/* Print "tayori: MESSAGE" and return 1 or 3 from e->temporary. */
int cli_fail(const struct error *e);
/* Print "tayori: usage: ..." and return 2. */
int cli_usage(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* "cli:<user>" for the audit log. */
const char *cli_actor(void);
/* Escape s as a JSON string (with quotes) onto stdout. */
void cli_json_str(const char *s);

int cmd_init(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* The keys permissions `tayori run` gives each role's channel (supervisor.c). */
struct keys_perms;
const struct keys_perms *supervisor_keys_perms(int role); /* enum role */
int cmd_user(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_conf(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_intake(int argc, char **argv);
/* `tayori bounce parse [--json] FILE...` (cmd_bounce.c). */
int cmd_bounce(int argc, char **argv);
/* `tayori report [--mail] [--json]` (cmd_report.c). */
int cmd_report(int argc, char **argv);
/* `tayori dkim record` (cmd_dkim.c). */
int cmd_dkim(int argc, char **argv);
/* `tayori pdf`, and its commands (cmd_pdf.c, cmd_pdf_sign.c); argv[0] is
 * the command's own name ("split", "sign", "verify"). */
int cmd_pdf(int argc, char **argv);
int cmd_pdf_split(int argc, char **argv);
int cmd_pdf_sign(int argc, char **argv);
int cmd_pdf_verify(int argc, char **argv);

#endif
