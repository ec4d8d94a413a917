/*
 * page_resident.h — the HTML of the resident pages: Japanese first, plain,
 * one column, no script, labelled inputs, one stylesheet (the HTTP
 * layer's), a テスト banner on every page of a test batch.  Each function
 * appends a whole page to b and returns 0, or -1 when b's cap is reached.
 * Runs in the portal process.
 */
#ifndef TAYORI_PAGE_RESIDENT_H
#define TAYORI_PAGE_RESIDENT_H

#include "lib/buf.h"
#include "lib/notice.h"
#include "portal/resident.h"

/* What the front page and the help pages say about the real site. */
struct page_site {
	const char *ward;             /* 区の名称 */
	const char *host;             /* the portal's host name */
	const char *announcement_url; /* the ward's page announcing the service, "" none */
	const char *description;      /* the service's description (settings page or
				       * [portal] description), "" none: shown on the
				       * front page and the link page */
};

int page_front(struct buf *b, const struct page_site *s, const char *csrf, const char *error);
/* The one page for an unknown, expired or revoked link and a wrong code. */
int page_contact(struct buf *b, const struct page_site *s);
/* Too many tries: the notice is locked (or lookups from this address). */
int page_locked(struct buf *b, const struct page_site *s, int test);
/* GET /n/TOKEN: title, issuer, one button. */
int page_link(struct buf *b, const struct page_site *s, const struct resident_notice *n,
	      const char *token, const char *csrf);
/* The batch's proof of identity for otp and csv; note: a sentence above
 * the form ("" none), error: a problem with the last answer ("" none). */
int page_auth(struct buf *b, const struct page_site *s, const struct resident_notice *n,
	      const char *token, const char *csrf, const char *note, const char *error);
/* The notice: message, PDF, certificate, arrival, deadline, consent. */
int page_notice(struct buf *b, const struct page_site *s, const struct resident_notice *n,
		const struct notice_access *a, const char *csrf);
/* How to check the signature in Acrobat Reader, with pictures. */
int page_guide(struct buf *b, int test);
/* The guide's pictures (portal/page_guide_img.c): name is the file name
 * under /static/ ("guide-notice.png"); 0 with its bytes, or -1. */
int page_guide_img(const char *name, const unsigned char **data, size_t *len);

/* The message to residents: escaped, http(s) URLs made links, line
 * breaks kept (the layer's .message style). */
int page_message(struct buf *b, const char *msg, size_t len);

#endif
