-- uses: place
-- Return one in-flight entry of a consumer whose heartbeat expired to the front of its
-- queue, counting a delivery. KEYS: inflight, heartbeat, lost, registry.
-- ARGV: consumer id, MAX_DELIVERIES (0: no bound), then the placement arguments.
-- Returns -1 (the consumer is alive after all), 0 (nothing left: deregistered), 1 or 2.
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local entry = redis.call('LPOP', KEYS[1])
if not entry then
  redis.call('SREM', KEYS[4], ARGV[1])
  return 0
end
return count_and_place(entry, true, KEYS[3], ARGV[2], place_args(3))
