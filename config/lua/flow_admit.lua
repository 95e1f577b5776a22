-- Admit one call to a dependency, or say how long to wait and why.
-- KEYS: slowed, open, probe, failures, tat, leases, stats, calls. ARGV: interval ms (0: no
-- rate), concurrency (0: none), job id, lease ms, breaker threshold, probe ms, half-open wait
-- ms, concurrency wait ms, 1 if the job owns a reserved slot, the most calls in a window (0:
-- no rate) and the window in ms. Returns {wait ms, reason}.
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
