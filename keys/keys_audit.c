/*
 * keys_audit.c — the keys process's side of the audit chain (see keys.h and
 * audit.h): the counter file DATA/keys/audit/counter, which says how far the
 * chain reached as far as the keys process knows.  Runs only in the keys
 * process (or a keys child of a command-line tool).
 *
 * The file is small text, one field a line:
 *
 *     tayori-audit-counter-v1
 *     committed <seq> <hex MAC of that record>
 *     pending <seq> <hex MAC of that record>
 *
 * where "pending" equals "committed" when no record is in flight, then
 * newlines up to COUNTER_LEN bytes, so that every state has the same size.
 * Several keys processes may share it (`tayori run`'s and a command-line
 * tool's), so every request takes an exclusive lock (flock on
 * DATA/keys/audit/lock), reads the file, and writes the new state durably
 * before it answers: over the old one in place, then fdatasync — one sync;
 * the whole state lies in the file's first disk sector, which a disk
 * writes whole or not at all (what LMDB assumes of its meta pages too).  A
 * file of another size (a new tenant, an older one) is replaced the long
 * way: a temporary file, fdatasync, rename, fsync of the folder.  An append
 * of many records (KEYS_AUDIT_APPEND_MANY) writes it once for all.
 */
#include "keys/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

#define COUNTER_MAGIC "tayori-audit-counter-v1\n"
#define COUNTER_MAX 512
#define COUNTER_LEN 256 /* the padded state; within one 512-byte sector */

struct chain {
	uint64_t committed;
	uint8_t cmac[CRYPT_HASH_LEN];
	uint64_t pending;
	uint8_t pmac[CRYPT_HASH_LEN];
};

static int path_of(const char *dir, const char *name, char *out, size_t outsize, struct error *e)
{
	if (str_fmt(out, outsize, "%s/%s", dir, name) < 0)
		return err_set(e, "data directory path too long");
	return 0;
}

/* The lock's descriptor (close it to unlock), or -1. */
static int chain_lock(const char *dir, struct error *e)
{
	char path[4096];
	int fd;

	if (path_of(dir, KEYS_AUDIT_LOCK, path, sizeof(path), e) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_tmp(e, "cannot open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			err_tmp(e, "cannot lock %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int parse_line(const char **p, const char *end, const char *word, uint64_t *seq,
		      uint8_t mac[CRYPT_HASH_LEN])
{
	char line[160], hex[2 * CRYPT_HASH_LEN + 1];
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n, wl = strlen(word);
	int64_t v;

	if (nl == NULL || (size_t)(nl - *p) >= sizeof(line))
		return -1;
	n = (size_t)(nl - *p);
	memcpy(line, *p, n);
	line[n] = '\0';
	*p = nl + 1;
	/* "<word> <seq> <64 hex digits>" */
	if (strncmp(line, word, wl) != 0 || line[wl] != ' ')
		return -1;
	{
		char *sp = strchr(line + wl + 1, ' ');
		if (sp == NULL || strlen(sp + 1) != 2 * CRYPT_HASH_LEN)
			return -1;
		*sp = '\0';
		if (parse_int64(line + wl + 1, 0, INT64_MAX, &v) < 0)
			return -1;
		str_copy(hex, sp + 1, sizeof(hex));
	}
	if (hex_decode(hex, mac, CRYPT_HASH_LEN) < 0)
		return -1;
	*seq = (uint64_t)v;
	return 0;
}

/* 0 read, 1 the file does not exist, -1 error. */
static int chain_read(const char *dir, struct chain *c, struct error *e)
{
	char path[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	const char *p, *end;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	if (path_of(dir, KEYS_AUDIT_COUNTER, path, sizeof(path), e) < 0)
		return -1;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 1;
	if (file_read_all(path, COUNTER_MAX, &data, &len, e) < 0)
		return -1;
	p = (const char *)data;
	end = p + len;
	if (len < strlen(COUNTER_MAGIC) || memcmp(p, COUNTER_MAGIC, strlen(COUNTER_MAGIC)) != 0)
		goto bad;
	p += strlen(COUNTER_MAGIC);
	if (parse_line(&p, end, "committed", &c->committed, c->cmac) < 0 ||
	    parse_line(&p, end, "pending", &c->pending, c->pmac) < 0 || c->pending < c->committed)
		goto bad;
	/* The padding, if any: newlines only. */
	while (p < end && *p == '\n')
		p++;
	if (p != end)
		goto bad;
	ret = 0;
	goto out;
bad:
	err_tmp(e, "%s is damaged: the keys process cannot tell where the audit log ends", path);
out:
	free(data);
	return ret;
}

/* The state over the old one of the same size, in place: 0 done and
 * durable, -1 not done (the caller replaces the file instead). */
static int overwrite(const char *path, const char *text, size_t len)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), ok;

	if (fd < 0)
		return -1;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t)len &&
	     pwrite(fd, text, len, 0) == (ssize_t)len && fdatasync(fd) == 0;
	close(fd);
	return ok ? 0 : -1;
}

static int chain_write(const char *dir, const struct chain *c, struct error *e)
{
	char path[4096], tmp[4096], folder[4096], text[COUNTER_MAX];
	char h1[2 * CRYPT_HASH_LEN + 1], h2[2 * CRYPT_HASH_LEN + 1];
	size_t len, off = 0;
	int fd, dfd, saved;

	if (path_of(dir, KEYS_AUDIT_COUNTER, path, sizeof(path), e) < 0 ||
	    path_of(dir, KEYS_AUDIT_COUNTER ".tmp", tmp, sizeof(tmp), e) < 0 ||
	    path_of(dir, KEYS_AUDIT_DIR, folder, sizeof(folder), e) < 0)
		return -1;
	hex_encode(c->cmac, CRYPT_HASH_LEN, h1);
	hex_encode(c->pmac, CRYPT_HASH_LEN, h2);
	if (str_fmt(text, sizeof(text), "%scommitted %llu %s\npending %llu %s\n", COUNTER_MAGIC,
		    (unsigned long long)c->committed, h1, (unsigned long long)c->pending, h2) < 0)
		return err_tmp(e, "audit counter too long");
	len = strlen(text);
	if (len > COUNTER_LEN)
		return err_tmp(e, "audit counter too long");
	memset(text + len, '\n', COUNTER_LEN - len);
	len = COUNTER_LEN;
	if (overwrite(path, text, len) == 0)
		return 0;
	/* The lock is held: one writer at a time, so one temporary name. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_tmp(e, "cannot create %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	/* Only the data matters here: the name is made durable below. */
	if (fdatasync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	/* The rename itself must survive a power cut. */
	dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		saved = errno;
		if (dfd >= 0)
			close(dfd);
		return err_tmp(e, "cannot sync %s: %s", folder, strerror(saved));
	}
	close(dfd);
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return err_tmp(e, "cannot write %s: %s", path, strerror(saved));
}

int keys_chain_create(const char *data_dir, struct error *e)
{
	char folder[4096];
	struct chain c;

	if (path_of(data_dir, KEYS_AUDIT_DIR, folder, sizeof(folder), e) < 0)
		return -1;
	if (mkdir(folder, 0700) < 0 && errno != EEXIST)
		return err_tmp(e, "cannot create %s: %s", folder, strerror(errno));
	memset(&c, 0, sizeof(c));
	return chain_write(data_dir, &c, e);
}

static int mac_is(const uint8_t *mac, const uint8_t want[CRYPT_HASH_LEN])
{
	static const uint8_t zero[CRYPT_HASH_LEN];
	return ct_memcmp(mac != NULL ? mac : zero, want, CRYPT_HASH_LEN) == 0;
}

int keys_chain_append_many(struct keys_state *ks, int same_txn, uint64_t last_seq,
			   const uint8_t *last_mac, size_t count, const uint8_t *const *fields,
			   const size_t *lens, uint64_t *first_seq, uint8_t (*macs)[CRYPT_HASH_LEN],
			   uint8_t head_mac[CRYPT_HASH_LEN], struct error *e)
{
	static const uint8_t zero[CRYPT_HASH_LEN];
	const char *dir = keys_state_dir(ks);
	const uint8_t *prev;
	struct chain c;
	int lock, r, ret = 1;

	if (count == 0 || count > KEYS_AUDIT_MANY_MAX)
		return err_set(e, "audit: %zu records in one request", count);
	lock = chain_lock(dir, e);
	if (lock < 0)
		return -1;
	r = chain_read(dir, &c, e);
	if (r < 0) {
		ret = -1;
		goto out;
	}
	if (r == 1) {
		/* A tenant made before the keys process kept the count: start
		 * counting from the log as it is.  Removing the file takes the
		 * same access as reading the tenant key. */
		log_warn("event=audit_counter_started from=%llu", (unsigned long long)last_seq);
		c.committed = c.pending = last_seq;
		memcpy(c.cmac, last_mac != NULL ? last_mac : zero, CRYPT_HASH_LEN);
		memcpy(c.pmac, c.cmac, CRYPT_HASH_LEN);
	}
	if (same_txn) {
		/* The transaction's own earlier record must be the one in flight. */
		if (!(c.pending > c.committed && last_seq == c.pending && mac_is(last_mac, c.pmac))) {
			err_set(e, "audit: this transaction's previous record is not the one the keys process issued");
			goto out;
		}
	} else if (last_seq == c.committed && mac_is(last_mac, c.cmac)) {
		/* Whatever was pending never reached the store: dropped. */
	} else if (c.pending > c.committed && last_seq == c.pending && mac_is(last_mac, c.pmac)) {
		/* Committed, but its confirmation was lost: it is confirmed now. */
		c.committed = c.pending;
		memcpy(c.cmac, c.pmac, CRYPT_HASH_LEN);
	} else {
		if (last_seq < c.committed)
			err_set(e, "audit: the log ends at record %llu but the keys process counted %llu records: records were removed from its end, or an older copy of the store was put back",
				(unsigned long long)last_seq, (unsigned long long)c.committed);
		else
			err_set(e, "audit: the log ends at record %llu, which is not the last record the keys process issued (it counted %llu)",
				(unsigned long long)last_seq, (unsigned long long)c.committed);
		goto out;
	}
	/* The records chain one after the other; the counter is written once
	 * for all of them, with the last as the one in flight. */
	*first_seq = last_seq + 1;
	prev = last_mac != NULL ? last_mac : zero;
	for (size_t i = 0; i < count; i++) {
		keys_audit_record_mac(ks, last_seq + 1 + i, prev, fields[i], lens[i], macs[i]);
		prev = macs[i];
	}
	c.pending = last_seq + count;
	memcpy(c.pmac, macs[count - 1], CRYPT_HASH_LEN);
	keys_audit_head_mac(ks, c.pending, c.pmac, head_mac);
	if (chain_write(dir, &c, e) < 0) {
		secure_wipe(macs, count * CRYPT_HASH_LEN);
		ret = -1;
		goto out;
	}
	ret = 0;
out:
	close(lock);
	return ret;
}

int keys_chain_append(struct keys_state *ks, int same_txn, uint64_t last_seq,
		      const uint8_t *last_mac, const uint8_t *fields, size_t n, uint64_t *seq,
		      uint8_t mac[CRYPT_HASH_LEN], uint8_t head_mac[CRYPT_HASH_LEN], struct error *e)
{
	uint8_t macs[1][CRYPT_HASH_LEN];
	int r = keys_chain_append_many(ks, same_txn, last_seq, last_mac, 1, &fields, &n, seq, macs,
				       head_mac, e);

	if (r == 0)
		memcpy(mac, macs[0], CRYPT_HASH_LEN);
	secure_wipe(macs, sizeof(macs));
	return r;
}

int keys_chain_commit(struct keys_state *ks, uint64_t seq, const uint8_t mac[CRYPT_HASH_LEN],
		      struct error *e)
{
	const char *dir = keys_state_dir(ks);
	struct chain c;
	int lock, r, ret = 1;

	lock = chain_lock(dir, e);
	if (lock < 0)
		return -1;
	r = chain_read(dir, &c, e);
	if (r != 0) {
		if (r == 1)
			err_tmp(e, "%s is missing", KEYS_AUDIT_COUNTER);
		ret = -1;
		goto out;
	}
	if (c.pending > c.committed && seq == c.pending && mac_is(mac, c.pmac)) {
		c.committed = c.pending;
		memcpy(c.cmac, c.pmac, CRYPT_HASH_LEN);
		ret = chain_write(dir, &c, e) < 0 ? -1 : 0;
	} else if ((seq == c.committed && mac_is(mac, c.cmac)) || seq < c.committed) {
		/* Already confirmed by a later append. */
		ret = 0;
	} else {
		err_set(e, "audit: record %llu is not the one the keys process has in flight",
			(unsigned long long)seq);
	}
out:
	close(lock);
	return ret;
}

int keys_chain_head(struct keys_state *ks, struct keys_audit_head *out, struct error *e)
{
	const char *dir = keys_state_dir(ks);
	struct chain c;
	int lock, r;

	lock = chain_lock(dir, e);
	if (lock < 0)
		return -1;
	r = chain_read(dir, &c, e);
	close(lock);
	if (r < 0)
		return -1;
	if (r == 1)
		return err_set(e, "%s is missing: the keys process cannot vouch for the end of the audit log",
			       KEYS_AUDIT_COUNTER);
	out->committed = c.committed;
	memcpy(out->committed_mac, c.cmac, CRYPT_HASH_LEN);
	out->pending = c.pending;
	memcpy(out->pending_mac, c.pmac, CRYPT_HASH_LEN);
	return 0;
}
