#!/bin/sh
# tests/integration/dashboard.sh — the staff dashboard against `tayori run`
# on a demo tenant, with curl as the staff: staff accounts made with
# `tayori user add`, two batches submitted from the command line, then:
# a page without a session redirects to the login; a wrong password is
# refused and audited; a good one gives a session cookie (HttpOnly,
# SameSite=Strict, no Secure over plain HTTP on loopback) kept only as a
# hash; the batches list (newest first, filtered by status, searched by
# title) and a batch page with its residents (each view audited); a clerk
# without the approve permission gets a Japanese 403 page and an audit
# record; the submitter's own approval is refused; a POST without the CSRF
# token is refused; a second account approves (audited with it as actor)
# and sends now; logout ends the session on the server (the old cookie no
# longer works); a one-time password sends the staff member to the
# password page first; lockout after repeated failures per account and
# per IP, audited; the idle time-out ([portal] staff_idle = 1m here)
# ends a session left alone and not one in use, the absolute limit
# ([portal] session_ttl = 2m) one in use; times in JST.
#
# Standards: RFC 6265 (cookies), RFC 9110 (303, 403).
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
ME=$(id -un)
need_tools curl
demo_ports 11 20000

check "init a demo tenant" demo_tenant \
	"s/^#staff_idle = .*/staff_idle = 1m/" "s/^#session_ttl = .*/session_ttl = 2m/"
check "a one-minute idle time-out and a two-minute limit are set" sh -c \
	"grep -q '^staff_idle = 1m' '$D/tayori.conf' && grep -q '^session_ttl = 2m' '$D/tayori.conf'"
export PW=a-long-enough-password
check "an approver" staff_user shonin approver --name '承認 花子'
check "a clerk" staff_user kakari clerk
check "the submitter, an approver too" "$TAYORI" user add "$ME" -d "$D" --email me@ward.example.jp --role approver --password-env PW
check "a clerk without the view permission" staff_without minai view
staff_otp shinjin clerk
check "a clerk with a one-time password" test -n "$OTP"

corpus c 3
corpus c55 55
# submit FOLDER TITLE [CORPUS]
submit() {
	mkdir -p "$T/$1"; cp "$T/${3:-c}/corpus.csv" "$T/${3:-c}/corpus.pdf" "$T/$1/"
	printf '件名: %s\n\n区民の皆さまへ。\n' "$2" >"$T/$1/message.txt"
	"$TAYORI" submit -d "$D" --json --again "$T/$1" >"$T/$1.json" 2>"$T/$1.err" || { sed 's/^/#   /' "$T/$1.err"; return 1; }
}
check "a first batch" submit b1 "住民税決定通知"
B1=$(jval "$T/b1.json" 'd["batch"]')
check "a second batch" submit b2 "保険料のお知らせ<b>"
B2=$(jval "$T/b2.json" 'd["batch"]')
check "a batch of 55 residents" submit b3 "児童手当のお知らせ" c55
B3=$(jval "$T/b3.json" 'd["batch"]')
SHONIN=$(uid shonin); KAKARI=$(uid kakari); MEID=$(uid "$ME")

demo_run

# login NAME LOGIN PASSWORD [IP [PROTO]]: the login form, then the POST
# (from IP, over PROTO as a local TLS proxy would say)
login() {
	_ip=${4:-127.0.0.1}; _proto=${5:-http}
	req "$1" -H "X-Forwarded-For: $_ip" -H "X-Forwarded-Proto: $_proto" "$U/login"
	_c=$(csrf)
	req "$1" -H "X-Forwarded-For: $_ip" -H "X-Forwarded-Proto: $_proto" --data-urlencode "csrf=$_c" \
		--data-urlencode "login=$2" --data-urlencode "password=$3" "$U/login"
}

# --- before logging in -------------------------------------------------------------
req anon "$U/batches"
check "a page without a session redirects to the login" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
req anon "$U/batches/$B1"
check "... a batch page too" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
req anon "$U/"
check "the front page without a session is the login form" sh -c "[ $(code) = 200 ] && grep -q 'action=\"/login\"' '$T/b'"
req anon "$U/login"
check "the login page: Japanese, labelled fields, a CSRF token" sh -c \
	"grep -q 'lang=\"ja\"' '$T/b' && grep -q '<label for=\"login\">ユーザーID' '$T/b' && grep -q '<label for=\"password\">' '$T/b' && [ -n '$(csrf)' ]"
check "... no script, no external resource" sh -c "! grep -qiE '<script|https?://' '$T/b'"

# --- logging in ----------------------------------------------------------------
login s1 shonin wrong-password-here
check "a wrong password: the login page again with an error" sh -c \
	"[ $(code) = 200 ] && grep -q 'ユーザーIDまたはパスワードが違います' '$T/b' && ! grep -qi 'set-cookie: tayori_ss' '$T/h'"
check "... audited" has_audit staff.login_fail "staff:$SHONIN" "staff:$SHONIN" reason=password
login s1 daremo wrong-password-here
check "an unknown user ID gets the same page" sh -c "[ $(code) = 200 ] && grep -q 'ユーザーIDまたはパスワードが違います' '$T/b'"
check "... audited without a name" has_audit staff.login_fail unknown "" reason=unknown
login s1 shonin "$PW"
check "the right password: 303 to the batches" sh -c "[ $(code) = 303 ] && [ '$(location)' = /batches ]"
grep -i '^set-cookie: tayori_ss=' "$T/h" | tr -d '\r' >"$T/cookie"
check "the session cookie is HttpOnly and SameSite=Strict" sh -c \
	"grep -q 'HttpOnly' '$T/cookie' && grep -q 'SameSite=Strict' '$T/cookie' && grep -q 'Path=/' '$T/cookie'"
check "... without Secure over plain HTTP, and no lasting Max-Age" sh -c "! grep -qiE 'Secure|Max-Age' '$T/cookie'"
req s1 "$U/"
check "... the front page with a session leads to the batches" sh -c "[ $(code) = 303 ] && [ '$(location)' = /batches ]"
TOKEN=$(sed -n 's/^[Ss]et-[Cc]ookie: tayori_ss=\([^;]*\).*/\1/p' "$T/cookie")
check "... audited" has_audit staff.login "staff:$SHONIN" "staff:$SHONIN" ""
login tls shonin "$PW" 127.0.0.1 https
check "under TLS (a local TLS proxy) the session cookie is Secure too" sh -c \
	"[ $(code) = 303 ] && grep -i '^set-cookie: tayori_ss=' '$T/h' | grep -q 'Secure'"
check "the token is not in the store files" sh -c "! grep -rqa '$TOKEN' '$D/db'"

# --- the batches -----------------------------------------------------------------
req s1 "$U/batches"
before() { $PY -c 'import sys; t = open(sys.argv[1], encoding="utf-8").read(); sys.exit(0 if t.index(sys.argv[2]) < t.index(sys.argv[3]) else 1)' "$T/b" "$1" "$2"; }
check "the batches list: 200, both batches, newest first" sh -c \
	"[ $(code) = 200 ] && grep -q '住民税決定通知' '$T/b'"
check "... newest first" before ">$B2<" ">$B1<"
check "... their status in Japanese, the title escaped" sh -c \
	"grep -q '承認待ち' '$T/b' && grep -q '保険料のお知らせ&lt;b&gt;' '$T/b' && ! grep -q '保険料のお知らせ<b>' '$T/b'"
check "... the header: who is logged in and a logout button" sh -c \
	"grep -q '承認 花子' '$T/b' && grep -q 'action=\"/logout\"' '$T/b'"
check "... no script, no external resource" sh -c "! grep -qiE '<script|https?://' '$T/b'"
req s1 -G --data-urlencode "q=住民税" "$U/batches"
check "search by title" sh -c "grep -q '>$B1<' '$T/b' && ! grep -q '>$B2<' '$T/b'"
req s1 "$U/batches?status=sent"
check "filter by status" sh -c "grep -q '該当するバッチはありません' '$T/b' && ! grep -q '>$B1<' '$T/b'"
req s1 "$U/batches/$B1"
check "a batch page: its residents and their state" sh -c \
	"[ $(code) = 200 ] && grep -q '区民ごとの状況' '$T/b' && [ \$(grep -c '<tr><td>[0-9]' '$T/b') -eq 3 ]"
check "... not sent yet" sh -c "[ \$(grep -c '<td><span class=\"state\">未送信</span></td>' '$T/b') -eq 3 ]"
check "... the time in JST" grep -q 'JST' "$T/b"
check "... the approve action for an approver" grep -q "href=\"/approve/$B1\"" "$T/b"
check "... each view of the residents audited" has_audit batch.view_residents "staff:$SHONIN" "batch:$B1" "page=1"
rows() { grep -c '<tr><td>[0-9]' "$T/b"; }
req s1 "$U/batches/$B3"
check "a batch of 55: the first page holds 50 residents and a link to the next" sh -c \
	"[ $(rows) -eq 50 ] && grep -q '1 / 2 ページ' '$T/b' && grep -q 'href=\"/batches/$B3?page=2\">次のページ' '$T/b'"
req s1 "$U/batches/$B3?page=2"
check "... the second page the other 5, and a link back" sh -c \
	"[ $(rows) -eq 5 ] && grep -q '2 / 2 ページ' '$T/b' && grep -q 'href=\"/batches/$B3?page=1\">前のページ' '$T/b'"
check "... each page's view audited" has_audit batch.view_residents "staff:$SHONIN" "batch:$B3" "page=2 rows=5"
req s1 "$U/batches/$B3?page=99"
check "... a page past the end shows the last" sh -c "[ $(rows) -eq 5 ]"
req s1 "$U/batches/99999"
check "an unknown batch: 404 with a Japanese page" sh -c "[ $(code) = 404 ] && grep -q 'バッチが見つかりません' '$T/b'"

# --- permissions ----------------------------------------------------------------
login k1 kakari "$PW"
check "the clerk logs in" sh -c "[ $(code) = 303 ]"
req k1 "$U/batches/$B1"
check "... sees the batch, without the approve action" sh -c "[ $(code) = 200 ] && ! grep -q 'href=\"/approve/' '$T/b'"
req k1 "$U/approve/$B1"
check "the clerk's approval page: 403, in Japanese" sh -c "[ $(code) = 403 ] && grep -q '権限がありません' '$T/b' && grep -q '承認の権限がない' '$T/b'"
C=$(csrf)
req k1 --data-urlencode "csrf=$C" "$U/approve/$B1"
check "the clerk's approval: 403" sh -c "[ $(code) = 403 ] && grep -q '権限がありません' '$T/b'"
check "... audited" has_audit staff.refused "staff:$KAKARI" "batch:$B1" "need=approve method=POST"
check "... the batch still awaits approval" test "$(status "$B1")" = awaiting_approval

login v1 minai "$PW"
req v1 "$U/batches"
check "without the view permission the batches list is refused (403, in Japanese)" sh -c \
	"[ $(code) = 403 ] && grep -q '閲覧の権限がない' '$T/b' && ! grep -q '住民税決定通知' '$T/b'"
req v1 "$U/batches/$B1"
check "... and a batch page, its residents not shown" sh -c "[ $(code) = 403 ] && ! grep -q '00010000' '$T/b'"
check "... audited" has_audit staff.refused "staff:$(uid minai)" "" "need=view method=GET"
check "... the batch page's refusal names the batch" has_audit staff.refused "staff:$(uid minai)" "batch:$B1" "need=view method=GET"

# --- four-eyes approval ----------------------------------------------------------
login m1 "$ME" "$PW"
req m1 "$U/approve/$B1"
C=$(csrf)
check "the submitter sees the confirmation" sh -c "[ $(code) = 200 ] && grep -q '承認の確認' '$T/b'"
req m1 --data-urlencode "csrf=$C" "$U/approve/$B1"
check "the submitter's own approval is refused (403, why)" sh -c "[ $(code) = 403 ] && grep -q '提出した本人は承認できません' '$T/b'"
check "... audited" has_audit batch.approve_refused "staff:$MEID" "batch:$B1" reason=four_eyes
check "... the batch still awaits approval" test "$(status "$B1")" = awaiting_approval
req s1 "$U/approve/$B1"
C=$(csrf)
req s1 "$U/approve/$B1" -d x=1
check "an approval without the CSRF token is refused (403, in Japanese)" sh -c "[ $(code) = 403 ] && grep -q '送信を受け付けられません' '$T/b'"
check "... audited" has_audit staff.csrf_refused "staff:$SHONIN" "batch:$B1" approve
req s1 --data-urlencode "csrf=not-the-token-at-all-not-the-token-at-all-x" "$U/approve/$B1"
check "... and with a wrong one" sh -c "[ $(code) = 403 ]"
check "... the batch still awaits approval" test "$(status "$B1")" = awaiting_approval
req s1 --data-urlencode "csrf=$C" "$U/approve/$B1"
check "a second account approves: 303 to the batch" sh -c "[ $(code) = 303 ] && [ '$(location)' = /batches/$B1 ]"
check "... the batch is approved" test "$(status "$B1")" = approved
check "... audited with the approver as actor and four-eyes" has_audit batch.approve "staff:$SHONIN" "batch:$B1" "submitter=cli:$ME four_eyes=yes"
req s1 --data-urlencode "csrf=$C" "$U/approve/$B1"
check "approving it again: refused as no longer awaiting" sh -c "[ $(code) = 409 ] && grep -q '承認待ちではありません' '$T/b'"
req k1 "$U/send/$B1"
check "the clerk may not send (403)" sh -c "[ $(code) = 403 ]"
req s1 "$U/batches/$B1"
check "the batch page offers sending now" grep -q "href=\"/send/$B1\"" "$T/b"
req s1 --data-urlencode "csrf=$C" "$U/send/$B1"
check "send now: 303 to the batch" sh -c "[ $(code) = 303 ]"
check "... the batch is sending (or already sent: the mailer is quick)" sh -c "case $(status "$B1") in sending|sent) true;; *) false;; esac"
check "... audited" has_audit batch.send "staff:$SHONIN" "batch:$B1" "to=sending"
req s1 "$U/batches/$B1"
check "... its page: sending or sent, no resident still unsent" sh -c \
	"grep -qE '<dd>(送信中|送信済み)</dd>' '$T/b' && ! grep -q '<span class=\"state\">未送信</span>' '$T/b'"

# --- logout ------------------------------------------------------------------------
req s1 "$U/batches"
C=$(csrf)
req s1 --data-urlencode "csrf=$C" "$U/logout"
check "logout: 303 to the login, the cookie cleared" sh -c \
	"[ $(code) = 303 ] && [ '$(location)' = /login ] && grep -qi 'set-cookie: tayori_ss=;.*Max-Age=0' '$T/h'"
curl -s -D "$T/h" -o "$T/b" -H "Cookie: tayori_ss=$TOKEN" "$U/batches"
check "... the old cookie no longer works (ended on the server)" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
check "... audited" has_audit staff.logout "staff:$SHONIN" "" ""

# --- a one-time password -----------------------------------------------------------
login n1 shinjin "$OTP"
check "a one-time password: on to the password page" sh -c "[ $(code) = 303 ] && [ '$(location)' = /password ]"
req n1 "$U/batches"
check "... every other page leads there too" sh -c "[ $(code) = 303 ] && [ '$(location)' = /password ]"
req n1 "$U/password"
check "... which says the password must be changed" sh -c "[ $(code) = 200 ] && grep -q '一時パスワード' '$T/b'"

# --- lockout -----------------------------------------------------------------------
for i in 1 2 3 4 5; do login l1 kakari "wrong-password-$i" 198.51.100.$i; done
login l1 kakari "$PW" 198.51.100.9
check "five failures lock the account: even the right password is refused" sh -c \
	"[ $(code) = 429 ] && grep -q 'しばらくログインできません' '$T/b' && ! grep -qi 'set-cookie: tayori_ss' '$T/h'"
check "... the lockout audited" has_audit staff.lockout "staff:$KAKARI" "staff:$KAKARI" scope=account
login l1 shonin "$PW" 198.51.100.9
check "... another account logs in from there" sh -c "[ $(code) = 303 ]"
i=0; while [ $i -lt 20 ]; do login l2 "nobody$i" wrong-password 203.0.113.5; i=$((i + 1)); done
login l2 shonin "$PW" 203.0.113.5
check "twenty failures from one IP lock it" sh -c "[ $(code) = 429 ]"
check "... the lockout audited" has_audit staff.lockout system "" scope=ip
login l2 shonin "$PW" 203.0.113.6
check "... another IP still logs in" sh -c "[ $(code) = 303 ]"

# --- the idle time-out ----------------------------------------------------------
# Two sessions made here, so that a slow machine running the checks above
# cannot leave the one "in use" idle for a minute: one left alone, one used
# every few seconds.
login idle shonin "$PW"
IDLE_AT=$(date +%s)
login alive shonin "$PW"   # kakari is locked out by now
ALIVE_AT=$(date +%s)
req alive "$U/batches"
check "two sessions for the idle time-out" sh -c "[ $(code) = 200 ]"
while [ $(($(date +%s) - IDLE_AT)) -lt 63 ]; do
	req alive "$U/batches"
	[ "$(code)" = 200 ] || break
	sleep 5
done
check "a session in use lives on past the idle time-out" sh -c "[ $(code) = 200 ]"
req idle "$U/batches"
check "a session left alone for the idle time-out ends: back to the login" sh -c \
	"[ $(code) = 303 ] && [ '$(location)' = /login ]"
# The absolute limit ([portal] session_ttl) ends even a session in use.
while [ $(($(date +%s) - ALIVE_AT)) -lt 150 ]; do
	req alive "$U/batches"
	[ "$(code)" = 200 ] || break
	sleep 3
done
AGE=$(($(date +%s) - ALIVE_AT))
check "a session in use ends at the absolute limit (after ${AGE}s of 120)" sh -c \
	"[ $(code) = 303 ] && [ '$(location)' = /login ] && [ $AGE -ge 119 ] && [ $AGE -le 145 ]"

check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
