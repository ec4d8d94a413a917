/*
 * test_dkim.c — DKIM signatures (mailer/dkim.c) made by a real keys process
 * of a real tenant, checked by an independent verifier: Debian's dkimpy
 * (python3-dkim), given the tenant's public key instead of DNS.  Generated
 * messages (fixed seed): Japanese RFC 2047 subjects, folded fields, runs of
 * white space, trailing white space and empty lines at the body's end,
 * bodies without a final line end, empty bodies.  A changed body or
 * signed field, or a From added on the way, must fail; white space changes
 * that relaxed canonicalization ignores must not.  Also: only the mailer's
 * channel (and the command line's) may ask for DKIM signatures.
 * Runs as a test program (cmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "cmd/cli.h"
#include "conf/conf.h"
#include "keys/keys.h"
#include "lib/buf.h"
#include "lib/keys_client.h"
#include "lib/role.h"
#include "mailer/dkim.h"

#define SEL "tayori2026"
#define DOM "city.chuo.example.jp"
#define N_MESSAGES 60

struct fixture {
	char dir[64];     /* the tenant */
	char out[128];    /* the messages for the verifier */
	struct keys_client *kc;
	pid_t pid;
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int make_tenant(struct fixture *f, int dkim)
{
	struct error e = { { 0 }, 0 };

	str_copy(f->dir, "/tmp/tayori-test-dkim-XXXXXX", sizeof(f->dir));
	if (mkdtemp(f->dir) == NULL)
		return -1;
	str_fmt(f->out, sizeof(f->out), "%s/mail", f->dir);
	if (mkdir(f->out, 0700) < 0 || keys_create_tenant(f->dir, 0, "テスト区", &e) < 0 ||
	    (dkim && keys_create_dkim(f->dir, &e) < 0) ||
	    keys_spawn(f->dir, NULL, NULL, &f->kc, &f->pid, &e) < 0) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	return make_tenant(f, 1);
}

static int setup_nokey(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	return make_tenant(f, 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->kc != NULL)
		keys_spawn_wait(&f->kc, f->pid);
	if (f->dir[0] != '\0' && strncmp(f->dir, "/tmp/tayori-test-dkim-", 22) == 0)
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A fixed-seed generator (xorshift), so each run signs the same texts. */
static uint64_t seed = 0x7461796f72690a01ull;
static unsigned pick(unsigned n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)(seed % n);
}

static const char *const subjects[] = {
	/* 住民税決定通知書 / 国民健康保険料のお知らせ / テスト */
	"=?UTF-8?B?5L2P5rCR56iO5rG65a6a6YCa55+l5pu4?=",
	"=?UTF-8?B?5Zu95rCR5YGl5bq35L+d6Zm65paZ44Gu44GK55+l44KJ44Gb?=\r\n =?UTF-8?B?77yI5Luk5ZKMN+W5tOW6pu+8iQ==?=",
	"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=  (test)\t ",
	"plain  ascii\t subject ",
};

static const char *const body_lines[] = {
	"中央区役所からのお知らせです。",
	"Line with  two   runs\tof white  space",
	"trailing white space   \t",
	"",
	"   ",
	"https://tayori.city.chuo.example.jp/n/ABCDEFGH",
	"保護番号: 1234-5678",
	"=E3=81=82 quoted-printable soft break=",
	"\t leading tab and space",
};

/* One message with CRLF line ends. */
static void gen_message(struct buf *m, unsigned i)
{
	buf_reset(m);
	if (pick(3) == 0)
		buf_printf(m, "X-Tayori-Batch: %u\r\n", i); /* not signed */
	buf_printf(m, "From: =?UTF-8?B?5Lit5aSu5Yy65b255omA?= <tsuchi@%s>\r\n", DOM);
	buf_printf(m, "To:%sresident%u@example.net\r\n", pick(2) ? " " : "\t ", i);
	buf_printf(m, "Subject: %s\r\n", subjects[pick(4)]);
	buf_printf(m, "Date: Mon, 7 Dec 2026 12:%02u:00 +0900\r\n", i % 60);
	buf_printf(m, "Message-ID: <%u.tayori@%s>\r\n", i, DOM);
	if (pick(2))
		buf_printf(m, "Reply-To: kazei@%s  \r\n", DOM);
	buf_printf(m, "MIME-Version: 1.0\r\n");
	buf_printf(m, "Content-Type: multipart/alternative;\r\n\tboundary=\"=_b%u\"\r\n", i);
	buf_printf(m, "\r\n");
	if (pick(8) == 0)
		return; /* empty body */
	for (unsigned n = 1 + pick(12), k = 0; k < n; k++)
		buf_printf(m, "%s\r\n", body_lines[pick(9)]);
	for (unsigned n = pick(4), k = 0; k < n; k++)
		buf_printf(m, pick(2) ? "\r\n" : " \t\r\n"); /* empty lines at the end */
	if (pick(4) == 0)
		buf_printf(m, "no final line end"); /* RFC 6376 3.4.4 adds one */
}

static void write_file(const char *dir, unsigned i, const char *kind, const void *p, size_t n)
{
	char path[256];
	struct error e = { { 0 }, 0 };
	str_fmt(path, sizeof(path), "%s/%03u.%s.eml", dir, i, kind);
	if (file_write_atomic(path, p, n, 0600, &e) < 0)
		fail_msg("%s", e.msg);
}

/* Write signed, then the variants the verifier must reject or accept. */
static void write_variants(const char *dir, unsigned i, const struct buf *sig, const struct buf *msg)
{
	struct buf s;
	char *at;

	buf_init(&s, DKIM_MSG_MAX);
	buf_append(&s, sig->data, sig->len);
	buf_append(&s, msg->data, msg->len);
	write_file(dir, i, "good", s.data, s.len);
	/* Relaxed canonicalization ignores these: a field refolded with other
	 * white space, trailing white space added to the body. */
	buf_reset(&s);
	buf_append(&s, sig->data, sig->len);
	at = strstr((char *)msg->data, "\r\n\tboundary");
	assert_non_null(at);
	buf_append(&s, msg->data, (size_t)(at - (char *)msg->data));
	buf_append_str(&s, "\r\n      boundary");
	buf_append_str(&s, at + strlen("\r\n\tboundary"));
	buf_append_str(&s, "  \r\n\r\n");
	write_file(dir, i, "ws", s.data, s.len);
	/* A changed body. */
	buf_reset(&s);
	buf_append(&s, sig->data, sig->len);
	buf_append(&s, msg->data, msg->len);
	buf_append_str(&s, "PS: send your card number\r\n");
	write_file(dir, i, "badbody", s.data, s.len);
	/* A changed signed field. */
	buf_reset(&s);
	buf_append(&s, sig->data, sig->len);
	at = strstr((char *)msg->data, "Date: Mon, 7");
	assert_non_null(at);
	buf_append(&s, msg->data, (size_t)(at - (char *)msg->data));
	buf_append_str(&s, "Date: Tue, 7");
	buf_append_str(&s, at + strlen("Date: Mon, 7"));
	write_file(dir, i, "badheader", s.data, s.len);
	/* A second From added above ours (over-signing catches it). */
	buf_reset(&s);
	buf_append_str(&s, "From: =?UTF-8?B?5Lit5aSu5Yy6?= <phish@example.com>\r\n");
	buf_append(&s, sig->data, sig->len);
	buf_append(&s, msg->data, msg->len);
	write_file(dir, i, "addedfrom", s.data, s.len);
	buf_free(&s);
}

static const char verify_py[] =
	"import dkim, glob, os, sys\n"
	"txt = open(os.path.join(sys.argv[1], 'record.txt'), 'rb').read().strip()\n"
	"def dns(name, timeout=5):\n"
	"    assert name == b'" SEL "._domainkey." DOM ".', name\n"
	"    return txt\n"
	"bad = 0; n = {}\n"
	"for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.eml'))):\n"
	"    kind = f.rsplit('.', 2)[1]\n"
	"    ok = dkim.verify(open(f, 'rb').read(), dnsfunc=dns)\n"
	"    want = kind in ('good', 'ws')\n"
	"    n[kind] = n.get(kind, 0) + 1\n"
	"    if ok != want:\n"
	"        bad += 1; print('%s: verify says %s' % (os.path.basename(f), ok))\n"
	"print('dkimpy: %r, %d wrong' % (sorted(n.items()), bad))\n"
	"sys.exit(1 if bad or n.get('good', 0) < 10 else 0)\n";

static int run_python(const char *script, const char *arg)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[] = { "/usr/bin/python3", "-c", (char *)script, (char *)arg, NULL };
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The TXT record's text, from the keys process's public key. */
static void write_record(struct fixture *f)
{
	struct buf der, txt;
	char p64[1400];
	struct error e = { { 0 }, 0 };

	buf_init(&der, 4096);
	buf_init(&txt, 4096);
	if (keys_dkim_pubkey(f->kc, &der, &e) < 0)
		fail_msg("pubkey: %s", e.msg);
	assert_true(der.len > 250 && der.len < 1024);
	EVP_EncodeBlock((unsigned char *)p64, der.data, (int)der.len);
	buf_printf(&txt, "v=DKIM1; k=rsa; p=%s\n", p64);
	{
		char path[256];
		str_fmt(path, sizeof(path), "%s/record.txt", f->out);
		assert_int_equal(file_write_atomic(path, txt.data, txt.len, 0600, &e), 0);
	}
	buf_free(&der);
	buf_free(&txt);
}

/* Every line of the field ends in CRLF within 78 octets; the field's
 * later lines start with white space. */
static void check_folding(const struct buf *sig)
{
	size_t start = 0;
	assert_true(sig->len > 2 && memcmp(sig->data, "DKIM-Signature: v=1;", 20) == 0);
	assert_memory_equal(sig->data + sig->len - 2, "\r\n", 2);
	for (size_t i = 0; i + 1 < sig->len; i++) {
		if (sig->data[i] != '\r')
			continue;
		assert_int_equal(sig->data[i + 1], '\n');
		if (i - start > 78)
			fail_msg("a DKIM-Signature line of %zu octets", i - start);
		if (start > 0)
			assert_true(sig->data[start] == ' ' || sig->data[start] == '\t');
		start = i + 2;
	}
}

static void test_dkimpy_verifies(void **state)
{
	struct fixture *f = *state;
	struct buf msg, sig;
	struct error e = { { 0 }, 0 };

	buf_init(&msg, DKIM_MSG_MAX);
	buf_init(&sig, 8192);
	write_record(f);
	for (unsigned i = 0; i < N_MESSAGES; i++) {
		gen_message(&msg, i);
		buf_reset(&sig);
		if (dkim_sign(f->kc, SEL, DOM, msg.data, msg.len, &sig, &e) < 0)
			fail_msg("message %u: %s", i, e.msg);
		check_folding(&sig);
		assert_non_null(memmem(sig.data, sig.len, "c=relaxed/relaxed;", 18));
		assert_non_null(memmem(sig.data, sig.len, "h=from:from:", 12));
		write_variants(f->out, i, &sig, &msg);
	}
	assert_int_equal(run_python(verify_py, f->out), 0);
	buf_free(&msg);
	buf_free(&sig);
}

/* What is refused rather than signed. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"To: a@example.net\r\nSubject: x\r\n\r\nno From\r\n",
		"From: a@" DOM "\r\nFrom: b@example.com\r\nSubject: x\r\n\r\ntwo From\r\n",
		"From: a@" DOM "\r\nSubject: x\r\nSubject: y\r\n\r\ntwo Subject\r\n",
		" folded first line\r\nFrom: a@" DOM "\r\n\r\nbody\r\n",
		"From: a@" DOM "\r\nno colon here\r\n\r\nbody\r\n",
	};
	struct buf sig;
	struct error e = { { 0 }, 0 };
	const uint8_t ok[] = "From: a@" DOM "\r\n\r\nbody\r\n";

	buf_init(&sig, 8192);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (dkim_sign(f->kc, SEL, DOM, (const uint8_t *)bad[i], strlen(bad[i]), &sig, &e) == 0)
			fail_msg("signed malformed message %zu", i);
		assert_int_equal(sig.len, 0);
	}
	/* A selector or domain that would break the field or the DNS name. */
	assert_int_equal(dkim_sign(f->kc, "a;b", DOM, ok, sizeof(ok) - 1, &sig, &e), -1);
	assert_int_equal(dkim_sign(f->kc, SEL, "x.jp\r\nBcc: a@b", ok, sizeof(ok) - 1, &sig, &e), -1);
	assert_int_equal(dkim_sign(f->kc, "", DOM, ok, sizeof(ok) - 1, &sig, &e), -1);
	assert_int_equal(sig.len, 0);
	assert_int_equal(dkim_sign(f->kc, SEL, DOM, ok, sizeof(ok) - 1, &sig, &e), 0);
	buf_free(&sig);
}

/* The settings: both empty is off (nothing added), one alone is refused,
 * both set sign with them. */
static void test_settings(void **state)
{
	struct fixture *f = *state;
	static const char *const confs[] = {
		"[mail]\n",
		"[mail]\ndkim_selector = " SEL "\n",
		"[mail]\ndkim_domain = " DOM "\n",
		"[mail]\ndkim_selector = " SEL "\ndkim_domain = " DOM "\n",
	};
	static const int want[] = { 0, -1, -1, 0 };
	const uint8_t msg[] = "From: a@" DOM "\r\n\r\nbody\r\n";
	char path[256];

	str_fmt(path, sizeof(path), "%s/t.conf", f->dir);
	for (size_t i = 0; i < 4; i++) {
		struct conf *c = NULL;
		struct buf sig;
		struct error e = { { 0 }, 0 };
		buf_init(&sig, 8192);
		assert_int_equal(file_write_atomic(path, confs[i], strlen(confs[i]), 0600, &e), 0);
		if (conf_load(path, &c, &e) < 0)
			fail_msg("%s", e.msg);
		assert_int_equal(dkim_sign_conf(f->kc, c, msg, sizeof(msg) - 1, &sig, &e), want[i]);
		if (i == 3) {
			assert_non_null(memmem(sig.data, sig.len, " d=" DOM ";", strlen(DOM) + 4));
			assert_non_null(memmem(sig.data, sig.len, " s=" SEL ";", strlen(SEL) + 4));
		}
		else
			assert_int_equal(sig.len, 0);
		if (want[i] < 0)
			assert_non_null(strstr(e.msg, "dkim_selector and dkim_domain"));
		conf_free(&c);
		buf_free(&sig);
	}
}

/* A tenant without a DKIM key: a clear refusal, the channel stays. */
static void test_no_key(void **state)
{
	struct fixture *f = *state;
	struct buf sig;
	struct error e = { { 0 }, 0 };
	const uint8_t msg[] = "From: a@" DOM "\r\n\r\nbody\r\n";
	uint8_t mac[32];

	buf_init(&sig, 8192);
	assert_int_equal(dkim_sign(f->kc, SEL, DOM, msg, sizeof(msg) - 1, &sig, &e), -1);
	assert_non_null(strstr(e.msg, "no DKIM key"));
	assert_int_equal(e.temporary, 0);
	assert_int_equal(keys_hmac(f->kc, "verp\0x", 6, mac, &e), 0);
	buf_free(&sig);
}

/* A keys server for one channel with permissions p, handed over as
 * `tayori run` does (keys_channel_grant / keys_channel_accept). */
static struct keys_client *serve_as(const char *dir, const struct keys_perms *p, pid_t *pid)
{
	int ctl[2], ch[2];
	struct error e = { { 0 }, 0 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		struct keys_perms got;
		struct keys_state *ks = NULL;
		int fd;
		close(ctl[0]);
		close(ch[0]);
		close(ch[1]);
		if (keys_state_load(dir, NULL, NULL, &ks, &e) < 0 ||
		    keys_channel_accept(ctl[1], &got, &fd, &e) < 0)
			_exit(2);
		keys_serve(ks, fd, &got);
		keys_state_free(&ks);
		_exit(0);
	}
	close(ctl[1]);
	assert_int_equal(keys_channel_grant(ctl[0], p, ch[1], &e), 0);
	close(ctl[0]);
	close(ch[1]);
	return keys_client_new(ch[0]);
}

static void test_role_permissions(void **state)
{
	struct fixture *f = *state;
	uint8_t digest[32] = { 1, 2, 3 }, sig[KEYS_MAX_SIG];
	const uint8_t msg[] = "From: a@" DOM "\r\n\r\nbody\r\n";

	for (int r = ROLE_GATEWAY; r < ROLE_COUNT; r++) {
		struct error e = { { 0 }, 0 };
		struct buf out;
		size_t siglen = sizeof(sig);
		pid_t pid;
		int status = 0, rc;
		struct keys_client *kc = serve_as(f->dir, supervisor_keys_perms(r), &pid);

		buf_init(&out, 8192);
		rc = keys_dkim_sign(kc, digest, sig, &siglen, &e);
		if (r == ROLE_MAILER) {
			if (rc < 0)
				fail_msg("the mailer asking for a DKIM signature: %s", e.msg);
			assert_int_equal(siglen, 256);
			assert_int_equal(dkim_sign(kc, SEL, DOM, msg, sizeof(msg) - 1, &out, &e), 0);
		} else {
			if (rc == 0)
				fail_msg("%s got a DKIM signature", role_name(r));
			/* Forbidden: the keys side closed the channel. */
			assert_int_equal(e.temporary, 1);
			assert_int_equal(dkim_sign(kc, SEL, DOM, msg, sizeof(msg) - 1, &out, &e), -1);
			assert_int_equal(out.len, 0);
		}
		buf_free(&out);
		keys_client_free(&kc);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dkimpy_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_key, setup_nokey, teardown),
		cmocka_unit_test_setup_teardown(test_role_permissions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
