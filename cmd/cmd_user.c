/*
 * cmd_user.c — `tayori user`: staff accounts and their permissions.
 * `tayori user add | passwd | role | disable | enable | list`.  Passwords
 * come from a prompt or an environment variable (--password-env VAR), never
 * from argv; without either, a one-time password is generated and printed
 * once.
 * Runs in the command-line process of the administrator who calls it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "cmd/cli.h"
#include "lib/staff.h"
#include "lib/store.h"

static const char usage[] =
	"tayori user add LOGIN --email ADDR [--name NAME] [--role clerk|approver|admin]\n"
	"                 [--grant PERMS] [--revoke PERMS] [--password-env VAR]\n"
	"       tayori user passwd LOGIN [--password-env VAR]\n"
	"       tayori user role LOGIN [--role ROLE] [--grant PERMS] [--revoke PERMS]\n"
	"       tayori user disable LOGIN | enable LOGIN\n"
	"       tayori user list [--json]\n"
	"  (each also takes -d DIR | -c CONF; PERMS: view,submit,approve,send,remind,export,manage-users,audit)";

struct user_opts {
	const char *dir, *conf, *email, *name, *role, *grant, *revoke, *pwenv;
	int json;
};

/* Ask, read from the environment, or generate (then *generated = 1). */
static int get_password(const struct user_opts *o, char *pw, size_t pwsize, int *generated,
			struct error *e)
{
	*generated = 0;
	if (o->pwenv != NULL || isatty(STDIN_FILENO)) {
		if (passwd_read(o->pwenv, "New password: ", 1, pw, pwsize, e) < 0 ||
		    passwd_acceptable(pw, e) < 0)
			return -1;
		return 0;
	}
	if (passwd_generate(pw, pwsize) < 0)
		return err_tmp(e, "no random bytes for a password");
	*generated = 1;
	return 0;
}

static int apply_perms(const struct user_opts *o, struct staff *s, struct error *e)
{
	uint32_t bits;
	if (o->role != NULL) {
		if (staff_role_preset(o->role, &s->perms) < 0)
			return err_set(e, "unknown role \"%s\" (clerk, approver, admin)", o->role);
		str_copy(s->role, o->role, sizeof(s->role));
	}
	if (o->grant != NULL) {
		if (staff_perms_parse(o->grant, &bits, e) < 0)
			return -1;
		s->perms |= bits;
	}
	if (o->revoke != NULL) {
		if (staff_perms_parse(o->revoke, &bits, e) < 0)
			return -1;
		s->perms &= ~bits;
	}
	return 0;
}

static struct passwd_params params(const struct cli_tenant *t)
{
	struct passwd_params pp = {
		(unsigned)conf_int(t->conf, "security", "argon2_memory_kib"),
		(unsigned)conf_int(t->conf, "security", "argon2_iterations"),
	};
	return pp;
}

static int find(struct cli_tenant *t, const char *login, struct staff *s, struct error *e)
{
	int r = staff_find_login(t->st, login, s, e);
	if (r == 1)
		return err_set(e, "no staff account \"%s\"", login);
	return r;
}

static void list_accounts(struct staff *v, size_t n, int json)
{
	char perms[160], created[32];
	if (json)
		printf("{\"users\":[");
	for (size_t i = 0; i < n; i++) {
		staff_perms_format(v[i].perms, perms, sizeof(perms));
		time_format_utc(v[i].created, created, sizeof(created));
		if (json) {
			printf("%s{\"id\":%llu,\"login\":", i ? "," : "", (unsigned long long)v[i].id);
			cli_json_str(v[i].login);
			printf(",\"email\":");
			cli_json_str(v[i].email);
			printf(",\"name\":");
			cli_json_str(v[i].name);
			printf(",\"role\":");
			cli_json_str(v[i].role);
			printf(",\"permissions\":");
			cli_json_str(perms);
			printf(",\"disabled\":%s,\"must_change_password\":%s,\"created\":\"%s\"}",
			       v[i].disabled ? "true" : "false", v[i].must_change ? "true" : "false",
			       created);
		} else {
			printf("%-4llu %-16s %-30s %-9s %-8s %s\n", (unsigned long long)v[i].id,
			       v[i].login, v[i].email, v[i].role, v[i].disabled ? "disabled" : "active",
			       perms);
		}
	}
	if (json)
		printf("]}\n");
}

/* One run of `tayori user`: the command line, the tenant and the account. */
struct user_run {
	struct user_opts o;
	const char *sub, *login;
	struct cli_tenant t;
	struct passwd_params pp;
	struct staff s;
	struct staff_actor who;
	char pw[PASSWD_MAX_LEN + 2];
	int generated; /* pw is a one-time password to show at the end */
	struct error e;
};

/* The command line into u->o, u->sub and u->login.  0 to go on, or -1 with
 * the exit status in *status (2 for a usage error, 0 after --help). */
static int user_parse(int argc, char **argv, struct user_run *u, int *status)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "email", required_argument, NULL, 'e' },
		{ "name", required_argument, NULL, 'n' },
		{ "role", required_argument, NULL, 'r' },
		{ "grant", required_argument, NULL, 'g' },
		{ "revoke", required_argument, NULL, 'R' },
		{ "password-env", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct user_opts *o = &u->o;
	const char *sub;
	int ch;

	*status = EXIT_DONE;
	if (argc < 2)
		goto usage;
	sub = u->sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		printf("usage: %s\n", usage);
		return -1;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 'c': o->conf = optarg; break;
		case 'e': o->email = optarg; break;
		case 'n': o->name = optarg; break;
		case 'r': o->role = optarg; break;
		case 'g': o->grant = optarg; break;
		case 'R': o->revoke = optarg; break;
		case 'p': o->pwenv = optarg; break;
		case 'j': o->json = 1; break;
		case 'h': printf("usage: %s\n", usage); return -1;
		default: goto usage;
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind != argc)
			goto usage;
	} else if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0 || strcmp(sub, "role") == 0 ||
		   strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
		if (optind + 1 != argc)
			goto usage;
		u->login = argv[optind];
	} else {
		goto usage;
	}
	if (strcmp(sub, "add") == 0 && o->email == NULL) {
		*status = cli_usage("tayori user add LOGIN --email ADDR ...");
		return -1;
	}
	return 0;
usage:
	*status = cli_usage("%s", usage);
	return -1;
}

/* A new password into u->pw (asked, from the environment or generated) and
 * its hash into u->s. */
static int user_new_password(struct user_run *u)
{
	if (get_password(&u->o, u->pw, sizeof(u->pw), &u->generated, &u->e) < 0 ||
	    passwd_hash(u->pw, &u->pp, u->s.pwhash, &u->e) < 0)
		return -1;
	u->s.must_change = u->generated;
	return 0;
}

/* `tayori user list`. */
static int user_list(struct user_run *u)
{
	struct staff *v = NULL;
	size_t n = 0;

	if (staff_list(u->t.st, &v, &n, &u->e) < 0)
		return -1;
	list_accounts(v, n, u->o.json);
	secure_wipe(v, n * sizeof(*v));
	free(v);
	return 0;
}

/* `tayori user add`. */
static int user_add(struct user_run *u)
{
	struct staff *s = &u->s;
	char perms[160];

	str_copy(s->login, u->login, sizeof(s->login));
	if (str_copy(s->email, u->o.email, sizeof(s->email)) >= sizeof(s->email) ||
	    str_copy(s->name, u->o.name ? u->o.name : "", sizeof(s->name)) >= sizeof(s->name))
		return err_set(&u->e, "e-mail address or name too long");
	if (strpbrk(s->name, "\r\n") != NULL)
		return err_set(&u->e, "a name must be one line");
	str_copy(s->role, "clerk", sizeof(s->role));
	staff_role_preset("clerk", &s->perms);
	if (apply_perms(&u->o, s, &u->e) < 0 || staff_login_valid(s->login, &u->e) < 0 ||
	    staff_email_valid(s->email, &u->e) < 0)
		return -1;
	if (user_new_password(u) < 0 || staff_add(u->t.st, s, &u->who, &u->e) < 0)
		return -1;
	staff_perms_format(s->perms, perms, sizeof(perms));
	printf("added %s (id %llu, %s: %s)\n", s->login, (unsigned long long)s->id, s->role, perms);
	return 0;
}

/* Refuse a change to s that would leave no enabled account with the
 * manage-users permission (the same check as the dashboard's). */
static int keep_a_manager(struct user_run *u, const struct staff *s)
{
	int r = staff_managers_left(u->t.st, s, &u->e);

	if (r == 0)
		return err_set(&u->e, "refused: %s is the last enabled account with the "
			       "manage-users permission; grant it to another account first",
			       s->login);
	return r < 0 ? -1 : 0;
}

/* `tayori user passwd | role | disable | enable` on an existing account.
 * 0, -1 with u->e set, or an exit status above 0 already reported. */
static int user_change(struct user_run *u)
{
	struct staff *s = &u->s;
	char detail[256], perms[160];

	if (find(&u->t, u->login, s, &u->e) < 0)
		return -1;
	if (strcmp(u->sub, "passwd") == 0) {
		if (user_new_password(u) < 0 ||
		    staff_update(u->t.st, s, &u->who, "staff.passwd",
				 u->generated ? "one-time" : "set", &u->e) < 0)
			return -1;
		printf("password of %s changed\n", s->login);
	} else if (strcmp(u->sub, "role") == 0) {
		if (u->o.role == NULL && u->o.grant == NULL && u->o.revoke == NULL)
			return cli_usage("tayori user role LOGIN [--role ROLE] [--grant PERMS] [--revoke PERMS]");
		if (apply_perms(&u->o, s, &u->e) < 0)
			return -1;
		if (keep_a_manager(u, s) < 0)
			return -1;
		staff_perms_format(s->perms, perms, sizeof(perms));
		str_fmt(detail, sizeof(detail), "role=%s perms=%s", s->role, perms);
		if (staff_update(u->t.st, s, &u->who, "staff.permissions", detail, &u->e) < 0)
			return -1;
		printf("%s: %s (%s)\n", s->login, perms, s->role);
	} else {
		int disable = strcmp(u->sub, "disable") == 0;
		s->disabled = disable;
		if (keep_a_manager(u, s) < 0)
			return -1;
		if (staff_update(u->t.st, s, &u->who, disable ? "staff.disable" : "staff.enable", "",
				 &u->e) < 0)
			return -1;
		printf("%s %s\n", s->login, disable ? "disabled" : "enabled");
	}
	return 0;
}

int cmd_user(int argc, char **argv)
{
	struct user_run run, *u = &run;
	int rc;

	memset(u, 0, sizeof(*u));
	u->who.actor = cli_actor();
	u->who.from = "cli";
	if (user_parse(argc, argv, u, &rc) < 0)
		goto done;
	if (cli_tenant_open(u->o.dir, u->o.conf, 1, &u->t, &u->e) < 0) {
		rc = cli_fail(&u->e);
		goto done;
	}
	u->pp = params(&u->t);
	if (strcmp(u->sub, "list") == 0)
		rc = user_list(u);
	else if (strcmp(u->sub, "add") == 0)
		rc = user_add(u);
	else
		rc = user_change(u);
	if (rc < 0)
		rc = cli_fail(&u->e);
	else if (rc == EXIT_DONE && u->generated)
		printf("one-time password: %s\n(shown only now; it must be changed at the first login)\n",
		       u->pw);
	secure_wipe(u->pw, sizeof(u->pw));
	secure_wipe(&u->s, sizeof(u->s));
	cli_tenant_close(&u->t);
done:
	return rc;
}
