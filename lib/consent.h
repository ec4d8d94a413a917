/*
 * consent.h — a resident's consent to electronic delivery, or their
 * choice of paper, per resident AND per notice type, as the law on
 * electronic delivery asks (DESIGN.md, "The law it serves"):
 *
 *   DB_CONSENT  HMAC("consent", resident key | 0 | notice type) -> sealed rec CR_*
 *
 * The resident key is the batch's normalised key (宛名番号), the same for
 * the resident in every batch of the tenant.  Notice types are not built
 * yet: until they are, a batch's type is its title (consent_type_of()).
 * Written by the portal when a resident consents or declines; read by the
 * command line and by the mailer, which sends nothing to a resident whose
 * choice for the batch's type is paper.  Runs in those processes.
 */
#ifndef TAYORI_CONSENT_H
#define TAYORI_CONSENT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/util.h"

struct store_txn;

enum { CR_CHANNEL = 1, CR_AT, CR_TERMS, CR_BATCH, CR_SEQ, CR_TYPE };

#define CONSENT_TYPE_MAX 512
#define CONSENT_TYPE_DEFAULT "通知"

struct consent_rec {
	char channel[16];   /* "electronic" (consented) or "paper" (declined) */
	int64_t at;         /* UTC seconds */
	char terms[32];     /* the terms version */
	uint64_t batch;     /* where it was given */
	uint32_t seq;
};

/* The notice type of a batch titled title: the title, or
 * CONSENT_TYPE_DEFAULT when it has none. */
const char *consent_type_of(const char *title);

/* Store c for (key, type) in the write transaction t (sealed, replacing
 * an earlier choice). */
int consent_put(struct store_txn *t, const char *key, const char *type,
		const struct consent_rec *c, struct error *e);
/* 0 found (out set), 1 none, -1 error. */
int consent_get(struct store_txn *t, const char *key, const char *type, struct consent_rec *out,
		struct error *e);
/* consent_get() for n residents (keys[i]) and one type in two keys
 * requests: found[i] 1 when out[i] is set, 0 when none (or keys[i] is
 * empty); -1 error. */
int consent_get_many(struct store_txn *t, size_t n, const char *const *keys, const char *type,
		     struct consent_rec *out, int *found, struct error *e);

#endif
