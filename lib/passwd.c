/*
 * passwd.c — Argon2id password hashes (RFC 9106, libargon2) and password
 * input (see passwd.h).
 */
#include "lib/passwd.h"

#include <argon2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SALT_LEN 16
#define HASH_LEN 32

/*
 * OWASP's Password Storage Cheat Sheet: Argon2id with one of
 * m=47104 KiB t=1, m=19456 t=2, m=12288 t=3, m=9216 t=4, m=7168 t=5 (p=1),
 * all of equal strength.  The floor for t passes is the memory of that row
 * (t >= 5: the last one); more memory or more passes only add.
 */
static const unsigned owasp_min_kib[] = { 47104, 19456, 12288, 9216, 7168 };

int passwd_params_check(const struct passwd_params *p, struct error *e)
{
	unsigned t = p->iterations, need;

	if (t == 0)
		return err_set(e, "argon2_iterations = 0: at least 1 pass is needed");
	need = owasp_min_kib[(t < ARRAY_SIZE(owasp_min_kib) ? t : ARRAY_SIZE(owasp_min_kib)) - 1];
	if (p->memory_kib < need)
		return err_set(e, "argon2_memory_kib = %u with argon2_iterations = %u is below OWASP's floor: at least %u KiB with that many passes (47104 KiB with 1, 19456 with 2, 12288 with 3, 9216 with 4, 7168 with 5 or more)",
			       p->memory_kib, t, need);
	return 0;
}

int passwd_hash(const char *password, const struct passwd_params *p, char out[PASSWD_HASH_MAX],
		struct error *e)
{
	uint8_t salt[SALT_LEN];
	int rc;

	/* Never a weak hash, whatever the caller was configured with. */
	if (passwd_params_check(p, e) < 0)
		return -1;
	if (random_bytes(salt, sizeof(salt)) < 0)
		return err_tmp(e, "no random bytes for a salt");
	rc = argon2id_hash_encoded(p->iterations, p->memory_kib, 1, password, strlen(password), salt,
				   sizeof(salt), HASH_LEN, out, PASSWD_HASH_MAX);
	if (rc != ARGON2_OK)
		return err_tmp(e, "argon2id: %s", argon2_error_message(rc));
	return 0;
}

int passwd_verify(const char *encoded, const char *password)
{
	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return -1;
	return argon2id_verify(encoded, password, strlen(password)) == ARGON2_OK ? 0 : -1;
}

int passwd_acceptable(const char *password, struct error *e)
{
	size_t n = strlen(password), chars = 0;
	/* The minimum counts characters (NIST SP 800-63B), the maximum bytes. */
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)password[i] & 0xc0) != 0x80;
	if (chars < PASSWD_MIN_LEN)
		return err_set(e, "password too short: at least %d characters", PASSWD_MIN_LEN);
	if (n > PASSWD_MAX_LEN)
		return err_set(e, "password too long: at most %d bytes", PASSWD_MAX_LEN);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)password[i] < 0x20 || password[i] == 0x7f)
			return err_set(e, "password contains a control character");
	return 0;
}

int passwd_generate(char *out, size_t outsize)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789"; /* 32 symbols */
	uint8_t r[16];
	size_t o = 0;
	if (outsize < 20 || random_bytes(r, sizeof(r)) < 0)
		return -1;
	for (int i = 0; i < 16; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		out[o++] = alphabet[r[i] & 31];
	}
	out[o] = '\0';
	secure_wipe(r, sizeof(r));
	return 0;
}

static int read_line_noecho(int fd, const char *prompt, char *out, size_t outsize, struct error *e)
{
	struct termios old, quiet;
	size_t n = 0;
	int have_tc = tcgetattr(fd, &old) == 0;

	(void)!write(fd, prompt, strlen(prompt));
	if (have_tc) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 < outsize)
			out[n++] = c;
	}
	out[n] = '\0';
	if (have_tc)
		tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	(void)e;
	return 0;
}

int passwd_read(const char *env, const char *prompt, int confirm, char *out, size_t outsize,
		struct error *e)
{
	char again[PASSWD_MAX_LEN + 2];
	int fd;

	if (env != NULL && *env != '\0') {
		const char *v = getenv(env);
		if (v == NULL)
			return err_set(e, "environment variable %s is not set", env);
		if (str_copy(out, v, outsize) >= outsize)
			return err_set(e, "password in %s is too long", env);
		return 0;
	}
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, "no terminal to ask for a password; use --password-env VAR");
	read_line_noecho(fd, prompt, out, outsize, e);
	if (confirm) {
		read_line_noecho(fd, "Again: ", again, sizeof(again), e);
		if (strcmp(out, again) != 0) {
			secure_wipe(again, sizeof(again));
			close(fd);
			return err_set(e, "the two passwords differ");
		}
		secure_wipe(again, sizeof(again));
	}
	close(fd);
	return 0;
}
