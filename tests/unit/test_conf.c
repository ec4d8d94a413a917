/*
 * test_conf.c — unit tests of conf/: every value type, every error
 * kind with its line number, quoting and comments, CRLF, defaults, path
 * resolution, size limits, the sample writer's round trip, and that the
 * shipped sample (conf/tayori.conf) and man page (conf/tayori.conf.5) agree
 * with the schema.
 * Runs as a test program (cmocka) from the top of the source tree.
 *
 * `test_conf --write-sample conf/tayori.conf` regenerates the sample after a
 * schema change instead of running the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"

#include "email_probes.h"

#define BASE "/srv/tayori/chuo"

/* ---- helpers ---------------------------------------------------------- */

static struct conf *parse_len(const char *text, size_t len)
{
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };
	int rc = conf_parse(text, len, "t.conf", BASE, &c, &e);
	if (rc != 0)
		print_error("unexpected error: %s\n", e.msg);
	assert_int_equal(rc, 0);
	assert_non_null(c);
	return c;
}

static struct conf *parse_ok(const char *text)
{
	return parse_len(text, strlen(text));
}

/* Parsing must fail with a message that starts with want. */
static void fails_len(const char *text, size_t len, const char *want)
{
	struct conf *c = (struct conf *)1;
	struct error e = { { 0 }, 0 };
	int rc = conf_parse(text, len, "t.conf", BASE, &c, &e);
	assert_int_equal(rc, -1);
	assert_null(c);
	if (strncmp(e.msg, want, strlen(want)) != 0) {
		print_error("input:   %.200s\nwanted:  %s\ngot:     %s\n", text, want, e.msg);
		fail();
	}
	assert_int_equal(e.temporary, 0);
}

static void fails(const char *text, const char *want)
{
	fails_len(text, strlen(text), want);
}

static char *path_of(const struct conf *c, const char *section, const char *key)
{
	static char out[4096];
	assert_int_equal(conf_path(c, section, key, out, sizeof(out)), 0);
	return out;
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;
	if (f == NULL)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return data;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A scratch directory under /tmp, removed by rm_scratch. */
static char scratch[256];

static void make_scratch(void)
{
	assert_true(str_fmt(scratch, sizeof(scratch), "/tmp/test_conf.XXXXXX") > 0);
	assert_non_null(mkdtemp(scratch));
}

static void rm_rf(const char *path)
{
	/* rm -rf without system(), and only on our own scratch directory. */
	pid_t pid;
	assert_true(strncmp(path, "/tmp/test_conf.", 15) == 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* ---- defaults --------------------------------------------------------- */

static void test_defaults(void **state)
{
	size_t n;
	const struct conf_setting *s = conf_schema(&n);
	struct conf *c = parse_ok("");

	assert_true(n >= 38);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(conf_str(c, s[i].section, s[i].key), s[i].def);
		assert_int_equal(conf_is_set(c, s[i].section, s[i].key), 0);
	}
	assert_string_equal(conf_str(c, "tenant", "name"), "デモ区");
	assert_string_equal(conf_str(c, "tenant", "id"), "demo");
	assert_string_equal(conf_str(c, "portal", "resident_listen"), "127.0.0.1:8080");
	assert_string_equal(conf_str(c, "portal", "staff_url"), "http://127.0.0.1:8081");
	assert_string_equal(conf_str(c, "mail", "from"), "tayori@localhost.localdomain");
	assert_string_equal(conf_str(c, "mail", "relay"), "");
	assert_int_equal(conf_int(c, "portal", "session_ttl"), 8 * 3600);
	assert_int_equal(conf_int(c, "portal", "max_connections"), 512);
	assert_int_equal(conf_int(c, "mail", "retry_max"), 10);
	assert_int_equal(conf_int(c, "limits", "message_size"), 50 * 1024 * 1024);
	assert_int_equal(conf_int(c, "limits", "attachments"), 2000);
	assert_int_equal(conf_int(c, "limits", "mime_depth"), 8);
	assert_int_equal(conf_int(c, "limits", "pdf_pages"), 100000);
	assert_int_equal(conf_int(c, "limits", "csv_rows"), 100000);
	assert_int_equal(conf_int(c, "security", "sandbox"), 0);
	assert_int_equal(conf_int(c, "security", "argon2_memory_kib"), 65536);
	assert_int_equal(conf_int(c, "security", "argon2_iterations"), 3);
	assert_int_equal(conf_int(c, "signing", "level"), 0);
	assert_int_equal(conf_int(c, "log", "level"), 1);
	assert_int_equal(conf_int(c, "log", "syslog"), 1);
	assert_string_equal(path_of(c, "paths", "data_dir"), BASE);
	assert_string_equal(path_of(c, "paths", "inbox"), BASE "/inbox");
	assert_string_equal(path_of(c, "paths", "outbox_maildir"), BASE "/mail/outbox");
	assert_string_equal(path_of(c, "paths", "log_dir"), BASE "/log");
	assert_string_equal(path_of(c, "signing", "p12"), BASE "/keys/signing.p12");
	assert_string_equal(path_of(c, "portal", "tls_cert"), "");
	assert_string_equal(path_of(c, "signing", "pkcs11_module"), "");
	assert_string_equal(conf_file(c), "t.conf");
	conf_free(&c);
	assert_null(c);
	conf_free(&c); /* twice is fine */
	conf_free(NULL);
}

/* ---- every type, valid values ----------------------------------------- */

static void test_types_valid(void **state)
{
	static const char text[] =
		"[tenant]\n"
		"name = 中央区\n"
		"id = chuo-ku_13102\n"
		"[portal]\n"
		"resident_listen = [::1]:9000\n"
		"staff_listen = 0.0.0.0:9001\n"
		"public_url = https://notice.city.chuo.example.jp/portal?x=1\n"
		"staff_url = http://[2001:db8::1]:8443/\n"
		"tls_cert = /etc/tayori/portal.pem\n"
		"tls_key = /etc/tayori/portal.key\n"
		"session_ttl = 30m\n"
		"max_connections = 100000\n"
		"[mail]\n"
		"relay = smtps://relay.example.jp:465\n"
		"from = no-reply+notice@city.chuo.example.jp\n"
		"intake_address = intake@city.example.jp\n"
		"imap_url = imaps://imap.example.jp/INBOX\n"
		"imap_user = intake\n"
		"imap_password_env = TAYORI_IMAP_PASSWORD\n"
		"retry_max = 0\n"
		"[signing]\n"
		"pkcs11_module = /usr/lib/softhsm/libsofthsm2.so\n"
		"pkcs11_token = 職責証明書\n"
		"pkcs11_pin_env = PIN\n"
		"level = B-LTA\n"
		"tsa_url = http://tsa.example.jp/tsa\n"
		"tsa_ca_file = /etc/tayori/tsa-ca.pem\n"
		"[limits]\n"
		"message_size = 512K\n"
		"attachments = 1\n"
		"mime_depth = 64\n"
		"pdf_pages = 10000000\n"
		"csv_rows = 7\n"
		"[security]\n"
		"sandbox = best-effort\n"
		"argon2_memory_kib = 8192\n"
		"argon2_iterations = 10\n"
		"[log]\n"
		"level = error\n"
		"syslog = off\n";
	struct conf *c = parse_ok(text);
	char host[64];
	int port;

	assert_string_equal(conf_str(c, "tenant", "name"), "中央区");
	assert_string_equal(conf_str(c, "tenant", "id"), "chuo-ku_13102");
	assert_int_equal(conf_listen_split(conf_str(c, "portal", "resident_listen"), host,
					   sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9000);
	assert_int_equal(conf_int(c, "portal", "session_ttl"), 1800);
	assert_int_equal(conf_int(c, "portal", "max_connections"), 100000);
	assert_string_equal(conf_str(c, "mail", "relay"), "smtps://relay.example.jp:465");
	assert_int_equal(conf_int(c, "mail", "retry_max"), 0);
	assert_string_equal(conf_str(c, "signing", "pkcs11_token"), "職責証明書");
	assert_string_equal(path_of(c, "signing", "pkcs11_module"), "/usr/lib/softhsm/libsofthsm2.so");
	assert_int_equal(conf_int(c, "signing", "level"), 3);
	assert_int_equal(conf_int(c, "limits", "message_size"), 512 * 1024);
	assert_int_equal(conf_int(c, "limits", "pdf_pages"), 10000000);
	assert_int_equal(conf_int(c, "security", "sandbox"), 1);
	assert_int_equal(conf_int(c, "security", "argon2_memory_kib"), 8192);
	assert_int_equal(conf_int(c, "log", "level"), 3);
	assert_int_equal(conf_int(c, "log", "syslog"), 0);
	assert_int_equal(conf_is_set(c, "log", "syslog"), 1);
	assert_int_equal(conf_is_set(c, "paths", "inbox"), 0);
	conf_free(&c);
}

/* Plain HTTP on loopback, in every spelling, is fine. */
static void test_loopback_plain(void **state)
{
	static const char *const ok[] = {
		"[portal]\nresident_listen = [::1]:9100\nstaff_listen = 127.0.0.2:9101\n",
		"[portal]\nresident_listen = localhost:9100\nstaff_listen = [::ffff:127.0.0.1]:9101\n",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct conf *c = parse_ok(ok[i]);
		conf_free(&c);
	}
}

static void test_bool_spellings(void **state)
{
	static const struct { const char *v; int want; } cases[] = {
		{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 }, { "on", 1 },
		{ "off", 0 }, { "YES", 1 }, { "Off", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char text[64];
		struct conf *c;
		assert_true(str_fmt(text, sizeof(text), "[log]\nsyslog = %s\n", cases[i].v) > 0);
		c = parse_ok(text);
		assert_int_equal(conf_int(c, "log", "syslog"), cases[i].want);
		assert_string_equal(conf_str(c, "log", "syslog"), cases[i].v);
		conf_free(&c);
	}
}

static void test_durations_and_sizes(void **state)
{
	static const struct { const char *v; int64_t want; } durs[] = {
		{ "60s", 60 }, { "1m", 60 }, { "2h", 7200 }, { "7d", 7 * 86400 }, { "30d", 30 * 86400 },
		{ "0090m", 5400 },
	};
	static const struct { const char *v; int64_t want; } sizes[] = {
		{ "65536", 65536 }, { "64K", 65536 }, { "64k", 65536 }, { "10M", 10 << 20 },
		{ "2G", (int64_t)2 << 30 }, { "1g", 1 << 30 },
	};
	int64_t v;
	int b;

	for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
		char text[64];
		struct conf *c;
		assert_true(str_fmt(text, sizeof(text), "[portal]\nsession_ttl = %s\n", durs[i].v) > 0);
		c = parse_ok(text);
		assert_int_equal(conf_int(c, "portal", "session_ttl"), durs[i].want);
		conf_free(&c);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char text[64];
		struct conf *c;
		assert_true(str_fmt(text, sizeof(text), "[limits]\nmessage_size = %s\n", sizes[i].v) > 0);
		c = parse_ok(text);
		assert_int_equal(conf_int(c, "limits", "message_size"), sizes[i].want);
		conf_free(&c);
	}
	/* the public parsers at their edges */
	assert_int_equal(conf_duration_parse("0s", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_duration_parse("9223372036854775807s", &v), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(conf_duration_parse("106751991167301d", &v), -1); /* overflow */
	assert_int_equal(conf_duration_parse("9223372036854775808s", &v), -1);
	assert_int_equal(conf_duration_parse("", &v), -1);
	assert_int_equal(conf_duration_parse("s", &v), -1);
	assert_int_equal(conf_duration_parse("30", &v), -1);
	assert_int_equal(conf_duration_parse("1.5h", &v), -1);
	assert_int_equal(conf_duration_parse("-1s", &v), -1);
	assert_int_equal(conf_duration_parse("+1s", &v), -1);
	assert_int_equal(conf_duration_parse("1hh", &v), -1);
	assert_int_equal(conf_duration_parse("1w", &v), -1);
	assert_int_equal(conf_size_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_size_parse("8589934591G", &v), 0);
	assert_int_equal(conf_size_parse("8589934592G", &v), -1); /* overflow */
	assert_int_equal(conf_size_parse("10MB", &v), -1);
	assert_int_equal(conf_size_parse("10T", &v), -1);
	assert_int_equal(conf_size_parse(" 10", &v), -1);
	assert_int_equal(conf_size_parse("K", &v), -1);
	assert_int_equal(conf_bool_parse("on", &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(conf_bool_parse("1", &b), -1);
	assert_int_equal(conf_bool_parse("", &b), -1);
}

static void test_listen_split(void **state)
{
	char host[64], tiny[4];
	int port = -1;

	assert_int_equal(conf_listen_split("127.0.0.1:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(conf_listen_split("[::]:1", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::");
	assert_int_equal(port, 1);
	assert_int_equal(conf_listen_split("localhost:65535", host, sizeof(host), &port), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 65535);
	assert_int_equal(conf_listen_split("[fe80::1%eth0]:80", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("localhost", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("localhost:", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split(":8080", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("::1:8080", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("[::1]", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("[::1]8080", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("[nope]:80", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("[]:80", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("host:0", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("host:65536", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("host:+80", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("host:80x", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("ho st:80", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("a..b:80", host, sizeof(host), &port), -1);
	assert_int_equal(conf_listen_split("", host, sizeof(host), &port), -1);
	/* the host must fit */
	assert_int_equal(conf_listen_split("example.org:80", tiny, sizeof(tiny), &port), -1);
}

/* ---- every value error, with its line number --------------------------- */

static void test_type_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		/* int */
		{ "[portal]\nmax_connections = 0\n",
		  "t.conf:2: value of max_connections must be a whole number from 1 to 100000 (got \"0\")" },
		{ "[portal]\n\n\nmax_connections = 100001\n",
		  "t.conf:4: value of max_connections must be a whole number from 1 to 100000" },
		{ "[portal]\nmax_connections = many\n", "t.conf:2: value of max_connections must be a whole number" },
		{ "[portal]\nmax_connections = +5\n", "t.conf:2: value of max_connections must be a whole number" },
		{ "[portal]\nmax_connections = 5 5\n", "t.conf:2: value of max_connections must be a whole number" },
		{ "[security]\nargon2_memory_kib = 7167\n",
		  "t.conf:2: value of argon2_memory_kib must be a whole number from 7168 to 4194304" },
		{ "[security]\nargon2_iterations = 11\n",
		  "t.conf:2: value of argon2_iterations must be a whole number from 1 to 10" },
		/* bool */
		{ "[log]\nsyslog = maybe\n", "t.conf:2: value of syslog must be yes or no" },
		{ "[log]\nsyslog = 1\n", "t.conf:2: value of syslog must be yes or no" },
		/* duration */
		{ "[portal]\nsession_ttl = 8\n", "t.conf:2: value of session_ttl must be a duration" },
		{ "[portal]\nsession_ttl = 8x\n", "t.conf:2: value of session_ttl must be a duration" },
		{ "[portal]\nsession_ttl = 59s\n", "t.conf:2: value of session_ttl must be from 1m to 30d" },
		{ "[portal]\nsession_ttl = 31d\n", "t.conf:2: value of session_ttl must be from 1m to 30d" },
		/* size */
		{ "[limits]\nmessage_size = 10X\n", "t.conf:2: value of message_size must be a size" },
		{ "[limits]\nmessage_size = 1K\n", "t.conf:2: value of message_size must be from 64K to 2G" },
		{ "[limits]\nmessage_size = 3G\n", "t.conf:2: value of message_size must be from 64K to 2G" },
		/* listen */
		{ "[portal]\nresident_listen = 127.0.0.1\n",
		  "t.conf:2: value of resident_listen must be HOST:PORT" },
		{ "[portal]\nresident_listen = ::1:8080\n",
		  "t.conf:2: value of resident_listen must be HOST:PORT" },
		{ "[portal]\nstaff_listen = localhost:99999\n",
		  "t.conf:2: value of staff_listen must be HOST:PORT" },
		/* url */
		{ "[portal]\npublic_url = ftp://example.jp/\n",
		  "t.conf:2: value of public_url must be a URL starting with http:// or https://" },
		{ "[portal]\npublic_url = example.jp\n",
		  "t.conf:2: value of public_url must be a URL starting with http:// or https://" },
		{ "[portal]\npublic_url = http://\n",
		  "t.conf:2: value of public_url must have a host name" },
		{ "[portal]\npublic_url = http://ex ample.jp/\n",
		  "t.conf:2: value of public_url must not contain spaces" },
		{ "[portal]\npublic_url = https://区役所.jp/\n",
		  "t.conf:2: value of public_url must not contain spaces or non-ASCII" },
		{ "[mail]\nrelay = smtp://user:secret@relay.example.jp\n",
		  "t.conf:2: value of relay must not contain a user name or password" },
		{ "[mail]\nrelay = http://relay.example.jp\n",
		  "t.conf:2: value of relay must be a URL starting with smtp:// or smtps://" },
		{ "[mail]\nimap_url = imaps://host:0/INBOX\n",
		  "t.conf:2: value of imap_url must have a host name" },
		/* enum */
		{ "[signing]\nlevel = B-X\n", "t.conf:2: value of level must be one of B-B, B-T, B-LT or B-LTA" },
		{ "[log]\nlevel = Info\n", "t.conf:2: value of level must be one of debug, info, warn or error" },
		{ "[security]\nsandbox = no\n",
		  "t.conf:2: value of sandbox must be one of required, best-effort or off" },
		/* email */
		{ "[mail]\nfrom = nobody\n", "t.conf:2: value of from must be a mail address" },
		{ "[mail]\nfrom = a@\n", "t.conf:2: value of from must be a mail address" },
		{ "[mail]\nfrom = @b.jp\n", "t.conf:2: value of from must be a mail address" },
		{ "[mail]\nfrom = a..b@c.jp\n", "t.conf:2: value of from must be a mail address" },
		{ "[mail]\nfrom = Tayori <t@c.jp>\n", "t.conf:2: value of from must be a mail address" },
		{ "[mail]\nintake_address = 受付@c.jp\n", "t.conf:2: value of intake_address must be a mail address" },
		/* ident */
		{ "[tenant]\nid = Chuo\n", "t.conf:2: value of id must use only a-z, 0-9" },
		{ "[tenant]\nid = -chuo\n", "t.conf:2: value of id must use only a-z, 0-9" },
		{ "[tenant]\nid = 中央\n", "t.conf:2: value of id must use only a-z, 0-9" },
		{ "[tenant]\nid = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "t.conf:2: value of id must be at most 63 characters long" },
		/* envname */
		{ "[mail]\nimap_password_env = 1PASS\n",
		  "t.conf:2: value of imap_password_env must be the name of an environment variable" },
		{ "[signing]\np12_pass_env = my-pass\n",
		  "t.conf:2: value of p12_pass_env must be the name of an environment variable" },
		{ "[signing]\np12_pass_env = \"hunter2 hunter2\"\n",
		  "t.conf:2: value of p12_pass_env must be the name of an environment variable" },
		/* string */
		{ "[signing]\npkcs11_token = 123456789012345678901234567890123\n",
		  "t.conf:2: value of pkcs11_token must be at most 32 bytes long" },
		/* empty, where a value is required */
		{ "[tenant]\nname =\n", "t.conf:2: value of name must not be empty" },
		{ "[tenant]\nname = \"\"\n", "t.conf:2: value of name must not be empty" },
		{ "[paths]\ndata_dir = # nothing\n", "t.conf:2: value of data_dir must not be empty" },
		{ "[portal]\nsession_ttl =\n", "t.conf:2: value of session_ttl must not be empty" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		fails(cases[i].text, cases[i].want);

	/* what may be a pasted secret is not repeated in the message */
	{
		static const char text[] = "[signing]\np12_pass_env = \"hunter2 hunter2\"\n";
		struct conf *c = NULL;
		struct error e = { { 0 }, 0 };
		assert_int_equal(conf_parse(text, sizeof(text) - 1, "t.conf", BASE, &c, &e), -1);
		assert_null(strstr(e.msg, "hunter2"));
	}
}

/* ---- every syntax error, with its line number -------------------------- */

static void test_syntax_errors(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "[portl]\n", "t.conf:1: unknown section [portl] (did you mean [portal]?)" },
		{ "# x\n[nosuch]\n", "t.conf:2: unknown section [nosuch]" },
		{ "[portal]\nresdent_listen = 127.0.0.1:80\n",
		  "t.conf:2: unknown key \"resdent_listen\" in section [portal] (did you mean \"resident_listen\"?)" },
		{ "[portal]\nResident_Listen = 127.0.0.1:80\n",
		  "t.conf:2: unknown key \"Resident_Listen\" in section [portal] (did you mean \"resident_listen\"?)" },
		{ "[portal]\nrelay = smtp://x\n", "t.conf:2: unknown key \"relay\" in section [portal] (it belongs in [mail])" },
		{ "[portal]\nlevel = info\n",
		  "t.conf:2: unknown key \"level\" in section [portal] (it belongs in [signing] or [log])" },
		{ "[portal]\nfrobnicate = 1\n", "t.conf:2: unknown key \"frobnicate\" in section [portal]" },
		{ "name = x\n", "t.conf:1: key \"name\" is outside any section" },
		{ "nosuch.key = 1\n", "t.conf:1: unknown section [nosuch]" },
		{ "portal.nokey = 1\n", "t.conf:1: unknown key \"nokey\" in section [portal]" },
		{ "[portal]\nportal.max_connections = 5\n", "t.conf:2: invalid key name \"portal.max_connections\"" },
		{ "[tenant]\nname\n", "t.conf:2: expected \"key = value\" or \"[section]\"" },
		{ "[tenant]\n= x\n", "t.conf:2: missing key before =" },
		{ "[tenant]\nbad key = 1\n", "t.conf:2: invalid key name \"bad key\"" },
		{ "[tenant]\nnäme = 1\n", "t.conf:2: invalid key name \"näme\"" },
		{ "[portal\n", "t.conf:1: section header is missing the closing ]" },
		{ "[portal] x\n", "t.conf:1: unexpected text after the section header" },
		{ "[ ]\n", "t.conf:1: empty section name" },
		{ "[por tal]\n", "t.conf:1: invalid section name [por tal]" },
		{ "[tenant]\nname = \"open\n", "t.conf:2: quoted value is missing its closing \"" },
		{ "[tenant]\nname = \"a\\nb\"\n", "t.conf:2: unknown escape \\n in a quoted value" },
		{ "[tenant]\nname = \"a\\", "t.conf:2: unknown escape in a quoted value" },
		{ "[tenant]\nname = \"a\" b\n", "t.conf:2: unexpected text after the closing quote" },
		{ "[tenant]\nname = a\x01z\n", "t.conf:2: control character 0x01 in the line" },
		{ "[tenant]\nname = a\rb\n", "t.conf:2: control character 0x0D in the line" },
		{ "[tenant]\nname = a\x7f\n", "t.conf:2: control character 0x7F in the line" },
		{ "[tenant]\nname = \xff\n", "t.conf:2: invalid UTF-8 at byte 8 of the line" },
		{ "\n\n[tenant]\nname = \xc0\xaf\n", "t.conf:4: invalid UTF-8" },      /* overlong '/' */
		{ "[tenant]\nname = \xed\xa0\x80\n", "t.conf:2: invalid UTF-8" },      /* surrogate */
		{ "[tenant]\nname = \xf4\x90\x80\x80\n", "t.conf:2: invalid UTF-8" },  /* > U+10FFFF */
		{ "[tenant]\nname = \xe4\xb8\n", "t.conf:2: invalid UTF-8" },          /* truncated */
		/* duplicates: same section, a repeated header, and the flat form */
		{ "[tenant]\nid = a\nid = b\n",
		  "t.conf:3: duplicate key \"id\" in section [tenant] (first set on line 2)" },
		{ "[tenant]\nid = a\n[log]\nlevel = info\n[tenant]\nid = a\n",
		  "t.conf:6: duplicate key \"id\" in section [tenant] (first set on line 2)" },
		{ "tenant.id = a\n[tenant]\nid = b\n",
		  "t.conf:3: duplicate key \"id\" in section [tenant] (first set on line 1)" },
		/* settings that go together */
		{ "[portal]\ntls_cert = c.pem\n", "t.conf:2: tls_cert and tls_key must be set together" },
		{ "[portal]\n\ntls_key = k.pem\n", "t.conf:3: tls_cert and tls_key must be set together" },
		{ "[mail]\nimap_url = imap://localhost/INBOX\n", "t.conf:2: imap_url is set but imap_user is empty" },
		{ "[mail]\nimap_url = imap://localhost/INBOX\nimap_user = u\n",
		  "t.conf:2: imap_url is set but imap_password_env is empty" },
		{ "[signing]\npkcs11_module = /usr/lib/p11.so\n",
		  "t.conf:2: pkcs11_module is set but pkcs11_token is empty" },
		{ "[signing]\nlevel = B-T\n", "t.conf:2: level B-T needs a time-stamp authority: set tsa_url" },
		/* a time stamp is only as good as the trust it is checked against */
		{ "[signing]\nlevel = B-T\ntsa_url = https://tsa.example.jp/\n",
		  "t.conf:3: tsa_url is set but tsa_ca_file is empty" },
		{ "[portal]\nstaff_listen = 127.0.0.1:8080\n",
		  "t.conf:2: resident_listen and staff_listen must not share an address" },
		{ "[portal]\nresident_listen = [::]:8081\n",
		  "t.conf:2: resident_listen and staff_listen must not share an address" },
		/* plain HTTP off loopback: the portal would refuse to start */
		{ "[portal]\nresident_listen = 0.0.0.0:8090\n",
		  "t.conf:2: resident_listen = 0.0.0.0:8090: TLS is required on an address other than loopback" },
		{ "[portal]\n\nstaff_listen = 192.0.2.7:8091\n",
		  "t.conf:3: staff_listen = 192.0.2.7:8091: TLS is required on an address other than loopback" },
		{ "[portal]\nresident_listen = [::]:8090\n",
		  "t.conf:2: resident_listen = [::]:8090: TLS is required" },
		/* Argon2 below OWASP's floor, named by the later of the two lines */
		{ "[security]\nargon2_memory_kib = 8192\nargon2_iterations = 1\n",
		  "t.conf:3: argon2_memory_kib = 8192 with argon2_iterations = 1 is below OWASP's floor" },
		{ "[security]\nargon2_iterations = 2\n\nargon2_memory_kib = 19455\n",
		  "t.conf:4: argon2_memory_kib = 19455 with argon2_iterations = 2 is below OWASP's floor" },
		{ "[security]\nargon2_iterations = 1\nargon2_memory_kib = 32768\n",
		  "t.conf:3: argon2_memory_kib = 32768 with argon2_iterations = 1 is below OWASP's floor" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		fails(cases[i].text, cases[i].want);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[tenant]\nid = a\0b\n";
	fails_len(text, sizeof(text) - 1, "t.conf:2: NUL byte in the line");
	/* a NUL in a comment is refused as well: the file is not text */
	static const char text2[] = "# ok\n# \0\n";
	fails_len(text2, sizeof(text2) - 1, "t.conf:2: NUL byte");
}

static void test_long_lines(void **state)
{
	char *text = malloc(2 * CONF_MAX_LINE + 64);
	size_t n;
	struct conf *c;

	assert_non_null(text);
	/* exactly 4096 bytes of line (plus CRLF) is fine */
	memcpy(text, "# ok\n#", 6);
	memset(text + 6, 'x', CONF_MAX_LINE - 1);
	n = 6 + CONF_MAX_LINE - 1;
	memcpy(text + n, "\r\n", 3);
	n += 2;
	c = parse_len(text, n);
	conf_free(&c);
	/* one byte more is not, and the error names line 2 */
	memcpy(text, "# ok\n#", 6);
	memset(text + 6, 'x', CONF_MAX_LINE);
	n = 6 + CONF_MAX_LINE;
	fails_len(text, n, "t.conf:2: line is longer than 4096 bytes");
	free(text);
}

static void test_file_size_limit(void **state)
{
	size_t n = CONF_MAX_FILE + 1;
	char *text = malloc(n + 1);
	struct conf *c;

	assert_non_null(text);
	/* 1 MiB of comment lines is accepted ... */
	for (size_t i = 0; i < CONF_MAX_FILE; i += 64) {
		memset(text + i, '#', 63);
		text[i + 63] = '\n';
	}
	c = parse_len(text, CONF_MAX_FILE);
	conf_free(&c);
	/* ... one byte more is refused before anything is read */
	text[CONF_MAX_FILE] = '\n';
	fails_len(text, n, "t.conf: file is larger than 1 MiB");

	/* and conf_load refuses the file on disk */
	{
		char path[300];
		struct error e = { { 0 }, 0 };
		make_scratch();
		assert_true(str_fmt(path, sizeof(path), "%s/big.conf", scratch) > 0);
		write_text(path, text, n);
		assert_int_equal(conf_load(path, &c, &e), -1);
		assert_null(c);
		assert_non_null(strstr(e.msg, "big.conf: file is larger than 1 MiB"));
		rm_rf(scratch);
	}
	free(text);
}

/* ---- quoting, escapes, comments, line ends ------------------------------ */

static void test_quotes_and_comments(void **state)
{
	struct conf *c;

	c = parse_ok("# a comment\n"
		     "   # an indented comment\n"
		     "\t\n"
		     "\n"
		     "[tenant]   # after a header\n"
		     "name = \"中央区 # not a comment\"   # a comment\n"
		     "[mail]\n"
		     "imap_user = \"  lead and trail  \"\n"
		     "[signing]\n"
		     "pkcs11_token = \"say \\\"hi\\\" \\\\ ok\"\n"
		     "pkcs11_module = lib#1.so\n"
		     "[portal]\n"
		     "tls_cert = \"#cert.pem\"# right after the quote\n"
		     "tls_key = key.pem\t# after a tab\n"
		     "public_url = https://example.jp/#frag\n"
		     "[ log ]\n"
		     "  level   =   debug   \n");
	assert_string_equal(conf_str(c, "tenant", "name"), "中央区 # not a comment");
	assert_string_equal(conf_str(c, "mail", "imap_user"), "  lead and trail  ");
	assert_string_equal(conf_str(c, "signing", "pkcs11_token"), "say \"hi\" \\ ok");
	assert_string_equal(conf_str(c, "signing", "pkcs11_module"), "lib#1.so");
	assert_string_equal(conf_str(c, "portal", "tls_cert"), "#cert.pem");
	assert_string_equal(conf_str(c, "portal", "tls_key"), "key.pem");
	assert_string_equal(conf_str(c, "portal", "public_url"), "https://example.jp/#frag");
	assert_string_equal(conf_str(c, "log", "level"), "debug");
	assert_int_equal(conf_int(c, "log", "level"), 0);
	conf_free(&c);

	/* an unquoted value keeps inner quotes literally; an optional value may be "" */
	c = parse_ok("[tenant]\nname = 区 \"A\"\n[mail]\nimap_user = \"\"\nrelay =\n");
	assert_string_equal(conf_str(c, "tenant", "name"), "区 \"A\"");
	assert_string_equal(conf_str(c, "mail", "imap_user"), "");
	assert_int_equal(conf_is_set(c, "mail", "relay"), 1);
	assert_string_equal(conf_str(c, "mail", "relay"), "");
	conf_free(&c);

	/* the flat form without headers */
	c = parse_ok("portal.max_connections = 7\nlog.syslog = no\n");
	assert_int_equal(conf_int(c, "portal", "max_connections"), 7);
	assert_int_equal(conf_int(c, "log", "syslog"), 0);
	conf_free(&c);

	/* a UTF-8 byte order mark at the start is skipped */
	c = parse_ok("\xEF\xBB\xBF[tenant]\nid = bom\n");
	assert_string_equal(conf_str(c, "tenant", "id"), "bom");
	conf_free(&c);
	fails("[tenant]\n\xEF\xBB\xBFid = x\n", "t.conf:2: invalid key name");
}

static void test_crlf(void **state)
{
	struct conf *c = parse_ok("[tenant]\r\nname = \"港区\"\r\n\r\n# c\r\nid = minato\r\n[log]\r\nsyslog = no\r");
	assert_string_equal(conf_str(c, "tenant", "name"), "港区");
	assert_string_equal(conf_str(c, "tenant", "id"), "minato");
	assert_int_equal(conf_int(c, "log", "syslog"), 0);
	conf_free(&c);
	/* line numbers count CRLF lines */
	fails("[tenant]\r\n\r\nid = X\r\n", "t.conf:3: value of id must use only");
	/* without a final newline */
	c = parse_ok("[tenant]\nid = last");
	assert_string_equal(conf_str(c, "tenant", "id"), "last");
	conf_free(&c);
}

/* ---- paths ------------------------------------------------------------ */

static void test_relative_paths(void **state)
{
	struct conf *c;
	char small[8];
	char cwd[4096];

	c = parse_ok("[paths]\ndata_dir = var\ninbox = drop\nlog_dir = /var/log/tayori/\n"
		     "[portal]\ntls_cert = certs/./portal.pem\ntls_key = //etc//ssl/k.pem\n");
	assert_string_equal(path_of(c, "paths", "data_dir"), BASE "/var");
	assert_string_equal(path_of(c, "paths", "inbox"), BASE "/var/drop");
	assert_string_equal(path_of(c, "paths", "outbox_maildir"), BASE "/var/mail/outbox");
	assert_string_equal(path_of(c, "paths", "log_dir"), "/var/log/tayori");
	assert_string_equal(path_of(c, "signing", "p12"), BASE "/var/keys/signing.p12");
	assert_string_equal(path_of(c, "portal", "tls_cert"), BASE "/var/certs/portal.pem");
	assert_string_equal(path_of(c, "portal", "tls_key"), "/etc/ssl/k.pem");
	/* the raw value is still what was written */
	assert_string_equal(conf_str(c, "paths", "data_dir"), "var");
	/* too small a buffer: -1 and an empty string, never a truncated path */
	assert_int_equal(conf_path(c, "paths", "inbox", small, sizeof(small)), -1);
	assert_string_equal(small, "");
	conf_free(&c);

	c = parse_ok("[paths]\ndata_dir = /data/chuo/\n");
	assert_string_equal(path_of(c, "paths", "data_dir"), "/data/chuo");
	assert_string_equal(path_of(c, "paths", "inbox"), "/data/chuo/inbox");
	conf_free(&c);

	/* ".." is kept (a symbolic link makes lexical removal wrong) */
	c = parse_ok("[paths]\ndata_dir = ../shared\n");
	assert_string_equal(path_of(c, "paths", "data_dir"), BASE "/../shared");
	conf_free(&c);

	c = parse_ok("[paths]\ndata_dir = /\n");
	assert_string_equal(path_of(c, "paths", "data_dir"), "/");
	assert_string_equal(path_of(c, "paths", "inbox"), "/inbox");
	conf_free(&c);

	/* no base directory: the current one */
	{
		struct error e = { { 0 }, 0 };
		char want[4200];
		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(conf_parse("", 0, "x", NULL, &c, &e), 0);
		assert_string_equal(path_of(c, "paths", "data_dir"), cwd);
		assert_true(str_fmt(want, sizeof(want), "%s/inbox", strcmp(cwd, "/") ? cwd : "") > 0);
		assert_string_equal(path_of(c, "paths", "inbox"), want);
		conf_free(&c);
	}
}

static void test_load_relative(void **state)
{
	char cwd[4096], dir[300], path[300], want[400];
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };

	make_scratch();
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_true(str_fmt(dir, sizeof(dir), "%s/ward", scratch) > 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_true(str_fmt(path, sizeof(path), "%s/tayori.conf", dir) > 0);
	write_text(path, "[paths]\ndata_dir = data\n", 24);
	assert_true(str_fmt(path, sizeof(path), "%s/bad.conf", dir) > 0);
	write_text(path, "[tenant]\n\nresdent = 1\n", 22);

	assert_int_equal(chdir(scratch), 0);
	assert_int_equal(conf_load("ward/tayori.conf", &c, &e), 0);
	assert_true(str_fmt(want, sizeof(want), "%s/ward/tayori.conf", scratch) > 0);
	assert_string_equal(conf_file(c), want);
	assert_true(str_fmt(want, sizeof(want), "%s/ward/data", scratch) > 0);
	assert_string_equal(path_of(c, "paths", "data_dir"), want);
	assert_true(str_fmt(want, sizeof(want), "%s/ward/data/inbox", scratch) > 0);
	assert_string_equal(path_of(c, "paths", "inbox"), want);
	conf_free(&c);

	/* "./" in the given path does not show up in conf_file */
	assert_int_equal(conf_load("./ward//tayori.conf", &c, &e), 0);
	assert_true(str_fmt(want, sizeof(want), "%s/ward/tayori.conf", scratch) > 0);
	assert_string_equal(conf_file(c), want);
	conf_free(&c);

	/* errors name the file as it was given */
	assert_int_equal(conf_load("ward/bad.conf", &c, &e), -1);
	assert_null(c);
	assert_string_equal(e.msg, "ward/bad.conf:3: unknown key \"resdent\" in section [tenant]");
	assert_int_equal(e.temporary, 0);

	assert_int_equal(conf_load("ward/missing.conf", &c, &e), -1);
	assert_null(c);
	assert_non_null(strstr(e.msg, "ward/missing.conf"));

	assert_int_equal(conf_load("ward", &c, &e), -1); /* a directory */
	assert_null(c);

	assert_int_equal(chdir(cwd), 0);
	rm_rf(scratch);
}

/* ---- the sample writer ------------------------------------------------- */

static void test_write_default_round_trip(void **state)
{
	char path[300];
	struct conf *c = NULL;
	struct error e = { { 0 }, 0 };
	size_t n;
	const struct conf_setting *s = conf_schema(&n);
	static const char tricky[] = "区 \"A\" \\ #1  ";

	make_scratch();
	assert_true(str_fmt(path, sizeof(path), "%s/tayori.conf", scratch) > 0);
	assert_int_equal(conf_write_default(path, "千代田区", "chiyoda", &e), 0);
	assert_int_equal(conf_load(path, &c, &e), 0);
	assert_string_equal(conf_str(c, "tenant", "name"), "千代田区");
	assert_string_equal(conf_str(c, "tenant", "id"), "chiyoda");
	assert_int_equal(conf_is_set(c, "tenant", "name"), 1);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s[i].section, "tenant") == 0)
			continue;
		assert_int_equal(conf_is_set(c, s[i].section, s[i].key), 0);
		assert_string_equal(conf_str(c, s[i].section, s[i].key), s[i].def);
	}
	assert_string_equal(path_of(c, "paths", "data_dir"), scratch);
	conf_free(&c);
	{
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0644);
	}

	/* never replaces a file */
	assert_int_equal(conf_write_default(path, NULL, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_int_equal(conf_load(path, &c, &e), 0);
	assert_string_equal(conf_str(c, "tenant", "id"), "chiyoda");
	conf_free(&c);

	/* quotes, backslashes, '#' and trailing spaces in the name survive */
	assert_true(str_fmt(path, sizeof(path), "%s/tricky.conf", scratch) > 0);
	assert_int_equal(conf_write_default(path, tricky, NULL, &e), 0);
	assert_int_equal(conf_load(path, &c, &e), 0);
	assert_string_equal(conf_str(c, "tenant", "name"), tricky);
	assert_string_equal(conf_str(c, "tenant", "id"), "demo");
	conf_free(&c);

	/* bad tenant values are refused and nothing is written */
	assert_true(str_fmt(path, sizeof(path), "%s/bad.conf", scratch) > 0);
	assert_int_equal(conf_write_default(path, NULL, "Bad Id", &e), -1);
	assert_non_null(strstr(e.msg, "tenant id must use only"));
	assert_int_equal(e.temporary, 0);
	assert_int_equal(conf_write_default(path, "line\nbreak", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "control characters"));
	assert_int_equal(conf_write_default(path, "", NULL, &e), -1);
	assert_int_equal(conf_write_default(path, "\xff", NULL, &e), -1);
	assert_int_equal(access(path, F_OK), -1);

	/* an unwritable place is a temporary failure */
	assert_int_equal(conf_write_default("/nonexistent/dir/tayori.conf", NULL, NULL, &e), -1);
	assert_int_equal(e.temporary, 1);
	rm_rf(scratch);
}

static const char *top_dir(void)
{
	const char *top = getenv("TOP");
	return top != NULL ? top : ".";
}

/* conf/tayori.conf is exactly what conf_format_default writes for the demo. */
static void test_sample_in_sync(void **state)
{
	char path[4096];
	struct buf b;
	struct error e = { { 0 }, 0 };
	size_t len;
	char *text;
	struct conf *c = NULL;

	assert_true(str_fmt(path, sizeof(path), "%s/conf/tayori.conf", top_dir()) > 0);
	text = read_text(path, &len);
	if (text == NULL) {
		print_error("cannot read %s (run from the top of the tree or set TOP)\n", path);
		fail();
	}
	buf_init(&b, CONF_MAX_FILE);
	assert_int_equal(conf_format_default(&b, NULL, NULL, &e), 0);
	if (len != b.len || memcmp(text, b.data, len) != 0) {
		print_error("conf/tayori.conf differs from the schema; regenerate it with\n"
			    "  build/default/tests/test_conf --write-sample conf/tayori.conf\n");
		fail();
	}
	/* and it loads, with every setting documented */
	assert_int_equal(conf_load(path, &c, &e), 0);
	{
		size_t n;
		const struct conf_setting *s = conf_schema(&n);
		for (size_t i = 0; i < n; i++) {
			assert_non_null(strstr(text, s[i].help));
			assert_non_null(strstr(text, s[i].help_ja));
		}
	}
	conf_free(&c);
	buf_free(&b);
	free(text);
}

/* conf/tayori.conf.5 has a paragraph for every key, under its section. */
static void test_man_page_lists_every_key(void **state)
{
	char path[4096];
	size_t n, nsec;
	const struct conf_setting *s = conf_schema(&n);
	const struct conf_section *sec = conf_sections(&nsec);
	char *man;

	assert_true(str_fmt(path, sizeof(path), "%s/conf/tayori.conf.5", top_dir()) > 0);
	man = read_text(path, NULL);
	if (man == NULL) {
		print_error("cannot read %s\n", path);
		fail();
	}
	for (size_t j = 0; j < nsec; j++) {
		char head[64], *start, *end;
		assert_true(str_fmt(head, sizeof(head), "\n.SS [%s]\n", sec[j].name) > 0);
		start = strstr(man, head);
		if (start == NULL) {
			print_error("tayori.conf.5 lacks \".SS [%s]\"\n", sec[j].name);
			fail();
		}
		end = strstr(start + 1, "\n.SS ");
		if (end == NULL)
			end = strstr(start + 1, "\n.SH ");
		assert_non_null(end);
		for (size_t i = 0; i < n; i++) {
			char item[128], *hit;
			if (strcmp(s[i].section, sec[j].name) != 0)
				continue;
			assert_true(str_fmt(item, sizeof(item), "\n.B %s\n", s[i].key) > 0);
			hit = strstr(start, item);
			if (hit == NULL || hit > end) {
				print_error("tayori.conf.5 lacks \".B %s\" under [%s]\n", s[i].key,
					    sec[j].name);
				fail();
			}
		}
	}
	free(man);
}

/* ---- programming errors abort ------------------------------------------ */

static void expect_abort(int which)
{
	pid_t pid = fork();
	int status;
	assert_true(pid >= 0);
	if (pid == 0) {
		struct conf *c = NULL;
		struct error e;
		char out[64];
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		if (conf_parse("", 0, "x", "/", &c, &e) < 0)
			_exit(2);
		switch (which) {
		case 0: (void)conf_str(c, "portal", "no_such_key"); break;
		case 1: (void)conf_int(c, "tenant", "name"); break;
		case 2: (void)conf_path(c, "portal", "public_url", out, sizeof(out)); break;
		case 3: (void)conf_int(c, "nosection", "level"); break;
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_programming_errors_abort(void **state)
{
	for (int i = 0; i < 4; i++)
		expect_abort(i);
}

/* ---- the schema itself ------------------------------------------------- */

static void test_schema_is_sane(void **state)
{
	size_t n, nsec;
	const struct conf_setting *s = conf_schema(&n);
	const struct conf_section *sec = conf_sections(&nsec);

	for (size_t i = 0; i < n; i++) {
		int found = 0;
		assert_non_null(s[i].help);
		assert_non_null(s[i].help_ja);
		assert_true(strlen(s[i].help) < 100); /* one line in the sample */
		for (size_t j = 0; j < nsec; j++)
			found |= strcmp(sec[j].name, s[i].section) == 0;
		assert_true(found);
		for (size_t k = i + 1; k < n; k++)
			assert_false(strcmp(s[i].section, s[k].section) == 0 &&
				     strcmp(s[i].key, s[k].key) == 0);
		if (s[i].type == CONF_ENUM || s[i].type == CONF_URL)
			assert_non_null(s[i].choices);
	}
}

static int write_sample(const char *path)
{
	struct buf b;
	struct error e = { { 0 }, 0 };
	buf_init(&b, CONF_MAX_FILE);
	if (conf_format_default(&b, NULL, NULL, &e) < 0 ||
	    file_write_atomic(path, b.data, b.len, 0644, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		buf_free(&b);
		return 1;
	}
	buf_free(&b);
	return 0;
}

/*
 * The shared probe table, through this caller: each probe as a quoted
 * [mail] from value.  A good one is stored as written; a bad one refuses
 * the file, naming the line, and (unless the conf syntax itself refuses
 * it first: empty values, control characters) saying it must be a mail
 * address.  The default must pass the same check when written out.
 */
static void test_email_probes(void **state)
{
	int wrong = 0;
	(void)state;
	for (size_t i = 0; i < EMAIL_PROBES_N; i++) {
		const struct email_probe *p = &email_probes[i];
		static const char want[] = "t.conf:2: value of from must be a mail address such as "
					   "tayori@example.jp";
		char text[1024];
		size_t o = 0;
		int syntax = p->addr[0] == '\0';
		o += (size_t)snprintf(text, sizeof(text), "[mail]\nfrom = \"");
		for (const char *q = p->addr; *q != '\0'; q++) {
			if (*q == '"' || *q == '\\')
				text[o++] = '\\';
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				syntax = 1;
			text[o++] = *q;
		}
		snprintf(text + o, sizeof(text) - o, "\"\n");

		struct conf *c = NULL;
		struct error e = { { 0 }, 0 };
		int rc = conf_parse(text, strlen(text), "t.conf", BASE, &c, &e);
		int right;
		if (p->ok)
			right = rc == 0 && strcmp(conf_str(c, "mail", "from"), p->addr) == 0;
		else if (syntax)
			right = rc == -1 && strncmp(e.msg, "t.conf:2", 8) == 0;
		else
			right = rc == -1 && strncmp(e.msg, want, strlen(want)) == 0;
		if (!right) {
			print_error("%s \"%s\" (%s): %s\n", p->ok ? "refused" : "wrong for", p->addr,
				    p->why, rc == 0 ? "stored" : e.msg);
			wrong++;
		}
		conf_free(&c);
	}
	assert_int_equal(wrong, 0);

	struct conf *d = parse_ok("");
	char text[512];
	snprintf(text, sizeof(text), "[mail]\nfrom = %s\n", conf_str(d, "mail", "from"));
	conf_free(&d);
	d = parse_ok(text);
	conf_free(&d);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_types_valid),
		cmocka_unit_test(test_email_probes),
		cmocka_unit_test(test_bool_spellings),
		cmocka_unit_test(test_loopback_plain),
		cmocka_unit_test(test_durations_and_sizes),
		cmocka_unit_test(test_listen_split),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_quotes_and_comments),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_load_relative),
		cmocka_unit_test(test_write_default_round_trip),
		cmocka_unit_test(test_sample_in_sync),
		cmocka_unit_test(test_man_page_lists_every_key),
		cmocka_unit_test(test_programming_errors_abort),
		cmocka_unit_test(test_schema_is_sane),
	};
	if (argc == 3 && strcmp(argv[1], "--write-sample") == 0)
		return write_sample(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
