/*
 * fuzz_keys.c — libFuzzer target for the keys process's request reader:
 * arbitrary frames (type + body) against keys_handle() with a fuzzed
 * channel permission, as a compromised client would send them.  The
 * handler must refuse malformed and forbidden requests without crashing,
 * leaking or over-reading, including the per-database data-key checks
 * (bindings "tayori:<db>:..."), the per-kind index checks and the audit
 * chain's requests (KEYS_AUDIT_APPEND / _COMMIT / _HEAD) and the notice
 * record versions' (KEYS_RECORD_PENDING / _COMMIT / _CHECK).
 *
 * Input layout: byte 0 selects the permissions (bits 0-2 the operations;
 * bit 3 no database for data keys, else every database but staff for
 * unwrap and none but residents and pdfs for new keys; bit 4 index kind
 * "resident" only, else any), bytes 1-4 the type, the rest the body.
 * The audit counter and the record versions live in a scratch data
 * directory that stays for the run (appends really chain; the tenant key
 * itself is removed once read) and is removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "keys/keys.h"
#include "lib/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys_state *ks;
static char dir[] = "/tmp/tayori-fuzz-keys.XXXXXX";

/* The scratch data directory goes when the run ends. */
static void cleanup(void)
{
	static const char *const files[] = { KEYS_AUDIT_COUNTER, KEYS_AUDIT_COUNTER ".tmp",
					     KEYS_AUDIT_LOCK, KEYS_RECORDS_LOG,
					     KEYS_RECORDS_LOG ".tmp" };
	char path[128];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		str_fmt(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_AUDIT_DIR);
	rmdir(path);
	str_fmt(path, sizeof(path), "%s/%s", dir, KEYS_DIR);
	rmdir(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct error e = { { 0 }, 0 };
	char path[128];
	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL || keys_create_tenant(dir, 1, "fuzz", &e) < 0 ||
	    keys_state_load(dir, "keys/signing.p12", "", &ks, &e) < 0) {
		fprintf(stderr, "fuzz_keys: setup failed: %s\n", e.msg);
		abort();
	}
	/* The secrets are in memory now; their files can go. */
	str_fmt(path, sizeof(path), "%s/keys/tenant.key", dir);
	unlink(path);
	str_fmt(path, sizeof(path), "%s/keys/signing.p12", dir);
	unlink(path);
	str_fmt(path, sizeof(path), "%s/keys/signing.pass", dir);
	unlink(path);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf reply;
	struct error e = { { 0 }, 0 };
	struct keys_perms perms;
	uint32_t type, rtype;

	if (size < 5 || size > KEYS_MAX_REQUEST)
		return 0;
	perms.ops = data[0] & KEYS_PERM_ALL;
	perms.unwrap = (data[0] & 0x08) ? 0 : (KEYS_ANY & ~KEYS_DB(DB_STAFF));
	perms.mint = (data[0] & 0x08) ? 0 : KEYS_DB(DB_RESIDENTS) | KEYS_DB(DB_PDFS);
	perms.index = (data[0] & 0x10) ? KEYS_IX_RESIDENT : KEYS_ANY;
	type = be32_get(data + 1);
	buf_init(&reply, KEYS_MAX_REQUEST);
	keys_handle(ks, &perms, type, data + 5, size - 5, &rtype, &reply, &e);
	buf_wipe(&reply);
	return 0;
}
