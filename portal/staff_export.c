/*
 * staff_export.c — the dashboard's downloads of a batch (the export
 * permission): the residents' statuses as CSV (/export/ID/residents.csv),
 * the paper list as CSV (/export/ID/paper.csv) and its notices merged into
 * one PDF to print (/export/ID/paper.pdf).  The files are the ones
 * `tayori batch export [--paper]` writes (lib/export.h, pdf/pdf_paper.h):
 * UTF-8 with a byte order mark for Excel, formula cells neutralised.  Each
 * download is audited (batch.export, counts only) before it is sent, and
 * goes out as an attachment with a Japanese file name (RFC 6266, RFC 8187);
 * a HEAD gets the same headers and is not audited (nothing was downloaded).
 * Runs with the store lock held (let go while the files are made), in the
 * portal process.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/export.h"
#include "lib/log.h"
#include "pdf/pdf_paper.h"
#include "portal/staff_int.h"

enum kind { K_RESIDENTS, K_PAPER_CSV, K_PAPER_PDF };

/* "12/residents.csv" -> id and kind: 0, or -1. */
static int parse(const char *subpath, uint64_t *id, enum kind *k)
{
	static const char *const names[] = { "residents.csv", "paper.csv", "paper.pdf" };
	const char *slash = strchr(subpath, '/');
	char idpart[24];
	size_t len;

	if (slash == NULL || (len = (size_t)(slash - subpath)) >= sizeof(idpart))
		return -1;
	memcpy(idpart, subpath, len);
	idpart[len] = '\0';
	if (staff_batch_id(idpart, id) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(slash + 1, names[i]) == 0) {
			*k = (enum kind)i;
			return 0;
		}
	return -1;
}

static void release_wipe(void *arg)
{
	struct buf *b = arg;
	buf_wipe(b);
	free(b);
}

/* Hand over b (heap) as the body: the layer wipes and frees it. */
static int send_buf(struct http_response *resp, const char *type, struct buf *b,
		    const char *filename)
{
	if (http_resp_attachment(resp, filename) < 0) {
		release_wipe(b);
		return -1;
	}
	http_resp_bytes(resp, type, b->data, b->len, release_wipe, b);
	return 0;
}

static int note(struct http_response *resp, const struct staff_who *w, unsigned status,
		uint64_t id, const char *title, const char *text)
{
	char back[64];

	resp->status = status;
	str_fmt(back, sizeof(back), "/batches/%llu", (unsigned long long)id);
	return page_staff_note(&resp->body, &w->u, title, text, id ? back : "/batches",
			       id ? "バッチの画面に戻る" : "バッチ一覧に戻る");
}

/* Make the file of kind k from the rows into out (heap); filename set. */
static int make(struct export_row *rows, size_t m, enum kind k, uint64_t id, struct buf *out,
		size_t *npdfs, char *filename, size_t fsize, struct error *e)
{
	struct buf pdf;

	*npdfs = 0;
	if (k == K_RESIDENTS) {
		export_status_csv(rows, m, out);
		str_fmt(filename, fsize, "batch-%llu-区民ごとの状況.csv", (unsigned long long)id);
		return 0;
	}
	buf_init(&pdf, EXPORT_PDF_MAX);
	/* The CSV names each resident's pages in the PDF: merge first. */
	if (pdf_paper_merge(rows, m, &pdf, npdfs, e) < 0) {
		buf_free(&pdf);
		return -1;
	}
	if (k == K_PAPER_CSV) {
		buf_free(&pdf);
		export_paper_csv(rows, m, out);
		str_fmt(filename, fsize, "batch-%llu-紙で送付する一覧.csv", (unsigned long long)id);
		return 0;
	}
	buf_free(out);
	*out = pdf;
	str_fmt(filename, fsize, "batch-%llu-紙で送付する通知.pdf", (unsigned long long)id);
	return 0;
}

/* Read, make, audit; 0 with *out filled, 1 answered (nothing to print), -1 error. */
static int build(struct staff_ctx *sc, const struct http_request *req,
		 struct http_response *resp, const struct staff_who *w, uint64_t id, enum kind k,
		 struct buf *out, char *filename, size_t fsize)
{
	static const char *const what[] = { "residents_csv", "paper_csv", "paper_pdf" };
	struct error e = { { 0 }, 0 };
	struct notice_status *v = NULL;
	struct export_row *rows = NULL;
	size_t n = 0, m = 0, npdfs = 0;
	int ret = -1, made;

	if (notice_statuses(sc->st, id, now_utc(), &v, &n, &e) < 0 ||
	    export_rows(sc->st, id, v, n, k != K_RESIDENTS, &rows, &m, &e) < 0)
		goto out;
	/* Merging a long paper list takes a while and needs no store: other
	 * staff pages (which take turns on this lock) go on meanwhile. */
	pthread_mutex_unlock(sc->lock);
	made = make(rows, m, k, id, out, &npdfs, filename, fsize, &e);
	pthread_mutex_lock(sc->lock);
	if (made < 0)
		goto out;
	if (k == K_PAPER_PDF && npdfs == 0) {
		ret = note(resp, w, 404, id, "印刷する通知はありません",
			   "紙で送付する区民のうち、印刷できる通知（PDF）のある人はいません。") < 0
			      ? -1 : 1;
		goto out;
	}
	/* A HEAD (a link checker, a browser's look before the download) gets
	 * the same headers but no file: it is no download, so no record. */
	if (!req->is_head &&
	    export_audit(sc->st, id, w->actor, req->client_ip, k != K_RESIDENTS, what[k], m,
			 npdfs, &e) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		log_err("event=staff_export_failed batch=%llu reason=\"%s\"", (unsigned long long)id,
			e.msg);
	export_rows_free(rows, m);
	free(v);
	return ret;
}

int staff_h_export(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct batch_summary bs;
	struct buf *out;
	char target[40], filename[160];
	enum kind k = K_RESIDENTS;
	uint64_t id = 0;
	int bad = parse(req->subpath, &id, &k) < 0, r;

	if (bad)
		str_copy(target, "batch:?", sizeof(target));
	else
		str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	r = staff_guard(sc, req, resp, PERM_EXPORT, "出力", target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = bad ? 1 : batches_get(sc->st, id, &bs, NULL, &e);
	if (r < 0) {
		log_err("event=staff_export_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 1 || strcmp(bs.status, BATCH_STATUS_STORING) == 0)
		return note(resp, &w, 404, 0, "出力するものが見つかりません",
			    "指定されたバッチまたは出力の種類はありません。");
	out = xcalloc(1, sizeof(*out));
	buf_init(out, EXPORT_CSV_MAX);
	r = build(sc, req, resp, &w, id, k, out, filename, sizeof(filename));
	if (r != 0) {
		release_wipe(out);
		return r < 0 ? -1 : 0;
	}
	return send_buf(resp, k == K_PAPER_PDF ? "application/pdf" : "text/csv; charset=utf-8",
			out, filename);
}
