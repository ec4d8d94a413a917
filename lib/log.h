/*
 * log.h — one line per event, key=value, to stderr and syslog.
 * Runs in every process.
 *
 * Callers log events, not prose: log_info("event=batch_stored batch=%llu", id).
 * Never log personal data (names, addresses, resident keys) or secrets;
 * residents appear by internal id.  Values that may contain spaces are
 * quoted with log_quote().
 */
#ifndef TAYORI_LOG_H
#define TAYORI_LOG_H

#include "lib/util.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/* role names the process in every line ("keys", "gateway", "cli"...). */
void log_init(const char *role, int use_syslog, enum log_level min);
void log_set_role(const char *role);
/* Command-line tools keep stderr for warnings while syslog gets every event. */
void log_set_stderr_min(enum log_level min);
/* log_hold(1): this thread's stderr lines are kept and written at once by
 * log_hold(0) (many audit lines of one commit: one write, not many). */
void log_hold(int on);
void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_err(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Start-up only: log and exit(3). Never on input. */
void fatal(const char *fmt, ...) PRINTF_LIKE(1, 2) __attribute__((noreturn));

/* Quote a value for a log line: "..." with \" and control chars escaped,
 * truncated to fit out.  Returns out. */
const char *log_quote(const char *s, char *out, size_t outsize);

#endif
