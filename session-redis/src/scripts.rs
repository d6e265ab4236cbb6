//! The Lua scripts, for the store calls that need a decision inside Redis; each is
//! one round trip and atomic. Sessions are stored in the format of
//! [`format`](crate::format): a 13-byte header the scripts read with string functions,
//! then MessagePack they never unpack. The common save (a request that loaded the
//! session appends its change) is [`append`]: an `APPEND` with the size check in the
//! same atomic step, so concurrent writers can never pass the cap together.

use redis::Script;

/// Lua shared by the scripts: the creation time from a stored value's header, or nil
/// when the value is not a session of format 3.
const CREATED_OF: &str = r#"
local function created_of(raw)
  if type(raw) ~= 'string' or #raw < 13 or string.byte(raw, 1) ~= 3 then return nil end
  local n = 0
  for i = 6, 13 do n = n * 256 + string.byte(raw, i) end
  return n
end
"#;

fn with_helpers(body: &str) -> Script {
    let body = body.replace("COMPACT_FROM", &COMPACT_FROM.to_string());
    Script::new(&format!("{CREATED_OF}{body}"))
}

/// A save that did not load hands the value back for compaction when the value
/// grows past this size, or past a power of two of it.
pub(crate) const COMPACT_FROM: usize = 4096;

/// Save, when a plain `APPEND` will not do. KEYS[1] session, KEYS[2] (optional) a
/// session to destroy in the same call. ARGV[1] is the mode:
///
/// - `new`: ARGV[2] the whole encoded session, ARGV[3] its deadline (unix ms),
///   ARGV[4] this request's change, to carry the session of KEYS[2] over (empty for
///   none), ARGV[5] the size cap. Refuses (0) when the key exists, so a new id never
///   overwrites a session. With a change to carry over, the new session is the
///   replaced one as stored now followed by the change, so writes that raced the
///   `regenerate` are kept (if that would pass the cap, ARGV[2] is stored instead).
/// - `update`: ARGV[2] the head (version + revision) the request loaded, or empty;
///   ARGV[3] the stored length it loaded; ARGV[4] the whole session as the request
///   leaves it, ARGV[5] its deadline; then now, idle, lifetime, this request's
///   change, the size cap, and flags. While the stored head is still the loaded one
///   (no other request wrote the session whole since), the script compacts: it
///   writes the whole session, then the changes other requests appended since the
///   load (the bytes past the loaded length), then this request's change again, so
///   this request, which saves last, wins the keys both changed. When the head moved
///   on (or the request did not load), the change is appended and the deadline
///   refreshed, unless flag `s` (strict) is given: then nothing is written (4).
///   Refuses (0) when the session is gone (expired, destroyed, or not a session),
///   so a destroyed session never comes back.
///
/// Returns 1 when saved; 0 when the session is gone; `-size` when the result would
/// pass the cap (nothing written); 4 (strict only) when the head moved on;
/// `{2, value}` when the change was appended and the client should look at the
/// value (flag `v`, or the value grew past a power of two from [`COMPACT_FROM`]:
/// time to compact); `{3, value}` when appending would pass the cap (nothing written: the
/// client compacts and retries).
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
  local value = ARGV[2]
  if KEYS[2] and ARGV[4] ~= '' then
    local old = redis.pcall('GET', KEYS[2])
    if created_of(old) ~= nil and #old + #ARGV[4] <= tonumber(ARGV[5]) then
      value = old .. ARGV[4]
    end
  end
  redis.call('SET', key, value, 'PXAT', ARGV[3])
  return saved()
end
local limit = tonumber(ARGV[10])
local flags = ARGV[11]
if ARGV[2] ~= '' and redis.pcall('GETRANGE', key, 0, 4) == ARGV[2] then
  local since = redis.call('GETRANGE', key, ARGV[3], -1)
  local size = #ARGV[4] + #since + #ARGV[9]
  if size > limit then return -size end
  redis.call('SET', key, ARGV[4] .. since .. ARGV[9], 'PXAT', ARGV[5])
  return saved()
end
if string.find(flags, 's', 1, true) then return 4 end
local created = created_of(redis.pcall('GETRANGE', key, 0, 12))
if created == nil then return 0 end
local now, idle, life = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
if life > 0 and now >= created + life then redis.call('DEL', key) return 0 end
local deadline = now + idle
if life > 0 then deadline = math.min(deadline, created + life) end
local before = redis.call('STRLEN', key)
if before + #ARGV[9] > limit then return {3, redis.call('GET', key)} end
local after = redis.call('APPEND', key, ARGV[9])
redis.call('PEXPIREAT', key, deadline)
local function bucket(n)
  local b, t = 0, COMPACT_FROM
  while n >= t do b, t = b + 1, t * 2 end
  return b
end
if string.find(flags, 'v', 1, true) or bucket(after) ~= bucket(before) then
  return {2, redis.call('GET', key)}
end
return saved()
"#,
    )
}

/// The common save: appends a change to a session, if the session is there and the
/// result stays within the cap; the check and the write are one atomic step, so no
/// number of concurrent writers, each under the cap, can pass it together.
/// KEYS[1] session; ARGV[1] the change; ARGV[2] the size cap.
///
/// Returns the new length when appended; 0 when there is no session (nothing is
/// written); -1 when the result would pass the cap (nothing is written: the client
/// compacts, or refuses); -2 when the key holds another type.
pub(crate) fn append() -> Script {
    Script::new(
        r#"
local len = redis.pcall('STRLEN', KEYS[1])
if type(len) ~= 'number' then return -2 end
if len == 0 then return 0 end
if len + #ARGV[1] > tonumber(ARGV[2]) then return -1 end
return redis.call('APPEND', KEYS[1], ARGV[1])
"#,
    )
}

/// Removes a session that a save left empty, unless it changed since the value was
/// read. KEYS[1] session; ARGV[1] the head (version + revision) read, ARGV[2] the
/// length read. Returns 1 when removed.
pub(crate) fn drop() -> Script {
    Script::new(
        r#"
if redis.pcall('GETRANGE', KEYS[1], 0, 4) == ARGV[1] and redis.call('STRLEN', KEYS[1]) == tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#,
    )
}
