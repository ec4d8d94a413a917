/*
 * digest.c — the daily summary to staff and the "paper list is final"
 * mail (see digest.h).  Runs in the mailer process.
 */
#include "mailer/digest.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/conf.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mailreq.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/report.h"
#include "lib/store.h"
#include "mailer/send.h"

#define JST_OFFSET (9 * 3600)
#define DAY 86400

struct digest {
	struct store *st;
	char to[SEND_TEST_MAX + 1][SEND_ADDR_MAX + 1];
	size_t nto;
	int report_min; /* minutes after midnight in Japan; -1 none */
	int64_t last;
};

/* "HH:MM" -> minutes; "" -> -1; -2 when malformed. */
static int time_of_day(const char *s)
{
	int h, m;
	if (s[0] == '\0')
		return -1;
	if (strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '2' || s[1] < '0' ||
	    s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -2;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	return h < 24 ? h * 60 + m : -2;
}

int digest_open(const struct conf *c, struct store *st, struct digest **out, struct error *e)
{
	struct digest *d = xcalloc(1, sizeof(*d));
	d->st = st;
	d->report_min = time_of_day(conf_str(c, "mail", "report_time"));
	if (d->report_min == -2) {
		free(d);
		return err_set(e, "[mail] report_time \"%s\" is not HH:MM",
			       conf_str(c, "mail", "report_time"));
	}
	if (send_addr_list(conf_str(c, "mail", "report_to"), d->to, SEND_TEST_MAX, &d->nto, e) <
	    0) {
		free(d);
		return err_set(e, "[mail] report_to: %s", e->msg);
	}
	*out = d;
	return 0;
}

void digest_close(struct digest **d)
{
	free(*d);
	*d = NULL;
}

/* One request of kind "report" per address of to (n of them). */
static int queue_to(struct store_txn *t, char (*to)[SEND_ADDR_MAX + 1], size_t n,
		    const char *subject, const char *text, uint64_t batch, struct error *e)
{
	for (size_t i = 0; i < n; i++) {
		struct mailreq m;
		memset(&m, 0, sizeof(m));
		str_copy(m.kind, "report", sizeof(m.kind));
		str_copy(m.to, to[i], sizeof(m.to));
		str_copy(m.subject, subject, sizeof(m.subject));
		m.text = (char *)text;
		m.batch = batch;
		if (mailreq_add(t, &m, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- the daily summary ---- */

static int daily(struct digest *d, int64_t now, size_t *queued, struct error *e)
{
	int64_t jst = now + JST_OFFSET, day = jst / DAY;
	struct store_txn *t = NULL;
	struct report_batch *v = NULL;
	struct buf text;
	char subject[128], date[16];
	uint8_t dk[8];
	const void *val;
	size_t vl, n = 0;
	time_t tt = (time_t)jst;
	struct tm tm;
	int r, ret = -1;

	if (d->report_min < 0 || d->nto == 0 || (jst % DAY) / 60 < d->report_min)
		return 0;
	if (store_begin(d->st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_META, DIGEST_META_DAY, strlen(DIGEST_META_DAY), &val, &vl, e);
	if (r == 0 && vl == 8 && (int64_t)be64_get(val) >= day) {
		store_abort(&t);
		return 0;
	}
	store_abort(&t);
	if (r < 0)
		return -1;
	buf_init(&text, 4 << 20);
	if (report_build(d->st, now, &v, &n, e) < 0)
		goto out;
	report_text(v, n, now, &text);
	if (buf_append(&text, "", 1) < 0) {
		err_set(e, "the summary is too large");
		goto out;
	}
	gmtime_r(&tt, &tm);
	str_fmt(date, sizeof(date), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday);
	str_fmt(subject, sizeof(subject), "【便り】日次報告 %s", date);
	be64_put(dk, (uint64_t)day);
	if (store_begin(d->st, 1, &t, e) < 0 ||
	    queue_to(t, d->to, d->nto, subject, (const char *)text.data, 0, e) < 0 ||
	    store_put(t, DB_META, DIGEST_META_DAY, strlen(DIGEST_META_DAY), dk, 8, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	*queued += d->nto;
	log_info("event=daily_report_queued day=%s batches=%zu to=%zu", date, n, d->nto);
	ret = 0;
out:
	store_abort(&t);
	free(v);
	buf_free(&text);
	return ret;
}

/* ---- the paper list is final ---- */

/* The deadline's end and BR_FROM of batch id: 0, 1 no deadline. */
static int batch_deadline(struct store *st, uint64_t id, int64_t *end, char *from,
			  size_t fromsize, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t k[8];
	char text[256] = "";
	int r;

	be64_put(k, id);
	buf_init(&plain, 64 << 20);
	if (store_begin(st, 0, &t, e) < 0) {
		buf_free(&plain);
		return -1;
	}
	r = store_get_sealed(t, DB_BATCHES, k, 8, &plain, e);
	/* Its own 期限, or the ward's default fixed when it was sent. */
	if (r == 0 && batches_deadline(t, id, text, sizeof(text), e) < 0)
		r = -1;
	store_abort(&t);
	if (r == 0)
		rec_get_str(plain.data, plain.len, BR_FROM, from, fromsize);
	buf_wipe(&plain);
	if (r < 0)
		return -1;
	return r == 0 && send_date_end(text, end) == 0 ? 0 : 1;
}

static int told_already(struct store *st, uint64_t id, struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t k[8];
	const void *v;
	size_t vl;
	int r;

	be64_put(k, id);
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_BATCH_STATE, k, 8, &v, &vl, e);
	r = r < 0 ? -1 : r == 0 && rec_get_u64(v, vl, BS_PAPER_TOLD, 0) != 0;
	store_abort(&t);
	return r;
}

static int paper_count(struct store *st, uint64_t id, int64_t now, size_t *paper,
		       struct error *e)
{
	struct notice_status *v = NULL;
	size_t n = 0;
	*paper = 0;
	if (notice_statuses(st, id, now, &v, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		*paper += v[i].paper != 0;
	free(v);
	return 0;
}

static int paper_tell(struct digest *d, uint64_t id, int64_t now, size_t *queued,
		      struct error *e)
{
	char to[SEND_TEST_MAX + 1][SEND_ADDR_MAX + 1];
	char from[SEND_ADDR_MAX + 1] = "", own[SEND_ADDR_MAX + 1], subject[128];
	struct store_txn *t = NULL;
	struct buf text;
	int64_t end;
	size_t n = d->nto, paper;
	int r = told_already(d->st, id, e), ret = -1;

	if (r != 0)
		return r < 0 ? -1 : 0;
	r = batch_deadline(d->st, id, &end, from, sizeof(from), e);
	if (r != 0 || now < end)
		return r < 0 ? -1 : 0;
	if (paper_count(d->st, id, now, &paper, e) < 0)
		return -1;
	send_submitter_address(from, own, sizeof(own));
	memcpy(to, d->to, n * sizeof(to[0]));
	for (size_t i = 0; i < d->nto && own[0] != '\0'; i++)
		if (strcasecmp(to[i], own) == 0)
			own[0] = '\0';
	if (own[0] != '\0')
		str_copy(to[n++], own, sizeof(to[0]));
	buf_init(&text, 16 << 10);
	buf_printf(&text,
		   "バッチ %llu の期限が過ぎ、紙で通知する区民の一覧が確定しました。\n\n"
		   "紙で通知する区民: %zu 件\n\n"
		   "一覧（CSV）と印刷用の PDF は次のコマンドで出力できます:\n"
		   "  tayori batch export %llu --paper\n\n"
		   "The paper list of batch %llu is final (its deadline has passed): %zu "
		   "residents.\nWrite it (CSV and a PDF to print) with: tayori batch export %llu "
		   "--paper\n",
		   (unsigned long long)id, paper, (unsigned long long)id, (unsigned long long)id,
		   paper, (unsigned long long)id);
	buf_append(&text, "", 1);
	str_fmt(subject, sizeof(subject), "【便り】バッチ %llu の紙の一覧が確定しました",
		(unsigned long long)id);
	if (store_begin(d->st, 1, &t, e) < 0 ||
	    queue_to(t, to, n, subject, (const char *)text.data, id, e) < 0 ||
	    batches_change_status(t, id, BATCH_STATUS_SENT, BATCH_STATUS_SENT, BS_PAPER_TOLD,
				  (uint64_t)now, e) < 0 ||
	    store_commit(&t, e) < 0)
		goto out;
	*queued += n;
	log_info("event=paper_list_final batch=%llu paper=%zu to=%zu", (unsigned long long)id,
		 paper, n);
	ret = 0;
out:
	store_abort(&t);
	buf_free(&text);
	return ret;
}

static int paper_final(struct digest *d, int64_t now, size_t *queued, struct error *e)
{
	struct batch_summary *list = NULL;
	size_t n = 0;
	int ret = 0;

	if (batches_list(d->st, &list, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct error be = { { 0 }, 0 };
		if (list[i].test || strcmp(list[i].status, BATCH_STATUS_SENT) != 0)
			continue;
		if (paper_tell(d, list[i].id, now, queued, &be) < 0) {
			log_err("event=paper_list_mail_failed batch=%llu reason=\"%s\"",
				(unsigned long long)list[i].id, be.msg);
			ret = -1;
		}
	}
	free(list);
	if (ret < 0)
		err_set(e, "a paper-list mail could not be queued");
	return ret;
}

int digest_step(struct digest *d, int64_t now, size_t *queued, struct error *e)
{
	int ret = 0;
	*queued = 0;
	if (d == NULL || (d->last != 0 && now - d->last < DIGEST_EVERY))
		return 0;
	d->last = now;
	if (daily(d, now, queued, e) < 0)
		ret = -1;
	if (paper_final(d, now, queued, ret < 0 ? &(struct error){ { 0 }, 0 } : e) < 0)
		ret = -1;
	return ret;
}
