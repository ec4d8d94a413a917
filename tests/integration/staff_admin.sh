#!/bin/sh
# tests/integration/staff_admin.sh — the dashboard's account and audit
# pages against `tayori run` on a demo tenant, with curl as the staff:
# a member's own password change (the strength rule's refusals, a wrong
# current password, the other sessions ended, a one-time password changed
# at first login); the users pages for an admin (add with a one-time
# password shown once, set permissions, reset a password, disable and
# enable; each audited with the admin as actor) and their refusals (no
# permission, no CSRF token, an admin disabling themselves, the last
# manage-users account; each a 403 page and an audit record); the audit
# log page (search by person, action and JST dates, paging; "verify" as
# `tayori audit verify` says); and a lockout that outlives a restart of
# the service.  Audit records are read back with `tayori audit show --json`.
#
# Standards: RFC 6265 (cookies), RFC 9110 (303, 400, 403, 409, 429).
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
need_tools curl
demo_ports 17 20000

check "init a demo tenant" demo_tenant
export PW=the-admins-password-1
check "an admin" staff_user boss admin --name '管理 一郎'
check "an auditor without manage-users" sh -c "'$TAYORI' user add kansa -d '$D' --email kansa@ward.example.jp --role clerk --password-env PW && '$TAYORI' user role kansa --grant audit -d '$D'"
check "an approver" staff_user shonin approver
check "a member without the view permission" staff_without minai view
corpus c 3
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: %s\n\n区民の皆さまへ。\n' "住民税決定通知" >"$T/b1/message.txt"
check "a batch of three residents" sh -c "'$TAYORI' submit -d '$D' --json '$T/b1' >'$T/b1.json'"
B1=$(jval "$T/b1.json" 'd["batch"]')
NAME1=$(iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | sed -n '2p' | cut -d, -f2)
check "the demo's first admin is disabled (boss is the only manager)" "$TAYORI" user disable admin -d "$D"
BOSS=$(uid boss)

start() {
	"$TAYORI" run -d "$D" >>"$T/run.log" 2>&1 &
	SUP=$!
	wait_for 20 curl -fsS "$U/healthz"
}
check "the service starts" start
at_exit 'kill $SUP'

otp() { sed -n 's/.*<code id="otp">\([^<]*\)<.*/\1/p' "$T/b"; }
login() {
	_ip=${4:-127.0.0.1}
	req "$1" -H "X-Forwarded-For: $_ip" "$U/login"
	_c=$(csrf)
	req "$1" -H "X-Forwarded-For: $_ip" --data-urlencode "csrf=$_c" \
		--data-urlencode "login=$2" --data-urlencode "password=$3" "$U/login"
}
# post NAME PATH FIELD=VALUE...: a form posted with NAME's CSRF token
# (the double-submit cookie, as the form's hidden field holds it)
post() {
	_n=$1; _p=$2; shift 2
	[ -s "$T/jar.$_n" ] || req "$_n" "$U/login"
	_c=$(awk '$6 == "csrf" { print $7 }' "$T/jar.$_n" | tail -1)
	_k=$#
	while [ "$_k" -gt 0 ]; do set -- "$@" --data-urlencode "$1"; shift; _k=$((_k - 1)); done
	req "$_n" --data-urlencode "csrf=$_c" "$@" "$U$_p"
}

# --- the users pages ---------------------------------------------------------
login a boss "$PW"
req a "$U/batches"
check "an admin's header links the users and audit pages" sh -c \
	"grep -q 'href=\"/users\"' '$T/b' && grep -q 'href=\"/audit\"' '$T/b'"
req a "$U/users"
check "the users list: every account, in Japanese" sh -c \
	"[ $(code) = 200 ] && grep -q '>boss<' '$T/b' && grep -q '>shonin<' '$T/b' && grep -q '承認者' '$T/b'"
req a "$U/users/new"
check "the add form: labelled fields and permission checkboxes" sh -c \
	"grep -q '<label for=\"login\">' '$T/b' && grep -q '<label for=\"perm-approve\">承認' '$T/b' && grep -q '<legend>権限' '$T/b'"
post a /users/new login=kakari "name=係 二郎" email=kakari@ward.example.jp role=clerk
OTP=$(otp)
check "adding a clerk shows a one-time password once" sh -c "[ $(code) = 200 ] && [ -n '$OTP' ]"
KAKARI=$(uid kakari)
check "... the account exists, a clerk with must_change" sh -c \
	"'$TAYORI' user list -d '$D' --json | grep -q '\"login\":\"kakari\"'"
check "... audited with the admin as actor" has_audit staff.add "staff:$BOSS" "staff:$KAKARI" "role=clerk perms=view,submit,remind"
req a "$U/users"
check "... the list shows it with its one-time password pending, not the password" sh -c \
	"grep -q '一時パスワード' '$T/b' && ! grep -q '$OTP' '$T/b'"
post a /users/new login=kakari name=x email=other@ward.example.jp role=clerk
check "a taken login is refused (409) with the form again" sh -c "[ $(code) = 409 ] && grep -q 'すでに使われています' '$T/b'"
post a /users/new login=Bad/Login name=x email=x@ward.example.jp role=clerk
check "a malformed login is refused (400)" sh -c "[ $(code) = 400 ] && grep -q 'role=\"alert\"' '$T/b'"
post a /users/new login=hoka name=x email=hoka@ward.example.jp role=clerk perm=view perm=export
check "individual permissions when ticked" sh -c "[ $(code) = 200 ]"
check "... audited as ticked" has_audit staff.add "staff:$BOSS" "staff:$(uid hoka)" "perms=view,export"

# --- first login with the one-time password -------------------------------
login k kakari "$OTP"
check "the clerk's first login goes to the password page" sh -c "[ $(code) = 303 ] && [ '$(location)' = /password ]"
login k2 kakari "$OTP"
req k "$U/batches"
check "... and so does every other page" sh -c "[ $(code) = 303 ] && [ '$(location)' = /password ]"
req k "$U/password"
check "the password page: the one-time password must be changed, three labelled fields" sh -c \
	"grep -q '一時パスワードのまま' '$T/b' && grep -q '<label for=\"current\">' '$T/b' && grep -q '<label for=\"password2\">' '$T/b'"
NEWPW=kawa-no-nagare-2026
post k /password "current=$OTP" "password=$NEWPW" "password2=$NEWPW-x"
check "two different new passwords: refused (400)" sh -c "[ $(code) = 400 ] && grep -q '2回とも同じではありません' '$T/b'"
post k /password "current=$OTP" password=short-pw1 password2=short-pw1
check "a short one: refused" sh -c "[ $(code) = 400 ] && grep -q '短すぎます' '$T/b'"
post k /password "current=$OTP" password=kakari-is-my-name password2=kakari-is-my-name
check "one holding the login name: refused" sh -c "[ $(code) = 400 ] && grep -q 'ユーザーIDを含めない' '$T/b'"
post k /password "current=$OTP" "password=$OTP" "password2=$OTP"
check "the old one again: refused" sh -c "[ $(code) = 400 ] && grep -q '今のパスワードと同じ' '$T/b'"
post k /password current=not-the-password "password=$NEWPW" "password2=$NEWPW"
check "a wrong current password: refused" sh -c "[ $(code) = 400 ] && grep -q '今のパスワードが違います' '$T/b'"
for why in mismatch weak current; do
	check "... reason=$why audited" has_audit staff.passwd_refused "staff:$KAKARI" "staff:$KAKARI" "reason=$why"
done
post k /password "current=$OTP" "password=$NEWPW" "password2=$NEWPW"
check "a good new password (a passphrase of words would do too): changed" sh -c "[ $(code) = 200 ] && grep -q 'パスワードを変更しました' '$T/b'"
check "... audited" has_audit staff.passwd "staff:$KAKARI" "staff:$KAKARI" "self=yes was_one_time=yes"
check "... the other session's end audited" has_audit staff.sessions_end "staff:$KAKARI" "staff:$KAKARI" "ended=1 reason=passwd"
req k "$U/batches"
check "this session goes on, no longer sent to the password page" sh -c "[ $(code) = 200 ]"
req k2 "$U/batches"
check "the member's other session has ended" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
login k3 kakari "$OTP"
check "the one-time password no longer works" sh -c "[ $(code) = 200 ] && grep -q 'パスワードが違います' '$T/b'"
login k3 kakari "$NEWPW"
check "the new one does" sh -c "[ $(code) = 303 ] && [ '$(location)' = /batches ]"
post k3 /password "current=$NEWPW" "password=aka ao kiro" "password2=aka ao kiro"
check "three words under 12 characters are refused (a passphrase needs four)" sh -c "[ $(code) = 400 ] && grep -q '4語以上' '$T/b'"

# --- refusals on the users pages ---------------------------------------------
req k "$U/users"
check "a clerk's users page: 403 in Japanese" sh -c "[ $(code) = 403 ] && grep -q 'ユーザー管理の権限がない' '$T/b'"
check "... audited" has_audit staff.refused "staff:$KAKARI" "" "need=manage-users method=GET"
post k "/users/$KAKARI/perms" role=admin apply=role
check "a clerk granting themselves admin: 403" sh -c "[ $(code) = 403 ]"
check "... audited with the account" has_audit staff.refused "staff:$KAKARI" "staff:$KAKARI" "need=manage-users method=POST"
req a "$U/users/$KAKARI/disable" --data-urlencode "csrf=wrong-token-wrong-token-wrong-token-wrong-t"
check "a change without the right CSRF token: 403" sh -c "[ $(code) = 403 ] && grep -q '送信を受け付けられません' '$T/b'"
check "... audited" has_audit staff.csrf_refused "staff:$BOSS" "staff:$KAKARI" users
req a "$U/users/$BOSS/disable"
check "the confirmation page before disabling" sh -c "[ $(code) = 200 ] && grep -q 'アカウント停止の確認' '$T/b'"
post a "/users/$BOSS/disable"
check "an admin disabling themselves: 403 saying why" sh -c "[ $(code) = 403 ] && grep -q '自分のアカウントは停止できません' '$T/b'"
check "... audited" has_audit staff.users_refused "staff:$BOSS" "staff:$BOSS" reason=self_disable
post a "/users/$BOSS/perms" role=admin perm=view perm=audit apply=perms
check "the only manage-users account giving it up: 403" sh -c "[ $(code) = 403 ] && grep -q 'ユーザー管理の権限をもつ有効なアカウントがなくなる' '$T/b'"
check "... audited" has_audit staff.users_refused "staff:$BOSS" "staff:$BOSS" reason=last_manager
check "... the admin keeps it" sh -c "'$TAYORI' user list -d '$D' --json | $PY -c 'import json,sys; u=[x for x in json.load(sys.stdin)[\"users\"] if x[\"login\"]==\"boss\"][0]; sys.exit(0 if \"manage-users\" in u[\"permissions\"] else 1)'"

# --- changes ---------------------------------------------------------------------
post a "/users/$KAKARI/perms" role=clerk perm=view perm=audit apply=perms
check "set the clerk's permissions: 303 back to the account" sh -c "[ $(code) = 303 ] && [ '$(location)' = /users/$KAKARI ]"
check "... audited" has_audit staff.permissions "staff:$BOSS" "staff:$KAKARI" "role=clerk perms=view,audit"
post a "/users/$(uid shonin)/perms" role=approver apply=role
check "a role's preset" has_audit staff.permissions "staff:$BOSS" "staff:$(uid shonin)" "role=approver perms=view,submit,approve,send,remind,export"
login s shonin "$PW"
check "... the member's password still works after the change" sh -c "[ $(code) = 303 ]"
req a "$U/users/$KAKARI/reset"
check "the confirmation page before a reset" sh -c "[ $(code) = 200 ] && grep -q 'パスワード再設定の確認' '$T/b'"
post a "/users/$KAKARI/reset"
OTP2=$(otp)
check "reset: a new one-time password shown once" sh -c "[ $(code) = 200 ] && [ -n '$OTP2' ] && [ '$OTP2' != '$OTP' ]"
check "... audited" has_audit staff.passwd "staff:$BOSS" "staff:$KAKARI" "one-time reset=admin"
check "... the member's sessions ended, audited" has_audit staff.sessions_end "staff:$BOSS" "staff:$KAKARI" "ended=2 reason=reset"
req k "$U/batches"
check "... the clerk's session has ended" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
login k kakari "$NEWPW"
check "... the old password no longer works" sh -c "[ $(code) = 200 ]"
login k kakari "$OTP2"
check "... the new one-time password leads to the password page" sh -c "[ $(code) = 303 ] && [ '$(location)' = /password ]"
post a "/users/$KAKARI/disable"
check "disable: 303" sh -c "[ $(code) = 303 ]"
check "... audited" has_audit staff.disable "staff:$BOSS" "staff:$KAKARI" ""
req k "$U/password"
check "... the disabled member's session has ended" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
login k kakari "$OTP2"
check "... and cannot log in" sh -c "[ $(code) = 200 ] && grep -q '使えないアカウント' '$T/b'"
post a "/users/$KAKARI/enable"
check "enable: audited" has_audit staff.enable "staff:$BOSS" "staff:$KAKARI" ""
login k kakari "$OTP2"
check "... logs in again" sh -c "[ $(code) = 303 ]"

# --- the audit log page --------------------------------------------------------
req k "$U/audit"
check "the audit page needs the audit permission (must_change first here)" sh -c "[ $(code) = 303 ]"
login au kansa "$PW"
req au "$U/audit"
check "the audit page: 200, the newest first, the time in JST" sh -c \
	"[ $(code) = 200 ] && grep -q 'JST' '$T/b' && grep -q '<caption>監査ログの記録' '$T/b'"
check "... no script, no external resource" sh -c "! grep -qiE '<script|https?://' '$T/b'"
req au -G --data-urlencode person=boss --data-urlencode action=staff.disable "$U/audit"
check "search by person (a login) and action" sh -c \
	"grep -q '1 件' '$T/b' && grep -q '<td>staff.disable</td>' '$T/b' && ! grep -q '<td>staff.enable</td>' '$T/b'"
TODAY=$(TZ=Asia/Tokyo date +%F)
req au -G --data-urlencode action=staff.login --data-urlencode "from=$TODAY" --data-urlencode "to=$TODAY" "$U/audit"
check "search by JST dates: today's logins" sh -c "grep -q '<td>staff.login</td>' '$T/b' && ! grep -q '<td>staff.add</td>' '$T/b'"
req au -G --data-urlencode "from=2001-01-01" --data-urlencode "to=2001-01-02" "$U/audit"
check "... a range with nothing: 0 records" grep -q '0 件' "$T/b"
req au -G --data-urlencode "from=2026-02-30" "$U/audit"
check "... a date that is not a day: said so" sh -c "grep -q 'role=\"alert\"' '$T/b' && grep -q '期間の始め' '$T/b'"
i=0; while [ $i -lt 30 ]; do req au "$U/users/new"; i=$((i + 1)); done
req au "$U/audit"
OLDER=$(sed -n 's/.*before=\([0-9]*\)">古い記録へ.*/\1/p' "$T/b")
check "paging: 50 a page with a link to older records" sh -c \
	"[ \$(grep -c '^<tr><td>[0-9]' '$T/b') -eq 50 ] && [ -n '$OLDER' ]"
req au "$U/audit?before=$OLDER"
check "... page 2 links back" grep -q '">最新の記録へ' "$T/b"
post au /audit/verify
check "verify the chain: intact, in Japanese" sh -c "[ $(code) = 200 ] && grep -q '監査ログは改ざんされていません' '$T/b'"
check "... audited" has_audit audit.verify "staff:$(uid kansa)" "" "intact=yes"
check_status 0 "... and tayori audit verify agrees" "$TAYORI" audit verify -d "$D"
req a "$U/audit" >/dev/null; post a /audit/verify
check "an admin has the audit permission too" sh -c "[ $(code) = 200 ]"
post k3 /audit/verify
check "a member without it: 403" sh -c "[ $(code) = 303 ] || [ $(code) = 403 ]"

# --- a resident's details ------------------------------------------------------
req a "$U/batches/$B1"
check "a batch page links each resident's details" grep -q "href=\"/residents/$B1/1\"" "$T/b"
req a "$U/residents/$B1/1"
check "a resident's details: the key, the name, the events heading" sh -c \
	"[ $(code) = 200 ] && grep -q '区民の詳細' '$T/b' && grep -qF '$NAME1' '$T/b' && grep -q 'できごと' '$T/b'"
check "... the view audited with the batch and row, not the name" has_audit resident.view "staff:$BOSS" "batch:$B1" "seq=1"
check "... no name in the audit log" sh -c "! grep -qF '$NAME1' '$T/audit.json'"
req a "$U/residents/$B1/99"
check "a row that does not exist: 404" sh -c "[ $(code) = 404 ] && grep -q '区民が見つかりません' '$T/b'"
login v minai "$PW"
req v "$U/residents/$B1/1"
check "without the view permission: 403, no personal data" sh -c \
	"[ $(code) = 403 ] && grep -q '閲覧の権限がない' '$T/b' && ! grep -qF '$NAME1' '$T/b'"
check "... audited with the batch" has_audit staff.refused "staff:$(uid minai)" "batch:$B1" "need=view method=GET"

# --- lockout across a restart --------------------------------------------------
for i in 1 2 3 4 5; do login l shonin "wrong-password-$i" 198.51.100.$i; done
login l shonin "$PW" 198.51.100.9
check "five failures lock the account" sh -c "[ $(code) = 429 ]"
check "... the lockout audited" has_audit staff.lockout "staff:$(uid shonin)" "staff:$(uid shonin)" scope=account
kill $SUP; wait $SUP 2>/dev/null
check "the service restarts" start
login l shonin "$PW" 198.51.100.9
check "after a restart the account is still locked" sh -c "[ $(code) = 429 ] && grep -q 'しばらくログインできません' '$T/b'"
check "... the refused try audited" has_audit staff.login_locked "" "" ""
login l boss "$PW" 198.51.100.9
check "... another account still logs in" sh -c "[ $(code) = 303 ]"
check "the counters hold no login or address in the store files" sh -c "! grep -rqa 'a:shonin' '$D/db'"

check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
