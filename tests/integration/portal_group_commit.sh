#!/bin/sh
# tests/integration/portal_group_commit.sh — the resident portal commits
# downloads in groups, and loses none: against `tayori run` on a demo
# tenant, a resident's session (tests/bench/portal-session: a one-resident
# batch sent by the mailer, the link followed with curl), then
#   - N downloads at once, from many connections: each answer the exact
#     signed bytes, and exactly N more download events in LMDB and N more
#     notice.download audit records (downloads after the arrival are
#     written with the next group, so they are waited for), the audit
#     chain intact;
#   - the portal stopped with SIGTERM while downloads run: every download
#     that was answered is an event and an audit record (events and
#     records still match one for one), and the chain is intact.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
TOOL=${TOOL:-$(dirname "$TAYORI")/tests/test_resident_links}
[ -x "$TOOL" ] || TOOL=$TOP/build/default/tests/test_resident_links
for tool in curl xargs "$TOOL"; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
N=${GROUP_DOWNLOADS:-200}
P1=$((20000 + ($$ + 11) % 20000)); P2=$((P1 + 1))
U=http://127.0.0.1:$P1

check "init a demo tenant" "$TAYORI" init -d "$D" --demo
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s|^#public_url = .*|public_url = http://127.0.0.1:$P1|" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill $SUP"
check "the portal answers" wait_for 15 curl -fsS "$U/healthz"
if ! BENCH_NOTICE_PAGES=2 TAYORI=$TAYORI sh "$TOP/tests/bench/portal-session" "$D" "$P1" "$T/session.out" >"$T/session.log" 2>&1; then
	fail "a resident's session"; sed 's/^/#   /' "$T/session.log"; done_testing; exit 1
fi
ok "a resident's session"
B=$(jval "$T/session/b.json" 'd["batch"]')
COOKIE=$(sed -n 2p "$T/session.out")
cp "$T/session/got.pdf" "$T/want.pdf"

# downloads: the download events of the resident in LMDB (the test tool);
# audited: the notice.download audit records of that row.
downloads() {
	"$TOOL" access "$D" "$B" 1 >"$T/acc.json" 2>"$T/acc.err" || { sed 's/^/#   /' "$T/acc.err" >&2; echo -1; return; }
	$PY -c 'import json, sys; print(sum(1 for e in json.load(open(sys.argv[1]))["events"] if e["type"] == "download"))' "$T/acc.json"
}
audited() {
	"$TAYORI" audit show -d "$D" --json --limit 1000000 >"$T/audit.json" 2>"$T/audit.err" || { sed 's/^/#   /' "$T/audit.err" >&2; echo -1; return; }
	$PY - "$T/audit.json" "batch:$B/seq:1" <<'PYEOF'
import json, sys
text = open(sys.argv[1]).read().strip()
try:
    recs = json.loads(text)
except ValueError:
    recs = [json.loads(l) for l in text.splitlines() if l.strip()]
if isinstance(recs, dict):
    recs = recs.get("records", [])
print(sum(1 for r in recs if r.get("action") == "notice.download" and r.get("target") == sys.argv[2]))
PYEOF
}
before=$(downloads); abefore=$(audited)
if [ "$before" -ge 1 ] && [ "$before" = "$abefore" ]; then ok "the session's first download is one event and one audit record ($before)"
else fail "before: $before download events, $abefore audit records"; fi

# --- N downloads at once -----------------------------------------------------
mkdir -p "$T/dl"
seq "$N" | xargs -P 32 -I{} curl -s -o "$T/dl/{}.pdf" -w '%{http_code}\n' -H "Cookie: $COOKIE" "$U/notice/pdf" >"$T/codes"
good=0
for i in $(seq "$N"); do cmp -s "$T/dl/$i.pdf" "$T/want.pdf" && good=$((good + 1)); done
if [ "$(grep -c '^200$' "$T/codes")" = "$N" ] && [ "$good" = "$N" ]; then ok "$N downloads at once: each 200 with the signed bytes"
else fail "$N downloads at once: $(grep -c '^200$' "$T/codes") answered 200, $good with the signed bytes"; sort "$T/codes" | uniq -c | sed 's/^/#   /'; fi
# Downloads after the arrival are answered at once and written with the
# next group of events, within a fraction of a second: wait for them.
n=100
while [ "$(downloads)" -lt $((before + N)) ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
after=$(downloads); aafter=$(audited)
if [ "$after" = $((before + N)) ]; then ok "exactly $N more download events in LMDB"
else fail "download events: $before before, $after after $N downloads"; fi
if [ "$aafter" = $((abefore + N)) ]; then ok "exactly $N more notice.download audit records"
else fail "audit records: $abefore before, $aafter after $N downloads"; fi
check "the audit chain is intact after $N downloads at once" "$TAYORI" audit verify -d "$D"

# --- SIGTERM while downloads run ---------------------------------------------
# Each loop counts the downloads that were answered 200 with the whole body.
portal_pid() { ps -o pid= -o comm= --ppid "$SUP" | awk '$2 == "tayori-portal" { print $1 }'; }
PP=$(portal_pid)
rm -f "$T/acked.*"
for l in 1 2 3 4 5 6 7 8; do
	( i=0; while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		code=$(curl -s -o "$T/l$l.pdf" -w '%{http_code}' -H "Cookie: $COOKIE" "$U/notice/pdf" 2>/dev/null) || code=000
		[ "$code" = 200 ] && cmp -s "$T/l$l.pdf" "$T/want.pdf" && echo x >>"$T/acked.$l"
	done ) &
	at_exit "kill $! 2>/dev/null"
done
wait_for 20 sh -c "cat $T/acked.* 2>/dev/null | wc -l | awk '\$1 >= 50 { exit 0 } { exit 1 }'"
if [ -n "$PP" ] && kill -TERM "$PP"; then ok "SIGTERM to the portal ($PP) while downloads run"
else fail "no portal process to stop"; fi
# The supervisor starts a new portal; let the loops run into it, then stop.
wait_for 20 sh -c "[ -n \"\$(ps -o pid= -o comm= --ppid $SUP | awk '\$2 == \"tayori-portal\" && \$1 != $PP')\" ]"
wait_for 15 curl -fsS "$U/healthz"
sleep 1
touch "$T/stop"
wait_for 20 sh -c "! pgrep -f 'curl -s -o $T/l' >/dev/null"
sleep 1
acked=$(cat "$T"/acked.* 2>/dev/null | wc -l)
final=$(downloads); afinal=$(audited)
if [ "$acked" -gt 0 ] && [ "$final" -ge $((after + acked)) ]; then ok "every answered download is an event ($acked answered, $((final - after)) events)"
else fail "$acked downloads answered around the SIGTERM, but $((final - after)) events"; fi
if [ "$final" = "$afinal" ]; then ok "download events and audit records still match one for one ($final)"
else fail "$final download events, $afinal notice.download audit records"; fi
check "the audit chain is intact after the SIGTERM" "$TAYORI" audit verify -d "$D"
if grep -q "event=start_failed\|panic\|Sanitizer\|runtime error" "$T/run.log"; then fail "the run log is clean"; sed 's/^/#   /' "$T/run.log" | grep -i "fail\|panic\|sanitizer" | head; else ok "the run log is clean"; fi
done_testing
