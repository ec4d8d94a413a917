#!/usr/bin/python3
# tests/pki/sigparts.py FILE.pdf N PREFIX — write what signature N (1-based,
# in file order) covers to PREFIX.data and its /Contents value, trimmed to
# the DER length, to PREFIX.der, so that `openssl cms -verify` and
# `openssl ts -verify` can check them as independent validators.
import re
import sys

pdf = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
ranges = re.findall(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
a, b, c, d = (int(x) for x in ranges[n - 1])
with open(sys.argv[3] + ".data", "wb") as f:
    f.write(pdf[a:a + b] + pdf[c:c + d])
raw = bytes.fromhex(pdf[a + b + 1:c - 1].decode())
# DER: 0x30, then the length (short or long form)
if raw[1] < 0x80:
    total = 2 + raw[1]
else:
    k = raw[1] & 0x7F
    total = 2 + k + int.from_bytes(raw[2:2 + k], "big")
with open(sys.argv[3] + ".der", "wb") as f:
    f.write(raw[:total])
