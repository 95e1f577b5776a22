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


class LocalHttp:
    """An HTTP server on a free loopback port, answering through `answer` (override it)."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers = owner.answer(self.command, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, headers: dict, body: bytes) -> tuple[int, dict]:
        return 200, {}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSentry(LocalHttp):
    """Accepts Sentry envelopes; `dsn` points an SDK at it."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[str] = []

    def answer(self, method: str, headers: dict, body: bytes) -> tuple[int, dict]:
        encoding = headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # only if the SDK picked it

            body = brotli.decompress(body)
        self.bodies.append(body.decode("utf-8", errors="replace"))
        return 200, {}

    @property
    def dsn(self) -> str:
        return self.base_url.replace("http://", "http://publickey@") + "/1"

    def events(self) -> list[str]:
        """Envelopes that carry an error or message event (not sessions or check-ins)."""
        return [body for body in self.bodies if '"type":"event"' in body.replace(" ", "")]


class SmtpSink:
    """A real SMTP server on loopback that keeps every message it receives.

    `replies` scripts the answers to DATA, one per message ("451 try later", "550 no such
    user"); once they run out it accepts everything. `smtputf8=False` makes it a server that
    does not advertise SMTPUTF8 (aiosmtpd's Controller advertises it by default).
    """

    def __init__(self, replies: list[str] | None = None, smtputf8: bool = True) -> None:
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
        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8
        )

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()


class FakeCrm(LocalHttp):
    """A CRM webhook: answers with the scripted statuses, then 200, and records each call."""

    def __init__(self, statuses: list[int] | None = None, headers: dict | None = None) -> None:
        super().__init__()
        self.requests: list[dict] = []
        self.statuses = list(statuses or [])
        self.headers = headers or {}

    def answer(self, method: str, headers: dict, body: bytes) -> tuple[int, dict]:
        status = self.statuses.pop(0) if self.statuses else 200
        self.requests.append(
            {"headers": headers, "body": body.decode(), "status": status, "at": time.time()}
        )
        return status, self.headers

    @property
    def url(self) -> str:
        return self.base_url + "/hooks/leads"


class RateLimitedCrm(LocalHttp):
    """A CRM that takes `per_second` calls in any one-second window and answers 429 with
    `Retry-After: 1` beyond that, as real APIs do; `down` makes it answer 503 (no
    Retry-After). Records every call's time, status and body."""

    def __init__(self, per_second: int = 10) -> None:
        super().__init__()
        self.per_second = per_second
        self.calls: list[dict] = []
        self.down = False
        self._lock = threading.Lock()

    def answer(self, method: str, headers: dict, body: bytes) -> tuple[int, dict]:
        now = time.monotonic()
        with self._lock:
            recent = [c for c in self.calls if now - c["at"] < 1.0 and c["status"] == 200]
            if self.down:
                status, extra = 503, {}
            elif len(recent) >= self.per_second:
                status, extra = 429, {"Retry-After": "1"}
            else:
                status, extra = 200, {}
            self.calls.append({"at": now, "status": status, "body": body.decode(),
                               "key": headers.get("Idempotency-Key")})  # fmt: skip
        return status, extra

    def most_in_one_second(self) -> int:
        """The most calls (any answer) in any one-second window."""
        return len(self.busiest_second())

    def busiest_second(self) -> list[dict]:
        """The calls of the one-second window that holds the most."""
        calls = sorted(self.calls, key=lambda c: c["at"])
        best: list[dict] = []
        start = 0
        for end, call in enumerate(calls):
            while call["at"] - calls[start]["at"] >= 1.0:
                start += 1
            if end - start + 1 > len(best):
                best = calls[start : end + 1]
        return best

    @property
    def url(self) -> str:
        return self.base_url + "/hooks/leads"
