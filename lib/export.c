/*
 * export.c — a batch's residents' statuses and its paper list as CSV for a
 * spreadsheet, and the rows they are made of (see lib/export.h).  Moved
 * here from `tayori batch export` so that the dashboard's downloads are
 * the same files.  Implements RFC 4180 (CSV) with the OWASP guard against
 * formula injection.  Runs in the command-line and portal processes.
 */
#include "lib/export.h"

#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/rec.h"
#include "lib/store.h"

void export_csv_cell(struct buf *b, const char *s, int last)
{
	int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
		      s[0] == '\r';
	int quote = strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		buf_append_u8(b, '"');
	/* An apostrophe makes a spreadsheet take the cell as text. */
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
	export_csv_cell(b, when, 0);
}

/* The resident's name, address and PDF from the sealed record. */
static int read_resident(struct store_txn *t, uint64_t id, struct export_row *r, unsigned *flags,
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
static int paper_reason(struct store_txn *t, uint64_t id, struct export_row *r, unsigned flags,
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

int export_rows(struct store *st, uint64_t id, const struct notice_status *v, size_t n,
		int paper, struct export_row **out, size_t *nout, struct error *e)
{
	struct store_txn *t = NULL;
	struct export_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	size_t m = 0;
	int ret = -1;

	if (store_begin(st, 0, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct export_row *r = &rows[m];
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

void export_rows_free(struct export_row *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		buf_wipe(&rows[i].bytes);
		secure_wipe(rows[i].name, sizeof(rows[i].name));
		secure_wipe(rows[i].email, sizeof(rows[i].email));
	}
	free(rows);
}

void export_status_csv(const struct export_row *rows, size_t n, struct buf *b)
{
	buf_append_str(b, "\xEF\xBB\xBF");
	buf_append_str(b, "宛名番号,氏名,メールアドレス,状態,連絡回数,送信日時,開封日時,受取日時,紙\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct notice_status *s = rows[i].s;
		char num[16];
		export_csv_cell(b, s->key, 0);
		export_csv_cell(b, rows[i].name, 0);
		export_csv_cell(b, rows[i].email, 0);
		export_csv_cell(b, s->state, 0);
		str_fmt(num, sizeof(num), "%u", s->contacts);
		export_csv_cell(b, num, 0);
		cell_time(b, s->sent_at);
		cell_time(b, s->opened_at);
		cell_time(b, s->downloaded_at);
		export_csv_cell(b, s->paper ? "1" : "0", 1);
	}
}

void export_paper_csv(const struct export_row *rows, size_t n, struct buf *b)
{
	buf_append_str(b, "\xEF\xBB\xBF");
	buf_append_str(b, "宛名番号,氏名,メールアドレス,理由,reason,ページ\r\n");
	for (size_t i = 0; i < n; i++) {
		char pages[48] = "";
		if (rows[i].pages > 0)
			str_fmt(pages, sizeof(pages), "%zu-%zu", rows[i].first_page,
				rows[i].first_page + rows[i].pages - 1);
		export_csv_cell(b, rows[i].s->key, 0);
		export_csv_cell(b, rows[i].name, 0);
		export_csv_cell(b, rows[i].email, 0);
		export_csv_cell(b, rows[i].reason_ja, 0);
		export_csv_cell(b, rows[i].reason, 0);
		export_csv_cell(b, pages, 1);
	}
}

int export_audit(struct store *st, uint64_t id, const char *actor, const char *where,
		 int paper, const char *what, size_t rows, size_t pdfs, struct error *e)
{
	struct store_txn *txn = NULL;
	char target[32], detail[128];
	struct audit_entry a;
	int ret = -1;

	str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)id);
	str_fmt(detail, sizeof(detail), "paper=%s rows=%zu pdfs=%zu%s%s", paper ? "yes" : "no",
		rows, pdfs, what != NULL ? " what=" : "", what != NULL ? what : "");
	a = (struct audit_entry){ actor, "batch.export", target, where, detail };
	if (store_begin(st, 1, &txn, e) == 0 && audit_append(txn, &a, NULL, e) == 0 &&
	    store_commit(&txn, e) == 0)
		ret = 0;
	store_abort(&txn);
	return ret;
}
