#!/bin/sh
# The dashboard's account and audit pages in a real browser: `tayori run`
# on a demo tenant; in Debian's headless Chromium a new clerk logs in with
# the one-time password `tayori user add` printed and is made to change it
# before anything else; an admin adds a clerk (the one-time password shown
# once), opens the account, resets its password behind a confirmation,
# is refused disabling themselves (403), searches the audit log and
# verifies its chain from the page; a resident's details page.  Every new
# page is checked with axe-core (zero violations), no sideways scrolling
# and no CSP error, at 1280x800 and the password and audit pages at a
# 360 px phone too; screenshots kept under build/artefacts/screenshots.
# Skipped only when /usr/bin/chromium is missing.
. "$(dirname "$0")/lib.sh"
browser_setup browser_staff_admin

D=$T/var
demo_ports 23
demo_tenant >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
export PW=the-admins-password-1
check "an admin" staff_user boss admin --name '管理 一郎'
staff_otp shinjin clerk --name '新人 三郎'
check "a clerk with a one-time password" test -n "$OTP"
BOSS=$(uid boss)
corpus c 3
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 住民税決定通知\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
"$TAYORI" submit -d "$D" --json "$T/b1" >"$T/b1.json" 2>"$T/b1.err" || { fail "submit"; sed 's/^/#   /' "$T/b1.err"; }
B1=$(jval "$T/b1.json" 'd["batch"]')
demo_run 20

NEWPW=kawa-no-nagare-2026
# 1. First login with a one-time password: the password page first.
browse phone "goto=$U/login" "fill=#login::shinjin" "fill=#password::$OTP" submit=ログイン \
	text=一時パスワードのまま page=password-first "goto=$U/batches" text=一時パスワードのまま \
	"fill=#current::$OTP" "fill=#password::short" "fill=#password2::short" \
	submit=パスワードを変更する status=400 text=短すぎます page=password-refused \
	"fill=#current::$OTP" "fill=#password::$NEWPW" "fill=#password2::$NEWPW" \
	submit=パスワードを変更する text=パスワードを変更しました page=password-done \
	"goto=$U/batches" text=住民税決定通知 || _nfail=$((_nfail + 1))
check "the clerk's password change is audited" sh -c "'$TAYORI' audit show -d '$D' --json | grep -q 'was_one_time=yes'"

# 2. An admin adds a clerk and resets a password.
browse desktop "goto=$U/login" "fill=#login::boss" "fill=#password::$PW" submit=ログイン \
	click=ユーザーと権限 text=職員のアカウント page=users click=ユーザーを追加する page=user-new \
	"fill=#login::kakari" "fill=#name::係 二郎" "fill=#email::kakari@ward.example.jp" \
	"tick=#perm-view" "tick=#perm-approve" submit=追加する text=ユーザーを追加しました \
	text=一時パスワード page=user-added "goto=$U/users" text=kakari click=kakari \
	text=ユーザーの設定 page=user click=このアカウントを停止する text=アカウント停止の確認 \
	page=disable-confirm click=やめて戻る "click=パスワードを再設定する（一時パスワードを発行）" \
	text=パスワード再設定の確認 page=reset-confirm submit=再設定する \
	text=パスワードを再設定しました page=reset-done "goto=$U/users/$BOSS/disable" submit=停止する \
	status=403 text=自分のアカウントは停止できません page=refused-self || _nfail=$((_nfail + 1))
check "the added clerk has view and approve" sh -c "'$TAYORI' user list -d '$D' --json | grep -q '\"login\":\"kakari\".*\"permissions\":\"view,approve\"'"

# 3. The audit page: search and verify; a resident's details.
browse desktop "goto=$U/login" "fill=#login::boss" "fill=#password::$PW" submit=ログイン \
	click=監査ログ text=監査ログの記録 page=audit "fill=#person::boss" "fill=#action::staff.add" \
	submit=検索する text=staff.add notext=staff.passwd page=audit-search \
	submit=監査ログを検証する text=監査ログは改ざんされていません page=audit-verified \
	"goto=$U/residents/$B1/1" text=区民の詳細 page=resident || _nfail=$((_nfail + 1))
browse phone "goto=$U/login" "fill=#login::boss" "fill=#password::$PW" submit=ログイン \
	"goto=$U/audit" page=audit-phone "goto=$U/users" page=users-phone || _nfail=$((_nfail + 1))
check "the screenshots are kept" sh -c "ls '$SHOTS'/browser_staff_admin-*-password-first-*.png '$SHOTS'/browser_staff_admin-*-audit-verified-*.png"
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
