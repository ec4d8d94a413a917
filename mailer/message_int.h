/*
 * message_int.h — private to the notification message builder
 * (mailer/message*.c): the pieces one file of it gives another.  Runs in
 * the mailer.
 */
#ifndef TAYORI_MESSAGE_INT_H
#define TAYORI_MESSAGE_INT_H

#include <stddef.h>
#include "lib/buf.h"
#include "mailer/message.h"

/*
 * Append text (valid UTF-8, len bytes) to out as ISO-2022-JP in the
 * CP50220 repertoire, ending in ASCII.  Line ends pass through.  Returns
 * 0, or -1 when out is full or the conversion table cannot be built.
 */
int message_jis_encode(const char *text, size_t len, struct buf *out);

/*
 * Append to out the header field "Name: value" with value as RFC 2047
 * encoded words (B encoding, UTF-8 or ISO-2022-JP), folded with CRLF SP so
 * that no line passes 78 octets, and a final CRLF.  Plain printable ASCII
 * without "=?" is written as it is when it fits on the line.  Control
 * characters are written as spaces.  Returns 0, or -1 when out is full.
 */
int message_header_text(struct buf *out, const char *name, const char *value,
			int jis);

/*
 * Append the display name as a phrase (an atom, or encoded words) to out,
 * folded as above; pos is the column it starts at.  Returns the new
 * column, or -1 when out is full.
 */
int message_header_phrase(struct buf *out, const char *value, int pos, int jis);

/* The inputs as the bodies use them: texts with LF line ends. */
struct message_texts {
	const struct message_input *in;
	char *message;          /* the message text */
	char *contact;          /* the contact details */
	char *kyouji;           /* the 教示, NULL when none */
	char deadline[64];      /* 2026年12月25日（金） */
};

/* The text/plain body (UTF-8, LF line ends) into out; -1 when out is full. */
int message_body_text(const struct message_texts *t, struct buf *out);
/* The text/html body (UTF-8, LF line ends) into out; -1 when out is full. */
int message_body_html(const struct message_texts *t, struct buf *out);

#endif
