-- Pick and reserve agents for one call, atomically, in one round trip.
-- A Lua port of esl_apps/features/strategies.py (the reference; tests check both agree). It reads
-- only the group's free-agent indexes (kept current by every agent change), so its cost grows with
-- log(members) and the number picked, not with the group's size.
-- KEYS[1] <base>:timed
-- ARGV: base, day, week, group, version, strategy, count (-1 = every free member), lease_ms, owner,
--       call_uuid, seed, exclude (JSON list of agent ids)
-- Returns {rotation_after, agent1, agent2, ...}, or the error "STALE ..." when the group's member
-- list in Redis is not the caller's (the caller syncs it and retries).
local g, version, strategy = ARGV[4], ARGV[5], ARGV[6]
local want, lease_ms = tonumber(ARGV[7]), tonumber(ARGV[8])
local owner, call = ARGV[9], ARGV[10]
math.randomseed(tonumber(ARGV[11]))
local excl, nexcl = {}, 0
for _, a in ipairs(cjson.decode(ARGV[12])) do excl[a] = true; nexcl = nexcl + 1 end

local META = gkey(g, 'meta')
local mv = redis.call('HMGET', META, 'version', 'rr', 'wmax')
if mv[1] ~= version then return redis.error_reply('STALE member list of group ' .. g) end
local now = now_ms()
process_due(now)
roll_period(g)

local FREE = gkey(g, 'free')
local n = redis.call('ZCARD', FREE)
if want < 0 or want > n then want = n end
local chosen, taken = {}, {}
local function take(a)
  if a and not excl[a] and not taken[a] and #chosen < want then
    taken[a] = true
    chosen[#chosen + 1] = a
  end
end

-- Walk a zset in rank order; encoded members carry an 8-digit position prefix (tie-break).
local function scan_rank(key, encoded)
  local start, step = 0, want + nexcl
  while #chosen < want do
    local items = redis.call('ZRANGE', key, start, start + step - 1)
    if #items == 0 then return end
    for _, m in ipairs(items) do
      if encoded then m = string.sub(m, 9) end
      take(m)
    end
    start = start + step
  end
end

local function scan_score(lo, hi)
  local offset, step = 0, want + nexcl
  while #chosen < want do
    local items = redis.call('ZRANGEBYSCORE', FREE, lo, hi, 'LIMIT', offset, step)
    if #items == 0 then return end
    for _, m in ipairs(items) do take(m) end
    offset = offset + step
  end
end

local function shuffle_all()
  local all = redis.call('ZRANGE', FREE, 0, -1)
  for i = 1, #all do
    if #chosen >= want then return end
    local j = math.random(i, #all)
    all[i], all[j] = all[j], all[i]
    take(all[i])
  end
end

-- Successive weighted sampling over everyone left (Efraimidis-Spirakis keys u^(1/w)); weight-0
-- members (standbys) come after everyone else, in configuration order.
local function weighted_all()
  local all = redis.call('ZRANGE', FREE, 0, -1)
  local keyed = {}
  for i, a in ipairs(all) do
    if not excl[a] and not taken[a] then
      local w = tonumber(redis.call('HGET', gkey(g, 'w'), a)) or 1
      if w > 0 then
        keyed[#keyed + 1] = {math.random() ^ (1 / w), a}
      else
        keyed[#keyed + 1] = {-i, a}
      end
    end
  end
  table.sort(keyed, function(x, y) return x[1] > y[1] end)
  for _, kv in ipairs(keyed) do take(kv[2]) end
end

if strategy == 'simultaneous' or strategy == 'sequential' then
  scan_rank(FREE, false)
elseif strategy == 'round_robin' then
  local ptr = tonumber(mv[2]) or -1
  scan_score('(' .. ptr, '+inf')
  scan_score('-inf', ptr)
elseif strategy == 'longest_idle' then
  scan_rank(gkey(g, 'idle'), true)
elseif strategy == 'fewest_calls' then
  scan_rank(gkey(g, 'fewest'), true)
elseif strategy == 'random' then
  -- Few wanted out of many: draw ranks (each draw uniform over the free members).
  if want * 2 < n then
    local tries = 0
    while #chosen < want and tries < want * 20 + 50 do
      local r = math.random(0, n - 1)
      take(redis.call('ZRANGE', FREE, r, r)[1])
      tries = tries + 1
    end
  end
  if #chosen < want then shuffle_all() end
elseif strategy == 'weighted_random' then
  -- Rejection sampling: a uniform draw accepted with probability w / wmax is a draw weighted by w.
  local wmax = tonumber(mv[3]) or 1
  if want * 4 < n then
    local tries = 0
    while #chosen < want and tries < want * 64 + 64 do
      local r = math.random(0, n - 1)
      local a = redis.call('ZRANGE', FREE, r, r)[1]
      if a and not excl[a] and not taken[a] then
        local w = tonumber(redis.call('HGET', gkey(g, 'w'), a)) or 1
        if math.random() * wmax < w then take(a) end
      end
      tries = tries + 1
    end
  end
  if #chosen < want then weighted_all() end
else
  return redis.error_reply('ERR unknown strategy ' .. strategy)
end

local until_ms = now + lease_ms
for _, a in ipairs(chosen) do
  redis.call('HSET', akey(a), 'lease_owner', owner, 'lease_call', call, 'lease_group', g, 'lease_until', until_ms)
  refresh(a, now)
end
local ptr = tonumber(mv[2]) or -1
if strategy == 'round_robin' and #chosen > 0 then
  ptr = tonumber(redis.call('HGET', gkey(g, 'pos'), chosen[1]))
  redis.call('HSET', META, 'rr', ptr)
end
local out = {ptr}
for _, a in ipairs(chosen) do out[#out + 1] = a end
return out
