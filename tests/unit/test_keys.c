/*
 * test_keys.c — unit tests for keys/: tenant key creation (file modes),
 * loading (a key readable by others is refused), the request handler
 * (HMAC, data-key wrap/unwrap with associated data, signing, certificates,
 * permission masks, strict request parsing) and the keys process end to
 * end through keys_spawn and the client.
 * Signatures are checked with OpenSSL against the demo certificate
 * (PKCS#1 v1.5 over a SHA-256 digest, RFC 8017).
 * Runs as a stand-alone cmocka program; forks keys processes; uses
 * scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/ipc.h"
#include "cmd/cli.h"
#include "keys/keys.h"
#include "lib/role.h"
#include "lib/util.h"

#define TENANT_NAME "テスト区"

/* Channel permissions for the handler tests. */
static const struct keys_perms KP_ALL = { KEYS_PERM_ALL, KEYS_ANY, KEYS_ANY, KEYS_ANY };
static const struct keys_perms KP_NONE = { 0, 0, 0, 0 };
static const struct keys_perms KP_INDEX = { 0, 0, 0, KEYS_ANY };
static const struct keys_perms KP_DATA = { 0, KEYS_ANY, KEYS_ANY, 0 };
static const struct keys_perms KP_SIGN = { KEYS_PERM_SIGN, 0, 0, 0 };
static const struct keys_perms KP_INDEX_DATA = { 0, KEYS_ANY, KEYS_ANY, KEYS_ANY };

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* ---- scratch tenants ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A new data directory with keys/ made by keys_create_tenant. */
static char *make_tenant(int demo)
{
	char *dir = xstrdup("/tmp/tayori-test-keys-XXXXXX");
	struct error e = { { 0 }, 0 };
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return NULL;
	}
	if (keys_create_tenant(dir, demo, TENANT_NAME, &e) < 0) {
		fprintf(stderr, "keys_create_tenant: %s\n", e.msg);
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(dir);
		return NULL;
	}
	return dir;
}

static void remove_tenant(char *dir)
{
	if (dir == NULL)
		return;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

struct fixture {
	char *dir;
	struct keys_state *ks;
	struct buf reply;
};

static int setup_demo(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct error e = { { 0 }, 0 };
	f->dir = make_tenant(1);
	if (f->dir == NULL) {
		free(f);
		return -1;
	}
	if (keys_state_load(f->dir, KEYS_SIGNING_P12, NULL, &f->ks, &e) < 0) {
		fprintf(stderr, "keys_state_load: %s\n", e.msg);
		remove_tenant(f->dir);
		free(f);
		return -1;
	}
	buf_init(&f->reply, KEYS_MAX_REQUEST);
	*state = f;
	return 0;
}

static int teardown_demo(void **state)
{
	struct fixture *f = *state;
	keys_state_free(&f->ks);
	buf_free(&f->reply);
	remove_tenant(f->dir);
	free(f);
	return 0;
}

/* One request to keys_handle; returns its result, sets *rtype. */
static int handle(struct fixture *f, const struct keys_perms *perms, uint32_t type, const struct buf *body,
		  uint32_t *rtype, struct error *e)
{
	e->msg[0] = '\0';
	*rtype = 0;
	return keys_handle(f->ks, perms, type, body != NULL ? body->data : NULL,
			   body != NULL ? body->len : 0, rtype, &f->reply, e);
}

/* Read exactly one bytes field of n bytes from the reply. */
static void reply_fixed(struct fixture *f, uint8_t *out, size_t n)
{
	struct ipc_reader r;
	const uint8_t *p;
	size_t len;
	ipc_reader_init(&r, f->reply.data, f->reply.len);
	assert_int_equal(ipc_get_bytes(&r, &p, &len), 0);
	assert_int_equal(len, n);
	assert_int_equal(ipc_end(&r), 0);
	memcpy(out, p, n);
}

static void hmac_req(struct fixture *f, uint32_t type, const char *data, uint8_t out[32])
{
	struct buf req;
	struct error e = { { 0 }, 0 };
	uint32_t rtype;
	buf_init(&req, KEYS_MAX_REQUEST);
	assert_int_equal(ipc_put_str(&req, data), 0);
	assert_int_equal(handle(f, &KP_ALL, type, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	reply_fixed(f, out, 32);
	buf_free(&req);
}

static void dek_new(struct fixture *f, const char *aad, uint8_t dek[32],
		    uint8_t wrapped[KEYS_WRAPPED_LEN])
{
	struct buf req;
	struct error e = { { 0 }, 0 };
	struct ipc_reader r;
	const uint8_t *p;
	size_t n;
	uint32_t rtype;

	buf_init(&req, KEYS_MAX_REQUEST);
	assert_int_equal(ipc_put_str(&req, aad), 0);
	assert_int_equal(handle(f, &KP_DATA, KEYS_DEK_NEW, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	ipc_reader_init(&r, f->reply.data, f->reply.len);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	assert_int_equal(n, CRYPT_KEY_LEN);
	memcpy(dek, p, n);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	assert_int_equal(n, KEYS_WRAPPED_LEN);
	memcpy(wrapped, p, n);
	assert_int_equal(ipc_end(&r), 0);
	buf_free(&req);
}

/* 0 with *rtype; the reply is left in f->reply. */
static int dek_unwrap(struct fixture *f, const struct keys_perms *perms, const char *aad,
		      const uint8_t *wrapped, size_t wlen, uint32_t *rtype)
{
	struct buf req;
	struct error e = { { 0 }, 0 };
	int r;
	buf_init(&req, KEYS_MAX_REQUEST);
	assert_int_equal(ipc_put_str(&req, aad), 0);
	assert_int_equal(ipc_put_bytes(&req, wrapped, wlen), 0);
	r = handle(f, perms, KEYS_DEK_UNWRAP, &req, rtype, &e);
	buf_free(&req);
	return r;
}

/* ---- files and modes ---- */

static void test_create_modes(void **state)
{
	char *dir = make_tenant(1);
	char path[4096];
	struct stat st;
	struct error e = { { 0 }, 0 };
	uint8_t *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;
	(void)state;

	assert_non_null(dir);
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_DIR);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);

	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_TENANT_KEY);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(file_read_all(path, 4096, &before, &blen, &e), 0);
	/* "tayori-tenant-key-v1 " + 64 hex digits + "\n" */
	assert_int_equal(blen, 21 + 64 + 1);
	assert_memory_equal(before, "tayori-tenant-key-v1 ", 21);

	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_SIGNING_P12);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_SIGNING_PASS);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* A second init must not replace the tenant key (that would shred the data). */
	assert_int_equal(keys_create_tenant(dir, 0, TENANT_NAME, &e), -1);
	assert_non_null(strstr(e.msg, "exists"));
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_TENANT_KEY);
	assert_int_equal(file_read_all(path, 4096, &after, &alen, &e), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(before, after, blen);
	free(before);
	free(after);
	remove_tenant(dir);
}

static void test_create_keys_dir_mode_fixed(void **state)
{
	char *dir = xstrdup("/tmp/tayori-test-keys-XXXXXX");
	char path[4096];
	struct stat st;
	struct error e = { { 0 }, 0 };
	(void)state;

	/* A keys/ directory that already exists with a loose mode is tightened. */
	assert_non_null(mkdtemp(dir));
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_DIR);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(keys_create_tenant(dir, 0, TENANT_NAME, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Without demo there is no credential. */
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_SIGNING_P12);
	assert_int_equal(access(path, F_OK), -1);
	remove_tenant(dir);
}

static void test_load_refuses_loose_mode(void **state)
{
	char *dir = make_tenant(0);
	char path[4096];
	struct keys_state *ks = NULL;
	struct error e = { { 0 }, 0 };
	(void)state;

	assert_non_null(dir);
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_TENANT_KEY);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), 0);
	assert_non_null(ks);
	keys_state_free(&ks);
	assert_null(ks);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	assert_null(ks);
	assert_non_null(strstr(e.msg, "644"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), 0);
	keys_state_free(&ks);
	remove_tenant(dir);
}

static void test_load_refuses_bad_key(void **state)
{
	char *dir = make_tenant(0);
	char path[4096], text[128];
	struct keys_state *ks = NULL;
	struct error e = { { 0 }, 0 };
	(void)state;

	assert_non_null(dir);
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_TENANT_KEY);
	/* Not hex. */
	str_fmt(text, sizeof(text), "tayori-tenant-key-v1 %064d\n", 0);
	text[30] = 'z';
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600, &e), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	assert_non_null(strstr(e.msg, "not a tayori tenant key"));
	/* Too short. */
	assert_int_equal(file_write_atomic(path, "tayori-tenant-key-v1 00\n", 24, 0600, &e), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	/* Wrong magic. */
	str_fmt(text, sizeof(text), "tayori-tenant-key-v2 %064d\n", 0);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0600, &e), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	/* Missing. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(keys_state_load(dir, NULL, NULL, &ks, &e), -1);
	assert_non_null(strstr(e.msg, "tayori init"));
	assert_null(ks);
	remove_tenant(dir);
}

/* ---- the handler ---- */

static void test_hmac(void **state)
{
	struct fixture *f = *state;
	uint8_t a[32], b[32], c[32], d[32], plain[32], zero[32] = { 0 };

	hmac_req(f, KEYS_HMAC, "login:alice", a);
	hmac_req(f, KEYS_HMAC, "login:alice", b);
	assert_memory_equal(a, b, 32); /* deterministic: usable as an index key */
	assert_memory_not_equal(a, zero, 32);
	hmac_req(f, KEYS_HMAC, "login:alicf", c);
	assert_memory_not_equal(a, c, 32);
	/* The audit MAC uses another sub-key. */
	hmac_req(f, KEYS_AUDIT_MAC, "login:alice", d);
	assert_memory_not_equal(a, d, 32);
	/* Neither is a plain, unkeyed hash. */
	crypt_sha256("login:alice", 11, plain);
	assert_memory_not_equal(a, plain, 32);
	/* An empty value is allowed. */
	hmac_req(f, KEYS_HMAC, "", c);
	assert_memory_not_equal(a, c, 32);
}

static void test_hmac_differs_between_tenants(void **state)
{
	struct fixture *f = *state;
	struct fixture g = { 0 };
	struct error e = { { 0 }, 0 };
	uint8_t a[32], b[32];

	g.dir = make_tenant(0);
	assert_non_null(g.dir);
	assert_int_equal(keys_state_load(g.dir, NULL, NULL, &g.ks, &e), 0);
	buf_init(&g.reply, KEYS_MAX_REQUEST);
	hmac_req(f, KEYS_HMAC, "resident:00001234", a);
	hmac_req(&g, KEYS_HMAC, "resident:00001234", b);
	assert_memory_not_equal(a, b, 32);
	keys_state_free(&g.ks);
	buf_free(&g.reply);
	remove_tenant(g.dir);
}

static void test_dek_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t dek[32], dek2[32], wrapped[KEYS_WRAPPED_LEN], wrapped2[KEYS_WRAPPED_LEN], got[32];
	uint32_t rtype;
	const char *aad = "tayori:residents:0000000000000001";

	dek_new(f, aad, dek, wrapped);
	assert_int_equal(dek_unwrap(f, &KP_DATA, aad, wrapped, sizeof(wrapped), &rtype), 0);
	assert_int_equal(rtype, KEYS_OK);
	reply_fixed(f, got, 32);
	assert_memory_equal(dek, got, 32);
	/* The wrapped form does not contain the key in the clear. */
	assert_null(memmem(wrapped, sizeof(wrapped), dek, 8));
	/* Every data key is fresh. */
	dek_new(f, aad, dek2, wrapped2);
	assert_memory_not_equal(dek, dek2, 32);
	assert_memory_not_equal(wrapped, wrapped2, sizeof(wrapped));
}

static void test_unwrap_other_aad_is_keys_err(void **state)
{
	struct fixture *f = *state;
	uint8_t dek[32], wrapped[KEYS_WRAPPED_LEN];
	uint32_t rtype;
	struct ipc_reader r;
	const uint8_t *msg;
	size_t n;

	dek_new(f, "tayori:residents:01", dek, wrapped);
	/* Moved to another record: a KEYS_ERR answer, not a closed channel. */
	assert_int_equal(dek_unwrap(f, &KP_DATA, "tayori:residents:02", wrapped,
				    sizeof(wrapped), &rtype), 0);
	assert_int_equal(rtype, KEYS_ERR);
	ipc_reader_init(&r, f->reply.data, f->reply.len);
	assert_int_equal(ipc_get_bytes(&r, &msg, &n), 0);
	assert_int_equal(ipc_end(&r), 0);
	assert_true(n > 0);
	/* The answer carries no key material. */
	assert_null(memmem(f->reply.data, f->reply.len, dek, 8));

	/* Same for a damaged wrapped key, bit by bit in a few places. */
	for (size_t i = 0; i < sizeof(wrapped); i += 7) {
		wrapped[i] ^= 0x10;
		assert_int_equal(dek_unwrap(f, &KP_DATA, "tayori:residents:01", wrapped,
					    sizeof(wrapped), &rtype), 0);
		assert_int_equal(rtype, KEYS_ERR);
		wrapped[i] ^= 0x10;
	}
	/* And back in place it opens. */
	assert_int_equal(dek_unwrap(f, &KP_DATA, "tayori:residents:01", wrapped,
				    sizeof(wrapped), &rtype), 0);
	assert_int_equal(rtype, KEYS_OK);

	/* A wrapped key of the wrong length is a protocol error. */
	assert_int_equal(dek_unwrap(f, &KP_DATA, "tayori:residents:01", wrapped,
				    sizeof(wrapped) - 1, &rtype), -1);
}

static void test_permission_mask(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf req, digest;
	uint8_t dek[32], wrapped[KEYS_WRAPPED_LEN], h[32];
	uint32_t rtype;

	buf_init(&req, 1024);
	buf_init(&digest, 1024);
	ipc_put_str(&req, "x");
	crypt_sha256("doc", 3, h);
	ipc_put_bytes(&digest, h, sizeof(h));

	/* A portal-like channel: index and data, never signing or the audit key. */
	const struct keys_perms *portal = &KP_INDEX_DATA;
	assert_int_equal(handle(f, portal, KEYS_SIGN, &digest, &rtype, &e), -1);
	assert_non_null(strstr(e.msg, "not allowed"));
	assert_int_equal(handle(f, portal, KEYS_CERTS, NULL, &rtype, &e), -1);
	assert_int_equal(handle(f, portal, KEYS_AUDIT_MAC, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, portal, KEYS_HMAC, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);

	/* Index only: no data keys either. */
	assert_int_equal(handle(f, &KP_INDEX, KEYS_DEK_NEW, &req, &rtype, &e), -1);
	dek_new(f, "a", dek, wrapped);
	assert_int_equal(dek_unwrap(f, &KP_INDEX, "a", wrapped, sizeof(wrapped), &rtype), -1);
	/* Sign only: no index. */
	assert_int_equal(handle(f, &KP_SIGN, KEYS_HMAC, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_SIGN, KEYS_SIGN, &digest, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	/* Nothing granted: nothing works. */
	assert_int_equal(handle(f, &KP_NONE, KEYS_HMAC, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_NONE, KEYS_DEK_NEW, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_NONE, KEYS_SIGN, &digest, &rtype, &e), -1);
	buf_free(&req);
	buf_free(&digest);
}

static void test_unknown_type(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf req;
	uint32_t rtype;
	static const uint32_t types[] = { 0, 7, 99, KEYS_OK, KEYS_ERR, 0xffffffffu };

	buf_init(&req, 1024);
	ipc_put_str(&req, "x");
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		assert_int_equal(handle(f, &KP_ALL, types[i], &req, &rtype, &e), -1);
		assert_true(e.msg[0] != '\0');
	}
	buf_free(&req);
}

static void test_malformed_requests(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf req;
	uint32_t rtype;
	uint8_t dek[32], wrapped[KEYS_WRAPPED_LEN], h[32];

	buf_init(&req, 4096);
	/* Leftover bytes after a well-formed field. */
	ipc_put_str(&req, "x");
	ipc_put_u8(&req, 0);
	assert_int_equal(handle(f, &KP_ALL, KEYS_HMAC, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_MAC, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_DEK_NEW, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_CERTS, &req, &rtype, &e), -1);
	buf_reset(&req);
	crypt_sha256("doc", 3, h);
	ipc_put_bytes(&req, h, sizeof(h));
	ipc_put_u32(&req, 0);
	assert_int_equal(handle(f, &KP_ALL, KEYS_SIGN, &req, &rtype, &e), -1);
	buf_reset(&req);
	dek_new(f, "a", dek, wrapped);
	ipc_put_str(&req, "a");
	ipc_put_bytes(&req, wrapped, sizeof(wrapped));
	ipc_put_u8(&req, 1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_DEK_UNWRAP, &req, &rtype, &e), -1);

	/* Truncated and empty bodies. */
	buf_reset(&req);
	ipc_put_str(&req, "abcdef");
	req.len -= 1;
	assert_int_equal(handle(f, &KP_ALL, KEYS_HMAC, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_HMAC, NULL, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_DEK_NEW, NULL, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_SIGN, NULL, &rtype, &e), -1);
	buf_reset(&req);
	ipc_put_str(&req, "a"); /* unwrap without its wrapped key */
	assert_int_equal(handle(f, &KP_ALL, KEYS_DEK_UNWRAP, &req, &rtype, &e), -1);
	buf_free(&req);
}

/* The demo signer from KEYS_CERTS, parsed. */
static X509 *get_signer(struct fixture *f, int *ncerts)
{
	struct error e = { { 0 }, 0 };
	struct ipc_reader r;
	const uint8_t *der, *p;
	size_t n;
	uint32_t rtype;
	X509 *cert = NULL;

	assert_int_equal(handle(f, &KP_SIGN, KEYS_CERTS, NULL, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	*ncerts = 0;
	ipc_reader_init(&r, f->reply.data, f->reply.len);
	while (r.off < r.len) {
		assert_int_equal(ipc_get_bytes(&r, &der, &n), 0);
		if (*ncerts == 0) {
			p = der;
			cert = d2i_X509(NULL, &p, (long)n);
			assert_non_null(cert);
			assert_ptr_equal(p, der + n); /* the whole field is one certificate */
		}
		(*ncerts)++;
	}
	assert_int_equal(ipc_end(&r), 0);
	return cert;
}

static int verify_sig(X509 *cert, const uint8_t digest[32], const uint8_t *sig, size_t siglen)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	int ok;
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	if (EVP_PKEY_base_id(pub) == EVP_PKEY_RSA)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	ok = EVP_PKEY_verify(ctx, sig, siglen, digest, 32);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void test_sign_verifies(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf req;
	uint8_t digest[32], sig[KEYS_MAX_SIG];
	size_t siglen;
	uint32_t rtype;
	int ncerts = 0;
	char cn[512];
	X509 *cert = get_signer(f, &ncerts);

	assert_int_equal(ncerts, 1); /* self-signed demo: no chain */
	/* The demo certificate says so, and names the tenant. */
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_non_null(strstr(cn, "DEMO"));
	assert_non_null(strstr(cn, TENANT_NAME));

	crypt_sha256("%PDF-1.7 signed bytes", 21, digest);
	buf_init(&req, 1024);
	ipc_put_bytes(&req, digest, sizeof(digest));
	assert_int_equal(handle(f, &KP_SIGN, KEYS_SIGN, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	{
		struct ipc_reader r;
		const uint8_t *p;
		ipc_reader_init(&r, f->reply.data, f->reply.len);
		assert_int_equal(ipc_get_bytes(&r, &p, &siglen), 0);
		assert_int_equal(ipc_end(&r), 0);
		assert_int_equal(siglen, 256); /* RSA-2048 */
		memcpy(sig, p, siglen);
	}
	assert_int_equal(verify_sig(cert, digest, sig, siglen), 1);
	/* Not a signature over any other digest. */
	digest[0] ^= 1;
	assert_int_not_equal(verify_sig(cert, digest, sig, siglen), 1);
	digest[0] ^= 1;
	sig[10] ^= 1;
	assert_int_not_equal(verify_sig(cert, digest, sig, siglen), 1);

	/* A digest that is not 32 bytes is refused with KEYS_ERR. */
	buf_reset(&req);
	ipc_put_bytes(&req, digest, 31);
	assert_int_equal(handle(f, &KP_SIGN, KEYS_SIGN, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_ERR);
	buf_free(&req);
	X509_free(cert);
}

static void test_no_credential(void **state)
{
	struct fixture g = { 0 };
	struct error e = { { 0 }, 0 };
	struct buf req;
	uint8_t digest[32];
	uint32_t rtype;
	(void)state;

	g.dir = make_tenant(0);
	assert_non_null(g.dir);
	assert_int_equal(keys_state_load(g.dir, KEYS_SIGNING_P12, NULL, &g.ks, &e), 0);
	buf_init(&g.reply, KEYS_MAX_REQUEST);
	buf_init(&req, 1024);
	crypt_sha256("x", 1, digest);
	ipc_put_bytes(&req, digest, sizeof(digest));
	/* Signing without a credential is a KEYS_ERR answer. */
	assert_int_equal(handle(&g, &KP_ALL, KEYS_SIGN, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_ERR);
	/* And there are no certificates. */
	assert_int_equal(handle(&g, &KP_ALL, KEYS_CERTS, NULL, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	assert_int_equal(g.reply.len, 0);
	buf_free(&req);
	keys_state_free(&g.ks);
	buf_free(&g.reply);
	remove_tenant(g.dir);
}

static void test_wrong_p12_password(void **state)
{
	char *dir = make_tenant(1);
	struct keys_state *ks = NULL;
	struct error e = { { 0 }, 0 };
	(void)state;

	assert_non_null(dir);
	setenv("TAYORI_TEST_P12_PASS", "not the password", 1);
	assert_int_equal(keys_state_load(dir, KEYS_SIGNING_P12, "TAYORI_TEST_P12_PASS", &ks, &e), -1);
	assert_null(ks);
	unsetenv("TAYORI_TEST_P12_PASS");
	assert_int_equal(keys_state_load(dir, KEYS_SIGNING_P12, "TAYORI_TEST_P12_PASS", &ks, &e), -1);
	assert_non_null(strstr(e.msg, "TAYORI_TEST_P12_PASS"));
	remove_tenant(dir);
}

/* ---- the keys process ---- */

static void test_spawn_end_to_end(void **state)
{
	struct fixture *f = *state;
	struct keys_client *kc = NULL;
	struct error e = { { 0 }, 0 };
	pid_t pid = -1;
	uint8_t a[32], b[32], dek[32], dek2[32], wrapped[KEYS_WRAPPED_LEN], digest[32];
	uint8_t sig[KEYS_MAX_SIG];
	size_t siglen = sizeof(sig);
	struct buf certs;
	X509 *cert;

	assert_int_equal(keys_spawn(f->dir, KEYS_SIGNING_P12, NULL, &kc, &pid, &e), 0);
	assert_non_null(kc);
	assert_true(pid > 0);

	/* The process computes what the same key computes in-process. */
	assert_int_equal(keys_hmac(kc, "login:alice", 11, a, &e), 0);
	hmac_req(f, KEYS_HMAC, "login:alice", b);
	assert_memory_equal(a, b, 32);
	assert_int_equal(keys_audit_mac(kc, "login:alice", 11, a, &e), 0);
	hmac_req(f, KEYS_AUDIT_MAC, "login:alice", b);
	assert_memory_equal(a, b, 32);

	/* Data keys. */
	assert_int_equal(keys_dek_new(kc, "ctx-1", 5, dek, wrapped, &e), 0);
	assert_int_equal(keys_dek_unwrap(kc, "ctx-1", 5, wrapped, dek2, &e), 0);
	assert_memory_equal(dek, dek2, 32);
	e.msg[0] = '\0';
	assert_int_equal(keys_dek_unwrap(kc, "ctx-2", 5, wrapped, dek2, &e), -1);
	assert_non_null(strstr(e.msg, "keys:"));
	assert_int_equal(e.temporary, 0);
	/* A refused unwrap does not break the channel. */
	assert_int_equal(keys_dek_unwrap(kc, "ctx-1", 5, wrapped, dek2, &e), 0);
	assert_memory_equal(dek, dek2, 32);

	/* Signing, checked against the certificate the process hands out. */
	buf_init(&certs, KEYS_MAX_REQUEST);
	assert_int_equal(keys_certs(kc, &certs, &e), 0);
	{
		struct ipc_reader r;
		const uint8_t *der, *p;
		size_t n;
		ipc_reader_init(&r, certs.data, certs.len);
		assert_int_equal(ipc_get_bytes(&r, &der, &n), 0);
		assert_int_equal(ipc_end(&r), 0);
		p = der;
		cert = d2i_X509(NULL, &p, (long)n);
		assert_non_null(cert);
	}
	crypt_sha256("notice.pdf", 10, digest);
	assert_int_equal(keys_sign_digest(kc, digest, sig, &siglen, &e), 0);
	assert_int_equal(verify_sig(cert, digest, sig, siglen), 1);
	/* A caller buffer too small for the signature is refused. */
	siglen = 16;
	assert_int_equal(keys_sign_digest(kc, digest, sig, &siglen, &e), -1);
	X509_free(cert);
	buf_free(&certs);

	keys_spawn_wait(&kc, pid);
	assert_null(kc);
	/* The child is gone (reaped). */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* KEYS_BATCH: the same answers as one request each, in chunks past the
 * limit, all or nothing, and only for the cheap requests. */
static void test_batch(void **state)
{
	struct fixture *f = *state;
	struct keys_client *kc = NULL;
	struct error e = { { 0 }, 0 };
	pid_t pid = -1;
	enum { N = 3 * KEYS_BATCH_MAX + 6 }; /* even: unwraps go to the odd slots */
	static struct keys_op ops[N];
	static uint8_t out[N][KEYS_DEK_LEN], in[N][KEYS_MAX_SIG];
	static char ctx[N][32];
	uint8_t one[32], dek[32];

	assert_int_equal(keys_spawn(f->dir, KEYS_SIGNING_P12, NULL, &kc, &pid, &e), 0);
	for (int i = 0; i < N; i++) {
		snprintf(ctx[i], sizeof(ctx[i]), "ctx-%d", i);
		ops[i] = (struct keys_op){ i % 2 ? KEYS_HMAC : KEYS_DEK_NEW, ctx[i], strlen(ctx[i]),
					   out[i] };
	}
	assert_int_equal(keys_batch(kc, ops, N, &e), 0);
	for (int i = 0; i < N; i++) {
		if (i % 2) {
			assert_int_equal(keys_hmac(kc, ctx[i], strlen(ctx[i]), one, &e), 0);
			assert_memory_equal(out[i], one, 32);
		} else {
			/* a batched data key unwraps alone, and under its context only */
			assert_int_equal(keys_dek_unwrap(kc, ctx[i], strlen(ctx[i]), out[i] + 32, dek, &e), 0);
			assert_memory_equal(out[i], dek, 32);
			if (i > 0)
				assert_memory_not_equal(out[i], out[i - 2], 32);
		}
	}
	/* unwraps in a batch: context then wrapped key */
	for (int i = 0; i < N; i += 2) {
		size_t cl = strlen(ctx[i]);
		memcpy(in[i], ctx[i], cl);
		memcpy(in[i] + cl, out[i] + 32, KEYS_WRAPPED_LEN);
		ops[i / 2] = (struct keys_op){ KEYS_DEK_UNWRAP, in[i], cl + KEYS_WRAPPED_LEN, out[i + 1] };
	}
	assert_int_equal(keys_batch(kc, ops, N / 2, &e), 0);
	for (int i = 0; i < N; i += 2)
		assert_memory_equal(out[i + 1], out[i], 32);
	/* one wrong context fails the batch, wipes the outputs, keeps the channel */
	in[4][0] ^= 1;
	memset(out[5], 0xAA, 32);
	assert_int_equal(keys_batch(kc, ops, N / 2, &e), -1);
	assert_non_null(strstr(e.msg, "keys:"));
	assert_memory_equal(out[5], (uint8_t[32]){ 0 }, 32);
	assert_int_equal(keys_hmac(kc, "still", 5, one, &e), 0);
	/* signing is never batched */
	ops[0] = (struct keys_op){ KEYS_SIGN, one, 32, out[0] };
	assert_int_equal(keys_batch(kc, ops, 1, &e), -1);
	assert_int_equal(keys_batch(kc, ops, 0, &e), 0);
	keys_spawn_wait(&kc, pid);
}

/* The server refuses a batch inside a batch, a signature in a batch and
 * a count over the limit: the conversation ends. */
static void test_batch_malformed(void **state)
{
	struct fixture *f = *state;
	struct buf req, reply;
	struct error e = { { 0 }, 0 };
	uint32_t rtype;
	static const uint32_t bad_types[] = { KEYS_BATCH, KEYS_SIGN, KEYS_CERTS, KEYS_AUDIT_MAC, 99 };

	buf_init(&req, KEYS_MAX_REQUEST);
	buf_init(&reply, KEYS_MAX_REQUEST);
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		struct buf body;
		buf_init(&body, 256);
		buf_reset(&req);
		ipc_put_u32(&req, 1);
		ipc_put_u32(&req, bad_types[i]);
		ipc_put_bytes(&body, "0123456789abcdef0123456789abcdef", 32);
		ipc_put_bytes(&req, body.data, body.len);
		assert_int_equal(keys_handle(f->ks, &KP_ALL, KEYS_BATCH, req.data, req.len, &rtype,
					     &reply, &e), -1);
		buf_free(&body);
	}
	buf_reset(&req);
	ipc_put_u32(&req, KEYS_BATCH_MAX + 1);
	assert_int_equal(keys_handle(f->ks, &KP_ALL, KEYS_BATCH, req.data, req.len, &rtype,
				     &reply, &e), -1);
	/* permissions apply to each part */
	{
		struct buf body;
		buf_init(&body, 256);
		buf_reset(&req);
		ipc_put_u32(&req, 1);
		ipc_put_u32(&req, KEYS_DEK_NEW);
		ipc_put_bytes(&body, "ctx", 3);
		ipc_put_bytes(&req, body.data, body.len);
		assert_int_equal(keys_handle(f->ks, &KP_INDEX, KEYS_BATCH, req.data, req.len,
					     &rtype, &reply, &e), -1);
		assert_int_equal(keys_handle(f->ks, &KP_DATA, KEYS_BATCH, req.data, req.len,
					     &rtype, &reply, &e), 0);
		/* leftover bytes after the parts */
		ipc_put_u32(&req, 7);
		assert_int_equal(keys_handle(f->ks, &KP_DATA, KEYS_BATCH, req.data, req.len,
					     &rtype, &reply, &e), -1);
		buf_free(&body);
	}
	buf_free(&req);
	buf_wipe(&reply);
}

/* ---- each role's permissions, through the real channel ---- */

/*
 * A keys server for one channel, handed over as `tayori run` does: the
 * permissions travel with the descriptor over a control channel
 * (keys_channel_grant / keys_channel_accept), then the child serves it.
 */
static struct keys_client *serve_as(struct fixture *f, const struct keys_perms *p, pid_t *pid)
{
	int ctl[2], ch[2];
	struct error e = { { 0 }, 0 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		struct keys_perms got;
		int fd;
		close(ctl[0]);
		close(ch[0]);
		close(ch[1]);
		if (keys_channel_accept(ctl[1], &got, &fd, &e) < 0)
			_exit(2);
		keys_serve(f->ks, fd, &got);
		_exit(0);
	}
	close(ctl[1]);
	assert_int_equal(keys_channel_grant(ctl[0], p, ch[1], &e), 0);
	close(ctl[0]);
	close(ch[1]);
	return keys_client_new(ch[0]);
}

static void serve_done(struct keys_client **kc, pid_t pid)
{
	int status = 0;
	keys_client_free(kc);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

enum probe { PR_UNWRAP, PR_MINT, PR_INDEX, PR_SIGN, PR_AUDIT_MAC, PR_AUDIT_HEAD, PR_AUDIT_CHECK };

/* One request on a fresh channel with role r's permissions: 1 answered,
 * 0 refused (the keys side hung up, and the channel is dead after). */
static int probe(struct fixture *f, int r, enum probe what, const char *arg)
{
	const struct keys_perms *p = supervisor_keys_perms(r);
	struct keys_client *kc;
	struct error e = { { 0 }, 0 };
	uint8_t dek[32], dek2[32], wrapped[KEYS_WRAPPED_LEN], mac[32];
	struct keys_audit_head h;
	char in[128];
	size_t n;
	pid_t pid;
	int rc = -1;

	assert_non_null(p);
	if (what == PR_UNWRAP)
		dek_new(f, arg, dek, wrapped); /* made on an all-powerful channel */
	kc = serve_as(f, p, &pid);
	switch (what) {
	case PR_UNWRAP:
		rc = keys_dek_unwrap(kc, arg, strlen(arg), wrapped, dek2, &e);
		if (rc == 0)
			assert_memory_equal(dek, dek2, 32);
		break;
	case PR_MINT:
		rc = keys_dek_new(kc, arg, strlen(arg), dek, wrapped, &e);
		break;
	case PR_INDEX:
		/* "<kind>\0<value>", as store_index sends it */
		n = str_copy(in, arg, sizeof(in));
		memcpy(in + n + 1, "v", 1);
		in[n] = '\0';
		rc = keys_hmac(kc, in, n + 2, mac, &e);
		break;
	case PR_SIGN:
		crypt_sha256("doc", 3, mac);
		{
			uint8_t sig[KEYS_MAX_SIG];
			size_t siglen = sizeof(sig);
			rc = keys_sign_digest(kc, mac, sig, &siglen, &e);
		}
		break;
	case PR_AUDIT_MAC:
		rc = keys_audit_mac(kc, "x", 1, mac, &e);
		break;
	case PR_AUDIT_HEAD:
		rc = keys_audit_head(kc, &h, &e);
		break;
	case PR_AUDIT_CHECK:
		memset(mac, 0, sizeof(mac));
		rc = keys_audit_check(kc, "x", 1, mac, &e);
		if (rc == 1)
			rc = 0; /* answered: not the MAC */
		break;
	}
	if (rc < 0) {
		/* Forbidden, not merely failed: the keys side closed the channel. */
		assert_int_equal(e.temporary, 1);
		assert_int_equal(keys_hmac(kc, "x", 1, mac, &e), -1);
	}
	serve_done(&kc, pid);
	return rc == 0;
}

static void test_role_data_keys(void **state)
{
	struct fixture *f = *state;
	/* What each role may do with the data keys of each database: unwrap, mint. */
	static const struct {
		int role;
		const char *db;
		int unwrap, mint;
	} want[] = {
		{ ROLE_GATEWAY, "staff", 1, 0 },  { ROLE_GATEWAY, "batches", 1, 1 },
		{ ROLE_GATEWAY, "residents", 1, 1 }, { ROLE_GATEWAY, "pdfs", 1, 1 },
		{ ROLE_GATEWAY, "intake", 1, 1 }, { ROLE_GATEWAY, "consent", 0, 0 },
		{ ROLE_MAILER, "staff", 0, 0 },   { ROLE_MAILER, "batches", 1, 0 },
		{ ROLE_MAILER, "residents", 1, 0 }, { ROLE_MAILER, "pdfs", 0, 0 },
		{ ROLE_MAILER, "intake", 0, 0 },  { ROLE_MAILER, "consent", 1, 0 },
		{ ROLE_PORTAL, "staff", 1, 1 },   { ROLE_PORTAL, "batches", 1, 0 },
		{ ROLE_PORTAL, "residents", 1, 0 }, { ROLE_PORTAL, "pdfs", 1, 0 },
		{ ROLE_PORTAL, "intake", 0, 0 },  { ROLE_PORTAL, "consent", 1, 1 },
	};
	char aad[64];

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		str_fmt(aad, sizeof(aad), "tayori:%s:0000000000000001", want[i].db);
		if (probe(f, want[i].role, PR_UNWRAP, aad) != want[i].unwrap)
			fail_msg("%s unwrapping a %s data key: %s", role_name(want[i].role), want[i].db,
				 want[i].unwrap ? "refused" : "allowed");
		if (probe(f, want[i].role, PR_MINT, aad) != want[i].mint)
			fail_msg("%s making a %s data key: %s", role_name(want[i].role), want[i].db,
				 want[i].mint ? "refused" : "allowed");
	}
	/* A binding naming no database, or one this version does not know. */
	for (int r = ROLE_GATEWAY; r < ROLE_COUNT; r++) {
		assert_int_equal(probe(f, r, PR_UNWRAP, "ctx-1"), 0);
		assert_int_equal(probe(f, r, PR_MINT, "tayori:nosuchdb:01"), 0);
		assert_int_equal(probe(f, r, PR_MINT, "tayori:staff"), 0);
		assert_int_equal(probe(f, r, PR_MINT, "tayori:pdfsx:01"), 0);
		assert_int_equal(probe(f, r, PR_MINT, "tayori:staff_idx:01"), 0);
	}
}

static void test_role_index_sign_audit(void **state)
{
	struct fixture *f = *state;
	static const struct {
		int role;
		const char *kind;
		int ok;
	} kinds[] = {
		{ ROLE_GATEWAY, "staff-email", 1 }, { ROLE_GATEWAY, "resident", 1 },
		{ ROLE_GATEWAY, "staff-login", 0 }, { ROLE_GATEWAY, "consent", 0 },
		{ ROLE_MAILER, "consent", 1 },      { ROLE_MAILER, "resident", 0 },
		{ ROLE_MAILER, "staff-login", 0 },  { ROLE_MAILER, "staff-email", 0 },
		{ ROLE_PORTAL, "staff-login", 1 },  { ROLE_PORTAL, "consent", 1 },
		{ ROLE_PORTAL, "staff-email", 1 },  { ROLE_PORTAL, "resident", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (probe(f, kinds[i].role, PR_INDEX, kinds[i].kind) != kinds[i].ok)
			fail_msg("%s computing a %s index value: %s", role_name(kinds[i].role),
				 kinds[i].kind, kinds[i].ok ? "refused" : "allowed");
	for (int r = ROLE_GATEWAY; r < ROLE_COUNT; r++) {
		assert_int_equal(probe(f, r, PR_INDEX, "nosuchkind"), 0);
		/* Only the gateway signs. */
		assert_int_equal(probe(f, r, PR_SIGN, NULL), r == ROLE_GATEWAY);
		/* No role may ask for a raw audit MAC (it could forge records)... */
		assert_int_equal(probe(f, r, PR_AUDIT_MAC, NULL), 0);
		/* ...the portal may verify the chain (the dashboard's button)
		 * with yes-or-no answers only. */
		assert_int_equal(probe(f, r, PR_AUDIT_HEAD, NULL), r == ROLE_PORTAL);
		assert_int_equal(probe(f, r, PR_AUDIT_CHECK, NULL), r == ROLE_PORTAL);
	}
	/* ...but each appends records, which keys numbers and chains. */
	{
		uint8_t last[32] = { 0 }, mac[32], hm[32];
		uint64_t seq = 0, prev = 0;
		for (int r = ROLE_GATEWAY; r < ROLE_COUNT; r++) {
			struct error e = { { 0 }, 0 };
			pid_t pid;
			struct keys_client *kc = serve_as(f, supervisor_keys_perms(r), &pid);
			if (keys_audit_append(kc, 0, prev, prev ? last : NULL, "fields", 6, &seq, mac, hm,
					      &e) < 0)
				fail_msg("%s appending an audit record: %s", role_name(r), e.msg);
			assert_int_equal(seq, prev + 1);
			assert_int_equal(keys_audit_commit(kc, seq, mac, &e), 0);
			memcpy(last, mac, 32);
			prev = seq;
			serve_done(&kc, pid);
		}
	}
}

/* Inside a KEYS_BATCH each part is judged alone: one forbidden part
 * refuses the whole batch and ends the conversation. */
static void test_role_batch(void **state)
{
	struct fixture *f = *state;
	static const char *const ctx[] = { "tayori:residents:01", "tayori:batches:01",
					   "tayori:pdfs:01", "tayori:staff:01" };
	uint8_t wrapped[4][KEYS_WRAPPED_LEN], dek[4][32], in[4][64 + KEYS_WRAPPED_LEN];
	uint8_t out[4][KEYS_DEK_LEN], mac[32];
	struct keys_op ops[4];
	struct error e = { { 0 }, 0 };
	struct keys_client *kc;
	pid_t pid;

	for (int i = 0; i < 4; i++) {
		size_t n = strlen(ctx[i]);
		dek_new(f, ctx[i], dek[i], wrapped[i]);
		memcpy(in[i], ctx[i], n);
		memcpy(in[i] + n, wrapped[i], KEYS_WRAPPED_LEN);
		ops[i] = (struct keys_op){ KEYS_DEK_UNWRAP, in[i], n + KEYS_WRAPPED_LEN, out[i] };
	}
	/* The mailer: residents and batches yes... */
	kc = serve_as(f, supervisor_keys_perms(ROLE_MAILER), &pid);
	assert_int_equal(keys_batch(kc, ops, 2, &e), 0);
	assert_memory_equal(out[0], dek[0], 32);
	assert_memory_equal(out[1], dek[1], 32);
	/* ...a PDF's key among them: the whole batch is refused. */
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(keys_batch(kc, ops, 3, &e), -1);
	assert_int_equal(e.temporary, 1);
	assert_memory_equal(out[0], (uint8_t[32]){ 0 }, 32);
	assert_int_equal(keys_hmac(kc, "consent\0v", 9, mac, &e), -1);
	serve_done(&kc, pid);
	/* The portal reads PDFs, but a batch minting a PDF's key is refused. */
	kc = serve_as(f, supervisor_keys_perms(ROLE_PORTAL), &pid);
	assert_int_equal(keys_batch(kc, ops, 4, &e), 0);
	ops[1] = (struct keys_op){ KEYS_DEK_NEW, ctx[2], strlen(ctx[2]), out[1] };
	assert_int_equal(keys_batch(kc, ops, 2, &e), -1);
	serve_done(&kc, pid);
	/* The gateway: a batch of new keys for residents and PDFs, and an index
	 * kind it does not hold in the same batch. */
	kc = serve_as(f, supervisor_keys_perms(ROLE_GATEWAY), &pid);
	ops[0] = (struct keys_op){ KEYS_DEK_NEW, ctx[0], strlen(ctx[0]), out[0] };
	ops[1] = (struct keys_op){ KEYS_DEK_NEW, ctx[2], strlen(ctx[2]), out[1] };
	ops[2] = (struct keys_op){ KEYS_HMAC, "resident\0k", 10, out[2] };
	assert_int_equal(keys_batch(kc, ops, 3, &e), 0);
	ops[2] = (struct keys_op){ KEYS_HMAC, "staff-login\0k", 13, out[2] };
	assert_int_equal(keys_batch(kc, ops, 3, &e), -1);
	serve_done(&kc, pid);
}

/* ---- the audit chain's counter ---- */

static char *read_counter(const char *dir)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	struct error e = { { 0 }, 0 };
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_AUDIT_COUNTER);
	if (file_read_all(path, 4096, &data, &len, &e) < 0)
		return NULL;
	data = xrealloc(data, len + 1);
	data[len] = '\0';
	return (char *)data;
}

static void test_audit_chain_protocol(void **state)
{
	struct fixture *f = *state;
	struct keys_client *kc = NULL;
	struct keys_audit_head h;
	struct error e = { { 0 }, 0 };
	uint8_t m1[32], m2[32], m3[32], m3b[32], hm[32], x[32];
	uint64_t seq;
	pid_t pid = -1;
	char *text;
	struct stat st;
	char path[4096];

	/* A new tenant's counter: nothing yet, in its own 0700 folder. */
	str_fmt(path, sizeof(path), "%s/%s", f->dir, KEYS_AUDIT_DIR);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	text = read_counter(f->dir);
	assert_non_null(text);
	assert_non_null(strstr(text, "committed 0 "));
	free(text);

	assert_int_equal(keys_spawn(f->dir, NULL, NULL, &kc, &pid, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 0);
	assert_int_equal(h.pending, 0);
	/* The first record follows nothing. */
	assert_int_equal(keys_audit_append(kc, 0, 0, NULL, "a", 1, &seq, m1, hm, &e), 0);
	assert_int_equal(seq, 1);
	/* The MAC is the chain's: HMAC(seq | zero prev | fields), as verification computes it. */
	{
		uint8_t b[8 + 32 + 1] = { 0 };
		be64_put(b, 1);
		b[40] = 'a';
		assert_int_equal(keys_audit_mac(kc, b, sizeof(b), x, &e), 0);
		assert_memory_equal(x, m1, 32);
	}
	/* Durable before the answer: the file already says record 1 is pending. */
	text = read_counter(f->dir);
	assert_non_null(strstr(text, "committed 0 "));
	assert_non_null(strstr(text, "pending 1 "));
	free(text);
	assert_int_equal(keys_audit_commit(kc, 1, m1, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 1);
	assert_memory_equal(h.committed_mac, m1, 32);
	assert_int_equal(h.pending, 1);

	/* Rollback: a writer whose log ends before keys' count is refused, and
	 * the channel stays (a KEYS_ERR, not a protocol error). */
	e.msg[0] = '\0';
	assert_int_equal(keys_audit_append(kc, 0, 0, NULL, "b", 1, &seq, m2, hm, &e), -1);
	assert_non_null(strstr(e.msg, "removed"));
	/* A log ending at record 1 with another MAC is not keys' record 1. */
	memset(x, 7, sizeof(x));
	assert_int_equal(keys_audit_append(kc, 0, 1, x, "b", 1, &seq, m2, hm, &e), -1);
	/* Nor a log ending beyond the count. */
	assert_int_equal(keys_audit_append(kc, 0, 5, m1, "b", 1, &seq, m2, hm, &e), -1);
	/* "Same transaction" with nothing in flight. */
	assert_int_equal(keys_audit_append(kc, 1, 1, m1, "b", 1, &seq, m2, hm, &e), -1);

	/* Two records in one transaction, then an abort: the next append
	 * starts from record 1 again. */
	assert_int_equal(keys_audit_append(kc, 0, 1, m1, "b", 1, &seq, m2, hm, &e), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(keys_audit_append(kc, 1, 2, m2, "c", 1, &seq, m3, hm, &e), 0);
	assert_int_equal(seq, 3);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 1);
	assert_int_equal(h.pending, 3);
	assert_int_equal(keys_audit_append(kc, 0, 1, m1, "b2", 2, &seq, m2, hm, &e), 0);
	assert_int_equal(seq, 2);
	/* Committed, but the confirmation was lost: the next append, finding
	 * the log at record 2, confirms it. */
	assert_int_equal(keys_audit_append(kc, 0, 2, m2, "c", 1, &seq, m3, hm, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 2);
	assert_int_equal(h.pending, 3);
	/* A confirmation for something not in flight is refused... */
	assert_int_equal(keys_audit_commit(kc, 3, m2, &e), -1);
	assert_int_equal(keys_audit_commit(kc, 4, m3, &e), -1);
	/* ...an old one is harmless, the right one counts. */
	assert_int_equal(keys_audit_commit(kc, 1, m1, &e), 0);
	assert_int_equal(keys_audit_commit(kc, 3, m3, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 3);
	assert_int_equal(h.pending, 3);
	/* A different record 3 cannot be chained after record 3 was confirmed. */
	assert_int_equal(keys_audit_append(kc, 0, 2, m2, "c", 1, &seq, m3b, hm, &e), -1);

	/* Another keys process for the same tenant (a command-line tool while
	 * `tayori run` serves) sees the same count. */
	{
		struct keys_client *kc2 = NULL;
		pid_t pid2 = -1;
		assert_int_equal(keys_spawn(f->dir, NULL, NULL, &kc2, &pid2, &e), 0);
		assert_int_equal(keys_audit_head(kc2, &h, &e), 0);
		assert_int_equal(h.committed, 3);
		assert_int_equal(keys_audit_append(kc2, 0, 3, m3, "d", 1, &seq, x, hm, &e), 0);
		assert_int_equal(seq, 4);
		keys_spawn_wait(&kc2, pid2);
	}
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.pending, 4);

	/* A damaged counter file is an error, never a fresh start. */
	str_fmt(path, sizeof(path), "%s/%s", f->dir, KEYS_AUDIT_COUNTER);
	assert_int_equal(file_write_atomic(path, "garbage\n", 8, 0600, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), -1);
	assert_non_null(strstr(e.msg, "damaged"));
	assert_int_equal(keys_audit_append(kc, 0, 4, x, "e", 1, &seq, m2, hm, &e), -1);
	/* A missing one: verification cannot vouch; an append starts counting
	 * from the log as it is (a tenant older than the counter). */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), -1);
	assert_non_null(strstr(e.msg, "missing"));
	assert_int_equal(keys_audit_append(kc, 0, 4, x, "e", 1, &seq, m2, hm, &e), 0);
	assert_int_equal(seq, 5);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 4);
	assert_int_equal(h.pending, 5);
	keys_spawn_wait(&kc, pid);
}

/* KEYS_AUDIT_APPEND_MANY: records numbered and chained in order (each MAC
 * the chain's, from the one before), the counter one fixed-size state
 * written over the old one; a counter in the older unpadded form is read
 * and then kept in the fixed size; more than the most at once is refused. */
static void test_audit_append_many(void **state)
{
	struct fixture *f = *state;
	struct keys_client *kc = NULL;
	struct keys_audit_head h;
	struct error e = { { 0 }, 0 };
	const uint8_t *fields[3] = { (const uint8_t *)"a", (const uint8_t *)"bb",
				     (const uint8_t *)"c" };
	size_t lens[3] = { 1, 2, 1 };
	uint8_t macs[KEYS_AUDIT_MANY_MAX + 1][32], hm[32], x[32], b[8 + 32 + 2];
	const uint8_t *many[KEYS_AUDIT_MANY_MAX + 1];
	size_t mlens[KEYS_AUDIT_MANY_MAX + 1];
	char path[4096], hex[65], old[256];
	uint64_t first = 0;
	struct stat st;
	pid_t pid = -1;
	char *text;

	assert_int_equal(keys_spawn(f->dir, NULL, NULL, &kc, &pid, &e), 0);
	assert_int_equal(keys_audit_append_many(kc, 0, 0, NULL, 3, fields, lens, &first, macs, hm,
						&e), 0);
	assert_int_equal(first, 1);
	/* Record 2's MAC chains from record 1's. */
	be64_put(b, 2);
	memcpy(b + 8, macs[0], 32);
	memcpy(b + 40, "bb", 2);
	assert_int_equal(keys_audit_mac(kc, b, sizeof(b), x, &e), 0);
	assert_memory_equal(x, macs[1], 32);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 0);
	assert_int_equal(h.pending, 3);
	assert_memory_equal(h.pending_mac, macs[2], 32);
	str_fmt(path, sizeof(path), "%s/%s", f->dir, KEYS_AUDIT_COUNTER);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 256);
	/* The same transaction goes on from its own pending record. */
	assert_int_equal(keys_audit_append_many(kc, 1, 3, macs[2], 1, fields, lens, &first, macs, hm,
						&e), 0);
	assert_int_equal(first, 4);
	assert_int_equal(keys_audit_commit(kc, 4, macs[0], &e), 0);
	/* An older counter (no padding) is read, then written in the fixed size. */
	hex_encode(macs[0], 32, hex);
	str_fmt(old, sizeof(old), "tayori-audit-counter-v1\ncommitted 4 %s\npending 4 %s\n", hex,
		hex);
	assert_int_equal(file_write_atomic(path, old, strlen(old), 0600, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), 0);
	assert_int_equal(h.committed, 4);
	assert_int_equal(keys_audit_append_many(kc, 0, 4, macs[0], 2, fields, lens, &first, macs, hm,
						&e), 0);
	assert_int_equal(first, 5);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 256);
	text = read_counter(f->dir);
	assert_non_null(strstr(text, "pending 6 "));
	free(text);
	/* Anything but newlines after the state is damage. */
	str_fmt(old, sizeof(old), "tayori-audit-counter-v1\ncommitted 4 %s\npending 4 %s\n\nx", hex,
		hex);
	assert_int_equal(file_write_atomic(path, old, strlen(old), 0600, &e), 0);
	assert_int_equal(keys_audit_head(kc, &h, &e), -1);
	assert_non_null(strstr(e.msg, "damaged"));
	/* One more than the most at once is refused before it is sent. */
	for (size_t i = 0; i <= KEYS_AUDIT_MANY_MAX; i++) {
		many[i] = (const uint8_t *)"z";
		mlens[i] = 1;
	}
	assert_int_equal(keys_audit_append_many(kc, 0, 6, macs[1], KEYS_AUDIT_MANY_MAX + 1, many,
						mlens, &first, macs, hm, &e), -1);
	keys_spawn_wait(&kc, pid);
}

static void test_audit_requests_malformed(void **state)
{
	struct fixture *f = *state;
	struct error e = { { 0 }, 0 };
	struct buf req;
	uint32_t rtype;
	uint8_t mac[32] = { 0 };

	buf_init(&req, 4096);
	/* A MAC for an empty log, a missing MAC, a same_txn flag of 2, leftovers. */
	ipc_put_u8(&req, 0);
	ipc_put_u64(&req, 0);
	ipc_put_bytes(&req, mac, 32);
	ipc_put_bytes(&req, "f", 1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_APPEND, &req, &rtype, &e), -1);
	buf_reset(&req);
	ipc_put_u8(&req, 0);
	ipc_put_u64(&req, 3);
	ipc_put_bytes(&req, mac, 0);
	ipc_put_bytes(&req, "f", 1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_APPEND, &req, &rtype, &e), -1);
	buf_reset(&req);
	ipc_put_u8(&req, 2);
	ipc_put_u64(&req, 0);
	ipc_put_bytes(&req, mac, 0);
	ipc_put_bytes(&req, "f", 1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_APPEND, &req, &rtype, &e), -1);
	buf_reset(&req);
	ipc_put_u8(&req, 0);
	ipc_put_u64(&req, 0);
	ipc_put_bytes(&req, mac, 0);
	ipc_put_bytes(&req, "f", 1);
	ipc_put_u8(&req, 0);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_APPEND, &req, &rtype, &e), -1);
	/* Well formed, but not on a channel without the append permission. */
	req.len -= 1;
	assert_int_equal(handle(f, &KP_DATA, KEYS_AUDIT_APPEND, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_APPEND, &req, &rtype, &e), 0);
	assert_int_equal(rtype, KEYS_OK);
	/* Commit: a short MAC; head: a body. */
	buf_reset(&req);
	ipc_put_u64(&req, 1);
	ipc_put_bytes(&req, mac, 31);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_COMMIT, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_HEAD, &req, &rtype, &e), -1);
	assert_int_equal(handle(f, &KP_ALL, KEYS_AUDIT_HEAD, NULL, &rtype, &e), 0);
	/* Never inside a batch. */
	{
		struct buf body;
		buf_init(&body, 256);
		buf_reset(&req);
		ipc_put_u32(&req, 1);
		ipc_put_u32(&req, KEYS_AUDIT_HEAD);
		ipc_put_bytes(&req, body.data, body.len);
		assert_int_equal(handle(f, &KP_ALL, KEYS_BATCH, &req, &rtype, &e), -1);
		buf_free(&body);
	}
	buf_free(&req);
}

static void test_spawn_without_key(void **state)
{
	char *dir = xstrdup("/tmp/tayori-test-keys-XXXXXX");
	struct keys_client *kc = NULL;
	struct error e = { { 0 }, 0 };
	pid_t pid = -1;
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* The child's reason reaches the caller. */
	assert_int_equal(keys_spawn(dir, NULL, NULL, &kc, &pid, &e), -1);
	assert_null(kc);
	assert_non_null(strstr(e.msg, "tayori init"));
	remove_tenant(dir);
}

static void test_serve_closes_on_forbidden(void **state)
{
	struct fixture *f = *state;
	struct keys_client *kc;
	struct error e = { { 0 }, 0 };
	uint8_t a[32], dek[32], wrapped[KEYS_WRAPPED_LEN];
	int sv[2], status = 0;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		keys_serve(f->ks, sv[1], &KP_INDEX);
		_exit(0);
	}
	close(sv[1]);
	kc = keys_client_new(sv[0]);
	assert_int_equal(keys_hmac(kc, "x", 1, a, &e), 0);
	/* Forbidden on this channel: the keys side hangs up... */
	assert_int_equal(keys_dek_new(kc, "a", 1, dek, wrapped, &e), -1);
	assert_int_equal(e.temporary, 1);
	/* ...and the client never uses the channel again. */
	assert_int_equal(keys_hmac(kc, "x", 1, a, &e), -1);
	keys_client_free(&kc);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A role's client (keys_client_exit_when_lost): the forbidden request ends
 * the role's process with status 3 inside the call, for the supervisor to
 * restart it, instead of returning and serving on without keys. */
static void test_role_exits_when_channel_closed(void **state)
{
	struct fixture *f = *state;
	int sv[2], status = 0;
	pid_t server, role;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		close(sv[0]);
		keys_serve(f->ks, sv[1], &KP_INDEX);
		_exit(0);
	}
	close(sv[1]);
	role = fork();
	assert_true(role >= 0);
	if (role == 0) {
		struct keys_client *kc = keys_client_new(sv[0]);
		struct error e = { { 0 }, 0 };
		uint8_t a[32], dek[32], wrapped[KEYS_WRAPPED_LEN];
		keys_client_exit_when_lost(kc);
		if (keys_hmac(kc, "x", 1, a, &e) != 0)
			_exit(10); /* an allowed request must still be answered */
		keys_dek_new(kc, "a", 1, dek, wrapped, &e);
		_exit(11); /* returned: the role would serve on */
	}
	close(sv[0]);
	assert_int_equal(waitpid(role, &status, 0), role);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_int_equal(waitpid(server, &status, 0), server);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Two keys processes at once (a tool that opens two tenants): closing the
 * first client must let the first process see EOF and exit, even though
 * the second process was forked while the first channel was open.
 * Run in a helper process with a deadline so a hang is a failure.
 */
static void test_spawn_two_then_close_first(void **state)
{
	struct fixture *f = *state;
	pid_t helper;
	int status = 0, done = 0;

	/* Orphaned keys processes of a hung helper become our children, so
	 * they can be reaped below instead of lingering. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		struct keys_client *kc1 = NULL, *kc2 = NULL;
		struct error e = { { 0 }, 0 };
		pid_t p1, p2;
		uint8_t mac[32];
		if (keys_spawn(f->dir, NULL, NULL, &kc1, &p1, &e) < 0 ||
		    keys_spawn(f->dir, NULL, NULL, &kc2, &p2, &e) < 0)
			_exit(2);
		keys_spawn_wait(&kc1, p1);
		if (keys_hmac(kc2, "x", 1, mac, &e) < 0)
			_exit(3);
		keys_spawn_wait(&kc2, p2);
		_exit(0);
	}
	for (int i = 0; i < 200 && !done; i++) {
		if (waitpid(helper, &status, WNOHANG) == helper)
			done = 1;
		else
			sleep_ms(50);
	}
	if (!done) {
		kill(helper, SIGKILL);
		waitpid(helper, &status, 0);
	}
	/* The keys processes die with their parent (PR_SET_PDEATHSIG): reap them. */
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			break;
		if (r <= 0)
			sleep_ms(50);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	if (!done)
		fail_msg("keys_spawn_wait on the first of two keys processes hung for 10 s: "
			 "the second child holds the first channel's parent end open");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_modes),
		cmocka_unit_test(test_create_keys_dir_mode_fixed),
		cmocka_unit_test(test_load_refuses_loose_mode),
		cmocka_unit_test(test_load_refuses_bad_key),
		cmocka_unit_test_setup_teardown(test_hmac, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_hmac_differs_between_tenants, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_dek_round_trip, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_unwrap_other_aad_is_keys_err, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_permission_mask, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_malformed_requests, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_sign_verifies, setup_demo, teardown_demo),
		cmocka_unit_test(test_no_credential),
		cmocka_unit_test(test_wrong_p12_password),
		cmocka_unit_test_setup_teardown(test_batch, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_batch_malformed, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_spawn_end_to_end, setup_demo, teardown_demo),
		cmocka_unit_test(test_spawn_without_key),
		cmocka_unit_test_setup_teardown(test_serve_closes_on_forbidden, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_role_exits_when_channel_closed, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_spawn_two_then_close_first, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_role_data_keys, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_role_index_sign_audit, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_role_batch, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_audit_chain_protocol, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_audit_append_many, setup_demo, teardown_demo),
		cmocka_unit_test_setup_teardown(test_audit_requests_malformed, setup_demo, teardown_demo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
