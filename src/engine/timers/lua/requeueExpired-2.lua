--[[
  Returns timers whose lease expired (their worker died or stalled) to the due set, due now.
  One state change: "leased -> due", atomic.

  KEYS[1]  lease set  member = timer id, score = leaseUntilMs
  KEYS[2]  due set    member = timer id, score = dueAtMs
  ARGV[1]  nowMs
  ARGV[2]  limit

  Returns the number of timers put back.
]]
local expired = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2])
for i = 1, #expired do
  redis.call('ZREM', KEYS[1], expired[i])
  redis.call('ZADD', KEYS[2], 'NX', ARGV[1], expired[i])
end
return #expired
