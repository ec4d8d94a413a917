/*
 * page_staff_users.h — the HTML of a member's own password page and of the
 * admins' users pages: the list of accounts, the form to add one, the page
 * that shows a one-time password once, an account's page (role and
 * permissions, disable or enable, reset the password) and the
 * confirmation before a destructive change.  Same frame and rules as
 * page_staff.h: Japanese, no script, a label on every input, a CSRF token
 * in every form.  Each function appends a whole page to b; -1 when b's cap
 * is reached.  Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_USERS_H
#define TAYORI_PAGE_STAFF_USERS_H

#include <stddef.h>

#include "lib/buf.h"
#include "lib/staff.h"
#include "portal/page_staff.h"

/* The password form; must: a one-time password to change first; error
 * ("" none) why the last try was refused. */
int page_staff_password_form(struct buf *b, const struct page_staff_user *u, int must,
			     const char *error);

/* Japanese name of a permission bit ("承認"). */
const char *page_staff_perm_ja(uint32_t perm);

/* Every account; note ("" none) a line on what was just done. */
int page_staff_users(struct buf *b, const struct page_staff_user *u, const struct staff *list,
		     size_t n, const char *note);
/* The form to add an account; f refills it after a refusal (error). */
int page_staff_user_new(struct buf *b, const struct page_staff_user *u, const struct staff *f,
			const char *error);
/* A one-time password, shown once: for a new account (reset 0) or a reset. */
int page_staff_user_otp(struct buf *b, const struct page_staff_user *u, const struct staff *s,
			const char *otp, int reset);
/* One account: its details, the role and permissions form, and the
 * disable/enable and reset buttons (each leading to a confirmation). */
int page_staff_user(struct buf *b, const struct page_staff_user *u, const struct staff *s,
		    const char *error);
/* The confirmation of action ("disable", "enable", "reset") on s. */
int page_staff_user_confirm(struct buf *b, const struct page_staff_user *u,
			    const struct staff *s, const char *action);

#endif
