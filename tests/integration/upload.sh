#!/bin/sh
# tests/integration/upload.sh — a batch uploaded from the staff dashboard
# (/upload) against `tayori run` on a demo tenant, with curl as the
# browser (multipart/form-data, RFC 7578): the form (Japanese, labelled, a
# multipart form whose action carries the CSRF token, the intake limits
# shown); a valid upload of the generated corpus (an Excel CP932 CSV whose
# key lost its leading zeros, one PDF of 2 pages a resident) goes through
# the gateway and shows the matching report; the batch is stored with the
# clerk as its submitter and each stored notice holds its resident's own
# 2 pages and nobody else's; the same upload again makes no second batch;
# a test batch (テスト) is marked on the report page, in the list and in
# `tayori batch show`; one PDF per resident sent under "../../KEY.pdf" and
# "..\..\KEY.pdf" is matched by the cleaned names; refused, each with one
# Japanese sentence, audited (upload.refuse) and nothing stored: a PNG
# named .pdf, a name with nothing left ("../"), a CSV in the PDF field,
# files over [limits] message_size (the handler's sentence) and a body
# over the listener's cap (413), more files than [limits] attachments, a
# missing title, a bad page count; a POST without the CSRF token (403,
# audited); a clerk without the submit permission (403, audited; no
# upload link in the header); another clerk cannot see the report.
#
# Standards: RFC 7578 (multipart/form-data), RFC 9110 (303, 400, 403, 413).
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
need_tools curl qpdf pdftotext
demo_ports 17

check "init a demo tenant" demo_tenant \
	"s/^#message_size = .*/message_size = 200K/" "s/^#attachments = .*/attachments = 6/"
export PW=a-long-enough-password
check "a clerk" staff_user kakari clerk --name '係 一郎'
check "an approver" staff_user shonin approver
check "a second clerk" staff_user kakari2 clerk
check "a clerk without the submit permission" staff_without minai submit
KAKARI=$(uid kakari); MINAI=$(uid minai)

corpus c 3
check "the corpus CSV is CP932 (as Excel writes it)" sh -c "! iconv -f utf-8 -t utf-8 '$T/c/corpus.csv' >/dev/null 2>&1 && iconv -f cp932 -t utf-8 '$T/c/corpus.csv' | grep -q '宛名番号'"
K1=00010000; K2=00010037; K3=00010074
"$TAYORI" pdf split --auto "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/split" >/dev/null 2>&1
check "one PDF per resident for the per-file upload" test -s "$T/split/$K1.pdf"

demo_run

nbatches() { "$TAYORI" batch list -d "$D" --json | $PY -c 'import json, sys; d = json.load(sys.stdin); print(len(d["batches"] if isinstance(d, dict) else d))'; }
shows() { grep -qF -- "$1" "$T/b"; }

login k kakari
check "the clerk logs in" sh -c "[ $(code) = 303 ]"
req k "$U/upload"
TOKEN=$(sed -n 's/.*action="\/upload?csrf=\([^"]*\)".*/\1/p' "$T/b" | head -1)
check "the upload form: 200, a multipart form whose action carries the CSRF token" sh -c \
	"[ $(code) = 200 ] && grep -q 'enctype=\"multipart/form-data\"' '$T/b' && [ -n '$TOKEN' ]"
check "... Japanese labels for every field" sh -c "grep -q '<label for=\"title\">通知名' '$T/b' && grep -q '<label for=\"csv\">宛先 CSV' '$T/b' && grep -q '<label for=\"pdfs\">通知の PDF' '$T/b' && grep -q 'name=\"pdfs\" type=\"file\"[^>]*multiple' '$T/b' && grep -q 'テスト利用' '$T/b' && grep -q '教示' '$T/b'"
check "... the intake limits are shown" shows "合わせて 200 KB まで、6 件まで"
check "... no script" sh -c "! grep -qi '<script' '$T/b'"
check "... the header links to the upload" shows 'href="/upload">アップロード'

# upload NAME [CURL ARGS...]: a multipart POST as kakari; headers $T/h, body $T/b
upload() { _n=$1; shift; req "$_n" "$@" "$U/upload?csrf=$TOKEN"; }
# result [PATH]: follow the 303 (or open PATH) and wait for the gateway;
# the page is then in $T/b
result() {
	_loc=${1:-$(location)}
	[ -n "$_loc" ] || return 1
	_i=0
	while [ $_i -lt 600 ]; do
		req k "$U$_loc"
		grep -q 'Refresh' "$T/h" || return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
batch_of_page() { sed -n 's/.*href="\/batches\/\([0-9]*\)".*/\1/p' "$T/b" | head -1; }

# --- a valid batch --------------------------------------------------------------
B0=$(nbatches)
upload k -F "title=住民税決定通知" -F "split=" -F "message=区民の皆さまへ。
通知をお送りします。" -F "kyouji=この処分に不服がある場合は、3か月以内に審査請求ができます。" -F "consent=1" \
	-F "csv=@$T/c/corpus.csv;type=text/csv" -F "pdfs=@$T/c/corpus.pdf;type=application/pdf"
UP1=$(location)
check "a valid upload: 303 to its page" sh -c "[ $(code) = 303 ] && echo '$UP1' | grep -qE '^/upload/[0-9]+\$'"

req k "$U$UP1"
check "... first the waiting page, which reloads itself (no script)" sh -c "grep -q '照合の結果\|照合しています' '$T/b'"
check "... then the matching report, once the gateway took it" result "$UP1"
check "... 3 recipients, 3 matched, 3 signed, the CP932 CSV read" sh -c \
	"grep -q '宛先（CSV の行数）</th><td>3<' '$T/b' && grep -q '照合できた人数</th><td>3<' '$T/b' && grep -q '署名した PDF</th><td>3<' '$T/b' && grep -qi 'cp932\|shift' '$T/b'"
check "... not a test batch" sh -c "! grep -q 'test-banner' '$T/b'"
cp "$T/b" "$T/report1.html"
B1=$(batch_of_page)
check "... with a link to the batch page" test -n "$B1"
"$TAYORI" batch show "$B1" -d "$D" --json >"$T/b1.json"
jtrue "the batch is stored awaiting approval, with the form's title" "$T/b1.json" \
	'd["summary"]["status"] == "awaiting_approval" and d["summary"]["title"] == "住民税決定通知"'
jtrue "... its stored report: 3 recipients, 3 matched, nothing unmatched" "$T/b1.json" \
	'd["report"]["recipients"] == 3 and d["report"]["matched"] == 3 and d["report"]["unmatched_pdf_keys"] == [] and d["report"]["csv_rows_without_pdf"] == []'
check "... submitted by the clerk, from the web (audited)" has_audit batch.submit "staff:$KAKARI" "batch:$B1" ""
check "... the upload itself audited" has_audit upload.receive "staff:$KAKARI" "" "files=2"
for k in $K1 $K2 $K3; do
	check "... $k's stored notice: signed, 2 pages, their own key" sh -c \
		"'$TAYORI' batch pdf '$B1' '$k' '$T/n$k.pdf' -d '$D' && [ \"\$(qpdf --show-npages '$T/n$k.pdf')\" -eq 2 ] && pdftotext '$T/n$k.pdf' - | grep -q '$k'"
	others=$(echo "$K1 $K2 $K3" | tr ' ' '\n' | grep -v "^$k\$" | tr '\n' ' ')
	check "... and nobody else's" sh -c "! pdftotext '$T/n$k.pdf' - | grep -qE '$(echo $others | tr ' ' '|')'"
done
req k "$U/batches/$B1"
check "the batch page opens from the report" sh -c "[ $(code) = 200 ] && grep -q '住民税決定通知' '$T/b'"

# --- the same upload again ------------------------------------------------------
upload k -F "title=住民税決定通知" -F "split=" -F "message=区民の皆さまへ。
通知をお送りします。" -F "kyouji=この処分に不服がある場合は、3か月以内に審査請求ができます。" -F "consent=1" \
	-F "csv=@$T/c/corpus.csv;type=text/csv" -F "pdfs=@$T/c/corpus.pdf;type=application/pdf"
check "the same upload again: accepted, then recognised" result
check "... as the batch it already made (no second batch)" sh -c "grep -q 'すでにバッチ $B1 として' '$T/b' && [ $(nbatches) -eq $((B0 + 1)) ]"

# --- a test batch -----------------------------------------------------------------
upload k -F "title=テスト送信の確認" -F "test=1" -F "message=テストです。" \
	-F "csv=@$T/c/corpus.csv;type=text/csv" -F "pdfs=@$T/c/corpus.pdf;type=application/pdf"
check "a test batch: taken" result
check "... its report carries the テスト banner" sh -c "grep -q 'class=\"test-banner\"' '$T/b' && grep -q 'テスト利用</th><td>はい' '$T/b'"
BT=$(batch_of_page)
cp "$T/b" "$T/report-test.html"
"$TAYORI" batch show "$BT" -d "$D" --json >"$T/bt.json"
jtrue "... tayori batch show says test" "$T/bt.json" 'd["summary"]["test"] in (True, 1)'
req k "$U/batches"
check "... marked テスト in the batches list" shows "テスト送信の確認 <strong>（テスト）</strong>"
ls "$D/mail/outbox/new" >"$T/before-test"
check_status 0 "... approved by another member" "$TAYORI" batch approve "$BT" --as shonin -d "$D"
check_status 0 "... and sent" "$TAYORI" batch send "$BT" --as shonin -d "$D"
check "... which ends sent" wait_for 60 sh -c "[ \"\$('$TAYORI' batch show $BT -d '$D' --json | $PY -c 'import json, sys; print(json.load(sys.stdin)[\"summary\"][\"status\"])')\" = sent ]"
# Every message it made goes to the uploader (kakari@), never to a resident.
check "... its messages go to the uploader only, marked テスト" $PY - "$D/mail/outbox/new" "$T/before-test" <<'PYEOF'
import email, email.policy, os, sys
outdir, before = sys.argv[1], set(open(sys.argv[2]).read().split())
to = []
for name in sorted(os.listdir(outdir)):
    if name in before:
        continue
    m = email.message_from_bytes(open(os.path.join(outdir, name), "rb").read(), policy=email.policy.default)
    if "テスト" not in str(m["Subject"]):
        continue  # a reply to staff, not the batch's
    to += [a.addr_spec for a in m["To"].addresses]
print(to)
sys.exit(0 if to and set(to) == {"kakari@ward.example.jp"} else 1)
PYEOF

# --- one PDF per resident, under hostile names --------------------------------
upload k -F "title=個別のファイル<b>&\"" -F "split=per-file" \
	-F "csv=@$T/c/corpus.csv;type=text/csv" \
	-F "pdfs=@$T/split/$K1.pdf;type=application/pdf;filename=../../$K1.pdf" \
	-F "pdfs=@$T/split/$K2.pdf;type=application/pdf;filename=..\\..\\$K2.pdf" \
	-F "pdfs=@$T/split/$K3.pdf;type=application/pdf;filename=/etc/$K3.pdf"
check "per-file PDFs named ../../KEY.pdf, ..\\..\\KEY.pdf, /etc/KEY.pdf: taken" result
check "... matched by their cleaned names (3 of 3)" shows '照合できた人数</th><td>3<'
check "... the split shown in Japanese" shows '1 人 1 ファイル（ファイル名で照合）'
check "... the title escaped on the report" sh -c "grep -qF '個別のファイル&lt;b&gt;&amp;&quot;' '$T/b' && ! grep -qF '個別のファイル<b>' '$T/b'"
BP=$(batch_of_page)
check "... $K2's notice is its own" sh -c "'$TAYORI' batch pdf '$BP' '$K2' '$T/p2.pdf' -d '$D' && pdftotext '$T/p2.pdf' - | grep -q '$K2'"
check "... no file was written outside the store" sh -c "! ls '$T'/*.pdf '$D'/../*.pdf /etc/$K3.pdf >/dev/null 2>&1"

# --- refused, nothing stored ------------------------------------------------------
N1=$(nbatches)
upload k -F "title=ページ数の誤り" -F "split=pages" -F "pages=4" \
	-F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf"
check "refused by the gateway (6 pages split by 4 for 3 rows): taken, then answered" result
check "... the page says it was refused, nothing stored, and why" sh -c \
	"grep -q '「ページ数の誤り」は受け付けできませんでした。何も保存されていません。' '$T/b' && grep -q 'lang=\"en\"><code>' '$T/b' && [ $(nbatches) -eq $N1 ]"
check "... audited as intake refuses, with the clerk as actor" has_audit intake.refuse "staff:$KAKARI" "" refused
check "... the input kept sealed like any refused intake (source web)" sh -c "'$TAYORI' intake rejected list -d '$D' | grep -q web"

printf '\211PNG\r\n\032\n\000\000\000\rIHDR' >"$T/image.png"
upload k -F "title=画像" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/image.png;filename=notice.pdf"
check "a PNG named .pdf: 400 and one Japanese sentence naming the file" sh -c \
	"[ $(code) = 400 ] && grep -q 'role=\"alert\">受け付けできませんでした。何も保存されていません。「通知の PDF」のファイル「notice.pdf」は PDF ではありません' '$T/b'"
check "... the form comes back with the title kept" shows 'value="画像"'
check "... audited" has_audit upload.refuse "staff:$KAKARI" upload reason=not_pdf
upload k -F "title=名前" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf;filename=../"
check "a file name with nothing left (../): refused, naming the field" sh -c "[ $(code) = 400 ] && grep -q '「通知の PDF」に選んだファイルの名前が使えません' '$T/b'"
upload k -F "title=取り違え" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.csv;filename=list.csv"
check "a CSV in the PDF field: refused" sh -c "[ $(code) = 400 ] && grep -q 'list.csv」は .pdf ではありません' '$T/b'"
head -c 210000 /dev/zero | sed 's/^/%PDF-1.7 /' >"$T/big.pdf"
upload k -F "title=大きい" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/big.pdf"
check "files over [limits] message_size (200K): refused, saying the limit" sh -c "[ $(code) = 400 ] && grep -q 'ファイルが大きすぎます（合わせて 206 KB。上限は 200 KB です）' '$T/b'"
head -c 3000000 /dev/zero | sed 's/^/%PDF-1.7 /' >"$T/huge.pdf"
upload k -F "title=巨大" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/huge.pdf"
check "a body over the listener's cap (message_size + 2 MiB): 413" sh -c "[ $(code) = 413 ]"
upload k -F "title=多い" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/split/$K1.pdf;filename=1.pdf" \
	-F "pdfs=@$T/split/$K1.pdf;filename=2.pdf" -F "pdfs=@$T/split/$K1.pdf;filename=3.pdf" \
	-F "pdfs=@$T/split/$K1.pdf;filename=4.pdf" -F "pdfs=@$T/split/$K1.pdf;filename=5.pdf" \
	-F "pdfs=@$T/split/$K1.pdf;filename=6.pdf"
check "7 files with [limits] attachments = 6: refused" sh -c "[ $(code) = 400 ] && grep -q 'ファイルが多すぎます（7 件。上限は 6 件です）' '$T/b'"
upload k -F "title=" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf"
check "no title: refused" sh -c "[ $(code) = 400 ] && grep -q '「通知名（件名）」を入力してください' '$T/b'"
upload k -F "title=ページ" -F "split=pages" -F "pages=0" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf"
check "split by pages with 0 pages: refused" sh -c "[ $(code) = 400 ] && grep -q '1 から 10000 までの数' '$T/b'"
upload k -F "title=改行$(printf '\r')入り" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf"
check "a title with a line break: refused" sh -c "[ $(code) = 400 ] && grep -q '改行やタブを入れられません' '$T/b'"
req k -F "title=トークンなし" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf" "$U/upload"
check "no CSRF token: 403" sh -c "[ $(code) = 403 ]"
check "... audited" has_audit staff.csrf_refused "staff:$KAKARI" upload upload
check "nothing was stored by any refusal" sh -c "[ $(nbatches) -eq $N1 ]"

# --- who may ------------------------------------------------------------------------
login m minai
req m "$U/upload"
check "a clerk without the submit permission: 403 on the form" sh -c "[ $(code) = 403 ] && grep -q '権限がありません' '$T/b'"
check "... audited" has_audit staff.refused "staff:$MINAI" upload need=submit
check "... no upload link in the header" sh -c "! grep -q 'href=\"/upload\"' '$T/b'"
req m "$U/upload"; MT=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$T/b" | head -1)
req m -F "title=権限なし" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf" "$U/upload?csrf=$MT"
check "... and on the POST, nothing stored" sh -c "[ $(code) = 403 ] && [ $(nbatches) -eq $N1 ]"
login k2 kakari2
req k2 "$U$UP1"
check "another clerk cannot see the first upload's report (404)" sh -c "[ $(code) = 404 ] && ! grep -q '照合の結果' '$T/b'"
req anon "$U$UP1"
check "without a session: to the login" sh -c "[ $(code) = 303 ] && [ '$(location)' = /login ]"
done_testing
