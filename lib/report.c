/*
 * report.c — the summary of the batches out with residents (see
 * report.h).  Runs in the command line and the mailer.
 */
#include "lib/report.h"

#include <stdlib.h>
#include <string.h>

#include "lib/batches.h"
#include "lib/mailreq.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/remind.h"
#include "lib/staff.h"
#include "lib/store.h"

static int reportable(const char *status)
{
	return strcmp(status, BATCH_STATUS_APPROVED) == 0 ||
	       strcmp(status, BATCH_STATUS_SENDING) == 0 || strcmp(status, BATCH_STATUS_SENT) == 0;
}

/* Bounced and failed deliveries, and the reminder schedule's state. */
static int batch_extra(struct store *st, struct report_batch *b, int64_t now, struct error *e)
{
	struct store_txn *t = NULL;
	struct remind_schedule sched;
	struct error pe = { { 0 }, 0 };
	struct buf plain;
	uint8_t k[8];
	const void *v;
	size_t vl;
	char text[256] = "";
	uint32_t done = 0;
	int ret = -1;

	buf_init(&plain, 64 << 20);
	if (store_begin(st, 0, &t, e) < 0)
		goto out;
	for (uint32_t seq = 1; seq <= b->residents; seq++) {
		struct delivery d;
		int g = delivery_get(t, b->id, seq, &d, e);
		if (g < 0)
			goto out;
		b->bounced += g == 0 && d.state == DELIVERY_BOUNCED;
		b->failed += g == 0 && d.state == DELIVERY_FAILED;
	}
	be64_put(k, b->id);
	if (store_get(t, DB_BATCH_STATE, k, 8, &v, &vl, e) == 0)
		done = (uint32_t)rec_get_u64(v, vl, BS_REMINDED, 0);
	if (store_get_sealed(t, DB_BATCHES, k, 8, &plain, e) < 0)
		goto out;
	rec_get_str(plain.data, plain.len, BR_REMINDERS, text, sizeof(text));
	/* An unreadable schedule reminds nobody (the mailer logs it). */
	if (remind_schedule_parse(text, &sched, &pe) < 0)
		sched.n = 0;
	b->reminder_due = b->send_at > 0 && b->unopened > 0 &&
			  remind_due(&sched, b->send_at, done, now, &b->next_reminder) > 0;
	if (b->send_at <= 0)
		b->next_reminder = 0;
	ret = 0;
out:
	buf_wipe(&plain);
	store_abort(&t);
	return ret;
}

static int batch_counts(struct store *st, struct report_batch *b, int64_t now, struct error *e)
{
	struct notice_status *v = NULL;
	size_t n = 0;

	if (notice_statuses(st, b->id, now, &v, &n, e) < 0)
		return -1;
	b->residents = n;
	for (size_t i = 0; i < n; i++) {
		b->sent += v[i].contacts > 0 || v[i].sent_at > 0;
		b->opened += v[i].opened_at > 0;
		b->downloaded += v[i].downloaded_at > 0;
		b->unopened += strcmp(v[i].state, "sent") == 0;
		b->paper += v[i].paper != 0;
	}
	free(v);
	return batch_extra(st, b, now, e);
}

int report_build(struct store *st, int64_t now, struct report_batch **out, size_t *n,
		 struct error *e)
{
	struct batch_summary *list = NULL;
	struct report_batch *v;
	size_t nl = 0, m = 0;

	*out = NULL;
	*n = 0;
	if (batches_list(st, &list, &nl, e) < 0)
		return -1;
	v = xcalloc(nl ? nl : 1, sizeof(*v));
	for (size_t i = 0; i < nl; i++) {
		struct report_batch *b = &v[m];
		if (!reportable(list[i].status))
			continue;
		b->id = list[i].id;
		str_copy(b->status, list[i].status, sizeof(b->status));
		b->test = list[i].test;
		b->send_at = list[i].send_at;
		if (batch_counts(st, b, now, e) < 0) {
			free(list);
			free(v);
			return -1;
		}
		m++;
	}
	free(list);
	*out = v;
	*n = m;
	return 0;
}

static void reminder_cell(const struct report_batch *b, char *out, size_t size)
{
	char when[32];
	if (b->reminder_due)
		str_copy(out, "due", size);
	else if (b->next_reminder > 0) {
		time_format_jst(b->next_reminder, when, sizeof(when));
		str_copy(out, when, size);
	} else
		str_copy(out, "-", size);
}

void report_text(const struct report_batch *v, size_t n, int64_t now, struct buf *out)
{
	char when[32];
	time_format_jst(now, when, sizeof(when));
	buf_printf(out, "送信中・送信済みのバッチ（%s 現在）\nBatches out with residents, at %s\n\n",
		   when, when);
	if (n == 0) {
		buf_printf(out, "（なし）none\n");
		return;
	}
	buf_printf(out, "%-6s %-9s %9s %6s %6s %10s %7s %6s %8s %-20s %5s\n", "batch", "status",
		   "residents", "sent", "opened", "downloaded", "bounced", "failed", "unopened",
		   "reminder", "paper");
	for (size_t i = 0; i < n; i++) {
		const struct report_batch *b = &v[i];
		char rem[32];
		reminder_cell(b, rem, sizeof(rem));
		buf_printf(out, "%-6llu %-9s %9zu %6zu %6zu %10zu %7zu %6zu %8zu %-20s %5zu%s\n",
			   (unsigned long long)b->id, b->status, b->residents, b->sent, b->opened,
			   b->downloaded, b->bounced, b->failed, b->unopened, rem, b->paper,
			   b->test ? " (test)" : "");
	}
	buf_printf(out, "\nsent: 送信済み  opened: 開封  downloaded: 受取（到達）  bounced: 不達  "
			"failed: 送信失敗\nunopened: 未開封  reminder: 次の督促（due: 今）  paper: 紙で通知\n");
}

void report_json(const struct report_batch *v, size_t n, int64_t now, struct buf *out)
{
	char when[32];
	time_format_utc(now, when, sizeof(when));
	buf_printf(out, "{\"generated\":\"%s\",\"batches\":[", when);
	for (size_t i = 0; i < n; i++) {
		const struct report_batch *b = &v[i];
		char next[32] = "";
		if (b->next_reminder > 0)
			time_format_utc(b->next_reminder, next, sizeof(next));
		buf_printf(out,
			   "%s{\"batch\":%llu,\"status\":\"%s\",\"test\":%s,\"residents\":%zu,"
			   "\"sent\":%zu,\"opened\":%zu,\"downloaded\":%zu,\"bounced\":%zu,"
			   "\"failed\":%zu,\"unopened\":%zu,\"reminder_due\":%s,",
			   i ? "," : "", (unsigned long long)b->id, b->status,
			   b->test ? "true" : "false", b->residents, b->sent, b->opened, b->downloaded,
			   b->bounced, b->failed, b->unopened, b->reminder_due ? "true" : "false");
		if (next[0])
			buf_printf(out, "\"next_reminder\":\"%s\",", next);
		else
			buf_printf(out, "\"next_reminder\":null,");
		buf_printf(out, "\"paper\":%zu}", b->paper);
	}
	buf_printf(out, "]}\n");
}

int report_mail_admins(struct store *st, const char *subject, const char *text, size_t *queued,
		       struct error *e)
{
	struct staff *v = NULL;
	struct store_txn *t = NULL;
	size_t n = 0;
	int ret = -1;

	*queued = 0;
	if (staff_list(st, &v, &n, e) < 0)
		return -1;
	if (store_begin(st, 1, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct mailreq m;
		if (v[i].disabled || v[i].email[0] == '\0' ||
		    !(strcmp(v[i].role, "admin") == 0 || (v[i].perms & PERM_MANAGE_USERS)))
			continue;
		memset(&m, 0, sizeof(m));
		str_copy(m.kind, "report", sizeof(m.kind));
		str_copy(m.to, v[i].email, sizeof(m.to));
		str_copy(m.subject, subject, sizeof(m.subject));
		m.text = (char *)text;
		if (mailreq_add(t, &m, e) < 0)
			goto out;
		(*queued)++;
	}
	if (*queued == 0) {
		err_set(e, "no enabled admin has an address to mail the report to");
		goto out;
	}
	if (store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	if (v != NULL)
		secure_wipe(v, n * sizeof(*v));
	free(v);
	return ret;
}
