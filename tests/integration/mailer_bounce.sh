#!/bin/sh
# tests/integration/mailer_bounce.sh — the bounce return path end to end,
# through `tayori run`: a batch is sent through a real SMTP relay
# (tests/smtp/relay.py, aiosmtpd, answering 250) with [mail] bounce_domain
# set, so every envelope sender is bounce+BATCH-SEQ-MAC@ that domain (the
# Message-ID keeps the domain of from).  Then RFC 3464 hard-bounce reports
# are dropped into [mail] bounce_maildir: one to a resident's real return
# path marks that resident bounced (`tayori report --json`, and the paper
# list of `tayori batch show --json`) and moves to .Processed; one whose
# MAC is forged (another resident's return path, one letter changed)
# changes nothing and is moved aside to .NotBounces.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
N=20

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
mkdir "$T/relay"
$PY "$TOP/tests/smtp/relay.py" --dir "$T/relay" --port-file "$T/relay.port" 2>"$T/relay.log" &
RELAY=$!
at_exit "kill $RELAY"
wait_for 60 test -s "$T/relay.port" || { fail "the relay starts"; done_testing; exit 1; }
PORT=$(cat "$T/relay.port")
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s|^#relay = .*|relay = smtp://127.0.0.1:$PORT|" \
       -e "s/^#from = .*/from = tsuchi@ward.example.jp/" \
       -e "s/^#imap_poll = .*/imap_poll = 5s/" \
       -e "s|^#bounce_maildir = .*|bounce_maildir = bounces|" \
       -e "s/^#bounce_domain = .*/bounce_domain = bounce.ward.example.jp/" \
       -e "s/^#four_eyes = .*/four_eyes = no/" "$D/tayori.conf"
check "the relay and the bounce Maildir are configured" grep -q "^bounce_maildir = bounces" "$D/tayori.conf"

sh "$TOP/tests/bench/gen-corpus" "$T/c" "$N" >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir "$T/b"
cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b/"
"$TAYORI" submit -d "$D" --json "$T/b" >"$T/b.json" 2>"$T/b.err" || { fail "submit"; cat "$T/b.err"; }
B=$(jval "$T/b.json" 'd["batch"]')
check_status 0 "the batch is approved" "$TAYORI" batch approve "$B" -d "$D"
WANT=$((N - N / 50))

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the mailer is ready (relay transport)" wait_for 30 grep -q "role=mailer .*event=ready.*transport=relay" "$T/run.log"
check "the mailer made the bounce Maildir and its folders" test -d "$D/bounces/new" -a -d "$D/bounces/.Processed/cur" -a -d "$D/bounces/.NotBounces/cur"
check_status 0 "tayori batch send" "$TAYORI" batch send "$B" -d "$D"
check "the batch ends sent" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $B -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
check "the relay holds one message per resident with an address" test "$(ls "$T/relay" | grep -c '\.env$')" -eq "$WANT"

# The envelope senders: VERP at the bounce domain; Message-ID at from's.
$PY - "$T/relay" "$B" >"$T/verp.out" 2>&1 <<'PYEOF'
import email, email.policy, os, re, sys
relay, batch = sys.argv[1], sys.argv[2]
bad = 0
for n in sorted(os.listdir(relay)):
    if not n.endswith(".env"):
        continue
    env = dict(l.rstrip("\n").split(" ", 1) for l in open(os.path.join(relay, n)))
    if not re.fullmatch(r"bounce\+%s-\d+-[a-z2-7]+@bounce\.ward\.example\.jp" % batch, env["from"], re.I):
        print("bad return path", env["from"]); bad += 1
    m = email.message_from_bytes(open(os.path.join(relay, n[:-4] + ".eml"), "rb").read(), policy=email.policy.default)
    if not m["Message-ID"].strip().endswith("@ward.example.jp>"):
        print("bad Message-ID", m["Message-ID"]); bad += 1
sys.exit(1 if bad else 0)
PYEOF
rc=$?
sed 's/^/# /' "$T/verp.out" | head -5
if [ $rc -eq 0 ]; then ok "every return path is bounce+$B-SEQ-MAC@bounce.ward.example.jp, every Message-ID at ward.example.jp"; else fail "return paths and Message-IDs"; fi

# Two reports: a real one for the first message, a forged one for the second.
$PY - "$T/relay" "$T/dsn" <<'PYEOF'
import os, sys
relay, out = sys.argv[1], sys.argv[2]
os.mkdir(out)
envs = sorted(n for n in os.listdir(relay) if n.endswith(".env"))
def env(n):
    return dict(l.rstrip("\n").split(" ", 1) for l in open(os.path.join(relay, n)))
real, other = env(envs[0]), env(envs[1])
local, dom = other["from"].split("@")
last = local[-1]
forged = local[:-1] + ("b" if last.lower() != "b" else "c") + "@" + dom
def dsn(verp, rcpt):
    return ("From: MAILER-DAEMON@mx.example.net\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Date: Mon, 7 Dec 2026 10:00:00 +0900\r\nMessage-ID: <dsn.%s@mx.example.net>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
            "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
            "Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n--B--\r\n") % (verp, abs(hash(verp)), rcpt)
open(os.path.join(out, "real"), "w").write(dsn(real["from"], real["rcpt"]))
open(os.path.join(out, "forged"), "w").write(dsn(forged, other["rcpt"]))
PYEOF
"$TAYORI" bounce parse --json -d "$D" "$T/dsn/real" "$T/dsn/forged" >"$T/parse.json" 2>&1
check "tayori bounce parse: both are hard bounces, the real MAC holds, the forged one does not" \
	$PY -c 'import json, sys
v = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if [(f["kind"], f["verp"]["valid"]) for f in v] == [("hard", True), ("hard", False)] else 1)' "$T/parse.json"
"$TAYORI" report --json -d "$D" >"$T/r0.json" 2>&1
jtrue "before any bounce, the report counts none" "$T/r0.json" \
	'[b["bounced"] for b in d["batches"] if b["batch"] == '"$B"'] == [0]'
state_count() { "$TAYORI" batch show "$B" -d "$D" --json | $PY -c 'import json, sys; print(sum(1 for r in json.load(sys.stdin)["residents"] if r["state"] == sys.argv[1]))' "$1"; }
paper() { "$TAYORI" report --json -d "$D" | $PY -c 'import json, sys; print([b["paper"] for b in json.load(sys.stdin)["batches"] if b["batch"] == '"$B"'][0])'; }
P0=$(paper)

cp "$T/dsn/forged" "$D/bounces/tmp/1.forged" && mv "$D/bounces/tmp/1.forged" "$D/bounces/new/1.forged"
check "the forged report is moved aside" wait_for 30 sh -c "test \$(ls '$D/bounces/.NotBounces/cur' | wc -l) -eq 1"
check "the mailer logged it forged" grep -q "role=mailer .*outcome=forged" "$T/run.log"
"$TAYORI" report --json -d "$D" >"$T/r1.json" 2>&1
jtrue "a forged return path marks nobody bounced" "$T/r1.json" \
	'[b["bounced"] for b in d["batches"] if b["batch"] == '"$B"'] == [0]'
check "a forged return path adds nobody to the paper list" test "$(paper)" -eq "$P0"

cp "$T/dsn/real" "$D/bounces/tmp/2.real" && mv "$D/bounces/tmp/2.real" "$D/bounces/new/2.real"
check "the real report is processed" wait_for 30 sh -c "test \$(ls '$D/bounces/.Processed/cur' | wc -l) -eq 1"
"$TAYORI" report --json -d "$D" >"$T/r2.json" 2>&1
jtrue "the resident of the real return path is bounced" "$T/r2.json" \
	'[b["bounced"] for b in d["batches"] if b["batch"] == '"$B"'] == [1]'
check "the bounced resident joins the paper list" test "$(paper)" -eq $((P0 + 1))
check "batch show names one resident bounced" test "$(state_count bounced)" -eq 1
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
