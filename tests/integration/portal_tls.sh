#!/bin/sh
# The portal over TLS, probed with openssl s_client against `tayori run`
# with a self-signed certificate: TLS 1.3 and TLS 1.2 with ECDHE and an AEAD
# suite are accepted; TLS 1.0 and 1.1, CBC suites and key exchange without
# forward secrecy are refused (CRYPTREC 推奨セキュリティ型).  A control
# server (openssl s_server) shows the refused probes do reach a server
# that allows them, so a refusal is the portal's.  Pages over HTTPS carry
# HSTS and the security headers; with TLS the portal may listen on 0.0.0.0,
# where connections per client address are limited.
. "$(dirname "$0")/lib.sh"
D=$T/var
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/tls.key" -out "$D/tls.crt" -days 2 \
	-subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
	{ fail "openssl makes a certificate"; done_testing; exit 1; }
chmod 600 "$D/tls.key"
# Started as root, the roles run as the service user: let it read them.
if [ "$(id -u)" = 0 ] && id tayori >/dev/null 2>&1; then chown tayori "$D/tls.key" "$D/tls.crt"; fi
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1)); P3=$((P1 + 2))
sed -i -e "s/^#resident_listen = .*/resident_listen = 0.0.0.0:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s|^#tls_cert = .*|tls_cert = $D/tls.crt|" \
       -e "s|^#tls_key = .*|tls_key = $D/tls.key|" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
check "the configuration with TLS is valid" "$TAYORI" conf check -d "$D"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "with TLS the portal listens on 0.0.0.0" wait_for 20 grep -q "role=portal .*event=ready" "$T/run.log"
sed 's/^/#   /' "$T/run.log" | grep -i "portal.*fail" | head -5

# probe PORT ARGS...: 0 when a handshake with these s_client ARGS completes
probe() {
	port=$1; shift
	echo Q | timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" \
		>"$T/probe.out" 2>&1 </dev/null
	grep -q "Cipher is [A-Z]" "$T/probe.out"
}
check "TLS 1.3 is accepted" probe $P1 -tls1_3
check "... with an AEAD suite" grep -q "TLS_AES_256_GCM_SHA384\|TLS_AES_128_GCM_SHA256\|TLS_CHACHA20_POLY1305_SHA256" "$T/probe.out"
check "TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256 is accepted" probe $P1 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
check "TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384 is accepted" probe $P1 -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
check "TLS 1.2 with ECDHE-RSA-CHACHA20-POLY1305 is accepted" probe $P1 -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
LOW="DEFAULT:@SECLEVEL=0"
# Both listeners: the residents' ($P1) and the staff dashboard's ($P2).
for p in $P1 $P2; do
	[ $p = $P1 ] && who=residents || who=staff
	check "$who: TLS 1.2 with an ECDHE AEAD suite is accepted" probe $p -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
	for v in tls1 tls1_1; do
		if probe $p -$v -cipher "$LOW"; then fail "$who: -$v is refused"; else ok "$who: -$v is refused"; fi
	done
	for c in AES128-SHA ECDHE-RSA-AES128-SHA ECDHE-RSA-AES128-SHA256 AES256-SHA256; do
		if probe $p -tls1_2 -cipher "$c"; then fail "$who: CBC suite $c is refused"; else ok "$who: CBC suite $c is refused"; fi
	done
	for c in AES128-GCM-SHA256 AES256-GCM-SHA384; do
		if probe $p -tls1_2 -cipher "$c"; then fail "$who: $c (no forward secrecy) is refused"; else ok "$who: $c (no forward secrecy) is refused"; fi
	done
done

# The control: the same probes complete against a server that allows them.
openssl s_server -accept "127.0.0.1:$P3" -cert "$D/tls.crt" -key "$D/tls.key" -cipher "$LOW" \
	-www >"$T/control.log" 2>&1 &
CTL=$!
at_exit "kill $CTL"
wait_for 5 sh -c "echo | openssl s_client -connect 127.0.0.1:$P3 >/dev/null 2>&1" || true
check "control: TLS 1.0 completes against openssl s_server" probe $P3 -tls1 -cipher "$LOW"
check "control: a CBC suite completes against openssl s_server" probe $P3 -tls1_2 -cipher AES128-SHA
kill $CTL 2>/dev/null

# The per-IP connection limit (64), from this host's own address: the
# connections over it are closed at once, before any TLS.
HOSTIP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
if [ -n "$HOSTIP" ]; then
	python3 "$TOP/tests/integration/conn_limit.py" "$HOSTIP" "$P1" 70 >"$T/conn.out" 2>&1
	check "connections over the per-IP limit are closed at once" grep -qx "closed 6" "$T/conn.out"
	check "the portal answers again once they are gone" \
		wait_for 5 sh -c "curl -sk 'https://$HOSTIP:$P1/healthz' | grep -qx ok"
else
	ok "# SKIP no address other than loopback to test the per-IP limit from"
fi

# Pages over HTTPS.
curl -sk -o "$T/b" -D "$T/h" "https://127.0.0.1:$P1/" 2>"$T/curl.err"
tr -d '\r' <"$T/h" >"$T/hh"
check "the front page answers over HTTPS" grep -q "^HTTP/[0-9.]* 200" "$T/hh"
check "HTTPS responses carry HSTS" grep -qix "strict-transport-security: max-age=31536000" "$T/hh"
check "... and the CSP" grep -qi "^content-security-policy: default-src 'none'" "$T/hh"
check "... and X-Frame-Options" grep -qix "x-frame-options: DENY" "$T/hh"
check "plain HTTP on the TLS port gets no page" sh -c "! curl -s --max-time 5 http://127.0.0.1:$P1/ | grep -q '<html'"
curl -sk -o /dev/null -D "$T/h2" "https://127.0.0.1:$P2/" 2>/dev/null
check "the staff listener is on TLS too" grep -q "^HTTP/[0-9.]* 200" "$T/h2"
kill -TERM $SUP; wait $SUP 2>/dev/null

# A certificate that is not one: the portal refuses to start, and says so.
echo "not a certificate" >"$D/tls.crt"
"$TAYORI" run -d "$D" >"$T/run2.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "a broken certificate stops the portal with a message" \
	wait_for 20 grep -q "TLS certificate and key valid" "$T/run2.log"
kill -TERM $SUP; wait $SUP 2>/dev/null
done_testing
