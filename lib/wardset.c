/*
 * wardset.c — the ward's staff-changeable settings, one sealed record in
 * the store (see lib/wardset.h).  Runs in the portal, the mailer and the
 * command-line processes.
 */
#include "lib/wardset.h"

#include <string.h>

#include "lib/audit.h"
#include "lib/buf.h"
#include "lib/rec.h"
#include "lib/store.h"

#define WS_KEY "ward_settings"

int wardset_get(struct store_txn *t, struct wardset *out, struct error *e)
{
	struct buf plain;
	int r;

	memset(out, 0, sizeof(*out));
	buf_init(&plain, 1 << 20);
	r = store_get_sealed(t, DB_META, WS_KEY, strlen(WS_KEY), &plain, e);
	if (r == 0) {
		const uint8_t *p = plain.data;
		size_t n = plain.len;
		rec_get_str(p, n, WS_DESCRIPTION, out->description, sizeof(out->description));
		rec_get_str(p, n, WS_CONTACT, out->contact, sizeof(out->contact));
		rec_get_str(p, n, WS_REMINDERS, out->reminders, sizeof(out->reminders));
		out->deadline_days = (uint32_t)rec_get_u64(p, n, WS_DEADLINE_DAYS, 0);
		rec_get_str(p, n, WS_TEST_ADDRESSES, out->test_addresses,
			    sizeof(out->test_addresses));
		rec_get_str(p, n, WS_NOTICE_TYPES, out->notice_types, sizeof(out->notice_types));
		out->updated = (int64_t)rec_get_u64(p, n, WS_UPDATED, 0);
		rec_get_str(p, n, WS_UPDATED_BY, out->updated_by, sizeof(out->updated_by));
	}
	buf_wipe(&plain);
	return r;
}

int wardset_load(struct store *st, struct wardset *out, struct error *e)
{
	struct store_txn *t = NULL;
	int r;

	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	r = wardset_get(t, out, e);
	store_abort(&t);
	return r;
}

/* "contact,reminders": the fields of b that differ from a. */
static void changed(const struct wardset *a, const struct wardset *b, char *out, size_t size)
{
	struct buf d;

	buf_init(&d, size > 1 ? size - 1 : 1);
#define DIFF(f, name)                                                          \
	if (strcmp(a->f, b->f) != 0)                                           \
		buf_printf(&d, "%s%s", d.len ? "," : "", name);
	DIFF(description, "description")
	DIFF(contact, "contact")
	DIFF(reminders, "reminders")
	if (a->deadline_days != b->deadline_days)
		buf_printf(&d, "%s%s", d.len ? "," : "", "deadline_days");
	DIFF(test_addresses, "test_addresses")
	DIFF(notice_types, "notice_types")
#undef DIFF
	str_fmt(out, size, "fields=%.*s", (int)d.len, d.len ? (const char *)d.data : "");
	if (d.len == 0)
		str_copy(out, "fields=none", size);
	buf_free(&d);
}

int wardset_save(struct store *st, struct wardset *ws, const char *actor, const char *where,
		 struct error *e)
{
	struct store_txn *t = NULL;
	struct wardset old;
	struct buf rec;
	char detail[200];
	struct audit_entry a;
	int ret = -1;

	ws->updated = now_utc();
	str_copy(ws->updated_by, actor, sizeof(ws->updated_by));
	buf_init(&rec, 1 << 20);
	if (rec_put_str(&rec, WS_DESCRIPTION, ws->description) |
	    rec_put_str(&rec, WS_CONTACT, ws->contact) |
	    rec_put_str(&rec, WS_REMINDERS, ws->reminders) |
	    rec_put_u64(&rec, WS_DEADLINE_DAYS, ws->deadline_days) |
	    rec_put_str(&rec, WS_TEST_ADDRESSES, ws->test_addresses) |
	    rec_put_str(&rec, WS_NOTICE_TYPES, ws->notice_types) |
	    rec_put_u64(&rec, WS_UPDATED, (uint64_t)ws->updated) |
	    rec_put_str(&rec, WS_UPDATED_BY, ws->updated_by)) {
		err_set(e, "ward settings too large");
		goto out;
	}
	if (store_begin(st, 1, &t, e) < 0 || wardset_get(t, &old, e) < 0)
		goto out;
	changed(&old, ws, detail, sizeof(detail));
	a = (struct audit_entry){ actor, "settings.change", "settings", where, detail };
	if (store_put_sealed(t, DB_META, WS_KEY, strlen(WS_KEY), rec.data, rec.len, e) < 0 ||
	    audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	buf_wipe(&rec);
	return ret;
}

/* The name of the type line at p (len bytes): before its first bar, without
 * the spaces around it. */
static void type_name(const char *p, size_t len, char *out, size_t size)
{
	size_t n = 0, end;

	while (n < len && p[n] != '|' && strncmp(p + n, "\xEF\xBD\x9C", 3) != 0) /* ｜ */
		n++;
	end = n;
	while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t' || p[end - 1] == '\r'))
		end--;
	while (end > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		end--;
	}
	if (end >= size)
		end = size - 1;
	memcpy(out, p, end);
	out[end] = '\0';
}

size_t wardset_type_names(const char *types, char (*names)[WARDSET_TYPE_NAME_MAX], size_t max)
{
	size_t n = 0;

	for (const char *p = types; *p != '\0' && n < max;) {
		size_t len = strcspn(p, "\n");
		type_name(p, len, names[n], WARDSET_TYPE_NAME_MAX);
		n += names[n][0] != '\0';
		p += len + (p[len] != '\0');
	}
	return n;
}

int wardset_type_known(const char *types, const char *name)
{
	char one[WARDSET_TYPE_NAME_MAX];

	for (const char *p = types; *p != '\0';) {
		size_t len = strcspn(p, "\n");
		type_name(p, len, one, sizeof(one));
		if (one[0] != '\0' && strcmp(one, name) == 0)
			return 1;
		p += len + (p[len] != '\0');
	}
	return 0;
}
