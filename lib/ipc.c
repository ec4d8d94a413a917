/*
 * ipc.c — framed messages and descriptor passing over socketpairs (see ipc.h).
 * Runs in every process.
 */
#include "lib/ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n > 0) {
		ssize_t w = send(fd, q, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1 = got n bytes, 0 = EOF before any byte, -1 = error or EOF mid-way */
static int read_all(int fd, void *p, size_t n)
{
	uint8_t *q = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, q + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got == 0 ? 0 : -1;
		got += (size_t)r;
	}
	return 1;
}

int ipc_send(int fd, uint32_t type, const void *body, size_t len, struct error *e)
{
	uint8_t hdr[IPC_HEADER_LEN];
	if (len > IPC_MAX_BODY)
		return err_tmp(e, "ipc: message of %zu bytes is too large", len);
	be32_put(hdr, type);
	be32_put(hdr + 4, (uint32_t)len);
	if (write_all(fd, hdr, sizeof(hdr)) < 0 || (len > 0 && write_all(fd, body, len) < 0))
		return err_tmp(e, "ipc: write failed: %s", strerror(errno));
	return 0;
}

int ipc_recv(int fd, uint32_t *type, struct buf *body, size_t max, struct error *e)
{
	uint8_t hdr[IPC_HEADER_LEN];
	uint32_t len;
	int r;

	buf_reset(body);
	r = read_all(fd, hdr, sizeof(hdr));
	if (r == 0)
		return err_tmp(e, "peer closed");
	if (r < 0)
		return err_tmp(e, "ipc: short header");
	*type = be32_get(hdr);
	len = be32_get(hdr + 4);
	if (len > max || len > IPC_MAX_BODY)
		return err_tmp(e, "ipc: message of %u bytes exceeds the cap of %zu", len, max);
	if (buf_reserve(body, len) < 0)
		return err_tmp(e, "ipc: message exceeds the buffer cap");
	if (len > 0 && read_all(fd, body->data, len) != 1)
		return err_tmp(e, "ipc: short body");
	body->len = len;
	body->data[len] = '\0';
	return 0;
}

int ipc_send_fd(int fd, uint32_t tag, int passfd, struct error *e)
{
	uint8_t data[4];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;

	be32_put(data, tag);
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	for (;;) {
		ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w != (ssize_t)sizeof(data))
			return err_tmp(e, "ipc: cannot pass a descriptor: %s", strerror(errno));
		return 0;
	}
}

int ipc_recv_fd(int fd, uint32_t *tag, int *passfd, struct error *e)
{
	uint8_t data[4];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	ssize_t r;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	do
		r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return err_tmp(e, "peer closed");
	if (r != (ssize_t)sizeof(data) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return err_tmp(e, "ipc: malformed descriptor message");
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return err_tmp(e, "ipc: descriptor message without a descriptor");
	memcpy(passfd, CMSG_DATA(c), sizeof(int));
	*tag = be32_get(data);
	return 0;
}

int ipc_put_u8(struct buf *b, uint8_t v)
{
	return buf_append_u8(b, v);
}

int ipc_put_u32(struct buf *b, uint32_t v)
{
	return buf_append_be32(b, v);
}

int ipc_put_u64(struct buf *b, uint64_t v)
{
	return buf_append_be64(b, v);
}

int ipc_put_bytes(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX || buf_append_be32(b, (uint32_t)n) < 0)
		return -1;
	return buf_append(b, p, n);
}

int ipc_put_str(struct buf *b, const char *s)
{
	return ipc_put_bytes(b, s, strlen(s));
}

void ipc_reader_init(struct ipc_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

static const uint8_t *take(struct ipc_reader *r, size_t n)
{
	const uint8_t *p;
	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

int ipc_get_u8(struct ipc_reader *r, uint8_t *v)
{
	const uint8_t *p = take(r, 1);
	if (p == NULL)
		return -1;
	*v = *p;
	return 0;
}

int ipc_get_u32(struct ipc_reader *r, uint32_t *v)
{
	const uint8_t *p = take(r, 4);
	if (p == NULL)
		return -1;
	*v = be32_get(p);
	return 0;
}

int ipc_get_u64(struct ipc_reader *r, uint64_t *v)
{
	const uint8_t *p = take(r, 8);
	if (p == NULL)
		return -1;
	*v = be64_get(p);
	return 0;
}

int ipc_get_bytes(struct ipc_reader *r, const uint8_t **p, size_t *n)
{
	uint32_t len;
	const uint8_t *q;
	if (ipc_get_u32(r, &len) < 0)
		return -1;
	q = take(r, len);
	if (q == NULL)
		return -1;
	*p = q;
	*n = len;
	return 0;
}

int ipc_end(struct ipc_reader *r)
{
	return (r->bad || r->off != r->len) ? -1 : 0;
}
