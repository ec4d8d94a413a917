/*
 * resident_notice.c — the resident's pages behind the session cookie: the
 * notice (message, arrival, appeal deadline, consent), the exact stored PDF
 * (its first download is the arrival, 到達), the signer's certificate
 * (counted), consent and decline (a decline puts the resident on the paper
 * list), the signature guide.  Content-Disposition per RFC 6266 with a
 * Japanese file name (RFC 8187); ranges per RFC 9110 through the layer.
 * Runs in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/consent.h"
#include "lib/log.h"
#include "lib/store.h"
#include "portal/resident_int.h"

/* The session's notice: 0 (n loaded), 1 no valid session (the contact
 * page is set), -1 error. */
static int session_notice(struct resident_ctx *rc, const struct http_request *req,
			  struct http_response *resp, struct resident_notice *n, struct error *e)
{
	uint64_t batch;
	uint32_t seq;
	int r;

	r = resident_session_find(rc, http_cookie(req, RESIDENT_SESSION_COOKIE), now_utc(), &batch,
				  &seq, e);
	if (r == 0)
		r = resident_notice_load(rc, batch, seq, n, e);
	if (r > 0 && resident_contact(rc, resp) < 0)
		return -1;
	if (r < 0)
		log_err("event=session_failed reason=\"%s\"", e->msg);
	return r;
}

int resident_h_notice(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct resident_notice n;
	struct notice_access a;
	struct store_txn *t = NULL;
	struct page_site s;
	struct error e = { { 0 }, 0 };
	char csrf[HTTP_CSRF_LEN + 1];
	int r;

	r = session_notice(rc, req, resp, &n, &e);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = store_begin(rc->st, 0, &t, &e);
	if (r == 0)
		r = access_get(t, n.batch, n.seq, &a, &e) < 0 ? -1 : 0;
	store_abort(&t);
	if (r == 0) {
		resident_site(rc, &s);
		r = http_csrf_token(req, resp, csrf) < 0 ? -1 : page_notice(&resp->body, &s, &n, &a, csrf);
	} else {
		log_err("event=notice_failed reason=\"%s\"", e.msg);
	}
	resident_notice_free(&n);
	return r;
}

static int set_downloaded(struct store_txn *t, struct notice_access *a, void *arg)
{
	(void)t;
	(void)arg;
	if (a->downloaded_at != 0)
		return 1;
	a->downloaded_at = now_utc();
	return 0;
}

static int count_cert(struct store_txn *t, struct notice_access *a, void *arg)
{
	(void)t;
	(void)arg;
	a->cert_downloads++;
	return 0;
}

static void free_buf(void *arg)
{
	struct buf *b = arg;

	buf_wipe(b);
	free(b);
}

/* A file name for the download: the title without what a file name may
 * not hold, then ext. */
static void file_name(const char *title, const char *ext, char *out, size_t size)
{
	size_t o = 0;

	for (const char *p = title; *p != '\0' && o + strlen(ext) + 5 < size && o < 120; p++)
		out[o++] = strchr("/\\:*?\"<>|", *p) != NULL || (unsigned char)*p < 0x20 ? '_' : *p;
	/* Do not end inside a UTF-8 character (a whole last one stays). */
	size_t lead = o;
	while (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0xC0) {
		unsigned char c = (unsigned char)out[lead - 1];
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (o - (lead - 1) < need)
			o = lead - 1;
	}
	out[o] = '\0';
	if (o == 0)
		str_copy(out, "通知書", size);
	if (strlen(out) + strlen(ext) < size)
		memcpy(out + strlen(out), ext, strlen(ext) + 1);
}

/* Does this request count as a download?  HEAD downloads nothing, and a
 * range that does not start the file resumes a download already counted
 * (a viewer or a download manager fetching the rest). */
static int counted_download(const struct http_request *req, size_t len)
{
	uint64_t first = 0, last = 0;

	return !req->is_head &&
	       !(http_range_parse(req->range, len, &first, &last) == 1 && first > 0);
}

/* The response: the bytes from the cache's entry (pdf is the response's
 * now, held until it is done with them) under the notice's title. */
static void pdf_answer(struct http_response *resp, const struct resident_notice *n,
		       struct resident_pdf_ref *pdf)
{
	char name[200];
	const uint8_t *data;
	size_t len;

	data = resident_pdf_data(pdf, &len);
	file_name(n->title, ".pdf", name, sizeof(name));
	if (http_resp_attachment(resp, name) < 0)
		http_resp_attachment(resp, "notice.pdf");
	http_resp_bytes(resp, "application/pdf", data, len, resident_pdf_release, pdf);
}

/* The download on a listener's thread (HTTP_TRY_FAST): the session, the
 * batch's state and the notice read afresh from the store, but only as
 * far as keys already judged those very bytes; the PDF from the cache;
 * the event queued for the next group without waiting, which is only
 * allowed once the arrival is committed.  HTTP_WOULD_BLOCK, nothing
 * changed, when any of that is missing: the worker pool does it all. */
static int pdf_fast(const struct http_request *req, struct http_response *resp,
		    struct resident_ctx *rc)
{
	struct resident_notice n;
	struct resident_pdf_ref *pdf = NULL;
	struct error e = { { 0 }, 0 };
	uint64_t batch;
	uint32_t seq;
	size_t len;

	if (resident_session_known(rc, http_cookie(req, RESIDENT_SESSION_COOKIE), now_utc(), &batch,
				   &seq, &e) != 0 ||
	    resident_notice_known(rc, batch, seq, &n, &e) != 0)
		return HTTP_WOULD_BLOCK;
	if (resident_pdf_cached(rc, &n, &pdf) != 0) {
		resident_notice_free(&n);
		return HTTP_WOULD_BLOCK;
	}
	resident_pdf_data(pdf, &len);
	if (counted_download(req, len) &&
	    resident_record_later(rc, n.batch, n.seq, EV_DOWNLOAD, req->user_agent) != 0) {
		resident_pdf_release(pdf);
		resident_notice_free(&n);
		return HTTP_WOULD_BLOCK;
	}
	pdf_answer(resp, &n, pdf);
	resident_notice_free(&n);
	return 0;
}

int resident_h_pdf(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct resident_notice n;
	struct resident_pdf_ref *pdf = NULL;
	struct error e = { { 0 }, 0 };
	size_t len = 0;
	int r;

	if (!req->may_block)
		return pdf_fast(req, resp, rc);
	r = session_notice(rc, req, resp, &n, &e);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = resident_pdf_get(rc, &n, &pdf, &e);
	if (r > 0) {
		r = resident_contact(rc, resp);
		goto out;
	}
	if (r == 0)
		resident_pdf_data(pdf, &len);
	/* The first download is the arrival: the answer waits until its
	 * event is committed (and so does any download not known to come
	 * after a committed arrival). */
	if (r < 0 || (counted_download(req, len) &&
		      resident_record(rc, n.batch, n.seq, EV_DOWNLOAD, req->user_agent,
				      set_downloaded, NULL, NULL, &e) < 0)) {
		log_err("event=download_failed reason=\"%s\"", e.msg);
		r = -1;
		goto out;
	}
	pdf_answer(resp, &n, pdf);
	pdf = NULL;
	r = 0;
out:
	if (pdf != NULL)
		resident_pdf_release(pdf);
	resident_notice_free(&n);
	return r;
}

int resident_h_cert(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct resident_notice n;
	struct resident_pdf_ref *pdf = NULL;
	struct error e = { { 0 }, 0 };
	struct buf *pem = xmalloc(sizeof(*pem));
	const uint8_t *data;
	size_t len;
	int r;

	buf_init(pem, 256 * 1024);
	r = session_notice(rc, req, resp, &n, &e);
	if (r != 0) {
		free_buf(pem);
		return r < 0 ? -1 : 0;
	}
	r = resident_pdf_get(rc, &n, &pdf, &e);
	if (r > 0) {
		r = resident_contact(rc, resp);
		goto out;
	}
	if (r < 0 || (data = resident_pdf_data(pdf, &len), resident_cert_pem(data, len, pem, &e) < 0) ||
	    (!req->is_head && resident_record(rc, n.batch, n.seq, EV_CERT_DOWNLOAD, req->user_agent,
					      count_cert, NULL, NULL, &e) < 0)) {
		log_err("event=cert_failed reason=\"%s\"", e.msg);
		r = -1;
		goto out;
	}
	http_resp_attachment(resp, "職責証明書.cer");
	http_resp_bytes(resp, "application/x-pem-file", pem->data, pem->len, free_buf, pem);
	pem = NULL;
	r = 0;
out:
	if (pem != NULL)
		free_buf(pem);
	if (pdf != NULL)
		resident_pdf_release(pdf);
	resident_notice_free(&n);
	return r;
}

/* The guide needs no session; with one, a test batch's banner shows. */
int resident_h_guide(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct resident_ctx *rc = ctx;
	struct resident_notice n;
	struct error e = { { 0 }, 0 };
	uint64_t batch;
	uint32_t seq;
	int test = 0;

	if (resident_session_find(rc, http_cookie(req, RESIDENT_SESSION_COOKIE), now_utc(), &batch,
				  &seq, &e) == 0 &&
	    resident_notice_load(rc, batch, seq, &n, &e) == 0) {
		test = n.test;
		resident_notice_free(&n);
	}
	return page_guide(&resp->body, test);
}

struct consent_arg {
	enum notice_consent c;
	const char *terms;
	const struct resident_notice *n;
	struct error *e;
};

/* The choice goes into the access record and, for the resident and the
 * notice type (consent.h: the batch's title until notice types exist),
 * into DB_CONSENT, in the same transaction. */
static int set_consent(struct store_txn *t, struct notice_access *a, void *arg)
{
	struct consent_arg *c = arg;
	struct consent_rec cr;

	if (a->consent == c->c)
		return 1;
	a->consent = c->c;
	a->consent_at = now_utc();
	str_copy(a->terms, c->terms, sizeof(a->terms));
	memset(&cr, 0, sizeof(cr));
	str_copy(cr.channel, c->c == CONSENT_GIVEN ? "electronic" : "paper", sizeof(cr.channel));
	cr.at = a->consent_at;
	str_copy(cr.terms, c->terms, sizeof(cr.terms));
	cr.batch = c->n->batch;
	cr.seq = c->n->seq;
	if (consent_put(t, c->n->key, consent_type_of(c->n->title), &cr, c->e) < 0)
		return -1;
	return 0;
}

static int consent(const struct http_request *req, struct http_response *resp,
		   struct resident_ctx *rc, enum notice_consent c)
{
	struct resident_notice n;
	struct error e = { { 0 }, 0 };
	struct consent_arg arg = { c, rc->terms, &n, &e };
	int r;

	r = session_notice(rc, req, resp, &n, &e);
	if (r != 0)
		return r < 0 ? -1 : 0;
	/* Only a batch that asks for consent records one. */
	if (!n.consent_asked) {
		resident_notice_free(&n);
		return http_resp_redirect(resp, "/notice");
	}
	r = resident_record(rc, n.batch, n.seq, c == CONSENT_GIVEN ? EV_CONSENT : EV_DECLINE,
			    req->user_agent, set_consent, &arg, NULL, &e);
	if (r < 0)
		log_err("event=consent_failed reason=\"%s\"", e.msg);
	else
		r = http_resp_redirect(resp, "/notice");
	resident_notice_free(&n);
	return r;
}

int resident_h_consent(const struct http_request *req, struct http_response *resp, void *ctx)
{
	return consent(req, resp, ctx, CONSENT_GIVEN);
}

int resident_h_decline(const struct http_request *req, struct http_response *resp, void *ctx)
{
	return consent(req, resp, ctx, CONSENT_DECLINED);
}
