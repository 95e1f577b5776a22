-- Functions shared by the scripts that put a message back (`-- uses: place`).
-- The placement arguments every such script takes, in this order, at the end of its ARGV
-- (inflight.Keys.place_args): COUNT_PREFIX, COUNT_TTL, WAKE_PREFIX, SEP, GLOBAL_PREFIX,
-- REDELIVERED.
--
-- Shared by the scripts that put a message back: count a delivery for it (keyed by the
-- SHA-1 of its bytes, which never change on the way), then either return it to its queue
-- with a wake token, marked redelivered for the next fetch, or, past the bound (0: none),
-- park it in the lost list for a dead letter. An entry that is not `<list key>\n<bytes>`,
-- or whose list key holds something other than a list, cannot go back: it is parked in
-- the lost list too, where a keeper dead-letters its bytes, and never stops the script
-- from handling the entries after it. `P` is the placement arguments as a table.
local function place_args(first)
  return {count_prefix = ARGV[first], count_ttl = ARGV[first + 1],
          wake_prefix = ARGV[first + 2], sep = ARGV[first + 3],
          global_prefix = ARGV[first + 4], redelivered = ARGV[first + 5]}
end

local function split(entry)
  local at = string.find(entry, '\n', 1, true)
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
