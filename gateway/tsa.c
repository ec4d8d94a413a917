/*
 * tsa.c — RFC 3161 time-stamp requests over a minimal HTTP/1.1 client.
 * Runs in the gateway and in the `tayori pdf sign` CLI (no key material).
 *
 * Standards: RFC 3161 (TimeStampReq/TimeStampResp, HTTP transport with
 * application/timestamp-query and application/timestamp-reply), RFC 9112
 * (HTTP/1.1 request line, headers, Content-Length and chunked bodies).
 *
 * The HTTP client is deliberately small: one request per TCP connection,
 * http:// only, a deadline on the whole exchange and a cap on every byte
 * read, so a slow or hostile server can neither stall nor bloat us.
 */
#include "gateway/tsa.h"

#include <errno.h>
#include <fcntl.h>
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
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#define HTTP_HEAD_MAX 16384

struct url_parts {
	char host[256];
	char port[8];
	char path[2048];
};

static int url_parse(const char *url, struct url_parts *u, struct error *e)
{
	const char *p, *slash, *colon;
	size_t hlen;
	if (strncasecmp(url, "http://", 7) != 0)
		return err_set(e, "only http:// URLs are supported: %s", url);
	p = url + 7;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	hlen = (size_t)((colon ? colon : slash) - p);
	if (hlen == 0 || hlen >= sizeof(u->host))
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
		str_copy(u->port, "80", sizeof(u->port));
	}
	if (*slash == '\0')
		str_copy(u->path, "/", sizeof(u->path));
	else if (str_copy(u->path, slash, sizeof(u->path)) >= sizeof(u->path))
		return err_set(e, "URL path too long: %s", url);
	for (const char *q = u->path; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return err_set(e, "bad character in URL %s", url);
	return 0;
}

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

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Find the end of the header block ("\r\n\r\n"); returns its length or 0. */
static size_t head_end(const uint8_t *p, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n')
			return i + 1;
	return 0;
}

/* Value of a header (case-insensitive name) within the head, into out. */
static int header_value(const char *head, const char *name, char *out, size_t outsize)
{
	size_t nlen = strlen(name);
	const char *line = strstr(head, "\r\n");
	while (line != NULL && line[2] != '\r' && line[2] != '\0') {
		const char *l = line + 2, *end = strstr(l, "\r\n");
		if (end == NULL)
			return -1;
		if ((size_t)(end - l) > nlen && strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
			const char *v = l + nlen + 1;
			size_t vlen;
			while (*v == ' ' || *v == '\t')
				v++;
			vlen = (size_t)(end - v);
			while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= outsize)
				return -1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		line = end;
	}
	return -1;
}

/* Decode a chunked body (RFC 9112 §7.1) from in into out. */
static int dechunk(const uint8_t *in, size_t n, struct buf *out, int *complete)
{
	size_t i = 0;
	*complete = 0;
	for (;;) {
		size_t size = 0, start = i;
		int digits = 0;
		while (i < n && ((in[i] >= '0' && in[i] <= '9') || (in[i] >= 'a' && in[i] <= 'f') ||
		    (in[i] >= 'A' && in[i] <= 'F'))) {
			unsigned d = in[i] <= '9' ? in[i] - '0' : (in[i] | 0x20) - 'a' + 10;
			if (size > (SIZE_MAX >> 4) - 16)
				return -1;
			size = size * 16 + d;
			i++;
			digits++;
		}
		if (digits == 0 || digits > 15)
			return i >= n && start == i ? 0 : -1;
		while (i < n && in[i] != '\n') /* chunk extensions */
			i++;
		if (i >= n)
			return 0;
		i++;
		if (size == 0) {
			*complete = 1;
			return 0;
		}
		if (n - i < size + 2)
			return 0;
		if (buf_append(out, in + i, size) < 0)
			return -1;
		i += size;
		if (in[i] != '\r' || in[i + 1] != '\n')
			return -1;
		i += 2;
	}
}

int tsa_http_request(const char *url, const char *method, const char *content_type,
    const uint8_t *body, size_t bodylen, int timeout_ms, struct buf *out,
    struct error *e)
{
	struct url_parts u;
	struct buf req, resp;
	int64_t deadline = now_ms() + timeout_ms;
	int fd = -1, rc = -1, status;
	size_t hlen = 0;
	char head[HTTP_HEAD_MAX + 1], val[64];
	int64_t clen = -1;
	int chunked = 0;

	buf_init(&req, HTTP_HEAD_MAX + bodylen);
	buf_init(&resp, HTTP_HEAD_MAX + out->max + 65536);
	if (url_parse(url, &u, e) < 0)
		goto out;
	if (buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: tayori/%s\r\n"
	    "Connection: close\r\n", method, u.path, u.host,
	    strcmp(u.port, "80") ? ":" : "", strcmp(u.port, "80") ? u.port : "", TAYORI_VERSION) < 0)
		goto toolong;
	if (body != NULL && buf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    content_type ? content_type : "application/octet-stream", bodylen) < 0)
		goto toolong;
	if (buf_append_str(&req, "\r\n") < 0 || (body && buf_append(&req, body, bodylen) < 0))
		goto toolong;

	fd = tcp_connect(&u, deadline, e);
	if (fd < 0)
		goto out;
	if (send_all(fd, req.data, req.len, deadline) < 0) {
		err_tmp(e, "cannot send the request to %s", u.host);
		goto out;
	}
	for (;;) {
		uint8_t tmp[16384];
		ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
		if (r > 0) {
			if (buf_append(&resp, tmp, (size_t)r) < 0) {
				err_set(e, "the response from %s is too large", u.host);
				goto out;
			}
			if (hlen == 0) {
				hlen = head_end(resp.data, resp.len);
				if (hlen == 0 && resp.len > HTTP_HEAD_MAX) {
					err_set(e, "the response headers from %s are too large", u.host);
					goto out;
				}
				if (hlen > HTTP_HEAD_MAX) {
					err_set(e, "the response headers from %s are too large", u.host);
					goto out;
				}
				if (hlen != 0) {
					memcpy(head, resp.data, hlen);
					head[hlen] = '\0';
					if (header_value(head, "Content-Length", val, sizeof(val)) == 0 &&
					    parse_int64(val, 0, (int64_t)out->max, &clen) < 0) {
						err_set(e, "bad or too large Content-Length from %s", u.host);
						goto out;
					}
					if (header_value(head, "Transfer-Encoding", val, sizeof(val)) == 0 &&
					    strcasecmp(val, "chunked") == 0)
						chunked = 1;
				}
			}
			if (hlen != 0 && !chunked && clen >= 0 && resp.len - hlen >= (size_t)clen)
				break;
		} else if (r == 0) {
			break;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, POLLIN, deadline) < 0) {
				err_tmp(e, "timeout waiting for %s", u.host);
				goto out;
			}
		} else {
			err_tmp(e, "error reading from %s", u.host);
			goto out;
		}
	}
	if (hlen == 0) {
		err_tmp(e, "incomplete HTTP response from %s", u.host);
		goto out;
	}
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
		err_tmp(e, "not an HTTP response from %s", u.host);
		goto out;
	}
	if (status != 200) {
		err_tmp(e, "%s answered HTTP %d", u.host, status);
		goto out;
	}
	if (chunked) {
		int complete;
		if (dechunk(resp.data + hlen, resp.len - hlen, out, &complete) < 0 || !complete) {
			err_tmp(e, "bad chunked response from %s", u.host);
			goto out;
		}
	} else {
		size_t blen = resp.len - hlen;
		if (clen >= 0) {
			if (blen < (size_t)clen) {
				err_tmp(e, "truncated response from %s", u.host);
				goto out;
			}
			blen = (size_t)clen;
		}
		if (buf_append(out, resp.data + hlen, blen) < 0) {
			err_set(e, "the response from %s is too large", u.host);
			goto out;
		}
	}
	rc = 0;
	goto out;
toolong:
	err_set(e, "HTTP request too large for %s", url);
out:
	if (fd >= 0)
		close(fd);
	buf_free(&req);
	buf_free(&resp);
	return rc;
}

static int asn1_time_epoch(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

int tsa_timestamp(const char *url, const uint8_t digest[32], uint8_t **tst,
    size_t *tstlen, int64_t *gen_time, struct error *e)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = NULL;
	TS_RESP *resp = NULL;
	uint8_t *der = NULL, nbytes[8];
	int derlen, rc = -1;
	struct buf body;
	const uint8_t *p;
	BIGNUM *bn = NULL;

	*tst = NULL;
	buf_init(&body, TSA_HTTP_MAX);
	if (req == NULL || mi == NULL || alg == NULL)
		goto oom;
	X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
	if (!TS_MSG_IMPRINT_set_algo(mi, alg) || !TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)digest, 32))
		goto oom;
	if (random_bytes(nbytes, sizeof(nbytes)) < 0) {
		err_tmp(e, "no randomness for the time-stamp nonce");
		goto out;
	}
	nbytes[0] &= 0x7f;
	bn = BN_bin2bn(nbytes, sizeof(nbytes), NULL);
	nonce = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	if (nonce == NULL || !TS_REQ_set_version(req, 1) || !TS_REQ_set_msg_imprint(req, mi) ||
	    !TS_REQ_set_nonce(req, nonce) || !TS_REQ_set_cert_req(req, 1))
		goto oom;
	derlen = i2d_TS_REQ(req, &der);
	if (derlen <= 0)
		goto oom;
	if (tsa_http_request(url, "POST", "application/timestamp-query", der, (size_t)derlen,
	    30000, &body, e) < 0)
		goto out;
	p = body.data;
	resp = d2i_TS_RESP(NULL, &p, (long)body.len);
	if (resp == NULL || p != body.data + body.len) {
		err_tmp(e, "the TSA at %s sent no valid TimeStampResp", url);
		goto out;
	}
	{
		TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
		long st = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
		TS_TST_INFO *ti = TS_RESP_get_tst_info(resp);
		PKCS7 *tok = TS_RESP_get_token(resp);
		TS_MSG_IMPRINT *rmi;
		ASN1_OCTET_STRING *rd;
		const ASN1_INTEGER *rn;
		uint8_t *tp;
		int tl;
		/* 0 granted, 1 grantedWithMods (RFC 3161 §2.4.2) */
		if ((st != 0 && st != 1) || ti == NULL || tok == NULL) {
			err_tmp(e, "the TSA at %s refused the request (status %ld)", url, st);
			goto out;
		}
		rmi = TS_TST_INFO_get_msg_imprint(ti);
		rd = TS_MSG_IMPRINT_get_msg(rmi);
		rn = TS_TST_INFO_get_nonce(ti);
		if (rd == NULL || ASN1_STRING_length(rd) != 32 ||
		    memcmp(ASN1_STRING_get0_data(rd), digest, 32) != 0 ||
		    OBJ_obj2nid(TS_MSG_IMPRINT_get_algo(rmi)->algorithm) != NID_sha256) {
			err_tmp(e, "the TSA at %s time-stamped a different digest", url);
			goto out;
		}
		if (rn == NULL || ASN1_INTEGER_cmp(rn, nonce) != 0) {
			err_tmp(e, "the TSA at %s answered with a wrong nonce", url);
			goto out;
		}
		if (gen_time != NULL &&
		    asn1_time_epoch(TS_TST_INFO_get_time(ti), gen_time) < 0) {
			err_tmp(e, "the TSA at %s sent a bad genTime", url);
			goto out;
		}
		tl = i2d_PKCS7(tok, NULL);
		if (tl <= 0)
			goto oom;
		*tst = xmalloc((size_t)tl);
		tp = *tst;
		i2d_PKCS7(tok, &tp);
		*tstlen = (size_t)tl;
	}
	rc = 0;
	goto out;
oom:
	err_tmp(e, "cannot build the time-stamp request");
out:
	ERR_clear_error();
	BN_free(bn);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	TS_RESP_free(resp);
	OPENSSL_free(der);
	buf_free(&body);
	return rc;
}
