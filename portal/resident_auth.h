/*
 * resident_auth.h — how a resident proves who they are on the portal: a
 * value from the batch's CSV (such as a birth date) compared in constant
 * time after both sides are brought to one canonical form, and a one-time
 * password (6 digits, 10 minutes, only the latest, 5 tries) kept as a MAC
 * from the keys process in the resident's access record (a copy of the
 * files does not reveal it).  Failures lock the notice.  Runs in the
 * portal process.
 */
#ifndef TAYORI_RESIDENT_AUTH_H
#define TAYORI_RESIDENT_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "lib/notice.h"

#define RESIDENT_VALUE_MAX   256  /* bytes of a typed or stored value */
#define RESIDENT_OTP_DIGITS  6
#define RESIDENT_OTP_TTL     600  /* seconds an OTP is valid */
#define RESIDENT_OTP_TRIES   5    /* tries against one OTP */
#define RESIDENT_MAX_FAILURES 5   /* failures in a row that lock the notice */

/* The canonical form of a value (UTF-8, at most RESIDENT_VALUE_MAX bytes):
 * NFKC, blanks removed, case folded; a date in a usual form (1980-04-01,
 * 1980/4/1, 1980.4.1, 1980年4月1日, 19800401, S55.4.1, S550401, 昭和55年4月1日,
 * 令和元年5月1日, with the eras 明治 大正 昭和 平成 令和 or M T S H R) becomes
 * its Gregorian YYYYMMDD.  0, or -1 when in is not UTF-8, too long or empty
 * after normalising. */
int resident_value_canon(const char *in, char *out, size_t outsize);

/* Is cp-string s a date in one of the forms above?  0 with ymd (YYYYMMDD
 * and NUL) set, -1 otherwise.  s is already NFKC, blank-free and folded. */
int resident_date_canon(const char *s, char ymd[9]);

/* 1 when typed matches stored after both are made canonical, else 0.  The
 * comparison of the canonical forms takes the same time whatever they hold
 * (their SHA-256 are compared with CRYPTO_memcmp). */
int resident_value_match(const char *typed, const char *stored);

struct store;

/* Make a fresh OTP for a (the former one stops working): its MAC (made by
 * st's keys process), time and tries are set in a; code gets the digits.
 * -1 when the CSPRNG or the keys process fails (a unchanged). */
int resident_otp_new(struct store *st, struct notice_access *a, int64_t now,
		     char code[RESIDENT_OTP_DIGITS + 1], struct error *e);

enum resident_check {
	RESIDENT_OK,       /* the right value: failures cleared, OTP used up */
	RESIDENT_WRONG,    /* a wrong value: counted */
	RESIDENT_EXPIRED,  /* no OTP, or past its 10 minutes or its 5 tries: counted */
	RESIDENT_LOCKED,   /* locked (now or before): nothing more is tried */
	RESIDENT_ERROR,    /* the keys process failed (e set): nothing counted */
};

/* Check a typed OTP against a at now and update a: tries, failures, lock
 * (after RESIDENT_MAX_FAILURES), the OTP cleared on success.  The caller
 * stores a and records the event. */
enum resident_check resident_otp_check(struct store *st, struct notice_access *a,
				       const char *typed, int64_t now, struct error *e);
/* Check a typed CSV value against the stored one and update a likewise. */
enum resident_check resident_value_check(struct notice_access *a, const char *typed,
					 const char *stored);

#endif
