/*
 * test_notice.c — unit tests for lib/notice*.c against a real LMDB store and
 * a real keys process: notice codes (the check symbol catches every
 * single-symbol substitution and every adjacent transposition; what a
 * resident types in full width, lower case or with other dashes reads
 * back), link tokens, deliveries, access records, codes and events round
 * trip, and records forged with raw LMDB writes (no keys process) are
 * refused.  Runs as a stand-alone cmocka program; forks a keys process per
 * test; uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/util.h"

#include "tenant_fixture.h"

static const char sym[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static struct store_txn *begin(struct fixture *f, int write)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	if (store_begin(f->st, write, &t, &e) < 0)
		fail_msg("begin: %s", e.msg);
	return t;
}

static void commit(struct store_txn **t)
{
	struct error e = { { 0 }, 0 };
	if (store_commit(t, &e) < 0)
		fail_msg("commit: %s", e.msg);
}

/* ---- codes and tokens (pure) ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

static int reads(const char *s)
{
	char canon[NOTICE_CODE_SYMBOLS + 1];
	return notice_code_read(s, canon) == 0;
}

/* Every single-symbol change and every adjacent swap of the 12 symbols in
 * code is refused; returns how many swaps were left undetected. */
static int check_code(const char *code)
{
	char c[NOTICE_CODE_SYMBOLS + 1];
	int missed = 0;

	str_copy(c, code, sizeof(c));
	assert_true(reads(c));
	for (int i = 0; i < NOTICE_CODE_SYMBOLS; i++) {
		char keep = c[i];
		for (int s = 0; s < 32; s++) {
			if (sym[s] == keep)
				continue;
			c[i] = sym[s];
			if (reads(c))
				fail_msg("substitution at %d (%c -> %c) in %s not caught", i, keep,
					 sym[s], code);
		}
		c[i] = keep;
	}
	for (int i = 0; i + 1 < NOTICE_CODE_SYMBOLS; i++) {
		char a = c[i], b = c[i + 1];
		if (a == b)
			continue;
		c[i] = b;
		c[i + 1] = a;
		missed += reads(c);
		c[i] = a;
		c[i + 1] = b;
	}
	return missed;
}

/* The canonical form of a code written XXXX-XXXX-XXXX. */
static void canon_of(const char *code, char out[NOTICE_CODE_SYMBOLS + 1])
{
	size_t o = 0;
	for (const char *p = code; *p; p++)
		if (*p != '-')
			out[o++] = *p;
	out[o] = '\0';
}

static void test_code_check_symbol(void **state)
{
	char code[NOTICE_CODE_TEXT + 1], canon[NOTICE_CODE_SYMBOLS + 1];
	struct error e = { { 0 }, 0 };
	int blind = 0;
	(void)state;

	/* Codes from the CSPRNG: every substitution and swap caught. */
	for (int n = 0; n < 500; n++) {
		assert_int_equal(notice_code_new(code, &e), 0);
		assert_int_equal(strlen(code), 14); /* XXXX-XXXX-XXXX */
		assert_true(code[4] == '-' && code[9] == '-');
		canon_of(code, canon);
		assert_int_equal(check_code(canon), 0);
	}
	/* 11 symbols from a fixed seed: exactly one check symbol completes
	 * them, and it catches every substitution; swaps are caught except
	 * 0 beside Z, Luhn mod 32's one blind pair, which codes never hold. */
	for (int n = 0; n < 2000; n++) {
		int found = 0, pair = 0;
		char c[NOTICE_CODE_SYMBOLS + 1];
		for (int i = 0; i < NOTICE_CODE_SYMBOLS - 1; i++)
			c[i] = sym[rng() % 32];
		c[NOTICE_CODE_SYMBOLS] = '\0';
		for (int s = 0; s < 32; s++) {
			c[NOTICE_CODE_SYMBOLS - 1] = sym[s];
			if (reads(c)) {
				found++;
				str_copy(canon, c, sizeof(canon));
			}
		}
		assert_int_equal(found, 1);
		for (int i = 0; i + 1 < NOTICE_CODE_SYMBOLS; i++)
			pair |= (canon[i] == '0' && canon[i + 1] == 'Z') ||
				(canon[i] == 'Z' && canon[i + 1] == '0');
		if (pair)
			blind += check_code(canon) > 0;
		else
			assert_int_equal(check_code(canon), 0);
	}
	assert_true(blind > 0); /* the blind pair is real: hence the redraw */
}

static void test_code_forms(void **state)
{
	char code[NOTICE_CODE_TEXT + 1], canon[NOTICE_CODE_SYMBOLS + 1], want[16];
	char typed[256];
	struct error e = { { 0 }, 0 };
	size_t o;
	(void)state;

	/* A fixed valid code with O, I and L look-alikes in it: 0, 1, 1. */
	for (int n = 0; n < 200; n++) {
		assert_int_equal(notice_code_new(code, &e), 0);
		canon_of(code, want);
		/* lower case, no hyphens */
		for (o = 0; want[o]; o++)
			typed[o] = (char)(want[o] >= 'A' ? want[o] - 'A' + 'a' : want[o]);
		typed[o] = '\0';
		assert_int_equal(notice_code_read(typed, canon), 0);
		assert_string_equal(canon, want);
		/* full width, with a full-width hyphen, ー and an ideographic space */
		o = 0;
		for (int i = 0; want[i]; i++) {
			unsigned cp = 0xFF00u + (unsigned)want[i] - 0x20u;
			if (i == 4)
				o += (size_t)snprintf(typed + o, sizeof(typed) - o, "\xEF\xBC\x8D");
			if (i == 8)
				o += (size_t)snprintf(typed + o, sizeof(typed) - o,
						      "\xE3\x83\xBC\xE3\x80\x80");
			typed[o++] = (char)(0xE0 | cp >> 12);
			typed[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			typed[o++] = (char)(0x80 | (cp & 0x3F));
		}
		typed[o] = '\0';
		assert_int_equal(notice_code_read(typed, canon), 0);
		assert_string_equal(canon, want);
		/* spaces and the hyphenated form */
		snprintf(typed, sizeof(typed), "  %.4s %.4s-%.4s ", want, want + 4, want + 8);
		assert_int_equal(notice_code_read(typed, canon), 0);
		assert_string_equal(canon, want);
		/* O for 0, I and l for 1 */
		str_copy(typed, want, sizeof(typed));
		for (o = 0; typed[o]; o++)
			if (typed[o] == '0')
				typed[o] = 'O';
			else if (typed[o] == '1')
				typed[o] = (o & 1) ? 'I' : 'l';
		assert_int_equal(notice_code_read(typed, canon), 0);
		assert_string_equal(canon, want);
	}
	assert_int_equal(notice_code_read("", canon), -1);
	assert_int_equal(notice_code_read("0000-0000-000", canon), -1);
	assert_int_equal(notice_code_read("0000-0000-00000", canon), -1);
	assert_int_equal(notice_code_read("U000-0000-0000", canon), -1);
	assert_int_equal(notice_code_read("\xff\xfe", canon), -1);
	assert_int_equal(notice_code_read("保護番号", canon), -1);
}

static void test_tokens(void **state)
{
	enum { N = 2000 };
	char(*tok)[NOTICE_TOKEN_LEN + 1] = xcalloc(N, sizeof(*tok));
	struct error e = { { 0 }, 0 };
	uint8_t h1[32], h2[32];
	(void)state;

	for (int i = 0; i < N; i++) {
		assert_int_equal(notice_token_new(tok[i], &e), 0);
		assert_int_equal(strlen(tok[i]), NOTICE_TOKEN_LEN);
		assert_int_equal(notice_token_shape(tok[i]), 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(tok[i], tok[j]);
	}
	notice_token_hash(tok[0], h1);
	crypt_sha256(tok[0], NOTICE_TOKEN_LEN, h2);
	assert_memory_equal(h1, h2, 32);
	assert_int_equal(notice_token_shape(""), -1);
	assert_int_equal(notice_token_shape("AAAAAAAAAAAAAAAAAAAAA"), -1);   /* 21 */
	assert_int_equal(notice_token_shape("AAAAAAAAAAAAAAAAAAAAAAA"), -1); /* 23 */
	assert_int_equal(notice_token_shape("AAAAAAAAAAAAAAAAAAAAA+"), -1);
	assert_int_equal(notice_token_shape("AAAAAAAAAAAAAAAAAAAAAB"), -1); /* stray bits */
	assert_int_equal(notice_token_shape("AAAAAAAAAAAAAAAAAAAA_w"), 0);
	free(tok);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(delivery_state_name(DELIVERY_QUEUED), "queued");
	assert_string_equal(delivery_state_name(DELIVERY_BOUNCED), "bounced");
	assert_string_equal(notice_event_name(EV_OPEN), "open");
	assert_string_equal(notice_event_name(EV_REMINDED), "reminded");
	assert_string_equal(notice_event_name((enum notice_event)99), "?");
}

/* ---- records in the store ---- */

static void put_delivery(struct fixture *f, uint64_t batch, uint32_t seq,
			 enum delivery_state s)
{
	struct store_txn *t = begin(f, 1);
	struct error e = { { 0 }, 0 };
	struct delivery d;
	int r = delivery_get(t, batch, seq, &d, &e);
	assert_true(r == 0 || r == 1);
	d.state = s;
	d.attempts++;
	d.created = 1790000000;
	d.sent_at = s == DELIVERY_SENT ? 1790000100 : 0;
	d.contacts = s == DELIVERY_SENT ? 1 : 0;
	str_copy(d.queue_id, "4ABC123", sizeof(d.queue_id));
	str_copy(d.reply, "250 2.0.0 Ok: queued", sizeof(d.reply));
	if (delivery_put(t, &d, &e) < 0)
		fail_msg("delivery_put: %s", e.msg);
	commit(&t);
}

static void test_delivery_access_round_trip(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct delivery d;
	struct notice_access a;

	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 7, 1, &d, &e), 1);
	assert_int_equal(access_get(t, 7, 1, &a, &e), 1);
	assert_true(a.batch == 7 && a.seq == 1 && a.downloaded_at == 0);
	store_abort(&t);

	put_delivery(f, 7, 1, DELIVERY_QUEUED);
	put_delivery(f, 7, 1, DELIVERY_SENT);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 7, 1, &d, &e), 0);
	assert_int_equal(d.state, DELIVERY_SENT);
	assert_int_equal(d.attempts, 2);
	assert_int_equal(d.contacts, 1);
	assert_int_equal(d.sent_at, 1790000100);
	assert_int_equal(d.version, 2);
	assert_string_equal(d.queue_id, "4ABC123");
	assert_string_equal(d.reply, "250 2.0.0 Ok: queued");
	assert_int_equal(delivery_get(t, 7, 2, &d, &e), 1);
	store_abort(&t);

	t = begin(f, 1);
	assert_int_equal(access_get(t, 7, 1, &a, &e), 1);
	a.opened_at = 1790000200;
	a.downloaded_at = 1790000300;
	a.failures = 2;
	a.locked = 1;
	memset(a.otp_hash, 0xAB, sizeof(a.otp_hash));
	a.consent = CONSENT_DECLINED;
	str_copy(a.terms, "2026-04", sizeof(a.terms));
	a.cert_downloads = 3;
	a.auth_at = 1790000250;
	assert_int_equal(access_put(t, &a, &e), 0);
	commit(&t);
	t = begin(f, 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(access_get(t, 7, 1, &a, &e), 0);
	assert_int_equal(a.opened_at, 1790000200);
	assert_int_equal(a.downloaded_at, 1790000300);
	assert_int_equal(a.auth_at, 1790000250);
	assert_true(a.failures == 2 && a.locked == 1 && a.cert_downloads == 3);
	assert_int_equal(a.consent, CONSENT_DECLINED);
	assert_string_equal(a.terms, "2026-04");
	assert_int_equal(a.otp_hash[31], 0xAB);
	assert_int_equal(a.version, 1);
	store_abort(&t);
}

static void test_links_and_codes(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	char tok[NOTICE_TOKEN_LEN + 1], old[NOTICE_TOKEN_LEN + 1];
	char code[NOTICE_CODE_TEXT + 1], again[NOTICE_CODE_TEXT + 1], typed[32];
	uint64_t b = 0;
	uint32_t s = 0;

	t = begin(f, 1);
	assert_int_equal(notice_link_new(t, 3, 9, now_utc() + 3600, tok, &e), 0);
	assert_int_equal(notice_link_new(t, 3, 9, now_utc() - 1, old, &e), 0);
	assert_int_equal(notice_code_get_or_new(t, 3, 9, code, &e), 0);
	assert_int_equal(notice_code_get_or_new(t, 3, 9, again, &e), 0);
	assert_string_equal(code, again);
	assert_int_equal(notice_code_get_or_new(t, 3, 10, again, &e), 0);
	assert_string_not_equal(code, again);
	commit(&t);

	t = begin(f, 0);
	assert_int_equal(notice_link_find(t, tok, &b, &s, &e), 0);
	assert_true(b == 3 && s == 9);
	assert_int_equal(notice_link_find(t, old, &b, &s, &e), 1);        /* expired */
	assert_int_equal(notice_link_find(t, "AAAAAAAAAAAAAAAAAAAAAA", &b, &s, &e), 1);
	assert_int_equal(notice_link_find(t, "not a token", &b, &s, &e), 1);
	assert_int_equal(notice_code_get_or_new(t, 3, 9, again, &e), 0); /* read only */
	assert_string_equal(code, again);
	for (size_t i = 0, o = 0; i <= strlen(code); i++)
		typed[o++] = (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] + 32 : code[i]);
	b = s = 0;
	assert_int_equal(notice_code_find(t, typed, &b, &s, &e), 0);
	assert_true(b == 3 && s == 9);
	typed[0] = typed[0] == '2' ? '3' : '2'; /* a typo: refused before any lookup */
	assert_int_equal(notice_code_find(t, typed, &b, &s, &e), 1);
	assert_int_equal(notice_code_new(again, &e), 0); /* valid, but nobody's */
	assert_int_equal(notice_code_find(t, again, &b, &s, &e), 1);
	store_abort(&t);
	/* The code is nowhere in the files as text. */
	{
		char path[4096];
		uint8_t *data = NULL;
		size_t len = 0;
		char canon[NOTICE_CODE_SYMBOLS + 1];
		canon_of(code, canon);
		snprintf(path, sizeof(path), "%s/db/data.mdb", f->dir);
		assert_int_equal(file_read_all(path, 1u << 30, &data, &len, &e), 0);
		assert_null(memmem(data, len, canon, NOTICE_CODE_SYMBOLS));
		assert_null(memmem(data, len, code, strlen(code)));
		free(data);
	}
}

struct ev_list {
	int n;
	struct notice_event_rec ev[8];
};

static int collect(const struct notice_event_rec *ev, void *arg)
{
	struct ev_list *l = arg;
	if (l->n < 8)
		l->ev[l->n++] = *ev;
	return 0;
}

static void test_events(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct notice_event_rec ev = { 5, 2, 1790000000000000, EV_OPEN, "Mozilla/5.0", 12 };
	struct ev_list l = { 0 };
	uint64_t count = 0;

	t = begin(f, 1);
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	assert_int_equal(notice_event_add(t, &ev, &e), 0); /* same microsecond */
	ev.type = EV_DOWNLOAD;
	ev.time_us += 5000000;
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	ev.batch = 6;
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	commit(&t);

	t = begin(f, 0);
	assert_int_equal(notice_events_each(t, 5, 0, collect, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.ev[0].type, EV_OPEN);
	assert_int_equal(l.ev[1].type, EV_OPEN);
	assert_int_equal(l.ev[2].type, EV_DOWNLOAD);
	assert_string_equal(l.ev[2].ua, "Mozilla/5.0");
	assert_int_equal(l.ev[2].delay, 12);
	assert_int_equal(l.ev[2].seq, 2);
	l.n = 0;
	assert_int_equal(notice_events_each(t, 5, 1790000000000001, collect, &l, &e), 0);
	assert_int_equal(l.n, 1);
	store_abort(&t);
	/* Each event is an audit record too, and the log holds. */
	if (audit_verify(f->st, &count, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	assert_true(count >= 4);
}

/* ---- forgery with raw LMDB writes (no keys process) ---- */

/* The raw LMDB environment of the tenant, opened without tayori or keys:
 * what a person who can write the files can do.  The store is closed
 * meanwhile and opened again afterwards. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static MDB_dbi raw_open(struct fixture *f, struct raw *r, const char *db)
{
	char path[4096];
	MDB_dbi dbi;
	store_close(&f->st);
	snprintf(path, sizeof(path), "%s/db", f->dir);
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 64), 0);
	assert_int_equal(mdb_env_set_mapsize(r->env, (size_t)256 << 30), 0);
	assert_int_equal(mdb_env_open(r->env, path, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
	return dbi;
}

static void raw_close(struct fixture *f, struct raw *r)
{
	struct error e = { { 0 }, 0 };
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
	if (store_open(f->dir, f->kc, 0, &f->st, &e) < 0)
		fail_msg("store_open: %s", e.msg);
}

/* Copy out the raw value under k (the caller frees). */
static uint8_t *raw_get(struct raw *r, MDB_dbi dbi, const void *k, size_t kl, size_t *vl)
{
	MDB_val key = { kl, (void *)k }, v;
	uint8_t *out;
	assert_int_equal(mdb_get(r->txn, dbi, &key, &v), 0);
	out = xmalloc(v.mv_size);
	memcpy(out, v.mv_data, v.mv_size);
	*vl = v.mv_size;
	return out;
}

static void raw_put(struct raw *r, MDB_dbi dbi, const void *k, size_t kl, const void *v,
		    size_t vl)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
	assert_int_equal(mdb_put(r->txn, dbi, &key, &val, 0), 0);
}

/* Change the u64 field tag of a raw record in place. */
static void raw_set_u64(uint8_t *v, size_t vl, uint16_t tag, uint64_t x)
{
	const uint8_t *p;
	size_t n;
	assert_int_equal(rec_get(v, vl, tag, &p, &n), 0);
	assert_int_equal(n, 8);
	be64_put(v + (p - v), x);
}

/* A record the way notice.c writes one, with a MAC made up by a forger. */
static void forged_rec(struct buf *b, uint64_t batch, uint32_t seq)
{
	uint8_t mac[32];
	memset(mac, 0x5A, sizeof(mac));
	buf_init(b, 4096);
	rec_put_u64(b, NR_BATCH, batch);
	rec_put_u64(b, NR_SEQ, seq);
	rec_put_u64(b, NR_ISSUED, 1790000000);
	rec_put_u64(b, NR_EXPIRES, 4000000000);
	rec_put_str(b, NR_KIND, "link");
	rec_put_u64(b, NR_VERSION, 1);
	rec_put(b, NR_MAC, mac, sizeof(mac));
}

static void key12(uint8_t k[12], uint64_t batch, uint32_t seq)
{
	be64_put(k, batch);
	be32_put(k + 8, seq);
}

static void test_forged_tokens_refused(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct buf b;
	char tok[NOTICE_TOKEN_LEN + 1], made_up[NOTICE_TOKEN_LEN + 1];
	char copied[NOTICE_TOKEN_LEN + 1];
	char code[NOTICE_CODE_TEXT + 1], other[NOTICE_CODE_TEXT + 1];
	uint8_t h[32], h2[32], *v;
	size_t vl;
	uint64_t batch;
	uint32_t seq;
	MDB_dbi dbi;

	t = begin(f, 1);
	assert_int_equal(notice_link_new(t, 4, 1, now_utc() + 86400, tok, &e), 0);
	assert_int_equal(notice_code_get_or_new(t, 4, 1, code, &e), 0);
	commit(&t);
	assert_int_equal(notice_token_new(made_up, &e), 0);
	assert_int_equal(notice_token_new(copied, &e), 0);

	/* (a) a made-up token record; (c) the valid record copied to the
	 * made-up token's key. */
	dbi = raw_open(f, &r, "tokens");
	notice_token_hash(made_up, h);
	forged_rec(&b, 4, 2);
	raw_put(&r, dbi, h, 32, b.data, b.len);
	buf_free(&b);
	notice_token_hash(tok, h2);
	v = raw_get(&r, dbi, h2, 32, &vl);
	notice_token_hash(copied, h2);
	raw_put(&r, dbi, h2, 32, v, vl);
	free(v);
	raw_close(f, &r);

	t = begin(f, 0);
	assert_int_equal(notice_link_find(t, tok, &batch, &seq, &e), 0); /* still good */
	assert_int_equal(notice_link_find(t, made_up, &batch, &seq, &e), 1);
	assert_int_equal(notice_link_find(t, copied, &batch, &seq, &e), 1);
	store_abort(&t);
	dbi = raw_open(f, &r, "tokens");
	notice_token_hash(tok, h2);
	v = raw_get(&r, dbi, h2, 32, &vl);
	raw_set_u64(v, vl, NR_EXPIRES, 4000000000); /* (b) a longer life */
	raw_put(&r, dbi, h2, 32, v, vl);
	free(v);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(notice_link_find(t, tok, &batch, &seq, &e), 1);
	store_abort(&t);

	/* A code record made up for a code nobody was given, and the code of
	 * (4, 1) copied under another code's place. */
	assert_int_equal(notice_code_new(other, &e), 0);
	{
		char canon[NOTICE_CODE_SYMBOLS + 1];
		uint8_t ix[32], ix1[32];
		assert_int_equal(notice_code_read(other, canon), 0);
		assert_int_equal(store_index(f->st, "notice-code", canon, 12, ix, &e), 0);
		assert_int_equal(notice_code_read(code, canon), 0);
		assert_int_equal(store_index(f->st, "notice-code", canon, 12, ix1, &e), 0);
		dbi = raw_open(f, &r, "codes");
		v = raw_get(&r, dbi, ix1, 32, &vl);
		raw_put(&r, dbi, ix, 32, v, vl);
		free(v);
		raw_close(f, &r);
	}
	t = begin(f, 0);
	assert_int_equal(notice_code_find(t, code, &batch, &seq, &e), 0);
	assert_true(batch == 4 && seq == 1);
	assert_int_equal(notice_code_find(t, other, &batch, &seq, &e), 1);
	store_abort(&t);
}

static void test_forged_delivery_access_refused(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct delivery d;
	struct notice_access a;
	uint8_t k1[12], k2[12], k3[12], *v;
	size_t vl;
	MDB_dbi dbi;

	put_delivery(f, 8, 1, DELIVERY_BOUNCED);
	put_delivery(f, 8, 2, DELIVERY_SENT);
	t = begin(f, 1);
	assert_int_equal(access_get(t, 8, 2, &a, &e), 1);
	a.opened_at = 1790000500;
	assert_int_equal(access_put(t, &a, &e), 0);
	commit(&t);
	key12(k1, 8, 1);
	key12(k2, 8, 2);
	key12(k3, 8, 3);

	/* (b) bounced turned into sent; (c) resident 2's sent record copied
	 * to resident 3, who has none. */
	dbi = raw_open(f, &r, "deliveries");
	v = raw_get(&r, dbi, k1, 12, &vl);
	raw_set_u64(v, vl, NR_STATE, DELIVERY_SENT);
	raw_put(&r, dbi, k1, 12, v, vl);
	free(v);
	v = raw_get(&r, dbi, k2, 12, &vl);
	raw_put(&r, dbi, k3, 12, v, vl);
	free(v);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(delivery_get(t, 8, 1, &d, &e), -1);
	assert_non_null(strstr(e.msg, "MAC"));
	assert_int_equal(delivery_get(t, 8, 2, &d, &e), 0);
	assert_int_equal(delivery_get(t, 8, 3, &d, &e), -1);
	store_abort(&t);

	/* (b) an arrival time written into an access record; (c) copied to
	 * another resident; (a) one made up. */
	dbi = raw_open(f, &r, "access");
	v = raw_get(&r, dbi, k2, 12, &vl);
	raw_put(&r, dbi, k3, 12, v, vl);
	raw_set_u64(v, vl, NR_DOWNLOADED_AT, 1790000600);
	raw_put(&r, dbi, k2, 12, v, vl);
	free(v);
	{
		struct buf b;
		forged_rec(&b, 8, 1);
		raw_put(&r, dbi, k1, 12, b.data, b.len);
		buf_free(&b);
	}
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(access_get(t, 8, 2, &a, &e), -1);
	assert_int_equal(access_get(t, 8, 3, &a, &e), -1);
	assert_int_equal(access_get(t, 8, 1, &a, &e), -1);
	store_abort(&t);
}

static int count_events(const struct notice_event_rec *ev, void *arg)
{
	(void)ev;
	(*(int *)arg)++;
	return 0;
}

/*
 * Rolling a record back: a copy of an older version of the same record,
 * under the same key, carries a MAC that holds, and the reader cannot tell
 * it from the current one (the version is inside the MAC, but nothing
 * outside the files says which version is the latest).  What is not lost:
 * the event and its audit record, which the keys process counts, so the
 * arrival stays provable from the audit log.
 */
static void test_rollback_not_detected_but_audited(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct notice_access a;
	struct notice_event_rec ev = { 9, 1, 0, EV_DOWNLOAD, "Mozilla/5.0", 30 };
	uint8_t k[12], *old;
	size_t oldl;
	uint64_t count = 0;
	int n = 0;
	MDB_dbi dbi;

	t = begin(f, 1);
	assert_int_equal(access_get(t, 9, 1, &a, &e), 1);
	a.opened_at = 1790000000;
	assert_int_equal(access_put(t, &a, &e), 0);
	commit(&t);
	key12(k, 9, 1);
	dbi = raw_open(f, &r, "access");
	old = raw_get(&r, dbi, k, 12, &oldl);
	raw_close(f, &r);

	t = begin(f, 1);
	assert_int_equal(access_get(t, 9, 1, &a, &e), 0);
	a.downloaded_at = 1790000100;
	assert_int_equal(access_put(t, &a, &e), 0);
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	commit(&t);

	dbi = raw_open(f, &r, "access");
	raw_put(&r, dbi, k, 12, old, oldl);
	free(old);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(access_get(t, 9, 1, &a, &e), 0); /* not detected */
	assert_int_equal(a.version, 1);
	assert_int_equal(a.downloaded_at, 0);
	assert_int_equal(notice_events_each(t, 9, 0, count_events, &n, &e), 0);
	assert_int_equal(n, 1); /* the download event is still there */
	store_abort(&t);
	if (audit_verify(f->st, &count, &e) < 0)
		fail_msg("audit_verify: %s", e.msg);
	assert_true(count >= 1);
}

static void test_forged_events_dropped(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct raw r;
	struct notice_event_rec ev = { 11, 1, 1790000000000000, EV_OPEN, "UA", 5 };
	struct ev_list l = { 0 };
	uint8_t k[20], k2[20], *v;
	size_t vl;
	MDB_dbi dbi;

	t = begin(f, 1);
	assert_int_equal(notice_event_add(t, &ev, &e), 0);
	commit(&t);
	be64_put(k, 11);
	be64_put(k + 8, 1790000000000000);
	be32_put(k + 16, 0);
	memcpy(k2, k, 20);
	be64_put(k2 + 8, 1790000009000000);
	dbi = raw_open(f, &r, "events");
	v = raw_get(&r, dbi, k, 20, &vl);
	raw_put(&r, dbi, k2, 20, v, vl); /* copied to a later time */
	raw_set_u64(v, vl, NR_TYPE, EV_DOWNLOAD);
	be64_put(k2 + 8, 1790000008000000);
	raw_put(&r, dbi, k2, 20, v, vl); /* a download made up */
	free(v);
	raw_close(f, &r);
	t = begin(f, 0);
	assert_int_equal(notice_events_each(t, 11, 0, collect, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.ev[0].type, EV_OPEN);
	store_abort(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_check_symbol),
		cmocka_unit_test(test_code_forms),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_delivery_access_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_and_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_tokens_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_delivery_access_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rollback_not_detected_but_audited, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forged_events_dropped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
