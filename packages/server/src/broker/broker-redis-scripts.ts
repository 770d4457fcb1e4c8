/**
 * Lua scripts of the Redis broker. Each runs atomically in Redis, which is what makes "assign the
 * next offset, append to history, fan out" one step: no node can observe a publication that is not
 * yet in history, and PUBLISH order equals offset order.
 *
 * Keys of a room (all share the hash tag `{room}`, so a room lives on one Redis Cluster slot):
 * - `<prefix>{room}:m`  hash `e` = epoch, `o` = top offset; TTL metaTtlMs, refreshed by every script.
 * - `<prefix>{room}:h`  stream; entry id `<offset>-0`, fields `x` = expiry (ms since epoch, Redis
 *                        clock), `d` = body (msgpack of `{d, e?, f?}`); MAXLEN historySize, TTL
 *                        historyTtlMs.
 * - `<prefix>{room}:i:<key>`  `epoch:offset` of the first publish with that idempotency key; TTL
 *                        idempotencyTtlMs.
 * Channel of a room: `<prefix>{room}:c`; message `p<epoch>:<offset>:<body>` (publication) or
 * `e<msgpack>` (ephemeral).
 */

/**
 * Creates the room's meta in a fresh epoch when missing (the stream of a lost epoch is dropped) and
 * refreshes its TTL.
 */
const ENSURE_META = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ensure_meta(meta, stream, new_epoch, meta_ttl)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = new_epoch
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', epoch, 'o', 0)
  end
  -- Any use keeps the room's epoch: a room that is read but quiet must not lose its position.
  redis.call('PEXPIRE', meta, meta_ttl)
  return epoch
end
`;

/**
 * KEYS: meta, stream, idempotency key (ignored unless ARGV[7] == '1').
 * ARGV: historySize, historyTtlMs, idempotencyTtlMs, newEpoch, channel, body, hasIdempotency, metaTtlMs.
 * Returns {epoch, offset, duplicate(0|1)}.
 */
export const PUBLISH_LUA = `${ENSURE_META}
local meta, stream, idem = KEYS[1], KEYS[2], KEYS[3]
local hist_size = tonumber(ARGV[1])
local hist_ttl = tonumber(ARGV[2])
local idem_ttl = tonumber(ARGV[3])
local has_idem = ARGV[7] == '1'
if has_idem then
  local seen = redis.call('GET', idem)
  if seen then
    local sep = string.find(seen, ':', 1, true)
    return {string.sub(seen, 1, sep - 1), tonumber(string.sub(seen, sep + 1)), 1}
  end
end
local epoch = ensure_meta(meta, stream, ARGV[4], tonumber(ARGV[8]))
local offset = redis.call('HINCRBY', meta, 'o', 1)
redis.call('PEXPIRE', meta, tonumber(ARGV[8]))
local off = string.format('%d', offset)
if hist_size > 0 then
  redis.call('XADD', stream, 'MAXLEN', hist_size, off .. '-0', 'x', string.format('%d', now_ms() + hist_ttl), 'd', ARGV[6])
  redis.call('PEXPIRE', stream, hist_ttl)
end
if has_idem then
  redis.call('SET', idem, epoch .. ':' .. off, 'PX', idem_ttl)
end
redis.call('PUBLISH', ARGV[5], 'p' .. epoch .. ':' .. off .. ':' .. ARGV[6])
return {epoch, offset, 0}
`;

/**
 * KEYS: meta, stream.
 * ARGV: hasSince(0|1), sinceEpoch, sinceOffset, limit, newEpoch, metaTtlMs.
 * Returns {epoch, top, recovered(0|1), offset1, body1, offset2, body2, ...} (oldest first).
 * Without `since`: the latest `limit` live entries. With `since`: the contiguous live entries after
 * it, recovered only if the first one is `since + 1` (or nothing was missed).
 */
export const HISTORY_LUA = `${ENSURE_META}
local meta, stream = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[4])
local epoch = ensure_meta(meta, stream, ARGV[5], tonumber(ARGV[6]))
local top = tonumber(redis.call('HGET', meta, 'o'))
local out = {epoch, top, 1}
local now = now_ms()
local function fields(row)
  local f = row[2]
  local x, d = 0, ''
  for i = 1, #f, 2 do
    if f[i] == 'x' then x = tonumber(f[i + 1]) elseif f[i] == 'd' then d = f[i + 1] end
  end
  return tonumber(string.match(row[1], '^(%d+)')), x, d
end
if ARGV[1] ~= '1' then
  if limit > 0 then
    local rows = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', limit)
    for i = #rows, 1, -1 do
      local offset, x, d = fields(rows[i])
      if x > now then
        table.insert(out, offset)
        table.insert(out, d)
      end
    end
  end
  return out
end
local since = tonumber(ARGV[3])
if ARGV[2] ~= epoch or since > top then
  out[3] = 0
  return out
end
if since == top then return out end
local rows = redis.call('XRANGE', stream, string.format('%d', since + 1) .. '-0', '+', 'COUNT', math.max(limit, 1))
local expect = since + 1
for i = 1, #rows do
  local offset, x, d = fields(rows[i])
  if offset ~= expect or x <= now then break end
  if i <= limit then
    table.insert(out, offset)
    table.insert(out, d)
  end
  expect = expect + 1
end
if expect == since + 1 then
  out[3] = 0
  for i = #out, 4, -1 do out[i] = nil end
end
return out
`;

/** KEYS: meta, stream. ARGV: newEpoch, metaTtlMs. Returns {epoch, top}. */
export const POSITION_LUA = `${ENSURE_META}
local epoch = ensure_meta(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
return {epoch, tonumber(redis.call('HGET', KEYS[1], 'o'))}
`;

/**
 * PUBLISH routed to the room's slot: KEYS: any key of the room (not touched). ARGV: channel, message.
 * On a Redis Cluster a bare PUBLISH goes to any node, and messages sent through different nodes can
 * arrive out of order; sent through the room's master they keep the order of the room's publications.
 */
export const ROOM_PUBLISH_LUA = `return redis.call('PUBLISH', ARGV[1], ARGV[2])`;
