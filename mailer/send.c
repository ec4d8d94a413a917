/*
 * send.c — one resident's notification, from the store to the transport's
 * job (see send.h).  Runs in the mailer process.
 */
#include "mailer/send.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf/conf.h"
#include "lib/batches.h"
#include "lib/email.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/wardset.h"
#include "mailer/bounce_reader.h"
#include "mailer/dkim.h"
#include "mailer/verp.h"

#define JST_OFFSET (9 * 3600)

int send_addr_list(const char *list, char (*out)[SEND_ADDR_MAX + 1], size_t max, size_t *n,
		   struct error *e)
{
	const char *p = list;
	*n = 0;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char one[SEND_ADDR_MAX + 1];
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > SEND_ADDR_MAX)
			return err_set(e, "address list: an address is too long");
		memcpy(one, p, len);
		one[len] = '\0';
		if (len > 0) {
			if (!email_valid(one))
				return err_set(e, "address list: \"%s\" is not a valid address", one);
			if (*n == max)
				return err_set(e, "address list: more than %zu addresses", max);
			memcpy(out[(*n)++], one, len + 1);
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* "\n" written in the configuration starts a new line. */
static void contact_text(const char *in, char *out, size_t outsize)
{
	size_t j = 0;
	for (size_t i = 0; in[i] != '\0' && j + 1 < outsize; i++) {
		if (in[i] == '\\' && in[i + 1] == 'n') {
			out[j++] = '\n';
			i++;
		} else {
			out[j++] = in[i];
		}
	}
	out[j] = '\0';
}

int send_ctx_init(struct send_ctx *c, struct store *st, struct keys_client *kc,
		  const struct conf *conf, struct error *e)
{
	const char *at;
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->kc = kc;
	c->conf = conf;
	str_copy(c->from, conf_str(conf, "mail", "from"), sizeof(c->from));
	str_copy(c->from_name, conf_str(conf, "tenant", "name"), sizeof(c->from_name));
	str_copy(c->reply_to, conf_str(conf, "mail", "reply_to"), sizeof(c->reply_to));
	if (c->reply_to[0] == '\0')
		str_copy(c->reply_to, c->from, sizeof(c->reply_to));
	str_copy(c->portal_url, conf_str(conf, "portal", "public_url"), sizeof(c->portal_url));
	/* A trailing slash would make "//n/" in every link. */
	while (c->portal_url[0] != '\0' && c->portal_url[strlen(c->portal_url) - 1] == '/')
		c->portal_url[strlen(c->portal_url) - 1] = '\0';
	contact_text(conf_str(conf, "mail", "contact"), c->contact, sizeof(c->contact));
	at = strrchr(c->from, '@');
	if (at == NULL || at[1] == '\0')
		return err_set(e, "[mail] from has no domain");
	str_copy(c->domain, at + 1, sizeof(c->domain));
	if (bounce_reader_domain(conf, c->verp_domain, sizeof(c->verp_domain), e) < 0)
		return -1;
	if (send_addr_list(conf_str(conf, "mail", "test_addresses"), c->test, SEND_TEST_MAX,
			   &c->ntest, e) < 0)
		return err_set(e, "[mail] test_addresses: %s", e->msg);
	return 0;
}

/* The first date written in s (2026-12-25, 2026/12/25, 2026年12月25日) as
 * YYYY-MM-DD and its UTC seconds at the end of that day in Japan. */
static int date_read(const char *s, char out[11], int64_t *end_of_day)
{
	long v[3] = { 0, 0, 0 };
	int k = 0;
	struct tm tm;
	for (const char *p = s; *p != '\0' && k < 3;) {
		if (*p >= '0' && *p <= '9') {
			char *q;
			v[k++] = strtol(p, &q, 10);
			p = q;
		} else {
			p++;
		}
	}
	if (k < 3 || v[0] < 2000 || v[0] > 9999 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)v[0] - 1900;
	tm.tm_mon = (int)v[1] - 1;
	tm.tm_mday = (int)v[2];
	tm.tm_hour = 23;
	tm.tm_min = 59;
	tm.tm_sec = 59;
	*end_of_day = (int64_t)timegm(&tm) - JST_OFFSET;
	str_fmt(out, 11, "%04ld-%02ld-%02ld", v[0], v[1], v[2]);
	return 0;
}

int send_date_end(const char *s, int64_t *end_of_day)
{
	char day[11];
	return date_read(s, day, end_of_day);
}

void send_submitter_address(const char *from, char *out, size_t outsize)
{
	out[0] = '\0';
	if (strlen(from) < outsize && email_valid(from))
		str_copy(out, from, outsize);
}

static void date_of(int64_t t, char out[11])
{
	time_t j = (time_t)(t + JST_OFFSET);
	struct tm tm;
	gmtime_r(&j, &tm);
	str_fmt(out, 11, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static enum message_auth auth_of(const char *s)
{
	if (strstr(s, "otp") != NULL || strstr(s, "OTP") != NULL || strstr(s, "ワンタイム") != NULL)
		return MESSAGE_AUTH_OTP;
	if (strstr(s, "csv") != NULL || strstr(s, "CSV") != NULL || strstr(s, "value") != NULL ||
	    strstr(s, "生年月日") != NULL)
		return MESSAGE_AUTH_VALUE;
	return MESSAGE_AUTH_LINK;
}

static char *rec_dup(const uint8_t *p, size_t n, uint16_t tag)
{
	const uint8_t *v;
	size_t vl;
	if (rec_get(p, n, tag, &v, &vl) != 0)
		return xstrdup("");
	return xstrndup((const char *)v, vl);
}

/* The ward's settings saved from the dashboard over the conf's: the
 * contact, the test addresses (a test batch), the default deadline. */
static int ward_settings(struct store *st, struct send_batch *b, int64_t *deadline_default,
			 struct error *e)
{
	struct wardset *ws = xcalloc(1, sizeof(*ws));
	struct error le = { { 0 }, 0 };
	int r = wardset_load(st, ws, e);

	*deadline_default = SEND_DEADLINE_DEFAULT;
	if (r == 0) {
		if (ws->contact[0] != '\0')
			contact_text(ws->contact, b->contact, sizeof(b->contact));
		if (ws->deadline_days > 0)
			*deadline_default = (int64_t)ws->deadline_days * 86400;
		if (b->test && ws->test_addresses[0] != '\0') {
			b->tests = xcalloc(SEND_TEST_MAX, sizeof(*b->tests));
			/* Checked when saved; a list that no longer reads keeps the conf's. */
			b->tests_set = send_addr_list(ws->test_addresses, b->tests, SEND_TEST_MAX,
						      &b->ntests, &le) == 0;
		}
	}
	free(ws);
	return r < 0 ? -1 : 0;
}

int send_batch_load(struct store *st, uint64_t id, int test, int64_t now, struct send_batch *b,
		    struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t key[8];
	char text[256], deadline[256];
	int64_t deadline_at, deadline_default;
	int r;

	memset(b, 0, sizeof(*b));
	b->id = id;
	b->test = test;
	if (ward_settings(st, b, &deadline_default, e) < 0) {
		send_batch_free(b);
		return -1;
	}
	buf_init(&plain, 64 << 20);
	be64_put(key, id);
	if (store_begin(st, 0, &t, e) < 0) {
		buf_free(&plain);
		return -1;
	}
	r = store_get_sealed(t, DB_BATCHES, key, sizeof(key), &plain, e);
	/* Its own 期限, or the ward's default fixed when it was sent (the
	 * date the paper list and the export use too). */
	if (r == 0 && batches_deadline(t, id, deadline, sizeof(deadline), e) < 0)
		r = -1;
	store_abort(&t);
	if (r != 0) {
		buf_wipe(&plain);
		send_batch_free(b);
		return r < 0 ? -1 : err_set(e, "batch %llu has no record", (unsigned long long)id);
	}
	b->title = rec_dup(plain.data, plain.len, BR_TITLE);
	b->raw_title = xstrdup(b->title);
	b->message = rec_dup(plain.data, plain.len, BR_MESSAGE);
	b->kyouji = rec_dup(plain.data, plain.len, BR_KYOUJI);
	rec_get_str(plain.data, plain.len, BR_ACTOR, b->actor, sizeof(b->actor));
	/* The submitter's own address, as the gateway stored it; a batch
	 * stored before it did: its source, when that is an address. */
	if (test && rec_get_str(plain.data, plain.len, BR_SUBMITTER, text, sizeof(text)) == 0)
		send_submitter_address(text, b->submitter, sizeof(b->submitter));
	if (test && b->submitter[0] == '\0' &&
	    rec_get_str(plain.data, plain.len, BR_FROM, text, sizeof(text)) == 0)
		send_submitter_address(text, b->submitter, sizeof(b->submitter));
	rec_get_str(plain.data, plain.len, BR_AUTH, text, sizeof(text));
	b->auth = auth_of(text);
	if (date_read(deadline, b->deadline, &deadline_at) < 0)
		date_of(now + deadline_default, b->deadline);
	rec_get_str(plain.data, plain.len, BR_EXPIRY, text, sizeof(text));
	if (date_read(text, text, &b->expires) < 0 || b->expires <= now)
		b->expires = now + SEND_LINK_TTL_DEFAULT;
	buf_wipe(&plain);
	if (b->title[0] == '\0') {
		free(b->title);
		b->title = xstrdup("区からのお知らせ");
	}
	return 0;
}

void send_batch_free(struct send_batch *b)
{
	free(b->title);
	free(b->raw_title);
	free(b->message);
	free(b->kyouji);
	free(b->tests);
	b->title = b->raw_title = b->message = b->kyouji = NULL;
	b->tests = NULL;
}

/* Fill r from its record's plaintext. */
static void resident_from(const struct buf *plain, struct send_resident *r)
{
	const uint8_t *v;
	size_t vl;
	uint64_t flags = rec_get_u64(plain->data, plain->len, RR_FLAGS, 0);
	if (rec_get_str(plain->data, plain->len, RR_EMAIL, r->email, sizeof(r->email)) < 0)
		r->email[0] = '\0';
	if (rec_get_str(plain->data, plain->len, RR_KEY, r->key, sizeof(r->key)) < 0)
		r->key[0] = '\0';
	r->mailable = flags == 0 && r->email[0] != '\0' && email_valid(r->email);
	if (rec_get(plain->data, plain->len, RR_MESSAGE, &v, &vl) == 0 && vl > 0)
		r->message = xstrndup((const char *)v, vl);
}

int send_resident_read(struct store_txn *t, uint64_t batch, uint32_t seq, struct send_resident *r,
		       struct error *e)
{
	int found = 0;
	int rc = send_residents_read(t, 1, &batch, &seq, r, &found, e);
	return rc < 0 ? -1 : found ? 0 : 1;
}

int send_residents_read(struct store_txn *t, size_t n, const uint64_t *batch, const uint32_t *seq,
			struct send_resident *r, int *found, struct error *e)
{
	uint8_t (*keys)[12] = xcalloc(n ? n : 1, sizeof(*keys));
	const void **kp = xcalloc(n ? n : 1, sizeof(*kp));
	size_t *kl = xcalloc(n ? n : 1, sizeof(*kl));
	struct buf *plain = xcalloc(n ? n : 1, sizeof(*plain));
	int rc;

	for (size_t i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].seq = seq[i];
		be64_put(keys[i], batch[i]);
		be32_put(keys[i] + 8, seq[i]);
		kp[i] = keys[i];
		kl[i] = sizeof(keys[i]);
		buf_init(&plain[i], 4 << 20);
	}
	/* One keys request for the data keys of all n, not one each. */
	rc = store_get_sealed_many(t, DB_RESIDENTS, n, kp, kl, plain, found, e);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && found[i])
			resident_from(&plain[i], &r[i]);
		buf_wipe(&plain[i]);
	}
	free(plain);
	free(kl);
	free(kp);
	free(keys);
	return rc;
}

void send_resident_free(struct send_resident *r)
{
	if (r->message != NULL) {
		secure_wipe(r->message, strlen(r->message));
		free(r->message);
	}
	r->message = NULL;
	secure_wipe(r->email, sizeof(r->email));
	secure_wipe(r->key, sizeof(r->key));
}

const char *send_rcpt(const struct send_ctx *c, const struct send_batch *b,
		      const struct send_resident *r)
{
	const char(*tests)[SEND_ADDR_MAX + 1] = b->tests_set ? b->tests : c->test;
	size_t ntest = b->tests_set ? b->ntests : c->ntest;
	size_t n = ntest, own = 0;
	if (!b->test)
		return r->mailable ? r->email : "";
	/* The submitter first, unless also a test address. */
	if (b->submitter[0] != '\0') {
		own = 1;
		for (size_t i = 0; i < ntest && own; i++)
			if (strcasecmp(tests[i], b->submitter) == 0)
				own = 0;
	}
	n += own;
	if (n == 0)
		return "";
	if (own && (r->seq - 1) % n == 0)
		return b->submitter;
	return tests[(r->seq - 1) % n - own];
}

int send_build(const struct send_ctx *c, const struct send_batch *b, const struct send_resident *r,
	       const char *token, const char *code, const char *return_path, int64_t now,
	       struct pool_job *job, struct error *e)
{
	struct message_input in;
	struct buf msg, dk;
	char link[MESSAGE_URL_MAX + 64];
	const char *to = send_rcpt(c, b, r);
	const char *text = r->message != NULL ? r->message : b->message;
	int ret = -1;

	if (to[0] == '\0')
		return err_set(e, "resident %u has no address to send to", r->seq);
	if (str_fmt(link, sizeof(link), "%s/n/%s", c->portal_url, token) < 0)
		return err_set(e, "[portal] public_url too long for a link");
	if (text == NULL || text[0] == '\0')
		text = "区からのお知らせがあります。下記のリンクからご確認ください。";
	memset(&in, 0, sizeof(in));
	in.from_addr = c->from;
	in.from_name = c->from_name;
	in.reply_to = c->reply_to;
	in.to = to;
	in.title = b->title;
	in.message = text;
	in.link = link;
	in.portal_url = c->portal_url;
	in.notice_code = code;
	in.auth = b->auth;
	in.auth_label = "通知に記載の確認用の値（生年月日など）";
	in.deadline = b->deadline;
	in.kyouji = b->kyouji != NULL && b->kyouji[0] != '\0' ? b->kyouji : NULL;
	in.contact = b->contact[0] != '\0' ? b->contact : c->contact;
	in.test = b->test;
	in.msgid_domain = c->domain;
	in.date = (time_t)now;
	buf_init(&msg, MESSAGE_TEXT_MAX * 4 + (1 << 20));
	buf_init(&dk, 64 << 10);
	if (message_build(&in, &msg, e) < 0)
		goto out;
	if (dkim_sign_conf(c->kc, c->conf, msg.data, msg.len, &dk, e) < 0)
		goto out;
	if (return_path != NULL)
		str_copy(job->mail_from, return_path, sizeof(job->mail_from));
	else if (verp_address(c->kc, b->id, r->seq, c->verp_domain, job->mail_from,
			      sizeof(job->mail_from), e) < 0)
		goto out;
	str_copy(job->rcpt, to, sizeof(job->rcpt));
	if (dk.len > 0) {
		/* The signature goes first, above the fields it covers. */
		if (buf_append(&dk, msg.data, msg.len) < 0) {
			err_set(e, "message too large to sign");
			goto out;
		}
		job->msg = buf_steal(&dk, &job->len);
	} else {
		job->msg = buf_steal(&msg, &job->len);
	}
	ret = 0;
out:
	buf_free(&msg);
	buf_free(&dk);
	return ret;
}
