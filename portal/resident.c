/*
 * resident.c — the resident listener's routes up to authentication: the
 * front page and its notice-code form, the link page (records nothing),
 * the click that opens a notice (EV_OPEN with the user agent and the
 * seconds since delivery), the one-time password mailed on request, the
 * answer checked, the session cookie.  Unknown, expired or revoked links
 * and wrong codes all get the one contact page, with one status.  Runs in
 * the portal process.
 */
#include <string.h>

#include "conf/conf.h"
#include "lib/log.h"
#include "lib/mailreq.h"
#include "lib/store.h"
#include "lib/wardset.h"
#include "portal/page_resident.h"
#include "portal/resident.h"
#include "portal/resident_auth.h"
#include "portal/resident_int.h"

void resident_site(const struct resident_ctx *rc, struct page_site *s)
{
	s->ward = rc->ward;
	s->host = rc->ward_host;
	s->announcement_url = rc->announcement_url;
	s->description = "";
}

/* The service's description for residents: the one saved on the
 * dashboard's settings page (lib/wardset.h), else [portal] description.
 * out holds it ("" none) and s->description points at it. */
static void site_description(struct resident_ctx *rc, struct page_site *s, char *out,
			     size_t size)
{
	struct wardset *ws = xcalloc(1, sizeof(*ws));
	struct error e = { { 0 }, 0 };

	str_copy(out, rc->description, size);
	if (wardset_load(rc->st, ws, &e) == 0 && ws->description[0] != '\0')
		str_copy(out, ws->description, size);
	else if (e.msg[0] != '\0')
		log_warn("event=ward_settings_unreadable reason=\"%s\"", e.msg);
	free(ws);
	s->description = out;
}

int resident_contact(struct resident_ctx *rc, struct http_response *resp)
{
	struct page_site s;

	resident_site(rc, &s);
	resp->status = 404;
	return page_contact(&resp->body, &s);
}

int resident_locked_page(struct resident_ctx *rc, struct http_response *resp, int test)
{
	struct page_site s;

	resident_site(rc, &s);
	resp->status = 403;
	return page_locked(&resp->body, &s, test);
}

static int h_front(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct page_site s;
	char csrf[HTTP_CSRF_LEN + 1], desc[sizeof(rc->description)];

	if (strcmp(req->path, "/") != 0)
		return resident_contact(rc, resp);
	resident_site(rc, &s);
	site_description(rc, &s, desc, sizeof(desc));
	if (http_csrf_token(req, resp, csrf) < 0)
		return -1;
	return page_front(&resp->body, &s, csrf, "");
}

/* The token at the start of a /n/ subpath, and what follows it. */
static int split_token(const char *sub, char token[NOTICE_TOKEN_LEN + 1], const char **rest)
{
	size_t n = strcspn(sub, "/");

	if (n != NOTICE_TOKEN_LEN)
		return -1;
	memcpy(token, sub, n);
	token[n] = '\0';
	*rest = sub + n;
	return notice_token_shape(token);
}

/* Which notice a link token opens: 0, 1 unknown/expired/revoked, -1. */
static int find_link(struct resident_ctx *rc, const char *token, uint64_t *batch, uint32_t *seq,
		     struct error *e)
{
	struct store_txn *t = NULL;
	int r;

	if (store_begin(rc->st, 0, &t, e) < 0)
		return -1;
	r = notice_link_find(t, token, batch, seq, e);
	store_abort(&t);
	return r;
}

/* GET /n/TOKEN (and HEAD): the title, the issuer, one button.  Records
 * nothing: a mail scanner fetching the link opens nothing. */
static int h_link(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct resident_notice n;
	struct page_site s;
	struct error e = { { 0 }, 0 };
	char token[NOTICE_TOKEN_LEN + 1], csrf[HTTP_CSRF_LEN + 1], desc[sizeof(rc->description)];
	const char *rest;
	uint64_t batch;
	uint32_t seq;
	int r;

	if (split_token(req->subpath, token, &rest) < 0 || *rest != '\0')
		return resident_contact(rc, resp);
	r = find_link(rc, token, &batch, &seq, &e);
	if (r == 0)
		r = resident_notice_load(rc, batch, seq, &n, &e);
	if (r < 0) {
		log_err("event=link_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r > 0)
		return resident_contact(rc, resp);
	resident_site(rc, &s);
	site_description(rc, &s, desc, sizeof(desc));
	r = http_csrf_token(req, resp, csrf) < 0 ? -1 : page_link(&resp->body, &s, &n, token, csrf);
	resident_notice_free(&n);
	return r;
}

static int set_opened(struct store_txn *t, struct notice_access *a, void *arg)
{
	(void)t;
	(void)arg;
	if (a->opened_at != 0)
		return 1;
	a->opened_at = now_utc();
	return 0;
}

static int set_auth(struct store_txn *t, struct notice_access *a, void *arg)
{
	(void)t;
	(void)arg;
	if (a->auth_at != 0)
		return 1;
	a->auth_at = now_utc();
	return 0;
}

/* Authenticated: a session cookie and on to the notice. */
static int start_session(struct resident_ctx *rc, const struct http_request *req,
			 struct http_response *resp, uint64_t batch, uint32_t seq, struct error *e)
{
	char st[NOTICE_TOKEN_LEN + 1];
	int r = -1;

	if (resident_session_new(rc, batch, seq, now_utc(), st, e) < 0)
		goto out;
	if (http_resp_cookie(resp, req, RESIDENT_SESSION_COOKIE, st, -1) < 0 ||
	    http_resp_redirect(resp, "/notice") < 0) {
		err_set(e, "cannot set the session cookie");
		goto out;
	}
	r = 0;
out:
	secure_wipe(st, sizeof(st));
	return r;
}

/* The click (POST /n/TOKEN) or a typed code: record the open, then the
 * batch's proof of identity. */
static int do_open(struct resident_ctx *rc, const struct http_request *req,
		   struct http_response *resp, const char *token, uint64_t batch, uint32_t seq)
{
	struct resident_notice n;
	struct notice_access a;
	struct page_site s;
	struct error e = { { 0 }, 0 };
	char csrf[HTTP_CSRF_LEN + 1];
	int r;

	r = resident_notice_load(rc, batch, seq, &n, &e);
	if (r > 0)
		return resident_contact(rc, resp);
	if (r < 0 || resident_record(rc, batch, seq, EV_OPEN, req->user_agent, set_opened, NULL,
				     &a, &e) < 0)
		goto fail;
	if (a.locked) {
		r = resident_locked_page(rc, resp, n.test);
	} else if (n.auth[0] == '\0' || strcmp(n.auth, "magic") == 0) {
		if (resident_record(rc, batch, seq, EV_AUTH_OK, req->user_agent, set_auth, NULL,
				    NULL, &e) < 0 ||
		    start_session(rc, req, resp, batch, seq, &e) < 0)
			goto fail;
		r = 0;
	} else {
		resident_site(rc, &s);
		r = http_csrf_token(req, resp, csrf) < 0
			    ? -1
			    : page_auth(&resp->body, &s, &n, token, csrf, "", "");
	}
	resident_notice_free(&n);
	return r;
fail:
	log_err("event=open_failed batch=%llu seq=%u reason=\"%s\"", (unsigned long long)batch, seq,
		e.msg);
	if (r == 0)
		resident_notice_free(&n);
	return -1;
}

struct otp_arg {
	const struct resident_notice *n;
	struct resident_ctx *rc;
	struct error *e;
	int locked;
};

/* A fresh OTP, hashed into a, and the mail that carries it queued in the
 * same transaction (the mailer sends DB_MAILQ requests). */
static int new_otp(struct store_txn *t, struct notice_access *a, void *arg)
{
	struct otp_arg *o = arg;
	char code[RESIDENT_OTP_DIGITS + 1];
	struct mailreq m;
	struct buf text;
	int r = -1;

	if (a->locked) {
		o->locked = 1;
		return 1;
	}
	memset(&m, 0, sizeof(m));
	buf_init(&text, 4096);
	if (resident_otp_new(store_txn_store(t), a, now_utc(), code, o->e) < 0)
		goto out;
	str_copy(m.kind, "otp", sizeof(m.kind));
	str_copy(m.to, o->n->email, sizeof(m.to));
	/* The code stays out of the subject, which lock screens show. */
	if (str_fmt(m.subject, sizeof(m.subject), "確認コードのお知らせ（%s）", o->rc->ward) < 0)
		str_copy(m.subject, "確認コードのお知らせ", sizeof(m.subject));
	if (buf_printf(&text,
		       "%sからのお知らせを開くための確認コードです。\n\n    %s\n\n"
		       "10分間有効です。このコードは誰にも教えないでください。\n"
		       "お心当たりのない場合は、このメールを破棄してください。\n",
		       o->rc->ward, code) < 0)
		goto out;
	m.text = (char *)text.data;
	m.created = now_utc();
	m.batch = o->n->batch;
	m.seq = o->n->seq;
	r = mailreq_add(t, &m, o->e);
out:
	m.text = NULL;
	buf_wipe(&text);
	secure_wipe(code, sizeof(code));
	return r < 0 ? -1 : 0;
}

/* Limiter keys: "ip:..." and "tok:BATCH:SEQ". */
static int over_limit(struct http_limiter *l, const char *kind, const char *what)
{
	char key[128];

	if (str_fmt(key, sizeof(key), "%s:%s", kind, what) < 0)
		return 1;
	return http_limiter_take(l, key) < 0;
}

static int too_many(struct http_response *resp)
{
	http_resp_error(resp, 429);
	return 0;
}

/* POST /n/TOKEN/otp: mail a fresh code. */
static int do_otp(struct resident_ctx *rc, const struct http_request *req,
		  struct http_response *resp, const char *token, uint64_t batch, uint32_t seq)
{
	struct resident_notice n;
	struct page_site s;
	struct error e = { { 0 }, 0 };
	struct otp_arg o = { NULL, rc, &e, 0 };
	char csrf[HTTP_CSRF_LEN + 1], tk[64];
	const char *note = "確認コードをメールでお送りしました。届いたコードを入力してください。";
	int r;

	if (str_fmt(tk, sizeof(tk), "%llu:%u", (unsigned long long)batch, seq) < 0 ||
	    over_limit(rc->otp_ip_limit, "ip", req->client_ip) ||
	    over_limit(rc->otp_tok_limit, "tok", tk))
		return too_many(resp);
	r = resident_notice_load(rc, batch, seq, &n, &e);
	if (r != 0)
		return r > 0 ? resident_contact(rc, resp) : -1;
	o.n = &n;
	if (strcmp(n.auth, "otp") != 0 || n.email[0] == '\0') {
		note = "";
	} else if (resident_record(rc, batch, seq, EV_OTP_SENT, req->user_agent, new_otp, &o, NULL,
				   &e) < 0) {
		log_err("event=otp_failed batch=%llu seq=%u reason=\"%s\"", (unsigned long long)batch,
			seq, e.msg);
		resident_notice_free(&n);
		return -1;
	}
	if (o.locked) {
		r = resident_locked_page(rc, resp, n.test);
	} else {
		resident_site(rc, &s);
		r = http_csrf_token(req, resp, csrf) < 0
			    ? -1
			    : page_auth(&resp->body, &s, &n, token, csrf, note,
					note[0] == '\0' ? "確認コードを送れませんでした。区役所にお問い合わせください。" : "");
	}
	resident_notice_free(&n);
	return r;
}

struct check_arg {
	const struct resident_notice *n;
	const char *answer;
	enum resident_check result;
	uint32_t left;
	int was_locked;
};

static int check_answer(struct store_txn *t, struct notice_access *a, void *arg)
{
	struct check_arg *c = arg;
	struct error e = { { 0 }, 0 };

	c->was_locked = a->locked;
	if (strcmp(c->n->auth, "otp") == 0)
		c->result = resident_otp_check(store_txn_store(t), a, c->answer, now_utc(), &e);
	else
		c->result = resident_value_check(a, c->answer, c->n->auth_value);
	if (c->result == RESIDENT_ERROR) {
		log_err("event=otp_check_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (c->result == RESIDENT_OK && a->auth_at == 0)
		a->auth_at = now_utc();
	c->left = a->failures < RESIDENT_MAX_FAILURES ? RESIDENT_MAX_FAILURES - a->failures : 0;
	return c->was_locked ? 1 : 0;
}

static enum notice_event check_event(enum resident_check r)
{
	return r == RESIDENT_OK ? EV_AUTH_OK : EV_AUTH_FAIL;
}

/* POST /n/TOKEN/auth: the OTP or the CSV value. */
static int do_auth(struct resident_ctx *rc, const struct http_request *req,
		   struct http_response *resp, const char *token, uint64_t batch, uint32_t seq)
{
	struct resident_notice n;
	struct page_site s;
	struct error e = { { 0 }, 0 };
	struct check_arg c = { NULL, http_form(req, "answer"), RESIDENT_WRONG, 0, 0 };
	char csrf[HTTP_CSRF_LEN + 1], msg[200];
	int r;

	if (over_limit(rc->auth_limit, "ip", req->client_ip))
		return too_many(resp);
	r = resident_notice_load(rc, batch, seq, &n, &e);
	if (r != 0)
		return r > 0 ? resident_contact(rc, resp) : -1;
	c.n = &n;
	if (c.answer == NULL)
		c.answer = "";
	if (strcmp(n.auth, "otp") != 0 && strcmp(n.auth, "csv") != 0) {
		r = resident_contact(rc, resp);
		goto out;
	}
	if (resident_record(rc, batch, seq, 0, NULL, check_answer, &c, NULL, &e) < 0)
		goto fail;
	/* The event, and a lock event when this answer locked the notice. */
	if ((!c.was_locked && resident_record(rc, batch, seq, check_event(c.result),
					      req->user_agent, NULL, NULL, NULL, &e) < 0) ||
	    (c.result == RESIDENT_LOCKED && !c.was_locked &&
	     resident_record(rc, batch, seq, EV_LOCKED, req->user_agent, NULL, NULL, NULL, &e) < 0))
		goto fail;
	if (c.result == RESIDENT_OK) {
		if (start_session(rc, req, resp, batch, seq, &e) < 0)
			goto fail;
		r = 0;
	} else if (c.result == RESIDENT_LOCKED) {
		r = resident_locked_page(rc, resp, n.test);
	} else {
		if (str_fmt(msg, sizeof(msg), "%s（あと%u回まで入力できます）",
			    c.result == RESIDENT_EXPIRED ? "確認コードの有効期限が切れています。もう一度受け取ってください。"
							 : "入力が正しくありません。",
			    c.left) < 0)
			msg[0] = '\0';
		resident_site(rc, &s);
		r = http_csrf_token(req, resp, csrf) < 0
			    ? -1
			    : page_auth(&resp->body, &s, &n, token, csrf, "", msg);
	}
out:
	resident_notice_free(&n);
	return r;
fail:
	log_err("event=auth_failed batch=%llu seq=%u reason=\"%s\"", (unsigned long long)batch, seq,
		e.msg);
	resident_notice_free(&n);
	return -1;
}

/* POST /n/TOKEN, /n/TOKEN/otp, /n/TOKEN/auth. */
static int h_post_n(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct error e = { { 0 }, 0 };
	char token[NOTICE_TOKEN_LEN + 1];
	const char *rest;
	uint64_t batch;
	uint32_t seq;
	int r;

	if (split_token(req->subpath, token, &rest) < 0)
		return resident_contact(rc, resp);
	r = find_link(rc, token, &batch, &seq, &e);
	if (r < 0) {
		log_err("event=link_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r > 0)
		return resident_contact(rc, resp);
	if (*rest == '\0')
		return do_open(rc, req, resp, token, batch, seq);
	if (strcmp(rest, "/otp") == 0)
		return do_otp(rc, req, resp, token, batch, seq);
	if (strcmp(rest, "/auth") == 0)
		return do_auth(rc, req, resp, token, batch, seq);
	return resident_contact(rc, resp);
}

/* POST /code: a typed notice code opens the notice like a click on the
 * link, through a short-lived link of its own. */
static int h_code(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	const char *typed = http_form(req, "code");
	char canon[NOTICE_CODE_SYMBOLS + 1], token[NOTICE_TOKEN_LEN + 1];
	uint64_t batch;
	uint32_t seq;
	int r;

	if (over_limit(rc->code_limit, "ip", req->client_ip))
		return too_many(resp);
	/* A typo is caught by the check symbol, before any lookup. */
	if (typed == NULL || notice_code_read(typed, canon) < 0)
		return resident_contact(rc, resp);
	if (store_begin(rc->st, 0, &t, &e) < 0)
		goto fail;
	r = notice_code_find(t, canon, &batch, &seq, &e);
	store_abort(&t);
	if (r < 0)
		goto fail;
	if (r > 0)
		return resident_contact(rc, resp);
	if (store_begin(rc->st, 1, &t, &e) < 0 ||
	    notice_link_new(t, batch, seq, now_utc() + RESIDENT_CODE_LINK_TTL, token, &e) < 0 ||
	    store_commit(&t, &e) < 0)
		goto fail;
	return do_open(rc, req, resp, token, batch, seq);
fail:
	store_abort(&t);
	log_err("event=code_failed reason=\"%s\"", e.msg);
	return -1;
}

static int h_health(const struct http_request *req, struct http_response *resp, void *ctx)
{
	(void)req;
	(void)ctx;
	resp->content_type = "text/plain; charset=utf-8";
	return buf_append_str(&resp->body, "ok\n");
}

/* The signature guide's pictures, from the binary (public, cached). */
static int h_static(const struct http_request *req, struct http_response *resp, void *ctx)
{
	const unsigned char *data;
	size_t len;

	(void)ctx;
	if (page_guide_img(req->subpath, &data, &len) < 0) {
		http_resp_error(resp, 404);
		return 0;
	}
	resp->cache_seconds = 86400;
	http_resp_bytes(resp, "image/png", data, len, NULL, NULL);
	return 0;
}

const struct http_route resident_routes[] = {
	{ "GET", "/", 0, h_front, 0 },
	{ "GET", "/healthz", 0, h_health, 0 },
	{ "GET", "/static/", HTTP_PREFIX, h_static, 0 },
	{ "POST", "/code", HTTP_SLOW, h_code, 4096 },
	{ "GET", "/n/", HTTP_PREFIX | HTTP_SLOW, h_link, 0 },
	{ "POST", "/n/", HTTP_PREFIX | HTTP_SLOW, h_post_n, 4096 },
	{ "GET", "/notice", HTTP_SLOW, resident_h_notice, 0 },
	{ "GET", "/notice/pdf", HTTP_SLOW | HTTP_TRY_FAST, resident_h_pdf, 0 },
	{ "GET", "/notice/cert", HTTP_SLOW, resident_h_cert, 0 },
	{ "GET", "/notice/guide", HTTP_SLOW, resident_h_guide, 0 },
	{ "POST", "/notice/consent", HTTP_SLOW, resident_h_consent, 4096 },
	{ "POST", "/notice/decline", HTTP_SLOW, resident_h_decline, 4096 },
	{ NULL, NULL, 0, NULL, 0 },
};

/* The host of a URL: "https://tayori.example.jp:8443/x" -> "tayori.example.jp:8443". */
static void url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://");

	p = p != NULL ? p + 3 : url;
	str_copy(out, p, size);
	out[strcspn(out, "/?#")] = '\0';
}

int resident_ctx_init(struct resident_ctx *rc, struct store *st, const struct conf *conf,
		      struct error *e)
{
	memset(rc, 0, sizeof(*rc));
	rc->st = st;
	str_copy(rc->ward, conf_str(conf, "tenant", "name"), sizeof(rc->ward));
	url_host(conf_str(conf, "portal", "public_url"), rc->ward_host, sizeof(rc->ward_host));
	str_copy(rc->announcement_url, conf_str(conf, "portal", "announcement_url"),
		 sizeof(rc->announcement_url));
	str_copy(rc->description, conf_str(conf, "portal", "description"),
		 sizeof(rc->description));
	str_copy(rc->terms, conf_str(conf, "portal", "consent_terms"), sizeof(rc->terms));
	/* Code lookups and answers: 5 a minute per address, 20 at once;
	 * OTP mails: 3 per 10 minutes per notice, 10 a minute per address. */
	rc->code_limit = http_limiter_new(4096, 5.0 / 60, 20);
	rc->auth_limit = http_limiter_new(4096, 5.0 / 60, 20);
	rc->otp_tok_limit = http_limiter_new(4096, 3.0 / 600, 3);
	rc->otp_ip_limit = http_limiter_new(4096, 10.0 / 60, 10);
	rc->pdfs = resident_cache_new((size_t)conf_int(conf, "portal", "pdf_cache"));
	rc->memo = resident_memo_new();
	if (rc->code_limit == NULL || rc->auth_limit == NULL || rc->otp_tok_limit == NULL ||
	    rc->otp_ip_limit == NULL || rc->pdfs == NULL || rc->memo == NULL) {
		resident_ctx_free(rc);
		return err_tmp(e, "out of memory");
	}
	if (resident_group_start(rc, e) < 0) {
		resident_ctx_free(rc);
		return -1;
	}
	return 0;
}

void resident_ctx_free(struct resident_ctx *rc)
{
	http_limiter_free(&rc->code_limit);
	http_limiter_free(&rc->auth_limit);
	http_limiter_free(&rc->otp_tok_limit);
	http_limiter_free(&rc->otp_ip_limit);
	/* After the listener stopped: no request waits any more. */
	resident_group_stop(rc);
	resident_cache_free(&rc->pdfs);
	resident_memo_free(&rc->memo);
}
