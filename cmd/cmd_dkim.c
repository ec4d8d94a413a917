/*
 * cmd_dkim.c — `tayori dkim record`: the DNS TXT record that publishes the
 * tenant's DKIM public key (RFC 6376 3.6.1) under [mail] dkim_selector and
 * dkim_domain, making the key (keys/dkim.key) first if the tenant has none.
 * Runs in the command-line process; the key is made and read only by keys
 * children (keys_create_dkim, keys_spawn), which hand out the public half.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "cmd/cli.h"
#include "conf/conf.h"
#include "keys/keys.h"
#include "lib/buf.h"
#include "mailer/dkim.h"

/* A TXT record's strings hold at most 255 octets each (RFC 1035 3.3). */
#define TXT_STRING_MAX 255

static void print_record(const char *sel, const char *dom, const char *p64)
{
	char text[2048];
	size_t n;

	str_fmt(text, sizeof(text), "v=DKIM1; k=rsa; p=%s", p64);
	n = strlen(text);
	printf("%s._domainkey.%s. IN TXT", sel, dom);
	for (size_t i = 0; i < n; i += TXT_STRING_MAX)
		printf(" \"%.*s\"", (int)(n - i < TXT_STRING_MAX ? n - i : TXT_STRING_MAX), text + i);
	printf("\n");
}

static int record(const char *dir, const char *conf)
{
	struct cli_tenant t;
	struct error e = { { 0 }, 0 };
	struct buf der;
	char p64[1400];
	const char *sel, *dom;
	int rc = EXIT_TEMP;

	buf_init(&der, 4096);
	if (cli_tenant_open(dir, conf, 0, &t, &e) < 0)
		return cli_fail(&e);
	sel = conf_str(t.conf, "mail", "dkim_selector");
	dom = conf_str(t.conf, "mail", "dkim_domain");
	if (sel == NULL || sel[0] == '\0' || dom == NULL || dom[0] == '\0') {
		err_set(&e, "%s: set [mail] dkim_selector and dkim_domain first", t.conf_path);
		goto fail;
	}
	if (!dkim_name_ok(sel, DKIM_SELECTOR_MAX) || !dkim_name_ok(dom, DKIM_DOMAIN_MAX)) {
		err_set(&e, "%s: [mail] %s is not a DNS name", t.conf_path,
			dkim_name_ok(sel, DKIM_SELECTOR_MAX) ? "dkim_domain" : "dkim_selector");
		goto fail;
	}
	if (keys_create_dkim(t.data_dir, &e) < 0 ||
	    keys_spawn(t.data_dir, NULL, NULL, &t.kc, &t.keys_pid, &e) < 0 ||
	    keys_dkim_pubkey(t.kc, &der, &e) < 0)
		goto fail;
	if (der.len == 0 || der.len > 1024) {
		err_tmp(&e, "the DKIM public key has an unexpected size");
		goto fail;
	}
	EVP_EncodeBlock((unsigned char *)p64, der.data, (int)der.len);
	print_record(sel, dom, p64);
	rc = EXIT_DONE;
	goto out;
fail:
	rc = cli_fail(&e);
out:
	buf_free(&der);
	cli_tenant_close(&t);
	return rc;
}

int cmd_dkim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] = "tayori dkim record [-d DIR | -c CONF]";
	const char *dir = NULL, *conf = NULL;
	int ch;

	if (argc < 2 || strcmp(argv[1], "record") != 0)
		return cli_usage("%s", usage);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind != argc)
		return cli_usage("%s", usage);
	return record(dir, conf);
}
