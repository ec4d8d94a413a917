/*
 * test_notice.c — unit tests for lib/notice*.c against a real LMDB store and
 * a real keys process: notice codes (the check symbol catches every
 * single-symbol substitution and every adjacent transposition; what a
 * resident types in full width, lower case or with other dashes reads
 * back), link tokens, deliveries, access records, codes and events round
 * trip, and the furthest state of each resident (test_notice_forgery.c
 * forges records with raw LMDB writes).  Runs as a stand-alone cmocka program; forks a keys process per
 * test; uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/util.h"

#include "tenant_fixture.h"
#include "notice_fixture.h"
static const char sym[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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

/* The bulk writes (one MAC round trip for a chunk) make the same records
 * as one at a time: read back through their MACs and anchored versions. */
static void test_bulk_puts(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct store_txn *t;
	struct delivery ds[40], *dp[40], d;
	uint64_t lb[40];
	uint32_t ls[40];
	int64_t le[40];
	char tok[40][NOTICE_TOKEN_LEN + 1];
	uint64_t b = 0;
	uint32_t s = 0;

	for (int round = 0; round < 2; round++) {
		t = begin(f, 1);
		for (uint32_t i = 0; i < 40; i++) {
			if (round == 0) {
				memset(&ds[i], 0, sizeof(ds[i]));
				ds[i].batch = 11;
				ds[i].seq = i + 1;
				ds[i].created = 1790000000;
			}
			ds[i].state = round == 0 ? DELIVERY_QUEUED : DELIVERY_SENDING;
			dp[i] = &ds[i];
			lb[i] = 11;
			ls[i] = i + 1;
			le[i] = now_utc() + 3600;
		}
		assert_int_equal(delivery_put_many(t, 40, dp, &e), 0);
		assert_int_equal(notice_link_new_many(t, 40, lb, ls, le, tok, &e), 0);
		commit(&t);
	}
	t = begin(f, 0);
	for (uint32_t i = 0; i < 40; i++) {
		assert_int_equal(delivery_get(t, 11, i + 1, &d, &e), 0);
		assert_int_equal(d.state, DELIVERY_SENDING);
		assert_int_equal(d.version, 2);
		assert_int_equal(d.created, 1790000000);
		assert_int_equal(notice_link_find(t, tok[i], &b, &s, &e), 0);
		assert_true(b == 11 && s == i + 1);
	}
	store_abort(&t);
	/* Codes in bulk: an existing one is kept, the fresh ones are each
	 * found by notice_code_find and read back alone. */
	{
		char codes[20][NOTICE_CODE_TEXT + 1], one[NOTICE_CODE_TEXT + 1];
		t = begin(f, 1);
		assert_int_equal(notice_code_get_or_new(t, 12, 3, one, &e), 0);
		for (uint32_t i = 0; i < 20; i++) {
			lb[i] = 12;
			ls[i] = i + 1;
		}
		assert_int_equal(notice_codes_get_or_new(t, 20, lb, ls, codes, &e), 0);
		commit(&t);
		assert_string_equal(codes[2], one);
		t = begin(f, 0);
		for (uint32_t i = 0; i < 20; i++) {
			assert_int_equal(notice_code_find(t, codes[i], &b, &s, &e), 0);
			assert_true(b == 12 && s == i + 1);
			assert_int_equal(notice_code_get_or_new(t, 12, i + 1, one, &e), 0);
			assert_string_equal(one, codes[i]);
			for (uint32_t j = 0; j < i; j++)
				assert_string_not_equal(codes[j], codes[i]);
		}
		store_abort(&t);
	}
	/* More than one keys request holds is refused, nothing written. */
	{
		struct delivery *many[KEYS_BATCH_MAX + 1];
		for (size_t i = 0; i <= KEYS_BATCH_MAX; i++)
			many[i] = &ds[i % 40];
		t = begin(f, 1);
		assert_int_equal(delivery_put_many(t, KEYS_BATCH_MAX + 1, many, &e), -1);
		store_abort(&t);
	}
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

/* ---- the furthest state ---- */

static void put_access(struct fixture *f, uint64_t batch, uint32_t seq, int64_t opened,
		       int64_t downloaded, enum notice_consent c)
{
	struct store_txn *t = begin(f, 1);
	struct error e = { { 0 }, 0 };
	struct notice_access a;
	assert_true(access_get(t, batch, seq, &a, &e) >= 0);
	a.opened_at = opened;
	a.downloaded_at = downloaded;
	a.consent = c;
	assert_int_equal(access_put(t, &a, &e), 0);
	commit(&t);
}

static void test_statuses(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	static const char *const emails[] = { "", "a@example.jp", "b@example.jp", "c@example.jp",
					      "d@example.jp", "e@example.jp", "f@example.jp",
					      "g@example.jp", "held" };
	static const char *const before[] = { "paper", "downloaded", "opened", "bounced", "deferred",
					      "queued", "paper", "failed", "paper" };
	struct notice_status *v = NULL;
	size_t n = 0;
	const int64_t end = 1798729200; /* 2026-12-31 24:00 JST */

	put_batch(f, 20, "２０２６年１２月３１日", 9, emails);
	put_delivery(f, 20, 2, DELIVERY_SENT);
	put_access(f, 20, 2, 1790000200, 1790000300, CONSENT_UNASKED);
	put_delivery(f, 20, 3, DELIVERY_SENT);
	put_access(f, 20, 3, 1790000200, 0, CONSENT_UNASKED);
	put_delivery(f, 20, 4, DELIVERY_BOUNCED);
	put_delivery(f, 20, 5, DELIVERY_DEFERRED);
	put_delivery(f, 20, 7, DELIVERY_SENT);
	put_access(f, 20, 7, 0, 0, CONSENT_DECLINED);
	put_delivery(f, 20, 8, DELIVERY_FAILED);

	if (notice_statuses(f->st, 20, end - 1, &v, &n, &e) < 0)
		fail_msg("notice_statuses: %s", e.msg);
	assert_int_equal(n, 9);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i].seq, i + 1);
		assert_string_equal(v[i].state, before[i]);
		/* bounced and failed show why, and are on the paper list too */
		assert_int_equal(v[i].paper, strcmp(before[i], "paper") == 0 ||
						     strcmp(before[i], "bounced") == 0 ||
						     strcmp(before[i], "failed") == 0);
	}
	assert_string_equal(v[0].key, "K001");
	assert_int_equal(v[1].contacts, 1);
	assert_int_equal(v[1].sent_at, 1790000100);
	assert_int_equal(v[1].opened_at, 1790000200);
	assert_int_equal(v[1].downloaded_at, 1790000300);
	assert_int_equal(v[5].sent_at, 0);
	free(v);
	/* At the deadline, whoever has not downloaded goes on paper. */
	assert_int_equal(notice_statuses(f->st, 20, end, &v, &n, &e), 0);
	assert_string_equal(v[1].state, "downloaded");
	for (size_t i = 2; i < n; i++) {
		assert_string_equal(v[i].state, i == 3 ? "bounced" : i == 7 ? "failed" : "paper");
		assert_int_equal(v[i].paper, 1);
	}
	free(v);

	/* What `tayori batch show --json` prints: exact text. */
	{
		char *out = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&out, &len);
		assert_int_equal(notice_statuses_json(f->st, 20, end - 1, 0, m, &e), 0);
		fclose(m);
		assert_non_null(strstr(out, ",\"residents\":[{\"key\":\"K001\",\"state\":\"paper\","
					    "\"contacts\":0,\"sent_at\":null,\"opened_at\":null,"
					    "\"downloaded_at\":null},{\"key\":\"K002\","
					    "\"state\":\"downloaded\",\"contacts\":1,"
					    "\"sent_at\":\"2026-09-21T14:15:00Z\","
					    "\"opened_at\":\"2026-09-21T14:16:40Z\","
					    "\"downloaded_at\":\"2026-09-21T14:18:20Z\"},"));
		assert_int_equal(out[0], ',');
		assert_int_equal(out[len - 1], ']');
		assert_non_null(strstr(out, "{\"key\":\"K009\",\"state\":\"paper\""));
		free(out);
	}
	/* A time of day; a deadline nobody can read is no deadline. */
	put_batch(f, 21, "2026/12/31 17:00", 1, emails + 1);
	put_delivery(f, 21, 1, DELIVERY_SENT);
	assert_int_equal(notice_statuses(f->st, 21, 1798704000 - 1, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].state, "sent");
	free(v);
	assert_int_equal(notice_statuses(f->st, 21, 1798704000, &v, &n, &e), 0);
	assert_string_equal(v[0].state, "paper");
	free(v);
	put_batch(f, 22, "来月末", 1, emails + 1);
	put_delivery(f, 22, 1, DELIVERY_SENT);
	assert_int_equal(notice_statuses(f->st, 22, 4000000000, &v, &n, &e), 0);
	assert_string_equal(v[0].state, "sent");
	free(v);
	/* Residents but no delivery yet: no "residents" member. */
	put_batch(f, 23, "", 2, emails + 1);
	{
		char *out = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&out, &len);
		assert_int_equal(notice_statuses_json(f->st, 23, end, 1, m, &e), 1);
		fclose(m);
		assert_int_equal(len, 0);
		free(out);
	}
	/* No such batch: no residents. */
	assert_int_equal(notice_statuses(f->st, 99, end, &v, &n, &e), 0);
	assert_int_equal(n, 0);
	free(v);
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
		cmocka_unit_test_setup_teardown(test_bulk_puts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

