-- Queue a message unless its task id was queued within the window: a producer that
-- publishes again after an ambiguous failure (a timeout) gets the first job, not a second.
-- KEYS: once marker, queue list, wake list. ARGV: message, window seconds, the wake list's
-- bound, and optionally the queue's QUEUE_MAX_DEPTH (refused with QUEUEFULL past it, before
-- the mark is taken). Returns 1 (queued) or 0 (already). Sent with EVAL, never EVALSHA: a
-- publish that timed out must have sent the whole script, so that it runs when a frozen
-- Redis resumes instead of failing on NOSCRIPT.
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
