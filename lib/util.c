/*
 * util.c — error convention, allocation and small helpers (see util.h).
 * Runs in every process.
 */
#include "lib/util.h"
#include "lib/text.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int err_vset(struct error *e, int temporary, const char *fmt, va_list ap) PRINTF_LIKE(3, 0);
static int err_vset(struct error *e, int temporary, const char *fmt, va_list ap)
{
	if (e != NULL) {
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		e->temporary = temporary;
	}
	return -1;
}

int err_set(struct error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int err_tmp(struct error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, 1, fmt, ap);
	va_end(ap);
	return -1;
}

static void oom(void)
{
	static const char msg[] = "event=fatal reason=\"out of memory\"\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

size_t str_copy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);
	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int str_fmt(char *dst, size_t dstsize, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(dst, dstsize, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstsize)
		return -1;
	return n;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	/* strtoll accepts leading spaces and '+'; a config value must not. */
	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int ct_memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

void secure_wipe(void *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
}

int random_bytes(void *p, size_t n)
{
	uint8_t *q = p;
	while (n > 0) {
		ssize_t r = getrandom(q, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_decode(const char *in, uint8_t *out, size_t n)
{
	if (strlen(in) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int64_t now_utc(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void time_format_utc(int64_t t, char *out, size_t outsize)
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, outsize, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_format_jst(int64_t t, char *out, size_t outsize)
{
	struct tm tm;
	/* JST has no daylight saving: a fixed +9 h is exact. */
	time_t tt = (time_t)(t + 9 * 3600);
	gmtime_r(&tt, &tm);
	strftime(out, outsize, "%Y-%m-%d %H:%M JST", &tm);
}

/* Exactly n ASCII digits at s, in [lo, hi]. */
static int digits_in(const char *s, int n, int lo, int hi, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int time_parse_jst(const char *s, int64_t *out)
{
	struct tm tm, back;
	int y, mo, d, h, mi;
	time_t t;

	/* YYYY-MM-DD HH:MM, also with a T between date and time */
	if (strlen(s) != 16 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
	    s[13] != ':' || digits_in(s, 4, 2000, 9999, &y) < 0 ||
	    digits_in(s + 5, 2, 1, 12, &mo) < 0 || digits_in(s + 8, 2, 1, 31, &d) < 0 ||
	    digits_in(s + 11, 2, 0, 23, &h) < 0 ||
	    digits_in(s + 14, 2, 0, 59, &mi) < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	t = timegm(&tm);
	/* 2026-02-30 is not a day: timegm moves it, and the check sees it. */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d ||
	    back.tm_mon != mo - 1)
		return -1;
	*out = (int64_t)t - 9 * 3600; /* JST is UTC+9, no daylight saving */
	return 0;
}

int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len, struct error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *data = NULL;
	size_t have = 0;

	if (fd < 0)
		return err_set(e, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s is not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(e, "%s is larger than the limit of %zu bytes", path, max);
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (have < (size_t)st.st_size) {
		ssize_t r = read(fd, data + have, (size_t)st.st_size - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(data);
			close(fd);
			return err_tmp(e, "cannot read %s: %s", path, r < 0 ? strerror(errno) : "short read");
		}
		have += (size_t)r;
	}
	close(fd);
	data[have] = '\0';
	*out = data;
	*len = have;
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct error *e)
{
	char tmp[4096];
	const uint8_t *p = data;
	int fd;

	if (str_fmt(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0)
		return err_set(e, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return err_tmp(e, "cannot create %s: %s", tmp, strerror(errno));
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	{
		int saved = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return err_tmp(e, "cannot write %s: %s", path, strerror(saved));
	}
}

int mkdir_p(const char *path, int mode, struct error *e)
{
	char tmp[4096];
	if (str_copy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		return err_set(e, "path too long: %s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
			return err_tmp(e, "cannot create %s: %s", tmp, strerror(errno));
		*s = '/';
	}
	if (mkdir(tmp, (mode_t)mode) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return err_tmp(e, "cannot create %s: %s", tmp, strerror(errno));
		if (stat(tmp, &st) < 0 || !S_ISDIR(st.st_mode))
			return err_set(e, "%s exists and is not a folder", tmp);
	}
	return 0;
}

void json_fputs(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;

	fputc('"', f);
	while (i < len) {
		uint32_t c;
		size_t n = text_utf8_decode(p + i, len - i, &c);
		if (n == 0) {
			fputs("\\ufffd", f); /* not UTF-8: JSON text must be */
			i++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", (int)c);
		else if (text_is_unsafe(c))
			fprintf(f, "\\u%04x", (unsigned)c);
		else
			fwrite(p + i, 1, n, f);
		i += n;
	}
	fputc('"', f);
}

void json_member(FILE *f, const char *name, int first)
{
	if (!first)
		fputc(',', f);
	json_fputs(f, name);
	fputc(':', f);
}

int cpu_threads(int max)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (max < 1)
		max = 1;
	return n > max ? max : (int)n;
}
