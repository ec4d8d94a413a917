#!/usr/bin/python3
"""tests/bench/idle_conns.py — part of `make bench` (tests/bench/portal):
opens N keep-alive HTTP connections to a server on loopback, makes one
request on each, then leaves them all idle and open, and reports how many
the server kept and its resident memory (VmRSS now, VmHWM the peak) before
and with them.  Runs in the benchmark only, on this machine's loopback.

  idle_conns.py --port P [--host 127.0.0.1] [--path /] [-n 10000]
                [--pid PID] [--hold SECONDS] [--sources 200]

The connections come from --sources loopback addresses (127.0.X.Y), so
that a per-address connection limit in the server does not refuse them.
Exit 0 when all N were held, 1 when the server refused or closed some
(the figures are printed either way), 2 on a usage error.
"""
import argparse
import errno
import resource
import selectors
import socket
import sys
import time


def mem(pid):
    """VmRSS and VmHWM of pid in KiB, or (0, 0)."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def source(i, nsrc):
    k = i % nsrc
    return f"127.0.{1 + k // 250}.{1 + k % 250}"


class Conn:
    __slots__ = ("sock", "state", "buf", "want")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connecting"
        self.buf = b""
        self.want = -1


def response_done(c):
    """True when c.buf holds one whole response (headers and Content-Length)."""
    end = c.buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    if c.want < 0:
        c.want = 0
        for line in c.buf[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                c.want = int(value.strip())
    return len(c.buf) >= end + 4 + c.want


def open_batch(args, first, count, sel, request):
    """Open count connections, make one request on each, and read the
    answers; returns (kept, failed) as lists of sockets / error strings."""
    conns = []
    failed = []
    for i in range(first, first + count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            if args.host.startswith("127."):
                s.bind((source(i, args.sources), 0))
            rc = s.connect_ex((args.host, args.port))
        except OSError as e:
            s.close()
            failed.append(e.strerror or str(e))
            continue
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            failed.append(errno.errorcode.get(rc, str(rc)))
            continue
        c = Conn(s)
        conns.append(c)
        sel.register(s, selectors.EVENT_WRITE, c)
    pending = len(conns)
    deadline = time.monotonic() + args.timeout
    while pending > 0 and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            if c.state == "connecting":
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    c.state = "failed"
                    failed.append(errno.errorcode.get(err, str(err)))
                else:
                    try:
                        c.sock.sendall(request)
                        c.state = "reading"
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                        continue
                    except OSError as e:
                        c.state = "failed"
                        failed.append(e.strerror or str(e))
            else:
                try:
                    data = c.sock.recv(65536)
                except OSError as e:
                    data = None
                    failed.append(e.strerror or str(e))
                if data:
                    c.buf += data
                    if not response_done(c):
                        continue
                    c.state = "idle" if c.buf.startswith(b"HTTP/1.1 2") else "failed"
                    if c.state == "failed":
                        failed.append("status " + c.buf[9:12].decode("ascii", "replace"))
                else:
                    if data is not None:
                        failed.append("closed by the server")
                    c.state = "failed"
            sel.unregister(c.sock)
            pending -= 1
    kept = []
    for c in conns:
        if c.state == "idle":
            kept.append(c.sock)
        else:
            if c.state in ("connecting", "reading"):
                sel.unregister(c.sock)
                failed.append("timed out")
            c.sock.close()
    return kept, failed


def still_open(socks):
    """How many of socks the server has not closed."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    for key, _ in sel.select(timeout=0):
        try:
            if key.fileobj.recv(1, socket.MSG_PEEK) == b"":
                closed += 1
        except OSError:
            closed += 1
    sel.close()
    return len(socks) - closed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--pid", type=int, default=0, help="the server process to measure")
    ap.add_argument("--hold", type=float, default=5.0, help="seconds to hold them idle")
    ap.add_argument("--sources", type=int, default=200, help="loopback source addresses")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per batch")
    args = ap.parse_args()
    if not 1 <= args.sources <= 250 * 250:
        ap.error("--sources must be 1..62500")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.n + 256
    if soft < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
        except (ValueError, OSError):
            print(f"idle_conns: cannot raise the open-file limit to {need} "
                  f"(now {soft}/{hard}); run as root or raise ulimit -n", file=sys.stderr)
            return 2

    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
               "Connection: keep-alive\r\nUser-Agent: tayori-bench-idle\r\n\r\n").encode("ascii")
    rss0, _ = mem(args.pid) if args.pid else (0, 0)
    sel = selectors.DefaultSelector()
    kept, failed = [], []
    t0 = time.monotonic()
    for first in range(0, args.n, args.batch):
        k, f = open_batch(args, first, min(args.batch, args.n - first), sel, request)
        kept += k
        failed += f
    t1 = time.monotonic()
    time.sleep(args.hold)
    alive = still_open(kept)
    rss1, hwm = mem(args.pid) if args.pid else (0, 0)

    print(f"idle keep-alive connections: {alive} of {args.n} held open "
          f"(opened in {t1 - t0:.1f} s, then idle {args.hold:.0f} s)")
    if failed:
        reasons = {}
        for r in failed:
            reasons[r] = reasons.get(r, 0) + 1
        print("  not held: " + ", ".join(f"{v} {k}" for k, v in sorted(reasons.items(), key=lambda x: -x[1])))
    if alive < len(kept):
        print(f"  closed by the server while idle: {len(kept) - alive}")
    if args.pid:
        print(f"server RSS: {rss0 / 1024:.1f} MB before, {rss1 / 1024:.1f} MB with them; "
              f"peak RSS (VmHWM) {hwm / 1024:.1f} MB")
        if alive:
            print(f"  {(rss1 - rss0) / alive:.1f} KiB per idle connection")
    for s in kept:
        s.close()
    return 0 if alive == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
