#!/bin/sh
# The WAF sample (contrib/waf): a private, real nginx with ModSecurity v3 and
# the OWASP Core Rule Set in front of the running portal.  SQL injection and
# XSS probes, in the query string and in a POST form, are refused with 403
# by the WAF (the audit log names the CRS rules that blocked them);
# ordinary requests with Japanese text (a notice code and
# Japanese form values, URL-encoded UTF-8) pass and get the portal's own
# answer.  WAF_PARANOIA=N runs the same checks at another CRS paranoia
# level; WAF_POST_PATH names the portal's form endpoint (default /).
. "$(dirname "$0")/lib.sh"
MOD=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
for f in /usr/sbin/nginx "$MOD" /usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf; do
	[ -e "$f" ] || { fail "$f is installed (contrib/install-deps --test: nginx libnginx-mod-http-modsecurity modsecurity-crs)"; done_testing; exit 1; }
done
POST_PATH=${WAF_POST_PATH:-/}

# 1. The portal on loopback, as in production behind the proxy.
D=$T/var
P1=$((20000 + $$ % 12000)); P2=$((P1 + 1)); PW=$((P1 + 2)) # below the ephemeral ports (32768-)
"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill $SUP; sleep 1; pkill -9 -P $SUP; kill -9 $SUP"
check "the resident portal answers" wait_for 15 curl -fsS "http://127.0.0.1:$P1/healthz"

# 2. nginx from a private config in $T: the sample's rules and proxy block,
# copied with only their paths changed (and the paranoia level, if asked).
N=$T/nginx
mkdir -p "$N/waf" "$N/logs" "$N/tmp"
chmod 755 "$N" "$N/waf"
chmod 1777 "$N/tmp" # the worker may run as nobody when the test runs as root
for f in modsecurity.conf crs-tayori.conf crs-tayori-after.conf portal-proxy.conf; do
	cp "$TOP/contrib/waf/$f" "$N/waf/$f"
done
sed -i "s#^SecAuditLog .*#SecAuditLog $N/logs/modsec_audit.log#" "$N/waf/modsecurity.conf"
sed -i "s#/etc/nginx/tayori-waf/#$N/waf/#" "$N/waf/portal-proxy.conf"
if [ -n "${WAF_PARANOIA:-}" ]; then
	sed -i "s/tx.paranoia_level=1/tx.paranoia_level=$WAF_PARANOIA/" "$N/waf/crs-tayori.conf"
fi
cat > "$N/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
load_module $MOD;
events { worker_connections 256; }
http {
	access_log $N/logs/access.log;
	client_body_temp_path $N/tmp/body;
	proxy_temp_path $N/tmp/proxy;
	fastcgi_temp_path $N/tmp/fastcgi;
	uwsgi_temp_path $N/tmp/uwsgi;
	scgi_temp_path $N/tmp/scgi;
	upstream tayori_portal {
		server 127.0.0.1:$P1;
		keepalive 8;
	}
	server {
		listen 127.0.0.1:$PW;
		include $N/waf/portal-proxy.conf;
	}
}
EOF
check "the sample configuration is valid (nginx -t)" nginx -t -q -p "$N/" -c "$N/nginx.conf" -e "$N/logs/error.log"
# The full sample (TLS, limits, HSTS) is valid too, with a test certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=notice.example.lg.jp \
	-keyout "$N/test.key" -out "$N/test.pem" >/dev/null 2>&1
sed -e "s#/etc/nginx/tayori-waf/#$N/waf/#" -e "s#modules/ngx_http_modsecurity_module.so#$MOD#" \
    -e "s#/etc/ssl/certs/notice.example.lg.jp.pem#$N/test.pem#" \
    -e "s#/etc/ssl/private/notice.example.lg.jp.key#$N/test.key#" \
    "$TOP/contrib/waf/nginx.conf" > "$N/sample.conf"
check "the full sample nginx.conf is valid (nginx -t)" \
	nginx -t -q -p "$N/" -c "$N/sample.conf" -e "$N/logs/error.log" -g "pid $N/sample.pid;"
nginx -p "$N/" -c "$N/nginx.conf" -e "$N/logs/error.log" >"$T/nginx.out" 2>&1 &
NG=$!
at_exit "kill $NG"
check "nginx with ModSecurity answers in front of the portal" wait_for 15 curl -fsS "http://127.0.0.1:$PW/healthz"
check "ModSecurity loaded the Core Rule Set" grep -q "ModSecurity-nginx" "$N/logs/error.log"
W=http://127.0.0.1:$PW
PORTAL=http://127.0.0.1:$P1

# A resident's browser names the site, not an address (CRS scores a
# numeric Host as suspect, which would make these checks stricter than real
# traffic).
status() { curl -s -o /dev/null -w '%{http_code}' -H "Host: notice.example.lg.jp" "$@"; }
# The WAF's own refusals are told from the portal's (which may answer 403
# itself, e.g. to a form without a valid CSRF token) by the audit log: CRS
# blocks through rule 949110 (inbound anomaly score exceeded).
# blocked DESC RULE-PREFIX CURL-ARGS... : 403 through the WAF, blocked by
# the CRS, and the audit log names a rule of that family.
blocked() {
	d=$1; rule=$2; shift 2
	: > "$N/logs/modsec_audit.log"
	w=$(status "$@" "$W$path")
	# nginx may write the audit record just after the response: wait for it.
	wait_for 10 grep -q "id \"$rule" "$N/logs/modsec_audit.log"
	if [ "$w" = 403 ] && grep -q 'id "949110"' "$N/logs/modsec_audit.log" &&
	   grep -q "id \"$rule" "$N/logs/modsec_audit.log"; then
		ok "$d is blocked with 403 (rule $rule*)"
	else
		fail "$d is blocked with 403 (through the WAF: $w)"
		grep -o 'id "[0-9]*"' "$N/logs/modsec_audit.log" | sort -u | sed 's/^/#   audit log: /'
	fi
}
# passes DESC CURL-ARGS... : through the WAF the same status as from the
# portal alone, and nothing blocked by the CRS.
passes() {
	d=$1; shift
	: > "$N/logs/modsec_audit.log"
	w=$(status "$@" "$W$path"); p=$(status "$@" "$PORTAL$path")
	if [ "$w" = "$p" ] && ! grep -q 'id "949110"' "$N/logs/modsec_audit.log"; then
		ok "$d passes the WAF (status $w, as from the portal alone)"
	else
		fail "$d passes the WAF (through the WAF: $w, portal alone: $p)"
		grep -o 'id "[0-9]*".*msg "[^"]*"' "$N/logs/modsec_audit.log" | sort -u | sed 's/^/#   audit log: /'
		grep -o '\[data "[^"]*"\]' "$N/logs/modsec_audit.log" | head -5 | cut -c1-300 | sed 's/^/#   /'
	fi
}

# 3. Attacks: SQL injection and XSS, in the query string and in a form.
path="/?code=1%27%20OR%20%271%27%3D%271"
blocked "SQL injection in the query string" 942 -G
path="/?q=1%20UNION%20SELECT%20password%20FROM%20users--"
blocked "UNION SELECT in the query string" 942 -G
path="/?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E"
blocked "a script tag in the query string" 941 -G
path="/?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
blocked "an event handler in the query string" 941 -G
path=$POST_PATH
blocked "SQL injection in a POST form" 942 --data-urlencode "code=1' OR '1'='1" --data-urlencode "csrf=Zt3kq9Xw0b8yR2mV4cJ7hL1p"
blocked "a script tag in a POST form" 941 --data-urlencode "name=<script>alert(document.cookie)</script>" --data-urlencode "csrf=Zt3kq9Xw0b8yR2mV4cJ7hL1p"
blocked "an event handler in a POST form" 941 --data-urlencode "name=<svg onload=alert(1)>"

# 4. What residents send: pages, Japanese text in the query and in forms,
# notice codes, dates in every form the portal reads, a consent choice.
path=/
passes "the front page" -G
path=/healthz
passes "a plain GET" -G
path="/?q=$(printf '保護番号' | /usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read()))')"
passes "Japanese text in the query string" -G
path=$POST_PATH
passes "a notice code with Japanese form values" \
	--data-urlencode "code=K7QM-3XHP-RW2A-9" \
	--data-urlencode "name=山田 太郎" \
	--data-urlencode "address=東京都千代田区霞が関１丁目２－３　ハイツ霞が関１０１号室" \
	--data-urlencode "birth=昭和55年4月1日" \
	--data-urlencode "csrf=Zt3kq9Xw0b8yR2mV4cJ7hL1p-_x"
passes "birth dates in the other usual forms" \
	--data-urlencode "birth=1980-04-01" --data-urlencode "birth2=1980/4/1" \
	--data-urlencode "birth3=S55.4.1" --data-urlencode "birth4=Ｓ５５．４．１"
passes "a one-time password" --data-urlencode "otp=048213" --data-urlencode "csrf=Zt3kq9Xw0b8yR2mV4cJ7hL1p"
passes "a consent choice with a sentence of Japanese punctuation" \
	--data-urlencode "consent=yes" --data-urlencode "terms=2026-04版" \
	--data-urlencode "note=「電子交付」に同意します。書面（紙）での送付は不要です！ご確認をお願いします：区役所・税務課。"
passes "a long Japanese sentence" \
	--data-urlencode "note=このたびは通知書を電子で受け取りました。内容を確認し、期限までに手続きを行います。不明な点があれば区役所の窓口に問い合わせます。よろしくお願いいたします。"
passes "half-width katakana and full-width digits" \
	--data-urlencode "kana=ﾔﾏﾀﾞ ﾀﾛｳ" --data-urlencode "tel=０３－１２３４－５６７８" \
	--data-urlencode "note=（株）テスト商事　担当：佐藤様＜至急＞【重要】※ご確認ください♪"
passes "a message with a URL and ASCII punctuation" \
	--data-urlencode "note=詳しくは https://www.city.example.lg.jp/kurashi/zei/notice.html をご覧ください (2026年4月1日~6月30日)。"

# 5. A real browser through the WAF, under the site's name: the page and its
# stylesheet pass (when Chromium is installed; browser_portal.sh says so
# when it is not, and checks the pages with axe).
if [ -x /usr/bin/chromium ] && [ -d "$TOP/tests/browser/node_modules/playwright-core" ]; then
	HOME=$T/home; export HOME; mkdir -p "$HOME"
	SHOTS=${ARTEFACTS:-$TOP/build/artefacts}/screenshots
	mkdir -p "$SHOTS"; rm -f "$SHOTS"/waf-*.png
	: > "$N/logs/modsec_audit.log"
	node "$TOP/tests/browser/run.js" --out "$SHOTS" --name waf \
		--host-map "notice.example.lg.jp=127.0.0.1" \
		phone "goto=http://notice.example.lg.jp:$PW/" text=オンライン通知 shot=front-through-the-waf ||
		_nfail=$((_nfail + 1))
	check "... and the WAF blocked nothing the browser asked for" sh -c "! grep -q 'id \"949110\"' '$N/logs/modsec_audit.log'"
fi
kill "$NG" 2>/dev/null
done_testing
