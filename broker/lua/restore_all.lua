-- uses: place
-- A consumer that stops puts everything it still holds back at the front of its queues and
-- deregisters: uncounted when it stops cleanly (nothing crashed), counting a delivery when
-- it stops on an error (which one of them may have caused). An entry that cannot go back
-- is parked in the lost list; the list is empty before the consumer is deregistered.
-- KEYS: inflight, heartbeat, registry, lost. ARGV: consumer id, counted ('1' or '0'),
-- MAX_DELIVERIES, the placement arguments, then entries the consumer still knows it held
-- (after Redis lost its data, they are in memory only), put back with the rest (once
-- each). Returns {messages put back, entries parked}.
local P = place_args(4)
for i = 10, #ARGV do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
local back, parked = 0, 0
while true do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then break end
  local placed
  if ARGV[2] == '1' then
    placed = count_and_place(entry, true, KEYS[4], ARGV[3], P)
  elseif put_back(entry, true, P) then
    placed = 1
  else
    redis.call('LPUSH', KEYS[4], entry)
    placed = 2
  end
  if placed == 1 then back = back + 1 else parked = parked + 1 end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return {back, parked}
