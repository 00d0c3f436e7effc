-- Shared helpers of the agent pool scripts (prepended to agent_op.lua, pick.lua, sync_group.lua).
--
-- Every key of the pool carries the hash tag {agents}, so each script touches one Redis Cluster
-- slot even though an agent belongs to several groups. ARGV[1] is the pool base, e.g. "esl:{agents}";
-- KEYS[1] is always <base>:timed (declared for routing).
--
-- <base>:a:<agent>        hash   status, reason, pending, pending_reason, call_uuid, since,
--                                calls_taken, calls_since_reset, last_call_end, talk_time_s,
--                                no_answers, wrapup_until, lease_owner, lease_call, lease_group, lease_until
-- <base>:ag:<agent>       set    groups the agent is a member of
-- <base>:agents           set    every agent ever seen (for listings)
-- <base>:timed            zset   agent -> ms when a wrap-up or lease ends (re-indexed lazily)
-- <base>:g:<g>:meta       hash   version (member-list fingerprint), rr (round-robin pointer), wmax, n
-- <base>:g:<g>:pos        hash   agent -> position in the group's configuration
-- <base>:g:<g>:w          hash   agent -> weight
-- <base>:g:<g>:free       zset   FREE members, score = position
-- <base>:g:<g>:idle       zset   FREE members as "%08d<agent>" (position prefix breaks ties), score = last call end
-- <base>:g:<g>:fewest     zset   same members, score = calls since reset

local B = ARGV[1]
local TIMED = B .. ':timed'
local REGISTRY = B .. ':agents'

local function akey(a) return B .. ':a:' .. a end
local function agkey(a) return B .. ':ag:' .. a end
local function gkey(g, suffix) return B .. ':g:' .. g .. ':' .. suffix end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(v)
  if v then return tonumber(v) or 0 end
  return 0
end

local function enc(pos, a) return string.format('%08d', pos) .. a end

-- Free = available (or wrap-up that has ended) and not under a live lease.
-- Returns free, wake (ms when that may change, or nil), last_call_end, calls_since_reset.
local function agent_free(a, now)
  local v = redis.call('HMGET', akey(a), 'status', 'wrapup_until', 'lease_until', 'last_call_end',
    'calls_since_reset')
  local status = v[1] or 'logged_out'
  local wu, lu = num(v[2]), num(v[3])
  local free, wake = false, nil
  if status == 'available' or (status == 'wrap_up' and wu <= now) then
    free = true
  elseif status == 'wrap_up' then
    wake = wu
  end
  if free and lu > now then
    free, wake = false, lu
  end
  return free, wake, num(v[4]), num(v[5])
end

local function index_one(g, a, free, lce, calls)
  local pos = redis.call('HGET', gkey(g, 'pos'), a)
  if not pos then return end
  local e = enc(tonumber(pos), a)
  if free then
    redis.call('ZADD', gkey(g, 'free'), pos, a)
    redis.call('ZADD', gkey(g, 'idle'), lce, e)
    redis.call('ZADD', gkey(g, 'fewest'), calls, e)
  else
    redis.call('ZREM', gkey(g, 'free'), a)
    redis.call('ZREM', gkey(g, 'idle'), e)
    redis.call('ZREM', gkey(g, 'fewest'), e)
  end
end

-- Bring every group index of agent a in line with its hash; only_group limits it to one group.
local function refresh(a, now, only_group)
  local free, wake, lce, calls = agent_free(a, now)
  if only_group then
    index_one(only_group, a, free, lce, calls)
  else
    for _, g in ipairs(redis.call('SMEMBERS', agkey(a))) do
      index_one(g, a, free, lce, calls)
    end
  end
  if wake then
    redis.call('ZADD', TIMED, wake, a)
  else
    redis.call('ZREM', TIMED, a)
  end
  return free
end

-- Wrap-ups and leases end by the clock, not by a command: re-index the agents whose time has come.
local function process_due(now)
  local due = redis.call('ZRANGEBYSCORE', TIMED, '-inf', now, 'LIMIT', 0, 1000)
  for _, a in ipairs(due) do refresh(a, now) end
end
