//! The user index: a hash per user, `{namespace}:user:{digest of the user id}`, from
//! each device id to the digest of that device's session key.
//!
//! The index and the sessions it names may live on different nodes of a cluster, so
//! no command spans both: a sign-in sets one field, a sign-out deletes one, and
//! listing checks each named session (its creation time from the stored header, its
//! last refresh from the TTL), dropping the fields of sessions that are gone. A
//! request that neither signs in or out nor regenerates a signed-in session never
//! touches the index. A user's hash holds at most
//! [`MAX_SESSIONS_PER_USER`](session_core::users::MAX_SESSIONS_PER_USER) fields: a
//! sign-in past that ends the user's oldest sessions.

use futures_util::future::join_all;
use session_core::users::{user_digest, MAX_SESSIONS_PER_USER};
use session_core::{Device, UserIndex};

use super::*;

/// A device's entry in a user's hash: the device id and its session's key.
struct Entry<'a> {
    device: String,
    key: RedisKey<'a>,
}

/// What a listed session looks like in Redis.
struct Found {
    created_ms: u64,
    ttl_ms: u64,
}

impl RedisStore {
    /// The key of `user`'s hash.
    fn user_key(&self, user: &str) -> String {
        format!("{}:user:{}", self.namespace, user_digest(user))
    }

    /// Every field of the hash at `key`, with its text value (non-text skipped).
    pub(super) async fn hash_fields(
        &self,
        key: &str,
    ) -> Result<Vec<(String, String)>, session_core::Error> {
        let mut cmd = Cmd::new();
        cmd.arg("HGETALL").arg(key);
        let fields = match self.query(&cmd).await? {
            Value::Array(items) => items,
            Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        };
        let text = |value: &Value| match value {
            Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
            _ => None,
        };
        Ok(fields
            .chunks_exact(2)
            .filter_map(|pair| Some((text(&pair[0])?, text(&pair[1])?)))
            .collect())
    }

    /// Sets `field` of the hash at `key` to `value`, makes the hash expire with the
    /// absolute lifetime of `expiry` (no session bound in it outlives that from now;
    /// without a lifetime it lives on and is pruned when listed), in one round trip;
    /// how many fields the hash has now.
    pub(super) async fn hash_set(
        &self,
        key: &str,
        field: &str,
        value: &str,
        expiry: &Expiry,
    ) -> Result<usize, session_core::Error> {
        let mut pipe = redis::pipe();
        pipe.cmd("HSET").arg(key).arg(field).arg(value);
        match expiry.lifetime_ms() {
            Some(lifetime) => pipe.cmd("PEXPIRE").arg(key).arg(lifetime.max(1)),
            None => pipe.cmd("PERSIST").arg(key),
        };
        pipe.cmd("HLEN").arg(key);
        let replies = self
            .call(|mut backend| {
                let pipe = &pipe;
                async move { backend.send_pipe(pipe).await }
            })
            .await?;
        Ok(match replies {
            Value::Array(replies) => match replies.last() {
                Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(usize::MAX),
                _ => 0,
            },
            _ => 0,
        })
    }

    /// The entries of `user`'s hash (fields whose value is not a session digest are
    /// skipped).
    async fn entries(&self, user_key: &str) -> Result<Vec<Entry<'_>>, session_core::Error> {
        Ok(self
            .hash_fields(user_key)
            .await?
            .into_iter()
            .filter_map(|(device, digest)| {
                let key = RedisKey::from_digest(&self.namespace, &digest)?;
                Some(Entry { device, key })
            })
            .collect())
    }

    /// The session under `key`, if it exists: its creation time and remaining TTL,
    /// in one round trip.
    async fn probe(&self, key: RedisKey<'_>) -> Result<Option<Found>, session_core::Error> {
        let mut pipe = redis::pipe();
        pipe.cmd("GETRANGE").arg(key).arg(0).arg(format::HEADER - 1);
        pipe.cmd("PTTL").arg(key);
        let replies = self
            .call(|mut backend| {
                let pipe = &pipe;
                async move { backend.send_pipe(pipe).await }
            })
            .await?;
        let Value::Array(replies) = replies else {
            return Ok(None);
        };
        match (replies.first(), replies.get(1)) {
            (Some(Value::BulkString(head)), Some(Value::Int(ttl)))
                if *ttl > 0 && format::is_session(head) =>
            {
                let mut created = [0u8; 8];
                created.copy_from_slice(&head[format::HEADER - 8..format::HEADER]);
                Ok(Some(Found {
                    created_ms: u64::from_be_bytes(created),
                    ttl_ms: u64::try_from(*ttl).unwrap_or(0),
                }))
            }
            _ => Ok(None),
        }
    }

    /// Removes `devices` from the hash at `user_key`.
    async fn forget(&self, user_key: &str, devices: &[&str]) -> Result<(), session_core::Error> {
        if devices.is_empty() {
            return Ok(());
        }
        let mut cmd = Cmd::new();
        cmd.arg("HDEL").arg(user_key).arg(devices);
        self.query(&cmd).await.map(drop)
    }

    /// Destroys the session under `key`; true when it existed.
    async fn end(&self, key: RedisKey<'_>) -> Result<bool, session_core::Error> {
        let mut cmd = Cmd::with_capacity(2, key.len() + 3);
        cmd.arg("DEL").arg(key);
        self.changing(key);
        let deleted = self.query(&cmd).await;
        self.changing(key);
        Ok(matches!(deleted?, Value::Int(n) if n > 0))
    }

    /// `user`'s live sessions under `expiry`, oldest first, with their keys; the
    /// fields of sessions that are gone or past their lifetime are removed.
    async fn live(
        &self,
        user: &str,
        expiry: &Expiry,
    ) -> Result<Vec<(Device, RedisKey<'_>)>, session_core::Error> {
        let user_key = self.user_key(user);
        let entries = self.entries(&user_key).await?;
        let probes = join_all(entries.iter().map(|entry| self.probe(entry.key))).await;
        let now = now_ms();
        let idle = expiry.idle_ms();
        let mut live = Vec::with_capacity(entries.len());
        let mut dead = Vec::new();
        for (entry, probe) in entries.iter().zip(probes) {
            match probe? {
                Some(found)
                    if expiry.is_live(found.created_ms, now.saturating_add(found.ttl_ms), now) =>
                {
                    // The deadline was set one idle timeout after the last refresh.
                    let refreshed = now.saturating_add(found.ttl_ms).saturating_sub(idle);
                    live.push((
                        Device {
                            id: entry.device.clone(),
                            current: false,
                            created_ms: found.created_ms,
                            last_seen_ms: refreshed.max(found.created_ms),
                        },
                        entry.key,
                    ));
                }
                _ => dead.push(entry.device.as_str()),
            }
        }
        self.forget(&user_key, &dead).await?;
        live.sort_by(|(a, _), (b, _)| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(live)
    }
}

#[async_trait]
impl UserIndex for RedisStore {
    async fn bind(
        &self,
        user: &str,
        device: &str,
        token: &str,
        _created_ms: u64,
        expiry: &Expiry,
    ) -> Result<(), session_core::Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(());
        };
        let user_key = self.user_key(user);
        let digest = self.redis_key(&id);
        let fields = self
            .hash_set(&user_key, device, digest.digest(), expiry)
            .await?;
        if fields > MAX_SESSIONS_PER_USER {
            // Past the bound: the gone are dropped, then the oldest ended.
            let live = self.live(user, expiry).await?;
            let excess = live.len().saturating_sub(MAX_SESSIONS_PER_USER);
            let oldest: Vec<_> = live
                .iter()
                .filter(|(d, _)| d.id != device)
                .take(excess)
                .collect();
            for (_, key) in &oldest {
                self.end(*key).await?;
            }
            let devices: Vec<&str> = oldest.iter().map(|(d, _)| d.id.as_str()).collect();
            self.forget(&user_key, &devices).await?;
        }
        Ok(())
    }

    async fn unbind(&self, user: &str, device: &str) -> Result<(), session_core::Error> {
        self.forget(&self.user_key(user), &[device]).await
    }

    async fn list(&self, user: &str, expiry: &Expiry) -> Result<Vec<Device>, session_core::Error> {
        Ok(self
            .live(user, expiry)
            .await?
            .into_iter()
            .map(|(device, _)| device)
            .collect())
    }

    async fn revoke(&self, user: &str, device: &str) -> Result<bool, session_core::Error> {
        let user_key = self.user_key(user);
        let mut cmd = Cmd::new();
        cmd.arg("HGET").arg(&user_key).arg(device);
        let digest = match self.query(&cmd).await? {
            Value::BulkString(bytes) => String::from_utf8(bytes).unwrap_or_default(),
            _ => return Ok(false),
        };
        let ended = match RedisKey::from_digest(&self.namespace, &digest) {
            Some(key) => self.end(key).await?,
            None => false,
        };
        self.forget(&user_key, &[device]).await?;
        Ok(ended)
    }

    async fn revoke_others(
        &self,
        user: &str,
        keep: Option<&str>,
    ) -> Result<u64, session_core::Error> {
        let user_key = self.user_key(user);
        let entries = self.entries(&user_key).await?;
        let others: Vec<&Entry<'_>> = entries
            .iter()
            .filter(|e| Some(e.device.as_str()) != keep)
            .collect();
        let ended = join_all(others.iter().map(|e| self.end(e.key))).await;
        let mut count = 0;
        for ended in ended {
            count += u64::from(ended?);
        }
        let devices: Vec<&str> = others.iter().map(|e| e.device.as_str()).collect();
        self.forget(&user_key, &devices).await?;
        Ok(count)
    }
}
