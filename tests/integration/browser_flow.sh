#!/bin/sh
# The whole resident flow in a real browser (Debian's headless Chromium,
# driven by tests/browser/run.js), for each way of proving who you are:
# `tayori run` on a demo tenant sends three batches (the link alone, a mailed
# one-time password, a birth date from the CSV) into the outbox Maildir; the
# browser follows the link from the mail the mailer wrote, clicks, proves
# who it is (the one-time password read from the mail), downloads the PDF,
# which must be byte for byte `tayori batch pdf` and valid for pdfsig; the
# arrival shows in `tayori batch show ID --json`; five wrong codes lock.
# A plain GET of a link, as a mail scanner does, records no open.  Every page
# is checked with axe-core at a 360 px phone and at 1280x800; the
# screenshots are kept under build/artefacts/screenshots, numbered in the
# order a resident sees them (01-magic-link.png, 02-magic-notice.png, ...).
# One resident then goes through the WAF sample (nginx, ModSecurity and
# the OWASP CRS from contrib/waf) with a Japanese birth date: nothing is
# refused.  Skipped only when /usr/bin/chromium is missing.
. "$(dirname "$0")/lib.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	echo "# skip: $CHROMIUM is not installed (contrib/install-deps --test installs chromium)"
	done_testing; exit 0
fi
PY=/usr/bin/python3
D=$T/var
ME=$(id -un)
SHOTS=${ARTEFACTS:-$TOP/build/artefacts}/screenshots
mkdir -p "$SHOTS"; rm -f "$SHOTS"/[0-9][0-9]-*.png
HOME=$T/home; export HOME; mkdir -p "$HOME"
for tool in curl pdfsig node iconv; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
[ -d "$TOP/tests/browser/node_modules/playwright-core" ] ||
	{ fail "the browser driver's npm packages are installed (npm ci --prefix tests/browser)"; done_testing; exit 1; }

# The site's real-looking name, resolved to loopback by the browser only.
HOST=tsuchi.ward.example.jp
P1=$((20000 + ($$ + 11) % 12000)); P2=$((P1 + 1)) # below the ephemeral ports
SITE=http://$HOST:$P1
browse() { node "$TOP/tests/browser/run.js" --out "$SHOTS" --story yes --host-map "$HOST=127.0.0.1" "$@" || _nfail=$((_nfail + 1)); }

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" \
       -e "s|^#public_url = .*|public_url = $SITE|" \
       -e "s|^#announcement_url = .*|announcement_url = https://www.city.example.jp/tayori|" \
       -e "s/^#from = .*/from = tsuchi@ward.example.jp/" "$D/tayori.conf"
export PW=a-long-enough-password
"$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add shonin"
"$TAYORI" user add "$ME" -d "$D" --email me@ward.example.jp --role approver --password-env PW >/dev/null 2>&1 || fail "user add $ME"

# --- three batches of three residents, each with an address and a birth date
C=$T/corpus
sh "$TOP/tests/bench/gen-corpus" "$C" 3 >"$T/gen.log" 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
iconv -f CP932 -t UTF-8 "$C/corpus.csv" | tr -d '\r' | sed 1d >"$T/rows.utf8"
batch() { # batch NAME SETTINGS... : submitted and approved; BID set
	_f=$T/$1; shift
	mkdir -p "$_f"; cp "$C/corpus.pdf" "$_f/"
	{ echo "宛名番号,氏名,メールアドレス,生年月日"
	  sed -n 1p "$T/rows.utf8" | cut -d, -f1-3 | sed 's/$/,1980-04-01/'
	  sed -n 2p "$T/rows.utf8" | cut -d, -f1-3 | sed 's/$/,1975-12-31/'
	  sed -n 3p "$T/rows.utf8" | cut -d, -f1-3 | sed 's/$/,2001-02-03/'; } >"$_f/residents.csv"
	{ for s in "$@"; do echo "$s"; done
	  echo
	  echo "区民の皆さまへ。詳しくは https://www.city.example.jp/faq をご覧ください。"
	  echo "この処分に不服がある場合は、審査請求をすることができます。"; } >"$_f/message.txt"
	"$TAYORI" submit -d "$D" --json "$_f" >"$_f.json" 2>"$_f.err" || { sed 's/^/#   /' "$_f.err"; return 1; }
	BID=$(jval "$_f.json" 'd["batch"]')
	"$TAYORI" batch approve "$BID" --as shonin -d "$D" >"$_f.approve" 2>&1
}
check "a link-alone batch" batch magic "件名: 住民税決定通知" "認証: magic" "同意: はい" \
	"教示: この処分に不服がある場合は、処分があったことを知った日の翌日から起算して3か月以内に区長に対して審査請求をすることができます。"
BM=$BID
check "a one-time-password batch" batch otp "件名: 保険料決定通知" "認証: otp"
BO=$BID
check "a birth-date batch" batch csv "件名: 児童手当のお知らせ" "認証: csv" "認証列: 生年月日" "同意: はい"
BC=$BID

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill -TERM $SUP; sleep 1; pkill -9 -P $SUP; kill -9 $SUP"
check "the portal answers" wait_for 15 curl -fsS "http://127.0.0.1:$P1/healthz"
check "the mailer is ready" wait_for 30 grep -q "role=mailer .*event=ready" "$T/run.log"
# The signature guide's pictures come from the portal itself, byte for
# byte the committed PNGs; an unknown one is 404.
for f in "$TOP"/portal/static/*.png; do
	check "the portal serves $(basename "$f") as image/png, byte for byte" sh -c \
		"curl -fsS -D '$T/img.h' -o '$T/img' 'http://127.0.0.1:$P1/static/$(basename "$f")' &&
		 grep -qi '^content-type: image/png' '$T/img.h' && cmp '$T/img' '$f'"
done
check "an unknown picture is 404" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$P1/static/nothing.png)\" = 404 ]"
bstatus() { "$TAYORI" batch show "$1" -d "$D" --json | $PY -c 'import json, sys; print(json.load(sys.stdin)["summary"]["status"])'; }
for b in $BM $BO $BC; do
	"$TAYORI" batch send "$b" --as shonin -d "$D" >/dev/null 2>&1 || fail "batch send $b"
	check "batch $b is sent" wait_for 60 sh -c "[ \"\$(\"$TAYORI\" batch show $b -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
done

# mail.py links BATCH-TITLE ADDR | otp ADDR AFTER: the link in the mail the
# mailer wrote to ADDR for that notice, or the newest six-digit code mailed
# to ADDR after the file AFTER was made (waits up to 20 s for it).
cat >"$T/mail.py" <<'PYEOF'
import email, email.policy, os, re, sys, time
box = sys.argv[1]
def messages():
    for name in sorted(os.listdir(box)):
        p = os.path.join(box, name)
        m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
        yield p, m, m.get_body(preferencelist=("plain",)).get_content()
if sys.argv[2] == "link":
    title, addr = sys.argv[3], sys.argv[4]
    for p, m, text in messages():
        if addr in str(m["To"]) and title in str(m["Subject"]) + text:
            links = re.findall(r"https?://[^\s]+/n/[A-Za-z0-9_-]+", text)
            if links:
                print(links[0]); sys.exit(0)
    sys.exit("no mail for %s about %s" % (addr, title))
addr, after = sys.argv[3], os.stat(sys.argv[4]).st_mtime
for _ in range(200):
    best = None
    for p, m, text in messages():
        if addr in str(m["To"]) and os.stat(p).st_mtime >= after:
            codes = re.findall(r"(?<!\d)\d{6}(?!\d)", text)
            if codes and (best is None or os.stat(p).st_mtime >= best[0]):
                best = (os.stat(p).st_mtime, codes[0])
    if best:
        print(best[1]); sys.exit(0)
    time.sleep(0.1)
sys.exit("no one-time password mailed to " + addr)
PYEOF
BOX=$D/mail/outbox/new
addr() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f3; }
key() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f1; }
link() { $PY "$T/mail.py" "$BOX" link "$1" "$(addr "$2")"; }
LM1=$(link 住民税決定通知 1); LM2=$(link 住民税決定通知 2)
LO1=$(link 保険料決定通知 1); LO2=$(link 保険料決定通知 2)
LC1=$(link 児童手当のお知らせ 1)
check "each resident's mail carries a link to the site" sh -c "echo '$LM1 $LM2 $LO1 $LO2 $LC1' | grep -Eq '^($SITE/n/[A-Za-z0-9_-]+ ?){5}\$'"
# show BATCH, then rjson KEY: that resident's entry of `tayori batch show
# --json` (keys compared as tayori matches them: leading zeros aside)
show() { "$TAYORI" batch show "$1" -d "$D" --json >"$T/show.json" 2>"$T/show.err"; }
rjson() { $PY - "$T/show.json" "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d.get("residents", []):
    if r.get("key", "").lstrip("0") == sys.argv[2].lstrip("0"):
        print(json.dumps(r)); break
PYEOF
}

# --- a mail scanner: a plain GET (and HEAD) of the link records nothing ------
curl -s -o /dev/null -A 'Mozilla/5.0 (compatible; SafeLinks scanner)' --resolve "$HOST:$P1:127.0.0.1" "$LM1"
curl -s -I -o /dev/null --resolve "$HOST:$P1:127.0.0.1" "$LM1"
show "$BM"; rjson "$(key 1)" >"$T/r.json"
jtrue "a scanner's GET and HEAD of the link record no open" "$T/r.json" 'd["opened_at"] is None and d["state"] == "sent"'

# --- 1. the link alone: phone (every page at 1280x800 too), then desktop -------
browse --name magic phone "goto=$LM1" text=住民税決定通知 page=link \
	click=通知を開く page=notice \
	"download=通知書（PDF）をダウンロード::$T/m1.pdf" filename=住民税決定通知.pdf \
	"goto=$SITE/notice" text=到達日時 text=審査請求の期限 page=after-download \
	"download=署名者の証明書（職責証明書）をダウンロード::$T/m1.cer" \
	"click=Acrobat Reader での確認方法" text=署名パネル images page=guide \
	click=通知に戻る click=電子で受け取る（同意する） text=同意いただいています page=consent
"$TAYORI" batch pdf "$BM" "$(key 1)" "$T/m1.stored.pdf" -d "$D" >/dev/null 2>&1
check "link alone: the download is byte for byte tayori batch pdf" cmp "$T/m1.stored.pdf" "$T/m1.pdf"
check "link alone: pdfsig finds the signature valid" sh -c "pdfsig '$T/m1.pdf' | grep -q 'Signature is Valid'"
check "link alone: the certificate downloaded is the signer's" sh -c \
	"openssl x509 -in '$T/m1.cer' -noout -subject -nameopt utf8,sep_multiline | sed -n 's/^ *CN=//p' >'$T/cn' &&
	 test -s '$T/cn' && pdfsig '$T/m1.pdf' | grep -F \"Signer Certificate Common Name: \$(cat '$T/cn')\""
show "$BM"; rjson "$(key 1)" >"$T/r.json"
jtrue "link alone: the arrival appears in tayori batch show --json" "$T/r.json" 'd["state"] == "downloaded" and d["downloaded_at"] is not None and d["opened_at"] is not None'
browse --name magic-desktop desktop "goto=$LM2" page=link click=通知を開く page=notice \
	"download=通知書（PDF）をダウンロード::$T/m2.pdf"
"$TAYORI" batch pdf "$BM" "$(key 2)" "$T/m2.stored.pdf" -d "$D" >/dev/null 2>&1
check "link alone (desktop): the download is the stored PDF" cmp "$T/m2.stored.pdf" "$T/m2.pdf"

# --- 2. a one-time password read from the mail --------------------------------
touch "$T/before-otp1"; sleep 1
browse --name otp phone "goto=$LO1" page=link click=通知を開く page=ask-code \
	click=確認コードをメールで受け取る text=お送りしました page=code-sent \
	"fillcmd=#answer::$PY $T/mail.py $BOX otp $(addr 1) $T/before-otp1" click=確認する page=notice \
	"download=通知書（PDF）をダウンロード::$T/o1.pdf"
"$TAYORI" batch pdf "$BO" "$(key 1)" "$T/o1.stored.pdf" -d "$D" >/dev/null 2>&1
check "one-time password: the download is byte for byte tayori batch pdf" cmp "$T/o1.stored.pdf" "$T/o1.pdf"
check "one-time password: pdfsig finds the signature valid" sh -c "pdfsig '$T/o1.pdf' | grep -q 'Signature is Valid'"
show "$BO"; rjson "$(key 1)" >"$T/r.json"
jtrue "one-time password: the arrival appears in tayori batch show --json" "$T/r.json" 'd["state"] == "downloaded" and d["downloaded_at"] is not None'

# --- 3. a birth date from the CSV, in the Japanese era form ----------------------
browse --name birthdate phone "goto=$LC1" page=link click=通知を開く page=ask-birthdate \
	"fill=#answer::昭和55年4月1日" click=確認する page=notice \
	"download=通知書（PDF）をダウンロード::$T/c1.pdf"
"$TAYORI" batch pdf "$BC" "$(key 1)" "$T/c1.stored.pdf" -d "$D" >/dev/null 2>&1
check "birth date: the download is byte for byte tayori batch pdf" cmp "$T/c1.stored.pdf" "$T/c1.pdf"
check "birth date: pdfsig finds the signature valid" sh -c "pdfsig '$T/c1.pdf' | grep -q 'Signature is Valid'"
show "$BC"; rjson "$(key 1)" >"$T/r.json"
jtrue "birth date: the arrival appears in tayori batch show --json" "$T/r.json" 'd["state"] == "downloaded" and d["downloaded_at"] is not None'

# --- 4. five wrong codes lock ------------------------------------------------------
touch "$T/before-otp2"; sleep 1
# A wrong code: the mailed one plus one.
WRONG="$PY $T/mail.py $BOX otp $(addr 2) $T/before-otp2 | $PY -c 'import sys; print(\"%06d\" % ((int(sys.stdin.read()) + 1) % 1000000))'"
browse --name lockout phone "goto=$LO2" click=通知を開く click=確認コードをメールで受け取る \
	"fillcmd=#answer::$WRONG" submit=確認する status=200 page=wrong-code \
	"fillcmd=#answer::$WRONG" submit=確認する "fillcmd=#answer::$WRONG" submit=確認する \
	"fillcmd=#answer::$WRONG" submit=確認する \
	"fillcmd=#answer::$WRONG" submit=確認する status=403 text=お問い合わせください page=locked
show "$BO"; rjson "$(key 2)" >"$T/r.json"
jtrue "lockout: nothing downloaded" "$T/r.json" 'd["downloaded_at"] is None'

# --- 5. through the WAF: nginx, ModSecurity and the CRS from contrib/waf ----------
MOD=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
if [ -x /usr/sbin/nginx ] && [ -e "$MOD" ] && [ -d /usr/share/modsecurity-crs/rules ]; then
	PW=$((P1 + 2))
	N=$T/nginx
	mkdir -p "$N/waf" "$N/logs" "$N/tmp"
	chmod 755 "$N" "$N/waf"; chmod 1777 "$N/tmp"
	for f in modsecurity.conf crs-tayori.conf crs-tayori-after.conf portal-proxy.conf; do
		cp "$TOP/contrib/waf/$f" "$N/waf/$f"
	done
	sed -i "s#^SecAuditLog .*#SecAuditLog $N/logs/modsec_audit.log#" "$N/waf/modsecurity.conf"
	sed -i "s#/etc/nginx/tayori-waf/#$N/waf/#" "$N/waf/portal-proxy.conf"
	cat >"$N/nginx.conf" <<NGINX
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
	upstream tayori_portal { server 127.0.0.1:$P1; keepalive 8; }
	server { listen 127.0.0.1:$PW; include $N/waf/portal-proxy.conf; }
}
NGINX
	nginx -p "$N/" -c "$N/nginx.conf" -e "$N/logs/error.log" >"$T/nginx.out" 2>&1 &
	at_exit "kill $!"
	check "nginx with ModSecurity and the CRS starts in front of the portal" \
		wait_for 15 curl -fsS --resolve "$HOST:$PW:127.0.0.1" "http://$HOST:$PW/healthz"
	# The second resident of the birth-date batch: a Japanese era date in
	# full-width digits, the guide, then the paper choice, all through the WAF.
	LC2=$(link 児童手当のお知らせ 2 | sed "s#:$P1/#:$PW/#")
	browse --name waf phone "goto=$LC2" text=児童手当のお知らせ page=link click=通知を開く \
		"fill=#answer::昭和５０年１２月３１日" click=確認する page=notice \
		"download=通知書（PDF）をダウンロード::$T/c2.pdf" \
		"click=Acrobat Reader での確認方法" click=通知に戻る click=紙で受け取る page=declined
	"$TAYORI" batch pdf "$BC" "$(key 2)" "$T/c2.stored.pdf" -d "$D" >/dev/null 2>&1
	check "through the WAF: the download is byte for byte tayori batch pdf" cmp "$T/c2.stored.pdf" "$T/c2.pdf"
	check "through the WAF: the CRS refused nothing (no 403, no anomaly block)" sh -c \
		"! grep -q 'id \"949110\"' '$N/logs/modsec_audit.log' && ! awk '{print \$9}' '$N/logs/access.log' | grep -qx 403"
	check "through the WAF: every request of the flow reached the portal" sh -c \
		"grep -q 'POST /n/' '$N/logs/access.log' && grep -q 'GET /notice/pdf' '$N/logs/access.log' && grep -q 'POST /notice/decline' '$N/logs/access.log'"
	show "$BC"; rjson "$(key 2)" >"$T/r.json"
	jtrue "through the WAF: the arrival appears in tayori batch show --json" "$T/r.json" 'd["downloaded_at"] is not None'
else
	fail "nginx, libnginx-mod-http-modsecurity and modsecurity-crs are installed (contrib/install-deps --test)"
fi

check "the audit chain is intact" "$TAYORI" audit verify -d "$D"
done_testing
