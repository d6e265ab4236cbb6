//! The Lua scripts: each store call is one script, so one round trip, atomic.
//!
//! Layout of a session: one hash at `{namespace}:{sha256 of the id, hex}`, with the
//! field `#c` (creation time, unix ms) and one field per value, `=` followed by the
//! key, holding `p` (persistent) or `f` (flash) followed by the value's JSON. The
//! hash's expiry (`PEXPIREAT`) is the session's deadline: the earlier of the idle
//! deadline and creation + lifetime.

use redis::Script;

/// Field holding the creation time.
pub(crate) const CREATED: &str = "#c";
/// Prefix of value fields.
pub(crate) const VALUE_PREFIX: char = '=';

/// Load and refresh, for sessions with an absolute lifetime (without one, a load is
/// a plain `HGETALL` + `PEXPIRE` pipeline). KEYS[1] session; ARGV: now, idle,
/// lifetime.
/// Returns nil (no session), the string `corrupt`, or [deadline, field, value, ...].
pub(crate) fn load() -> Script {
    Script::new(
        r#"
local h = redis.pcall('HGETALL', KEYS[1])
if h.err then return 'corrupt' end
if #h == 0 then return false end
local created
for i = 1, #h, 2 do
  if h[i] == '#c' then created = tonumber(h[i + 1]) break end
end
if not created then return 'corrupt' end
local now, idle, life = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local deadline = now + idle
if life > 0 then
  if now >= created + life then redis.call('DEL', KEYS[1]) return false end
  deadline = math.min(deadline, created + life)
end
redis.call('PEXPIREAT', KEYS[1], deadline)
table.insert(h, 1, tostring(deadline))
return h
"#,
    )
}

/// Save. KEYS[1] session, KEYS[2] (optional) a session to destroy in the same call.
/// ARGV: mode (`new` / `update`), now, idle, lifetime, created (for `new`), cleared
/// (`1` / `0`), number of removed fields R, R field names, then field/value pairs.
/// Returns 1 when saved, 0 when `new` found the key taken or `update` found the
/// session gone (expired, destroyed, or not a session).
pub(crate) fn save() -> Script {
    Script::new(
        r#"
local key = KEYS[1]
local mode = ARGV[1]
local now, idle, life = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local created
if mode == 'new' then
  if redis.call('EXISTS', key) == 1 then return 0 end
  created = tonumber(ARGV[5])
  redis.call('HSET', key, '#c', ARGV[5])
else
  local c = redis.pcall('HGET', key, '#c')
  if type(c) ~= 'string' then return 0 end
  created = tonumber(c)
  if not created then return 0 end
  if life > 0 and now >= created + life then redis.call('DEL', key) return 0 end
  if ARGV[6] == '1' then
    redis.call('DEL', key)
    redis.call('HSET', key, '#c', tostring(created))
  end
end
-- Batches keep unpack() far below Lua's stack limit however large the session.
local removed = tonumber(ARGV[7])
local first = 8
local batch = {}
for j = first, first + removed - 1 do
  batch[#batch + 1] = ARGV[j]
  if #batch == 512 then redis.call('HDEL', key, unpack(batch)) batch = {} end
end
if #batch > 0 then redis.call('HDEL', key, unpack(batch)) batch = {} end
for j = first + removed, #ARGV do
  batch[#batch + 1] = ARGV[j]
  if #batch == 512 then redis.call('HSET', key, unpack(batch)) batch = {} end
end
if #batch > 0 then redis.call('HSET', key, unpack(batch)) end
local deadline = now + idle
if life > 0 then deadline = math.min(deadline, created + life) end
redis.call('PEXPIREAT', key, deadline)
if KEYS[2] then redis.call('DEL', KEYS[2]) end
return 1
"#,
    )
}
