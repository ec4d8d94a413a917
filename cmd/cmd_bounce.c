/*
 * cmd_bounce.c — `tayori bounce parse [--json] FILE…`: for each file, is it
 * a bounce, for whom, with which DSN status and kind, and which of our
 * messages (VERP batch and sequence) it answers, with whether the return
 * path's MAC holds (asked of the tenant's keys process, which is started
 * only when some file carries a well-formed VERP).  DESIGN.md's stable
 * interface: --json prints one object a line per file with the keys file,
 * bounce, kind, recipients, status, verp (batch, seq, valid; null when no
 * return path of ours is found), plus format and diagnostic.  Exit 0 when
 * every file was read and parsed (bounce or not), 1 when a file could not
 * be read, 2 usage, 3 internal (the keys process).  Runs in the
 * command-line process.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "mailer/bounce.h"
#include "mailer/verp.h"

/* What the command says about one file beyond bounce_parse's result. */
struct bounce_seen {
	const char *file;
	const struct bounce_rcpt *main; /* the recipient whose status is shown, or NULL */
	int verp_valid;                 /* the MAC holds */
};

/* The first BOUNCE_INPUT_MAX + 1 bytes of path (bounce_parse reads the
 * first BOUNCE_INPUT_MAX and says when there was more). */
static int read_capped(const char *path, uint8_t **out, size_t *len, struct error *e)
{
	size_t cap = BOUNCE_INPUT_MAX + 1, have = 0;
	struct stat st;
	uint8_t *data;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return err_set(e, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a regular file", path);
	}
	data = xmalloc(cap);
	while (have < cap) {
		ssize_t r = read(fd, data + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(e, "%s: cannot read: %s", path, strerror(errno));
			free(data);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	close(fd);
	*out = data;
	*len = have;
	return 0;
}

/* The recipient whose status stands for the message: the first of the
 * message's kind with a status, else the first with one. */
static const struct bounce_rcpt *main_rcpt(const struct bounce_result *r)
{
	for (size_t i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].kind == r->kind && r->rcpt[i].status[0] != '\0')
			return &r->rcpt[i];
	for (size_t i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].status[0] != '\0')
			return &r->rcpt[i];
	return NULL;
}

static void json_str_or_null(const char *s)
{
	if (s == NULL || s[0] == '\0')
		fputs("null", stdout);
	else
		json_fputs(stdout, s);
}

static void print_json(const struct bounce_seen *s, const struct bounce_result *r)
{
	putchar('{');
	json_member(stdout, "file", 1);
	json_fputs(stdout, s->file);
	json_member(stdout, "bounce", 0);
	fputs(r->is_bounce ? "true" : "false", stdout);
	json_member(stdout, "kind", 0);
	json_fputs(stdout, bounce_kind_name(r->kind));
	json_member(stdout, "recipients", 0);
	putchar('[');
	for (size_t i = 0; i < r->nrcpt; i++) {
		if (i > 0)
			putchar(',');
		json_fputs(stdout, r->rcpt[i].addr);
	}
	putchar(']');
	json_member(stdout, "status", 0);
	json_str_or_null(s->main != NULL ? s->main->status : NULL);
	json_member(stdout, "verp", 0);
	if (!r->verp.present) {
		fputs("null", stdout);
	} else if (!r->verp.valid) {
		fputs("{\"batch\":null,\"seq\":null,\"valid\":false}", stdout);
	} else {
		printf("{\"batch\":%" PRIu64 ",\"seq\":%" PRIu32 ",\"valid\":%s}", r->verp.batch,
		       r->verp.seq, s->verp_valid ? "true" : "false");
	}
	json_member(stdout, "format", 0);
	json_str_or_null(r->format);
	json_member(stdout, "diagnostic", 0);
	json_str_or_null(s->main != NULL ? s->main->diag : NULL);
	fputs("}\n", stdout);
}

/* One line: FILE: KIND [STATUS] [for A, B] [verp BATCH-SEQ valid|forged]. */
static void print_text(const struct bounce_seen *s, const struct bounce_result *r)
{
	for (const char *p = s->file; *p != '\0'; p++)
		putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
	printf(": %s", bounce_kind_name(r->kind));
	if (s->main != NULL)
		printf(" %s", s->main->status);
	for (size_t i = 0; i < r->nrcpt; i++)
		printf("%s%s", i == 0 ? " for " : ", ", r->rcpt[i].addr);
	if (r->verp.present && r->verp.valid)
		printf(" verp %" PRIu64 "-%" PRIu32 " %s", r->verp.batch, r->verp.seq,
		       s->verp_valid ? "valid" : "forged (MAC does not hold)");
	else if (r->verp.present)
		fputs(" verp malformed", stdout);
	putchar('\n');
}

/* Parse each file; the tenant's keys process is opened on first need. */
static int parse_files(char **files, int n, const char *dir, const char *conf, int json)
{
	struct bounce_result *r = xmalloc(sizeof(*r));
	struct cli_tenant t;
	int opened = 0, rc = EXIT_DONE;

	memset(&t, 0, sizeof(t));
	for (int i = 0; i < n; i++) {
		struct error e = { { 0 }, 0 };
		struct bounce_seen s = { files[i], NULL, 0 };
		uint8_t *data = NULL;
		size_t len = 0;

		if (read_capped(files[i], &data, &len, &e) < 0) {
			fprintf(stderr, "tayori: %s\n", e.msg);
			rc = rc == EXIT_DONE ? EXIT_REFUSED : rc;
			continue;
		}
		if (bounce_parse(data, len, r, &e) < 0) {
			free(data);
			fprintf(stderr, "tayori: %s: %s\n", files[i], e.msg);
			rc = EXIT_TEMP;
			break;
		}
		free(data);
		if (r->verp.present && r->verp.valid) {
			if (!opened && cli_tenant_open(dir, conf, CLI_TENANT_STORE, &t, &e) < 0) {
				fprintf(stderr, "tayori: %s: cannot check its return path's MAC: %s\n",
					files[i], e.msg);
				rc = e.temporary ? EXIT_TEMP : EXIT_REFUSED;
				break;
			}
			opened = 1;
			if (verp_check(t.kc, &r->verp, &s.verp_valid, &e) < 0) {
				fprintf(stderr, "tayori: %s: cannot check its return path's MAC: %s\n",
					files[i], e.msg);
				rc = EXIT_TEMP;
				break;
			}
		}
		s.main = main_rcpt(r);
		if (json)
			print_json(&s, r);
		else
			print_text(&s, r);
	}
	if (opened)
		cli_tenant_close(&t);
	free(r);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tayori: cannot write the output: %s\n", strerror(errno));
		rc = EXIT_TEMP;
	}
	return rc;
}

int cmd_bounce(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] = "tayori bounce parse [--json] [-d DIR | -c CONF] FILE...";
	const char *dir = NULL, *conf = NULL;
	int json = 0, ch;

	if (argc < 2 || strcmp(argv[1], "parse") != 0)
		return cli_usage("%s", usage);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = 1; break;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind >= argc)
		return cli_usage("%s", usage);
	return parse_files(argv + optind, argc - optind, dir, conf, json);
}
