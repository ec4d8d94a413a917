"""conn_limit.py HOST PORT N — open N TCP connections to HOST:PORT, wait,
and print "closed K": how many the server closed (or reset) at once.
Used by the portal tests of the per-IP connection limit."""
import socket
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection((host, port), timeout=5) for _ in range(n)]
time.sleep(0.5)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except ConnectionResetError:
        closed += 1
for s in socks:
    s.close()
print("closed", closed)
