//! A store of your own, named in `session.toml`: the plain contract (`load`, `create`,
//! `save`, `destroy`) over a map in memory, registered as the driver `"map"` with a
//! table of its own. Check a store like this one with `session-testkit`:
//! `session_testkit::conformance_tests!(|| async { MapStore::default() });`
//!
//! `cargo run -p session-examples --example custom_store`, then open
//! http://127.0.0.1:3000.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::{routing::get, Router};
use session_tower::store::{async_trait, now_ms, Error, Expiry, Record, SessionId, SessionStore};
use session_tower::{Drivers, Session, SessionConfig, SessionLayer};

/// Sessions in a map, keyed by the digest of their id (never the id itself).
#[derive(Default)]
struct MapStore {
    sessions: Mutex<HashMap<String, Record>>,
    max_session_bytes: usize,
}

impl MapStore {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Record>) -> T) -> T {
        // A poisoned lock only means another request panicked; the map is still whole.
        f(&mut self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

#[async_trait]
impl SessionStore for MapStore {
    async fn load(&self, token: &str, _: &Expiry) -> Result<Option<Record>, Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        let now = now_ms();
        Ok(self.with(|map| {
            map.get(&id.storage_key())
                .filter(|r| r.expires_ms > now)
                .cloned()
        }))
    }

    async fn create(&self, record: &Record) -> Result<String, Error> {
        let id = SessionId::generate()?;
        self.with(|map| map.insert(id.storage_key(), record.clone()));
        Ok(id.to_string())
    }

    async fn save(&self, token: &str, record: &Record) -> Result<Option<String>, Error> {
        let Some(id) = SessionId::parse(token) else {
            return Ok(None);
        };
        // Never bring back a destroyed session: replace only what is there.
        let replaced = self.with(|map| match map.get_mut(&id.storage_key()) {
            Some(stored) => {
                *stored = record.clone();
                true
            }
            None => false,
        });
        Ok(replaced.then(|| token.to_owned()))
    }

    async fn destroy(&self, token: &str) -> Result<(), Error> {
        if let Some(id) = SessionId::parse(token) {
            self.with(|map| map.remove(&id.storage_key()));
        }
        Ok(())
    }

    fn max_session_bytes(&self) -> usize {
        self.max_session_bytes
    }
}

async fn index(session: Session) -> Result<String, session_tower::Error> {
    let visits = session.increment("visits", 1).await?;
    Ok(format!("visit {visits}, kept in the app's own map\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = SessionConfig::from_toml_str(
        r#"
        default = "map"
        timeout = 1800

        [map]
        max_session_bytes = 16384
        "#,
    )?;
    let drivers = Drivers::new().with("map", |table| {
        let max_session_bytes = table
            .get("max_session_bytes")
            .and_then(|v| v.as_integer())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(session_tower::store::DEFAULT_MAX_SESSION_BYTES);
        let store = MapStore {
            max_session_bytes,
            ..MapStore::default()
        };
        Ok(Arc::new(store) as Arc<dyn SessionStore>)
    });
    let app = Router::new()
        .route("/", get(index))
        .layer(SessionLayer::from_config_with(&config, &drivers).await?);
    axum::serve(session_examples::listen().await?, app).await?;
    Ok(())
}
