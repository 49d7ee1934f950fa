--[[
  Re-adds timers that are missing from the index (the sweep's repair after Redis lost data,
  or a process died between commit and index): a member already due, or leased by a live
  worker, is left alone, so the sweep never hands a timer that is being fired to a second
  worker, nor moves one that is queued. One state change: "absent -> due", atomic.

  KEYS[1]  due set    member = timer id, score = dueAtMs
  KEYS[2]  lease set  member = timer id, score = leaseUntilMs
  ARGV     pairs: dueAtMs1, id1, dueAtMs2, id2, ...

  Returns the number of timers added.
]]
local added = 0
for i = 1, #ARGV, 2 do
  local id = ARGV[i + 1]
  if not redis.call('ZSCORE', KEYS[2], id) then
    added = added + redis.call('ZADD', KEYS[1], 'NX', ARGV[i], id)
  end
end
return added
