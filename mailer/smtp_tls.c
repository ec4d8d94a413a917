/*
 * smtp_tls.c — the SMTP client's session set-up steps that libetpan does
 * not do as we need (see smtp.h): EHLO with our configured name, STARTTLS
 * with the server certificate checked by OpenSSL (Debian's libetpan uses
 * GnuTLS without verifying), and AUTH PLAIN / LOGIN without Cyrus SASL
 * plug-ins.  Runs in the mailer process.
 * Standards: RFC 5321 4.1.1.1, RFC 3207, RFC 6125 / RFC 5280, RFC 4954,
 * RFC 4616 (PLAIN).
 */
#include "mailer/smtp_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define REPLY_MAX 4096 /* octets of one reply kept */
#define REPLY_LINES_MAX 100
#define CMD_MAX 1024

static int put_line(struct smtp_conn *c, const char *line)
{
	size_t n = strlen(line);
	if (mailstream_write(c->s->stream, line, n) != (ssize_t)n ||
	    mailstream_write(c->s->stream, "\r\n", 2) != 2 || mailstream_flush(c->s->stream) != 0)
		return -1;
	return 0;
}

int smtp_cmd(struct smtp_conn *c, const char *line)
{
	int code = 0, lines = 0;
	char *l;

	c->s->response_code = 0;
	mmap_string_assign(c->s->response_buffer, "");
	c->s->response = c->s->response_buffer->str;
	if (line != NULL && put_line(c, line) < 0)
		return 0;
	for (;;) {
		l = mailstream_read_line_remove_eol(c->s->stream, c->s->line_buffer);
		if (l == NULL || strlen(l) < 3 || ++lines > REPLY_LINES_MAX)
			return 0;
		code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (code < 200 || code > 599 || (l[3] != ' ' && l[3] != '-' && l[3] != '\0'))
			return 0;
		if (c->s->response_buffer->len + strlen(l) < REPLY_MAX) {
			mmap_string_append(c->s->response_buffer, l[3] ? l + 4 : "");
			mmap_string_append(c->s->response_buffer, "\n");
		}
		if (l[3] != '-')
			break;
	}
	c->s->response = c->s->response_buffer->str;
	c->s->response_code = code;
	return code;
}

static void note_ehlo_line(struct smtp_conn *c, const char *kw)
{
	if (strcasecmp(kw, "STARTTLS") == 0)
		c->s->esmtp |= MAILSMTP_ESMTP_STARTTLS;
	else if (strcasecmp(kw, "PIPELINING") == 0)
		c->s->esmtp |= MAILSMTP_ESMTP_PIPELINING;
	else if (strncasecmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=')) {
		char buf[512];
		str_copy(buf, kw + 5, sizeof buf);
		for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			if (strcasecmp(t, "PLAIN") == 0)
				c->s->auth |= MAILSMTP_AUTH_PLAIN;
			else if (strcasecmp(t, "LOGIN") == 0)
				c->s->auth |= MAILSMTP_AUTH_LOGIN;
		}
	}
}

int smtp_ehlo(struct smtp_conn *c, struct error *e)
{
	char line[CMD_MAX];
	char *copy, *save = NULL;

	snprintf(line, sizeof line, "EHLO %s", c->helo);
	if (smtp_cmd(c, line) != 250)
		return err_tmp(e, "SMTP relay %s refused EHLO: %d", c->host, c->s->response_code);
	c->s->esmtp = MAILSMTP_ESMTP;
	c->s->auth = 0;
	copy = xstrdup(c->s->response);
	/* The first line is the greeting name; the others are keywords. */
	strtok_r(copy, "\n", &save);
	for (char *k = strtok_r(NULL, "\n", &save); k; k = strtok_r(NULL, "\n", &save))
		note_ehlo_line(c, k);
	free(copy);
	return 0;
}

static X509_STORE *trust_store(const struct smtp_conn *c, struct error *e)
{
	X509_STORE *st = X509_STORE_new();
	int ok;

	if (st == NULL) {
		err_tmp(e, "out of memory");
		return NULL;
	}
	ok = c->ca_file[0] ? X509_STORE_load_locations(st, c->ca_file, NULL)
			   : X509_STORE_set_default_paths(st);
	if (ok != 1) {
		X509_STORE_free(st);
		err_tmp(e, "cannot load the CAs for the SMTP relay%s%s", c->ca_file[0] ? " from " : "",
			c->ca_file);
		return NULL;
	}
	return st;
}

static int check_chain(struct smtp_conn *c, X509 *leaf, STACK_OF(X509) *untrusted, struct error *e)
{
	X509_STORE *st = trust_store(c, e);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool is_ip = false;
	int rc = -1;
	unsigned char tmp[16];

	if (st == NULL || ctx == NULL || X509_STORE_CTX_init(ctx, st, leaf, untrusted) != 1) {
		err_tmp(e, "cannot check the SMTP relay certificate");
		goto out;
	}
	is_ip = inet_pton(AF_INET, c->host, tmp) == 1 || inet_pton(AF_INET6, c->host, tmp) == 1;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, c->host) : X509_VERIFY_PARAM_set1_host(param, c->host, 0)) !=
	    1) {
		err_tmp(e, "cannot check the SMTP relay certificate");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		err_tmp(e, "SMTP relay %s certificate not accepted: %s", c->host,
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return rc;
}

/* The handshake proved the server holds the leaf's key; check the chain,
 * the purpose and the name we dialled. */
static int verify_server(struct smtp_conn *c, struct error *e)
{
	carray *chain = mailstream_get_certificate_chain(c->s->stream);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *leaf = NULL;
	int rc = -1;

	if (chain == NULL || carray_count(chain) == 0 || untrusted == NULL) {
		err_tmp(e, "SMTP relay %s sent no certificate", c->host);
		goto out;
	}
	for (unsigned i = 0; i < carray_count(chain); i++) {
		MMAPString *der = carray_get(chain, i);
		const unsigned char *p = (const unsigned char *)der->str;
		X509 *x = d2i_X509(NULL, &p, (long)der->len);
		if (x == NULL) {
			err_tmp(e, "SMTP relay %s sent an unreadable certificate", c->host);
			goto out;
		}
		if (leaf == NULL) {
			leaf = x;
		} else if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			err_tmp(e, "out of memory");
			goto out;
		}
	}
	rc = check_chain(c, leaf, untrusted, e);
out:
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	return rc;
}

static void tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
	struct smtp_conn *c = data;
	unsigned char tmp[16];
	/* SNI carries names only (RFC 6066 3), never an address. */
	if (inet_pton(AF_INET, c->host, tmp) != 1 && inet_pton(AF_INET6, c->host, tmp) != 1)
		mailstream_ssl_set_server_name(ctx, c->host);
}

/* STARTTLS by hand: bytes sent after the 220 (before the handshake) are
 * refused, not read as if protected (the STARTTLS injection attack). */
int smtp_tls_start(struct smtp_conn *c, struct error *e)
{
	mailstream_low *low, *tls;

	if (smtp_cmd(c, "STARTTLS") != 220)
		return err_tmp(e, "SMTP relay %s refused STARTTLS: %d", c->host, c->s->response_code);
	if (c->s->stream->read_buffer_len != 0)
		return err_tmp(e, "SMTP relay %s sent data after STARTTLS (possible injection)", c->host);
	low = mailstream_get_low(c->s->stream);
	tls = mailstream_low_tls_open_with_callback_timeout(mailstream_low_get_fd(low), c->reply_timeout, tls_setup,
							   c);
	if (tls == NULL)
		return err_tmp(e, "SMTP relay %s: TLS handshake failed", c->host);
	mailstream_low_free(low);
	mailstream_set_low(c->s->stream, tls);
	if (verify_server(c, e) < 0)
		return -1;
	c->tls = true;
	return smtp_ehlo(c, e);
}

int smtp_tls_implicit(struct smtp_conn *c, int fd, struct error *e)
{
	mailstream *st = mailstream_ssl_open_with_callback_timeout(fd, c->reply_timeout, tls_setup, c);
	int r;

	if (st == NULL) {
		close(fd);
		return err_tmp(e, "SMTP relay %s: TLS handshake failed", c->host);
	}
	c->s->response_code = 0;
	r = mailsmtp_connect(c->s, st);
	if (r != MAILSMTP_NO_ERROR)
		return err_tmp(e, "SMTP relay %s refused the connection: %d %s", c->host,
			       c->s->response_code, c->s->response ? c->s->response : "");
	if (verify_server(c, e) < 0)
		return -1;
	c->tls = true;
	return smtp_ehlo(c, e);
}

static void b64(char *dst, size_t n, const unsigned char *src, size_t len)
{
	if (4 * ((len + 2) / 3) + 1 > n) {
		dst[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)dst, src, (int)len);
}

static int auth_login(struct smtp_conn *c, const char *user, const char *pass, char *line, size_t n)
{
	char enc[CMD_MAX];

	if (smtp_cmd(c, "AUTH LOGIN") != 334)
		return -1;
	b64(enc, sizeof enc, (const unsigned char *)user, strlen(user));
	if (smtp_cmd(c, enc) != 334)
		return -1;
	b64(line, n, (const unsigned char *)pass, strlen(pass));
	return smtp_cmd(c, line) == 235 ? 0 : -1;
}

int smtp_auth(struct smtp_conn *c, const char *user, const char *env, struct error *e)
{
	const char *pass = env && *env ? getenv(env) : NULL;
	unsigned char raw[600];
	char line[CMD_MAX];
	size_t ul, pl;
	int rc = -1;

	if (pass == NULL)
		return err_set(e, "SMTP password variable %s is not set", env && *env ? env : "(none configured)");
	ul = strlen(user);
	pl = strlen(pass);
	if (ul > 255 || pl > 255 || strpbrk(user, "\r\n") || strpbrk(pass, "\r\n"))
		return err_set(e, "SMTP user or password too long or holding a line break");
	if (c->s->auth & MAILSMTP_AUTH_PLAIN) {
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		memcpy(line, "AUTH PLAIN ", 11);
		b64(line + 11, sizeof line - 11, raw, 2 + ul + pl);
		rc = smtp_cmd(c, line) == 235 ? 0 : -1;
	} else if (c->s->auth & MAILSMTP_AUTH_LOGIN) {
		rc = auth_login(c, user, pass, line, sizeof line);
	} else {
		return err_set(e, "SMTP relay %s offers neither AUTH PLAIN nor LOGIN", c->host);
	}
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(line, sizeof line);
	if (rc < 0)
		return err_tmp(e, "SMTP relay %s refused AUTH for %s: %d", c->host, user, c->s->response_code);
	return 0;
}
