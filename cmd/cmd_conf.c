/*
 * cmd_conf.c — `tayori conf check` and `tayori -n`: load the configuration
 * and report every problem with its line, exiting 1 when there is one.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "conf/conf.h"
#include "cmd/cli.h"

int cmd_conf(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *conf = NULL;
	char path[4096];
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };
	int ch;

	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return cli_usage("tayori conf check [-d DIR | -c CONF]");
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		if (ch == 'd')
			dir = optarg;
		else if (ch == 'c')
			conf = optarg;
		else
			return cli_usage("tayori conf check [-d DIR | -c CONF]");
	}
	if (optind != argc)
		return cli_usage("tayori conf check [-d DIR | -c CONF]");
	if (cli_conf_path(dir, conf, path, sizeof(path)) < 0)
		return cli_usage("path too long");
	if (conf_load(path, &c, &e) < 0) {
		fprintf(stderr, "tayori: %s\n", e.msg);
		return EXIT_REFUSED;
	}
	printf("%s: configuration ok\n", path);
	conf_free(&c);
	return EXIT_DONE;
}
