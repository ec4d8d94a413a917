/*
 * banned.h — functions that may not be called anywhere in tayori, because a
 * safer one exists.  Included first into every C file of every build (the
 * GNUmakefile passes -include lib/banned.h), so a call is a compile error
 * with gcc and clang; tests/banned-functions reads the same list from the
 * BANNED() lines below and also scans the sources by name.
 * Runs nowhere: declarations only.
 *
 * How: each function is declared here with the "unavailable" attribute
 * (gcc 12+, clang), before any system header is read; the system headers'
 * own declarations then merge with ours and keep the attribute.  The
 * headers are included here so that a fortified build's macro versions
 * (sprintf with clang, alloca everywhere) can be removed afterwards; their
 * include guards keep them from coming back.  Without "unavailable" the
 * declarations are deprecated, which -Werror turns into an error too.
 *
 * One BANNED(return type, name, (parameters), "what to use instead") line
 * per function; tests/banned-functions takes the names from these lines.
 */
#ifndef TAYORI_BANNED_H
#define TAYORI_BANNED_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__has_attribute)
#if __has_attribute(unavailable)
#define TAYORI_BANNED_ATTR(why) __attribute__((unavailable(why)))
#endif
#endif
#ifndef TAYORI_BANNED_ATTR
#define TAYORI_BANNED_ATTR(why) __attribute__((deprecated(why)))
#endif
#define BANNED(ret, name, params, why) ret name params TAYORI_BANNED_ATTR("banned: " why)

BANNED(char *, strcpy, (char *__restrict, const char *__restrict), "use snprintf or memcpy");
BANNED(char *, strcat, (char *__restrict, const char *__restrict), "use snprintf or struct buf");
BANNED(int, sprintf, (char *__restrict, const char *__restrict, ...), "use snprintf");
BANNED(int, vsprintf, (char *__restrict, const char *__restrict, va_list), "use vsnprintf");
BANNED(char *, gets, (char *), "use fgets");
BANNED(int, atoi, (const char *), "use strtol with range checks");
BANNED(long, atol, (const char *), "use strtol with range checks");
BANNED(long long, atoll, (const char *), "use strtoll with range checks");
BANNED(char *, strtok, (char *__restrict, const char *__restrict), "use strtok_r or strsep");
BANNED(char *, strncpy, (char *__restrict, const char *__restrict, size_t), "use snprintf or memcpy");
BANNED(char *, strncat, (char *__restrict, const char *__restrict, size_t), "use snprintf");
BANNED(int, rand, (void), "use RAND_bytes");
BANNED(void, srand, (unsigned int), "use RAND_bytes");
BANNED(char *, tmpnam, (char *), "use mkstemp");
BANNED(char *, mktemp, (char *), "use mkstemp or mkdtemp");
BANNED(void *, alloca, (size_t), "use malloc with a size cap");
BANNED(int, system, (const char *), "use fork and execv");

#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fortified or builtin macro versions would bypass the declarations. */
#undef strcpy
#undef strcat
#undef sprintf
#undef vsprintf
#undef gets
#undef atoi
#undef atol
#undef atoll
#undef strtok
#undef strncpy
#undef strncat
#undef rand
#undef srand
#undef tmpnam
#undef mktemp
#undef alloca
#undef system

#endif
