//! [`MemoryStore`]: sessions in this process's memory.
//!
//! For tests and single-process development: sessions vanish on restart and are not
//! shared between processes. Expired sessions are purged as the map grows, so memory
//! stays bounded by the number of live sessions.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::expiry::now_ms;
use crate::{
    Capabilities, Error, Expiry, Record, SaveRequest, SessionId, SessionStore,
    DEFAULT_MAX_SESSION_BYTES,
};

/// The size the map may reach before the first purge of expired sessions.
const FIRST_PURGE_AT: usize = 1024;

/// An in-memory, server-side store. Passes the whole conformance kit.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{Expiry, MemoryStore, Session, TokenUpdate};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), session_core::Error> {
/// let store = Arc::new(MemoryStore::new());
/// let session = Session::new(store.clone(), Expiry::default(), None);
/// session.increment("visits", 1).await?;
/// assert!(matches!(session.commit().await?, TokenUpdate::Send(_)));
/// assert_eq!(store.len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Sessions>,
    max_session_bytes: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            inner: Mutex::default(),
            max_session_bytes: DEFAULT_MAX_SESSION_BYTES,
        }
    }
}

#[derive(Debug, Default)]
struct Sessions {
    /// By storage key (the digest of the id), never by the id itself.
    map: HashMap<String, Record>,
    /// Purge expired sessions when the map reaches this size.
    purge_at: usize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Refuses sessions larger than `bytes` ([`Record::size`]; default 256 KiB) with
    /// [`Error::TooLarge`].
    pub fn with_max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// Number of sessions held, live or expired but not yet purged.
    pub fn len(&self) -> usize {
        self.sessions().map.len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired session now.
    pub fn purge_expired(&self) {
        let now = now_ms();
        self.sessions().map.retain(|_, r| r.expires_ms > now);
    }

    fn sessions(&self) -> MutexGuard<'_, Sessions> {
        // A panic elsewhere while holding the lock leaves consistent data (every
        // mutation is a single map operation), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Sessions {
    fn live(&mut self, key: &str, now: u64) -> Option<&mut Record> {
        match self.map.get(key) {
            Some(r) if r.expires_ms <= now => {
                self.map.remove(key);
                None
            }
            Some(_) => self.map.get_mut(key),
            None => None,
        }
    }

    fn purge_if_grown(&mut self, now: u64) {
        if self.map.len() >= self.purge_at.max(FIRST_PURGE_AT) {
            self.map.retain(|_, r| r.expires_ms > now);
            self.purge_at = self.map.len().saturating_mul(2);
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server().with_max_session_bytes(self.max_session_bytes)
    }

    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let now = now_ms();
        let mut sessions = self.sessions();
        let Some(record) = sessions.live(&id.storage_key(), now) else {
            return Ok(None);
        };
        record.expires_ms = expiry.deadline(record.created_ms, now);
        Ok(Some(record.clone()))
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Option<String>, Error> {
        let now = now_ms();
        let mut sessions = self.sessions();
        let id = match request.token {
            Some(token) => match SessionId::parse(token) {
                Some(id) if sessions.live(&id.storage_key(), now).is_some() => id,
                _ => return Ok(None),
            },
            None => loop {
                let id = SessionId::generate()?;
                if !sessions.map.contains_key(id.storage_key().as_str()) {
                    break id;
                }
            },
        };
        let key = id.storage_key();
        let old_key = request
            .replaces
            .and_then(SessionId::parse)
            .map(|old| old.storage_key());
        let replaced = old_key.and_then(|old| sessions.live(&old, now).map(|r| r.clone()));
        let mut stored = match (replaced, request.carries_over()) {
            // Everything stored under the old id up to now comes along.
            (Some(old), true) => request.carry_over(old, now),
            _ => {
                let mut stored = sessions.map.get(key.as_str()).cloned().unwrap_or_default();
                request.apply_to(&mut stored, now);
                stored
            }
        };
        let (size, limit) = (stored.size(), self.max_session_bytes);
        if size > limit {
            return Err(Error::TooLarge { size, limit });
        }
        if let Some(old) = old_key {
            sessions.map.remove(old.as_str());
        }
        if stored.is_empty() && request.token.is_some() {
            // A merge that left the session empty removes it.
            sessions.map.remove(key.as_str());
            return Ok(None);
        }
        stored.revision = None;
        sessions.purge_if_grown(now);
        sessions.map.insert(key.into(), stored);
        Ok(Some(id.to_string()))
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        if let Some(id) = SessionId::parse(token) {
            self.sessions().map.remove(id.storage_key().as_str());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn expired_sessions_are_purged_as_the_map_grows() -> Result<(), Error> {
        let store = MemoryStore::new();
        let expiry = Expiry::new(Duration::from_millis(1));
        let mut dead = Record::new(0, 1);
        dead.entries
            .insert("k".into(), crate::StoredValue::persistent("1"));
        for _ in 0..FIRST_PURGE_AT {
            store.save(SaveRequest::create(&dead, &expiry)).await?;
        }
        assert_eq!(store.len(), FIRST_PURGE_AT);
        // The next save finds the map full of expired sessions and purges them.
        store.save(SaveRequest::create(&dead, &expiry)).await?;
        assert_eq!(store.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn storage_keys_are_digests_not_tokens() -> Result<(), Error> {
        let store = MemoryStore::new();
        let expiry = Expiry::default();
        let record = Record::new(now_ms(), u64::MAX);
        let token = store.save(SaveRequest::create(&record, &expiry)).await?;
        let token = token.ok_or_else(|| Error::config("test", "no token"))?;
        let sessions = store.sessions();
        assert!(sessions.map.keys().all(|k| !k.contains(&token)));
        Ok(())
    }
}
