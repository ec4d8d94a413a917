/*
 * util.h — the shared error convention, allocation and small helpers.
 * Runs in every process.
 *
 * Error convention (one for the whole code base): a function returns 0 on
 * success and -1 on failure, and on failure fills the caller's struct error
 * with one English sentence saying what and where.  The caller owns the
 * struct; it usually lives on the stack.
 */
#ifndef TAYORI_UTIL_H
#define TAYORI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#define ERR_MAX 512

struct error {
	char msg[ERR_MAX];
	int temporary; /* 1: retrying may help (exit 3), 0: the input is bad (exit 1) */
};

#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))

/* Fill e (may be NULL) and return -1, so callers can write `return err_set(...)`. */
int err_set(struct error *e, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Same, but marks the failure as temporary/internal. */
int err_tmp(struct error *e, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Allocation that aborts on exhaustion: out of memory is not an input error. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Copy with truncation; always NUL-terminates; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t dstsize);
/* snprintf that reports truncation as -1 instead of a length. */
int str_fmt(char *dst, size_t dstsize, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Strict decimal parse of the whole string into [min,max]; -1 on anything else. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Constant-time comparison for credentials and MACs. 0 when equal. */
int ct_memcmp(const void *a, const void *b, size_t n);

/* Wipe memory that held a secret (not optimised away). */
void secure_wipe(void *p, size_t n);

/* Cryptographic random bytes; -1 when the kernel source fails. */
int random_bytes(void *p, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of one hexadecimal digit (either case), or -1. */
static inline int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
/* Decode exactly 2n hex digits; -1 on any other character or length. */
int hex_decode(const char *in, uint8_t *out, size_t n);

/* Big-endian integer helpers for LMDB keys (sort order = numeric order). */
void be64_put(uint8_t *p, uint64_t v);
uint64_t be64_get(const uint8_t *p);
void be32_put(uint8_t *p, uint32_t v);
uint32_t be32_get(const uint8_t *p);

/* Seconds since the epoch, UTC. */
int64_t now_utc(void);
/* "2026-11-26T09:00:00Z" into out (>= 21 bytes). */
void time_format_utc(int64_t t, char *out, size_t outsize);
/* "2026-11-26 18:00 JST" into out (>= 24 bytes). */
void time_format_jst(int64_t t, char *out, size_t outsize);
/* 'YYYY-MM-DD HH:MM' (or a T between) in Japan time (JST, +09:00, no
 * daylight saving) as UTC seconds: 0, or -1 when s is not such a time
 * (2026-02-30 is not a day).  `tayori batch send --at` and the dashboard. */
int time_parse_jst(const char *s, int64_t *out);

/* Read a whole file of at most max bytes. Caller frees *out. */
int file_read_all(const char *path, size_t max, uint8_t **out, size_t *len, struct error *e);
/* Write a file atomically (temp + fsync + rename) with the given mode. */
int file_write_atomic(const char *path, const void *data, size_t len, int mode, struct error *e);
/* mkdir -p; every folder it creates gets mode (an existing non-folder fails). */
int mkdir_p(const char *path, int mode, struct error *e);

/* Write s as a JSON string to f: quotes; escapes for ", \\ and every character
 * text_is_unsafe() names (controls, bidi controls, U+2028/9); each byte that
 * is not UTF-8 becomes U+FFFD. */
void json_fputs(FILE *f, const char *s);
/* Write a member name and its colon, "name": (with json_fputs), preceded by
 * a comma unless it is the first member of its object. */
void json_member(FILE *f, const char *name, int first);

/* How many threads to spread CPU-bound work over: the CPUs this process
 * may run on (its affinity mask, so taskset and cgroup cpusets count),
 * at least 1 and at most max.  The one such helper: PDF text and batches. */
int cpu_threads(int max);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
