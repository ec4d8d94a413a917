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
 * Both CSVs are for spreadsheets: UTF-8 with a byte order mark, CRLF line
 * ends, quoted as RFC 4180 says, and safe against formula injection: a cell
 * that starts with = + - @, a tab or a carriage return gets a leading
 * apostrophe.  Files are made new (never overwritten), mode 0600: they
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
#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "pdf/pdf_merge.h"

#define EXPORT_CSV_MAX ((size_t)256 << 20)
#define EXPORT_PDF_MAX ((size_t)2 << 30)
#define NAME_MAX_BYTES 1024

/* One resident as the export shows it. */
struct row {
	const struct notice_status *s;
	char name[NAME_MAX_BYTES];
	char email[256];
	uint32_t pdf;        /* seq in DB_PDFS, 0: none */
	const char *reason;  /* paper list: why (code) */
	const char *reason_ja;
	struct buf bytes;    /* paper list: the signed PDF */
	size_t first_page, pages;
};

/* One CSV cell: apostrophe before what a spreadsheet would take for a
 * formula, quotes around what needs them (RFC 4180). */
static void cell(struct buf *b, const char *s, int last)
{
	int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
		      s[0] == '\r';
	int quote = strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		buf_append_u8(b, '"');
	if (formula)
		buf_append_u8(b, '\'');
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"')
			buf_append_u8(b, '"');
		buf_append_u8(b, (uint8_t)*p);
	}
	if (quote)
		buf_append_u8(b, '"');
	buf_append_str(b, last ? "\r\n" : ",");
}

static void cell_time(struct buf *b, int64_t t)
{
	char when[32] = "";
	if (t > 0)
		time_format_jst(t, when, sizeof(when));
	cell(b, when, 0);
}

/* The resident's name, address and PDF from the sealed record. */
static int read_resident(struct store_txn *t, uint64_t id, struct row *r, unsigned *flags,
			 struct error *e)
{
	struct buf plain;
	uint8_t k[12];
	int g;

	buf_init(&plain, 1 << 20);
	be64_put(k, id);
	be32_put(k + 8, r->s->seq);
	g = store_get_sealed(t, DB_RESIDENTS, k, sizeof(k), &plain, e);
	if (g == 0) {
		rec_get_str(plain.data, plain.len, RR_NAME, r->name, sizeof(r->name));
		rec_get_str(plain.data, plain.len, RR_EMAIL, r->email, sizeof(r->email));
		r->pdf = (uint32_t)rec_get_u64(plain.data, plain.len, RR_PDF, 0);
		*flags = (unsigned)rec_get_u64(plain.data, plain.len, RR_FLAGS, 0);
	}
	buf_wipe(&plain);
	if (g == 1)
		err_set(e, "batch %llu row %u: no resident record", (unsigned long long)id,
			r->s->seq);
	return g == 0 ? 0 : -1;
}

/* Why a resident on the paper list is there. */
static int paper_reason(struct store_txn *t, uint64_t id, struct row *r, unsigned flags,
			struct error *e)
{
	struct delivery d;
	struct notice_access a;
	int g;

	if (r->email[0] == '\0') {
		r->reason = "no_address", r->reason_ja = "メールアドレスなし";
		return 0;
	}
	if (flags != 0) {
		r->reason = "held_back", r->reason_ja = "送信対象外（宛先の不備）";
		return 0;
	}
	if ((g = delivery_get(t, id, r->s->seq, &d, e)) < 0)
		return -1;
	if (g == 0 && d.state == DELIVERY_BOUNCED) {
		r->reason = "bounced", r->reason_ja = "不達";
		return 0;
	}
	if (g == 0 && d.state == DELIVERY_FAILED) {
		r->reason = "failed", r->reason_ja = "送信失敗";
		return 0;
	}
	if (access_get(t, id, r->s->seq, &a, e) < 0)
		return -1;
	if (a.consent == CONSENT_DECLINED)
		r->reason = "declined", r->reason_ja = "電子交付に同意せず";
	else
		r->reason = "not_downloaded", r->reason_ja = "期限までに受け取りなし";
	return 0;
}

/* The rows to export (the paper list only with paper), read in one
 * transaction; the paper list's PDFs with them. */
static int read_rows(struct cli_tenant *ct, uint64_t id, const struct notice_status *v, size_t n,
		     int paper, struct row **out, size_t *nout, struct error *e)
{
	struct store_txn *t = NULL;
	struct row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	size_t m = 0;
	int ret = -1;

	if (store_begin(ct->st, 0, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[m];
		unsigned flags = 0;
		if (paper && !v[i].paper)
			continue;
		r->s = &v[i];
		buf_init(&r->bytes, (size_t)1 << 30);
		m++;
		if (read_resident(t, id, r, &flags, e) < 0 ||
		    (paper && paper_reason(t, id, r, flags, e) < 0))
			goto out;
		if (paper && r->pdf != 0) {
			uint8_t k[12];
			be64_put(k, id);
			be32_put(k + 8, r->pdf);
			if (store_get_sealed(t, DB_PDFS, k, sizeof(k), &r->bytes, e) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	store_abort(&t);
	*out = rows;
	*nout = m;
	return ret;
}

static void rows_free(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_wipe(&rows[i].bytes);
	free(rows);
}

static void status_csv(const struct row *rows, size_t n, struct buf *b)
{
	buf_append_str(b, "\xEF\xBB\xBF");
	buf_append_str(b, "宛名番号,氏名,メールアドレス,状態,連絡回数,送信日時,開封日時,受取日時,紙\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct notice_status *s = rows[i].s;
		char num[16];
		cell(b, s->key, 0);
		cell(b, rows[i].name, 0);
		cell(b, rows[i].email, 0);
		cell(b, s->state, 0);
		str_fmt(num, sizeof(num), "%u", s->contacts);
		cell(b, num, 0);
		cell_time(b, s->sent_at);
		cell_time(b, s->opened_at);
		cell_time(b, s->downloaded_at);
		cell(b, s->paper ? "1" : "0", 1);
	}
}

static void paper_csv(const struct row *rows, size_t n, struct buf *b)
{
	buf_append_str(b, "\xEF\xBB\xBF");
	buf_append_str(b, "宛名番号,氏名,メールアドレス,理由,reason,ページ\r\n");
	for (size_t i = 0; i < n; i++) {
		char pages[48] = "";
		if (rows[i].pages > 0)
			str_fmt(pages, sizeof(pages), "%zu-%zu", rows[i].first_page,
				rows[i].first_page + rows[i].pages - 1);
		cell(b, rows[i].s->key, 0);
		cell(b, rows[i].name, 0);
		cell(b, rows[i].email, 0);
		cell(b, rows[i].reason_ja, 0);
		cell(b, rows[i].reason, 0);
		cell(b, pages, 1);
	}
}

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

/* The merged PDF of the rows that have one; first_page/pages set. */
static int merge_pdfs(struct row *rows, size_t n, struct buf *pdf, size_t *npdfs,
		      struct error *e)
{
	const uint8_t **data = xcalloc(n ? n : 1, sizeof(*data));
	size_t *lens = xcalloc(n ? n : 1, sizeof(*lens)), *pages = xcalloc(n ? n : 1, sizeof(*pages));
	size_t m = 0, next = 1;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		if (rows[i].bytes.len > 0) {
			data[m] = rows[i].bytes.data;
			lens[m++] = rows[i].bytes.len;
		}
	if (m > 0)
		r = pdf_merge(data, lens, m, pdf, pages, e);
	for (size_t i = 0, j = 0; r == 0 && i < n; i++)
		if (rows[i].bytes.len > 0) {
			rows[i].first_page = next;
			rows[i].pages = pages[j++];
			next += rows[i].pages;
		}
	*npdfs = m;
	free(data);
	free(lens);
	free(pages);
	return r;
}

static int audit_export(struct cli_tenant *t, uint64_t id, const char *actor, int paper,
			size_t rows, size_t pdfs, struct error *e)
{
	struct store_txn *txn = NULL;
	char target[32], detail[96];
	struct audit_entry a;
	int ret = -1;

	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	str_fmt(detail, sizeof(detail), "paper=%s rows=%zu pdfs=%zu", paper ? "yes" : "no", rows,
		pdfs);
	a = (struct audit_entry){ actor, "batch.export", target, "cli", detail };
	if (store_begin(t->st, 1, &txn, e) == 0 && audit_append(txn, &a, NULL, e) == 0 &&
	    store_commit(&txn, e) == 0)
		ret = 0;
	store_abort(&txn);
	return ret;
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
	struct row *rows = NULL;
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
	    read_rows(t, id, v, n, o->paper, &rows, &m, e) < 0)
		goto out;
	if (!o->paper) {
		status_csv(rows, m, &csv);
		if (o->out != NULL ? write_new(o->out, csv.data, csv.len, e) < 0
				   : fwrite(csv.data, 1, csv.len, stdout) != csv.len)
			goto out;
	} else {
		paper_paths(id, o->out, csvpath, pdfpath, sizeof(csvpath));
		if (merge_pdfs(rows, m, &pdf, &npdfs, e) < 0)
			goto out;
		paper_csv(rows, m, &csv);
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
	if (audit_export(t, id, who, o->paper, m, npdfs, e) < 0)
		goto out;
	ret = 0;
out:
	if (rows != NULL)
		rows_free(rows, m);
	free(v);
	buf_wipe(&csv);
	buf_free(&pdf);
	return ret;
}
