#!/bin/sh
# tests/integration/batch_export.sh — `tayori batch export ID [--paper]
# [-o OUT]` through the real binary on a real tenant: every resident's
# state as CSV, and the paper list (no address, past the deadline) as a CSV
# and one merged PDF.  The CSVs are read back with Python's csv module
# (UTF-8 with a BOM, CRLF, RFC 4180 quoting); names that a spreadsheet
# would run as formulas (=cmd, +, -, @) come out neutralised; the merged PDF
# passes qpdf --check, has the paper residents' pages in resident order
# and pdftotext finds each one's key on the pages the CSV names; files are
# never overwritten; each export is audited.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
for tool in qpdf pdftotext iconv; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done

"$TAYORI" init -d "$D" --demo >/dev/null 2>&1 || { fail "init"; done_testing; exit 1; }
sed -i -e "s/^#syslog = .*/syslog = no/" "$D/tayori.conf"
sh "$TOP/tests/bench/gen-corpus" "$T/c" 4 >/dev/null 2>&1 || { fail "gen-corpus"; done_testing; exit 1; }
# The corpus's 4 residents, renamed: rows 1 and 3 have no address (the
# paper list), and every name is one a spreadsheet would take for a formula
# or must quote.
$PY - "$T/c/corpus.csv" "$T/list.csv" "$T/keys" <<'PYEOF'
import csv, io, sys
rows = list(csv.reader(io.StringIO(open(sys.argv[1], encoding="cp932", newline="").read())))
names = ['=cmd|" /C calc"!A0', '+81-3-1234', '-2+3', '@SUM(A1:A9)']
with open(sys.argv[3], "w") as k:
    for i, r in enumerate(rows[1:]):
        r[1] = names[i]
        if i in (0, 2):
            r[2] = ""
        k.write(r[0].zfill(8) + "\n")  # as the batch normalises keys (lost zeros)
with open(sys.argv[2], "w", encoding="cp932", newline="") as f:
    csv.writer(f, lineterminator="\r\n").writerows(rows)
PYEOF
K1=$(sed -n 1p "$T/keys"); K2=$(sed -n 2p "$T/keys"); K3=$(sed -n 3p "$T/keys"); K4=$(sed -n 4p "$T/keys")
mkdir "$T/b1" "$T/b2"
cp "$T/list.csv" "$T/c/corpus.pdf" "$T/b1/"
cp "$T/list.csv" "$T/c/corpus.pdf" "$T/b2/"
printf '期限: 2020-01-31\n\n期限を過ぎた通知です。\n' >"$T/b2/message.txt"
"$TAYORI" submit -d "$D" --json "$T/b1" >"$T/b1.json" 2>"$T/b1.err" || { fail "submit"; sed 's/^/#   /' "$T/b1.err"; }
B1=$(jval "$T/b1.json" 'd["batch"]')
"$TAYORI" submit -d "$D" --json --again "$T/b2" >"$T/b2.json" 2>"$T/b2.err" || { fail "submit 2"; sed 's/^/#   /' "$T/b2.err"; }
B2=$(jval "$T/b2.json" 'd["batch"]')
jtrue "the batch matched its 4 residents" "$T/b1.json" 'd["matched"] == 4'

# readcsv FILE EXPR: Python's csv reader over the file (BOM and CRLF
# required); EXPR is true of rows (header first).
readcsv() {
	$PY - "$1" "$2" >"$T/csv.out" 2>&1 <<'PYEOF'
import csv, sys
raw = open(sys.argv[1], "rb").read()
assert raw.startswith(b"\xef\xbb\xbf"), "no BOM"
body = raw[3:]
assert body.count(b"\n") == body.count(b"\r\n"), "a line end that is not CRLF"
rows = list(csv.reader(body.decode("utf-8").splitlines(keepends=False), strict=True))
if not eval(sys.argv[2]):
    print(rows)
    sys.exit(1)
PYEOF
}
csvcheck() { if readcsv "$2" "$3"; then ok "$1"; else fail "$1"; echo "#   wanted: $3"; sed 's/^/#   /' "$T/csv.out" | head -5; fi; }

# --- the state of every resident ------------------------------------------------
check_status 0 "export: every resident's state on standard output" "$TAYORI" batch export "$B1" -d "$D"
cp "$T/last" "$T/all.csv"
csvcheck "export: a header and 4 residents in order" "$T/all.csv" \
	"len(rows) == 5 and rows[0][0] == '宛名番号' and [r[0] for r in rows[1:]] == ['$K1', '$K2', '$K3', '$K4']"
csvcheck "export: formula names neutralised with an apostrophe" "$T/all.csv" \
	"[r[1] for r in rows[1:]] == ['\\'=cmd|\" /C calc\"!A0', '\\'+81-3-1234', '\\'-2+3', '\\'@SUM(A1:A9)']"
csvcheck "export: no cell starts with = + - @" "$T/all.csv" \
	"not any(c[:1] in ('=', '+', '-', '@', '\\t', '\\r') for r in rows for c in r)"
csvcheck "export: rows without an address are on paper, the others queued" "$T/all.csv" \
	"[(r[3], r[8]) for r in rows[1:]] == [('paper', '1'), ('queued', '0'), ('paper', '1'), ('queued', '0')]"
check_status 0 "export -o FILE" "$TAYORI" batch export "$B1" -o "$T/all2.csv" -d "$D"
check "export -o: the same bytes as on standard output" cmp "$T/all.csv" "$T/all2.csv"
check "export -o: the file is the owner's alone (mode 600)" test "$(stat -c %a "$T/all2.csv")" = 600
check_status 1 "export -o: an existing file is not overwritten" "$TAYORI" batch export "$B1" -o "$T/all2.csv" -d "$D"
check "... and stays as it was" cmp "$T/all.csv" "$T/all2.csv"
check_status 1 "export: an unknown batch is refused" "$TAYORI" batch export 999 -d "$D"

# --- the paper list -------------------------------------------------------------
check_status 0 "export --paper -o OUT" "$TAYORI" batch export "$B1" --paper -o "$T/p1" -d "$D"
check "... says how many and where" grep -q "2 residents on the paper list: $T/p1.csv, $T/p1.pdf" "$T/last"
csvcheck "paper: the two residents without an address, in order, with why and their pages" "$T/p1.csv" \
	"[(r[0], r[4], r[5]) for r in rows[1:]] == [('$K1', 'no_address', '1-2'), ('$K3', 'no_address', '3-4')]"
csvcheck "paper: formula names neutralised" "$T/p1.csv" \
	"[r[1] for r in rows[1:]] == ['\\'=cmd|\" /C calc\"!A0', '\\'-2+3']"
check "paper: qpdf --check accepts the merged PDF" qpdf --check "$T/p1.pdf"
check "paper: 4 pages (2 residents x 2)" test "$(qpdf --show-npages "$T/p1.pdf")" -eq 4
pdftotext -f 1 -l 2 "$T/p1.pdf" "$T/p1a.txt"; pdftotext -f 3 -l 4 "$T/p1.pdf" "$T/p1b.txt"
check "paper: pages 1-2 are $K1's notice" sh -c "grep -q '$K1' '$T/p1a.txt' && ! grep -q '$K3' '$T/p1a.txt'"
check "paper: pages 3-4 are $K3's notice" sh -c "grep -q '$K3' '$T/p1b.txt' && ! grep -q '$K1' '$T/p1b.txt'"
pdftotext "$T/p1.pdf" "$T/p1.txt"
check "paper: no notice of a resident with an address" sh -c "! grep -q -e '$K2' -e '$K4' '$T/p1.txt'"
check "paper: both files are the owner's alone" test "$(stat -c %a "$T/p1.csv")$(stat -c %a "$T/p1.pdf")" = 600600
check_status 1 "paper: existing files are not overwritten" "$TAYORI" batch export "$B1" --paper -o "$T/p1" -d "$D"

# past the deadline (期限: 2020-01-31) nobody has downloaded: all four
check_status 0 "paper, past the deadline: export --paper -o OUT.csv" "$TAYORI" batch export "$B2" --paper -o "$T/p2.csv" -d "$D"
csvcheck "paper, past the deadline: all four, in order, with why" "$T/p2.csv" \
	"[(r[0], r[4]) for r in rows[1:]] == [('$K1', 'no_address'), ('$K2', 'not_downloaded'), ('$K3', 'no_address'), ('$K4', 'not_downloaded')]"
check "paper, past the deadline: 8 pages, qpdf --check" sh -c "qpdf --check '$T/p2.pdf' >/dev/null && test \$(qpdf --show-npages '$T/p2.pdf') -eq 8"
pdftotext -f 5 -l 6 "$T/p2.pdf" "$T/p2c.txt"
check "paper, past the deadline: pages 5-6 are $K3's" grep -q "$K3" "$T/p2c.txt"
(cd "$T" && "$TAYORI" batch export "$B2" --paper -d "$D" >/dev/null 2>&1)
check "paper: without -o, batch-ID-paper.csv and .pdf in the current folder" test -s "$T/batch-$B2-paper.csv" -a -s "$T/batch-$B2-paper.pdf"

"$TAYORI" audit show -d "$D" >"$T/audit.txt" 2>&1
check "every export is audited, with counts and no names" sh -c "test \$(grep -c 'batch\.export' '$T/audit.txt') -eq 5 && grep -q 'paper=yes rows=2 pdfs=2' '$T/audit.txt' && ! grep -q -e calc -e '$K1' '$T/audit.txt'"
check_status 0 "the audit chain verifies" "$TAYORI" audit verify -d "$D"
done_testing
