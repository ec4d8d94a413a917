#!/bin/sh
# tests/integration/tsa.sh — time stamps are checked before they are used
# or called valid: `tayori pdf sign --level B-T` against a good TSA (plain
# HTTP, a chunked reply, and https://), a self-signed "evil" TSA, a reply
# whose signature was corrupted, a TSA certificate without the timeStamping
# key usage, a genTime five years off, and TLS servers that must not be
# trusted; `tayori pdf verify --tsa-ca` on the results; and the service's
# setting (tsa_ca_file is required with tsa_url; a batch whose TSA is not
# trusted fails as a temporary error with nothing stored).
#
# Standards: RFC 3161 (§2.3 the TSA certificate's critical extendedKeyUsage
# timeStamping, §2.4 nonce and imprint), RFC 9112 (chunked), TLS 1.2+.
# Peers: tests/pki/server.py (`openssl ts -reply`, Python's ssl module).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
PKI=$T/pki
mkdir -p "$PKI"

$PY "$TOP/tests/pki/server.py" "$PKI" "$T/port" >"$T/server.log" 2>&1 &
at_exit "kill $!"
wait_for 10 test -s "$T/port" || { fail "PKI server did not start"; cat "$T/server.log"; done_testing; exit 1; }
BASE=http://127.0.0.1:$(cat "$T/port")
check "make the test PKI" sh "$TOP/tests/pki/make-pki.sh" "$PKI" "$BASE"
$PY "$TOP/tests/pki/server.py" "$PKI" "$T/tport" --tls tls >"$T/tserver.log" 2>&1 &
at_exit "kill $!"
$PY "$TOP/tests/pki/server.py" "$PKI" "$T/oport" --tls tls-other >"$T/oserver.log" 2>&1 &
at_exit "kill $!"
wait_for 10 test -s "$T/tport" && wait_for 10 test -s "$T/oport" ||
	{ fail "TLS servers did not start"; cat "$T/tserver.log"; done_testing; exit 1; }
TBASE=https://127.0.0.1:$(cat "$T/tport")
OBASE=https://127.0.0.1:$(cat "$T/oport")
export PW=test

printf '%%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\ntrailer\n<< /Root 1 0 R /Size 4 >>\n%%%%EOF\n' >"$T/raw.pdf"
qpdf --object-streams=disable "$T/raw.pdf" "$T/plain.pdf" 2>/dev/null

bt() { # bt URL OUT [more options]: sign at B-T with the test root as TSA anchor
	url=$1; out=$2; shift 2
	"$TAYORI" pdf sign --p12 "$PKI/signer.p12" --pass-env PW --tsa "$url" --tsa-ca "$PKI/root.pem" \
		--level B-T "$@" "$T/plain.pdf" "$out"
}
# one_line STATUS DESC PATTERN: the last command's stderr is one line matching PATTERN
one_line() {
	if [ "$(wc -l <"$T/last")" -eq 1 ] && grep -q "$1" "$T/last"; then ok "$2"; else
		fail "$2"; sed 's/^/#   /' "$T/last"; fi
}

# --- a good TSA --------------------------------------------------------------
check "B-T with the good TSA" bt "$BASE/tsa" "$T/good.pdf"
check_status 0 "verify --tsa-ca: the time stamp chains to the TSA anchors" \
	"$TAYORI" pdf verify --tsa-ca "$PKI/root.pem" "$T/good.pdf"
check "verify --tsa-ca says the time stamp is valid" grep -q 'time stamp: .* (valid)' "$T/last"
"$TAYORI" pdf verify --json --tsa-ca "$PKI/root.pem" "$T/good.pdf" >"$T/good.json"
check "verify --json: timestamp_trusted true, level B-T" \
	grep -q '"timestamp_ok":true,"timestamp_trusted":true.*"level":"B-T"' "$T/good.json"
check_status 0 "verify without --tsa-ca still passes the signature" "$TAYORI" pdf verify "$T/good.pdf"
check "but says the time stamp was not checked against a trust anchor" \
	grep -q 'time stamp: .* (time stamp not checked against a trust anchor)' "$T/last"
check "and does not call it valid" sh -c "! grep -q 'time stamp: .*(valid)' '$T/last'"
check "B-T with the good TSA answering in chunks" bt "$BASE/tsa-chunked" "$T/chunked.pdf"
check_status 0 "the chunked reply's token verifies" "$TAYORI" pdf verify --tsa-ca "$PKI/root.pem" "$T/chunked.pdf"

# --- TSAs whose time stamps must not be used ----------------------------------
check_status 1 "a self-signed (evil) TSA is refused" bt "$BASE/tsa-evil" "$T/evil.pdf"
one_line "does not verify against the TSA trust anchors.*self-signed" "  in one line naming the reason"
check_status 1 "a reply with a corrupted signature is refused" bt "$BASE/tsa-corrupt" "$T/corrupt.pdf"
one_line "does not verify against the TSA trust anchors" "  in one line"
check_status 1 "a TSA certificate without the timeStamping key usage is refused" bt "$BASE/tsa-noeku" "$T/noeku.pdf"
one_line "lacks the critical extended key usage timeStamping" "  in one line naming the key usage"
check_status 1 "a genTime five years off is refused" bt "$BASE/tsa-late" "$T/late.pdf"
one_line "genTime .* seconds away from this host's clock" "  in one line naming the genTime"
check "nothing was written for any of them" sh -c \
	"! ls '$T/evil.pdf' '$T/corrupt.pdf' '$T/noeku.pdf' '$T/late.pdf' 2>/dev/null | grep -q ."
check_status 2 "--tsa without --tsa-ca is a usage error" "$TAYORI" pdf sign --p12 "$PKI/signer.p12" \
	--pass-env PW --tsa "$BASE/tsa" --level B-T "$T/plain.pdf" "$T/x.pdf"
one_line "needs --tsa-ca" "  in one line"
check_status 1 "a --tsa-ca file without certificates is refused" bt "$BASE/tsa" "$T/x.pdf" --tsa-ca "$T/plain.pdf"
check "nothing was written" test ! -e "$T/x.pdf"

# --- tayori pdf verify on a token from an untrusted TSA ------------------------
check "sign with the evil TSA while trusting it" "$TAYORI" pdf sign --p12 "$PKI/signer.p12" \
	--pass-env PW --tsa "$BASE/tsa-evil" --tsa-ca "$PKI/evil.pem" --level B-T "$T/plain.pdf" "$T/evil-t.pdf"
check_status 1 "verify --tsa-ca (the real anchors) refuses the evil time stamp" \
	"$TAYORI" pdf verify --tsa-ca "$PKI/root.pem" "$T/evil-t.pdf"
check "  naming why" grep -q 'result: INVALID .*time-stamp token .*does not verify against the TSA trust anchors' "$T/last"
"$TAYORI" pdf verify --json --tsa-ca "$PKI/root.pem" "$T/evil-t.pdf" >"$T/evil.json"
check "  in JSON: timestamp_trusted false, valid false" \
	grep -q '"timestamp_trusted":false.*"valid":false' "$T/evil.json"
check_status 0 "verify without --tsa-ca does not call the evil time stamp valid" \
	"$TAYORI" pdf verify "$T/evil-t.pdf"
check "  it says: not checked against a trust anchor" \
	grep -q 'time stamp not checked against a trust anchor' "$T/last"

# --- https:// ----------------------------------------------------------------
export SSL_CERT_FILE="$PKI/root.pem"
check "B-T with an https:// TSA (IP address in the certificate)" bt "$TBASE/tsa" "$T/https.pdf"
check_status 0 "its time stamp verifies" "$TAYORI" pdf verify --tsa-ca "$PKI/root.pem" "$T/https.pdf"
check "B-LTA with an https:// TSA by host name (signature and document time stamps)" \
	"$TAYORI" pdf sign --p12 "$PKI/signer.p12" --pass-env PW --tsa "https://localhost:$(cat "$T/tport")/tsa" \
	--tsa-ca "$PKI/root.pem" --level B-LTA "$T/plain.pdf" "$T/https-lta.pdf"
"$TAYORI" pdf verify --json --ca "$PKI/root.pem" --tsa-ca "$PKI/root.pem" "$T/https-lta.pdf" >"$T/lta.json"
check "B-LTA: both time stamps chain to the TSA anchors" sh -c \
	"[ \$(grep -o '\"timestamp_trusted\":true' '$T/lta.json' | wc -l) -eq 2 ] && grep -q '\"level\":\"B-LTA\"' '$T/lta.json'"
check_status 1 "an https:// TSA whose certificate names another host is refused" bt "$OBASE/tsa" "$T/x.pdf"
one_line "TLS: the certificate of 127.0.0.1 is not trusted" "  in one line"
check_status 1 "a TSA on https:// with a self-signed evil TSA behind it is still refused" bt "$TBASE/tsa-evil" "$T/x.pdf"
unset SSL_CERT_FILE
export SSL_CERT_FILE="$PKI/evil.pem"
check_status 1 "an https:// server not trusted by the TLS anchors is refused" bt "$TBASE/tsa" "$T/x.pdf"
one_line "TLS: the certificate of 127.0.0.1 is not trusted" "  in one line"
unset SSL_CERT_FILE
check "nothing was written" test ! -e "$T/x.pdf"

# --- the service's setting ------------------------------------------------------
D=$T/tenant
if "$TAYORI" init -d "$D" >"$T/init.log" 2>&1; then ok "init a tenant"; else fail "init a tenant"; sed 's/^/#   /' "$T/init.log"; fi
cp "$PKI/signer.p12" "$D/keys/signing.p12"
sed -i -e 's|^#p12_pass_env = .*|p12_pass_env = PW|' -e "s|^#level = B-B|level = B-T|" \
	-e "s|^#tsa_url = .*|tsa_url = \"$BASE/tsa-evil\"|" -e 's|^#syslog = .*|syslog = no|' "$D/tayori.conf"
check_status 1 "conf check: tsa_url without tsa_ca_file is refused" "$TAYORI" conf check -d "$D"
check "  naming the line and the setting" grep -q 'tayori.conf:[0-9]*: tsa_url is set but tsa_ca_file is empty' "$T/last"
check_status 1 "tayori run refuses to start with it" timeout 20 "$TAYORI" run -d "$D"
check "  saying why" grep -q 'tsa_url is set but tsa_ca_file is empty' "$T/last"
sed -i -e 's|^#tsa_ca_file = .*|tsa_ca_file = tsa-ca.pem|' "$D/tayori.conf"
cp "$PKI/root.pem" "$D/tsa-ca.pem"
C=$T/corpus
sh "$TOP/tests/bench/gen-corpus" "$C" 2 >"$T/gen.log" 2>&1
mkdir -p "$T/in"
cp "$C/corpus.pdf" "$C/corpus.csv" "$T/in/"
check_status 3 "a batch whose TSA does not verify fails as a temporary error" "$TAYORI" submit -d "$D" "$T/in"
check "  naming the TSA" grep -q 'does not verify against the TSA trust anchors' "$T/last"
"$TAYORI" batch list --json -d "$D" >"$T/list.json" 2>&1
check "  and nothing is stored" sh -c "! grep -q '\"id\"' '$T/list.json'"
sed -i -e "s|^tsa_url = .*|tsa_url = \"$BASE/tsa\"|" "$D/tayori.conf"
check "the same batch with the good TSA is signed and stored" "$TAYORI" submit --json -d "$D" "$T/in"
ID=$(jval "$T/.out" 'd["batch"]')
KEY=$(sed -n 2p "$C/corpus.csv" | cut -d, -f1)
check "its PDF" "$TAYORI" batch pdf "$ID" "$KEY" "$T/batch.pdf" -d "$D"
check_status 0 "its time stamp chains to the TSA anchors" "$TAYORI" pdf verify --tsa-ca "$PKI/root.pem" "$T/batch.pdf"

check_status 0 "verify -d uses the tenant's tsa_ca_file" "$TAYORI" pdf verify -d "$D" "$T/batch.pdf"
check "  and calls the time stamp valid" grep -q 'time stamp: .* (valid)' "$T/last"
check_status 1 "verify -d refuses the evil time stamp with the tenant's anchors" "$TAYORI" pdf verify -d "$D" "$T/evil-t.pdf"

# --- the running service: the gateway (sandboxed) reads tsa_ca_file ----------------
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
RUN_PID=$!
at_exit "kill $RUN_PID 2>/dev/null; wait $RUN_PID 2>/dev/null"
check "tayori run starts with tsa_url and tsa_ca_file" wait_for 20 grep -q "role=gateway .*event=ready" "$T/run.log"
nb() { "$TAYORI" batch list -d "$D" --json | grep -o '"batch":' | wc -l; }
before=$(nb)
sh "$TOP/tests/bench/gen-corpus" "$T/corpus3" 3 >"$T/gen.log" 2>&1
mkdir -p "$T/stage/drop"
cp "$T/corpus3/corpus.pdf" "$T/corpus3/corpus.csv" "$T/stage/drop/"
[ "$(id -u)" != 0 ] || chown -R --reference="$D/inbox" "$T/stage/drop"
mv "$T/stage/drop" "$D/inbox/"
check "a dropped batch is signed at B-T by the service" wait_for 60 sh -c "[ \$($TAYORI batch list -d '$D' --json | grep -o '\"batch\":' | wc -l) -gt $before ]"
ID=$("$TAYORI" batch list -d "$D" --json | grep -o '"batch":[0-9]*' | tail -1 | cut -d: -f2)
KEY=$(sed -n 2p "$T/corpus3/corpus.csv" | cut -d, -f1)
check "its PDF" "$TAYORI" batch pdf "$ID" "$KEY" "$T/run.pdf" -d "$D"
check_status 0 "its time stamp chains to the TSA anchors" "$TAYORI" pdf verify --tsa-ca "$PKI/root.pem" "$T/run.pdf"
check "no time-stamp failure was logged" sh -c "! grep -q 'TSA trust anchors\|cannot read TSA' '$T/run.log'"
check "the batch in the log" grep -q "event=batch_stored" "$T/run.log"

[ "$_nfail" -eq 0 ] || sed "s/^/#   /" "$T/run.log" | tail -30
done_testing
