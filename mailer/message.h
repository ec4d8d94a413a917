/*
 * message.h — the notification message a resident receives: one mail
 * saying that a notice waits on the portal, built from strings into the
 * RFC 5322 bytes handed to the relay.  A pure function: no store, no keys,
 * no network.  Runs in the mailer (its sender, once per resident and per
 * reminder).
 *
 * What it builds: the header fields Date, From (the ward, with its display
 * name), Reply-To (the batch's contact address), To (the resident, exactly
 * one address), Subject (the notice title, 【テスト】 first for a test
 * batch), Message-ID and MIME-Version, then a multipart/alternative body
 * with a text/plain and a text/html part (GMime 3 writes the parts, their
 * boundary and their transfer encoding).  Both parts say the same things:
 * the batch's or the resident's message with its links, this resident's
 * own portal link, how to open it (the authentication method), the
 * deadline, the 教示 when there is one, the ward's contact details, the
 * portal's address with the notice code (保護番号) for residents who would
 * rather type than click, and the warning that the ward never asks for a
 * password, a card number or a payment by mail.  Lines end in CRLF.
 *
 * The HTML loads nothing: no image, style sheet, script, frame or form;
 * its only links are the resident's portal link and the URLs of the
 * message text, everything else is escaped text.  So there is no tracking
 * pixel: the portal learns of an open when the resident acts there.
 *
 * No List-Unsubscribe: this is a legal notice (処分通知), not a
 * subscription, and a resident cannot opt out of it by mail (consent is
 * recorded and withdrawn elsewhere).  No attachment: important content is
 * never mailed itself; the signed PDF stays on the portal, which records
 * its arrival (到達) when it is downloaded.
 *
 * Standards: RFC 5322 (header fields, Date, Message-ID), RFC 2045-2046
 * (MIME, multipart/alternative, base64 and quoted-printable), RFC 2047
 * (encoded words for the display name and the subject: B encoding, cut at
 * character boundaries, at most 75 octets each), RFC 1468 with the
 * Microsoft CP50220 repertoire for ISO-2022-JP (JIS X 0208 plus the NEC
 * special characters of row 13 and the NEC-selected IBM extensions of
 * rows 89-92, so ①, ㈱ and 髙 survive; half-width katakana become full
 * width; what has no JIS code, such as an emoji, becomes 〓).  RFC 2231 is
 * not used (no parameter carries text); RFC 6532 (UTF-8 headers) is not
 * used, since the relay may not offer SMTPUTF8.
 *
 * Refused (an error naming the field, nothing written): an address that
 * lib/email.h refuses, a Message-ID domain or local part that is not
 * plain, a link that is not a plain http(s) URL, invalid UTF-8 in any
 * field, a control byte (other than tab and line ends) in a body text,
 * and any field over its length limit.  Control bytes in the display name
 * or the title are written as spaces: a header is one line.
 */
#ifndef TAYORI_MESSAGE_H
#define TAYORI_MESSAGE_H

#include <stddef.h>
#include <time.h>
#include "lib/buf.h"
#include "lib/util.h"

/* Length limits, in octets of UTF-8. */
#define MESSAGE_NAME_MAX 200     /* from_name */
#define MESSAGE_TITLE_MAX 600    /* title */
#define MESSAGE_TEXT_MAX (256u << 10) /* message */
#define MESSAGE_URL_MAX 2048     /* link, portal_url */
#define MESSAGE_CODE_MAX 64      /* notice_code */
#define MESSAGE_LABEL_MAX 200    /* auth_label */
#define MESSAGE_CONTACT_MAX 4096 /* contact */
#define MESSAGE_KYOUJI_MAX 16384 /* kyouji */
#define MESSAGE_ID_LOCAL_MAX 64  /* message_id_local */

enum message_auth {
	MESSAGE_AUTH_LINK = 0, /* the link alone (and a click on the page) */
	MESSAGE_AUTH_OTP,      /* a one-time code mailed on request */
	MESSAGE_AUTH_VALUE,    /* a value from the CSV, named by auth_label */
};

enum message_charset {
	MESSAGE_UTF8 = 0,     /* UTF-8 bodies and encoded words */
	MESSAGE_ISO2022JP,    /* ISO-2022-JP (CP50220 repertoire) */
};

enum message_encoding {
	MESSAGE_BASE64 = 0,   /* UTF-8 bodies as base64 */
	MESSAGE_QP,           /* UTF-8 bodies as quoted-printable */
};

/* Every string is UTF-8, NUL-terminated and borrowed for the call. */
struct message_input {
	const char *from_addr;   /* the ward's sending address */
	const char *from_name;   /* its display name, e.g. 練馬区 (may be NULL) */
	const char *reply_to;    /* the batch's contact address */
	const char *to;          /* the resident's address */
	const char *title;       /* the notice title: the Subject */
	const char *message;     /* the message text (may hold URLs) */
	size_t message_len;      /* its length in bytes; 0: up to its NUL */
	const char *link;        /* this resident's portal link */
	const char *portal_url;  /* the portal's address, to type by hand */
	const char *notice_code; /* 保護番号: letters, digits and '-' */
	enum message_auth auth;
	const char *auth_label;  /* MESSAGE_AUTH_VALUE: what to enter, e.g. 生年月日 */
	const char *deadline;    /* YYYY-MM-DD, shown as 2026年12月25日（金） */
	const char *contact;     /* the ward's contact details, several lines */
	const char *kyouji;      /* 教示, how to appeal; NULL or "" when none */
	int test;                /* 1: a test batch (テスト) */
	const char *msgid_domain;     /* right side of the Message-ID */
	const char *message_id_local; /* left side; NULL: 32 random hex digits */
	time_t date;             /* the Date field (written in JST, +0900) */
	enum message_charset charset;
	enum message_encoding encoding; /* for MESSAGE_UTF8 */
};

/*
 * Append the message's bytes to out (CRLF line ends).  Returns 0, or -1
 * with e saying which field was refused (out then holds what it held
 * before, except on a full buffer).
 */
int message_build(const struct message_input *in, struct buf *out, struct error *e);

#endif
