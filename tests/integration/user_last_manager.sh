#!/bin/sh
# tests/integration/user_last_manager.sh — `tayori user` refuses, as the
# dashboard does (one shared check: staff_managers_left in lib/staff.c), any
# change that would leave no enabled account with the manage-users
# permission: disabling the last manager, revoking manage-users from them,
# or giving them a role without it.  Each refusal is exit 1 with one English
# line on stderr naming the account, and changes nothing (the account is as
# it was, no audit record of a change).  With a second manager the same
# changes go through; a disabled manager does not count.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3

check "init a tenant (its first account: admin)" "$TAYORI" init -d "$D"
users() { "$TAYORI" user list -d "$D" --json >"$T/users.json"; }
# field LOGIN KEY: a field of that account in `user list --json`
field() { users && $PY -c 'import json, sys
for u in json.load(open(sys.argv[1]))["users"]:
    if u["login"] == sys.argv[2]: print(u[sys.argv[3]])' "$T/users.json" "$1" "$2"; }
naudit() { "$TAYORI" audit show -d "$D" --json >"$T/audit.json" && $PY -c 'import json, sys
d = json.load(open(sys.argv[1])); recs = d["records"] if isinstance(d, dict) else d
print(sum(1 for r in recs if r["action"] in sys.argv[2:]))' "$T/audit.json" "$@"; }
MSG="admin is the last enabled account with the manage-users permission"
# refused DESC CMD...: exit 1, one stderr line with $MSG, nothing changed
refused() {
	_d=$1; shift
	_before=$(naudit staff.disable staff.permissions)
	_perms=$(field admin permissions); _dis=$(field admin disabled)
	check_status 1 "$_d: refused (exit 1)" "$@"
	check "$_d: one clear line on stderr" sh -c "[ \$(wc -l <'$T/last') -eq 1 ] && grep -q '^tayori: .*$MSG' '$T/last'"
	check "$_d: the account is unchanged" sh -c "[ '$(field admin permissions)' = '$_perms' ] && [ '$(field admin disabled)' = '$_dis' ]"
	check "$_d: no change audited" [ "$(naudit staff.disable staff.permissions)" = "$_before" ]
}

refused "disable the only manager" "$TAYORI" user disable admin -d "$D"
refused "revoke manage-users from the only manager" "$TAYORI" user role admin -d "$D" --revoke manage-users
refused "give the only manager the clerk role" "$TAYORI" user role admin -d "$D" --role clerk
check_status 0 "a change that keeps manage-users goes through" "$TAYORI" user role admin -d "$D" --revoke remind
P=$(field admin permissions)
check "... and is stored (manage-users kept, remind gone)" sh -c "echo '$P' | grep -q manage-users && ! echo '$P' | grep -q remind"

export PW=a-long-enough-password
check "a clerk" "$TAYORI" user add tanaka -d "$D" --email tanaka@ward.example.jp --password-env PW
refused "with only a clerk beside it: disable the manager" "$TAYORI" user disable admin -d "$D"
check "a second manager" "$TAYORI" user add kanri -d "$D" --email kanri@ward.example.jp --role admin --password-env PW
check "kanri disabled" "$TAYORI" user disable kanri -d "$D"
refused "a disabled second manager does not count" "$TAYORI" user role admin -d "$D" --revoke manage-users
check "kanri enabled again" "$TAYORI" user enable kanri -d "$D"
check_status 0 "with a second enabled manager: admin may be disabled" "$TAYORI" user disable admin -d "$D"
check "... and is" [ "$(field admin disabled)" = True ]
check_status 1 "now kanri is the last: disabling kanri is refused" "$TAYORI" user disable kanri -d "$D"
check "... naming kanri" grep -q "kanri is the last enabled account with the manage-users permission" "$T/last"
check "... kanri stays enabled" [ "$(field kanri disabled)" = False ]
check_status 0 "admin enabled again" "$TAYORI" user enable admin -d "$D"
check_status 0 "then kanri may lose manage-users" "$TAYORI" user role kanri -d "$D" --role approver
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
