/*
 * main.c — the `tayori` command: dispatches subcommands (DESIGN.md's stable
 * interface).
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"
#include "cmd/cli.h"
#include "lib/log.h"

static const char usage_text[] =
	"tayori — online notice gateway (オンライン通知)\n"
	"\n"
	"usage: tayori COMMAND [-d DIR | -c CONF] [OPTIONS]\n"
	"\n"
	"  init   [-d DIR] [--demo] [--name NAME]   new tenant data dir, keys, first admin\n"
	"  run    [-c CONF]                         every role in the foreground\n"
	"  submit [-c CONF] [--json] [--again] PATH...  a batch from a folder, .eml or files;\n"
	"                                           --again: even if that input made a batch before\n"
	"  batch  list | show ID [--json] | pdf ID KEY OUT.pdf\n"
	"  batch  approve ID --as LOGIN                an approver other than the submitter\n"
	"                                           ([policy] four_eyes); audited\n"
	"  batch  send ID [--at 'YYYY-MM-DD HH:MM']     start sending an approved batch (Japan time)\n"
	"  batch  remind ID                         remind residents who have not opened theirs\n"
	"  batch  export ID [-o OUT]                every resident's state as CSV\n"
	"  batch  export ID --paper [-o OUT]        the paper list: OUT.csv and OUT.pdf (merged\n"
	"                                           notices to print); see tayori batch --help\n"
	"  batch  withdraw ID --as LOGIN            call a batch back: its links and codes open\n"
	"                                           nothing, the mailer stops; audited\n"
	"  batch  unlock ID KEY --as LOGIN          let a locked-out resident try again; audited\n"
	"  user   add | passwd | role | disable | enable | list\n"
	"  intake rejected list [--json] | rejected show ID OUTDIR   refused inputs kept sealed\n"
	"  pdf    split (--pages N | --key REGEX | --auto KEYS.csv) IN.pdf OUTDIR\n"
	"  pdf    sign --p12 FILE [--pass-env VAR] [--tsa URL --tsa-ca PEM] [--level B-B|B-T|B-LT|B-LTA] IN.pdf OUT.pdf\n"
	"  pdf    verify [--ca PEM] [--tsa-ca PEM] FILE.pdf\n"
	"  bounce parse [--json] FILE...            is each file a bounce, for whom, which status\n"
	"                                           and kind, and whether its return path's MAC holds\n"
	"  dkim   record                            the DNS TXT record of the DKIM key ([mail] dkim_selector)\n"
	"  report [--mail] [--json]                 each batch out: sent, opened, downloaded,\n"
	"                                           bounced, reminders due, paper list (counts\n"
	"                                           only); --mail queues it to the admins\n"
	"  audit  verify | show [--from N] [--limit N] [--json]\n"
	"  conf   check                             validate the configuration (also: tayori -n)\n"
	"\n"
	"Every command takes -d DIR (a tenant's data directory, default ./var) or -c CONF.\n"
	"Exit status: 0 done, 1 input refused, 2 usage, 3 temporary or internal failure.\n"
	"See tayori(1) and tayori.conf(5).\n";

int main(int argc, char **argv)
{
	const char *cmd;

	log_init("cli", 0, LOG_LVL_WARN);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_DONE;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("tayori %s\n", TAYORI_VERSION);
		return EXIT_DONE;
	}
	/* `tayori -n [-c CONF | -d DIR]`: the config check, as in nginx and sshd. */
	if (strcmp(cmd, "-n") == 0) {
		argv[1] = "check";
		return cmd_conf(argc, argv);
	}
	if (strcmp(cmd, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(argc - 1, argv + 1);
	if (strcmp(cmd, "conf") == 0)
		return cmd_conf(argc - 1, argv + 1);
	if (strcmp(cmd, "pdf") == 0)
		return cmd_pdf(argc - 1, argv + 1);
	if (strcmp(cmd, "submit") == 0)
		return cmd_submit(argc - 1, argv + 1);
	if (strcmp(cmd, "batch") == 0)
		return cmd_batch(argc - 1, argv + 1);
	if (strcmp(cmd, "intake") == 0)
		return cmd_intake(argc - 1, argv + 1);
	if (strcmp(cmd, "bounce") == 0)
		return cmd_bounce(argc - 1, argv + 1);
	if (strcmp(cmd, "dkim") == 0)
		return cmd_dkim(argc - 1, argv + 1);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	fprintf(stderr, "tayori: unknown command \"%s\" (see tayori --help)\n", cmd);
	return EXIT_USAGE;
}
