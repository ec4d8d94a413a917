#!/bin/sh
# tests/integration/imap_intake.sh — the IMAP source of the intake
# (gateway/imap_intake.c) against a real, throwaway Dovecot
# (../shared/TESTING.md).  Messages are delivered by IMAP APPEND and the
# folders inspected afterwards with Python's imaplib (tests/imap/imapctl.py).
#
# Checked: messages moved to Processed / Rejected by intake outcome (or
# expunged with imap_processed_delete = yes), TEMPFAIL
# left unseen in INBOX and retried, a message above [limits] message_size
# rejected without being fetched, fetched bytes identical to the appended
# ones, IDLE waking within a second of an APPEND, reconnection after
# `doveadm stop` and a restart, STARTTLS and implicit TLS with certificate
# checks (a wrong CA is refused), polling and UID COPY/STORE/UID EXPUNGE
# when the server offers neither IDLE nor MOVE (a message flagged \Deleted
# by someone else survives), plain text refused off loopback, and logs free
# of the password, subjects and addresses.
#
# tests/imap/imap_driver.c drives the IMAP code with an intake_message()
# that picks each outcome from a test header, so every outcome and the
# server's odd cases can be forced; imap_gateway.sh runs the real gateway.
# Standards: RFC 3501, 2177, 6851, 4315, 2595, 8314.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CTL="$PY $TOP/tests/imap/imapctl.py"

if ! command -v dovecot >/dev/null 2>&1; then
	fail "dovecot is not installed (sh contrib/install-deps --test)"; done_testing; exit 1
fi

# --- the driver, built like the binary under test ----------------------------
case "$TAYORI" in
*/asan/*) DRV_FLAGS="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"; DRV_CC=clang ;;
*) DRV_FLAGS="-O2"; DRV_CC=${CC:-cc} ;;
esac
# shellcheck disable=SC2086
if ! sh "$TOP/tests/imap/build-driver.sh" "$T/imap_driver" "$DRV_CC" $DRV_FLAGS >"$T/build.log" 2>&1; then
	fail "build the IMAP intake driver"; sed 's/^/#   /' "$T/build.log" | head -20
	done_testing; exit 1
fi
echo "# IMAP mechanics driven by tests/imap/imap_driver.c (imap_gateway.sh covers the real gateway)"

# --- Dovecot -----------------------------------------------------------------
. "$TOP/tests/imap/dovecot.sh"

dovecot_conf yes 127.0.0.1
if ! dovecot_start; then
	fail "start Dovecot"; sed 's/^/#   /' "$D/dovecot.log" 2>/dev/null | tail -20; done_testing; exit 1
fi
ok "Dovecot runs on 127.0.0.1:$PORT (STARTTLS) and :$PORTS (implicit TLS)"

# --- tayori.conf for the driver ------------------------------------------------
# conf URL POLL [LINE]: LINE is one more [mail] setting
write_conf() {
	cat >"$T/tayori.conf" <<EOF
[tenant]
name = テスト区
id = imaptest
[mail]
imap_url = $1
imap_user = $IMAP_USER
imap_password_env = TAYORI_TEST_IMAP_PW
imap_poll = $2
${3:-}
[limits]
message_size = 64K
EOF
}
export TAYORI_TEST_IMAP_PW=$IMAP_PASS

# --- test messages (CRLF, as clients send them) ---------------------------------
mkdir -p "$T/msg" "$T/got"
# msg NAME OUTCOME [EXTRA BYTES]
msg() {
	{
		printf 'From: Tanaka Hanako <h.tanaka@city.example.jp>\r\n'
		printf 'To: intake@city.example.jp\r\n'
		printf 'Subject: Secret-Subject-Marker %s\r\n' "$1"
		printf 'Message-ID: <%s.%s@city.example.jp>\r\n' "$1" "$$"
		printf 'Date: Mon, 2 Mar 2026 09:00:00 +0900\r\n'
		printf 'MIME-Version: 1.0\r\n'
		printf 'Content-Type: text/plain; charset=UTF-8\r\n'
		printf 'X-Tayori-Test: %s\r\n' "$2"
		printf '\r\n'
		printf 'Body of %s.\r\n' "$1"
		if [ -n "${3:-}" ]; then
			i=0; while [ $i -lt "$3" ]; do printf '%s\r\n' "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; i=$((i + 1)); done
		fi
	} >"$T/msg/$1.eml"
}
sha() { sha256sum "$@" | cut -d' ' -f1 | sort; }
msg stored stored
msg dup duplicate
msg refused refused
msg dropped dropped
msg tempfail tempfail
msg big stored 1200     # ~80 KB > message_size 64K
msg flagged stored      # flagged \Deleted by someone else: never processed, never expunged
for m in stored dup refused dropped tempfail big; do
	$CTL append INBOX "$T/msg/$m.eml" || fail "APPEND $m"
done
$CTL append INBOX "$T/msg/flagged.eml" '(\Deleted)' || fail "APPEND flagged"
check "seven messages delivered to INBOX" test "$($CTL count INBOX)" = 7

DRV_PID=""
start_driver() {
	SSL_CERT_FILE=$D/ca.pem "$T/imap_driver" "$T/tayori.conf" "$T/got" 1000 >>"$T/driver.out" 2>>"$T/driver.log" &
	DRV_PID=$!
}
# stop_driver: SIGTERM, and the driver must exit 0 (ASan/LSan make it fail otherwise)
stop_driver() {
	[ -n "$DRV_PID" ] || return 0
	kill "$DRV_PID" 2>/dev/null; wait "$DRV_PID"; st=$?; DRV_PID=""
	return $st
}
at_exit 'stop_driver'
connected_count() { grep -c 'event=imap_connected' "$T/driver.log" 2>/dev/null || echo 0; }

# --- phase 1: STARTTLS, IDLE, MOVE -------------------------------------------------
write_conf "imap://127.0.0.1:$PORT" 60s
start_driver
check "driver processes the mailbox: Processed holds 2" $CTL wait Processed 2 15
check "Rejected holds 3 (refused, dropped, too big)" $CTL wait Rejected 3 5
check "connected with STARTTLS, IDLE and MOVE" grep -q 'event=imap_connected .*tls=starttls idle=yes move=yes' "$T/driver.log"
check "Processed holds exactly the stored and duplicate messages" \
	test "$($CTL shas Processed)" = "$(sha "$T/msg/stored.eml" "$T/msg/dup.eml")"
check "Rejected holds exactly the refused, dropped and big messages" \
	test "$($CTL shas Rejected)" = "$(sha "$T/msg/refused.eml" "$T/msg/dropped.eml" "$T/msg/big.eml")"
check "INBOX keeps the tempfail and the \\Deleted-flagged message" \
	test "$($CTL shas INBOX)" = "$(sha "$T/msg/tempfail.eml" "$T/msg/flagged.eml")"
check "the tempfail message is still unseen (BODY.PEEK)" sh -c "! $CTL flags INBOX | grep -q Seen"
check "intake got the exact bytes of stored/dup/refused/dropped/tempfail" \
	test "$(sha "$T"/got/*-stored.eml "$T"/got/*-duplicate.eml "$T"/got/*-refused.eml "$T"/got/*-dropped.eml "$T"/got/*-tempfail.eml | uniq)" = \
	"$(sha "$T/msg/stored.eml" "$T/msg/dup.eml" "$T/msg/refused.eml" "$T/msg/dropped.eml" "$T/msg/tempfail.eml")"
check "the big message was rejected without being fetched" \
	sh -c "grep -q 'outcome=too_big limit=message_size' '$T/driver.log' && ! grep -l 'Body of big' '$T'/got/*.eml"
check "the \\Deleted-flagged message was never handed to intake" sh -c "! grep -l 'Body of flagged' '$T'/got/*.eml"
check "one log line per outcome" sh -c "for o in stored duplicate refused dropped tempfail; do grep -q \"event=imap_message uid=[0-9]* size=[0-9]* outcome=\$o\" '$T/driver.log' || exit 1; done"

# IDLE: a new message is processed within a second of its APPEND.
msg idle1 stored
sleep 1
if t=$($CTL append-wait "$T/msg/idle1.eml" Processed 3 1.0); then
	ok "IDLE: processed ${t}s after APPEND"
else
	fail "IDLE: not processed within 1 s ($t)"
fi
# The next scan retries the tempfail message; now intake takes it.
: >"$T/got/tempfail-ok"
msg idle2 stored
check "TEMPFAIL retried on the next scan and moved then" $CTL append-wait "$T/msg/idle2.eml" Processed 5 3
check "INBOX keeps only the \\Deleted-flagged message" test "$($CTL shas INBOX)" = "$(sha "$T/msg/flagged.eml")"

# Reconnection: stop Dovecot, restart it, deliver again.
before=$(connected_count)
dovecot_stop
sleep 2
check "connection loss logged with a back-off" grep -q 'event=imap_error reason=.* retry_in=[0-9]*s' "$T/driver.log"
check "restart Dovecot" dovecot_start
msg again stored
$CTL append INBOX "$T/msg/again.eml"
check "reconnected and processed the next message" $CTL wait Processed 6 15
check "a new connection was made" test "$(connected_count)" -gt "$before"
check "driver still running" kill -0 "$DRV_PID"
check "driver stops cleanly on SIGTERM (logout, no leaks)" stop_driver

# --- imap_processed_delete: taken messages are expunged, not moved ------------------
write_conf "imap://127.0.0.1:$PORT" 60s "imap_processed_delete = yes"
cat "$T/driver.log" >>"$T/all.log"
: >"$T/driver.log"
# The four are in the mailbox before the driver starts: it polls every 60 s
# here, so messages appended while it scans could wait past the check.
msg del1 stored
msg del2 refused
msg del3 dropped
msg delbig stored 1200
for m in del1 del2 del3 delbig; do $CTL append INBOX "$T/msg/$m.eml"; done
start_driver
check "imap_processed_delete: connected" wait_for 10 grep -q 'event=imap_connected' "$T/driver.log"
check "stored, refused and dropped messages are expunged" \
	wait_for 15 sh -c "[ \"\$($CTL shas INBOX)\" = \"$(sha "$T/msg/flagged.eml")\" ]"
check "... not moved: Processed still holds 6" test "$($CTL count Processed)" = 6
check "... a message above message_size, never read, still goes to Rejected" \
	test "$($CTL shas Rejected)" = "$(sha "$T/msg/refused.eml" "$T/msg/dropped.eml" "$T/msg/big.eml" "$T/msg/delbig.eml")"
check "... and their files are gone from the server's Maildir" \
	sh -c "! grep -rlq -e 'Body of del1' -e 'Body of del2' -e 'Body of del3' '$D/mail'"
check "... logged as expunged" sh -c "[ \$(grep -c 'outcome=expunged' '$T/driver.log') -eq 3 ]"
check "driver stops cleanly on SIGTERM" stop_driver

# --- implicit TLS: trusted CA accepted, another CA refused ---------------------------
write_conf "imaps://127.0.0.1:$PORTS" 60s
check "imaps:// with the server's CA connects" env SSL_CERT_FILE="$D/ca.pem" "$T/imap_driver" "$T/tayori.conf" "$T/got" 0 --once
write_conf "imaps://localhost:$PORTS" 60s
check "imaps://localhost (SNI, DNS name in the certificate) connects" env SSL_CERT_FILE="$D/ca.pem" "$T/imap_driver" "$T/tayori.conf" "$T/got" 0 --once
check_status 1 "imaps:// with another CA is refused" env SSL_CERT_FILE="$D/other.pem" "$T/imap_driver" "$T/tayori.conf" "$T/got" 0 --once
check "the refusal names the certificate" grep -q 'certificate not accepted' "$T/last"
write_conf "imap://127.0.0.1:$PORT" 60s
check_status 1 "STARTTLS with another CA is refused before LOGIN" env SSL_CERT_FILE="$D/other.pem" "$T/imap_driver" "$T/tayori.conf" "$T/got" 0 --once

# --- phase 2: no TLS, no IDLE, no MOVE: polling and UID COPY/STORE/EXPUNGE ----------
dovecot_stop
dovecot_conf no 0.0.0.0 "IMAP4rev1 LITERAL+ UIDPLUS"
check "restart Dovecot without TLS, IDLE and MOVE" dovecot_start
write_conf "imap://127.0.0.1:$PORT" 5s
cat "$T/driver.log" >>"$T/all.log"
: >"$T/driver.log"
start_driver
check "connected in plain text to loopback, polling" \
	wait_for 10 grep -q 'event=imap_connected .*tls=none idle=no move=no uidplus=yes' "$T/driver.log"
msg poll1 stored
msg poll2 refused
$CTL append INBOX "$T/msg/poll1.eml"
$CTL append INBOX "$T/msg/poll2.eml"
check "polling picks up new messages within imap_poll" $CTL wait Processed 7 8
check "and rejects by outcome" $CTL wait Rejected 5 3
check "UID EXPUNGE removed only the moved messages; the \\Deleted-flagged one survives" \
	test "$($CTL shas INBOX)" = "$(sha "$T/msg/flagged.eml")"
check "driver stops cleanly on SIGTERM" stop_driver
ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep '\.' | head -1)
if [ -n "$ip" ]; then
	write_conf "imap://$ip:$PORT" 5s
	check_status 1 "plain text off loopback is refused" "$T/imap_driver" "$T/tayori.conf" "$T/got" 0 --once
	check "with a reason naming STARTTLS" grep -q 'offers no STARTTLS' "$T/last"
else
	echo "# no non-loopback address here: off-loopback refusal not tested"
fi

# --- logs ---------------------------------------------------------------------------
cat "$T/driver.log" "$T/last" >>"$T/all.log" 2>/dev/null
check "logs never hold the password" sh -c "! grep -q '$IMAP_PASS' '$T/all.log'"
check "logs never hold subjects or addresses" sh -c "! grep -q -e Secret-Subject-Marker -e city.example.jp '$T/all.log'"
check "no sanitizer reports" sh -c "! grep -q -e Sanitizer -e 'runtime error' '$T/all.log'"
if [ "$_nfail" -ne 0 ]; then
	echo "# driver log (tail):"; tail -15 "$T/all.log" | sed 's/^/#   /'
	echo "# dovecot log (tail):"; tail -15 "$D/dovecot.log" | sed 's/^/#   /'
fi
done_testing
