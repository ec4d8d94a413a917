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

#include "lib/audit.h"
#include "conf/conf.h"
#include "lib/crypt.h"
#include "gateway/batch.h"
#include "gateway/folder.h"
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

/*
 * A refused input kept for staff: sealed in DB_REJECTED under
 * u64 expiry | SHA-256, so the sweep reads the expired ones first.
 * Fields of the sealed record:
 */
enum {
	REJ_TIME = 1,   /* u64: when it was refused */
	REJ_SOURCE = 2, /* "drop", "maildir", "imap" */
	REJ_KIND = 3,   /* "message" (an RFC 5322 message) or "folder" */
	REJ_NAME = 4,   /* the file or folder name in the drop folder, when known */
	REJ_REASON = 5, /* why it was refused (may quote the input: sealed too) */
	REJ_DATA = 6,   /* the message, or the folder's files (folder_pack) */
};
#define REJ_KEY_LEN (8 + 32)

struct kept {
	uint8_t key[REJ_KEY_LEN];
	struct buf sealed; /* empty: nothing to keep */
};

/* Seal an input before the write transaction (the keys round trip happens
 * outside it).  Nothing is kept when keep_rejected is 0. */
static int keep_prepare(struct intake *in, const uint8_t id[32], const char *source,
			const char *kind, const char *name, const char *why, const uint8_t *data,
			size_t len, struct kept *k, struct error *e)
{
	struct buf r;
	int64_t now = now_utc();
	int ret = -1;

	buf_init(&k->sealed, len + 64 * 1024);
	if (in->keep_rejected <= 0)
		return 0;
	be64_put(k->key, (uint64_t)(now + in->keep_rejected));
	memcpy(k->key + 8, id, 32);
	buf_init(&r, len + 32 * 1024);
	if (rec_put_u64(&r, REJ_TIME, (uint64_t)now) < 0 || rec_put_str(&r, REJ_SOURCE, source) < 0 ||
	    rec_put_str(&r, REJ_KIND, kind) < 0 || rec_put_str(&r, REJ_NAME, name ? name : "") < 0 ||
	    rec_put_str(&r, REJ_REASON, why) < 0 || rec_put(&r, REJ_DATA, data, len) < 0) {
		err_set(e, "the refused input is too large to keep");
		goto out;
	}
	ret = store_seal(in->st, DB_REJECTED, k->key, sizeof(k->key), r.data, r.len, &k->sealed, e);
out:
	secure_wipe(r.data, r.len);
	buf_free(&r);
	return ret;
}

static void keep_free(struct kept *k)
{
	buf_free(&k->sealed);
}

/* Remember an input that made no batch, with an audit record, so that it is
 * answered once and only deleted if it is seen again; the sealed copy (k,
 * may be NULL) and the end of its attempt count go in the same commit. */
static int remember(struct intake *in, const uint8_t *id, const char *actor, const char *action,
		    const char *source, const char *why, const struct kept *k, struct error *e)
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
	struct kept k;
	int r = keep_prepare(in, id, source, kind, name, why, data, len, &k, e);
	if (r == 0)
		r = remember(in, id, actor, action, source, detail, &k, e);
	keep_free(&k);
	return r;
}

void intake_discard(struct intake *in, const char *source, const char *why)
{
	struct error e = { { 0 }, 0 };
	if (remember(in, NULL, "system", "intake.refuse", source, why, NULL, &e) < 0)
		log_err("event=intake_not_audited reason=\"%s\"", e.msg);
}

/* The files of a folder as one value: per file u32 name length | name |
 * u64 length | bytes; the message (message.txt / 本文.txt) as message.txt. */
static void folder_pack_one(struct buf *b, const char *name, const uint8_t *data, size_t len, int *bad)
{
	uint8_t n4[4], n8[8];
	be32_put(n4, (uint32_t)strlen(name));
	be64_put(n8, (uint64_t)len);
	if (buf_append(b, n4, 4) < 0 || buf_append(b, name, strlen(name)) < 0 ||
	    buf_append(b, n8, 8) < 0 || buf_append(b, data, len) < 0)
		*bad = 1;
}

static int folder_pack(const struct batch_files *f, struct buf *b)
{
	int bad = 0;
	for (int pass = 0; pass < 3; pass++) {
		const struct batch_file *v = pass == 0 ? f->csv : pass == 1 ? f->pdfs : f->extras;
		size_t n = pass == 0 ? f->ncsv : pass == 1 ? f->npdfs : f->nextras;
		for (size_t i = 0; i < n; i++)
			folder_pack_one(b, v[i].name, v[i].data, v[i].len, &bad);
	}
	if (f->message != NULL)
		folder_pack_one(b, "message.txt", (const uint8_t *)f->message, strlen(f->message), &bad);
	return bad ? -1 : 0;
}

int intake_kept_each(struct store *st, int (*fn)(const struct intake_kept *, void *), void *arg,
		     struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, n = 0;
	uint8_t (*keys)[REJ_KEY_LEN] = NULL;
	int r, ret = -1;

	/* The keys first: unsealing talks to the keys process, outside a
	 * read transaction held open for long. */
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_REJECTED, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		if (kl != REJ_KEY_LEN)
			continue;
		keys = xrealloc(keys, (n + 1) * sizeof(*keys));
		memcpy(keys[n++], k, REJ_KEY_LEN);
	}
	store_iter_close(&it);
	store_abort(&t);
	if (r < 0) {
		err_tmp(e, "store: cannot read the kept inputs");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct buf pt;
		struct intake_kept kp;
		const uint8_t *d = NULL;
		size_t dl = 0;

		memset(&kp, 0, sizeof(kp));
		buf_init(&pt, (size_t)4 << 30);
		if (store_begin(st, 0, &t, e) < 0) {
			buf_free(&pt);
			goto out;
		}
		r = store_get_sealed(t, DB_REJECTED, keys[i], REJ_KEY_LEN, &pt, e);
		store_abort(&t);
		if (r == 1) { /* swept meanwhile */
			buf_free(&pt);
			continue;
		}
		if (r < 0 || rec_check(pt.data, pt.len) != 0 ||
		    rec_get(pt.data, pt.len, REJ_DATA, &d, &dl) != 0) {
			if (r == 0)
				err_set(e, "a kept input is damaged");
			secure_wipe(pt.data, pt.len);
			buf_free(&pt);
			goto out;
		}
		hex_encode(keys[i] + 8, 8, kp.id);
		kp.expires = (int64_t)be64_get(keys[i]);
		kp.time = (int64_t)rec_get_u64(pt.data, pt.len, REJ_TIME, 0);
		rec_get_str(pt.data, pt.len, REJ_SOURCE, kp.source, sizeof(kp.source));
		rec_get_str(pt.data, pt.len, REJ_KIND, kp.kind, sizeof(kp.kind));
		rec_get_str(pt.data, pt.len, REJ_NAME, kp.name, sizeof(kp.name));
		rec_get_str(pt.data, pt.len, REJ_REASON, kp.reason, sizeof(kp.reason));
		kp.data = d;
		kp.len = dl;
		r = fn(&kp, arg);
		secure_wipe(pt.data, pt.len);
		buf_free(&pt);
		if (r != 0)
			break;
	}
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(keys);
	return ret;
}

int intake_kept_files(const struct intake_kept *kp,
		      int (*fn)(const char *name, const uint8_t *data, size_t len, void *), void *arg)
{
	const uint8_t *p = kp->data, *end = kp->data + kp->len;
	char name[256];

	if (strcmp(kp->kind, "folder") != 0)
		return fn("message.eml", kp->data, kp->len, arg);
	while (p < end) {
		uint32_t nl;
		uint64_t dl;
		int r;
		if (end - p < 4 || (nl = be32_get(p)) >= sizeof(name) || (size_t)(end - p - 4) < nl + 8u)
			return -1;
		memcpy(name, p + 4, nl);
		name[nl] = '\0';
		p += 4 + nl;
		dl = be64_get(p);
		p += 8;
		if (dl > (uint64_t)(end - p))
			return -1;
		if ((r = fn(name, p, (size_t)dl, arg)) != 0)
			return r;
		p += dl;
	}
	return 0;
}

int intake_sweep(struct intake *in, int64_t now, size_t *count, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, n = 0;
	uint8_t (*dead)[REJ_KEY_LEN] = NULL;
	int r, ret = -1;

	*count = 0;
	if (store_begin(in->st, 1, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_REJECTED, NULL, 0, &it, e) < 0)
		goto out;
	/* Keys start with the expiry: stop at the first one still due.  Only
	 * this file writes here, always REJ_KEY_LEN long. */
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		if (kl != REJ_KEY_LEN)
			continue;
		if ((int64_t)be64_get(k) > now)
			break;
		dead = xrealloc(dead, (n + 1) * sizeof(*dead));
		memcpy(dead[n++], k, REJ_KEY_LEN);
	}
	if (r < 0) {
		err_tmp(e, "store: cannot read the kept inputs");
		goto out;
	}
	store_iter_close(&it);
	for (size_t i = 0; i < n; i++)
		if (store_del(t, DB_REJECTED, dead[i], REJ_KEY_LEN, e) < 0)
			goto out;
	if (n > 0) {
		char detail[64];
		struct audit_entry a = { "system", "intake.expire", "", "gateway", detail };
		str_fmt(detail, sizeof(detail), "%zu refused inputs deleted", n);
		if (audit_append(t, &a, NULL, e) < 0)
			goto out;
	}
	if (store_commit(&t, e) < 0)
		goto out;
	*count = n;
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(dead);
	return ret;
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
	if (staff)
		send_reply(in, s.email, in->poison_mid, "[tayori] 受付できませんでした / set aside",
			   "一括送信の処理中にゲートウェイが2回停止したため、この送信は受付できませんでした。"
			   "何も保存されていません。\n"
			   "PDF の大きさや破損を確認して送り直すか、管理者に連絡してください。\n\n"
			   "The gateway stopped twice while taking your batch, so it was set aside; "
			   "nothing was stored.\nCheck the PDFs (size, damage) and send it again, "
			   "or ask an administrator.\n");
	err_set(e, "%s", POISON_WHY);
	secure_wipe(&s, sizeof(s));
	return INTAKE_REFUSED;
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
	uint32_t before = 0;
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
		/* Taken before (a crash came between its commit and its deletion). */
		attempt_end(in, id);
		log_info("event=intake outcome=duplicate source=%s", source);
		return INTAKE_DUPLICATE;
	}
	if (attempt_begin(in, id, &before, e) < 0)
		return INTAKE_TEMPFAIL;
	if (before >= POISON_ATTEMPTS) {
		out = poison(in, id, raw, len, "message", NULL, source, e);
		goto done;
	}
	if (mime_parse(raw, len, &in->lim, &m, &pe) < 0 || m->from_addr == NULL) {
		/* Without a sender we know, nobody can be told: drop it. */
		log_warn("event=intake outcome=dropped source=%s reason=unreadable", source);
		out = remember_kept(in, id, "system", "intake.drop", source, "unreadable message",
				    pe.msg[0] ? pe.msg : "unreadable message", "message", NULL, raw, len, e) < 0
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
		out = remember_kept(in, id, "system", "intake.drop", source, why, why, "message", NULL, raw,
				    len, e) < 0 ? INTAKE_TEMPFAIL : INTAKE_DROPPED;
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
		if (remember_kept(in, id, actor, "intake.refuse", source, "refused", why, "message", NULL,
				  raw, len, e) < 0) {
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
	/* A normal end, whatever the outcome: this input is no poison.  (A
	 * poison input that could not be set aside keeps its count.) */
	if (before < POISON_ATTEMPTS || out != INTAKE_TEMPFAIL)
		attempt_end(in, id);
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
	uint32_t before = 0;
	int have_id = 0, poisoned = 0;
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
	if (attempt_begin(in, id, &before, e) < 0) {
		out = INTAKE_TEMPFAIL;
		goto done;
	}
	if (before >= POISON_ATTEMPTS) {
		struct buf packed;
		buf_init(&packed, total + 64 * 1024);
		out = folder_pack(&f, &packed) < 0
			      ? (err_set(e, "the folder is too large to keep"), INTAKE_TEMPFAIL)
			      : poison(in, id, packed.data, packed.len, "folder", f.title, source, e);
		poisoned = 1;
		secure_wipe(packed.data, packed.len);
		buf_free(&packed);
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
	if (out == INTAKE_REFUSED && !poisoned) {
		/* Nobody to mail: the reason stays sealed with the input. */
		struct error re = { { 0 }, 0 };
		struct buf packed;
		buf_init(&packed, total + 64 * 1024);
		if (!have_id)
			r = remember(in, NULL, "drop", "intake.refuse", source, "unreadable folder", NULL, &re);
		else if (folder_pack(&f, &packed) == 0)
			r = remember_kept(in, id, "drop", "intake.refuse", source, "refused", e->msg, "folder",
					  f.title, packed.data, packed.len, &re);
		else
			r = remember(in, id, "drop", "intake.refuse", source, "refused", NULL, &re);
		secure_wipe(packed.data, packed.len);
		buf_free(&packed);
		if (r < 0)
			out = INTAKE_TEMPFAIL;
	}
	if (have_id && (before < POISON_ATTEMPTS || out != INTAKE_TEMPFAIL))
		attempt_end(in, id);
	log_info("event=intake outcome=%s source=%s batch=%llu", intake_outcome_name(out), source,
		 (unsigned long long)*batch);
	settings_free(&set);
	batch_report_free(&rep);
	batch_files_free(&f);
	return out;
}
