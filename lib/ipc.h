/*
 * ipc.h — typed, framed messages between tayori's processes over a
 * socketpair(2).  Runs in every process.
 *
 * A frame is an 8-byte header (type and body length, both big-endian u32)
 * and the body.  Readers are strict, the OpenSMTPD way: a short read, a body
 * over the caller's cap, an unknown type (checked by the caller) or leftover
 * bytes in a body end the conversation.
 *
 * Bodies are sequences of fields written with ipc_put_* into a struct buf and
 * read back with an ipc_reader; every field but u8/u32/u64 is a u32 length
 * followed by that many bytes.
 */
#ifndef TAYORI_IPC_H
#define TAYORI_IPC_H

#include <stddef.h>
#include <stdint.h>
#include "lib/buf.h"

#define IPC_HEADER_LEN 8
#define IPC_MAX_BODY   ((size_t)1 << 20)

/* Write one whole frame (retries on EINTR and short writes). */
int ipc_send(int fd, uint32_t type, const void *body, size_t len, struct error *e);
/* Read one whole frame; body is reset and filled.  A clean EOF before the
 * header returns -1 with e->msg "peer closed".  max caps the body. */
int ipc_recv(int fd, uint32_t *type, struct buf *body, size_t max, struct error *e);

/* Pass / receive one descriptor with a small tag (SCM_RIGHTS). */
int ipc_send_fd(int fd, uint32_t tag, int passfd, struct error *e);
int ipc_recv_fd(int fd, uint32_t *tag, int *passfd, struct error *e);

int ipc_put_u8(struct buf *b, uint8_t v);
int ipc_put_u32(struct buf *b, uint32_t v);
int ipc_put_u64(struct buf *b, uint64_t v);
int ipc_put_bytes(struct buf *b, const void *p, size_t n);
int ipc_put_str(struct buf *b, const char *s);

struct ipc_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
	int bad; /* set once any read failed; every later read fails too */
};

void ipc_reader_init(struct ipc_reader *r, const void *p, size_t len);
int ipc_get_u8(struct ipc_reader *r, uint8_t *v);
int ipc_get_u32(struct ipc_reader *r, uint32_t *v);
int ipc_get_u64(struct ipc_reader *r, uint64_t *v);
/* Points into the reader's memory; valid as long as the body is. */
int ipc_get_bytes(struct ipc_reader *r, const uint8_t **p, size_t *n);
/* 0 when every byte was consumed and no read failed. */
int ipc_end(struct ipc_reader *r);

#endif
