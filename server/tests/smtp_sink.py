#!/usr/bin/env python3
"""A real SMTP server for Roster's tests (aiosmtpd). Every message it accepts
is appended to a JSON-lines file: message id, recipients, subject, plain text.

usage: smtp_sink.py PORT OUTFILE [--fail] [--lean] [--auth USER:PASSWORD] [--stall]
  --fail  answer every message with a permanent 550 error (failure-path tests)
  --stall accept connections and never answer (no greeting, nothing read): a
          server that hangs, so a send stays in flight until its client gives
          up (the graceful-shutdown tests); OUTFILE is left alone
  --auth  require AUTH (PLAIN or LOGIN, offered without TLS) with exactly this
          user name and password; anything else gets 535, and mail without
          AUTH gets 530. Every AUTH attempt, accepted or not, is appended to
          OUTFILE.auth as a JSON line (mechanism, login, password, success),
          so a test can tell which password reached this server
  --lean  record only the message id, recipients and raw subject, without
          MIME-parsing the message: for the throughput benchmark and the
          10,000-email tests, where Python's email parser (about 5 ms per
          message) would otherwise be the slowest part of the system measured
"""
import email
import email.policy
import json
import logging
import re
import socket
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HEADER = re.compile(rb"^(Message-ID|Subject):[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


class Sink:
    def __init__(self, path, fail, lean):
        self.out = open(path, "a", encoding="utf-8")
        self.fail = fail
        self.lean = lean

    def record_full(self, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = ""
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            text = body.get_content()
        html_part = msg.get_body(preferencelist=("html",))
        return {
            "message_id": msg.get("Message-ID", ""),
            "to": envelope.rcpt_tos,
            "subject": msg.get("Subject", ""),
            "from": msg.get("From", ""),
            "text": text,
            "has_html": html_part is not None,
        }

    def record_lean(self, envelope):
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        fields = {name.lower(): value.strip().decode("utf-8", "replace") for name, value in HEADER.findall(head)}
        return {
            "message_id": fields.get(b"message-id", ""),
            "to": envelope.rcpt_tos,
            "subject": fields.get(b"subject", ""),
        }

    async def handle_DATA(self, server, session, envelope):
        if self.fail:
            return "550 Mailbox unavailable (test sink refuses everything)"
        record = self.record_lean(envelope) if self.lean else self.record_full(envelope)
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, user, password, log_path):
        self.user = user.encode()
        self.password = password.encode()
        self.log = open(log_path, "a", encoding="utf-8")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == self.user and auth_data.password == self.password
        creds = auth_data if isinstance(auth_data, LoginPassword) else None
        attempt = {
            "mechanism": mechanism,
            "login": creds.login.decode("utf-8", "replace") if creds else None,
            "password": creds.password.decode("utf-8", "replace") if creds else None,
            "success": ok,
        }
        self.log.write(json.dumps(attempt) + "\n")
        self.log.flush()
        # handled=False: aiosmtpd answers the failure itself (535).
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def stall(port):
    """Accept every connection and hold it open, silent, until killed."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    print(f"smtp sink listening on {port} (stalling)", flush=True)
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)


def main():
    port = int(sys.argv[1])
    out = sys.argv[2]
    flags = sys.argv[3:]
    if "--stall" in flags:
        try:
            stall(port)
        except KeyboardInterrupt:
            pass
        return
    auth = {}
    if "--auth" in flags:
        user, _, password = flags[flags.index("--auth") + 1].partition(":")
        auth = dict(
            authenticator=Authenticator(user, password, out + ".auth"), auth_required=True, auth_require_tls=False
        )
        # AUTH without TLS is what the tests want (the sink runs on 127.0.0.1 only).
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    controller = Controller(
        Sink(out, "--fail" in flags, "--lean" in flags), hostname="127.0.0.1", port=port, **auth
    )
    controller.start()
    print(f"smtp sink listening on {port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
