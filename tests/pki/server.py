#!/usr/bin/python3
# tests/pki/server.py DIR PORTFILE — the PKI's network side for the tests:
# serves DIR/*.crl (CRL distribution points), answers RFC 3161 requests on
# POST /tsa with `openssl ts -reply` (config DIR/tsa.cnf) and OCSP requests
# on POST /ocsp with `openssl ocsp` (index of DIR's intermediate CA).
# Binds 127.0.0.1 on a free port and writes the port to PORTFILE.
# Run it with Debian's interpreter, /usr/bin/python3.
import http.server
import os
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
            if self.path == "/tsa":
                cmd = ["openssl", "ts", "-reply", "-config", os.path.join(ROOT, "tsa.cnf"),
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
                self.reply(200, ctype, f.read())

    def log_message(self, fmt, *args):
        sys.stderr.write("server: " + (fmt % args) + "\n")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
