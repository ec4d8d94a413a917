#!/usr/bin/python3
"""tests/imap/imapctl.py — the test's own IMAP client (Python's imaplib, an
independent implementation) to deliver messages by APPEND and to look into
folders afterwards.  Used by the IMAP integration tests.

Connection from the environment: IMAP_PORT (127.0.0.1), IMAP_USER, IMAP_PASS.

  append FOLDER FILE [FLAGS]      APPEND one message (FLAGS e.g. "(\\Deleted)")
  shas FOLDER                     SHA-256 of each message's bytes, sorted
  flags FOLDER                    the FLAGS of each message, one line each
  count FOLDER                    number of messages (0 if no such folder)
  wait FOLDER N SECONDS           until FOLDER holds N messages; prints the time
  append-wait FILE FOLDER N SECS  APPEND to INBOX, then wait as above
"""
import hashlib
import imaplib
import os
import sys
import time


def connect():
    m = imaplib.IMAP4("127.0.0.1", int(os.environ["IMAP_PORT"]))
    m.login(os.environ["IMAP_USER"], os.environ["IMAP_PASS"])
    return m


def count(m, folder):
    typ, data = m.status(folder, "(MESSAGES)")
    if typ != "OK":
        return 0
    s = data[0].decode()
    return int(s.rsplit("MESSAGES", 1)[1].strip(" )"))


def fetch_all(m, folder, what):
    typ, _ = m.select(folder, readonly=True)
    if typ != "OK":
        return []
    typ, data = m.fetch("1:*", what)
    m.close()
    if typ != "OK" or data == [None]:
        return []
    return data


def append(m, folder, path, flags=None):
    with open(path, "rb") as f:
        body = f.read()
    typ, data = m.append(folder, flags, None, body)
    if typ != "OK":
        sys.exit("APPEND failed: %r" % data)


def wait(m, folder, n, secs, t0):
    while time.monotonic() - t0 < secs:
        if count(m, folder) >= n:
            print("%.3f" % (time.monotonic() - t0))
            return 0
        time.sleep(0.02)
    print("timeout: %s holds %d, wanted %d" % (folder, count(m, folder), n))
    return 1


def main(argv):
    m = connect()
    cmd = argv[0]
    rc = 0
    if cmd == "append":
        append(m, argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    elif cmd == "shas":
        shas = []
        for item in fetch_all(m, argv[1], "(BODY.PEEK[])"):
            if isinstance(item, tuple):
                shas.append(hashlib.sha256(item[1]).hexdigest())
        for s in sorted(shas):
            print(s)
    elif cmd == "flags":
        for item in fetch_all(m, argv[1], "(FLAGS)"):
            print(item.decode() if isinstance(item, bytes) else item[0].decode())
    elif cmd == "count":
        print(count(m, argv[1]))
    elif cmd == "wait":
        rc = wait(m, argv[1], int(argv[2]), float(argv[3]), time.monotonic())
    elif cmd == "append-wait":
        t0 = time.monotonic()
        append(m, "INBOX", argv[1])
        rc = wait(m, argv[2], int(argv[3]), float(argv[4]), t0)
    else:
        sys.exit("unknown command " + cmd)
    m.logout()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
