#!/bin/sh
# tests/integration/mailer_digest.sh — the mail the mailer of `tayori run`
# writes to staff on its own (mailer/digest.h), read from the outbox
# Maildir (the demo transport): the daily summary at [mail] report_time (a
# minute ago, so due now) to [mail] report_to, with counts and the batch
# id and no resident's name, sent once that day even after a restart; and,
# once the deadline (期限) of a sent batch has passed, one mail to
# report_to (and the submitter, when the batch came by mail) saying its paper list is final, with the
# count and `tayori batch export N --paper`, once.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
N=10

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
# A minute ago in Japan (00:00 just after midnight): due now.
AT=$($PY -c 'import datetime as d
n = d.datetime.utcnow() + d.timedelta(hours=9)
print(max(n - d.timedelta(minutes=1), n.replace(hour=0, minute=0)).strftime("%H:%M"))')
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s/^#from = .*/from = tsuchi@ward.example.jp/" \
       -e "s/^#report_to = .*/report_to = kacho@ward.example.jp/" \
       -e "s/^#report_time = .*/report_time = $AT/" \
       -e "s/^#four_eyes = .*/four_eyes = no/" "$D/tayori.conf"
check "report_time and report_to are set" grep -q "^report_time = $AT" "$D/tayori.conf"

sh "$TOP/tests/bench/gen-corpus" "$T/c" "$N" >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir "$T/b"
cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b/"
printf '期限: 2020-01-31\n\n期限を過ぎた通知です。\n' >"$T/b/message.txt"
"$TAYORI" submit -d "$D" --json "$T/b" >"$T/b.json" 2>"$T/b.err" || { fail "submit"; cat "$T/b.err"; }
B=$(jval "$T/b.json" 'd["batch"]')
check_status 0 "the batch is approved" "$TAYORI" batch approve "$B" -d "$D"
check_status 0 "tayori batch send" "$TAYORI" batch send "$B" -d "$D"

# mails SUBJECT-FRAGMENT: "TO|BODY" lines of the outbox's mails whose
# Subject holds the fragment (decoded), one per mail.
mails() {
	$PY - "$D/mail/outbox/new" "$1" <<'PYEOF'
import email, email.policy, os, sys
d, frag = sys.argv[1], sys.argv[2]
for n in sorted(os.listdir(d)):
    m = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
    if frag in str(m["Subject"]):
        body = m.get_body(preferencelist=("plain",)).get_content()
        print("%s|%s" % (m["To"].addresses[0].addr_spec, body.replace("\n", "\\n")))
PYEOF
}

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the mailer is ready" wait_for 30 grep -q "role=mailer .*event=ready" "$T/run.log"
check "the daily summary is queued at once" wait_for 30 grep -q "role=mailer .*event=daily_report_queued .*to=1" "$T/run.log"
check "the batch ends sent" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $B -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
# The first look at the deadlines was before the batch was sent: the next
# one is a minute later.
check "the paper list mail is queued once the batch is sent" wait_for 90 grep -q "role=mailer .*event=paper_list_final batch=$B paper=$N to=1" "$T/run.log"
sleep 2
mails "日次報告" >"$T/daily"
check "one daily summary, to report_to" test "$(cut -d'|' -f1 "$T/daily")" = "kacho@ward.example.jp"
check "the summary carries the batch id and counts" grep -q "$B" "$T/daily"
$PY - "$T/c/corpus.csv" "$T/daily" >"$T/names.out" 2>&1 <<'PYEOF'
import sys
rows = open(sys.argv[1], "rb").read().decode("cp932").splitlines()[1:]
text = open(sys.argv[2], encoding="utf-8").read()
found = [r.split(",")[1] for r in rows if r.split(",")[1] and r.split(",")[1] in text]
print("names found:", found)
sys.exit(1 if found else 0)
PYEOF
check "the summary names no resident" test $? -eq 0
mails "紙の一覧が確定" >"$T/paper"
# Submitted with `tayori submit`, the batch has no submitter's address.
check "the paper list mail went to report_to, once" test "$(cut -d'|' -f1 "$T/paper" | sort | tr '\n' ' ')" = "kacho@ward.example.jp "
check "it gives the count and the command" grep -q "紙で通知する区民: $N 件.*tayori batch export $B --paper" "$T/paper"

# A restart the same day: neither is sent again.
kill -TERM $SUP; wait $SUP 2>/dev/null
"$TAYORI" run -d "$D" >"$T/run2.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the mailer is ready again" wait_for 30 grep -q "role=mailer .*event=ready" "$T/run2.log"
sleep 5
check "after a restart, no second summary nor paper mail" sh -c "[ \$(grep -c 'event=daily_report_queued\|event=paper_list_final' '$T/run2.log') -eq 0 ]"
mails "日次報告" >"$T/daily2"
check "still one summary in the outbox" test "$(wc -l <"$T/daily2")" -eq 1
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
