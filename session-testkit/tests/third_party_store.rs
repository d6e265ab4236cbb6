//! A store written the way a third party would: only public APIs of `session-core`
//! and `session-testkit`, a `HashMap` behind a mutex, whole-record saves (it declares
//! that it does not merge writes, so the kit drives the load-then-save path).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use session_core::{
    now_ms, Capabilities, Error, Expiry, Record, SaveRequest, SessionId, SessionStore,
};

#[derive(Default)]
struct HashMapStore {
    sessions: Mutex<HashMap<String, Record>>,
}

impl HashMapStore {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for HashMapStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server()
            .with_merges_writes(false)
            .with_shares_state(false)
    }

    async fn load(&self, token: &str, expiry: &Expiry) -> Result<Option<Record>, Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let now = now_ms();
        let mut sessions = self.sessions();
        match sessions.get_mut(id.storage_key().as_str()) {
            Some(record) if record.expires_ms > now => {
                record.expires_ms = expiry.deadline(record.created_ms, now);
                Ok(Some(record.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn save(&self, request: SaveRequest<'_>) -> Result<Option<String>, Error> {
        let mut sessions = self.sessions();
        if let Some(old) = request.replaces.and_then(SessionId::parse) {
            sessions.remove(old.storage_key().as_str());
        }
        let id = match request.token {
            None => SessionId::generate()?,
            Some(token) => match SessionId::parse(token) {
                Some(id) if sessions.contains_key(id.storage_key().as_str()) => id,
                _ => return Ok(None),
            },
        };
        sessions.insert(id.storage_key().into(), request.record.clone());
        Ok(Some(id.to_string()))
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        if let Some(id) = SessionId::parse(token) {
            self.sessions().remove(id.storage_key().as_str());
        }
        Ok(())
    }
}

session_testkit::conformance_tests!(|| async { HashMapStore::default() });
