/*
 * cmd_intake.c — `tayori intake rejected list` (the refused inputs the
 * gateway keeps sealed for [intake] keep_rejected days) and `tayori intake
 * rejected show ID OUTDIR` (one of them written back out, for an
 * administrator, with an audit record).  Runs in the command-line process.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/audit.h"
#include "cmd/cli.h"
#include "gateway/intake.h"
#include "lib/store.h"

static int print_one(const struct intake_kept *kp, void *arg)
{
	int *json = arg;
	char t[32], x[32];

	time_format_utc(kp->time, t, sizeof(t));
	time_format_utc(kp->expires, x, sizeof(x));
	if (*json) {
		printf("{\"id\":\"%s\",\"refused\":\"%s\",\"expires\":\"%s\",\"source\":", kp->id, t, x);
		cli_json_str(kp->source);
		printf(",\"kind\":");
		cli_json_str(kp->kind);
		printf(",\"name\":");
		cli_json_str(kp->name);
		printf(",\"bytes\":%zu,\"reason\":", kp->len);
		cli_json_str(kp->reason);
		printf("}\n");
	} else {
		printf("%s  %s  until %s  %-7s %-7s %9zu bytes  %s%s%s\n", kp->id, t, x, kp->source,
		       kp->kind, kp->len, kp->name[0] ? kp->name : "", kp->name[0] ? ": " : "",
		       kp->reason);
	}
	return 0;
}

struct show {
	struct store *st;
	const char *want;
	const char *outdir;
	int found, failed;
	unsigned n;
	struct error *e;
};

/* Names come from the input: kept for showing, never trusted as paths. */
static int write_file(const char *name, const uint8_t *data, size_t len, void *arg)
{
	struct show *s = arg;
	char safe[200], path[4400];
	size_t j = 0;

	for (const char *p = name; *p != '\0' && j + 1 < sizeof(safe); p++)
		safe[j++] = (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f) ? '_' : *p;
	safe[j] = '\0';
	if (str_fmt(path, sizeof(path), "%s/%02u-%s", s->outdir, ++s->n, safe) < 0 ||
	    file_write_atomic(path, data, len, 0600, s->e) < 0) {
		if (s->e->msg[0] == '\0')
			err_set(s->e, "output path too long");
		s->failed = 1;
		return 1;
	}
	printf("%s\n", path);
	return 0;
}

static int show_one(const struct intake_kept *kp, void *arg)
{
	struct show *s = arg;
	struct store_txn *tx = NULL;
	char target[32];
	/* Who read a refused input back out, and which: recorded first. */
	struct audit_entry a = { cli_actor(), "intake.rejected_show", target, "cli", "" };

	if (strcmp(kp->id, s->want) != 0)
		return 0;
	s->found = 1;
	str_fmt(target, sizeof(target), "input:%s", kp->id);
	if (store_begin(s->st, 1, &tx, s->e) < 0 || audit_append(tx, &a, NULL, s->e) < 0 ||
	    store_commit(&tx, s->e) < 0) {
		store_abort(&tx);
		s->failed = 1;
		return 1;
	}
	if (mkdir(s->outdir, 0700) < 0) {
		err_set(s->e, "cannot create %s: %s", s->outdir, strerror(errno));
		s->failed = 1;
		return 1;
	}
	if (intake_kept_files(kp, write_file, s) < 0 && !s->failed) {
		err_set(s->e, "kept input %s is damaged", kp->id);
		s->failed = 1;
	}
	return 1;
}

int cmd_intake(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"tayori intake rejected list [--json] | rejected show ID OUTDIR  [-d DIR | -c CONF]";
	const char *dir = NULL, *conf = NULL;
	struct cli_tenant t;
	struct error e = { { 0 }, 0 };
	int json = 0, ch, show, rc = EXIT_DONE;

	if (argc < 3 || strcmp(argv[1], "rejected") != 0 ||
	    (strcmp(argv[2], "list") != 0 && strcmp(argv[2], "show") != 0))
		return cli_usage("%s", usage);
	show = strcmp(argv[2], "show") == 0;
	optind = 3;
	while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = 1; break;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind != argc - (show ? 2 : 0))
		return cli_usage("%s", usage);
	if (show && strlen(argv[optind]) != 16)
		return cli_usage("ID is the 16 hex digits `tayori intake rejected list` shows");
	if (cli_tenant_open(dir, conf, 1, &t, &e) < 0)
		return cli_fail(&e);
	if (!show) {
		if (intake_kept_each(t.st, print_one, &json, &e) < 0)
			rc = cli_fail(&e);
	} else {
		struct show s = { t.st, argv[optind], argv[optind + 1], 0, 0, 0, &e };
		if (intake_kept_each(t.st, show_one, &s, &e) < 0 || s.failed) {
			rc = cli_fail(&e);
		} else if (!s.found) {
			fprintf(stderr, "tayori: no kept input %s (see tayori intake rejected list)\n",
				argv[optind]);
			rc = EXIT_REFUSED;
		}
	}
	cli_tenant_close(&t);
	return rc;
}
