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

import re
import time
from dataclasses import dataclass
from typing import Any

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
PREFIX = "taskplatform:flow:"
#: The message header of a job that owns a reserved rate slot (its dependency's name).
SLOT_HEADER = "x_flow_slot"
#: How many times a job has waited for a dependency's Retry-After; past SLOWED_LIMIT its
#: next slow-down spends a retry, so a dependency that never stops asking ends the job.
SLOWED_HEADER = "x_flow_slowed"
SLOWED_LIMIT = 10

_RATE = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<unit>s|m|h)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class FlowConfigError(ValueError):
    """A RATE_LIMITS or CONCURRENCY_LIMITS entry the platform cannot read."""


def parse_rates(text: str) -> dict[str, tuple[int, float]]:
    """RATE_LIMITS ("crm=10/s,smtp=300/m") as (calls, seconds) per dependency: at most that
    many calls in any window of that many seconds ("2.5/s" is 2 in any 0.8 s)."""
    rates: dict[str, tuple[int, float]] = {}
    for name, value in _entries("RATE_LIMITS", text):
        match = _RATE.match(value)
        if not match or float(match["count"]) <= 0:
            raise FlowConfigError(f"RATE_LIMITS: {name}={value!r} is not a rate like 10/s")
        per_unit = float(match["count"])
        calls = max(1, int(per_unit))
        rates[name] = (calls, _UNITS[match["unit"]] * calls / per_unit)
    return rates


def parse_counts(text: str) -> dict[str, int]:
    """CONCURRENCY_LIMITS ("crm=4") as the most jobs calling each dependency at once."""
    counts: dict[str, int] = {}
    for name, value in _entries("CONCURRENCY_LIMITS", text):
        if not value.strip().isdigit() or int(value) < 1:
            raise FlowConfigError(f"CONCURRENCY_LIMITS: {name}={value!r} is not a count >= 1")
        counts[name] = int(value)
    return counts


def _entries(variable: str, text: str) -> list[tuple[str, str]]:
    entries = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_-]*", name.strip()):
            raise FlowConfigError(f"{variable}: {part!r} is not name=value")
        entries.append((name.strip(), value.strip()))
    return entries


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


def keys(dependency: str) -> list[str]:
    base = PREFIX + dependency + ":"
    return [base + k for k in
            ("slowed", "open", "probe", "failures", "tat", "leases", "stats", "calls")]  # fmt: skip


#: KEYS: slowed, open, probe, failures, tat, leases, stats, calls. ARGV: interval ms (0: no
#: rate), concurrency (0: none), job id, lease ms, breaker threshold, probe ms, half-open wait
#: ms, concurrency wait ms, 1 if the job owns a reserved slot, the most calls in a window (0:
#: no rate) and the window in ms. Returns {wait ms, reason}.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function wait(ms, reason)
  redis.call('HINCRBY', KEYS[7], reason, 1)
  redis.call('HINCRBYFLOAT', KEYS[7], 'seconds', ms / 1000)
  return {ms, reason}
end
local slowed = redis.call('PTTL', KEYS[1])
if slowed > 0 then return wait(slowed, 'slowed') end
local open = redis.call('PTTL', KEYS[2])
if open > 0 then return wait(open, 'open') end
local probing = false
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[5]) then
  local probe = redis.call('GET', KEYS[3])
  if probe and probe ~= ARGV[3] then return wait(tonumber(ARGV[7]), 'half-open') end
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[6])
  probing = true
end
local limit = tonumber(ARGV[2])
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
  if not redis.call('ZSCORE', KEYS[6], ARGV[3]) and redis.call('ZCARD', KEYS[6]) >= limit then
    if probing then redis.call('DEL', KEYS[3]) end
    return wait(tonumber(ARGV[8]), 'concurrency')
  end
end
local interval = tonumber(ARGV[1])
if interval > 0 and ARGV[9] ~= '1' then
  local tat = tonumber(redis.call('GET', KEYS[5]) or '0')
  if tat < now then tat = now end
  redis.call('SET', KEYS[5], tat + interval, 'PX', math.ceil(tat + interval - now) + 1000)
  if tat > now then
    if probing then redis.call('DEL', KEYS[3]) end
    return wait(tat - now, 'rate')
  end
end
local cap = tonumber(ARGV[10])
if cap > 0 then
  local window = tonumber(ARGV[11])
  redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now - window)
  if redis.call('ZCARD', KEYS[8]) >= cap then
    local oldest = redis.call('ZRANGE', KEYS[8], 0, 0, 'WITHSCORES')
    if probing then redis.call('DEL', KEYS[3]) end
    return wait(math.max(1, tonumber(oldest[2]) + window - now), 'rate')
  end
  redis.call('ZADD', KEYS[8], now, ARGV[3] .. ':' .. now)
  redis.call('PEXPIRE', KEYS[8], window + 1000)
end
if limit > 0 then redis.call('ZADD', KEYS[6], now + tonumber(ARGV[4]), ARGV[3]) end
return {0, 'go'}
"""

#: An attempt's outcome. KEYS: slowed, open, probe, failures. ARGV: outcome ("ok",
#: "failed", "slowed"), threshold, cooldown ms, slowed ms, job id. Returns the count of
#: consecutive failures.
OUTCOME = """
if ARGV[1] == 'ok' then
  redis.call('DEL', KEYS[4])
  if redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
  return 0
end
if ARGV[1] == 'slowed' and tonumber(ARGV[4]) > 0 then
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[4])
  end
end
local failures = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], 86400000)
if failures >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[3])
end
return failures
"""


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
            keys=keys(dependency),
            args=[
                interval_ms, limits.concurrency or 0, job_id,
                int(lease * 1000), self.failures, int(PROBE_SECONDS * 1000),
                int(HALF_OPEN_WAIT * 1000), int(CONCURRENCY_WAIT * 1000), int(slot),
                cap, int(window * (1 + RATE_MARGIN) * 1000),
            ],
        )  # fmt: skip
        return int(ms) / 1000, reason.decode() if isinstance(reason, bytes) else reason

    def release(self, dependency: str, job_id: str) -> None:
        self.client.zrem(keys(dependency)[5], job_id)

    def outcome(
        self, dependency: str, job_id: str, result: str, slowed_for: float | None = None
    ) -> int:
        """Record an attempt: "ok", "failed" (transient) or "slowed" (the dependency asked
        every caller to wait `slowed_for` seconds). The consecutive failures so far."""
        return int(
            self._outcome(
                keys=keys(dependency)[:4],
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
        slowed, opened, probe, failures, _tat, leases, stats, _calls = keys(dependency)
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
