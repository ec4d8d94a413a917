/*
 * live_notify.h — the portal's in-process notifier of new events: the
 * resident side's writer thread says "batch B has new events, committed"
 * (live_notify) and the dashboard's live thread (staff_live.c) wakes at
 * once (live_wait) instead of finding them on its next poll of the store.
 * One per process: a sequence number that each notification raises, under
 * a mutex, and a condition variable.  Runs in the portal process.
 */
#ifndef TAYORI_LIVE_NOTIFY_H
#define TAYORI_LIVE_NOTIFY_H

#include <stdint.h>

/* Batch has new committed events (0: wake the waiters for another
 * reason, e.g. to stop).  Cheap: a lock, an add, a broadcast. */
void live_notify(uint64_t batch);
/* The current sequence number. */
uint64_t live_seq(void);
/* Wait until the sequence number is no longer *seen, or timeout_ms has
 * passed; *seen gets the current one.  1 when it moved, 0 on time-out. */
int live_wait(uint64_t *seen, int timeout_ms);

#endif
