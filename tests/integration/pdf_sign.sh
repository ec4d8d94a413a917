#!/bin/sh
# tests/integration/pdf_sign.sh — `tayori pdf sign` and `tayori pdf verify`
# end to end: a throwaway PKI (tests/pki/make-pki.sh), a local TSA, CRL
# distribution points and OCSP (tests/pki/server.py), SoftHSM2 tokens, and
# every output checked by poppler's pdfsig (NSS db trusting the test root),
# MuPDF's `mutool sign -v`, `qpdf --check`, `openssl cms|ts -verify` on the
# signed bytes, and `tayori pdf verify`.
#
# Standards: ETSI EN 319 142-1 (B-B, B-T, B-LT, B-LTA), RFC 3161, PKCS#11.
#
# The CLI under test is "$TAYORI pdf sign|verify".
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
PKI=$T/pki
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so

CLI=$TAYORI

# --- the PKI and its network side ------------------------------------------
mkdir -p "$PKI"
$PY "$TOP/tests/pki/server.py" "$PKI" "$T/port" >"$T/server.log" 2>&1 &
SERVER_PID=$!
at_exit "kill $SERVER_PID"
wait_for 10 test -s "$T/port" || { fail "PKI server did not start"; cat "$T/server.log"; done_testing; exit 1; }
PORT=$(cat "$T/port")
BASE=http://127.0.0.1:$PORT
TSA=$BASE/tsa
check "make the test PKI" sh "$TOP/tests/pki/make-pki.sh" "$PKI" "$BASE"
export PW=test

# --- inputs: a one-page PDF with a classic xref, and with xref streams ------
printf '%%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>\nendobj\n4 0 obj\n<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (Tayori notice) Tj ET\nendstream\nendobj\n5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\ntrailer\n<< /Root 1 0 R /Size 6 >>\n%%%%EOF\n' >"$T/raw.pdf"
qpdf --object-streams=disable "$T/raw.pdf" "$T/plain.pdf" 2>/dev/null
qpdf --object-streams=generate "$T/raw.pdf" "$T/xs.pdf" 2>/dev/null
check "classic-xref input passes qpdf --check" qpdf --check "$T/plain.pdf"
check "xref-stream input passes qpdf --check" qpdf --check "$T/xs.pdf"

# --- validators ------------------------------------------------------------
# validate FILE NAME NSIG LEVEL [NDOCTS]: NSIG CAdES signatures, the last
# (or only) one at LEVEL per tayori; NDOCTS document time stamps.
validate() {
	f=$1; name=$2; nsig=$3; level=$4; ndts=${5:-0}
	check "$name: qpdf --check" qpdf --check "$f"
	pdfsig -nssdir "sql:$PKI/nss" "$f" >"$T/pdfsig.out" 2>&1
	good=$(grep -c 'Signature Validation: Signature is Valid.' "$T/pdfsig.out")
	trusted=$(grep -c 'Certificate Validation: Certificate is Trusted.' "$T/pdfsig.out")
	if [ "$good" -eq "$nsig" ] && [ "$trusted" -eq "$nsig" ] && ! grep -q 'Digest Mismatch\|Signature is Invalid' "$T/pdfsig.out"; then
		ok "$name: pdfsig: $nsig signature(s) valid, certificate trusted"
	else
		fail "$name: pdfsig ($good valid, $trusted trusted, wanted $nsig)"; sed 's/^/#   /' "$T/pdfsig.out"
	fi
	mutool sign -v "$f" >"$T/mutool.out" 2>&1
	mgood=$(grep -c 'The document is unchanged since signing.\|The signature is valid but there have been edits since signing.' "$T/mutool.out")
	if [ "$mgood" -eq "$nsig" ] && ! grep -q 'Digest error\|not valid' "$T/mutool.out"; then
		ok "$name: mutool sign -v: $nsig signature(s) valid"
	else
		fail "$name: mutool sign -v ($mgood valid, wanted $nsig)"; sed 's/^/#   /' "$T/mutool.out"
	fi
	"$CLI" pdf verify --json --ca "$PKI/root.pem" --tsa-ca "$PKI/root.pem" "$f" >"$T/verify.json" 2>"$T/verify.err"
	st=$?
	if [ $st -eq 0 ] && grep -q '"valid":true,"revisions"' "$T/verify.json" &&
	    ! grep -q '"timestamp_trusted":false' "$T/verify.json"; then
		ok "$name: tayori pdf verify --ca --tsa-ca: all valid"
	else
		fail "$name: tayori pdf verify (exit $st)"; sed 's/^/#   /' "$T/verify.json" "$T/verify.err"
	fi
	# (not "lv": sh has no local variables, and the batch loop below uses it)
	got_level=$(grep -o '"level":"B-[A-Z]*"' "$T/verify.json" | tail -1)
	if [ "$got_level" = "\"level\":\"$level\"" ]; then ok "$name: level $level"; else fail "$name: level $got_level, wanted $level"; fi
	nd=$(grep -o '"type":"DocTimeStamp"' "$T/verify.json" | wc -l)
	[ "$nd" -eq "$ndts" ] && ok "$name: $ndts document time stamp(s)" || fail "$name: $nd document time stamps, wanted $ndts"
}

# openssl_cms N FILE NAME: signature N checked by `openssl cms -verify`.
openssl_cms() {
	if ! $PY "$TOP/tests/pki/sigparts.py" "$2" "$1" "$T/part" >"$T/.out" 2>&1; then
		fail "$3: signature $1 could not be taken out of $2"; sed 's/^/#   /' "$T/.out"; return
	fi
	check "$3: openssl cms -verify of signature $1" openssl cms -verify -inform DER -binary \
		-in "$T/part.der" -content "$T/part.data" -CAfile "$PKI/root.pem" -purpose any -out /dev/null
}

# openssl_ts N FILE NAME: document time stamp N checked by `openssl ts -verify`.
openssl_ts() {
	if ! $PY "$TOP/tests/pki/sigparts.py" "$2" "$1" "$T/part" >"$T/.out" 2>&1; then
		fail "$3: time stamp $1 could not be taken out of $2"; sed 's/^/#   /' "$T/.out"; return
	fi
	check "$3: openssl ts -verify of the document time stamp" openssl ts -verify \
		-data "$T/part.data" -in "$T/part.der" -token_in -CAfile "$PKI/root.pem" -untrusted "$PKI/tsa.pem"
}

sign() { "$CLI" pdf sign "$@"; }

# --- B-B, B-T, B-LT, B-LTA --------------------------------------------------
check "sign B-B (PKCS#12, classic xref)" sign --p12 "$PKI/signer.p12" --pass-env PW \
	--reason "税額決定通知" --location "東京都テスト区" "$T/plain.pdf" "$T/bb.pdf"
validate "$T/bb.pdf" B-B 1 B-B
openssl_cms 1 "$T/bb.pdf" B-B
"$CLI" pdf verify "$T/bb.pdf" >"$T/bb.txt" 2>&1
check "verify text names the signer, the coverage and the level" \
	grep -q 'CN=Tayori Test Ward Head' "$T/bb.txt"
check "verify text: the whole file, unchanged" grep -q 'changed since: no' "$T/bb.txt"
check "verify text: ETSI.CAdES.detached, signing-certificate-v2, no CMS signing-time" \
	grep -q 'signing-certificate-v2: present; CMS signing-time: absent' "$T/bb.txt"

check "sign B-B (xref-stream input)" sign --p12 "$PKI/signer.p12" --pass-env PW "$T/xs.pdf" "$T/bb-xs.pdf"
validate "$T/bb-xs.pdf" "B-B xref stream" 1 B-B
check "the update of an xref-stream file is an xref stream" \
	sh -c "tail -c 600 '$T/bb-xs.pdf' | grep -aq '/Type /XRef'"

check "sign B-T (local TSA)" sign --p12 "$PKI/signer.p12" --pass-env PW --tsa "$TSA" --tsa-ca "$PKI/root.pem" --level B-T \
	"$T/plain.pdf" "$T/bt.pdf"
validate "$T/bt.pdf" B-T 1 B-T
openssl_cms 1 "$T/bt.pdf" B-T

check "sign B-LT (CRLs fetched from the distribution points)" sign --p12 "$PKI/signer.p12" \
	--pass-env PW --tsa "$TSA" --tsa-ca "$PKI/root.pem" --level B-LT "$T/plain.pdf" "$T/blt.pdf"
validate "$T/blt.pdf" B-LT 1 B-LT
check "B-LT: DSS holds the CRLs of both CAs" grep -q '"crls":2' "$T/verify.json"

check "sign B-LT (OCSP response given, no fetching)" sign --p12 "$PKI/signer.p12" --pass-env PW \
	--tsa "$TSA" --tsa-ca "$PKI/root.pem" --level B-LT --ocsp "$PKI/signer.ocsp" --crl "$PKI/root.crl" --no-fetch \
	"$T/xs.pdf" "$T/blt-ocsp.pdf"
validate "$T/blt-ocsp.pdf" "B-LT OCSP" 1 B-LT
check "B-LT: DSS holds the OCSP response" grep -q '"ocsps":1' "$T/verify.json"

check "sign B-LT (OCSP fetched from the responder, CRLs for the CAs)" sign --p12 "$PKI/signer.p12" \
	--pass-env PW --tsa "$TSA" --tsa-ca "$PKI/root.pem" --level B-LT --prefer-ocsp "$T/plain.pdf" "$T/blt-ocspf.pdf"
validate "$T/blt-ocspf.pdf" "B-LT fetched OCSP" 1 B-LT
check "B-LT: DSS holds the fetched OCSP response and the root's CRL" \
	grep -q '"crls":1,"ocsps":1' "$T/verify.json"

check "sign B-LTA" sign --p12 "$PKI/signer.p12" --pass-env PW --tsa "$TSA" --tsa-ca "$PKI/root.pem" --level B-LTA \
	"$T/plain.pdf" "$T/blta.pdf"
validate "$T/blta.pdf" B-LTA 1 B-LTA 1
openssl_cms 1 "$T/blta.pdf" B-LTA
openssl_ts 2 "$T/blta.pdf" B-LTA

# --- the same levels through a batch ----------------------------------------
# A split batch is signed differently: the splitter leaves the signature's
# room in its one full write and the signer fills it in place
# (pades_sign_slot), then adds the B-LT and B-LTA updates.  Each level is
# checked on a resident's PDF as the store serves it.
C=$T/corpus
if sh "$TOP/tests/bench/gen-corpus" "$C" 3 >"$T/gen.log" 2>&1 && [ -s "$C/corpus.pdf" ]; then
	ok "generate a 3-resident corpus"
else
	fail "generate a 3-resident corpus"; sed 's/^/#   /' "$T/gen.log" | head -5
fi
KEY=$(sed -n 2p "$C/corpus.csv" | cut -d, -f1)
for lv in B-B B-T B-LT B-LTA; do
	D=$T/tenant-$lv
	"$TAYORI" init -d "$D" >"$T/init.log" 2>&1 || { fail "batch $lv: init"; sed 's/^/#   /' "$T/init.log"; continue; }
	cp "$PKI/signer.p12" "$D/keys/signing.p12"
	sed -i -e 's|^#p12_pass_env = .*|p12_pass_env = PW|' -e "s|^#level = B-B|level = $lv|" \
		-e "s|^#tsa_url = .*|tsa_url = \"$TSA\"|" -e 's|^#tsa_ca_file = .*|tsa_ca_file = tsa-ca.pem|' \
		-e 's|^#syslog = .*|syslog = no|' "$D/tayori.conf"
	cp "$PKI/root.pem" "$D/tsa-ca.pem"
	mkdir -p "$T/in-$lv"
	cp "$C/corpus.pdf" "$C/corpus.csv" "$T/in-$lv/"
	check "batch $lv: tayori submit signs every resident" "$TAYORI" submit -d "$D" "$T/in-$lv"
	rm -f "$T/batch-$lv.pdf"
	if "$TAYORI" batch pdf 1 "$KEY" "$T/batch-$lv.pdf" -d "$D" >"$T/pdf.err" 2>&1; then
		[ "$lv" = B-LTA ] && ndts=1 || ndts=0
		validate "$T/batch-$lv.pdf" "batch $lv" 1 "$lv" "$ndts"
		openssl_cms 1 "$T/batch-$lv.pdf" "batch $lv"
	else
		fail "batch $lv: the stored PDF"; sed 's/^/#   /' "$T/pdf.err"
	fi
done
openssl_ts 2 "$T/batch-B-LTA.pdf" "batch B-LTA"

# --- an already-signed input: incremental update, both stay valid ----------
check "sign an already-signed (B-LT) file with the EC key" sign --p12 "$PKI/signer-ec.p12" \
	--pass-env PW "$T/blt.pdf" "$T/twice.pdf"
validate "$T/twice.pdf" "signed twice" 2 B-B
check "the first revision is kept byte for byte" \
	cmp -n "$(wc -c <"$T/blt.pdf")" "$T/blt.pdf" "$T/twice.pdf"
check "verify: the first signature reports later updates" grep -q '"later_updates":2' "$T/verify.json"

# --- PKCS#11: SoftHSM2 tokens (RSA and EC) ----------------------------------
# Labels that are not prefixes of each other: some PKCS#11 tools match a
# token label by prefix, which picked either token at random.
mkdir -p "$T/hsm/tokens"
printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" >"$T/hsm/softhsm2.conf"
export SOFTHSM2_CONF=$T/hsm/softhsm2.conf
p11() { pkcs11-tool --module "$SOFTHSM_MODULE" "$@"; }
softhsm2-util --init-token --free --label tayori-rsa --pin 1234 --so-pin 5678 >/dev/null 2>&1
softhsm2-util --init-token --free --label tayori-ec --pin 1234 --so-pin 5678 >/dev/null 2>&1
openssl pkcs8 -topk8 -nocrypt -in "$PKI/signer.key" -out "$T/hsm/rsa.p8"
openssl pkcs8 -topk8 -nocrypt -in "$PKI/signer-ec.key" -out "$T/hsm/ec.p8"
openssl x509 -in "$PKI/signer.pem" -outform DER -out "$T/hsm/rsa.der"
openssl x509 -in "$PKI/signer-ec.pem" -outform DER -out "$T/hsm/ec.der"
openssl x509 -in "$PKI/inter.pem" -outform DER -out "$T/hsm/inter.der"
check "import the RSA key into SoftHSM" softhsm2-util --import "$T/hsm/rsa.p8" --token tayori-rsa --label signkey --id 01 --pin 1234
check "import its certificate" p11 --token-label tayori-rsa --login --pin 1234 --write-object "$T/hsm/rsa.der" --type cert --id 01 --label signcert
check "import the CA certificate" p11 --token-label tayori-rsa --login --pin 1234 --write-object "$T/hsm/inter.der" --type cert --id 02 --label inter
check "import the EC key into SoftHSM" softhsm2-util --import "$T/hsm/ec.p8" --token tayori-ec --label eckey --id 03 --pin 1234
check "import its certificate" p11 --token-label tayori-ec --login --pin 1234 --write-object "$T/hsm/ec.der" --type cert --id 03
export PIN=1234
check "sign B-T with the SoftHSM RSA key" sign --pkcs11-module "$SOFTHSM_MODULE" --pkcs11-token tayori-rsa \
	--pin-env PIN --chain "$PKI/root.pem" --tsa "$TSA" --tsa-ca "$PKI/root.pem" --level B-T "$T/plain.pdf" "$T/hsm-rsa.pdf"
validate "$T/hsm-rsa.pdf" "SoftHSM RSA" 1 B-T
export PIN=1234
check "sign B-B with the SoftHSM EC key" sign --pkcs11-module "$SOFTHSM_MODULE" --pkcs11-token tayori-ec \
	--pin-env PIN --chain "$PKI/chain.pem" "$T/xs.pdf" "$T/hsm-ec.pdf"
validate "$T/hsm-ec.pdf" "SoftHSM EC" 1 B-B
export PIN=0000
check_status 1 "a wrong PIN is refused" sign --pkcs11-module "$SOFTHSM_MODULE" --pkcs11-token tayori-rsa \
	--pin-env PIN "$T/plain.pdf" "$T/x.pdf"
export PIN=1234
check_status 1 "an unknown token is refused" sign --pkcs11-module "$SOFTHSM_MODULE" --pkcs11-token nosuch \
	--pin-env PIN "$T/plain.pdf" "$T/x.pdf"

# --- refusals and failures --------------------------------------------------
printf '\211PNG\r\n\032\n\0\0\0\rIHDR' >"$T/fake.pdf"
check_status 1 "a PNG named .pdf is refused" sign --p12 "$PKI/signer.p12" --pass-env PW "$T/fake.pdf" "$T/x.pdf"
: >"$T/empty.pdf"
check_status 1 "an empty file is refused" sign --p12 "$PKI/signer.p12" --pass-env PW "$T/empty.pdf" "$T/x.pdf"
qpdf --encrypt user owner 256 -- "$T/plain.pdf" "$T/enc.pdf"
check_status 1 "an encrypted PDF is refused" sign --p12 "$PKI/signer.p12" --pass-env PW "$T/enc.pdf" "$T/x.pdf"
PW=wrong
check_status 1 "a wrong PKCS#12 password is refused" sign --p12 "$PKI/signer.p12" --pass-env PW "$T/plain.pdf" "$T/x.pdf"
PW=test
check_status 1 "a password variable that is not set is refused" sign --p12 "$PKI/signer.p12" --pass-env NO_SUCH_VAR "$T/plain.pdf" "$T/x.pdf"
check_status 2 "B-T without --tsa is a usage error" sign --p12 "$PKI/signer.p12" --pass-env PW --level B-T "$T/plain.pdf" "$T/x.pdf"
check_status 2 "an unknown level is a usage error" sign --p12 "$PKI/signer.p12" --pass-env PW --level B-X "$T/plain.pdf" "$T/x.pdf"
check_status 3 "a TSA that is down is a temporary failure" sign --p12 "$PKI/signer.p12" --pass-env PW \
	--tsa http://127.0.0.1:9/tsa --tsa-ca "$PKI/root.pem" --level B-T "$T/plain.pdf" "$T/x.pdf"
check "nothing was written by the failures" test ! -e "$T/x.pdf"

# --- tampering is detected by every validator --------------------------------
cp "$T/bb.pdf" "$T/tampered.pdf"
printf 'X' | dd of="$T/tampered.pdf" bs=1 seek=300 conv=notrunc 2>/dev/null
check_status 1 "tayori pdf verify rejects a tampered file" "$CLI" pdf verify "$T/tampered.pdf"
check "pdfsig sees the digest mismatch" sh -c "pdfsig '$T/tampered.pdf' 2>&1 | grep -q 'Digest Mismatch'"
check "mutool sees the change" sh -c "mutool sign -v '$T/tampered.pdf' 2>&1 | grep -q 'Digest error'"
check_status 1 "an unsigned PDF does not verify" "$CLI" pdf verify "$T/plain.pdf"

# A refused file whose name holds a line break and a quote: --json still
# prints one valid JSON object naming it, with valid=false.
bad="$T/not a
pdf \"x\".pdf"
printf 'PNG' >"$bad"
"$CLI" pdf verify --json "$bad" >"$T/badname.json" 2>/dev/null
check "verify --json of a refused file with a line break in its name is valid JSON" \
	/usr/bin/python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
assert o["valid"] is False and o["file"] == sys.argv[2] and o["error"], o' "$T/badname.json" "$bad"

done_testing
