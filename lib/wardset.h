/*
 * wardset.h — the ward's settings that staff may change from the
 * dashboard (設定): the service's description for residents, the contact
 * details printed in every message, the default reminder schedule (督促)
 * and the default deadline for batches that give none, the test
 * addresses, and the notice types.  tayori.conf stays the administrator's
 * file and gives the defaults ([mail] contact, [mail] test_addresses); a
 * value saved here overrides it.  Read by the mailer (contact, test
 * addresses, deadline: mailer/send.c), by the reminder schedule
 * (lib/remind.c); the description by the resident portal's front and
 * link pages (portal/resident.c, over [portal] description).
 * Runs in every process that reads or changes them.
 *
 *   DB_META "ward_settings" -> sealed rec WS_* (one record; sealed so that
 *   a person who can write the LMDB files cannot put a look-alike contact
 *   address into every message)
 *
 * Every change is audited (settings.change: the names of the fields
 * changed, never their values) in the transaction that writes it.
 */
#ifndef TAYORI_WARDSET_H
#define TAYORI_WARDSET_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

struct store;
struct store_txn;

#define WARDSET_DESCRIPTION_MAX 1000 /* characters */
#define WARDSET_CONTACT_MAX     500
#define WARDSET_REMINDERS_MAX   100
#define WARDSET_TESTS_MAX       2000
#define WARDSET_TYPES_MAX       4000
#define WARDSET_DEADLINE_DAYS_MAX 365
#define WARDSET_DEADLINE_DAYS_DEFAULT 30 /* none set here: 30 days after sending */

enum { WS_DESCRIPTION = 1, WS_CONTACT, WS_REMINDERS, WS_DEADLINE_DAYS, WS_TEST_ADDRESSES,
       WS_NOTICE_TYPES, WS_UPDATED, WS_UPDATED_BY };

/* The settings; "" (or 0 days) is "not set here": the conf default holds
 * (contact, test addresses), or none (description, reminders), or the
 * mailer's 30 days (deadline). */
struct wardset {
	char description[WARDSET_DESCRIPTION_MAX * 4 + 1];
	char contact[WARDSET_CONTACT_MAX * 4 + 1];
	char reminders[WARDSET_REMINDERS_MAX * 4 + 1];
	uint32_t deadline_days;
	char test_addresses[WARDSET_TESTS_MAX * 4 + 1];
	char notice_types[WARDSET_TYPES_MAX * 4 + 1];
	int64_t updated;      /* UTC seconds, 0: never saved */
	char updated_by[32];  /* "staff:N" */
};

/* The notice types (notice_types: one a line, 名称｜根拠｜扱い, "|" or
 * "｜"): the names, in order, at most max, each cut to fit (a name is
 * short: the settings page keeps lines to WARDSET_TYPES_MAX characters in
 * all).  Returns how many. */
#define WARDSET_TYPE_NAME_MAX 256
#define WARDSET_TYPES_COUNT_MAX 50
size_t wardset_type_names(const char *types, char (*names)[WARDSET_TYPE_NAME_MAX], size_t max);
/* Is name (compared exactly, after trimming spaces) one of the types? */
int wardset_type_known(const char *types, const char *name);

/* The saved settings in transaction t (or a read of st): 0 found, 1 none
 * saved yet (out zeroed), -1 error. */
int wardset_get(struct store_txn *t, struct wardset *out, struct error *e);
int wardset_load(struct store *st, struct wardset *out, struct error *e);
/* Save ws (already checked by the caller) with updated and updated_by set
 * from now and actor, audited as settings.change by actor from where; the
 * detail names the fields that differ from what was saved. */
int wardset_save(struct store *st, struct wardset *ws, const char *actor, const char *where,
		 struct error *e);

#endif
