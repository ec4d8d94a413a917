#!/bin/sh
# The command line: help, version, exit statuses, init, conf check, staff
# accounts and the audit log, driven through the real binary.
. "$(dirname "$0")/lib.sh"
D=$T/var

check "--help lists the stable commands" sh -c "'$TAYORI' --help | grep -q 'pdf    sign --p12'"
check "--help documents submit --again" sh -c "'$TAYORI' --help | grep -q 'submit .*--again'"
check "submit --help documents --again" sh -c "'$TAYORI' submit --help | grep -q -- '--again'"
check "--version prints the version" sh -c "'$TAYORI' --version | grep -Eq '^tayori [0-9]+\\.[0-9]+'"
check_status 2 "no command is a usage error" "$TAYORI"
check_status 2 "an unknown command is a usage error" "$TAYORI" frobnicate
check_status 2 "a stray argument to report is a usage error" "$TAYORI" report extra
check "--help documents batch approve --as, send --at, export --paper and report --mail" sh -c \
	"'$TAYORI' --help | grep -q 'approve ID --as LOGIN' && '$TAYORI' --help | grep -q 'send ID \\[--at' &&
	 '$TAYORI' --help | grep -q 'export ID --paper' && '$TAYORI' --help | grep -q 'report \\[--mail\\]'"
check "--help and batch --help document batch withdraw and unlock" sh -c \
	"'$TAYORI' --help | grep -q 'withdraw ID --as LOGIN' && '$TAYORI' --help | grep -q 'unlock ID KEY --as LOGIN' &&
	 '$TAYORI' batch --help | grep -q 'withdraw ID --as LOGIN' && '$TAYORI' batch --help | grep -q 'unlock ID KEY --as LOGIN'"
check "batch --help documents the paper list's files" sh -c "'$TAYORI' batch --help | grep -q 'OUT.csv'"

check_status 0 "init creates a demo tenant" "$TAYORI" init -d "$D" --demo --name テスト区
check "init prints a one-time password" grep -q "one-time password:" "$T/last"
check "the tenant key is mode 0600" sh -c "[ \"\$(stat -c %a '$D/keys/tenant.key')\" = 600 ]"
check "the keys folder is mode 0700" sh -c "[ \"\$(stat -c %a '$D/keys')\" = 700 ]"
check "the demo certificate says DEMO" sh -c "openssl pkcs12 -in '$D/keys/signing.p12' -nokeys -passin file:'$D/keys/signing.pass' 2>/dev/null | grep -q 'subject=.*DEMO'"
check "the LMDB environment exists" test -s "$D/db/data.mdb"
check_status 1 "init refuses an existing tenant" "$TAYORI" init -d "$D"
check "... saying why" grep -q "already exists" "$T/last"
check "init leaves no scratch folder behind" sh -c "! ls -d '$T'/var.init-* 2>/dev/null"

check_status 0 "conf check accepts the generated config" "$TAYORI" conf check -d "$D"
check_status 0 "tayori -n is the same check" "$TAYORI" -n -c "$D/tayori.conf"
printf '[portal]\nresident_listn = 1.2.3.4:5\n' > "$T/bad.conf"
check_status 1 "conf check refuses a typo" "$TAYORI" conf check -c "$T/bad.conf"
check "... naming the line" grep -q "bad.conf:2:" "$T/last"

export PW=correct-horse-battery
check_status 0 "user add with a password from the environment" \
	"$TAYORI" user add tanaka -d "$D" --email Tanaka@ward.example.jp --name 田中一郎 --password-env PW
check_status 1 "a taken login is refused" \
	"$TAYORI" user add tanaka -d "$D" --email other@ward.example.jp --password-env PW
check_status 1 "a taken address (any case) is refused" \
	"$TAYORI" user add suzuki -d "$D" --email tanaka@WARD.example.jp --password-env PW
check_status 1 "an address with CRLF is refused" \
	"$TAYORI" user add sato -d "$D" --email "$(printf 'a@b.jp\r\nBcc: x@y.jp')" --password-env PW
check_status 1 "an unknown permission is refused" \
	"$TAYORI" user add sato -d "$D" --email sato@ward.example.jp --grant fly --password-env PW
check_status 0 "user add without a password prints a one-time password" \
	"$TAYORI" user add sato -d "$D" --email sato@ward.example.jp --role approver </dev/null
check "... shown once" grep -q "one-time password:" "$T/last"
check_status 0 "role changes permissions" "$TAYORI" user role tanaka -d "$D" --grant export --revoke remind
check_status 0 "disable an account" "$TAYORI" user disable sato -d "$D"
"$TAYORI" user list -d "$D" --json > "$T/users.json"
check "list shows three accounts" sh -c "grep -o '\"login\"' '$T/users.json' | wc -l | grep -qx 3"
check "list shows the changed permissions" sh -c "grep -q '\"login\":\"tanaka\".*\"permissions\":\"view,submit,export\"' '$T/users.json'"
check "list shows the disabled account" grep -q '"login":"sato".*"disabled":true' "$T/users.json"
check_status 1 "passwd for an unknown login is refused" "$TAYORI" user passwd nobody -d "$D" --password-env PW
export SHORT=short
check_status 1 "a too short password is refused" "$TAYORI" user passwd tanaka -d "$D" --password-env SHORT

check_status 0 "the audit log verifies" "$TAYORI" audit verify -d "$D"
check "... with every change recorded (init, 3 adds, role, disable)" grep -q "intact: 6 records" "$T/last"
check "audit show lists the permission change" sh -c "'$TAYORI' audit show -d '$D' | grep -q 'staff.permissions'"
check "audit records hold no personal data" sh -c "! '$TAYORI' audit show -d '$D' --json | grep -Eq 'tanaka@|田中'"
done_testing
