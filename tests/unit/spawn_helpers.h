/*
 * spawn_helpers.h — what the PDF unit tests share to run the project's
 * own tools (tests/bench/gen-corpus, qpdf): the top of the source tree
 * and a way to run a command.  Included by one test file each, so its
 * functions are static.
 */
#ifndef TAYORI_SPAWN_HELPERS_H
#define TAYORI_SPAWN_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <glib.h>

/* The source tree ($TOP, or the current folder). */
static const char *top(void)
{
	const char *t = getenv("TOP");
	return t && *t ? t : ".";
}

/* Run argv (NULL-terminated); return its exit status, or -1. */
static int run(char **argv)
{
	int status = -1;
	GError *err = NULL;
	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL, NULL, NULL, NULL, &status, &err)) {
		fprintf(stderr, "cannot run %s: %s\n", argv[0], err->message);
		g_error_free(err);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
