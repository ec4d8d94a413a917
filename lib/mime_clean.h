/*
 * mime_clean.h — decoded mail text made safe to show and store: control
 * and bidi-override characters dropped, NFC, format=flowed undone, the
 * signature cut off, file names reduced to a display string.  No state:
 * usable by any reader of mail.  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 * Standards: RFC 3676 (format=flowed, the "-- " signature separator).
 */
#ifndef TAYORI_MIME_CLEAN_H
#define TAYORI_MIME_CLEAN_H

#include <stddef.h>

#define MIME_FILENAME_MAX 255 /* bytes of UTF-8, the extension kept when cut */

enum mime_clean_mode {
	MIME_CLEAN_LINES, /* text: line breaks kept (CRLF and CR become LF), tabs kept */
	MIME_CLEAN_LINE,  /* one line: line breaks and tabs become spaces */
	MIME_CLEAN_NAME,  /* a file name: line breaks and tabs dropped with the other controls */
};

/* s (valid UTF-8, malloc'ed) with controls, C1, BOM and bidi controls
 * removed as mode says, and NFC applied.  Frees s; returns a new string. */
char *mime_clean_text(char *s, enum mime_clean_mode mode);

/* RFC 3676: soft-broken lines (ending in a space) joined, space-stuffing
 * undone, the trailing space dropped when delsp.  Frees s; returns a new
 * string. */
char *mime_clean_unflow(char *s, int delsp);

/* A body tidied in place: cut at the signature separator "-- ", trailing
 * blanks of each line and blank lines at both ends dropped. */
void mime_clean_body(char *s);

/* s cut in place to at most max bytes, on a UTF-8 character boundary. */
void mime_clean_cut(char *s, size_t max);

/* A sender's file name made safe to show: the last path component (either
 * slash), control and bidi-override characters removed, NFC, trimmed, cut
 * to MIME_FILENAME_MAX bytes keeping the extension.  A new string, or NULL
 * when nothing is left (or name is NULL). */
char *mime_clean_filename(const char *name);

#endif
