/*
 * dkim.c — DKIM signing of outgoing messages (RFC 6376): relaxed header
 * and body canonicalization (3.4.2, 3.4.4), the body hash, the header hash
 * input (3.7) whose SHA-256 the keys process signs, and the folded
 * DKIM-Signature field.  What is signed and why: dkim.h.
 * Runs in the mailer (and in tests).
 */
#include "mailer/dkim.h"

#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>

#include "conf/conf.h"
#include "lib/keys_client.h"

#define FOLD_AT 78

static const char *const signed_names[] = {
	"from", "to", "subject", "date", "message-id", "reply-to", "mime-version", "content-type",
};
#define N_SIGNED (sizeof(signed_names) / sizeof(signed_names[0]))

/* One header field of the message: its raw bytes (name, colon, value and
 * continuation lines, without the final line end) and its name's length. */
struct field {
	const uint8_t *p;
	size_t len;
	size_t namelen;
};

static int is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

int dkim_name_ok(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0, label = 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			   (c == '-' && label > 0) || c == '_') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

/* The end of the line starting at p (the LF, or end), and where the next
 * starts. */
static size_t line_end(const uint8_t *m, size_t len, size_t p, size_t *next)
{
	size_t q = p;
	while (q < len && m[q] != '\n')
		q++;
	*next = q < len ? q + 1 : q;
	if (q > p && m[q - 1] == '\r')
		q--;
	return q;
}

/* Split the header section into fields; *body is where the body starts. */
static int split_header(const uint8_t *m, size_t len, struct field *f, size_t *nf, size_t *body,
			struct error *e)
{
	size_t p = 0, next, n = 0;

	for (;;) {
		size_t end;
		if (p >= len) {
			*body = len; /* no body at all */
			break;
		}
		end = line_end(m, len, p, &next);
		if (end == p) {
			*body = next;
			break;
		}
		if (p > DKIM_HEADER_MAX)
			return err_set(e, "DKIM: header section over %zu octets", DKIM_HEADER_MAX);
		if (is_wsp(m[p])) {
			if (n == 0)
				return err_set(e, "DKIM: the message starts with a continuation line");
			f[n - 1].len = end - (size_t)(f[n - 1].p - m);
		} else {
			const uint8_t *colon = memchr(m + p, ':', end - p);
			if (colon == NULL || colon == m + p)
				return err_set(e, "DKIM: header line %zu has no field name", n + 1);
			if (n == DKIM_FIELDS_MAX)
				return err_set(e, "DKIM: more than %d header fields", DKIM_FIELDS_MAX);
			f[n].p = m + p;
			f[n].len = end - p;
			f[n].namelen = (size_t)(colon - (m + p));
			for (size_t i = 0; i < f[n].namelen; i++)
				if (f[n].p[i] <= ' ' || f[n].p[i] >= 0x7f)
					return err_set(e, "DKIM: header line %zu has a bad field name", n + 1);
			n++;
		}
		p = next;
	}
	*nf = n;
	return 0;
}

/* RFC 6376 3.4.2: the field's name in lower case, no white space around
 * the colon, the value unfolded with each run of white space made one
 * space and none at its end; then CRLF when crlf. */
static int canon_header(struct buf *out, const uint8_t *p, size_t len, size_t namelen, int crlf)
{
	size_t i = namelen + 1;
	int space = 0;

	for (size_t k = 0; k < namelen; k++) {
		uint8_t c = p[k];
		if (buf_append_u8(out, (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c)) < 0)
			return -1;
	}
	if (buf_append_u8(out, ':') < 0)
		return -1;
	while (i < len && (is_wsp(p[i]) || p[i] == '\r' || p[i] == '\n'))
		i++;
	for (; i < len; i++) {
		uint8_t c = p[i];
		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			space = 1;
			continue;
		}
		if (space && buf_append_u8(out, ' ') < 0)
			return -1;
		space = 0;
		if (buf_append_u8(out, c) < 0)
			return -1;
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

/* RFC 6376 3.4.4 into SHA-256: white space runs made one space, none at a
 * line's end, no empty lines at the end, a final CRLF when not empty. */
static int body_hash(const uint8_t *m, size_t len, size_t start, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t p = start, next, empty = 0;
	unsigned int olen = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	while (ok && p < len) {
		size_t end = line_end(m, len, p, &next), i = p, w = end;
		while (w > p && is_wsp(m[w - 1]))
			w--;
		if (w == p) {
			empty++;
			p = next;
			continue;
		}
		for (; empty > 0 && ok; empty--)
			ok = EVP_DigestUpdate(ctx, "\r\n", 2) == 1;
		while (ok && i < w) {
			size_t run = i;
			while (run < w && !is_wsp(m[run]))
				run++;
			ok = EVP_DigestUpdate(ctx, m + i, run - i) == 1;
			if (ok && run < w) {
				ok = EVP_DigestUpdate(ctx, " ", 1) == 1;
				while (run < w && is_wsp(m[run]))
					run++;
			}
			i = run;
		}
		if (ok)
			ok = EVP_DigestUpdate(ctx, "\r\n", 2) == 1;
		p = next;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Append piece to the field being folded: on the same line after sep, or
 * on a new line starting with a space when it would pass FOLD_AT. */
static int fold(struct buf *out, size_t *col, const char *sep, const char *piece, size_t n)
{
	size_t s = strlen(sep);
	if (*col + s + n > FOLD_AT && *col > 1) {
		if (buf_append(out, "\r\n ", 3) < 0)
			return -1;
		*col = 1;
	} else {
		if (buf_append(out, sep, s) < 0)
			return -1;
		*col += s;
	}
	*col += n;
	return buf_append(out, piece, n);
}

/* The h= list (over-signed, see dkim.h) and each present field's index. */
static int pick_fields(const struct field *f, size_t nf, long found[N_SIGNED], struct error *e)
{
	for (size_t k = 0; k < N_SIGNED; k++) {
		size_t nl = strlen(signed_names[k]);
		found[k] = -1;
		for (size_t i = 0; i < nf; i++) {
			if (f[i].namelen != nl || strncasecmp((const char *)f[i].p, signed_names[k], nl) != 0)
				continue;
			if (found[k] >= 0)
				return err_set(e, "DKIM: the message has more than one %s field",
					       signed_names[k]);
			found[k] = (long)i;
		}
	}
	if (found[0] < 0)
		return err_set(e, "DKIM: the message has no From field");
	return 0;
}

/* The DKIM-Signature field up to and including "b=" (folded). */
static int sig_prefix(struct buf *out, const char *sel, const char *dom, const long found[N_SIGNED],
		      const uint8_t bh[32], size_t *col)
{
	char tmp[512], bh64[64];
	int ok;

	EVP_EncodeBlock((unsigned char *)bh64, bh, 32);
	*col = 0;
	ok = buf_append_str(out, "DKIM-Signature:") == 0;
	*col = strlen("DKIM-Signature:");
	ok = ok && fold(out, col, " ", "v=1;", 4) == 0 && fold(out, col, " ", "a=rsa-sha256;", 13) == 0 &&
	     fold(out, col, " ", "c=relaxed/relaxed;", 18) == 0;
	ok = ok && str_fmt(tmp, sizeof(tmp), "d=%s;", dom) > 0 && fold(out, col, " ", tmp, strlen(tmp)) == 0;
	ok = ok && str_fmt(tmp, sizeof(tmp), "s=%s;", sel) > 0 && fold(out, col, " ", tmp, strlen(tmp)) == 0;
	ok = ok && str_fmt(tmp, sizeof(tmp), "t=%lld;", (long long)time(NULL)) > 0 &&
	     fold(out, col, " ", tmp, strlen(tmp)) == 0;
	for (size_t k = 0; ok && k < N_SIGNED; k++) {
		for (int twice = found[k] >= 0 ? 2 : 1; ok && twice > 0; twice--) {
			int first = k == 0 && twice == 2; /* From is always there */
			int last = k == N_SIGNED - 1 && twice == 1;
			ok = str_fmt(tmp, sizeof(tmp), "%s%s%s", first ? "h=" : "", signed_names[k],
				     last ? ";" : ":") > 0 &&
			     fold(out, col, first ? " " : "", tmp, strlen(tmp)) == 0;
		}
	}
	ok = ok && str_fmt(tmp, sizeof(tmp), "bh=%s;", bh64) > 0 && fold(out, col, " ", tmp, strlen(tmp)) == 0;
	ok = ok && fold(out, col, " ", "b=", 2) == 0;
	return ok ? 0 : -1;
}

/* The SHA-256 of the header hash input (RFC 6376 3.7): the signed fields
 * in h= order, then the DKIM-Signature field with an empty b=. */
static int header_digest(const struct field *f, const long found[N_SIGNED], const struct buf *prefix,
			 uint8_t digest[32])
{
	struct buf in;
	int ok = 1;

	buf_init(&in, DKIM_HEADER_MAX + 8192);
	for (size_t k = 0; ok && k < N_SIGNED; k++)
		if (found[k] >= 0)
			ok = canon_header(&in, f[found[k]].p, f[found[k]].len, f[found[k]].namelen, 1) == 0;
	ok = ok && canon_header(&in, prefix->data, prefix->len, strlen("DKIM-Signature"), 0) == 0;
	ok = ok && EVP_Digest(in.data, in.len, digest, NULL, EVP_sha256(), NULL) == 1;
	buf_free(&in);
	return ok ? 0 : -1;
}

int dkim_sign(struct keys_client *kc, const char *selector, const char *domain,
	      const uint8_t *msg, size_t len, struct buf *out_header, struct error *e)
{
	struct field *f = NULL;
	size_t nf = 0, body = 0, col = 0, siglen = KEYS_MAX_SIG;
	long found[N_SIGNED];
	uint8_t bh[32], digest[32], sig[KEYS_MAX_SIG];
	char b64[4 * (KEYS_MAX_SIG / 3) + 8];
	struct buf prefix;
	int ret = -1;

	if (!dkim_name_ok(selector, DKIM_SELECTOR_MAX))
		return err_set(e, "DKIM: [mail] dkim_selector is not a valid selector");
	if (!dkim_name_ok(domain, DKIM_DOMAIN_MAX))
		return err_set(e, "DKIM: [mail] dkim_domain is not a valid domain name");
	if (len > DKIM_MSG_MAX)
		return err_set(e, "DKIM: message over %zu octets", DKIM_MSG_MAX);
	buf_init(&prefix, 8192);
	f = xcalloc(DKIM_FIELDS_MAX, sizeof(*f));
	if (split_header(msg, len, f, &nf, &body, e) < 0 || pick_fields(f, nf, found, e) < 0)
		goto out;
	if (body_hash(msg, len, body, bh) < 0 || sig_prefix(&prefix, selector, domain, found, bh, &col) < 0 ||
	    header_digest(f, found, &prefix, digest) < 0) {
		err_tmp(e, "DKIM: cannot hash the message");
		goto out;
	}
	if (keys_dkim_sign(kc, digest, sig, &siglen, e) < 0)
		goto out;
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	/* The signature in pieces that fill each line; the folding white
	 * space inside b= is part of its value, which verifiers remove. */
	for (size_t i = 0, n = strlen(b64); i < n;) {
		size_t room = col < FOLD_AT ? FOLD_AT - col : 0, take;
		if (room < 8) {
			if (buf_append(&prefix, "\r\n ", 3) < 0)
				goto full;
			col = 1;
			room = FOLD_AT - col;
		}
		take = n - i < room ? n - i : room;
		if (buf_append(&prefix, b64 + i, take) < 0)
			goto full;
		col += take;
		i += take;
	}
	if (buf_append(&prefix, "\r\n", 2) < 0 || buf_append(out_header, prefix.data, prefix.len) < 0)
		goto full;
	ret = 0;
	goto out;
full:
	err_set(e, "DKIM: signature field too large");
out:
	free(f);
	buf_free(&prefix);
	return ret;
}

int dkim_sign_conf(struct keys_client *kc, const struct conf *c, const uint8_t *msg, size_t len,
		   struct buf *out_header, struct error *e)
{
	const char *sel = conf_str(c, "mail", "dkim_selector");
	const char *dom = conf_str(c, "mail", "dkim_domain");
	int has_sel = sel != NULL && sel[0] != '\0', has_dom = dom != NULL && dom[0] != '\0';

	if (!has_sel && !has_dom)
		return 0;
	if (!has_sel || !has_dom)
		return err_set(e, "DKIM: set both [mail] dkim_selector and dkim_domain, or neither");
	return dkim_sign(kc, sel, dom, msg, len, out_header, e);
}
