/*
 * test_svcuser.c — unit tests for lib/svcuser.c: choosing the service user
 * and giving a data folder to it.  The ownership tests need root (chown to
 * another user); run as anyone else they are skipped.  Uses a scratch
 * directory under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/svcuser.h"
#include "lib/util.h"

static char scratch[64];
static char outside[64];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[256];
	int fd;
	str_fmt(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static uid_t owner(const char *dir, const char *name)
{
	char p[256];
	struct stat st;
	str_fmt(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_uid;
}

static int setup(void **state)
{
	(void)state;
	str_copy(scratch, "/tmp/tayori-test-svcuser-XXXXXX", sizeof(scratch));
	str_copy(outside, "/tmp/tayori-test-svcout-XXXXXX", sizeof(outside));
	if (mkdtemp(scratch) == NULL || mkdtemp(outside) == NULL)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(outside, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void test_resolve_configured(void **state)
{
	struct svcuser u;
	struct error e = { { 0 }, 0 };
	(void)state;
	assert_int_equal(svcuser_resolve("nobody", scratch, &u, &e), 0);
	assert_string_equal(u.name, "nobody");
	assert_true(u.uid != 0);
	assert_int_equal(svcuser_resolve("root", scratch, &u, &e), -1);
	assert_non_null(strstr(e.msg, "is root"));
	assert_int_equal(svcuser_resolve("no-such-user-here", scratch, &u, &e), -1);
	assert_non_null(strstr(e.msg, "no user named no-such-user-here"));
}

static void test_resolve_folder_owner(void **state)
{
	struct svcuser u;
	struct error e = { { 0 }, 0 };
	struct passwd *nb = getpwnam("nobody");
	(void)state;
	if (geteuid() != 0 || nb == NULL)
		skip();
	assert_int_equal(chown(scratch, nb->pw_uid, nb->pw_gid), 0);
	assert_int_equal(svcuser_resolve("", scratch, &u, &e), 0);
	assert_int_equal(u.uid, nb->pw_uid);
	assert_int_equal(u.fallback, 0);
	assert_int_equal(chown(scratch, 0, 0), 0);
	assert_int_equal(svcuser_resolve("", scratch, &u, &e), 0);
	assert_true(u.uid != 0); /* tayori, or nobody as a fallback */
	if (getpwnam("tayori") == NULL)
		assert_int_equal(u.fallback, 1);
}

/* The tree is given away; a symbolic link or a hard link to a file outside
 * it must not hand that file over. */
static void test_own_tree(void **state)
{
	struct passwd *nb = getpwnam("nobody");
	struct error e = { { 0 }, 0 };
	char p[256], q[256];
	size_t skipped = 0;
	(void)state;
	if (geteuid() != 0 || nb == NULL)
		skip();
	put(outside, "secret", "root's");
	str_fmt(p, sizeof(p), "%s/db", scratch);
	assert_int_equal(mkdir(p, 0700), 0);
	put(p, "data.mdb", "x");
	str_fmt(p, sizeof(p), "%s/keys", scratch);
	assert_int_equal(mkdir(p, 0700), 0);
	put(p, "tenant.key", "k");
	str_fmt(p, sizeof(p), "%s/secret", outside);
	str_fmt(q, sizeof(q), "%s/link", scratch);
	assert_int_equal(symlink(p, q), 0);
	str_fmt(q, sizeof(q), "%s/hard", scratch);
	assert_int_equal(link(p, q), 0);
	str_fmt(q, sizeof(q), "%s/dirlink", scratch);
	assert_int_equal(symlink(outside, q), 0);

	assert_int_equal(svcuser_own_tree(scratch, nb->pw_uid, nb->pw_gid, &skipped, &e), 0);
	assert_int_equal(owner(scratch, "."), nb->pw_uid);
	assert_int_equal(owner(scratch, "db"), nb->pw_uid);
	assert_int_equal(owner(scratch, "db/data.mdb"), nb->pw_uid);
	assert_int_equal(owner(scratch, "keys/tenant.key"), nb->pw_uid);
	/* Nothing outside moved, whichever way it was linked. */
	assert_int_equal(owner(outside, "secret"), 0);
	assert_int_equal(owner(outside, "."), 0);
	assert_int_equal(owner(scratch, "link"), 0);
	assert_int_equal(skipped, 1);
	/* Modes are left as they were (keys/ stays 0700). */
	{
		struct stat st;
		str_fmt(p, sizeof(p), "%s/keys", scratch);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	/* A second pass changes nothing and still succeeds. */
	assert_int_equal(svcuser_own_tree(scratch, nb->pw_uid, nb->pw_gid, NULL, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve_configured, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_folder_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_tree, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
