/*
 * keys_records.c — the keys process's anchor of notice record versions
 * (see "Record versions" in lib/keys_client.h): for each record id, the
 * confirmed version and the pending one, so that an older copy of a
 * record put back into the store's files is refused.  Runs only in the
 * keys process (or a keys child of a command-line tool).
 *
 * The table lives in memory and in DATA/keys/audit/records, an
 * append-only file of 40-byte entries
 *
 *     id (16) | confirmed (u64) | pending (u64) | tag (8)
 *
 * each the whole new state of one id (the last entry of an id wins), the
 * tag the first 8 bytes of an HMAC under a sub-key of the tenant key, so
 * that a damaged or torn entry is seen.  Several keys processes may share
 * the file (`tayori run`'s and a command-line tool's): every request takes
 * an exclusive flock on it, reads what the others appended since, and
 * writes its own entries, fsynced once per request before it answers (a
 * confirmation is not: losing one costs nothing the design does not
 * already take, see keys_records_update).  A torn entry at the end (a
 * crash in the middle of a write) is cut off by the next request.
 * Version 0 means none.  A record is anchored from its second version on
 * (the first has nothing older): the many records written once (events,
 * tokens, codes) take no room.
 *
 * Once the file holds over COMPACT_MIN bytes and four times the entries
 * the table has, the request that finds it so writes the table anew (a
 * temporary file, fsync, rename, fsync of the folder); the other keys
 * processes see the new file under the name and read it from its start.
 */
#include "keys/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/notice.h"
#include "lib/rec.h"

#define ENTRY 40
#define TAG 8
#define READ_CHUNK (ENTRY * 1638) /* about 64 KiB */
#define COMPACT_MIN ((off_t)256 << 10)

struct slot {
	uint8_t id[KEYS_RECORD_ID_LEN];
	uint64_t confirmed, pending;
	int used;
};

struct keys_records {
	pthread_mutex_t lock; /* the keys process's threads; flock the others */
	char path[4096];
	uint8_t key[CRYPT_KEY_LEN];
	int fd;      /* the log, or -1 until the first request */
	off_t off;   /* bytes of it read into the table */
	struct slot *tab;
	size_t cap, used;
};

struct keys_records *keys_records_new(const char *data_dir, const uint8_t key[CRYPT_KEY_LEN])
{
	struct keys_records *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->fd = -1;
	if (str_fmt(r->path, sizeof(r->path), "%s/%s", data_dir, KEYS_RECORDS_LOG) < 0)
		r->path[0] = '\0';
	crypt_hmac(key, "tayori record versions v1", 25, r->key);
	return r;
}

static void table_clear(struct keys_records *r)
{
	free(r->tab);
	r->tab = NULL;
	r->cap = r->used = 0;
	r->off = 0;
}

void keys_records_free(struct keys_records **rp)
{
	struct keys_records *r = *rp;
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	table_clear(r);
	pthread_mutex_destroy(&r->lock);
	secure_wipe(r->key, sizeof(r->key));
	free(r);
	*rp = NULL;
}

/* The slot of id, or the free slot where it goes. */
static struct slot *slot_of(struct keys_records *r, const uint8_t id[KEYS_RECORD_ID_LEN])
{
	size_t i = (size_t)be64_get(id) & (r->cap - 1);
	while (r->tab[i].used && memcmp(r->tab[i].id, id, KEYS_RECORD_ID_LEN) != 0)
		i = (i + 1) & (r->cap - 1);
	return &r->tab[i];
}

static struct slot *find(struct keys_records *r, const uint8_t id[KEYS_RECORD_ID_LEN])
{
	struct slot *s;
	if (r->cap == 0)
		return NULL;
	s = slot_of(r, id);
	return s->used ? s : NULL;
}

/* The slot of id, made (zero versions) when new. */
static struct slot *find_or_add(struct keys_records *r, const uint8_t id[KEYS_RECORD_ID_LEN])
{
	struct slot *s;
	if (2 * (r->used + 1) > r->cap) {
		struct slot *old = r->tab;
		size_t oldcap = r->cap;
		r->cap = oldcap ? 2 * oldcap : 1024;
		r->tab = xcalloc(r->cap, sizeof(*r->tab));
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].used)
				*slot_of(r, old[i].id) = old[i];
		free(old);
	}
	s = slot_of(r, id);
	if (!s->used) {
		memset(s, 0, sizeof(*s));
		memcpy(s->id, id, KEYS_RECORD_ID_LEN);
		s->used = 1;
		r->used++;
	}
	return s;
}

static void entry_tag(const struct keys_records *r, const uint8_t e[ENTRY - TAG],
		      uint8_t tag[TAG])
{
	uint8_t mac[CRYPT_HASH_LEN];
	crypt_hmac(r->key, e, ENTRY - TAG, mac);
	memcpy(tag, mac, TAG);
}

static int entry_put(struct keys_records *r, struct buf *b, const struct slot *s)
{
	uint8_t e[ENTRY];
	memcpy(e, s->id, KEYS_RECORD_ID_LEN);
	be64_put(e + 16, s->confirmed);
	be64_put(e + 24, s->pending);
	entry_tag(r, e, e + ENTRY - TAG);
	return buf_append(b, e, sizeof(e));
}

/* 0 applied, -1 a damaged entry. */
static int entry_apply(struct keys_records *r, const uint8_t *e)
{
	uint8_t tag[TAG];
	struct slot *s;
	entry_tag(r, e, tag);
	if (ct_memcmp(tag, e + ENTRY - TAG, TAG) != 0)
		return -1;
	s = find_or_add(r, e);
	s->confirmed = be64_get(e + 16);
	s->pending = be64_get(e + 24);
	return 0;
}

/* Open the log (first request) and take the lock; -1 with e set.  A log
 * another keys process wrote anew is opened again and read from its
 * start. */
static int log_lock(struct keys_records *r, struct error *e)
{
	struct stat named, held;

	if (r->path[0] == '\0')
		return err_set(e, "data directory path too long");
	for (int tries = 0; tries < 100; tries++) {
		if (r->fd < 0) {
			r->fd = open(r->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			if (r->fd < 0)
				return err_tmp(e, "cannot open %s: %s", r->path, strerror(errno));
			table_clear(r);
		}
		while (flock(r->fd, LOCK_EX) < 0)
			if (errno != EINTR)
				return err_tmp(e, "cannot lock %s: %s", r->path, strerror(errno));
		if (stat(r->path, &named) == 0 && fstat(r->fd, &held) == 0 &&
		    named.st_ino == held.st_ino && named.st_dev == held.st_dev)
			return 0;
		close(r->fd); /* replaced under its name: take the new one */
		r->fd = -1;
	}
	return err_tmp(e, "%s keeps being replaced", r->path);
}

/* Read what other keys processes appended since; cut a torn or damaged
 * end off.  The lock is held. */
static int catch_up(struct keys_records *r, struct error *e)
{
	struct stat st;
	uint8_t *chunk;
	off_t good;
	int ret = -1, damaged = 0;

	if (fstat(r->fd, &st) < 0)
		return err_tmp(e, "cannot read %s: %s", r->path, strerror(errno));
	if (st.st_size < r->off)
		table_clear(r); /* not ours to explain: read it all again */
	if (st.st_size == r->off)
		return 0;
	chunk = xmalloc(READ_CHUNK);
	good = r->off;
	while (good < st.st_size && !damaged) {
		size_t want = (size_t)(st.st_size - good) < READ_CHUNK ? (size_t)(st.st_size - good)
								   : READ_CHUNK;
		ssize_t n = pread(r->fd, chunk, want, good);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_tmp(e, "cannot read %s: %s", r->path, strerror(errno));
			goto out;
		}
		if (n < ENTRY) {
			damaged = 1;
			break;
		}
		for (ssize_t i = 0; i + ENTRY <= n; i += ENTRY, good += ENTRY)
			if (entry_apply(r, chunk + i) < 0) {
				damaged = 1;
				break;
			}
	}
	if (damaged) {
		log_warn("event=record_versions_cut at=%lld size=%lld", (long long)good,
			 (long long)st.st_size);
		if (ftruncate(r->fd, good) < 0) {
			err_tmp(e, "cannot repair %s: %s", r->path, strerror(errno));
			goto out;
		}
	}
	r->off = good;
	ret = 0;
out:
	free(chunk);
	return ret;
}

/* Append b's entries, durably when asked.  On failure the table is
 * dropped (read again by the next request). */
static int log_append(struct keys_records *r, const struct buf *b, int durable, struct error *e)
{
	size_t done = 0;

	while (done < b->len) {
		ssize_t w = write(r->fd, b->data + done, b->len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (durable && fdatasync(r->fd) < 0)
		goto fail;
	r->off += (off_t)b->len;
	return 0;
fail:
	err_tmp(e, "cannot write %s: %s", r->path, strerror(errno));
	if (ftruncate(r->fd, r->off) < 0)
		log_warn("event=record_versions_unwritable reason=\"%s\"", strerror(errno));
	table_clear(r);
	return -1;
}

static void log_unlock(struct keys_records *r)
{
	if (r->fd >= 0)
		flock(r->fd, LOCK_UN);
}

/* Write the table anew when the log is mostly old entries.  The lock is
 * held; it moves to the new file.  A failure leaves the old log, whole. */
static void log_compact(struct keys_records *r)
{
	char tmp[4096 + 8], folder[4096], *slash;
	struct buf b;
	int fd = -1, dfd;
	size_t done = 0;

	if (r->off < COMPACT_MIN || (size_t)r->off / ENTRY < 4 * r->used)
		return;
	if (str_fmt(tmp, sizeof(tmp), "%s.tmp", r->path) < 0 ||
	    str_copy(folder, r->path, sizeof(folder)) >= sizeof(folder) ||
	    (slash = strrchr(folder, '/')) == NULL)
		return;
	*slash = '\0';
	buf_init(&b, r->used * ENTRY + 1);
	for (size_t i = 0; i < r->cap; i++)
		if (r->tab[i].used && entry_put(r, &b, &r->tab[i]) < 0)
			goto fail;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		goto fail;
	while (done < b.len) {
		ssize_t w = write(fd, b.data + done, b.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, r->path) < 0)
		goto fail;
	dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	log_info("event=record_versions_compacted records=%zu from=%lld to=%zu", r->used,
		 (long long)r->off, b.len);
	close(r->fd);
	r->fd = fd;
	r->off = (off_t)b.len;
	buf_free(&b);
	return;
fail:
	log_warn("event=record_versions_compact_failed reason=\"%s\"", strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	buf_free(&b);
}

/* pending: version v of the record is about to be committed; commit: it
 * is.  Returns 1 when the slot changed. */
static int apply_pending(struct slot *s, uint64_t v)
{
	/* The writer built on the pending version: it was committed, only its
	 * confirmation was lost. */
	if (s->pending != 0 && v == s->pending + 1)
		s->confirmed = s->pending;
	s->pending = v;
	return 1;
}

static int apply_commit(struct slot *s, uint64_t v)
{
	if (s->pending == v || (s->pending == 0 && s->confirmed == 0)) {
		s->confirmed = v;
		s->pending = 0;
		return 1;
	}
	return 0; /* already confirmed, or a later write came first */
}

int keys_records_update(struct keys_records *r, int commit,
			const uint8_t (*ids)[KEYS_RECORD_ID_LEN], const uint64_t *versions,
			size_t n, struct error *e)
{
	struct buf b;
	int ret = -1;

	buf_init(&b, n * ENTRY + 1);
	pthread_mutex_lock(&r->lock);
	if (log_lock(r, e) < 0) {
		pthread_mutex_unlock(&r->lock);
		buf_free(&b);
		return -1;
	}
	if (catch_up(r, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = find(r, ids[i]);
		int changed;
		/* A record's first version has none older to roll back to: only
		 * records written again take room here (events, tokens and codes
		 * never are). */
		if (s == NULL && versions[i] == 1)
			continue;
		if (s == NULL) {
			/* The writer built on the version before, in the store. */
			s = find_or_add(r, ids[i]);
			if (!commit)
				s->confirmed = versions[i] - 1;
		}
		changed = commit ? apply_commit(s, versions[i]) : apply_pending(s, versions[i]);
		if (changed && entry_put(r, &b, s) < 0) {
			err_tmp(e, "too many record versions in one request");
			table_clear(r);
			goto out;
		}
	}
	/* A confirmation a power cut loses is one lost in a crash: the
	 * pending version still reads, and the next write confirms it.  The
	 * next pending entry's fsync makes it durable with it. */
	if (b.len > 0 && log_append(r, &b, !commit, e) < 0)
		goto out;
	log_compact(r);
	ret = 0;
out:
	log_unlock(r);
	pthread_mutex_unlock(&r->lock);
	buf_free(&b);
	return ret;
}

int keys_records_check(struct keys_records *r, const uint8_t (*ids)[KEYS_RECORD_ID_LEN],
		       const uint64_t *versions, size_t n, uint8_t *verdict, struct error *e)
{
	int ret = -1;

	pthread_mutex_lock(&r->lock);
	if (log_lock(r, e) < 0) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	if (catch_up(r, e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct slot *s = find(r, ids[i]);
		uint64_t v = versions[i];
		/* Never anchored (written before the keys process kept versions):
		 * only its MAC speaks for it. */
		if (s == NULL || (v != 0 && (v == s->confirmed || v == s->pending)))
			verdict[i] = KEYS_REC_GOOD;
		else
			verdict[i] = KEYS_REC_ROLLED_BACK;
	}
	ret = 0;
out:
	log_unlock(r);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* ---- the requests (keys.c hands them over) ---- */

/* A record's MAC input "record\0<db>\0<key><fields>" with the key's length:
 * its id and version; -1 when it is not one. */
static int input_parse(const uint8_t *in, size_t n, size_t kl, uint8_t id[KEYS_RECORD_ID_LEN],
		       uint64_t *version)
{
	static const char kind[] = KEYS_IX_NAME_RECORD;
	size_t pl = sizeof(kind), dl; /* with its NUL */
	const uint8_t *db, *nul, *fields, *v;
	char name[64];
	size_t fl, vl;

	if (n < pl || memcmp(in, kind, pl) != 0)
		return -1;
	db = in + pl;
	nul = memchr(db, 0, n - pl);
	if (nul == NULL || (dl = (size_t)(nul - db)) == 0 || dl >= sizeof(name))
		return -1;
	fields = nul + 1 + kl;
	if (kl > n - pl - dl - 1)
		return -1;
	fl = n - (size_t)(fields - in);
	if (rec_check(fields, fl) != 0 || rec_get(fields, fl, NR_VERSION, &v, &vl) != 0 ||
	    vl != 8 || be64_get(v) == 0)
		return -1;
	memcpy(name, db, dl);
	name[dl] = '\0';
	keys_record_id(name, nul + 1, kl, id);
	*version = be64_get(v);
	return 0;
}

static int req_check(struct keys_state *ks, struct ipc_reader *rd, uint32_t count,
		     struct buf *reply, struct error *e)
{
	uint8_t(*ids)[KEYS_RECORD_ID_LEN] = xcalloc(count, sizeof(*ids));
	uint64_t *versions = xcalloc(count, sizeof(*versions));
	uint8_t *verdict = xcalloc(count, 1);
	size_t m = 0;
	int ret = 1;

	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *in, *mac;
		size_t inlen, maclen;
		uint32_t kl;
		uint8_t want[CRYPT_HASH_LEN];
		if (ipc_get_bytes(rd, &in, &inlen) < 0 || ipc_get_u32(rd, &kl) < 0 ||
		    ipc_get_bytes(rd, &mac, &maclen) < 0 || maclen != CRYPT_HASH_LEN ||
		    input_parse(in, inlen, kl, ids[m], &versions[m]) < 0)
			goto out;
		keys_index_mac(ks, in, inlen, want);
		if (ct_memcmp(want, mac, CRYPT_HASH_LEN) != 0) {
			verdict[i] = KEYS_REC_FORGED;
			continue;
		}
		m++;
		verdict[i] = 0xff; /* its version is asked below */
	}
	if (ipc_end(rd) < 0)
		goto out;
	ret = -1;
	{
		uint8_t *got = xcalloc(m ? m : 1, 1);
		if (keys_records_check(keys_state_records(ks), ids, versions, m, got, e) < 0) {
			free(got);
			goto out;
		}
		for (uint32_t i = 0, j = 0; i < count; i++)
			if (verdict[i] == 0xff)
				verdict[i] = got[j++];
		free(got);
	}
	ret = ipc_put_bytes(reply, verdict, count) < 0 ? -1 : 0;
	if (ret < 0)
		err_tmp(e, "reply too large");
out:
	free(ids);
	free(versions);
	free(verdict);
	return ret;
}

int keys_records_request(struct keys_state *ks, uint32_t type, const uint8_t *body, size_t len,
			 struct buf *reply, struct error *e)
{
	struct ipc_reader rd;
	uint32_t count;

	ipc_reader_init(&rd, body, len);
	if (ipc_get_u32(&rd, &count) < 0 || count == 0 || count > KEYS_RECORD_MAX)
		return 1;
	if (type == KEYS_RECORD_CHECK)
		return req_check(ks, &rd, count, reply, e);
	{
		uint8_t(*ids)[KEYS_RECORD_ID_LEN] = xcalloc(count, sizeof(*ids));
		uint64_t *versions = xcalloc(count, sizeof(*versions));
		int ret = 1;
		for (uint32_t i = 0; i < count; i++) {
			const uint8_t *id;
			size_t idl;
			if (ipc_get_bytes(&rd, &id, &idl) < 0 || idl != KEYS_RECORD_ID_LEN ||
			    ipc_get_u64(&rd, &versions[i]) < 0 || versions[i] == 0)
				goto out;
			memcpy(ids[i], id, KEYS_RECORD_ID_LEN);
		}
		if (ipc_end(&rd) < 0)
			goto out;
		ret = keys_records_update(keys_state_records(ks), type == KEYS_RECORD_COMMIT, ids,
					  versions, count, e) < 0 ? -1 : 0;
out:
		free(ids);
		free(versions);
		return ret;
	}
}
