"""Lua scripts of the callback request store (see callback_store.py for the key layout).

Every script works on one ring group and gets ``ARGV[1]`` = the group's key base
(``<prefix>:{rg:<group>}``, the ring-group runtime's hash tag) and builds its keys from it; they all
share that hash tag, so they live in one Cluster slot (KEYS[1] routes the call there).
Times come from Redis (``TIME``), never from the dialers' clocks, so leases mean the same on
every host.
"""

from __future__ import annotations

_PRELUDE = """
local base = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local line, delayed, leases = base .. ':callbacks', base .. ':cb_delayed', base .. ':cb_leases'
local function rkey(id) return base .. ':cb:' .. id end
local function requeue(id)
  local a = redis.call('HGET', rkey(id), 'arrival_ms')
  if a then redis.call('ZADD', line, tonumber(a), id) end
end
local function promote(now)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 500)
  for _, id in ipairs(due) do
    redis.call('ZREM', delayed, id)
    if redis.call('HGET', rkey(id), 'status') == 'pending' then requeue(id) end
  end
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 500)
  for _, id in ipairs(expired) do
    redis.call('ZREM', leases, id)
    if redis.call('HGET', rkey(id), 'status') == 'leased' then
      redis.call('HSET', rkey(id), 'status', 'pending', 'lease_owner', '', 'lease_until', 0,
                 'last_outcome', 'lease_expired')
      requeue(id)
    end
  end
end
local function owned(id, owner)
  local f = redis.call('HMGET', rkey(id), 'status', 'lease_owner')
  return f[1] == 'leased' and f[2] == owner
end
"""

# ARGV: base, id, arrival, not_before, field, value, ... -> 1 when new
ADD = _PRELUDE + """
local id = ARGV[2]
local arrival, nb = tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', rkey(id)) == 1 then return 0 end
redis.call('HSET', rkey(id), unpack(ARGV, 5))
if nb > now_ms() then redis.call('ZADD', delayed, nb, id) else redis.call('ZADD', line, arrival, id) end
return 1
"""

# ARGV: base -> {due requests, waiting (delayed), leased}
DUE = _PRELUDE + """
promote(now_ms())
return {redis.call('ZCARD', line), redis.call('ZCARD', delayed), redis.call('ZCARD', leases)}
"""

# ARGV: base, owner, lease_ms, queue... -> {'ok', id, fields...} | {'ahead', arrival} | nil (none due)
# A caller still waiting (live place) in one of the group's queues who arrived before the first
# request is served first: the request keeps the place its caller had, no better.
CLAIM = _PRELUDE + """
local now = now_ms()
promote(now)
local first = redis.call('ZRANGE', line, 0, 0, 'WITHSCORES')
if #first == 0 then return nil end
local id, arrival = first[1], tonumber(first[2])
for i = 4, #ARGV do
  local wait, live = base .. ':q:' .. ARGV[i] .. ':wait', base .. ':q:' .. ARGV[i] .. ':live'
  local heads = redis.call('ZRANGE', wait, 0, 9, 'WITHSCORES')
  for j = 1, #heads, 2 do
    if tonumber(heads[j + 1]) >= arrival then break end
    local expiry = redis.call('ZSCORE', live, heads[j])
    if expiry and tonumber(expiry) > now then return {'ahead', heads[j + 1]} end
  end
end
redis.call('ZREM', line, id)
local lease_until = now + tonumber(ARGV[3])
redis.call('HSET', rkey(id), 'status', 'leased', 'lease_owner', ARGV[2], 'lease_until', lease_until)
redis.call('ZADD', leases, lease_until, id)
local out = {'ok', id}
for _, v in ipairs(redis.call('HGETALL', rkey(id))) do out[#out + 1] = v end
return out
"""

# ARGV: base, id, owner, outcome -> 1 when given back
RELEASE = _PRELUDE + """
local id = ARGV[2]
if not owned(id, ARGV[3]) then return 0 end
redis.call('ZREM', leases, id)
redis.call('HSET', rkey(id), 'status', 'pending', 'lease_owner', '', 'lease_until', 0,
           'last_outcome', ARGV[4])
requeue(id)
return 1
"""

# ARGV: base, id, owner, lease_ms -> attempt number, or nil when the lease is not ours
ATTEMPT = _PRELUDE + """
local id = ARGV[2]
if not owned(id, ARGV[3]) then return nil end
local lease_until = now_ms() + tonumber(ARGV[4])
redis.call('HSET', rkey(id), 'lease_until', lease_until)
redis.call('ZADD', leases, lease_until, id)
return redis.call('HINCRBY', rkey(id), 'attempts', 1)
"""

# ARGV: base, id, owner, not_before_ms, outcome -> 1 when rescheduled
RESCHEDULE = _PRELUDE + """
local id, nb = ARGV[2], tonumber(ARGV[4])
if not owned(id, ARGV[3]) then return 0 end
redis.call('ZREM', leases, id)
redis.call('HSET', rkey(id), 'status', 'pending', 'lease_owner', '', 'lease_until', 0,
           'not_before_ms', nb, 'last_outcome', ARGV[5])
if nb > now_ms() then redis.call('ZADD', delayed, nb, id) else requeue(id) end
return 1
"""

# ARGV: base, id, owner, status, outcome, ttl_s -> the status before (nil: unknown id)
FINISH = _PRELUDE + """
local id = ARGV[2]
local before = redis.call('HGET', rkey(id), 'status')
if not before then return nil end
if before == 'completed' or before == 'failed' or before == 'cancelled' then return before end
if before == 'leased' and redis.call('HGET', rkey(id), 'lease_owner') ~= ARGV[3] then return 'leased' end
redis.call('ZREM', leases, id)
redis.call('ZREM', delayed, id)
redis.call('ZREM', line, id)
redis.call('HSET', rkey(id), 'status', ARGV[4], 'lease_owner', '', 'lease_until', 0, 'last_outcome', ARGV[5],
           'finished_ms', now_ms())
redis.call('EXPIRE', rkey(id), tonumber(ARGV[6]))
return before
"""

# ARGV: base, id, ttl_s -> the status before (nil: unknown id)
CANCEL = _PRELUDE + """
local id = ARGV[2]
local before = redis.call('HGET', rkey(id), 'status')
if not before then return nil end
if before == 'completed' or before == 'failed' or before == 'cancelled' then return before end
redis.call('ZREM', leases, id)
redis.call('ZREM', delayed, id)
redis.call('ZREM', line, id)
redis.call('HSET', rkey(id), 'status', 'cancelled', 'last_outcome', 'cancelled', 'finished_ms', now_ms())
redis.call('EXPIRE', rkey(id), tonumber(ARGV[3]))
return before
"""

# KEYS[1] = cursor key; ARGV[1] = stream id. Moves the cursor forward only.
FORWARD_CURSOR = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local cm, cs = string.match(cur, '(%d+)-(%d+)')
  local nm, ns = string.match(ARGV[1], '(%d+)-(%d+)')
  cm, cs, nm, ns = tonumber(cm), tonumber(cs), tonumber(nm), tonumber(ns)
  if nm < cm or (nm == cm and ns <= cs) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
