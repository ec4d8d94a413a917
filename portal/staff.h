/*
 * staff.h — the staff side of the portal (the dashboard on [portal]
 * staff_listen): logging in with a user ID and an Argon2id-checked
 * password, lockout per account and per IP, the staff session, the
 * permission check in front of every page and action, the batches list,
 * a page per batch, approval (four-eyes) and sending; a member's own
 * password change, the admins' users pages, the audit log page and a
 * resident's details (portal/staff_users.h); a batch uploaded from the
 * browser (portal/staff_upload.h).  Handlers run on the
 * HTTP layer (portal/http.h); every one that touches the store is
 * HTTP_SLOW and holds the lock the resident side holds (resident.h), since
 * the store's channel to the keys process carries one conversation at a
 * time.  Runs in the portal process.
 */
#ifndef TAYORI_STAFF_PORTAL_H
#define TAYORI_STAFF_PORTAL_H

#include <pthread.h>
#include <stdint.h>

#include "lib/passwd.h"
#include "lib/util.h"
#include "portal/http.h"

struct store;
struct conf;
struct staff_live;

/* The staff listener's CSP: the layer's, plus the dashboard's own script
 * (/static/dashboard.js) and its event stream; still no inline script. */
#define STAFF_CSP                                                                     \
	"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; " \
	"img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

#define STAFF_SESSION_COOKIE "tayori_ss"
/* Lockout counters are kept in the store (staff_lockout.c). */
#define STAFF_FAIL_ACCOUNT   5     /* failures of one account that lock it */
#define STAFF_FAIL_IP        20    /* failures from one IP that lock it */
/* [portal] staff_lockout: the seconds failures are counted over, and how
 * long a lockout lasts (sc->lockout). */
#define STAFF_FAIL_SWEEP     64    /* lockout records looked at per sweep (on each write) */
#define STAFF_TOUCH_SECONDS  60    /* a session's last use is written at most this often
				      (a quarter of the idle time-out when that is less) */
#define STAFF_UPLOAD_SLACK   (2u << 20) /* bytes an upload's body may carry besides its files
					   ([limits] message_size): the form's fields and
					   each part's header */

struct staff_ctx {
	struct store *st;
	pthread_mutex_t *lock;     /* the resident side's, held around every use of st */
	int64_t idle;              /* [portal] staff_idle: seconds */
	int64_t ttl;               /* [portal] session_ttl: the absolute limit */
	int four_eyes;             /* [policy] four_eyes */
	struct passwd_params pp;   /* [security] argon2_*: new passwords' hashes */
	char dummy_hash[PASSWD_HASH_MAX]; /* checked for an unknown login, so it takes as long */
	char data_dir[4096];       /* [paths] data_dir: uploads nudge the gateway there */
	size_t upload_max;         /* [limits] message_size: an upload's files together */
	size_t upload_files;       /* [limits] attachments: an upload's files */
	const struct conf *conf;   /* the process's, for the defaults the settings page shows */
	struct staff_live *live;   /* the batch pages' live view (staff_live.h) */
	int64_t lockout;           /* [portal] staff_lockout: seconds (window and lock) */
	uint8_t sweep_at[32];      /* where the next sweep of old lockout records starts
				      (under the store lock) */
};

/* Fill sc from the configuration; st and lock stay the caller's. */
int staff_ctx_init(struct staff_ctx *sc, struct store *st, pthread_mutex_t *lock,
		   const struct conf *conf, struct error *e);
void staff_ctx_free(struct staff_ctx *sc);
/* The listener the live view wakes (after http_listener_start). */
void staff_ctx_listener(struct staff_ctx *sc, struct http_listener *l);

/* The staff listener's routes (ctx: a struct staff_ctx). */
extern const struct http_route staff_routes[];
/* Their early checks (http_listener_config.early_routes). */
extern const struct http_route staff_early_routes[];

#endif
