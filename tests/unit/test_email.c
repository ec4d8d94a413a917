/*
 * test_email.c — unit tests of lib/email.c: the shared probe table
 * (email_probes.h, also run through conf, recipients and staff by their
 * own tests), the length limits counted octet by octet, and NULL.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/email.h"

#include "email_probes.h"

static void test_probe_table(void **state)
{
	int wrong = 0;
	(void)state;
	for (size_t i = 0; i < EMAIL_PROBES_N; i++) {
		const struct email_probe *p = &email_probes[i];
		if (email_valid(p->addr) != p->ok) {
			print_error("%s \"%s\" (%s)\n", p->ok ? "refused" : "accepted", p->addr, p->why);
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

/* "a…a@" + domain with exactly n octets in all, every piece at its limit. */
static void build(char *out, size_t local, size_t total)
{
	size_t o = 0, left;
	memset(out, 'l', local);
	o = local;
	out[o++] = '@';
	left = total - o - 3; /* room before ".jp" */
	while (left > 0) {
		size_t n = left > EMAIL_LABEL_MAX ? EMAIL_LABEL_MAX : left;
		if (left - n == 1) /* never leave a lone dot */
			n--;
		memset(out + o, 'd', n);
		o += n;
		left -= n;
		if (left > 0) {
			out[o++] = '.';
			left--;
		}
	}
	memcpy(out + o, ".jp", 4);
}

static void test_lengths(void **state)
{
	char a[EMAIL_MAX + 16];
	(void)state;
	for (size_t total = 10; total <= EMAIL_MAX + 8; total++) {
		build(a, 5, total);
		assert_int_equal(strlen(a), total);
		if (email_valid(a) != (total <= EMAIL_MAX))
			fail_msg("length %zu: got %d", total, email_valid(a));
	}
	for (size_t local = 1; local <= EMAIL_LOCAL_MAX + 3; local++) {
		build(a, local, local + 12);
		assert_int_equal(email_valid(a), local <= EMAIL_LOCAL_MAX);
	}
	/* A label of 63 octets passes, 64 does not, wherever it stands. */
	memset(a, 0, sizeof(a));
	memcpy(a, "a@", 2);
	memset(a + 2, 'x', 63);
	memcpy(a + 65, ".example.jp", 12);
	assert_true(email_valid(a));
	memcpy(a, "a@example.", 10);
	memset(a + 10, 'x', 64);
	memcpy(a + 74, ".jp", 4);
	assert_false(email_valid(a));
	a[11] = '.';
	assert_true(email_valid(a));
}

static void test_null_and_nul(void **state)
{
	static const char with_nul[] = "a@example.jp\0<x@evil.example>";
	(void)state;
	assert_false(email_valid(NULL));
	/* The address ends at its NUL: what follows is never looked at. */
	assert_true(email_valid(with_nul));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_table),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_null_and_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
