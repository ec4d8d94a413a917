/*
 * mailq.c — the mail other processes ask the mailer to send (see mailq.h).
 * Runs in the mailer process.
 */
#include "mailer/mailq.h"

#include <glib.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lib/log.h"
#include "lib/mailreq.h"
#include "lib/store.h"
#include "mailer/dkim.h"
#include "mailer/queue.h"

struct mq_slot {
	uint64_t id;
	int in_flight;
	int64_t retry_at;   /* UTC seconds; 0 = now */
};

struct mailq {
	struct send_ctx *sc;
	struct pool *pool;
	int64_t retry_for;
	int64_t last_poll_ms;
	struct mq_slot *slots;  /* requests seen and not yet deleted */
	size_t n, cap;
	size_t in_flight;
};

static int64_t ms_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static gpointer gmime_once(gpointer unused)
{
	(void)unused;
	g_mime_init();
	return GINT_TO_POINTER(1);
}

int mailq_build(const char *from_name, const char *from, const char *to, const char *subject,
		const char *text, const char *msgid_domain, int64_t date, struct buf *out,
		struct error *e)
{
	static GOnce once = G_ONCE_INIT;
	GMimeMessage *msg;
	GMimeTextPart *body;
	GDateTime *dt;
	GMimeFormatOptions *fo;
	char mid[128], *wire;
	uint8_t r[12];
	char hex[25];
	int ret = -1;

	g_once(&once, gmime_once, NULL);
	msg = g_mime_message_new(TRUE);
	body = g_mime_text_part_new_with_subtype("plain");
	dt = g_date_time_new_from_unix_utc(date);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, from_name, from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, to);
	g_mime_message_set_subject(msg, subject, "utf-8");
	g_mime_message_set_date(msg, dt);
	random_bytes(r, sizeof(r));
	hex_encode(r, sizeof(r), hex);
	str_fmt(mid, sizeof(mid), "%s@%s", hex, msgid_domain);
	g_mime_message_set_message_id(msg, mid);
	/* Mail made by a program: no auto-reply may answer it (RFC 3834). */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-generated", NULL);
	g_mime_text_part_set_text(body, text);
	g_mime_text_part_set_charset(body, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(body), GMIME_CONTENT_ENCODING_BASE64);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(body));
	fo = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	wire = g_mime_object_to_string(GMIME_OBJECT(msg), fo);
	if (wire == NULL || buf_append_str(out, wire) < 0)
		err_set(e, "mail request: cannot build the message");
	else
		ret = 0;
	g_free(wire);
	g_mime_format_options_free(fo);
	g_date_time_unref(dt);
	g_object_unref(body);
	g_object_unref(msg);
	return ret;
}

int mailq_open(struct send_ctx *sc, struct pool *pool, int64_t retry_for, struct mailq **out,
	       struct error *e)
{
	struct mailq *m = xcalloc(1, sizeof(*m));
	(void)e;
	m->sc = sc;
	m->pool = pool;
	m->retry_for = retry_for;
	*out = m;
	return 0;
}

void mailq_close(struct mailq **mp)
{
	if (*mp == NULL)
		return;
	free((*mp)->slots);
	free(*mp);
	*mp = NULL;
}

size_t mailq_in_flight(const struct mailq *m)
{
	return m->in_flight;
}

static struct mq_slot *slot_find(struct mailq *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->slots[i].id == id)
			return &m->slots[i];
	return NULL;
}

static struct mq_slot *slot_add(struct mailq *m, uint64_t id)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->slots = xrealloc(m->slots, m->cap * sizeof(*m->slots));
	}
	memset(&m->slots[m->n], 0, sizeof(m->slots[0]));
	m->slots[m->n].id = id;
	return &m->slots[m->n++];
}

static void slot_drop(struct mailq *m, uint64_t id)
{
	struct mq_slot *s = slot_find(m, id);
	if (s != NULL)
		*s = m->slots[--m->n];
}

static void delete_req(struct mailq *m, uint64_t id)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	uint8_t key[8];
	be64_put(key, id);
	if (store_begin(m->sc->st, 1, &t, &e) < 0 || store_del(t, DB_MAILQ, key, 8, &e) < 0 ||
	    store_commit(&t, &e) < 0)
		log_err("event=mailq_not_deleted id=%llu reason=\"%s\"", (unsigned long long)id, e.msg);
	store_abort(&t);
	slot_drop(m, id);
}

/* Build and hand over one request: 0 taken, 1 pool full, -1 dropped. */
static int hand_over(struct mailq *m, const struct mailreq *r, int64_t now, struct error *e)
{
	struct pool_job job;
	struct buf msg, dk;
	int rc = -1;

	memset(&job, 0, sizeof(job));
	buf_init(&msg, MAILREQ_TEXT_MAX * 2 + 65536);
	buf_init(&dk, 64 << 10);
	if (mailq_build(m->sc->from_name, m->sc->from, r->to, r->subject, r->text, m->sc->domain,
			now, &msg, e) < 0 ||
	    dkim_sign_conf(m->sc->kc, m->sc->conf, msg.data, msg.len, &dk, e) < 0 ||
	    buf_append(&dk, msg.data, msg.len) < 0)
		goto out;
	job.cookie = QUEUE_COOKIE_MAILQ | r->id;
	str_copy(job.mail_from, m->sc->from, sizeof(job.mail_from));
	str_copy(job.rcpt, r->to, sizeof(job.rcpt));
	job.msg = buf_steal(&dk, &job.len);
	rc = pool_submit(m->pool, &job, e);
	if (rc != 0)
		free(job.msg);
out:
	buf_wipe(&msg);
	buf_wipe(&dk);
	return rc;
}

static int expired(const struct mailq *m, const struct mailreq *r, int64_t now)
{
	int64_t ttl = strcmp(r->kind, "otp") == 0 ? MAILQ_OTP_TTL : m->retry_for;
	return r->created > 0 && now - r->created > ttl;
}

static void take_one(struct mailq *m, uint64_t id, const struct buf *plain, int64_t now)
{
	struct mq_slot *s = slot_find(m, id);
	struct mailreq r;
	struct error e = { { 0 }, 0 };
	int rc;

	if (s != NULL && (s->in_flight || s->retry_at > now))
		return;
	if (mailreq_decode(id, plain->data, plain->len, &r, &e) < 0) {
		log_err("event=mailq_dropped id=%llu reason=\"%s\"", (unsigned long long)id, e.msg);
		delete_req(m, id);
		return;
	}
	if (expired(m, &r, now)) {
		log_warn("event=mailq_expired id=%llu kind=%s", (unsigned long long)id, r.kind);
		delete_req(m, id);
	} else if ((rc = hand_over(m, &r, now, &e)) == 0) {
		if (s == NULL)
			s = slot_add(m, id);
		s->in_flight = 1;
		m->in_flight++;
	} else if (rc < 0) {
		log_err("event=mailq_dropped id=%llu kind=%s reason=\"%s\"", (unsigned long long)id,
			r.kind, e.msg);
		delete_req(m, id);
	}
	mailreq_clear(&r);
}

int mailq_step(struct mailq *m, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	uint64_t ids[MAILQ_MAX_IN_FLIGHT];
	struct buf plain[MAILQ_MAX_IN_FLIGHT];
	size_t n = 0;
	const void *k, *v;
	size_t kl, vl;
	int64_t now = now_utc();
	int r;

	if (ms_now() - m->last_poll_ms < MAILQ_POLL_MS || m->in_flight >= MAILQ_MAX_IN_FLIGHT)
		return 0;
	m->last_poll_ms = ms_now();
	if (store_begin(m->sc->st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_MAILQ, NULL, 0, &it, e) < 0) {
		store_abort(&t);
		return -1;
	}
	while (n < MAILQ_MAX_IN_FLIGHT - m->in_flight && (r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		struct mq_slot *s;
		if (kl != 8)
			continue;
		s = slot_find(m, be64_get(k));
		if (s != NULL && (s->in_flight || s->retry_at > now))
			continue;
		ids[n] = be64_get(k);
		buf_init(&plain[n], MAILREQ_TEXT_MAX + 8192);
		if (store_unseal(m->sc->st, DB_MAILQ, k, kl, v, vl, &plain[n], e) < 0) {
			log_err("event=mailq_unreadable id=%llu reason=\"%s\"",
				(unsigned long long)ids[n], e->msg);
			buf_free(&plain[n]);
			continue;
		}
		n++;
	}
	store_iter_close(&it);
	store_abort(&t);
	for (size_t i = 0; i < n; i++) {
		take_one(m, ids[i], &plain[i], now);
		buf_wipe(&plain[i]);
	}
	return 0;
}

void mailq_outcome(struct mailq *m, const struct pool_outcome *o)
{
	uint64_t id = o->cookie & ~QUEUE_COOKIE_MAILQ;
	struct mq_slot *s = slot_find(m, id);

	if (s == NULL || !s->in_flight)
		return;
	s->in_flight = 0;
	m->in_flight--;
	if (o->r.outcome == SMTP_TEMPFAIL) {
		s->retry_at = now_utc() + MAILQ_RETRY;
		if (o->not_before > s->retry_at)
			s->retry_at = o->not_before;
		log_warn("event=mailq_deferred id=%llu reply=\"%d %s\"", (unsigned long long)id,
			 o->r.code, o->r.text);
		return;
	}
	if (o->r.outcome == SMTP_PERMFAIL)
		log_warn("event=mailq_refused id=%llu reply=\"%d %s\"", (unsigned long long)id,
			 o->r.code, o->r.text);
	else
		log_info("event=mailq_sent id=%llu", (unsigned long long)id);
	delete_req(m, id);
}
