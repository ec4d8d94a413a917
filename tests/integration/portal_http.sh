#!/bin/sh
# The portal's HTTP layer in the running daemon, seen with curl: `tayori
# run` serves both listeners; every response (page, stylesheet, 404, 405,
# 413, 431) carries the security headers; a body over the cap gets 413,
# a huge header block 431 (or 400); the stylesheet is served; the staff
# listener still answers its placeholder; connections from loopback (a
# local proxy) are not limited per IP; a plain-HTTP listener on 0.0.0.0
# is refused with a message saying TLS is required.
. "$(dirname "$0")/lib.sh"
D=$T/var
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
P1=$((20000 + $$ % 20000)); P2=$((P1 + 1))
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "tayori runs with the portal ready" wait_for 20 grep -q "role=portal .*event=ready" "$T/run.log"
R=http://127.0.0.1:$P1

# hdrs NAME ARGS...: the response headers of curl ARGS into $T/NAME.h, body in $T/NAME.b
hdrs() { n=$1; shift; curl -s -o "$T/$n.b" -D "$T/$n.h" "$@" 2>/dev/null; tr -d '\r' <"$T/$n.h" >"$T/$n.hh"; }
status() { sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$T/$1.hh"; }
has() { grep -qix "$2" "$T/$1.hh"; }
once() { [ "$(grep -ic "^$2:" "$T/$1.hh")" = 1 ]; }

# security_ok NAME [CSP]: the resident listener's CSP (no script) unless named
security_ok() {
	n=$1
	has "$n" "content-security-policy: ${2:-default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'}" &&
	has "$n" "x-frame-options: DENY" && has "$n" "referrer-policy: no-referrer" &&
	has "$n" "x-content-type-options: nosniff" && once "$n" cache-control &&
	once "$n" content-security-policy && once "$n" x-frame-options &&
	! grep -qi "^strict-transport-security:" "$T/$n.hh"
}

hdrs front "$R/"
check "the front page answers 200" test "$(status front)" = 200
check "the front page carries every security header" security_ok front
check "the front page is not cached" has front "cache-control: no-store"
check "the front page links the stylesheet" grep -q 'href="/static/style.css"' "$T/front.b"
hdrs css "$R/static/style.css"
check "the stylesheet is served as CSS" has css "content-type: text/css; charset=utf-8"
check "the stylesheet carries the security headers" security_ok css
check "the stylesheet fits a 360 px phone" grep -q "max-width:400px" "$T/css.b"
hdrs head -I "$R/"
check "HEAD gets 200 and the security headers" sh -c "test $(status head) = 200" && check "HEAD security headers" security_ok head
hdrs nf "$R/no/such/page"
check "an unknown page gets 404 with the headers" sh -c "test $(status nf) = 404" && check "404 security headers" security_ok nf
hdrs put -X PUT "$R/"
check "PUT gets 405 with the headers" sh -c "test $(status put) = 405" && check "405 security headers" security_ok put
check "405 says what is allowed" has put "allow: GET, HEAD"
head -c 300000 /dev/zero | tr '\0' a >"$T/big"
hdrs big -X POST -H "Content-Type: application/x-www-form-urlencoded" --data-binary @"$T/big" "$R/"
check "a large body gets 413" test "$(status big)" = 413
check "413 carries the security headers" security_ok big
hdrs hh -H "X-Big: $(head -c 10000 /dev/zero | tr '\0' a)" "$R/"
check "a header block over 8 KiB gets 431" test "$(status hh)" = 431
check "431 carries the security headers" security_ok hh
hdrs hh2 -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" "$R/"
check "a huge header block gets 431 or 400" sh -c "case $(status hh2) in 431|400) true;; *) false;; esac"
hdrs post -X POST -H "Content-Type: application/x-www-form-urlencoded" --data "a=1" "$R/"
check "a POST to a GET page gets 405" test "$(status post)" = 405
hdrs staff "http://127.0.0.1:$P2/"
check "the staff listener answers its page" sh -c "test $(status staff) = 200 && grep -q 職員ダッシュボード '$T/staff.b'"
# The staff listener's CSP allows the dashboard's own script and its event stream, nothing more.
check "the staff page carries the security headers" security_ok staff \
	"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
hdrs health "$R/healthz"
check "/healthz says ok" grep -qx ok "$T/health.b"

# A loopback peer is a local proxy (the WAF) or tool: 70 connections from
# it stay open (the per-IP limit is tested from a real address in
# portal_tls.sh).
python3 "$TOP/tests/integration/conn_limit.py" 127.0.0.1 "$P1" 70 >"$T/conn.out" 2>&1
check "70 connections from loopback stay open" grep -qx "closed 0" "$T/conn.out"
check "the portal serves with them gone" wait_for 5 sh -c "curl -sf '$R/healthz' | grep -qx ok"

# A plain-HTTP listener on every address is refused, and says why.
kill -TERM $SUP; wait $SUP 2>/dev/null
sed -i -e "s/^resident_listen = .*/resident_listen = 0.0.0.0:$P1/" "$D/tayori.conf"
"$TAYORI" conf check -d "$D" >"$T/check.out" 2>&1; st=$?
check "tayori conf check says it first: exit 1 naming the line and the setting" sh -c \
	"[ $st = 1 ] && grep -q 'tayori.conf:[0-9]*: resident_listen = 0.0.0.0:$P1: TLS is required on an address other than loopback' '$T/check.out'"
"$TAYORI" run -d "$D" >"$T/run2.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; kill -9 $SUP; pkill -9 -P $SUP"
check "0.0.0.0 without TLS is refused with a clear message" \
	wait_for 20 grep -q "TLS is required on an address other than loopback" "$T/run2.log"
check "nothing answers on 0.0.0.0" sh -c "! curl -s -o /dev/null 'http://127.0.0.1:$P1/'"
kill -TERM $SUP 2>/dev/null; wait $SUP 2>/dev/null
done_testing
