#!/usr/bin/env python3
"""A real SMTP server for Roster's tests (aiosmtpd). Every message it accepts
is appended to a JSON-lines file: message id, recipients, subject, plain text.

usage: smtp_sink.py PORT OUTFILE [--fail]
  --fail  answer every message with a permanent 550 error (failure-path tests)
"""
import threading
import email
import email.policy
import json
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path, fail):
        self.path = path
        self.fail = fail

    async def handle_DATA(self, server, session, envelope):
        if self.fail:
            return "550 Mailbox unavailable (test sink refuses everything)"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = ""
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            text = body.get_content()
        html_part = msg.get_body(preferencelist=("html",))
        record = {
            "message_id": msg.get("Message-ID", ""),
            "to": envelope.rcpt_tos,
            "subject": msg.get("Subject", ""),
            "text": text,
            "has_html": html_part is not None,
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    out = sys.argv[2]
    fail = "--fail" in sys.argv[3:]
    controller = Controller(Sink(out, fail), hostname="127.0.0.1", port=port)
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
