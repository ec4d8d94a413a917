/*
 * log.c — key=value event lines to stderr and syslog (see log.h).
 * Runs in every process.
 */
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

static char log_role[32] = "tayori";
static int log_syslog;
static enum log_level log_min = LOG_LVL_INFO;
static enum log_level log_stderr_min = LOG_LVL_DEBUG;

void log_init(const char *role, int use_syslog, enum log_level min)
{
	str_copy(log_role, role, sizeof(log_role));
	log_min = min;
	if (log_syslog)
		closelog();
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("tayori", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_stderr_min(enum log_level min)
{
	log_stderr_min = min;
}

void log_set_role(const char *role)
{
	str_copy(log_role, role, sizeof(log_role));
}

/* Lines held by log_hold() in this thread, written at once on release. */
#define HOLD_MAX ((size_t)256 << 10)
static _Thread_local char *hold_buf;
static _Thread_local size_t hold_len;
static _Thread_local int hold_on;

static void hold_flush(void)
{
	if (hold_buf != NULL && hold_len > 0)
		fwrite(hold_buf, 1, hold_len, stderr);
	hold_len = 0;
}

void log_hold(int on)
{
	if (on && hold_buf == NULL)
		hold_buf = malloc(HOLD_MAX);
	if (!on) {
		hold_flush();
		free(hold_buf);
		hold_buf = NULL;
	}
	hold_on = on && hold_buf != NULL;
}

static void log_emit(enum log_level lvl, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
static void log_emit(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	char line[2048];
	char ts[32];
	int n;

	if (lvl < log_min)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One event is one line: never let a value break the line. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	time_format_utc(now_utc(), ts, sizeof(ts));
	if (lvl >= log_stderr_min && hold_on) {
		char one[sizeof(line) + 128];
		int m = snprintf(one, sizeof(one), "%s tayori[%ld] role=%s level=%s %s\n", ts,
				 (long)getpid(), log_role, names[lvl], line);
		if (m > 0 && (size_t)m < sizeof(one)) {
			if (hold_len + (size_t)m > HOLD_MAX)
				hold_flush();
			memcpy(hold_buf + hold_len, one, (size_t)m);
			hold_len += (size_t)m;
		}
	} else if (lvl >= log_stderr_min) {
		fprintf(stderr, "%s tayori[%ld] role=%s level=%s %s\n", ts, (long)getpid(), log_role,
		names[lvl], line);
	}
	if (log_syslog)
		syslog(prio[lvl], "role=%s level=%s %s", log_role, names[lvl], line);
}

#define LOG_FN(name, lvl)                       \
	void name(const char *fmt, ...)         \
	{                                       \
		va_list ap;                     \
		va_start(ap, fmt);              \
		log_emit(lvl, fmt, ap);         \
		va_end(ap);                     \
	}

LOG_FN(log_debug, LOG_LVL_DEBUG)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_err, LOG_LVL_ERR)

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(3);
}

const char *log_quote(const char *s, char *out, size_t outsize)
{
	size_t o = 0;
	if (outsize < 3) {
		if (outsize)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 3 < outsize; p++) {
		if (*p == '"' || *p == '\\') {
			if (o + 4 >= outsize)
				break;
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f) {
			out[o++] = '?';
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
