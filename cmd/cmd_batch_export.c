/*
 * cmd_batch_export.c — `tayori batch export ID [--paper] [-o OUT]`.
 *
 * Without --paper: one row per resident of the batch with the furthest
 * state reached (lib/notice.h notice_statuses), as CSV on standard output
 * or into the new file OUT.
 *
 * With --paper: the paper list — residents with no address (or a row held
 * back), bounced, failed, who declined electronic delivery, or who did not
 * download by the batch's deadline — as OUT.csv, and their signed notices
 * merged into one PDF to print, OUT.pdf, pages in resident order (the CSV
 * says which pages are whose).  OUT defaults to batch-ID-paper in the
 * current folder; a trailing .csv on OUT is dropped.
 *
 * Both CSVs are for spreadsheets and safe against formula injection
 * (lib/export.h makes them, as it does the dashboard's downloads).  Files
 * are made new (never overwritten), mode 0600: they
 * hold residents' names.  Each export is audited (counts, no names).
 * Runs in the command-line process of the staff member who calls it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/cmd_batch_int.h"
#include "lib/batches.h"
#include "lib/export.h"
#include "lib/notice.h"
#include "lib/staff.h"
#include "pdf/pdf_paper.h"

/* A new file (never an existing one), mode 0600. */
static int write_new(const char *path, const void *data, size_t len, struct error *e)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(e, "cannot create %s (it must not exist yet)", path);
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		unlink(path);
		return err_set(e, "cannot write %s", path);
	}
	if (close(fd) < 0) {
		unlink(path);
		return err_set(e, "cannot write %s", path);
	}
	return 0;
}

/* Where the paper list goes: base.csv and base.pdf. */
static void paper_paths(uint64_t id, const char *out, char *csv, char *pdf, size_t size)
{
	char base[4096];
	size_t n;
	if (out == NULL)
		str_fmt(base, sizeof(base), "batch-%llu-paper", (unsigned long long)id);
	else
		str_copy(base, out, sizeof(base));
	n = strlen(base);
	if (n > 4 && strcmp(base + n - 4, ".csv") == 0)
		base[n - 4] = '\0';
	str_fmt(csv, size, "%s.csv", base);
	str_fmt(pdf, size, "%s.pdf", base);
}

int batch_export(struct cli_tenant *t, uint64_t id, const struct batch_opts *o, struct error *e)
{
	struct notice_status *v = NULL;
	struct export_row *rows = NULL;
	struct batch_summary sum;
	struct staff s;
	struct buf csv, pdf;
	char actor[32], csvpath[4200], pdfpath[4200];
	const char *who = cli_actor();
	size_t n = 0, m = 0, npdfs = 0;
	int r, ret = -1;

	buf_init(&csv, EXPORT_CSV_MAX);
	buf_init(&pdf, EXPORT_PDF_MAX);
	if (o->as != NULL) {
		if (batch_as_staff(t, o->as, PERM_EXPORT, "export", &s, actor, sizeof(actor), e) < 0)
			goto out;
		who = actor;
	}
	r = batches_get(t->st, id, &sum, NULL, e);
	if (r != 0) {
		if (r == 1)
			err_set(e, "no batch %llu", (unsigned long long)id);
		goto out;
	}
	if (notice_statuses(t->st, id, now_utc(), &v, &n, e) < 0 ||
	    export_rows(t->st, id, v, n, o->paper, &rows, &m, e) < 0)
		goto out;
	if (!o->paper) {
		export_status_csv(rows, m, &csv);
		if (o->out != NULL ? write_new(o->out, csv.data, csv.len, e) < 0
				   : fwrite(csv.data, 1, csv.len, stdout) != csv.len)
			goto out;
	} else {
		paper_paths(id, o->out, csvpath, pdfpath, sizeof(csvpath));
		if (pdf_paper_merge(rows, m, &pdf, &npdfs, e) < 0)
			goto out;
		export_paper_csv(rows, m, &csv);
		if (write_new(csvpath, csv.data, csv.len, e) < 0)
			goto out;
		if (npdfs > 0 && write_new(pdfpath, pdf.data, pdf.len, e) < 0) {
			unlink(csvpath);
			goto out;
		}
		printf("batch %llu: %zu residents on the paper list: %s", (unsigned long long)id, m,
		       csvpath);
		if (npdfs > 0)
			printf(", %s (%zu notices)", pdfpath, npdfs);
		putchar('\n');
	}
	if (export_audit(t->st, id, who, "cli", o->paper, NULL, m, npdfs, e) < 0)
		goto out;
	ret = 0;
out:
	if (rows != NULL)
		export_rows_free(rows, m);
	free(v);
	buf_wipe(&csv);
	buf_free(&pdf);
	return ret;
}
