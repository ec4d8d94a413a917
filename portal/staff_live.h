/*
 * staff_live.h — the live view of a batch page: GET /batches/ID/events,
 * a stream of Server-Sent Events (HTML Living Standard 9.2) that tells an
 * open dashboard what its residents just did (opened, downloaded, fetched
 * the certificate, consented) and what the mailer just did (sent,
 * bounced, reminded), within a second.
 *
 * One thread per portal ("the live thread") watches the batches that have
 * an open stream.  It wakes at once when the resident side commits events
 * (live_notify.h: this same process) and otherwise every
 * STAFF_LIVE_POLL_MS, to find what another process (the mailer) wrote in
 * the store.  For each new event it reads the resident's furthest state
 * again and queues to every stream of that batch:
 *
 *   id: TIME_US            (the event's; a reconnecting browser sends it
 *                           back as Last-Event-ID and gets what it missed)
 *   event: row
 *   data: {"seq":N,"ev":"download","evs":["download"],"state":"ダウンロード済み","contacts":"1",
 *          "sent":"…","opened":"…","downloaded":"…"}  (ev: the latest event; evs:
 *          every event of the resident read in the same pass, oldest first)
 *
 *   event: usage
 *   data: {"counts":"対象 3 人：…","mails":"3 通",…,"at":"21:53:07"}
 *
 * The row carries the resident's row number and what the page's cells
 * show, never a name, key or address; the stream is behind the login and
 * the view permission, and ends when the session does, when the account
 * is disabled or loses the view permission (all read again every
 * STAFF_LIVE_SESSION_CHECK_S, without prolonging the session).  Runs in the portal
 * process.
 */
#ifndef TAYORI_STAFF_LIVE_H
#define TAYORI_STAFF_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/notice.h"
#include "lib/util.h"
#include "portal/http.h"

struct store;
struct staff_live;

#define STAFF_LIVE_POLL_MS         500  /* the store is read this often for the mailer's events */
#define STAFF_LIVE_LAG_S           10   /* events stamped this long before they were committed
					   (another process's transaction) are still found */
#define STAFF_LIVE_REPLAY_S        600  /* a reconnecting stream gets at most this much again */
#define STAFF_LIVE_PING_S          15   /* a quiet stream sends a comment this often */
#define STAFF_LIVE_SESSION_CHECK_S 3  /* the session, the account and its view
					   permission are read again this often */
#define STAFF_LIVE_QUEUE_MAX       ((size_t)4 << 20) /* a stream's unsent bytes; beyond, it ends
							(the browser reconnects and is replayed) */

/* Start the live thread; st stays the caller's; idle is [portal]
 * staff_idle (seconds). */
int staff_live_start(struct store *st, int64_t idle, struct staff_live **out, struct error *e);
/* The listener whose streams the thread wakes (set once it has started). */
void staff_live_set_listener(struct staff_live *lv, struct http_listener *l);
/* End every stream, stop the thread, free; *lv becomes NULL. */
void staff_live_stop(struct staff_live **lv);

/* Answer resp with a stream of batch's events for the session whose
 * token is given (checked by the caller), replaying from since_us (the
 * page's moment, or Last-Event-ID; 0 none).  0, or -1 on error. */
int staff_live_stream(struct staff_live *lv, uint64_t batch, const char *session_token,
		      int64_t since_us, struct http_response *resp);

/* Does an open look like a link scanner's: within STAFF_SCANNER_DELAY_S
 * of delivery (delay >= 0) and a user agent that names a headless browser,
 * a script or a mail-security service (or none)?  1 yes, 0 no. */
#define STAFF_SCANNER_DELAY_S 30
int staff_live_scanner(const char *ua, int64_t delay);
/* For rows[0..n) of batch (a page's), flags[i] = 1 when that resident's
 * first open looks like a link scanner's.  0, or -1 on error. */
int staff_live_scanner_flags(struct store *st, uint64_t batch, const struct notice_status *rows,
			     size_t n, uint8_t *flags, struct error *e);

/* The script of the batch page (served at /static/dashboard.js). */
extern const char staff_live_js[];

#endif
