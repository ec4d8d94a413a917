#!/bin/sh
# tests/integration/upload_types.sh — the ward's notice types (区の設定) in
# use, and the gateway's refusals in plain Japanese, against `tayori run` on
# a demo tenant with curl as the browser and the outbox Maildir read back:
#  - the upload form offers the ward's notice types as a choice; a batch
#    uploaded with one keeps it: shown on its page and in the batch list,
#    and the list filters by it; a type not in the list is refused with one
#    Japanese sentence, audited, nothing stored; the gateway refuses one
#    sent by mail too (種類: in the body), and its reply says so in Japanese
#    with the settings line, the English line kept below;
#  - uploads the gateway refuses (a CSV without an e-mail column, a PDF that
#    does not split into the CSV's rows, a damaged PDF) show on /upload/N
#    one Japanese sentence saying what is wrong and where, with intake's
#    English folded in a <details> for support; `tayori submit` keeps the
#    English line on stderr.
#
# Standards: RFC 7578 (multipart/form-data), RFC 5322 (the reply read back),
# RFC 9110.
. "$(dirname "$0")/lib.sh"
D=$T/var
PY=/usr/bin/python3
for tool in curl iconv; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
P1=$((20000 + ($$ + 53) % 12000)); P2=$((P1 + 1))
U=http://127.0.0.1:$P2

check "init a demo tenant" "$TAYORI" init -d "$D" --demo
sed -i -e "s/^#resident_listen = .*/resident_listen = 127.0.0.1:$P1/" \
       -e "s/^#staff_listen = .*/staff_listen = 127.0.0.1:$P2/" \
       -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
export PW=a-long-enough-password
check "an administrator" "$TAYORI" user add kanri -d "$D" --email kanri@ward.example.jp --role admin --password-env PW
check "a clerk" "$TAYORI" user add kakari -d "$D" --email kakari@ward.example.jp --role clerk --password-env PW
sh "$TOP/tests/bench/gen-corpus" "$T/c" 3 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
iconv -f CP932 -t UTF-8 "$T/c/corpus.csv" | tr -d '\r' | cut -d, -f1,2 >"$T/noaddr.csv"
head -c 20000 "$T/c/corpus.pdf" >"$T/broken.pdf"

demo_run
shows() { grep -qF -- "$1" "$T/b"; }
nbatches() { "$TAYORI" batch list -d "$D" --json | $PY -c 'import json, sys; d = json.load(sys.stdin); print(len(d["batches"] if isinstance(d, dict) else d))'; }
audited() { "$TAYORI" audit show -d "$D" --json | $PY -c 'import json, sys
d = json.load(sys.stdin); recs = d["records"] if isinstance(d, dict) else d
sys.exit(0 if any(r["action"] == sys.argv[1] and sys.argv[2] in r["detail"] for r in recs) else 1)' "$1" "$2"; }

login a kanri
req a "$U/settings"; C=$(csrf)
req a --data-urlencode "csrf=$C" \
	--data-urlencode "notice_types=$(printf '住民税決定通知｜地方税法｜紙で送付\n保険料決定通知 | 国民健康保険法 | 紙で送付')" "$U/settings"
check "the administrator saves two notice types" [ "$(code)" = 303 ]

login k kakari
req k "$U/upload"
TOKEN=$(sed -n 's/.*action="\/upload?csrf=\([^"]*\)".*/\1/p' "$T/b" | head -1)
check "the upload form: a labelled choice of the ward's notice types" sh -c \
	"grep -q '<label for=\"type\">通知の種類</label>' '$T/b' && grep -q '<select id=\"type\" name=\"type\"' '$T/b' && grep -q '<option value=\"住民税決定通知\">住民税決定通知</option>' '$T/b' && grep -q '<option value=\"保険料決定通知\">保険料決定通知</option>' '$T/b' && grep -q '<option value=\"\">（選ばない）</option>' '$T/b'"
upload() { req k "$@" "$U/upload?csrf=$TOKEN"; }
# result: follow the 303 and wait for the gateway; the page is then in $T/b
result() {
	_loc=$(location); [ -n "$_loc" ] || return 1
	_i=0
	while [ $_i -lt 600 ]; do
		req k "$U$_loc"
		grep -q 'Refresh' "$T/h" || return 0
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}
batch_of_page() { sed -n 's/.*href="\/batches\/\([0-9]*\)".*/\1/p' "$T/b" | head -1; }

# --- a type chosen, kept, shown, filtered ------------------------------------------------
upload -F "title=保険料のお知らせ" -F "type=保険料決定通知" -F "message=区民の皆さまへ。" \
	-F "csv=@$T/c/corpus.csv;type=text/csv" -F "pdfs=@$T/c/corpus.pdf;type=application/pdf"
check "an upload with a type: taken" sh -c "[ $(code) = 303 ]"
check "... the gateway stores it" result
BT=$(batch_of_page)
check "... as a batch" [ -n "$BT" ]
upload -F "title=種類なしのお知らせ" -F "type=" -F "message=区民の皆さまへ。" \
	-F "csv=@$T/c/corpus.csv;type=text/csv" -F "pdfs=@$T/c/corpus.pdf;type=application/pdf;filename=other.pdf"
result; BN=$(batch_of_page)
check "an upload with no type is stored too" [ -n "$BN" ]
req k "$U/batches/$BT"
check "the batch page shows its notice type" shows "<dt>通知の種類</dt><dd>保険料決定通知"
"$TAYORI" batch show "$BT" -d "$D" --json >"$T/show-type.json" 2>&1
jtrue "... and batch show --json names it" "$T/show-type.json" "d['summary']['type'] == '保険料決定通知'"
"$TAYORI" batch list -d "$D" --json >"$T/list-type.json" 2>&1
jtrue "... batch list --json too, and no type for the batch without one" "$T/list-type.json" \
	"[b.get('type') for b in (d if isinstance(d, list) else d['batches']) if b['batch'] in ($BT, $BN)] == ['保険料決定通知', None]"
req k "$U/batches"
check "the batch list shows it beside the title" shows "保険料のお知らせ<br><span class=\"hint\">種類：保険料決定通知</span>"
check "... and offers the types as a filter" shows '<option value="保険料決定通知">保険料決定通知</option>'
req k -G --data-urlencode "type=保険料決定通知" "$U/batches"
check "filtered by 保険料決定通知: that batch only" sh -c "grep -q 'href=\"/batches/$BT\"' '$T/b' && ! grep -q 'href=\"/batches/$BN\"' '$T/b' && grep -q '<option value=\"保険料決定通知\" selected>' '$T/b'"
req k -G --data-urlencode "type=住民税決定通知" "$U/batches"
check "filtered by 住民税決定通知: none" shows "該当するバッチはありません。"

# --- a type not in the list -------------------------------------------------------------
N=$(nbatches)
upload -F "title=架空の通知" -F "type=架空の通知" -F "message=区民の皆さまへ。" \
	-F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf"
check "a type not in the list: 400 with one Japanese sentence" sh -c \
	"[ $(code) = 400 ] && [ \$(grep -c 'role=\"alert\"' '$T/b') -eq 1 ] && grep -q '受け付けできませんでした。何も保存されていません。「通知の種類」は、区の設定に登録された種類から選んでください。' '$T/b'"
check "... nothing stored" [ "$(nbatches)" = "$N" ]
check "... audited" audited upload.refuse reason=bad_type

# --- by mail: the gateway checks the type, and replies in Japanese -------------------------
eml() { # eml SUBJECT BODY CSV PDF OUT
	{
		printf 'From: kakari@ward.example.jp\r\nTo: intake@ward.example.jp\r\n'
		printf 'Subject: =?UTF-8?B?%s?=\r\nMessage-ID: <%s@ward.example.jp>\r\n' "$(printf '%s' "$1" | base64 -w0)" "$(basename "$5")"
		printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
		printf -- '--b1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n' "$2"
		printf -- '--b1\r\nContent-Type: text/csv; name="list.csv"\r\nContent-Disposition: attachment; filename="list.csv"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 "$3" | sed 's/$/\r/'
		printf -- '--b1\r\nContent-Type: application/pdf; name="notices.pdf"\r\nContent-Disposition: attachment; filename="notices.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
		base64 "$4" | sed 's/$/\r/'
		printf -- '--b1--\r\n'
	} >"$5"
}
own() { [ "$(id -u)" != 0 ] || chown -R --reference="$D/inbox" "$1"; }
mkdir -p "$T/stage"
eml "架空の種類" "$(printf 'テスト: いいえ\r\n種類: 架空の通知\r\n\r\n区民の皆さまへ。')" "$T/c/corpus.csv" "$T/c/corpus.pdf" "$T/stage/m1.eml"
own "$T/stage/m1.eml"; mv "$T/stage/m1.eml" "$D/inbox/"
check "by mail, a type not in the list is refused" wait_for 60 test ! -e "$D/inbox/m1.eml"
cat >"$T/reply.py" <<'PYEOF'
import email, email.policy, os, sys
d = sys.argv[1]
for n in sorted(os.listdir(d)):
    m = email.message_from_bytes(open(os.path.join(d, n), "rb").read(), policy=email.policy.default)
    if "受付できませんでした" in str(m["Subject"]):
        print(m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n"))
PYEOF
check "... the reply comes" wait_for 10 sh -c "$PY '$T/reply.py' '$D/mail/outbox/new' | grep -q ."
$PY "$T/reply.py" "$D/mail/outbox/new" >"$T/reply.txt"
check "... and says why in Japanese, with the line" grep -q '^  「通知の種類」が区の設定にありません。区の設定に登録されている種類から選んでください。（本文の先頭の設定の 2 行目）' "$T/reply.txt"
check "... the English line kept below for support" sh -c "grep -q '詳しい説明（英語・問い合わせ用）' '$T/reply.txt' && grep -q 'settings line 2: the notice type \"架空の通知\" is not one of' '$T/reply.txt'"
check "... nothing stored" [ "$(nbatches)" = "$N" ]

# --- the gateway's refusals of uploads, in Japanese -------------------------------------------
# refused_ja DESC JAPANESE ENGLISH CURL-ARGS...: uploaded, refused by the
# gateway, /upload/N says JAPANESE, and ENGLISH only inside <details>
refused_ja() {
	_d=$1; _ja=$2; _en=$3; shift 3
	upload "$@"
	if ! result; then fail "$_d: the gateway answers"; return; fi
	$PY - "$T/b" "$_ja" "$_en" >"$T/.why" 2>&1 <<'PYEOF'
import re, sys
page, ja, en = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2], sys.argv[3]
why = re.search(r'<h2>理由</h2>\n<p class="why">([^<]*)</p>', page)
det = re.search(r'<details><summary>詳しい説明（英語・問い合わせ用）</summary>\n<p lang="en"><code>([^<]*)</code></p>\n</details>', page)
ok = ("受け付けできませんでした。何も保存されていません。" in page and why is not None and ja in why.group(1)
      and det is not None and en in det.group(1) and en not in page.replace(det.group(0), ""))
print("why:", why.group(1) if why else None); print("details:", det.group(1) if det else None)
sys.exit(0 if ok else 1)
PYEOF
	if [ $? -eq 0 ]; then ok "$_d"; else fail "$_d"; sed 's/^/#   /' "$T/.why"; fi
}
refused_ja "a CSV without an e-mail column: the Japanese reason with its line, the English in <details>" \
	"CSV にメールアドレスの列が見つかりません。見出しの行に「メールアドレス」という列を入れてください。（「noaddr.csv」の 1 行目）" \
	"no e-mail column found" \
	-F "title=列なし" -F "csv=@$T/noaddr.csv;type=text/csv" -F "pdfs=@$T/c/corpus.pdf"
refused_ja "6 pages split by 4: the page count does not divide" \
	"PDF のページ数が、1 人あたりのページ数で割り切れません。" "is not a multiple of" \
	-F "title=ページ数の誤り" -F "split=pages" -F "pages=4" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/c/corpus.pdf"
refused_ja "a PDF cut short: damaged, naming the file" "（ファイル「broken.pdf」）" "broken.pdf: the PDF is" \
	-F "title=壊れたPDF" -F "csv=@$T/c/corpus.csv" -F "pdfs=@$T/broken.pdf;type=application/pdf"
check "... nothing stored by any of them" [ "$(nbatches)" = "$N" ]

mkdir -p "$T/f1"; cp "$T/noaddr.csv" "$T/c/corpus.pdf" "$T/f1/"
check_status 1 "tayori submit keeps intake's English line" "$TAYORI" submit -d "$D" "$T/f1"
check "... on stderr, naming the file and line" grep -q 'noaddr.csv: line 1: no e-mail column found' "$T/last"
done_testing
