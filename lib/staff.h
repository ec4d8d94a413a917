/*
 * staff.h — staff accounts and their permissions.  Runs in the command-line
 * tools, the gateway (who may submit) and the portal (who may do what).
 *
 * A staff record is sealed (it holds a name and an address) under its id in
 * DB_STAFF; its login and e-mail address are found through HMAC indexes in
 * DB_STAFF_IDX.  Every change writes its audit record in the same transaction.
 */
#ifndef TAYORI_STAFF_H
#define TAYORI_STAFF_H

#include <stddef.h>
#include <stdint.h>
#include "lib/passwd.h"
#include "lib/util.h"

enum staff_perm {
	PERM_VIEW = 1u << 0,
	PERM_SUBMIT = 1u << 1,
	PERM_APPROVE = 1u << 2,
	PERM_SEND = 1u << 3,
	PERM_REMIND = 1u << 4,
	PERM_EXPORT = 1u << 5,
	PERM_MANAGE_USERS = 1u << 6,
	PERM_AUDIT = 1u << 7,
};
#define PERM_ALL 0xffu

#define STAFF_LOGIN_MAX 64
#define STAFF_EMAIL_MAX 254
#define STAFF_NAME_MAX 128

struct staff {
	uint64_t id;
	char login[STAFF_LOGIN_MAX + 1];
	char email[STAFF_EMAIL_MAX + 1];
	char name[STAFF_NAME_MAX * 4 + 1]; /* UTF-8 */
	char role[16];                     /* preset it started from: clerk, approver, admin */
	char pwhash[PASSWD_HASH_MAX];
	uint32_t perms;
	int disabled;
	int must_change;                   /* one-time password: change at first login */
	int64_t created;
	int64_t updated;
};

/* Who makes a change, for the audit log. */
struct staff_actor {
	const char *actor; /* "cli:root", "staff:3" */
	const char *from;  /* "cli", "127.0.0.1" */
};

struct store;

/* "view,submit" -> bits; unknown names are an error naming them. */
int staff_perms_parse(const char *list, uint32_t *out, struct error *e);
void staff_perms_format(uint32_t perms, char *out, size_t outsize);
/* clerk, approver, admin -> their permissions; -1 for another name. */
int staff_role_preset(const char *role, uint32_t *perms);

int staff_login_valid(const char *login, struct error *e);
int staff_email_valid(const char *email, struct error *e);

/* Add an account (s->id is set).  A taken login or address is refused. */
int staff_add(struct store *st, struct staff *s, const struct staff_actor *who, struct error *e);
/* 0 found, 1 no such account, -1 error. */
int staff_find_login(struct store *st, const char *login, struct staff *out, struct error *e);
/* The account with id: 0 found, 1 no such account, -1 error. */
int staff_get(struct store *st, uint64_t id, struct staff *out, struct error *e);
int staff_find_email(struct store *st, const char *email, struct staff *out, struct error *e);
/* Rewrite an existing account with an audit record (action, detail). */
int staff_update(struct store *st, const struct staff *s, const struct staff_actor *who,
		 const char *action, const char *detail, struct error *e);
/* All accounts in id order; caller frees *out. */
int staff_list(struct store *st, struct staff **out, size_t *n, struct error *e);
/* Would s, as it is about to be written, leave at least one enabled account
 * with the manage-users permission?  1 yes, 0 no (the change must be
 * refused: nobody could manage accounts any more), -1 error.  The one check
 * both the dashboard and `tayori user` make before staff_update. */
int staff_managers_left(struct store *st, const struct staff *s, struct error *e);

#endif
