-- Settle the consumer's finished jobs, then take the first message found in the listed
-- queues (in the given order, which is the channel's fair cycle) and move it into the
-- consumer's in-flight list. Acks ride with the next fetch: one round trip per job.
-- KEYS: inflight, registry, redelivered, then (queue list, its wake list) pairs. ARGV: the
-- wake list whose token this fetch already took ('' if none), the consumer id, then the
-- in-flight entries of finished jobs to remove.
-- Keeps one wake token per waiting message: a taken message takes its token with it; a
-- token taken for one queue but spent on another is given back. Registers the consumer
-- again, so a reaper that deregistered a late (but living) consumer cannot strand its jobs.
-- Returns {list, message, 1 if it was put back since it was last fetched} or false.
local woken = ARGV[1]
for j = 3, #ARGV do redis.call('LREM', KEYS[1], 1, ARGV[j]) end
for i = 4, #KEYS, 2 do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    redis.call('LPUSH', KEYS[1], KEYS[i] .. '\n' .. item)
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
