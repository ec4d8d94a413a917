/*
 * imap_url.h — where an IMAP mailbox is: an imap:// or imaps:// URL taken
 * apart, and mailbox names in IMAP's modified UTF-7.  No state, nothing
 * about batches: any IMAP reader (the intake, a bounce reader) can use it.
 * Runs in the gateway and the mailer.
 * Standards: RFC 5092 (IMAP URL, the parts used here), RFC 3501 5.1.3
 * (modified UTF-7 mailbox names).
 */
#ifndef TAYORI_IMAP_URL_H
#define TAYORI_IMAP_URL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define IMAP_URL_MBOX_MAX 1024 /* a mailbox name, NUL included */

struct imap_url {
	char host[256];     /* a DNS name or an IP literal, without brackets */
	uint16_t port;      /* 993 for imaps://, 143 for imap:// unless given */
	int implicit_tls;   /* imaps:// */
	int host_is_ip;
	int loopback;       /* 127.0.0.0/8, ::1 or "localhost" */
	char path[IMAP_URL_MBOX_MAX]; /* the /MAILBOX, %-escapes decoded (UTF-8); "" if none */
};

/*
 * imap[s]://HOST[:PORT][/MAILBOX] into u.  0, or -1 with e naming the
 * setting it came from (setting, e.g. "[mail] imap_url") and what is wrong.
 */
int imap_url_parse(const char *url, const char *setting, struct imap_url *u, struct error *e);

/*
 * A UTF-8 mailbox name as IMAP's modified UTF-7 (RFC 3501 5.1.3), e.g.
 * "処理済み" -> "&UeZ0Bm4IMH8-".  0, or -1 on malformed UTF-8 or when out
 * (outsize bytes, NUL included) is too small.
 */
int imap_url_mailbox(const char *utf8, char *out, size_t outsize);

#endif
