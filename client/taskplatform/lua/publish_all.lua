-- Publish each ARGV on the channel KEYS[1]: a bulk publish's `task-sent` events in one
-- command instead of one PUBLISH each (Redis parses, and the client packs, one command).
for _, event in ipairs(ARGV) do redis.call('PUBLISH', KEYS[1], event) end
return #ARGV
