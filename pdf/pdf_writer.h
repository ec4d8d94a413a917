/*
 * pdf_writer.h — the one PDF byte writer: objects appended to a buffer
 * with their offsets recorded, then a cross-reference section (a classic
 * table or a cross-reference stream), the trailer, startxref and %%EOF.
 * Used for whole new files (the splitter, pdf_copy.c) and for incremental
 * updates appended to an existing file (the signer, pades_*.c).
 * Runs in the gateway and in the `tayori pdf` commands.
 * Standards: ISO 32000-1 §7.3.10 (indirect objects), §7.5.4 (the
 * cross-reference table), §7.5.5 (the trailer), §7.5.6 (incremental
 * updates, /Prev), §7.5.8 (cross-reference streams).
 *
 * The writer knows nothing of what the objects say: callers write their
 * bytes between pdf_writer_begin() and pdf_writer_end() (or straight into
 * w->b, setting w->oom when an append fails).  Every append that would
 * pass the buffer's cap sets w->oom and is dropped, so a caller checks
 * once, at the end.
 */
#ifndef TAYORI_PDF_WRITER_H
#define TAYORI_PDF_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"
#include "lib/util.h"

/* One object written: its number, generation and offset in the file. */
struct pdf_xent {
	int id, gen;
	size_t off;
};

struct pdf_writer {
	struct buf *b;          /* the file; not owned */
	int oom;                /* an append passed b's cap */
	struct pdf_xent *ents;  /* objects written, in the order written */
	size_t n, cap;
	int next_id;            /* pdf_writer_new_id()'s next number */
};

enum pdf_xref_form { PDF_XREF_TABLE = 0, PDF_XREF_STREAM };

/* What the trailer (or the cross-reference stream's dictionary) says. */
struct pdf_trailer {
	int size;               /* /Size: one past the highest object number */
	int root_id, root_gen;  /* /Root */
	const char *info;       /* /Info as PDF text ("12 0 R"), or NULL */
	const char *id;         /* /ID as PDF text ("[ <..> <..> ]"), or NULL */
	long long prev;         /* /Prev of an update; -1 for a whole new file */
};

/* A writer appending to b (which may already hold a file: see below). */
void pdf_writer_init(struct pdf_writer *w, struct buf *b);
/* Start an incremental update: b gets pdf (len bytes) and, when its last
 * line has no end, a newline; new numbers start at next_id. */
void pdf_writer_update(struct pdf_writer *w, struct buf *b, const uint8_t *pdf, size_t len,
    int next_id);
/* Use w again for a new file in b, keeping its list's memory. */
void pdf_writer_reset(struct pdf_writer *w, struct buf *b);
/* The objects list; the buffer is the caller's. */
void pdf_writer_free(struct pdf_writer *w);

int pdf_writer_new_id(struct pdf_writer *w);
void pdf_writer_put(struct pdf_writer *w, const void *p, size_t n);
void pdf_writer_str(struct pdf_writer *w, const char *s);
void pdf_writer_printf(struct pdf_writer *w, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* A name from its decoded form ("/Type"), escaped as ISO 32000-1 §7.3.5. */
void pdf_writer_name(struct pdf_writer *w, const char *name);
/* A text string: literal when printable ASCII, else UTF-16BE hex. */
void pdf_writer_text(struct pdf_writer *w, const char *utf8);

/* Note that object id gen starts here ("id gen obj"), and end it. */
void pdf_writer_begin(struct pdf_writer *w, int id, int gen);
void pdf_writer_end(struct pdf_writer *w);
/* Note an object someone else wrote at off. */
void pdf_writer_record(struct pdf_writer *w, int id, int gen, size_t off);
/* A stream object holding data as is, numbered pdf_writer_new_id(). */
int pdf_writer_stream(struct pdf_writer *w, const uint8_t *data, size_t len);

/*
 * The cross-reference section for every object noted, in the given form,
 * the trailer t, startxref and %%EOF.  A whole new file (t->prev < 0)
 * lists object 0 as the head of the free list; an update lists only its
 * own objects.  /Size is the larger of t->size and w->next_id; the
 * stream form gives the stream that number and counts it in /Size.  Returns -1 when the cap
 * was reached (now or before).
 */
int pdf_writer_finish(struct pdf_writer *w, enum pdf_xref_form form,
    const struct pdf_trailer *t);

#endif
