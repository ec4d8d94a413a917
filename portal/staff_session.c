/*
 * staff_session.c — staff sessions in the store, kept only as the SHA-256
 * of their token and MACed by the keys process (lib/notice.h's sessions,
 * kind "staff"), with an idle time-out and an absolute limit (the lockout
 * counters are in staff_lockout.c), and the session-bound CSRF check of
 * the actions that audit its refusals.  The session functions run with the
 * store lock held.  Runs in the portal process.
 */
#include <string.h>

#include "lib/rec.h"
#include "lib/store.h"
#include "lib/util.h"
#include "portal/staff_int.h"

#define SESSION_REC_MAX 1024

/* The session record without its version and MAC. */
static int session_rec(struct buf *rec, uint64_t id, int64_t created, int64_t last,
		       int64_t expires)
{
	/* rec.h: tags ascending */
	return rec_put_u64(rec, NR_BATCH, id) | rec_put_u64(rec, NR_CREATED, (uint64_t)created) |
	       rec_put_u64(rec, NR_LAST_AT, (uint64_t)last) |
	       rec_put_u64(rec, NR_EXPIRES, (uint64_t)expires) | rec_put_str(rec, NR_KIND, "staff");
}

static int session_write(struct staff_ctx *sc, const uint8_t h[32], uint64_t version,
			 uint64_t id, int64_t created, int64_t last, int64_t expires,
			 struct error *e)
{
	struct buf rec;
	struct store_txn *t = NULL;
	int ret = -1;

	buf_init(&rec, SESSION_REC_MAX);
	if (session_rec(&rec, id, created, last, expires) != 0) {
		err_set(e, "session record");
		goto out;
	}
	if (notice_seal_rec(sc->st, DB_SESSIONS, h, 32, version, &rec, e) < 0 ||
	    store_begin(sc->st, 1, &t, e) < 0 ||
	    store_put(t, DB_SESSIONS, h, 32, rec.data, rec.len, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	buf_free(&rec);
	return ret;
}

int staff_session_new(struct staff_ctx *sc, uint64_t id, int64_t now,
		      char token[NOTICE_TOKEN_LEN + 1], struct error *e)
{
	uint8_t h[32];

	if (notice_token_new(token, e) < 0)
		return -1;
	notice_token_hash(token, h);
	return session_write(sc, h, 1, id, now, now, now + sc->ttl, e);
}

static int session_del(struct staff_ctx *sc, const uint8_t h[32], struct error *e)
{
	struct store_txn *t = NULL;
	int r;

	if (store_begin(sc->st, 1, &t, e) < 0)
		return -1;
	r = store_del(t, DB_SESSIONS, h, 32, e);
	if (r >= 0 && store_commit(&t, e) < 0)
		r = -1;
	store_abort(&t);
	return r < 0 ? -1 : 0;
}

int staff_session_find(struct staff_ctx *sc, const char *token, int64_t now, uint64_t *id,
		       struct error *e)
{
	uint8_t h[32], copy[SESSION_REC_MAX];
	struct store_txn *t = NULL;
	const void *v;
	size_t vl;
	char kind[16];
	int64_t created, last, expires;
	int r;

	if (token == NULL || notice_token_shape(token) != 0)
		return 1;
	notice_token_hash(token, h);
	if (store_begin(sc->st, 0, &t, e) < 0)
		return -1;
	r = store_get(t, DB_SESSIONS, h, sizeof(h), &v, &vl, e);
	if (r == 0 && vl > sizeof(copy))
		r = 1;
	if (r == 0)
		memcpy(copy, v, vl);
	store_abort(&t);
	if (r != 0)
		return r;
	r = notice_check_rec(sc->st, DB_SESSIONS, h, sizeof(h), copy, vl, e);
	if (r != 0)
		return r;
	if (rec_get_str(copy, vl, NR_KIND, kind, sizeof(kind)) < 0 || strcmp(kind, "staff") != 0)
		return 1;
	created = (int64_t)rec_get_u64(copy, vl, NR_CREATED, 0);
	last = (int64_t)rec_get_u64(copy, vl, NR_LAST_AT, 0);
	expires = (int64_t)rec_get_u64(copy, vl, NR_EXPIRES, 0);
	if (expires <= now || last + sc->idle <= now)
		return session_del(sc, h, e) < 0 ? -1 : 1;
	*id = rec_get_u64(copy, vl, NR_BATCH, 0);
	/* Written now and then, well inside the idle time-out, so that a
	 * session in use never reads as idle. */
	if (now - last >= (sc->idle / 4 < STAFF_TOUCH_SECONDS ? sc->idle / 4 : STAFF_TOUCH_SECONDS) &&
	    session_write(sc, h, rec_get_u64(copy, vl, NR_VERSION, 0) + 1, *id, created, now,
			  expires, e) < 0)
		return -1;
	return 0;
}

int staff_session_end(struct staff_ctx *sc, const char *token, struct error *e)
{
	uint8_t h[32];

	if (token == NULL || notice_token_shape(token) != 0)
		return 0;
	notice_token_hash(token, h);
	return session_del(sc, h, e);
}

int staff_csrf_check(struct staff_ctx *sc, const struct http_request *req,
		     struct http_response *resp, const struct staff_who *w, const char *target,
		     const char *what, const char *screen)
{
	char text[512];

	if (http_csrf_check(req) == 0)
		return 0;
	staff_audit(sc, w->actor, "staff.csrf_refused", target, req->client_ip, what);
	resp->status = 403;
	/* The second sentence names the screen to open again, where there is one. */
	if (str_fmt(text, sizeof(text), "画面が古いか、このサイトの画面から送られたものではありません。"
		    "%s画面を開き直して、もう一度操作してください。", screen) < 0 ||
	    page_staff_note(&resp->body, &w->u, "送信を受け付けられません", text, "/batches",
			    "バッチ一覧に戻る") < 0)
		return -1;
	return 1;
}

int staff_csrf_own(struct staff_ctx *sc, const struct http_request *req,
		   struct http_response *resp, const struct staff_who *w, const char *target,
		   const char *what)
{
	return staff_csrf_check(sc, req, resp, w, target, what, "");
}
