/*
 * fuzz_keys.c — libFuzzer target for the keys process's request reader:
 * arbitrary frames (type + body) against keys_handle() with every
 * permission, as a compromised client would send them.  The handler must
 * refuse malformed requests without crashing, leaking or over-reading.
 *
 * Input layout: byte 0 selects the permission mask, bytes 1-4 the type,
 * the rest is the body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys_state *ks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/tayori-fuzz-keys.XXXXXX";
	struct error e = { { 0 }, 0 };
	char cmd[128];
	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL || keys_create_tenant(dir, 1, "fuzz", &e) < 0 ||
	    keys_state_load(dir, "keys/signing.p12", "", &ks, &e) < 0) {
		fprintf(stderr, "fuzz_keys: setup failed: %s\n", e.msg);
		abort();
	}
	/* The state is in memory now; the files can go. */
	snprintf(cmd, sizeof(cmd), "%s/keys/tenant.key", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/keys/signing.p12", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/keys/signing.pass", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/keys", dir);
	rmdir(cmd);
	rmdir(dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf reply;
	struct error e = { { 0 }, 0 };
	uint32_t type, rtype;
	unsigned perms;

	if (size < 5 || size > KEYS_MAX_REQUEST)
		return 0;
	perms = data[0] & KEYS_PERM_ALL;
	type = be32_get(data + 1);
	buf_init(&reply, KEYS_MAX_REQUEST);
	keys_handle(ks, perms, type, data + 5, size - 5, &rtype, &reply, &e);
	buf_wipe(&reply);
	return 0;
}
