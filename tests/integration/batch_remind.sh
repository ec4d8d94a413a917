#!/bin/sh
# tests/integration/batch_remind.sh — reminders and reports through the
# real binary and the real mailer of `tayori run` (no relay: the demo
# Maildir outbox): a batch is approved, sent and ends "sent"; `tayori
# report` counts it (and prints no key, name or address); `tayori batch
# remind` queues every unopened resident again, the mailer sends each a
# second message with a fresh link, contacts becomes 2, each reminder is
# audited; `tayori report --mail` reaches the admin's mailbox through the
# mailer, with counts only.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
ME=$(id -un)
N=6

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s|^#public_url = .*|public_url = https://tsuchi.ward.example.jp|" \
       -e "s/^#from = .*/from = tsuchi@ward.example.jp/" "$D/tayori.conf"
export PW=a-long-enough-password
"$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add shonin"
"$TAYORI" user add kanri -d "$D" --email kanri@ward.example.jp --role admin --password-env PW >/dev/null 2>&1 || fail "user add kanri"

sh "$TOP/tests/bench/gen-corpus" "$T/c" "$N" >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
# Row 1 without an address: the paper list.
$PY - "$T/c/corpus.csv" "$T/list.csv" <<'PYEOF'
import sys
rows = open(sys.argv[1], "rb").read().decode("cp932").split("\r\n")
f = rows[1].split(","); f[2] = ""; rows[1] = ",".join(f)
open(sys.argv[2], "wb").write("\r\n".join(rows).encode("cp932"))
PYEOF
mkdir "$T/b"
cp "$T/list.csv" "$T/c/corpus.pdf" "$T/b/"
printf '督促: 2日後、9日後\n\n通知をお送りします。\n' >"$T/b/message.txt"
"$TAYORI" submit -d "$D" --json "$T/b" >"$T/b.json" 2>"$T/b.err" || { fail "submit"; cat "$T/b.err"; }
B=$(jval "$T/b.json" 'd["batch"]')
check_status 0 "the batch is approved" "$TAYORI" batch approve "$B" --as shonin -d "$D"
check_status 1 "remind: an approved batch not sent yet is refused" "$TAYORI" batch remind "$B" -d "$D"
check "... saying it is not sent" grep -q "is approved, not sent" "$T/last"

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the mailer is ready" wait_for 30 grep -q "role=mailer .*event=ready" "$T/run.log"
OUT=$D/mail/outbox/new
status() { "$TAYORI" batch show "$B" -d "$D" --json | $PY -c 'import json, sys; print(json.load(sys.stdin)["summary"]["status"])'; }
t0=$(date +%s)
check_status 0 "batch send" "$TAYORI" batch send "$B" --as shonin -d "$D"
check "the batch ends sent" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $B -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
n1=$(grep -l -r "^To: .*r000" "$OUT" 2>/dev/null | wc -l)
check "one message per resident with an address ($n1)" test "$n1" -eq $((N - 1))

# --- the report -----------------------------------------------------------------
check_status 0 "report --json" "$TAYORI" report --json -d "$D"
cp "$T/last" "$T/r1.json"
jtrue "report: sent $((N - 1)) of $N, none opened, $((N - 1)) unopened, 1 on paper, no bounce" "$T/r1.json" \
	"[(b['batch'], b['status'], b['residents'], b['sent'], b['opened'], b['downloaded'], b['bounced'], b['unopened'], b['paper']) for b in d['batches']] == [($B, 'sent', $N, $((N - 1)), 0, 0, 0, $((N - 1)), 1)]"
jtrue "report: no reminder due yet; the next one 2 days after sending" "$T/r1.json" \
	"d['batches'][0]['reminder_due'] is False and d['batches'][0]['next_reminder'] is not None"
NEXT=$(jval "$T/r1.json" "d['batches'][0]['next_reminder']")
check "report: ... which is 2 days after sending ($NEXT)" sh -c \
	"n=\$(date -d '$NEXT' +%s); test \$((n - $t0)) -ge 172700 -a \$((n - $t0)) -le 172900"
check_status 0 "report (text)" "$TAYORI" report -d "$D"
cp "$T/last" "$T/r1.txt"
check "report: the text names the batch and its counts" grep -Eq "^$B +sent +$N +$((N - 1)) +0 +0 +0 +0 +$((N - 1)) .* 1\$" "$T/r1.txt"
KEYS=$(iconv -f CP932 -t UTF-8 "$T/list.csv" | sed 1d | cut -d, -f1 | tr -d '\r')
leak=""
for k in $KEYS example.jp 太郎 花子; do grep -q -- "$k" "$T/r1.txt" "$T/r1.json" && leak="$leak $k"; done
check "report: no key, name or address in it" test -z "$leak"

# --- a reminder -------------------------------------------------------------------
check_status 0 "batch remind" "$TAYORI" batch remind "$B" -d "$D"
check "... $((N - 1)) residents to remind" grep -q "$((N - 1)) residents to remind" "$T/last"
check "the batch is sent again after the reminders" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $B -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
$PY - "$OUT" "$((N - 1))" >"$T/m.out" 2>&1 <<'PYEOF'
import email, email.policy, os, re, sys
out, want = sys.argv[1], int(sys.argv[2])
per = {}
for name in os.listdir(out):
    m = email.message_from_bytes(open(os.path.join(out, name), "rb").read(), policy=email.policy.strict)
    to = m["To"].addresses[0].addr_spec
    if not to.startswith("r000"):
        continue
    text = m.get_body(preferencelist=("plain",)).get_content()
    per.setdefault(to, []).extend(re.findall(r"https://tsuchi\.ward\.example\.jp/n/([A-Za-z0-9_-]{22})", text)[:1])
bad = [a for a, l in per.items() if len(l) != 2 or l[0] == l[1]]
print("residents=%d bad=%r" % (len(per), bad))
sys.exit(0 if len(per) == want and not bad else 1)
PYEOF
check "every unopened resident got a second message with a fresh link" test $? -eq 0
sed 's/^/# /' "$T/m.out"
"$TAYORI" batch export "$B" -d "$D" >"$T/e.csv"
check "export: contacts 2 for each resident mailed" sh -c "tail -n +2 '$T/e.csv' | cut -d, -f5 | sort | uniq -c | grep -q '^ *$((N - 1)) 2\$'"
"$TAYORI" audit show -d "$D" >"$T/audit.txt"
check "audit: one notice.reminded per resident reminded" test "$(grep -c "notice\.reminded" "$T/audit.txt")" -eq $((N - 1))
check "audit: one batch.remind with the count" sh -c "grep 'batch\.remind' '$T/audit.txt' | grep -q 'residents=$((N - 1))'"

# --- the report by mail -------------------------------------------------------------
check_status 0 "report --mail" "$TAYORI" report --mail -d "$D"
check "... queued for the admins" grep -q "queued for [1-9] admins" "$T/last"
check "the mailer delivers it to the admin" wait_for 30 sh -c "grep -l -r '^To: .*kanri@ward.example.jp' '$OUT' | grep -q ."
F=$(grep -l -r '^To: .*kanri@ward.example.jp' "$OUT" | head -1)
$PY - "$F" "$B" $KEYS >"$T/rm.out" 2>&1 <<'PYEOF'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.strict)
body = m.get_body(preferencelist=("plain",)).get_content()
assert "送信状況の報告" in str(m["Subject"]), m["Subject"]
assert any(l.split()[:2] == [sys.argv[2], "sent"] for l in body.splitlines()), body
for k in sys.argv[3:] + ["example.jp"]:
    assert k not in body, k
PYEOF
check "the mailed report: its subject, the batch's line, no key or address" test $? -eq 0
sed 's/^/# /' "$T/rm.out" | head -5
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
