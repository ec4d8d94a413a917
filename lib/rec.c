/*
 * rec.c — tagged record fields (see rec.h).
 */
#include "lib/rec.h"

#include <string.h>

int rec_put(struct buf *b, uint16_t tag, const void *p, size_t n)
{
	uint8_t hdr[6];
	if (n > UINT32_MAX)
		return -1;
	hdr[0] = (uint8_t)(tag >> 8);
	hdr[1] = (uint8_t)tag;
	be32_put(hdr + 2, (uint32_t)n);
	if (buf_append(b, hdr, sizeof(hdr)) < 0)
		return -1;
	return buf_append(b, p, n);
}

int rec_put_str(struct buf *b, uint16_t tag, const char *s)
{
	return rec_put(b, tag, s, strlen(s));
}

int rec_put_u64(struct buf *b, uint16_t tag, uint64_t v)
{
	uint8_t x[8];
	be64_put(x, v);
	return rec_put(b, tag, x, sizeof(x));
}

int rec_check(const uint8_t *p, size_t n)
{
	size_t off = 0;
	int last = -1;
	while (off < n) {
		uint32_t len;
		int tag;
		if (n - off < 6)
			return -1;
		tag = p[off] << 8 | p[off + 1];
		len = be32_get(p + off + 2);
		if (tag <= last || len > n - off - 6)
			return -1;
		last = tag;
		off += 6 + len;
	}
	return 0;
}

int rec_get(const uint8_t *p, size_t n, uint16_t tag, const uint8_t **val, size_t *vlen)
{
	size_t off = 0;
	while (off + 6 <= n) {
		uint16_t t = (uint16_t)(p[off] << 8 | p[off + 1]);
		uint32_t len = be32_get(p + off + 2);
		if (len > n - off - 6)
			return -1;
		if (t == tag) {
			*val = p + off + 6;
			*vlen = len;
			return 0;
		}
		off += 6 + len;
	}
	return 1;
}

int rec_get_str(const uint8_t *p, size_t n, uint16_t tag, char *out, size_t outsize)
{
	const uint8_t *v;
	size_t len;
	int r = rec_get(p, n, tag, &v, &len);
	if (outsize == 0)
		return -1;
	out[0] = '\0';
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (len >= outsize || memchr(v, '\0', len) != NULL)
		return -1;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

uint64_t rec_get_u64(const uint8_t *p, size_t n, uint16_t tag, uint64_t def)
{
	const uint8_t *v;
	size_t len;
	if (rec_get(p, n, tag, &v, &len) != 0 || len != 8)
		return def;
	return be64_get(v);
}
