/*
 * page_staff_upload.h — the HTML of the dashboard's upload: the form (the
 * title, how to split, test, 教示, consent, the message, the CSV and the
 * PDFs; a plain multipart form that needs no script), the page shown while
 * the gateway takes it, and its result: the matching report (the one intake
 * mails back and `tayori submit --json` prints), the batch it already
 * made, or why it was refused.  Japanese, each input labelled; a test
 * batch carries the テスト banner.  Each function appends a whole page to
 * b and returns 0, or -1 when b's cap is reached.  Runs in the portal
 * process.
 */
#ifndef TAYORI_PAGE_STAFF_UPLOAD_H
#define TAYORI_PAGE_STAFF_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/upload.h"
#include "portal/page_staff.h"

/* What the form shows again after a refusal (all "" on a fresh form). */
struct page_upload_form {
	const char *title, *split, *pages, *kyouji, *message;
	int test, consent;
	const char *error;      /* "" none: one sentence, what and where */
	size_t max_bytes;       /* [limits] message_size */
	size_t max_files;       /* [limits] attachments */
	const char *notice_type; /* the type chosen, "" none */
	const char *types;       /* the ward's notice types (lib/wardset.h), "" none: no choice */
};
int page_staff_upload_form(struct buf *b, const struct page_staff_user *u,
			   const struct page_upload_form *f);

/* Upload id is waiting for the gateway (the page asks to be reloaded). */
int page_staff_upload_pending(struct buf *b, const struct page_staff_user *u, uint64_t id);

/* What became of an upload. */
int page_staff_upload_result(struct buf *b, const struct page_staff_user *u,
			     const struct upload_result *r);

#endif
