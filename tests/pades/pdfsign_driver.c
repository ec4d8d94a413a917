/*
 * tests/pades/pdfsign_driver.c — a stand-in for `tayori pdf sign|verify`
 * used by tests/integration/pdf_sign.sh until cmd/main.c wires the
 * subcommands in.  Runs as a test tool only.
 *
 * usage: pdfsign_driver pdf (sign|verify) ARGS...
 */
#include <stdio.h>
#include <string.h>
#include "gateway/pdf_sign_cli.h"

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "pdf") == 0 && strcmp(argv[2], "sign") == 0)
		return pdf_sign_cli(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "pdf") == 0 && strcmp(argv[2], "verify") == 0)
		return pdf_verify_cli(argc - 2, argv + 2);
	fprintf(stderr, "usage: pdfsign_driver pdf (sign|verify) ...\n");
	return 2;
}
