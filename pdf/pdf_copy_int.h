/*
 * pdf_copy_int.h — private to pdf_copy.c and pdf_copy_obj.c (not for
 * other callers): the copier's table of input objects, each read once
 * into bytes with the places of its references noted.
 * Runs wherever pdf_copy.h does: the gateway and `tayori pdf split`.
 */
#ifndef TAYORI_PDF_COPY_INT_H
#define TAYORI_PDF_COPY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <qpdf/qpdf-c.h>
#include "lib/util.h"
#include "pdf/pdf_copy.h"
#include "pdf/pdf_inert.h"
#include "pdf/pdf_writer.h"


/* Nesting of direct arrays and dictionaries inside one object. */
#define COPY_DEPTH_MAX 64

enum obj_state { OBJ_UNREAD = 0, OBJ_READ, OBJ_NULL };

/* The input's catalog and the inner nodes of its page tree: never copied
 * (a reference to them, say from an annotation, becomes null), or one
 * resident's file could carry the whole document's structure. */
#define OBJ_STRUCTURE (-2)

/* A place in an object's bytes where a reference to another object goes. */
struct ref {
	size_t at;
	uint32_t obj;
	int weak;               /* not followed: written only if reached otherwise */
};

/* An input object: its bytes (without references) once read. */
struct obj {
	int id, gen;
	int page;               /* its 0-based page number, OBJ_STRUCTURE or -1 */
	enum obj_state state;
	uint8_t *text;
	size_t len;
	struct ref *refs;
	size_t nrefs;
	int annots_open;        /* pages: text ends inside "/Annots [ ..." */
	int field_root;         /* a form field with no parent field */
	int on_page;            /* an annotation: the 0-based page its /P names, or -1 */
	struct pdf_removal *rm; /* active content left out of text (page 0), */
	size_t nrm;             /* or, for an OBJ_NULL object, the object itself */
	uint32_t stamp, num;    /* numbered in the write with this stamp */
	int origin;             /* the first page of the write that reached it */
	uint32_t uses;          /* writes that have used it */
};

struct pdf_copier {
	qpdf_data q;
	int npages;
	char version[8];
	uint8_t id_base[16];
	uint64_t writes;
	struct obj *objs;
	size_t nobjs, capobjs;
	uint32_t *slots;        /* hash of (id, gen) -> index + 1 */
	size_t nslots;
	uint32_t *page_obj;     /* page number -> index */
	uint32_t *order;        /* the current write's objects, by number - 3 */
	size_t norder, caporder;
	struct pdf_writer w;     /* the current write's objects and offsets */
	uint32_t stamp;
	size_t cached;          /* bytes of text kept */
	struct pdf_removed removed; /* what the last write left out */
};

/* The index of object (id, gen) in c->objs, added unread when first seen. */
uint32_t pdf_copy_obj_intern(struct pdf_copier *c, int id, int gen);
/* Serialise object idx once (its bytes, references and what it left out). */
int pdf_copy_obj_read(struct pdf_copier *c, uint32_t idx, struct error *e);
/* Forget object idx's bytes (read again if needed). */
void pdf_copy_obj_drop(struct pdf_copier *c, struct obj *o);

#endif
