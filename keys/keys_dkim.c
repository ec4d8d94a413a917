/*
 * keys_dkim.c — the tenant's DKIM key (keys/dkim.key, RSA-2048, PKCS#8
 * PEM): loading it, signing a digest with it (RSASSA-PKCS1-v1_5 with the
 * SHA-256 DigestInfo, RFC 8017 8.2, as RFC 6376 3.3.1 asks for rsa-sha256)
 * and giving out its public key.
 * Runs only in the keys process (or a keys child of a command-line tool).
 */
#include "keys/keys_dkim.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define DKIM_KEY_MAX (16u << 10)

int keys_dkim_load(const char *data_dir, EVP_PKEY **out, struct error *e)
{
	char path[4096];
	struct stat st;
	uint8_t *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	int ret = -1;

	*out = NULL;
	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, KEYS_DKIM_KEY) < 0)
		return err_set(e, "data directory path too long");
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0; /* no DKIM key: DKIM requests are refused */
		return err_tmp(e, "%s: %s", path, strerror(errno));
	}
	if ((st.st_mode & 077) != 0)
		return err_set(e, "%s is readable by others (mode %o); refusing to use it", path,
			       (unsigned)(st.st_mode & 0777));
	if (file_read_all(path, DKIM_KEY_MAX, &pem, &len, e) < 0)
		return -1;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (pk == NULL || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < 1024 ||
	    EVP_PKEY_get_bits(pk) > 4096) {
		err_set(e, "%s is not an RSA key of 1024 to 4096 bits", path);
		goto out;
	}
	*out = pk;
	pk = NULL;
	ret = 0;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	if (pem != NULL) {
		secure_wipe(pem, len);
		free(pem);
	}
	return ret;
}

int keys_dkim_sign_digest(EVP_PKEY *pk, const uint8_t *digest, size_t dlen, uint8_t *sig,
			  size_t *siglen, struct error *e)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if (pk == NULL)
		return err_set(e, "this tenant has no DKIM key (run `tayori dkim record`, then restart)");
	if (dlen != CRYPT_HASH_LEN)
		return err_set(e, "a digest must be %d bytes", CRYPT_HASH_LEN);
	ctx = EVP_PKEY_CTX_new(pk, NULL);
	ok = ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
	     EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) > 0;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : err_tmp(e, "DKIM signing failed");
}

int keys_dkim_pubkey_der(EVP_PKEY *pk, struct buf *out, struct error *e)
{
	unsigned char *der = NULL;
	int n;

	if (pk == NULL)
		return err_set(e, "this tenant has no DKIM key (run `tayori dkim record`, then restart)");
	n = i2d_PUBKEY(pk, &der);
	if (n <= 0)
		return err_tmp(e, "cannot encode the DKIM public key");
	n = buf_append(out, der, (size_t)n);
	OPENSSL_free(der);
	return n < 0 ? err_tmp(e, "DKIM public key too large") : 0;
}
