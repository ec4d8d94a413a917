/*
 * conf.c — tayori.conf: the schema of every setting, a strict line parser,
 * typed accessors and the documented sample writer (see conf.h and
 * tayori.conf(5)).
 * Runs in every process: the supervisor and the CLI load the file; each
 * role reads its settings.
 * Standards: UTF-8 (RFC 3629) text; URLs after RFC 3986 (scheme, authority);
 * mail addresses after the RFC 5321 Mailbox syntax (ASCII only).
 *
 * The parser is strict on purpose: a typo in a key, a duplicate or a value
 * of the wrong shape stops the start with "FILE:LINE: what is wrong", since a
 * silently ignored setting (a TLS key, a listen address) is worse than a
 * refusal to start.
 */
#include "conf/conf.h"
#include "lib/email.h"
#include "lib/passwd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MINUTE 60
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define KIB ((int64_t)1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

#define CONF_PATH_MAX 4096 /* PATH_MAX on Linux; longer resolved paths are refused */

/*
 * The schema.  One row per setting; the order here is the order of the
 * sample file and of the man page.  Sections appear in conf_section_table
 * order.  To add a setting: add a row, document it in conf/tayori.conf.5,
 * and regenerate conf/tayori.conf (see conf.h).
 */
static const struct conf_section conf_section_table[] = {
	{ "tenant", "The tenant: one ward office (municipality).", "テナント（区・自治体）" },
	{ "paths", "Where the tenant's files live.", "ファイルの置き場所" },
	{ "portal", "The resident portal and the staff dashboard (HTTP).",
	  "区民ポータルと職員ダッシュボード" },
	{ "mail", "Outgoing mail to residents and the mail intake of batches.",
	  "メールの送信とバッチの受付" },
	{ "intake", "What the gateway keeps of the inputs staff send.", "受付した入力の保管" },
	{ "signing", "The ward's signing credential and the PAdES level of signatures.",
	  "電子署名の鍵と署名レベル" },
	{ "limits", "Caps on untrusted input.", "受け付ける入力の上限" },
	{ "security", "Process isolation and staff password hashing.",
	  "プロセス隔離と職員パスワードのハッシュ" },
	{ "log", "Logging.", "ログ" },
};

static const struct conf_setting conf_schema_table[] = {
	/* [tenant] */
	{ .section = "tenant", .key = "name", .type = CONF_STRING, .def = "デモ区", .max = 200,
	  .help = "Name of the ward office as residents see it in mail and on the portal.",
	  .help_ja = "区の名称（メールとポータルに表示）" },
	{ .section = "tenant", .key = "id", .type = CONF_IDENT, .def = "demo", .max = 63,
	  .help = "Short identifier of the tenant, used in file names, logs and reports.",
	  .help_ja = "テナントID（ファイル名・ログ・報告に使用）" },

	/* [paths] */
	{ .section = "paths", .key = "data_dir", .type = CONF_PATH, .def = ".",
	  .flags = CONF_CONF_REL,
	  .help = "Data directory of the tenant (LMDB environment, keys, mail, logs).",
	  .help_ja = "データディレクトリ（LMDB・鍵・メール・ログ）" },
	{ .section = "paths", .key = "inbox", .type = CONF_PATH, .def = "inbox",
	  .flags = CONF_DATA_REL,
	  .help = "Drop folder watched for batches: files or folders put here are submitted.",
	  .help_ja = "投入フォルダ（置かれたファイル・フォルダをバッチとして受付）" },
	{ .section = "paths", .key = "outbox_maildir", .type = CONF_PATH, .def = "mail/outbox",
	  .flags = CONF_DATA_REL,
	  .help = "Maildir that receives outgoing mail when [mail] relay is empty.",
	  .help_ja = "リレー未設定時に送信メールを保存する Maildir" },
	{ .section = "paths", .key = "log_dir", .type = CONF_PATH, .def = "log",
	  .flags = CONF_DATA_REL,
	  .help = "Directory for log files and deletion reports.",
	  .help_ja = "ログと削除報告の保存先" },

	/* [portal] */
	{ .section = "portal", .key = "resident_listen", .type = CONF_LISTEN, .def = "127.0.0.1:8080",
	  .help = "Address the resident portal listens on.",
	  .help_ja = "区民ポータルの待受アドレス" },
	{ .section = "portal", .key = "staff_listen", .type = CONF_LISTEN, .def = "127.0.0.1:8081",
	  .help = "Address the staff dashboard listens on; keep it off the internet.",
	  .help_ja = "職員ダッシュボードの待受アドレス（インターネットに公開しない）" },
	{ .section = "portal", .key = "public_url", .type = CONF_URL, .def = "http://127.0.0.1:8080",
	  .choices = "http,https",
	  .help = "Base URL of the resident portal as residents reach it (used in mailed links).",
	  .help_ja = "区民ポータルの公開 URL（メール内のリンクに使用）" },
	{ .section = "portal", .key = "staff_url", .type = CONF_URL, .def = "http://127.0.0.1:8081",
	  .choices = "http,https",
	  .help = "Base URL of the staff dashboard as staff reach it.",
	  .help_ja = "職員ダッシュボードの URL" },
	{ .section = "portal", .key = "tls_cert", .type = CONF_PATH, .def = "",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "PEM certificate chain for HTTPS; empty: plain HTTP behind a TLS proxy.",
	  .help_ja = "HTTPS 用証明書チェーン（PEM）。空なら HTTP（TLS 終端プロキシの背後で使用）" },
	{ .section = "portal", .key = "tls_key", .type = CONF_PATH, .def = "",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "PEM private key of tls_cert; set both or neither.",
	  .help_ja = "tls_cert の秘密鍵（PEM）。両方設定するか両方空に" },
	{ .section = "portal", .key = "session_ttl", .type = CONF_DURATION, .def = "8h",
	  .min = MINUTE, .max = 30 * DAY,
	  .help = "Lifetime of a staff login session.",
	  .help_ja = "職員ログインセッションの有効期間" },
	{ .section = "portal", .key = "max_connections", .type = CONF_INT, .def = "512",
	  .min = 1, .max = 100000,
	  .help = "Most simultaneous HTTP connections per listener.",
	  .help_ja = "待受ごとの最大同時接続数" },

	/* [mail] */
	{ .section = "mail", .key = "relay", .type = CONF_URL, .def = "", .choices = "smtp,smtps",
	  .flags = CONF_OPTIONAL,
	  .help = "SMTP relay, smtp://HOST[:PORT] or smtps://HOST[:PORT]; empty: write into outbox_maildir.",
	  .help_ja = "SMTP リレー。空なら outbox_maildir に保存" },
	{ .section = "mail", .key = "from", .type = CONF_EMAIL,
	  .def = "tayori@localhost.localdomain",
	  .help = "Sender address of mail to residents and staff.",
	  .help_ja = "送信元メールアドレス" },
	{ .section = "mail", .key = "intake_address", .type = CONF_EMAIL, .def = "",
	  .flags = CONF_OPTIONAL,
	  .help = "Address staff mail batches to; empty: no mail intake.",
	  .help_ja = "職員がバッチを送る受付アドレス。空ならメール受付なし" },
	{ .section = "mail", .key = "imap_url", .type = CONF_URL, .def = "", .choices = "imap,imaps",
	  .flags = CONF_OPTIONAL,
	  .help = "IMAP mailbox read for batches, imaps://HOST[:PORT]/MAILBOX; empty: none.",
	  .help_ja = "バッチ受付用 IMAP メールボックス。空なら使用しない" },
	{ .section = "mail", .key = "imap_user", .type = CONF_STRING, .def = "", .max = 255,
	  .flags = CONF_OPTIONAL,
	  .help = "User name for imap_url.",
	  .help_ja = "IMAP のユーザー名" },
	{ .section = "mail", .key = "imap_password_env", .type = CONF_ENVNAME, .def = "",
	  .flags = CONF_OPTIONAL,
	  .help = "Environment variable holding the IMAP password (never the password itself).",
	  .help_ja = "IMAP パスワードを入れた環境変数の名前（パスワード自体は書かない）" },
	{ .section = "mail", .key = "imap_mailbox", .type = CONF_STRING, .def = "INBOX", .max = 255,
	  .help = "IMAP folder watched for batches.",
	  .help_ja = "一括送信を受け付ける IMAP フォルダ" },
	{ .section = "mail", .key = "imap_processed", .type = CONF_STRING, .def = "Processed", .max = 255,
	  .help = "IMAP folder a message moves to once its batch is stored.",
	  .help_ja = "処理済みメールの移動先フォルダ" },
	{ .section = "mail", .key = "imap_rejected", .type = CONF_STRING, .def = "Rejected", .max = 255,
	  .help = "IMAP folder for refused messages and for messages from unknown senders.",
	  .help_ja = "受付不可・差出人不明メールの移動先フォルダ" },
	{ .section = "mail", .key = "imap_processed_delete", .type = CONF_BOOL, .def = "no",
	  .help = "yes: expunge each message once taken instead of moving it to imap_processed / imap_rejected.",
	  .help_ja = "yes なら受付後のメールを移動せずサーバから削除（expunge）" },
	{ .section = "mail", .key = "imap_poll", .type = CONF_DURATION, .def = "60s", .min = 5, .max = 3600,
	  .help = "How often the IMAP mailbox is polled when the server offers no IDLE.",
	  .help_ja = "IDLE が使えないときの IMAP 確認間隔" },
	{ .section = "mail", .key = "maildir", .type = CONF_PATH, .def = "", .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "A Maildir watched for batches; a message is deleted once its batch is stored or refused.",
	  .help_ja = "一括送信を受け付ける Maildir（任意）" },
	{ .section = "mail", .key = "trusted_authserv", .type = CONF_STRING, .def = "", .max = 255,
	  .flags = CONF_OPTIONAL,
	  .help = "authserv-id of the MTA whose Authentication-Results are trusted (DKIM/SPF/DMARC fail: refused).",
	  .help_ja = "信頼する受信サーバの authserv-id（DKIM/SPF/DMARC 失敗を拒否）" },
	{ .section = "mail", .key = "retry_max", .type = CONF_INT, .def = "10", .min = 0, .max = 1000,
	  .help = "Delivery attempts of one message before it is marked failed.",
	  .help_ja = "送信の再試行回数の上限" },

	/* [intake] */
	{ .section = "intake", .key = "keep_rejected", .type = CONF_INT, .def = "7", .min = 0, .max = 365,
	  .help = "Days a refused input is kept, sealed in the store, for staff to look at; 0: none.",
	  .help_ja = "受付不可の入力を暗号化して保管する日数。0 なら保管しない" },

	/* [signing] */
	{ .section = "signing", .key = "p12", .type = CONF_PATH, .def = "keys/signing.p12",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "PKCS#12 file holding the signing key and certificate.",
	  .help_ja = "署名鍵と証明書の PKCS#12 ファイル" },
	{ .section = "signing", .key = "p12_pass_env", .type = CONF_ENVNAME, .def = "",
	  .flags = CONF_OPTIONAL,
	  .help = "Environment variable holding the PKCS#12 password; empty: no password.",
	  .help_ja = "PKCS#12 のパスワードを入れた環境変数の名前" },
	{ .section = "signing", .key = "pkcs11_module", .type = CONF_PATH, .def = "",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "PKCS#11 module of an IC card or HSM; when set, its key signs and p12 is never used.",
	  .help_ja = "IC カード・HSM の PKCS#11 モジュール。設定すると p12 の代わりに使用" },
	{ .section = "signing", .key = "pkcs11_token", .type = CONF_STRING, .def = "", .max = 32,
	  .flags = CONF_OPTIONAL,
	  .help = "Label of the PKCS#11 token holding the signing key.",
	  .help_ja = "署名鍵のある PKCS#11 トークンのラベル" },
	{ .section = "signing", .key = "pkcs11_key", .type = CONF_STRING, .def = "", .max = 64,
	  .flags = CONF_OPTIONAL,
	  .help = "Label of the signing key on the token; empty: the token's one key with a certificate.",
	  .help_ja = "トークン上の署名鍵のラベル。空なら証明書のある唯一の鍵" },
	{ .section = "signing", .key = "pkcs11_pin_env", .type = CONF_ENVNAME, .def = "",
	  .flags = CONF_OPTIONAL,
	  .help = "Environment variable holding the token PIN.",
	  .help_ja = "トークン PIN を入れた環境変数の名前" },
	{ .section = "signing", .key = "level", .type = CONF_ENUM, .def = "B-B",
	  .choices = "B-B,B-T,B-LT,B-LTA",
	  .help = "PAdES baseline level (ETSI EN 319 142-1); B-T and above need tsa_url.",
	  .help_ja = "PAdES 署名レベル。B-T 以上は tsa_url が必要" },
	{ .section = "signing", .key = "tsa_url", .type = CONF_URL, .def = "", .choices = "http,https",
	  .flags = CONF_OPTIONAL,
	  .help = "RFC 3161 time-stamp authority (http:// or https://); empty: no time stamps.",
	  .help_ja = "タイムスタンプ局（RFC 3161）の URL" },
	{ .section = "signing", .key = "tsa_ca_file", .type = CONF_PATH, .def = "",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "PEM CAs every time stamp's TSA must chain to; required with tsa_url.",
	  .help_ja = "タイムスタンプ局の信頼点（PEM の CA 証明書）。tsa_url を使うときは必須" },

	/* [limits] */
	{ .section = "limits", .key = "message_size", .type = CONF_SIZE, .def = "50M",
	  .min = 64 * KIB, .max = 2 * GIB,
	  .help = "Largest intake mail or dropped batch accepted.",
	  .help_ja = "受け付けるメール・バッチの最大サイズ" },
	{ .section = "limits", .key = "attachments", .type = CONF_INT, .def = "2000",
	  .min = 1, .max = 1000000,
	  .help = "Most attachments (or files) in one batch.",
	  .help_ja = "1 バッチの添付ファイル数の上限" },
	{ .section = "limits", .key = "mime_depth", .type = CONF_INT, .def = "8", .min = 1, .max = 64,
	  .help = "Deepest MIME nesting accepted in an intake mail.",
	  .help_ja = "MIME の入れ子の深さの上限" },
	{ .section = "limits", .key = "mime_parts", .type = CONF_INT, .def = "10000",
	  .min = 1, .max = 1000000,
	  .help = "Most MIME parts of any kind (containers, empty parts, attached messages) in an intake mail.",
	  .help_ja = "メール 1 通の MIME パート数の上限（入れ物・空のパート・添付メールを含む）" },
	{ .section = "limits", .key = "pdf_pages", .type = CONF_INT, .def = "100000",
	  .min = 1, .max = 10000000,
	  .help = "Most pages in one submitted PDF.",
	  .help_ja = "PDF 1 件のページ数の上限" },
	{ .section = "limits", .key = "pdf_stream_max", .type = CONF_SIZE, .def = "16M",
	  .min = 1 * MIB, .max = 256 * MIB,
	  .help = "Largest decoded size of one stream of a submitted PDF (page content, form, font, CMap).",
	  .help_ja = "PDF のストリーム 1 つを展開したときの最大サイズ" },
	{ .section = "limits", .key = "pdf_page_decoded", .type = CONF_SIZE, .def = "32M",
	  .min = 1 * MIB, .max = 1 * GIB,
	  .help = "Largest decoded size of all the streams one page of a submitted PDF needs.",
	  .help_ja = "PDF の 1 ページが使うストリームを展開した合計の最大サイズ" },
	{ .section = "limits", .key = "pdf_decoded", .type = CONF_SIZE, .def = "2G",
	  .min = 1 * MIB, .max = 64 * GIB,
	  .help = "Largest decoded size of all the streams of one submitted PDF together.",
	  .help_ja = "PDF 1 件のストリームを展開した総量の上限" },
	{ .section = "limits", .key = "csv_rows", .type = CONF_INT, .def = "100000",
	  .min = 1, .max = 10000000,
	  .help = "Most data rows in one recipients CSV.",
	  .help_ja = "宛先 CSV の行数の上限" },

	/* [security] */
	{ .section = "security", .key = "sandbox", .type = CONF_ENUM, .def = "required",
	  .choices = "required,best-effort,off",
	  .help = "Process sandbox: required refuses to start without it; off is for testing only.",
	  .help_ja = "サンドボックス（required: 必須、best-effort: 可能な範囲、off: 試験用）" },
	{ .section = "security", .key = "user", .type = CONF_STRING, .def = "", .max = 32,
	  .flags = CONF_OPTIONAL,
	  .help = "Unprivileged user of the roles when started as root; empty: data folder owner, tayori, nobody.",
	  .help_ja = "root で起動したときに各プロセスが動くユーザー。空ならデータフォルダの所有者、なければ tayori、なければ nobody" },
	{ .section = "security", .key = "argon2_memory_kib", .type = CONF_INT, .def = "65536",
	  .min = 7168, .max = 4194304,
	  .help = "Argon2id memory cost of staff password hashes, in KiB.",
	  .help_ja = "職員パスワード Argon2id のメモリコスト（KiB）" },
	{ .section = "security", .key = "argon2_iterations", .type = CONF_INT, .def = "3",
	  .min = 1, .max = 10,
	  .help = "Argon2id time cost (passes over memory).",
	  .help_ja = "Argon2id の反復回数" },

	/* [log] */
	{ .section = "log", .key = "level", .type = CONF_ENUM, .def = "info",
	  .choices = "debug,info,warn,error",
	  .help = "Lowest level of events logged.",
	  .help_ja = "記録するログの最低レベル" },
	{ .section = "log", .key = "syslog", .type = CONF_BOOL, .def = "yes",
	  .help = "Also send log lines to syslog (facility daemon).",
	  .help_ja = "syslog にも出力する" },
};

#define NSET ARRAY_SIZE(conf_schema_table)
#define NSEC ARRAY_SIZE(conf_section_table)

struct conf {
	char *file;          /* absolute path (conf_load) or the name (conf_parse) */
	char *str[NSET];     /* value text: as written or the default */
	char *path[NSET];    /* CONF_PATH: resolved absolute path ("" when unset) */
	int64_t num[NSET];   /* numeric value of int, duration, size, bool, enum */
	int line[NSET];      /* line that set it; 0: default */
};

const struct conf_setting *conf_schema(size_t *n)
{
	*n = NSET;
	return conf_schema_table;
}

const struct conf_section *conf_sections(size_t *n)
{
	*n = NSEC;
	return conf_section_table;
}

/* ---- small helpers ---------------------------------------------------- */

static int is_ws(int ch)
{
	return ch == ' ' || ch == '\t';
}

static int is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alnum(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int find_section(const char *name)
{
	for (size_t i = 0; i < NSEC; i++)
		if (strcmp(conf_section_table[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int find_setting(const char *section, const char *key)
{
	for (size_t i = 0; i < NSET; i++)
		if (strcmp(conf_schema_table[i].section, section) == 0 &&
		    strcmp(conf_schema_table[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* A caller asked for a key the schema lacks: a bug, not bad input. */
static int setting_or_abort(const char *section, const char *key, const char *fn)
{
	int i = find_setting(section, key);
	if (i < 0) {
		fprintf(stderr, "tayori: %s: no setting [%s] %s in the schema\n", fn, section, key);
		abort();
	}
	return i;
}

/*
 * Index of the first byte that is not part of valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or n.
 */
static size_t utf8_bad(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4;
		else
			return i;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += len;
	}
	return n;
}

/* Copy s for an error message: at most ~60 bytes, cut on a UTF-8 boundary. */
static const char *clip(const char *s, char *out, size_t outsize)
{
	size_t len = strlen(s), keep = outsize - 4;
	if (len < outsize) {
		memcpy(out, s, len + 1);
		return out;
	}
	while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
		keep--;
	memcpy(out, s, keep);
	memcpy(out + keep, "...", 4);
	return out;
}

/* Is v one of the comma-separated choices?  Its index, or -1. */
static int choice_index(const char *choices, const char *v, size_t vlen)
{
	const char *p = choices;
	int idx = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == vlen && memcmp(p, v, n) == 0)
			return idx;
		p += n;
		if (*p == ',')
			p++;
		idx++;
	}
	return -1;
}

/* "a, b or c" from "a,b,c", with each item wrapped in pre/post. */
static void choices_text(const char *choices, const char *pre, const char *post, char *out,
			 size_t outsize)
{
	size_t used = 0, count = 1;
	const char *p = choices;
	for (const char *q = choices; *q; q++)
		count += *q == ',';
	out[0] = '\0';
	for (size_t i = 0; *p; i++) {
		size_t n = strcspn(p, ",");
		const char *sep = i == 0 ? "" : (i + 1 == count ? " or " : ", ");
		int w = snprintf(out + used, outsize - used, "%s%s%.*s%s", sep, pre, (int)n, p, post);
		if (w < 0 || (size_t)w >= outsize - used)
			return;
		used += (size_t)w;
		p += n;
		if (*p == ',')
			p++;
	}
}

static void fmt_duration(int64_t s, char *out, size_t outsize)
{
	if (s != 0 && s % DAY == 0)
		snprintf(out, outsize, "%lldd", (long long)(s / DAY));
	else if (s != 0 && s % HOUR == 0)
		snprintf(out, outsize, "%lldh", (long long)(s / HOUR));
	else if (s != 0 && s % MINUTE == 0)
		snprintf(out, outsize, "%lldm", (long long)(s / MINUTE));
	else
		snprintf(out, outsize, "%llds", (long long)s);
}

static void fmt_size(int64_t b, char *out, size_t outsize)
{
	if (b != 0 && b % GIB == 0)
		snprintf(out, outsize, "%lldG", (long long)(b / GIB));
	else if (b != 0 && b % MIB == 0)
		snprintf(out, outsize, "%lldM", (long long)(b / MIB));
	else if (b != 0 && b % KIB == 0)
		snprintf(out, outsize, "%lldK", (long long)(b / KIB));
	else
		snprintf(out, outsize, "%lld", (long long)b);
}

/* Levenshtein distance, case-insensitive, for "did you mean"; big when long. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65], prev[65];
	if (la > 64 || lb > 64)
		return 1000;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int ca = a[i - 1], cb = b[j - 1];
			if (ca >= 'A' && ca <= 'Z')
				ca += 'a' - 'A';
			if (cb >= 'A' && cb <= 'Z')
				cb += 'a' - 'A';
			size_t best = prev[j - 1] + (ca != cb);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
		}
		memcpy(prev, row, (lb + 1) * sizeof(row[0]));
	}
	return prev[lb];
}

static int close_enough(const char *typed, const char *known)
{
	size_t d = edit_distance(typed, known);
	return d <= 2 && d * 3 <= strlen(known);
}

/* ---- value parsers ---------------------------------------------------- */

/* Digits then at most one unit character. */
static int number_unit(const char *s, int64_t *n, char *unit)
{
	char digits[20];
	size_t i = 0;
	while (is_digit(s[i]))
		i++;
	if (i == 0 || i >= sizeof(digits))
		return -1;
	memcpy(digits, s, i);
	digits[i] = '\0';
	if (parse_int64(digits, 0, INT64_MAX, n) < 0)
		return -1;
	*unit = s[i];
	if (s[i] != '\0' && s[i + 1] != '\0')
		return -1;
	return 0;
}

int conf_duration_parse(const char *s, int64_t *seconds)
{
	int64_t n, mult;
	char unit;
	if (number_unit(s, &n, &unit) < 0)
		return -1;
	switch (unit) {
	case 's': mult = 1; break;
	case 'm': mult = MINUTE; break;
	case 'h': mult = HOUR; break;
	case 'd': mult = DAY; break;
	default: return -1; /* a bare number is ambiguous: seconds or minutes? */
	}
	if (n > INT64_MAX / mult)
		return -1;
	*seconds = n * mult;
	return 0;
}

int conf_size_parse(const char *s, int64_t *bytes)
{
	int64_t n, mult;
	char unit;
	if (number_unit(s, &n, &unit) < 0)
		return -1;
	switch (unit) {
	case '\0': mult = 1; break;
	case 'K': case 'k': mult = KIB; break;
	case 'M': case 'm': mult = MIB; break;
	case 'G': case 'g': mult = GIB; break;
	default: return -1;
	}
	if (n > INT64_MAX / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

int conf_bool_parse(const char *s, int *out)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* A DNS name or IPv4 literal: letters, digits, '-' and '.', no empty label. */
static int hostname_ok(const char *h, size_t n)
{
	size_t label = 0;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum(ch) && ch != '-' && ch != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1; /* a trailing dot ("example.org.") is fine */
}

/*
 * HOST[:PORT] or [IPv6][:PORT] in s[0..n).  need_port: the port must be
 * there.  *port is 0 when absent.
 */
static int host_port(const char *s, size_t n, char *host, size_t hostsize, int *port, int need_port)
{
	char tmp[256];
	const char *rest;
	size_t hlen;
	int64_t pv = 0;

	if (n >= sizeof(tmp))
		return -1;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		unsigned char addr[16];
		if (close == NULL)
			return -1;
		hlen = (size_t)(close - s - 1);
		memcpy(tmp, s + 1, hlen);
		tmp[hlen] = '\0';
		if (hlen == 0 || inet_pton(AF_INET6, tmp, addr) != 1)
			return -1;
		rest = close + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		hlen = colon ? (size_t)(colon - s) : n;
		if (!hostname_ok(s, hlen))
			return -1;
		memcpy(tmp, s, hlen);
		tmp[hlen] = '\0';
		rest = s + hlen;
	}
	if (rest == s + n) {
		if (need_port)
			return -1;
	} else {
		char digits[8];
		size_t dl = (size_t)(s + n - rest) - 1;
		if (*rest != ':' || dl == 0 || dl > 5)
			return -1;
		memcpy(digits, rest + 1, dl);
		digits[dl] = '\0';
		for (size_t i = 0; i < dl; i++)
			if (!is_digit(digits[i]))
				return -1;
		if (parse_int64(digits, 1, 65535, &pv) < 0)
			return -1;
	}
	if (host != NULL && str_copy(host, tmp, hostsize) >= hostsize)
		return -1;
	if (port != NULL)
		*port = (int)pv;
	return 0;
}

int conf_listen_split(const char *v, char *host, size_t hostsize, int *port)
{
	return host_port(v, strlen(v), host, hostsize, port, 1);
}

/*
 * Check v against the setting's type.  On success fills *num (numeric
 * types); on failure writes "must ..." into why.
 */
static int check_value(const struct conf_setting *s, const char *v, int64_t *num, char *why,
		       size_t whysize)
{
	char a[64], b[64], list[160];
	size_t len = strlen(v);

	*num = 0;
	if (len == 0) {
		if (s->flags & CONF_OPTIONAL)
			return 0;
		snprintf(why, whysize, "must not be empty");
		return -1;
	}
	switch (s->type) {
	case CONF_STRING:
		if (s->max > 0 && (int64_t)len > s->max) {
			snprintf(why, whysize, "must be at most %lld bytes long", (long long)s->max);
			return -1;
		}
		return 0;
	case CONF_INT:
		if (parse_int64(v, s->min, s->max, num) < 0) {
			snprintf(why, whysize, "must be a whole number from %lld to %lld",
				 (long long)s->min, (long long)s->max);
			return -1;
		}
		return 0;
	case CONF_BOOL: {
		int bv;
		if (conf_bool_parse(v, &bv) < 0) {
			snprintf(why, whysize, "must be yes or no (or true/false, on/off)");
			return -1;
		}
		*num = bv;
		return 0;
	}
	case CONF_DURATION:
		fmt_duration(s->min, a, sizeof(a));
		fmt_duration(s->max, b, sizeof(b));
		if (conf_duration_parse(v, num) < 0) {
			snprintf(why, whysize,
				 "must be a duration: a number and s, m, h or d, such as 30s, 5m, 2h or 7d");
			return -1;
		}
		if (*num < s->min || *num > s->max) {
			snprintf(why, whysize, "must be from %s to %s", a, b);
			return -1;
		}
		return 0;
	case CONF_SIZE:
		fmt_size(s->min, a, sizeof(a));
		fmt_size(s->max, b, sizeof(b));
		if (conf_size_parse(v, num) < 0) {
			snprintf(why, whysize,
				 "must be a size: bytes, or a number and K, M or G, such as 512K or 10M");
			return -1;
		}
		if (*num < s->min || *num > s->max) {
			snprintf(why, whysize, "must be from %s to %s", a, b);
			return -1;
		}
		return 0;
	case CONF_LISTEN:
		if (conf_listen_split(v, NULL, 0, NULL) < 0) {
			snprintf(why, whysize,
				 "must be HOST:PORT, such as 127.0.0.1:8080 or [::1]:8080");
			return -1;
		}
		return 0;
	case CONF_URL: {
		const char *p = s->choices, *auth = NULL;
		size_t alen;
		while (*p) {
			size_t n = strcspn(p, ",");
			if (strncmp(v, p, n) == 0 && strncmp(v + n, "://", 3) == 0) {
				auth = v + n + 3;
				break;
			}
			p += n;
			if (*p == ',')
				p++;
		}
		if (auth == NULL) {
			choices_text(s->choices, "", "://", list, sizeof(list));
			snprintf(why, whysize, "must be a URL starting with %s", list);
			return -1;
		}
		for (const char *q = v; *q; q++) {
			if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
				snprintf(why, whysize,
					 "must not contain spaces or non-ASCII characters (percent-encode them)");
				return -1;
			}
		}
		alen = strcspn(auth, "/?#");
		if (memchr(auth, '@', alen) != NULL) {
			/* Credentials in a world-readable file are a leak waiting to happen. */
			snprintf(why, whysize,
				 "must not contain a user name or password (use the *_env settings)");
			return -1;
		}
		if (host_port(auth, alen, NULL, 0, NULL, 0) < 0) {
			snprintf(why, whysize, "must have a host name and optional :PORT after ://");
			return -1;
		}
		return 0;
	}
	case CONF_ENUM: {
		int idx = choice_index(s->choices, v, len);
		if (idx < 0) {
			choices_text(s->choices, "", "", list, sizeof(list));
			snprintf(why, whysize, "must be one of %s", list);
			return -1;
		}
		*num = idx;
		return 0;
	}
	case CONF_PATH:
		return 0; /* control characters are refused for every value already */
	case CONF_EMAIL:
		if (!email_valid(v)) {
			snprintf(why, whysize, "must be a mail address such as tayori@example.jp");
			return -1;
		}
		return 0;
	case CONF_IDENT:
		for (size_t i = 0; i < len; i++) {
			char ch = v[i];
			if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) ||
			      (i > 0 && (ch == '-' || ch == '_')))) {
				snprintf(why, whysize,
					 "must use only a-z, 0-9, '-' and '_', starting with a letter or digit");
				return -1;
			}
		}
		if (s->max > 0 && (int64_t)len > s->max) {
			snprintf(why, whysize, "must be at most %lld characters long", (long long)s->max);
			return -1;
		}
		return 0;
	case CONF_ENVNAME:
		for (size_t i = 0; i < len; i++) {
			char ch = v[i];
			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
			      (i > 0 && is_digit(ch)))) {
				snprintf(why, whysize,
					 "must be the name of an environment variable (A-Z, 0-9, _), not a secret");
				return -1;
			}
		}
		return 0;
	}
	snprintf(why, whysize, "has an unknown type");
	return -1;
}

/* ---- paths ------------------------------------------------------------ */

/*
 * rel made absolute against base (rel as is when absolute), with "."
 * components and repeated slashes removed.  ".." is kept: removing it
 * lexically is wrong when a component is a symbolic link.
 */
static char *path_join(const char *base, const char *rel)
{
	size_t blen = rel[0] == '/' ? 0 : strlen(base);
	size_t rlen = strlen(rel);
	char *in = xmalloc(blen + rlen + 2), *out = xmalloc(blen + rlen + 2);
	size_t o = 0;
	const char *p;

	if (blen > 0)
		memcpy(in, base, blen);
	in[blen] = '/';
	memcpy(in + blen + 1, rel, rlen + 1);
	p = in;
	while (*p) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(in);
	return out;
}

/* dir made absolute with the current directory; NULL on failure (errno). */
static char *absolute(const char *dir)
{
	char cwd[CONF_PATH_MAX];
	if (dir != NULL && dir[0] == '/')
		return path_join("/", dir);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	return path_join(cwd, dir != NULL ? dir : ".");
}

/* ---- the parser ------------------------------------------------------- */

struct parser {
	struct conf *c;
	const char *name;
	int line;
	int section; /* index into conf_section_table; -1 before any header */
	struct error *e;
};

static int perr_at(struct parser *p, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int perr_at(struct parser *p, int line, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		return err_set(p->e, "%s:%d: %s", p->name, line, msg);
	return err_set(p->e, "%s: %s", p->name, msg);
}

/* " (did you mean ...?)" or " (it belongs in [x])" for an unknown key. */
static void key_hint(const char *section, const char *key, char *out, size_t outsize)
{
	char where[128] = "";
	size_t used = 0;
	const char *best = NULL;
	size_t bestd = 1000;

	out[0] = '\0';
	for (size_t i = 0; i < NSET; i++) {
		const struct conf_setting *s = &conf_schema_table[i];
		if (strcmp(s->key, key) == 0 && strcmp(s->section, section) != 0) {
			int w = snprintf(where + used, sizeof(where) - used, "%s[%s]",
					 used ? " or " : "", s->section);
			if (w > 0 && (size_t)w < sizeof(where) - used)
				used += (size_t)w;
		}
	}
	if (used > 0) {
		snprintf(out, outsize, " (it belongs in %s)", where);
		return;
	}
	for (size_t i = 0; i < NSET; i++) {
		const struct conf_setting *s = &conf_schema_table[i];
		if (strcmp(s->section, section) == 0 && close_enough(key, s->key)) {
			size_t d = edit_distance(key, s->key);
			if (d < bestd) {
				bestd = d;
				best = s->key;
			}
		}
	}
	if (best != NULL)
		snprintf(out, outsize, " (did you mean \"%s\"?)", best);
}

static int parse_section(struct parser *p, char *s)
{
	char *close = strchr(s, ']'), *name = s + 1, *end, *rest;
	char shown[72];
	int idx;

	if (close == NULL)
		return perr_at(p, p->line, "section header is missing the closing ]");
	rest = close + 1;
	while (is_ws(*rest))
		rest++;
	if (*rest != '\0' && *rest != '#')
		return perr_at(p, p->line, "unexpected text after the section header");
	while (is_ws(*name))
		name++;
	end = close;
	while (end > name && is_ws(end[-1]))
		end--;
	*end = '\0';
	if (*name == '\0')
		return perr_at(p, p->line, "empty section name");
	for (char *q = name; *q; q++)
		if (!is_alnum(*q) && *q != '_' && *q != '-')
			return perr_at(p, p->line, "invalid section name [%s]",
				       clip(name, shown, sizeof(shown)));
	idx = find_section(name);
	if (idx < 0) {
		const char *best = NULL;
		size_t bestd = 1000;
		for (size_t i = 0; i < NSEC; i++) {
			size_t d = edit_distance(name, conf_section_table[i].name);
			if (close_enough(name, conf_section_table[i].name) && d < bestd) {
				bestd = d;
				best = conf_section_table[i].name;
			}
		}
		clip(name, shown, sizeof(shown));
		if (best != NULL)
			return perr_at(p, p->line, "unknown section [%s] (did you mean [%s]?)", shown, best);
		return perr_at(p, p->line, "unknown section [%s]", shown);
	}
	p->section = idx;
	return 0;
}

/*
 * The value after '=': quoted ("..." with \" and \\) or bare up to a '#'
 * that follows whitespace.  Unescapes in place; *out points into s.
 */
static int parse_value(struct parser *p, char *s, char **out)
{
	while (is_ws(*s))
		s++;
	if (*s == '"') {
		char *i = s + 1, *o = s;
		for (;;) {
			if (*i == '\0')
				return perr_at(p, p->line, "quoted value is missing its closing \"");
			if (*i == '\\') {
				if (i[1] != '"' && i[1] != '\\') {
					if ((unsigned char)i[1] > 0x20 && (unsigned char)i[1] < 0x7f)
						return perr_at(p, p->line,
							       "unknown escape \\%c in a quoted value (only \\\" and \\\\)",
							       i[1]);
					return perr_at(p, p->line,
						       "unknown escape in a quoted value (only \\\" and \\\\)");
				}
				*o++ = i[1];
				i += 2;
				continue;
			}
			if (*i == '"')
				break;
			*o++ = *i++;
		}
		*o = '\0';
		i++;
		while (is_ws(*i))
			i++;
		if (*i != '\0' && *i != '#')
			return perr_at(p, p->line, "unexpected text after the closing quote");
		*out = s;
		return 0;
	}
	{
		char *q = s, *end;
		while (*q && !(*q == '#' && (q == s || is_ws(q[-1]))))
			q++;
		end = q;
		while (end > s && is_ws(end[-1]))
			end--;
		*end = '\0';
		*out = s;
	}
	return 0;
}

static int parse_assignment(struct parser *p, char *s)
{
	char *eq = strchr(s, '='), *key = s, *kend, *value = NULL, *dot;
	const char *section;
	char shown[72], shown_v[72], hint[160], why[256];
	int idx;
	int64_t num;
	const struct conf_setting *set;

	if (eq == NULL)
		return perr_at(p, p->line, "expected \"key = value\" or \"[section]\"");
	kend = eq;
	while (kend > key && is_ws(kend[-1]))
		kend--;
	*kend = '\0';
	if (*key == '\0')
		return perr_at(p, p->line, "missing key before =");
	for (char *q = key; *q; q++)
		if (!is_alnum(*q) && *q != '_' && *q != '-' && *q != '.')
			return perr_at(p, p->line, "invalid key name \"%s\"", clip(key, shown, sizeof(shown)));
	if (parse_value(p, eq + 1, &value) < 0)
		return -1;

	/* "section.key = value" before any header is the flat form of a key. */
	dot = strchr(key, '.');
	if (p->section < 0) {
		int sidx;
		if (dot == NULL)
			return perr_at(p, p->line,
				       "key \"%s\" is outside any section: put it under a [section] header",
				       clip(key, shown, sizeof(shown)));
		*dot = '\0';
		sidx = find_section(key);
		if (sidx < 0)
			return perr_at(p, p->line, "unknown section [%s]", clip(key, shown, sizeof(shown)));
		section = conf_section_table[sidx].name;
		key = dot + 1;
	} else {
		if (dot != NULL)
			return perr_at(p, p->line, "invalid key name \"%s\" (no dots inside a section)",
				       clip(key, shown, sizeof(shown)));
		section = conf_section_table[p->section].name;
	}

	idx = find_setting(section, key);
	if (idx < 0) {
		key_hint(section, key, hint, sizeof(hint));
		return perr_at(p, p->line, "unknown key \"%s\" in section [%s]%s",
			       clip(key, shown, sizeof(shown)), section, hint);
	}
	set = &conf_schema_table[idx];
	if (p->c->line[idx] > 0)
		return perr_at(p, p->line, "duplicate key \"%s\" in section [%s] (first set on line %d)",
			       key, section, p->c->line[idx]);
	if (check_value(set, value, &num, why, sizeof(why)) < 0) {
		/* A bad variable name is often the secret itself: never echo it. */
		if (set->type == CONF_ENVNAME)
			return perr_at(p, p->line, "value of %s %s", key, why);
		return perr_at(p, p->line, "value of %s %s (got \"%s\")", key, why,
			       clip(value, shown_v, sizeof(shown_v)));
	}
	free(p->c->str[idx]);
	p->c->str[idx] = xstrdup(value);
	p->c->num[idx] = num;
	p->c->line[idx] = p->line;
	return 0;
}

/* One line, NUL-terminated, already checked for bytes and UTF-8. */
static int parse_line(struct parser *p, char *s)
{
	while (is_ws(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[')
		return parse_section(p, s);
	return parse_assignment(p, s);
}

static int idx_of(const char *section, const char *key)
{
	return setting_or_abort(section, key, "conf");
}

/* The later of two lines that set something (0 when neither). */
static int line_of(const struct conf *c, int a, int b)
{
	return c->line[a] > c->line[b] ? c->line[a] : c->line[b];
}

/* Settings that only make sense together. */
static int cross_check(struct parser *p)
{
	struct conf *c = p->c;
	int cert = idx_of("portal", "tls_cert"), key = idx_of("portal", "tls_key");
	int imap = idx_of("mail", "imap_url"), user = idx_of("mail", "imap_user");
	int pass = idx_of("mail", "imap_password_env");
	int mod = idx_of("signing", "pkcs11_module"), tok = idx_of("signing", "pkcs11_token");
	int lvl = idx_of("signing", "level"), tsa = idx_of("signing", "tsa_url");
	int tsaca = idx_of("signing", "tsa_ca_file");
	int rl = idx_of("portal", "resident_listen"), sl = idx_of("portal", "staff_listen");
	char h1[256], h2[256];
	int p1 = 0, p2 = 0;

	if ((c->str[cert][0] == '\0') != (c->str[key][0] == '\0'))
		return perr_at(p, line_of(c, cert, key),
			       "tls_cert and tls_key must be set together (or both left empty)");
	if (c->str[imap][0] != '\0' && c->str[user][0] == '\0')
		return perr_at(p, c->line[imap], "imap_url is set but imap_user is empty");
	if (c->str[imap][0] != '\0' && c->str[pass][0] == '\0')
		return perr_at(p, c->line[imap], "imap_url is set but imap_password_env is empty");
	if (c->str[mod][0] != '\0' && c->str[tok][0] == '\0')
		return perr_at(p, c->line[mod], "pkcs11_module is set but pkcs11_token is empty");
	if (c->num[lvl] > 0 && c->str[tsa][0] == '\0')
		return perr_at(p, c->line[lvl], "level %s needs a time-stamp authority: set tsa_url",
			       c->str[lvl]);
	if (c->str[tsa][0] != '\0' && c->str[tsaca][0] == '\0')
		return perr_at(p, c->line[tsa],
			       "tsa_url is set but tsa_ca_file is empty: time stamps must be checked "
			       "against the TSA's CA certificates");
	{
		int am = idx_of("security", "argon2_memory_kib");
		int at = idx_of("security", "argon2_iterations");
		struct passwd_params pp = { (unsigned)c->num[am], (unsigned)c->num[at] };
		struct error pe = { { 0 }, 0 };
		if (passwd_params_check(&pp, &pe) < 0)
			return perr_at(p, line_of(c, am, at), "%s", pe.msg);
	}
	if (conf_listen_split(c->str[rl], h1, sizeof(h1), &p1) == 0 &&
	    conf_listen_split(c->str[sl], h2, sizeof(h2), &p2) == 0 && p1 == p2 &&
	    (strcmp(h1, h2) == 0 || strcmp(h1, "0.0.0.0") == 0 || strcmp(h2, "0.0.0.0") == 0 ||
	     strcmp(h1, "::") == 0 || strcmp(h2, "::") == 0))
		return perr_at(p, line_of(c, rl, sl),
			       "resident_listen and staff_listen must not share an address");
	return 0;
}

/* Absolute forms of every CONF_PATH setting; data_dir first. */
static int resolve_paths(struct parser *p, const char *base_dir)
{
	struct conf *c = p->c;
	int dd = idx_of("paths", "data_dir");

	c->path[dd] = path_join(base_dir, c->str[dd]);
	if (strlen(c->path[dd]) >= CONF_PATH_MAX)
		return perr_at(p, c->line[dd], "data_dir is too long once made absolute");
	for (size_t i = 0; i < NSET; i++) {
		const struct conf_setting *s = &conf_schema_table[i];
		if (s->type != CONF_PATH || (int)i == dd)
			continue;
		if (c->str[i][0] == '\0')
			c->path[i] = xstrdup("");
		else
			c->path[i] = path_join(s->flags & CONF_DATA_REL ? c->path[dd] : base_dir,
					       c->str[i]);
		if (strlen(c->path[i]) >= CONF_PATH_MAX)
			return perr_at(p, c->line[i] ? c->line[i] : c->line[dd],
				       "path of %s is too long once made absolute", s->key);
	}
	return 0;
}

int conf_parse(const char *text, size_t len, const char *name, const char *base_dir,
	       struct conf **out, struct error *e)
{
	struct parser p = { .name = name, .section = -1, .e = e };
	struct conf *c = xcalloc(1, sizeof(*c));
	char *base = NULL;
	char line[CONF_MAX_LINE + 1];
	size_t pos = 0;
	int rc = -1;

	*out = NULL;
	p.c = c;
	c->file = xstrdup(name);
	for (size_t i = 0; i < NSET; i++) {
		char why[256];
		c->str[i] = xstrdup(conf_schema_table[i].def);
		if (check_value(&conf_schema_table[i], c->str[i], &c->num[i], why, sizeof(why)) < 0) {
			fprintf(stderr, "tayori: default of [%s] %s %s\n", conf_schema_table[i].section,
				conf_schema_table[i].key, why);
			abort();
		}
	}
	if (len > CONF_MAX_FILE) {
		perr_at(&p, 0, "file is larger than 1 MiB (%zu bytes)", len);
		goto out;
	}
	/* A UTF-8 byte order mark, as Windows Notepad may write, is not text. */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos, bad;

		pos += n + (nl != NULL);
		p.line++;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE) {
			perr_at(&p, p.line, "line is longer than %d bytes", CONF_MAX_LINE);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)start[i];
			if (ch == '\0') {
				perr_at(&p, p.line, "NUL byte in the line");
				goto out;
			}
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				perr_at(&p, p.line, "control character 0x%02X in the line", ch);
				goto out;
			}
		}
		bad = utf8_bad((const unsigned char *)start, n);
		if (bad < n) {
			perr_at(&p, p.line, "invalid UTF-8 at byte %zu of the line", bad + 1);
			goto out;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		if (parse_line(&p, line) < 0)
			goto out;
	}
	if (cross_check(&p) < 0)
		goto out;
	base = absolute(base_dir);
	if (base == NULL) {
		err_tmp(e, "%s: cannot find the current directory: %s", name, strerror(errno));
		goto out;
	}
	if (resolve_paths(&p, base) < 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	free(base);
	conf_free(&c);
	return rc;
}

int conf_load(const char *path, struct conf **out, struct error *e)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char *abs = NULL, *dir = NULL, *slash;
	struct stat st;
	int rc = -1;

	*out = NULL;
	/* Say "too large" in our own words before reading anything. */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > CONF_MAX_FILE) {
		err_set(e, "%s: file is larger than 1 MiB (%lld bytes)", path, (long long)st.st_size);
		goto out;
	}
	if (file_read_all(path, CONF_MAX_FILE, &data, &len, e) < 0)
		goto out;
	abs = absolute(path);
	if (abs == NULL) {
		err_tmp(e, "%s: cannot find the current directory: %s", path, strerror(errno));
		goto out;
	}
	dir = xstrdup(abs);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (conf_parse((const char *)data, len, path, dir, out, e) < 0)
		goto out;
	free((*out)->file);
	(*out)->file = abs;
	abs = NULL;
	rc = 0;
out:
	free(data);
	free(abs);
	free(dir);
	return rc;
}

void conf_free(struct conf **cp)
{
	struct conf *c;
	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	for (size_t i = 0; i < NSET; i++) {
		free(c->str[i]);
		free(c->path[i]);
	}
	free(c->file);
	free(c);
	*cp = NULL;
}

/* ---- accessors -------------------------------------------------------- */

const char *conf_str(const struct conf *c, const char *section, const char *key)
{
	return c->str[setting_or_abort(section, key, "conf_str")];
}

int64_t conf_int(const struct conf *c, const char *section, const char *key)
{
	int i = setting_or_abort(section, key, "conf_int");
	switch (conf_schema_table[i].type) {
	case CONF_INT:
	case CONF_BOOL:
	case CONF_DURATION:
	case CONF_SIZE:
	case CONF_ENUM:
		return c->num[i];
	default:
		fprintf(stderr, "tayori: conf_int: [%s] %s is not a number\n", section, key);
		abort();
	}
}

int conf_is_set(const struct conf *c, const char *section, const char *key)
{
	return c->line[setting_or_abort(section, key, "conf_is_set")] > 0;
}

int conf_path(const struct conf *c, const char *section, const char *key, char *out,
	      size_t outsize)
{
	int i = setting_or_abort(section, key, "conf_path");
	if (conf_schema_table[i].type != CONF_PATH) {
		fprintf(stderr, "tayori: conf_path: [%s] %s is not a path\n", section, key);
		abort();
	}
	if (str_copy(out, c->path[i], outsize) >= outsize) {
		if (outsize > 0)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

const char *conf_file(const struct conf *c)
{
	return c->file;
}

/* ---- the sample file -------------------------------------------------- */

/* One line saying what a value may be, for the sample. */
static void type_hint(const struct conf_setting *s, char *out, size_t outsize)
{
	char a[64], b[64], list[160];
	switch (s->type) {
	case CONF_STRING:
		if (s->max > 0)
			snprintf(out, outsize, "text, at most %lld bytes", (long long)s->max);
		else
			snprintf(out, outsize, "text");
		break;
	case CONF_INT:
		snprintf(out, outsize, "whole number, %lld to %lld", (long long)s->min, (long long)s->max);
		break;
	case CONF_BOOL:
		snprintf(out, outsize, "yes or no");
		break;
	case CONF_DURATION:
		fmt_duration(s->min, a, sizeof(a));
		fmt_duration(s->max, b, sizeof(b));
		snprintf(out, outsize, "duration such as 30s, 5m, 2h or 7d; %s to %s", a, b);
		break;
	case CONF_SIZE:
		fmt_size(s->min, a, sizeof(a));
		fmt_size(s->max, b, sizeof(b));
		snprintf(out, outsize, "size in bytes or with K, M or G such as 512K or 10M; %s to %s", a, b);
		break;
	case CONF_LISTEN:
		snprintf(out, outsize, "HOST:PORT, IPv6 as [::1]:8080");
		break;
	case CONF_URL:
		choices_text(s->choices, "", "://", list, sizeof(list));
		snprintf(out, outsize, "URL starting with %s, no user name or password", list);
		break;
	case CONF_ENUM:
		choices_text(s->choices, "", "", list, sizeof(list));
		snprintf(out, outsize, "one of %s", list);
		break;
	case CONF_PATH:
		snprintf(out, outsize, "path, relative to %s",
			 s->flags & CONF_DATA_REL ? "data_dir" : "the directory of this file");
		break;
	case CONF_EMAIL:
		snprintf(out, outsize, "mail address");
		break;
	case CONF_IDENT:
		snprintf(out, outsize, "a-z, 0-9, - and _, at most %lld characters", (long long)s->max);
		break;
	case CONF_ENVNAME:
		snprintf(out, outsize, "name of an environment variable");
		break;
	}
	if ((s->flags & CONF_OPTIONAL) && strlen(out) + 16 < outsize)
		memcpy(out + strlen(out), "; may be empty", 15);
}

/* A value as it must be written so that the parser reads it back. */
static int append_value(struct buf *b, const struct conf_setting *s, const char *v)
{
	size_t len = strlen(v);
	int quote = s->type == CONF_STRING || len == 0 || is_ws(v[0]) || is_ws(v[len - 1]) ||
		    v[0] == '"' || strchr(v, '#') != NULL;
	if (!quote)
		return buf_append_str(b, v);
	if (buf_append_u8(b, '"') < 0)
		return -1;
	for (const char *q = v; *q; q++) {
		if ((*q == '"' || *q == '\\') && buf_append_u8(b, '\\') < 0)
			return -1;
		if (buf_append_u8(b, (uint8_t)*q) < 0)
			return -1;
	}
	return buf_append_u8(b, '"');
}

static const char sample_head[] =
	"# tayori.conf — the settings of one tayori tenant (one ward office).\n"
	"# tayori.conf — テナント（区）ひとつ分の設定ファイルです。\n"
	"#\n"
	"# One \"key = value\" a line under a [section] header; \"#\" starts a comment.\n"
	"# Quote a value with \"...\" when it holds \"#\" or leading spaces; inside quotes\n"
	"# \\\" is a quote and \\\\ a backslash.  Unknown keys and duplicates are errors.\n"
	"# Relative paths are relative to data_dir, and data_dir is relative to the\n"
	"# directory holding this file.  Each setting shows its default; remove the\n"
	"# \"#\" in front of it to change it.  See tayori.conf(5).\n"
	"#\n"
	"# 書式：[セクション] の下に「キー = 値」を 1 行ずつ書きます。「#」以降はコメントです。\n"
	"# 各設定は既定値をコメントで示しています。変更するときは行頭の「#」を外してください。\n"
	"# 相対パスは data_dir から、data_dir はこのファイルのあるディレクトリから解釈されます。\n";

int conf_format_default(struct buf *b, const char *tenant_name, const char *tenant_id,
			struct error *e)
{
	int iname = idx_of("tenant", "name"), iid = idx_of("tenant", "id");
	char why[256], hint[320], shown[72];
	int64_t num;

	if (tenant_name == NULL)
		tenant_name = conf_schema_table[iname].def;
	if (tenant_id == NULL)
		tenant_id = conf_schema_table[iid].def;
	/* The same checks as the parser, so that the file loads again. */
	if (utf8_bad((const unsigned char *)tenant_name, strlen(tenant_name)) < strlen(tenant_name))
		return err_set(e, "tenant name is not valid UTF-8");
	for (const char *q = tenant_name; *q; q++)
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			return err_set(e, "tenant name must not contain control characters");
	if (check_value(&conf_schema_table[iname], tenant_name, &num, why, sizeof(why)) < 0)
		return err_set(e, "tenant name %s", why);
	if (check_value(&conf_schema_table[iid], tenant_id, &num, why, sizeof(why)) < 0)
		return err_set(e, "tenant id %s (got \"%s\")", why, clip(tenant_id, shown, sizeof(shown)));

	if (buf_append_str(b, sample_head) < 0)
		goto full;
	for (size_t si = 0; si < NSEC; si++) {
		const struct conf_section *sec = &conf_section_table[si];
		if (buf_printf(b, "\n[%s]\n# %s\n# %s\n", sec->name, sec->help, sec->help_ja) < 0)
			goto full;
		for (size_t i = 0; i < NSET; i++) {
			const struct conf_setting *s = &conf_schema_table[i];
			const char *v = s->def;
			int set = 0;
			if (strcmp(s->section, sec->name) != 0)
				continue;
			if ((int)i == iname) {
				v = tenant_name;
				set = 1;
			} else if ((int)i == iid) {
				v = tenant_id;
				set = 1;
			}
			type_hint(s, hint, sizeof(hint));
			if (buf_printf(b, "\n# %s\n# %s\n# (%s)\n%s%s = ", s->help, s->help_ja, hint,
				       set ? "" : "#", s->key) < 0 ||
			    append_value(b, s, v) < 0 || buf_append_u8(b, '\n') < 0)
				goto full;
		}
	}
	return 0;
full:
	return err_tmp(e, "sample configuration does not fit in its buffer");
}

int conf_write_default(const char *path, const char *tenant_name, const char *tenant_id,
		       struct error *e)
{
	struct buf b;
	char tmp[CONF_PATH_MAX];
	const uint8_t *p;
	size_t left;
	int fd = -1, rc = -1;

	buf_init(&b, CONF_MAX_FILE);
	tmp[0] = '\0';
	if (conf_format_default(&b, tenant_name, tenant_id, e) < 0)
		goto out;
	if (str_fmt(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp[0] = '\0';
		err_set(e, "path too long: %s", path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		err_tmp(e, "cannot create %s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	p = b.data;
	left = b.len;
	while (left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err_tmp(e, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
			goto out;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		err_tmp(e, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_tmp(e, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* link(), unlike rename(), fails when path exists: never clobber a conf. */
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			err_set(e, "%s already exists; not replacing it", path);
		else
			err_tmp(e, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	buf_free(&b);
	return rc;
}
