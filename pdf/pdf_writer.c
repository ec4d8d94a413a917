/*
 * pdf_writer.c — objects appended with their offsets noted, then the
 * cross-reference section, trailer, startxref and %%EOF (see
 * pdf_writer.h).  Runs in the gateway and in the `tayori pdf` commands.
 * Standards: ISO 32000-1 §7.5.4 (xref table: 20-byte entries ending in
 * CR LF), §7.5.5 (trailer), §7.5.6 (updates), §7.5.8 (xref streams).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pdf/pdf_syntax.h"
#include "pdf/pdf_writer.h"

void pdf_writer_init(struct pdf_writer *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

void pdf_writer_reset(struct pdf_writer *w, struct buf *b)
{
	w->b = b;
	w->oom = 0;
	w->n = 0;
	w->next_id = 0;
}

void pdf_writer_update(struct pdf_writer *w, struct buf *b, const uint8_t *pdf, size_t len,
    int next_id)
{
	pdf_writer_init(w, b);
	w->next_id = next_id;
	pdf_writer_put(w, pdf, len);
	/* The update starts on a fresh line even if %%EOF had no newline. */
	if (len > 0 && pdf[len - 1] != '\n' && pdf[len - 1] != '\r')
		pdf_writer_put(w, "\n", 1);
}

void pdf_writer_free(struct pdf_writer *w)
{
	free(w->ents);
	w->ents = NULL;
	w->n = w->cap = 0;
}

int pdf_writer_new_id(struct pdf_writer *w)
{
	return w->next_id++;
}

void pdf_writer_put(struct pdf_writer *w, const void *p, size_t n)
{
	if (buf_append(w->b, p, n) < 0)
		w->oom = 1;
}

void pdf_writer_str(struct pdf_writer *w, const char *s)
{
	pdf_writer_put(w, s, strlen(s));
}

void pdf_writer_printf(struct pdf_writer *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(w->b, fmt, ap) < 0)
		w->oom = 1;
	va_end(ap);
}

void pdf_writer_name(struct pdf_writer *w, const char *name)
{
	if (pdf_put_name(w->b, name) < 0)
		w->oom = 1;
}

/* The next code point of UTF-8 at *pp (U+FFFD for a bad sequence). */
static uint32_t utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	uint32_t cp;
	int n;
	if (*p < 0x80) { cp = *p; n = 1; }
	else if ((*p & 0xe0) == 0xc0) { cp = *p & 0x1f; n = 2; }
	else if ((*p & 0xf0) == 0xe0) { cp = *p & 0x0f; n = 3; }
	else if ((*p & 0xf8) == 0xf0) { cp = *p & 0x07; n = 4; }
	else { cp = 0xfffd; n = 1; }
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) { cp = 0xfffd; n = i; break; }
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	*pp = p + n;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	return cp;
}

void pdf_writer_text(struct pdf_writer *w, const char *utf8)
{
	const unsigned char *p = (const unsigned char *)utf8;
	int ascii = 1;
	for (const unsigned char *q = p; *q; q++)
		if (*q < 0x20 || *q > 0x7e)
			ascii = 0;
	if (ascii) {
		pdf_writer_put(w, "(", 1);
		for (; *p; p++) {
			if (*p == '(' || *p == ')' || *p == '\\')
				pdf_writer_put(w, "\\", 1);
			pdf_writer_put(w, p, 1);
		}
		pdf_writer_put(w, ")", 1);
		return;
	}
	pdf_writer_str(w, "<FEFF");
	while (*p) {
		uint32_t cp = utf8_next(&p);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			pdf_writer_printf(w, "%04X%04X", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
		} else {
			pdf_writer_printf(w, "%04X", cp);
		}
	}
	pdf_writer_put(w, ">", 1);
}

void pdf_writer_record(struct pdf_writer *w, int id, int gen, size_t off)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->ents = xrealloc(w->ents, w->cap * sizeof(*w->ents));
	}
	w->ents[w->n].id = id;
	w->ents[w->n].gen = gen;
	w->ents[w->n].off = off;
	w->n++;
}

void pdf_writer_begin(struct pdf_writer *w, int id, int gen)
{
	pdf_writer_record(w, id, gen, w->b->len);
	pdf_writer_printf(w, "%d %d obj\n", id, gen);
}

void pdf_writer_end(struct pdf_writer *w)
{
	pdf_writer_str(w, "\nendobj\n");
}

int pdf_writer_stream(struct pdf_writer *w, const uint8_t *data, size_t len)
{
	int id = pdf_writer_new_id(w);
	pdf_writer_begin(w, id, 0);
	pdf_writer_printf(w, "<< /Length %zu >>\nstream\n", len);
	pdf_writer_put(w, data, len);
	pdf_writer_str(w, "\nendstream");
	pdf_writer_end(w);
	return id;
}

static int xent_cmp(const void *a, const void *b)
{
	const struct pdf_xent *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Entries by number (usually already so: the copier writes in order). */
static void sort_entries(struct pdf_writer *w)
{
	for (size_t i = 1; i < w->n; i++)
		if (w->ents[i].id < w->ents[i - 1].id) {
			qsort(w->ents, w->n, sizeof(*w->ents), xent_cmp);
			return;
		}
}

/* The end of the run of consecutive numbers that starts at entry i. */
static size_t run_end(const struct pdf_writer *w, size_t i)
{
	size_t j;
	for (j = i + 1; j < w->n && w->ents[j].id == w->ents[j - 1].id + 1; j++)
		;
	return j;
}

static void trailer_keys(struct pdf_writer *w, const struct pdf_trailer *t, int size)
{
	pdf_writer_printf(w, " /Size %d /Root %d %d R", size, t->root_id, t->root_gen);
	if (t->info != NULL)
		pdf_writer_printf(w, " /Info %s", t->info);
	if (t->id != NULL)
		pdf_writer_printf(w, " /ID %s", t->id);
	if (t->prev >= 0)
		pdf_writer_printf(w, " /Prev %lld", t->prev);
}

/* A classic table: subsections of consecutive numbers, 20-byte rows. */
static void xref_table(struct pdf_writer *w, const struct pdf_trailer *t, int size, int full)
{
	size_t i = 0, j;
	pdf_writer_str(w, "xref\n");
	if (full) {
		/* object 0 heads the free list; it joins a run starting at 1 */
		j = w->n > 0 && w->ents[0].id == 1 ? run_end(w, 0) : 0;
		pdf_writer_printf(w, "0 %zu\n0000000000 65535 f\r\n", j + 1);
		for (; i < j; i++)
			pdf_writer_printf(w, "%010zu %05d n\r\n", w->ents[i].off, w->ents[i].gen);
	}
	for (; i < w->n; i = j) {
		j = run_end(w, i);
		pdf_writer_printf(w, "%d %zu\n", w->ents[i].id, j - i);
		for (size_t k = i; k < j; k++)
			pdf_writer_printf(w, "%010zu %05d n\r\n", w->ents[k].off, w->ents[k].gen);
	}
	pdf_writer_str(w, "trailer\n<<");
	trailer_keys(w, t, size);
	pdf_writer_str(w, " >>\n");
}

static void xref_row(struct pdf_writer *w, int type, size_t off, int gen)
{
	uint8_t row[7];
	row[0] = (uint8_t)type;
	row[1] = (uint8_t)(off >> 24);
	row[2] = (uint8_t)(off >> 16);
	row[3] = (uint8_t)(off >> 8);
	row[4] = (uint8_t)off;
	row[5] = (uint8_t)(gen >> 8);
	row[6] = (uint8_t)gen;
	pdf_writer_put(w, row, sizeof(row));
}

/* A cross-reference stream (its own entry included), rows of 1+4+2 bytes. */
static void xref_stream(struct pdf_writer *w, const struct pdf_trailer *t, int size, int full,
    int xid)
{
	size_t i, j, rows = w->n + (full ? 1 : 0);
	pdf_writer_printf(w, "%d 0 obj\n<< /Type /XRef /W [1 4 2] /Index [", xid);
	if (full)
		pdf_writer_str(w, "0 1 ");
	for (i = 0; i < w->n; i = j) {
		j = run_end(w, i);
		pdf_writer_printf(w, "%d %zu ", w->ents[i].id, j - i);
	}
	pdf_writer_printf(w, "] /Length %zu", rows * 7);
	trailer_keys(w, t, size);
	pdf_writer_str(w, " >>\nstream\n");
	if (full)
		xref_row(w, 0, 0, 65535);
	for (i = 0; i < w->n; i++)
		xref_row(w, 1, w->ents[i].off, w->ents[i].gen);
	pdf_writer_str(w, "\nendstream");
	pdf_writer_end(w);
}

int pdf_writer_finish(struct pdf_writer *w, enum pdf_xref_form form,
    const struct pdf_trailer *t)
{
	int full = t->prev < 0, size;
	size_t xref_off = w->b->len;

	if (form == PDF_XREF_STREAM) {
		/* the stream's own number: the first past both the trailer's
		 * /Size and the numbers this writer gave out */
		int xid = w->next_id > t->size ? w->next_id : t->size;
		w->next_id = xid + 1;
		pdf_writer_record(w, xid, 0, xref_off);
		sort_entries(w);
		size = xid + 1;
		xref_stream(w, t, size, full, xid);
	} else {
		sort_entries(w);
		size = w->next_id > t->size ? w->next_id : t->size;
		xref_table(w, t, size, full);
	}
	pdf_writer_printf(w, "startxref\n%zu\n%%%%EOF\n", xref_off);
	return w->oom ? -1 : 0;
}
