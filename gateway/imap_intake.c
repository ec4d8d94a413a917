/*
 * imap_intake.c — the IMAP source of the intake (see imap_intake.h): one
 * libetpan session that selects the intake mailbox, fetches every message,
 * hands it to intake_message() and then moves it by outcome; IDLE or
 * polling between scans, reconnection with back-off.
 * Runs in the gateway process.
 * Standards: RFC 3501, RFC 2177 (IDLE), RFC 6851 (MOVE), RFC 4315 (UIDPLUS),
 * RFC 2595 (STARTTLS), RFC 8314 (implicit TLS), RFC 6125 / RFC 5280 (server
 * certificate checks, done here with OpenSSL because Debian's libetpan uses
 * GnuTLS without verifying), RFC 3501 5.1.3 (modified UTF-7 mailbox names).
 */
#include "gateway/imap_intake.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "gateway/intake.h"
#include "lib/log.h"

#define MBOX_MAX 1024 /* a mailbox name in modified UTF-7 */
/* IDLE must be renewed, and a polled session used, well before servers'
 * 30-minute autologout (RFC 3501 5.4, RFC 2177). */
#define RESCAN_MAX_MS (25 * 60 * 1000LL)

enum tls_mode { TLS_IMPLICIT, TLS_STARTTLS, TLS_NONE };

struct imap_intake {
	const struct conf *c;
	struct intake *in;
	char host[256];
	uint16_t port;
	int implicit_tls;  /* imaps:// */
	int loopback;      /* plain text allowed when the server has no STARTTLS */
	int host_is_ip;
	char user[256];
	char *pass;        /* from the environment; wiped in free */
	char mailbox[MBOX_MAX], processed[MBOX_MAX], rejected[MBOX_MAX]; /* modified UTF-7 */
	size_t max_size;   /* [limits] message_size */
	int64_t poll_ms;   /* [mail] imap_poll: polling without IDLE, rescans with it */
	int expunge;       /* [mail] imap_processed_delete: expunge taken messages */
	X509_STORE *trust; /* loaded in new(), before any sandbox hides the files */

	mailimap *imap;    /* NULL: not connected */
	enum tls_mode tls;
	int has_idle, has_move, has_uidplus;
	int idling;
	int64_t next_scan; /* monotonic ms */
	unsigned failures; /* consecutive connection failures */
	int64_t retry_at;  /* monotonic ms; no connection attempt before */
	int warned_no_uidplus;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *imap_errname(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_STREAM: return "connection lost or timed out";
	case MAILIMAP_ERROR_PARSE: return "unreadable server response";
	case MAILIMAP_ERROR_CONNECTION_REFUSED: return "cannot connect (refused, unreachable or timed out)";
	case MAILIMAP_ERROR_MEMORY: return "out of memory";
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION: return "server refused the connection";
	case MAILIMAP_ERROR_SSL: return "TLS handshake failed";
	case MAILIMAP_ERROR_LOGIN: return "login refused";
	case MAILIMAP_ERROR_SELECT: return "SELECT refused";
	case MAILIMAP_ERROR_STARTTLS: return "STARTTLS refused";
	case MAILIMAP_ERROR_BAD_STATE: return "bad protocol state";
	default: return "command refused";
	}
}

/* The server's last response text, made safe for an error line. */
static const char *server_text(mailimap *imap, char *out, size_t outsize)
{
	if (imap == NULL || imap->imap_response == NULL)
		return "";
	return log_quote(imap->imap_response, out, outsize);
}

static int fail_imap(struct imap_intake *ii, struct error *e, const char *what, int r)
{
	char q[200];
	const char *t = server_text(ii->imap, q, sizeof(q));
	return err_tmp(e, "IMAP %s: %s%s%s", what, imap_errname(r), t[0] != '\0' ? " " : "", t);
}

/* ---- settings ---- */

/* Decode UTF-8 at s (n bytes left); -1 when malformed. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	int len, i;

	if (n == 0)
		return -1;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		c = s[0] & 0x1f;
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		c = s[0] & 0x0f;
		len = 3;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		c = s[0] & 0x07;
		len = 4;
	} else {
		return -1;
	}
	if ((size_t)len > n)
		return -1;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return len;
}

/*
 * Modified UTF-7 (RFC 3501 5.1.3): printable ASCII stays, "&" becomes "&-",
 * anything else is UTF-16 in base64 with "," for "/" between "&" and "-".
 * Japanese folder names (処理済み) need this.
 */
int imap_intake_mailbox_name(const char *utf8, char *out, size_t outsize)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	const unsigned char *s = (const unsigned char *)utf8;
	size_t n = strlen(utf8), o = 0;
	uint32_t bits = 0;
	int nbits = 0, in_b64 = 0;

	if (outsize == 0)
		return -1;
#define PUT(ch) do { if (o + 1 >= outsize) return -1; out[o++] = (char)(ch); } while (0)
	while (n > 0) {
		uint32_t cp;
		int k = utf8_next(s, n, &cp);
		if (k < 0)
			return -1;
		s += k;
		n -= (size_t)k;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (in_b64) {
				if (nbits > 0)
					PUT(b64[(bits << (6 - nbits)) & 0x3f]);
				PUT('-');
				in_b64 = 0;
				nbits = 0;
				bits = 0;
			}
			PUT(cp);
			if (cp == '&')
				PUT('-');
			continue;
		}
		if (!in_b64) {
			PUT('&');
			in_b64 = 1;
		}
		uint16_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = (uint16_t)(0xd800 | (cp >> 10));
			units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
			nu = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int u = 0; u < nu; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				PUT(b64[(bits >> (nbits - 6)) & 0x3f]);
				nbits -= 6;
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (in_b64) {
		if (nbits > 0)
			PUT(b64[(bits << (6 - nbits)) & 0x3f]);
		PUT('-');
	}
#undef PUT
	out[o] = '\0';
	return 0;
}

static int folder_setting(const char *key, const char *value, char *out, struct error *e)
{
	if (value[0] == '\0')
		return err_set(e, "[mail] %s is empty", key);
	if (imap_intake_mailbox_name(value, out, MBOX_MAX) < 0)
		return err_set(e, "[mail] %s is not a usable IMAP folder name", key);
	return 0;
}

/* imap[s]://HOST[:PORT][/MAILBOX] (conf has checked the shape already). */
static int parse_url(struct imap_intake *ii, const char *url, char *path, size_t pathsize,
		     struct error *e)
{
	const char *p, *end;
	size_t hl;

	if (strncasecmp(url, "imaps://", 8) == 0) {
		ii->implicit_tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "imap://", 7) == 0) {
		p = url + 7;
	} else {
		return err_set(e, "[mail] imap_url must start with imap:// or imaps://");
	}
	ii->port = ii->implicit_tls ? 993 : 143;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return err_set(e, "[mail] imap_url has an unclosed [");
		hl = (size_t)(end - p - 1);
		if (hl == 0 || hl >= sizeof(ii->host))
			return err_set(e, "[mail] imap_url has a bad host");
		memcpy(ii->host, p + 1, hl);
		ii->host[hl] = '\0';
		p = end + 1;
	} else {
		hl = strcspn(p, ":/");
		if (hl == 0 || hl >= sizeof(ii->host))
			return err_set(e, "[mail] imap_url has a bad host");
		memcpy(ii->host, p, hl);
		ii->host[hl] = '\0';
		p += hl;
	}
	if (*p == ':') {
		char portbuf[8];
		int64_t port;
		size_t pl = strcspn(p + 1, "/");
		if (pl == 0 || pl >= sizeof(portbuf))
			return err_set(e, "[mail] imap_url has a bad port");
		memcpy(portbuf, p + 1, pl);
		portbuf[pl] = '\0';
		if (parse_int64(portbuf, 1, 65535, &port) < 0)
			return err_set(e, "[mail] imap_url has a bad port");
		ii->port = (uint16_t)port;
		p += 1 + pl;
	}
	path[0] = '\0';
	if (*p == '/') {
		size_t o = 0;
		for (p++; *p != '\0'; p++) {
			int ch = (unsigned char)*p;
			if (ch == '%') {
				int h = hex_value(p[1]), l = h < 0 ? -1 : hex_value(p[2]);
				if (l < 0)
					return err_set(e, "[mail] imap_url has a bad %%-escape");
				ch = h * 16 + l;
				p += 2;
			}
			if (ch < 0x20 || ch == 0x7f || o + 1 >= pathsize)
				return err_set(e, "[mail] imap_url has a bad mailbox");
			path[o++] = (char)ch;
		}
		path[o] = '\0';
	} else if (*p != '\0') {
		return err_set(e, "[mail] imap_url has trailing characters");
	}

	unsigned char a[16];
	if (inet_pton(AF_INET, ii->host, a) == 1) {
		ii->host_is_ip = 1;
		ii->loopback = a[0] == 127;
	} else if (inet_pton(AF_INET6, ii->host, a) == 1) {
		static const unsigned char one[16] = { [15] = 1 };
		ii->host_is_ip = 1;
		ii->loopback = memcmp(a, one, 16) == 0;
	} else {
		ii->loopback = strcasecmp(ii->host, "localhost") == 0;
	}
	return 0;
}

int imap_intake_new(const struct conf *c, struct intake *in, struct imap_intake **out,
		    struct error *e)
{
	struct imap_intake *ii = xcalloc(1, sizeof(*ii));
	char path[MBOX_MAX];
	const char *url = conf_str(c, "mail", "imap_url");
	const char *envname = conf_str(c, "mail", "imap_password_env");
	const char *pw;
	int rc = -1;

	*out = NULL;
	ii->c = c;
	ii->in = in;
	if (url[0] == '\0') {
		err_set(e, "[mail] imap_url is not set");
		goto out;
	}
	if (parse_url(ii, url, path, sizeof(path), e) < 0)
		goto out;
	if (str_copy(ii->user, conf_str(c, "mail", "imap_user"), sizeof(ii->user)) >= sizeof(ii->user) ||
	    ii->user[0] == '\0') {
		err_set(e, "[mail] imap_user is empty or too long");
		goto out;
	}
	if (envname[0] == '\0' || (pw = getenv(envname)) == NULL || pw[0] == '\0') {
		err_set(e, "the IMAP password variable named by [mail] imap_password_env is not set");
		goto out;
	}
	ii->pass = xstrdup(pw);
	if (folder_setting(path[0] != '\0' ? "imap_url" : "imap_mailbox",
			   path[0] != '\0' ? path : conf_str(c, "mail", "imap_mailbox"), ii->mailbox, e) < 0 ||
	    folder_setting("imap_processed", conf_str(c, "mail", "imap_processed"), ii->processed, e) < 0 ||
	    folder_setting("imap_rejected", conf_str(c, "mail", "imap_rejected"), ii->rejected, e) < 0)
		goto out;
	if (strcmp(ii->processed, ii->mailbox) == 0 || strcmp(ii->rejected, ii->mailbox) == 0) {
		err_set(e, "[mail] imap_processed and imap_rejected must differ from the watched mailbox");
		goto out;
	}
	ii->max_size = (size_t)conf_int(c, "limits", "message_size");
	ii->expunge = conf_int(c, "mail", "imap_processed_delete") != 0;
	ii->poll_ms = conf_int(c, "mail", "imap_poll") * 1000;
	if (ii->poll_ms <= 0)
		ii->poll_ms = 60000;
	ii->trust = X509_STORE_new();
	if (ii->trust == NULL || X509_STORE_set_default_paths(ii->trust) != 1) {
		err_tmp(e, "cannot load the system's trusted certificates");
		goto out;
	}
	*out = ii;
	rc = 0;
out:
	if (rc < 0)
		imap_intake_free(&ii);
	return rc;
}

/* ---- connection ---- */

static void drop(struct imap_intake *ii, int polite)
{
	if (ii->imap == NULL)
		return;
	if (polite) {
		if (ii->idling)
			mailimap_idle_done(ii->imap);
		mailimap_logout(ii->imap);
	}
	mailimap_free(ii->imap);
	ii->imap = NULL;
	ii->idling = 0;
}

void imap_intake_free(struct imap_intake **pii)
{
	struct imap_intake *ii = pii != NULL ? *pii : NULL;
	if (ii == NULL)
		return;
	drop(ii, 1);
	if (ii->pass != NULL) {
		secure_wipe(ii->pass, strlen(ii->pass));
		free(ii->pass);
	}
	X509_STORE_free(ii->trust);
	free(ii);
	*pii = NULL;
}

static void tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
	struct imap_intake *ii = data;
	/* SNI names only (RFC 6066 3): never an IP literal. */
	if (!ii->host_is_ip)
		mailstream_ssl_set_server_name(ctx, ii->host);
}

/* The TLS handshake proved the server holds the leaf's key; check the
 * chain up to a trusted root, the purpose and the name we dialled. */
static int verify_server(struct imap_intake *ii, struct error *e)
{
	carray *chain = mailstream_get_certificate_chain(ii->imap->imap_stream);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	int rc = -1;

	if (chain == NULL || carray_count(chain) == 0 || untrusted == NULL || ctx == NULL) {
		err_tmp(e, "IMAP server sent no certificate");
		goto out;
	}
	for (unsigned i = 0; i < carray_count(chain); i++) {
		MMAPString *der = carray_get(chain, i);
		const unsigned char *p = (const unsigned char *)der->str;
		X509 *x = d2i_X509(NULL, &p, (long)der->len);
		if (x == NULL) {
			err_tmp(e, "IMAP server sent an unreadable certificate");
			goto out;
		}
		if (leaf == NULL) {
			leaf = x;
		} else if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			err_tmp(e, "out of memory checking the IMAP certificate");
			goto out;
		}
	}
	if (X509_STORE_CTX_init(ctx, ii->trust, leaf, untrusted) != 1) {
		err_tmp(e, "cannot check the IMAP server certificate");
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((ii->host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ii->host)
			    : X509_VERIFY_PARAM_set1_host(param, ii->host, 0)) != 1) {
		err_tmp(e, "cannot check the IMAP server certificate");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		err_tmp(e, "IMAP server certificate not accepted: %s",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	return rc;
}

static int refresh_caps(struct imap_intake *ii, struct error *e)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(ii->imap, &cap);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(ii, e, "CAPABILITY", r);
	mailimap_capability_data_free(cap);
	return 0;
}

/* STARTTLS by hand so that bytes the server (or a man in the middle) sent
 * after the OK are refused instead of being read as if protected
 * (CVE-2020-15953 in libetpan's own helper). */
static int starttls(struct imap_intake *ii, struct error *e)
{
	mailstream_low *low, *tls;
	int r = mailimap_starttls(ii->imap);

	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(ii, e, "STARTTLS", r);
	if (ii->imap->imap_stream->read_buffer_len != 0)
		return err_tmp(e, "IMAP server sent data after STARTTLS (possible injection)");
	low = mailstream_get_low(ii->imap->imap_stream);
	tls = mailstream_low_tls_open_with_callback_timeout(mailstream_low_get_fd(low), IMAP_INTAKE_NET_TIMEOUT,
							   tls_setup, ii);
	if (tls == NULL)
		return err_tmp(e, "IMAP STARTTLS handshake failed");
	mailstream_low_free(low);
	mailstream_set_low(ii->imap->imap_stream, tls);
	return 0;
}

/* LIST the folder; CREATE it when the server does not know it. */
static int ensure_folder(struct imap_intake *ii, const char *name, struct error *e)
{
	clist *list = NULL;
	int r = mailimap_list(ii->imap, "", name, &list);
	int n;

	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(ii, e, "LIST", r);
	n = clist_count(list);
	mailimap_list_result_free(list);
	if (n > 0)
		return 0;
	r = mailimap_create(ii->imap, name);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(ii, e, "CREATE", r);
	log_info("event=imap_folder_created folder=%s", name == ii->processed ? "processed" : "rejected");
	return 0;
}

static int connect_server(struct imap_intake *ii, struct error *e)
{
	int r;

	ii->imap = mailimap_new(0, NULL);
	if (ii->imap == NULL)
		return err_tmp(e, "out of memory");
	mailimap_set_timeout(ii->imap, IMAP_INTAKE_NET_TIMEOUT);
	if (ii->implicit_tls)
		r = mailimap_ssl_connect_with_callback(ii->imap, ii->host, ii->port, tls_setup, ii);
	else
		r = mailimap_socket_connect(ii->imap, ii->host, ii->port);
	if (r != MAILIMAP_NO_ERROR && r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		return fail_imap(ii, e, "connect", r);
	if (ii->implicit_tls) {
		ii->tls = TLS_IMPLICIT;
		if (verify_server(ii, e) < 0)
			return -1;
	} else {
		if (refresh_caps(ii, e) < 0)
			return -1;
		if (mailimap_has_extension(ii->imap, "STARTTLS")) {
			ii->tls = TLS_STARTTLS;
			if (starttls(ii, e) < 0 || verify_server(ii, e) < 0)
				return -1;
		} else if (ii->loopback) {
			ii->tls = TLS_NONE;
		} else {
			return err_set(e, "IMAP server %s offers no STARTTLS; plain text is allowed "
					  "only to loopback, use imaps://", ii->host);
		}
	}
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED || ii->tls == TLS_STARTTLS) {
		r = mailimap_login(ii->imap, ii->user, ii->pass);
		if (r != MAILIMAP_NO_ERROR)
			return fail_imap(ii, e, "LOGIN", r);
	}
	/* Capabilities change after login (RFC 3501 6.2.3). */
	if (refresh_caps(ii, e) < 0)
		return -1;
	ii->has_idle = mailimap_has_idle(ii->imap);
	ii->has_move = mailimap_has_extension(ii->imap, "MOVE");
	ii->has_uidplus = mailimap_has_uidplus(ii->imap);
	if (ensure_folder(ii, ii->processed, e) < 0 || ensure_folder(ii, ii->rejected, e) < 0)
		return -1;
	r = mailimap_select(ii->imap, ii->mailbox);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(ii, e, "SELECT", r);
	log_info("event=imap_connected port=%u tls=%s idle=%s move=%s uidplus=%s", ii->port,
		 ii->tls == TLS_IMPLICIT ? "implicit" : ii->tls == TLS_STARTTLS ? "starttls" : "none",
		 ii->has_idle ? "yes" : "no", ii->has_move ? "yes" : "no", ii->has_uidplus ? "yes" : "no");
	if (!ii->has_move && !ii->has_uidplus && !ii->warned_no_uidplus) {
		log_warn("event=imap_no_uidplus note=\"moved messages stay flagged \\\\Deleted in the mailbox\"");
		ii->warned_no_uidplus = 1;
	}
	return 0;
}

static void connection_failed(struct imap_intake *ii, const struct error *e)
{
	char q[ERR_MAX + 8];
	unsigned shift = ii->failures < 9 ? ii->failures : 9;
	int64_t delay = (int64_t)1 << shift;

	if (delay > IMAP_INTAKE_BACKOFF_MAX)
		delay = IMAP_INTAKE_BACKOFF_MAX;
	ii->failures++;
	ii->retry_at = mono_ms() + delay * 1000;
	drop(ii, 0);
	log_warn("event=imap_error reason=%s retry_in=%llds", log_quote(e->msg, q, sizeof(q)),
		 (long long)delay);
}

/* ---- messages ---- */

/* *refused is set when the server answered NO/BAD (the connection is fine). */
static int move_uid(struct imap_intake *ii, uint32_t uid, const char *folder, int *refused,
		    struct error *e)
{
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct mailimap_store_att_flags *att = NULL;
	struct mailimap_flag_list *fl;
	const char *what;
	int r, rc = -1;

	*refused = 0;
	if (set == NULL)
		return err_tmp(e, "out of memory");
	if (folder != NULL && ii->has_move) {
		what = "UID MOVE";
		r = mailimap_uid_move(ii->imap, set, folder);
		goto done;
	}
	/* folder NULL: no copy, the message is only deleted (expunged). */
	if (folder != NULL) {
		what = "UID COPY";
		r = mailimap_uid_copy(ii->imap, set, folder);
		if (r != MAILIMAP_NO_ERROR)
			goto done;
	}
	fl = mailimap_flag_list_new_empty();
	if (fl == NULL || mailimap_flag_list_add(fl, mailimap_flag_new_deleted()) != MAILIMAP_NO_ERROR ||
	    (att = mailimap_store_att_flags_new_add_flags_silent(fl)) == NULL) {
		if (fl != NULL)
			mailimap_flag_list_free(fl);
		err_tmp(e, "out of memory");
		goto out;
	}
	what = "UID STORE";
	r = mailimap_uid_store(ii->imap, set, att);
	/* Only this UID: never a plain EXPUNGE, which would also remove what
	 * other clients merely flagged. */
	if (r == MAILIMAP_NO_ERROR && ii->has_uidplus) {
		what = "UID EXPUNGE";
		r = mailimap_uid_expunge(ii->imap, set);
	}
done:
	if (r != MAILIMAP_NO_ERROR) {
		*refused = r != MAILIMAP_ERROR_STREAM && r != MAILIMAP_ERROR_PARSE &&
			   r != MAILIMAP_ERROR_MEMORY;
		fail_imap(ii, e, what, r);
		goto out;
	}
	rc = 0;
out:
	if (att != NULL)
		mailimap_store_att_flags_free(att);
	mailimap_set_free(set);
	return rc;
}

static int move_to(struct imap_intake *ii, uint32_t uid, const char *folder, struct error *e)
{
	int refused;

	if (move_uid(ii, uid, folder, &refused, e) == 0)
		return 0;
	if (!refused)
		return -1;
	/* Someone may have deleted the folder since we connected. */
	if (ensure_folder(ii, folder, e) < 0)
		return -1;
	return move_uid(ii, uid, folder, &refused, e);
}

/* A message intake is done with: moved to folder, or, with [mail]
 * imap_processed_delete, expunged (intake keeps what it needs: the SHA-256,
 * and a refused input sealed for [intake] keep_rejected). */
static int settle(struct imap_intake *ii, uint32_t uid, const char *folder, struct error *e)
{
	int refused;

	if (!ii->expunge)
		return move_to(ii, uid, folder, e);
	if (move_uid(ii, uid, NULL, &refused, e) < 0)
		return -1;
	log_info("event=imap_message uid=%u outcome=expunged%s", uid,
		 ii->has_uidplus ? "" : " note=flagged_deleted_only_no_uidplus");
	return 0;
}

/* Add a to ft; a is freed when that fails. */
static int add_att(struct mailimap_fetch_type *ft, struct mailimap_fetch_att *a)
{
	if (a == NULL)
		return -1;
	if (mailimap_fetch_type_new_fetch_att_list_add(ft, a) != MAILIMAP_NO_ERROR) {
		mailimap_fetch_att_free(a);
		return -1;
	}
	return 0;
}

struct msg_info {
	uint32_t uid;
	uint32_t size;
	int deleted;
};

static void read_att(struct mailimap_msg_att *ma, struct msg_info *mi, char **body, size_t *blen)
{
	for (clistiter *it = clist_begin(ma->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static != NULL) {
			struct mailimap_msg_att_static *st = item->att_data.att_static;
			if (st->att_type == MAILIMAP_MSG_ATT_UID)
				mi->uid = st->att_data.att_uid;
			else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
				mi->size = st->att_data.att_rfc822_size;
			else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && body != NULL &&
				 st->att_data.att_body_section != NULL) {
				*body = st->att_data.att_body_section->sec_body_part;
				*blen = st->att_data.att_body_section->sec_length;
			}
		} else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC && item->att_data.att_dyn != NULL &&
			   item->att_data.att_dyn->att_list != NULL) {
			for (clistiter *f = clist_begin(item->att_data.att_dyn->att_list); f != NULL;
			     f = clist_next(f)) {
				struct mailimap_flag_fetch *ff = clist_content(f);
				if (ff->fl_type == MAILIMAP_FLAG_FETCH_OTHER && ff->fl_flag != NULL &&
				    ff->fl_flag->fl_type == MAILIMAP_FLAG_DELETED)
					mi->deleted = 1;
			}
		}
	}
}

/* What a FETCH leaves behind (any of them may be NULL). */
static void fetch_free(clist *res, struct mailimap_fetch_type *ft, struct mailimap_set *set)
{
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
}

/* UID, size and flags of every message in the selected mailbox. */
static int list_messages(struct imap_intake *ii, struct msg_info **out, size_t *n, struct error *e)
{
	struct mailimap_set *set = mailimap_set_new_interval(1, 0); /* 1:* */
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	clist *res = NULL;
	struct msg_info *v = NULL;
	size_t k = 0;
	int r, rc = -1;

	*out = NULL;
	*n = 0;
	if (set == NULL || ft == NULL || add_att(ft, mailimap_fetch_att_new_uid()) < 0 ||
	    add_att(ft, mailimap_fetch_att_new_rfc822_size()) < 0 ||
	    add_att(ft, mailimap_fetch_att_new_flags()) < 0) {
		err_tmp(e, "out of memory");
		goto out;
	}
	r = mailimap_uid_fetch(ii->imap, set, ft, &res);
	if (r != MAILIMAP_NO_ERROR) {
		fail_imap(ii, e, "UID FETCH", r);
		goto out;
	}
	v = xcalloc((size_t)clist_count(res) + 1, sizeof(*v));
	for (clistiter *it = clist_begin(res); it != NULL; it = clist_next(it)) {
		struct msg_info mi = { 0, 0, 0 };
		read_att(clist_content(it), &mi, NULL, NULL);
		if (mi.uid != 0)
			v[k++] = mi;
	}
	*out = v;
	*n = k;
	v = NULL;
	rc = 0;
out:
	free(v);
	fetch_free(res, ft, set);
	return rc;
}

static int cmp_uid(const void *a, const void *b)
{
	const struct msg_info *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* One message: fetch (capped), intake, move by outcome.  -1 only on an
 * IMAP problem; intake's own failures are outcomes. */
static int process_one(struct imap_intake *ii, const struct msg_info *mi, struct error *e)
{
	struct mailimap_set *set = NULL;
	struct mailimap_fetch_type *ft = NULL;
	struct mailimap_section *sec = NULL;
	struct mailimap_fetch_att *fa = NULL;
	clist *res = NULL;
	char *body = NULL;
	size_t blen = 0;
	struct msg_info got = { 0, 0, 0 };
	enum intake_outcome o;
	uint64_t batch = 0;
	struct error ie = { { 0 }, 0 };
	char q[ERR_MAX + 8];
	int r, rc = -1;

	if ((size_t)mi->size > ii->max_size) {
		log_warn("event=imap_message uid=%u size=%u outcome=too_big limit=message_size", mi->uid,
			 mi->size);
		rc = move_to(ii, mi->uid, ii->rejected, e);
		goto out;
	}
	/* BODY.PEEK: a message we fail on stays unseen for the staff; the
	 * partial range caps what a lying RFC822.SIZE could make us hold. */
	set = mailimap_set_new_single(mi->uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	sec = mailimap_section_new(NULL); /* BODY.PEEK[]: the whole message */
	fa = sec != NULL ? mailimap_fetch_att_new_body_peek_section_partial(sec, 0, (uint32_t)ii->max_size + 1)
			 : NULL;
	if (fa == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || add_att(ft, fa) < 0 || add_att(ft, mailimap_fetch_att_new_uid()) < 0) {
		if (ft == NULL && fa != NULL)
			mailimap_fetch_att_free(fa);
		err_tmp(e, "out of memory");
		goto out;
	}
	r = mailimap_uid_fetch(ii->imap, set, ft, &res);
	if (r != MAILIMAP_NO_ERROR) {
		fail_imap(ii, e, "UID FETCH BODY.PEEK[]", r);
		goto out;
	}
	for (clistiter *it = clist_begin(res); it != NULL; it = clist_next(it)) {
		char *b = NULL;
		size_t bl = 0;
		struct msg_info x = { 0, 0, 0 };
		read_att(clist_content(it), &x, &b, &bl);
		if (x.uid == mi->uid && b != NULL) {
			got = x;
			body = b;
			blen = bl;
		}
	}
	if (got.uid == 0) {
		/* Expunged by another client in the meantime: nothing to do. */
		log_info("event=imap_message uid=%u outcome=vanished", mi->uid);
		rc = 0;
		goto out;
	}
	if (blen > ii->max_size) {
		log_warn("event=imap_message uid=%u size=%zu outcome=too_big limit=message_size", mi->uid, blen);
		rc = move_to(ii, mi->uid, ii->rejected, e);
		goto out;
	}
	o = intake_message(ii->in, (const uint8_t *)body, blen, "imap", &batch, &ie);
	switch (o) {
	case INTAKE_STORED:
	case INTAKE_DUPLICATE:
		log_info("event=imap_message uid=%u size=%zu outcome=%s batch=%llu", mi->uid, blen,
			 intake_outcome_name(o), (unsigned long long)batch);
		rc = settle(ii, mi->uid, ii->processed, e);
		break;
	case INTAKE_REFUSED:
	case INTAKE_DROPPED:
		log_info("event=imap_message uid=%u size=%zu outcome=%s", mi->uid, blen, intake_outcome_name(o));
		rc = settle(ii, mi->uid, ii->rejected, e);
		break;
	case INTAKE_TEMPFAIL:
	default:
		log_warn("event=imap_message uid=%u size=%zu outcome=tempfail reason=%s", mi->uid, blen,
			 log_quote(ie.msg, q, sizeof(q)));
		rc = 0;
		break;
	}
out:
	fetch_free(res, ft, set);
	return rc;
}

static int scan(struct imap_intake *ii, struct error *e)
{
	struct msg_info *v = NULL;
	size_t n = 0, done = 0, skipped = 0;
	int r, rc = -1;

	/* NOOP lets the server report what arrived since the last command. */
	r = mailimap_noop(ii->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(ii, e, "NOOP", r);
	if (list_messages(ii, &v, &n, e) < 0)
		goto out;
	qsort(v, n, sizeof(*v), cmp_uid);
	for (size_t i = 0; i < n; i++) {
		if (v[i].deleted) {
			/* flagged by a person, or our own move without UIDPLUS */
			skipped++;
			continue;
		}
		if (process_one(ii, &v[i], e) < 0)
			goto out;
		done++;
	}
	if (done > 0)
		log_info("event=imap_scan messages=%zu skipped_deleted=%zu", done, skipped);
	rc = 0;
out:
	free(v);
	return rc;
}

/* ---- the step ---- */

static int idle_news(struct imap_intake *ii)
{
	struct pollfd p;
	if (ii->imap->imap_stream->read_buffer_len > 0)
		return 1;
	p.fd = mailimap_idle_get_fd(ii->imap);
	p.events = POLLIN;
	p.revents = 0;
	return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Without IDLE this is the polling; with IDLE the periodic rescan retries
 * TEMPFAIL messages and renews the IDLE. */
static int64_t scan_interval(const struct imap_intake *ii)
{
	return ii->poll_ms > RESCAN_MAX_MS ? RESCAN_MAX_MS : ii->poll_ms;
}

int imap_intake_step(struct imap_intake *ii, int timeout_ms, struct error *e)
{
	int64_t now = mono_ms();
	int64_t deadline = now + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		int64_t until;
		int r;

		now = mono_ms();
		if (ii->imap == NULL) {
			if (now < ii->retry_at) {
				until = ii->retry_at < deadline ? ii->retry_at : deadline;
				if (until > now)
					poll(NULL, 0, (int)(until - now));
				if (mono_ms() < ii->retry_at)
					return 0;
			}
			if (connect_server(ii, e) < 0) {
				connection_failed(ii, e);
				return -1;
			}
			ii->failures = 0;
			ii->retry_at = 0;
			ii->next_scan = 0; /* scan now */
			now = mono_ms();
		}
		if (ii->idling && (idle_news(ii) || now >= ii->next_scan)) {
			ii->idling = 0;
			r = mailimap_idle_done(ii->imap);
			if (r != MAILIMAP_NO_ERROR) {
				fail_imap(ii, e, "IDLE DONE", r);
				connection_failed(ii, e);
				return -1;
			}
			ii->next_scan = 0;
		}
		if (now >= ii->next_scan) {
			if (scan(ii, e) < 0) {
				connection_failed(ii, e);
				return -1;
			}
			ii->next_scan = mono_ms() + scan_interval(ii);
		}
		if (ii->has_idle && !ii->idling) {
			r = mailimap_idle(ii->imap);
			if (r != MAILIMAP_NO_ERROR) {
				fail_imap(ii, e, "IDLE", r);
				connection_failed(ii, e);
				return -1;
			}
			ii->idling = 1;
			if (idle_news(ii))
				continue; /* something arrived while entering IDLE */
		}
		now = mono_ms();
		if (now >= deadline)
			return 0;
		until = ii->next_scan < deadline ? ii->next_scan : deadline;
		if (until > now) {
			if (ii->idling) {
				struct pollfd p = { mailimap_idle_get_fd(ii->imap), POLLIN, 0 };
				poll(&p, 1, (int)(until - now));
			} else {
				poll(NULL, 0, (int)(until - now));
			}
		}
	}
}

int imap_intake_fd(const struct imap_intake *ii)
{
	if (ii == NULL || ii->imap == NULL || !ii->idling)
		return -1;
	return mailimap_idle_get_fd(ii->imap);
}

int imap_intake_next_ms(const struct imap_intake *ii)
{
	int64_t now = mono_ms(), at = ii->imap == NULL ? ii->retry_at : ii->next_scan;
	if (at <= now)
		return 0;
	return at - now > INT32_MAX ? INT32_MAX : (int)(at - now);
}

int imap_intake_connected(const struct imap_intake *ii)
{
	return ii != NULL && ii->imap != NULL;
}
