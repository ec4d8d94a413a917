/*
 * mime_html.h — an HTML mail body as plain text: tags stripped, <br> and
 * blocks become line breaks, list items "・", entities decoded,
 * script/style/head dropped, <a href="https://...">text</a> kept as
 * "[text](https://...)".  No state: usable by any reader of mail.  Runs in
 * the gateway and in `tayori submit`.
 */
#ifndef TAYORI_MIME_HTML_H
#define TAYORI_MIME_HTML_H

#include <stddef.h>

/* HTML (UTF-8; invalid bytes are replaced) to a new UTF-8 string of
 * cleaned text (mime_clean.h), the caller's to free(). */
char *mime_html_to_text(const char *html, size_t len);

#endif
