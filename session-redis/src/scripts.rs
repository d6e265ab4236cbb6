//! The Lua scripts, for the store calls that need a decision inside Redis; each is
//! one round trip and atomic. Sessions are stored in the format of
//! [`format`](crate::format): a 17-byte header the scripts read with string functions,
//! then a MessagePack map that only a merge unpacks (with Redis's `cmsgpack`).

use redis::Script;

/// Lua shared by the scripts: the creation time from a stored value's header, or nil
/// when the value is not a session of format 2.
const CREATED_OF: &str = r#"
local function created_of(raw)
  if type(raw) ~= 'string' or #raw < 17 or string.byte(raw, 1) ~= 2 then return nil end
  local n = 0
  for i = 10, 17 do n = n * 256 + string.byte(raw, i) end
  return n
end
"#;

fn with_helpers(body: &str) -> Script {
    Script::new(&format!("{CREATED_OF}{body}"))
}

/// Load and refresh, for sessions with an absolute lifetime (without one, a load is
/// a single `GETEX ... PX idle`). KEYS[1] session; ARGV: now, idle, lifetime.
/// Returns nil (no session), the string `corrupt`, or [deadline, stored bytes].
pub(crate) fn load() -> Script {
    with_helpers(
        r#"
local raw = redis.pcall('GET', KEYS[1])
if raw == false then return false end
local created = created_of(raw)
if created == nil then return 'corrupt' end
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
/// ARGV[1] is the mode:
///
/// - `new`: ARGV[2] the whole encoded session, ARGV[3] its deadline (unix ms).
///   Refuses (0) when the key exists, so a new id never overwrites a session.
/// - `update`: ARGV[2] the head (version + revision) the request loaded, or empty;
///   ARGV[3] the whole session to write if the stored head is still that one, ARGV[4]
///   its deadline; then now, idle, lifetime, the new head, cleared (`1`/`0`), the
///   number R of removed keys, R keys, and key/value pairs. When the stored head
///   differs (another request saved meanwhile, or the request did not load), the
///   removals and pairs are merged into the stored session instead. Refuses (0) when
///   the session is gone (expired, destroyed, or not a session), so a destroyed
///   session never comes back.
///
/// Returns 1 when saved.
pub(crate) fn save() -> Script {
    with_helpers(
        r#"
local key = KEYS[1]
local function saved()
  if KEYS[2] then redis.call('DEL', KEYS[2]) end
  return 1
end
if ARGV[1] == 'new' then
  if redis.call('EXISTS', key) == 1 then return 0 end
  redis.call('SET', key, ARGV[2], 'PXAT', ARGV[3])
  return saved()
end
if ARGV[2] ~= '' and redis.pcall('GETRANGE', key, 0, 8) == ARGV[2] then
  redis.call('SET', key, ARGV[3], 'PXAT', ARGV[4])
  return saved()
end
local raw = redis.pcall('GET', key)
local created = created_of(raw)
if created == nil then return 0 end
local now, idle, life = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if life > 0 and now >= created + life then redis.call('DEL', key) return 0 end
local m = {}
if ARGV[9] ~= '1' then
  local ok, stored = pcall(cmsgpack.unpack, string.sub(raw, 18))
  if not ok or type(stored) ~= 'table' then return 0 end
  m = stored
end
local i = 11
for _ = 1, tonumber(ARGV[10]) do m[ARGV[i]] = nil; i = i + 1 end
while i < #ARGV do m[ARGV[i]] = ARGV[i + 1]; i = i + 2 end
local deadline = now + idle
if life > 0 then deadline = math.min(deadline, created + life) end
redis.call('SET', key, ARGV[8] .. string.sub(raw, 10, 17) .. cmsgpack.pack(m), 'PXAT', deadline)
return saved()
"#,
    )
}
