//! Building the store `session.toml` names: the built-in drivers and [`Drivers`] of
//! your own.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use session_core::SessionStore;

use session_core::Error;

use crate::config::SessionConfig;

type Build =
    dyn Fn(&toml::Table) -> Result<Arc<dyn SessionStore>, session_core::Error> + Send + Sync;

/// Drivers of your own that `session.toml` can name in `default`, each built from its
/// own table (`[name]`; an empty table when absent). See
/// `SessionLayer::from_config_with` of `session-tower` and
/// `SessionMiddleware::from_config_with` of `session-actix`.
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
    /// one (what the integrations' `from_config_with`
    /// does; another framework's integration calls it too).
    pub async fn build(&self, config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
        let name = config.default.as_str();
        if let Some(build) = self.custom.get(name) {
            let empty = toml::Table::new();
            return build(config.table(name).unwrap_or(&empty));
        }
        match name {
            "cookie" => cookie(&config.cookie),
            "redis" => redis(config).await,
            "postgres" => postgres(config).await,
            other => {
                let mut known: Vec<&str> = vec!["cookie", "redis", "postgres"];
                known.extend(self.custom.keys().map(String::as_str));
                Err(Error::config(
                    "default",
                    format!(
                        "unknown driver `{other}` (known: {}); a driver of your own is added with `Drivers::with`",
                        known.join(", ")
                    ),
                ))
            }
        }
    }
}

/// The cookie store `[cookie]` describes: `key` (or `APP_KEY`, which
/// `SessionConfig` copies into `key`), `previous_keys`, `name` (with the `__Host-`
/// prefix when asked), `max_chunks`, `opened_cache_bytes`.
#[cfg(feature = "cookie-store")]
fn cookie(settings: &crate::CookieSettings) -> Result<Arc<dyn SessionStore>, Error> {
    use session_cookie::{CookieStore, Key, Keyring};
    let key = settings
        .key
        .as_deref()
        .ok_or(session_cookie::Error::MissingKey)?;
    let current = Key::from_base64("cookie.key (or APP_KEY)", key)?;
    let previous = settings
        .previous_keys
        .iter()
        .enumerate()
        .map(|(i, k)| Key::from_base64(&format!("cookie.previous_keys[{i}]"), k))
        .collect::<Result<Vec<_>, _>>()?;
    let store = CookieStore::new(Keyring::new(current, previous))
        .with_name(crate::framing::wire_name(
            &settings.name,
            settings.host_prefix,
        ))
        .with_max_chunks(settings.max_chunks)
        .with_opened_cache_bytes(settings.opened_cache_bytes);
    Ok(Arc::new(store))
}

#[cfg(not(feature = "cookie-store"))]
fn cookie(_: &crate::CookieSettings) -> Result<Arc<dyn SessionStore>, Error> {
    Err(Error::config(
        "default",
        "the `cookie` driver is not compiled in; enable the `cookie-store` feature of session-http",
    ))
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
    Err(Error::config(
        "default",
        "the `redis` driver is not compiled in; enable the `redis-store` feature of session-http (or of the integration crate)",
    ))
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
    Err(Error::config(
        "default",
        "the `postgres` driver is not compiled in; enable the `postgres-store` feature of session-http (or of the integration crate)",
    ))
}
