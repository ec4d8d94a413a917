#!/bin/sh
# tests/integration/mailer_send.sh — a batch sent by the mailer of `tayori
# run` with no relay (the demo): submitted, approved, `tayori batch send`,
# and then the outbox Maildir holds exactly one message per resident with
# an address (none for the row without one), each parsed by Python's email
# package in strict mode: To is exactly that resident, From the ward,
# multipart/alternative text and HTML, no attachment, a link of its own
# (unique across the batch) and a notice code, and a DKIM signature
# ([mail] dkim_selector set) that dkimpy verifies against the record
# `tayori dkim record` prints.  The batch ends "sent", each resident "sent"
# in `tayori batch show --json`.  Then a test batch (テスト, submitted with
# `tayori submit --test` by the staff member running it): every message goes
# to that staff member's own address (stored with the batch) or to [mail]
# test_addresses, none to a resident, each marked テスト in the subject and
# in both parts of the body.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
ME=$(id -un)
N=${MAILER_SEND_RESIDENTS:-60}

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s|^#public_url = .*|public_url = https://tsuchi.ward.example.jp|" \
       -e "s/^#from = .*/from = tsuchi@ward.example.jp/" \
       -e 's/^#dkim_selector = .*/dkim_selector = s1/' \
       -e 's/^#dkim_domain = .*/dkim_domain = ward.example.jp/' \
       -e 's/^#test_addresses = .*/test_addresses = shiken@ward.example.jp/' "$D/tayori.conf"
export PW=a-long-enough-password
"$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add shonin"
"$TAYORI" user add "$ME" -d "$D" --email me@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add $ME"

sh "$TOP/tests/bench/gen-corpus" "$T/c" "$N" >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir "$T/b"
cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b/"
"$TAYORI" submit -d "$D" --json "$T/b" >"$T/b.json" 2>"$T/b.err" || { fail "submit"; cat "$T/b.err"; }
B=$(jval "$T/b.json" 'd["batch"]')
check_status 0 "the batch is approved" "$TAYORI" batch approve "$B" --as shonin -d "$D"
# The test batch, submitted by $ME (me@ward.example.jp): 5 rows.
sh "$TOP/tests/bench/gen-corpus" "$T/c2" 5 >/dev/null 2>&1 || fail "gen-corpus (test batch)"
mkdir "$T/b2"
cp "$T/c2/corpus.csv" "$T/c2/corpus.pdf" "$T/b2/"
"$TAYORI" submit -d "$D" --test --json "$T/b2" >"$T/b2.json" 2>"$T/b2.err" || { fail "submit --test"; cat "$T/b2.err"; }
BT=$(jval "$T/b2.json" 'd["batch"]')
check_status 0 "the test batch is approved" "$TAYORI" batch approve "$BT" --as shonin -d "$D"

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "the mailer is ready (Maildir transport)" wait_for 30 grep -q "role=mailer .*event=ready.*transport=maildir" "$T/run.log"
ls "$D/mail/outbox/new" >"$T/before"
check_status 0 "tayori batch send" "$TAYORI" batch send "$B" --as shonin -d "$D"
status() { "$TAYORI" batch show "$B" -d "$D" --json | $PY -c 'import json, sys; print(json.load(sys.stdin)["summary"]["status"])'; }
check "the batch ends sent" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $B -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
check "the mailer logged the batch sent" grep -q "role=mailer .*event=batch_sent batch=$B" "$T/run.log"

# Every message of the outbox, against the CSV.
$PY - "$D/mail/outbox/new" "$T/c/corpus.csv" "$T/before" >"$T/check.out" 2>&1 <<'PYEOF'
import email, email.policy, os, re, sys
outdir, csvpath, before = sys.argv[1], sys.argv[2], set(open(sys.argv[3]).read().split())
rows = open(csvpath, "rb").read().decode("cp932").splitlines()[1:]
want = [r.split(",")[2] for r in rows if r.split(",")[2]]
nopaper = [r for r in rows if not r.split(",")[2]]
got, links, codes, problems = [], set(), set(), []
for name in sorted(os.listdir(outdir)):
    if name in before:
        continue
    raw = open(os.path.join(outdir, name), "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.strict)
    to = m.get_all("To")
    if to is None or len(to) != 1 or len(to[0].addresses) != 1:
        problems.append("%s: To is not one address: %r" % (name, to)); continue
    addr = to[0].addresses[0].addr_spec
    got.append(addr)
    if m["From"].addresses[0].addr_spec != "tsuchi@ward.example.jp":
        problems.append("%s: From %s" % (name, m["From"]))
    for h in ("Date", "Message-ID", "Subject", "Reply-To"):
        if m[h] is None:
            problems.append("%s: no %s" % (name, h))
    if m["List-Unsubscribe"] is not None:
        problems.append("%s: List-Unsubscribe" % name)
    if m.get_content_type() != "multipart/alternative":
        problems.append("%s: %s" % (name, m.get_content_type()))
    types = [p.get_content_type() for p in m.walk() if not p.is_multipart()]
    if sorted(types) != ["text/html", "text/plain"]:
        problems.append("%s: parts %r" % (name, types))
    if any(p.get_content_disposition() == "attachment" for p in m.walk()):
        problems.append("%s: an attachment" % name)
    text = m.get_body(preferencelist=("plain",)).get_content()
    html = m.get_body(preferencelist=("html",)).get_content()
    mine = set(re.findall(r"https://tsuchi\.ward\.example\.jp/n/([A-Za-z0-9_-]{22})", text))
    if len(mine) != 1 or mine != set(re.findall(r"https://tsuchi\.ward\.example\.jp/n/([A-Za-z0-9_-]{22})", html)):
        problems.append("%s: links %r" % (name, mine))
    links |= mine
    code = re.findall(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", text)
    if not code:
        problems.append("%s: no notice code" % name)
    codes |= set(code[:1])
print("messages=%d residents_with_address=%d paper_rows=%d links=%d codes=%d" % (len(got), len(want), len(nopaper), len(links), len(codes)))
if sorted(got) != sorted(want):
    problems.append("recipients differ: %d extra, %d missing" % (len(set(got) - set(want)), len(set(want) - set(got))))
if len(links) != len(got) or len(codes) != len(got):
    problems.append("links or codes are not unique")
for p in problems[:20]:
    print(p)
sys.exit(1 if problems else 0)
PYEOF
rc=$?
sed 's/^/# /' "$T/check.out" | head -25
if [ $rc -eq 0 ]; then ok "one strict-parsed message per resident with an address, To exactly that resident, unique links and codes, no attachment"; else fail "the outbox messages"; fi
check_status 0 "tayori dkim record" "$TAYORI" dkim record -d "$D"
cp "$T/last" "$T/record"
$PY - "$D/mail/outbox/new" "$T/before" "$T/record" >"$T/dkim.out" 2>&1 <<'PYEOF'
import dkim, os, re, sys
outdir, before = sys.argv[1], set(open(sys.argv[2]).read().split())
name, txt = re.match(r'^(\S+) IN TXT (.*)$', open(sys.argv[3]).read().strip()).groups()
txt = ''.join(re.findall(r'"([^"]*)"', txt)).encode()
def dns(q, timeout=5):
    return txt if q.decode().rstrip('.') == name.rstrip('.') else None
n = bad = 0
for f in sorted(os.listdir(outdir)):
    if f in before:
        continue
    raw = open(os.path.join(outdir, f), "rb").read()
    n += 1
    if not raw.startswith(b"DKIM-Signature:") or not dkim.verify(raw, dnsfunc=dns):
        bad += 1
print("signed messages checked=%d failing=%d" % (n, bad))
sys.exit(0 if n > 0 and bad == 0 else 1)
PYEOF
rc=$?
sed 's/^/# /' "$T/dkim.out" | head -5
if [ $rc -eq 0 ]; then ok "every message carries a DKIM signature dkimpy verifies"; else fail "DKIM signatures of the messages"; fi
"$TAYORI" batch show "$B" -d "$D" --json >"$T/show.json"
# The residents' states appear in `batch show --json` once the command line
# prints them (DESIGN.md); until then this part is skipped, saying so.
if grep -q '"residents"' "$T/show.json"; then
	jtrue "batch show: every resident with an address is sent, with one contact" "$T/show.json" \
		'sum(1 for r in d["residents"] if r["state"] == "sent" and r["contacts"] == 1 and r["sent_at"]) == '"$((N - N / 50))"
	jtrue "batch show: the row without an address is on paper" "$T/show.json" \
		'sum(1 for r in d["residents"] if r["state"] == "paper") == '"$((N / 50))"
else
	echo "# skip: batch show --json has no residents yet"
fi

# The test batch: to the submitter and the test address only, marked テスト.
ls "$D/mail/outbox/new" >"$T/before2"
check_status 0 "tayori batch send (the test batch)" "$TAYORI" batch send "$BT" --as shonin -d "$D"
check "the test batch ends sent" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $BT -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
$PY - "$D/mail/outbox/new" "$T/c2/corpus.csv" "$T/before2" >"$T/test.out" 2>&1 <<'PYEOF'
import email, email.policy, os, sys
outdir, csvpath, before = sys.argv[1], sys.argv[2], set(open(sys.argv[3]).read().split())
rows = open(csvpath, "rb").read().decode("cp932").splitlines()[1:]
residents = set(r.split(",")[2] for r in rows if r.split(",")[2])
got, problems = [], []
for name in sorted(os.listdir(outdir)):
    if name in before:
        continue
    m = email.message_from_bytes(open(os.path.join(outdir, name), "rb").read(), policy=email.policy.strict)
    addr = m["To"].addresses[0].addr_spec
    text = m.get_body(preferencelist=("plain",)).get_content()
    if "/n/" not in text:
        continue  # the report to staff, not a notice
    got.append(addr)
    if addr in residents:
        problems.append("%s: sent to a resident, %s" % (name, addr))
    if "テスト" not in str(m["Subject"]):
        problems.append("%s: Subject without テスト: %s" % (name, m["Subject"]))
    html = m.get_body(preferencelist=("html",)).get_content()
    if "テスト" not in text or "テスト" not in html:
        problems.append("%s: a part without テスト" % name)
print("test messages=%d rows=%d to=%s" % (len(got), len(rows), ",".join(sorted(set(got)))))
if len(got) != len(rows):
    problems.append("%d messages for %d rows" % (len(got), len(rows)))
if set(got) != {"me@ward.example.jp", "shiken@ward.example.jp"}:
    problems.append("recipients %r, not the submitter and the test address" % sorted(set(got)))
for p in problems[:20]:
    print(p)
sys.exit(1 if problems else 0)
PYEOF
rc=$?
sed 's/^/# /' "$T/test.out" | head -25
if [ $rc -eq 0 ]; then ok "the test batch went to the submitter's own address and the test address only, marked テスト"; else fail "the test batch's messages"; fi
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
