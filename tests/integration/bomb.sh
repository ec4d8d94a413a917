#!/bin/sh
# tests/integration/bomb.sh — decompression bombs and other inputs built
# to cost memory, through the real binary: `tayori pdf split --auto` and
# `tayori submit` on PDFs of a few kilobytes whose streams decode to
# gigabytes (tests/integration/gen_bombs.py: one FlateDecode, FlateDecode
# twice, LZW, a ToUnicode CMap, the second of a content array, a form
# XObject, a form on a page the text reader hands to poppler, streams each
# under the limit that add up on a page and across the document, an object
# stream and a cross-reference stream, which qpdf decodes itself), and
# `tayori submit` of an .eml of 700,000 empty MIME parts.
#
# Each must be refused with exit 1 and one line naming the page and the
# [limits] setting, nothing stored, and a peak resident set (measured by
# /usr/bin/time) under 256 MB.  The time limit is only a guard against a
# hang.  Standards: ISO 32000-1 §7.4 (filters); RFC 2046 §5.1 (multipart).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
D=$T/var
B=$T/bombs
RSS_MAX=262144 # KB

for tool in /usr/bin/time timeout; do
	command -v "$tool" >/dev/null 2>&1 || { fail "the test needs $tool"; done_testing; exit 1; }
done
check "generate the bombs" $PY "$TOP/tests/integration/gen_bombs.py" "$B"
check "init a demo tenant" "$TAYORI" init -d "$D" --demo

nbatches() { "$TAYORI" batch list -d "$D" --json | $PY -c 'import json, sys; print(len(json.load(sys.stdin)["batches"]))'; }

# bounded DESC PATTERN CMD...: exit 1, one line on stderr matching PATTERN,
# peak RSS under RSS_MAX; the figure is printed as a comment.
bounded() {
	_d=$1; _pat=$2; shift 2
	/usr/bin/time -o "$T/time" -f "%M %e" timeout 300 "$@" >"$T/b.out" 2>"$T/b.err"; _st=$?
	if [ $_st -eq 1 ]; then ok "$_d: exit 1"; else fail "$_d: exit 1 (got $_st)"; sed 's/^/#   /' "$T/b.out" "$T/b.err" | head -5; fi
	if [ "$(wc -l <"$T/b.err")" -eq 1 ] && grep -Eq "$_pat" "$T/b.err"; then
		ok "$_d: one line naming the page and the setting"
	else
		fail "$_d: one line on stderr matching /$_pat/"; sed 's/^/#   /' "$T/b.err" | head -5
	fi
	_rss=$(tail -1 "$T/time" | cut -d' ' -f1)
	echo "# $_d: peak RSS $_rss KB, $(tail -1 "$T/time" | cut -d' ' -f2) s"
	if [ -n "$_rss" ] && [ "$_rss" -lt $RSS_MAX ]; then ok "$_d: peak RSS under 256 MB"; else fail "$_d: peak RSS under 256 MB ($_rss KB)"; fi
}

stream='page 2: a content stream decodes to more than 16 MB \(\[limits\] pdf_stream_max\)$'
for b in single double lzw array; do
	bounded "split $b.pdf" "$b.pdf: $stream" \
		"$TAYORI" pdf split --auto "$B/keys.csv" "$B/$b.pdf" "$T/out-$b"
done
bounded "split cmap.pdf" 'cmap.pdf: page 2: a ToUnicode CMap decodes to more than 16 MB \(\[limits\] pdf_stream_max\)$' \
	"$TAYORI" pdf split --auto "$B/keys.csv" "$B/cmap.pdf" "$T/out-cmap"
bounded "split form.pdf" 'form.pdf: page 2: a form XObject decodes to more than 16 MB \(\[limits\] pdf_stream_max\)$' \
	"$TAYORI" pdf split --auto "$B/keys.csv" "$B/form.pdf" "$T/out-form"
# The text reader stops at the Type3 font; poppler would decode the form.
bounded "split poppler.pdf" 'poppler.pdf: page 2: a stream it uses decodes to more than 16 MB \(\[limits\] pdf_stream_max\)$' \
	"$TAYORI" pdf split --auto "$B/keys.csv" "$B/poppler.pdf" "$T/out-poppler"
bounded "split pagesum.pdf" 'pagesum.pdf: page 2: its streams decode to more than 32 MB together \(\[limits\] pdf_page_decoded\)$' \
	"$TAYORI" pdf split --auto "$B/keys.csv" "$B/pagesum.pdf" "$T/out-pagesum"
bounded "split docsum.pdf" 'docsum.pdf: page [0-9]+: the PDF.s streams decode to more than 2 GB in all \(\[limits\] pdf_decoded\)$' \
	"$TAYORI" pdf split --auto "$B/keys.csv" "$B/docsum.pdf" "$T/out-docsum"
# Split by page count, nothing reads the text: the check refuses it all the same.
bounded "split --pages 1 double.pdf" "double.pdf: $stream" \
	"$TAYORI" pdf split --pages 1 "$B/double.pdf" "$T/out-pages"
# Object and cross-reference streams are decoded by qpdf itself: they are
# measured before qpdf opens the file.
bounded "split objstm.pdf" 'objstm.pdf: the PDF.s object stream \(object 6\) decodes to more than 16 MB \(\[limits\] pdf_stream_max\)$' \
	"$TAYORI" pdf split --auto "$B/keys.csv" "$B/objstm.pdf" "$T/out-objstm"
bounded "split xref.pdf" 'xref.pdf: the PDF.s cross-reference stream \(object 7\) decodes to more than 16 MB \(\[limits\] pdf_stream_max\)$' \
	"$TAYORI" pdf split --pages 1 "$B/xref.pdf" "$T/out-xref"
for b in single double lzw array cmap form poppler pagesum docsum objstm xref pages; do
	[ -e "$T/out-$b" ] && [ -n "$(ls -A "$T/out-$b" 2>/dev/null)" ] && fail "split $b.pdf wrote files"
done

# tayori submit: a batch folder with the CSV and one bomb.
for b in double cmap poppler pagesum objstm; do
	mkdir -p "$T/batch-$b"
	cp "$B/keys.csv" "$T/batch-$b/"
	cp "$B/$b.pdf" "$T/batch-$b/notices.pdf"
done
bounded "submit double.pdf" "notices.pdf: $stream" "$TAYORI" submit -d "$D" "$T/batch-double"
bounded "submit cmap.pdf" 'notices.pdf: page 2: a ToUnicode CMap decodes to more than 16 MB' \
	"$TAYORI" submit -d "$D" "$T/batch-cmap"
bounded "submit poppler.pdf" 'notices.pdf: page 2: a stream it uses decodes to more than 16 MB' \
	"$TAYORI" submit -d "$D" "$T/batch-poppler"
bounded "submit pagesum.pdf" 'notices.pdf: page 2: its streams decode to more than 32 MB together' \
	"$TAYORI" submit -d "$D" "$T/batch-pagesum"
bounded "submit objstm.pdf" 'notices.pdf: the PDF.s object stream \(object 6\) decodes to more than 16 MB' \
	"$TAYORI" submit -d "$D" "$T/batch-objstm"
check "submit: no batch was stored" test "$(nbatches)" = 0

# A lower limit in [limits] is the one applied and named.
printf '[limits]\npdf_stream_max = 1M\n' >>"$D/tayori.conf"
mkdir -p "$T/batch-small"
$PY - "$T/batch-small/notices.pdf" <<'EOF'
import sys, zlib
# two pages; page 2's content is 2 MiB of white space after its text
def stream(data):
    z = zlib.compress(data)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(z) + z + b"\nendstream"
objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Count 2 /Kids [4 0 R 6 0 R] >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        stream(b"BT /F1 12 Tf 72 700 Td (Atena 00010001) Tj ET"),
        b"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 3 0 R >> >> /Contents 7 0 R >>",
        stream(b"BT /F1 12 Tf 72 700 Td (Atena 00010002) Tj ET" + b" " * (2 << 20))]
out = bytearray(b"%PDF-1.4\n")
offs = []
for i, o in enumerate(objs):
    offs.append(len(out))
    out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
x = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offs)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)
open(sys.argv[1], "wb").write(out)
EOF
cp "$B/keys.csv" "$T/batch-small/"
bounded "submit with pdf_stream_max = 1M" 'notices.pdf: page 2: a content stream decodes to more than 1 MB \(\[limits\] pdf_stream_max\)$' \
	"$TAYORI" submit -d "$D" "$T/batch-small"

# 700,000 empty MIME parts in 3.5 MB.
$PY - "$T/parts.eml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: admin@example.com\nTo: intake@example.com\nSubject: parts\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\n\n")
    f.write("--b\n\n" * 700000)
    f.write("--b--\n")
EOF
bounded "submit an .eml of 700,000 empty parts" 'parts.eml: the message has more than 10000 MIME parts \(\[limits\] mime_parts\)$' \
	"$TAYORI" submit -d "$D" "$T/parts.eml"
check "no batch was stored" test "$(nbatches)" = 0

done_testing
