#!/usr/bin/python3
# tests/integration/gen_bombs.py OUTDIR — small PDFs whose streams decode to
# far more than [limits] allows (decompression bombs), for bomb.sh.  Every
# PDF has two or more pages in Helvetica, page 1 showing "Atena 00010001",
# page 2 "Atena 00010002"; the bomb sits on page 2 (the doc-sum one spreads
# it over every page).  Also writes OUTDIR/keys.csv naming both residents.
#
#   single.pdf   a content stream, one FlateDecode, 1 GiB decoded
#   double.pdf   a content stream, FlateDecode twice, 2 GiB decoded
#   cmap.pdf     a font's ToUnicode CMap, FlateDecode twice, 1 GiB
#   array.pdf    the second of a page's two content streams, 1 GiB
#   form.pdf     a form XObject the page draws, 1 GiB
#   poppler.pdf  a Type3 font first (the text reader hands the page to
#                poppler), then a form XObject of 1 GiB
#   pagesum.pdf  four content streams of 15 MiB each on one page
#   docsum.pdf   160 pages sharing one 15 MiB content stream
#   lzw.pdf      a content stream, LZWDecode inside FlateDecode, 1 GiB
#   objstm.pdf   an object stream holding the catalog and pages, 1 GiB
#                (qpdf decodes object streams itself)
#   xref.pdf     a cross-reference stream, FlateDecode twice, 1 GiB
#
# A test tool: needs only Python's zlib.
import os
import struct
import sys
import zlib

MIB = 1 << 20


def deflate_zeros(n, head=b""):
    """A zlib stream of head followed by n zero bytes (PDF white space),
    made quickly: one raw deflate block of 4 MiB of zeros, ended by a full
    flush so that it refers to nothing before it, repeated."""
    zeros = b"\0" * (4 * MIB)

    def raw(data):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    whole, rest = divmod(n, len(zeros))
    body = raw(head) + raw(zeros) * whole + (raw(zeros[:rest]) if rest else b"")
    adler = zlib.adler32(head)
    for _ in range(whole):
        adler = zlib.adler32(zeros, adler)
    adler = zlib.adler32(zeros[:rest], adler)
    return b"\x78\xda" + body + b"\x03\x00" + struct.pack(">I", adler)


def lzw_zeros(n):
    """LZWDecode data (early change 1) for n zero bytes: after a literal 0,
    each code stands for one zero more than the last (the code being
    defined), with a clear code before the table fills."""
    bits, nbits, out = 0, 0, bytearray()

    def put(code, width):
        nonlocal bits, nbits
        bits = (bits << width) | code
        nbits += width
        while nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
        bits &= (1 << nbits) - 1

    left, width = n, 9
    put(256, 9)
    while left > 0:
        width, nxt, run = 9, 258, 2
        put(0, width)
        left -= 1
        while left > 0 and nxt < 4000:
            k = min(run, left)
            put(0 if k == 1 else 258 + k - 2, width)
            left -= k
            nxt += 1
            run += 1
            if nxt + 1 >= (1 << width) and width < 12:
                width += 1
        put(256, width)
    put(257, 9)
    if nbits:
        out.append((bits << (8 - nbits)) & 0xFF)
    return bytes(out)


class Pdf:
    def __init__(self):
        self.objs = []

    def reserve(self):
        self.objs.append(None)
        return len(self.objs)

    def set(self, num, body):
        self.objs[num - 1] = body

    def add(self, body):
        n = self.reserve()
        self.set(n, body)
        return n

    def stream(self, data, filters=None, extra=b""):
        f = b""
        if filters:
            f = b"/Filter [" + b" ".join(b"/" + x.encode() for x in filters) + b"] "
        return self.add(b"<< " + f + extra + b"/Length %d >>\nstream\n" % len(data) + data + b"\nendstream")

    def write(self, path, root):
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offs = []
        for i, body in enumerate(self.objs):
            offs.append(len(out))
            out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
        x = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objs) + 1)
        for o in offs:
            out += b"%010d 00000 n \n" % o
        out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(self.objs) + 1, root, x)
        with open(path, "wb") as f:
            f.write(out)


def text(key):
    return b"BT /F1 12 Tf 72 760 Td (Atena %s) Tj ET\n" % key.encode()


def doc(path, page2, npages=2, extra_res=b"", every=None):
    """page2(pdf) -> (contents ref text, resources extra) for page 2."""
    p = Pdf()
    cat, pages = p.reserve(), p.reserve()
    font = p.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for i in range(npages):
        key = "%08d" % (10001 + i)
        fonts, more = b"/F1 %d 0 R" % font, b""
        if i == 1 and page2:
            contents, more = page2(p, key)
        elif every:
            contents, more = every(p, key)
        else:
            contents = b"%d 0 R" % p.stream(zlib.compress(text(key)), ["FlateDecode"])
        if more.startswith(b" /Font << "):
            fonts += b" " + more[len(b" /Font << "):more.index(b">>")]
            more = more[more.index(b">>") + 2:]
        res = b"/Font << %s >>%s" % (fonts, more)
        kids.append(p.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << %s >> /Contents %s >>"
                          % (pages, res, contents)))
    p.set(pages, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (len(kids), b" ".join(b"%d 0 R" % k for k in kids)))
    p.set(cat, b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    p.write(path, cat)


def objstm(path, deflate, xref_bomb):
    """One page whose catalog, page tree, page and font sit in an object
    stream (1 GiB decoded unless xref_bomb), found through a
    cross-reference stream (1 GiB decoded, FlateDecode twice, if
    xref_bomb)."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    body, offs = b"", []
    for o in objs:
        offs.append(len(body))
        body += o + b"\n"
    head = b" ".join(b"%d %d" % (i + 1, offs[i]) for i in range(len(objs))) + b"\n"
    data = deflate(0 if xref_bomb else 1 << 30, head + body)
    out = bytearray(b"%PDF-1.7\n")
    o5 = len(out)
    content = zlib.compress(text("00010001"))
    out += b"5 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n"
    o6 = len(out)
    out += (b"6 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
            % (len(objs), len(head), len(data)) + data + b"\nendstream\nendobj\n")
    o7 = len(out)
    rows = [(0, 0, 65535)] + [(2, 6, i) for i in range(len(objs))] + [(1, o5, 0), (1, o6, 0), (1, o7, 0)]
    x = b"".join(struct.pack(">BIH", *r) for r in rows)
    filt = b""
    if xref_bomb:
        x = zlib.compress(deflate(1 << 30, x), 9)
        filt = b"/Filter [/FlateDecode /FlateDecode] "
    out += (b"7 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R %s/Length %d >>\nstream\n"
            % (len(rows), filt, len(x)) + x + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % o7)
    with open(path, "wb") as f:
        f.write(out)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    gib = 1 << 30
    one = deflate_zeros(gib)            # about 1 MB
    two = zlib.compress(deflate_zeros(2 * gib), 9)

    def single(p, key):
        return b"%d 0 R" % p.stream(deflate_zeros(gib, text(key)), ["FlateDecode"]), b""
    doc(os.path.join(out, "single.pdf"), single)

    def double(p, key):
        return b"%d 0 R" % p.stream(zlib.compress(deflate_zeros(2 * gib, text(key)), 9),
                                    ["FlateDecode", "FlateDecode"]), b""
    doc(os.path.join(out, "double.pdf"), double)

    def cmap(p, key):
        tu = p.stream(zlib.compress(one, 9), ["FlateDecode", "FlateDecode"])
        f2 = p.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /ToUnicode %d 0 R >>" % tu)
        c = p.stream(b"BT /F2 12 Tf 72 760 Td (Atena %s) Tj ET" % key.encode())
        return b"%d 0 R" % c, b" /Font << /F2 %d 0 R >>" % f2
    doc(os.path.join(out, "cmap.pdf"), cmap)

    def array(p, key):
        a = p.stream(text(key))
        b = p.stream(one, ["FlateDecode"])
        return b"[%d 0 R %d 0 R]" % (a, b), b""
    doc(os.path.join(out, "array.pdf"), array)

    def form(p, key):
        fm = p.stream(one, ["FlateDecode"], b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] ")
        c = p.stream(text(key) + b"/Fm1 Do\n")
        return b"%d 0 R" % c, b" /XObject << /Fm1 %d 0 R >>" % fm
    doc(os.path.join(out, "form.pdf"), form)

    def pop(p, key):
        proc = p.stream(b"0 0 d0")
        t3 = p.add(b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1 1] /FontMatrix [0.001 0 0 0.001 0 0] "
                   b"/CharProcs << /a %d 0 R >> /Encoding << /Differences [97 /a] >> /FirstChar 97 /LastChar 97 "
                   b"/Widths [1000] /Resources << >> >>" % proc)
        fm = p.stream(one, ["FlateDecode"], b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] ")
        c = p.stream(b"BT /T3 12 Tf 72 700 Td (a) Tj ET\n" + text(key) + b"/Fm1 Do\n")
        return b"%d 0 R" % c, b" /Font << /T3 %d 0 R >> /XObject << /Fm1 %d 0 R >>" % (t3, fm)
    doc(os.path.join(out, "poppler.pdf"), pop)

    fifteen = deflate_zeros(15 * MIB)

    def pagesum(p, key):
        refs = [p.stream(text(key))] + [p.stream(fifteen, ["FlateDecode"]) for _ in range(4)]
        return b"[" + b" ".join(b"%d 0 R" % r for r in refs) + b"]", b""
    doc(os.path.join(out, "pagesum.pdf"), pagesum)

    shared = []

    def docsum(p, key):
        if not shared:
            shared.append(p.stream(fifteen, ["FlateDecode"]))
        return b"[%d 0 R %d 0 R]" % (p.stream(text(key)), shared[0]), b""
    doc(os.path.join(out, "docsum.pdf"), None, npages=160, every=docsum)

    def lzw(p, key):
        return b"%d 0 R" % p.stream(zlib.compress(lzw_zeros(gib), 9), ["FlateDecode", "LZWDecode"]), b""
    doc(os.path.join(out, "lzw.pdf"), lzw)

    objstm(os.path.join(out, "objstm.pdf"), deflate_zeros, False)
    objstm(os.path.join(out, "xref.pdf"), deflate_zeros, True)

    with open(os.path.join(out, "keys.csv"), "w", encoding="utf-8") as f:
        f.write("宛名番号,氏名,メールアドレス\n00010001,佐藤 花子,sato@example.com\n"
                "00010002,鈴木 一郎,suzuki@example.com\n")


main()
