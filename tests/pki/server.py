#!/usr/bin/python3
# tests/pki/server.py DIR PORTFILE [--tls NAME] — the PKI's network side for the
# tests: serves DIR/*.crl (CRL distribution points), answers RFC 3161
# requests on POST /tsa with `openssl ts -reply` (config DIR/tsa.cnf) and
# OCSP requests on POST /ocsp with `openssl ocsp` (index of DIR's
# intermediate CA).  Bad time-stamp authorities, for the checks a client
# must make: /tsa-evil (a self-signed TSA, DIR/evil.cnf), /tsa-corrupt (a
# good reply with one byte of its signature flipped), /tsa-noeku (a token
# signed with DIR/noeku.pem, which lacks the timeStamping key usage),
# /tsa-late (a good token re-signed with a genTime five years back); and
# /tsa-chunked, a good reply sent with the chunked transfer coding.
# Binds 127.0.0.1 on a free port and writes the port to PORTFILE; with
# --tls NAME it speaks HTTPS with DIR/NAME.pem and DIR/NAME.key (made by
# make-pki.sh).
# Run it with Debian's interpreter, /usr/bin/python3.
import http.server
import os
import re
import ssl
import subprocess
import sys
import tempfile
import threading

ROOT = os.path.abspath(sys.argv[1])
PORTFILE = sys.argv[2]
ENV = dict(os.environ, OPENSSL_CONF="/dev/null")
# `openssl ts -reply` reads and rewrites its serial-number file: two at
# once can hand out the same serial or fail, so requests take turns (a
# real TSA numbers concurrent requests itself).
TSA_LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def reply(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_chunked(self, ctype, body):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 100):
            part = body[i:i + 100]
            self.wfile.write(b"%x;ext=1\r\n" % len(part) + part + b"\r\n")
        self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")

    def resign(self, tmp, req, signer, key, years_back):
        """A good token's TSTInfo (genTime moved back years_back years),
        signed again by signer as a CAdES SignedData, in a TimeStampResp."""
        tok = os.path.join(tmp, "tok")
        tst = os.path.join(tmp, "tst")
        tok2 = os.path.join(tmp, "tok2")
        steps = [
            ["openssl", "ts", "-reply", "-config", os.path.join(ROOT, "tsa.cnf"),
             "-queryfile", req, "-token_out", "-out", tok],
            ["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", tok, "-out", tst],
        ]
        for cmd in steps:
            r = subprocess.run(cmd, env=ENV, capture_output=True)
            if r.returncode != 0:
                sys.stderr.write(r.stderr.decode(errors="replace"))
                return None
        with open(tst, "rb") as f:
            info = f.read()
        if years_back:
            m = re.search(rb"\x18\x0f(\d{4})(\d{10}Z)", info)
            if m is None:
                return None
            year = b"%04d" % (int(m.group(1)) - years_back)
            info = info[:m.start(1)] + year + info[m.end(1):]
            with open(tst, "wb") as f:
                f.write(info)
        r = subprocess.run(["openssl", "cms", "-sign", "-binary", "-nodetach", "-cades",
                            "-md", "sha256", "-nosmimecap", "-econtent_type", "id-smime-ct-TSTInfo",
                            "-signer", os.path.join(ROOT, signer), "-inkey", os.path.join(ROOT, key),
                            "-in", tst, "-outform", "DER", "-out", tok2],
                           env=ENV, capture_output=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr.decode(errors="replace"))
            return None
        with open(tok2, "rb") as f:
            token = f.read()
        return der_seq(b"\x30\x03\x02\x01\x00" + token)

    def do_GET(self):
        name = os.path.basename(self.path)
        path = os.path.join(ROOT, name)
        if not name.endswith(".crl") or not os.path.isfile(path):
            self.reply(404, "text/plain", b"not found\n")
            return
        with open(path, "rb") as f:
            self.reply(200, "application/pkix-crl", f.read())

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with tempfile.TemporaryDirectory() as tmp:
            req = os.path.join(tmp, "req")
            resp = os.path.join(tmp, "resp")
            with open(req, "wb") as f:
                f.write(body)
            if self.path in ("/tsa-noeku", "/tsa-late"):
                with TSA_LOCK:
                    if self.path == "/tsa-noeku":
                        body = self.resign(tmp, req, "noeku.pem", "noeku.key", 0)
                    else:
                        body = self.resign(tmp, req, "tsa.pem", "tsa.key", 5)
                if body is None:
                    self.reply(500, "text/plain", b"failed\n")
                else:
                    self.reply(200, "application/timestamp-reply", body)
                return
            if self.path in ("/tsa", "/tsa-corrupt", "/tsa-chunked", "/tsa-evil"):
                cnf = "evil.cnf" if self.path == "/tsa-evil" else "tsa.cnf"
                cmd = ["openssl", "ts", "-reply", "-config", os.path.join(ROOT, cnf),
                       "-queryfile", req, "-out", resp]
                ctype = "application/timestamp-reply"
            elif self.path == "/ocsp":
                cmd = ["openssl", "ocsp", "-index", os.path.join(ROOT, "inter.db/index.txt"),
                       "-rsigner", os.path.join(ROOT, "ocsp.pem"),
                       "-rkey", os.path.join(ROOT, "ocsp.key"),
                       "-CA", os.path.join(ROOT, "inter.pem"),
                       "-reqin", req, "-respout", resp, "-ndays", "7"]
                ctype = "application/ocsp-response"
            else:
                self.reply(404, "text/plain", b"not found\n")
                return
            with TSA_LOCK:
                r = subprocess.run(cmd, env=ENV, capture_output=True)
            if r.returncode != 0 or not os.path.exists(resp):
                sys.stderr.write(r.stderr.decode(errors="replace"))
                self.reply(500, "text/plain", b"failed\n")
                return
            with open(resp, "rb") as f:
                body = f.read()
            if self.path == "/tsa-corrupt":
                # The SignerInfo's signature value ends the reply.
                body = body[:-10] + bytes([body[-10] ^ 0x01]) + body[-9:]
            if self.path == "/tsa-chunked":
                self.reply_chunked(ctype, body)
            else:
                self.reply(200, ctype, body)

    def log_message(self, fmt, *args):
        sys.stderr.write("server: " + (fmt % args) + "\n")


def der_seq(content):
    n = len(content)
    if n < 0x80:
        return b"\x30" + bytes([n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(ln)]) + ln + content


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) == 5 and sys.argv[3] == "--tls":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(ROOT, sys.argv[4] + ".pem"),
                        os.path.join(ROOT, sys.argv[4] + ".key"))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
