//! [`RedisKey`]: a session's key in Redis, written straight into a command.

use super::*;

/// A session's Redis key, `{namespace}:{digest of the id}`, written straight into a
/// command (it needs no string of its own); `Display` gives it for logs.
#[derive(Clone, Copy)]
pub(super) struct RedisKey<'a> {
    pub(super) namespace: &'a str,
    /// The id's storage key: 64 hex digits, kept on the stack so the key is `Copy`.
    pub(super) digest: [u8; DIGEST_LEN],
}

/// The length of [`SessionId::storage_key`].
pub(super) const DIGEST_LEN: usize = 64;

impl<'a> RedisKey<'a> {
    pub(super) fn new(namespace: &'a str, id: &SessionId) -> Self {
        let mut digest = [b'0'; DIGEST_LEN];
        for (to, from) in digest.iter_mut().zip(id.storage_key().bytes()) {
            *to = from;
        }
        RedisKey { namespace, digest }
    }

    /// The key of the session whose storage digest is `digest` (as an index holds
    /// it); `None` unless it is 64 lowercase hex digits.
    pub(super) fn from_digest(namespace: &'a str, digest: &str) -> Option<Self> {
        let bytes: [u8; DIGEST_LEN] = digest.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(RedisKey {
                namespace,
                digest: bytes,
            })
    }

    /// The digest as text (hex digits, so always UTF-8).
    pub(super) fn digest(&self) -> &str {
        std::str::from_utf8(&self.digest).unwrap_or_default()
    }

    /// Its length in bytes.
    pub(super) fn len(&self) -> usize {
        self.namespace.len() + 1 + DIGEST_LEN
    }

    /// The key's bytes, as Redis names it in an invalidation.
    pub(super) fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(self.namespace.as_bytes());
        out.push(b':');
        out.extend_from_slice(&self.digest);
        out
    }
}

impl ToRedisArgs for RedisKey<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // The writer appends to the command's buffer; it has no error to give.
        let _ = arg.write_all(self.namespace.as_bytes());
        let _ = arg.write_all(b":");
        let _ = arg.write_all(&self.digest);
    }
}

impl std::fmt::Display for RedisKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.namespace, self.digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_into_a_command_is_the_key_shown_in_logs() -> Result<(), session_core::Error> {
        let id = SessionId::generate()?;
        let key = RedisKey::new("app", &id);
        assert!(key.to_string().ends_with(&id.storage_key()));
        let text = key.to_string();
        assert_eq!(text.len(), key.len());
        assert!(text.starts_with("app:"));
        assert_eq!(key.to_redis_args(), [text.into_bytes()]);
        let mut cmd = Cmd::new();
        cmd.arg("GET").arg(key);
        let packed = String::from_utf8_lossy(&cmd.get_packed_command()).into_owned();
        assert_eq!(packed, format!("*2\r\n$3\r\nGET\r\n$68\r\n{key}\r\n"));
        Ok(())
    }
}

/// The cluster slot of `key`: CRC16 (XMODEM) of its hash tag (the text between
/// the first `{` and the next `}`, when not empty) or of the whole key, modulo
/// 16384, as Redis Cluster computes it.
pub(super) fn slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % 16384
}

#[cfg(test)]
mod slot_tests {
    use super::slot;

    #[test]
    fn slots_are_those_redis_computes() {
        // CLUSTER KEYSLOT answers, from the Redis documentation and a live server.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"somekey"), 11058);
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        assert_eq!(slot(b"foo{}{bar}"), slot(b"foo{}{bar}"));
        assert_eq!(slot(b"foo{}{bar}"), 8363);
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
        assert_eq!(slot(b"{bar"), 4015);
    }
}
