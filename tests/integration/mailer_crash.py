#!/usr/bin/python3
"""tests/integration/mailer_crash.py RUN_LOG RELAY_DIR N AT... - kill the
mailer of `tayori run` with SIGKILL at moments of a batch's sending: each
time the relay has stored at least AT messages (out of N), the mailer's
pid is read from the supervisor's log (its last "role_started
role=mailer"), the process is killed, and the next moment waits until the
supervisor has started a new mailer that says it is ready and that has
itself committed the outcomes of GROWN messages (so that each kill finds a
mailer at work, not one still taking back what the last one left in
flight).  Prints one line per kill.
Runs in the test process's child.
"""
import os
import re
import signal
import sys
import time

GROWN = 100


def mailer_pids(log):
    try:
        text = open(log, encoding="utf-8", errors="replace").read()
    except OSError:
        return [], 0
    pids = re.findall(r"event=role_started role=mailer pid=(\d+)", text)
    ready = len(re.findall(r"role=mailer level=info event=ready", text))
    return [int(p) for p in pids], ready


def recorded(log, pid):
    try:
        text = open(log, encoding="utf-8", errors="replace").read()
    except OSError:
        return 0
    return sum(int(n) for n in re.findall(r"tayori\[%d\] role=mailer level=info event=outcomes_recorded n=(\d+)" % pid, text))


def stored(d):
    return sum(1 for n in os.listdir(d) if n.endswith(".eml"))


def main():
    log, relay, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    moments = [int(a) for a in sys.argv[4:]]
    deadline = time.time() + 120
    first = True
    for at in moments:
        while stored(relay) < at or (not first and recorded(log, mailer_pids(log)[0][-1]) < GROWN):
            if stored(relay) >= n:
                print("the batch was sent before the kill at %d" % at)
                return 1
            if time.time() > deadline:
                print("timeout waiting for %d messages (have %d)" % (at, stored(relay)))
                return 1
            time.sleep(0.005)
        pids, ready = mailer_pids(log)
        pid = pids[-1]
        have = stored(relay)
        os.kill(pid, signal.SIGKILL)
        print("killed mailer pid %d at %d of %d messages stored" % (pid, have, n), flush=True)
        # wait for the next mailer to be started and ready
        while True:
            p2, r2 = mailer_pids(log)
            if len(p2) > len(pids) and r2 > ready:
                first = False
                break
            if time.time() > deadline:
                print("timeout waiting for the mailer to come back")
                return 1
            time.sleep(0.02)
    return 0


sys.exit(main())
