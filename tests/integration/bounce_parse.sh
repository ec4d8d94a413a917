#!/bin/sh
# `tayori bounce parse [--json] FILE...` through the real binary on a demo
# tenant: an RFC 3464 report, a Postfix text-only bounce, a throttling
# delay, an auto-reply and an ordinary mail, written here byte for byte;
# the VERP return path checked against the tenant's keys process (a valid
# one made by that tenant, one with a forged MAC, one made by another
# tenant); the JSON keys and values as DESIGN.md fixes them, read with
# Python's json module; one text line per file; a missing file, a folder
# and a PNG renamed .eml.
. "$(dirname "$0")/lib.sh"
D=$T/var
D2=$T/other
M=$T/mail
mkdir -p "$M"

check_status 0 "a demo tenant" "$TAYORI" init -d "$D" --demo
check_status 0 "a second tenant" "$TAYORI" init -d "$D2" --demo

# A valid return path can only come from the tenant's keys process; the
# tayori command makes none, the unit test binary prints one on request.
MAKER=
for b in "$(dirname "$TAYORI")/tests/test_verp" "$TOP/build/default/tests/test_verp"; do
	[ -x "$b" ] && { MAKER=$b; break; }
done
FORGED=bounce+42-7-abcdefghijklmnopqrstuvwxy@ward.example.jp
if [ -n "$MAKER" ]; then
	VERP=$("$MAKER" --make "$D" 42 7 ward.example.jp)
	OTHER=$("$MAKER" --make "$D2" 42 7 ward.example.jp)
	check "the tenant's keys made a return path" sh -c "echo '$VERP' | grep -Eq '^bounce\\+42-7-[a-z2-7]{25}@ward\\.example\\.jp\$'"
	check "another tenant's differs" test "$VERP" != "$OTHER"
else
	echo "# no test_verp binary next to $TAYORI: only forged return paths are checked"
	VERP=$FORGED
	OTHER=$FORGED
fi

# An RFC 3464 report (multipart/report, message/delivery-status).
dsn() {
	printf 'Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n'
	printf 'To: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n' "$1"
	printf 'Date: Mon, 7 Dec 2026 10:00:00 +0900\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="RPT"\r\n\r\n'
	printf -- '--RPT\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
	printf 'This is the mail system at host mx.example.net.\r\n\r\nYour message could not be delivered.\r\n\r\n'
	printf -- '--RPT\r\nContent-Type: message/delivery-status\r\n\r\n'
	printf 'Reporting-MTA: dns; mx.example.net\r\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0900\r\n\r\n'
	printf 'Final-Recipient: rfc822; hanako@example.com\r\nOriginal-Recipient: rfc822;hanako@example.com\r\n'
	printf 'Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.com\r\n'
	printf 'Diagnostic-Code: smtp; 550 5.1.1 <hanako@example.com>: Recipient address rejected: User unknown\r\n\r\n'
	printf -- '--RPT\r\nContent-Type: text/rfc822-headers\r\n\r\n'
	printf 'Return-Path: <%s>\r\nFrom: ward@ward.example.jp\r\nTo: hanako@example.com\r\nSubject: notice\r\n\r\n' "$1"
	printf -- '--RPT--\r\n'
}
dsn "$VERP" > "$M/dsn.eml"
dsn "$FORGED" > "$M/forged.eml"
dsn "$OTHER" > "$M/other.eml"
# Postfix's text only, two recipients: one mailbox full (soft), one unknown (hard).
cat > "$M/postfix.eml" <<EOM
From: MAILER-DAEMON@relay.example.net (Mail Delivery System)
To: $VERP
Subject: Undelivered Mail Returned to Sender
Content-Type: text/plain; charset=us-ascii

This is the mail system at host relay.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<kenji@example.net>: host mx.example.net[198.51.100.7] said: 552 5.2.2
    Mailbox full (in reply to RCPT TO command)

<aiko@example.net>: host mx.example.net[198.51.100.7] said: 550 5.1.1
    No such user (in reply to RCPT TO command)
EOM
# A delay notice for throttling (RFC 3464, Action delayed, 4.7.28).
cat > "$M/rate.eml" <<EOM
From: MAILER-DAEMON@mail.ward.example.jp
To: $VERP
Subject: Delayed Mail (still being retried)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="D"

--D
Content-Type: text/plain

Delivery is delayed.

--D
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.ward.example.jp

Final-Recipient: rfc822; ichiro@gmail.example
Action: delayed
Status: 4.7.28
Diagnostic-Code: smtp; 421 4.7.28 Our system has detected an unusual rate of mail

--D--
EOM
# An out-of-office reply (RFC 3834).
cat > "$M/ooo.eml" <<EOM
From: Hanako <hanako@example.com>
To: $VERP
Subject: Automatic reply: notice
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8

I am away until Monday.
EOM
cat > "$M/plain.eml" <<EOM
From: Taro <taro@example.com>
To: ward@ward.example.jp
Subject: question
Content-Type: text/plain; charset=utf-8

Hello, when is the deadline?
EOM
# A PNG renamed .eml (a real one: signature, IHDR, IDAT, IEND).
/usr/bin/python3 -c 'import struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"\0" + b"\xff\0\0" * 2 + b"\0" + b"\0\xff\0" * 2)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)' "$M/image.eml"

# json FILE DESC EXPR: the --json output for one mail file, as one object.
jcheck() {
	_m=$1; _d=$2; _x=$3
	"$TAYORI" bounce parse -d "$D" --json "$M/$_m" > "$T/$_m.json" 2>"$T/$_m.err"
	_rc=$?
	if [ $_rc -ne 0 ]; then fail "$_d (exit $_rc)"; sed 's/^/#   /' "$T/$_m.err"; return; fi
	jtrue "$_d" "$T/$_m.json" "$_x"
}
KEYS="set(d) == {'file', 'bounce', 'kind', 'recipients', 'status', 'verp', 'format', 'diagnostic'}"

if [ -n "$MAKER" ]; then
	jcheck dsn.eml "an RFC 3464 report: a hard bounce, its recipient and status, our VERP valid" \
		"$KEYS and d['file'].endswith('/dsn.eml') and d['bounce'] is True and d['kind'] == 'hard' and d['recipients'] == ['hanako@example.com'] and d['status'] == '5.1.1' and d['verp'] == {'batch': 42, 'seq': 7, 'valid': True} and 'User unknown' in d['diagnostic']"
	jcheck other.eml "a return path another tenant made is not valid here" \
		"d['verp'] == {'batch': 42, 'seq': 7, 'valid': False}"
	jcheck postfix.eml "a Postfix text bounce: both recipients, hard, VERP valid" \
		"$KEYS and d['bounce'] is True and d['kind'] == 'hard' and d['recipients'] == ['kenji@example.net', 'aiko@example.net'] and d['status'] == '5.1.1' and d['format'] == 'postfix' and d['verp']['valid'] is True"
	# The same address with the case a mail system may give it.
	UP=$(echo "$VERP" | tr a-z A-Z)
	dsn "$UP" > "$M/upper.eml"
	jcheck upper.eml "an upper-cased return path still holds" "d['verp'] == {'batch': 42, 'seq': 7, 'valid': True}"
fi
jcheck forged.eml "a forged MAC: the bounce is read, its VERP is not valid" \
	"$KEYS and d['kind'] == 'hard' and d['verp'] == {'batch': 42, 'seq': 7, 'valid': False}"
dsn "bounce+042-7-abcdefghijklmnopqrstuvwxy@ward.example.jp" > "$M/malformed.eml"
jcheck malformed.eml "a malformed return path of ours: not valid, no batch" \
	"$KEYS and d['kind'] == 'hard' and d['verp'] == {'batch': None, 'seq': None, 'valid': False}"
jcheck rate.eml "a throttling delay is rate, with its status" \
	"$KEYS and d['bounce'] is True and d['kind'] == 'rate' and d['status'] == '4.7.28' and d['recipients'] == ['ichiro@gmail.example']"
jcheck ooo.eml "an auto-reply is classified, not a bounce" \
	"$KEYS and d['bounce'] is False and d['kind'] == 'auto-reply' and d['status'] is None"
jcheck plain.eml "ordinary mail is not-bounce, without a VERP" \
	"$KEYS and d['bounce'] is False and d['kind'] == 'not-bounce' and d['recipients'] == [] and d['status'] is None and d['verp'] is None"
jcheck image.eml "a PNG renamed .eml is not-bounce" \
	"$KEYS and d['bounce'] is False and d['kind'] == 'not-bounce' and d['verp'] is None"

# Several files: one JSON object a line, in order.
check_status 0 "several files at once" "$TAYORI" bounce parse -d "$D" --json \
	"$M/forged.eml" "$M/ooo.eml" "$M/plain.eml" "$M/image.eml"
check "... one JSON object a line each, in order" /usr/bin/python3 -c 'import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
kinds = [json.loads(l)["kind"] for l in lines]
sys.exit(0 if kinds == ["hard", "auto-reply", "not-bounce", "not-bounce"] else 1)' "$T/last"

# Text: one line per file.
check_status 0 "text output" "$TAYORI" bounce parse -d "$D" "$M/forged.eml" "$M/rate.eml" "$M/plain.eml"
check "... one line per file" test "$(wc -l < "$T/last")" -eq 3
check "... the bounce's kind, status and recipient" grep -q "forged.eml: hard 5.1.1 for hanako@example.com" "$T/last"
check "... the forged MAC said so" grep -q "verp 42-7 forged" "$T/last"
check "... ordinary mail" grep -q "plain.eml: not-bounce\$" "$T/last"
if [ -n "$MAKER" ]; then
	check_status 0 "text output of a valid VERP" "$TAYORI" bounce parse -d "$D" "$M/dsn.eml"
	check "... says valid" grep -q "verp 42-7 valid\$" "$T/last"
fi

# Files that cannot be read.
check_status 1 "a missing file exits 1" "$TAYORI" bounce parse -d "$D" "$M/plain.eml" "$M/nosuch.eml"
check "... naming it on stderr" grep -q "nosuch.eml: cannot open" "$T/last"
check "... and the other file is still read" grep -q "plain.eml: not-bounce" "$T/last"
check_status 1 "a folder exits 1" "$TAYORI" bounce parse -d "$D" "$M"
check "... saying it is not a file" grep -q "not a regular file" "$T/last"
# A return path to check but no tenant: refused, saying why.
check_status 1 "a VERP with no tenant to check it exits 1" "$TAYORI" bounce parse -d "$T/none" "$M/forged.eml"
check "... saying why" grep -q "cannot check its return path's MAC" "$T/last"
check_status 0 "no VERP needs no tenant" "$TAYORI" bounce parse -d "$T/none" "$M/plain.eml"
check_status 2 "no file is a usage error" "$TAYORI" bounce parse -d "$D"
check_status 2 "an unknown subcommand is a usage error" "$TAYORI" bounce frob "$M/plain.eml"

done_testing
