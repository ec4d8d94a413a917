/*
 * pdf_sign_cli.h — `tayori pdf sign` and `tayori pdf verify`.
 * Runs in the CLI process only.
 *
 * Both take argv with argv[0] = the subcommand ("sign" or "verify") and
 * return the process exit status: 0 done (verify: every signature valid),
 * 1 input refused (verify: some signature not valid), 2 usage, 3 temporary
 * or internal failure.
 */
#ifndef TAYORI_PDF_SIGN_CLI_H
#define TAYORI_PDF_SIGN_CLI_H

int pdf_sign_cli(int argc, char **argv);
int pdf_verify_cli(int argc, char **argv);

#endif
