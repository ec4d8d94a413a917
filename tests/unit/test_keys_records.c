/*
 * test_keys_records.c — unit tests for the keys process's anchor of notice
 * record versions (keys/keys_records.c, "Record versions" in
 * lib/keys_client.h): the pending / commit / check protocol through the
 * request handler (an older version refused, an aborted write replaced,
 * a lost confirmation recovered, the table surviving a restart and shared
 * by two keys processes, a torn end of its file cut off, the file written
 * anew when mostly old entries), strict request
 * parsing and permissions, and the client's bulk calls through a real
 * keys process (keys_spawn).  Runs as a stand-alone cmocka program; forks
 * keys processes; uses scratch directories under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keys.h"
#include "lib/buf.h"
#include "lib/crypt.h"
#include "lib/ipc.h"
#include "lib/notice.h"
#include "lib/rec.h"
#include "lib/util.h"

static const struct keys_perms KP_ALL = { KEYS_PERM_ALL, KEYS_ANY, KEYS_ANY, KEYS_ANY };
static const struct keys_perms KP_RECORD = { 0, 0, 0, KEYS_IX_RECORD };
static const struct keys_perms KP_VERP = { KEYS_PERM_ALL, KEYS_ANY, KEYS_ANY, KEYS_IX_VERP };

struct fixture {
	char *dir;
	struct keys_state *ks;
	struct buf reply;
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct error e = { { 0 }, 0 };
	f->dir = xstrdup("/tmp/tayori-test-keysrec-XXXXXX");
	if (mkdtemp(f->dir) == NULL || keys_create_tenant(f->dir, 0, "テスト区", &e) < 0 ||
	    keys_state_load(f->dir, NULL, NULL, &f->ks, &e) < 0) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return -1;
	}
	buf_init(&f->reply, KEYS_MAX_REQUEST);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	keys_state_free(&f->ks);
	buf_free(&f->reply);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
	return 0;
}

/* The MAC input of a record of db "access" under key at version v. */
static void rec_input(struct buf *in, const char *key, uint64_t v)
{
	struct buf fields;
	buf_init(&fields, 256);
	rec_put_u64(&fields, NR_BATCH, 7);
	rec_put_u64(&fields, NR_DOWNLOADED_AT, v == 1 ? 0 : 1790000000 + v);
	rec_put_u64(&fields, NR_VERSION, v);
	buf_init(in, 1024);
	buf_append_str(in, KEYS_IX_NAME_RECORD);
	buf_append_u8(in, 0);
	buf_append_str(in, "access");
	buf_append_u8(in, 0);
	buf_append_str(in, key);
	buf_append(in, fields.data, fields.len);
	buf_free(&fields);
}

static int handle(struct fixture *f, struct keys_state *ks, const struct keys_perms *p,
		  uint32_t type, const struct buf *req, uint32_t *rtype)
{
	struct error e = { { 0 }, 0 };
	return keys_handle(ks, p, type, req->data, req->len, rtype, &f->reply, &e);
}

/* PENDING or COMMIT of version v of key's record. */
static void send_version(struct fixture *f, struct keys_state *ks, uint32_t type,
			 const char *key, uint64_t v)
{
	struct buf req;
	uint8_t id[KEYS_RECORD_ID_LEN];
	uint32_t rtype;
	keys_record_id("access", key, strlen(key), id);
	buf_init(&req, 256);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, id, sizeof(id));
	ipc_put_u64(&req, v);
	assert_int_equal(handle(f, ks, &KP_ALL, type, &req, &rtype), 0);
	assert_int_equal(rtype, KEYS_OK);
	assert_int_equal(f->reply.len, 0);
	buf_free(&req);
}

/* The verdict on version v of key's record, with its true MAC (or a
 * wrong one). */
static int verdict_of(struct fixture *f, struct keys_state *ks, const char *key, uint64_t v,
		      int wrong_mac)
{
	struct buf req, in;
	uint8_t mac[CRYPT_HASH_LEN];
	struct ipc_reader r;
	const uint8_t *p;
	size_t n;
	uint32_t rtype;

	rec_input(&in, key, v);
	keys_index_mac(ks, in.data, in.len, mac);
	mac[0] ^= wrong_mac ? 1 : 0;
	buf_init(&req, 4096);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, in.data, in.len);
	ipc_put_u32(&req, (uint32_t)strlen(key));
	ipc_put_bytes(&req, mac, sizeof(mac));
	assert_int_equal(handle(f, ks, &KP_ALL, KEYS_RECORD_CHECK, &req, &rtype), 0);
	assert_int_equal(rtype, KEYS_OK);
	ipc_reader_init(&r, f->reply.data, f->reply.len);
	assert_int_equal(ipc_get_bytes(&r, &p, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ipc_end(&r), 0);
	buf_free(&req);
	buf_free(&in);
	return p[0];
}

static off_t log_size(struct fixture *f)
{
	char path[4096];
	struct stat st;
	str_fmt(path, sizeof(path), "%s/%s", f->dir, KEYS_RECORDS_LOG);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	return st.st_size;
}

static void test_versions_protocol(void **state)
{
	struct fixture *f = *state;
	struct keys_state *ks2 = NULL;
	struct error e = { { 0 }, 0 };
	const char *k = "K0001";
	char path[4096];
	int fd;

	/* Never anchored: only the MAC speaks. */
	assert_int_equal(verdict_of(f, f->ks, k, 1, 0), KEYS_REC_GOOD);
	assert_int_equal(verdict_of(f, f->ks, k, 1, 1), KEYS_REC_FORGED);
	/* Written, committed: a first version takes no room (nothing older
	 * to refuse).  Written again: the first version is old. */
	send_version(f, f->ks, KEYS_RECORD_PENDING, k, 1);
	assert_int_equal(verdict_of(f, f->ks, k, 1, 0), KEYS_REC_GOOD);
	send_version(f, f->ks, KEYS_RECORD_COMMIT, k, 1);
	assert_int_equal(log_size(f), 0);
	send_version(f, f->ks, KEYS_RECORD_PENDING, k, 2);
	/* Pending: the version it builds on still reads (an abort keeps it). */
	assert_int_equal(verdict_of(f, f->ks, k, 1, 0), KEYS_REC_GOOD);
	send_version(f, f->ks, KEYS_RECORD_COMMIT, k, 2);
	assert_int_equal(verdict_of(f, f->ks, k, 1, 0), KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict_of(f, f->ks, k, 2, 0), KEYS_REC_GOOD);
	assert_int_equal(verdict_of(f, f->ks, k, 2, 1), KEYS_REC_FORGED);
	/* Version 3 issued, its transaction aborted: 2 still reads, and the
	 * next write of 3 replaces the pending one. */
	send_version(f, f->ks, KEYS_RECORD_PENDING, k, 3);
	assert_int_equal(verdict_of(f, f->ks, k, 2, 0), KEYS_REC_GOOD);
	send_version(f, f->ks, KEYS_RECORD_PENDING, k, 3);
	/* ... committed, its confirmation lost in a crash: 3 reads (pending);
	 * the next write builds on 3, which so becomes the confirmed one. */
	assert_int_equal(verdict_of(f, f->ks, k, 3, 0), KEYS_REC_GOOD);
	send_version(f, f->ks, KEYS_RECORD_PENDING, k, 4);
	assert_int_equal(verdict_of(f, f->ks, k, 2, 0), KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict_of(f, f->ks, k, 3, 0), KEYS_REC_GOOD);
	assert_int_equal(verdict_of(f, f->ks, k, 4, 0), KEYS_REC_GOOD);
	/* A late confirmation of 3 changes nothing. */
	send_version(f, f->ks, KEYS_RECORD_COMMIT, k, 3);
	assert_int_equal(verdict_of(f, f->ks, k, 4, 0), KEYS_REC_GOOD);
	assert_int_equal(log_size(f) % 40, 0);

	/* A restart reads the table back from its file. */
	keys_state_free(&f->ks);
	assert_int_equal(keys_state_load(f->dir, NULL, NULL, &f->ks, &e), 0);
	assert_int_equal(verdict_of(f, f->ks, k, 2, 0), KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict_of(f, f->ks, k, 3, 0), KEYS_REC_GOOD);
	assert_int_equal(verdict_of(f, f->ks, k, 4, 0), KEYS_REC_GOOD);

	/* A second keys process on the same tenant (a command-line tool's)
	 * writes 5; the first sees it. */
	assert_int_equal(keys_state_load(f->dir, NULL, NULL, &ks2, &e), 0);
	send_version(f, ks2, KEYS_RECORD_PENDING, k, 5);
	send_version(f, ks2, KEYS_RECORD_COMMIT, k, 5);
	assert_int_equal(verdict_of(f, f->ks, k, 4, 0), KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict_of(f, f->ks, k, 5, 0), KEYS_REC_GOOD);

	/* A torn entry at the end (a crash in the middle of a write) is cut
	 * off; what was durable stays. */
	str_fmt(path, sizeof(path), "%s/%s", f->dir, KEYS_RECORDS_LOG);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "torn entry...", 13), 13);
	close(fd);
	assert_int_equal(verdict_of(f, ks2, k, 5, 0), KEYS_REC_GOOD);
	assert_int_equal(log_size(f) % 40, 0);
	send_version(f, f->ks, KEYS_RECORD_PENDING, "K0002", 2);
	assert_int_equal(log_size(f) % 40, 0);
	assert_int_equal(verdict_of(f, ks2, k, 4, 0), KEYS_REC_ROLLED_BACK);
	keys_state_free(&ks2);
}

/* Malformed requests and requests without the "record" index kind close
 * the channel (-1), as every other request does. */
static void test_versions_malformed(void **state)
{
	struct fixture *f = *state;
	struct buf req, in;
	uint8_t id[KEYS_RECORD_ID_LEN] = { 1 }, mac[CRYPT_HASH_LEN] = { 0 };
	uint32_t rtype;

	buf_init(&req, KEYS_MAX_REQUEST);
	ipc_put_u32(&req, 0); /* no record */
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_PENDING, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, KEYS_RECORD_MAX + 1);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_COMMIT, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, id, 15); /* a short id */
	ipc_put_u64(&req, 1);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_PENDING, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, id, 16);
	ipc_put_u64(&req, 0); /* version 0 */
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_PENDING, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 2); /* says two, holds one */
	ipc_put_bytes(&req, id, 16);
	ipc_put_u64(&req, 1);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_COMMIT, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, id, 16);
	ipc_put_u64(&req, 1);
	ipc_put_u8(&req, 0); /* leftover */
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_PENDING, &req, &rtype), -1);
	req.len--;
	/* Well formed: not without the index kind "record". */
	assert_int_equal(handle(f, f->ks, &KP_VERP, KEYS_RECORD_PENDING, &req, &rtype), -1);
	assert_int_equal(handle(f, f->ks, &KP_RECORD, KEYS_RECORD_PENDING, &req, &rtype), 0);
	assert_int_equal(rtype, KEYS_OK);

	/* Checks: another index kind, a key longer than the input, fields
	 * without a version, a short MAC, a leftover byte. */
	rec_input(&in, "K1", 2);
	in.data[0] = 'R';
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, in.data, in.len);
	ipc_put_u32(&req, 2);
	ipc_put_bytes(&req, mac, 32);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_CHECK, &req, &rtype), -1);
	in.data[0] = 'r';
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, in.data, in.len);
	ipc_put_u32(&req, (uint32_t)in.len);
	ipc_put_bytes(&req, mac, 32);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_CHECK, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, in.data, in.len - 14); /* NR_VERSION cut off */
	ipc_put_u32(&req, 2);
	ipc_put_bytes(&req, mac, 32);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_CHECK, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, in.data, in.len);
	ipc_put_u32(&req, 2);
	ipc_put_bytes(&req, mac, 31);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_CHECK, &req, &rtype), -1);
	buf_reset(&req);
	ipc_put_u32(&req, 1);
	ipc_put_bytes(&req, in.data, in.len);
	ipc_put_u32(&req, 2);
	ipc_put_bytes(&req, mac, 32);
	ipc_put_u8(&req, 0);
	assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_RECORD_CHECK, &req, &rtype), -1);
	req.len--;
	assert_int_equal(handle(f, f->ks, &KP_VERP, KEYS_RECORD_CHECK, &req, &rtype), -1);
	assert_int_equal(handle(f, f->ks, &KP_RECORD, KEYS_RECORD_CHECK, &req, &rtype), 0);
	assert_int_equal(rtype, KEYS_OK);
	/* Never inside a KEYS_BATCH. */
	{
		struct buf b;
		buf_init(&b, KEYS_MAX_REQUEST);
		ipc_put_u32(&b, 1);
		ipc_put_u32(&b, KEYS_RECORD_CHECK);
		ipc_put_bytes(&b, req.data, req.len);
		assert_int_equal(handle(f, f->ks, &KP_ALL, KEYS_BATCH, &b, &rtype), -1);
		buf_free(&b);
	}
	buf_free(&in);
	buf_free(&req);
}

/* The client's bulk calls through a real keys process: more records than
 * one request holds. */
static void test_versions_client_bulk(void **state)
{
	struct fixture *f = *state;
	enum { N = 2500 };
	struct keys_client *kc = NULL;
	struct error e = { { 0 }, 0 };
	pid_t pid = -1;
	uint8_t(*ids)[KEYS_RECORD_ID_LEN] = xcalloc(N, sizeof(*ids));
	uint64_t *v1 = xcalloc(N, sizeof(*v1)), *v2 = xcalloc(N, sizeof(*v2));
	struct buf *in = xcalloc(2 * N, sizeof(*in));
	struct keys_rec_check *rc = xcalloc(2 * N, sizeof(*rc));
	uint8_t(*mac)[CRYPT_HASH_LEN] = xcalloc(2 * N, sizeof(*mac));
	uint8_t *verdict = xcalloc(2 * N, 1);
	char key[16];

	assert_int_equal(keys_spawn(f->dir, NULL, NULL, &kc, &pid, &e), 0);
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "K%05zu", i);
		keys_record_id("access", key, strlen(key), ids[i]);
		v1[i] = 2;
		v2[i] = 3;
		for (int j = 0; j < 2; j++) {
			struct buf *b = &in[2 * i + (size_t)j];
			rec_input(b, key, (uint64_t)j + 2);
			keys_index_mac(f->ks, b->data, b->len, mac[2 * i + (size_t)j]);
			rc[2 * i + (size_t)j] = (struct keys_rec_check){ b->data, b->len, strlen(key),
									 mac[2 * i + (size_t)j] };
		}
	}
	mac[1][5] ^= 1; /* record 0's second version forged */
	if (keys_record_pending(kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])ids, v1, N, &e) < 0 ||
	    keys_record_commit(kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])ids, v1, N, &e) < 0)
		fail_msg("keys: %s", e.msg);
	/* Each entry once per change, the file whole. */
	assert_int_equal(log_size(f), 2 * N * 40);
	/* Another keys process holds the file open... */
	assert_int_equal(verdict_of(f, f->ks, "K00000", 2, 0), KEYS_REC_GOOD);
	if (keys_record_pending(kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])ids, v2, N, &e) < 0 ||
	    keys_record_commit(kc, (const uint8_t(*)[KEYS_RECORD_ID_LEN])ids, v2, N, &e) < 0 ||
	    keys_record_check(kc, rc, 2 * N, verdict, &e) < 0)
		fail_msg("keys: %s", e.msg);
	assert_int_equal(verdict[0], KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict[1], KEYS_REC_FORGED);
	for (size_t i = 1; i < N; i++) {
		assert_int_equal(verdict[2 * i], KEYS_REC_ROLLED_BACK);
		assert_int_equal(verdict[2 * i + 1], KEYS_REC_GOOD);
	}
	/* ... when 4 entries of each record made the file four times the
	 * table, it was written anew: one entry each.  The other process
	 * reads the new file. */
	assert_int_equal(log_size(f), N * 40);
	assert_int_equal(verdict_of(f, f->ks, "K00000", 2, 0), KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict_of(f, f->ks, "K00001", 3, 0), KEYS_REC_GOOD);
	assert_int_equal(verdict_of(f, f->ks, "K02499", 2, 0), KEYS_REC_ROLLED_BACK);
	assert_int_equal(verdict_of(f, f->ks, "K02499", 1, 0), KEYS_REC_ROLLED_BACK);
	keys_spawn_wait(&kc, pid);
	for (size_t i = 0; i < 2 * N; i++)
		buf_free(&in[i]);
	free(ids);
	free(v1);
	free(v2);
	free(in);
	free(rc);
	free(mac);
	free(verdict);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versions_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions_client_bulk, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
