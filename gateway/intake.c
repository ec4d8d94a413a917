/*
 * intake.c — one input, one batch, exactly once (see intake.h).
 * Runs in the gateway process.  Standards: RFC 5322 (the reply), RFC 8601
 * (Authentication-Results), Maildir (the outbox the mailer delivers from).
 */
#include "gateway/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "conf.h"
#include "crypt.h"
#include "gateway/batch.h"
#include "gateway/folder.h"
#include "gateway/mime.h"
#include "gateway/settings.h"
#include "log.h"
#include "staff.h"
#include "store.h"

struct intake {
	struct store *st;
	const struct signer *signer;
	const struct conf *c;
	char outbox[4096];
	char from[256];
	char trusted[256];
	struct mime_limits lim;
};

const char *intake_outcome_name(enum intake_outcome o)
{
	static const char *const names[] = { "stored", "duplicate", "refused", "dropped", "tempfail" };
	return (unsigned)o < ARRAY_SIZE(names) ? names[o] : "?";
}

int intake_new(struct store *st, const struct signer *signer, const struct conf *c,
	       struct intake **out, struct error *e)
{
	struct intake *in = xcalloc(1, sizeof(*in));
	in->st = st;
	in->signer = signer;
	in->c = c;
	if (conf_path(c, "paths", "outbox_maildir", in->outbox, sizeof(in->outbox)) < 0) {
		free(in);
		return err_set(e, "outbox path too long");
	}
	str_copy(in->from, conf_str(c, "mail", "from"), sizeof(in->from));
	str_copy(in->trusted, conf_str(c, "mail", "trusted_authserv"), sizeof(in->trusted));
	in->lim.max_message = (size_t)conf_int(c, "limits", "message_size");
	in->lim.max_attachments = (size_t)conf_int(c, "limits", "attachments");
	in->lim.max_depth = (size_t)conf_int(c, "limits", "mime_depth");
	in->lim.max_parts = (size_t)conf_int(c, "limits", "mime_parts");
	g_mime_init();
	*out = in;
	return 0;
}

void intake_free(struct intake **in)
{
	free(*in);
	*in = NULL;
}

/* ---- the reply, queued in the outbox Maildir ---- */

static int maildir_deliver(const char *maildir, const char *text, size_t len, struct error *e)
{
	char name[128], tmp[4200], dst[4200];
	uint8_t r[8];
	char hex[17];

	random_bytes(r, sizeof(r));
	hex_encode(r, sizeof(r), hex);
	str_fmt(name, sizeof(name), "%lld.P%ldR%s.tayori", (long long)now_utc(), (long)getpid(), hex);
	if (str_fmt(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name) < 0 ||
	    str_fmt(dst, sizeof(dst), "%s/new/%s", maildir, name) < 0)
		return err_set(e, "outbox path too long");
	/* tmp/ then rename into new/: a reader never sees half a message. */
	if (file_write_atomic(tmp, text, len, 0600, e) < 0)
		return -1;
	if (rename(tmp, dst) < 0) {
		unlink(tmp);
		return err_tmp(e, "cannot queue the reply: %s", strerror(errno));
	}
	return 0;
}

static void send_reply(struct intake *in, const char *to, const char *in_reply_to,
		       const char *subject, const char *text)
{
	GMimeMessage *msg = g_mime_message_new(TRUE);
	GMimeTextPart *body = g_mime_text_part_new_with_subtype("plain");
	GDateTime *now = g_date_time_new_now_utc();
	struct error e = { { 0 }, 0 };
	char *wire;

	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, "tayori", in->from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, to);
	g_mime_message_set_subject(msg, subject, "utf-8");
	g_mime_message_set_date(msg, now);
	{
		uint8_t r[12];
		char hex[25], mid[64];
		random_bytes(r, sizeof(r));
		hex_encode(r, sizeof(r), hex);
		str_fmt(mid, sizeof(mid), "%s@tayori", hex);
		g_mime_message_set_message_id(msg, mid);
	}
	if (in_reply_to != NULL && *in_reply_to != '\0' && strpbrk(in_reply_to, "\r\n<>") == NULL) {
		char ref[1024];
		if (str_fmt(ref, sizeof(ref), "<%s>", in_reply_to) >= 0) {
			g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", ref, NULL);
			g_mime_object_set_header(GMIME_OBJECT(msg), "References", ref, NULL);
		}
	}
	/* Replies about a batch must never start an auto-reply loop (RFC 3834). */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-replied", NULL);
	g_mime_text_part_set_text(body, text);
	g_mime_part_set_content_encoding(GMIME_PART(body), GMIME_CONTENT_ENCODING_BASE64);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(body));
	wire = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
	if (wire == NULL || maildir_deliver(in->outbox, wire, strlen(wire), &e) < 0)
		log_err("event=reply_not_queued reason=\"%s\"", e.msg[0] ? e.msg : "cannot build it");
	g_free(wire);
	g_date_time_unref(now);
	g_object_unref(body);
	g_object_unref(msg);
}

/* ---- bookkeeping ---- */

static int seen_before(struct intake *in, const uint8_t id[32], struct error *e)
{
	struct store_txn *t = NULL;
	const void *v;
	size_t vl;
	int r;
	if (store_begin(in->st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_INTAKE, id, 32, &v, &vl, e);
	store_abort(&t);
	return r < 0 ? -1 : r == 0;
}

/* Remember an input that made no batch, with an audit record, so that it is
 * answered once and only moved along if it is seen again. */
static int remember(struct intake *in, const uint8_t id[32], const char *actor, const char *action,
		    const char *source, const char *why, struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t none[8] = { 0 };
	struct audit_entry a = { actor, action, "", source, why };
	if (store_begin(in->st, 1, &t, e) < 0)
		return -1;
	if (store_put_new(t, DB_INTAKE, id, 32, none, sizeof(none), e) < 0 ||
	    audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0) {
		store_abort(&t);
		return -1;
	}
	return 0;
}

/* Does a trusted Authentication-Results line report a failure? */
static int auth_failed(const struct intake *in, const char *results)
{
	const char *line = results;
	size_t n = strlen(in->trusted);
	if (n == 0 || results == NULL)
		return 0;
	while (line != NULL && *line != '\0') {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		char buf[2048];
		str_copy(buf, line, len + 1 < sizeof(buf) ? len + 1 : sizeof(buf));
		while (buf[0] == ' ' || buf[0] == '\t')
			memmove(buf, buf + 1, strlen(buf));
		/* Only the line our own MTA added counts: "authserv-id; method=result ..." */
		if (strncmp(buf, in->trusted, n) == 0 && (buf[n] == ';' || buf[n] == ' ')) {
			char *low = g_ascii_strdown(buf, -1);
			int bad = strstr(low, "dkim=fail") || strstr(low, "spf=fail") ||
				  strstr(low, "dmarc=fail") || strstr(low, "spf=softfail");
			g_free(low);
			if (bad)
				return 1;
		}
		line = eol ? eol + 1 : NULL;
	}
	return 0;
}

enum intake_outcome intake_message(struct intake *in, const uint8_t *raw, size_t len,
				   const char *source, uint64_t *batch, struct error *e)
{
	struct mime_message *m = NULL;
	struct staff s;
	struct batch_settings set;
	struct batch_input bi;
	struct batch_report rep;
	struct batch_files f;
	struct error pe = { { 0 }, 0 };
	uint8_t id[32];
	char actor[32], subject[600], *text = NULL;
	size_t tlen = 0;
	enum intake_outcome out = INTAKE_TEMPFAIL;
	int r;

	memset(&set, 0, sizeof(set));
	memset(&rep, 0, sizeof(rep));
	memset(&f, 0, sizeof(f));
	*batch = 0;
	crypt_sha256(raw, len, id);
	r = seen_before(in, id, e);
	if (r < 0)
		return INTAKE_TEMPFAIL;
	if (r == 1) {
		log_info("event=intake outcome=duplicate source=%s", source);
		return INTAKE_DUPLICATE;
	}
	if (mime_parse(raw, len, &in->lim, &m, &pe) < 0 || m->from_addr == NULL) {
		/* Without a sender we know, nobody can be told: drop it. */
		log_warn("event=intake outcome=dropped source=%s reason=unreadable", source);
		out = remember(in, id, "system", "intake.drop", source, "unreadable message", e) < 0
			      ? INTAKE_TEMPFAIL : INTAKE_DROPPED;
		goto done;
	}
	r = staff_find_email(in->st, m->from_addr, &s, e);
	if (r < 0)
		goto done;
	if (r == 1 || s.disabled || !(s.perms & PERM_SUBMIT) || auth_failed(in, m->auth_results)) {
		const char *why = r == 1 ? "unknown sender" : s.disabled ? "disabled account"
				  : !(s.perms & PERM_SUBMIT) ? "no submit permission"
							     : "authentication failed";
		log_warn("event=intake outcome=dropped source=%s reason=\"%s\"", source, why);
		out = remember(in, id, "system", "intake.drop", source, why, e) < 0 ? INTAKE_TEMPFAIL
										  : INTAKE_DROPPED;
		goto done;
	}
	str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)s.id);

	if (batch_files_add_mime(&f, m, e) < 0)
		;
	else if (f.ncsv != 1)
		err_set(e, f.ncsv == 0 ? "the message has no recipients CSV (a .csv attachment)"
				       : "the message has %zu CSV attachments; send exactly one", f.ncsv);
	else if (settings_parse(f.message ? f.message : "", &set, e) == 0)
		goto submit;
	/* Refused before matching: tell the sender why. */
	out = INTAKE_REFUSED;
	goto refuse;

submit:
	batch_files_input(&bi, &f, &set, in->c, NULL, actor, source);
	bi.intake_id = id;
	if (in->signer == NULL) {
		err_tmp(e, "no signing credential is available");
		goto done;
	}
	if (batch_submit(in->st, in->signer, &bi, &rep, e) < 0) {
		if (e->temporary) {
			if (seen_before(in, id, &pe) == 1) {
				out = INTAKE_DUPLICATE;
				goto done;
			}
			log_warn("event=intake outcome=tempfail source=%s reason=\"%s\"", source, e->msg);
			goto done;
		}
		out = INTAKE_REFUSED;
		goto refuse;
	}
	*batch = rep.batch;
	out = INTAKE_STORED;
	{
		FILE *fp = open_memstream(&text, &tlen);
		if (fp != NULL) {
			fprintf(fp, "一括送信を受け付けました。承認されるまで区民には送信されません。\n"
				   "Your batch was received. Nothing is sent to residents until it is approved.\n\n"
				   "通知名 / title: %s\n\n", bi.title);
			batch_report_text(&rep, fp);
			fprintf(fp, "\n承認方法: ダッシュボードで承認するか、管理者が `tayori batch approve %llu` を実行します。\n"
				   "To approve: use the dashboard, or an administrator runs `tayori batch approve %llu`.\n",
				(unsigned long long)rep.batch, (unsigned long long)rep.batch);
			fclose(fp);
		}
		str_fmt(subject, sizeof(subject), "[tayori] 受付 %llu: %s", (unsigned long long)rep.batch,
			bi.title);
		if (text != NULL)
			send_reply(in, s.email, m->message_id, subject, text);
	}
	log_info("event=intake outcome=stored source=%s batch=%llu actor=%s", source,
		 (unsigned long long)rep.batch, actor);
	goto done;

refuse:
	{
		char why[ERR_MAX];
		FILE *fp;
		str_copy(why, e->msg, sizeof(why));
		if (remember(in, id, actor, "intake.refuse", source, "refused", e) < 0) {
			out = INTAKE_TEMPFAIL;
			goto done;
		}
		fp = open_memstream(&text, &tlen);
		if (fp != NULL) {
			fprintf(fp, "一括送信を受け付けできませんでした。何も保存されていません。\n"
				   "Your batch was refused; nothing was stored.\n\n理由 / reason:\n  %s\n", why);
			fclose(fp);
		}
		str_fmt(subject, sizeof(subject), "[tayori] 受付できませんでした: %s",
			m->subject && *m->subject ? m->subject : "(件名なし)");
		if (text != NULL)
			send_reply(in, s.email, m->message_id, subject, text);
		log_info("event=intake outcome=refused source=%s actor=%s", source, actor);
		str_copy(e->msg, why, sizeof(e->msg));
	}
done:
	free(text);
	batch_files_free(&f);
	settings_free(&set);
	batch_report_free(&rep);
	mime_message_free(&m);
	secure_wipe(&s, sizeof(s));
	return out;
}

enum intake_outcome intake_folder(struct intake *in, const char *path, const char *source,
				  uint64_t *batch, struct error *e)
{
	struct batch_files f;
	struct batch_settings set;
	struct batch_input bi;
	struct batch_report rep;
	size_t total = 0;
	uint8_t id[32];
	int have_id = 0;
	enum intake_outcome out = INTAKE_TEMPFAIL;
	int r;

	memset(&f, 0, sizeof(f));
	memset(&set, 0, sizeof(set));
	memset(&rep, 0, sizeof(rep));
	*batch = 0;
	if (batch_files_add_folder(&f, path, in->lim.max_message, &total, e) < 0) {
		out = e->temporary ? INTAKE_TEMPFAIL : INTAKE_REFUSED;
		goto done;
	}
	/* The folder's identity: its files' names and contents, in name order. */
	batch_files_identity(&f, id);
	have_id = 1;
	r = seen_before(in, id, e);
	if (r != 0) {
		out = r < 0 ? INTAKE_TEMPFAIL : INTAKE_DUPLICATE;
		goto done;
	}
	if (f.ncsv != 1) {
		err_set(e, f.ncsv == 0 ? "the folder has no recipients CSV (a .csv file)"
				       : "the folder has %zu CSV files; give exactly one", f.ncsv);
		out = INTAKE_REFUSED;
		goto done;
	}
	if (settings_parse(f.message ? f.message : "", &set, e) < 0) {
		out = INTAKE_REFUSED;
		goto done;
	}
	batch_files_input(&bi, &f, &set, in->c, NULL, "drop", source);
	bi.intake_id = id;
	if (in->signer == NULL) {
		err_tmp(e, "no signing credential is available");
		goto done;
	}
	if (batch_submit(in->st, in->signer, &bi, &rep, e) < 0) {
		struct error pe = { { 0 }, 0 };
		if (e->temporary)
			out = seen_before(in, id, &pe) == 1 ? INTAKE_DUPLICATE : INTAKE_TEMPFAIL;
		else
			out = INTAKE_REFUSED;
		goto done;
	}
	*batch = rep.batch;
	out = INTAKE_STORED;
done:
	if (out == INTAKE_REFUSED && have_id) {
		struct error re = { { 0 }, 0 };
		if (remember(in, id, "drop", "intake.refuse", source, "refused", &re) < 0)
			out = INTAKE_TEMPFAIL;
	}
	log_info("event=intake outcome=%s source=%s batch=%llu", intake_outcome_name(out), source,
		 (unsigned long long)*batch);
	settings_free(&set);
	batch_report_free(&rep);
	batch_files_free(&f);
	return out;
}
