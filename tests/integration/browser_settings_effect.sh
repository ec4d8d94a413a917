#!/bin/sh
# tests/integration/browser_settings_effect.sh — the pages the ward's
# settings changed, in Debian's headless Chromium with axe-core (zero
# violations, no sideways scrolling at 360 px, no CSP error; screenshots in
# build/artefacts/screenshots): the resident front page with the ward's
# description (phone and desktop); the upload form with the choice of
# notice types; an upload the gateway refuses, its reason in Japanese with
# the English folded away (opened, still clean); the batch list filtered by
# a notice type; a batch page with its type and default deadline.
. "$(dirname "$0")/lib.sh"
browser_setup browser_settings_effect
BROWSER_TIMEOUT_MS=${BROWSER_TIMEOUT_MS:-60000}; export BROWSER_TIMEOUT_MS

D=$T/var
P1=$((20000 + ($$ + 59) % 12000)); P2=$((P1 + 1))
R=http://127.0.0.1:$P1
U=http://127.0.0.1:$P2
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s|^#public_url = .*|public_url = http://127.0.0.1:$P1|" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
check "an administrator" "$TAYORI" user add kanri -d "$D" --email kanri@ward.example.jp --role admin --password-env PW
check "a clerk" "$TAYORI" user add kakari -d "$D" --email kakari@ward.example.jp --role clerk --password-env PW
check "an approver" "$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir -p "$T/files"
iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | cut -d, -f1,2 >"$T/files/宛先一覧.csv"
cp "$T/c/corpus.pdf" "$T/files/住民税決定通知書.pdf"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill $SUP"
check "the staff listener answers" wait_for 15 curl -fsS "$U/healthz"

# The settings, saved as an administrator would (curl: the form itself is
# checked by browser_staff_admin and dashboard_settings).
J=$T/jar
curl -s -c "$J" -b "$J" -o "$T/b" "$U/login"
C=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/b" | head -1)
curl -s -c "$J" -b "$J" -o /dev/null --data-urlencode "csrf=$C" --data-urlencode login=kanri --data-urlencode "password=$PW" "$U/login"
curl -s -c "$J" -b "$J" -o "$T/b" "$U/settings"
C=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/b" | head -1)
curl -s -c "$J" -b "$J" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$C" \
	--data-urlencode "description=$(printf '区役所からの大切なお知らせを、メールでお届けします。\n紙の通知を希望する方は、区役所の窓口へご連絡ください。')" \
	--data-urlencode "deadline_days=14" \
	--data-urlencode "notice_types=$(printf '住民税決定通知｜地方税法｜紙で送付\n保険料決定通知｜国民健康保険法｜紙で送付')" \
	"$U/settings" >"$T/code"
check "the settings are saved" [ "$(cat "$T/code")" = 303 ]
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 保険料のお知らせ\n種類: 保険料決定通知\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
check "a batch of type 保険料決定通知, sent without its own 期限" sh -c \
	"'$TAYORI' submit -d '$D' --json '$T/b1' >'$T/b1.json' && B=\$(sed -n 's/.*\"batch\": *\\([0-9]*\\).*/\\1/p' '$T/b1.json') && '$TAYORI' batch approve \$B --as shonin -d '$D' && '$TAYORI' batch send \$B --as shonin -d '$D'"
B=$(sed -n 's/.*"batch": *\([0-9]*\).*/\1/p' "$T/b1.json")

browse phone "goto=$R/" "text=このサービスについて" "text=区役所からの大切なお知らせを、メールでお届けします。" \
	page=front-phone || _nfail=$((_nfail + 1))
browse desktop "goto=$R/" "text=紙の通知を希望する方は、区役所の窓口へご連絡ください。" page=front \
	|| _nfail=$((_nfail + 1))
browse desktop "goto=$U/login" "fill=ユーザーID::kakari" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/upload" "text=通知の種類" page=upload \
	"fill=通知名::列の足りない CSV" "upload=#csv::$T/files/宛先一覧.csv" \
	"upload=#pdfs::$T/files/住民税決定通知書.pdf" submit=アップロードする \
	"wait-text=受け付けできませんでした" \
	"text=CSV にメールアドレスの列が見つかりません。" page=refused \
	"click=css=details > summary" "text=no e-mail column found" page=refused-details \
	"goto=$U/batches?type=%E4%BF%9D%E9%99%BA%E6%96%99%E6%B1%BA%E5%AE%9A%E9%80%9A%E7%9F%A5" \
	"text=種類：保険料決定通知" page=batches-by-type \
	"goto=$U/batches/$B" "text=通知の種類" "text=区の既定の日数から" page=batch \
	|| _nfail=$((_nfail + 1))
browse phone "goto=$U/login" "fill=ユーザーID::kakari" "fill=パスワード::$PW" submit=ログイン \
	"goto=$U/upload" page=upload-phone "goto=$U/batches" page=batches-phone || _nfail=$((_nfail + 1))
check "the screenshots are kept" sh -c "ls '$SHOTS'/browser_settings_effect-*-front-phone*.png '$SHOTS'/browser_settings_effect-*-refused-details*.png"
done_testing
