/*
 * notice_int.h — private to the notice module (lib/notice*.c): checking
 * many records' MACs in one round trip to the keys process, and reading a
 * delivery or access record whose MAC was checked.  Not for other
 * modules: they use lib/notice.h.  Runs where lib/notice.h runs.
 */
#ifndef TAYORI_NOTICE_INT_H
#define TAYORI_NOTICE_INT_H

#include <stddef.h>
#include <stdint.h>
#include "lib/notice.h"

#define REC_MAX (16u << 10) /* bytes of one notice record */

/* notice_check_rec() for n records of db at once, in as few round trips
 * to the keys process as its limits allow; vals[i] NULL skips one.  bad[i]
 * gets 1 for a record whose MAC does not hold, 2 for an older version than
 * the keys process anchored (rolled back), both logged, else 0.  -1 on
 * error (keys unreachable). */
int notice_check_many(struct store *st, int db, size_t n, const void *const *keys,
		      const size_t *kls, const void *const *vals, const size_t *vls, int *bad,
		      struct error *e);
/* notice_seal_rec() for n records of db at once (one round trip per
 * KEYS_BATCH_MAX): each gets NR_VERSION version, then its MAC. */
int notice_seal_many(struct store *st, int db, size_t n, const void *const *keys,
		     const size_t *kls, uint64_t version, struct buf *recs, struct error *e);
/* The fields of d's record, without NR_VERSION and NR_MAC. */
int notice_delivery_rec(const struct delivery *d, struct buf *b, struct error *e);
/* put n records of db (at most KEYS_BATCH_MAX) with one MAC round trip:
 * versions[i] each, anchored when t commits; fresh: each must be new. */
int notice_put_many(struct store_txn *t, int db, size_t n, const void *const *keys,
		    const size_t *kls, const uint64_t *versions, struct buf *recs, int fresh,
		    struct error *e);
/* Fill out (batch and seq already set) from a checked record. */
int notice_delivery_parse(const uint8_t *v, size_t vl, struct delivery *out, struct error *e);
int notice_access_parse(const uint8_t *v, size_t vl, struct notice_access *out,
			struct error *e);
/* An event from its key (20 bytes: batch, time, n) and record, unchecked:
 * 0, or -1 when it does not hold together. */
int notice_event_parse(const uint8_t *k, const uint8_t *v, size_t vl,
		       struct notice_event_rec *ev);

#endif
