-- Replace a group's member list (positions and weights) and rebuild its free-agent indexes.
-- Runs only when a process sees a member list the pool has not got yet (a config change).
-- KEYS[1] <base>:timed. ARGV: base, day, week, group, version, members JSON [[agent, weight], ...]
-- in config order, fewest_calls reset mode (daily|weekly|never).
local g, version = ARGV[4], ARGV[5]
local members = cjson.decode(ARGV[6])
local now = now_ms()
local keep = {}
for _, m in ipairs(members) do keep[m[1]] = true end
for _, a in ipairs(redis.call('HKEYS', gkey(g, 'pos'))) do
  if not keep[a] then redis.call('SREM', agkey(a), g) end
end
redis.call('DEL', gkey(g, 'pos'), gkey(g, 'w'), gkey(g, 'free'), gkey(g, 'idle'), gkey(g, 'fewest'))
local mode = ARGV[7]
redis.call('HSET', gkey(g, 'meta'), 'reset', mode, 'period', period_of(mode))
local wmax = 0
for i, m in ipairs(members) do
  local a, w = m[1], tonumber(m[2])
  redis.call('HSET', gkey(g, 'pos'), a, i - 1)
  redis.call('HSET', gkey(g, 'w'), a, w)
  redis.call('SADD', agkey(a), g)
  redis.call('SADD', REGISTRY, a)
  if w > wmax then wmax = w end
end
for _, m in ipairs(members) do refresh(m[1], now, g) end
redis.call('HSET', gkey(g, 'meta'), 'version', version, 'wmax', wmax, 'n', #members)
return #members
