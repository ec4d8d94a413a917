/*
 * cmd_report.c — `tayori report [--mail] [--json]`: the summary of the
 * batches out with residents (lib/report.h: counts and internal ids only),
 * printed, or with --mail queued for the mailer to every enabled admin.
 * Runs in the command-line process of the staff member who calls it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"
#include "lib/report.h"

static const char usage[] = "tayori report [--mail] [--json] [-d DIR | -c CONF]";

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "mail", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *conf = NULL;
	struct report_batch *v = NULL;
	struct cli_tenant t;
	struct error e = { { 0 }, 0 };
	struct buf text;
	size_t n = 0, queued = 0;
	int64_t now = now_utc();
	int json = 0, mail = 0, ch, rc = EXIT_DONE;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = 1; break;
		case 'm': mail = 1; break;
		case 'h':
			printf("usage: %s\n  the summary of each batch approved, sending or sent: "
			       "residents, sent, opened,\n  downloaded, bounced, failed, unopened, "
			       "the next reminder and the paper list\n  (counts and batch ids only); "
			       "--mail queues it for the mailer to every admin\n", usage);
			return EXIT_DONE;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind != argc || (mail && json))
		return cli_usage("%s", usage);
	if (cli_tenant_open(dir, conf, 1, &t, &e) < 0)
		return cli_fail(&e);
	buf_init(&text, 4 << 20);
	if (report_build(t.st, now, &v, &n, &e) < 0)
		goto fail;
	if (json)
		report_json(v, n, now, &text);
	else
		report_text(v, n, now, &text);
	if (!mail) {
		fwrite(text.data, 1, text.len, stdout);
		goto out;
	}
	{
		char subject[96], day[32];
		time_format_jst(now, day, sizeof(day));
		day[10] = '\0';
		str_fmt(subject, sizeof(subject), "【便り】送信状況の報告 %s", day);
		if (report_mail_admins(t.st, subject, (const char *)text.data, &queued, &e) < 0)
			goto fail;
	}
	printf("report on %zu batches queued for %zu admins\n", n, queued);
	goto out;
fail:
	rc = cli_fail(&e);
out:
	free(v);
	buf_free(&text);
	cli_tenant_close(&t);
	return rc;
}
