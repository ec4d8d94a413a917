/*
 * staff.c — staff accounts (see staff.h).
 */
#include "lib/staff.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/buf.h"
#include "lib/email.h"
#include "lib/rec.h"
#include "lib/store.h"

enum { S_LOGIN = 1, S_EMAIL, S_NAME, S_ROLE, S_PWHASH, S_PERMS, S_DISABLED, S_MUSTCHANGE,
       S_CREATED, S_UPDATED };

static const struct {
	const char *name;
	uint32_t bit;
} perm_names[] = {
	{ "view", PERM_VIEW },       { "submit", PERM_SUBMIT },
	{ "approve", PERM_APPROVE }, { "send", PERM_SEND },
	{ "remind", PERM_REMIND },   { "export", PERM_EXPORT },
	{ "manage-users", PERM_MANAGE_USERS }, { "audit", PERM_AUDIT },
};

int staff_perms_parse(const char *list, uint32_t *out, struct error *e)
{
	uint32_t bits = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		size_t i;
		for (i = 0; i < ARRAY_SIZE(perm_names); i++)
			if (strlen(perm_names[i].name) == n && strncmp(p, perm_names[i].name, n) == 0)
				break;
		if (i == ARRAY_SIZE(perm_names))
			return err_set(e, "unknown permission \"%.*s\" (known: view, submit, approve, send, remind, export, manage-users, audit)",
				       (int)(n > 40 ? 40 : n), p);
		bits |= perm_names[i].bit;
		p += n;
		if (*p == ',')
			p++;
	}
	*out = bits;
	return 0;
}

void staff_perms_format(uint32_t perms, char *out, size_t outsize)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(perm_names); i++) {
		if (!(perms & perm_names[i].bit))
			continue;
		int n = snprintf(out + o, outsize - o, "%s%s", o ? "," : "", perm_names[i].name);
		if (n < 0 || (size_t)n >= outsize - o) {
			out[o] = '\0'; /* whole names only */
			break;
		}
		o += (size_t)n;
	}
}

int staff_role_preset(const char *role, uint32_t *perms)
{
	if (strcmp(role, "clerk") == 0)
		*perms = PERM_VIEW | PERM_SUBMIT | PERM_REMIND;
	else if (strcmp(role, "approver") == 0)
		*perms = PERM_VIEW | PERM_SUBMIT | PERM_APPROVE | PERM_SEND | PERM_REMIND | PERM_EXPORT;
	else if (strcmp(role, "admin") == 0)
		*perms = PERM_ALL;
	else
		return -1;
	return 0;
}

int staff_login_valid(const char *login, struct error *e)
{
	size_t n = strlen(login);
	if (n == 0 || n > STAFF_LOGIN_MAX)
		return err_set(e, "login must be 1 to %d characters", STAFF_LOGIN_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)login[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
			return err_set(e, "login may hold only a-z, 0-9, '.', '_' and '-'");
	}
	if (login[0] == '-' || login[0] == '.')
		return err_set(e, "login must not start with '-' or '.'");
	return 0;
}

int staff_email_valid(const char *email, struct error *e)
{
	size_t n = strlen(email);
	if (n == 0 || n > STAFF_EMAIL_MAX)
		return err_set(e, "e-mail address must be 1 to %d characters", STAFF_EMAIL_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)email[i];
		if (c <= 0x20 || c >= 0x7f)
			return err_set(e, "e-mail address holds a character that is not allowed");
	}
	if (!email_valid(email))
		return err_set(e, "\"%s\" is not an e-mail address", email);
	return 0;
}

static void lower_copy(char *dst, const char *src, size_t dstsize)
{
	size_t i;
	for (i = 0; src[i] && i + 1 < dstsize; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static int encode(const struct staff *s, struct buf *b)
{
	return rec_put_str(b, S_LOGIN, s->login) | rec_put_str(b, S_EMAIL, s->email) |
	       rec_put_str(b, S_NAME, s->name) | rec_put_str(b, S_ROLE, s->role) |
	       rec_put_str(b, S_PWHASH, s->pwhash) | rec_put_u64(b, S_PERMS, s->perms) |
	       rec_put_u64(b, S_DISABLED, (uint64_t)s->disabled) |
	       rec_put_u64(b, S_MUSTCHANGE, (uint64_t)s->must_change) |
	       rec_put_u64(b, S_CREATED, (uint64_t)s->created) |
	       rec_put_u64(b, S_UPDATED, (uint64_t)s->updated);
}

static int decode(uint64_t id, const uint8_t *p, size_t n, struct staff *s, struct error *e)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	if (rec_check(p, n) < 0 || rec_get_str(p, n, S_LOGIN, s->login, sizeof(s->login)) < 0 ||
	    rec_get_str(p, n, S_EMAIL, s->email, sizeof(s->email)) < 0 ||
	    rec_get_str(p, n, S_NAME, s->name, sizeof(s->name)) < 0 ||
	    rec_get_str(p, n, S_ROLE, s->role, sizeof(s->role)) < 0 ||
	    rec_get_str(p, n, S_PWHASH, s->pwhash, sizeof(s->pwhash)) < 0)
		return err_set(e, "staff record %llu is damaged", (unsigned long long)id);
	s->perms = (uint32_t)rec_get_u64(p, n, S_PERMS, 0);
	s->disabled = (int)rec_get_u64(p, n, S_DISABLED, 0);
	s->must_change = (int)rec_get_u64(p, n, S_MUSTCHANGE, 0);
	s->created = (int64_t)rec_get_u64(p, n, S_CREATED, 0);
	s->updated = (int64_t)rec_get_u64(p, n, S_UPDATED, 0);
	return 0;
}

static int index_keys(struct store *st, const struct staff *s, uint8_t li[32], uint8_t ei[32],
		      struct error *e)
{
	char lower[STAFF_EMAIL_MAX + 1];
	lower_copy(lower, s->email, sizeof(lower));
	if (store_index(st, KEYS_IX_NAME_STAFF_LOGIN, s->login, strlen(s->login), li, e) < 0 ||
	    store_index(st, KEYS_IX_NAME_STAFF_EMAIL, lower, strlen(lower), ei, e) < 0)
		return -1;
	return 0;
}

int staff_add(struct store *st, struct staff *s, const struct staff_actor *who, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf rec;
	uint8_t li[32], ei[32], idb[8];
	char target[32];
	struct audit_entry a;
	int r;

	if (staff_login_valid(s->login, e) < 0 || staff_email_valid(s->email, e) < 0)
		return -1;
	if (index_keys(st, s, li, ei, e) < 0)
		return -1;
	buf_init(&rec, 8192);
	s->created = s->updated = now_utc();
	if (store_begin(st, 1, &t, e) < 0)
		goto fail;
	if (store_next_id(t, "staff", &s->id, e) < 0)
		goto fail;
	be64_put(idb, s->id);
	r = store_put_new(t, DB_STAFF_IDX, li, sizeof(li), idb, sizeof(idb), e);
	if (r != 0) {
		if (r > 0)
			err_set(e, "login \"%s\" is taken", s->login);
		goto fail;
	}
	r = store_put_new(t, DB_STAFF_IDX, ei, sizeof(ei), idb, sizeof(idb), e);
	if (r != 0) {
		if (r > 0)
			err_set(e, "address %s already belongs to another account", s->email);
		goto fail;
	}
	if (encode(s, &rec) != 0) {
		err_set(e, "staff record too large");
		goto fail;
	}
	if (store_put_sealed(t, DB_STAFF, idb, sizeof(idb), rec.data, rec.len, e) < 0)
		goto fail;
	str_fmt(target, sizeof(target), "staff:%llu", (unsigned long long)s->id);
	{
		char perms[160], detail[200];
		staff_perms_format(s->perms, perms, sizeof(perms));
		str_fmt(detail, sizeof(detail), "role=%s perms=%s", s->role, perms);
		a = (struct audit_entry){ who->actor, "staff.add", target, who->from, detail };
		if (audit_append(t, &a, NULL, e) < 0)
			goto fail;
	}
	if (store_commit(&t, e) < 0)
		goto fail;
	buf_wipe(&rec);
	return 0;
fail:
	store_abort(&t);
	buf_wipe(&rec);
	return -1;
}

static int get_by_index(struct store *st, const char *kind, const char *value, struct staff *out,
			struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t idx[32], idb[8];
	const void *v;
	size_t vl;
	int r;

	if (store_index(st, kind, value, strlen(value), idx, e) < 0)
		return -1;
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	buf_init(&plain, 64 << 10);
	r = store_get(t, DB_STAFF_IDX, idx, sizeof(idx), &v, &vl, e);
	if (r == 0) {
		if (vl != 8) {
			r = err_set(e, "staff index is damaged");
			goto out;
		}
		memcpy(idb, v, 8);
		r = store_get_sealed(t, DB_STAFF, idb, sizeof(idb), &plain, e);
		if (r == 0)
			r = decode(be64_get(idb), plain.data, plain.len, out, e);
		else if (r == 1)
			r = err_set(e, "staff index points at a missing record");
	}
out:
	store_abort(&t);
	buf_wipe(&plain);
	return r;
}

int staff_get(struct store *st, uint64_t id, struct staff *out, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf plain;
	uint8_t idb[8];
	int r;

	be64_put(idb, id);
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	buf_init(&plain, 64 << 10);
	r = store_get_sealed(t, DB_STAFF, idb, sizeof(idb), &plain, e);
	if (r == 0)
		r = decode(id, plain.data, plain.len, out, e);
	store_abort(&t);
	buf_wipe(&plain);
	return r;
}

int staff_find_login(struct store *st, const char *login, struct staff *out, struct error *e)
{
	return get_by_index(st, KEYS_IX_NAME_STAFF_LOGIN, login, out, e);
}

int staff_find_email(struct store *st, const char *email, struct staff *out, struct error *e)
{
	char lower[STAFF_EMAIL_MAX + 1];
	if (strlen(email) > STAFF_EMAIL_MAX)
		return 1;
	lower_copy(lower, email, sizeof(lower));
	return get_by_index(st, KEYS_IX_NAME_STAFF_EMAIL, lower, out, e);
}

int staff_update(struct store *st, const struct staff *s, const struct staff_actor *who,
		 const char *action, const char *detail, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf rec, plain;
	struct staff copy = *s, old = { 0 };
	uint8_t idb[8], li_old[32], ei_old[32], li_new[32], ei_new[32];
	char target[32];
	struct audit_entry a;
	int r;

	buf_init(&rec, 8192);
	buf_init(&plain, 64 << 10);
	copy.updated = now_utc();
	be64_put(idb, s->id);
	if (staff_login_valid(s->login, e) < 0 || staff_email_valid(s->email, e) < 0)
		goto fail;
	if (encode(&copy, &rec) != 0) {
		err_set(e, "staff record too large");
		goto fail;
	}
	if (store_begin(st, 1, &t, e) < 0)
		goto fail;
	r = store_get_sealed(t, DB_STAFF, idb, sizeof(idb), &plain, e);
	if (r != 0) {
		if (r > 0)
			err_set(e, "no staff account %llu", (unsigned long long)s->id);
		goto fail;
	}
	if (decode(s->id, plain.data, plain.len, &old, e) < 0)
		goto fail;
	/* A changed login or address moves its index entry in the same commit,
	 * so the old one stops finding the account and the new one is unique. */
	if (index_keys(st, &old, li_old, ei_old, e) < 0 || index_keys(st, &copy, li_new, ei_new, e) < 0)
		goto fail;
	if (memcmp(li_old, li_new, 32) != 0) {
		if (store_del(t, DB_STAFF_IDX, li_old, 32, e) < 0)
			goto fail;
		r = store_put_new(t, DB_STAFF_IDX, li_new, 32, idb, sizeof(idb), e);
		if (r != 0) {
			if (r > 0)
				err_set(e, "login \"%s\" is taken", s->login);
			goto fail;
		}
	}
	if (memcmp(ei_old, ei_new, 32) != 0) {
		if (store_del(t, DB_STAFF_IDX, ei_old, 32, e) < 0)
			goto fail;
		r = store_put_new(t, DB_STAFF_IDX, ei_new, 32, idb, sizeof(idb), e);
		if (r != 0) {
			if (r > 0)
				err_set(e, "address %s already belongs to another account", s->email);
			goto fail;
		}
	}
	if (store_put_sealed(t, DB_STAFF, idb, sizeof(idb), rec.data, rec.len, e) < 0)
		goto fail;
	str_fmt(target, sizeof(target), "staff:%llu", (unsigned long long)s->id);
	a = (struct audit_entry){ who->actor, action, target, who->from, detail };
	if (audit_append(t, &a, NULL, e) < 0)
		goto fail;
	if (store_commit(&t, e) < 0)
		goto fail;
	buf_wipe(&rec);
	buf_wipe(&plain);
	secure_wipe(&old, sizeof(old));
	return 0;
fail:
	store_abort(&t);
	buf_wipe(&rec);
	buf_wipe(&plain);
	secure_wipe(&old, sizeof(old));
	return -1;
}

int staff_list(struct store *st, struct staff **out, size_t *n, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	struct staff *v = NULL;
	size_t count = 0, cap = 0;
	struct buf plain;
	const void *k, *val;
	size_t kl, vl;
	int r, ret = -1;

	buf_init(&plain, 64 << 10);
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_STAFF, NULL, 0, &it, e) < 0)
		goto out;
	while ((r = store_iter_next(it, &k, &kl, &val, &vl)) == 0) {
		if (kl != 8) {
			err_set(e, "staff database holds a malformed key");
			goto out;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		buf_reset(&plain);
		if (store_unseal(st, DB_STAFF, k, kl, val, vl, &plain, e) < 0 ||
		    decode(be64_get(k), plain.data, plain.len, &v[count], e) < 0)
			goto out;
		count++;
	}
	if (r < 0) {
		err_tmp(e, "cannot read the staff database");
		goto out;
	}
	*out = v;
	*n = count;
	v = NULL;
	ret = 0;
out:
	if (v != NULL) {
		secure_wipe(v, cap * sizeof(*v));
		free(v);
	}
	buf_wipe(&plain);
	store_iter_close(&it);
	store_abort(&t);
	return ret;
}

int staff_managers_left(struct store *st, const struct staff *s, struct error *e)
{
	struct staff *list = NULL;
	size_t n = 0;
	int left = 0;

	if (!s->disabled && (s->perms & PERM_MANAGE_USERS))
		return 1;
	if (staff_list(st, &list, &n, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (list[i].id != s->id && !list[i].disabled && (list[i].perms & PERM_MANAGE_USERS))
			left = 1;
	secure_wipe(list, n * sizeof(*list));
	free(list);
	return left;
}
