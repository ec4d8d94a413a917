/*
 * staff_users.h — private to the staff_*.c files of the portal: a member's
 * own password change, the admins' users page (add, disable and enable,
 * reset a password, set the role and permissions), the audit log page with
 * its "verify the chain" button, and a resident's details page.  Every
 * change is audited with who made it; a refused one too.  Runs in the
 * portal process.
 */
#ifndef TAYORI_STAFF_USERS_H
#define TAYORI_STAFF_USERS_H

#include "portal/staff_int.h"

/* ---- staff_password.c ---- */
/* Whether pw may be login's new password (old: the one it replaces, or
 * NULL): 0, or -1 with *why the Japanese reason.  At least 12 characters,
 * or a passphrase of 4 or more words (separated by spaces) of at least
 * PASSWD_MIN_LEN characters; not holding the login name; not the old
 * password; passwd_acceptable's rules. */
int staff_password_rule(const char *pw, const char *login, const char *old, const char **why);
/* End every staff session of member id but the one whose token is keep
 * (NULL: all of them); *n how many ended.  The store lock held. */
int staff_sessions_end_member(struct staff_ctx *sc, uint64_t id, const char *keep, size_t *n,
			      struct error *e);
/* staff_csrf_own (a CSRF check that audits its refusal) is in staff_int.h. */

/* ---- handlers (each takes the store lock itself where it must, so that
 * Argon2 runs outside it) ---- */
int staff_h_password_form(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_password_change(const struct http_request *req, struct http_response *resp,
			    void *ctx);
/* staff_users.c: GET and POST under /users */
int staff_h_users(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_users_post(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_audit.c: GET /audit (the store lock held by the caller) */
int staff_h_audit(const struct http_request *req, struct http_response *resp, void *ctx);
/* staff_resident.c: GET /resident/BATCH/SEQ (the store lock held by the caller) */
int staff_h_resident(const struct http_request *req, struct http_response *resp, void *ctx);

#endif
