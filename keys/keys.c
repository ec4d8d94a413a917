/*
 * keys.c — the keys process's state and its request handler.
 * Runs only in the keys process (or a keys child of a command-line tool).
 *
 * Implements: HKDF sub-keys (RFC 5869), AES-256-GCM key wrapping
 * (NIST SP 800-38D), HMAC-SHA-256 (RFC 2104), PKCS#1 v1.5 / ECDSA signing of
 * SHA-256 digests with the signing credential (credential.h: a PKCS#12
 * file, RFC 7292, or a PKCS#11 token).
 */
#include "keys/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "conf/conf.h"
#include "keys/credential.h"
#include "keys/keys_dkim.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/store.h"

_Static_assert(DB_COUNT <= 32, "keys_perms holds one bit per database");

#define TENANT_KEY_MAGIC "tayori-tenant-key-v1 "

struct keys_state {
	char dir[4096];              /* the data directory (the audit counter lives there) */
	uint8_t wrap_key[CRYPT_KEY_LEN];
	uint8_t index_key[CRYPT_KEY_LEN];
	uint8_t audit_key[CRYPT_KEY_LEN];
	struct credential *cred;     /* NULL when no credential is configured */
	EVP_PKEY *dkim;              /* keys/dkim.key; NULL when the tenant has none */
	struct keys_records *recs;   /* notice record versions (keys_records.c) */
};

static int load_tenant_key(const char *data_dir, uint8_t key[CRYPT_KEY_LEN], struct error *e)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	int ret = -1;

	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, KEYS_TENANT_KEY) < 0)
		return err_set(e, "data directory path too long");
	if (stat(path, &st) < 0)
		return err_set(e, "%s: %s (run `tayori init` first)", path, strerror(errno));
	/* A key readable by others is a key already lost: refuse to use it. */
	if ((st.st_mode & 077) != 0)
		return err_set(e, "%s: mode %03o lets others read the tenant key; chmod 600 it",
			       path, (unsigned)(st.st_mode & 0777));
	if (file_read_all(path, 256, &data, &len, e) < 0)
		return -1;
	if (len != strlen(TENANT_KEY_MAGIC) + 2 * CRYPT_KEY_LEN + 1 ||
	    memcmp(data, TENANT_KEY_MAGIC, strlen(TENANT_KEY_MAGIC)) != 0 || data[len - 1] != '\n') {
		err_set(e, "%s: not a tayori tenant key", path);
		goto out;
	}
	data[len - 1] = '\0';
	if (hex_decode((char *)data + strlen(TENANT_KEY_MAGIC), key, CRYPT_KEY_LEN) < 0) {
		err_set(e, "%s: not a tayori tenant key", path);
		goto out;
	}
	ret = 0;
out:
	secure_wipe(data, len);
	free(data);
	return ret;
}

/* The secret in environment variable env, named by setting; NULL with e
 * set when env is empty or the variable is missing. */
static const char *secret_env(const char *env, const char *setting, const char *what,
			      struct error *e)
{
	const char *v;
	if (env == NULL || *env == '\0') {
		err_set(e, "[signing] %s is empty: name the environment variable holding the %s", setting,
			what);
		return NULL;
	}
	v = getenv(env);
	if (v == NULL)
		err_set(e, "environment variable %s (the signing credential's %s) is not set", env, what);
	return v;
}

static int load_p12(struct keys_state *ks, const char *data_dir, const char *p12_path,
		    const char *pass_env, struct error *e)
{
	char path[4096], passpath[4096];
	uint8_t *pass = NULL;
	size_t passlen = 0;
	const char *password = "";
	int ret = -1;

	if (p12_path == NULL || *p12_path == '\0')
		return 0;
	if (p12_path[0] == '/')
		str_copy(path, p12_path, sizeof(path));
	else if (str_fmt(path, sizeof(path), "%s/%s", data_dir, p12_path) < 0)
		return err_set(e, "signing credential path too long");
	if (access(path, F_OK) < 0)
		return 0; /* no credential: signing requests will be refused */
	if (pass_env != NULL && *pass_env != '\0') {
		if ((password = secret_env(pass_env, "p12_pass_env", "password", e)) == NULL)
			return -1;
	} else if (str_fmt(passpath, sizeof(passpath), "%s/%s", data_dir, KEYS_SIGNING_PASS) >= 0 &&
		   access(passpath, F_OK) == 0) {
		if (file_read_all(passpath, 1024, &pass, &passlen, e) < 0)
			return -1;
		while (passlen > 0 && (pass[passlen - 1] == '\n' || pass[passlen - 1] == '\r'))
			pass[--passlen] = '\0';
		password = (const char *)pass;
	}
	ret = credential_open_p12(path, password, &ks->cred, e);
	if (pass != NULL) {
		secure_wipe(pass, passlen);
		free(pass);
	}
	return ret;
}

/* A DEMO certificate signs only on a tenant made with `tayori init --demo`. */
static int check_demo(struct keys_state *ks, const char *data_dir, struct error *e)
{
	char mark[4096];
	struct credential_info ci;

	if (!credential_is_demo(ks->cred))
		return 0;
	if (str_fmt(mark, sizeof(mark), "%s/%s", data_dir, KEYS_DEMO_MARK) < 0)
		return err_set(e, "data directory path too long");
	if (access(mark, F_OK) == 0)
		return 0;
	if (credential_info(ks->cred, &ci, e) < 0)
		return -1;
	return err_set(e, "the signing certificate says DEMO (%s) but this tenant was not made with `tayori init --demo`: set [signing] to the ward's own credential",
		       ci.subject);
}

static int load_credential(struct keys_state *ks, const char *data_dir,
			   const struct keys_cred_conf *cc, struct error *e)
{
	int ret;

	if (cc->pkcs11_module != NULL && cc->pkcs11_module[0] != '\0') {
		const char *pin;
		if (cc->pkcs11_token == NULL || cc->pkcs11_token[0] == '\0')
			return err_set(e, "[signing] pkcs11_module is set but pkcs11_token is empty");
		if ((pin = secret_env(cc->pkcs11_pin_env, "pkcs11_pin_env", "PIN", e)) == NULL)
			return -1;
		ret = credential_open_pkcs11(cc->pkcs11_module, cc->pkcs11_token, cc->pkcs11_key, pin,
					     &ks->cred, e);
	} else {
		ret = load_p12(ks, data_dir, cc->p12, cc->p12_pass_env, e);
	}
	if (ret == 0 && ks->cred != NULL && check_demo(ks, data_dir, e) < 0) {
		credential_free(&ks->cred);
		return -1;
	}
	return ret;
}

void keys_cred_conf_read(const struct conf *c, char *p12_buf, char *module_buf,
			 struct keys_cred_conf *out)
{
	if (conf_path(c, "signing", "p12", p12_buf, PATH_MAX) < 0)
		p12_buf[0] = '\0';
	if (conf_path(c, "signing", "pkcs11_module", module_buf, PATH_MAX) < 0)
		module_buf[0] = '\0';
	out->p12 = p12_buf;
	out->p12_pass_env = conf_str(c, "signing", "p12_pass_env");
	out->pkcs11_module = module_buf;
	out->pkcs11_token = conf_str(c, "signing", "pkcs11_token");
	out->pkcs11_key = conf_str(c, "signing", "pkcs11_key");
	out->pkcs11_pin_env = conf_str(c, "signing", "pkcs11_pin_env");
}

const struct credential *keys_state_credential(const struct keys_state *ks)
{
	return ks->cred;
}

int keys_state_load(const char *data_dir, const char *p12_path, const char *p12_pass_env,
		    struct keys_state **out, struct error *e)
{
	struct keys_cred_conf cc = { p12_path, p12_pass_env, NULL, NULL, NULL, NULL };
	return keys_state_load_cred(data_dir, &cc, out, e);
}

int keys_state_load_cred(const char *data_dir, const struct keys_cred_conf *cc,
			 struct keys_state **out, struct error *e)
{
	struct keys_state *ks = xcalloc(1, sizeof(*ks));
	uint8_t tenant[CRYPT_KEY_LEN];

	if (str_copy(ks->dir, data_dir, sizeof(ks->dir)) >= sizeof(ks->dir)) {
		err_set(e, "data directory path too long");
		goto fail;
	}
	if (load_tenant_key(data_dir, tenant, e) < 0)
		goto fail;
	if (crypt_derive(tenant, "tayori wrap v1", ks->wrap_key) < 0 ||
	    crypt_derive(tenant, "tayori index v1", ks->index_key) < 0 ||
	    crypt_derive(tenant, "tayori audit v1", ks->audit_key) < 0) {
		err_tmp(e, "cannot derive sub-keys");
		goto fail;
	}
	secure_wipe(tenant, sizeof(tenant));
	ks->recs = keys_records_new(data_dir, ks->audit_key);
	if (load_credential(ks, data_dir, cc, e) < 0 || keys_dkim_load(data_dir, &ks->dkim, e) < 0)
		goto fail;
	*out = ks;
	return 0;
fail:
	secure_wipe(tenant, sizeof(tenant));
	keys_state_free(&ks);
	return -1;
}

void keys_state_free(struct keys_state **ksp)
{
	struct keys_state *ks = *ksp;
	if (ks == NULL)
		return;
	credential_free(&ks->cred);
	EVP_PKEY_free(ks->dkim);
	keys_records_free(&ks->recs);
	secure_wipe(ks, sizeof(*ks));
	free(ks);
	*ksp = NULL;
}

const char *keys_state_dir(struct keys_state *ks)
{
	return ks->dir;
}

struct keys_records *keys_state_records(struct keys_state *ks)
{
	return ks->recs;
}

void keys_index_mac(struct keys_state *ks, const void *p, size_t n, uint8_t out[CRYPT_HASH_LEN])
{
	crypt_hmac(ks->index_key, p, n, out);
}

static int need(const struct keys_perms *perms, unsigned bit, struct error *e)
{
	if ((perms->ops & bit) == 0)
		return err_set(e, "request not allowed on this channel");
	return 0;
}

/*
 * A data key's binding is "tayori:<db>:<hex key>" (store.h): the database
 * named there must be in the channel's mask.  With KEYS_ANY anything goes;
 * otherwise a binding that names no known database is refused.
 */
static int need_db(uint32_t mask, const char *what, const uint8_t *aad, size_t n, struct error *e)
{
	static const char prefix[] = "tayori:";
	size_t plen = sizeof(prefix) - 1, end;

	if (mask == KEYS_ANY)
		return 0;
	if (n <= plen || memcmp(aad, prefix, plen) != 0)
		return err_set(e, "%s for a binding that names no database: not allowed on this channel",
			       what);
	for (end = plen; end < n && aad[end] != ':'; end++)
		;
	if (end == n)
		return err_set(e, "%s for a binding that names no database: not allowed on this channel",
			       what);
	for (int db = 0; db < DB_COUNT; db++) {
		const char *name = store_db_name((enum store_db)db);
		if (strlen(name) == end - plen && memcmp(aad + plen, name, end - plen) == 0) {
			if ((mask & KEYS_DB(db)) == 0)
				return err_set(e, "%s for database %s: not allowed on this channel", what,
					       name);
			return 0;
		}
	}
	return err_set(e, "%s for an unknown database: not allowed on this channel", what);
}

/* An index value's input is "<kind>\0<value>" (store_index). */
static int need_kind(uint32_t mask, const uint8_t *in, size_t n, struct error *e)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} kinds[] = {
		{ KEYS_IX_NAME_STAFF_LOGIN, KEYS_IX_STAFF_LOGIN },
		{ KEYS_IX_NAME_STAFF_EMAIL, KEYS_IX_STAFF_EMAIL },
		{ KEYS_IX_NAME_RESIDENT, KEYS_IX_RESIDENT },
		{ KEYS_IX_NAME_CONSENT, KEYS_IX_CONSENT },
		{ KEYS_IX_NAME_VERP, KEYS_IX_VERP },
		{ KEYS_IX_NAME_RECORD, KEYS_IX_RECORD },
		{ KEYS_IX_NAME_CODE, KEYS_IX_CODE },
	};
	const uint8_t *nul;

	if (mask == KEYS_ANY)
		return 0;
	nul = n > 0 ? memchr(in, 0, n) : NULL;
	if (nul != NULL)
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
			if (strlen(kinds[i].name) == (size_t)(nul - in) &&
			    memcmp(in, kinds[i].name, (size_t)(nul - in)) == 0) {
				if ((mask & kinds[i].bit) == 0)
					return err_set(e, "index values of kind %s: not allowed on this channel",
						       kinds[i].name);
				return 0;
			}
	return err_set(e, "index values of an unknown kind: not allowed on this channel");
}

/* fields come from one request body, so they fit (KEYS_MAX_REQUEST). */
void keys_audit_record_mac(struct keys_state *ks, uint64_t seq, const uint8_t prev[CRYPT_HASH_LEN],
			   const uint8_t *fields, size_t n, uint8_t out[CRYPT_HASH_LEN])
{
	struct buf b;
	buf_init(&b, KEYS_MAX_REQUEST + 64);
	buf_append_be64(&b, seq);
	buf_append(&b, prev, CRYPT_HASH_LEN);
	buf_append(&b, fields, n);
	crypt_hmac(ks->audit_key, b.data, b.len, out);
	buf_free(&b);
}

void keys_audit_head_mac(struct keys_state *ks, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN],
			 uint8_t out[CRYPT_HASH_LEN])
{
	uint8_t b[4 + 8 + CRYPT_HASH_LEN];
	memcpy(b, "head", 4);
	be64_put(b + 4, seq);
	memcpy(b + 12, mac, CRYPT_HASH_LEN);
	crypt_hmac(ks->audit_key, b, sizeof(b), out);
}

/* A KEYS_ERR answer: refused, but the channel stays. */
static int answer_err(struct buf *reply, uint32_t *rtype, const char *msg)
{
	buf_reset(reply);
	*rtype = KEYS_ERR;
	return ipc_put_str(reply, msg);
}

static int sign_digest(struct keys_state *ks, const uint8_t *digest, size_t dlen, struct buf *reply,
		       struct error *e)
{
	uint8_t sig[KEYS_MAX_SIG];
	size_t siglen = sizeof(sig);

	if (ks->cred == NULL)
		return err_set(e, "no signing credential is configured");
	if (dlen != CRYPT_HASH_LEN)
		return err_set(e, "a digest must be %d bytes", CRYPT_HASH_LEN);
	if (credential_sign(ks->cred, digest, sig, &siglen, e) < 0)
		return -1;
	if (ipc_put_bytes(reply, sig, siglen) < 0)
		return err_tmp(e, "signing failed");
	return 0;
}

/* One request being answered.  Each handler below reads its body from r and
 * returns H_OK when answered (reply written; *rtype KEYS_ERR for a refusal
 * that keeps the channel), H_BAD for a malformed or not allowed request (e
 * may say why), or H_FULL when the reply does not fit. */
struct req {
	struct keys_state *ks;
	const struct keys_perms *perms;
	uint32_t type;
	struct ipc_reader r;
	uint32_t *rtype;
	struct buf *reply;
	struct error *e;
};

enum { H_FULL = -1, H_OK = 0, H_BAD = 1 };

static int put_done(int ret)
{
	return ret < 0 ? H_FULL : H_OK;
}

static int do_mac(struct req *q)
{
	const uint8_t *a = NULL;
	size_t alen = 0;
	uint8_t out[CRYPT_HASH_LEN];

	if (ipc_get_bytes(&q->r, &a, &alen) < 0 || ipc_end(&q->r) < 0)
		return H_BAD;
	if (q->type == KEYS_HMAC ? need_kind(q->perms->index, a, alen, q->e) < 0
				 : need(q->perms, KEYS_PERM_AUDIT_VERIFY, q->e) < 0)
		return H_BAD;
	crypt_hmac(q->type == KEYS_HMAC ? q->ks->index_key : q->ks->audit_key, a, alen, out);
	return put_done(ipc_put_bytes(q->reply, out, sizeof(out)));
}

/* Verifying the audit chain without a raw MAC: the answer is only "yes"
 * or "no", which cannot be used to make a record's MAC. */
static int do_audit_check(struct req *q)
{
	const uint8_t *a = NULL, *m = NULL;
	size_t alen = 0, mlen = 0;
	uint8_t out[CRYPT_HASH_LEN];
	int differ;

	if (ipc_get_bytes(&q->r, &a, &alen) < 0 || ipc_get_bytes(&q->r, &m, &mlen) < 0 ||
	    ipc_end(&q->r) < 0 || mlen != CRYPT_HASH_LEN)
		return H_BAD;
	if ((q->perms->ops & (KEYS_PERM_AUDIT_VERIFY | KEYS_PERM_AUDIT_CHECK)) == 0) {
		err_set(q->e, "request not allowed on this channel");
		return H_BAD;
	}
	crypt_hmac(q->ks->audit_key, a, alen, out);
	differ = ct_memcmp(out, m, CRYPT_HASH_LEN) != 0;
	secure_wipe(out, sizeof(out));
	return put_done(ipc_put_u64(q->reply, (uint64_t)differ));
}

static int do_dek_new(struct req *q)
{
	const uint8_t *a = NULL;
	size_t alen = 0;
	uint8_t dek[CRYPT_KEY_LEN];
	struct buf wrapped;
	int ret;

	if (ipc_get_bytes(&q->r, &a, &alen) < 0 || ipc_end(&q->r) < 0 ||
	    need_db(q->perms->mint, "new data keys", a, alen, q->e) < 0)
		return H_BAD;
	buf_init(&wrapped, 256);
	if (random_bytes(dek, sizeof(dek)) < 0 ||
	    crypt_seal(q->ks->wrap_key, a, alen, dek, sizeof(dek), &wrapped, q->e) < 0 ||
	    wrapped.len != KEYS_WRAPPED_LEN) {
		*q->rtype = KEYS_ERR;
		ret = ipc_put_str(q->reply, "cannot make a data key");
	} else {
		ret = ipc_put_bytes(q->reply, dek, sizeof(dek)) |
		      ipc_put_bytes(q->reply, wrapped.data, wrapped.len);
	}
	secure_wipe(dek, sizeof(dek));
	buf_wipe(&wrapped);
	return put_done(ret);
}

static int do_dek_unwrap(struct req *q)
{
	const uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	struct buf dek;
	int ret;

	if (ipc_get_bytes(&q->r, &a, &alen) < 0 || ipc_get_bytes(&q->r, &b, &blen) < 0 ||
	    ipc_end(&q->r) < 0 || blen != KEYS_WRAPPED_LEN ||
	    need_db(q->perms->unwrap, "unwrapping data keys", a, alen, q->e) < 0)
		return H_BAD;
	buf_init(&dek, 256);
	if (crypt_open(q->ks->wrap_key, a, alen, b, blen, &dek, q->e) < 0 ||
	    dek.len != CRYPT_KEY_LEN) {
		/* A wrong tag is data damage or tampering, not a protocol error. */
		*q->rtype = KEYS_ERR;
		ret = ipc_put_str(q->reply, "data key does not open (record changed or moved)");
	} else {
		ret = ipc_put_bytes(q->reply, dek.data, dek.len);
	}
	buf_wipe(&dek);
	return put_done(ret);
}

static int do_sign(struct req *q)
{
	const uint8_t *a = NULL;
	size_t alen = 0;

	if (need(q->perms, KEYS_PERM_SIGN, q->e) < 0 || ipc_get_bytes(&q->r, &a, &alen) < 0 ||
	    ipc_end(&q->r) < 0)
		return H_BAD;
	if (sign_digest(q->ks, a, alen, q->reply, q->e) < 0) {
		*q->rtype = KEYS_ERR;
		buf_reset(q->reply);
		return put_done(ipc_put_str(q->reply, q->e != NULL ? q->e->msg : "signing failed"));
	}
	return H_OK;
}

/* KEYS_DKIM_SIGN: a digest; KEYS_DKIM_PUBKEY: nothing.  A tenant without
 * a DKIM key, or a digest of the wrong size, gets a refusal that keeps the
 * channel. */
static int do_dkim(struct req *q)
{
	const uint8_t *a = NULL;
	size_t alen = 0, siglen;
	uint8_t sig[KEYS_MAX_SIG];
	struct buf der;
	struct error le = { { 0 }, 0 }; /* a refusal's words, for the client */
	int ret;

	if (need(q->perms, KEYS_PERM_DKIM, q->e) < 0 ||
	    (q->type == KEYS_DKIM_SIGN && ipc_get_bytes(&q->r, &a, &alen) < 0) || ipc_end(&q->r) < 0)
		return H_BAD;
	if (q->type == KEYS_DKIM_SIGN) {
		siglen = sizeof(sig);
		if (keys_dkim_sign_digest(q->ks->dkim, a, alen, sig, &siglen, &le) < 0)
			return put_done(answer_err(q->reply, q->rtype, le.msg));
		return put_done(ipc_put_bytes(q->reply, sig, siglen));
	}
	buf_init(&der, 8192);
	if (keys_dkim_pubkey_der(q->ks->dkim, &der, &le) < 0)
		ret = answer_err(q->reply, q->rtype, le.msg);
	else
		ret = ipc_put_bytes(q->reply, der.data, der.len);
	buf_free(&der);
	return put_done(ret);
}

/* Each part is answered as if sent alone, permissions included; only the
 * cheap symmetric requests may be batched. */
static int do_batch(struct req *q)
{
	const uint8_t *a = NULL;
	size_t alen = 0;
	uint32_t count, sub_type, sub_rtype;
	struct buf sub;
	int ret;

	if (ipc_get_u32(&q->r, &count) < 0 || count == 0 || count > KEYS_BATCH_MAX)
		return H_BAD;
	buf_init(&sub, KEYS_MAX_REQUEST);
	ret = ipc_put_u32(q->reply, count);
	for (uint32_t i = 0; i < count && ret == 0; i++) {
		if (ipc_get_u32(&q->r, &sub_type) < 0 || ipc_get_bytes(&q->r, &a, &alen) < 0 ||
		    (sub_type != KEYS_HMAC && sub_type != KEYS_DEK_NEW &&
		     sub_type != KEYS_DEK_UNWRAP) ||
		    keys_handle(q->ks, q->perms, sub_type, a, alen, &sub_rtype, &sub, q->e) < 0) {
			buf_wipe(&sub);
			return H_BAD;
		}
		ret = ipc_put_u32(q->reply, sub_rtype) | ipc_put_bytes(q->reply, sub.data, sub.len);
	}
	buf_wipe(&sub);
	if (ipc_end(&q->r) < 0)
		return H_BAD;
	return put_done(ret);
}

static int do_audit_append(struct req *q)
{
	const uint8_t *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	uint8_t same, out[CRYPT_HASH_LEN], hmac_[CRYPT_HASH_LEN];
	uint64_t last, seq;
	struct error ce = { { 0 }, 0 };

	if (need(q->perms, KEYS_PERM_AUDIT_APPEND, q->e) < 0 || ipc_get_u8(&q->r, &same) < 0 ||
	    ipc_get_u64(&q->r, &last) < 0 || ipc_get_bytes(&q->r, &a, &alen) < 0 ||
	    ipc_get_bytes(&q->r, &b, &blen) < 0 || ipc_end(&q->r) < 0 || same > 1 ||
	    alen != (last == 0 ? 0 : CRYPT_HASH_LEN))
		return H_BAD;
	if (keys_chain_append(q->ks, same, last, last == 0 ? NULL : a, b, blen, &seq, out, hmac_,
			      &ce) != 0) {
		log_warn("event=audit_append_refused reason=\"%s\"", ce.msg);
		return put_done(answer_err(q->reply, q->rtype, ce.msg));
	}
	return put_done(ipc_put_u64(q->reply, seq) | ipc_put_bytes(q->reply, out, sizeof(out)) |
			ipc_put_bytes(q->reply, hmac_, sizeof(hmac_)));
}

/* u8 same, u64 last, last MAC, u32 count, count x fields -> u64 first
 * seq, count x MAC, head MAC (keys_audit.c does the work). */
static int do_audit_append_many(struct req *q)
{
	const uint8_t *a = NULL, *fields[KEYS_AUDIT_MANY_MAX];
	size_t alen = 0, lens[KEYS_AUDIT_MANY_MAX];
	uint8_t same, macs[KEYS_AUDIT_MANY_MAX][CRYPT_HASH_LEN], hmac_[CRYPT_HASH_LEN];
	uint64_t last, first;
	uint32_t count;
	struct error ce = { { 0 }, 0 };
	int ret = 0;

	if (need(q->perms, KEYS_PERM_AUDIT_APPEND, q->e) < 0 || ipc_get_u8(&q->r, &same) < 0 ||
	    ipc_get_u64(&q->r, &last) < 0 || ipc_get_bytes(&q->r, &a, &alen) < 0 ||
	    ipc_get_u32(&q->r, &count) < 0 || same > 1 || count == 0 ||
	    count > KEYS_AUDIT_MANY_MAX || alen != (last == 0 ? 0 : CRYPT_HASH_LEN))
		return H_BAD;
	for (uint32_t i = 0; i < count; i++)
		if (ipc_get_bytes(&q->r, &fields[i], &lens[i]) < 0)
			return H_BAD;
	if (ipc_end(&q->r) < 0)
		return H_BAD;
	if (keys_chain_append_many(q->ks, same, last, last == 0 ? NULL : a, count, fields, lens,
				   &first, macs, hmac_, &ce) != 0) {
		log_warn("event=audit_append_refused reason=\"%s\"", ce.msg);
		return put_done(answer_err(q->reply, q->rtype, ce.msg));
	}
	ret = ipc_put_u64(q->reply, first);
	for (uint32_t i = 0; i < count; i++)
		ret |= ipc_put_bytes(q->reply, macs[i], CRYPT_HASH_LEN);
	return put_done(ret | ipc_put_bytes(q->reply, hmac_, sizeof(hmac_)));
}

static int do_audit_commit(struct req *q)
{
	const uint8_t *a = NULL;
	size_t alen = 0;
	uint64_t seq;
	struct error ce = { { 0 }, 0 };

	if (need(q->perms, KEYS_PERM_AUDIT_APPEND, q->e) < 0 || ipc_get_u64(&q->r, &seq) < 0 ||
	    ipc_get_bytes(&q->r, &a, &alen) < 0 || ipc_end(&q->r) < 0 || alen != CRYPT_HASH_LEN)
		return H_BAD;
	if (keys_chain_commit(q->ks, seq, a, &ce) != 0)
		return put_done(answer_err(q->reply, q->rtype, ce.msg));
	return H_OK;
}

static int do_audit_head(struct req *q)
{
	struct keys_audit_head h;
	struct error ce = { { 0 }, 0 };

	if ((q->perms->ops & (KEYS_PERM_AUDIT_VERIFY | KEYS_PERM_AUDIT_CHECK)) == 0) {
		err_set(q->e, "request not allowed on this channel");
		return H_BAD;
	}
	if (ipc_end(&q->r) < 0)
		return H_BAD;
	if (keys_chain_head(q->ks, &h, &ce) != 0)
		return put_done(answer_err(q->reply, q->rtype, ce.msg));
	return put_done(ipc_put_u64(q->reply, h.committed) |
			ipc_put_bytes(q->reply, h.committed_mac, CRYPT_HASH_LEN) |
			ipc_put_u64(q->reply, h.pending) |
			ipc_put_bytes(q->reply, h.pending_mac, CRYPT_HASH_LEN));
}

/* Notice record versions (keys_records.c): the index kind "record". */
static int do_records(struct req *q)
{
	struct error ce = { { 0 }, 0 };
	int r;

	if (q->perms->index != KEYS_ANY && (q->perms->index & KEYS_IX_RECORD) == 0) {
		err_set(q->e, "notice record versions: not allowed on this channel");
		return H_BAD;
	}
	r = keys_records_request(q->ks, q->type, q->r.p + q->r.off, q->r.len - q->r.off, q->reply,
				 &ce);
	if (r == 1)
		return H_BAD;
	if (r < 0) {
		log_warn("event=record_versions_failed reason=\"%s\"", ce.msg);
		return put_done(answer_err(q->reply, q->rtype, ce.msg));
	}
	return H_OK;
}

/* The signing certificate, then its chain, each DER. */
static int do_certs(struct req *q)
{
	const struct credential *c = q->ks->cred;
	int ret = 0;

	if (need(q->perms, KEYS_PERM_SIGN, q->e) < 0 || ipc_end(&q->r) < 0)
		return H_BAD;
	for (int i = -1; c != NULL && i < sk_X509_num(credential_chain(c)); i++) {
		X509 *x = i < 0 ? credential_cert(c) : sk_X509_value(credential_chain(c), i);
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		if (n <= 0 || ipc_put_bytes(q->reply, der, (size_t)n) < 0)
			ret = -1;
		OPENSSL_free(der);
	}
	return put_done(ret);
}

int keys_handle(struct keys_state *ks, const struct keys_perms *perms, uint32_t type,
		const uint8_t *body, size_t len, uint32_t *rtype, struct buf *reply, struct error *e)
{
	struct req q;
	int rc;

	q.ks = ks;
	q.perms = perms;
	q.type = type;
	q.rtype = rtype;
	q.reply = reply;
	q.e = e;
	buf_reset(reply);
	*rtype = KEYS_OK;
	ipc_reader_init(&q.r, body, len);
	switch (type) {
	case KEYS_HMAC:
	case KEYS_AUDIT_MAC: rc = do_mac(&q); break;
	case KEYS_DEK_NEW: rc = do_dek_new(&q); break;
	case KEYS_DEK_UNWRAP: rc = do_dek_unwrap(&q); break;
	case KEYS_SIGN: rc = do_sign(&q); break;
	case KEYS_BATCH: rc = do_batch(&q); break;
	case KEYS_AUDIT_APPEND: rc = do_audit_append(&q); break;
	case KEYS_AUDIT_APPEND_MANY: rc = do_audit_append_many(&q); break;
	case KEYS_AUDIT_COMMIT: rc = do_audit_commit(&q); break;
	case KEYS_AUDIT_HEAD: rc = do_audit_head(&q); break;
	case KEYS_AUDIT_CHECK: rc = do_audit_check(&q); break;
	case KEYS_CERTS: rc = do_certs(&q); break;
	case KEYS_DKIM_SIGN:
	case KEYS_DKIM_PUBKEY: rc = do_dkim(&q); break;
	case KEYS_RECORD_PENDING:
	case KEYS_RECORD_COMMIT:
	case KEYS_RECORD_CHECK: rc = do_records(&q); break;
	default:
		err_set(e, "unknown request type %u", type);
		rc = H_BAD;
		break;
	}
	if (rc == H_FULL)
		return err_tmp(e, "reply too large");
	if (rc == H_BAD) {
		if (e != NULL && e->msg[0] == '\0')
			err_set(e, "malformed request of type %u", type);
		return -1;
	}
	return 0;
}

void keys_serve(struct keys_state *ks, int fd, const struct keys_perms *perms)
{
	struct buf req, reply;
	struct error e = { { 0 }, 0 };
	uint32_t type, rtype;

	buf_init(&req, KEYS_MAX_REQUEST);
	buf_init(&reply, KEYS_MAX_REQUEST);
	for (;;) {
		e.msg[0] = '\0';
		if (ipc_recv(fd, &type, &req, KEYS_MAX_REQUEST, &e) < 0)
			break;
		if (keys_handle(ks, perms, type, req.data, req.len, &rtype, &reply, &e) < 0) {
			log_warn("event=keys_request_refused reason=\"%s\"", e.msg);
			break;
		}
		if (ipc_send(fd, rtype, reply.data, reply.len, &e) < 0)
			break;
	}
	buf_wipe(&req);
	buf_wipe(&reply);
}

struct serve_arg {
	struct keys_state *ks;
	int fd;
};

static void *serve_thread(void *arg)
{
	struct serve_arg *a = arg;
	keys_serve(a->ks, a->fd, &KEYS_PERMS_ALL);
	return NULL;
}

int keys_spawn(const char *data_dir, const char *p12_path, const char *p12_pass_env,
	       struct keys_client **kc, pid_t *pid, struct error *e)
{
	struct keys_cred_conf cc = { p12_path, p12_pass_env, NULL, NULL, NULL, NULL };
	return keys_spawn_cred(data_dir, &cc, kc, pid, e);
}

int keys_spawn_cred(const char *data_dir, const struct keys_cred_conf *cc,
		    struct keys_client **kc, pid_t *pid, struct error *e)
{
	int sv[KEYS_SPAWN_CHANNELS][2], mine[KEYS_SPAWN_CHANNELS];
	pid_t child;
	size_t made = 0;

	for (; made < KEYS_SPAWN_CHANNELS; made++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[made]) < 0)
			break;
	if (made < KEYS_SPAWN_CHANNELS) {
		for (size_t i = 0; i < made; i++) {
			close(sv[i][0]);
			close(sv[i][1]);
		}
		return err_tmp(e, "socketpair: %s", strerror(errno));
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		for (size_t i = 0; i < made; i++) {
			close(sv[i][0]);
			close(sv[i][1]);
		}
		return err_tmp(e, "fork: %s", strerror(errno));
	}
	if (child == 0) {
		struct keys_state *ks = NULL;
		struct error ce = { { 0 }, 0 };
		struct serve_arg args[KEYS_SPAWN_CHANNELS];
		pthread_t tid[KEYS_SPAWN_CHANNELS];
		int started = 0;
		/* Keep only stdio and our ends (moved to 3, 4, ...): an inherited
		 * end of another keys channel would keep that keys process from
		 * ever seeing EOF. */
		for (size_t i = 0; i < KEYS_SPAWN_CHANNELS; i++) {
			int hi = fcntl(sv[i][1], F_DUPFD_CLOEXEC, 64);
			sv[i][1] = hi;
		}
		for (size_t i = 0; i < KEYS_SPAWN_CHANNELS; i++) {
			dup2(sv[i][1], 3 + (int)i);
			sv[i][1] = 3 + (int)i;
		}
		close_range(3 + KEYS_SPAWN_CHANNELS, ~0u, 0);
		log_set_role("keys");
		prctl(PR_SET_DUMPABLE, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (keys_state_load_cred(data_dir, cc, &ks, &ce) < 0) {
			/* Tell the parent why, then leave. */
			struct buf b;
			buf_init(&b, 4096);
			ipc_put_str(&b, ce.msg);
			ipc_send(sv[0][1], KEYS_ERR, b.data, b.len, NULL);
			buf_free(&b);
			_exit(1);
		}
		ipc_send(sv[0][1], KEYS_OK, NULL, 0, NULL);
		for (size_t i = 1; i < KEYS_SPAWN_CHANNELS; i++) {
			args[i] = (struct serve_arg){ ks, sv[i][1] };
			if (pthread_create(&tid[started], NULL, serve_thread, &args[i]) == 0)
				started++;
		}
		keys_serve(ks, sv[0][1], &KEYS_PERMS_ALL);
		for (int i = 0; i < started; i++)
			pthread_join(tid[i], NULL);
		keys_state_free(&ks);
		_exit(0);
	}
	for (size_t i = 0; i < KEYS_SPAWN_CHANNELS; i++) {
		close(sv[i][1]);
		mine[i] = sv[i][0];
	}
	/* The child says whether it could load the key before we rely on it. */
	{
		struct buf b;
		uint32_t type = 0;
		buf_init(&b, 4096);
		if (ipc_recv(mine[0], &type, &b, 4096, e) < 0 || type != KEYS_OK) {
			struct ipc_reader r;
			const uint8_t *msg;
			size_t n;
			ipc_reader_init(&r, b.data, b.len);
			if (type == KEYS_ERR && ipc_get_bytes(&r, &msg, &n) == 0)
				err_set(e, "%.*s", (int)n, (const char *)msg);
			buf_free(&b);
			for (size_t i = 0; i < KEYS_SPAWN_CHANNELS; i++)
				close(mine[i]);
			waitpid(child, NULL, 0);
			return -1;
		}
		buf_free(&b);
	}
	*kc = keys_client_new_multi(mine, KEYS_SPAWN_CHANNELS);
	*pid = child;
	return 0;
}

void keys_spawn_wait(struct keys_client **kc, pid_t pid)
{
	keys_client_free(kc);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}
