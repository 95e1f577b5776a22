-- Messages for a queue with a QUEUE_MAX_DEPTH: all of them, or none past the bound.
-- KEYS: queue list, wake list. ARGV: the bound, the wake list's bound, messages...
local depth = redis.call('LLEN', KEYS[1])
if depth + #ARGV - 2 > tonumber(ARGV[1]) then
  return redis.error_reply('QUEUEFULL ' .. KEYS[1] .. ' holds ' .. depth .. ' jobs; its bound is '
    .. ARGV[1])
end
for i = 3, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
for i = 3, math.min(#ARGV, tonumber(ARGV[2]) + 2) do redis.call('LPUSH', KEYS[2], '1') end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return #ARGV - 2
