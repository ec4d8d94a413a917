/*
 * intake.c — one input, one batch, exactly once (see intake.h): the
 * identity and attempt bookkeeping, who may submit, poison inputs, and a
 * message or a folder taken into a batch.  The sealed copies of refused
 * inputs are intake_kept.c, the replies to staff intake_reply.c.
 * Runs in the gateway process.  Standards: RFC 8601 (Authentication-Results).
 */
#include "gateway/intake.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/audit.h"
#include "conf/conf.h"
#include "lib/crypt.h"
#include "gateway/batch.h"
#include "gateway/folder.h"
#include "gateway/intake_int.h"
#include "gateway/mime.h"
#include "gateway/settings.h"
#include "lib/log.h"
#include "lib/rec.h"
#include "lib/staff.h"
#include "lib/store.h"

struct intake {
	struct store *st;
	const struct signer *signer;
	const struct conf *c;
	char outbox[4096];
	char from[256];
	char trusted[256];
	struct mime_limits lim;
	int64_t keep_rejected; /* seconds a refused input stays sealed; 0 = not kept */
	char poison_mid[1000];  /* Message-ID a poison reply answers */
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
	in->keep_rejected = conf_int(c, "intake", "keep_rejected") * 86400;
	g_mime_init();
	*out = in;
	return 0;
}

void intake_free(struct intake **in)
{
	free(*in);
	*in = NULL;
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

/* The attempt counter of an input: "attempt:" | SHA-256 in DB_INTAKE. */
#define ATTEMPT_KEY_LEN (8 + 32)
static void attempt_key(uint8_t k[ATTEMPT_KEY_LEN], const uint8_t id[32])
{
	memcpy(k, "attempt:", 8);
	memcpy(k + 8, id, 32);
}

/*
 * Count one more start on this input, durably, before any of its bytes are
 * looked at; *before gets how many earlier starts never ended (the gateway
 * died during each).  The count is gone again once the input ends normally.
 */
static int attempt_begin(struct intake *in, const uint8_t id[32], uint32_t *before, struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t k[ATTEMPT_KEY_LEN], v[4];
	const void *old;
	size_t ol;
	int r;

	*before = 0;
	attempt_key(k, id);
	if (store_begin(in->st, 1, &t, e) < 0)
		return -1;
	r = store_get(t, DB_INTAKE, k, sizeof(k), &old, &ol, e);
	if (r < 0)
		goto fail;
	if (r == 0 && ol == 4)
		*before = be32_get(old);
	be32_put(v, *before + 1);
	if (store_put(t, DB_INTAKE, k, sizeof(k), v, sizeof(v), e) < 0 || store_commit(&t, e) < 0)
		goto fail;
	return 0;
fail:
	store_abort(&t);
	return -1;
}

static void attempt_end(struct intake *in, const uint8_t id[32])
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	uint8_t k[ATTEMPT_KEY_LEN];
	int r;

	attempt_key(k, id);
	if (store_begin(in->st, 1, &t, &e) < 0)
		goto fail;
	r = store_del(t, DB_INTAKE, k, sizeof(k), &e);
	if (r == 1) {
		store_abort(&t);
		return;
	}
	if (r == 0 && store_commit(&t, &e) == 0)
		return;
fail:
	store_abort(&t);
	log_err("event=intake_attempt_not_cleared reason=\"%s\"", e.msg);
}

/* Remember an input that made no batch, with an audit record, so that it is
 * answered once and only deleted if it is seen again; the sealed copy (k,
 * may be NULL) and the end of its attempt count go in the same commit. */
static int remember(struct intake *in, const uint8_t *id, const char *actor, const char *action,
		    const char *source, const char *why, const struct intake_sealed *k,
		    struct error *e)
{
	struct store_txn *t = NULL;
	uint8_t none[8] = { 0 }, ak[ATTEMPT_KEY_LEN];
	char target[32] = "";
	struct audit_entry a = { actor, action, target, source, why };

	if (k != NULL && k->sealed.len > 0) {
		/* Names the sealed copy for an administrator; no personal data. */
		char hex[17];
		hex_encode(id, 8, hex);
		str_fmt(target, sizeof(target), "input:%s", hex);
	}
	if (store_begin(in->st, 1, &t, e) < 0)
		return -1;
	if (id != NULL) {
		attempt_key(ak, id);
		if (store_put_new(t, DB_INTAKE, id, 32, none, sizeof(none), e) < 0 ||
		    store_del(t, DB_INTAKE, ak, sizeof(ak), e) < 0)
			goto fail;
	}
	if (k != NULL && k->sealed.len > 0 &&
	    store_put(t, DB_REJECTED, k->key, sizeof(k->key), k->sealed.data, k->sealed.len, e) < 0)
		goto fail;
	if (audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0)
		goto fail;
	return 0;
fail:
	store_abort(&t);
	return -1;
}

/* remember() with the input itself sealed beside it for keep_rejected. */
static int remember_kept(struct intake *in, const uint8_t id[32], const char *actor,
			 const char *action, const char *source, const char *detail, const char *why,
			 const char *kind, const char *name, const uint8_t *data, size_t len,
			 struct error *e)
{
	struct intake_sealed k;
	int r = intake_kept_seal(in->st, in->keep_rejected, id, source, kind, name, why, data, len,
				 &k, e);
	if (r == 0)
		r = remember(in, id, actor, action, source, detail, &k, e);
	intake_kept_release(&k);
	return r;
}

void intake_discard(struct intake *in, const char *source, const char *why)
{
	struct error e = { { 0 }, 0 };
	if (remember(in, NULL, "system", "intake.refuse", source, why, NULL, &e) < 0)
		log_err("event=intake_not_audited reason=\"%s\"", e.msg);
}


int intake_sweep(struct intake *in, int64_t now, size_t *count, struct error *e)
{
	return intake_kept_sweep(in->st, now, count, e);
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

/*
 * Poison inputs.  Taking an input counts a start before it is parsed; a
 * normal end, whatever the outcome, removes the count.  An input that two
 * earlier starts never finished (the gateway was killed by it, or died of
 * it) is not taken a third time: it is set aside as refused, sealed for
 * keep_rejected, audited, and its sender (staff) is told.
 */
#define POISON_ATTEMPTS 2u
#define POISON_WHY "the gateway stopped twice while taking this input; it was set aside"

/* The sender of a message from its header section alone: the body is what
 * may have killed us, so only the headers (at most 64 KiB) are parsed. */
static int poison_sender(struct intake *in, const uint8_t *raw, size_t len, struct staff *s)
{
	struct mime_message *m = NULL;
	struct error e = { { 0 }, 0 };
	size_t n = len < 64 * 1024 ? len : 64 * 1024, end = n;
	uint8_t *head;
	int found = 0;

	for (size_t i = 0; i + 1 < n; i++) {
		if (raw[i] == '\n' && (raw[i + 1] == '\n' || (raw[i + 1] == '\r' && i + 2 < n && raw[i + 2] == '\n'))) {
			end = i + 1;
			break;
		}
	}
	head = xmalloc(end + 3);
	memcpy(head, raw, end);
	memcpy(head + end, "\r\n", 3);
	if (mime_parse(head, end + 2, &in->lim, &m, &e) == 0 && m->from_addr != NULL &&
	    staff_find_email(in->st, m->from_addr, s, &e) == 0 && !s->disabled &&
	    (s->perms & PERM_SUBMIT))
		found = 1;
	if (found && m->message_id != NULL)
		str_copy(in->poison_mid, m->message_id, sizeof(in->poison_mid));
	else
		in->poison_mid[0] = '\0';
	mime_message_free(&m);
	free(head);
	return found;
}

static enum intake_outcome poison(struct intake *in, const uint8_t id[32], const uint8_t *data,
				  size_t len, const char *kind, const char *name, const char *source,
				  struct error *e)
{
	struct staff s;
	char actor[32] = "system";
	int staff = 0;

	memset(&s, 0, sizeof(s));
	if (strcmp(kind, "message") == 0 && poison_sender(in, data, len, &s)) {
		staff = 1;
		str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)s.id);
	}
	log_warn("event=intake outcome=poison source=%s actor=%s attempts=%u", source, actor,
		 POISON_ATTEMPTS);
	if (remember_kept(in, id, actor, "intake.poison", source, "gateway stopped twice while taking it",
			  POISON_WHY, kind, name, data, len, e) < 0) {
		secure_wipe(&s, sizeof(s));
		return INTAKE_TEMPFAIL;
	}
	if (staff) {
		struct intake_mailto to = { in->outbox, in->from, s.email, in->poison_mid };
		intake_reply_poison(&to);
	}
	err_set(e, "%s", POISON_WHY);
	secure_wipe(&s, sizeof(s));
	return INTAKE_REFUSED;
}


/* One message while it is taken. */
struct msg_run {
	const uint8_t *raw;
	size_t len;
	const char *source;
	const uint8_t *id; /* its SHA-256 */
	struct mime_message *m;
	struct staff s;    /* the sender, once known as staff */
	char actor[32];
};

/* A message from staff refused (the reason in e): kept sealed, the sender
 * told why. */
static enum intake_outcome refuse_message(struct intake *in, struct msg_run *r, struct error *e)
{
	char why[ERR_MAX];
	struct intake_mailto to = { in->outbox, in->from, r->s.email, r->m->message_id };

	str_copy(why, e->msg, sizeof(why));
	if (remember_kept(in, r->id, r->actor, "intake.refuse", r->source, "refused", why, "message",
			  NULL, r->raw, r->len, e) < 0)
		return INTAKE_TEMPFAIL;
	intake_reply_refused(&to, r->m->subject, why);
	log_info("event=intake outcome=refused source=%s actor=%s", r->source, r->actor);
	str_copy(e->msg, why, sizeof(e->msg));
	return INTAKE_REFUSED;
}

/* A message from staff: its attachments into a batch, answered either way. */
static enum intake_outcome submit_message(struct intake *in, struct msg_run *r, uint64_t *batch,
					  struct error *e)
{
	struct batch_settings set;
	struct batch_input bi;
	struct batch_report rep;
	struct batch_files f;
	struct error pe = { { 0 }, 0 };
	enum intake_outcome out = INTAKE_TEMPFAIL;

	memset(&set, 0, sizeof(set));
	memset(&rep, 0, sizeof(rep));
	memset(&f, 0, sizeof(f));
	/* Refused before matching: */
	if (batch_files_add_mime(&f, r->m, e) < 0) {
		out = INTAKE_REFUSED;
	} else if (f.ncsv != 1) {
		err_set(e, f.ncsv == 0 ? "the message has no recipients CSV (a .csv attachment)"
				       : "the message has %zu CSV attachments; send exactly one", f.ncsv);
		out = INTAKE_REFUSED;
	} else if (settings_parse(f.message ? f.message : "", &set, e) < 0) {
		out = INTAKE_REFUSED;
	}
	if (out == INTAKE_REFUSED)
		goto out;
	batch_files_input(&bi, &f, &set, in->c, NULL, r->actor, r->source);
	bi.intake_id = r->id;
	/* The staff account the From matched: a test batch goes back there. */
	bi.submitter = r->s.email;
	if (in->signer == NULL) {
		err_tmp(e, "no signing credential is available");
		goto out;
	}
	if (batch_submit(in->st, in->signer, &bi, &rep, e) < 0) {
		if (!e->temporary)
			out = INTAKE_REFUSED;
		else if (seen_before(in, r->id, &pe) == 1)
			out = INTAKE_DUPLICATE;
		else
			log_warn("event=intake outcome=tempfail source=%s reason=\"%s\"", r->source, e->msg);
		goto out;
	}
	*batch = rep.batch;
	out = INTAKE_STORED;
	{
		struct intake_mailto to = { in->outbox, in->from, r->s.email, r->m->message_id };
		intake_reply_stored(&to, bi.title, &rep);
	}
	log_info("event=intake outcome=stored source=%s batch=%llu actor=%s", r->source,
		 (unsigned long long)rep.batch, r->actor);
out:
	if (out == INTAKE_REFUSED)
		out = refuse_message(in, r, e);
	batch_files_free(&f);
	settings_free(&set);
	batch_report_free(&rep);
	return out;
}

/* Drop a message nobody may be told about: logged, kept sealed, no reply. */
static enum intake_outcome drop_message(struct intake *in, const struct msg_run *r,
					const char *detail, const char *why, struct error *e)
{
	if (strcmp(detail, "unreadable message") == 0)
		log_warn("event=intake outcome=dropped source=%s reason=unreadable", r->source);
	else
		log_warn("event=intake outcome=dropped source=%s reason=\"%s\"", r->source, detail);
	if (remember_kept(in, r->id, "system", "intake.drop", r->source, detail, why, "message", NULL,
			  r->raw, r->len, e) < 0)
		return INTAKE_TEMPFAIL;
	return INTAKE_DROPPED;
}

/* A message seen for the first time: who sent it decides. */
static enum intake_outcome take_message(struct intake *in, struct msg_run *r, uint64_t *batch,
					struct error *e)
{
	struct error pe = { { 0 }, 0 };
	const char *why;
	int k;

	if (mime_parse(r->raw, r->len, &in->lim, &r->m, &pe) < 0 || r->m->from_addr == NULL)
		/* Without a sender we know, nobody can be told: drop it. */
		return drop_message(in, r, "unreadable message", pe.msg[0] ? pe.msg : "unreadable message", e);
	k = staff_find_email(in->st, r->m->from_addr, &r->s, e);
	if (k < 0)
		return INTAKE_TEMPFAIL;
	why = k == 1 ? "unknown sender" : r->s.disabled ? "disabled account"
		 : !(r->s.perms & PERM_SUBMIT) ? "no submit permission"
		 : auth_failed(in, r->m->auth_results) ? "authentication failed" : NULL;
	if (why != NULL)
		return drop_message(in, r, why, why, e);
	str_fmt(r->actor, sizeof(r->actor), "staff:%llu", (unsigned long long)r->s.id);
	return submit_message(in, r, batch, e);
}

enum intake_outcome intake_message(struct intake *in, const uint8_t *raw, size_t len,
				   const char *source, uint64_t *batch, struct error *e)
{
	struct msg_run r;
	uint8_t id[32];
	uint32_t before = 0;
	enum intake_outcome out;
	int k;

	memset(&r, 0, sizeof(r));
	r.raw = raw;
	r.len = len;
	r.source = source;
	r.id = id;
	*batch = 0;
	crypt_sha256(raw, len, id);
	k = seen_before(in, id, e);
	if (k < 0)
		return INTAKE_TEMPFAIL;
	if (k == 1) {
		/* Taken before (a crash came between its commit and its deletion). */
		attempt_end(in, id);
		log_info("event=intake outcome=duplicate source=%s", source);
		return INTAKE_DUPLICATE;
	}
	if (attempt_begin(in, id, &before, e) < 0)
		return INTAKE_TEMPFAIL;
	if (before >= POISON_ATTEMPTS)
		out = poison(in, id, raw, len, "message", NULL, source, e);
	else
		out = take_message(in, &r, batch, e);
	/* A normal end, whatever the outcome: this input is no poison.  (A
	 * poison input that could not be set aside keeps its count.) */
	if (before < POISON_ATTEMPTS || out != INTAKE_TEMPFAIL)
		attempt_end(in, id);
	mime_message_free(&r.m);
	secure_wipe(&r.s, sizeof(r.s));
	return out;
}

enum intake_outcome intake_files(struct intake *in, struct batch_files *f, size_t total,
				 const char *actor, const char *source, uint64_t *batch,
				 struct batch_report *rep_out, struct error *e)
{
	struct batch_settings set;
	struct batch_input bi;
	struct batch_report rep;
	uint8_t id[32];
	uint32_t before = 0;
	int poisoned = 0;
	enum intake_outcome out = INTAKE_TEMPFAIL;
	int r;

	memset(&set, 0, sizeof(set));
	memset(&rep, 0, sizeof(rep));
	*batch = 0;
	/* The folder's identity: its files' names and contents, in name order. */
	batch_files_identity(f, id);
	r = seen_before(in, id, e);
	if (r != 0) {
		if (r > 0)
			attempt_end(in, id); /* taken before: no poison count stays */
		log_info("event=intake outcome=%s source=%s", r < 0 ? "tempfail" : "duplicate", source);
		return r < 0 ? INTAKE_TEMPFAIL : INTAKE_DUPLICATE;
	}
	if (attempt_begin(in, id, &before, e) < 0)
		return INTAKE_TEMPFAIL;
	if (before >= POISON_ATTEMPTS) {
		struct buf packed;
		buf_init(&packed, total + 64 * 1024);
		out = intake_kept_pack(f, &packed) < 0
			      ? (err_set(e, "the folder is too large to keep"), INTAKE_TEMPFAIL)
			      : poison(in, id, packed.data, packed.len, "folder", f->title, source, e);
		poisoned = 1;
		secure_wipe(packed.data, packed.len);
		buf_free(&packed);
		goto done;
	}
	if (f->ncsv != 1) {
		err_set(e, f->ncsv == 0 ? "the folder has no recipients CSV (a .csv file)"
					: "the folder has %zu CSV files; give exactly one", f->ncsv);
		out = INTAKE_REFUSED;
		goto done;
	}
	if (settings_parse(f->message ? f->message : "", &set, e) < 0) {
		out = INTAKE_REFUSED;
		goto done;
	}
	batch_files_input(&bi, f, &set, in->c, NULL, actor, source);
	bi.intake_id = id;
	if (f->submitter[0] != '\0')
		bi.submitter = f->submitter; /* an upload: a test batch goes back to the uploader */
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
	if (out == INTAKE_REFUSED && !poisoned) {
		/* Nobody to mail: the reason stays sealed with the input. */
		struct error re = { { 0 }, 0 };
		struct buf packed;
		buf_init(&packed, total + 64 * 1024);
		if (intake_kept_pack(f, &packed) == 0)
			r = remember_kept(in, id, actor, "intake.refuse", source, "refused", e->msg, "folder",
					  f->title, packed.data, packed.len, &re);
		else
			r = remember(in, id, actor, "intake.refuse", source, "refused", NULL, &re);
		secure_wipe(packed.data, packed.len);
		buf_free(&packed);
		if (r < 0)
			out = INTAKE_TEMPFAIL;
	}
	if (before < POISON_ATTEMPTS || out != INTAKE_TEMPFAIL)
		attempt_end(in, id);
	log_info("event=intake outcome=%s source=%s batch=%llu", intake_outcome_name(out), source,
		 (unsigned long long)*batch);
	settings_free(&set);
	if (out == INTAKE_STORED && rep_out != NULL)
		*rep_out = rep; /* the caller's now */
	else
		batch_report_free(&rep);
	return out;
}

enum intake_outcome intake_folder(struct intake *in, const char *path, const char *source,
				  uint64_t *batch, struct error *e)
{
	struct batch_files f;
	size_t total = 0;
	enum intake_outcome out;

	memset(&f, 0, sizeof(f));
	*batch = 0;
	if (batch_files_add_folder(&f, path, in->lim.max_message, &total, e) < 0) {
		struct error re = { { 0 }, 0 };
		out = e->temporary ? INTAKE_TEMPFAIL : INTAKE_REFUSED;
		if (out == INTAKE_REFUSED &&
		    remember(in, NULL, "drop", "intake.refuse", source, "unreadable folder", NULL, &re) < 0)
			out = INTAKE_TEMPFAIL;
		log_info("event=intake outcome=%s source=%s batch=0", intake_outcome_name(out), source);
	} else {
		out = intake_files(in, &f, total, "drop", source, batch, NULL, e);
	}
	batch_files_free(&f);
	return out;
}
