/*
 * mailreq.c — requests for the mailer in DB_MAILQ (see mailreq.h).  Runs
 * in the portal, the command line and the mailer.
 */
#include "lib/mailreq.h"

#include <stdlib.h>
#include <string.h>

#include "lib/email.h"
#include "lib/rec.h"
#include "lib/store.h"

/* One line of printable text (no control byte at all). */
static int line_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

static int check(const struct mailreq *m, struct error *e)
{
	if (!email_valid(m->to))
		return err_set(e, "mail request: not a valid address");
	if (m->kind[0] == '\0' || !line_ok(m->kind) || m->subject[0] == '\0' || !line_ok(m->subject))
		return err_set(e, "mail request: kind or subject empty or holding a control character");
	if (m->text == NULL || strlen(m->text) > MAILREQ_TEXT_MAX || !text_ok(m->text))
		return err_set(e, "mail request: text missing, too long or holding a control character");
	return 0;
}

int mailreq_add(struct store_txn *t, struct mailreq *m, struct error *e)
{
	struct buf b;
	uint8_t key[8];
	int r;

	if (check(m, e) < 0)
		return -1;
	if (store_next_id(t, "mailq", &m->id, e) < 0)
		return -1;
	if (m->created == 0)
		m->created = now_utc();
	buf_init(&b, MAILREQ_TEXT_MAX + 4096);
	r = rec_put_str(&b, MQ_KIND, m->kind) | rec_put_str(&b, MQ_TO, m->to) |
	    rec_put_str(&b, MQ_SUBJECT, m->subject) | rec_put_str(&b, MQ_TEXT, m->text) |
	    rec_put_u64(&b, MQ_CREATED, (uint64_t)m->created) | rec_put_u64(&b, MQ_BATCH, m->batch) |
	    rec_put_u64(&b, MQ_SEQ, m->seq);
	be64_put(key, m->id);
	if (r != 0)
		r = err_set(e, "mail request too large");
	else
		r = store_put_sealed(t, DB_MAILQ, key, sizeof(key), b.data, b.len, e);
	buf_wipe(&b);
	return r;
}

int mailreq_decode(uint64_t id, const uint8_t *rec, size_t len, struct mailreq *m,
		   struct error *e)
{
	const uint8_t *v;
	size_t vl;

	memset(m, 0, sizeof(*m));
	m->id = id;
	if (rec_check(rec, len) != 0 || rec_get_str(rec, len, MQ_KIND, m->kind, sizeof(m->kind)) < 0 ||
	    rec_get_str(rec, len, MQ_TO, m->to, sizeof(m->to)) < 0 ||
	    rec_get_str(rec, len, MQ_SUBJECT, m->subject, sizeof(m->subject)) < 0 ||
	    rec_get(rec, len, MQ_TEXT, &v, &vl) != 0 || vl > MAILREQ_TEXT_MAX)
		return err_set(e, "mail request %llu is malformed", (unsigned long long)id);
	m->text = xstrndup((const char *)v, vl);
	m->created = (int64_t)rec_get_u64(rec, len, MQ_CREATED, 0);
	m->batch = rec_get_u64(rec, len, MQ_BATCH, 0);
	m->seq = (uint32_t)rec_get_u64(rec, len, MQ_SEQ, 0);
	if (check(m, e) < 0) {
		mailreq_clear(m);
		return -1;
	}
	return 0;
}

void mailreq_clear(struct mailreq *m)
{
	if (m->text != NULL) {
		secure_wipe(m->text, strlen(m->text));
		free(m->text);
	}
	m->text = NULL;
}
