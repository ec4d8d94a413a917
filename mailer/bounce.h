/*
 * bounce.h — the bounce classifier: one message, as read from the bounce
 * mailbox, into "is it a bounce, for whom, with which status, of which
 * kind, and which of our messages (VERP) does it answer".  A pure function
 * of the bytes: no store, no keys, no network.  Runs in the mailer (its
 * bounce reader) and in the command line (`tayori bounce parse`).
 *
 * Standards: RFC 3464 (delivery status notifications: multipart/report,
 * message/delivery-status with Final-Recipient, Original-Recipient, Action,
 * Status, Diagnostic-Code), RFC 3463 (enhanced status codes class.subject.
 * detail), RFC 6533 (message/global-delivery-status, read the same way),
 * RFC 5965 (ARF: message/feedback-report, Original-Rcpt-To,
 * Original-Mail-From), RFC 3834 (Auto-Submitted), RFC 5322 and RFC
 * 2045-2049 (GMime 3 parses the structure and the transfer encodings).
 * Besides RFC 3464 it reads the text that common systems send instead of
 * (or beside) a report: Exchange and Office 365 NDRs (text and HTML),
 * Gmail, Exim, Postfix, Sendmail, qmail, Yahoo, and the Japanese carriers
 * docomo, au/KDDI (ezweb.ne.jp, au.com) and SoftBank (softbank.ne.jp,
 * i.softbank.jp), whose text is often ISO-2022-JP or Shift_JIS.
 *
 * The kinds, decided in this order:
 *   complaint   an ARF report: a multipart/report with report-type
 *               feedback-report, or any message/feedback-report part.  The
 *               recipient is its Original-Rcpt-To (else the To of the
 *               message it carries).  Never counted as a bounce.
 *   hard, soft, rate
 *               a delivery failure: an RFC 3464 report whose recipients
 *               have Action failed or delayed, or a known failure text
 *               (the formats above).  Per recipient, the status is the
 *               report's Status, else the enhanced code in its diagnostic,
 *               else the class of the SMTP reply code with the subject
 *               taken from known phrases ("user unknown" 5.1.1, "mailbox
 *               full" 5.2.2, 宛先不明, 容量超過, 受信拒否 ...), else 5.0.0
 *               (4.0.0 for a delay notice).  Then:
 *               rate  a temporary (4.x.x or 421) failure that is
 *                     throttling: 4.7.28, 4.2.1, 4.7.650, 4.7.651,
 *                     4.7.500, or a diagnostic saying "rate limit", "too
 *                     many", "too quickly", "throttl", "TSS04" and the like;
 *               soft  any other 4.x.x, an Action of delayed, and 5.2.2
 *                     (mailbox full, which empties);
 *               hard  every other 5.x.x.
 *               The message's kind is hard when any recipient is hard,
 *               else rate when any is rate, else soft.  A report whose
 *               recipients were all delivered, relayed or expanded is
 *               not-bounce.
 *   auto-reply  no failure found, and the message says it was sent by a
 *               machine on a person's behalf: Auto-Submitted other than
 *               "no" (RFC 3834), X-Autoreply, X-Autorespond,
 *               Precedence or X-Precedence auto_reply, or a subject
 *               starting with an out-of-office marker ("Automatic reply:",
 *               "Out of Office", "自動応答", "自動返信", "不在" ...).
 *               Never counted as a bounce.
 *   not-bounce  anything else (ordinary mail).
 * A message that is none of these but carries, as its first embedded
 * message/rfc822, a bounce or a complaint (a bounce forwarded here) is
 * read as that inner message.
 *
 * VERP: our return path is bounce+BATCH-SEQ-MAC@domain.  The first address
 * whose local part starts with "bounce+" (any case) is taken from the
 * bounce's X-Original-To, Delivered-To, Envelope-To, X-Envelope-To and To,
 * then the report's Original-Mail-From, then the Return-Path of the message
 * it carries.  BATCH is a decimal 1..2^64-1 and SEQ a decimal 1..2^31-1
 * (no sign, no leading zero); MAC is BOUNCE_MAC_MIN to BOUNCE_MAC_MAX
 * letters and digits, kept lower-cased (the keys process makes it in a
 * case-free alphabet, since mail systems may change the case of a local
 * part).  The whole local part must fit RFC 5321's 64 octets: "bounce+",
 * the largest batch (20 digits), "-", the largest sequence (10), "-" leave
 * 25 base32 letters (125 bits) for the MAC (mailer/verp.h).  The MAC is only parsed here; whether it
 * holds is the caller's question to the keys process, and until it does
 * nothing may be marked.
 *
 * Bounds: only the first BOUNCE_INPUT_MAX bytes are read (truncated is
 * set); a message with more than BOUNCE_SCAN_PARTS boundary or
 * Content-Type lines is read as one plain text (no MIME structure is
 * built for it); the walk goes at most BOUNCE_DEPTH_MAX parts deep and
 * visits at most BOUNCE_PARTS_MAX parts; at most BOUNCE_RCPT_MAX recipients
 * are kept (truncated is set); text is read in lines of at most
 * BOUNCE_LINE_MAX bytes; BOUNCE_TEXT_MAX bytes of text are scanned.
 * Parsing uses plain string scanning: no regular expressions.
 *
 * Every string in the result is NUL-terminated, valid UTF-8, and free of
 * control characters (they become spaces); addresses pass email_valid()
 * with the domain lower-cased.  The result is the caller's, filled in
 * place; it holds no pointers and needs no freeing.
 */
#ifndef TAYORI_BOUNCE_H
#define TAYORI_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/email.h"
#include "lib/util.h"

#define BOUNCE_INPUT_MAX ((size_t)2 << 20) /* bytes of one message read */
#define BOUNCE_SCAN_PARTS 256              /* boundary or Content-Type lines */
#define BOUNCE_DEPTH_MAX 8                 /* MIME nesting walked */
#define BOUNCE_PARTS_MAX 64                /* MIME parts visited */
#define BOUNCE_RCPT_MAX 64                 /* recipients kept */
#define BOUNCE_LINE_MAX 4096               /* bytes of one text line */
#define BOUNCE_TEXT_MAX ((size_t)256 << 10) /* bytes of text scanned */
#define BOUNCE_DIAG_MAX 400                /* bytes of a diagnostic kept */
#define BOUNCE_STATUS_MAX 11               /* "5.123.123" and the NUL, rounded */
#define BOUNCE_MAC_MIN 16
#define BOUNCE_MAC_MAX 64
#define BOUNCE_VERP_PREFIX "bounce+"

enum bounce_kind {
	BOUNCE_NOT = 0,   /* not-bounce */
	BOUNCE_HARD,      /* hard */
	BOUNCE_SOFT,      /* soft */
	BOUNCE_RATE,      /* rate */
	BOUNCE_AUTO_REPLY, /* auto-reply */
	BOUNCE_COMPLAINT, /* complaint */
};

struct bounce_rcpt {
	char addr[EMAIL_MAX + 1];     /* the address that failed (Final-Recipient) */
	char original[EMAIL_MAX + 1]; /* Original-Recipient, or "" */
	char status[BOUNCE_STATUS_MAX + 1]; /* "5.1.1"; "" for a complaint */
	char diag[BOUNCE_DIAG_MAX + 1];     /* the server's words, one line */
	enum bounce_kind kind;
};

struct bounce_verp {
	int present;   /* an address starting with bounce+ was found */
	int valid;     /* and it is well formed; the fields below are set only then */
	uint64_t batch;
	uint32_t seq;
	char mac[BOUNCE_MAC_MAX + 1];
	char addr[EMAIL_MAX + 1]; /* the whole return path, as found (also when not valid) */
};

struct bounce_result {
	enum bounce_kind kind;
	int is_bounce; /* kind is hard, soft or rate */
	char format[16]; /* which reader matched: "rfc3464", "arf", "exchange", "gmail",
			  * "exim", "postfix", "sendmail", "qmail", "yahoo", "docomo",
			  * "au", "softbank", "text", "auto-reply", or "" */
	size_t nrcpt;
	struct bounce_rcpt rcpt[BOUNCE_RCPT_MAX];
	struct bounce_verp verp;
	int truncated; /* input past BOUNCE_INPUT_MAX, or recipients past the cap */
	int flattened; /* too many parts: read as one plain text */
};

/* Classify len bytes of one message into *out (always filled, even for
 * garbage, which is not-bounce).  Returns 0; -1 only when data is NULL
 * with len > 0 or out is NULL (e filled). */
int bounce_parse(const uint8_t *data, size_t len, struct bounce_result *out, struct error *e);

/* "hard", "soft", "rate", "auto-reply", "complaint", "not-bounce". */
const char *bounce_kind_name(enum bounce_kind k);

/* Parse one address as a VERP return path into *v (present, valid and the
 * fields).  Returns 1 when it is well formed, else 0. */
int bounce_verp_parse(const char *addr, struct bounce_verp *v);

#endif
