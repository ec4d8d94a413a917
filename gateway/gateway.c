/*
 * gateway.c — the gateway role's main loop.  Runs in the gateway process.
 *
 * It watches where batches arrive — the drop folder (a sub-folder renamed
 * in complete, or an .eml file), a Maildir, and an IMAP mailbox — hands each
 * input to intake (intake.h), and only then deletes the clear input (IMAP:
 * moves or expunges it), so an input is turned into exactly one batch even
 * if the gateway dies half-way (the next start sees it again and intake
 * recognises it by its SHA-256, and it is deleted then).  Nothing of an
 * input stays in clear: what is kept is sealed in the store.  It also
 * deletes the refused inputs kept past [intake] keep_rejected.  It opens
 * the store itself, after fork, and never the key files; it signs through
 * the keys process.  It also takes the batches uploaded from the staff
 * dashboard (lib/upload.h), when the portal nudges it through
 * DATA/tmp/uploads and every few seconds.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "gateway/batch.h"
#include "gateway/imap_intake.h"
#include "gateway/intake.h"
#include "gateway/keys_signer.h"
#include "lib/keys_client.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/store.h"
#include "lib/upload.h"

#define RESCAN_MS 60000

struct watch {
	char inbox[4096];     /* drop folder */
	char maildir[4096];   /* "" when none */
	int ino;              /* inotify descriptor */
	struct intake *in;
	size_t limit;
	int wd_uploads;             /* DATA/tmp/uploads: the portal's nudges (lib/upload.h) */
	struct store *st;
	const struct role_ctx *ctx;
};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT)
		log_err("event=delete_failed reason=\"%s\"", strerror(errno));
	return 0;
}

/*
 * Delete an input (a file, or a folder and its files) once intake is done
 * with it: only its SHA-256 stays, in the store.  A plain unlink is all
 * there is: overwriting first gives nothing on today's file systems
 * (copy-on-write, journalling, SSD wear levelling all write new blocks and
 * leave the old ones to the device), so the bytes' protection is the disk
 * encryption below and not leaving copies here.
 */
static void delete_input(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode))
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else if (unlink(path) < 0 && errno != ENOENT)
		log_err("event=delete_failed reason=\"%s\"", strerror(errno));
}

/* Earlier versions kept every input in clear in these folders, forever.
 * Their batches are in the store and their senders were answered: delete
 * them, once, at start. */
static void delete_legacy(const char *parent, const char *name)
{
	char p[4200];
	struct stat st;
	if (str_fmt(p, sizeof(p), "%s/%s", parent, name) < 0 || lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	log_warn("event=legacy_plain_inputs_deleted folder=%s", name);
	delete_input(p);
}

/* Inotify reports a folder when it is renamed in complete; a scan also finds
 * folders being filled in place, so a scan takes a folder only once nothing
 * in it has changed for a while. */
#define SETTLE_S 30

static int settled(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	int64_t newest = 0;
	char p[4200];
	if (d == NULL)
		return 0;
	if (stat(dir, &st) == 0)
		newest = st.st_mtime;
	while ((de = readdir(d)) != NULL)
		if (str_fmt(p, sizeof(p), "%s/%s", dir, de->d_name) >= 0 && lstat(p, &st) == 0 &&
		    st.st_mtime > newest)
			newest = st.st_mtime;
	closedir(d);
	return now_utc() - newest >= SETTLE_S;
}

static void handle_drop_entry(struct watch *w, const char *name, int from_scan);

static void handle_drop(struct watch *w, const char *name)
{
	handle_drop_entry(w, name, 0);
}

static void handle_drop_scanned(struct watch *w, const char *name)
{
	handle_drop_entry(w, name, 1);
}

static void handle_drop_entry(struct watch *w, const char *name, int from_scan)
{
	char path[4200];
	struct stat st;
	struct error e = { { 0 }, 0 };
	enum intake_outcome o;
	uint64_t batch = 0;

	if (name[0] == '.' || str_fmt(path, sizeof(path), "%s/%s", w->inbox, name) < 0 ||
	    lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		if (from_scan && !settled(path))
			return;
		o = intake_folder(w->in, path, "drop", &batch, &e);
	} else if (S_ISREG(st.st_mode) && strlen(name) > 4 &&
		   strcmp(name + strlen(name) - 4, ".eml") == 0) {
		uint8_t *raw = NULL;
		size_t len = 0;
		if (file_read_all(path, w->limit, &raw, &len, &e) < 0) {
			o = e.temporary ? INTAKE_TEMPFAIL : INTAKE_REFUSED;
			if (o == INTAKE_REFUSED)
				intake_discard(w->in, "drop", "above [limits] message_size");
		} else {
			o = intake_message(w->in, raw, len, "drop", &batch, &e);
			free(raw);
		}
	} else {
		return; /* loose files wait for their folder */
	}
	if (o == INTAKE_TEMPFAIL)
		return;
	delete_input(path);
}

static void handle_maildir(struct watch *w, const char *name)
{
	char path[4200];
	struct error e = { { 0 }, 0 };
	uint8_t *raw = NULL;
	size_t len = 0;
	uint64_t batch = 0;
	enum intake_outcome o;

	if (name[0] == '.' || str_fmt(path, sizeof(path), "%s/new/%s", w->maildir, name) < 0)
		return;
	if (file_read_all(path, w->limit, &raw, &len, &e) < 0) {
		o = e.temporary ? INTAKE_TEMPFAIL : INTAKE_REFUSED;
		if (o == INTAKE_REFUSED)
			intake_discard(w->in, "maildir", "above [limits] message_size");
	} else {
		o = intake_message(w->in, raw, len, "maildir", &batch, &e);
	}
	free(raw);
	if (o == INTAKE_TEMPFAIL)
		return;
	delete_input(path);
}

static void scan(struct watch *w, const char *dir, void (*fn)(struct watch *, const char *))
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		fn(w, names[i]);
		free(names[i]);
	}
	free(names);
}

/* Refused inputs kept past [intake] keep_rejected go.  TAYORI_TEST_CLOCK_SKEW
 * (seconds added to the clock, for the tests only) lets a test see them go. */
static void sweep_kept(struct watch *w)
{
	struct error e = { { 0 }, 0 };
	const char *skew = getenv("TAYORI_TEST_CLOCK_SKEW");
	size_t n = 0;
	int64_t now = now_utc() + (skew != NULL ? strtoll(skew, NULL, 10) : 0);
	if (intake_sweep(w->in, now, &n, &e) < 0)
		log_err("event=rejected_sweep_failed reason=\"%s\"", e.msg);
	else if (n > 0)
		log_info("event=rejected_swept count=%zu", n);
}

static void rescan(struct watch *w)
{
	char newdir[4200];
	sweep_kept(w);
	scan(w, w->inbox, handle_drop_scanned);
	if (w->maildir[0] != '\0' && str_fmt(newdir, sizeof(newdir), "%s/new", w->maildir) >= 0)
		scan(w, newdir, handle_maildir);
}

/* Read the folders the gateway watches and writes from the configuration,
 * make the Maildir's folders, and confine the role to them (DATA/db and
 * DATA/tmp come with the role, see role.c). */
static int confine(struct role_ctx *ctx, struct watch *w, struct error *e)
{
	char outbox[4096], sub[4200], tsaca[4096];
	const char *rw[4], *ro[2] = { NULL, NULL };
	int n = 0;

	conf_path(ctx->conf, "paths", "inbox", w->inbox, sizeof(w->inbox));
	conf_path(ctx->conf, "paths", "outbox_maildir", outbox, sizeof(outbox));
	conf_path(ctx->conf, "mail", "maildir", w->maildir, sizeof(w->maildir));
	w->limit = (size_t)conf_int(ctx->conf, "limits", "message_size");
	rw[n++] = w->inbox;
	rw[n++] = outbox; /* replies to staff are queued there for the mailer */
	if (w->maildir[0] != '\0') {
		static const char *const subs[] = { "new", "cur", "tmp" };
		for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
			struct error me = { { 0 }, 0 };
			str_fmt(sub, sizeof(sub), "%s/%s", w->maildir, subs[i]);
			mkdir_p(sub, 0700, &me);
		}
		rw[n++] = w->maildir;
	}
	rw[n] = NULL;
	/* The TSA trust anchors every time stamp is checked against. */
	conf_path(ctx->conf, "signing", "tsa_ca_file", tsaca, sizeof(tsaca));
	ro[0] = tsaca[0] != '\0' ? tsaca : NULL;
	return role_confine(ctx, rw, ro, NULL, e);
}

/* Hand each file that inotify reports to its handler. */
static void drain_events(struct watch *w, int wd_inbox, int wd_maildir)
{
	char evbuf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t got;
	int uploads = 0;
	while ((got = read(w->ino, evbuf, sizeof(evbuf))) > 0) {
		for (char *q = evbuf; q < evbuf + got;) {
			struct inotify_event *ev = (struct inotify_event *)q;
			if (ev->len > 0 && ev->wd == wd_inbox)
				handle_drop(w, ev->name);
			else if (ev->len > 0 && ev->wd == wd_maildir)
				handle_maildir(w, ev->name);
			else if (ev->wd == w->wd_uploads)
				uploads = 1;
			q += sizeof(*ev) + ev->len;
		}
	}
	if (uploads)
		intake_uploads(w->in, w->st, w->ctx->conf, w->ctx->data_dir, 1);
}

int gateway_main(struct role_ctx *ctx)
{
	char newdir[4200];
	int kfds[2] = { ctx->keys_fd, ctx->keys_fd2 };
	struct keys_client *kc = keys_client_new_multi(kfds, ctx->keys_fd2 >= 0 ? 2 : 1);
	struct store *st = NULL;
	struct signer *signer = NULL;
	struct error e = { { 0 }, 0 };
	struct watch w;
	struct imap_intake *imap = NULL;
	int wd_inbox = -1, wd_maildir = -1;
	size_t swept = 0;
	int64_t last_scan;
	/* A channel the keys process closed: the supervisor restarts this role. */
	keys_client_exit_when_lost(kc);

	memset(&w, 0, sizeof(w));
	w.ino = -1;
	w.wd_uploads = -1;
	w.ctx = ctx;
	if (confine(ctx, &w, &e) < 0 || store_open(ctx->data_dir, kc, 0, &st, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		keys_client_free(&kc);
		return 3;
	}
	if (keys_signer_new(kc, &signer, &e) < 0) {
		/* Without a credential nothing can be signed: inputs wait. */
		log_err("event=no_signer reason=\"%s\"", e.msg);
		signer = NULL;
	}
	if (batch_sweep(st, &swept, &e) < 0)
		log_err("event=sweep_failed reason=\"%s\"", e.msg);
	w.st = st;
	if (intake_new(st, signer, ctx->conf, &w.in, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		goto out;
	}
	w.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w.ino >= 0) {
		wd_inbox = inotify_add_watch(w.ino, w.inbox, IN_MOVED_TO | IN_CLOSE_WRITE);
		if (w.maildir[0] != '\0') {
			str_fmt(newdir, sizeof(newdir), "%s/new", w.maildir);
			wd_maildir = inotify_add_watch(w.ino, newdir, IN_MOVED_TO | IN_CLOSE_WRITE);
		}
		/* Uploads from the dashboard: the portal touches a file here after
		 * each one (DATA/tmp is the gateway's and the portal's). */
		if (str_fmt(newdir, sizeof(newdir), "%s/%s", ctx->data_dir, UPLOAD_NUDGE_DIR) >= 0 &&
		    mkdir_p(newdir, 0700, &e) == 0)
			w.wd_uploads = inotify_add_watch(w.ino, newdir, IN_MOVED_TO | IN_CLOSE_WRITE);
	}
	if (conf_str(ctx->conf, "mail", "imap_url")[0] != '\0' &&
	    imap_intake_new(ctx->conf, w.in, &imap, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		goto out;
	}
	delete_legacy(w.inbox, ".processed");
	delete_legacy(w.inbox, ".rejected");
	if (w.maildir[0] != '\0') {
		delete_legacy(w.maildir, ".Processed");
		delete_legacy(w.maildir, ".Rejected");
	}
	log_info("event=ready schema=%u inbox=watching maildir=%s imap=%s", store_schema_version(st),
		 w.maildir[0] ? "watching" : "none", imap != NULL ? "watching" : "none");
	rescan(&w);
	last_scan = now_utc();
	for (;;) {
		struct pollfd p[3] = { { ctx->parent_fd, POLLIN, 0 }, { w.ino, POLLIN, 0 },
				       { imap != NULL ? imap_intake_fd(imap) : -1, POLLIN, 0 } };
		int tmo = 5000, r;
		if (imap != NULL && imap_intake_next_ms(imap) < tmo)
			tmo = imap_intake_next_ms(imap);
		r = poll(p, 3, tmo);
		if (r < 0 && errno != EINTR)
			break;
		/* IMAP: news while idling, or a poll / reconnect that is due. */
		if (imap != NULL && ((p[2].fd >= 0 && p[2].revents) || imap_intake_next_ms(imap) == 0)) {
			struct error ie = { { 0 }, 0 };
			imap_intake_step(imap, 0, &ie); /* failures are logged and retried with back-off */
		}
		if (p[0].revents) {
			char c;
			if (read(ctx->parent_fd, &c, 1) <= 0)
				break; /* the supervisor is gone or stopping us */
		}
		if (w.ino >= 0 && (p[1].revents & POLLIN))
			drain_events(&w, wd_inbox, wd_maildir);
		/* Uploads the nudge missed (a restart, a full inotify queue). */
		intake_uploads(w.in, st, ctx->conf, ctx->data_dir, 0);
		/* Inputs that waited on a temporary failure get another chance. */
		if ((now_utc() - last_scan) * 1000 >= RESCAN_MS) {
			rescan(&w);
			last_scan = now_utc();
		}
	}
out:
	imap_intake_free(&imap);
	if (w.ino >= 0)
		close(w.ino);
	intake_free(&w.in);
	signer_free(&signer);
	store_close(&st);
	keys_client_free(&kc);
	return 0;
}
