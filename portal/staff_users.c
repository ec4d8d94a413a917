/*
 * staff_users.c — the admins' users pages (PERM_MANAGE_USERS): the list of
 * accounts; adding one (login, name, e-mail, a role preset and individual
 * permissions; a one-time password shown once); disabling and enabling;
 * resetting a password (a new one-time password shown once, must_change
 * set, the member's sessions ended); setting the role and permissions.
 * Every change is behind the CSRF check, a destructive one behind a
 * confirmation page, and each is audited with the admin as actor (the same
 * actions as `tayori user`: staff.add, staff.disable, staff.enable,
 * staff.passwd, staff.permissions).  Refused, audited and answered with a
 * 403 page: an admin disabling themselves, and any change that would
 * leave no enabled account with the manage-users permission.  Argon2id
 * runs outside the store lock.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "portal/page_staff_users.h"
#include "portal/staff_users.h"

#define WHAT "ユーザー管理"

/* /users/SUB: "new", "N" or "N/ACTION". */
struct users_path {
	int is_new;
	uint64_t id;
	char action[16]; /* "" the account's page */
};

static int parse_path(const char *sub, struct users_path *p)
{
	char num[24];
	size_t n = strcspn(sub, "/");

	memset(p, 0, sizeof(*p));
	if (strcmp(sub, "new") == 0) {
		p->is_new = 1;
		return 0;
	}
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, sub, n);
	num[n] = '\0';
	if (staff_batch_id(num, &p->id) < 0)
		return -1;
	if (sub[n] == '\0')
		return 0;
	sub += n + 1;
	if (strcmp(sub, "disable") != 0 && strcmp(sub, "enable") != 0 &&
	    strcmp(sub, "reset") != 0 && strcmp(sub, "perms") != 0)
		return -1;
	str_copy(p->action, sub, sizeof(p->action));
	return 0;
}

static int not_found(struct http_response *resp, const struct staff_who *w)
{
	resp->status = 404;
	return page_staff_note(&resp->body, &w->u, "アカウントが見つかりません",
			       "指定されたアカウントはありません。", "/users", "ユーザー一覧に戻る");
}

/* A refused change: audited, a 403 page saying why. */
static int refused(struct staff_ctx *sc, const struct http_request *req,
		   struct http_response *resp, const struct staff_who *w, const char *target,
		   const char *reason, const char *why)
{
	char detail[96];

	str_fmt(detail, sizeof(detail), "reason=%s method=%s", reason, req->method);
	staff_audit(sc, w->actor, "staff.users_refused", target, req->client_ip, detail);
	resp->status = 403;
	return page_staff_note(&resp->body, &w->u, "この操作はできません", why, "/users",
			       "ユーザー一覧に戻る");
}

/* The permissions ticked in the form (every field named "perm"). */
static int form_perms(const struct http_request *req, uint32_t *out)
{
	struct error e = { { 0 }, 0 };
	uint32_t bits = 0, one;

	for (size_t i = 0; i < req->form.n; i++) {
		if (strcmp(req->form.f[i].name, "perm") != 0)
			continue;
		if (strchr(req->form.f[i].value, ',') != NULL ||
		    staff_perms_parse(req->form.f[i].value, &one, &e) < 0)
			return -1;
		bits |= one;
	}
	*out = bits;
	return 0;
}

int staff_h_users(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct users_path p;
	struct staff *list = NULL, s;
	size_t n = 0;
	int r = staff_guard(sc, req, resp, PERM_MANAGE_USERS, WHAT, "", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (strcmp(req->path, "/users") == 0) {
		if (staff_list(sc->st, &list, &n, &e) < 0) {
			log_err("event=staff_users_failed reason=\"%s\"", e.msg);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			secure_wipe(list[i].pwhash, sizeof(list[i].pwhash));
		r = page_staff_users(&resp->body, &w.u, list, n, "");
		secure_wipe(list, n * sizeof(*list));
		free(list);
		return r;
	}
	if (parse_path(req->subpath, &p) < 0 || strcmp(p.action, "perms") == 0)
		return not_found(resp, &w);
	if (p.is_new) {
		memset(&s, 0, sizeof(s));
		return page_staff_user_new(&resp->body, &w.u, &s, "");
	}
	r = staff_get(sc->st, p.id, &s, &e);
	if (r != 0) {
		if (r < 0)
			log_err("event=staff_users_failed reason=\"%s\"", e.msg);
		return r < 0 ? -1 : not_found(resp, &w);
	}
	secure_wipe(s.pwhash, sizeof(s.pwhash));
	if (p.action[0] == '\0')
		return page_staff_user(&resp->body, &w.u, &s, "");
	return page_staff_user_confirm(&resp->body, &w.u, &s, p.action);
}

/* POST /users/new: the checks, then Argon2 outside the lock, then the
 * account.  Entered and left with the store lock held. */
static int do_add(struct staff_ctx *sc, const struct http_request *req,
		  struct http_response *resp, const struct staff_who *w)
{
	struct error e = { { 0 }, 0 };
	struct staff s;
	struct staff_actor who = { w->actor, req->client_ip };
	const char *login = http_form(req, "login"), *name = http_form(req, "name"),
		   *email = http_form(req, "email"), *role = http_form(req, "role");
	char otp[24];
	uint32_t ticked = 0;
	int r;

	memset(&s, 0, sizeof(s));
	str_copy(s.login, login ? login : "", sizeof(s.login));
	str_copy(s.name, name ? name : "", sizeof(s.name));
	str_copy(s.email, email ? email : "", sizeof(s.email));
	str_copy(s.role, role ? role : "", sizeof(s.role));
	if (login == NULL || email == NULL || role == NULL || strlen(login) > STAFF_LOGIN_MAX ||
	    staff_login_valid(login, &e) < 0) {
		resp->status = 400;
		return page_staff_user_new(&resp->body, &w->u, &s,
					   "ユーザーIDは半角の英小文字・数字・. _ - で、64文字までにしてください。");
	}
	if (strlen(email) > STAFF_EMAIL_MAX || staff_email_valid(email, &e) < 0) {
		resp->status = 400;
		return page_staff_user_new(&resp->body, &w->u, &s, "メールアドレスの形が正しくありません。");
	}
	if (name != NULL && (strlen(name) > STAFF_NAME_MAX * 4 || strchr(name, '\n') != NULL)) {
		resp->status = 400;
		return page_staff_user_new(&resp->body, &w->u, &s, "氏名は1行、128文字までにしてください。");
	}
	if (staff_role_preset(role, &s.perms) < 0 || form_perms(req, &ticked) < 0) {
		resp->status = 400;
		return page_staff_user_new(&resp->body, &w->u, &s, "役割または権限の指定が正しくありません。");
	}
	if (ticked != 0)
		s.perms = ticked;
	s.must_change = 1;
	pthread_mutex_unlock(sc->lock);
	r = passwd_generate(otp, sizeof(otp)) < 0 ? -1 : passwd_hash(otp, &sc->pp, s.pwhash, &e);
	pthread_mutex_lock(sc->lock);
	if (r == 0)
		r = staff_add(sc->st, &s, &who, &e);
	secure_wipe(s.pwhash, sizeof(s.pwhash));
	if (r < 0 && !e.temporary && strstr(e.msg, "taken") != NULL)
		r = 1;
	else if (r < 0 && !e.temporary && strstr(e.msg, "another account") != NULL)
		r = 2;
	if (r != 0) {
		secure_wipe(otp, sizeof(otp));
		if (r < 0) {
			log_err("event=staff_add_failed reason=\"%s\"", e.msg);
			return -1;
		}
		resp->status = 409;
		return page_staff_user_new(&resp->body, &w->u, &s,
					   r == 1 ? "このユーザーIDはすでに使われています。"
						  : "このメールアドレスはほかのアカウントで使われています。");
	}
	r = page_staff_user_otp(&resp->body, &w->u, &s, otp, 0);
	secure_wipe(otp, sizeof(otp));
	return r;
}

/* The account's sessions end (reset, disable), audited; the lock held. */
static int end_sessions(struct staff_ctx *sc, const struct http_request *req,
			const struct staff_who *w, const char *target, uint64_t id,
			const char *reason, struct error *e)
{
	char detail[64];
	size_t ended = 0;

	if (staff_sessions_end_member(sc, id, NULL, &ended, e) < 0)
		return -1;
	str_fmt(detail, sizeof(detail), "ended=%zu reason=%s", ended, reason);
	staff_audit(sc, w->actor, "staff.sessions_end", target, req->client_ip, detail);
	return 0;
}

/* POST /users/N/reset: a new one-time password.  The lock held (let go
 * around Argon2). */
static int do_reset(struct staff_ctx *sc, const struct http_request *req,
		    struct http_response *resp, const struct staff_who *w, struct staff *s,
		    const char *target)
{
	struct error e = { { 0 }, 0 };
	struct staff_actor who = { w->actor, req->client_ip };
	char otp[24], hash[PASSWD_HASH_MAX];
	int r;

	pthread_mutex_unlock(sc->lock);
	r = passwd_generate(otp, sizeof(otp)) < 0 ? -1 : passwd_hash(otp, &sc->pp, hash, &e);
	pthread_mutex_lock(sc->lock);
	/* Read again: the account may have changed while hashing. */
	if (r == 0 && (r = staff_get(sc->st, s->id, s, &e)) > 0)
		r = err_set(&e, "the account is gone");
	if (r == 0) {
		str_copy(s->pwhash, hash, sizeof(s->pwhash));
		s->must_change = 1;
		r = staff_update(sc->st, s, &who, "staff.passwd", "one-time reset=admin", &e);
	}
	secure_wipe(hash, sizeof(hash));
	secure_wipe(s->pwhash, sizeof(s->pwhash));
	if (r == 0)
		r = end_sessions(sc, req, w, target, s->id, "reset", &e);
	if (r < 0) {
		secure_wipe(otp, sizeof(otp));
		log_err("event=staff_reset_failed reason=\"%s\"", e.msg);
		return -1;
	}
	r = page_staff_user_otp(&resp->body, &w->u, s, otp, 1);
	secure_wipe(otp, sizeof(otp));
	return r;
}

/* POST /users/N/{perms,disable,enable}.  The lock held. */
static int do_change(struct staff_ctx *sc, const struct http_request *req,
		     struct http_response *resp, const struct staff_who *w, struct staff *s,
		     const char *action, const char *target)
{
	struct error e = { { 0 }, 0 };
	struct staff_actor who = { w->actor, req->client_ip };
	char detail[200], perms[160], back[48];
	const char *role = http_form(req, "role"), *apply = http_form(req, "apply");
	uint32_t ticked = 0;
	int r;

	if (strcmp(action, "perms") == 0) {
		if (role == NULL || staff_role_preset(role, &s->perms) < 0 ||
		    form_perms(req, &ticked) < 0) {
			resp->status = 400;
			return page_staff_user(&resp->body, &w->u, s, "役割または権限の指定が正しくありません。");
		}
		str_copy(s->role, role, sizeof(s->role));
		if (apply == NULL || strcmp(apply, "role") != 0)
			s->perms = ticked;
	} else {
		s->disabled = strcmp(action, "disable") == 0;
	}
	if ((r = staff_managers_left(sc->st, s, &e)) < 0)
		goto fail;
	if (r == 0)
		return refused(sc, req, resp, w, target, "last_manager",
			       "ユーザー管理の権限をもつ有効なアカウントがなくなるため、この変更はできません。"
			       "先にほかのアカウントにユーザー管理の権限を付けてください。");
	staff_perms_format(s->perms, perms, sizeof(perms));
	str_fmt(detail, sizeof(detail), "role=%s perms=%s", s->role, perms);
	if (strcmp(action, "perms") == 0)
		r = staff_update(sc->st, s, &who, "staff.permissions", detail, &e);
	else
		r = staff_update(sc->st, s, &who, s->disabled ? "staff.disable" : "staff.enable", "",
				 &e);
	if (r == 0 && strcmp(action, "disable") == 0)
		r = end_sessions(sc, req, w, target, s->id, "disable", &e);
	if (r < 0)
		goto fail;
	str_fmt(back, sizeof(back), "/users/%llu", (unsigned long long)s->id);
	return http_resp_redirect(resp, back);
fail:
	log_err("event=staff_users_failed reason=\"%s\"", e.msg);
	return -1;
}

/* Entered and left with the store lock held. */
static int users_post(struct staff_ctx *sc, const struct http_request *req,
		      struct http_response *resp, struct staff_who *w, const struct users_path *p)
{
	struct error e = { { 0 }, 0 };
	struct staff s;
	char target[40];
	int r;

	if (p->is_new)
		return do_add(sc, req, resp, w);
	str_fmt(target, sizeof(target), "staff:%llu", (unsigned long long)p->id);
	if (p->action[0] == '\0')
		return not_found(resp, w);
	if ((r = staff_get(sc->st, p->id, &s, &e)) != 0) {
		if (r < 0)
			log_err("event=staff_users_failed reason=\"%s\"", e.msg);
		return r < 0 ? -1 : not_found(resp, w);
	}
	/* s keeps its password hash: a change of permissions or of the
	 * disabled flag rewrites the whole record. */
	if (s.id == w->s.id && strcmp(p->action, "disable") == 0)
		r = refused(sc, req, resp, w, target, "self_disable",
			    "自分のアカウントは停止できません。ほかの管理者に依頼してください。");
	else if (s.id == w->s.id && strcmp(p->action, "reset") == 0)
		r = refused(sc, req, resp, w, target, "self_reset",
			    "自分のパスワードは「パスワード」の画面で変更してください。");
	else if (strcmp(p->action, "reset") == 0)
		r = do_reset(sc, req, resp, w, &s, target);
	else
		r = do_change(sc, req, resp, w, &s, p->action, target);
	secure_wipe(&s, sizeof(s));
	return r;
}

int staff_h_users_post(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct users_path p;
	char target[40] = "";
	int r;

	if (parse_path(req->subpath, &p) < 0)
		p.is_new = 0, p.id = 0;
	else if (!p.is_new)
		str_fmt(target, sizeof(target), "staff:%llu", (unsigned long long)p.id);
	pthread_mutex_lock(sc->lock);
	r = staff_guard(sc, req, resp, PERM_MANAGE_USERS, WHAT, target, &w);
	if (r == 0)
		r = staff_csrf_own(sc, req, resp, &w, target, "users");
	if (r == 0)
		r = p.is_new || p.id != 0 ? users_post(sc, req, resp, &w, &p) : not_found(resp, &w);
	pthread_mutex_unlock(sc->lock);
	return r < 0 ? -1 : 0;
}
