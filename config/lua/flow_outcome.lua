-- An attempt's outcome. KEYS: slowed, open, probe, failures. ARGV: outcome ("ok",
-- "failed", "slowed"), threshold, cooldown ms, slowed ms, job id. Returns the count of
-- consecutive failures.
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
