//! [`RedisRegistry`]: the registry of signed-in cookie sessions, in Redis.

use session_core::users::{user_digest, RecentAnswers, MAX_SESSIONS_PER_USER};
use session_core::{Device, Registry, UserIndex};

use super::*;

/// The registry of signed-in cookie sessions, in Redis: a hash per user,
/// `{namespace}:registry:{digest of the user id}`, from each device id to when its
/// session was created and last seen. It gives the cookie store sign-out and
/// revocation that stick, and the list of a user's sessions (see
/// `CookieStore::with_registry`).
///
/// - Only signed-in sessions touch it: a sign-in writes one field, a sign-out or a
///   revocation deletes one, and a request of a signed-in session checks its field,
///   answered from this process's memory for [`ANSWER_MS`](session_core::users::ANSWER_MS) (500 ms) after Redis said
///   yes (so a revocation through another app server holds within that). A session
///   last seen more than a hundredth of the idle timeout ago is marked seen again.
/// - Bounded: at most [`MAX_SESSIONS_PER_USER`] sessions a user (a sign-in past it
///   ends the oldest), the hash expires with the absolute lifetime, and the answers
///   kept in memory within [`ANSWER_BYTES`](session_core::users::ANSWER_BYTES) (1 MiB).
///
/// ```no_run
/// use std::sync::Arc;
/// use session_cookie::{CookieStore, Key, Keyring};
/// use session_redis::{RedisRegistry, RedisSettings, RedisStore};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = RedisStore::connect(&RedisSettings::default().with_near_cache(false)).await?;
/// let store = CookieStore::new(Keyring::new(Key::generate()?, []))
///     .with_registry(Arc::new(RedisRegistry::new(redis)));
/// # Ok(()) }
/// ```
pub struct RedisRegistry {
    redis: RedisStore,
    /// Redis' recent yes answers.
    answers: RecentAnswers,
}

impl std::fmt::Debug for RedisRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRegistry")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

/// A registered session: when it was created and last seen (unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    created_ms: u64,
    last_seen_ms: u64,
}

impl Seen {
    fn parse(text: &str) -> Option<Seen> {
        let (created, last) = text.split_once(':')?;
        Some(Seen {
            created_ms: created.parse().ok()?,
            last_seen_ms: last.parse().ok()?,
        })
    }

    fn text(self) -> String {
        format!("{}:{}", self.created_ms, self.last_seen_ms)
    }

    /// Live at `now` under `expiry`: seen within the idle timeout, and within the
    /// lifetime of its creation.
    fn is_live(self, expiry: &Expiry, now: u64) -> bool {
        let idle_deadline = self.last_seen_ms.saturating_add(expiry.idle_ms());
        expiry.is_live(self.created_ms, idle_deadline, now)
    }
}

impl RedisRegistry {
    /// The registry in the Redis `redis` talks to, under its namespace (the
    /// near-cache of `redis`, if on, is not used).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use session_redis::{RedisRegistry, RedisSettings, RedisStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let redis = RedisStore::connect(&RedisSettings::default()).await?;
    /// let registry = RedisRegistry::new(redis);
    /// # Ok(()) }
    /// ```
    pub fn new(redis: RedisStore) -> Self {
        RedisRegistry {
            redis,
            answers: RecentAnswers::default(),
        }
    }

    /// How many signed-in requests were answered from this process's memory, and
    /// how many asked the registry, so far.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(registry: session_redis::RedisRegistry) {
    /// let (from_memory, asked) = registry.answer_stats();
    /// # }
    /// ```
    pub fn answer_stats(&self) -> (u64, u64) {
        self.answers.stats()
    }

    fn key(&self, user: &str) -> String {
        format!("{}:registry:{}", self.redis.namespace, user_digest(user))
    }

    /// Every field of `user`'s hash.
    async fn entries(&self, key: &str) -> Result<Vec<(String, Seen)>, session_core::Error> {
        Ok(self
            .redis
            .hash_fields(key)
            .await?
            .into_iter()
            .filter_map(|(device, seen)| Some((device, Seen::parse(&seen)?)))
            .collect())
    }

    /// Deletes `devices` from `user`'s hash; how many were there.
    async fn remove(&self, user: &str, devices: &[&str]) -> Result<u64, session_core::Error> {
        self.answers.forget(user, devices);
        if devices.is_empty() {
            return Ok(0);
        }
        let mut cmd = Cmd::new();
        cmd.arg("HDEL").arg(self.key(user)).arg(devices);
        match self.redis.query(&cmd).await? {
            Value::Int(n) => Ok(u64::try_from(n).unwrap_or(0)),
            _ => Ok(0),
        }
    }

    /// `user`'s live sessions, oldest first; the dead are deleted.
    async fn live(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, session_core::Error> {
        let now = now_ms();
        let (live, dead): (Vec<_>, Vec<_>) = self
            .entries(&self.key(user))
            .await?
            .into_iter()
            .partition(|(_, seen)| seen.is_live(expiry, now));
        let dead: Vec<&str> = dead.iter().map(|(device, _)| device.as_str()).collect();
        self.remove(user, &dead).await?;
        let mut devices: Vec<Device> = live
            .into_iter()
            .map(|(id, seen)| Device {
                id,
                current: false,
                created_ms: seen.created_ms,
                last_seen_ms: seen.last_seen_ms,
            })
            .collect();
        devices.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(devices)
    }
}

#[async_trait]
impl Registry for RedisRegistry {
    async fn holds(
        &self,
        user: &str,
        device: &str,
        expiry: &Expiry,
    ) -> Result<bool, session_core::Error> {
        let now = now_ms();
        if self.answers.holds(user, device, now) {
            return Ok(true);
        }
        let key = self.key(user);
        let mut cmd = Cmd::new();
        cmd.arg("HGET").arg(&key).arg(device);
        let seen = match self.redis.query(&cmd).await? {
            Value::BulkString(bytes) => std::str::from_utf8(&bytes).ok().and_then(Seen::parse),
            _ => None,
        };
        let Some(seen) = seen.filter(|seen| seen.is_live(expiry, now)) else {
            self.answers.forget(user, &[device]);
            return Ok(false);
        };
        if now.saturating_sub(seen.last_seen_ms) > expiry.idle_ms() / 100 {
            // Seen again: written only when it moved by a meaningful share, and only
            // while the field is there (a revocation meanwhile wins).
            let fresh = Seen {
                last_seen_ms: now,
                ..seen
            };
            let mut cmd = Cmd::new();
            cmd.arg("EVAL")
                .arg(TOUCH)
                .arg(1)
                .arg(&key)
                .arg(device)
                .arg(fresh.text());
            if !matches!(self.redis.query(&cmd).await?, Value::Int(1)) {
                return Ok(false);
            }
        }
        self.answers.remember(user, device, now);
        Ok(true)
    }

    fn index(&self) -> &dyn UserIndex {
        self
    }
}

/// Sets a field only while it exists: `KEYS[1]` the hash, `ARGV[1]` the field,
/// `ARGV[2]` the value; 1 when set.
const TOUCH: &str = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then \
     redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";

#[async_trait]
impl UserIndex for RedisRegistry {
    async fn bind(
        &self,
        user: &str,
        device: &str,
        _token: &str,
        created_ms: u64,
        expiry: &Expiry,
    ) -> Result<(), session_core::Error> {
        let key = self.key(user);
        let seen = Seen {
            created_ms,
            last_seen_ms: now_ms(),
        };
        let fields = self
            .redis
            .hash_set(&key, device, &seen.text(), expiry)
            .await?;
        if fields > MAX_SESSIONS_PER_USER {
            let live = self.live(user, expiry).await?;
            let excess = live.len().saturating_sub(MAX_SESSIONS_PER_USER);
            let oldest: Vec<&str> = live
                .iter()
                .filter(|d| d.id != device)
                .take(excess)
                .map(|d| d.id.as_str())
                .collect();
            self.remove(user, &oldest).await?;
        }
        Ok(())
    }

    async fn unbind(&self, user: &str, device: &str) -> Result<(), session_core::Error> {
        self.remove(user, &[device]).await.map(drop)
    }

    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, session_core::Error> {
        self.live(user, expiry).await
    }

    async fn revoke(&self, user: &str, device: &str) -> Result<bool, session_core::Error> {
        Ok(self.remove(user, &[device]).await? > 0)
    }

    async fn revoke_others(
        &self,
        user: &str,
        keep: Option<&str>,
    ) -> Result<u64, session_core::Error> {
        let entries = self.entries(&self.key(user)).await?;
        let others: Vec<&str> = entries
            .iter()
            .map(|(device, _)| device.as_str())
            .filter(|device| Some(*device) != keep)
            .collect();
        self.remove(user, &others).await
    }
}
