#!/usr/bin/python3
# tests/integration/live_sse.py — the live view's real-peer driver for
# dashboard_live.sh (and, with --bench, for tests/bench/dashboard): reads
# a batch's Server-Sent Events stream from the staff listener while it
# acts as residents on the resident listener (the link, the click that
# opens, the PDF and the certificate downloads), and writes a JSON report
# of what arrived and how long after the action.  Runs in the test process.
#
#   live_sse.py flow STAFF_URL BATCH COOKIE RESIDENT_URL MAILDIR KEYS.tsv OUT.json -- SEND-CMD...
#   live_sse.py bench STAFF_URL BATCH COOKIE RESIDENT_URL RESIDENT_COOKIE N OUT.json
#
# bench: N downloads of the resident's notice (by its session cookie), one
# after another, each timed from its request to its event on the stream
# (p50, p99; and the download's own answer time).
#
# KEYS.tsv: one "address<TAB>key" per resident.  SEND-CMD sends the batch
# once the stream is open (so the mailer's "sent" events are seen live).
import email
import email.policy
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.0.0 Safari/537.36")
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Stream:
    """The event stream, read on a thread: each event with its arrival time."""

    def __init__(self, url, cookie, last_id=None):
        hdrs = {"Cookie": cookie, "Accept": "text/event-stream"}
        if last_id:
            hdrs["Last-Event-ID"] = last_id
        req = urllib.request.Request(url, headers=hdrs)
        self.resp = urllib.request.build_opener(NoRedirect).open(req, timeout=120)
        self.headers = dict(self.resp.headers)
        self.events = []
        self.raw = []
        self.ended = None
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        ev = {"event": "message", "data": [], "id": None}
        try:
            for line in self.resp:
                line = line.decode("utf-8").rstrip("\r\n")
                self.raw.append(line)
                if line == "":
                    if ev["data"]:
                        d = "\n".join(ev["data"])
                        with self.cv:
                            self.events.append({"event": ev["event"], "id": ev["id"],
                                                "data": json.loads(d), "at": time.monotonic()})
                            self.cv.notify_all()
                    ev = {"event": "message", "data": [], "id": None}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "data":
                        ev["data"].append(v)
                    elif k == "event":
                        ev["event"] = v
                    elif k == "id":
                        ev["id"] = v
        except Exception:  # the stream ended or broke: both end it
            pass
        with self.cv:
            self.ended = time.monotonic()
            self.cv.notify_all()

    def wait(self, pred, timeout, start=0):
        """The first event from index start on that pred accepts, or None."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for e in self.events[start:]:
                    if pred(e):
                        return e
                left = end - time.monotonic()
                if left <= 0 or self.ended is not None:
                    return None
                self.cv.wait(left)

    def wait_end(self, timeout):
        with self.cv:
            self.cv.wait_for(lambda: self.ended is not None, timeout)
            return self.ended


class Resident:
    """One resident's browser: a cookie jar and a user agent."""

    def __init__(self, base, ua):
        self.base = base
        self.ua = ua
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"User-Agent": self.ua})
        with self.op.open(req, timeout=30) as r:
            return r.status, r.read()

    def open_link(self, path):
        """The link page, then the click that opens (its CSRF token)."""
        _, page = self.get(path)
        csrf = re.search(rb'name="csrf" value="([^"]+)"', page).group(1).decode()
        body = urllib.parse.urlencode({"csrf": csrf}).encode()
        req = urllib.request.Request(self.base + path, data=body, headers={"User-Agent": self.ua})
        t0 = time.monotonic()
        with self.op.open(req, timeout=30) as r:
            r.read()
            return t0, r.status


def links(maildir):
    """address -> the link path of the newest mail to it."""
    out = {}
    names = sorted(os.listdir(maildir), key=lambda n: os.stat(os.path.join(maildir, n)).st_mtime)
    for name in names:
        m = email.message_from_bytes(open(os.path.join(maildir, name), "rb").read(),
                                     policy=email.policy.default)
        text = m.get_body(preferencelist=("plain",)).get_content()
        found = re.findall(r"/n/[A-Za-z0-9_-]+", text)
        if found:
            out[str(m["To"]).strip("<>")] = found[0]
    return out


def row_of(stream, seq, ev, start=0, timeout=10):
    return stream.wait(lambda e: e["event"] == "row" and e["data"]["seq"] == seq and
                       ev in e["data"]["evs"], timeout, start)


def seqs_from_page(staff, batch, cookie):
    req = urllib.request.Request("%s/batches/%s" % (staff, batch), headers={"Cookie": cookie})
    page = urllib.request.urlopen(req, timeout=30).read().decode("utf-8")
    # keys as normalised (leading zeros as Excel may have lost them)
    return {k.lstrip("0"): int(s) for s, k in re.findall(r'<td id="r-(\d+)">(?:<a href="[^"]*">)?([^<]*)(?:</a>)?</td>', page)}, page


def flow(argv):
    staff, batch, cookie, resident, maildir, keys_tsv, out = argv[:7]
    send = argv[8:]
    rep = {"latency_ms": {}}
    st = Stream("%s/batches/%s/events" % (staff, batch), cookie)
    rep["content_type"] = st.headers.get("Content-Type", "")
    rep["snapshot"] = st.wait(lambda e: e["event"] == "usage", 10) is not None
    subprocess.run(send, check=True, stdout=subprocess.DEVNULL)
    keys = {a: k.lstrip("0") for a, k in
            (line.rstrip("\n").split("\t") for line in open(keys_tsv, encoding="utf-8"))}
    seq_of, _ = seqs_from_page(staff, batch, cookie)
    seqs = sorted(seq_of[k] for k in keys.values())
    rep["sent_rows"] = [s for s in seqs if row_of(st, s, "sent", 0, 60) is not None]
    rep["seqs"] = seqs
    deadline = time.monotonic() + 60
    got = {}
    while time.monotonic() < deadline and len(got) < len(keys):
        got = links(maildir)
        time.sleep(0.2)
    addrs = sorted(keys)
    a, b = addrs[0], addrs[1]
    # A link scanner's click at once after delivery, then a resident's.
    scan = Resident(resident, HEADLESS)
    n = len(st.events)
    t0, rep["scanner_open_status"] = scan.open_link(got[a])
    e = row_of(st, seq_of[keys[a]], "open", n)
    rep["scanner_row"] = e and e["data"]
    rep["latency_ms"]["open_scanner"] = e and round((e["at"] - t0) * 1000, 1)
    person = Resident(resident, BROWSER)
    n = len(st.events)
    t0, rep["open_status"] = person.open_link(got[b])
    e = row_of(st, seq_of[keys[b]], "open", n)
    rep["open_row"] = e and e["data"]
    rep["latency_ms"]["open"] = e and round((e["at"] - t0) * 1000, 1)
    n = len(st.events)
    t0 = time.monotonic()
    status, pdf = person.get("/notice/pdf")
    rep["pdf"] = [status, pdf[:5].decode("latin-1")]
    e = row_of(st, seq_of[keys[b]], "download", n)
    rep["download_row"] = e and e["data"]
    rep["latency_ms"]["download"] = e and round((e["at"] - t0) * 1000, 1)
    n = len(st.events)
    t0 = time.monotonic()
    person.get("/notice/cert")
    e = row_of(st, seq_of[keys[b]], "cert_download", n)
    rep["cert_row"] = e and e["data"]
    rep["latency_ms"]["cert_download"] = e and round((e["at"] - t0) * 1000, 1)
    u = st.wait(lambda e: e["event"] == "usage" and e["data"].get("certs") == "1 回", 10, n)
    rep["usage"] = u and u["data"]
    rep["keys_in_stream"] = [k for k in keys.values() if any(k in line for line in st.raw)]
    rep["addresses_in_stream"] = [x for x in keys if any(x in line for line in st.raw)]
    # A reconnecting browser names the last event it got: what came after
    # the scanner's open comes again.
    first = next((e for e in st.events if e["event"] == "row" and "open" in e["data"]["evs"]),
                 None)
    rep["replayed"] = False
    if first and rep["download_row"]:
        again = Stream("%s/batches/%s/events" % (staff, batch), cookie, first["id"])
        e = again.wait(lambda e: e["event"] == "row" and e["data"]["seq"] == seq_of[keys[b]] and
                       e["data"]["state"] == rep["download_row"]["state"], 10)
        rep["replayed"] = e is not None
    rep["rows"] = [e["data"] for e in st.events if e["event"] == "row"]
    rep["ids"] = [e["id"] for e in st.events if e["event"] == "row"][:3]
    json.dump(rep, open(out, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    print(json.dumps(rep["latency_ms"]))


def bench(argv):
    staff, batch, cookie, resident, rcookie, n, out = argv[:7]
    n = int(n)
    st = Stream("%s/batches/%s/events" % (staff, batch), cookie)
    st.wait(lambda e: e["event"] == "usage", 30)
    lat, resp = [], []
    for _ in range(n):
        k = len(st.events)
        req = urllib.request.Request(resident + "/notice/pdf",
                                     headers={"Cookie": rcookie, "User-Agent": BROWSER})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
        t1 = time.monotonic()
        e = st.wait(lambda e: e["event"] == "row" and "download" in e["data"]["evs"], 10, k)
        if e is None:
            sys.exit("no download event within 10 s")
        lat.append((e["at"] - t0) * 1000)
        resp.append((t1 - t0) * 1000)
    lat.sort()
    resp.sort()
    pick = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
    rep = {"n": n, "p50_ms": round(pick(lat, 0.50), 2), "p99_ms": round(pick(lat, 0.99), 2),
           "max_ms": round(lat[-1], 2), "download_p50_ms": round(pick(resp, 0.50), 2),
           "download_p99_ms": round(pick(resp, 0.99), 2)}
    json.dump(rep, open(out, "w"), indent=1)
    print(json.dumps(rep))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "flow":
        flow(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "bench":
        bench(sys.argv[2:])
    else:
        sys.exit(__doc__ or "usage: live_sse.py flow|bench ...")
