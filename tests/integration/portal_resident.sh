#!/bin/sh
# tests/integration/portal_resident.sh — the resident side of the portal
# against `tayori run` on a demo tenant, with curl as the resident: three
# approved batches (the link alone, a mailed one-time password, a birth
# date from the CSV), links and notice codes made by the test tool
# (build/.../tests/test_resident_links, standing in for the mailer) or sent
# by the mailer itself into the demo outbox (the OTP batch), then:
# a GET or HEAD of a link records nothing; a POST without the CSRF token is
# refused; the click records an open with its user agent and the seconds
# since delivery; each proof of identity; five wrong answers lock; the PDF
# is byte-for-byte `tayori batch pdf` and valid for pdfsig, with the
# download headers and a range; arrival recorded once, then the appeal
# deadline; the signer's certificate counted; consent and decline; the
# message's URL clickable and its markup escaped; an unknown token, a bad
# token and a mistyped code get the same page; the OTP read from the
# mail the mailer wrote; code lookups and OTP mails rate-limited.
#
# Standards: RFC 9110 (ranges), RFC 6265 (cookies), RFC 6266/8187
# (Content-Disposition).
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
TOOL=${TOOL:-$(dirname "$TAYORI")/tests/test_resident_links}
[ -x "$TOOL" ] || TOOL=$TOP/build/default/tests/test_resident_links
for tool in curl pdfsig openssl iconv "$TOOL"; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
P1=$((20000 + ($$ + 7) % 20000)); P2=$((P1 + 1))
U=http://127.0.0.1:$P1

# --- a demo tenant with three approved batches ------------------------------
check "init a demo tenant" "$TAYORI" init -d "$D" --demo
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s|^#announcement_url = .*|announcement_url = https://www.city.example.jp/tayori|" \
       -e "s|^#public_url = .*|public_url = http://127.0.0.1:$P1|" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
check "an approver" "$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW
C=$T/corpus
if ! sh "$TOP/tests/bench/gen-corpus" "$C" 3 >"$T/gen.log" 2>&1; then
	fail "generate a 3-resident corpus"; sed 's/^/#   /' "$T/gen.log"; done_testing; exit 1
fi
iconv -f CP932 -t UTF-8 "$C/corpus.csv" | tr -d '\r' | sed 1d >"$T/rows.utf8"
key() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f1; }

# batch FOLDER SETTINGS...: a folder with the corpus, a UTF-8 CSV with a
# birth date column and message.txt; submitted and approved; BID set.
batch() {
	_f=$T/$1; shift
	mkdir -p "$_f"; cp "$C/corpus.pdf" "$_f/"
	{ echo "宛名番号,氏名,メールアドレス,生年月日"
	  sed -n 1p "$T/rows.utf8" | sed 's/$/,1980-04-01/'
	  sed -n 2p "$T/rows.utf8" | sed 's/$/,1975-12-31/'
	  sed -n 3p "$T/rows.utf8" | sed 's/$/,2001-02-03/'; } >"$_f/residents.csv"
	{ for s in "$@"; do echo "$s"; done
	  echo
	  echo "区民の皆さまへ。詳しくは https://www.city.example.jp/faq?a=1&b=2 をご覧ください。"
	  echo "<b>太字</b> は書式ではありません。"
	  echo "この処分に不服がある場合は、審査請求をすることができます。"; } >"$_f/message.txt"
	"$TAYORI" submit -d "$D" --json "$_f" >"$_f.json" 2>"$_f.err" || { sed 's/^/#   /' "$_f.err"; return 1; }
	BID=$(jval "$_f.json" 'd["batch"]')
	[ "${NOAPPROVE:-}" ] && return 0
	"$TAYORI" batch approve "$BID" --as shonin -d "$D" >"$_f.approve" 2>&1 || { sed 's/^/#   /' "$_f.approve"; return 1; }
}
KY="教示: この処分に不服がある場合は、区長に対して審査請求をすることができます（https://www.city.example.jp/appeal）。"
check "a magic-link test batch" batch magic "件名: 住民税決定通知" "認証: magic" "テスト: はい" "$KY" "同意: はい"
BM=$BID
check "an OTP batch" batch otp "件名: 保険料決定通知" "認証: otp" "$KY"
BO=$BID
check "a CSV-value batch" batch csv "件名: 児童手当のお知らせ" "認証: csv" "認証列: 生年月日"
BC=$BID
NOAPPROVE=1
check "a batch still awaiting approval" batch waiting "件名: 承認待ちの通知" "認証: magic"
BW=$BID
NOAPPROVE=

"$TAYORI" run -d "$D" >"$T/run.log" 2>&1 &
SUP=$!
at_exit "kill $SUP"
check "the portal answers" wait_for 15 curl -fsS "$U/healthz"

# links DESC BATCH: tokens and codes of the batch's residents in $T/links.BATCH
links() { "$TOOL" links "$D" "$2" >"$T/links.$2" 2>"$T/links.err" && [ "$(wc -l <"$T/links.$2")" -eq 3 ]; }
check "links and codes for the magic batch" links x "$BM"
# The OTP batch goes the real way: `tayori batch send`, the mailer writes one
# message per resident into the demo outbox; links and codes come from there.
cat >"$T/outbox.py" <<'PYEOF'
import email, email.policy, os, re, sys, time
# outbox.py DIR links URL ADDR...  -> "SEQ TOKEN CODE" per address (SEQ: its row)
# outbox.py DIR otp ADDR N         -> the code of the newest OTP mail to ADDR, once N exist
d, cmd = sys.argv[1], sys.argv[2]
def msgs():
    out = []
    for n in os.listdir(d):
        p = os.path.join(d, n)
        m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.strict)
        out.append((os.stat(p).st_mtime_ns, n, m))
    return sorted(out, key=lambda x: (x[0], x[1]))
def to(m):
    return m["To"].addresses[0].addr_spec
if cmd == "links":
    url, addrs = sys.argv[3], sys.argv[4:]
    for seq, a in enumerate(addrs, 1):
        for _, _, m in msgs():
            if to(m) != a or m.get_content_type() != "multipart/alternative":
                continue
            text = m.get_body(preferencelist=("plain",)).get_content()
            t = re.findall(re.escape(url) + r"/n/([A-Za-z0-9_-]{22})", text)
            c = re.findall(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", text)
            if t and c:
                print(seq, t[0], c[0])
else:
    a, n = sys.argv[3], int(sys.argv[4])
    for _ in range(100):
        got = [m for _, _, m in msgs() if to(m) == a and "確認コード" in str(m["Subject"])]
        if len(got) >= n:
            body = got[-1].get_body(preferencelist=("plain",)).get_content()
            print(re.findall(r"(?<![0-9])[0-9]{6}(?![0-9])", body)[0])
            sys.exit(0)
        time.sleep(0.1)
    sys.exit(1)
PYEOF
OB=$D/mail/outbox/new
addr() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f3; }
check "the OTP batch is sent by the mailer" "$TAYORI" batch send "$BO" --as shonin -d "$D"
check "... one message per resident in the outbox" wait_for 30 sh -c \
	"$PY '$T/outbox.py' '$OB' links '$U' '$(addr 1)' '$(addr 2)' '$(addr 3)' >'$T/links.$BO' && [ \$(wc -l <'$T/links.$BO') -eq 3 ]"
cat >"$T/kyouji.py" <<'PYEOF'
import email, email.policy, os, sys
# kyouji.py DIR ADDR: the 教示 section of the plain-text part of the notice mail to ADDR
d, a = sys.argv[1], sys.argv[2]
for n in sorted(os.listdir(d)):
    m = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.strict)
    if m["To"].addresses[0].addr_spec == a and m.get_content_type() == "multipart/alternative":
        text = m.get_body(preferencelist=("plain",)).get_content()
        html = m.get_body(preferencelist=("html",)).get_content()
        if "不服申立て（教示）" in text and "区長に対して審査請求をすることができます" in text and "区長に対して審査請求をすることができます" in html:
            sys.exit(0)
sys.exit(1)
PYEOF
check "the mail carries the batch's 教示 (plain text and HTML)" $PY "$T/kyouji.py" "$OB" "$(addr 1)"
check "links and codes for the CSV batch" links x "$BC"
check "links for the batch awaiting approval" links x "$BW"
tok() { awk -v s="$2" '$1 == s { print $2 }' "$T/links.$1"; }
code() { awk -v s="$2" '$1 == s { print $3 }' "$T/links.$1"; }
access() { "$TOOL" access "$D" "$1" "$2" >"$T/acc.json" 2>"$T/acc.err" || sed 's/^/#   access: /' "$T/acc.err"; }

# --- the front page ----------------------------------------------------------
curl -s -o "$T/front.html" -D "$T/front.h" "$U/"
check "front page: 200, Japanese, a labelled notice-code field" sh -c \
	"grep -q '^HTTP/1.1 200' '$T/front.h' && grep -q 'lang=\"ja\"' '$T/front.html' && grep -q '<label for=\"code\">' '$T/front.html' && grep -q 'id=\"code\"' '$T/front.html'"
check "front page: how to recognise the real site (host and announcement page)" sh -c \
	"grep -q '127.0.0.1:$P1' '$T/front.html' && grep -q 'href=\"https://www.city.example.jp/tayori\"' '$T/front.html'"
check "front page: no script, one local stylesheet" sh -c \
	"! grep -qi '<script' '$T/front.html' && grep -q 'href=\"/static/style.css\"' '$T/front.html' && ! grep -q 'https\\?://[^\"]*\\.css' '$T/front.html'"

# --- a GET or HEAD of a link records nothing ---------------------------------
T1=$(tok "$BM" 1)
J=$T/jar1
curl -s -c "$J" -b "$J" -o "$T/link.html" -D "$T/link.h" "$U/n/$T1"
curl -s -I "$U/n/$T1" >/dev/null
check "link page: 200 with the title, the issuer and one button" sh -c \
	"grep -q '^HTTP/1.1 200' '$T/link.h' && grep -q '住民税決定通知' '$T/link.html' && grep -q 'デモ区' '$T/link.html' && [ \$(grep -c '<button' '$T/link.html') -eq 1 ]"
check "link page of a test batch: the テスト banner" grep -q 'test-banner' "$T/link.html"
check "read the access record" access "$BM" 1
jtrue "GET and HEAD of the link: no open, no event" "$T/acc.json" 'd["opened_at"] == 0 and d["events"] == []'
"$TAYORI" batch show "$BM" -d "$D" --json >"$T/show0.json" 2>&1
jtrue "... and tayori batch show --json: the resident is sent, not opened" "$T/show0.json" \
	"[(r['state'], r['opened_at']) for r in d['residents'] if int(r['key']) == int('$(key 1)')] == [('sent', None)]"
CSRF=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/link.html" | head -1)

# --- the click -----------------------------------------------------------------
st=$(curl -s -o /dev/null -w '%{http_code}' -c "$J" -b "$J" -A 'Mozilla/5.0 (resident)' -d "csrf=wrong" "$U/n/$T1")
check "a POST with a wrong CSRF token is refused (403)" [ "$st" = 403 ]
access "$BM" 1
jtrue "... and records nothing" "$T/acc.json" 'd["opened_at"] == 0 and d["events"] == []'
curl -s -o /dev/null -D "$T/click.h" -c "$J" -b "$J" -A 'Mozilla/5.0 (resident)' -d "csrf=$CSRF" "$U/n/$T1"
check "magic link: the click goes on to the notice with a session cookie" sh -c \
	"grep -q '^HTTP/1.1 303' '$T/click.h' && grep -qi '^location: /notice' '$T/click.h' && grep -qi '^set-cookie: tayori_rs=.*HttpOnly.*SameSite=Strict' '$T/click.h'"
access "$BM" 1
jtrue "the click records an open with the user agent and the seconds since delivery" "$T/acc.json" \
	'd["opened_at"] > 0 and any(e["type"] == "open" and e["ua"] == "Mozilla/5.0 (resident)" and 0 <= e["delay"] < 600 for e in d["events"])'
jtrue "... and the authentication" "$T/acc.json" 'd["auth_at"] > 0 and [e["type"] for e in d["events"]].count("auth_ok") == 1'

# --- the notice ------------------------------------------------------------------
curl -s -o "$T/notice.html" -b "$J" "$U/notice"
check "notice page: the テスト banner and the title" sh -c "grep -q 'test-banner' '$T/notice.html' && grep -q '住民税決定通知' '$T/notice.html'"
check "notice page: the URL is a link, the rest escaped" sh -c \
	"grep -qF '<a href=\"https://www.city.example.jp/faq?a=1&amp;b=2\">' '$T/notice.html' && grep -qF '&lt;b&gt;太字&lt;/b&gt;' '$T/notice.html' && ! grep -qF '<b>太字' '$T/notice.html'"
check "notice page: no appeal deadline before the download" sh -c "! grep -q '審査請求の期限' '$T/notice.html'"
K1=$(key 1)
"$TAYORI" batch pdf "$BM" "$K1" "$T/stored.pdf" -d "$D" >/dev/null 2>&1
curl -s -o "$T/got.pdf" -D "$T/pdf.h" -b "$J" -A 'Mozilla/5.0 (resident)' "$U/notice/pdf"
check "download: byte-for-byte what tayori batch pdf gives" cmp "$T/stored.pdf" "$T/got.pdf"
check "download: pdfsig finds the signature valid" sh -c "pdfsig '$T/got.pdf' | grep -q 'Signature is Valid'"
check "download: application/pdf, attachment with a Japanese filename*, no-store" sh -c \
	"grep -qi '^content-type: application/pdf' '$T/pdf.h' && grep -qi \"^content-disposition: attachment;.*filename\\*=UTF-8''%E4%BD%8F\" '$T/pdf.h' && grep -qi '^cache-control: no-store' '$T/pdf.h'"
access "$BM" 1
A1=$(jval "$T/acc.json" 'd["downloaded_at"]')
check "the first download is the arrival" [ "${A1:-0}" -gt 0 ]
sleep 1.1
curl -s -o "$T/range.bin" -D "$T/range.h" -b "$J" -r 0-99 "$U/notice/pdf"
head -c 100 "$T/stored.pdf" >"$T/range.want"
check "a range request: 206 with the first 100 bytes" sh -c "grep -q '^HTTP/1.1 206' '$T/range.h' && cmp '$T/range.want' '$T/range.bin'"
curl -s -o "$T/range2.bin" -b "$J" -r 100-199 "$U/notice/pdf"
check "a range further in: those bytes (a resumed download, not counted again below)" sh -c \
	"[ \$(wc -c <'$T/range2.bin') -eq 100 ] && tail -c +101 '$T/stored.pdf' | head -c 100 | cmp - '$T/range2.bin'"
curl -s -o /dev/null -b "$J" "$U/notice/pdf"
curl -s -I -o "$T/head.h" -b "$J" "$U/notice/pdf"
check "HEAD of the PDF: 200 with its length, and no download recorded (below)" sh -c \
	"grep -q '^HTTP/1.1 200' '$T/head.h' && grep -qi \"^content-length: \$(wc -c <'$T/stored.pdf')\" '$T/head.h'"
# Downloads after the arrival are answered at once and written with the
# next group of events, within a fraction of a second: wait for them.
n=100
while access "$BM" 1 && [ "$(jval "$T/acc.json" "[e['type'] for e in d['events'] if e['seq'] == 1].count('download')")" -lt 3 ] && [ $n -gt 0 ]; do
	sleep 0.1; n=$((n - 1))
done
access "$BM" 1
jtrue "arrival recorded once (later downloads keep it), each download an event" "$T/acc.json" \
	"d['downloaded_at'] == $A1 and [e['type'] for e in d['events'] if e['seq'] == 1].count('download') == 3"
"$TAYORI" batch show "$BM" -d "$D" --json >"$T/show1.json" 2>&1
jtrue "tayori batch show --json: the resident's arrival (downloaded, with its time)" "$T/show1.json" \
	"[(r['state'], r['opened_at'] is not None, r['downloaded_at'] is not None) for r in d['residents'] if int(r['key']) == int('$(key 1)')] == [('downloaded', True, True)]"
curl -s -o "$T/notice2.html" -b "$J" "$U/notice"
check "after arrival: the arrival time and the appeal deadline" sh -c "grep -q '到達日時' '$T/notice2.html' && grep -q '審査請求の期限' '$T/notice2.html'"
check "the batch's 教示 on the page, its link clickable" sh -c \
	"grep -q '不服申立て（教示）' '$T/notice2.html' && grep -q '区長に対して審査請求をすることができます' '$T/notice2.html' && grep -qF '<a href=\"https://www.city.example.jp/appeal\">' '$T/notice2.html'"
check "the batch asks for consent: the consent and decline forms" sh -c \
	"grep -q 'action=\"/notice/consent\"' '$T/notice2.html' && grep -q 'action=\"/notice/decline\"' '$T/notice2.html'"
curl -s -o "$T/cert.pem" -D "$T/cert.h" -b "$J" "$U/notice/cert"
pdfsig "$T/got.pdf" | sed -n 's/.*Signer Certificate Common Name: //p' >"$T/cn"
check "certificate: the signer's, as PEM" sh -c \
	"openssl x509 -in '$T/cert.pem' -noout -subject -nameopt utf8,sep_multiline | grep -qF \"CN=\$(cat '$T/cn')\""
access "$BM" 1
jtrue "certificate downloads are counted" "$T/acc.json" 'd["cert_downloads"] == 1'
curl -s -o "$T/guide.html" -b "$J" "$U/notice/guide"
curl -s -o "$T/guide0.html" "$U/notice/guide"
check "the signature guide: with the test batch's session the テスト banner, without none" sh -c \
	"grep -q 'test-banner' '$T/guide.html' && grep -q 'Acrobat' '$T/guide0.html' && ! grep -q 'test-banner' '$T/guide0.html'"
curl -s -o /dev/null -b "$J" -d "csrf=$CSRF" "$U/notice/consent"
access "$BM" 1
jtrue "consent: recorded with the terms version" "$T/acc.json" 'd["consent"] == 1 and d["terms"] == "1"'
"$TOOL" consent "$D" "$BM" 1 >"$T/cons1.json" 2>&1
jtrue "... and per resident and notice type in the consent database (electronic, terms, time)" "$T/cons1.json" \
	"d['found'] and d['channel'] == 'electronic' and d['terms'] == '1' and d['at'] > 0 and d['batch'] == $BM and d['seq'] == 1"

# --- a typed notice code -----------------------------------------------------------
J2=$T/jar2
curl -s -c "$J2" -b "$J2" -o "$T/front2.html" "$U/"
CS2=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/front2.html" | head -1)
CODE2=$(code "$BM" 2 | tr 'A-Z' 'a-z' | tr -d '-')
curl -s -o /dev/null -D "$T/code.h" -c "$J2" -b "$J2" -d "csrf=$CS2" --data-urlencode "code=$CODE2" "$U/code"
check "a typed code (lower case, no hyphens) opens the notice like the link" grep -q '^HTTP/1.1 303' "$T/code.h"
grep -q '^HTTP/1.1 303' "$T/code.h" ||
	{ echo "#   code $CODE2"; sed 's/^/#   /' "$T/code.h" | head -3; grep 'role=portal level=err' "$T/run.log" | sed 's/^/#   /' | tail -5; }
access "$BM" 2
jtrue "... with an open recorded" "$T/acc.json" 'd["opened_at"] > 0'
curl -s -o /dev/null -b "$J2" -d "csrf=$CS2" "$U/notice/decline"
access "$BM" 2
jtrue "decline: recorded" "$T/acc.json" 'd["consent"] == 2'
"$TOOL" consent "$D" "$BM" 2 >"$T/cons2.json" 2>&1
jtrue "... and in the consent database as paper" "$T/cons2.json" "d['found'] and d['channel'] == 'paper'"
"$TAYORI" batch show "$BM" -d "$D" --json >"$T/show2.json" 2>&1
jtrue "... and the resident is on the paper list (tayori batch show --json)" "$T/show2.json" \
	"[r['state'] for r in d['residents'] if int(r['key']) == int('$(key 2)')] == ['paper']"

# --- one page for whatever cannot be opened ----------------------------------------
GOOD=$(code "$BM" 3)
# A typo: change one symbol (the check symbol catches it).
BAD=$(echo "$GOOD" | $PY -c 'import sys; c = sys.stdin.read().strip(); a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; print(c[0] + a[(a.index(c[1]) + 1) % 32] + c[2:])')
curl -s -o "$T/p.unknown" -w '%{http_code}\n' "$U/n/AAAAAAAAAAAAAAAAAAAAAA" >"$T/s.unknown"
curl -s -o "$T/p.bad" -w '%{http_code}\n' "$U/n/not-a-token" >"$T/s.bad"
curl -s -o "$T/p.code" -w '%{http_code}\n' -c "$J2" -b "$J2" -d "csrf=$CS2" --data-urlencode "code=$BAD" "$U/code" >"$T/s.code"
curl -s -o "$T/p.nosess" -w '%{http_code}\n' "$U/notice" >"$T/s.nosess"
curl -s -o "$T/p.wait" -w '%{http_code}\n' "$U/n/$(tok "$BW" 1)" >"$T/s.wait"
check "unknown token, bad token, mistyped code, no session, unapproved batch: one page, one status" sh -c \
	"cmp '$T/p.unknown' '$T/p.bad' && cmp '$T/p.unknown' '$T/p.code' && cmp '$T/p.unknown' '$T/p.nosess' && cmp '$T/p.unknown' '$T/p.wait' && [ \"\$(cat '$T/s.unknown' '$T/s.bad' '$T/s.code' '$T/s.nosess' '$T/s.wait' | sort -u)\" = 404 ]"
check "... which says to contact the ward" grep -q '区役所にお問い合わせください' "$T/p.unknown"
access "$BM" 3
jtrue "the mistyped code opened nothing" "$T/acc.json" 'd["opened_at"] == 0'

# --- a one-time password ------------------------------------------------------------
# open JAR BATCH SEQ: GET the link, then click; $CS is the form's token.
open() {
	curl -s -c "$1" -b "$1" -o "$T/o.html" "$U/n/$(tok "$2" "$3")"
	CS=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/o.html" | head -1)
	curl -s -c "$1" -b "$1" -o "$T/auth.html" -D "$T/auth.h" -d "csrf=$CS" "$U/n/$(tok "$2" "$3")"
}
# answer JAR BATCH SEQ VALUE: the status of the answer
answer() {
	curl -s -c "$1" -b "$1" -o "$T/ans.html" -D "$T/ans.h" -w '%{http_code}' -d "csrf=$CS" \
		--data-urlencode "answer=$4" "$U/n/$(tok "$2" "$3")/auth"
}
J3=$T/jar3
open "$J3" "$BO" 1
check "OTP batch: the click shows a labelled code field and a send button" sh -c \
	"grep -q '<label for=\"answer\">' '$T/auth.html' && grep -q '/otp\"' '$T/auth.html' && ! grep -qi '^set-cookie: tayori_rs' '$T/auth.h'"
curl -s -c "$J3" -b "$J3" -o "$T/sent.html" -d "csrf=$CS" "$U/n/$(tok "$BO" 1)/otp"
check "OTP: the portal asks for a mail" grep -q 'お送りしました' "$T/sent.html"
OTP=$($PY "$T/outbox.py" "$OB" otp "$(addr 1)" 1 2>"$T/otp.err")
check "OTP: six digits mailed to the resident within 10 seconds" sh -c "echo '$OTP' | grep -Eqx '[0-9]{6}'"
next6() { $PY -c 'import sys; print("%06d" % ((int(sys.argv[1]) + 1) % 1000000))' "$1"; }
WRONG=$(next6 "${OTP:-0}")
s=$(answer "$J3" "$BO" 1 "$WRONG")
check "OTP: a wrong code is refused" sh -c "[ $s = 200 ] && grep -q 'あと4回' '$T/ans.html'"
s=$(answer "$J3" "$BO" 1 "$OTP")
check "OTP: the right code opens the notice" [ "$s" = 303 ]
curl -s -o "$T/otp.pdf" -b "$J3" "$U/notice/pdf"
"$TAYORI" batch pdf "$BO" "$K1" "$T/otp.stored.pdf" -d "$D" >/dev/null 2>&1
check "OTP: the download is the stored PDF" cmp "$T/otp.stored.pdf" "$T/otp.pdf"
s=$(answer "$J3" "$BO" 1 "$OTP")
check "OTP: a used code does not work twice" [ "$s" = 200 ]
access "$BO" 1
jtrue "OTP: events otp_sent, auth_fail, auth_ok" "$T/acc.json" \
	'all(t in [e["type"] for e in d["events"] if e["seq"] == 1] for t in ("otp_sent", "auth_fail", "auth_ok"))'

# --- five wrong answers lock --------------------------------------------------------
J4=$T/jar4
open "$J4" "$BO" 2
curl -s -c "$J4" -b "$J4" -o /dev/null -d "csrf=$CS" "$U/n/$(tok "$BO" 2)/otp"
OTP2=$($PY "$T/outbox.py" "$OB" otp "$(addr 2)" 1)
W2=$(next6 "${OTP2:-0}")
for i in 1 2 3 4; do answer "$J4" "$BO" 2 "$W2" >/dev/null; done
s=$(answer "$J4" "$BO" 2 "$W2")
check "the fifth wrong answer locks (403, a page saying how to get help)" sh -c \
	"[ $s = 403 ] && grep -q 'お問い合わせください' '$T/ans.html'"
s=$(answer "$J4" "$BO" 2 "$OTP2")
check "locked: even the right code is refused" [ "$s" = 403 ]
access "$BO" 2
jtrue "locked: recorded, with a lock event" "$T/acc.json" \
	'd["locked"] == 1 and "locked" in [e["type"] for e in d["events"] if e["seq"] == 2] and d["auth_at"] == 0'

# --- staff unlock a locked notice ---------------------------------------------------
check "a clerk (no send permission) may not unlock" sh -c \
	"PW=$PW '$TAYORI' user add madoguchi -d '$D' --email madoguchi@ward.example.jp --role clerk --password-env PW >/dev/null 2>&1 && ! '$TAYORI' batch unlock '$BO' '$(key 2)' --as madoguchi -d '$D' 2>'$T/unl0.err' && grep -q 'no send permission' '$T/unl0.err'"
check "tayori batch unlock ID KEY --as LOGIN unlocks" "$TAYORI" batch unlock "$BO" "$(key 2)" --as shonin -d "$D"
"$TAYORI" batch unlock "$BO" "$(key 2)" --as shonin -d "$D" >/dev/null 2>"$T/unl.err"; st=$?
check "... once: a notice not locked is refused (exit 1, one line)" sh -c "[ $st = 1 ] && [ \$(wc -l <'$T/unl.err') = 1 ] && grep -q 'not locked' '$T/unl.err'"
access "$BO" 2
jtrue "unlocked: lock and failures cleared, an unlocked event" "$T/acc.json" \
	'd["locked"] == 0 and d["failures"] == 0 and "unlocked" in [e["type"] for e in d["events"] if e["seq"] == 2]'
"$TAYORI" audit show -d "$D" --json >"$T/audit.json" 2>&1
check "... audited with the staff member as actor" grep -q '"notice.unlock"' "$T/audit.json"
curl -s -c "$J4" -b "$J4" -o /dev/null -d "csrf=$CS" "$U/n/$(tok "$BO" 2)/otp"
OTP3=$($PY "$T/outbox.py" "$OB" otp "$(addr 2)" 2)
s=$(answer "$J4" "$BO" 2 "$OTP3")
check "after the unlock a fresh code opens the notice" [ "$s" = 303 ]

# --- OTP mails are rate-limited per notice ------------------------------------------
J7=$T/jar7
open "$J7" "$BO" 3
for i in 1 2 3 4; do
	curl -s -o /dev/null -w '%{http_code}\n' -c "$J7" -b "$J7" -d "csrf=$CS" "$U/n/$(tok "$BO" 3)/otp"
done >"$T/s.otp"
check "OTP mails: three per notice, the fourth is refused with 429" sh -c \
	"[ \"\$(tr '\n' ' ' <'$T/s.otp')\" = '200 200 200 429 ' ]"

# --- a value from the CSV -----------------------------------------------------------
J5=$T/jar5
open "$J5" "$BC" 1
check "CSV batch: the click asks for the value, labelled with the batch's column" grep -q '<label for="answer">生年月日</label>' "$T/auth.html"
s=$(answer "$J5" "$BC" 1 "1980-04-02")
check "CSV: the wrong date is refused" [ "$s" = 200 ]
s=$(answer "$J5" "$BC" 1 "昭和５５年４月１日")
check "CSV: 昭和55年4月1日 matches 1980-04-01" [ "$s" = 303 ]
curl -s -o "$T/csv.pdf" -b "$J5" "$U/notice/pdf"
"$TAYORI" batch pdf "$BC" "$K1" "$T/csv.stored.pdf" -d "$D" >/dev/null 2>&1
check "CSV: the download is the stored PDF" cmp "$T/csv.stored.pdf" "$T/csv.pdf"
curl -s -o "$T/csvnotice.html" -b "$J5" "$U/notice"
check "CSV batch without 教示: arrival, but no appeal deadline though the message names 審査請求" sh -c \
	"grep -q '到達日時' '$T/csvnotice.html' && grep -q '審査請求をすることができます' '$T/csvnotice.html' && ! grep -q '審査請求の期限' '$T/csvnotice.html' && ! grep -q '教示' '$T/csvnotice.html'"
check "CSV batch not asking for consent: no consent form" sh -c "! grep -q '/notice/consent' '$T/csvnotice.html'"
CS5=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/csvnotice.html" | head -1)
curl -s -o /dev/null -b "$J5" -d "csrf=$CS5" "$U/notice/consent"
access "$BC" 1
jtrue "... and a consent posted anyway records nothing" "$T/acc.json" 'd["consent"] == 0 and "consent" not in [e["type"] for e in d["events"]]'
"$TOOL" consent "$D" "$BC" 1 >"$T/cons3.json" 2>&1
jtrue "... nor in the consent database" "$T/cons3.json" "not d['found']"
J6=$T/jar6
open "$J6" "$BC" 2
s=$(answer "$J6" "$BC" 2 "S50.12.31")
check "CSV: S50.12.31 matches the second resident's 1975-12-31" [ "$s" = 303 ]

# --- a withdrawn batch ----------------------------------------------------------------
check "a clerk may not withdraw (no approve permission)" sh -c \
	"! '$TAYORI' batch withdraw '$BM' --as madoguchi -d '$D' 2>'$T/wd0.err' && grep -q 'no approve permission' '$T/wd0.err'"
check "tayori batch withdraw ID --as LOGIN" "$TAYORI" batch withdraw "$BM" --as shonin -d "$D"
curl -s -o "$T/w.link" -w '%{http_code}\n' "$U/n/$(tok "$BM" 3)" >"$T/ws.link"
curl -s -o "$T/w.sess" -w '%{http_code}\n' -b "$J" "$U/notice" >"$T/ws.sess"
curl -s -o "$T/w.pdf" -w '%{http_code}\n' -b "$J" "$U/notice/pdf" >"$T/ws.pdf"
curl -s -o "$T/w.code" -w '%{http_code}\n' -c "$J2" -b "$J2" -d "csrf=$CS2" --data-urlencode "code=$(code "$BM" 3)" "$U/code" >"$T/ws.code"
check "withdrawn: its link, an open session, its PDF and its code get the one contact page" sh -c \
	"cmp '$T/p.unknown' '$T/w.link' && cmp '$T/p.unknown' '$T/w.sess' && cmp '$T/p.unknown' '$T/w.pdf' && [ \"\$(cat '$T/ws.link' '$T/ws.sess' '$T/ws.pdf' | sort -u)\" = 404 ] && grep -qx 404 '$T/ws.code'"
"$TAYORI" batch show "$BM" -d "$D" --json >"$T/wshow.json" 2>&1
jtrue "... tayori batch show says withdrawn" "$T/wshow.json" 'd["summary"]["status"] == "withdrawn"'
"$TAYORI" audit show -d "$D" --json >"$T/audit.json" 2>&1
check "... audited" grep -q '"batch.withdraw"' "$T/audit.json"
"$TAYORI" batch withdraw "$BM" --as shonin -d "$D" >/dev/null 2>"$T/wd.err"; st=$?
check "... once: withdrawing again is refused (exit 1)" sh -c "[ $st = 1 ] && grep -q 'withdrawn and cannot be withdrawn' '$T/wd.err'"
# A batch sending at a later time, withdrawn before: the mailer sends none of it.
check "a batch to send later" batch later "件名: 後で送る通知" "認証: magic"
BL=$BID
AT=$(TZ=Asia/Tokyo date -d '+1 minute' '+%Y-%m-%d %H:%M')
check "... sent at $AT" "$TAYORI" batch send "$BL" --at "$AT" --as shonin -d "$D"
check "... and withdrawn" "$TAYORI" batch withdraw "$BL" --as shonin -d "$D"
"$TAYORI" batch send "$BL" --as shonin -d "$D" >/dev/null 2>&1; st=$?
check "a withdrawn batch cannot be sent again" [ "$st" = 1 ]
# Wait until its time has passed (and the mailer's next scan), then count.
AT_S=$(TZ=Asia/Tokyo date -d "$AT" +%s)
while [ "$(date +%s)" -lt $((AT_S + 4)) ]; do sleep 1; done
N0=$($PY -c '
import email, email.policy, os, sys
d = sys.argv[1]
print(sum("後で送る通知" in str(email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.strict)["Subject"]) for n in os.listdir(d)))' "$OB")
check "the mailer sends nothing of it, its time passed" [ "$N0" = 0 ]


# --- code lookups are rate-limited per address ---------------------------------------
for i in $(seq 1 25); do
	curl -s -o /dev/null -w '%{http_code}\n' -c "$J2" -b "$J2" -d "csrf=$CS2" --data-urlencode "code=$BAD" "$U/code"
done >"$T/s.many"
check "code lookups: a burst from one address is cut off with 429" grep -qx 429 "$T/s.many"

check "the audit chain is intact" "$TAYORI" audit verify -d "$D"
done_testing
