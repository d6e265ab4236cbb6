//! The Lua scripts, for the store calls that need a decision inside Redis; each is
//! one round trip and atomic. Sessions are stored in the format of
//! [`format`](crate::format), which Redis's Lua reads and writes with `cmsgpack`.

use redis::Script;

/// Load and refresh, for sessions with an absolute lifetime (without one, a load is
/// a single `GETEX ... PX idle`). KEYS[1] session; ARGV: now, idle, lifetime.
/// Returns nil (no session), the string `corrupt`, or [deadline, stored bytes].
pub(crate) fn load() -> Script {
    Script::new(
        r#"
local raw = redis.pcall('GET', KEYS[1])
if raw == false then return false end
if type(raw) ~= 'string' then return 'corrupt' end
local ok, s = pcall(cmsgpack.unpack, raw)
if not ok or type(s) ~= 'table' or type(s[2]) ~= 'number' then return 'corrupt' end
local created = s[2]
local now, idle, life = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local deadline = now + idle
if life > 0 then
  if now >= created + life then redis.call('DEL', KEYS[1]) return false end
  deadline = math.min(deadline, created + life)
end
redis.call('PEXPIREAT', KEYS[1], deadline)
return {tostring(deadline), raw}
"#,
    )
}

/// Save. KEYS[1] session, KEYS[2] (optional) a session to destroy in the same call.
/// ARGV: mode, now, idle, lifetime, then
/// - `new`: created, the whole encoded session. Refuses (0) when the key exists.
/// - `update`: cleared (`1`/`0`), the number R of removed keys, R keys, then
///   key/value pairs. Merges them into the stored session; refuses (0) when it is
///   gone (expired, destroyed, or not a session), so a destroyed session never
///   comes back.
///
/// Returns 1 when saved.
pub(crate) fn save() -> Script {
    Script::new(
        r#"
local key = KEYS[1]
local mode = ARGV[1]
local now, idle, life = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local created, packed
if mode == 'new' then
  if redis.call('EXISTS', key) == 1 then return 0 end
  created = tonumber(ARGV[5])
  packed = ARGV[6]
else
  local raw = redis.pcall('GET', key)
  if type(raw) ~= 'string' then return 0 end
  local ok, s = pcall(cmsgpack.unpack, raw)
  if not ok or type(s) ~= 'table' or s[1] ~= 1 or type(s[2]) ~= 'number' then return 0 end
  created = s[2]
  if life > 0 and now >= created + life then redis.call('DEL', key) return 0 end
  local m = s[3]
  if type(m) ~= 'table' or ARGV[5] == '1' then m = {} end
  local removed = tonumber(ARGV[6])
  local i = 7
  for _ = 1, removed do m[ARGV[i]] = nil; i = i + 1 end
  while i < #ARGV do m[ARGV[i]] = ARGV[i + 1]; i = i + 2 end
  s[3] = m
  packed = cmsgpack.pack(s)
end
local deadline = now + idle
if life > 0 then deadline = math.min(deadline, created + life) end
redis.call('SET', key, packed, 'PXAT', deadline)
if KEYS[2] then redis.call('DEL', KEYS[2]) end
return 1
"#,
    )
}
