#!/bin/sh
# tests/integration/submit_eml.sh — `tayori submit` on an .eml file, read as
# intake reads a mail (gateway/mime.c): an Outlook-style message (ISO-2022-JP
# subject and body, multipart/mixed around multipart/alternative, attachment
# names as RFC 2047 words inside quotes, the CSV as application/vnd.ms-excel
# and the PDF as application/octet-stream, both base64, CRLF) carrying a
# generated 5-resident batch.  Checks the matching report, that the title
# `tayori batch list` shows is the decoded Japanese subject, that a
# settings line in the body applies (テスト: はい), and the refusals: a
# TNEF-only mail and a mail over [limits] message_size (exit 1, one line,
# nothing stored).
#
# Standards: RFC 5322, RFC 2045-2047, RFC 1468 (ISO-2022-JP).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var

for tool in iconv base64; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done

nbatches() { "$TAYORI" batch list -d "$D" --json | $PY -c 'import json, sys; print(len(json.load(sys.stdin)["batches"]))'; }

# An RFC 2047 B word of UTF-8 text $2 in charset $1.
word() { printf '=?%s?B?%s?=' "$1" "$(printf '%s' "$2" | iconv -f UTF-8 -t "$1" | base64 -w0)"; }
# Lines with CRLF, as Outlook writes them on the wire.
crlf() { sed 's/$/\r/'; }

check "init a demo tenant" "$TAYORI" init -d "$D" --demo
C=$T/corpus
if ! sh "$TOP/tests/bench/gen-corpus" "$C" 5 >"$T/gen.log" 2>&1 || [ ! -s "$C/corpus.pdf" ]; then
	fail "generate a 5-resident corpus"; sed 's/^/#   /' "$T/gen.log"; done_testing; exit 1
fi
ok "generate a 5-resident corpus"

SUBJECT="令和7年度　住民税決定通知"
# outlook FILE [tnef]: an Outlook message with the corpus attached (or,
# with "tnef", only a winmail.dat).
outlook() {
	{
		crlf <<EOF
From: $(word ISO-2022-JP "山田 太郎") <Yamada.Taro@city.example.lg.jp>
To: "intake@tayori.example" <intake@tayori.example>
Subject: $(word ISO-2022-JP "令和7年度　住民税")
	$(word ISO-2022-JP "決定通知")
Thread-Topic: x
Thread-Index: AQHahE4Vb3PjQxS0Z0W8Yh4kG9Tg7A==
Date: Tue, 1 Apr 2025 09:12:33 +0000
Message-ID: <TYCPR01MB1234567ABCDEF0123@TYCPR01MB1234.jpnprd01.prod.outlook.com>
Accept-Language: ja-JP, en-US
Content-Language: ja-JP
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator:
Content-Type: multipart/mixed;
	boundary="_004_TYCPR01MB1234567ABCDEF0123_"
MIME-Version: 1.0

--_004_TYCPR01MB1234567ABCDEF0123_
Content-Type: multipart/alternative;
	boundary="_000_TYCPR01MB1234567ABCDEF0123_"

--_000_TYCPR01MB1234567ABCDEF0123_
Content-Type: text/plain; charset="iso-2022-jp"
Content-Transfer-Encoding: 7bit

EOF
		printf 'テスト: はい\n\n区民の皆さまへ\n住民税の決定通知をお送りします。\n\n-- \n税務課 山田\n' |
			iconv -f UTF-8 -t ISO-2022-JP | crlf
		crlf <<EOF

--_000_TYCPR01MB1234567ABCDEF0123_
Content-Type: text/html; charset="iso-2022-jp"
Content-Transfer-Encoding: 7bit

EOF
		printf '<html><body><p class=MsoNormal>区民の皆さまへ<o:p></o:p></p></body></html>\n' |
			iconv -f UTF-8 -t ISO-2022-JP | crlf
		crlf <<EOF

--_000_TYCPR01MB1234567ABCDEF0123_--

EOF
		if [ "${2:-}" = tnef ]; then
			crlf <<EOF
--_004_TYCPR01MB1234567ABCDEF0123_
Content-Type: application/ms-tnef; name="winmail.dat"
Content-Disposition: attachment; filename="winmail.dat"
Content-Transfer-Encoding: base64

eJ8+IhMAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADoAAEIgAcAGAAAAElQTS5NaWNy

EOF
		else
			crlf <<EOF
--_004_TYCPR01MB1234567ABCDEF0123_
Content-Type: application/vnd.ms-excel;
	name="$(word ISO-2022-JP "宛名一覧.csv")"
Content-Description: $(word ISO-2022-JP "宛名一覧.csv")
Content-Disposition: attachment;
	filename="$(word ISO-2022-JP "宛名一覧.csv")"; size=$(wc -c <"$C/corpus.csv");
	creation-date="Tue, 01 Apr 2025 09:10:00 GMT";
	modification-date="Tue, 01 Apr 2025 09:12:33 GMT"
Content-Transfer-Encoding: base64

EOF
			base64 -w76 "$C/corpus.csv" | crlf
			crlf <<EOF

--_004_TYCPR01MB1234567ABCDEF0123_
Content-Type: application/octet-stream;
	name="$(word ISO-2022-JP "通知書.pdf")"
Content-Disposition: attachment;
	filename="$(word ISO-2022-JP "通知書.pdf")"; size=$(wc -c <"$C/corpus.pdf")
Content-Transfer-Encoding: base64

EOF
			base64 -w76 "$C/corpus.pdf" | crlf
			printf '\r\n'
		fi
		crlf <<EOF
--_004_TYCPR01MB1234567ABCDEF0123_--
EOF
	} >"$1"
}

outlook "$T/batch.eml"
check "the .eml has CRLF line ends only and no 8-bit bytes" $PY -c 'import sys
b = open(sys.argv[1], "rb").read()
sys.exit(0 if b.count(b"\n") == b.count(b"\r\n") > 100 and max(b) < 0x80 else 1)' "$T/batch.eml"

"$TAYORI" submit -d "$D" --json "$T/batch.eml" >"$T/r.json" 2>"$T/r.err"; st=$?
if [ $st -eq 0 ]; then ok "submit the Outlook .eml"; else fail "submit the Outlook .eml (exit $st)"; sed 's/^/#   /' "$T/r.json" "$T/r.err" | head -10; fi
jtrue "5 recipients, 5 matched" "$T/r.json" 'd["recipients"] == 5 and d["matched"] == 5'
jtrue "status awaiting_approval" "$T/r.json" 'd["status"] == "awaiting_approval"'
jtrue "every problem list is empty" "$T/r.json" \
	'all(d[k] == [] for k in ("unmatched_pdf_keys", "csv_rows_without_pdf", "invalid_emails", "no_email_rows", "duplicate_keys"))'
BID=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["batch"])' "$T/r.json" 2>/dev/null)

"$TAYORI" batch list -d "$D" --json >"$T/list.json" 2>&1
jtrue "batch list shows the decoded subject as the title" "$T/list.json" \
	"any(str(b['batch']) == '$BID' and b['title'] == '$SUBJECT' for b in d['batches'])"
"$TAYORI" batch list -d "$D" >"$T/list.txt" 2>&1
check "the text listing shows the title too" grep -F -q "$SUBJECT" "$T/list.txt"
jtrue "the settings line in the body applies (テスト: はい)" "$T/r.json" 'd["test"] is True'

# --- refusals: exit 1, one line on stderr, nothing stored -----------------
refuse() {
	_d=$1; _pat=$2; shift 2
	_before=$(nbatches)
	"$TAYORI" submit -d "$D" "$@" >"$T/ref.out" 2>"$T/ref.err"; _st=$?
	if [ $_st -eq 1 ]; then ok "$_d: exit 1"; else fail "$_d: exit 1 (got $_st)"; sed 's/^/#   /' "$T/ref.out" "$T/ref.err" | head -10; fi
	if [ "$(wc -l <"$T/ref.err")" -eq 1 ] && grep -Eq "$_pat" "$T/ref.err"; then
		ok "$_d: one clear line on stderr"
	else
		fail "$_d: one clear line on stderr matching /$_pat/"; sed 's/^/#   /' "$T/ref.err" | head -10
	fi
	if [ "$_before" = "$(nbatches)" ]; then ok "$_d: nothing stored"; else fail "$_d: nothing stored"; fi
}
outlook "$T/tnef.eml" tnef
refuse "TNEF only" "winmail\\.dat.*send the mail again" "$T/tnef.eml"

# a message larger than [limits] message_size (the smallest allowed: 64K)
cp "$D/tayori.conf" "$T/tayori.conf.orig"
sed 's/^#message_size = .*/message_size = 64K/' "$T/tayori.conf.orig" >"$D/tayori.conf"
check "the limit is set" grep -q '^message_size = 64K' "$D/tayori.conf"
refuse "over [limits] message_size" "message is [0-9]+ bytes; the limit is 65536 bytes \\(\\[limits\\] message_size\\)" "$T/batch.eml"
cp "$T/tayori.conf.orig" "$D/tayori.conf"

done_testing
