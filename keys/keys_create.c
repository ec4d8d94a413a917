/*
 * keys_create.c — `tayori init`'s key material: the tenant key, the audit
 * chain's counter at zero (keys_audit.c) and, for a demo tenant, a
 * self-signed signing credential (PKCS#12, RFC 7292) with the mark that lets
 * it sign (KEYS_DEMO_MARK); and the DKIM key (KEYS_DKIM_KEY) when DKIM is
 * set up.
 * Runs in a short-lived child of `tayori init`, so the keys never live in the
 * command's own memory.
 */
#include "keys/keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/ipc.h"

static int write_tenant_key(const char *data_dir, struct error *e)
{
	char path[4096], text[128];
	uint8_t key[CRYPT_KEY_LEN];
	char hex[2 * CRYPT_KEY_LEN + 1];
	int ret;

	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, KEYS_TENANT_KEY) < 0)
		return err_set(e, "data directory path too long");
	if (access(path, F_OK) == 0)
		return err_set(e, "%s already exists; refusing to replace a tenant key", path);
	if (random_bytes(key, sizeof(key)) < 0)
		return err_tmp(e, "no random bytes for the tenant key");
	hex_encode(key, sizeof(key), hex);
	str_fmt(text, sizeof(text), "tayori-tenant-key-v1 %s\n", hex);
	ret = file_write_atomic(path, text, strlen(text), 0600, e);
	secure_wipe(key, sizeof(key));
	secure_wipe(hex, sizeof(hex));
	secure_wipe(text, sizeof(text));
	return ret;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static int write_demo_credential(const char *data_dir, const char *tenant_name, struct error *e)
{
	char path[4096], passpath[4096], cn[256];
	uint8_t rnd[18];
	char pass[2 * sizeof(rnd) + 1];
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int derlen, ret = -1;
	uint8_t serial[16];
	BIGNUM *bn = NULL;

	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, KEYS_SIGNING_P12) < 0 ||
	    str_fmt(passpath, sizeof(passpath), "%s/%s", data_dir, KEYS_SIGNING_PASS) < 0)
		return err_set(e, "data directory path too long");
	if (random_bytes(rnd, sizeof(rnd)) < 0 || random_bytes(serial, sizeof(serial)) < 0)
		return err_tmp(e, "no random bytes");
	hex_encode(rnd, sizeof(rnd), pass);
	serial[0] &= 0x7f;

	pkey = EVP_RSA_gen(2048);
	cert = X509_new();
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (pkey == NULL || cert == NULL || bn == NULL)
		goto ossl;
	X509_set_version(cert, 2);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	/* Five years, as an LGPKI 職責証明書. */
	X509_gmtime_adj(X509_getm_notAfter(cert), 5L * 365 * 24 * 3600);
	X509_set_pubkey(cert, pkey);
	name = X509_get_subject_name(cert);
	str_fmt(cn, sizeof(cn), "DEMO %s (tayori demo signer, not for real notices)",
		tenant_name != NULL && *tenant_name ? tenant_name : "tenant");
	if (X509_NAME_add_entry_by_txt(name, "C", MBSTRING_UTF8, (const unsigned char *)"JP", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"DEMO tayori", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1)
		goto ossl;
	X509_set_issuer_name(cert, name);
	if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature,nonRepudiation") < 0 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") < 0)
		goto ossl;
	if (X509_sign(cert, pkey, EVP_sha256()) <= 0)
		goto ossl;
	p12 = PKCS12_create(pass, "tayori demo signer", pkey, cert, NULL, NID_aes_256_cbc,
			    NID_aes_256_cbc, 100000, 100000, 0);
	if (p12 == NULL || (derlen = i2d_PKCS12(p12, &der)) <= 0)
		goto ossl;
	if (file_write_atomic(passpath, pass, strlen(pass), 0600, e) < 0 ||
	    file_write_atomic(path, der, (size_t)derlen, 0600, e) < 0)
		goto out;
	ret = 0;
	goto out;
ossl:
	err_tmp(e, "cannot make the demo signing certificate");
out:
	secure_wipe(pass, sizeof(pass));
	secure_wipe(rnd, sizeof(rnd));
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)derlen);
	BN_free(bn);
	PKCS12_free(p12);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	return ret;
}

/* The durable record that this tenant was made with --demo (KEYS_DEMO_MARK). */
static int write_demo_mark(const char *data_dir, struct error *e)
{
	static const char text[] =
		"This tenant was made with `tayori init --demo`: a signing certificate whose\n"
		"subject says DEMO may sign here.  Real notices need the ward's own credential.\n";
	char path[4096];
	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, KEYS_DEMO_MARK) < 0)
		return err_set(e, "data directory path too long");
	return file_write_atomic(path, text, strlen(text), 0600, e);
}

/* The DKIM key (KEYS_DKIM_KEY), unless one is there: written to a
 * temporary name and linked into place, so two keys processes starting
 * at once keep one key between them and a crash leaves no half file. */
static int write_dkim_key(const char *data_dir, struct error *e)
{
	char path[4096], tmp[4200];
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	long pemlen;
	int ret = -1;

	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, KEYS_DKIM_KEY) < 0 ||
	    str_fmt(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid()) < 0)
		return err_set(e, "data directory path too long");
	if (access(path, F_OK) == 0)
		return 0;
	pkey = EVP_RSA_gen(2048);
	bio = BIO_new(BIO_s_mem());
	if (pkey == NULL || bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pemlen = BIO_get_mem_data(bio, &pem)) <= 0) {
		err_tmp(e, "cannot make the DKIM key");
		goto out;
	}
	if (file_write_atomic(tmp, pem, (size_t)pemlen, 0600, e) < 0)
		goto out;
	if (link(tmp, path) < 0 && errno != EEXIST)
		err_tmp(e, "cannot create %s: %s", path, strerror(errno));
	else
		ret = 0;
	unlink(tmp);
out:
	if (pem != NULL && pemlen > 0)
		OPENSSL_cleanse(pem, (size_t)pemlen);
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}

struct create_job {
	const char *data_dir;
	int tenant; /* the tenant key and the audit counter */
	int demo;
	int dkim;
	const char *tenant_name;
};

static int create_in_child(const struct create_job *j, struct error *e)
{
	char dir[4096];
	int sv[2];
	pid_t child;

	if (str_fmt(dir, sizeof(dir), "%s/%s", j->data_dir, KEYS_DIR) < 0)
		return err_set(e, "data directory path too long");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_tmp(e, "cannot create %s: %s", dir, strerror(errno));
	if (chmod(dir, 0700) < 0)
		return err_tmp(e, "cannot chmod %s: %s", dir, strerror(errno));
	if (pipe(sv) < 0)
		return err_tmp(e, "pipe: %s", strerror(errno));
	fflush(NULL);
	child = fork();
	if (child < 0) {
		close(sv[0]);
		close(sv[1]);
		return err_tmp(e, "fork: %s", strerror(errno));
	}
	if (child == 0) {
		struct error ce = { { 0 }, 0 };
		int rc = 0;
		close(sv[0]);
		if ((j->tenant && (write_tenant_key(j->data_dir, &ce) < 0 ||
				   keys_chain_create(j->data_dir, &ce) < 0)) ||
		    (j->demo && (write_demo_credential(j->data_dir, j->tenant_name, &ce) < 0 ||
				 write_demo_mark(j->data_dir, &ce) < 0)) ||
		    (j->dkim && write_dkim_key(j->data_dir, &ce) < 0)) {
			(void)!write(sv[1], ce.msg, strlen(ce.msg));
			rc = 1;
		}
		close(sv[1]);
		_exit(rc);
	}
	close(sv[1]);
	{
		char msg[ERR_MAX] = "";
		ssize_t n = read(sv[0], msg, sizeof(msg) - 1);
		int status = 0;
		close(sv[0]);
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (n > 0)
				msg[n] = '\0';
			return err_tmp(e, "%s", n > 0 ? msg : "key creation failed");
		}
	}
	return 0;
}

int keys_create_tenant(const char *data_dir, int demo, const char *tenant_name, struct error *e)
{
	struct create_job j = { data_dir, 1, demo, 0, tenant_name };
	return create_in_child(&j, e);
}

int keys_create_dkim(const char *data_dir, struct error *e)
{
	struct create_job j = { data_dir, 0, 0, 1, NULL };
	return create_in_child(&j, e);
}
