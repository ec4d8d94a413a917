/*
 * svcuser.h — the unprivileged user tayori's roles run as when started as
 * root, and the ownership of the tenant's data folder by that user.  Used
 * by the supervisor (`tayori run`) and by the commands that open a tenant.
 *
 * The service user is, in this order:
 *   1. [security] user, when set (never root);
 *   2. the owner of the data folder, when that is not root (an admin who
 *      made the folder for a user has already chosen);
 *   3. "tayori", when that user exists;
 *   4. "nobody", with a warning in the log (create a "tayori" system user).
 *
 * One user holds the whole data folder, keys/ included (mode 0700, files
 * 0600).  The other roles are kept from keys/ by Landlock, and from the
 * keys process's memory by its being non-dumpable and by seccomp refusing
 * ptrace; see README.md.
 */
#ifndef TAYORI_SVCUSER_H
#define TAYORI_SVCUSER_H

#include <sys/types.h>

#include "lib/util.h"

struct svcuser {
	uid_t uid;
	gid_t gid;
	char name[64];
	int fallback; /* 1 when "nobody" was taken for want of anything better */
};

/* Choose the service user as above.  `want` is [security] user ("" = not
 * set).  -1 when the configured user does not exist or is root. */
int svcuser_resolve(const char *want, const char *data_dir, struct svcuser *u, struct error *e);

/* Give dir and everything beneath it that belongs to someone else to
 * uid:gid.  Runs as root only.  It walks by descriptor (no path is resolved
 * twice), never follows a symbolic link, does not cross into other file
 * systems and leaves hard-linked files alone (a link to a file outside
 * the folder must not hand that file over); those are counted in
 * *skipped (may be NULL).  Depth is capped at 32. */
int svcuser_own_tree(const char *dir, uid_t uid, gid_t gid, size_t *skipped, struct error *e);

#endif
