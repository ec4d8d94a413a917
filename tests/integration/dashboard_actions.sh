#!/bin/sh
# tests/integration/dashboard_actions.sh — the dashboard's further actions
# and exports against `tayori run` on a demo tenant, with curl as the
# staff and as residents: a 5-resident batch (two without an address, the
# names written to look like spreadsheet formulas) sent by the real mailer
# into the demo outbox, then: send at a set time (JST entered, UTC stored;
# a bad or past time refused with one Japanese sentence); the exports
# (residents' statuses CSV read back with Python's csv module: BOM, the
# formula cells neutralised; the paper list CSV; the merged PDF's page
# count with pdfinfo; Content-Disposition attachment with a Japanese
# filename*), each audited; a resident locked by five wrong birth dates,
# unlocked from the resident's row; remind the unopened; withdraw, after
# which the resident's link answers the "contact the ward" page; each
# refusal (permission: 403 page; the batch's state: 409) audited; every
# action behind a confirmation (a GET changes nothing) and the CSRF check.
#
# Standards: RFC 4180 (CSV), RFC 6266/8187 (Content-Disposition), RFC 9110.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
need_tools curl pdfinfo iconv
demo_ports 23 20000

check "init a demo tenant" demo_tenant
export PW=a-long-enough-password
check "an approver" staff_user shonin approver
check "a clerk" staff_user kakari clerk
check "a clerk without the remind permission" staff_without minai remind
SHONIN=$(uid shonin); KAKARI=$(uid kakari); MINAI=$(uid minai)

corpus c 5
iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | sed 1d >"$T/rows.utf8"
key() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f1; }
# The key as the batch stores it (the corpus drops a leading zero, as Excel does)
nkey() { printf '%08d' "$(key "$1" | sed 's/^0*//')"; }
addr() { sed -n "${1}p" "$T/rows.utf8" | cut -d, -f3; }
# Names a spreadsheet would run as formulas; rows 4 and 5 have no address.
mkbatch() {
	mkdir -p "$T/$1"; cp "$T/c/corpus.pdf" "$T/$1/"
	{ echo "宛名番号,氏名,メールアドレス,生年月日"
	  echo "$(key 1),=1+2,$(addr 1),1980-04-01"
	  echo "$(key 2),@SUM(A1),$(addr 2),1975-12-31"
	  echo "$(key 3),-3+4,$(addr 3),2001-02-03"
	  echo "$(key 4),+81-3-1234,,1990-01-01"
	  echo "$(key 5),\"=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",,1990-01-02"; } >"$T/$1/residents.csv"
	printf '件名: %s\n認証: csv\n認証列: 生年月日\n\n区民の皆さまへ。\n' "$2" >"$T/$1/message.txt"
	"$TAYORI" submit -d "$D" --json "$T/$1" >"$T/$1.json" 2>"$T/$1.err" || { sed 's/^/#   /' "$T/$1.err"; return 1; }
	"$TAYORI" batch approve "$(jval "$T/$1.json" 'd["batch"]')" --as shonin -d "$D" >/dev/null 2>"$T/$1.err" || { sed 's/^/#   /' "$T/$1.err"; return 1; }
}
check "a batch to send now" mkbatch b1 "住民税決定通知"
B1=$(jval "$T/b1.json" 'd["batch"]')
check "a batch to send later" mkbatch b2 "保険料のお知らせ"
B2=$(jval "$T/b2.json" 'd["batch"]')

demo_run
login s shonin "$PW"
login k kakari "$PW"
login m minai "$PW"

# --- send at a set time --------------------------------------------------------------
req s "$U/batches/$B2"
check "an approved batch offers sending at a set time" grep -q "href=\"/sendat/$B2\"" "$T/b"
req k "$U/sendat/$B2"
check "the clerk (no send permission): 403 page in Japanese" sh -c "[ $(code) = 403 ] && grep -q '送信の権限がない' '$T/b'"
C=$(csrf)
req k --data-urlencode "csrf=$C" --data-urlencode "at=2030-01-01T09:00" --data-urlencode confirm=1 "$U/sendat/$B2"
check "... and the POST: 403" sh -c "[ $(code) = 403 ]"
check "... the refusal audited" has_audit staff.refused "staff:$KAKARI" "batch:$B2" "need=send method=POST"
check "... the batch is still approved" test "$(status "$B2")" = approved
req s "$U/sendat/$B2"
C=$(csrf)
check "the confirmation: a labelled JST date and time field" sh -c \
	"[ $(code) = 200 ] && grep -q '<label for=\"at\">送信開始日時（日本時間）' '$T/b' && grep -q 'type=\"datetime-local\"' '$T/b'"
req s --data-urlencode "csrf=$C" --data-urlencode "at=2030-02-30 09:00" "$U/sendat/$B2"
check "a day that does not exist: 400, one sentence saying how to write it" sh -c \
	"[ $(code) = 400 ] && grep -q 'role=\"alert\">送信開始日時は「2026-12-08 09:00」のように' '$T/b'"
req s --data-urlencode "csrf=$C" --data-urlencode "at=2020-01-01 09:00" "$U/sendat/$B2"
check "a time already past: 400, said so" sh -c "[ $(code) = 400 ] && grep -q '送信開始日時が過ぎています' '$T/b'"
req s --data-urlencode "csrf=$C" --data-urlencode "at=2030-01-01T09:00" "$U/sendat/$B2"
check "a good time: asked to confirm, the time in JST, nothing done yet" sh -c \
	"[ $(code) = 200 ] && grep -q '2030-01-01 09:00 JST</strong> に送信を始めます' '$T/b' && grep -q 'name=\"confirm\" value=\"1\"' '$T/b'"
check "... the batch is still approved" test "$(status "$B2")" = approved
req s --data-urlencode "csrf=$C" --data-urlencode "at=2030-01-01T09:00" --data-urlencode confirm=1 "$U/sendat/$B2"
check "confirmed: 303 to the batch" sh -c "[ $(code) = 303 ] && [ '$(location)' = /batches/$B2 ]"
check "... sending from 09:00 JST, stored as 00:00 UTC (the audit record)" has_audit batch.send "staff:$SHONIN" "batch:$B2" "send_at=2030-01-01T00:00:00Z"
"$TAYORI" batch show "$B2" -d "$D" --json >"$T/show2.json"
jtrue "... tayori batch show: sending from 2030-01-01 09:00 JST" "$T/show2.json" \
	'd["summary"]["status"] == "sending" and d["summary"]["send_at"] == "2030-01-01 09:00 JST"'
req s "$U/batches/$B2"
check "... its page shows the start time in JST" grep -q '<dd>2030-01-01 09:00 JST' "$T/b"

# --- send B1 now; the mailer writes the messages -------------------------------------
req s "$U/send/$B1"; C=$(csrf)
req s --data-urlencode "csrf=$C" "$U/send/$B1"
check "B1 sent now from the dashboard" sh -c "[ $(code) = 303 ]"
check "... the mailer has sent it" wait_for 30 sh -c "[ \"\$('$TAYORI' batch show '$B1' -d '$D' --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
OB=$D/mail/outbox/new
cat >"$T/links.py" <<'PYEOF'
import email, email.policy, os, re, sys
# links.py DIR URL ADDR: the link token of the newest notice mail to ADDR
d, url, a = sys.argv[1:4]
best = None
for n in os.listdir(d):
    p = os.path.join(d, n)
    m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
    if m["To"].addresses[0].addr_spec != a or m.get_content_type() != "multipart/alternative":
        continue
    t = re.findall(re.escape(url) + r"/n/([A-Za-z0-9_-]{22})", m.get_body(preferencelist=("plain",)).get_content())
    if t and (best is None or os.stat(p).st_mtime_ns > best[0]):
        best = (os.stat(p).st_mtime_ns, t[0])
print(best[1])
PYEOF
tok() { $PY "$T/links.py" "$OB" "$R" "$(addr "$1")"; }
TOK1=$(tok 1); TOK2=$(tok 2); TOK3=$(tok 3)
check "a link for each resident with an address" sh -c "[ -n '$TOK1' ] && [ -n '$TOK2' ] && [ -n '$TOK3' ]"
# open JAR TOKEN: the click; answer JAR TOKEN VALUE: the status
ropen() {
	curl -s -c "$1" -b "$1" -o "$T/o.html" "$R/n/$2"
	CS=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/o.html" | head -1)
	curl -s -c "$1" -b "$1" -o /dev/null -d "csrf=$CS" "$R/n/$2"
}
answer() { curl -s -c "$1" -b "$1" -o "$T/ans.html" -w '%{http_code}' -d "csrf=$CS" --data-urlencode "answer=$3" "$R/n/$2/auth"; }
ropen "$T/r1" "$TOK1"
st=$(answer "$T/r1" "$TOK1" 1980-04-01)
check "resident 1 answers and downloads" sh -c "[ $st = 303 ] && curl -sf -b '$T/r1' -o '$T/r1.pdf' '$R/notice/pdf'"
ropen "$T/r2" "$TOK2"
for i in 1 2 3 4; do answer "$T/r2" "$TOK2" 1999-09-09 >/dev/null; done
st=$(answer "$T/r2" "$TOK2" 1999-09-09)
check "resident 2: five wrong birth dates lock the notice" [ "$st" = 403 ]

# --- exports ---------------------------------------------------------------------------
req k "$U/export/$B1/residents.csv"
check "the clerk (no export permission): 403 page" sh -c "[ $(code) = 403 ] && grep -q '出力の権限がない' '$T/b'"
check "... audited" has_audit staff.refused "staff:$KAKARI" "batch:$B1" "need=export method=GET"
req k "$U/batches/$B1"
check "... and the batch page offers the clerk no export" sh -c "! grep -q 'href=\"/export/' '$T/b'"
req s "$U/batches/$B1"
check "the approver's batch page links the three exports" sh -c \
	"grep -q 'href=\"/export/$B1/residents.csv\"' '$T/b' && grep -q 'href=\"/export/$B1/paper.csv\"' '$T/b' && grep -q 'href=\"/export/$B1/paper.pdf\"' '$T/b'"
req s "$U/export/$B1/residents.csv"; cp "$T/b" "$T/residents.csv"; cp "$T/h" "$T/residents.h"
check "residents CSV: 200, text/csv, an attachment with a Japanese filename*" sh -c \
	"[ $(code) = 200 ] && grep -qi '^content-type: text/csv; charset=utf-8' '$T/h' && grep -qi \"^content-disposition: attachment; filename=\\\"batch-$B1-.*\\\"; filename\\*=UTF-8''batch-$B1-%E5%8C%BA%E6%B0%91\" '$T/h'"
cat >"$T/readcsv.py" <<'PYEOF'
import csv, sys
# csv.py FILE KIND: the checks on an export, read the way a spreadsheet tool would
raw = open(sys.argv[1], "rb").read()
assert raw.startswith(b"\xef\xbb\xbf"), "no BOM"
assert b"\r\n" in raw, "no CRLF"
rows = list(csv.reader(raw[3:].decode("utf-8").splitlines()))
head, body = rows[0], rows[1:]
names = {r[0]: r[1] for r in body}
bad = [v for r in body for v in r if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
assert not bad, "formula cells: %r" % bad
print(len(body), " ".join(head))
for k, v in sorted(names.items()):
    print(k, v)
PYEOF
check "... read by Python's csv module: BOM, 5 rows, every formula cell neutralised" sh -c \
	"$PY '$T/readcsv.py' '$T/residents.csv' >'$T/res.out' && head -1 '$T/res.out' | grep -q '^5 宛名番号 氏名'"
check "... the names kept, as text: '=1+2 '@SUM(A1) '-3+4 '=HYPERLINK(...)" $PY -c 'import sys
got = dict(l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1], encoding="utf-8").readlines()[1:])
want = {sys.argv[2]: "\x27=1+2", sys.argv[3]: "\x27@SUM(A1)", sys.argv[4]: "\x27-3+4",
        sys.argv[5]: "\x27+81-3-1234", sys.argv[6]: "\x27=HYPERLINK(\"http://evil.example/\",\"x\")"}
sys.exit(0 if got == want else 1)' "$T/res.out" "$(nkey 1)" "$(nkey 2)" "$(nkey 3)" "$(nkey 4)" "$(nkey 5)"
check "... the same bytes as tayori batch export" sh -c "'$TAYORI' batch export '$B1' -d '$D' >'$T/cli.csv' && cmp '$T/cli.csv' '$T/residents.csv'"
check "... audited: the staff member, the kind, counts only" has_audit batch.export "staff:$SHONIN" "batch:$B1" "paper=no rows=5 pdfs=0 what=residents_csv"
req s "$U/export/$B1/paper.csv"; cp "$T/b" "$T/paper.csv"
check "paper CSV: 200, attachment, the two residents without an address, formulas neutralised" sh -c \
	"[ $(code) = 200 ] && grep -qi '^content-disposition: attachment' '$T/h' && $PY '$T/readcsv.py' '$T/paper.csv' >'$T/pap.out' && head -1 '$T/pap.out' | grep -q '^2 ' && grep -q \"^$(nkey 4) '+81-3-1234\$\" '$T/pap.out'"
check "... each row says why and which pages" $PY -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig").read().splitlines()))[1:]
sys.exit(0 if [(r[4], r[5]) for r in rows] == [("no_address", "1-2"), ("no_address", "3-4")] else 1)' "$T/paper.csv"
req s "$U/export/$B1/paper.pdf"; cp "$T/b" "$T/paper.pdf"
check "paper PDF: 200, application/pdf, an attachment" sh -c \
	"[ $(code) = 200 ] && grep -qi '^content-type: application/pdf' '$T/h' && grep -qi '^content-disposition: attachment.*filename\*=UTF-8' '$T/h'"
check "... one merged PDF of 4 pages (2 residents x 2 pages), per pdfinfo" sh -c \
	"pdfinfo '$T/paper.pdf' | grep -qE '^Pages: +4\$'"
check "... each export audited" [ "$(naudit batch.export)" -ge 4 ]
check "... the PDF's audit record names it" has_audit batch.export "staff:$SHONIN" "batch:$B1" "paper=yes rows=2 pdfs=2 what=paper_pdf"
req s "$U/export/$B1/nothing.csv"
check "an unknown export: 404" sh -c "[ $(code) = 404 ]"

# --- unlock from the resident's row ---------------------------------------------------------
req s "$U/batches/$B1"
check "the locked resident's row says so and links the unlock" sh -c \
	"grep -q '（ロック中） <a href=\"/unlock/$B1/2\">ロックを解除する' '$T/b' && [ \$(grep -c 'href=\"/unlock/' '$T/b') -eq 1 ]"
req k "$U/batches/$B1"
check "... the clerk sees the lock, without the link" sh -c "grep -q '（ロック中）' '$T/b' && ! grep -q 'href=\"/unlock/' '$T/b'"
req k "$U/unlock/$B1/2"; C=$(csrf)
req k --data-urlencode "csrf=$C" "$U/unlock/$B1/2"
check "the clerk's unlock: 403, audited" sh -c "[ $(code) = 403 ] && grep -q '権限がありません' '$T/b'"
check "... audited" has_audit staff.refused "staff:$KAKARI" "batch:$B1" "need=send method=POST"
req s "$U/unlock/$B1/2"; C=$(csrf)
check "the confirmation names the resident" sh -c "[ $(code) = 200 ] && grep -q 'ロック解除の確認' '$T/b' && grep -q '宛名番号 $(nkey 2) の区民' '$T/b'"
st=$(answer "$T/r2" "$TOK2" 1975-12-31)
check "... a GET unlocks nothing" [ "$st" = 403 ]
req s --data-urlencode "csrf=$C" "$U/unlock/$B1/2"
check "unlocked: a page saying so" sh -c "[ $(code) = 200 ] && grep -q 'ロックを解除しました' '$T/b'"
check "... audited with the staff member" has_audit notice.unlock "staff:$SHONIN" "" ""
st=$(answer "$T/r2" "$TOK2" 1975-12-31)
check "... the resident's right answer now opens the notice" [ "$st" = 303 ]
req s --data-urlencode "csrf=$C" "$U/unlock/$B1/2"
check "unlocking again: 409, not locked, audited" sh -c "[ $(code) = 409 ] && grep -q 'ロックされていません' '$T/b'"
check "... audited" has_audit batch.unlock_refused "staff:$SHONIN" "batch:$B1" "reason=not_locked seq=2"
req s "$U/unlock/$B1/99"
check "an unknown resident row: 404" sh -c "[ $(code) = 404 ] && grep -q '区民が見つかりません' '$T/b'"

# --- remind the unopened -----------------------------------------------------------------------
req s "$U/batches/$B1"
check "a sent batch offers the reminder" grep -q "href=\"/remind/$B1\"" "$T/b"
req m "$U/remind/$B1"; C=$(csrf)
check "without the remind permission: 403 page" sh -c "[ $(code) = 403 ] && grep -q '督促の権限がない' '$T/b'"
req m --data-urlencode "csrf=$C" "$U/remind/$B1"
check "... the POST too, audited" has_audit staff.refused "staff:$MINAI" "batch:$B1" "need=remind method=POST"
req k "$U/remind/$B1"; C=$(csrf)
check "the clerk's confirmation: one resident not opened yet" sh -c "[ $(code) = 200 ] && grep -q 'まだ開封していない区民 1 人' '$T/b'"
req k "$U/remind/$B1" -d x=1
check "a reminder without the CSRF token: 403, audited" sh -c "[ $(code) = 403 ] && grep -q '送信を受け付けられません' '$T/b'"
check "... audited" has_audit staff.csrf_refused "staff:$KAKARI" "batch:$B1" remind
check "... nothing reminded" [ "$(naudit batch.remind)" -eq 0 ]
req k --data-urlencode "csrf=$C" "$U/remind/$B1"
check "the reminder: a page saying one resident is reminded" sh -c "[ $(code) = 200 ] && grep -q '督促を受け付けました' '$T/b' && grep -q '1 人' '$T/b'"
check "... audited with the clerk" has_audit batch.remind "staff:$KAKARI" "batch:$B1" ""
check "... the mailer sends resident 3 a second message" wait_for 30 sh -c \
	"$PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if [r[\"contacts\"] for r in d[\"residents\"] if r[\"key\"] == sys.argv[1]] == [2] else 1)' '$(key 3)' <<EOF
\$('$TAYORI' batch show '$B1' -d '$D' --json)
EOF"
req k "$U/batches/$B2"
check "a batch not sent yet offers no reminder" sh -c "! grep -q 'href=\"/remind/' '$T/b'"
req k "$U/remind/$B2"; C=$(csrf)
req k --data-urlencode "csrf=$C" "$U/remind/$B2"
check "... reminding it anyway: 409, why, audited" sh -c "[ $(code) = 409 ] && grep -q '督促できません' '$T/b'"
check "... audited" has_audit batch.remind_refused "staff:$KAKARI" "batch:$B2" "reason=status"

# --- withdraw ---------------------------------------------------------------------------------------
req k "$U/withdraw/$B1"; C=$(csrf)
check "the clerk may not withdraw: 403" sh -c "[ $(code) = 403 ]"
req k --data-urlencode "csrf=$C" "$U/withdraw/$B1"
check "... audited" has_audit staff.refused "staff:$KAKARI" "batch:$B1" "need=approve method=POST"
req s "$U/withdraw/$B1"; C=$(csrf)
check "the confirmation says the links stop and it cannot be undone" sh -c \
	"[ $(code) = 200 ] && grep -q '取り下げの確認' '$T/b' && grep -q '元に戻せません' '$T/b'"
curl -s -o /dev/null -w '%{http_code}' "$R/n/$TOK3" >"$T/before"
check "... before: the resident's link opens its page" grep -qx 200 "$T/before"
req s --data-urlencode "csrf=$C" "$U/withdraw/$B1"
check "withdrawn: a page saying so" sh -c "[ $(code) = 200 ] && grep -q 'バッチを取り下げました' '$T/b'"
check "... the batch is withdrawn" test "$(status "$B1")" = withdrawn
check "... audited" has_audit batch.withdraw "staff:$SHONIN" "batch:$B1" ""
curl -s -o "$T/w.html" -w '%{http_code}' "$R/n/$TOK3" >"$T/after"
check "... the resident's link at once answers the plain contact-the-ward page" sh -c \
	"grep -qx 404 '$T/after' && grep -q '区役所にお問い合わせください' '$T/w.html' && ! grep -q '住民税決定通知' '$T/w.html'"
check "... and the opened session's download too" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' -b '$T/r1' '$R/notice/pdf') = 404 ]"
req s "$U/batches/$B1"
check "... its page: 取り下げ済み, no more actions" sh -c \
	"grep -q '<dd>取り下げ済み</dd>' '$T/b' && ! grep -qE 'href=\"/(remind|withdraw|sendat)/' '$T/b'"
req s --data-urlencode "csrf=$C" "$U/withdraw/$B1"
check "withdrawing again: 409, audited" sh -c "[ $(code) = 409 ]"
check "... audited" has_audit batch.withdraw_refused "staff:$SHONIN" "batch:$B1" "reason=status"

# --- help ----------------------------------------------------------------------------------------------
req anon "$U/help"
check "the manual needs a login" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
req k "$U/help"
check "the manual's index: one link per task and the administrator's guide" sh -c \
	"[ $(code) = 200 ] && [ \$(grep -c 'href=\"/help/[a-z]*\"' '$T/b') -eq 10 ] && grep -q 'href=\"/help/admin\"' '$T/b'"
check "... linked from every page's header" grep -q 'href="/help">操作マニュアル' "$T/b"
bad=""
for t in login batches submit approve send remind unlock export paper; do
	req k "$U/help/$t"
	[ "$(code)" = 200 ] && grep -q '<h1>' "$T/b" || bad="$bad $t"
done
check "... each task's page answers (200, a heading)" [ -z "$bad" ]
req k "$U/help/nothing"
check "an unknown help page: 404" sh -c "[ $(code) = 404 ]"
bad=""; n=0
for f in "$TOP"/portal/static/help/*.png; do
	curl -s -o "$T/img" "$U/static/help/$(basename "$f")"
	cmp -s "$f" "$T/img" || bad="$bad $(basename "$f")"; n=$((n + 1))
done
check "the manual's $n screenshots are served byte for byte" sh -c "[ -z '$bad' ] && [ $n -ge 7 ]"
req k "$U/help/admin"
cp "$T/b" "$T/admin.html"
check "the administrator's guide: every heading of contrib/admin-guide.md, in order" $PY -c 'import html, re, sys
md = [l.lstrip("#").strip() for l in open(sys.argv[1], encoding="utf-8") if re.match(r"#{1,4} ", l)]
page = [html.unescape(re.sub("<[^>]+>", "", h)) for h in re.findall(r"<h[2-5]>(.*?)</h[2-5]>", open(sys.argv[2], encoding="utf-8").read())]
sys.exit(0 if md == page and len(md) > 10 else 1)' "$TOP/contrib/admin-guide.md" "$T/admin.html"
check "... install, TLS, backup and restore, key rotation, the incident runbook" sh -c \
	"grep -q '3. インストール' '$T/b' && grep -q '4. TLS' '$T/b' && grep -q '5. バックアップと復元' '$T/b' && grep -q '6. 鍵の更新' '$T/b' && grep -q '7. 障害・事故への対応' '$T/b'"
check "... its code blocks escaped" sh -c "grep -q '<pre><code>' '$T/b' && ! grep -q '<script' '$T/b'"

check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
