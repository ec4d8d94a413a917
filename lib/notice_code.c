/*
 * notice_code.c — link and session tokens and notice codes (保護番号) as
 * text: making them from the CSPRNG and reading what a resident typed
 * (see lib/notice.h).  Pure: no store, no keys.  Runs in the mailer, the
 * portal and the command-line processes.
 *
 * The check symbol is Luhn mod 32 over Crockford's alphabet.  Luhn mod N
 * catches every single-symbol substitution and every adjacent
 * transposition but one: 0 next to Z (both add 0 when doubled or not).  So
 * notice_code_new() draws again when a code would hold 0 beside Z, and
 * every adjacent transposition of a code it hands out is caught.
 */
#include "lib/notice.h"

#include <glib.h>
#include <string.h>

#include "lib/crypt.h"

#define CODE_RANDOM (NOTICE_CODE_SYMBOLS - 1)
#define CODE_TYPED_MAX 256 /* bytes of typed input looked at */

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- tokens ---- */

int notice_token_new(char out[NOTICE_TOKEN_LEN + 1], struct error *e)
{
	uint8_t r[NOTICE_TOKEN_BYTES + 2] = { 0 };
	size_t o = 0;

	if (random_bytes(r, NOTICE_TOKEN_BYTES) < 0)
		return err_tmp(e, "notice: the random source failed");
	/* 3 bytes -> 4 characters; 16 bytes give 22 (the last has 2 bits). */
	for (size_t i = 0; i < NOTICE_TOKEN_BYTES; i += 3) {
		uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
		for (int k = 0; k < 4 && o < NOTICE_TOKEN_LEN; k++)
			out[o++] = b64url[(v >> (18 - 6 * k)) & 63];
	}
	out[NOTICE_TOKEN_LEN] = '\0';
	secure_wipe(r, sizeof(r));
	return 0;
}

int notice_token_shape(const char *s)
{
	size_t n = 0;
	const char *p;

	if (s == NULL)
		return -1;
	for (; s[n] != '\0'; n++) {
		if (n >= NOTICE_TOKEN_LEN || strchr(b64url, s[n]) == NULL)
			return -1;
	}
	if (n != NOTICE_TOKEN_LEN)
		return -1;
	/* The last character carries 2 bits: only A, Q, g, w are canonical. */
	p = strchr(b64url, s[NOTICE_TOKEN_LEN - 1]);
	return ((p - b64url) & 15) == 0 ? 0 : -1;
}

void notice_token_hash(const char *token, uint8_t out[32])
{
	crypt_sha256(token, strlen(token), out);
}

/* ---- notice codes ---- */

static int sym_value(char c)
{
	const char *p = c != '\0' ? strchr(b32, c) : NULL;
	return p != NULL ? (int)(p - b32) : -1;
}

/* Luhn mod 32: the check value of n symbol values (rightmost doubled). */
static int luhn32(const int *v, size_t n)
{
	int sum = 0, dbl = 1;
	for (size_t i = n; i-- > 0; dbl = !dbl) {
		int a = v[i];
		if (dbl) {
			a *= 2;
			a = a / 32 + a % 32;
		}
		sum += a;
	}
	return (32 - sum % 32) % 32;
}

/* 0 beside Z is the one adjacent transposition Luhn mod 32 misses. */
static int has_blind_pair(const int *v, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if ((v[i] == 0 && v[i + 1] == 31) || (v[i] == 31 && v[i + 1] == 0))
			return 1;
	return 0;
}

int notice_code_new(char out[NOTICE_CODE_TEXT + 1], struct error *e)
{
	int v[NOTICE_CODE_SYMBOLS];
	uint8_t r[7];

	for (int tries = 0; tries < 1000; tries++) {
		uint64_t bits = 0;
		size_t o = 0;
		if (random_bytes(r, sizeof(r)) < 0)
			return err_tmp(e, "notice: the random source failed");
		for (size_t i = 0; i < sizeof(r); i++)
			bits = bits << 8 | r[i];
		for (int i = 0; i < CODE_RANDOM; i++)
			v[i] = (int)((bits >> (5 * i)) & 31); /* 55 of the 56 bits */
		v[CODE_RANDOM] = luhn32(v, CODE_RANDOM);
		if (has_blind_pair(v, NOTICE_CODE_SYMBOLS))
			continue;
		for (int i = 0; i < NOTICE_CODE_SYMBOLS; i++) {
			if (i > 0 && i % 4 == 0)
				out[o++] = '-';
			out[o++] = b32[v[i]];
		}
		out[o] = '\0';
		secure_wipe(r, sizeof(r));
		secure_wipe(v, sizeof(v));
		return 0;
	}
	return err_tmp(e, "notice: the random source repeats itself");
}

/* One ASCII character after NFKC: the symbol it stands for, 0 to skip it
 * (blanks and hyphens), -1 when it has no place in a code. */
static int fold_ascii(unsigned char c)
{
	if (c == ' ' || c == '-' || c == '\t')
		return 0;
	if (c >= 'a' && c <= 'z')
		c = (unsigned char)(c - 'a' + 'A');
	if (c == 'O')
		return '0';
	if (c == 'I' || c == 'L')
		return '1';
	return sym_value((char)c) >= 0 ? c : -1;
}

/* Dashes and blanks NFKC leaves as they are but a resident may type
 * between groups (ー from a Japanese keyboard's hyphen key). */
static int is_soft_separator(gunichar c)
{
	return (c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x30FC || c == 0xFF70 ||
	       c == 0x00A0 || c == 0x3000;
}

int notice_code_read(const char *typed, char canon[NOTICE_CODE_SYMBOLS + 1])
{
	size_t len, n = 0;
	gchar *norm = NULL;
	int v[NOTICE_CODE_SYMBOLS], ret = -1;

	if (typed == NULL)
		return -1;
	len = strnlen(typed, CODE_TYPED_MAX + 1);
	if (len > CODE_TYPED_MAX || !g_utf8_validate(typed, (gssize)len, NULL))
		return -1;
	norm = g_utf8_normalize(typed, (gssize)len, G_NORMALIZE_NFKC);
	if (norm == NULL)
		return -1;
	for (const gchar *p = norm; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		int s;
		if (is_soft_separator(c))
			continue;
		if (c >= 0x80 || (s = fold_ascii((unsigned char)c)) < 0)
			goto out;
		if (s == 0)
			continue;
		if (n == NOTICE_CODE_SYMBOLS)
			goto out;
		canon[n] = (char)s;
		v[n++] = sym_value((char)s);
	}
	if (n != NOTICE_CODE_SYMBOLS || luhn32(v, CODE_RANDOM) != v[CODE_RANDOM])
		goto out;
	canon[n] = '\0';
	ret = 0;
out:
	if (ret < 0)
		canon[0] = '\0';
	g_free(norm);
	return ret;
}
