"""Flow control per dependency: how fast, and how many at once, every worker together may
call the CRM, the SMTP server, Postgres for search.

One table in the settings names each dependency's limits (`RATE_LIMITS="crm=10/s,smtp=5/s"`,
`CONCURRENCY_LIMITS="crm=4"`); a task names the dependency it calls
(`@app.task(..., dependency="crm")`), never numbers. Before each attempt the base task asks
`admit`, one Lua call on the platform's Redis (RabbitMQ deployments have it too), which says
"go" or how long to wait, checking in order:

1. a pause the dependency asked for: a 429 or 503 with Retry-After sets it (`slowed`), for
   every worker, until then;
2. the circuit breaker: after BREAKER_FAILURES consecutive transient failures it opens for
   BREAKER_COOLDOWN_SECONDS (no calls); then one probe at a time is let through, and a
   success closes it;
3. concurrency: a lease per running job in a sorted set, expiring after the job's time
   limit (a killed worker's lease runs out);
4. rate: GCRA without burst, whose slots are reserved: a job told to wait 0.3 s owns the
   slot 0.3 s ahead and takes it without asking the spacing again, so waiting jobs never
   stampede; and a hard cap, a log of the calls let through in the last window (10 in any
   second for "10/s"), which a job that comes back late (its worker was busy) must also
   pass, so late jobs cannot bunch into an eleventh call.

A job told to wait is published again with that countdown under its own id and retry count
(tasks/base.py), and its attempt ends: it burns no retry and no delivery, holds no pool
process while it waits, and does not poll. Waits are counted per dependency and reason
(`stats`), for the metrics and `doctor`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from broker import keys
from config.flow_limits import parse_counts, parse_rates
from taskplatform.lua import script

#: Consecutive transient failures that open a dependency's breaker, and how long it stays
#: open before a probe (defaults of BREAKER_FAILURES and BREAKER_COOLDOWN_SECONDS).
BREAKER_FAILURES = 5
BREAKER_COOLDOWN = 30.0
#: How long a half-open breaker's probe may take before another job probes instead, and
#: how long the jobs that are not the probe wait before asking again.
PROBE_SECONDS = 60.0
HALF_OPEN_WAIT = 1.0
#: Calls are admitted this much slower than the configured rate (spacing and window alike):
#: a call leaves some milliseconds after its admission (the job's own work before it, a busy
#: process, up to 100 ms on a loaded 2-core machine), and at exactly the limit that jitter
#: alone puts an eleventh call into some second of a 10/s API.
RATE_MARGIN = 0.1
#: A job over its concurrency limit asks again after this long (plus the other's finish).
CONCURRENCY_WAIT = 0.25
#: The message header of a job that owns a reserved rate slot (its dependency's name).
SLOT_HEADER = "x_flow_slot"
#: How many times a job has waited for a dependency's Retry-After; past SLOWED_LIMIT its
#: next slow-down spends a retry, so a dependency that never stops asking ends the job.
SLOWED_HEADER = "x_flow_slowed"
SLOWED_LIMIT = 10


@dataclass(frozen=True)
class Limits:
    """One dependency's limits: at most `rate[0]` calls in any `rate[1]` seconds (None: no
    rate), and at most `concurrency` at once."""

    rate: tuple[int, float] | None
    concurrency: int | None

    @property
    def interval(self) -> float:
        """Seconds between two calls (0: no rate)."""
        return self.rate[1] / self.rate[0] if self.rate else 0.0


#: Admit a call or say how long to wait and why (config/lua/flow_admit.lua).
ADMIT = script("config", "flow_admit")

#: Record an attempt's outcome; opens the breaker (config/lua/flow_outcome.lua).
OUTCOME = script("config", "flow_outcome")


class Gate:
    """The Redis side of flow control, for one process (scripts registered once)."""

    def __init__(
        self,
        client: Any,
        limits: dict[str, Limits],
        failures: int = BREAKER_FAILURES,
        cooldown: float = BREAKER_COOLDOWN,
    ) -> None:
        self.client = client
        self.limits = limits
        self.failures, self.cooldown = failures, cooldown
        self._admit = client.register_script(ADMIT)
        self._outcome = client.register_script(OUTCOME)

    def admit(
        self,
        dependency: str,
        job_id: str,
        lease: float,
        slot: bool = False,
        rate_only: bool = False,
        without_rate: bool = False,
    ):
        """(seconds to wait, why): 0 and "go" when the job may call now. `slot`: the job
        owns a rate slot reserved at an earlier ask. `without_rate` leaves the rate to the
        moment of the call (`before_call`), which asks with `rate_only` (no lease)."""
        limits = self.limits.get(dependency, Limits(None, None))
        if without_rate:
            limits = Limits(None, limits.concurrency)
        elif rate_only:
            limits = Limits(limits.rate, None)
        interval_ms = int(limits.interval * (1 + RATE_MARGIN) * 1000)
        cap, window = limits.rate or (0, 0.0)
        ms, reason = self._admit(
            keys=keys.flow(dependency),
            args=[
                interval_ms, limits.concurrency or 0, job_id,
                int(lease * 1000), self.failures, int(PROBE_SECONDS * 1000),
                int(HALF_OPEN_WAIT * 1000), int(CONCURRENCY_WAIT * 1000), int(slot),
                cap, int(window * (1 + RATE_MARGIN) * 1000),
            ],
        )  # fmt: skip
        return int(ms) / 1000, reason.decode() if isinstance(reason, bytes) else reason

    def release(self, dependency: str, job_id: str) -> None:
        self.client.zrem(keys.flow(dependency)[5], job_id)

    def outcome(
        self, dependency: str, job_id: str, result: str, slowed_for: float | None = None
    ) -> int:
        """Record an attempt: "ok", "failed" (transient) or "slowed" (the dependency asked
        every caller to wait `slowed_for` seconds). The consecutive failures so far."""
        return int(
            self._outcome(
                keys=keys.flow(dependency)[:4],
                args=[
                    result,
                    self.failures,
                    int(self.cooldown * 1000),
                    int((slowed_for or 0) * 1000),
                    job_id,
                ],
            )  # fmt: skip
        )

    def state(self, dependency: str) -> dict[str, Any]:
        """What `doctor` and the metrics show: pauses, the breaker, running jobs, waits."""
        slowed, opened, probe, failures, _tat, leases, stats, _calls = keys.flow(dependency)
        pipe = self.client.pipeline(transaction=False)
        pipe.pttl(slowed)
        pipe.pttl(opened)
        pipe.get(probe)
        pipe.get(failures)
        pipe.zcount(leases, int(time.time() * 1000), "+inf")
        pipe.hgetall(stats)
        slowed_ms, open_ms, probing, failed, running, waits = pipe.execute()
        failed = int(failed or 0)
        breaker = "open" if open_ms > 0 else "half-open" if failed >= self.failures else "closed"
        return {
            "slowed_for": max(slowed_ms, 0) / 1000,
            "breaker": breaker,
            "probing": probing is not None,
            "consecutive_failures": failed,
            "running": running,
            "waits": {k.decode(): float(v) for k, v in waits.items()},
        }


_gate: Gate | None = None


def gate() -> Gate:
    """This process's gate, on the platform's Redis, with the settings' limits."""
    global _gate
    if _gate is None:
        from config import redis_client
        from config.settings import settings

        rates, counts = parse_rates(settings.rate_limits), parse_counts(settings.concurrency_limits)
        limits = {name: Limits(rates.get(name), counts.get(name)) for name in {*rates, *counts}}
        _gate = Gate(
            redis_client.client(), limits, settings.breaker_failures,
            settings.breaker_cooldown_seconds,
        )  # fmt: skip
    return _gate


class WaitForDependency(Exception):  # noqa: N818 - a signal to the base task, not an error
    """Raised at the moment of a call the rate does not allow yet: the base task defers the
    job by `wait` seconds (no retry), as when it is told to wait before the attempt."""

    def __init__(self, wait: float, why: str) -> None:
        super().__init__(f"wait {wait:.3f} s ({why})")
        self.wait, self.why = wait, why


def before_call(dependency: str):
    """An httpx request hook that admits each call to `dependency` at the moment it leaves
    (the rate's spacing and cap; the breaker and pauses too): a job's own work before the
    call (a database upsert, a new client) cannot bunch calls that were admitted apart. For
    tasks with `rate_at_call = True`, whose attempts are admitted without the rate."""

    def hook(request: Any) -> None:
        from celery import current_task

        job = current_task.request if current_task else None
        job_id = getattr(job, "id", None)
        if not job_id:
            return  # called outside a job (a shell, a test): no limits apply
        headers = job.headers if isinstance(job.headers, dict) else {}
        slot = headers.pop(SLOT_HEADER, None) == dependency
        wait, why = gate().admit(dependency, job_id, 0, slot, rate_only=True)
        if wait > 0:
            raise WaitForDependency(wait, why)

    return hook
