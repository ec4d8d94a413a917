#!/usr/bin/python3
"""tests/smtp/relay.py - a real SMTP server (aiosmtpd) standing in for the
mailer's relay in tests.  Runs in the test process's child.

It listens on HOST (default 127.0.0.1) on a port the system chooses and
writes that port to PORT_FILE (atomically) once it accepts connections.
Every accepted message is stored in DIR as Q<n>.eml (the bytes received,
dot-stuffing undone, CRLF kept) and Q<n>.env (lines: "from <addr>",
"rcpt <addr>" for each recipient, "auth <user>" when authenticated); the
250 reply says "queued as Q<n>".

A recipient's local part chooses a failure on demand:
  temp-rcpt-*      451 4.3.0 at RCPT
  perm-rcpt-*      550 5.1.1 at RCPT
  throttle-rcpt-*  450 4.2.1 at RCPT (Gmail's rate reply)
  drop-rcpt-*      connection dropped at RCPT
  hang-rcpt-*      no answer at RCPT (the client's timeout must end it)
  temp-data-*      451 4.3.0 after DATA
  perm-data-*      554 5.6.0 after DATA
  drop-data-*      connection dropped after DATA (message not stored)
  slow-data-*      accepted, but only 0.3 s after DATA (to make sessions overlap)

Options: --pipelining (offer RFC 2920 PIPELINING in the EHLO reply;
aiosmtpd reads the commands a client sends in one go either way),
--auth USER:PASS (AUTH PLAIN/LOGIN required to send),
--tls CERT KEY (offer STARTTLS; with --implicit-tls, TLS from the first
byte instead, as on port 465), --concurrency-log FILE (after each
message, FILE holds one line "DOMAIN PEAK" per recipient domain: the most
sessions that were in DATA for that domain at once).
"""
import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def local_part(addr):
    return addr.rsplit("@", 1)[0].lower()


class Handler:
    def __init__(self, directory, concurrency_log=None, pipelining=False, data_delay=0.0):
        self.dir = directory
        self.pipelining = pipelining
        # Seconds before each DATA reply, as a distant relay takes: keeps a
        # fast mailer's batch in flight long enough to be killed mid-way.
        self.data_delay = data_delay
        self.n = 0
        self.clog = concurrency_log
        self.active = {}
        self.peak = {}

    def enter(self, domain):
        self.active[domain] = self.active.get(domain, 0) + 1
        self.peak[domain] = max(self.peak.get(domain, 0), self.active[domain])

    def leave(self, domain):
        self.active[domain] -= 1
        if self.clog:
            with open(self.clog + ".tmp", "w") as f:
                f.write("".join("%s %d\n" % kv for kv in sorted(self.peak.items())))
            os.rename(self.clog + ".tmp", self.clog)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        lp = local_part(address)
        if lp.startswith("temp-rcpt"):
            return "451 4.3.0 mailbox temporarily unavailable"
        if lp.startswith("perm-rcpt"):
            return "550 5.1.1 no such user here"
        if lp.startswith("throttle-rcpt"):
            return "450 4.2.1 The user you are trying to contact is receiving mail at a rate that\tprevents additional messages"
        if lp.startswith("hang-rcpt"):
            await asyncio.sleep(3600)
        if lp.startswith("drop-rcpt"):
            server.transport.abort()
            return "421 4.3.0 closing"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        domain = envelope.rcpt_tos[0].rsplit("@", 1)[-1].lower() if envelope.rcpt_tos else ""
        self.enter(domain)
        try:
            return await self.data(server, session, envelope)
        finally:
            self.leave(domain)

    async def data(self, server, session, envelope):
        lp = local_part(envelope.rcpt_tos[0]) if envelope.rcpt_tos else ""
        if lp.startswith("slow-data"):
            await asyncio.sleep(0.3)
        if self.data_delay > 0:
            await asyncio.sleep(self.data_delay)
        if lp.startswith("temp-data"):
            return "451 4.3.0 try later"
        if lp.startswith("perm-data"):
            return "554 5.6.0 content rejected"
        if lp.startswith("drop-data"):
            server.transport.abort()
            return "421 4.3.0 closing"
        self.n += 1
        qid = "Q%d" % self.n
        base = os.path.join(self.dir, qid)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        env = ["from " + (envelope.mail_from or "")]
        env += ["rcpt " + r for r in envelope.rcpt_tos]
        if session.authenticated and session.auth_data is not None:
            login = session.auth_data.login  # LoginPassword
            env.append("auth " + (login.decode() if isinstance(login, bytes) else str(login)))
        with open(base + ".env.tmp", "w") as f:
            f.write("\n".join(env) + "\n")
        os.rename(base + ".eml.tmp", base + ".eml")
        os.rename(base + ".env.tmp", base + ".env")
        return "250 2.0.0 Ok: queued as " + qid


def make_auth(spec):
    user, _, password = spec.partition(":")

    def check(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--auth")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--concurrency-log")
    ap.add_argument("--pipelining", action="store_true")
    ap.add_argument("--data-delay", type=float, default=0.0)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    handler = Handler(a.dir, a.concurrency_log, a.pipelining, a.data_delay)
    kw = {"decode_data": False, "enable_SMTPUTF8": True}
    if a.auth:
        kw.update(authenticator=make_auth(a.auth), auth_required=True, auth_require_tls=False)
    server_ssl = None
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        if a.implicit_tls:
            server_ssl = ctx
        else:
            kw.update(tls_context=ctx)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, hostname="relay.test", **kw), host=a.host, port=0,
                           ssl=server_ssl))
    port = srv.sockets[0].getsockname()[1]
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(a.port_file + ".tmp", a.port_file)
    # Stop at once, whatever connection is still open or waiting.
    loop.add_signal_handler(signal.SIGTERM, lambda: os._exit(0))
    loop.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
