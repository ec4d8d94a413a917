/*
 * mime_charset.h — text in a mail's declared (or guessed) charset turned
 * into UTF-8, Japanese mail habits included: ISO-2022-JP with Outlook's
 * NEC and IBM extensions (CP50220/50221), Shift_JIS read as CP932, EUC-JP
 * as EUC-JP-MS.  No state: usable by any reader of mail (the intake, a
 * bounce reader).  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 * Standards: RFC 1468 (ISO-2022-JP), RFC 2045 (charset parameter).
 */
#ifndef TAYORI_MIME_CHARSET_H
#define TAYORI_MIME_CHARSET_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in charset (NULL or unknown: guessed among UTF-8, ISO-2022-JP,
 * EUC-JP, CP932) to a new UTF-8 string the caller frees with free();
 * undecodable bytes become U+FFFD, a leading UTF-8 BOM is dropped, and
 * the result is valid UTF-8 without a NUL inside. */
char *mime_charset_to_utf8(const char *charset, const uint8_t *data, size_t len);

/* 1 when a and b are equal ignoring ASCII case; a may be NULL (0). */
int mime_charset_ieq(const char *a, const char *b);

#endif
