-- Keep held entries in a consumer's in-flight list, adding those that are missing.
-- KEYS: inflight, registry. ARGV: consumer id, entries... Returns how many were added.
local added = 0
for i = 2, #ARGV do
  if not redis.call('LPOS', KEYS[1], ARGV[i]) then
    redis.call('LPUSH', KEYS[1], ARGV[i])
    added = added + 1
  end
end
redis.call('SADD', KEYS[2], ARGV[1])
return added
