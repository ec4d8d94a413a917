#!/bin/sh
# tests/integration/browser_actions.sh — the dashboard's actions, exports,
# settings and help in a real browser (Debian's headless Chromium through
# tests/browser/run.js): an approver reminds the unopened behind the
# confirmation, downloads the residents' CSV (read back with Python's csv
# module: the formula cells neutralised) under its Japanese file name, sees
# the send-at-a-time, approve and unlock pages; an administrator opens the
# settings; everyone reads the manual's pages and the administrator's
# guide, whose screenshots are served.  Every new page is checked with
# axe-core (zero violations), no sideways scrolling and no CSP error;
# screenshots kept under build/artefacts/screenshots (the phone ones are
# what tests/browser/help-shots turns into the manual's pictures).
# Skipped only when /usr/bin/chromium is missing.
. "$(dirname "$0")/lib.sh"
browser_setup browser_actions
PY=/usr/bin/python3

D=$T/var
demo_ports 13
demo_tenant >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
export PW=a-long-enough-password
check "an approver" staff_user shonin approver --name '承認 花子'
check "an administrator" staff_user kanri admin --name '管理 太郎'
corpus c 5
iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | sed 1d >"$T/rows.utf8"
key() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f1; }
addr() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f3; }
# mkbatch FOLDER TITLE [approve]: names a spreadsheet would run as formulas
mkbatch() {
	mkdir -p "$T/$1"; cp "$T/c/corpus.pdf" "$T/$1/"
	{ echo "宛名番号,氏名,メールアドレス,生年月日"
	  echo "$(key 1),=1+2,$(addr 1),1980-04-01"
	  echo "$(key 2),区民 二郎,$(addr 2),1975-12-31"
	  echo "$(key 3),@SUM(A1),$(addr 3),2001-02-03"
	  echo "$(key 4),区民 四郎,,1990-01-01"
	  echo "$(key 5),-5,,1990-01-02"; } >"$T/$1/residents.csv"
	printf '件名: %s\n認証: csv\n認証列: 生年月日\n\n区民の皆さまへ。\n' "$2" >"$T/$1/message.txt"
	"$TAYORI" submit -d "$D" --json "$T/$1" >"$T/$1.json" 2>"$T/$1.err" || { sed 's/^/#   /' "$T/$1.err"; return 1; }
	[ "${3:-}" ] || return 0
	"$TAYORI" batch approve "$(jval "$T/$1.json" 'd["batch"]')" --as shonin -d "$D" >/dev/null 2>&1
}
check "a batch to send" mkbatch b1 "住民税決定通知" approve
B1=$(jval "$T/b1.json" 'd["batch"]')
check "a batch to send later" mkbatch b2 "保険料のお知らせ" approve
B2=$(jval "$T/b2.json" 'd["batch"]')
check "a batch awaiting approval" mkbatch b3 "児童手当のお知らせ"
B3=$(jval "$T/b3.json" 'd["batch"]')
demo_run
check "batch $B1 is sent by the mailer" sh -c "'$TAYORI' batch send '$B1' --as shonin -d '$D' >/dev/null && for i in \$(seq 300); do '$TAYORI' batch show '$B1' -d '$D' --json | grep -q '\"status\":\"sent\"' && exit 0; sleep 0.1; done; exit 1"
# Resident 1 opens and downloads; resident 2 is locked by five wrong birth dates.
cat >"$T/links.py" <<'PYEOF'
import email, email.policy, os, re, sys
d, url, a = sys.argv[1:4]
for n in sorted(os.listdir(d)):
    m = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
    if m["To"].addresses[0].addr_spec == a and m.get_content_type() == "multipart/alternative":
        t = re.findall(re.escape(url) + r"/n/([A-Za-z0-9_-]{22})", m.get_body(preferencelist=("plain",)).get_content())
        if t:
            print(t[0]); break
PYEOF
tok() { $PY "$T/links.py" "$D/mail/outbox/new" "$R" "$(addr "$1")"; }
ropen() {
	curl -s -c "$1" -b "$1" -o "$T/o.html" "$R/n/$2"
	CS=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/o.html" | head -1)
	curl -s -c "$1" -b "$1" -o /dev/null -d "csrf=$CS" "$R/n/$2"
}
answer() { curl -s -c "$1" -b "$1" -o /dev/null -w '%{http_code}' -d "csrf=$CS" --data-urlencode "answer=$3" "$R/n/$2/auth"; }
TOK1=$(tok 1); TOK2=$(tok 2)
ropen "$T/r1" "$TOK1"; answer "$T/r1" "$TOK1" 1980-04-01 >/dev/null; curl -s -b "$T/r1" -o /dev/null "$R/notice/pdf"
ropen "$T/r2" "$TOK2"; for i in 1 2 3 4 5; do answer "$T/r2" "$TOK2" 1999-09-09 >/dev/null; done

LOGIN="goto=$U/login"
# The manual's pictures: the real pages on a phone.
browse phone "$LOGIN" shot=login "fill=ユーザーID::shonin" "fill=パスワード::$PW" submit=ログイン \
	text=住民税決定通知 shot=batches "goto=$U/approve/$B3" text=承認の確認 shot=approve \
	"goto=$U/sendat/$B2" text=送信開始日時 shot=sendat "goto=$U/remind/$B1" text=督促の確認 shot=remind \
	|| _nfail=$((_nfail + 1))
browse desktop "$LOGIN" "fill=ユーザーID::shonin" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/batches/$B1" text=（ロック中） shot=tools || _nfail=$((_nfail + 1))
# The checks: every new page, at a desktop, with axe.
browse desktop "$LOGIN" "fill=ユーザーID::shonin" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/batches/$B1" text=そのほかの操作 text=（ロック中） page=batch-tools \
	click=未開封の区民に督促する… text=督促の確認 "text=まだ開封していない区民 1 人" page=remind-confirm \
	submit=督促を送る text=督促を受け付けました page=reminded \
	"goto=$U/batches/$B1" "download=区民ごとの状況（CSV、Excel で開けます）::$T/dl.csv" \
	"filename=batch-$B1-区民ごとの状況.csv" \
	"goto=$U/unlock/$B1/2" text=ロック解除の確認 page=unlock-confirm \
	"goto=$U/withdraw/$B1" text=元に戻せません page=withdraw-confirm \
	"goto=$U/sendat/$B2" page=sendat "fill=送信開始日時（日本時間）::2030-01-01T09:00" "submit=次へ（確認）" \
	"text=2030-01-01 09:00 JST" page=sendat-confirm \
	"goto=$U/help" text=操作マニュアル page=help "goto=$U/help/login" images page=help-login \
	"goto=$U/help/batches" images page=help-batches "goto=$U/help/submit" page=help-submit \
	"goto=$U/help/approve" images page=help-approve "goto=$U/help/send" images page=help-send \
	"goto=$U/help/remind" images page=help-remind "goto=$U/help/unlock" images page=help-unlock \
	"goto=$U/help/export" images page=help-export "goto=$U/help/paper" page=help-paper \
	"goto=$U/help/admin" text=障害・事故への対応 text=バックアップと復元 page=help-admin \
	|| _nfail=$((_nfail + 1))
browse desktop "$LOGIN" "fill=ユーザーID::kanri" "fill=パスワード::$PW" submit=ログイン \
	click=区の設定 text=問い合わせ先 page=settings "fill=受け取り期限（既定、送信から何日後）::400" \
	submit=保存する text=入力に誤りがあるため page=settings-error || _nfail=$((_nfail + 1))
browse phone "$LOGIN" "fill=ユーザーID::kanri" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/help" page=help-phone "goto=$U/help/admin" page=help-admin-phone \
	"goto=$U/settings" page=settings-phone || _nfail=$((_nfail + 1))
check "the downloaded CSV opens in Python's csv reader, the formula cells neutralised" $PY -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
names = [r[1] for r in rows[1:]]
bad = [v for r in rows[1:] for v in r if v[:1] in "=+-@\t\r" and v]
sys.exit(0 if len(rows) == 6 and not bad and "\x27=1+2" in names and "\x27@SUM(A1)" in names and "\x27-5" in names else 1)' "$T/dl.csv"
check "the reminder was audited" sh -c "'$TAYORI' audit show -d '$D' --json | grep -q '\"batch.remind\"'"
check "the screenshots are kept" sh -c "ls '$SHOTS'/browser_actions-*-remind-confirm-desktop.png '$SHOTS'/browser_actions-*-help-admin-desktop.png"
done_testing
