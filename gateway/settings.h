/*
 * settings.h — a batch's settings: optional `key: value` lines at the top of
 * the message body (an intake mail's body, or a folder's message.txt), with
 * Japanese aliases, e.g.
 *
 *     件名: 令和8年度 住民税決定通知
 *     分割: 2ページ            (split: pages 2 | key REGEX | auto | per-file | common)
 *     テスト: はい
 *     教示: この処分に不服がある場合は、…審査請求をすることができます。
 *     同意: はい             (ask residents to consent to electronic delivery)
 *
 *     区民の皆さまへ ...
 *
 * Settings end at the first line that is not a known `key: value` (or at a
 * blank line); the rest is the message to residents.  Full-width colons
 * and spaces are accepted (NFKC); a leading byte order mark is skipped.
 *
 * Every free-text value and the message are clean text (text.h): a title
 * of at most TEXT_TITLE_MAX characters, other values of at most
 * TEXT_SETTING_MAX (a 教示 of at most SETTINGS_KYOUJI_MAX), one line
 * each, no tab; a message of at most TEXT_MESSAGE_MAX characters, CRLF read as LF.  Anything else is refused
 * with the line and the setting, e.g. "settings line 3 (件名): a control
 * character (U+000D) is not allowed".  Runs in the gateway and in the CLI.
 */
#ifndef TAYORI_SETTINGS_H
#define TAYORI_SETTINGS_H

#include <stddef.h>
#include "lib/util.h"

enum batch_split {
	SPLIT_INFER,    /* decide from the files: one PDF -> auto, several -> per-file */
	SPLIT_PAGES,    /* N pages per resident */
	SPLIT_KEY,      /* a key regex on the pages */
	SPLIT_AUTO,     /* find the CSV's keys on the pages */
	SPLIT_PER_FILE, /* one PDF per resident, named by its key */
	SPLIT_COMMON,   /* one PDF for everybody */
};

#define SETTINGS_KYOUJI_MAX 2000 /* characters of a 教示 (one line) */

struct batch_settings {
	char *title;
	enum batch_split split;
	int pages;
	char *key_regex;
	char *key_column, *name_column, *email_column, *message_column, *attachment_column,
		*auth_column;
	int key_width;
	int test;          /* テスト利用: only to staff test addresses */
	char *auth;        /* magic | otp | csv (opening authentication) */
	char *reminders;   /* kept as written, for the mailer */
	char *deadline;
	char *expiry;
	char *kyouji;      /* 教示: how to appeal, one line; NULL when none */
	int consent;       /* 同意: the portal asks for consent to electronic delivery */
	char *notice_type; /* 種類: one of the ward's notice types (lib/wardset.h), checked
			    * by intake against them; NULL when none */
	size_t notice_type_line; /* the settings line it was on */
	char *message;     /* the body after the settings */
};

/* Parse text (UTF-8).  Owned strings; free with settings_free().  A known
 * key with a bad value is refused ("settings line N: ..."), and so is text
 * that is not clean ("message line N: ..."). */
int settings_parse(const char *text, struct batch_settings *s, struct error *e);
void settings_free(struct batch_settings *s);
const char *settings_split_name(enum batch_split s);

#endif
