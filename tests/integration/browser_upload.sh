#!/bin/sh
# A batch uploaded from the staff dashboard in a real browser: `tayori run`
# on a demo tenant; in Debian's headless Chromium a clerk opens the upload
# form from the header, fills in the title, the 教示 and the message,
# chooses the recipients CSV and the PDF (playwright's setInputFiles, the
# same as picking them in the file dialog), ticks テスト利用 and uploads;
# the page that waits for the gateway reloads itself (no script) until the
# matching report shows, with the テスト banner, and links to the batch
# page.  A PNG chosen as the PDF is refused with one Japanese sentence.
# The form (desktop and a 360 px phone), the report and the refused form
# are checked with axe-core (zero violations), no sideways scrolling and
# no CSP error; screenshots kept under build/artefacts/screenshots.
# Skipped only when /usr/bin/chromium is missing.
. "$(dirname "$0")/lib.sh"
browser_setup browser_upload
# The gateway signs while the page waits: more than the driver's default.
BROWSER_TIMEOUT_MS=${BROWSER_TIMEOUT_MS:-60000}; export BROWSER_TIMEOUT_MS

D=$T/var
demo_ports 23
demo_tenant >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
export PW=a-long-enough-password
check "a clerk" staff_user kakari clerk --name '係 一郎'
corpus c 3
mkdir -p "$T/files"
cp "$T/c/corpus.csv" "$T/files/宛先一覧.csv"; cp "$T/c/corpus.pdf" "$T/files/住民税決定通知書.pdf"
printf '\211PNG\r\n\032\n\000\000\000\rIHDR' >"$T/files/scan.pdf"
demo_run

browse desktop "goto=$U/login" "fill=ユーザーID::kakari" "fill=パスワード::$PW" submit=ログイン \
	click=アップロード text=一括送信の登録 page=upload \
	"fill=通知名::令和8年度 住民税決定通知（テスト）" \
	"fill=教示::この処分に不服がある場合は、3か月以内に区長に審査請求ができます。" \
	"fill=区民へのメッセージ::区民の皆さまへ。決定通知をお届けします。" \
	"upload=#csv::$T/files/宛先一覧.csv" "upload=#pdfs::$T/files/住民税決定通知書.pdf" \
	tick=テスト利用 submit=アップロードする wait-text=照合できた人数 \
	text=テスト利用のバッチです page=report "click=バッチの画面へ（承認はこちら）" \
	text=区民ごとの状況 || _nfail=$((_nfail + 1))
browse desktop "goto=$U/login" "fill=ユーザーID::kakari" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/upload" "fill=通知名::取り違えた PDF" "upload=#csv::$T/files/宛先一覧.csv" \
	"upload=#pdfs::$T/files/scan.pdf" submit=アップロードする status=400 \
	"text=「通知の PDF」のファイル「scan.pdf」は PDF ではありません" page=refused \
	|| _nfail=$((_nfail + 1))
browse phone "goto=$U/login" "fill=ユーザーID::kakari" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/upload" page=upload-phone || _nfail=$((_nfail + 1))
check "exactly one batch was stored, a test batch" sh -c "'$TAYORI' batch list -d '$D' --json | /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); b = d[\"batches\"] if isinstance(d, dict) else d; sys.exit(0 if len(b) == 1 and b[0][\"test\"] in (True, 1) else 1)'"
check "the screenshots are kept" sh -c "ls '$SHOTS'/browser_upload-*-upload-desktop.png '$SHOTS'/browser_upload-*-report-desktop.png"
done_testing
