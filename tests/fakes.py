"""Local stand-ins for services outside the platform, reached over real sockets.

A Sentry ingestion endpoint that records what the SDK sends, and an SMTP server (aiosmtpd)
that records what is mailed. The platform talks to them as it would to the real ones.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from devstack.servers import free_port


class FakeSentry:
    """An HTTP server accepting Sentry envelopes; `dsn` points an SDK at it."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    raw = gzip.decompress(raw)
                elif encoding == "deflate":
                    raw = zlib.decompress(raw)
                elif encoding == "br":
                    import brotli  # only if the SDK picked it

                    raw = brotli.decompress(raw)
                owner.bodies.append(raw.decode("utf-8", errors="replace"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[str]:
        """Envelopes that carry an error or message event (not sessions or check-ins)."""
        return [body for body in self.bodies if '"type":"event"' in body.replace(" ", "")]

    def __enter__(self) -> FakeSentry:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A real SMTP server on loopback that keeps every message it receives.

    `replies` scripts the answers to DATA, one per message ("451 try later", "550 no such
    user"); once they run out it accepts everything.
    """

    def __init__(self, replies: list[str] | None = None) -> None:
        self.messages: list[dict] = []
        self.replies = list(replies or [])
        owner = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                if owner.replies:
                    return owner.replies.pop(0)
                owner.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "data": envelope.content.decode("utf-8", errors="replace"),
                    }
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()


class FakeCrm:
    """A CRM webhook: answers POSTs with the scripted statuses, then 200, and records each."""

    def __init__(self, statuses: list[int] | None = None, headers: dict | None = None) -> None:
        self.requests: list[dict] = []
        self.statuses = list(statuses or [])
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = owner.statuses.pop(0) if owner.statuses else 200
                owner.requests.append(
                    {"headers": dict(self.headers), "body": body.decode(), "status": status,
                     "at": time.time()}
                )  # fmt: skip
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/leads"

    def __enter__(self) -> FakeCrm:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
