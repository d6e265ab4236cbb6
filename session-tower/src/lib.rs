//! Sessions for tower services and axum: [`SessionLayer`] puts a lazily loaded
//! session on every request and saves it once after the handler; [`Session`] is the
//! axum extractor.
//!
//! # Example
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_tower::{Session, SessionConfig, SessionLayer};
//!
//! async fn index(session: Session) -> Result<String, session_tower::Error> {
//!     let visits = session.increment("visits", 1).await?;
//!     let notice: Option<String> = session.get("notice").await?;
//!     Ok(format!("visit {visits}, notice: {notice:?}"))
//! }
//!
//! # async fn build() -> Result<Router, session_tower::Error> {
//! // The driver comes from session.toml / SESSION_DRIVER (cookie by default).
//! let config = SessionConfig::load(None)?;
//! let app = Router::new()
//!     .route("/", get(index))
//!     .layer(SessionLayer::from_config(&config).await?);
//! # Ok(app) }
//! ```
//!
//! # What the layer does
//!
//! See [`SessionLayer`]: no store call for routes that never touch the session, one
//! save after the handler, `Set-Cookie` with `HttpOnly`, `SameSite=Lax`, `Path=/` by
//! default (`Secure`, `Domain`, the `__Host-` prefix configurable), a removal cookie
//! when a stored session is emptied or invalidated, 503 with the cookie untouched when
//! the store fails, 413 when the session is too large to store, and no save on 5xx
//! answers unless asked. Also:
//!
//! - **Cross-site protection** (on by default, [`CrossSiteProtection`]): an unsafe
//!   request a browser marks cross-site is answered 403 and touches no session.
//! - **Caches**: `Cache-Control: private, no-store` on every response that sets or
//!   removes the session cookie, `Vary: Cookie` on every response of a request that
//!   read the session.
//! - **Duplicate cookies**: every cookie of the session's name is a candidate; the
//!   first that names a live session wins, so a planted duplicate logs no one out.
//! - **Persistent cookies**: with [`CookieOptions::with_persistent`] (`[cookie]
//!   persistent`) or `Session::remember(true)`, the cookie carries `Max-Age`, the
//!   remaining idle timeout, and is sent again whenever the session is read.
//!
//! # One crate for an app
//!
//! An axum app depends on this crate alone (plus features): it re-exports the stores
//! ([`CookieStore`] with its [`Key`], [`MemoryStore`], and [`RedisStore`] with the
//! `redis-store` feature), their settings, and in [`store`] the contract for a store of
//! your own. A handler returns [`Error`], which every session call converts into with
//! `?` and axum answers as a response (503 when the store is down, 413 when the
//! session is too large, 500 otherwise).
//!
//! ```
//! use session_tower::{CookieOptions, CookieStore, Key, Keyring, SameSite, SessionLayer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = Key::generate()?; // in production: Key::from_base64("APP_KEY", &std::env::var("APP_KEY")?)?
//! let layer = SessionLayer::new(CookieStore::new(Keyring::new(key, [])))
//!     .with_cookie(
//!         CookieOptions::default()
//!             .with_name("app_session")
//!             .with_same_site(SameSite::Strict)
//!             .with_domain(Some("example.com".into()))
//!             .with_path("/")
//!             .with_secure(true)
//!             .with_persistent(false),
//!     );
//! # let _ = layer; Ok(()) }
//! ```
//!
//! # Features
//!
//! - `axum` (default): the [`Session`] extractor.
//! - `redis-store`: [`RedisStore`], and [`SessionLayer::from_config`] can build it
//!   (the cookie store is always there); `redis-tls` adds `rediss://`.
//! - `postgres-store`: `PostgresStore` (`default = "postgres"`, `[postgres]`).
//! - `mysql-store`: `MysqlStore` for MySQL and MariaDB (`default = "mysql"`, `[mysql]`).
//! - `sqlite-store`: `SqliteStore` (`default = "sqlite"`, `[sqlite]`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cookies;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod layer;

pub use cookies::CookieOptions;
pub use error::Error;
#[cfg(feature = "axum")]
pub use extract::Session;
pub use layer::{SessionLayer, SessionService};
pub use session_cookie::{CookieStore, Key, Keyring};
pub use session_core::{Device, EventSink, Expiry, MemoryStore, SessionEvent, Users};
/// `session.toml`: its assembly and settings, shared with every other integration.
pub use session_http::config;
pub use session_http::{CookieSettings, CrossSiteProtection, Drivers, SameSite, SessionConfig};
#[cfg(feature = "redis-store")]
pub use session_redis::{RedisRegistry, RedisSettings, RedisStore};
#[cfg(feature = "mysql-store")]
pub use session_sql::{MysqlSettings, MysqlStore};
#[cfg(feature = "postgres-store")]
pub use session_sql::{PostgresRegistry, PostgresSettings, PostgresStore};
#[cfg(feature = "sqlite-store")]
pub use session_sql::{SqliteSettings, SqliteStore};

/// The store contract, for a store of your own: implement [`SessionStore`](store::SessionStore)
/// (and optionally [`MergeStore`](store::MergeStore)), check it with `session-testkit`,
/// and name it in `session.toml` through [`Drivers`].
pub mod store {
    /// The attribute the contract's traits are implemented with.
    pub use async_trait::async_trait;
    pub use session_core::{
        now_ms, Change, Edit, Error, Expiry, MergeStore, Record, RecordBuilder, Seen, SessionId,
        SessionStore, StoredValue, DEFAULT_MAX_SESSION_BYTES,
    };
    /// The tables of `session.toml` a [`Drivers`](crate::Drivers) entry is built from.
    pub use toml::Table;
}

/// The crates behind this one, for what the re-exports above leave out.
pub mod crates {
    pub use session_cookie;
    pub use session_core;
    pub use session_http;
    #[cfg(feature = "redis-store")]
    pub use session_redis;
    #[cfg(any(
        feature = "postgres-store",
        feature = "mysql-store",
        feature = "sqlite-store"
    ))]
    pub use session_sql;
}
