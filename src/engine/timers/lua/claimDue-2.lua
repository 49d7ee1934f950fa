--[[
  Claims due timers: moves up to ARGV[2] members whose score (due time, ms) is <= ARGV[1]
  from the due set to the lease set, scored by the lease's expiry. One state change:
  "due -> leased", atomic.

  KEYS[1]  due set    member = timer id, score = dueAtMs
  KEYS[2]  lease set  member = timer id, score = leaseUntilMs
  ARGV[1]  nowMs
  ARGV[2]  limit      (max members to claim)
  ARGV[3]  leaseUntilMs

  Returns a flat array: { id1, dueAtMs1, id2, dueAtMs2, ... } in due order.
]]
local claimed = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[2], 'WITHSCORES')
for i = 1, #claimed, 2 do
  redis.call('ZREM', KEYS[1], claimed[i])
  redis.call('ZADD', KEYS[2], ARGV[3], claimed[i])
end
return claimed
