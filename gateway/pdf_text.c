/*
 * pdf_text.c — page text through poppler-glib, NFKC-normalised, in one or
 * more threads (see pdf_text.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §9.10 (text extraction,
 * ToUnicode CMaps), Unicode UAX #15 (NFKC).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <poppler.h>
#include "util.h"
#include "gateway/pdf_text.h"

struct pdf_text {
	PopplerDocument *doc;
	GBytes *bytes;
	int npages;
};

int pdf_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > PDF_TEXT_THREADS_MAX)
		n = PDF_TEXT_THREADS_MAX;
	return (int)n;
}

int pdf_text_open(const uint8_t *data, size_t len, const char *password,
		  struct pdf_text **out, struct error *e)
{
	struct pdf_text *t;
	GError *gerr = NULL;

	*out = NULL;
	t = xcalloc(1, sizeof *t);
	/* No copy: the caller keeps data alive for the handle's lifetime. */
	t->bytes = g_bytes_new_static(data, len);
	t->doc = poppler_document_new_from_bytes(t->bytes, password && *password ? password : NULL,
						 &gerr);
	if (!t->doc) {
		if (gerr && g_error_matches(gerr, POPPLER_ERROR, POPPLER_ERROR_ENCRYPTED))
			err_set(e, "poppler cannot open the encrypted PDF with the configured password");
		else
			err_set(e, "poppler cannot read the PDF (%s)", gerr ? gerr->message : "unknown error");
		g_clear_error(&gerr);
		g_bytes_unref(t->bytes);
		free(t);
		return -1;
	}
	t->npages = poppler_document_get_n_pages(t->doc);
	*out = t;
	return 0;
}

int pdf_text_npages(const struct pdf_text *t)
{
	return t->npages;
}

char *pdf_text_page(struct pdf_text *t, int page, size_t *len, struct error *e)
{
	PopplerPage *pp;
	char *raw, *norm;
	size_t rawlen;

	if (page < 1 || page > t->npages) {
		err_set(e, "page %d does not exist (the PDF has %d)", page, t->npages);
		return NULL;
	}
	pp = poppler_document_get_page(t->doc, page - 1);
	if (!pp) {
		err_set(e, "poppler cannot read page %d", page);
		return NULL;
	}
	raw = poppler_page_get_text(pp);
	g_object_unref(pp);
	if (!raw)
		raw = g_strdup("");
	rawlen = strlen(raw);
	if (rawlen > PDF_TEXT_PAGE_MAX) {
		/* Cut at a character boundary before normalising. */
		const char *cut = g_utf8_find_prev_char(raw, raw + PDF_TEXT_PAGE_MAX);
		rawlen = cut ? (size_t)(cut - raw) : 0;
	}
	/* poppler emits UTF-8; should a broken font give anything else, the
	 * page is treated as having no readable text rather than failing. */
	norm = g_utf8_normalize(raw, (gssize)rawlen, G_NORMALIZE_NFKC);
	g_free(raw);
	if (!norm)
		norm = g_strdup("");
	if (len)
		*len = strlen(norm);
	return norm;
}

void pdf_text_close(struct pdf_text **t)
{
	if (!t || !*t)
		return;
	if ((*t)->doc)
		g_object_unref((*t)->doc);
	g_bytes_unref((*t)->bytes);
	free(*t);
	*t = NULL;
}

/* Pages handed to a worker at a time: small enough to balance two
 * threads, large enough that the shared counter is not contended. */
#define CHUNK 16

struct each_job {
	struct pdf_text *doc;
	int first, last;         /* 1-based, inclusive */
	atomic_int *next;        /* next page to hand out */
	atomic_int *stop;        /* set by the first failure */
	pdf_text_fn fn;
	void *ctx;
	pthread_mutex_t *lock;   /* guards *err and *failed */
	struct error *err;
	int *failed;
	pthread_t tid;
};

static void job_fail(struct each_job *j, const struct error *e)
{
	pthread_mutex_lock(j->lock);
	if (!*j->failed) {
		*j->failed = 1;
		*j->err = *e;
	}
	pthread_mutex_unlock(j->lock);
	atomic_store(j->stop, 1);
}

static void *each_worker(void *arg)
{
	struct each_job *j = arg;
	struct error e = { "", 0 };

	while (!atomic_load(j->stop)) {
		int start = atomic_fetch_add(j->next, CHUNK);
		if (start > j->last)
			break;
		for (int p = start; p < start + CHUNK && p <= j->last; p++) {
			size_t len = 0;
			char *text;
			int rc;

			if (atomic_load(j->stop))
				return NULL;
			text = pdf_text_page(j->doc, p, &len, &e);
			if (!text) {
				job_fail(j, &e);
				return NULL;
			}
			rc = j->fn(j->ctx, p, text, len, &e);
			g_free(text);
			if (rc < 0) {
				job_fail(j, &e);
				return NULL;
			}
		}
	}
	return NULL;
}

int pdf_text_each(const uint8_t *data, size_t len, const char *password, int first,
		  int count, int threads, pdf_text_fn fn, void *ctx, struct error *e)
{
	struct each_job jobs[PDF_TEXT_THREADS_MAX];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	atomic_int next, stop;
	struct error err = { "", 0 };
	int failed = 0, nopen = 0, started = 0, npages, last, ret = -1;

	memset(jobs, 0, sizeof jobs);
	if (threads <= 0)
		threads = pdf_default_threads();
	if (threads > PDF_TEXT_THREADS_MAX)
		threads = PDF_TEXT_THREADS_MAX;

	/* Documents are opened here, one after the other: poppler sets up
	 * its process-wide state on the first open, which must not race. */
	if (pdf_text_open(data, len, password, &jobs[0].doc, e) < 0)
		return -1;
	nopen = 1;
	npages = pdf_text_npages(jobs[0].doc);
	if (first < 1)
		first = 1;
	last = count > 0 ? first + count - 1 : npages;
	if (first > npages || last > npages) {
		err_set(e, "pages %d-%d do not exist (the PDF has %d)", first, last, npages);
		goto out;
	}
	/* A thread per CHUNK pages at most: a short document stays on one. */
	if (threads > (last - first) / CHUNK + 1)
		threads = (last - first) / CHUNK + 1;
	for (; nopen < threads; nopen++)
		if (pdf_text_open(data, len, password, &jobs[nopen].doc, e) < 0)
			goto out;

	atomic_init(&next, first);
	atomic_init(&stop, 0);
	for (int i = 0; i < threads; i++) {
		jobs[i].first = first;
		jobs[i].last = last;
		jobs[i].next = &next;
		jobs[i].stop = &stop;
		jobs[i].fn = fn;
		jobs[i].ctx = ctx;
		jobs[i].lock = &lock;
		jobs[i].err = &err;
		jobs[i].failed = &failed;
	}
	if (threads == 1) {
		each_worker(&jobs[0]);
	} else {
		for (; started < threads; started++) {
			if (pthread_create(&jobs[started].tid, NULL, each_worker, &jobs[started]) != 0) {
				atomic_store(&stop, 1);
				err_tmp(&err, "cannot start a text extraction thread");
				failed = 1;
				break;
			}
		}
		for (int i = 0; i < started; i++)
			pthread_join(jobs[i].tid, NULL);
	}
	if (failed) {
		if (e)
			*e = err;
		goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < nopen; i++)
		pdf_text_close(&jobs[i].doc);
	pthread_mutex_destroy(&lock);
	return ret;
}
