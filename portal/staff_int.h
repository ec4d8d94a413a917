/*
 * staff_int.h — private to the staff_*.c files of the portal: who is
 * logged in, the sessions, the lockout counters, the audit helper, the
 * guard every page and action goes through, and the handlers.  Runs in the
 * portal process.
 */
#ifndef TAYORI_STAFF_INT_H
#define TAYORI_STAFF_INT_H

#include "lib/notice.h"
#include "lib/staff.h"
#include "portal/http.h"
#include "portal/page_staff.h"
#include "portal/staff.h"

/* The staff member behind a request that passed staff_guard. */
struct staff_who {
	struct staff s;
	char actor[32];                /* "staff:N" */
	char csrf[HTTP_CSRF_LEN + 1];
	struct page_staff_user u;      /* for the page frame */
};

/* ---- staff_session.c (the store lock held) ----
 * A session: DB_SESSIONS SHA-256(token) -> NR_BATCH (the staff id),
 * NR_CREATED, NR_LAST_AT, NR_EXPIRES (created + session_ttl), NR_KIND
 * "staff", MACed.  find: 0 valid (id set; its last use written when older
 * than STAFF_TOUCH_SECONDS), 1 unknown, forged, idle too long or past its
 * limit (then removed), -1 error. */
int staff_session_new(struct staff_ctx *sc, uint64_t id, int64_t now,
		      char token[NOTICE_TOKEN_LEN + 1], struct error *e);
int staff_session_find(struct staff_ctx *sc, const char *token, int64_t now, uint64_t *id,
		       struct error *e);
/* Remove the session (logout): 0 also when there was none. */
int staff_session_end(struct staff_ctx *sc, const char *token, struct error *e);
/* The CSRF check of a POST whose route is HTTP_CSRF_OWN, so that a refusal
 * is audited: 0 good; 1 refused (audited as staff.csrf_refused with what
 * as its detail, a 403 page made that asks to open the screen again:
 * screen names it, "バッチの", or "" for the page just left); -1 error.
 * staff_csrf_own is the same with screen "". */
int staff_csrf_check(struct staff_ctx *sc, const struct http_request *req,
		     struct http_response *resp, const struct staff_who *w, const char *target,
		     const char *what, const char *screen);
int staff_csrf_own(struct staff_ctx *sc, const struct http_request *req,
		   struct http_response *resp, const struct staff_who *w, const char *target,
		   const char *what);

/* ---- lockout (in the store, staff_lockout.c; each takes the store lock) ----
 * locked: 1 when key is locked at now.  fail: count a failure of key with
 * limit; 1 when this failure locks it.  clear: forget key's failures. */
int staff_fail_locked(struct staff_ctx *sc, const char *key, int64_t now);
int staff_fail_add(struct staff_ctx *sc, const char *key, uint32_t limit, int64_t now);
void staff_fail_clear(struct staff_ctx *sc, const char *key);
/* A failed login: the account's (akey, NULL when unknown) and the IP's
 * counters and the audit records (staff.login_fail as actor with detail,
 * and staff.lockout for each lock it sets) in one commit.  0, -1 logged. */
int staff_fail_login(struct staff_ctx *sc, const char *akey, const char *ikey, int64_t now,
		     const char *actor, const char *from, const char *detail);

/* ---- staff.c ---- */
/* Append an audit record (the store lock held); failures are logged. */
int staff_audit(struct staff_ctx *sc, const char *actor, const char *action, const char *target,
		const char *from, const char *detail);
/* Every page and action behind the login calls this first.  perm: the
 * permission it needs (0: any logged-in staff member); what: its Japanese
 * name for the refused page; target: what it is about ("batch:4"), for
 * the audit record.  The store lock held.  0: go on (w filled); 1: answered (a redirect to the
 * login or password page, or 403 audited); -1: error. */
int staff_guard(struct staff_ctx *sc, const struct http_request *req, struct http_response *resp,
		uint32_t perm, const char *what, const char *target, struct staff_who *w);
/* A batch id from a path segment: 0, or -1 when it is not a number. */
int staff_batch_id(const char *s, uint64_t *id);
/* staff_batch.c: the counts of the residents' states (c->live NULL). */
void staff_batch_count(struct page_staff_counts *c, const struct notice_status *rows, size_t n);
/* staff_batch.c: audit batch.ACTION_refused of batch id (the store lock held). */
void staff_batch_refused_audit(struct staff_ctx *sc, const struct http_request *req,
			       const struct staff_who *w, uint64_t id, const char *action,
			       const char *detail);

/* ---- handlers ---- */
/* GET /: the batches when logged in, else the login form (200). */
int staff_h_root(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_login_form(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_login(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_logout(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_batches(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_batch(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_confirm(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_action(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_actions.c: send at a set time, remind, withdraw, unlock (GET: the
 * confirmation; POST: the action) */
int staff_h_act_confirm(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_act(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_export.c: GET /export/ID/residents.csv | paper.csv | paper.pdf */
int staff_h_export(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_settings.c: GET and POST /settings */
int staff_h_settings(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_help.c: GET /help, /help/TOPIC; GET /static/help/NAME.png (no login) */
int staff_h_help(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_help_img(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_live_page.c: GET /batches/ID/events (from staff_h_batch, the
 * store lock held), GET /static/dashboard.js, and what a batch page shows
 * beyond the states: usage, chart, the link scanner's flags of the rows
 * shown (*flags: the caller frees it). */
int staff_live_path(const char *subpath);
int staff_h_events(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_script(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_chart.c: GET /batches/ID/chart (from staff_h_batch, the store
 * lock held), the chart as a fragment for the live page. */
int staff_chart_path(const char *subpath);
int staff_h_chart(const struct http_request *req, struct http_response *resp, void *ctx);
struct page_staff_live;
int staff_live_page(struct staff_ctx *sc, uint64_t batch, const struct notice_status *all, size_t n,
		    size_t from, size_t nrows, struct page_staff_live *out, uint8_t **flags);

#endif
