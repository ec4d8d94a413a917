/*
 * page_staff_settings.h — the HTML of the dashboard's settings page (設定):
 * the ward's settings staff may change (lib/wardset.h), each field
 * labelled with its hint and the tayori.conf default it overrides, and
 * one clear Japanese message per bad field (linked from a summary at the
 * top, the field marked aria-invalid).  Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_SETTINGS_H
#define TAYORI_PAGE_STAFF_SETTINGS_H

#include "lib/buf.h"
#include "portal/page_staff.h"

enum { SET_DESCRIPTION, SET_CONTACT, SET_REMINDERS, SET_DEADLINE, SET_TESTS, SET_TYPES,
       SET_NFIELDS };

/* The form's values (as typed, or as saved) and what is wrong with each
 * ("" fine). */
struct page_staff_settings {
	const char *value[SET_NFIELDS];
	char error[SET_NFIELDS][320];
	const char *conf_contact;  /* [mail] contact, the default */
	const char *conf_tests;    /* [mail] test_addresses, the default */
	const char *updated;       /* "2026-12-07 10:00 JST（staff:3）", "" never */
	int saved;                 /* just saved: say so */
};

/* The field names used in the form ("description", ...). */
extern const char *const page_staff_settings_names[SET_NFIELDS];

int page_staff_settings(struct buf *b, const struct page_staff_user *u,
			const struct page_staff_settings *s);

#endif
