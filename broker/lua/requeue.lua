-- uses: place
-- Put one in-flight entry back in its queue (at the far end, as kombu's reject does),
-- counting a delivery. KEYS: inflight, lost. ARGV: entry, MAX_DELIVERIES (0: no bound),
-- then the placement arguments. Returns 0 (not in flight any more), 1 (requeued) or 2
-- (parked as lost).
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
return count_and_place(ARGV[1], false, KEYS[2], ARGV[2], place_args(3))
