/*
 * batch_sign.c — the second step of a batch (batch_int.h): one signed PDF
 * per resident, or one common PDF, through a struct signer (whose key may
 * stay in the keys process), in threads, each handed to a sink as soon as
 * it is signed.  A PDF that holds active content is first written anew
 * without it (pdf_inert.h), and the report says what was left out.
 * Runs in the gateway and in `tayori submit`.  Standards: ETSI EN 319 142
 * (PAdES) through pdf/pades.h.
 */
#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/batch_int.h"
#include "lib/batches.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "pdf/pades.h"
#include "pdf/pdf_inert.h"

#define THREADS_MAX 8

struct sign_job {
	const struct signer *signer;
	const struct batch_sink *sink;
	struct pades_options popt;
	int64_t mtime;           /* /M of every signature of the batch */
	GHashTable *seq_of_key;  /* page group key -> seq (GUINT_TO_POINTER) */
	const char *password;    /* of the PDFs given whole */
	int max_pages;
	pthread_mutex_t count_lock;
	size_t signed_count;     /* under count_lock */
	/* active content left out (pdf_inert.h): label -> struct removed_seen,
	 * under count_lock */
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
	gpointer *labels = g_hash_table_get_keys_as_array(j->removed, &n);

	qsort(labels, n, sizeof(*labels), label_cmp);
	for (guint i = 0; i < n; i++) {
		const struct removed_seen *seen = g_hash_table_lookup(j->removed, labels[i]);
		char line[256];
		if (i == REMOVED_LINES) {
			str_fmt(line, sizeof(line), "... and %u more", n - i);
			batch_report_add(&rep->removed_active_content, line);
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
		batch_report_add(&rep->removed_active_content, line);
	}
	g_free(labels);
}

/* ---- one PDF ---- */

/* Hand a signed PDF to the sink and count it. */
static int deliver(struct sign_job *j, uint32_t seq, const uint8_t *pdf, size_t len,
		   struct error *e)
{
	if (j->sink->put(j->sink->ctx, seq, pdf, len, e) < 0)
		return -1;
	pthread_mutex_lock(&j->count_lock);
	j->signed_count++;
	pthread_mutex_unlock(&j->count_lock);
	return 0;
}

/* Per-file and common mode: a PDF as given gets its signature in an
 * update; one holding active content is first written anew without it
 * (pdf_inert.h), and that new file is signed. */
static int sign_whole(struct sign_job *j, uint32_t seq, const char *who, const uint8_t *pdf,
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
	ret = deliver(j, seq, signed_pdf, signed_len, e);
	if (ret == 0)
		note_removed(j, who, &rm);
out:
	free(signed_pdf);
	buf_free(&inert);
	return ret;
}

/* ---- split mode ---- */

/* The splitter's writer hands each resident's PDF, with its empty
 * signature already in place, to a bounded queue; signer threads take them
 * from it, so the writer, the signers and the keys process's RSA
 * operations overlap instead of waiting on each other. */
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
			r = deliver(q->job, seq, m.pdf.data, m.pdf.len, &e);
		buf_free(&m.pdf);
		if (r < 0) {
			pthread_mutex_lock(&q->lock);
			queue_fail(q, &e);
			pthread_mutex_unlock(&q->lock);
			return NULL;
		}
	}
}

static int sign_split(struct sign_job *job, const struct batch_file *pdf,
		      const struct batch_plan *p, struct error *e)
{
	struct sign_queue q;
	pthread_t tid[THREADS_MAX];
	int nt = p->threads < 1 ? 1 : p->threads > THREADS_MAX ? THREADS_MAX : p->threads;
	int started = 0, r;
	struct pdf_copy_sig sig = { &job->popt, job->mtime, 0 };
	struct pdf_split_opts wo = p->so;

	/* Each PDF comes out of the writer with its signature's room already
	 * in place (pades_sign_slot()). */
	if (pades_slot_reserve(job->signer, &job->popt, &sig.reserve, e) < 0)
		return -1;
	wo.sig = &sig;
	memset(&q, 0, sizeof(q));
	q.job = job;
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.not_empty, NULL);
	pthread_cond_init(&q.not_full, NULL);
	for (int i = 0; i < nt; i++)
		if (pthread_create(&tid[started], NULL, queue_worker, &q) == 0)
			started++;
	r = started > 0 ? pdf_split_write(pdf->data, pdf->len, &wo, p->groups.groups,
					  p->groups.ngroups, emit_group, &q, e)
			: err_tmp(e, "cannot start signing threads");
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

/* ---- per-file mode: a small pool of threads over the files ---- */

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
		if (sign_whole(w->job, w->seqs[i], w->files[i].name, w->files[i].data,
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
	pthread_t tid[THREADS_MAX];
	int nt = threads < 1 ? 1 : threads > THREADS_MAX ? THREADS_MAX : threads, started = 0;

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

/* ---- the step ---- */

int batch_sign(const struct signer *signer, const struct batch_input *in,
	       const struct batch_plan *p, const struct batch_sink *sink,
	       struct batch_report *rep, struct error *e)
{
	struct sign_job job;
	int r;

	memset(&job, 0, sizeof(job));
	job.signer = signer;
	job.sink = sink;
	job.popt.level = in->level;
	job.popt.tsa_url = in->tsa_url;
	job.popt.tsa_ca_file = in->tsa_ca_file;
	job.popt.tsa_refusal_temporary = 1;
	job.popt.reason = "処分通知 (administrative notice)";
	job.popt.revocation = in->level >= PADES_B_LT ? pades_fetch_ocsp_or_crls_http : NULL;
	/* One signing time for the whole batch. */
	job.mtime = now_utc();
	job.popt.signing_time = job.mtime;
	job.seq_of_key = p->want;
	job.password = in->pdf_password;
	job.max_pages = in->max_pages;
	job.removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, removed_seen_free);
	pthread_mutex_init(&job.count_lock, NULL);
	if (p->split == SPLIT_COMMON)
		r = sign_whole(&job, BATCH_PDF_COMMON, in->pdfs[0].name, in->pdfs[0].data,
			       in->pdfs[0].len, e);
	else if (p->split == SPLIT_PER_FILE)
		r = sign_files(&job, in->pdfs, p->file_seq, in->npdfs, p->threads, e);
	else
		r = sign_split(&job, &in->pdfs[0], p, e);
	if (r == 0) {
		rep->signed_pdfs = job.signed_count;
		report_removed(&job, rep);
		log_debug("event=batch_signed signed=%zu", rep->signed_pdfs);
	}
	g_hash_table_destroy(job.removed);
	pthread_mutex_destroy(&job.count_lock);
	return r;
}
