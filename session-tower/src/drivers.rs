//! Building the configured store (Masonite's `default` driver name), each driver
//! behind its own cargo feature.

use std::sync::Arc;

use session_core::{Driver, SessionConfig, SessionStore};

use crate::Error;

pub(crate) async fn store_from_config(
    config: &SessionConfig,
) -> Result<Arc<dyn SessionStore>, Error> {
    match config.default {
        Driver::Cookie => cookie(config),
        Driver::Redis => redis(config).await,
    }
}

#[cfg(feature = "cookie-store")]
fn cookie(config: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    let store = session_cookie::CookieStore::from_settings(&config.cookie)
        .map_err(session_core::Error::from)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "cookie-store"))]
fn cookie(_: &SessionConfig) -> Result<Arc<dyn SessionStore>, Error> {
    Err(not_compiled("cookie", "cookie-store"))
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
    Err(not_compiled("redis", "redis-store"))
}

#[cfg(not(all(feature = "cookie-store", feature = "redis-store")))]
fn not_compiled(driver: &str, feature: &str) -> Error {
    Error::Session(session_core::Error::config(
        "default",
        format!("the `{driver}` driver is not compiled in; enable the `{feature}` feature of session-tower"),
    ))
}
