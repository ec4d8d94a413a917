#!/bin/sh
# tests/integration/bounce_imap.sh — the mailer's bounce reader
# (mailer/bounce_reader.c) on its IMAP mailbox, a real throwaway Dovecot
# (tests/imap/dovecot.sh), with a real tenant: bounces to return paths the
# tenant's keys process made (a Gmail hard bounce, a throttling delay, an
# out-of-office reply), one to a forged return path and an ordinary mail
# are delivered by IMAP APPEND (tests/imap/imapctl.py, Python's imaplib);
# the reader (driven by the unit test binary: `test_bounce_reader --imap`)
# must mark the right residents (read back with delivery_get), leave the
# forged one's untouched, and move the bounces to Processed and the rest
# to NotBounces with their bytes intact (nothing expunged).  Then, with
# the reader idling, one more bounce arrives and is applied at once (IDLE).
# Standards: RFC 3501, 2177 (IDLE), 6851 (MOVE), 3464.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CTL="$PY $TOP/tests/imap/imapctl.py"
SAMPLES=$TOP/tests/fuzz/corpus/bounce
SAMPLE_VERP=bounce+42-7-k7q2m4x9p3r8t6v1w5y0z2a4bc@ward.example.jp

if ! command -v dovecot >/dev/null 2>&1; then
	fail "dovecot is not installed (sh contrib/install-deps --test)"; done_testing; exit 1
fi
BIN=
for d in "$(dirname "$TAYORI")/tests" "$TOP/build/default/tests"; do
	[ -x "$d/test_bounce_reader" ] && [ -x "$d/test_verp" ] && { BIN=$d; break; }
done
if [ -z "$BIN" ]; then
	fail "no test_bounce_reader and test_verp next to $TAYORI (make units)"; done_testing; exit 1
fi
READER=$BIN/test_bounce_reader

V=$T/var
check_status 0 "a demo tenant" "$TAYORI" init -d "$V" --demo
for s in 1 2 3 4 5; do
	check "resident $s of batch 42 was sent its notice" "$READER" --put "$V" 42 "$s"
done
verp() { "$BIN/test_verp" --make "$V" 42 "$1" ward.example.jp; }
# sample FILE ADDRESS OUT: a bounce sample addressed to ADDRESS
sample() { sed "s/$SAMPLE_VERP/$2/g" "$SAMPLES/$1" >"$3"; }
M=$T/msgs
mkdir -p "$M"
sample gmail.eml "$(verp 1)" "$M/hard.eml"
sample rate-dsn.eml "$(verp 2)" "$M/rate.eml"
sample out-of-office.eml "$(verp 3)" "$M/ooo.eml"
# resident 4's return path with the last letter of its MAC changed
GOOD4=$(verp 4)
FORGED4=$(echo "$GOOD4" | sed 's/a@/b@/; t; s/.@/a@/')
check "the forged return path differs from the real one" test "$FORGED4" != "$GOOD4"
sample gmail.eml "$FORGED4" "$M/forged.eml"
cp "$SAMPLES/plain.eml" "$M/plain.eml"
sample yahoo.eml "$(verp 5)" "$M/late.eml"
# The SHA-256 of a file as IMAP APPEND stores it (imaplib writes CRLF).
crlf_sha() { $PY -c 'import hashlib, re, sys
print(hashlib.sha256(re.sub(rb"\r\n|\r|\n", b"\r\n", open(sys.argv[1], "rb").read())).hexdigest())' "$1"; }

. "$TOP/tests/imap/dovecot.sh"
dovecot_conf no 127.0.0.1
if ! dovecot_start; then
	fail "start Dovecot"; sed 's/^/#   /' "$D/dovecot.log" 2>/dev/null | tail -20; done_testing; exit 1
fi
ok "Dovecot runs on 127.0.0.1:$PORT"

cat >"$T/bounce.conf" <<EOF
[tenant]
name = テスト区
id = bouncetest
[paths]
data_dir = $V
[mail]
from = tayori@ward.example.jp
imap_poll = 5s
bounce_imap_url = imap://127.0.0.1:$PORT/INBOX
bounce_imap_user = $IMAP_USER
bounce_imap_password_env = BOUNCE_IMAP_PW
EOF

for f in hard rate ooo forged plain; do
	check "APPEND $f.eml" $CTL append INBOX "$M/$f.eml"
done
check "the reader handles the five messages" sh -c \
	"BOUNCE_IMAP_PW='$IMAP_PASS' '$READER' --imap '$V' '$T/bounce.conf' 5 30 >'$T/first.log' 2>&1"
sed 's/^/#   /' "$T/first.log"
check "... INBOX is empty" test "$($CTL count INBOX)" = 0
check "... the hard bounce, the delay and the auto-reply are in Processed" test "$($CTL count Processed)" = 3
check "... the forged bounce and the ordinary mail are in NotBounces" test "$($CTL count NotBounces)" = 2
{ crlf_sha "$M/forged.eml"; crlf_sha "$M/plain.eml"; } | sort >"$T/want.shas"
$CTL shas NotBounces >"$T/got.shas"
check "... byte for byte" cmp "$T/want.shas" "$T/got.shas"
state() { "$READER" --get "$V" 42 "$1"; }
check "resident 1 is bounced, hard, 5.1.1" test "$(state 1)" = "bounced hard 5.1.1"
check "resident 2 is deferred, rate, 4.7.28" test "$(state 2)" = "deferred rate 4.7.28"
check "resident 3 (out of office) is unchanged" test "$(state 3)" = "sent - -"
check "resident 4 (forged return path) is unchanged" test "$(state 4)" = "sent - -"

# IDLE: a reader waiting for news applies a bounce as soon as it arrives.
BOUNCE_IMAP_PW="$IMAP_PASS" "$READER" --imap "$V" "$T/bounce.conf" 1 30 >"$T/idle.out" 2>"$T/idle.log" &
RPID=$!
at_exit "kill $RPID"
sleep 2
check "a bounce appended while the reader idles reaches Processed within 5 s" \
	$CTL append-wait "$M/late.eml" Processed 4 5
check "... the reader ends" wait "$RPID"
check "resident 5 is bounced, hard, 5.1.1" test "$(state 5)" = "bounced hard 5.1.1"
check "the log names no address and no return path" \
	sh -c "! grep -Eq '@|bounce\\+' '$T/idle.log' '$T/first.log'"
done_testing
