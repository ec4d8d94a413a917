/*
 * bounce_reader.c — the mailer's bounce mailbox reader (see
 * bounce_reader.h): settings, one message classified, its return path
 * checked and its delivery updated, the IMAP mailbox (lib/imap_mailbox.h)
 * and the Maildir walked.  Runs in the mailer process.
 */
#include "mailer/bounce_reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/imap_mailbox.h"
#include "lib/log.h"
#include "lib/notice.h"
#include "lib/store.h"
#include "mailer/bounce.h"
#include "mailer/verp.h"

enum { FOLDER_PROCESSED, FOLDER_ASIDE, FOLDER_COUNT };

/* Names handed over by one Maildir pass at most: the rest wait for the next. */
#define MAILDIR_PASS_MAX 10000

struct bounce_reader {
	struct store *st;
	char domain[256];
	char maildir[4096];
	char folder[FOLDER_COUNT][256]; /* processed, aside: the same names in IMAP and Maildir */
	size_t max_size;
	int64_t poll_s;
	int64_t last_poll; /* monotonic-ish: now_utc() of the last Maildir pass; 0 = never */
	struct imap_mailbox *mb;
	size_t counts[BOUNCE_OUT_COUNT];
};

static const char *const outcome_names[BOUNCE_OUT_COUNT] = {
	"bounced", "deferred", "recorded", "unchanged", "not_bounce",
	"no_verp", "forged",   "unknown",  "too_big",   "later",
};

const char *bounce_outcome_name(enum bounce_outcome o)
{
	return (unsigned)o < BOUNCE_OUT_COUNT ? outcome_names[o] : "?";
}

int bounce_outcome_processed(enum bounce_outcome o)
{
	switch (o) {
	case BOUNCE_OUT_BOUNCED:
	case BOUNCE_OUT_DEFERRED:
	case BOUNCE_OUT_RECORDED:
	case BOUNCE_OUT_UNCHANGED:
		return 1;
	case BOUNCE_OUT_LATER:
		return -1;
	default:
		return 0;
	}
}

/* ---- settings ---- */

int bounce_reader_domain(const struct conf *c, char *out, size_t outsize, struct error *e)
{
	const char *d = conf_str(c, "mail", "bounce_domain");
	size_t n;

	if (d[0] == '\0') {
		const char *from = conf_str(c, "mail", "from");
		d = strrchr(from, '@');
		if (d == NULL)
			return err_set(e, "[mail] from has no domain for the bounce return path");
		d++;
	}
	n = strlen(d);
	if (n == 0 || n >= outsize)
		return err_set(e, "[mail] bounce_domain is empty or too long");
	for (size_t i = 0; i <= n; i++)
		out[i] = (d[i] >= 'A' && d[i] <= 'Z') ? (char)(d[i] - 'A' + 'a') : d[i];
	{
		char probe[EMAIL_MAX + 1];
		if (str_fmt(probe, sizeof(probe), "bounce@%s", out) < 0 || !email_valid(probe))
			return err_set(e, "[mail] bounce_domain \"%s\" is not a mail domain", out);
	}
	return 0;
}

/* A Maildir++ sub-folder name: one path component, not hidden. */
static int folder_name_ok(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || strlen(s) > 200)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return 0;
	return 1;
}

/*
 * One folder of the bounce Maildir, made when missing.  The mailer makes
 * them before it leaves root (see bounce_reader_prepare), so a folder made
 * as root is given the owner of the folder it is made in: the data folder
 * (or an admin's folder) already belongs to the service user.
 */
static int make_dir(const char *path, struct error *e)
{
	struct stat sb;
	char parent[4400];
	char *slash;

	if (lstat(path, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			return err_set(e, "the bounce Maildir: %s is not a folder", path);
		return 0;
	}
	if (mkdir_p(path, 0700, e) < 0)
		return err_set(e, "cannot make the bounce Maildir folder %s", path);
	if (geteuid() != 0)
		return 0;
	str_copy(parent, path, sizeof(parent));
	slash = strrchr(parent, '/');
	if (slash == NULL || slash == parent)
		return 0;
	*slash = '\0';
	if (stat(parent, &sb) < 0 || (sb.st_uid == 0 && sb.st_gid == 0))
		return 0;
	if (lchown(path, sb.st_uid, sb.st_gid) < 0)
		return err_tmp(e, "cannot give the bounce Maildir folder %s to its owner: %s", path,
			       strerror(errno));
	return 0;
}

static int maildir_make(const char *dir, struct error *e)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	char p[4200];
	if (make_dir(dir, e) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (str_fmt(p, sizeof(p), "%s/%s", dir, subs[i]) < 0)
			return err_set(e, "the bounce Maildir: path too long");
		else if (make_dir(p, e) < 0)
			return -1;
	return 0;
}

static int read_folders(const struct conf *c, char folder[FOLDER_COUNT][256], struct error *e)
{
	static const char *const keys[FOLDER_COUNT] = { "bounce_imap_processed",
							"bounce_imap_aside" };
	for (size_t i = 0; i < FOLDER_COUNT; i++) {
		const char *v = conf_str(c, "mail", keys[i]);
		if (str_copy(folder[i], v, 256) >= 256 || v[0] == '\0')
			return err_set(e, "[mail] %s is empty or too long", keys[i]);
	}
	if (strcmp(folder[0], folder[1]) == 0)
		return err_set(e, "[mail] bounce_imap_processed and bounce_imap_aside must differ");
	return 0;
}

int bounce_reader_prepare(const struct conf *c, char *maildir, size_t size, struct error *e)
{
	char folder[FOLDER_COUNT][256], sub[4400];

	maildir[0] = '\0';
	if (conf_str(c, "mail", "bounce_maildir")[0] == '\0')
		return 0;
	if (conf_path(c, "mail", "bounce_maildir", maildir, size) < 0)
		return err_set(e, "[mail] bounce_maildir: path too long");
	if (read_folders(c, folder, e) < 0)
		return -1;
	if (maildir_make(maildir, e) < 0)
		return -1;
	for (size_t i = 0; i < FOLDER_COUNT; i++) {
		if (!folder_name_ok(folder[i]))
			return err_set(e, "[mail] %s: \"%s\" cannot name a Maildir folder (no /, no leading dot)",
				       i == FOLDER_PROCESSED ? "bounce_imap_processed" : "bounce_imap_aside",
				       folder[i]);
		if (str_fmt(sub, sizeof(sub), "%s/.%s", maildir, folder[i]) < 0 ||
		    maildir_make(sub, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- one message ---- */

/* Cut s (NUL-terminated, valid UTF-8) to fit size bytes without splitting a character. */
static void copy_utf8(char *dst, const char *src, size_t size)
{
	size_t n = str_copy(dst, src, size);
	if (n < size)
		return;
	n = size - 1;
	while (n > 0 && ((unsigned char)dst[n] & 0xC0) == 0x80)
		n--; /* dst[n] is the lead byte of the character cut short */
	dst[n] = '\0';
}

/* The recipient that decided the message's kind. */
static const struct bounce_rcpt *deciding_rcpt(const struct bounce_result *r)
{
	for (size_t i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].kind == r->kind)
			return &r->rcpt[i];
	return r->nrcpt > 0 ? &r->rcpt[0] : NULL;
}

static int add_event(struct store_txn *t, const struct delivery *d, enum notice_event type,
		     int64_t now, struct error *e)
{
	struct notice_event_rec ev;
	memset(&ev, 0, sizeof(ev));
	ev.batch = d->batch;
	ev.seq = d->seq;
	ev.time_us = now * 1000000;
	ev.type = type;
	ev.delay = d->sent_at > 0 && now >= d->sent_at ? now - d->sent_at : -1;
	return notice_event_add(t, &ev, e);
}

/* The change a bounce of kind k makes to d at time now, as an outcome;
 * d is changed in place only for BOUNCED and DEFERRED. */
static enum bounce_outcome decide(enum bounce_kind k, const struct bounce_rcpt *rc,
				  struct delivery *d, int64_t now)
{
	char reply[BOUNCE_DIAG_MAX + BOUNCE_STATUS_MAX + 16];

	if (k == BOUNCE_AUTO_REPLY || k == BOUNCE_COMPLAINT)
		return BOUNCE_OUT_RECORDED;
	if (k == BOUNCE_HARD) {
		if (d->state == DELIVERY_QUEUED || d->state == DELIVERY_SENDING)
			return BOUNCE_OUT_LATER; /* read again once this attempt has ended */
		if (d->state != DELIVERY_SENT && d->state != DELIVERY_DEFERRED &&
		    d->state != DELIVERY_FAILED)
			return BOUNCE_OUT_UNCHANGED;
		d->state = DELIVERY_BOUNCED;
		d->next_at = 0;
	} else {
		if (d->state != DELIVERY_SENT)
			return BOUNCE_OUT_UNCHANGED;
		d->state = DELIVERY_DEFERRED;
		d->attempts++;
		d->next_at = now + (k == BOUNCE_RATE ? BOUNCE_READER_RATE_RETRY
						     : BOUNCE_READER_SOFT_RETRY);
	}
	d->last_at = now;
	str_copy(d->bounce_kind, bounce_kind_name(k), sizeof(d->bounce_kind));
	str_copy(d->bounce_status, rc != NULL ? rc->status : "", sizeof(d->bounce_status));
	str_fmt(reply, sizeof(reply), "bounce %s %s", rc != NULL && rc->status[0] ? rc->status : "-",
		rc != NULL ? rc->diag : "");
	copy_utf8(d->reply, reply, sizeof(d->reply));
	return k == BOUNCE_HARD ? BOUNCE_OUT_BOUNCED : BOUNCE_OUT_DEFERRED;
}

/* The store's side of a bounce whose return path holds. */
static enum bounce_outcome apply(struct bounce_reader *br, const struct bounce_result *r,
				 int64_t now, struct error *e)
{
	struct store_txn *t = NULL;
	struct delivery d;
	enum bounce_outcome o;
	int rc;

	if (store_begin(br->st, 1, &t, e) < 0)
		return BOUNCE_OUT_LATER;
	rc = delivery_get(t, r->verp.batch, r->verp.seq, &d, e);
	if (rc != 0) {
		store_abort(&t);
		return rc > 0 ? BOUNCE_OUT_UNKNOWN : BOUNCE_OUT_LATER;
	}
	o = decide(r->kind, deciding_rcpt(r), &d, now);
	if (o != BOUNCE_OUT_BOUNCED && o != BOUNCE_OUT_DEFERRED) {
		store_abort(&t);
		if (o == BOUNCE_OUT_LATER)
			err_tmp(e, "the delivery is being sent (%s): read again later",
				delivery_state_name(d.state));
		return o;
	}
	if (delivery_put(t, &d, e) < 0 ||
	    add_event(t, &d, o == BOUNCE_OUT_BOUNCED ? EV_BOUNCED : EV_DEFERRED, now, e) < 0 ||
	    store_commit(&t, e) < 0) {
		store_abort(&t);
		return BOUNCE_OUT_LATER;
	}
	return o;
}

/* Whether the return path is ours: present, well formed, our domain. */
static int our_verp(const struct bounce_reader *br, const struct bounce_verp *v)
{
	const char *at = strrchr(v->addr, '@');
	return v->present && v->valid && at != NULL && strcasecmp(at + 1, br->domain) == 0;
}

static void log_outcome(const struct bounce_result *r, enum bounce_outcome o,
			const struct error *e)
{
	const struct bounce_rcpt *rc = deciding_rcpt(r);
	char q[ERR_MAX + 8];

	if (o == BOUNCE_OUT_LATER) {
		log_warn("event=bounce outcome=later kind=%s batch=%" PRIu64 " seq=%" PRIu32 " reason=%s",
			 bounce_kind_name(r->kind), r->verp.batch, r->verp.seq,
			 log_quote(e->msg, q, sizeof(q)));
		return;
	}
	if (r->verp.valid && o != BOUNCE_OUT_NO_VERP)
		log_info("event=bounce outcome=%s kind=%s format=%s status=%s batch=%" PRIu64
			 " seq=%" PRIu32,
			 bounce_outcome_name(o), bounce_kind_name(r->kind),
			 r->format[0] ? r->format : "-", rc != NULL && rc->status[0] ? rc->status : "-",
			 r->verp.batch, r->verp.seq);
	else
		log_info("event=bounce outcome=%s kind=%s format=%s", bounce_outcome_name(o),
			 bounce_kind_name(r->kind), r->format[0] ? r->format : "-");
}

int bounce_reader_message(struct bounce_reader *br, const uint8_t *data, size_t len, int64_t now,
			  enum bounce_outcome *out, struct error *e)
{
	struct bounce_result *r;
	enum bounce_outcome o;
	int valid = 0;

	if (br == NULL || out == NULL || (data == NULL && len > 0))
		return err_set(e, "bounce_reader_message: bad argument");
	r = xmalloc(sizeof(*r));
	if (bounce_parse(data, len, r, e) < 0) {
		free(r);
		return -1;
	}
	if (r->kind == BOUNCE_NOT)
		o = BOUNCE_OUT_NOT_BOUNCE;
	else if (!our_verp(br, &r->verp))
		o = BOUNCE_OUT_NO_VERP;
	else if (verp_check(store_keys(br->st), &r->verp, &valid, e) < 0)
		o = BOUNCE_OUT_LATER;
	else if (!valid)
		o = BOUNCE_OUT_FORGED;
	else
		o = apply(br, r, now, e);
	log_outcome(r, o, e);
	br->counts[o]++;
	*out = o;
	free(r);
	return 0;
}

/* ---- IMAP ---- */

static enum imap_mailbox_action on_imap(void *arg, const struct imap_mailbox_msg *m,
					size_t *folder)
{
	struct bounce_reader *br = arg;
	struct error e = { { 0 }, 0 };
	enum bounce_outcome o = BOUNCE_OUT_TOO_BIG;

	if (m->data == NULL) {
		log_warn("event=bounce outcome=too_big uid=%u size=%zu", m->uid, m->size);
		br->counts[o]++;
	} else if (bounce_reader_message(br, m->data, m->len, now_utc(), &o, &e) < 0) {
		return IMAP_MAILBOX_KEEP;
	}
	switch (bounce_outcome_processed(o)) {
	case 1:
		*folder = FOLDER_PROCESSED;
		return IMAP_MAILBOX_MOVE;
	case 0:
		*folder = FOLDER_ASIDE;
		return IMAP_MAILBOX_MOVE;
	default:
		return IMAP_MAILBOX_KEEP;
	}
}

static int imap_open(struct bounce_reader *br, const struct conf *c, struct error *e)
{
	struct imap_mailbox_config mc;
	const char *envname = conf_str(c, "mail", "bounce_imap_password_env");
	const char *user = conf_str(c, "mail", "bounce_imap_user");
	const char *pw;

	memset(&mc, 0, sizeof(mc));
	mc.url = conf_str(c, "mail", "bounce_imap_url");
	if (mc.url[0] == '\0')
		return 0;
	if (user[0] == '\0' || strlen(user) >= 256)
		return err_set(e, "[mail] bounce_imap_user is empty or too long");
	if (envname[0] == '\0' || (pw = getenv(envname)) == NULL || pw[0] == '\0')
		return err_set(e, "the IMAP password variable named by [mail] bounce_imap_password_env is not set");
	mc.url_setting = "[mail] bounce_imap_url";
	mc.mailbox = conf_str(c, "mail", "bounce_imap_mailbox");
	mc.mailbox_setting = "[mail] bounce_imap_mailbox";
	mc.user = user;
	mc.password = pw;
	mc.folders[FOLDER_PROCESSED] = (struct imap_mailbox_folder){
		br->folder[FOLDER_PROCESSED], "[mail] bounce_imap_processed", "processed" };
	mc.folders[FOLDER_ASIDE] = (struct imap_mailbox_folder){
		br->folder[FOLDER_ASIDE], "[mail] bounce_imap_aside", "aside" };
	mc.nfolders = FOLDER_COUNT;
	mc.max_size = br->max_size;
	mc.poll_ms = br->poll_s * 1000;
	return imap_mailbox_new(&mc, on_imap, br, &br->mb, e);
}

/* ---- the reader ---- */

int bounce_reader_new(const struct conf *c, struct store *st, struct bounce_reader **out,
		      struct error *e)
{
	struct bounce_reader *br = xcalloc(1, sizeof(*br));

	*out = NULL;
	br->st = st;
	br->max_size = (size_t)conf_int(c, "limits", "message_size");
	br->poll_s = conf_int(c, "mail", "imap_poll");
	if (bounce_reader_domain(c, br->domain, sizeof(br->domain), e) < 0 ||
	    read_folders(c, br->folder, e) < 0 ||
	    bounce_reader_prepare(c, br->maildir, sizeof(br->maildir), e) < 0 ||
	    imap_open(br, c, e) < 0) {
		bounce_reader_free(&br);
		return -1;
	}
	*out = br;
	return 0;
}

void bounce_reader_free(struct bounce_reader **pbr)
{
	struct bounce_reader *br = pbr != NULL ? *pbr : NULL;
	if (br == NULL)
		return;
	imap_mailbox_free(&br->mb);
	free(br);
	*pbr = NULL;
}

int bounce_reader_enabled(const struct bounce_reader *br)
{
	return br != NULL && (br->mb != NULL || br->maildir[0] != '\0');
}

size_t bounce_reader_count(const struct bounce_reader *br, enum bounce_outcome o)
{
	return br != NULL && (unsigned)o < BOUNCE_OUT_COUNT ? br->counts[o] : 0;
}

/* ---- the Maildir ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The visible entries of dir, sorted; caller frees.  -1 when dir cannot be opened. */
static int list_names(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && *n < MAILDIR_PASS_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 0)
		qsort(*out, *n, sizeof(**out), name_cmp);
	return 0;
}

/*
 * Move src (a file named name) into the cur/ of sub-folder which, marked
 * seen; a name already taken there gets ".1", ".2" ... before its info.
 * A rename that never replaces a file (RENAME_NOREPLACE), so nothing is
 * lost; where the file system cannot, link(2) then unlink(2) (link is
 * refused for a file of another owner under protected_hardlinks, as when
 * the MTA delivers as another user, which the rename is not).
 */
static int maildir_move(struct bounce_reader *br, const char *src, const char *name, int which,
			struct error *e)
{
	char base[512], dst[4800];
	const char *info = strstr(name, ":2,");
	size_t bl = info != NULL ? (size_t)(info - name) : strlen(name);

	if (bl >= sizeof(base))
		bl = sizeof(base) - 1;
	memcpy(base, name, bl);
	base[bl] = '\0';
	for (unsigned i = 0; i < 100; i++) {
		char num[16] = "";
		if (i > 0)
			str_fmt(num, sizeof(num), ".%u", i);
		if (str_fmt(dst, sizeof(dst), "%s/.%s/cur/%s%s%s", br->maildir, br->folder[which],
			    base, num, info != NULL ? info : ":2,S") < 0)
			return err_set(e, "bounce Maildir: path too long");
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOSYS) {
			/* EEXIST: try the next name; anything else is the error. */
		} else if (link(src, dst) == 0) {
			if (unlink(src) < 0 && errno != ENOENT)
				return err_tmp(e, "bounce Maildir: cannot remove a moved message: %s",
					       strerror(errno));
			return 0;
		}
		if (errno != EEXIST)
			return err_tmp(e, "bounce Maildir: cannot move a message to .%s: %s",
				       br->folder[which], strerror(errno));
	}
	return err_tmp(e, "bounce Maildir: no free name in .%s", br->folder[which]);
}

/* One file of the Maildir: 1 moved, 0 left (later, or not a message), -1 error. */
static int maildir_one(struct bounce_reader *br, const char *dir, const char *name,
		       struct error *e)
{
	char path[4400];
	struct stat sb;
	uint8_t *data = NULL;
	size_t len = 0;
	enum bounce_outcome o;
	int where;
	struct error re = { { 0 }, 0 };

	if (str_fmt(path, sizeof(path), "%s/%s", dir, name) < 0 || lstat(path, &sb) < 0 ||
	    !S_ISREG(sb.st_mode))
		return 0; /* gone meanwhile, a folder or a link: not ours to read */
	if ((uint64_t)sb.st_size > br->max_size) {
		o = BOUNCE_OUT_TOO_BIG;
		log_warn("event=bounce outcome=too_big source=maildir size=%jd", (intmax_t)sb.st_size);
		br->counts[o]++;
	} else if (file_read_all(path, br->max_size, &data, &len, &re) < 0) {
		return 0; /* changed under us: the next pass */
	} else {
		int rc = bounce_reader_message(br, data, len, now_utc(), &o, e);
		free(data);
		if (rc < 0)
			return -1;
	}
	where = bounce_outcome_processed(o);
	if (where < 0)
		return 0;
	if (maildir_move(br, path, name, where == 1 ? FOLDER_PROCESSED : FOLDER_ASIDE, e) < 0)
		return -1;
	return 1;
}

int bounce_reader_poll(struct bounce_reader *br, size_t *handled, struct error *e)
{
	static const char *const subs[] = { "new", "cur" };
	int ret = 0;

	*handled = 0;
	if (br->maildir[0] == '\0')
		return 0;
	br->last_poll = now_utc();
	for (size_t s = 0; s < ARRAY_SIZE(subs) && ret == 0; s++) {
		char dir[4200], **names;
		size_t n;
		if (str_fmt(dir, sizeof(dir), "%s/%s", br->maildir, subs[s]) < 0 ||
		    list_names(dir, &names, &n) < 0) {
			ret = err_tmp(e, "cannot read the bounce Maildir %s/%s", br->maildir, subs[s]);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			int rc = ret == 0 ? maildir_one(br, dir, names[i], e) : 0;
			if (rc < 0)
				ret = -1;
			else if (rc > 0)
				(*handled)++;
			free(names[i]);
		}
		free(names);
	}
	return ret;
}

/* ---- the main loop's call ---- */

int bounce_reader_step(struct bounce_reader *br, int timeout_ms, struct error *e)
{
	int ret = 0;

	if (br == NULL)
		return 0;
	if (br->maildir[0] != '\0' &&
	    (br->last_poll == 0 || now_utc() - br->last_poll >= br->poll_s)) {
		size_t n = 0;
		ret = bounce_reader_poll(br, &n, e);
	}
	/* A Maildir that cannot be read does not keep the IMAP mailbox waiting;
	 * the first error is the one reported. */
	if (br->mb != NULL) {
		struct error ie = { { 0 }, 0 };
		if (imap_mailbox_step(br->mb, timeout_ms, ret < 0 ? &ie : e) < 0)
			ret = -1;
	}
	return ret;
}

int bounce_reader_fd(const struct bounce_reader *br)
{
	return br != NULL && br->mb != NULL ? imap_mailbox_fd(br->mb) : -1;
}

int bounce_reader_next_ms(const struct bounce_reader *br)
{
	int64_t ms = INT32_MAX, left;

	if (br == NULL)
		return ms;
	if (br->maildir[0] != '\0') {
		left = br->last_poll == 0 ? 0 : (br->last_poll + br->poll_s - now_utc()) * 1000;
		ms = left < 0 ? 0 : left;
	}
	if (br->mb != NULL) {
		int m = imap_mailbox_next_ms(br->mb);
		if (m < ms)
			ms = m;
	}
	return (int)ms;
}
