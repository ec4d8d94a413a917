/*
 * crypt.c — AES-256-GCM, HMAC-SHA-256, SHA-256 and HKDF on OpenSSL 3
 * (see crypt.h).  Runs in every process.
 */
#include "lib/crypt.h"

#include <pthread.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>

int crypt_seal(const uint8_t key[CRYPT_KEY_LEN], const void *aad, size_t aadlen,
	       const void *pt, size_t ptlen, struct buf *out, struct error *e)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t nonce[CRYPT_NONCE_LEN];
	size_t start = out->len;
	int n, ret = -1;

	if (ptlen > INT32_MAX || aadlen > INT32_MAX)
		return err_set(e, "object too large to encrypt");
	if (random_bytes(nonce, sizeof(nonce)) < 0)
		return err_tmp(e, "no random bytes for a nonce");
	if (buf_reserve(out, sizeof(nonce) + ptlen + CRYPT_TAG_LEN) < 0)
		return err_set(e, "encrypted object exceeds its size limit");
	memcpy(out->data + out->len, nonce, sizeof(nonce));
	out->len += sizeof(nonce);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPT_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (ptlen > 0 && EVP_EncryptUpdate(ctx, out->data + out->len, &n, pt, (int)ptlen) != 1)
		goto out;
	out->len += ptlen;
	if (EVP_EncryptFinal_ex(ctx, out->data + out->len, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPT_TAG_LEN, out->data + out->len) != 1)
		goto out;
	out->len += CRYPT_TAG_LEN;
	out->data[out->len] = '\0';
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (ret < 0) {
		out->len = start;
		return err_tmp(e, "AES-256-GCM encryption failed");
	}
	return 0;
}

int crypt_open(const uint8_t key[CRYPT_KEY_LEN], const void *aad, size_t aadlen,
	       const void *sealed, size_t sealedlen, struct buf *out, struct error *e)
{
	const uint8_t *s = sealed;
	EVP_CIPHER_CTX *ctx = NULL;
	size_t ctlen, start = out->len;
	int n, ret = -1;

	if (sealedlen < CRYPT_SEAL_OVERHEAD)
		return err_set(e, "encrypted object is truncated");
	ctlen = sealedlen - CRYPT_SEAL_OVERHEAD;
	if (ctlen > INT32_MAX || aadlen > INT32_MAX)
		return err_set(e, "encrypted object too large");
	if (buf_reserve(out, ctlen) < 0)
		return err_set(e, "decrypted object exceeds its size limit");
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPT_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, s) != 1)
		goto out;
	if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (ctlen > 0 &&
	    EVP_DecryptUpdate(ctx, out->data + out->len, &n, s + CRYPT_NONCE_LEN, (int)ctlen) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPT_TAG_LEN,
				(void *)(s + CRYPT_NONCE_LEN + ctlen)) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, out->data + out->len + ctlen, &n) != 1)
		goto out;
	out->len += ctlen;
	out->data[out->len] = '\0';
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (ret < 0) {
		if (out->data != NULL)
			secure_wipe(out->data + start, ctlen);
		out->len = start;
		return err_set(e, "encrypted object failed authentication (changed or wrong key)");
	}
	return 0;
}

/* SHA-256 fetched once per process: SHA256() fetches the algorithm from
 * the provider store on every call (a lock and a lookup), which shows in
 * the portal's per-request session lookup. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void crypt_sha256(const void *p, size_t n, uint8_t out[CRYPT_HASH_LEN])
{
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL || EVP_Digest(p, n, out, NULL, sha256_md, NULL) != 1)
		SHA256(p, n, out);
}

void crypt_hmac(const uint8_t key[CRYPT_KEY_LEN], const void *p, size_t n,
		uint8_t out[CRYPT_HASH_LEN])
{
	unsigned int len = CRYPT_HASH_LEN;
	HMAC(EVP_sha256(), key, CRYPT_KEY_LEN, p, n, out, &len);
}

int crypt_derive(const uint8_t key[CRYPT_KEY_LEN], const char *label, uint8_t out[CRYPT_KEY_LEN])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5];
	int ret = -1;

	if (ctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, CRYPT_KEY_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)"tayori", 6);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, CRYPT_KEY_LEN, params) == 1)
		ret = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

int crypt_ossl_error(struct error *e, int temporary, const char *what)
{
	unsigned long code = ERR_get_error();
	char reason[256] = "unknown error";

	if (code != 0)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	if (temporary)
		return err_tmp(e, "%s: %s", what, reason);
	return err_set(e, "%s: %s", what, reason);
}
