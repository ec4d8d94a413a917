/*
 * test_crypt.c — unit tests for lib/crypt.c: AES-256-GCM sealing
 * (NIST SP 800-38D) fails closed on any change, HMAC-SHA-256 against
 * RFC 4231 vectors, SHA-256 (FIPS 180-4) and HKDF-SHA-256 (RFC 5869).
 * Runs as a stand-alone cmocka program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/util.h"

static void key_of(uint8_t key[CRYPT_KEY_LEN], uint8_t seed)
{
	for (int i = 0; i < CRYPT_KEY_LEN; i++)
		key[i] = (uint8_t)(seed + i * 7);
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(hex_decode(h, out, n), 0);
}

/* ---- AES-256-GCM ---- */

static void test_seal_open_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 1000, 65536 };
	uint8_t key[CRYPT_KEY_LEN];
	struct error e = { { 0 }, 0 };
	(void)state;

	key_of(key, 1);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];
		uint8_t *pt = xmalloc(n + 1);
		struct buf sealed, plain;
		for (size_t j = 0; j < n; j++)
			pt[j] = (uint8_t)(j * 13 + n);
		buf_init(&sealed, BUF_MAX_DEFAULT);
		buf_init(&plain, BUF_MAX_DEFAULT);
		assert_int_equal(crypt_seal(key, "ctx", 3, pt, n, &sealed, &e), 0);
		assert_int_equal(sealed.len, n + CRYPT_SEAL_OVERHEAD);
		if (n >= 16) /* the ciphertext is not the plaintext */
			assert_memory_not_equal(sealed.data + CRYPT_NONCE_LEN, pt, 16);
		assert_int_equal(crypt_open(key, "ctx", 3, sealed.data, sealed.len, &plain, &e), 0);
		assert_int_equal(plain.len, n);
		if (n > 0)
			assert_memory_equal(plain.data, pt, n);
		assert_int_equal(plain.data[n], '\0');
		buf_free(&sealed);
		buf_free(&plain);
		free(pt);
	}
}

static void test_seal_fresh_nonce_and_append(void **state)
{
	uint8_t key[CRYPT_KEY_LEN];
	struct error e = { { 0 }, 0 };
	struct buf a, b, plain;
	(void)state;

	key_of(key, 2);
	buf_init(&a, 1024);
	buf_init(&b, 1024);
	buf_init(&plain, 1024);
	assert_int_equal(crypt_seal(key, NULL, 0, "same text", 9, &a, &e), 0);
	assert_int_equal(crypt_seal(key, NULL, 0, "same text", 9, &b, &e), 0);
	/* A fresh random nonce each time: same input, different output. */
	assert_memory_not_equal(a.data, b.data, CRYPT_NONCE_LEN);
	assert_memory_not_equal(a.data, b.data, a.len);

	/* Both append to what the buffer already holds. */
	assert_int_equal(buf_append_str(&plain, "prefix:"), 0);
	assert_int_equal(crypt_open(key, NULL, 0, b.data, b.len, &plain, &e), 0);
	assert_string_equal((char *)plain.data, "prefix:same text");
	buf_reset(&a);
	assert_int_equal(buf_append_str(&a, "HDR"), 0);
	assert_int_equal(crypt_seal(key, NULL, 0, "x", 1, &a, &e), 0);
	assert_int_equal(a.len, 3 + 1 + CRYPT_SEAL_OVERHEAD);
	assert_memory_equal(a.data, "HDR", 3);
	buf_reset(&plain);
	assert_int_equal(crypt_open(key, NULL, 0, a.data + 3, a.len - 3, &plain, &e), 0);
	assert_string_equal((char *)plain.data, "x");
	buf_free(&a);
	buf_free(&b);
	buf_free(&plain);
}

static void test_any_flipped_bit_fails(void **state)
{
	uint8_t key[CRYPT_KEY_LEN];
	struct error e = { { 0 }, 0 };
	struct buf sealed, plain;
	const char aad[] = "tayori:residents:0001";
	char aad2[sizeof(aad)];
	size_t flips = 0;
	(void)state;

	key_of(key, 3);
	buf_init(&sealed, 1024);
	buf_init(&plain, 1024);
	assert_int_equal(crypt_seal(key, aad, strlen(aad), "練馬太郎 secret", strlen("練馬太郎 secret"),
				    &sealed, &e),
			 0);
	assert_int_equal(buf_append_str(&plain, "keep"), 0);
	/* Nonce, ciphertext and tag: every single bit. */
	for (size_t i = 0; i < sealed.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			sealed.data[i] ^= (uint8_t)(1u << bit);
			e.msg[0] = '\0';
			if (crypt_open(key, aad, strlen(aad), sealed.data, sealed.len, &plain, &e) != -1)
				fail_msg("byte %zu bit %d flipped and it still opened", i, bit);
			assert_true(e.msg[0] != '\0');
			/* The output buffer is as it was. */
			assert_int_equal(plain.len, 4);
			assert_memory_equal(plain.data, "keep", 4);
			sealed.data[i] ^= (uint8_t)(1u << bit);
			flips++;
		}
	}
	assert_int_equal(flips, 8 * sealed.len);
	/* The associated data: every bit. */
	memcpy(aad2, aad, sizeof(aad));
	for (size_t i = 0; i < strlen(aad); i++) {
		for (int bit = 0; bit < 8; bit++) {
			aad2[i] ^= (char)(1u << bit);
			if (crypt_open(key, aad2, strlen(aad), sealed.data, sealed.len, &plain, &e) != -1)
				fail_msg("aad byte %zu bit %d flipped and it still opened", i, bit);
			aad2[i] ^= (char)(1u << bit);
		}
	}
	/* Shorter, longer or missing associated data. */
	assert_int_equal(crypt_open(key, aad, strlen(aad) - 1, sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(crypt_open(key, aad, sizeof(aad), sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(crypt_open(key, NULL, 0, sealed.data, sealed.len, &plain, &e), -1);
	/* Cut or extended sealed value. */
	assert_int_equal(crypt_open(key, aad, strlen(aad), sealed.data, sealed.len - 1, &plain, &e), -1);
	assert_int_equal(crypt_open(key, aad, strlen(aad), sealed.data + 1, sealed.len - 1, &plain, &e), -1);
	assert_int_equal(crypt_open(key, aad, strlen(aad), sealed.data, CRYPT_SEAL_OVERHEAD - 1, &plain, &e), -1);
	assert_int_equal(crypt_open(key, aad, strlen(aad), sealed.data, 0, &plain, &e), -1);
	assert_int_equal(buf_append_u8(&sealed, 0), 0);
	assert_int_equal(crypt_open(key, aad, strlen(aad), sealed.data, sealed.len, &plain, &e), -1);
	sealed.len--;
	/* Untouched, it still opens. */
	assert_int_equal(crypt_open(key, aad, strlen(aad), sealed.data, sealed.len, &plain, &e), 0);
	assert_string_equal((char *)plain.data, "keep練馬太郎 secret");
	buf_free(&sealed);
	buf_free(&plain);
}

static void test_wrong_key_fails(void **state)
{
	uint8_t key[CRYPT_KEY_LEN], other[CRYPT_KEY_LEN];
	struct error e = { { 0 }, 0 };
	struct buf sealed, plain;
	(void)state;

	key_of(key, 4);
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	buf_init(&sealed, 1024);
	buf_init(&plain, 1024);
	assert_int_equal(crypt_seal(key, "a", 1, "hello", 5, &sealed, &e), 0);
	assert_int_equal(crypt_open(other, "a", 1, sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(plain.len, 0);
	assert_non_null(strstr(e.msg, "authentication"));
	/* An empty plaintext is authenticated too. */
	buf_reset(&sealed);
	assert_int_equal(crypt_seal(key, "a", 1, "", 0, &sealed, &e), 0);
	assert_int_equal(sealed.len, CRYPT_SEAL_OVERHEAD);
	assert_int_equal(crypt_open(other, "a", 1, sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(crypt_open(key, "b", 1, sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(crypt_open(key, "a", 1, sealed.data, sealed.len, &plain, &e), 0);
	assert_int_equal(plain.len, 0);
	buf_free(&sealed);
	buf_free(&plain);
}

static void test_buf_cap_respected(void **state)
{
	uint8_t key[CRYPT_KEY_LEN];
	struct error e = { { 0 }, 0 };
	struct buf small, sealed, plain;
	(void)state;

	key_of(key, 5);
	/* 10 bytes need 38 sealed: a 37-byte cap refuses and leaves the buffer alone. */
	buf_init(&small, 10 + CRYPT_SEAL_OVERHEAD - 1);
	assert_int_equal(buf_append_str(&small, "ab"), 0);
	assert_int_equal(crypt_seal(key, NULL, 0, "0123456789", 10, &small, &e), -1);
	assert_int_equal(small.len, 2);
	assert_string_equal((char *)small.data, "ab");
	buf_free(&small);

	buf_init(&sealed, 10 + CRYPT_SEAL_OVERHEAD);
	assert_int_equal(crypt_seal(key, NULL, 0, "0123456789", 10, &sealed, &e), 0);
	assert_int_equal(sealed.len, 10 + CRYPT_SEAL_OVERHEAD);

	/* Opening into a buffer too small for the plaintext fails. */
	buf_init(&plain, 9);
	assert_int_equal(crypt_open(key, NULL, 0, sealed.data, sealed.len, &plain, &e), -1);
	assert_int_equal(plain.len, 0);
	buf_free(&plain);
	buf_init(&plain, 10);
	assert_int_equal(crypt_open(key, NULL, 0, sealed.data, sealed.len, &plain, &e), 0);
	assert_memory_equal(plain.data, "0123456789", 10);
	buf_free(&plain);
	buf_free(&sealed);
}

/* ---- hashes ---- */

static void test_sha256(void **state)
{
	uint8_t out[CRYPT_HASH_LEN], want[CRYPT_HASH_LEN];
	(void)state;
	/* FIPS 180-4 example "abc". */
	crypt_sha256("abc", 3, out);
	unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	crypt_sha256("", 0, out);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	crypt_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out);
	unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

/*
 * HMAC (RFC 2104) pads a key shorter than the 64-byte block with zeros, so
 * RFC 4231's short keys followed by zero bytes up to 32 are the same keys:
 * the RFC's expected values apply unchanged to crypt_hmac's 32-byte key.
 */
static void test_hmac_rfc4231(void **state)
{
	uint8_t key[CRYPT_KEY_LEN], out[CRYPT_HASH_LEN], want[CRYPT_HASH_LEN], data[50];
	(void)state;

	/* RFC 4231 test case 1: key = 0x0b x 20, data = "Hi There". */
	memset(key, 0, sizeof(key));
	memset(key, 0x0b, 20);
	crypt_hmac(key, "Hi There", 8, out);
	unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));

	/* Test case 2: key = "Jefe". */
	memset(key, 0, sizeof(key));
	memcpy(key, "Jefe", 4);
	crypt_hmac(key, "what do ya want for nothing?", 28, out);
	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));

	/* Test case 4: key = 0x01..0x19, data = 0xcd x 50. */
	memset(key, 0, sizeof(key));
	for (int i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, sizeof(data));
	crypt_hmac(key, data, sizeof(data), out);
	unhex("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void test_hmac_full_key(void **state)
{
	uint8_t key[CRYPT_KEY_LEN], out[CRYPT_HASH_LEN], out2[CRYPT_HASH_LEN], want[CRYPT_HASH_LEN];
	(void)state;
	/* A key using all 32 bytes.  Expected value computed when this test was
	 * written with OpenSSL's command line:
	 *   printf 'tayori audit chain' | openssl dgst -sha256 -mac HMAC \
	 *     -macopt hexkey:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
	 */
	for (int i = 0; i < CRYPT_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	crypt_hmac(key, "tayori audit chain", 18, out);
	unhex("9706c97330ff879d9c3760b218e750d9a69aef3c858ed538715b4ba3245ec7b3", want, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* Any other key or message gives another MAC. */
	key[31] ^= 1;
	crypt_hmac(key, "tayori audit chain", 18, out2);
	assert_memory_not_equal(out, out2, sizeof(out));
	key[31] ^= 1;
	crypt_hmac(key, "tayori audit chaiN", 18, out2);
	assert_memory_not_equal(out, out2, sizeof(out));
}

/* ---- HKDF ---- */

static void test_derive(void **state)
{
	uint8_t key[CRYPT_KEY_LEN], a[CRYPT_KEY_LEN], b[CRYPT_KEY_LEN], c[CRYPT_KEY_LEN],
		want[CRYPT_KEY_LEN];
	(void)state;
	for (int i = 0; i < CRYPT_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	assert_int_equal(crypt_derive(key, "tayori wrap v1", a), 0);
	assert_int_equal(crypt_derive(key, "tayori wrap v1", b), 0);
	/* Deterministic. */
	assert_memory_equal(a, b, sizeof(a));
	/* It is HKDF-SHA-256 with salt "tayori" and the label as info; computed
	 * when this test was written with:
	 *   openssl kdf -keylen 32 -kdfopt digest:SHA256 \
	 *     -kdfopt hexkey:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
	 *     -kdfopt salt:tayori -kdfopt "info:tayori wrap v1" HKDF
	 */
	unhex("d77a25a0990c5acc966b8e309513b35aa07f39921c3c0f760bdfe51ce090c4ae", want, sizeof(want));
	assert_memory_equal(a, want, sizeof(want));
	/* Label-separated. */
	assert_int_equal(crypt_derive(key, "tayori index v1", b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypt_derive(key, "tayori audit v1", c), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	assert_memory_not_equal(b, c, sizeof(b));
	/* Key-separated. */
	key[0] ^= 0x80;
	assert_int_equal(crypt_derive(key, "tayori wrap v1", c), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	/* The sub-key is not the key. */
	assert_memory_not_equal(a, key, sizeof(a));
}

/*
 * crypt_ossl_error: the message says what failed and OpenSSL's reason, the
 * queue is empty afterwards (no stale reason for the next failure), the
 * temporary flag is set only when asked, and an empty queue still gives a
 * sentence.
 */
static void test_ossl_error(void **state)
{
	struct error e = { { 0 }, 0 };
	static const unsigned char junk[] = { 0x30, 0x82, 0xff, 0xff, 0x01 };
	const unsigned char *p = junk;
	(void)state;

	ERR_clear_error();
	assert_null(d2i_X509(NULL, &p, (long)sizeof(junk)));
	assert_true(ERR_peek_error() != 0);
	assert_int_equal(crypt_ossl_error(&e, 0, "reading the certificate"), -1);
	assert_int_equal(strncmp(e.msg, "reading the certificate: error:", 31), 0);
	assert_true(strlen(e.msg) > 40);
	assert_int_equal(e.temporary, 0);
	assert_int_equal(ERR_peek_error(), 0);

	struct error t = { { 0 }, 0 };
	assert_int_equal(crypt_ossl_error(&t, 1, "fetching the OCSP response"), -1);
	assert_string_equal(t.msg, "fetching the OCSP response: unknown error");
	assert_int_equal(t.temporary, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open_round_trip),
		cmocka_unit_test(test_ossl_error),
		cmocka_unit_test(test_seal_fresh_nonce_and_append),
		cmocka_unit_test(test_any_flipped_bit_fails),
		cmocka_unit_test(test_wrong_key_fails),
		cmocka_unit_test(test_buf_cap_respected),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hmac_full_key),
		cmocka_unit_test(test_derive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
