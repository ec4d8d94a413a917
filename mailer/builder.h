/*
 * builder.h — one background thread that runs one task at a time for the
 * queue: the messages of a chunk are built (GMime, 0.1-0.5 ms each) while
 * the main thread commits the next chunk, instead of after it.
 * Runs in the mailer process.
 *
 * builder_post hands a task over (only when none is held); builder_take
 * returns the task's argument once it has run (waiting for it when asked),
 * NULL otherwise.  The task must touch only what its argument owns and
 * thread-safe services (the keys client, GMime objects of its own).
 */
#ifndef TAYORI_BUILDER_H
#define TAYORI_BUILDER_H

#include <stdbool.h>

#include "lib/util.h"

struct builder;

int builder_open(struct builder **out, struct error *e);
/* Run fn(arg) in the thread.  -1 when a task is already held. */
int builder_post(struct builder *b, void (*fn)(void *), void *arg);
/* The argument of the finished task (then the builder is free again);
 * NULL when none is held, or it still runs and !wait. */
void *builder_take(struct builder *b, bool wait);
/* A task posted and not yet taken back. */
bool builder_held(const struct builder *b);
/* Wait for the task held, if any (its argument is dropped: take it first
 * to free it), and stop the thread. */
void builder_close(struct builder **b);

#endif
