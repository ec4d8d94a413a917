/*
 * intake_upload.c — batches uploaded from the staff dashboard
 * (lib/upload.h): each pending upload is unsealed, its files and
 * message.txt made into a batch's files exactly as a dropped folder's
 * are, and taken by intake_files() (intake.h) with the staff member who
 * uploaded as the submitter (actor "staff:N", source "web"); then its
 * result — the matching report, the batch it already made, or why it was
 * refused — replaces it in one commit, for the portal to show.  The
 * gateway checks again what the portal checked (the staff member may
 * still submit; the intake limits), since the portal runs at another
 * trust level.  A temporary failure leaves the upload pending for the
 * next look.  Runs in the gateway process.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "gateway/batch.h"
#include "gateway/folder.h"
#include "gateway/intake.h"
#include "gateway/settings.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/staff.h"
#include "lib/store.h"
#include "lib/upload.h"

#define UPLOAD_RETRY_S 60  /* after a temporary failure, look again this much later */
#define UPLOAD_SWEEP_S 600 /* results past UPLOAD_RESULT_KEEP go at most this often */

/* Each list of the report into the result, in upload_list_names' order. */
static void copy_report(struct upload_result *r, const struct batch_report *rep)
{
	const struct strlist *l[UPLOAD_LISTS] = {
		&rep->unmatched_pdf_keys, &rep->csv_rows_without_pdf, &rep->invalid_emails,
		&rep->no_email_rows,      &rep->duplicate_keys,       &rep->repeated_pdf_keys,
		&rep->rows_held,          &rep->held_pdf_keys,        &rep->removed_active_content,
		&rep->preview,
	};
	for (size_t i = 0; i < UPLOAD_LISTS; i++)
		for (size_t j = 0; j < l[i]->n; j++)
			upload_result_add(r, i, l[i]->v[j]);
	r->batch = rep->batch;
	r->test = rep->test;
	r->recipients = rep->recipients;
	r->matched = rep->matched;
	r->signed_pdfs = rep->signed_pdfs;
	str_copy(r->split, rep->split_rule, sizeof(r->split));
	str_copy(r->key_column, rep->key_column, sizeof(r->key_column));
	str_copy(r->name_column, rep->name_column, sizeof(r->name_column));
	str_copy(r->email_column, rep->email_column, sizeof(r->email_column));
	str_copy(r->encoding, rep->encoding, sizeof(r->encoding));
}

/* The batch an input already made (DB_INTAKE; 0: it was refused before). */
static uint64_t taken_as(struct store *st, const struct batch_files *f)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	const void *v;
	size_t vl;
	uint8_t id[32];
	uint64_t b = 0;

	batch_files_identity(f, id);
	if (store_begin(st, 0, &t, &e) < 0)
		return 0;
	if (store_get(t, DB_INTAKE, id, 32, &v, &vl, &e) == 0 && vl == 8)
		b = be64_get(v);
	store_abort(&t);
	return b;
}

/* The files of u as a dropped folder's; -1 (e says why) over the limits. */
static int files_of(const struct upload *u, const struct conf *c, struct batch_files *f,
		    size_t *total, struct error *e)
{
	size_t max = (size_t)conf_int(c, "limits", "message_size");
	size_t most = (size_t)conf_int(c, "limits", "attachments");

	*total = 0;
	if (u->nfiles > most)
		return err_set(e, "the upload has %zu files; the limit is %zu ([limits] attachments)",
			       u->nfiles, most);
	for (size_t i = 0; i < u->nfiles; i++) {
		uint8_t *copy;
		if (u->files[i].len > max - *total)
			return err_set(e, "the upload is larger than the limit of %zu bytes ([limits] message_size)",
				       max);
		*total += u->files[i].len;
		copy = xmalloc(u->files[i].len + 1);
		memcpy(copy, u->files[i].data, u->files[i].len);
		copy[u->files[i].len] = '\0';
		batch_files_add_bytes(f, u->files[i].name, copy, u->files[i].len);
	}
	f->message = xstrdup(u->message);
	return 0;
}

/* The title the batch gets (or would have got), for the page. */
static void title_of(const char *message, struct upload_result *r)
{
	struct batch_settings set;
	struct error e = { { 0 }, 0 };
	if (settings_parse(message, &set, &e) == 0 && set.title != NULL)
		str_copy(r->title, set.title, sizeof(r->title));
	else
		str_copy(r->title, "お知らせ", sizeof(r->title));
	settings_free(&set);
}

/* May staff member id still submit?  NULL when so, else why not; email
 * gets the member's address (where a test batch goes). */
static const char *may_submit(struct store *st, uint64_t id, char *email, size_t emailsize,
			      int *tmp)
{
	struct staff s;
	struct error e = { { 0 }, 0 };
	int k = staff_get(st, id, &s, &e);
	const char *why = k < 0 ? "" : k == 1 ? "the uploader is not a staff member"
			  : s.disabled ? "the uploader's account is disabled"
			  : !(s.perms & PERM_SUBMIT) ? "the uploader no longer has the submit permission"
						     : NULL;
	*tmp = k < 0;
	str_copy(email, k == 0 ? s.email : "", emailsize);
	secure_wipe(&s, sizeof(s));
	return why;
}

/* A refusal before intake_files() (who, the limits): audited here, since
 * intake did not see it.  why has no personal data. */
static void audit_refusal(struct store *st, const char *actor, uint64_t id, const char *why)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	char target[40];
	struct audit_entry a = { actor, "upload.refuse", target, "web", why };

	str_fmt(target, sizeof(target), "upload:%llu", (unsigned long long)id);
	if (store_begin(st, 1, &t, &e) < 0 || audit_append(t, &a, NULL, &e) < 0 ||
	    store_commit(&t, &e) < 0) {
		store_abort(&t);
		log_err("event=upload_refusal_not_audited upload=%llu reason=\"%s\"",
			(unsigned long long)id, e.msg);
	}
}

/* One pending upload: 0 finished, 1 left pending (a temporary failure). */
static int take_one(struct intake *in, struct store *st, const struct conf *c, uint64_t id)
{
	struct upload u;
	struct upload_result res;
	struct batch_files f;
	struct batch_report rep;
	struct error e = { { 0 }, 0 };
	char actor[32];
	enum intake_outcome o = INTAKE_REFUSED;
	size_t total = 0;
	uint64_t batch = 0;
	const char *why;
	int tmp = 0, r = 1, taken = 0; /* taken: intake_files() saw it (and audited it) */

	memset(&f, 0, sizeof(f));
	memset(&rep, 0, sizeof(rep));
	memset(&res, 0, sizeof(res));
	if (upload_read(st, id, &u, &e) != 0) {
		if (e.msg[0] != '\0')
			log_err("event=upload_unreadable upload=%llu reason=\"%s\"", (unsigned long long)id, e.msg);
		return 1;
	}
	str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)u.staff);
	res.id = id;
	res.staff = u.staff;
	res.created = u.created;
	title_of(u.message, &res);
	why = may_submit(st, u.staff, f.submitter, sizeof(f.submitter), &tmp);
	if (tmp)
		goto out;
	if (why != NULL)
		err_set(&e, "%s", why);
	else if (files_of(&u, c, &f, &total, &e) == 0)
		o = intake_files(in, &f, total, actor, "web", &batch, &rep, &e), taken = 1;
	if (o == INTAKE_REFUSED && !taken)
		audit_refusal(st, actor, id, e.msg);
	if (o == INTAKE_TEMPFAIL) {
		log_warn("event=upload outcome=tempfail upload=%llu reason=\"%s\"", (unsigned long long)id, e.msg);
		goto out;
	}
	str_copy(res.outcome, o == INTAKE_STORED ? "stored" : o == INTAKE_DUPLICATE ? "duplicate" : "refused",
		 sizeof(res.outcome));
	if (o == INTAKE_STORED)
		copy_report(&res, &rep);
	else if (o == INTAKE_DUPLICATE)
		res.batch = taken_as(st, &f);
	else
		str_copy(res.error, e.msg, sizeof(res.error));
	res.done = now_utc();
	if (upload_finish(st, &res, &e) < 0) {
		log_err("event=upload_not_finished upload=%llu reason=\"%s\"", (unsigned long long)id, e.msg);
		goto out;
	}
	log_info("event=upload outcome=%s upload=%llu batch=%llu actor=%s", res.outcome,
		 (unsigned long long)id, (unsigned long long)res.batch, actor);
	r = 0;
out:
	batch_report_free(&rep);
	batch_files_free(&f);
	upload_result_free(&res);
	upload_clear(&u);
	return r;
}

/* The portal's nudges (empty files named by upload id) are spent once
 * the store has been looked at. */
static void clear_nudges(const char *data_dir)
{
	char dir[4200], p[4400];
	DIR *d;
	struct dirent *de;

	if (str_fmt(dir, sizeof(dir), "%s/%s", data_dir, UPLOAD_NUDGE_DIR) < 0 ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && str_fmt(p, sizeof(p), "%s/%s", dir, de->d_name) >= 0)
			unlink(p);
	closedir(d);
}

void intake_uploads(struct intake *in, struct store *st, const struct conf *c,
		    const char *data_dir, int nudged)
{
	static int64_t hold_until, last_sweep;
	struct error e = { { 0 }, 0 };
	uint64_t *ids = NULL;
	size_t n = 0, swept = 0;

	if (nudged)
		clear_nudges(data_dir);
	else if (now_utc() < hold_until)
		return;
	if (upload_pending(st, &ids, &n, &e) < 0) {
		log_err("event=upload_scan_failed reason=\"%s\"", e.msg);
		return;
	}
	hold_until = 0;
	for (size_t i = 0; i < n; i++)
		if (take_one(in, st, c, ids[i]) != 0)
			hold_until = now_utc() + UPLOAD_RETRY_S;
	free(ids);
	if (now_utc() - last_sweep >= UPLOAD_SWEEP_S) {
		last_sweep = now_utc();
		if (upload_sweep(st, last_sweep, &swept, &e) < 0)
			log_err("event=upload_sweep_failed reason=\"%s\"", e.msg);
		else if (swept > 0)
			log_info("event=upload_results_swept count=%zu", swept);
	}
}
