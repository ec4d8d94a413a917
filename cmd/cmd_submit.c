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
 */
#include <dirent.h>
#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "cli.h"
#include "conf.h"
#include "gateway/batch.h"
#include "gateway/keys_signer.h"
#include "gateway/mime.h"
#include "gateway/pdf_check.h"
#include "gateway/settings.h"
#include "store.h"

struct files {
	struct batch_file *v;
	size_t n, cap;
};

static void files_add(struct files *f, const char *name, uint8_t *data, size_t len)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	f->v[f->n].name = xstrdup(name);
	f->v[f->n].data = data;
	f->v[f->n].len = len;
	f->n++;
}

static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].data);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && g_ascii_strcasecmp(s + n - m, suffix) == 0;
}

static int is_message_file(const char *base)
{
	return g_ascii_strcasecmp(base, "message.txt") == 0 || strcmp(base, "本文.txt") == 0 ||
	       strcmp(base, "メッセージ.txt") == 0 || g_ascii_strcasecmp(base, "settings.txt") == 0;
}

/* Read one path (a file) into the right pile. */
static int take_file(const char *path, size_t max, size_t *total, struct files *csv,
		     struct files *pdfs, struct files *extras, char **message, struct error *e)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint8_t *data = NULL;
	size_t len = 0;

	if (base[0] == '.')
		return 0; /* editors' and file managers' hidden files */
	if (file_read_all(path, max, &data, &len, e) < 0)
		return -1;
	*total += len;
	if (*total > max) {
		free(data);
		return err_set(e, "the batch is larger than the limit of %zu bytes ([limits] message_size)",
			       max);
	}
	if (is_message_file(base)) {
		free(*message);
		*message = (char *)data;
		if (!g_utf8_validate(*message, (gssize)len, NULL))
			return err_set(e, "%s: the message must be UTF-8 text", base);
		return 0;
	}
	if (has_suffix(base, ".csv"))
		files_add(csv, base, data, len);
	else if (has_suffix(base, ".pdf") || pdf_sniff(data, len) == NULL)
		files_add(pdfs, base, data, len);
	else
		files_add(extras, base, data, len);
	return 0;
}

/*
 * An .eml file, read as intake reads a mail (gateway/mime.c): the subject
 * is the title (unless one is set already), the body the message with its
 * settings lines, the attachments sorted like a folder's files.  The sender
 * is not checked (the administrator's tool).  [limits] attachments and
 * mime_depth are not passed down to collect(): their defaults apply.
 */
static int take_eml(const char *path, size_t max, size_t *total, struct files *csv,
		    struct files *pdfs, struct files *extras, char **message, char *title,
		    size_t titlesize, struct error *e)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct mime_limits lim = { max, MIME_DEFAULT_MAX_ATTACHMENTS, MIME_DEFAULT_MAX_DEPTH };
	struct mime_message *m = NULL;
	struct error pe = { { 0 }, 0 };
	struct stat st;
	uint8_t *data = NULL;
	size_t len = 0, docs = 0;
	int rc = -1;

	if (stat(path, &st) == 0 && (uint64_t)st.st_size > max)
		return err_set(e, "%s: the message is %lld bytes; the limit is %zu bytes ([limits] message_size)",
			       base, (long long)st.st_size, max);
	if (file_read_all(path, max, &data, &len, e) < 0)
		return -1;
	*total += len;
	if (*total > max) {
		err_set(e, "the batch is larger than the limit of %zu bytes ([limits] message_size)", max);
		goto out;
	}
	if (mime_parse(data, len, &lim, &m, &pe) < 0) {
		err_set(e, "%s: %s", base, pe.msg);
		goto out;
	}
	for (size_t i = 0; i < m->natt; i++) {
		struct mime_attachment *a = &m->att[i];
		char name[300];
		/* a part without a name still needs one to show */
		if (a->filename != NULL)
			str_copy(name, a->filename, sizeof(name));
		else
			str_fmt(name, sizeof(name), "attachment-%zu%s", i + 1,
				strcmp(a->content_type, "text/csv") == 0 ? ".csv" : "");
		if (has_suffix(name, ".csv")) {
			files_add(csv, name, a->data, a->len);
			docs++;
		} else if (has_suffix(name, ".pdf") || pdf_sniff(a->data, a->len) == NULL) {
			files_add(pdfs, name, a->data, a->len);
			docs++;
		} else {
			files_add(extras, name, a->data, a->len);
		}
		a->data = NULL; /* the pile owns it now */
	}
	if (m->has_tnef && docs == 0) {
		err_set(e, "%s: the attachments came inside an Outlook winmail.dat (Rich Text/TNEF), "
			   "which tayori cannot read; send the mail again in HTML or plain text format "
			   "with the CSV and the PDFs as ordinary attachments", base);
		goto out;
	}
	if (*message == NULL)
		*message = xstrdup(m->body);
	if (title[0] == '\0' && m->subject[0] != '\0') {
		const gchar *end = NULL;
		str_copy(title, m->subject, titlesize);
		(void)g_utf8_validate(title, -1, &end); /* not half a character */
		title[end - title] = '\0';
	}
	rc = 0;
out:
	mime_message_free(&m);
	free(data);
	return rc;
}

static int collect(char **paths, int n, size_t max, struct files *csv, struct files *pdfs,
		   struct files *extras, char **message, char *title, size_t titlesize, struct error *e)
{
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (stat(paths[i], &st) < 0)
			return err_set(e, "%s: no such file or folder", paths[i]);
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(paths[i]);
			struct dirent *de;
			char **names = NULL;
			size_t nn = 0, cap = 0;
			const char *b;
			if (d == NULL)
				return err_set(e, "%s: cannot open the folder", paths[i]);
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				if (nn == cap) {
					cap = cap ? 2 * cap : 32;
					names = xrealloc(names, cap * sizeof(*names));
				}
				names[nn++] = xstrdup(de->d_name);
			}
			closedir(d);
			qsort(names, nn, sizeof(*names), name_cmp);
			for (size_t j = 0; j < nn; j++) {
				char p[4096];
				struct stat fst;
				int r = 0;
				if (str_fmt(p, sizeof(p), "%s/%s", paths[i], names[j]) < 0)
					r = err_set(e, "%s: path too long", names[j]);
				else if (lstat(p, &fst) == 0 && S_ISREG(fst.st_mode))
					r = take_file(p, max, &total, csv, pdfs, extras, message, e);
				if (r < 0) {
					for (size_t k = 0; k < nn; k++)
						free(names[k]);
					free(names);
					return -1;
				}
			}
			for (size_t k = 0; k < nn; k++)
				free(names[k]);
			free(names);
			b = strrchr(paths[i], '/');
			while (b != NULL && b[1] == '\0' && b > paths[i]) {
				/* "dir/" : take the component before the slash */
				const char *q = b - 1;
				while (q > paths[i] && *q != '/')
					q--;
				b = q;
			}
			if (title[0] == '\0') {
				const char *s = b != NULL && *b == '/' ? b + 1 : (b ? b : paths[i]);
				str_copy(title, s, titlesize);
				title[strcspn(title, "/")] = '\0';
			}
		} else if (has_suffix(paths[i], ".eml")) {
			if (take_eml(paths[i], max, &total, csv, pdfs, extras, message, title, titlesize, e) < 0)
				return -1;
		} else if (take_file(paths[i], max, &total, csv, pdfs, extras, message, e) < 0) {
			return -1;
		}
	}
	return 0;
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"tayori submit [-d DIR | -c CONF] [--json] [--dry-run] [--title TITLE] [--test] PATH...";
	const char *dir = NULL, *conf = NULL, *title_opt = NULL;
	struct files csv = { 0 }, pdfs = { 0 }, extras = { 0 };
	struct batch_settings set;
	struct batch_input in;
	struct batch_report rep;
	struct cli_tenant t;
	struct signer *signer = NULL;
	struct error e = { { 0 }, 0 };
	char *message = NULL, title[256] = "";
	int json = 0, dry = 0, test = 0, ch, rc = EXIT_DONE, tenant_open = 0;
	size_t swept = 0;

	memset(&set, 0, sizeof(set));
	memset(&rep, 0, sizeof(rep));
	while ((ch = getopt_long(argc, argv, "d:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': conf = optarg; break;
		case 'j': json = 1; break;
		case 'n': dry = 1; break;
		case 't': title_opt = optarg; break;
		case 'T': test = 1; break;
		case 'h': printf("usage: %s\n", usage); return EXIT_DONE;
		default: return cli_usage("%s", usage);
		}
	}
	if (optind >= argc)
		return cli_usage("%s", usage);
	if (cli_tenant_open(dir, conf, 1, &t, &e) < 0)
		goto fail;
	tenant_open = 1;
	if (collect(argv + optind, argc - optind, (size_t)conf_int(t.conf, "limits", "message_size"),
		    &csv, &pdfs, &extras, &message, title, sizeof(title), &e) < 0)
		goto fail;
	if (csv.n != 1) {
		err_set(&e, csv.n == 0 ? "the batch has no recipients CSV (a .csv file)"
				       : "the batch has %zu CSV files; give exactly one", csv.n);
		goto fail;
	}
	if (settings_parse(message ? message : "", &set, &e) < 0)
		goto fail;
	if (test)
		set.test = 1;
	memset(&in, 0, sizeof(in));
	in.set = &set;
	in.title = set.title ? set.title : title_opt ? title_opt : title[0] ? title : "お知らせ";
	in.csv = csv.v[0];
	in.pdfs = pdfs.v;
	in.npdfs = pdfs.n;
	in.extras = extras.v;
	in.nextras = extras.n;
	in.actor = cli_actor();
	in.from = "cli";
	in.level = (enum pades_level)conf_int(t.conf, "signing", "level");
	in.tsa_url = conf_str(t.conf, "signing", "tsa_url");
	in.csv_max_rows = (size_t)conf_int(t.conf, "limits", "csv_rows");
	in.max_pages = (int)conf_int(t.conf, "limits", "pdf_pages");
	in.dry_run = dry;
	if (batch_sweep(t.st, &swept, &e) < 0)
		goto fail;
	if (!dry && keys_signer_new(t.kc, &signer, &e) < 0)
		goto fail;
	if (batch_submit(t.st, signer, &in, &rep, &e) < 0)
		goto fail;
	if (json)
		batch_report_json(&rep, stdout);
	else
		batch_report_text(&rep, stdout);
	goto out;
fail:
	if (json) {
		str_copy(rep.error, e.msg, sizeof(rep.error));
		str_copy(rep.status, "refused", sizeof(rep.status));
		batch_report_json(&rep, stdout);
	}
	rc = cli_fail(&e);
out:
	signer_free(&signer);
	batch_report_free(&rep);
	settings_free(&set);
	free(message);
	files_free(&csv);
	files_free(&pdfs);
	files_free(&extras);
	if (tenant_open)
		cli_tenant_close(&t);
	return rc;
}
