"""The demo in `make run`: a pretend web app sending a steady mix of jobs.

Quotes, emails, leads and searches, a few of them bad on purpose (an unknown role, an
invalid address, a lead without an email) so a newcomer opening Flower sees jobs flow,
retry and end as dead letters. It also plays the outside world: a local mail sink that
counts what arrives, and a CRM webhook that answers 503 now and then, so retries happen.

Run by devstack/run.py with the platform's environment; `make run DEMO=0` leaves it out.
"""

from __future__ import annotations

import argparse
import random
import signal
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tasks.crm import capture_lead
from tasks.email import send_email, send_quote
from tasks.quote import generate_quote
from tasks.search import search_candidates
from tasks.status import job_status

QUOTES = [
    "2 senior accountants and a junior graphic designer, office based",
    "3 virtual assistants, work from home",
    "a lead software developer and 2 mid qa testers, hybrid, premium",
    "5 customer service representatives, office based, enterprise",
    "1 senior data analyst, wfh",
    "5 CSRs for the night shift and 1 lead CSR",
    "2 VAs to work part time, 3 bookkeepers at 20 hours a week",
    "3 Python devs and a QA, hybrid",
]
SEARCHES = [
    {"q": "xero payroll"},
    {"q": "react python", "min_years": 3},
    {"role": "graphic designer", "availability": ["immediate"]},
    {"q": "seo google ads", "per_page": 5},
]
NAMES = ["Ana Santos", "Ben Ong", "Carla Reyes", "Dan Cruz", "Ella Lim", "Finn Garcia"]


class MailSink:
    def __init__(self, port: int) -> None:
        self.received = 0
        owner = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                owner.received += 1
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)


def flaky_crm(port: int, counts: Counter) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = 503 if random.random() < 0.25 else 200
            counts[f"crm {status}"] += 1
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_job(rng: random.Random):
    kind = rng.choice(["quote", "quote", "email", "lead", "search"])
    bad = rng.random() < 0.06
    if kind == "quote":
        request = "2 senior astronauts, office based" if bad else rng.choice(QUOTES)
        return kind, generate_quote.delay(request)
    if kind == "email":
        to = "not-an-address" if bad else f"{rng.choice(NAMES).split()[0].lower()}@example.com"
        if rng.random() < 0.5:
            return "quote mail", send_quote.delay(rng.choice(QUOTES), to, rng.choice(NAMES))
        message = {"to": to, "subject": "Your quote", "body": "Thanks for asking.",
                   "name": rng.choice(NAMES)}  # fmt: skip
        return kind, send_email.delay(message, f"demo:{uuid.uuid4()}")
    if kind == "lead":
        name = rng.choice(NAMES)
        first, last = name.lower().split()
        email = "" if bad else f"{first}.{rng.randint(1, 999)}@example.com"
        lead = {"email": email, "name": name, "company": f"{last.title()} Co", "source": "demo"}
        return kind, capture_lead.delay(lead)
    return kind, search_candidates.delay(rng.choice(SEARCHES))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--crm-port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=2.0, help="jobs a second")
    args = parser.parse_args()

    counts: Counter = Counter()
    mail = MailSink(args.smtp_port)
    mail.controller.start()
    flaky_crm(args.crm_port, counts)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    rng = random.Random()
    recent: list[tuple[str, str]] = []
    sent: Counter = Counter()
    stop.wait(5)  # let the workers come up
    print("demo: sending a mix of jobs; watch them in Flower. make run DEMO=0 turns this off.",
          flush=True)  # fmt: skip
    last_report = time.monotonic()
    while not stop.is_set():
        try:
            kind, result = one_job(rng)
            sent[kind] += 1
            recent.append((kind, result.id))
        except Exception as exc:  # the broker is away: say so, keep going
            print(f"demo: could not queue a job: {exc}", flush=True)
        recent = recent[-200:]
        if time.monotonic() - last_report > 15:
            states = Counter(job_status(job_id)["status"] for _, job_id in recent)
            print(
                f"demo: sent {dict(sent)}; last {len(recent)}: {dict(states)};"
                f" mail received {mail.received}; crm answers {dict(counts)}",
                flush=True,
            )
            last_report = time.monotonic()
        stop.wait(1.0 / args.rate)
    mail.controller.stop()


if __name__ == "__main__":
    main()
