/*
 * cmd_submit.c — `tayori submit [--json] PATH...`: a batch from a folder or
 * loose files, read as intake reads them, matched, signed through a private
 * keys process and stored; prints the matching report.  The administrator's
 * tool on the server: the sender is not checked against registered staff.
 *
 * A folder (or the files given) holds one recipients CSV, the PDFs, and
 * optionally message.txt (or 本文.txt): settings lines and the message to
 * residents.  Anything else travels as an extra attachment.  File names are
 * used to match and to show, never as paths to write.
 *
 * Exactly once, as intake: an input already taken (the same SHA-256
 * identity intake uses: an .eml's bytes, a folder's files) is refused as
 * "already taken as batch N" unless --again is given.
 */
#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/audit.h"
#include "cmd/cli.h"
#include "conf/conf.h"
#include "lib/crypt.h"
#include "gateway/batch.h"
#include "gateway/folder.h"
#include "gateway/keys_signer.h"
#include "gateway/mime.h"
#include "gateway/settings.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "lib/text.h"

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && g_ascii_strcasecmp(s + n - m, suffix) == 0;
}

/* An .eml file, read as intake reads a message (the sender is not checked:
 * this is the administrator's tool). */
static int add_eml(struct batch_files *f, const char *path, const struct mime_limits *lim,
		   size_t *total, uint8_t id[32], struct error *e)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct mime_message *m = NULL;
	struct error pe = { { 0 }, 0 };
	struct stat st;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = -1;

	if (stat(path, &st) == 0 && (uint64_t)st.st_size > lim->max_message)
		return err_set(e, "%s: the message is %lld bytes; the limit is %zu bytes ([limits] message_size)",
			       base, (long long)st.st_size, lim->max_message);
	if (file_read_all(path, lim->max_message, &data, &len, e) < 0)
		return -1;
	if (len > lim->max_message - *total) {
		err_set(e, "the batch is larger than the limit of %zu bytes ([limits] message_size)",
			lim->max_message);
		goto out;
	}
	*total += len;
	crypt_sha256(data, len, id); /* intake_message()'s identity of a message */
	if (mime_parse(data, len, lim, &m, &pe) < 0) {
		err_set(e, "%s: %s", base, pe.msg);
		goto out;
	}
	if (batch_files_add_mime(f, m, &pe) < 0) {
		err_set(e, "%s: %s", base, pe.msg);
		goto out;
	}
	rc = 0;
out:
	mime_message_free(&m);
	free(data);
	return rc;
}

/* Read every path into f, and the input's identity into id: one .eml
 * counts as intake counts a message, anything else as a dropped folder. */
static int collect(char **paths, int n, const struct mime_limits *lim, struct batch_files *f,
		   uint8_t id[32], struct error *e)
{
	size_t total = 0;
	int eml = 0;
	for (int i = 0; i < n; i++) {
		struct stat st;
		int r;
		if (stat(paths[i], &st) < 0)
			return err_set(e, "%s: no such file or folder", paths[i]);
		if (S_ISDIR(st.st_mode))
			r = batch_files_add_folder(f, paths[i], lim->max_message, &total, e);
		else if (has_suffix(paths[i], ".eml")) {
			eml++;
			r = add_eml(f, paths[i], lim, &total, id, e);
		} else
			r = batch_files_add_file(f, paths[i], lim->max_message, &total, e);
		if (r < 0)
			return -1;
	}
	if (!(n == 1 && eml == 1))
		batch_files_identity(f, id);
	return 0;
}

/* Has this input made a batch?  1 with *batch, 0 when not (or when it
 * was only refused or dropped before), -1 on a store failure. */
static int taken_as(struct store *st, const uint8_t id[32], uint64_t *batch, struct error *e)
{
	struct store_txn *t = NULL;
	const void *v;
	size_t vl;
	int r;

	*batch = 0;
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_INTAKE, id, 32, &v, &vl, e);
	if (r == 0 && vl == 8)
		*batch = be64_get(v);
	store_abort(&t);
	return r < 0 ? -1 : *batch != 0;
}

/* The address of the staff account whose login runs the command ("" when
 * none, or disabled): stored with the batch, a test batch goes there. */
static const char *submitter_of(struct store *st)
{
	static char out[STAFF_EMAIL_MAX + 1];
	struct staff s;
	struct error e = { { 0 }, 0 };
	const char *actor = cli_actor();

	out[0] = '\0';
	if (strncmp(actor, "cli:", 4) == 0 && staff_find_login(st, actor + 4, &s, &e) == 0 &&
	    !s.disabled)
		str_copy(out, s.email, sizeof(out));
	secure_wipe(&s, sizeof(s));
	return out;
}

int cmd_submit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "title", required_argument, NULL, 't' },
		{ "test", no_argument, NULL, 'T' },
		{ "again", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"tayori submit [-d DIR | -c CONF] [--json] [--dry-run] [--title TITLE] [--test] [--again] PATH...";
	const char *dir = NULL, *conf = NULL, *title_opt = NULL;
	struct batch_files files;
	struct mime_limits lim;
	struct batch_settings set;
	struct batch_input in;
	struct batch_report rep;
	struct cli_tenant t;
	struct signer *signer = NULL;
	struct error e = { { 0 }, 0 };
	int json = 0, dry = 0, test = 0, again = 0, ch, rc = EXIT_DONE, tenant_open = 0;
	size_t swept = 0;
	uint8_t id[32];
	uint64_t prior = 0;

	memset(&set, 0, sizeof(set));
	memset(&rep, 0, sizeof(rep));
	memset(&files, 0, sizeof(files));
	while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = 1; break;
		case 'n': dry = 1; break;
		case 't': title_opt = optarg; break;
		case 'T': test = 1; break;
		case 'a': again = 1; break;
		case 'h': printf("usage: %s\n", usage); return EXIT_DONE;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind >= argc)
		return cli_usage("%s", usage);
	if (title_opt != NULL) {
		struct text_problem tp;
		if (text_check(title_opt, TEXT_LINE, TEXT_TITLE_MAX, &tp) < 0) {
			err_set(&e, "--title: %s", tp.what);
			goto fail;
		}
	}
	if (cli_tenant_open(dir, conf, CLI_TENANT_SIGN, &t, &e) < 0)
		goto fail;
	tenant_open = 1;
	lim.max_message = (size_t)conf_int(t.conf, "limits", "message_size");
	lim.max_attachments = (size_t)conf_int(t.conf, "limits", "attachments");
	lim.max_depth = (size_t)conf_int(t.conf, "limits", "mime_depth");
	lim.max_parts = (size_t)conf_int(t.conf, "limits", "mime_parts");
	if (collect(argv + optind, argc - optind, &lim, &files, id, &e) < 0)
		goto fail;
	if (files.ncsv != 1) {
		err_set(&e, files.ncsv == 0 ? "the batch has no recipients CSV (a .csv file)"
					    : "the batch has %zu CSV files; give exactly one", files.ncsv);
		goto fail;
	}
	if (settings_parse(files.message ? files.message : "", &set, &e) < 0)
		goto fail;
	set.test = set.test || test;
	batch_files_input(&in, &files, &set, t.conf, title_opt, cli_actor(), "cli");
	in.submitter = submitter_of(t.st);
	in.dry_run = dry;
	/* --again makes a new batch and leaves the identity with the first. */
	in.intake_id = again ? NULL : id;
	if (batch_sweep(t.st, &swept, &e) < 0)
		goto fail;
	if (!again) {
		int r = taken_as(t.st, id, &prior, &e);
		if (r < 0)
			goto fail;
		if (r == 1)
			goto duplicate;
	}
	if (!dry && keys_signer_new(t.kc, &signer, &e) < 0)
		goto fail;
	if (batch_submit(t.st, signer, &in, &rep, &e) < 0) {
		struct error te = { { 0 }, 0 };
		/* Taken by another submission of the same input meanwhile? */
		if (e.temporary && !again && taken_as(t.st, id, &prior, &te) == 1)
			goto duplicate;
		goto fail;
	}
	if (json)
		batch_report_json(&rep, stdout);
	else
		batch_report_text(&rep, stdout);
	goto out;
duplicate:
	err_set(&e, "%s: already taken as batch %llu (use --again to submit it again)",
		argc - optind == 1 ? argv[optind] : "these files", (unsigned long long)prior);
	batch_report_free(&rep);
	memset(&rep, 0, sizeof(rep));
	rep.duplicate_of = prior;
fail:
	if (json) {
		str_copy(rep.error, e.msg, sizeof(rep.error));
		str_copy(rep.status, e.temporary ? "error" : "refused", sizeof(rep.status));
		batch_report_json(&rep, stdout);
	}
	rc = cli_fail(&e);
out:
	signer_free(&signer);
	batch_report_free(&rep);
	settings_free(&set);
	batch_files_free(&files);
	if (tenant_open)
		cli_tenant_close(&t);
	return rc;
}
