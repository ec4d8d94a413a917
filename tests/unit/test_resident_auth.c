/*
 * test_resident_auth.c — unit tests of portal/resident_auth.c: thousands of
 * dates drawn with a fixed seed, each written in every usual form (ISO,
 * slashes, 8 digits, Japanese era in kanji and by initial, full-width,
 * 元年) and matched against every other form of the same date and not
 * against the next day; values that are not dates matched after NFKC;
 * impossible dates left alone; the OTP's six digits, ten minutes, latest
 * only, five tries and the lock.  Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "portal/resident_auth.h"
#include "lib/crypt.h"
#include "lib/util.h"
#include "tenant_fixture.h"

/* xorshift64: a fixed sequence, so a failure can be replayed. */
static uint64_t seed = 0x7461796f72693131ull;
static uint32_t next_rand(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed >> 11);
}

static int dim(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : d[m - 1];
}

/* The era of a date, by the days each began. */
static int era_of(int y, int m, int d, const char **kanji, const char **initial, int *ey)
{
	static const struct {
		int y, m, d;
		const char *k, *i;
	} start[] = {
		{ 2019, 5, 1, "令和", "R" }, { 1989, 1, 8, "平成", "H" },
		{ 1926, 12, 25, "昭和", "S" }, { 1912, 7, 30, "大正", "T" },
		{ 1868, 1, 25, "明治", "M" },
	};
	int v = y * 10000 + m * 100 + d;
	for (size_t i = 0; i < sizeof(start) / sizeof(start[0]); i++) {
		if (v >= start[i].y * 10000 + start[i].m * 100 + start[i].d) {
			*kanji = start[i].k;
			*initial = start[i].i;
			*ey = y - start[i].y + 1;
			return 0;
		}
	}
	return -1;
}

/* s with ASCII digits, letters and . / - made full-width. */
static void widen(const char *s, char *out, size_t size)
{
	size_t o = 0;
	for (; *s != '\0' && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '.' || c == '/' ||
		    c == '-') {
			unsigned cp = 0xFF00u + (unsigned)(c - 0x20);
			out[o++] = (char)(0xE0 | (cp >> 12));
			out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (cp & 0x3F));
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

#define FORMS 12
static int forms(int y, int m, int d, char f[FORMS][96])
{
	const char *k, *i;
	int ey, n = 0;
	char eyk[16];

	str_fmt(f[n++], 96, "%04d-%02d-%02d", y, m, d);
	str_fmt(f[n++], 96, "%d/%d/%d", y, m, d);
	str_fmt(f[n++], 96, "%04d%02d%02d", y, m, d);
	str_fmt(f[n++], 96, "%d年%d月%d日", y, m, d);
	str_fmt(f[n++], 96, " %d . %d . %d ", y, m, d);
	if (era_of(y, m, d, &k, &i, &ey) < 0)
		return n;
	if (ey == 1)
		str_fmt(eyk, sizeof(eyk), "元");
	else
		str_fmt(eyk, sizeof(eyk), "%d", ey);
	str_fmt(f[n++], 96, "%s%d.%d.%d", i, ey, m, d);
	str_fmt(f[n++], 96, "%s%02d%02d%02d", i, ey, m, d);
	str_fmt(f[n++], 96, "%s%s年%d月%d日", k, eyk, m, d);
	str_fmt(f[n++], 96, "%s %s 年 %02d 月 %02d 日", k, eyk, m, d);
	{
		char t[96];
		str_fmt(t, sizeof(t), "%s%d/%d/%d", i, ey, m, d);
		for (char *p = t; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32); /* lower-case initial */
		memcpy(f[n++], t, sizeof(t));
	}
	widen(f[0], f[n], 96);
	n++;
	widen(f[5], f[n], 96);
	n++;
	return n;
}

static void test_dates_every_form(void **state)
{
	(void)state;
	for (int round = 0; round < 3000; round++) {
		int y = 1870 + (int)(next_rand() % 160), m = 1 + (int)(next_rand() % 12);
		int d = 1 + (int)(next_rand() % (unsigned)dim(y, m));
		char f[FORMS][96], g[FORMS][96], want[16], canon[RESIDENT_VALUE_MAX + 1];
		int n = forms(y, m, d, f), ny, nm = m, nd = d + 1;

		str_fmt(want, sizeof(want), "%04d%02d%02d", y, m, d);
		/* the next day, in every form: must not match */
		ny = y;
		if (nd > dim(y, m)) {
			nd = 1;
			if (++nm > 12) {
				nm = 1;
				ny++;
			}
		}
		int gn = forms(ny, nm, nd, g);
		for (int a = 0; a < n; a++) {
			if (resident_value_canon(f[a], canon, sizeof(canon)) != 0 ||
			    strcmp(canon, want) != 0)
				fail_msg("%s -> %s, want %s", f[a], canon, want);
			for (int b = 0; b < n; b++)
				if (!resident_value_match(f[a], f[b]))
					fail_msg("%s should match %s", f[a], f[b]);
			for (int b = 0; b < gn; b++)
				if (resident_value_match(f[a], g[b]))
					fail_msg("%s should not match %s", f[a], g[b]);
		}
	}
}

static void test_era_edges(void **state)
{
	char c[RESIDENT_VALUE_MAX + 1];
	(void)state;
	assert_true(resident_value_match("令和元年5月1日", "2019-05-01"));
	assert_true(resident_value_match("R1.5.1", "2019/5/1"));
	assert_true(resident_value_match("㋿1.5.1", "20190501"));    /* square era */
	assert_true(resident_value_match("㍼55年4月1日", "1980-04-01"));
	assert_true(resident_value_match("S64.1.7", "1989-01-07"));
	assert_true(resident_value_match("H1.1.8", "1989-01-08"));
	assert_true(resident_value_match("平成12年2月29日", "2000-02-29"));
	/* impossible dates are no dates: kept as typed, folded */
	assert_int_equal(resident_value_canon("1981-02-29", c, sizeof(c)), 0);
	assert_string_equal(c, "1981-02-29");
	assert_false(resident_value_match("1981-02-29", "1981-03-01"));
	assert_int_equal(resident_value_canon("S65.1.1", c, sizeof(c)), 0);
	assert_string_equal(c, "s65.1.1");
	assert_int_equal(resident_value_canon("19801301", c, sizeof(c)), 0);
	assert_string_equal(c, "19801301");
	assert_false(resident_value_match("1980-04-01", "1980-04-02"));
	assert_false(resident_value_match("S55.4.1", "H55.4.1"));
}

static void test_other_values(void **state)
{
	char big[RESIDENT_VALUE_MAX + 10];
	(void)state;
	assert_true(resident_value_match("ＡＢＣ　１２３", "abc123"));
	assert_true(resident_value_match("ｶﾞｯｺｳ", "ガッコウ"));
	assert_false(resident_value_match("abc124", "abc123"));
	assert_false(resident_value_match("", ""));
	assert_false(resident_value_match("   ", "   "));
	assert_false(resident_value_match("\xff\xfe", "\xff\xfe"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(resident_value_match(big, big));
}

static void test_otp(void **state)
{
	struct store *st = ((struct fixture *)*state)->st;
	struct notice_access a;
	char code[RESIDENT_OTP_DIGITS + 1], old[RESIDENT_OTP_DIGITS + 1], wrong[8];
	struct error e = { { 0 }, 0 };
	int64_t t = 1800000000;

	memset(&a, 0, sizeof(a));
	a.batch = 7;
	a.seq = 3;
	assert_int_equal(resident_otp_check(st, &a, "123456", t, &e), RESIDENT_EXPIRED); /* none yet */
	assert_int_equal(resident_otp_new(st, &a, t, old, &e), 0);
	assert_int_equal(strlen(old), 6);
	assert_int_equal(strspn(old, "0123456789"), 6);
	do
		assert_int_equal(resident_otp_new(st, &a, t + 1, code, &e), 0);
	while (strcmp(code, old) == 0);
	/* only the latest works */
	assert_int_equal(resident_otp_check(st, &a, old, t + 2, &e), RESIDENT_WRONG);
	assert_int_equal(resident_otp_check(st, &a, code, t + 2, &e), RESIDENT_OK);
	assert_int_equal(a.failures, 0);
	/* used up */
	assert_int_equal(resident_otp_check(st, &a, code, t + 3, &e), RESIDENT_EXPIRED);
	/* ten minutes; full-width digits with a blank are read */
	assert_int_equal(resident_otp_new(st, &a, t, code, &e), 0);
	a.failures = 0;
	assert_int_equal(resident_otp_check(st, &a, code, t + RESIDENT_OTP_TTL, &e), RESIDENT_EXPIRED);
	assert_int_equal(resident_otp_new(st, &a, t, code, &e), 0);
	{
		char fw[64];
		size_t o = 0;
		for (int i = 0; i < 6; i++) {
			unsigned cp = 0xFF10u + (unsigned)(code[i] - '0');
			fw[o++] = (char)(0xE0 | (cp >> 12));
			fw[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			fw[o++] = (char)(0x80 | (cp & 0x3F));
			if (i == 2)
				fw[o++] = ' ';
		}
		fw[o] = '\0';
		assert_int_equal(resident_otp_check(st, &a, fw, t + RESIDENT_OTP_TTL - 1, &e), RESIDENT_OK);
	}
	/* five wrong tries lock */
	memset(&a, 0, sizeof(a));
	assert_int_equal(resident_otp_new(st, &a, t, code, &e), 0);
	str_fmt(wrong, sizeof(wrong), "%06d", (code[0] == '9' ? 0 : 9) * 100000 +
		 (code[1] - '0') * 10000);
	for (int i = 0; i < RESIDENT_MAX_FAILURES - 1; i++)
		assert_int_equal(resident_otp_check(st, &a, wrong, t + 1, &e), RESIDENT_WRONG);
	assert_int_equal(resident_otp_check(st, &a, wrong, t + 1, &e), RESIDENT_LOCKED);
	assert_true(a.locked);
	/* locked: even the right code is refused */
	assert_int_equal(resident_otp_check(st, &a, code, t + 1, &e), RESIDENT_LOCKED);
	/* a seven-digit string that starts with the code is wrong */
	memset(&a, 0, sizeof(a));
	assert_int_equal(resident_otp_new(st, &a, t, code, &e), 0);
	str_fmt(wrong, sizeof(wrong), "%s1", code);
	assert_int_equal(resident_otp_check(st, &a, wrong, t, &e), RESIDENT_WRONG);
}

static void test_otp_uniform(void **state)
{
	struct store *st = ((struct fixture *)*state)->st;
	struct notice_access a;
	char code[RESIDENT_OTP_DIGITS + 1];
	struct error e = { { 0 }, 0 };
	unsigned first[10] = { 0 };
	memset(&a, 0, sizeof(a));
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(resident_otp_new(st, &a, 1, code, &e), 0);
		first[code[0] - '0']++;
	}
	for (int i = 0; i < 10; i++) /* 2000 expected each; 1700..2300 is > 7 sigma */
		assert_true(first[i] > 1700 && first[i] < 2300);
}

/* The stored OTP is a keyed MAC: neither the SHA-256 of any six digits
 * nor the SHA-256 the portal kept before ("tayori-otp" | batch | seq |
 * time | code), so a copy of the files cannot be searched for it; and it
 * differs from the same input's MAC under another tenant's key. */
static void test_otp_not_hashed(void **state)
{
	struct store *st = ((struct fixture *)*state)->st;
	struct notice_access a;
	char code[RESIDENT_OTP_DIGITS + 1], d[8];
	struct error e = { { 0 }, 0 };
	uint8_t h[32], in[64];
	int64_t t = 1800000000;

	memset(&a, 0, sizeof(a));
	a.batch = 7;
	a.seq = 3;
	assert_int_equal(resident_otp_new(st, &a, t, code, &e), 0);
	memcpy(in, "tayori-otp", 10);
	be64_put(in + 10, a.batch);
	be32_put(in + 18, a.seq);
	be64_put(in + 22, (uint64_t)t);
	for (unsigned i = 0; i < 1000000; i++) {
		str_fmt(d, sizeof(d), "%06u", i);
		crypt_sha256(d, 6, h);
		assert_memory_not_equal(h, a.otp_hash, 32);
		memcpy(in + 30, d, 6);
		crypt_sha256(in, 36, h);
		assert_memory_not_equal(h, a.otp_hash, 32);
	}
	/* still the right code for the portal */
	assert_int_equal(resident_otp_check(st, &a, code, t + 1, &e), RESIDENT_OK);
}

static void test_value_lock(void **state)
{
	struct notice_access a;
	(void)state;
	memset(&a, 0, sizeof(a));
	for (int i = 0; i < RESIDENT_MAX_FAILURES - 1; i++)
		assert_int_equal(resident_value_check(&a, "1980-04-02", "S55.4.1"), RESIDENT_WRONG);
	assert_int_equal(resident_value_check(&a, "1980-04-01", "S55.4.1"), RESIDENT_OK);
	assert_int_equal(a.failures, 0);
	for (int i = 0; i < RESIDENT_MAX_FAILURES - 1; i++)
		assert_int_equal(resident_value_check(&a, "x", "S55.4.1"), RESIDENT_WRONG);
	assert_int_equal(resident_value_check(&a, "x", "S55.4.1"), RESIDENT_LOCKED);
	assert_int_equal(resident_value_check(&a, "1980-04-01", "S55.4.1"), RESIDENT_LOCKED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates_every_form), cmocka_unit_test(test_era_edges),
		cmocka_unit_test(test_other_values),     cmocka_unit_test(test_otp),
		cmocka_unit_test(test_otp_uniform),      cmocka_unit_test(test_value_lock),
		cmocka_unit_test(test_otp_not_hashed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
