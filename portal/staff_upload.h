/*
 * staff_upload.h — the dashboard's upload handlers (staff_upload.c):
 * GET /upload (the form), POST /upload (a multipart form; its CSRF token
 * in the action URL; the login, permission and token are checked once its
 * headers are in, so a refused sender's body is never read), GET /upload/N (the upload's state and result).  All
 * need the submit permission and run with the store lock held.  Runs in
 * the portal process.
 */
#ifndef TAYORI_STAFF_UPLOAD_H
#define TAYORI_STAFF_UPLOAD_H

#include "portal/http.h"

int staff_h_upload_form(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_upload(const struct http_request *req, struct http_response *resp, void *ctx);
/* POST /upload's early check (http_route.early): the login, the submit
 * permission and the CSRF token, before any of the body is read. */
int staff_h_upload_early(const struct http_request *req, struct http_response *resp, void *ctx);
int staff_h_upload_status(const struct http_request *req, struct http_response *resp, void *ctx);

#endif
