-- After a counter went back, give the epoch a new id (once, whoever sees it first), so that
-- every other process notices the loss at its next look. KEYS: epoch. ARGV: the id seen,
-- a new id, now. Returns the id the epoch has now.
local id = redis.call('HGET', KEYS[1], 'id')
if id == ARGV[1] then
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'since', ARGV[3])
  return ARGV[2]
end
return id
