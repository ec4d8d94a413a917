/*
 * pdf_fasttext_each.c — the text reader over a page range in threads
 * (pdf_fasttext_each(), see pdf_fasttext.h): each thread its own handle,
 * pages handed out in small chunks, and the pages not decodable here read
 * with poppler (pdf_text.c), but only once every stream poppler would
 * decode for them has been decoded here within [limits] (the gate).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.3 (objects walked by the
 * gate), §7.7.3 (pages).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_decode.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_fasttext.h"
#include "pdf/pdf_fasttext_int.h"

/* Objects the poppler gate visits on one page before giving up. */
#define FT_GATE_OBJECTS 100000

/*
 * May poppler read this page?  poppler decodes, whole, every stream it
 * meets: the content, forms, fonts and their CMaps, annotation
 * appearances.  So each stream reachable from the page (but images, which
 * its text output never decodes) is decoded here first, counting only,
 * within the same limits as the text reader; results are kept per
 * stream.  Returns 0 when every one decodes within them, 1 when one
 * cannot be decoded here (poppler is not given the page: no text from
 * it), -1 with e filled when one passes a limit (the input is refused).
 */
static int gate_page(struct pdf_fasttext *ft, int page, struct error *e)
{
	qpdf_data q = ft->q;
	GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	GArray *stack = g_array_new(FALSE, FALSE, sizeof(qpdf_oh));
	GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
	struct page_run *r = xmalloc(sizeof *r);
	size_t visited = 0;
	qpdf_oh po, node;
	int ret = 0;

	pdf_fasttext_run_init(r, ft, page);
	po = qpdf_get_object_by_id(q, ft->page_ids[page - 1][0], ft->page_ids[page - 1][1]);
	g_array_append_val(stack, po);
	/* Resources inherited from the page tree are the page's too. */
	node = qpdf_oh_get_key_if_dict(q, po, "/Parent");
	for (int i = 0; i < FT_RES_DEPTH && qpdf_oh_is_dictionary(q, node); i++) {
		qpdf_oh res = qpdf_oh_get_key_if_dict(q, node, "/Resources");
		g_array_append_val(stack, res);
		node = qpdf_oh_get_key_if_dict(q, node, "/Parent");
	}
	while (stack->len > 0 && ret == 0) {
		qpdf_oh oh = g_array_index(stack, qpdf_oh, stack->len - 1);
		enum qpdf_object_type_e t;
		qpdf_oh dict;

		g_array_set_size(stack, stack->len - 1);
		if (qpdf_oh_is_indirect(q, oh)) {
			uint64_t k = ft_obj_key(q, oh);
			if (visited >= FT_GATE_OBJECTS) {
				ret = 1;
				break;
			}
			if (g_hash_table_contains(seen, &k))
				continue;
			g_hash_table_add(seen, g_memdup2(&k, sizeof k));
			visited++;
		}
		t = qpdf_oh_get_type_code(q, oh);
		if (t == ot_array) {
			int n = qpdf_oh_get_array_n_items(q, oh);
			for (int i = 0; i < n; i++) {
				qpdf_oh item = qpdf_oh_get_array_item(q, oh, i);
				g_array_append_val(stack, item);
			}
			continue;
		}
		if (t != ot_dictionary && t != ot_stream)
			continue;
		dict = t == ot_stream ? qpdf_oh_get_dict(q, oh) : oh;
		if (oh != po) {
			/* Other pages, the page tree and the catalog are
			 * not this page's. */
			qpdf_oh type = qpdf_oh_get_key(q, dict, "/Type");
			if (qpdf_oh_is_name_and_equals(q, type, "/Page") ||
			    qpdf_oh_is_name_and_equals(q, type, "/Pages") ||
			    qpdf_oh_is_name_and_equals(q, type, "/Catalog"))
				continue;
		}
		pdf_dict_push_values(q, dict, keys, stack);
		if (t == ot_stream &&
		    !qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, dict, "/Subtype"), "/Image")) {
			uint64_t key = ft_obj_key(q, oh);
			gpointer v;
			size_t size, before = r->decoded;
			if (g_hash_table_lookup_extended(ft->gated, &key, NULL, &v)) {
				size = (size_t)GPOINTER_TO_SIZE(v);
				if (size == 0) {
					ret = 1;
				} else if (size - 1 > ft->lim.page_max - r->decoded) {
					char sz[32];
					err_set(e, "page %d: its streams decode to more than %s together "
						"([limits] pdf_page_decoded)", page,
						pdf_size_text(ft->lim.page_max, sz, sizeof sz));
					ret = -1;
				} else {
					r->decoded += size - 1;
				}
				continue;
			}
			switch (pdf_fasttext_decode(r, oh, "a stream it uses", NULL)) {
			case PDF_DECODE_OK:
				size = r->decoded - before + 1;
				break;
			case PDF_DECODE_LIMIT:
				*e = ft->refusal;
				ret = -1;
				continue;
			default:
				size = 0;
				ret = 1;
				break;
			}
			g_hash_table_insert(ft->gated, g_memdup2(&key, sizeof key),
					    GSIZE_TO_POINTER(size));
		}
	}
	if (qpdf_has_error(q)) {
		qpdf_get_error(q);
		if (ret == 0)
			ret = 1;
	}
	while (qpdf_more_warnings(q))
		qpdf_next_warning(q);
	qpdf_oh_release_all(q);
	g_ptr_array_free(keys, TRUE);
	g_array_free(stack, TRUE);
	g_hash_table_destroy(seen);
	free(r);
	return ret;
}

/* ---------------------------------------------------------------- */
/* Threads, with poppler for what is not decodable here               */

static atomic_long fallbacks;
/* poppler sets up process-wide state on its first open: opens from the
 * worker threads take turns. */
static pthread_mutex_t poppler_open_lock = PTHREAD_MUTEX_INITIALIZER;

long pdf_fasttext_fallbacks(void)
{
	return atomic_load(&fallbacks);
}

#define CHUNK 16

struct fjob {
	const uint8_t *data;
	size_t len;
	const char *password;
	struct pdf_fasttext *ft;
	struct pdf_text *pop;
	int last;
	atomic_int *next, *stop;
	atomic_size_t *decoded;   /* the document's decoded bytes, all threads */
	pdf_text_fn fn;
	void *ctx;
	pthread_mutex_t *lock;    /* guards *err and *failed */
	struct error *err;
	int *failed;
	pthread_t tid;
};

static void fjob_fail(struct fjob *j, const struct error *e)
{
	pthread_mutex_lock(j->lock);
	if (!*j->failed) {
		*j->failed = 1;
		*j->err = *e;
	}
	pthread_mutex_unlock(j->lock);
	atomic_store(j->stop, 1);
}

/* Page p read by poppler, with the thread's PopplerDocument (opened on
 * first use); NULL with e filled on failure. */
static char *poppler_page(struct fjob *j, int p, size_t *len, struct error *e)
{
	if (!j->pop) {
		int rc;
		pthread_mutex_lock(&poppler_open_lock);
		rc = pdf_text_open(j->data, j->len, j->password, &j->pop, e);
		pthread_mutex_unlock(&poppler_open_lock);
		if (rc < 0)
			return NULL;
	}
	atomic_fetch_add(&fallbacks, 1);
	return pdf_text_page(j->pop, p, len, e);
}

static void *fworker(void *arg)
{
	struct fjob *j = arg;
	struct error e = { "", 0 };

	if (!j->ft && pdf_fasttext_open(j->data, j->len, j->password, &j->ft, &e) < 0) {
		fjob_fail(j, &e);
		return NULL;
	}
	j->ft->decoded = j->decoded;
	while (!atomic_load(j->stop)) {
		int start = atomic_fetch_add(j->next, CHUNK);
		if (start > j->last)
			break;
		for (int p = start; p < start + CHUNK && p <= j->last; p++) {
			char *text = NULL;
			size_t len = 0;
			int rc;

			if (atomic_load(j->stop))
				return NULL;
			rc = pdf_fasttext_page(j->ft, p, &text, &len, NULL, &e);
			if (rc < 0) {
				fjob_fail(j, &e);
				return NULL;
			}
			if (rc == PDF_FASTTEXT_UNDECODABLE) {
				int gate = gate_page(j->ft, p, &e);
				if (gate == 0)
					text = poppler_page(j, p, &len, &e);
				else if (gate == 1)
					text = g_strdup(""); /* not safe to give poppler: no text */
				if (!text) {
					fjob_fail(j, &e);
					return NULL;
				}
			}
			rc = j->fn(j->ctx, p, text, len, &e);
			g_free(text);
			if (rc < 0) {
				fjob_fail(j, &e);
				return NULL;
			}
		}
	}
	return NULL;
}

/*
 * Each text thread may hold one page's decoded streams ([limits]
 * pdf_page_decoded) plus the buffers between one stream's filters (up to
 * twice pdf_stream_max).  So that a hostile PDF within [limits] cannot
 * take more than DECODE_BUDGET in all, however many cores the server has,
 * fewer threads run when the limits are raised.
 */
#define DECODE_BUDGET ((size_t)160 << 20)
static int decode_budget_threads(int threads)
{
	struct pdf_limits l;
	size_t per, fit;

	pdf_limits_get(&l);
	per = l.page_max + 2 * l.stream_max;
	fit = per > 0 ? DECODE_BUDGET / per : (size_t)threads;
	if (fit < 1)
		fit = 1;
	return (size_t)threads > fit ? (int)fit : threads;
}

int pdf_fasttext_each(const uint8_t *data, size_t len, const char *password, int first,
		      int count, int threads, pdf_text_fn fn, void *ctx, struct error *e)
{
	struct fjob jobs[PDF_TEXT_THREADS_MAX];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	atomic_int next, stop;
	atomic_size_t decoded;
	struct error err = { "", 0 };
	int failed = 0, started = 0, npages, last, ret = -1;

	memset(jobs, 0, sizeof jobs);
	if (threads <= 0)
		threads = cpu_threads(PDF_TEXT_THREADS_MAX);
	if (threads > PDF_TEXT_THREADS_MAX)
		threads = PDF_TEXT_THREADS_MAX;
	threads = decode_budget_threads(threads);
	/* The first handle here, for the page count and an early error;
	 * the others in their threads, at the same time. */
	if (pdf_fasttext_open(data, len, password, &jobs[0].ft, e) < 0)
		return -1;
	npages = jobs[0].ft->npages;
	if (first < 1)
		first = 1;
	last = count > 0 ? first + count - 1 : npages;
	if (first > npages || last > npages) {
		err_set(e, "pages %d-%d do not exist (the PDF has %d)", first, last, npages);
		goto out;
	}
	if (threads > (last - first) / CHUNK + 1)
		threads = (last - first) / CHUNK + 1;
	atomic_init(&next, first);
	atomic_init(&stop, 0);
	atomic_init(&decoded, 0);
	for (int i = 0; i < threads; i++) {
		jobs[i].data = data;
		jobs[i].len = len;
		jobs[i].password = password;
		jobs[i].last = last;
		jobs[i].next = &next;
		jobs[i].stop = &stop;
		jobs[i].decoded = &decoded;
		jobs[i].fn = fn;
		jobs[i].ctx = ctx;
		jobs[i].lock = &lock;
		jobs[i].err = &err;
		jobs[i].failed = &failed;
	}
	if (threads == 1) {
		fworker(&jobs[0]);
	} else {
		for (; started < threads; started++) {
			if (pthread_create(&jobs[started].tid, NULL, fworker, &jobs[started]) != 0) {
				atomic_store(&stop, 1);
				pthread_mutex_lock(&lock);
				if (!failed) {
					failed = 1;
					err_tmp(&err, "cannot start a text extraction thread");
				}
				pthread_mutex_unlock(&lock);
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
	for (int i = 0; i < PDF_TEXT_THREADS_MAX; i++) {
		pdf_fasttext_close(&jobs[i].ft);
		pdf_text_close(&jobs[i].pop);
	}
	pthread_mutex_destroy(&lock);
	return ret;
}
