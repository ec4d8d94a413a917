/*
 * staff.c — the staff listener: its context and routes, the audit helper,
 * and the guard in front of every page and action (a valid session, an
 * enabled account, a one-time password already changed, the permission
 * the page needs; a refusal is audited and answered with a Japanese 403
 * page).  Handlers that touch the store run HTTP_SLOW and hold the lock
 * the resident side holds.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/store.h"
#include "portal/staff_int.h"
#include "portal/staff_upload.h"
#include "portal/staff_users.h"
#include "portal/staff_live.h"

int staff_ctx_init(struct staff_ctx *sc, struct store *st, pthread_mutex_t *lock,
		   const struct conf *conf, struct error *e)
{
	struct passwd_params pp = { 19456, 2 };
	char random[24];

	memset(sc, 0, sizeof(*sc));
	sc->st = st;
	sc->lock = lock;
	sc->idle = conf_int(conf, "portal", "staff_idle");
	sc->ttl = conf_int(conf, "portal", "session_ttl");
	sc->lockout = conf_int(conf, "portal", "staff_lockout");
	sc->four_eyes = conf_int(conf, "policy", "four_eyes") != 0;
	if (conf_path(conf, "paths", "data_dir", sc->data_dir, sizeof(sc->data_dir)) < 0)
		return err_set(e, "the data directory's path is too long");
	sc->upload_max = (size_t)conf_int(conf, "limits", "message_size");
	sc->upload_files = (size_t)conf_int(conf, "limits", "attachments");
	sc->conf = conf;
	pp.memory_kib = (unsigned)conf_int(conf, "security", "argon2_memory_kib");
	pp.iterations = (unsigned)conf_int(conf, "security", "argon2_iterations");
	/* An unknown login is checked against this, so it takes as long. */
	if (passwd_generate(random, sizeof(random)) < 0 ||
	    passwd_hash(random, &pp, sc->dummy_hash, e) < 0)
		return -1;
	sc->pp = pp;
	if (staff_live_start(st, sc->idle, &sc->live, e) < 0)
		return -1;
	return 0;
}

void staff_ctx_listener(struct staff_ctx *sc, struct http_listener *l)
{
	staff_live_set_listener(sc->live, l);
}

void staff_ctx_free(struct staff_ctx *sc)
{
	staff_live_stop(&sc->live); /* after the listener stopped: its streams are released */
	memset(sc, 0, sizeof(*sc));
}

int staff_audit(struct staff_ctx *sc, const char *actor, const char *action, const char *target,
		const char *from, const char *detail)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	struct audit_entry a = { actor, action, target, from, detail };

	if (store_begin(sc->st, 1, &t, &e) < 0 || audit_append(t, &a, NULL, &e) < 0 ||
	    store_commit(&t, &e) < 0) {
		store_abort(&t);
		log_err("event=staff_audit_failed action=%s reason=\"%s\"", action, e.msg);
		return -1;
	}
	return 0;
}

int staff_batch_id(const char *s, uint64_t *id)
{
	char *end;
	unsigned long long v;

	if (s == NULL || s[0] < '1' || s[0] > '9' || strlen(s) > 19)
		return -1;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -1;
	*id = v;
	return 0;
}

static int to_login(struct http_response *resp)
{
	return http_resp_redirect(resp, "/login");
}

static const char *perm_name(uint32_t perm)
{
	static const char *const names[] = { "view", "submit", "approve", "send",
					     "remind", "export", "manage-users", "audit" };
	for (size_t i = 0; i < 8; i++)
		if (perm == 1u << i)
			return names[i];
	return "?";
}

int staff_guard(struct staff_ctx *sc, const struct http_request *req, struct http_response *resp,
		uint32_t perm, const char *what, const char *target, struct staff_who *w)
{
	struct error e = { { 0 }, 0 };
	const char *token = http_cookie(req, STAFF_SESSION_COOKIE);
	char detail[160];
	uint64_t id = 0;
	int r;

	memset(w, 0, sizeof(*w));
	r = staff_session_find(sc, token, now_utc(), &id, &e);
	if (r == 0)
		r = staff_get(sc->st, id, &w->s, &e);
	if (r < 0) {
		log_err("event=staff_session_failed reason=\"%s\"", e.msg);
		return -1;
	}
	if (r == 0 && w->s.disabled) {
		staff_session_end(sc, token, &e);
		r = 1;
	}
	secure_wipe(w->s.pwhash, sizeof(w->s.pwhash));
	if (r != 0)
		return to_login(resp) < 0 ? -1 : 1;
	str_fmt(w->actor, sizeof(w->actor), "staff:%llu", (unsigned long long)w->s.id);
	if (http_csrf_token(req, resp, w->csrf) < 0)
		return -1;
	w->u = (struct page_staff_user){ w->s.login, w->s.name, w->csrf, w->s.perms };
	if (w->s.must_change && strcmp(req->path, "/password") != 0 &&
	    strcmp(req->path, "/logout") != 0)
		return http_resp_redirect(resp, "/password") < 0 ? -1 : 1;
	if (perm == 0 || (w->s.perms & perm))
		return 0;
	str_fmt(detail, sizeof(detail), "need=%s method=%s", perm_name(perm), req->method);
	staff_audit(sc, w->actor, "staff.refused", target, req->client_ip, detail);
	resp->status = 403;
	return page_staff_refused(&resp->body, &w->u, what) < 0 ? -1 : 1;
}

/* Every handler that touches the store holds the lock (the login takes it
 * itself, around the store only: not around Argon2). */
#define LOCKED(name)                                                                          \
	static int locked_##name(const struct http_request *req, struct http_response *resp,  \
				 void *ctx)                                                   \
	{                                                                                     \
		struct staff_ctx *sc = ctx;                                                   \
		int r;                                                                        \
		pthread_mutex_lock(sc->lock);                                                 \
		r = name(req, resp, ctx);                                                     \
		pthread_mutex_unlock(sc->lock);                                               \
		return r;                                                                     \
	}
LOCKED(staff_h_root)
LOCKED(staff_h_logout)
LOCKED(staff_h_batches)
LOCKED(staff_h_batch)
LOCKED(staff_h_confirm)
LOCKED(staff_h_action)
LOCKED(staff_h_upload_form)
LOCKED(staff_h_upload)
LOCKED(staff_h_upload_early)
LOCKED(staff_h_upload_status)
LOCKED(staff_h_users)
LOCKED(staff_h_audit)
LOCKED(staff_h_resident)
LOCKED(staff_h_act_confirm)
LOCKED(staff_h_act)
LOCKED(staff_h_export)
LOCKED(staff_h_settings)
LOCKED(staff_h_help)

static int h_health(const struct http_request *req, struct http_response *resp, void *ctx)
{
	(void)req, (void)ctx;
	resp->content_type = "text/plain; charset=utf-8";
	return buf_append_str(&resp->body, "ok\n");
}

const struct http_route staff_routes[] = {
	{ "GET", "/", HTTP_SLOW, locked_staff_h_root, 0 },
	{ "GET", "/healthz", 0, h_health, 0 },
	{ "GET", "/login", 0, staff_h_login_form, 0 },
	{ "POST", "/login", HTTP_SLOW, staff_h_login, 0 },
	{ "POST", "/logout", HTTP_SLOW, locked_staff_h_logout, 0 },
	{ "GET", "/password", HTTP_SLOW, staff_h_password_form, 0 },
	{ "POST", "/password", HTTP_SLOW | HTTP_CSRF_OWN, staff_h_password_change, 0 },
	{ "GET", "/batches", HTTP_SLOW, locked_staff_h_batches, 0 },
	{ "GET", "/batches/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_batch, 0 },
	{ "GET", "/approve/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_confirm, 0 },
	{ "GET", "/send/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_confirm, 0 },
	{ "POST", "/approve/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, locked_staff_h_action, 0 },
	{ "POST", "/send/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, locked_staff_h_action, 0 },
	{ "GET", "/upload", HTTP_SLOW, locked_staff_h_upload_form, 0 },
	{ "POST", "/upload", HTTP_SLOW | HTTP_CSRF_OWN | HTTP_BODY_CONF, locked_staff_h_upload, 0 },
	{ "GET", "/upload/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_upload_status, 0 },
	{ "GET", "/users", HTTP_SLOW, locked_staff_h_users, 0 },
	{ "GET", "/users/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_users, 0 },
	{ "POST", "/users/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, staff_h_users_post, 0 },
	{ "GET", "/audit", HTTP_SLOW, locked_staff_h_audit, 0 },
	{ "POST", "/audit/verify", HTTP_SLOW | HTTP_CSRF_OWN, locked_staff_h_audit, 0 },
	{ "GET", "/residents/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_resident, 0 },
	{ "GET", "/sendat/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_act_confirm, 0 },
	{ "GET", "/remind/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_act_confirm, 0 },
	{ "GET", "/withdraw/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_act_confirm, 0 },
	{ "GET", "/unlock/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_act_confirm, 0 },
	{ "POST", "/sendat/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, locked_staff_h_act, 0 },
	{ "POST", "/remind/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, locked_staff_h_act, 0 },
	{ "POST", "/withdraw/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, locked_staff_h_act, 0 },
	{ "POST", "/unlock/", HTTP_SLOW | HTTP_PREFIX | HTTP_CSRF_OWN, locked_staff_h_act, 0 },
	{ "GET", "/export/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_export, 0 },
	{ "GET", "/settings", HTTP_SLOW, locked_staff_h_settings, 0 },
	{ "POST", "/settings", HTTP_SLOW | HTTP_CSRF_OWN, locked_staff_h_settings, 0 },
	{ "GET", "/help", HTTP_SLOW, locked_staff_h_help, 0 },
	{ "GET", "/help/", HTTP_SLOW | HTTP_PREFIX, locked_staff_h_help, 0 },
	{ "GET", "/static/help/", HTTP_PREFIX, staff_h_help_img, 0 },
	{ "GET", "/static/dashboard.js", 0, staff_h_script, 0 },
	{ NULL, NULL, 0, NULL, 0 },
};

/* The checks made once a POST's headers are in, before its body is read. */
const struct http_route staff_early_routes[] = {
	{ "POST", "/upload", HTTP_SLOW, locked_staff_h_upload_early, 0 },
	{ NULL, NULL, 0, NULL, 0 },
};
