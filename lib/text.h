/*
 * text.h — clean text: what a title, a message to residents or a free-text
 * setting may hold, and how stored text is shown safely.  Runs in every
 * process (the gateway and the CLI check, every printer escapes).
 *
 * Clean text is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) without
 *   - C0 controls, DEL and C1 controls (U+0000-U+001F, U+007F-U+009F),
 *     except tab and line feed in a message body, where CRLF becomes LF;
 *     a lone CR is refused (it is no line end any current system writes,
 *     and a mail header split on it is how a Bcc: is smuggled in);
 *   - bidirectional overrides, embeddings and isolates (U+202A-U+202E,
 *     U+2066-U+2069), which can make text read in another order than it is
 *     stored ("Trojan Source");
 *   - the line and paragraph separators U+2028 and U+2029;
 *   - in one-line text, also the invisible direction marks U+200E, U+200F
 *     and U+061C (a message body may need them beside Arabic or Hebrew
 *     text, where they only settle the direction of neutral characters).
 * One-line text (a title, a setting) holds no tab and no line break.
 * Lengths are counted in characters (code points), never cut: text past a
 * limit is refused.
 */
#ifndef TAYORI_TEXT_H
#define TAYORI_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TEXT_TITLE_MAX 200      /* characters of a notice title */
#define TEXT_MESSAGE_MAX 20000  /* characters of a message to residents */
#define TEXT_SETTING_MAX 200    /* characters of any other free-text setting */

enum text_kind {
	TEXT_LINE, /* one line: a title, a setting */
	TEXT_BODY, /* lines: a message (tab and LF kept, CRLF becomes LF) */
};

/* Why a text is not clean: line (1-based, counted by LF) and a sentence
 * such as "a control character (U+001B) is not allowed". */
struct text_problem {
	size_t line;
	char what[160];
};

/* Check len bytes of s as kind, at most max_chars characters.  Returns a
 * new NUL-terminated copy (CRLF turned into LF for TEXT_BODY; the caller
 * frees it), or NULL with p filled. */
char *text_clean(const char *s, size_t len, enum text_kind kind, size_t max_chars,
		 struct text_problem *p);
/* The same check without a copy: 0 when clean, -1 with p filled. */
int text_check(const char *s, enum text_kind kind, size_t max_chars, struct text_problem *p);

/* Decode one UTF-8 character of s (at most n bytes).  Returns its length
 * (1-4) with *cp set, or 0 when the bytes there are not valid UTF-8. */
size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Is cp one a terminal or a reader must never receive raw from stored
 * data: C0, DEL, C1, bidi controls and marks, U+2028/U+2029? */
int text_is_unsafe(uint32_t cp);

/* Print s for a terminal: unsafe characters as \u{XXXX} ("\u{1B}"),
 * bytes that are not UTF-8 as \xNN; everything else as it is. */
void text_fputs_safe(FILE *f, const char *s);

#endif
