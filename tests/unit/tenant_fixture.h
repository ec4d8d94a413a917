/*
 * tenant_fixture.h — the cmocka fixture the store, audit and staff unit
 * tests share: a fresh tenant (key, keys process, LMDB store) in a
 * temporary folder, removed afterwards.  Included by one test file each,
 * so its functions are static.
 */
#ifndef TAYORI_TENANT_FIXTURE_H
#define TAYORI_TENANT_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "keys/keys.h"
#include "lib/store.h"
#include "lib/util.h"

struct fixture {
	char *dir;
	struct keys_client *kc;
	pid_t pid;
	struct store *st;
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

	f->dir = xstrdup("/tmp/tayori-test-tenant-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		goto fail;
	if (keys_create_tenant(f->dir, 0, "テスト区", &e) < 0 ||
	    keys_spawn(f->dir, NULL, NULL, &f->kc, &f->pid, &e) < 0 ||
	    store_open(f->dir, f->kc, 1, &f->st, &e) < 0) {
		fprintf(stderr, "setup: %s\n", e.msg);
		goto fail;
	}
	*state = f;
	return 0;
fail:
	if (f->kc != NULL)
		keys_spawn_wait(&f->kc, f->pid);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->st);
	keys_spawn_wait(&f->kc, f->pid);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
	return 0;
}

#endif
