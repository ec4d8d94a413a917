#!/bin/sh
# The batch page's chart follows live, in a real browser: `tayori run` on a
# demo tenant with a sent batch; in Debian's headless Chromium the batch
# page is open in one browser context (its chart: nobody opened or
# downloaded yet), a resident opens and downloads the notice in another,
# and the chart's figures (its caption, from the same figures as its SVG
# and its table, all drawn by the server) change on the open page without
# a reload, the table the clerk opened staying open; the page then passes axe-core (zero violations), with no
# sideways scrolling and no CSP or script error (the chart is fetched from
# /batches/ID/chart by the portal's own script: nothing inline), on the
# desktop and at a 360 px phone.  Screenshots under build/artefacts.
# Skipped only when /usr/bin/chromium is missing.
. "$(dirname "$0")/lib.sh"
browser_setup browser_dashboard_chart

D=$T/var
P1=$((20000 + ($$ + 41) % 12000)); P2=$((P1 + 1))
U=http://127.0.0.1:$P2
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s|^#public_url = .*|public_url = http://127.0.0.1:$P1|" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
check "an approver" "$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW
check "the submitter" "$TAYORI" user add "$(id -un)" -d "$D" --email me@ward.example.jp --role approver --password-env PW
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 住民税決定通知\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
"$TAYORI" submit -d "$D" --json "$T/b1" >"$T/b1.json" 2>"$T/b1.err" || { fail "submit"; sed 's/^/#   /' "$T/b1.err"; }
B1=$(jval "$T/b1.json" 'd["batch"]')
check "approved by another" "$TAYORI" batch approve "$B1" --as shonin -d "$D"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill $SUP"
check "the staff listener answers" wait_for 15 curl -fsS "$U/healthz"
"$TAYORI" batch send "$B1" --as shonin -d "$D" >/dev/null 2>&1 || fail "batch send"
check "the batch is sent" wait_for 60 sh -c "'$TAYORI' batch show '$B1' -d '$D' --json | grep -q '\"status\":\"sent\"'"
LINK=$(/usr/bin/python3 - "$D/mail/outbox/new" <<'PYEOF'
import email, email.policy, os, re, sys
box = sys.argv[1]
for name in sorted(os.listdir(box)):
    m = email.message_from_bytes(open(os.path.join(box, name), "rb").read(), policy=email.policy.default)
    found = re.findall(r"https?://[^\s]+/n/[A-Za-z0-9_-]+", m.get_body(preferencelist=("plain",)).get_content())
    if found:
        print(found[0]); break
PYEOF
)
check "a resident's link from the mail" test -n "$LINK"
# The chart's caption says the cumulated figures: 0 before, then 1 opened
# and 1 downloaded, appearing on the open page without a reload.
browse desktop "goto=$U/login" "fill=ユーザーID::shonin" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/batches/$B1" text=開封とダウンロードの推移 "text=開封した区民は累計 0 人" \
	"text=ダウンロードした区民は累計 0 人" text=自動で更新しています \
	"click=css=#chart summary" text=期間ごとの開封とダウンロード \
	"watch=開封した区民は累計 1 人" "watch=ダウンロードした区民は累計 1 人" keep=dashboard \
	phone keep=resident "goto=$LINK" click=通知を開く \
	use=dashboard "appears=開封した区民は累計 1 人" \
	use=resident "download=通知書（PDF）をダウンロード::$T/notice.pdf" \
	use=dashboard "appears=ダウンロードした区民は累計 1 人" "notext=ダウンロードした区民は累計 0 人" \
	text=期間ごとの開封とダウンロード \
	page=chart-live || _nfail=$((_nfail + 1))
browse phone "goto=$U/login" "fill=ユーザーID::shonin" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/batches/$B1" "text=ダウンロードした区民は累計 1 人" page=chart-phone || _nfail=$((_nfail + 1))
curl -s -c "$T/jar" -o "$T/b" "$U/login"
curl -s -c "$T/jar" -b "$T/jar" -o /dev/null --data-urlencode "csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/b" | head -1)" \
	--data-urlencode login=shonin --data-urlencode "password=$PW" "$U/login"
curl -s -b "$T/jar" -D "$T/h" -o "$T/chart.html" "$U/batches/$B1/chart"
check "GET /batches/ID/chart: the SVG and its table, no script or inline style" sh -c \
	"grep -q '<svg viewBox=' '$T/chart.html' && grep -q '<caption>' '$T/chart.html' && ! grep -qiE '<script|style=' '$T/chart.html'"
curl -s -D "$T/h" -o /dev/null "$U/batches/$B1/chart"
check "... behind the login (303)" sh -c "sed -n 1p '$T/h' | grep -q ' 303'"
done_testing
