/*
 * cmd_batch.c — `tayori batch list | show ID | approve ID --as LOGIN |
 * pdf ID KEY OUT | withdraw ID --as LOGIN | unlock ID KEY --as LOGIN`, and the dispatch of every `tayori batch` subcommand
 * (send and remind: cmd_batch_send.c; export: cmd_batch_export.c).
 * Stored text is never printed raw: a control or bidi character in a title
 * or a report (stored before text was checked, or by a bug) is shown
 * escaped (text.h), in JSON as \uXXXX.
 * Runs in the command-line process of the staff member who calls it.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/batches.h"
#include "lib/notice.h"
#include "cmd/cli.h"
#include "cmd/cmd_batch_int.h"
#include "conf/conf.h"
#include "gateway/recipients.h"
#include "lib/staff.h"
#include "lib/text.h"

static const char usage[] =
	"tayori batch list | show ID [--json]\n"
	"       tayori batch approve ID --as LOGIN\n"
	"       tayori batch pdf ID KEY OUT.pdf\n"
	"       tayori batch send ID [--at 'YYYY-MM-DD HH:MM'] [--as LOGIN]\n"
	"       tayori batch remind ID [--as LOGIN]\n"
	"       tayori batch export ID [--paper] [-o OUT]\n"
	"       tayori batch withdraw ID --as LOGIN\n"
	"       tayori batch unlock ID KEY --as LOGIN\n"
	"  (each also takes -d DIR | -c CONF)";

static const char help[] =
	"  approve ID --as LOGIN   LOGIN (with the approve permission) approves the batch;\n"
	"                          with [policy] four_eyes = yes (the default) LOGIN must\n"
	"                          not be its submitter, and --as is required\n"
	"  send ID [--at TIME]     start sending an approved batch now, or at TIME\n"
	"                          ('YYYY-MM-DD HH:MM', Japan time); the mailer sends it\n"
	"  remind ID               queue a reminder, with a fresh link, for every resident\n"
	"                          sent mail who has not opened it (a sent batch)\n"
	"  export ID [-o OUT]      every resident's state as CSV, on standard output or in\n"
	"                          the new file OUT\n"
	"  export ID --paper [-o OUT]\n"
	"                          the paper list: OUT.csv (who, why, which pages) and\n"
	"                          OUT.pdf (their notices merged, to print); OUT defaults\n"
	"                          to batch-ID-paper.  CSVs are UTF-8 with a BOM, CRLF,\n"
	"                          and a cell starting with = + - @ gets a leading '\n"
	"  withdraw ID --as LOGIN  call the batch back (LOGIN needs the approve\n"
	"                          permission): every link and notice code of it then\n"
	"                          answers the portal's \"contact the ward\" page, and the\n"
	"                          mailer sends nothing more of it\n"
	"  unlock ID KEY --as LOGIN\n"
	"                          let the resident with KEY try again after too many\n"
	"                          wrong answers locked their notice (LOGIN needs the\n"
	"                          send permission)\n"
	"  --as LOGIN              for send, remind and export too: the staff member\n"
	"                          acting, who needs that permission\n";

static void print_summary(const struct batch_summary *s, int json)
{
	char when[32];
	time_format_jst(s->created, when, sizeof(when));
	if (json) {
		printf("{\"batch\":%llu,\"status\":", (unsigned long long)s->id);
		cli_json_str(s->status);
		printf(",\"created\":\"%s\",\"test\":%s,\"recipients\":%llu,\"matched\":%llu,\"signed\":%llu,\"title\":",
		       when, s->test ? "true" : "false", (unsigned long long)s->recipients,
		       (unsigned long long)s->matched, (unsigned long long)s->signed_pdfs);
		cli_json_str(s->title);
		if (s->notice_type[0] != '\0') {
			printf(",\"type\":");
			cli_json_str(s->notice_type);
		}
		/* The 期限 the mail and the paper list use: the batch's own, or
		 * the ward's default fixed when it was sent. */
		if (s->deadline[0] != '\0') {
			printf(",\"deadline\":");
			cli_json_str(s->deadline);
			printf(",\"deadline_default\":%s", s->deadline_default ? "true" : "false");
		}
		if (s->send_at > 0) {
			char at[32];
			time_format_jst(s->send_at, at, sizeof(at));
			printf(",\"send_at\":\"%s\"", at);
		}
		putchar('}');
	} else {
		printf("%-5llu ", (unsigned long long)s->id);
		text_fputs_safe(stdout, s->status);
		printf("%*s %s %6llu/%-6llu %s", strlen(s->status) < 18 ? (int)(18 - strlen(s->status)) : 0,
		       "", when, (unsigned long long)s->matched, (unsigned long long)s->recipients,
		       s->test ? "[TEST] " : "");
		text_fputs_safe(stdout, s->title);
		putchar('\n');
	}
}

/* A stored report (JSON, one line and a line feed), with any character a
 * terminal must not receive escaped: \uXXXX in JSON mode (valid, since such
 * a character can only stand inside a string), \u{X} in text mode. */
static void print_report(const char *r, size_t len, int json)
{
	const unsigned char *u = (const unsigned char *)r;
	size_t i = 0;
	while (i < len && u[i] != '\0') {
		uint32_t c;
		size_t n = text_utf8_decode(u + i, len - i, &c);
		if (n == 0) {
			fputs(json ? "\\ufffd" : "\\x", stdout);
			if (!json)
				printf("%02X", u[i]);
			i++;
			continue;
		}
		if (c != '\n' && text_is_unsafe(c))
			printf(json ? "\\u%04x" : "\\u{%X}", (unsigned)c);
		else
			fwrite(u + i, 1, n, stdout);
		i += n;
	}
}

static int parse_id(const char *s, uint64_t *id)
{
	int64_t v;
	if (parse_int64(s, 1, INT64_MAX, &v) < 0)
		return -1;
	*id = (uint64_t)v;
	return 0;
}

/* `tayori batch list`. */
static int batch_list(struct cli_tenant *t, int json, struct error *e)
{
	struct batch_summary *v = NULL;
	size_t n = 0;

	if (batches_list(t->st, &v, &n, e) < 0)
		return -1;
	if (json)
		printf("{\"batches\":[");
	for (size_t i = 0; i < n; i++) {
		if (json && i)
			putchar(',');
		print_summary(&v[i], json);
	}
	if (json)
		printf("]}\n");
	free(v);
	return 0;
}

/* `tayori batch show ID`: the summary and the stored report. */
static int batch_show(struct cli_tenant *t, uint64_t id, int json, struct error *e)
{
	struct batch_summary s;
	struct buf report;
	char *residents = NULL;
	size_t rlen = 0;
	int r;

	buf_init(&report, 64 << 20);
	r = batches_get(t->st, id, &s, &report, e);
	if (r == 1)
		err_set(e, "no batch %llu", (unsigned long long)id);
	/* Each resident's furthest state, once mail is sent: made before any
	 * output, so a failure prints nothing. */
	if (r == 0 && json) {
		FILE *m = open_memstream(&residents, &rlen);
		if (m == NULL)
			r = err_tmp(e, "out of memory");
		else if (notice_statuses_json(t->st, id, now_utc(), 0, m, e) < 0)
			r = -1;
		if (m != NULL)
			fclose(m);
	}
	if (r != 0) {
		free(residents);
		buf_free(&report);
		return -1;
	}
	if (json) {
		printf("{\"summary\":");
		print_summary(&s, 1);
		printf(",\"report\":");
		if (report.len)
			print_report((const char *)report.data, report.len, 1);
		else
			fputs("null", stdout);
		fputs(residents != NULL ? residents : "", stdout);
		printf("}\n");
	} else {
		print_summary(&s, 0);
		print_report((const char *)report.data, report.len, 0);
	}
	free(residents);
	buf_free(&report);
	return 0;
}

int batch_as_staff(struct cli_tenant *t, const char *login, uint32_t perm,
		   const char *perm_name, struct staff *s, char *actor, size_t actorsize,
		   struct error *e)
{
	int r = staff_find_login(t->st, login, s, e);
	if (r < 0)
		return -1;
	if (r == 1)
		return err_set(e, "--as %s: no such staff member", login);
	if (s->disabled)
		return err_set(e, "--as %s: the staff member is disabled", login);
	if (!(s->perms & perm))
		return err_set(e, "--as %s: the staff member has no %s permission", login,
			       perm_name);
	str_fmt(actor, actorsize, "staff:%llu", (unsigned long long)s->id);
	return 0;
}

/* `tayori batch approve ID --as LOGIN`. */
static int batch_approve(struct cli_tenant *t, uint64_t id, const struct batch_opts *o,
			 struct error *e)
{
	int four_eyes = conf_int(t->conf, "policy", "four_eyes") != 0;
	struct staff s;
	char actor[32];

	if (o->as == NULL && four_eyes)
		return err_set(e, "batch approve needs --as LOGIN, the approving staff member "
			       "([policy] four_eyes: not the one who submitted batch %llu)",
			       (unsigned long long)id);
	if (o->as != NULL &&
	    batch_as_staff(t, o->as, PERM_APPROVE, "approve", &s, actor, sizeof(actor), e) < 0)
		return -1;
	if (batches_approve(t->st, id, o->as != NULL ? &s : NULL, cli_actor(), "cli", four_eyes,
			    e) < 0)
		return -1;
	printf("batch %llu approved\n", (unsigned long long)id);
	return 0;
}

/* `tayori batch withdraw ID --as LOGIN`. */
static int batch_withdraw(struct cli_tenant *t, uint64_t id, const struct batch_opts *o,
			  struct error *e)
{
	struct staff s;
	char actor[32];

	if (o->as == NULL)
		return err_set(e, "batch withdraw needs --as LOGIN, the staff member (with the "
			       "approve permission) withdrawing batch %llu", (unsigned long long)id);
	if (batch_as_staff(t, o->as, PERM_APPROVE, "approve", &s, actor, sizeof(actor), e) < 0 ||
	    batches_withdraw(t->st, id, &s, cli_actor(), "cli", e) < 0)
		return -1;
	printf("batch %llu withdrawn\n", (unsigned long long)id);
	return 0;
}

/* Accept a resident's key as staff type it (full-width digits, Excel's
 * lost zeros): normalise it the way the batch's CSV was. */
static void typed_key(struct cli_tenant *t, uint64_t id, const char *typed, char *key,
		      size_t size)
{
	struct buf report;
	struct batch_summary s;
	struct error e = { { 0 }, 0 };
	const char *kw;
	int width = 0;

	buf_init(&report, 64 << 20);
	if (batches_get(t->st, id, &s, &report, &e) == 0 && report.len > 0 &&
	    (kw = strstr((char *)report.data, "\"key_width\":")) != NULL)
		width = (int)strtol(kw + 12, NULL, 10);
	buf_free(&report);
	if (recipients_normalize_key(typed, width, key, size) < 0)
		str_copy(key, typed, size);
}

/* `tayori batch unlock ID KEY --as LOGIN`. */
static int batch_unlock(struct cli_tenant *t, uint64_t id, const char *typed,
			const struct batch_opts *o, struct error *e)
{
	struct staff s;
	char actor[32], key[RECIPIENTS_KEY_MAX + 1];
	uint32_t seq;
	int r;

	if (o->as == NULL)
		return err_set(e, "batch unlock needs --as LOGIN, the staff member (with the send "
			       "permission) unlocking the notice");
	if (batch_as_staff(t, o->as, PERM_SEND, "send", &s, actor, sizeof(actor), e) < 0)
		return -1;
	typed_key(t, id, typed, key, sizeof(key));
	r = batches_resident_seq(t->st, id, key, &seq, e);
	if (r == 1)
		return err_set(e, "batch %llu has no resident with key %s", (unsigned long long)id,
			       typed);
	if (r == 0)
		r = notice_unlock(t->st, id, seq, actor, "cli", e);
	if (r == 1)
		return err_set(e, "the notice of key %s in batch %llu is not locked", typed,
			       (unsigned long long)id);
	if (r < 0)
		return -1;
	printf("batch %llu: the notice of key %s is unlocked\n", (unsigned long long)id, typed);
	return 0;
}

/* `tayori batch pdf ID KEY OUT.pdf`: one resident's signed PDF into a new file. */
static int batch_pdf(struct cli_tenant *t, uint64_t id, const char *typed, const char *out,
		     struct error *e)
{
	struct buf pdf;
	char key[RECIPIENTS_KEY_MAX + 1];
	int r, fd;

	typed_key(t, id, typed, key, sizeof(key));
	buf_init(&pdf, (size_t)1 << 30);
	r = batches_resident_pdf(t->st, id, key, &pdf, e);
	if (r == 1)
		err_set(e, "batch %llu has no PDF for key %s", (unsigned long long)id, typed);
	if (r != 0) {
		buf_free(&pdf);
		return -1;
	}
	/* Never overwrite: a resident's notice is not to be clobbered by a typo. */
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pdf.data, pdf.len) != (ssize_t)pdf.len || close(fd) < 0) {
		err_set(e, "cannot write %s (it must not exist yet)", out);
		buf_free(&pdf);
		return -1;
	}
	buf_free(&pdf);
	return 0;
}

/* Each subcommand and its number of arguments after the command name. */
static int arity(const char *sub)
{
	static const struct { const char *name; int n; } subs[] = {
		{ "list", 0 },   { "show", 1 },   { "approve", 1 }, { "pdf", 3 },
		{ "send", 1 },   { "remind", 1 }, { "export", 1 }, { "withdraw", 1 },
		{ "unlock", 2 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (strcmp(sub, subs[i].name) == 0)
			return subs[i].n;
	return -1;
}

static int run(struct cli_tenant *t, const char *sub, uint64_t id, char **args,
	       const struct batch_opts *o, struct error *e)
{
	if (strcmp(sub, "list") == 0)
		return batch_list(t, o->json, e);
	if (strcmp(sub, "show") == 0)
		return batch_show(t, id, o->json, e);
	if (strcmp(sub, "approve") == 0)
		return batch_approve(t, id, o, e);
	if (strcmp(sub, "send") == 0)
		return batch_send(t, id, o, e);
	if (strcmp(sub, "remind") == 0)
		return batch_remind(t, id, o, e);
	if (strcmp(sub, "export") == 0)
		return batch_export(t, id, o, e);
	if (strcmp(sub, "pdf") == 0)
		return batch_pdf(t, id, args[1], args[2], e);
	if (strcmp(sub, "withdraw") == 0)
		return batch_withdraw(t, id, o, e);
	if (strcmp(sub, "unlock") == 0)
		return batch_unlock(t, id, args[1], o, e);
	fprintf(stderr, "tayori: `batch %s` is not built yet\n", sub);
	return EXIT_USAGE;
}

int cmd_batch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "as", required_argument, NULL, 'a' },
		{ "at", required_argument, NULL, 't' },
		{ "paper", no_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch_opts o;
	const char *sub;
	struct cli_tenant t;
	struct error e = { { 0 }, 0 };
	uint64_t id = 0;
	int ch, rc, nargs;

	memset(&o, 0, sizeof(o));
	if (argc < 2)
		return cli_usage("%s", usage);
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		printf("usage: %s\n%s", usage, help);
		return EXIT_DONE;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 'c': o.conf = optarg; break;
		case 'j': o.json = 1; break;
		case 'a': o.as = optarg; break;
		case 't': o.at = optarg; break;
		case 'p': o.paper = 1; break;
		case 'o': o.out = optarg; break;
		case 'h': printf("usage: %s\n%s", usage, help); return EXIT_DONE;
		default: return cli_usage("%s", usage);
		}
	}
	nargs = argc - optind;
	if (arity(sub) < 0 || nargs != arity(sub))
		return cli_usage("%s", usage);
	if (nargs >= 1 && parse_id(argv[optind], &id) < 0)
		return cli_usage("a batch ID is a positive number");
	if (cli_tenant_open(o.dir, o.conf, 1, &t, &e) < 0)
		return cli_fail(&e);
	rc = run(&t, sub, id, argv + optind, &o, &e);
	if (rc < 0)
		rc = cli_fail(&e);
	cli_tenant_close(&t);
	return rc;
}
