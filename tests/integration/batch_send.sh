#!/bin/sh
# tests/integration/batch_send.sh — approval and sending from the command
# line, through the real binary on a real tenant: four-eyes approval
# (`tayori batch approve ID --as LOGIN` refuses nobody named, an unknown,
# disabled or unpermitted login and the submitter; accepts another approver,
# audited with the approver as actor), [policy] four_eyes = no, and
# `tayori batch send ID [--at TIME]` (only an approved batch; the time in
# Japan time stored and shown; audited).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
ME=$(id -un)

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
"$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add shonin"
"$TAYORI" user add kakari -d "$D" --email kakari@ward.example.jp --role clerk --password-env PW >/dev/null 2>&1 || fail "user add kakari"
"$TAYORI" user add yasumi -d "$D" --email yasumi@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add yasumi"
"$TAYORI" user disable yasumi -d "$D" >/dev/null 2>&1 || fail "user disable yasumi"
# The one who runs `tayori submit` is recorded as cli:$ME: a staff member
# with that login is the submitter.
"$TAYORI" user add "$ME" -d "$D" --email "me@ward.example.jp" --role approver --password-env PW >/dev/null 2>&1 || fail "user add $ME"

sh "$TOP/tests/bench/gen-corpus" "$T/c" 4 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir "$T/b1" "$T/b2"
cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b2/"
"$TAYORI" submit -d "$D" --json "$T/b1" >"$T/b1.json" 2>"$T/b1.err" || { fail "submit"; cat "$T/b1.err"; }
B1=$(jval "$T/b1.json" 'd["batch"]')
"$TAYORI" submit -d "$D" --json --again "$T/b2" >"$T/b2.json" 2>"$T/b2.err" || { fail "submit 2"; cat "$T/b2.err"; }
B2=$(jval "$T/b2.json" 'd["batch"]')

naudit() { "$TAYORI" audit verify -d "$D" 2>&1 | sed -n 's/.*intact: \([0-9]*\) records.*/\1/p'; }
status() { "$TAYORI" batch show "$1" -d "$D" --json | $PY -c 'import json, sys; print(json.load(sys.stdin)["summary"]["status"])'; }
# refuse DESC PATTERN CMD...: exit 1, one line on stderr matching PATTERN,
# no audit record and the batch still awaiting approval.
refuse() {
	_d=$1; _pat=$2; shift 2
	_n=$(naudit)
	"$@" >"$T/r.out" 2>"$T/r.err"; _st=$?
	if [ $_st -eq 1 ] && [ "$(wc -l <"$T/r.err")" -eq 1 ] && grep -Eq "$_pat" "$T/r.err"; then
		ok "$_d: exit 1 with one line: $(cat "$T/r.err")"
	else
		fail "$_d: exit 1 with one line matching /$_pat/ (exit $_st)"; sed 's/^/#   /' "$T/r.out" "$T/r.err"
	fi
	check "$_d: nothing stored" test "$(naudit)" = "$_n" -a "$(status "$B1")" = awaiting_approval
}

# --- four-eyes approval -------------------------------------------------------
check "the batch awaits approval" test "$(status "$B1")" = awaiting_approval
refuse "approve without --as (four_eyes on by default)" 'needs --as LOGIN.*four_eyes' \
	"$TAYORI" batch approve "$B1" -d "$D"
refuse "approve --as an unknown login" 'no such staff member' \
	"$TAYORI" batch approve "$B1" --as daremo -d "$D"
refuse "approve --as a clerk" 'kakari: .*no approve permission' \
	"$TAYORI" batch approve "$B1" --as kakari -d "$D"
refuse "approve --as a disabled approver" 'yasumi: .*disabled' \
	"$TAYORI" batch approve "$B1" --as yasumi -d "$D"
refuse "approve --as the submitter" "submitted by $ME, who may not approve it too" \
	"$TAYORI" batch approve "$B1" --as "$ME" -d "$D"
refuse "send before approval" "batch $B1 is awaiting_approval, not approved" \
	"$TAYORI" batch send "$B1" --as shonin -d "$D"
n0=$(naudit)
check_status 0 "approve --as another approver" "$TAYORI" batch approve "$B1" --as shonin -d "$D"
check "... the batch is approved" test "$(status "$B1")" = approved
check "... with one audit record" test "$(naudit)" -eq $((n0 + 1))
SHONIN=$("$TAYORI" user list -d "$D" --json | $PY -c 'import json, sys
for u in json.load(sys.stdin)["users"]:
    if u["login"] == "shonin": print(u["id"])')
"$TAYORI" audit show -d "$D" --json >"$T/audit.json"
$PY - "$T/audit.json" "$B1" "$SHONIN" "$ME" >"$T/a.out" 2>&1 <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"] if isinstance(d, dict) else d
a = [r for r in recs if r["action"] == "batch.approve" and r["target"] == "batch:" + sys.argv[2]]
assert len(a) == 1, a
assert a[0]["actor"] == "staff:" + sys.argv[3], a[0]
assert "submitter=cli:" + sys.argv[4] in a[0]["detail"] and "four_eyes=yes" in a[0]["detail"], a[0]
PYEOF
check "the approval is audited with the approver as actor and the submitter" test ! -s "$T/a.out"
[ -s "$T/a.out" ] && sed 's/^/#   /' "$T/a.out"

# --- sending ----------------------------------------------------------------
check_status 1 "send --at a time that is not one" "$TAYORI" batch send "$B1" --at '2030-02-30 09:00' -d "$D"
check "... says so on one line" sh -c "test \$(wc -l <'$T/last') -eq 1 && grep -q 'YYYY-MM-DD HH:MM' '$T/last'"
check_status 1 "send --as a clerk without the send permission" "$TAYORI" batch send "$B1" --as kakari -d "$D"
check "... the batch is still approved" test "$(status "$B1")" = approved
n0=$(naudit)
check_status 0 "send --at a time in Japan time" "$TAYORI" batch send "$B1" --at '2030-01-01 09:00' -d "$D"
check "... says when" grep -q "sending from 2030-01-01 09:00 JST" "$T/last"
"$TAYORI" batch show "$B1" -d "$D" --json >"$T/s1.json"
jtrue "... the batch is sending, from the time given" "$T/s1.json" \
	'd["summary"]["status"] == "sending" and d["summary"]["send_at"] == "2030-01-01 09:00 JST"'
check "... with one audit record" test "$(naudit)" -eq $((n0 + 1))
check "... batch.send, 00:00 UTC" sh -c "'$TAYORI' audit show -d '$D' | grep -E 'batch\.send +batch:$B1' | grep -q 'send_at=2030-01-01T00:00:00Z'"
check_status 1 "a second send is refused" "$TAYORI" batch send "$B1" -d "$D"
check "... as not approved" grep -q "is sending, not approved" "$T/last"

# --- [policy] four_eyes = no ------------------------------------------------------
sed -i -e "s/^#four_eyes = .*/four_eyes = no/" "$D/tayori.conf"
check "four_eyes = no is in the config" grep -q '^four_eyes = no' "$D/tayori.conf"
check_status 1 "four_eyes off: a clerk still may not approve" "$TAYORI" batch approve "$B2" --as kakari -d "$D"
check_status 0 "four_eyes off: the submitter may approve" "$TAYORI" batch approve "$B2" --as "$ME" -d "$D"
check "four_eyes off: ... audited as such" sh -c "'$TAYORI' audit show -d '$D' | grep -E 'batch\.approve +batch:$B2' | grep -q 'four_eyes=no'"
"$TAYORI" submit -d "$D" --json --again "$T/b2" >"$T/b3.json" 2>/dev/null
B3=$(jval "$T/b3.json" 'd["batch"]')
check_status 0 "four_eyes off: approval without --as" "$TAYORI" batch approve "$B3" -d "$D"
check "... audited with the one who ran it" sh -c "'$TAYORI' audit show -d '$D' --json | grep -q '\"actor\":\"cli:$ME\"'"
check_status 0 "send now" "$TAYORI" batch send "$B3" -d "$D"
"$TAYORI" batch show "$B3" -d "$D" --json >"$T/s3.json"
jtrue "... sending from now" "$T/s3.json" "d['summary']['status'] == 'sending' and 'send_at' in d['summary']"
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
