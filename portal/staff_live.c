/*
 * staff_live.c — the live view of a batch page (see staff_live.h): the
 * live thread that watches the batches with an open stream, and the
 * streams themselves.  The thread reads the store without the staff lock
 * (LMDB read transactions and the keys client are safe across threads, as
 * on the resident side), so a slow page does not hold up an event; the
 * streams' queues are under the hub's mutex, which nothing holds across a
 * store read, so the listener's threads never wait on the store.  Runs in
 * the portal process.
 */
#include "portal/staff_live.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/rec.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "portal/live_notify.h"
#include "portal/page_staff.h"
#include "portal/page_staff_chart.h"
#include "portal/staff_int.h"

#define LAG_US ((int64_t)STAFF_LIVE_LAG_S * 1000000)
#define BULK_ROWS 64 /* more residents changed in one pass: read them all at once */

struct seen_key {
	int64_t t;
	uint32_t n;
};

struct sub {
	struct staff_live *lv;
	struct watch *w;
	uint8_t session[32];
	struct buf q;       /* SSE text not sent yet, from q_off */
	size_t q_off;
	int64_t replay_us;  /* > 0: send the rows changed since then */
	int fresh;          /* the usage snapshot is not sent yet */
	int64_t last_out;   /* when the stream last sent something (monotonic ms) */
	int64_t checked_at; /* when the session was last checked (UTC s) */
	int ended;          /* end once q is sent */
	int gone;           /* the layer released the stream */
	struct sub *next;
};

struct watch {
	uint64_t batch;
	int loaded;
	struct notice_status *rows; /* in seq order */
	size_t n;
	uint8_t *scanner;
	int64_t high_us; /* the newest event seen */
	struct seen_key *seen; /* events of the last LAG_US, sorted */
	size_t nseen, cap;
	struct sub *subs;
	struct watch *next;
};

struct staff_live {
	pthread_mutex_t mu;
	pthread_t thread;
	int running, stop;
	struct store *st;
	int64_t idle;
	struct http_listener *listener;
	struct watch *watches;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- link scanners ---- */

int staff_live_scanner(const char *ua, int64_t delay)
{
	static const char *const marks[] = {
		"headless", "phantomjs", "python", "curl", "wget", "go-http-client", "java/",
		"okhttp", "libwww", "httpclient", "bot", "spider", "crawler", "scan", "preview",
		"proofpoint", "mimecast", "barracuda", "safelinks", "urldefense", "slurp",
	};
	char low[256];
	size_t i;

	if (delay < 0 || delay > STAFF_SCANNER_DELAY_S)
		return 0;
	if (ua == NULL || ua[0] == '\0')
		return 1;
	for (i = 0; ua[i] != '\0' && i < sizeof(low) - 1; i++)
		low[i] = (char)(ua[i] >= 'A' && ua[i] <= 'Z' ? ua[i] - 'A' + 'a' : ua[i]);
	low[i] = '\0';
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strstr(low, marks[i]) != NULL)
			return 1;
	return 0;
}

static int row_of(const struct notice_status *rows, size_t n, uint32_t seq, size_t *at)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rows[mid].seq == seq) {
			*at = mid;
			return 0;
		}
		if (rows[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct open_pick {
	const struct notice_status *rows;
	size_t n;
};

static int want_open(const struct notice_event_rec *ev, uint32_t n, void *arg)
{
	struct open_pick *p = arg;
	size_t at;
	(void)n;
	return ev->type == EV_OPEN && row_of(p->rows, p->n, ev->seq, &at) == 0;
}

int staff_live_scanner_flags(struct store *st, uint64_t batch, const struct notice_status *rows,
			     size_t n, uint8_t *flags, struct error *e)
{
	struct store_txn *t = NULL;
	struct notice_event_item *ev = NULL;
	struct open_pick pick = { rows, n };
	uint8_t *done = xcalloc(n ? n : 1, 1);
	size_t nev = 0, at;
	int ret = -1;

	memset(flags, 0, n);
	/* The rows are in seq order (a page of them): only their opens are
	 * checked by keys. */
	if (n == 0 || store_begin(st, 0, &t, e) < 0 ||
	    notice_events_list(t, batch, 0, want_open, &pick, &ev, &nev, e) < 0)
		goto out;
	for (size_t i = 0; i < nev; i++) {
		if (row_of(rows, n, ev[i].ev.seq, &at) < 0 || done[at])
			continue;
		done[at] = 1; /* the first open is the one that set "opened" */
		flags[at] = (uint8_t)staff_live_scanner(ev[i].ev.ua, ev[i].ev.delay);
	}
	ret = 0;
out:
	if (n == 0)
		ret = 0;
	store_abort(&t);
	free(ev);
	free(done);
	return ret;
}

/* ---- messages ---- */

/* s as a JSON string's contents (our own texts: UTF-8, no controls). */
static int json_str(struct buf *b, const char *s)
{
	for (; *s; s++) {
		int r;
		if (*s == '"' || *s == '\\')
			r = buf_append_u8(b, '\\') | buf_append_u8(b, (uint8_t)*s);
		else if ((unsigned char)*s < 0x20)
			r = buf_printf(b, "\\u%04x", (unsigned)(unsigned char)*s);
		else
			r = buf_append_u8(b, (uint8_t)*s);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* evs: the names of the events (of one pass) joined by commas, the last
 * one the latest. */
static int row_msg(struct buf *b, const struct notice_status *s, int scanner, const char *evs,
		   int64_t id_us)
{
	struct page_staff_row_text t;
	const char *last = strrchr(evs, ',');

	page_staff_row_text(s, scanner, &t);
	if ((id_us > 0 && buf_printf(b, "id: %lld\n", (long long)id_us) < 0) ||
	    buf_printf(b, "event: row\ndata: {\"seq\":%u,\"ev\":\"", s->seq) < 0 ||
	    json_str(b, last != NULL ? last + 1 : evs) < 0 || buf_append_str(b, "\",\"evs\":[\"") < 0)
		return -1;
	for (const char *p = evs; *p; p++)
		if ((*p == ',' ? buf_append_str(b, "\",\"") : buf_append_u8(b, (uint8_t)*p)) < 0)
			return -1;
	if (buf_append_str(b, "\"],\"state\":\"") < 0 ||
	    json_str(b, t.state) < 0 || buf_append_str(b, "\",\"contacts\":\"") < 0 ||
	    json_str(b, t.contacts) < 0 || buf_append_str(b, "\",\"sent\":\"") < 0 ||
	    json_str(b, t.sent) < 0 || buf_append_str(b, "\",\"opened\":\"") < 0 ||
	    json_str(b, t.opened) < 0 || buf_append_str(b, "\",\"downloaded\":\"") < 0 ||
	    json_str(b, t.downloaded) < 0 || buf_append_str(b, "\"}\n\n") < 0)
		return -1;
	return 0;
}

static int usage_msg(struct buf *b, const struct watch *w)
{
	struct page_staff_usage u;
	struct page_staff_counts c;
	char s[512];
	int64_t now = now_utc();

	page_staff_usage_of(w->rows, w->n, &u);
	staff_batch_count(&c, w->rows, w->n);
	page_staff_counts_text(&c, s, sizeof(s));
	if (buf_append_str(b, "event: usage\ndata: {\"counts\":\"") < 0 || json_str(b, s) < 0)
		return -1;
	for (size_t i = 0; page_staff_usage_names[i] != NULL; i++) {
		page_staff_usage_text(&u, page_staff_usage_names[i], s, sizeof(s));
		if (buf_printf(b, "\",\"%s\":\"", page_staff_usage_names[i]) < 0 ||
		    json_str(b, s) < 0)
			return -1;
	}
	time_format_jst(now, s, sizeof(s));
	return buf_printf(b, "\",\"at\":\"%.5s\"}\n\n", s + 11) < 0 ? -1 : 0;
}

/* ---- the watch of one batch (the live thread's own) ---- */

static int seen_find(const struct watch *w, int64_t t, uint32_t n, size_t *at)
{
	size_t lo = 0, hi = w->nseen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct seen_key *k = &w->seen[mid];
		if (k->t == t && k->n == n) {
			*at = mid;
			return 1;
		}
		if (k->t < t || (k->t == t && k->n < n))
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

static void seen_add(struct watch *w, int64_t t, uint32_t n)
{
	size_t at;

	if (seen_find(w, t, n, &at))
		return;
	if (w->nseen == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->seen = xrealloc(w->seen, w->cap * sizeof(*w->seen));
	}
	memmove(&w->seen[at + 1], &w->seen[at], (w->nseen - at) * sizeof(*w->seen));
	w->seen[at] = (struct seen_key){ t, n };
	w->nseen++;
}

static void seen_prune(struct watch *w)
{
	size_t drop = 0;

	while (drop < w->nseen && w->seen[drop].t < w->high_us - LAG_US)
		drop++;
	if (drop == 0)
		return;
	memmove(w->seen, w->seen + drop, (w->nseen - drop) * sizeof(*w->seen));
	w->nseen -= drop;
}

static int want_new(const struct notice_event_rec *ev, uint32_t n, void *arg)
{
	size_t at;
	return !seen_find(arg, ev->time_us, n, &at);
}

static int watch_load(struct staff_live *lv, struct watch *w, struct error *e)
{
	struct notice_status *rows = NULL;
	size_t n = 0;

	if (notice_statuses(lv->st, w->batch, now_utc(), &rows, &n, e) < 0)
		return -1;
	free(w->scanner);
	w->scanner = xcalloc(n ? n : 1, 1);
	if (staff_live_scanner_flags(lv->st, w->batch, rows, n, w->scanner, e) < 0) {
		free(rows);
		return -1;
	}
	free(w->rows);
	w->rows = rows;
	w->n = n;
	if (!w->loaded)
		w->high_us = real_us(); /* the last LAG_US of events are sent: harmless again */
	w->loaded = 1;
	return 0;
}

/* Read the residents the new events touched again and write their rows
 * into msgs. */
static int watch_apply(struct staff_live *lv, struct watch *w, const struct notice_event_item *ev,
		       size_t nev, struct buf *msgs, struct error *e)
{
	uint32_t *seqs = xcalloc(nev ? nev : 1, sizeof(*seqs));
	size_t ns = 0, at;
	int ret = -1;

	/* Each resident once, with its last event. */
	for (size_t i = 0; i < nev; i++) {
		size_t j;
		for (j = 0; j < ns && seqs[j] != ev[i].ev.seq; j++)
			;
		if (j == ns)
			seqs[ns++] = ev[i].ev.seq;
		if (ev[i].ev.type == EV_OPEN && row_of(w->rows, w->n, ev[i].ev.seq, &at) == 0 &&
		    w->rows[at].opened_at == 0)
			w->scanner[at] = (uint8_t)staff_live_scanner(ev[i].ev.ua, ev[i].ev.delay);
	}
	if (ns > BULK_ROWS) {
		struct notice_status *rows = NULL;
		size_t n = 0;
		if (notice_statuses(lv->st, w->batch, now_utc(), &rows, &n, e) < 0)
			goto out;
		if (n == w->n) {
			free(w->rows);
			w->rows = rows;
		} else {
			free(rows);
			if (watch_load(lv, w, e) < 0)
				goto out;
		}
	}
	for (size_t j = 0; j < ns; j++) {
		struct notice_status s;
		char names[512] = "";
		int64_t id = 0;
		if (row_of(w->rows, w->n, seqs[j], &at) < 0)
			continue;
		if (ns <= BULK_ROWS) {
			if (notice_status_one(lv->st, w->batch, seqs[j], now_utc(), &s, e) < 0)
				goto out;
			w->rows[at] = s;
		}
		for (size_t i = 0; i < nev; i++)
			if (ev[i].ev.seq == seqs[j] &&
			    strlen(names) + 16 < sizeof(names)) { /* names are short */
				str_fmt(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					names[0] ? "," : "", notice_event_name(ev[i].ev.type));
				id = ev[i].ev.time_us;
			}
		if (row_msg(msgs, &w->rows[at], w->scanner[at], names, id) < 0)
			goto out;
	}
	ret = 0;
out:
	free(seqs);
	return ret;
}

/* One pass over w: new events in msgs (empty when none). */
static int watch_poll(struct staff_live *lv, struct watch *w, struct buf *msgs, struct error *e)
{
	struct store_txn *t = NULL;
	struct notice_event_item *ev = NULL;
	size_t nev = 0;
	int r;

	if (store_begin(lv->st, 0, &t, e) < 0)
		return -1;
	r = notice_events_list(t, w->batch, w->high_us - LAG_US, want_new, w, &ev, &nev, e);
	store_abort(&t);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < nev; i++) {
		seen_add(w, ev[i].ev.time_us, ev[i].n);
		if (ev[i].ev.time_us > w->high_us)
			w->high_us = ev[i].ev.time_us;
	}
	seen_prune(w);
	r = nev > 0 ? watch_apply(lv, w, ev, nev, msgs, e) : 0;
	if (r == 0 && nev > 0)
		r = usage_msg(msgs, w);
	free(ev);
	return r;
}

/* The rows changed since sub's replay moment, and the usage. */
static int replay(struct staff_live *lv, struct watch *w, int64_t since_us, struct buf *out,
		  struct error *e)
{
	struct store_txn *t = NULL;
	struct notice_event_item *ev = NULL;
	size_t nev = 0, at;
	int r = 0;

	if (since_us > 0) {
		if (since_us < real_us() - (int64_t)STAFF_LIVE_REPLAY_S * 1000000)
			since_us = real_us() - (int64_t)STAFF_LIVE_REPLAY_S * 1000000;
		if (store_begin(lv->st, 0, &t, e) < 0)
			return -1;
		r = notice_events_list(t, w->batch, since_us, NULL, NULL, &ev, &nev, e);
		store_abort(&t);
		for (size_t i = 0; r == 0 && i < nev; i++) {
			int later = 0;
			for (size_t j = i + 1; j < nev && !later; j++)
				later = ev[j].ev.seq == ev[i].ev.seq;
			if (later || row_of(w->rows, w->n, ev[i].ev.seq, &at) < 0)
				continue; /* each resident once, at its last event */
			r = row_msg(out, &w->rows[at], w->scanner[at], notice_event_name(ev[i].ev.type),
				    ev[i].ev.time_us);
		}
		free(ev);
	}
	return r < 0 ? -1 : usage_msg(out, w);
}

/* ---- sessions ---- */

/* 1 while the session of hash h is alive (without prolonging it), 0 once
 * it is gone, idle too long or past its limit; -1 error (kept alive).
 * *staff is the account it belongs to. */
static int session_alive(struct staff_live *lv, const uint8_t h[32], uint64_t *staff,
			 struct error *e)
{
	uint8_t copy[1024];
	struct store_txn *t = NULL;
	const void *v;
	size_t vl = 0;
	int64_t now = now_utc();
	int r;

	if (store_begin(lv->st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_SESSIONS, h, 32, &v, &vl, e);
	if (r == 0 && vl > sizeof(copy))
		r = 1;
	if (r == 0)
		memcpy(copy, v, vl);
	store_abort(&t);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = notice_check_rec(lv->st, DB_SESSIONS, h, 32, copy, vl, e);
	if (r != 0)
		return r < 0 ? -1 : 0;
	*staff = rec_get_u64(copy, vl, NR_BATCH, 0);
	return (int64_t)rec_get_u64(copy, vl, NR_EXPIRES, 0) > now &&
	       (int64_t)rec_get_u64(copy, vl, NR_LAST_AT, 0) + lv->idle > now;
}

/* 1 while the stream may go on: the session alive, its account enabled
 * and still holding the view permission (an admin's change, a logout or
 * a password change elsewhere ends the stream, not only its next
 * reconnection); 0 end it; an error keeps it (checked again later). */
static int stream_allowed(struct staff_live *lv, const uint8_t h[32], struct error *e)
{
	struct staff s;
	uint64_t id = 0;
	int r = session_alive(lv, h, &id, e);

	if (r <= 0)
		return r < 0;
	r = staff_get(lv->st, id, &s, e);
	secure_wipe(s.pwhash, sizeof(s.pwhash));
	if (r != 0)
		return r < 0;
	return !s.disabled && (s.perms & PERM_VIEW) != 0;
}

/* ---- the live thread ---- */

static void queue_to(struct sub *s, const struct buf *msgs)
{
	if (s->ended || s->gone || msgs->len == 0)
		return;
	/* Sent bytes are dropped once the queue is half spent. */
	if (s->q_off > 0 && s->q_off >= s->q.len / 2) {
		memmove(s->q.data, s->q.data + s->q_off, s->q.len - s->q_off);
		s->q.len -= s->q_off;
		s->q_off = 0;
	}
	if (buf_append(&s->q, msgs->data, msgs->len) < 0)
		s->ended = 1; /* too slow a reader: it reconnects and is replayed */
}

static void watch_free(struct watch *w)
{
	free(w->rows);
	free(w->scanner);
	free(w->seen);
	free(w);
}

/* Under lv->mu: forget released streams and batches nobody watches; the
 * watches left, in *out (the caller frees it). */
static size_t reap(struct staff_live *lv, struct watch ***out)
{
	struct watch **ww = &lv->watches;
	size_t n = 0;

	*out = NULL;
	while (*ww != NULL) {
		struct watch *w = *ww;
		struct sub **ss = &w->subs;
		while (*ss != NULL) {
			struct sub *s = *ss;
			if (s->gone) {
				*ss = s->next;
				buf_free(&s->q);
				free(s);
			} else {
				ss = &s->next;
			}
		}
		if (w->subs == NULL) {
			*ww = w->next;
			watch_free(w);
			continue;
		}
		*out = xrealloc(*out, (n + 1) * sizeof(**out));
		(*out)[n++] = w;
		ww = &w->next;
	}
	return n;
}

/* The streams of w that need a snapshot or a session check now. */
static void subs_each(struct staff_live *lv, struct watch *w)
{
	struct error e = { { 0 }, 0 };
	struct buf out;
	int64_t now = now_utc();

	buf_init(&out, STAFF_LIVE_QUEUE_MAX);
	pthread_mutex_lock(&lv->mu);
	for (struct sub *s = w->subs; s != NULL; s = s->next) {
		int64_t since = s->replay_us;
		int fresh = s->fresh, check = now - s->checked_at >= STAFF_LIVE_SESSION_CHECK_S;
		uint8_t h[32];
		int alive = 1;
		if (s->gone || s->ended || (!fresh && !check))
			continue;
		memcpy(h, s->session, sizeof(h));
		s->fresh = 0;
		s->replay_us = 0;
		/* Streams are only freed by this thread: s outlives the unlock. */
		pthread_mutex_unlock(&lv->mu);
		buf_reset(&out);
		if (fresh && replay(lv, w, since, &out, &e) < 0)
			log_warn("event=live_replay_failed batch=%llu reason=\"%s\"",
				 (unsigned long long)w->batch, e.msg);
		if (check)
			alive = stream_allowed(lv, h, &e);
		pthread_mutex_lock(&lv->mu);
		if (check)
			s->checked_at = now;
		queue_to(s, &out);
		if (!alive)
			s->ended = 1;
	}
	pthread_mutex_unlock(&lv->mu);
	buf_free(&out);
}

static void watch_pass(struct staff_live *lv, struct watch *w)
{
	struct error e = { { 0 }, 0 };
	struct buf msgs;

	if (!w->loaded && watch_load(lv, w, &e) < 0) {
		log_warn("event=live_load_failed batch=%llu reason=\"%s\"",
			 (unsigned long long)w->batch, e.msg);
		return;
	}
	buf_init(&msgs, STAFF_LIVE_QUEUE_MAX);
	if (watch_poll(lv, w, &msgs, &e) < 0)
		log_warn("event=live_poll_failed batch=%llu reason=\"%s\"",
			 (unsigned long long)w->batch, e.msg);
	else if (msgs.len > 0) {
		pthread_mutex_lock(&lv->mu);
		for (struct sub *s = w->subs; s != NULL; s = s->next)
			if (!s->fresh) /* a fresh one gets all in its snapshot */
				queue_to(s, &msgs);
		pthread_mutex_unlock(&lv->mu);
	}
	buf_free(&msgs);
	subs_each(lv, w);
}

static void *live_main(void *arg)
{
	struct staff_live *lv = arg;
	uint64_t seen = live_seq();

	for (;;) {
		struct watch **ws;
		struct http_listener *l;
		size_t n;
		live_wait(&seen, STAFF_LIVE_POLL_MS);
		pthread_mutex_lock(&lv->mu);
		if (lv->stop) {
			pthread_mutex_unlock(&lv->mu);
			break;
		}
		n = reap(lv, &ws);
		l = lv->listener;
		pthread_mutex_unlock(&lv->mu);
		/* Watches are freed by this thread only (reap): safe unlocked. */
		for (size_t i = 0; i < n; i++)
			watch_pass(lv, ws[i]);
		free(ws);
		if (n > 0 && l != NULL)
			http_listener_wake(l);
	}
	return NULL;
}

/* ---- streams (the listener's threads) ---- */

static long stream_next(void *arg, char *out, size_t max)
{
	struct sub *s = arg;
	struct staff_live *lv = s->lv;
	int64_t now = mono_ms();
	long n = 0;

	pthread_mutex_lock(&lv->mu);
	if (s->q_off < s->q.len) {
		size_t left = s->q.len - s->q_off;
		n = (long)(left < max ? left : max);
		memcpy(out, s->q.data + s->q_off, (size_t)n);
		s->q_off += (size_t)n;
		if (s->q_off == s->q.len)
			s->q_off = s->q.len = 0;
	} else if (s->ended || lv->stop) {
		n = -1;
	} else if (now - s->last_out >= (int64_t)STAFF_LIVE_PING_S * 1000 && max >= 8) {
		/* A comment now and then: a browser that left is noticed. */
		memcpy(out, ": ping\n\n", 8);
		n = 8;
	}
	if (n > 0)
		s->last_out = now;
	pthread_mutex_unlock(&lv->mu);
	return n;
}

static void stream_release(void *arg)
{
	struct sub *s = arg;

	pthread_mutex_lock(&s->lv->mu);
	s->gone = 1; /* the live thread frees it */
	pthread_mutex_unlock(&s->lv->mu);
}

int staff_live_stream(struct staff_live *lv, uint64_t batch, const char *session_token,
		      int64_t since_us, struct http_response *resp)
{
	struct sub *s = xcalloc(1, sizeof(*s));
	struct watch *w;

	s->lv = lv;
	notice_token_hash(session_token, s->session);
	buf_init(&s->q, STAFF_LIVE_QUEUE_MAX);
	s->replay_us = since_us;
	s->fresh = 1;
	s->last_out = mono_ms();
	s->checked_at = now_utc();
	pthread_mutex_lock(&lv->mu);
	for (w = lv->watches; w != NULL && w->batch != batch; w = w->next)
		;
	if (w == NULL) {
		w = xcalloc(1, sizeof(*w));
		w->batch = batch;
		w->next = lv->watches;
		lv->watches = w;
	}
	s->w = w;
	s->next = w->subs;
	w->subs = s;
	/* The browser retries after 1 s when the stream ends; a comment now
	 * sends the headers at once. */
	buf_append_str(&s->q, "retry: 1000\n: tayori\n\n");
	pthread_mutex_unlock(&lv->mu);
	http_resp_header(resp, "X-Accel-Buffering", "no"); /* a proxy in front must not buffer it */
	http_stream_start(resp, "text/event-stream; charset=utf-8", stream_next, s, stream_release);
	live_notify(batch); /* the live thread sends the snapshot now */
	return 0;
}

/* ---- start and stop ---- */

int staff_live_start(struct store *st, int64_t idle, struct staff_live **out, struct error *e)
{
	struct staff_live *lv = xcalloc(1, sizeof(*lv));

	lv->st = st;
	lv->idle = idle;
	if (pthread_mutex_init(&lv->mu, NULL) != 0) {
		free(lv);
		return err_tmp(e, "cannot make a lock");
	}
	if (pthread_create(&lv->thread, NULL, live_main, lv) != 0) {
		pthread_mutex_destroy(&lv->mu);
		free(lv);
		return err_tmp(e, "cannot start the dashboard's live thread");
	}
	lv->running = 1;
	*out = lv;
	return 0;
}

void staff_live_set_listener(struct staff_live *lv, struct http_listener *l)
{
	pthread_mutex_lock(&lv->mu);
	lv->listener = l;
	pthread_mutex_unlock(&lv->mu);
}

void staff_live_stop(struct staff_live **plv)
{
	struct staff_live *lv = *plv;
	struct watch **ws = NULL;

	if (lv == NULL)
		return;
	pthread_mutex_lock(&lv->mu);
	lv->stop = 1;
	lv->listener = NULL;
	pthread_mutex_unlock(&lv->mu);
	live_notify(0);
	if (lv->running)
		pthread_join(lv->thread, NULL);
	/* The listener is stopped first (portal.c): every stream is released. */
	pthread_mutex_lock(&lv->mu);
	for (struct watch *w = lv->watches; w != NULL; w = w->next)
		for (struct sub *s = w->subs; s != NULL; s = s->next)
			s->gone = 1;
	reap(lv, &ws);
	pthread_mutex_unlock(&lv->mu);
	free(ws);
	pthread_mutex_destroy(&lv->mu);
	free(lv);
	*plv = NULL;
}
