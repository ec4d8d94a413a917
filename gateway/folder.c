/*
 * folder.c — reading a batch's files (see folder.h).
 */
#include "gateway/folder.h"

#include <dirent.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "gateway/mime.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_decode.h"

static void push(struct batch_file **v, size_t *n, size_t *cap, const char *name, uint8_t *data,
		 size_t len)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].name = xstrdup(name);
	(*v)[*n].data = data;
	(*v)[*n].len = len;
	(*n)++;
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

void batch_files_add_bytes(struct batch_files *f, const char *name, uint8_t *data, size_t len)
{
	if (is_message_file(name) && g_utf8_validate((const char *)data, (gssize)len, NULL) &&
	    memchr(data, '\0', len) == NULL) {
		free(f->message);
		f->message = (char *)data; /* file_read_all and mime leave a NUL after the bytes */
		return;
	}
	if (has_suffix(name, ".csv"))
		push(&f->csv, &f->ncsv, &f->capcsv, name, data, len);
	else if (has_suffix(name, ".pdf") || pdf_sniff(data, len) == NULL)
		push(&f->pdfs, &f->npdfs, &f->cappdfs, name, data, len);
	else
		push(&f->extras, &f->nextras, &f->capextras, name, data, len);
}

int batch_files_add_file(struct batch_files *f, const char *path, size_t max, size_t *total,
			 struct error *e)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint8_t *data = NULL;
	size_t len = 0;

	if (base[0] == '.')
		return 0; /* editors' and file managers' hidden files */
	if (file_read_all(path, max, &data, &len, e) < 0)
		return -1;
	if (len > max - *total) {
		free(data);
		return err_set(e, "the batch is larger than the limit of %zu bytes ([limits] message_size)",
			       max);
	}
	*total += len;
	if (is_message_file(base) && !g_utf8_validate((const char *)data, (gssize)len, NULL)) {
		free(data);
		return err_set(e, "%s: the message must be UTF-8 text", base);
	}
	batch_files_add_bytes(f, base, data, len);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int batch_files_add_folder(struct batch_files *f, const char *path, size_t max, size_t *total,
			   struct error *e)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0, cap = 0;
	int ret = 0;
	char *base, *copy;

	if (d == NULL)
		return err_set(e, "%s: cannot open the folder", path);
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
	for (size_t j = 0; j < nn && ret == 0; j++) {
		char p[4096];
		struct stat st;
		if (str_fmt(p, sizeof(p), "%s/%s", path, names[j]) < 0)
			ret = err_set(e, "%s: path too long", names[j]);
		else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			ret = batch_files_add_file(f, p, max, total, e);
	}
	for (size_t k = 0; k < nn; k++)
		free(names[k]);
	free(names);
	if (f->title[0] == '\0') {
		copy = xstrdup(path);
		while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
			copy[strlen(copy) - 1] = '\0';
		base = strrchr(copy, '/');
		str_copy(f->title, base ? base + 1 : copy, sizeof(f->title));
		free(copy);
	}
	return ret;
}

int batch_files_add_mime(struct batch_files *f, struct mime_message *m, struct error *e)
{
	size_t docs = f->ncsv + f->npdfs;
	for (size_t i = 0; i < m->natt; i++) {
		struct mime_attachment *a = &m->att[i];
		char name[300];
		/* a part without a name still needs one to show */
		if (a->filename != NULL)
			str_copy(name, a->filename, sizeof(name));
		else
			str_fmt(name, sizeof(name), "attachment-%zu%s", i + 1,
				strcmp(a->content_type, "text/csv") == 0 ? ".csv" : "");
		/* a message.txt attachment is not the body of a mail: keep it as a file */
		if (has_suffix(name, ".csv"))
			push(&f->csv, &f->ncsv, &f->capcsv, name, a->data, a->len);
		else if (has_suffix(name, ".pdf") || pdf_sniff(a->data, a->len) == NULL)
			push(&f->pdfs, &f->npdfs, &f->cappdfs, name, a->data, a->len);
		else
			push(&f->extras, &f->nextras, &f->capextras, name, a->data, a->len);
		a->data = NULL; /* the batch's files own the bytes now */
	}
	if (m->has_tnef && f->ncsv + f->npdfs == docs)
		return err_set(e, "the attachments came inside an Outlook winmail.dat (Rich Text/TNEF), "
				  "which tayori cannot read; send the mail again in HTML or plain text format "
				  "with the CSV and the PDFs as ordinary attachments "
				  "(添付が winmail.dat になっています。書式を HTML かテキストにして再送してください)");
	if (f->message == NULL)
		f->message = xstrdup(m->body);
	if (f->title[0] == '\0' && m->subject_problem[0] != '\0')
		return err_set(e, "the Subject (the notice title): %s", m->subject_problem);
	if (f->title[0] == '\0' && m->subject[0] != '\0') {
		const gchar *end = NULL;
		str_copy(f->title, m->subject, sizeof(f->title));
		(void)g_utf8_validate(f->title, -1, &end); /* not half a character */
		f->title[end - f->title] = '\0';
	}
	return 0;
}

void batch_files_identity(const struct batch_files *f, uint8_t id[32])
{
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	gsize idlen = 32;
	for (int pass = 0; pass < 3; pass++) {
		const struct batch_file *v = pass == 0 ? f->csv : pass == 1 ? f->pdfs : f->extras;
		size_t n = pass == 0 ? f->ncsv : pass == 1 ? f->npdfs : f->nextras;
		for (size_t i = 0; i < n; i++) {
			g_checksum_update(sum, (const guchar *)v[i].name, (gssize)strlen(v[i].name) + 1);
			g_checksum_update(sum, v[i].data, (gssize)v[i].len);
		}
	}
	if (f->message != NULL)
		g_checksum_update(sum, (const guchar *)f->message, -1);
	g_checksum_get_digest(sum, id, &idlen);
	g_checksum_free(sum);
}

static void free_list(struct batch_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].data);
	}
	free(v);
}

void batch_files_free(struct batch_files *f)
{
	free_list(f->csv, f->ncsv);
	free_list(f->pdfs, f->npdfs);
	free_list(f->extras, f->nextras);
	free(f->message);
	memset(f, 0, sizeof(*f));
}

void batch_files_input(struct batch_input *bi, const struct batch_files *f,
		       const struct batch_settings *set, const struct conf *c, const char *title,
		       const char *actor, const char *from)
{
	memset(bi, 0, sizeof(*bi));
	bi->set = set;
	bi->title = set->title ? set->title : title ? title : f->title[0] ? f->title : "お知らせ";
	bi->csv = f->csv[0];
	bi->pdfs = f->pdfs;
	bi->npdfs = f->npdfs;
	bi->extras = f->extras;
	bi->nextras = f->nextras;
	bi->actor = actor;
	bi->from = from;
	bi->level = (enum pades_level)conf_int(c, "signing", "level");
	bi->tsa_url = conf_str(c, "signing", "tsa_url");
	if (conf_path(c, "signing", "tsa_ca_file", bi->tsa_ca_file, sizeof(bi->tsa_ca_file)) < 0)
		bi->tsa_ca_file[0] = '\0'; /* refused when a time stamp is asked for */
	bi->csv_max_rows = (size_t)conf_int(c, "limits", "csv_rows");
	bi->max_pages = (int)conf_int(c, "limits", "pdf_pages");
	{
		/* Every PDF reader of this process decodes within these. */
		struct pdf_limits lim = {
			(size_t)conf_int(c, "limits", "pdf_stream_max"),
			(size_t)conf_int(c, "limits", "pdf_page_decoded"),
			(size_t)conf_int(c, "limits", "pdf_decoded"),
		};
		pdf_limits_set(&lim);
	}
}
