"""The Lua scripts of reliable fetch: each moves a message between lists atomically.

Redis runs a script as one command, so a message always lives in exactly one list: its
queue, a consumer's in-flight list, or the lost list. That is the whole point: kombu's
BRPOP-then-MULTI leaves a moment when a message lives only in a client, and a Redis crash
in that moment loses it (celery#1392, kombu#305).

An in-flight entry is `<list key>\\n<message bytes>`, so a reaper knows where to put the
message back without decoding it (undecodable bytes travel the same path).

Keys not passed in KEYS (the wake list, the delivery counter and the redelivered set of a
message) are derived inside the scripts from the placement arguments (inflight.Keys): fine
on a single Redis or Sentinel, not on Redis Cluster (which kombu's Redis transport does not
support either). Every key carries kombu's `global_keyprefix` when one is set.
"""

from __future__ import annotations

# The placement arguments every script that puts a message back takes, in this order, at
# the end of its ARGV (inflight.Keys.place_args): COUNT_PREFIX, COUNT_TTL, WAKE_PREFIX, SEP,
# GLOBAL_PREFIX, REDELIVERED.

# Shared by the scripts that put a message back: count a delivery for it (keyed by the
# SHA-1 of its bytes, which never change on the way), then either return it to its queue
# with a wake token, marked redelivered for the next fetch, or, past the bound (0: none),
# park it in the lost list for a dead letter. An entry that is not `<list key>\n<bytes>`,
# or whose list key holds something other than a list, cannot go back: it is parked in
# the lost list too, where a keeper dead-letters its bytes, and never stops the script
# from handling the entries after it. `P` is the placement arguments as a table.
_PLACE = """
local function place_args(first)
  return {count_prefix = ARGV[first], count_ttl = ARGV[first + 1],
          wake_prefix = ARGV[first + 2], sep = ARGV[first + 3],
          global_prefix = ARGV[first + 4], redelivered = ARGV[first + 5]}
end

local function split(entry)
  local at = string.find(entry, '\\n', 1, true)
  if not at or at == 1 then return nil, entry end
  return string.sub(entry, 1, at - 1), string.sub(entry, at + 1)
end

local function wake_key(list, P)
  local gp = P.global_prefix
  if gp ~= '' and string.sub(list, 1, #gp) == gp then list = string.sub(list, #gp + 1) end
  local at = string.find(list, P.sep, 1, true)
  if at then list = string.sub(list, 1, at - 1) end
  return P.wake_prefix .. list
end

local function put_back(entry, to_front, P)
  local list, item = split(entry)
  if not list then return false end
  local pushed
  if to_front then
    pushed = redis.pcall('RPUSH', list, item)
  else
    pushed = redis.pcall('LPUSH', list, item)
  end
  if type(pushed) ~= 'number' then return false end
  redis.pcall('LPUSH', wake_key(list, P), '1')
  redis.call('SADD', P.redelivered, redis.sha1hex(item))
  redis.call('EXPIRE', P.redelivered, P.count_ttl)
  return true
end

local function count_and_place(entry, to_front, lost, max, P)
  local list, item = split(entry)
  local key = P.count_prefix .. redis.sha1hex(item)
  local n = redis.call('INCR', key)
  redis.call('EXPIRE', key, P.count_ttl)
  local bound = tonumber(max)
  if (bound > 0 and n >= bound) or not put_back(entry, to_front, P) then
    redis.call('LPUSH', lost, entry)
    return 2
  end
  return 1
end
"""

#: Settle the consumer's finished jobs, then take the first message found in the listed
#: queues (in the given order, which is the channel's fair cycle) and move it into the
#: consumer's in-flight list. Acks ride with the next fetch: one round trip per job.
#: KEYS: inflight, registry, redelivered, then (queue list, its wake list) pairs. ARGV: the
#: wake list whose token this fetch already took ('' if none), the consumer id, then the
#: in-flight entries of finished jobs to remove.
#: Keeps one wake token per waiting message: a taken message takes its token with it; a
#: token taken for one queue but spent on another is given back. Registers the consumer
#: again, so a reaper that deregistered a late (but living) consumer cannot strand its jobs.
#: Returns {list, message, 1 if it was put back since it was last fetched} or false.
FETCH = """
local woken = ARGV[1]
for j = 3, #ARGV do redis.call('LREM', KEYS[1], 1, ARGV[j]) end
for i = 4, #KEYS, 2 do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    redis.call('LPUSH', KEYS[1], KEYS[i] .. '\\n' .. item)
    redis.call('SADD', KEYS[2], ARGV[2])
    if KEYS[i + 1] ~= woken then
      redis.call('RPOP', KEYS[i + 1])
      if woken ~= '' then redis.call('LPUSH', woken, '1') end
    end
    local again = 0
    if redis.call('SCARD', KEYS[3]) > 0 then
      again = redis.call('SREM', KEYS[3], redis.sha1hex(item))
    end
    return {KEYS[i], item, again}
  end
end
return false
"""

#: Take the first message of the listed queues outright (`basic_get` without acks), with its
#: wake token. KEYS: redelivered, then (queue list, its wake list) pairs.
#: Returns {list, message, 1 if it was put back since it was last fetched} or false.
TAKE = """
for i = 2, #KEYS, 2 do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    redis.call('RPOP', KEYS[i + 1])
    local again = 0
    if redis.call('SCARD', KEYS[1]) > 0 then
      again = redis.call('SREM', KEYS[1], redis.sha1hex(item))
    end
    return {KEYS[i], item, again}
  end
end
return false
"""

#: Put one in-flight entry back in its queue (at the far end, as kombu's reject does),
#: counting a delivery. KEYS: inflight, lost. ARGV: entry, MAX_DELIVERIES (0: no bound),
#: then the placement arguments. Returns 0 (not in flight any more), 1 (requeued) or 2
#: (parked as lost).
REQUEUE = (
    _PLACE
    + """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
return count_and_place(ARGV[1], false, KEYS[2], ARGV[2], place_args(3))
"""
)

#: Return one in-flight entry of a consumer whose heartbeat expired to the front of its
#: queue, counting a delivery. KEYS: inflight, heartbeat, lost, registry.
#: ARGV: consumer id, MAX_DELIVERIES (0: no bound), then the placement arguments.
#: Returns -1 (the consumer is alive after all), 0 (nothing left: deregistered), 1 or 2.
REAP_ONE = (
    _PLACE
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local entry = redis.call('LPOP', KEYS[1])
if not entry then
  redis.call('SREM', KEYS[4], ARGV[1])
  return 0
end
return count_and_place(entry, true, KEYS[3], ARGV[2], place_args(3))
"""
)

#: A consumer that stops puts everything it still holds back at the front of its queues and
#: deregisters: uncounted when it stops cleanly (nothing crashed), counting a delivery when
#: it stops on an error (which one of them may have caused). An entry that cannot go back
#: is parked in the lost list; the list is empty before the consumer is deregistered.
#: KEYS: inflight, heartbeat, registry, lost. ARGV: consumer id, counted ('1' or '0'),
#: MAX_DELIVERIES, the placement arguments, then entries the consumer still knows it held
#: (after Redis lost its data, they are in memory only), put back with the rest (once
#: each). Returns {messages put back, entries parked}.
RESTORE_ALL = (
    _PLACE
    + """
local P = place_args(4)
for i = 10, #ARGV do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
local back, parked = 0, 0
while true do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then break end
  local placed
  if ARGV[2] == '1' then
    placed = count_and_place(entry, true, KEYS[4], ARGV[3], P)
  elseif put_back(entry, true, P) then
    placed = 1
  else
    redis.call('LPUSH', KEYS[4], entry)
    placed = 2
  end
  if placed == 1 then back = back + 1 else parked = parked + 1 end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return {back, parked}
"""
)
