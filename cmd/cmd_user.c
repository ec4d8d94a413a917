/*
 * cmd_user.c — `tayori user add | passwd | role | disable | enable | list`:
 * staff accounts and their permissions.  Passwords come from a prompt or an
 * environment variable (--password-env VAR), never from argv; without
 * either, a one-time password is generated and printed once.
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

int cmd_user(int argc, char **argv)
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
	struct user_opts o;
	struct cli_tenant t;
	struct error e = { { 0 }, 0 };
	struct staff s;
	struct staff_actor who = { cli_actor(), "cli" };
	struct passwd_params pp;
	const char *sub, *login = NULL;
	char pw[PASSWD_MAX_LEN + 2], detail[256], perms[160];
	int ch, generated = 0, rc = EXIT_DONE;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	if (argc < 2)
		return cli_usage("%s", usage);
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		printf("usage: %s\n", usage);
		return EXIT_DONE;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 'c': o.conf = optarg; break;
		case 'e': o.email = optarg; break;
		case 'n': o.name = optarg; break;
		case 'r': o.role = optarg; break;
		case 'g': o.grant = optarg; break;
		case 'R': o.revoke = optarg; break;
		case 'p': o.pwenv = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': printf("usage: %s\n", usage); return EXIT_DONE;
		default: return cli_usage("%s", usage);
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind != argc)
			return cli_usage("%s", usage);
	} else if (strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0 || strcmp(sub, "role") == 0 ||
		   strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
		if (optind + 1 != argc)
			return cli_usage("%s", usage);
		login = argv[optind];
	} else {
		return cli_usage("%s", usage);
	}
	if (strcmp(sub, "add") == 0 && o.email == NULL)
		return cli_usage("tayori user add LOGIN --email ADDR ...");
	if (cli_tenant_open(o.dir, o.conf, 1, &t, &e) < 0)
		return cli_fail(&e);
	pp = params(&t);

	if (strcmp(sub, "list") == 0) {
		struct staff *v = NULL;
		size_t n = 0;
		if (staff_list(t.st, &v, &n, &e) < 0)
			goto fail;
		list_accounts(v, n, o.json);
		secure_wipe(v, n * sizeof(*v));
		free(v);
	} else if (strcmp(sub, "add") == 0) {
		str_copy(s.login, login, sizeof(s.login));
		if (str_copy(s.email, o.email, sizeof(s.email)) >= sizeof(s.email) ||
		    str_copy(s.name, o.name ? o.name : "", sizeof(s.name)) >= sizeof(s.name)) {
			err_set(&e, "e-mail address or name too long");
			goto fail;
		}
		if (strpbrk(s.name, "\r\n") != NULL) {
			err_set(&e, "a name must be one line");
			goto fail;
		}
		str_copy(s.role, "clerk", sizeof(s.role));
		staff_role_preset("clerk", &s.perms);
		if (apply_perms(&o, &s, &e) < 0 || staff_login_valid(s.login, &e) < 0 ||
		    staff_email_valid(s.email, &e) < 0)
			goto fail;
		if (get_password(&o, pw, sizeof(pw), &generated, &e) < 0 ||
		    passwd_hash(pw, &pp, s.pwhash, &e) < 0)
			goto fail;
		s.must_change = generated;
		if (staff_add(t.st, &s, &who, &e) < 0)
			goto fail;
		staff_perms_format(s.perms, perms, sizeof(perms));
		printf("added %s (id %llu, %s: %s)\n", s.login, (unsigned long long)s.id, s.role, perms);
	} else {
		if (find(&t, login, &s, &e) < 0)
			goto fail;
		if (strcmp(sub, "passwd") == 0) {
			if (get_password(&o, pw, sizeof(pw), &generated, &e) < 0 ||
			    passwd_hash(pw, &pp, s.pwhash, &e) < 0)
				goto fail;
			s.must_change = generated;
			if (staff_update(t.st, &s, &who, "staff.passwd", generated ? "one-time" : "set", &e) < 0)
				goto fail;
			printf("password of %s changed\n", s.login);
		} else if (strcmp(sub, "role") == 0) {
			if (o.role == NULL && o.grant == NULL && o.revoke == NULL) {
				rc = cli_usage("tayori user role LOGIN [--role ROLE] [--grant PERMS] [--revoke PERMS]");
				goto out;
			}
			if (apply_perms(&o, &s, &e) < 0)
				goto fail;
			staff_perms_format(s.perms, perms, sizeof(perms));
			str_fmt(detail, sizeof(detail), "role=%s perms=%s", s.role, perms);
			if (staff_update(t.st, &s, &who, "staff.permissions", detail, &e) < 0)
				goto fail;
			printf("%s: %s (%s)\n", s.login, perms, s.role);
		} else {
			int disable = strcmp(sub, "disable") == 0;
			s.disabled = disable;
			if (staff_update(t.st, &s, &who, disable ? "staff.disable" : "staff.enable", "", &e) < 0)
				goto fail;
			printf("%s %s\n", s.login, disable ? "disabled" : "enabled");
		}
	}
	if (generated)
		printf("one-time password: %s\n(shown only now; it must be changed at the first login)\n", pw);
	goto out;
fail:
	rc = cli_fail(&e);
out:
	secure_wipe(pw, sizeof(pw));
	secure_wipe(&s, sizeof(s));
	cli_tenant_close(&t);
	return rc;
}
