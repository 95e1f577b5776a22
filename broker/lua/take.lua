-- Take the first message of the listed queues outright (`basic_get` without acks), with its
-- wake token. KEYS: redelivered, then (queue list, its wake list) pairs.
-- Returns {list, message, 1 if it was put back since it was last fetched} or false.
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
