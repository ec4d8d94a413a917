/*
 * conf_schema.c — the schema of tayori.conf: every setting, and lookups in it.
 * One row per setting: section, key, type, default, range, help (English
 * and Japanese); the sections with their help.
 * Runs in every process (linked wherever conf.c is).
 *
 * This table is the one source of truth: the parser (conf.c) checks the
 * file against it, the sample writer (conf_sample.c) renders conf/tayori.conf
 * from it, and the unit test checks that tayori.conf(5) documents every row.
 * The file is long because the table is; it has no other job.
 */
#include "conf/conf_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The schema.  One row per setting; the order here is the order of the
 * sample file and of the man page.  Sections appear in conf_section_table
 * order.  To add a setting: add a row, document it in conf/tayori.conf.5,
 * and regenerate conf/tayori.conf (see conf.h).
 */
const struct conf_section conf_section_table[] = {
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
	{ "policy", "Rules of the ward's procedure.", "事務処理の決まり" },
};

const struct conf_setting conf_schema_table[] = {
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
	  .help = "PEM certificate chain for HTTPS; empty: plain HTTP, on loopback only (behind a TLS proxy).",
	  .help_ja = "HTTPS 用証明書チェーン（PEM）。空なら HTTP（ループバックのみ。TLS 終端プロキシの背後で使用）" },
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
	{ .section = "portal", .key = "announcement_url", .type = CONF_URL, .def = "",
	  .choices = "http,https", .flags = CONF_OPTIONAL,
	  .help = "The ward's page announcing the portal, so residents can check the site is real.",
	  .help_ja = "区の公式サイトでポータルを案内するページの URL（本物のサイトの確認用）。空なら表示しない" },
	{ .section = "portal", .key = "description", .type = CONF_STRING, .def = "", .max = 4000,
	  .flags = CONF_OPTIONAL,
	  .help = "The service's description for residents (front page); the settings page's wins.",
	  .help_ja = "区民向けページ（トップと通知の入口）に表示するサービスの説明。"
		     "ダッシュボードの「区の設定」で保存した説明があればそちらを使う。空なら表示しない" },
	{ .section = "portal", .key = "consent_terms", .type = CONF_STRING, .def = "1", .max = 31,
	  .help = "Version of the e-delivery terms a resident consents to on the portal.",
	  .help_ja = "ポータルで区民が同意する電子交付の規約の版" },
	{ .section = "portal", .key = "pdf_cache", .type = CONF_SIZE, .def = "64M",
	  .min = 0, .max = (int64_t)4 << 30,
	  .help = "Memory for decrypted PDFs kept for repeated downloads (0: none).",
	  .help_ja = "最近配信した復号済み PDF を保持するメモリ量（0 で保持しない）。再ダウンロードで鍵プロセスへの問い合わせを省く" },
	{ .section = "portal", .key = "workers", .type = CONF_INT, .def = "64", .min = 2, .max = 256,
	  .help = "Worker threads per listener for requests that wait on the store.",
	  .help_ja = "待受ごとのワーカースレッド数（ストアやイベント確定を待つ要求用）" },
	{ .section = "portal", .key = "rate_per_ip", .type = CONF_INT, .def = "50", .min = 1,
	  .max = 1000000,
	  .help = "Requests per second per client address (bursts of 4x); more get 429.",
	  .help_ja = "クライアント IP ごとの毎秒リクエスト数の上限（その 4 倍までの集中は許容）。超過は 429" },
	{ .section = "portal", .key = "trust_proxy", .type = CONF_BOOL, .def = "yes",
	  .help = "Trust X-Forwarded-For/-Proto from a loopback peer (a local TLS proxy or WAF).",
	  .help_ja = "ループバック上の接続元（ローカルの TLS 終端や WAF）の X-Forwarded-For / X-Forwarded-Proto を信頼する" },
	{ .section = "portal", .key = "staff_idle", .type = CONF_DURATION, .def = "30m",
	  .min = MINUTE, .max = DAY,
	  .help = "A staff login session ends after this long without a request.",
	  .help_ja = "職員ログインセッションが操作なしで切れるまでの時間" },
	{ .section = "portal", .key = "staff_lockout", .type = CONF_DURATION, .def = "15m",
	  .min = 5, .max = DAY,
	  .help = "Staff login failures are counted over this long, and a lockout lasts as long.",
	  .help_ja = "職員ログインの失敗を数える期間と、ロックが続く時間" },

	/* [mail] */
	{ .section = "mail", .key = "relay", .type = CONF_URL, .def = "", .choices = "smtp,smtps",
	  .flags = CONF_OPTIONAL,
	  .help = "SMTP relay, smtp://HOST[:PORT] or smtps://HOST[:PORT]; empty: write into outbox_maildir.",
	  .help_ja = "SMTP リレー。空なら outbox_maildir に保存" },
	{ .section = "mail", .key = "from", .type = CONF_EMAIL,
	  .def = "tayori@localhost.localdomain",
	  .help = "Sender address of mail to residents and staff.",
	  .help_ja = "送信元メールアドレス" },
	{ .section = "mail", .key = "dkim_selector", .type = CONF_STRING, .def = "", .max = 63,
	  .flags = CONF_OPTIONAL,
	  .help = "DKIM selector; with dkim_domain set, each message is signed. Empty: no DKIM.",
	  .help_ja = "DKIM セレクタ。dkim_domain と合わせて設定すると送信メールに署名。空なら署名しない" },
	{ .section = "mail", .key = "dkim_domain", .type = CONF_STRING, .def = "", .max = 253,
	  .flags = CONF_OPTIONAL,
	  .help = "DKIM signing domain (d=), normally that of from; publish `tayori dkim record`.",
	  .help_ja = "DKIM 署名ドメイン（d=）。`tayori dkim record` の出力を DNS に登録" },
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
	{ .section = "mail", .key = "relay_user", .type = CONF_STRING, .def = "", .max = 255,
	  .flags = CONF_OPTIONAL,
	  .help = "User name for SMTP AUTH at the relay (over TLS or loopback only); empty: no AUTH.",
	  .help_ja = "リレーの SMTP AUTH ユーザー名。空なら認証しない" },
	{ .section = "mail", .key = "relay_password_env", .type = CONF_ENVNAME, .def = "",
	  .flags = CONF_OPTIONAL,
	  .help = "Environment variable holding the relay password; required with relay_user.",
	  .help_ja = "リレーのパスワードを入れた環境変数の名前" },
	{ .section = "mail", .key = "relay_ca_file", .type = CONF_PATH, .def = "",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "PEM CAs the relay's certificate must chain to; empty: the system CAs.",
	  .help_ja = "リレーの証明書を検証する CA（PEM）。空ならシステムの CA" },
	{ .section = "mail", .key = "connections", .type = CONF_INT, .def = "8", .min = 1, .max = 256,
	  .help = "Most SMTP connections open to the relay at once, each carrying many messages.",
	  .help_ja = "リレーへの最大同時接続数" },
	{ .section = "mail", .key = "per_domain_connections", .type = CONF_INT, .def = "4", .min = 1, .max = 256,
	  .help = "Most connections carrying mail for one recipient domain at once.",
	  .help_ja = "宛先ドメインごとの最大同時接続数" },
	{ .section = "mail", .key = "per_domain_rate", .type = CONF_INT, .def = "0", .min = 0, .max = 1000000,
	  .help = "Most messages a minute to one recipient domain (halved when it throttles); 0: no limit.",
	  .help_ja = "宛先ドメインごとの毎分の最大送信数。0 なら制限なし" },
	{ .section = "mail", .key = "retry_for", .type = CONF_DURATION, .def = "5d", .min = 60,
	  .max = 2592000,
	  .help = "How long a message is retried after temporary failures before it is marked failed.",
	  .help_ja = "一時的な失敗の後に再送を続ける期間。過ぎると送信失敗" },
	{ .section = "mail", .key = "test_addresses", .type = CONF_STRING, .def = "", .max = 2000,
	  .flags = CONF_OPTIONAL,
	  .help = "Staff addresses, comma-separated, that receive a test batch's messages instead of residents.",
	  .help_ja = "テスト用バッチの送信先（職員のアドレス、カンマ区切り）。区民には送らない" },
	{ .section = "mail", .key = "reply_to", .type = CONF_EMAIL, .def = "", .flags = CONF_OPTIONAL,
	  .help = "Reply-To of the messages to residents (the ward's contact); empty: from.",
	  .help_ja = "区民あてメールの返信先（区の問い合わせ窓口）。空なら from" },
	{ .section = "mail", .key = "contact", .type = CONF_STRING, .max = 1000,
	  .def = "お問い合わせは、区役所の担当窓口までお願いします。",
	  .help = "The ward's contact details printed in every message to residents (\\n: new line).",
	  .help_ja = "区民あてメールに記載する問い合わせ先（\\n で改行）" },
	{ .section = "mail", .key = "report_to", .type = CONF_STRING, .def = "", .max = 2000,
	  .flags = CONF_OPTIONAL,
	  .help = "Addresses, comma-separated, that get the report when a batch has been sent; empty: logged only.",
	  .help_ja = "バッチ送信完了の報告を受け取るアドレス（カンマ区切り）。空ならログのみ" },
	{ .section = "mail", .key = "bounce_imap_url", .type = CONF_URL, .def = "", .choices = "imap,imaps",
	  .flags = CONF_OPTIONAL,
	  .help = "IMAP mailbox receiving bounces (our return paths), imaps://HOST[:PORT]/MAILBOX; empty: none.",
	  .help_ja = "不達通知を受ける IMAP メールボックス。空なら使用しない" },
	{ .section = "mail", .key = "bounce_imap_user", .type = CONF_STRING, .def = "", .max = 255,
	  .flags = CONF_OPTIONAL,
	  .help = "User name for bounce_imap_url.",
	  .help_ja = "不達通知用 IMAP のユーザー名" },
	{ .section = "mail", .key = "bounce_imap_password_env", .type = CONF_ENVNAME, .def = "",
	  .flags = CONF_OPTIONAL,
	  .help = "Environment variable holding the bounce mailbox's IMAP password.",
	  .help_ja = "不達通知用 IMAP パスワードを入れた環境変数の名前" },
	{ .section = "mail", .key = "bounce_imap_mailbox", .type = CONF_STRING, .def = "INBOX", .max = 255,
	  .help = "IMAP folder read for bounces when bounce_imap_url names none.",
	  .help_ja = "不達通知を読む IMAP フォルダ" },
	{ .section = "mail", .key = "bounce_imap_processed", .type = CONF_STRING, .def = "Processed",
	  .max = 200,
	  .help = "Folder a bounce moves to once read (IMAP, or .NAME in bounce_maildir).",
	  .help_ja = "処理済み不達通知の移動先フォルダ" },
	{ .section = "mail", .key = "bounce_imap_aside", .type = CONF_STRING, .def = "NotBounces",
	  .max = 200,
	  .help = "Folder for mail that is not a bounce of ours (IMAP, or .NAME in bounce_maildir); never deleted.",
	  .help_ja = "不達通知でないメールの移動先フォルダ（削除しない）" },
	{ .section = "mail", .key = "bounce_maildir", .type = CONF_PATH, .def = "",
	  .flags = CONF_OPTIONAL | CONF_DATA_REL,
	  .help = "A Maildir receiving bounces, read besides or instead of bounce_imap_url; empty: none.",
	  .help_ja = "不達通知を受ける Maildir（任意）" },
	{ .section = "mail", .key = "bounce_domain", .type = CONF_STRING, .def = "", .max = 253,
	  .flags = CONF_OPTIONAL,
	  .help = "Domain of the bounce return paths (bounce+...@DOMAIN); empty: the domain of from.",
	  .help_ja = "不達通知の返送先ドメイン。空なら from のドメイン" },
	{ .section = "mail", .key = "report_time", .type = CONF_STRING, .def = "", .max = 5,
	  .flags = CONF_OPTIONAL,
	  .help = "Time of day (HH:MM, Japan time) the daily summary is mailed to report_to; empty: none.",
	  .help_ja = "日次報告を report_to に送る時刻（HH:MM、日本時間）。空なら送らない" },

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
	  .help = "Largest intake mail, dropped batch or dashboard upload accepted.",
	  .help_ja = "受け付けるメール・バッチ・アップロードの最大サイズ" },
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

	/* [policy] */
	{ .section = "policy", .key = "four_eyes", .type = CONF_BOOL, .def = "yes",
	  .help = "A batch is approved by a staff member other than its submitter.",
	  .help_ja = "バッチの承認は提出者以外の職員が行う（ダブルチェック）" },
};

const size_t conf_schema_count = ARRAY_SIZE(conf_schema_table);
const size_t conf_section_count = ARRAY_SIZE(conf_section_table);

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

int conf_find_section(const char *name)
{
	for (size_t i = 0; i < NSEC; i++)
		if (strcmp(conf_section_table[i].name, name) == 0)
			return (int)i;
	return -1;
}

int conf_find_setting(const char *section, const char *key)
{
	for (size_t i = 0; i < NSET; i++)
		if (strcmp(conf_schema_table[i].section, section) == 0 &&
		    strcmp(conf_schema_table[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* A caller asked for a key the schema lacks: a bug, not bad input. */
int conf_setting_or_abort(const char *section, const char *key, const char *fn)
{
	int i = conf_find_setting(section, key);
	if (i < 0) {
		fprintf(stderr, "tayori: %s: no setting [%s] %s in the schema\n", fn, section, key);
		abort();
	}
	return i;
}
