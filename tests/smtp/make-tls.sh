#!/bin/sh
# tests/smtp/make-tls.sh DIR — throwaway TLS material for the SMTP client
# tests: a test CA (ca.pem), a relay certificate it issued for the name
# "localhost" only (relay.pem, relay.key; no IP address in it, so a client
# that dialled 127.0.0.1 must refuse it), and an unrelated CA (other-ca.pem)
# that a client must not accept the relay's certificate under.
set -eu
DIR=$1
mkdir -p "$DIR"
cd "$DIR"
export OPENSSL_CONF=/dev/null
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
# shellcheck disable=SC2086 # $ec is several options
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 30 -subj "/CN=tayori test SMTP CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
# shellcheck disable=SC2086
openssl req -x509 $ec -keyout other-ca.key -out other-ca.pem -days 30 -subj "/CN=tayori other CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
# shellcheck disable=SC2086
openssl req $ec -keyout relay.key -out relay.csr -subj "/CN=localhost" 2>/dev/null
cat >relay.ext <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
EXT
openssl x509 -req -in relay.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile relay.ext \
	-out relay.pem 2>/dev/null
