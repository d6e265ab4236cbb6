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
            "cookie" => cookie(config).await,
            "redis" => redis(config).await,
            "postgres" => postgres(config).await,
            "mysql" => mysql(config).await,
            "sqlite" => sqlite(config).await,
            other => {
                let mut known: Vec<&str> = vec!["cookie", "redis", "postgres", "mysql", "sqlite"];
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
/// prefix when asked), `max_chunks`, `opened_cache_bytes`, `registry`.
#[cfg(feature = "cookie-store")]
async fn cookie(config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    use session_cookie::{CookieStore, Key, Keyring};
    let settings = &config.cookie;
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
    let store = match settings.registry.as_deref() {
        Some("redis") => store.with_registry(redis_registry(config).await?),
        Some("postgres") => store.with_registry(postgres_registry(config).await?),
        _ => store,
    };
    Ok(Arc::new(store))
}

/// The registry of signed-in cookie sessions in the `[redis]` server.
#[cfg(all(feature = "cookie-store", feature = "redis-store"))]
async fn redis_registry(config: &SessionConfig) -> Result<Arc<dyn session_core::Registry>, Error> {
    // The registry's own reads are cached briefly; a near-cache adds nothing.
    let settings = config.redis.clone().with_near_cache(false);
    let redis = session_redis::RedisStore::connect(&settings)
        .await
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(session_redis::RedisRegistry::new(redis)))
}

#[cfg(all(feature = "cookie-store", not(feature = "redis-store")))]
async fn redis_registry(_: &SessionConfig) -> Result<Arc<dyn session_core::Registry>, Error> {
    Err(Error::config(
        "cookie.registry",
        "`redis` needs the `redis-store` feature of session-http (or of the integration crate)",
    ))
}

/// The registry of signed-in cookie sessions in the `[postgres]` database.
#[cfg(all(feature = "cookie-store", feature = "postgres-store"))]
async fn postgres_registry(
    config: &SessionConfig,
) -> Result<Arc<dyn session_core::Registry>, Error> {
    let registry = session_sql::PostgresRegistry::connect(&config.postgres)
        .await
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(registry))
}

#[cfg(all(feature = "cookie-store", not(feature = "postgres-store")))]
async fn postgres_registry(_: &SessionConfig) -> Result<Arc<dyn session_core::Registry>, Error> {
    Err(Error::config(
        "cookie.registry",
        "`postgres` needs the `postgres-store` feature of session-http (or of the integration crate)",
    ))
}

#[cfg(not(feature = "cookie-store"))]
async fn cookie(_: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
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

#[cfg(feature = "mysql-store")]
async fn mysql(config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    let store = session_sql::MysqlStore::connect(&config.mysql)
        .await
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "mysql-store"))]
async fn mysql(_: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    Err(Error::config(
        "default",
        "the `mysql` driver is not compiled in; enable the `mysql-store` feature of session-http (or of the integration crate)",
    ))
}

#[cfg(feature = "sqlite-store")]
async fn sqlite(config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    let store = session_sql::SqliteStore::connect(&config.sqlite)
        .await
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "sqlite-store"))]
async fn sqlite(_: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    Err(Error::config(
        "default",
        "the `sqlite` driver is not compiled in; enable the `sqlite-store` feature of session-http (or of the integration crate)",
    ))
}
