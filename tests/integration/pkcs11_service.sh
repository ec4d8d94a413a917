#!/bin/sh
# tests/integration/pkcs11_service.sh — `tayori run` signing with a key on a
# PKCS#11 token (SoftHSM2, as a ward's HSM or IC card holding its LGPKI
# key would be used): a batch dropped into the inbox is signed by the
# token's key, checked by pdfsig (NSS trusting the test root), `mutool sign
# -v` and `openssl cms -verify`, whose signer certificate is the token's;
# only the keys process ever maps the module.  Failures: a wrong PIN, a
# token label that is not there, a token with no key, a key that does not
# match its certificate, a module path that is wrong, a PIN variable that
# is not set — each stops `tayori run` at start with one line, and nothing
# is signed with the PKCS#12 file that is there too.  A certificate whose
# subject says DEMO is refused on a tenant not made with `tayori init
# --demo`, from a token or from a file.  `tayori submit` signs with the
# token as well; commands that do not sign need no PIN.
#
# Standards: PKCS#11 v2.40, ETSI EN 319 142-1 (PAdES B-B).
. "$(dirname "$0")/lib.sh"
MODULE=/usr/lib/softhsm/libsofthsm2.so
PKI=$T/pki
HSM=$T/hsm
D=$T/var
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))

# --- a throwaway PKI and SoftHSM2 tokens in the scratch folder ----------------
# Its CRLs and OCSP answers are served by tests/pki/server.py, so that pdfsig
# can check the signer's certificate in full.
mkdir -p "$PKI"
/usr/bin/python3 "$TOP/tests/pki/server.py" "$PKI" "$T/port" >"$T/server.log" 2>&1 &
at_exit "kill $!"
wait_for 10 test -s "$T/port" || { fail "PKI server did not start"; cat "$T/server.log"; done_testing; exit 1; }
check "make the test PKI" sh "$TOP/tests/pki/make-pki.sh" "$PKI" "http://127.0.0.1:$(cat "$T/port")"
mkdir -p "$HSM/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$HSM" >"$HSM/softhsm2.conf"
export SOFTHSM2_CONF=$HSM/softhsm2.conf
p11() { pkcs11-tool --module "$MODULE" "$@" >/dev/null 2>&1; }
token() { softhsm2-util --init-token --free --label "$1" --pin 1234 --so-pin 5678 >/dev/null 2>&1; }
der() { openssl x509 -in "$1" -outform DER -out "$2"; }
p8() { openssl pkcs8 -topk8 -nocrypt -in "$1" -out "$2"; }
p8 "$PKI/signer.key" "$HSM/rsa.p8"
der "$PKI/signer.pem" "$HSM/rsa.der"
der "$PKI/inter.pem" "$HSM/inter.der"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$HSM/other.key" 2>/dev/null
p8 "$HSM/other.key" "$HSM/other.p8"
# A DEMO certificate such as `tayori init --demo` makes
openssl req -new -x509 -key "$HSM/other.key" -out "$HSM/demo.pem" -days 30 \
	-subj "/C=JP/O=DEMO tayori/CN=DEMO ward (tayori demo signer, not for real notices)" 2>/dev/null
der "$HSM/demo.pem" "$HSM/demo.der"

# ward: the ward's key, its certificate and the CA's
token ward
check "import the ward's key into the token" softhsm2-util --import "$HSM/rsa.p8" --token ward --label signkey --id 01 --pin 1234
check "import its certificate" p11 --token-label ward --login --pin 1234 --write-object "$HSM/rsa.der" --type cert --id 01
check "import the CA certificate" p11 --token-label ward --login --pin 1234 --write-object "$HSM/inter.der" --type cert --id 02
# nokey: a certificate only
token nokey
check "a token with a certificate and no key" p11 --token-label nokey --login --pin 1234 --write-object "$HSM/rsa.der" --type cert --id 01
# mixed: another key under the certificate's CKA_ID
token mixed
check "a token whose key does not match its certificate" sh -c \
	"softhsm2-util --import '$HSM/other.p8' --token mixed --label k --id 01 --pin 1234 >/dev/null 2>&1 &&
	 pkcs11-tool --module '$MODULE' --token-label mixed --login --pin 1234 --write-object '$HSM/rsa.der' --type cert --id 01 >/dev/null 2>&1"
# demo: a DEMO certificate with its key
token demo
check "a token holding a DEMO certificate" sh -c \
	"softhsm2-util --import '$HSM/other.p8' --token demo --label k --id 07 --pin 1234 >/dev/null 2>&1 &&
	 pkcs11-tool --module '$MODULE' --token-label demo --login --pin 1234 --write-object '$HSM/demo.der' --type cert --id 07 >/dev/null 2>&1"

# Started as root, tayori's roles run as the service user: it must own the
# token store (SoftHSM writes lock files there even to sign).
SU=""
if [ "$(id -u)" = 0 ]; then
	SU=$(id -un tayori 2>/dev/null || echo nobody)
	chown -R "$SU" "$HSM"
fi

# conf_tenant DIR: listen ports, no syslog, the service user, the token
conf_tenant() {
	sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
	       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
	       -e "s/^#syslog = .*/syslog = no/" \
	       -e "s|^#pkcs11_module = .*|pkcs11_module = $MODULE|" \
	       -e "s/^#pkcs11_token = .*/pkcs11_token = ward/" \
	       -e "s/^#pkcs11_pin_env = .*/pkcs11_pin_env = TAYORI_PIN/" "$1/tayori.conf"
	[ -z "$SU" ] || sed -i "s/^#user = .*/user = $SU/" "$1/tayori.conf"
}
setting() { sed -i "s|^#\{0,1\}$2 = .*|$2 = $3|" "$1/tayori.conf"; }

# A demo tenant: it has the DEMO PKCS#12 file, which must never sign once a
# token is configured.
check "init a demo tenant" "$TAYORI" init -d "$D" --demo
conf_tenant "$D"
check "the demo PKCS#12 file is there" test -s "$D/keys/signing.p12"

# refuses DESC PATTERN [ENV=VALUE...]: `tayori run` stops at start, exit 1,
# with one "tayori:" line on stderr matching PATTERN, and no role but keys
# ever started.
refuses() {
	_d=$1; _p=$2; shift 2
	env "$@" timeout 60 "$TAYORI" run -d "$D" >"$T/refuse.out" 2>"$T/refuse.err"; _st=$?
	_n=$(grep -c '^tayori: ' "$T/refuse.err")
	if [ $_st -eq 1 ] && [ "$_n" -eq 1 ] && grep '^tayori: ' "$T/refuse.err" | grep -q -- "$_p" &&
	   ! grep -q 'role=gateway' "$T/refuse.err" "$T/refuse.out"; then
		ok "$_d: $(grep '^tayori: ' "$T/refuse.err")"
	else
		fail "$_d (exit $_st, $_n tayori: lines)"; sed 's/^/#   /' "$T/refuse.err" "$T/refuse.out" | tail -15
	fi
}

# --- failures: one line at start, never the PKCS#12 file ----------------------
refuses "a wrong PIN stops the start" 'wrong PIN' TAYORI_PIN=0000
refuses "a PIN variable that is not set stops the start" 'TAYORI_PIN.*not set'
setting "$D" pkcs11_module /usr/lib/softhsm/no-such-module.so
refuses "a module path that is wrong stops the start" 'cannot load the PKCS#11 module' TAYORI_PIN=1234
setting "$D" pkcs11_module "$MODULE"
setting "$D" pkcs11_token nosuch
refuses "a token label that is not there stops the start" 'no PKCS#11 token labelled "nosuch"' TAYORI_PIN=1234
setting "$D" pkcs11_token nokey
refuses "a token without a key stops the start" 'no private key on PKCS#11 token "nokey"' TAYORI_PIN=1234
setting "$D" pkcs11_token mixed
refuses "a key that does not match its certificate stops the start" 'does not match its certificate' TAYORI_PIN=1234
setting "$D" pkcs11_token ward
setting "$D" pkcs11_key nosuchkey
refuses "a key label that is not on the token stops the start" 'no private key labelled "nosuchkey"' TAYORI_PIN=1234
setting "$D" pkcs11_key signkey
check "nothing was signed by the refused starts" sh -c "[ -z \"\$('$TAYORI' batch list -d '$D' --json | grep -o '\"batch\":')\" ]"

# --- the service signs with the token ------------------------------------------
TAYORI_PIN=1234 "$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "tayori run starts with the token" wait_for 30 grep -q "role=gateway .*event=ready" "$T/run.log"
FP=$(openssl x509 -in "$PKI/signer.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
check "keys logs the token's certificate: its SHA-256 fingerprint, subject, end" \
	grep -q "role=keys .*event=signing_credential source=pkcs11 sha256=$FP not_after=20[0-9-]*T[0-9:]*Z subject=\".*CN=Tayori Test Ward Head" "$T/run.log"

# Which processes map the module: keys, and no other role.
role_pid() { ps -o pid=,comm= --ppid "$SUP" | awk -v n="tayori-$1" '$2 == n { print $1 }'; }
maps_module() { grep -q libsofthsm2 "/proc/$1/maps"; }
KP=$(role_pid keys)
check "the keys process maps the PKCS#11 module" maps_module "$KP"
for r in gateway mailer portal; do
	RP=$(role_pid $r)
	if [ -n "$RP" ] && [ -r "/proc/$RP/maps" ] && ! maps_module "$RP"; then
		ok "the $r process ($RP) never maps the module"
	else
		fail "the $r process (${RP:-not found}) maps the module or cannot be read"
	fi
done
check "the supervisor never maps the module" sh -c "! grep -q libsofthsm2 /proc/$SUP/maps"

# A batch dropped into the inbox (given to the service user when root)
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >/dev/null 2>&1
mkdir -p "$T/stage/pkcs11-batch" && cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/stage/pkcs11-batch/"
[ "$(id -u)" != 0 ] || chown -R --reference="$D/inbox" "$T/stage/pkcs11-batch"
mv "$T/stage/pkcs11-batch" "$D/inbox/"
check "the dropped batch is stored" wait_for 60 sh -c "'$TAYORI' batch list -d '$D' --json | grep -q '\"batch\":'"
"$TAYORI" batch list -d "$D" --json >"$T/list.json" 2>&1
BID=$(grep -o '"batch":[0-9]*' "$T/list.json" | head -1 | sed 's/.*://')
KEY=$(iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | sed -n '2s/,.*//p')
check "tayori batch pdf extracts resident $KEY's notice" "$TAYORI" batch pdf "$BID" "$KEY" "$T/notice.pdf" -d "$D"

pdfsig -nssdir "sql:$PKI/nss" "$T/notice.pdf" >"$T/pdfsig.out" 2>&1
if grep -q 'Signature Validation: Signature is Valid.' "$T/pdfsig.out" &&
   grep -q 'Certificate Validation: Certificate is Trusted.' "$T/pdfsig.out" &&
   grep -q 'Signer Certificate Common Name: Tayori Test Ward Head' "$T/pdfsig.out"; then
	ok "pdfsig: the notice's signature is valid, by the token's certificate, trusted"
else
	fail "pdfsig"; sed 's/^/#   /' "$T/pdfsig.out"
fi
mutool sign -v "$T/notice.pdf" >"$T/mutool.out" 2>&1
if grep -q 'The document is unchanged since signing.' "$T/mutool.out" &&
   ! grep -q 'Digest error\|not valid' "$T/mutool.out"; then
	ok "mutool sign -v: the notice's signature is valid"
else
	fail "mutool sign -v"; sed 's/^/#   /' "$T/mutool.out"
fi
# signed_by_token NAME FILE: the CMS of FILE's signature verifies and its
# signer certificate is the token's, not the DEMO file's
signed_by_token() {
	rm -f "$T/sig.der" "$T/sig.data" "$T/signer.pem"
	/usr/bin/python3 "$TOP/tests/pki/sigparts.py" "$2" 1 "$T/sig" >/dev/null 2>&1
	check "$1: openssl cms -verify: the signature covers the notice and chains to the test root" \
		openssl cms -verify -inform DER -binary -in "$T/sig.der" -content "$T/sig.data" \
		-CAfile "$PKI/root.pem" -purpose any -signer "$T/signer.pem" -out /dev/null
	check "$1: the CMS signer certificate is the token's, not the DEMO file's" sh -c \
		"[ \"\$(openssl x509 -in '$T/signer.pem' -noout -fingerprint -sha256)\" = \"\$(openssl x509 -in '$PKI/signer.pem' -noout -fingerprint -sha256)\" ]"
}
signed_by_token "tayori run" "$T/notice.pdf"
check "the gateway, mailer and portal still never mapped the module" sh -c \
	"for p in $(role_pid gateway) $(role_pid mailer) $(role_pid portal); do ! grep -q libsofthsm2 /proc/\$p/maps || exit 1; done"
kill -TERM "$SUP"
wait_for 10 sh -c "! kill -0 $SUP"

# --- the command line: `tayori submit` signs with the token too; commands
# that do not sign need no PIN ---------------------------------------------
check "tayori batch list needs no PIN" "$TAYORI" batch list -d "$D"
check_status 1 "tayori submit without the PIN is refused" "$TAYORI" submit -d "$D" --json --again "$T/c"
check "... naming the variable" grep -q 'TAYORI_PIN' "$T/last"
check "tayori submit signs with the token" env TAYORI_PIN=1234 "$TAYORI" submit -d "$D" --json --again "$T/c"
BID2=$(grep -o '"batch":[0-9]*' "$T/.out" | head -1 | sed 's/.*://')
check "tayori batch pdf extracts the submitted notice" "$TAYORI" batch pdf "$BID2" "$KEY" "$T/notice2.pdf" -d "$D"
signed_by_token "tayori submit" "$T/notice2.pdf"

# --- DEMO certificates on a tenant made without --demo ------------------------
D=$T/real
check "init a tenant without --demo" "$TAYORI" init -d "$D"
conf_tenant "$D"
setting "$D" pkcs11_token demo
refuses "a DEMO certificate on a token is refused on a tenant not made with --demo" \
	'says DEMO.*not made with `tayori init --demo`' TAYORI_PIN=1234
# The same with the DEMO PKCS#12 file of a demo tenant copied in
setting "$D" pkcs11_module '""'
cp "$T/var/keys/signing.p12" "$T/var/keys/signing.pass" "$D/keys/"
[ "$(id -u)" != 0 ] || chown --reference="$D/keys" "$D/keys/signing.p12" "$D/keys/signing.pass"
refuses "a DEMO PKCS#12 file is refused on a tenant not made with --demo" 'says DEMO'
done_testing
