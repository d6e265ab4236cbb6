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
    Change, Error, Expiry, MergeStore, Record, Seen, SessionId, SessionStore,
    DEFAULT_MAX_SESSION_BYTES,
};

/// The size the map may reach before the first purge of expired sessions.
mod users;

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

    /// Refuses sessions larger than `bytes` of keys and JSON values (default 256 KiB) with
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

impl MemoryStore {
    /// `TooLarge` for a record past the cap.
    fn within_cap(&self, record: &Record) -> Result<(), Error> {
        let (size, limit) = (record.size(), self.max_session_bytes);
        if size > limit {
            return Err(Error::TooLarge { size, limit });
        }
        Ok(())
    }

    /// Stores `record` under a fresh id.
    fn insert_new(&self, sessions: &mut Sessions, record: Record) -> Result<String, Error> {
        self.within_cap(&record)?;
        let now = now_ms();
        let id = loop {
            let id = SessionId::generate()?;
            if !sessions.map.contains_key(id.storage_key().as_str()) {
                break id;
            }
        };
        sessions.purge_if_grown(now);
        sessions.map.insert(id.storage_key(), record);
        Ok(id.to_string())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let now = now_ms();
        let mut sessions = self.sessions();
        let Some(record) = sessions.live(&id.storage_key(), now) else {
            return Ok(None);
        };
        // The load refreshes the idle deadline, and says from where.
        let previous = record.expires_ms;
        record.expires_ms = expiry.deadline(record.created_ms, now);
        let mut loaded = record.clone();
        loaded.set_moved_from(previous);
        Ok(Some(loaded))
    }

    async fn create(&self, record: &Record) -> Result<String, Error> {
        self.insert_new(&mut self.sessions(), record.clone())
    }

    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
        self.within_cap(record)?;
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let mut sessions = self.sessions();
        let Some(stored) = sessions.live(&id.storage_key(), now_ms()) else {
            return Ok(None);
        };
        *stored = record.clone();
        Ok(Some(token.to_owned()))
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        if let Some(id) = SessionId::parse(token) {
            self.sessions().map.remove(id.storage_key().as_str());
        }
        Ok(())
    }

    fn max_session_bytes(&self) -> usize {
        self.max_session_bytes
    }

    fn merging(&self) -> Option<&dyn MergeStore> {
        Some(self)
    }

    fn users(&self) -> Result<&dyn crate::UserIndex, Error> {
        Ok(self)
    }
}

#[async_trait]
impl MergeStore for MemoryStore {
    async fn load_marked(
        &self,
        token: &str,
        expiry: &Expiry,
    ) -> Result<Option<(Record, u64)>, Error> {
        Ok(self.load(token, expiry).await?.map(|record| (record, 0)))
    }

    async fn merge(
        &self,
        token: &str,
        change: &Change<'_>,
        _seen: Option<Seen<'_>>,
        expiry: &Expiry,
    ) -> Result<bool, Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(false);
        };
        let key = id.storage_key();
        let now = now_ms();
        let mut sessions = self.sessions();
        let Some(stored) = sessions.live(&key, now) else {
            return Ok(false);
        };
        let mut merged = stored.clone();
        change.apply_to(&mut merged);
        self.within_cap(&merged)?;
        if merged.is_empty() {
            sessions.map.remove(key.as_str());
            return Ok(false);
        }
        merged.expires_ms = expiry.deadline(merged.created_ms, now);
        *stored = merged;
        Ok(true)
    }

    async fn renew(
        &self,
        old: &str,
        change: &Change<'_>,
        record: &Record,
        expiry: &Expiry,
    ) -> Result<String, Error> {
        let now = now_ms();
        let mut sessions = self.sessions();
        let old_key = SessionId::parse(old).map(|id| id.storage_key());
        let replaced = old_key
            .as_ref()
            .and_then(|key| sessions.live(key, now))
            .filter(|_| !change.flush)
            .map(|stored| {
                let mut carried = stored.clone();
                change.apply_to(&mut carried);
                carried.expires_ms = expiry.deadline(carried.created_ms, now);
                carried
            });
        let token = self.insert_new(&mut sessions, replaced.unwrap_or_else(|| record.clone()))?;
        if let Some(key) = old_key {
            sessions.map.remove(key.as_str());
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_sessions_are_purged_as_the_map_grows() -> Result<(), Error> {
        let store = MemoryStore::new();
        let mut dead = Record::new(0, 1);
        dead.insert("k", crate::StoredValue::persistent("1"));
        for _ in 0..FIRST_PURGE_AT {
            store.create(&dead).await?;
        }
        assert_eq!(store.len(), FIRST_PURGE_AT);
        // The next save finds the map full of expired sessions and purges them.
        store.create(&dead).await?;
        assert_eq!(store.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn storage_keys_are_digests_not_tokens() -> Result<(), Error> {
        let store = MemoryStore::new();
        let record = Record::new(now_ms(), u64::MAX);
        let token = store.create(&record).await?;
        let sessions = store.sessions();
        assert!(sessions.map.keys().all(|k| !k.contains(&token)));
        Ok(())
    }
}
