/*
 * cmd_audit.c — `tayori audit verify` (walk the MAC chain; exit 1 when it
 * is broken, naming the record) and `tayori audit show`.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lib/audit.h"
#include "cmd/cli.h"

int cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"tayori audit verify | show [--from N] [--limit N] [--json]  [-d DIR | -c CONF]";
	const char *dir = NULL, *conf = NULL;
	int64_t from = 1, limit = INT64_MAX;
	struct cli_tenant t;
	struct error e = { { 0 }, 0 };
	uint64_t count = 0;
	int json = 0, ch, rc = EXIT_DONE;

	if (argc < 2 || (strcmp(argv[1], "verify") != 0 && strcmp(argv[1], "show") != 0))
		return cli_usage("%s", usage);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'f':
			if (parse_int64(optarg, 1, INT64_MAX, &from) < 0)
				return cli_usage("--from takes a record number");
			break;
		case 'l':
			if (parse_int64(optarg, 1, INT64_MAX, &limit) < 0)
				return cli_usage("--limit takes a positive number");
			break;
		case 'j': json = 1; break;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind != argc)
		return cli_usage("%s", usage);
	if (cli_tenant_open(dir, conf, 1, &t, &e) < 0)
		return cli_fail(&e);
	if (strcmp(argv[1], "verify") == 0) {
		if (audit_verify(t.st, &count, &e) < 0) {
			if (json) {
				printf("{\"intact\":false,\"error\":");
				cli_json_str(e.msg);
				printf("}\n");
			}
			fprintf(stderr, "tayori: %s\n", e.msg);
			rc = e.temporary ? EXIT_TEMP : EXIT_REFUSED;
		} else if (json) {
			printf("{\"intact\":true,\"records\":%llu}\n", (unsigned long long)count);
		} else {
			printf("audit log intact: %llu records\n", (unsigned long long)count);
		}
	} else if (audit_print(t.st, (uint64_t)from, (uint64_t)limit, json, stdout, &e) < 0) {
		rc = cli_fail(&e);
	}
	cli_tenant_close(&t);
	return rc;
}
