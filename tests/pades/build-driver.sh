#!/bin/sh
# tests/pades/build-driver.sh OUT [CC] [EXTRA CFLAGS...] — build the
# stand-in driver from lib/ and the PAdES sources with the GNUmakefile's
# flags, for the integration test until `tayori pdf sign` exists.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$1; shift
CC=${1:-cc}; [ $# -gt 0 ] && shift
cd "$TOP"
$CC -std=c11 -D_GNU_SOURCE -DTAYORI_VERSION=\"0.1.0\" -I. -Ilib \
	-Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wvla -g "$@" $(pkg-config --cflags openssl libqpdf) \
	-o "$OUT" tests/pades/pdfsign_driver.c lib/util.c lib/buf.c lib/log.c \
	gateway/signer.c gateway/http_client.c gateway/tsa.c gateway/pades.c gateway/pdf_verify.c gateway/pdf_sign_cli.c \
	$(pkg-config --libs openssl libqpdf) -ldl -lpthread
