/*
 * svcuser.c — the service user and the data folder's ownership (see
 * svcuser.h).  Runs in the supervisor before the roles start, and in a
 * command run as root when it closes a tenant.
 */
#include "lib/svcuser.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OWN_DEPTH_MAX 32

static int from_passwd(const struct passwd *pw, struct svcuser *u)
{
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	str_copy(u->name, pw->pw_name, sizeof(u->name));
	return 0;
}

int svcuser_resolve(const char *want, const char *data_dir, struct svcuser *u, struct error *e)
{
	struct passwd *pw;
	struct stat st;

	memset(u, 0, sizeof(*u));
	if (want != NULL && want[0] != '\0') {
		pw = getpwnam(want);
		if (pw == NULL)
			return err_set(e, "[security] user: no user named %s", want);
		if (pw->pw_uid == 0)
			return err_set(e, "[security] user: %s is root; name an unprivileged user", want);
		return from_passwd(pw, u);
	}
	if (stat(data_dir, &st) == 0 && st.st_uid != 0) {
		pw = getpwuid(st.st_uid);
		if (pw != NULL)
			return from_passwd(pw, u);
		u->uid = st.st_uid;
		u->gid = st.st_gid;
		str_fmt(u->name, sizeof(u->name), "%u", (unsigned)st.st_uid);
		return 0;
	}
	pw = getpwnam("tayori");
	if (pw != NULL && pw->pw_uid != 0)
		return from_passwd(pw, u);
	pw = getpwnam("nobody");
	if (pw == NULL || pw->pw_uid == 0)
		return err_set(e, "no unprivileged user to run as: create a \"tayori\" system user or set [security] user");
	u->fallback = 1;
	return from_passwd(pw, u);
}

static int need_chown(const struct stat *st, uid_t uid, gid_t gid)
{
	return st->st_uid != uid || st->st_gid != gid;
}

/* dfd: a directory already owned as wanted; its entries are handled here. */
static int own_entries(int dfd, dev_t dev, uid_t uid, gid_t gid, int depth, size_t *skipped,
		       struct error *e)
{
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0), rc = 0;
	DIR *d;
	struct dirent *de;

	if (depth > OWN_DEPTH_MAX)
		return err_set(e, "ownership: folders nested deeper than %d", OWN_DEPTH_MAX);
	if (dup_fd < 0 || (d = fdopendir(dup_fd)) == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return err_tmp(e, "ownership: %s", strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		int fd;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* Pin the entry itself, then decide on what was pinned. */
		fd = openat(dfd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone meanwhile */
		if (fstat(fd, &st) < 0 || st.st_dev != dev || S_ISLNK(st.st_mode)) {
			close(fd);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			close(fd);
			if (sub < 0) {
				rc = err_tmp(e, "ownership: %s: %s", de->d_name, strerror(errno));
				break;
			}
			if (need_chown(&st, uid, gid) && fchown(sub, uid, gid) < 0)
				rc = err_tmp(e, "ownership: %s: %s", de->d_name, strerror(errno));
			if (rc == 0)
				rc = own_entries(sub, dev, uid, gid, depth + 1, skipped, e);
			close(sub);
			continue;
		}
		if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			if (skipped != NULL)
				(*skipped)++;
		} else if (need_chown(&st, uid, gid) &&
			   fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0) {
			rc = err_tmp(e, "ownership: %s: %s", de->d_name, strerror(errno));
		}
		close(fd);
	}
	closedir(d);
	return rc;
}

int svcuser_own_tree(const char *dir, uid_t uid, gid_t gid, size_t *skipped, struct error *e)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return err_tmp(e, "ownership: %s: %s", dir, strerror(errno));
	if (fstat(fd, &st) < 0 || (need_chown(&st, uid, gid) && fchown(fd, uid, gid) < 0)) {
		rc = err_tmp(e, "ownership: %s: %s", dir, strerror(errno));
		close(fd);
		return rc;
	}
	rc = own_entries(fd, st.st_dev, uid, gid, 0, skipped, e);
	close(fd);
	return rc;
}
