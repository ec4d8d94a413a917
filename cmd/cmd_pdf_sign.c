/*
 * cmd_pdf_sign.c — `tayori pdf sign` and `tayori pdf verify`.
 * (`tayori pdf` itself, its dispatcher, and `tayori pdf split` are cmd_pdf.c.)
 * Runs in the CLI process: here the credential is opened locally (a
 * PKCS#12 file or a PKCS#11 token), unlike the gateway, which asks the keys
 * process.  Secrets come from an environment variable or a no-echo prompt,
 * never from argv, and are wiped after use.
 *
 * Standards: see pdf/pades.h (ETSI EN 319 142-1) and pdf/tsa.h
 * (RFC 3161).
 */
#include "cmd/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "keys/credential.h"
#include "pdf/pades.h"
#include "pdf/pdf_verify.h"
#include "pdf/signer.h"
#include "pdf/tsa.h"
#include "conf/conf.h"

#define PDF_IN_MAX ((size_t)512 << 20)
#define SECRET_MAX 256
#define LIST_MAX 16

static const char sign_usage[] =
"usage: tayori pdf sign (--p12 FILE [--pass-env VAR] |\n"
"                        --pkcs11-module SO --pkcs11-token LABEL [--pkcs11-key LABEL] [--pin-env VAR])\n"
"                       [--chain PEM] [--tsa URL --tsa-ca PEM] [--level B-B|B-T|B-LT|B-LTA]\n"
"                       [--reason TEXT] [--location TEXT] [--contact TEXT] [--field NAME]\n"
"                       [--crl DER]... [--ocsp DER]... [--no-fetch | --prefer-ocsp] IN.pdf OUT.pdf\n"
"  PAdES baseline signature (ETSI.CAdES.detached, SHA-256) in an incremental update.\n"
"  --pass-env/--pin-env name an environment variable holding the secret;\n"
"  without them the secret is asked for on the terminal.  B-T and above need\n"
"  --tsa (http:// or https://) and --tsa-ca, the CA certificates every time\n"
"  stamp's signer must chain to (with the timeStamping key usage).  B-LT embeds --crl/--ocsp files and, unless --no-fetch,\n"
"  the CRLs named by the certificates' http:// distribution points (with\n"
"  --prefer-ocsp: OCSP responses from their http:// responders where named).\n";

static const char verify_usage[] =
"usage: tayori pdf verify [--json] [--ca PEM] [--tsa-ca PEM | -d DIR | -c CONF] FILE.pdf\n"
"  Checks every signature: what it covers, the signer, the level, whether the\n"
"  file changed since.  --tsa-ca: the time-stamp authorities' anchors (with\n"
"  -d/-c: the tenant's [signing] tsa_ca_file; else time stamps are not checked\n"
"  against a trust anchor).  Exit 0 when all signatures are valid, else 1.\n";

/*
 * Read a secret from the environment variable env (then wiped from the
 * environment) or, when env is NULL, from the terminal without echo.
 */
static int read_secret(const char *env, const char *prompt, char *out, size_t size,
    struct error *e)
{
	if (env != NULL) {
		char *v = getenv(env);
		size_t n;
		if (v == NULL)
			return err_set(e, "environment variable %s is not set", env);
		n = strlen(v);
		if (n >= size)
			return err_set(e, "the secret in %s is too long", env);
		memcpy(out, v, n + 1);
		OPENSSL_cleanse(v, n); /* do not leave it in /proc/self/environ */
		unsetenv(env);
		return 0;
	}
	{
		FILE *tty = fopen("/dev/tty", "r+");
		struct termios old, noecho;
		size_t n;
		int rc = 0;
		if (tty == NULL)
			return err_set(e, "no terminal to ask for the %s; use the -env option", prompt);
		fprintf(tty, "%s: ", prompt);
		fflush(tty);
		if (tcgetattr(fileno(tty), &old) < 0) {
			fclose(tty);
			return err_set(e, "cannot turn off echo on the terminal");
		}
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
		if (fgets(out, (int)size, tty) == NULL)
			rc = err_set(e, "no %s given", prompt);
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fclose(tty);
		if (rc < 0)
			return rc;
		n = strcspn(out, "\r\n");
		out[n] = '\0';
		return 0;
	}
}

static int cred_sign(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *siglen,
    struct error *e)
{
	return credential_sign(ctx, digest, sig, siglen, e);
}

static void cred_free(void *ctx)
{
	struct credential *c = ctx;
	credential_free(&c);
}

/* A struct signer around a credential opened here; takes ownership of *c. */
static struct signer *signer_of(struct credential **c)
{
	struct signer *s = xcalloc(1, sizeof(*s));
	STACK_OF(X509) *chain = credential_chain(*c);
	s->cert = credential_cert(*c);
	X509_up_ref(s->cert);
	s->chain = sk_X509_new_null();
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		X509_up_ref(x);
		sk_X509_push(s->chain, x);
	}
	s->pkey_type = credential_key_type(*c);
	s->sign_digest = cred_sign;
	s->ctx = *c;
	s->free_ctx = cred_free;
	*c = NULL;
	return s;
}

static int exit_for(const struct error *e)
{
	return e->temporary ? 3 : 1;
}

static void load_blob(struct pades_blobs *b, const char *path, int *failed)
{
	uint8_t *d;
	size_t n;
	struct error e;
	if (file_read_all(path, TSA_HTTP_MAX, &d, &n, &e) < 0) {
		fprintf(stderr, "tayori pdf sign: %s\n", e.msg);
		*failed = 1;
		return;
	}
	pades_blobs_add(b, d, n);
	free(d);
}

/* What the command line asks of `tayori pdf sign`. */
struct sign_args {
	const char *p12, *pass_env, *mod, *token, *key, *pin_env, *chain;
	const char *crlf[LIST_MAX], *ocspf[LIST_MAX];
	int ncrl, nocsp, nofetch, prefer_ocsp;
	struct pades_options o;
	const char *in, *out; /* IN.pdf, OUT.pdf */
};

enum { O_P12 = 256, O_PASSENV, O_MOD, O_TOKEN, O_KEY, O_PINENV, O_CHAIN, O_TSA, O_TSACA,
    O_LEVEL, O_REASON, O_LOCATION, O_CONTACT, O_FIELD, O_CRL, O_OCSP, O_NOFETCH, O_PREFER_OCSP, O_HELP };

/* One option of the getopt loop.  0 to go on, or -1 with the exit status in
 * *status (0 after --help). */
static int sign_option(int c, struct sign_args *a, int *status)
{
	struct pades_options *o = &a->o;

	*status = 2;
	switch (c) {
	case 'd': case 'c': break; /* tenant config: not needed to sign a file */
	case O_P12: a->p12 = optarg; break;
	case O_PASSENV: a->pass_env = optarg; break;
	case O_MOD: a->mod = optarg; break;
	case O_TOKEN: a->token = optarg; break;
	case O_KEY: a->key = optarg; break;
	case O_PINENV: a->pin_env = optarg; break;
	case O_CHAIN: a->chain = optarg; break;
	case O_TSA: o->tsa_url = optarg; break;
	case O_TSACA: o->tsa_ca_file = optarg; break;
	case O_LEVEL:
		if (pades_level_parse(optarg, &o->level) < 0) {
			fprintf(stderr, "tayori pdf sign: unknown level %s (B-B, B-T, B-LT, B-LTA)\n", optarg);
			return -1;
		}
		break;
	case O_REASON: o->reason = optarg; break;
	case O_LOCATION: o->location = optarg; break;
	case O_CONTACT: o->contact_info = optarg; break;
	case O_FIELD: o->field_name = optarg; break;
	case O_CRL:
		if (a->ncrl == LIST_MAX) { fprintf(stderr, "tayori pdf sign: too many --crl\n"); return -1; }
		a->crlf[a->ncrl++] = optarg;
		break;
	case O_OCSP:
		if (a->nocsp == LIST_MAX) { fprintf(stderr, "tayori pdf sign: too many --ocsp\n"); return -1; }
		a->ocspf[a->nocsp++] = optarg;
		break;
	case O_NOFETCH: a->nofetch = 1; break;
	case O_PREFER_OCSP: a->prefer_ocsp = 1; break;
	case O_HELP: fputs(sign_usage, stdout); *status = 0; return -1;
	default: fputs(sign_usage, stderr); return -1;
	}
	return 0;
}

/* The command line into *a.  0 to go on, or -1 with the exit status in
 * *status (2 for a usage error, 0 after --help). */
static int sign_parse(int argc, char **argv, struct sign_args *a, int *status)
{
	static const struct option opts[] = {
		{ "p12", required_argument, NULL, O_P12 },
		{ "pass-env", required_argument, NULL, O_PASSENV },
		{ "pkcs11-module", required_argument, NULL, O_MOD },
		{ "pkcs11-token", required_argument, NULL, O_TOKEN },
		{ "pkcs11-key", required_argument, NULL, O_KEY },
		{ "pin-env", required_argument, NULL, O_PINENV },
		{ "chain", required_argument, NULL, O_CHAIN },
		{ "tsa", required_argument, NULL, O_TSA },
		{ "tsa-ca", required_argument, NULL, O_TSACA },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "reason", required_argument, NULL, O_REASON },
		{ "location", required_argument, NULL, O_LOCATION },
		{ "contact", required_argument, NULL, O_CONTACT },
		{ "field", required_argument, NULL, O_FIELD },
		{ "crl", required_argument, NULL, O_CRL },
		{ "ocsp", required_argument, NULL, O_OCSP },
		{ "no-fetch", no_argument, NULL, O_NOFETCH },
		{ "prefer-ocsp", no_argument, NULL, O_PREFER_OCSP },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 0;
	while ((c = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1)
		if (sign_option(c, a, status) < 0)
			return -1;
	*status = 2;
	if (argc - optind != 2 || (a->p12 == NULL) == (a->mod == NULL) ||
	    (a->mod != NULL && a->token == NULL)) {
		fputs(sign_usage, stderr);
		return -1;
	}
	if (a->o.level >= PADES_B_T && a->o.tsa_url == NULL) {
		fprintf(stderr, "tayori pdf sign: level %s needs --tsa URL\n", pades_level_name(a->o.level));
		return -1;
	}
	if (a->o.tsa_url != NULL && a->o.tsa_ca_file == NULL) {
		fprintf(stderr, "tayori pdf sign: --tsa needs --tsa-ca PEM, the CA certificates "
		    "its time stamps must chain to\n");
		return -1;
	}
	a->in = argv[optind];
	a->out = argv[optind + 1];
	return 0;
}

/* The credential the options name, as a signer with the --chain added.
 * 0, or the exit status after saying why on stderr. */
static int sign_open(const struct sign_args *a, struct signer **sp)
{
	struct credential *cred = NULL;
	struct error e = { "", 0 };
	char secret[SECRET_MAX];
	int status = 0;

	memset(secret, 0, sizeof(secret));
	if (a->p12 != NULL) {
		if (read_secret(a->pass_env, "PKCS#12 password", secret, sizeof(secret), &e) < 0 ||
		    credential_open_p12(a->p12, secret, &cred, &e) < 0) {
			fprintf(stderr, "tayori pdf sign: %s\n", e.msg);
			status = 1;
		}
	} else {
		if (read_secret(a->pin_env, "token PIN", secret, sizeof(secret), &e) < 0 ||
		    credential_open_pkcs11(a->mod, a->token, a->key, secret, &cred, &e) < 0) {
			fprintf(stderr, "tayori pdf sign: PKCS#11: %s\n", e.msg);
			status = exit_for(&e);
		}
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	if (status != 0)
		return status;
	*sp = signer_of(&cred);
	if (a->chain != NULL && signer_add_chain_file(*sp, a->chain, &e) < 0) {
		fprintf(stderr, "tayori pdf sign: %s\n", e.msg);
		return 1;
	}
	return 0;
}

int cmd_pdf_sign(int argc, char **argv)
{
	struct sign_args a;
	int status, failed = 0;
	struct pades_blobs crls = { NULL, 0 }, ocsps = { NULL, 0 };
	struct signer *s = NULL;
	struct error e = { "", 0 };
	uint8_t *in = NULL, *out = NULL;
	size_t inlen = 0, outlen = 0;

	if (sign_parse(argc, argv, &a, &status) < 0)
		return status;
	for (int i = 0; i < a.ncrl; i++)
		load_blob(&crls, a.crlf[i], &failed);
	for (int i = 0; i < a.nocsp; i++)
		load_blob(&ocsps, a.ocspf[i], &failed);
	if (failed) {
		status = 1;
		goto out;
	}
	a.o.crls = &crls;
	a.o.ocsps = &ocsps;
	if (!a.nofetch)
		a.o.revocation = a.prefer_ocsp ? pades_fetch_ocsp_or_crls_http : pades_fetch_crls_http;

	if (file_read_all(a.in, PDF_IN_MAX, &in, &inlen, &e) < 0) {
		fprintf(stderr, "tayori pdf sign: %s\n", e.msg);
		status = 1;
		goto out;
	}
	status = sign_open(&a, &s);
	if (status != 0)
		goto out;
	if (pades_sign(in, inlen, s, &a.o, &out, &outlen, &e) < 0) {
		fprintf(stderr, "tayori pdf sign: %s: %s\n", a.in, e.msg);
		status = exit_for(&e);
		goto out;
	}
	if (file_write_atomic(a.out, out, outlen, 0644, &e) < 0) {
		fprintf(stderr, "tayori pdf sign: %s\n", e.msg);
		status = 3;
		goto out;
	}
	status = 0;
out:
	signer_free(&s);
	pades_blobs_free(&crls);
	pades_blobs_free(&ocsps);
	free(in);
	free(out);
	return status;
}

int cmd_pdf_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "ca", required_argument, NULL, 'a' },
		{ "tsa-ca", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pdf_verify_options o = { NULL, NULL };
	const char *dir = NULL, *conf_file_arg = NULL;
	struct conf *conf = NULL;
	char cpath[4096], tsaca[4096];
	struct pdf_verify_report r;
	struct error e = { "", 0 };
	int json = 0, c, status;
	uint8_t *in = NULL;
	size_t inlen = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'c': conf_file_arg = optarg; break;
		case 'j': json = 1; break;
		case 'a': o.ca_file = optarg; break;
		case 't': o.tsa_ca_file = optarg; break;
		case 'h': fputs(verify_usage, stdout); return 0;
		default: fputs(verify_usage, stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		fputs(verify_usage, stderr);
		return 2;
	}
	if (o.tsa_ca_file == NULL && (dir != NULL || conf_file_arg != NULL)) {
		/* The tenant's TSA anchors, as its gateway checks them. */
		if (str_fmt(cpath, sizeof(cpath), "%s%s", conf_file_arg ? conf_file_arg : dir,
		    conf_file_arg ? "" : "/tayori.conf") < 0 || conf_load(cpath, &conf, &e) < 0) {
			fprintf(stderr, "tayori pdf verify: %s\n", e.msg[0] ? e.msg : "path too long");
			return 1;
		}
		if (conf_path(conf, "signing", "tsa_ca_file", tsaca, sizeof(tsaca)) == 0 && tsaca[0] != '\0')
			o.tsa_ca_file = tsaca;
		conf_free(&conf);
	}
	if (file_read_all(argv[optind], PDF_IN_MAX, &in, &inlen, &e) < 0 ||
	    pdf_verify_mem(in, inlen, &o, &r, &e) < 0) {
		if (json) {
			/* The shared writer: a file name may hold any byte,
			 * controls included, and must still make valid JSON. */
			fputc('{', stdout);
			json_member(stdout, "file", 1);
			json_fputs(stdout, argv[optind]);
			json_member(stdout, "valid", 0);
			fputs("false", stdout);
			json_member(stdout, "error", 0);
			json_fputs(stdout, e.msg);
			fputs("}\n", stdout);
		}
		fprintf(stderr, "tayori pdf verify: %s: %s\n", argv[optind], e.msg);
		free(in);
		return e.temporary ? 3 : 1;
	}
	if (json)
		pdf_verify_print_json(stdout, argv[optind], &r);
	else
		pdf_verify_print_text(stdout, argv[optind], &r);
	status = r.valid ? 0 : 1;
	pdf_verify_report_free(&r);
	free(in);
	return status;
}
