#!/bin/sh
# tests/integration/notice_status.sh — `tayori batch show ID --json` and the
# residents' furthest states (lib/notice.h, DESIGN.md "Stable interfaces"):
# before any mail is written for a batch there is no "residents" member, and
# the summary and report are unchanged.  (The states themselves, with
# deliveries and access records, are covered by tests/unit/test_notice.c;
# here the batch is sent by `tayori batch send` and the mailer of `tayori
# run`.)
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var

check "init a demo tenant" "$TAYORI" init -d "$D" --demo
C=$T/c3
if ! sh "$TOP/tests/bench/gen-corpus" "$C" 3 >"$T/gen.log" 2>&1 || [ ! -s "$C/corpus.pdf" ]; then
	fail "generate a 3-resident corpus"; sed 's/^/#   /' "$T/gen.log"; done_testing; exit 1
fi
ok "generate a 3-resident corpus"
mkdir -p "$T/b"; cp "$C/corpus.pdf" "$C/corpus.csv" "$T/b/"
check_status 0 "submit a 3-resident batch" "$TAYORI" submit -d "$D" --json "$T/b"
cp "$T/last" "$T/submit.json"
BID=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["batch"])' "$T/submit.json")

check_status 0 "batch show --json before any mail" "$TAYORI" batch show "$BID" -d "$D" --json
cp "$T/last" "$T/show.json"
jtrue "... is one JSON object with summary and report" "$T/show.json" \
	'd["summary"]["batch"] == '"$BID"' and d["report"]["matched"] == 3'
jtrue "... and no residents member yet" "$T/show.json" '"residents" not in d'
check_status 0 "batch show (text) is unchanged" "$TAYORI" batch show "$BID" -d "$D"
check "... and prints no JSON" sh -c "! grep -q residents '$T/last'"

# Once the batch is sent (`tayori batch send`, then the mailer of `tayori
# run` makes the deliveries), every resident appears, with DESIGN.md's keys.
PW=a-long-enough-password "$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp \
	--role approver --password-env PW >/dev/null 2>&1 || fail "user add shonin (an approver)"
check_status 0 "approve the batch" "$TAYORI" batch approve "$BID" --as shonin -d "$D"
check_status 0 "batch send" "$TAYORI" batch send "$BID" -d "$D"
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the mailer sends the batch" wait_for 60 sh -c "'$TAYORI' batch show $BID -d '$D' --json | grep -q '\"residents\"'"
check_status 0 "batch show --json after sending" "$TAYORI" batch show "$BID" -d "$D" --json
cp "$T/last" "$T/sent.json"
jtrue "... lists the 3 residents" "$T/sent.json" 'len(d["residents"]) == 3'
jtrue "... each with key, state, contacts and the three times" "$T/sent.json" \
	'all(set(r) == {"key", "state", "contacts", "sent_at", "opened_at", "downloaded_at"} for r in d["residents"])'
jtrue "... in states DESIGN.md names" "$T/sent.json" \
	'all(r["state"] in ("queued", "sending", "sent", "deferred", "failed", "bounced", "opened", "downloaded", "paper") for r in d["residents"])'
jtrue "... nobody opened or downloaded yet" "$T/sent.json" \
	'all(r["opened_at"] is None and r["downloaded_at"] is None for r in d["residents"])'
check_status 1 "batch show --json of no batch is refused" "$TAYORI" batch show 999 -d "$D" --json
check "... printing nothing on stdout" sh -c "'$TAYORI' batch show 999 -d '$D' --json 2>/dev/null | wc -c | grep -qx 0"
done_testing
