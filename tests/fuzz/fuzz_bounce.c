/*
 * fuzz_bounce.c — libFuzzer target over the bounce classifier:
 * bounce_parse() on arbitrary bytes as the bounce reader gets them from
 * the mailbox, and bounce_verp_parse() on the first line.  Checks the
 * promises bounce.h makes (the kind and is_bounce agree, at most
 * BOUNCE_RCPT_MAX recipients, addresses that pass email_valid(), every
 * string valid UTF-8 without control characters and within its size,
 * VERP fields set only when valid) and aborts when one is broken, so the
 * fuzzer reports it.  Built by `make fuzz` (clang); seeds in
 * tests/fuzz/corpus/bounce/.
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/email.h"
#include "mailer/bounce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);
	if (n >= size || !g_utf8_validate(s, (gssize)n, NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7F)
			abort();
	}
}

static void check_verp(const struct bounce_verp *v)
{
	check_text(v->addr, sizeof(v->addr));
	check_text(v->mac, sizeof(v->mac));
	if (v->valid) {
		size_t n = strlen(v->mac);
		if (!v->present || v->batch == 0 || v->seq == 0 || v->seq > 0x7fffffffu ||
		    n < BOUNCE_MAC_MIN || n > BOUNCE_MAC_MAX)
			abort();
		for (size_t i = 0; i < n; i++)
			if (!g_ascii_isdigit(v->mac[i]) && !g_ascii_islower(v->mac[i]))
				abort();
	} else if (v->batch != 0 || v->seq != 0 || v->mac[0] != '\0') {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bounce_result r;
	struct error e = { { 0 }, 0 };
	int bounce;

	if (bounce_parse(data, size, &r, &e) != 0)
		abort();
	bounce = r.kind == BOUNCE_HARD || r.kind == BOUNCE_SOFT || r.kind == BOUNCE_RATE;
	if (r.is_bounce != bounce || r.nrcpt > BOUNCE_RCPT_MAX || r.kind > BOUNCE_COMPLAINT)
		abort();
	check_text(r.format, sizeof(r.format));
	for (size_t i = 0; i < r.nrcpt; i++) {
		const struct bounce_rcpt *rc = &r.rcpt[i];
		if (!email_valid(rc->addr) || (rc->original[0] != '\0' && !email_valid(rc->original)))
			abort();
		check_text(rc->status, sizeof(rc->status));
		check_text(rc->diag, sizeof(rc->diag));
		if (r.kind != BOUNCE_COMPLAINT && (rc->status[0] != '4' && rc->status[0] != '5'))
			abort();
	}
	check_verp(&r.verp);

	/* the first line as a return path */
	if (size < 512) {
		struct bounce_verp v;
		char *line = g_strndup((const char *)data, size);
		line[strcspn(line, "\r\n")] = '\0';
		memset(&v, 0x5a, sizeof(v));
		if (bounce_verp_parse(line, &v) != v.valid)
			abort();
		if (v.present)
			check_verp(&v);
		g_free(line);
	}
	return 0;
}
