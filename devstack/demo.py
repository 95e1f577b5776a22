"""The demo in `make run`: a pretend web app sending a steady mix of jobs.

Quotes, emails, leads and searches, each under a request id of its own (as a web request
would pass it: every log line about the job shows it), so a newcomer opening Flower sees
jobs flow, retry and end as dead letters. It also plays the outside world: a local mail sink
that counts what arrives, and a CRM webhook that answers 503 now and then, so retries happen.

It stays under every alert (docs/development.md#the-demo): one job in BAD_EVERY of each
kind is bad on purpose (an unknown role, an invalid address, a lead without an email), so
each queue's failure rate stays at 2%, under the 5% rule, and those letters are refused
user input (`invalid_input`), which pages nobody; the CRM answers 503 only to a lead's first
call, and never twice in a row, so no lead runs out of retries and its breaker stays shut.

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

from taskplatform.correlation import correlation_id
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
#: The n-th job of each kind is bad on purpose when n is a multiple of this: 2%, well under
#: the failure-rate alert's 5% per queue (deploy/prometheus/alerts.yml), from the first job.
BAD_EVERY = 50
#: One lead in this many has its first CRM call answered 503 (then 200 on its retry).
CRM_503_EVERY = 4


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
    """A CRM that answers 503 to the first call for one lead in CRM_503_EVERY, never to a
    lead's retry and never twice in a row: retries happen, none runs out."""
    seen: set[bytes] = set()
    lock = threading.Lock()
    last = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                first_call = body not in seen
                seen.add(body)
                unlucky = first_call and random.randrange(CRM_503_EVERY) == 0
                status = 503 if unlucky and last[0] != 503 else 200
                last[0] = status
            counts[f"crm {status}"] += 1
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_job(rng: random.Random, sent: Counter):
    """Queue one job of a random kind; (kind, result). Every BAD_EVERY-th of a kind is bad."""
    kind = rng.choice(["quote", "quote", "email", "lead", "search"])
    if kind == "email" and rng.random() < 0.5:
        kind = "quote mail"
    bad = (sent[kind] + 1) % BAD_EVERY == 0
    if kind == "quote":
        request = "2 senior astronauts, office based" if bad else rng.choice(QUOTES)
        return kind, generate_quote.delay(request)
    if kind in ("email", "quote mail"):
        to = "not-an-address" if bad else f"{rng.choice(NAMES).split()[0].lower()}@example.com"
        if kind == "quote mail":
            return kind, send_quote.delay(rng.choice(QUOTES), to, rng.choice(NAMES))
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
            with correlation_id(f"demo-{uuid.uuid4().hex[:12]}"):  # a web request's id
                kind, result = one_job(rng, sent)
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
