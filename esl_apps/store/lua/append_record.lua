-- Append one record exactly once: the rid marker is set first and only a new rid is written.
-- Normal appends and spool replays use this same script, so a record whose first attempt reached
-- Redis but whose reply was lost (a timeout) is not added a second time when its spooled copy
-- is replayed.
-- KEYS[1] rid marker, KEYS[2] stream, KEYS[3] document (optional)
-- ARGV: rid, data (JSON), ts_ms, marker_ttl_s, maxlen (0 = none), doc_ttl_s (0 = none)
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then
  return 0
end
local maxlen = tonumber(ARGV[5])
if maxlen > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', 'rid', ARGV[1], 'ts', ARGV[3], 'data', ARGV[2])
else
  redis.call('XADD', KEYS[2], '*', 'rid', ARGV[1], 'ts', ARGV[3], 'data', ARGV[2])
end
if #KEYS >= 3 then
  local ttl = tonumber(ARGV[6])
  if ttl > 0 then
    redis.call('SET', KEYS[3], ARGV[2], 'EX', ttl)
  else
    redis.call('SET', KEYS[3], ARGV[2])
  end
end
return 1
