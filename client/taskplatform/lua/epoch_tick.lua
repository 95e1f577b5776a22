-- A look at the epoch, by a keeper (broker/epoch.py) or the outbox relay: take the epoch
-- (making it when it is missing) and count one more look at it.
-- KEYS: epoch. ARGV: a new id, now. Returns {id, counter, 1 if it was made now}.
local id = redis.call('HGET', KEYS[1], 'id')
local made = 0
if not id then
  id = ARGV[1]
  redis.call('HSET', KEYS[1], 'id', id, 'since', ARGV[2])
  made = 1
end
return {id, redis.call('HINCRBY', KEYS[1], 'seq', 1), made}
