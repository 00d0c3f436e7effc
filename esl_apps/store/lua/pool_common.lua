-- Shared helpers of the agent pool scripts (prepended to agent_op.lua, pick.lua, sync_group.lua).
--
-- Every key of the pool carries the hash tag {agents}, so each script touches one Redis Cluster
-- slot even though an agent belongs to several groups. KEYS[1] is always <base>:timed (declared
-- for routing). Every script's ARGV starts with: the pool base (e.g. "esl:{agents}"), today's and
-- this week's period ids (computed by the client in the centre's time zone; they reset the
-- fewest_calls counts); the script's own arguments follow from ARGV[4].
--
-- <base>:a:<agent>        hash   status, reason, pending, pending_reason, call_uuid, since,
--                                calls_taken, cd_id/cd (calls on day cd_id), cw_id/cw (in week cw_id),
--                                last_call_end, talk_time_s, no_answers, wrapup_until,
--                                lease_owner, lease_call, lease_group, lease_until
-- <base>:ag:<agent>       set    groups the agent is a member of
-- <base>:agents           set    every agent ever seen (for listings)
-- <base>:timed            zset   agent -> ms when a wrap-up or lease ends (re-indexed lazily)
-- <base>:g:<g>:meta       hash   version (member-list fingerprint), rr (round-robin pointer), wmax, n,
--                                reset (daily|weekly|never), period (the period the fewest index counts)
-- <base>:g:<g>:pos        hash   agent -> position in the group's configuration
-- <base>:g:<g>:w          hash   agent -> weight
-- <base>:g:<g>:free       zset   FREE members, score = position
-- <base>:g:<g>:idle       zset   FREE members as "%08d<agent>" (position prefix breaks ties), score = last call end
-- <base>:g:<g>:fewest     zset   same members, score = calls since the group's reset

local B, DAY, WEEK = ARGV[1], ARGV[2], ARGV[3]
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

local function period_of(mode)
  if mode == 'daily' then return DAY elseif mode == 'weekly' then return WEEK end
  return 'never'
end

-- Calls counted by fewest_calls for a group whose counts reset with `mode`.
local function calls_since(c, mode)
  if mode == 'daily' then
    if c.cd_id == DAY then return c.cd end
    return 0
  elseif mode == 'weekly' then
    if c.cw_id == WEEK then return c.cw end
    return 0
  end
  return c.total
end

-- Free = available (or wrap-up that has ended) and not under a live lease.
-- Returns free, wake (ms when that may change, or nil), last_call_end, call counts.
local function agent_free(a, now)
  local v = redis.call('HMGET', akey(a), 'status', 'wrapup_until', 'lease_until', 'last_call_end',
    'calls_taken', 'cd_id', 'cd', 'cw_id', 'cw')
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
  return free, wake, num(v[4]), {total = num(v[5]), cd_id = v[6], cd = num(v[7]), cw_id = v[8], cw = num(v[9])}
end

local function index_one(g, a, free, lce, counts)
  local pos = redis.call('HGET', gkey(g, 'pos'), a)
  if not pos then return end
  local e = enc(tonumber(pos), a)
  if free then
    redis.call('ZADD', gkey(g, 'free'), pos, a)
    redis.call('ZADD', gkey(g, 'idle'), lce, e)
    local mode = redis.call('HGET', gkey(g, 'meta'), 'reset') or 'daily'
    redis.call('ZADD', gkey(g, 'fewest'), calls_since(counts, mode), e)
  else
    redis.call('ZREM', gkey(g, 'free'), a)
    redis.call('ZREM', gkey(g, 'idle'), e)
    redis.call('ZREM', gkey(g, 'fewest'), e)
  end
end

-- Bring every group index of agent a in line with its hash; only_group limits it to one group.
local function refresh(a, now, only_group)
  local free, wake, lce, counts = agent_free(a, now)
  if only_group then
    index_one(only_group, a, free, lce, counts)
  else
    for _, g in ipairs(redis.call('SMEMBERS', agkey(a))) do
      index_one(g, a, free, lce, counts)
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

-- A new day (or week) zeroes the fewest_calls counts: rebuild the group's index once per period.
local function roll_period(g)
  local meta = gkey(g, 'meta')
  local mode = redis.call('HGET', meta, 'reset') or 'daily'
  local period = period_of(mode)
  if redis.call('HGET', meta, 'period') == period then return end
  local now = now_ms()
  redis.call('DEL', gkey(g, 'fewest'))
  for _, a in ipairs(redis.call('ZRANGE', gkey(g, 'free'), 0, -1)) do refresh(a, now, g) end
  redis.call('HSET', meta, 'period', period)
end
