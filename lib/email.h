/*
 * email.h — the one rule for an e-mail address, shared by the
 * configuration (conf.c), the recipients CSV (recipients.c) and staff
 * accounts (staff.c).  Runs in every process that reads an address.
 *
 * An address is an RFC 5321 Mailbox as a mail system takes it, in ASCII:
 *   local part  a dot-atom (RFC 5322): atext characters
 *               A-Z a-z 0-9 ! # $ % & ' * + - / = ? ^ _ ` { | } ~
 *               in runs separated by single dots; no leading, trailing or
 *               consecutive dot; 1 to 64 octets.
 *   domain      LDH labels (A-Z a-z 0-9 and inner hyphens, 1 to 63
 *               octets each), at least two of them, the last not all
 *               digits (no IP literals), at most 255 octets.
 *   whole       at most 254 octets (the RFC 5321 path less the brackets).
 *
 * Quoted local parts ("a b"@example.jp) are refused: RFC 5321 4.1.2 asks
 * hosts not to define such mailboxes, they are the way spaces, '@', commas
 * and backslashes would reach a header or an SMTP command, and a ward's
 * residents do not have them.  Non-ASCII is refused: an IDN domain is
 * written in punycode (xn--...), which passes as LDH; turning U-labels into
 * A-labels needs the UTS 46 mapping tables (libidn2), and the mailer does
 * not speak SMTPUTF8, so such an address could not be delivered anyway.
 * Callers keep their own normalisation before the check (NFKC and
 * lower-casing of the recipients CSV, lower-casing of staff logins).
 */
#ifndef TAYORI_EMAIL_H
#define TAYORI_EMAIL_H

#define EMAIL_MAX 254       /* whole address, octets */
#define EMAIL_LOCAL_MAX 64  /* local part */
#define EMAIL_DOMAIN_MAX 255
#define EMAIL_LABEL_MAX 63

/* 1 when addr is an address as described above, 0 otherwise (and for NULL). */
int email_valid(const char *addr);

#endif
