/*
 * staff_login.c — the staff login (user ID and password, the Argon2id hash
 * checked in the worker pool and outside the store lock), lockout per
 * account and per IP with audit records, the session cookie, logout (the
 * session removed on the server).  The password page is
 * staff_password.c.  Runs in the portal process.
 */
#include <string.h>

#include "lib/log.h"
#include "portal/staff_int.h"

int staff_h_login_form(const struct http_request *req, struct http_response *resp, void *ctx)
{
	char csrf[HTTP_CSRF_LEN + 1];

	(void)ctx;
	if (http_csrf_token(req, resp, csrf) < 0)
		return -1;
	return page_staff_login(&resp->body, csrf, "", "");
}

int staff_h_root(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	uint64_t id;
	int r = staff_session_find(sc, http_cookie(req, STAFF_SESSION_COOKIE), now_utc(), &id, &e);

	if (r < 0) {
		log_err("event=staff_session_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 0)
		return http_resp_redirect(resp, "/batches");
	return staff_h_login_form(req, resp, ctx);
}

static int login_page(const struct http_request *req, struct http_response *resp,
		      unsigned status, const char *login, const char *error)
{
	char csrf[HTTP_CSRF_LEN + 1];

	if (http_csrf_token(req, resp, csrf) < 0)
		return -1;
	resp->status = status;
	return page_staff_login(&resp->body, csrf, login, error);
}

/* A failed login: counted against the account (when known) and the IP,
 * audited, and the lockout audited when this failure sets it (one commit:
 * staff_lockout.c). */
static void login_failed(struct staff_ctx *sc, const struct http_request *req,
			 const struct staff *s, const char *akey, const char *ikey,
			 const char *reason)
{
	char actor[32] = "unknown", detail[64];

	if (s != NULL)
		str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)s->id);
	str_fmt(detail, sizeof(detail), "reason=%s", reason);
	staff_fail_login(sc, s != NULL ? akey : NULL, ikey, now_utc(), actor, req->client_ip,
			 detail);
}

/* Logged in: a session, its cookie, an audit record. */
static int login_ok(struct staff_ctx *sc, const struct http_request *req,
		    struct http_response *resp, const struct staff *s, const char *akey)
{
	struct error e = { { 0 }, 0 };
	char token[NOTICE_TOKEN_LEN + 1], actor[32];
	int r;

	staff_fail_clear(sc, akey);
	str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)s->id);
	pthread_mutex_lock(sc->lock);
	r = staff_session_new(sc, s->id, now_utc(), token, &e);
	if (r == 0)
		staff_audit(sc, actor, "staff.login", actor, req->client_ip,
			    s->must_change ? "must_change=yes" : "");
	pthread_mutex_unlock(sc->lock);
	if (r < 0) {
		log_err("event=staff_login_failed reason=\"%s\"", e.msg);
		return -1;
	}
	r = http_resp_cookie(resp, req, STAFF_SESSION_COOKIE, token, -1);
	secure_wipe(token, sizeof(token));
	if (r < 0)
		return -1;
	return http_resp_redirect(resp, s->must_change ? "/password" : "/batches");
}

int staff_h_login(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	const char *login = http_form(req, "login"), *pw = http_form(req, "password");
	char akey[80], ikey[80];
	struct staff s;
	int r, ok;

	if (login == NULL || pw == NULL || login[0] == '\0' || strlen(login) > STAFF_LOGIN_MAX ||
	    strlen(pw) > PASSWD_MAX_LEN)
		return login_page(req, resp, 400, "", "ユーザーIDとパスワードを入力してください。");
	str_fmt(akey, sizeof(akey), "a:%s", login);
	str_fmt(ikey, sizeof(ikey), "i:%s", req->client_ip);
	if (staff_fail_locked(sc, ikey, now_utc()) || staff_fail_locked(sc, akey, now_utc())) {
		pthread_mutex_lock(sc->lock);
		staff_audit(sc, "unknown", "staff.login_locked", "", req->client_ip, "");
		pthread_mutex_unlock(sc->lock);
		return login_page(req, resp, 429, login,
				  "ログインの失敗が続いたため、しばらくログインできません。"
				  "15分ほど待ってから、もう一度お試しください。");
	}
	pthread_mutex_lock(sc->lock);
	r = staff_find_login(sc->st, login, &s, &e);
	pthread_mutex_unlock(sc->lock);
	if (r < 0) {
		log_err("event=staff_login_failed reason=\"%s\"", e.msg);
		return -1;
	}
	/* Argon2id, outside the lock: an unknown login takes as long. */
	ok = passwd_verify(r == 0 ? s.pwhash : sc->dummy_hash, pw) == 0;
	if (r == 0)
		secure_wipe(s.pwhash, sizeof(s.pwhash));
	if (!ok || r != 0 || s.disabled) {
		login_failed(sc, req, r == 0 ? &s : NULL, akey, ikey,
			     r != 0 ? "unknown" : !ok ? "password" : "disabled");
		return login_page(req, resp, 200, login,
				  "ユーザーIDまたはパスワードが違います（または使えないアカウントです）。");
	}
	return login_ok(sc, req, resp, &s, akey);
}

int staff_h_logout(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	int r = staff_guard(sc, req, resp, 0, "", "", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (staff_session_end(sc, http_cookie(req, STAFF_SESSION_COOKIE), &e) < 0) {
		log_err("event=staff_logout_failed reason=\"%s\"", e.msg);
		return -1;
	}
	staff_audit(sc, w.actor, "staff.logout", w.actor, req->client_ip, "");
	if (http_resp_cookie(resp, req, STAFF_SESSION_COOKIE, "", 0) < 0)
		return -1;
	return http_resp_redirect(resp, "/login");
}
