/*
 * batch.c — from a batch's files to signed, encrypted, stored PDFs and a
 * matching report (see batch.h for the contract).
 * Runs in the gateway and in `tayori submit`.
 */
#include "gateway/batch.h"

#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/audit.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "gateway/csv.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_inert.h"
#include "pdf/pdf_split.h"
#include "pdf/pdf_text.h"
#include "gateway/recipients.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/rec.h"
#include "lib/store.h"
#include "lib/text.h"

#define PDF_COMMON_SEQ BATCH_PDF_COMMON
#define PDF_EXTRA_SEQ  BATCH_PDF_EXTRA
#define STAGE_BYTES ((size_t)8 << 20)
/* Residents sealed per round of data keys in the final commit. */
#define PUBLISH_CHUNK 64
#define SEALED_MAX ((size_t)1 << 30)

/* ---- small helpers ---- */

static void strlist_add(struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(s);
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void batch_key(uint8_t out[12], uint64_t batch, uint32_t seq)
{
	be64_put(out, batch);
	be32_put(out + 8, seq);
}

/* ---- staging: sealed PDFs written in chunks, invisible until the end ---- */

struct staged {
	uint8_t key[12];
	uint8_t *data;
	size_t len;
};

struct stage {
	pthread_mutex_t lock;
	struct store *st;
	struct staged *v;
	size_t n, cap, bytes;
	size_t written;
};

static int stage_flush_locked(struct stage *s, struct error *e)
{
	struct store_txn *t = NULL;
	int ret = -1;
	if (s->n == 0)
		return 0;
	if (store_begin(s->st, 1, &t, e) < 0)
		goto out;
	for (size_t i = 0; i < s->n; i++)
		if (store_put(t, DB_PDFS, s->v[i].key, 12, s->v[i].data, s->v[i].len, e) < 0)
			goto out;
	if (store_commit(&t, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].data);
	s->written += ret == 0 ? s->n : 0;
	s->n = 0;
	s->bytes = 0;
	return ret;
}

/* Takes ownership of data. */
static int stage_push(struct stage *s, const uint8_t key[12], uint8_t *data, size_t len,
		      struct error *e)
{
	int ret = 0;
	pthread_mutex_lock(&s->lock);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memcpy(s->v[s->n].key, key, 12);
	s->v[s->n].data = data;
	s->v[s->n].len = len;
	s->n++;
	s->bytes += len;
	if (s->bytes >= STAGE_BYTES)
		ret = stage_flush_locked(s, e);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* ---- signing one PDF and staging it ---- */

struct sign_job {
	struct store *st;
	const struct signer *signer;
	struct pades_options popt;
	int64_t mtime;           /* /M of every signature of the batch */
	struct store_dek *deks;  /* data keys made ahead, by seq, or NULL */
	uint8_t *dek_ready;      /* which of them exist */
	size_t ndeks;
	uint64_t batch;
	struct stage stage;
	GHashTable *seq_of_key;  /* PDF-side key -> seq (GUINT_TO_POINTER) */
	pthread_mutex_t count_lock;
	size_t signed_count;
	/* active content left out (pdf_inert.h): label -> struct removed_seen,
	 * under count_lock */
	const char *password;    /* of the PDFs given whole */
	int max_pages;
	GHashTable *removed;
};

/* ---- active content left out of the notices ---- */

struct removed_seen {
	size_t files;
	char *first;             /* the first file or key it was seen in */
};

static void removed_seen_free(gpointer p)
{
	struct removed_seen *r = p;
	free(r->first);
	free(r);
}

/* A sender's file name fit for the report: at most 80 bytes, cut on a
 * character, controls (C0, DEL, C1) and bidi formatting shown as '?'. */
static void report_name(const char *in, char out[81])
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
		int bad = *p < 0x20 || *p == 0x7f || (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9f) ||
			  (*p == 0xE2 && p[1] == 0x80 && p[2] >= 0x8e && p[2] <= 0xae &&
			   (p[2] <= 0x8f || p[2] >= 0xaa)) ||
			  (*p == 0xE2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9);
		for (size_t k = 1; k < n; k++)
			if (p[k] == 0)
				n = k;
		if (o + (bad ? 1 : n) > 80)
			break;
		if (bad)
			out[o++] = '?';
		else
			for (size_t k = 0; k < n; k++)
				out[o++] = (char)p[k];
		p += n;
	}
	out[o] = '\0';
}

/* What one resident's file lost (who: its key or file name). */
static void note_removed(struct sign_job *j, const char *who, const struct pdf_removed *r)
{
	if (r->n == 0 && r->more == 0)
		return;
	pthread_mutex_lock(&j->count_lock);
	for (size_t i = 0; i <= r->n; i++) {
		char label[160];
		struct removed_seen *seen;
		if (i == r->n && r->more == 0)
			break;
		if (i < r->n)
			pdf_removal_label(&r->v[i], 1, label, sizeof(label));
		else
			str_copy(label, "more kinds of active content", sizeof(label));
		seen = g_hash_table_lookup(j->removed, label);
		if (seen == NULL) {
			char name[81];
			seen = xcalloc(1, sizeof(*seen));
			report_name(who, name);
			seen->first = xstrdup(name);
			g_hash_table_insert(j->removed, g_strdup(label), seen);
		}
		seen->files++;
	}
	pthread_mutex_unlock(&j->count_lock);
}

static gint label_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The report's list: each kind once, with how many files lost it (at
 * most REMOVED_LINES lines). */
#define REMOVED_LINES 200

static void report_removed(struct sign_job *j, struct batch_report *rep)
{
	guint n = 0;
	gpointer *labels;

	if (j->removed == NULL)
		return;
	labels = g_hash_table_get_keys_as_array(j->removed, &n);
	qsort(labels, n, sizeof(*labels), label_cmp);
	for (guint i = 0; i < n; i++) {
		const struct removed_seen *seen = g_hash_table_lookup(j->removed, labels[i]);
		char line[256];
		if (i == REMOVED_LINES) {
			str_fmt(line, sizeof(line), "... and %u more", n - i);
			strlist_add(&rep->removed_active_content, line);
			break;
		}
		if (seen->files == 1)
			str_fmt(line, sizeof(line), "%s: %s", seen->first, (const char *)labels[i]);
		else if (seen->files == j->signed_count)
			str_fmt(line, sizeof(line), "every notice: %s (%zu files)",
				(const char *)labels[i], seen->files);
		else
			str_fmt(line, sizeof(line), "%s (%zu files)", (const char *)labels[i],
				seen->files);
		strlist_add(&rep->removed_active_content, line);
	}
	g_free(labels);
}

/* Seal a signed PDF and stage it: the stored bytes are exactly the signed
 * bytes (sealing is lossless). */
static int seal_and_stage(struct sign_job *j, uint32_t seq, const uint8_t *pdf, size_t len,
			  struct error *e)
{
	uint8_t key[12];
	struct buf sealed;
	int ret = -1;

	batch_key(key, j->batch, seq);
	buf_init(&sealed, SEALED_MAX);
	if (seq < j->ndeks && j->dek_ready[seq]) {
		if (store_seal_with(DB_PDFS, key, sizeof(key), &j->deks[seq], pdf, len, &sealed, e) < 0)
			goto out;
	} else if (store_seal(j->st, DB_PDFS, key, sizeof(key), pdf, len, &sealed, e) < 0) {
		goto out;
	}
	{
		size_t n;
		uint8_t *p = buf_steal(&sealed, &n);
		if (stage_push(&j->stage, key, p, n, e) < 0)
			goto out;
	}
	pthread_mutex_lock(&j->count_lock);
	j->signed_count++;
	pthread_mutex_unlock(&j->count_lock);
	ret = 0;
out:
	buf_free(&sealed);
	return ret;
}

/* The data keys of every PDF to seal, in a few round trips instead of one
 * per PDF. */
static int make_pdf_deks(struct sign_job *j, const uint32_t *pdf_seq, size_t n, struct error *e)
{
	uint8_t (*keys)[12] = xcalloc(n ? n : 1, sizeof(*keys));
	const void **kp = xcalloc(n ? n : 1, sizeof(*kp));
	size_t *kl = xcalloc(n ? n : 1, sizeof(*kl));
	uint32_t *seqs = xcalloc(n ? n : 1, sizeof(*seqs));
	struct store_dek *got = xcalloc(n ? n : 1, sizeof(*got));
	size_t m = 0;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (pdf_seq[i] != i + 1)
			continue;
		seqs[m] = pdf_seq[i];
		batch_key(keys[m], j->batch, pdf_seq[i]);
		kp[m] = keys[m];
		kl[m] = sizeof(keys[m]);
		m++;
	}
	ret = store_deks_new(j->st, DB_PDFS, m, kp, kl, got, e);
	if (ret == 0) {
		j->ndeks = n + 1;
		j->deks = xcalloc(j->ndeks, sizeof(*j->deks));
		j->dek_ready = xcalloc(j->ndeks, 1);
		for (size_t i = 0; i < m; i++) {
			j->deks[seqs[i]] = got[i];
			j->dek_ready[seqs[i]] = 1;
		}
	}
	secure_wipe(got, (n ? n : 1) * sizeof(*got));
	free(got);
	free(seqs);
	free(kl);
	free(kp);
	free(keys);
	return ret;
}

/* Per-file and common mode: a PDF as given gets its signature in an
 * update; one holding active content is first written anew without it
 * (pdf_inert.h), and that new file is signed. */
static int sign_and_stage(struct sign_job *j, uint32_t seq, const char *who, const uint8_t *pdf,
			  size_t len, struct error *e)
{
	uint8_t *signed_pdf = NULL;
	size_t signed_len = 0;
	struct pdf_removed rm;
	struct buf inert;
	int ret = -1;

	buf_init(&inert, PDF_INPUT_MAX + ((size_t)1 << 20));
	if (pdf_inert_rewrite(pdf, len, j->password, j->max_pages, &inert, &rm, e) < 0) {
		char msg[ERR_MAX];
		str_copy(msg, e->msg, sizeof(msg));
		if (e->temporary)
			err_tmp(e, "%.80s: %s", who, msg);
		else
			err_set(e, "%.80s: %s", who, msg);
		goto out;
	}
	if (inert.len > 0) {
		pdf = inert.data;
		len = inert.len;
	}
	if (pades_sign(pdf, len, j->signer, &j->popt, &signed_pdf, &signed_len, e) < 0)
		goto out;
	ret = seal_and_stage(j, seq, signed_pdf, signed_len, e);
	if (ret == 0)
		note_removed(j, who, &rm);
out:
	free(signed_pdf);
	buf_free(&inert);
	return ret;
}

/* Split mode: the splitter's writer hands each resident's PDF, with its
 * empty signature already in place, to a bounded queue; signer threads
 * take them from it, so the writer, the signers and the keys process's
 * RSA operations overlap instead of waiting on each other. */
#define QUEUE_CAP 16

struct sign_queue {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct {
		uint32_t seq;
		struct pdf_made made;
	} items[QUEUE_CAP];
	size_t head, count;
	int closed, failed;
	struct error err;
	struct sign_job *job;
};

static void queue_fail(struct sign_queue *q, const struct error *e)
{
	if (!q->failed) {
		q->failed = 1;
		q->err = *e;
	}
	pthread_cond_broadcast(&q->not_full);
	pthread_cond_broadcast(&q->not_empty);
}

static int emit_group(void *ctx, const struct pdf_group *g, struct pdf_made *m,
		      struct error *e)
{
	struct sign_queue *q = ctx;
	gpointer v = g_hash_table_lookup(q->job->seq_of_key, g->key);
	int ret = 0;

	if (v == NULL)
		return 0; /* not wanted (held or unknown): never signed */
	note_removed(q->job, g->key, &m->removed);
	pthread_mutex_lock(&q->lock);
	while (q->count == QUEUE_CAP && !q->failed)
		pthread_cond_wait(&q->not_full, &q->lock);
	if (q->failed) {
		*e = q->err;
		ret = -1;
	} else {
		size_t at = (q->head + q->count) % QUEUE_CAP;
		q->items[at].seq = (uint32_t)GPOINTER_TO_UINT(v);
		/* The queue takes the bytes; the writer starts a new buffer. */
		q->items[at].made = *m;
		memset(&m->pdf, 0, sizeof(m->pdf));
		q->count++;
		pthread_cond_signal(&q->not_empty);
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static void *queue_worker(void *arg)
{
	struct sign_queue *q = arg;
	for (;;) {
		struct error e = { { 0 }, 0 };
		uint32_t seq;
		struct pdf_made m;
		int r;
		pthread_mutex_lock(&q->lock);
		while (q->count == 0 && !q->closed && !q->failed)
			pthread_cond_wait(&q->not_empty, &q->lock);
		if (q->failed || q->count == 0) {
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
		seq = q->items[q->head].seq;
		m = q->items[q->head].made;
		q->head = (q->head + 1) % QUEUE_CAP;
		q->count--;
		pthread_cond_signal(&q->not_full);
		pthread_mutex_unlock(&q->lock);
		r = pades_sign_slot(&m.pdf, &m.slot, q->job->signer, &q->job->popt, q->job->mtime,
				    &e);
		if (r == 0)
			r = seal_and_stage(q->job, seq, m.pdf.data, m.pdf.len, &e);
		buf_free(&m.pdf);
		if (r < 0) {
			pthread_mutex_lock(&q->lock);
			queue_fail(q, &e);
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
	}
}

static int sign_split(struct sign_job *job, const uint8_t *data, size_t len,
		      const struct pdf_split_opts *so, const struct pdf_group *groups, size_t ngroups,
		      int threads, struct error *e)
{
	struct sign_queue q;
	pthread_t tid[8];
	int nt = threads < 1 ? 1 : threads > 8 ? 8 : threads, started = 0, r;

	struct pdf_copy_sig sig = { &job->popt, job->mtime, 0 };

	/* Each PDF comes out of the writer with its signature's room already
	 * in place (pades_sign_slot()). */
	if (pades_slot_reserve(job->signer, &job->popt, &sig.reserve, e) < 0)
		return -1;
	memset(&q, 0, sizeof(q));
	q.job = job;
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.not_empty, NULL);
	pthread_cond_init(&q.not_full, NULL);
	for (int i = 0; i < nt; i++)
		if (pthread_create(&tid[started], NULL, queue_worker, &q) == 0)
			started++;
	{
		struct pdf_split_opts wo = *so;
		wo.sig = &sig;
		r = started > 0 ? pdf_split_write(data, len, &wo, groups, ngroups, emit_group, &q, e)
				: err_tmp(e, "cannot start signing threads");
	}
	pthread_mutex_lock(&q.lock);
	q.closed = 1;
	if (r < 0 && !q.failed)
		queue_fail(&q, e);
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.lock);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	for (size_t i = 0; i < q.count; i++)
		buf_free(&q.items[(q.head + i) % QUEUE_CAP].made.pdf);
	if (q.failed) {
		if (r == 0)
			*e = q.err;
		r = -1;
	}
	pthread_cond_destroy(&q.not_empty);
	pthread_cond_destroy(&q.not_full);
	pthread_mutex_destroy(&q.lock);
	return r;
}

/* Per-file mode: a small pool of threads over the files. */
struct file_work {
	struct sign_job *job;
	const struct batch_file *files;
	const uint32_t *seqs;     /* 0 = skip */
	size_t n;
	size_t next;
	pthread_mutex_t lock;
	int failed;
	struct error err;
};

static void *file_worker(void *arg)
{
	struct file_work *w = arg;
	for (;;) {
		struct error e = { { 0 }, 0 };
		size_t i;
		pthread_mutex_lock(&w->lock);
		i = w->failed ? w->n : w->next++;
		pthread_mutex_unlock(&w->lock);
		if (i >= w->n)
			break;
		if (w->seqs[i] == 0)
			continue;
		if (sign_and_stage(w->job, w->seqs[i], w->files[i].name, w->files[i].data,
				   w->files[i].len, &e) < 0) {
			pthread_mutex_lock(&w->lock);
			if (!w->failed) {
				w->failed = 1;
				w->err = e;
			}
			pthread_mutex_unlock(&w->lock);
		}
	}
	return NULL;
}

static int sign_files(struct sign_job *j, const struct batch_file *files, const uint32_t *seqs,
		      size_t n, int threads, struct error *e)
{
	struct file_work w;
	pthread_t tid[8];
	int nt = threads < 1 ? 1 : threads > 8 ? 8 : threads, started = 0;

	memset(&w, 0, sizeof(w));
	w.job = j;
	w.files = files;
	w.seqs = seqs;
	w.n = n;
	pthread_mutex_init(&w.lock, NULL);
	for (int i = 1; i < nt; i++)
		if (pthread_create(&tid[started], NULL, file_worker, &w) == 0)
			started++;
	file_worker(&w);
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&w.lock);
	if (w.failed) {
		*e = w.err;
		return -1;
	}
	return 0;
}

/* ---- reading and matching ---- */

/* "Notice 00012345.PDF" -> the name without its extension; refuses names
 * that are paths.  Never used to open anything. */
static int file_stem(const char *name, char *out, size_t outsize, struct error *e)
{
	size_t n;
	if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL || strstr(name, "..") != NULL ||
	    name[0] == '\0')
		return err_set(e, "the file name \"%.80s\" would leave the batch folder", name);
	if (str_copy(out, name, outsize) >= outsize)
		return err_set(e, "the file name \"%.80s...\" is too long", name);
	n = strlen(out);
	if (n > 4 && g_ascii_strcasecmp(out + n - 4, ".pdf") == 0)
		out[n - 4] = '\0';
	return 0;
}

static int is_common_name(const char *name)
{
	return strstr(name, "共通") != NULL || g_strrstr(name, "common") != NULL ||
	       g_strrstr(name, "COMMON") != NULL;
}

static void report_fill_recipients(struct batch_report *rep, const struct recipients *r)
{
	rep->recipients = r->n;
	rep->key_width = r->key_width;
	str_copy(rep->encoding, r->encoding ? r->encoding : "", sizeof(rep->encoding));
	str_copy(rep->key_column, r->key_header ? r->key_header : "", sizeof(rep->key_column));
	str_copy(rep->name_column, r->name_header ? r->name_header : "", sizeof(rep->name_column));
	str_copy(rep->email_column, r->email_header ? r->email_header : "", sizeof(rep->email_column));
	for (size_t i = 0; i < r->n; i++) {
		const struct recipient *p = &r->v[i];
		if (p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY | RCPT_EXTRA_FIELDS)) {
			char line[64];
			str_fmt(line, sizeof(line), "line %zu: %s", p->line,
				(p->flags & RCPT_EMPTY_KEY) ? "no key"
				: (p->flags & RCPT_INVALID_KEY) ? "a key that is not usable"
								  : "more fields than the header");
			strlist_add(&rep->rows_held, line);
			if (p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY))
				continue;
		}
		if (p->flags & RCPT_DUPLICATE_KEY)
			strlist_add(&rep->duplicate_keys, p->key);
		if (p->flags & RCPT_INVALID_EMAIL)
			strlist_add(&rep->invalid_emails, p->key);
		if (p->flags & RCPT_NO_EMAIL)
			strlist_add(&rep->no_email_rows, p->key);
	}
}

static int usable(const struct recipient *p)
{
	return !(p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY | RCPT_DUPLICATE_KEY |
			     RCPT_EXTRA_FIELDS));
}

/* ---- storing ---- */

static int encode_resident(const struct recipient *p, uint32_t pdf_seq, struct buf *b)
{
	struct buf extra;
	int r;
	buf_init(&extra, 1 << 20);
	for (size_t i = 0; i < p->nextra; i++)
		if (ipc_put_str(&extra, p->extra_names[i]) < 0 ||
		    ipc_put_str(&extra, p->extra_values[i]) < 0) {
			buf_free(&extra);
			return -1;
		}
	r = rec_put_str(b, RR_KEY, p->key) | rec_put_str(b, RR_NAME, p->name ? p->name : "") |
	    rec_put_str(b, RR_EMAIL, p->email ? p->email : "") |
	    rec_put_str(b, RR_MESSAGE, p->message ? p->message : "") |
	    rec_put_str(b, RR_AUTH, p->auth_value ? p->auth_value : "") |
	    rec_put_u64(b, RR_LINE, p->line) | rec_put_u64(b, RR_FLAGS, p->flags) |
	    rec_put_u64(b, RR_PDF, pdf_seq) | rec_put(b, RR_EXTRA, extra.data, extra.len);
	buf_free(&extra);
	return r;
}

static int put_state(struct store_txn *t, uint64_t batch, const char *status,
		     const struct batch_report *rep, struct error *e)
{
	struct buf b;
	uint8_t key[8];
	int r;
	buf_init(&b, 4096);
	be64_put(key, batch);
	r = rec_put_str(&b, BS_STATUS, status) | rec_put_u64(&b, BS_CREATED, (uint64_t)now_utc()) |
	    rec_put_u64(&b, BS_TEST, (uint64_t)rep->test) |
	    rec_put_u64(&b, BS_RECIPIENTS, rep->recipients) |
	    rec_put_u64(&b, BS_MATCHED, rep->matched) | rec_put_u64(&b, BS_SIGNED, rep->signed_pdfs) |
	    rec_put_u64(&b, BS_PID, (uint64_t)getpid());
	if (r == 0)
		r = store_put(t, DB_BATCH_STATE, key, sizeof(key), b.data, b.len, e);
	else
		r = err_set(e, "batch state too large");
	buf_free(&b);
	return r;
}

/* Allocate a batch id and mark it BATCH_STATUS_STORING (invisible to readers). */
static int batch_begin(struct store *st, struct batch_report *rep, struct error *e)
{
	struct store_txn *t = NULL;
	if (store_begin(st, 1, &t, e) < 0)
		return -1;
	if (store_next_id(t, "batch", &rep->batch, e) < 0 ||
	    put_state(t, rep->batch, BATCH_STATUS_STORING, rep, e) < 0 || store_commit(&t, e) < 0) {
		store_abort(&t);
		return -1;
	}
	return 0;
}

static int remove_batch(struct store_txn *t, uint64_t batch, struct error *e)
{
	uint8_t key[8];
	be64_put(key, batch);
	if (store_del_prefix(t, DB_PDFS, key, 8, NULL, e) < 0 ||
	    store_del_prefix(t, DB_RESIDENTS, key, 8, NULL, e) < 0 ||
	    store_del(t, DB_BATCH_STATE, key, 8, e) < 0 || store_del(t, DB_BATCHES, key, 8, e) < 0)
		return -1;
	return 0;
}

static void batch_discard(struct store *st, uint64_t batch)
{
	struct store_txn *t = NULL;
	struct error e = { { 0 }, 0 };
	if (batch == 0)
		return;
	if (store_begin(st, 1, &t, &e) < 0 || remove_batch(t, batch, &e) < 0 ||
	    store_commit(&t, &e) < 0)
		log_err("event=batch_discard_failed batch=%llu reason=\"%s\"",
			(unsigned long long)batch, e.msg);
	store_abort(&t);
}

int batch_sweep(struct store *st, size_t *removed, struct error *e)
{
	struct store_txn *t = NULL;
	struct store_iter *it = NULL;
	uint64_t dead[64];
	size_t ndead = 0;
	const void *k, *v;
	size_t kl, vl;
	int r;

	*removed = 0;
	if (store_begin(st, 0, &t, e) < 0)
		return -1;
	if (store_iter_open(t, DB_BATCH_STATE, NULL, 0, &it, e) < 0) {
		store_abort(&t);
		return -1;
	}
	while (ndead < ARRAY_SIZE(dead) && (r = store_iter_next(it, &k, &kl, &v, &vl)) == 0) {
		char status[32];
		pid_t pid;
		if (kl != 8 || rec_get_str(v, vl, BS_STATUS, status, sizeof(status)) < 0 ||
		    strcmp(status, BATCH_STATUS_STORING) != 0)
			continue;
		pid = (pid_t)rec_get_u64(v, vl, BS_PID, 0);
		/* A batch still being stored by a live process is not ours to sweep. */
		if (pid > 0 && pid != getpid() && (kill(pid, 0) == 0 || errno == EPERM))
			continue;
		dead[ndead++] = be64_get(k);
	}
	store_iter_close(&it);
	store_abort(&t);
	for (size_t i = 0; i < ndead; i++) {
		batch_discard(st, dead[i]);
		log_warn("event=batch_swept batch=%llu reason=\"left incomplete by a process that stopped\"",
			 (unsigned long long)dead[i]);
	}
	*removed = ndead;
	return 0;
}

/* The final commit: residents, their index, the batch, its audit record. */
static int batch_publish(struct store *st, const struct batch_input *in,
			 const struct recipients *r, const uint32_t *pdf_seq,
			 struct batch_report *rep, struct error *e)
{
	struct store_txn *t = NULL;
	struct buf rec, sealed, report;
	uint8_t bkey[8];
	const char *status = BATCH_STATUS_WAITING;
	int ret = -1;

	buf_init(&rec, 4 << 20);
	buf_init(&sealed, 8 << 20);
	buf_init(&report, 4 << 20);
	be64_put(bkey, rep->batch);
	if (store_begin(st, 1, &t, e) < 0)
		goto out;
	if (in->intake_id != NULL) {
		int dup = store_put_new(t, DB_INTAKE, in->intake_id, 32, bkey, sizeof(bkey), e);
		if (dup > 0) {
			/* An input refused or dropped before made no batch (its
			 * value is 0): given again and taken now, it names this one. */
			const void *v;
			size_t vl;
			static const uint8_t none[8];
			if (store_get(t, DB_INTAKE, in->intake_id, 32, &v, &vl, e) == 0 && vl == 8 &&
			    memcmp(v, none, 8) == 0)
				dup = store_put(t, DB_INTAKE, in->intake_id, 32, bkey, sizeof(bkey), e);
		}
		if (dup != 0) {
			if (dup > 0)
				err_tmp(e, "this input already made a batch");
			goto out;
		}
	}
	/* In chunks: the data keys and index values of a chunk come from the
	 * keys process in one round trip each. */
	for (size_t base = 0; base < r->n; base += PUBLISH_CHUNK) {
		size_t m = r->n - base < PUBLISH_CHUNK ? r->n - base : PUBLISH_CHUNK, nidx = 0;
		uint8_t keys[PUBLISH_CHUNK][12], idx[PUBLISH_CHUNK][32];
		uint8_t iv[PUBLISH_CHUNK][8 + RECIPIENTS_KEY_MAX];
		const void *kp[PUBLISH_CHUNK], *ivp[PUBLISH_CHUNK];
		size_t kl[PUBLISH_CHUNK], ivl[PUBLISH_CHUNK];
		struct store_dek deks[PUBLISH_CHUNK];
		int rc = 0;

		for (size_t j = 0; j < m; j++) {
			const struct recipient *p = &r->v[base + j];
			batch_key(keys[j], rep->batch, (uint32_t)(base + j + 1));
			kp[j] = keys[j];
			kl[j] = sizeof(keys[j]);
			if (usable(p)) {
				size_t n = strlen(p->key);
				be64_put(iv[nidx], rep->batch);
				memcpy(iv[nidx] + 8, p->key, n);
				ivp[nidx] = iv[nidx];
				ivl[nidx++] = 8 + n;
			}
		}
		if (store_deks_new(st, DB_RESIDENTS, m, kp, kl, deks, e) < 0)
			goto out;
		if (store_index_many(st, "resident", nidx, ivp, ivl, idx, e) < 0) {
			secure_wipe(deks, sizeof(deks));
			goto out;
		}
		nidx = 0;
		for (size_t j = 0; j < m && rc == 0; j++) {
			const struct recipient *p = &r->v[base + j];
			buf_reset(&rec);
			buf_reset(&sealed);
			if (encode_resident(p, pdf_seq[base + j], &rec) != 0) {
				rc = err_set(e, "CSV line %zu: the row is too large", p->line);
				break;
			}
			rc = store_seal_with(DB_RESIDENTS, keys[j], sizeof(keys[j]), &deks[j], rec.data,
					     rec.len, &sealed, e);
			if (rc == 0)
				rc = store_put(t, DB_RESIDENTS, keys[j], sizeof(keys[j]), sealed.data,
					       sealed.len, e);
			if (rc == 0 && usable(p))
				rc = store_put(t, DB_RESIDENT_IDX, idx[nidx++], 32, keys[j],
					       sizeof(keys[j]), e);
		}
		secure_wipe(deks, sizeof(deks));
		if (rc < 0)
			goto out;
	}
	{
		FILE *f;
		char *text = NULL;
		size_t tlen = 0;
		char created[8];
		str_copy(rep->status, status, sizeof(rep->status));
		f = open_memstream(&text, &tlen);
		if (f == NULL) {
			err_tmp(e, "out of memory");
			goto out;
		}
		batch_report_json(rep, f);
		fclose(f);
		buf_append(&report, text, tlen);
		free(text);
		be64_put((uint8_t *)created, (uint64_t)now_utc());
		buf_reset(&rec);
		if ((rec_put_str(&rec, BR_TITLE, in->title ? in->title : "") |
		     rec_put_str(&rec, BR_MESSAGE, in->set && in->set->message ? in->set->message : "") |
		     rec_put_str(&rec, BR_SPLIT, rep->split_rule) |
		     rec_put(&rec, BR_REPORT, report.data, report.len) |
		     rec_put_str(&rec, BR_ACTOR, in->actor ? in->actor : "") |
		     rec_put_str(&rec, BR_FROM, in->from ? in->from : "") |
		     rec_put(&rec, BR_CREATED, created, 8) |
		     rec_put_str(&rec, BR_AUTH, in->set && in->set->auth ? in->set->auth : "") |
		     rec_put_str(&rec, BR_REMINDERS, in->set && in->set->reminders ? in->set->reminders : "") |
		     rec_put_str(&rec, BR_DEADLINE, in->set && in->set->deadline ? in->set->deadline : "") |
		     rec_put_str(&rec, BR_EXPIRY, in->set && in->set->expiry ? in->set->expiry : "") |
		     rec_put_str(&rec, BR_LEVEL, pades_level_name(in->level))) != 0) {
			err_set(e, "the batch record is too large");
			goto out;
		}
		if (store_put_sealed(t, DB_BATCHES, bkey, 8, rec.data, rec.len, e) < 0 ||
		    put_state(t, rep->batch, status, rep, e) < 0)
			goto out;
	}
	{
		char target[32], detail[160];
		struct audit_entry a;
		str_fmt(target, sizeof(target), "batch:%llu", (unsigned long long)rep->batch);
		str_fmt(detail, sizeof(detail), "recipients=%zu matched=%zu signed=%zu split=%s test=%s",
			rep->recipients, rep->matched, rep->signed_pdfs, rep->split_rule,
			rep->test ? "yes" : "no");
		a = (struct audit_entry){ in->actor, "batch.submit", target, in->from, detail };
		if (audit_append(t, &a, NULL, e) < 0)
			goto out;
	}
	/* Everything staged so far becomes durable with this commit. */
	if (store_set_nosync(st, 0, e) < 0 || store_commit(&t, e) < 0 || store_sync(st, e) < 0)
		goto out;
	ret = 0;
out:
	store_abort(&t);
	buf_wipe(&rec);
	buf_wipe(&sealed);
	buf_free(&report);
	return ret;
}

/* ---- the pipeline ---- */

static int read_recipients(const struct batch_input *in, struct recipients **r,
			   struct batch_report *rep, struct error *e)
{
	struct csv_limits lim = { 0, in->csv_max_rows, 0, 0 };
	struct csv_table *t = NULL;
	struct recipients_options o;
	const struct batch_settings *s = in->set;
	int ret;

	if (in->csv.data == NULL)
		return err_set(e, "the batch has no recipients CSV");
	memset(&o, 0, sizeof(o));
	if (s != NULL) {
		o.key_column = s->key_column;
		o.name_column = s->name_column;
		o.email_column = s->email_column;
		o.message_column = s->message_column;
		o.attachment_column = s->attachment_column;
		o.auth_column = s->auth_column;
		o.key_width = s->key_width;
	}
	if (csv_parse(in->csv.data, in->csv.len, &lim, &t, e) < 0) {
		char msg[ERR_MAX];
		str_copy(msg, e->msg, sizeof(msg));
		return err_set(e, "%s: %s", in->csv.name ? in->csv.name : "CSV", msg);
	}
	ret = recipients_from_csv(t, &o, r, e);
	csv_free(&t);
	if (ret < 0) {
		char msg[ERR_MAX];
		str_copy(msg, e->msg, sizeof(msg));
		return err_set(e, "%s: %s", in->csv.name ? in->csv.name : "CSV", msg);
	}
	report_fill_recipients(rep, *r);
	return 0;
}

static enum batch_split decide_split(const struct batch_input *in)
{
	enum batch_split s = in->set != NULL ? in->set->split : SPLIT_INFER;
	if (s != SPLIT_INFER)
		return s;
	if (in->npdfs > 1)
		return SPLIT_PER_FILE;
	if (in->npdfs == 1 && is_common_name(in->pdfs[0].name))
		return SPLIT_COMMON;
	return SPLIT_AUTO;
}

/* Seq (1-based CSV row) of each usable key; duplicates never map. */
static GHashTable *key_index(const struct recipients *r)
{
	GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; i < r->n; i++)
		if (usable(&r->v[i]))
			g_hash_table_insert(h, r->v[i].key, GUINT_TO_POINTER((guint)(i + 1)));
	return h;
}

static int known_key(const struct recipients *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!(r->v[i].flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY)) && strcmp(r->v[i].key, key) == 0)
			return 1;
	return 0;
}

int batch_submit(struct store *st, const struct signer *signer, const struct batch_input *in,
		 struct batch_report *rep, struct error *e)
{
	struct recipients *r = NULL;
	struct pdf_split_result plan;
	struct pdf_split_opts so;
	struct sign_job job;
	GHashTable *by_key = NULL, *want = NULL, *pdf_keys = NULL;
	uint32_t *pdf_seq = NULL, *file_seq = NULL;
	const char **keys = NULL;
	enum batch_split split;
	int threads = in->threads > 0 ? in->threads : cpu_threads(PDF_TEXT_THREADS_MAX);
	int have_plan = 0, job_ready = 0, ret = -1;
	size_t nkeys = 0;
	struct pdf_info first_info;

	memset(rep, 0, sizeof(*rep));
	memset(&plan, 0, sizeof(plan));
	memset(&job, 0, sizeof(job));
	rep->test = in->set != NULL && in->set->test;
	/* Every way in checks its title (settings, --title, the Subject); this
	 * one also covers a folder's name, and any caller yet to come. */
	{
		struct text_problem tp;
		if (in->title != NULL && text_check(in->title, TEXT_LINE, TEXT_TITLE_MAX, &tp) < 0) {
			err_set(e, "the title: %s", tp.what);
			goto out;
		}
	}
	if (read_recipients(in, &r, rep, e) < 0)
		goto out;
	if (in->npdfs == 0) {
		err_set(e, "the batch has no PDF");
		goto out;
	}
	for (size_t i = 0; i < in->npdfs; i++) {
		struct error ce = { { 0 }, 0 };
		if (pdf_check(in->pdfs[i].data, in->pdfs[i].len, in->pdf_password, in->max_pages,
			      i == 0 ? &first_info : NULL, &ce) < 0) {
			if (ce.temporary)
				err_tmp(e, "%s: %s", in->pdfs[i].name, ce.msg);
			else
				err_set(e, "%s: %s", in->pdfs[i].name, ce.msg);
			goto out;
		}
	}
	split = decide_split(in);
	by_key = key_index(r);
	pdf_seq = xcalloc(r->n ? r->n : 1, sizeof(*pdf_seq));
	/* Which PDF-side key is signed for which resident. */
	want = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/* Every normalised key some PDF belongs to, to count what matched. */
	pdf_keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	if (split == SPLIT_COMMON) {
		if (in->npdfs != 1) {
			err_set(e, "a common PDF batch takes exactly one PDF, not %zu", in->npdfs);
			goto out;
		}
		str_copy(rep->split_rule, "common PDF for everybody", sizeof(rep->split_rule));
		for (size_t i = 0; i < r->n; i++)
			if (!(r->v[i].flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY))) {
				g_hash_table_add(pdf_keys, g_strdup(r->v[i].key));
				if (usable(&r->v[i]))
					pdf_seq[i] = PDF_COMMON_SEQ;
			}
	} else if (split == SPLIT_PER_FILE) {
		file_seq = xcalloc(in->npdfs, sizeof(*file_seq));
		str_copy(rep->split_rule, "one PDF per resident, matched by file name",
			 sizeof(rep->split_rule));
		for (size_t f = 0; f < in->npdfs; f++) {
			char stem[256], norm[RECIPIENTS_KEY_MAX + 1];
			gpointer v = NULL;
			if (file_stem(in->pdfs[f].name, stem, sizeof(stem), e) < 0)
				goto out;
			/* A file named in the CSV's attachment column wins. */
			for (size_t i = 0; v == NULL && i < r->n; i++) {
				char astem[256];
				if (r->v[i].attachment == NULL || r->v[i].attachment[0] == '\0' || !usable(&r->v[i]))
					continue;
				if (file_stem(r->v[i].attachment, astem, sizeof(astem), e) < 0) {
					char msg[ERR_MAX];
					str_copy(msg, e->msg, sizeof(msg));
					err_set(e, "CSV line %zu: %s", r->v[i].line, msg);
					goto out;
				}
				if (strcmp(astem, stem) == 0)
					v = GUINT_TO_POINTER((guint)(i + 1));
			}
			if (v == NULL && recipients_normalize_key(stem, r->key_width, norm, sizeof(norm)) == 0) {
				v = g_hash_table_lookup(by_key, norm);
				g_hash_table_add(pdf_keys, g_strdup(norm));
			}
			if (v == NULL) {
				if (recipients_normalize_key(stem, r->key_width, norm, sizeof(norm)) == 0 &&
				    known_key(r, norm))
					continue; /* a held key (duplicate): never signed */
				strlist_add(&rep->unmatched_pdf_keys,
					    recipients_normalize_key(stem, r->key_width, norm, sizeof(norm)) == 0
						    ? norm : stem);
				continue;
			}
			if (pdf_seq[GPOINTER_TO_UINT(v) - 1] != 0) {
				err_set(e, "%s: a second PDF for the resident on CSV line %zu",
					in->pdfs[f].name, r->v[GPOINTER_TO_UINT(v) - 1].line);
				goto out;
			}
			file_seq[f] = GPOINTER_TO_UINT(v);
			pdf_seq[GPOINTER_TO_UINT(v) - 1] = GPOINTER_TO_UINT(v);
			g_hash_table_add(pdf_keys, g_strdup(r->v[GPOINTER_TO_UINT(v) - 1].key));
		}
	} else {
		/* One PDF to split: auto (the CSV's keys on the pages), key regex, or pages. */
		if (in->npdfs != 1) {
			err_set(e, "splitting takes exactly one PDF, not %zu (or name one PDF per resident)",
				in->npdfs);
			goto out;
		}
		memset(&so, 0, sizeof(so));
		so.threads = threads;
		so.password = in->pdf_password;
		so.max_pages = in->max_pages;
		so.checked = &first_info; /* checked above: not parsed again */
		if (split == SPLIT_AUTO) {
			keys = xcalloc(r->n ? r->n : 1, sizeof(*keys));
			for (size_t i = 0; i < r->n; i++)
				if (!(r->v[i].flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY)))
					keys[nkeys++] = r->v[i].key;
			so.mode = PDF_SPLIT_AUTO;
			so.keys = keys;
			so.nkeys = nkeys;
		} else if (split == SPLIT_KEY) {
			so.mode = PDF_SPLIT_KEY;
			so.key_regex = in->set->key_regex;
		} else {
			so.mode = PDF_SPLIT_PAGES;
			so.pages_per_resident = in->set->pages;
		}
		if (pdf_split_plan(in->pdfs[0].data, in->pdfs[0].len, &so, &plan, e) < 0) {
			char msg[ERR_MAX];
			str_copy(msg, e->msg, sizeof(msg));
			if (e->temporary)
				err_tmp(e, "%s: %s", in->pdfs[0].name, msg);
			else
				err_set(e, "%s: %s", in->pdfs[0].name, msg);
			goto out;
		}
		have_plan = 1;
		rep->pages = plan.info.pages;
		log_debug("event=batch_planned pages=%d groups=%zu", plan.info.pages, plan.ngroups);
		if (split == SPLIT_PAGES) {
			size_t usable_rows = 0;
			str_fmt(rep->split_rule, sizeof(rep->split_rule),
				"%d pages per resident, in CSV order", so.pages_per_resident);
			for (size_t i = 0; i < r->n; i++)
				usable_rows += !(r->v[i].flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY));
			if (plan.ngroups != usable_rows) {
				err_set(e, "%s: %zu residents of %d pages, but the CSV has %zu rows",
					in->pdfs[0].name, plan.ngroups, so.pages_per_resident, usable_rows);
				goto out;
			}
		} else {
			str_fmt(rep->split_rule, sizeof(rep->split_rule), "%s",
				split == SPLIT_AUTO ? "each resident's key found on the pages"
						    : "a new resident where the key on the page changes");
		}
		for (size_t g = 0, row = 0; g < plan.ngroups; g++) {
			char norm[RECIPIENTS_KEY_MAX + 1];
			const char *k = plan.groups[g].key;
			gpointer v;
			if (split == SPLIT_PAGES) {
				while (row < r->n && (r->v[row].flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY)))
					row++;
				k = r->v[row++].key;
			} else if (split == SPLIT_KEY &&
				   recipients_normalize_key(k, r->key_width, norm, sizeof(norm)) == 0) {
				k = norm;
			}
			g_hash_table_add(pdf_keys, g_strdup(k));
			v = g_hash_table_lookup(by_key, k);
			if (v == NULL) {
				if (!known_key(r, k))
					strlist_add(&rep->unmatched_pdf_keys, k);
				continue;
			}
			if (pdf_seq[GPOINTER_TO_UINT(v) - 1] != 0)
				continue;
			pdf_seq[GPOINTER_TO_UINT(v) - 1] = GPOINTER_TO_UINT(v);
			g_hash_table_insert(want, g_strdup(plan.groups[g].key), v);
		}
		for (size_t i = 0; i < plan.nrepeated; i++)
			strlist_add(&rep->repeated_pdf_keys, plan.repeated_keys[i]);
		/* Numbers in the key's place that the CSV does not have: their
		 * pages went to nobody. */
		for (size_t i = 0; i < plan.nunmatched; i++) {
			char norm[RECIPIENTS_KEY_MAX + 1];
			const char *k = plan.unmatched_keys[i];
			if (recipients_normalize_key(k, r->key_width, norm, sizeof(norm)) == 0)
				k = norm;
			strlist_add(&rep->unmatched_pdf_keys, k); /* each once */
		}
		/* Residents on a page that could not be given to one of them:
		 * nothing is signed for them (paper), and the report says which
		 * page. */
		for (size_t i = 0; i < plan.nholds; i++) {
			char norm[RECIPIENTS_KEY_MAX + 1], line[160];
			const char *k = plan.holds[i].key;
			if (split == SPLIT_KEY &&
			    recipients_normalize_key(k, r->key_width, norm, sizeof(norm)) == 0)
				k = norm;
			strlist_add(&rep->held_pdf_keys, k);
			for (size_t row = 0; row < r->n; row++) {
				if ((r->v[row].flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY)) ||
				    strcmp(r->v[row].key, k) != 0)
					continue;
				str_fmt(line, sizeof(line), "line %zu: page %d shows several residents' "
					"keys and cannot be given to one of them", r->v[row].line,
					plan.holds[i].page);
				strlist_add(&rep->rows_held, line);
			}
		}
	}
	/* Rows with a usable key and no PDF; duplicates count as matched when
	 * a PDF exists for them (DESIGN.md: distinct keys with a row and a PDF). */
	for (size_t i = 0; i < r->n; i++) {
		const struct recipient *p = &r->v[i];
		if (p->flags & (RCPT_EMPTY_KEY | RCPT_INVALID_KEY))
			continue;
		if (g_hash_table_contains(pdf_keys, p->key)) {
			/* count each distinct key once */
			g_hash_table_remove(pdf_keys, p->key);
			rep->matched++;
		} else if (usable(p) && pdf_seq[i] == 0) {
			strlist_add(&rep->csv_rows_without_pdf, p->key);
		}
	}
	/* A preview of the first notices, so staff can see the match is right. */
	for (size_t i = 0; i < r->n && rep->preview.n < 3; i++) {
		const struct recipient *p = &r->v[i];
		char line[512];
		int pages = 0;
		if (pdf_seq[i] == 0)
			continue;
		if (have_plan)
			for (size_t g = 0; g < plan.ngroups; g++)
				if (GPOINTER_TO_UINT(g_hash_table_lookup(want, plan.groups[g].key)) == i + 1)
					pages = plan.groups[g].page_count;
		str_fmt(line, sizeof(line), "%s %s <%s>%s%.0d%s", p->key, p->name ? p->name : "",
			p->email ? p->email : "", pages ? " (" : "", pages, pages ? " pages)" : "");
		strlist_add(&rep->preview, line);
	}
	if (rep->matched == 0) {
		err_set(e, "no resident key matches between the CSV and the PDF%s (keys like %s were looked for)",
			in->npdfs > 1 ? "s" : "", rep->recipients > 0 && r->n > 0 ? r->v[0].key : "-");
		goto out;
	}
	if (in->dry_run) {
		str_copy(rep->status, "preview", sizeof(rep->status));
		ret = 0;
		goto out;
	}
	if (signer == NULL) {
		err_set(e, "no signing credential is configured");
		goto out;
	}

	/* Sign, seal and stage every wanted PDF; then publish in one commit. */
	job.st = st;
	job.signer = signer;
	job.popt.level = in->level;
	job.popt.tsa_url = in->tsa_url;
	job.popt.tsa_ca_file = in->tsa_ca_file;
	job.popt.tsa_refusal_temporary = 1;
	job.popt.reason = "処分通知 (administrative notice)";
	job.popt.revocation = in->level >= PADES_B_LT ? pades_fetch_ocsp_or_crls_http : NULL;
	/* One signing time for the whole batch. */
	job.mtime = now_utc();
	job.popt.signing_time = job.mtime;
	job.seq_of_key = want;
	job.password = in->pdf_password;
	job.max_pages = in->max_pages;
	job.removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, removed_seen_free);
	job.stage.st = st;
	pthread_mutex_init(&job.stage.lock, NULL);
	pthread_mutex_init(&job.count_lock, NULL);
	job_ready = 1;
	if (batch_begin(st, rep, e) < 0)
		goto out;
	job.batch = rep->batch;
	if (store_set_nosync(st, 1, e) < 0)
		goto fail_stored;
	if (split != SPLIT_COMMON && make_pdf_deks(&job, pdf_seq, r->n, e) < 0)
		goto fail_stored;
	if (split == SPLIT_COMMON) {
		if (sign_and_stage(&job, PDF_COMMON_SEQ, in->pdfs[0].name, in->pdfs[0].data,
				   in->pdfs[0].len, e) < 0)
			goto fail_stored;
	} else if (split == SPLIT_PER_FILE) {
		if (sign_files(&job, in->pdfs, file_seq, in->npdfs, threads, e) < 0)
			goto fail_stored;
	} else {
		if (sign_split(&job, in->pdfs[0].data, in->pdfs[0].len, &so, plan.groups, plan.ngroups,
			       threads, e) < 0)
			goto fail_stored;
	}
	for (size_t i = 0; i < in->nextras; i++) {
		uint8_t key[12];
		struct buf sealed;
		size_t n;
		batch_key(key, rep->batch, PDF_EXTRA_SEQ + (uint32_t)i);
		buf_init(&sealed, SEALED_MAX);
		if (store_seal(st, DB_PDFS, key, sizeof(key), in->extras[i].data, in->extras[i].len,
			       &sealed, e) < 0) {
			buf_free(&sealed);
			goto fail_stored;
		}
		{
			uint8_t *p = buf_steal(&sealed, &n);
			if (stage_push(&job.stage, key, p, n, e) < 0)
				goto fail_stored;
		}
	}
	pthread_mutex_lock(&job.stage.lock);
	{
		int fr = stage_flush_locked(&job.stage, e);
		pthread_mutex_unlock(&job.stage.lock);
		if (fr < 0)
			goto fail_stored;
	}
	rep->signed_pdfs = job.signed_count;
	report_removed(&job, rep);
	log_debug("event=batch_signed signed=%zu", rep->signed_pdfs);
	if (batch_publish(st, in, r, pdf_seq, rep, e) < 0)
		goto fail_stored;
	log_info("event=batch_stored batch=%llu recipients=%zu matched=%zu signed=%zu",
		 (unsigned long long)rep->batch, rep->recipients, rep->matched, rep->signed_pdfs);
	ret = 0;
	goto out;
fail_stored:
	store_set_nosync(st, 0, NULL);
	batch_discard(st, rep->batch);
	rep->batch = 0;
out:
	if (ret < 0) {
		str_copy(rep->error, e->msg, sizeof(rep->error));
		/* exit 3 in the CLI: an internal failure, not a verdict on the input */
		str_copy(rep->status, e->temporary ? "error" : "refused", sizeof(rep->status));
	}
	if (job_ready) {
		for (size_t i = 0; i < job.stage.n; i++)
			free(job.stage.v[i].data);
		free(job.stage.v);
		pthread_mutex_destroy(&job.stage.lock);
		pthread_mutex_destroy(&job.count_lock);
		if (job.deks)
			secure_wipe(job.deks, job.ndeks * sizeof(*job.deks));
		free(job.deks);
		free(job.dek_ready);
		if (job.removed != NULL)
			g_hash_table_destroy(job.removed);
	}
	if (have_plan)
		pdf_split_result_free(&plan);
	if (want != NULL)
		g_hash_table_destroy(want);
	if (pdf_keys != NULL)
		g_hash_table_destroy(pdf_keys);
	if (by_key != NULL)
		g_hash_table_destroy(by_key);
	free(keys);
	free(pdf_seq);
	free(file_seq);
	recipients_free(&r);
	return ret;
}

void batch_report_free(struct batch_report *rep)
{
	strlist_free(&rep->unmatched_pdf_keys);
	strlist_free(&rep->csv_rows_without_pdf);
	strlist_free(&rep->invalid_emails);
	strlist_free(&rep->no_email_rows);
	strlist_free(&rep->duplicate_keys);
	strlist_free(&rep->repeated_pdf_keys);
	strlist_free(&rep->rows_held);
	strlist_free(&rep->held_pdf_keys);
	strlist_free(&rep->preview);
	strlist_free(&rep->removed_active_content);
}


static void json_list(FILE *f, const char *name, const struct strlist *l)
{
	json_member(f, name, 0);
	fputc('[', f);
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			fputc(',', f);
		json_fputs(f, l->v[i]);
	}
	fputc(']', f);
}

static void json_string(FILE *f, const char *name, const char *v, int first)
{
	json_member(f, name, first);
	json_fputs(f, v);
}

void batch_report_json(const struct batch_report *rep, FILE *f)
{
	fputc('{', f);
	json_member(f, "batch", 1);
	if (rep->batch)
		fprintf(f, "%llu", (unsigned long long)rep->batch);
	else
		fputs("null", f);
	json_string(f, "status", rep->status[0] ? rep->status : "refused", 0);
	json_member(f, "recipients", 0);
	fprintf(f, "%zu", rep->recipients);
	json_member(f, "matched", 0);
	fprintf(f, "%zu", rep->matched);
	json_list(f, "unmatched_pdf_keys", &rep->unmatched_pdf_keys);
	json_list(f, "csv_rows_without_pdf", &rep->csv_rows_without_pdf);
	json_list(f, "invalid_emails", &rep->invalid_emails);
	json_list(f, "no_email_rows", &rep->no_email_rows);
	json_list(f, "duplicate_keys", &rep->duplicate_keys);
	json_list(f, "repeated_pdf_keys", &rep->repeated_pdf_keys);
	json_list(f, "rows_held", &rep->rows_held);
	json_list(f, "held_pdf_keys", &rep->held_pdf_keys);
	json_list(f, "preview", &rep->preview);
	json_list(f, "removed_active_content", &rep->removed_active_content);
	json_member(f, "signed", 0);
	fprintf(f, "%zu", rep->signed_pdfs);
	json_member(f, "test", 0);
	fputs(rep->test ? "true" : "false", f);
	json_member(f, "pages", 0);
	fprintf(f, "%d", rep->pages);
	json_member(f, "inferred", 0);
	fputc('{', f);
	json_string(f, "split", rep->split_rule, 1);
	json_string(f, "key_column", rep->key_column, 0);
	json_string(f, "name_column", rep->name_column, 0);
	json_string(f, "email_column", rep->email_column, 0);
	json_member(f, "key_width", 0);
	fprintf(f, "%d", rep->key_width);
	json_string(f, "encoding", rep->encoding, 0);
	fputc('}', f);
	if (rep->duplicate_of != 0) {
		json_member(f, "duplicate_of", 0);
		fprintf(f, "%llu", (unsigned long long)rep->duplicate_of);
	}
	if (rep->error[0] != '\0')
		json_string(f, "error", rep->error, 0);
	fputs("}\n", f);
}

static void text_list(FILE *f, const char *title, const struct strlist *l)
{
	if (l->n == 0)
		return;
	fprintf(f, "  %s (%zu):", title, l->n);
	for (size_t i = 0; i < l->n && i < 20; i++)
		fprintf(f, " %s", l->v[i]);
	if (l->n > 20)
		fprintf(f, " ... and %zu more", l->n - 20);
	fputc('\n', f);
}

void batch_report_text(const struct batch_report *rep, FILE *f)
{
	if (rep->batch)
		fprintf(f, "batch %llu: %s%s\n", (unsigned long long)rep->batch, rep->status,
			rep->test ? " (TEST / テスト利用)" : "");
	fprintf(f, "  recipients (CSV rows): %zu, matched: %zu, signed PDFs: %zu\n", rep->recipients,
		rep->matched, rep->signed_pdfs);
	fprintf(f, "  split: %s; key column \"%s\", name \"%s\", e-mail \"%s\"; %s\n",
		rep->split_rule, rep->key_column, rep->name_column, rep->email_column, rep->encoding);
	text_list(f, "PDFs without a CSV row", &rep->unmatched_pdf_keys);
	text_list(f, "CSV rows without a PDF", &rep->csv_rows_without_pdf);
	text_list(f, "invalid addresses (paper)", &rep->invalid_emails);
	text_list(f, "rows without an address (paper)", &rep->no_email_rows);
	text_list(f, "duplicate keys (held back)", &rep->duplicate_keys);
	text_list(f, "keys in two separate page ranges (held back)", &rep->repeated_pdf_keys);
	text_list(f, "rows held back", &rep->rows_held);
	text_list(f, "keys on pages that could not be given to one resident (held back)",
		  &rep->held_pdf_keys);
	if (rep->removed_active_content.n > 0) {
		fprintf(f, "  active content removed before signing / 署名前に除去した動的要素:\n");
		for (size_t i = 0; i < rep->removed_active_content.n; i++)
			fprintf(f, "    %s\n", rep->removed_active_content.v[i]);
	}
	if (rep->preview.n > 0) {
		fprintf(f, "  preview of the first notices / 先頭の通知:\n");
		for (size_t i = 0; i < rep->preview.n; i++)
			fprintf(f, "    %s\n", rep->preview.v[i]);
	}
	if (rep->batch)
		fprintf(f, "  next: approve with `tayori batch approve %llu`\n",
			(unsigned long long)rep->batch);
}
