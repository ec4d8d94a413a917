/*
 * store.c — the tenant's LMDB environment, sealed records and migrations
 * (see store.h for the schema and the sealed format).
 * Runs in the gateway, mailer, portal and command-line processes.
 */
#include "lib/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <lmdb.h>

#include "lib/crypt.h"
#include "lib/keys_client.h"
#include "lib/log.h"

#define SEAL_VERSION 1
#define SEAL_HEADER (1 + KEYS_WRAPPED_LEN)
/* Sparse on 64-bit systems: the file only grows as pages are used. */
#define STORE_MAP_SIZE ((size_t)256 << 30)

static const char *const db_names[DB_COUNT] = {
	[DB_META] = "meta",
	[DB_SEQ] = "seq",
	[DB_STAFF] = "staff",
	[DB_STAFF_IDX] = "staff_idx",
	[DB_SESSIONS] = "sessions",
	[DB_BATCHES] = "batches",
	[DB_BATCH_STATE] = "batch_state",
	[DB_RESIDENTS] = "residents",
	[DB_RESIDENT_IDX] = "resident_idx",
	[DB_PDFS] = "pdfs",
	[DB_DELIVERIES] = "deliveries",
	[DB_TOKENS] = "tokens",
	[DB_EVENTS] = "events",
	[DB_AUDIT] = "audit",
	[DB_CONSENT] = "consent",
	[DB_NOTICE_TYPES] = "notice_types",
	[DB_INTAKE] = "intake",
	[DB_REJECTED] = "rejected",
	[DB_CODES] = "codes",
	[DB_ACCESS] = "access",
	[DB_MAILQ] = "mailq",
	[DB_UPLOADS] = "uploads", /* made on open like every database (open_dbs) */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	struct keys_client *kc;
	uint32_t version;
};

struct store_txn {
	struct store *st;
	MDB_txn *txn;
	/* The last audit record this transaction appended (audit.c): confirmed
	 * to the keys process once the transaction commits. */
	uint64_t audit_seq;
	uint8_t audit_mac[CRYPT_HASH_LEN];
	/* The notice records it wrote, by id, and their versions: anchored in
	 * the keys process around the commit. */
	uint8_t (*rec_ids)[KEYS_RECORD_ID_LEN];
	uint64_t *rec_versions;
	size_t nrec, caprec;
	/* An open-addressing index of rec_ids (slot: index + 1, 0 empty), so
	 * that a transaction of thousands of records (a batch's first
	 * queueing) finds each in constant time. */
	uint32_t *rec_slots;
	size_t nslots;
};

/* The write transaction each thread has open (LMDB ties a write
 * transaction to the thread that began it). */
static _Thread_local struct store_txn *current_write;

struct store_iter {
	MDB_cursor *cur;
	int started;
	int back;          /* newest first: the keys below startkey, descending */
	MDB_val startkey;
};

const char *store_db_name(enum store_db db)
{
	return (unsigned)db < DB_COUNT ? db_names[db] : "?";
}

static int lmdb_err(struct error *e, const char *what, int rc)
{
	if (rc == MDB_MAP_FULL)
		return err_tmp(e, "store: %s: the database is full", what);
	return err_tmp(e, "store: %s: %s", what, mdb_strerror(rc));
}

/* ---- migrations: index i brings the schema from version i to i+1 ---- */

static int migrate_v0_to_v1(struct store_txn *t, struct error *e)
{
	uint8_t now[8];
	be64_put(now, (uint64_t)now_utc());
	/* The databases themselves were created by open_dbs(). */
	return store_put(t, DB_META, "created", 7, now, sizeof(now), e);
}

/* Version 2 adds codes, access and mailq (created by open_dbs()). */
static int migrate_v1_to_v2(struct store_txn *t, struct error *e)
{
	(void)t;
	(void)e;
	return 0;
}

static int (*const migrations[STORE_SCHEMA_VERSION])(struct store_txn *, struct error *) = {
	migrate_v0_to_v1,
	migrate_v1_to_v2,
};

static int open_dbs(struct store *st, MDB_txn *txn, int create, struct error *e)
{
	for (int i = 0; i < DB_COUNT; i++) {
		int rc = mdb_dbi_open(txn, db_names[i], create ? MDB_CREATE : 0, &st->dbi[i]);
		if (rc == MDB_NOTFOUND)
			return err_set(e, "store: database \"%s\" is missing (not a tayori store?)",
				       db_names[i]);
		if (rc != 0)
			return lmdb_err(e, db_names[i], rc);
	}
	return 0;
}

static int schema_upgrade(struct store *st, int create, struct error *e)
{
	struct store_txn t = { st, NULL, 0, { 0 }, NULL, NULL, 0, 0, NULL, 0 };
	const void *v = NULL;
	size_t vl = 0;
	uint32_t version = 0;
	uint8_t vb[4];
	int rc, r;

	rc = mdb_txn_begin(st->env, NULL, 0, &t.txn);
	if (rc != 0)
		return lmdb_err(e, "begin", rc);
	if (open_dbs(st, t.txn, 1, e) < 0)
		goto fail;
	r = store_get(&t, DB_META, "schema_version", 14, &v, &vl, e);
	if (r < 0)
		goto fail;
	if (r == 0) {
		if (vl != 4) {
			err_set(e, "store: schema_version is damaged");
			goto fail;
		}
		version = be32_get(v);
	} else if (!create) {
		err_set(e, "store: no tayori store here (run `tayori init`)");
		goto fail;
	}
	if (version > STORE_SCHEMA_VERSION) {
		err_set(e, "store: schema version %u is newer than this tayori (%u); upgrade tayori",
			version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	for (uint32_t v0 = version; v0 < STORE_SCHEMA_VERSION; v0++) {
		if (migrations[v0](&t, e) < 0)
			goto fail;
		log_info("event=schema_migrated from=%u to=%u", v0, v0 + 1);
	}
	be32_put(vb, STORE_SCHEMA_VERSION);
	if (version != STORE_SCHEMA_VERSION &&
	    store_put(&t, DB_META, "schema_version", 14, vb, 4, e) < 0)
		goto fail;
	rc = mdb_txn_commit(t.txn);
	if (rc != 0)
		return lmdb_err(e, "commit", rc);
	st->version = STORE_SCHEMA_VERSION;
	return 0;
fail:
	mdb_txn_abort(t.txn);
	return -1;
}

int store_open(const char *data_dir, struct keys_client *kc, int create, struct store **out,
	       struct error *e)
{
	struct store *st = xcalloc(1, sizeof(*st));
	char path[4096];
	int rc;

	st->kc = kc;
	if (str_fmt(path, sizeof(path), "%s/%s", data_dir, STORE_DIR) < 0) {
		err_set(e, "data directory path too long");
		goto fail;
	}
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST) {
		err_tmp(e, "cannot create %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = mdb_env_create(&st->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(st->env, DB_COUNT + 4);
	if (rc == 0)
		rc = mdb_env_set_mapsize(st->env, STORE_MAP_SIZE);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(st->env, 256);
	if (rc == 0)
		rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600);
	if (rc != 0) {
		if (rc == ENOENT)
			err_set(e, "%s does not exist (run `tayori init`)", path);
		else
			lmdb_err(e, path, rc);
		goto fail;
	}
	if (schema_upgrade(st, create, e) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(&st);
	return -1;
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st);
	*stp = NULL;
}

struct keys_client *store_keys(struct store *st)
{
	return st->kc;
}

uint32_t store_schema_version(struct store *st)
{
	return st->version;
}

int store_begin(struct store *st, int write, struct store_txn **out, struct error *e)
{
	struct store_txn *t = xcalloc(1, sizeof(*t));
	int rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != 0) {
		free(t);
		return lmdb_err(e, "begin", rc);
	}
	t->st = st;
	if (write)
		current_write = t;
	*out = t;
	return 0;
}

static void txn_free(struct store_txn *t)
{
	if (current_write == t)
		current_write = NULL;
	free(t->rec_ids);
	free(t->rec_versions);
	free(t->rec_slots);
	free(t);
}

struct store_txn *store_txn_current(struct store *st)
{
	return current_write != NULL && current_write->st == st ? current_write : NULL;
}

/* Where id's slot starts (ids are keyed hashes: their bytes are spread). */
static size_t mark_slot(const struct store_txn *t, const uint8_t id[KEYS_RECORD_ID_LEN])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)(h ^ (h >> 29)) & (t->nslots - 1);
}

/* Index of id among t's marks, or t->nrec. */
static size_t mark_find(const struct store_txn *t, const uint8_t id[KEYS_RECORD_ID_LEN])
{
	if (t->nslots == 0)
		return t->nrec;
	for (size_t s = mark_slot(t, id);; s = (s + 1) & (t->nslots - 1)) {
		uint32_t v = t->rec_slots[s];
		if (v == 0)
			return t->nrec;
		if (memcmp(t->rec_ids[v - 1], id, KEYS_RECORD_ID_LEN) == 0)
			return v - 1;
	}
}

/* Index mark i, the slots kept at most half full. */
static void mark_index(struct store_txn *t, size_t i)
{
	if (2 * (i + 1) > t->nslots) {
		free(t->rec_slots);
		t->nslots = t->nslots ? 2 * t->nslots : 64;
		t->rec_slots = xcalloc(t->nslots, sizeof(*t->rec_slots));
		for (size_t j = 0; j < i; j++)
			mark_index(t, j);
	}
	for (size_t s = mark_slot(t, t->rec_ids[i]);; s = (s + 1) & (t->nslots - 1))
		if (t->rec_slots[s] == 0) {
			t->rec_slots[s] = (uint32_t)(i + 1);
			return;
		}
}

void store_txn_record_mark(struct store_txn *t, const uint8_t id[KEYS_RECORD_ID_LEN],
			   uint64_t version)
{
	size_t i = mark_find(t, id);
	if (i == t->nrec) {
		if (t->nrec == t->caprec) {
			t->caprec = t->caprec ? 2 * t->caprec : 16;
			t->rec_ids = xrealloc(t->rec_ids, t->caprec * sizeof(*t->rec_ids));
			t->rec_versions = xrealloc(t->rec_versions, t->caprec * sizeof(uint64_t));
		}
		memcpy(t->rec_ids[t->nrec], id, KEYS_RECORD_ID_LEN);
		mark_index(t, t->nrec++);
	}
	t->rec_versions[i] = version;
}

int store_txn_record_marked(const struct store_txn *t, const uint8_t id[KEYS_RECORD_ID_LEN],
			    uint64_t version)
{
	size_t i = mark_find(t, id);
	return i < t->nrec && t->rec_versions[i] == version;
}

int store_commit(struct store_txn **tp, struct error *e)
{
	struct store_txn *t = *tp;
	struct store *st = t->st;
	uint64_t seq = t->audit_seq;
	uint8_t mac[CRYPT_HASH_LEN];
	unsigned flags = 0;
	int rc;

	/* The records' versions are pending in the keys process before they
	 * can be in the store; a record keys did not hear of would read as
	 * rolled back. */
	if (t->nrec > 0 && keys_record_pending(st->kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])t->rec_ids,
					       t->rec_versions, t->nrec, e) < 0) {
		store_abort(tp);
		return -1;
	}
	memcpy(mac, t->audit_mac, sizeof(mac));
	if (current_write == t)
		current_write = NULL;
	rc = mdb_txn_commit(t->txn);
	t->txn = NULL;
	*tp = NULL;
	if (rc != 0) {
		txn_free(t);
		return lmdb_err(e, "commit", rc);
	}
	/* What keys counts as there must be on disk first. */
	if ((seq != 0 || t->nrec > 0) && mdb_env_get_flags(st->env, &flags) == 0 &&
	    (flags & MDB_NOSYNC) != 0)
		mdb_env_sync(st->env, 1);
	if (seq != 0) {
		struct error ce = { { 0 }, 0 };
		/* A lost confirmation is not an error: the record stays pending
		 * in the keys process until the next append confirms it. */
		if (keys_audit_commit(st->kc, seq, mac, &ce) < 0)
			log_warn("event=audit_confirm_failed seq=%llu reason=\"%s\"",
				 (unsigned long long)seq, ce.msg);
	}
	if (t->nrec > 0) {
		struct error ce = { { 0 }, 0 };
		/* Likewise: a pending version reads as good until replaced. */
		if (keys_record_commit(st->kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])t->rec_ids,
				       t->rec_versions, t->nrec, &ce) < 0)
			log_warn("event=record_versions_confirm_failed records=%zu reason=\"%s\"",
				 t->nrec, ce.msg);
	}
	txn_free(t);
	return 0;
}

void store_txn_audit_mark(struct store_txn *t, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN])
{
	t->audit_seq = seq;
	memcpy(t->audit_mac, mac, CRYPT_HASH_LEN);
}

uint64_t store_txn_audit_seq(const struct store_txn *t)
{
	return t->audit_seq;
}

void store_abort(struct store_txn **tp)
{
	if (*tp == NULL)
		return;
	mdb_txn_abort((*tp)->txn);
	txn_free(*tp);
	*tp = NULL;
}

struct store *store_txn_store(struct store_txn *t)
{
	return t->st;
}

static int put_flags(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void *v,
		     size_t vl, unsigned flags, struct error *e)
{
	MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
	int rc = mdb_put(t->txn, t->st->dbi[db], &key, &val, flags);
	if (rc == MDB_KEYEXIST)
		return 1;
	if (rc != 0)
		return lmdb_err(e, db_names[db], rc);
	return 0;
}

int store_put(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void *v,
	      size_t vl, struct error *e)
{
	return put_flags(t, db, k, kl, v, vl, 0, e);
}

int store_put_new(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void *v,
		  size_t vl, struct error *e)
{
	return put_flags(t, db, k, kl, v, vl, MDB_NOOVERWRITE, e);
}

int store_get(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void **val,
	      size_t *vl, struct error *e)
{
	MDB_val key = { kl, (void *)k }, v;
	int rc = mdb_get(t->txn, t->st->dbi[db], &key, &v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return lmdb_err(e, db_names[db], rc);
	*val = v.mv_data;
	*vl = v.mv_size;
	return 0;
}

int store_del(struct store_txn *t, enum store_db db, const void *k, size_t kl, struct error *e)
{
	MDB_val key = { kl, (void *)k };
	int rc = mdb_del(t->txn, t->st->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return lmdb_err(e, db_names[db], rc);
	return 0;
}

/* "tayori:<db>:<hex key>" binds a sealed value to its place. */
static int seal_context(enum store_db db, const void *k, size_t kl, struct buf *aad)
{
	char hex[2 * 64 + 1];
	uint8_t h[CRYPT_HASH_LEN];
	const uint8_t *kp = k;
	/* Long keys are hashed so the context stays small. */
	if (kl > 64) {
		crypt_sha256(k, kl, h);
		kp = h;
		kl = sizeof(h);
	}
	hex_encode(kp, kl, hex);
	return buf_printf(aad, "tayori:%s:%s", db_names[db], hex);
}

int store_seal_with(enum store_db db, const void *k, size_t kl, const struct store_dek *dek,
		    const void *pt, size_t ptlen, struct buf *out, struct error *e)
{
	struct buf aad;
	int ret = -1;

	buf_init(&aad, 512);
	if (seal_context(db, k, kl, &aad) < 0) {
		err_set(e, "store: key too long");
		goto out;
	}
	if (buf_append_u8(out, SEAL_VERSION) < 0 ||
	    buf_append(out, dek->v + CRYPT_KEY_LEN, KEYS_WRAPPED_LEN) < 0) {
		err_set(e, "store: sealed value exceeds its limit");
		goto out;
	}
	ret = crypt_seal(dek->v, aad.data, aad.len, pt, ptlen, out, e);
out:
	buf_free(&aad);
	return ret;
}

int store_deks_new(struct store *st, enum store_db db, size_t n, const void *const *keys,
		   const size_t *klens, struct store_dek *out, struct error *e)
{
	struct keys_op *ops = xcalloc(n ? n : 1, sizeof(*ops));
	struct buf *aads = xcalloc(n ? n : 1, sizeof(*aads));
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		buf_init(&aads[i], 512);
		if (seal_context(db, keys[i], klens[i], &aads[i]) < 0) {
			err_set(e, "store: key too long");
			goto out;
		}
		ops[i] = (struct keys_op){ KEYS_DEK_NEW, aads[i].data, aads[i].len, out[i].v };
	}
	ret = keys_batch(st->kc, ops, n, e);
out:
	for (size_t i = 0; i < n; i++)
		buf_free(&aads[i]);
	free(aads);
	free(ops);
	return ret;
}

int store_seal(struct store *st, enum store_db db, const void *k, size_t kl, const void *pt,
	       size_t ptlen, struct buf *out, struct error *e)
{
	struct store_dek dek;
	int ret = store_deks_new(st, db, 1, &k, &kl, &dek, e);
	if (ret == 0)
		ret = store_seal_with(db, k, kl, &dek, pt, ptlen, out, e);
	secure_wipe(&dek, sizeof(dek));
	return ret;
}

int store_unseal(struct store *st, enum store_db db, const void *k, size_t kl, const void *sealed,
		 size_t len, struct buf *out, struct error *e)
{
	const uint8_t *s = sealed;
	uint8_t dek[CRYPT_KEY_LEN];
	struct buf aad;
	int ret = -1;

	if (len < SEAL_HEADER + CRYPT_SEAL_OVERHEAD || s[0] != SEAL_VERSION)
		return err_set(e, "store: sealed record in %s is damaged", db_names[db]);
	buf_init(&aad, 512);
	if (seal_context(db, k, kl, &aad) < 0) {
		err_set(e, "store: key too long");
		goto out;
	}
	if (keys_dek_unwrap(st->kc, aad.data, aad.len, s + 1, dek, e) < 0)
		goto out;
	ret = crypt_open(dek, aad.data, aad.len, s + SEAL_HEADER, len - SEAL_HEADER, out, e);
out:
	secure_wipe(dek, sizeof(dek));
	buf_free(&aad);
	return ret;
}

int store_put_sealed(struct store_txn *t, enum store_db db, const void *k, size_t kl,
		     const void *pt, size_t ptlen, struct error *e)
{
	struct buf sealed;
	int ret;
	buf_init(&sealed, ptlen + 1024);
	ret = store_seal(t->st, db, k, kl, pt, ptlen, &sealed, e);
	if (ret == 0)
		ret = store_put(t, db, k, kl, sealed.data, sealed.len, e);
	buf_free(&sealed);
	return ret;
}

int store_get_sealed(struct store_txn *t, enum store_db db, const void *k, size_t kl,
		     struct buf *out, struct error *e)
{
	const void *v = NULL;
	size_t vl = 0;
	int r = store_get(t, db, k, kl, &v, &vl, e);
	if (r != 0)
		return r;
	return store_unseal(t->st, db, k, kl, v, vl, out, e);
}

int store_get_sealed_many(struct store_txn *t, enum store_db db, size_t n,
			  const void *const *keys, const size_t *klens, struct buf *outs, int *found,
			  struct error *e)
{
	struct keys_op *ops = xcalloc(n ? n : 1, sizeof(*ops));
	struct buf *in = xcalloc(n ? n : 1, sizeof(*in));
	const uint8_t **vals = xcalloc(n ? n : 1, sizeof(*vals));
	size_t *vlens = xcalloc(n ? n : 1, sizeof(*vlens));
	uint8_t (*deks)[CRYPT_KEY_LEN] = xcalloc(n ? n : 1, sizeof(*deks));
	size_t *at = xcalloc(n ? n : 1, sizeof(*at));
	size_t m = 0;
	int ret = -1;

	/* The data key of every record present, unwrapped in one keys request
	 * (context || wrapped key, as keys_batch() wants them). */
	for (size_t i = 0; i < n; i++) {
		const void *v = NULL;
		size_t vl = 0;
		int r = store_get(t, db, keys[i], klens[i], &v, &vl, e);
		buf_init(&in[i], 64 << 10);
		found[i] = 0;
		if (r < 0)
			goto out;
		if (r == 1)
			continue;
		vals[i] = v;
		vlens[i] = vl;
		if (vl < SEAL_HEADER + CRYPT_SEAL_OVERHEAD || vals[i][0] != SEAL_VERSION) {
			err_set(e, "store: sealed record in %s is damaged", db_names[db]);
			goto out;
		}
		if (seal_context(db, keys[i], klens[i], &in[i]) < 0 ||
		    buf_append(&in[i], vals[i] + 1, KEYS_WRAPPED_LEN) < 0) {
			err_set(e, "store: key too long");
			goto out;
		}
		found[i] = 1;
		ops[m] = (struct keys_op){ KEYS_DEK_UNWRAP, in[i].data, in[i].len, deks[m] };
		at[m++] = i;
	}
	if (keys_batch(t->st->kc, ops, m, e) < 0)
		goto out;
	for (size_t j = 0; j < m; j++) {
		size_t i = at[j];
		if (crypt_open(deks[j], in[i].data, in[i].len - KEYS_WRAPPED_LEN,
			       vals[i] + SEAL_HEADER, vlens[i] - SEAL_HEADER, &outs[i], e) < 0)
			goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		buf_free(&in[i]);
	secure_wipe(deks, (n ? n : 1) * sizeof(*deks));
	free(deks);
	free(at);
	free(vals);
	free(vlens);
	free(in);
	free(ops);
	return ret;
}

int store_index(struct store *st, const char *kind, const void *v, size_t n, uint8_t out[32],
		struct error *e)
{
	return store_index_many(st, kind, 1, &v, &n, (uint8_t(*)[32])out, e);
}

int store_index_many(struct store *st, const char *kind, size_t n, const void *const *v,
		     const size_t *lens, uint8_t (*out)[32], struct error *e)
{
	struct keys_op *ops = xcalloc(n ? n : 1, sizeof(*ops));
	struct buf *in = xcalloc(n ? n : 1, sizeof(*in));
	int ret = -1;

	for (size_t i = 0; i < n; i++) {
		buf_init(&in[i], 64 << 10);
		/* The kind keeps the index spaces apart (a login never collides
		 * with an address). */
		if (buf_append_str(&in[i], kind) < 0 || buf_append_u8(&in[i], 0) < 0 ||
		    buf_append(&in[i], v[i], lens[i]) < 0) {
			err_set(e, "store: index value too long");
			goto out;
		}
		ops[i] = (struct keys_op){ KEYS_HMAC, in[i].data, in[i].len, out[i] };
	}
	ret = keys_batch(st->kc, ops, n, e);
out:
	for (size_t i = 0; i < n; i++)
		buf_wipe(&in[i]);
	free(in);
	free(ops);
	return ret;
}

int store_next_id(struct store_txn *t, const char *counter, uint64_t *out, struct error *e)
{
	const void *v = NULL;
	size_t vl = 0;
	uint64_t n = 0;
	uint8_t b[8];
	int r = store_get(t, DB_SEQ, counter, strlen(counter), &v, &vl, e);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (vl != 8)
			return err_set(e, "store: counter %s is damaged", counter);
		n = be64_get(v);
	}
	n++;
	be64_put(b, n);
	if (store_put(t, DB_SEQ, counter, strlen(counter), b, sizeof(b), e) < 0)
		return -1;
	*out = n;
	return 0;
}

int store_iter_open(struct store_txn *t, enum store_db db, const void *start, size_t startlen,
		    struct store_iter **out, struct error *e)
{
	struct store_iter *it = xcalloc(1, sizeof(*it));
	int rc = mdb_cursor_open(t->txn, t->st->dbi[db], &it->cur);
	if (rc != 0) {
		free(it);
		return lmdb_err(e, db_names[db], rc);
	}
	it->startkey.mv_data = (void *)start;
	it->startkey.mv_size = start != NULL ? startlen : 0;
	*out = it;
	return 0;
}

int store_iter_open_back(struct store_txn *t, enum store_db db, const void *before,
			 size_t beforelen, struct store_iter **out, struct error *e)
{
	if (store_iter_open(t, db, before, beforelen, out, e) < 0)
		return -1;
	(*out)->back = 1;
	return 0;
}

/* The first step of a backward walk: the last key below startkey. */
static int iter_back_first(struct store_iter *it, MDB_val *key, MDB_val *val)
{
	int rc;

	if (it->startkey.mv_data == NULL)
		return mdb_cursor_get(it->cur, key, val, MDB_LAST);
	rc = mdb_cursor_get(it->cur, key, val, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND) /* every key is below it */
		return mdb_cursor_get(it->cur, key, val, MDB_LAST);
	return rc != 0 ? rc : mdb_cursor_get(it->cur, key, val, MDB_PREV);
}

int store_iter_next(struct store_iter *it, const void **k, size_t *kl, const void **v, size_t *vl)
{
	MDB_val key = it->startkey, val;
	int rc;
	if (it->back) {
		rc = it->started ? mdb_cursor_get(it->cur, &key, &val, MDB_PREV)
				 : iter_back_first(it, &key, &val);
		it->started = 1;
	} else if (!it->started) {
		it->started = 1;
		rc = mdb_cursor_get(it->cur, &key, &val,
				    it->startkey.mv_data != NULL ? MDB_SET_RANGE : MDB_FIRST);
	} else {
		rc = mdb_cursor_get(it->cur, &key, &val, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return -1;
	*k = key.mv_data;
	*kl = key.mv_size;
	*v = val.mv_data;
	*vl = val.mv_size;
	return 0;
}

int store_last(struct store_txn *t, enum store_db db, const void **k, size_t *kl, const void **v,
	       size_t *vl, struct error *e)
{
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[db], &cur);
	if (rc != 0)
		return lmdb_err(e, db_names[db], rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return lmdb_err(e, db_names[db], rc);
	*k = key.mv_data;
	*kl = key.mv_size;
	*v = val.mv_data;
	*vl = val.mv_size;
	return 0;
}

void store_iter_close(struct store_iter **itp)
{
	if (*itp == NULL)
		return;
	mdb_cursor_close((*itp)->cur);
	free(*itp);
	*itp = NULL;
}

int store_del_prefix(struct store_txn *t, enum store_db db, const void *prefix, size_t plen,
		     size_t *count, struct error *e)
{
	MDB_cursor *cur;
	MDB_val key = { plen, (void *)prefix }, val;
	size_t n = 0;
	int rc = mdb_cursor_open(t->txn, t->st->dbi[db], &cur);
	if (rc != 0)
		return lmdb_err(e, db_names[db], rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == 0 && key.mv_size >= plen && memcmp(key.mv_data, prefix, plen) == 0) {
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		n++;
		rc = mdb_cursor_get(cur, &key, &val, MDB_GET_CURRENT);
		if (rc == 0)
			continue;
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_err(e, db_names[db], rc);
	if (count != NULL)
		*count = n;
	return 0;
}

int store_set_nosync(struct store *st, int on, struct error *e)
{
	int rc = mdb_env_set_flags(st->env, MDB_NOSYNC, on ? 1 : 0);
	if (rc != 0)
		return lmdb_err(e, "set flags", rc);
	return 0;
}

int store_sync(struct store *st, struct error *e)
{
	int rc = mdb_env_sync(st->env, 1);
	if (rc != 0)
		return lmdb_err(e, "sync", rc);
	return 0;
}
