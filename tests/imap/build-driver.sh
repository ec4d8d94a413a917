#!/bin/sh
# tests/imap/build-driver.sh OUT [CC] [EXTRA CFLAGS...] — build the IMAP
# intake test driver (tests/imap/imap_driver.c) from lib/, conf/ and
# gateway/imap_intake.c (and the IMAP reader under it) with the GNUmakefile's warning flags.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1; shift
CC=${1:-cc}; [ $# -gt 0 ] && shift
cd "$TOP"
# shellcheck disable=SC2046
$CC -std=c11 -D_GNU_SOURCE -DTAYORI_VERSION=\"0.1.0\" -I. -include lib/banned.h \
	-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wvla -g "$@" $(pkg-config --cflags libetpan libcrypto libargon2) \
	-o "$OUT" tests/imap/imap_driver.c gateway/imap_intake.c lib/imap_mailbox.c lib/imap_url.c conf/*.c \
	lib/util.c lib/buf.c lib/log.c lib/text.c lib/passwd.c lib/email.c \
	$(pkg-config --libs libetpan libcrypto libargon2 | sed 's/-specs=[^ ]*//g') -lpthread
