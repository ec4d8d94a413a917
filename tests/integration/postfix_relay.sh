#!/bin/sh
# tests/integration/postfix_relay.sh — the mailer's pool (mailer/pool.h)
# through a real MTA: a private Postfix instance on a loopback port
# (postfix -c DIR start) as the relay, delivering with its virtual agent
# into a local Maildir.  A few notification messages are sent through the
# pool (tests/bench/pool_driver.c); each must arrive once and intact (what
# Postfix adds is only its Return-Path, Delivered-To, X-Original-To and
# Received lines on top), with the relay's queue id reported; a recipient Postfix will not
# relay for is a permanent failure.  Skipped when Postfix is not
# installed (contrib/install-deps --test installs it) or when not root
# (Postfix's master must start as root).
. "$(dirname "$0")/lib.sh"

POSTFIX=${POSTFIX:-/usr/sbin/postfix}
if [ ! -x "$POSTFIX" ]; then
	ok "# skip: postfix is not installed (sh contrib/install-deps --test)"
	done_testing
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	ok "# skip: a private Postfix instance must be started as root"
	done_testing
	exit 0
fi

# The driver, linked with the archives of the build under test.
BDIR=$(cd "$(dirname "$TAYORI")" && pwd)
SAN=""
CCX=${CC:-cc}
case "$BDIR" in */asan) CCX=clang SAN="-fsanitize=address,undefined" ;; esac
[ -f "$BDIR/libmailer.a" ] || { BDIR=$TOP/build/default; SAN=""; CCX=${CC:-cc}; make -s -C "$TOP" tayori >/dev/null; }
# shellcheck disable=SC2046
check "the pool driver builds" sh -c "cd '$TOP' && $CCX -std=c11 -D_GNU_SOURCE -O1 -g $SAN -I. -include lib/banned.h \
	-o '$T/pool_driver' tests/bench/pool_driver.c \$(sh tests/link-layers '$BDIR' tests/bench/pool_driver.c) \
	\$(pkg-config --libs openssl lmdb libmicrohttpd libargon2 gmime-3.0 glib-2.0 libqpdf poppler-glib libetpan \
	libseccomp zlib) -lpthread"

PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PF=$T/postfix
mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/vmail" "$T/sent"
chown postfix "$PF/data"
chown nobody "$PF/vmail"
chmod 755 "$PF"
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.tayori.test
mydomain = tayori.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
relay_domains =
virtual_mailbox_domains = example.jp
virtual_mailbox_base = $PF/vmail
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
alias_maps =
alias_database =
maillog_file = $PF/postfix.log
maillog_file_prefixes = $PF
smtputf8_enable = no
biff = no
EOF
# chroot off everywhere: the instance's files are not under a chroot.
cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
check "a private Postfix starts on 127.0.0.1:$PORT" "$POSTFIX" -c "$PF/etc" start
at_exit "$POSTFIX" -c "$PF/etc" stop
listening() { /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1).close()"; }
check "Postfix listens" wait_for 30 listening

N=5
check_status 0 "the pool hands $N messages to Postfix, each SENT" "$T/pool_driver" send 127.0.0.1 "$PORT" "$N" example.jp "$T/sent"
cp "$T/last" "$T/sent.log"
check "each outcome names Postfix's queue id" sh -c "[ \$(grep -cE '^[0-9]+ sent [0-9A-Za-z]{6,}\$' '$T/sent.log') -eq $N ]"

arrived() { [ "$(ls "$PF/vmail/box/new" 2>/dev/null | wc -l)" -ge "$N" ]; }
check "Postfix delivers all $N into the Maildir" wait_for 60 arrived
check "each message arrived exactly once and intact" /usr/bin/python3 - "$T/sent" "$PF/vmail/box/new" "$N" <<'EOF'
import os, sys, email, email.policy
sent_dir, box, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
got = [open(os.path.join(box, f), "rb").read() for f in os.listdir(box)]
assert len(got) == n, "%d files in the Maildir" % len(got)
added = (b"Return-Path:", b"Delivered-To:", b"X-Original-To:", b"Received:", b" ", b"\t")
for i in range(n):
    want = open(os.path.join(sent_dir, "%d.eml" % i), "rb").read().replace(b"\r\n", b"\n")
    hits = [g for g in got if g.endswith(want)]
    assert len(hits) == 1, "message %d arrived %d times" % (i, len(hits))
    prefix = hits[0][: len(hits[0]) - len(want)]
    for line in prefix.splitlines():
        assert line.startswith(added), "Postfix changed the message: %r" % line
    m = email.message_from_bytes(hits[0], policy=email.policy.strict)
    assert m["To"] == "resident%d@example.jp" % i and m.get_content_type() == "multipart/alternative"
EOF

check_status 2 "a domain Postfix does not relay for is a permanent failure" "$T/pool_driver" send 127.0.0.1 "$PORT" 1 elsewhere.example "$T/sent"
check "the refusal is Postfix's 5.7.1" grep -q '^0 permfail .*Relay access denied' "$T/last"
done_testing
