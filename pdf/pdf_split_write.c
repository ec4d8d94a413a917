/*
 * pdf_split_write.c — the write of a split: one new PDF per resident,
 * made from the input's own objects by the copier (pdf_copy.h) on a qpdf
 * handle of its own (struct pdf_splitter), in opts->write_threads writer
 * threads that hand each PDF to the caller's callback as soon as it is
 * written (see pdf_split.h).
 * Runs in the gateway process and in `tayori pdf split`, on attacker-
 * influenced input.  Standards: ISO 32000-1 §7.5 (full write of a new
 * file), §7.7.3 (page tree).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"
#include "pdf/pdf_check.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_text.h"
#include "pdf/pdf_split.h"

struct pdf_splitter {
	qpdf_data in;
	struct pdf_copier *copier;
	struct pdf_made made;   /* the last PDF made, until the next call */
	int npages;
	const uint8_t *data;    /* the input, to open it again */
	size_t len;
	char *password;
	int pages_read;         /* pages written since in was opened */
};

/* Pages written from one qpdf handle before a fresh one takes over: qpdf
 * keeps every object it parsed (about 8 kB per page here), so a long
 * input's memory would grow with its length.  Opening again costs only
 * reading the cross-reference table again. */
#define SPLITTER_REOPEN_PAGES 1000

int pdf_splitter_open(const uint8_t *data, size_t len, const char *password, int max_pages,
		      struct pdf_splitter **out, struct error *e)
{
	struct pdf_splitter *s = xcalloc(1, sizeof *s);
	int warned = 0;

	*out = NULL;
	if (pdf_qpdf_open(data, len, password, max_pages, &s->in, &s->npages, &warned, e) < 0) {
		free(s);
		return -1;
	}
	if (pdf_copier_new(s->in, &s->copier, e) < 0) {
		pdf_splitter_close(&s);
		return -1;
	}
	s->data = data;
	s->len = len;
	s->password = password && *password ? xstrdup(password) : NULL;
	/* A resident's file is at most the input plus a signature. */
	buf_init(&s->made.pdf, PDF_INPUT_MAX + ((size_t)1 << 20));
	*out = s;
	return 0;
}

int pdf_splitter_npages(const struct pdf_splitter *s)
{
	return s->npages;
}

static int splitter_make(struct pdf_splitter *s, int first_page, int count,
			 const struct pdf_copy_sig *sig, struct error *e)
{
	if (s->pages_read >= SPLITTER_REOPEN_PAGES) {
		qpdf_data q;
		if (pdf_qpdf_reopen(s->data, s->len, s->password, &q, e) < 0)
			return -1;
		pdf_copier_set_source(s->copier, q);
		qpdf_cleanup(&s->in);
		s->in = q;
		s->pages_read = 0;
	}
	s->pages_read += count;
	memset(&s->made.slot, 0, sizeof s->made.slot);
	/* The callback may have taken the last file's bytes. */
	if (s->made.pdf.max == 0)
		buf_init(&s->made.pdf, PDF_INPUT_MAX + ((size_t)1 << 20));
	if (pdf_copier_write(s->copier, first_page, count, sig, &s->made.pdf, &s->made.slot, e) < 0)
		return -1;
	s->made.removed = *pdf_copier_removed(s->copier);
	return 0;
}

int pdf_splitter_make(struct pdf_splitter *s, int first_page, int count,
		      const uint8_t **pdf, size_t *len, struct error *e)
{
	*pdf = NULL;
	*len = 0;
	if (splitter_make(s, first_page, count, NULL, e) < 0)
		return -1;
	*pdf = s->made.pdf.data;
	*len = s->made.pdf.len;
	return 0;
}

void pdf_splitter_close(struct pdf_splitter **s)
{
	if (!s || !*s)
		return;
	pdf_copier_free(&(*s)->copier);
	buf_free(&(*s)->made.pdf);
	if ((*s)->password)
		secure_wipe((*s)->password, strlen((*s)->password));
	free((*s)->password);
	if ((*s)->in)
		qpdf_cleanup(&(*s)->in);
	free(*s);
	*s = NULL;
}

struct write_job {
	const uint8_t *data;
	size_t len;
	const struct pdf_split_opts *o;
	const struct pdf_group *groups;
	size_t ngroups;
	pdf_split_emit_fn emit;
	void *ctx;
	atomic_size_t next;
	atomic_int stop;
	pthread_mutex_t lock;   /* guards err and failed */
	struct error err;
	int failed;
};

static void write_fail(struct write_job *j, const struct error *e)
{
	pthread_mutex_lock(&j->lock);
	if (!j->failed) {
		j->failed = 1;
		j->err = *e;
	}
	pthread_mutex_unlock(&j->lock);
	atomic_store(&j->stop, 1);
}

static void *write_worker(void *arg)
{
	struct write_job *j = arg;
	struct pdf_splitter *s = NULL;
	struct error e = { "", 0 };

	if (pdf_splitter_open(j->data, j->len, j->o->password, j->o->max_pages, &s, &e) < 0) {
		write_fail(j, &e);
		return NULL;
	}
	while (!atomic_load(&j->stop)) {
		size_t g = atomic_fetch_add(&j->next, 1);
		const struct pdf_group *grp;

		if (g >= j->ngroups)
			break;
		grp = &j->groups[g];
		if (splitter_make(s, grp->first_page, grp->page_count, j->o->sig, &e) < 0 ||
		    j->emit(j->ctx, grp, &s->made, &e) < 0) {
			write_fail(j, &e);
			break;
		}
	}
	pdf_splitter_close(&s);
	return NULL;
}

int pdf_split_write(const uint8_t *data, size_t len, const struct pdf_split_opts *o,
		    const struct pdf_group *groups, size_t ngroups,
		    pdf_split_emit_fn emit, void *ctx, struct error *e)
{
	struct write_job j;
	pthread_t tids[PDF_TEXT_THREADS_MAX];
	int threads = o->write_threads > 0 ? o->write_threads : 1;
	int started = 0, ret = -1;

	if (ngroups == 0)
		return 0;
	if (threads > PDF_TEXT_THREADS_MAX)
		threads = PDF_TEXT_THREADS_MAX;
	/* Each thread parses the page tree once: not worth it for a few
	 * residents. */
	if ((size_t)threads > ngroups / 8 + 1)
		threads = (int)(ngroups / 8 + 1);

	memset(&j, 0, sizeof j);
	j.data = data;
	j.len = len;
	j.o = o;
	j.groups = groups;
	j.ngroups = ngroups;
	j.emit = emit;
	j.ctx = ctx;
	atomic_init(&j.next, 0);
	atomic_init(&j.stop, 0);
	pthread_mutex_init(&j.lock, NULL);

	if (threads == 1) {
		write_worker(&j);
	} else {
		for (; started < threads; started++) {
			if (pthread_create(&tids[started], NULL, write_worker, &j) != 0) {
				struct error te = { "", 1 };
				err_tmp(&te, "cannot start a PDF writer thread");
				write_fail(&j, &te);
				break;
			}
		}
		for (int i = 0; i < started; i++)
			pthread_join(tids[i], NULL);
	}
	if (j.failed) {
		if (e)
			*e = j.err;
		goto out;
	}
	ret = 0;
out:
	pthread_mutex_destroy(&j.lock);
	return ret;
}
