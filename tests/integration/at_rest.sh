#!/bin/sh
# Encryption at rest, seen from outside: after staff accounts with names and
# addresses are stored, neither `strings` nor a byte search over the raw
# tenant files (the key folder aside) finds them.
. "$(dirname "$0")/lib.sh"
D=$T/var
"$TAYORI" init -d "$D" >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
export PW=another-long-password
"$TAYORI" user add watanabe -d "$D" --email hanako.watanabe@city-nerima.example.jp \
	--name 渡辺花子 --password-env PW >/dev/null 2>&1 || fail "user add"
check "the account is readable through tayori" sh -c "'$TAYORI' user list -d '$D' | grep -q hanako.watanabe@"
files=$(find "$D" -type f ! -path "$D/keys/*" | tr '\n' ' ')
for needle in hanako.watanabe city-nerima 渡辺花子 watanabe; do
	check "strings finds no \"$needle\"" sh -c "! strings -a -e S $files | grep -q '$needle'"
	check "a byte search finds no \"$needle\"" sh -c "! grep -a -q '$needle' $files"
done
# The search itself works: a value tayori stores in the clear is found.
check "the same search finds clear text (the control)" sh -c "grep -a -q 'schema_version' $D/db/data.mdb"
done_testing
