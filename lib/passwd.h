/*
 * passwd.h — staff passwords: Argon2id hashes (RFC 9106) and one-time
 * passwords for new accounts.  Runs in command-line processes and, later,
 * in the portal's worker threads (never on an event loop: one hash takes
 * tens of milliseconds and 64 MiB by design).
 */
#ifndef TAYORI_PASSWD_H
#define TAYORI_PASSWD_H

#include <stddef.h>
#include "lib/util.h"

#define PASSWD_HASH_MAX 160
#define PASSWD_MIN_LEN 10
#define PASSWD_MAX_LEN 256

struct passwd_params {
	unsigned memory_kib;
	unsigned iterations;
};

/* 0 when the cost is at or above OWASP's Argon2id floor (m = 19 MiB with
 * t = 2, or an equivalent row of its table); else -1, e naming the setting. */
int passwd_params_check(const struct passwd_params *p, struct error *e);
/* Encoded "$argon2id$v=19$m=...,t=...,p=1$salt$hash" into out; refused
 * below the floor. */
int passwd_hash(const char *password, const struct passwd_params *p, char out[PASSWD_HASH_MAX],
		struct error *e);
/* 0 when password matches the encoded hash. */
int passwd_verify(const char *encoded, const char *password);
/* Length and character rules for a new password; message in e. */
int passwd_acceptable(const char *password, struct error *e);
/* A random password, 4 groups of 4 from an alphabet without look-alikes
 * (no 0/O, 1/l/I): "k7dq-m3xa-..." — 80 bits. out >= 20 bytes. */
int passwd_generate(char *out, size_t outsize);
/* Read a password: from the environment variable env when given, else from
 * the terminal without echo (asked twice when confirm).  Never from argv. */
int passwd_read(const char *env, const char *prompt, int confirm, char *out, size_t outsize,
		struct error *e);

#endif
