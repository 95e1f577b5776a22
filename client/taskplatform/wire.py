"""The publish side of the platform's Redis protocol: the one definition of the keys and the
script a publish writes, used by the client and by the platform's transport alike
(broker/transport.py puts with them; broker/inflight.py reads the same keys).

A publish is an LPUSH of kombu's envelope onto the queue's list plus a wake token for the
queue's consumers (its list trimmed to WAKE_BOUND), in one round trip; with a job key, one
Lua call that queues the message only if its task id was not queued within the window.
"""

from __future__ import annotations

#: Every key of the platform's broker machinery starts with this (after any kombu prefix).
PREFIX = "taskplatform:broker:"
WAKE_PREFIX = PREFIX + "wake:"
ONCE_PREFIX = PREFIX + "once:"
#: A message header asking to be queued at most once per task id; its value is how many
#: seconds the broker remembers the id (a producer's `job_key`, taskplatform/guard.py).
ONCE_HEADER = "x_publish_once"
#: A message header marking a job the outbox queued (taskplatform/outbox): its worker marks
#: the job finished under OUTBOX_DONE_PREFIX + id, which the relay reads to close the row.
OUTBOX_HEADER = "x_outbox"
OUTBOX_DONE_PREFIX = "taskplatform:outbox:done:"
#: The broker's epoch (broker/epoch.py): a hash with a random id and a counter every keeper,
#: and the outbox relay, increments at each look. A new id or a counter that went back means
#: Redis lost data.
EPOCH_KEY = PREFIX + "epoch"
#: Wake tokens kept per queue: enough for a burst; a consumer that finds the queue empty
#: waits for the next token, and a stale one only costs it an empty fetch.
WAKE_BOUND = 1000

#: Queue a message unless its task id was queued within the window: a producer that
#: publishes again after an ambiguous failure (a timeout) gets the first job, not a second.
#: KEYS: once marker, queue list, wake list. ARGV: message, window seconds, the wake list's
#: bound, and optionally the queue's QUEUE_MAX_DEPTH (refused with QUEUEFULL past it, before
#: the mark is taken). Returns 1 (queued) or 0 (already). Sent with EVAL, never EVALSHA: a
#: publish that timed out must have sent the whole script, so that it runs when a frozen
#: Redis resumes instead of failing on NOSCRIPT.
PUT_ONCE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local bound = tonumber(ARGV[4] or '0')
if bound > 0 and redis.call('LLEN', KEYS[2]) >= bound then
  return redis.error_reply('QUEUEFULL ' .. KEYS[2] .. ' holds ' .. bound .. ' jobs or more')
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
return 1
"""

#: Publish each ARGV on the channel KEYS[1]: a bulk publish's `task-sent` events in one
#: command instead of one PUBLISH each (Redis parses, and the client packs, one command).
PUBLISH_ALL = """
for _, event in ipairs(ARGV) do redis.call('PUBLISH', KEYS[1], event) end
return #ARGV
"""

#: Messages for a queue with a QUEUE_MAX_DEPTH: all of them, or none past the bound.
#: KEYS: queue list, wake list. ARGV: the bound, the wake list's bound, messages...
PUT_BOUNDED = """
local depth = redis.call('LLEN', KEYS[1])
if depth + #ARGV - 2 > tonumber(ARGV[1]) then
  return redis.error_reply('QUEUEFULL ' .. KEYS[1] .. ' holds ' .. depth .. ' jobs; its bound is '
    .. ARGV[1])
end
for i = 3, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
for i = 3, math.min(#ARGV, tonumber(ARGV[2]) + 2) do redis.call('LPUSH', KEYS[2], '1') end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return #ARGV - 2
"""
#: The error Redis answers a put past a queue's bound with.
QUEUE_FULL = "QUEUEFULL"

#: A look at the epoch, by a keeper (broker/epoch.py) or the outbox relay: take the epoch
#: (making it when it is missing) and count one more look at it.
#: KEYS: epoch. ARGV: a new id, now. Returns {id, counter, 1 if it was made now}.
EPOCH_TICK = """
local id = redis.call('HGET', KEYS[1], 'id')
local made = 0
if not id then
  id = ARGV[1]
  redis.call('HSET', KEYS[1], 'id', id, 'since', ARGV[2])
  made = 1
end
return {id, redis.call('HINCRBY', KEYS[1], 'seq', 1), made}
"""

#: After a counter went back, give the epoch a new id (once, whoever sees it first), so that
#: every other process notices the loss at its next look. KEYS: epoch. ARGV: the id seen,
#: a new id, now. Returns the id the epoch has now.
EPOCH_RENEW = """
local id = redis.call('HGET', KEYS[1], 'id')
if id == ARGV[1] then
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'since', ARGV[3])
  return ARGV[2]
end
return id
"""


def wake_key(queue: str) -> str:
    return WAKE_PREFIX + queue


def put_once_command(
    queue: str, task_id: str, payload: str, window: int, bound: int | None = None
) -> tuple:
    """A publish with a job key's window, to an unprefixed Redis: the publish-once script."""
    keys = (ONCE_PREFIX + task_id, queue, wake_key(queue))
    return ("eval", PUT_ONCE, 3, *keys, payload, int(window), WAKE_BOUND, bound or 0)


def publish_command(channel: str, events: list[str]) -> tuple:
    """Events for one channel: a PUBLISH for one, the PUBLISH_ALL script for more."""
    if len(events) == 1:
        return ("PUBLISH", channel, events[0])
    return ("EVAL", PUBLISH_ALL, 1, channel, *events)


def put_commands(queue: str, payloads: list[str], bound: int | None = None) -> list[tuple]:
    """Messages for one queue, to an unprefixed Redis, for a pipeline: one LPUSH of them all
    (the first is taken first), one of their wake tokens (one each, at most WAKE_BOUND), and
    the wake list's trim. Redis takes or refuses each command whole. With a bound
    (QUEUE_MAX_DEPTH), one PUT_BOUNDED call instead: all of them, or none past it."""
    if bound:
        return [("eval", PUT_BOUNDED, 2, queue, wake_key(queue), bound, WAKE_BOUND, *payloads)]
    tokens = ["1"] * min(len(payloads), WAKE_BOUND)
    return [
        ("lpush", queue, *payloads),
        ("lpush", wake_key(queue), *tokens),
        ("ltrim", wake_key(queue), 0, WAKE_BOUND - 1),
    ]
