#!/bin/sh
# tests/pki/make-pki.sh DIR BASEURL — a throwaway PKI for the PAdES tests.
#
# Makes, under DIR: a root CA, an intermediate CA, an RSA-2048 signer and an
# EC P-256 signer issued by the intermediate (PKCS#12 with the chain,
# password "test"), a time-stamping authority certificate issued by the root
# (extendedKeyUsage critical timeStamping, RFC 3161 §2.3), CRLs of both CAs,
# an OCSP response for the RSA signer, and tsa.cnf for `openssl ts -reply`.
# For the time-stamp checks: a self-signed "evil" TSA (evil.pem, evil.cnf),
# a root-issued TSA certificate without the timeStamping key usage
# (noeku.pem), and TLS server certificates issued by the root for an
# https:// TSA: tls.pem for 127.0.0.1 and localhost, tls-other.pem for
# another host name.
# Certificates name BASEURL/root.crl and BASEURL/inter.crl as CRL
# distribution points and BASEURL/ocsp as OCSP responder, so that the
# server of tests/pki/server.py (started first, on a free port) serves them.
set -eu
DIR=$1
BASE=$2
mkdir -p "$DIR"
cd "$DIR"
Q="-batch -notext"
export OPENSSL_CONF=/dev/null

ca_conf() { # ca_conf NAME — an `openssl ca` config for CA NAME
	mkdir -p "$1.db"
	: >"$1.db/index.txt"
	echo 1000 >"$1.db/serial"
	echo 1000 >"$1.db/crlnumber"
	cat >"$1.cnf" <<CNF
[ ca ]
default_ca = this
[ this ]
dir = $DIR/$1.db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = $DIR/$1.pem
private_key = $DIR/$1.key
default_md = sha256
default_days = 1825
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationName = optional
countryName = optional
[ v3_inter ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/root.crl
[ v3_signer ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/inter.crl
authorityInfoAccess = OCSP;URI:$BASE/ocsp
[ v3_tsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:$BASE/root.crl
[ v3_noeku ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_tls ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[ v3_tls_other ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:tsa.example.jp
[ v3_ocsp ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
CNF
}

# Root CA (self-signed).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out root.key 2>/dev/null
openssl req -new -x509 -key root.key -out root.pem -days 3650 -sha256 \
	-subj "/C=JP/O=Tayori Test/CN=Tayori Test Root CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash"
ca_conf root

# Intermediate CA.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out inter.key 2>/dev/null
openssl req -new -key inter.key -out inter.csr -subj "/C=JP/O=Tayori Test/CN=Tayori Test Ward CA"
openssl ca $Q -config root.cnf -extensions v3_inter -in inter.csr -out inter.pem 2>/dev/null
ca_conf inter

# Signers (RSA and EC) — the ward's 職責証明書 stand-ins.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out signer.key 2>/dev/null
openssl req -new -key signer.key -out signer.csr -subj "/C=JP/O=Tayori Test/CN=Tayori Test Ward Head"
openssl ca $Q -config inter.cnf -extensions v3_signer -in signer.csr -out signer.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out signer-ec.key 2>/dev/null
openssl req -new -key signer-ec.key -out signer-ec.csr -subj "/C=JP/O=Tayori Test/CN=Tayori Test EC Signer"
openssl ca $Q -config inter.cnf -extensions v3_signer -in signer-ec.csr -out signer-ec.pem 2>/dev/null
cat inter.pem root.pem >chain.pem
openssl pkcs12 -export -inkey signer.key -in signer.pem -certfile chain.pem \
	-name signer -passout pass:test -out signer.p12
openssl pkcs12 -export -inkey signer-ec.key -in signer-ec.pem -certfile chain.pem \
	-name signer-ec -passout pass:test -out signer-ec.p12

# Time-stamping authority, issued by the root.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out tsa.key 2>/dev/null
openssl req -new -key tsa.key -out tsa.csr -subj "/C=JP/O=Tayori Test/CN=Tayori Test TSA"
openssl ca $Q -config root.cnf -extensions v3_tsa -in tsa.csr -out tsa.pem 2>/dev/null
echo 01 >tsaserial
cat >tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = $DIR
serial = \$dir/tsaserial
crypto_device = builtin
signer_cert = \$dir/tsa.pem
certs = \$dir/root.pem
signer_key = \$dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF

# A self-signed TSA nobody trusts, with a valid-looking certificate.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out evil.key 2>/dev/null
openssl req -new -x509 -key evil.key -out evil.pem -days 365 -sha256 \
	-subj "/C=JP/O=Tayori Test/CN=Tayori Test TSA" \
	-addext "basicConstraints=critical,CA:FALSE" \
	-addext "keyUsage=critical,digitalSignature,nonRepudiation" \
	-addext "extendedKeyUsage=critical,timeStamping"
echo 01 >evilserial
sed -e "s|\$dir/tsaserial|\$dir/evilserial|" -e "s|\$dir/tsa.pem|\$dir/evil.pem|" \
	-e "s|\$dir/tsa.key|\$dir/evil.key|" -e "s|\$dir/root.pem|\$dir/evil.pem|" tsa.cnf >evil.cnf
# A root-issued certificate without extendedKeyUsage timeStamping.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out noeku.key 2>/dev/null
openssl req -new -key noeku.key -out noeku.csr -subj "/C=JP/O=Tayori Test/CN=Tayori Test No-EKU TSA"
openssl ca $Q -config root.cnf -extensions v3_noeku -in noeku.csr -out noeku.pem 2>/dev/null
# The TLS server certificate of the https:// TSA, and one for another host.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls.key 2>/dev/null
openssl req -new -key tls.key -out tls.csr -subj "/C=JP/O=Tayori Test/CN=localhost"
openssl ca $Q -config root.cnf -extensions v3_tls -in tls.csr -out tls.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tls-other.key 2>/dev/null
openssl req -new -key tls-other.key -out tls-other.csr -subj "/C=JP/O=Tayori Test/CN=tsa.example.jp"
openssl ca $Q -config root.cnf -extensions v3_tls_other -in tls-other.csr -out tls-other.pem 2>/dev/null

# OCSP responder certificate for the intermediate (id-pkix-ocsp-nocheck).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ocsp.key 2>/dev/null
openssl req -new -key ocsp.key -out ocsp.csr -subj "/C=JP/O=Tayori Test/CN=Tayori Test OCSP"
openssl ca $Q -config inter.cnf -extensions v3_ocsp -in ocsp.csr -out ocsp.pem 2>/dev/null

# CRLs (DER, as served from the distribution points).
openssl ca -config root.cnf -gencrl -out root.crl.pem 2>/dev/null
openssl crl -in root.crl.pem -outform DER -out root.crl
openssl ca -config inter.cnf -gencrl -out inter.crl.pem 2>/dev/null
openssl crl -in inter.crl.pem -outform DER -out inter.crl

# An OCSP response ("good") for the RSA signer, made offline.
openssl ocsp -issuer inter.pem -cert signer.pem -no_nonce -reqout signer.ocspreq 2>/dev/null
openssl ocsp -index inter.db/index.txt -rsigner ocsp.pem -rkey ocsp.key -CA inter.pem \
	-reqin signer.ocspreq -respout signer.ocsp -ndays 30 2>/dev/null

# An NSS database trusting the root, for pdfsig.
mkdir -p nss
certutil -N -d "sql:$DIR/nss" --empty-password
certutil -A -d "sql:$DIR/nss" -n tayori-test-root -t CT,C,C -i root.pem
