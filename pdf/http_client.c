/*
 * http_client.c — a small HTTP/1.1 client (http:// and https://) and its
 * response parser, Content-Length and chunked bodies included.
 * Runs in the gateway and in the `tayori pdf sign` CLI (no key material).
 *
 * Standards: RFC 9112 (request line, header fields, Content-Length and the
 * chunked coding, §6 and §7.1), RFC 9110, TLS 1.2+ (RFC 5246, RFC 8446)
 * with the server certificate checked per RFC 6125 (host name or IP).
 *
 * One request per connection, a deadline on the whole exchange and a cap
 * on every byte read, so a slow or hostile server can neither stall nor
 * bloat us.  The parser takes the bytes as received and trusts none of
 * them; it is what the unit tests and the fuzz target exercise.
 */
#include "pdf/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CHUNK_DIGITS_MAX 15

struct url_parts {
	int tls;
	char host[256];
	char port[8];
	char path[2048];
};

static int url_parse(const char *url, struct url_parts *u, struct error *e)
{
	const char *p, *slash, *colon;
	size_t hlen;
	if (strncasecmp(url, "http://", 7) == 0) {
		u->tls = 0;
		p = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		u->tls = 1;
		p = url + 8;
	} else {
		return err_set(e, "only http:// and https:// URLs are supported: %s", url);
	}
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	hlen = (size_t)((colon ? colon : slash) - p);
	if (hlen == 0 || hlen >= sizeof(u->host) || memchr(p, '@', hlen) != NULL)
		return err_set(e, "bad host in URL %s", url);
	memcpy(u->host, p, hlen);
	u->host[hlen] = '\0';
	if (colon != NULL) {
		size_t plen = (size_t)(slash - colon - 1);
		int64_t port;
		char tmp[8];
		if (plen == 0 || plen >= sizeof(tmp))
			return err_set(e, "bad port in URL %s", url);
		memcpy(tmp, colon + 1, plen);
		tmp[plen] = '\0';
		if (parse_int64(tmp, 1, 65535, &port) < 0)
			return err_set(e, "bad port in URL %s", url);
		str_copy(u->port, tmp, sizeof(u->port));
	} else {
		str_copy(u->port, u->tls ? "443" : "80", sizeof(u->port));
	}
	if (*slash == '\0')
		str_copy(u->path, "/", sizeof(u->path));
	else if (str_copy(u->path, slash, sizeof(u->path)) >= sizeof(u->path))
		return err_set(e, "URL path too long: %s", url);
	for (const char *q = u->path; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(e, "bad character in URL %s", url);
	for (const char *q = u->host; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(e, "bad character in URL %s", url);
	return 0;
}

/* ------------------------------------------------------------ parser */

/* Find the end of the head ("\r\n\r\n"); returns its length or 0. */
static size_t head_end(const uint8_t *p, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n')
			return i + 1;
	return 0;
}

static int is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int name_is(const uint8_t *l, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp((const char *)l, name, n) == 0;
}

/* One header field line (without CRLF): checks it and notes framing. */
static int head_field(const uint8_t *l, size_t n, int64_t *clen, int *chunked, struct error *e)
{
	size_t colon = 0, v, vend;
	while (colon < n && is_tchar(l[colon]))
		colon++;
	if (colon == 0 || colon >= n || l[colon] != ':')
		return err_set(e, "malformed HTTP header line");
	for (size_t i = colon + 1; i < n; i++)
		if ((l[i] < ' ' && l[i] != '\t') || l[i] == 0x7f)
			return err_set(e, "control character in an HTTP header");
	v = colon + 1;
	while (v < n && (l[v] == ' ' || l[v] == '\t'))
		v++;
	vend = n;
	while (vend > v && (l[vend - 1] == ' ' || l[vend - 1] == '\t'))
		vend--;
	if (name_is(l, colon, "Content-Length")) {
		int64_t val = 0;
		if (vend == v || vend - v > 18)
			return err_set(e, "bad Content-Length");
		for (size_t i = v; i < vend; i++) {
			if (l[i] < '0' || l[i] > '9')
				return err_set(e, "bad Content-Length");
			val = val * 10 + (l[i] - '0');
		}
		if (*clen >= 0 && *clen != val)
			return err_set(e, "conflicting Content-Length headers");
		*clen = val;
	} else if (name_is(l, colon, "Transfer-Encoding")) {
		/* Only "chunked" alone is understood; anything else cannot be framed. */
		if (vend - v != 7 || strncasecmp((const char *)l + v, "chunked", 7) != 0)
			return err_set(e, "unsupported Transfer-Encoding");
		*chunked = 1;
	}
	return 0;
}

int http_parse_head(const uint8_t *p, size_t n, size_t *head_len, int *status,
    int64_t *content_length, int *chunked, struct error *e)
{
	size_t hlen = head_end(p, n < HTTP_HEAD_MAX ? n : HTTP_HEAD_MAX), i;
	if (hlen == 0) {
		if (n >= HTTP_HEAD_MAX)
			return err_set(e, "the HTTP response head exceeds %d bytes", HTTP_HEAD_MAX);
		/* Fail early when what we have cannot start a status line. */
		if (n >= 7 && memcmp(p, "HTTP/1.", 7) != 0)
			return err_set(e, "not an HTTP/1.x response");
		return 0;
	}
	/* Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF */
	if (hlen < 14 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (p[12] != ' ' && p[12] != '\r'))
		return err_set(e, "not an HTTP/1.x status line");
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	*content_length = -1;
	*chunked = 0;
	i = 12;
	while (i < hlen && p[i] != '\n')
		i++;
	if (i >= hlen || p[i - 1] != '\r')
		return err_set(e, "not an HTTP/1.x status line");
	for (size_t j = 12; j + 1 < i; j++)
		if ((p[j] < ' ' && p[j] != '\t') || p[j] == 0x7f)
			return err_set(e, "control character in the HTTP status line");
	i++;
	while (i + 2 < hlen) {
		size_t s = i;
		while (i < hlen && p[i] != '\n')
			i++;
		if (i >= hlen || i == s || p[i - 1] != '\r')
			return err_set(e, "malformed HTTP header line");
		if (head_field(p + s, i - 1 - s, content_length, chunked, e) < 0)
			return -1;
		i++;
	}
	if (*chunked)
		*content_length = -1; /* RFC 9112 §6.3: chunked wins */
	*head_len = hlen;
	return 1;
}

/* Read one CRLF-terminated line starting at *i; returns its length without CRLF. */
static int take_line(const uint8_t *p, size_t n, size_t *i, size_t *len)
{
	size_t s = *i;
	while (*i < n && p[*i] != '\n')
		(*i)++;
	if (*i >= n || *i == s || p[*i - 1] != '\r')
		return -1;
	*len = *i - 1 - s;
	(*i)++;
	return 0;
}

/* A chunked body (RFC 9112 §7.1) at p (n bytes), into out. */
static int dechunk(const uint8_t *p, size_t n, struct buf *out, struct error *e)
{
	size_t i = 0;
	for (;;) {
		size_t size = 0, s = i, len;
		int digits = 0;
		while (i < n && ((p[i] >= '0' && p[i] <= '9') || ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f'))) {
			unsigned d = p[i] <= '9' ? (unsigned)(p[i] - '0') : (unsigned)((p[i] | 0x20) - 'a' + 10);
			if (++digits > CHUNK_DIGITS_MAX)
				return err_set(e, "a chunk size is too long");
			size = size * 16 + d;
			i++;
		}
		if (digits == 0)
			return err_set(e, "a chunk size is missing");
		if (i < n && p[i] != '\r' && p[i] != ';' && p[i] != ' ' && p[i] != '\t')
			return err_set(e, "bad chunk size");
		i = s;
		if (take_line(p, n, &i, &len) < 0)
			return err_set(e, "truncated or bad chunk size line");
		for (size_t j = s; j < s + len; j++)
			if ((p[j] < ' ' && p[j] != '\t') || p[j] == 0x7f)
				return err_set(e, "control character in a chunk extension");
		if (size == 0)
			break;
		if (n - i < size || n - i - size < 2)
			return err_set(e, "truncated chunk");
		if (buf_append(out, p + i, size) < 0)
			return err_set(e, "the response body is too large");
		i += size;
		if (p[i] != '\r' || p[i + 1] != '\n')
			return err_set(e, "a chunk does not end with CRLF");
		i += 2;
	}
	/* Trailer fields, then the empty line. */
	for (;;) {
		size_t s = i;
		if (n - i >= 2 && p[i] == '\r' && p[i + 1] == '\n')
			return 0;
		while (i < n && p[i] != '\n')
			i++;
		if (i >= n || i == s || p[i - 1] != '\r')
			return err_set(e, "truncated chunked trailer");
		i++;
	}
}

int http_parse_response(const uint8_t *p, size_t n, int *status, struct buf *body,
    struct error *e)
{
	size_t hlen = 0;
	int64_t clen;
	int chunked, r;

	r = http_parse_head(p, n, &hlen, status, &clen, &chunked, e);
	if (r < 0)
		return -1;
	if (r == 0)
		return err_set(e, "incomplete HTTP response head");
	p += hlen;
	n -= hlen;
	if (chunked)
		return dechunk(p, n, body, e);
	if (clen >= 0) {
		if ((uint64_t)clen > (uint64_t)(body->max - body->len))
			return err_set(e, "the response body is too large (%lld bytes)", (long long)clen);
		if ((uint64_t)n < (uint64_t)clen)
			return err_set(e, "truncated response body (%zu of %lld bytes)", n, (long long)clen);
		n = (size_t)clen;
	}
	if (buf_append(body, p, n) < 0)
		return err_set(e, "the response body is too large");
	return 0;
}

/* ---------------------------------------------------------- transport */

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int64_t deadline;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events before the deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { fd, events, 0 };
		int64_t left = deadline - now_ms();
		int n;
		if (left <= 0)
			return -1;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int tcp_connect(const struct url_parts *u, int64_t deadline, struct error *e)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc != 0)
		return err_tmp(e, "cannot resolve %s: %s", u->host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err_tmp(e, "cannot connect to %s port %s", u->host, u->port);
	return fd;
}

/* Wait as an SSL call asks; -1 on a real failure or the deadline. */
static int ssl_wait(struct conn *c, int ret)
{
	int err = SSL_get_error(c->ssl, ret);
	if (err == SSL_ERROR_WANT_READ)
		return wait_fd(c->fd, POLLIN, c->deadline);
	if (err == SSL_ERROR_WANT_WRITE)
		return wait_fd(c->fd, POLLOUT, c->deadline);
	return -1;
}

static int tls_start(struct conn *c, const struct url_parts *u, struct error *e)
{
	unsigned char ip[16];
	int is_ip = inet_pton(AF_INET, u->host, ip) == 1 || inet_pton(AF_INET6, u->host, ip) == 1;
	int r;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION))
		goto ossl;
	/* The system store; SSL_CERT_FILE / SSL_CERT_DIR name other anchors. */
	if (!SSL_CTX_set_default_verify_paths(c->ctx))
		goto ossl;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd))
		goto ossl;
	if (is_ip) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host))
			goto ossl;
	} else if (!SSL_set_tlsext_host_name(c->ssl, u->host) || !SSL_set1_host(c->ssl, u->host)) {
		goto ossl;
	}
	while ((r = SSL_connect(c->ssl)) != 1) {
		long vr = SSL_get_verify_result(c->ssl);
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_SSL && vr != X509_V_OK) {
			ERR_clear_error();
			return err_set(e, "TLS: the certificate of %s is not trusted: %s", u->host,
			    X509_verify_cert_error_string(vr));
		}
		if (ssl_wait(c, r) < 0) {
			ERR_clear_error();
			return err_tmp(e, "TLS handshake with %s failed", u->host);
		}
	}
	return 0;
ossl:
	ERR_clear_error();
	return err_tmp(e, "cannot set up TLS for %s", u->host);
}

static int conn_send(struct conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (c->ssl != NULL) {
			int w = SSL_write(c->ssl, p, n > 65536 ? 65536 : (int)n);
			if (w > 0) {
				p += w;
				n -= (size_t)w;
			} else if (ssl_wait(c, w) < 0) {
				return -1;
			}
			continue;
		}
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, POLLOUT, c->deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Some bytes into tmp: >0 read, 0 end of stream, -1 error, -2 timeout. */
static ssize_t conn_recv(struct conn *c, uint8_t *tmp, size_t size)
{
	for (;;) {
		if (c->ssl != NULL) {
			int r = SSL_read(c->ssl, tmp, (int)size);
			int err;
			if (r > 0)
				return r;
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
				if (ssl_wait(c, r) < 0)
					return -2;
				continue;
			}
			/* A peer that closes without close_notify: the framing
			 * checks of http_parse_response() catch a cut body. */
			ERR_clear_error();
			return 0;
		}
		ssize_t r = recv(c->fd, tmp, size, 0);
		if (r >= 0)
			return r;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (wait_fd(c->fd, POLLIN, c->deadline) < 0)
			return -2;
	}
}

static int build_request(struct buf *req, const struct url_parts *u, const char *method,
    const char *content_type, const uint8_t *body, size_t bodylen)
{
	int dflt = strcmp(u->port, u->tls ? "443" : "80") == 0;
	if (buf_printf(req, "%s %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: tayori/%s\r\n"
	    "Connection: close\r\n", method, u->path, u->host, dflt ? "" : ":", dflt ? "" : u->port,
	    TAYORI_VERSION) < 0)
		return -1;
	if (body != NULL && buf_printf(req, "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    content_type ? content_type : "application/octet-stream", bodylen) < 0)
		return -1;
	if (buf_append_str(req, "\r\n") < 0 || (body && buf_append(req, body, bodylen) < 0))
		return -1;
	return 0;
}

int http_request(const char *url, const char *method, const char *content_type,
    const uint8_t *body, size_t bodylen, int timeout_ms, struct buf *out,
    struct error *e)
{
	struct url_parts u;
	struct buf req, resp;
	struct conn c = { -1, NULL, NULL, now_ms() + timeout_ms };
	int rc = -1, status = 0, have_head = 0, chunked = 0;
	size_t hlen = 0, out_len0 = out->len;
	int64_t clen = -1;
	struct error pe;

	buf_init(&req, HTTP_HEAD_MAX + bodylen);
	buf_init(&resp, HTTP_HEAD_MAX + out->max + 65536);
	if (url_parse(url, &u, e) < 0)
		goto out;
	if (build_request(&req, &u, method, content_type, body, bodylen) < 0) {
		err_set(e, "HTTP request too large for %s", url);
		goto out;
	}
	c.fd = tcp_connect(&u, c.deadline, e);
	if (c.fd < 0)
		goto out;
	if (u.tls && tls_start(&c, &u, e) < 0)
		goto out;
	if (conn_send(&c, req.data, req.len) < 0) {
		err_tmp(e, "cannot send the request to %s", u.host);
		goto out;
	}
	for (;;) {
		uint8_t tmp[16384];
		ssize_t r = conn_recv(&c, tmp, sizeof(tmp));
		if (r == 0)
			break;
		if (r < 0) {
			err_tmp(e, r == -2 ? "timeout waiting for %s" : "error reading from %s", u.host);
			goto out;
		}
		if (buf_append(&resp, tmp, (size_t)r) < 0) {
			err_set(e, "the response from %s is too large", u.host);
			goto out;
		}
		if (!have_head) {
			int h = http_parse_head(resp.data, resp.len, &hlen, &status, &clen, &chunked, &pe);
			if (h < 0) {
				err_tmp(e, "%s: %s", u.host, pe.msg);
				goto out;
			}
			have_head = h;
		}
		if (have_head && !chunked && clen >= 0 && resp.len - hlen >= (uint64_t)clen)
			break;
	}
	if (http_parse_response(resp.data, resp.len, &status, out, &pe) < 0) {
		err_tmp(e, "bad HTTP response from %s: %s", u.host, pe.msg);
		goto out;
	}
	if (status != 200) {
		err_tmp(e, "%s answered HTTP %d", u.host, status);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		out->len = out_len0;
	if (c.ssl != NULL)
		SSL_free(c.ssl);
	SSL_CTX_free(c.ctx);
	if (c.fd >= 0)
		close(c.fd);
	buf_free(&req);
	buf_free(&resp);
	return rc;
}
