/*
 * buf.h — size-capped dynamic byte buffers for anything an attacker controls.
 * Runs in every process.
 *
 * A buf grows on demand up to its cap; an append beyond the cap fails and
 * leaves the buffer unchanged.  data is always NUL-terminated (one spare
 * byte beyond len) so text can be passed to C string functions.  The owner
 * calls buf_free(); buf_wipe() also zeroes the bytes first (secrets).
 */
#ifndef TAYORI_BUF_H
#define TAYORI_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_MAX_DEFAULT ((size_t)16 << 20)

void buf_init(struct buf *b, size_t max);
/* Make room for extra more bytes (and the NUL); -1 beyond the cap. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_u8(struct buf *b, uint8_t v);
int buf_append_be32(struct buf *b, uint32_t v);
int buf_append_be64(struct buf *b, uint64_t v);
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
void buf_wipe(struct buf *b);
/* Hand the bytes to the caller (who frees them) and reset the buffer. */
uint8_t *buf_steal(struct buf *b, size_t *len);

#endif
