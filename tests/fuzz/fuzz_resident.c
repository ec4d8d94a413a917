/*
 * fuzz_resident.c — libFuzzer target over what a resident types and what
 * the resident pages show: resident_value_canon() and resident_value_match()
 * on arbitrary bytes (the CSV value check), resident_otp_check() on an
 * arbitrary answer, and page_message() on an arbitrary message.  Checks the
 * promises the headers make and aborts when one is broken: a canonical
 * value is short, valid UTF-8, blank-free and matches itself; a value
 * matches its own canonical form; a random answer never passes an OTP it
 * does not equal and every wrong one is counted; the rendered message holds
 * no markup but the links it makes (each to http: or https:), and every
 * quote inside an attribute is escaped.  The OTP is kept as a MAC from
 * the keys process, so the run makes a scratch tenant with a real keys
 * process once (removed at exit).  Built by `make fuzz` (clang); seeds in
 * tests/fuzz/corpus/resident/.
 */
#include <ftw.h>
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "keys/keys.h"
#include "lib/store.h"
#include "portal/page_resident.h"
#include "portal/resident_auth.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/tayori-fuzz-resident.XXXXXX";
static struct keys_client *kc;
static pid_t keys_pid;
static struct store *st;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The scratch tenant goes when the run ends. */
static void cleanup(void)
{
	store_close(&st);
	if (kc != NULL)
		keys_spawn_wait(&kc, keys_pid);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct error e = { { 0 }, 0 };
	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL || keys_create_tenant(dir, 0, "fuzz", &e) < 0 ||
	    keys_spawn(dir, NULL, NULL, &kc, &keys_pid, &e) < 0 ||
	    store_open(dir, kc, 1, &st, &e) < 0) {
		fprintf(stderr, "fuzz_resident: setup failed: %s\n", e.msg);
		abort();
	}
	atexit(cleanup);
	return 0;
}

static void check_value(const char *s)
{
	char c[RESIDENT_VALUE_MAX + 1];

	if (resident_value_canon(s, c, sizeof(c)) < 0)
		return;
	if (strlen(c) > RESIDENT_VALUE_MAX || !g_utf8_validate(c, -1, NULL) || c[0] == '\0')
		abort();
	for (const char *p = c; *p != '\0'; p = g_utf8_next_char(p))
		if (g_unichar_isspace(g_utf8_get_char(p)))
			abort();
	if (!resident_value_match(s, s) || !resident_value_match(s, c))
		abort();
}

static void check_otp(const char *s)
{
	struct notice_access a;
	char code[RESIDENT_OTP_DIGITS + 1];
	struct error e = { { 0 }, 0 };
	enum resident_check r;

	memset(&a, 0, sizeof(a));
	if (resident_otp_new(st, &a, 1000, code, &e) < 0)
		abort();
	r = resident_otp_check(st, &a, s, 1001, &e);
	if (r == RESIDENT_OK) {
		/* only the code itself, perhaps with blanks or in full width */
		char d[16];
		size_t n = 0;
		gchar *f = g_utf8_normalize(s, -1, G_NORMALIZE_NFKC);
		for (const char *p = f; p != NULL && *p != '\0' && n < sizeof(d) - 1; p++)
			if (*p >= '0' && *p <= '9')
				d[n++] = *p;
		d[n] = '\0';
		g_free(f);
		if (strcmp(d, code) != 0)
			abort();
	} else if (r != RESIDENT_WRONG || a.failures != 1 || a.otp_tries != 1) {
		abort();
	}
}

/* Outside the links page_message makes, no markup; inside, only http(s). */
static void check_message(const char *msg, size_t len)
{
	struct buf b;
	const char *p, *end;
	static const char open[] = "<div class=\"message notice-box\">";

	buf_init(&b, (size_t)1 << 22);
	if (page_message(&b, msg, len) < 0) {
		buf_free(&b);
		return;
	}
	p = (const char *)b.data;
	if (strncmp(p, open, strlen(open)) != 0)
		abort();
	p += strlen(open);
	end = (const char *)b.data + b.len - strlen("</div>\n");
	if (strcmp(end, "</div>\n") != 0)
		abort();
	while (p < end) {
		if (*p == '"' || *p == '\'' || *p == '>')
			abort();
		if (*p != '<') {
			p++;
			continue;
		}
		if (strncmp(p, "<a href=\"http://", 16) != 0 && strncmp(p, "<a href=\"https://", 17) != 0)
			abort();
		p = strchr(p + 9, '"');
		if (p == NULL || strncmp(p, "\">", 2) != 0)
			abort();
		p = strstr(p, "</a>");
		if (p == NULL)
			abort();
		p += 4;
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_value(s);
	check_otp(s);
	check_message((const char *)data, size);
	free(s);
	return 0;
}
