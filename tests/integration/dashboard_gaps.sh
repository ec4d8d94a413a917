#!/bin/sh
# tests/integration/dashboard_gaps.sh — the dashboard's refusals and
# clean-ups that happen out of sight, against `tayori run` on a demo tenant
# with curl and a raw socket (Python) as the browser:
#   - an upload is refused on its headers alone: without a session (303 to
#     the login), without the submit permission (403, audited) or without
#     the CSRF token (403, audited) the answer comes after the headers and
#     the first 64 KiB of a declared 40 MB body, the rest never sent; a
#     clerk's upload sent the same way gets no answer until its body is in,
#     and then goes through (303 to its report, the batch stored);
#   - HEAD on an export URL answers like GET (200, the attachment's name)
#     and writes no audit record; GET writes one (batch.export);
#   - an open live stream (SSE) ends within seconds once the account loses
#     the view permission or is disabled, not only at its reconnection;
#   - the audit log page reads a log of thousands of records newest first
#     and only as far as its page: a search's first page and the page
#     below its cursor (?before=) hold exactly the matches `tayori audit
#     show` lists there, other staff's records interleaved and left out;
#   - a lockout counter of an address that never comes back is removed
#     once [portal] staff_lockout has passed (read back from the LMDB
#     store with mdb_dump), while a fresh one stays.
#
# Standards: RFC 9110 (HEAD, 303, 403), RFC 7578, HTML Living Standard 9.2.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
ME=$(id -un)
for tool in curl mdb_dump; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
P1=$((20000 + ($$ + 29) % 12000)); P2=$((P1 + 1))
U=http://127.0.0.1:$P2

check "init a demo tenant" "$TAYORI" init -d "$D" --demo
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#message_size = .*/message_size = 50M/" \
       -e "s/^#staff_lockout = .*/staff_lockout = 5s/" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
check "a clerk" "$TAYORI" user add kakari -d "$D" --email kakari@ward.example.jp --role clerk --password-env PW
check "an approver" "$TAYORI" user add shonin -d "$D" --email shonin@ward.example.jp --role approver --password-env PW
check "the submitter" "$TAYORI" user add "$ME" -d "$D" --email me@ward.example.jp --role approver --password-env PW
check "a clerk without the submit permission" sh -c "'$TAYORI' user add minai -d '$D' --email minai@ward.example.jp --role clerk --password-env PW && '$TAYORI' user role minai --revoke submit -d '$D'"
check "an admin (for the audit log)" "$TAYORI" user add kanri -d "$D" --email kanri@ward.example.jp --role admin --password-env PW
check "two viewers (for the streams)" sh -c "'$TAYORI' user add miru1 -d '$D' --email miru1@ward.example.jp --role clerk --password-env PW && '$TAYORI' user add miru2 -d '$D' --email miru2@ward.example.jp --role clerk --password-env PW"
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
mkdir -p "$T/b1"; cp "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/b1/"
printf '件名: 住民税決定通知\n認証: magic\n\n区民の皆さまへ。\n' >"$T/b1/message.txt"
check "a batch of three" sh -c "'$TAYORI' submit -d '$D' --json '$T/b1' >'$T/b1.json' 2>'$T/b1.err'"
B=$(jval "$T/b1.json" 'd["batch"]')

demo_run

cookies() { awk 'NF == 7 && ($1 !~ /^#/ || $1 ~ /^#HttpOnly_/) { printf "%s%s=%s", (n++ ? "; " : ""), $6, $7 }' "$T/jar.$1"; }
naudit() { "$TAYORI" audit show -d "$D" --json 2>/dev/null | $PY -c 'import json, sys
d = json.load(sys.stdin); recs = d["records"] if isinstance(d, dict) else d
print(sum(1 for r in recs if r["action"] == sys.argv[1] and sys.argv[2] in r["detail"]))' "$1" "${2:-}"; }

# --- 1. an upload is refused before its body is read --------------------------
# early.py PATH COOKIE MODE OUT: send a multipart POST's headers declaring
# 40 MB and its first 64 KiB, then wait (up to 20 s) for an answer.  MODE
# "refused": an answer must come with the rest unsent.  MODE "accepted":
# no answer may come; then the rest of a real upload's body is sent.
cat >"$T/early.py" <<'PYEOF'
import select, socket, sys, uuid
port, path, cookie, mode, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
files = sys.argv[6:]
bnd = "----tayori" + uuid.uuid4().hex
def part(name, value, filename=None, ctype=None):
    h = 'Content-Disposition: form-data; name="%s"' % name
    if filename: h += '; filename="%s"' % filename
    if ctype: h += "\r\nContent-Type: " + ctype
    return ("--%s\r\n%s\r\n\r\n" % (bnd, h)).encode() + value + b"\r\n"
if mode == "accepted":
    body = b"".join([part("title", "住民税決定通知".encode()), part("split", b""),
                     part("message", "区民の皆さまへ。".encode()), part("kyouji", "審査請求ができます。".encode()),
                     part("consent", b"1"),
                     part("csv", open(files[0], "rb").read(), "corpus.csv", "text/csv"),
                     part("pdfs", open(files[1], "rb").read(), "corpus.pdf", "application/pdf"),
                     ("--%s--\r\n" % bnd).encode()])
    # padding before the first part (a multipart preamble) makes it large
    body = b"x" * (3 << 20) + b"\r\n" + body
else:
    body = b"x" * (40 << 20)
head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\n"
        "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
        % (path, cookie, bnd, len(body))).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head + body[:65536])
sent = 65536
r, _, _ = select.select([s], [], [], 20 if mode == "refused" else 3)
got = b""
if r:
    got = s.recv(65536)
if mode == "accepted" and not got:
    s.sendall(body[sent:])
    sent = len(body)
    s.settimeout(60)
    got = s.recv(65536)
status = got.split(b"\r\n", 1)[0].decode("latin-1")
loc = [l for l in got.decode("latin-1").split("\r\n") if l.lower().startswith("location:")]
open(out, "w").write("%s\n%s\n%d of %d\n" % (status, loc[0][9:].strip() if loc else "", sent, len(body)))
PYEOF
early() { $PY "$T/early.py" "$P2" "$@"; }
body_unsent() { sed -n 3p "$1" | awk '{ exit !($1 < $3) }'; }
# refused_early FILE STATUS: answered STATUS with most of the body unsent
refused_early() { grep -q "^HTTP/1.1 $2" "$1" && body_unsent "$1"; }

early "/upload" "" refused "$T/e1"
check "an upload without a session: 303 to the login after its headers, 40 MB body unread" sh -c \
	"grep -q '^HTTP/1.1 303' '$T/e1' && sed -n 2p '$T/e1' | grep -q '/login' && sed -n 3p '$T/e1' | grep -q '^65536 of 41943040'"
login m minai
req m "$U/upload"
check "... the clerk without the submit permission sees the refusal page" sh -c "[ $(code) = 403 ]"
N0=$(naudit staff.refused need=submit)
early "/upload?csrf=x" "$(cookies m)" refused "$T/e2"
check "an upload without the submit permission: 403 after its headers, the body unread" \
	refused_early "$T/e2" 403
check "... audited (staff.refused need=submit)" sh -c "[ $(naudit staff.refused need=submit) -gt $N0 ]"
login k kakari
req k "$U/upload"
TOKEN=$(sed -n 's/.*action="\/upload?csrf=\([^"]*\)".*/\1/p' "$T/b" | head -1)
N0=$(naudit staff.csrf_refused)
early "/upload?csrf=wrong$TOKEN" "$(cookies k)" refused "$T/e3"
check "an upload with a wrong CSRF token: 403 after its headers, the body unread" \
	refused_early "$T/e3" 403
check "... audited (staff.csrf_refused)" sh -c "[ $(naudit staff.csrf_refused) -gt $N0 ]"
early "/upload?csrf=$TOKEN" "$(cookies k)" accepted "$T/e4" "$T/c/corpus.csv" "$T/c/corpus.pdf"
accepted_late() { grep -q '^HTTP/1.1 303' "$1" && sed -n 2p "$1" | grep -qE '^/upload/[0-9]+$' && ! body_unsent "$1"; }
check "the clerk's upload gets no early answer, then, its whole body sent, 303 to its report" \
	accepted_late "$T/e4"
UP=$(sed -n 2p "$T/e4")
check "... and the report page shows the three matched" sh -c \
	"i=0; while [ \$i -lt 300 ]; do curl -s -b '$T/jar.k' -D '$T/h' -o '$T/b' '$U$UP'; grep -q Refresh '$T/h' || break; sleep 0.1; i=\$((i+1)); done; grep -q '照合できた人数</th><td>3<' '$T/b'"
req k "$U/upload"
check "an ordinary curl upload still works (Expect: 100-continue, as curl sends for a large one)" sh -c "curl -s -H 'Expect: 100-continue' -b '$T/jar.k' -c '$T/jar.k' -D '$T/h' -o '$T/b' -F 'title=住民税決定通知' -F split= -F 'message=区民の皆さまへ。' -F 'kyouji=審査請求ができます。' -F consent=1 -F 'csv=@$T/c/corpus.csv;type=text/csv' -F 'pdfs=@$T/c/corpus.pdf;type=application/pdf' '$U/upload?csrf=$TOKEN' && grep -q '^HTTP/1.1 303' '$T/h'"

# --- 2. HEAD on an export is no download --------------------------------------
login s shonin
N0=$(naudit batch.export)
curl -s -I -b "$T/jar.s" -D "$T/h" -o /dev/null "$U/export/$B/residents.csv"
check "HEAD on the residents' CSV: 200, as an attachment" sh -c \
	"[ $(code) = 200 ] && grep -qi '^content-disposition: attachment' '$T/h' && grep -qi '^content-type: text/csv' '$T/h'"
check "... and writes no audit record" sh -c "[ $(naudit batch.export) -eq $N0 ]"
req s "$U/export/$B/residents.csv"
check "GET writes one (batch.export)" sh -c "[ $(code) = 200 ] && [ $(naudit batch.export) -eq $((N0 + 1)) ] && [ \$(head -c 3 '$T/b' | od -An -tx1 | tr -d ' ') = efbbbf ]"

# --- 3. an open stream ends when the account may no longer view --------------
# stream.py URL COOKIE OUT: reads the stream; "opened" once the headers are
# in, "ended" once it ends.
cat >"$T/stream.py" <<'PYEOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Cookie": sys.argv[2]})
r = urllib.request.urlopen(req, timeout=120)
open(sys.argv[3], "w").write("opened %s\n" % r.headers.get("Content-Type"))
for line in r:
    pass
open(sys.argv[3], "a").write("ended\n")
PYEOF
stream_case() { # stream_case LOGIN WHAT CMD...
	_l=$1; _w=$2; shift 2
	login "$_l" "$_l"
	$PY "$T/stream.py" "$U/batches/$B/events" "$(cookies "$_l")" "$T/s.$_l" >/dev/null 2>&1 &
	_p=$!
	check "$_l's stream opens" wait_for 15 grep -q 'opened text/event-stream' "$T/s.$_l"
	sleep 4 # past one session check: the stream is still open
	check "... and stays open while nothing changes" sh -c "! grep -q ended '$T/s.$_l'"
	"$@" >/dev/null 2>&1
	check "... ends within seconds once $_w" wait_for 20 grep -q ended "$T/s.$_l"
	kill "$_p" 2>/dev/null
	curl -s -D "$T/h" -o "$T/b" -H "Cookie: $(cookies "$_l")" "$U/batches/$B/events"
	check "... and its reconnection gets no stream" sh -c "[ $(code) = 303 ] || [ $(code) = 403 ]"
}
stream_case miru1 "the view permission is revoked" "$TAYORI" user role miru1 --revoke view -d "$D"
stream_case miru2 "the account is disabled" "$TAYORI" user disable miru2 -d "$D"

# --- 4. old lockout counters are swept --------------------------------------
# The counter of an address: SHA-256("staff-fail\0i:ADDR") in the sessions
# database (staff_lockout.c); read back with mdb_dump.
key_of() { printf 'staff-fail\000i:%s' "$1" | sha256sum | cut -c1-64; }
in_store() { mdb_dump -s sessions "$(dirname "$(find "$D" -name data.mdb | head -1)")" 2>/dev/null | grep -q "^ $(key_of "$1")\$"; }
bad_login() { # bad_login ADDR: a failed login forwarded for ADDR
	curl -s -c "$T/jar.x" -b "$T/jar.x" -o "$T/b" "$U/login"
	curl -s -c "$T/jar.x" -b "$T/jar.x" -H "X-Forwarded-For: $1" -o /dev/null \
		--data-urlencode "csrf=$(csrf)" --data-urlencode "login=nobody" --data-urlencode "password=wrong" "$U/login"
}
bad_login 192.0.2.7
check "a failed login from 192.0.2.7 leaves its counter in the store" in_store 192.0.2.7
sleep 6 # [portal] staff_lockout = 5s passes; 192.0.2.7 never comes back
bad_login 192.0.2.8
not_in_store() { ! in_store "$1"; }
check "once staff_lockout has passed, another address's failure sweeps 192.0.2.7's counter away" not_in_store 192.0.2.7
check "... while 192.0.2.8's fresh counter stays" in_store 192.0.2.8

# --- 5. the audit log page over thousands of records -------------------------
# Two refused members at once: their refusals (each one audit record)
# interleave in the log.
curl -s -b "$T/jar.m" -o /dev/null "$U/upload?n=[1-1500]" &
_a=$!
curl -s -b "$T/jar.miru1" -o /dev/null "$U/batches?n=[1-1000]" &
_b=$!
wait $_a $_b
"$TAYORI" audit show -d "$D" --json --limit 1000000 >"$T/all.json" 2>/dev/null
MINAI=$("$TAYORI" user list -d "$D" --json | $PY -c 'import json, sys
print([u["id"] for u in json.load(sys.stdin)["users"] if u["login"] == "minai"][0])')
jtrue "the log holds thousands of records" "$T/all.json" \
	'len(d["records"] if isinstance(d, dict) else d) > 2500'
login a kanri
req a -G --data-urlencode person=minai --data-urlencode action=staff.refused "$U/audit"
cp "$T/b" "$T/audit1.html"
OLDER=$(sed -n 's/.*before=\([0-9]*\)">古い記録へ.*/\1/p' "$T/b")
req a -G --data-urlencode person=minai --data-urlencode action=staff.refused --data-urlencode "before=$OLDER" "$U/audit"
cp "$T/b" "$T/audit2.html"
# same_page HTML N: the page's record numbers are the Nth 50 of minai's
# refusals, newest first, as `tayori audit show` lists them
same_page() { $PY - "$T/all.json" "$1" "$2" "$MINAI" <<'PYEOF'
import json, re, sys
d = json.load(open(sys.argv[1])); recs = d["records"] if isinstance(d, dict) else d
want = sorted((r["seq"] for r in recs if r["action"] == "staff.refused" and r["actor"] == "staff:" + sys.argv[4]), reverse=True)
n = int(sys.argv[3])
page = [int(x) for x in re.findall(r"^<tr><td>([0-9]+)</td>", open(sys.argv[2], encoding="utf-8").read(), re.M)]
ok = page == want[50 * (n - 1):50 * n] and len(page) == 50
print(page[:3], want[50 * (n - 1):50 * (n - 1) + 3])
sys.exit(0 if ok else 1)
PYEOF
}
check "the audit search's first page: the newest 50 of minai's refusals, in order" same_page "$T/audit1.html" 1
check "... the page below its cursor: the next 50" same_page "$T/audit2.html" 2
check "... which links back to the newest and on to older ones" sh -c \
	"grep -q '\">最新の記録へ' '$T/audit2.html' && grep -q '\">古い記録へ' '$T/audit2.html'"
req a -G --data-urlencode action=nothing.such "$U/audit"
check "... a search with no match reads the whole log and says 0 件" grep -q '<p id="audit-count">0 件' "$T/b"
done_testing
