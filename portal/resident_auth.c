/*
 * resident_auth.c — a resident's proof of identity: the CSV value compared
 * after normalising (NFKC per Unicode UAX #15 through glib, Japanese era
 * dates to the Gregorian calendar), and the one-time password kept as a
 * hash in the access record.  Runs in the portal process.
 */
#include <string.h>
#include <glib.h>
#include <openssl/crypto.h>

#include "lib/crypt.h"
#include "lib/store.h"
#include "lib/util.h"
#include "portal/resident_auth.h"

/* The eras: name, initial (folded), first Gregorian year, last era year. */
static const struct era {
	const char *name;
	char initial;
	int base;
	int last;
} eras[] = {
	{ "明治", 'm', 1868, 45 },
	{ "大正", 't', 1912, 15 },
	{ "昭和", 's', 1926, 64 },
	{ "平成", 'h', 1989, 31 },
	{ "令和", 'r', 2019, 99 },
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read 1..max digits at *p into *v; 0, or -1 when none. */
static int read_num(const char **p, int max, int *v)
{
	int n = 0, x = 0;

	while (is_digit(**p) && n < max) {
		x = x * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0)
		return -1;
	*v = x;
	return 0;
}

/* Skip one separator at *p: . / - or the kanji sep (年, 月); 0 or -1. */
static int read_sep(const char **p, const char *kanji)
{
	if (**p == '.' || **p == '/' || **p == '-') {
		(*p)++;
		return 0;
	}
	if (strncmp(*p, kanji, strlen(kanji)) == 0) {
		*p += strlen(kanji);
		return 0;
	}
	return -1;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : d[m - 1];
}

static int put_ymd(int y, int m, int d, char ymd[9])
{
	if (y < 1800 || y > 2999 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	return str_fmt(ymd, 9, "%04d%02d%02d", y, m, d) < 0 ? -1 : 0;
}

/* Month and day after the year: "4.1", "4月1日", "04-01"; the rest must be
 * empty (an optional 日 after a kanji month). */
static int read_md(const char *p, int *m, int *d)
{
	if (read_num(&p, 2, m) < 0 || read_sep(&p, "月") < 0 || read_num(&p, 2, d) < 0)
		return -1;
	if (strncmp(p, "日", strlen("日")) == 0)
		p += strlen("日");
	return *p == '\0' ? 0 : -1;
}

/* Era dates: 昭和55年4月1日, S55.4.1, s550401, 令和元年5月1日. */
static int era_date(const char *s, char ymd[9])
{
	const struct era *era = NULL;
	const char *p = s;
	int y, m, d;

	for (size_t i = 0; i < sizeof(eras) / sizeof(eras[0]); i++) {
		size_t n = strlen(eras[i].name);
		if (strncmp(p, eras[i].name, n) == 0) {
			era = &eras[i];
			p += n;
			break;
		}
		if (*p == eras[i].initial) {
			era = &eras[i];
			p++;
			break;
		}
	}
	if (era == NULL)
		return -1;
	if (strncmp(p, "元", strlen("元")) == 0) {
		y = 1;
		p += strlen("元");
		if (read_sep(&p, "年") < 0 || read_md(p, &m, &d) < 0)
			return -1;
	} else if (strlen(p) == 6 && strspn(p, "0123456789") == 6) {
		y = (p[0] - '0') * 10 + (p[1] - '0');
		m = (p[2] - '0') * 10 + (p[3] - '0');
		d = (p[4] - '0') * 10 + (p[5] - '0');
	} else if (read_num(&p, 2, &y) < 0 || read_sep(&p, "年") < 0 || read_md(p, &m, &d) < 0) {
		return -1;
	}
	if (y < 1 || y > era->last)
		return -1;
	return put_ymd(era->base + y - 1, m, d, ymd);
}

int resident_date_canon(const char *s, char ymd[9])
{
	const char *p = s;
	int y, m, d;

	if (strlen(s) == 8 && strspn(s, "0123456789") == 8) {
		y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
		m = (s[4] - '0') * 10 + (s[5] - '0');
		d = (s[6] - '0') * 10 + (s[7] - '0');
		return put_ymd(y, m, d, ymd);
	}
	if (is_digit(s[0])) {
		if (strspn(s, "0123456789") != 4 || read_num(&p, 4, &y) < 0 ||
		    read_sep(&p, "年") < 0 || read_md(p, &m, &d) < 0)
			return -1;
		return put_ymd(y, m, d, ymd);
	}
	return era_date(s, ymd);
}

/* NFKC, blanks dropped, case folded, into out. */
static int fold(const char *in, char *out, size_t outsize)
{
	gchar *n = NULL, *f = NULL;
	size_t o = 0;
	int ret = -1;

	if (strlen(in) > RESIDENT_VALUE_MAX || !g_utf8_validate(in, -1, NULL))
		return -1;
	n = g_utf8_normalize(in, -1, G_NORMALIZE_NFKC);
	if (n == NULL)
		goto out;
	f = g_utf8_casefold(n, -1);
	if (f == NULL)
		goto out;
	for (const char *p = f; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		size_t len = (size_t)(g_utf8_next_char(p) - p);
		if (g_unichar_isspace(c) || c == 0x200b || c == 0xfeff)
			continue;
		if (o + len + 1 > outsize)
			goto out;
		memcpy(out + o, p, len);
		o += len;
	}
	out[o] = '\0';
	ret = o == 0 ? -1 : 0;
out:
	g_free(n);
	g_free(f);
	return ret;
}

int resident_value_canon(const char *in, char *out, size_t outsize)
{
	char f[RESIDENT_VALUE_MAX * 4 + 1], ymd[9];

	if (fold(in, f, sizeof(f)) < 0)
		return -1;
	if (resident_date_canon(f, ymd) == 0)
		return str_copy(out, ymd, outsize) >= outsize ? -1 : 0;
	if (strlen(f) >= outsize || strlen(f) > RESIDENT_VALUE_MAX)
		return -1;
	memcpy(out, f, strlen(f) + 1);
	return 0;
}

int resident_value_match(const char *typed, const char *stored)
{
	char a[RESIDENT_VALUE_MAX + 1], b[RESIDENT_VALUE_MAX + 1];
	uint8_t ha[CRYPT_HASH_LEN], hb[CRYPT_HASH_LEN];
	int ok_a = resident_value_canon(typed, a, sizeof(a)) == 0;
	int ok_b = resident_value_canon(stored, b, sizeof(b)) == 0;

	/* Hash both whatever happened, so the time does not tell which side
	 * failed to normalise or how long the values are. */
	crypt_sha256(ok_a ? a : "", ok_a ? strlen(a) : 0, ha);
	crypt_sha256(ok_b ? b : "", ok_b ? strlen(b) : 0, hb);
	secure_wipe(a, sizeof(a));
	secure_wipe(b, sizeof(b));
	return CRYPTO_memcmp(ha, hb, sizeof(ha)) == 0 && ok_a && ok_b;
}

/* The OTP as kept: a MAC under the keys process's index key (kind
 * "record" over "tayori-otp\0", which no record MAC's database name can
 * begin with), bound to its notice and time.  Six digits under a plain
 * hash would be found by trying all of them from a copy of the files;
 * without the keys process they cannot be tried. */
static int otp_mac(struct store *st, const struct notice_access *a, int64_t at, const char *code,
		   uint8_t out[CRYPT_HASH_LEN], struct error *e)
{
	uint8_t in[64];
	size_t n = 0, cl = strlen(code);
	int r;

	memcpy(in, "tayori-otp", 11); /* with its NUL */
	n = 11;
	be64_put(in + n, a->batch);
	n += 8;
	be32_put(in + n, a->seq);
	n += 4;
	be64_put(in + n, (uint64_t)at);
	n += 8;
	if (cl > RESIDENT_OTP_DIGITS)
		cl = RESIDENT_OTP_DIGITS + 1; /* never equal to a real code's MAC */
	memcpy(in + n, code, cl);
	n += cl;
	r = store_index(st, "record", in, n, out, e);
	secure_wipe(in, sizeof(in));
	return r;
}

int resident_otp_new(struct store *st, struct notice_access *a, int64_t now,
		     char code[RESIDENT_OTP_DIGITS + 1], struct error *e)
{
	uint8_t h[CRYPT_HASH_LEN];
	uint32_t r;

	/* Uniform over 000000-999999: draw again above the last whole
	 * multiple of a million below 2^32. */
	do {
		if (random_bytes(&r, sizeof(r)) < 0)
			return err_tmp(e, "the random source failed");
	} while (r >= 4294000000u);
	if (str_fmt(code, RESIDENT_OTP_DIGITS + 1, "%06u", (unsigned)(r % 1000000u)) < 0)
		return err_set(e, "OTP format");
	r = 0;
	if (otp_mac(st, a, now, code, h, e) < 0) {
		secure_wipe(code, RESIDENT_OTP_DIGITS + 1);
		return -1;
	}
	memcpy(a->otp_hash, h, sizeof(h));
	a->otp_at = now;
	a->otp_tries = 0;
	return 0;
}

static enum resident_check fail(struct notice_access *a, enum resident_check why)
{
	a->failures++;
	if (a->failures >= RESIDENT_MAX_FAILURES) {
		a->locked = 1;
		return RESIDENT_LOCKED;
	}
	return why;
}

static void succeed(struct notice_access *a)
{
	a->failures = 0;
	memset(a->otp_hash, 0, sizeof(a->otp_hash));
	a->otp_tries = 0;
}

enum resident_check resident_otp_check(struct store *st, struct notice_access *a,
				       const char *typed, int64_t now, struct error *e)
{
	static const uint8_t zero[CRYPT_HASH_LEN];
	uint8_t h[CRYPT_HASH_LEN];
	char digits[RESIDENT_OTP_DIGITS + 2];
	size_t n = 0;
	int live;

	if (a->locked)
		return RESIDENT_LOCKED;
	/* Keep the digits only (NFKC turns full-width ones into ASCII); a
	 * resident may type "123 456". */
	if (fold(typed, digits, sizeof(digits)) < 0)
		digits[0] = '\0';
	for (size_t i = 0; digits[i] != '\0'; i++)
		if (is_digit(digits[i]) && n < RESIDENT_OTP_DIGITS + 1)
			digits[n++] = digits[i];
	digits[n] = '\0';
	live = CRYPTO_memcmp(a->otp_hash, zero, sizeof(zero)) != 0 &&
	       now >= a->otp_at && now - a->otp_at < RESIDENT_OTP_TTL &&
	       a->otp_tries < RESIDENT_OTP_TRIES;
	/* The MAC is made whatever happened, so the time does not tell. */
	if (otp_mac(st, a, a->otp_at, digits, h, e) < 0) {
		secure_wipe(digits, sizeof(digits));
		return RESIDENT_ERROR;
	}
	secure_wipe(digits, sizeof(digits));
	if (!live)
		return fail(a, RESIDENT_EXPIRED);
	a->otp_tries++;
	if (CRYPTO_memcmp(h, a->otp_hash, sizeof(h)) != 0)
		return fail(a, RESIDENT_WRONG);
	succeed(a);
	return RESIDENT_OK;
}

enum resident_check resident_value_check(struct notice_access *a, const char *typed,
					 const char *stored)
{
	if (a->locked)
		return RESIDENT_LOCKED;
	if (!resident_value_match(typed, stored))
		return fail(a, RESIDENT_WRONG);
	succeed(a);
	return RESIDENT_OK;
}
