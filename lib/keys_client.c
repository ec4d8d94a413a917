/*
 * keys_client.c — the client side of the keys protocol (see keys_client.h;
 * the server is keys/keys.c).
 * Runs in the gateway, mailer, portal and command-line processes.
 *
 * Requests are synchronous: one frame out, one frame back.  A channel whose
 * peer misbehaves is marked broken and every later call fails, so a caller
 * never mistakes garbage for a key.  A client may be shared by threads: each
 * call holds the client's lock for its whole round trip.
 */
#include "lib/keys_client.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ipc.h"
#include "lib/log.h"

/* One socketpair to the keys process.  Its lock is held for a whole round
 * trip. */
struct keys_channel {
	pthread_mutex_t lock;
	int fd;
	int broken;
	int exit_when_lost; /* keys_client_exit_when_lost */
	struct buf req;
	struct buf reply;
};

/* Several channels let threads (the batch signers) talk to the keys process
 * at the same time; it serves each channel in its own thread. */
struct keys_client {
	struct keys_channel *ch;
	size_t n;
	unsigned next;
};

struct keys_client *keys_client_new_multi(const int *fds, size_t n)
{
	struct keys_client *kc = xcalloc(1, sizeof(*kc));
	kc->ch = xcalloc(n ? n : 1, sizeof(*kc->ch));
	kc->n = n;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_init(&kc->ch[i].lock, NULL);
		kc->ch[i].fd = fds[i];
		buf_init(&kc->ch[i].req, KEYS_MAX_REQUEST);
		buf_init(&kc->ch[i].reply, KEYS_MAX_REQUEST);
	}
	return kc;
}

struct keys_client *keys_client_new(int fd)
{
	return keys_client_new_multi(&fd, 1);
}

void keys_client_free(struct keys_client **kcp)
{
	struct keys_client *kc = *kcp;
	if (kc == NULL)
		return;
	for (size_t i = 0; i < kc->n; i++) {
		if (kc->ch[i].fd >= 0)
			close(kc->ch[i].fd);
		buf_wipe(&kc->ch[i].req);
		buf_wipe(&kc->ch[i].reply);
		pthread_mutex_destroy(&kc->ch[i].lock);
	}
	free(kc->ch);
	free(kc);
	*kcp = NULL;
}

void keys_client_exit_when_lost(struct keys_client *kc)
{
	for (size_t i = 0; i < kc->n; i++)
		kc->ch[i].exit_when_lost = 1;
}

/* The channel is of no more use: the keys process hung up (after a
 * request it refused, or it died) or answered out of protocol. */
static void channel_lost(struct keys_channel *kc)
{
	kc->broken = 1;
	if (kc->exit_when_lost) {
		log_err("event=keys_channel_lost action=exit reason=\"the keys process closed the channel or answered out of protocol; the supervisor restarts this role\"");
		_exit(3);
	}
}

/* A free channel if there is one, else wait for one in turn. */
static struct keys_channel *channel_take(struct keys_client *kc)
{
	unsigned turn;
	for (size_t i = 0; i < kc->n; i++)
		if (pthread_mutex_trylock(&kc->ch[i].lock) == 0)
			return &kc->ch[i];
	turn = __atomic_fetch_add(&kc->next, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&kc->ch[turn % kc->n].lock);
	return &kc->ch[turn % kc->n];
}

/* Send kc->req as `type`; on KEYS_OK leave a reader over the reply. */
static int roundtrip(struct keys_channel *kc, uint32_t type, struct ipc_reader *r, struct error *e)
{
	uint32_t rtype;

	if (kc->broken)
		return err_tmp(e, "the keys process is not available");
	if (ipc_send(kc->fd, type, kc->req.data, kc->req.len, e) < 0 ||
	    ipc_recv(kc->fd, &rtype, &kc->reply, KEYS_MAX_REQUEST, e) < 0) {
		channel_lost(kc);
		return err_tmp(e, "the keys process did not answer");
	}
	ipc_reader_init(r, kc->reply.data, kc->reply.len);
	if (rtype == KEYS_ERR) {
		const uint8_t *msg;
		size_t n;
		if (ipc_get_bytes(r, &msg, &n) < 0 || ipc_end(r) < 0) {
			channel_lost(kc);
			return err_tmp(e, "the keys process sent a malformed answer");
		}
		return err_set(e, "keys: %.*s", (int)n, (const char *)msg);
	}
	if (rtype != KEYS_OK) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent an unknown answer");
	}
	return 0;
}

static int get_fixed(struct keys_channel *kc, struct ipc_reader *r, uint8_t *out, size_t n, int last,
		     struct error *e)
{
	const uint8_t *p;
	size_t len;
	if (ipc_get_bytes(r, &p, &len) < 0 || len != n || (last && ipc_end(r) < 0)) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	memcpy(out, p, n);
	return 0;
}

static int mac_request(struct keys_channel *kc, uint32_t type, const void *data, size_t n,
		       uint8_t out[CRYPT_HASH_LEN], struct error *e)
{
	struct ipc_reader r;
	buf_reset(&kc->req);
	if (ipc_put_bytes(&kc->req, data, n) < 0)
		return err_set(e, "value too large for a keys request");
	if (roundtrip(kc, type, &r, e) < 0)
		return -1;
	return get_fixed(kc, &r, out, CRYPT_HASH_LEN, 1, e);
}

static int keys_hmac_locked(struct keys_channel *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
	      struct error *e)
{
	return mac_request(kc, KEYS_HMAC, data, n, out, e);
}

static int keys_audit_mac_locked(struct keys_channel *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
		   struct error *e)
{
	return mac_request(kc, KEYS_AUDIT_MAC, data, n, out, e);
}

static int keys_audit_check_locked(struct keys_channel *kc, const void *data, size_t n,
				   const uint8_t mac[CRYPT_HASH_LEN], struct error *e)
{
	struct ipc_reader r;
	uint64_t verdict;

	buf_reset(&kc->req);
	if (ipc_put_bytes(&kc->req, data, n) < 0 || ipc_put_bytes(&kc->req, mac, CRYPT_HASH_LEN) < 0)
		return err_set(e, "value too large for a keys request");
	if (roundtrip(kc, KEYS_AUDIT_CHECK, &r, e) < 0)
		return -1;
	if (ipc_get_u64(&r, &verdict) < 0 || ipc_end(&r) < 0 || verdict > 1) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	return (int)verdict;
}

static int keys_dek_new_locked(struct keys_channel *kc, const void *aad, size_t aadlen, uint8_t dek[CRYPT_KEY_LEN],
		 uint8_t wrapped[KEYS_WRAPPED_LEN], struct error *e)
{
	struct ipc_reader r;
	buf_reset(&kc->req);
	if (ipc_put_bytes(&kc->req, aad, aadlen) < 0)
		return err_set(e, "context too large for a keys request");
	if (roundtrip(kc, KEYS_DEK_NEW, &r, e) < 0)
		return -1;
	if (get_fixed(kc, &r, dek, CRYPT_KEY_LEN, 0, e) < 0 ||
	    get_fixed(kc, &r, wrapped, KEYS_WRAPPED_LEN, 1, e) < 0) {
		secure_wipe(dek, CRYPT_KEY_LEN);
		return -1;
	}
	secure_wipe(kc->reply.data, kc->reply.len);
	return 0;
}

static int keys_dek_unwrap_locked(struct keys_channel *kc, const void *aad, size_t aadlen,
		    const uint8_t wrapped[KEYS_WRAPPED_LEN], uint8_t dek[CRYPT_KEY_LEN], struct error *e)
{
	struct ipc_reader r;
	buf_reset(&kc->req);
	if (ipc_put_bytes(&kc->req, aad, aadlen) < 0 ||
	    ipc_put_bytes(&kc->req, wrapped, KEYS_WRAPPED_LEN) < 0)
		return err_set(e, "context too large for a keys request");
	if (roundtrip(kc, KEYS_DEK_UNWRAP, &r, e) < 0)
		return -1;
	if (get_fixed(kc, &r, dek, CRYPT_KEY_LEN, 1, e) < 0)
		return -1;
	secure_wipe(kc->reply.data, kc->reply.len);
	return 0;
}

static int keys_sign_digest_locked(struct keys_channel *kc, uint32_t type,
				   const uint8_t digest[CRYPT_HASH_LEN], uint8_t *sig, size_t *siglen,
				   struct error *e)
{
	struct ipc_reader r;
	const uint8_t *p;
	size_t n;

	buf_reset(&kc->req);
	if (ipc_put_bytes(&kc->req, digest, CRYPT_HASH_LEN) < 0)
		return err_set(e, "digest too large");
	if (roundtrip(kc, type, &r, e) < 0)
		return -1;
	if (ipc_get_bytes(&r, &p, &n) < 0 || ipc_end(&r) < 0 || n > *siglen) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed signature");
	}
	memcpy(sig, p, n);
	*siglen = n;
	return 0;
}

static int keys_certs_locked(struct keys_channel *kc, struct buf *out, struct error *e)
{
	struct ipc_reader r;
	buf_reset(&kc->req);
	if (roundtrip(kc, KEYS_CERTS, &r, e) < 0)
		return -1;
	if (buf_append(out, kc->reply.data, kc->reply.len) < 0)
		return err_set(e, "certificate chain too large");
	return 0;
}

/* The public calls: one round trip each, under the client's lock. */
#define LOCKED(call)                                                             \
	do {                                                                     \
		struct keys_channel *ch_;                                        \
		int r_;                                                          \
		if (kc == NULL || kc->n == 0)                                    \
			return err_tmp(e, "the keys process is not available");  \
		ch_ = channel_take(kc);                                          \
		r_ = (call);                                                     \
		pthread_mutex_unlock(&ch_->lock);                                \
		return r_;                                                       \
	} while (0)

int keys_hmac(struct keys_client *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
	      struct error *e)
{
	LOCKED(keys_hmac_locked(ch_, data, n, out, e));
}

int keys_audit_mac(struct keys_client *kc, const void *data, size_t n, uint8_t out[CRYPT_HASH_LEN],
		   struct error *e)
{
	LOCKED(keys_audit_mac_locked(ch_, data, n, out, e));
}

int keys_audit_check(struct keys_client *kc, const void *data, size_t n,
		     const uint8_t mac[CRYPT_HASH_LEN], struct error *e)
{
	LOCKED(keys_audit_check_locked(ch_, data, n, mac, e));
}

int keys_dek_new(struct keys_client *kc, const void *aad, size_t aadlen, uint8_t dek[CRYPT_KEY_LEN],
		 uint8_t wrapped[KEYS_WRAPPED_LEN], struct error *e)
{
	LOCKED(keys_dek_new_locked(ch_, aad, aadlen, dek, wrapped, e));
}

int keys_dek_unwrap(struct keys_client *kc, const void *aad, size_t aadlen,
		    const uint8_t wrapped[KEYS_WRAPPED_LEN], uint8_t dek[CRYPT_KEY_LEN], struct error *e)
{
	LOCKED(keys_dek_unwrap_locked(ch_, aad, aadlen, wrapped, dek, e));
}

int keys_sign_digest(struct keys_client *kc, const uint8_t digest[CRYPT_HASH_LEN], uint8_t *sig,
		     size_t *siglen, struct error *e)
{
	LOCKED(keys_sign_digest_locked(ch_, KEYS_SIGN, digest, sig, siglen, e));
}

int keys_dkim_sign(struct keys_client *kc, const uint8_t digest[CRYPT_HASH_LEN], uint8_t *sig,
		   size_t *siglen, struct error *e)
{
	LOCKED(keys_sign_digest_locked(ch_, KEYS_DKIM_SIGN, digest, sig, siglen, e));
}

static int keys_dkim_pubkey_locked(struct keys_channel *kc, struct buf *out, struct error *e)
{
	struct ipc_reader r;
	const uint8_t *p;
	size_t n;

	buf_reset(&kc->req);
	if (roundtrip(kc, KEYS_DKIM_PUBKEY, &r, e) < 0)
		return -1;
	if (ipc_get_bytes(&r, &p, &n) < 0 || ipc_end(&r) < 0) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed public key");
	}
	if (buf_append(out, p, n) < 0)
		return err_set(e, "DKIM public key too large");
	return 0;
}

int keys_dkim_pubkey(struct keys_client *kc, struct buf *out, struct error *e)
{
	LOCKED(keys_dkim_pubkey_locked(ch_, out, e));
}

int keys_certs(struct keys_client *kc, struct buf *out, struct error *e)
{
	LOCKED(keys_certs_locked(ch_, out, e));
}

/* ---- the audit chain ---- */

static int audit_append_locked(struct keys_channel *kc, int same_txn, uint64_t last_seq,
			       const uint8_t *last_mac, const void *fields, size_t n, uint64_t *seq,
			       uint8_t mac[CRYPT_HASH_LEN], uint8_t head_mac[CRYPT_HASH_LEN],
			       struct error *e)
{
	struct ipc_reader r;
	uint64_t got;

	buf_reset(&kc->req);
	if (ipc_put_u8(&kc->req, same_txn ? 1 : 0) < 0 || ipc_put_u64(&kc->req, last_seq) < 0 ||
	    ipc_put_bytes(&kc->req, last_mac, last_seq == 0 ? 0 : CRYPT_HASH_LEN) < 0 ||
	    ipc_put_bytes(&kc->req, fields, n) < 0)
		return err_set(e, "audit record too large for a keys request");
	if (roundtrip(kc, KEYS_AUDIT_APPEND, &r, e) < 0)
		return -1;
	if (ipc_get_u64(&r, &got) < 0 || got != last_seq + 1) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	if (get_fixed(kc, &r, mac, CRYPT_HASH_LEN, 0, e) < 0 ||
	    get_fixed(kc, &r, head_mac, CRYPT_HASH_LEN, 1, e) < 0)
		return -1;
	*seq = got;
	return 0;
}

static int audit_append_many_locked(struct keys_channel *kc, int same_txn, uint64_t last_seq,
				    const uint8_t *last_mac, size_t count,
				    const uint8_t *const *fields, const size_t *lens,
				    uint64_t *first_seq, uint8_t (*macs)[CRYPT_HASH_LEN],
				    uint8_t head_mac[CRYPT_HASH_LEN], struct error *e)
{
	struct ipc_reader r;
	uint64_t got;

	if (count == 0 || count > KEYS_AUDIT_MANY_MAX)
		return err_set(e, "%zu audit records in one keys request", count);
	buf_reset(&kc->req);
	if (ipc_put_u8(&kc->req, same_txn ? 1 : 0) < 0 || ipc_put_u64(&kc->req, last_seq) < 0 ||
	    ipc_put_bytes(&kc->req, last_mac, last_seq == 0 ? 0 : CRYPT_HASH_LEN) < 0 ||
	    ipc_put_u32(&kc->req, (uint32_t)count) < 0)
		return err_set(e, "audit records too large for a keys request");
	for (size_t i = 0; i < count; i++)
		if (ipc_put_bytes(&kc->req, fields[i], lens[i]) < 0)
			return err_set(e, "audit records too large for a keys request");
	if (roundtrip(kc, KEYS_AUDIT_APPEND_MANY, &r, e) < 0)
		return -1;
	if (ipc_get_u64(&r, &got) < 0 || got != last_seq + 1) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	for (size_t i = 0; i < count; i++)
		if (get_fixed(kc, &r, macs[i], CRYPT_HASH_LEN, 0, e) < 0)
			return -1;
	if (get_fixed(kc, &r, head_mac, CRYPT_HASH_LEN, 1, e) < 0)
		return -1;
	*first_seq = got;
	return 0;
}

static int audit_commit_locked(struct keys_channel *kc, uint64_t seq,
			       const uint8_t mac[CRYPT_HASH_LEN], struct error *e)
{
	struct ipc_reader r;

	buf_reset(&kc->req);
	if (ipc_put_u64(&kc->req, seq) < 0 || ipc_put_bytes(&kc->req, mac, CRYPT_HASH_LEN) < 0)
		return err_set(e, "keys request too large");
	if (roundtrip(kc, KEYS_AUDIT_COMMIT, &r, e) < 0)
		return -1;
	if (ipc_end(&r) < 0) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	return 0;
}

static int audit_head_locked(struct keys_channel *kc, struct keys_audit_head *h, struct error *e)
{
	struct ipc_reader r;

	buf_reset(&kc->req);
	if (roundtrip(kc, KEYS_AUDIT_HEAD, &r, e) < 0)
		return -1;
	if (ipc_get_u64(&r, &h->committed) < 0 ||
	    get_fixed(kc, &r, h->committed_mac, CRYPT_HASH_LEN, 0, e) < 0 ||
	    ipc_get_u64(&r, &h->pending) < 0 ||
	    get_fixed(kc, &r, h->pending_mac, CRYPT_HASH_LEN, 1, e) < 0) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	return 0;
}

int keys_audit_append(struct keys_client *kc, int same_txn, uint64_t last_seq,
		      const uint8_t *last_mac, const void *fields, size_t n, uint64_t *seq,
		      uint8_t mac[CRYPT_HASH_LEN], uint8_t head_mac[CRYPT_HASH_LEN], struct error *e)
{
	LOCKED(audit_append_locked(ch_, same_txn, last_seq, last_mac, fields, n, seq, mac, head_mac,
				   e));
}

int keys_audit_append_many(struct keys_client *kc, int same_txn, uint64_t last_seq,
			   const uint8_t *last_mac, size_t count, const uint8_t *const *fields,
			   const size_t *lens, uint64_t *first_seq, uint8_t (*macs)[CRYPT_HASH_LEN],
			   uint8_t head_mac[CRYPT_HASH_LEN], struct error *e)
{
	LOCKED(audit_append_many_locked(ch_, same_txn, last_seq, last_mac, count, fields, lens,
					first_seq, macs, head_mac, e));
}

int keys_audit_commit(struct keys_client *kc, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN],
		      struct error *e)
{
	LOCKED(audit_commit_locked(ch_, seq, mac, e));
}

int keys_audit_head(struct keys_client *kc, struct keys_audit_head *out, struct error *e)
{
	LOCKED(audit_head_locked(ch_, out, e));
}

/* ---- handing channels to the keys process ---- */

int keys_channel_grant(int ctl, const struct keys_perms *p, int fd, struct error *e)
{
	uint8_t body[16];

	be32_put(body, p->ops);
	be32_put(body + 4, p->unwrap);
	be32_put(body + 8, p->mint);
	be32_put(body + 12, p->index);
	/* The descriptor, then its permissions in full. */
	if (ipc_send_fd(ctl, p->ops, fd, e) < 0 || ipc_send(ctl, KEYS_GRANT, body, sizeof(body), e) < 0)
		return -1;
	return 0;
}

int keys_channel_accept(int ctl, struct keys_perms *p, int *fd, struct error *e)
{
	struct buf b;
	uint32_t tag, type = 0;
	int got = -1;

	if (ipc_recv_fd(ctl, &tag, &got, e) < 0)
		return -1;
	buf_init(&b, 64);
	if (ipc_recv(ctl, &type, &b, 64, e) < 0 || type != KEYS_GRANT || b.len != 16 ||
	    be32_get(b.data) != tag) {
		buf_free(&b);
		close(got);
		return err_set(e, "malformed channel grant");
	}
	p->ops = be32_get(b.data);
	p->unwrap = be32_get(b.data + 4);
	p->mint = be32_get(b.data + 8);
	p->index = be32_get(b.data + 12);
	buf_free(&b);
	*fd = got;
	return 0;
}

/* Bytes each answer of a batch carries. */
static size_t op_out_len(uint32_t type)
{
	return type == KEYS_HMAC ? CRYPT_HASH_LEN
	     : type == KEYS_DEK_NEW ? KEYS_DEK_LEN
	     : CRYPT_KEY_LEN;
}

/* One KEYS_BATCH round trip for ops[0..n). */
static int batch_locked(struct keys_channel *kc, struct keys_op *ops, size_t n, struct error *e)
{
	struct ipc_reader r;
	uint32_t count;

	buf_reset(&kc->req);
	if (ipc_put_u32(&kc->req, (uint32_t)n) < 0)
		return err_set(e, "batch too large for a keys request");
	for (size_t i = 0; i < n; i++) {
		int bad = ipc_put_u32(&kc->req, ops[i].type) < 0;
		if (ops[i].type == KEYS_DEK_UNWRAP) {
			/* in = context || wrapped key: two fields on the wire */
			if (ops[i].inlen < KEYS_WRAPPED_LEN)
				return err_set(e, "a wrapped key is missing from an unwrap request");
			struct buf body;
			buf_init(&body, KEYS_MAX_REQUEST);
			bad |= ipc_put_bytes(&body, ops[i].in, ops[i].inlen - KEYS_WRAPPED_LEN) < 0 ||
			       ipc_put_bytes(&body, (const uint8_t *)ops[i].in + ops[i].inlen -
							    KEYS_WRAPPED_LEN, KEYS_WRAPPED_LEN) < 0 ||
			       ipc_put_bytes(&kc->req, body.data, body.len) < 0;
			buf_free(&body);
		} else {
			struct buf body;
			buf_init(&body, KEYS_MAX_REQUEST);
			bad |= ipc_put_bytes(&body, ops[i].in, ops[i].inlen) < 0 ||
			       ipc_put_bytes(&kc->req, body.data, body.len) < 0;
			buf_free(&body);
		}
		if (bad)
			return err_set(e, "batch too large for a keys request");
	}
	if (roundtrip(kc, KEYS_BATCH, &r, e) < 0)
		return -1;
	if (ipc_get_u32(&r, &count) < 0 || count != n)
		goto malformed;
	for (size_t i = 0; i < n; i++) {
		uint32_t rtype;
		const uint8_t *p;
		size_t len;
		struct ipc_reader sub;
		if (ipc_get_u32(&r, &rtype) < 0 || ipc_get_bytes(&r, &p, &len) < 0)
			goto malformed;
		ipc_reader_init(&sub, p, len);
		if (rtype == KEYS_ERR) {
			const uint8_t *msg;
			size_t mlen;
			if (ipc_get_bytes(&sub, &msg, &mlen) < 0)
				goto malformed;
			secure_wipe(kc->reply.data, kc->reply.len);
			return err_set(e, "keys: %.*s", (int)mlen, (const char *)msg);
		}
		if (rtype != KEYS_OK)
			goto malformed;
		if (ops[i].type == KEYS_DEK_NEW) {
			const uint8_t *dek, *wrapped;
			size_t dl, wl;
			if (ipc_get_bytes(&sub, &dek, &dl) < 0 || dl != CRYPT_KEY_LEN ||
			    ipc_get_bytes(&sub, &wrapped, &wl) < 0 || wl != KEYS_WRAPPED_LEN ||
			    ipc_end(&sub) < 0)
				goto malformed;
			memcpy(ops[i].out, dek, dl);
			memcpy(ops[i].out + dl, wrapped, wl);
		} else {
			const uint8_t *v;
			size_t vl;
			if (ipc_get_bytes(&sub, &v, &vl) < 0 || vl != op_out_len(ops[i].type) ||
			    ipc_end(&sub) < 0)
				goto malformed;
			memcpy(ops[i].out, v, vl);
		}
	}
	if (ipc_end(&r) < 0)
		goto malformed;
	secure_wipe(kc->reply.data, kc->reply.len);
	return 0;
malformed:
	secure_wipe(kc->reply.data, kc->reply.len);
	channel_lost(kc);
	return err_tmp(e, "the keys process sent a malformed answer");
}

int keys_batch(struct keys_client *kc, struct keys_op *ops, size_t n, struct error *e)
{
	size_t done = 0;

	if (kc == NULL || kc->n == 0)
		return err_tmp(e, "the keys process is not available");
	for (size_t i = 0; i < n; i++)
		if (ops[i].type != KEYS_HMAC && ops[i].type != KEYS_DEK_NEW &&
		    ops[i].type != KEYS_DEK_UNWRAP)
			return err_set(e, "request type %u cannot be batched", ops[i].type);
	while (done < n) {
		/* As many as fit the count limit and half the request limit
		 * (answers are larger than requests, up to 2x for keys). */
		size_t take = 0, bytes = 4;
		struct keys_channel *ch;
		int r;
		while (done + take < n && take < KEYS_BATCH_MAX) {
			size_t add = ops[done + take].inlen + 32;
			if (take > 0 && bytes + add > KEYS_MAX_REQUEST / 2)
				break;
			bytes += add;
			take++;
		}
		ch = channel_take(kc);
		r = batch_locked(ch, ops + done, take, e);
		pthread_mutex_unlock(&ch->lock);
		if (r < 0) {
			for (size_t i = 0; i < n; i++)
				secure_wipe(ops[i].out, op_out_len(ops[i].type));
			return -1;
		}
		done += take;
	}
	return 0;
}

/* ---- record versions ---- */

void keys_record_id(const char *db, const void *key, size_t kl, uint8_t id[KEYS_RECORD_ID_LEN])
{
	uint8_t h[CRYPT_HASH_LEN];
	struct buf b;

	buf_init(&b, 4096 + kl);
	buf_append_str(&b, db);
	buf_append_u8(&b, 0);
	buf_append(&b, key, kl);
	crypt_sha256(b.data, b.len, h);
	memcpy(id, h, KEYS_RECORD_ID_LEN);
	buf_free(&b);
}

/* Room a request keeps for its count and the framing. */
#define REQ_SLACK 64

static int versions_locked(struct keys_channel *kc, uint32_t type,
			   const uint8_t (*ids)[KEYS_RECORD_ID_LEN], const uint64_t *versions,
			   size_t n, struct error *e)
{
	struct ipc_reader r;

	buf_reset(&kc->req);
	if (ipc_put_u32(&kc->req, (uint32_t)n) < 0)
		return err_set(e, "keys request too large");
	for (size_t i = 0; i < n; i++)
		if (ipc_put_bytes(&kc->req, ids[i], KEYS_RECORD_ID_LEN) < 0 ||
		    ipc_put_u64(&kc->req, versions[i]) < 0)
			return err_set(e, "keys request too large");
	if (roundtrip(kc, type, &r, e) < 0)
		return -1;
	if (ipc_end(&r) < 0) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	return 0;
}

static int versions_send(struct keys_client *kc, uint32_t type,
			 const uint8_t (*ids)[KEYS_RECORD_ID_LEN], const uint64_t *versions,
			 size_t n, struct error *e)
{
	if (kc == NULL || kc->n == 0)
		return err_tmp(e, "the keys process is not available");
	for (size_t done = 0; done < n;) {
		size_t take = n - done < KEYS_RECORD_MAX ? n - done : KEYS_RECORD_MAX;
		struct keys_channel *ch = channel_take(kc);
		int r = versions_locked(ch, type, ids + done, versions + done, take, e);
		pthread_mutex_unlock(&ch->lock);
		if (r < 0)
			return -1;
		done += take;
	}
	return 0;
}

int keys_record_pending(struct keys_client *kc, const uint8_t (*ids)[KEYS_RECORD_ID_LEN],
			const uint64_t *versions, size_t n, struct error *e)
{
	return versions_send(kc, KEYS_RECORD_PENDING, ids, versions, n, e);
}

int keys_record_commit(struct keys_client *kc, const uint8_t (*ids)[KEYS_RECORD_ID_LEN],
		       const uint64_t *versions, size_t n, struct error *e)
{
	return versions_send(kc, KEYS_RECORD_COMMIT, ids, versions, n, e);
}

static int check_locked(struct keys_channel *kc, const struct keys_rec_check *recs, size_t n,
			uint8_t *verdict, struct error *e)
{
	struct ipc_reader r;
	const uint8_t *p;
	size_t len;

	buf_reset(&kc->req);
	if (ipc_put_u32(&kc->req, (uint32_t)n) < 0)
		return err_set(e, "keys request too large");
	for (size_t i = 0; i < n; i++)
		if (recs[i].kl > UINT32_MAX || ipc_put_bytes(&kc->req, recs[i].in, recs[i].inlen) < 0 ||
		    ipc_put_u32(&kc->req, (uint32_t)recs[i].kl) < 0 ||
		    ipc_put_bytes(&kc->req, recs[i].mac, CRYPT_HASH_LEN) < 0)
			return err_set(e, "notice record too large for a keys request");
	if (roundtrip(kc, KEYS_RECORD_CHECK, &r, e) < 0)
		return -1;
	if (ipc_get_bytes(&r, &p, &len) < 0 || ipc_end(&r) < 0 || len != n) {
		channel_lost(kc);
		return err_tmp(e, "the keys process sent a malformed answer");
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] > KEYS_REC_ROLLED_BACK) {
			channel_lost(kc);
			return err_tmp(e, "the keys process sent a malformed answer");
		}
		verdict[i] = p[i];
	}
	return 0;
}

int keys_record_check(struct keys_client *kc, const struct keys_rec_check *recs, size_t n,
		      uint8_t *verdict, struct error *e)
{
	if (kc == NULL || kc->n == 0)
		return err_tmp(e, "the keys process is not available");
	for (size_t done = 0; done < n;) {
		size_t take = 0, bytes = REQ_SLACK;
		struct keys_channel *ch;
		int r;
		/* As many as fit the count and size limits (at least one). */
		while (done + take < n && take < KEYS_RECORD_MAX) {
			size_t add = recs[done + take].inlen + 12 + CRYPT_HASH_LEN;
			if (take > 0 && bytes + add > KEYS_MAX_REQUEST)
				break;
			bytes += add;
			take++;
		}
		ch = channel_take(kc);
		r = check_locked(ch, recs + done, take, verdict + done, e);
		pthread_mutex_unlock(&ch->lock);
		if (r < 0)
			return -1;
		done += take;
	}
	return 0;
}

/* ---- the keys role's start, as the supervisor sees it ---- */

#define READY_MSG_MAX 1024

int keys_ready_send(int ctl, const char *failure)
{
	struct buf b;
	int ret;

	buf_init(&b, READY_MSG_MAX + 8);
	if (failure == NULL)
		return ipc_send(ctl, KEYS_OK, NULL, 0, NULL);
	ipc_put_bytes(&b, failure, strnlen(failure, READY_MSG_MAX));
	ret = ipc_send(ctl, KEYS_ERR, b.data, b.len, NULL);
	buf_free(&b);
	return ret;
}

int keys_ready_wait(int ctl, int timeout_ms, struct error *e)
{
	struct pollfd p = { ctl, POLLIN, 0 };
	struct buf b;
	struct ipc_reader r;
	const uint8_t *msg;
	size_t n;
	uint32_t type = 0;
	int rc;

	do
		rc = poll(&p, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return err_tmp(e, "the keys process did not load its keys within %d s", timeout_ms / 1000);
	buf_init(&b, READY_MSG_MAX + 8);
	if (rc < 0 || ipc_recv(ctl, &type, &b, READY_MSG_MAX + 8, e) < 0) {
		buf_free(&b);
		return err_tmp(e, "the keys process ended before it loaded its keys (see the log)");
	}
	if (type == KEYS_OK && b.len == 0) {
		buf_free(&b);
		return 0;
	}
	ipc_reader_init(&r, b.data, b.len);
	if (type == KEYS_ERR && ipc_get_bytes(&r, &msg, &n) == 0 && ipc_end(&r) == 0)
		err_set(e, "the keys process cannot start: %.*s", (int)n, (const char *)msg);
	else
		err_tmp(e, "the keys process sent a malformed start message");
	buf_free(&b);
	return -1;
}
