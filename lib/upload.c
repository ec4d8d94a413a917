/*
 * upload.c — uploads from the staff dashboard, handed from the portal to
 * the gateway through the store (see upload.h).  Runs in the portal, the
 * gateway and the command line.
 */
#include "lib/upload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/audit.h"
#include "lib/rec.h"
#include "lib/store.h"

const char *const upload_list_names[UPLOAD_LISTS] = {
	"unmatched_pdf_keys", "csv_rows_without_pdf", "invalid_emails", "no_email_rows",
	"duplicate_keys", "repeated_pdf_keys", "rows_held", "held_pdf_keys",
	"removed_active_content", "preview",
};

static void key_of(uint8_t k[9], char kind, uint64_t id)
{
	k[0] = (uint8_t)kind;
	be64_put(k + 1, id);
}

/* ---- the pending upload ---- */

static int encode(const struct upload *u, struct buf *b)
{
	struct buf files;
	size_t total = 0;
	int r;

	for (size_t i = 0; i < u->nfiles; i++)
		total += 12 + strlen(u->files[i].name) + u->files[i].len;
	buf_init(&files, total + 1);
	for (size_t i = 0; i < u->nfiles; i++) {
		size_t nl = strlen(u->files[i].name);
		if (buf_append_be32(&files, (uint32_t)nl) < 0 ||
		    buf_append(&files, u->files[i].name, nl) < 0 ||
		    buf_append_be64(&files, u->files[i].len) < 0 ||
		    buf_append(&files, u->files[i].data, u->files[i].len) < 0) {
			buf_free(&files);
			return -1;
		}
	}
	buf_init(b, total + 64 * 1024 + strlen(u->message));
	r = rec_put_u64(b, UP_STAFF, u->staff) < 0 || rec_put_u64(b, UP_CREATED, (uint64_t)u->created) < 0 ||
	    rec_put_str(b, UP_FROM, u->from) < 0 || rec_put_str(b, UP_MESSAGE, u->message) < 0 ||
	    rec_put(b, UP_FILES, files.data, files.len) < 0 ? -1 : 0;
	buf_wipe(&files);
	buf_free(&files);
	return r;
}

/* Touch DATA/tmp/uploads/ID: the gateway watches the folder.  A failure
 * only delays the upload until the gateway's next look. */
static void nudge(const char *data_dir, uint64_t id)
{
	char dir[4200], path[4300];
	struct error e = { { 0 }, 0 };

	if (str_fmt(dir, sizeof(dir), "%s/%s", data_dir, UPLOAD_NUDGE_DIR) < 0 ||
	    str_fmt(path, sizeof(path), "%s/%llu", dir, (unsigned long long)id) < 0)
		return;
	if (mkdir_p(dir, 0700, &e) == 0)
		(void)file_write_atomic(path, "", 0, 0600, &e);
}

int upload_add(struct store *st, const char *data_dir, const struct upload *u, uint64_t *id,
	       struct error *e)
{
	struct store_txn *t = NULL;
	struct buf rec;
	uint8_t k[9];
	char actor[32], target[40], detail[96];
	size_t bytes = 0;
	struct audit_entry a = { actor, "upload.receive", target, u->from, detail };

	for (size_t i = 0; i < u->nfiles; i++)
		bytes += u->files[i].len;
	if (encode(u, &rec) < 0) {
		buf_free(&rec);
		return err_set(e, "the upload is too large to store");
	}
	if (store_begin(st, 1, &t, e) < 0 || store_next_id(t, "upload", id, e) < 0)
		goto fail;
	key_of(k, 'p', *id);
	str_fmt(actor, sizeof(actor), "staff:%llu", (unsigned long long)u->staff);
	str_fmt(target, sizeof(target), "upload:%llu", (unsigned long long)*id);
	str_fmt(detail, sizeof(detail), "files=%zu bytes=%zu", u->nfiles, bytes);
	if (store_put_sealed(t, DB_UPLOADS, k, sizeof(k), rec.data, rec.len, e) < 0 ||
	    audit_append(t, &a, NULL, e) < 0 || store_commit(&t, e) < 0)
		goto fail;
	buf_wipe(&rec);
	buf_free(&rec);
	nudge(data_dir, *id);
	return 0;
fail:
	store_abort(&t);
	buf_wipe(&rec);
	buf_free(&rec);
	return -1;
}

int upload_pending(struct store *st, uint64_t **ids, size_t *n, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, cap = 0;
	uint8_t start = 'p';

	*ids = NULL;
	*n = 0;
	if (store_begin(st, 0, &t, e) < 0 || store_iter_open(t, DB_UPLOADS, &start, 1, &it, e) < 0) {
		store_abort(&t);
		return -1;
	}
	while (store_iter_next(it, &k, &kl, &v, &vl) == 0) {
		if (kl != 9 || ((const uint8_t *)k)[0] != 'p')
			break;
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*ids = xrealloc(*ids, cap * sizeof(**ids));
		}
		(*ids)[(*n)++] = be64_get((const uint8_t *)k + 1);
	}
	store_iter_close(&it);
	store_abort(&t);
	return 0;
}

/* The files of UP_FILES: -1 when damaged. */
static int decode_files(const uint8_t *p, size_t n, struct upload *u)
{
	size_t off = 0, cap = 0;
	while (off < n) {
		uint32_t nl;
		uint64_t dl;
		if (n - off < 4 || (nl = be32_get(p + off)) > n - off - 4 || n - off - 4 - nl < 8)
			return -1;
		dl = be64_get(p + off + 4 + nl);
		if (dl > n - off - 12 - nl)
			return -1;
		if (u->nfiles == cap) {
			cap = cap ? 2 * cap : 8;
			u->files = xrealloc(u->files, cap * sizeof(*u->files));
		}
		u->files[u->nfiles].name = xstrndup((const char *)p + off + 4, nl);
		u->files[u->nfiles].data = p + off + 12 + nl;
		u->files[u->nfiles++].len = (size_t)dl;
		off += 12 + nl + (size_t)dl;
	}
	return 0;
}

int upload_read(struct store *st, uint64_t id, struct upload *u, struct error *e)
{
	struct store_txn *t = NULL;
	const uint8_t *fv, *mv;
	size_t fl, ml;
	uint8_t k[9];
	int r;

	memset(u, 0, sizeof(*u));
	u->id = id;
	buf_init(&u->rec, (size_t)1 << 40);
	key_of(k, 'p', id);
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	r = store_get_sealed(t, DB_UPLOADS, k, sizeof(k), &u->rec, e);
	store_abort(&t);
	if (r != 0)
		return r;
	if (rec_check(u->rec.data, u->rec.len) < 0 ||
	    rec_get(u->rec.data, u->rec.len, UP_MESSAGE, &mv, &ml) != 0 ||
	    rec_get(u->rec.data, u->rec.len, UP_FILES, &fv, &fl) != 0 ||
	    decode_files(fv, fl, u) < 0) {
		upload_clear(u);
		return err_set(e, "upload %llu: the record is damaged", (unsigned long long)id);
	}
	u->staff = rec_get_u64(u->rec.data, u->rec.len, UP_STAFF, 0);
	u->created = (int64_t)rec_get_u64(u->rec.data, u->rec.len, UP_CREATED, 0);
	rec_get_str(u->rec.data, u->rec.len, UP_FROM, u->from, sizeof(u->from));
	u->message = xstrndup((const char *)mv, ml);
	return 0;
}

void upload_clear(struct upload *u)
{
	for (size_t i = 0; i < u->nfiles; i++)
		free(u->files[i].name);
	free(u->files);
	if (u->message != NULL)
		secure_wipe(u->message, strlen(u->message));
	free(u->message);
	buf_wipe(&u->rec);
	buf_free(&u->rec);
	memset(u, 0, sizeof(*u));
}

/* ---- the result ---- */

static int encode_result(const struct upload_result *r, struct buf *b)
{
	int bad = rec_put_u64(b, UR_STAFF, r->staff) < 0 ||
		  rec_put_u64(b, UR_CREATED, (uint64_t)r->created) < 0 ||
		  rec_put_u64(b, UR_DONE, (uint64_t)r->done) < 0 ||
		  rec_put_str(b, UR_OUTCOME, r->outcome) < 0 || rec_put_u64(b, UR_BATCH, r->batch) < 0 ||
		  rec_put_str(b, UR_ERROR, r->error) < 0 || rec_put_str(b, UR_TITLE, r->title) < 0 ||
		  rec_put_u64(b, UR_TEST, (uint64_t)r->test) < 0 ||
		  rec_put_u64(b, UR_RECIPIENTS, r->recipients) < 0 ||
		  rec_put_u64(b, UR_MATCHED, r->matched) < 0 ||
		  rec_put_u64(b, UR_SIGNED, r->signed_pdfs) < 0 || rec_put_str(b, UR_SPLIT, r->split) < 0 ||
		  rec_put_str(b, UR_KEY_COLUMN, r->key_column) < 0 ||
		  rec_put_str(b, UR_NAME_COLUMN, r->name_column) < 0 ||
		  rec_put_str(b, UR_EMAIL_COLUMN, r->email_column) < 0 ||
		  rec_put_str(b, UR_ENCODING, r->encoding) < 0;
	for (size_t i = 0; i < UPLOAD_LISTS && !bad; i++) {
		struct buf l;
		buf_init(&l, (size_t)1 << 30);
		for (size_t j = 0; j < r->lists[i].n && !bad; j++)
			bad = buf_append(&l, r->lists[i].v[j], strlen(r->lists[i].v[j]) + 1) < 0;
		bad = bad || rec_put(b, (uint16_t)(UR_LIST0 + i), l.data, l.len) < 0;
		buf_free(&l);
	}
	return bad ? -1 : 0;
}

int upload_finish(struct store *st, const struct upload_result *r, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf rec, sealed, val;
	uint8_t kp[9], kr[9];
	int ret = -1;

	key_of(kp, 'p', r->id);
	key_of(kr, 'r', r->id);
	buf_init(&rec, (size_t)1 << 30);
	buf_init(&sealed, (size_t)1 << 30);
	buf_init(&val, (size_t)1 << 30);
	if (encode_result(r, &rec) < 0) {
		err_set(e, "upload %llu: the result is too large", (unsigned long long)r->id);
		goto out;
	}
	/* Sealed before the write transaction: the keys round trip is outside it. */
	if (store_seal(st, DB_UPLOADS, kr, sizeof(kr), rec.data, rec.len, &sealed, e) < 0)
		goto out;
	if (buf_append_be64(&val, (uint64_t)r->done) < 0 || buf_append(&val, sealed.data, sealed.len) < 0) {
		err_set(e, "upload %llu: the result is too large", (unsigned long long)r->id);
		goto out;
	}
	if (store_begin(st, 1, &t, e) < 0 || store_put(t, DB_UPLOADS, kr, sizeof(kr), val.data, val.len, e) < 0 ||
	    store_del(t, DB_UPLOADS, kp, sizeof(kp), e) < 0 || store_commit(&t, e) < 0) {
		store_abort(&t);
		goto out;
	}
	ret = 0;
out:
	buf_wipe(&rec);
	buf_free(&rec);
	buf_free(&sealed);
	buf_free(&val);
	return ret;
}

int upload_sweep(struct store *st, int64_t now, size_t *n, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	const void *k, *v;
	size_t kl, vl, cap = 0, m = 0;
	uint8_t start = 'r', (*due)[9] = NULL;
	int ret = -1;

	*n = 0;
	if (store_begin(st, 1, &t, e) < 0 || store_iter_open(t, DB_UPLOADS, &start, 1, &it, e) < 0)
		goto out;
	while (store_iter_next(it, &k, &kl, &v, &vl) == 0 && kl == 9 && ((const uint8_t *)k)[0] == 'r') {
		if (vl >= 8 && (int64_t)be64_get(v) + UPLOAD_RESULT_KEEP > now)
			continue;
		if (m == cap) {
			cap = cap ? 2 * cap : 16;
			due = xrealloc(due, cap * sizeof(*due));
		}
		memcpy(due[m++], k, 9);
	}
	store_iter_close(&it);
	for (size_t i = 0; i < m; i++)
		if (store_del(t, DB_UPLOADS, due[i], 9, e) < 0)
			goto out;
	if (m == 0) {
		store_abort(&t);
		ret = 0;
		goto out;
	}
	if (store_commit(&t, e) < 0)
		goto out;
	*n = m;
	ret = 0;
out:
	store_iter_close(&it);
	store_abort(&t);
	free(due);
	return ret;
}

/* List i from its NUL-separated field. */
static void decode_list(struct upload_result *r, size_t i, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		const uint8_t *z = memchr(p + off, '\0', n - off);
		size_t len = z != NULL ? (size_t)(z - p - off) : n - off;
		char *s = xstrndup((const char *)p + off, len);
		upload_result_add(r, i, s);
		free(s);
		off += len + 1;
	}
}

static int decode_result(const uint8_t *p, size_t n, struct upload_result *r)
{
	if (rec_check(p, n) < 0)
		return -1;
	r->staff = rec_get_u64(p, n, UR_STAFF, 0);
	r->created = (int64_t)rec_get_u64(p, n, UR_CREATED, 0);
	r->done = (int64_t)rec_get_u64(p, n, UR_DONE, 0);
	r->batch = rec_get_u64(p, n, UR_BATCH, 0);
	r->test = rec_get_u64(p, n, UR_TEST, 0) != 0;
	r->recipients = rec_get_u64(p, n, UR_RECIPIENTS, 0);
	r->matched = rec_get_u64(p, n, UR_MATCHED, 0);
	r->signed_pdfs = rec_get_u64(p, n, UR_SIGNED, 0);
	if (rec_get_str(p, n, UR_OUTCOME, r->outcome, sizeof(r->outcome)) < 0 ||
	    rec_get_str(p, n, UR_ERROR, r->error, sizeof(r->error)) < 0 ||
	    rec_get_str(p, n, UR_TITLE, r->title, sizeof(r->title)) < 0 ||
	    rec_get_str(p, n, UR_SPLIT, r->split, sizeof(r->split)) < 0 ||
	    rec_get_str(p, n, UR_KEY_COLUMN, r->key_column, sizeof(r->key_column)) < 0 ||
	    rec_get_str(p, n, UR_NAME_COLUMN, r->name_column, sizeof(r->name_column)) < 0 ||
	    rec_get_str(p, n, UR_EMAIL_COLUMN, r->email_column, sizeof(r->email_column)) < 0 ||
	    rec_get_str(p, n, UR_ENCODING, r->encoding, sizeof(r->encoding)) < 0)
		return -1;
	for (size_t i = 0; i < UPLOAD_LISTS; i++) {
		const uint8_t *lv;
		size_t ll;
		if (rec_get(p, n, (uint16_t)(UR_LIST0 + i), &lv, &ll) == 0)
			decode_list(r, i, lv, ll);
	}
	return 0;
}

int upload_result_get(struct store *st, uint64_t id, struct upload_result *r, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf sealed, plain;
	const void *v;
	size_t vl;
	uint8_t kp[9], kr[9];
	int got;

	memset(r, 0, sizeof(*r));
	r->id = id;
	key_of(kp, 'p', id);
	key_of(kr, 'r', id);
	buf_init(&sealed, (size_t)1 << 30);
	buf_init(&plain, (size_t)1 << 30);
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	got = store_get(t, DB_UPLOADS, kr, sizeof(kr), &v, &vl, e);
	if (got == 0 && (vl < 8 || buf_append(&sealed, (const uint8_t *)v + 8, vl - 8) < 0))
		got = err_set(e, "upload %llu: the result is damaged", (unsigned long long)id);
	if (got == 1) {
		got = store_get(t, DB_UPLOADS, kp, sizeof(kp), &v, &vl, e);
		store_abort(&t);
		return got < 0 ? -1 : got == 0 ? 1 : 2;
	}
	store_abort(&t);
	if (got == 0 && (store_unseal(st, DB_UPLOADS, kr, sizeof(kr), sealed.data, sealed.len, &plain, e) < 0 ||
			 decode_result(plain.data, plain.len, r) < 0))
		got = e->msg[0] ? -1 : err_set(e, "upload %llu: the result is damaged", (unsigned long long)id);
	buf_wipe(&plain);
	buf_free(&plain);
	buf_free(&sealed);
	if (got < 0)
		upload_result_free(r);
	return got < 0 ? -1 : 0;
}

void upload_result_add(struct upload_result *r, size_t i, const char *s)
{
	struct upload_list *l;
	if (i >= UPLOAD_LISTS)
		return;
	l = &r->lists[i];
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
}

void upload_result_free(struct upload_result *r)
{
	for (size_t i = 0; i < UPLOAD_LISTS; i++) {
		for (size_t j = 0; j < r->lists[i].n; j++)
			free(r->lists[i].v[j]);
		free(r->lists[i].v);
	}
	memset(r, 0, sizeof(*r));
}
