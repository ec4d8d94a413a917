/*
 * staff_password.c — a staff member changes their own password on the
 * dashboard (/password): the current password, the new one twice, a
 * strength rule (staff_password_rule), the Argon2id check and hash in the
 * worker pool and outside the store lock, the staff record rewritten with
 * its audit record in one commit, and every other session of the member
 * ended.  A one-time password (must_change) leads here first and is
 * cleared by the change.  A wrong current password counts towards the
 * account's lockout, as a failed login does.  Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "portal/page_staff_users.h"
#include "portal/staff_users.h"

#define PASSWORD_MIN_CHARS   12 /* a password of one piece */
#define PASSPHRASE_MIN_WORDS 4  /* ... or a passphrase of this many words */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Words separated by ASCII spaces or ideographic spaces (U+3000). */
static size_t words(const char *s)
{
	size_t n = 0;
	int in = 0;

	while (*s) {
		int sp = *s == ' ' || strncmp(s, "\xe3\x80\x80", 3) == 0;
		if (sp) {
			in = 0;
			s += *s == ' ' ? 1 : 3;
			continue;
		}
		n += !in;
		in = 1;
		s++;
	}
	return n;
}

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i;
		for (i = 0; i < n && hay[i]; i++) {
			char a = hay[i], b = needle[i];
			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (char)(b - 'A' + 'a');
			if (a != b)
				break;
		}
		if (i == n)
			return 1;
	}
	return 0;
}

int staff_password_rule(const char *pw, const char *login, const char *old, const char **why)
{
	struct error e = { { 0 }, 0 };
	size_t chars = utf8_chars(pw);

	if (passwd_acceptable(pw, &e) < 0) {
		*why = strlen(pw) > PASSWD_MAX_LEN ? "新しいパスワードが長すぎます（256バイトまで）。"
		       : chars < PASSWD_MIN_LEN ? "新しいパスワードが短すぎます。12文字以上にしてください。"
						: "新しいパスワードに使えない文字（制御文字）が入っています。";
		return -1;
	}
	if (chars < PASSWORD_MIN_CHARS && words(pw) < PASSPHRASE_MIN_WORDS) {
		*why = "新しいパスワードが短すぎます。12文字以上にするか、"
		       "4語以上をスペースで区切った合言葉にしてください。";
		return -1;
	}
	if (login[0] != '\0' && contains_ci(pw, login)) {
		*why = "新しいパスワードにユーザーIDを含めないでください。";
		return -1;
	}
	if (old != NULL && strcmp(pw, old) == 0) {
		*why = "新しいパスワードが今のパスワードと同じです。別のものにしてください。";
		return -1;
	}
	return 0;
}

int staff_sessions_end_member(struct staff_ctx *sc, uint64_t id, const char *keep, size_t *n,
			      struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, cap = 0, count = 0;
	uint8_t (*del)[32] = NULL, skip[32] = { 0 };
	int r, ret = -1;

	if (keep != NULL && notice_token_shape(keep) == 0)
		notice_token_hash(keep, skip);
	if (store_begin(sc->st, 1, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_SESSIONS, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		char kind[16] = "";
		if (kl != 32 || rec_get_str(v, vl, NR_KIND, kind, sizeof(kind)) < 0 ||
		    strcmp(kind, "staff") != 0 || rec_get_u64(v, vl, NR_BATCH, 0) != id ||
		    memcmp(k, skip, 32) == 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			del = xrealloc(del, cap * sizeof(*del));
		}
		memcpy(del[count++], k, 32);
	}
	store_iter_close(&it);
	if (r < 0) {
		err_tmp(e, "cannot read the sessions");
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if (store_del(t, DB_SESSIONS, del[i], 32, e) < 0)
			goto out;
	if (store_commit(&t, e) < 0)
		goto out;
	*n = count;
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(del);
	return ret;
}

int staff_h_password_form(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	int r;

	pthread_mutex_lock(sc->lock);
	r = staff_guard(sc, req, resp, 0, "", "", &w);
	pthread_mutex_unlock(sc->lock);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return page_staff_password_form(&resp->body, &w.u, w.s.must_change, "");
}

/* The form again, with why; the refusal audited (the store lock held). */
static int refuse(struct staff_ctx *sc, const struct http_request *req,
		  struct http_response *resp, const struct staff_who *w, const char *reason,
		  const char *why)
{
	char detail[64];

	str_fmt(detail, sizeof(detail), "reason=%s", reason);
	staff_audit(sc, w->actor, "staff.passwd_refused", w->actor, req->client_ip, detail);
	resp->status = 400;
	return page_staff_password_form(&resp->body, &w->u, w->s.must_change, why);
}

/* The checks before any hashing: the fields, the rule.  0 go on, 1
 * answered; the store lock held. */
static int check_form(struct staff_ctx *sc, const struct http_request *req,
		      struct http_response *resp, const struct staff_who *w, const char *cur,
		      const char *pw, const char *pw2)
{
	const char *why = NULL;

	if (cur == NULL || pw == NULL || pw2 == NULL || cur[0] == '\0' || pw[0] == '\0' ||
	    strlen(cur) > PASSWD_MAX_LEN)
		return refuse(sc, req, resp, w, "missing",
			      "今のパスワードと新しいパスワード（2回）を入力してください。") < 0 ? -1 : 1;
	if (strcmp(pw, pw2) != 0)
		return refuse(sc, req, resp, w, "mismatch",
			      "新しいパスワードが2回とも同じではありません。もう一度入力してください。") < 0
			       ? -1 : 1;
	if (staff_password_rule(pw, w->s.login, cur, &why) < 0)
		return refuse(sc, req, resp, w, "weak", why) < 0 ? -1 : 1;
	return 0;
}

/* The new hash in the record, must_change cleared, audited; the other
 * sessions ended.  The store lock held. */
static int store_change(struct staff_ctx *sc, const struct http_request *req,
			const struct staff_who *w, const char *hash, struct error *e)
{
	struct staff s;
	struct staff_actor who = { w->actor, req->client_ip };
	char detail[64];
	size_t ended = 0;
	int r;

	if ((r = staff_get(sc->st, w->s.id, &s, e)) != 0)
		return r < 0 ? -1 : err_set(e, "the account is gone");
	str_copy(s.pwhash, hash, sizeof(s.pwhash));
	str_fmt(detail, sizeof(detail), "self=yes was_one_time=%s", s.must_change ? "yes" : "no");
	s.must_change = 0;
	r = staff_update(sc->st, &s, &who, "staff.passwd", detail, e);
	secure_wipe(&s, sizeof(s));
	if (r < 0)
		return -1;
	if (staff_sessions_end_member(sc, w->s.id, http_cookie(req, STAFF_SESSION_COOKIE), &ended,
				      e) < 0)
		return -1;
	str_fmt(detail, sizeof(detail), "ended=%zu reason=passwd", ended);
	staff_audit(sc, w->actor, "staff.sessions_end", w->actor, req->client_ip, detail);
	return 0;
}

int staff_h_password_change(const struct http_request *req, struct http_response *resp,
			    void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	const char *cur = http_form(req, "current"), *pw = http_form(req, "password"),
		   *pw2 = http_form(req, "password2");
	struct staff_who w;
	struct staff s;
	char hash[PASSWD_HASH_MAX], akey[80];
	int r, ok;

	pthread_mutex_lock(sc->lock);
	r = staff_guard(sc, req, resp, 0, "", "", &w);
	if (r == 0)
		r = staff_csrf_own(sc, req, resp, &w, w.actor, "passwd");
	if (r == 0)
		r = check_form(sc, req, resp, &w, cur, pw, pw2);
	if (r == 0 && (r = staff_get(sc->st, w.s.id, &s, &e)) > 0)
		r = -1;
	pthread_mutex_unlock(sc->lock);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* Argon2id twice, outside the lock. */
	ok = passwd_verify(s.pwhash, cur) == 0;
	secure_wipe(&s, sizeof(s));
	str_fmt(akey, sizeof(akey), "a:%s", w.s.login);
	if (!ok) {
		int locks = staff_fail_add(sc, akey, STAFF_FAIL_ACCOUNT, now_utc());
		pthread_mutex_lock(sc->lock);
		r = refuse(sc, req, resp, &w, "current", "今のパスワードが違います。");
		if (locks)
			staff_audit(sc, w.actor, "staff.lockout", w.actor, req->client_ip,
				    "scope=account");
		pthread_mutex_unlock(sc->lock);
		return r;
	}
	if (passwd_hash(pw, &sc->pp, hash, &e) < 0) {
		log_err("event=staff_passwd_failed reason=\"%s\"", e.msg);
		return -1;
	}
	pthread_mutex_lock(sc->lock);
	r = store_change(sc, req, &w, hash, &e);
	pthread_mutex_unlock(sc->lock);
	secure_wipe(hash, sizeof(hash));
	if (r < 0) {
		log_err("event=staff_passwd_failed reason=\"%s\"", e.msg);
		return -1;
	}
	w.u.perms = w.s.perms;
	return page_staff_note(&resp->body, &w.u, "パスワードを変更しました",
			       "新しいパスワードを設定しました。ほかの端末やブラウザーでのログインは"
			       "終了しました。次からは新しいパスワードでログインしてください。",
			       "/batches", "バッチ一覧へ");
}
