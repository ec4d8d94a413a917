/*
 * pool_maildir.c — the pool's Maildir kind, used when no relay is
 * configured (the demo's outbox): each message is written whole into
 * tmp/, fsynced, renamed into new/ and new/ fsynced, so that a reader
 * never sees half a message and a crash loses none that was reported
 * sent.  The bytes are stored exactly as they would go to a relay (CRLF
 * line ends).  Names are unique: SECONDS.PID_COUNTER.HOST (Maildir's
 * "time.unique.host", with '/' and ':' in the host written as \057 and
 * \072); the outcome is SMTP_SENT with that name as its queue id.  Runs in
 * the mailer process, in the pool's worker threads.
 */
#include "mailer/pool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096

static void host_part(char *out, size_t outsize)
{
	char h[256];
	size_t n = 0;

	if (gethostname(h, sizeof h) < 0 || h[0] == '\0')
		str_copy(h, "localhost", sizeof h);
	h[sizeof h - 1] = '\0';
	for (size_t i = 0; h[i] != '\0' && n + 4 <= POOL_HOST_NAME_MAX && n + 5 < outsize; i++) {
		if (h[i] == '/' || h[i] == ':') {
			n += (size_t)snprintf(out + n, outsize - n, "\\%03o", (unsigned char)h[i]);
			continue;
		}
		out[n++] = h[i];
	}
	out[n] = '\0';
}

int pool_maildir_open(struct pool *p, struct error *e)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char path[PATH_MAX_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (str_fmt(path, sizeof path, "%s/%s", p->maildir, subs[i]) < 0)
			return err_set(e, "Maildir path too long: %s", p->maildir);
		if (mkdir_p(path, 0700, e) < 0)
			return -1;
	}
	str_fmt(path, sizeof path, "%s/new", p->maildir);
	p->newdir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->newdir_fd < 0)
		return err_tmp(e, "cannot open %s: %s", path, strerror(errno));
	host_part(p->host, sizeof p->host);
	return 0;
}

void pool_maildir_close(struct pool *p)
{
	if (p->newdir_fd >= 0)
		close(p->newdir_fd);
	p->newdir_fd = -1;
}

static int write_all(int fd, const uint8_t *b, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, b, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

static void tempfail(struct smtp_result *r, const char *what, const char *path, int err)
{
	memset(r, 0, sizeof *r);
	r->outcome = SMTP_TEMPFAIL;
	r->stage = SMTP_STAGE_DATA;
	(void)str_fmt(r->text, sizeof r->text, "cannot %s %s: %s", what, path, strerror(err));
}

void pool_maildir_write(struct pool *p, const struct pool_job *job, struct smtp_result *r)
{
	char name[SMTP_QUEUE_ID_MAX], tmp[PATH_MAX_LEN], dst[PATH_MAX_LEN];
	unsigned long n = __atomic_add_fetch(&p->counter, 1, __ATOMIC_RELAXED);
	int fd, err;

	if (str_fmt(name, sizeof name, "%lld.%ld_%lu.%s", (long long)now_utc(), (long)getpid(), n, p->host) < 0 ||
	    str_fmt(tmp, sizeof tmp, "%s/tmp/%s", p->maildir, name) < 0 ||
	    str_fmt(dst, sizeof dst, "%s/new/%s", p->maildir, name) < 0) {
		tempfail(r, "name a file in", p->maildir, ENAMETOOLONG);
		return;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		tempfail(r, "create", tmp, errno);
		return;
	}
	if (write_all(fd, job->msg, job->len) < 0 || fsync(fd) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		tempfail(r, "write", tmp, err);
		return;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		err = errno;
		unlink(tmp);
		tempfail(r, "move into new/", tmp, err);
		return;
	}
	if (fsync(p->newdir_fd) < 0) {
		/* the file is in new/ but may not survive a crash: report it unsent */
		tempfail(r, "sync", dst, errno);
		unlink(dst);
		return;
	}
	memset(r, 0, sizeof *r);
	r->outcome = SMTP_SENT;
	r->stage = SMTP_STAGE_DATA;
	r->code = 250;
	str_copy(r->queue_id, name, sizeof r->queue_id);
	str_copy(r->text, "written to the Maildir", sizeof r->text);
}
