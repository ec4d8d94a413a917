/*
 * resident_int.h — private to the resident_*.c files of the portal: the
 * pages every step may end on and the handlers of the notice page.  Runs
 * in the portal process.
 */
#ifndef TAYORI_RESIDENT_INT_H
#define TAYORI_RESIDENT_INT_H

#include "portal/http.h"
#include "portal/page_resident.h"
#include "portal/resident.h"

void resident_site(const struct resident_ctx *rc, struct page_site *s);
/* The one contact page (404) for whatever cannot be opened. */
int resident_contact(struct resident_ctx *rc, struct http_response *resp);
/* The locked page (403). */
int resident_locked_page(struct resident_ctx *rc, struct http_response *resp, int test);

/* resident_notice.c: behind the session cookie. */
int resident_h_notice(const struct http_request *req, struct http_response *resp, void *ctx);
int resident_h_pdf(const struct http_request *req, struct http_response *resp, void *ctx);
int resident_h_cert(const struct http_request *req, struct http_response *resp, void *ctx);
int resident_h_guide(const struct http_request *req, struct http_response *resp, void *ctx);
int resident_h_consent(const struct http_request *req, struct http_response *resp, void *ctx);
int resident_h_decline(const struct http_request *req, struct http_response *resp, void *ctx);

#endif
