-- One agent state change, applied atomically with the group indexes it affects.
-- KEYS[1] <base>:timed. ARGV[1..3] base, day, week; ARGV[4] op; ARGV[5] agent (or owner for
-- release_many); ARGV[6..] the op's arguments.
-- Returns {flag, now_ms, field1, value1, ...} (the agent hash after the change), or for
-- release_many the list of agents released.
local op = ARGV[4]
local now = now_ms()
process_due(now)

local LEASE = {'lease_owner', 'lease_call', 'lease_group', 'lease_until'}

local function clear_lease(k) redis.call('HDEL', k, unpack(LEASE)) end

local function lease_live(k, owner, call)
  local v = redis.call('HMGET', k, 'lease_owner', 'lease_call', 'lease_until')
  if not v[1] or num(v[3]) <= now then return false end
  if owner and v[1] ~= owner then return false end
  if call and call ~= '' and (v[2] or '') ~= '' and v[2] ~= call then return false end
  return true
end

if op == 'release_many' then
  local owner, call = ARGV[5], ARGV[6]
  local released = {}
  for i = 7, #ARGV do
    local a = ARGV[i]
    local k = akey(a)
    local lo = redis.call('HMGET', k, 'lease_owner', 'lease_call')
    if lo[1] == owner and (call == '' or (lo[2] or '') == '' or lo[2] == call) then
      clear_lease(k)
      refresh(a, now)
      released[#released + 1] = a
    end
  end
  return released
end

if op == 'renew' then
  -- Keep this owner's leases for one call alive (a long ring, or a call the ringer cannot see answered).
  local owner, call, lease_ms = ARGV[5], ARGV[6], tonumber(ARGV[7])
  local renewed = {}
  for i = 8, #ARGV do
    local a = ARGV[i]
    local k = akey(a)
    local lo = redis.call('HMGET', k, 'lease_owner', 'lease_call', 'lease_until')
    if lo[1] == owner and (lo[2] or '') == call and num(lo[3]) > now then
      redis.call('HSET', k, 'lease_until', now + lease_ms)
      refresh(a, now)
      renewed[#renewed + 1] = a
    end
  end
  return renewed
end

local a = ARGV[5]
local k = akey(a)
redis.call('SADD', REGISTRY, a)
local status = redis.call('HGET', k, 'status') or 'logged_out'
local flag = 0

local function set_status(s, reason)
  redis.call('HSET', k, 'status', s, 'reason', reason or '', 'since', now)
end

local function start_call(call)
  if status == 'on_call' and redis.call('HGET', k, 'call_uuid') == call then return end
  if status == 'logged_out' then
    redis.call('HSET', k, 'pending', 'logout', 'pending_reason', '')
  elseif status == 'paused' then
    redis.call('HSET', k, 'pending', 'pause', 'pending_reason', redis.call('HGET', k, 'reason') or '')
  end
  set_status('on_call')
  redis.call('HSET', k, 'call_uuid', call, 'no_answers', 0, 'wrapup_until', 0)
  redis.call('HINCRBY', k, 'calls_taken', 1)
  local c = redis.call('HMGET', k, 'cd_id', 'cw_id')
  if c[1] ~= DAY then redis.call('HSET', k, 'cd_id', DAY, 'cd', 0) end
  if c[2] ~= WEEK then redis.call('HSET', k, 'cw_id', WEEK, 'cw', 0) end
  redis.call('HINCRBY', k, 'cd', 1)
  redis.call('HINCRBY', k, 'cw', 1)
  clear_lease(k)
end

if op == 'login' then
  if status == 'logged_out' or status == 'paused' then
    set_status('available')
    redis.call('HSET', k, 'no_answers', 0)
  end
  redis.call('HDEL', k, 'pending', 'pending_reason')
  flag = 1
elseif op == 'logout' then
  if status == 'on_call' then
    redis.call('HSET', k, 'pending', 'logout', 'pending_reason', '')
  else
    set_status('logged_out')
    redis.call('HSET', k, 'wrapup_until', 0)
    redis.call('HDEL', k, 'pending', 'pending_reason')
    clear_lease(k)
  end
  flag = 1
elseif op == 'pause' then
  if status == 'on_call' then
    redis.call('HSET', k, 'pending', 'pause', 'pending_reason', ARGV[6])
  elseif status ~= 'logged_out' then
    set_status('paused', ARGV[6])
    redis.call('HSET', k, 'wrapup_until', 0)
    clear_lease(k)
    flag = 1
  end
elseif op == 'unpause' then
  if status == 'paused' then
    set_status('available')
    redis.call('HSET', k, 'no_answers', 0)
    flag = 1
  elseif status == 'on_call' and redis.call('HGET', k, 'pending') == 'pause' then
    redis.call('HDEL', k, 'pending', 'pending_reason')
    flag = 1
  end
elseif op == 'call_started' then
  start_call(ARGV[6])
  flag = 1
elseif op == 'confirm' then
  -- The agent answered: the call is theirs whatever happened to the lease; flag says it was ours.
  if lease_live(k, ARGV[6], ARGV[7]) then flag = 1 end
  start_call(ARGV[7])
elseif op == 'call_ended' then
  local call = ARGV[8]
  if status == 'on_call' and (call == '' or redis.call('HGET', k, 'call_uuid') == call) then
    local wrapup_ms = math.floor(tonumber(ARGV[7]) * 1000)
    redis.call('HSET', k, 'last_call_end', now, 'call_uuid', '')
    redis.call('HINCRBYFLOAT', k, 'talk_time_s', ARGV[6])
    local pending = redis.call('HGET', k, 'pending')
    if pending == 'logout' then
      set_status('logged_out')
    elseif pending == 'pause' then
      set_status('paused', redis.call('HGET', k, 'pending_reason') or '')
    elseif wrapup_ms > 0 then
      set_status('wrap_up')
      redis.call('HSET', k, 'wrapup_until', now + wrapup_ms)
    else
      set_status('available')
    end
    redis.call('HDEL', k, 'pending', 'pending_reason')
    flag = 1
  end
elseif op == 'no_answer' then
  local count = redis.call('HINCRBY', k, 'no_answers', 1)
  local limit = tonumber(ARGV[6])
  if limit > 0 and count >= limit and (status == 'available' or status == 'wrap_up') then
    set_status('paused', 'no-answer')
    redis.call('HSET', k, 'wrapup_until', 0)
    clear_lease(k)
    flag = 1
  end
elseif op == 'wrapup_done' then
  if status == 'wrap_up' then
    set_status('available')
    redis.call('HSET', k, 'wrapup_until', 0)
    flag = 1
  end
elseif op == 'release' then
  if lease_live(k, nil, ARGV[6]) or redis.call('HGET', k, 'lease_call') == ARGV[6] then
    clear_lease(k)
    flag = 1
  end
else
  return redis.error_reply('ERR unknown agent op ' .. op)
end

refresh(a, now)
local out = {flag, now}
for _, x in ipairs(redis.call('HGETALL', k)) do out[#out + 1] = x end
return out
