#!/bin/sh
# tests/integration/dashboard_live.sh — the live parts of a batch page
# against `tayori run` on a demo tenant: the real Server-Sent Events stream
# (GET /batches/ID/events) read by Python while it acts as residents on the
# real resident listener (tests/integration/live_sse.py).  Checks: the
# stream is behind the login (303 to it) and the view permission (403, no
# resident's data); it opens with a snapshot of the figures; the mailer's
# "sent" for every resident arrives (polled from the store, another
# process); a link scanner's click (headless user agent, seconds after
# delivery) arrives flagged, a resident's open, PDF download and
# certificate download arrive as rows (the latencies are printed, not
# asserted); the figures follow (1 download, 1 certificate); no resident's
# key or address is in the stream; a reconnecting browser's Last-Event-ID
# gets the rows again; the page has the usage table, the chart (SVG with a
# title and a description, and a table), the scanner's flag and the
# script, under the staff listener's CSP (script-src 'self'), while the
# resident listener's CSP still allows no script; /static/dashboard.js is
# served; logging out ends the open stream (within the session check) and
# a reconnection is sent to the login.
#
# Standards: HTML Living Standard 9.2 (Server-Sent Events), W3C CSP Level 3.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
ME=$(id -un)
need_tools curl iconv
demo_ports 17

check "init a demo tenant" demo_tenant
export PW=a-long-enough-password
check "an approver" staff_user shonin approver
check "the submitter" "$TAYORI" user add "$ME" -d "$D" --email me@ward.example.jp --role approver --password-env PW
check "a clerk without the view permission" staff_without minai view
corpus c 3
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 住民税決定通知\n認証: magic\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
check "a batch of three" sh -c "'$TAYORI' submit -d '$D' --json '$T/b1' >'$T/b1.json' 2>'$T/b1.err'"
B=$(jval "$T/b1.json" 'd["batch"]')
check "approved by another" "$TAYORI" batch approve "$B" --as shonin -d "$D"
iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | sed 1d | awk -F, '{ print $3 "\t" $1 }' >"$T/keys.tsv"

demo_run
check "the mailer is ready" wait_for 30 grep -q "role=mailer .*event=ready" "$T/run.log"

cookie() { awk '$6 == "tayori_ss" { print "tayori_ss=" $7 }' "$T/jar.$1"; }

req anon "$U/batches/$B/events"
check "the stream without a session: 303 to the login, no stream" sh -c \
	"[ $(code) = 303 ] && ! grep -qi 'text/event-stream' '$T/h'"
login minai minai
req minai "$U/batches/$B/events"
check "... without the view permission: 403, no resident's data" sh -c \
	"[ $(code) = 403 ] && grep -q '権限がありません' '$T/b' && ! grep -qi 'text/event-stream' '$T/h' && ! grep -q 'seq' '$T/b'"
login s shonin
req s "$U/batches/99999/events"
check "... an unknown batch: 404" sh -c "[ $(code) = 404 ]"
req s "$U/static/dashboard.js"
check "/static/dashboard.js: the page's script, served as JavaScript" sh -c \
	"[ $(code) = 200 ] && grep -qi '^content-type: text/javascript' '$T/h' && grep -q 'EventSource' '$T/b'"

CK=$(cookie s)
$PY "$TOP/tests/integration/live_sse.py" flow "$U" "$B" "$CK" "$R" "$D/mail/outbox/new" \
	"$T/keys.tsv" "$T/live.json" -- "$TAYORI" batch send "$B" --as shonin -d "$D" >"$T/live.out" 2>&1
check "the stream reader and the residents ran" sh -c "[ -s '$T/live.json' ] || { cat '$T/live.out'; false; }"
[ -n "${KEEP:-}" ] && echo "# T=$T"
if [ -s "$T/live.json" ]; then
	jtrue "the stream is text/event-stream" "$T/live.json" 'd["content_type"].startswith("text/event-stream")'
	jtrue "... and opens with a snapshot of the figures" "$T/live.json" 'd["snapshot"]'
	jtrue "the mailer's 'sent' of all three arrives (another process, polled)" "$T/live.json" 'd["sent_rows"] == d["seqs"] and len(d["seqs"]) == 3'
	jtrue "a link scanner's click arrives as an open, flagged" "$T/live.json" \
		'd["scanner_row"]["state"] == "開封済み" and "リンク確認サービス" in d["scanner_row"]["opened"]'
	jtrue "a resident's open arrives, not flagged" "$T/live.json" \
		'd["open_row"]["state"] == "開封済み" and "JST" in d["open_row"]["opened"] and "リンク確認" not in d["open_row"]["opened"]'
	jtrue "the resident's download (a PDF) arrives: downloaded, with its time" "$T/live.json" \
		'd["pdf"] == [200, "%PDF-"] and d["download_row"]["state"] == "ダウンロード済み" and "JST" in d["download_row"]["downloaded"]'
	jtrue "the certificate download arrives" "$T/live.json" 'd["cert_row"] is not None'
	jtrue "the figures follow: 3 mails, 2 opened, 1 downloaded, 1 certificate, 0 attachments" "$T/live.json" \
		'd["usage"]["mails"] == "3 通" and d["usage"]["opened"] == "2 人" and d["usage"]["downloaded"] == "1 人" and d["usage"]["certs"] == "1 回" and d["usage"]["attachments"] == "0 通" and "ダウンロード済み 1" in d["usage"]["counts"]'
	jtrue "no resident's key or address is in the stream" "$T/live.json" 'd["keys_in_stream"] == [] and d["addresses_in_stream"] == []'
	jtrue "a reconnection with Last-Event-ID gets the later rows again" "$T/live.json" 'd["replayed"]'
	echo "# latency from the action to its event on the stream (ms): $(sed -n 1p "$T/live.out")"
fi

req s "$U/batches/$B"
check "the batch page: the usage table, with 0 attachments explained" sh -c \
	"grep -q 'id=\"u-downloaded\">1 人' '$T/b' && grep -q 'id=\"u-attachments\">0 通' '$T/b' && grep -q 'メールに添付しません' '$T/b' && grep -q 'id=\"u-certs\">1 回' '$T/b'"
check "... the chart: inline SVG with a title and a description, and a table" sh -c \
	"grep -q '<svg viewBox=' '$T/b' && grep -q 'role=\"img\" aria-labelledby=\"chart-title chart-desc\"' '$T/b' && grep -q '<title id=\"chart-title\">' '$T/b' && grep -q '<desc id=\"chart-desc\">.*累計 2 人.*累計 1 人' '$T/b' && grep -q '<caption>期間ごとの開封とダウンロード' '$T/b'"
check "... the link scanner's open is flagged on its row, once" sh -c "[ \$(grep -c 'リンク確認サービスによる自動の開封' '$T/b') -eq 1 ]"
check "... the script, from the portal's own file (no inline script)" sh -c \
	"grep -q '<script src=\"/static/dashboard.js\" defer></script>' '$T/b' && [ \$(grep -c '<script' '$T/b') -eq 1 ] && grep -q 'id=\"live\" .*data-batch=\"$B\"' '$T/b'"
check "... under the staff CSP: script-src 'self'; connect-src 'self'" sh -c \
	"grep -i '^content-security-policy:' '$T/h' | grep -q \"script-src 'self'; connect-src 'self'\""
curl -s -D "$T/rh" -o /dev/null "$R/"
check "the resident listener's CSP still allows no script" sh -c \
	"grep -qi '^content-security-policy: default-src .none.' '$T/rh' && ! grep -i '^content-security-policy:' '$T/rh' | grep -q 'script-src'"

# Logging out ends the session: an open stream ends at its next session
# check, and the browser's reconnection is sent to the login.
$PY - "$U/batches/$B/events" "$CK" >"$T/end.out" 2>&1 <<'PYEOF' &
import sys, time, urllib.request
sys.path.insert(0, "tests/integration")
req = urllib.request.Request(sys.argv[1], headers={"Cookie": sys.argv[2]})
t0 = time.monotonic()
r = urllib.request.urlopen(req, timeout=120)
for line in r:
    pass
print("ended after %.0f s" % (time.monotonic() - t0))
PYEOF
ENDER=$!
sleep 1
req s "$U/batches"; _c=$(csrf)
req s --data-urlencode "csrf=$_c" "$U/logout"
check "logging out ends the open stream (within the session check)" wait_for 45 grep -q 'ended after' "$T/end.out"
kill "$ENDER" 2>/dev/null
curl -s -D "$T/h" -o "$T/b" -H "Cookie: $CK" "$U/batches/$B/events"
check "... and a reconnection is sent to the login" sh -c "[ $(code) = 303 ]"
done_testing
