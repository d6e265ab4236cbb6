//! Building the store `session.toml` names: the built-in drivers and [`Drivers`] of
//! your own.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use session_core::SessionStore;

use crate::config::SessionConfig;
use crate::Error;

type Build =
    dyn Fn(&toml::Table) -> Result<Arc<dyn SessionStore>, session_core::Error> + Send + Sync;

/// Drivers of your own that `session.toml` can name in `default`, each built from its
/// own table (`[name]`; an empty table when absent). See
/// [`SessionLayer::from_config_with`](crate::SessionLayer::from_config_with).
#[derive(Clone, Default)]
pub struct Drivers {
    custom: BTreeMap<String, Arc<Build>>,
}

impl fmt::Debug for Drivers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.custom.keys()).finish()
    }
}

impl Drivers {
    /// The built-in drivers only: `cookie`, and `redis` with the `redis-store` feature.
    pub fn new() -> Self {
        Drivers::default()
    }

    /// Adds the driver `name`, built by `build` from its table.
    pub fn with<F>(mut self, name: impl Into<String>, build: F) -> Self
    where
        F: Fn(&toml::Table) -> Result<Arc<dyn SessionStore>, session_core::Error>
            + Send
            + Sync
            + 'static,
    {
        self.custom.insert(name.into(), Arc::new(build));
        self
    }

    /// Builds the store `config.default` names: one of these drivers, else a built-in
    /// one (what [`SessionLayer::from_config_with`](crate::SessionLayer::from_config_with)
    /// does; another framework's integration calls it too).
    pub async fn build(&self, config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
        let name = config.default.as_str();
        if let Some(build) = self.custom.get(name) {
            let empty = toml::Table::new();
            return Ok(build(config.table(name).unwrap_or(&empty))?);
        }
        match name {
            "cookie" => {
                let store = session_cookie::CookieStore::from_settings(&config.cookie)
                    .map_err(session_core::Error::from)?;
                Ok(Arc::new(store))
            }
            "redis" => redis(config).await,
            "postgres" => postgres(config).await,
            other => {
                let mut known: Vec<&str> = vec!["cookie", "redis", "postgres"];
                known.extend(self.custom.keys().map(String::as_str));
                Err(Error::Session(session_core::Error::config(
                    "default",
                    format!(
                        "unknown driver `{other}` (known: {}); a driver of your own is added with `Drivers::with`",
                        known.join(", ")
                    ),
                )))
            }
        }
    }
}

#[cfg(feature = "redis-store")]
async fn redis(config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    let store = session_redis::RedisStore::connect(&config.redis)
        .await
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis-store"))]
async fn redis(_: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    Err(Error::Session(session_core::Error::config(
        "default",
        "the `redis` driver is not compiled in; enable the `redis-store` feature of session-tower",
    )))
}

#[cfg(feature = "postgres-store")]
async fn postgres(config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    let store = session_sql::PostgresStore::connect(&config.postgres)
        .await
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres-store"))]
async fn postgres(_: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    Err(Error::Session(session_core::Error::config(
        "default",
        "the `postgres` driver is not compiled in; enable the `postgres-store` feature of session-tower",
    )))
}
