/*
 * rec.h — the encoding of one record's fields: a sequence of
 * (u16 tag, u32 length, bytes), tags ascending.  Small, strict, versionable:
 * a reader skips tags it does not know, so a newer writer's record still
 * reads in an older build, and rec_check() refuses anything malformed.
 * Runs in every process that reads or writes the store.
 */
#ifndef TAYORI_REC_H
#define TAYORI_REC_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

int rec_put(struct buf *b, uint16_t tag, const void *p, size_t n);
int rec_put_str(struct buf *b, uint16_t tag, const char *s);
int rec_put_u64(struct buf *b, uint16_t tag, uint64_t v);

/* 0 when the whole record is well-formed. */
int rec_check(const uint8_t *p, size_t n);
/* Finds tag; *val points into p (lives as long as p).  1 = absent. */
int rec_get(const uint8_t *p, size_t n, uint16_t tag, const uint8_t **val, size_t *vlen);
/* Copies a text field into out (NUL-terminated); absent gives "". -1 when too long. */
int rec_get_str(const uint8_t *p, size_t n, uint16_t tag, char *out, size_t outsize);
/* Absent gives def. */
uint64_t rec_get_u64(const uint8_t *p, size_t n, uint16_t tag, uint64_t def);

#endif
