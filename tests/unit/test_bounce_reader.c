/*
 * test_bounce_reader.c — the mailer's bounce reader (mailer/bounce_reader.c)
 * on a real tenant (keys process, LMDB store) and a real Maildir: the
 * bounce samples of the classifier's tests (tests/fuzz/corpus/bounce:
 * RFC 3464, Postfix, Exim, Sendmail, qmail, Exchange, Gmail, Yahoo,
 * docomo, au, SoftBank, auto-replies, an ARF complaint, ordinary mail),
 * each addressed to a return path the tenant's keys process made for its
 * own resident, are dropped into the Maildir; each must mark the right
 * resident with the right kind and status (read back with delivery_get),
 * or change nothing, and land in the right folder with its bytes intact.
 * A forged return path (wrong MAC, another batch or sequence, another
 * tenant's, another domain) changes nothing; a bounce for a message being
 * sent waits; ordinary mail is moved aside and still exists.
 * Runs as a cmocka test binary.
 *
 * `test_bounce_reader --imap DATA_DIR CONF` runs the reader of the tenant
 * in DATA_DIR with the settings in CONF against its IMAP mailbox until
 * the mailbox has been scanned once with nothing left to do, for
 * tests/integration/bounce_imap.sh; `test_bounce_reader --put DATA_DIR
 * BATCH SEQ STATE` writes one delivery and `--get DATA_DIR BATCH SEQ`
 * prints one ("state kind status attempts"), for the same script.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "lib/notice.h"
#include "mailer/bounce.h"
#include "mailer/bounce_reader.h"
#include "mailer/verp.h"
#include "tenant_fixture.h"

#define DOMAIN "ward.example.jp"
#define BATCH 42
/* The return path the samples were written with (a made-up MAC). */
#define SAMPLE_VERP "bounce+42-7-k7q2m4x9p3r8t6v1w5y0z2a4bc@" DOMAIN

/* The source tree (the samples are read from it): $TOP, else ".". */
static const char *top_dir(void)
{
	const char *top = getenv("TOP");
	return top != NULL ? top : ".";
}

/* One sample: its file, the kind it is, and what becomes of its resident. */
struct sample {
	const char *file;
	const char *kind;       /* bounce_kind_name */
	const char *status;     /* the DSN status kept, for bounced and deferred */
	enum delivery_state state; /* the delivery afterwards (SENT: unchanged) */
	int processed;          /* 1: .Processed, 0: .NotBounces */
};

static const struct sample samples[] = {
	{ "postfix-dsn.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "postfix-dsn-crlf.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "postfix-text.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "exim.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "sendmail.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "qmail.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "exchange-o365.eml", "hard", "5.1.10", DELIVERY_BOUNCED, 1 },
	{ "exchange-html.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "gmail.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "yahoo.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "docomo-iso2022jp.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "au-ezweb.eml", "hard", "5.1.0", DELIVERY_BOUNCED, 1 },
	{ "softbank-sjis.eml", "hard", "5.7.1", DELIVERY_BOUNCED, 1 },
	{ "nested-original.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "forwarded-bounce.eml", "hard", "5.1.1", DELIVERY_BOUNCED, 1 },
	{ "soft-and-hard.eml", "hard", "5.7.1", DELIVERY_BOUNCED, 1 },
	{ "au-com.eml", "soft", "5.2.2", DELIVERY_DEFERRED, 1 },
	{ "rfc3464-delayed.eml", "soft", "4.4.1", DELIVERY_DEFERRED, 1 },
	{ "rate-dsn.eml", "rate", "4.7.28", DELIVERY_DEFERRED, 1 },
	{ "out-of-office.eml", "auto-reply", "", DELIVERY_SENT, 1 },
	{ "automatic-reply.eml", "auto-reply", "", DELIVERY_SENT, 1 },
	{ "auto-submitted.eml", "auto-reply", "", DELIVERY_SENT, 1 },
	{ "jidou-outou.eml", "auto-reply", "", DELIVERY_SENT, 1 },
	{ "x-autoreply.eml", "auto-reply", "", DELIVERY_SENT, 1 },
	{ "precedence.eml", "auto-reply", "", DELIVERY_SENT, 1 },
	{ "arf.eml", "complaint", "", DELIVERY_SENT, 1 },
	{ "resident-reply.eml", "not-bounce", "", DELIVERY_SENT, 0 },
	{ "delivered-dsn.eml", "not-bounce", "", DELIVERY_SENT, 0 },
	{ "deep-multipart.eml", "not-bounce", "", DELIVERY_SENT, 0 },
	{ "plain.eml", "not-bounce", "", DELIVERY_SENT, 0 },
	{ "forged-verp.eml", "hard", "", DELIVERY_SENT, 0 },
	{ "invalid-final-recipient.eml", "hard", "", DELIVERY_SENT, 0 },
};
#define NSAMPLES ARRAY_SIZE(samples)

struct rig {
	struct fixture *f;
	struct conf *c;
	struct bounce_reader *br;
	char md[4200];
};

/* ---- helpers ---- */

static struct conf *make_conf(const char *dir, const char *extra)
{
	char text[2048];
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };
	str_fmt(text, sizeof(text),
		"[tenant]\nname = t\nid = t\n[paths]\ndata_dir = %s\n"
		"[mail]\nfrom = tayori@" DOMAIN "\nbounce_maildir = bounces\n%s",
		dir, extra != NULL ? extra : "");
	if (conf_parse(text, strlen(text), "t.conf", dir, &c, &e) < 0)
		fail_msg("conf: %s", e.msg);
	return c;
}

static int rig_setup(void **state)
{
	struct rig *r = xcalloc(1, sizeof(*r));
	struct error e = { { 0 }, 0 };
	if (setup((void **)&r->f) < 0)
		return -1;
	r->c = make_conf(r->f->dir, "[limits]\nmessage_size = 64K\n");
	if (bounce_reader_new(r->c, r->f->st, &r->br, &e) < 0) {
		fprintf(stderr, "bounce_reader_new: %s\n", e.msg);
		return -1;
	}
	str_fmt(r->md, sizeof(r->md), "%s/bounces", r->f->dir);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;
	bounce_reader_free(&r->br);
	conf_free(&r->c);
	teardown((void **)&r->f);
	free(r);
	return 0;
}

static void put_delivery(struct store *st, uint64_t batch, uint32_t seq,
			 enum delivery_state s, int64_t now)
{
	struct store_txn *t = NULL;
	struct delivery d;
	struct error e = { { 0 }, 0 };
	memset(&d, 0, sizeof(d));
	d.batch = batch;
	d.seq = seq;
	d.state = s;
	d.attempts = 1;
	d.contacts = s == DELIVERY_SENT ? 1 : 0;
	d.created = now - 7200;
	d.sent_at = s == DELIVERY_SENT ? now - 3600 : 0;
	d.last_at = now - 3600;
	str_copy(d.queue_id, "4ZQx1", sizeof(d.queue_id));
	str_copy(d.reply, "250 2.0.0 Ok: queued as 4ZQx1", sizeof(d.reply));
	if (store_begin(st, 1, &t, &e) < 0 || delivery_put(t, &d, &e) < 0 ||
	    store_commit(&t, &e) < 0)
		fail_msg("delivery_put %" PRIu32 ": %s", seq, e.msg);
}

static int get_delivery(struct store *st, uint64_t batch, uint32_t seq, struct delivery *d)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	int rc;
	if (store_begin(st, 0, &t, &e) < 0)
		fail_msg("store_begin: %s", e.msg);
	rc = delivery_get(t, batch, seq, d, &e);
	store_abort(&t);
	if (rc < 0)
		fail_msg("delivery_get %" PRIu32 ": %s", seq, e.msg);
	return rc;
}

/* The return path for (batch, seq) kc's tenant makes. */
static void verp_local(struct keys_client *kc, uint64_t batch, uint32_t seq, char *out,
		       size_t n)
{
	struct error e = { { 0 }, 0 };
	if (verp_address(kc, batch, seq, DOMAIN, out, n, &e) < 0)
		fail_msg("verp_address: %s", e.msg);
}

/* The sample's bytes with every SAMPLE_VERP replaced by local; caller frees. */
static char *sample_with(const char *file, const char *local, size_t *len)
{
	char path[4096];
	uint8_t *raw = NULL;
	size_t rl = 0, ll = strlen(local), sl = strlen(SAMPLE_VERP), o = 0;
	struct error e = { { 0 }, 0 };
	char *out;

	str_fmt(path, sizeof(path), "%s/tests/fuzz/corpus/bounce/%s", top_dir(), file);
	if (file_read_all(path, 1 << 20, &raw, &rl, &e) < 0)
		fail_msg("%s", e.msg);
	out = xmalloc(rl * 2 + 1);
	for (size_t i = 0; i < rl;) {
		if (i + sl <= rl && memcmp(raw + i, SAMPLE_VERP, sl) == 0) {
			memcpy(out + o, local, ll);
			o += ll;
			i += sl;
		} else {
			out[o++] = (char)raw[i++];
		}
	}
	out[o] = '\0';
	free(raw);
	*len = o;
	return out;
}

static void drop(const char *md, const char *sub, const char *name, const char *data, size_t len)
{
	char path[4400];
	struct error e = { { 0 }, 0 };
	str_fmt(path, sizeof(path), "%s/%s/%s", md, sub, name);
	if (file_write_atomic(path, data, len, 0600, &e) < 0)
		fail_msg("%s", e.msg);
}

/* Where a message named name is now: "new", "cur", "processed", "aside" or NULL.
 * Its bytes must be want (when found). */
static const char *where(const char *md, const char *name, const char *want, size_t wl)
{
	static const char *const dirs[][2] = {
		{ "new", "new" }, { "cur", "cur" },
		{ ".Processed/cur", "processed" }, { ".NotBounces/cur", "aside" },
	};
	const char *found = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char dir[4400];
		DIR *d;
		struct dirent *de;
		str_fmt(dir, sizeof(dir), "%s/%s", md, dirs[i][0]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			size_t nl = strlen(name);
			if (strncmp(de->d_name, name, nl) != 0 ||
			    (de->d_name[nl] != '\0' && de->d_name[nl] != ':' && de->d_name[nl] != '.'))
				continue;
			if (found != NULL)
				fail_msg("%s is in two places: %s and %s", name, found, dirs[i][1]);
			found = dirs[i][1];
			if (want != NULL) {
				char p[4800];
				uint8_t *got = NULL;
				size_t gl = 0;
				struct error e = { { 0 }, 0 };
				str_fmt(p, sizeof(p), "%s/%s", dir, de->d_name);
				assert_int_equal(file_read_all(p, 1 << 20, &got, &gl, &e), 0);
				assert_int_equal(gl, wl);
				assert_memory_equal(got, want, wl);
				free(got);
			}
		}
		closedir(d);
	}
	return found;
}

static int count_events(const struct notice_event_rec *ev, void *arg)
{
	size_t *n = arg;
	if (ev->type == EV_BOUNCED)
		n[0]++;
	else if (ev->type == EV_DEFERRED)
		n[1]++;
	return 0;
}

static void poll_once(struct rig *r, size_t want_handled)
{
	struct error e = { { 0 }, 0 };
	size_t handled = 0;
	if (bounce_reader_poll(r->br, &handled, &e) < 0)
		fail_msg("bounce_reader_poll: %s", e.msg);
	assert_int_equal(handled, want_handled);
}

/* ---- tests ---- */

/* Every sample, for its own resident: the right kind, status and folder. */
static void test_samples(void **state)
{
	struct rig *r = *state;
	struct delivery before[NSAMPLES], d;
	char local[EMAIL_MAX + 1], name[64];
	char *data[NSAMPLES];
	size_t len[NSAMPLES], ev[2] = { 0, 0 };
	int64_t t0 = now_utc(), t1;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };

	for (size_t i = 0; i < NSAMPLES; i++) {
		put_delivery(r->f->st, BATCH, (uint32_t)i + 1, DELIVERY_SENT, t0);
		assert_int_equal(get_delivery(r->f->st, BATCH, (uint32_t)i + 1, &before[i]), 0);
		verp_local(r->f->kc, BATCH, (uint32_t)i + 1, local, sizeof(local));
		data[i] = sample_with(samples[i].file, local, &len[i]);
		str_fmt(name, sizeof(name), "1765000000.S%02zu.test", i);
		drop(r->md, "new", name, data[i], len[i]);
	}
	poll_once(r, NSAMPLES);
	t1 = now_utc();
	for (size_t i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		const char *w;
		str_fmt(name, sizeof(name), "1765000000.S%02zu.test", i);
		w = where(r->md, name, data[i], len[i]);
		if (w == NULL || strcmp(w, s->processed ? "processed" : "aside") != 0)
			fail_msg("%s: in %s, not in %s", s->file, w ? w : "no folder",
				 s->processed ? "processed" : "aside");
		assert_int_equal(get_delivery(r->f->st, BATCH, (uint32_t)i + 1, &d), 0);
		if (d.state != s->state)
			fail_msg("%s: delivery %s, not %s", s->file, delivery_state_name(d.state),
				 delivery_state_name(s->state));
		if (s->state == DELIVERY_SENT) {
			/* nothing written: same version, same reply */
			assert_int_equal(d.version, before[i].version);
			assert_string_equal(d.reply, before[i].reply);
			assert_string_equal(d.bounce_kind, "");
			continue;
		}
		if (strcmp(d.bounce_kind, s->kind) != 0 || strcmp(d.bounce_status, s->status) != 0)
			fail_msg("%s: kind %s status %s, not %s %s", s->file, d.bounce_kind,
				 d.bounce_status, s->kind, s->status);
		assert_true(strncmp(d.reply, "bounce ", 7) == 0);
		assert_non_null(strstr(d.reply, s->status));
		assert_true(d.last_at >= t0 && d.last_at <= t1);
		assert_int_equal(d.sent_at, before[i].sent_at);
		assert_int_equal(d.contacts, before[i].contacts);
		if (s->state == DELIVERY_DEFERRED) {
			int64_t wait = strcmp(s->kind, "rate") == 0 ? BOUNCE_READER_RATE_RETRY
								   : BOUNCE_READER_SOFT_RETRY;
			assert_true(d.next_at >= t0 + wait && d.next_at <= t1 + wait);
			assert_int_equal(d.attempts, before[i].attempts + 1);
		} else {
			assert_int_equal(d.next_at, 0);
		}
	}
	/* One event for each delivery changed. */
	assert_int_equal(store_begin(r->f->st, 0, &t, &e), 0);
	assert_int_equal(notice_events_each(t, BATCH, 0, count_events, ev, &e), 0);
	store_abort(&t);
	assert_int_equal(ev[0], 16);
	assert_int_equal(ev[1], 3);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_BOUNCED), 16);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_DEFERRED), 3);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_RECORDED), 7);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_NOT_BOUNCE), 4);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_NO_VERP), 2);
	/* A second pass finds nothing: the Maildir's new/ and cur/ are empty. */
	poll_once(r, 0);
	for (size_t i = 0; i < NSAMPLES; i++)
		free(data[i]);
}

/* Return paths that are not the tenant's own for this resident change nothing. */
static void test_forged(void **state)
{
	struct rig *r = *state;
	struct fixture *g = NULL;
	struct delivery before, d;
	char good[EMAIL_MAX + 1], other[EMAIL_MAX + 1], l[EMAIL_MAX + 1];
	char forged[8][EMAIL_MAX + 1], name[64];
	const char *mac;
	size_t n = 0;

	put_delivery(r->f->st, BATCH, 100, DELIVERY_SENT, now_utc());
	assert_int_equal(get_delivery(r->f->st, BATCH, 100, &before), 0);
	verp_local(r->f->kc, BATCH, 100, good, sizeof(good));
	mac = strrchr(good, '-') + 1;
	/* the MAC of (42, 100) under batch 43, and under sequence 101 */
	str_fmt(forged[n++], sizeof(forged[0]), "bounce+43-100-%s", mac); /* mac ends in @DOMAIN */
	verp_local(r->f->kc, BATCH, 101, l, sizeof(l));
	str_fmt(forged[n++], sizeof(forged[0]), "bounce+42-100-%.*s@" DOMAIN, VERP_MAC_LEN,
		strrchr(l, '-') + 1);
	/* one character of the MAC changed */
	str_copy(forged[n], good, sizeof(forged[0]));
	{
		char *last = strchr(forged[n], '@') - 1;
		*last = *last == 'a' ? 'b' : 'a';
	}
	n++;
	/* another tenant's return path for the same batch and sequence */
	assert_int_equal(setup((void **)&g), 0);
	verp_local(g->kc, BATCH, 100, other, sizeof(other));
	teardown((void **)&g);
	str_copy(forged[n++], other, sizeof(forged[0]));
	/* ours and valid, at another domain: not this tenant's bounce address */
	str_copy(forged[n], good, sizeof(forged[0]));
	str_copy(strchr(forged[n], '@'), "@other.example", 20);
	n++;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		/* a hard bounce (Gmail) to the forged return path */
		char *data = sample_with("gmail.eml", forged[i], &len);
		str_fmt(name, sizeof(name), "1765000100.F%zu.test", i);
		drop(r->md, "new", name, data, len);
		poll_once(r, 1);
		if (strcmp(where(r->md, name, data, len), "aside") != 0)
			fail_msg("forged return path %zu: not moved aside", i);
		assert_int_equal(get_delivery(r->f->st, BATCH, 100, &d), 0);
		assert_int_equal(d.state, DELIVERY_SENT);
		assert_int_equal(d.version, before.version);
		free(data);
	}
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_FORGED), 4);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_NO_VERP), 1);
	/* A valid return path naming no delivery: aside too. */
	{
		size_t len;
		char *data;
		verp_local(r->f->kc, BATCH, 999, l, sizeof(l));
		data = sample_with("gmail.eml", l, &len);
		drop(r->md, "new", "1765000200.U.test", data, len);
		poll_once(r, 1);
		assert_string_equal(where(r->md, "1765000200.U.test", data, len), "aside");
		assert_int_equal(get_delivery(r->f->st, BATCH, 999, &d), 1);
		assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_UNKNOWN), 1);
		free(data);
	}
	/* And the genuine one still works. */
	{
		size_t len;
		char *data = sample_with("gmail.eml", good, &len);
		drop(r->md, "new", "1765000300.G.test", data, len);
		poll_once(r, 1);
		assert_string_equal(where(r->md, "1765000300.G.test", data, len), "processed");
		assert_int_equal(get_delivery(r->f->st, BATCH, 100, &d), 0);
		assert_int_equal(d.state, DELIVERY_BOUNCED);
		free(data);
	}
}

/* A hard bounce for a message being sent waits for that attempt's outcome;
 * one for a delivery already bounced, or a soft one after it, changes nothing. */
static void test_being_sent_and_repeated(void **state)
{
	struct rig *r = *state;
	struct delivery d, bounced;
	char l[EMAIL_MAX + 1];
	size_t len, slen;
	char *hard, *soft;

	put_delivery(r->f->st, BATCH, 200, DELIVERY_SENDING, now_utc());
	verp_local(r->f->kc, BATCH, 200, l, sizeof(l));
	hard = sample_with("postfix-dsn.eml", l, &len);
	soft = sample_with("rfc3464-delayed.eml", l, &slen);
	drop(r->md, "new", "1765000400.H1.test", hard, len);
	poll_once(r, 0);
	assert_string_equal(where(r->md, "1765000400.H1.test", hard, len), "new");
	assert_int_equal(get_delivery(r->f->st, BATCH, 200, &d), 0);
	assert_int_equal(d.state, DELIVERY_SENDING);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_LATER), 1);
	/* the mailer records the attempt: the next pass applies the bounce */
	put_delivery(r->f->st, BATCH, 200, DELIVERY_SENT, now_utc());
	poll_once(r, 1);
	assert_string_equal(where(r->md, "1765000400.H1.test", hard, len), "processed");
	assert_int_equal(get_delivery(r->f->st, BATCH, 200, &bounced), 0);
	assert_int_equal(bounced.state, DELIVERY_BOUNCED);
	/* the same bounce again (a message read twice), and a soft one, from cur/ */
	drop(r->md, "cur", "1765000400.H2.test:2,S", hard, len);
	drop(r->md, "cur", "1765000400.S1.test:2,", soft, slen);
	poll_once(r, 2);
	assert_string_equal(where(r->md, "1765000400.H2.test", hard, len), "processed");
	assert_string_equal(where(r->md, "1765000400.S1.test", soft, slen), "processed");
	assert_int_equal(get_delivery(r->f->st, BATCH, 200, &d), 0);
	assert_int_equal(d.state, DELIVERY_BOUNCED);
	assert_int_equal(d.version, bounced.version);
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_UNCHANGED), 2);
	free(hard);
	free(soft);
}

/* Ordinary mail is moved aside, never deleted, even under a taken name;
 * a message above message_size is moved aside unread; links, folders and
 * hidden files are left alone. */
static void test_aside_never_deleted(void **state)
{
	struct rig *r = *state;
	char path[4400], big[70 * 1024], target[4400];
	size_t len;
	char *plain = sample_with("plain.eml", "x", &len);
	struct stat sb;

	/* a file of that name is already aside */
	str_fmt(target, sizeof(target), "%s/.NotBounces/cur/1765000500.P.test:2,S", r->md);
	{
		struct error e = { { 0 }, 0 };
		assert_int_equal(file_write_atomic(target, "earlier", 7, 0600, &e), 0);
	}
	drop(r->md, "new", "1765000500.P.test", plain, len);
	memset(big, 'a', sizeof(big));
	memcpy(big, "Subject: big\r\n\r\n", 16);
	drop(r->md, "new", "1765000501.B.test", big, sizeof(big));
	str_fmt(path, sizeof(path), "%s/new/1765000502.L.test", r->md);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	str_fmt(path, sizeof(path), "%s/new/.hidden", r->md);
	{
		struct error e = { { 0 }, 0 };
		assert_int_equal(file_write_atomic(path, "x", 1, 0600, &e), 0);
	}
	poll_once(r, 2);
	/* both the earlier file and the new one are there */
	{
		uint8_t *got = NULL;
		size_t gl = 0;
		struct error e = { { 0 }, 0 };
		assert_int_equal(file_read_all(target, 100, &got, &gl, &e), 0);
		assert_int_equal(gl, 7);
		free(got);
		str_fmt(path, sizeof(path), "%s/.NotBounces/cur/1765000500.P.test.1:2,S", r->md);
		assert_int_equal(file_read_all(path, 1 << 20, &got, &gl, &e), 0);
		assert_int_equal(gl, len);
		assert_memory_equal(got, plain, len);
		free(got);
	}
	assert_string_equal(where(r->md, "1765000501.B.test", big, sizeof(big)), "aside");
	assert_int_equal(bounce_reader_count(r->br, BOUNCE_OUT_TOO_BIG), 1);
	str_fmt(path, sizeof(path), "%s/new/1765000502.L.test", r->md);
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	str_fmt(path, sizeof(path), "%s/new/.hidden", r->md);
	assert_int_equal(lstat(path, &sb), 0);
	free(plain);
}

/* The main loop's call reads the Maildir at once, then every imap_poll. */
static void test_step(void **state)
{
	struct rig *r = *state;
	struct error e = { { 0 }, 0 };
	size_t len;
	char *plain = sample_with("plain.eml", "x", &len);

	assert_int_equal(bounce_reader_next_ms(r->br), 0);
	drop(r->md, "new", "1765000600.A.test", plain, len);
	assert_int_equal(bounce_reader_step(r->br, 0, &e), 0);
	assert_string_equal(where(r->md, "1765000600.A.test", plain, len), "aside");
	/* not before [mail] imap_poll (60 s by default) has passed */
	drop(r->md, "new", "1765000601.B.test", plain, len);
	assert_int_equal(bounce_reader_step(r->br, 0, &e), 0);
	assert_string_equal(where(r->md, "1765000601.B.test", plain, len), "new");
	assert_true(bounce_reader_next_ms(r->br) > 50 * 1000);
	assert_int_equal(bounce_reader_fd(r->br), -1); /* no IMAP mailbox */
	free(plain);
}

/* Made as root (the mailer before it leaves root), the Maildir's folders
 * belong to the owner of the folder they are made in. */
static void test_prepare_owner(void **state)
{
	struct rig *r = *state;
	struct error e = { { 0 }, 0 };
	char parent[4200], extra[4400], md[4096], p[4400];
	static const char *const made[] = { "", "/new", "/cur", "/tmp", "/.NotBounces",
					    "/.NotBounces/cur", "/.Processed/new" };
	struct conf *c;
	struct stat sb;

	if (geteuid() != 0)
		skip();
	str_fmt(parent, sizeof(parent), "%s/staffdir", r->f->dir);
	assert_int_equal(mkdir(parent, 0700), 0);
	assert_int_equal(chown(parent, 65534, 65534), 0);
	str_fmt(extra, sizeof(extra), "bounce_maildir = %s/bounces2\n", parent);
	/* make_conf sets bounce_maildir already: a conf of its own */
	{
		char text[4600];
		str_fmt(text, sizeof(text), "[tenant]\nname = t\nid = t\n[mail]\n%s", extra);
		assert_int_equal(conf_parse(text, strlen(text), "t.conf", r->f->dir, &c, &e), 0);
	}
	assert_int_equal(bounce_reader_prepare(c, md, sizeof(md), &e), 0);
	for (size_t i = 0; i < ARRAY_SIZE(made); i++) {
		str_fmt(p, sizeof(p), "%s/bounces2%s", parent, made[i]);
		assert_int_equal(lstat(p, &sb), 0);
		assert_true(S_ISDIR(sb.st_mode));
		if (sb.st_uid != 65534 || sb.st_gid != 65534)
			fail_msg("%s belongs to %u:%u", p, (unsigned)sb.st_uid, (unsigned)sb.st_gid);
	}
	conf_free(&c);
}

static void test_settings(void **state)
{
	struct rig *r = *state;
	struct error e = { { 0 }, 0 };
	struct conf *c;
	struct bounce_reader *br = NULL;
	char dom[256];
	static const struct { const char *extra, *want; } bad[] = {
		{ "bounce_imap_aside = a/b\n", "[mail] bounce_imap_aside: \"a/b\" cannot name" },
		{ "bounce_imap_processed = .x\n", "[mail] bounce_imap_processed: \".x\" cannot name" },
		{ "bounce_imap_aside = Processed\n", "[mail] bounce_imap_processed and bounce_imap_aside must differ" },
		{ "bounce_imap_url = imap://127.0.0.1:1/INBOX\n", "[mail] bounce_imap_user is empty" },
		{ "bounce_imap_url = imap://127.0.0.1:1/INBOX\nbounce_imap_user = u\n"
		  "bounce_imap_password_env = TAYORI_TEST_UNSET_PW\n",
		  "the IMAP password variable named by [mail] bounce_imap_password_env is not set" },
	};

	/* the domain: bounce_domain, else that of from, lower-cased */
	{
		const char *text = "[tenant]\nname = t\nid = t\n[mail]\nfrom = Ward@Mail.Example.JP\n";
		assert_int_equal(conf_parse(text, strlen(text), "t.conf", r->f->dir, &c, &e), 0);
		assert_int_equal(bounce_reader_domain(c, dom, sizeof(dom), &e), 0);
		assert_string_equal(dom, "mail.example.jp");
		conf_free(&c);
	}
	c = make_conf(r->f->dir, "bounce_domain = Bounces.Example.JP\n");
	assert_int_equal(bounce_reader_domain(c, dom, sizeof(dom), &e), 0);
	assert_string_equal(dom, "bounces.example.jp");
	conf_free(&c);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		c = make_conf(r->f->dir, bad[i].extra);
		assert_int_equal(bounce_reader_new(c, r->f->st, &br, &e), -1);
		assert_null(br);
		if (strncmp(e.msg, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("wanted \"%s\", got \"%s\"", bad[i].want, e.msg);
		conf_free(&c);
	}
	/* neither source: a reader that does nothing */
	{
		char text[512];
		str_fmt(text, sizeof(text), "[tenant]\nname = t\nid = t\n[paths]\ndata_dir = %s\n",
			r->f->dir);
		assert_int_equal(conf_parse(text, strlen(text), "t.conf", r->f->dir, &c, &e), 0);
		assert_int_equal(bounce_reader_new(c, r->f->st, &br, &e), 0);
		assert_false(bounce_reader_enabled(br));
		assert_int_equal(bounce_reader_step(br, 0, &e), 0);
		bounce_reader_free(&br);
		conf_free(&c);
	}
	assert_true(bounce_reader_enabled(r->br));
}

/* ---- the integration script's helpers (no cmocka) ---- */

struct tenant {
	struct keys_client *kc;
	pid_t pid;
	struct store *st;
};

static int tenant_open(const char *dir, struct tenant *tn)
{
	struct error e = { { 0 }, 0 };
	memset(tn, 0, sizeof(*tn));
	if (keys_spawn(dir, NULL, NULL, &tn->kc, &tn->pid, &e) < 0 ||
	    store_open(dir, tn->kc, 0, &tn->st, &e) < 0) {
		fprintf(stderr, "test_bounce_reader: %s\n", e.msg);
		if (tn->kc != NULL)
			keys_spawn_wait(&tn->kc, tn->pid);
		return -1;
	}
	return 0;
}

static void tenant_close(struct tenant *tn)
{
	store_close(&tn->st);
	keys_spawn_wait(&tn->kc, tn->pid);
}

/* --put DIR BATCH SEQ: one delivery, sent an hour ago. */
static int cmd_put(char **argv)
{
	struct tenant tn;
	struct store_txn *t = NULL;
	struct delivery d;
	struct error e = { { 0 }, 0 };
	int64_t b, s;
	int rc = 3;

	if (parse_int64(argv[3], 1, INT64_MAX, &b) < 0 || parse_int64(argv[4], 1, VERP_SEQ_MAX, &s) < 0)
		return 2;
	if (tenant_open(argv[2], &tn) < 0)
		return 3;
	memset(&d, 0, sizeof(d));
	d.batch = (uint64_t)b;
	d.seq = (uint32_t)s;
	d.state = DELIVERY_SENT;
	d.attempts = d.contacts = 1;
	d.created = now_utc() - 7200;
	d.sent_at = d.last_at = now_utc() - 3600;
	if (store_begin(tn.st, 1, &t, &e) == 0 && delivery_put(t, &d, &e) == 0 &&
	    store_commit(&t, &e) == 0)
		rc = 0;
	else
		fprintf(stderr, "test_bounce_reader: %s\n", e.msg);
	store_abort(&t);
	tenant_close(&tn);
	return rc;
}

/* --get DIR BATCH SEQ: "STATE KIND STATUS" of one delivery ("none" when absent). */
static int cmd_get(char **argv)
{
	struct tenant tn;
	struct store_txn *t = NULL;
	struct delivery d;
	struct error e = { { 0 }, 0 };
	int64_t b, s;
	int rc;

	if (parse_int64(argv[3], 1, INT64_MAX, &b) < 0 || parse_int64(argv[4], 1, VERP_SEQ_MAX, &s) < 0)
		return 2;
	if (tenant_open(argv[2], &tn) < 0)
		return 3;
	rc = store_begin(tn.st, 0, &t, &e) < 0 ? -1 : delivery_get(t, (uint64_t)b, (uint32_t)s, &d, &e);
	store_abort(&t);
	tenant_close(&tn);
	if (rc < 0) {
		fprintf(stderr, "test_bounce_reader: %s\n", e.msg);
		return 3;
	}
	if (rc > 0)
		printf("none\n");
	else
		printf("%s %s %s\n", delivery_state_name(d.state), d.bounce_kind[0] ? d.bounce_kind : "-",
		       d.bounce_status[0] ? d.bounce_status : "-");
	return 0;
}

/* --imap DIR CONF N SECONDS: run the reader of tenant DIR until N messages
 * have been handled (moved) or SECONDS have passed; prints the outcomes. */
static int cmd_imap(char **argv)
{
	struct tenant tn;
	struct conf *c = NULL;
	struct bounce_reader *br = NULL;
	struct error e = { { 0 }, 0 };
	int64_t want, secs, end;
	size_t done = 0;
	int rc = 1;

	if (parse_int64(argv[4], 0, 100000, &want) < 0 || parse_int64(argv[5], 1, 600, &secs) < 0)
		return 2;
	log_init("mailer", 0, LOG_LVL_INFO);
	if (conf_load(argv[3], &c, &e) < 0) {
		fprintf(stderr, "test_bounce_reader: %s\n", e.msg);
		return 2;
	}
	if (tenant_open(argv[2], &tn) < 0) {
		conf_free(&c);
		return 3;
	}
	if (bounce_reader_new(c, tn.st, &br, &e) < 0) {
		fprintf(stderr, "test_bounce_reader: %s\n", e.msg);
		goto out;
	}
	end = now_utc() + secs;
	while (now_utc() < end) {
		if (bounce_reader_step(br, 500, &e) < 0)
			fprintf(stderr, "test_bounce_reader: step: %s\n", e.msg);
		done = 0;
		for (int o = 0; o < BOUNCE_OUT_COUNT; o++)
			if (o != BOUNCE_OUT_LATER)
				done += bounce_reader_count(br, (enum bounce_outcome)o);
		if (done >= (size_t)want) {
			rc = 0;
			break;
		}
	}
	for (int o = 0; o < BOUNCE_OUT_COUNT; o++)
		printf("%s %zu\n", bounce_outcome_name((enum bounce_outcome)o),
		       bounce_reader_count(br, (enum bounce_outcome)o));
out:
	bounce_reader_free(&br);
	tenant_close(&tn);
	conf_free(&c);
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_samples, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_forged, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_being_sent_and_repeated, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_aside_never_deleted, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_step, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_prepare_owner, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_settings, rig_setup, rig_teardown),
	};
	if (argc == 5 && strcmp(argv[1], "--put") == 0)
		return cmd_put(argv);
	if (argc == 5 && strcmp(argv[1], "--get") == 0)
		return cmd_get(argv);
	if (argc == 6 && strcmp(argv[1], "--imap") == 0)
		return cmd_imap(argv);
	log_set_stderr_min(LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
