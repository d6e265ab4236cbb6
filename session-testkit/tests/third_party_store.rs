//! A store written the way a third party would: only public APIs of `session-core`
//! and `session-testkit`, the plain level of the contract (whole records), records
//! kept as JSON text in a `HashMap` behind a mutex, keyed by the id's digest.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use session_core::{now_ms, Error, Expiry, Record, SessionId, SessionStore};

#[derive(Default)]
struct JsonMapStore(Mutex<HashMap<String, String>>);

impl JsonMapStore {
    fn map(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn key(token: &str) -> Option<String> {
    SessionId::parse(token).map(|id| id.storage_key().as_str().to_owned())
}

fn json(record: &Record) -> Result<String, Error> {
    serde_json::to_string(record).map_err(|e| Error::config("record", e.to_string()))
}

#[async_trait]
impl SessionStore for JsonMapStore {
    async fn load(&self, token: &str, _: &Expiry) -> Result<Option<Record>, Error> {
        let Some(text) = key(token).and_then(|k| self.map().get(&k).cloned()) else {
            return Ok(None);
        };
        let record: Option<Record> = serde_json::from_str(&text).ok();
        Ok(record.filter(|r| r.expires_ms > now_ms()))
    }

    async fn create(&self, record: &Record) -> Result<String, Error> {
        let id = SessionId::generate()?;
        let key = id.storage_key().as_str().to_owned();
        self.map().insert(key, json(record)?);
        Ok(id.to_string())
    }

    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
        let text = json(record)?;
        let mut map = self.map();
        match key(token).and_then(|k| map.get_mut(&k)) {
            Some(stored) => *stored = text,
            None => return Ok(None),
        }
        Ok(Some(token.to_owned()))
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        key(token).map(|k| self.map().remove(&k));
        Ok(())
    }
}

session_testkit::conformance_tests!(|| async { JsonMapStore::default() });
