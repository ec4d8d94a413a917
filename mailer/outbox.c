/*
 * outbox.c — the replies to staff queued in the outbox Maildir, sent
 * through the relay (see outbox.h).  Runs in the mailer process.
 */
#include "mailer/outbox.h"

#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/email.h"
#include "lib/log.h"
#include "mailer/queue.h"

#define OUTBOX_NAME_MAX 255

struct ob_slot {
	char name[OUTBOX_NAME_MAX + 1];
	uint64_t n;          /* its cookie's number */
	int in_flight;
	int64_t retry_at;
	int seen;            /* still in new/ at the last scan */
};

struct outbox {
	struct send_ctx *sc;
	struct pool *pool;
	char dir[4096];
	int64_t last_scan_ms;
	struct ob_slot *slots;
	size_t n, cap;
	uint64_t next_n;
	size_t in_flight;
};

static int64_t ms_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int outbox_open(struct send_ctx *sc, struct pool *pool, const char *maildir, struct outbox **out,
		struct error *e)
{
	struct outbox *o = xcalloc(1, sizeof(*o));
	o->sc = sc;
	o->pool = pool;
	if (str_copy(o->dir, maildir, sizeof(o->dir)) >= sizeof(o->dir)) {
		free(o);
		return err_set(e, "outbox path too long");
	}
	*out = o;
	return 0;
}

void outbox_close(struct outbox **op)
{
	if (*op == NULL)
		return;
	free((*op)->slots);
	free(*op);
	*op = NULL;
}

size_t outbox_in_flight(const struct outbox *o)
{
	return o->in_flight;
}

/* The one address of the To field, into to. */
static int rcpt_of(const uint8_t *msg, size_t len, char *to, size_t tosize)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer((const char *)msg, len);
	GMimeParser *p = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
	int ret = -1;

	if (m != NULL) {
		InternetAddressList *l = g_mime_message_get_to(m);
		if (l != NULL && internet_address_list_length(l) == 1) {
			InternetAddress *a = internet_address_list_get_address(l, 0);
			if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
				const char *addr =
					internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
				if (addr != NULL && str_copy(to, addr, tosize) < tosize &&
				    email_valid(to))
					ret = 0;
			}
		}
		g_object_unref(m);
	}
	g_object_unref(p);
	g_object_unref(s);
	return ret;
}

static struct ob_slot *slot_of(struct outbox *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->slots[i].name, name) == 0)
			return &o->slots[i];
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 16;
		o->slots = xrealloc(o->slots, o->cap * sizeof(*o->slots));
	}
	memset(&o->slots[o->n], 0, sizeof(o->slots[0]));
	str_copy(o->slots[o->n].name, name, sizeof(o->slots[0].name));
	o->slots[o->n].n = ++o->next_n;
	return &o->slots[o->n++];
}

/* Move a refused file aside into cur/ (kept for staff to look at). */
static void set_aside(struct outbox *o, const char *name)
{
	char from[4400], to[4400];
	if (str_fmt(from, sizeof(from), "%s/new/%s", o->dir, name) < 0 ||
	    str_fmt(to, sizeof(to), "%s/cur/%s:2,T", o->dir, name) < 0 || rename(from, to) < 0)
		log_err("event=outbox_not_moved file=%s reason=\"%s\"", name, strerror(errno));
}

static void send_file(struct outbox *o, struct ob_slot *s)
{
	char path[4400];
	uint8_t *msg = NULL;
	size_t len;
	struct pool_job job;
	struct error e = { { 0 }, 0 };
	int r;

	if (str_fmt(path, sizeof(path), "%s/new/%s", o->dir, s->name) < 0 ||
	    file_read_all(path, OUTBOX_MAX_FILE, &msg, &len, &e) < 0)
		return;
	memset(&job, 0, sizeof(job));
	if (rcpt_of(msg, len, job.rcpt, sizeof(job.rcpt)) < 0) {
		log_err("event=outbox_refused file=%s reason=\"no single valid To address\"", s->name);
		set_aside(o, s->name);
		free(msg);
		return;
	}
	job.cookie = QUEUE_COOKIE_OUTBOX | s->n;
	str_copy(job.mail_from, o->sc->from, sizeof(job.mail_from));
	job.msg = msg;
	job.len = len;
	r = pool_submit(o->pool, &job, &e);
	if (r == 0) {
		s->in_flight = 1;
		o->in_flight++;
	} else {
		free(msg);
	}
}

int outbox_step(struct outbox *o, struct error *e)
{
	char dir[4200];
	DIR *d;
	struct dirent *de;
	int64_t now = now_utc();

	if (ms_now() - o->last_scan_ms < OUTBOX_SCAN_MS)
		return 0;
	o->last_scan_ms = ms_now();
	if (str_fmt(dir, sizeof(dir), "%s/new", o->dir) < 0 || (d = opendir(dir)) == NULL)
		return 0; /* no outbox yet: nothing queued */
	for (size_t i = 0; i < o->n; i++)
		o->slots[i].seen = 0;
	while ((de = readdir(d)) != NULL) {
		struct ob_slot *s;
		if (de->d_name[0] == '.' || strlen(de->d_name) > OUTBOX_NAME_MAX)
			continue;
		s = slot_of(o, de->d_name);
		s->seen = 1;
		if (!s->in_flight && s->retry_at <= now && o->in_flight < OUTBOX_MAX_IN_FLIGHT)
			send_file(o, s);
	}
	closedir(d);
	/* Forget files gone from new/ (sent, or moved by hand). */
	for (size_t i = 0; i < o->n;)
		if (!o->slots[i].seen && !o->slots[i].in_flight)
			o->slots[i] = o->slots[--o->n];
		else
			i++;
	(void)e;
	return 0;
}

void outbox_outcome(struct outbox *o, const struct pool_outcome *oc)
{
	uint64_t n = oc->cookie & ~QUEUE_COOKIE_OUTBOX;
	char path[4400];
	struct ob_slot *s = NULL;

	for (size_t i = 0; i < o->n; i++)
		if (o->slots[i].n == n)
			s = &o->slots[i];
	if (s == NULL || !s->in_flight)
		return;
	s->in_flight = 0;
	o->in_flight--;
	if (oc->r.outcome == SMTP_TEMPFAIL) {
		s->retry_at = now_utc() + OUTBOX_RETRY;
		log_warn("event=outbox_deferred file=%s reply=\"%d %s\"", s->name, oc->r.code,
			 oc->r.text);
	} else if (oc->r.outcome == SMTP_PERMFAIL) {
		log_warn("event=outbox_refused file=%s reply=\"%d %s\"", s->name, oc->r.code,
			 oc->r.text);
		set_aside(o, s->name);
	} else if (str_fmt(path, sizeof(path), "%s/new/%s", o->dir, s->name) < 0 ||
		   unlink(path) < 0) {
		log_err("event=outbox_not_deleted file=%s", s->name);
	} else {
		log_info("event=outbox_sent file=%s", s->name);
	}
}
