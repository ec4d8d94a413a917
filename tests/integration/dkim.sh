#!/bin/sh
# DKIM: `tayori dkim record` prints the TXT record of the tenant's DKIM key,
# which an independent verifier (dkimpy) accepts for a message signed with
# that key; `tayori run` makes the key at start when [mail] dkim_selector is
# set and the tenant has none.
. "$(dirname "$0")/lib.sh"
D=$T/var
"$TAYORI" init -d "$D" >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"

check "init makes no DKIM key (a tenant that signs no mail needs none)" test ! -e "$D/keys/dkim.key"
check_status 1 "dkim record without a selector is refused" "$TAYORI" dkim record -d "$D"
check "... naming the settings" grep -q "dkim_selector and dkim_domain" "$T/last"
check_status 2 "dkim without a subcommand is a usage error" "$TAYORI" dkim
check "--help lists dkim record" sh -c "'$TAYORI' --help | grep -q 'dkim   record'"

cp "$D/tayori.conf" "$T/plain.conf"
sed -i -e 's/^#dkim_selector = .*/dkim_selector = "a;b"/' -e 's/^#dkim_domain = .*/dkim_domain = city.chuo.example.jp/' "$D/tayori.conf"
check_status 1 "a selector that is not a DNS name is refused" "$TAYORI" dkim record -d "$D"
check "... naming it" grep -q "dkim_selector is not a DNS name" "$T/last"
check "... and no key is made" test ! -e "$D/keys/dkim.key"

sed -i -e 's/^dkim_selector = .*/dkim_selector = tayori2026/' "$D/tayori.conf"
check_status 0 "dkim record prints the record" "$TAYORI" dkim record -d "$D"
cp "$T/last" "$T/record"
check "... as SELECTOR._domainkey.DOMAIN. IN TXT" grep -q '^tayori2026\._domainkey\.city\.chuo\.example\.jp\. IN TXT "v=DKIM1; k=rsa; p=' "$T/record"
check "... on one line" sh -c "[ \$(wc -l < '$T/record') = 1 ]"
check "... in strings of at most 255 octets" /usr/bin/python3 -c '
import re, sys
s = re.findall(r"\"([^\"]*)\"", open(sys.argv[1]).read())
sys.exit(0 if len(s) >= 2 and all(len(x) <= 255 for x in s) else 1)' "$T/record"
check "the key file is mode 0600" sh -c "[ \"\$(stat -c %a '$D/keys/dkim.key')\" = 600 ]"
check_status 0 "a second dkim record keeps the key" "$TAYORI" dkim record -d "$D"
check "... and prints the same record" cmp -s "$T/last" "$T/record"

# dkimpy: sign with the key file (as the test may, being the tenant's
# owner), verify with the record looked up through our dnsfunc.
cat > "$T/verify.py" <<'PY'
import re, sys, dkim
rec = open(sys.argv[1]).read()
name, txt = re.match(r'^(\S+) IN TXT (.*)$', rec.strip()).groups()
txt = ''.join(re.findall(r'"([^"]*)"', txt)).encode()
key = open(sys.argv[2], 'rb').read()
def dns(q, timeout=5):
    return txt if q.decode() == name else None
msg = (b'From: tsuchi@city.chuo.example.jp\r\nTo: a@example.net\r\n'
       b'Subject: =?UTF-8?B?5L2P5rCR56iO?=\r\n\r\nbody\r\n')
sig = dkim.sign(msg, b'tayori2026', b'city.chuo.example.jp', key,
                canonicalize=(b'relaxed', b'relaxed'), include_headers=[b'from', b'to', b'subject'])
assert dkim.verify(sig + msg, dnsfunc=dns), 'verify failed'
assert not dkim.verify(sig + msg + b'x\r\n', dnsfunc=dns), 'changed body verified'
PY
check "dkimpy accepts the record for the tenant's key" /usr/bin/python3 "$T/verify.py" "$T/record" "$D/keys/dkim.key"

# The keys process of `tayori run` makes the key when DKIM is set up.
D2=$T/var2
"$TAYORI" init -d "$D2" >/dev/null 2>&1 || fail "init 2"
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e 's/^#dkim_selector = .*/dkim_selector = s1/' \
       -e 's/^#dkim_domain = .*/dkim_domain = example.jp/' "$D2/tayori.conf"
"$TAYORI" run -d "$D2" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -9 $SUP; pkill -9 -P $SUP"
check "tayori run starts its keys process" wait_for 15 grep -q "role=keys level=info event=ready" "$T/run.log"
check "... which made the DKIM key" test -s "$D2/keys/dkim.key"
check "... mode 0600" sh -c "[ \"\$(stat -c %a '$D2/keys/dkim.key')\" = 600 ]"
kill -TERM "$SUP"
wait "$SUP" 2>/dev/null
check_status 0 "dkim record then prints that key's record" "$TAYORI" dkim record -d "$D2"
sed -i 's/tayori2026/s1/; s/city\.chuo\.example\.jp/example.jp/g' "$T/verify.py"
check "... which dkimpy accepts for it" /usr/bin/python3 "$T/verify.py" "$T/last" "$D2/keys/dkim.key"
done_testing
